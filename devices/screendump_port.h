/*
 * screendump_port.h — Umbra's test-only "screendump-port" device
 * (-device screendump-port,iobase=N,file=PATH): a byte the guest writes to
 * the port asks the frontend to save the screen as it is now, the byte
 * numbering the picture.  Tests use it to capture exactly the moment the
 * guest has finished drawing; no real PC has it.
 */
#ifndef UMBRA_SCREENDUMP_PORT_H
#define UMBRA_SCREENDUMP_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"

struct screendump_port {
    uint16_t base;
    void (*request)(void *opaque, unsigned value);
    void *opaque;
    unsigned count; /* requests so far */
};

int screendump_port_init(struct screendump_port *p, struct bus *bus, uint16_t base,
                         void (*request)(void *opaque, unsigned value), void *opaque, char *err,
                         size_t errlen);
void screendump_port_reset(struct screendump_port *p);

#endif
