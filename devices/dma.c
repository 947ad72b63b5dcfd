/*
 * dma.c — the two Intel 8237A DMA controllers of the PC/AT (8237A
 * datasheet; port map and page registers as in the IBM PC/AT technical
 * reference and the PIIX3's ISA DMA): controller 1 serves the 8-bit
 * channels 0-3 at ports 0x00-0x0f, controller 2 the 16-bit channels 4-7 at
 * the even ports 0xc0-0xde.  Address and count registers are 16 bits, written
 * and read low byte first through the byte-pointer flip-flop; a page register
 * gives the high address bits.  An 8-bit channel's address wraps inside its
 * 64 KiB page; a 16-bit channel counts words, its address register holds A1-A16
 * and bit 0 of its page register is ignored, so it wraps inside 128 KiB.
 * The mode register sets verify / write (I/O to memory) / read, autoinit,
 * decrement and demand/single/block/cascade; the status register reports
 * terminal count (cleared by reading) and requests.
 *
 * Design choices: a transfer is performed at once when the device asks for it
 * (the device models its medium's timing), so demand, single and block mode
 * behave alike.  The cascade of controller 1 through channel 4 is not
 * enforced (neither is it by QEMU): with -kernel there is no firmware to
 * unmask channel 4, and guests never rely on a masked channel 4 stopping the
 * 8-bit channels.  Memory-to-memory transfers (command bit 0) are not
 * implemented and are logged under -d unimp.
 */
#include "devices/dma.h"

#include <stdio.h>
#include <string.h>

/* The page register (offset from 0x80) of each channel; channel 4's (0x8f)
 * is the refresh page, kept for read-back only. */
static const uint8_t page_port[DMA_CHANNELS] = {0x7, 0x3, 0x1, 0x2, 0xf, 0xb, 0x9, 0xa};

static bool is16(unsigned ch) { return ch >= 4; }

static struct dma_ctrl *ctrl_of(struct dma *d, unsigned ch) { return &d->ctrl[ch >> 2]; }

bool dma_channel_ready(struct dma *d, unsigned ch)
{
    if (ch >= DMA_CHANNELS)
        return false;
    const struct dma_channel *c = &d->ch[ch];
    return !c->masked && !(ctrl_of(d, ch)->command & DMA_CMD_DISABLE) &&
           (c->mode & DMA_MODE_MODE) != DMA_MODE_CASCADE;
}

uint8_t dma_transfer_type(struct dma *d, unsigned ch)
{
    return ch < DMA_CHANNELS ? d->ch[ch].mode & DMA_MODE_XFER : DMA_MODE_VERIFY;
}

/* Tell the devices of controller k whose requests can now be served. */
static void ctrl_kick(struct dma *d, unsigned k)
{
    for (unsigned ch = k * 4; ch < k * 4 + 4; ch++) {
        struct dma_channel *c = &d->ch[ch];
        if (c->dreq && c->ready && dma_channel_ready(d, ch))
            c->ready(c->ready_opaque);
    }
}

void dma_register_channel(struct dma *d, unsigned ch, void (*ready)(void *opaque), void *opaque)
{
    if (ch >= DMA_CHANNELS)
        return;
    d->ch[ch].ready = ready;
    d->ch[ch].ready_opaque = opaque;
}

void dma_set_dreq(struct dma *d, unsigned ch, bool level)
{
    if (ch < DMA_CHANNELS)
        d->ch[ch].dreq = level;
}

static uint32_t chan_phys(struct dma *d, unsigned ch)
{
    const struct dma_channel *c = &d->ch[ch];
    uint8_t page = d->page_regs[page_port[ch]];
    if (is16(ch))
        return (uint32_t)(page & 0xfe) << 16 | (uint32_t)c->cur_addr << 1;
    return (uint32_t)page << 16 | c->cur_addr;
}

