/*
 * test_ide_machine.c — the IDE controller as the PC wires it: PCI function
 * 00:01.1 of the PIIX3, the legacy ports decoded after the firmware set-up,
 * IRQ 14 reaching the slave 8259, the CD-ROM's signature on the secondary
 * channel, and the hard-disk bytes of the CMOS that SeaBIOS reads (types,
 * parameter table, LBA translation for a disk above 1024 cylinders).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"

static int zero_read(void *o, uint64_t off, void *buf, size_t len)
{
    memset(buf, 0x42, len);
    return 0;
}
static int no_write(void *o, uint64_t off, const void *buf, size_t len) { return 0; }
static int no_flush(void *o) { return 0; }

static struct machine *m;
static struct cpu_io io;
static void outb(uint16_t p, uint8_t v) { io.out(io.opaque, p, v, 1); }
static uint8_t inb(uint16_t p) { return (uint8_t)io.in(io.opaque, p, 1); }

static uint8_t cmos(uint8_t i)
{
    outb(0x70, i);
    return inb(0x71);
}

START_TEST(wired_into_the_pc)
{
    /* 1 GiB disk: 2080 cylinders of 16 x 63. */
    struct block_backend disk = {NULL, 1ull << 30, false, zero_read, no_write, no_flush};
    struct block_backend cd = {NULL, 2048 * 100, true, zero_read, no_write, no_flush};
    struct machine_config cfg = {.ram_mb = 16, .icount = true};
    cfg.ide[0] = &disk;
    cfg.ide[2] = &cd;
    cfg.ide_cdrom[2] = true;
    char err[256];
    m = machine_create(&cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    io = machine_cpu(m)->io;

    /* 00:01.1 is the PIIX3 IDE. */
    io.out(io.opaque, 0xcf8, 0x80000900u, 4);
    ck_assert_uint_eq(io.in(io.opaque, 0xcfc, 4), 0x70108086);
    io.out(io.opaque, 0xcf8, 0x80000908u, 4);
    ck_assert_uint_eq(io.in(io.opaque, 0xcfc, 4) >> 8, 0x010180);

    /* CMOS disk bytes. */
    ck_assert_uint_eq(cmos(0x12), 0xf0);
    ck_assert_uint_eq(cmos(0x19), 47);
    ck_assert_uint_eq(cmos(0x1b) | cmos(0x1c) << 8, 2080);
    ck_assert_uint_eq(cmos(0x1d), 16);
    ck_assert_uint_eq(cmos(0x23), 63);
    ck_assert_uint_eq(cmos(0x39), 0x01);

    /* Nothing decodes until the firmware set-up. */
    ck_assert_uint_eq(inb(0x1f7), 0xff);
    machine_firmware_pci_setup(m);
    ck_assert_uint_eq(inb(0x1f7), 0x50);
    ck_assert_uint_eq(inb(0x174), 0x14);
    ck_assert_uint_eq(inb(0x175), 0xeb);

    /* The slave 8259 sees IRQ 14 (its input 6) when a read completes. */
    outb(0xa0, 0x11);
    outb(0xa1, 0x70);
    outb(0xa1, 0x02);
    outb(0xa1, 0x01);
    outb(0xa1, 0x00);
    outb(0xa0, 0x0a); /* read IRR */
    ck_assert_uint_eq(inb(0xa0) & 0x40, 0);
    outb(0x1f6, 0xe0);
    outb(0x1f2, 1);
    outb(0x1f3, 0);
    outb(0x1f4, 0);
    outb(0x1f5, 0);
    outb(0x1f7, 0x20);
    ck_assert_uint_eq(inb(0xa0) & 0x40, 0x40);
    ck_assert_uint_eq(io.in(io.opaque, 0x1f0, 2), 0x4242);
    machine_destroy(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ide_machine");
    TCase *t = tcase_create("pc");
    tcase_add_test(t, wired_into_the_pc);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
