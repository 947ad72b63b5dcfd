/* test_pic.c — the 8259A pair through its ports: init sequence, priorities,
 * EOI (specific, non-specific, rotating), masking, cascade, level triggering
 * via ELCR, poll, spurious IRQs, auto-EOI, and a register fuzz. */
#include <check.h>
#include <stdlib.h>

#include "devices/pic.h"

struct rig {
    struct bus bus;
    struct pic pic;
    bool intr;
    int edges;
};

static void intr_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    if (level && !r->intr)
        r->edges++;
    r->intr = level;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(pic_init(&r->pic, &r->bus, (struct irq_line){intr_sink, r, 0}, NULL, err,
                              sizeof err), 0);
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }

/* The BIOS/Linux programming: vectors 0x20/0x28, cascade on IR2, 8086 mode. */
static void init_pair(struct rig *r, uint8_t icw4)
{
    outb(r, 0x20, 0x11);
    outb(r, 0x21, 0x20);
    outb(r, 0x21, 0x04);
    outb(r, 0x21, icw4);
    outb(r, 0xa0, 0x11);
    outb(r, 0xa1, 0x28);
    outb(r, 0xa1, 0x02);
    outb(r, 0xa1, icw4);
    outb(r, 0x21, 0x00);
    outb(r, 0xa1, 0x00);
}

static void pulse(struct rig *r, int irq)
{
    pic_set_irq(&r->pic, irq, true);
    pic_set_irq(&r->pic, irq, false);
}

START_TEST(init_and_deliver)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    ck_assert(!r->intr);
    ck_assert_uint_eq(inb(r, 0x21), 0);
    pulse(r, 3);
    ck_assert(r->intr);
    outb(r, 0x20, 0x0a); /* OCW3: read IRR */
    ck_assert_uint_eq(inb(r, 0x20), 0x08);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x23);
    ck_assert(!r->intr);
    outb(r, 0x20, 0x0b); /* read ISR */
    ck_assert_uint_eq(inb(r, 0x20), 0x08);
    outb(r, 0x20, 0x20); /* non-specific EOI */
    ck_assert_uint_eq(inb(r, 0x20), 0x00);
    free(r);
}
END_TEST

START_TEST(priorities_and_nesting)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    pulse(r, 5);
    pulse(r, 1);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x21); /* IR1 first */
    ck_assert(!r->intr);                       /* IR5 blocked by IR1 in service */
    pulse(r, 0);
    ck_assert(r->intr);                        /* but IR0 nests */
    ck_assert_uint_eq(pic_ack(&r->pic), 0x20);
    outb(r, 0x20, 0x20);                       /* EOI clears the highest: IR0 */
    ck_assert(!r->intr);
    outb(r, 0x20, 0x20);                       /* then IR1 */
    ck_assert(r->intr);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x25);
    outb(r, 0x20, 0x65);                       /* specific EOI IR5 */
    outb(r, 0x20, 0x0b);
    ck_assert_uint_eq(inb(r, 0x20), 0);
    free(r);
}
END_TEST

START_TEST(masking)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    outb(r, 0x21, 0x10);
    pulse(r, 4);
    ck_assert(!r->intr);
    ck_assert_uint_eq(inb(r, 0x21), 0x10);
    outb(r, 0x21, 0x00); /* the latched request appears once unmasked */
    ck_assert(r->intr);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x24);
    free(r);
}
END_TEST

START_TEST(cascade)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    pulse(r, 14);
    ck_assert(r->intr);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x2e);
    outb(r, 0x20, 0x0b);
    ck_assert_uint_eq(inb(r, 0x20), 0x04); /* master IR2 in service */
    outb(r, 0xa0, 0x0b);
    ck_assert_uint_eq(inb(r, 0xa0), 0x40);
    pulse(r, 9); /* higher on the slave, but the master's IR2 is in service */
    ck_assert(!r->intr);
    outb(r, 0xa0, 0x20);
    outb(r, 0x20, 0x20);
    ck_assert(r->intr);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x29);
    /* Slave masked via the master's IR2. */
    outb(r, 0xa0, 0x20);
    outb(r, 0x20, 0x20);
    outb(r, 0x21, 0x04);
    pulse(r, 12);
    ck_assert(!r->intr);
    outb(r, 0x21, 0x00);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x2c);
    free(r);
}
END_TEST

START_TEST(spurious)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x27);
    outb(r, 0x20, 0x0b);
    ck_assert_uint_eq(inb(r, 0x20), 0); /* no ISR bit for a spurious IRQ 7 */
    /* Level input dropped between INTR and INTA: spurious IRQ 15. */
    outb(r, 0x4d1, 0x08); /* IRQ11 level */
    pic_set_irq(&r->pic, 11, true);
    ck_assert(r->intr);
    pic_set_irq(&r->pic, 11, false);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x2f);
    free(r);
}
END_TEST

