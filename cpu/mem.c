/*
 * mem.c — segmented memory access: effective addresses, limit and type
 * checks, and the stack (Intel SDM Vol. 3 §3.4.5 "Segment Descriptors",
 * §5.3 "Limit Checking", §5.4 "Type Checking"; Vol. 2 §2.1.5 ModR/M).
 *
 * The common case — an in-limit access to a present, expand-up segment of
 * the right type — is decided inline in ops.h (seg_lin); everything else
 * (expand-down segments, null selectors, wrong types, limit violations in any
 * mode) comes here, which either returns the linear address or raises #SS(0)
 * for SS and #GP(0) otherwise.  In real and virtual-8086 mode only the limit
 * (normally 0xFFFF) is checked, which yields the #GP/#SS a real CPU gives
 * for an access beyond offset 0xFFFF.
 */
#include "cpu/ops.h"

uint32_t cpu_ea(struct cpu *cpu, const struct insn *i) { return ea_of(cpu, i); }

/* seg_lin's table, by access byte a = P DPL(2) S type(4): the conditions of
 * cpu_seg_check_slow's protected-mode branch that let an access through. */
#define SF_READ(a) (((a) & 0x90) == 0x90 && ((a) & 0x0a) != 0x08 && ((a) & 0x0c) != 0x04)
#define SF_WRITE(a) (((a) & 0x9e) == 0x92)
#define SF(a) (SF_READ(a) | SF_WRITE(a) << 1)
#define SF4(a) SF(a), SF((a) + 1), SF((a) + 2), SF((a) + 3)
#define SF16(a) SF4(a), SF4((a) + 4), SF4((a) + 8), SF4((a) + 12)
#define SF64(a) SF16(a), SF16((a) + 16), SF16((a) + 32), SF16((a) + 48)
const uint8_t cpu_seg_fast[256] = { SF64(0), SF64(64), SF64(128), SF64(192) };
#undef SF_READ
#undef SF_WRITE
#undef SF
#undef SF4
#undef SF16
#undef SF64

void cpu_update_mem_check(struct cpu *cpu)
{
    bool ac = (cpu->cr0 & CR0_AM) && (cpu->eflags & FL_AC) && cpu->cpl == 3;
    cpu->mem_check = cpu->dr_watch || ac;
}

/* Alignment check (SDM vol. 3 §6.15, #AC): a misaligned data access at
 * CPL3 with CR0.AM and EFLAGS.AC set.  Also the place data breakpoints are
 * noted: they are traps, so the hits are recorded and the run loop (which
 * steps one instruction at a time while DR7 is armed) raises #DB after the
 * instruction completes. */
/* The alignment an operand of `size` bytes must have (SDM vol. 3 table 6-7):
 * its size for 1, 2, 4 and 8 bytes; the operands that are not a power of
 * two come from the x87 and far pointers — m80 8, a 16:32 pointer 4, the
 * FLDENV/FRSTOR areas 4 (32-bit format) or 2 (16-bit format). */
static unsigned ac_alignment(unsigned size)
{
    switch (size) {
    case 10: return 8;
    case 6: case 28: case 108: return 4;
    case 14: case 94: return 2;
    default: return size > 16 ? 16 : size;
    }
}

static uint32_t watch_data(struct cpu *cpu, uint32_t lin, unsigned size, bool write)
{
    if (UNLIKELY((lin & (ac_alignment(size) - 1)) && cpu->cpl == 3 && (cpu->cr0 & CR0_AM) &&
                 (cpu->eflags & FL_AC)))
        cpu_fault(cpu, EXC_AC, 0);
    if (UNLIKELY(cpu->dr_watch))
        cpu->dr_hits |= cpu_dr_match(cpu, lin, size, write ? DR_WRITE : DR_READ);
    return lin;
}

