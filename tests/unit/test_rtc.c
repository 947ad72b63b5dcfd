/* test_rtc.c — the MC146818 through ports 0x70/0x71 against a virtual
 * (icount) clock: calendar registers in BCD/binary and 12/24 h, setting the
 * time under SET, UIP timing, divider reset, periodic/alarm/update-ended
 * interrupts with exact times, flag clearing on reading C, the CMOS memory
 * bytes, the NMI mask bit, save/load, and a register fuzz. */
#include <check.h>
#include <stdlib.h>

#include "devices/rtc.h"

struct rig {
    struct bus bus;
    struct clock clock;
    struct rtc rtc;
    bool level;
    int edges;
    uint64_t edge_ns[4096];
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    ck_assert_int_eq(line, 8);
    if (level && !r->level) {
        if (r->edges < 4096) r->edge_ns[r->edges] = clock_now_ns(&r->clock);
        r->edges++;
    }
    r->level = level;
}

static struct rig *rig_new(int64_t start)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    clock_init(&r->clock, true, 0);
    ck_assert_int_eq(rtc_init(&r->rtc, &r->bus, &r->clock, (struct irq_line){irq_sink, r, 8}, start,
                              NULL, err, sizeof err),
                     0);
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v)
{
    bus_out(&r->bus, p, v, 1);
}
static uint8_t inb(struct rig *r, uint16_t p)
{
    return (uint8_t)bus_in(&r->bus, p, 1);
}
static uint8_t rd(struct rig *r, uint8_t idx)
{
    outb(r, 0x70, idx);
    return inb(r, 0x71);
}
static void wr(struct rig *r, uint8_t idx, uint8_t v)
{
    outb(r, 0x70, idx);
    outb(r, 0x71, v);
}

/* Advance virtual time the way the machine's run loop does; optionally
 * acknowledge each interrupt by reading register C, as a handler would. */
static void run_until_ack(struct rig *r, uint64_t t, bool ack)
{
    clock_run_timers(&r->clock);
    while (clock_now_ns(&r->clock) < t) {
        uint64_t step = (uint64_t)clock_budget(&r->clock);
        if (clock_now_ns(&r->clock) + step > t) step = t - clock_now_ns(&r->clock);
        clock_account_insns(&r->clock, step);
        clock_run_timers(&r->clock);
        if (ack && r->level) rd(r, 0x0c);
    }
}
static void run_until(struct rig *r, uint64_t t)
{
    run_until_ack(r, t, false);
}

#define SEC 1000000000ull

START_TEST(calendar_bcd)
{
    struct rig *r = rig_new(RTC_FIXED_EPOCH); /* 2024-01-01 00:00:00, a Monday */
    ck_assert_uint_eq(rd(r, 0x00), 0x00);
    ck_assert_uint_eq(rd(r, 0x02), 0x00);
    ck_assert_uint_eq(rd(r, 0x04), 0x00);
    ck_assert_uint_eq(rd(r, 0x06), 0x02);
    ck_assert_uint_eq(rd(r, 0x07), 0x01);
    ck_assert_uint_eq(rd(r, 0x08), 0x01);
    ck_assert_uint_eq(rd(r, 0x09), 0x24);
    ck_assert_uint_eq(rd(r, 0x32), 0x20);
    ck_assert_uint_eq(rd(r, 0x0a), 0x26);
    ck_assert_uint_eq(rd(r, 0x0b), 0x02);
    ck_assert_uint_eq(rd(r, 0x0d), 0x80);
    run_until(r, 3725 * SEC + SEC / 2); /* 01:02:05.5 */
    ck_assert_uint_eq(rd(r, 0x00), 0x05);
    ck_assert_uint_eq(rd(r, 0x02), 0x02);
    ck_assert_uint_eq(rd(r, 0x04), 0x01);
    /* Binary mode reads the same time in binary. */
    wr(r, 0x0b, 0x06);
    ck_assert_uint_eq(rd(r, 0x00), 5);
    /* 12-hour mode: 13:00 is 1 PM. */
    run_until(r, 13 * 3600 * SEC);
    wr(r, 0x0b, 0x00);
    ck_assert_uint_eq(rd(r, 0x04), 0x81);
    wr(r, 0x0b, 0x04);
    ck_assert_uint_eq(rd(r, 0x04), 0x81);
    run_until(r, 24 * 3600 * SEC + 1800 * SEC); /* 00:30 on the 2nd: 12 AM */
    ck_assert_uint_eq(rd(r, 0x04), 12);
    ck_assert_uint_eq(rd(r, 0x07), 2);
    ck_assert_uint_eq(rd(r, 0x06), 3);
    free(r);
}
END_TEST

