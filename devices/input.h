/*
 * input.h — the input interface frontends feed (an SDL window, a VNC-like
 * server, tests): key presses and mouse motion, independent of the device
 * that turns them into guest-visible bytes (the PS/2 keyboard and mouse).
 *
 * Key codes are the PC/XT make codes (scan code set 1): 0x01-0x7f, with
 * INPUT_KEY_E0 added for the 0xE0-prefixed keys (arrows, right Ctrl/Alt,
 * keypad Enter and /, Insert/Delete/Home/End/PgUp/PgDn, Windows keys,
 * PrintScreen = E0 37), and INPUT_KEY_PAUSE for Pause.  Frontends send key
 * repeats themselves, as repeated presses.
 */
#ifndef UMBRA_INPUT_H
#define UMBRA_INPUT_H

#include <stdbool.h>

#define INPUT_KEY_E0 0x100u
#define INPUT_KEY_PAUSE 0x200u

#define INPUT_BUTTON_LEFT 0x01u
#define INPUT_BUTTON_RIGHT 0x02u
#define INPUT_BUTTON_MIDDLE 0x04u
#define INPUT_BUTTON_SIDE 0x08u  /* button 4 */
#define INPUT_BUTTON_EXTRA 0x10u /* button 5 */

struct input_sink {
    void *opaque;
    void (*key)(void *opaque, unsigned code, bool down);
    /* Relative motion: dx right, dy down (screen direction), dz wheel
     * clicks, positive toward the user (scrolling down); buttons is the
     * INPUT_BUTTON_* state after the event. */
    void (*mouse)(void *opaque, int dx, int dy, int dz, unsigned buttons);
};

static inline void input_key(const struct input_sink *s, unsigned code, bool down)
{
    if (s->key) s->key(s->opaque, code, down);
}
static inline void input_mouse(const struct input_sink *s, int dx, int dy, int dz, unsigned buttons)
{
    if (s->mouse) s->mouse(s->opaque, dx, dy, dz, buttons);
}

#endif
