/*
 * debugexit.c — isa-debug-exit (as in QEMU's hw/misc/debugexit.c): a write
 * of value V to any of its ports asks the machine to stop with process exit
 * status (V << 1) | 1, so a guest test can never exit 0 by accident.  V is
 * the value as written at the access width.  Reads float (all-ones).  The
 * device holds no state, so there is nothing to save.
 */
#include "devices/debugexit.h"

static void debugexit_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct debugexit *d = opaque;
    if (d->stop)
        d->stop(d->opaque, (int)((v << 1) | 1));
}

void debugexit_reset(struct debugexit *d) { (void)d; }

int debugexit_init(struct debugexit *d, struct bus *bus, uint16_t base, uint16_t size,
                   void (*stop)(void *opaque, int status), void *opaque, char *err,
                   size_t errlen)
{
    *d = (struct debugexit){stop, opaque, base, size ? size : 1};
    return bus_register(bus, base, d->size, BUS_W8 | BUS_W16 | BUS_W32, "isa-debug-exit", NULL,
                        debugexit_write, d, err, errlen);
}
