/* test_i8042.c — the 8042 keyboard controller with its PS/2 keyboard and
 * mouse, through ports 0x60/0x64 and the input interface: self-test and
 * interface tests, command byte, scan codes in set 1 and 2 with and without
 * translation (every key), keyboard commands, interface disabling, the
 * mouse's reset, stream/remote/wrap modes, status, IntelliMouse IDs and
 * packets, output port A20/reset, 0xD2/0xD3, IRQ1/IRQ12, save/load, and a
 * register fuzz. */
#include <check.h>
#include <stdlib.h>

#include "devices/i8042.h"
#include "devices/input.h"

struct rig {
    struct bus bus;
    struct i8042 kbc;
    bool level[16];
    int edges[16];
    bool a20;
    int a20_calls;
    int resets;
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    if (level && !r->level[line]) r->edges[line]++;
    r->level[line] = level;
}

static void set_a20(void *o, bool on)
{
    struct rig *r = o;
    r->a20 = on;
    r->a20_calls++;
}

static void do_reset(void *o)
{
    ((struct rig *)o)->resets++;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(i8042_init(&r->kbc, &r->bus, (struct irq_line){irq_sink, r, 1},
                                (struct irq_line){irq_sink, r, 12}, set_a20, do_reset, r, NULL, err,
                                sizeof err),
                     0);
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v)
{
    bus_out(&r->bus, p, v, 1);
}
static uint8_t inb(struct rig *r, uint16_t p)
{
    return (uint8_t)bus_in(&r->bus, p, 1);
}

/* Read one byte, requiring that one is there. */
static uint8_t rd(struct rig *r)
{
    ck_assert_uint_eq(inb(r, 0x64) & 1, 1);
    return inb(r, 0x60);
}
static bool empty(struct rig *r)
{
    return !(inb(r, 0x64) & 1);
}
static void cmd(struct rig *r, uint8_t c)
{
    outb(r, 0x64, c);
}
static void cmd_data(struct rig *r, uint8_t c, uint8_t d)
{
    outb(r, 0x64, c);
    outb(r, 0x60, d);
}
static void set_cb(struct rig *r, uint8_t v)
{
    cmd_data(r, 0x60, v);
}
static uint8_t get_cb(struct rig *r)
{
    cmd(r, 0x20);
    return rd(r);
}
static void aux(struct rig *r, uint8_t b)
{
    cmd_data(r, 0xd4, b);
}

/* Set-1 make code → set-2 make code for the standard 101/102 keys. */
static const uint8_t s2[][2] = {
    {0x01, 0x76}, {0x02, 0x16}, {0x0e, 0x66}, {0x0f, 0x0d}, {0x10, 0x15}, {0x1c, 0x5a},
    {0x1d, 0x14}, {0x1e, 0x1c}, {0x29, 0x0e}, {0x2a, 0x12}, {0x2b, 0x5d}, {0x36, 0x59},
    {0x37, 0x7c}, {0x38, 0x11}, {0x39, 0x29}, {0x3a, 0x58}, {0x3b, 0x05}, {0x41, 0x83},
    {0x44, 0x09}, {0x45, 0x77}, {0x46, 0x7e}, {0x47, 0x6c}, {0x53, 0x71}, {0x56, 0x61},
    {0x57, 0x78}, {0x58, 0x07},
};

START_TEST(selftest_and_command_byte)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(inb(r, 0x64) & 0x04, 0);
    cmd(r, 0xaa);
    ck_assert_uint_eq(inb(r, 0x64) & 0x0d, 0x0d); /* OBF, SYS, last write was a command */
    ck_assert_uint_eq(rd(r), 0x55);
    cmd(r, 0xab);
    ck_assert_uint_eq(rd(r), 0x00);
    cmd(r, 0xa9);
    ck_assert_uint_eq(rd(r), 0x00);
    ck_assert_uint_eq(get_cb(r), 0x61);
    set_cb(r, 0x47);
    ck_assert_uint_eq(inb(r, 0x64) & 0x08, 0); /* last write was data */
    ck_assert_uint_eq(get_cb(r), 0x47);
    set_cb(r, 0x43); /* SYS follows command byte bit 2 */
    ck_assert_uint_eq(inb(r, 0x64) & 0x04, 0);
    cmd_data(r, 0x65, 0x99); /* other RAM bytes */
    cmd(r, 0x25);
    ck_assert_uint_eq(rd(r), 0x99);
    cmd(r, 0xa7);
    ck_assert_uint_eq(get_cb(r) & 0x30, 0x20);
    cmd(r, 0xa8);
    cmd(r, 0xad);
    ck_assert_uint_eq(get_cb(r) & 0x30, 0x10);
    cmd(r, 0xae);
    ck_assert_uint_eq(get_cb(r) & 0x30, 0x00);
    cmd(r, 0xc0);
    ck_assert_uint_eq(rd(r), 0x80);
    ck_assert(empty(r));
    ck_assert_int_eq(r->edges[12], 0);
    free(r);
}
END_TEST

