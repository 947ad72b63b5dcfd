/*
 * sdl.c — the SDL2 window (-display sdl): the VGA's surface scaled to the
 * window with its aspect kept, PC scan codes from SDL's keyboard events,
 * relative mouse motion while the pointer is grabbed.
 *
 * Design choice: no thread and no host timer.  The VGA calls refresh() once
 * per 60 Hz of guest time from the machine's clock (devices/display.h);
 * that is where the frame is presented and the event queue drained, so a
 * running guest pays one SDL_PollEvent sweep per frame and nothing per
 * instruction.  Key codes are SDL scancodes (positions, not layouts), the
 * same thing a PC keyboard sends, mapped to set-1 make codes with the E0
 * prefix flag (the i8042 translates to what the guest asked for).
 *
 * Grab: a click in the window grabs the mouse (relative mode); pressing
 * Ctrl+Alt together releases it, as QEMU's window does.
 */
#include "frontends/sdl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/input.h"

#define E0 INPUT_KEY_E0

/* SDL scancode (USB HID usage) -> set-1 make code. */
static const unsigned short keymap[] = {
    [4] = 0x1e,  [5] = 0x30,  [6] = 0x2e,  [7] = 0x20,  [8] = 0x12,  [9] = 0x21,  [10] = 0x22,
    [11] = 0x23, [12] = 0x17, [13] = 0x24, [14] = 0x25, [15] = 0x26, [16] = 0x32, [17] = 0x31,
    [18] = 0x18, [19] = 0x19, [20] = 0x10, [21] = 0x13, [22] = 0x1f, [23] = 0x14, [24] = 0x16,
    [25] = 0x2f, [26] = 0x11, [27] = 0x2d, [28] = 0x15, [29] = 0x2c,
    /* 1..9, 0 */
    [30] = 0x02, [31] = 0x03, [32] = 0x04, [33] = 0x05, [34] = 0x06, [35] = 0x07, [36] = 0x08,
    [37] = 0x09, [38] = 0x0a, [39] = 0x0b,
    [40] = 0x1c, /* Return */
    [41] = 0x01, /* Escape */
    [42] = 0x0e, /* Backspace */
    [43] = 0x0f, /* Tab */
    [44] = 0x39, /* Space */
    [45] = 0x0c, [46] = 0x0d, [47] = 0x1a, [48] = 0x1b, [49] = 0x2b, [50] = 0x2b, [51] = 0x27,
    [52] = 0x28, [53] = 0x29, [54] = 0x33, [55] = 0x34, [56] = 0x35,
    [57] = 0x3a, /* Caps Lock */
    /* F1..F12 */
    [58] = 0x3b, [59] = 0x3c, [60] = 0x3d, [61] = 0x3e, [62] = 0x3f, [63] = 0x40, [64] = 0x41,
    [65] = 0x42, [66] = 0x43, [67] = 0x44, [68] = 0x57, [69] = 0x58,
    [70] = E0 | 0x37, /* PrintScreen */
    [71] = 0x46,      /* Scroll Lock */
    [72] = INPUT_KEY_PAUSE,
    [73] = E0 | 0x52, /* Insert */
    [74] = E0 | 0x47, /* Home */
    [75] = E0 | 0x49, /* Page Up */
    [76] = E0 | 0x53, /* Delete */
    [77] = E0 | 0x4f, /* End */
    [78] = E0 | 0x51, /* Page Down */
    [79] = E0 | 0x4d, /* Right */
    [80] = E0 | 0x4b, /* Left */
    [81] = E0 | 0x50, /* Down */
    [82] = E0 | 0x48, /* Up */
    [83] = 0x45,      /* Num Lock */
    [84] = E0 | 0x35, /* keypad / */
    [85] = 0x37,      /* keypad * */
    [86] = 0x4a,      [87] = 0x4e,
    [88] = E0 | 0x1c, /* keypad Enter */
    [89] = 0x4f,      [90] = 0x50, [91] = 0x51, [92] = 0x4b, [93] = 0x4c, [94] = 0x4d, [95] = 0x47,
    [96] = 0x48,      [97] = 0x49, [98] = 0x52, [99] = 0x53,
    [100] = 0x56,      /* the key between left Shift and Z on ISO keyboards */
    [101] = E0 | 0x5d, /* Menu */
    [135] = 0x73,      /* International1 (Ro) */
    [137] = 0x7d,      /* International3 (Yen) */
    [224] = 0x1d,      /* left Ctrl */
    [225] = 0x2a,      /* left Shift */
    [226] = 0x38,      /* left Alt */
    [227] = E0 | 0x5b, /* left GUI */
    [228] = E0 | 0x1d, /* right Ctrl */
    [229] = 0x36,      /* right Shift */
    [230] = E0 | 0x38, /* right Alt (AltGr) */
    [231] = E0 | 0x5c, /* right GUI */
};

