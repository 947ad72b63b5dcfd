/*
 * vga_ref.c — the reference pictures of the VGA guest's scenes, computed on
 * the host from vga_scene.h (the guest's own description of what it drew)
 * and the VGA's documented pixel path: attribute byte -> font in the
 * selected character map -> attribute palette register -> DAC (6-bit
 * components shown as 8 bits by replicating the top bits); 4-bit planar
 * colours and 8-bit indexes -> DAC; VBE pixels as stored.
 *
 *   vga_ref SCENE GOT.png [REF_OUT.png]
 *
 * compares a screendump with scene SCENE pixel by pixel (exit 0 = equal,
 * 1 = different, 2 = error) and optionally writes the reference picture.
 *
 *   vga_ref --xwd SCENE SCALE ROOT.xwd
 *
 * looks for the scene, each pixel shown as a SCALE x SCALE block, anywhere
 * in an X screenshot (xwd -root) of the Umbra window.
 *
 *   vga_ref --find-text VGABIOS.bin SHOT.png TEXT
 *
 * looks for TEXT as an 80x25 text screen shows it (9x16 cells, light grey
 * on black, the 8x16 font of that VGA BIOS image) in a screendump: the
 * check for a real OS's text console (the Linux boot test).
 *
 *   vga_ref --find-text VGABIOS.bin SHOT.{png,xwd} TEXT SCALE
 *
 * the same at any pixel offset, each font pixel a SCALE x SCALE block, in a
 * PNG or an X screenshot (xwd -root): the text inside the Umbra window.
 *
 *   vga_ref --xwd-to-png ROOT.xwd OUT.png
 *
 * converts an X screenshot to PNG (kept by the window tests as evidence).
 */
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vga_scene.h"

static unsigned c6(unsigned v) { return ((v & 63) << 2) | ((v & 63) >> 4); }

static uint32_t rgb6(unsigned r, unsigned g, unsigned b) { return c6(r) << 16 | c6(g) << 8 | c6(b); }

static uint32_t *draw_text(unsigned *w, unsigned *h)
{
    *w = TEXT_COLS * TEXT_CELL_W, *h = TEXT_ROWS * TEXT_CHAR_H;
    uint32_t *px = calloc((size_t)*w * *h, 4);
    for (unsigned r = 0; r < TEXT_ROWS; r++)
        for (unsigned c = 0; c < TEXT_COLS; c++) {
            unsigned ch = text_char(r, c), at = text_attr(r, c);
            unsigned map = (at & 8) ? TEXT_MAP_A : TEXT_MAP_B;
            unsigned fi = text_ar(at & 15), bi = text_ar(at >> 4);
            uint32_t fg = rgb6(text_dac(fi, 0), text_dac(fi, 1), text_dac(fi, 2));
            uint32_t bg = rgb6(text_dac(bi, 0), text_dac(bi, 1), text_dac(bi, 2));
            for (unsigned l = 0; l < TEXT_CHAR_H; l++) {
                unsigned bits = font_row(map, ch, l);
                uint32_t *row = px + (size_t)(r * TEXT_CHAR_H + l) * *w + c * TEXT_CELL_W;
                for (unsigned x = 0; x < 8; x++) row[x] = (bits & (0x80u >> x)) ? fg : bg;
                /* The 9th dot repeats the 8th for the line-drawing characters. */
                row[8] = (ch >= 0xc0 && ch <= 0xdf && (bits & 1)) ? fg : bg;
            }
        }
    return px;
}