START_TEST(keyboard_reset_and_irq1)
{
    struct rig *r = rig_new();
    outb(r, 0x60, 0xff);
    ck_assert(r->level[1]);
    ck_assert_uint_eq(inb(r, 0x60), 0xfa);
    ck_assert(r->level[1]); /* the next byte is in at once */
    ck_assert_int_eq(r->edges[1], 2);
    ck_assert_uint_eq(inb(r, 0x60), 0xaa);
    ck_assert(!r->level[1]);
    ck_assert_uint_eq(inb(r, 0x60), 0xaa); /* stale byte, no new data */
    /* IRQ1 disabled in the command byte. */
    set_cb(r, 0x60);
    outb(r, 0x60, 0xee);
    ck_assert(!r->level[1]);
    ck_assert_uint_eq(rd(r), 0xee);
    free(r);
}
END_TEST

START_TEST(translation_every_key)
{
    struct rig *r = rig_new();
    /* Translated (the default): each key comes out as its set-1 codes. */
    for (unsigned c = 1; c < 0x80; c++) {
        i8042_key(&r->kbc, c, true);
        if (empty(r)) continue; /* no such key */
        ck_assert_uint_eq(rd(r), c);
        i8042_key(&r->kbc, c, false);
        ck_assert_uint_eq(rd(r), c | 0x80);
        ck_assert(empty(r));
        i8042_key(&r->kbc, INPUT_KEY_E0 | c, true);
        if (c == 0x37) {
            ck_assert_uint_eq(rd(r), 0xe0);
            ck_assert_uint_eq(rd(r), 0x2a);
        }
        ck_assert_uint_eq(rd(r), 0xe0);
        ck_assert_uint_eq(rd(r), c);
        while (!empty(r))
            rd(r);
    }
    /* Untranslated: set 2 on the wire. */
    set_cb(r, 0x01);
    for (unsigned i = 0; i < sizeof s2 / sizeof s2[0]; i++) {
        i8042_key(&r->kbc, s2[i][0], true);
        ck_assert_uint_eq(rd(r), s2[i][1]);
        i8042_key(&r->kbc, s2[i][0], false);
        ck_assert_uint_eq(rd(r), 0xf0);
        ck_assert_uint_eq(rd(r), s2[i][1]);
    }
    i8042_key(&r->kbc, INPUT_KEY_E0 | 0x48, false); /* Up released */
    ck_assert_uint_eq(rd(r), 0xe0);
    ck_assert_uint_eq(rd(r), 0xf0);
    ck_assert_uint_eq(rd(r), 0x75);
    i8042_key(&r->kbc, INPUT_KEY_PAUSE, true);
    static const uint8_t pause2[] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
    for (unsigned i = 0; i < sizeof pause2; i++)
        ck_assert_uint_eq(rd(r), pause2[i]);
    i8042_key(&r->kbc, INPUT_KEY_PAUSE, false);
    ck_assert(empty(r));
    /* Pause translated. */
    set_cb(r, 0x41);
    i8042_key(&r->kbc, INPUT_KEY_PAUSE, true);
    static const uint8_t pause1[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
    for (unsigned i = 0; i < sizeof pause1; i++)
        ck_assert_uint_eq(rd(r), pause1[i]);
    /* Unknown codes are ignored. */
    i8042_key(&r->kbc, 0x7f, true);
    i8042_key(&r->kbc, 0x1234, true);
    ck_assert(empty(r));
    free(r);
}
END_TEST

START_TEST(keyboard_commands)
{
    struct rig *r = rig_new();
    set_cb(r, 0x01); /* no translation: raw replies */
    outb(r, 0x60, 0xf2);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xab);
    ck_assert_uint_eq(rd(r), 0x83);
    outb(r, 0x60, 0xf0);
    ck_assert_uint_eq(rd(r), 0xfa);
    outb(r, 0x60, 0x00);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0x02);
    outb(r, 0x60, 0xf0);
    outb(r, 0x60, 0x03); /* set 3 refused */
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfe);
    outb(r, 0x60, 0xf0);
    outb(r, 0x60, 0x01);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    i8042_key(&r->kbc, 0x1e, false);
    ck_assert_uint_eq(rd(r), 0x9e); /* set 1 break */
    outb(r, 0x60, 0xed);
    outb(r, 0x60, 0x07);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(r->kbc.kbd.leds, 7);
    outb(r, 0x60, 0xed);
    outb(r, 0x60, 0xee); /* a command aborts the LED update */
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xee);
    outb(r, 0x60, 0xf3);
    outb(r, 0x60, 0x20);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(r->kbc.kbd.typematic, 0x20);
    outb(r, 0x60, 0xfe); /* resend the last byte */
    ck_assert_uint_eq(rd(r), 0xfa);
    outb(r, 0x60, 0xf5); /* disable: defaults (set 2), no scanning */
    ck_assert_uint_eq(rd(r), 0xfa);
    i8042_key(&r->kbc, 0x1e, true);
    ck_assert(empty(r));
    outb(r, 0x60, 0xf4);
    ck_assert_uint_eq(rd(r), 0xfa);
    i8042_key(&r->kbc, 0x1e, true);
    ck_assert_uint_eq(rd(r), 0x1c);
    outb(r, 0x60, 0x42); /* not a command */
    ck_assert_uint_eq(rd(r), 0xfe);
    /* Translated ID and scan code set, as Linux sees them. */
    set_cb(r, 0x41);
    outb(r, 0x60, 0xf2);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xab);
    ck_assert_uint_eq(rd(r), 0x41);
    outb(r, 0x60, 0xf0);
    outb(r, 0x60, 0x00);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0x41);
    free(r);
}
END_TEST

