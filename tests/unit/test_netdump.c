/* test_netdump.c — the pcap capture wrapper: the global header, one record
 * per frame in each direction with the frame's bytes, forwarding to the
 * inner backend and to the NIC's client unchanged, snaplen truncation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/netdump.h"

struct sink {
    uint8_t last[2048];
    size_t last_len;
    int sends, receives, polls;
};

static void inner_send(void *o, const uint8_t *f, size_t len)
{
    struct sink *s = o;
    memcpy(s->last, f, len);
    s->last_len = len;
    s->sends++;
}
static void inner_poll(void *o, int64_t w)
{
    (void)w;
    ((struct sink *)o)->polls++;
}
static bool nic_can(void *o)
{
    (void)o;
    return true;
}
static void nic_recv(void *o, const uint8_t *f, size_t len)
{
    struct sink *s = o;
    memcpy(s->last, f, len);
    s->last_len = len;
    s->receives++;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t slurp(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

START_TEST(capture_both_directions)
{
    char path[] = "/tmp/umbra-netdump-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct sink out = {0}, in = {0};
    struct net_backend inner = {&out, inner_send, inner_poll};
    struct netdump d;
    char err[200];
    ck_assert_int_eq(netdump_open(&d, path, &inner, 0, err, sizeof err), 0);
    struct net_backend *be = netdump_backend(&d);
    struct net_client c = netdump_client(&d, (struct net_client){&in, nic_can, nic_recv});

    uint8_t tx[60], rx[100];
    for (size_t i = 0; i < sizeof tx; i++) tx[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof rx; i++) rx[i] = (uint8_t)(0xff - i);
    be->send(be->opaque, tx, sizeof tx);
    be->poll(be->opaque, 0);
    ck_assert(c.can_receive(c.opaque));
    c.receive(c.opaque, rx, sizeof rx);
    ck_assert_int_eq(out.sends, 1);
    ck_assert_int_eq(out.polls, 1);
    ck_assert_mem_eq(out.last, tx, sizeof tx);
    ck_assert_int_eq(in.receives, 1);
    ck_assert_mem_eq(in.last, rx, sizeof rx);
    netdump_close(&d);

    uint8_t file[1024];
    size_t n = slurp(path, file, sizeof file);
    unlink(path);
    ck_assert_uint_eq(n, 24 + 16 + 60 + 16 + 100);
    ck_assert_uint_eq(get32(file), 0xa1b2c3d4u);
    ck_assert_uint_eq(file[4] | file[5] << 8, 2);
    ck_assert_uint_eq(file[6] | file[7] << 8, 4);
    ck_assert_uint_eq(get32(file + 16), 65535);
    ck_assert_uint_eq(get32(file + 20), 1);
    const uint8_t *r = file + 24;
    ck_assert_uint_lt(get32(r + 4), 1000000);
    ck_assert_uint_eq(get32(r + 8), 60);
    ck_assert_uint_eq(get32(r + 12), 60);
    ck_assert_mem_eq(r + 16, tx, 60);
    r += 16 + 60;
    ck_assert_uint_eq(get32(r + 8), 100);
    ck_assert_mem_eq(r + 16, rx, 100);
}
END_TEST

START_TEST(snaplen_and_no_inner)
{
    char path[] = "/tmp/umbra-netdump-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct netdump d;
    char err[200];
    ck_assert_int_eq(netdump_open(&d, path, NULL, 32, err, sizeof err), 0);
    struct net_backend *be = netdump_backend(&d);
    uint8_t tx[100] = {1, 2, 3};
    be->send(be->opaque, tx, sizeof tx); /* no inner backend: recorded only */
    be->poll(be->opaque, 0);
    netdump_close(&d);
    uint8_t file[1024];
    size_t n = slurp(path, file, sizeof file);
    unlink(path);
    ck_assert_uint_eq(n, 24 + 16 + 32);
    ck_assert_uint_eq(get32(file + 24 + 8), 32);
    ck_assert_uint_eq(get32(file + 24 + 12), 100);
    ck_assert_int_ne(netdump_open(&d, "/nonexistent-dir/x.pcap", NULL, 0, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.pcap"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("netdump");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, capture_both_directions);
    tcase_add_test(tc, snaplen_and_no_inner);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
