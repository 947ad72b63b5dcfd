/* test_fdc.c — the 82077AA with the 8237A behind it, driven through their
 * ports against a virtual (icount) clock, an IRQ 6 sink and an in-memory
 * disk: reads and writes by DMA checked byte for byte in guest RAM and the
 * image, multi-sector and multi-track transfers with the datasheet's result
 * IDs and end-of-cylinder, seek / relative seek / recalibrate / sense
 * interrupt, the reset's four sense interrupts, FORMAT TRACK, READ ID, the
 * error statuses (no disk, write protect, sector not found, wrong cylinder),
 * non-DMA (FIFO) transfers, a DMA channel unmasked late, CONFIGURE / LOCK /
 * DUMPREG / VERSION / PERPENDICULAR, the disk-change line, every geometry,
 * image-size rejection, save/load, and a register fuzz. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices/fdc.h"

#define RAM (4u << 20)
#define BUF 0x20000u /* guest-physical DMA buffer */

struct memdisk {
    struct block_backend be;
    uint8_t *data;
};

static int md_read(void *o, uint64_t off, void *buf, size_t len)
{
    memcpy(buf, ((struct memdisk *)o)->data + off, len);
    return 0;
}
static int md_write(void *o, uint64_t off, const void *buf, size_t len)
{
    struct memdisk *m = o;
    if (m->be.read_only)
        return -EROFS;
    memcpy(m->data + off, buf, len);
    return 0;
}
static int md_flush(void *o) { (void)o; return 0; }

/* Byte i of sector lba. */
static uint8_t pattern(uint32_t lba, uint32_t i) { return (uint8_t)(lba * 13 + i * 7 + (i >> 8) + 1); }

static struct memdisk *memdisk_new(uint64_t size, bool ro)
{
    struct memdisk *m = calloc(1, sizeof *m);
    m->data = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        m->data[i] = pattern((uint32_t)(i / 512), (uint32_t)(i % 512));
    m->be = (struct block_backend){m, size, ro, md_read, md_write, md_flush};
    return m;
}

struct rig {
    struct bus bus;
    struct clock clock;
    struct mmu mmu;
    struct dma dma;
    struct fdc fdc;
    struct memdisk *disk[2];
    bool level;
    int edges;
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    ck_assert_int_eq(line, 6);
    if (level && !r->level)
        r->edges++;
    r->level = level;
}

static struct rig *rig_new2(uint64_t size0, bool ro0, uint64_t size1)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[300];
    bus_init(&r->bus, NULL);
    clock_init(&r->clock, true, 0);
    ck_assert_int_eq(mmu_init(&r->mmu, RAM), 0);
    ck_assert_int_eq(dma_init(&r->dma, &r->bus, &r->mmu, NULL, err, sizeof err), 0);
    struct block_backend *media[2] = {NULL, NULL};
    if (size0) {
        r->disk[0] = memdisk_new(size0, ro0);
        media[0] = &r->disk[0]->be;
    }
    if (size1) {
        r->disk[1] = memdisk_new(size1, false);
        media[1] = &r->disk[1]->be;
    }
    ck_assert_int_eq(fdc_init(&r->fdc, &r->bus, &r->clock, (struct irq_line){irq_sink, r, 6},
                              &r->dma, 2, media, NULL, err, sizeof err),
                     0);
    /* The data rate the medium wants (CCR), as a driver sets it. */
    bus_out(&r->bus, 0x3f7, size0 == 2949120 ? 3 : size0 == 737280 || size0 == 368640 ? 2 : 0,
            1);
    return r;
}

static struct rig *rig_new(void) { return rig_new2(1474560, false, 0); }

static void rig_free(struct rig *r)
{
    mmu_destroy(&r->mmu);
    for (int i = 0; i < 2; i++)
        if (r->disk[i]) {
            free(r->disk[i]->data);
            free(r->disk[i]);
        }
    free(r);
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }

static void run_for(struct rig *r, uint64_t ns)
{
    uint64_t t = clock_now_ns(&r->clock) + ns;
    clock_run_timers(&r->clock);
    while (clock_now_ns(&r->clock) < t) {
        uint64_t step = (uint64_t)clock_budget(&r->clock);
        if (clock_now_ns(&r->clock) + step > t)
            step = t - clock_now_ns(&r->clock);
        clock_account_insns(&r->clock, step);
        clock_run_timers(&r->clock);
    }
}

/* Wait (virtual time, at most 50 ms) for a new interrupt edge. */
static void wait_irq(struct rig *r)
{
    int e = r->edges;
    for (int i = 0; i < 500 && r->edges == e; i++)
        run_for(r, 100000);
    ck_assert_msg(r->edges > e, "no IRQ 6");
}

static void cmd(struct rig *r, const uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t msr = inb(r, 0x3f4);
        ck_assert_msg((msr & 0xc0) == 0x80, "MSR 0x%02x before command byte %u", msr, i);
        outb(r, 0x3f5, b[i]);
    }
}
#define CMD(r, ...)                                                                            \
    do {                                                                                       \
        const uint8_t c_[] = {__VA_ARGS__};                                                    \
        cmd(r, c_, sizeof c_);                                                                 \
    } while (0)

