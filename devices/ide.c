/*
 * ide.c — the PIIX3 IDE function (82371SB datasheet §2.4: PCICMD, BMIBA at
 * BAR4, IDETIM 0x40/0x42 with the per-channel decode enable in bit 15,
 * SIDETIM 0x44; §2.7 bus-master registers BMICOM/BMISTA/BMIDTP) and ATA disks
 * as ATA/ATAPI-6 describes them (taskfile, status/error semantics, SRST and
 * signatures, IDENTIFY DEVICE words, PIO, multiple and DMA data protocols,
 * LBA28/LBA48 and CHS addressing).  ATAPI packets are in atapi.c.
 *
 * Design choices:
 *  - Commands complete at once: a PIO command is ready with DRQ (and its
 *    interrupt) when the command register write returns; a DMA command runs
 *    its whole transfer when both it and the bus master's start bit are in
 *    place.  Every status a guest can read is one a real drive could show
 *    at that point, so drivers that poll and drivers that wait for
 *    interrupts both see a legal sequence, only a fast one.
 *  - The legacy ports stay registered; each access checks the decode enables
 *    (PCICMD I/O space and the channel's IDETIM bit 15), so a channel the
 *    firmware has not enabled floats (reads all-ones) as on the board.
 *  - A drive that is absent reads 0 in every register while the channel has
 *    a drive (the present one answers for it), which is what ATA drivers
 *    probe for; a channel without drives reads 0 as well, as QEMU's does.
 *  - DMA reaches only guest RAM: a PRD pointing elsewhere, a PRD table that
 *    ends before the data, or a transfer with bus mastering disabled stops
 *    the command with the bus master's error bit and the drive's ABRT.
 */
#include "devices/ide.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

enum {
    IDETIM = 0x40, /* 16 bits per channel, 0x40 and 0x42 */
    SIDETIM = 0x44,
};
#define IDETIM_IDE 0x8000u /* channel decode enable */

#define DEVCTL_NIEN 0x02
#define DEVCTL_SRST 0x04
#define DEVCTL_HOB 0x80

#define BM_CMD_START 0x01
#define BM_CMD_READ 0x08 /* the bus master writes memory */
#define BM_ST_ACTIVE 0x01
#define BM_ST_ERROR 0x02
#define BM_ST_INTR 0x04
#define BM_ST_CAP 0x60 /* drive 0/1 DMA capable, software-owned */

static const uint16_t cmd_base[2] = {0x1f0, 0x170};
static const uint16_t ctl_base[2] = {0x3f6, 0x376};

/* --- interrupts --- */

static bool present(const struct ide_drive *d) { return d->be != NULL || d->atapi; }

/* INTRQ is driven by the selected drive only, and gated by nIEN. */
static void drive_irq(struct ide_channel *ch, bool force)
{
    struct ide_drive *d = &ch->drive[ch->cur];
    bool level = present(d) && d->intrq && !(ch->devctl & DEVCTL_NIEN);
    if (force || level != ch->irq_out) {
        ch->irq_out = level;
        irq_set(&ch->irq, level);
    }
}

static void update_irq(struct ide_channel *ch) { drive_irq(ch, false); }

void ide_set_irq(struct ide_channel *ch, struct ide_drive *d)
{
    d->intrq = true;
    ch->bm_status |= BM_ST_INTR;
    update_irq(ch);
}

static bool decodes(const struct ide_channel *ch)
{
    const uint8_t *c = ch->ide->dev.config;
    uint16_t tim = (uint16_t)(c[IDETIM + 2 * ch->index] | c[IDETIM + 2 * ch->index + 1] << 8);
    return (c[PCI_COMMAND] & PCI_CMD_IO) && (tim & IDETIM_IDE);
}

/* --- command completion helpers --- */

static void cmd_ok(struct ide_channel *ch, struct ide_drive *d)
{
    d->status = IDE_ST_DRDY | IDE_ST_DSC;
    d->xfer = IDE_XFER_NONE;
    d->op = IDE_OP_NONE;
    ide_set_irq(ch, d);
}

static void cmd_error(struct ide_channel *ch, struct ide_drive *d, uint8_t error)
{
    d->status = IDE_ST_DRDY | IDE_ST_ERR | (d->atapi ? 0 : IDE_ST_DSC);
    d->error = error;
    d->xfer = IDE_XFER_NONE;
    d->op = IDE_OP_NONE;
    ide_set_irq(ch, d);
}

static void cmd_abort(struct ide_channel *ch, struct ide_drive *d) { cmd_error(ch, d, IDE_ER_ABRT); }

/* Start a PIO data-in phase over buf[0, len). */
static void pio_in(struct ide_channel *ch, struct ide_drive *d, uint32_t len)
{
    d->pos = 0;
    d->end = len;
    d->xfer = IDE_XFER_PIO_IN;
    d->status = IDE_ST_DRDY | IDE_ST_DSC | IDE_ST_DRQ;
    ide_set_irq(ch, d);
}

/* --- signatures and reset --- */

static void set_signature(struct ide_drive *d)
{
    d->nsector = d->sector = 1;
    d->select = 0xa0;
    if (d->atapi) {
        d->lcyl = 0x14;
        d->hcyl = 0xeb;
    } else {
        d->lcyl = d->hcyl = 0;
    }
    d->hob_nsector = d->hob_sector = d->hob_lcyl = d->hob_hcyl = d->hob_feature = 0;
}

/* What a drive shows after power-on, hardware reset or SRST. */
static void drive_reset(struct ide_drive *d)
{
    if (!present(d)) return;
    set_signature(d);
    d->error = 0x01; /* diagnostics passed */
    d->status = d->atapi ? 0 : IDE_ST_DRDY | IDE_ST_DSC;
    d->intrq = false;
    d->xfer = IDE_XFER_NONE;
    d->op = IDE_OP_NONE;
    d->pos = d->end = 0;
    d->standby = false;
    if (d->atapi) ide_atapi_reset(d);
}

