/* test_uart.c — the 16550A through its registers: THR to the backend, LSR,
 * receive FIFO and trigger levels, character timeout, IIR priorities, THRE
 * interrupt rules, loopback with modem lines, divisor latch, OUT2 gating,
 * host input polling, save/load, and a register fuzz. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/uart.h"

#define COM1 0x3f8

struct rig {
    struct bus bus;
    struct clock clock;
    struct uart uart;
    bool level;
    int edges;
    uint8_t out[4096];
    size_t nout;
    uint8_t in[256];
    size_t nin, in_pos;
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    if (level && !r->level)
        r->edges++;
    r->level = level;
}

static void chr_write(void *o, const uint8_t *buf, size_t len)
{
    struct rig *r = o;
    for (size_t i = 0; i < len && r->nout < sizeof r->out; i++)
        r->out[r->nout++] = buf[i];
}

static size_t chr_read(void *o, uint8_t *buf, size_t len)
{
    struct rig *r = o;
    size_t n = 0;
    while (n < len && r->in_pos < r->nin)
        buf[n++] = r->in[r->in_pos++];
    return n;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    clock_init(&r->clock, true, 0);
    struct chardev chr = {r, chr_write, chr_read};
    ck_assert_int_eq(uart_init(&r->uart, &r->bus, COM1, (struct irq_line){irq_sink, r, 4},
                               &r->clock, &chr, NULL, err, sizeof err), 0);
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }

static void run_for(struct rig *r, uint64_t ns)
{
    uint64_t t = clock_now_ns(&r->clock) + ns;
    clock_run_timers(&r->clock);
    while (clock_now_ns(&r->clock) < t) {
        uint64_t step = (uint64_t)clock_budget(&r->clock);
        if (clock_now_ns(&r->clock) + step > t)
            step = t - clock_now_ns(&r->clock);
        clock_account_insns(&r->clock, step);
        clock_run_timers(&r->clock);
    }
}

static void feed(struct rig *r, const char *s)
{
    size_t n = strlen(s);
    memcpy(r->in + r->nin, s, n);
    r->nin += n;
}

START_TEST(reset_values)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(inb(r, COM1 + 1), 0x00); /* IER */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x01); /* IIR: none */
    ck_assert_uint_eq(inb(r, COM1 + 3), 0x00); /* LCR */
    ck_assert_uint_eq(inb(r, COM1 + 4), 0x00); /* MCR */
    ck_assert_uint_eq(inb(r, COM1 + 5), 0x60); /* LSR: THRE | TEMT */
    ck_assert_uint_eq(inb(r, COM1 + 6) & 0xf0, 0xb0); /* DCD DSR CTS */
    outb(r, COM1 + 7, 0x5a);
    ck_assert_uint_eq(inb(r, COM1 + 7), 0x5a);
    free(r);
}
END_TEST

START_TEST(transmit)
{
    struct rig *r = rig_new();
    const char *msg = "hello, umbra\n";
    for (const char *p = msg; *p; p++) {
        ck_assert(inb(r, COM1 + 5) & 0x20);
        outb(r, COM1, (uint8_t)*p);
    }
    ck_assert_uint_eq(r->nout, strlen(msg));
    ck_assert_mem_eq(r->out, msg, strlen(msg));
    free(r);
}
END_TEST

START_TEST(divisor_latch)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 1, 0x05); /* IER */
    outb(r, COM1 + 3, 0x83); /* DLAB, 8N1 */
    outb(r, COM1 + 0, 0x01);
    outb(r, COM1 + 1, 0x00);
    ck_assert_uint_eq(inb(r, COM1 + 0), 0x01);
    ck_assert_uint_eq(inb(r, COM1 + 1), 0x00);
    ck_assert_uint_eq(r->uart.divisor, 1);
    ck_assert_uint_eq(r->nout, 0); /* DLL write did not transmit */
    outb(r, COM1 + 3, 0x03);
    ck_assert_uint_eq(inb(r, COM1 + 1), 0x05); /* IER intact */
    ck_assert_uint_eq(inb(r, COM1 + 3), 0x03);
    free(r);
}
END_TEST

