/*
 * ps2.h — the PS/2 keyboard and mouse: the devices at the far end of the
 * 8042's two serial ports.  The controller writes command bytes to them and
 * pulls the bytes they queue; they tell it when they have something.
 */
#ifndef UMBRA_PS2_H
#define UMBRA_PS2_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/log.h"
#include "devices/state.h"

#define PS2_QUEUE_SIZE 256
#define PS2_RSP_SIZE 8

struct ps2_queue {
    uint8_t data[PS2_QUEUE_SIZE];
    uint16_t head, count;
};

/* What both devices share: command responses go ahead of queued input, the
 * way a real device answers a command before resuming its stream. */
struct ps2_port {
    struct ps2_queue rsp;  /* replies to the host's commands */
    struct ps2_queue data; /* scan codes / movement packets */
    uint8_t expect;        /* command awaiting its parameter byte, or 0 */
    uint8_t last;          /* last byte sent, for Resend (0xFE) */
    void (*notify)(void *opaque);
    void *notify_opaque;
    const struct dev_log *log;
};

struct ps2_kbd {
    struct ps2_port port;
    uint8_t set; /* scan code set 1 or 2 */
    bool scanning;
    uint8_t leds;
    uint8_t typematic; /* stored: repeats come from the frontend */
};

struct ps2_mouse {
    struct ps2_port port;
    bool remote, wrap, reporting, scale21;
    uint8_t resolution, sample_rate, id;
    uint8_t rates[3]; /* the last three sample rates, for the ID magic */
    uint8_t buttons;
    int32_t dx, dy, dz; /* motion not yet reported (PS/2 axes: y up) */
};

void ps2_kbd_init(struct ps2_kbd *k, void (*notify)(void *), void *opaque,
                  const struct dev_log *log);
void ps2_kbd_reset(struct ps2_kbd *k);
void ps2_kbd_write(struct ps2_kbd *k, uint8_t b);              /* a byte from the host */
void ps2_kbd_key(struct ps2_kbd *k, unsigned code, bool down); /* input.h codes */
void ps2_kbd_save(struct ps2_kbd *k, struct state_buf *s);
int ps2_kbd_load(struct ps2_kbd *k, const struct state_buf *s);

void ps2_mouse_init(struct ps2_mouse *m, void (*notify)(void *), void *opaque,
                    const struct dev_log *log);
void ps2_mouse_reset(struct ps2_mouse *m);
void ps2_mouse_write(struct ps2_mouse *m, uint8_t b);
void ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons);
void ps2_mouse_save(struct ps2_mouse *m, struct state_buf *s);
int ps2_mouse_load(struct ps2_mouse *m, const struct state_buf *s);

/* The controller's side: is a byte waiting, and take it. */
bool ps2_pending(const struct ps2_port *p);
uint8_t ps2_take(struct ps2_port *p);

#endif
