/*
 * vgafont.c — find the 8x16 font in a VGA BIOS image.
 *
 * Every VGA BIOS carries the IBM 8x16 character set as 256 glyphs of 16
 * bytes.  It is recognised by three glyphs whose shapes are fixed by the
 * code page 437 standard: NUL (blank), 'A', and 0xDB (full block); the
 * font starts 0x41 glyphs before the 'A'.
 */
#include "frontends/vgafont.h"

#include <stdbool.h>
#include <string.h>

static const uint8_t glyph_A[16] = {0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
                                    0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00};

const uint8_t *vgafont_find_8x16(const uint8_t *rom, size_t len)
{
    static const uint8_t zero[16] = {0};
    for (size_t off = 0x41 * 16; off + 16 <= len; off++) {
        if (memcmp(rom + off, glyph_A, 16) != 0) continue;
        const uint8_t *font = rom + off - 0x41 * 16;
        if ((size_t)(font - rom) + 4096 > len) continue;
        if (memcmp(font, zero, 16) != 0) continue;
        const uint8_t *block = font + 0xdb * 16;
        bool full = true;
        for (unsigned i = 0; i < 16; i++) full &= block[i] == 0xff;
        if (full) return font;
    }
    return NULL;
}
