/*
 * test_seg.c — the protection half of the CPU core alone (seg.c, intr.c,
 * task.c, sys.c): a GDT, IDT, LDT and TSSs are built in guest RAM, the
 * functions are called directly on a struct cpu, and faults are caught by
 * setjmp on cpu->exc_jmp.  Checked against the SDM: descriptor loads and the
 * selector each fault reports, gate delivery frames, call gates with a
 * privilege change and parameter copying, returns to outer levels, task
 * switches with nesting, v86 entry/exit, the I/O bitmap, double/triple
 * fault classification, and a few system instructions.
 */
#include <check.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/desc.h"
#include "cpu/ops_sys.h"

#define RAM (4u << 20)
#define GDT 0x1000u
#define IDT 0x2000u
#define TSS1 0x3000u
#define TSS2 0x3200u
#define LDT 0x4000u

/* Descriptor high-dword attribute bytes (P DPL S type) and flags. */
#define A_CODE 0x9a00u /* present, DPL0, code exec/read */
#define A_DATA 0x9200u /* present, DPL0, data read/write */
#define A_DPL(d) ((uint32_t)(d) << 13)
#define F_32 0x00c00000u /* G + D/B */

static struct mmu mmu;
static struct cpu cpu;

static void put_desc(uint32_t table, unsigned idx, uint32_t lo, uint32_t hi)
{
    mmu_phys_write32(&mmu, table + idx * 8, lo);
    mmu_phys_write32(&mmu, table + idx * 8 + 4, hi);
}

static void seg_desc(uint32_t table, unsigned idx, uint32_t base, uint32_t limit, uint32_t attr)
{
    uint32_t lo = (base << 16) | (limit & 0xffff);
    uint32_t hi = (base & 0xff000000u) | ((base >> 16) & 0xff) | (limit & 0xf0000u) | attr;
    put_desc(table, idx, lo, hi);
}

static void gate_desc(uint32_t table, unsigned idx, uint16_t sel, uint32_t off, unsigned type,
                      unsigned dpl, unsigned params)
{
    put_desc(table, idx, ((uint32_t)sel << 16) | (off & 0xffff),
             (off & 0xffff0000u) | 0x8000u | A_DPL(dpl) | (type << 8) | params);
}

static uint32_t rd32(uint32_t a)
{
    return mmu_phys_read32(&mmu, a);
}
static uint16_t rd16(uint32_t a)
{
    uint16_t v;
    mmu_phys_read(&mmu, a, &v, 2);
    return v;
}
static void wr16(uint32_t a, uint16_t v)
{
    mmu_phys_write(&mmu, a, &v, 2);
}

/* Load a segment register's cache straight from the GDT (test setup only). */
static void force_seg(int seg, uint16_t sel)
{
    uint32_t lo, hi;
    ck_assert(cpu_read_descriptor(&cpu, sel, &lo, &hi));
    prot_seg_from_desc(&cpu.seg[seg], sel, lo, hi);
}

/*
 * GDT:
 *  1 08 code DPL0 flat     2 10 data DPL0 flat     3 18 code DPL3 flat
 *  4 20 data DPL3 flat     5 28 TSS32 #1           6 30 data not present
 *  7 38 call gate DPL3 -> 08:5000, 2 params        8 40 TSS32 #2
 *  9 48 task gate DPL3 -> 40                      10 50 LDT
 * 11 58 read-only data    12 60 exec-only code    13 68 data limit 0xfff
 * 14 70 data DPL1         15 78 conforming code DPL0
 */
static void setup(void)
{
    memset(&mmu, 0, sizeof mmu);
    ck_assert_int_eq(mmu_init(&mmu, RAM), 0);
    memset(&cpu, 0, sizeof cpu);
    ck_assert_int_eq(cpu_init(&cpu, &mmu), 0);
    mmu.page_fault = cpu_mmu_page_fault;
    mmu.fault_opaque = &cpu;

    seg_desc(GDT, 1, 0, 0xfffff, F_32 | A_CODE);
    seg_desc(GDT, 2, 0, 0xfffff, F_32 | A_DATA);
    seg_desc(GDT, 3, 0, 0xfffff, F_32 | A_CODE | A_DPL(3));
    seg_desc(GDT, 4, 0, 0xfffff, F_32 | A_DATA | A_DPL(3));
    seg_desc(GDT, 5, TSS1, 0x67 + 0x20, 0x8900);
    seg_desc(GDT, 6, 0, 0xfffff, F_32 | (A_DATA & ~0x8000u));
    gate_desc(GDT, 7, 0x08, 0x5000, SYS_CALLGATE32, 3, 2);
    seg_desc(GDT, 8, TSS2, 0x67, 0x8900);
    gate_desc(GDT, 9, 0x40, 0, SYS_TASKGATE, 3, 0);
    seg_desc(GDT, 10, LDT, 0x17, 0x8200);
    seg_desc(GDT, 11, 0, 0xfffff, F_32 | 0x9000u);
    seg_desc(GDT, 12, 0, 0xfffff, F_32 | 0x9800u);
    seg_desc(GDT, 13, 0, 0xfff, 0x00400000u | A_DATA);
    seg_desc(GDT, 14, 0, 0xfffff, F_32 | A_DATA | A_DPL(1));
    seg_desc(GDT, 15, 0, 0xfffff, F_32 | 0x9e00u);
    seg_desc(LDT, 1, 0x100000, 0xffff, A_DATA | A_DPL(3)); /* sel 0x0f */

    gate_desc(IDT, 0x80, 0x08, 0x6000, SYS_INTGATE32, 3, 0);
    gate_desc(IDT, 0x81, 0x08, 0x6100, SYS_INTGATE32, 0, 0);
    gate_desc(IDT, EXC_GP, 0x08, 0x7000, SYS_TRAPGATE32, 0, 0);
    put_desc(IDT, 0x82, 0x00086200u, 0x6e00u | A_DPL(3)); /* not present */
    gate_desc(IDT, 0x90, 0x40, 0, SYS_TASKGATE, 0, 0);

    /* TSS #1: ring-0 stack 10:9000, I/O bitmap at 0x68 (ports 0-255). */
    mmu_phys_write32(&mmu, TSS1 + 4, 0x9000);
    mmu_phys_write32(&mmu, TSS1 + 8, 0x10);
    wr16(TSS1 + 0x66, 0x68);
    for (unsigned k = 0; k < 0x20; k++)
        mmu.ram[TSS1 + 0x68 + k] = 0xff;
    mmu.ram[TSS1 + 0x68 + (0x60 >> 3)] = 0xfe; /* port 0x60 allowed */

    cpu.gdtr.base = GDT;
    cpu.gdtr.limit = 16 * 8 - 1;
    cpu.idtr.base = IDT;
    cpu.idtr.limit = 0x100 * 8 - 1;
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu.pending_exc = -1;
    force_seg(SEG_CS, 0x08);
    force_seg(SEG_SS, 0x10);
    force_seg(SEG_DS, 0x10);
    force_seg(SEG_ES, 0x10);
    force_seg(SEG_FS, 0x10);
    force_seg(SEG_GS, 0x10);
    force_seg(SEG_TR, 0x28);
    mmu.ram[GDT + 5 * 8 + 5] |= SYS_TSS_BUSY_BIT;
    cpu.seg[SEG_TR].flags |= SYS_TSS_BUSY_BIT << 8;
    force_seg(SEG_LDTR, 0x50);
    cpu_set_cpl(&cpu, 0);
    cpu_set_eflags(&cpu, 0x202);
    cpu.regs[R_ESP] = 0xa000;
    cpu.eip = 0x1000;
    cpu.insn_eip = 0xffe;
}

