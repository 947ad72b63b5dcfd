/*
 * atapi.c — an ATAPI CD-ROM on the IDE channel: IDENTIFY PACKET DEVICE, the
 * PACKET protocol (ATA/ATAPI-6 §9.8: interrupt reason in the sector count
 * register, byte count in the cylinder registers, PIO chunks no larger than
 * the host's byte-count limit, or bus-master DMA), and the MMC command set
 * that OS CD drivers use on a read-only data disc with one track of
 * 2048-byte sectors (SPC/MMC: TEST UNIT READY, REQUEST SENSE, INQUIRY, READ
 * CAPACITY, READ(10)/(12), READ TOC formats 0, 1 and 2 in LBA and MSF, GET
 * CONFIGURATION, GET EVENT STATUS NOTIFICATION, READ DISC INFORMATION, MODE
 * SENSE(10) pages 01h/2Ah/3Fh, START STOP UNIT, PREVENT ALLOW MEDIUM
 * REMOVAL, MECHANISM STATUS, SET CD SPEED, SEEK).
 *
 * Design choice: sense data is kept per drive and reported through CHECK
 * CONDITION (status ERR, sense key in the error register's high nibble)
 * the way real drives do, so a driver's error handling runs its normal
 * REQUEST SENSE path; a disc inserted while running is announced with a
 * UNIT ATTENTION (28h "medium may have changed") and a media event.
 */
#include <string.h>

#include "devices/ide.h"

#define SK_NOT_READY 0x02
#define SK_HARDWARE_ERROR 0x04
#define SK_ILLEGAL_REQUEST 0x05
#define SK_UNIT_ATTENTION 0x06

#define ATAPI_SECTOR 2048
#define ATAPI_BUF_SECTORS (IDE_BUF_SIZE / ATAPI_SECTOR)

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_word(uint8_t *buf, unsigned w, uint16_t v)
{
    buf[2 * w] = (uint8_t)v;
    buf[2 * w + 1] = (uint8_t)(v >> 8);
}

static void put_string(uint8_t *buf, unsigned w, unsigned words, const char *s)
{
    size_t n = strlen(s);
    for (unsigned i = 0; i < 2 * words; i++)
        buf[2 * w + (i ^ 1)] = i < n ? (uint8_t)s[i] : ' ';
}

static uint32_t capacity(const struct ide_drive *d)
{
    uint64_t n = d->be ? d->be->size / ATAPI_SECTOR : 0;
    return n > 0xffffffffu ? 0xffffffffu : (uint32_t)n;
}

void ide_atapi_identify(struct ide_drive *d)
{
    uint8_t *b = d->buf;
    memset(b, 0, 512);
    /* ATAPI, CD-ROM, removable, accelerated DRQ, 12-byte packets. */
    put_word(b, 0, 0x85c0);
    put_string(b, 10, 10, d->serial);
    put_string(b, 23, 4, "1.0");
    put_string(b, 27, 20, d->model);
    put_word(b, 49, 1u << 11 | 1u << 9 | 1u << 8); /* IORDY, LBA, DMA */
    put_word(b, 53, 0x0007);
    uint8_t mode = d->xfer_mode;
    put_word(b, 63, (uint16_t)(0x07 | ((mode >> 3) == 4 ? 0x100u << (mode & 7) : 0)));
    put_word(b, 64, 0x03);
    put_word(b, 65, 180);
    put_word(b, 66, 180);
    put_word(b, 67, 300);
    put_word(b, 68, 180);
    put_word(b, 71, 30);
    put_word(b, 72, 30);
    put_word(b, 80, 0x001e); /* ATA/ATAPI-1 .. 4 */
    put_word(b, 82, 1u << 14 | 1u << 4); /* NOP, PACKET */
    put_word(b, 83, 1u << 14);
    put_word(b, 84, 1u << 14);
    put_word(b, 85, 1u << 14 | 1u << 4);
    put_word(b, 87, 1u << 14);
    put_word(b, 88, (uint16_t)(0x3f | ((mode >> 3) == 8 ? 0x100u << (mode & 7) : 0)));
    put_word(b, 93, 1u << 14 | 1u << 13 | 1);
}

