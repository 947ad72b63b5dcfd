/* mkimage.c — writes the ide guest's media: `mkimage FILE SECTORS SIZE`
 * makes SECTORS sectors of SIZE bytes where sector s holds s (little-endian)
 * in its first 4 bytes and (s * 7 + i) & 0xff at byte i after them, the
 * pattern the guest checks. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s FILE SECTORS SIZE\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "wb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    unsigned long n = strtoul(argv[2], NULL, 0), size = strtoul(argv[3], NULL, 0);
    for (unsigned long s = 0; s < n; s++)
        for (unsigned long i = 0; i < size; i++)
            putc(i < 4 ? (int)((s >> (8 * i)) & 0xff) : (int)((s * 7 + i) & 0xff), f);
    return fclose(f) ? 1 : 0;
}