static void teardown(void)
{
    cpu_destroy(&cpu);
    mmu_destroy(&mmu);
}

/* A fresh machine in the middle of a test. */
static void refresh(void)
{
    teardown();
    setup();
}

static void to_user(void)
{
    force_seg(SEG_CS, 0x1b);
    force_seg(SEG_SS, 0x23);
    force_seg(SEG_DS, 0x23);
    force_seg(SEG_ES, 0x23);
    cpu_set_cpl(&cpu, 3);
    cpu.regs[R_ESP] = 0x8000;
}

/* Run `stmt`, expect it to fault with (vec, err); `cpu` must not change. */
#define EXPECT_FAULT(stmt, vec, err)                                                               \
    do {                                                                                           \
        cpu.pending_exc = -1;                                                                      \
        if (setjmp(cpu.exc_jmp) == 0) {                                                            \
            stmt;                                                                                  \
            ck_abort_msg("no fault from " #stmt);                                                  \
        }                                                                                          \
        ck_assert_int_eq(cpu.fault_vector, (vec));                                                 \
        ck_assert_uint_eq(cpu.fault_error, (err));                                                 \
    } while (0)

#define EXPECT_OK(stmt)                                                                            \
    do {                                                                                           \
        if (setjmp(cpu.exc_jmp) == 0) {                                                            \
            stmt;                                                                                  \
        } else {                                                                                   \
            ck_abort_msg("fault %d(%x) from " #stmt, cpu.fault_vector, cpu.fault_error);           \
        }                                                                                          \
    } while (0)

START_TEST(test_load_data_ok)
{
    EXPECT_OK(cpu_load_seg(&cpu, SEG_DS, 0x10));
    ck_assert_uint_eq(cpu.seg[SEG_DS].base, 0);
    ck_assert_uint_eq(cpu.seg[SEG_DS].limit, 0xffffffffu);
    ck_assert(mmu.ram[GDT + 2 * 8 + 5] & DT_ACCESSED); /* written back */
    EXPECT_OK(cpu_load_seg(&cpu, SEG_ES, 0x0f));       /* LDT */
    ck_assert_uint_eq(cpu.seg[SEG_ES].base, 0x100000);
    ck_assert_uint_eq(cpu.seg[SEG_ES].limit, 0xffff);
    EXPECT_OK(cpu_load_seg(&cpu, SEG_FS, 0x78)); /* conforming readable code */
    EXPECT_OK(cpu_load_seg(&cpu, SEG_GS, 0));
    ck_assert_uint_eq(cpu.seg[SEG_GS].flags, 0); /* unusable */
    EXPECT_OK(cpu_load_seg(&cpu, SEG_SS, 0x10));
}
END_TEST

START_TEST(test_load_faults)
{
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_SS, 0), EXC_GP, 0);
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_SS, 0x13), EXC_GP, 0x10); /* RPL != CPL */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_SS, 0x58), EXC_GP, 0x58); /* read-only */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_SS, 0x08), EXC_GP, 0x08); /* code */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_SS, 0x30), EXC_SS, 0x30); /* not present */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x30), EXC_NP, 0x30);
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x1003), EXC_GP, 0x1000); /* beyond GDT */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x17), EXC_GP, 0x14);     /* beyond LDT */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x60), EXC_GP, 0x60);     /* exec-only */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x28), EXC_GP, 0x28);     /* system */
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x73), EXC_GP, 0x70);     /* RPL 3 > DPL 1 */
    to_user();
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x10), EXC_GP, 0x10); /* CPL 3 > DPL 0 */
    EXPECT_OK(cpu_load_seg(&cpu, SEG_DS, 0x7b));  /* conforming code: no DPL check */
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x23); /* untouched by the faults */
}
END_TEST

START_TEST(test_real_and_v86_loads)
{
    cpu.cr0 = CR0_ET;
    EXPECT_OK(cpu_load_seg(&cpu, SEG_DS, 0x1234));
    ck_assert_uint_eq(cpu.seg[SEG_DS].base, 0x12340);
    ck_assert_uint_eq(cpu.seg[SEG_DS].limit, 0xffffffffu); /* unreal: limit kept */
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu_set_eflags(&cpu, 0x20202);
    cpu_set_cpl(&cpu, 3);
    EXPECT_OK(cpu_load_seg(&cpu, SEG_ES, 0xb800));
    ck_assert_uint_eq(cpu.seg[SEG_ES].base, 0xb8000);
    ck_assert_uint_eq(cpu.seg[SEG_ES].limit, 0xffff);
    ck_assert_uint_eq(SEGF_DPL(cpu.seg[SEG_ES].flags), 3);
}
END_TEST