void ide_atapi_reset(struct ide_drive *d)
{
    d->sense_key = d->asc = d->ascq = 0;
}

void ide_atapi_done(struct ide_channel *ch, struct ide_drive *d)
{
    d->status = IDE_ST_DRDY;
    d->error = 0;
    d->nsector = (uint8_t)((d->nsector & 0xf8) | 0x03); /* I/O, C/D: status */
    d->xfer = IDE_XFER_NONE;
    d->op = IDE_OP_NONE;
    ide_set_irq(ch, d);
}

void ide_atapi_fail(struct ide_channel *ch, struct ide_drive *d, uint8_t key, uint8_t asc,
                    uint8_t ascq)
{
    d->sense_key = key;
    d->asc = asc;
    d->ascq = ascq;
    d->status = IDE_ST_DRDY | IDE_ST_ERR;
    d->error = (uint8_t)(key << 4 | (key == SK_ILLEGAL_REQUEST ? IDE_ER_ABRT : 0));
    d->nsector = (uint8_t)((d->nsector & 0xf8) | 0x03);
    d->xfer = IDE_XFER_NONE;
    d->op = IDE_OP_NONE;
    ide_set_irq(ch, d);
}

bool ide_atapi_refill(struct ide_channel *ch, struct ide_drive *d)
{
    uint32_t n = d->left < ATAPI_BUF_SECTORS ? d->left : ATAPI_BUF_SECTORS;
    int r = d->be->read(d->be->opaque, d->lba * ATAPI_SECTOR, d->buf, (size_t)n * ATAPI_SECTOR);
    if (r) {
        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS, "atapi: read of sector %llu failed (%d)\n",
                (unsigned long long)d->lba, r);
        ide_atapi_fail(ch, d, 0x03, 0x11, 0x00); /* medium error: unrecovered read error */
        return false;
    }
    d->lba += n;
    d->left -= n;
    d->pos = 0;
    d->buf_len = n * ATAPI_SECTOR;
    return true;
}

void ide_atapi_pio_next(struct ide_channel *ch, struct ide_drive *d)
{
    if (d->pos >= d->buf_len) {
        if (d->op == IDE_OP_ATAPI_READ && d->left) {
            if (!ide_atapi_refill(ch, d)) return;
        } else {
            ide_atapi_done(ch, d);
            return;
        }
    }
    uint32_t limit = d->byte_limit;
    if (limit == 0 || limit == 0xffff) limit = 0xfffe; /* 0 is a host error; be lenient */
    uint32_t chunk = d->buf_len - d->pos;
    if (chunk > limit) chunk = limit & ~1u;
    d->end = d->pos + chunk;
    d->lcyl = (uint8_t)chunk;
    d->hcyl = (uint8_t)(chunk >> 8);
    d->nsector = (uint8_t)((d->nsector & 0xf8) | 0x02); /* I/O = 1: to the host */
    d->status = IDE_ST_DRDY | IDE_ST_DRQ;
    d->xfer = IDE_XFER_PIO_IN;
    ide_set_irq(ch, d);
}

/* Send what the command produced (op and buf_len are set). */
static void send_data(struct ide_channel *ch, struct ide_drive *d)
{
    d->pos = 0;
    if (d->buf_len == 0 && !(d->op == IDE_OP_ATAPI_READ && d->left)) {
        ide_atapi_done(ch, d);
        return;
    }
    if (d->feature & 0x01) {
        ide_start_dma(ch, d, false);
        return;
    }
    ide_atapi_pio_next(ch, d);
}

/* A reply of len bytes in buf, cut to the allocation length. */
static void reply(struct ide_channel *ch, struct ide_drive *d, uint32_t len, uint32_t alloc)
{
    d->op = IDE_OP_ATAPI_BUF;
    d->buf_len = len < alloc ? len : alloc;
    send_data(ch, d);
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    lba += 150;
    p[0] = 0;
    p[1] = (uint8_t)(lba / (75 * 60));
    p[2] = (uint8_t)((lba / 75) % 60);
    p[3] = (uint8_t)(lba % 75);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf)
        lba_to_msf(p, lba);
    else
        put32(p, lba);
}

