/*
 * floppy_pattern.h — the content of the floppy guest test's disk, shared by
 * the guest (which checks what it reads) and the host tool fdimage (which
 * writes the image and checks it after the run): a 1.44 MB image whose
 * sector at LBA l holds l in its first four bytes (little-endian) and a
 * per-sector byte pattern after it; the guest rewrites one sector with
 * another pattern.
 */
#ifndef FLOPPY_PATTERN_H
#define FLOPPY_PATTERN_H

#define FD_TRACKS 80
#define FD_HEADS 2
#define FD_SPT 18
#define FD_SECTORS (FD_TRACKS * FD_HEADS * FD_SPT)
#define FD_SECTOR_SIZE 512

/* The sector the guest writes: C5 H1 R7. */
#define FD_WRITE_C 5
#define FD_WRITE_H 1
#define FD_WRITE_R 7
#define FD_LBA(c, h, r) (((c) * FD_HEADS + (h)) * FD_SPT + (r) - 1)

static inline unsigned char fd_pattern(unsigned lba, unsigned i)
{
    if (i < 4)
        return (unsigned char)(lba >> (8 * i));
    return (unsigned char)(lba * 13 + i * 7 + (i >> 8) + 1);
}

static inline unsigned char fd_written(unsigned i)
{
    return (unsigned char)(0xa5 ^ (i * 3) ^ (i >> 5));
}

#endif
