/*
 * test_cmdline.c — the command-line parser alone (frontends/cmdline.c, from
 * umbra_frontends): QEMU spellings and size suffixes, defaults, the
 * -device/-serial/-d/-icount sub-syntaxes, the -initrd module list, and one
 * error message per kind of mistake, each naming the flag or file.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/cmdline.h"

static struct cmdline cl;
static char err[256];

/* Parse a NULL-terminated list of arguments (argv[0] supplied). */
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
    cmdline_free(&cl); /* the previous parse's modules */
    return cmdline_parse(&cl, argc, argv, err, sizeof err);
}

static char kernel_path[64], mod1[64], mod2[64];

static void make_file(char *path, const char *tmpl)
{
    strcpy(path, tmpl);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "x", 1), 1);
    close(fd);
}

static void setup(void)
{
    make_file(kernel_path, "/tmp/umbra-kernel-XXXXXX");
    make_file(mod1, "/tmp/umbra-mod1-XXXXXX");
    make_file(mod2, "/tmp/umbra-mod2-XXXXXX");
}

static void teardown(void)
{
    cmdline_free(&cl);
    unlink(kernel_path);
    unlink(mod1);
    unlink(mod2);
}

START_TEST(defaults)
{
    ck_assert_ptr_null(parse(NULL));
    ck_assert_uint_eq(cl.cfg.ram_mb, 128);
    ck_assert_ptr_null(cl.kernel);
    ck_assert(!cl.cfg.debug_exit);
    ck_assert_uint_eq(cl.cfg.debug_exit_base, 0xf4);
    ck_assert_uint_eq(cl.cfg.debug_exit_size, 4);
    ck_assert_int_eq(cl.serial, SERIAL_DEFAULT);
    ck_assert(!cl.cfg.no_reboot && !cl.cfg.icount && !cl.stats && !cl.nographic);
    ck_assert_uint_eq(cl.cfg.log_mask, 0);
    ck_assert_ptr_null(cl.log_file);
}
END_TEST

START_TEST(memory_sizes)
{
    static const struct {
        const char *arg;
        uint32_t mb;
    } ok[] = {{"256", 256},   {"256M", 256},  {"256m", 256},    {"1G", 1024},
              {"1.5G", 1536}, {"3584", 3584}, {"3.5G", 3584},   {"1", 1},
              {"2048k", 2},   {"1000k", 1},   {"size=64M", 64}, {"1048576B", 1}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        ck_assert_msg(parse("-m", ok[i].arg, NULL) == NULL, "-m %s: %s", ok[i].arg, err);
        ck_assert_uint_eq(cl.cfg.ram_mb, ok[i].mb);
        ck_assert(cl.ram_given);
    }
    ck_assert_ptr_nonnull(parse("-m", "abc", NULL));
    ck_assert_str_eq(err, "-m: invalid size 'abc'");
    static const char *const bad[] = {"", "12Q", "1GB", "-5", "0x100", "1e3", "M", "1 G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse("-m", bad[i], NULL) != NULL, "-m '%s' accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err, "-m: invalid size"));
    }
    ck_assert_ptr_nonnull(parse("-m", "0", NULL));
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_assert_ptr_nonnull(parse("-m", "3585", NULL));
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_assert_ptr_nonnull(parse("-m", "4G", NULL));
    ck_assert_ptr_nonnull(parse("-m", NULL));
    ck_assert_str_eq(err, "-m: missing argument");
}
END_TEST

START_TEST(kernel_append_initrd)
{
    char initrd[256];
    snprintf(initrd, sizeof initrd, "%s arg1 arg2,%s x,,y", mod1, mod2);
    ck_assert_msg(parse("-kernel", kernel_path, "-append", "console=ttyS0 quiet", "-initrd", initrd,
                        NULL) == NULL,
                  "%s", err);
    ck_assert_str_eq(cl.kernel, kernel_path);
    ck_assert_str_eq(cl.append, "console=ttyS0 quiet");
    ck_assert_uint_eq(cl.nmodules, 2);
    ck_assert_str_eq(cl.modules[0].path, mod1);
    char want[128];
    snprintf(want, sizeof want, "%s arg1 arg2", mod1);
    ck_assert_str_eq(cl.modules[0].string, want);
    ck_assert_str_eq(cl.modules[1].path, mod2);
    snprintf(want, sizeof want, "%s x,y", mod2); /* ",," is a literal comma */
    ck_assert_str_eq(cl.modules[1].string, want);
}
END_TEST

