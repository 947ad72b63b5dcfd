/*
 * fdc.c — Intel 82077AA floppy disk controller (82077AA datasheet, 1994;
 * command set and status bytes as in its sections 5 and 8) in PC/AT mode,
 * with the PS/2 status registers A and B readable as well.  Registers at
 * 0x3f0 + n: SRA, SRB, DOR, TDR, MSR (read) / DSR (write), FIFO, and 0x3f7:
 * DIR (read, disk change in bit 7) / CCR (write).  Commands: READ DATA,
 * WRITE DATA, READ ID, FORMAT TRACK, RECALIBRATE, SEEK (and relative seek),
 * SENSE INTERRUPT STATUS, SENSE DRIVE STATUS, SPECIFY, CONFIGURE, VERSION,
 * DUMPREG, PERPENDICULAR MODE, LOCK; anything else is an invalid command
 * (ST0 = 0x80).  Data moves by DMA, or through the FIFO byte by byte in
 * non-DMA mode (SPECIFY's ND bit), where INT is pulsed for every byte.
 *
 * Design choices:
 *  - The media are flat images of a standard MFM format: 512-byte sectors
 *    numbered 1..spt on every track of both sides, each ID carrying the
 *    physical cylinder and head.  A command looks its sector up against
 *    those IDs, so a wrong C/H/N or R is "sector not found" exactly as on a
 *    disk, and a FORMAT TRACK can only rewrite the standard layout (other
 *    IDs are logged under -d unimp and left out).
 *  - Time is compressed: a data command starts FDC_EXEC_NS after its last
 *    command byte and a seek takes FDC_SEEK_NS plus FDC_STEP_NS per track,
 *    much faster than a real drive.  A DMA command moves all its sectors at
 *    once, ending at the channel's terminal count, or with "end of
 *    cylinder" (ST1 EN, reporting the last sector's ID) when the last
 *    sector (EOT, on the last head the command may use) passes without
 *    one, as the datasheet says — which is also how a non-DMA transfer
 *    ends, since nothing drives TC then.  In non-DMA mode each sector's
 *    bytes are offered as a burst, FDC_GAP_NS after the previous sector.
 *  - The disk-change line follows the drive: set when a disk is inserted
 *    (power-on counts) and cleared only by a step pulse with a disk in, so
 *    a seek to the cylinder the head is already on does not clear it.
 *  - Power-on leaves the controller as a BIOS would (DOR 0x0c, nothing
 *    owed; data rate 250 kb/s), so a kernel booted without firmware finds
 *    it usable; a guest reset (DOR bit 2 or DSR bit 7) owes the four SENSE
 *    INTERRUPT STATUS of the datasheet's drive polling, until another
 *    interrupt cause replaces them (as QEMU and Bochs do too).
 *  - No disk (or a track beyond the medium, FM mode, or a data rate the
 *    medium was not recorded at) gives "missing address mark" (ST1 MA),
 *    where a real drive would find no index pulse.  Checking the rate is
 *    what lets a driver's format probing (Linux's autodetection, the BIOS's
 *    media sense) tell a 2.88 MB disk from a 1.44 MB one.  FORMAT TRACK
 *    does not check it: the image keeps its size whatever the guest does.
 *  - In non-DMA mode the disk does not wait: a byte the host leaves alone
 *    for FDC_OVERRUN_NS ends the command with an overrun (ST1 OR), which is
 *    how pseudo-DMA drivers (Linux's floppy=nodma) stop a multi-track
 *    command after the sectors they wanted.
 */
#include "devices/fdc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define FDC_EXEC_NS 100000u /* command to execution */
/* Non-DMA: how long a data byte waits for the host before the FDC gives up
 * with an overrun (a real drive allows one byte time, 16 us at 500 kb/s;
 * this leaves room for the host's scheduling while emulating). */
#define FDC_OVERRUN_NS 10000000u
#define FDC_GAP_NS 100000u /* non-DMA: from one sector's last byte to the next's first */
#define FDC_SEEK_NS 100000u
#define FDC_STEP_NS 20000u
#define FDC_MAX_CYL 255

/* MSR */
#define MSR_RQM 0x80
#define MSR_DIO 0x40 /* FDC to CPU */
#define MSR_NDMA 0x20
#define MSR_CB 0x10
/* DOR */
#define DOR_SEL 0x03
#define DOR_NRESET 0x04
#define DOR_DMAEN 0x08
/* ST0 */
#define ST0_ABNORMAL 0x40
#define ST0_INVALID 0x80
#define ST0_READY_CHANGE 0xc0
#define ST0_SE 0x20
#define ST0_EC 0x10
/* ST1 */
#define ST1_EN 0x80
#define ST1_DE 0x20
#define ST1_OR 0x10
#define ST1_ND 0x04
#define ST1_NW 0x02
#define ST1_MA 0x01
/* ST2 */
#define ST2_DD 0x20
#define ST2_WC 0x10
#define ST2_BC 0x02
/* ST3 */
#define ST3_WP 0x40
#define ST3_RDY 0x20
#define ST3_T0 0x10
#define ST3_TS 0x08
/* CONFIGURE */
#define CFG_EIS 0x40
#define CFG_DEFAULT 0x20 /* FIFO disabled, polling on, threshold 1 */

enum {
    OP_READ = 0x06,
    OP_WRITE = 0x05,
    OP_READ_ID = 0x0a,
    OP_FORMAT = 0x0d,
    OP_RECAL = 0x07,
    OP_SEEK = 0x0f,
    OP_SENSE_INT = 0x08,
    OP_SENSE_DRIVE = 0x04,
    OP_SPECIFY = 0x03,
    OP_CONFIGURE = 0x13,
    OP_VERSION = 0x10,
    OP_DUMPREG = 0x0e,
    OP_PERPENDICULAR = 0x12,
    OP_LOCK = 0x14,
};

