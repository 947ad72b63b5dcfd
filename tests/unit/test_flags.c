/*
 * test_flags.c — lazy flags (and the results) of every integer ALU, shift,
 * multiply and bit instruction against the host CPU itself.
 *
 * Each case is an instruction with register operands only (EAX ECX EDX EBX),
 * whose encoding is the same in 32-bit and 64-bit mode.  The host runs it in
 * a small generated stub (load registers and RFLAGS, the instruction,
 * store them back); the emulator runs the same bytes in flat 32-bit mode via
 * cpu_run.  Registers and all six arithmetic flags — including the ones the
 * SDM calls undefined — must match, over special and random operands.
 * A few cases are two instructions (CMP/SUB/TEST then SETcc/CMOVcc/ADC) so
 * the condition-code fast paths over the lazy state are checked too.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"

struct state {
    uint32_t r[4]; /* eax ecx edx ebx */
    uint64_t flags;
};

static uint8_t *stub;

/* mov r8,rdi; mov eax,[r8]; mov ecx,[r8+4]; mov edx,[r8+8]; push rbx;
 * mov ebx,[r8+12]; push qword [r8+16]; popfq; INSN; pushfq; pop qword
 * [r8+16]; mov [r8],eax; mov [r8+4],ecx; mov [r8+8],edx; mov [r8+12],ebx;
 * pop rbx; ret */
static void host_run(const uint8_t *insn, size_t n, struct state *s)
{
    static const uint8_t pre[] = { 0x49, 0x89, 0xf8, 0x41, 0x8b, 0x00, 0x41, 0x8b, 0x48, 0x04,
                                   0x41, 0x8b, 0x50, 0x08, 0x53, 0x41, 0x8b, 0x58, 0x0c,
                                   0x41, 0xff, 0x70, 0x10, 0x9d };
    static const uint8_t post[] = { 0x9c, 0x41, 0x8f, 0x40, 0x10, 0x41, 0x89, 0x00, 0x41,
                                    0x89, 0x48, 0x04, 0x41, 0x89, 0x50, 0x08, 0x41, 0x89,
                                    0x58, 0x0c, 0x5b, 0xc3 };
    uint8_t *p = stub;
    memcpy(p, pre, sizeof pre);
    p += sizeof pre;
    memcpy(p, insn, n);
    p += n;
    memcpy(p, post, sizeof post);
    __builtin___clear_cache((char *)stub, (char *)p + sizeof post);
    ((void (*)(struct state *))(void *)stub)(s);
}

static struct mmu *mmu;
static struct cpu *cpu;

static void emu_run(const uint8_t *insn, size_t n, struct state *s)
{
    uint8_t code[32];
    memcpy(code, insn, n);
    code[n] = 0xf4;
    mmu_phys_write(mmu, 0x1000, code, (uint32_t)n + 1);
    cpu_set_flat32(cpu, 0x1000);
    for (int k = 0; k < 4; k++)
        cpu->regs[k] = s->r[k];
    cpu->regs[R_ESP] = 0x8000;
    cpu_set_eflags(cpu, (uint32_t)s->flags);
    ck_assert_int_eq(cpu_run(cpu, 100), CPU_EXIT_HALT);
    for (int k = 0; k < 4; k++)
        s->r[k] = cpu->regs[k];
    s->flags = cpu_get_eflags(cpu);
}

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}
static const uint32_t special[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff,
                                    0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0x0f, 0x10,
                                    0x99, 0x1f, 0x20, 0x21 };
static uint32_t operand(void)
{
    uint32_t r = rnd();
    switch (r % 4) {
    case 0: return special[rnd() % (sizeof special / sizeof special[0])];
    case 1: return rnd() & 0xff;
    case 2: return rnd() & 0x3f;
    default: return rnd();
    }
}

struct tcase {
    const char *name;
    uint8_t bytes[8];
    uint8_t len;
    int8_t imm_at; /* index of a random imm8, -1 none */
};

#define T(name, imm, ...) { name, { __VA_ARGS__ }, sizeof((uint8_t[]){ __VA_ARGS__ }), imm }