START_TEST(interface_disable_holds_data)
{
    struct rig *r = rig_new();
    cmd(r, 0xad);
    i8042_key(&r->kbc, 0x10, true);
    ck_assert(empty(r));
    cmd(r, 0xae);
    ck_assert_uint_eq(rd(r), 0x10);
    /* Replies to commands come before buffered keys. */
    cmd(r, 0xad);
    i8042_key(&r->kbc, 0x11, true);
    i8042_key(&r->kbc, 0x12, true);
    outb(r, 0x60, 0xee); /* also re-enables the interface */
    ck_assert_uint_eq(rd(r), 0xee);
    ck_assert_uint_eq(rd(r), 0x11);
    ck_assert_uint_eq(rd(r), 0x12);
    free(r);
}
END_TEST

START_TEST(mouse)
{
    struct rig *r = rig_new();
    set_cb(r, 0x47); /* both IRQs, aux enabled, translation */
    aux(r, 0xff);
    ck_assert(r->level[12]);
    ck_assert_uint_eq(inb(r, 0x64) & 0x21, 0x21);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xaa);
    ck_assert_uint_eq(rd(r), 0x00);
    ck_assert(!r->level[12]);
    ck_assert_int_eq(r->edges[1], 0);
    aux(r, 0xf2);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0x00);
    /* Motion before enabling is not reported. */
    i8042_mouse(&r->kbc, 5, 5, 0, 0);
    ck_assert(empty(r));
    aux(r, 0xf4);
    ck_assert_uint_eq(rd(r), 0xfa);
    i8042_mouse(&r->kbc, 10, -3, 0, INPUT_BUTTON_LEFT);
    ck_assert_uint_eq(rd(r), 0x09);
    ck_assert_uint_eq(rd(r), 10);
    ck_assert_uint_eq(rd(r), 3); /* screen up = PS/2 +y */
    i8042_mouse(&r->kbc, -300, 0, 0, INPUT_BUTTON_LEFT);
    ck_assert_uint_eq(rd(r), 0x19);
    ck_assert_uint_eq(rd(r), (uint8_t)-255);
    ck_assert_uint_eq(rd(r), 0);
    ck_assert_uint_eq(rd(r), 0x19);
    ck_assert_uint_eq(rd(r), (uint8_t)-45);
    ck_assert_uint_eq(rd(r), 0);
    i8042_mouse(&r->kbc, 0, 0, 0, INPUT_BUTTON_RIGHT | INPUT_BUTTON_MIDDLE);
    ck_assert_uint_eq(rd(r), 0x0e);
    rd(r);
    rd(r);
    ck_assert(empty(r));
    /* Status: stream, enabled, 1:1, right + middle. */
    aux(r, 0xe9);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0x23);
    ck_assert_uint_eq(rd(r), 2);
    ck_assert_uint_eq(rd(r), 100);
    aux(r, 0xe8);
    aux(r, 3);
    aux(r, 0xe7);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfa);
    i8042_mouse(&r->kbc, 4, 0, 0, 0); /* 2:1 scaling: 4 → 6 */
    rd(r);
    ck_assert_uint_eq(rd(r), 6);
    rd(r);
    /* IntelliMouse: 200, 100, 80 → ID 3 and 4-byte packets. */
    static const uint8_t seq3[] = {200, 100, 80}, seq4[] = {200, 200, 80};
    for (int i = 0; i < 3; i++) {
        aux(r, 0xf3);
        aux(r, seq3[i]);
        ck_assert_uint_eq(rd(r), 0xfa);
        ck_assert_uint_eq(rd(r), 0xfa);
    }
    aux(r, 0xf2);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 3);
    aux(r, 0xe6);
    rd(r);
    i8042_mouse(&r->kbc, 1, 1, -2, 0);
    ck_assert_uint_eq(rd(r), 0x28);
    ck_assert_uint_eq(rd(r), 1);
    ck_assert_uint_eq(rd(r), 0xff);
    ck_assert_uint_eq(rd(r), 0xfe);
    for (int i = 0; i < 3; i++) {
        aux(r, 0xf3);
        aux(r, seq4[i]);
        rd(r);
        rd(r);
    }
    aux(r, 0xf2);
    rd(r);
    ck_assert_uint_eq(rd(r), 4);
    i8042_mouse(&r->kbc, 0, 0, 1, INPUT_BUTTON_SIDE);
    rd(r);
    rd(r);
    rd(r);
    ck_assert_uint_eq(rd(r), 0x11);
    aux(r, 0xf3);
    aux(r, 33); /* not a valid rate */
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0xfe);
    /* Remote mode: nothing streamed; Read Data gives a packet. */
    aux(r, 0xf0);
    rd(r);
    i8042_mouse(&r->kbc, 7, 0, 0, 0);
    ck_assert(empty(r));
    aux(r, 0xeb);
    ck_assert_uint_eq(rd(r), 0xfa);
    ck_assert_uint_eq(rd(r), 0x08);
    ck_assert_uint_eq(rd(r), 7);
    rd(r);
    rd(r);
    ck_assert(empty(r));
    /* Wrap mode echoes. */
    aux(r, 0xee);
    rd(r);
    aux(r, 0x42);
    ck_assert_uint_eq(rd(r), 0x42);
    aux(r, 0xec);
    ck_assert_uint_eq(rd(r), 0xfa);
    /* The aux interface disabled holds mouse bytes back. */
    aux(r, 0xea);
    rd(r);
    cmd(r, 0xa7);
    i8042_mouse(&r->kbc, 1, 0, 0, 0);
    ck_assert(empty(r));
    cmd(r, 0xa8);
    ck_assert_uint_eq(inb(r, 0x64) & 0x20, 0x20);
    free(r);
}
END_TEST

