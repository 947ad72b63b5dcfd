/* test_ide.c — the PIIX3 IDE controller driven through its ports, PCI
 * configuration and guest RAM, with in-memory block backends: PCI identity
 * and decode enables, IDENTIFY DEVICE words, signatures after SRST and
 * EXECUTE DEVICE DIAGNOSTIC, PIO reads and writes in LBA28/CHS/LBA48,
 * READ/WRITE MULTIPLE, bus-master DMA through PRD tables (and its errors),
 * interrupts with nIEN and the status/alternate-status semantics, ATAPI
 * packets in PIO (byte-count limit) and DMA with sense data, media change,
 * save/load in the middle of a transfer, and a register fuzz. */
#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ide.h"

#define RAM (4u << 20)
#define BM 0xc000
#define DISK_SECTORS 16384u /* 8 MiB */
#define CD_SECTORS 300u
#define BIG_SECTORS (3ull << 31) /* 3 TiB: LBAs beyond 32 bits */

/* A backend holding its bytes, or (data == NULL) one whose sectors read as
 * a pattern of their number and remember only the last write. */
struct membe {
    struct block_backend be;
    uint8_t *data;
    uint8_t last[4096];
    uint64_t last_off;
    int flushes, fail_reads;
};

static void pattern(uint64_t off, uint8_t *p, size_t len, unsigned ssize)
{
    for (size_t i = 0; i < len; i++) {
        uint64_t o = off + i, s = o / ssize;
        unsigned in = (unsigned)(o % ssize);
        p[i] = in < 8 ? (uint8_t)(s >> (8 * in)) : (uint8_t)(s * 7 + in + (s >> 32));
    }
}

static int mem_read(void *o, uint64_t off, void *buf, size_t len)
{
    struct membe *m = o;
    ck_assert(off + len <= m->be.size);
    if (m->fail_reads) return -EIO;
    if (m->data)
        memcpy(buf, m->data + off, len);
    else
        pattern(off, buf, len, 512);
    return 0;
}

static int mem_write(void *o, uint64_t off, const void *buf, size_t len)
{
    struct membe *m = o;
    ck_assert(off + len <= m->be.size);
    if (m->be.read_only) return -EROFS;
    if (m->data)
        memcpy(m->data + off, buf, len);
    memcpy(m->last, buf, len < sizeof m->last ? len : sizeof m->last);
    m->last_off = off;
    return 0;
}

static int mem_flush(void *o)
{
    ((struct membe *)o)->flushes++;
    return 0;
}

static void membe_init(struct membe *m, uint64_t size, bool store, bool ro)
{
    memset(m, 0, sizeof *m);
    m->be = (struct block_backend){m, size, ro, mem_read, mem_write, mem_flush};
    if (store) {
        m->data = malloc(size);
        pattern(0, m->data, size, ro ? 2048 : 512);
    }
}

struct rig {
    struct bus bus;
    struct pci_bus pci;
    struct mmu mmu;
    struct ide ide;
    struct membe disk, cd, big;
    bool level[16];
    int edges[16];
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    if (level && !r->level[line]) r->edges[line]++;
    r->level[line] = level;
}

static void cfg_write(struct rig *r, unsigned reg, uint32_t v, unsigned size)
{
    pci_config_write(&r->pci, 0, 0x09, (uint8_t)reg, v, size);
}
static uint32_t cfg_read(struct rig *r, unsigned reg, unsigned size)
{
    return pci_config_read(&r->pci, 0, 0x09, (uint8_t)reg, size);
}

/* Primary: disk (master), none; secondary: CD-ROM (master), none.  With
 * big, the primary slave is a 3 TiB pattern disk. */
static struct rig *rig_make(bool big, bool enable)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(mmu_init(&r->mmu, RAM), 0);
    ck_assert_int_eq(pci_bus_init(&r->pci, &r->bus, 0xe0000000u, 0x1000000u, NULL, err, sizeof err),
                     0);
    membe_init(&r->disk, DISK_SECTORS * 512ull, true, false);
    membe_init(&r->cd, CD_SECTORS * 2048ull, true, true);
    membe_init(&r->big, BIG_SECTORS * 512, false, false);
    struct block_backend *drives[4] = {&r->disk.be, big ? &r->big.be : NULL, &r->cd.be, NULL};
    bool cdrom[4] = {false, false, true, false};
    ck_assert_int_eq(ide_init(&r->ide, &r->pci, &r->bus, &r->mmu, (struct irq_line){irq_sink, r, 14},
                              (struct irq_line){irq_sink, r, 15}, drives, cdrom, 0x09, NULL, err,
                              sizeof err),
                     0);
    if (enable) {
        cfg_write(r, 0x20, BM, 4);
        cfg_write(r, 0x04, 0x05, 2);
        ide_firmware_setup(&r->ide);
    }
    return r;
}

static struct rig *rig_new(void) { return rig_make(false, true); }

static void rig_free(struct rig *r)
{
    mmu_destroy(&r->mmu);
    free(r->disk.data);
    free(r->cd.data);
    free(r);
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }
static uint16_t inw(struct rig *r, uint16_t p) { return (uint16_t)bus_in(&r->bus, p, 2); }
static void outw(struct rig *r, uint16_t p, uint16_t v) { bus_out(&r->bus, p, v, 2); }

static const uint16_t base[2] = {0x1f0, 0x170};
static const uint16_t ctl[2] = {0x3f6, 0x376};

/* LBA28 command on channel c, drive dev. */
static void ata28(struct rig *r, int c, int dev, uint32_t lba, uint8_t count, uint8_t cmd)
{
    uint16_t b = base[c];
    outb(r, b + 6, (uint8_t)(0xe0 | dev << 4 | ((lba >> 24) & 0xf)));
    outb(r, b + 2, count);
    outb(r, b + 3, (uint8_t)lba);
    outb(r, b + 4, (uint8_t)(lba >> 8));
    outb(r, b + 5, (uint8_t)(lba >> 16));
    outb(r, b + 7, cmd);
}

