/*
 * lapic.h — the processor's local APIC (xAPIC, as on a P6 with the
 * Pentium 4's register set): MMIO page at 0xFEE00000, LVT, timer, IPIs.
 *
 * It sits between the interrupt sources and the CPU's INTR line.  The
 * 8259's output enters as LINT0; while the APIC is disabled (globally via
 * APIC_BASE, or in software via SVR) the 8259 passes straight through, so a
 * PIC-only guest sees a PIC-only machine.
 */
#ifndef UMBRA_LAPIC_H
#define UMBRA_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/clock.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"
#include "mmu/mmu.h" /* struct mmio_ops only */

#define LAPIC_BASE_DEFAULT 0xfee00000u
#define LAPIC_VERSION 0x00050014u /* version 0x14, 6 LVT entries */
#define APIC_BASE_BSP 0x100u
#define APIC_BASE_ENABLE 0x800u

enum { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

/* Delivery modes of LVT entries, ICR and I/O APIC messages. */
enum {
    APIC_DM_FIXED = 0,
    APIC_DM_LOWEST = 1,
    APIC_DM_SMI = 2,
    APIC_DM_NMI = 4,
    APIC_DM_INIT = 5,
    APIC_DM_SIPI = 6,
    APIC_DM_EXTINT = 7
};

struct lapic {
    uint32_t id; /* APIC ID register (ID in bits 31-24) */
    uint32_t tpr, ldr, dfr, svr;
    uint32_t esr, esr_pending; /* readable ESR; errors since it was last written */
    uint32_t isr[8], irr[8], tmr[8];
    uint32_t lvt[LVT_COUNT];
    uint32_t icr_lo, icr_hi;
    uint32_t timer_initial, timer_dcr;
    uint64_t timer_start; /* clock ns at which the current count was loaded */
    bool timer_running;
    uint64_t base_msr; /* IA32_APIC_BASE as last seen */
    bool lint[2];      /* LINT0/LINT1 input levels */
    bool out_level;

    struct clock *clock;
    struct clock_timer timer;
    struct irq_line intr; /* the CPU's INTR input */
    void (*nmi)(void *opaque);
    uint8_t (*pic_ack)(void *opaque);          /* ExtINT: the 8259 gives the vector */
    void (*eoi)(void *opaque, uint8_t vector); /* level EOI to the I/O APICs */
    void *opaque;
    const struct dev_log *log;
};

extern const struct mmio_ops lapic_mmio_ops;

void lapic_init(struct lapic *l, struct clock *clock, uint8_t apic_id, struct irq_line intr,
                void (*nmi)(void *), uint8_t (*pic_ack)(void *), void (*eoi)(void *, uint8_t),
                void *opaque, const struct dev_log *log);
/* Power-on / INIT state (the ID survives). */
void lapic_reset(struct lapic *l);
void lapic_save(struct lapic *l, struct state_buf *s);
int lapic_load(struct lapic *l, const struct state_buf *s);

/* IA32_APIC_BASE changed (bit 11 enables; relocation is not supported). */
void lapic_set_base(struct lapic *l, uint64_t msr);
/* LINT0 (the 8259's INTR) and LINT1 input levels. */
void lapic_set_lint(struct lapic *l, int n, bool level);
struct irq_line lapic_lint_line(struct lapic *l, int n);
/* The CPU's interrupt acknowledge: the vector to take. */
uint8_t lapic_ack(struct lapic *l);
/* A message from an I/O APIC (or the bus): does it address this APIC, and
 * deliver it. */
bool lapic_match(const struct lapic *l, uint8_t dest, bool logical);
void lapic_deliver(struct lapic *l, uint8_t dest, bool logical, unsigned mode, uint8_t vector,
                   bool level);
/* The APIC is in use (globally and software enabled). */
bool lapic_enabled(const struct lapic *l);

#endif