START_TEST(level_triggered)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    outb(r, 0x4d1, 0xff);
    ck_assert_uint_eq(inb(r, 0x4d1), 0xde); /* IRQ8 and IRQ13 are edge only */
    outb(r, 0x4d0, 0xff);
    ck_assert_uint_eq(inb(r, 0x4d0), 0xf8);
    pic_set_irq(&r->pic, 10, true);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x2a);
    outb(r, 0xa0, 0x20);
    outb(r, 0x20, 0x20);
    ck_assert(r->intr); /* still asserted: interrupts again */
    ck_assert_uint_eq(pic_ack(&r->pic), 0x2a);
    pic_set_irq(&r->pic, 10, false);
    outb(r, 0xa0, 0x20);
    outb(r, 0x20, 0x20);
    ck_assert(!r->intr);
    /* Edge input held high interrupts once. */
    pic_set_irq(&r->pic, 1, true);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x21);
    outb(r, 0x20, 0x20);
    ck_assert(!r->intr);
    free(r);
}
END_TEST

START_TEST(auto_eoi_and_rotation)
{
    struct rig *r = rig_new();
    init_pair(r, 0x03); /* AEOI */
    pulse(r, 6);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x26);
    outb(r, 0x20, 0x0b);
    ck_assert_uint_eq(inb(r, 0x20), 0); /* nothing in service */
    init_pair(r, 0x01);
    /* Set priority: IR4 lowest, so IR5 is now highest. */
    outb(r, 0x20, 0xc4);
    pulse(r, 3);
    pulse(r, 5);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x25);
    outb(r, 0x20, 0xa0); /* rotate on non-specific EOI: IR5 lowest, IR6 highest */
    ck_assert_uint_eq(pic_ack(&r->pic), 0x23);
    outb(r, 0x20, 0xe3); /* rotate on specific EOI IR3: IR4 highest */
    pulse(r, 1);
    pulse(r, 4);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x24);
    free(r);
}
END_TEST

START_TEST(poll_command)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    outb(r, 0x20, 0x0c);
    ck_assert_uint_eq(inb(r, 0x20), 0x00);
    pulse(r, 6);
    outb(r, 0x20, 0x0c);
    ck_assert_uint_eq(inb(r, 0x20), 0x86);
    outb(r, 0x20, 0x0b);
    ck_assert_uint_eq(inb(r, 0x20), 0x40);
    free(r);
}
END_TEST

START_TEST(special_mask)
{
    struct rig *r = rig_new();
    init_pair(r, 0x01);
    pulse(r, 2 + 1);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x23);
    pulse(r, 5);
    ck_assert(!r->intr);
    outb(r, 0x21, 0x08); /* mask the in-service level */
    outb(r, 0x20, 0x68); /* set special mask */
    ck_assert(r->intr);
    ck_assert_uint_eq(pic_ack(&r->pic), 0x25);
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    init_pair(a, 0x01);
    outb(a, 0x21, 0x5a);
    pulse(a, 0);
    struct state_buf s;
    state_init(&s);
    pic_save(&a->pic, &s);
    ck_assert_int_eq(pic_load(&b->pic, &s), 0);
    ck_assert_uint_eq(inb(b, 0x21), 0x5a);
    ck_assert(b->intr);
    ck_assert_uint_eq(pic_ack(&b->pic), 0x20);
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

/* Random port writes, line changes and acks: never crash, every ack gives a
 * vector of the programmed bases, and INTR is high iff an ack would find a
 * real (non-spurious) request. */
START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(42);
    static const uint16_t ports[] = {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1};
    for (int k = 0; k < 200000; k++) {
        int what = rand() % 8;
        if (what < 3)
            outb(r, ports[rand() % 6], (uint8_t)rand());
        else if (what < 5)
            inb(r, ports[rand() % 6]);
        else if (what < 7)
            pic_set_irq(&r->pic, rand() % 16, rand() & 1);
        else {
            uint8_t v = pic_ack(&r->pic);
            ck_assert(((v & 0xf8) == r->pic.chip[0].vector_base) ||
                      ((v & 0xf8) == r->pic.chip[1].vector_base));
        }
        ck_assert(r->intr == r->pic.out_level);
    }
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pic");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, init_and_deliver);
    tcase_add_test(tc, priorities_and_nesting);
    tcase_add_test(tc, masking);
    tcase_add_test(tc, cascade);
    tcase_add_test(tc, spurious);
    tcase_add_test(tc, level_triggered);
    tcase_add_test(tc, auto_eoi_and_rotation);
    tcase_add_test(tc, poll_command);
    tcase_add_test(tc, special_mask);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