START_TEST(test_int_gate_inner)
{
    to_user();
    cpu.insn_eip = 0x4000;
    cpu.eip = 0x4002;
    EXPECT_OK(cpu_deliver(&cpu, 0x80, INTR_SOFTWARE, false, 0));
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x08);
    ck_assert_uint_eq(cpu.cpl, 0);
    ck_assert_uint_eq(cpu.eip, 0x6000);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x10);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x9000 - 20);
    ck_assert_uint_eq(rd32(0x9000 - 20), 0x4002);
    ck_assert_uint_eq(rd32(0x9000 - 16), 0x1b);
    ck_assert_uint_eq(rd32(0x9000 - 12) & 0xffff, 0x202);
    ck_assert_uint_eq(rd32(0x9000 - 8), 0x8000);
    ck_assert_uint_eq(rd32(0x9000 - 4), 0x23);
    ck_assert(!(cpu_get_eflags(&cpu) & FL_IF)); /* interrupt gate */
    ck_assert_int_eq(cpu.pending_exc, -1);

    /* IRET back to ring 3; DS (DPL 3) stays, a DPL-0 ES would be nulled. */
    force_seg(SEG_ES, 0x10);
    EXPECT_OK(cpu_iret(&cpu, 4));
    ck_assert_uint_eq(cpu.cpl, 3);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x1b);
    ck_assert_uint_eq(cpu.eip, 0x4002);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x23);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x8000);
    ck_assert_uint_eq(cpu.seg[SEG_DS].sel, 0x23);
    ck_assert_uint_eq(cpu.seg[SEG_ES].flags, 0);
    ck_assert(cpu_get_eflags(&cpu) & FL_IF);
    ck_assert(mmu.user);
}
END_TEST

START_TEST(test_int_faults)
{
    to_user();
    cpu.insn_eip = 0x4000;
    cpu.eip = 0x4002;
    EXPECT_FAULT(cpu_deliver(&cpu, 0x81, INTR_SOFTWARE, false, 0), EXC_GP, 0x81 * 8 + 2);
    ck_assert_uint_eq(cpu.eip, 0x4000); /* restartable at the INT */
    ck_assert_uint_eq(cpu.cpl, 3);
    cpu.eip = 0x4002;
    EXPECT_FAULT(cpu_deliver(&cpu, 0x82, INTR_SOFTWARE, false, 0), EXC_NP, 0x82 * 8 + 2);
    /* External event: no DPL check, EXT set in error codes. */
    cpu.eip = 0x4002;
    EXPECT_FAULT(cpu_deliver(&cpu, 0x83, INTR_EXTERNAL, false, 0), EXC_GP, 0x83 * 8 + 3);
    cpu.eip = 0x4002;
    EXPECT_OK(cpu_deliver(&cpu, 0x81, INTR_EXTERNAL, false, 0));
    ck_assert_uint_eq(cpu.eip, 0x6100);
    /* Beyond the IDT limit. */
    cpu.idtr.limit = 0x7f;
    EXPECT_FAULT(cpu_deliver(&cpu, 0x10, INTR_SOFTWARE, false, 0), EXC_GP, 0x10 * 8 + 2);
}
END_TEST

START_TEST(test_exception_same_level)
{
    cpu.insn_eip = 0x1234;
    cpu.eip = 0x1234;
    EXPECT_OK(cpu_deliver(&cpu, EXC_GP, INTR_EXCEPTION, true, 0x28));
    ck_assert_uint_eq(cpu.eip, 0x7000);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0xa000 - 16);
    ck_assert_uint_eq(rd32(0xa000 - 16), 0x28);
    ck_assert_uint_eq(rd32(0xa000 - 12), 0x1234);
    ck_assert_uint_eq(rd32(0xa000 - 8), 0x08);
    ck_assert(cpu_get_eflags(&cpu) & FL_IF); /* trap gate keeps IF */
    ck_assert_uint_eq(cpu.stats.exceptions, 1);
    /* IRET does not pop the error code: the handler does. */
    cpu.regs[R_ESP] += 4;
    EXPECT_OK(cpu_iret(&cpu, 4));
    ck_assert_uint_eq(cpu.eip, 0x1234);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0xa000);
}
END_TEST

START_TEST(test_stack_fault_is_precise)
{
    force_seg(SEG_SS, 0x68); /* limit 0xfff */
    cpu.regs[R_ESP] = 6;
    cpu.insn_eip = 0x1000;
    cpu.eip = 0x1007;
    EXPECT_FAULT(cpu_far_call(&cpu, 0x08, 0x3000, 4), EXC_SS, 0);
    ck_assert_uint_eq(cpu.regs[R_ESP], 6);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x08);
    ck_assert_uint_eq(cpu.eip, 0x1000);
    cpu.eip = 0x1007;
    EXPECT_FAULT(cpu_deliver(&cpu, 0x80, INTR_SOFTWARE, false, 0), EXC_SS, 0);
    cpu.regs[R_ESP] = 0x800;
    cpu.eip = 0x1007;
    EXPECT_OK(cpu_far_call(&cpu, 0x08, 0x3000, 2));
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x7fc);
    ck_assert_uint_eq(rd16(0x7fc), 0x1007);
    ck_assert_uint_eq(rd16(0x7fe), 0x08);
    EXPECT_OK(cpu_far_ret(&cpu, 2, 0));
    ck_assert_uint_eq(cpu.eip, 0x1007);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x800);
}
END_TEST

START_TEST(test_call_gate_inner_and_ret)
{
    to_user();
    cpu.regs[R_ESP] = 0x8000 - 8;
    mmu_phys_write32(&mmu, 0x8000 - 8, 0x11111111); /* param 0 */
    mmu_phys_write32(&mmu, 0x8000 - 4, 0x22222222); /* param 1 */
    cpu.insn_eip = 0x4000;
    cpu.eip = 0x4007;
    EXPECT_OK(cpu_far_call(&cpu, 0x3b, 0, 4));
    ck_assert_uint_eq(cpu.cpl, 0);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x08);
    ck_assert_uint_eq(cpu.eip, 0x5000);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x10);
    uint32_t sp = 0x9000 - 24;
    ck_assert_uint_eq(cpu.regs[R_ESP], sp);
    ck_assert_uint_eq(rd32(sp + 0), 0x4007);
    ck_assert_uint_eq(rd32(sp + 4), 0x1b);
    ck_assert_uint_eq(rd32(sp + 8), 0x11111111);
    ck_assert_uint_eq(rd32(sp + 12), 0x22222222);
    ck_assert_uint_eq(rd32(sp + 16), 0x8000 - 8);
    ck_assert_uint_eq(rd32(sp + 20), 0x23);

    /* RETF 8 to ring 3 releases the parameters on both stacks. */
    force_seg(SEG_DS, 0x10);
    EXPECT_OK(cpu_far_ret(&cpu, 4, 8));
    ck_assert_uint_eq(cpu.cpl, 3);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x1b);
    ck_assert_uint_eq(cpu.eip, 0x4007);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x23);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x8000);
    ck_assert_uint_eq(cpu.seg[SEG_DS].flags, 0); /* DPL 0 data nulled */
    ck_assert_uint_eq(cpu.seg[SEG_DS].sel, 0);

    /* Gate DPL and target checks. */
    EXPECT_FAULT(cpu_far_jmp(&cpu, 0x08, 0, 4), EXC_GP, 0x08);  /* DPL 0 != CPL 3 */
    EXPECT_FAULT(cpu_far_jmp(&cpu, 0x3b, 0, 4), EXC_GP, 0x08);  /* JMP can't go inward */
    EXPECT_FAULT(cpu_far_call(&cpu, 0x30, 0, 4), EXC_GP, 0x30); /* data segment */
    EXPECT_FAULT(cpu_far_call(&cpu, 0, 0, 4), EXC_GP, 0);
}
END_TEST