/* --- addressing --- */

static uint32_t sector_count(const struct ide_drive *d, bool lba48)
{
    if (lba48) {
        uint32_t n = (uint32_t)d->hob_nsector << 8 | d->nsector;
        return n ? n : 65536;
    }
    return d->nsector ? d->nsector : 256;
}

/* The starting sector of a command, or false if a CHS address does not
 * exist in the current translation. */
static bool get_lba(const struct ide_drive *d, bool lba48, uint64_t *lba)
{
    if (d->select & 0x40) {
        if (lba48)
            *lba = (uint64_t)d->hob_hcyl << 40 | (uint64_t)d->hob_lcyl << 32 |
                   (uint64_t)d->hob_sector << 24 | (uint64_t)d->hcyl << 16 |
                   (uint64_t)d->lcyl << 8 | d->sector;
        else
            *lba = (uint64_t)(d->select & 0x0f) << 24 | (uint64_t)d->hcyl << 16 |
                   (uint64_t)d->lcyl << 8 | d->sector;
        return true;
    }
    unsigned cyl = (unsigned)d->hcyl << 8 | d->lcyl, head = d->select & 0x0f, sec = d->sector;
    if (sec == 0 || sec > d->cur_secs || head >= d->cur_heads || cyl >= d->cur_cyls) return false;
    *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_secs + sec - 1;
    return true;
}

/* Report a sector in the command block (the failing one after an error). */
static void set_lba(struct ide_drive *d, bool lba48, uint64_t lba)
{
    if (d->select & 0x40) {
        d->sector = (uint8_t)lba;
        d->lcyl = (uint8_t)(lba >> 8);
        d->hcyl = (uint8_t)(lba >> 16);
        if (lba48) {
            d->hob_sector = (uint8_t)(lba >> 24);
            d->hob_lcyl = (uint8_t)(lba >> 32);
            d->hob_hcyl = (uint8_t)(lba >> 40);
        } else {
            d->select = (uint8_t)((d->select & 0xf0) | ((lba >> 24) & 0x0f));
        }
        return;
    }
    unsigned spc = (unsigned)d->cur_heads * d->cur_secs;
    if (!spc) return;
    uint64_t cyl = lba / spc;
    unsigned r = (unsigned)(lba % spc);
    d->lcyl = (uint8_t)cyl;
    d->hcyl = (uint8_t)(cyl >> 8);
    d->select = (uint8_t)((d->select & 0xf0) | (r / d->cur_secs));
    d->sector = (uint8_t)(r % d->cur_secs + 1);
}

/* --- IDENTIFY DEVICE --- */

static void put_word(uint8_t *buf, unsigned w, uint16_t v)
{
    buf[2 * w] = (uint8_t)v;
    buf[2 * w + 1] = (uint8_t)(v >> 8);
}

/* ATA strings: space-padded, the first character of each pair in the high
 * byte of its word. */
static void put_string(uint8_t *buf, unsigned w, unsigned words, const char *s)
{
    size_t n = strlen(s);
    for (unsigned i = 0; i < 2 * words; i++)
        buf[2 * w + (i ^ 1)] = i < n ? (uint8_t)s[i] : ' ';
}

static void identify_common(struct ide_drive *d)
{
    uint8_t *b = d->buf;
    put_string(b, 10, 10, d->serial);
    put_string(b, 23, 4, "1.0");
    put_string(b, 27, 20, d->model);
    put_word(b, 48, 1); /* 32-bit PIO */
    put_word(b, 49, 1u << 11 | 1u << 9 | 1u << 8); /* IORDY, LBA, DMA */
    put_word(b, 53, 0x0007); /* words 54-58, 64-70 and 88 valid */
    /* Multiword DMA 0-2 and Ultra DMA 0-5 supported; the mode SET FEATURES
     * chose is marked selected (default: multiword DMA 2). */
    uint8_t mode = d->xfer_mode;
    put_word(b, 63, (uint16_t)(0x07 | ((mode >> 3) == 4 ? 0x100u << (mode & 7) : 0)));
    put_word(b, 64, 0x03); /* PIO 3 and 4 */
    put_word(b, 65, 120);
    put_word(b, 66, 120);
    put_word(b, 67, 120);
    put_word(b, 68, 120);
    put_word(b, 88, (uint16_t)(0x3f | ((mode >> 3) == 8 ? 0x100u << (mode & 7) : 0)));
    put_word(b, 93, 1u << 14 | 1u << 13 | 1); /* 80-wire cable, device 0 passed */
}

static void identify_ata(struct ide_drive *d)
{
    uint8_t *b = d->buf;
    memset(b, 0, 512);
    identify_common(d);
    put_word(b, 0, 0x0040); /* fixed disk */
    put_word(b, 1, d->cyls);
    put_word(b, 3, d->heads);
    put_word(b, 4, (uint16_t)(512 * d->secs)); /* obsolete bytes per track */
    put_word(b, 5, 512);
    put_word(b, 6, d->secs);
    put_word(b, 20, 3); /* obsolete buffer type */
    put_word(b, 21, 512);
    put_word(b, 22, 4);
    put_word(b, 47, 0x8000 | IDE_MAX_MULTIPLE);
    put_word(b, 50, 0x4000);
    put_word(b, 51, 0x200);
    put_word(b, 52, 0x200);
    put_word(b, 54, d->cur_cyls);
    put_word(b, 55, d->cur_heads);
    put_word(b, 56, d->cur_secs);
    uint32_t chs = (uint32_t)d->cur_cyls * d->cur_heads * d->cur_secs;
    put_word(b, 57, (uint16_t)chs);
    put_word(b, 58, (uint16_t)(chs >> 16));
    put_word(b, 59, d->mult ? 0x100 | d->mult : 0);
    uint32_t lba28 = d->nb_sectors > 0x0fffffff ? 0x0fffffff : (uint32_t)d->nb_sectors;
    put_word(b, 60, (uint16_t)lba28);
    put_word(b, 61, (uint16_t)(lba28 >> 16));
    put_word(b, 80, 0x007e); /* ATA-1 .. ATA-6 */
    put_word(b, 81, 0x0019);
    /* Supported: NOP, write cache, power management; FLUSH CACHE (EXT) and
     * LBA48. */
    put_word(b, 82, 1u << 14 | 1u << 5 | 1u << 3);
    put_word(b, 83, 1u << 14 | 1u << 13 | 1u << 12 | 1u << 10);
    put_word(b, 84, 1u << 14);
    put_word(b, 85, (uint16_t)(1u << 14 | (d->write_cache ? 1u << 5 : 0) | 1u << 3));
    put_word(b, 86, 1u << 13 | 1u << 12 | 1u << 10);
    put_word(b, 87, 1u << 14);
    for (unsigned i = 0; i < 4; i++)
        put_word(b, 100 + i, (uint16_t)(d->nb_sectors >> (16 * i)));
}

