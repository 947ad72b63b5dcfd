/*
 * piix3.c — Intel 82371SB PIIX3 function 0, the PCI-to-ISA bridge (PIIX3
 * datasheet §2.2 "PCI to ISA bridge configuration registers"): vendor 8086,
 * device 7000, multi-function header; IORT, XBCS, the PIRQ route control
 * registers PIRQRC[A:D] (0x60-0x63: bit 7 disables routing, bits 3-0 the
 * IRQ; IRQs 0-2, 8 and 13 are reserved), TOM, MSTAT, the motherboard IRQ
 * and DMA registers, APICBASE, DLC and the SMI registers as storage; and the
 * reset control register at I/O 0xCF9 (bit 2 RCPU: a 0→1 write resets, bit
 * 1 SRST selects hard or soft reset).
 *
 * Design choice: the ISA interrupt lines are combined here, because on the
 * board the PIRQ router drives the same ISA IRQ lines as the ISA devices:
 * an IRQ line is asserted while its device or any PIRQ routed to it is.  A
 * PIRQ routed to a reserved IRQ is logged and not connected.
 */
#include "devices/piix3.h"

#include <string.h>

enum {
    IORT = 0x4c,
    XBCS = 0x4e,
    PIRQRC = 0x60,
    TOM = 0x69,
    MSTAT = 0x6a,
    MBIRQ0 = 0x70,
    MBDMA0 = 0x76,
    PCSC = 0x78,
    APICBASE = 0x80,
    DLC = 0x82,
    SMICNTL = 0xa0,
    FTMR = 0xa8
};

#define RC_SRST 0x02
#define RC_RCPU 0x04

int piix3_pirq_route(const struct piix3 *p, int pirq)
{
    uint8_t v = p->dev.config[PIRQRC + pirq];
    unsigned irq = v & 0x0f;
    if (v & 0x80 || irq < 3 || irq == 8 || irq == 13) return -1;
    return (int)irq;
}

/* Recompute every ISA IRQ line and drive those that changed. */
static void update(struct piix3 *p)
{
    uint16_t level = p->isa_level;
    for (int x = 0; x < 4; x++) {
        int irq = piix3_pirq_route(p, x);
        if (irq >= 0 && p->dev.bus && p->dev.bus->pirq_level[x]) level |= (uint16_t)(1u << irq);
    }
    uint16_t changed = level ^ p->out_level;
    p->out_level = level;
    for (int irq = 0; irq < 16; irq++) {
        if (!(changed & (1u << irq))) continue;
        bool l = level & (1u << irq);
        if (p->pic.set) p->pic.set(p->pic.opaque, irq, l);
        /* IRQ 2 is the cascade, not an ISA line: its I/O APIC input is
         * IRQ 0's. */
        if (p->ioapic.set && irq != 2) p->ioapic.set(p->ioapic.opaque, piix3_isa_gsi(irq), l);
    }
}

static void isa_set(void *opaque, int irq, bool level)
{
    struct piix3 *p = opaque;
    if (irq < 0 || irq > 15) return;
    if (level)
        p->isa_level |= (uint16_t)(1u << irq);
    else
        p->isa_level &= (uint16_t) ~(1u << irq);
    /* While a PIRQ holds the line up, a device's pulse makes no edge —
     * as on the board's wired-OR line. */
    update(p);
}

struct irq_line piix3_isa_irq(struct piix3 *p, int irq)
{
    return (struct irq_line){isa_set, p, irq};
}

static void pirq_set(void *opaque, int pirq, bool level)
{
    update(opaque);
}

static void config_written(struct pci_device *d, uint8_t off, unsigned size)
{
    struct piix3 *p = d->opaque;
    if (off < PIRQRC + 4 && off + size > PIRQRC) {
        for (int x = 0; x < 4; x++) {
            uint8_t v = d->config[PIRQRC + x];
            unsigned irq = v & 0x0f;
            if (!(v & 0x80) && (irq < 3 || irq == 8 || irq == 13))
                dev_log(d->bus->log, DEV_LOG_GUEST_ERRORS,
                        "piix3: PIRQ%c routed to reserved IRQ %u\n", 'A' + x, irq);
        }
        update(p);
    }
}

static uint32_t rc_read(void *opaque, uint16_t off, unsigned size)
{
    return ((struct piix3 *)opaque)->rc;
}

