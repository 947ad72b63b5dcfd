/*
 * ops.h — private header of the execution half of the core: the opcode-table
 * types read by decode.c / disasm.c / tests, the lazy-flags state encoding,
 * and the inline fast paths (effective address, segmented access, stack,
 * register helpers) that the ops_*.c handlers share.
 *
 * Design choice: every table row names a "handler set" (struct hset) of four
 * specialisations — register/memory form × 16/32-bit operand size — so the
 * decoder picks the exact handler once and the handlers carry no size or
 * form switch at run time.  Hot rows add memory forms specialised by
 * addressing form (struct hset.m32f, ops_gen.h H_EA).
 */
#ifndef UMBRA_CPU_OPS_H
#define UMBRA_CPU_OPS_H

#include <stdlib.h>

#include "cpu/cpu_internal.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---------------- opcode table ---------------- */

struct hset {
    insn_fn r16, r32, m16, m32;
    /* Optional: m32 specialised for 32-bit addressing with a base register
     * (EAF_B), base and index (EAF_BI), or an index only (EAF_I), so the hot
     * memory forms compute their address without ea_of's tests. */
    insn_fn m32f[3];
};
enum { EAF_B, EAF_BI, EAF_I };

/* Immediate kinds (decode attribute bits 0..3). */
enum {
    I_NONE = 0,
    I_B,     /* ib, zero-extended */
    I_BS,    /* ib, sign-extended (also Jb) */
    I_W,     /* iw */
    I_Z,     /* iw or id by operand size, sign-extended to 32 (also Jz) */
    I_AP,    /* far pointer: offset iz in imm, selector iw in imm2 */
    I_ENTER, /* iw in imm, ib in imm2 */
    I_O,     /* moffs: address-size displacement, stored in disp */
};
#define D_IMM_MASK 0x0fu
#define D_M 0x010u     /* has a modrm byte */
#define D_END 0x020u   /* ends the block (control transfer, mode/IF change) */
#define D_LOCK 0x040u  /* LOCK allowed with a memory destination */
#define D_GRP 0x080u   /* row is a group: modrm.reg selects a GRP row */
#define D_BRANCH 0x100u /* relative branch: the immediate is a displacement */
#define D_STR 0x200u   /* string instruction (REP prefixes meaningful) */

struct op_row {
    const char *mnem;     /* "a/b" means a with 16-bit and b with 32-bit opsize */
    const char *operands; /* Intel-manual operand codes, comma separated */
    uint16_t attr;        /* I_* | D_* */
    uint8_t grp;          /* group id when D_GRP */
    const struct hset *hs;
};

/* Group ids */
enum {
    G_NONE, G_80, G_81, G_82, G_83, G_8F, G_C0, G_C1, G_C6, G_C7, G_D0, G_D1, G_D2, G_D3,
    G_F6, G_F7, G_FE, G_FF, G_0F00, G_0F01, G_0FBA, G_0FAE, G_0FC7, G_COUNT
};

extern const struct op_row op_table[512];
extern const struct op_row grp_table[G_COUNT][8];

/* Declare every handler set the table names. */
#define OP(code, mnem, operands, attr, hs) extern const struct hset hs_##hs;
#define OPG(code, grp)
#define GRP(grp, reg, mnem, operands, attr, hs) extern const struct hset hs_##hs;
#include "cpu/opcodes.def"
#undef OP
#undef OPG
#undef GRP

#define HSET(name, a, b, c, d)                                                               \
    const struct hset hs_##name = { .r16 = a, .r32 = b, .m16 = c, .m32 = d }

/* Decoder (decode.c). Decode the instruction at CS:eip into *i. When
 * `first` is false the decoder refuses (returns false) instead of faulting
 * or crossing out of the page of `page_lin`, so a block never faults on an
 * instruction it has not reached. */
bool cpu_decode(struct cpu *cpu, uint32_t eip, bool code32, bool first, struct insn *i);
/* The table row an instruction was decoded from. */
const struct op_row *insn_row(const struct insn *i);
/* Disassemble a decoded instruction at `eip` (disasm.c). */
int insn_disasm(const struct insn *i, uint32_t eip, char *buf, size_t size);

void op_ud(struct cpu *cpu, const struct insn *i);
/* Decode from a byte buffer (disassembler, tests): never faults. */
bool cpu_decode_bytes(const uint8_t *bytes, unsigned n, bool code32, struct insn *i);
/* Block cache setup (exec.c), called from cpu_init/cpu_destroy. */
int cpu_exec_init(struct cpu *cpu);
void cpu_exec_destroy(struct cpu *cpu);
/* Leave the running block after the current instruction (exec.c). */
void cpu_end_block(struct cpu *cpu);
/* Recompute cpu->attn after changing exit_request, nmi_pending or irq_line. */
static inline void cpu_attn_update(struct cpu *cpu)
{
    cpu->attn = cpu->exit_request | cpu->nmi_pending | cpu->irq_line;
}

