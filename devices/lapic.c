/*
 * lapic.c — the local APIC (Intel SDM vol. 3A, chapter 10 "Advanced
 * Programmable Interrupt Controller"): ID, version, TPR/APR/PPR, EOI,
 * LDR/DFR (flat and cluster logical destinations), SVR, ISR/TMR/IRR, ESR
 * with its write-to-latch protocol, the LVT (timer, thermal, performance,
 * LINT0, LINT1, error), the timer in one-shot and periodic modes with the
 * divide configuration register, and the ICR.
 *
 * Design choices:
 * - Passing the 8259 through.  With the APIC globally disabled (APIC_BASE
 *   bit 11) or software-disabled (SVR bit 8), INTR follows LINT0 and the
 *   acknowledge goes to the 8259: exactly a PIC-only machine.  Enabled, LINT0
 *   in ExtINT mode does the same; LINT0 resets to unmasked ExtINT (as QEMU's
 *   bootstrap processor, the "virtual wire" firmware sets up) so that a
 *   guest enabling the APIC without touching LINT0 keeps its PIC.
 * - A single processor.  ICR messages reach this APIC when they address it
 *   (self, all-including-self, or a matching destination); INIT, SIPI and
 *   anything sent to other APIC IDs goes nowhere, and the delivery status
 *   bit always reads idle, so an SMP probe finds no other CPU and moves on.
 * - The timer counts a 1 GHz bus clock (one tick per clock ns, before the
 *   divider); guests calibrate it against the PIT.  Its count is computed
 *   from the clock, and a clock timer is armed only while its interrupt is
 *   unmasked.  A periodic period shorter than LAPIC_MIN_PERIOD_NS delivers
 *   at most one interrupt per LAPIC_MIN_PERIOD_NS (the IRR bit would merge
 *   them anyway).
 * - The SVR's low nibble is writable (Pentium 4 behaviour); the focus
 *   processor check and EOI-broadcast suppression are not modelled.
 */
#include "devices/lapic.h"

#include <string.h>

#define LAPIC_MIN_PERIOD_NS 1000u

#define LVT_MASKED 0x10000u
#define LVT_LEVEL 0x8000u
#define LVT_REMOTE_IRR 0x4000u
#define LVT_PENDING 0x1000u
#define LVT_PERIODIC 0x20000u
#define SVR_ENABLE 0x100u

enum {
    ESR_SEND_ILLEGAL = 0x20,
    ESR_RECV_ILLEGAL = 0x40,
    ESR_ILLEGAL_REG = 0x80,
};

/* Writable bits of each LVT entry (delivery status and remote IRR are
 * read-only). */
static const uint32_t lvt_wmask[LVT_COUNT] = {
    [LVT_TIMER] = 0x300ff, [LVT_THERMAL] = 0x107ff, [LVT_PERF] = 0x107ff,
    [LVT_LINT0] = 0x1a7ff, [LVT_LINT1] = 0x1a7ff,   [LVT_ERROR] = 0x100ff,
};

static int highest(const uint32_t *bits)
{
    for (int i = 7; i >= 0; i--)
        if (bits[i]) return i * 32 + 31 - __builtin_clz(bits[i]);
    return -1;
}

static bool test_bit(const uint32_t *bits, unsigned v)
{
    return bits[v >> 5] & (1u << (v & 31));
}
static void set_bit(uint32_t *bits, unsigned v)
{
    bits[v >> 5] |= 1u << (v & 31);
}
static void clear_bit(uint32_t *bits, unsigned v)
{
    bits[v >> 5] &= ~(1u << (v & 31));
}

static bool hw_enabled(const struct lapic *l)
{
    return l->base_msr & APIC_BASE_ENABLE;
}
bool lapic_enabled(const struct lapic *l)
{
    return hw_enabled(l) && (l->svr & SVR_ENABLE);
}

