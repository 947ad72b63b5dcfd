/*
 * ps2.c — the IBM PS/2 keyboard (scan code sets 1 and 2) and mouse (with
 * the IntelliMouse and IntelliMouse Explorer extensions), as described in
 * the IBM PS/2 Hardware Interface Technical Reference.
 *
 * Keyboard: reset (FF → FA AA), set LEDs (ED), echo (EE), get/set scan code
 * set (F0), identify (F2 → FA AB 83), typematic (F3), enable/disable
 * (F4/F5), defaults (F6), resend (FE); the set-3 key-type commands (F7-FD)
 * are acknowledged and ignored.  Set 3 is refused (the keyboard answers the
 * parameter with FE), as many real keyboards do.  Key codes arrive from the
 * frontend as set-1 codes (input.h) and leave in the selected set; the 8042
 * translates set 2 back to set 1 when its command byte asks.
 *
 * Mouse: reset (FF → FA AA 00), scaling (E6/E7), resolution (E8), status
 * (E9), stream/remote/wrap modes (EA/F0/EE/EC), read data (EB), ID (F2),
 * sample rate (F3, with the 200-100-80 / 200-200-80 sequences switching to
 * IDs 3 and 4), enable/disable (F4/F5), defaults (F6), resend (FE).
 *
 * Design choices: replies to commands go into their own queue, ahead of any
 * buffered key or movement bytes, so a driver waiting for an ACK never sees
 * a scan code first.  The mouse accumulates motion and emits packets of at
 * most ±255 per axis at once (no overflow bits are ever needed); the sample
 * rate is stored but not used to pace packets — the frontend's events are.
 */
#include "devices/ps2.h"

#include <stdio.h>
#include <string.h>

#include "devices/input.h"

enum { ACK = 0xfa, RESEND = 0xfe, BAT_OK = 0xaa, ECHO = 0xee };

/* --- queues --- */

static bool q_push(struct ps2_queue *q, uint8_t b)
{
    if (q->count >= PS2_QUEUE_SIZE) return false;
    q->data[(q->head + q->count) % PS2_QUEUE_SIZE] = b;
    q->count++;
    return true;
}

static uint16_t q_room(const struct ps2_queue *q)
{
    return PS2_QUEUE_SIZE - q->count;
}

static void q_clear(struct ps2_queue *q)
{
    q->head = q->count = 0;
}

bool ps2_pending(const struct ps2_port *p)
{
    return p->rsp.count || p->data.count;
}

uint8_t ps2_take(struct ps2_port *p)
{
    struct ps2_queue *q = p->rsp.count ? &p->rsp : &p->data;
    if (!q->count) return p->last;
    uint8_t b = q->data[q->head];
    q->head = (q->head + 1) % PS2_QUEUE_SIZE;
    q->count--;
    p->last = b;
    return b;
}

static void reply(struct ps2_port *p, uint8_t b)
{
    if (p->rsp.count < PS2_RSP_SIZE) q_push(&p->rsp, b);
}

static void notify(struct ps2_port *p)
{
    if (p->notify) p->notify(p->notify_opaque);
}

static void port_init(struct ps2_port *p, void (*fn)(void *), void *opaque,
                      const struct dev_log *log)
{
    memset(p, 0, sizeof *p);
    p->notify = fn;
    p->notify_opaque = opaque;
    p->log = log;
}

