/* test_apic.c — the local APIC and the 82093 I/O APIC through their MMIO
 * registers, a virtual (icount) clock and an INTR/NMI sink: reset state,
 * 8259 pass-through when disabled (globally or in software) and in ExtINT
 * mode, priorities (TPR/PPR/ISR/IRR, spurious), EOI, the timer in one-shot
 * and periodic modes with its divider, masking, ESR, ICR self-IPIs and
 * harmless IPIs to absent CPUs, logical destinations, I/O APIC redirection
 * (edge, level, remote IRR, masks, EOI), the MP table, save/load, and a
 * register fuzz. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/mptable.h"

struct rig {
    struct clock clock;
    struct lapic lapic;
    struct ioapic io;
    bool intr;
    int nmis;
    int pic_acks;
    uint8_t pic_vector;
    int eois[256];
};

static void intr_sink(void *o, int line, bool level)
{
    ((struct rig *)o)->intr = level;
}
static void nmi_sink(void *o)
{
    ((struct rig *)o)->nmis++;
}
static uint8_t pic_ack(void *o)
{
    struct rig *r = o;
    r->pic_acks++;
    return r->pic_vector;
}
static void eoi_sink(void *o, uint8_t v)
{
    struct rig *r = o;
    r->eois[v]++;
    ioapic_eoi(&r->io, v);
}
static void deliver(void *o, uint8_t dest, bool logical, unsigned mode, uint8_t vector, bool level)
{
    lapic_deliver(&((struct rig *)o)->lapic, dest, logical, mode, vector, level);
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    clock_init(&r->clock, true, 0);
    lapic_init(&r->lapic, &r->clock, 0, (struct irq_line){intr_sink, r, 0}, nmi_sink, pic_ack,
               eoi_sink, r, NULL);
    ioapic_init(&r->io, 1, deliver, r, NULL);
    r->pic_vector = 0x08;
    return r;
}

static uint32_t lr(struct rig *r, uint32_t reg)
{
    return lapic_mmio_ops.read(&r->lapic, reg, 4);
}
static void lw(struct rig *r, uint32_t reg, uint32_t v)
{
    lapic_mmio_ops.write(&r->lapic, reg, v, 4);
}
static uint32_t ior(struct rig *r, uint8_t reg)
{
    ioapic_mmio_ops.write(&r->io, 0x00, reg, 1);
    return ioapic_mmio_ops.read(&r->io, 0x10, 4);
}
static void iow(struct rig *r, uint8_t reg, uint32_t v)
{
    ioapic_mmio_ops.write(&r->io, 0x00, reg, 4);
    ioapic_mmio_ops.write(&r->io, 0x10, v, 4);
}

static void run_until(struct rig *r, uint64_t t)
{
    clock_run_timers(&r->clock);
    while (clock_now_ns(&r->clock) < t) {
        uint64_t step = (uint64_t)clock_budget(&r->clock);
        if (clock_now_ns(&r->clock) + step > t) step = t - clock_now_ns(&r->clock);
        clock_account_insns(&r->clock, step);
        clock_run_timers(&r->clock);
    }
}

static void self_ipi(struct rig *r, uint8_t v)
{
    lw(r, 0x300, 0x40000u | v);
}
static void enable(struct rig *r)
{
    lw(r, 0xf0, 0x1ff);
}

START_TEST(reset_state)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(lr(r, 0x20), 0);
    ck_assert_uint_eq(lr(r, 0x30), 0x00050014);
    ck_assert_uint_eq(lr(r, 0xf0), 0xff);
    ck_assert_uint_eq(lr(r, 0xe0), 0xffffffff);
    ck_assert_uint_eq(lr(r, 0x320), 0x10000);
    ck_assert_uint_eq(lr(r, 0x350), 0x700);
    ck_assert_uint_eq(lr(r, 0x360), 0x10000);
    ck_assert_uint_eq(lr(r, 0x370), 0x10000);
    ck_assert_uint_eq(lr(r, 0x80), 0);
    ck_assert_uint_eq(lr(r, 0x390), 0);
    ck_assert(!lapic_enabled(&r->lapic));
    /* Byte reads of a register. */
    ck_assert_uint_eq(lapic_mmio_ops.read(&r->lapic, 0x32, 1), 0x05);
    /* The I/O APIC. */
    ck_assert_uint_eq(ior(r, 0x00), 0x01000000);
    ck_assert_uint_eq(ior(r, 0x01), 0x00170011);
    ck_assert_uint_eq(ior(r, 0x02), 0x01000000);
    for (int i = 0; i < 24; i++) {
        ck_assert_uint_eq(ior(r, (uint8_t)(0x10 + 2 * i)), 0x10000);
        ck_assert_uint_eq(ior(r, (uint8_t)(0x11 + 2 * i)), 0);
    }
    ck_assert_uint_eq(ioapic_mmio_ops.read(&r->io, 0x00, 1), 0x3f); /* IOREGSEL reads back */
    free(r);
}
END_TEST

