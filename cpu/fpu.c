/*
 * fpu.c — the x87 FPU of the P6 core, executed on the host's own x87.
 *
 * Models the complete x87 of a P6 (Pentium Pro / II / III without SSE
 * state): SDM Vol. 1 ch. 8 (state, stack, tags, condition codes, exception
 * handling, the FSTENV/FSAVE layouts of §8.1.10 and figs. 8-9..8-12) and
 * §10.5.1 (FXSAVE layout, x87 part), Vol. 1 App. D (CR0.NE=0 "MS-DOS
 * compatible" error reporting through FERR#), Vol. 2 (every D8-DF, 9B and
 * 0F AE /0 /1 instruction), Vol. 3 §9.1.1 Table 9-1 (reset state).
 *
 * Design choice — the host x87 does the arithmetic.  The host is an x86-64
 * with a real x87 whose arithmetic is the same IEEE/x87 arithmetic a P6 has:
 * same 80-bit format, precision control, rounding control, exception
 * detection, NaN propagation, pseudo-denormal/unnormal handling and integer/BCD
 * conversions.  So every computational guest instruction is executed as *the
 * same instruction* on the host: a table of host stubs (below, one per
 * register-form encoding D8-DF C0-FF, and one per memory form with the
 * operand at [RAX]) holds each encoding followed by a jump back.  The guest's
 * operands are loaded into host ST(0) and ST(1) (a register form's ST(i) is
 * remapped to ST(1)), the host control word is set to the guest's (same
 * precision, rounding and exception masks), the stub runs, and what the host
 * stack holds afterwards is written back to the guest registers following
 * the host's own stack motion — so pushes, pops, and the "no pop on an
 * unmasked exception" rules all come from the hardware.  The host status word
 * gives the exception flags and the condition codes the instruction defines;
 * the host's own exception-reporting is suppressed (FNCLEX when the host sets
 * ES) so the host never takes #MF/SIGFPE.  Host exception flags are sticky,
 * so before an operation the host flags are cleared unless they are a subset
 * of the guest's already-set masked flags (then they change nothing) — that
 * saves the costly FNCLEX in the common "PE already set" case.  Condition
 * codes an instruction leaves alone stay the guest's: each instruction
 * class takes only the codes it writes from the host, and FPREM/FPREM1
 * (whose untouched codes depend on the operands) start the host from the
 * guest's codes.  The host control word (normally the ABI default 037F,
 * which is also what Linux and C runtimes load in guests) is switched to the
 * guest's and restored only when the two differ.
 *
 * What the host cannot see is done here in C: the tag word (guest registers
 * may be empty; the host stack always starts empty), stack overflow /
 * underflow and their masked responses, TOP, FXCH/FFREE/FINCSTP/FDECSTP,
 * FCMOVcc, register copies, the control instructions, the environment and
 * save images, #NM, the pending-exception check (#MF or FERR#), and the
 * last-instruction pointers.  Moves that are exact and raise nothing on any
 * x87 (FLD of a normal m32/m64, FILD, FLD/FSTP m80, FCHS, FABS, FLDZ, FLD1)
 * take a C fast path.  The opcode table points each escape byte at its own
 * register-form and memory-form handler (x87_d8 .. x87_df), so dispatch is a
 * small switch on modrm.reg.  tests/unit/test_fpu.c checks every form
 * against the host executing the same instruction on the same full FPU state
 * (stack faults, tags, pops and undefined-code behaviour included).
 *
 * Where host results may differ from a real P6: the transcendental
 * instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1)
 * are only specified to about 1 ulp, and Intel's implementations differed in
 * the last bit between generations (and AMD's differ again); a guest sees
 * the host CPU's answers, as it would on that host run natively — acceptable
 * because real P6-class CPUs disagree among themselves there too.  Every
 * correctly-rounded operation (the four basic operations, FSQRT, FPREM,
 * FPREM1, FRNDINT, FSCALE, FXTRACT, conversions, compares) is bit-exact.
 * Modern Intel hosts may not maintain FOP/FCS/FDS ("FPU CS and DS
 * deprecated"); we keep them ourselves, as a P6 did.
 *
 * Where the SDM leaves a detail open, the host's behaviour is the model
 * (checked by the tests): undefined condition codes are left unchanged;
 * FCOMI and FCMOVcc leave C1 alone; an FCOMI with an unmasked invalid or
 * denormal operand still sets EFLAGS; FLD ST(i) from an empty register is an
 * underflow even when the stack is also full; the reserved alias D9 D8+i
 * (FSTP1) pops an empty ST(0) without a stack fault; FNSTENV clears ES as it
 * masks everything.  The reserved aliases FCOM2, FCOMP3, FXCH4, FCOMP5,
 * FFREEP, FXCH7, FSTP8, FSTP9 are implemented; FISTTP (SSE3) is #UD.
 */
#include "cpu/fpu.h"

#include <assert.h>

#include "cpu/ops.h"

#ifndef __x86_64__
#error "the x87 model executes on the host's x87: build for an x86-64 host"
#endif

#define CW_MASKS FPU_SW_EXC
#define CC_ALL FPU_SW_CC
#define CC_C1 FPU_SW_C1
#define CC_C12 (FPU_SW_C1 | FPU_SW_C2)

/* The QNaN "real indefinite" a masked invalid operation delivers. */
static const struct fpu_reg INDEFINITE = {0xc000000000000000ull, 0xffff, {0, 0, 0}};

/* ------------------------------------------------------------------------
 * Host stubs.  Stub n < 512 is the register form (D8 + n/64) (C0 + n%64);
 * stub 512 + 8*e + r is the memory form (D8 + e) /r with its operand at
 * [RAX].  Each is ENDBR64 (harmless without CET), the two opcode bytes and
 * JMP *R11: the caller puts its return address in R11, so no stack (and no
 * red zone) is touched.  16 bytes apart for indexing by shift.
 * ------------------------------------------------------------------------ */
__asm__(".pushsection .text\n"
        ".balign 16\n"
        ".globl umbra_x87_stubs\n"
        ".hidden umbra_x87_stubs\n"
        "umbra_x87_stubs:\n"
        ".set umbra_x87_n, 0\n"
        ".rept 512\n"
        "  .byte 0xf3, 0x0f, 0x1e, 0xfa\n"
        "  .byte 0xd8 + (umbra_x87_n >> 6), 0xc0 + (umbra_x87_n & 63)\n"
        "  jmp *%r11\n"
        "  .balign 16, 0xcc\n"
        "  .set umbra_x87_n, umbra_x87_n + 1\n"
        ".endr\n"
        ".set umbra_x87_n, 0\n"
        ".rept 64\n"
        "  .byte 0xf3, 0x0f, 0x1e, 0xfa\n"
        "  .byte 0xd8 + (umbra_x87_n >> 3), (umbra_x87_n & 7) << 3\n"
        "  jmp *%r11\n"
        "  .balign 16, 0xcc\n"
        "  .set umbra_x87_n, umbra_x87_n + 1\n"
        ".endr\n"
        ".popsection\n");
extern const char umbra_x87_stubs[];

/* The x87 control word the x86-64 psABI starts every process with and makes
 * callee-saved: the host runs with it except while a guest instruction with
 * a different control word executes. */
#define HOST_CW 0x037f

#define STUB_REG(esc, modrm) ((unsigned)(esc) << 6 | ((modrm)&0x3f))
#define STUB_MEM(esc, reg) (512u + ((unsigned)(esc) << 3) + (reg))

/* What one host execution produced. */
struct hres {
    struct fpu_reg out[8]; /* host ST(0..depth-1) after the instruction (depth <= 3), */
    unsigned depth;        /* unless `direct` */
    bool direct;           /* depth was as planned: results already stored in place */
    uint16_t sw;           /* host status word right after the instruction */
    uint8_t eflags;        /* LAHF image right after it (FCOMI family) */
};

