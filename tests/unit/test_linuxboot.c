/*
 * test_linuxboot.c — the Linux boot-protocol loader (frontends/linuxboot.c):
 * a synthetic bzImage (boot sector, setup header, protected-mode payload) is
 * placed into a byte-array "guest RAM" and the zero page is checked field by
 * field against Documentation/arch/x86/boot.rst (header copied, loader
 * fields filled, e820 matching the RAM size, initrd at the top below
 * initrd_addr_max and clear of the kernel's init_size); malformed images are
 * rejected with a message naming the file; and the boot hook is run on a
 * real machine to check the 32-bit entry state (GDT, selectors, ESI) and the
 * MP table.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"
#include "frontends/linuxboot.h"
#include "frontends/multiboot.h"

#define RAM_SIZE (64u << 20)
#define SETUP_SECTS 3
#define PM_SIZE 0x2000u

static uint8_t *ram;
static char err[256];
static struct linuxboot lb;

static void ram_write(void *opaque, uint32_t gpa, const void *buf, uint32_t len)
{
    (void)opaque;
    ck_assert_uint_le((uint64_t)gpa + len, RAM_SIZE);
    ck_assert(gpa + len <= 0xA0000 || gpa >= 0x100000); /* never the VGA/BIOS hole */
    memcpy(ram + gpa, buf, len);
}

static uint16_t rd16(uint32_t gpa)
{
    return (uint16_t)(ram[gpa] | ram[gpa + 1] << 8);
}
static uint32_t rd32(uint32_t gpa)
{
    return rd16(gpa) | (uint32_t)rd16(gpa + 2) << 16;
}
static uint64_t rd64(uint32_t gpa)
{
    return rd32(gpa) | (uint64_t)rd32(gpa + 4) << 32;
}
static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* A protocol-2.15-like bzImage: relocatable, pref_address 16 MiB with a
 * 1 MiB init_size, cmdline_size 2047, initrd_addr_max 0x37ffffff. */
static uint8_t *bzimage(size_t *size)
{
    size_t n = (SETUP_SECTS + 1) * 512 + PM_SIZE;
    uint8_t *img = calloc(1, n);
    img[BP_SETUP_SECTS] = SETUP_SECTS;
    put32(img + 0x1f4, PM_SIZE / 16); /* syssize */
    put16(img + BP_BOOT_FLAG, 0xAA55);
    img[BP_JUMP] = 0xeb;
    img[BP_JUMP + 1] = 0x6a; /* header ends at 0x26c */
    memcpy(img + BP_HEADER, "HdrS", 4);
    put16(img + BP_VERSION, 0x020f);
    img[BP_LOADFLAGS] = LINUX_LOADED_HIGH | 0x80; /* CAN_USE_HEAP, to see it cleared */
    put16(img + BP_HEAP_END_PTR, 0x1234);
    put32(img + BP_CODE32_START, 0x100000);
    put32(img + BP_INITRD_ADDR_MAX, 0x37ffffff);
    put32(img + BP_KERNEL_ALIGNMENT, 0x1000000);
    put32(img + BP_CMDLINE_SIZE, 2047);
    put32(img + BP_PREF_ADDRESS, 0x1000000);
    put32(img + BP_INIT_SIZE, 0x100000);
    img[0x268] = 0x5a; /* the last header byte (kernel_info_offset) */
    for (size_t i = 0; i < PM_SIZE; i++)
        img[(SETUP_SECTS + 1) * 512 + i] = (uint8_t)(i * 13 + 5);
    *size = n;
    return img;
}

static void setup(void)
{
    ram = malloc(RAM_SIZE);
    memset(ram, 0xAA, RAM_SIZE);
    linuxboot_init(&lb);
}

static void teardown(void)
{
    linuxboot_free(&lb);
    free(ram);
}