START_TEST(pic_passthrough)
{
    struct rig *r = rig_new();
    /* Software-disabled: the 8259 goes straight through. */
    lapic_set_lint(&r->lapic, 0, true);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x08);
    ck_assert_int_eq(r->pic_acks, 1);
    lapic_set_lint(&r->lapic, 0, false);
    ck_assert(!r->intr);
    /* Software-disabled, masks are forced, yet the PIC still passes. */
    lw(r, 0x350, 0x700);
    ck_assert_uint_eq(lr(r, 0x350), 0x10700);
    lapic_set_lint(&r->lapic, 0, true);
    ck_assert(r->intr);
    lapic_set_lint(&r->lapic, 0, false);
    /* Enabled, LINT0 ExtINT (virtual wire). */
    enable(r);
    lw(r, 0x350, 0x700);
    lapic_set_lint(&r->lapic, 0, true);
    ck_assert(r->intr);
    r->pic_vector = 0x31;
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x31);
    ck_assert_int_eq(r->pic_acks, 2);
    ck_assert_uint_eq(lr(r, 0x100 + 0x30), 0); /* no APIC ISR bit for ExtINT */
    /* LINT0 masked: the PIC is cut off. */
    lw(r, 0x350, 0x10700);
    ck_assert(!r->intr);
    /* LINT0 fixed: a rising edge becomes the LVT vector. */
    lapic_set_lint(&r->lapic, 0, false);
    lw(r, 0x350, 0x00045);
    lapic_set_lint(&r->lapic, 0, true);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x45);
    lw(r, 0xb0, 0);
    ck_assert(!r->intr); /* edge: no repeat while held */
    /* LINT1 NMI. */
    lw(r, 0x360, 0x400);
    lapic_set_lint(&r->lapic, 1, true);
    ck_assert_int_eq(r->nmis, 1);
    /* Globally disabled: PIC passes whatever LINT0 says; LINT1 is NMI. */
    lapic_set_lint(&r->lapic, 0, false);
    lapic_set_base(&r->lapic, LAPIC_BASE_DEFAULT | APIC_BASE_BSP);
    ck_assert_uint_eq(lr(r, 0x30), 0xffffffff); /* not decoded */
    lapic_set_lint(&r->lapic, 0, true);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x31);
    lapic_set_lint(&r->lapic, 1, false);
    lapic_set_lint(&r->lapic, 1, true);
    ck_assert_int_eq(r->nmis, 2);
    lapic_set_lint(&r->lapic, 0, false);
    /* Re-enabled: the power-up state. */
    lapic_set_base(&r->lapic, LAPIC_BASE_DEFAULT | APIC_BASE_BSP | APIC_BASE_ENABLE);
    ck_assert_uint_eq(lr(r, 0xf0), 0xff);
    ck_assert_uint_eq(lr(r, 0x350), 0x700);
    free(r);
}
END_TEST

