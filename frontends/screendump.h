/*
 * screendump.h — host surfaces for the display backend and PNG
 * screendumps of them.
 *
 * struct fb_surface is the pixel buffer a frontend hands the VGA
 * (devices/display.h); the headless display is just that buffer, and the
 * SDL window keeps one too, so a screendump reads the same pixels whatever
 * the display.
 */
#ifndef UMBRA_FRONTENDS_SCREENDUMP_H
#define UMBRA_FRONTENDS_SCREENDUMP_H

#include <stddef.h>
#include <stdint.h>

#include "devices/display.h"

struct fb_surface {
    uint32_t *pixels; /* 0x00RRGGBB, stride == w */
    unsigned w, h;
};

/* Resize (contents undefined afterwards); NULL on allocation failure. */
uint32_t *fb_surface_resize(struct fb_surface *s, unsigned w, unsigned h);
void fb_surface_free(struct fb_surface *s);

/* A display backend that only keeps the pixels (-display none with a
 * screendump requested). */
struct display_backend headless_display(struct fb_surface *s);

/* Write the surface as an 8-bit RGB PNG.  0, or -1 with err set. */
int screendump_write_png(const char *path, const struct fb_surface *s, char *err, size_t errlen);

/* The file name for screendump number `value`: pattern with its one "%d"
 * (if any) replaced by the number. */
void screendump_path(char *out, size_t outlen, const char *pattern, unsigned value);
/* Is the pattern acceptable (at most one '%', and it is "%d")? */
int screendump_pattern_ok(const char *pattern);

#endif