size_t dma_transfer(struct dma *d, unsigned ch, void *buf, size_t len, bool to_memory, bool *tc)
{
    if (tc)
        *tc = false;
    if (!dma_channel_ready(d, ch))
        return 0;
    struct dma_channel *c = &d->ch[ch];
    unsigned unit = is16(ch) ? 2 : 1;
    uint8_t type = c->mode & DMA_MODE_XFER;
    bool touch = type == (to_memory ? DMA_MODE_WRITE : DMA_MODE_READ);
    if (!touch && type != DMA_MODE_VERIFY)
        dev_log(d->log, DEV_LOG_GUEST_ERRORS,
                "dma: channel %u is in %s mode but the device %s memory: verify cycles\n", ch,
                type == DMA_MODE_READ ? "read" : type == DMA_MODE_WRITE ? "write" : "illegal",
                to_memory ? "writes" : "reads");
    bool down = c->mode & DMA_MODE_DECREMENT;
    uint8_t *p = buf;
    size_t units = len / unit, done = 0;
    bool reached = false;
    while (done < units && !reached) {
        /* Units to the end of the count, and to the page wrap. */
        size_t n = (size_t)c->cur_count + 1;
        if (n > units - done)
            n = units - done;
        size_t to_wrap = down ? 1 : 0x10000u - c->cur_addr;
        if (n > to_wrap)
            n = to_wrap;
        uint32_t gpa = chan_phys(d, ch);
        size_t bytes = n * unit;
        if (touch && to_memory)
            mmu_phys_write(d->mmu, gpa, p, (uint32_t)bytes);
        else if (touch)
            mmu_phys_read(d->mmu, gpa, p, (uint32_t)bytes);
        else if (!to_memory)
            memset(p, 0xff, bytes);
        p += bytes;
        done += n;
        c->cur_addr = (uint16_t)(down ? c->cur_addr - n : c->cur_addr + n);
        reached = c->cur_count < n; /* counts from N down through 0 to 0xffff: N+1 units */
        c->cur_count = (uint16_t)(c->cur_count - n);
    }
    if (reached) {
        ctrl_of(d, ch)->status_tc |= (uint8_t)(1u << (ch & 3));
        if (c->mode & DMA_MODE_AUTOINIT) {
            c->cur_addr = c->base_addr;
            c->cur_count = c->base_count;
        } else {
            c->masked = true; /* EOP without autoinit sets the mask bit */
        }
    }
    if (tc)
        *tc = reached;
    return done * unit;
}

static void ctrl_master_clear(struct dma *d, unsigned k)
{
    struct dma_ctrl *r = &d->ctrl[k];
    r->command = 0;
    r->status_tc = 0;
    r->temp = 0;
    r->flipflop = false;
    for (unsigned ch = k * 4; ch < k * 4 + 4; ch++) {
        d->ch[ch].masked = true;
        d->ch[ch].sw_request = false;
    }
}

/* Controller k's register reg (0-15). */
static uint8_t ctrl_read(struct dma *d, unsigned k, unsigned reg)
{
    struct dma_ctrl *r = &d->ctrl[k];
    if (reg < 8) {
        struct dma_channel *c = &d->ch[k * 4 + (reg >> 1)];
        uint16_t v = reg & 1 ? c->cur_count : c->cur_addr;
        uint8_t b = (uint8_t)(r->flipflop ? v >> 8 : v);
        r->flipflop = !r->flipflop;
        return b;
    }
    switch (reg) {
    case 8: { /* status: TC bits (cleared by the read) and requests */
        uint8_t v = r->status_tc & 0x0f;
        for (unsigned i = 0; i < 4; i++) {
            const struct dma_channel *c = &d->ch[k * 4 + i];
            if (c->dreq || c->sw_request)
                v |= (uint8_t)(0x10u << i);
        }
        r->status_tc = 0;
        return v;
    }
    case 13:
        return r->temp;
    case 15: { /* the mask bits (readable on the PIIX) */
        uint8_t v = 0xf0;
        for (unsigned i = 0; i < 4; i++)
            if (d->ch[k * 4 + i].masked)
                v |= (uint8_t)(1u << i);
        return v;
    }
    default: /* write-only registers */
        dev_log(d->log, DEV_LOG_GUEST_ERRORS, "dma%u: read of write-only register %u\n", k + 1,
                reg);
        return 0xff;
    }
}

static void ctrl_write(struct dma *d, unsigned k, unsigned reg, uint8_t v)
{
    struct dma_ctrl *r = &d->ctrl[k];
    if (reg < 8) {
        struct dma_channel *c = &d->ch[k * 4 + (reg >> 1)];
        uint16_t *base = reg & 1 ? &c->base_count : &c->base_addr;
        uint16_t *cur = reg & 1 ? &c->cur_count : &c->cur_addr;
        *base = r->flipflop ? (uint16_t)((*base & 0x00ff) | v << 8) : (uint16_t)((*base & 0xff00) | v);
        *cur = *base;
        r->flipflop = !r->flipflop;
        return;
    }
    unsigned ch = k * 4 + (v & 3);
    switch (reg) {
    case 8: /* command */
        r->command = v;
        if (v & 0x01)
            dev_log(d->log, DEV_LOG_UNIMP, "dma%u: memory-to-memory transfers\n", k + 1);
        ctrl_kick(d, k);
        break;
    case 9: /* request */
        d->ch[ch].sw_request = v & 4;
        break;
    case 10: /* single mask bit */
        d->ch[ch].masked = v & 4;
        ctrl_kick(d, k);
        break;
    case 11: /* mode */
        d->ch[ch].mode = v;
        break;
    case 12:
        r->flipflop = false;
        break;
    case 13:
        ctrl_master_clear(d, k);
        break;
    case 14: /* clear all mask bits */
        for (unsigned i = 0; i < 4; i++)
            d->ch[k * 4 + i].masked = false;
        ctrl_kick(d, k);
        break;
    case 15: /* write all mask bits */
        for (unsigned i = 0; i < 4; i++)
            d->ch[k * 4 + i].masked = v & (1u << i);
        ctrl_kick(d, k);
        break;
    }
}