static void ata48(struct rig *r, int c, int dev, uint64_t lba, uint16_t count, uint8_t cmd)
{
    uint16_t b = base[c];
    outb(r, b + 6, (uint8_t)(0x40 | dev << 4));
    outb(r, b + 2, (uint8_t)(count >> 8));
    outb(r, b + 3, (uint8_t)(lba >> 24));
    outb(r, b + 4, (uint8_t)(lba >> 32));
    outb(r, b + 5, (uint8_t)(lba >> 40));
    outb(r, b + 2, (uint8_t)count);
    outb(r, b + 3, (uint8_t)lba);
    outb(r, b + 4, (uint8_t)(lba >> 8));
    outb(r, b + 5, (uint8_t)(lba >> 16));
    outb(r, b + 7, cmd);
}

static void read_words(struct rig *r, int c, uint8_t *buf, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i += 2) {
        uint16_t w = inw(r, base[c]);
        buf[i] = (uint8_t)w;
        buf[i + 1] = (uint8_t)(w >> 8);
    }
}

static void identify(struct rig *r, int c, int dev, uint8_t cmd, uint16_t *w)
{
    outb(r, base[c] + 6, (uint8_t)(0xa0 | dev << 4));
    outb(r, base[c] + 7, cmd);
    ck_assert_uint_eq(inb(r, base[c] + 7), 0x58);
    uint8_t b[512];
    read_words(r, c, b, 512);
    for (int i = 0; i < 256; i++)
        w[i] = (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
    ck_assert_uint_eq(inb(r, base[c] + 7) & 0x88, 0);
}

static void ata_string(const uint16_t *w, int first, int words, char *out)
{
    for (int i = 0; i < words; i++) {
        out[2 * i] = (char)(w[first + i] >> 8);
        out[2 * i + 1] = (char)w[first + i];
    }
    out[2 * words] = 0;
}

START_TEST(pci_identity_and_decode)
{
    struct rig *r = rig_make(false, false);
    ck_assert_uint_eq(cfg_read(r, 0x00, 4), 0x70108086);
    ck_assert_uint_eq(cfg_read(r, 0x08, 4), 0x01018000);
    ck_assert_uint_eq(cfg_read(r, 0x0e, 1), 0x00);
    ck_assert_uint_eq(cfg_read(r, 0x3d, 1), 0x00);
    /* BAR4 is a 16-byte I/O BAR. */
    cfg_write(r, 0x20, 0xffffffff, 4);
    ck_assert_uint_eq(cfg_read(r, 0x20, 4), 0xfffffff1);
    /* Nothing decodes before PCICMD I/O and IDETIM.IDE are both set. */
    ck_assert_uint_eq(inb(r, 0x1f7), 0xff);
    cfg_write(r, 0x04, 0x01, 2);
    ck_assert_uint_eq(inb(r, 0x1f7), 0xff);
    cfg_write(r, 0x40, 0x8000, 2);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_uint_eq(inb(r, 0x177), 0xff); /* the secondary is still off */
    cfg_write(r, 0x42, 0x8000, 2);
    ck_assert_uint_eq(inb(r, 0x177), 0x00); /* ATAPI after reset: not DRDY */
    /* Only I/O and bus master are writable in PCICMD. */
    cfg_write(r, 0x04, 0xffff, 2);
    ck_assert_uint_eq(cfg_read(r, 0x04, 2), 0x0005);
    rig_free(r);
}
END_TEST

START_TEST(identify_device_words)
{
    struct rig *r = rig_make(true, true);
    uint16_t w[256];
    identify(r, 0, 0, 0xec, w);
    ck_assert_uint_eq(w[0], 0x0040);
    ck_assert_uint_eq(w[1], DISK_SECTORS / (16 * 63));
    ck_assert_uint_eq(w[3], 16);
    ck_assert_uint_eq(w[6], 63);
    ck_assert_uint_eq(w[60] | (uint32_t)w[61] << 16, DISK_SECTORS);
    ck_assert_uint_eq(w[100] | (uint32_t)w[101] << 16, DISK_SECTORS);
    ck_assert_uint_eq(w[49] & 0x0300, 0x0300); /* LBA and DMA */
    ck_assert_uint_eq(w[83] & 0xc400, 0x4400); /* valid, LBA48 */
    ck_assert_uint_eq(w[83] & 0x3000, 0x3000); /* FLUSH CACHE (EXT) */
    ck_assert_uint_eq(w[47] & 0xff, 16);
    ck_assert_uint_eq(w[63] & 0x07, 0x07);
    ck_assert_uint_eq(w[88] & 0x3f, 0x3f);
    char s[41];
    ata_string(w, 27, 20, s);
    ck_assert_str_eq(s, "UMBRA HARDDISK                          ");
    ata_string(w, 10, 10, s);
    ck_assert_str_eq(s, "UMBRA00001          ");
    /* The 3 TiB slave: LBA28 capacity saturates, LBA48 has it all, and
     * the CHS geometry is capped at 16383 cylinders. */
    identify(r, 0, 1, 0xec, w);
    ck_assert_uint_eq(w[60] | (uint32_t)w[61] << 16, 0x0fffffff);
    uint64_t n = 0;
    for (int i = 3; i >= 0; i--)
        n = n << 16 | w[100 + i];
    ck_assert_uint_eq(n, BIG_SECTORS);
    ck_assert_uint_eq(w[1], 16383);
    /* SET FEATURES transfer mode UDMA 2 shows as selected. */
    outb(r, 0x1f1, 0x03);
    outb(r, 0x1f2, 0x42);
    outb(r, 0x1f7, 0xef);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    identify(r, 0, 1, 0xec, w);
    ck_assert_uint_eq(w[88], 0x043f);
    ck_assert_uint_eq(w[63] & 0xff00, 0);
    /* Write cache off and on shows in word 85. */
    outb(r, 0x1f1, 0x82);
    outb(r, 0x1f7, 0xef);
    identify(r, 0, 1, 0xec, w);
    ck_assert_uint_eq(w[85] & 0x20, 0);
    outb(r, 0x1f1, 0x02);
    outb(r, 0x1f7, 0xef);
    identify(r, 0, 1, 0xec, w);
    ck_assert_uint_eq(w[85] & 0x20, 0x20);
    /* An impossible mode is refused. */
    outb(r, 0x1f1, 0x03);
    outb(r, 0x1f2, 0x50);
    outb(r, 0x1f7, 0xef);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x04);
    rig_free(r);
}
END_TEST

