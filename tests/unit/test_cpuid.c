/*
 * test_cpuid.c — CPUID, the MSRs and RDTSC as a guest sees them (SDM Vol. 2
 * "CPUID", "RDMSR", "WRMSR", "RDTSC"; Vol. 4 for the P6 MSRs).
 *
 * Every case runs real guest code through cpu_run, so decoding, dispatch and
 * the privilege checks are covered along with the handlers: a few
 * instructions at CODE, ending in UD2, in flat 32-bit protected mode at CPL0
 * or — through an IRET from a ring-0 stub — at CPL3.  An IDT routes every
 * exception to a per-vector stub that halts, so "which exception, where" is
 * read back from the stub that halted and the frame it left, exactly as an
 * OS would see it.
 *
 * Expected values are this CPU's definition: a P6 (family 6) that reports
 * exactly the features Umbra implements — FPU DE PSE TSC MSR PAE CX8 APIC
 * SEP PGE CMOV, and NX in leaf 0x80000001 — and none it does not (VME MCE
 * MTRR PAT MMX FXSR SSE SSE2).  The TSC is read from a clock the test
 * controls, so its arithmetic is checked exactly.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"

#define RAM (1u << 20)
#define GDT 0x8000u
#define IDT 0x8100u
#define TSS 0x8200u
#define STUBS 0x9000u /* 8 bytes per vector: hlt */
#define ENTRY 0x9800u /* ring-0 stub: iretd */
#define KSTACK 0xa000u
#define CODE 0x10000u
#define USTACK 0x20000u
#define KCS 0x08
#define KDS 0x10
#define UCS 0x1b
#define UDS 0x23
#define TSEL 0x28

static struct mmu mmu;
static struct cpu cpu;
static uint64_t fake_ns; /* the clock the TSC reads */

static uint64_t fake_clock(void *opaque)
{
    (void)opaque;
    return fake_ns;
}

static void desc(unsigned sel, uint32_t lo, uint32_t hi)
{
    mmu_phys_write32(&mmu, GDT + (sel & ~7u), lo);
    mmu_phys_write32(&mmu, GDT + (sel & ~7u) + 4, hi);
}

static void setup(void)
{
    ck_assert_int_eq(mmu_init(&mmu, RAM), 0);
    ck_assert_int_eq(cpu_init(&cpu, &mmu), 0);
    cpu.tsc_now = fake_clock;
    fake_ns = 1000000;
    desc(KCS, 0xffff, 0x00cf9b00);
    desc(KDS, 0xffff, 0x00cf9300);
    desc(UCS, 0xffff, 0x00cffb00);
    desc(UDS, 0xffff, 0x00cff300);
    desc(TSEL, (TSS << 16) | 103, 0x00008b00);
    for (unsigned v = 0; v < 32; v++) {
        uint32_t off = STUBS + 8 * v;
        mmu_phys_write32(&mmu, IDT + 8 * v, ((uint32_t)KCS << 16) | off);
        mmu_phys_write32(&mmu, IDT + 8 * v + 4, 0x8e00); /* 32-bit interrupt gate */
        uint8_t hlt = 0xf4;
        mmu_phys_write(&mmu, off, &hlt, 1);
    }
    mmu_phys_write32(&mmu, TSS + 4, KSTACK);
    mmu_phys_write32(&mmu, TSS + 8, KDS);
    uint8_t iret = 0xcf;
    mmu_phys_write(&mmu, ENTRY, &iret, 1);
}

static void teardown(void)
{
    cpu_destroy(&cpu);
    mmu_destroy(&mmu);
}

static void set_seg(int s, uint16_t sel, uint32_t flags)
{
    cpu.seg[s] = (struct segment){ sel, 0, 0xffffffffu, flags };
}

/* What a run ended with: the exception vector and the EIP it reported
 * (the final UD2 at `done` means the code ran through). */
