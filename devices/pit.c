/*
 * pit.c — Intel 8254 programmable interval timer (8254 datasheet): three
 * 16-bit down counters at 1.193182 MHz, modes 0-5, binary or BCD, LSB/MSB
 * access, counter latch and read-back commands; channel 0 drives IRQ0,
 * channel 2's gate and output appear on port 0x61.
 *
 * Design choice: counters are never stepped.  Each channel remembers the
 * clock time its count started; its count and output at any moment are
 * computed from the ticks elapsed since then.  Only channel 0 needs events:
 * one clock timer armed at the next rising edge of its output, where IRQ0 is
 * pulsed (lowered and raised) so the edge-triggered PIC sees every period
 * even if the host delivered the timer late.  Simplifications: a new count
 * written in modes 2/3 takes effect at once rather than at the end of the
 * current period; the one-tick delay before a written count is loaded is
 * not modelled.
 */
#include "devices/pit.h"

#include <stdio.h>
#include <string.h>

static uint64_t ns_to_ticks(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * PIT_HZ / 1000000000u);
}

/* The first clock time at which tick t has happened (ceiling). */
static uint64_t ticks_to_ns(uint64_t t)
{
    return (uint64_t)(((unsigned __int128)t * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

static uint64_t ch_ticks(struct pit *p, const struct pit_channel *c, uint64_t now)
{
    if (!c->counting)
        return 0;
    if (!c->gate && c->mode != 1 && c->mode != 5)
        return c->paused_d;
    return now >= c->load_ns ? ns_to_ticks(now - c->load_ns) : 0;
}

/* Effective period for the periodic modes (a count of 1 is illegal there). */
static uint64_t period(const struct pit_channel *c) { return c->count < 2 ? 2 : c->count; }

static bool ch_out(const struct pit_channel *c, uint64_t d)
{
    if (!c->counting)
        return c->mode != 0; /* mode 0 goes low on the control word */
    uint64_t n = c->count, r;
    switch (c->mode) {
    case 0:
    case 1:
        return d >= n;
    case 2:
        if (!c->gate)
            return true;
        r = d % period(c);
        return r != period(c) - 1;
    case 3:
        if (!c->gate)
            return true;
        r = d % period(c);
        return r < (period(c) + 1) / 2;
    default: /* 4, 5: a one-tick low strobe when the count reaches zero */
        return d != n;
    }
}

/* The tick of the next rising edge of the output after tick d, or 0. */
static uint64_t ch_next_rise(const struct pit_channel *c, uint64_t d)
{
    if (!c->counting)
        return 0;
    switch (c->mode) {
    case 0:
    case 1:
        return d < c->count ? c->count : 0;
    case 2:
    case 3:
        return c->gate ? (d / period(c) + 1) * period(c) : 0;
    default:
        return d < c->count + 1 ? c->count + 1 : 0;
    }
}

/* Rising edges in (from, to]. */
static bool ch_rose(const struct pit_channel *c, uint64_t from, uint64_t to)
{
    if (!c->counting || to <= from)
        return false;
    switch (c->mode) {
    case 0:
    case 1:
        return from < c->count && to >= c->count;
    case 2:
    case 3:
        return c->gate && to / period(c) > from / period(c);
    default:
        return from < c->count + 1 && to >= c->count + 1;
    }
}

static uint32_t ch_counter(const struct pit_channel *c, uint64_t d)
{
    uint64_t n = c->count;
    if (!c->counting)
        return n & 0xffff;
    uint64_t wrap = c->bcd ? 10000 : 65536;
    switch (c->mode) {
    case 2:
        return (uint32_t)(period(c) - d % period(c)) % wrap;
    case 3:
        /* Counts down by two, reloading at each half period. */
        return (uint32_t)(period(c) - (2 * d) % period(c)) % wrap;
    default:
        return (uint32_t)((n + wrap * (d / wrap + 1) - d) % wrap);
    }
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

/* Re-evaluate channel 0's output now and arm the timer for its next rise. */
static void pit_update_irq(struct pit *p, bool pulse_if_rose)
{
    struct pit_channel *c = &p->ch[0];
    uint64_t now = clock_now_ns(p->clock);
    uint64_t d = ch_ticks(p, c, now);
    if (pulse_if_rose && ch_rose(c, c->last_d, d))
        irq_lower(&p->irq0);
    irq_set(&p->irq0, ch_out(c, d));
    c->last_d = d;
    uint64_t rise = ch_next_rise(c, d);
    if (rise && (c->gate || c->mode == 1 || c->mode == 5))
        clock_timer_arm(&p->timer, c->load_ns + ticks_to_ns(rise));
    else
        clock_timer_cancel(&p->timer);
}

static void pit_timer_cb(void *opaque) { pit_update_irq(opaque, true); }

static void ch_changed(struct pit *p, struct pit_channel *c)
{
    if (c == &p->ch[0])
        pit_update_irq(p, false);
}

static void ch_load(struct pit *p, struct pit_channel *c, uint32_t v)
{
    if (c->bcd)
        v = (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
    if (v == 0)
        v = c->bcd ? 10000 : 65536;
    c->count = v;
    c->null_count = false;
    c->load_ns = clock_now_ns(p->clock);
    c->paused_d = 0;
    /* Modes 1 and 5 wait for a gate trigger. */
    c->counting = c->mode != 1 && c->mode != 5;
    ch_changed(p, c);
}

static void ch_latch(struct pit *p, struct pit_channel *c)
{
    if (c->latched)
        return; /* a second latch before the first is read is ignored */
    uint32_t v = ch_counter(c, ch_ticks(p, c, clock_now_ns(p->clock)));
    c->latch_value = c->bcd ? to_bcd(v) : (uint16_t)v;
    c->latched = true;
    c->latch_msb = c->rw == 2;
}

static void ch_latch_status(struct pit *p, struct pit_channel *c)
{
    if (c->status_latched)
        return;
    bool out = ch_out(c, ch_ticks(p, c, clock_now_ns(p->clock)));
    c->status = (uint8_t)(out << 7 | c->null_count << 6 | c->rw << 4 | c->mode << 1 | c->bcd);
    c->status_latched = true;
}

static void pit_control(struct pit *p, uint8_t v)
{
    unsigned sc = v >> 6;
    if (sc == 3) { /* read-back: bits 1-3 select, bit 5 = !COUNT, bit 4 = !STATUS */
        for (int i = 0; i < 3; i++) {
            if (!(v & (2u << i)))
                continue;
            if (!(v & 0x20))
                ch_latch(p, &p->ch[i]);
            if (!(v & 0x10))
                ch_latch_status(p, &p->ch[i]);
        }
        return;
    }
    struct pit_channel *c = &p->ch[sc];
    unsigned rw = (v >> 4) & 3;
    if (rw == 0) {
        ch_latch(p, c);
        return;
    }
    c->rw = (uint8_t)rw;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4; /* 6, 7 alias modes 2, 3 */
    c->bcd = v & 1;
    c->write_msb = false;
    c->read_msb = false;
    c->latched = false;
    c->null_count = true;
    c->counting = false;
    ch_changed(p, c);
}

static void ch_write(struct pit *p, struct pit_channel *c, uint8_t v)
{
    switch (c->rw) {
    case 1:
        ch_load(p, c, v);
        break;
    case 2:
        ch_load(p, c, (uint32_t)v << 8);
        break;
    default:
        if (!c->write_msb) {
            c->write_lsb = v;
            c->write_msb = true;
            /* Mode 0: writing the first byte stops the count. */
            if (c->mode == 0 && c->counting) {
                c->paused_d = ch_ticks(p, c, clock_now_ns(p->clock));
                c->counting = false;
                ch_changed(p, c);
            }
        } else {
            c->write_msb = false;
            ch_load(p, c, c->write_lsb | (uint32_t)v << 8);
        }
        break;
    }
}

static uint8_t ch_read(struct pit *p, struct pit_channel *c)
{
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->latched) {
        uint8_t b = c->latch_msb ? c->latch_value >> 8 : c->latch_value & 0xff;
        if (c->rw == 3 && !c->latch_msb)
            c->latch_msb = true;
        else
            c->latched = false;
        return b;
    }
    uint32_t v = ch_counter(c, ch_ticks(p, c, clock_now_ns(p->clock)));
    uint16_t w = c->bcd ? to_bcd(v) : (uint16_t)v;
    bool msb = c->rw == 2 || (c->rw == 3 && c->read_msb);
    if (c->rw == 3)
        c->read_msb = !c->read_msb;
    return msb ? w >> 8 : w & 0xff;
}

static void ch_set_gate(struct pit *p, struct pit_channel *c, bool gate)
{
    if (gate == c->gate)
        return;
    uint64_t now = clock_now_ns(p->clock);
    if (!gate) {
        c->paused_d = ch_ticks(p, c, now);
        c->gate = false;
    } else {
        c->gate = true;
        switch (c->mode) {
        case 1:
        case 5:
        case 2:
        case 3: /* a rising gate (re)starts the count */
            if (c->count && !c->null_count) {
                c->load_ns = now;
                c->counting = true;
            }
            break;
        default: /* 0, 4: resume where counting stopped */
            c->load_ns = now - ticks_to_ns(c->paused_d);
            break;
        }
    }
    ch_changed(p, c);
}

static uint32_t pit_port_read(void *opaque, uint16_t off, unsigned size)
{
    struct pit *p = opaque;
    if (off == 3)
        return 0xff; /* the control word register is write-only */
    return ch_read(p, &p->ch[off]);
}

static void pit_port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pit *p = opaque;
    if (off == 3)
        pit_control(p, (uint8_t)v);
    else
        ch_write(p, &p->ch[off], (uint8_t)v);
}

bool pit_out(struct pit *p, int ch)
{
    struct pit_channel *c = &p->ch[ch];
    return ch_out(c, ch_ticks(p, c, clock_now_ns(p->clock)));
}

uint32_t pit_counter(struct pit *p, int ch)
{
    struct pit_channel *c = &p->ch[ch];
    return ch_counter(c, ch_ticks(p, c, clock_now_ns(p->clock)));
}

/* Port 0x61: bit 0 gate 2, bit 1 speaker data, bits 2-3 parity/IOCHK
 * enables (stored only); read adds bit 4, the DRAM refresh toggle (every
 * 15.085 us, from channel 1's usual programming), and bit 5, OUT2. */
static uint32_t port61_read(void *opaque, uint16_t off, unsigned size)
{
    struct pit *p = opaque;
    uint64_t now = clock_now_ns(p->clock);
    bool refresh = (now / 15085) & 1;
    return (p->port61 & 0x0f) | (uint32_t)refresh << 4 | (uint32_t)pit_out(p, 2) << 5;
}

static void port61_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pit *p = opaque;
    p->port61 = v & 0x0f;
    ch_set_gate(p, &p->ch[2], v & 1);
}

void pit_reset(struct pit *p)
{
    clock_timer_cancel(&p->timer);
    memset(p->ch, 0, sizeof p->ch);
    for (int i = 0; i < 3; i++) {
        struct pit_channel *c = &p->ch[i];
        c->rw = 3;
        c->count = 65536;
        c->gate = i != 2; /* channels 0 and 1 have their gates tied high */
    }
    p->port61 = 0;
    irq_lower(&p->irq0);
}

int pit_init(struct pit *p, struct bus *bus, struct clock *clock, struct irq_line irq0,
             const struct dev_log *log, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->clock = clock;
    p->irq0 = irq0;
    p->log = log;
    clock_timer_init(&p->timer, clock, pit_timer_cb, p, "pit-ch0");
    pit_reset(p);
    if (bus_register(bus, 0x40, 4, BUS_W8, "pit", pit_port_read, pit_port_write, p, err,
                     errlen) ||
        bus_register(bus, 0x61, 1, BUS_W8, "port61", port61_read, port61_write, p, err, errlen))
        return -1;
    return 0;
}

#define PIT_CH_FIELDS(X)                                                                     \
    X(count) X(load_ns) X(paused_d) X(mode) X(rw) X(bcd) X(gate) X(counting) X(null_count)    \
    X(write_msb) X(write_lsb) X(read_msb) X(latched) X(latch_msb) X(latch_value)              \
    X(status_latched) X(status) X(last_d)

void pit_save(struct pit *p, struct state_buf *s)
{
    uint32_t version = 1;
    char name[48];
    state_put(s, "pit.version", &version, sizeof version);
    state_put(s, "pit.port61", &p->port61, sizeof p->port61);
    for (int i = 0; i < 3; i++) {
        struct pit_channel *c = &p->ch[i];
#define X(f)                                                                                 \
    snprintf(name, sizeof name, "pit.ch%d.%s", i, #f);                                        \
    state_put(s, name, &c->f, sizeof c->f);
        PIT_CH_FIELDS(X)
#undef X
    }
}

int pit_load(struct pit *p, const struct state_buf *s)
{
    uint32_t version;
    char name[48];
    if (state_get(s, "pit.version", &version, sizeof version) || version != 1)
        return -1;
    state_get(s, "pit.port61", &p->port61, sizeof p->port61);
    for (int i = 0; i < 3; i++) {
        struct pit_channel *c = &p->ch[i];
#define X(f)                                                                                 \
    snprintf(name, sizeof name, "pit.ch%d.%s", i, #f);                                        \
    state_get(s, name, &c->f, sizeof c->f);
        PIT_CH_FIELDS(X)
#undef X
        if (c->mode > 5)
            c->mode = 0;
        if (c->rw < 1 || c->rw > 3)
            c->rw = 3;
        if (c->count == 0 || c->count > 65536)
            c->count = 65536;
    }
    pit_update_irq(p, false);
    return 0;
}