START_TEST(zero_page_and_layout)
{
    size_t n;
    uint8_t *img = bzimage(&n);
    ck_assert(linuxboot_probe(img, n));
    ck_assert(!multiboot_probe(img, n));
    ck_assert_msg(linuxboot_parse(&lb, "bzImage", img, n, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(linuxboot_set_cmdline(&lb, "console=ttyS0 quiet", err, sizeof err), 0);
    uint8_t initrd[10000];
    for (size_t i = 0; i < sizeof initrd; i++)
        initrd[i] = (uint8_t)(i ^ 0x5c);
    ck_assert_int_eq(linuxboot_set_initrd(&lb, "initrd.gz", initrd, sizeof initrd, err, sizeof err),
                     0);
    struct linuxboot_handoff h;
    ck_assert_msg(linuxboot_place(&lb, RAM_SIZE, ram_write, NULL, &h, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(h.entry, 0x100000);
    ck_assert_uint_eq(h.boot_params, LINUXBOOT_ZERO_PAGE);

    /* The protected-mode kernel at 1 MiB, the initrd page-aligned at the
     * top of RAM (below initrd_addr_max, which is above RAM here). */
    ck_assert_mem_eq(ram + 0x100000, img + (SETUP_SECTS + 1) * 512, PM_SIZE);
    ck_assert_uint_eq(h.initrd_addr, (RAM_SIZE - sizeof initrd) & ~0xfffu);
    ck_assert_mem_eq(ram + h.initrd_addr, initrd, sizeof initrd);

    uint32_t bp = LINUXBOOT_ZERO_PAGE;
    /* Outside the header the zero page is zero: screen_info says no video,
     * the sentinel is clear, no EDD, no ACPI RSDP. */
    for (uint32_t o = 0; o < BP_HDR; o++)
        if (o != BP_ALT_MEM_K && (o < BP_ALT_MEM_K || o >= BP_ALT_MEM_K + 4) &&
            o != BP_E820_ENTRIES)
            ck_assert_msg(ram[bp + o] == 0, "zero page byte 0x%x = 0x%x", o, ram[bp + o]);
    ck_assert_uint_eq(ram[bp + BP_ORIG_VIDEO_ISVGA], 0);
    ck_assert_uint_eq(ram[bp + BP_SENTINEL], 0);
    /* The header is the file's, to its last byte, with the loader's fields. */
    ck_assert_uint_eq(ram[bp + 0x268], 0x5a);
    ck_assert_uint_eq(ram[bp + 0x26c], 0);
    ck_assert_mem_eq(ram + bp + BP_HEADER, "HdrS", 4);
    ck_assert_uint_eq(rd16(bp + BP_VERSION), 0x020f);
    ck_assert_uint_eq(ram[bp + BP_TYPE_OF_LOADER], 0xff);
    ck_assert_uint_eq(ram[bp + BP_LOADFLAGS], LINUX_LOADED_HIGH);
    ck_assert_uint_eq(rd16(bp + BP_HEAP_END_PTR), 0);
    ck_assert_uint_eq(rd32(bp + BP_CMD_LINE_PTR), LINUXBOOT_CMDLINE);
    ck_assert_str_eq((const char *)ram + LINUXBOOT_CMDLINE, "console=ttyS0 quiet");
    ck_assert_uint_eq(rd32(bp + BP_RAMDISK_IMAGE), h.initrd_addr);
    ck_assert_uint_eq(rd32(bp + BP_RAMDISK_SIZE), sizeof initrd);
    ck_assert_uint_eq(rd32(bp + BP_ALT_MEM_K), (RAM_SIZE >> 10) - 1024);

    static const uint64_t want[4][3] = {{0, 0x9FC00, E820_RAM},
                                        {0x9FC00, 0x400, E820_RESERVED},
                                        {0xF0000, 0x10000, E820_RESERVED},
                                        {0x100000, RAM_SIZE - 0x100000, E820_RAM}};
    ck_assert_uint_eq(ram[bp + BP_E820_ENTRIES], 4);
    for (int i = 0; i < 4; i++) {
        uint32_t e = bp + BP_E820_TABLE + i * BP_E820_ENTRY_SIZE;
        ck_assert_uint_eq(rd64(e), want[i][0]);
        ck_assert_uint_eq(rd64(e + 8), want[i][1]);
        ck_assert_uint_eq(rd32(e + 16), want[i][2]);
    }
    /* The boot GDT: __BOOT_CS and __BOOT_DS flat. */
    ck_assert_uint_eq(rd64(LINUXBOOT_GDT + 0x10), 0x00cf9b000000ffffull);
    ck_assert_uint_eq(rd64(LINUXBOOT_GDT + 0x18), 0x00cf93000000ffffull);
    /* The BIOS data area points at the EBDA/MP-table KiB. */
    ck_assert_uint_eq(rd16(0x40e), 0x9fc0);
    ck_assert_uint_eq(rd16(0x413), 639);
    free(img);
}
END_TEST

START_TEST(initrd_below_initrd_addr_max_and_clear_of_kernel)
{
    size_t n;
    uint8_t *img = bzimage(&n);
    put32(img + BP_INITRD_ADDR_MAX, 0x01ffffff); /* 32 MiB - 1 */
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), 0);
    static uint8_t big[0x300000];
    ck_assert_int_eq(linuxboot_set_initrd(&lb, "big", big, sizeof big, err, sizeof err), 0);
    struct linuxboot_handoff h;
    ck_assert_int_eq(linuxboot_place(&lb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), 0);
    ck_assert_uint_eq(h.initrd_addr, 0x2000000 - sizeof big);
    /* 16 MiB + init_size (1 MiB) is the kernel's; 3 MiB under 19 MiB
     * does not fit, with a message naming both files. */
    put32(img + BP_INITRD_ADDR_MAX, 0x012fffff);
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), 0);
    ck_assert_int_eq(linuxboot_place(&lb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bz: initrd 'big'"));
    /* Too little RAM for the kernel itself. */
    ck_assert_int_eq(linuxboot_place(&lb, 16u << 20, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_str_eq(err, "bz: the kernel needs 17 MiB of RAM to boot, -m gives 16 MiB");
    free(img);
}
END_TEST

START_TEST(malformed_rejected)
{
    size_t n;
    uint8_t *img = bzimage(&n);
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, 0x100, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bz: not a Linux kernel"));

    put16(img + BP_VERSION, 0x0203);
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), -1);
    ck_assert_str_eq(err, "bz: Linux boot protocol 2.03 is too old (need 2.04 or later)");
    put16(img + BP_VERSION, 0x020f);

    img[BP_LOADFLAGS] = 0;
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), -1);
    ck_assert_str_eq(err, "bz: a zImage (not loaded high) is not supported; use a bzImage");
    img[BP_LOADFLAGS] = LINUX_LOADED_HIGH;

    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n - 16, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bz: truncated bzImage"));

    img[BP_JUMP + 1] = 0xc0; /* a longer header is fine... */
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), 0);
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, 0x2a0, err, sizeof err), -1); /* ...to EOF */
    ck_assert_ptr_nonnull(strstr(err, "bz: malformed setup header"));
    img[BP_JUMP + 1] = 0xff; /* ...into the e820 table */
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bz: malformed setup header"));
    img[BP_JUMP + 1] = 0x6a;

    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), 0);
    char longline[3000];
    memset(longline, 'x', sizeof longline - 1);
    longline[sizeof longline - 1] = 0;
    ck_assert_int_eq(linuxboot_set_cmdline(&lb, longline, err, sizeof err), -1);
    ck_assert_str_eq(err, "bz: command line of 2999 bytes is longer than the kernel's 2047");

    ck_assert_int_eq(linuxboot_load_file(&lb, "/nonexistent/bz", err, sizeof err), -1);
    ck_assert_str_eq(err, "cannot open '/nonexistent/bz': No such file or directory");
    free(img);
}
END_TEST

