/*
 * test_fpu.c — the x87 (cpu/fpu.c) alone, against the host's own x87.
 *
 * The main case is differential: a random but complete FPU state (random
 * tags and TOP, register contents drawn from every class — zeros,
 * denormals, pseudo-denormals, unnormals, infinities, pseudo-infinities,
 * QNaN/SNaN, integers, values near every overflow and underflow boundary —
 * random precision and rounding control, random exception masks, random
 * sticky flags and condition codes) is loaded with FRSTOR, one instruction
 * runs, and the state is read back with FNSAVE.  The same three steps run
 * natively on the host, through a small run-time generated function
 * (FRSTOR [rdi]; <insn with its memory operand at [rax]>; LAHF; FNSAVE
 * [rdx]), and on the guest through op_fpu on hand-built struct insns.  Both
 * sides must agree on the control, status and tag words, all eight
 * registers, the memory operand and, for FCOMI and FCMOVcc, EFLAGS.  Every
 * valid register form of D8-DF and every memory form except the
 * environment ones is covered, so the stack-fault responses, pops, tags and
 * condition codes done in C are checked against the hardware too.
 *
 * The rest are directed cases: #NM (EM, TS, WAIT with MP), #MF with CR0.NE=1,
 * the FERR# callback with CR0.NE=0, FNSTSW AX, FCOMI and lazy EFLAGS, the
 * four FSTENV/FSAVE layouts and their round trips, FXSAVE/FXRSTOR, reset.
 */
#include <check.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu/cpu_internal.h"

#define RAM (1u << 20)
#define IMG_IN 0x1000u  /* FRSTOR image */
#define IMG_OUT 0x2000u /* FNSAVE image */
#define MEMOP 0x3000u   /* the instruction's memory operand */

static struct mmu mmu;
static struct cpu cpu;

static void setup(void)
{
    memset(&mmu, 0, sizeof mmu);
    ck_assert_int_eq(mmu_init(&mmu, RAM), 0);
    memset(&cpu, 0, sizeof cpu);
    ck_assert_int_eq(cpu_init(&cpu, &mmu), 0);
    cpu_set_flat32(&cpu, 0x100000);
    fpu_reset(&cpu.fpu); /* also done by cpu_reset once integrated */
    cpu.cr0 |= CR0_NE;
    cpu.insn_eip = 0x1234;
}

static void teardown(void)
{
    cpu_destroy(&cpu);
    mmu_destroy(&mmu);
}

/* ---- building and running guest instructions ---- */

static struct insn make_insn(unsigned opcode, unsigned modrm, uint32_t addr, unsigned opsize)
{
    struct insn i;
    memset(&i, 0, sizeof i);
    i.opcode = (uint16_t)opcode;
    i.mod = modrm >> 6;
    i.reg = (modrm >> 3) & 7;
    i.rm = modrm & 7;
    i.opsize = (uint8_t)opsize;
    i.adsize = 4;
    i.seg = SEG_DS;
    i.base = i.index = 0xff;
    if (i.mod != 3) { /* [disp32] */
        i.mod = 0;
        i.rm = 5;
        i.disp = addr;
        i.flags = INSN_F_HAS_MODRM | INSN_F_MEM;
    } else {
        i.flags = INSN_F_HAS_MODRM;
    }
    return i;
}

/* Run one handler; the fault vector, or -1. */
static int run_fn(insn_fn fn, const struct insn *i)
{
    cpu.pending_exc = -1;
    if (setjmp(cpu.exc_jmp) == 0) {
        fn(&cpu, i);
        return -1;
    }
    return cpu.fault_vector;
}

static int guest(unsigned opcode, unsigned modrm, uint32_t addr)
{
    struct insn i = make_insn(opcode, modrm, addr, 4);
    return run_fn(op_fpu, &i);
}

static int guest16(unsigned opcode, unsigned modrm, uint32_t addr)
{
    struct insn i = make_insn(opcode, modrm, addr, 2);
    return run_fn(op_fpu, &i);
}

static void gw(uint32_t a, const void *b, uint32_t n)
{
    mmu_phys_write(&mmu, a, b, n);
}
static void gr(uint32_t a, void *b, uint32_t n)
{
    mmu_phys_read(&mmu, a, b, n);
}

/* ---- the native side ---- */

typedef void (*native_fn)(const void *in, void *mem, void *out, uint8_t *flags);
static uint8_t *native_code;

static void native_init(void)
{
    if (native_code) return;
    native_code =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(native_code != MAP_FAILED);
}

/* FRSTOR [in]; AH = *flags; SAHF; RAX = mem; <op>; LAHF; *flags = AH; FNSAVE [out] */
static void native(unsigned esc, unsigned modrm, const void *in, void *mem, void *out,
                   uint8_t *flags)
{
    uint8_t *c = native_code;
    static const uint8_t pre[] = {0xdd, 0x27, 0x8a, 0x21, 0x9e, 0x48, 0x89, 0xf0};
    static const uint8_t post[] = {0x9f, 0x88, 0x21, 0xdd, 0x32, 0xc3};
    memcpy(c, pre, sizeof pre);
    c += sizeof pre;
    *c++ = (uint8_t)(0xd8 + esc);
    *c++ = (uint8_t)(modrm >= 0xc0 ? modrm : (modrm & 0x38));
    memcpy(c, post, sizeof post);
    __builtin___clear_cache((char *)native_code, (char *)c + sizeof post);
    ((native_fn)(void *)native_code)(in, mem, out, flags);
}

/* ---- random states ---- */

