/*
 * pic.h — the PC's cascaded pair of 8259A interrupt controllers plus the
 * PIIX edge/level control registers (ELCR, ports 0x4d0/0x4d1).
 */
#ifndef UMBRA_PIC_H
#define UMBRA_PIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"

struct pic_chip {
    uint8_t irr, isr, imr;
    uint8_t line;         /* input levels as last seen (edge detection) */
    uint8_t elcr;         /* level-triggered inputs (ELCR) */
    uint8_t elcr_mask;    /* inputs that may be level-triggered */
    uint8_t vector_base;  /* ICW2 & 0xf8 */
    uint8_t priority_add; /* the input with the highest priority (rotation) */
    uint8_t icw3;
    uint8_t init_state;   /* 0 = ready (OCWs), 1..3 = expecting ICW2..ICW4 */
    bool init4, single, ltim;
    bool auto_eoi, rotate_on_aeoi, sfnm;
    bool read_isr, poll, special_mask;
};

struct pic {
    struct pic_chip chip[2]; /* master, slave */
    struct irq_line out;     /* INTR to the CPU */
    bool out_level;
    const struct dev_log *log;
};

/* Registers 0x20-0x21, 0xa0-0xa1, 0x4d0-0x4d1. */
int pic_init(struct pic *p, struct bus *bus, struct irq_line out, const struct dev_log *log,
             char *err, size_t errlen);
void pic_reset(struct pic *p);
void pic_save(struct pic *p, struct state_buf *s);
int pic_load(struct pic *p, const struct state_buf *s);

/* Input lines 0..15; a device's struct irq_line for input n. */
void pic_set_irq(struct pic *p, int irq, bool level);
struct irq_line pic_irq_line(struct pic *p, int irq);
/* The CPU's interrupt acknowledge: returns the vector (a spurious IRQ 7/15
 * vector if the request went away). */
uint8_t pic_ack(struct pic *p);

#endif