/* --- PIO data blocks --- */

static int be_error_to_ata(int r) { return r == -EROFS ? IDE_ER_ABRT : IDE_ER_UNC; }

/* Load the next DRQ block of a PIO read and offer it. */
static void read_next_block(struct ide_channel *ch, struct ide_drive *d, bool lba48)
{
    uint32_t n = d->left < d->block ? d->left : d->block;
    int r = d->be->read(d->be->opaque, d->lba * 512, d->buf, (size_t)n * 512);
    if (r) {
        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS, "ide: read of sector %llu failed (%d)\n",
                (unsigned long long)d->lba, r);
        set_lba(d, lba48, d->lba);
        cmd_error(ch, d, (uint8_t)be_error_to_ata(r));
        return;
    }
    d->lba += n;
    d->left -= n;
    pio_in(ch, d, n * 512);
}

static bool cmd_is_lba48(uint8_t cmd)
{
    switch (cmd) {
    case 0x24: case 0x25: case 0x29: case 0x34: case 0x35: case 0x39: case 0x42:
        return true;
    default:
        return false;
    }
}

static void write_block_start(struct ide_drive *d)
{
    uint32_t n = d->left < d->block ? d->left : d->block;
    d->pos = 0;
    d->end = n * 512;
    d->xfer = IDE_XFER_PIO_OUT;
    d->status = IDE_ST_DRDY | IDE_ST_DSC | IDE_ST_DRQ;
}

/* The host has read or written the last word of a DRQ block. */
static void pio_block_done(struct ide_channel *ch, struct ide_drive *d)
{
    bool lba48 = cmd_is_lba48(d->cmd);
    switch (d->op) {
    case IDE_OP_READ:
        if (d->left)
            read_next_block(ch, d, lba48);
        else {
            /* The last block went out: no interrupt after it. */
            d->status = IDE_ST_DRDY | IDE_ST_DSC;
            d->xfer = IDE_XFER_NONE;
            d->op = IDE_OP_NONE;
        }
        break;
    case IDE_OP_WRITE: {
        uint32_t n = d->end / 512;
        int r = d->be->write(d->be->opaque, d->lba * 512, d->buf, (size_t)d->end);
        if (r) {
            dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                    "ide: write of sector %llu failed (%d)\n", (unsigned long long)d->lba, r);
            set_lba(d, lba48, d->lba);
            cmd_error(ch, d, (uint8_t)be_error_to_ata(r));
            return;
        }
        d->lba += n;
        d->left -= n;
        if (d->left) {
            write_block_start(d);
            ide_set_irq(ch, d);
        } else {
            set_lba(d, lba48, d->lba - 1);
            cmd_ok(ch, d);
        }
        break;
    }
    case IDE_OP_ATAPI_BUF:
    case IDE_OP_ATAPI_READ:
        ide_atapi_pio_next(ch, d);
        break;
    default:
        if (d->xfer == IDE_XFER_PACKET) {
            memcpy(d->packet, d->buf, 12);
            ide_atapi_packet(ch, d);
            return;
        }
        /* IDENTIFY and friends: one block, no interrupt after it. */
        d->status = IDE_ST_DRDY | IDE_ST_DSC;
        d->xfer = IDE_XFER_NONE;
        d->op = IDE_OP_NONE;
        break;
    }
}

/* --- bus-master DMA --- */

struct prd_walk {
    uint32_t next;  /* guest-physical address of the next PRD */
    uint32_t addr;  /* current region */
    uint32_t len;   /* bytes left in it */
    bool eot;       /* the current PRD was the last */
};

static bool in_ram(struct ide *ide, uint32_t gpa, uint32_t len)
{
    const struct phys_region *r = mmu_find_region(ide->mmu, gpa);
    return r && r->kind == PHYS_RAM && len <= r->size && gpa - r->start <= r->size - len;
}

/* Move len bytes between buf and the PRD regions.  0, or -1 with a logged
 * reason (the table ends early, or points outside RAM). */
