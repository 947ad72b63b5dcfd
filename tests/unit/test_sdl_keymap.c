/*
 * test_sdl_keymap.c — the SDL window's key map: SDL scancodes (named by
 * SDL's own enum, so the table's indexes are checked against SDL) to the PC
 * set-1 make codes of struct input_sink, with the E0 prefix and Pause.
 */
#include <check.h>

#include "devices/input.h"
#include "frontends/sdl.h"

#ifdef UMBRA_HAVE_SDL
#include <SDL.h>

START_TEST(named_keys)
{
    static const struct {
        int sdl;
        unsigned pc;
    } k[] = {
        {SDL_SCANCODE_A, 0x1e},           {SDL_SCANCODE_Z, 0x2c},
        {SDL_SCANCODE_Q, 0x10},           {SDL_SCANCODE_M, 0x32},
        {SDL_SCANCODE_1, 0x02},           {SDL_SCANCODE_0, 0x0b},
        {SDL_SCANCODE_RETURN, 0x1c},      {SDL_SCANCODE_ESCAPE, 0x01},
        {SDL_SCANCODE_BACKSPACE, 0x0e},   {SDL_SCANCODE_TAB, 0x0f},
        {SDL_SCANCODE_SPACE, 0x39},       {SDL_SCANCODE_GRAVE, 0x29},
        {SDL_SCANCODE_BACKSLASH, 0x2b},   {SDL_SCANCODE_SLASH, 0x35},
        {SDL_SCANCODE_CAPSLOCK, 0x3a},    {SDL_SCANCODE_F1, 0x3b},
        {SDL_SCANCODE_F10, 0x44},         {SDL_SCANCODE_F11, 0x57},
        {SDL_SCANCODE_F12, 0x58},         {SDL_SCANCODE_SCROLLLOCK, 0x46},
        {SDL_SCANCODE_NUMLOCKCLEAR, 0x45}, {SDL_SCANCODE_KP_MULTIPLY, 0x37},
        {SDL_SCANCODE_KP_7, 0x47},        {SDL_SCANCODE_KP_0, 0x52},
        {SDL_SCANCODE_KP_PERIOD, 0x53},   {SDL_SCANCODE_NONUSBACKSLASH, 0x56},
        {SDL_SCANCODE_LCTRL, 0x1d},       {SDL_SCANCODE_LSHIFT, 0x2a},
        {SDL_SCANCODE_RSHIFT, 0x36},      {SDL_SCANCODE_LALT, 0x38},
        {SDL_SCANCODE_RCTRL, INPUT_KEY_E0 | 0x1d}, {SDL_SCANCODE_RALT, INPUT_KEY_E0 | 0x38},
        {SDL_SCANCODE_LGUI, INPUT_KEY_E0 | 0x5b},  {SDL_SCANCODE_RGUI, INPUT_KEY_E0 | 0x5c},
        {SDL_SCANCODE_APPLICATION, INPUT_KEY_E0 | 0x5d},
        {SDL_SCANCODE_UP, INPUT_KEY_E0 | 0x48},    {SDL_SCANCODE_DOWN, INPUT_KEY_E0 | 0x50},
        {SDL_SCANCODE_LEFT, INPUT_KEY_E0 | 0x4b},  {SDL_SCANCODE_RIGHT, INPUT_KEY_E0 | 0x4d},
        {SDL_SCANCODE_INSERT, INPUT_KEY_E0 | 0x52}, {SDL_SCANCODE_DELETE, INPUT_KEY_E0 | 0x53},
        {SDL_SCANCODE_HOME, INPUT_KEY_E0 | 0x47},  {SDL_SCANCODE_END, INPUT_KEY_E0 | 0x4f},
        {SDL_SCANCODE_PAGEUP, INPUT_KEY_E0 | 0x49}, {SDL_SCANCODE_PAGEDOWN, INPUT_KEY_E0 | 0x51},
        {SDL_SCANCODE_KP_ENTER, INPUT_KEY_E0 | 0x1c}, {SDL_SCANCODE_KP_DIVIDE, INPUT_KEY_E0 | 0x35},
        {SDL_SCANCODE_PRINTSCREEN, INPUT_KEY_E0 | 0x37}, {SDL_SCANCODE_PAUSE, INPUT_KEY_PAUSE},
    };
    for (unsigned i = 0; i < sizeof k / sizeof k[0]; i++)
        ck_assert_msg(sdl_scancode_to_pc(k[i].sdl) == k[i].pc, "SDL scancode %d: got 0x%x, want 0x%x",
                      k[i].sdl, sdl_scancode_to_pc(k[i].sdl), k[i].pc);
    ck_assert_uint_eq(sdl_scancode_to_pc(-1), 0);
    ck_assert_uint_eq(sdl_scancode_to_pc(SDL_NUM_SCANCODES), 0);
    ck_assert_uint_eq(sdl_scancode_to_pc(SDL_SCANCODE_UNKNOWN), 0);
}
END_TEST

/* No two keys send the same code. */
START_TEST(codes_distinct)
{
    static unsigned char seen[0x400];
    for (int sc = 0; sc < SDL_NUM_SCANCODES; sc++) {
        unsigned c = sdl_scancode_to_pc(sc);
        if (!c || sc == SDL_SCANCODE_NONUSHASH) continue; /* same key position as backslash */
        ck_assert_msg(!seen[c], "code 0x%x sent by two SDL scancodes (one is %d)", c, sc);
        seen[c] = 1;
    }
}
END_TEST
#endif

int main(void)
{
    Suite *s = suite_create("sdl_keymap");
    TCase *tc = tcase_create("core");
#ifdef UMBRA_HAVE_SDL
    tcase_add_test(tc, named_keys);
    tcase_add_test(tc, codes_distinct);
#endif
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
