/*
 * sysctl.c — PS/2-style system control port A at 0x92 (bit 1: A20 gate,
 * bit 0: fast reset on a 0→1 write; other bits read back as written) and the
 * POST code port 0x80.
 *
 * Design choice: A20 starts enabled, as it is on QEMU's PC after reset and
 * as a multiboot loader expects; a BIOS that wants it off clears bit 1.
 */
#include "devices/sysctl.h"

static uint32_t port92_read(void *opaque, uint16_t off, unsigned size)
{
    return ((struct sysctl *)opaque)->port92;
}

static void port92_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct sysctl *s = opaque;
    uint8_t old = s->port92;
    s->port92 = (uint8_t)(v & ~1u);
    if ((old ^ v) & 2)
        s->set_a20(s->opaque, v & 2);
    if (v & 1)
        s->reset(s->opaque);
}

static uint32_t post_read(void *opaque, uint16_t off, unsigned size)
{
    return ((struct sysctl *)opaque)->post;
}

static void post_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    ((struct sysctl *)opaque)->post = (uint8_t)v;
}

void sysctl_reset(struct sysctl *s)
{
    s->port92 = 0x02;
    s->post = 0;
    s->set_a20(s->opaque, true);
}

int sysctl_init(struct sysctl *s, struct bus *bus, void (*set_a20)(void *, bool),
                void (*reset)(void *), void *opaque, char *err, size_t errlen)
{
    *s = (struct sysctl){.set_a20 = set_a20, .reset = reset, .opaque = opaque};
    sysctl_reset(s);
    if (bus_register(bus, 0x92, 1, BUS_W8, "port92", port92_read, port92_write, s, err, errlen) ||
        bus_register(bus, 0x80, 1, BUS_W8, "post", post_read, post_write, s, err, errlen))
        return -1;
    return 0;
}

void sysctl_save(struct sysctl *s, struct state_buf *b)
{
    uint32_t version = 1;
    state_put(b, "sysctl.version", &version, sizeof version);
    state_put(b, "sysctl.port92", &s->port92, 1);
    state_put(b, "sysctl.post", &s->post, 1);
}

int sysctl_load(struct sysctl *s, const struct state_buf *b)
{
    uint32_t version;
    if (state_get(b, "sysctl.version", &version, sizeof version) || version != 1)
        return -1;
    state_get(b, "sysctl.port92", &s->port92, 1);
    state_get(b, "sysctl.post", &s->post, 1);
    s->set_a20(s->opaque, s->port92 & 2);
    return 0;
}
