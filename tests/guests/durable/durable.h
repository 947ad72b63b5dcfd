/*
 * durable.h — what the durable guest writes and durable_check verifies,
 * shared by both (the guest is freestanding: no headers here).
 *
 * The disk is 2 GiB (4194304 sectors).  Before its FLUSH CACHE the guest
 * writes the extents below — PIO and DMA, at both ends of the disk, across
 * 64 KiB qcow2 cluster boundaries and across the 512 MiB that one qcow2 L2
 * table maps — with salt S; after the flush it keeps writing one sector
 * every DURABLE_STRIDE sectors from DURABLE_AFTER_LBA with salt S+1 (a new
 * cluster each time) until it is killed, which only has to leave each of
 * those sectors either as written or zero.  On a qcow2 overlay whose
 * backing file holds data in the first DURABLE_BACKED sectors, the sectors
 * it did not write there must still read as the backing file's.
 */
#ifndef DURABLE_H
#define DURABLE_H

#define DURABLE_SECTORS 4194304u
#define DURABLE_AFTER_LBA 3000000u
#define DURABLE_STRIDE 256u
#define DURABLE_AFTER_MAX 4000u
/* A qcow2 overlay's backing file has data in these first sectors (all
 * below DURABLE_AFTER_LBA). */
#define DURABLE_BACKED 8192u

struct durable_extent {
    unsigned lba, count, dma;
};

static const struct durable_extent durable_extents[] = {
    {0, 1, 0},          /* the first sector */
    {1, 7, 0},          /* a multi-sector PIO write */
    {127, 2, 0},        /* across the first 64 KiB cluster boundary */
    {5000, 16, 1},      /* bus-master DMA, two PRDs */
    {1048575, 2, 0},    /* across the 512 MiB one L2 table maps */
    {2097150, 8, 1},    /* DMA across 1 GiB */
    {4194303, 1, 0},    /* the last sector */
};
#define DURABLE_NEXTENTS (sizeof durable_extents / sizeof durable_extents[0])

/* Byte i of sector lba: the LBA and the salt, then a mix of both. */
static inline unsigned char durable_byte(unsigned lba, unsigned i, unsigned salt)
{
    if (i < 4) return (unsigned char)(lba >> (8 * i));
    if (i < 8) return (unsigned char)(salt >> (8 * (i - 4)));
    return (unsigned char)(lba * 31u + i * 7u + salt * 13u + (i >> 8));
}

#endif