struct outcome {
    int vector;
    uint32_t eip;
    uint32_t done;
};

/* Run `code` (UD2 appended) at CPL `cpl` with the registers set in cpu.regs
 * (ESP is provided). */
static struct outcome run(const uint8_t *code, unsigned n, unsigned cpl)
{
    uint8_t buf[256];
    ck_assert_uint_lt(n + 2, sizeof buf);
    memcpy(buf, code, n);
    buf[n] = 0x0f;
    buf[n + 1] = 0x0b;
    mmu_phys_write(&mmu, CODE, buf, n + 2);

    cpu_set_flat32(&cpu, CODE);
    cpu.cr0 |= CR0_NE;
    cpu.gdtr = (struct dtr){ GDT, 0x2f };
    cpu.idtr = (struct dtr){ IDT, 32 * 8 - 1 };
    cpu.seg[SEG_TR] = (struct segment){ TSEL, TSS, 103, 0x8b00 };
    cpu.pending_exc = -1;
    if (cpl == 3) {
        /* IRET from ring 0 to the code at ring 3 */
        uint32_t frame[5] = { CODE, UCS, 0x202, USTACK, UDS };
        mmu_phys_write(&mmu, KSTACK - sizeof frame, frame, sizeof frame);
        set_seg(SEG_DS, UDS, 0x00cff300);
        set_seg(SEG_ES, UDS, 0x00cff300);
        cpu.regs[R_ESP] = KSTACK - sizeof frame;
        cpu.eip = ENTRY;
    } else {
        cpu.regs[R_ESP] = KSTACK;
    }
    ck_assert(cpu_run(&cpu, 10000) == CPU_EXIT_HALT);
    struct outcome o = { -1, 0, CODE + n };
    uint32_t e = cpu.eip - 1; /* the HLT */
    ck_assert_uint_ge(e, STUBS);
    ck_assert_uint_lt(e, STUBS + 8 * 32);
    o.vector = (int)(e - STUBS) / 8;
    uint32_t sp = cpu.regs[R_ESP];
    if (cpu_exception_has_error(o.vector))
        sp += 4;
    o.eip = mmu_phys_read32(&mmu, sp);
    return o;
}

static bool ran_through(struct outcome o) { return o.vector == EXC_UD && o.eip == o.done; }
static bool faulted(struct outcome o, int vector, uint32_t at)
{
    return o.vector == vector && o.eip == CODE + at;
}

static void do_cpuid(uint32_t leaf, uint32_t r[4])
{
    static const uint8_t code[] = { 0x0f, 0xa2 };
    cpu.regs[R_EAX] = leaf;
    cpu.regs[R_ECX] = 0;
    ck_assert(ran_through(run(code, sizeof code, 3)));
    r[0] = cpu.regs[R_EAX];
    r[1] = cpu.regs[R_EBX];
    r[2] = cpu.regs[R_ECX];
    r[3] = cpu.regs[R_EDX];
}

/* ---------------- CPUID ---------------- */

START_TEST(test_cpuid_vendor)
{
    uint32_t r[4];
    do_cpuid(0, r);
    ck_assert_uint_eq(r[0], 2); /* highest basic leaf */
    char v[13];
    memcpy(v, &r[1], 4);
    memcpy(v + 4, &r[3], 4);
    memcpy(v + 8, &r[2], 4);
    v[12] = 0;
    ck_assert_str_eq(v, "GenuineIntel");
}
END_TEST