static uint32_t *draw_m12(unsigned *w, unsigned *h)
{
    *w = M12_W, *h = M12_H;
    static uint8_t idx[M12_W * M12_H];
    memset(idx, 0, sizeof idx);
    for (unsigned k = 0; k < M12_NRECTS; k++) {
        const struct m12_rect *r = &m12_rects[k];
        unsigned rot = r->arg & 7;
        unsigned data = ((M12_ROTATE_DATA >> rot) | (M12_ROTATE_DATA << (8 - rot))) & 0xff;
        for (unsigned y = r->y; y < r->y + r->h; y++)
            for (unsigned x = r->x; x < r->x + r->w; x++) {
                uint8_t *p = &idx[y * M12_W + x];
                switch (r->kind) {
                case M12_XOR: *p ^= (uint8_t)r->color; break;
                case M12_ROTATE: {
                    unsigned bit = (data >> (7 - (x & 7))) & 1;
                    *p = (uint8_t)((*p & ~r->color) | (bit ? r->color : 0));
                    break;
                }
                default: *p = (uint8_t)r->color; break;
                }
            }
    }
    uint32_t *px = malloc((size_t)*w * *h * 4);
    for (unsigned i = 0; i < M12_W * M12_H; i++) {
        unsigned c = idx[i] & 15;
        px[i] = rgb6(m12_dac(c, 0), m12_dac(c, 1), m12_dac(c, 2));
    }
    return px;
}

static uint32_t *draw_256(unsigned *w, unsigned *h, int unchained)
{
    *w = M13_W, *h = M13_H;
    uint32_t *px = malloc((size_t)*w * *h * 4);
    for (unsigned y = 0; y < M13_H; y++)
        for (unsigned x = 0; x < M13_W; x++) {
            unsigned i;
            if (!unchained)
                i = m13_pixel(x, y);
            else if (y >= UNCHAINED_COPY_DST && y < UNCHAINED_COPY_DST + UNCHAINED_COPY_ROWS)
                i = unchained_pixel(x, y - UNCHAINED_COPY_DST);
            else
                i = unchained_pixel(x, y);
            px[y * M13_W + x] = rgb6(dac256(i, 0), dac256(i, 1), dac256(i, 2));
        }
    return px;
}

static uint32_t *draw_cga4(unsigned *w, unsigned *h)
{
    *w = CGA_W, *h = CGA_H;
    uint32_t *px = malloc((size_t)*w * *h * 4);
    for (unsigned y = 0; y < CGA_H; y++)
        for (unsigned x = 0; x < CGA_W; x++) {
            unsigned d = cga_ar[cga_pixel(x, y)];
            px[y * CGA_W + x] = rgb6(cga_dac(d, 0), cga_dac(d, 1), cga_dac(d, 2));
        }
    return px;
}