/* Read the result phase; returns its length. */
static unsigned result(struct rig *r, uint8_t *out, unsigned max)
{
    unsigned n = 0;
    while ((inb(r, 0x3f4) & 0xd0) == 0xd0) {
        ck_assert_uint_lt(n, max);
        out[n++] = inb(r, 0x3f5);
    }
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xd0, 0x80); /* back to idle */
    return n;
}

static void dma_setup(struct rig *r, uint8_t mode, uint32_t phys, uint32_t bytes)
{
    outb(r, 0x0a, 0x06);
    outb(r, 0x0c, 0);
    outb(r, 0x0b, mode | 2);
    outb(r, 0x04, phys & 0xff);
    outb(r, 0x04, (phys >> 8) & 0xff);
    outb(r, 0x81, (uint8_t)(phys >> 16));
    outb(r, 0x05, (bytes - 1) & 0xff);
    outb(r, 0x05, (bytes - 1) >> 8);
    outb(r, 0x0a, 0x02);
}

static uint32_t lba_of(unsigned c, unsigned h, unsigned s, unsigned spt) { return (c * 2 + h) * spt + s - 1; }

static void check_ram_sector(struct rig *r, uint32_t gpa, uint32_t lba)
{
    uint8_t got[512];
    mmu_phys_read(&r->mmu, gpa, got, 512);
    for (unsigned i = 0; i < 512; i++)
        ck_assert_msg(got[i] == pattern(lba, i), "RAM 0x%x byte %u: 0x%02x, want lba %u's 0x%02x",
                      gpa, i, got[i], lba, pattern(lba, i));
}

static void seek(struct rig *r, unsigned drive, unsigned head, unsigned cyl)
{
    CMD(r, 0x0f, (uint8_t)(head << 2 | drive), (uint8_t)cyl);
    wait_irq(r);
    uint8_t res[2];
    CMD(r, 0x08);
    ck_assert_uint_eq(result(r, res, 2), 2);
    ck_assert_uint_eq(res[0], 0x20 | drive); /* H is always 0 after a seek */
    (void)head;
    ck_assert_uint_eq(res[1], cyl);
}

START_TEST(read_sector_dma)
{
    struct rig *r = rig_new();
    dma_setup(r, DMA_MODE_WRITE | 0x40, BUF, 512);
    CMD(r, 0xe6, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff); /* MT MFM SK READ C0 H0 R1 */
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0x10);     /* busy, no RQM in execution */
    wait_irq(r);
    ck_assert(r->level);
    uint8_t res[7];
    ck_assert_uint_eq(result(r, res, 7), 7);
    ck_assert(!r->level); /* reading the result cleared INT */
    const uint8_t want[7] = {0x00, 0x00, 0x00, 0, 0, 2, 2};
    ck_assert_mem_eq(res, want, 7);
    check_ram_sector(r, BUF, 0);
    ck_assert_uint_eq(inb(r, 0x08) & 0x04, 0x04); /* DMA TC */
    rig_free(r);
}
END_TEST

