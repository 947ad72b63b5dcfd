/*
 * irq.h — an interrupt request line as a small value: a callback, its opaque
 * and a line number.  A device raises and lowers its line without knowing
 * what is on the other end (the PIC in a PC, an IRQ sink in unit tests).
 */
#ifndef UMBRA_IRQ_H
#define UMBRA_IRQ_H

#include <stdbool.h>

struct irq_line {
    void (*set)(void *opaque, int line, bool level);
    void *opaque;
    int line;
};

static inline void irq_set(const struct irq_line *l, bool level)
{
    if (l->set)
        l->set(l->opaque, l->line, level);
}
static inline void irq_raise(const struct irq_line *l) { irq_set(l, true); }
static inline void irq_lower(const struct irq_line *l) { irq_set(l, false); }

#endif