static int dma_move(struct ide_channel *ch, struct prd_walk *w, uint8_t *buf, uint32_t len,
                    bool to_memory)
{
    struct ide *ide = ch->ide;
    while (len) {
        if (w->len == 0) {
            if (w->eot) {
                dev_log(ide->log, DEV_LOG_GUEST_ERRORS,
                        "ide%u: PRD table ends before the data (%u bytes left)\n", ch->index, len);
                return -1;
            }
            if (!in_ram(ide, w->next, 8)) {
                dev_log(ide->log, DEV_LOG_GUEST_ERRORS,
                        "ide%u: PRD table at 0x%08x is outside RAM\n", ch->index, w->next);
                return -1;
            }
            uint8_t prd[8];
            mmu_phys_read(ide->mmu, w->next, prd, 8);
            w->addr = (uint32_t)(prd[0] | prd[1] << 8 | prd[2] << 16 | (uint32_t)prd[3] << 24) & ~1u;
            w->len = (uint32_t)(prd[4] | prd[5] << 8) & 0xfffe;
            if (!w->len) w->len = 0x10000;
            w->eot = prd[7] & 0x80;
            w->next += 8;
        }
        uint32_t n = len < w->len ? len : w->len;
        if (!in_ram(ide, w->addr, n)) {
            dev_log(ide->log, DEV_LOG_GUEST_ERRORS,
                    "ide%u: DMA to 0x%08x+%u is outside RAM\n", ch->index, w->addr, n);
            return -1;
        }
        if (to_memory)
            mmu_phys_write(ide->mmu, w->addr, buf, n);
        else
            mmu_phys_read(ide->mmu, w->addr, buf, n);
        buf += n;
        len -= n;
        w->addr += n;
        w->len -= n;
    }
    return 0;
}

/* Run the pending DMA command of d to its end. */
static void dma_run(struct ide_channel *ch, struct ide_drive *d)
{
    struct ide *ide = ch->ide;
    struct prd_walk w = {.next = ch->bm_prd};
    bool lba48 = cmd_is_lba48(d->cmd);
    int fail = 0; /* 0 ok, 1 bus-master error, 2 medium error */
    int be_err = 0;
    ch->bm_status |= BM_ST_ACTIVE;
    d->xfer = IDE_XFER_NONE;

    if (!(ide->dev.config[PCI_COMMAND] & PCI_CMD_MASTER)) {
        dev_log(ide->log, DEV_LOG_GUEST_ERRORS, "ide%u: DMA with bus mastering disabled\n",
                ch->index);
        fail = 1;
    } else if (d->op == IDE_OP_READ || d->op == IDE_OP_WRITE) {
        while (d->left && !fail) {
            uint32_t n = d->left < IDE_BUF_SIZE / 512 ? d->left : IDE_BUF_SIZE / 512;
            if (d->op == IDE_OP_READ) {
                be_err = d->be->read(d->be->opaque, d->lba * 512, d->buf, (size_t)n * 512);
                if (be_err)
                    fail = 2;
                else if (dma_move(ch, &w, d->buf, n * 512, true))
                    fail = 1;
            } else {
                if (dma_move(ch, &w, d->buf, n * 512, false))
                    fail = 1;
                else if ((be_err = d->be->write(d->be->opaque, d->lba * 512, d->buf,
                                                (size_t)n * 512)))
                    fail = 2;
            }
            if (!fail) {
                d->lba += n;
                d->left -= n;
            }
        }
    } else if (d->op == IDE_OP_ATAPI_BUF || d->op == IDE_OP_ATAPI_READ) {
        for (;;) {
            if (d->pos < d->buf_len) {
                if (dma_move(ch, &w, d->buf + d->pos, d->buf_len - d->pos, true)) {
                    fail = 1;
                    break;
                }
                d->pos = d->buf_len;
            }
            if (d->op != IDE_OP_ATAPI_READ || !d->left) break;
            if (!ide_atapi_refill(ch, d)) { /* it reported the error */
                ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
                return;
            }
        }
    }

    /* The bus master stays active if the PRDs had room left over. */
    if (fail || (w.len == 0 && w.eot)) ch->bm_status &= (uint8_t)~BM_ST_ACTIVE;
    if (fail == 1) ch->bm_status |= BM_ST_ERROR;

    if (d->atapi) {
        if (fail)
            ide_atapi_fail(ch, d, 0x04, 0x44, 0x00); /* hardware error: internal target failure */
        else
            ide_atapi_done(ch, d);
        return;
    }
    if (fail) {
        if (fail == 2)
            dev_log(ide->log, DEV_LOG_GUEST_ERRORS, "ide: DMA %s of sector %llu failed (%d)\n",
                    d->op == IDE_OP_READ ? "read" : "write", (unsigned long long)d->lba, be_err);
        set_lba(d, lba48, d->lba);
        cmd_error(ch, d, fail == 2 ? (uint8_t)be_error_to_ata(be_err) : IDE_ER_ABRT);
        return;
    }
    set_lba(d, lba48, d->lba - 1);
    cmd_ok(ch, d);
}

/* A command has its data phase ready for the bus master. */
void ide_start_dma(struct ide_channel *ch, struct ide_drive *d, bool to_device)
{
    d->dma_write = to_device;
    d->xfer = IDE_XFER_DMA;
    d->status = IDE_ST_BSY | IDE_ST_DRDY | IDE_ST_DSC | IDE_ST_DRQ;
    if ((ch->bm_cmd & BM_CMD_START) && !(ch->bm_status & BM_ST_ACTIVE)) dma_run(ch, d);
}

/* --- ATA commands --- */

static void rw_sectors(struct ide_channel *ch, struct ide_drive *d, bool write, bool lba48,
                       uint32_t block, bool dma)
{
    uint64_t lba;
    uint32_t count = sector_count(d, lba48);
    if (!get_lba(d, lba48, &lba) || lba >= d->nb_sectors || count > d->nb_sectors - lba) {
        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                "ide: command 0x%02x for sectors %llu+%u beyond the disk (%llu sectors)\n", d->cmd,
                (unsigned long long)lba, count, (unsigned long long)d->nb_sectors);
        cmd_error(ch, d, IDE_ER_IDNF);
        return;
    }
    if (write && d->be->read_only) {
        cmd_abort(ch, d);
        return;
    }
    d->lba = lba;
    d->left = count;
    d->block = block;
    d->op = write ? IDE_OP_WRITE : IDE_OP_READ;
    if (dma)
        ide_start_dma(ch, d, write);
    else if (write)
        write_block_start(d);
    else
        read_next_block(ch, d, lba48);
}

