/* fdimage.c — host side of the floppy guest test: `fdimage make FILE`
 * writes the 1.44 MB image of floppy_pattern.h; `fdimage check FILE [w]`
 * verifies it afterwards: every sector as made, except (with w) the one the
 * guest wrote, which must hold the guest's pattern. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floppy_pattern.h"

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "make") && strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: fdimage make|check FILE [w]\n");
        return 2;
    }
    static unsigned char img[FD_SECTORS * FD_SECTOR_SIZE];
    if (!strcmp(argv[1], "make")) {
        for (unsigned l = 0; l < FD_SECTORS; l++)
            for (unsigned i = 0; i < FD_SECTOR_SIZE; i++)
                img[l * FD_SECTOR_SIZE + i] = fd_pattern(l, i);
        FILE *f = fopen(argv[2], "wb");
        if (!f || fwrite(img, sizeof img, 1, f) != 1 || fclose(f)) {
            perror(argv[2]);
            return 1;
        }
        return 0;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(img, 1, sizeof img, f) != sizeof img || fgetc(f) != EOF) {
        fprintf(stderr, "fdimage: %s: cannot read exactly %zu bytes\n", argv[2], sizeof img);
        return 1;
    }
    fclose(f);
    int written = argc > 3 && !strcmp(argv[3], "w");
    unsigned wl = FD_LBA(FD_WRITE_C, FD_WRITE_H, FD_WRITE_R), bad = 0;
    for (unsigned l = 0; l < FD_SECTORS; l++)
        for (unsigned i = 0; i < FD_SECTOR_SIZE; i++) {
            unsigned char want = written && l == wl ? fd_written(i) : fd_pattern(l, i);
            if (img[l * FD_SECTOR_SIZE + i] != want && bad++ < 8)
                fprintf(stderr, "fdimage: %s: LBA %u byte %u is 0x%02x, want 0x%02x\n", argv[2],
                        l, i, img[l * FD_SECTOR_SIZE + i], want);
        }
    if (bad) {
        fprintf(stderr, "fdimage: %s: %u bytes differ\n", argv[2], bad);
        return 1;
    }
    printf("fdimage: %s: as expected (%s)\n", argv[2], written ? "one sector rewritten" : "unchanged");
    return 0;
}
