/*
 * test_multiboot.c — the Multiboot v1 loader (frontends/multiboot.c, from
 * umbra_frontends): tiny ELF32 and a.out-kludge images built in memory are
 * placed into a byte-array "guest RAM" and checked byte by byte (segments,
 * bss zeroing, entry translation, the info structure, memory map, modules),
 * every malformed input is rejected with a message naming the file, and the
 * boot hook is run once on a real machine.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/machine.h"
#include "frontends/multiboot.h"

#define RAM_SIZE (8u << 20)

static uint8_t *ram;
static char err[256];
static struct multiboot mb;

static void ram_write(void *opaque, uint32_t gpa, const void *buf, uint32_t len)
{
    ck_assert_uint_le((uint64_t)gpa + len, RAM_SIZE);
    /* The loader must never write into the VGA/BIOS hole. */
    ck_assert(gpa + len <= 0xA0000 || gpa >= 0x100000);
    memcpy(ram + gpa, buf, len);
}

static uint32_t rd32(uint32_t gpa)
{
    uint32_t v;
    memcpy(&v, ram + gpa, 4);
    return v;
}
static uint64_t rd64(uint32_t gpa)
{
    return rd32(gpa) | (uint64_t)rd32(gpa + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static void put16(uint8_t *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

static void setup(void)
{
    ram = malloc(RAM_SIZE);
    memset(ram, 0xAA, RAM_SIZE); /* so bss zeroing is visible */
    multiboot_init(&mb);
}

static void teardown(void)
{
    multiboot_free(&mb);
    free(ram);
}

static void mb_header(uint8_t *p, uint32_t flags)
{
    put32(p, MULTIBOOT_HEADER_MAGIC);
    put32(p + 4, flags);
    put32(p + 8, -(MULTIBOOT_HEADER_MAGIC + flags));
}

/* An a.out-kludge image loaded at 1 MiB: header at file offset hoff,
 * `size` bytes of file, bss to bss_end, entry at load + 0x40. */
static size_t aout_image(uint8_t *img, size_t size, uint32_t hoff, uint32_t bss_end)
{
    for (size_t i = 0; i < size; i++)
        img[i] = (uint8_t)(i * 7 + 1);
    uint8_t *h = img + hoff;
    mb_header(h, MB_HF_AOUT_KLUDGE | MB_HF_MEMINFO);
    put32(h + 12, 0x100000 + hoff);           /* header_addr */
    put32(h + 16, 0x100000);                  /* load_addr */
    put32(h + 20, 0x100000 + (uint32_t)size); /* load_end_addr */
    put32(h + 24, bss_end);                   /* bss_end_addr */
    put32(h + 28, 0x100040);                  /* entry_addr */
    return size;
}

/* An ELF32 kernel linked at 0xC0100000 and loaded at 1 MiB (a higher-half
 * layout), with a text segment and a data segment followed by bss. */
static size_t elf_image(uint8_t *img, size_t cap)
{
    ck_assert_uint_ge(cap, 0x3000);
    memset(img, 0, 0x3000);
    memcpy(img,
           "\x7f"
           "ELF",
           4);
    img[4] = 1; /* ELFCLASS32 */
    img[5] = 1; /* little-endian */
    img[6] = 1;
    put16(img + 16, 2); /* ET_EXEC */
    put16(img + 18, 3); /* EM_386 */
    put32(img + 20, 1);
    put32(img + 24, 0xC0100010); /* e_entry (virtual) */
    put32(img + 28, 52);         /* e_phoff */
    put16(img + 40, 52);
    put16(img + 42, 32); /* e_phentsize */
    put16(img + 44, 3);  /* e_phnum */
    uint8_t *ph = img + 52;
    /* PT_LOAD text: 0x200 bytes at offset 0x1000 → 0x100000 */
    put32(ph, 1), put32(ph + 4, 0x1000), put32(ph + 8, 0xC0100000), put32(ph + 12, 0x100000);
    put32(ph + 16, 0x200), put32(ph + 20, 0x200);
    ph += 32;
    /* PT_NOTE: ignored */
    put32(ph, 4), put32(ph + 4, 0x100), put32(ph + 16, 8), put32(ph + 20, 8);
    ph += 32;
    /* PT_LOAD data+bss: 0x80 bytes at offset 0x2000 → 0x102000, 0x1800 in memory */
    put32(ph, 1), put32(ph + 4, 0x2000), put32(ph + 8, 0xC0102000), put32(ph + 12, 0x102000);
    put32(ph + 16, 0x80), put32(ph + 20, 0x1800);
    mb_header(img + 0x200, MB_HF_PAGE_ALIGN | MB_HF_MEMINFO);
    for (unsigned i = 0; i < 0x200; i++)
        img[0x1000 + i] = (uint8_t)(0x10 + i);
    for (unsigned i = 0; i < 0x80; i++)
        img[0x2000 + i] = (uint8_t)(0x80 + i);
    return 0x3000;
}

static void check_info_common(uint32_t info, const char *cmdline)
{
    uint32_t flags = rd32(info + MBI_OFF_FLAGS);
    ck_assert_uint_eq(flags & (MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME),
                      MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME);
    ck_assert_uint_eq(rd32(info + MBI_OFF_MEM_LOWER), 639);
    ck_assert_uint_eq(rd32(info + MBI_OFF_MEM_UPPER), (RAM_SIZE - 0x100000) / 1024);
    ck_assert_str_eq((const char *)ram + rd32(info + MBI_OFF_CMDLINE), cmdline);
    ck_assert_str_eq((const char *)ram + rd32(info + MBI_OFF_LOADER_NAME), "umbra");

    static const uint64_t want[4][3] = {{0, 0x9FC00, 1},
                                        {0x9FC00, 0x400, 2},
                                        {0xF0000, 0x10000, 2},
                                        {0x100000, RAM_SIZE - 0x100000, 1}};
    ck_assert_uint_eq(rd32(info + MBI_OFF_MMAP_LENGTH), 4 * 24);
    uint32_t e = rd32(info + MBI_OFF_MMAP_ADDR);
    for (int i = 0; i < 4; i++, e += 24) {
        ck_assert_uint_eq(rd32(e), 20);
        ck_assert_uint_eq(rd64(e + 4), want[i][0]);
        ck_assert_uint_eq(rd64(e + 12), want[i][1]);
        ck_assert_uint_eq(rd32(e + 20), want[i][2]);
    }
}

START_TEST(aout_kludge_placement)
{
    uint8_t img[0x900];
    aout_image(img, sizeof img, 0x20, 0x100000 + 0x2000);
    ck_assert_msg(multiboot_parse(&mb, "k.bin", img, sizeof img, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(multiboot_set_cmdline(&mb, "a=1 b", err, sizeof err), 0);
    struct multiboot_handoff h;
    ck_assert_msg(multiboot_place(&mb, RAM_SIZE, ram_write, NULL, &h, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(h.entry, 0x100040);
    ck_assert_uint_eq(h.eax, 0x2BADB002);
    ck_assert_mem_eq(ram + 0x100000, img, sizeof img);
    for (uint32_t a = 0x100000 + sizeof img; a < 0x102000; a++)
        ck_assert_uint_eq(ram[a], 0);
    ck_assert_uint_eq(h.ebx & 0xfff, 0);
    ck_assert_uint_ge(h.ebx, 0x102000);
    ck_assert_uint_eq(rd32(h.ebx) & MBI_MODS, 0);
    check_info_common(h.ebx, "k.bin a=1 b");
}
END_TEST

START_TEST(aout_header_not_at_start)
{
    /* header_addr - load_addr must equal the header's file offset: here the
     * image starts 0x100 bytes before the header (load_end 0 = whole file,
     * bss_end 0 = no bss). */
    uint8_t img[0x400];
    memset(img, 0x5A, sizeof img);
    uint8_t *h = img + 0x100;
    mb_header(h, MB_HF_AOUT_KLUDGE);
    put32(h + 12, 0x200100), put32(h + 16, 0x200000), put32(h + 20, 0), put32(h + 24, 0);
    put32(h + 28, 0x200000);
    ck_assert_msg(multiboot_parse(&mb, "k", img, sizeof img, err, sizeof err) == 0, "%s", err);
    struct multiboot_handoff h2;
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, ram_write, NULL, &h2, err, sizeof err), 0);
    ck_assert_mem_eq(ram + 0x200000, img, sizeof img);
    ck_assert_uint_eq(ram[0x200000 + sizeof img], 0xAA); /* no bss: untouched */
    ck_assert_uint_eq(h2.entry, 0x200000);
    check_info_common(h2.ebx, "k"); /* no -append: just the name */
}
END_TEST

START_TEST(elf_placement_and_entry_translation)
{
    static uint8_t img[0x3000];
    size_t n = elf_image(img, sizeof img);
    ck_assert_msg(multiboot_parse(&mb, "kernel.elf", img, n, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(mb.nsegs, 2);
    ck_assert_int_eq(multiboot_set_cmdline(&mb, "console=ttyS0", err, sizeof err), 0);
    struct multiboot_handoff h;
    ck_assert_msg(multiboot_place(&mb, RAM_SIZE, ram_write, NULL, &h, err, sizeof err) == 0, "%s",
                  err);
    ck_assert_uint_eq(h.entry, 0x100010); /* virtual entry translated by the segment */
    ck_assert_mem_eq(ram + 0x100000, img + 0x1000, 0x200);
    ck_assert_uint_eq(ram[0x100200], 0xAA); /* between segments: untouched */
    ck_assert_mem_eq(ram + 0x102000, img + 0x2000, 0x80);
    for (uint32_t a = 0x102080; a < 0x103800; a++)
        ck_assert_uint_eq(ram[a], 0);
    ck_assert_uint_ge(h.ebx, 0x104000);
    check_info_common(h.ebx, "kernel.elf console=ttyS0");
}
END_TEST

START_TEST(modules_page_aligned_with_strings)
{
    uint8_t img[0x900];
    aout_image(img, sizeof img, 0, 0x100000 + 0x1234);
    ck_assert_int_eq(multiboot_parse(&mb, "k", img, sizeof img, err, sizeof err), 0);
    uint8_t m1[5000], m2[3];
    memset(m1, 0x11, sizeof m1);
    memset(m2, 0x22, sizeof m2);
    ck_assert_int_eq(
        multiboot_add_module(&mb, "initrd.img root=/dev/ram", m1, sizeof m1, err, sizeof err), 0);
    ck_assert_int_eq(multiboot_add_module(&mb, "second", m2, sizeof m2, err, sizeof err), 0);
    struct multiboot_handoff h;
    ck_assert_msg(multiboot_place(&mb, RAM_SIZE, ram_write, NULL, &h, err, sizeof err) == 0, "%s",
                  err);
    uint32_t info = h.ebx;
    ck_assert(rd32(info) & MBI_MODS);
    ck_assert_uint_eq(rd32(info + MBI_OFF_MODS_COUNT), 2);
    uint32_t list = rd32(info + MBI_OFF_MODS_ADDR);
    uint32_t s1 = rd32(list), e1 = rd32(list + 4), s2 = rd32(list + 16), e2 = rd32(list + 20);
    ck_assert_uint_eq(s1, 0x102000); /* first page after the kernel's bss */
    ck_assert_uint_eq(e1, s1 + sizeof m1);
    ck_assert_uint_eq(s2, 0x104000);
    ck_assert_uint_eq(e2, s2 + sizeof m2);
    ck_assert_mem_eq(ram + s1, m1, sizeof m1);
    ck_assert_mem_eq(ram + s2, m2, sizeof m2);
    ck_assert_str_eq((const char *)ram + rd32(list + 8), "initrd.img root=/dev/ram");
    ck_assert_str_eq((const char *)ram + rd32(list + 24), "second");
    ck_assert_uint_eq(info, 0x105000); /* the info block comes last */
    check_info_common(info, "k");
}
END_TEST

START_TEST(first_valid_header_wins)
{
    uint8_t img[0x900];
    aout_image(img, sizeof img, 0x40, 0);
    /* A stray magic with a wrong checksum before the real header. */
    put32(img + 0x10, MULTIBOOT_HEADER_MAGIC);
    put32(img + 0x14, 0);
    put32(img + 0x18, 0);
    ck_assert_msg(multiboot_parse(&mb, "k", img, sizeof img, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(mb.header_offset, 0x40);
}
END_TEST

/* Expect parse (or place) to fail with a message containing `want`. */
static void expect_parse_error(const void *img, size_t n, const char *want)
{
    ck_assert_int_eq(multiboot_parse(&mb, "bad.elf", img, n, err, sizeof err), -1);
    ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
    ck_assert_msg(strncmp(err, "bad.elf: ", 9) == 0, "error '%s' does not name the file", err);
}

START_TEST(malformed_headers_rejected)
{
    uint8_t img[0x2400];
    memset(img, 0, sizeof img);
    expect_parse_error(img, sizeof img, "no multiboot header");
    expect_parse_error(img, 0, "no multiboot header");

    mb_header(img + 8, MB_HF_AOUT_KLUDGE);
    put32(img + 16, 0x12345678);
    expect_parse_error(img, sizeof img, "bad checksum");

    /* A header past the first 8192 bytes does not count. */
    memset(img, 0, sizeof img);
    mb_header(img + 8192, MB_HF_AOUT_KLUDGE);
    expect_parse_error(img, sizeof img, "no multiboot header");
    /* ...nor one that straddles the limit. */
    memset(img, 0, sizeof img);
    mb_header(img + 8184, MB_HF_AOUT_KLUDGE);
    expect_parse_error(img, sizeof img, "no multiboot header");

    /* Requirements Umbra cannot meet (bits 3..15). */
    memset(img, 0, sizeof img);
    mb_header(img, 0x8 | MB_HF_AOUT_KLUDGE);
    expect_parse_error(img, sizeof img, "unsupported features");

    /* a.out kludge: truncated fields, load_addr after header_addr, file too short. */
    uint8_t a[0x100];
    memset(a, 0, sizeof a);
    mb_header(a + 0xF0, MB_HF_AOUT_KLUDGE);
    expect_parse_error(a, sizeof a, "truncated");
    aout_image(a, sizeof a, 0, 0);
    put32(a + 16, 0x100100);
    expect_parse_error(a, sizeof a, "inconsistent");
    aout_image(a, sizeof a, 0, 0);
    put32(a + 20, 0x100000 + 0x1000);
    expect_parse_error(a, sizeof a, "too short");
    aout_image(a, sizeof a, 0, 0);
    put32(a + 20, 0x0FFF00);
    expect_parse_error(a, sizeof a, "below load_addr");
    aout_image(a, sizeof a, 0, 0x100010);
    expect_parse_error(a, sizeof a, "bss_end_addr");
}
END_TEST

START_TEST(malformed_elf_rejected)
{
    static uint8_t img[0x3000];
    elf_image(img, sizeof img);
    img[0] = 0;
    expect_parse_error(img, sizeof img, "not an ELF file");

    elf_image(img, sizeof img);
    img[4] = 2;
    expect_parse_error(img, sizeof img, "ELF64");

    elf_image(img, sizeof img);
    put16(img + 18, 62); /* x86-64 */
    expect_parse_error(img, sizeof img, "not i386");

    elf_image(img, sizeof img);
    put16(img + 16, 3); /* ET_DYN */
    expect_parse_error(img, sizeof img, "not an executable");

    elf_image(img, sizeof img);
    put32(img + 28, 0x2ff0); /* program headers past the end */
    expect_parse_error(img, sizeof img, "program headers");

    elf_image(img, sizeof img);
    put32(img + 52 + 16, 0x300); /* filesz > memsz */
    expect_parse_error(img, sizeof img, "malformed ELF segment 0");

    elf_image(img, sizeof img);
    put32(img + 52 + 4, 0x2f00); /* segment data past the end of the file */
    expect_parse_error(img, sizeof img, "malformed ELF segment 0");

    elf_image(img, sizeof img);
    put32(img + 52, 6), put32(img + 116, 6); /* no PT_LOAD at all */
    expect_parse_error(img, sizeof img, "no loadable");

    uint8_t tiny[48] = "\x7f"
                       "ELF";
    mb_header(tiny + 16, 0);
    expect_parse_error(tiny, sizeof tiny, "truncated ELF header");
}
END_TEST

START_TEST(segments_outside_ram_rejected)
{
    static uint8_t img[0x3000];
    struct multiboot_handoff h;
    elf_image(img, sizeof img);
    put32(img + 52 + 12, 0x7F0000); /* text just below 8 MiB: fits, with the info after it */
    ck_assert_int_eq(multiboot_parse(&mb, "k.elf", img, sizeof img, err, sizeof err), 0);
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), 0);
    /* ...but not in 4 MiB */
    ck_assert_int_eq(multiboot_place(&mb, 4u << 20, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "k.elf: segment 0x007f0000..0x007f01ff outside RAM"));

    elf_image(img, sizeof img);
    put32(img + 52 + 12, 0x9FF00); /* runs into the VGA hole */
    ck_assert_int_eq(multiboot_parse(&mb, "k.elf", img, sizeof img, err, sizeof err), 0);
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "outside RAM"));

    elf_image(img, sizeof img);
    put32(img + 52 + 64 + 12, 0xFFFFF000); /* wraps past 4 GiB */
    ck_assert_int_eq(multiboot_parse(&mb, "k.elf", img, sizeof img, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "wraps"));

    /* A kernel low in memory: its info block must skip the hole. */
    uint8_t a[0x100];
    aout_image(a, sizeof a, 0, 0);
    uint8_t *hd = a;
    put32(hd + 12, 0x90000), put32(hd + 16, 0x90000), put32(hd + 20, 0x90100);
    put32(hd + 24, 0x9F800), put32(hd + 28, 0x90000);
    ck_assert_int_eq(multiboot_parse(&mb, "low", a, sizeof a, err, sizeof err), 0);
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, ram_write, NULL, &h, err, sizeof err), 0);
    ck_assert_uint_eq(h.ebx, 0x100000);
    check_info_common(h.ebx, "low");

    /* Entry point outside RAM. */
    aout_image(a, sizeof a, 0, 0);
    put32(a + 28, 0xF0000000);
    ck_assert_int_eq(multiboot_parse(&mb, "k", a, sizeof a, err, sizeof err), 0);
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "entry point"));

    /* Modules that do not fit. */
    aout_image(a, sizeof a, 0, 0);
    ck_assert_int_eq(multiboot_parse(&mb, "k", a, sizeof a, err, sizeof err), 0);
    uint8_t *big = calloc(1, 3u << 20);
    ck_assert_int_eq(multiboot_add_module(&mb, "big", big, 3u << 20, err, sizeof err), 0);
    free(big);
    ck_assert_int_eq(multiboot_place(&mb, 4u << 20, NULL, NULL, &h, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "module 'big' does not fit"));
    ck_assert_int_eq(multiboot_place(&mb, RAM_SIZE, NULL, NULL, &h, err, sizeof err), 0);
}
END_TEST

START_TEST(files)
{
    char path[] = "/tmp/umbra-mb-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    uint8_t img[0x900];
    aout_image(img, sizeof img, 0, 0);
    ck_assert_int_eq(write(fd, img, sizeof img), (ssize_t)sizeof img);
    close(fd);
    ck_assert_msg(multiboot_load_file(&mb, path, err, sizeof err) == 0, "%s", err);
    ck_assert_str_eq(mb.name, path);
    ck_assert_int_eq(multiboot_add_module_file(&mb, path, "mod", err, sizeof err), 0);
    ck_assert_uint_eq(mb.mods[0].size, sizeof img);
    unlink(path);

    ck_assert_int_eq(multiboot_load_file(&mb, "/nonexistent/k.elf", err, sizeof err), -1);
    ck_assert_str_eq(err, "cannot open '/nonexistent/k.elf': No such file or directory");
    ck_assert_int_eq(multiboot_add_module_file(&mb, "/nonexistent/m", "m", err, sizeof err), -1);
    ck_assert_str_eq(err, "cannot open '/nonexistent/m': No such file or directory");
}
END_TEST

START_TEST(boot_hook_on_a_machine)
{
    struct machine_config cfg = {.ram_mb = 8};
    char merr[256];
    struct machine *m = machine_create(&cfg, merr, sizeof merr);
    ck_assert_msg(m != NULL, "%s", merr);
    static uint8_t img[0x3000];
    elf_image(img, sizeof img);
    ck_assert_int_eq(multiboot_parse(&mb, "kernel.elf", img, sizeof img, err, sizeof err), 0);
    machine_set_boot_hook(m, multiboot_boot_hook, &mb);
    for (int pass = 0; pass < 2; pass++) { /* every reset places it again */
        machine_reset(m);
        struct cpu *cpu = machine_cpu(m);
        ck_assert_uint_eq(cpu->eip, 0x100010);
        ck_assert_uint_eq(cpu->regs[R_EAX], 0x2BADB002);
        ck_assert(cpu->cr0 & CR0_PE);
        uint8_t got[0x200];
        mmu_phys_read(machine_mmu(m), 0x100000, got, sizeof got);
        ck_assert_mem_eq(got, img + 0x1000, sizeof got);
        uint32_t info = cpu->regs[R_EBX];
        ck_assert_uint_eq(mmu_phys_read32(machine_mmu(m), info + MBI_OFF_MEM_UPPER), 7 * 1024);
        mmu_phys_write32(machine_mmu(m), 0x100000, 0xdeadbeef); /* the guest scribbles */
    }
    machine_destroy(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("multiboot");
    TCase *tc = tcase_create("loader");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, aout_kludge_placement);
    tcase_add_test(tc, aout_header_not_at_start);
    tcase_add_test(tc, elf_placement_and_entry_translation);
    tcase_add_test(tc, modules_page_aligned_with_strings);
    tcase_add_test(tc, first_valid_header_wins);
    tcase_add_test(tc, malformed_headers_rejected);
    tcase_add_test(tc, malformed_elf_rejected);
    tcase_add_test(tc, segments_outside_ram_rejected);
    tcase_add_test(tc, files);
    tcase_add_test(tc, boot_hook_on_a_machine);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