START_TEST(test_far_jmp_conforming_and_limit)
{
    to_user();
    EXPECT_OK(cpu_far_jmp(&cpu, 0x78, 0x1234, 4)); /* conforming DPL 0 from CPL 3 */
    ck_assert_uint_eq(cpu.cpl, 3);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x7b);
    ck_assert_uint_eq(cpu.eip, 0x1234);
    cpu_set_cpl(&cpu, 0);
    force_seg(SEG_CS, 0x08);
    seg_desc(GDT, 13, 0, 0xfff, 0x00400000u | A_CODE);
    EXPECT_FAULT(cpu_far_jmp(&cpu, 0x68, 0x1000, 4), EXC_GP, 0);
    EXPECT_OK(cpu_far_jmp(&cpu, 0x68, 0xfff, 4));
    ck_assert_uint_eq(cpu.seg[SEG_CS].limit, 0xfff);
}
END_TEST

START_TEST(test_task_switch_jmp_call_iret)
{
    /* TSS #2: a ring-0 task at 08:1234 with its own stack. */
    mmu_phys_write32(&mmu, TSS2 + 0x20, 0x1234);
    mmu_phys_write32(&mmu, TSS2 + 0x24, 0x2);
    mmu_phys_write32(&mmu, TSS2 + 0x28, 0xdead);
    mmu_phys_write32(&mmu, TSS2 + 0x38, 0x7000);
    wr16(TSS2 + 0x48, 0x10);
    wr16(TSS2 + 0x4c, 0x08);
    wr16(TSS2 + 0x50, 0x10);
    wr16(TSS2 + 0x54, 0x10);
    wr16(TSS2 + 0x60, 0x50);
    cpu.regs[R_EAX] = 0xbeef;
    cpu.insn_eip = 0x2000;
    cpu.eip = 0x2007;

    EXPECT_OK(cpu_far_call(&cpu, 0x40, 0, 4));
    ck_assert_uint_eq(cpu.seg[SEG_TR].sel, 0x40);
    ck_assert_uint_eq(cpu.eip, 0x1234);
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xdead);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x7000);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x08);
    ck_assert_uint_eq(cpu.seg[SEG_FS].flags, 0); /* null in the TSS */
    ck_assert_uint_eq(cpu.seg[SEG_LDTR].base, LDT);
    ck_assert(cpu_get_eflags(&cpu) & FL_NT);
    ck_assert(cpu.cr0 & CR0_TS);
    ck_assert_uint_eq(rd16(TSS2), 0x28);          /* back-link */
    ck_assert_uint_eq(rd32(TSS1 + 0x20), 0x2007); /* saved EIP */
    ck_assert_uint_eq(rd32(TSS1 + 0x28), 0xbeef); /* saved EAX */
    ck_assert(mmu.ram[GDT + 8 * 8 + 5] & SYS_TSS_BUSY_BIT);
    ck_assert(mmu.ram[GDT + 5 * 8 + 5] & SYS_TSS_BUSY_BIT); /* still busy: nested */

    /* A busy task can't be called again. */
    cpu.insn_eip = cpu.eip;
    EXPECT_FAULT(cpu_far_call(&cpu, 0x40, 0, 4), EXC_GP, 0x40);

    /* IRET with NT returns through the back-link. */
    cpu.eip = 0x1300;
    EXPECT_OK(cpu_iret(&cpu, 4));
    ck_assert_uint_eq(cpu.seg[SEG_TR].sel, 0x28);
    ck_assert_uint_eq(cpu.eip, 0x2007);
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xbeef);
    ck_assert(!(mmu.ram[GDT + 8 * 8 + 5] & SYS_TSS_BUSY_BIT));
    ck_assert(!(rd32(TSS2 + 0x24) & FL_NT)); /* NT cleared in the saved image */
    ck_assert_uint_eq(rd32(TSS2 + 0x20), 0x1300);

    /* JMP through the task gate: no nesting. */
    to_user();
    EXPECT_OK(cpu_far_jmp(&cpu, 0x4b, 0, 4));
    ck_assert_uint_eq(cpu.seg[SEG_TR].sel, 0x40);
    ck_assert_uint_eq(cpu.eip, 0x1300);
    ck_assert_uint_eq(cpu.cpl, 0);
    ck_assert(!(cpu_get_eflags(&cpu) & FL_NT));
    ck_assert(!(mmu.ram[GDT + 5 * 8 + 5] & SYS_TSS_BUSY_BIT));
}
END_TEST

START_TEST(test_task_gate_interrupt_with_error)
{
    mmu_phys_write32(&mmu, TSS2 + 0x20, 0x1234);
    mmu_phys_write32(&mmu, TSS2 + 0x24, 0x2);
    mmu_phys_write32(&mmu, TSS2 + 0x38, 0x7000);
    wr16(TSS2 + 0x4c, 0x08);
    wr16(TSS2 + 0x50, 0x10);
    wr16(TSS2 + 0x60, 0);
    cpu.eip = 0x3333;
    EXPECT_OK(cpu_deliver(&cpu, 0x90, INTR_EXCEPTION, true, 0x55));
    ck_assert_uint_eq(cpu.seg[SEG_TR].sel, 0x40);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x7000 - 4);
    ck_assert_uint_eq(rd32(0x7000 - 4), 0x55);
    ck_assert_uint_eq(cpu.seg[SEG_LDTR].flags, 0);
    ck_assert_uint_eq(rd32(TSS1 + 0x20), 0x3333);

    /* A bad SS in the new task faults in the new task's context. */
    refresh();
    mmu_phys_write32(&mmu, TSS2 + 0x20, 0x1234);
    wr16(TSS2 + 0x4c, 0x08);
    wr16(TSS2 + 0x50, 0x58); /* read-only data */
    EXPECT_FAULT(cpu_far_jmp(&cpu, 0x40, 0, 4), EXC_TS, 0x58);
    ck_assert_uint_eq(cpu.seg[SEG_TR].sel, 0x40);
    ck_assert_uint_eq(cpu.eip, 0x1234);
}
END_TEST

