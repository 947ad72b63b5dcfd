/*
 * test_machine_net.c — the run loop's network polling (devices/pc.c): a
 * guest spinning in a loop still gets its backend polled (every ~1 ms of
 * host time, also under -icount where slices would otherwise run to a far
 * deadline), and a halted guest in host-time mode sleeps inside the
 * backend's poll (max_wait > 0) so a frame can wake it, while under -icount
 * a halted guest only asks the backend (max_wait 0) and time jumps.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"

#define CODE 0x100000u

struct fake_net {
    struct machine *m;
    unsigned polls, sleeping_polls, stop_after;
    int64_t max_wait_seen;
};

static void fake_send(void *o, const uint8_t *f, size_t len) {}
static void fake_poll(void *o, int64_t max_wait_ns)
{
    struct fake_net *n = o;
    n->polls++;
    if (max_wait_ns > 0) n->sleeping_polls++;
    if (max_wait_ns > n->max_wait_seen) n->max_wait_seen = max_wait_ns;
    if (n->polls == n->stop_after) machine_request_stop(n->m, 7);
}

static int run(bool icount, const uint8_t *code, size_t len, struct fake_net *n)
{
    struct net_backend be = {n, fake_send, fake_poll};
    struct machine_config cfg = {.ram_mb = 4, .icount = icount, .nic_backend = &be};
    char err[256];
    struct machine *m = machine_create(&cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    n->m = m;
    mmu_phys_write(machine_mmu(m), CODE, code, len);
    cpu_set_flat32(machine_cpu(m), CODE);
    int r = machine_run(m);
    machine_destroy(m);
    return r;
}

static const uint8_t spin[] = {0xeb, 0xfe};                   /* jmp $ */
static const uint8_t sti_hlt[] = {0xfb, 0xf4, 0xeb, 0xfd}; /* sti; hlt; jmp hlt */

START_TEST(spinning_guest_is_polled)
{
    struct fake_net n = {.stop_after = 5};
    ck_assert_int_eq(run(false, spin, sizeof spin, &n), 7);
    ck_assert_uint_eq(n.sleeping_polls, 0);
}
END_TEST

START_TEST(spinning_guest_is_polled_under_icount)
{
    struct fake_net n = {.stop_after = 5};
    ck_assert_int_eq(run(true, spin, sizeof spin, &n), 7);
    ck_assert_uint_eq(n.sleeping_polls, 0);
}
END_TEST

START_TEST(halted_guest_sleeps_in_poll)
{
    struct fake_net n = {.stop_after = 5};
    ck_assert_int_eq(run(false, sti_hlt, sizeof sti_hlt, &n), 7);
    ck_assert_uint_gt(n.sleeping_polls, 0);
    ck_assert_int_le(n.max_wait_seen, 10000000); /* never longer than the idle cap */
}
END_TEST

START_TEST(halted_guest_under_icount_does_not_wait)
{
    struct fake_net n = {.stop_after = 5};
    ck_assert_int_eq(run(true, sti_hlt, sizeof sti_hlt, &n), 7);
    ck_assert_uint_eq(n.sleeping_polls, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("machine_net");
    TCase *tc = tcase_create("machine_net");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, spinning_guest_is_polled);
    tcase_add_test(tc, spinning_guest_is_polled_under_icount);
    tcase_add_test(tc, halted_guest_sleeps_in_poll);
    tcase_add_test(tc, halted_guest_under_icount_does_not_wait);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