START_TEST(output_port)
{
    struct rig *r = rig_new();
    int calls = r->a20_calls;
    cmd(r, 0xd0);
    ck_assert_uint_eq(rd(r), 0xcf & ~0x30);
    cmd_data(r, 0xd1, 0xcd); /* A20 off */
    ck_assert(!r->a20);
    ck_assert_int_eq(r->a20_calls, calls + 1);
    ck_assert(!i8042_a20(&r->kbc));
    cmd(r, 0xdf);
    ck_assert(r->a20);
    cmd(r, 0xdd);
    ck_assert(!r->a20);
    ck_assert_int_eq(r->resets, 0);
    cmd_data(r, 0xd1, 0xce); /* reset asserted, A20 on */
    ck_assert_int_eq(r->resets, 1);
    ck_assert(r->a20);
    cmd(r, 0xfe);
    ck_assert_int_eq(r->resets, 2);
    cmd(r, 0xff); /* pulse nothing */
    ck_assert_int_eq(r->resets, 2);
    /* The output port shows which buffer is full. */
    set_cb(r, 0x00);
    cmd_data(r, 0xd3, 0x5a);
    cmd(r, 0xd0); /* queued behind the 0x5a */
    ck_assert_uint_eq(inb(r, 0x64) & 0x21, 0x21);
    ck_assert_uint_eq(rd(r), 0x5a);
    ck_assert_uint_eq(rd(r) & 0x30, 0x20); /* sampled while the mouse byte was in */
    free(r);
}
END_TEST