/* ---------------- lazy flags ---------------- */
/* lf_op = kind << 2 | size code (0 byte, 1 word, 2 dword). */
enum lazy_kind {
    LK_NONE = 0, /* cpu->eflags holds the arithmetic flags */
    LK_ADD,
    LK_ADC, /* add with carry-in 1 (carry-in 0 is recorded as LK_ADD) */
    LK_SUB,
    LK_SBB, /* sub with borrow-in 1 */
    LK_LOGIC,
    LK_INC, /* lf_op2 holds the preserved CF */
    LK_DEC,
    LK_SHL, /* lf_op1 = operand, lf_op2 = count (1..31); AF = 0 */
    LK_SHR,
    LK_SAR,
    LK_MUL, /* lf_op2 = CF/OF (0/1); flags as P6/Core: SF from res msb, ZF=0, AF=0 */
    LK_BSF, /* lf_op2 = ZF; result-based PF, others 0 */
};
enum lazy_op { LF_NONE = 0 };
#define LF(kind, sz) ((uint32_t)(kind) << 2 | (sz))
enum { SZ8 = 0, SZ16 = 1, SZ32 = 2 };

static inline void lf_set(struct cpu *cpu, uint32_t op, uint32_t a, uint32_t b, uint32_t r)
{
    cpu->lf_op = op;
    cpu->lf_op1 = a;
    cpu->lf_op2 = b;
    cpu->lf_res = r;
}
uint32_t cpu_get_cf_slow(struct cpu *cpu);
static inline uint32_t cpu_get_cf(struct cpu *cpu)
{
    uint32_t op = cpu->lf_op;
    if (op == LF(LK_SUB, SZ32))
        return cpu->lf_op1 < cpu->lf_op2;
    if (op == LF(LK_ADD, SZ32))
        return cpu->lf_res < cpu->lf_op1;
    if ((op >> 2) == LK_LOGIC)
        return 0;
    return cpu_get_cf_slow(cpu);
}
/* Materialise the arithmetic flags into cpu->eflags and set LF_NONE. */
void cpu_flags_materialize(struct cpu *cpu);
/* Replace the arithmetic flags in `mask` by `val` (others kept). */
static inline void cpu_set_arith(struct cpu *cpu, uint32_t mask, uint32_t val)
{
    if (cpu->lf_op != LF_NONE)
        cpu_flags_materialize(cpu);
    cpu->eflags = (cpu->eflags & ~mask) | (val & mask);
}
/* Condition code cc (0..15, Jcc encoding): the general evaluator. */
bool cpu_cond(struct cpu *cpu, unsigned cc);
extern const uint8_t cpu_parity_table[256];

/* Condition fast path: a compare/sub or a logic op of 32 bits decides the
 * condition straight from its operands; with `cc` a constant the switch
 * folds away, so Jcc/SETcc/CMOVcc after CMP/TEST cost a compare. */
static inline bool cond_eval(struct cpu *cpu, unsigned cc)
{
    uint32_t op = cpu->lf_op;
    if (LIKELY(op == LF(LK_SUB, SZ32))) {
        uint32_t a = cpu->lf_op1, b = cpu->lf_op2;
        switch (cc) {
        case 0x2: return a < b;
        case 0x3: return a >= b;
        case 0x4: return a == b;
        case 0x5: return a != b;
        case 0x6: return a <= b;
        case 0x7: return a > b;
        case 0x8: return (int32_t)(a - b) < 0;
        case 0x9: return (int32_t)(a - b) >= 0;
        case 0xc: return (int32_t)a < (int32_t)b;
        case 0xd: return (int32_t)a >= (int32_t)b;
        case 0xe: return (int32_t)a <= (int32_t)b;
        case 0xf: return (int32_t)a > (int32_t)b;
        }
    } else if (op == LF(LK_LOGIC, SZ32)) {
        int32_t r = (int32_t)cpu->lf_res;
        switch (cc) {
        case 0x0: case 0x2: return false;
        case 0x1: case 0x3: return true;
        case 0x4: case 0x6: return r == 0;
        case 0x5: case 0x7: return r != 0;
        case 0x8: case 0xc: return r < 0;
        case 0x9: case 0xd: return r >= 0;
        case 0xe: return r <= 0;
        case 0xf: return r > 0;
        }
    } else if ((cc == 4 || cc == 5) && op >= LF(LK_ADD, 0) && op < LF(LK_MUL, 0)) {
        /* every kind from ADD to SAR keeps the truncated result */
        return (cpu->lf_res == 0) == (cc == 4);
    }
    return cpu_cond(cpu, cc);
}

/* ---------------- memory ---------------- */