/*
 * Execute host stub `stub` with *a in ST(0) and *b in ST(1) (k = how many
 * are loaded), `mem` in RAX, under the guest control word `cw`.
 * `keep`: host exception flags that may stay set (guest flags already set
 * and masked).  `sync_cc` >= 0: load these condition codes into the host
 * first (slow; for the instructions whose untouched codes vary).
 * If the host stack ends `e` deep, as planned, host ST(j) is stored straight
 * to dst[j] (or dropped where dst[j] is NULL: an operand left unchanged):
 * going through a buffer would cost two store-forwarding stalls per
 * instruction on the 80-bit values.  Otherwise everything goes to r->out.
 */
static inline __attribute__((always_inline)) void
host_run(unsigned stub, const struct fpu_reg *a, const struct fpu_reg *b, unsigned k, void *mem,
         uint16_t cw, uint16_t keep, int sync_cc, unsigned e, struct fpu_reg *const *dst,
         struct hres *r)
{
    static const uint16_t abi_cw = HOST_CW;
    if (sync_cc >= 0) {
        /* The instruction leaves some condition codes unchanged in cases
         * that depend on its operands: start the host from the guest's. */
        uint32_t env[7];
        __asm__ volatile("fnstenv %0" : "=m"(env));
        env[1] = (env[1] & ~(uint32_t)FPU_SW_CC) | (uint32_t)sync_cc;
        __asm__ volatile("fldenv %0" ::"m"(env));
    }
    uintptr_t rax = (uintptr_t)mem;
    uint32_t fl, d, cnt, top0, nokeep = FPU_SW_EXC & ~keep, ncw = cw != HOST_CW;
    struct fpu_reg *o = r->out;
    const char *code = umbra_x87_stubs + (size_t)stub * 16;
    __asm__ volatile(
        /* Stale host flags the guest has not got (set and masked) would be
         * taken for this instruction's: clear them.  Then the guest's
         * precision, rounding and masks. */
        "movq %%rax, %%r11\n\t"
        "fnstsw %%ax\n\t"
        "movzwl %%ax, %[top0]\n\t"
        "testl %[nokeep], %[top0]\n\t"
        "jz 1f\n\t"
        "fnclex\n"
        "1:\n\t"
        "movq %%r11, %%rax\n\t"
        "shrl $11, %[top0]\n\t"
        "cmpl $0, %[ncw]\n\t"
        "jz 11f\n\t"
        "fldcw %[cw]\n"
        "11:\n\t"
        "cmpl $2, %[k]\n\t"
        "jb 2f\n\t"
        "fldt (%[b])\n"
        "2:\n\t"
        "cmpl $1, %[k]\n\t"
        "jb 3f\n\t"
        "fldt (%[a])\n"
        "3:\n\t"
        "leaq 4f(%%rip), %%r11\n\t"
        "jmp *%[code]\n"
        "4:\n\t"
        "lahf\n\t"
        "movl %%eax, %[fl]\n\t"
        "fnstsw %%ax\n\t"
        /* An unmasked exception set host ES: clear it before the next
         * waiting host instruction (our FSTPs) would trap. */
        "testb $0x80, %%al\n\t"
        "jz 5f\n\t"
        "fnclex\n"
        "5:\n\t"
        "movzwl %%ax, %[d]\n\t"
        "shrl $11, %[d]\n\t"
        "negl %[d]\n\t"
        "addl %[top0], %[d]\n\t"
        "andl $7, %[d]\n\t"
        "cmpl %[e], %[d]\n\t"
        "jne 6f\n\t"
        "xorl %[cnt], %[cnt]\n"
        "8:\n\t" /* planned depth: store in place */
        "cmpl %[e], %[cnt]\n\t"
        "jae 7f\n\t"
        "movq (%[dst],%q[cnt],8), %[o]\n\t"
        "incl %[cnt]\n\t"
        "testq %[o], %[o]\n\t"
        "jz 9f\n\t"
        "fstpt (%[o])\n\t"
        "jmp 8b\n"
        "9:\n\t"
        "fstp %%st(0)\n\t"
        "jmp 8b\n"
        "6:\n\t" /* anything else: dump the stack to r->out */
        "movl %[d], %[cnt]\n\t"
        "testl %[cnt], %[cnt]\n\t"
        "jz 7f\n"
        "10:\n\t"
        "fstpt (%[o])\n\t"
        "addq $16, %[o]\n\t"
        "decl %[cnt]\n\t"
        "jnz 10b\n"
        "7:\n\t"
        "cmpl $0, %[ncw]\n\t"
        "jz 12f\n\t"
        "fldcw %[abi]\n"
        "12:\n\t"
        : "+a"(rax), [fl] "=&r"(fl), [d] "=&r"(d), [cnt] "=&r"(cnt), [o] "+r"(o), [top0] "=&r"(top0)
        : [a] "r"(a), [b] "r"(b), [k] "rm"(k), [code] "r"(code), [e] "rm"(e), [dst] "r"(dst),
          [nokeep] "rm"(nokeep), [cw] "m"(cw), [abi] "m"(abi_cw), [ncw] "rm"(ncw)
        : "memory", "cc", "r11", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)",
          "st(7)");
    r->sw = (uint16_t)rax;
    r->eflags = (uint8_t)(fl >> 8);
    r->depth = d;
    r->direct = d == e;
}

/* ------------------------------------------------------------------------
 * State helpers
 * ------------------------------------------------------------------------ */
static inline unsigned phys(const struct fpu_state *f, unsigned i)
{
    return (f->top + i) & 7;
}
static inline bool is_empty(const struct fpu_state *f, unsigned i)
{
    return !((f->tag >> phys(f, i)) & 1);
}
static inline struct fpu_reg *st(struct fpu_state *f, unsigned i)
{
    return &f->r[phys(f, i)];
}
static inline void set_st(struct fpu_state *f, unsigned i, const struct fpu_reg *v)
{
    unsigned p = phys(f, i);
    f->r[p].sig = v->sig;
    f->r[p].se = v->se;
    f->tag |= 1u << p;
}
static inline void push(struct fpu_state *f, const struct fpu_reg *v)
{
    f->top = (f->top - 1) & 7;
    set_st(f, 0, v);
}
static inline void pop(struct fpu_state *f)
{
    f->tag &= ~(1u << f->top);
    f->top = (f->top + 1) & 7;
}

static void set_ferr(struct fpu_state *f, bool level)
{
    if (f->ferr != level) {
        f->ferr = level;
        if (f->ferr_changed) f->ferr_changed(f->ferr_opaque, level);
    }
}

/* ES (and B, which mirrors it on a 387 and later) summarises the unmasked
 * exception flags; recomputed whenever flags or masks change. */
static inline void update_es(struct fpu_state *f)
{
    if (f->sw & ~f->cw & FPU_SW_EXC) {
        f->sw |= FPU_SW_ES;
    } else {
        f->sw &= ~FPU_SW_ES;
        if (UNLIKELY(f->ferr)) set_ferr(f, false);
    }
}

uint16_t fpu_get_sw(const struct fpu_state *f)
{
    uint16_t sw = (f->sw & ~(FPU_SW_TOP | FPU_SW_B)) | (uint16_t)(f->top << 11);
    return (sw & FPU_SW_ES) ? sw | FPU_SW_B : sw;
}

static unsigned tag_of(const struct fpu_reg *r)
{
    unsigned e = r->se & 0x7fff;
    if (e == 0x7fff) return 2;
    if (e == 0) return r->sig ? 2 : 1;
    return (r->sig >> 63) ? 0 : 2; /* an unnormal is "special" */
}

uint16_t fpu_get_tw(const struct fpu_state *f)
{
    uint16_t tw = 0;
    for (unsigned p = 0; p < 8; p++)
        tw |= (uint16_t)(((f->tag >> p) & 1) ? tag_of(&f->r[p]) : 3) << (2 * p);
    return tw;
}

static void set_tw(struct fpu_state *f, uint16_t tw)
{
    f->tag = 0;
    for (unsigned p = 0; p < 8; p++)
        if (((tw >> (2 * p)) & 3) != 3) f->tag |= 1u << p;
}