START_TEST(receive_fifo_and_trigger)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 2, 0x81); /* FIFO on, trigger 8 */
    outb(r, COM1 + 1, 0x01); /* ERBFI */
    outb(r, COM1 + 4, 0x08); /* OUT2 */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1);
    uart_receive(&r->uart, (const uint8_t *)"abcdefg", 7);
    ck_assert(inb(r, COM1 + 5) & 0x01);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1); /* below the trigger */
    ck_assert(!r->level);
    uart_receive(&r->uart, (const uint8_t *)"h", 1);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc4);
    ck_assert(r->level);
    ck_assert_uint_eq(inb(r, COM1), 'a');
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1); /* 7 left: below trigger again */
    /* Overrun: 16 fit, the 17th sets OE and is lost. */
    ck_assert_uint_eq(uart_receive(&r->uart, (const uint8_t *)"0123456789", 10), 9);
    outb(r, COM1 + 1, 0x05); /* + ELSI */
    ck_assert_uint_eq(r->uart.rx_count, 16);
    outb(r, COM1 + 4, 0x18); /* loopback: push one more through THR */
    outb(r, COM1, 'X');
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc6); /* line status has priority */
    uint8_t lsr = inb(r, COM1 + 5);
    ck_assert(lsr & 0x02);
    ck_assert(!(inb(r, COM1 + 5) & 0x02)); /* cleared by reading */
    char got[17] = {0};
    for (int i = 0; i < 16; i++)
        got[i] = (char)inb(r, COM1);
    ck_assert_str_eq(got, "bcdefgh012345678");
    ck_assert(!(inb(r, COM1 + 5) & 0x01));
    free(r);
}
END_TEST

START_TEST(char_timeout)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 3, 0x83);
    outb(r, COM1, 1); /* 115200 baud: ~87 us per char */
    outb(r, COM1 + 3, 0x03);
    outb(r, COM1 + 2, 0xc7); /* FIFO, trigger 14 */
    outb(r, COM1 + 1, 0x01);
    outb(r, COM1 + 4, 0x08);
    uart_receive(&r->uart, (const uint8_t *)"hi", 2);
    ck_assert(!r->level);
    run_for(r, 200000);
    ck_assert(!r->level);
    run_for(r, 200000); /* > 4 character times */
    ck_assert(r->level);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xcc);
    ck_assert_uint_eq(inb(r, COM1), 'h'); /* reading clears the timeout */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1);
    run_for(r, 400000);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xcc);
    ck_assert_uint_eq(inb(r, COM1), 'i');
    run_for(r, 400000);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1);
    free(r);
}
END_TEST

START_TEST(thre_interrupt)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 4, 0x08);
    outb(r, COM1 + 1, 0x02); /* ETBEI with THR empty: immediately */
    ck_assert(r->level);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x02);
    ck_assert(!r->level); /* reading IIR cleared it */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x01);
    int e = r->edges;
    outb(r, COM1, 'x'); /* transmitted at once: THRE again, a fresh edge */
    ck_assert(r->level);
    ck_assert_int_eq(r->edges, e + 1);
    outb(r, COM1, 'y');
    ck_assert_int_eq(r->edges, e + 2);
    outb(r, COM1 + 1, 0x00);
    ck_assert(!r->level);
    free(r);
}
END_TEST

START_TEST(out2_gates_irq)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 1, 0x02);
    ck_assert_uint_eq(inb(r, COM1 + 2) & 0x0f, 0x02); /* pending... */
    outb(r, COM1 + 1, 0x00);
    outb(r, COM1 + 1, 0x02);
    ck_assert(!r->level); /* ...but OUT2 is off */
    outb(r, COM1 + 4, 0x08);
    ck_assert(r->level);
    free(r);
}
END_TEST

START_TEST(iir_priorities)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 4, 0x08 | 0x10); /* OUT2, loopback */
    inb(r, COM1 + 6);               /* clear the deltas from entering loopback */
    outb(r, COM1 + 1, 0x0f);        /* all sources */
    outb(r, COM1 + 4, 0x08 | 0x10 | 0x02); /* RTS → CTS: modem status delta */
    /* THRE (from enabling ETBEI) outranks modem status. */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x02);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x00); /* then modem status */
    outb(r, COM1, 'z');                        /* loopback: RX data + THRE */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x04);
    ck_assert_uint_eq(inb(r, COM1), 'z');
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x02);
    uint8_t msr = inb(r, COM1 + 6);
    ck_assert_uint_eq(msr & 0x1f, 0x11); /* CTS, DCTS */
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x01);
    ck_assert(!r->level);
    free(r);
}
END_TEST