static uint64_t rng = 0x243f6a8885a308d3ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static unsigned rndn(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static void rand_ext(uint8_t *p)
{
    uint64_t sig = rnd();
    unsigned e, sign = rndn(2);
    switch (rndn(20)) {
    case 0:
        sig = 0;
        e = 0;
        break; /* zero */
    case 1:
        sig >>= 1 + rndn(63);
        e = 0;
        break; /* denormal */
    case 2:
        sig |= 1ull << 63;
        e = 0;
        break; /* pseudo-denormal */
    case 3:
        sig &= ~(1ull << 63);
        e = 1 + rndn(0x7ffe);
        break; /* unnormal */
    case 4:
        sig = 1ull << 63;
        e = 0x7fff;
        break; /* infinity */
    case 5:
        sig |= 3ull << 62;
        e = 0x7fff;
        break; /* QNaN */
    case 6:
        sig = (sig | 1ull << 63 | 1) & ~(1ull << 62);
        e = 0x7fff;
        break; /* SNaN */
    case 7:
        sig &= ~(1ull << 63);
        e = 0x7fff;
        break; /* pseudo-NaN/inf */
    case 8:
        sig = 0xc000000000000000ull;
        e = 0x7fff;
        sign = 1;
        break; /* indefinite */
    case 9:
        sig |= 1ull << 63;
        e = 16383 + 1024 + rndn(40) - 20;
        break; /* near DBL_MAX */
    case 10:
        sig |= 1ull << 63;
        e = 16383 - 1022 - rndn(70) + 10;
        break; /* near DBL_MIN */
    case 11:
        sig |= 1ull << 63;
        e = 16383 + 128 + rndn(20) - 10;
        break; /* near FLT_MAX */
    case 12:
        sig |= 1ull << 63;
        e = 16383 - 126 - rndn(40) + 10;
        break; /* near FLT_MIN */
    case 13:
        sig |= 1ull << 63;
        e = rndn(2) ? 1 + rndn(8) : 0x7ffe - rndn(8);
        break; /* edges */
    case 14: { /* an integer */
        unsigned bits = 1 + rndn(66);
        e = 16383 + bits - 1;
        sig = (sig | 1ull << 63) & (bits >= 64 ? ~0ull : ~0ull << (64 - bits));
        break;
    }
    case 15:
        sig = (sig | 1ull << 63) & ~0x7ffull;
        e = 16383 + rndn(10);
        break; /* double-ish */
    case 16:
        sig = (sig | 1ull << 63) & ~0xffffffffffull;
        e = 16383 + rndn(8) - 4;
        break;
    default:
        sig |= 1ull << 63;
        e = 16383 + rndn(140) - 70;
        break; /* ordinary */
    }
    memcpy(p, &sig, 8);
    uint16_t se = (uint16_t)(sign << 15 | e);
    memcpy(p + 8, &se, 2);
}

static void rand_mem(unsigned size, uint8_t *p)
{
    uint64_t v = rnd();
    unsigned bits = size >= 8 ? 64 : 8 * size; /* the integer part */
    switch (rndn(8)) {
    case 0:
        v = 0;
        break;
    case 1:
        v = rndn(2) ? ~0ull : 1ull << (bits - 1);
        break;
    case 2:
        v &= 0xff;
        break;
    case 3:
        v |= ~0ull << (bits - 1 - rndn(8));
        break;
    }
    memcpy(p, &v, 8);
    if (size == 4 && rndn(3) == 0) { /* a float of some class */
        static const uint32_t f[] = {0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff, 0x7f800000,
                                     0x7fc00000, 0x7f800001, 0x3f800000, 0x80000000};
        uint32_t x = f[rndn(9)] ^ (rndn(2) ? 0x80000000u : 0);
        memcpy(p, &x, 4);
    } else if (size == 8 && rndn(3) == 0) {
        static const uint64_t d[] = {1,
                                     0x000fffffffffffffull,
                                     0x0010000000000000ull,
                                     0x7fefffffffffffffull,
                                     0x7ff0000000000000ull,
                                     0x7ff8000000000000ull,
                                     0x7ff0000000000001ull,
                                     0x3ff0000000000000ull,
                                     0x4330000000000000ull};
        uint64_t x = d[rndn(9)] ^ (rndn(2) ? 0x8000000000000000ull : 0);
        memcpy(p, &x, 8);
    } else if (size == 10) {
        if (rndn(2)) {
            rand_ext(p);
        } else { /* packed BCD, sometimes with invalid digits */
            for (unsigned k = 0; k < 9; k++) {
                unsigned lo = rndn(10), hi = rndn(10);
                if (rndn(40) == 0) lo = 10 + rndn(6);
                p[k] = (uint8_t)(hi << 4 | lo);
            }
            p[9] = rndn(2) ? 0x80 : 0;
            if (rndn(20) == 0) p[9] = (uint8_t)rnd();
        }
    }
}

/* A random FSAVE image (32-bit protected-mode layout) with no unmasked
 * exception pending, so the instruction under test runs instead of #MF. */
static void rand_state(uint8_t *img)
{
    static const uint16_t pc[] = {0x000, 0x200, 0x300, 0x300, 0x100};
    memset(img, 0, 108);
    uint16_t cw = (uint16_t)(0x40 | pc[rndn(5)] | rndn(4) << 10);
    for (unsigned b = 0; b < 6; b++)
        if (rndn(5)) cw |= 1u << b;
    if (rndn(3) == 0) cw |= 0x3f;
    uint16_t sw = (uint16_t)((rnd() & (FPU_SW_CC | FPU_SW_EXC)) | rndn(8) << 11);
    sw &= ~(~cw & FPU_SW_EXC);
    if (rndn(4) == 0) sw &= ~FPU_SW_EXC;
    uint16_t tw = 0;
    unsigned nfull = rndn(9);
    for (unsigned p = 0; p < 8; p++)
        tw |= (uint16_t)((rndn(8) < nfull ? rndn(3) : 3) << (2 * p));
    memcpy(img + 0, &cw, 2);
    memcpy(img + 4, &sw, 2);
    memcpy(img + 8, &tw, 2);
    for (unsigned k = 0; k < 8; k++)
        rand_ext(img + 28 + 10 * k);
}

/* Every valid x87 instruction form, as (escape, modrm); memory forms have
 * mod = 0 and are marked by modrm < 0xc0. */
struct form {
    uint8_t esc, modrm;
    uint8_t memsize;
};
static struct form forms[600];
static unsigned nforms;

static bool valid_reg_form(unsigned esc, unsigned m)
{
    unsigned reg = (m >> 3) & 7, rm = m & 7;
    switch (esc) {
    case 1:
        if (reg == 2) return rm == 0;
        if (reg == 4) return rm != 2 && rm != 3 && rm <= 5;
        if (reg == 5) return rm != 7;
        return true;
    case 2:
        return reg < 4 || m == 0xe9;
    case 3:
        return reg < 4 || reg == 5 || reg == 6 || (reg == 4 && rm <= 4);
    case 5:
        return reg < 6;
    case 6:
        return reg != 3 || rm == 1;
    case 7:
        return reg < 4 || reg == 5 || reg == 6; /* DF E0 (FNSTSW AX) tested apart */
    default:
        return true;
    }
}

static unsigned mem_form_size(unsigned esc, unsigned reg)
{
    static const uint8_t size[8][8] = {
        {4, 4, 4, 4, 4, 4, 4, 4},   /* D8 m32fp */
        {4, 0, 4, 4, 0, 2, 0, 2},   /* D9: FLD, FST, FSTP, FLDCW, FNSTCW */
        {4, 4, 4, 4, 4, 4, 4, 4},   /* DA m32int */
        {4, 0, 4, 4, 0, 10, 0, 10}, /* DB: FILD, FIST, FISTP, FLD m80, FSTP m80 */
        {8, 8, 8, 8, 8, 8, 8, 8},   /* DC m64fp */
        {8, 0, 8, 8, 0, 0, 0, 2},   /* DD: FLD, FST, FSTP, FNSTSW */
        {2, 2, 2, 2, 2, 2, 2, 2},   /* DE m16int */
        {2, 0, 2, 2, 10, 8, 10, 8}, /* DF: FILD, FIST, FISTP, FBLD, FILD, FBSTP, FISTP */
    };
    return size[esc][reg];
}

static void build_forms(void)
{
    if (nforms) return;
    for (unsigned esc = 0; esc < 8; esc++) {
        for (unsigned m = 0xc0; m <= 0xff; m++)
            if (valid_reg_form(esc, m))
                forms[nforms++] = (struct form){(uint8_t)esc, (uint8_t)m, 0};
        for (unsigned reg = 0; reg < 8; reg++)
            if (mem_form_size(esc, reg))
                forms[nforms++] = (struct form){(uint8_t)esc, (uint8_t)(reg << 3),
                                                (uint8_t)mem_form_size(esc, reg)};
    }
}

static void dump(const char *what, const uint8_t *img)
{
    uint16_t cw, sw, tw;
    memcpy(&cw, img, 2);
    memcpy(&sw, img + 4, 2);
    memcpy(&tw, img + 8, 2);
    fprintf(stderr, "  %s: cw %04x sw %04x tw %04x\n", what, cw, sw, tw);
    for (unsigned k = 0; k < 8; k++) {
        uint64_t s;
        uint16_t e;
        memcpy(&s, img + 28 + 10 * k, 8);
        memcpy(&e, img + 36 + 10 * k, 2);
        fprintf(stderr, "    st%u %04x %016llx\n", k, e, (unsigned long long)s);
    }
}

/* One differential case; returns false (after printing it) on a mismatch. */
static bool diff_case(const struct form *fm, const uint8_t *in, const uint8_t *memop,
                      uint8_t flags_in)
{
    uint8_t nat_out[112], nat_mem[16], gst_out[112], gst_mem[16];
    uint8_t nat_flags = flags_in;
    memcpy(nat_mem, memop, 16);
    native(fm->esc, fm->modrm, in, nat_mem, nat_out, &nat_flags);

    gw(IMG_IN, in, 108);
    gw(MEMOP, memop, 16);
    cpu_set_eflags(&cpu, 0x2 | (flags_in & (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF)));
    ck_assert_int_eq(guest(0xdd, 0x20, IMG_IN), -1); /* FRSTOR */
    int v = guest(0xd8 + fm->esc, fm->modrm, MEMOP);
    ck_assert_int_eq(guest(0xdd, 0x30, IMG_OUT), -1); /* FNSAVE */
    gr(IMG_OUT, gst_out, 108);
    gr(MEMOP, gst_mem, 16);
    uint8_t gst_flags = (uint8_t)cpu_get_eflags(&cpu);

    bool ok = v == -1;
    static const unsigned cmp[][2] = {{0, 2}, {4, 2}, {8, 2}, {28, 80}};
    for (unsigned k = 0; k < 4; k++)
        ok = ok && !memcmp(nat_out + cmp[k][0], gst_out + cmp[k][0], cmp[k][1]);
    ok = ok && !memcmp(nat_mem, gst_mem, fm->memsize);
    uint8_t fmask = FL_ZF | FL_PF | FL_CF;
    ok = ok && (nat_flags & fmask) == (gst_flags & fmask);
    static const struct form *last_printed;
    if (!ok && last_printed == fm) {
        fprintf(stderr, "x87 mismatch: %02X %02X again\n", 0xd8 + fm->esc, fm->modrm);
    } else if (!ok) {
        last_printed = fm;
        fprintf(stderr,
                "x87 mismatch: %02X %02X (mem %u) fault %d flags in %02x nat %02x gst %02x\n",
                0xd8 + fm->esc, fm->modrm, fm->memsize, v, flags_in, nat_flags, gst_flags);
        fprintf(stderr, "  memop in  ");
        for (unsigned k = 0; k < 10; k++)
            fprintf(stderr, "%02x", memop[k]);
        fprintf(stderr, "\n  memop nat ");
        for (unsigned k = 0; k < 10; k++)
            fprintf(stderr, "%02x", nat_mem[k]);
        fprintf(stderr, "\n  memop gst ");
        for (unsigned k = 0; k < 10; k++)
            fprintf(stderr, "%02x", gst_mem[k]);
        fprintf(stderr, "\n");
        dump("in", in);
        dump("native", nat_out);
        dump("guest", gst_out);
    }
    return ok;
}

static void random_batch(unsigned n, bool memory_forms)
{
    native_init();
    build_forms();
    unsigned fails = 0;
    for (unsigned k = 0; k < n && fails < 5; k++) {
        const struct form *fm = &forms[rndn(nforms)];
        if ((fm->modrm < 0xc0) != memory_forms) continue;
        uint8_t in[108], memop[16];
        rand_state(in);
        memset(memop, 0, sizeof memop);
        if (fm->memsize) rand_mem(fm->memsize, memop);
        uint8_t flags = (uint8_t)(rnd() & (FL_CF | FL_PF | FL_ZF)) | 0x02;
        if (!diff_case(fm, in, memop, flags)) fails++;
    }
    ck_assert_msg(fails == 0, "%u mismatches (see stderr)", fails);
}

/* UMBRA_FPU_SEED / UMBRA_FPU_COUNT override the fixed batch for long runs. */
static unsigned batch_count(void)
{
    const char *s = getenv("UMBRA_FPU_SEED"), *n = getenv("UMBRA_FPU_COUNT");
    if (s && *s) rng = strtoull(s, NULL, 0) | 1;
    return n && *n ? (unsigned)strtoul(n, NULL, 0) : 300000;
}

START_TEST(test_random_register_forms)
{
    random_batch(batch_count(), false);
}
END_TEST

START_TEST(test_random_memory_forms)
{
    random_batch(batch_count(), true);
}
END_TEST

/* Every form at least once against a few fixed states, so a rarely drawn
 * form cannot hide. */
START_TEST(test_every_form)
{
    native_init();
    build_forms();
    unsigned fails = 0;
    for (unsigned f = 0; f < nforms; f++)
        for (unsigned rep = 0; rep < 64; rep++) {
            uint8_t in[108], memop[16];
            rand_state(in);
            memset(memop, 0, sizeof memop);
            if (forms[f].memsize) rand_mem(forms[f].memsize, memop);
            if (!diff_case(&forms[f], in, memop, (uint8_t)(rnd() & 0x45) | 2) && ++fails > 5) break;
        }
    ck_assert_int_eq(fails, 0);
}
END_TEST

/* ---- directed cases ---- */

static uint16_t gsw(void)
{
    return fpu_get_sw(&cpu.fpu);
}

static void put_double(uint32_t a, double d)
{
    gw(a, &d, 8);
}
static double get_double(uint32_t a)
{
    double d;
    gr(a, &d, 8);
    return d;
}

START_TEST(test_basic_arith)
{
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1); /* FNINIT */
    put_double(MEMOP, 1.5);
    put_double(MEMOP + 8, 2.25);
    ck_assert_int_eq(guest(0xdd, 0x00, MEMOP), -1);      /* FLD m64 */
    ck_assert_int_eq(guest(0xdc, 0x00, MEMOP + 8), -1);  /* FADD m64 */
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1);          /* FLD1 */
    ck_assert_int_eq(guest(0xde, 0xf9, 0), -1);          /* FDIVP: 3.75 / 1 */
    ck_assert_int_eq(guest(0xd9, 0xfa, 0), -1);          /* FSQRT */
    ck_assert_int_eq(guest(0xdd, 0x18, MEMOP + 16), -1); /* FSTP m64 */
    ck_assert(get_double(MEMOP + 16) == __builtin_sqrt(3.75));
    ck_assert_uint_eq(cpu.fpu.tag, 0);
    ck_assert_uint_eq((gsw() >> 11) & 7, 0);
    ck_assert_uint_eq(gsw() & FPU_SW_PE, FPU_SW_PE);
}
END_TEST

