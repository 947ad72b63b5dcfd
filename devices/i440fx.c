/*
 * i440fx.c — Intel 82441FX PMC (440FX PCIset datasheet, §3.2 "PCI
 * configuration space"): vendor 8086, device 1237, revision 02, class host
 * bridge, with the chipset registers at their power-on values — PMCCFG,
 * DRAM control and timing, PAM0-6, DRB0-7, FDHC, MTT, CLT, SMRAM, ERRCMD,
 * ERRSTS (write-one-to-clear), TRC.
 *
 * Design choice: the registers are storage except PAM0-6, since
 * the emulated memory has no timings to program and no SMM exists.  Each
 * PAM nibble steers one segment of the BIOS area: RE (bit 0/4) sends reads
 * to DRAM instead of PCI (where the PIIX decodes the BIOS flash), WE (bit
 * 1/5) sends writes to DRAM instead of PCI (where nothing takes them).  A
 * segment is one mmu window routed accordingly, so a BIOS can copy itself to
 * shadow RAM and write-protect it; CE (bit 2/6) has no effect without a
 * cache.  The bus-wide parts (configuration mechanism, BARs) live in pci.c.
 */
#include "devices/i440fx.h"

#include <stdio.h>
#include <string.h>

enum {
    PMCCFG = 0x50,
    DRAMC = 0x57,
    DRAMT = 0x58,
    PAM0 = 0x59,
    DRB0 = 0x60,
    FDHC = 0x68,
    MTT = 0x70,
    CLT = 0x71,
    SMRAM = 0x72,
    ERRCMD = 0x90,
    ERRSTS = 0x91,
    TRC = 0x93
};

void i440fx_pam_segment(unsigned i, uint32_t *start, uint32_t *size)
{
    *start = i == 0 ? 0xf0000u : 0xc0000u + (i - 1) * 0x4000u;
    *size = i == 0 ? 0x10000u : 0x4000u;
}

/* Segment i's nibble: PAM0 bits 7:4 for 0xF0000; then PAM1 low, PAM1 high... */
static uint8_t pam_bits(const struct i440fx *h, unsigned i)
{
    if (i == 0)
        return h->dev.config[PAM0] >> 4;
    uint8_t v = h->dev.config[PAM0 + 1 + (i - 1) / 2];
    return (i - 1) % 2 ? v >> 4 : v & 0x0f;
}

static void pam_apply(struct i440fx *h)
{
    if (!h->mmu)
        return;
    for (unsigned i = 0; i < I440FX_PAM_SEGMENTS; i++) {
        uint8_t b = pam_bits(h, i);
        mmu_route_window(h->mmu, h->window[i], b & 1, h->rom[i], b & 2);
    }
}

static void config_written(struct pci_device *d, uint8_t off, unsigned size)
{
    struct i440fx *h = d->opaque;
    bool pam = false;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        if (o >= PAM0 && o < PAM0 + 7) {
            pam = true;
            if (h->pam_changed)
                h->pam_changed(h->opaque, o - PAM0, d->config[o]);
        }
    }
    if (pam)
        pam_apply(h);
}

int i440fx_attach_pam(struct i440fx *h, struct mmu *mmu, const uint8_t *bios_low,
                      size_t bios_low_size, char *err, size_t errlen)
{
    if (bios_low_size > 0x20000)
        bios_low_size = 0x20000;
    for (unsigned i = 0; i < I440FX_PAM_SEGMENTS; i++) {
        uint32_t start, size;
        i440fx_pam_segment(i, &start, &size);
        /* The firmware's tail ends at 0xFFFFF; segments it covers read it. */
        uint32_t rom_start = 0x100000u - (uint32_t)bios_low_size;
        h->rom[i] = bios_low && start >= rom_start ? bios_low + (start - rom_start) : NULL;
        h->window[i] = mmu_map_window(mmu, start, size, "pam");
        if (h->window[i] < 0) {
            snprintf(err, errlen, "cannot map the PAM window at 0x%05x", start);
            return -1;
        }
    }
    h->mmu = mmu;
    pam_apply(h);
    return 0;
}

void i440fx_reset(struct i440fx *h)
{
    uint8_t *c = h->dev.config;
    c[PCI_COMMAND] = 0x06; /* memory and bus master are always on */
    c[PCI_STATUS] = 0x80;
    c[PCI_STATUS + 1] = 0x02;
    c[PMCCFG] = 0x00;
    c[PMCCFG + 1] = 0x00;
    c[0x53] = 0x80;
    c[DRAMC] = 0x01;
    c[DRAMT] = 0x10;
    for (int i = 0; i < 7; i++)
        c[PAM0 + i] = 0;
    for (int i = 0; i < 8; i++)
        c[DRB0 + i] = 0x01;
    c[FDHC] = 0;
    c[MTT] = 0x20;
    c[CLT] = 0x10;
    c[SMRAM] = 0x02;
    c[ERRCMD] = 0;
    c[ERRSTS] = 0;
    c[TRC] = 0;
    if (h->pam_changed)
        for (unsigned i = 0; i < 7; i++)
            h->pam_changed(h->opaque, i, 0);
    pam_apply(h);
}

int i440fx_init(struct i440fx *h, struct pci_bus *bus, char *err, size_t errlen)
{
    memset(h, 0, sizeof *h);
    struct pci_device *d = &h->dev;
    pci_device_init(d, "i440fx", 0x8086, 0x1237, 0x02, 0x060000, 0x00);
    d->opaque = h;
    d->config_written = config_written;
    d->wmask[PCI_COMMAND] = 0x40;     /* parity error response only */
    d->wmask[PCI_COMMAND + 1] = 0x01; /* SERR */
    d->wmask[PCI_INTERRUPT_LINE] = 0;
    memset(&d->wmask[PMCCFG], 0xff, 2);
    memset(&d->wmask[0x53], 0xff, 5);              /* 0x53-0x57 */
    memset(&d->wmask[DRAMT], 0xff, 1 + 7 + 8 + 1); /* DRAMT, PAM0-6, DRB0-7, FDHC */
    d->wmask[PAM0] = 0x70; /* bits 3:0 and 7 of the PAMs are reserved */
    memset(&d->wmask[PAM0 + 1], 0x77, 6);
    d->wmask[MTT] = 0xf8;
    d->wmask[CLT] = 0xf8;
    d->wmask[SMRAM] = 0x78; /* D_OPEN, D_CLS, D_LCK, G_SMRAME; C_BASE fixed at A0000 */
    d->wmask[ERRCMD] = 0xff;
    d->w1cmask[ERRSTS] = 0xff;
    d->wmask[TRC] = 0xff;
    i440fx_reset(h);
    return pci_register(bus, d, 0x00, err, errlen);
}

void i440fx_save(struct i440fx *h, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "i440fx.version", &version, sizeof version);
    pci_device_save(&h->dev, "i440fx", s);
}

int i440fx_load(struct i440fx *h, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "i440fx.version", &version, sizeof version) || version != 1) return -1;
    if (pci_device_load(&h->dev, "i440fx", s)) return -1;
    if (h->pam_changed)
        for (unsigned i = 0; i < 7; i++)
            h->pam_changed(h->opaque, i, h->dev.config[PAM0 + i]);
    pam_apply(h);
    return 0;
}
