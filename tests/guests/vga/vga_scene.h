/*
 * vga_scene.h — what the VGA guest draws, described once for two readers:
 * the guest (vga_guest.c), which draws it by programming the VGA's
 * registers directly, and the host tool (vga_ref.c), which computes from
 * the same description, and the VGA's documented pixel path, the picture a
 * correct card must show, and compares Umbra's screendump with it pixel by
 * pixel.  Nothing here is taken from Umbra's output.
 *
 * Scenes (the screendump number is the scene number):
 *   0  80x25 text, 9-dot cells, own font in plane 2 (two character maps
 *      selected by attribute bit 3), line-graphics 9th column, own
 *      attribute palette and DAC, blink off (bright backgrounds)
 *   1  mode 12h 640x480x16 planar: rectangles drawn with write modes 0 (set/
 *      reset, and XOR), 2 and 3, and rotated CPU data through the map mask
 *   2  mode 13h 320x200x256 chained
 *   3  unchained 320x200x256 ("mode X" addressing) with a write-mode-1
 *      latch copy of a band of rows
 *   4  Bochs VBE 1024x768x32 through the linear framebuffer (last rows
 *      through the banked window)
 *   5  Bochs VBE 640x480x16 (RGB565) through the linear framebuffer
 *   6  CGA mode 4 (320x200x4): shift register interleave, odd/even, the two
 *      interleaved banks at 0xB8000/0xBA000 by CGA addressing (CR17 bit 0)
 * Only plain C types, so both a freestanding guest and the host include it.
 */
#ifndef VGA_SCENE_H
#define VGA_SCENE_H

#define SCENE_COUNT 7
#define SCENE_TEXT 0
#define SCENE_M12 1
#define SCENE_M13 2
#define SCENE_UNCHAINED 3
#define SCENE_VBE32 4
#define SCENE_VBE16 5
#define SCENE_CGA4 6

/* ---- scene 0: text ---- */
#define TEXT_COLS 80
#define TEXT_ROWS 25
#define TEXT_CHAR_H 16
#define TEXT_CELL_W 9
#define TEXT_MAP_A 1 /* character map for attribute bit 3 = 1 (plane 2 at 16 KiB) */
#define TEXT_MAP_B 0 /* for bit 3 = 0 (plane 2 at 0) */

static inline unsigned text_char(unsigned r, unsigned c) { return ((r * 80 + c) * 37 + r) & 0xff; }
static inline unsigned text_attr(unsigned r, unsigned c) { return (r * 5 + c * 3 + (c >> 4)) & 0xff; }
/* The glyph rows of the two fonts (map 0 and map 1). */
static inline unsigned font_row(unsigned map, unsigned ch, unsigned line)
{
    unsigned h = ch * 0x9e + line * 0x3b + map * 0x55;
    h ^= (ch * line) ^ (ch >> 3) ^ (h >> 7);
    return h & 0xff;
}
/* Attribute controller palette registers 0-15 (6-bit DAC indexes). */
static inline unsigned text_ar(unsigned i) { return (i * 11 + 3) & 0x3f; }
/* DAC entries 0-63 (6-bit components) for the text scene; k = 0 red, 1 green, 2 blue. */
static inline unsigned text_dac(unsigned i, unsigned k)
{
    return k == 0 ? (i * 7) & 63 : k == 1 ? (i * 13 + 5) & 63 : 63 - (i & 63);
}

/* ---- scene 1: mode 12h ---- */
#define M12_W 640
#define M12_H 480
enum m12_kind {
    M12_WM2,     /* write mode 2: the CPU byte's low nibble is the colour */
    M12_WM0_SR,  /* write mode 0 with set/reset enabled on all planes */
    M12_WM3,     /* write mode 3: set/reset colour, CPU data ANDed into the bit mask */
    M12_XOR,     /* write mode 0, set/reset, function XOR: the pixel XOR colour */
    M12_ROTATE,  /* write mode 0, CPU data 0xC5 rotated right by `arg`, map mask = colour
                    (planes outside the colour keep their bits); byte-aligned rectangles */
};
struct m12_rect {
    unsigned x, y, w, h, color, kind, arg;
};
static const struct m12_rect m12_rects[] = {
    {0, 0, 640, 480, 1, M12_WM2, 0},       /* background */
    {13, 7, 301, 101, 4, M12_WM2, 0},
    {100, 50, 203, 300, 10, M12_WM0_SR, 0},
    {250, 200, 317, 211, 14, M12_WM3, 0},
    {5, 300, 630, 37, 9, M12_XOR, 0},
    {64, 400, 256, 64, 6, M12_ROTATE, 3},
    {400, 16, 120, 120, 0x0b, M12_ROTATE, 6},
    {601, 1, 39, 479, 15, M12_XOR, 0},
    {333, 333, 1, 1, 13, M12_WM0_SR, 0},
};
#define M12_NRECTS (sizeof m12_rects / sizeof m12_rects[0])
#define M12_ROTATE_DATA 0xc5
static inline unsigned m12_dac(unsigned i, unsigned k)
{
    return k == 0 ? (i * 4 + 3) & 63 : k == 1 ? (63 - i * 3) & 63 : (i * 21) & 63;
}

/* ---- scenes 2 and 3: 256 colours ---- */
#define M13_W 320
#define M13_H 200
static inline unsigned m13_pixel(unsigned x, unsigned y) { return (x + y * 2 + ((x * y) >> 5)) & 0xff; }
static inline unsigned unchained_pixel(unsigned x, unsigned y)
{
    return ((x >> 2) ^ (y * 5) ^ ((x & 3) * 64)) & 0xff;
}
/* Rows [0, COPY_ROWS) copied to [COPY_DST, COPY_DST + COPY_ROWS) by latches. */
#define UNCHAINED_COPY_ROWS 32
#define UNCHAINED_COPY_DST 150
static inline unsigned dac256(unsigned i, unsigned k)
{
    return k == 0 ? i & 63 : k == 1 ? (i * 3) & 63 : (255 - i) >> 2;
}

/* ---- scenes 4 and 5: VBE ---- */
#define VBE32_W 1024
#define VBE32_H 768
#define VBE32_BANKED_FROM 760 /* rows from here on go through the banked window */
static inline unsigned vbe32_pixel(unsigned x, unsigned y)
{
    return (x * 255 / 1023) << 16 | (y * 255 / 767) << 8 | ((x ^ y) & 0xff);
}
#define VBE16_W 640
#define VBE16_H 480
static inline unsigned vbe16_pixel(unsigned x, unsigned y) /* RGB565 */
{
    return ((x >> 4) & 31) << 11 | (((x + y) >> 3) & 63) << 5 | ((y >> 4) & 31);
}

/* ---- scene 6: CGA 4-colour ---- */
#define CGA_W 320
#define CGA_H 200
static inline unsigned cga_pixel(unsigned x, unsigned y) { return ((x >> 3) + (y >> 2) + ((x * y) >> 7)) & 3; }
/* Mode 4's attribute palette for colours 0-3 (palette 1, high intensity). */
static const unsigned char cga_ar[4] = {0x00, 0x13, 0x15, 0x17};
static inline unsigned cga_dac(unsigned i, unsigned k) { return (i * 5 + k * 17 + 9) & 63; }

#endif