START_TEST(test_nm)
{
    cpu.cr0 |= CR0_EM;
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), EXC_NM);
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), EXC_NM); /* even no-wait forms */
    struct insn w = make_insn(0x9b, 0xc0, 0, 4);
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1); /* WAIT ignores EM */
    cpu.cr0 &= ~CR0_EM;
    cpu.cr0 |= CR0_TS;
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), EXC_NM);
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1); /* WAIT: TS only with MP */
    cpu.cr0 |= CR0_MP;
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), EXC_NM);
    cpu.cr0 &= ~CR0_TS;
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1);
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1);
    /* FISTTP (SSE3) and unassigned slots are #UD */
    ck_assert_int_eq(guest(0xdd, 0x08, MEMOP), EXC_UD);
    ck_assert_int_eq(guest(0xd9, 0xd1, 0), EXC_UD);
    ck_assert_int_eq(guest(0xdf, 0xf8, 0), EXC_UD);
}
END_TEST

static int ferr_calls;
static bool ferr_level;
static void on_ferr(void *opaque, bool level)
{
    (void)opaque;
    ferr_calls++;
    ferr_level = level;
}

START_TEST(test_mf_and_ferr)
{
    uint16_t cw = 0x037b; /* ZM unmasked */
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    gw(MEMOP, &cw, 2);
    gw(MEMOP + 8, &cw, 2);
    ck_assert_int_eq(guest(0xd9, 0x28, MEMOP), -1); /* FLDCW */
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1);     /* FLD1 */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1);     /* FLDZ */
    cpu.insn_eip = 0x5000;
    ck_assert_int_eq(guest(0xde, 0xf9, 0), -1); /* FDIVP: 1/0, unmasked ZE */
    uint16_t sw = gsw();
    ck_assert_uint_eq(sw & (FPU_SW_ZE | FPU_SW_ES | FPU_SW_B), FPU_SW_ZE | FPU_SW_ES | FPU_SW_B);
    ck_assert_uint_eq((sw >> 11) & 7, 6); /* unmasked ZE: no pop */
    ck_assert_uint_eq(cpu.fpu.fip, 0x5000);
    ck_assert_uint_eq(cpu.fpu.fop, 0x6f9);
    /* no-wait instructions still run; waiting ones raise #MF */
    ck_assert_int_eq(guest(0xdd, 0x38, MEMOP), -1); /* FNSTSW m16 */
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), EXC_MF);
    struct insn w = make_insn(0x9b, 0xc0, 0, 4);
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), EXC_MF);
    ck_assert_int_eq(guest(0xdb, 0xe2, 0), -1); /* FNCLEX */
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1);
    /* FNSTENV masks every exception, which also ends the pending one */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1); /* FLDZ */
    ck_assert_int_eq(guest(0xd8, 0xf9, 0), -1); /* FDIVR: 0/0 would be IE (masked): */
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1); /*   no #MF */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1); /* FLDZ */
    ck_assert_int_eq(guest(0xde, 0xf9, 0), -1); /* FDIVP: 1/0 → unmasked ZE */
    ck_assert_uint_eq(gsw() & FPU_SW_ES, FPU_SW_ES);
    ck_assert_int_eq(guest(0xd9, 0x30, MEMOP + 0x100), -1); /* FNSTENV */
    ck_assert_uint_eq(gsw() & (FPU_SW_ES | FPU_SW_ZE), FPU_SW_ZE);
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1);
    ck_assert_int_eq(guest(0xd9, 0x20, MEMOP + 0x100), -1); /* FLDENV brings it back */
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), EXC_MF);
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1); /* FNINIT */

    /* CR0.NE = 0: FERR# instead, released when ES clears */
    cpu.cr0 &= ~CR0_NE;
    cpu.fpu.ferr_changed = on_ferr;
    ferr_calls = 0;
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);         /* FNINIT */
    ck_assert_int_eq(guest(0xd9, 0x28, MEMOP + 8), -1); /* FLDCW */
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1);         /* FLD1 */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1);         /* FLDZ */
    ck_assert_int_eq(guest(0xde, 0xf9, 0), -1);         /* FDIVP again */
    ck_assert_int_eq(ferr_calls, 0);                    /* deferred to the next waiting insn */
    ck_assert_int_eq(run_fn(op_fpu_wait, &w), -1);
    ck_assert_int_eq(ferr_calls, 1);
    ck_assert(ferr_level);
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1); /* continues (no freeze) */
    ck_assert_int_eq(ferr_calls, 1);
    ck_assert_int_eq(guest(0xdb, 0xe2, 0), -1); /* FNCLEX drops FERR# */
    ck_assert_int_eq(ferr_calls, 2);
    ck_assert(!ferr_level);
}
END_TEST

