/*
 * debugcon.c — QEMU's isa-debugcon (hw/char/debugcon.c): every byte written
 * to port 0x402 goes to the backend; reads return 0xe9, the value QEMU's
 * device answers with.  No state beyond the backend, so nothing to save.
 */
#include "devices/debugcon.h"

static uint32_t debugcon_read(void *opaque, uint16_t off, unsigned size)
{
    return DEBUGCON_READBACK;
}

static void debugcon_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct debugcon *d = opaque;
    uint8_t b = (uint8_t)v;
    if (d->be.write) d->be.write(d->be.opaque, &b, 1);
}

void debugcon_reset(struct debugcon *d)
{
    (void)d;
}

int debugcon_init(struct debugcon *d, struct bus *bus, const struct chardev *be, char *err,
                  size_t errlen)
{
    d->be = *be;
    return bus_register(bus, DEBUGCON_PORT, 1, BUS_W8, "isa-debugcon", debugcon_read,
                        debugcon_write, d, err, errlen);
}
