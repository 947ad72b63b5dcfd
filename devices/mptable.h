/*
 * mptable.h — an Intel MultiProcessor Specification 1.4 configuration
 * table (floating pointer + configuration table) describing this board, for
 * a direct-boot loader to place in guest memory where an OS looks for it.
 */
#ifndef UMBRA_MPTABLE_H
#define UMBRA_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

struct mptable_pci_irq {
    uint8_t slot; /* PCI device number on bus 0 */
    uint8_t pin;  /* 1 = INTA# .. 4 = INTD# */
    uint8_t gsi;  /* I/O APIC input */
};

struct mptable_config {
    uint8_t lapic_id, lapic_version;
    uint32_t lapic_addr;
    uint32_t cpu_signature; /* CPUID.1:EAX */
    uint32_t cpu_features;  /* CPUID.1:EDX */
    uint8_t ioapic_id, ioapic_version;
    uint32_t ioapic_addr;
    const struct mptable_pci_irq *pci_irqs;
    unsigned n_pci_irqs;
};

/* Build the floating pointer followed by the configuration table into buf,
 * for placement at guest-physical gpa (16-byte aligned; the spec's search
 * areas are the first KiB of the EBDA, the last KiB of base memory, or
 * 0xF0000-0xFFFFF).  Returns the size written, or 0 if cap is too small. */
size_t mptable_build(uint8_t *buf, size_t cap, uint32_t gpa, const struct mptable_config *cfg);

#endif