static uint32_t *draw_vbe(unsigned *w, unsigned *h, int bpp16)
{
    *w = bpp16 ? VBE16_W : VBE32_W, *h = bpp16 ? VBE16_H : VBE32_H;
    uint32_t *px = malloc((size_t)*w * *h * 4);
    for (unsigned y = 0; y < *h; y++)
        for (unsigned x = 0; x < *w; x++) {
            uint32_t v;
            if (bpp16) {
                unsigned c = vbe16_pixel(x, y), r = c >> 11, g = (c >> 5) & 63, b = c & 31;
                v = (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
            } else {
                v = vbe32_pixel(x, y) & 0xffffff;
            }
            px[y * *w + x] = v;
        }
    return px;
}

static uint32_t *draw_scene(int scene, unsigned *w, unsigned *h)
{
    switch (scene) {
    case SCENE_TEXT: return draw_text(w, h);
    case SCENE_M12: return draw_m12(w, h);
    case SCENE_M13: return draw_256(w, h, 0);
    case SCENE_UNCHAINED: return draw_256(w, h, 1);
    case SCENE_VBE32: return draw_vbe(w, h, 0);
    case SCENE_VBE16: return draw_vbe(w, h, 1);
    case SCENE_CGA4: return draw_cga4(w, h);
    default: return NULL;
    }
}

static const uint8_t *find_font(const uint8_t *rom, size_t len)
{
    static const uint8_t A[16] = {0x00, 0x00, 0x10, 0x38, 0x6c, 0xc6, 0xc6, 0xfe,
                                  0xc6, 0xc6, 0xc6, 0xc6, 0x00, 0x00, 0x00, 0x00};
    for (size_t off = 0x41 * 16; off + 16 + 0xbf * 16 <= len; off++)
        if (!memcmp(rom + off, A, 16)) return rom + off - 0x41 * 16;
    return NULL;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* XWD (X Window Dump, version 7), ZPixmap with 24 or 32 bits per pixel, as
 * 0x00RRGGBB pixels; NULL (with a message) when it is not one. */
static uint32_t *load_xwd(const char *path, unsigned *w, unsigned *h)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vga_ref: cannot open %s\n", path);
        return NULL;
    }
    static uint8_t hdr[100];
    size_t got = fread(hdr, 1, 100, f);
    uint32_t hsize = be32(hdr), sw = be32(hdr + 16), sh = be32(hdr + 20), order = be32(hdr + 28);
    uint32_t bpl = be32(hdr + 48), ncolors = be32(hdr + 76);
    /* Depth 24 comes as 24 (packed) or 32 bits per pixel. */
    uint32_t step = be32(hdr + 44) / 8;
    uint32_t rmask = be32(hdr + 56), gmask = be32(hdr + 60), bmask = be32(hdr + 64);
    if (got != 100 || be32(hdr + 4) != 7 || be32(hdr + 8) != 2 || (step != 3 && step != 4) ||
        !rmask || !gmask || !bmask || sw == 0 || sh == 0 || sw > 65536 || sh > 65536) {
        fprintf(stderr, "vga_ref: %s: not a 24/32-bpp ZPixmap XWD v7\n", path);
        fclose(f);
        return NULL;
    }
    uint8_t *data = NULL;
    if (fseek(f, (long)hsize + 12L * ncolors, SEEK_SET) ||
        !(data = malloc((size_t)bpl * sh)) || fread(data, 1, (size_t)bpl * sh, f) != (size_t)bpl * sh) {
        fprintf(stderr, "vga_ref: %s: short file\n", path);
        fclose(f);
        free(data);
        return NULL;
    }
    fclose(f);
    uint32_t *root = malloc((size_t)sw * sh * 4);
    for (uint32_t y = 0; root && y < sh; y++)
        for (uint32_t x = 0; x < sw; x++) {
            const uint8_t *p = data + (size_t)y * bpl + step * x;
            uint32_t v = step == 4 ? (order ? be32(p) : (uint32_t)p[3] << 24 | p[2] << 16 | p[1] << 8 | p[0])
                                   : (order ? (uint32_t)p[0] << 16 | p[1] << 8 | p[2]
                                            : (uint32_t)p[2] << 16 | p[1] << 8 | p[0]);
            unsigned r = (v & rmask) >> __builtin_ctz(rmask), g = (v & gmask) >> __builtin_ctz(gmask),
                     b = (v & bmask) >> __builtin_ctz(bmask);
            root[(size_t)y * sw + x] = (uint32_t)r << 16 | g << 8 | b;
        }
    free(data);
    *w = sw, *h = sh;
    return root;
}

static uint32_t *load_png(const char *path, unsigned *w, unsigned *h)
{
    png_image in = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_file(&in, path)) {
        fprintf(stderr, "vga_ref: %s: %s\n", path, in.message);
        return NULL;
    }
    in.format = PNG_FORMAT_RGB;
    uint8_t *got = malloc(PNG_IMAGE_SIZE(in));
    uint32_t *px = malloc((size_t)in.width * in.height * 4);
    if (!got || !px || !png_image_finish_read(&in, NULL, got, 0, NULL)) {
        fprintf(stderr, "vga_ref: %s: %s\n", path, in.message);
        free(got);
        free(px);
        return NULL;
    }
    for (size_t i = 0; i < (size_t)in.width * in.height; i++)
        px[i] = (uint32_t)got[3 * i] << 16 | got[3 * i + 1] << 8 | got[3 * i + 2];
    free(got);
    *w = in.width, *h = in.height;
    return px;
}

/* A PNG, or an XWD when the name ends in .xwd. */
static uint32_t *load_image(const char *path, unsigned *w, unsigned *h)
{
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".xwd")) return load_xwd(path, w, h);
    return load_png(path, w, h);
}

