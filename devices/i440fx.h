/*
 * i440fx.h — the Intel 82441FX PCI and Memory Controller (PMC), the host
 * bridge of a 440FX PC: device 00.0 on PCI bus 0.
 */
#ifndef UMBRA_I440FX_H
#define UMBRA_I440FX_H

#include "devices/pci.h"

struct i440fx {
    struct pci_device dev;
    /* PAM0-6 (0x59-0x5f) steer the 0xC0000-0xFFFFF BIOS area between ROM
     * and shadow RAM; called on every change (NULL: not modelled yet). */
    void (*pam_changed)(void *opaque, unsigned reg, uint8_t value);
    void *opaque;
};

int i440fx_init(struct i440fx *h, struct pci_bus *bus, char *err, size_t errlen);
void i440fx_reset(struct i440fx *h);
void i440fx_save(struct i440fx *h, struct state_buf *s);
int i440fx_load(struct i440fx *h, const struct state_buf *s);

#endif
