/*
 * i8042.c — the AT keyboard controller with a PS/2 auxiliary port (IBM PS/2
 * Technical Reference, "Keyboard/Auxiliary Device Controller"): status
 * register, internal RAM read/write (0x20-0x3f / 0x60-0x7f, RAM 0 being the
 * command byte), self-test (0xAA → 0x55), interface tests (0xA9/0xAB → 0),
 * disable/enable of the keyboard and auxiliary interfaces (0xAD/0xAE,
 * 0xA7/0xA8), input port (0xC0), output port read/write (0xD0/0xD1) with the
 * A20 gate (bit 1) and CPU reset (bit 0, active low), writes to the keyboard
 * and aux output buffers and to the aux device (0xD2/0xD3/0xD4), the A20
 * shortcuts 0xDD/0xDF, and output-port pulses (0xF0-0xFF, 0xFE = reset).
 *
 * Design choices: the controller is infinitely fast — the input buffer is
 * never full, and a byte the device has ready enters the output buffer the
 * moment the previous one is read, so its IRQ line drops and rises again
 * (a fresh edge for the PIC).  Replies of the controller itself take
 * precedence over device bytes.  Scan code translation (command byte bit 6)
 * applies only to bytes from the keyboard, with the 8042's fixed table;
 * translation swallows the set-2 break prefix F0 and sets bit 7 of the next
 * byte instead.  Sending a byte to a device enables its interface, as AT
 * controller firmware does.
 */
#include "devices/i8042.h"

#include <stdio.h>
#include <string.h>

enum {
    ST_OBF = 0x01,
    ST_IBF = 0x02,
    ST_SYS = 0x04,
    ST_A2 = 0x08,
    ST_UNLOCKED = 0x10,
    ST_AUX = 0x20,
    CB_KBD_INT = 0x01,
    CB_AUX_INT = 0x02,
    CB_SYS = 0x04,
    CB_KBD_OFF = 0x10,
    CB_AUX_OFF = 0x20,
    CB_XLATE = 0x40,
    OP_RESET = 0x01,
    OP_A20 = 0x02,
    OP_KBD_OBF = 0x10,
    OP_AUX_OBF = 0x20,
};

/* The 8042's set-2 → set-1 translation for bytes 0x00-0x84 (the inverse of
 * ps2.c's set-1 → set-2 table; codes no key sends pass unchanged).  Bytes
 * above 0x84 (prefixes and replies such as FA, AA, E0) are not translated. */
static const uint8_t set2_to_set1[0x85] = {
    0xff, 0x43, 0x41, 0x3f, 0x3d, 0x3b, 0x3c, 0x58, 0x64, 0x44, 0x42, 0x40, 0x3e, 0x0f, 0x29,
    0x59, 0x65, 0x38, 0x2a, 0x70, 0x1d, 0x10, 0x02, 0x17, 0x66, 0x19, 0x2c, 0x1f, 0x1e, 0x11,
    0x03, 0x5b, 0x67, 0x2e, 0x2d, 0x20, 0x12, 0x05, 0x04, 0x5c, 0x68, 0x39, 0x2f, 0x21, 0x14,
    0x13, 0x06, 0x5d, 0x69, 0x31, 0x30, 0x23, 0x22, 0x15, 0x07, 0x5e, 0x6a, 0x39, 0x32, 0x24,
    0x16, 0x08, 0x09, 0x5f, 0x6b, 0x33, 0x25, 0x17, 0x18, 0x0b, 0x0a, 0x47, 0x6c, 0x34, 0x35,
    0x26, 0x27, 0x19, 0x0c, 0x4f, 0x6d, 0x73, 0x28, 0x53, 0x1a, 0x0d, 0x56, 0x6e, 0x3a, 0x36,
    0x1c, 0x1b, 0x5c, 0x2b, 0x63, 0x76, 0x60, 0x56, 0x62, 0x63, 0x79, 0x65, 0x0e, 0x7b, 0x68,
    0x4f, 0x7d, 0x4b, 0x47, 0x7e, 0x6e, 0x6f, 0x52, 0x53, 0x50, 0x4c, 0x4d, 0x48, 0x01, 0x45,
    0x57, 0x4e, 0x51, 0x4a, 0x37, 0x49, 0x46, 0x7f, 0x80, 0x81, 0x82, 0x41, 0x54,
};

static uint8_t *cmd_byte(struct i8042 *k)
{
    return &k->ram[0];
}

static void update_irq(struct i8042 *k)
{
    bool l1 = k->obf && !k->obf_aux && (k->ram[0] & CB_KBD_INT);
    bool l12 = k->obf && k->obf_aux && (k->ram[0] & CB_AUX_INT);
    if (l1 != k->irq1_level) {
        k->irq1_level = l1;
        irq_set(&k->irq1, l1);
    }
    if (l12 != k->irq12_level) {
        k->irq12_level = l12;
        irq_set(&k->irq12, l12);
    }
}

