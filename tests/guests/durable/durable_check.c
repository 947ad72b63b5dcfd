/*
 * durable_check.c — host half of storage.durable: `durable_check IMG SALT`
 * reads a raw image the durable guest wrote (a qcow2 one converted to raw
 * first) and checks that every sector of durable.h's extents holds the
 * guest's pattern for SALT (it was flushed before the kill), and that each
 * sector written after the flush holds its pattern for SALT+1 or is still
 * zero (never anything else).  Exit 0 = durable, 1 = not, 2 = error.
 *
 *   durable_check IMG SALT BACKING
 *
 * also checks that every other sector of the first DURABLE_BACKED sectors
 * still holds what the backing image BACKING has there (the image was a
 * qcow2 overlay: the rest of each cluster the guest wrote into was copied
 * from the backing file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "durable.h"

static int read_sector(FILE *f, unsigned lba, unsigned char *buf)
{
    if (fseeko(f, (off_t)lba * 512, SEEK_SET)) return -1;
    size_t n = fread(buf, 1, 512, f);
    memset(buf + n, 0, 512 - n); /* past the end of a sparse file: zeroes */
    return 0;
}

static int matches(const unsigned char *buf, unsigned lba, unsigned salt, unsigned *first_bad)
{
    for (unsigned i = 0; i < 512; i++)
        if (buf[i] != durable_byte(lba, i, salt)) {
            if (first_bad) *first_bad = i;
            return 0;
        }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s IMAGE SALT [BACKING]\n", argv[0]);
        return 2;
    }
    unsigned salt = (unsigned)strtoul(argv[2], NULL, 0);
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    unsigned char buf[512];
    unsigned bad = 0, flushed = 0;
    for (unsigned e = 0; e < DURABLE_NEXTENTS; e++)
        for (unsigned s = 0; s < durable_extents[e].count; s++) {
            unsigned lba = durable_extents[e].lba + s, at = 0;
            if (read_sector(f, lba, buf)) return 2;
            flushed++;
            if (!matches(buf, lba, salt, &at) && bad++ < 8)
                fprintf(stderr, "durable_check: flushed sector %u: byte %u is %02x, want %02x\n", lba,
                        at, buf[at], durable_byte(lba, at, salt));
        }
    unsigned after = 0, zero = 0;
    static const unsigned char zeroes[512];
    for (unsigned k = 0; k < DURABLE_AFTER_MAX; k++) {
        unsigned lba = DURABLE_AFTER_LBA + k * DURABLE_STRIDE;
        if (read_sector(f, lba, buf)) return 2;
        if (matches(buf, lba, salt + 1, NULL))
            after++;
        else if (!memcmp(buf, zeroes, 512))
            zero++;
        else if (bad++ < 8)
            fprintf(stderr, "durable_check: sector %u (written after the flush) is neither its "
                    "pattern nor zero\n", lba);
    }
    unsigned backed = 0;
    if (argc == 4) {
        FILE *b = fopen(argv[3], "rb");
        if (!b) {
            perror(argv[3]);
            return 2;
        }
        unsigned char want[512];
        for (unsigned lba = 0; lba < DURABLE_BACKED; lba++) {
            int written = 0;
            for (unsigned e = 0; e < DURABLE_NEXTENTS; e++)
                if (lba >= durable_extents[e].lba && lba - durable_extents[e].lba < durable_extents[e].count)
                    written = 1;
            if (written) continue;
            if (read_sector(f, lba, buf) || read_sector(b, lba, want)) return 2;
            backed++;
            if (memcmp(buf, want, 512) && bad++ < 8)
                fprintf(stderr, "durable_check: sector %u differs from the backing file's\n", lba);
        }
        fclose(b);
    }
    fclose(f);
    if (bad) {
        fprintf(stderr, "durable_check: %s: %u bad sectors\n", argv[1], bad);
        return 1;
    }
    printf("durable_check: %s: all %u flushed sectors hold their data; of the unflushed ones "
           "%u landed, %u did not\n", argv[1], flushed, after, zero);
    if (backed) printf("durable_check: the other %u of the first %u sectors are the backing file's\n",
                       backed, DURABLE_BACKED);
    return 0;
}