START_TEST(missing_files)
{
    ck_assert_ptr_nonnull(parse("-kernel", "/nonexistent/x.elf", NULL));
    ck_assert_str_eq(err, "-kernel: cannot open '/nonexistent/x.elf': No such file or directory");
    ck_assert_ptr_nonnull(parse("-kernel", "/tmp", NULL));
    ck_assert_str_eq(err, "-kernel: cannot open '/tmp': Is a directory");
    char initrd[128];
    snprintf(initrd, sizeof initrd, "%s,/nonexistent/mod arg", mod1);
    ck_assert_ptr_nonnull(parse("-kernel", kernel_path, "-initrd", initrd, NULL));
    ck_assert_str_eq(err, "-initrd: cannot open '/nonexistent/mod': No such file or directory");
    ck_assert_ptr_nonnull(parse("-kernel", kernel_path, "-initrd", "", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-initrd: empty module"));
    ck_assert_ptr_nonnull(parse("-initrd", mod1, NULL));
    ck_assert_str_eq(err, "-initrd: needs -kernel");
    ck_assert_ptr_nonnull(parse("-append", "x", NULL));
    ck_assert_str_eq(err, "-append: needs -kernel");
    ck_assert_ptr_nonnull(parse("-kernel", NULL));
    ck_assert_str_eq(err, "-kernel: missing argument");
}
END_TEST

START_TEST(debug_exit_device)
{
    ck_assert_ptr_null(parse("-device", "isa-debug-exit", NULL));
    ck_assert(cl.cfg.debug_exit && cl.debug_exit_given);
    ck_assert_uint_eq(cl.cfg.debug_exit_base, 0xf4);
    ck_assert_uint_eq(cl.cfg.debug_exit_size, 4);
    ck_assert_ptr_null(parse("-device", "isa-debug-exit,iobase=0x501,iosize=2", NULL));
    ck_assert_uint_eq(cl.cfg.debug_exit_base, 0x501);
    ck_assert_uint_eq(cl.cfg.debug_exit_size, 2);
    ck_assert_ptr_null(parse("-device", "isa-debug-exit,iosize=1,iobase=244", NULL));
    ck_assert_uint_eq(cl.cfg.debug_exit_base, 244);
    ck_assert_uint_eq(cl.cfg.debug_exit_size, 1);

    ck_assert_ptr_nonnull(parse("-device", "e1000", NULL));
    ck_assert_str_eq(err, "-device: unsupported device 'e1000'");
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exitx", NULL));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,iobase=zz", NULL));
    ck_assert_ptr_nonnull(strstr(err, "invalid iobase 'zz'"));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,iobase=0x10000", NULL));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,iosize=0", NULL));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,iobase=0xffff,iosize=4", NULL));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,foo=1", NULL));
    ck_assert_ptr_nonnull(strstr(err, "unknown property 'foo'"));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit,iobase", NULL));
    ck_assert_ptr_nonnull(parse("-device", "isa-debug-exit", "-device", "isa-debug-exit", NULL));
}
END_TEST