static inline void set_cw(struct fpu_state *f, uint16_t cw)
{
    /* Bit 6 reads as 1 and bits 13-15 as 0 on every 387-class FPU. */
    f->cw = (cw & 0x1f3f) | 0x0040;
}

static void finit(struct fpu_state *f)
{
    f->cw = 0x037f;
    f->sw = 0;
    f->top = 0;
    f->tag = 0;
    f->fop = 0;
    f->fip = f->fdp = 0;
    f->fcs = f->fds = 0;
    set_ferr(f, false);
}

void fpu_reset(struct fpu_state *f)
{
    /* SDM Vol. 3 Table 9-1 (P6 family): after RESET the control word is
     * 0040H (all exceptions unmasked, single precision), the tag word 5555H
     * (every register valid, holding +0.0).  Software executes FNINIT
     * before relying on anything else. */
    finit(f);
    f->cw = 0x0040;
    for (unsigned p = 0; p < 8; p++) {
        f->r[p].sig = 0;
        f->r[p].se = 0;
        memset(f->r[p].pad, 0, sizeof f->r[p].pad);
    }
    f->tag = 0xff;
    f->mxcsr = 0x1f80;
}

/* Record the last non-control instruction (FOP, FCS:FIP, FDS:FDP). */
static inline void note(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    f->fop = (uint16_t)(((i->opcode & 7) << 8) | (i->mod << 6) | (i->reg << 3) | i->rm);
    f->fip = cpu->insn_eip;
    f->fcs = cpu->seg[SEG_CS].sel;
}
static inline void note_mem(struct cpu *cpu, const struct insn *i, uint32_t ea)
{
    note(cpu, i);
    cpu->fpu.fdp = ea;
    cpu->fpu.fds = cpu->seg[i->seg].sel;
}

/* A waiting instruction about to execute with an unmasked exception pending:
 * #MF (CR0.NE=1), or assert FERR# for the chipset's IRQ13 and carry on — the
 * P6 would freeze here until the interrupt; continuing is what other PC
 * emulators do and what DOS-era IRQ13 handlers cope with. */
static inline void check_pending(struct cpu *cpu)
{
    if (UNLIKELY(cpu->fpu.sw & FPU_SW_ES)) {
        if (cpu->cr0 & CR0_NE) cpu_fault(cpu, EXC_MF, 0);
        set_ferr(&cpu->fpu, true);
    }
}

static inline void add_exc(struct fpu_state *f, uint16_t flags)
{
    f->sw |= flags;
    update_es(f);
}

/* Stack fault: IE+SF, C1 = 1 for overflow / 0 for underflow.  Returns true
 * when IE is masked (the caller then delivers the masked response). */
static bool stack_fault(struct fpu_state *f, bool overflow)
{
    f->sw = (f->sw & ~FPU_SW_C1) | (overflow ? FPU_SW_C1 : 0);
    add_exc(f, FPU_SW_IE | FPU_SW_SF);
    return f->cw & FPU_CW_IM;
}

/* ------------------------------------------------------------------------
 * Guest memory: multi-part operands.  A store is checked for both pages
 * before anything is written, so a fault leaves memory and state untouched.
 * ------------------------------------------------------------------------ */
/* Host pointer for an n-byte access inside one page that the soft TLB maps
 * for this kind of access, else NULL (then the per-part path handles MMIO,
 * write tracking, page crossings and faults). */
static inline void *tlb_ptr(struct mmu *m, uint32_t lin, unsigned n, bool write)
{
    struct tlb_entry *e = mmu_tlb_entry(m, m->user, lin);
    uint32_t tag = write ? e->tag_write : e->tag_read;
    if (LIKELY(tag == (lin & PAGE_MASK) && mmu_fits_page(lin, n)))
        return (void *)(uintptr_t)(lin + e->addend);
    return NULL;
}

static __attribute__((noinline)) void mem_read_slow(struct cpu *cpu, uint32_t lin, uint8_t *b,
                                                    unsigned n)
{
    unsigned k = 0;
    for (; k + 4 <= n; k += 4) {
        uint32_t v = mmu_read32(cpu->mmu, lin + k);
        memcpy(b + k, &v, 4);
    }
    if (k + 2 <= n) {
        uint16_t v = mmu_read16(cpu->mmu, lin + k);
        memcpy(b + k, &v, 2);
    }
}

static inline __attribute__((always_inline)) void mem_read(struct cpu *cpu, int seg, uint32_t off,
                                                           void *buf, unsigned n)
{
    uint32_t lin = seg_lin(cpu, seg, off, n, false);
    void *p = tlb_ptr(cpu->mmu, lin, n, false);
    if (LIKELY(p))
        memcpy(buf, p, n);
    else
        mem_read_slow(cpu, lin, buf, n);
}

static inline uint64_t rd64(struct cpu *cpu, int seg, uint32_t off)
{
    uint64_t v;
    mem_read(cpu, seg, off, &v, 8);
    return v;
}

static __attribute__((noinline)) void mem_write_slow(struct cpu *cpu, uint32_t lin,
                                                     const uint8_t *b, unsigned n)
{
    /* Both pages must be writable before anything is written. */
    if ((lin ^ (lin + n - 1)) & PAGE_MASK)
        mmu_translate(cpu->mmu, lin + n - 1, MMU_WRITE, cpu->mmu->user);
    unsigned k = 0;
    for (; k + 4 <= n; k += 4) {
        uint32_t v;
        memcpy(&v, b + k, 4);
        mmu_write32(cpu->mmu, lin + k, v);
    }
    if (k + 2 <= n) {
        uint16_t v;
        memcpy(&v, b + k, 2);
        mmu_write16(cpu->mmu, lin + k, v);
    }
}

static inline __attribute__((always_inline)) void mem_write(struct cpu *cpu, int seg, uint32_t off,
                                                            const void *buf, unsigned n)
{
    uint32_t lin = seg_lin(cpu, seg, off, n, true);
    void *p = tlb_ptr(cpu->mmu, lin, n, true);
    if (LIKELY(p))
        memcpy(p, buf, n);
    else
        mem_write_slow(cpu, lin, buf, n);
}

/* ------------------------------------------------------------------------
 * Host execution with write-back
 * ------------------------------------------------------------------------ */

/*
 * Run `stub` with ST(0) and, when k == 2, ST(s) as its operands, planning
 * for the host stack to end `e` deep (net pushes e - k) and for the operands
 * in `wmask` (bit 0: ST(0), bit 1: ST(s)) to be the ones it modifies — the
 * shape of the instruction when no unmasked exception stops it.
 */
static inline __attribute__((always_inline)) void hx_run(struct fpu_state *f, unsigned stub,
                                                         unsigned k, unsigned s, void *mem,
                                                         unsigned e, unsigned wmask, struct hres *r)
{
    unsigned L[2] = {phys(f, 0), phys(f, s)};
    int p = (int)e - (int)k;
    struct fpu_reg *dst[2] = {NULL, NULL};
    for (int j = 0; j < (int)e; j++) {
        if (j < p)
            dst[j] = &f->r[(unsigned)(f->top - p + j) & 7];
        else if ((wmask >> (j - p)) & 1)
            dst[j] = &f->r[L[j - p]];
    }
    host_run(stub, st(f, 0), st(f, s), k, mem, f->cw, f->sw & f->cw & FPU_SW_EXC, -1, e, dst, r);
}

/* Account for the host's stack motion in the guest: host ST(j) after the
 * instruction is either a register the instruction pushed or one of the
 * operands it loaded (shifted by the pops); copy the values unless they
 * were stored in place. */