START_TEST(read_after_seek_head1)
{
    struct rig *r = rig_new();
    seek(r, 0, 1, 5);
    dma_setup(r, DMA_MODE_WRITE, BUF + 0x1000, 512);
    CMD(r, 0x46, 0x04, 5, 1, 3, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    uint8_t res[7];
    result(r, res, 7);
    const uint8_t want[7] = {0x04, 0, 0, 5, 1, 4, 2};
    ck_assert_mem_eq(res, want, 7);
    check_ram_sector(r, BUF + 0x1000, lba_of(5, 1, 3, 18));
    rig_free(r);
}
END_TEST

START_TEST(multitrack_read)
{
    struct rig *r = rig_new();
    seek(r, 0, 0, 2);
    dma_setup(r, DMA_MODE_WRITE, BUF, 4 * 512);
    CMD(r, 0xc6, 0x00, 2, 0, 17, 2, 18, 0x1b, 0xff); /* MT: head 0 R17, R18, head 1 R1, R2 */
    wait_irq(r);
    uint8_t res[7];
    result(r, res, 7);
    const uint8_t want[7] = {0x04, 0, 0, 2, 1, 3, 2}; /* normal end at TC, next ID H1 R3 */
    ck_assert_mem_eq(res, want, 7);
    check_ram_sector(r, BUF, lba_of(2, 0, 17, 18));
    check_ram_sector(r, BUF + 512, lba_of(2, 0, 18, 18));
    check_ram_sector(r, BUF + 1024, lba_of(2, 1, 1, 18));
    check_ram_sector(r, BUF + 1536, lba_of(2, 1, 2, 18));
    rig_free(r);
}
END_TEST

START_TEST(end_of_cylinder)
{
    struct rig *r = rig_new();
    seek(r, 0, 0, 2);
    /* Without MT, EOT (18) arrives before the DMA count: ST1 EN. */
    dma_setup(r, DMA_MODE_WRITE, BUF, 4 * 512);
    CMD(r, 0x46, 0x00, 2, 0, 17, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    uint8_t res[7];
    result(r, res, 7);
    const uint8_t want[7] = {0x40, 0x80, 0x00, 2, 0, 18, 2}; /* EN: the last sector's ID */
    ck_assert_mem_eq(res, want, 7);
    check_ram_sector(r, BUF + 512, lba_of(2, 0, 18, 18));
    /* TC exactly at EOT is a normal end; MT on head 1's last sector ends
     * on the next cylinder with H complemented. */
    dma_setup(r, DMA_MODE_WRITE, BUF, 2 * 512);
    CMD(r, 0xc6, 0x04, 2, 1, 17, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    const uint8_t want2[7] = {0x04, 0, 0, 3, 0, 1, 2};
    ck_assert_mem_eq(res, want2, 7);
    check_ram_sector(r, BUF + 512, lba_of(2, 1, 18, 18));
    rig_free(r);
}
END_TEST

START_TEST(write_sector_dma)
{
    struct rig *r = rig_new();
    seek(r, 0, 0, 1);
    uint8_t src[1024];
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(0xa5 ^ i ^ (i >> 3));
    mmu_phys_write(&r->mmu, BUF, src, sizeof src);
    dma_setup(r, DMA_MODE_READ, BUF, 1024);
    CMD(r, 0x45, 0x00, 1, 0, 5, 2, 18, 0x1b, 0xff); /* C1 H0 R5-R6 */
    wait_irq(r);
    uint8_t res[7];
    result(r, res, 7);
    const uint8_t want[7] = {0x00, 0, 0, 1, 0, 7, 2};
    ck_assert_mem_eq(res, want, 7);
    uint32_t lba = lba_of(1, 0, 5, 18);
    ck_assert_mem_eq(r->disk[0]->data + lba * 512, src, 1024);
    ck_assert_uint_eq(r->disk[0]->data[(lba - 1) * 512 + 511], pattern(lba - 1, 511));
    ck_assert_uint_eq(r->disk[0]->data[(lba + 2) * 512], pattern(lba + 2, 0));
    rig_free(r);
}
END_TEST

START_TEST(write_protect_and_no_disk)
{
    struct rig *r = rig_new2(1474560, true, 0);
    uint8_t res[7];
    CMD(r, 0x04, 0x00); /* SENSE DRIVE STATUS */
    ck_assert_uint_eq(result(r, res, 7), 1);
    ck_assert_uint_eq(res[0], 0x40 | 0x20 | 0x10 | 0x08);
    dma_setup(r, DMA_MODE_READ, BUF, 512);
    CMD(r, 0x45, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x02); /* NW */
    ck_assert_uint_eq(r->disk[0]->data[0], pattern(0, 0));
    /* Drive 1 is absent; a seek there still completes, a read finds nothing. */
    rig_free(r);

    r = rig_new2(0, false, 0); /* drive 0 empty */
    CMD(r, 0x04, 0x00);
    result(r, res, 7);
    ck_assert_uint_eq(res[0] & 0x40, 0x40); /* no disk: write protected */
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    CMD(r, 0x46, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x01); /* MA */
    CMD(r, 0x4a, 0x00); /* READ ID */
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x01);
    ck_assert_uint_eq(inb(r, 0x3f7) & 0x80, 0); /* no disk, no change */
    rig_free(r);
}
END_TEST

START_TEST(data_rate)
{
    /* A 1.44 MB disk reads at 500 kb/s only; power-on is 250 kb/s. */
    struct rig *r = rig_new();
    uint8_t res[7];
    outb(r, 0x3f7, 2);
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    CMD(r, 0x46, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x01); /* MA */
    CMD(r, 0x4a, 0x00);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x01);
    outb(r, 0x3f4, 0x00); /* DSR: 500 kb/s */
    CMD(r, 0x46, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x00);
    check_ram_sector(r, BUF, 0);
    rig_free(r);
    /* A 2.88 MB disk at 1 Mb/s only; a 360 KB one at 250 or 300 kb/s. */
    r = rig_new2(2949120, false, 0);
    outb(r, 0x3f7, 0);
    CMD(r, 0x4a, 0x00);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x01);
    outb(r, 0x3f7, 3);
    CMD(r, 0x4a, 0x00);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x00);
    rig_free(r);
    r = rig_new2(368640, false, 0);
    for (uint8_t rate = 0; rate < 4; rate++) {
        outb(r, 0x3f7, rate);
        CMD(r, 0x4a, 0x00);
        wait_irq(r);
        result(r, res, 7);
        ck_assert_uint_eq(res[0], rate == 1 || rate == 2 ? 0x00 : 0x40);
    }
    rig_free(r);
}
END_TEST