START_TEST(write_buffers)
{
    struct rig *r = rig_new();
    set_cb(r, 0x03);
    cmd_data(r, 0xd2, 0x1c); /* not translated */
    ck_assert(r->level[1]);
    ck_assert_uint_eq(inb(r, 0x64) & 0x21, 0x01);
    ck_assert_uint_eq(rd(r), 0x1c);
    cmd_data(r, 0xd3, 0x33);
    ck_assert(r->level[12]);
    ck_assert(!r->level[1]);
    ck_assert_uint_eq(inb(r, 0x64) & 0x21, 0x21);
    ck_assert_uint_eq(rd(r), 0x33);
    ck_assert(!r->level[12]);
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    set_cb(a, 0x47);
    aux(a, 0xf4);
    i8042_key(&a->kbc, 0x1e, true);
    i8042_key(&a->kbc, 0x1f, true);
    struct state_buf s;
    state_init(&s);
    i8042_save(&a->kbc, &s);
    ck_assert_int_eq(i8042_load(&b->kbc, &s), 0);
    ck_assert(b->level[12]);
    ck_assert_uint_eq(rd(b), 0xfa);
    ck_assert_uint_eq(rd(b), 0x1e);
    ck_assert_uint_eq(rd(b), 0x1f);
    ck_assert_uint_eq(get_cb(b), 0x47);
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

/* Random traffic: never crash; IRQ1 high iff a keyboard byte is in the
 * buffer with IRQ1 enabled, IRQ12 likewise for the mouse; never both. */
START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(1234);
    for (int k = 0; k < 200000; k++) {
        int what = rand() % 12;
        if (what < 2)
            outb(r, 0x64, (uint8_t)rand());
        else if (what < 5)
            outb(r, 0x60, (uint8_t)rand());
        else if (what < 8)
            inb(r, (rand() & 1) ? 0x60 : 0x64);
        else if (what < 10)
            i8042_key(&r->kbc, (unsigned)rand() % 0x300, rand() & 1);
        else
            i8042_mouse(&r->kbc, rand() % 601 - 300, rand() % 601 - 300, rand() % 5 - 2,
                        (unsigned)rand() & 0x1f);
        const struct i8042 *c = &r->kbc;
        ck_assert(r->level[1] == (c->obf && !c->obf_aux && (c->ram[0] & 1)));
        ck_assert(r->level[12] == (c->obf && c->obf_aux && (c->ram[0] & 2)));
        ck_assert(!(r->level[1] && r->level[12]));
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("i8042");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, selftest_and_command_byte);
    tcase_add_test(tc, keyboard_reset_and_irq1);
    tcase_add_test(tc, translation_every_key);
    tcase_add_test(tc, keyboard_commands);
    tcase_add_test(tc, interface_disable_holds_data);
    tcase_add_test(tc, mouse);
    tcase_add_test(tc, output_port);
    tcase_add_test(tc, write_buffers);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
