/* test_firmware.c — the frontend side of a firmware boot
 * (frontends/firmware.c, the -bios/-fw_cfg/-debugcon flags): where a -bios
 * name is looked up, the one-line errors for missing and wrongly sized
 * images, -fw_cfg's QEMU syntax, and the flags refused next to -kernel. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/cmdline.h"
#include "frontends/firmware.h"

START_TEST(resolve_names)
{
    char path[4096];
    firmware_resolve(NULL, path, sizeof path);
    ck_assert_str_eq(path, "/usr/share/seabios/bios-256k.bin");
    firmware_resolve("bios.bin", path, sizeof path); /* not in the cwd */
    ck_assert_str_eq(path, "/usr/share/seabios/bios.bin");
    firmware_resolve("./bios.bin", path, sizeof path); /* a path stays a path */
    ck_assert_str_eq(path, "./bios.bin");
    char tmpl[] = "/tmp/umbra-fw-XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    close(fd);
    firmware_resolve(tmpl, path, sizeof path);
    ck_assert_str_eq(path, tmpl);
    unlink(tmpl);
}
END_TEST

START_TEST(load_errors)
{
    struct firmware fw = FIRMWARE_INIT;
    char err[512];
    ck_assert_int_eq(firmware_load(&fw, "/nonexistent/umbra.bin", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/umbra.bin"));
    ck_assert_ptr_nonnull(strstr(err, "(Debian package seabios)"));
    ck_assert_ptr_null(strchr(err, '\n'));
    char tmpl[] = "/tmp/umbra-fw-XXXXXX";
    int fd = mkstemp(tmpl);
    ck_assert_int_ge(fd, 0);
    static uint8_t buf[0x10000 + 1];
    ck_assert_int_eq(write(fd, buf, sizeof buf), (int)sizeof buf);
    close(fd);
    ck_assert_int_eq(firmware_load(&fw, tmpl, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "64 KiB"));
    ck_assert_ptr_nonnull(strstr(err, tmpl));
    ck_assert_int_eq(truncate(tmpl, 0x20000), 0);
    ck_assert_int_eq(firmware_load(&fw, tmpl, err, sizeof err), 0);
    ck_assert_uint_eq(fw.bios_size, 0x20000);
    firmware_free(&fw);
    unlink(tmpl);
}
END_TEST

START_TEST(fw_cfg_specs)
{
    char *name;
    uint8_t *data;
    size_t size;
    char err[512];
    ck_assert_int_eq(
        firmware_parse_fw_cfg("name=opt/x,string=hello", &name, &data, &size, err, sizeof err), 0);
    ck_assert_str_eq(name, "opt/x");
    ck_assert_uint_eq(size, 5);
    ck_assert_mem_eq(data, "hello", 5);
    free(name);
    free(data);
    ck_assert_int_eq(
        firmware_parse_fw_cfg("opt/y,file=/etc/passwd", &name, &data, &size, err, sizeof err), 0);
    ck_assert_str_eq(name, "opt/y");
    free(name);
    free(data);
    ck_assert_int_eq(firmware_parse_fw_cfg("name=opt/z", &name, &data, &size, err, sizeof err), -1);
    ck_assert_int_eq(
        firmware_parse_fw_cfg("name=a,file=/x,string=y", &name, &data, &size, err, sizeof err), -1);
    ck_assert_int_eq(firmware_parse_fw_cfg("name=a,bogus=1", &name, &data, &size, err, sizeof err),
                     -1);
    ck_assert_ptr_nonnull(strstr(err, "bogus"));
    ck_assert_int_eq(
        firmware_parse_fw_cfg("name=a,file=/nonexistent/f", &name, &data, &size, err, sizeof err),
        -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/f"));
}
END_TEST

START_TEST(flags)
{
    struct cmdline cl;
    char err[512];
    char *ok[] = {"umbra",       "-bios",   "bios.bin",           "-debugcon",
                  "file:/tmp/x", "-fw_cfg", "name=opt/a,string=b"};
    ck_assert_ptr_null(cmdline_parse(&cl, 7, ok, err, sizeof err));
    ck_assert_str_eq(cl.bios, "bios.bin");
    ck_assert_str_eq(cl.debugcon, "file:/tmp/x");
    ck_assert_uint_eq(cl.n_fw_cfg, 1);
    cmdline_free(&cl);
    char *bad[] = {"umbra", "-kernel", "/etc/passwd", "-bios", "bios.bin"};
    ck_assert_ptr_nonnull(cmdline_parse(&cl, 5, bad, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "-bios"));
    cmdline_free(&cl);
    char *missing[] = {"umbra", "-bios"};
    ck_assert_ptr_nonnull(cmdline_parse(&cl, 2, missing, err, sizeof err));
    cmdline_free(&cl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("firmware");
    TCase *tc = tcase_create("firmware");
    tcase_add_test(tc, resolve_names);
    tcase_add_test(tc, load_errors);
    tcase_add_test(tc, fw_cfg_specs);
    tcase_add_test(tc, flags);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
