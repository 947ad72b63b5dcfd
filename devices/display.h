/*
 * display.h — the framebuffer backend a display device (the VGA) renders
 * into, implemented by frontends/ (an SDL window, the headless screendump
 * surface).  Input goes the other way through struct input_sink
 * (devices/input.h, machine_input()): a frontend that has a window feeds it
 * from the events it polls in refresh().
 *
 * Pixels are 32 bits, 0x00RRGGBB, in rows of `stride` pixels.  The device
 * asks for a surface whenever its mode changes size, writes pixels only
 * inside the surface it was given, and reports each rectangle it changed.
 * refresh() comes once per display refresh period of guest time (~60 Hz,
 * from the machine's clock), after the updates of that frame: the place to
 * present the frame and poll host events without a thread or a host timer.
 */
#ifndef UMBRA_DISPLAY_H
#define UMBRA_DISPLAY_H

#include <stdint.h>

struct display_backend {
    void *opaque;
    /* A surface of w x h pixels (w, h >= 1); NULL = cannot (nothing is drawn). */
    uint32_t *(*resize)(void *opaque, unsigned w, unsigned h, unsigned *stride);
    void (*update)(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h);
    void (*refresh)(void *opaque);
};

#endif
