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
 * Design choice — the host x87 *is* the guest's x87 while guest x87 code
 * runs.  The host is an x86-64 with a real x87 whose arithmetic is the same
 * IEEE/x87 arithmetic a P6 has: same 80-bit format, precision and rounding
 * control, exception detection, NaN propagation, stack faults, tags,
 * pseudo-denormal/unnormal handling and integer/BCD conversions.  So the
 * guest's registers, TOP, tags and condition codes are loaded into the host
 * x87 once (FRSTOR, lazily, at the first x87 instruction after they were
 * last in memory) and stay there: every computational guest instruction is
 * then executed as *the same instruction* on the host, from a table of host
 * stubs (one per register-form encoding D8-DF C0-FF, and one per memory
 * form with the operand at [RAX], pointing straight into guest RAM when the
 * soft TLB maps it), with no per-instruction load or store of the state.
 * Pushes, pops, stack overflow/underflow and their masked responses, tags,
 * TOP and every condition code come from the hardware.
 *
 * THE INVARIANT (struct fpu_state.resident):
 *  - Resident only inside cpu_run: cpu_run calls fpu_sync before it returns,
 *    so outside the CPU loop (device timers, frontends, monitor, state save,
 *    another machine's CPU) struct fpu_state is the whole state and the host
 *    x87 is back in its C ABI state (empty stack, control word 037F).  At
 *    most one fpu_state is resident per host thread.
 *  - While resident, the host holds R0-R7, TOP, the tags, C0-C3 and the
 *    exception flags raised since loading; f->sw holds the flags moved out
 *    of the host (and ES); f->cw is current and equals the host control
 *    word; the last-instruction pointers are kept in C as always.
 *  - The host never holds an exception flag the guest control word leaves
 *    unmasked (so host ES is clear and no host instruction can trap): with
 *    every exception masked (the C runtime default, and what Linux guests
 *    run with) nothing is checked per instruction; otherwise FNSTSW after
 *    each instruction moves the flags into f->sw when the host set ES, and
 *    update_es computes the guest's ES/FERR# there — so check_pending,
 *    which raises #MF (CR0.NE=1) or asserts FERR# at the next waiting
 *    instruction, looks at f->sw only.  FLDCW moves newly unmasked flags
 *    out before loading the host control word.
 *  - Everything that needs the architectural image (FNSAVE, FNSTENV,
 *    FXSAVE, FLDENV, FRSTOR, FXRSTOR, FNCLEX, FNINIT, reset, op_fpu for the
 *    tests) calls fpu_sync first and works on struct fpu_state in C;
 *    FNSTSW and FNSTCW read the host status word and f->cw directly.
 *  - Every guest fault an x87 instruction can take (#NM, #MF, #UD, #GP,
 *    #SS, #PF on its operand — a store checks both pages first) is raised
 *    before the host instruction runs, so exceptions stay precise.
 *  - The emulator's C code that can run between two guest x87 instructions
 *    (the CPU core, the MMU, device port/MMIO callbacks and their backends,
 *    interrupt and exception delivery) never uses the x87: x86-64 C does
 *    float and double in SSE, and Umbra has no `long double` and calls no
 *    libm (grep before adding any; such code must fpu_sync first).  Signal
 *    handlers get a fresh x87 from the kernel and give ours back.
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
 * tests/unit/test_fpu.c checks every form against the host executing the
 * same instruction on the same full FPU state, and sequences run through
 * cpu_run (state kept resident across instructions) against the same
 * sequence run natively.
 */
#include "cpu/fpu.h"

#include "cpu/ops.h"

#ifndef __x86_64__
#error "the x87 model executes on the host's x87: build for an x86-64 host"
#endif

#define CW_MASKS FPU_SW_EXC
#define SW_FLAGS (FPU_SW_EXC | FPU_SW_SF) /* sticky until FNCLEX/FNINIT/FLDENV */

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


#define STUB_REG(esc, modrm) ((unsigned)(esc) << 6 | ((modrm)&0x3f))
#define STUB_MEM(esc, reg) (512u + ((unsigned)(esc) << 3) + (reg))

static inline const char *stub_code(unsigned stub)
{
    return umbra_x87_stubs + (size_t)stub * 16;
}

/* Run host stub `stub` on the resident state, memory operand at `mem`. */
static inline __attribute__((always_inline)) void host_exec(unsigned stub, void *mem)
{
    __asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
                     "jmp *%1\n"
                     "1:"
                     :
                     : "a"(mem), "r"(stub_code(stub))
                     : "r11", "memory", "cc");
}

/* The same for FCOMI and friends: the LAHF image of the EFLAGS they set. */
static inline __attribute__((always_inline)) uint8_t host_exec_lahf(unsigned stub)
{
    uint32_t ax;
    __asm__ volatile("leaq 1f(%%rip), %%r11\n\t"
                     "jmp *%1\n"
                     "1:\n\t"
                     "lahf"
                     : "=a"(ax)
                     : "r"(stub_code(stub))
                     : "r11", "memory", "cc");
    return (uint8_t)(ax >> 8);
}

/* The same with ZF = z going in (FCMOVE: the guest condition, evaluated in C). */
static inline __attribute__((always_inline)) void host_exec_zf(unsigned stub, bool z)
{
    __asm__ volatile("cmpl $1, %0\n\t"
                     "leaq 1f(%%rip), %%r11\n\t"
                     "jmp *%1\n"
                     "1:"
                     :
                     : "r"((uint32_t)z), "r"(stub_code(stub))
                     : "r11", "memory", "cc");
}

static inline uint16_t host_sw(void)
{
    uint16_t sw;
    __asm__ volatile("fnstsw %0" : "=a"(sw));
    return sw;
}

/* ------------------------------------------------------------------------
 * State helpers
 * ------------------------------------------------------------------------ */
static inline unsigned phys(const struct fpu_state *f, unsigned i)
{
    return (f->top + i) & 7;
}
static inline struct fpu_reg *st(struct fpu_state *f, unsigned i)
{
    return &f->r[phys(f, i)];
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
    if (f->resident) { /* give the host x87 back without writing anything */
        __asm__ volatile("fninit");
        f->resident = false;
    }
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
    /* In the middle of a block EIP is lazy (exec.c): derive it here rather
     * than have every x87 instruction dispatched through sync_call. */
    if (cpu->cur_insn) cpu_sync_insn_eip(cpu);
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
 * The resident state (see the invariant at the top)
 * ------------------------------------------------------------------------ */

/* The FNSAVE/FRSTOR image, 32-bit protected-mode layout. */
struct save_img {
    uint32_t cw, sw, tw, fip, fcs_op, fdp, fds;
    uint8_t st[80];
};

static __attribute__((noinline)) void make_resident(struct fpu_state *f)
{
    struct save_img m;
    memset(&m, 0, sizeof m);
    m.cw = f->cw;
    /* The flags stay in f->sw: the host starts with none, so it holds no
     * unmasked one. */
    m.sw = (f->sw & FPU_SW_CC) | (uint32_t)f->top << 11;
    m.tw = fpu_get_tw(f);
    for (unsigned k = 0; k < 8; k++)
        memcpy(m.st + 10 * k, st(f, k), 10);
    __asm__ volatile("frstor %0" ::"m"(m));
    f->sw &= SW_FLAGS | FPU_SW_ES;
    f->resident = true;
}

static inline __attribute__((always_inline)) void ensure_resident(struct fpu_state *f)
{
    if (UNLIKELY(!f->resident)) make_resident(f);
}

void fpu_sync(struct fpu_state *f)
{
    if (!f->resident) return;
    struct save_img m;
    __asm__ volatile("fnsave %0" : "=m"(m)); /* also FNINITs the host: C's state again */
    f->resident = false;
    f->top = (m.sw >> 11) & 7;
    f->sw = (f->sw & (SW_FLAGS | FPU_SW_ES)) | (m.sw & (FPU_SW_CC | SW_FLAGS));
    set_tw(f, (uint16_t)m.tw);
    for (unsigned k = 0; k < 8; k++)
        memcpy(st(f, k), m.st + 10 * k, 10);
    update_es(f);
}

/* Move the host's flags into f->sw and clear them there, keeping the
 * condition codes and TOP (which FNCLEX would leave undefined). */
static void host_flags_out(struct fpu_state *f, uint16_t hsw)
{
    uint32_t env[7];
    f->sw |= hsw & SW_FLAGS;
    __asm__ volatile("fnstenv %0" : "=m"(env));
    env[1] &= ~(uint32_t)(SW_FLAGS | FPU_SW_ES | FPU_SW_B);
    __asm__ volatile("fldenv %0" ::"m"(env)); /* and the control word from before FNSTENV */
    update_es(f);
}

static __attribute__((noinline)) void take_unmasked(struct fpu_state *f, uint16_t hsw)
{
    host_flags_out(f, hsw);
}

/* After a host instruction: if the guest unmasks anything and the host
 * raised it, the exception becomes pending in f->sw. */
static inline __attribute__((always_inline)) void after(struct fpu_state *f)
{
    if (UNLIKELY((f->cw & CW_MASKS) != CW_MASKS)) {
        uint16_t h = host_sw();
        if (h & FPU_SW_ES) take_unmasked(f, h);
    }
}

/* The status word as FNSTSW sees it. */
static uint16_t cur_sw(const struct fpu_state *f)
{
    if (!f->resident) return fpu_get_sw(f);
    uint16_t h = host_sw();
    uint16_t flags = (h | f->sw) & SW_FLAGS;
    uint16_t sw = (uint16_t)((h & (FPU_SW_CC | FPU_SW_TOP)) | flags);
    if (flags & ~f->cw & CW_MASKS) sw |= FPU_SW_ES | FPU_SW_B;
    return sw;
}

static void fldcw(struct fpu_state *f, uint16_t v)
{
    set_cw(f, v);
    if (f->resident) {
        uint16_t h = host_sw();
        if (h & ~f->cw & CW_MASKS) host_flags_out(f, h);
        __asm__ volatile("fldcw %0" ::"m"(f->cw));
    }
    update_es(f);
}

/* ------------------------------------------------------------------------
 * Memory operands
 * ------------------------------------------------------------------------ */

/* Operand size of a load form (escape, reg) of D9, DB, DD, DF. */
static unsigned load_size(unsigned esc, unsigned reg)
{
    switch (esc << 3 | reg) {
    case 7 << 3 | 0:
        return 2;
    case 5 << 3 | 0:
    case 7 << 3 | 5:
        return 8;
    case 3 << 3 | 5:
    case 7 << 3 | 4:
        return 10;
    default: /* FLD m32fp, FILD m32int */
        return 4;
    }
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

/* A load or arithmetic operand: guest RAM itself when the soft TLB maps it,
 * else read (faults and all) into buf. */
static inline __attribute__((always_inline)) void *
load_ptr(struct cpu *cpu, const struct insn *i, uint32_t ea, unsigned n, void *buf)
{
    uint32_t lin = seg_lin(cpu, i->seg, ea, n, false);
    void *p = tlb_ptr(cpu->mmu, lin, n, false);
    if (LIKELY(p)) return p;
    mem_read_slow(cpu, lin, buf, n);
    return buf;
}

static inline __attribute__((always_inline)) void load_op(struct cpu *cpu, const struct insn *i,
                                                          unsigned esc, unsigned n)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t buf[16];
    check_pending(cpu);
    uint32_t ea = ea_of(cpu, i);
    void *p = load_ptr(cpu, i, ea, n, buf);
    ensure_resident(f);
    note_mem(cpu, i, ea);
    host_exec(STUB_MEM(esc, i->reg), p);
    after(f);
}

/* A store that is not to plain mapped RAM (MMIO, a tracked page, a page
 * crossing, a TLB miss): both pages are checked for writing before the host
 * instruction (which may pop) runs, so a #PF leaves the state as it was. */
static __attribute__((noinline)) void store_slow(struct cpu *cpu, const struct insn *i,
                                                 unsigned esc, uint32_t ea, uint32_t lin,
                                                 unsigned n)
{
    struct fpu_state *f = &cpu->fpu;
    uint8_t buf[16];
    mmu_translate(cpu->mmu, lin, MMU_WRITE, cpu->mmu->user);
    if ((lin ^ (lin + n - 1)) & PAGE_MASK)
        mmu_translate(cpu->mmu, lin + n - 1, MMU_WRITE, cpu->mmu->user);
    ensure_resident(f);
    note_mem(cpu, i, ea);
    host_exec(STUB_MEM(esc, i->reg), buf);
    /* With an unmasked invalid, denormal, overflow or underflow the host
     * stored nothing; an unmasked inexact still stores.  (Host flags held
     * before were all masked: an unmasked one is this instruction's.) */
    uint16_t h = host_sw();
    if (!((h & FPU_SW_ES) &&
          (h & ~f->cw & (FPU_SW_IE | FPU_SW_DE | FPU_SW_ZE | FPU_SW_OE | FPU_SW_UE))))
        mem_write_slow(cpu, lin, buf, n);
    after(f);
}

static inline __attribute__((always_inline)) void store_op(struct cpu *cpu, const struct insn *i,
                                                           unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned n = store_size(esc, i->reg);
    check_pending(cpu);
    uint32_t ea = ea_of(cpu, i);
    uint32_t lin = seg_lin(cpu, i->seg, ea, n, true);
    void *p = tlb_ptr(cpu->mmu, lin, n, true);
    if (UNLIKELY(!p)) {
        store_slow(cpu, i, esc, ea, lin, n);
        return;
    }
    ensure_resident(f);
    note_mem(cpu, i, ea);
    host_exec(STUB_MEM(esc, i->reg), p);
    after(f);
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
        load_op(cpu, i, esc, esc == 4 ? 8 : esc == 6 ? 2 : 4);
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
        load_op(cpu, i, esc, load_size(esc, i->reg));
        return;
    /* stores */
    case 1 << 3 | 2:
    case 3 << 3 | 2:
    case 5 << 3 | 2:
    case 7 << 3 | 2:
    case 1 << 3 | 3:
    case 3 << 3 | 3:
    case 3 << 3 | 7:
    case 5 << 3 | 3:
    case 7 << 3 | 3:
    case 7 << 3 | 6:
    case 7 << 3 | 7:
        store_op(cpu, i, esc);
        return;
    case 1 << 3 | 4: /* FLDENV */
        check_pending(cpu);
        fpu_sync(f);
        fldenv(cpu, i, false);
        return;
    case 1 << 3 | 5: /* FLDCW */
        check_pending(cpu);
        fldcw(f, rd16(cpu, i->seg, ea_of(cpu, i)));
        return;
    case 1 << 3 | 6: /* FNSTENV */
        fpu_sync(f);
        fnstenv(cpu, i, false);
        return;
    case 1 << 3 | 7: /* FNSTCW */
        wr16(cpu, i->seg, ea_of(cpu, i), f->cw);
        return;
    case 5 << 3 | 4: /* FRSTOR */
        check_pending(cpu);
        fpu_sync(f);
        fldenv(cpu, i, true);
        return;
    case 5 << 3 | 6: /* FNSAVE */
        fpu_sync(f);
        fnstenv(cpu, i, true);
        return;
    case 5 << 3 | 7: /* FNSTSW m16 */
        wr16(cpu, i->seg, ea_of(cpu, i), cur_sw(f));
        return;
    default: /* FISTTP (SSE3) and the unassigned slots */
        cpu_fault(cpu, EXC_UD, 0);
    }
}

/* A register form run as itself on the host. */
static inline __attribute__((always_inline)) void run_reg(struct cpu *cpu, const struct insn *i,
                                                          unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    check_pending(cpu);
    ensure_resident(f);
    note(cpu, i);
    host_exec(STUB_REG(esc, i->reg << 3 | i->rm), NULL);
    after(f);
}

/* FCMOVcc: the guest condition decides in C; the host runs FCMOVE with ZF
 * set to it (so an empty operand faults whether or not it moves). */
static void fcmov(struct cpu *cpu, const struct insn *i, unsigned cc)
{
    struct fpu_state *f = &cpu->fpu;
    check_pending(cpu);
    bool c = cond_eval(cpu, cc);
    ensure_resident(f);
    note(cpu, i);
    host_exec_zf(STUB_REG(2, 0x08 | i->rm), c);
    after(f);
}

/* FCOMI/FUCOMI/FCOMIP/FUCOMIP: ZF, PF, CF from the compare; OF, SF, AF 0.
 * Even an empty or unmasked-invalid operand sets them (the host does). */
static void comi(struct cpu *cpu, const struct insn *i, unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    check_pending(cpu);
    ensure_resident(f);
    note(cpu, i);
    uint8_t fl = host_exec_lahf(STUB_REG(esc, i->reg << 3 | i->rm));
    after(f);
    cpu_set_arith(cpu, FL_ARITH, fl & (FL_ZF | FL_PF | FL_CF));
}

static inline __attribute__((always_inline)) void exec_reg(struct cpu *cpu, const struct insn *i,
                                                           unsigned esc)
{
    struct fpu_state *f = &cpu->fpu;
    unsigned reg = i->reg, rm = i->rm;
    switch (esc) {
    case 0: /* D8: ST(0) op= ST(i), FCOM, FCOMP */
    case 4: /* DC: ST(i) op= ST(0); /2 /3 are FCOM/FCOMP aliases */
        run_reg(cpu, i, esc);
        return;
    case 6: /* DE: ...P forms; /2 FCOMP alias, D9 FCOMPP */
        if (reg == 3 && rm != 1) break;
        run_reg(cpu, i, esc);
        return;
    case 1:
        switch (reg) {
        case 2: /* FNOP */
            if (rm != 0) break;
            check_pending(cpu);
            note(cpu, i);
            return;
        case 4: /* FCHS, FABS, FTST, FXAM */
            if (rm == 2 || rm == 3 || rm > 5) break;
            run_reg(cpu, i, esc);
            return;
        case 5: /* constants */
            if (rm == 7) break;
            run_reg(cpu, i, esc);
            return;
        default: /* FLD ST(i), FXCH, FSTP1 alias, the D9 F0-FF group */
            run_reg(cpu, i, esc);
            return;
        }
        break;
    case 2: /* DA: FCMOVB/E/BE/U, FUCOMPP */
        if (reg < 4) {
            static const uint8_t cc[4] = {0x2, 0x4, 0x6, 0xa};
            fcmov(cpu, i, cc[reg]);
            return;
        }
        if (reg == 5 && rm == 1) {
            run_reg(cpu, i, esc);
            return;
        }
        break;
    case 3: /* DB: FCMOVNB/NE/NBE/NU, control, FUCOMI, FCOMI */
        if (reg < 4) {
            static const uint8_t cc[4] = {0x3, 0x5, 0x7, 0xb};
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
                fpu_sync(f);
                f->sw &= ~(SW_FLAGS | FPU_SW_ES);
                update_es(f);
                return;
            case 3: /* FNINIT */
                fpu_sync(f);
                finit(f);
                return;
            }
            break;
        }
        if (reg == 5 || reg == 6) {
            comi(cpu, i, esc);
            return;
        }
        break;
    case 5: /* DD: FFREE, FXCH4 alias, FST, FSTP, FUCOM, FUCOMP */
        if (reg > 5) break;
        run_reg(cpu, i, esc);
        return;
    case 7: /* DF */
        switch (reg) {
        case 0: /* FFREEP */
        case 1: /* FXCH7 alias */
        case 2: /* FSTP8, FSTP9 aliases */
        case 3:
            run_reg(cpu, i, esc);
            return;
        case 4:
            if (rm != 0) break;
            R16(cpu, R_EAX) = cur_sw(f); /* FNSTSW AX */
            return;
        case 5: /* FUCOMIP */
        case 6: /* FCOMIP */
            comi(cpu, i, esc);
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
    fpu_sync(&cpu->fpu);
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
    fpu_sync(f);
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
    fpu_sync(f);
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
