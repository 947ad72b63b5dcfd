/* test_bus.c — port I/O bus: direct dispatch, width splitting and widening,
 * overlap errors, unmapped all-ones, and a fuzz of random accesses. */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"

/* A device recording its accesses; reads return a function of the port. */
struct rec {
    unsigned n;
    struct { uint16_t off; unsigned size; uint32_t val; bool write; } log[64];
    unsigned widths;
};

static uint32_t rec_read(void *o, uint16_t off, unsigned size)
{
    struct rec *r = o;
    ck_assert(r->widths & size);
    if (r->n < 64)
        r->log[r->n++] = (typeof(r->log[0])){off, size, 0, false};
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)(0x10 + off + i) << (8 * i);
    return v;
}

static void rec_write(void *o, uint16_t off, uint32_t val, unsigned size)
{
    struct rec *r = o;
    ck_assert(r->widths & size);
    if (r->n < 64)
        r->log[r->n++] = (typeof(r->log[0])){off, size, val, true};
}

static struct bus *new_bus(void)
{
    struct bus *b = malloc(sizeof *b);
    bus_init(b, NULL);
    return b;
}

START_TEST(direct_access)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W8 | BUS_W16 | BUS_W32};
    char err[200];
    ck_assert_int_eq(bus_register(b, 0x100, 8, r.widths, "rec", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    ck_assert_uint_eq(bus_in(b, 0x104, 4), 0x17161514);
    ck_assert_uint_eq(r.n, 1);
    ck_assert_uint_eq(r.log[0].off, 4);
    ck_assert_uint_eq(r.log[0].size, 4);
    bus_out(b, 0x102, 0xbeef, 2);
    ck_assert(r.log[1].write && r.log[1].off == 2 && r.log[1].size == 2 && r.log[1].val == 0xbeef);
    free(b);
}
END_TEST

START_TEST(split_wide)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W8};
    char err[200];
    bus_register(b, 0x60, 4, BUS_W8, "bytes", rec_read, rec_write, &r, err, sizeof err);
    ck_assert_uint_eq(bus_in(b, 0x60, 4), 0x13121110);
    ck_assert_uint_eq(r.n, 4);
    bus_out(b, 0x61, 0xaabb, 2);
    ck_assert_uint_eq(r.n, 6);
    ck_assert(r.log[4].off == 1 && r.log[4].val == 0xbb && r.log[4].size == 1);
    ck_assert(r.log[5].off == 2 && r.log[5].val == 0xaa);
    free(b);
}
END_TEST

START_TEST(split_words)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W8 | BUS_W16};
    char err[200];
    bus_register(b, 0x1f0, 8, r.widths, "ide", rec_read, rec_write, &r, err, sizeof err);
    ck_assert_uint_eq(bus_in(b, 0x1f0, 4), 0x13121110);
    ck_assert_uint_eq(r.n, 2);
    ck_assert_uint_eq(r.log[0].size, 2);
    ck_assert_uint_eq(r.log[1].off, 2); /* low half first: a FIFO pops in order */
    free(b);
}
END_TEST

START_TEST(merge_narrow)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W32};
    char err[200];
    bus_register(b, 0xcf8, 4, BUS_W32, "dwords", rec_read, rec_write, &r, err, sizeof err);
    ck_assert_uint_eq(bus_in(b, 0xcfa, 1), 0x12);
    ck_assert(r.log[0].off == 0 && r.log[0].size == 4);
    ck_assert_uint_eq(bus_in(b, 0xcfa, 2), 0x1312);
    bus_out(b, 0xcf9, 0x5a, 1);
    ck_assert(r.log[2].write && r.log[2].size == 4 && r.log[2].val == 0x5a00);
    free(b);
}
END_TEST

START_TEST(straddle)
{
    struct bus *b = new_bus();
    struct rec r1 = {.widths = BUS_W8}, r2 = {.widths = BUS_W8 | BUS_W16};
    char err[200];
    bus_register(b, 0x10, 2, BUS_W8, "a", rec_read, rec_write, &r1, err, sizeof err);
    bus_register(b, 0x12, 2, r2.widths, "b", rec_read, rec_write, &r2, err, sizeof err);
    ck_assert_uint_eq(bus_in(b, 0x10, 4), 0x11101110);
    ck_assert_uint_eq(r1.n, 2);
    ck_assert_uint_eq(r2.n, 1);
    /* Half mapped: the unmapped half floats. */
    ck_assert_uint_eq(bus_in(b, 0x0e, 4), 0x1110ffff);
    free(b);
}
END_TEST