/* Data rates (CCR/DSR bits 1-0): 0 = 500 kb/s, 1 = 300, 2 = 250, 3 = 1 Mb/s.
 * A 360 KB disk reads at 250 kb/s in its own drive, 300 in a 1.2 MB one. */
#define RATE(r) (1u << (r))
static const struct fdc_geometry geometries[] = {
    {"360 KB", 40, 2, 9, 1, RATE(2) | RATE(1)}, {"720 KB", 80, 2, 9, 3, RATE(2)},
    {"1.2 MB", 80, 2, 15, 2, RATE(0)},          {"1.44 MB", 80, 2, 18, 4, RATE(0)},
    {"2.88 MB", 80, 2, 36, 5, RATE(3)},
};

/* At another data rate the controller cannot decode a single address mark. */
static bool rate_ok(const struct fdc *f, const struct fdc_geometry *g)
{
    if (g->rates & RATE(f->ccr & 3))
        return true;
    dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: data rate %u does not suit the %s disk\n",
            f->ccr & 3, g->name);
    return false;
}

const struct fdc_geometry *fdc_geometry_for_size(uint64_t size)
{
    for (size_t i = 0; i < sizeof geometries / sizeof geometries[0]; i++) {
        const struct fdc_geometry *g = &geometries[i];
        if (size == (uint64_t)g->tracks * g->heads * g->spt * FDC_SECTOR_SIZE)
            return g;
    }
    return NULL;
}

const char *fdc_supported_sizes(void)
{
    return "360 KB (368640 bytes), 720 KB (737280), 1.2 MB (1228800), 1.44 MB (1474560), "
           "2.88 MB (2949120)";
}

uint8_t fdc_cmos_types(const struct fdc *f)
{
    uint8_t t[2];
    for (int i = 0; i < 2; i++) {
        const struct fdc_drive *d = &f->drv[i];
        t[i] = !d->present ? 0 : d->geo ? d->geo->cmos_type : 4; /* an empty drive: 1.44 MB */
    }
    return (uint8_t)(t[0] << 4 | t[1]);
}

/* --- interrupt --- */

static void irq_update(struct fdc *f)
{
    irq_set(&f->irq, f->int_line && (f->dor & DOR_DMAEN));
}

static void int_raise(struct fdc *f)
{
    /* A new interrupt cause drops the reset's owed senses: a BIOS that
     * senses once after a reset (SeaBIOS) then sees its recalibrate's. */
    f->reset_sense = 0;
    /* A new edge for the edge-triggered PIC even if INT was already up. */
    if (f->int_line) {
        f->int_line = false;
        irq_update(f);
    }
    f->int_line = true;
    irq_update(f);
}

static void int_lower(struct fdc *f)
{
    f->int_line = false;
    irq_update(f);
}

/* --- phases --- */

static void to_command_phase(struct fdc *f)
{
    f->phase = FDC_PHASE_COMMAND;
    f->cmd_pos = f->cmd_len = 0;
    f->res_pos = f->res_len = 0;
}

static void to_result_phase(struct fdc *f, const uint8_t *res, unsigned n)
{
    memcpy(f->res, res, n);
    f->res_len = (uint8_t)n;
    f->res_pos = 0;
    f->phase = FDC_PHASE_RESULT;
}

static struct fdc_drive *x_drive(struct fdc *f) { return &f->drv[f->x_drive]; }

/* End a data command: result bytes ST0-ST2, C, H, R, N and an interrupt. */
static void x_finish(struct fdc *f, uint8_t st0, uint8_t st1, uint8_t st2)
{
    clock_timer_cancel(&f->overrun_timer);
    clock_timer_cancel(&f->gap_timer);
    if (f->x_waiting_dma) {
        f->x_waiting_dma = false;
        dma_set_dreq(f->dma, f->dma_ch, false);
    }
    uint8_t res[7] = {(uint8_t)(st0 | f->x_phead << 2 | f->x_drive), st1, st2, f->x_c, f->x_h,
                      f->x_r, f->x_n};
    to_result_phase(f, res, 7);
    int_raise(f);
}

static void x_fail(struct fdc *f, uint8_t st1, uint8_t st2)
{
    x_finish(f, ST0_ABNORMAL, st1, st2);
}

/* Find sector (x_c, x_h, x_r, x_n) under the selected head of the current
 * track: its byte offset in the image, or -1 after setting the status bytes. */
static int64_t x_locate(struct fdc *f, uint8_t *st1, uint8_t *st2)
{
    struct fdc_drive *d = x_drive(f);
    const struct fdc_geometry *g = d->geo;
    *st1 = *st2 = 0;
    if (!d->present || !d->blk || !g || d->cyl >= g->tracks || f->x_phead >= g->heads ||
        !rate_ok(f, g)) {
        *st1 = ST1_MA;
        return -1;
    }
    if (f->x_c != d->cyl) {
        *st1 = ST1_ND;
        *st2 = f->x_c == 0xff ? ST2_BC : ST2_WC;
        return -1;
    }
    if (f->x_h != f->x_phead || f->x_n != 2 || f->x_r < 1 || f->x_r > g->spt) {
        *st1 = ST1_ND;
        return -1;
    }
    d->sect = f->x_r;
    return (((int64_t)d->cyl * g->heads + f->x_phead) * g->spt + (f->x_r - 1)) * FDC_SECTOR_SIZE;
}

/* The sector just transferred was the command's last: EOT on the last head
 * it may use.  Without TC the command then ends with "end of cylinder",
 * reporting that sector's ID (what pseudo-DMA drivers count on: Linux adds
 * one sector for ST1 EN). */
