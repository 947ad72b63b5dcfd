/*
 * piix3.h — function 0 of the Intel 82371SB PIIX3: the PCI-to-ISA bridge,
 * with the PIRQ router (config 0x60-0x63) and the reset control register
 * (port 0xCF9).  The ISA interrupt lines of the board pass through here:
 * each ISA IRQ is the OR of its ISA device and of the PIRQs routed to it,
 * and goes to the 8259 pair and to the I/O APIC.  (The ELCR at 0x4D0/0x4D1
 * is modelled with the 8259s, in pic.c.)
 */
#ifndef UMBRA_PIIX3_H
#define UMBRA_PIIX3_H

#include "devices/irq.h"
#include "devices/pci.h"

struct piix3 {
    struct pci_device dev;
    uint8_t rc;         /* reset control, port 0xCF9 */
    uint16_t isa_level; /* ISA devices' lines */
    uint16_t out_level; /* what the 8259s / I/O APIC were last given */
    /* Outputs: the line number passed is the IRQ (8259) or the I/O APIC
     * input; ISA IRQ 0 enters the I/O APIC at input 2 (MP spec default). */
    struct irq_line pic;
    struct irq_line ioapic;
    void (*reset)(void *opaque); /* a hard or soft reset through 0xCF9 */
    void *opaque;
};

int piix3_init(struct piix3 *p, struct pci_bus *bus, uint8_t devfn, struct irq_line pic,
               struct irq_line ioapic, void (*reset)(void *), void *opaque, char *err,
               size_t errlen);
void piix3_reset(struct piix3 *p);
void piix3_save(struct piix3 *p, struct state_buf *s);
int piix3_load(struct piix3 *p, const struct state_buf *s);

/* The line an ISA device raises for IRQ n (0-15). */
struct irq_line piix3_isa_irq(struct piix3 *p, int irq);
/* The ISA IRQ a PIRQ (0-3) is routed to, or -1 if routing is off. */
int piix3_pirq_route(const struct piix3 *p, int pirq);
/* I/O APIC input of ISA IRQ n. */
static inline int piix3_isa_gsi(int irq)
{
    return irq == 0 ? 2 : irq;
}

/* Firmware's job before an OS, for direct boot: route PIRQ A-D to IRQ 10,
 * 10, 11, 11 (SeaBIOS's choice), write each PCI device's interrupt line, and
 * return the mask of IRQs now used by PCI (they must be level-triggered in
 * the ELCR, which the caller programs). */
uint16_t piix3_firmware_route_irqs(struct piix3 *p);

#endif