static inline uint32_t ea_of(struct cpu *cpu, const struct insn *i)
{
    uint32_t a = i->disp;
    if (i->base != 0xff)
        a += cpu->regs[i->base];
    if (i->index != 0xff)
        a += cpu->regs[i->index] << i->scale;
    if (i->adsize == 2)
        a &= 0xffff;
    return a;
}

/* Slow paths (mem.c): full checks, fault or return the linear address. */
uint32_t cpu_seg_check_slow(struct cpu *cpu, int seg, uint32_t off, unsigned size, bool write);

/* Bit 0: reads, bit 1: writes of a segment whose descriptor access byte
 * (bits 8..15 of segment.flags) is the index may skip the type checks:
 * present, non-system, not execute-only code (reads) or writable data
 * (writes), and not expand-down. */
extern const uint8_t cpu_seg_fast[256];

/* Segment check: an in-limit access to a segment the table above clears,
 * or any in-limit access in real / virtual-8086 mode; else the slow path. */
static inline uint32_t seg_lin_checked(struct cpu *cpu, int seg, uint32_t off, unsigned size,
                                       bool write)
{
    const struct segment *s = &cpu->seg[seg];
    if (LIKELY((uint64_t)off + (size - 1) <= s->limit && !cpu->mem_check &&
               ((cpu_seg_fast[(s->flags >> 8) & 0xff] & (write ? 2 : 1)) ||
                !(cpu->cr0 & CR0_PE) || (cpu->eflags & FL_VM))))
        return s->base + off;
    return cpu_seg_check_slow(cpu, seg, off, size, write);
}

/*
 * cpu->seg_flat caches which segments are flat (base 0, limit 4 GiB, a type
 * seg_lin_checked lets through, protected mode, no cpu->mem_check), so the
 * instruction handlers' accesses cost a bit test.  It is recomputed by the
 * run loop whenever a block starts without chaining — after every
 * instruction that can change segments, CR0.PE/AM, EFLAGS.VM/AC, CPL or
 * DR7 (they all end the block that way), after event delivery and faults — and by the
 * handlers that load a segment register without ending the block.  Code
 * outside the handlers (seg.c, intr.c, task.c, sys.c, which access memory
 * through mem.c's cpu_readN, cpu_writeN, cpu_push and cpu_pop) never trusts
 * it, since it may run between a segment change and the next
 * recomputation.
 */
static inline unsigned cpu_seg_flat_compute(const struct cpu *cpu)
{
    if (!(cpu->cr0 & CR0_PE) || (cpu->eflags & FL_VM) || cpu->mem_check)
        return 0;
    unsigned m = 0;
    for (int s = 0; s <= SEG_GS; s++) {
        const struct segment *g = &cpu->seg[s];
        if (g->base != 0 || g->limit != 0xffffffffu)
            continue;
        unsigned f = cpu_seg_fast[(g->flags >> 8) & 0xff];
        m |= (f & 1u) << s | ((f >> 1) & 1u) << (8 + s);
    }
    return m;
}
static inline void cpu_seg_flat_update(struct cpu *cpu)
{
    cpu->seg_flat = (uint16_t)cpu_seg_flat_compute(cpu);
}

/* The handlers' segment check: a flat segment needs only the 4 GiB wrap
 * check.  Sanitizer builds verify the cache on every use. */
static inline uint32_t seg_lin(struct cpu *cpu, int seg, uint32_t off, unsigned size, bool write)
{
    if (LIKELY((cpu->seg_flat >> (seg + (write ? 8 : 0))) & 1) && off <= 0u - size) {
#if defined(__SANITIZE_ADDRESS__)
        if (cpu->seg_flat != cpu_seg_flat_compute(cpu))
            abort();
#endif
        return off;
    }
    return seg_lin_checked(cpu, seg, off, size, write);
}

/*
 * Handler memory access: the flat-segment + TLB-hit path inline, anything
 * else (segment checks, TLB miss, MMIO, faults) in one out-of-line call, so
 * the handlers' fast paths need no saved registers.
 */
uint32_t cpu_rd_slow(struct cpu *cpu, int seg, uint32_t off, unsigned size);
void cpu_wr_slow(struct cpu *cpu, int seg, uint32_t off, unsigned size, uint32_t v);

static inline bool seg_flat_ok(struct cpu *cpu, int seg, uint32_t off, unsigned size, bool write)
{
    if (LIKELY((cpu->seg_flat >> (seg + (write ? 8 : 0))) & 1) && off <= 0u - size) {
#if defined(__SANITIZE_ADDRESS__)
        if (cpu->seg_flat != cpu_seg_flat_compute(cpu))
            abort();
#endif
        return true;
    }
    return false;
}