START_TEST(priorities_and_eoi)
{
    struct rig *r = rig_new();
    self_ipi(r, 0x40); /* dropped: software-disabled */
    ck_assert(!r->intr);
    enable(r);
    self_ipi(r, 0x40);
    ck_assert(r->intr);
    ck_assert_uint_eq(lr(r, 0x200 + 0x20), 1); /* IRR bit 0x40 */
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x40);
    ck_assert(!r->intr);
    ck_assert_uint_eq(lr(r, 0x100 + 0x20), 1);
    ck_assert_uint_eq(lr(r, 0xa0), 0x40);
    self_ipi(r, 0x35); /* lower class: waits */
    ck_assert(!r->intr);
    self_ipi(r, 0x4f); /* same class: waits */
    ck_assert(!r->intr);
    self_ipi(r, 0x51); /* higher: nests */
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x51);
    lw(r, 0xb0, 0); /* EOI the 0x51 */
    ck_assert(!r->intr);
    ck_assert_uint_eq(lr(r, 0xa0), 0x40);
    lw(r, 0xb0, 0); /* EOI the 0x40: 0x4f then 0x35 */
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x4f);
    lw(r, 0xb0, 0);
    /* TPR holds 0x35 back. */
    lw(r, 0x80, 0x30);
    ck_assert_uint_eq(lr(r, 0xa0), 0x30);
    ck_assert(!r->intr);
    lw(r, 0x80, 0x20);
    ck_assert(r->intr);
    /* TPR raised between INTR and INTA: spurious vector, nothing in service. */
    lw(r, 0x80, 0x40);
    ck_assert(!r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0xff);
    ck_assert_uint_eq(lr(r, 0x100 + 0x30), 0);
    lw(r, 0x80, 0);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x35);
    lw(r, 0xb0, 0);
    lw(r, 0xb0, 0); /* an EOI with nothing in service is harmless */
    ck_assert(!r->intr);
    ck_assert_int_eq(r->eois[0x35], 0); /* edge: no EOI message */
    /* Spurious vector programmable; disabling masks every LVT entry. */
    lw(r, 0xf0, 0x1e7);
    ck_assert_uint_eq(lr(r, 0xf0), 0x1e7);
    lw(r, 0x320, 0x30);
    lw(r, 0xf0, 0x0e7);
    ck_assert_uint_eq(lr(r, 0x320), 0x10030);
    ck_assert_uint_eq(lr(r, 0x350), 0x10700);
    free(r);
}
END_TEST

START_TEST(timer)
{
    struct rig *r = rig_new();
    enable(r);
    lw(r, 0x3e0, 0x3);  /* divide by 16 */
    lw(r, 0x320, 0x30); /* one-shot, vector 0x30 */
    lw(r, 0x380, 1000);
    run_until(r, 8000);
    ck_assert_uint_eq(lr(r, 0x390), 500);
    ck_assert(!r->intr);
    run_until(r, 15999);
    ck_assert(!r->intr);
    run_until(r, 16000);
    ck_assert(r->intr);
    ck_assert_uint_eq(lr(r, 0x390), 0);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x30);
    lw(r, 0xb0, 0);
    run_until(r, 100000);
    ck_assert(!r->intr); /* one-shot */
    /* Periodic, divide by 2 (0): 20 us period. */
    lw(r, 0x3e0, 0x0);
    lw(r, 0x320, 0x20031);
    lw(r, 0x380, 10000);
    int n = 0;
    uint64_t t0 = clock_now_ns(&r->clock);
    while (clock_now_ns(&r->clock) < t0 + 100000) {
        run_until(r, clock_now_ns(&r->clock) + 1000);
        if (r->intr) {
            ck_assert_uint_eq(lapic_ack(&r->lapic), 0x31);
            lw(r, 0xb0, 0);
            n++;
        }
    }
    ck_assert_int_eq(n, 5);
    ck_assert_uint_eq(lr(r, 0x390), 10000);
    /* Masked: no interrupts, the count goes on. */
    lw(r, 0x320, 0x30031);
    run_until(r, clock_now_ns(&r->clock) + 100000);
    ck_assert(!r->intr);
    run_until(r, clock_now_ns(&r->clock) + 5000);
    ck_assert_uint_eq(lr(r, 0x390), 7500);
    /* Divide by 1 (0xb) from here: the count continues at the new rate. */
    lw(r, 0x3e0, 0xb);
    ck_assert_uint_eq(lr(r, 0x390), 7500);
    run_until(r, clock_now_ns(&r->clock) + 1000);
    ck_assert_uint_eq(lr(r, 0x390), 6500);
    /* Initial count 0 stops the timer. */
    lw(r, 0x380, 0);
    ck_assert_uint_eq(lr(r, 0x390), 0);
    /* A one-shot that expires while masked is lost. */
    lw(r, 0x320, 0x10032);
    lw(r, 0x380, 100);
    run_until(r, clock_now_ns(&r->clock) + 1000);
    lw(r, 0x320, 0x32);
    run_until(r, clock_now_ns(&r->clock) + 1000);
    ck_assert(!r->intr);
    /* A tiny periodic period is paced, not a hang. */
    lw(r, 0x320, 0x20033);
    lw(r, 0x380, 1);
    run_until(r, clock_now_ns(&r->clock) + 1000000);
    ck_assert(r->intr);
    free(r);
}
END_TEST