/* Does TEXT appear with its top-left corner at (ox, oy), scaled? */
static int text_at(const uint32_t *px, unsigned W, const uint8_t *font, const char *text, unsigned n,
                   unsigned ox, unsigned oy, unsigned scale)
{
    for (unsigned k = 0; k < n; k++)
        for (unsigned l = 0; l < 16 * scale; l++) {
            unsigned bits = font[(uint8_t)text[k] * 16 + l / scale];
            const uint32_t *row = px + (size_t)(oy + l) * W + ox + k * 9 * scale;
            for (unsigned x = 0; x < 9 * scale; x++) {
                unsigned fx = x / scale;
                uint32_t want = fx < 8 && (bits & (0x80u >> fx)) ? 0xaaaaaa : 0x000000;
                if (row[x] != want) return 0;
            }
        }
    return 1;
}

/* scale 0: a screendump, cells on the 9x16 grid; otherwise any offset. */
static int find_text(const char *rom_path, const char *image, const char *text, unsigned scale)
{
    static uint8_t rom[1 << 20];
    FILE *f = fopen(rom_path, "rb");
    if (!f) {
        fprintf(stderr, "vga_ref: cannot open %s\n", rom_path);
        return 2;
    }
    size_t len = fread(rom, 1, sizeof rom, f);
    fclose(f);
    const uint8_t *font = find_font(rom, len);
    if (!font) {
        fprintf(stderr, "vga_ref: no font in %s\n", rom_path);
        return 2;
    }
    unsigned W, H;
    uint32_t *px = load_image(image, &W, &H);
    if (!px) return 2;
    unsigned n = (unsigned)strlen(text), s = scale ? scale : 1, step = scale ? 1 : 9;
    unsigned cw = 9 * s, ch = 16 * s;
    /* The first lit pixel of the text, tried first at each offset. */
    unsigned lx = 0, ly = 0, lit = 0;
    for (unsigned k = 0; k < n && !lit; k++)
        for (unsigned l = 0; l < 16 && !lit; l++)
            for (unsigned x = 0; x < 8 && !lit; x++)
                if (font[(uint8_t)text[k] * 16 + l] & (0x80u >> x))
                    lit = 1, lx = (k * 9 + x) * s, ly = l * s;
    for (unsigned oy = 0; oy + ch <= H; oy += scale ? 1 : 16)
        for (unsigned ox = 0; ox + n * cw <= W; ox += step)
            if ((px[(size_t)(oy + ly) * W + ox + lx] == 0xaaaaaa || !lit) &&
                text_at(px, W, font, text, n, ox, oy, s)) {
                if (scale)
                    printf("vga_ref: \"%s\" found at (%u,%u) of the %ux%u image, %ux scale\n", text,
                           ox, oy, W, H, scale);
                else
                    printf("vga_ref: \"%s\" found at row %u, column %u\n", text, oy / 16, ox / 9);
                free(px);
                return 0;
            }
    fprintf(stderr, "vga_ref: \"%s\" not on the %ux%u screen\n", text, W, H);
    free(px);
    return 1;
}

static int xwd_to_png(const char *xwd, const char *out_path)
{
    unsigned w, h;
    uint32_t *px = load_xwd(xwd, &w, &h);
    if (!px) return 2;
    for (size_t i = 0; i < (size_t)w * h; i++) px[i] |= 0xff000000u;
    png_image out = {.version = PNG_IMAGE_VERSION, .width = w, .height = h,
                     .format = PNG_FORMAT_BGRA};
    int ok = png_image_write_to_file(&out, out_path, 0, px, 0, NULL);
    if (!ok) fprintf(stderr, "vga_ref: cannot write %s: %s\n", out_path, out.message);
    free(px);
    return ok ? 0 : 2;
}