static uint32_t dma1_read(void *opaque, uint16_t off, unsigned size)
{
    (void)size;
    return ctrl_read(opaque, 0, off);
}
static void dma1_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    (void)size;
    ctrl_write(opaque, 0, off, (uint8_t)v);
}
/* Controller 2 decodes A1-A4: its registers sit at the even ports. */
static uint32_t dma2_read(void *opaque, uint16_t off, unsigned size)
{
    (void)size;
    if (off & 1)
        return 0xff;
    return ctrl_read(opaque, 1, off >> 1);
}
static void dma2_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    (void)size;
    if (!(off & 1))
        ctrl_write(opaque, 1, off >> 1, (uint8_t)v);
}
/* Page registers: offset 0 of the range is port 0x81. */
static uint32_t page_read(void *opaque, uint16_t off, unsigned size)
{
    (void)size;
    return ((struct dma *)opaque)->page_regs[off + 1];
}
static void page_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    (void)size;
    ((struct dma *)opaque)->page_regs[off + 1] = (uint8_t)v;
}

int dma_init(struct dma *d, struct bus *bus, struct mmu *mmu, const struct dev_log *log,
             char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->mmu = mmu;
    d->log = log;
    dma_reset(d);
    if (bus_register(bus, 0x00, 16, BUS_W8, "dma1", dma1_read, dma1_write, d, err, errlen) ||
        bus_register(bus, 0xc0, 32, BUS_W8, "dma2", dma2_read, dma2_write, d, err, errlen) ||
        bus_register(bus, 0x81, 15, BUS_W8, "dma-page", page_read, page_write, d, err, errlen))
        return -1;
    return 0;
}

void dma_reset(struct dma *d)
{
    for (unsigned ch = 0; ch < DMA_CHANNELS; ch++) {
        struct dma_channel *c = &d->ch[ch];
        c->base_addr = c->base_count = c->cur_addr = c->cur_count = 0;
        c->mode = 0;
    }
    memset(d->page_regs, 0, sizeof d->page_regs);
    ctrl_master_clear(d, 0);
    ctrl_master_clear(d, 1);
}

#define DMA_CH_FIELDS(X) X(base_addr) X(base_count) X(cur_addr) X(cur_count) X(mode) X(masked) \
    X(sw_request)
#define DMA_CTRL_FIELDS(X) X(command) X(status_tc) X(temp) X(flipflop)

void dma_save(struct dma *d, struct state_buf *s)
{
    uint32_t version = 1;
    char name[48];
    state_put(s, "dma.version", &version, sizeof version);
    state_put(s, "dma.page_regs", d->page_regs, sizeof d->page_regs);
    for (unsigned i = 0; i < DMA_CHANNELS; i++) {
#define X(f)                                                                                   \
    snprintf(name, sizeof name, "dma.ch%u." #f, i);                                          \
    state_put(s, name, &d->ch[i].f, sizeof d->ch[i].f);
        DMA_CH_FIELDS(X)
#undef X
    }
    for (unsigned i = 0; i < 2; i++) {
#define X(f)                                                                                   \
    snprintf(name, sizeof name, "dma.ctrl%u." #f, i);                                        \
    state_put(s, name, &d->ctrl[i].f, sizeof d->ctrl[i].f);
        DMA_CTRL_FIELDS(X)
#undef X
    }
}

int dma_load(struct dma *d, const struct state_buf *s)
{
    uint32_t version;
    char name[48];
    if (state_get(s, "dma.version", &version, sizeof version) || version != 1)
        return -1;
    state_get(s, "dma.page_regs", d->page_regs, sizeof d->page_regs);
    for (unsigned i = 0; i < DMA_CHANNELS; i++) {
#define X(f)                                                                                   \
    snprintf(name, sizeof name, "dma.ch%u." #f, i);                                          \
    state_get(s, name, &d->ch[i].f, sizeof d->ch[i].f);
        DMA_CH_FIELDS(X)
#undef X
    }
    for (unsigned i = 0; i < 2; i++) {
#define X(f)                                                                                   \
    snprintf(name, sizeof name, "dma.ctrl%u." #f, i);                                        \
    state_get(s, name, &d->ctrl[i].f, sizeof d->ctrl[i].f);
        DMA_CTRL_FIELDS(X)
#undef X
    }
    return 0;
}