START_TEST(set_time)
{
    struct rig *r = rig_new(RTC_FIXED_EPOCH);
    run_until(r, SEC / 4);
    wr(r, 0x0b, 0x82); /* SET, 24 h, BCD */
    wr(r, 0x32, 0x19);
    wr(r, 0x09, 0x99);
    wr(r, 0x08, 0x12);
    wr(r, 0x07, 0x31);
    wr(r, 0x04, 0x23);
    wr(r, 0x02, 0x59);
    wr(r, 0x00, 0x58);
    run_until(r, 5 * SEC); /* frozen while SET */
    ck_assert_uint_eq(rd(r, 0x00), 0x58);
    ck_assert_uint_eq(rd(r, 0x06), 0x06); /* 1999-12-31 was a Friday */
    wr(r, 0x0b, 0x02);
    /* The divider phase kept running: updates at each whole second. */
    run_until(r, 6 * SEC - 1);
    ck_assert_uint_eq(rd(r, 0x00), 0x58);
    run_until(r, 6 * SEC);
    ck_assert_uint_eq(rd(r, 0x00), 0x59);
    run_until(r, 7 * SEC);
    ck_assert_uint_eq(rd(r, 0x00), 0x00);
    ck_assert_uint_eq(rd(r, 0x02), 0x00);
    ck_assert_uint_eq(rd(r, 0x04), 0x00);
    ck_assert_uint_eq(rd(r, 0x07), 0x01);
    ck_assert_uint_eq(rd(r, 0x08), 0x01);
    ck_assert_uint_eq(rd(r, 0x09), 0x00);
    ck_assert_uint_eq(rd(r, 0x32), 0x20);
    ck_assert_int_eq(rtc_time(&r->rtc), 946684800); /* 2000-01-01 00:00:00 */
    /* Writing a 12-hour time in binary mode. */
    wr(r, 0x0b, 0x84);
    wr(r, 0x04, 0x80 | 12); /* 12 PM = noon */
    wr(r, 0x0b, 0x06);
    ck_assert_uint_eq(rd(r, 0x04), 12);
    /* SET clears UIE. */
    wr(r, 0x0b, 0x12);
    wr(r, 0x0b, 0x92);
    ck_assert_uint_eq(rd(r, 0x0b), 0x82);
    free(r);
}
END_TEST

START_TEST(uip_window)
{
    struct rig *r = rig_new(0);
    run_until(r, SEC - 244001);
    ck_assert_uint_eq(rd(r, 0x0a) & 0x80, 0);
    run_until(r, SEC - 244000);
    ck_assert_uint_eq(rd(r, 0x0a) & 0x80, 0x80);
    ck_assert_uint_eq(rd(r, 0x00), 0x00);
    run_until(r, SEC);
    ck_assert_uint_eq(rd(r, 0x0a) & 0x80, 0);
    ck_assert_uint_eq(rd(r, 0x00), 0x01);
    /* No UIP while SET inhibits updates. */
    wr(r, 0x0b, 0x82);
    run_until(r, 2 * SEC - 1000);
    ck_assert_uint_eq(rd(r, 0x0a) & 0x80, 0);
    free(r);
}
END_TEST

START_TEST(divider_reset)
{
    struct rig *r = rig_new(0);
    run_until(r, 2 * SEC + SEC / 4);
    wr(r, 0x0a, 0x76); /* hold the divider in reset */
    run_until(r, 10 * SEC);
    ck_assert_uint_eq(rd(r, 0x00), 0x02);
    wr(r, 0x0a, 0x26); /* first update half a second later */
    run_until(r, 10 * SEC + SEC / 2 - 1);
    ck_assert_uint_eq(rd(r, 0x00), 0x02);
    run_until(r, 10 * SEC + SEC / 2);
    ck_assert_uint_eq(rd(r, 0x00), 0x03);
    run_until(r, 11 * SEC + SEC / 2);
    ck_assert_uint_eq(rd(r, 0x00), 0x04);
    free(r);
}
END_TEST