unsigned sdl_scancode_to_pc(int sc)
{
    if (sc < 0 || (size_t)sc >= sizeof keymap / sizeof keymap[0]) return 0;
    return keymap[sc];
}

#ifdef UMBRA_HAVE_SDL
#include <SDL.h>

struct sdl_display {
    SDL_Window *win;
    SDL_Renderer *ren;
    SDL_Texture *tex;
    struct fb_surface surf;
    int dirty_x0, dirty_y0, dirty_x1, dirty_y1; /* union of updates since the last frame */
    struct input_sink in;
    void (*quit)(void *opaque);
    void *quit_opaque;
    bool grabbed, sized;
    bool combo_armed; /* Ctrl and Alt both down with nothing else: release on key up */
    unsigned buttons;
    char status[64];
};

static void update_title(struct sdl_display *d)
{
    char title[160];
    char size[32] = "";
    if (d->surf.w) snprintf(size, sizeof size, " - %ux%u", d->surf.w, d->surf.h);
    snprintf(title, sizeof title, "Umbra - %s%s%s", d->status, size,
             d->grabbed ? " - Press Ctrl+Alt to release the mouse" : "");
    SDL_SetWindowTitle(d->win, title);
}

static void set_grab(struct sdl_display *d, bool on)
{
    if (d->grabbed == on) return;
    d->grabbed = on;
    SDL_SetRelativeMouseMode(on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowGrab(d->win, on ? SDL_TRUE : SDL_FALSE);
    update_title(d);
}

static uint32_t *sdl_resize(void *opaque, unsigned w, unsigned h, unsigned *stride)
{
    struct sdl_display *d = opaque;
    if (!fb_surface_resize(&d->surf, w, h)) return NULL;
    memset(d->surf.pixels, 0, (size_t)w * h * 4);
    *stride = w;
    if (d->tex) SDL_DestroyTexture(d->tex);
    d->tex = SDL_CreateTexture(d->ren, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING,
                               (int)w, (int)h);
    /* Small modes (320x200) at twice their size; the user may resize. */
    unsigned scale = (w < 640 && h < 480) ? 2 : 1;
    if (!d->sized || !(SDL_GetWindowFlags(d->win) & SDL_WINDOW_MAXIMIZED))
        SDL_SetWindowSize(d->win, (int)(w * scale), (int)(h * scale));
    d->sized = true;
    d->dirty_x0 = 0, d->dirty_y0 = 0, d->dirty_x1 = (int)w, d->dirty_y1 = (int)h;
    update_title(d);
    return d->surf.pixels;
}

static void sdl_update(void *opaque, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct sdl_display *d = opaque;
    if (d->dirty_x1 <= d->dirty_x0) {
        d->dirty_x0 = (int)x, d->dirty_y0 = (int)y;
        d->dirty_x1 = (int)(x + w), d->dirty_y1 = (int)(y + h);
        return;
    }
    if ((int)x < d->dirty_x0) d->dirty_x0 = (int)x;
    if ((int)y < d->dirty_y0) d->dirty_y0 = (int)y;
    if ((int)(x + w) > d->dirty_x1) d->dirty_x1 = (int)(x + w);
    if ((int)(y + h) > d->dirty_y1) d->dirty_y1 = (int)(y + h);
}

static unsigned sdl_buttons(uint32_t state)
{
    return ((state & SDL_BUTTON_LMASK) ? INPUT_BUTTON_LEFT : 0) |
           ((state & SDL_BUTTON_RMASK) ? INPUT_BUTTON_RIGHT : 0) |
           ((state & SDL_BUTTON_MMASK) ? INPUT_BUTTON_MIDDLE : 0) |
           ((state & SDL_BUTTON_X1MASK) ? INPUT_BUTTON_SIDE : 0) |
           ((state & SDL_BUTTON_X2MASK) ? INPUT_BUTTON_EXTRA : 0);
}

static void handle_key(struct sdl_display *d, const SDL_KeyboardEvent *k)
{
    bool down = k->type == SDL_KEYDOWN;
    SDL_Scancode sc = k->keysym.scancode;
    bool is_mod = sc == SDL_SCANCODE_LCTRL || sc == SDL_SCANCODE_RCTRL ||
                  sc == SDL_SCANCODE_LALT || sc == SDL_SCANCODE_RALT;
    SDL_Keymod mod = SDL_GetModState();
    if (down && is_mod && (mod & KMOD_CTRL) && (mod & KMOD_ALT))
        d->combo_armed = true;
    else if (down && !is_mod)
        d->combo_armed = false;
    if (!down && is_mod && d->combo_armed) {
        d->combo_armed = false;
        set_grab(d, false);
    }
    unsigned code = sdl_scancode_to_pc(sc);
    if (!code) return;
    if (code == INPUT_KEY_PAUSE && !down) return; /* Pause has no break code */
    input_key(&d->in, code, down);
}

static void sdl_refresh(void *opaque)
{
    struct sdl_display *d = opaque;
    if (d->tex && d->dirty_x1 > d->dirty_x0 && d->dirty_y1 > d->dirty_y0) {
        SDL_Rect r = {d->dirty_x0, d->dirty_y0, d->dirty_x1 - d->dirty_x0,
                      d->dirty_y1 - d->dirty_y0};
        SDL_UpdateTexture(d->tex, &r, d->surf.pixels + (size_t)r.y * d->surf.w + r.x,
                          (int)d->surf.w * 4);
        d->dirty_x0 = d->dirty_x1 = 0;
        /* Scale to the window keeping the aspect ratio, centred; whole
         * multiples when they fit, so pixels stay square and sharp. */
        int ow, oh;
        SDL_GetRendererOutputSize(d->ren, &ow, &oh);
        double sx = (double)ow / d->surf.w, sy = (double)oh / d->surf.h;
        double s = sx < sy ? sx : sy;
        if (s >= 1) s = (double)(int)s;
        SDL_Rect dst = {0, 0, (int)(d->surf.w * s), (int)(d->surf.h * s)};
        dst.x = (ow - dst.w) / 2, dst.y = (oh - dst.h) / 2;
        SDL_SetRenderDrawColor(d->ren, 0, 0, 0, 255);
        SDL_RenderClear(d->ren);
        SDL_RenderCopy(d->ren, d->tex, NULL, &dst);
        SDL_RenderPresent(d->ren);
    }
    SDL_Event e;
    while (SDL_PollEvent(&e)) {
        switch (e.type) {
        case SDL_QUIT:
            if (d->quit) d->quit(d->quit_opaque);
            break;
        case SDL_KEYDOWN:
        case SDL_KEYUP:
            handle_key(d, &e.key);
            break;
        case SDL_MOUSEMOTION:
            if (d->grabbed)
                input_mouse(&d->in, e.motion.xrel, e.motion.yrel, 0, sdl_buttons(e.motion.state));
            break;
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP:
            if (!d->grabbed) {
                if (e.type == SDL_MOUSEBUTTONUP && e.button.button == SDL_BUTTON_LEFT)
                    set_grab(d, true);
                break;
            }
            input_mouse(&d->in, 0, 0, 0, sdl_buttons(SDL_GetMouseState(NULL, NULL)));
            break;
        case SDL_MOUSEWHEEL:
            if (d->grabbed)
                input_mouse(&d->in, 0, 0, -e.wheel.y, sdl_buttons(SDL_GetMouseState(NULL, NULL)));
            break;
        case SDL_WINDOWEVENT:
            if (e.window.event == SDL_WINDOWEVENT_EXPOSED ||
                e.window.event == SDL_WINDOWEVENT_SIZE_CHANGED) {
                d->dirty_x0 = d->dirty_y0 = 0;
                d->dirty_x1 = (int)d->surf.w, d->dirty_y1 = (int)d->surf.h;
            } else if (e.window.event == SDL_WINDOWEVENT_FOCUS_LOST) {
                set_grab(d, false);
            }
            break;
        default:
            break;
        }
    }
}

struct sdl_display *sdl_display_open(char *err, size_t errlen)
{
    if (SDL_InitSubSystem(SDL_INIT_VIDEO)) {
        snprintf(err, errlen, "SDL: %s", SDL_GetError());
        return NULL;
    }
    struct sdl_display *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return NULL;
    }
    d->win = SDL_CreateWindow("Umbra", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 720, 400,
                              SDL_WINDOW_RESIZABLE);
    if (d->win) d->ren = SDL_CreateRenderer(d->win, -1, 0);
    if (!d->win || !d->ren) {
        snprintf(err, errlen, "SDL: %s", SDL_GetError());
        sdl_display_close(d);
        return NULL;
    }
    /* Nearest-neighbour scaling: sharp pixels, and at integer scales the
     * window shows exactly the guest's pixels (the Xvfb test relies on it). */
    SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "nearest");
    snprintf(d->status, sizeof d->status, "starting");
    update_title(d);
    return d;
}