START_TEST(esr_and_ipis)
{
    struct rig *r = rig_new();
    enable(r);
    lw(r, 0x370, 0xfe); /* error vector */
    self_ipi(r, 0x05);
    ck_assert_uint_eq(lr(r, 0x280), 0); /* not latched until written */
    lw(r, 0x280, 0);
    ck_assert_uint_eq(lr(r, 0x280), 0x20);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0xfe);
    lw(r, 0xb0, 0);
    lw(r, 0x280, 0);
    ck_assert_uint_eq(lr(r, 0x280), 0);
    lr(r, 0x400); /* no such register */
    lw(r, 0x280, 0);
    ck_assert_uint_eq(lr(r, 0x280), 0x80);
    lapic_ack(&r->lapic);
    lw(r, 0xb0, 0);
    /* IPIs to other APIC IDs, INIT/SIPI, all-excluding-self: nothing. */
    lw(r, 0x310, 0x01000000);
    lw(r, 0x300, 0x0c500); /* INIT assert to APIC 1 */
    lw(r, 0x300, 0x08500); /* INIT de-assert */
    lw(r, 0x300, 0x00608); /* SIPI vector 8 */
    lw(r, 0x300, 0xc4500); /* INIT to all excluding self */
    lw(r, 0x300, 0xc0640); /* fixed to all excluding self */
    lw(r, 0x300, 0x00641); /* fixed 0x41 to APIC 1 */
    ck_assert(!r->intr);
    ck_assert_int_eq(r->nmis, 0);
    ck_assert_uint_eq(lr(r, 0x300) & 0x1000, 0); /* delivery status idle */
    ck_assert_uint_eq(lr(r, 0x310), 0x01000000);
    /* To our own ID, to all including self, NMI to self. */
    lw(r, 0x310, 0x00000000);
    lw(r, 0x300, 0x00042);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x42);
    lw(r, 0xb0, 0);
    lw(r, 0x300, 0x80043);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x43);
    lw(r, 0xb0, 0);
    lw(r, 0x300, 0x40400);
    ck_assert_int_eq(r->nmis, 1);
    /* Logical destinations: flat, then cluster. */
    lw(r, 0xd0, 0x04000000);
    ck_assert(lapic_match(&r->lapic, 0x06, true));
    ck_assert(!lapic_match(&r->lapic, 0x08, true));
    lw(r, 0xe0, 0x0fffffff); /* cluster model */
    ck_assert_uint_eq(lr(r, 0xe0), 0x0fffffff);
    lw(r, 0xd0, 0x32000000); /* cluster 3, member bit 1 */
    ck_assert(lapic_match(&r->lapic, 0x32, true));
    ck_assert(lapic_match(&r->lapic, 0xf2, true));
    ck_assert(!lapic_match(&r->lapic, 0x22, true));
    ck_assert(!lapic_match(&r->lapic, 0x31, true));
    ck_assert(lapic_match(&r->lapic, 0xff, false));
    ck_assert(!lapic_match(&r->lapic, 0x01, false));
    lw(r, 0x20, 0x05000000);
    ck_assert(lapic_match(&r->lapic, 0x05, false));
    free(r);
}
END_TEST