static bool x_is_last(const struct fdc *f)
{
    return f->x_r == f->x_eot && (!f->x_mt || f->x_phead == 1);
}

/* Step the sought ID past the sector just transferred (the datasheet's
 * result-phase table for a normal end).  False past the last sector. */
static bool x_advance(struct fdc *f)
{
    if (f->x_r != f->x_eot) {
        f->x_r++;
        return true;
    }
    f->x_r = 1;
    if (f->x_mt) {
        f->x_h ^= 1;
        if (f->x_phead == 0) {
            f->x_phead = 1;
            return true;
        }
    }
    f->x_c++;
    return false;
}

static void x_step_to(struct fdc *f, struct fdc_drive *d, uint8_t cyl)
{
    (void)f;
    if (cyl != d->cyl && d->blk)
        d->changed = false; /* a step pulse with a disk in */
    d->cyl = cyl;
}

/* The data commands' common checks before any data moves. */
static bool x_check_start(struct fdc *f)
{
    struct fdc_drive *d = x_drive(f);
    if ((f->x_op == OP_WRITE || f->x_op == OP_FORMAT) && d->present && d->blk &&
        d->blk->read_only) {
        x_fail(f, ST1_NW, 0);
        return false;
    }
    return true;
}

static void sector_io_error(struct fdc *f, bool write, int r)
{
    dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: drive %u: host %s error at C%u H%u R%u: %s\n",
            f->x_drive, write ? "write" : "read", f->x_c, f->x_h, f->x_r, strerror(-r));
    if (write && r == -EROFS)
        x_fail(f, ST1_NW, 0);
    else
        x_fail(f, ST1_DE, write ? 0 : ST2_DD);
}

/* FORMAT TRACK: write the sectors whose IDs (4 bytes each in buf) are the
 * standard layout of this track, filled with the command's D byte. */
static void x_format_ids(struct fdc *f, unsigned nids)
{
    struct fdc_drive *d = x_drive(f);
    const struct fdc_geometry *g = d->geo;
    uint8_t fill[FDC_SECTOR_SIZE];
    memset(fill, f->cmd[5], sizeof fill);
    for (unsigned i = 0; i < nids; i++) {
        const uint8_t *id = &f->buf[i * 4];
        if (id[0] != d->cyl || id[1] != f->x_phead || id[2] < 1 || id[2] > g->spt ||
            id[3] != 2) {
            dev_log(f->log, DEV_LOG_UNIMP,
                    "fdc: drive %u: non-standard sector ID C%u H%u R%u N%u on track %u/%u not "
                    "formatted\n",
                    f->x_drive, id[0], id[1], id[2], id[3], d->cyl, f->x_phead);
            continue;
        }
        uint64_t off = (((uint64_t)d->cyl * g->heads + f->x_phead) * g->spt + (id[2] - 1)) *
                       FDC_SECTOR_SIZE;
        int r = d->blk->write(d->blk->opaque, off, fill, sizeof fill);
        if (r) {
            sector_io_error(f, true, r);
            return;
        }
        f->x_c = id[0], f->x_h = id[1], f->x_r = id[2], f->x_n = id[3];
    }
    x_finish(f, 0, 0, 0);
}

static bool format_check(struct fdc *f)
{
    struct fdc_drive *d = x_drive(f);
    if (!d->present || !d->blk || !d->geo || !(f->cmd[0] & 0x40)) {
        x_fail(f, ST1_MA, 0);
        return false;
    }
    if (d->cyl >= d->geo->tracks || f->x_phead >= d->geo->heads) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS,
                "fdc: drive %u: FORMAT TRACK of track %u/%u, outside the %s image\n", f->x_drive,
                d->cyl, f->x_phead, d->geo->name);
        x_fail(f, ST1_ND, 0);
        return false;
    }
    return true;
}

/* Run a DMA data command to its end. */
static void x_run_dma(struct fdc *f)
{
    struct fdc_drive *d = x_drive(f);
    if (f->x_waiting_dma) {
        f->x_waiting_dma = false;
        dma_set_dreq(f->dma, f->dma_ch, false);
    }
    if (f->x_op == OP_FORMAT) {
        unsigned want = f->cmd[3] * 4u;
        bool tc;
        size_t got = dma_transfer(f->dma, f->dma_ch, f->buf, want, false, &tc);
        x_format_ids(f, (unsigned)(got / 4));
        return;
    }
    bool write = f->x_op == OP_WRITE;
    for (;;) {
        uint8_t st1, st2;
        int64_t off = x_locate(f, &st1, &st2);
        if (off < 0) {
            x_fail(f, st1, st2);
            return;
        }
        bool tc = false;
        int r;
        if (write) {
            size_t got = dma_transfer(f->dma, f->dma_ch, f->buf, FDC_SECTOR_SIZE, false, &tc);
            memset(f->buf + got, 0, FDC_SECTOR_SIZE - got); /* TC mid-sector: zero fill */
            r = d->blk->write(d->blk->opaque, (uint64_t)off, f->buf, FDC_SECTOR_SIZE);
        } else {
            r = d->blk->read(d->blk->opaque, (uint64_t)off, f->buf, FDC_SECTOR_SIZE);
            if (r == 0)
                dma_transfer(f->dma, f->dma_ch, f->buf, FDC_SECTOR_SIZE, true, &tc);
        }
        if (r) {
            sector_io_error(f, write, r);
            return;
        }
        if (tc) {
            x_advance(f);
            x_finish(f, 0, 0, 0);
            return;
        }
        if (x_is_last(f)) {
            x_finish(f, ST0_ABNORMAL, ST1_EN, 0);
            return;
        }
        x_advance(f);
    }
}

