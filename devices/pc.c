/*
 * pc.c — the PC: builds struct machine from struct machine_config, wires the
 * devices to the bus, the PIC and the clock, and runs the CPU in slices that
 * end at the clock's next deadline (machine.h is the contract).
 *
 * Design choice: the run loop owns time.  Each slice runs the CPU for the
 * clock's budget, accounts the instructions retired to the clock (icount)
 * and fires expired timers; a halted CPU lets time jump (icount) or sleeps
 * (host) to the next deadline.  Guest-requested resets and stops arrive from
 * inside an I/O instruction, so they only set a flag and ask the CPU to exit;
 * the loop acts on them between slices.
 */
#include "devices/machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/debugexit.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/sysctl.h"
#include "devices/uart.h"

_Static_assert(DEV_LOG_UNIMP == LOG_UNIMP, "devices/log.h mirrors cpu/cpu.h");
_Static_assert(DEV_LOG_GUEST_ERRORS == LOG_GUEST_ERRORS, "devices/log.h mirrors cpu/cpu.h");

/* Longest host sleep while halted, so stop requests are seen promptly. */
#define IDLE_MAX_NS 10000000u

struct machine {
    struct machine_config cfg;
    struct dev_log log;
    struct cpu cpu;
    struct mmu mmu;
    struct clock clock;
    struct bus bus;
    struct pic pic;
    struct pit pit;
    struct uart com1;
    struct debugexit debugexit;
    struct sysctl sysctl;
    bool cpu_ready, mmu_ready;

    void (*boot_hook)(void *opaque, struct machine *m);
    void *boot_opaque;

    volatile bool stop;
    bool reset_pending;
    int exit_status;
    enum machine_stop_reason reason;
    uint64_t slice_base; /* cpu.stats.insns when the current slice began */
    double seconds;
};

/* --- glue between the CPU and the devices --- */

static void cpu_intr_line(void *opaque, int line, bool level)
{
    cpu_set_irq(&((struct machine *)opaque)->cpu, level);
}

static uint8_t cpu_intr_ack(void *opaque) { return pic_ack(&((struct machine *)opaque)->pic); }

static uint64_t cpu_tsc_now(void *opaque) { return clock_now_ns(&((struct machine *)opaque)->clock); }

static uint64_t clock_inflight(void *opaque)
{
    struct machine *m = opaque;
    return m->cpu.stats.insns > m->slice_base ? m->cpu.stats.insns - m->slice_base : 0;
}

static void set_a20(void *opaque, bool on) { mmu_set_a20(&((struct machine *)opaque)->mmu, on); }

static void guest_reset(void *opaque)
{
    struct machine *m = opaque;
    m->reset_pending = true;
    cpu_request_exit(&m->cpu);
}

static void debug_exit(void *opaque, int status)
{
    struct machine *m = opaque;
    machine_request_stop(m, status);
    m->reason = STOP_DEBUG_EXIT;
}

/* --- assembly --- */

static int machine_wire(struct machine *m, char *err, size_t errlen)
{
    const struct machine_config *cfg = &m->cfg;

    clock_init(&m->clock, cfg->icount, cfg->icount_shift);
    clock_set_inflight(&m->clock, clock_inflight, m);
    bus_init(&m->bus, &m->log);

    m->cpu.io = (struct cpu_io){&m->bus, bus_in, bus_out};
    m->cpu.intr = (struct cpu_intr){m, cpu_intr_ack};
    m->cpu.tsc_now = cpu_tsc_now;
    m->cpu.tsc_opaque = m;

    struct irq_line intr = {cpu_intr_line, m, 0};
    if (pic_init(&m->pic, &m->bus, intr, &m->log, err, errlen) ||
        pit_init(&m->pit, &m->bus, &m->clock, pic_irq_line(&m->pic, 0), &m->log, err,
                 errlen) ||
        uart_init(&m->com1, &m->bus, 0x3f8, pic_irq_line(&m->pic, 4), &m->clock, &cfg->serial0,
                  &m->log, err, errlen) ||
        sysctl_init(&m->sysctl, &m->bus, set_a20, guest_reset, m, err, errlen))
        return -1;
    if (cfg->debug_exit &&
        debugexit_init(&m->debugexit, &m->bus, cfg->debug_exit_base ? cfg->debug_exit_base : 0xf4,
                       cfg->debug_exit_size ? cfg->debug_exit_size : 4, debug_exit, m, err,
                       errlen))
        return -1;
    return 0;
}

struct machine *machine_create(const struct machine_config *cfg, char *err, size_t errlen)
{
    if (cfg->ram_mb < 1 || cfg->ram_mb > 3584) {
        snprintf(err, errlen, "RAM size %u MiB out of range (1..3584)", cfg->ram_mb);
        return NULL;
    }
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->log = (struct dev_log){cfg->log_mask, cfg->log, cfg->log_opaque};