START_TEST(test_fnstsw_ax_and_fcomi)
{
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    cpu.regs[R_EAX] = 0xdeadbeef;
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1); /* FLD1 */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1); /* FLDZ */
    ck_assert_int_eq(guest(0xdf, 0xe0, 0), -1); /* FNSTSW AX */
    ck_assert_uint_eq(cpu.regs[R_EAX], 0xdead3000);
    /* lazy flags pending from an ALU op must be replaced, OF/SF/AF cleared */
    cpu.lf_op = 0;
    cpu_set_eflags(&cpu, 0x2 | FL_OF | FL_SF | FL_AF);
    ck_assert_int_eq(guest(0xdb, 0xf1, 0), -1); /* FCOMI: 0 < 1 */
    ck_assert_uint_eq(cpu_get_eflags(&cpu) & FL_ARITH, FL_CF);
    ck_assert_int_eq(guest(0xd9, 0xc9, 0), -1); /* FXCH */
    ck_assert_int_eq(guest(0xdf, 0xf1, 0), -1); /* FCOMIP: 1 > 0 */
    ck_assert_uint_eq(cpu_get_eflags(&cpu) & FL_ARITH, 0);
    ck_assert_uint_eq(cpu.fpu.top, 7);
    ck_assert_int_eq(guest(0xdb, 0xe8, 0), -1); /* FUCOMI ST0,ST0 */
    ck_assert_uint_eq(cpu_get_eflags(&cpu) & FL_ARITH, FL_ZF);
}
END_TEST

