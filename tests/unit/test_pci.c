/* test_pci.c — PCI configuration mechanism #1, the i440FX host bridge and
 * the PIIX3 ISA bridge through ports 0xCF8/0xCFC-0xCFF/0xCF9: identity
 * registers, absent devices, byte/word/dword accesses, BAR sizing and
 * (re)mapping of I/O and memory BARs, PIRQ routing to the 8259 and I/O APIC
 * lines, INTx disable, ISA IRQ pass-through, reset control, PAM and
 * write-one-to-clear registers, firmware set-up, save/load, and a fuzz. */
#include <check.h>
#include <stdlib.h>

#include "devices/i440fx.h"
#include "devices/piix3.h"

#define WIN_BASE 0xe0000000u
#define WIN_SIZE 0x1ec00000u

struct testdev {
    struct pci_device pci;
    uint8_t regs[16];
    uint32_t mem[1024];
};

struct rig {
    struct bus bus;
    struct pci_bus pci;
    struct i440fx host;
    struct piix3 isa;
    struct testdev dev[2];
    bool pic[16], ioapic[24];
    int pic_edges[16];
    int resets;
    unsigned pam[7];
    int pam_calls;
};

static void pic_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    ck_assert(line >= 0 && line < 16);
    if (level && !r->pic[line]) r->pic_edges[line]++;
    r->pic[line] = level;
}

static void ioapic_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    ck_assert(line >= 0 && line < 24);
    r->ioapic[line] = level;
}

static void do_reset(void *o)
{
    ((struct rig *)o)->resets++;
}

static void pam_changed(void *o, unsigned reg, uint8_t v)
{
    struct rig *r = o;
    r->pam[reg] = v;
    r->pam_calls++;
}

static uint32_t dev_io_read(void *o, uint16_t off, unsigned size)
{
    return ((struct testdev *)o)->regs[off];
}
static void dev_io_write(void *o, uint16_t off, uint32_t v, unsigned size)
{
    ((struct testdev *)o)->regs[off] = (uint8_t)v;
}
static uint32_t dev_mem_read(void *o, uint32_t off, unsigned size)
{
    return ((struct testdev *)o)->mem[off / 4];
}
static void dev_mem_write(void *o, uint32_t off, uint32_t v, unsigned size)
{
    ((struct testdev *)o)->mem[off / 4] = v;
}
static const struct mmio_ops dev_mmio = {dev_mem_read, dev_mem_write};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(pci_bus_init(&r->pci, &r->bus, WIN_BASE, WIN_SIZE, NULL, err, sizeof err), 0);
    ck_assert_int_eq(i440fx_init(&r->host, &r->pci, err, sizeof err), 0);
    r->host.pam_changed = pam_changed;
    r->host.opaque = r;
    ck_assert_int_eq(piix3_init(&r->isa, &r->pci, 0x08, (struct irq_line){pic_sink, r, 0},
                                (struct irq_line){ioapic_sink, r, 0}, do_reset, r, err, sizeof err),
                     0);
    for (int i = 0; i < 2; i++) {
        struct testdev *d = &r->dev[i];
        pci_device_init(&d->pci, "testdev", 0x1234, (uint16_t)(0x1110 + i), 1, 0x020000, 0);
        pci_set_bar_io(&d->pci, 0, 16, BUS_W8, dev_io_read, dev_io_write, d);
        pci_set_bar_mem(&d->pci, 1, 4096, false, &dev_mmio, d);
        pci_set_interrupt_pin(&d->pci, 1);
        /* Slot 3 → PIRQC; slot 4 → PIRQD. */
        ck_assert_int_eq(pci_register(&r->pci, &d->pci, (uint8_t)((3 + i) << 3), err, sizeof err),
                         0);
    }
    return r;
}

static uint32_t cfg_addr(unsigned devfn, unsigned reg)
{
    return 0x80000000u | devfn << 8 | reg;
}

static uint32_t cfg_read(struct rig *r, unsigned devfn, unsigned reg, unsigned size)
{
    bus_out(&r->bus, 0xcf8, cfg_addr(devfn, reg & 0xfc), 4);
    return bus_in(&r->bus, (uint16_t)(0xcfc + (reg & 3)), size);
}