/* Non-DMA: a data byte is wanted or waiting (RQM): INT, and the overrun
 * clock starts. */
static void pio_offer(struct fdc *f)
{
    clock_timer_arm(&f->overrun_timer, clock_now_ns(f->clock) + FDC_OVERRUN_NS);
    int_raise(f);
}

static void pio_overrun(void *opaque)
{
    struct fdc *f = opaque;
    if (f->phase == FDC_PHASE_EXEC && !f->x_dma && f->buf_pos < f->buf_len)
        x_fail(f, ST1_OR, 0);
}

/* Non-DMA: put the next sector of a READ into buf, or end the command. */
static void pio_load_sector(struct fdc *f)
{
    struct fdc_drive *d = x_drive(f);
    uint8_t st1, st2;
    int64_t off = x_locate(f, &st1, &st2);
    if (off < 0) {
        x_fail(f, st1, st2);
        return;
    }
    if (f->x_op == OP_READ) {
        int r = d->blk->read(d->blk->opaque, (uint64_t)off, f->buf, FDC_SECTOR_SIZE);
        if (r) {
            sector_io_error(f, false, r);
            return;
        }
    }
    f->buf_pos = 0;
    f->buf_len = FDC_SECTOR_SIZE;
    pio_offer(f);
}

static void dma_ready(void *opaque)
{
    struct fdc *f = opaque;
    if (f->phase == FDC_PHASE_EXEC && f->x_waiting_dma && (f->dor & DOR_DMAEN) &&
        dma_channel_ready(f->dma, f->dma_ch))
        x_run_dma(f);
}

/* The execution phase begins (exec_timer). */
static void exec_start(void *opaque)
{
    struct fdc *f = opaque;
    if (f->phase != FDC_PHASE_EXEC)
        return;
    struct fdc_drive *d = x_drive(f);
    if (f->x_op == OP_READ_ID) {
        const struct fdc_geometry *g = d->geo;
        if (!d->present || !d->blk || !g || d->cyl >= g->tracks || f->x_phead >= g->heads ||
            !(f->cmd[0] & 0x40) || !rate_ok(f, g)) {
            x_fail(f, ST1_MA, 0);
            return;
        }
        d->sect = (uint8_t)(d->sect % g->spt + 1); /* the next ID to pass the head */
        f->x_c = d->cyl, f->x_h = f->x_phead, f->x_r = d->sect, f->x_n = 2;
        x_finish(f, 0, 0, 0);
        return;
    }
    if (!x_check_start(f))
        return;
    if (f->x_op == OP_FORMAT && !format_check(f))
        return;
    if (f->x_op != OP_FORMAT && !(f->cmd[0] & 0x40)) { /* FM: no MFM address marks */
        x_fail(f, ST1_MA, 0);
        return;
    }
    if (f->x_dma) {
        /* The ID is searched for before DRQ goes up: a missing sector
         * fails even with the channel masked. */
        uint8_t st1, st2;
        if (f->x_op != OP_FORMAT && x_locate(f, &st1, &st2) < 0) {
            x_fail(f, st1, st2);
            return;
        }
        f->x_waiting_dma = true;
        dma_set_dreq(f->dma, f->dma_ch, true);
        dma_ready(f); /* at once if the channel can serve it; else when it can */
        return;
    }
    if (f->x_op == OP_FORMAT) {
        f->buf_pos = 0;
        f->buf_len = (uint16_t)(f->cmd[3] * 4u);
        if (f->buf_len == 0) {
            x_format_ids(f, 0);
            return;
        }
        pio_offer(f);
        return;
    }
    pio_load_sector(f);
}

/* Non-DMA: the host has moved a whole sector.  The next one (or the end of
 * the command) comes after the gap between sectors, so a host reading in
 * a loop sees RQM drop and takes one interrupt per sector, not a pending
 * one left over after the result phase began. */
static void pio_sector_done(struct fdc *f)
{
    clock_timer_cancel(&f->overrun_timer);
    clock_timer_arm(&f->gap_timer, clock_now_ns(f->clock) + FDC_GAP_NS);
}

static void pio_next_sector(void *opaque)
{
    struct fdc *f = opaque;
    if (f->phase != FDC_PHASE_EXEC || f->x_dma || f->buf_pos < f->buf_len)
        return;
    if (x_is_last(f)) {
        x_finish(f, ST0_ABNORMAL, ST1_EN, 0);
        return;
    }
    x_advance(f);
    pio_load_sector(f);
}

static uint8_t pio_read(struct fdc *f)
{
    if (f->x_op != OP_READ || f->buf_pos >= f->buf_len) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO read with no data in the execution phase\n");
        return 0xff;
    }
    uint8_t v = f->buf[f->buf_pos++];
    int_lower(f);
    if (f->buf_pos == f->buf_len)
        pio_sector_done(f);
    else
        pio_offer(f);
    return v;
}

static void pio_write(struct fdc *f, uint8_t v)
{
    if (f->x_op == OP_READ || f->buf_pos >= f->buf_len) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO write while the FDC sends data\n");
        return;
    }
    f->buf[f->buf_pos++] = v;
    int_lower(f);
    if (f->buf_pos < f->buf_len) {
        pio_offer(f);
        return;
    }
    if (f->x_op == OP_FORMAT) {
        x_format_ids(f, f->buf_len / 4u);
        return;
    }
    struct fdc_drive *d = x_drive(f);
    uint8_t st1, st2;
    int64_t off = x_locate(f, &st1, &st2);
    if (off < 0) {
        x_fail(f, st1, st2);
        return;
    }
    int r = d->blk->write(d->blk->opaque, (uint64_t)off, f->buf, FDC_SECTOR_SIZE);
    if (r) {
        sector_io_error(f, true, r);
        return;
    }
    pio_sector_done(f);
}

