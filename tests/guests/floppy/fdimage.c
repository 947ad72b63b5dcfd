/* fdimage.c — host side of the floppy tests.
 *   fdimage make FILE        the 1.44 MB image of floppy_pattern.h
 *   fdimage check FILE [w]   after the floppy guest: every sector as made,
 *                            except (with w) the one the guest wrote
 *   fdimage bootmake BOOT FILE   the floppy-boot image: BOOT (512 bytes) in
 *                            sector 0, then bootsector.asm's pattern
 *   fdimage bootcheck FILE   after the boot test: as made, except LBA 40,
 *                            which must hold what the boot sector wrote */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "floppy_pattern.h"

static unsigned char img[FD_SECTORS * FD_SECTOR_SIZE];

#define BOOT_WRITE_LBA 40

/* bootsector.asm's pattern: word 0 = LBA, byte i >= 2 = (LBA + i) & 0xff;
 * the sector it writes: word 0 = 0xb007, byte i >= 2 = (i * 3) & 0xff. */
static unsigned char boot_pattern(unsigned lba, unsigned i, int written)
{
    if (written)
        return i == 0 ? 0x07 : i == 1 ? 0xb0 : (unsigned char)(i * 3);
    return i == 0 ? (unsigned char)lba : i == 1 ? (unsigned char)(lba >> 8)
                                                : (unsigned char)(lba + i);
}

static int boot_image(int argc, char **argv)
{
    if (!strcmp(argv[1], "bootmake")) {
        if (argc < 4)
            return 2;
        FILE *b = fopen(argv[2], "rb");
        if (!b || fread(img, 1, FD_SECTOR_SIZE, b) != FD_SECTOR_SIZE) {
            fprintf(stderr, "fdimage: %s: cannot read 512 bytes\n", argv[2]);
            return 1;
        }
        fclose(b);
        for (unsigned l = 1; l < FD_SECTORS; l++)
            for (unsigned i = 0; i < FD_SECTOR_SIZE; i++)
                img[l * FD_SECTOR_SIZE + i] = boot_pattern(l, i, 0);
        FILE *f = fopen(argv[3], "wb");
        if (!f || fwrite(img, sizeof img, 1, f) != 1 || fclose(f)) {
            perror(argv[3]);
            return 1;
        }
        return 0;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f || fread(img, 1, sizeof img, f) != sizeof img) {
        fprintf(stderr, "fdimage: %s: cannot read the image\n", argv[2]);
        return 1;
    }
    fclose(f);
    unsigned bad = 0;
    for (unsigned l = 1; l < FD_SECTORS; l++)
        for (unsigned i = 0; i < FD_SECTOR_SIZE; i++) {
            unsigned char want = boot_pattern(l, i, l == BOOT_WRITE_LBA);
            if (img[l * FD_SECTOR_SIZE + i] != want && bad++ < 8)
                fprintf(stderr, "fdimage: %s: LBA %u byte %u is 0x%02x, want 0x%02x\n", argv[2],
                        l, i, img[l * FD_SECTOR_SIZE + i], want);
        }
    if (bad) {
        fprintf(stderr, "fdimage: %s: %u bytes differ\n", argv[2], bad);
        return 1;
    }
    printf("fdimage: %s: as expected (LBA %u rewritten by the boot sector)\n", argv[2],
           BOOT_WRITE_LBA);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && (!strcmp(argv[1], "bootmake") || !strcmp(argv[1], "bootcheck")))
        return boot_image(argc, argv);
    if (argc < 3 || (strcmp(argv[1], "make") && strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: fdimage make|check FILE [w] | bootmake BOOT FILE | bootcheck FILE\n");
        return 2;
    }
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