START_TEST(signatures_and_reset)
{
    struct rig *r = rig_new();
    /* Spoil the registers, then soft-reset both channels. */
    for (int c = 0; c < 2; c++) {
        outb(r, base[c] + 4, 0x55);
        outb(r, base[c] + 5, 0xaa);
        outb(r, ctl[c], 0x04);
        ck_assert_uint_eq(inb(r, ctl[c]), 0x80); /* BSY during SRST */
        outb(r, ctl[c], 0x00);
    }
    ck_assert_uint_eq(inb(r, 0x1f1), 0x01);
    ck_assert_uint_eq(inb(r, 0x1f2), 0x01);
    ck_assert_uint_eq(inb(r, 0x1f3), 0x01);
    ck_assert_uint_eq(inb(r, 0x1f4), 0x00);
    ck_assert_uint_eq(inb(r, 0x1f5), 0x00);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_uint_eq(inb(r, 0x174), 0x14);
    ck_assert_uint_eq(inb(r, 0x175), 0xeb);
    ck_assert_uint_eq(inb(r, 0x177), 0x00);
    ck_assert(!r->level[14] && !r->level[15]); /* SRST raises no interrupt */
    /* The absent slave: the registers read 0 (so 0x55/0xaa don't echo). */
    outb(r, 0x1f6, 0xb0);
    outb(r, 0x1f2, 0x55);
    ck_assert_uint_eq(inb(r, 0x1f2), 0x00);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x00);
    outb(r, 0x1f6, 0xa0);
    ck_assert_uint_eq(inb(r, 0x1f2), 0x55); /* the master echoes */
    /* IDENTIFY DEVICE on the CD aborts and leaves its signature. */
    outb(r, 0x174, 0);
    outb(r, 0x177, 0xec);
    ck_assert_uint_eq(inb(r, 0x177) & 0x01, 0x01);
    ck_assert_uint_eq(inb(r, 0x171), 0x04);
    ck_assert_uint_eq(inb(r, 0x174), 0x14);
    ck_assert_uint_eq(inb(r, 0x175), 0xeb);
    /* EXECUTE DEVICE DIAGNOSTIC: signatures, error 01, interrupt. */
    int e = r->edges[14];
    outb(r, 0x1f4, 0x12);
    outb(r, 0x1f7, 0x90);
    ck_assert_int_eq(r->edges[14], e + 1);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x01);
    ck_assert_uint_eq(inb(r, 0x1f4), 0x00);
    /* Unknown command: ABRT. */
    outb(r, 0x1f7, 0xff);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x04);
    rig_free(r);
}
END_TEST

START_TEST(interrupts_and_status)
{
    struct rig *r = rig_new();
    int e = r->edges[14];
    ata28(r, 0, 0, 0, 1, 0x20);
    ck_assert_int_eq(r->edges[14], e + 1);
    ck_assert(r->level[14]);
    /* Alternate status does not acknowledge; status does. */
    ck_assert_uint_eq(inb(r, 0x3f6), 0x58);
    ck_assert(r->level[14]);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
    ck_assert(!r->level[14]);
    for (int i = 0; i < 256; i++)
        inw(r, 0x1f0);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    /* nIEN masks the line but the command still completes. */
    outb(r, 0x3f6, 0x02);
    ata28(r, 0, 0, 0, 1, 0x20);
    ck_assert(!r->level[14]);
    ck_assert_uint_eq(inb(r, 0x3f6), 0x58);
    outb(r, 0x3f6, 0x00); /* unmasking shows the pending interrupt */
    ck_assert(r->level[14]);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
    /* The bus master's interrupt bit latched and is write-one-to-clear. */
    ck_assert_uint_eq(inb(r, BM + 2) & 0x04, 0x04);
    outb(r, BM + 2, 0x04);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x04, 0x00);
    rig_free(r);
}
END_TEST

