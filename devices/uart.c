/*
 * uart.c — National Semiconductor PC16550D UART (datasheet, June 1995):
 * RBR/THR, IER, IIR/FCR, LCR, MCR, LSR, MSR, SCR, the DLAB divisor latch,
 * 16-byte receive FIFO with trigger levels and character timeout, the four
 * prioritized interrupt sources, and loopback (MCR bit 4).
 *
 * Design choices: transmission takes no time — a THR write goes straight to
 * the character backend (or, in loopback, to the receiver), so THRE and TEMT
 * always read 1.  The THRE interrupt follows the datasheet: it is set when
 * the transmitter empties and when ETBEI is enabled with THR empty, and is
 * cleared by a THR write or by reading IIR while THRE is the source; since a
 * THR write clears and re-sets it at once, the IRQ line is dropped and raised
 * again so the edge-triggered PIC sees a new interrupt.  Host input is polled
 * from a clock timer and only as much as fits in the FIFO is read (the host
 * gets back-pressure, so the guest never sees an overrun from the host).
 * The INTR output reaches the PIC only while MCR.OUT2 is set, which is how a
 * PC gates COM port interrupts.
 */
#include "devices/uart.h"

#include <stdio.h>
#include <string.h>

enum {
    IER_RDA = 0x01, IER_THRE = 0x02, IER_RLS = 0x04, IER_MS = 0x08,
    IIR_NONE = 0x01, IIR_MS = 0x00, IIR_THRE = 0x02, IIR_RDA = 0x04, IIR_RLS = 0x06,
    IIR_TIMEOUT = 0x0c, IIR_FIFO = 0xc0,
    FCR_ENABLE = 0x01, FCR_CLR_RX = 0x02, FCR_CLR_TX = 0x04,
    LCR_DLAB = 0x80,
    MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10,
    LSR_DR = 0x01, LSR_OE = 0x02, LSR_PE = 0x04, LSR_FE = 0x08, LSR_BI = 0x10, LSR_THRE = 0x20,
    LSR_TEMT = 0x40, LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI,
    MSR_DCTS = 0x01, MSR_DDSR = 0x02, MSR_TERI = 0x04, MSR_DDCD = 0x08, MSR_DELTAS = 0x0f,
    MSR_CTS = 0x10, MSR_DSR = 0x20, MSR_RI = 0x40, MSR_DCD = 0x80,
};

/* Modem inputs from the host side: a connected terminal. */
#define MSR_EXTERNAL (MSR_DCD | MSR_DSR | MSR_CTS)

static bool fifo_on(const struct uart *u) { return u->fcr & FCR_ENABLE; }

static unsigned rx_capacity(const struct uart *u) { return fifo_on(u) ? UART_FIFO_SIZE : 1; }

static unsigned rx_trigger(const struct uart *u)
{
    static const uint8_t levels[4] = {1, 4, 8, 14};
    return fifo_on(u) ? levels[u->fcr >> 6] : 1;
}

static uint8_t uart_iir(const struct uart *u)
{
    uint8_t id = IIR_NONE;
    if ((u->ier & IER_RLS) && (u->lsr & LSR_ERRORS))
        id = IIR_RLS;
    else if ((u->ier & IER_RDA) && u->rx_count >= rx_trigger(u))
        id = IIR_RDA;
    else if ((u->ier & IER_RDA) && u->timeout_pending)
        id = IIR_TIMEOUT;
    else if ((u->ier & IER_THRE) && u->thre_pending)
        id = IIR_THRE;
    else if ((u->ier & IER_MS) && (u->msr & MSR_DELTAS))
        id = IIR_MS;
    return id | (fifo_on(u) ? IIR_FIFO : 0);
}

static void uart_update_irq(struct uart *u)
{
    bool level = !(uart_iir(u) & IIR_NONE) && (u->mcr & MCR_OUT2);
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_set(&u->irq, level);
    }
}

/* Time of one character frame at the programmed divisor and format. */
static uint64_t char_ns(const struct uart *u)
{
    unsigned bits = 1 + 5 + (u->lcr & 3) + ((u->lcr >> 3) & 1) + 1 + ((u->lcr >> 2) & 1);
    uint64_t div = u->divisor ? u->divisor : 65536;
    return bits * div * 16 * 1000000000ull / 1843200;
}