START_TEST(sector_not_found)
{
    struct rig *r = rig_new();
    uint8_t res[7];
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    CMD(r, 0x46, 0x00, 0, 0, 19, 2, 19, 0x1b, 0xff); /* R19 on an 18-sector track */
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x04);
    CMD(r, 0x46, 0x00, 3, 0, 1, 2, 18, 0x1b, 0xff); /* C3 while on cylinder 0 */
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x04);
    ck_assert_uint_eq(res[2], 0x10); /* WC */
    CMD(r, 0x46, 0x00, 0, 0, 1, 3, 18, 0x1b, 0xff); /* N=3 (1 KiB) */
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x04);
    CMD(r, 0x46, 0x00, 0, 1, 1, 2, 18, 0x1b, 0xff); /* H1 in the ID, head 0 selected */
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x04);
    /* Beyond the medium's 80 tracks: no address marks at all. */
    seek(r, 0, 0, 82);
    CMD(r, 0x46, 0x00, 82, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x01);
    /* FM mode on an MFM disk: likewise. */
    seek(r, 0, 0, 0);
    CMD(r, 0x06, 0x00, 0, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 0x01);
    /* Nothing reached memory. */
    uint8_t z[512] = {0}, got[512];
    mmu_phys_read(&r->mmu, BUF, got, 512);
    ck_assert_mem_eq(got, z, 512);
    rig_free(r);
}
END_TEST

START_TEST(reset_sense_seek_recal)
{
    struct rig *r = rig_new();
    uint8_t res[7];
    /* Power-on: as the firmware left it, nothing owed. */
    CMD(r, 0x08);
    ck_assert_uint_eq(result(r, res, 7), 1);
    ck_assert_uint_eq(res[0], 0x80);
    /* DOR reset: held (MSR 0) until released, then IRQ and four senses. */
    int e = r->edges;
    outb(r, 0x3f2, 0x08);
    ck_assert_uint_eq(inb(r, 0x3f4), 0x00);
    outb(r, 0x3f2, 0x0c);
    ck_assert_int_eq(r->edges, e + 1);
    for (unsigned i = 0; i < 4; i++) {
        CMD(r, 0x08);
        ck_assert_uint_eq(result(r, res, 7), 2);
        ck_assert_uint_eq(res[0], 0xc0 | i);
        ck_assert_uint_eq(res[1], 0);
    }
    ck_assert(!r->level);
    CMD(r, 0x08);
    ck_assert_uint_eq(result(r, res, 7), 1);
    ck_assert_uint_eq(res[0], 0x80);
    /* DSR software reset does the same. */
    e = r->edges;
    outb(r, 0x3f4, 0x80);
    ck_assert_int_eq(r->edges, e + 1);
    for (unsigned i = 0; i < 4; i++) {
        CMD(r, 0x08);
        result(r, res, 7);
        ck_assert_uint_eq(res[0], 0xc0 | i);
    }
    /* One sense after a reset, then a recalibrate: its own status comes
     * back, the reset's other owed senses are gone. */
    outb(r, 0x3f4, 0x80);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0xc0);
    CMD(r, 0x07, 0x00);
    wait_irq(r);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x20);
    CMD(r, 0x08);
    ck_assert_uint_eq(result(r, res, 7), 1);
    ck_assert_uint_eq(res[0], 0x80);
    /* IRQ gated by DOR bit 3. */
    outb(r, 0x3f2, 0x04);
    outb(r, 0x3f2, 0x00);
    outb(r, 0x3f2, 0x04);
    ck_assert(!r->level);
    outb(r, 0x3f2, 0x0c);
    ck_assert(r->level);
    for (unsigned i = 0; i < 4; i++) {
        CMD(r, 0x08);
        result(r, res, 7);
    }
    /* SEEK: drive busy bit while stepping, then the interrupt. */
    CMD(r, 0x0f, 0x00, 40);
    ck_assert_uint_eq(inb(r, 0x3f4), 0x81);
    wait_irq(r);
    ck_assert_uint_eq(inb(r, 0x3f4), 0x80);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x20);
    ck_assert_uint_eq(res[1], 40);
    ck_assert(!r->level);
    /* Relative seek: 5 out, then 10 in. */
    CMD(r, 0x8f, 0x00, 5);
    wait_irq(r);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[1], 35);
    CMD(r, 0xcf, 0x04, 10);
    wait_irq(r);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x20);
    ck_assert_uint_eq(res[1], 45);
    /* SENSE DRIVE STATUS: not on track 0. */
    CMD(r, 0x04, 0x00);
    result(r, res, 7);
    ck_assert_uint_eq(res[0] & 0x10, 0);
    /* RECALIBRATE. */
    CMD(r, 0x07, 0x00);
    wait_irq(r);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x20);
    ck_assert_uint_eq(res[1], 0);
    CMD(r, 0x04, 0x00);
    result(r, res, 7);
    ck_assert_uint_eq(res[0] & 0x10, 0x10);
    /* Recalibrating a drive that is not there: equipment check. */
    CMD(r, 0x07, 0x02);
    wait_irq(r);
    CMD(r, 0x08);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x70 | 2);
    /* Two drives seeking at once: each reported by its own sense. */
    struct rig *r2 = rig_new2(1474560, false, 737280);
    CMD(r2, 0x0f, 0x00, 3);
    CMD(r2, 0x0f, 0x01, 7);
    ck_assert_uint_eq(inb(r2, 0x3f4), 0x83);
    run_for(r2, 5000000);
    CMD(r2, 0x08);
    result(r2, res, 7);
    ck_assert_uint_eq(res[0], 0x20);
    ck_assert_uint_eq(res[1], 3);
    CMD(r2, 0x08);
    result(r2, res, 7);
    ck_assert_uint_eq(res[0], 0x21);
    ck_assert_uint_eq(res[1], 7);
    rig_free(r2);
    rig_free(r);
}
END_TEST

