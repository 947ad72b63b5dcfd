/*
 * test_cmdline_net.c — the network flags as QEMU spells them: -netdev user
 * with its properties and repeatable hostfwd=, -device ne2k_pci/ne2k_isa,
 * -nic user|none, -net nic + -net user, -object filter-dump; unknown models,
 * duplicate ids, a -device naming a missing -netdev and malformed hostfwd
 * fail with one line naming the flag.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/cmdline.h"

static struct cmdline cl;
static char err[256];

static const char *parse(const char *first, ...)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = (char *)"umbra";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    err[0] = 0;
    cmdline_free(&cl);
    return cmdline_parse(&cl, argc, argv, err, sizeof err);
}

static void fails_naming(const char *flag)
{
    ck_assert_msg(strstr(err, flag) != NULL, "error '%s' does not name %s", err, flag);
    ck_assert_ptr_null(strchr(err, '\n'));
}

static const struct net_user_config *nic_user(void)
{
    ck_assert_int_ge(cl.nic_netdev, 0);
    return &cl.netdevs[cl.nic_netdev].user;
}

static const uint8_t QEMU_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

START_TEST(defaults)
{
    ck_assert_ptr_null(parse(NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NONE);
    ck_assert_int_eq(cl.nic_netdev, -1);
    ck_assert(!memcmp(cl.cfg.nic_mac, QEMU_MAC, 6));
    ck_assert_ptr_null(parse("-nic", "none", NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NONE);
}
END_TEST

START_TEST(netdev_device)
{
    ck_assert_ptr_null(parse("-device", "ne2k_pci,netdev=n0,mac=52:54:00:aa:bb:cc", "-netdev",
                             "user,id=n0,net=192.168.76.0/24,host=192.168.76.1,dns=192.168.76.9,"
                             "dhcpstart=192.168.76.100,hostfwd=tcp::2222-:22,"
                             "hostfwd=udp:127.0.0.1:5353-10.0.2.15:53,restrict=on,tftp=/srv,"
                             "bootfile=pxelinux.0,hostname=guest",
                             NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_PCI);
    const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};
    ck_assert(!memcmp(cl.cfg.nic_mac, mac, 6));
    const struct net_user_config *u = nic_user();
    ck_assert_str_eq(cl.netdevs[cl.nic_netdev].id, "n0");
    ck_assert_uint_eq(u->net, 0xc0a84c00);
    ck_assert_uint_eq(u->mask, 0xffffff00);
    ck_assert_uint_eq(u->host, 0xc0a84c01);
    ck_assert_uint_eq(u->dns, 0xc0a84c09);
    ck_assert_uint_eq(u->dhcp_start, 0xc0a84c64);
    ck_assert(u->restrict_);
    ck_assert_str_eq(u->tftp, "/srv");
    ck_assert_str_eq(u->bootfile, "pxelinux.0");
    ck_assert_str_eq(u->hostname, "guest");
    ck_assert_uint_eq(u->nhostfwd, 2);
    ck_assert(!u->hostfwd[0].udp);
    ck_assert_uint_eq(u->hostfwd[0].host_addr, 0);
    ck_assert_uint_eq(u->hostfwd[0].host_port, 2222);
    ck_assert_uint_eq(u->hostfwd[0].guest_addr, 0);
    ck_assert_uint_eq(u->hostfwd[0].guest_port, 22);
    ck_assert(u->hostfwd[1].udp);
    ck_assert_uint_eq(u->hostfwd[1].host_addr, 0x7f000001);
    ck_assert_uint_eq(u->hostfwd[1].guest_addr, 0x0a00020f);
    ck_assert_uint_eq(u->hostfwd[1].guest_port, 53);

    ck_assert_ptr_null(parse("-netdev", "user,id=x", "-device", "ne2k_isa,netdev=x,iobase=0x280,irq=10",
                             NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_ISA);
    ck_assert_uint_eq(cl.cfg.nic_iobase, 0x280);
    ck_assert_uint_eq(cl.cfg.nic_irq, 10);
    ck_assert(!memcmp(cl.cfg.nic_mac, QEMU_MAC, 6));
    ck_assert_ptr_null(parse("-device", "ne2k_isa", NULL));
    ck_assert_uint_eq(cl.cfg.nic_iobase, 0x300);
    ck_assert_uint_eq(cl.cfg.nic_irq, 9);
    ck_assert_int_eq(cl.nic_netdev, -1); /* a NIC with no cable */
}
END_TEST