static void cfg_write(struct rig *r, unsigned devfn, unsigned reg, uint32_t v, unsigned size)
{
    bus_out(&r->bus, 0xcf8, cfg_addr(devfn, reg & 0xfc), 4);
    bus_out(&r->bus, (uint16_t)(0xcfc + (reg & 3)), v, size);
}

START_TEST(identity)
{
    struct rig *r = rig_new();
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x00, 4), 0x12378086);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x08, 4), 0x06000002);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x0e, 1), 0x00);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x72, 1), 0x02);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x00, 4), 0x70008086);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x0a, 2), 0x0601);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x0e, 1), 0x80);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x60, 4), 0x80808080);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x4c, 1), 0x4d);
    /* Sub-dword reads of the ID dword. */
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x02, 2), 0x1237);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x01, 1), 0x80);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x03, 1), 0x12);
    /* Absent: another slot, function 1 of the PIIX3, another bus. */
    ck_assert_uint_eq(cfg_read(r, 0x10, 0x00, 4), 0xffffffff);
    ck_assert_uint_eq(cfg_read(r, 0x09, 0x00, 2), 0xffff);
    bus_out(&r->bus, 0xcf8, 0x80010000u, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcfc, 4), 0xffffffff);
    /* Enable bit clear: the data port floats. */
    bus_out(&r->bus, 0xcf8, 0x00000000u, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcfc, 4), 0xffffffff);
    /* The address register: dword only, reserved bits read 0. */
    bus_out(&r->bus, 0xcf8, 0xffffffffu, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcf8, 4), 0x80fffffc);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcf8, 2), 0xffff);
    /* Read-only identity bytes ignore writes. */
    cfg_write(r, 0x00, 0x00, 0, 4);
    ck_assert_uint_eq(cfg_read(r, 0x00, 0x00, 4), 0x12378086);
    free(r);
}
END_TEST

START_TEST(bar_sizing_and_io_mapping)
{
    struct rig *r = rig_new();
    unsigned df = 3 << 3;
    ck_assert_uint_eq(cfg_read(r, df, 0x10, 4), 0x00000001);
    cfg_write(r, df, 0x10, 0xffffffff, 4);
    ck_assert_uint_eq(cfg_read(r, df, 0x10, 4), 0xfffffff1);
    cfg_write(r, df, 0x14, 0xffffffff, 4);
    ck_assert_uint_eq(cfg_read(r, df, 0x14, 4), 0xfffff000);
    ck_assert_uint_eq(cfg_read(r, df, 0x18, 4), 0);
    cfg_write(r, df, 0x18, 0xffffffff, 4); /* unimplemented BAR */
    ck_assert_uint_eq(cfg_read(r, df, 0x18, 4), 0);
    cfg_write(r, df, 0x10, 0xc000, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc000, 1), 0xff); /* decoding off */
    cfg_write(r, df, 0x04, PCI_CMD_IO, 2);
    bus_out(&r->bus, 0xc003, 0x5a, 1);
    ck_assert_uint_eq(r->dev[0].regs[3], 0x5a);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc003, 1), 0x5a);
    /* Move it with byte writes to the BAR. */
    cfg_write(r, df, 0x11, 0xc1, 1);
    ck_assert_uint_eq(cfg_read(r, df, 0x10, 4), 0xc101);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc003, 1), 0xff);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc103, 1), 0x5a);
    /* A conflicting placement stays unmapped. */
    cfg_write(r, 0x20, 0x10, 0xc100, 4);
    cfg_write(r, 0x20, 0x04, PCI_CMD_IO, 2);
    ck_assert(!r->dev[1].pci.bar[0].mapped);
    cfg_write(r, 0x20, 0x10, 0xc200, 4);
    ck_assert(r->dev[1].pci.bar[0].mapped);
    bus_out(&r->bus, 0xc200, 0x77, 1);
    ck_assert_uint_eq(r->dev[1].regs[0], 0x77);
    ck_assert_uint_eq(r->dev[0].regs[0], 0);
    cfg_write(r, df, 0x04, 0, 2);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc103, 1), 0xff);
    free(r);
}
END_TEST