static inline void hx_commit(struct fpu_state *f, unsigned k, unsigned s, const struct hres *r,
                             uint16_t ccmask)
{
    unsigned L[2] = {phys(f, 0), phys(f, s)};
    int p = (int)r->depth - (int)k; /* net pushes */
    assert(r->depth <= k + 1);      /* no x87 instruction pushes twice */
    for (int j = 0; j < (int)r->depth; j++) {
        unsigned dst = j < p ? (unsigned)(f->top - p + j) & 7 : L[j - p];
        if (!r->direct) {
            f->r[dst].sig = r->out[j].sig;
            f->r[dst].se = r->out[j].se;
        }
        f->tag |= 1u << dst;
    }
    for (int j = 0; j < -p; j++)
        f->tag &= ~(1u << L[j]);
    f->top = (f->top - p) & 7;
    f->sw = (f->sw & ~ccmask) | (r->sw & ccmask) | (r->sw & FPU_SW_EXC);
    update_es(f);
}

static inline __attribute__((always_inline)) void hx(struct fpu_state *f, unsigned stub, unsigned k,
                                                     unsigned s, void *mem, unsigned e,
                                                     unsigned wmask, uint16_t ccmask)
{
    struct hres r;
    hx_run(f, stub, k, s, mem, e, wmask, &r);
    hx_commit(f, k, s, &r, ccmask);
}

/* As hx for ST(0), ST(1) with the result in ST(0) (FPREM, FPREM1), with the
 * guest's condition codes loaded into the host first and all four taken
 * back. */
static void hx_sync(struct fpu_state *f, unsigned stub)
{
    struct hres r;
    struct fpu_reg *dst[2] = {st(f, 0), NULL};
    host_run(stub, st(f, 0), st(f, 1), 2, NULL, f->cw, f->sw & f->cw & FPU_SW_EXC,
             f->sw & FPU_SW_CC, 2, dst, &r);
    hx_commit(f, 2, 1, &r, CC_ALL);
}

/* Register-form stub with ST(i) remapped to host ST(1) (ST(0) stays 0). */
static inline unsigned stub_rm(const struct insn *i)
{
    return STUB_REG(i->opcode & 7, (i->reg << 3) | (i->rm ? 1 : 0));
}

/* ------------------------------------------------------------------------
 * Instruction classes
 * ------------------------------------------------------------------------ */

/* FADD..FDIVR ST(0),ST(i) / ST(i),ST(0) / ...P: dest is ST(0) (D8) or ST(i). */
static void arith_reg(struct cpu *cpu, const struct insn *i, bool dest_sti, bool popping)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned s = i->rm;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, s))) {
        if (stack_fault(f, false)) {
            set_st(f, dest_sti ? s : 0, &INDEFINITE);
            if (popping) pop(f);
        }
        return;
    }
    if (UNLIKELY(popping && s == 0)) {
        /* FxxxP ST(0),ST(0): the result is written to ST(0) and then popped,
         * so the freed register keeps it (visible to FSAVE).  Run the D8
         * form and pop here, unless an unmasked exception stopped it. */
        struct hres r;
        hx_run(f, STUB_REG(0, i->reg << 3), 1, 0, NULL, 1, 1, &r);
        hx_commit(f, 1, 0, &r, CC_C1);
        if (!((r.sw & FPU_SW_ES) && (r.sw & ~f->cw & (FPU_SW_IE | FPU_SW_DE | FPU_SW_ZE)))) pop(f);
        return;
    }
    unsigned k = s ? 2 : 1;
    hx(f, stub_rm(i), k, s, NULL, popping ? k - 1 : k, dest_sti && s ? 2 : 1, CC_C1);
}

/* FCOM/FCOMP/FUCOM/FUCOMP ST(i), FCOMPP, FUCOMPP. */
static void compare_reg(struct cpu *cpu, const struct insn *i, unsigned s, unsigned pops,
                        unsigned stub)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, s))) {
        f->sw |= FPU_SW_C0 | FPU_SW_C2 | FPU_SW_C3;
        if (stack_fault(f, false))
            while (pops--)
                pop(f);
        return;
    }
    unsigned k = s ? 2 : 1;
    hx(f, stub, k, s, NULL, k - pops, 0, CC_ALL);
}

/* FCOMI/FUCOMI/FCOMIP/FUCOMIP: ZF, PF, CF from the compare; OF, SF, AF 0. */
static void comi(struct cpu *cpu, const struct insn *i, bool popping)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned s = i->rm;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, s))) {
        cpu_set_arith(cpu, FL_ARITH, FL_ZF | FL_PF | FL_CF); /* "unordered", masked or not */
        if (stack_fault(f, false) && popping) pop(f);
        return;
    }
    struct hres r;
    hx_run(f, stub_rm(i), s ? 2 : 1, s, NULL, (s ? 2 : 1) - popping, 0, &r);
    hx_commit(f, s ? 2 : 1, s, &r, 0); /* C1 is left alone, as the host does */
    /* Even an unmasked invalid or denormal operand sets the flags (the host
     * does, and skips the pop). */
    cpu_set_arith(cpu, FL_ARITH, r.eflags & (FL_ZF | FL_PF | FL_CF));
}

/* Memory-operand arithmetic/compare: D8 m32fp, DA m32int, DC m64fp, DE m16int. */
static void arith_mem(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned esc = i->opcode & 7;
    uint32_t ea = ea_of(cpu, i);
    uint64_t buf;
    switch (esc) {
    case 0:
    case 2:
        buf = rd32(cpu, i->seg, ea);
        break;
    case 4:
        buf = rd64(cpu, i->seg, ea);
        break;
    default:
        buf = rd16(cpu, i->seg, ea);
        break;
    }
    note_mem(cpu, i, ea);
    bool cmp = i->reg == 2 || i->reg == 3;
    if (UNLIKELY(is_empty(f, 0))) {
        if (cmp) f->sw |= FPU_SW_C0 | FPU_SW_C2 | FPU_SW_C3;
        if (stack_fault(f, false)) {
            if (!cmp)
                set_st(f, 0, &INDEFINITE);
            else if (i->reg == 3)
                pop(f);
        }
        return;
    }
    hx(f, STUB_MEM(esc, i->reg), 1, 0, &buf, i->reg == 3 ? 0 : 1, !cmp, cmp ? CC_ALL : CC_C1);
}

/* Exact conversions of the common formats (no exception possible). */
static inline bool load_m64_fast(uint64_t v, struct fpu_reg *r)
{
    unsigned e = (v >> 52) & 0x7ff;
    uint16_t sign = (uint16_t)((v >> 63) << 15);
    if (LIKELY(e != 0 && e != 0x7ff)) {
        r->sig = (1ull << 63) | (v & ((1ull << 52) - 1)) << 11;
        r->se = sign | (uint16_t)(e - 1023 + 16383);
        return true;
    }
    if (e == 0 && !(v & ((1ull << 52) - 1))) {
        r->sig = 0;
        r->se = sign;
        return true;
    }
    return false; /* denormal (#D), infinity, NaN (#I on SNaN): the host does it */
}
static inline bool load_m32_fast(uint32_t v, struct fpu_reg *r)
{
    unsigned e = (v >> 23) & 0xff;
    uint16_t sign = (uint16_t)((v >> 31) << 15);
    if (LIKELY(e != 0 && e != 0xff)) {
        r->sig = (1ull << 63) | (uint64_t)(v & 0x7fffff) << 40;
        r->se = sign | (uint16_t)(e - 127 + 16383);
        return true;
    }
    if (e == 0 && !(v & 0x7fffff)) {
        r->sig = 0;
        r->se = sign;
        return true;
    }
    return false;
}
static inline void load_int(int64_t v, struct fpu_reg *r)
{
    if (v == 0) {
        r->sig = 0;
        r->se = 0;
        return;
    }
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    unsigned lz = (unsigned)__builtin_clzll(m);
    r->sig = m << lz;
    r->se = (uint16_t)((v < 0 ? 0x8000 : 0) | (16383 + 63 - lz));
}

/* Push a value loaded from memory (or a constant). `fast` is the value if
 * it was converted in C; otherwise the host stub converts `mem`. */
