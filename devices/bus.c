/*
 * bus.c — port I/O dispatch.
 *
 * One byte per port maps it to its range, so a lookup is one load.  Width
 * adaptation, in order: an access the device takes as is goes straight
 * through; an access wider than the device implements, or one that crosses
 * into another range, is split into halves (each half dispatched anew, so a
 * dword can straddle two devices); an access narrower than any width the
 * device implements is widened to the smallest implemented width at the
 * naturally aligned port, the read result shifted down and a write's value
 * shifted into place with the other bytes zero (as an ISA bus with a 16-bit
 * only card behaves).  Unmapped ports read all-ones, like a floating ISA bus.
 */
#include "devices/bus.h"

#include <stdio.h>
#include <string.h>

void bus_init(struct bus *b, const struct dev_log *log)
{
    memset(b, 0, sizeof *b);
    b->log = log;
}

int bus_register(struct bus *b, uint16_t base, uint32_t len, unsigned widths, const char *name,
                 bus_read_fn read, bus_write_fn write, void *opaque, char *err, size_t errlen)
{
    if (len == 0 || base + len > 0x10000u || !(widths & (BUS_W8 | BUS_W16 | BUS_W32)) ||
        (widths & ~(BUS_W8 | BUS_W16 | BUS_W32))) {
        snprintf(err, errlen, "I/O ports of %s: bad range 0x%x+%u or widths 0x%x", name, base,
                 len, widths);
        return -1;
    }
    for (uint32_t p = base; p < base + len; p++) {
        if (b->map[p]) {
            const struct bus_range *o = &b->ranges[b->map[p] - 1];
            snprintf(err, errlen, "I/O ports 0x%x-0x%x of %s overlap 0x%x-0x%x of %s", base,
                     base + len - 1, name, o->base, o->base + o->len - 1, o->name);
            return -1;
        }
    }
    unsigned idx = 0;
    while (idx < b->nranges && b->ranges[idx].live)
        idx++;
    if (idx == BUS_MAX_RANGES) {
        snprintf(err, errlen, "I/O ports of %s: too many port ranges", name);
        return -1;
    }
    if (idx == b->nranges)
        b->nranges++;
    b->ranges[idx] = (struct bus_range){base, len, widths, name, read, write, opaque, true};
    memset(&b->map[base], (int)(idx + 1), len);
    return 0;
}

void bus_unregister(struct bus *b, uint16_t base)
{
    unsigned i = b->map[base];
    if (!i || b->ranges[i - 1].base != base)
        return;
    struct bus_range *r = &b->ranges[i - 1];
    memset(&b->map[base], 0, r->len);
    r->live = false;
}

static inline uint32_t ones(unsigned size) { return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

static const struct bus_range *range_of(struct bus *b, uint32_t port)
{
    unsigned i = b->map[port & 0xffff];
    return i ? &b->ranges[i - 1] : NULL;
}

static bool all_unmapped(struct bus *b, uint32_t port, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        if (b->map[(port + i) & 0xffff])
            return false;
    return true;
}

/* Does r take this access as it is? */
static bool direct(const struct bus_range *r, uint32_t port, unsigned size)
{
    return (r->widths & size) && port + size <= r->base + r->len;
}

/* Should the access be split into halves?  Yes if it leaves r, or if r does
 * not take it directly but implements a narrower width. */
static bool split(const struct bus_range *r, uint32_t port, unsigned size)
{
    if (size == 1)
        return false;
    if (port + size > r->base + r->len)
        return true;
    return !(r->widths & size) && (r->widths & (size - 1));
}

/* The widening for a narrow access: width and aligned port, or 0. */
static unsigned widen(const struct bus_range *r, uint32_t port, unsigned size, uint32_t *aligned)
{
    for (unsigned w = size * 2; w <= 4; w *= 2) {
        if (!(r->widths & w))
            continue;
        uint32_t a = port & ~(uint32_t)(w - 1);
        if (a >= r->base && a + w <= r->base + r->len) {
            *aligned = a;
            return w;
        }
    }
    return 0;
}

static uint32_t bus_read(struct bus *b, uint32_t port, unsigned size)
{
    port &= 0xffff;
    const struct bus_range *r = range_of(b, port);
    if (!r || split(r, port, size)) {
        if (all_unmapped(b, port, size)) {
            dev_log(b->log, DEV_LOG_UNIMP, "unmapped I/O read%u port 0x%04x\n", 8 * size, port);
            return ones(size);
        }
        /* Low half first, as the hardware's cycles would go (separate
         * statements: side effects such as FIFO pops must be ordered). */
        unsigned h = size / 2;
        uint32_t lo = bus_read(b, port, h);
        uint32_t hi = bus_read(b, port + h, h);
        return lo | hi << (8 * h);
    }
    if (direct(r, port, size))
        return r->read ? r->read(r->opaque, (uint16_t)(port - r->base), size) & ones(size)
                       : ones(size);
    uint32_t a;
    unsigned w = widen(r, port, size, &a);
    if (!w || !r->read)
        return ones(size);
    return (r->read(r->opaque, (uint16_t)(a - r->base), w) >> (8 * (port - a))) & ones(size);
}

static void bus_write(struct bus *b, uint32_t port, uint32_t value, unsigned size)
{
    port &= 0xffff;
    value &= ones(size);
    const struct bus_range *r = range_of(b, port);
    if (!r || split(r, port, size)) {
        if (all_unmapped(b, port, size)) {
            dev_log(b->log, DEV_LOG_UNIMP, "unmapped I/O write%u port 0x%04x value 0x%x\n",
                    8 * size, port, value);
            return;
        }
        unsigned h = size / 2;
        bus_write(b, port, value & ones(h), h);
        bus_write(b, port + h, value >> (8 * h), h);
        return;
    }
    if (!r->write)
        return;
    if (direct(r, port, size)) {
        r->write(r->opaque, (uint16_t)(port - r->base), value, size);
        return;
    }
    uint32_t a;
    unsigned w = widen(r, port, size, &a);
    if (w)
        r->write(r->opaque, (uint16_t)(a - r->base), value << (8 * (port - a)), w);
}

uint32_t bus_in(void *bus, uint16_t port, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        return 0xffffffffu;
    return bus_read(bus, port, size);
}

void bus_out(void *bus, uint16_t port, uint32_t value, unsigned size)
{
    if (size == 1 || size == 2 || size == 4)
        bus_write(bus, port, value, size);
}
