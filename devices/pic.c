/*
 * pic.c — two Intel 8259A programmable interrupt controllers, cascaded as in
 * the PC/AT (slave INT on master IR2), after the 8259A datasheet: ICW1-ICW4,
 * OCW1-OCW3, edge and level triggering, fully nested priority with rotation
 * (automatic and specific), auto-EOI, special mask mode, special fully
 * nested mode, poll command, spurious IRQ 7/15.  Only 8086 mode (ICW4 uPM=1)
 * is modelled; MCS-80 mode is logged as unimplemented and treated as 8086.
 *
 * Design choices: an edge sets IRR, which then stays set until acknowledged
 * even if the input drops (the datasheet would turn that into a spurious
 * IRQ 7): devices here pulse lines in zero time, so latching is what keeps
 * their interrupts from being lost.  The slave's output drives the master's
 * IR2 input through the same input logic as any device, so cascading needs
 * no special case beyond the acknowledge cycle.  Edge/level per input comes
 * from the PIIX ELCR (ICW1.LTIM forces the whole chip to level).
 */
#include "devices/pic.h"

#include <stdio.h>
#include <string.h>

static bool is_level(const struct pic_chip *c, unsigned irq)
{
    return c->ltim || (c->elcr & (1u << irq));
}

/* Priority of the highest-priority bit of mask (0 = highest), 8 if none. */
static unsigned priority(const struct pic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    unsigned p = 0;
    while (!(mask & (1u << ((p + c->priority_add) & 7))))
        p++;
    return p;
}

/* The input the chip would interrupt with now, or -1. */
static int chip_pending(const struct pic_chip *c, bool master)
{
    uint8_t req = c->irr & ~c->imr;
    unsigned p = priority(c, req);
    if (p == 8)
        return -1;
    uint8_t in_service = c->isr;
    /* Special mask mode: a masked in-service level does not block others. */
    if (c->special_mask)
        in_service &= ~c->imr;
    /* Special fully nested: the slave may interrupt while its own (cascade)
     * level is in service, so higher-priority slave inputs get through. */
    if (c->sfnm && master)
        in_service &= ~(1u << 2);
    if (p < priority(c, in_service))
        return (int)((p + c->priority_add) & 7);
    return -1;
}

static void chip_input(struct pic_chip *c, unsigned irq, bool level)
{
    uint8_t m = (uint8_t)(1u << irq);
    if (is_level(c, irq)) {
        if (level)
            c->irr |= m;
        else
            c->irr &= ~m;
    } else if (level && !(c->line & m)) {
        c->irr |= m;
    }
    if (level)
        c->line |= m;
    else
        c->line &= ~m;
}

static void pic_update(struct pic *p)
{
    chip_input(&p->chip[0], 2, chip_pending(&p->chip[1], false) >= 0);
    bool out = chip_pending(&p->chip[0], true) >= 0;
    if (out != p->out_level) {
        p->out_level = out;
        irq_set(&p->out, out);
    }
}

void pic_set_irq(struct pic *p, int irq, bool level)
{
    if (irq < 0 || irq > 15)
        return;
    chip_input(&p->chip[irq >> 3], irq & 7, level);
    pic_update(p);
}

static void pic_line_set(void *opaque, int line, bool level) { pic_set_irq(opaque, line, level); }

struct irq_line pic_irq_line(struct pic *p, int irq)
{
    return (struct irq_line){pic_line_set, p, irq};
}

/* The acknowledge of input irq: ISR set (or the AEOI rotation), edge IRR
 * cleared; a level input's IRR keeps following its line. */
static void chip_ack(struct pic_chip *c, unsigned irq)
{
    if (c->auto_eoi) {
        if (c->rotate_on_aeoi)
            c->priority_add = (irq + 1) & 7;
    } else {
        c->isr |= (uint8_t)(1u << irq);
    }
    if (!is_level(c, irq))
        c->irr &= ~(1u << irq);
}