/* A state with known pointers, for the layout tests. */
static void known_state(void)
{
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    ck_assert_int_eq(guest(0xd9, 0xe8, 0), -1); /* FLD1 */
    ck_assert_int_eq(guest(0xd9, 0xee, 0), -1); /* FLDZ */
    cpu.fpu.fip = 0x12345678;
    cpu.fpu.fcs = 0x0008;
    cpu.fpu.fop = 0x5c3;
    cpu.fpu.fdp = 0x9abcdef0;
    cpu.fpu.fds = 0x0010;
    cpu.fpu.cw = 0x027f;
    cpu.fpu.sw |= FPU_SW_PE | FPU_SW_C2;
}

START_TEST(test_env_layouts)
{
    uint32_t d[27];
    uint16_t w[47];
    /* 32-bit protected mode */
    known_state();
    ck_assert_int_eq(guest(0xd9, 0x30, MEMOP), -1); /* FNSTENV */
    gr(MEMOP, d, 28);
    ck_assert_uint_eq(d[0], 0xffff027f);
    ck_assert_uint_eq(d[1], 0xffff0000u | (6u << 11) | FPU_SW_PE | FPU_SW_C2);
    ck_assert_uint_eq(d[2], 0xffff1fff); /* R7 valid (1.0) = 00, R6 zero = 01 */
    ck_assert_uint_eq(d[3], 0x12345678);
    ck_assert_uint_eq(d[4], 0x05c30008);
    ck_assert_uint_eq(d[5], 0x9abcdef0);
    ck_assert_uint_eq(d[6], 0xffff0010);
    ck_assert_uint_eq(cpu.fpu.cw, 0x027f | 0x3f); /* exceptions masked afterwards */
    /* round trip through FLDENV after FNINIT */
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    ck_assert_int_eq(guest(0xd9, 0x20, MEMOP), -1);
    ck_assert_uint_eq(cpu.fpu.fip, 0x12345678);
    ck_assert_uint_eq(cpu.fpu.fop, 0x5c3);
    ck_assert_uint_eq(cpu.fpu.tag, 0xc0);
    ck_assert_uint_eq(cpu.fpu.top, 6);

    /* 16-bit protected mode */
    known_state();
    ck_assert_int_eq(guest16(0xd9, 0x30, MEMOP), -1);
    gr(MEMOP, w, 14);
    ck_assert_uint_eq(w[0], 0x027f);
    ck_assert_uint_eq(w[3], 0x5678);
    ck_assert_uint_eq(w[4], 0x0008);
    ck_assert_uint_eq(w[5], 0xdef0);
    ck_assert_uint_eq(w[6], 0x0010);

    /* real mode: linear pointers, FOP beside the high bits */
    cpu.cr0 &= ~CR0_PE;
    known_state();
    cpu.fpu.fip = 0x0123;
    cpu.fpu.fcs = 0x1000; /* linear 0x10123 */
    cpu.fpu.fdp = 0x0456;
    cpu.fpu.fds = 0x2000; /* linear 0x20456 */
    ck_assert_int_eq(guest(0xd9, 0x30, MEMOP), -1);
    gr(MEMOP, d, 28);
    ck_assert_uint_eq(d[3], 0xffff0123);
    ck_assert_uint_eq(d[4], (0x0001u << 12) | 0x5c3);
    ck_assert_uint_eq(d[5], 0xffff0456);
    ck_assert_uint_eq(d[6], 0x0002u << 12);
    known_state();
    cpu.fpu.fip = 0x0123;
    cpu.fpu.fcs = 0x1000;
    cpu.fpu.fdp = 0x0456;
    cpu.fpu.fds = 0x2000;
    ck_assert_int_eq(guest16(0xd9, 0x30, MEMOP), -1);
    gr(MEMOP, w, 14);
    ck_assert_uint_eq(w[3], 0x0123);
    ck_assert_uint_eq(w[4], (1u << 12) | 0x5c3);
    ck_assert_uint_eq(w[5], 0x0456);
    ck_assert_uint_eq(w[6], 2u << 12);
    ck_assert_int_eq(guest16(0xd9, 0x20, MEMOP), -1); /* FLDENV */
    ck_assert_uint_eq(cpu.fpu.fip, 0x10123);
    ck_assert_uint_eq(cpu.fpu.fdp, 0x20456);
    ck_assert_uint_eq(cpu.fpu.fop, 0x5c3);

    /* 16-bit FNSAVE / FRSTOR: 94 bytes, registers in stack order */
    cpu.cr0 |= CR0_PE;
    known_state();
    ck_assert_int_eq(guest16(0xdd, 0x30, MEMOP), -1);
    gr(MEMOP, w, 94);
    ck_assert_uint_eq(w[7], 0);              /* ST0 = +0.0 */
    ck_assert_uint_eq(w[7 + 5 + 3], 0x8000); /* ST1 = 1.0: sig high word */
    ck_assert_uint_eq(w[7 + 5 + 4], 0x3fff);
    ck_assert_uint_eq(cpu.fpu.cw, 0x037f); /* FNSAVE re-initialises */
    ck_assert_uint_eq(cpu.fpu.tag, 0);
    ck_assert_int_eq(guest16(0xdd, 0x20, MEMOP), -1);
    ck_assert_uint_eq(cpu.fpu.cw, 0x027f);
    ck_assert_uint_eq(cpu.fpu.top, 6);
    ck_assert_uint_eq(cpu.fpu.r[7].se, 0x3fff);
    ck_assert_uint_eq(cpu.fpu.tag, 0xc0);
}
END_TEST