START_TEST(periodic)
{
    struct rig *r = rig_new(0);
    rd(r, 0x0c);
    wr(r, 0x0b, 0x42); /* PIE at 1024 Hz */
    run_until_ack(r, SEC, true);
    ck_assert_int_eq(r->edges, 1024);
    /* Period 976.5625 us: tick k*32 of 32768 Hz, rounded up to a ns. */
    for (int k = 0; k < 1024; k++)
        ck_assert_uint_eq(r->edge_ns[k], ((uint64_t)(k + 1) * 32 * SEC + 32767) / 32768);
    /* Without reading C the line stays high: one edge only. */
    r->edges = 0;
    rd(r, 0x0c);
    run_until(r, 2 * SEC);
    ck_assert_int_eq(r->edges, 1);
    ck_assert(r->level);
    ck_assert_uint_eq(rd(r, 0x0c), 0xc0 | 0x10); /* IRQF, PF, and UF (not enabled) */
    ck_assert(!r->level);
    /* Rate 15: 2 Hz. */
    r->edges = 0;
    wr(r, 0x0a, 0x2f);
    run_until_ack(r, 4 * SEC, true);
    ck_assert_int_eq(r->edges, 4);
    ck_assert_uint_eq(r->edge_ns[0], 2 * SEC + SEC / 2);
    /* Rate 0 stops it. */
    wr(r, 0x0a, 0x20);
    r->edges = 0;
    run_until_ack(r, 6 * SEC, true);
    ck_assert_int_eq(r->edges, 0);
    free(r);
}
END_TEST

START_TEST(flags_without_enables)
{
    struct rig *r = rig_new(0);
    rd(r, 0x0c);
    run_until(r, SEC / 100);
    /* PF is set at the rate even with PIE clear; no interrupt. */
    ck_assert_uint_eq(rd(r, 0x0c), 0x40);
    ck_assert_uint_eq(rd(r, 0x0c), 0x00);
    run_until(r, SEC);
    ck_assert_uint_eq(rd(r, 0x0c), 0x50); /* PF and UF */
    ck_assert_int_eq(r->edges, 0);
    /* Enabling PIE with PF pending interrupts at once. */
    run_until(r, SEC + SEC / 100);
    wr(r, 0x0b, 0x42);
    ck_assert(r->level);
    ck_assert_uint_eq(rd(r, 0x0c), 0xc0);
    ck_assert(!r->level);
    free(r);
}
END_TEST

START_TEST(update_ended)
{
    struct rig *r = rig_new(0);
    wr(r, 0x0a, 0x20); /* no periodic flag noise */
    rd(r, 0x0c);
    wr(r, 0x0b, 0x12);
    run_until_ack(r, 5 * SEC + 1, true);
    ck_assert_int_eq(r->edges, 5);
    for (int k = 0; k < 5; k++)
        ck_assert_uint_eq(r->edge_ns[k], (uint64_t)(k + 1) * SEC);
    free(r);
}
END_TEST

START_TEST(alarm)
{
    struct rig *r = rig_new(RTC_FIXED_EPOCH);
    wr(r, 0x0a, 0x20);
    wr(r, 0x01, 0x05);
    wr(r, 0x03, 0x00);
    wr(r, 0x05, 0x00);
    rd(r, 0x0c);
    wr(r, 0x0b, 0x22); /* AIE */
    run_until_ack(r, 100 * SEC, true);
    ck_assert_int_eq(r->edges, 1);
    ck_assert_uint_eq(r->edge_ns[0], 5 * SEC);
    /* Don't-care hours and minutes: second 30 of every minute. */
    r->edges = 0;
    wr(r, 0x01, 0x30);
    wr(r, 0x03, 0xc0);
    wr(r, 0x05, 0xff);
    run_until_ack(r, 100 * SEC + 180 * SEC, true);
    ck_assert_int_eq(r->edges, 3);
    ck_assert_uint_eq(r->edge_ns[0], 150 * SEC);
    ck_assert_uint_eq(r->edge_ns[1], 210 * SEC);
    /* A missed alarm (host stall) still sets AF. */
    wr(r, 0x0b, 0x02);
    rd(r, 0x0c);
    clock_account_insns(&r->clock, 3600 * SEC);
    ck_assert_uint_eq(rd(r, 0x0c) & 0x20, 0x20);
    free(r);
}
END_TEST

