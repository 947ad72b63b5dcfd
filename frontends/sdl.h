/*
 * sdl.h — the SDL2 window: shows the VGA's surface scaled to the window,
 * sends keys and relative mouse motion to the guest's PS/2 devices.
 */
#ifndef UMBRA_FRONTENDS_SDL_H
#define UMBRA_FRONTENDS_SDL_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/display.h"
#include "devices/input.h"
#include "frontends/screendump.h"

struct sdl_display;

/* Open the window (hidden until the first frame).  NULL with err set when
 * SDL cannot start (no display server) or was not compiled in. */
struct sdl_display *sdl_display_open(char *err, size_t errlen);
void sdl_display_close(struct sdl_display *d);
/* The backend to put in machine_config.display. */
struct display_backend sdl_display_backend(struct sdl_display *d);
/* Where keys and mouse go, and what closing the window does. */
void sdl_display_set_input(struct sdl_display *d, struct input_sink in,
                           void (*quit)(void *opaque), void *quit_opaque);
/* The pixels shown (for screendumps). */
const struct fb_surface *sdl_display_surface(const struct sdl_display *d);
/* Title suffix, e.g. "running" / "stopped". */
void sdl_display_set_status(struct sdl_display *d, const char *status);

/* Scan code (struct input_sink's set-1 code, INPUT_KEY_E0 / INPUT_KEY_PAUSE
 * added) for an SDL scancode, or 0 if the key has none.  Exposed for the
 * unit tests. */
unsigned sdl_scancode_to_pc(int sdl_scancode);

#endif
