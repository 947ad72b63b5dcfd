/* test_pit.c — the 8254 through its ports against a virtual (icount) clock:
 * mode 2/3 periods and exact edge times on IRQ0, mode 0 one-shot, counter
 * latch, read-back, BCD, channel 2 and port 0x61, save/load, and a fuzz. */
#include <check.h>
#include <stdlib.h>

#include "devices/pit.h"

struct rig {
    struct bus bus;
    struct clock clock;
    struct pit pit;
    bool level;
    int edges;
    uint64_t edge_ns[256];
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    if (level && !r->level) {
        if (r->edges < 256)
            r->edge_ns[r->edges] = clock_now_ns(&r->clock);
        r->edges++;
    }
    r->level = level;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    clock_init(&r->clock, true, 0);
    ck_assert_int_eq(pit_init(&r->pit, &r->bus, &r->clock, (struct irq_line){irq_sink, r, 0},
                              NULL, err, sizeof err), 0);
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }

/* Advance virtual time the way the machine's run loop does. */
static void run_until(struct rig *r, uint64_t t)
{
    clock_run_timers(&r->clock);
    while (clock_now_ns(&r->clock) < t) {
        uint64_t step = (uint64_t)clock_budget(&r->clock);
        if (clock_now_ns(&r->clock) + step > t)
            step = t - clock_now_ns(&r->clock);
        clock_account_insns(&r->clock, step);
        clock_run_timers(&r->clock);
    }
}

static uint64_t ticks_ns(uint64_t t)
{
    return (uint64_t)(((unsigned __int128)t * 1000000000u + PIT_HZ - 1) / PIT_HZ);
}

static void program(struct rig *r, int ch, uint8_t mode, uint16_t count)
{
    outb(r, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1));
    outb(r, 0x40 + ch, count & 0xff);
    outb(r, 0x40 + ch, count >> 8);
}

START_TEST(mode2_period)
{
    struct rig *r = rig_new();
    program(r, 0, 2, 1193);
    ck_assert(r->level); /* the control word set OUT high */
    r->edges = 0;
    run_until(r, 100000000); /* 100 ms */
    ck_assert_int_eq(r->edges, 100);
    for (int k = 0; k < 100; k++)
        ck_assert_uint_eq(r->edge_ns[k], ticks_ns((uint64_t)(k + 1) * 1193));
    free(r);
}
END_TEST

START_TEST(mode3_period)
{
    struct rig *r = rig_new();
    program(r, 0, 3, 11932);
    r->edges = 0;
    run_until(r, 1000000000); /* 1 s: 1193182 / 11932 = 99.99 periods */
    ck_assert_int_eq(r->edges, 99);
    ck_assert_uint_eq(r->edge_ns[0], ticks_ns(11932));
    /* Square wave: high for the first half period, low for the second. */
    uint64_t t0 = ticks_ns(100 * 11932);
    run_until(r, t0 + ticks_ns(100));
    ck_assert(pit_out(&r->pit, 0));
    run_until(r, t0 + ticks_ns(5966 + 10));
    ck_assert(!pit_out(&r->pit, 0));
    free(r);
}
END_TEST

START_TEST(count_zero_is_65536)
{
    struct rig *r = rig_new();
    program(r, 0, 2, 0);
    r->edges = 0;
    run_until(r, 200000000);
    ck_assert_int_eq(r->edges, (int)(200000000ull * PIT_HZ / 1000000000u / 65536));
    free(r);
}
END_TEST

START_TEST(mode0_one_shot)
{
    struct rig *r = rig_new();
    outb(r, 0x43, 0x30); /* ch0, lo/hi, mode 0 */
    ck_assert(!r->level);
    outb(r, 0x40, 0xe8);
    outb(r, 0x40, 0x03); /* 1000 */
    run_until(r, ticks_ns(999));
    ck_assert_int_eq(r->edges, 0);
    run_until(r, ticks_ns(1000));
    ck_assert_int_eq(r->edges, 1);
    ck_assert(r->level);
    run_until(r, 100000000);
    ck_assert_int_eq(r->edges, 1);
    free(r);
}
END_TEST

