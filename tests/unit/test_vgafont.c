/*
 * test_vgafont.c — finding the 8x16 font in a VGA BIOS image: a synthetic
 * image with the font at an odd offset, decoys that look like part of it,
 * and (when Debian's seabios package is installed) the real stdvga BIOS.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/vgafont.h"

static const uint8_t A[16] = {0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
                              0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00};

START_TEST(synthetic_image)
{
    static uint8_t rom[16384];
    for (unsigned i = 0; i < sizeof rom; i++) rom[i] = (uint8_t)(i * 13 + 7);
    /* A decoy 'A' with no font around it. */
    memcpy(rom + 0x500, A, 16);
    ck_assert_ptr_null(vgafont_find_8x16(rom, sizeof rom));
    /* The font at 0x1003: NUL blank, 'A', full block. */
    uint8_t *font = rom + 0x1003;
    memset(font, 0, 16);
    memcpy(font + 0x41 * 16, A, 16);
    memset(font + 0xdb * 16, 0xff, 16);
    ck_assert_ptr_eq(vgafont_find_8x16(rom, sizeof rom), font);
    /* Cut short: the font must fit in the image. */
    ck_assert_ptr_null(vgafont_find_8x16(rom, 0x1003 + 4095));
}
END_TEST

START_TEST(debian_stdvga_bios)
{
    FILE *f = fopen(VGAFONT_DEFAULT_ROM, "rb");
    if (!f) return; /* seabios not installed: the synthetic case covers the search */
    static uint8_t rom[1 << 20];
    size_t n = fread(rom, 1, sizeof rom, f);
    fclose(f);
    const uint8_t *font = vgafont_find_8x16(rom, n);
    ck_assert_ptr_nonnull(font);
    /* '0' in this BIOS's 8x16 font: an oval with a dotted centre. */
    ck_assert_uint_eq(font['0' * 16 + 2], 0x3c);
    ck_assert_uint_eq(font['0' * 16 + 6], 0xdb);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vgafont");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, synthetic_image);
    tcase_add_test(tc, debian_stdvga_bios);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