static void ctrl_reply(struct i8042 *k, uint8_t b, bool aux)
{
    if (k->ctrl_n >= I8042_CTRL_QUEUE) return;
    k->ctrl_q[k->ctrl_n] = b;
    if (aux)
        k->ctrl_aux |= (uint8_t)(1u << k->ctrl_n);
    else
        k->ctrl_aux &= (uint8_t) ~(1u << k->ctrl_n);
    k->ctrl_n++;
}

static uint8_t ctrl_pop(struct i8042 *k, bool *aux)
{
    uint8_t b = k->ctrl_q[0];
    *aux = k->ctrl_aux & 1;
    memmove(k->ctrl_q, k->ctrl_q + 1, I8042_CTRL_QUEUE - 1);
    k->ctrl_aux >>= 1;
    k->ctrl_n--;
    return b;
}

/* Load the output buffer if it is empty and someone has a byte for it. */
static void refill(struct i8042 *k)
{
    while (!k->obf) {
        bool aux = false;
        if (k->ctrl_n) {
            k->obuf = ctrl_pop(k, &aux);
        } else if (!(k->ram[0] & CB_KBD_OFF) && ps2_pending(&k->kbd.port)) {
            uint8_t b = ps2_take(&k->kbd.port);
            if (k->ram[0] & CB_XLATE) {
                if (b == 0xf0) {
                    k->xlate_f0 = true;
                    continue;
                }
                if (b < sizeof set2_to_set1) b = set2_to_set1[b];
                if (k->xlate_f0) b |= 0x80;
                k->xlate_f0 = false;
            }
            k->obuf = b;
        } else if (!(k->ram[0] & CB_AUX_OFF) && ps2_pending(&k->mouse.port)) {
            k->obuf = ps2_take(&k->mouse.port);
            aux = true;
        } else {
            break;
        }
        k->obf = true;
        k->obf_aux = aux;
    }
    update_irq(k);
}

static void device_notify(void *opaque)
{
    refill(opaque);
}

static void write_outport(struct i8042 *k, uint8_t v)
{
    uint8_t old = k->outport;
    k->outport = v;
    if ((old ^ v) & OP_A20) k->set_a20(k->opaque, v & OP_A20);
    if (!(v & OP_RESET)) {
        /* The reset line is active low; the CPU restarts with it released
         * (the BIOS would find the output port as after a reset). */
        k->outport |= OP_RESET;
        k->reset(k->opaque);
    }
}

static uint8_t read_outport(const struct i8042 *k)
{
    uint8_t v = k->outport & ~(OP_KBD_OBF | OP_AUX_OBF);
    if (k->obf) v |= k->obf_aux ? OP_AUX_OBF : OP_KBD_OBF;
    return v;
}

static void command(struct i8042 *k, uint8_t c)
{
    k->pending = 0;
    if (c >= 0x20 && c < 0x40) {
        ctrl_reply(k, k->ram[c & 0x1f], false);
    } else if (c >= 0x60 && c < 0x80) {
        k->pending = c;
    } else if (c >= 0xf0) {
        /* Pulse the output port lines whose bits are 0 (bit 0: reset). */
        if (!(c & 1)) k->reset(k->opaque);
    } else {
        switch (c) {
        case 0xa4: /* password installed? */
            ctrl_reply(k, 0xf1, false);
            break;
        case 0xa7:
            *cmd_byte(k) |= CB_AUX_OFF;
            break;
        case 0xa8:
            *cmd_byte(k) &= ~CB_AUX_OFF;
            break;
        case 0xa9: /* aux interface test: no error */
        case 0xab: /* keyboard interface test */
            ctrl_reply(k, 0x00, false);
            break;
        case 0xaa:
            k->status |= ST_SYS;
            ctrl_reply(k, 0x55, false);
            break;
        case 0xad:
            *cmd_byte(k) |= CB_KBD_OFF;
            break;
        case 0xae:
            *cmd_byte(k) &= ~CB_KBD_OFF;
            break;
        case 0xc0: /* input port: keyboard not inhibited, colour display */
            ctrl_reply(k, 0x80, false);
            break;
        case 0xd0:
            ctrl_reply(k, read_outport(k), false);
            break;
        case 0xd1:
        case 0xd2:
        case 0xd3:
        case 0xd4:
            k->pending = c;
            break;
        case 0xdd:
            write_outport(k, k->outport & ~OP_A20);
            break;
        case 0xdf:
            write_outport(k, k->outport | OP_A20);
            break;
        case 0xe0: /* test inputs: clock and data low */
            ctrl_reply(k, 0x00, false);
            break;
        default:
            dev_log(k->log, DEV_LOG_UNIMP, "i8042: command 0x%02x not implemented\n", c);
            break;
        }
    }
    refill(k);
}

static void data_write(struct i8042 *k, uint8_t v)
{
    uint8_t c = k->pending;
    k->pending = 0;
    if (c >= 0x60 && c < 0x80) {
        k->ram[c & 0x1f] = v;
        if (c == 0x60) {
            if (v & CB_SYS)
                k->status |= ST_SYS;
            else
                k->status &= ~ST_SYS;
        }
    } else if (c == 0xd1) {
        write_outport(k, v);
    } else if (c == 0xd2) {
        ctrl_reply(k, v, false);
    } else if (c == 0xd3) {
        ctrl_reply(k, v, true);
    } else if (c == 0xd4) {
        *cmd_byte(k) &= ~CB_AUX_OFF;
        ps2_mouse_write(&k->mouse, v);
    } else {
        *cmd_byte(k) &= ~CB_KBD_OFF;
        ps2_kbd_write(&k->kbd, v);
    }
    refill(k);
}

