/*
 * debugexit.h — QEMU's isa-debug-exit device, for tests: a write of V ends
 * the run with exit status (V << 1) | 1.
 */
#ifndef UMBRA_DEBUGEXIT_H
#define UMBRA_DEBUGEXIT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

struct debugexit {
    /* Called with the exit status; the machine stops at the next CPU exit. */
    void (*stop)(void *opaque, int status);
    void *opaque;
    uint16_t base, size;
};

int debugexit_init(struct debugexit *d, struct bus *bus, uint16_t base, uint16_t size,
                   void (*stop)(void *opaque, int status), void *opaque, char *err,
                   size_t errlen);
void debugexit_reset(struct debugexit *d);

#endif