START_TEST(nic_and_net)
{
    ck_assert_ptr_null(parse("-nic", "user,model=ne2k_isa,mac=02:00:00:00:00:01,hostfwd=tcp::8080-:80",
                             NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_ISA);
    ck_assert_uint_eq(cl.cfg.nic_mac[0], 2);
    ck_assert_uint_eq(cl.cfg.nic_mac[5], 1);
    ck_assert_uint_eq(nic_user()->nhostfwd, 1);
    ck_assert_uint_eq(nic_user()->hostfwd[0].host_port, 8080);
    ck_assert_ptr_null(parse("-nic", "user", NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_PCI);
    ck_assert_int_ge(cl.nic_netdev, 0);

    ck_assert_ptr_null(parse("-net", "nic,model=ne2k_pci,macaddr=52:54:00:00:00:07", "-net",
                             "user,hostfwd=tcp::2222-:22,hostname=box", NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_PCI);
    ck_assert_uint_eq(cl.cfg.nic_mac[5], 7);
    ck_assert_str_eq(nic_user()->hostname, "box");
    ck_assert_ptr_null(parse("-net", "nic", NULL));
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_PCI);
    ck_assert_int_eq(cl.nic_netdev, -1);
}
END_TEST

START_TEST(errors)
{
    ck_assert_ptr_nonnull(parse("-device", "ne2k_pci,netdev=nope", NULL));
    fails_naming("-device");
    ck_assert_ptr_nonnull(strstr(err, "nope"));
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=a", "-netdev", "user,id=a", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(strstr(err, "duplicate"));
    ck_assert_ptr_nonnull(parse("-netdev", "user", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(parse("-netdev", "tap,id=t", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(parse("-nic", "user,model=e1000", NULL));
    fails_naming("-nic");
    ck_assert_ptr_nonnull(strstr(err, "e1000"));
    ck_assert_ptr_nonnull(parse("-net", "nic,model=rtl8139", NULL));
    fails_naming("-net");
    ck_assert_ptr_nonnull(parse("-net", "user", NULL));
    fails_naming("-net");
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=a,bogus=1", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(strstr(err, "bogus"));
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=a,restrict=maybe", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=a,dns=10.0.3.3", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=a,net=10.0.2.0/33", NULL));
    fails_naming("-netdev");
    ck_assert_ptr_nonnull(parse("-device", "ne2k_pci,mac=01:00:00:00:00:01", NULL));
    fails_naming("-device");
    ck_assert_ptr_nonnull(parse("-device", "ne2k_pci,mac=52:54:00:12:34", NULL));
    fails_naming("-device");
    ck_assert_ptr_nonnull(parse("-device", "ne2k_pci,iobase=0x300", NULL));
    fails_naming("-device");
    ck_assert_ptr_nonnull(parse("-device", "ne2k_isa,irq=16", NULL));
    fails_naming("-device");
    ck_assert_ptr_nonnull(parse("-device", "ne2k_pci", "-nic", "user", NULL));
    fails_naming("-nic");
    ck_assert_ptr_nonnull(parse("-nic", "none,mac=52:54:00:12:34:56", NULL));
    fails_naming("-nic");

    static const char *const bad_fwd[] = {
        "tcp::22",          "tcp:2222-:22",      "sctp::1-:2",         "tcp::0-:22",
        "tcp::70000-:22",   "tcp::22-:x",        "tcp:1.2.3:22-:22",   "tcp::22-10.0.2.300:22",
        "tcp::22-:22-:23",
    };
    for (size_t i = 0; i < sizeof bad_fwd / sizeof bad_fwd[0]; i++) {
        char arg[96];
        snprintf(arg, sizeof arg, "user,id=a,hostfwd=%s", bad_fwd[i]);
        ck_assert_msg(parse("-netdev", arg, NULL) != NULL, "accepted hostfwd=%s", bad_fwd[i]);
        fails_naming("-netdev");
        ck_assert_ptr_nonnull(strstr(err, "hostfwd"));
    }
    struct net_hostfwd f;
    ck_assert(cmdline_parse_hostfwd(":127.0.0.1:1-:2", &f));
    ck_assert(!f.udp);
}
END_TEST

START_TEST(filter_dump)
{
    ck_assert_ptr_null(parse("-netdev", "user,id=n0", "-device", "ne2k_pci,netdev=n0", "-object",
                             "filter-dump,id=f0,netdev=n0,file=/tmp/x.pcap", NULL));
    ck_assert_str_eq(cl.netdump_file, "/tmp/x.pcap");
    ck_assert_str_eq(cl.netdump_netdev, "n0");
    ck_assert_ptr_nonnull(parse("-netdev", "user,id=n0", "-object",
                                "filter-dump,id=f0,netdev=n1,file=x.pcap", NULL));
    fails_naming("-object");
    ck_assert_ptr_nonnull(parse("-object", "filter-dump,id=f0,netdev=n0", NULL));
    fails_naming("-object");
    /* -nic's id names its netdev. */
    ck_assert_ptr_null(parse("-nic", "user,id=u0,model=ne2k_isa", "-object",
                             "filter-dump,id=f0,netdev=u0,file=y.pcap", NULL));
    ck_assert_str_eq(cl.netdevs[cl.nic_netdev].id, "u0");
    ck_assert_int_eq(cl.cfg.nic_model, NIC_NE2K_ISA);
    ck_assert_ptr_nonnull(parse("-object", "memory-backend-ram,id=m", NULL));
    fails_naming("-object");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmdline_net");
    TCase *tc = tcase_create("cmdline_net");
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, netdev_device);
    tcase_add_test(tc, nic_and_net);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, filter_dump);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cmdline_free(&cl);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