static void rc_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct piix3 *p = opaque;
    uint8_t old = p->rc;
    p->rc = (uint8_t)(v & (RC_SRST | RC_RCPU));
    if ((v & RC_RCPU) && !(old & RC_RCPU) && p->reset) p->reset(p->opaque);
}

void piix3_reset(struct piix3 *p)
{
    uint8_t *c = p->dev.config;
    c[PCI_COMMAND] = 0x07;
    c[PCI_STATUS] = 0x00;
    c[PCI_STATUS + 1] = 0x02;
    c[IORT] = 0x4d;
    c[XBCS] = 0x03;
    c[XBCS + 1] = 0x00;
    memset(&c[PIRQRC], 0x80, 4);
    c[TOM] = 0x02;
    c[MSTAT] = c[MSTAT + 1] = 0;
    c[MBIRQ0] = c[MBIRQ0 + 1] = 0x80;
    c[MBDMA0] = c[MBDMA0 + 1] = 0x0c;
    c[PCSC] = 0x02;
    c[PCSC + 1] = 0x00;
    c[APICBASE] = 0;
    c[DLC] = 0;
    c[SMICNTL] = 0x08;
    c[FTMR] = 0x0f;
    p->rc = 0;
    update(p);
}

int piix3_init(struct piix3 *p, struct pci_bus *bus, uint8_t devfn, struct irq_line pic,
               struct irq_line ioapic, void (*reset)(void *), void *opaque, char *err,
               size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->pic = pic;
    p->ioapic = ioapic;
    p->reset = reset;
    p->opaque = opaque;
    struct pci_device *d = &p->dev;
    /* Multi-function: the IDE controller is function 1. */
    pci_device_init(d, "piix3", 0x8086, 0x7000, 0x00, 0x060100, 0x80);
    d->opaque = p;
    d->config_written = config_written;
    d->wmask[PCI_COMMAND] = 0x08; /* special cycles; I/O, memory and master are fixed on */
    d->wmask[PCI_INTERRUPT_LINE] = 0;
    memset(&d->wmask[IORT], 0xff, 0xb0 - IORT);
    d->wmask[TOM - 1] = 0; /* reserved 0x68 */
    if (pci_register(bus, d, devfn, err, errlen)) return -1;
    bus->set_pirq = pirq_set;
    bus->pirq_opaque = p;
    bus->cf9_read = rc_read;
    bus->cf9_write = rc_write;
    bus->cf9_opaque = p;
    piix3_reset(p);
    return 0;
}

uint16_t piix3_firmware_route_irqs(struct piix3 *p)
{
    static const uint8_t route[4] = {10, 10, 11, 11};
    struct pci_bus *b = p->dev.bus;
    uint16_t used = 0;
    for (int x = 0; x < 4; x++)
        pci_config_write(b, 0, p->dev.devfn, (uint8_t)(PIRQRC + x), route[x], 1);
    for (unsigned i = 0; i < b->ndevices; i++) {
        struct pci_device *d = b->list[i];
        int x = pci_device_pirq(d);
        if (x < 0) continue;
        pci_config_write(b, 0, d->devfn, PCI_INTERRUPT_LINE, route[x], 1);
        used |= (uint16_t)(1u << route[x]);
    }
    return used;
}

void piix3_save(struct piix3 *p, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "piix3.version", &version, sizeof version);
    pci_device_save(&p->dev, "piix3", s);
    state_put(s, "piix3.rc", &p->rc, sizeof p->rc);
    state_put(s, "piix3.isa_level", &p->isa_level, sizeof p->isa_level);
}

int piix3_load(struct piix3 *p, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "piix3.version", &version, sizeof version) || version != 1) return -1;
    if (pci_device_load(&p->dev, "piix3", s)) return -1;
    state_get(s, "piix3.rc", &p->rc, sizeof p->rc);
    state_get(s, "piix3.isa_level", &p->isa_level, sizeof p->isa_level);
    p->rc &= RC_SRST | RC_RCPU;
    /* Drive every line afresh. */
    uint16_t want = p->isa_level;
    for (int x = 0; x < 4; x++) {
        int irq = piix3_pirq_route(p, x);
        if (irq >= 0 && p->dev.bus->pirq_level[x]) want |= (uint16_t)(1u << irq);
    }
    p->out_level = (uint16_t)~want;
    update(p);
    return 0;
}