START_TEST(pio_read_write)
{
    struct rig *r = rig_new();
    uint8_t buf[512 * 3], want[512 * 3];
    for (unsigned i = 0; i < sizeof buf; i++)
        want[i] = (uint8_t)(i * 13 + 5);
    /* WRITE SECTORS: DRQ at once without an interrupt; one per sector. */
    int e = r->edges[14];
    ata28(r, 0, 0, 1000, 3, 0x30);
    ck_assert_uint_eq(inb(r, 0x3f6), 0x58);
    ck_assert_int_eq(r->edges[14], e);
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 512; i += 4) /* 32-bit PIO */
            bus_out(&r->bus, 0x1f0,
                    (uint32_t)want[512 * s + i] | (uint32_t)want[512 * s + i + 1] << 8 |
                        (uint32_t)want[512 * s + i + 2] << 16 | (uint32_t)want[512 * s + i + 3] << 24,
                    4);
        ck_assert_int_eq(r->edges[14], e + s + 1);
        inb(r, 0x1f7);
    }
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_mem_eq(r->disk.data + 1000 * 512, want, sizeof want);
    /* Registers point at the last sector written. */
    ck_assert_uint_eq(inb(r, 0x1f3), (1002 & 0xff));
    ck_assert_uint_eq(inb(r, 0x1f4), 1002 >> 8);
    /* READ SECTORS back. */
    ata28(r, 0, 0, 1000, 3, 0x20);
    for (int s = 0; s < 3; s++) {
        ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
        read_words(r, 0, buf + 512 * s, 512);
    }
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_mem_eq(buf, want, sizeof want);
    /* CHS: cylinder 1, head 2, sector 3 of 16 x 63 is LBA 1136. */
    outb(r, 0x1f6, 0xa2);
    outb(r, 0x1f2, 1);
    outb(r, 0x1f3, 3);
    outb(r, 0x1f4, 1);
    outb(r, 0x1f5, 0);
    outb(r, 0x1f7, 0x20);
    read_words(r, 0, buf, 512);
    ck_assert_mem_eq(buf, r->disk.data + 1136 * 512, 512);
    /* CHS sector 0 does not exist. */
    outb(r, 0x1f3, 0);
    outb(r, 0x1f7, 0x20);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x10);
    /* INITIALIZE DEVICE PARAMETERS to 4 heads x 17: CHS 0/1/1 is LBA 17. */
    outb(r, 0x1f6, 0xa3);
    outb(r, 0x1f2, 17);
    outb(r, 0x1f7, 0x91);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    outb(r, 0x1f6, 0xa1);
    outb(r, 0x1f2, 1);
    outb(r, 0x1f3, 1);
    outb(r, 0x1f4, 0);
    outb(r, 0x1f7, 0x20);
    read_words(r, 0, buf, 512);
    ck_assert_mem_eq(buf, r->disk.data + 17 * 512, 512);
    /* Out of range: IDNF, nothing transferred. */
    ata28(r, 0, 0, DISK_SECTORS - 1, 2, 0x20);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x10);
    /* A backend read error: UNC. */
    r->disk.fail_reads = 1;
    ata28(r, 0, 0, 5, 1, 0x20);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x40);
    r->disk.fail_reads = 0;
    /* READ VERIFY and FLUSH CACHE. */
    ata28(r, 0, 0, 10, 20, 0x40);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ata28(r, 0, 0, 0, 0, 0xe7);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_int_eq(r->disk.flushes, 1);
    ata28(r, 0, 0, 0, 0, 0xea);
    ck_assert_int_eq(r->disk.flushes, 2);
    /* A read-only disk refuses writes (PIO and DMA) and keeps its data. */
    r->disk.be.read_only = true;
    uint8_t before = r->disk.data[7 * 512];
    ata28(r, 0, 0, 7, 1, 0x30);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x04);
    ata28(r, 0, 0, 7, 1, 0xca);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(r->disk.data[7 * 512], before);
    r->disk.be.read_only = false;
    /* Power management. */
    ata28(r, 0, 0, 0, 0, 0xe0);
    ata28(r, 0, 0, 0, 0, 0xe5);
    ck_assert_uint_eq(inb(r, 0x1f2), 0x00);
    ata28(r, 0, 0, 0, 0, 0xe1);
    ata28(r, 0, 0, 0, 0, 0xe5);
    ck_assert_uint_eq(inb(r, 0x1f2), 0xff);
    rig_free(r);
}
END_TEST

START_TEST(multiple_mode)
{
    struct rig *r = rig_new();
    uint8_t buf[512 * 10];
    ata28(r, 0, 0, 0, 3, 0xc6); /* not a power of two */
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ata28(r, 0, 0, 0, 0, 0xc6); /* disable */
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ata28(r, 0, 0, 0, 1, 0xc4);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51); /* multiple mode off: abort */
    ata28(r, 0, 0, 0, 4, 0xc6);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    int e = r->edges[14];
    ata28(r, 0, 0, 200, 10, 0xc4);
    for (int blk = 0; blk < 3; blk++) {
        ck_assert_int_eq(r->edges[14], e + blk + 1);
        ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
        read_words(r, 0, buf + 2048 * blk, blk < 2 ? 2048 : 1024);
    }
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_mem_eq(buf, r->disk.data + 200 * 512, sizeof buf);
    /* WRITE MULTIPLE: one interrupt per block. */
    e = r->edges[14];
    ata28(r, 0, 0, 300, 6, 0xc5);
    for (int i = 0; i < 6 * 256; i++) {
        outw(r, 0x1f0, (uint16_t)(i ^ 0x5a5a));
        if (i == 4 * 256 - 1) {
            ck_assert_int_eq(r->edges[14], e + 1);
            ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
        }
    }
    ck_assert_int_eq(r->edges[14], e + 2);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_uint_eq(r->disk.data[300 * 512 + 2], 1 ^ 0x5a);
    ck_assert_uint_eq(r->disk.data[305 * 512 + 511], ((6 * 256 - 1) ^ 0x5a5a) >> 8);
    rig_free(r);
}
END_TEST

START_TEST(lba48)
{
    struct rig *r = rig_make(true, true);
    uint8_t buf[1024], want[1024];
    uint64_t lba = 0x100000005ull; /* beyond LBA28 and beyond 32 bits */
    ata48(r, 0, 1, lba, 2, 0x24);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
    read_words(r, 0, buf, 512);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
    read_words(r, 0, buf + 512, 512);
    pattern(lba * 512, want, sizeof want, 512);
    ck_assert_mem_eq(buf, want, sizeof want);
    /* HOB reads the previous register contents. */
    outb(r, 0x3f6, 0x80);
    ck_assert_uint_eq(inb(r, 0x1f4), 0x01);
    outb(r, 0x3f6, 0x00);
    /* WRITE SECTORS EXT lands at the right byte offset. */
    ata48(r, 0, 1, lba + 7, 1, 0x34);
    for (int i = 0; i < 256; i++)
        outw(r, 0x1f0, (uint16_t)i);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_uint_eq(r->big.last_off, (lba + 7) * 512);
    ck_assert_uint_eq(r->big.last[510], 255);
    /* Count 0 means 65536 sectors in LBA48: past the end → IDNF. */
    ata48(r, 0, 1, BIG_SECTORS - 100, 0, 0x24);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x10);
    /* LBA28 cannot reach above 2^28 but reads near it fine. */
    ata28(r, 0, 1, 0x0ffffffe, 1, 0x20);
    read_words(r, 0, buf, 512);
    pattern(0x0ffffffeull * 512, want, 512, 512);
    ck_assert_mem_eq(buf, want, 512);
    rig_free(r);
}
END_TEST