/* The character timeout: 4 character times without FIFO activity. */
static void timeout_restart(struct uart *u)
{
    u->timeout_pending = false;
    if (fifo_on(u) && u->rx_count)
        clock_timer_arm(&u->timeout_timer, clock_now_ns(u->clock) + 4 * char_ns(u));
    else
        clock_timer_cancel(&u->timeout_timer);
}

static void timeout_cb(void *opaque)
{
    struct uart *u = opaque;
    if (fifo_on(u) && u->rx_count) {
        u->timeout_pending = true;
        uart_update_irq(u);
    }
}

static void rx_clear(struct uart *u)
{
    u->rx_head = u->rx_count = 0;
    u->lsr &= ~LSR_DR;
    timeout_restart(u);
}

/* One character arrives at the receiver. */
static void rx_push(struct uart *u, uint8_t b)
{
    if (u->rx_count >= rx_capacity(u)) {
        /* FIFO mode: the character in the shift register is lost; non-FIFO:
         * it overwrites RBR.  Either way, an overrun. */
        u->lsr |= LSR_OE;
        if (!fifo_on(u))
            u->rx[u->rx_head] = b;
    } else {
        u->rx[(u->rx_head + u->rx_count) % UART_FIFO_SIZE] = b;
        u->rx_count++;
        u->lsr |= LSR_DR;
    }
    timeout_restart(u);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t len)
{
    size_t n = 0;
    while (n < len && u->rx_count < rx_capacity(u))
        rx_push(u, buf[n++]);
    uart_update_irq(u);
    return n;
}

void uart_poll(struct uart *u)
{
    if (!u->chr.read || (u->mcr & MCR_LOOP))
        return;
    uint8_t buf[UART_FIFO_SIZE];
    size_t room = rx_capacity(u) - u->rx_count;
    if (!room)
        return;
    size_t n = u->chr.read(u->chr.opaque, buf, room);
    if (n > room)
        n = room;
    if (n)
        uart_receive(u, buf, n);
}

static void poll_cb(void *opaque)
{
    struct uart *u = opaque;
    uart_poll(u);
    clock_timer_arm(&u->poll_timer, clock_now_ns(u->clock) + UART_POLL_NS);
}

static void transmit(struct uart *u, uint8_t b)
{
    u->thre_pending = false;
    uart_update_irq(u);
    if (u->mcr & MCR_LOOP)
        rx_push(u, b);
    else if (u->chr.write)
        u->chr.write(u->chr.opaque, &b, 1);
    u->thre_pending = true;
    uart_update_irq(u);
}

/* The modem inputs as the receiver sees them: in loopback the outputs are
 * wired back (RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD). */
static uint8_t msr_inputs(const struct uart *u)
{
    if (!(u->mcr & MCR_LOOP))
        return MSR_EXTERNAL;
    uint8_t m = 0;
    if (u->mcr & MCR_RTS)
        m |= MSR_CTS;
    if (u->mcr & MCR_DTR)
        m |= MSR_DSR;
    if (u->mcr & MCR_OUT1)
        m |= MSR_RI;
    if (u->mcr & MCR_OUT2)
        m |= MSR_DCD;
    return m;
}

static void msr_update(struct uart *u)
{
    uint8_t old = u->msr & 0xf0, now = msr_inputs(u), ch = old ^ now;
    uint8_t d = u->msr & MSR_DELTAS;
    if (ch & MSR_CTS)
        d |= MSR_DCTS;
    if (ch & MSR_DSR)
        d |= MSR_DDSR;
    if (ch & MSR_DCD)
        d |= MSR_DDCD;
    if ((old & MSR_RI) && !(now & MSR_RI))
        d |= MSR_TERI; /* trailing edge of RI */
    u->msr = now | d;
}

static uint32_t uart_read(void *opaque, uint16_t off, unsigned size)
{
    struct uart *u = opaque;
    uint8_t v = 0;
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB)
            return u->divisor & 0xff;
        if (u->rx_count) {
            v = u->rx[u->rx_head];
            u->rx_head = (u->rx_head + 1) % UART_FIFO_SIZE;
            u->rx_count--;
            if (!u->rx_count)
                u->lsr &= ~LSR_DR;
            timeout_restart(u);
            uart_update_irq(u);
            /* Refill promptly from the host rather than waiting a poll. */
            if (!u->rx_count)
                uart_poll(u);
        }
        return v;
    case 1:
        if (u->lcr & LCR_DLAB)
            return u->divisor >> 8;
        return u->ier;
    case 2:
        v = uart_iir(u);
        if ((v & 0x0f) == IIR_THRE) {
            u->thre_pending = false;
            uart_update_irq(u);
        }
        return v;
    case 3:
        return u->lcr;
    case 4:
        return u->mcr;
    case 5:
        v = u->lsr | LSR_THRE | LSR_TEMT;
        u->lsr &= ~LSR_ERRORS;
        uart_update_irq(u);
        return v;
    case 6:
        v = u->msr;
        u->msr &= ~MSR_DELTAS;
        uart_update_irq(u);
        return v;
    default:
        return u->scr;
    }
}