START_TEST(ioapic_routing)
{
    struct rig *r = rig_new();
    enable(r);
    /* Pin 2 edge, vector 0x30, physical APIC 0. */
    iow(r, 0x15, 0x00000000);
    iow(r, 0x14, 0x00000030);
    ck_assert_uint_eq(ior(r, 0x14), 0x30);
    ioapic_set_irq(&r->io, 2, true);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x30);
    ioapic_set_irq(&r->io, 2, true); /* no edge */
    ck_assert(!r->intr);
    ioapic_set_irq(&r->io, 2, false);
    lw(r, 0xb0, 0);
    ck_assert_int_eq(r->eois[0x30], 0);
    /* Masked edge: lost. */
    iow(r, 0x14, 0x00010030);
    ioapic_set_irq(&r->io, 2, true);
    ioapic_set_irq(&r->io, 2, false);
    iow(r, 0x14, 0x00000030);
    ck_assert(!r->intr);
    /* Addressed to another APIC: not taken. */
    iow(r, 0x15, 0x07000000);
    ioapic_set_irq(&r->io, 2, true);
    ck_assert(!r->intr);
    ioapic_set_irq(&r->io, 2, false);
    /* Pin 11 level, vector 0x41. */
    iow(r, 0x27, 0x00000000);
    iow(r, 0x26, 0x0000a041); /* level, active low */
    ioapic_set_irq(&r->io, 11, true);
    ck_assert(r->intr);
    ck_assert_uint_eq(ior(r, 0x26) & 0x4000, 0x4000); /* remote IRR */
    ck_assert_uint_eq(lr(r, 0x180 + 0x20) & 2, 2);    /* TMR bit 0x41 */
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x41);
    lw(r, 0xb0, 0); /* still asserted: sent again */
    ck_assert_int_eq(r->eois[0x41], 1);
    ck_assert(r->intr);
    ck_assert_uint_eq(lapic_ack(&r->lapic), 0x41);
    ioapic_set_irq(&r->io, 11, false);
    lw(r, 0xb0, 0);
    ck_assert(!r->intr);
    ck_assert_uint_eq(ior(r, 0x26) & 0x4000, 0);
    /* Level asserted while masked: sent on unmask. */
    iow(r, 0x26, 0x0001a041);
    ioapic_set_irq(&r->io, 11, true);
    ck_assert(!r->intr);
    iow(r, 0x26, 0x0000a041);
    ck_assert(r->intr);
    /* Read-only bits stay. */
    iow(r, 0x26, 0xffffffff);
    ck_assert_uint_eq(ior(r, 0x26) & 0x5000, 0x4000);
    iow(r, 0x00, 0xffffffff);
    ck_assert_uint_eq(ior(r, 0x00), 0x0f000000);
    iow(r, 0x01, 0);
    ck_assert_uint_eq(ior(r, 0x01), 0x00170011);
    /* NMI delivery mode. */
    iow(r, 0x12, 0x00000400);
    ioapic_set_irq(&r->io, 1, true);
    ck_assert_int_eq(r->nmis, 1);
    free(r);
}
END_TEST

START_TEST(mp_table)
{
    uint8_t buf[1024];
    static const struct mptable_pci_irq pci[] = {{3, 1, 11}, {4, 1, 11}};
    struct mptable_config cfg = {.lapic_id = 0,
                                 .lapic_version = 0x14,
                                 .lapic_addr = LAPIC_BASE_DEFAULT,
                                 .cpu_signature = 0x683,
                                 .cpu_features = 0x200,
                                 .ioapic_id = 1,
                                 .ioapic_version = 0x11,
                                 .ioapic_addr = IOAPIC_BASE_DEFAULT,
                                 .pci_irqs = pci,
                                 .n_pci_irqs = 2};
    ck_assert_uint_eq(mptable_build(buf, 100, 0x9fc00, &cfg), 0);
    ck_assert_uint_eq(mptable_build(buf, sizeof buf, 0x9fc08, &cfg), 0);
    size_t n = mptable_build(buf, sizeof buf, 0x9fc00, &cfg);
    ck_assert_uint_gt(n, 16);
    ck_assert(memcmp(buf, "_MP_", 4) == 0);
    uint8_t sum = 0;
    for (int i = 0; i < 16; i++)
        sum = (uint8_t)(sum + buf[i]);
    ck_assert_uint_eq(sum, 0);
    ck_assert_uint_eq(buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t)buf[7] << 24, 0x9fc10);
    ck_assert_uint_eq(buf[9], 4);
    ck_assert_uint_eq(buf[12], 0);
    const uint8_t *t = buf + 16;
    ck_assert(memcmp(t, "PCMP", 4) == 0);
    unsigned len = t[4] | t[5] << 8;
    ck_assert_uint_eq(len + 16, n);
    sum = 0;
    for (unsigned i = 0; i < len; i++)
        sum = (uint8_t)(sum + t[i]);
    ck_assert_uint_eq(sum, 0);
    unsigned entries = t[34] | t[35] << 8;
    /* 1 CPU + 2 buses + 1 I/O APIC + 14 ISA (IRQ 2 and PCI's 11 left out)
     * + 2 PCI + 2 local. */
    ck_assert_uint_eq(entries, 1 + 2 + 1 + 14 + 2 + 2);
    const uint8_t *e = t + 44;
    ck_assert_uint_eq(e[0], 0);
    ck_assert_uint_eq(e[3], 3);
    e += 20;
    int isa = 0, pcis = 0, order = 1;
    bool irq0_on_2 = false;
    for (unsigned i = 1; i < entries; i++, e += 8) {
        ck_assert_uint_ge(e[0], order); /* sorted by type */
        order = e[0];
        if (e[0] == 3 && e[4] == 1) {
            isa++;
            ck_assert_uint_ne(e[5], 2);
            ck_assert_uint_ne(e[7], 11);
            if (e[5] == 0) irq0_on_2 = e[7] == 2;
        } else if (e[0] == 3 && e[4] == 0) {
            pcis++;
            ck_assert_uint_eq(e[7], 11);
            ck_assert_uint_eq(e[6], 1);
        }
    }
    ck_assert_int_eq(isa, 14);
    ck_assert_int_eq(pcis, 2);
    ck_assert(irq0_on_2);
    ck_assert_ptr_eq(e, t + len);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    enable(a);
    lw(a, 0x80, 0x20);
    lw(a, 0x3e0, 0x0);
    lw(a, 0x320, 0x20031);
    lw(a, 0x380, 5000);
    self_ipi(a, 0x60);
    iow(a, 0x26, 0x0000a041);
    ioapic_set_irq(&a->io, 11, true);
    run_until(a, 2000);
    run_until(b, 2000);
    struct state_buf s;
    state_init(&s);
    lapic_save(&a->lapic, &s);
    ioapic_save(&a->io, &s);
    ck_assert_int_eq(lapic_load(&b->lapic, &s), 0);
    ck_assert_int_eq(ioapic_load(&b->io, &s), 0);
    ck_assert(b->intr);
    ck_assert_uint_eq(lr(b, 0x80), 0x20);
    ck_assert_uint_eq(lr(b, 0x390), 4000);
    ck_assert_uint_eq(lapic_ack(&b->lapic), 0x60);
    lw(b, 0xb0, 0);
    ck_assert_uint_eq(lapic_ack(&b->lapic), 0x41);
    lw(b, 0xb0, 0);
    ck_assert(b->intr); /* level still asserted: resent */
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