static const struct tcase cases[] = {
    /* ALU reg forms: op eax,ecx / op al,cl / op ax,cx */
    T("add32", -1, 0x01, 0xc8), T("or32", -1, 0x09, 0xc8), T("adc32", -1, 0x11, 0xc8),
    T("sbb32", -1, 0x19, 0xc8), T("and32", -1, 0x21, 0xc8), T("sub32", -1, 0x29, 0xc8),
    T("xor32", -1, 0x31, 0xc8), T("cmp32", -1, 0x39, 0xc8),
    T("add8", -1, 0x00, 0xc8), T("or8", -1, 0x08, 0xc8), T("adc8", -1, 0x10, 0xc8),
    T("sbb8", -1, 0x18, 0xc8), T("and8", -1, 0x20, 0xc8), T("sub8", -1, 0x28, 0xc8),
    T("xor8", -1, 0x30, 0xc8), T("cmp8", -1, 0x38, 0xc8), T("add8h", -1, 0x00, 0xec),
    T("add16", -1, 0x66, 0x01, 0xc8), T("adc16", -1, 0x66, 0x11, 0xc8),
    T("sbb16", -1, 0x66, 0x19, 0xc8), T("sub16", -1, 0x66, 0x29, 0xc8),
    T("cmp16", -1, 0x66, 0x39, 0xc8),
    T("add83", 2, 0x83, 0xc0, 0), T("sub83", 2, 0x83, 0xe8, 0), T("cmp83", 2, 0x83, 0xf8, 0),
    T("sbb83_16", 3, 0x66, 0x83, 0xd8, 0), T("test32", -1, 0x85, 0xc8), T("test8", -1, 0x84, 0xc8),
    /* unary */
    T("inc32", -1, 0xff, 0xc0), T("dec32", -1, 0xff, 0xc8), T("inc8", -1, 0xfe, 0xc0),
    T("dec16", -1, 0x66, 0xff, 0xc8), T("neg32", -1, 0xf7, 0xd8), T("neg8", -1, 0xf6, 0xd8),
    T("not32", -1, 0xf7, 0xd0), T("neg16", -1, 0x66, 0xf7, 0xd8),
    /* multiply */
    T("mul32", -1, 0xf7, 0xe1), T("imul32", -1, 0xf7, 0xe9), T("mul8", -1, 0xf6, 0xe1),
    T("imul8", -1, 0xf6, 0xe9), T("mul16", -1, 0x66, 0xf7, 0xe1),
    T("imul16", -1, 0x66, 0xf7, 0xe9), T("imul_rr", -1, 0x0f, 0xaf, 0xc1),
    T("imul_rr16", -1, 0x66, 0x0f, 0xaf, 0xc1), T("imul_ri", 2, 0x6b, 0xc1, 0),
    /* shifts and rotates by CL, imm, 1 — 32, 16, 8 bit */
    T("rol32", -1, 0xd3, 0xc0), T("ror32", -1, 0xd3, 0xc8), T("rcl32", -1, 0xd3, 0xd0),
    T("rcr32", -1, 0xd3, 0xd8), T("shl32", -1, 0xd3, 0xe0), T("shr32", -1, 0xd3, 0xe8),
    T("sal32", -1, 0xd3, 0xf0), T("sar32", -1, 0xd3, 0xf8),
    T("rol16", -1, 0x66, 0xd3, 0xc0), T("ror16", -1, 0x66, 0xd3, 0xc8),
    T("rcl16", -1, 0x66, 0xd3, 0xd0), T("rcr16", -1, 0x66, 0xd3, 0xd8),
    T("shl16", -1, 0x66, 0xd3, 0xe0), T("shr16", -1, 0x66, 0xd3, 0xe8),
    T("sar16", -1, 0x66, 0xd3, 0xf8),
    T("rol8", -1, 0xd2, 0xc0), T("ror8", -1, 0xd2, 0xc8), T("rcl8", -1, 0xd2, 0xd0),
    T("rcr8", -1, 0xd2, 0xd8), T("shl8", -1, 0xd2, 0xe0), T("shr8", -1, 0xd2, 0xe8),
    T("sar8", -1, 0xd2, 0xf8),
    T("shl32i", 2, 0xc1, 0xe0, 0), T("sar32i", 2, 0xc1, 0xf8, 0), T("rol8i", 2, 0xc0, 0xc0, 0),
    T("ror32i", 2, 0xc1, 0xc8, 0), T("rcl16i", 3, 0x66, 0xc1, 0xd0, 0), T("rcr8i", 2, 0xc0, 0xd8, 0),
    T("shl1", -1, 0xd1, 0xe0), T("shr1", -1, 0xd1, 0xe8), T("rcr1", -1, 0xd1, 0xd8),
    T("shld32", -1, 0x0f, 0xa5, 0xc8), T("shrd32", -1, 0x0f, 0xad, 0xc8),
    T("shld16", -1, 0x66, 0x0f, 0xa5, 0xc8), T("shrd16", -1, 0x66, 0x0f, 0xad, 0xc8),
    T("shld32i", 3, 0x0f, 0xa4, 0xc8, 0),
    /* bit instructions */
    T("bt32", -1, 0x0f, 0xa3, 0xc8), T("bts32", -1, 0x0f, 0xab, 0xc8),
    T("btr32", -1, 0x0f, 0xb3, 0xc8), T("btc32", -1, 0x0f, 0xbb, 0xc8),
    T("bt16", -1, 0x66, 0x0f, 0xa3, 0xc8), T("bti", 3, 0x0f, 0xba, 0xe0, 0),
    T("bsf32", -1, 0x0f, 0xbc, 0xc1), T("bsr32", -1, 0x0f, 0xbd, 0xc1),
    T("bsf16", -1, 0x66, 0x0f, 0xbc, 0xc1),
    /* exchange-and-op */
    T("cmpxchg32", -1, 0x0f, 0xb1, 0xcb), T("cmpxchg8", -1, 0x0f, 0xb0, 0xcb),
    T("xadd32", -1, 0x0f, 0xc1, 0xc8), T("xadd8", -1, 0x0f, 0xc0, 0xc8),
    /* conditions over lazy state */
    T("cmp_setcc", 3, 0x39, 0xc8, 0x0f, 0x90, 0xc2), T("sub8_setcc", 3, 0x28, 0xc8, 0x0f, 0x90, 0xc2),
    T("test_cmov", 3, 0x85, 0xc8, 0x0f, 0x40, 0xd3), T("add_cmov", 3, 0x01, 0xc8, 0x0f, 0x40, 0xd3),
    T("cmp16_setcc", 4, 0x66, 0x39, 0xc8, 0x0f, 0x90, 0xc2),
    T("inc_adc", -1, 0xff, 0xc0, 0x11, 0xd3), T("mul_adc", -1, 0xf7, 0xe1, 0x11, 0xd3),
    T("cmc_lahf", -1, 0x39, 0xc8, 0xf5, 0x9f), T("sahf", -1, 0x9e),
    T("cdq", -1, 0x99), T("cbw", -1, 0x66, 0x98), T("cwde", -1, 0x98),
};

