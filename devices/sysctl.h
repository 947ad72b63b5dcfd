/*
 * sysctl.h — System control port A (0x92: fast A20 gate and fast reset) and
 * the POST diagnostic port 0x80 (written by BIOSes, and by Linux as an I/O
 * delay).
 */
#ifndef UMBRA_SYSCTL_H
#define UMBRA_SYSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/state.h"

struct sysctl {
    uint8_t port92;
    uint8_t post; /* last POST code */
    void (*set_a20)(void *opaque, bool enabled);
    void (*reset)(void *opaque); /* a guest-requested reset */
    void *opaque;
};

int sysctl_init(struct sysctl *s, struct bus *bus, void (*set_a20)(void *, bool),
                void (*reset)(void *), void *opaque, char *err, size_t errlen);
void sysctl_reset(struct sysctl *s);
void sysctl_save(struct sysctl *s, struct state_buf *b);
int sysctl_load(struct sysctl *s, const struct state_buf *b);

#endif
