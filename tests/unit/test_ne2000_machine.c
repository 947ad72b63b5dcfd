/*
 * test_ne2000_machine.c — the NE2000 as pc.c wires it from the machine
 * config: the RTL8029 at 00:03.0 with its BAR placed and its interrupt line
 * routed by the firmware set-up (INTA# of slot 3 is PIRQC, IRQ 11), frames
 * out to cfg.nic_backend and in through machine_net_client(); the ISA board
 * at its default 0x300 / IRQ 9 and at a chosen base and IRQ; no NIC at all.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"

static struct cpu_io io;
static void outb(uint16_t p, uint8_t v) { io.out(io.opaque, p, v, 1); }
static uint8_t inb(uint16_t p) { return (uint8_t)io.in(io.opaque, p, 1); }

static uint8_t sent[2048];
static size_t sent_len;
static int nsent;
static void be_send(void *o, const uint8_t *f, size_t len)
{
    (void)o;
    memcpy(sent, f, len);
    sent_len = len;
    nsent++;
}

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};

static struct machine *make(enum nic_model model, uint16_t base, uint8_t irq,
                            struct net_backend *be)
{
    struct machine_config cfg = {.ram_mb = 16, .icount = true};
    cfg.nic_model = model;
    cfg.nic_backend = be;
    memcpy(cfg.nic_mac, MAC, 6);
    cfg.nic_iobase = base;
    cfg.nic_irq = irq;
    char err[256];
    struct machine *m = machine_create(&cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    io = machine_cpu(m)->io;
    return m;
}

static void pic_init(void)
{
    outb(0x20, 0x11);
    outb(0x21, 0x08);
    outb(0x21, 0x04);
    outb(0x21, 0x01);
    outb(0x21, 0x00);
    outb(0xa0, 0x11);
    outb(0xa1, 0x70);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0xa1, 0x00);
    outb(0xa0, 0x0a); /* read IRR */
}

/* NIC started as a driver would, byte mode, IMR all. */
static void nic_start(uint16_t b)
{
    outb(b + 0x00, 0x21);
    outb(b + 0x0e, 0x48);
    outb(b + 0x0c, 0x04);
    outb(b + 0x04, 0x40);
    outb(b + 0x01, 0x46);
    outb(b + 0x03, 0x7f);
    outb(b + 0x02, 0x80);
    outb(b + 0x00, 0x61);
    for (int i = 0; i < 6; i++)
        outb(b + 0x01 + i, MAC[i]);
    outb(b + 0x07, 0x46);
    outb(b + 0x00, 0x22);
    outb(b + 0x07, 0xff);
    outb(b + 0x0f, 0x7f);
    outb(b + 0x0d, 0x00);
}