START_TEST(disk_change_line)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(inb(r, 0x3f7) & 0x80, 0x80); /* inserted at power-on */
    seek(r, 0, 0, 0);                               /* no step pulse */
    ck_assert_uint_eq(inb(r, 0x3f7) & 0x80, 0x80);
    seek(r, 0, 0, 1);
    ck_assert_uint_eq(inb(r, 0x3f7) & 0x80, 0x00);
    /* Drive 1 (absent) selected: no change reported. */
    outb(r, 0x3f2, 0x0d);
    ck_assert_uint_eq(inb(r, 0x3f7) & 0x80, 0x00);
    rig_free(r);
}
END_TEST

START_TEST(format_track)
{
    struct rig *r = rig_new();
    seek(r, 0, 1, 4);
    uint8_t ids[18 * 4];
    for (unsigned s = 0; s < 18; s++) {
        ids[s * 4 + 0] = 4;
        ids[s * 4 + 1] = 1;
        ids[s * 4 + 2] = (uint8_t)(s + 1);
        ids[s * 4 + 3] = 2;
    }
    mmu_phys_write(&r->mmu, BUF, ids, sizeof ids);
    dma_setup(r, DMA_MODE_READ, BUF, sizeof ids);
    CMD(r, 0x4d, 0x04, 2, 18, 0x54, 0xe5);
    wait_irq(r);
    uint8_t res[7];
    ck_assert_uint_eq(result(r, res, 7), 7);
    ck_assert_uint_eq(res[0], 0x04);
    ck_assert_uint_eq(res[1], 0);
    for (unsigned s = 1; s <= 18; s++) {
        const uint8_t *p = r->disk[0]->data + lba_of(4, 1, s, 18) * 512;
        for (unsigned i = 0; i < 512; i++)
            ck_assert_uint_eq(p[i], 0xe5);
    }
    /* The other side and the neighbours are untouched. */
    ck_assert_uint_eq(r->disk[0]->data[lba_of(4, 0, 18, 18) * 512 + 511],
                      pattern(lba_of(4, 0, 18, 18), 511));
    ck_assert_uint_eq(r->disk[0]->data[lba_of(5, 0, 1, 18) * 512],
                      pattern(lba_of(5, 0, 1, 18), 0));
    /* READ ID now reports IDs of this track. */
    CMD(r, 0x4a, 0x04);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x04);
    ck_assert_uint_eq(res[3], 4);
    ck_assert_uint_eq(res[4], 1);
    ck_assert(res[5] >= 1 && res[5] <= 18);
    ck_assert_uint_eq(res[6], 2);
    rig_free(r);
}
END_TEST

START_TEST(pio_read_write)
{
    struct rig *r = rig_new();
    uint8_t res[7];
    CMD(r, 0x03, 0xdf, 0x03); /* SPECIFY: non-DMA */
    seek(r, 0, 0, 3);
    CMD(r, 0x46, 0x00, 3, 0, 7, 2, 8, 0x1b, 0xff); /* R7-R8 */
    uint32_t lba = lba_of(3, 0, 7, 18);
    for (unsigned s = 0; s < 2; s++)
        for (unsigned i = 0; i < 512; i++) {
            int e = r->edges;
            for (int k = 0; k < 100 && (inb(r, 0x3f4) & 0xe0) != 0xe0; k++)
                run_for(r, 10000);
            ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0xf0); /* RQM DIO NDMA CB */
            (void)e;
            ck_assert_uint_eq(inb(r, 0x3f5), pattern(lba + s, i));
        }
    /* No TC in non-DMA mode: the command ends at EOT with EN, after the
     * gap that follows the last sector. */
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0x30); /* NDMA, busy, no RQM */
    wait_irq(r);
    ck_assert(r->level);
    ck_assert_uint_eq(result(r, res, 7), 7);
    const uint8_t want[7] = {0x40, 0x80, 0, 3, 0, 8, 2};
    ck_assert_mem_eq(res, want, 7);
    /* Interrupt per byte. */
    int e0 = r->edges;
    CMD(r, 0x45, 0x00, 3, 0, 9, 2, 9, 0x1b, 0xff);
    run_for(r, 1000000);
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0xb0); /* RQM, CPU to FDC, NDMA, CB */
    for (unsigned i = 0; i < 512; i++)
        outb(r, 0x3f5, (uint8_t)(i ^ 0x3c));
    ck_assert_int_ge(r->edges - e0, 512);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x40);
    ck_assert_uint_eq(res[1], 0x80);
    const uint8_t *p = r->disk[0]->data + lba_of(3, 0, 9, 18) * 512;
    for (unsigned i = 0; i < 512; i++)
        ck_assert_uint_eq(p[i], (uint8_t)(i ^ 0x3c));
    /* A host that stops taking bytes (here after one sector of an MT read
     * that could go on to head 1): overrun, and the result names the next
     * sector, as pseudo-DMA drivers expect. */
    CMD(r, 0xc6, 0x00, 3, 0, 18, 2, 18, 0x1b, 0xff);
    run_for(r, 1000000);
    for (unsigned i = 0; i < 512; i++)
        ck_assert_uint_eq(inb(r, 0x3f5), pattern(lba_of(3, 0, 18, 18), i));
    run_for(r, 1000000);
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0xf0); /* head 1's sector 1 is waiting */
    run_for(r, 5000000);
    ck_assert_uint_eq(inb(r, 0x3f4) & 0xf0, 0xf0); /* not yet */
    e0 = r->edges;
    wait_irq(r);
    ck_assert_uint_eq(result(r, res, 7), 7);
    const uint8_t want_or[7] = {0x44, 0x10, 0, 3, 1, 1, 2};
    ck_assert_mem_eq(res, want_or, 7);
    rig_free(r);
}
END_TEST

