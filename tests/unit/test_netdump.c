/*
 * test_netdump.c — the pcap capture wrapper: frames the NIC sends and frames
 * the backend delivers both reach their destination unchanged and land in
 * the file as a valid pcap (global header, one record each, in order);
 * can_receive passes through; an uncreatable file fails naming the flag.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/netdump.h"

struct fake {
    uint8_t last[64];
    size_t len;
    unsigned sends, polls, receives;
    bool room;
};

static void f_send(void *o, const uint8_t *frame, size_t len)
{
    struct fake *f = o;
    memcpy(f->last, frame, len);
    f->len = len;
    f->sends++;
}
static void f_poll(void *o, int64_t w) { ((struct fake *)o)->polls++; }
static bool f_can(void *o) { return ((struct fake *)o)->room; }
static void f_recv(void *o, const uint8_t *frame, size_t len)
{
    struct fake *f = o;
    memcpy(f->last, frame, len);
    f->len = len;
    f->receives++;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

START_TEST(capture_both_ways)
{
    char path[] = "/tmp/umbra-netdump-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct fake back = {0}, nic = {.room = true};
    struct net_backend inner = {&back, f_send, f_poll};
    char err[256];
    struct netdump *d = netdump_open(path, &inner, err, sizeof err);
    ck_assert_msg(d != NULL, "%s", err);
    struct net_backend *be = netdump_backend(d);
    struct net_client c = netdump_client(d, (struct net_client){&nic, f_can, f_recv});

    uint8_t out[60], in[42];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(0xff - i);
    be->send(be->opaque, out, sizeof out);
    ck_assert_uint_eq(back.sends, 1);
    ck_assert(!memcmp(back.last, out, sizeof out));
    be->poll(be->opaque, 0);
    ck_assert_uint_eq(back.polls, 1);
    ck_assert(c.can_receive(c.opaque));
    nic.room = false;
    ck_assert(!c.can_receive(c.opaque));
    c.receive(c.opaque, in, sizeof in);
    ck_assert_uint_eq(nic.receives, 1);
    ck_assert(!memcmp(nic.last, in, sizeof in));
    netdump_close(d);

    FILE *f = fopen(path, "rb");
    uint8_t buf[512];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    unlink(path);
    ck_assert_uint_eq(n, 24 + 16 + sizeof out + 16 + sizeof in);
    ck_assert_uint_eq(le32(buf), 0xa1b2c3d4);
    ck_assert_uint_eq(buf[4], 2);
    ck_assert_uint_eq(buf[6], 4);
    ck_assert_uint_eq(le32(buf + 20), 1); /* Ethernet */
    const uint8_t *r = buf + 24;
    ck_assert_uint_eq(le32(r + 8), sizeof out);
    ck_assert_uint_eq(le32(r + 12), sizeof out);
    ck_assert(!memcmp(r + 16, out, sizeof out));
    r += 16 + sizeof out;
    ck_assert_uint_eq(le32(r + 8), sizeof in);
    ck_assert(!memcmp(r + 16, in, sizeof in));
}
END_TEST

START_TEST(bad_path)
{
    char err[256] = "";
    struct net_backend inner = {0};
    ck_assert_ptr_null(netdump_open("/nonexistent-dir/x.pcap", &inner, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "filter-dump"));
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent-dir/x.pcap"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("netdump");
    TCase *tc = tcase_create("netdump");
    tcase_add_test(tc, capture_both_ways);
    tcase_add_test(tc, bad_path);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
