/*
 * ferr.c — the PC/AT's legacy x87 error path (CR0.NE = 0).
 *
 * On an AT-compatible board the CPU's FERR# output is latched onto IRQ13;
 * DOS-era FPU error handlers acknowledge it by writing any value to port
 * 0xF0, which drops the interrupt until FERR# is asserted again.  (The
 * board also asserts IGNNE# there; the x87 model lets the instruction carry
 * on regardless, so nothing else needs modelling.)  With CR0.NE = 1 the CPU
 * raises #MF itself and this latch never sees a rising edge.
 */
#include "devices/ferr.h"

static uint32_t ferr_port_read(void *opaque, uint16_t off, unsigned size) { return 0xff; }

static void ferr_port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct ferr *f = opaque;
    f->latched = false;
    irq_lower(&f->irq);
}

void ferr_set_level(void *opaque, bool level)
{
    struct ferr *f = opaque;
    if (level && !f->latched) {
        f->latched = true;
        irq_raise(&f->irq);
    }
}

void ferr_reset(struct ferr *f)
{
    f->latched = false;
    irq_lower(&f->irq);
}

int ferr_init(struct ferr *f, struct bus *bus, struct irq_line irq, char *err, size_t errlen)
{
    *f = (struct ferr){.irq = irq};
    return bus_register(bus, 0xf0, 1, BUS_W8, "fpu-error", ferr_port_read, ferr_port_write, f,
                        err, errlen);
}

void ferr_save(struct ferr *f, struct state_buf *b)
{
    uint32_t version = 1;
    state_put(b, "ferr.version", &version, sizeof version);
    state_put(b, "ferr.latched", &f->latched, sizeof f->latched);
}

int ferr_load(struct ferr *f, const struct state_buf *b)
{
    uint32_t version;
    if (state_get(b, "ferr.version", &version, sizeof version) || version != 1)
        return -1;
    state_get(b, "ferr.latched", &f->latched, sizeof f->latched);
    irq_set(&f->irq, f->latched);
    return 0;
}
