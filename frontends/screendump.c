/*
 * screendump.c — the headless display surface and PNG screendumps (libpng).
 *
 * The PNG is 8-bit RGB without alpha or gamma chunks, so any decoder gives
 * back exactly the guest's pixels; the tests compare them one by one.
 */
#include "frontends/screendump.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t *fb_surface_resize(struct fb_surface *s, unsigned w, unsigned h)
{
    uint32_t *p = realloc(s->pixels, (size_t)w * h * sizeof *p);
    if (!p) return NULL;
    s->pixels = p;
    s->w = w;
    s->h = h;
    return p;
}

void fb_surface_free(struct fb_surface *s)
{
    free(s->pixels);
    s->pixels = NULL;
    s->w = s->h = 0;
}

static uint32_t *headless_resize(void *opaque, unsigned w, unsigned h, unsigned *stride)
{
    *stride = w;
    return fb_surface_resize(opaque, w, h);
}

struct display_backend headless_display(struct fb_surface *s)
{
    return (struct display_backend){.opaque = s, .resize = headless_resize};
}

int screendump_write_png(const char *path, const struct fb_surface *s, char *err, size_t errlen)
{
    if (!s->pixels || !s->w || !s->h) {
        snprintf(err, errlen, "screendump %s: nothing on the screen yet", path);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "screendump %s: %s", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *row = malloc((size_t)s->w * 3);
    if (!png || !info || !row) {
        png_destroy_write_struct(&png, &info);
        free(row);
        fclose(f);
        snprintf(err, errlen, "screendump %s: out of memory", path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(row);
        fclose(f);
        snprintf(err, errlen, "screendump %s: libpng failed to write", path);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, s->w, s->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 1); /* speed over size: tests write several */
    png_write_info(png, info);
    for (unsigned y = 0; y < s->h; y++) {
        const uint32_t *px = s->pixels + (size_t)y * s->w;
        for (unsigned x = 0; x < s->w; x++) {
            row[3 * x] = (uint8_t)(px[x] >> 16);
            row[3 * x + 1] = (uint8_t)(px[x] >> 8);
            row[3 * x + 2] = (uint8_t)px[x];
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fclose(f)) {
        snprintf(err, errlen, "screendump %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int screendump_pattern_ok(const char *pattern)
{
    const char *p = strchr(pattern, '%');
    if (!p) return 1;
    return p[1] == 'd' && !strchr(p + 2, '%');
}

void screendump_path(char *out, size_t outlen, const char *pattern, unsigned value)
{
    const char *p = strstr(pattern, "%d");
    if (!p) {
        snprintf(out, outlen, "%s", pattern);
        return;
    }
    snprintf(out, outlen, "%.*s%u%s", (int)(p - pattern), pattern, value, p + 2);
}