/* PRD entry at gpa: region addr/len, end of table. */
static void prd(struct rig *r, uint32_t gpa, uint32_t addr, uint32_t len, bool eot)
{
    mmu_phys_write32(&r->mmu, gpa, addr);
    mmu_phys_write32(&r->mmu, gpa + 4, (len & 0xffff) | (eot ? 0x80000000u : 0));
}

static void bm_start(struct rig *r, int c, uint32_t table, bool to_memory)
{
    uint16_t b = (uint16_t)(BM + 8 * c);
    bus_out(&r->bus, b + 4, table, 4);
    outb(r, b + 2, 0x06); /* clear error and interrupt */
    outb(r, b, to_memory ? 0x08 : 0x00);
}

START_TEST(dma_read_write)
{
    struct rig *r = rig_new();
    uint8_t buf[8 * 512];
    /* 8 sectors into two regions of 1 KiB + 3 KiB. */
    prd(r, 0x1000, 0x20000, 1024, false);
    prd(r, 0x1008, 0x30000, 3072, true);
    bm_start(r, 0, 0x1000, true);
    int e = r->edges[14];
    ata28(r, 0, 0, 64, 8, 0xc8);
    ck_assert_uint_eq(inb(r, 0x3f6) & 0x80, 0x80); /* busy until the bus master runs */
    ck_assert_int_eq(r->edges[14], e);
    outb(r, BM, 0x09);
    ck_assert_int_eq(r->edges[14], e + 1);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x07, 0x04); /* interrupt, not active, no error */
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    outb(r, BM, 0x00);
    mmu_phys_read(&r->mmu, 0x20000, buf, 1024);
    mmu_phys_read(&r->mmu, 0x30000, buf + 1024, 3072);
    ck_assert_mem_eq(buf, r->disk.data + 64 * 512, sizeof buf);
    /* A PRD larger than the data: the bus master stays active. */
    prd(r, 0x1000, 0x20000, 0, true); /* 0 = 64 KiB */
    bm_start(r, 0, 0x1000, true);
    outb(r, BM, 0x09); /* start first, command second works too */
    ata28(r, 0, 0, 10, 1, 0xc8);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x07, 0x05);
    outb(r, BM, 0x00);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x01, 0x00);
    /* WRITE DMA (EXT) from memory. */
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 3 + 1);
    mmu_phys_write(&r->mmu, 0x40000, buf, sizeof buf);
    prd(r, 0x1000, 0x40000, sizeof buf, true);
    bm_start(r, 0, 0x1000, false);
    ata48(r, 0, 0, 5000, 8, 0x35);
    outb(r, BM, 0x01);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x50);
    ck_assert_mem_eq(r->disk.data + 5000 * 512, buf, sizeof buf);
    outb(r, BM, 0x00);
    /* A PRD pointing beyond RAM: bus-master error, ABRT, interrupt. */
    prd(r, 0x1000, RAM - 512, 4096, true);
    bm_start(r, 0, 0x1000, true);
    e = r->edges[14];
    ata28(r, 0, 0, 0, 8, 0xc8);
    outb(r, BM, 0x09);
    ck_assert_int_eq(r->edges[14], e + 1);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x07, 0x06);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x04);
    outb(r, BM, 0x00);
    /* A table that ends before the data. */
    prd(r, 0x1000, 0x20000, 512, true);
    bm_start(r, 0, 0x1000, true);
    ata28(r, 0, 0, 0, 2, 0xc8);
    outb(r, BM, 0x09);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x02, 0x02);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    outb(r, BM, 0x00);
    /* The table itself outside RAM. */
    bm_start(r, 0, 0xfffff000u, true);
    ata28(r, 0, 0, 0, 1, 0xc8);
    outb(r, BM, 0x09);
    ck_assert_uint_eq(inb(r, BM + 2) & 0x02, 0x02);
    outb(r, BM, 0x00);
    /* Bus mastering disabled in PCICMD. */
    cfg_write(r, 0x04, 0x01, 2);
    prd(r, 0x1000, 0x20000, 512, true);
    bm_start(r, 0, 0x1000, true);
    ata28(r, 0, 0, 0, 1, 0xc8);
    outb(r, BM, 0x09);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    outb(r, BM, 0x00);
    /* Out-of-range DMA command: IDNF without any transfer. */
    cfg_write(r, 0x04, 0x05, 2);
    ata28(r, 0, 0, DISK_SECTORS, 1, 0xc8);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    ck_assert_uint_eq(inb(r, 0x1f1), 0x10);
    rig_free(r);
}
END_TEST

/* --- ATAPI --- */

/* Send a packet to the secondary master with byte-count limit `limit`;
 * dma selects the DMA data path. */
static void packet(struct rig *r, const uint8_t *p, uint16_t limit, bool dma)
{
    outb(r, 0x176, 0xa0);
    outb(r, 0x171, dma ? 1 : 0);
    outb(r, 0x174, (uint8_t)limit);
    outb(r, 0x175, (uint8_t)(limit >> 8));
    outb(r, 0x177, 0xa0);
    ck_assert_uint_eq(inb(r, 0x376), 0x48);     /* DRQ for the packet */
    ck_assert_uint_eq(inb(r, 0x172) & 3, 0x01); /* C/D */
    for (int i = 0; i < 12; i += 2)
        outw(r, 0x170, (uint16_t)(p[i] | p[i + 1] << 8));
}