static uint32_t status_read(void *opaque, uint16_t off, unsigned size)
{
    struct i8042 *k = opaque;
    uint8_t st = (k->status & (ST_SYS | ST_A2)) | ST_UNLOCKED;
    if (k->obf) st |= ST_OBF | (k->obf_aux ? ST_AUX : 0);
    return st;
}

static uint32_t data_read(void *opaque, uint16_t off, unsigned size)
{
    struct i8042 *k = opaque;
    /* Reading an empty buffer returns the stale byte, as the latch does. */
    uint8_t v = k->obuf;
    if (k->obf) {
        k->obf = false;
        k->obf_aux = false;
        update_irq(k);
        refill(k);
    }
    return v;
}

static void command_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct i8042 *k = opaque;
    k->status |= ST_A2;
    command(k, (uint8_t)v);
}

static void data_port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct i8042 *k = opaque;
    k->status &= ~ST_A2;
    data_write(k, (uint8_t)v);
}

void i8042_key(struct i8042 *k, unsigned code, bool down)
{
    ps2_kbd_key(&k->kbd, code, down);
}

void i8042_mouse(struct i8042 *k, int dx, int dy, int dz, unsigned buttons)
{
    ps2_mouse_event(&k->mouse, dx, dy, dz, buttons);
}

bool i8042_a20(const struct i8042 *k)
{
    return k->outport & OP_A20;
}

void i8042_reset(struct i8042 *k)
{
    memset(k->ram, 0, sizeof k->ram);
    /* The power-on command byte of AT firmware: keyboard interrupt on,
     * translation on, aux disabled until a driver wants it. */
    k->ram[0] = CB_KBD_INT | CB_XLATE | CB_AUX_OFF;
    k->status = 0;
    k->obf = k->obf_aux = false;
    k->pending = 0;
    k->xlate_f0 = false;
    k->ctrl_n = 0;
    k->ctrl_aux = 0;
    bool a20 = k->outport & OP_A20;
    k->outport = 0xcf; /* reset released, A20 on, clock/data high */
    if (!a20) k->set_a20(k->opaque, true);
    ps2_kbd_reset(&k->kbd);
    ps2_mouse_reset(&k->mouse);
    update_irq(k);
}

int i8042_init(struct i8042 *k, struct bus *bus, struct irq_line irq1, struct irq_line irq12,
               void (*set_a20)(void *, bool), void (*reset)(void *), void *opaque,
               const struct dev_log *log, char *err, size_t errlen)
{
    memset(k, 0, sizeof *k);
    k->irq1 = irq1;
    k->irq12 = irq12;
    k->set_a20 = set_a20;
    k->reset = reset;
    k->opaque = opaque;
    k->log = log;
    ps2_kbd_init(&k->kbd, device_notify, k, log);
    ps2_mouse_init(&k->mouse, device_notify, k, log);
    i8042_reset(k);
    /* Two ranges: port 0x61 between them belongs to the PIT/speaker. */
    if (bus_register(bus, 0x60, 1, BUS_W8, "i8042-data", data_read, data_port_write, k, err,
                     errlen))
        return -1;
    return bus_register(bus, 0x64, 1, BUS_W8, "i8042-cmd", status_read, command_write, k, err,
                        errlen);
}

#define I8042_FIELDS(X)                                                                            \
    X(ram)                                                                                         \
    X(status) X(outport) X(obuf) X(obf) X(obf_aux) X(pending) X(xlate_f0) X(ctrl_q) X(ctrl_aux)    \
        X(ctrl_n)

void i8042_save(struct i8042 *k, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "i8042.version", &version, sizeof version);
#define X(f) state_put(s, "i8042." #f, &k->f, sizeof k->f);
    I8042_FIELDS(X)
#undef X
    ps2_kbd_save(&k->kbd, s);
    ps2_mouse_save(&k->mouse, s);
}

int i8042_load(struct i8042 *k, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "i8042.version", &version, sizeof version) || version != 1) return -1;
#define X(f) state_get(s, "i8042." #f, &k->f, sizeof k->f);
    I8042_FIELDS(X)
#undef X
    if (k->ctrl_n > I8042_CTRL_QUEUE) k->ctrl_n = I8042_CTRL_QUEUE;
    if (ps2_kbd_load(&k->kbd, s) || ps2_mouse_load(&k->mouse, s)) return -1;
    k->set_a20(k->opaque, k->outport & OP_A20);
    bool l1 = k->obf && !k->obf_aux && (k->ram[0] & CB_KBD_INT);
    bool l12 = k->obf && k->obf_aux && (k->ram[0] & CB_AUX_INT);
    k->irq1_level = l1;
    k->irq12_level = l12;
    irq_set(&k->irq1, l1);
    irq_set(&k->irq12, l12);
    refill(k);
    return 0;
}