START_TEST(pio_format_and_dma_edge_cases)
{
    struct rig *r = rig_new();
    uint8_t res[7];
    /* FORMAT TRACK through the FIFO: 4 ID bytes per sector. */
    CMD(r, 0x03, 0xdf, 0x03);
    seek(r, 0, 0, 7);
    CMD(r, 0x4d, 0x00, 2, 18, 0x54, 0x6b);
    run_for(r, 1000000);
    for (unsigned s = 1; s <= 18; s++) {
        const uint8_t id[4] = {7, 0, (uint8_t)s, 2};
        for (unsigned k = 0; k < 4; k++) {
            ck_assert_uint_eq(inb(r, 0x3f4) & 0xe0, 0xa0); /* RQM, to the FDC, NDMA */
            outb(r, 0x3f5, id[k]);
        }
    }
    ck_assert(r->level); /* the last ID byte ended the command */
    ck_assert_uint_eq(result(r, res, 7), 7);
    ck_assert_uint_eq(res[0], 0x00);
    for (unsigned s = 1; s <= 18; s++)
        ck_assert_uint_eq(r->disk[0]->data[lba_of(7, 0, s, 18) * 512 + 300], 0x6b);
    ck_assert_uint_eq(r->disk[0]->data[lba_of(7, 1, 1, 18) * 512], pattern(lba_of(7, 1, 1, 18), 0));
    /* Back to DMA.  A DMA count ending mid-sector (TC after 100 bytes) on a
     * WRITE: the rest of the sector is written as zeroes, normal end. */
    CMD(r, 0x03, 0xdf, 0x02);
    uint8_t src[100];
    memset(src, 0x77, sizeof src);
    mmu_phys_write(&r->mmu, BUF, src, sizeof src);
    dma_setup(r, DMA_MODE_READ, BUF, 100);
    CMD(r, 0x45, 0x00, 7, 0, 3, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x00);
    ck_assert_uint_eq(res[5], 4);
    const uint8_t *p = r->disk[0]->data + lba_of(7, 0, 3, 18) * 512;
    ck_assert_uint_eq(p[0], 0x77);
    ck_assert_uint_eq(p[99], 0x77);
    ck_assert_uint_eq(p[100], 0x00);
    ck_assert_uint_eq(p[511], 0x00);
    /* DMA verify mode (the BIOS's verify sectors): the FDC reads, memory
     * is left alone, the command ends normally at TC. */
    uint8_t before[512], after[512];
    memset(before, 0x5a, sizeof before);
    mmu_phys_write(&r->mmu, BUF, before, sizeof before);
    dma_setup(r, DMA_MODE_VERIFY, BUF, 1024);
    CMD(r, 0x46, 0x00, 7, 0, 5, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x00);
    ck_assert_uint_eq(res[5], 7);
    mmu_phys_read(&r->mmu, BUF, after, sizeof after);
    ck_assert_mem_eq(before, after, 512);
    rig_free(r);
}
END_TEST

START_TEST(dma_unmasked_late)
{
    struct rig *r = rig_new();
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    outb(r, 0x0a, 0x06); /* mask channel 2 again */
    CMD(r, 0x46, 0x00, 0, 0, 9, 2, 18, 0x1b, 0xff);
    int e = r->edges;
    run_for(r, 20000000);
    ck_assert_int_eq(r->edges, e); /* waiting for DACK */
    ck_assert_uint_eq(inb(r, 0x08) & 0x40, 0x40); /* DREQ 2 in the DMA status */
    ck_assert_uint_eq(inb(r, 0x3f4) & 0x10, 0x10);
    outb(r, 0x0a, 0x02);
    ck_assert_int_eq(r->edges, e + 1);
    uint8_t res[7];
    result(r, res, 7);
    ck_assert_uint_eq(res[0], 0x00);
    check_ram_sector(r, BUF, 8);
    ck_assert_uint_eq(inb(r, 0x08) & 0x40, 0);
    rig_free(r);
}
END_TEST