START_TEST(serial_display_nographic)
{
    ck_assert_ptr_null(parse("-nographic", NULL));
    ck_assert(cl.nographic);
    ck_assert_ptr_null(parse("-serial", "stdio", "-display", "none", NULL));
    ck_assert_int_eq(cl.serial, SERIAL_STDIO);
    ck_assert(cl.display_none);
    ck_assert_ptr_null(parse("-serial", "mon:stdio", NULL));
    ck_assert_int_eq(cl.serial, SERIAL_STDIO);
    ck_assert_ptr_null(parse("-serial", "file:/tmp/out.txt", NULL));
    ck_assert_int_eq(cl.serial, SERIAL_FILE);
    ck_assert_str_eq(cl.serial_path, "/tmp/out.txt");
    ck_assert_ptr_null(parse("-serial", "null", NULL));
    ck_assert_int_eq(cl.serial, SERIAL_NULL);
    ck_assert_ptr_null(parse("-serial", "none", NULL));
    ck_assert_int_eq(cl.serial, SERIAL_NONE);

    ck_assert_ptr_nonnull(parse("-serial", "tcp::4444", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-serial: unsupported backend 'tcp::4444'"));
    ck_assert_ptr_nonnull(parse("-serial", "file:", NULL));
    ck_assert_ptr_nonnull(parse("-serial", "stdio", "-serial", "null", NULL));
    ck_assert_ptr_nonnull(parse("-display", "gtk", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-display: unsupported display 'gtk'"));
}
END_TEST

START_TEST(log_categories)
{
    ck_assert_ptr_null(parse("-d", "int,cpu_reset", NULL));
    ck_assert_uint_eq(cl.cfg.log_mask, LOG_INT | LOG_CPU_RESET);
    ck_assert_ptr_null(parse("-d", "guest_errors,unimp,exec,pcall", "-D", "/tmp/log.txt", NULL));
    ck_assert_uint_eq(cl.cfg.log_mask, LOG_GUEST_ERRORS | LOG_UNIMP | LOG_EXEC | LOG_PCALL);
    ck_assert_str_eq(cl.log_file, "/tmp/log.txt");
    ck_assert_ptr_null(parse("-d", "help", NULL));
    ck_assert(cl.log_help);

    ck_assert_ptr_nonnull(parse("-d", "int,bogus", NULL));
    ck_assert_str_eq(err, "-d: unknown category 'bogus' (try -d help)");
    ck_assert_ptr_nonnull(parse("-D", NULL));
    ck_assert_str_eq(err, "-D: missing argument");
}
END_TEST

START_TEST(icount_forms)
{
    ck_assert_ptr_null(parse("-icount", "shift=7", NULL));
    ck_assert(cl.cfg.icount);
    ck_assert_uint_eq(cl.cfg.icount_shift, 7);
    ck_assert_ptr_null(parse("-icount", "3", NULL));
    ck_assert_uint_eq(cl.cfg.icount_shift, 3);
    ck_assert_ptr_null(parse("-icount", "auto", NULL));
    ck_assert(cl.cfg.icount);
    ck_assert_ptr_null(parse("-icount", "shift=0,align=off,sleep=off", NULL));
    ck_assert_uint_eq(cl.cfg.icount_shift, 0);

    ck_assert_ptr_nonnull(parse("-icount", "11", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-icount: invalid shift '11'"));
    ck_assert_ptr_nonnull(parse("-icount", "shift=x", NULL));
    ck_assert_ptr_nonnull(parse("-icount", "rr=record", NULL));
}
END_TEST

START_TEST(flags_and_info)
{
    ck_assert_ptr_null(parse("-no-reboot", "-stats", NULL));
    ck_assert(cl.cfg.no_reboot && cl.stats);
    ck_assert_ptr_null(parse("--no-reboot", "--m", "64", NULL)); /* QEMU's -- spellings */
    ck_assert(cl.cfg.no_reboot);
    ck_assert_uint_eq(cl.cfg.ram_mb, 64);
    static const char *const help[] = {"-h", "-help", "--help"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_ptr_null(parse(help[i], NULL));
        ck_assert(cl.help);
    }
    ck_assert_ptr_null(parse("-mmu", "walk", NULL));
    ck_assert(cl.mmu_walk);
    ck_assert_ptr_null(parse("-mmu", "shadow", NULL));
    ck_assert(!cl.mmu_walk);
    ck_assert_ptr_nonnull(parse("-mmu", "fast", NULL));
    ck_assert_str_eq(err, "-mmu: unknown mode 'fast' (shadow, walk)");
    ck_assert_ptr_null(parse("--version", NULL));
    ck_assert(cl.version);
    ck_assert_ptr_null(parse("-version", NULL));
    ck_assert(cl.version);
}
END_TEST

START_TEST(unknown_flags_fail)
{
    ck_assert_ptr_nonnull(parse("-accel", "tcg", NULL));
    ck_assert_str_eq(err, "-accel: unknown option (try -help)");
    ck_assert_ptr_nonnull(parse("-enable-kvm", NULL));
    ck_assert_str_eq(err, "-enable-kvm: unknown option (try -help)");
    ck_assert_ptr_nonnull(parse("--bogus", NULL));
    ck_assert_str_eq(err, "--bogus: unknown option (try -help)");
    ck_assert_ptr_nonnull(parse("disk.img", NULL));
    ck_assert_str_eq(err, "unexpected argument 'disk.img'");
    ck_assert_ptr_nonnull(parse("-", NULL));
    /* Nothing after an error leaks into the result unnoticed. */
    ck_assert_ptr_nonnull(parse("-m", "64", "-frobnicate", NULL));
}
END_TEST

START_TEST(size_helper)
{
    uint64_t mb;
    ck_assert(cmdline_parse_size_mb("512", &mb));
    ck_assert_uint_eq(mb, 512);
    ck_assert(cmdline_parse_size_mb("1T", &mb));
    ck_assert_uint_eq(mb, 1024 * 1024);
    ck_assert(cmdline_parse_size_mb("1536K", &mb)); /* rounds partial MiB up */
    ck_assert_uint_eq(mb, 2);
    ck_assert(!cmdline_parse_size_mb(".5G", &mb));
    ck_assert(!cmdline_parse_size_mb("5Gx", &mb));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmdline");
    TCase *tc = tcase_create("parse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, defaults);
    tcase_add_test(tc, memory_sizes);
    tcase_add_test(tc, kernel_append_initrd);
    tcase_add_test(tc, missing_files);
    tcase_add_test(tc, debug_exit_device);
    tcase_add_test(tc, serial_display_nographic);
    tcase_add_test(tc, log_categories);
    tcase_add_test(tc, icount_forms);
    tcase_add_test(tc, flags_and_info);
    tcase_add_test(tc, unknown_flags_fail);
    tcase_add_test(tc, size_helper);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