static void load_push(struct cpu *cpu, const struct fpu_reg *fast, unsigned stub, void *mem)
{
    struct fpu_state *f = &cpu->fpu;
    if (UNLIKELY(!is_empty(f, 7))) {
        if (stack_fault(f, true)) push(f, &INDEFINITE);
        return;
    }
    if (fast) {
        f->sw &= ~FPU_SW_C1;
        push(f, fast);
        return;
    }
    hx(f, stub, 0, 0, mem, 1, 0, CC_C1);
}

/* FLD m32fp/m64fp/m80fp, FILD m16/m32/m64, FBLD. */
static void load_mem(struct cpu *cpu, const struct insn *i)
{
    unsigned esc = i->opcode & 7;
    uint32_t ea = ea_of(cpu, i);
    uint8_t buf[16];
    struct fpu_reg v;
    const struct fpu_reg *fast = NULL;
    switch (esc << 3 | i->reg) {
    case 1 << 3 | 0: { /* FLD m32fp */
        uint32_t x = rd32(cpu, i->seg, ea);
        memcpy(buf, &x, 4);
        if (load_m32_fast(x, &v)) fast = &v;
        break;
    }
    case 5 << 3 | 0: { /* FLD m64fp */
        uint64_t x = rd64(cpu, i->seg, ea);
        memcpy(buf, &x, 8);
        if (load_m64_fast(x, &v)) fast = &v;
        break;
    }
    case 3 << 3 | 5: /* FLD m80fp: a raw copy, no exception, whatever the encoding */
        mem_read(cpu, i->seg, ea, &v, 10);
        fast = &v;
        break;
    case 3 << 3 | 0: /* FILD m32int */
        load_int((int32_t)rd32(cpu, i->seg, ea), &v);
        fast = &v;
        break;
    case 7 << 3 | 0: /* FILD m16int */
        load_int((int16_t)rd16(cpu, i->seg, ea), &v);
        fast = &v;
        break;
    case 7 << 3 | 5: { /* FILD m64int */
        uint64_t x = rd64(cpu, i->seg, ea);
        load_int((int64_t)x, &v);
        fast = &v;
        break;
    }
    default: /* FBLD m80bcd */
        mem_read(cpu, i->seg, ea, buf, 10);
        break;
    }
    note_mem(cpu, i, ea);
    load_push(cpu, fast, STUB_MEM(esc, i->reg), buf);
}

/* Operand size of a store form (escape, reg). */
static unsigned store_size(unsigned esc, unsigned reg)
{
    switch (esc << 3 | reg) {
    case 1 << 3 | 2:
    case 1 << 3 | 3:
    case 3 << 3 | 2:
    case 3 << 3 | 3:
        return 4;
    case 5 << 3 | 2:
    case 5 << 3 | 3:
    case 7 << 3 | 7:
        return 8;
    case 7 << 3 | 2:
    case 7 << 3 | 3:
        return 2;
    default: /* FSTP m80fp, FBSTP */
        return 10;
    }
}

/* What a masked stack underflow stores: the QNaN indefinite of the format,
 * the integer indefinite (most negative value), or the BCD indefinite. */
static void indefinite_of(unsigned esc, unsigned reg, uint8_t *buf)
{
    static const uint8_t m32[4] = {0, 0, 0xc0, 0xff};
    static const uint8_t m64[8] = {0, 0, 0, 0, 0, 0, 0xf8, 0xff};
    static const uint8_t m80[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
    static const uint8_t bcd[10] = {0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff};
    memset(buf, 0, 10);
    switch (esc << 3 | reg) {
    case 1 << 3 | 2:
    case 1 << 3 | 3:
        memcpy(buf, m32, 4);
        break;
    case 5 << 3 | 2:
    case 5 << 3 | 3:
        memcpy(buf, m64, 8);
        break;
    case 3 << 3 | 7:
        memcpy(buf, m80, 10);
        break;
    case 7 << 3 | 6:
        memcpy(buf, bcd, 10);
        break;
    case 3 << 3 | 2:
    case 3 << 3 | 3:
        buf[3] = 0x80;
        break;
    case 7 << 3 | 2:
    case 7 << 3 | 3:
        buf[1] = 0x80;
        break;
    default: /* FISTP m64int */
        buf[7] = 0x80;
        break;
    }
}

/* FST/FSTP m32fp/m64fp/m80fp, FIST/FISTP m16/m32/m64, FBSTP. */
static void store_mem(struct cpu *cpu, const struct insn *i, bool popping)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned esc = i->opcode & 7, n = store_size(esc, i->reg);
    uint32_t ea = ea_of(cpu, i);
    uint8_t buf[16];
    if (UNLIKELY(is_empty(f, 0))) {
        if (f->cw & FPU_CW_IM) {
            indefinite_of(esc, i->reg, buf);
            mem_write(cpu, i->seg, ea, buf, n);
        }
        note_mem(cpu, i, ea);
        if (stack_fault(f, false) && popping) pop(f);
        return;
    }
    if (esc == 3 && i->reg == 7) { /* FSTP m80fp: a raw copy */
        mem_write(cpu, i->seg, ea, st(f, 0), 10);
        note_mem(cpu, i, ea);
        f->sw &= ~FPU_SW_C1;
        pop(f);
        return;
    }
    struct hres r;
    hx_run(f, STUB_MEM(esc, i->reg), 1, 0, buf, !popping, 0, &r);
    /* With an unmasked invalid, overflow or underflow the host stored
     * nothing (and did not pop); an unmasked inexact still stores. */
    bool stored = !((r.sw & FPU_SW_ES) &&
                    (r.sw & ~f->cw & (FPU_SW_IE | FPU_SW_DE | FPU_SW_ZE | FPU_SW_OE | FPU_SW_UE)));
    if (stored) mem_write(cpu, i->seg, ea, buf, n);
    note_mem(cpu, i, ea);
    hx_commit(f, 1, 0, &r, CC_C1);
}

/* FST/FSTP ST(i) (incl. the FSTP1/8/9 aliases): a register copy. */
static void store_reg(struct cpu *cpu, const struct insn *i, bool popping)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0))) {
        if (stack_fault(f, false)) {
            set_st(f, i->rm, &INDEFINITE);
            if (popping) pop(f);
        }
        return;
    }
    f->sw &= ~FPU_SW_C1;
    set_st(f, i->rm, st(f, 0));
    if (popping) pop(f);
}

static void fld_sti(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    /* An empty source is reported (as underflow) before a full stack. */
    if (UNLIKELY(is_empty(f, i->rm) || !is_empty(f, 7))) {
        if (stack_fault(f, !is_empty(f, i->rm))) push(f, &INDEFINITE);
        return;
    }
    struct fpu_reg v = *st(f, i->rm);
    f->sw &= ~FPU_SW_C1;
    push(f, &v);
}

static void fxch(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned s = i->rm;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, s))) {
        if (!stack_fault(f, false)) return;
        if (is_empty(f, 0)) set_st(f, 0, &INDEFINITE);
        if (is_empty(f, s)) set_st(f, s, &INDEFINITE);
    } else {
        f->sw &= ~FPU_SW_C1;
    }
    struct fpu_reg a = *st(f, 0);
    set_st(f, 0, st(f, s));
    set_st(f, s, &a);
}

static void fcmov(struct cpu *cpu, const struct insn *i, unsigned cc)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, i->rm))) {
        if (stack_fault(f, false)) set_st(f, 0, &INDEFINITE);
        return;
    }
    if (cond_eval(cpu, cc)) set_st(f, 0, st(f, i->rm));
}

/* D9 E0-FF with one operand (ST(0)) or two (ST(0), ST(1)). */
static void unary(struct cpu *cpu, const struct insn *i, uint16_t ccmask)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0))) {
        f->sw &= ~(ccmask & FPU_SW_C2); /* "C2 = 0: reduction complete" */
        if (stack_fault(f, false)) set_st(f, 0, &INDEFINITE);
        return;
    }
    hx(f, STUB_REG(1, 0x20 | (i->reg & 3) << 3 | i->rm), 1, 0, NULL, 1, 1, ccmask);
}