START_TEST(configure_lock_dumpreg)
{
    struct rig *r = rig_new();
    uint8_t res[10];
    CMD(r, 0x10);
    ck_assert_uint_eq(result(r, res, 10), 1);
    ck_assert_uint_eq(res[0], 0x90);
    CMD(r, 0x03, 0xaf, 0x02);
    CMD(r, 0x13, 0x00, 0x57, 0x05);
    CMD(r, 0x12, 0x80 | 0x08 | 0x01); /* OW, drive 1 perpendicular, WGATE */
    seek(r, 0, 0, 12);
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    CMD(r, 0x46, 0x00, 12, 0, 1, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 10);
    CMD(r, 0x0e);
    ck_assert_uint_eq(result(r, res, 10), 10);
    const uint8_t want[10] = {12, 0, 0, 0, 0xaf, 0x02, 18, 0x08 | 0x01, 0x57, 0x05};
    ck_assert_mem_eq(res, want, 10);
    /* Unlocked, a reset restores the CONFIGURE defaults and drops WGATE. */
    outb(r, 0x3f4, 0x80);
    for (int i = 0; i < 4; i++) {
        CMD(r, 0x08);
        result(r, res, 10);
    }
    CMD(r, 0x0e);
    result(r, res, 10);
    ck_assert_uint_eq(res[4], 0xaf); /* SPECIFY kept */
    ck_assert_uint_eq(res[7], 0x08);
    ck_assert_uint_eq(res[8], 0x20);
    ck_assert_uint_eq(res[9], 0x00);
    /* Locked, CONFIGURE survives the reset. */
    CMD(r, 0x13, 0x00, 0x57, 0x05);
    CMD(r, 0x94);
    ck_assert_uint_eq(result(r, res, 10), 1);
    ck_assert_uint_eq(res[0], 0x10);
    outb(r, 0x3f4, 0x80);
    for (int i = 0; i < 4; i++) {
        CMD(r, 0x08);
        result(r, res, 10);
    }
    CMD(r, 0x0e);
    result(r, res, 10);
    ck_assert_uint_eq(res[7] & 0x80, 0x80);
    ck_assert_uint_eq(res[8], 0x57);
    ck_assert_uint_eq(res[9], 0x05);
    CMD(r, 0x14);
    result(r, res, 10);
    ck_assert_uint_eq(res[0], 0x00);
    /* EIS: an implied seek lets READ find cylinder 30 without SEEK. */
    CMD(r, 0x13, 0x00, 0x60, 0x00);
    dma_setup(r, DMA_MODE_WRITE, BUF, 512);
    CMD(r, 0x46, 0x00, 30, 0, 2, 2, 18, 0x1b, 0xff);
    wait_irq(r);
    result(r, res, 10);
    ck_assert_uint_eq(res[0], 0x00);
    check_ram_sector(r, BUF, lba_of(30, 0, 2, 18));
    /* Invalid opcodes. */
    CMD(r, 0x1f);
    ck_assert_uint_eq(result(r, res, 10), 1);
    ck_assert_uint_eq(res[0], 0x80);
    rig_free(r);
}
END_TEST

START_TEST(geometries)
{
    static const struct {
        uint64_t size;
        unsigned tracks, spt, cmos;
    } g[] = {{368640, 40, 9, 1}, {737280, 80, 9, 3}, {1228800, 80, 15, 2},
             {1474560, 80, 18, 4}, {2949120, 80, 36, 5}};
    for (unsigned k = 0; k < 5; k++) {
        struct rig *r = rig_new2(g[k].size, false, 0);
        ck_assert_uint_eq(fdc_cmos_types(&r->fdc), g[k].cmos << 4);
        unsigned c = g[k].tracks - 1;
        seek(r, 0, 1, c);
        dma_setup(r, DMA_MODE_WRITE, BUF, 512);
        CMD(r, 0x46, 0x04, (uint8_t)c, 1, (uint8_t)g[k].spt, 2, (uint8_t)g[k].spt, 0x1b, 0xff);
        wait_irq(r);
        uint8_t res[7];
        result(r, res, 7);
        ck_assert_uint_eq(res[0], 0x04);
        check_ram_sector(r, BUF, lba_of(c, 1, g[k].spt, g[k].spt));
        /* One past the last sector, and one past the last track. */
        CMD(r, 0x46, 0x04, (uint8_t)c, 1, (uint8_t)(g[k].spt + 1), 2, (uint8_t)(g[k].spt + 1),
            0x1b, 0xff);
        wait_irq(r);
        result(r, res, 7);
        ck_assert_uint_eq(res[1], 0x04);
        seek(r, 0, 0, c + 1);
        CMD(r, 0x46, 0x00, (uint8_t)(c + 1), 0, 1, 2, 9, 0x1b, 0xff);
        wait_irq(r);
        result(r, res, 7);
        ck_assert_uint_eq(res[1], 0x01);
        rig_free(r);
    }
    /* Two drives: both nibbles. */
    struct rig *r = rig_new2(1474560, false, 368640);
    ck_assert_uint_eq(fdc_cmos_types(&r->fdc), 0x41);
    ck_assert_uint_eq(inb(r, 0x3f0) & 0x40, 0); /* SRA: second drive installed */
    rig_free(r);
    r = rig_new2(0, false, 0);
    ck_assert_uint_eq(fdc_cmos_types(&r->fdc), 0x40);
    ck_assert_uint_eq(inb(r, 0x3f0) & 0x40, 0x40);
    rig_free(r);
}
END_TEST