    int r = mmu_init(&m->mmu, cfg->ram_mb << 20);
    if (r) {
        snprintf(err, errlen, "cannot allocate %u MiB of guest RAM: %s", cfg->ram_mb,
                 strerror(r < 0 ? -r : r));
        machine_destroy(m);
        return NULL;
    }
    m->mmu_ready = true;
    m->mmu.log_mask = cfg->log_mask;
    m->mmu.log = cfg->log;
    m->mmu.log_opaque = cfg->log_opaque;

    if (cpu_init(&m->cpu, &m->mmu)) {
        snprintf(err, errlen, "cannot initialise the CPU");
        machine_destroy(m);
        return NULL;
    }
    m->cpu_ready = true;
    m->cpu.log_mask = cfg->log_mask;
    m->cpu.log = cfg->log;
    m->cpu.log_opaque = cfg->log_opaque;

    if (machine_wire(m, err, errlen)) {
        machine_destroy(m);
        return NULL;
    }
    machine_reset(m);
    return m;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    if (m->cpu_ready)
        cpu_destroy(&m->cpu);
    if (m->mmu_ready)
        mmu_destroy(&m->mmu);
    free(m);
}

struct cpu *machine_cpu(struct machine *m) { return &m->cpu; }
struct mmu *machine_mmu(struct machine *m) { return &m->mmu; }

void machine_set_boot_hook(struct machine *m, void (*hook)(void *opaque, struct machine *m),
                           void *opaque)
{
    m->boot_hook = hook;
    m->boot_opaque = opaque;
}

void machine_reset(struct machine *m)
{
    m->reset_pending = false;
    pic_reset(&m->pic);
    pit_reset(&m->pit);
    uart_reset(&m->com1);
    sysctl_reset(&m->sysctl);
    debugexit_reset(&m->debugexit);
    cpu_reset(&m->cpu);
    m->slice_base = m->cpu.stats.insns; /* in case the reset cleared the counters */
    if (m->boot_hook)
        m->boot_hook(m->boot_opaque, m);
}

/* --- the run loop --- */

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void stop_with(struct machine *m, enum machine_stop_reason reason, int status)
{
    machine_request_stop(m, status);
    m->reason = reason;
}

int machine_run(struct machine *m)
{
    double start = wall_seconds();
    while (!m->stop) {
        clock_run_timers(&m->clock);
        int64_t budget = clock_budget(&m->clock);
        m->slice_base = m->cpu.stats.insns;
        enum cpu_exit r = cpu_run(&m->cpu, budget);
        clock_account_insns(&m->clock, clock_inflight(m));
        m->slice_base = m->cpu.stats.insns;

        if (r == CPU_EXIT_SHUTDOWN) {
            if (m->cfg.no_reboot) {
                stop_with(m, STOP_TRIPLE_FAULT, 2);
                break;
            }
            machine_reset(m);
            continue;
        }
        if (m->reset_pending) {
            if (m->cfg.no_reboot) {
                stop_with(m, STOP_RESET, 0);
                break;
            }
            machine_reset(m);
            continue;
        }
        /* Halted: if no timer is due (one might raise the interrupt that
         * wakes the CPU), let time pass to the next deadline. */
        if (r == CPU_EXIT_HALT && !m->stop && clock_run_timers(&m->clock) == 0)
            clock_idle(&m->clock, IDLE_MAX_NS);
    }
    m->seconds += wall_seconds() - start;
    return m->exit_status;
}

void machine_request_stop(struct machine *m, int status)
{
    m->exit_status = status;
    if (m->reason == STOP_NONE)
        m->reason = STOP_REQUEST;
    m->stop = true;
    cpu_request_exit(&m->cpu);
}

enum machine_stop_reason machine_stop_reason(struct machine *m) { return m->reason; }

void machine_get_stats(struct machine *m, struct machine_stats *out)
{
    memset(out, 0, sizeof *out);
    out->insns = m->cpu.stats.insns;
    out->seconds = m->seconds;
    out->block_hits = m->cpu.stats.block_hits;
    out->block_misses = m->cpu.stats.block_misses;
    out->block_invalidations = m->cpu.stats.block_invalidations;
    out->exceptions = m->cpu.stats.exceptions;
    out->interrupts = m->cpu.stats.interrupts;
    out->tlb_misses = m->mmu.stats.tlb_misses;
    out->tlb_flushes = m->mmu.stats.tlb_flushes;
    out->mmio_accesses = m->mmu.stats.mmio_accesses;
    out->tracked_writes = m->mmu.stats.tracked_writes;
}