START_TEST(test_cpuid_features)
{
    uint32_t r[4];
    do_cpuid(1, r);
    ck_assert_uint_eq((r[0] >> 8) & 0xf, 6); /* family 6: a P6 */
    ck_assert_uint_eq(r[0] >> 20, 0);       /* no extended family/model */
    enum { FPU = 0, VME = 1, DE = 2, PSE = 3, TSC = 4, MSR = 5, PAE = 6, MCE = 7, CX8 = 8,
           APIC = 9, SEP = 11, MTRR = 12, PGE = 13, CMOV = 15, PAT = 16, MMX = 23, FXSR = 24,
           SSE = 25, SSE2 = 26 };
    uint32_t want = 1u << FPU | 1u << DE | 1u << PSE | 1u << TSC | 1u << MSR | 1u << PAE |
                    1u << CX8 | 1u << APIC | 1u << SEP | 1u << PGE | 1u << CMOV;
    ck_assert_uint_eq(r[3], want);
    uint32_t absent = 1u << VME | 1u << MCE | 1u << MTRR | 1u << PAT | 1u << MMX | 1u << FXSR |
                      1u << SSE | 1u << SSE2;
    ck_assert_uint_eq(r[3] & absent, 0);
    ck_assert_uint_eq(r[2], 0); /* no SSE3 and later */
}
END_TEST

START_TEST(test_cpuid_leaf2_and_extended)
{
    uint32_t r[4];
    do_cpuid(2, r);
    ck_assert_uint_eq(r[0] & 0xff, 1); /* execute once */
    ck_assert_uint_eq(r[0] & 0x80000000u, 0);
    ck_assert_uint_ne(r[0] | r[1] | r[2] | r[3], 1); /* some descriptors */
    do_cpuid(0x80000000u, r);
    ck_assert_uint_ge(r[0], 0x80000001u);
    do_cpuid(0x80000001u, r);
    ck_assert_uint_eq(r[3], 1u << 20); /* NX, nothing else (no SYSCALL, no LM) */
    ck_assert_uint_eq(r[2], 0);
}
END_TEST

/* ---------------- MSRs ---------------- */

/* wrmsr(ecx, edx:eax) then rdmsr into edx:eax, at CPL0 */
static struct outcome msr_rw(uint32_t msr, uint64_t wv, uint64_t *rv)
{
    static const uint8_t code[] = {
        0x0f, 0x30,                   /* wrmsr */
        0x31, 0xc0,                   /* xor eax, eax */
        0x31, 0xd2,                   /* xor edx, edx */
        0x0f, 0x32,                   /* rdmsr */
    };
    cpu.regs[R_ECX] = msr;
    cpu.regs[R_EAX] = (uint32_t)wv;
    cpu.regs[R_EDX] = (uint32_t)(wv >> 32);
    struct outcome o = run(code, sizeof code, 0);
    *rv = (uint64_t)cpu.regs[R_EDX] << 32 | cpu.regs[R_EAX];
    return o;
}

static uint64_t msr_read(uint32_t msr)
{
    static const uint8_t code[] = { 0x0f, 0x32 };
    cpu.regs[R_ECX] = msr;
    ck_assert(ran_through(run(code, sizeof code, 0)));
    return (uint64_t)cpu.regs[R_EDX] << 32 | cpu.regs[R_EAX];
}

START_TEST(test_msr_sysenter)
{
    static const uint32_t msrs[3] = { 0x174, 0x175, 0x176 };
    static const uint32_t vals[3] = { 0x0010, 0xc0ffee00u, 0x80123456u };
    uint64_t v;
    for (int k = 0; k < 3; k++) {
        ck_assert(ran_through(msr_rw(msrs[k], vals[k], &v)));
        ck_assert_uint_eq(v, vals[k]);
    }
    ck_assert_uint_eq(cpu.sysenter_cs, 0x10);
    ck_assert_uint_eq(cpu.sysenter_esp, 0xc0ffee00u);
    ck_assert_uint_eq(cpu.sysenter_eip, 0x80123456u);
}
END_TEST