START_TEST(test_fxsave)
{
    known_state();
    struct insn fx = make_insn(0x1ae, 0x00, 0x4000, 4);
    ck_assert_int_eq(run_fn(op_fxsave, &fx), -1);
    uint8_t b[512];
    gr(0x4000, b, 512);
    uint16_t w[4];
    uint32_t d[6];
    memcpy(w, b, 8);
    memcpy(d, b + 8, 24);
    ck_assert_uint_eq(w[0], 0x027f);
    ck_assert_uint_eq(w[2], 0xc0);
    ck_assert_uint_eq(w[3], 0x5c3);
    ck_assert_uint_eq(d[0], 0x12345678);
    ck_assert_uint_eq(d[4], 0x1f80);
    ck_assert_uint_eq(b[32 + 16 + 9], 0x3f); /* ST1 = 1.0 */
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    struct insn fr = make_insn(0x1ae, 0x08, 0x4000, 4);
    ck_assert_int_eq(run_fn(op_fxrstor, &fr), -1);
    ck_assert_uint_eq(cpu.fpu.cw, 0x027f);
    ck_assert_uint_eq(cpu.fpu.tag, 0xc0);
    ck_assert_uint_eq(cpu.fpu.top, 6);
    ck_assert_uint_eq(cpu.fpu.r[7].se, 0x3fff);
    /* misaligned → #GP; reserved MXCSR bits → #GP */
    struct insn bad = make_insn(0x1ae, 0x00, 0x4008, 4);
    ck_assert_int_eq(run_fn(op_fxsave, &bad), EXC_GP);
    uint32_t mx = 0x10000;
    gw(0x4000 + 24, &mx, 4);
    ck_assert_int_eq(run_fn(op_fxrstor, &fr), EXC_GP);
    /* the x87 part agrees with the host's FXSAVE of the same state */
    native_init();
    uint8_t img[108], hostfx[512] __attribute__((aligned(16)));
    for (int rep = 0; rep < 200; rep++) {
        rand_state(img);
        __asm__ volatile("frstor %1\n\tfxsave %0\n\tfninit" : "=m"(hostfx) : "m"(img));
        gw(IMG_IN, img, 108);
        ck_assert_int_eq(guest(0xdd, 0x20, IMG_IN), -1);
        ck_assert_int_eq(run_fn(op_fxsave, &fx), -1);
        gr(0x4000, b, 512);
        ck_assert(!memcmp(b, hostfx, 6)); /* FCW FSW FTW */
        for (int k = 0; k < 8; k++)
            ck_assert(!memcmp(b + 32 + 16 * k, hostfx + 32 + 16 * k, 10));
    }
}
END_TEST

START_TEST(test_reset_state)
{
    fpu_reset(&cpu.fpu);
    ck_assert_uint_eq(cpu.fpu.cw, 0x0040);
    ck_assert_uint_eq(fpu_get_sw(&cpu.fpu), 0);
    ck_assert_uint_eq(fpu_get_tw(&cpu.fpu), 0x5555);
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    ck_assert_uint_eq(cpu.fpu.cw, 0x037f);
    ck_assert_uint_eq(fpu_get_tw(&cpu.fpu), 0xffff);
}
END_TEST

/* A store that faults (segment limit) changes nothing: precise exceptions. */
START_TEST(test_precise_store_fault)
{
    ck_assert_int_eq(guest(0xdb, 0xe3, 0), -1);
    ck_assert_int_eq(guest(0xd9, 0xeb, 0), -1); /* FLDPI */
    cpu.seg[SEG_DS].limit = MEMOP + 5;
    ck_assert_int_eq(guest(0xdd, 0x18, MEMOP), EXC_GP); /* FSTP m64 beyond the limit */
    ck_assert_uint_eq(cpu.fpu.top, 7);
    ck_assert_uint_eq(cpu.fpu.tag, 0x80);
    uint8_t z[8] = {0}, m[8];
    gr(MEMOP, m, 8);
    ck_assert(!memcmp(z, m, 8));
}
END_TEST

/* ---- sequences through cpu_run: the state stays on the host x87 ----
 *
 * Random sequences of instructions run as real guest code (FRSTOR; the
 * sequence; FNSAVE; HLT), so the state is loaded into the host x87 once
 * and kept there across instructions, then written back only by FNSAVE or
 * by cpu_run returning.  The expected result chains the one-instruction
 * native runs (FRSTOR; insn; FNSAVE — exact by construction), stopping
 * where a pending unmasked exception makes the next waiting instruction
 * take #MF; the guest's #MF handler then FNSAVEs the state and the fault's
 * return address must be that instruction.  Variants: every instruction
 * in its own block and cpu_run sliced into small budgets (sync and reload
 * between any two instructions), and an interrupt arriving mid-sequence
 * whose handler does FNSAVE, its own x87 work, FRSTOR, IRET.
 */
#define SEQ_CODE 0x8000u
#define MF_HANDLER 0x9000u
#define IRQ_HANDLER 0x9100u
#define IRQ_SAVE 0x4000u
#define SEQ_MAX 12

