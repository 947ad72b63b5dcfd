/*
 * screendump_port.c — the test-only screendump request port (see the
 * header).  The write is acted on synchronously, inside the OUT instruction,
 * so the picture shows exactly what the guest had drawn before it.  Reads
 * return how many screendumps were requested, which lets a guest check the
 * device is there.
 */
#include "devices/screendump_port.h"

static uint32_t port_read(void *opaque, uint16_t off, unsigned size)
{
    (void)off;
    (void)size;
    return ((struct screendump_port *)opaque)->count & 0xff;
}

static void port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct screendump_port *p = opaque;
    (void)off;
    (void)size;
    p->count++;
    if (p->request) p->request(p->opaque, v & 0xff);
}

int screendump_port_init(struct screendump_port *p, struct bus *bus, uint16_t base,
                         void (*request)(void *opaque, unsigned value), void *opaque, char *err,
                         size_t errlen)
{
    p->base = base;
    p->request = request;
    p->opaque = opaque;
    p->count = 0;
    return bus_register(bus, base, 1, BUS_W8, "screendump-port", port_read, port_write, p, err,
                        errlen);
}

void screendump_port_reset(struct screendump_port *p) { p->count = 0; }