START_TEST(test_msr_tsc)
{
    static const uint8_t wr[] = { 0x0f, 0x30 };
    static const uint8_t rd[] = {
        0x0f, 0x31,       /* rdtsc */
        0x89, 0xc3,       /* mov ebx, eax */
        0x89, 0xd6,       /* mov esi, edx */
        0x0f, 0x32,       /* rdmsr (ecx = 0x10) */
    };
    /* A write sets the low 32 bits and clears the high ones (P6). */
    cpu.regs[R_ECX] = 0x10;
    cpu.regs[R_EAX] = 0x12345678;
    cpu.regs[R_EDX] = 0xdead;
    ck_assert(ran_through(run(wr, sizeof wr, 0)));
    cpu.regs[R_ECX] = 0x10;
    ck_assert(ran_through(run(rd, sizeof rd, 0)));
    ck_assert_uint_eq(cpu.regs[R_EBX], 0x12345678); /* the clock has not moved */
    ck_assert_uint_eq(cpu.regs[R_ESI], 0);
    ck_assert_uint_eq(cpu.regs[R_EAX], 0x12345678);
    ck_assert_uint_eq(cpu.regs[R_EDX], 0);
    /* ...and advances with the clock from the written value */
    fake_ns += 0xfffffff0u;
    cpu.regs[R_ECX] = 0x10;
    ck_assert(ran_through(run(rd, sizeof rd, 0)));
    uint64_t t = (uint64_t)cpu.regs[R_ESI] << 32 | cpu.regs[R_EBX];
    ck_assert_uint_eq(t, 0x12345678ull + 0xfffffff0u);
    ck_assert_uint_eq((uint64_t)cpu.regs[R_EDX] << 32 | cpu.regs[R_EAX], t);
    /* RDTSC is allowed at CPL3 while CR4.TSD is clear */
    fake_ns += 5;
    ck_assert(ran_through(run(rd, 2, 3)));
    ck_assert_uint_eq((uint64_t)cpu.regs[R_EDX] << 32 | cpu.regs[R_EAX], t + 5);
}
END_TEST

START_TEST(test_rdtsc_tsd)
{
    static const uint8_t rd[] = { 0x0f, 0x31 };
    cpu.cr4 |= CR4_TSD;
    ck_assert(faulted(run(rd, sizeof rd, 3), EXC_GP, 0));
    /* ring 0 may still read it */
    ck_assert(ran_through(run(rd, sizeof rd, 0)));
    /* set through MOV CR4, as a kernel does */
    static const uint8_t clear[] = { 0x0f, 0x20, 0xe0,             /* mov eax, cr4 */
                                     0x83, 0xe0, 0xfb,             /* and eax, ~TSD */
                                     0x0f, 0x22, 0xe0 };           /* mov cr4, eax */
    ck_assert(ran_through(run(clear, sizeof clear, 0)));
    ck_assert_uint_eq(cpu.cr4 & CR4_TSD, 0);
    ck_assert(ran_through(run(rd, sizeof rd, 3)));
}
END_TEST

START_TEST(test_msr_apic_base)
{
    uint64_t v = msr_read(0x1b);
    ck_assert_uint_eq(v, 0xfee00900u); /* default base, BSP, enabled */
    ck_assert(ran_through(msr_rw(0x1b, 0xfec00800u, &v)));
    ck_assert_uint_eq(v, 0xfec00900u); /* BSP is read-only */
    /* disabled: the APIC bit leaves CPUID.1:EDX */
    ck_assert(ran_through(msr_rw(0x1b, 0xfee00000u, &v)));
    uint32_t r[4];
    do_cpuid(1, r);
    ck_assert_uint_eq(r[3] & (1u << 9), 0);
}
END_TEST

START_TEST(test_msr_mtrr)
{
    ck_assert_uint_eq(msr_read(0xfe), 0x508); /* 8 variable ranges, fixed ranges, WC */
    static const uint32_t msrs[] = { 0x200, 0x201, 0x20e, 0x20f, 0x250, 0x258, 0x259,
                                     0x268, 0x26f, 0x2ff };
    for (unsigned k = 0; k < sizeof msrs / sizeof msrs[0]; k++) {
        uint64_t want = 0x0606060606060606ull ^ ((uint64_t)k << 12), v;
        if (msrs[k] == 0x2ff)
            want = 0xc06;
        ck_assert(ran_through(msr_rw(msrs[k], want, &v)));
        ck_assert_uint_eq(v, want);
    }
    /* each register is its own storage */
    ck_assert_uint_eq(msr_read(0x200), 0x0606060606060606ull);
    ck_assert_uint_eq(msr_read(0x26f), 0x0606060606060606ull ^ (8ull << 12));
}
END_TEST