START_TEST(mem_bar_window)
{
    struct rig *r = rig_new();
    unsigned df = 3 << 3;
    const struct mmio_ops *w = &pci_mem_window_ops;
    cfg_write(r, df, 0x14, WIN_BASE + 0x10000, 4);
    ck_assert_uint_eq(w->read(&r->pci, 0x10000, 4), 0xffffffff); /* memory decode off */
    cfg_write(r, df, 0x04, PCI_CMD_MEM, 2);
    w->write(&r->pci, 0x10008, 0xdeadbeef, 4);
    ck_assert_uint_eq(r->dev[0].mem[2], 0xdeadbeef);
    ck_assert_uint_eq(w->read(&r->pci, 0x10008, 4), 0xdeadbeef);
    ck_assert_uint_eq(w->read(&r->pci, 0x11008, 4), 0xffffffff);
    cfg_write(r, df, 0x14, WIN_BASE + 0x20000, 4);
    ck_assert_uint_eq(w->read(&r->pci, 0x10008, 4), 0xffffffff);
    ck_assert_uint_eq(w->read(&r->pci, 0x20008, 4), 0xdeadbeef);
    /* Outside the window: refused, not decoded. */
    cfg_write(r, df, 0x14, 0x10000000, 4);
    ck_assert(!r->dev[0].pci.bar[1].mapped);
    free(r);
}
END_TEST

START_TEST(pirq_routing)
{
    struct rig *r = rig_new();
    unsigned df = 3 << 3;
    ck_assert_int_eq(pci_device_pirq(&r->dev[0].pci), 2);
    ck_assert_int_eq(pci_device_pirq(&r->dev[1].pci), 3);
    pci_set_irq(&r->dev[0].pci, true);
    for (int i = 0; i < 16; i++)
        ck_assert(!r->pic[i]); /* routing disabled at reset */
    ck_assert_uint_eq(cfg_read(r, df, 0x06, 2) & PCI_STATUS_INTX, PCI_STATUS_INTX);
    cfg_write(r, 0x08, 0x62, 11, 1);
    ck_assert(r->pic[11]);
    ck_assert(r->ioapic[11]);
    ck_assert_int_eq(piix3_pirq_route(&r->isa, 2), 11);
    /* INTx disable. */
    cfg_write(r, df, 0x04, PCI_CMD_INTX_DISABLE, 2);
    ck_assert(!r->pic[11]);
    cfg_write(r, df, 0x04, 0, 2);
    ck_assert(r->pic[11]);
    /* Sharing: PIRQD to IRQ 11 too; the line is the OR. */
    cfg_write(r, 0x08, 0x63, 11, 1);
    pci_set_irq(&r->dev[1].pci, true);
    pci_set_irq(&r->dev[0].pci, false);
    ck_assert(r->pic[11]);
    pci_set_irq(&r->dev[1].pci, false);
    ck_assert(!r->pic[11]);
    /* Reroute while asserted: the old IRQ drops, the new one rises. */
    pci_set_irq(&r->dev[0].pci, true);
    cfg_write(r, 0x08, 0x62, 10, 1);
    ck_assert(!r->pic[11]);
    ck_assert(r->pic[10]);
    cfg_write(r, 0x08, 0x62, 0x8a, 1);
    ck_assert(!r->pic[10]);
    cfg_write(r, 0x08, 0x62, 0x02, 1); /* reserved IRQ 2: not connected */
    ck_assert(!r->pic[2]);
    /* ISA devices' lines: IRQ 0 is I/O APIC input 2. */
    struct irq_line l0 = piix3_isa_irq(&r->isa, 0), l4 = piix3_isa_irq(&r->isa, 4);
    irq_raise(&l0);
    irq_raise(&l4);
    ck_assert(r->pic[0] && r->ioapic[2] && !r->ioapic[0]);
    ck_assert(r->pic[4] && r->ioapic[4]);
    irq_lower(&l0);
    ck_assert(!r->pic[0] && !r->ioapic[2]);
    free(r);
}
END_TEST