static uint32_t ppr(const struct lapic *l)
{
    int isrv = highest(l->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (l->tpr & 0xf0) >= isr_class ? l->tpr & 0xff : isr_class;
}

/* The IRR vector the CPU would take now, or -1. */
static int deliverable(const struct lapic *l)
{
    int irrv = highest(l->irr);
    if (irrv < 0 || ((uint32_t)irrv & 0xf0) <= (ppr(l) & 0xf0)) return -1;
    return irrv;
}

static bool extint_pending(const struct lapic *l)
{
    uint32_t e = l->lvt[LVT_LINT0];
    return l->lint[0] && !(e & LVT_MASKED) && ((e >> 8) & 7) == APIC_DM_EXTINT;
}

static void update_output(struct lapic *l)
{
    bool level;
    if (!lapic_enabled(l))
        level = l->lint[0];
    else
        level = deliverable(l) >= 0 || extint_pending(l);
    if (level != l->out_level) {
        l->out_level = level;
        irq_set(&l->intr, level);
    }
}

static void raise_error(struct lapic *l, uint32_t bit);

/* An interrupt is accepted into the IRR. */
static void accept(struct lapic *l, uint8_t vector, bool level)
{
    if (!lapic_enabled(l)) return;
    if (vector < 16) {
        raise_error(l, ESR_RECV_ILLEGAL);
        return;
    }
    set_bit(l->irr, vector);
    if (level)
        set_bit(l->tmr, vector);
    else
        clear_bit(l->tmr, vector);
    update_output(l);
}

static void raise_error(struct lapic *l, uint32_t bit)
{
    l->esr_pending |= bit;
    uint32_t e = l->lvt[LVT_ERROR];
    /* An illegal error vector cannot be reported through itself. */
    if (!(e & LVT_MASKED) && (e & 0xff) >= 16 && lapic_enabled(l)) {
        set_bit(l->irr, e & 0xff);
        clear_bit(l->tmr, e & 0xff);
        update_output(l);
    }
}

/* --- timer --- */

static unsigned div_shift(const struct lapic *l)
{
    unsigned v = ((l->timer_dcr >> 1) & 4) | (l->timer_dcr & 3);
    return (v + 1) & 7; /* 0 → /2 ... 6 → /128, 7 → /1 */
}

static uint64_t period_ns(const struct lapic *l)
{
    return (uint64_t)l->timer_initial << div_shift(l);
}

static bool periodic(const struct lapic *l)
{
    return l->lvt[LVT_TIMER] & LVT_PERIODIC;
}

static uint32_t current_count(struct lapic *l)
{
    if (!l->timer_running || !l->timer_initial) return 0;
    uint64_t now = clock_now_ns(l->clock);
    uint64_t ticks = (now - l->timer_start) >> div_shift(l);
    if (periodic(l)) return l->timer_initial - (uint32_t)(ticks % l->timer_initial);
    if (ticks >= l->timer_initial) {
        l->timer_running = false; /* expired (perhaps while masked) */
        return 0;
    }
    return l->timer_initial - (uint32_t)ticks;
}

static void timer_arm(struct lapic *l)
{
    clock_timer_cancel(&l->timer);
    if (!l->timer_running || !l->timer_initial || (l->lvt[LVT_TIMER] & LVT_MASKED)) return;
    uint64_t now = clock_now_ns(l->clock), p = period_ns(l);
    uint64_t elapsed = now - l->timer_start;
    uint64_t next;
    if (periodic(l)) {
        next = l->timer_start + (elapsed / p + 1) * p;
        uint64_t earliest = now + LAPIC_MIN_PERIOD_NS;
        if (p < LAPIC_MIN_PERIOD_NS && next < earliest) next = earliest;
    } else {
        if (elapsed >= p) {
            l->timer_running = false;
            return;
        }
        next = l->timer_start + p;
    }
    clock_timer_arm(&l->timer, next);
}

static void timer_cb(void *opaque)
{
    struct lapic *l = opaque;
    uint32_t e = l->lvt[LVT_TIMER];
    if (!(e & LVT_MASKED)) accept(l, (uint8_t)e, false);
    if (!periodic(l)) l->timer_running = false;
    timer_arm(l);
}

/* A new divisor: keep the count where it is, continue at the new rate. */
static void set_dcr(struct lapic *l, uint32_t v)
{
    uint32_t count = current_count(l);
    bool running = l->timer_running;
    l->timer_dcr = v & 0xb;
    if (running && count) {
        uint64_t done = (uint64_t)(l->timer_initial - count) << div_shift(l);
        l->timer_start = clock_now_ns(l->clock) - done;
    }
    timer_arm(l);
}

/* --- interrupt paths --- */

bool lapic_match(const struct lapic *l, uint8_t dest, bool logical)
{
    if (!logical) return dest == 0xff || dest == (l->id >> 24);
    uint8_t ldr = (uint8_t)(l->ldr >> 24);
    if ((l->dfr >> 28) == 0xf) /* flat */
        return (dest & ldr) != 0;
    /* cluster: high nibble the cluster (15 = all), low nibble a bit mask */
    return ((dest >> 4) == 0xf || (dest >> 4) == (ldr >> 4)) && (dest & ldr & 0x0f);
}

static void deliver_local(struct lapic *l, unsigned mode, uint8_t vector, bool level)
{
    switch (mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        accept(l, vector, level);
        break;
    case APIC_DM_NMI:
        if (l->nmi) l->nmi(l->opaque);
        break;
    case APIC_DM_INIT:
    case APIC_DM_SIPI:
        /* INIT and start-up IPIs to the running bootstrap processor are
         * ignored, as a BSP ignores SIPI. */
        dev_log(l->log, DEV_LOG_UNIMP, "lapic: INIT/SIPI to self ignored\n");
        break;
    default:
        dev_log(l->log, DEV_LOG_UNIMP, "lapic: delivery mode %u not implemented\n", mode);
        break;
    }
}

void lapic_deliver(struct lapic *l, uint8_t dest, bool logical, unsigned mode, uint8_t vector,
                   bool level)
{
    if (hw_enabled(l) && lapic_match(l, dest, logical)) deliver_local(l, mode, vector, level);
}

static void send_ipi(struct lapic *l)
{
    uint32_t lo = l->icr_lo;
    unsigned mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3;
    uint8_t vector = (uint8_t)lo;
    bool self;
    switch (shorthand) {
    case 1: /* self */
    case 2: /* all including self */
        self = true;
        break;
    case 3: /* all excluding self: there are no others */
        self = false;
        break;
    default:
        self = lapic_match(l, (uint8_t)(l->icr_hi >> 24), lo & 0x800);
        break;
    }
    if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16) {
        raise_error(l, ESR_SEND_ILLEGAL);
        return;
    }
    if (self) deliver_local(l, mode, vector, false);
}