static void read_toc(struct ide_channel *ch, struct ide_drive *d)
{
    const uint8_t *pkt = d->packet;
    bool msf = pkt[1] & 0x02;
    unsigned format = pkt[2] & 0x0f;
    if (!format) format = pkt[9] >> 6; /* SFF-8020 put it in the control byte */
    unsigned start = pkt[6];
    uint32_t alloc = get16(pkt + 7);
    uint8_t *b = d->buf;
    memset(b, 0, 64);
    uint32_t len;
    switch (format) {
    case 0: {
        if (start > 1 && start != 0xaa) {
            ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x24, 0x00);
            return;
        }
        b[2] = b[3] = 1;
        uint8_t *p = b + 4;
        if (start <= 1) {
            p[1] = 0x14; /* ADR 1, data track */
            p[2] = 1;
            put_addr(p + 4, 0, msf);
            p += 8;
        }
        p[1] = 0x14;
        p[2] = 0xaa; /* lead-out */
        put_addr(p + 4, capacity(d), msf);
        p += 8;
        len = (uint32_t)(p - b);
        break;
    }
    case 1: /* session information: one session, starting at track 1 */
        b[2] = b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        put_addr(b + 8, 0, msf);
        len = 12;
        break;
    case 2: { /* full TOC: points A0 (first track), A1 (last), A2 (lead-out), track 1 */
        b[2] = b[3] = 1; /* first and last session */
        uint8_t *p = b + 4;
        static const uint8_t points[4] = {0xa0, 0xa1, 0xa2, 0x01};
        for (int i = 0; i < 4; i++, p += 11) {
            p[0] = 1;    /* session */
            p[1] = 0x14; /* ADR 1, data track */
            p[3] = points[i];
            if (points[i] == 0xa0 || points[i] == 0xa1)
                p[8] = 1; /* PMIN: the track number */
            else
                lba_to_msf(p + 7, points[i] == 0xa2 ? capacity(d) : 0); /* always MSF */
        }
        len = (uint32_t)(p - b);
        break;
    }
    default:
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    put16(b, len - 2);
    reply(ch, d, len, alloc);
}

static void mode_sense(struct ide_channel *ch, struct ide_drive *d)
{
    const uint8_t *pkt = d->packet;
    unsigned page = pkt[2] & 0x3f, pc = pkt[2] >> 6;
    uint32_t alloc = get16(pkt + 7);
    if (pc == 3) {
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x39, 0x00); /* saving not supported */
        return;
    }
    uint8_t *b = d->buf;
    memset(b, 0, 64);
    b[2] = d->medium ? 0x01 : 0x70; /* 120 mm data disc / door closed, no disc */
    uint8_t *p = b + 8;             /* no block descriptors */
    bool any = false;
    if (page == 0x01 || page == 0x3f) { /* read error recovery */
        p[0] = 0x01;
        p[1] = 0x06;
        p[3] = pc == 1 ? 0 : 5; /* read retry count; nothing is changeable */
        p += 8;
        any = true;
    }
    if (page == 0x2a || page == 0x3f) { /* CD capabilities and mechanical status */
        p[0] = 0x2a;
        p[1] = 0x12;
        if (pc != 1) {
            p[2] = 0x00; /* reads CD-ROM only */
            p[4] = 0x71; /* audio play, composite, digital port 1, mode 2 form 1 */
            p[5] = 0x00;
            /* tray loader, eject, lock; lock state */
            p[6] = (uint8_t)(0x29 | (d->locked ? 0x02 : 0));
            put16(p + 8, 706);  /* max read speed, kB/s */
            put16(p + 10, 2);   /* volume levels */
            put16(p + 12, 512); /* buffer, KiB */
            put16(p + 14, 706);
        }
        p += 20;
        any = true;
    }
    if (!any) {
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    uint32_t len = (uint32_t)(p - b);
    put16(b, len - 2);
    reply(ch, d, len, alloc);
}