START_TEST(unknown_size_rejected)
{
    struct bus bus;
    struct clock clock;
    struct mmu mmu;
    struct dma dma;
    static struct fdc fdc;
    char err[300];
    bus_init(&bus, NULL);
    clock_init(&clock, true, 0);
    ck_assert_int_eq(mmu_init(&mmu, RAM), 0);
    ck_assert_int_eq(dma_init(&dma, &bus, &mmu, NULL, err, sizeof err), 0);
    struct memdisk *m = memdisk_new(1000000, false);
    struct block_backend *media[2] = {NULL, &m->be};
    ck_assert_int_eq(fdc_init(&fdc, &bus, &clock, (struct irq_line){0}, &dma, 2, media, NULL, err,
                              sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "floppy B"));
    ck_assert_ptr_nonnull(strstr(err, "1000000"));
    ck_assert_ptr_null(fdc_geometry_for_size(1474560 + 512));
    ck_assert_ptr_nonnull(fdc_geometry_for_size(1474560));
    free(m->data);
    free(m);
    mmu_destroy(&mmu);
}
END_TEST

START_TEST(save_load)
{
    struct rig *r = rig_new();
    seek(r, 0, 0, 9);
    CMD(r, 0x13, 0x00, 0x4a, 0x03);
    CMD(r, 0x0f, 0x00, 20); /* a seek in flight */
    struct state_buf s;
    state_init(&s);
    fdc_save(&r->fdc, &s);
    dma_save(&r->dma, &s);
    struct rig *r2 = rig_new();
    ck_assert_int_eq(fdc_load(&r2->fdc, &s), 0);
    ck_assert_int_eq(dma_load(&r2->dma, &s), 0);
    state_free(&s);
    ck_assert_uint_eq(inb(r2, 0x3f4), 0x81);
    wait_irq(r2);
    uint8_t res[10];
    CMD(r2, 0x08);
    result(r2, res, 10);
    ck_assert_uint_eq(res[0], 0x20);
    ck_assert_uint_eq(res[1], 20);
    CMD(r2, 0x0e);
    result(r2, res, 10);
    ck_assert_uint_eq(res[8], 0x4a);
    ck_assert_uint_eq(res[9], 0x03);
    rig_free(r);
    rig_free(r2);
}
END_TEST

START_TEST(fuzz)
{
    struct rig *r = rig_new2(1474560, false, 737280);
    srand(4321);
    static const uint16_t ports[] = {0x3f0, 0x3f1, 0x3f2, 0x3f3, 0x3f4, 0x3f5, 0x3f5, 0x3f5,
                                     0x3f5, 0x3f7, 0x00,  0x04,  0x05,  0x08,  0x0a,  0x0b,
                                     0x0c,  0x0d,  0x0e,  0x0f,  0x81};
    for (int i = 0; i < 300000; i++) {
        uint16_t p = ports[rand() % (int)(sizeof ports / sizeof ports[0])];
        uint8_t v = (uint8_t)rand();
        if (p == 0x3f2 && (rand() & 3))
            v |= 0x0c; /* mostly out of reset */
        if (p == 0x3f4 && (rand() & 7))
            v &= 0x7f;
        if (rand() & 1)
            outb(r, p, v);
        else
            (void)inb(r, p);
        if (i % 53 == 0)
            run_for(r, (uint64_t)(rand() % 400000));
        uint8_t msr = inb(r, 0x3f4);
        ck_assert((msr & 0x80) || !(msr & 0x40) || (msr & 0x10) || msr == 0);
    }
    /* Still a working controller afterwards. */
    outb(r, 0x3f2, 0x08);
    outb(r, 0x3f2, 0x0c);
    uint8_t res[10];
    for (int i = 0; i < 4; i++) {
        CMD(r, 0x08);
        result(r, res, 10);
    }
    CMD(r, 0x03, 0xaf, 0x02);
    CMD(r, 0x10);
    result(r, res, 10);
    ck_assert_uint_eq(res[0], 0x90);
    rig_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fdc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, read_sector_dma);
    tcase_add_test(tc, read_after_seek_head1);
    tcase_add_test(tc, multitrack_read);
    tcase_add_test(tc, end_of_cylinder);
    tcase_add_test(tc, write_sector_dma);
    tcase_add_test(tc, write_protect_and_no_disk);
    tcase_add_test(tc, data_rate);
    tcase_add_test(tc, sector_not_found);
    tcase_add_test(tc, reset_sense_seek_recal);
    tcase_add_test(tc, disk_change_line);
    tcase_add_test(tc, format_track);
    tcase_add_test(tc, pio_read_write);
    tcase_add_test(tc, pio_format_and_dma_edge_cases);
    tcase_add_test(tc, dma_unmasked_late);
    tcase_add_test(tc, configure_lock_dumpreg);
    tcase_add_test(tc, geometries);
    tcase_add_test(tc, unknown_size_rejected);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
