/*
 * ioapic.h — the Intel 82093AA I/O APIC at 0xFEC00000: 24 interrupt inputs,
 * each with a redirection entry that turns it into a message to the local
 * APIC(s).
 */
#ifndef UMBRA_IOAPIC_H
#define UMBRA_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"
#include "mmu/mmu.h" /* struct mmio_ops only */

#define IOAPIC_BASE_DEFAULT 0xfec00000u
#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x00170011u /* version 0x11, 24 entries */

struct ioapic {
    uint8_t regsel;
    uint32_t id; /* ID register (ID in bits 27-24) */
    uint64_t redir[IOAPIC_PINS];
    uint32_t level; /* input levels */
    /* A message on the APIC bus; mode is the delivery mode (lapic.h). */
    void (*deliver)(void *opaque, uint8_t dest, bool logical, unsigned mode, uint8_t vector,
                    bool level_triggered);
    void *opaque;
    const struct dev_log *log;
};

extern const struct mmio_ops ioapic_mmio_ops;

void ioapic_init(struct ioapic *io, uint8_t id,
                 void (*deliver)(void *, uint8_t, bool, unsigned, uint8_t, bool), void *opaque,
                 const struct dev_log *log);
void ioapic_reset(struct ioapic *io);
void ioapic_save(struct ioapic *io, struct state_buf *s);
int ioapic_load(struct ioapic *io, const struct state_buf *s);

void ioapic_set_irq(struct ioapic *io, int pin, bool level);
/* A line template: the line number given to set() is the input pin. */
struct irq_line ioapic_irq_line(struct ioapic *io, int pin);
/* The local APIC's EOI of a level-triggered vector. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

#endif