/* FSCALE, FPREM, FPREM1 (result in ST(0)); FYL2X, FYL2XP1, FPATAN (result
 * in ST(1), then pop). */
static void binary01(struct cpu *cpu, const struct insn *i, bool popping, uint16_t ccmask)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (UNLIKELY(is_empty(f, 0) || is_empty(f, 1))) {
        f->sw &= ~(ccmask & FPU_SW_C2);
        if (stack_fault(f, false)) {
            set_st(f, popping ? 1 : 0, &INDEFINITE);
            if (popping) pop(f);
        }
        return;
    }
    unsigned stub = STUB_REG(1, 0x20 | (i->reg & 3) << 3 | i->rm);
    if (ccmask == CC_ALL) /* FPREM/FPREM1 leave the codes alone for NaN operands */
        hx_sync(f, stub);
    else
        hx(f, stub, 2, 1, NULL, popping ? 1 : 2, popping ? 2 : 1, ccmask);
}

/* FPTAN, FSINCOS, FXTRACT: replace ST(0) and push a second result. */
static void unary_push(struct cpu *cpu, const struct insn *i, uint16_t ccmask)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    bool under = is_empty(f, 0);
    if (UNLIKELY(under || !is_empty(f, 7))) {
        f->sw &= ~(ccmask & FPU_SW_C2);
        if (stack_fault(f, !under)) {
            set_st(f, 0, &INDEFINITE);
            push(f, &INDEFINITE);
        }
        return;
    }
    hx(f, STUB_REG(1, 0x20 | (i->reg & 3) << 3 | i->rm), 1, 0, NULL, 2, 1, ccmask);
}

/* FXAM: classifies even an empty register (C3,C0 = 1,1; C1 = its sign). */
static void fxam(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    note(cpu, i);
    if (is_empty(f, 0)) {
        uint16_t c1 = (st(f, 0)->se & 0x8000) ? FPU_SW_C1 : 0;
        f->sw = (f->sw & ~CC_ALL) | FPU_SW_C3 | FPU_SW_C0 | c1;
        return;
    }
    hx(f, STUB_REG(1, 0x25), 1, 0, NULL, 1, 0, CC_ALL);
}

/* ------------------------------------------------------------------------
 * Environment, save images, control
 * ------------------------------------------------------------------------ */
static inline bool real_format(const struct cpu *cpu)
{
    return !cpu_pm(cpu) || cpu_v86(cpu);
}

/* Build the 14/28-byte environment image (SDM Vol. 1 figs. 8-9..8-12). */
static unsigned env_image(struct cpu *cpu, unsigned opsize, uint8_t *b)
{
    struct fpu_state *f = &cpu->fpu;
    uint16_t cw = f->cw, sw = fpu_get_sw(f), tw = fpu_get_tw(f);
    bool real = real_format(cpu);
    uint32_t ip = f->fip, dp = f->fdp, op = f->fop & 0x7ff;
    if (real) { /* the real-mode images hold 20/32-bit linear pointers */
        ip += (uint32_t)f->fcs << 4;
        dp += (uint32_t)f->fds << 4;
    }
    if (opsize == 4) {
        uint32_t d[7];
        d[0] = 0xffff0000u | cw;
        d[1] = 0xffff0000u | sw;
        d[2] = 0xffff0000u | tw;
        if (real) {
            d[3] = 0xffff0000u | (ip & 0xffff);
            d[4] = (ip >> 16) << 12 | op;
            d[5] = 0xffff0000u | (dp & 0xffff);
            d[6] = (dp >> 16) << 12;
        } else {
            d[3] = ip;
            d[4] = op << 16 | f->fcs;
            d[5] = dp;
            d[6] = 0xffff0000u | f->fds;
        }
        memcpy(b, d, 28);
        return 28;
    }
    uint16_t w[7] = {cw, sw, tw};
    if (real) {
        w[3] = (uint16_t)ip;
        w[4] = (uint16_t)(((ip >> 16) & 0xf) << 12 | op);
        w[5] = (uint16_t)dp;
        w[6] = (uint16_t)(((dp >> 16) & 0xf) << 12);
    } else {
        w[3] = (uint16_t)ip;
        w[4] = f->fcs;
        w[5] = (uint16_t)dp;
        w[6] = f->fds;
    }
    memcpy(b, w, 14);
    return 14;
}

static void env_load(struct cpu *cpu, unsigned opsize, const uint8_t *b)
{
    struct fpu_state *f = &cpu->fpu;
    bool real = real_format(cpu);
    uint16_t cw, sw, tw;
    if (opsize == 4) {
        uint32_t d[7];
        memcpy(d, b, 28);
        cw = (uint16_t)d[0];
        sw = (uint16_t)d[1];
        tw = (uint16_t)d[2];
        if (real) {
            f->fip = (d[3] & 0xffff) | ((d[4] >> 12) & 0xffff) << 16;
            f->fop = d[4] & 0x7ff;
            f->fdp = (d[5] & 0xffff) | ((d[6] >> 12) & 0xffff) << 16;
            f->fcs = f->fds = 0;
        } else {
            f->fip = d[3];
            f->fcs = (uint16_t)d[4];
            f->fop = (d[4] >> 16) & 0x7ff;
            f->fdp = d[5];
            f->fds = (uint16_t)d[6];
        }
    } else {
        uint16_t w[7];
        memcpy(w, b, 14);
        cw = w[0];
        sw = w[1];
        tw = w[2];
        if (real) {
            f->fip = w[3] | (uint32_t)(w[4] >> 12) << 16;
            f->fop = w[4] & 0x7ff;
            f->fdp = w[5] | (uint32_t)(w[6] >> 12) << 16;
            f->fcs = f->fds = 0;
        } else {
            f->fip = w[3];
            f->fcs = w[4];
            f->fdp = w[5];
            f->fds = w[6];
        }
    }
    set_cw(f, cw);
    f->top = (sw >> 11) & 7;
    f->sw = sw & ~(FPU_SW_TOP | FPU_SW_B);
    set_tw(f, tw);
    update_es(f);
}

static void fnstenv(struct cpu *cpu, const struct insn *i, bool save)
{
    struct fpu_state *f = &cpu->fpu;
    uint32_t ea = ea_of(cpu, i);
    uint8_t b[108];
    unsigned n = env_image(cpu, i->opsize, b);
    if (save) {
        for (unsigned k = 0; k < 8; k++)
            memcpy(b + n + 10 * k, st(f, k), 10);
        n += 80;
    }
    mem_write(cpu, i->seg, ea, b, n);
    if (save)
        finit(f);
    else
        f->cw |= CW_MASKS; /* FNSTENV leaves every exception masked */
    update_es(f);
}

static void fldenv(struct cpu *cpu, const struct insn *i, bool restore)
{
    struct fpu_state *f = &cpu->fpu;
    uint32_t ea = ea_of(cpu, i);
    uint8_t b[108];
    unsigned n = i->opsize == 4 ? 28 : 14;
    mem_read(cpu, i->seg, ea, b, n + (restore ? 80 : 0));
    env_load(cpu, i->opsize, b);
    if (restore)
        for (unsigned k = 0; k < 8; k++) {
            struct fpu_reg *r = st(f, k);
            memcpy(r, b + n + 10 * k, 10);
        }
}