/* --- seeks --- */

static uint64_t seek_ns(unsigned steps) { return FDC_SEEK_NS + (uint64_t)steps * FDC_STEP_NS; }

static void seek_complete(struct fdc *f, unsigned i)
{
    struct fdc_drive *d = &f->drv[i];
    if (!d->seeking)
        return;
    d->seeking = false;
    /* The datasheet: after a seek "the H bit in ST0 will always return 0". */
    uint8_t st0 = (uint8_t)(ST0_SE | i);
    if (d->seek_recal && !d->present)
        st0 |= ST0_ABNORMAL | ST0_EC; /* no drive: track 0 never seen */
    else
        x_step_to(f, d, d->seek_target);
    d->int_pending = true;
    d->int_st0 = st0;
    int_raise(f);
}

#define SEEK_CB(n)                                                                             \
    static void seek_cb##n(void *opaque) { seek_complete(opaque, n); }
SEEK_CB(0)
SEEK_CB(1)
SEEK_CB(2)
SEEK_CB(3)
static void (*const seek_cbs[FDC_DRIVES])(void *) = {seek_cb0, seek_cb1, seek_cb2, seek_cb3};

static void seek_start(struct fdc *f, unsigned i, uint8_t head, unsigned target, bool recal)
{
    struct fdc_drive *d = &f->drv[i];
    d->head = head;
    d->seek_target = (uint8_t)(target > FDC_MAX_CYL ? FDC_MAX_CYL : target);
    d->seek_recal = recal;
    d->seeking = true;
    d->int_pending = false;
    unsigned steps = d->cyl > d->seek_target ? d->cyl - d->seek_target : d->seek_target - d->cyl;
    clock_timer_arm(&d->seek_timer, clock_now_ns(f->clock) + seek_ns(steps));
}

/* --- commands --- */

static unsigned cmd_length(uint8_t b)
{
    if ((b & 0x1f) == OP_READ || (b & 0x3f) == OP_WRITE)
        return 9;
    if ((b & 0xbf) == OP_READ_ID)
        return 2;
    if ((b & 0xbf) == OP_FORMAT)
        return 6;
    if (b == OP_SEEK || (b & 0xbf) == 0x8f)
        return 3;
    if ((b & 0x7f) == OP_LOCK)
        return 1;
    switch (b) {
    case OP_RECAL:
    case OP_SENSE_DRIVE:
    case OP_PERPENDICULAR:
        return 2;
    case OP_SPECIFY:
        return 3;
    case OP_CONFIGURE:
        return 4;
    case OP_SENSE_INT:
    case OP_VERSION:
    case OP_DUMPREG:
        return 1;
    }
    return 0; /* invalid */
}

static void cmd_sense_int(struct fdc *f)
{
    if (f->reset_sense) {
        unsigned i = FDC_DRIVES - f->reset_sense--;
        uint8_t res[2] = {(uint8_t)(ST0_READY_CHANGE | i), f->drv[i].cyl};
        to_result_phase(f, res, 2);
        int_lower(f);
        return;
    }
    for (unsigned i = 0; i < FDC_DRIVES; i++) {
        struct fdc_drive *d = &f->drv[i];
        if (!d->int_pending)
            continue;
        d->int_pending = false;
        uint8_t res[2] = {d->int_st0, d->cyl};
        to_result_phase(f, res, 2);
        int_lower(f);
        for (unsigned j = 0; j < FDC_DRIVES; j++)
            if (f->drv[j].int_pending)
                int_raise(f); /* another drive's seek ended too */
        return;
    }
    uint8_t res = ST0_INVALID;
    to_result_phase(f, &res, 1);
}

static void cmd_data(struct fdc *f)
{
    const uint8_t *c = f->cmd;
    f->x_drive = c[1] & 3;
    f->x_phead = (c[1] >> 2) & 1;
    f->x_mt = false;
    struct fdc_drive *d = x_drive(f);
    d->head = f->x_phead;
    if ((c[0] & 0x1f) == OP_READ || (c[0] & 0x1f) == OP_WRITE) {
        f->x_op = c[0] & 0x1f;
        f->x_mt = c[0] & 0x80;
        f->x_c = c[2], f->x_h = c[3], f->x_r = c[4], f->x_n = c[5], f->x_eot = c[6];
        f->last_eot = c[6];
        if ((f->config & CFG_EIS) && d->present && c[2] != d->cyl)
            x_step_to(f, d, c[2]); /* implied seek */
    } else if ((c[0] & 0x1f) == OP_READ_ID) {
        f->x_op = OP_READ_ID;
    } else {
        f->x_op = OP_FORMAT;
        f->x_c = d->cyl, f->x_h = f->x_phead, f->x_r = 1, f->x_n = c[2];
    }
    f->x_dma = !(f->hlt_nd & 1);
    f->x_waiting_dma = false;
    f->buf_pos = f->buf_len = 0;
    f->phase = FDC_PHASE_EXEC;
    clock_timer_arm(&f->exec_timer, clock_now_ns(f->clock) + FDC_EXEC_NS);
}