static void set_features(struct ide_channel *ch, struct ide_drive *d)
{
    switch (d->feature) {
    case 0x03: { /* set transfer mode */
        uint8_t m = d->nsector;
        bool ok = m <= 0x01 || (m >= 0x08 && m <= 0x0c) || (m >= 0x20 && m <= 0x22) ||
                  (m >= 0x40 && m <= 0x45);
        if (!ok) {
            cmd_abort(ch, d);
            return;
        }
        d->xfer_mode = m;
        break;
    }
    case 0x02:
        d->write_cache = true;
        break;
    case 0x82:
        d->write_cache = false;
        break;
    case 0x55: case 0xaa: /* read look-ahead off/on */
    case 0x66: case 0xcc: /* keep/revert to power-on defaults */
        break;
    default:
        dev_log(ch->ide->log, DEV_LOG_UNIMP, "ide: SET FEATURES 0x%02x\n", d->feature);
        cmd_abort(ch, d);
        return;
    }
    d->status = IDE_ST_DRDY | (d->atapi ? 0 : IDE_ST_DSC);
    d->xfer = IDE_XFER_NONE;
    ide_set_irq(ch, d);
}

static void execute_diagnostic(struct ide_channel *ch)
{
    for (int i = 0; i < 2; i++)
        drive_reset(&ch->drive[i]);
    ch->cur = 0;
    struct ide_drive *d0 = &ch->drive[0];
    if (present(d0)) ide_set_irq(ch, d0);
}

static void ata_command(struct ide_channel *ch, struct ide_drive *d, uint8_t cmd)
{
    d->cmd = cmd;
    d->intrq = false;
    d->op = IDE_OP_NONE;
    update_irq(ch);

    if (cmd == 0x90) { /* EXECUTE DEVICE DIAGNOSTIC: both drives */
        execute_diagnostic(ch);
        return;
    }
    if (d->atapi) {
        switch (cmd) {
        case 0x08: /* DEVICE RESET: no interrupt */
            drive_reset(d);
            return;
        case 0xa0:
            d->feature &= 0x03;
            d->byte_limit = (uint16_t)(d->lcyl | d->hcyl << 8);
            d->pos = 0;
            d->end = 12;
            d->xfer = IDE_XFER_PACKET;
            d->op = IDE_OP_NONE;
            d->nsector = (uint8_t)((d->nsector & 0xf8) | 0x01); /* C/D = 1, I/O = 0 */
            d->status = IDE_ST_DRDY | IDE_ST_DRQ;
            return;
        case 0xa1:
            ide_atapi_identify(d);
            d->op = IDE_OP_IDENTIFY;
            pio_in(ch, d, 512);
            return;
        case 0xec: /* not for packet devices: abort with the signature */
            set_signature(d);
            cmd_abort(ch, d);
            return;
        case 0xef:
            set_features(ch, d);
            return;
        case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe6:
        case 0xe7: /* FLUSH CACHE: nothing is cached for a CD */
            cmd_ok(ch, d);
            return;
        case 0xe5:
            d->nsector = 0xff;
            cmd_ok(ch, d);
            return;
        default:
            dev_log(ch->ide->log, DEV_LOG_UNIMP, "ide: ATAPI drive: ATA command 0x%02x\n", cmd);
            cmd_abort(ch, d);
            return;
        }
    }

    switch (cmd) {
    case 0xec: /* IDENTIFY DEVICE */
        identify_ata(d);
        d->op = IDE_OP_IDENTIFY;
        pio_in(ch, d, 512);
        return;
    case 0x20: case 0x21: rw_sectors(ch, d, false, false, 1, false); return;
    case 0x24: rw_sectors(ch, d, false, true, 1, false); return;
    case 0x30: case 0x31: rw_sectors(ch, d, true, false, 1, false); return;
    case 0x34: rw_sectors(ch, d, true, true, 1, false); return;
    case 0xc4: case 0x29: case 0xc5: case 0x39:
        if (!d->mult) {
            cmd_abort(ch, d);
            return;
        }
        rw_sectors(ch, d, cmd == 0xc5 || cmd == 0x39, cmd == 0x29 || cmd == 0x39, d->mult, false);
        return;
    case 0xc8: case 0xc9: rw_sectors(ch, d, false, false, 0, true); return;
    case 0x25: rw_sectors(ch, d, false, true, 0, true); return;
    case 0xca: case 0xcb: rw_sectors(ch, d, true, false, 0, true); return;
    case 0x35: rw_sectors(ch, d, true, true, 0, true); return;
    case 0x40: case 0x41: case 0x42: { /* READ VERIFY (EXT) */
        bool lba48 = cmd == 0x42;
        uint64_t lba;
        uint32_t count = sector_count(d, lba48);
        if (!get_lba(d, lba48, &lba) || lba >= d->nb_sectors || count > d->nb_sectors - lba) {
            cmd_error(ch, d, IDE_ER_IDNF);
            return;
        }
        set_lba(d, lba48, lba + count - 1);
        cmd_ok(ch, d);
        return;
    }
    case 0xc6: /* SET MULTIPLE MODE */
        if (d->nsector > IDE_MAX_MULTIPLE || (d->nsector & (d->nsector - 1))) {
            cmd_abort(ch, d);
            return;
        }
        d->mult = d->nsector;
        cmd_ok(ch, d);
        return;
    case 0xe7: case 0xea: { /* FLUSH CACHE (EXT) */
        int r = d->be->flush ? d->be->flush(d->be->opaque) : 0;
        if (r) {
            dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS, "ide: flush failed (%d)\n", r);
            cmd_abort(ch, d);
            return;
        }
        cmd_ok(ch, d);
        return;
    }
    case 0xef:
        set_features(ch, d);
        return;
    case 0x91: { /* INITIALIZE DEVICE PARAMETERS */
        unsigned heads = (d->select & 0x0f) + 1u, secs = d->nsector;
        if (!secs) {
            cmd_abort(ch, d);
            return;
        }
        uint64_t cyls = d->nb_sectors / (heads * secs);
        d->cur_heads = (uint16_t)heads;
        d->cur_secs = (uint16_t)secs;
        d->cur_cyls = (uint16_t)(cyls > 65535 ? 65535 : cyls);
        cmd_ok(ch, d);
        return;
    }
    case 0x70: /* SEEK */
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x14: case 0x15: case 0x16: case 0x17:
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
        cmd_ok(ch, d); /* RECALIBRATE */
        return;
    case 0xe0: case 0xe2: case 0xe6: /* STANDBY IMMEDIATE, STANDBY, SLEEP */
        d->standby = true;
        cmd_ok(ch, d);
        return;
    case 0xe1: case 0xe3: /* IDLE IMMEDIATE, IDLE */
        d->standby = false;
        cmd_ok(ch, d);
        return;
    case 0xe5: /* CHECK POWER MODE */
        d->nsector = d->standby ? 0x00 : 0xff;
        cmd_ok(ch, d);
        return;
    default:
        dev_log(ch->ide->log, DEV_LOG_UNIMP, "ide: ATA command 0x%02x\n", cmd);
        cmd_abort(ch, d);
        return;
    }
}

