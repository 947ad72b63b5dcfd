/*
 * test_machine_halt.c — how a run ends when the guest halts for good
 * (devices/pc.c): `cli; hlt` with nothing that could deliver an NMI stops
 * the machine with status 0 and STOP_HALTED (Linux's `poweroff -f` without
 * ACPI), while `cli; hlt` with the PIT routed to an I/O APIC pin in NMI
 * mode must keep running until that NMI wakes the CPU.  The guests are a few
 * hand-assembled instructions in flat 32-bit mode.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"

#define CODE 0x100000u
#define NMI_HANDLER 0x100100u
#define IDT 0x100300u
#define GDT 0x100400u
#define GDT_PTR 0x100500u
#define IDT_PTR 0x100510u

static struct machine *new_machine(void)
{
    struct machine_config cfg = {.ram_mb = 4,
                                 .icount = true,
                                 .debug_exit = true,
                                 .debug_exit_base = 0xf4,
                                 .debug_exit_size = 4};
    char err[256];
    struct machine *m = machine_create(&cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

struct asm_buf {
    uint8_t b[256];
    unsigned n;
};

static void emit(struct asm_buf *a, const void *p, unsigned n)
{
    memcpy(a->b + a->n, p, n);
    a->n += n;
}
static void emit8(struct asm_buf *a, uint8_t v)
{
    emit(a, &v, 1);
}
static void emit32(struct asm_buf *a, uint32_t v)
{
    emit(a, &v, 4);
}
/* mov dword [addr], imm32 */
static void mov_m32(struct asm_buf *a, uint32_t addr, uint32_t imm)
{
    emit8(a, 0xc7), emit8(a, 0x05), emit32(a, addr), emit32(a, imm);
}

START_TEST(cli_hlt_stops_with_status_0)
{
    struct machine *m = new_machine();
    static const uint8_t code[] = {0xfa, 0xf4, 0xeb, 0xfe}; /* cli; hlt; jmp $ */
    mmu_phys_write(machine_mmu(m), CODE, code, sizeof code);
    cpu_set_flat32(machine_cpu(m), CODE);
    ck_assert_int_eq(machine_run(m), 0);
    ck_assert_int_eq(machine_stop_reason(m), STOP_HALTED);
    ck_assert_uint_eq(machine_cpu(m)->eip, CODE + 2);
    machine_destroy(m);
}
END_TEST

START_TEST(cli_hlt_waits_for_an_armed_nmi)
{
    struct machine *m = new_machine();
    struct mmu *mmu = machine_mmu(m);
    /* GDT: null, flat code 0x08, flat data 0x10; IDT: vector 2 → handler. */
    static const uint64_t gdt[3] = {0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    mmu_phys_write(mmu, GDT, gdt, sizeof gdt);
    uint32_t gate[6] = {0};
    gate[4] = 0x00080000u | (NMI_HANDLER & 0xffff);
    gate[5] = (NMI_HANDLER & 0xffff0000u) | 0x8e00u;
    mmu_phys_write(mmu, IDT, gate, sizeof gate);
    uint8_t ptr[6] = {sizeof gdt - 1, 0};
    uint32_t base = GDT;
    memcpy(ptr + 2, &base, 4);
    mmu_phys_write(mmu, GDT_PTR, ptr, sizeof ptr);
    ptr[0] = sizeof gate - 1;
    base = IDT;
    memcpy(ptr + 2, &base, 4);
    mmu_phys_write(mmu, IDT_PTR, ptr, sizeof ptr);
    /* NMI handler: mov al, 0x21; out 0xf4, al  → exit status 0x43. */
    static const uint8_t handler[] = {0xb0, 0x21, 0xe6, 0xf4, 0xeb, 0xfe};
    mmu_phys_write(mmu, NMI_HANDLER, handler, sizeof handler);

    struct asm_buf a = {.n = 0};
    emit(&a, "\x0f\x01\x15", 3), emit32(&a, GDT_PTR); /* lgdt */
    emit(&a, "\x0f\x01\x1d", 3), emit32(&a, IDT_PTR); /* lidt */
    mov_m32(&a, 0xfec00000, 0x14);                    /* IOREGSEL: pin 2 (ISA IRQ 0), low dword */
    mov_m32(&a, 0xfec00010, 0x400);                   /* IOWIN: NMI, edge, unmasked */
    static const uint8_t pit[] = {
        0xb0, 0x34, 0xe6, 0x43, /* PIT channel 0: lobyte/hibyte, mode 2 */
        0xb0, 0x00, 0xe6, 0x40, /* count 0x1000 (3.4 ms) */
        0xb0, 0x10, 0xe6, 0x40,
    };
    emit(&a, pit, sizeof pit);
    emit8(&a, 0xfa), emit8(&a, 0xf4); /* cli; hlt */
    emit8(&a, 0xeb), emit8(&a, 0xfe);
    mmu_phys_write(mmu, CODE, a.b, a.n);
    cpu_set_flat32(machine_cpu(m), CODE);
    ck_assert_int_eq(machine_run(m), 0x43);
    ck_assert_int_eq(machine_stop_reason(m), STOP_DEBUG_EXIT);
    machine_destroy(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("machine_halt");
    TCase *tc = tcase_create("halt");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cli_hlt_stops_with_status_0);
    tcase_add_test(tc, cli_hlt_waits_for_an_armed_nmi);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