START_TEST(test_double_and_triple_fault)
{
    cpu.pending_exc = EXC_GP;
    if (setjmp(cpu.exc_jmp) == 0) cpu_fault(&cpu, EXC_NP, 0x10);
    ck_assert_int_eq(cpu.fault_vector, EXC_DF);
    ck_assert_uint_eq(cpu.fault_error, 0);

    cpu.pending_exc = EXC_UD; /* benign first: delivered serially */
    if (setjmp(cpu.exc_jmp) == 0) cpu_fault(&cpu, EXC_GP, 8);
    ck_assert_int_eq(cpu.fault_vector, EXC_GP);

    cpu.pending_exc = EXC_PF;
    if (setjmp(cpu.exc_jmp) == 0) cpu_fault(&cpu, EXC_PF, 2);
    ck_assert_int_eq(cpu.fault_vector, EXC_DF);

    cpu.pending_exc = EXC_GP; /* contributory then #PF: serial */
    if (setjmp(cpu.exc_jmp) == 0) cpu_fault(&cpu, EXC_PF, 2);
    ck_assert_int_eq(cpu.fault_vector, EXC_PF);

    cpu.pending_exc = EXC_DF;
    int r = setjmp(cpu.exc_jmp);
    if (r == 0) cpu_fault(&cpu, EXC_GP, 0);
    ck_assert_int_eq(r, 2);
    ck_assert(cpu.shutdown);

    /* Through delivery: no IDT at all → #GP → #DF → shutdown. */
    refresh();
    cpu.idtr.limit = 0;
    volatile int vec = EXC_UD;
    volatile bool err = false;
    volatile uint32_t code = 0;
    for (int n = 0; n < 5; n++) {
        r = setjmp(cpu.exc_jmp);
        if (r == 2) break;
        if (r == 1) {
            vec = cpu.fault_vector;
            code = cpu.fault_error;
            err = cpu_exception_has_error(vec);
        }
        cpu_deliver(&cpu, vec, INTR_EXCEPTION, err, code);
        ck_abort_msg("delivery succeeded");
    }
    ck_assert_int_eq(r, 2);
    ck_assert(cpu.shutdown);
}
END_TEST

START_TEST(test_real_mode_interrupt_and_iret)
{
    cpu.cr0 = CR0_ET;
    cpu.idtr.base = 0;
    cpu.idtr.limit = 0x3ff;
    mmu_phys_write32(&mmu, 0x10 * 4, 0xc0001234u);
    cpu_load_seg_real(&cpu, SEG_CS, 0x0100);
    cpu_load_seg_real(&cpu, SEG_SS, 0x0200);
    cpu.seg[SEG_CS].limit = cpu.seg[SEG_SS].limit = 0xffff;
    cpu.seg[SEG_SS].flags &= ~SEGFL_DB;
    cpu.regs[R_ESP] = 0x100;
    cpu.eip = 0x50;
    cpu_set_eflags(&cpu, 0x302);
    EXPECT_OK(cpu_deliver(&cpu, 0x10, INTR_SOFTWARE, false, 0));
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0xc000);
    ck_assert_uint_eq(cpu.seg[SEG_CS].base, 0xc0000);
    ck_assert_uint_eq(cpu.eip, 0x1234);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0xfa);
    ck_assert_uint_eq(rd16(0x20fa), 0x50);
    ck_assert_uint_eq(rd16(0x20fc), 0x100);
    ck_assert_uint_eq(rd16(0x20fe), 0x302);
    ck_assert(!(cpu_get_eflags(&cpu) & (FL_IF | FL_TF)));
    EXPECT_OK(cpu_iret(&cpu, 2));
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x100);
    ck_assert_uint_eq(cpu.eip, 0x50);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x100);
    ck_assert(cpu_get_eflags(&cpu) & FL_IF);
    /* Far call/ret in real mode. */
    EXPECT_OK(cpu_far_call(&cpu, 0x3000, 0x10, 2));
    ck_assert_uint_eq(cpu.seg[SEG_CS].base, 0x30000);
    ck_assert_uint_eq(rd16(0x20fe), 0x100);
    ck_assert_uint_eq(rd16(0x20fc), 0x50);
    EXPECT_OK(cpu_far_ret(&cpu, 2, 0));
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x100);
}
END_TEST

START_TEST(test_v86_round_trip)
{
    /* IRET from ring 0 into v86 mode. */
    uint32_t sp = 0x9000 - 36;
    uint32_t frame[9] = {0x0100, 0x2000, 0x20202 /* VM IOPL0 IF */, 0x0ffe, 0x3000, 0x4000, 0x5000,
                         0x6000, 0x7000};
    for (int k = 0; k < 9; k++)
        mmu_phys_write32(&mmu, sp + 4 * k, frame[k]);
    cpu.regs[R_ESP] = sp;
    EXPECT_OK(cpu_iret(&cpu, 4));
    ck_assert(cpu_v86(&cpu));
    ck_assert_uint_eq(cpu.cpl, 3);
    ck_assert_uint_eq(cpu.seg[SEG_CS].base, 0x20000);
    ck_assert_uint_eq(cpu.seg[SEG_SS].base, 0x30000);
    ck_assert_uint_eq(cpu.seg[SEG_GS].base, 0x70000);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x0ffe);
    ck_assert_uint_eq(cpu.eip, 0x100);

    /* IOPL 0: INT n, CLI, PUSHF and IRET are #GP(0). */
    struct insn in = {0};
    in.opsize = 2;
    in.imm = 0x21;
    EXPECT_FAULT(op_int_imm(&cpu, &in), EXC_GP, 0);
    EXPECT_FAULT(op_cli(&cpu, &in), EXC_GP, 0);
    EXPECT_FAULT(op_pushf(&cpu, &in), EXC_GP, 0);
    EXPECT_FAULT(cpu_iret(&cpu, 2), EXC_GP, 0);

    /* An external interrupt takes it back to ring 0, saving the segments. */
    cpu.eip = 0x104;
    EXPECT_OK(cpu_deliver(&cpu, 0x81, INTR_EXTERNAL, false, 0));
    ck_assert(!cpu_v86(&cpu));
    ck_assert_uint_eq(cpu.cpl, 0);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x9000 - 36);
    ck_assert_uint_eq(rd32(sp + 0), 0x104);
    ck_assert_uint_eq(rd32(sp + 4), 0x2000);
    ck_assert(rd32(sp + 8) & FL_VM);
    ck_assert_uint_eq(rd32(sp + 16), 0x3000);
    ck_assert_uint_eq(rd32(sp + 20), 0x4000);
    ck_assert_uint_eq(rd32(sp + 32), 0x7000);
    ck_assert_uint_eq(cpu.seg[SEG_DS].flags, 0);
    ck_assert_uint_eq(cpu.seg[SEG_DS].sel, 0);
}
END_TEST