uint32_t cpu_seg_check_slow(struct cpu *cpu, int seg, uint32_t off, unsigned size, bool write)
{
    const struct segment *s = &cpu->seg[seg];
    int exc = seg == SEG_SS ? EXC_SS : EXC_GP;
    uint64_t last = (uint64_t)off + size - 1;

    if ((cpu->cr0 & CR0_PE) && !(cpu->eflags & FL_VM)) {
        unsigned type = SEGF_TYPE(s->flags);
        bool code = type & 8;
        if (!SEGF_P(s->flags) || !SEGF_S(s->flags))
            cpu_fault(cpu, exc, 0); /* null or unusable segment */
        if (write && (code || !(type & 2)))
            cpu_fault(cpu, EXC_GP, 0);
        if (!write && code && !(type & 2))
            cpu_fault(cpu, EXC_GP, 0);
        if (!code && (type & 4)) { /* expand-down: valid (limit, upper] */
            uint32_t upper = SEGF_DB(s->flags) ? 0xffffffffu : 0xffffu;
            if (off <= s->limit || last > upper)
                cpu_fault(cpu, exc, 0);
            return watch_data(cpu, s->base + off, size, write);
        }
    }
    if (last > s->limit)
        cpu_fault(cpu, exc, 0);
    return watch_data(cpu, s->base + off, size, write);
}

/* The exported accessors serve seg.c, intr.c, task.c and sys.c, which may
 * run right after changing a segment register, so they never use the
 * handlers' cpu->seg_flat cache (ops.h): they check every access. */
uint8_t cpu_read8(struct cpu *cpu, int seg, uint32_t off)
{
    return mmu_read8(cpu->mmu, seg_lin_checked(cpu, seg, off, 1, false));
}
uint16_t cpu_read16(struct cpu *cpu, int seg, uint32_t off)
{
    return mmu_read16(cpu->mmu, seg_lin_checked(cpu, seg, off, 2, false));
}
uint32_t cpu_read32(struct cpu *cpu, int seg, uint32_t off)
{
    return mmu_read32(cpu->mmu, seg_lin_checked(cpu, seg, off, 4, false));
}
void cpu_write8(struct cpu *cpu, int seg, uint32_t off, uint8_t v)
{
    mmu_write8(cpu->mmu, seg_lin_checked(cpu, seg, off, 1, true), v);
}
void cpu_write16(struct cpu *cpu, int seg, uint32_t off, uint16_t v)
{
    mmu_write16(cpu->mmu, seg_lin_checked(cpu, seg, off, 2, true), v);
}
void cpu_write32(struct cpu *cpu, int seg, uint32_t off, uint32_t v)
{
    mmu_write32(cpu->mmu, seg_lin_checked(cpu, seg, off, 4, true), v);
}

/* Stack: as push16/push32/pop16/pop32 (ops.h), with checked accesses. */
void cpu_push(struct cpu *cpu, unsigned size, uint32_t v)
{
    uint32_t sp = cpu->regs[R_ESP] - size;
    if (!ss32(cpu))
        sp &= 0xffff;
    if (size == 4)
        cpu_write32(cpu, SEG_SS, sp, v);
    else
        cpu_write16(cpu, SEG_SS, sp, (uint16_t)v);
    if (ss32(cpu))
        cpu->regs[R_ESP] = sp;
    else
        R16(cpu, R_ESP) = (uint16_t)sp;
}

uint32_t cpu_pop(struct cpu *cpu, unsigned size)
{
    uint32_t sp = ss32(cpu) ? cpu->regs[R_ESP] : R16(cpu, R_ESP);
    uint32_t v = size == 4 ? cpu_read32(cpu, SEG_SS, sp) : cpu_read16(cpu, SEG_SS, sp);
    if (ss32(cpu))
        cpu->regs[R_ESP] += size;
    else
        R16(cpu, R_ESP) += (uint16_t)size;
    return v;
}

/* The out-of-line half of ops.h's rdN / wrN. */
__attribute__((noinline)) uint32_t cpu_rd_slow(struct cpu *cpu, int seg, uint32_t off,
                                               unsigned size)
{
    uint32_t lin = seg_lin(cpu, seg, off, size, false);
    switch (size) {
    case 1: return mmu_read8(cpu->mmu, lin);
    case 2: return mmu_read16(cpu->mmu, lin);
    default: return mmu_read32(cpu->mmu, lin);
    }
}

__attribute__((noinline)) void cpu_wr_slow(struct cpu *cpu, int seg, uint32_t off, unsigned size,
                                           uint32_t v)
{
    uint32_t lin = seg_lin(cpu, seg, off, size, true);
    switch (size) {
    case 1: mmu_write8(cpu->mmu, lin, (uint8_t)v); break;
    case 2: mmu_write16(cpu->mmu, lin, (uint16_t)v); break;
    default: mmu_write32(cpu->mmu, lin, v); break;
    }
}