/* Read the data phase of a PIO packet command; returns the bytes read. */
static unsigned packet_in(struct rig *r, uint8_t *buf, unsigned max, unsigned *chunks)
{
    unsigned n = 0;
    *chunks = 0;
    for (;;) {
        uint8_t st = inb(r, 0x177);
        if (!(st & 0x08)) break;
        ck_assert_uint_eq(inb(r, 0x172) & 3, 0x02); /* I/O: data to the host */
        unsigned len = inb(r, 0x174) | inb(r, 0x175) << 8;
        ck_assert_uint_le(n + len, max);
        read_words(r, 1, buf + n, len);
        n += len;
        (*chunks)++;
    }
    ck_assert_uint_eq(inb(r, 0x172) & 3, 0x03); /* status phase */
    return n;
}

static void sense(struct rig *r, uint8_t *key, uint8_t *asc, uint8_t *ascq)
{
    uint8_t p[12] = {0x03, 0, 0, 0, 18}, b[18];
    unsigned chunks;
    packet(r, p, 18, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 18);
    ck_assert_uint_eq(b[0], 0x70);
    *key = b[2] & 0x0f;
    *asc = b[12];
    *ascq = b[13];
}

static void expect_check(struct rig *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
    uint8_t st = inb(r, 0x177), k, a, q;
    ck_assert_uint_eq(st & 0x89, 0x01);
    ck_assert_uint_eq(inb(r, 0x171) >> 4, key);
    sense(r, &k, &a, &q);
    ck_assert_uint_eq(k, key);
    ck_assert_uint_eq(a, asc);
    ck_assert_uint_eq(q, ascq);
}

START_TEST(atapi_basics)
{
    struct rig *r = rig_new();
    uint16_t w[256];
    identify(r, 1, 0, 0xa1, w);
    ck_assert_uint_eq(w[0], 0x85c0);
    ck_assert_uint_eq(w[49] & 0x0300, 0x0300);
    char s[41];
    ata_string(w, 27, 20, s);
    ck_assert_str_eq(s, "UMBRA CD-ROM                            ");
    /* IDENTIFY PACKET DEVICE on a disk aborts; PACKET too. */
    outb(r, 0x1f7, 0xa1);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);
    outb(r, 0x1f7, 0xa0);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x51);

    uint8_t b[4096];
    unsigned chunks;
    uint8_t tur[12] = {0x00};
    packet(r, tur, 0, false);
    ck_assert_uint_eq(inb(r, 0x177), 0x40);
    ck_assert_uint_eq(inb(r, 0x172) & 3, 0x03);

    uint8_t inq[12] = {0x12, 0, 0, 0, 96};
    packet(r, inq, 200, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 36);
    ck_assert_uint_eq(b[0], 0x05);
    ck_assert_uint_eq(b[1], 0x80);
    ck_assert(memcmp(b + 8, "UMBRA   ", 8) == 0);

    uint8_t cap[12] = {0x25};
    packet(r, cap, 8, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 8);
    ck_assert_uint_eq((uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3], CD_SECTORS - 1);
    ck_assert_uint_eq((uint32_t)b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7], 2048);

    /* READ TOC format 0, LBA then MSF. */
    uint8_t toc[12] = {0x43, 0, 0, 0, 0, 0, 0, 0, 100};
    packet(r, toc, 100, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 20);
    ck_assert_uint_eq(b[1], 18);
    ck_assert_uint_eq(b[2], 1);
    ck_assert_uint_eq(b[3], 1);
    ck_assert_uint_eq(b[5], 0x14);
    ck_assert_uint_eq(b[6], 1);
    ck_assert_uint_eq(b[14], 0xaa);
    ck_assert_uint_eq((uint32_t)b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19], CD_SECTORS);
    toc[1] = 0x02;
    packet(r, toc, 100, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 20);
    ck_assert_uint_eq(b[9], 0);
    ck_assert_uint_eq(b[10], 2); /* track 1 at 00:02:00 */
    ck_assert_uint_eq(b[11], 0);
    ck_assert_uint_eq(b[17], (CD_SECTORS + 150) / 4500);
    ck_assert_uint_eq(b[18], (CD_SECTORS + 150) / 75 % 60);
    ck_assert_uint_eq(b[19], (CD_SECTORS + 150) % 75);
    /* Format 1: session info; allocation length truncates. */
    uint8_t toc1[12] = {0x43, 0, 1, 0, 0, 0, 0, 0, 4};
    packet(r, toc1, 100, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 4);
    ck_assert_uint_eq(b[1], 10);
    /* Format 2 (full TOC, MSF): A0, A1, A2 (lead-out) and track 1. */
    uint8_t toc2[12] = {0x43, 2, 2, 0, 0, 0, 0, 0, 100};
    packet(r, toc2, 100, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 48);
    ck_assert_uint_eq(b[4 + 3], 0xa0);
    ck_assert_uint_eq(b[4 + 8], 1);
    ck_assert_uint_eq(b[26 + 3], 0xa2);
    ck_assert_uint_eq(b[26 + 8], (CD_SECTORS + 150) / 4500);
    ck_assert_uint_eq(b[26 + 9], (CD_SECTORS + 150) / 75 % 60);
    ck_assert_uint_eq(b[26 + 10], (CD_SECTORS + 150) % 75);
    ck_assert_uint_eq(b[37 + 3], 0x01);

    /* MODE SENSE(10) page 2Ah and GET CONFIGURATION's current profile. */
    uint8_t ms[12] = {0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 128};
    packet(r, ms, 128, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 28);
    ck_assert_uint_eq(b[8], 0x2a);
    ck_assert_uint_eq(b[1], 26);
    uint8_t gc[12] = {0x46, 0, 0, 0, 0, 0, 0, 0, 64};
    packet(r, gc, 64, false);
    ck_assert_uint_ge(packet_in(r, b, sizeof b, &chunks), 16);
    ck_assert_uint_eq(b[6] << 8 | b[7], 0x0008);
    uint8_t di[12] = {0x51, 0, 0, 0, 0, 0, 0, 0, 34};
    packet(r, di, 34, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 34);
    ck_assert_uint_eq(b[2], 0x0e);

    /* Unsupported opcode: CHECK CONDITION, ILLEGAL REQUEST / 20h. */
    uint8_t bad[12] = {0xff};
    packet(r, bad, 0, false);
    expect_check(r, 5, 0x20, 0);
    /* Sense is cleared after it was read. */
    uint8_t k, a, q;
    sense(r, &k, &a, &q);
    ck_assert_uint_eq(k, 0);
    rig_free(r);
}
END_TEST