static void get_configuration(struct ide_channel *ch, struct ide_drive *d)
{
    const uint8_t *pkt = d->packet;
    unsigned rt = pkt[1] & 0x03, start = get16(pkt + 2);
    uint32_t alloc = get16(pkt + 7);
    uint8_t *b = d->buf;
    memset(b, 0, 64);
    put16(b + 6, d->medium ? 0x0008 : 0x0000); /* current profile: CD-ROM */
    uint8_t *p = b + 8;
#define WANT(code) (rt == 2 ? start == (code) : start <= (code))
    if (WANT(0x0000)) { /* profile list */
        p[2] = 0x03;
        p[3] = 4;
        put16(p + 4, 0x0008);
        p[6] = d->medium ? 1 : 0;
        p += 8;
    }
    if (WANT(0x0001)) { /* core: ATAPI */
        put16(p, 0x0001);
        p[2] = 0x0b;
        p[3] = 8;
        put32(p + 4, 2);
        p += 12;
    }
    if (WANT(0x0003)) { /* removable medium: tray, eject, lock */
        put16(p, 0x0003);
        p[2] = 0x03;
        p[3] = 4;
        p[4] = (uint8_t)(0x29 | (d->locked ? 0x04 : 0));
        p += 8;
    }
#undef WANT
    uint32_t len = (uint32_t)(p - b);
    put32(b, len - 4);
    reply(ch, d, len, alloc);
}

static void get_event_status(struct ide_channel *ch, struct ide_drive *d)
{
    const uint8_t *pkt = d->packet;
    if (!(pkt[1] & 0x01)) { /* only polled operation */
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x24, 0x00);
        return;
    }
    uint32_t alloc = get16(pkt + 7);
    uint8_t *b = d->buf;
    memset(b, 0, 8);
    b[3] = 0x10; /* supported classes: media */
    uint32_t len;
    if (pkt[4] & 0x10) {
        b[2] = 0x04; /* media class */
        b[4] = d->media_event;
        b[5] = d->medium ? 0x02 : 0x00;
        d->media_event = 0;
        len = 8;
    } else {
        b[2] = 0x80; /* no event available */
        len = 4;
    }
    put16(b, len - 2);
    reply(ch, d, len, alloc);
}

static void start_read(struct ide_channel *ch, struct ide_drive *d, uint32_t lba, uint32_t count)
{
    uint32_t cap = capacity(d);
    if (lba > cap || count > cap - lba) {
        dev_log(ch->ide->log, DEV_LOG_GUEST_ERRORS,
                "atapi: read of %u sectors at %u beyond the disc (%u sectors)\n", count, lba, cap);
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x21, 0x00);
        return;
    }
    d->op = IDE_OP_ATAPI_READ;
    d->lba = lba;
    d->left = count;
    d->buf_len = 0;
    send_data(ch, d);
}

static bool needs_medium(uint8_t op)
{
    switch (op) {
    case 0x00: case 0x25: case 0x28: case 0xa8: case 0x43: case 0x51: case 0x2b:
        return true;
    default:
        return false;
    }
}