void lapic_set_lint(struct lapic *l, int n, bool level)
{
    if (n < 0 || n > 1) return;
    bool rose = level && !l->lint[n];
    l->lint[n] = level;
    if (!hw_enabled(l)) {
        /* Without an APIC, LINT1 is the NMI pin. */
        if (n == 1 && rose && l->nmi) l->nmi(l->opaque);
    } else if (lapic_enabled(l) && rose) {
        uint32_t e = l->lvt[LVT_LINT0 + n];
        unsigned mode = (e >> 8) & 7;
        if (!(e & LVT_MASKED) && mode != APIC_DM_EXTINT) {
            if (e & LVT_LEVEL)
                dev_log(l->log, DEV_LOG_UNIMP, "lapic: level-triggered LINT%d taken as edge\n", n);
            deliver_local(l, mode, (uint8_t)e, false);
        }
    }
    update_output(l);
}

static void lint_set(void *opaque, int line, bool level)
{
    lapic_set_lint(opaque, line, level);
}

struct irq_line lapic_lint_line(struct lapic *l, int n)
{
    return (struct irq_line){lint_set, l, n};
}

uint8_t lapic_ack(struct lapic *l)
{
    if (!lapic_enabled(l)) return l->pic_ack ? l->pic_ack(l->opaque) : 0xff;
    int v = deliverable(l);
    if (v >= 0) {
        clear_bit(l->irr, (unsigned)v);
        set_bit(l->isr, (unsigned)v);
        update_output(l);
        return (uint8_t)v;
    }
    if (extint_pending(l) && l->pic_ack) {
        uint8_t vec = l->pic_ack(l->opaque);
        update_output(l);
        return vec;
    }
    /* The request went away (e.g. TPR raised): spurious, no ISR bit. */
    update_output(l);
    return (uint8_t)l->svr;
}

static void eoi(struct lapic *l)
{
    int v = highest(l->isr);
    if (v < 0) return;
    clear_bit(l->isr, (unsigned)v);
    if (test_bit(l->tmr, (unsigned)v) && l->eoi) l->eoi(l->opaque, (uint8_t)v);
    update_output(l);
}

/* --- registers --- */