/* --- the legacy ports --- */

static uint32_t data_read(struct ide_channel *ch, unsigned size)
{
    struct ide_drive *d = &ch->drive[ch->cur];
    if (d->xfer != IDE_XFER_PIO_IN || d->pos + size > d->end) {
        if (present(d))
            dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                    "ide%u: data port read without DRQ\n", ch->index);
        return 0;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)d->buf[d->pos + i] << (8 * i);
    d->pos += size;
    if (d->pos >= d->end) pio_block_done(ch, d);
    return v;
}

static void data_write(struct ide_channel *ch, uint32_t v, unsigned size)
{
    struct ide_drive *d = &ch->drive[ch->cur];
    if ((d->xfer != IDE_XFER_PIO_OUT && d->xfer != IDE_XFER_PACKET) || d->pos + size > d->end) {
        if (present(d))
            dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                    "ide%u: data port write without DRQ\n", ch->index);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        d->buf[d->pos + i] = (uint8_t)(v >> (8 * i));
    d->pos += size;
    if (d->pos >= d->end) pio_block_done(ch, d);
}

static uint8_t reg_read(struct ide_channel *ch, unsigned reg)
{
    struct ide_drive *d = &ch->drive[ch->cur];
    bool any = present(&ch->drive[0]) || present(&ch->drive[1]);
    if (!any || !present(d)) return 0;
    bool hob = ch->devctl & DEVCTL_HOB;
    switch (reg) {
    case 1: return d->error;
    case 2: return hob ? d->hob_nsector : d->nsector;
    case 3: return hob ? d->hob_sector : d->sector;
    case 4: return hob ? d->hob_lcyl : d->lcyl;
    case 5: return hob ? d->hob_hcyl : d->hcyl;
    case 6: return (uint8_t)(d->select | (ch->cur << 4));
    default: /* 7: status; reading it acknowledges the interrupt */
        d->intrq = false;
        update_irq(ch);
        return d->status;
    }
}

static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
    struct ide_drive *sel = &ch->drive[ch->cur];
    if (reg == 7) {
        if (!present(sel)) return;
        if ((sel->status & IDE_ST_BSY) && !(sel->atapi && v == 0x08)) {
            dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                    "ide%u: command 0x%02x while busy\n", ch->index, v);
            return;
        }
        ata_command(ch, sel, v);
        return;
    }
    /* The command block is written while neither drive is busy. */
    if ((present(&ch->drive[0]) && (ch->drive[0].status & IDE_ST_BSY)) ||
        (present(&ch->drive[1]) && (ch->drive[1].status & IDE_ST_BSY))) {
        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                "ide%u: register %u written while busy\n", ch->index, reg);
        return;
    }
    ch->devctl &= (uint8_t)~DEVCTL_HOB;
    for (int i = 0; i < 2; i++) {
        struct ide_drive *d = &ch->drive[i];
        switch (reg) {
        case 1: d->hob_feature = d->feature; d->feature = v; break;
        case 2: d->hob_nsector = d->nsector; d->nsector = v; break;
        case 3: d->hob_sector = d->sector; d->sector = v; break;
        case 4: d->hob_lcyl = d->lcyl; d->lcyl = v; break;
        case 5: d->hob_hcyl = d->hcyl; d->hcyl = v; break;
        case 6: d->select = (uint8_t)((v & ~0x10) | 0xa0); break;
        }
    }
    if (reg == 6) {
        ch->cur = (v >> 4) & 1;
        update_irq(ch);
    }
}

static uint32_t cmd_read(void *opaque, uint16_t off, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (!decodes(ch)) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (off == 0) return data_read(ch, size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size && off + i < 8; i++)
        v |= (uint32_t)reg_read(ch, off + i) << (8 * i);
    return v;
}

static void cmd_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (!decodes(ch)) return;
    if (off == 0) {
        data_write(ch, v, size);
        return;
    }
    for (unsigned i = 0; i < size && off + i < 8; i++)
        reg_write(ch, off + i, (uint8_t)(v >> (8 * i)));
}

static uint32_t ctl_read(void *opaque, uint16_t off, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (!decodes(ch)) return 0xff;
    struct ide_drive *d = &ch->drive[ch->cur];
    bool any = present(&ch->drive[0]) || present(&ch->drive[1]);
    return any && present(d) ? d->status : 0; /* alternate status: no acknowledge */
}