/* ------------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------------ */
static inline __attribute__((always_inline)) void exec_mem(struct cpu *cpu, const struct insn *i,
                                                           unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    if (!(esc & 1)) { /* D8, DA, DC, DE: arithmetic and compares, m32fp/m32int/m64fp/m16int */
        check_pending(cpu);
        arith_mem(cpu, i);
        return;
    }
    switch (esc << 3 | i->reg) {
    /* loads */
    case 1 << 3 | 0:
    case 3 << 3 | 0:
    case 3 << 3 | 5:
    case 5 << 3 | 0:
    case 7 << 3 | 0:
    case 7 << 3 | 4:
    case 7 << 3 | 5:
        check_pending(cpu);
        load_mem(cpu, i);
        return;
    /* stores */
    case 1 << 3 | 2:
    case 3 << 3 | 2:
    case 5 << 3 | 2:
    case 7 << 3 | 2:
        check_pending(cpu);
        store_mem(cpu, i, false);
        return;
    case 1 << 3 | 3:
    case 3 << 3 | 3:
    case 3 << 3 | 7:
    case 5 << 3 | 3:
    case 7 << 3 | 3:
    case 7 << 3 | 6:
    case 7 << 3 | 7:
        check_pending(cpu);
        store_mem(cpu, i, true);
        return;
    case 1 << 3 | 4: /* FLDENV */
        check_pending(cpu);
        fldenv(cpu, i, false);
        return;
    case 1 << 3 | 5: /* FLDCW */
        check_pending(cpu);
        set_cw(f, rd16(cpu, i->seg, ea_of(cpu, i)));
        update_es(f);
        return;
    case 1 << 3 | 6: /* FNSTENV */
        fnstenv(cpu, i, false);
        return;
    case 1 << 3 | 7: /* FNSTCW */
        wr16(cpu, i->seg, ea_of(cpu, i), f->cw);
        return;
    case 5 << 3 | 4: /* FRSTOR */
        check_pending(cpu);
        fldenv(cpu, i, true);
        return;
    case 5 << 3 | 6: /* FNSAVE */
        fnstenv(cpu, i, true);
        return;
    case 5 << 3 | 7: /* FNSTSW m16 */
        wr16(cpu, i->seg, ea_of(cpu, i), fpu_get_sw(f));
        return;
    default: /* FISTTP (SSE3) and the unassigned slots */
        cpu_fault(cpu, EXC_UD, 0);
    }
}

static inline __attribute__((always_inline)) void exec_reg(struct cpu *cpu, const struct insn *i,
                                                           unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned reg = i->reg, rm = i->rm;
    switch (esc) {
    case 0: /* D8: ST(0) op= ST(i) */
        check_pending(cpu);
        if (reg == 2 || reg == 3)
            compare_reg(cpu, i, rm, reg == 3, stub_rm(i));
        else
            arith_reg(cpu, i, false, false);
        return;
    case 4: /* DC: ST(i) op= ST(0); /2 /3 are FCOM/FCOMP aliases */
        check_pending(cpu);
        if (reg == 2 || reg == 3)
            compare_reg(cpu, i, rm, reg == 3, STUB_REG(0, (reg << 3) | (rm ? 1 : 0)));
        else
            arith_reg(cpu, i, true, false);
        return;
    case 6: /* DE: ...P forms; /2 FCOMP alias, D9 FCOMPP */
        if (reg == 3 && rm != 1) break;
        check_pending(cpu);
        if (reg == 2)
            compare_reg(cpu, i, rm, 1, STUB_REG(0, 0x18 | (rm ? 1 : 0)));
        else if (reg == 3)
            compare_reg(cpu, i, 1, 2, STUB_REG(6, 0x19));
        else
            arith_reg(cpu, i, true, true);
        return;
    case 1:
        switch (reg) {
        case 0:
            check_pending(cpu);
            fld_sti(cpu, i);
            return;
        case 1:
            check_pending(cpu);
            fxch(cpu, i);
            return;
        case 2:
            if (rm != 0) break;
            check_pending(cpu); /* FNOP */
            note(cpu, i);
            return;
        case 3: /* FSTP1 alias: no stack-fault check — an empty ST(0) is just
                 * popped, leaving ST(i) alone (as the host does) */
            check_pending(cpu);
            if (is_empty(f, 0)) {
                note(cpu, i);
                f->sw &= ~FPU_SW_C1;
                pop(f);
            } else {
                store_reg(cpu, i, true);
            }
            return;
        case 4:
            if (rm == 2 || rm == 3 || rm > 5) break;
            check_pending(cpu);
            if (rm <= 1) { /* FCHS, FABS: sign-bit operations, no exception */
                note(cpu, i);
                if (UNLIKELY(is_empty(f, 0))) {
                    if (stack_fault(f, false)) set_st(f, 0, &INDEFINITE);
                    return;
                }
                f->sw &= ~FPU_SW_C1;
                if (rm == 0)
                    st(f, 0)->se ^= 0x8000;
                else
                    st(f, 0)->se &= 0x7fff;
            } else if (rm == 4) { /* FTST */
                note(cpu, i);
                if (UNLIKELY(is_empty(f, 0))) {
                    f->sw |= FPU_SW_C0 | FPU_SW_C2 | FPU_SW_C3;
                    stack_fault(f, false);
                    return;
                }
                hx(f, STUB_REG(1, 0x24), 1, 0, NULL, 1, 0, CC_ALL);
            } else {
                fxam(cpu, i);
            }
            return;
        case 5: { /* constants */
            if (rm == 7) break;
            check_pending(cpu);
            note(cpu, i);
            struct fpu_reg c;
            if (rm == 0 || rm == 6) { /* FLD1, FLDZ: exact in any rounding mode */
                c.sig = rm == 0 ? 1ull << 63 : 0;
                c.se = rm == 0 ? 16383 : 0;
                load_push(cpu, &c, 0, NULL);
            } else {
                load_push(cpu, NULL, STUB_REG(1, 0x28 | rm), NULL);
            }
            return;
        }
        case 6:
            check_pending(cpu);
            switch (rm) {
            case 0: /* F2XM1 */
                unary(cpu, i, CC_C1);
                return;
            case 1: /* FYL2X */
            case 3: /* FPATAN */
                binary01(cpu, i, true, CC_C1);
                return;
            case 2: /* FPTAN */
                unary_push(cpu, i, CC_C12);
                return;
            case 4: /* FXTRACT */
                unary_push(cpu, i, CC_C1);
                return;
            case 5: /* FPREM1 */
                binary01(cpu, i, false, CC_ALL);
                return;
            case 6: /* FDECSTP */
            case 7: /* FINCSTP */
                note(cpu, i);
                f->top = (f->top + (rm == 6 ? 7 : 1)) & 7;
                f->sw &= ~FPU_SW_C1;
                return;
            }
            return;
        case 7:
            check_pending(cpu);
            switch (rm) {
            case 0: /* FPREM */
                binary01(cpu, i, false, CC_ALL);
                return;
            case 1: /* FYL2XP1 */
                binary01(cpu, i, true, CC_C1);
                return;
            case 2: /* FSQRT */
            case 4: /* FRNDINT */
                unary(cpu, i, CC_C1);
                return;
            case 3: /* FSINCOS */
                unary_push(cpu, i, CC_C12);
                return;
            case 5: /* FSCALE */
                binary01(cpu, i, false, CC_C1);
                return;
            default: /* FSIN, FCOS */
                unary(cpu, i, CC_C12);
                return;
            }
        }
        break;
    case 2: /* DA: FCMOVB/E/BE/U, FUCOMPP */
        if (reg < 4) {
            static const uint8_t cc[4] = {0x2, 0x4, 0x6, 0xa};
            check_pending(cpu);
            fcmov(cpu, i, cc[reg]);
            return;
        }
        if (reg == 5 && rm == 1) {
            check_pending(cpu);
            compare_reg(cpu, i, 1, 2, STUB_REG(2, 0x29));
            return;
        }
        break;
    case 3: /* DB: FCMOVNB/NE/NBE/NU, control, FUCOMI, FCOMI */
        if (reg < 4) {
            static const uint8_t cc[4] = {0x3, 0x5, 0x7, 0xb};
            check_pending(cpu);
            fcmov(cpu, i, cc[reg]);
            return;
        }
        if (reg == 4) {
            switch (rm) {
            case 0: /* FNENI, FNDISI, FNSETPM: 8087/287 leftovers, no-ops */
            case 1:
            case 4:
                return;
            case 2: /* FNCLEX */
                f->sw &= ~(FPU_SW_EXC | FPU_SW_SF | FPU_SW_ES);
                update_es(f);
                return;
            case 3: /* FNINIT */
                finit(f);
                return;
            }
            break;
        }
        if (reg == 5 || reg == 6) {
            check_pending(cpu);
            comi(cpu, i, false);
            return;
        }
        break;
    case 5: /* DD */
        switch (reg) {
        case 0: /* FFREE */
            check_pending(cpu);
            note(cpu, i);
            f->tag &= ~(1u << phys(f, rm));
            f->sw &= ~FPU_SW_C1;
            return;
        case 1: /* FXCH4 alias */
            check_pending(cpu);
            fxch(cpu, i);
            return;
        case 2:
        case 3:
            check_pending(cpu);
            store_reg(cpu, i, reg == 3);
            return;
        case 4: /* FUCOM */
        case 5: /* FUCOMP */
            check_pending(cpu);
            compare_reg(cpu, i, rm, reg == 5, stub_rm(i));
            return;
        }
        break;
    case 7: /* DF */
        switch (reg) {
        case 0: /* FFREEP */
            check_pending(cpu);
            note(cpu, i);
            f->tag &= ~(1u << phys(f, rm));
            f->sw &= ~FPU_SW_C1;
            pop(f);
            return;
        case 1: /* FXCH7 alias */
            check_pending(cpu);
            fxch(cpu, i);
            return;
        case 2: /* FSTP8, FSTP9 aliases */
        case 3:
            check_pending(cpu);
            store_reg(cpu, i, true);
            return;
        case 4:
            if (rm != 0) break;
            R16(cpu, R_EAX) = fpu_get_sw(f); /* FNSTSW AX */
            return;
        case 5: /* FUCOMIP */
        case 6: /* FCOMIP */
            check_pending(cpu);
            comi(cpu, i, true);
            return;
        }
        break;
    }
    cpu_fault(cpu, EXC_UD, 0);
}