static void port_save(const struct ps2_port *p, const char *prefix, struct state_buf *s)
{
    char name[48];
#define PUT(f)                                                                                     \
    snprintf(name, sizeof name, "%s.%s", prefix, #f);                                              \
    state_put(s, name, &p->f, sizeof p->f);
    PUT(rsp) PUT(data) PUT(expect) PUT(last)
#undef PUT
}

static void port_load(struct ps2_port *p, const char *prefix, const struct state_buf *s)
{
    char name[48];
#define GET(f)                                                                                     \
    snprintf(name, sizeof name, "%s.%s", prefix, #f);                                              \
    state_get(s, name, &p->f, sizeof p->f);
    GET(rsp)
    GET(data) GET(expect) GET(last)
#undef GET
        /* Sanitize what a corrupt state could hold. */
        p->rsp.head %= PS2_QUEUE_SIZE;
    p->data.head %= PS2_QUEUE_SIZE;
    if (p->rsp.count > PS2_RSP_SIZE) p->rsp.count = PS2_RSP_SIZE;
    if (p->data.count > PS2_QUEUE_SIZE) p->data.count = PS2_QUEUE_SIZE;
}

/* --- keyboard --- */

/* Set-1 make code → set-2 make code (0 = no such key).  0xE0-prefixed keys
 * use the same table with an E0 prefix in both sets. */
static const uint8_t set1_to_set2[128] = {
    0x00, 0x76, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, 0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, 0x66, 0x0d,
    0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, 0x44, 0x4d, 0x54, 0x5b, 0x5a, 0x14, 0x1c, 0x1b,
    0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, 0x52, 0x0e, 0x12, 0x5d, 0x1a, 0x22, 0x21, 0x2a,
    0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, 0x59, 0x7c, 0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0c, 0x03,
    0x0b, 0x83, 0x0a, 0x01, 0x09, 0x77, 0x7e, 0x6c, 0x75, 0x7d, 0x7b, 0x6b, 0x73, 0x74, 0x79, 0x69,
    0x72, 0x7a, 0x70, 0x71, 0x84, 0x00, 0x61, 0x78, 0x07, 0x0f, 0x00, 0x1f, 0x27, 0x2f, 0x37, 0x3f,
    0x00, 0x00, 0x00, 0x5e, 0x08, 0x10, 0x18, 0x20, 0x28, 0x30, 0x38, 0x40, 0x48, 0x50, 0x57, 0x00,
    0x13, 0x00, 0x00, 0x51, 0x00, 0x00, 0x5f, 0x00, 0x00, 0x64, 0x00, 0x67, 0x00, 0x6a, 0x6d, 0x00,
};

static void kbd_defaults(struct ps2_kbd *k)
{
    k->set = 2;
    k->typematic = 0x2b; /* 10.9 characters/s after 500 ms */
}

void ps2_kbd_reset(struct ps2_kbd *k)
{
    q_clear(&k->port.rsp);
    q_clear(&k->port.data);
    k->port.expect = 0;
    kbd_defaults(k);
    k->leds = 0;
    k->scanning = true;
}

void ps2_kbd_init(struct ps2_kbd *k, void (*fn)(void *), void *opaque, const struct dev_log *log)
{
    memset(k, 0, sizeof *k);
    port_init(&k->port, fn, opaque, log);
    ps2_kbd_reset(k);
}

static void kbd_param(struct ps2_kbd *k, uint8_t cmd, uint8_t b)
{
    struct ps2_port *p = &k->port;
    switch (cmd) {
    case 0xed:
        k->leds = b & 7;
        reply(p, ACK);
        break;
    case 0xf0:
        if (b == 0) {
            reply(p, ACK);
            reply(p, k->set);
        } else if (b == 1 || b == 2) {
            k->set = b;
            q_clear(&p->data); /* codes queued in the old set would be garbage */
            reply(p, ACK);
        } else {
            dev_log(p->log, DEV_LOG_UNIMP, "ps2-kbd: scan code set %u refused\n", b);
            reply(p, RESEND);
        }
        break;
    case 0xf3:
        k->typematic = b & 0x7f;
        reply(p, ACK);
        break;
    default: /* FB-FD: set-3 key types, one key per byte until a command */
        reply(p, ACK);
        p->expect = cmd; /* keep taking key codes */
        break;
    }
}

void ps2_kbd_write(struct ps2_kbd *k, uint8_t b)
{
    struct ps2_port *p = &k->port;
    uint8_t cmd = p->expect;
    /* No parameter reaches 0xED, so such a byte is a new command that ends
     * the wait (as after an aborted LED update). */
    if (cmd && b < 0xed) {
        p->expect = 0;
        kbd_param(k, cmd, b);
        notify(p);
        return;
    }
    p->expect = 0;
    switch (b) {
    case 0xed: /* set LEDs */
    case 0xf0: /* get/set scan code set */
    case 0xf3: /* typematic rate/delay */
    case 0xfb: /* set-3: key typematic */
    case 0xfc: /* set-3: key make/break */
    case 0xfd: /* set-3: key make only */
        reply(p, ACK);
        p->expect = b;
        break;
    case 0xee:
        reply(p, ECHO);
        break;
    case 0xf2:
        reply(p, ACK);
        reply(p, 0xab);
        reply(p, 0x83);
        break;
    case 0xf4:
        q_clear(&p->data);
        k->scanning = true;
        reply(p, ACK);
        break;
    case 0xf5:
        q_clear(&p->data);
        kbd_defaults(k);
        k->scanning = false;
        reply(p, ACK);
        break;
    case 0xf6:
        q_clear(&p->data);
        kbd_defaults(k);
        reply(p, ACK);
        break;
    case 0xf7: /* set-3: all keys typematic / make-break / make / all */
    case 0xf8:
    case 0xf9:
    case 0xfa:
        reply(p, ACK);
        break;
    case 0xfe:
        reply(p, p->last);
        break;
    case 0xff:
        ps2_kbd_reset(k);
        reply(p, ACK);
        reply(p, BAT_OK); /* the self-test takes no time here */
        break;
    default:
        dev_log(p->log, DEV_LOG_GUEST_ERRORS, "ps2-kbd: unknown command 0x%02x\n", b);
        reply(p, RESEND);
        break;
    }
    notify(p);
}

/* Queue a whole key sequence or none of it (a half-sent E0 sequence would
 * leave the guest's decoder in the wrong state). */
static void kbd_emit(struct ps2_kbd *k, const uint8_t *seq, unsigned n)
{
    if (q_room(&k->port.data) < n) return;
    for (unsigned i = 0; i < n; i++)
        q_push(&k->port.data, seq[i]);
}

void ps2_kbd_key(struct ps2_kbd *k, unsigned code, bool down)
{
    if (!k->scanning) return;
    uint8_t seq[8];
    unsigned n = 0;
    if (code == INPUT_KEY_PAUSE) {
        /* Pause has no break code; its make is Ctrl+NumLock behind E1. */
        static const uint8_t s1[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
        static const uint8_t s2[] = {0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77};
        if (down) {
            if (k->set == 1)
                kbd_emit(k, s1, sizeof s1);
            else
                kbd_emit(k, s2, sizeof s2);
        }
        notify(&k->port);
        return;
    }
    bool e0 = code & INPUT_KEY_E0;
    uint8_t c = code & 0x7f;
    if ((code & ~(INPUT_KEY_E0 | 0x7fu)) || !set1_to_set2[c]) return;
    if (code == (INPUT_KEY_E0 | 0x37)) {
        /* PrintScreen alone is sent wrapped in a fake left Shift. */
        static const uint8_t m1[] = {0xe0, 0x2a, 0xe0, 0x37}, b1[] = {0xe0, 0xb7, 0xe0, 0xaa};
        static const uint8_t m2[] = {0xe0, 0x12, 0xe0, 0x7c};
        static const uint8_t b2[] = {0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12};
        if (k->set == 1)
            kbd_emit(k, down ? m1 : b1, 4);
        else if (down)
            kbd_emit(k, m2, sizeof m2);
        else
            kbd_emit(k, b2, sizeof b2);
        notify(&k->port);
        return;
    }
    if (e0) seq[n++] = 0xe0;
    if (k->set == 1) {
        seq[n++] = (uint8_t)(down ? c : c | 0x80);
    } else {
        if (!down) seq[n++] = 0xf0;
        seq[n++] = set1_to_set2[c];
    }
    kbd_emit(k, seq, n);
    notify(&k->port);
}

void ps2_kbd_save(struct ps2_kbd *k, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "ps2kbd.version", &version, sizeof version);
    port_save(&k->port, "ps2kbd", s);
    STATE_PUT(s, "ps2kbd.", k->set);
    STATE_PUT(s, "ps2kbd.", k->scanning);
    STATE_PUT(s, "ps2kbd.", k->leds);
    STATE_PUT(s, "ps2kbd.", k->typematic);
}

int ps2_kbd_load(struct ps2_kbd *k, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "ps2kbd.version", &version, sizeof version) || version != 1) return -1;
    port_load(&k->port, "ps2kbd", s);
    STATE_GET(s, "ps2kbd.", k->set);
    STATE_GET(s, "ps2kbd.", k->scanning);
    STATE_GET(s, "ps2kbd.", k->leds);
    STATE_GET(s, "ps2kbd.", k->typematic);
    if (k->set != 1 && k->set != 2) k->set = 2;
    notify(&k->port);
    return 0;
}