/* Looks for a scene in an X screenshot of the Umbra window. */
static int check_xwd(int scene, unsigned scale, const char *path)
{
    unsigned w, h, sw, sh;
    uint32_t *ref = draw_scene(scene, &w, &h);
    if (!ref || scale == 0) {
        fprintf(stderr, "vga_ref: no scene %d\n", scene);
        return 2;
    }
    uint32_t *root = load_xwd(path, &sw, &sh);
    if (!root) {
        free(ref);
        return 2;
    }
    unsigned W = w * scale, H = h * scale;
    for (uint32_t oy = 0; oy + H <= sh; oy++)
        for (uint32_t ox = 0; ox + W <= sw; ox++) {
            if (root[(size_t)oy * sw + ox] != ref[0]) continue;
            unsigned long bad = 0;
            for (unsigned y = 0; y < H && bad == 0; y++)
                for (unsigned x = 0; x < W; x++)
                    if (root[(size_t)(oy + y) * sw + ox + x] != ref[(y / scale) * w + x / scale]) {
                        bad++;
                        break;
                    }
            if (!bad) {
                free(root);
                free(ref);
                printf("vga_ref: scene %d found at (%u,%u) of the %ux%u X screen, %ux scale, all "
                       "pixels equal\n", scene, ox, oy, sw, sh, scale);
                return 0;
            }
        }
    fprintf(stderr, "vga_ref: scene %d (%ux%u at %ux) not found on the %ux%u X screen\n", scene, w,
            h, scale, sw, sh);
    free(root);
    free(ref);
    return 1;
}

int main(int argc, char **argv)
{
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "--find-text")) {
        int scale = argc == 6 ? atoi(argv[5]) : 0;
        if (argc == 6 && scale <= 0) {
            fprintf(stderr, "vga_ref: bad scale '%s'\n", argv[5]);
            return 2;
        }
        return find_text(argv[2], argv[3], argv[4], (unsigned)scale);
    }
    if (argc == 4 && !strcmp(argv[1], "--xwd-to-png")) return xwd_to_png(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "--xwd"))
        return check_xwd(atoi(argv[2]), (unsigned)atoi(argv[3]), argv[4]);
    if (argc < 3) {
        fprintf(stderr, "usage: vga_ref SCENE GOT.png [REF_OUT.png]\n");
        return 2;
    }
    int scene = atoi(argv[1]);
    unsigned w, h;
    uint32_t *ref = draw_scene(scene, &w, &h);
    if (!ref) {
        fprintf(stderr, "vga_ref: no scene %d\n", scene);
        return 2;
    }
    if (argc > 3) {
        png_image out = {.version = PNG_IMAGE_VERSION, .width = w, .height = h,
                         .format = PNG_FORMAT_BGRA};
        /* Little-endian 0x00RRGGBB is B, G, R, 0 in memory: make alpha opaque. */
        for (size_t i = 0; i < (size_t)w * h; i++) ref[i] |= 0xff000000u;
        if (!png_image_write_to_file(&out, argv[3], 0, ref, 0, NULL))
            fprintf(stderr, "vga_ref: cannot write %s: %s\n", argv[3], out.message);
        for (size_t i = 0; i < (size_t)w * h; i++) ref[i] &= 0xffffffu;
    }
    png_image in = {.version = PNG_IMAGE_VERSION};
    if (!png_image_begin_read_from_file(&in, argv[2])) {
        fprintf(stderr, "vga_ref: %s: %s\n", argv[2], in.message);
        return 2;
    }
    in.format = PNG_FORMAT_RGB;
    uint8_t *got = malloc(PNG_IMAGE_SIZE(in));
    if (!got || !png_image_finish_read(&in, NULL, got, 0, NULL)) {
        fprintf(stderr, "vga_ref: %s: %s\n", argv[2], in.message);
        return 2;
    }
    if (in.width != w || in.height != h) {
        fprintf(stderr, "vga_ref: scene %d: screendump is %ux%u, expected %ux%u\n", scene,
                in.width, in.height, w, h);
        free(got);
        free(ref);
        return 1;
    }
    unsigned long bad = 0;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++) {
            const uint8_t *g = got + ((size_t)y * w + x) * 3;
            uint32_t gv = (uint32_t)g[0] << 16 | (uint32_t)g[1] << 8 | g[2];
            uint32_t rv = ref[(size_t)y * w + x];
            if (gv != rv && bad++ < 8)
                fprintf(stderr, "vga_ref: scene %d: pixel (%u,%u) is %06x, expected %06x\n", scene,
                        x, y, gv, rv);
        }
    free(got);
    free(ref);
    if (bad) {
        fprintf(stderr, "vga_ref: scene %d: %lu of %u pixels differ\n", scene, bad, w * h);
        return 1;
    }
    printf("vga_ref: scene %d: %ux%u, all pixels equal the reference\n", scene, w, h);
    return 0;
}