static void ctl_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct ide_channel *ch = opaque;
    if (!decodes(ch)) return;
    uint8_t old = ch->devctl;
    ch->devctl = (uint8_t)v;
    if ((v & DEVCTL_SRST) && !(old & DEVCTL_SRST)) {
        for (int i = 0; i < 2; i++) {
            struct ide_drive *d = &ch->drive[i];
            if (!present(d)) continue;
            d->status = IDE_ST_BSY;
            d->xfer = IDE_XFER_NONE;
            d->op = IDE_OP_NONE;
            d->intrq = false;
        }
    } else if (!(v & DEVCTL_SRST) && (old & DEVCTL_SRST)) {
        for (int i = 0; i < 2; i++)
            drive_reset(&ch->drive[i]);
        ch->cur = 0;
    }
    update_irq(ch);
}

/* --- bus master registers --- */

static uint8_t bm_read_byte(struct ide_channel *ch, unsigned off)
{
    switch (off) {
    case 0: return ch->bm_cmd;
    case 2: return ch->bm_status;
    case 4: case 5: case 6: case 7: return (uint8_t)(ch->bm_prd >> (8 * (off - 4)));
    default: return 0;
    }
}

static void bm_write_byte(struct ide_channel *ch, unsigned off, uint8_t v)
{
    switch (off) {
    case 0: {
        uint8_t old = ch->bm_cmd;
        ch->bm_cmd = v & (BM_CMD_START | BM_CMD_READ);
        if (!(v & BM_CMD_START)) {
            ch->bm_status &= (uint8_t)~BM_ST_ACTIVE; /* stop: the transfer is abandoned */
        } else if (!(old & BM_CMD_START)) {
            for (int i = 0; i < 2; i++) {
                struct ide_drive *d = &ch->drive[(ch->cur + i) & 1];
                if (d->xfer == IDE_XFER_DMA) {
                    if (((ch->bm_cmd & BM_CMD_READ) != 0) == d->dma_write)
                        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                                "ide%u: bus master direction disagrees with the command\n",
                                ch->index);
                    dma_run(ch, d);
                    break;
                }
            }
        }
        break;
    }
    case 2:
        ch->bm_status = (uint8_t)((ch->bm_status & ~(BM_ST_CAP | (v & (BM_ST_ERROR | BM_ST_INTR)))) |
                                  (v & BM_ST_CAP));
        break;
    case 4: case 5: case 6: case 7: {
        unsigned sh = 8 * (off - 4);
        ch->bm_prd = (ch->bm_prd & ~(0xffu << sh)) | (uint32_t)v << sh;
        ch->bm_prd &= ~3u;
        break;
    }
    default:
        break;
    }
}

static uint32_t bm_read(void *opaque, uint16_t off, unsigned size)
{
    struct ide *ide = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        v |= (uint32_t)bm_read_byte(&ide->ch[(o >> 3) & 1], o & 7) << (8 * i);
    }
    return v;
}

static void bm_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct ide *ide = opaque;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        bm_write_byte(&ide->ch[(o >> 3) & 1], o & 7, (uint8_t)(v >> (8 * i)));
    }
}

/* --- set-up --- */

/* CHS translation for the size, as BIOSes and QEMU guess it: 16 heads and
 * 63 sectors per track, cylinders capped at 16383. */
static void set_geometry(struct ide_drive *d)
{
    uint64_t cyls = d->nb_sectors / (16 * 63);
    if (cyls > 16383) cyls = 16383;
    if (cyls < 1) cyls = 1;
    d->cyls = (uint16_t)cyls;
    d->heads = 16;
    d->secs = 63;
}

static void drive_power_on(struct ide_drive *d)
{
    d->cur_cyls = d->cyls;
    d->cur_heads = d->heads;
    d->cur_secs = d->secs;
    d->mult = IDE_MAX_MULTIPLE;
    d->xfer_mode = 0x22; /* multiword DMA 2 */
    d->write_cache = true;
    drive_reset(d);
}

int ide_init(struct ide *ide, struct pci_bus *pci, struct bus *io, struct mmu *mmu,
             struct irq_line irq14, struct irq_line irq15, struct block_backend *const drives[4],
             const bool cdrom[4], uint8_t devfn, const struct dev_log *log, char *err,
             size_t errlen)
{
    memset(ide, 0, sizeof *ide);
    ide->mmu = mmu;
    ide->log = log;
    struct pci_device *p = &ide->dev;
    pci_device_init(p, "piix3-ide", 0x8086, 0x7010, 0x00, 0x010180, 0x00);
    p->opaque = ide;
    p->wmask[PCI_COMMAND] = PCI_CMD_IO | PCI_CMD_MASTER;
    p->wmask[PCI_COMMAND + 1] = 0;
    p->wmask[PCI_INTERRUPT_LINE] = 0;
    memset(&p->wmask[IDETIM], 0xff, 4);
    p->wmask[SIDETIM] = 0xff;
    pci_set_bar_io(p, 4, 16, BUS_W8 | BUS_W16 | BUS_W32, bm_read, bm_write, ide);
    if (pci_register(pci, p, devfn, err, errlen)) return -1;

    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &ide->ch[c];
        ch->ide = ide;
        ch->index = (uint8_t)c;
        ch->irq = c ? irq15 : irq14;
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &ch->drive[u];
            int n = 2 * c + u;
            d->unit = (uint8_t)u;
            d->be = drives ? drives[n] : NULL;
            d->atapi = cdrom && cdrom[n];
            snprintf(d->serial, sizeof d->serial, "UMBRA%05d", n + 1);
            snprintf(d->model, sizeof d->model, "%s", d->atapi ? "UMBRA CD-ROM" : "UMBRA HARDDISK");
            if (d->be && !d->atapi) {
                d->nb_sectors = d->be->size / 512;
                set_geometry(d);
            }
        }
        if (bus_register(io, cmd_base[c], 8, BUS_W8 | BUS_W16 | BUS_W32, c ? "ide1" : "ide0",
                         cmd_read, cmd_write, ch, err, errlen) ||
            bus_register(io, ctl_base[c], 1, BUS_W8, c ? "ide1-ctl" : "ide0-ctl", ctl_read,
                         ctl_write, ch, err, errlen))
            return -1;
    }
    for (int c = 0; c < 2; c++)
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &ide->ch[c].drive[u];
            d->medium = d->atapi && d->be;
        }
    ide_reset(ide);
    return 0;
}