START_TEST(test_io_permission)
{
    to_user(); /* CPL 3 > IOPL 0 */
    EXPECT_OK(cpu_check_io(&cpu, 0x60, 1));
    EXPECT_FAULT(cpu_check_io(&cpu, 0x61, 1), EXC_GP, 0);
    EXPECT_FAULT(cpu_check_io(&cpu, 0x60, 2), EXC_GP, 0);  /* 0x61 denied */
    EXPECT_FAULT(cpu_check_io(&cpu, 0x3f8, 1), EXC_GP, 0); /* beyond the TSS limit */
    cpu_set_eflags(&cpu, 0x3202);                          /* IOPL 3 */
    EXPECT_OK(cpu_check_io(&cpu, 0x3f8, 1));
}
END_TEST

START_TEST(test_lar_lsl_verr_arpl)
{
    struct insn in = {0};
    in.mod = 3;
    in.rm = R_EBX;
    in.reg = R_EAX;
    in.opsize = 4;
    cpu.regs[R_EBX] = 0x10;
    EXPECT_OK(op_lsl(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xffffffffu);
    ck_assert(cpu_get_eflags(&cpu) & FL_ZF);
    cpu.regs[R_EBX] = 0x38; /* call gate: LAR yes, LSL no */
    EXPECT_OK(op_lar(&cpu, &in));
    ck_assert(cpu_get_eflags(&cpu) & FL_ZF);
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xec00);
    EXPECT_OK(op_lsl(&cpu, &in));
    ck_assert(!(cpu_get_eflags(&cpu) & FL_ZF));
    to_user();
    cpu.regs[R_EBX] = 0x10; /* DPL 0 from CPL 3 */
    EXPECT_OK(op_lar(&cpu, &in));
    ck_assert(!(cpu_get_eflags(&cpu) & FL_ZF));
    in.reg = 4; /* VERR */
    cpu.regs[R_EBX] = 0x23;
    EXPECT_OK(op_grp6(&cpu, &in));
    ck_assert(cpu_get_eflags(&cpu) & FL_ZF);
    in.reg = 5; /* VERW of code */
    cpu.regs[R_EBX] = 0x1b;
    EXPECT_OK(op_grp6(&cpu, &in));
    ck_assert(!(cpu_get_eflags(&cpu) & FL_ZF));
    in.reg = 2; /* LLDT at CPL 3 */
    EXPECT_FAULT(op_grp6(&cpu, &in), EXC_GP, 0);
    /* ARPL raises the RPL. */
    in.reg = R_ECX;
    in.rm = R_EBX;
    cpu.regs[R_EBX] = 0x10;
    cpu.regs[R_ECX] = 0x3;
    EXPECT_OK(op_arpl(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EBX], 0x13);
    ck_assert(cpu_get_eflags(&cpu) & FL_ZF);
    cpu.cr0 = CR0_ET;
    EXPECT_FAULT(op_arpl(&cpu, &in), EXC_UD, 0);
}
END_TEST

START_TEST(test_ltr_lldt)
{
    struct insn in = {0};
    in.mod = 3;
    in.rm = R_EBX;
    in.reg = 3;
    cpu.regs[R_EBX] = 0x40;
    EXPECT_OK(op_grp6(&cpu, &in));
    ck_assert_uint_eq(cpu.seg[SEG_TR].base, TSS2);
    ck_assert(mmu.ram[GDT + 8 * 8 + 5] & SYS_TSS_BUSY_BIT);
    EXPECT_FAULT(op_grp6(&cpu, &in), EXC_GP, 0x40); /* now busy */
    cpu.regs[R_EBX] = 0x10;
    EXPECT_FAULT(op_grp6(&cpu, &in), EXC_GP, 0x10);
    in.reg = 2;
    cpu.regs[R_EBX] = 0;
    EXPECT_OK(op_grp6(&cpu, &in));
    ck_assert_uint_eq(cpu.seg[SEG_LDTR].flags, 0);
    EXPECT_FAULT(cpu_load_seg(&cpu, SEG_DS, 0x0f), EXC_GP, 0x0c);
    cpu.regs[R_EBX] = 0x50;
    EXPECT_OK(op_grp6(&cpu, &in));
    EXPECT_OK(cpu_load_seg(&cpu, SEG_DS, 0x0f));
    in.reg = 0; /* SLDT into a 32-bit register zero-extends */
    cpu.regs[R_EBX] = 0xffffffffu;
    in.opsize = 4;
    EXPECT_OK(op_grp6(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EBX], 0x50);
}
END_TEST

