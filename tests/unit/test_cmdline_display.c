/*
 * test_cmdline_display.c — the display flags of the command line
 * (-display, -vga, -screendump-on-exit, -device screendump-port) and the
 * screendump file naming (frontends/screendump.c).
 */
#include <check.h>
#include <stdarg.h>
#include <string.h>

#include "frontends/cmdline.h"
#include "frontends/screendump.h"

static struct cmdline cl;
static char err[256];

static const char *parse(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"umbra";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    cmdline_free(&cl);
    return cmdline_parse(&cl, argc, argv, err, sizeof err);
}

START_TEST(display_and_vga)
{
    ck_assert_ptr_null(parse("-display", "sdl", NULL));
    ck_assert(cl.display_sdl && !cl.display_none);
    ck_assert_ptr_null(parse("-display", "none", NULL));
    ck_assert(!cl.display_sdl && cl.display_none);
    ck_assert_ptr_nonnull(parse("-display", "gtk", NULL));
    ck_assert_ptr_nonnull(strstr(err, "gtk"));
    ck_assert_ptr_null(parse("-vga", "none", NULL));
    ck_assert(cl.vga_none);
    ck_assert_ptr_null(parse("-vga", "std", NULL));
    ck_assert(!cl.vga_none);
    ck_assert_ptr_nonnull(parse("-vga", "cirrus", NULL));
    ck_assert_ptr_nonnull(strstr(err, "cirrus"));
    ck_assert_ptr_nonnull(parse("-vga", NULL));
    ck_assert_ptr_nonnull(strstr(err, "missing"));
    ck_assert_ptr_null(parse("-screendump-on-exit", "/tmp/x.png", NULL));
    ck_assert_str_eq(cl.screendump_on_exit, "/tmp/x.png");
}
END_TEST

START_TEST(screendump_port)
{
    ck_assert_ptr_null(parse("-device", "screendump-port,iobase=0xe0,file=/tmp/s-%d.png", "-device",
                             "isa-debug-exit,iobase=0xf4", NULL));
    ck_assert_uint_eq(cl.screendump_port, 0xe0);
    ck_assert_uint_eq(cl.cfg.screendump_port, 0xe0);
    ck_assert_str_eq(cl.screendump_file, "/tmp/s-%d.png");
    ck_assert(cl.cfg.debug_exit);
    /* A file name may contain commas: file= takes the rest. */
    ck_assert_ptr_null(parse("-device", "screendump-port,iobase=0x100,file=a,b.png", NULL));
    ck_assert_str_eq(cl.screendump_file, "a,b.png");
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,file=x.png", NULL));
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,iobase=0xe0", NULL));
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,iobase=0x10000,file=x", NULL));
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,iobase=0xe0,file=%d-%d", NULL));
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,iobase=0xe0,file=%s", NULL));
    ck_assert_ptr_nonnull(parse("-device", "screendump-port,speed=1,iobase=0xe0,file=x", NULL));
    ck_assert_ptr_nonnull(strstr(err, "speed"));
}
END_TEST

START_TEST(screendump_names)
{
    char out[64];
    screendump_path(out, sizeof out, "shot-%d.png", 7);
    ck_assert_str_eq(out, "shot-7.png");
    screendump_path(out, sizeof out, "fixed.png", 7);
    ck_assert_str_eq(out, "fixed.png");
    screendump_path(out, sizeof out, "%d", 255);
    ck_assert_str_eq(out, "255");
    ck_assert(screendump_pattern_ok("a%db"));
    ck_assert(!screendump_pattern_ok("a%sb"));
    ck_assert(!screendump_pattern_ok("%d%d"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmdline_display");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, display_and_vga);
    tcase_add_test(tc, screendump_port);
    tcase_add_test(tc, screendump_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cmdline_free(&cl);
    return failed ? 1 : 0;
}