static bool irq_taken;
static uint8_t seq_ack(void *opaque)
{
    (void)opaque;
    cpu_set_irq(&cpu, false);
    irq_taken = true;
    return 0x20;
}

static void seq_gate(unsigned vec, uint32_t off)
{
    uint32_t lo = (off & 0xffff) | (0x08u << 16), hi = (off & 0xffff0000u) | 0x8e00u;
    gw(0x600 + vec * 8, &lo, 4);
    gw(0x600 + vec * 8 + 4, &hi, 4);
}

static uint8_t *emit(uint8_t *c, const void *b, size_t n)
{
    memcpy(c, b, n);
    return c + n;
}
static uint8_t *emit_mem(uint8_t *c, unsigned op, unsigned reg, uint32_t addr)
{
    *c++ = (uint8_t)op;
    *c++ = (uint8_t)(reg << 3 | 5); /* [disp32] */
    return emit(c, &addr, 4);
}

/* A flat protected-mode machine with the #MF and IRQ handlers. */
static void seq_machine(void)
{
    static const uint32_t gdt[6] = {0, 0, 0x0000ffff, 0x00cf9a00, 0x0000ffff, 0x00cf9200};
    gw(0x500, gdt, sizeof gdt);
    cpu_set_flat32(&cpu, SEQ_CODE);
    cpu.gdtr.base = 0x500;
    cpu.gdtr.limit = 23;
    cpu.idtr.base = 0x600;
    cpu.idtr.limit = 0x7ff;
    cpu.regs[R_ESP] = 0x80000;
    cpu.intr.ack = seq_ack;
    cpu.cr0 |= CR0_NE;
    seq_gate(16, MF_HANDLER);
    seq_gate(0x20, IRQ_HANDLER);
    uint8_t h[64], *c = h;
    c = emit_mem(c, 0xdd, 6, IMG_OUT); /* FNSAVE */
    c = emit(c, "\xf4\xeb\xfd", 3);    /* 1: HLT; JMP 1b */
    gw(MF_HANDLER, h, (uint32_t)(c - h));
    c = h;
    c = emit_mem(c, 0xdd, 6, IRQ_SAVE);           /* FNSAVE */
    c = emit(c, "\xd9\xe8\xd9\xeb\xde\xc1", 6);   /* FLD1; FLDPI; FADDP */
    c = emit_mem(c, 0xd9, 3, IRQ_SAVE + 0x100);   /* FSTP m32 */
    c = emit_mem(c, 0xdd, 4, IRQ_SAVE);           /* FRSTOR */
    c = emit(c, "\xcf", 1);                       /* IRET */
    gw(IRQ_HANDLER, h, (uint32_t)(c - h));
}

static bool is_waiting(const struct form *fm)
{
    if (fm->esc == 3 && fm->modrm >= 0xe0 && fm->modrm <= 0xe4) return false; /* FNENI..FNINIT */
    if (fm->modrm < 0xc0 && (fm->esc == 1 || fm->esc == 5) && (fm->modrm >> 3) == 7)
        return false; /* FNSTCW, FNSTSW m16 */
    return true;
}

/* One random sequence; false (after printing it) on a mismatch. */
static bool seq_case(unsigned n, bool split, bool with_irq)
{
    const struct form *seq[SEQ_MAX];
    uint8_t in[108], memop[16], cur[108], nat_mem[16];
    for (unsigned k = 0; k < n; k++) {
        do
            seq[k] = &forms[rndn(nforms)];
        while (seq[k]->memsize == 0 && seq[k]->modrm < 0xc0);
    }
    rand_state(in);
    rand_mem(10, memop);
    memset(memop + 10, 0, 6);
    uint8_t flags = (uint8_t)(rnd() & (FL_CF | FL_PF | FL_ZF)) | 0x02, flags0 = flags;

    /* expected: chained one-instruction native runs */
    memcpy(cur, in, 108);
    memcpy(nat_mem, memop, 16);
    int mf_at = -1;
    for (unsigned k = 0; k < n; k++) {
        uint16_t sw;
        memcpy(&sw, cur + 4, 2);
        if ((sw & FPU_SW_ES) && is_waiting(seq[k])) {
            mf_at = (int)k;
            break;
        }
        uint8_t out[112];
        native(seq[k]->esc, seq[k]->modrm, cur, nat_mem, out, &flags);
        memcpy(cur, out, 108);
    }

    /* the guest program */
    uint8_t code[32 + SEQ_MAX * 8], *c = code;
    uint32_t at[SEQ_MAX];
    c = emit_mem(c, 0xdd, 4, IMG_IN); /* FRSTOR */
    for (unsigned k = 0; k < n; k++) {
        if (split) c = emit(c, "\xeb\x00", 2); /* JMP $+2: a block of its own */
        at[k] = SEQ_CODE + (uint32_t)(c - code);
        if (seq[k]->modrm >= 0xc0) {
            *c++ = (uint8_t)(0xd8 + seq[k]->esc);
            *c++ = seq[k]->modrm;
        } else {
            c = emit_mem(c, 0xd8u + seq[k]->esc, seq[k]->modrm >> 3, MEMOP);
        }
    }
    c = emit_mem(c, 0xdd, 6, IMG_OUT); /* FNSAVE */
    c = emit(c, "\xf4\xeb\xfd", 3);
    gw(SEQ_CODE, code, (uint32_t)(c - code));
    gw(IMG_IN, in, 108);
    gw(MEMOP, memop, 16);
    seq_machine();
    cpu_set_eflags(&cpu, 0x202 | flags0);
    irq_taken = false;
    cpu.halted = false;
    enum cpu_exit r = CPU_EXIT_BUDGET;
    unsigned irq_at = with_irq ? rndn(n + 1) : ~0u;
    for (unsigned step = 0; r != CPU_EXIT_HALT && step < 1000; step++) {
        if (step == irq_at) cpu_set_irq(&cpu, true);
        r = cpu_run(&cpu, split ? 1 + rndn(3) : 1000);
    }
    ck_assert_int_eq(r, CPU_EXIT_HALT);
    uint8_t out[108], mem[16];
    gr(IMG_OUT, out, 108);
    gr(MEMOP, mem, 16);
    bool ok = true;
    static const unsigned cmp[][2] = {{0, 2}, {4, 2}, {8, 2}, {28, 80}};
    for (unsigned k = 0; k < 4; k++)
        ok = ok && !memcmp(cur + cmp[k][0], out + cmp[k][0], cmp[k][1]);
    ok = ok && !memcmp(nat_mem, mem, 16);
    uint8_t fmask = FL_ZF | FL_PF | FL_CF;
    ok = ok && (flags & fmask) == (cpu_get_eflags(&cpu) & fmask);
    if (mf_at >= 0) { /* #MF at that instruction: its address was pushed */
        uint32_t ret;
        gr(cpu.regs[R_ESP], &ret, 4);
        ok = ok && ret == at[mf_at] && cpu.eip >= MF_HANDLER && cpu.eip < MF_HANDLER + 16;
    } else {
        ok = ok && cpu.eip < MF_HANDLER;
    }
    if (!ok) {
        fprintf(stderr, "x87 sequence mismatch (split %d irq %d taken %d, #MF at %d):", split,
                with_irq, irq_taken, mf_at);
        for (unsigned k = 0; k < n; k++)
            fprintf(stderr, " %02X %02X", 0xd8 + seq[k]->esc, seq[k]->modrm);
        fprintf(stderr, "\n");
        dump("in", in);
        dump("native", cur);
        dump("guest", out);
    }
    return ok;
}