static void cmd_execute(struct fdc *f)
{
    const uint8_t *c = f->cmd;
    uint8_t b = c[0];
    if ((b & 0x1f) == OP_READ || (b & 0x3f) == OP_WRITE || (b & 0xbf) == OP_READ_ID ||
        (b & 0xbf) == OP_FORMAT) {
        cmd_data(f);
        return;
    }
    if (b == OP_SEEK || (b & 0xbf) == 0x8f) {
        unsigned i = c[1] & 3, target = c[2];
        if (b & 0x80) { /* relative: c[2] steps, in (up) if DIR */
            int t = f->drv[i].cyl + ((b & 0x40) ? c[2] : -(int)c[2]);
            target = t < 0 ? 0 : (unsigned)t;
        }
        seek_start(f, i, (c[1] >> 2) & 1, target, false);
        to_command_phase(f);
        return;
    }
    if ((b & 0x7f) == OP_LOCK) {
        f->lock = b & 0x80;
        uint8_t res = (uint8_t)(f->lock << 4);
        to_result_phase(f, &res, 1);
        return;
    }
    switch (b) {
    case OP_RECAL:
        seek_start(f, c[1] & 3, 0, 0, true);
        to_command_phase(f);
        return;
    case OP_SENSE_INT:
        cmd_sense_int(f);
        return;
    case OP_SENSE_DRIVE: {
        struct fdc_drive *d = &f->drv[c[1] & 3];
        d->head = (c[1] >> 2) & 1;
        uint8_t st3 = (uint8_t)(ST3_RDY | ST3_TS | d->head << 2 | (c[1] & 3));
        if (!d->blk || d->blk->read_only)
            st3 |= ST3_WP; /* no disk: the write-protect sensor sees no tab */
        if (d->cyl == 0)
            st3 |= ST3_T0;
        to_result_phase(f, &st3, 1);
        return;
    }
    case OP_SPECIFY:
        f->srt_hut = c[1];
        f->hlt_nd = c[2];
        to_command_phase(f);
        return;
    case OP_CONFIGURE:
        f->config = c[2] & 0x7f;
        f->pretrk = c[3];
        to_command_phase(f);
        return;
    case OP_VERSION: {
        uint8_t res = FDC_VERSION_82077;
        to_result_phase(f, &res, 1);
        return;
    }
    case OP_DUMPREG: {
        uint8_t res[10] = {f->drv[0].cyl, f->drv[1].cyl, f->drv[2].cyl, f->drv[3].cyl,
                           f->srt_hut, f->hlt_nd, f->last_eot,
                           (uint8_t)(f->lock << 7 | (f->perp & 0x3f)), f->config, f->pretrk};
        to_result_phase(f, res, 10);
        return;
    }
    case OP_PERPENDICULAR:
        if (c[1] & 0x80) /* OW: the drive bits are written */
            f->perp = (uint8_t)((c[1] & 0x3c) | (c[1] & 3));
        else
            f->perp = (uint8_t)((f->perp & 0x3c) | (c[1] & 3));
        to_command_phase(f);
        return;
    }
}

static void fifo_write(struct fdc *f, uint8_t v)
{
    if (f->in_reset)
        return;
    if (f->phase == FDC_PHASE_EXEC) {
        if (f->x_dma || f->x_op == OP_READ_ID || f->buf_len == 0) {
            dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO write while a command executes\n");
            return;
        }
        pio_write(f, v);
        return;
    }
    if (f->phase == FDC_PHASE_RESULT) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO write in the result phase\n");
        return;
    }
    if (f->cmd_pos == 0) {
        unsigned n = cmd_length(v);
        if (n == 0) {
            dev_log(f->log, DEV_LOG_UNIMP, "fdc: invalid or unimplemented command 0x%02x\n", v);
            uint8_t res = ST0_INVALID;
            to_result_phase(f, &res, 1);
            return;
        }
        f->cmd_len = (uint8_t)n;
    }
    f->cmd[f->cmd_pos++] = v;
    if (f->cmd_pos == f->cmd_len)
        cmd_execute(f);
}

static uint8_t fifo_read(struct fdc *f)
{
    if (f->in_reset)
        return 0;
    if (f->phase == FDC_PHASE_EXEC) {
        if (f->x_dma || f->buf_len == 0) {
            dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO read while a command executes\n");
            return 0xff;
        }
        return pio_read(f);
    }
    if (f->phase != FDC_PHASE_RESULT) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: FIFO read with no result to give\n");
        return 0xff;
    }
    uint8_t v = f->res[f->res_pos++];
    if (f->res_pos == 1)
        int_lower(f); /* reading the result clears a data command's interrupt */
    if (f->res_pos == f->res_len)
        to_command_phase(f);
    return v;
}

static uint8_t msr(struct fdc *f)
{
    if (f->in_reset)
        return 0;
    uint8_t v = 0;
    for (unsigned i = 0; i < FDC_DRIVES; i++)
        if (f->drv[i].seeking)
            v |= (uint8_t)(1u << i);
    switch (f->phase) {
    case FDC_PHASE_COMMAND:
        v |= MSR_RQM | (f->cmd_pos ? MSR_CB : 0);
        break;
    case FDC_PHASE_EXEC:
        v |= MSR_CB;
        if (!f->x_dma && f->buf_pos < f->buf_len)
            v |= MSR_RQM | MSR_NDMA | (f->x_op == OP_READ ? MSR_DIO : 0);
        else if (!f->x_dma && f->buf_len)
            v |= MSR_NDMA;
        break;
    case FDC_PHASE_RESULT:
        v |= MSR_RQM | MSR_DIO | MSR_CB;
        break;
    }
    return v;
}

/* --- reset --- */

static void soft_reset(struct fdc *f)
{
    clock_timer_cancel(&f->exec_timer);
    clock_timer_cancel(&f->overrun_timer);
    clock_timer_cancel(&f->gap_timer);
    if (f->x_waiting_dma)
        dma_set_dreq(f->dma, f->dma_ch, false);
    f->x_waiting_dma = false;
    for (unsigned i = 0; i < FDC_DRIVES; i++) {
        struct fdc_drive *d = &f->drv[i];
        clock_timer_cancel(&d->seek_timer);
        d->seeking = false;
        d->int_pending = false;
    }
    to_command_phase(f);
    f->buf_pos = f->buf_len = 0;
    f->reset_sense = 0;
    f->dsr = (uint8_t)(f->ccr & 3); /* default precompensation; the data rate stays */
    f->perp &= 0x3c; /* GAP and WGATE cleared, the drive bits kept */
    if (!f->lock) {
        f->config = CFG_DEFAULT;
        f->pretrk = 0;
    }
    int_lower(f);
}