START_TEST(test_msr_pat)
{
    ck_assert_uint_eq(msr_read(0x277), 0x0007040600070406ull); /* power-on value */
    uint64_t v;
    ck_assert(ran_through(msr_rw(0x277, 0x0001050400010504ull, &v)));
    ck_assert_uint_eq(v, 0x0001050400010504ull);
    /* types 2, 3 and above 7 are reserved: #GP at the WRMSR, value kept */
    static const uint64_t bad[] = { 0x2, 0x300, 0x08ull << 56 };
    for (unsigned k = 0; k < 3; k++) {
        ck_assert(faulted(msr_rw(0x277, bad[k], &v), EXC_GP, 0));
        ck_assert_uint_eq(cpu.pat, 0x0001050400010504ull);
    }
}
END_TEST

START_TEST(test_msr_misc_enable_efer)
{
    uint64_t v;
    ck_assert(ran_through(msr_rw(0x1a0, 0x1, &v)));
    ck_assert_uint_eq(v, 0x1);
    ck_assert_uint_eq(msr_read(0xc0000080u), 0);
    ck_assert(ran_through(msr_rw(0xc0000080u, 0x800, &v))); /* NXE */
    ck_assert_uint_eq(v, 0x800);
    /* SCE, LME and reserved bits do not exist on this CPU */
    static const uint64_t bad[] = { 0x1, 0x100, 0x400, 1ull << 40 };
    for (unsigned k = 0; k < 4; k++)
        ck_assert(faulted(msr_rw(0xc0000080u, bad[k], &v), EXC_GP, 0));
    ck_assert_uint_eq(cpu.efer, 0x800);
}
END_TEST

START_TEST(test_msr_unknown_and_privilege)
{
    static const uint8_t rd[] = { 0x0f, 0x32 }, wr[] = { 0x0f, 0x30 };
    static const uint32_t unknown[] = { 0x12345, 0xc0000081u /* STAR */, 0x3a, 0x1d9 };
    for (unsigned k = 0; k < 4; k++) {
        cpu.regs[R_ECX] = unknown[k];
        ck_assert(faulted(run(rd, sizeof rd, 0), EXC_GP, 0));
        cpu.regs[R_ECX] = unknown[k];
        ck_assert(faulted(run(wr, sizeof wr, 0), EXC_GP, 0));
    }
    /* RDMSR/WRMSR are CPL0 only, even for a known MSR */
    cpu.regs[R_ECX] = 0x174;
    ck_assert(faulted(run(rd, sizeof rd, 3), EXC_GP, 0));
    cpu.regs[R_ECX] = 0x174;
    ck_assert(faulted(run(wr, sizeof wr, 3), EXC_GP, 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpuid");
    TCase *tc = tcase_create("cpuid_msr");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cpuid_vendor);
    tcase_add_test(tc, test_cpuid_features);
    tcase_add_test(tc, test_cpuid_leaf2_and_extended);
    tcase_add_test(tc, test_msr_sysenter);
    tcase_add_test(tc, test_msr_tsc);
    tcase_add_test(tc, test_rdtsc_tsd);
    tcase_add_test(tc, test_msr_apic_base);
    tcase_add_test(tc, test_msr_mtrr);
    tcase_add_test(tc, test_msr_pat);
    tcase_add_test(tc, test_msr_misc_enable_efer);
    tcase_add_test(tc, test_msr_unknown_and_privilege);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
