/*
 * test_cmdline_storage.c — the storage flags of the command line as QEMU
 * spells them: -hda..-hdd, -cdrom, -fda/-fdb, -drive with its properties
 * (file, format, if, media, index, readonly, snapshot, cache, id), -snapshot
 * and -boot; conflicts and malformed values fail naming the flag.
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

static const struct block_drive *drive(bool floppy, unsigned index)
{
    for (size_t i = 0; i < cl.ndrives; i++)
        if (cl.drives[i].floppy == floppy && cl.drives[i].index == index) return &cl.drives[i];
    return NULL;
}

START_TEST(legacy_flags)
{
    ck_assert_ptr_null(parse("-hda", "a.img", "-hdb", "b.img", "-hdd", "d.img", "-cdrom",
                             "cd.iso", "-fda", "f.img", "-snapshot", NULL));
    ck_assert_uint_eq(cl.ndrives, 5);
    ck_assert_str_eq(drive(false, 0)->path, "a.img");
    ck_assert_str_eq(drive(false, 1)->path, "b.img");
    ck_assert_str_eq(drive(false, 3)->path, "d.img");
    ck_assert(drive(false, 2)->cdrom);
    ck_assert(!drive(false, 0)->cdrom);
    ck_assert_str_eq(drive(true, 0)->path, "f.img");
    ck_assert(cl.snapshot);
    /* -hdc and -cdrom both want the secondary master. */
    ck_assert_ptr_nonnull(parse("-hdc", "c.img", "-cdrom", "x.iso", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-cdrom"));
    ck_assert_ptr_nonnull(parse("-hda", NULL));
    ck_assert_ptr_nonnull(strstr(err, "-hda"));
}
END_TEST

START_TEST(drive_option)
{
    ck_assert_ptr_null(parse("-drive", "file=disk.qcow2,format=qcow2,if=ide,index=1,readonly=on",
                             "-drive", "if=floppy,index=1,file=fl.img,format=raw", "-drive",
                             "file=cd.iso,media=cdrom,cache=unsafe,id=cd0", NULL));
    const struct block_drive *d = drive(false, 1);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_eq(d->path, "disk.qcow2");
    ck_assert_int_eq(d->format, BLOCK_FMT_QCOW2);
    ck_assert(d->read_only);
    d = drive(true, 1);
    ck_assert_str_eq(d->path, "fl.img");
    ck_assert_int_eq(d->format, BLOCK_FMT_RAW);
    /* No index: the first free IDE slot. */
    d = drive(false, 0);
    ck_assert_str_eq(d->path, "cd.iso");
    ck_assert(d->cdrom);
    /* An empty CD-ROM drive needs no file. */
    ck_assert_ptr_null(parse("-drive", "if=ide,index=2,media=cdrom", NULL));
    ck_assert_ptr_null(drive(false, 2)->path);
    ck_assert_ptr_null(parse("-drive", "file=a,snapshot=on", NULL));
    ck_assert(drive(false, 0)->snapshot);

    static const char *const bad[][2] = {
        {"file=a,format=vmdk", "format"},  {"file=a,if=scsi", "interface"},
        {"file=a,media=tape", "media"},    {"file=a,index=4", "index"},
        {"file=a,readonly=maybe", "readonly"}, {"file=a,bogus=1", "bogus"},
        {"format=raw", "file="},           {"file=a,if=floppy,index=2", "index"},
        {"file=a,cache=fast", "cache"},    {"file", "malformed"},
        {"file=a,if=floppy,media=cdrom", "floppy"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse("-drive", bad[i][0], NULL) != NULL, "accepted %s", bad[i][0]);
        ck_assert_msg(strstr(err, "-drive") && strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
    }
    ck_assert_ptr_nonnull(parse("-drive", "file=a,index=0", "-hda", "b", NULL));
    ck_assert_ptr_nonnull(strstr(err, "already in use"));
}
END_TEST

START_TEST(boot_order)
{
    ck_assert_ptr_null(parse("-boot", "d", NULL));
    ck_assert_str_eq(cl.cfg.boot_order, "d");
    ck_assert_ptr_null(parse("-boot", "order=dca,menu=on", NULL));
    ck_assert_str_eq(cl.cfg.boot_order, "dca");
    ck_assert_ptr_null(parse("-boot", "menu=off", NULL));
    ck_assert_str_eq(cl.cfg.boot_order, "");
    ck_assert_ptr_null(parse(NULL));
    ck_assert_str_eq(cl.cfg.boot_order, "");
    static const char *const bad[] = {"x", "cc", "order=", "order=cadnc", "menu=perhaps",
                                      "colour=blue"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(parse("-boot", bad[i], NULL) != NULL, "accepted %s", bad[i]);
        ck_assert_msg(strncmp(err, "-boot", 5) == 0, "%s: %s", bad[i], err);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cmdline_storage");
    TCase *t = tcase_create("flags");
    tcase_add_test(t, legacy_flags);
    tcase_add_test(t, drive_option);
    tcase_add_test(t, boot_order);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    cmdline_free(&cl);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