/* Leaving reset: drive polling finds every drive's ready line changed. */
static void reset_release(struct fdc *f)
{
    int_raise(f);
    f->reset_sense = FDC_DRIVES;
}

static void dor_write(struct fdc *f, uint8_t v)
{
    uint8_t old = f->dor;
    f->dor = v;
    if (!(v & DOR_NRESET)) {
        if (!f->in_reset)
            soft_reset(f);
        f->in_reset = true;
    } else if (f->in_reset) {
        f->in_reset = false;
        reset_release(f);
    }
    irq_update(f);
    if ((v & DOR_DMAEN) && !(old & DOR_DMAEN))
        dma_ready(f); /* DRQ un-gated */
}

static uint8_t sra(struct fdc *f)
{
    struct fdc_drive *d = &f->drv[f->dor & DOR_SEL];
    uint8_t v = 0x04; /* /INDEX inactive */
    if (f->int_line)
        v |= 0x80;
    if (!f->drv[1].present)
        v |= 0x40; /* /DRV2 */
    if (d->cyl != 0)
        v |= 0x10; /* /TRK0 */
    if (d->head)
        v |= 0x08;
    if (!(d->blk && d->blk->read_only))
        v |= 0x02; /* /WP */
    return v;
}

static uint32_t fdc_port_read(void *opaque, uint16_t off, unsigned size)
{
    struct fdc *f = opaque;
    (void)size;
    switch (off) {
    case 0:
        return sra(f);
    case 1:
        return 0xc0 | (f->dor & 1) << 5 | (f->dor >> 4 & 3);
    case 2:
        return f->dor;
    case 3:
        return f->tdr & 3;
    case 4:
        return msr(f);
    case 5:
        return fifo_read(f);
    }
    return 0xff;
}

static void fdc_port_write(void *opaque, uint16_t off, uint32_t value, unsigned size)
{
    struct fdc *f = opaque;
    uint8_t v = (uint8_t)value;
    (void)size;
    switch (off) {
    case 2:
        dor_write(f, v);
        break;
    case 3:
        f->tdr = v & 3;
        break;
    case 4:
        if (v & 0x80) { /* software reset, self-clearing */
            soft_reset(f);
            reset_release(f);
        }
        if (v & 0x40)
            dev_log(f->log, DEV_LOG_UNIMP, "fdc: DSR power down\n");
        f->dsr = v & 0x1f;
        f->ccr = v & 3;
        break;
    case 5:
        fifo_write(f, v);
        break;
    default:
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fdc: write 0x%02x to read-only register %u\n", v,
                off);
    }
}

static uint32_t dir_read(void *opaque, uint16_t off, unsigned size)
{
    struct fdc *f = opaque;
    (void)off, (void)size;
    const struct fdc_drive *d = &f->drv[f->dor & DOR_SEL];
    /* PC/AT mode drives bit 7 only. */
    return d->present && d->changed ? 0x80 : 0x00;
}

static void ccr_write(void *opaque, uint16_t off, uint32_t value, unsigned size)
{
    struct fdc *f = opaque;
    (void)off, (void)size;
    f->ccr = value & 3;
    f->dsr = (uint8_t)((f->dsr & ~3u) | f->ccr);
}

/* --- life cycle --- */

int fdc_init(struct fdc *f, struct bus *bus, struct clock *clock, struct irq_line irq,
             struct dma *dma, unsigned dma_ch, struct block_backend *const media[2],
             const struct dev_log *log, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->clock = clock;
    f->irq = irq;
    f->dma = dma;
    f->dma_ch = dma_ch;
    f->log = log;
    for (unsigned i = 0; i < 2; i++) {
        struct block_backend *b = media ? media[i] : NULL;
        if (!b)
            continue;
        f->drv[i].geo = fdc_geometry_for_size(b->size);
        if (!f->drv[i].geo) {
            snprintf(err, errlen,
                     "floppy %c: an image of %llu bytes is not a floppy disk (supported: %s)",
                     'A' + i, (unsigned long long)b->size, fdc_supported_sizes());
            return -1;
        }
        f->drv[i].blk = b;
        f->drv[i].present = true;
    }
    f->drv[0].present = true;
    clock_timer_init(&f->exec_timer, clock, exec_start, f, "fdc");
    clock_timer_init(&f->overrun_timer, clock, pio_overrun, f, "fdc-overrun");
    clock_timer_init(&f->gap_timer, clock, pio_next_sector, f, "fdc-gap");
    for (unsigned i = 0; i < FDC_DRIVES; i++)
        clock_timer_init(&f->drv[i].seek_timer, clock, seek_cbs[i], f, "fdc-seek");
    dma_register_channel(dma, dma_ch, dma_ready, f);
    fdc_reset(f);
    if (bus_register(bus, 0x3f0, 6, BUS_W8, "fdc", fdc_port_read, fdc_port_write, f, err,
                     errlen) ||
        bus_register(bus, 0x3f7, 1, BUS_W8, "fdc-dir", dir_read, ccr_write, f, err, errlen))
        return -1;
    return 0;
}