START_TEST(test_host_differential)
{
    const struct tcase *tc = &cases[_i];
    int fails = 0;
    for (int it = 0; it < 3000 && fails < 3; it++) {
        uint8_t bytes[8];
        memcpy(bytes, tc->bytes, tc->len);
        if (tc->imm_at >= 0) {
            /* for the condition cases the "imm" is the low nibble of cc */
            if (tc->bytes[tc->imm_at] == 0x90 || tc->bytes[tc->imm_at] == 0x40)
                bytes[tc->imm_at] = (uint8_t)(tc->bytes[tc->imm_at] | (rnd() & 15));
            else
                bytes[tc->imm_at] = (uint8_t)operand();
        }
        struct state in = { { operand(), operand(), operand(), operand() }, 0x2 };
        in.flags |= rnd() & 0x8d5;
        if (rnd() % 4 == 0)
            in.r[1] = in.r[0]; /* equal operands: CMPXCHG success, ZF paths */
        struct state h = in, e = in;
        host_run(bytes, tc->len, &h);
        emu_run(bytes, tc->len, &e);
        bool ok = !memcmp(h.r, e.r, sizeof h.r) && (h.flags & 0x8d5) == (e.flags & 0x8d5);
        if (!ok) {
            fails++;
            fprintf(stderr,
                    "%s (%02x %02x %02x %02x): in eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03x\n"
                    "  host eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03x\n"
                    "  emu  eax=%08x ecx=%08x edx=%08x ebx=%08x fl=%03x\n",
                    tc->name, bytes[0], bytes[1], bytes[2], bytes[3], in.r[0], in.r[1], in.r[2],
                    in.r[3], (unsigned)in.flags & 0x8d5, h.r[0], h.r[1], h.r[2], h.r[3],
                    (unsigned)h.flags & 0x8d5, e.r[0], e.r[1], e.r[2], e.r[3],
                    (unsigned)e.flags & 0x8d5);
        }
    }
    ck_assert_msg(fails == 0, "%s differs from the host CPU", tc->name);
}
END_TEST

static void setup(void)
{
    stub = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(stub, MAP_FAILED);
    mmu = calloc(1, sizeof *mmu);
    cpu = calloc(1, sizeof *cpu);
    ck_assert_int_eq(mmu_init(mmu, 1u << 20), 0);
    ck_assert_int_eq(cpu_init(cpu, mmu), 0);
}

static void teardown(void)
{
    cpu_destroy(cpu);
    mmu_destroy(mmu);
    free(cpu);
    free(mmu);
    munmap(stub, 4096);
}

int main(void)
{
    Suite *s = suite_create("flags");
    TCase *tc = tcase_create("host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_host_differential, 0, (int)(sizeof cases / sizeof cases[0]));
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