#define RDWR(bits, type)                                                                     \
    static inline type rd##bits(struct cpu *cpu, int seg, uint32_t off)                     \
    {                                                                                        \
        if (LIKELY(seg_flat_ok(cpu, seg, off, sizeof(type), false))) {                       \
            struct tlb_entry *e = mmu_view_entry(cpu->mmu, off);                             \
            if (LIKELY(e->tag_read == (off & (PAGE_MASK | (sizeof(type) - 1))))) {           \
                type v;                                                                      \
                memcpy(&v, (const void *)(uintptr_t)(off + e->addend), sizeof v);           \
                return v;                                                                    \
            }                                                                                \
        }                                                                                    \
        return (type)cpu_rd_slow(cpu, seg, off, sizeof(type));                               \
    }                                                                                        \
    static inline void wr##bits(struct cpu *cpu, int seg, uint32_t off, type v)              \
    {                                                                                        \
        if (LIKELY(seg_flat_ok(cpu, seg, off, sizeof(type), true))) {                        \
            struct tlb_entry *e = mmu_view_entry(cpu->mmu, off);                             \
            if (LIKELY(e->tag_write == (off & (PAGE_MASK | (sizeof(type) - 1))))) {          \
                memcpy((void *)(uintptr_t)(off + e->addend), &v, sizeof v);                 \
                return;                                                                      \
            }                                                                                \
        }                                                                                    \
        cpu_wr_slow(cpu, seg, off, sizeof(type), v);                                         \
    }
RDWR(8, uint8_t)
RDWR(16, uint16_t)
RDWR(32, uint32_t)
#undef RDWR

/* Registers */
#define R8(cpu, r) (*cpu_reg8_ptr((cpu), (r)))
#define R16(cpu, r) (*cpu_reg16_ptr((cpu), (r)))
#define R32(cpu, r) ((cpu)->regs[(r)])

/* 16-bit code keeps EIP within 16 bits on branches. */
static inline void jump_to(struct cpu *cpu, uint32_t target, unsigned opsize)
{
    cpu->eip = opsize == 2 ? (target & 0xffff) : target;
}

/* Stack: SS.B selects ESP or SP.  The store/load happens before ESP changes
 * so a faulting push or pop leaves ESP intact.  Always inlined: as calls
 * they would cost CALL/RET handlers a third of their time. */
static inline bool ss32(const struct cpu *cpu) { return SEGF_DB(cpu->seg[SEG_SS].flags); }

static inline __attribute__((always_inline)) void push32(struct cpu *cpu, uint32_t v)
{
    if (LIKELY(ss32(cpu))) {
        uint32_t sp = cpu->regs[R_ESP] - 4;
        wr32(cpu, SEG_SS, sp, v);
        cpu->regs[R_ESP] = sp;
    } else {
        uint16_t sp = (uint16_t)(cpu->regs[R_ESP] - 4);
        wr32(cpu, SEG_SS, sp, v);
        R16(cpu, R_ESP) = sp;
    }
}
static inline __attribute__((always_inline)) void push16(struct cpu *cpu, uint16_t v)
{
    if (LIKELY(ss32(cpu))) {
        uint32_t sp = cpu->regs[R_ESP] - 2;
        wr16(cpu, SEG_SS, sp, v);
        cpu->regs[R_ESP] = sp;
    } else {
        uint16_t sp = (uint16_t)(cpu->regs[R_ESP] - 2);
        wr16(cpu, SEG_SS, sp, v);
        R16(cpu, R_ESP) = sp;
    }
}
static inline __attribute__((always_inline)) uint32_t pop32(struct cpu *cpu)
{
    uint32_t v;
    if (LIKELY(ss32(cpu))) {
        v = rd32(cpu, SEG_SS, cpu->regs[R_ESP]);
        cpu->regs[R_ESP] += 4;
    } else {
        v = rd32(cpu, SEG_SS, R16(cpu, R_ESP));
        R16(cpu, R_ESP) += 4;
    }
    return v;
}
static inline __attribute__((always_inline)) uint16_t pop16(struct cpu *cpu)
{
    uint16_t v;
    if (LIKELY(ss32(cpu))) {
        v = rd16(cpu, SEG_SS, cpu->regs[R_ESP]);
        cpu->regs[R_ESP] += 2;
    } else {
        v = rd16(cpu, SEG_SS, R16(cpu, R_ESP));
        R16(cpu, R_ESP) += 2;
    }
    return v;
}
/* Read the stack at ESP+delta without popping (for multi-pop instructions). */
static inline uint32_t stack_off(struct cpu *cpu, uint32_t delta)
{
    return ss32(cpu) ? cpu->regs[R_ESP] + delta : (uint16_t)(cpu->regs[R_ESP] + delta);
}
static inline void stack_add(struct cpu *cpu, uint32_t delta)
{
    if (ss32(cpu))
        cpu->regs[R_ESP] += delta;
    else
        R16(cpu, R_ESP) += (uint16_t)delta;
}

#endif