static uint32_t reg_read(struct lapic *l, uint32_t reg)
{
    if (reg >= 0x100 && reg < 0x280) {
        const uint32_t *bank = reg < 0x180 ? l->isr : reg < 0x200 ? l->tmr : l->irr;
        return bank[(reg >> 4) & 7];
    }
    if (reg >= 0x320 && reg < 0x380) return l->lvt[(reg - 0x320) >> 4];
    switch (reg) {
    case 0x020:
        return l->id;
    case 0x030:
        return LAPIC_VERSION;
    case 0x080:
        return l->tpr;
    case 0x090: { /* APR */
        int irrv = highest(l->irr), isrv = highest(l->isr);
        uint32_t m = (uint32_t)(irrv > isrv ? irrv : isrv);
        if (irrv < 0 && isrv < 0) m = 0;
        return (l->tpr & 0xf0) >= (m & 0xf0) ? l->tpr & 0xff : m & 0xf0;
    }
    case 0x0a0:
        return ppr(l);
    case 0x0b0:
        return 0;
    case 0x0c0:
        return 0; /* remote read: never valid */
    case 0x0d0:
        return l->ldr;
    case 0x0e0:
        return l->dfr;
    case 0x0f0:
        return l->svr;
    case 0x280:
        return l->esr;
    case 0x300:
        return l->icr_lo;
    case 0x310:
        return l->icr_hi;
    case 0x380:
        return l->timer_initial;
    case 0x390:
        return current_count(l);
    case 0x3e0:
        return l->timer_dcr;
    default:
        raise_error(l, ESR_ILLEGAL_REG);
        dev_log(l->log, DEV_LOG_GUEST_ERRORS, "lapic: read of register 0x%03x\n", reg);
        return 0;
    }
}

