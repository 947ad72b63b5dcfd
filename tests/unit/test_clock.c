/* test_clock.c — timers fire in deadline order; icount time is a pure
 * function of the instructions accounted; budgets reach deadlines exactly. */
#include <check.h>
#include <stdlib.h>

#include "devices/clock.h"

struct fire_log {
    int order[16];
    uint64_t at[16];
    int n;
    struct clock *c;
};

struct tm {
    struct clock_timer t;
    struct fire_log *log;
    int id;
    uint64_t period; /* re-arm relative to the deadline if non-zero */
};

static void tm_cb(void *o)
{
    struct tm *t = o;
    if (t->log->n < 16) {
        t->log->order[t->log->n] = t->id;
        t->log->at[t->log->n++] = clock_now_ns(t->log->c);
    }
    if (t->period)
        clock_timer_arm(&t->t, t->t.deadline + t->period);
}

START_TEST(deadline_order)
{
    struct clock c;
    clock_init(&c, true, 0);
    struct fire_log log = {.c = &c};
    struct tm t[4];
    uint64_t dl[4] = {300, 100, 400, 200};
    for (int i = 0; i < 4; i++) {
        t[i] = (struct tm){.log = &log, .id = i};
        clock_timer_init(&t[i].t, &c, tm_cb, &t[i], "t");
        clock_timer_arm(&t[i].t, dl[i]);
    }
    ck_assert_uint_eq(clock_next_deadline(&c), 100);
    clock_timer_cancel(&t[2].t);
    clock_account_insns(&c, 1000);
    ck_assert_int_eq(clock_run_timers(&c), 3);
    ck_assert_int_eq(log.order[0], 1);
    ck_assert_int_eq(log.order[1], 3);
    ck_assert_int_eq(log.order[2], 0);
    ck_assert_uint_eq(clock_next_deadline(&c), CLOCK_NEVER);
}
END_TEST

START_TEST(rearm_and_budget)
{
    struct clock c;
    clock_init(&c, true, 2); /* 4 ns per instruction */
    struct fire_log log = {.c = &c};
    struct tm t = {.log = &log, .id = 7, .period = 1000};
    clock_timer_init(&t.t, &c, tm_cb, &t, "periodic");
    clock_timer_arm(&t.t, 1000);
    ck_assert_int_eq(clock_budget(&c), 250);
    /* Run exactly as the machine would: budget, account, fire. */
    for (int i = 0; i < 5; i++) {
        int64_t b = clock_budget(&c);
        clock_account_insns(&c, (uint64_t)b);
        clock_run_timers(&c);
    }
    ck_assert_int_eq(log.n, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(log.at[i], 1000u * (i + 1));
    /* A deadline not a multiple of the instruction time rounds up. */
    clock_timer_arm(&t.t, clock_now_ns(&c) + 5);
    ck_assert_int_eq(clock_budget(&c), 2);
}
END_TEST

START_TEST(idle_jumps)
{
    struct clock c;
    clock_init(&c, true, 0);
    struct fire_log log = {.c = &c};
    struct tm t = {.log = &log, .id = 1};
    clock_timer_init(&t.t, &c, tm_cb, &t, "t");
    clock_timer_arm(&t.t, 5000000);
    clock_idle(&c, 10000000);
    ck_assert_uint_eq(clock_now_ns(&c), 5000000);
    ck_assert_int_eq(clock_run_timers(&c), 1);
    /* Nothing armed: idle advances by the cap only. */
    clock_idle(&c, 1000);
    ck_assert_uint_eq(clock_now_ns(&c), 5001000);
}
END_TEST

static uint64_t run_trace(void)
{
    struct clock c;
    clock_init(&c, true, 1);
    struct fire_log log = {.c = &c};
    struct tm a = {.log = &log, .id = 1, .period = 777}, b = {.log = &log, .id = 2, .period = 1234};
    clock_timer_init(&a.t, &c, tm_cb, &a, "a");
    clock_timer_init(&b.t, &c, tm_cb, &b, "b");
    clock_timer_arm(&a.t, 100);
    clock_timer_arm(&b.t, 50);
    uint64_t h = 0;
    for (int i = 0; i < 1000; i++) {
        log.n = 0;
        clock_account_insns(&c, (uint64_t)clock_budget(&c));
        clock_run_timers(&c);
        for (int k = 0; k < log.n; k++)
            h = h * 31 + log.at[k] * 7 + (uint64_t)log.order[k];
    }
    return h;
}

START_TEST(icount_deterministic)
{
    ck_assert_uint_eq(run_trace(), run_trace());
}
END_TEST

START_TEST(host_mode)
{
    struct clock c;
    clock_init(&c, false, 0);
    uint64_t t0 = clock_now_ns(&c);
    ck_assert_int_le(clock_budget(&c), CLOCK_HOST_SLICE);
    ck_assert_int_ge(clock_budget(&c), 1);
    struct fire_log log = {.c = &c};
    struct tm t = {.log = &log, .id = 1};
    clock_timer_init(&t.t, &c, tm_cb, &t, "t");
    clock_timer_arm(&t.t, t0 + 2000000);
    while (!clock_run_timers(&c))
        clock_idle(&c, 500000);
    ck_assert_uint_ge(clock_now_ns(&c), t0 + 2000000);
    ck_assert_int_eq(log.n, 1);
}
END_TEST

static void rearm_past(void *o)
{
    struct clock_timer *t = o;
    clock_timer_arm(t, 0);
}

START_TEST(runaway_bounded)
{
    struct clock c;
    clock_init(&c, true, 0);
    struct clock_timer t;
    clock_timer_init(&t, &c, rearm_past, &t, "runaway");
    clock_timer_arm(&t, 0);
    ck_assert_int_eq(clock_run_timers(&c), 1000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, deadline_order);
    tcase_add_test(tc, rearm_and_budget);
    tcase_add_test(tc, idle_jumps);
    tcase_add_test(tc, icount_deterministic);
    tcase_add_test(tc, host_mode);
    tcase_add_test(tc, runaway_bounded);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