START_TEST(reset_control)
{
    struct rig *r = rig_new();
    bus_out(&r->bus, 0xcf9, 0x02, 1);
    ck_assert_int_eq(r->resets, 0);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcf9, 1), 0x02);
    bus_out(&r->bus, 0xcf9, 0x06, 1);
    ck_assert_int_eq(r->resets, 1);
    bus_out(&r->bus, 0xcf9, 0x06, 1); /* no 0→1 transition */
    ck_assert_int_eq(r->resets, 1);
    bus_out(&r->bus, 0xcf9, 0x00, 1);
    bus_out(&r->bus, 0xcf9, 0x04, 1);
    ck_assert_int_eq(r->resets, 2);
    /* The dword at 0xCF8 is still the address register. */
    bus_out(&r->bus, 0xcf8, 0x80000000u, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xcf8, 4), 0x80000000u);
    ck_assert_int_eq(r->resets, 2);
    free(r);
}
END_TEST

START_TEST(host_bridge_registers)
{
    struct rig *r = rig_new();
    cfg_write(r, 0, 0x59, 0x30, 1);
    ck_assert_int_eq(r->pam_calls, 1);
    ck_assert_uint_eq(r->pam[0], 0x30);
    cfg_write(r, 0, 0x5c, 0x33333333, 4); /* PAM3-6 */
    ck_assert_uint_eq(r->pam[6], 0x33);
    ck_assert_uint_eq(cfg_read(r, 0, 0x5c, 4), 0x33333333);
    cfg_write(r, 0, 0x72, 0xff, 1); /* C_BASE is fixed */
    ck_assert_uint_eq(cfg_read(r, 0, 0x72, 1), 0x7a);
    r->host.dev.config[0x91] = 0x15; /* errors latched */
    cfg_write(r, 0, 0x91, 0x05, 1);
    ck_assert_uint_eq(cfg_read(r, 0, 0x91, 1), 0x10);
    cfg_write(r, 0, 0x04, 0, 2); /* memory and master cannot be turned off */
    ck_assert_uint_eq(cfg_read(r, 0, 0x04, 2), 0x06);
    free(r);
}
END_TEST

START_TEST(firmware_setup)
{
    struct rig *r = rig_new();
    pci_firmware_assign_bars(&r->pci, 0xc000);
    ck_assert_uint_eq(cfg_read(r, 0x18, 0x10, 4), 0xc001);
    ck_assert_uint_eq(cfg_read(r, 0x20, 0x10, 4), 0xc011);
    ck_assert_uint_eq(cfg_read(r, 0x18, 0x14, 4), WIN_BASE);
    ck_assert_uint_eq(cfg_read(r, 0x20, 0x14, 4), WIN_BASE + 0x1000);
    ck_assert_uint_eq(cfg_read(r, 0x18, 0x04, 2) & 7, 7);
    bus_out(&r->bus, 0xc011, 0x42, 1);
    ck_assert_uint_eq(r->dev[1].regs[1], 0x42);
    uint16_t used = piix3_firmware_route_irqs(&r->isa);
    ck_assert_uint_eq(used, 1u << 11);
    ck_assert_uint_eq(cfg_read(r, 0x18, 0x3c, 2), 0x010b);
    ck_assert_uint_eq(cfg_read(r, 0x08, 0x60, 4), 0x0b0b0a0a);
    pci_set_irq(&r->dev[1].pci, true);
    ck_assert(r->pic[11]);
    free(r);
}
END_TEST

