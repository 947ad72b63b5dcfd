/*
 * clock.h — the machine's only source of time, in nanoseconds since the
 * machine was created.
 *
 * Host mode: CLOCK_MONOTONIC.  Deterministic (icount) mode: time is retired
 * instructions << shift, plus whatever the run loop skipped while the CPU was
 * halted — so the same inputs give the same run.  Devices arm timers; the run
 * loop asks for an instruction budget to the next deadline, tells the clock
 * how many instructions ran, and fires what expired.
 */
#ifndef UMBRA_CLOCK_H
#define UMBRA_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLOCK_NEVER UINT64_MAX
/* Host mode: longest slice in instructions before the host clock is read. */
#define CLOCK_HOST_SLICE 100000
/* Longest slice in icount mode when no timer is armed. */
#define CLOCK_ICOUNT_SLICE 10000000

struct clock;

struct clock_timer {
    struct clock *clock;
    void (*cb)(void *opaque);
    void *opaque;
    const char *name;
    uint64_t deadline;
    bool armed;
    struct clock_timer *next; /* in the clock's list, sorted by deadline */
};

struct clock {
    bool icount;
    unsigned shift;
    uint64_t insns;     /* icount: instructions accounted */
    uint64_t skipped;   /* icount: ns jumped over while halted */
    uint64_t host_start;
    struct clock_timer *timers;
    /* icount: instructions retired but not yet accounted (the CPU is inside
     * a slice); lets devices and RDTSC see time move within a slice. */
    uint64_t (*inflight)(void *opaque);
    void *inflight_opaque;
};

void clock_init(struct clock *c, bool icount, unsigned shift);
void clock_set_inflight(struct clock *c, uint64_t (*fn)(void *opaque), void *opaque);
uint64_t clock_now_ns(struct clock *c);

void clock_timer_init(struct clock_timer *t, struct clock *c, void (*cb)(void *opaque),
                      void *opaque, const char *name);
/* (Re-)arm at an absolute time; a deadline in the past fires at the next
 * clock_run_timers(). */
void clock_timer_arm(struct clock_timer *t, uint64_t deadline_ns);
void clock_timer_cancel(struct clock_timer *t);

/* Earliest armed deadline, or CLOCK_NEVER. */
uint64_t clock_next_deadline(struct clock *c);
/* Fire every expired timer in deadline order; returns how many fired. */
int clock_run_timers(struct clock *c);

/* icount: tell the clock how many instructions retired (ignored in host
 * mode, where time is the host's). */
void clock_account_insns(struct clock *c, uint64_t n);
/* Instructions to run before the next deadline: exact in icount mode; in
 * host mode an estimate capped at CLOCK_HOST_SLICE. At least 1. */
int64_t clock_budget(struct clock *c);
/* The CPU is halted: let time pass to the next deadline (icount: jump; host:
 * sleep, at most max_sleep_ns). */
void clock_idle(struct clock *c, uint64_t max_sleep_ns);

#endif