void ide_atapi_packet(struct ide_channel *ch, struct ide_drive *d)
{
    const uint8_t *pkt = d->packet;
    uint8_t op = pkt[0];
    uint8_t *b = d->buf;
    d->buf_len = 0;
    d->left = 0;

    /* A pending unit attention fails the next command, except those that
     * report status without touching the medium. */
    if (d->unit_attention && op != 0x12 && op != 0x03 && op != 0x46 && op != 0x4a) {
        d->unit_attention = false;
        ide_atapi_fail(ch, d, SK_UNIT_ATTENTION, 0x28, 0x00);
        return;
    }
    if (op != 0x03) d->sense_key = d->asc = d->ascq = 0;
    if (needs_medium(op) && !d->medium) {
        ide_atapi_fail(ch, d, SK_NOT_READY, 0x3a, 0x00);
        return;
    }

    switch (op) {
    case 0x00: /* TEST UNIT READY */
    case 0x2b: /* SEEK(10) */
    case 0xbb: /* SET CD SPEED */
    case 0x4e: /* STOP PLAY/SCAN */
        ide_atapi_done(ch, d);
        return;
    case 0x03: { /* REQUEST SENSE */
        memset(b, 0, 18);
        b[0] = 0x70;
        b[7] = 10;
        if (d->sense_key) {
            b[2] = d->sense_key;
            b[12] = d->asc;
            b[13] = d->ascq;
        } else if (d->unit_attention) {
            b[2] = SK_UNIT_ATTENTION;
            b[12] = 0x28;
            d->unit_attention = false;
        }
        d->sense_key = d->asc = d->ascq = 0;
        reply(ch, d, 18, pkt[4]);
        return;
    }
    case 0x12: { /* INQUIRY */
        if (pkt[1] & 0x01) { /* no vital product data pages */
            ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x24, 0x00);
            return;
        }
        memset(b, 0, 36);
        b[0] = 0x05; /* CD/DVD device */
        b[1] = 0x80; /* removable */
        b[2] = 0x00;
        b[3] = 0x21; /* ATAPI version 2, response format 1 */
        b[4] = 31;
        memcpy(b + 8, "UMBRA   ", 8);
        memcpy(b + 16, "CD-ROM          ", 16);
        memcpy(b + 32, "1.0 ", 4);
        reply(ch, d, 36, get16(pkt + 3));
        return;
    }
    case 0x1b: { /* START STOP UNIT */
        bool start = pkt[4] & 0x01, loej = pkt[4] & 0x02;
        if (loej && !start) {
            if (d->locked) {
                ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x53, 0x02); /* removal prevented */
                return;
            }
            if (d->medium) d->media_event = 3;
            d->medium = false;
        } else if (loej && start && d->be && !d->medium) {
            d->medium = true;
            d->media_event = 2;
        }
        ide_atapi_done(ch, d);
        return;
    }
    case 0x1e: /* PREVENT ALLOW MEDIUM REMOVAL */
        d->locked = pkt[4] & 0x01;
        ide_atapi_done(ch, d);
        return;
    case 0x25: /* READ CAPACITY */
        put32(b, capacity(d) ? capacity(d) - 1 : 0);
        put32(b + 4, ATAPI_SECTOR);
        reply(ch, d, 8, 8);
        return;
    case 0x28: /* READ(10) */
        start_read(ch, d, get32(pkt + 2), get16(pkt + 7));
        return;
    case 0xa8: /* READ(12) */
        start_read(ch, d, get32(pkt + 2), get32(pkt + 6));
        return;
    case 0x43:
        read_toc(ch, d);
        return;
    case 0x46:
        get_configuration(ch, d);
        return;
    case 0x4a:
        get_event_status(ch, d);
        return;
    case 0x51: /* READ DISC INFORMATION */
        memset(b, 0, 34);
        put16(b, 32);
        b[2] = 0x0e; /* complete disc, complete session */
        b[3] = 1;    /* first track */
        b[4] = 1;    /* sessions */
        b[5] = 1;    /* first track of the last session */
        b[6] = 1;    /* last track of the last session */
        b[7] = 0x20; /* unrestricted use */
        reply(ch, d, 34, get16(pkt + 7));
        return;
    case 0x5a:
        mode_sense(ch, d);
        return;
    case 0xbd: /* MECHANISM STATUS: no changer, one slot */
        memset(b, 0, 8);
        b[5] = 1;
        reply(ch, d, 8, get16(pkt + 8));
        return;
    default:
        dev_log(ch->ide->log, DEV_LOG_UNIMP, "atapi: command 0x%02x\n", op);
        ide_atapi_fail(ch, d, SK_ILLEGAL_REQUEST, 0x20, 0x00); /* invalid command opcode */
        return;
    }
}
