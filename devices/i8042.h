/*
 * i8042.h — the PC/AT keyboard controller (an Intel 8042 running the AT
 * firmware, PS/2 style with an auxiliary port): ports 0x60 (data) and 0x64
 * (status/command), IRQ1 for the keyboard and IRQ12 for the mouse, and the
 * output port's A20 gate and CPU reset lines.
 */
#ifndef UMBRA_I8042_H
#define UMBRA_I8042_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/ps2.h"
#include "devices/state.h"

#define I8042_CTRL_QUEUE 8

struct i8042 {
    uint8_t ram[32]; /* internal RAM 0x00-0x1f; ram[0] is the command byte */
    uint8_t status;  /* the stored status bits (SYS, A2) */
    uint8_t outport;
    uint8_t obuf;                     /* output buffer */
    bool obf, obf_aux;                /* full; and holds a mouse byte */
    uint8_t pending;                  /* command waiting for its data byte, or 0 */
    bool xlate_f0;                    /* translation: a break prefix was swallowed */
    uint8_t ctrl_q[I8042_CTRL_QUEUE]; /* the controller's own replies */
    uint8_t ctrl_aux;                 /* bit i: ctrl_q[i] is for the aux port (0xD3) */
    uint8_t ctrl_n;

    struct ps2_kbd kbd;
    struct ps2_mouse mouse;
    struct irq_line irq1, irq12;
    bool irq1_level, irq12_level;
    void (*set_a20)(void *opaque, bool on);
    void (*reset)(void *opaque); /* pulse of the CPU reset line */
    void *opaque;
    const struct dev_log *log;
};

int i8042_init(struct i8042 *k, struct bus *bus, struct irq_line irq1, struct irq_line irq12,
               void (*set_a20)(void *, bool), void (*reset)(void *), void *opaque,
               const struct dev_log *log, char *err, size_t errlen);
void i8042_reset(struct i8042 *k);
void i8042_save(struct i8042 *k, struct state_buf *s);
int i8042_load(struct i8042 *k, const struct state_buf *s);

/* Frontend input (input.h codes) reaches the devices through these. */
void i8042_key(struct i8042 *k, unsigned code, bool down);
void i8042_mouse(struct i8042 *k, int dx, int dy, int dz, unsigned buttons);
/* Whether the output port currently gates A20 on. */
bool i8042_a20(const struct i8042 *k);

#endif
