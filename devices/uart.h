/*
 * uart.h — a National Semiconductor 16550A UART (a PC's COM port).
 */
#ifndef UMBRA_UART_H
#define UMBRA_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/chardev.h"
#include "devices/clock.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"

#define UART_FIFO_SIZE 16
/* How often host input is polled (ns). */
#define UART_POLL_NS 1000000u

struct uart {
    /* Registers */
    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    uint16_t divisor;
    /* Receive FIFO (depth 1 when FIFOs are disabled) */
    uint8_t rx[UART_FIFO_SIZE];
    uint8_t rx_head, rx_count;
    bool thre_pending;    /* THR-empty interrupt pending */
    bool timeout_pending; /* character-timeout interrupt pending */

    uint16_t base;
    struct irq_line irq;
    bool irq_level;
    struct clock *clock;
    struct clock_timer poll_timer;
    struct clock_timer timeout_timer;
    struct chardev chr;
    const struct dev_log *log;
};

int uart_init(struct uart *u, struct bus *bus, uint16_t base, struct irq_line irq,
              struct clock *clock, const struct chardev *chr, const struct dev_log *log, char *err,
              size_t errlen);
void uart_reset(struct uart *u);
void uart_save(struct uart *u, struct state_buf *s);
int uart_load(struct uart *u, const struct state_buf *s);

/* Pull pending host input into the receive FIFO now (the poll timer does
 * this periodically). */
void uart_poll(struct uart *u);
/* Deliver bytes as if received on the line; returns how many fit. */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len);

#endif