START_TEST(latch_and_readback)
{
    struct rig *r = rig_new();
    program(r, 0, 2, 10000);
    run_until(r, ticks_ns(1000));
    outb(r, 0x43, 0x00); /* latch ch0 */
    run_until(r, ticks_ns(3000));
    uint16_t v = inb(r, 0x40);
    v |= (uint16_t)(inb(r, 0x40) << 8);
    ck_assert_uint_eq(v, 9000);
    /* Unlatched: live. */
    v = inb(r, 0x40);
    v |= (uint16_t)(inb(r, 0x40) << 8);
    ck_assert_uint_eq(v, 7000);
    /* Read-back: status and count of ch0. */
    outb(r, 0x43, 0xc2);
    uint8_t st = inb(r, 0x40);
    ck_assert_uint_eq(st & 0x7f, 0x34);
    ck_assert(st & 0x80);
    run_until(r, ticks_ns(3500));
    v = inb(r, 0x40);
    v |= (uint16_t)(inb(r, 0x40) << 8);
    ck_assert_uint_eq(v, 7000);
    /* Null count right after a control word. */
    outb(r, 0x43, 0x34);
    outb(r, 0x43, 0xe2);
    ck_assert(inb(r, 0x40) & 0x40);
    free(r);
}
END_TEST

START_TEST(lsb_msb_only_and_bcd)
{
    struct rig *r = rig_new();
    outb(r, 0x43, 0x90 | 0x01 | 0x00); /* ch2, LSB only, mode 0, BCD */
    outb(r, 0x61, 0x01);               /* gate 2 on */
    outb(r, 0x42, 0x99);               /* BCD 99 */
    run_until(r, ticks_ns(9));
    ck_assert_uint_eq(inb(r, 0x42), 0x90);
    outb(r, 0x43, 0x60 | 0x04); /* ch1, MSB only, mode 2 */
    outb(r, 0x41, 0x01);        /* count 256 */
    ck_assert_uint_eq(inb(r, 0x41), 0x01);
    free(r);
}
END_TEST

START_TEST(channel2_port61)
{
    struct rig *r = rig_new();
    outb(r, 0x61, 0x00);
    program(r, 2, 0, 5000);
    run_until(r, ticks_ns(6000));
    ck_assert_uint_eq(inb(r, 0x61) & 0x20, 0); /* gate low: not counting */
    outb(r, 0x61, 0x01);
    uint64_t start = clock_now_ns(&r->clock);
    while (!(inb(r, 0x61) & 0x20))
        run_until(r, clock_now_ns(&r->clock) + 1000);
    uint64_t took = clock_now_ns(&r->clock) - start;
    ck_assert_uint_ge(took, ticks_ns(4999));
    ck_assert_uint_le(took, ticks_ns(5001) + 1000);
    /* Refresh toggle changes state every 15 us. */
    uint8_t a = inb(r, 0x61) & 0x10;
    run_until(r, clock_now_ns(&r->clock) + 15085);
    ck_assert_uint_ne(inb(r, 0x61) & 0x10, a);
    ck_assert_uint_eq(inb(r, 0x61) & 0x0f, 0x01);
    ck_assert_int_eq(r->edges, 0); /* channel 2 is not IRQ0 */
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    program(a, 0, 2, 1193);
    a->edges = 0;
    run_until(a, 5000000);
    run_until(b, 5000000);
    struct state_buf s;
    state_init(&s);
    pit_save(&a->pit, &s);
    ck_assert_int_eq(pit_load(&b->pit, &s), 0);
    ck_assert(b->level);
    b->edges = 0;
    run_until(a, 50000000);
    run_until(b, 50000000);
    ck_assert_int_eq(a->edges - 5, b->edges);
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(7);
    for (int k = 0; k < 100000; k++) {
        int what = rand() % 6;
        if (what < 2)
            outb(r, (uint16_t)(0x40 + rand() % 4), (uint8_t)rand());
        else if (what == 2)
            outb(r, 0x61, (uint8_t)rand());
        else if (what == 3)
            inb(r, (uint16_t)(rand() & 1 ? 0x61 : 0x40 + rand() % 4));
        else
            run_until(r, clock_now_ns(&r->clock) + (uint64_t)(rand() % 100000));
        for (int c = 0; c < 3; c++)
            ck_assert_uint_le(pit_counter(&r->pit, c), 65535);
        /* A counting periodic channel 0 always has its next edge armed in
         * the future; in mode 0 IRQ0 follows OUT. */
        struct pit_channel *c0 = &r->pit.ch[0];
        if (c0->counting && (c0->mode == 2 || c0->mode == 3)) {
            ck_assert(r->pit.timer.armed);
            ck_assert_uint_gt(r->pit.timer.deadline, clock_now_ns(&r->clock));
        }
        if (c0->mode == 0)
            ck_assert(r->level == pit_out(&r->pit, 0));
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pit");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, mode2_period);
    tcase_add_test(tc, mode3_period);
    tcase_add_test(tc, count_zero_is_65536);
    tcase_add_test(tc, mode0_one_shot);
    tcase_add_test(tc, latch_and_readback);
    tcase_add_test(tc, lsb_msb_only_and_bcd);
    tcase_add_test(tc, channel2_port61);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