START_TEST(test_sys_misc)
{
    struct insn in = {0};
    in.opsize = 4;
    cpu.regs[R_EAX] = 0;
    EXPECT_OK(op_cpuid(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 2);
    ck_assert_uint_eq(cpu.regs[R_EBX], 0x756e6547u);
    cpu.regs[R_EAX] = 1;
    EXPECT_OK(op_cpuid(&cpu, &in));
    ck_assert_uint_eq((cpu.regs[R_EAX] >> 8) & 0xf, 6);
    ck_assert(cpu.regs[R_EDX] & 1);          /* FPU */
    ck_assert(cpu.regs[R_EDX] & (1u << 6));  /* PAE */
    ck_assert(cpu.regs[R_EDX] & (1u << 11)); /* SEP */
    cpu.regs[R_EAX] = 0x80000001u;
    EXPECT_OK(op_cpuid(&cpu, &in));
    ck_assert(cpu.regs[R_EDX] & (1u << 20)); /* NX */
    /* EFER: NXE is writable, anything else (SCE, LME) #GP. */
    cpu.regs[R_ECX] = 0xc0000080u;
    cpu.regs[R_EDX] = 0;
    cpu.regs[R_EAX] = 1u << 11;
    EXPECT_OK(op_wrmsr(&cpu, &in));
    ck_assert_uint_eq(cpu.efer, 1u << 11);
    cpu.regs[R_EAX] = 1u << 8;
    EXPECT_FAULT(op_wrmsr(&cpu, &in), EXC_GP, 0);
    cpu.regs[R_EAX] = 0;
    EXPECT_OK(op_rdmsr(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 1u << 11);

    cpu.regs[R_ECX] = 0x174;
    cpu.regs[R_EAX] = 0x08;
    cpu.regs[R_EDX] = 0;
    EXPECT_OK(op_wrmsr(&cpu, &in));
    cpu.regs[R_ECX] = 0x175;
    cpu.regs[R_EAX] = 0x9000;
    EXPECT_OK(op_wrmsr(&cpu, &in));
    cpu.regs[R_ECX] = 0x176;
    cpu.regs[R_EAX] = 0xc0001000u;
    EXPECT_OK(op_wrmsr(&cpu, &in));
    cpu.regs[R_ECX] = 0x174;
    EXPECT_OK(op_rdmsr(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 0x08);
    cpu.regs[R_ECX] = 0xdead;
    EXPECT_FAULT(op_rdmsr(&cpu, &in), EXC_GP, 0);

    /* TSC: write sets the count, it then advances with the source. */
    cpu.stats.insns = 100;
    cpu.regs[R_ECX] = 0x10;
    cpu.regs[R_EAX] = 5000;
    cpu.regs[R_EDX] = 0x77;
    EXPECT_OK(op_wrmsr(&cpu, &in));
    cpu.stats.insns = 110;
    EXPECT_OK(op_rdtsc(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 5010);
    ck_assert_uint_eq(cpu.regs[R_EDX], 0);

    /* SYSEXIT to ring 3, SYSENTER back. */
    cpu.regs[R_ECX] = 0x8000;
    cpu.regs[R_EDX] = 0x400000;
    EXPECT_OK(op_sysexit(&cpu, &in));
    ck_assert_uint_eq(cpu.cpl, 3);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x1b);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x23);
    ck_assert_uint_eq(cpu.eip, 0x400000);
    EXPECT_FAULT(op_hlt(&cpu, &in), EXC_GP, 0);
    EXPECT_FAULT(op_rdmsr(&cpu, &in), EXC_GP, 0);
    EXPECT_OK(op_sysenter(&cpu, &in));
    ck_assert_uint_eq(cpu.cpl, 0);
    ck_assert_uint_eq(cpu.seg[SEG_CS].sel, 0x08);
    ck_assert_uint_eq(cpu.seg[SEG_SS].sel, 0x10);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x9000);
    ck_assert_uint_eq(cpu.eip, 0xc0001000u);
    ck_assert(!(cpu_get_eflags(&cpu) & FL_IF));

    /* CR writes. */
    in.reg = 0;
    in.rm = R_EAX;
    cpu.regs[R_EAX] = CR0_PG;
    EXPECT_FAULT(op_mov_cr_r(&cpu, &in), EXC_GP, 0); /* PG without PE */
    in.reg = 4;
    cpu.regs[R_EAX] = CR4_VME;
    EXPECT_FAULT(op_mov_cr_r(&cpu, &in), EXC_GP, 0); /* VME is not reported */
    cpu.regs[R_EAX] = CR4_PAE;
    EXPECT_OK(op_mov_cr_r(&cpu, &in));
    ck_assert_uint_eq(cpu.cr4, CR4_PAE);
    cpu.regs[R_EAX] = CR4_TSD;
    EXPECT_OK(op_mov_cr_r(&cpu, &in));
    ck_assert_uint_eq(cpu.cr4, CR4_TSD);
    in.reg = 5;
    EXPECT_FAULT(op_mov_cr_r(&cpu, &in), EXC_UD, 0);

    /* STI opens the interrupt shadow; LMSW cannot clear PE. */
    EXPECT_OK(op_sti(&cpu, &in));
    ck_assert(cpu.inhibit_irq);
    in.mod = 3;
    in.rm = R_EAX;
    in.reg = 6;
    cpu.regs[R_EAX] = 0;
    EXPECT_OK(op_grp7(&cpu, &in));
    ck_assert(cpu.cr0 & CR0_PE);
}
END_TEST

START_TEST(test_popf_rules)
{
    struct insn in = {0};
    in.opsize = 4;
    to_user();
    cpu_set_eflags(&cpu, 0x202);
    cpu.regs[R_ESP] = 0x8000 - 4;
    mmu_phys_write32(&mmu, 0x8000 - 4, 0x3000 | FL_CF); /* IOPL 3, IF 0 */
    EXPECT_OK(op_popf(&cpu, &in));
    uint32_t f = cpu_get_eflags(&cpu);
    ck_assert(f & FL_CF);
    ck_assert(f & FL_IF);      /* CPL 3 > IOPL 0: IF unchanged */
    ck_assert(!(f & FL_IOPL)); /* IOPL only at CPL 0 */
    EXPECT_FAULT(op_cli(&cpu, &in), EXC_GP, 0);
}
END_TEST

struct io_log {
    int ins, outs;
    uint32_t out_vals[8];
};
static struct io_log iolog;

static uint32_t dev_in(void *opaque, uint16_t port, unsigned size)
{
    struct io_log *l = opaque;
    return 0xa000u + (uint32_t)l->ins++ + port;
}

static void dev_out(void *opaque, uint16_t port, uint32_t v, unsigned size)
{
    struct io_log *l = opaque;
    if (l->outs < 8) l->out_vals[l->outs] = v;
    l->outs++;
}

START_TEST(test_string_io)
{
    memset(&iolog, 0, sizeof iolog);
    cpu.io.opaque = &iolog;
    cpu.io.in = dev_in;
    cpu.io.out = dev_out;
    struct insn in = {0};
    in.opcode = 0x6d; /* INSW with opsize 2 */
    in.opsize = 2;
    in.adsize = 4;
    in.rep = 0xf3;
    in.seg = SEG_DS;
    cpu.regs[R_EDX] = 0x10;
    cpu.regs[R_EDI] = 0x5000;
    cpu.regs[R_ECX] = 4;
    EXPECT_OK(op_ins(&cpu, &in));
    ck_assert_int_eq(iolog.ins, 4);
    ck_assert_uint_eq(rd16(0x5000), 0xa010);
    ck_assert_uint_eq(rd16(0x5006), 0xa013);
    ck_assert_uint_eq(cpu.regs[R_ECX], 0);
    ck_assert_uint_eq(cpu.regs[R_EDI], 0x5008);

    in.opcode = 0x6e; /* OUTSB backwards */
    cpu_set_eflags(&cpu, 0x202 | FL_DF);
    cpu.regs[R_ESI] = 0x5007;
    cpu.regs[R_ECX] = 3;
    EXPECT_OK(op_outs(&cpu, &in));
    ck_assert_int_eq(iolog.outs, 3);
    ck_assert_uint_eq(iolog.out_vals[0], 0xa0);
    ck_assert_uint_eq(iolog.out_vals[1], 0x13);
    ck_assert_uint_eq(cpu.regs[R_ESI], 0x5004);

    /* A faulting store must not consume the port read. */
    force_seg(SEG_ES, 0x58); /* read-only */
    in.opcode = 0x6c;
    cpu.regs[R_ECX] = 2;
    EXPECT_FAULT(op_ins(&cpu, &in), EXC_GP, 0);
    ck_assert_int_eq(iolog.ins, 4);
    ck_assert_uint_eq(cpu.regs[R_ECX], 2);

    /* IN / OUT immediate forms. */
    in.opcode = 0xe5;
    in.imm = 0x60;
    in.opsize = 4;
    in.rep = 0;
    EXPECT_OK(op_in(&cpu, &in));
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xa064);
    in.opcode = 0xee; /* OUT DX, AL */
    cpu.regs[R_EAX] = 0x12345678;
    EXPECT_OK(op_out(&cpu, &in));
    ck_assert_uint_eq(iolog.out_vals[3], 0x78);
}
END_TEST

