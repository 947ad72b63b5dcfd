/*
 * mptable.c — the MP configuration table (Intel MultiProcessor
 * Specification 1.4, chapter 4): the "_MP_" floating pointer (no default
 * configuration, IMCR absent: the board runs in virtual-wire mode), and a
 * "PCMP" table with, in the required order, one processor entry, the PCI
 * (id 0) and ISA (id 1) buses, one I/O APIC, I/O interrupt assignments and
 * the two local interrupt assignments (LINT0 ExtINT, LINT1 NMI).
 *
 * Design choice: the interrupt assignments follow the board as pc.c wires
 * it — ISA IRQ 0 on I/O APIC input 2, the other ISA IRQs (not 2, the
 * cascade) on the input of the same number, with "conforms to bus"
 * polarity and trigger; PCI interrupts on the inputs the PIRQ router feeds.
 * An ISA entry is left out where a PCI interrupt uses that input, since
 * the two would disagree about trigger mode (SeaBIOS does the same).
 */
#include "devices/mptable.h"

#include <string.h>

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINTR = 3, MP_LINTR = 4 };
enum { INT_INT = 0, INT_NMI = 1, INT_EXTINT = 3 };
#define BUS_PCI 0
#define BUS_ISA 1

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)-s;
}

size_t mptable_build(uint8_t *buf, size_t cap, uint32_t gpa, const struct mptable_config *cfg)
{
    uint16_t pci_gsis = 0;
    for (unsigned i = 0; i < cfg->n_pci_irqs; i++)
        if (cfg->pci_irqs[i].gsi < 16) pci_gsis |= (uint16_t)(1u << cfg->pci_irqs[i].gsi);
    unsigned n_isa = 0;
    for (int irq = 0; irq < 16; irq++) {
        int gsi = irq == 0 ? 2 : irq;
        if (irq != 2 && !(pci_gsis & (1u << gsi))) n_isa++;
    }
    unsigned entries = 1 + 2 + 1 + n_isa + cfg->n_pci_irqs + 2;
    size_t table_len = 44 + 20 + 8 * (entries - 1);
    size_t total = 16 + table_len;
    if (cap < total || (gpa & 15)) return 0;
    memset(buf, 0, total);

    /* Floating pointer structure. */
    uint8_t *fp = buf;
    memcpy(fp, "_MP_", 4);
    put32(fp + 4, gpa + 16);
    fp[8] = 1; /* length in 16-byte units */
    fp[9] = 4; /* spec revision 1.4 */
    /* fp[11]: 0 = a configuration table is present; fp[12] bit 7 = 0:
     * no IMCR, virtual wire mode. */
    fp[10] = checksum(fp, 16);

    uint8_t *t = buf + 16;
    memcpy(t, "PCMP", 4);
    put16(t + 4, (uint16_t)table_len);
    t[6] = 4;
    memcpy(t + 8, "UMBRA   ", 8);
    memcpy(t + 16, "PC          ", 12);
    put16(t + 34, (uint16_t)entries);
    put32(t + 36, cfg->lapic_addr);

    uint8_t *e = t + 44;
    e[0] = MP_PROCESSOR;
    e[1] = cfg->lapic_id;
    e[2] = cfg->lapic_version;
    e[3] = 0x03; /* enabled, bootstrap processor */
    put32(e + 4, cfg->cpu_signature);
    put32(e + 8, cfg->cpu_features);
    e += 20;

    e[0] = MP_BUS;
    e[1] = BUS_PCI;
    memcpy(e + 2, "PCI   ", 6);
    e += 8;
    e[0] = MP_BUS;
    e[1] = BUS_ISA;
    memcpy(e + 2, "ISA   ", 6);
    e += 8;

    e[0] = MP_IOAPIC;
    e[1] = cfg->ioapic_id;
    e[2] = cfg->ioapic_version;
    e[3] = 0x01; /* enabled */
    put32(e + 4, cfg->ioapic_addr);
    e += 8;

    for (int irq = 0; irq < 16; irq++) {
        int gsi = irq == 0 ? 2 : irq;
        if (irq == 2 || (pci_gsis & (1u << gsi))) continue;
        e[0] = MP_IOINTR;
        e[1] = INT_INT;
        put16(e + 2, 0); /* conforms to the bus: ISA is edge, active high */
        e[4] = BUS_ISA;
        e[5] = (uint8_t)irq;
        e[6] = cfg->ioapic_id;
        e[7] = (uint8_t)gsi;
        e += 8;
    }
    for (unsigned i = 0; i < cfg->n_pci_irqs; i++) {
        const struct mptable_pci_irq *p = &cfg->pci_irqs[i];
        e[0] = MP_IOINTR;
        e[1] = INT_INT;
        put16(e + 2, 0); /* conforms to the bus: PCI is level, active low */
        e[4] = BUS_PCI;
        e[5] = (uint8_t)(p->slot << 2 | ((p->pin - 1) & 3));
        e[6] = cfg->ioapic_id;
        e[7] = p->gsi;
        e += 8;
    }

    e[0] = MP_LINTR;
    e[1] = INT_EXTINT;
    e[4] = BUS_ISA;
    e[5] = 0;
    e[6] = 0xff; /* all local APICs */
    e[7] = 0;    /* LINTIN0 */
    e += 8;
    e[0] = MP_LINTR;
    e[1] = INT_NMI;
    e[4] = BUS_ISA;
    e[5] = 0;
    e[6] = 0xff;
    e[7] = 1; /* LINTIN1 */

    t[7] = checksum(t, table_len);
    return total;
}