START_TEST(overlap_fails)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W8};
    char err[200] = "";
    ck_assert_int_eq(bus_register(b, 0x3f8, 8, BUS_W8, "uart", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    ck_assert_int_ne(bus_register(b, 0x3fc, 8, BUS_W8, "modem", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "uart"));
    ck_assert_ptr_nonnull(strstr(err, "modem"));
    /* The failed registration left nothing behind. */
    ck_assert_uint_eq(bus_in(b, 0x400, 1), 0xff);
    ck_assert_int_eq(bus_register(b, 0x400, 4, BUS_W8, "next", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    ck_assert_int_ne(bus_register(b, 0xfffe, 4, BUS_W8, "wrap", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    free(b);
}
END_TEST

static unsigned logged;
static void count_log(void *o, unsigned cat, const char *fmt, ...)
{
    (void)o;
    (void)fmt;
    if (cat == DEV_LOG_UNIMP)
        logged++;
}

START_TEST(unmapped)
{
    struct dev_log log = {DEV_LOG_UNIMP, count_log, NULL};
    struct bus *b = malloc(sizeof *b);
    bus_init(b, &log);
    logged = 0;
    ck_assert_uint_eq(bus_in(b, 0x1234, 1), 0xff);
    ck_assert_uint_eq(bus_in(b, 0x1234, 2), 0xffff);
    ck_assert_uint_eq(bus_in(b, 0x1234, 4), 0xffffffff);
    bus_out(b, 0x1234, 1, 4);
    ck_assert_uint_eq(logged, 4);
    ck_assert_uint_eq(bus_in(b, 0xffff, 4), 0xffffffff); /* wraps, no crash */
    free(b);
}
END_TEST

START_TEST(unregister)
{
    struct bus *b = new_bus();
    struct rec r = {.widths = BUS_W8};
    char err[200];
    bus_register(b, 0xc000, 16, BUS_W8, "bar", rec_read, rec_write, &r, err, sizeof err);
    ck_assert_uint_eq(bus_in(b, 0xc000, 1), 0x10);
    bus_unregister(b, 0xc000);
    ck_assert_uint_eq(bus_in(b, 0xc000, 1), 0xff);
    ck_assert_int_eq(bus_register(b, 0xc008, 16, BUS_W8, "bar2", rec_read, rec_write, &r, err,
                                  sizeof err), 0);
    free(b);
}
END_TEST

/* Fuzz: devices of every width mask at random places; random accesses of
 * every size never reach a device at an undeclared width (rec_* assert it)
 * and read back what the reference model says. */
START_TEST(fuzz)
{
    struct bus *b = new_bus();
    static struct rec recs[7];
    char err[200];
    srand(1234);
    for (unsigned i = 0; i < 7; i++) {
        recs[i].widths = i + 1;
        bus_register(b, (uint16_t)(0x100 + 0x20 * i), 8 + 4 * (i & 1), recs[i].widths, "r",
                     rec_read, rec_write, &recs[i], err, sizeof err);
    }
    for (int k = 0; k < 100000; k++) {
        uint16_t port = (uint16_t)(0xf0 + rand() % 0x120);
        unsigned size = 1u << (rand() % 3);
        for (unsigned i = 0; i < 7; i++)
            recs[i].n = 0;
        if (rand() & 1) {
            uint32_t v = bus_in(b, port, size);
            if (size < 4)
                ck_assert_uint_eq(v >> (8 * size), 0);
        } else {
            bus_out(b, port, (uint32_t)rand(), size);
        }
    }
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bus");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, direct_access);
    tcase_add_test(tc, split_wide);
    tcase_add_test(tc, split_words);
    tcase_add_test(tc, merge_narrow);
    tcase_add_test(tc, straddle);
    tcase_add_test(tc, overlap_fails);
    tcase_add_test(tc, unmapped);
    tcase_add_test(tc, unregister);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