void sdl_display_close(struct sdl_display *d)
{
    if (!d) return;
    if (d->tex) SDL_DestroyTexture(d->tex);
    if (d->ren) SDL_DestroyRenderer(d->ren);
    if (d->win) SDL_DestroyWindow(d->win);
    fb_surface_free(&d->surf);
    free(d);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

struct display_backend sdl_display_backend(struct sdl_display *d)
{
    return (struct display_backend){d, sdl_resize, sdl_update, sdl_refresh};
}

void sdl_display_set_input(struct sdl_display *d, struct input_sink in,
                           void (*quit)(void *opaque), void *quit_opaque)
{
    d->in = in;
    d->quit = quit;
    d->quit_opaque = quit_opaque;
}

const struct fb_surface *sdl_display_surface(const struct sdl_display *d) { return &d->surf; }

void sdl_display_set_status(struct sdl_display *d, const char *status)
{
    snprintf(d->status, sizeof d->status, "%s", status);
    update_title(d);
}

#else /* built without SDL (UMBRA_SDL=OFF) */

struct sdl_display {
    struct fb_surface surf;
};

struct sdl_display *sdl_display_open(char *err, size_t errlen)
{
    snprintf(err, errlen, "this Umbra was built without SDL (UMBRA_SDL=OFF)");
    return NULL;
}
void sdl_display_close(struct sdl_display *d) { (void)d; }
struct display_backend sdl_display_backend(struct sdl_display *d)
{
    (void)d;
    return (struct display_backend){0};
}
void sdl_display_set_input(struct sdl_display *d, struct input_sink in,
                           void (*quit)(void *opaque), void *quit_opaque)
{
    (void)d, (void)in, (void)quit, (void)quit_opaque;
}
const struct fb_surface *sdl_display_surface(const struct sdl_display *d) { return &d->surf; }
void sdl_display_set_status(struct sdl_display *d, const char *status) { (void)d, (void)status; }

#endif