/* --- mouse --- */

static void mouse_defaults(struct ps2_mouse *m)
{
    m->sample_rate = 100;
    m->resolution = 2; /* 4 counts/mm */
    m->scale21 = false;
    m->reporting = false;
    m->remote = false;
}

void ps2_mouse_reset(struct ps2_mouse *m)
{
    q_clear(&m->port.rsp);
    q_clear(&m->port.data);
    m->port.expect = 0;
    mouse_defaults(m);
    m->wrap = false;
    m->id = 0;
    memset(m->rates, 0, sizeof m->rates);
    m->dx = m->dy = m->dz = 0;
}

void ps2_mouse_init(struct ps2_mouse *m, void (*fn)(void *), void *opaque,
                    const struct dev_log *log)
{
    memset(m, 0, sizeof *m);
    port_init(&m->port, fn, opaque, log);
    ps2_mouse_reset(m);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* 2:1 scaling, applied to stream-mode reports only. */
static int scale(const struct ps2_mouse *m, int v)
{
    if (!m->scale21 || m->remote) return v;
    static const int small[6] = {0, 1, 1, 3, 6, 9};
    int a = v < 0 ? -v : v;
    a = a < 6 ? small[a] : 2 * a;
    return v < 0 ? -a : a;
}

static unsigned packet_size(const struct ps2_mouse *m)
{
    return m->id ? 4 : 3;
}

/* Build one packet from the accumulated motion into q (rsp for a Read Data
 * reply, data for the stream) and consume what it reports. */
static void mouse_packet(struct ps2_mouse *m, struct ps2_queue *q)
{
    int dx = clampi(m->dx, -255, 255), dy = clampi(m->dy, -255, 255);
    int sdx = clampi(scale(m, dx), -256, 255), sdy = clampi(scale(m, dy), -256, 255);
    uint8_t b0 = 0x08 | (m->buttons & 1) | (m->buttons & 2) | ((m->buttons & 4) ? 4 : 0);
    if (sdx < 0) b0 |= 0x10;
    if (sdy < 0) b0 |= 0x20;
    q_push(q, b0);
    q_push(q, (uint8_t)sdx);
    q_push(q, (uint8_t)sdy);
    m->dx -= dx;
    m->dy -= dy;
    if (m->id == 3) {
        int dz = clampi(m->dz, -127, 127);
        q_push(q, (uint8_t)dz);
        m->dz -= dz;
    } else if (m->id == 4) {
        int dz = clampi(m->dz, -8, 7);
        q_push(q, (uint8_t)((dz & 0x0f) | ((m->buttons & INPUT_BUTTON_SIDE) ? 0x10 : 0) |
                            ((m->buttons & INPUT_BUTTON_EXTRA) ? 0x20 : 0)));
        m->dz -= dz;
    } else {
        m->dz = 0;
    }
}

static void mouse_stream(struct ps2_mouse *m, bool force)
{
    if (!m->reporting || m->remote || m->wrap) return;
    bool first = true;
    while ((force && first) || m->dx || m->dy || m->dz) {
        if (q_room(&m->port.data) < packet_size(m)) break;
        mouse_packet(m, &m->port.data);
        first = false;
    }
}

void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons)
{
    bool changed = (buttons & 0x1f) != m->buttons;
    m->buttons = buttons & 0x1f;
    /* Bound the backlog: a stalled guest need not see every pixel. */
    m->dx = clampi(m->dx + dx, -4096, 4096);
    m->dy = clampi(m->dy - dy, -4096, 4096);
    m->dz = clampi(m->dz + dz, -128, 128);
    mouse_stream(m, changed);
    notify(&m->port);
}