void ide_reset(struct ide *ide)
{
    uint8_t *c = ide->dev.config;
    c[PCI_STATUS] = 0x80; /* fast back-to-back */
    c[PCI_STATUS + 1] = 0x02; /* medium DEVSEL */
    memset(&c[IDETIM], 0, 4);
    c[SIDETIM] = 0;
    for (int i = 0; i < 2; i++) {
        struct ide_channel *ch = &ide->ch[i];
        ch->cur = 0;
        ch->devctl = 0;
        ch->bm_cmd = ch->bm_status = 0;
        ch->bm_prd = 0;
        for (int u = 0; u < 2; u++)
            drive_power_on(&ch->drive[u]);
        drive_irq(ch, true);
    }
}

void ide_firmware_setup(struct ide *ide)
{
    struct pci_bus *b = ide->dev.bus;
    pci_config_write(b, 0, ide->dev.devfn, IDETIM, IDETIM_IDE, 2);
    pci_config_write(b, 0, ide->dev.devfn, IDETIM + 2, IDETIM_IDE, 2);
}

int ide_disk_geometry(const struct ide *ide, int n, uint16_t *cyls, uint8_t *heads,
                      uint8_t *secs)
{
    if (n < 0 || n > 3) return -1;
    const struct ide_drive *d = &ide->ch[n >> 1].drive[n & 1];
    if (!d->be || d->atapi) return -1;
    *cyls = d->cyls;
    *heads = (uint8_t)d->heads;
    *secs = (uint8_t)d->secs;
    return 0;
}

int ide_cdrom_change(struct ide *ide, int n, struct block_backend *be)
{
    if (n < 0 || n > 3) return -1;
    struct ide_drive *d = &ide->ch[n >> 1].drive[n & 1];
    if (!d->atapi) return -1;
    /* A transfer from the old disc cannot go on. */
    if (d->op == IDE_OP_ATAPI_READ || d->op == IDE_OP_ATAPI_BUF) {
        d->xfer = IDE_XFER_NONE;
        d->op = IDE_OP_NONE;
        d->status = IDE_ST_DRDY | IDE_ST_ERR;
        d->error = 0x06 << 4;
    }
    d->be = be;
    d->medium = be != NULL;
    d->unit_attention = be != NULL;
    d->media_event = be ? 2 : 3;
    d->locked = false;
    return 0;
}

/* --- saved state --- */

#define DRIVE_FIELDS                                                                         \
    X(feature) X(nsector) X(sector) X(lcyl) X(hcyl) X(select) X(hob_feature) X(hob_nsector)  \
    X(hob_sector) X(hob_lcyl) X(hob_hcyl) X(status) X(error) X(intrq) X(cur_cyls)             \
    X(cur_heads) X(cur_secs) X(mult) X(xfer_mode) X(write_cache) X(standby) X(cmd) X(xfer)   \
    X(op) X(dma_write) X(lba) X(left) X(block) X(pos) X(end) X(buf_len) X(buf) X(packet)     \
    X(byte_limit) X(sense_key) X(asc) X(ascq) X(medium) X(locked) X(unit_attention)          \
    X(media_event)

void ide_save(struct ide *ide, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "ide.version", &version, sizeof version);
    pci_device_save(&ide->dev, "ide", s);
    char name[64];
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &ide->ch[c];
#define CH(f) snprintf(name, sizeof name, "ide.ch%d." #f, c), state_put(s, name, &ch->f, sizeof ch->f);
        CH(cur) CH(devctl) CH(bm_cmd) CH(bm_status) CH(bm_prd)
#undef CH
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &ch->drive[u];
#define X(f) snprintf(name, sizeof name, "ide.d%d." #f, 2 * c + u), state_put(s, name, &d->f, sizeof d->f);
            DRIVE_FIELDS
#undef X
        }
    }
}

int ide_load(struct ide *ide, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "ide.version", &version, sizeof version) || version != 1) return -1;
    if (pci_device_load(&ide->dev, "ide", s)) return -1;
    char name[64];
    for (int c = 0; c < 2; c++) {
        struct ide_channel *ch = &ide->ch[c];
#define CH(f) snprintf(name, sizeof name, "ide.ch%d." #f, c), state_get(s, name, &ch->f, sizeof ch->f);
        CH(cur) CH(devctl) CH(bm_cmd) CH(bm_status) CH(bm_prd)
#undef CH
        ch->cur &= 1;
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &ch->drive[u];
#define X(f) snprintf(name, sizeof name, "ide.d%d." #f, 2 * c + u), state_get(s, name, &d->f, sizeof d->f);
            DRIVE_FIELDS
#undef X
            /* Never trust indices from a file. */
            uint64_t limit = d->atapi ? (d->be ? d->be->size / 2048 : 0) : d->nb_sectors;
            if (d->end > IDE_BUF_SIZE || d->pos > d->end || d->buf_len > IDE_BUF_SIZE ||
                d->xfer > IDE_XFER_DMA || d->op > IDE_OP_ATAPI_READ || d->lba > limit ||
                d->left > limit - d->lba || (!d->be && d->op != IDE_OP_NONE) ||
                ((d->op == IDE_OP_READ || d->op == IDE_OP_WRITE) && !d->block &&
                 d->xfer != IDE_XFER_DMA)) {
                d->xfer = IDE_XFER_NONE;
                d->op = IDE_OP_NONE;
                d->pos = d->end = d->buf_len = 0;
            }
        }
        drive_irq(ch, true);
    }
    return 0;
}