static void uart_write(void *opaque, uint16_t off, uint32_t val, unsigned size)
{
    struct uart *u = opaque;
    uint8_t v = (uint8_t)val;
    switch (off) {
    case 0:
        if (u->lcr & LCR_DLAB)
            u->divisor = (u->divisor & 0xff00) | v;
        else
            transmit(u, v);
        break;
    case 1:
        if (u->lcr & LCR_DLAB) {
            u->divisor = (uint16_t)((u->divisor & 0x00ff) | v << 8);
        } else {
            uint8_t old = u->ier;
            u->ier = v & 0x0f;
            /* Enabling ETBEI with THR empty raises THRE at once. */
            if (!(old & IER_THRE) && (u->ier & IER_THRE))
                u->thre_pending = true;
            uart_update_irq(u);
        }
        break;
    case 2:
        if ((v ^ u->fcr) & FCR_ENABLE) {
            /* Changing the FIFO enable clears both FIFOs. */
            u->fcr = v & FCR_ENABLE ? (v & 0xc9) : 0;
            rx_clear(u);
        } else if (v & FCR_ENABLE) {
            u->fcr = v & 0xc9;
            if (v & FCR_CLR_RX)
                rx_clear(u);
        }
        uart_update_irq(u);
        break;
    case 3:
        u->lcr = v;
        break;
    case 4:
        u->mcr = v & 0x1f;
        msr_update(u);
        uart_update_irq(u);
        break;
    case 5:
        break; /* LSR is read-only (writes are for factory test) */
    case 6:
        break;
    default:
        u->scr = v;
        break;
    }
}

void uart_reset(struct uart *u)
{
    u->ier = u->lcr = u->mcr = u->scr = u->fcr = 0;
    u->divisor = 12; /* 9600 baud; the datasheet leaves it undefined */
    u->lsr = LSR_THRE | LSR_TEMT;
    u->msr = MSR_EXTERNAL;
    u->thre_pending = false;
    rx_clear(u);
    u->irq_level = false;
    irq_lower(&u->irq);
    if (u->chr.read)
        clock_timer_arm(&u->poll_timer, clock_now_ns(u->clock) + UART_POLL_NS);
}

int uart_init(struct uart *u, struct bus *bus, uint16_t base, struct irq_line irq,
              struct clock *clock, const struct chardev *chr, const struct dev_log *log, char *err,
              size_t errlen)
{
    memset(u, 0, sizeof *u);
    u->base = base;
    u->irq = irq;
    u->clock = clock;
    if (chr)
        u->chr = *chr;
    u->log = log;
    clock_timer_init(&u->poll_timer, clock, poll_cb, u, "uart-poll");
    clock_timer_init(&u->timeout_timer, clock, timeout_cb, u, "uart-timeout");
    uart_reset(u);
    return bus_register(bus, base, 8, BUS_W8, "uart16550", uart_read, uart_write, u, err, errlen);
}

#define UART_FIELDS(X)                                                                       \
    X(ier) X(lcr) X(mcr) X(lsr) X(msr) X(scr) X(fcr) X(divisor) X(rx) X(rx_head) X(rx_count)  \
    X(thre_pending) X(timeout_pending)

void uart_save(struct uart *u, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "uart.version", &version, sizeof version);
#define X(f) state_put(s, "uart." #f, &u->f, sizeof u->f);
    UART_FIELDS(X)
#undef X
}

int uart_load(struct uart *u, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "uart.version", &version, sizeof version) || version != 1)
        return -1;
#define X(f) state_get(s, "uart." #f, &u->f, sizeof u->f);
    UART_FIELDS(X)
#undef X
    u->rx_head %= UART_FIFO_SIZE;
    if (u->rx_count > rx_capacity(u))
        u->rx_count = (uint8_t)rx_capacity(u);
    timeout_restart(u);
    u->irq_level = !(uart_iir(u) & IIR_NONE) && (u->mcr & MCR_OUT2);
    irq_set(&u->irq, u->irq_level);
    return 0;
}