static void reg_write(struct lapic *l, uint32_t reg, uint32_t v)
{
    if (reg >= 0x320 && reg < 0x380) {
        unsigned n = (reg - 0x320) >> 4;
        uint32_t keep = l->lvt[n] & ~lvt_wmask[n];
        l->lvt[n] = keep | (v & lvt_wmask[n]);
        if (!(l->svr & SVR_ENABLE)) l->lvt[n] |= LVT_MASKED;
        if (n == LVT_TIMER) timer_arm(l);
        update_output(l);
        return;
    }
    switch (reg) {
    case 0x020:
        l->id = v & 0xff000000u;
        break;
    case 0x080:
        l->tpr = v & 0xff;
        update_output(l);
        break;
    case 0x0b0:
        eoi(l);
        break;
    case 0x0d0:
        l->ldr = v & 0xff000000u;
        break;
    case 0x0e0:
        l->dfr = v | 0x0fffffffu;
        break;
    case 0x0f0:
        l->svr = v & 0x3ff;
        if (!(l->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                l->lvt[i] |= LVT_MASKED;
        timer_arm(l);
        update_output(l);
        break;
    case 0x280:
        l->esr = l->esr_pending;
        l->esr_pending = 0;
        break;
    case 0x300:
        l->icr_lo = v & ~LVT_PENDING & 0x000cdfffu;
        send_ipi(l);
        break;
    case 0x310:
        l->icr_hi = v & 0xff000000u;
        break;
    case 0x380:
        l->timer_initial = v;
        l->timer_start = clock_now_ns(l->clock);
        l->timer_running = v != 0;
        timer_arm(l);
        break;
    case 0x3e0:
        set_dcr(l, v);
        break;
    case 0x030:
    case 0x090:
    case 0x0a0:
    case 0x0c0:
    case 0x390:
        break; /* read-only */
    default:
        if (reg >= 0x100 && reg < 0x280) break; /* ISR, TMR, IRR: read-only */
        raise_error(l, ESR_ILLEGAL_REG);
        dev_log(l->log, DEV_LOG_GUEST_ERRORS, "lapic: write of register 0x%03x\n", reg);
        break;
    }
}

static uint32_t mmio_read(void *opaque, uint32_t addr, unsigned size)
{
    struct lapic *l = opaque;
    if (!hw_enabled(l)) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    addr &= 0xfff;
    uint32_t reg = addr & ~0xfu;
    unsigned shift = 8 * (addr & 3);
    if ((addr & 0xf) + size > 4) return 0; /* only the first dword of each 16-byte slot exists */
    uint32_t v = reg_read(l, reg) >> shift;
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void mmio_write(void *opaque, uint32_t addr, uint32_t v, unsigned size)
{
    struct lapic *l = opaque;
    if (!hw_enabled(l)) return;
    addr &= 0xfff;
    if (size != 4 || (addr & 0xf)) {
        dev_log(l->log, DEV_LOG_GUEST_ERRORS, "lapic: %u-byte write at 0x%03x ignored\n", size,
                addr);
        return;
    }
    reg_write(l, addr, v);
}

const struct mmio_ops lapic_mmio_ops = {mmio_read, mmio_write};

/* --- life cycle --- */

void lapic_reset(struct lapic *l)
{
    clock_timer_cancel(&l->timer);
    l->tpr = l->ldr = 0;
    l->dfr = 0xffffffffu;
    l->svr = 0xff;
    l->esr = l->esr_pending = 0;
    memset(l->isr, 0, sizeof l->isr);
    memset(l->irr, 0, sizeof l->irr);
    memset(l->tmr, 0, sizeof l->tmr);
    for (int i = 0; i < LVT_COUNT; i++)
        l->lvt[i] = LVT_MASKED;
    l->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
    l->icr_lo = l->icr_hi = 0;
    l->timer_initial = l->timer_dcr = 0;
    l->timer_start = 0;
    l->timer_running = false;
    l->base_msr = LAPIC_BASE_DEFAULT | APIC_BASE_ENABLE | APIC_BASE_BSP;
    update_output(l);
}

void lapic_init(struct lapic *l, struct clock *clock, uint8_t apic_id, struct irq_line intr,
                void (*nmi)(void *), uint8_t (*pic_ack)(void *), void (*eoi_fn)(void *, uint8_t),
                void *opaque, const struct dev_log *log)
{
    memset(l, 0, sizeof *l);
    l->clock = clock;
    l->intr = intr;
    l->nmi = nmi;
    l->pic_ack = pic_ack;
    l->eoi = eoi_fn;
    l->opaque = opaque;
    l->log = log;
    l->id = (uint32_t)apic_id << 24;
    clock_timer_init(&l->timer, clock, timer_cb, l, "lapic-timer");
    lapic_reset(l);
}

void lapic_set_base(struct lapic *l, uint64_t msr)
{
    bool was = hw_enabled(l);
    if ((msr & 0xfffff000u) != LAPIC_BASE_DEFAULT && (msr & APIC_BASE_ENABLE))
        dev_log(l->log, DEV_LOG_UNIMP, "lapic: relocation to 0x%08x not supported\n",
                (uint32_t)(msr & 0xfffff000u));
    if (was && !(msr & APIC_BASE_ENABLE)) {
        /* Globally disabled: back to the power-up state, then bypassed. */
        lapic_reset(l);
    }
    l->base_msr = msr;
    update_output(l);
}

#define LAPIC_FIELDS(X)                                                                            \
    X(id)                                                                                          \
    X(tpr) X(ldr) X(dfr) X(svr) X(esr) X(esr_pending) X(isr) X(irr) X(tmr) X(lvt) X(icr_lo)        \
        X(icr_hi) X(timer_initial) X(timer_dcr) X(timer_start) X(timer_running) X(base_msr)        \
            X(lint)

void lapic_save(struct lapic *l, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "lapic.version", &version, sizeof version);
#define X(f) state_put(s, "lapic." #f, &l->f, sizeof l->f);
    LAPIC_FIELDS(X)
#undef X
}

int lapic_load(struct lapic *l, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "lapic.version", &version, sizeof version) || version != 1) return -1;
#define X(f) state_get(s, "lapic." #f, &l->f, sizeof l->f);
    LAPIC_FIELDS(X)
#undef X
    l->timer_dcr &= 0xb;
    l->svr &= 0x3ff;
    for (int i = 0; i < LVT_COUNT; i++)
        l->lvt[i] &= lvt_wmask[i];
    if (l->timer_start > clock_now_ns(l->clock)) l->timer_start = clock_now_ns(l->clock);
    timer_arm(l);
    bool want = !lapic_enabled(l) ? l->lint[0] : deliverable(l) >= 0 || extint_pending(l);
    l->out_level = want;
    irq_set(&l->intr, want);
    return 0;
}
