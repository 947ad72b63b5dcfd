/*
 * i440fx.h — the Intel 82441FX PCI and Memory Controller (PMC), the host
 * bridge of a 440FX PC: device 00.0 on PCI bus 0.
 */
#ifndef UMBRA_I440FX_H
#define UMBRA_I440FX_H

#include "devices/pci.h"
#include "mmu/mmu.h"

/* The BIOS area PAM0-6 steer: 0xF0000-0xFFFFF (PAM0 high nibble), then
 * 0xC0000-0xEFFFF in 16 KiB segments, two per register (PAM1-6). */
#define I440FX_PAM_SEGMENTS 13

struct i440fx {
    struct pci_device dev;
    /* PAM0-6 (0x59-0x5f) steer the 0xC0000-0xFFFFF BIOS area between ROM
     * and shadow RAM; called on every change (NULL: not modelled yet). */
    void (*pam_changed)(void *opaque, unsigned reg, uint8_t value);
    void *opaque;
    /* Shadow RAM (i440fx_attach_pam): the guest-physical windows PAM
     * switches; a segment's ROM side (reads with RE clear) is rom[i], or
     * nothing (NULL: all-ones). */
    struct mmu *mmu;
    int window[I440FX_PAM_SEGMENTS];
    const uint8_t *rom[I440FX_PAM_SEGMENTS];
};

int i440fx_init(struct i440fx *h, struct pci_bus *bus, char *err, size_t errlen);
void i440fx_reset(struct i440fx *h);
/* Put 0xC0000-0xFFFFF under PAM control: with a segment's RE bit clear its
 * reads go to the ROM behind it -- the last bios_low_size bytes (at most
 * 128 KiB) of the firmware at the top of 0xFFFFF, `bios_low` -- and with WE
 * clear its writes are dropped.  Without this call the area is plain RAM
 * (kernels loaded without firmware).  Applies the current PAM values. */
int i440fx_attach_pam(struct i440fx *h, struct mmu *mmu, const uint8_t *bios_low,
                      size_t bios_low_size, char *err, size_t errlen);
/* Segment i's range (0 = 0xF0000, 1.. = 0xC0000 + 16 KiB steps). */
void i440fx_pam_segment(unsigned i, uint32_t *start, uint32_t *size);
void i440fx_save(struct i440fx *h, struct state_buf *s);
int i440fx_load(struct i440fx *h, const struct state_buf *s);

#endif