static void mouse_param(struct ps2_mouse *m, uint8_t cmd, uint8_t b)
{
    struct ps2_port *p = &m->port;
    if (cmd == 0xe8) {
        m->resolution = b & 3;
        reply(p, ACK);
        return;
    }
    /* 0xf3: sample rate */
    static const uint8_t valid[] = {10, 20, 40, 60, 80, 100, 200};
    bool ok = false;
    for (unsigned i = 0; i < sizeof valid; i++)
        ok |= b == valid[i];
    if (!ok) {
        reply(p, RESEND);
        return;
    }
    m->sample_rate = b;
    m->rates[0] = m->rates[1];
    m->rates[1] = m->rates[2];
    m->rates[2] = b;
    if (m->rates[0] == 200 && m->rates[1] == 100 && m->rates[2] == 80)
        m->id = 3;
    else if (m->rates[0] == 200 && m->rates[1] == 200 && m->rates[2] == 80)
        m->id = 4;
    reply(p, ACK);
}

void ps2_mouse_write(struct ps2_mouse *m, uint8_t b)
{
    struct ps2_port *p = &m->port;
    if (p->expect) {
        uint8_t cmd = p->expect;
        p->expect = 0;
        mouse_param(m, cmd, b);
        notify(p);
        return;
    }
    if (m->wrap && b != 0xec && b != 0xff) {
        reply(p, b);
        notify(p);
        return;
    }
    switch (b) {
    case 0xe6:
        m->scale21 = false;
        reply(p, ACK);
        break;
    case 0xe7:
        m->scale21 = true;
        reply(p, ACK);
        break;
    case 0xe8:
    case 0xf3:
        reply(p, ACK);
        p->expect = b;
        break;
    case 0xe9: {
        uint8_t st = (uint8_t)((m->remote ? 0x40 : 0) | (m->reporting ? 0x20 : 0) |
                               (m->scale21 ? 0x10 : 0) | ((m->buttons & 1) ? 4 : 0) |
                               ((m->buttons & 4) ? 2 : 0) | ((m->buttons & 2) ? 1 : 0));
        reply(p, ACK);
        reply(p, st);
        reply(p, m->resolution);
        reply(p, m->sample_rate);
        break;
    }
    case 0xea:
        m->remote = false;
        m->dx = m->dy = m->dz = 0;
        reply(p, ACK);
        break;
    case 0xeb:
        reply(p, ACK);
        mouse_packet(m, &p->rsp);
        break;
    case 0xec:
        m->wrap = false;
        reply(p, ACK);
        break;
    case 0xee:
        m->wrap = true;
        m->dx = m->dy = m->dz = 0;
        reply(p, ACK);
        break;
    case 0xf0:
        m->remote = true;
        m->dx = m->dy = m->dz = 0;
        reply(p, ACK);
        break;
    case 0xf2:
        reply(p, ACK);
        reply(p, m->id);
        break;
    case 0xf4:
        m->reporting = true;
        q_clear(&p->data);
        m->dx = m->dy = m->dz = 0;
        reply(p, ACK);
        break;
    case 0xf5:
        m->reporting = false;
        q_clear(&p->data);
        reply(p, ACK);
        break;
    case 0xf6:
        mouse_defaults(m);
        q_clear(&p->data);
        reply(p, ACK);
        break;
    case 0xfe:
        reply(p, p->last);
        break;
    case 0xff:
        ps2_mouse_reset(m);
        reply(p, ACK);
        reply(p, BAT_OK);
        reply(p, 0x00);
        break;
    default:
        dev_log(p->log, DEV_LOG_GUEST_ERRORS, "ps2-mouse: unknown command 0x%02x\n", b);
        reply(p, RESEND);
        break;
    }
    notify(p);
}

#define MOUSE_FIELDS(X)                                                                            \
    X(remote)                                                                                      \
    X(wrap) X(reporting) X(scale21) X(resolution) X(sample_rate) X(id) X(rates) X(buttons) X(dx)   \
        X(dy) X(dz)

void ps2_mouse_save(struct ps2_mouse *m, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "ps2mouse.version", &version, sizeof version);
    port_save(&m->port, "ps2mouse", s);
#define X(f) state_put(s, "ps2mouse." #f, &m->f, sizeof m->f);
    MOUSE_FIELDS(X)
#undef X
}

int ps2_mouse_load(struct ps2_mouse *m, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "ps2mouse.version", &version, sizeof version) || version != 1) return -1;
    port_load(&m->port, "ps2mouse", s);
#define X(f) state_get(s, "ps2mouse." #f, &m->f, sizeof m->f);
    MOUSE_FIELDS(X)
#undef X
    if (m->id != 0 && m->id != 3 && m->id != 4) m->id = 0;
    m->dx = clampi(m->dx, -4096, 4096);
    m->dy = clampi(m->dy, -4096, 4096);
    m->dz = clampi(m->dz, -128, 128);
    notify(&m->port);
    return 0;
}
