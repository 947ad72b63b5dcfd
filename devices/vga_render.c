/*
 * vga_render.c — turns the VGA's VRAM and registers into 32-bpp host pixels
 * through the display backend (devices/display.h).
 *
 * What is drawn follows the register path of a real card: the CRTC's start
 * address, offset, byte/word/dword addressing, maximum scan line, double
 * scan and line compare choose the bytes; text goes through the font in
 * plane 2 (character map select), the attribute controller (palette, colour
 * plane enable, blink, 9th-dot line graphics, P5/P4 and colour select) and
 * the DAC; graphics through the 16-colour planar, 256-colour (chained or
 * not) or VBE paths.  Sizes are native (320x200 for mode 13h); scaling is
 * the frontend's business.
 *
 * Design choice: "render only what changed" without write traps.  Each
 * frame compares the VRAM bytes a scan line (or a text row) was drawn from
 * with a snapshot taken when it was drawn; only lines whose bytes differ
 * are redrawn and reported.  A register, palette or font change redraws
 * everything.  A 1024x768x32 frame that did not change costs one 3 MiB
 * memcmp.
 */
#include <string.h>

#include "devices/vga.h"

#define MAX_LEGACY_W 2048u
#define MAX_LEGACY_H 2048u

static uint32_t dac_to_host(const struct vga *v, unsigned i)
{
    const uint8_t *c = &v->dac[i * 3];
    if (v->vbe_regs[VBE_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC)
        return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    uint32_t r = (c[0] & 0x3f) << 2 | (c[0] & 0x3f) >> 4;
    uint32_t g = (c[1] & 0x3f) << 2 | (c[1] & 0x3f) >> 4;
    uint32_t b = (c[2] & 0x3f) << 2 | (c[2] & 0x3f) >> 4;
    return r << 16 | g << 8 | b;
}

/* A 4-bit attribute colour through the attribute controller to the DAC. */
static uint32_t ar_color(const struct vga *v, unsigned idx)
{
    unsigned p = v->ar[idx & v->ar[0x12] & 0x0f];
    if (v->ar[0x10] & 0x80)
        p = (p & 0x0f) | ((v->ar[0x14] & 3u) << 4);
    p = (p & 0x3f) | ((v->ar[0x14] & 0x0cu) << 4);
    return v->palette[p & v->pel_mask];
}

static unsigned vdisp_lines(const struct vga *v)
{
    return (v->crtc[0x12] | (v->crtc[7] & 0x02u) << 7 | (v->crtc[7] & 0x40u) << 3) + 1;
}

static unsigned line_compare(const struct vga *v)
{
    return v->crtc[0x18] | (v->crtc[7] & 0x10u) << 4 | (v->crtc[9] & 0x40u) << 3;
}

static bool cga_addressing(const struct vga *v) { return (v->crtc[0x17] & 3) != 3; }

enum vga_render_kind vga_render_mode(const struct vga *v, unsigned *w, unsigned *h)
{
    if (v->vbe_regs[VBE_INDEX_ENABLE] & VBE_DISPI_ENABLED) {
        *w = v->vbe_regs[VBE_INDEX_XRES];
        *h = v->vbe_regs[VBE_INDEX_YRES];
        return VGA_KIND_VBE;
    }
    unsigned chars = v->crtc[1] + 1u, lines = vdisp_lines(v);
    enum vga_render_kind k;
    if (!(v->gc[6] & 1)) {
        unsigned cw = (v->seq[1] & 1) ? 8 : 9;
        *w = chars * cw;
        *h = lines;
        k = VGA_KIND_TEXT;
    } else {
        /* With CGA addressing each scan line of a character row shows other
         * bytes; otherwise the rows repeat and one counts once. */
        unsigned dbl = (v->crtc[9] & 0x80) ? 2 : 1;
        *h = cga_addressing(v) ? lines / dbl : lines / (((v->crtc[9] & 0x1fu) + 1) * dbl);
        if (v->gc[5] & 0x40) {
            *w = chars * 4;
            k = VGA_KIND_CHAIN256;
        } else {
            *w = chars * 8;
            k = (v->gc[5] & 0x20) ? VGA_KIND_CGA4 : VGA_KIND_PLANAR16;
        }
    }
    if (*w > MAX_LEGACY_W) *w = MAX_LEGACY_W;
    if (*h > MAX_LEGACY_H) *h = MAX_LEGACY_H;
    if (*h == 0) *h = 1;
    /* Palette address source clear or screen off: the display is blank. */
    if (!(v->ar_index & 0x20) || (v->seq[1] & 0x20)) return VGA_KIND_BLANK;
    return k;
}

/* CRTC memory address of character clock `counter` (byte/word/dword mode). */
static uint32_t crtc_addr(const struct vga *v, uint32_t counter)
{
    if (v->crtc[0x14] & 0x40) return (counter << 2) & VGA_PLANE_MASK;
    if (v->crtc[0x17] & 0x40) return counter & VGA_PLANE_MASK;
    return (counter << 1) & VGA_PLANE_MASK;
}

/* Is the span of VRAM [lo, hi) unchanged since it was drawn? */
static bool span_clean(const struct vga *v, uint32_t lo, uint32_t hi)
{
    return hi > lo && hi <= v->vram_size && !memcmp(v->vram + lo, v->snap + lo, hi - lo);
}

static void span_snap(struct vga *v, uint32_t lo, uint32_t hi)
{
    if (hi > lo && hi <= v->vram_size) memcpy(v->snap + lo, v->vram + lo, hi - lo);
}

/* Report the runs of dirty rows as rectangles. */
static void report_rows(struct vga *v, const uint8_t *dirty, unsigned h, unsigned w)
{
    for (unsigned y = 0; y < h;) {
        if (!dirty[y]) {
            y++;
            continue;
        }
        unsigned y0 = y;
        while (y < h && dirty[y]) y++;
        if (v->disp.update) v->disp.update(v->disp.opaque, 0, y0, w, y - y0);
    }
}

static void render_text(struct vga *v, bool full, unsigned w, unsigned h)
{
    unsigned cw = (v->seq[1] & 1) ? 8 : 9;
    unsigned ch = (v->crtc[9] & 0x1fu) + 1;
    /* Preset row scan: the screen starts that many scan lines into row 0. */
    unsigned preset = v->crtc[8] & 0x1f;
    unsigned cols = v->crtc[1] + 1u, rows = (h + preset + ch - 1) / ch;
    if (cols * cw > w) cols = w / cw; /* the size was clamped */
    uint32_t start = (uint32_t)v->crtc[0x0c] << 8 | v->crtc[0x0d];
    uint32_t pitch = v->crtc[0x13] * 2u;
    uint32_t cursor = (uint32_t)v->crtc[0x0e] << 8 | v->crtc[0x0f];
    unsigned cur_start = v->crtc[0x0a] & 0x1f, cur_end = v->crtc[0x0b] & 0x1f;
    /* Cursor: 16 frames on, 16 off; blinking characters half as fast. */
    bool cursor_on = !(v->crtc[0x0a] & 0x20) && ((v->frames >> 4) & 1) == 0;
    bool blink_on = ((v->frames >> 5) & 1) == 0;
    bool blink = v->ar[0x10] & 0x08;
    if (cursor != v->last_cursor || cursor_on != v->last_cursor_on ||
        (blink && blink_on != v->last_blink_on) || v->font_written)
        full = true;
    v->last_cursor = (uint16_t)cursor;
    v->last_cursor_on = cursor_on;
    v->last_blink_on = blink_on;
    v->font_written = false;

    uint8_t s3 = v->seq[3];
    unsigned map_a = ((s3 >> 5) & 1u) << 2 | ((s3 >> 2) & 3u);
    unsigned map_b = ((s3 >> 4) & 1u) << 2 | (s3 & 3u);
    uint32_t font_a = ((map_a & 3) * 2 + (map_a >> 2)) * 8192u;
    uint32_t font_b = ((map_b & 3) * 2 + (map_b >> 2)) * 8192u;
    bool line_gfx = v->ar[0x10] & 0x04;

    uint8_t dirty[MAX_LEGACY_H] = {0};
    for (unsigned r = 0; r < rows; r++) {
        uint32_t c0 = start + r * pitch;
        uint32_t lo = crtc_addr(v, c0) * 4, hi = crtc_addr(v, c0 + cols - 1) * 4 + 4;
        if (!full && span_clean(v, lo, hi)) continue;
        for (unsigned c = 0; c < cols; c++) {
            uint32_t a = crtc_addr(v, c0 + c) * 4;
            unsigned chr = v->vram[a], at = v->vram[a + 1];
            unsigned fg = at & 0x0f, bg = at >> 4;
            if (blink) {
                if ((bg & 8) && !blink_on) fg = bg & 7;
                bg &= 7;
            }
            uint32_t fgc = ar_color(v, fg), bgc = ar_color(v, bg);
            uint32_t font = (at & 0x08) ? font_a : font_b;
            bool is_cursor = cursor_on && c0 + c == cursor;
            for (unsigned l = 0; l < ch; l++) {
                if (r * ch + l < preset) continue;
                unsigned y = r * ch + l - preset;
                if (y >= h) break;
                unsigned bits = v->vram[((font + chr * 32 + l) & VGA_PLANE_MASK) * 4 + 2];
                if (is_cursor && cur_start <= cur_end && l >= cur_start && l <= cur_end)
                    bits = 0xff;
                uint32_t *px = v->surface + (size_t)y * v->surf_stride + c * cw;
                for (unsigned x = 0; x < 8; x++) px[x] = (bits & (0x80u >> x)) ? fgc : bgc;
                if (cw == 9) {
                    bool ninth = (bits & 1) && (is_cursor || (line_gfx && chr >= 0xc0 && chr <= 0xdf));
                    px[8] = ninth ? fgc : bgc;
                }
                dirty[y] = 1;
            }
        }
        span_snap(v, lo, hi);
    }
    report_rows(v, dirty, h, w);
}

/* The address of character clock `counter` on row scan line `rs`: CR17
 * bits 0/1 clear put row scan bits 0/1 on address bits 13/14. */
static uint32_t row_addr(const struct vga *v, uint32_t counter, unsigned rs)
{
    uint32_t a = crtc_addr(v, counter);
    if (!(v->crtc[0x17] & 1)) a = (a & ~0x2000u) | (rs & 1u) << 13;
    if (!(v->crtc[0x17] & 2)) a = (a & ~0x4000u) | (rs >> 1 & 1u) << 14;
    return a;
}

/* One graphics output row of the legacy modes from the bytes at character
 * clocks [c0, c0 + chars) on row scan line rs. */
static void draw_planar_row(struct vga *v, uint32_t *px, uint32_t c0, unsigned rs, unsigned chars,
                            enum vga_render_kind k)
{
    for (unsigned c = 0; c < chars; c++) {
        const uint8_t *p = &v->vram[row_addr(v, c0 + c, rs) * 4];
        if (k == VGA_KIND_CHAIN256) {
            for (unsigned i = 0; i < 4; i++) *px++ = v->palette[p[i] & v->pel_mask];
            continue;
        }
        if (k == VGA_KIND_CGA4) { /* 2 bits per pixel: plane 0's byte, then plane 1's */
            for (unsigned x = 0; x < 8; x++) {
                unsigned b = x < 4 ? 0 : 1, sh = 6 - 2 * (x & 3);
                *px++ = ar_color(v, ((p[b] >> sh) & 3) | ((p[b + 2] >> sh) & 3) << 2);
            }
            continue;
        }
        for (unsigned x = 0; x < 8; x++) {
            unsigned bit = 7 - x;
            unsigned idx = ((p[0] >> bit) & 1) | ((p[1] >> bit) & 1) << 1 |
                           ((p[2] >> bit) & 1) << 2 | ((p[3] >> bit) & 1) << 3;
            *px++ = ar_color(v, idx);
        }
    }
}

static void render_graphics(struct vga *v, bool full, unsigned w, unsigned h,
                            enum vga_render_kind kind)
{
    bool c256 = kind == VGA_KIND_CHAIN256;
    bool cga = cga_addressing(v);
    unsigned rows_per_char = (v->crtc[9] & 0x1fu) + 1;
    /* Horizontal pel panning: the picture starts `pan` pixels into the
     * first character clock (256-colour pixels are two dots wide). */
    unsigned pan = c256 ? (v->ar[0x13] & 7u) >> 1 : v->ar[0x13] & 7u;
    uint32_t row[MAX_LEGACY_W + 8];
    unsigned chars = v->crtc[1] + 1u;
    if (chars * (c256 ? 4 : 8) > w) chars = w / (c256 ? 4 : 8); /* the size was clamped */
    unsigned dbl = (v->crtc[9] & 0x80) ? 2 : 1;
    unsigned scan = cga ? dbl : rows_per_char * dbl; /* display lines per output row */
    uint32_t start = (uint32_t)v->crtc[0x0c] << 8 | v->crtc[0x0d];
    uint32_t pitch = v->crtc[0x13] * 2u;
    unsigned lc = line_compare(v);
    uint8_t dirty[MAX_LEGACY_H] = {0};
    uint32_t span_lo[MAX_LEGACY_H], span_hi[MAX_LEGACY_H];
    unsigned split_row = 0;
    bool split = false;
    for (unsigned y = 0; y < h; y++) {
        /* Line compare: the scan line after it restarts at address 0. */
        if (!split && y * scan > lc) {
            split = true;
            split_row = y;
        }
        unsigned yy = split ? y - split_row : y;
        unsigned crow = cga ? yy / rows_per_char : yy, rs = cga ? yy % rows_per_char : 0;
        uint32_t c0 = (split ? 0 : start) + crow * pitch;
        /* The lower part of a split screen may ignore panning (AR10 bit 5). */
        unsigned p = split && (v->ar[0x10] & 0x20) ? 0 : pan;
        span_lo[y] = row_addr(v, c0, rs) * 4;
        span_hi[y] = row_addr(v, c0 + chars - (p ? 0 : 1), rs) * 4 + 4;
        dirty[y] = full || !span_clean(v, span_lo[y], span_hi[y]);
        if (!dirty[y]) continue;
        uint32_t *dst = v->surface + (size_t)y * v->surf_stride;
        if (!p) {
            draw_planar_row(v, dst, c0, rs, chars, kind);
        } else {
            draw_planar_row(v, row, c0, rs, chars + 1, kind);
            memcpy(dst, row + p, (size_t)chars * (c256 ? 4 : 8) * 4);
        }
    }
    for (unsigned y = 0; y < h; y++)
        if (dirty[y]) span_snap(v, span_lo[y], span_hi[y]);
    report_rows(v, dirty, h, w);
}

static void render_vbe(struct vga *v, bool full, unsigned w, unsigned h)
{
    unsigned bpp = v->vbe_regs[VBE_INDEX_BPP], bytes = (bpp + 7) / 8;
    uint32_t line = v->vbe_line_offset;
    /* 4 bpp: w/8 bytes per plane, interleaved: w/2 bytes of VRAM. */
    uint64_t row_bytes = bpp == 4 ? w / 2 : (uint64_t)w * bytes;
    uint8_t dirty[VBE_DISPI_MAX_YRES];
    memset(dirty, 0, h);
    for (unsigned y = 0; y < h; y++) {
        uint64_t lo = v->vbe_start + (uint64_t)y * line, hi = lo + row_bytes;
        uint32_t *px = v->surface + (size_t)y * v->surf_stride;
        if (hi > v->vram_size) { /* past the end of VRAM: nothing to scan out */
            if (full) memset(px, 0, w * 4u), dirty[y] = 1;
            continue;
        }
        if (!full && span_clean(v, (uint32_t)lo, (uint32_t)hi)) continue;
        dirty[y] = 1;
        const uint8_t *s = v->vram + lo;
        switch (bpp) {
        case 4: /* planar, through the attribute controller like mode 12h */
            for (unsigned x = 0; x < w; x++) {
                const uint8_t *p = s + (x / 8) * 4;
                unsigned bit = 7 - (x & 7);
                px[x] = ar_color(v, ((p[0] >> bit) & 1) | ((p[1] >> bit) & 1) << 1 |
                                        ((p[2] >> bit) & 1) << 2 | ((p[3] >> bit) & 1) << 3);
            }
            break;
        case 8:
            for (unsigned x = 0; x < w; x++) px[x] = v->palette[s[x]];
            break;
        case 15:
        case 16:
            for (unsigned x = 0; x < w; x++) {
                unsigned c = s[2 * x] | s[2 * x + 1] << 8, r, g, b;
                if (bpp == 15) {
                    r = (c >> 10) & 0x1f, g = (c >> 5) & 0x1f, b = c & 0x1f;
                    g = g << 3 | g >> 2;
                } else {
                    r = c >> 11, g = (c >> 5) & 0x3f, b = c & 0x1f;
                    g = g << 2 | g >> 4;
                }
                px[x] = (r << 3 | r >> 2) << 16 | g << 8 | (b << 3 | b >> 2);
            }
            break;
        case 24:
            for (unsigned x = 0; x < w; x++)
                px[x] = (uint32_t)s[3 * x + 2] << 16 | (uint32_t)s[3 * x + 1] << 8 | s[3 * x];
            break;
        default:
            for (unsigned x = 0; x < w; x++) {
                uint32_t c;
                memcpy(&c, s + 4 * x, 4);
                px[x] = c & 0xffffff;
            }
            break;
        }
    }
    for (unsigned y = 0; y < h; y++) {
        uint64_t lo = v->vbe_start + (uint64_t)y * line;
        if (dirty[y]) span_snap(v, (uint32_t)lo, (uint32_t)(lo + row_bytes));
    }
    report_rows(v, dirty, h, w);
}

void vga_render(struct vga *v, bool full)
{
    unsigned w, h;
    enum vga_render_kind k = vga_render_mode(v, &w, &h);
    if (!v->surface || w != v->surf_w || h != v->surf_h) {
        if (!v->disp.resize) return;
        unsigned stride = w;
        v->surface = v->disp.resize(v->disp.opaque, w, h, &stride);
        if (!v->surface) {
            v->surf_w = v->surf_h = 0;
            return;
        }
        v->surf_w = w, v->surf_h = h, v->surf_stride = stride;
        full = true;
    }
    if (k != v->last_kind || v->full_redraw) full = true;
    v->last_kind = k;
    if (full) {
        for (unsigned i = 0; i < 256; i++) v->palette[i] = dac_to_host(v, i);
        v->full_redraw = false;
    }
    switch (k) {
    case VGA_KIND_TEXT: render_text(v, full, w, h); break;
    case VGA_KIND_PLANAR16:
    case VGA_KIND_CGA4:
    case VGA_KIND_CHAIN256: render_graphics(v, full, w, h, k); break;
    case VGA_KIND_VBE: render_vbe(v, full, w, h); break;
    default:
        if (full) {
            for (unsigned y = 0; y < h; y++)
                memset(v->surface + (size_t)y * v->surf_stride, 0, w * 4u);
            if (v->disp.update) v->disp.update(v->disp.opaque, 0, 0, w, h);
        }
        break;
    }
}
