/*
 * pit.h — the 8254 programmable interval timer (ports 0x40-0x43) and the
 * part of system control port B (0x61) that belongs to it: channel 2's gate
 * and output, the speaker enable, and the refresh toggle BIOSes poll.
 */
#ifndef UMBRA_PIT_H
#define UMBRA_PIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"

#define PIT_HZ 1193182u

struct pit_channel {
    uint32_t count;    /* reload value, 1..65536 (binary) or 1..10000 (BCD) */
    uint64_t load_ns;  /* clock time at which the count started */
    uint64_t paused_d; /* ticks counted when the gate went low */
    uint8_t mode;      /* 0..5 */
    uint8_t rw;        /* 1 LSB, 2 MSB, 3 LSB then MSB */
    bool bcd;
    bool gate;
    bool counting;     /* a count has been written (and, mode 1/5, triggered) */
    bool null_count;
    bool write_msb;    /* rw 3: next write is the MSB */
    uint8_t write_lsb;
    bool read_msb;     /* rw 3: next read is the MSB */
    bool latched;      /* a counter latch holds latch_value */
    bool latch_msb;
    uint16_t latch_value;
    bool status_latched;
    uint8_t status;
    uint64_t last_d;   /* channel 0: ticks when the output was last evaluated */
};

struct pit {
    struct pit_channel ch[3];
    uint8_t port61; /* bits 0-3 as last written */
    struct clock *clock;
    struct clock_timer timer; /* channel 0's next output edge */
    struct irq_line irq0;
    const struct dev_log *log;
};

int pit_init(struct pit *p, struct bus *bus, struct clock *clock, struct irq_line irq0,
             const struct dev_log *log, char *err, size_t errlen);
void pit_reset(struct pit *p);
void pit_save(struct pit *p, struct state_buf *s);
int pit_load(struct pit *p, const struct state_buf *s);

/* For tests and the monitor: channel output and current count now. */
bool pit_out(struct pit *p, int ch);
uint32_t pit_counter(struct pit *p, int ch);

#endif
