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
static uint32_t watch_data(struct cpu *cpu, uint32_t lin, unsigned size, bool write)
{
    if (UNLIKELY((lin & (size - 1)) && cpu->cpl == 3 && (cpu->cr0 & CR0_AM) &&
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

uint8_t cpu_read8(struct cpu *cpu, int seg, uint32_t off) { return rd8(cpu, seg, off); }
uint16_t cpu_read16(struct cpu *cpu, int seg, uint32_t off) { return rd16(cpu, seg, off); }
uint32_t cpu_read32(struct cpu *cpu, int seg, uint32_t off) { return rd32(cpu, seg, off); }
void cpu_write8(struct cpu *cpu, int seg, uint32_t off, uint8_t v) { wr8(cpu, seg, off, v); }
void cpu_write16(struct cpu *cpu, int seg, uint32_t off, uint16_t v) { wr16(cpu, seg, off, v); }
void cpu_write32(struct cpu *cpu, int seg, uint32_t off, uint32_t v) { wr32(cpu, seg, off, v); }

void cpu_push(struct cpu *cpu, unsigned size, uint32_t v)
{
    if (size == 4)
        push32(cpu, v);
    else
        push16(cpu, (uint16_t)v);
}

uint32_t cpu_pop(struct cpu *cpu, unsigned size)
{
    return size == 4 ? pop32(cpu) : pop16(cpu);
}
