/*
 * clock.c — time and timers (see clock.h).
 *
 * Timers sit in one list sorted by deadline: a PC has a handful armed at any
 * moment, so insertion by walking the list is cheaper than a heap.  A timer
 * callback usually re-arms itself; clock_run_timers bounds how many it fires
 * per call so that a callback re-arming in the past cannot hang the loop.
 *
 * Host-mode budgets assume the CPU retires at most one instruction per
 * 4 ns (250 MIPS): a faster emulator then only fires timers a little late,
 * and the slice cap bounds that lateness to well under a millisecond.
 */
#define _GNU_SOURCE
#include "devices/clock.h"

#include <errno.h>
#include <stddef.h>
#include <time.h>

static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void clock_init(struct clock *c, bool icount, unsigned shift)
{
    c->icount = icount;
    c->shift = shift > 30 ? 30 : shift;
    c->insns = 0;
    c->skipped = 0;
    c->host_start = host_ns();
    c->timers = NULL;
    c->inflight = NULL;
    c->inflight_opaque = NULL;
}

void clock_set_inflight(struct clock *c, uint64_t (*fn)(void *opaque), void *opaque)
{
    c->inflight = fn;
    c->inflight_opaque = opaque;
}

uint64_t clock_now_ns(struct clock *c)
{
    if (c->icount) {
        uint64_t n = c->insns + (c->inflight ? c->inflight(c->inflight_opaque) : 0);
        return (n << c->shift) + c->skipped;
    }
    return host_ns() - c->host_start;
}

void clock_timer_init(struct clock_timer *t, struct clock *c, void (*cb)(void *opaque),
                      void *opaque, const char *name)
{
    *t = (struct clock_timer){.clock = c, .cb = cb, .opaque = opaque, .name = name};
}

void clock_timer_cancel(struct clock_timer *t)
{
    if (!t->armed)
        return;
    for (struct clock_timer **pp = &t->clock->timers; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->armed = false;
    t->next = NULL;
}

void clock_timer_arm(struct clock_timer *t, uint64_t deadline_ns)
{
    clock_timer_cancel(t);
    t->deadline = deadline_ns;
    t->armed = true;
    /* Equal deadlines fire in arming order. */
    struct clock_timer **pp = &t->clock->timers;
    while (*pp && (*pp)->deadline <= deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

uint64_t clock_next_deadline(struct clock *c)
{
    return c->timers ? c->timers->deadline : CLOCK_NEVER;
}

int clock_run_timers(struct clock *c)
{
    int fired = 0;
    uint64_t now = clock_now_ns(c);
    while (c->timers && c->timers->deadline <= now && fired < 1000) {
        struct clock_timer *t = c->timers;
        c->timers = t->next;
        t->next = NULL;
        t->armed = false;
        t->cb(t->opaque);
        fired++;
    }
    return fired;
}

void clock_account_insns(struct clock *c, uint64_t n)
{
    if (c->icount)
        c->insns += n;
}

int64_t clock_budget(struct clock *c)
{
    uint64_t now = clock_now_ns(c), dl = clock_next_deadline(c);
    if (c->icount) {
        if (dl == CLOCK_NEVER)
            return CLOCK_ICOUNT_SLICE;
        if (dl <= now)
            return 1;
        /* Round up: the instruction that reaches the deadline is the last. */
        uint64_t n = ((dl - now) + (1ull << c->shift) - 1) >> c->shift;
        return n > CLOCK_ICOUNT_SLICE ? CLOCK_ICOUNT_SLICE : (int64_t)n;
    }
    if (dl <= now)
        return 1;
    uint64_t n = dl == CLOCK_NEVER ? CLOCK_HOST_SLICE : (dl - now) / 4;
    if (n < 1)
        n = 1;
    return n > CLOCK_HOST_SLICE ? CLOCK_HOST_SLICE : (int64_t)n;
}

void clock_idle(struct clock *c, uint64_t max_sleep_ns)
{
    uint64_t now = clock_now_ns(c), dl = clock_next_deadline(c);
    if (dl <= now)
        return;
    uint64_t wait = dl - now;
    if (wait > max_sleep_ns)
        wait = max_sleep_ns;
    if (c->icount) {
        c->skipped += wait;
        return;
    }
    struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