void fdc_reset(struct fdc *f)
{
    f->lock = false;
    f->perp = 0;
    f->srt_hut = f->hlt_nd = 0;
    f->last_eot = 0;
    f->tdr = 0;
    f->ccr = 0x02;
    soft_reset(f);
    f->in_reset = false;
    f->dor = DOR_NRESET | DOR_DMAEN;
    for (unsigned i = 0; i < FDC_DRIVES; i++) {
        struct fdc_drive *d = &f->drv[i];
        d->cyl = 0;
        d->head = 0;
        d->sect = 0;
        d->changed = d->blk != NULL; /* the disk was put in at power-on */
    }
    irq_update(f);
}

#define FDC_FIELDS(X)                                                                          \
    X(dor) X(tdr) X(dsr) X(ccr) X(in_reset) X(phase) X(cmd) X(cmd_len) X(cmd_pos) X(res)     \
    X(res_len) X(res_pos) X(x_op) X(x_drive) X(x_phead) X(x_c) X(x_h) X(x_r) X(x_n) X(x_eot) \
    X(x_mt) X(x_dma) X(x_waiting_dma) X(buf_pos) X(buf_len) X(buf) X(reset_sense) X(int_line) \
    X(srt_hut) X(hlt_nd) X(config) X(pretrk) X(perp) X(lock) X(last_eot)
#define FDC_DRIVE_FIELDS(X)                                                                    \
    X(cyl) X(head) X(sect) X(changed) X(seeking) X(seek_target) X(seek_recal) X(int_pending)  \
    X(int_st0)

void fdc_save(struct fdc *f, struct state_buf *s)
{
    uint32_t version = 1;
    char name[48];
    state_put(s, "fdc.version", &version, sizeof version);
#define X(fl) state_put(s, "fdc." #fl, &f->fl, sizeof f->fl);
    FDC_FIELDS(X)
#undef X
    uint64_t exec = f->exec_timer.armed ? f->exec_timer.deadline : CLOCK_NEVER;
    state_put(s, "fdc.exec_deadline", &exec, sizeof exec);
    uint64_t over = f->overrun_timer.armed ? f->overrun_timer.deadline : CLOCK_NEVER;
    state_put(s, "fdc.overrun_deadline", &over, sizeof over);
    uint64_t gap = f->gap_timer.armed ? f->gap_timer.deadline : CLOCK_NEVER;
    state_put(s, "fdc.gap_deadline", &gap, sizeof gap);
    for (unsigned i = 0; i < FDC_DRIVES; i++) {
        struct fdc_drive *d = &f->drv[i];
#define X(fl)                                                                                  \
    snprintf(name, sizeof name, "fdc.drv%u." #fl, i);                                        \
    state_put(s, name, &d->fl, sizeof d->fl);
        FDC_DRIVE_FIELDS(X)
#undef X
        uint64_t seek = d->seek_timer.armed ? d->seek_timer.deadline : CLOCK_NEVER;
        snprintf(name, sizeof name, "fdc.drv%u.seek_deadline", i);
        state_put(s, name, &seek, sizeof seek);
    }
}

int fdc_load(struct fdc *f, const struct state_buf *s)
{
    uint32_t version;
    char name[48];
    if (state_get(s, "fdc.version", &version, sizeof version) || version != 1)
        return -1;
#define X(fl) state_get(s, "fdc." #fl, &f->fl, sizeof f->fl);
    FDC_FIELDS(X)
#undef X
    /* Keep indices inside their arrays whatever the file says. */
    if (f->phase > FDC_PHASE_RESULT)
        f->phase = FDC_PHASE_COMMAND;
    if (f->cmd_len > sizeof f->cmd || f->cmd_pos > f->cmd_len)
        f->cmd_len = f->cmd_pos = 0;
    if (f->res_len > sizeof f->res || f->res_pos > f->res_len)
        f->res_len = f->res_pos = 0;
    if (f->buf_len > sizeof f->buf || f->buf_pos > f->buf_len)
        f->buf_len = f->buf_pos = 0;
    f->x_drive &= 3;
    f->x_phead &= 1;
    if (f->reset_sense > FDC_DRIVES)
        f->reset_sense = FDC_DRIVES;
    uint64_t exec = CLOCK_NEVER;
    state_get(s, "fdc.exec_deadline", &exec, sizeof exec);
    clock_timer_cancel(&f->exec_timer);
    if (exec != CLOCK_NEVER)
        clock_timer_arm(&f->exec_timer, exec);
    uint64_t over = CLOCK_NEVER;
    state_get(s, "fdc.overrun_deadline", &over, sizeof over);
    clock_timer_cancel(&f->overrun_timer);
    if (over != CLOCK_NEVER)
        clock_timer_arm(&f->overrun_timer, over);
    uint64_t gap = CLOCK_NEVER;
    state_get(s, "fdc.gap_deadline", &gap, sizeof gap);
    clock_timer_cancel(&f->gap_timer);
    if (gap != CLOCK_NEVER)
        clock_timer_arm(&f->gap_timer, gap);
    for (unsigned i = 0; i < FDC_DRIVES; i++) {
        struct fdc_drive *d = &f->drv[i];
#define X(fl)                                                                                  \
    snprintf(name, sizeof name, "fdc.drv%u." #fl, i);                                        \
    state_get(s, name, &d->fl, sizeof d->fl);
        FDC_DRIVE_FIELDS(X)
#undef X
        uint64_t seek = CLOCK_NEVER;
        snprintf(name, sizeof name, "fdc.drv%u.seek_deadline", i);
        state_get(s, name, &seek, sizeof seek);
        clock_timer_cancel(&d->seek_timer);
        if (seek != CLOCK_NEVER)
            clock_timer_arm(&d->seek_timer, seek);
    }
    if (f->x_waiting_dma)
        dma_set_dreq(f->dma, f->dma_ch, true);
    irq_update(f);
    return 0;
}