START_TEST(reset_and_save_load)
{
    struct rig *a = rig_new(), *b = rig_new();
    pci_firmware_assign_bars(&a->pci, 0xc000);
    piix3_firmware_route_irqs(&a->isa);
    cfg_write(a, 0, 0x5a, 0x11, 1);
    pci_set_irq(&a->dev[0].pci, true);
    struct state_buf s;
    state_init(&s);
    pci_bus_save(&a->pci, &s);
    i440fx_save(&a->host, &s);
    piix3_save(&a->isa, &s);
    for (int i = 0; i < 2; i++)
        pci_device_save(&a->dev[i].pci, i ? "dev1" : "dev0", &s);
    ck_assert_int_eq(pci_bus_load(&b->pci, &s), 0);
    ck_assert_int_eq(i440fx_load(&b->host, &s), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pci_device_load(&b->dev[i].pci, i ? "dev1" : "dev0", &s), 0);
    ck_assert_int_eq(piix3_load(&b->isa, &s), 0);
    ck_assert_uint_eq(b->pam[1], 0x11);
    ck_assert(b->pic[11]);
    bus_out(&b->bus, 0xc001, 0x33, 1);
    ck_assert_uint_eq(b->dev[0].regs[1], 0x33);
    /* Reset: decoding off, routing off, IDs intact. */
    pci_bus_reset(&b->pci);
    i440fx_reset(&b->host);
    piix3_reset(&b->isa);
    ck_assert_uint_eq(bus_in(&b->bus, 0xc001, 1), 0xff);
    ck_assert(!b->pic[11]);
    ck_assert_uint_eq(cfg_read(b, 0x18, 0x00, 4), 0x11101234);
    ck_assert_uint_eq(cfg_read(b, 0x18, 0x10, 4), 1);
    ck_assert_uint_eq(cfg_read(b, 0x00, 0x04, 2), 6);
    state_free(&s);
    free(a);
    free(b);
}
END_TEST

/* Random configuration cycles of every width, 0xCF9 excluded: no crash; the
 * identity bytes never change; each 8259 line equals the OR of the ISA
 * lines and the PIRQs routed to it; every mapped I/O BAR decodes its
 * device. */
START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(99);
    static const unsigned devfns[] = {0x00, 0x08, 0x18, 0x20, 0x28};
    bool isa[16] = {false};
    for (int k = 0; k < 100000; k++) {
        int what = rand() % 10;
        unsigned size = 1u << (rand() % 3);
        if (what < 5) {
            unsigned reg = (unsigned)rand() & 0xff & ~(size - 1);
            if (devfns[rand() % 5] == 0x08 && reg >= 0x4c && rand() % 2)
                reg = 0x60 + (unsigned)rand() % 4;
            cfg_write(r, devfns[rand() % 5], reg, (uint32_t)rand() * 2654435761u, size);
        } else if (what < 7) {
            cfg_read(r, devfns[rand() % 5], (unsigned)rand() & 0xff & ~(size - 1), size);
        } else if (what < 8) {
            pci_set_irq(&r->dev[rand() % 2].pci, rand() & 1);
        } else if (what < 9) {
            int irq = rand() % 16;
            isa[irq] = rand() & 1;
            struct irq_line l = piix3_isa_irq(&r->isa, irq);
            irq_set(&l, isa[irq]);
        } else {
            bus_in(&r->bus, (uint16_t)(0xc000 + rand() % 0x1000), size);
        }
        ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x00, 0, 4), 0x12378086);
        ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x08, 0, 4), 0x70008086);
        ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x18, 0, 4), 0x11101234);
        for (int irq = 0; irq < 16; irq++) {
            bool want = isa[irq];
            for (int x = 0; x < 4; x++)
                want |= piix3_pirq_route(&r->isa, x) == irq && r->pci.pirq_level[x];
            ck_assert(r->pic[irq] == want);
            ck_assert(r->ioapic[piix3_isa_gsi(irq)] == want || irq == 2);
        }
        for (int i = 0; i < 2; i++) {
            const struct pci_bar *bar = &r->dev[i].pci.bar[0];
            if (bar->mapped) {
                bus_out(&r->bus, (uint16_t)(bar->addr + 5), (uint8_t)k, 1);
                ck_assert_uint_eq(r->dev[i].regs[5], (uint8_t)k);
            }
        }
    }
    ck_assert_int_eq(r->resets, 0);
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pci");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identity);
    tcase_add_test(tc, bar_sizing_and_io_mapping);
    tcase_add_test(tc, mem_bar_window);
    tcase_add_test(tc, pirq_routing);
    tcase_add_test(tc, reset_control);
    tcase_add_test(tc, host_bridge_registers);
    tcase_add_test(tc, firmware_setup);
    tcase_add_test(tc, reset_and_save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