START_TEST(rtl8029_on_pci)
{
    struct net_backend be = {NULL, be_send, NULL};
    struct machine *m = make(NIC_NE2K_PCI, 0, 0, &be);
    io.out(io.opaque, 0xcf8, 0x80001800u, 4);
    ck_assert_uint_eq(io.in(io.opaque, 0xcfc, 4), 0x802910ec);
    io.out(io.opaque, 0xcf8, 0x80001808u, 4);
    ck_assert_uint_eq(io.in(io.opaque, 0xcfc, 4) >> 8, 0x020000);
    machine_firmware_pci_setup(m);
    io.out(io.opaque, 0xcf8, 0x80001810u, 4);
    uint32_t bar = io.in(io.opaque, 0xcfc, 4);
    ck_assert_uint_eq(bar & 1, 1);
    uint16_t b = (uint16_t)(bar & ~3u);
    ck_assert_uint_ne(b, 0);
    io.out(io.opaque, 0xcf8, 0x8000183cu, 4);
    ck_assert_uint_eq(io.in(io.opaque, 0xcfc, 4) & 0xffff, 0x010b); /* INTA#, IRQ 11 */
    ck_assert_uint_eq(inb(b + 0x0a), 0x50);
    ck_assert_uint_eq(inb(0x300 + 0x0a), 0xff); /* no ISA board */

    pic_init();
    nic_start(b);
    ck_assert_uint_eq(inb(0xa0) & 0x08, 0);
    /* Transmit 64 bytes put in by remote DMA. */
    uint8_t f[64];
    for (int i = 0; i < 64; i++)
        f[i] = (uint8_t)(i * 3);
    outb(b + 0x0a, 64);
    outb(b + 0x0b, 0);
    outb(b + 0x08, 0x00);
    outb(b + 0x09, 0x40);
    outb(b + 0x00, 0x12);
    for (int i = 0; i < 64; i++)
        outb(b + 0x10, f[i]);
    outb(b + 0x07, 0x40);
    outb(b + 0x05, 64);
    outb(b + 0x06, 0);
    nsent = 0;
    outb(b + 0x00, 0x26);
    ck_assert_int_eq(nsent, 1);
    ck_assert_uint_eq(sent_len, 64);
    ck_assert_mem_eq(sent, f, 64);
    ck_assert_uint_eq(inb(0xa0) & 0x08, 0x08); /* IRQ 11 */
    outb(b + 0x07, 0xff);
    ck_assert_uint_eq(inb(0xa0) & 0x08, 0);
    /* A frame from the backend lands in the ring and interrupts. */
    struct net_client c = machine_net_client(m);
    ck_assert_ptr_nonnull(c.receive);
    memcpy(f, MAC, 6);
    ck_assert(c.can_receive(c.opaque));
    c.receive(c.opaque, f, 64);
    ck_assert_uint_eq(inb(b + 0x07) & 0x01, 0x01);
    ck_assert_uint_eq(inb(0xa0) & 0x08, 0x08);
    machine_destroy(m);
}
END_TEST

START_TEST(ne2000_on_isa)
{
    struct machine *m = make(NIC_NE2K_ISA, 0, 0, NULL);
    pic_init();
    nic_start(0x300);
    ck_assert_uint_eq(inb(0xa0) & 0x02, 0);
    /* PROM through remote DMA; the RDC at the end raises IRQ 9. */
    outb(0x300 + 0x0a, 12);
    outb(0x300 + 0x0b, 0);
    outb(0x300 + 0x08, 0);
    outb(0x300 + 0x09, 0);
    outb(0x300 + 0x00, 0x0a);
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(inb(0x310), MAC[i]);
        ck_assert_uint_eq(inb(0x310), MAC[i]);
    }
    ck_assert_uint_eq(inb(0xa0) & 0x02, 0x02); /* slave input 1 = IRQ 9 */
    /* No backend: a transmit completes, the frame goes nowhere. */
    outb(0x300 + 0x05, 60);
    outb(0x300 + 0x00, 0x26);
    ck_assert_uint_eq(inb(0x300 + 0x07) & 0x02, 0x02);
    machine_destroy(m);

    /* Another base and IRQ 5. */
    m = make(NIC_NE2K_ISA, 0x280, 5, NULL);
    pic_init();
    nic_start(0x280);
    outb(0x280 + 0x00, 0x1a & ~0x08); /* remote write, RBCR 0: RDC at once */
    outb(0x20, 0x0a);
    ck_assert_uint_eq(inb(0x20) & 0x20, 0x20);
    ck_assert_uint_eq(inb(0x300), 0xff);
    machine_destroy(m);
}
END_TEST

START_TEST(no_nic)
{
    struct machine *m = make(NIC_NONE, 0, 0, NULL);
    struct net_client c = machine_net_client(m);
    ck_assert_ptr_null(c.receive);
    ck_assert_ptr_null(c.can_receive);
    ck_assert_uint_eq(inb(0x300), 0xff);
    machine_destroy(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ne2000_machine");
    TCase *t = tcase_create("pc");
    tcase_add_test(t, rtl8029_on_pci);
    tcase_add_test(t, ne2000_on_isa);
    tcase_add_test(t, no_nic);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
