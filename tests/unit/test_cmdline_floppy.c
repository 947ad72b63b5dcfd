/* test_cmdline_floppy.c — -fda / -fdb: the paths are kept for main to open,
 * a missing file fails naming the flag, and -help lists them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/cmdline.h"

static const char *parse(struct cmdline *cl, char *err, size_t n, int argc, char **argv)
{
    return cmdline_parse(cl, argc, argv, err, n);
}

START_TEST(fda_fdb_paths)
{
    char path[] = "/tmp/umbra-fd-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct cmdline cl;
    char err[300];
    char *argv[] = {"umbra", "-fda", path, "--fdb", path, NULL};
    ck_assert_ptr_null(parse(&cl, err, sizeof err, 5, argv));
    ck_assert_str_eq(cl.floppy_path[0], path);
    ck_assert_str_eq(cl.floppy_path[1], path);
    cmdline_free(&cl);
    char *argv2[] = {"umbra", "-fdb", path, NULL};
    ck_assert_ptr_null(parse(&cl, err, sizeof err, 3, argv2));
    ck_assert_ptr_null(cl.floppy_path[0]);
    ck_assert_str_eq(cl.floppy_path[1], path);
    cmdline_free(&cl);
    unlink(path);
    char *argv3[] = {"umbra", "-fda", path, NULL};
    ck_assert_ptr_nonnull(parse(&cl, err, sizeof err, 3, argv3));
    ck_assert_ptr_nonnull(strstr(err, "-fda"));
    ck_assert_ptr_nonnull(strstr(err, path));
    cmdline_free(&cl);
    char *argv4[] = {"umbra", "-fda", NULL};
    ck_assert_ptr_nonnull(parse(&cl, err, sizeof err, 2, argv4));
    ck_assert_ptr_nonnull(strstr(err, "missing argument"));
    cmdline_free(&cl);
}
END_TEST

START_TEST(usage_mentions_floppies)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cmdline_usage(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "-fda"));
    ck_assert_ptr_nonnull(strstr(buf, "-fdb"));
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cmdline_floppy");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, fda_fdb_paths);
    tcase_add_test(tc, usage_mentions_floppies);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
