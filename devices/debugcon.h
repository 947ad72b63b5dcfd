/*
 * debugcon.h — QEMU's isa-debugcon: bytes written to port 0x402 go to a
 * character backend (SeaBIOS's debug log).
 */
#ifndef UMBRA_DEBUGCON_H
#define UMBRA_DEBUGCON_H

#include "devices/bus.h"
#include "devices/chardev.h"

#define DEBUGCON_PORT 0x402
/* What a read returns: QEMU's "readback" value, by which SeaBIOS tells
 * that the port is present. */
#define DEBUGCON_READBACK 0xe9

struct debugcon {
    struct chardev be;
};

int debugcon_init(struct debugcon *d, struct bus *bus, const struct chardev *be, char *err,
                  size_t errlen);
void debugcon_reset(struct debugcon *d);

#endif