static void seq_batch(unsigned count, bool split, bool with_irq)
{
    native_init();
    build_forms();
    unsigned fails = 0;
    for (unsigned k = 0; k < count && fails < 5; k++)
        if (!seq_case(1 + rndn(SEQ_MAX), split, with_irq)) fails++;
    ck_assert_msg(fails == 0, "%u mismatches (see stderr)", fails);
}

START_TEST(test_sequences_resident)
{
    seq_batch(batch_count() / 10, false, false);
}
END_TEST

START_TEST(test_sequences_sliced_and_interrupted)
{
    seq_batch(batch_count() / 20, true, true);
}
END_TEST

/* The directed forms of the above. */
START_TEST(test_fsave_after_arith)
{
    static const uint8_t prog[] = {
        0xdb, 0xe3,                                /* FNINIT */
        0xd9, 0xe8, 0xd9, 0xe8, 0xde, 0xc1,        /* FLD1; FLD1; FADDP */
        0xd9, 0xeb,                                /* FLDPI */
        0xdd, 0x35, 0x00, 0x20, 0x00, 0x00,        /* FNSAVE [IMG_OUT] */
        0xd9, 0xe8,                                /* FLD1 (after FNSAVE's FNINIT) */
        0xdd, 0x1d, 0x00, 0x30, 0x00, 0x00,        /* FSTP m64 [MEMOP] */
        0xf4};
    seq_machine();
    gw(SEQ_CODE, prog, sizeof prog);
    ck_assert_int_eq(cpu_run(&cpu, 1000), CPU_EXIT_HALT);
    ck_assert(!cpu.fpu.resident);
    uint8_t img[108];
    gr(IMG_OUT, img, 108);
    uint16_t sw, tw;
    memcpy(&sw, img + 4, 2);
    memcpy(&tw, img + 8, 2);
    ck_assert_uint_eq((sw >> 11) & 7, 6);
    ck_assert_uint_eq(tw, 0x0fff); /* R6 (pi), R7 (2.0) valid */
    uint64_t sig;
    uint16_t se;
    memcpy(&sig, img + 28 + 10, 8); /* ST(1) */
    memcpy(&se, img + 36 + 10, 2);
    ck_assert_uint_eq(se, 0x4000); /* 2.0 */
    ck_assert_uint_eq(sig, 1ull << 63);
    memcpy(&se, img + 36, 2); /* ST(0) = pi */
    ck_assert_uint_eq(se, 0x4000);
    ck_assert(get_double(MEMOP) == 1.0);
    ck_assert_uint_eq(cpu.fpu.tag, 0);
}
END_TEST

START_TEST(test_mf_at_next_waiting_insn)
{
    static const uint8_t prog[] = {
        0xdb, 0xe3,                         /* FNINIT */
        0xd9, 0x2d, 0x00, 0x30, 0x00, 0x00, /* FLDCW [MEMOP] (ZM unmasked) */
        0xd9, 0xe8, 0xd9, 0xee,             /* FLD1; FLDZ */
        0xde, 0xf9,                         /* FDIVP: 1/0 */
        0xdf, 0xe0,                         /* FNSTSW AX: no wait, no fault */
        0x89, 0xc3,                         /* MOV EBX, EAX */
        0xd9, 0xe8,                         /* FLD1: #MF here (offset 0x12) */
        0xf4};
    uint16_t cw = 0x037b;
    seq_machine();
    gw(MEMOP, &cw, 2);
    gw(SEQ_CODE, prog, sizeof prog);
    ck_assert_int_eq(cpu_run(&cpu, 1000), CPU_EXIT_HALT);
    uint32_t ret;
    gr(cpu.regs[R_ESP], &ret, 4);
    ck_assert_uint_eq(ret, SEQ_CODE + 0x12);
    uint16_t want = 0x3000 | FPU_SW_B | FPU_SW_ES | FPU_SW_ZE; /* TOP 6: no pop */
    ck_assert_uint_eq(cpu.regs[R_EBX] & ~FPU_SW_CC & 0xffff, want);
    uint8_t img[108];
    gr(IMG_OUT, img, 108);
    uint16_t sw;
    memcpy(&sw, img + 4, 2);
    ck_assert_uint_eq(sw & ~FPU_SW_CC, want);
}
END_TEST

static Suite *fpu_suite(void)
{
    Suite *s = suite_create("fpu");
    TCase *tc = tcase_create("fpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_basic_arith);
    tcase_add_test(tc, test_nm);
    tcase_add_test(tc, test_mf_and_ferr);
    tcase_add_test(tc, test_fnstsw_ax_and_fcomi);
    tcase_add_test(tc, test_env_layouts);
    tcase_add_test(tc, test_fxsave);
    tcase_add_test(tc, test_reset_state);
    tcase_add_test(tc, test_precise_store_fault);
    tcase_add_test(tc, test_every_form);
    tcase_add_test(tc, test_random_register_forms);
    tcase_add_test(tc, test_random_memory_forms);
    tcase_add_test(tc, test_fsave_after_arith);
    tcase_add_test(tc, test_mf_at_next_waiting_insn);
    tcase_add_test(tc, test_sequences_resident);
    tcase_add_test(tc, test_sequences_sliced_and_interrupted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fpu_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