START_TEST(atapi_read)
{
    struct rig *r = rig_new();
    static uint8_t b[5 * 2048];
    unsigned chunks;
    /* READ(10) of 3 sectors with a 1000-byte limit: chunks of 1000 bytes. */
    uint8_t rd[12] = {0x28, 0, 0, 0, 0, 7, 0, 0, 3};
    packet(r, rd, 1000, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 3 * 2048);
    ck_assert_uint_eq(chunks, 7);
    ck_assert_mem_eq(b, r->cd.data + 7 * 2048, 3 * 2048);
    /* READ(12) through DMA. */
    prd(r, 0x2000, 0x50000, 5 * 2048, true);
    bm_start(r, 1, 0x2000, true);
    uint8_t rd12[12] = {0xa8, 0, 0, 0, 0, 100, 0, 0, 0, 5};
    int e = r->edges[15];
    packet(r, rd12, 0, true);
    outb(r, BM + 8, 0x09);
    ck_assert_int_eq(r->edges[15], e + 1);
    ck_assert_uint_eq(inb(r, 0x177), 0x40);
    ck_assert_uint_eq(inb(r, 0x172) & 3, 3);
    ck_assert_uint_eq(inb(r, BM + 10) & 0x07, 0x04);
    outb(r, BM + 8, 0x00);
    mmu_phys_read(&r->mmu, 0x50000, b, 5 * 2048);
    ck_assert_mem_eq(b, r->cd.data + 100 * 2048, 5 * 2048);
    /* A large PIO read crosses the buffer refills. */
    uint8_t big[12] = {0x28, 0, 0, 0, 0, 0, 0, 0, 40};
    packet(r, big, 0xfffe, false);
    static uint8_t huge[40 * 2048];
    ck_assert_uint_eq(packet_in(r, huge, sizeof huge, &chunks), 40 * 2048);
    ck_assert_mem_eq(huge, r->cd.data, sizeof huge);
    /* Beyond the disc: ILLEGAL REQUEST, LBA out of range. */
    uint8_t past[12] = {0x28, 0, 0, 0, (CD_SECTORS - 1) >> 8, (CD_SECTORS - 1) & 0xff, 0, 0, 2};
    packet(r, past, 2048, false);
    expect_check(r, 5, 0x21, 0);
    rig_free(r);
}
END_TEST

START_TEST(atapi_media)
{
    struct rig *r = rig_new();
    uint8_t b[64];
    unsigned chunks;
    /* Lock, then eject is refused. */
    uint8_t lock[12] = {0x1e, 0, 0, 0, 1};
    packet(r, lock, 0, false);
    ck_assert_uint_eq(inb(r, 0x177), 0x40);
    uint8_t eject[12] = {0x1b, 0, 0, 0, 0x02};
    packet(r, eject, 0, false);
    expect_check(r, 5, 0x53, 0x02);
    lock[4] = 0;
    packet(r, lock, 0, false);
    packet(r, eject, 0, false);
    ck_assert_uint_eq(inb(r, 0x177), 0x40);
    /* No medium: NOT READY, medium not present. */
    uint8_t tur[12] = {0};
    packet(r, tur, 0, false);
    expect_check(r, 2, 0x3a, 0);
    /* GET EVENT STATUS NOTIFICATION reports the removal once. */
    uint8_t gesn[12] = {0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8};
    packet(r, gesn, 8, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 8);
    ck_assert_uint_eq(b[4], 3);
    ck_assert_uint_eq(b[5] & 2, 0);
    packet(r, gesn, 8, false);
    packet_in(r, b, sizeof b, &chunks);
    ck_assert_uint_eq(b[4], 0);
    /* Non-polled GESN is refused. */
    gesn[1] = 0;
    packet(r, gesn, 8, false);
    expect_check(r, 5, 0x24, 0);
    /* A new disc: UNIT ATTENTION once, then ready; media event "new". */
    ck_assert_int_eq(ide_cdrom_change(&r->ide, 2, &r->cd.be), 0);
    ck_assert_int_eq(ide_cdrom_change(&r->ide, 0, NULL), -1);
    packet(r, tur, 0, false);
    expect_check(r, 6, 0x28, 0);
    packet(r, tur, 0, false);
    ck_assert_uint_eq(inb(r, 0x177), 0x40);
    gesn[1] = 1;
    packet(r, gesn, 8, false);
    packet_in(r, b, sizeof b, &chunks);
    ck_assert_uint_eq(b[4], 2);
    ck_assert_uint_eq(b[5] & 2, 2);
    /* INQUIRY is not blocked by a unit attention. */
    ide_cdrom_change(&r->ide, 2, &r->cd.be);
    uint8_t inq[12] = {0x12, 0, 0, 0, 36};
    packet(r, inq, 36, false);
    ck_assert_uint_eq(packet_in(r, b, sizeof b, &chunks), 36);
    /* The disc taken away in the middle of a PIO read: the transfer ends,
     * the data port goes quiet, and the drive reports no medium. */
    packet(r, tur, 0, false); /* consume the unit attention */
    inb(r, 0x177);
    uint8_t rd[12] = {0x28, 0, 0, 0, 0, 0, 0, 0, 40};
    packet(r, rd, 2048, false);
    ck_assert_uint_eq(inb(r, 0x177) & 0x08, 0x08);
    read_words(r, 1, b, 64);
    ide_cdrom_change(&r->ide, 2, NULL);
    ck_assert_uint_eq(inb(r, 0x177) & 0x08, 0);
    for (int i = 0; i < 4096; i++)
        inw(r, 0x170);
    packet(r, tur, 0, false);
    expect_check(r, 2, 0x3a, 0);
    ide_cdrom_change(&r->ide, 2, &r->cd.be);
    /* DEVICE RESET restores the signature without an interrupt. */
    int e = r->edges[15];
    outb(r, 0x177, 0x08);
    ck_assert_int_eq(r->edges[15], e);
    ck_assert_uint_eq(inb(r, 0x174), 0x14);
    ck_assert_uint_eq(inb(r, 0x175), 0xeb);
    rig_free(r);
}
END_TEST

