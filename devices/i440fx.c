/*
 * i440fx.c — Intel 82441FX PMC (440FX PCIset datasheet, §3.2 "PCI
 * configuration space"): vendor 8086, device 1237, revision 02, class host
 * bridge, with the chipset registers at their power-on values — PMCCFG,
 * DRAM control and timing, PAM0-6, DRB0-7, FDHC, MTT, CLT, SMRAM, ERRCMD,
 * ERRSTS (write-one-to-clear), TRC.
 *
 * Design choice: the registers are storage; only PAM changes are announced
 * (to whoever will switch the BIOS area between ROM and shadow RAM), since
 * the emulated memory has no timings to program and no SMM exists.  The
 * bus-wide parts (configuration mechanism, BARs) live in pci.c.
 */
#include "devices/i440fx.h"

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

static void config_written(struct pci_device *d, uint8_t off, unsigned size)
{
    struct i440fx *h = d->opaque;
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        if (o >= PAM0 && o < PAM0 + 7 && h->pam_changed)
            h->pam_changed(h->opaque, o - PAM0, d->config[o]);
    }
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
    return 0;
}