START_TEST(loopback)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 4, 0x10 | 0x0f); /* loop, DTR RTS OUT1 OUT2 */
    ck_assert_uint_eq(inb(r, COM1 + 6) & 0xf0, 0xf0);
    outb(r, COM1 + 4, 0x10);
    uint8_t msr = inb(r, COM1 + 6);
    ck_assert_uint_eq(msr & 0xf0, 0x00);
    ck_assert_uint_eq(msr & 0x0f, 0x0f); /* DCTS DDSR TERI DDCD */
    outb(r, COM1, 0xa5);
    ck_assert_uint_eq(r->nout, 0); /* nothing to the host */
    ck_assert(inb(r, COM1 + 5) & 0x01);
    ck_assert_uint_eq(inb(r, COM1), 0xa5);
    outb(r, COM1 + 4, 0x00);
    outb(r, COM1, 'q');
    ck_assert_uint_eq(r->nout, 1);
    free(r);
}
END_TEST

START_TEST(host_input_polled)
{
    struct rig *r = rig_new();
    outb(r, COM1 + 2, 0x01); /* FIFO, trigger 1 */
    outb(r, COM1 + 1, 0x01);
    outb(r, COM1 + 4, 0x08);
    feed(r, "0123456789abcdefXYZ");
    run_for(r, 2 * UART_POLL_NS);
    ck_assert(r->level);
    ck_assert_uint_eq(r->uart.rx_count, 16); /* only what fits was taken */
    char got[20] = {0};
    int n = 0;
    while (n < 19) {
        if (inb(r, COM1 + 5) & 1)
            got[n++] = (char)inb(r, COM1);
        else
            run_for(r, UART_POLL_NS);
    }
    ck_assert_str_eq(got, "0123456789abcdefXYZ");
    free(r);
}
END_TEST

START_TEST(fifo_disable_and_clear)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(uart_receive(&r->uart, (const uint8_t *)"ab", 2), 1); /* 16450 mode */
    outb(r, COM1 + 2, 0x01);
    ck_assert(!(inb(r, COM1 + 5) & 1)); /* enabling cleared it */
    uart_receive(&r->uart, (const uint8_t *)"abc", 3);
    outb(r, COM1 + 2, 0x03); /* clear RX */
    ck_assert(!(inb(r, COM1 + 5) & 1));
    ck_assert_uint_eq(inb(r, COM1 + 2), 0xc1);
    outb(r, COM1 + 2, 0x00);
    ck_assert_uint_eq(inb(r, COM1 + 2), 0x01);
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    outb(a, COM1 + 3, 0x83);
    outb(a, COM1, 3);
    outb(a, COM1 + 3, 0x1b);
    outb(a, COM1 + 2, 0x41);
    uart_receive(&a->uart, (const uint8_t *)"xy", 2);
    struct state_buf s;
    state_init(&s);
    uart_save(&a->uart, &s);
    ck_assert_int_eq(uart_load(&b->uart, &s), 0);
    ck_assert_uint_eq(inb(b, COM1 + 3), 0x1b);
    ck_assert_uint_eq(b->uart.divisor, 3);
    ck_assert_uint_eq(inb(b, COM1), 'x');
    ck_assert_uint_eq(inb(b, COM1), 'y');
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(99);
    for (int k = 0; k < 200000; k++) {
        int what = rand() % 10;
        if (what < 4)
            outb(r, (uint16_t)(COM1 + rand() % 8), (uint8_t)rand());
        else if (what < 8)
            inb(r, (uint16_t)(COM1 + rand() % 8));
        else if (what == 8)
            uart_receive(&r->uart, (const uint8_t *)"fuzz", (size_t)(rand() % 5));
        else
            run_for(r, (uint64_t)(rand() % 1000000));
        struct uart *u = &r->uart;
        ck_assert_uint_le(u->rx_count, (u->fcr & 1) ? 16 : 1);
        ck_assert(!!(u->lsr & 1) == (u->rx_count > 0));
        /* The sink saw exactly the level the UART believes it drives. */
        ck_assert(r->level == r->uart.irq_level);
        if (r->nout > 2048)
            r->nout = 0;
        if (r->in_pos == r->nin)
            r->in_pos = r->nin = 0;
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("uart");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, reset_values);
    tcase_add_test(tc, transmit);
    tcase_add_test(tc, divisor_latch);
    tcase_add_test(tc, receive_fifo_and_trigger);
    tcase_add_test(tc, char_timeout);
    tcase_add_test(tc, thre_interrupt);
    tcase_add_test(tc, out2_gates_irq);
    tcase_add_test(tc, iir_priorities);
    tcase_add_test(tc, loopback);
    tcase_add_test(tc, host_input_polled);
    tcase_add_test(tc, fifo_disable_and_clear);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