START_TEST(save_load_mid_transfer)
{
    struct rig *r = rig_new();
    uint8_t buf[1024];
    ata28(r, 0, 0, 40, 2, 0x20);
    read_words(r, 0, buf, 300);
    struct state_buf s;
    state_init(&s);
    ide_save(&r->ide, &s);
    ck_assert(!s.error);
    struct rig *r2 = rig_new();
    memcpy(r2->disk.data, r->disk.data, DISK_SECTORS * 512ull);
    ck_assert_int_eq(ide_load(&r2->ide, &s), 0);
    read_words(r2, 0, buf + 300, 212);
    ck_assert_uint_eq(inb(r2, 0x1f7), 0x58);
    read_words(r2, 0, buf + 512, 512);
    ck_assert_mem_eq(buf, r->disk.data + 40 * 512, 1024);
    state_free(&s);
    rig_free(r);
    rig_free(r2);
}
END_TEST

static int guest_errors;
static char last_log[256];
static void log_sink(void *o, unsigned cat, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_log, sizeof last_log, fmt, ap);
    va_end(ap);
    if (cat == DEV_LOG_GUEST_ERRORS) guest_errors++;
}

START_TEST(guest_errors_logged)
{
    struct rig *r = rig_new();
    static struct dev_log log = {DEV_LOG_GUEST_ERRORS, log_sink, NULL};
    r->ide.log = &log;
    guest_errors = 0;
    /* DMA past RAM. */
    prd(r, 0x1000, RAM - 512, 4096, true);
    bm_start(r, 0, 0x1000, true);
    ata28(r, 0, 0, 0, 8, 0xc8);
    outb(r, BM, 0x09);
    ck_assert_int_eq(guest_errors, 1);
    ck_assert_ptr_nonnull(strstr(last_log, "outside RAM"));
    outb(r, BM, 0x00);
    /* A sector beyond the disk. */
    ata28(r, 0, 0, DISK_SECTORS, 1, 0x20);
    ck_assert_int_eq(guest_errors, 2);
    ck_assert_ptr_nonnull(strstr(last_log, "beyond the disk"));
    /* A CD read beyond the disc. */
    uint8_t past[12] = {0x28, 0, 0, 0, 0x10, 0, 0, 0, 1};
    packet(r, past, 2048, false);
    ck_assert_int_eq(guest_errors, 3);
    rig_free(r);
}
END_TEST

START_TEST(register_fuzz)
{
    struct rig *r = rig_make(true, true);
    srand(1234);
    static const uint16_t ports[] = {0x1f0, 0x1f1, 0x1f2, 0x1f3, 0x1f4, 0x1f5, 0x1f6, 0x1f7,
                                     0x3f6, 0x170, 0x171, 0x172, 0x173, 0x174, 0x175, 0x176,
                                     0x177, 0x376, BM,    BM + 2, BM + 4, BM + 8, BM + 10, BM + 12};
    for (int i = 0; i < 200000; i++) {
        uint16_t p = ports[rand() % (int)(sizeof ports / sizeof ports[0])];
        unsigned size = 1u << (rand() % 3);
        if (rand() % 2) {
            uint32_t v = (uint32_t)rand();
            /* Keep the PRD pointer mostly inside RAM so DMA really runs. */
            if (p == BM + 4 || p == BM + 12) v &= RAM - 1;
            bus_out(&r->bus, p, v, size);
        } else {
            bus_in(&r->bus, p, size);
        }
    }
    /* Still a working controller afterwards. */
    outb(r, 0x3f6, 0x04);
    outb(r, 0x3f6, 0x00);
    outb(r, BM, 0);
    uint8_t buf[512];
    ata28(r, 0, 0, 3, 1, 0x20);
    ck_assert_uint_eq(inb(r, 0x1f7), 0x58);
    read_words(r, 0, buf, 512);
    rig_free(r);
}
END_TEST

static Suite *ide_suite(void)
{
    Suite *s = suite_create("ide");
    TCase *t = tcase_create("core");
    tcase_set_timeout(t, 60);
    tcase_add_test(t, pci_identity_and_decode);
    tcase_add_test(t, identify_device_words);
    tcase_add_test(t, signatures_and_reset);
    tcase_add_test(t, interrupts_and_status);
    tcase_add_test(t, pio_read_write);
    tcase_add_test(t, multiple_mode);
    tcase_add_test(t, lba48);
    tcase_add_test(t, dma_read_write);
    tcase_add_test(t, atapi_basics);
    tcase_add_test(t, atapi_read);
    tcase_add_test(t, atapi_media);
    tcase_add_test(t, save_load_mid_transfer);
    tcase_add_test(t, guest_errors_logged);
    tcase_add_test(t, register_fuzz);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ide_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