START_TEST(boot_hook_on_a_machine)
{
    struct machine_config cfg = {.ram_mb = 32};
    char merr[256];
    struct machine *m = machine_create(&cfg, merr, sizeof merr);
    ck_assert_msg(m != NULL, "%s", merr);
    size_t n;
    uint8_t *img = bzimage(&n);
    ck_assert_int_eq(linuxboot_parse(&lb, "bz", img, n, err, sizeof err), 0);
    ck_assert_int_eq(linuxboot_set_cmdline(&lb, "console=ttyS0", err, sizeof err), 0);
    machine_set_boot_hook(m, linuxboot_boot_hook, &lb);
    for (int pass = 0; pass < 2; pass++) { /* every reset places it again */
        machine_reset(m);
        struct cpu *cpu = machine_cpu(m);
        struct mmu *mmu = machine_mmu(m);
        ck_assert_uint_eq(cpu->eip, 0x100000);
        ck_assert_uint_eq(cpu->regs[R_ESI], LINUXBOOT_ZERO_PAGE);
        ck_assert_uint_eq(cpu->regs[R_EBP] | cpu->regs[R_EDI] | cpu->regs[R_EBX], 0);
        ck_assert(cpu->cr0 & CR0_PE);
        ck_assert(!(cpu->cr0 & CR0_PG));
        ck_assert(!(cpu_get_eflags(cpu) & FL_IF));
        ck_assert_uint_eq(cpu->seg[SEG_CS].sel, 0x10);
        ck_assert_uint_eq(cpu->seg[SEG_DS].sel, 0x18);
        ck_assert_uint_eq(cpu->seg[SEG_ES].sel, 0x18);
        ck_assert_uint_eq(cpu->seg[SEG_SS].sel, 0x18);
        ck_assert_uint_eq(cpu->gdtr.base, LINUXBOOT_GDT);
        ck_assert_uint_eq(cpu->gdtr.limit, 0x1f);
        uint8_t got[PM_SIZE];
        mmu_phys_read(mmu, 0x100000, got, sizeof got);
        ck_assert_mem_eq(got, img + (SETUP_SECTS + 1) * 512, PM_SIZE);
        /* The MP floating pointer, where Linux scans for it. */
        ck_assert_uint_eq(mmu_phys_read32(mmu, LINUXBOOT_MPTABLE), 0x5f504d5f); /* "_MP_" */
        mmu_phys_write32(mmu, 0x100000, 0xdeadbeef); /* the guest scribbles */
    }
    machine_destroy(m);
    free(img);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linuxboot");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, zero_page_and_layout);
    tcase_add_test(tc, initrd_below_initrd_addr_max_and_clear_of_kernel);
    tcase_add_test(tc, malformed_rejected);
    tcase_add_test(tc, boot_hook_on_a_machine);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