START_TEST(cmos_memory)
{
    struct rig *r = rig_new(0);
    rtc_cmos_setup(&r->rtc, 32u << 20, 0x40);
    ck_assert_uint_eq(rd(r, 0x15), 0x80);
    ck_assert_uint_eq(rd(r, 0x16), 0x02);
    ck_assert_uint_eq(rd(r, 0x17) | rd(r, 0x18) << 8, 31 * 1024);
    ck_assert_uint_eq(rd(r, 0x30) | rd(r, 0x31) << 8, 31 * 1024);
    ck_assert_uint_eq(rd(r, 0x34) | rd(r, 0x35) << 8, (32 - 16) * 16);
    ck_assert_uint_eq(rd(r, 0x5b) | rd(r, 0x5c) | rd(r, 0x5d), 0);
    ck_assert_uint_eq(rd(r, 0x10), 0x40);
    ck_assert_uint_eq(rd(r, 0x14), 0x03);
    ck_assert_uint_eq(rd(r, 0x0f), 0);
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2d; i++)
        sum += rd(r, (uint8_t)i);
    ck_assert_uint_eq(rd(r, 0x2e) << 8 | rd(r, 0x2f), sum);
    /* Large memory: extended capped at 0xffff KiB. */
    rtc_cmos_setup(&r->rtc, 3584ull << 20, 0);
    ck_assert_uint_eq(rd(r, 0x17) | rd(r, 0x18) << 8, 0xffff);
    ck_assert_uint_eq(rd(r, 0x34) | rd(r, 0x35) << 8, (3584 - 16) * 16);
    ck_assert_uint_eq(rd(r, 0x14), 0x02);
    /* Plain RAM reads back; the index port masks bit 7 (NMI disable). */
    wr(r, 0x0f | 0x80, 0x0a);
    ck_assert(r->rtc.nmi_disabled);
    ck_assert_uint_eq(rd(r, 0x0f), 0x0a);
    ck_assert(!r->rtc.nmi_disabled);
    for (int i = 0x0e; i < 0x80; i++)
        if (i != 0x32) wr(r, (uint8_t)i, (uint8_t)(i * 7));
    for (int i = 0x0e; i < 0x80; i++)
        if (i != 0x32) ck_assert_uint_eq(rd(r, (uint8_t)i), (uint8_t)(i * 7));
    ck_assert_uint_eq(inb(r, 0x70), 0xff);
    free(r);
}
END_TEST

START_TEST(reset_keeps_time)
{
    struct rig *r = rig_new(RTC_FIXED_EPOCH);
    wr(r, 0x40, 0x5a);
    wr(r, 0x0b, 0x72);
    run_until(r, 3 * SEC);
    ck_assert(r->level);
    rtc_reset(&r->rtc);
    ck_assert(!r->level);
    ck_assert_uint_eq(rd(r, 0x0b), 0x02);
    ck_assert_uint_eq(rd(r, 0x00), 0x03);
    ck_assert_uint_eq(rd(r, 0x40), 0x5a);
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(RTC_FIXED_EPOCH), *b = rig_new(0);
    wr(a, 0x0b, 0x80 | 0x02);
    wr(a, 0x02, 0x42);
    wr(a, 0x0b, 0x52); /* PIE | UIE */
    wr(a, 0x50, 0x77);
    run_until(a, SEC / 2);
    run_until(b, SEC / 2);
    struct state_buf s;
    state_init(&s);
    rtc_save(&a->rtc, &s);
    ck_assert_int_eq(rtc_load(&b->rtc, &s), 0);
    ck_assert_uint_eq(rd(b, 0x02), 0x42);
    ck_assert_uint_eq(rd(b, 0x50), 0x77);
    ck_assert(b->level);
    ck_assert_uint_eq(rd(b, 0x0c) & 0x40, 0x40);
    b->edges = 0;
    run_until_ack(b, SEC / 2 + SEC / 8, true);
    ck_assert_int_eq(b->edges, 128);
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

/* Random port traffic and time jumps: no crash; the line always equals
 * IRQF; D always reads VRT; reading C leaves the line low; while running
 * without SET, time never goes backwards unless the guest wrote it. */
START_TEST(fuzz)
{
    struct rig *r = rig_new(RTC_FIXED_EPOCH);
    srand(7);
    for (int k = 0; k < 100000; k++) {
        int what = rand() % 10;
        uint8_t idx = (uint8_t)(rand() % 0x40);
        if (what < 3) {
            uint8_t v = (uint8_t)rand();
            if (idx == 0x0a && rand() % 4)
                v = (uint8_t)(0x20 | (v & 0x0f)); /* mostly a running divider */
            wr(r, idx, v);
        } else if (what < 7) {
            outb(r, 0x70, (uint8_t)rand());
            inb(r, 0x71);
        } else if (what < 9) {
            clock_account_insns(&r->clock, (uint64_t)rand() % 3000000);
            clock_run_timers(&r->clock);
        } else {
            ck_assert_uint_eq(rd(r, 0x0d), 0x80);
            rd(r, 0x0c);
            ck_assert(!r->level);
        }
        ck_assert(r->level == r->rtc.irq_level);
        ck_assert(r->level == ((r->rtc.cmos[0x0c] & 0x80) != 0));
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rtc");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, calendar_bcd);
    tcase_add_test(tc, set_time);
    tcase_add_test(tc, uip_window);
    tcase_add_test(tc, divider_reset);
    tcase_add_test(tc, periodic);
    tcase_add_test(tc, flags_without_enables);
    tcase_add_test(tc, update_ended);
    tcase_add_test(tc, alarm);
    tcase_add_test(tc, cmos_memory);
    tcase_add_test(tc, reset_keeps_time);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