/* Random register traffic on both APICs, input changes, acks (only while
 * INTR is up, as the CPU does), EOIs and time: no crash; INTR equals the
 * APIC's output; every vector the CPU gets is 16 or above, the 8259's, or
 * the spurious vector. */
START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(2024);
    for (int k = 0; k < 200000; k++) {
        int what = rand() % 14;
        if (what < 3) {
            uint32_t reg = (uint32_t)(rand() % 0x40) << 4;
            uint32_t v = (uint32_t)rand() * 2654435761u;
            if (reg == 0x380) v &= 0xffff;
            if (reg == 0x0f0 && rand() % 3) v |= 0x100;
            lw(r, reg, v);
        } else if (what < 5) {
            lr(r, (uint32_t)(rand() % 0x40) << 4);
        } else if (what < 7) {
            iow(r, (uint8_t)(rand() % 0x40), (uint32_t)rand() * 2654435761u);
        } else if (what < 8) {
            ior(r, (uint8_t)rand());
        } else if (what < 10) {
            ioapic_set_irq(&r->io, rand() % 24, rand() & 1);
        } else if (what < 11) {
            lapic_set_lint(&r->lapic, rand() % 2, rand() & 1);
        } else if (what < 12) {
            if (r->intr) {
                uint8_t v = lapic_ack(&r->lapic);
                ck_assert(v >= 16 || v == r->pic_vector);
            }
        } else if (what < 13) {
            lw(r, 0xb0, 0);
        } else {
            clock_account_insns(&r->clock, (uint64_t)rand() % 50000);
            clock_run_timers(&r->clock);
        }
        if (rand() % 5000 == 0)
            lapic_set_base(&r->lapic, LAPIC_BASE_DEFAULT | APIC_BASE_BSP |
                                          (rand() % 4 ? APIC_BASE_ENABLE : 0));
        ck_assert(r->intr == r->lapic.out_level);
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("apic");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, reset_state);
    tcase_add_test(tc, pic_passthrough);
    tcase_add_test(tc, priorities_and_eoi);
    tcase_add_test(tc, timer);
    tcase_add_test(tc, esr_and_ipis);
    tcase_add_test(tc, ioapic_routing);
    tcase_add_test(tc, mp_table);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