/* One register-form and one memory-form handler per escape byte, so the
 * opcode table dispatches straight to a small switch. */
#define X87_ESC(n)                                                                                 \
    static void x87_reg_##n(struct cpu *cpu, const struct insn *i)                                 \
    {                                                                                              \
        if (UNLIKELY(cpu->cr0 & (CR0_EM | CR0_TS))) cpu_fault(cpu, EXC_NM, 0);                     \
        exec_reg(cpu, i, n);                                                                       \
    }                                                                                              \
    static void x87_mem_##n(struct cpu *cpu, const struct insn *i)                                 \
    {                                                                                              \
        if (UNLIKELY(cpu->cr0 & (CR0_EM | CR0_TS))) cpu_fault(cpu, EXC_NM, 0);                     \
        exec_mem(cpu, i, n);                                                                       \
    }
X87_ESC(0)
X87_ESC(1)
X87_ESC(2)
X87_ESC(3)
X87_ESC(4)
X87_ESC(5)
X87_ESC(6)
X87_ESC(7)

    static const insn_fn x87_handlers[8][2] = {
        {x87_reg_0, x87_mem_0}, {x87_reg_1, x87_mem_1}, {x87_reg_2, x87_mem_2},
        {x87_reg_3, x87_mem_3}, {x87_reg_4, x87_mem_4}, {x87_reg_5, x87_mem_5},
        {x87_reg_6, x87_mem_6}, {x87_reg_7, x87_mem_7},
};

void op_fpu(struct cpu *cpu, const struct insn *i)
{
    /* CR0.EM: no FPU, every escape traps for emulation; CR0.TS: the task's
     * FPU state is elsewhere (lazy switching). */
    if (UNLIKELY(cpu->cr0 & (CR0_EM | CR0_TS))) cpu_fault(cpu, EXC_NM, 0);
    x87_handlers[i->opcode & 7][i->mod != 3](cpu, i);
}

void op_fpu_wait(struct cpu *cpu, const struct insn *i)
{
    if ((cpu->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) cpu_fault(cpu, EXC_NM, 0);
    check_pending(cpu);
}

/* FXSAVE/FXRSTOR, x87 part (SDM Vol. 1 §10.5.1 Table 10-2, 32-bit layout).
 * No XMM state exists yet: the XMM area is neither written nor read; MXCSR
 * is kept as storage so an OS that saves and restores it round-trips. */
#define MXCSR_MASK 0x0000ffbfu

static uint32_t fx_check(struct cpu *cpu, const struct insn *i, bool write)
{
    if (cpu->cr0 & (CR0_EM | CR0_TS)) cpu_fault(cpu, EXC_NM, 0);
    uint32_t ea = ea_of(cpu, i);
    if ((cpu->seg[i->seg].base + ea) & 15) cpu_fault(cpu, EXC_GP, 0);
    seg_lin(cpu, i->seg, ea, 512, write);
    return ea;
}

void op_fxsave(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    uint32_t ea = fx_check(cpu, i, true);
    uint8_t b[160];
    memset(b, 0, sizeof b);
    uint16_t w[4] = {f->cw, fpu_get_sw(f), f->tag, f->fop & 0x7ff};
    memcpy(b, w, 8);
    uint32_t d[6] = {f->fip, f->fcs, f->fdp, f->fds, f->mxcsr, MXCSR_MASK};
    memcpy(b + 8, d, 24);
    for (unsigned k = 0; k < 8; k++)
        memcpy(b + 32 + 16 * k, st(f, k), 10);
    mem_write(cpu, i->seg, ea, b, sizeof b);
}

void op_fxrstor(struct cpu *cpu, const struct insn *i)
{
    struct fpu_state *f = &cpu->fpu;
    uint32_t ea = fx_check(cpu, i, false);
    uint8_t b[160];
    mem_read(cpu, i->seg, ea, b, sizeof b);
    uint16_t w[4];
    uint32_t d[6];
    memcpy(w, b, 8);
    memcpy(d, b + 8, 24);
    if (d[4] & ~MXCSR_MASK) cpu_fault(cpu, EXC_GP, 0);
    set_cw(f, w[0]);
    f->top = (w[1] >> 11) & 7;
    f->sw = w[1] & ~(FPU_SW_TOP | FPU_SW_B);
    f->tag = (uint8_t)w[2];
    f->fop = w[3] & 0x7ff;
    f->fip = d[0];
    f->fcs = (uint16_t)d[1];
    f->fdp = d[2];
    f->fds = (uint16_t)d[3];
    f->mxcsr = d[4];
    for (unsigned k = 0; k < 8; k++)
        memcpy(&f->r[phys(f, k)], b + 32 + 16 * k, 10);
    update_es(f);
}

/* Handler sets for the opcode table (cpu/opcodes.def rows name them).  The
 * register forms of 0F AE /0 /1 are not FXSAVE/FXRSTOR: #UD. */
HSET(x87_d8, x87_reg_0, x87_reg_0, x87_mem_0, x87_mem_0);
HSET(x87_d9, x87_reg_1, x87_reg_1, x87_mem_1, x87_mem_1);
HSET(x87_da, x87_reg_2, x87_reg_2, x87_mem_2, x87_mem_2);
HSET(x87_db, x87_reg_3, x87_reg_3, x87_mem_3, x87_mem_3);
HSET(x87_dc, x87_reg_4, x87_reg_4, x87_mem_4, x87_mem_4);
HSET(x87_dd, x87_reg_5, x87_reg_5, x87_mem_5, x87_mem_5);
HSET(x87_de, x87_reg_6, x87_reg_6, x87_mem_6, x87_mem_6);
HSET(x87_df, x87_reg_7, x87_reg_7, x87_mem_7, x87_mem_7);
HSET(x87_wait, op_fpu_wait, op_fpu_wait, NULL, NULL);
HSET(x87_fxsave, op_ud, op_ud, op_fxsave, op_fxsave);
HSET(x87_fxrstor, op_ud, op_ud, op_fxrstor, op_fxrstor);
