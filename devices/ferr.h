/*
 * ferr.h — the PC/AT's legacy x87 error path: the CPU's FERR# output drives
 * IRQ13 through a latch that a write to port 0xF0 clears (IGNNE#).
 */
#ifndef UMBRA_FERR_H
#define UMBRA_FERR_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/state.h"

struct ferr {
    struct irq_line irq; /* ISA IRQ13 */
    bool latched;
};

int ferr_init(struct ferr *f, struct bus *bus, struct irq_line irq, char *err, size_t errlen);
void ferr_reset(struct ferr *f);
/* The CPU's FERR# level changed (struct fpu_state.ferr_changed). */
void ferr_set_level(void *opaque, bool level);
void ferr_save(struct ferr *f, struct state_buf *b);
int ferr_load(struct ferr *f, const struct state_buf *b);

#endif