uint8_t pic_ack(struct pic *p)
{
    struct pic_chip *m = &p->chip[0], *s = &p->chip[1];
    int irq = chip_pending(m, true);
    uint8_t vec;
    if (irq < 0) {
        vec = m->vector_base | 7; /* spurious IRQ 7: no ISR bit */
    } else {
        chip_ack(m, (unsigned)irq);
        if (irq == 2 && !m->single) {
            int sirq = chip_pending(s, false);
            if (sirq >= 0) {
                chip_ack(s, (unsigned)sirq);
                vec = s->vector_base | (uint8_t)sirq;
            } else {
                vec = s->vector_base | 7; /* spurious IRQ 15: master's IR2 stays in service */
            }
        } else {
            vec = m->vector_base | (uint8_t)irq;
        }
    }
    pic_update(p);
    return vec;
}

static void chip_eoi(struct pic_chip *c, unsigned irq, bool rotate)
{
    c->isr &= ~(1u << irq);
    if (rotate)
        c->priority_add = (irq + 1) & 7;
}

static void chip_command(struct pic *p, struct pic_chip *c, uint8_t v)
{
    if (v & 0x10) { /* ICW1 */
        if (!(v & 0x01) || (v & 0x04))
            dev_log(p->log, DEV_LOG_UNIMP, "pic: ICW1 0x%02x (no ICW4 / interval 4)\n", v);
        c->init4 = v & 0x01;
        c->single = v & 0x02;
        c->ltim = v & 0x08;
        c->init_state = 1;
        /* Initialization clears the edge-sense latch, ISR and IMR, sets
         * IR0 highest priority, clears special mask and selects IRR reads. */
        c->line = 0;
        c->irr &= c->elcr;
        c->isr = 0;
        c->imr = 0;
        c->priority_add = 0;
        c->special_mask = false;
        c->read_isr = false;
        c->poll = false;
        c->auto_eoi = false;
        c->rotate_on_aeoi = false;
        c->sfnm = false;
    } else if (v & 0x08) { /* OCW3 */
        if (v & 0x04)
            c->poll = true;
        if (v & 0x02)
            c->read_isr = v & 0x01;
        if (v & 0x40)
            c->special_mask = (v >> 5) & 1;
    } else { /* OCW2 */
        unsigned cmd = v >> 5, level = v & 7, pr;
        switch (cmd) {
        case 0: /* clear rotate in AEOI */
        case 4: /* set rotate in AEOI */
            c->rotate_on_aeoi = cmd == 4;
            break;
        case 1: /* non-specific EOI */
        case 5: /* rotate on non-specific EOI */
            pr = priority(c, c->isr);
            if (pr != 8)
                chip_eoi(c, (pr + c->priority_add) & 7, cmd == 5);
            break;
        case 3: /* specific EOI */
        case 7: /* rotate on specific EOI */
            chip_eoi(c, level, cmd == 7);
            break;
        case 6: /* set priority: level becomes the lowest */
            c->priority_add = (level + 1) & 7;
            break;
        default: /* 2: no operation */
            break;
        }
    }
    pic_update(p);
}

static void chip_data(struct pic *p, struct pic_chip *c, uint8_t v)
{
    switch (c->init_state) {
    case 0: /* OCW1 */
        c->imr = v;
        break;
    case 1: /* ICW2 */
        c->vector_base = v & 0xf8;
        c->init_state = c->single ? (c->init4 ? 3 : 0) : 2;
        break;
    case 2: /* ICW3 */
        c->icw3 = v;
        c->init_state = c->init4 ? 3 : 0;
        break;
    default: /* ICW4 */
        if (!(v & 0x01))
            dev_log(p->log, DEV_LOG_UNIMP, "pic: ICW4 MCS-80 mode\n");
        c->auto_eoi = v & 0x02;
        c->sfnm = v & 0x10;
        c->init_state = 0;
        break;
    }
    pic_update(p);
}

/* A poll command turns the next read into an acknowledge of this chip. */
static uint8_t chip_poll(struct pic *p, struct pic_chip *c)
{
    c->poll = false;
    int irq = chip_pending(c, c == &p->chip[0]);
    if (irq < 0)
        return 0;
    chip_ack(c, (unsigned)irq);
    pic_update(p);
    return 0x80 | (uint8_t)irq;
}