START_TEST(test_tss16_and_gate16)
{
    cpu.gdtr.limit = 17 * 8 - 1;
    seg_desc(GDT, 16, 0x3400, 0x2b, 0x8100); /* 16-bit TSS, available */
    wr16(0x3400 + 14, 0x100);
    wr16(0x3400 + 16, 0x2);
    wr16(0x3400 + 18, 0x1111);
    wr16(0x3400 + 26, 0x600);
    wr16(0x3400 + 34, 0x10);
    wr16(0x3400 + 36, 0x08);
    wr16(0x3400 + 38, 0x10);
    wr16(0x3400 + 40, 0x10);
    EXPECT_OK(cpu_far_jmp(&cpu, 0x80, 0, 4));
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xffff1111u);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0xffff0600u);
    ck_assert_uint_eq(cpu.eip, 0x100);
    ck_assert_uint_eq(cpu.seg[SEG_FS].flags, 0);
    ck_assert_uint_eq(SEGF_TYPE(cpu.seg[SEG_TR].flags), SYS_TSS16_BUSY);

    /* 16-bit interrupt gate at the same level: a 6-byte frame. */
    gate_desc(IDT, 0x84, 0x08, 0x4321, SYS_INTGATE16, 3, 0);
    cpu.regs[R_ESP] = 0x800;
    cpu.eip = 0x105;
    EXPECT_OK(cpu_deliver(&cpu, 0x84, INTR_SOFTWARE, false, 0));
    ck_assert_uint_eq(cpu.eip, 0x4321);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x800 - 6);
    ck_assert_uint_eq(rd16(0x800 - 6), 0x105);
    ck_assert_uint_eq(rd16(0x800 - 4), 0x08);
    EXPECT_OK(cpu_iret(&cpu, 2));
    ck_assert_uint_eq(cpu.eip, 0x105);
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x800);
}
END_TEST

START_TEST(test_expand_down_stack)
{
    /* Expand-down 16-bit stack: valid offsets are (limit, 0xffff]. */
    seg_desc(GDT, 13, 0, 0x0fff, A_DATA | 0x0400u);
    force_seg(SEG_SS, 0x68);
    cpu.regs[R_ESP] = 0x1004;
    cpu.eip = 0x1007;
    EXPECT_FAULT(cpu_far_call(&cpu, 0x08, 0x3000, 4), EXC_SS, 0); /* 0x1000 .. 0xffc */
    cpu.regs[R_ESP] = 0x1008;
    cpu.eip = 0x1007;
    EXPECT_OK(cpu_far_call(&cpu, 0x08, 0x3000, 4));
    ck_assert_uint_eq(cpu.regs[R_ESP], 0x1000);
}
END_TEST

START_TEST(test_dr_match)
{
    cpu.dr[0] = 0x1000;
    cpu.dr[1] = 0x2002;
    cpu.dr[7] = 0x400 | 0x1 | 0x4 | (1u << 20) | (3u << 22); /* DR0 exec, DR1 write len 4 */
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x1000, 1, DR_EXEC), 1);
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x1001, 1, DR_EXEC), 0);
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x1000, 4, DR_WRITE), 0);
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x2003, 1, DR_WRITE), 2); /* aligned to 0x2000 */
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x1ffe, 4, DR_WRITE), 2);
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x1ffc, 4, DR_WRITE), 0);
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x2000, 4, DR_READ), 0); /* write-only */
    cpu.dr[7] |= 3u << 20;                                        /* now R/W */
    ck_assert_uint_eq(cpu_dr_match(&cpu, 0x2000, 4, DR_READ), 2);
}
END_TEST

static Suite *seg_suite(void)
{
    Suite *s = suite_create("seg");
    TCase *tc = tcase_create("protection");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_load_data_ok);
    tcase_add_test(tc, test_load_faults);
    tcase_add_test(tc, test_real_and_v86_loads);
    tcase_add_test(tc, test_int_gate_inner);
    tcase_add_test(tc, test_int_faults);
    tcase_add_test(tc, test_exception_same_level);
    tcase_add_test(tc, test_stack_fault_is_precise);
    tcase_add_test(tc, test_call_gate_inner_and_ret);
    tcase_add_test(tc, test_far_jmp_conforming_and_limit);
    tcase_add_test(tc, test_task_switch_jmp_call_iret);
    tcase_add_test(tc, test_task_gate_interrupt_with_error);
    tcase_add_test(tc, test_double_and_triple_fault);
    tcase_add_test(tc, test_real_mode_interrupt_and_iret);
    tcase_add_test(tc, test_v86_round_trip);
    tcase_add_test(tc, test_io_permission);
    tcase_add_test(tc, test_lar_lsl_verr_arpl);
    tcase_add_test(tc, test_ltr_lldt);
    tcase_add_test(tc, test_sys_misc);
    tcase_add_test(tc, test_popf_rules);
    tcase_add_test(tc, test_string_io);
    tcase_add_test(tc, test_tss16_and_gate16);
    tcase_add_test(tc, test_expand_down_stack);
    tcase_add_test(tc, test_dr_match);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seg_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