static uint32_t pic_read(void *opaque, uint16_t off, unsigned size, struct pic_chip *c)
{
    struct pic *p = opaque;
    if (c->poll)
        return chip_poll(p, c);
    if (off == 0)
        return c->read_isr ? c->isr : c->irr;
    return c->imr;
}

static uint32_t master_read(void *opaque, uint16_t off, unsigned size)
{
    return pic_read(opaque, off, size, &((struct pic *)opaque)->chip[0]);
}
static uint32_t slave_read(void *opaque, uint16_t off, unsigned size)
{
    return pic_read(opaque, off, size, &((struct pic *)opaque)->chip[1]);
}

static void pic_write(struct pic *p, struct pic_chip *c, uint16_t off, uint8_t v)
{
    if (off == 0)
        chip_command(p, c, v);
    else
        chip_data(p, c, v);
}
static void master_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pic *p = opaque;
    pic_write(p, &p->chip[0], off, (uint8_t)v);
}
static void slave_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pic *p = opaque;
    pic_write(p, &p->chip[1], off, (uint8_t)v);
}

static uint32_t elcr_read(void *opaque, uint16_t off, unsigned size)
{
    return ((struct pic *)opaque)->chip[off & 1].elcr;
}
static void elcr_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pic *p = opaque;
    struct pic_chip *c = &p->chip[off & 1];
    c->elcr = (uint8_t)v & c->elcr_mask;
    /* A level input's IRR follows its line from now on. */
    c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->line & c->elcr));
    pic_update(p);
}

void pic_reset(struct pic *p)
{
    for (int i = 0; i < 2; i++) {
        struct pic_chip *c = &p->chip[i];
        uint8_t line = c->line;
        memset(c, 0, sizeof *c);
        c->line = line; /* device lines keep their levels across a reset */
        /* PIIX: IRQ0/1/2 and IRQ8/13 are always edge-triggered. */
        c->elcr_mask = i ? 0xde : 0xf8;
    }
    p->out_level = false;
    irq_lower(&p->out);
}

int pic_init(struct pic *p, struct bus *bus, struct irq_line out, const struct dev_log *log,
             char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->log = log;
    pic_reset(p);
    if (bus_register(bus, 0x20, 2, BUS_W8, "pic-master", master_read, master_write, p, err,
                     errlen) ||
        bus_register(bus, 0xa0, 2, BUS_W8, "pic-slave", slave_read, slave_write, p, err,
                     errlen) ||
        bus_register(bus, 0x4d0, 2, BUS_W8, "pic-elcr", elcr_read, elcr_write, p, err, errlen))
        return -1;
    return 0;
}

#define PIC_CHIP_FIELDS(X)                                                                   \
    X(irr) X(isr) X(imr) X(line) X(elcr) X(vector_base) X(priority_add) X(icw3) X(init_state) \
    X(init4) X(single) X(ltim) X(auto_eoi) X(rotate_on_aeoi) X(sfnm) X(read_isr) X(poll)      \
    X(special_mask)

void pic_save(struct pic *p, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "pic.version", &version, sizeof version);
    static const char *const names[2] = {"pic.master.", "pic.slave."};
    char name[64];
    for (int i = 0; i < 2; i++) {
        struct pic_chip *c = &p->chip[i];
#define X(f)                                                                                 \
    snprintf(name, sizeof name, "%s%s", names[i], #f);                                       \
    state_put(s, name, &c->f, sizeof c->f);
        PIC_CHIP_FIELDS(X)
#undef X
    }
}

int pic_load(struct pic *p, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "pic.version", &version, sizeof version) || version != 1)
        return -1;
    static const char *const names[2] = {"pic.master.", "pic.slave."};
    char name[64];
    for (int i = 0; i < 2; i++) {
        struct pic_chip *c = &p->chip[i];
#define X(f)                                                                                 \
    snprintf(name, sizeof name, "%s%s", names[i], #f);                                       \
    state_get(s, name, &c->f, sizeof c->f);
        PIC_CHIP_FIELDS(X)
#undef X
        c->elcr &= c->elcr_mask;
        c->init_state &= 3;
    }
    p->out_level = chip_pending(&p->chip[0], true) >= 0;
    irq_set(&p->out, p->out_level);
    return 0;
}
