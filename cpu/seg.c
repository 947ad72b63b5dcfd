/*
 * seg.c — segmentation and protection checks: descriptor loads into the
 * segment registers, far JMP / CALL / RET in real, v86 and protected mode,
 * call gates with privilege change, and the shared helpers of desc.h.
 *
 * SDM vol. 3 ch. 3 (segments, descriptors), ch. 5 (protection: §5.5-5.8
 * privilege checks, call gates, stack switching), and the vol. 2 pages of
 * MOV/POP Sreg, JMP, CALL and RET, whose pseudocode fixes the order of the
 * checks and the selector each fault reports.
 *
 * Design choices: every check that can fault runs before any register
 * changes (precise exceptions); stack frames are written through struct
 * prot_stack (check all, then write, then commit SS:ESP).  The accessed bit
 * is written back to the descriptor in memory with implicit supervisor
 * accesses (mmu_sys_*), like the processor's locked update.  A null selector
 * in a data segment register leaves it "unusable" (cache flags 0, P clear);
 * mem.c faults on use of such a register.
 */
#include <assert.h>

#include "cpu/desc.h"

/* ---- descriptor tables ---- */

/* Linear address of a selector's descriptor; false if beyond the limit. */
static bool desc_addr(struct cpu *cpu, uint16_t sel, uint32_t *addr)
{
    uint32_t base, limit;
    if (sel & 4) {
        const struct segment *l = &cpu->seg[SEG_LDTR];
        if (!SEGF_P(l->flags)) return false; /* null LDTR: every LDT selector is out of range */
        base = l->base;
        limit = l->limit;
    } else {
        base = cpu->gdtr.base;
        limit = cpu->gdtr.limit;
    }
    uint32_t idx = sel & 0xfff8u;
    if (idx + 7 > limit) return false;
    *addr = base + idx;
    return true;
}

bool cpu_read_descriptor(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi)
{
    uint32_t a;
    if (!desc_addr(cpu, sel, &a)) return false;
    *lo = mmu_sys_read32(cpu->mmu, a);
    *hi = mmu_sys_read32(cpu->mmu, a + 4);
    return true;
}

void prot_fetch_desc(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi, int vec,
                     uint32_t ext)
{
    if (!cpu_read_descriptor(cpu, sel, lo, hi)) cpu_fault(cpu, vec, sel_err(sel) | ext);
}

void prot_seg_from_desc(struct segment *s, uint16_t sel, uint32_t lo, uint32_t hi)
{
    s->sel = sel;
    s->base = desc_base(lo, hi);
    s->limit = desc_limit(lo, hi);
    s->flags = hi & 0x00ffff00u;
}

void prot_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t hi)
{
    uint32_t a;
    if (!DESC_S(hi) || (DESC_TYPE(hi) & DT_ACCESSED) || !desc_addr(cpu, sel, &a)) return;
    mmu_sys_write8(cpu->mmu, a + 5, (uint8_t)((hi >> 8) | DT_ACCESSED));
}

void prot_set_tss_busy(struct cpu *cpu, uint16_t sel, bool busy)
{
    uint32_t a;
    if (!desc_addr(cpu, sel, &a)) return;
    uint8_t b = mmu_sys_read8(cpu->mmu, a + 5);
    b = busy ? (uint8_t)(b | SYS_TSS_BUSY_BIT) : (uint8_t)(b & ~SYS_TSS_BUSY_BIT);
    mmu_sys_write8(cpu->mmu, a + 5, b);
}

void cpu_set_cpl(struct cpu *cpu, unsigned cpl)
{
    cpu->cpl = (uint8_t)cpl;
    mmu_set_user(cpu->mmu, cpl == 3);
    cpu_update_mem_check(cpu);
}

/* ---- linear accesses with an explicit privilege ---- */

uint32_t prot_lin_read(struct cpu *cpu, uint32_t lin, unsigned size, bool user)
{
    struct mmu *m = cpu->mmu;
    if (user && !m->user) return mmu_read_slow(m, lin, size, MMU_READ, true);
    if (user) {
        switch (size) {
        case 1:
            return mmu_read8(m, lin);
        case 2:
            return mmu_read16(m, lin);
        default:
            return mmu_read32(m, lin);
        }
    }
    switch (size) {
    case 1:
        return mmu_sys_read8(m, lin);
    case 2:
        return mmu_sys_read16(m, lin);
    default:
        return mmu_sys_read32(m, lin);
    }
}

void prot_lin_write(struct cpu *cpu, uint32_t lin, uint32_t v, unsigned size, bool user)
{
    struct mmu *m = cpu->mmu;
    if (user && !m->user) {
        mmu_write_slow(m, lin, v, size, true);
        return;
    }
    if (user) {
        switch (size) {
        case 1:
            mmu_write8(m, lin, (uint8_t)v);
            return;
        case 2:
            mmu_write16(m, lin, (uint16_t)v);
            return;
        default:
            mmu_write32(m, lin, v);
            return;
        }
    }
    switch (size) {
    case 1:
        mmu_sys_write8(m, lin, (uint8_t)v);
        return;
    case 2:
        mmu_sys_write16(m, lin, (uint16_t)v);
        return;
    default:
        mmu_sys_write32(m, lin, v);
        return;
    }
}

bool prot_seg_limit_ok(const struct segment *s, uint32_t off, unsigned size)
{
    uint32_t last = off + size - 1;
    if (last < off) return false;
    if (desc_is_data(s->flags) && (DESC_TYPE(s->flags) & DT_EXPDOWN)) {
        uint32_t upper = SEGF_DB(s->flags) ? 0xffffffffu : 0xffffu;
        return off > s->limit && last <= upper;
    }
    return last <= s->limit;
}

/* ---- stack frames ---- */

void prot_stack_init(struct prot_stack *st, const struct segment *ss, uint32_t esp, unsigned cpl,
                     uint32_t err)
{
    st->ss = *ss;
    st->esp = esp;
    st->mask = SEGF_DB(ss->flags) ? 0xffffffffu : 0xffffu;
    st->user = cpl == 3;
    st->vec = EXC_SS;
    st->err = err;
}

void prot_stack_check_push(struct cpu *cpu, struct prot_stack *st, unsigned n, unsigned size)
{
    uint32_t total = n * size;
    for (unsigned k = 1; k <= n; k++) {
        uint32_t off = (st->esp - k * size) & st->mask;
        if (!prot_seg_limit_ok(&st->ss, off, size)) cpu_fault(cpu, st->vec, st->err);
    }
    uint32_t sp = st->esp & st->mask;
    if (sp >= total || st->mask == 0xffffffffu) {
        /* One contiguous range (a 32-bit stack wraps only at 4 GiB, where the
         * limit check above has already failed). */
        mmu_probe_write(cpu->mmu, st->ss.base + ((st->esp - total) & st->mask), total, st->user);
    } else {
        for (unsigned k = 1; k <= n; k++)
            mmu_probe_write(cpu->mmu, st->ss.base + ((st->esp - k * size) & st->mask), size,
                            st->user);
    }
}

void prot_stack_push(struct cpu *cpu, struct prot_stack *st, unsigned size, uint32_t v)
{
    st->esp = (st->esp & ~st->mask) | ((st->esp - size) & st->mask);
    prot_lin_write(cpu, st->ss.base + (st->esp & st->mask), v, size, st->user);
}

uint32_t prot_stack_read(struct cpu *cpu, struct prot_stack *st, uint32_t delta, unsigned size)
{
    uint32_t off = (st->esp + delta) & st->mask;
    if (!prot_seg_limit_ok(&st->ss, off, size)) cpu_fault(cpu, st->vec, st->err);
    return prot_lin_read(cpu, st->ss.base + off, size, st->user);
}

void prot_tss_inner_stack(struct cpu *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp, uint32_t ext)
{
    const struct segment *tr = &cpu->seg[SEG_TR];
    if (SEGF_TYPE(tr->flags) & 8) {
        uint32_t off = 4 + dpl * 8;
        if (off + 5 > tr->limit) cpu_fault(cpu, EXC_TS, sel_err(tr->sel) | ext);
        *esp = mmu_sys_read32(cpu->mmu, tr->base + off);
        *ss = mmu_sys_read16(cpu->mmu, tr->base + off + 4);
    } else {
        uint32_t off = 2 + dpl * 4;
        if (off + 3 > tr->limit) cpu_fault(cpu, EXC_TS, sel_err(tr->sel) | ext);
        *esp = mmu_sys_read16(cpu->mmu, tr->base + off);
        *ss = mmu_sys_read16(cpu->mmu, tr->base + off + 2);
    }
}

void prot_check_new_ss(struct cpu *cpu, uint16_t sel, unsigned cpl, uint32_t *lo, uint32_t *hi,
                       bool gp, uint32_t ext)
{
    int v = gp ? EXC_GP : EXC_TS;
    if (!(sel & 0xfffc)) cpu_fault(cpu, v, ext);
    if (!cpu_read_descriptor(cpu, sel, lo, hi)) cpu_fault(cpu, v, sel_err(sel) | ext);
    if ((sel & 3u) != cpl || !desc_writable(*hi) || DESC_DPL(*hi) != cpl)
        cpu_fault(cpu, v, sel_err(sel) | ext);
    if (!DESC_P(*hi)) cpu_fault(cpu, EXC_SS, sel_err(sel) | ext);
}

void prot_null_outer_segs(struct cpu *cpu)
{
    static const int segs[] = {SEG_ES, SEG_DS, SEG_FS, SEG_GS};
    for (unsigned k = 0; k < 4; k++) {
        struct segment *s = &cpu->seg[segs[k]];
        bool data_or_nc =
            desc_is_data(s->flags) || (desc_is_code(s->flags) && !desc_conforming(s->flags));
        if (data_or_nc && SEGF_DPL(s->flags) < cpu->cpl) prot_seg_null(cpu, segs[k], 0);
    }
}

void prot_load_cs(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi, unsigned cpl)
{
    sel = (uint16_t)((sel & 0xfffc) | cpl);
    prot_set_accessed(cpu, sel, hi);
    prot_seg_from_desc(&cpu->seg[SEG_CS], sel, lo, hi | (DT_ACCESSED << 8));
    cpu_set_cpl(cpu, cpl);
}

/* ---- segment register loads ---- */

void prot_seg_null(struct cpu *cpu, int seg, uint16_t sel)
{
    struct segment *s = &cpu->seg[seg];
    s->sel = sel;
    s->base = 0;
    s->limit = 0;
    s->flags = 0;
}

void prot_load_v86(struct cpu *cpu, int seg, uint16_t sel)
{
    struct segment *s = &cpu->seg[seg];
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    s->limit = 0xffff;
    s->flags = SEGFL_P | SEGFL_S | (3u << 13) | ((seg == SEG_CS ? 0xbu : 0x3u) << 8);
}

void cpu_load_seg_real(struct cpu *cpu, int seg, uint16_t sel)
{
    if (cpu_v86(cpu)) {
        prot_load_v86(cpu, seg, sel);
        return;
    }
    /* Real mode changes only selector and base; limit and size bits stay
     * (that is what "unreal mode" relies on). A register left unusable by a
     * protected-mode null load becomes an ordinary 64K segment again. */
    struct segment *s = &cpu->seg[seg];
    if (!SEGF_P(s->flags)) {
        s->limit = 0xffff;
        s->flags = 0;
    }
    s->sel = sel;
    s->base = (uint32_t)sel << 4;
    s->flags = (s->flags & (SEGFL_DB | SEGFL_G | 0x1f0000u)) | SEGFL_P | SEGFL_S |
               ((seg == SEG_CS ? 0xbu : 0x3u) << 8);
}

void cpu_load_seg(struct cpu *cpu, int seg, uint16_t sel)
{
    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        cpu_load_seg_real(cpu, seg, sel);
        return;
    }
    assert(seg != SEG_CS && seg < SEG_LDTR);
    unsigned cpl = cpu->cpl, rpl = sel & 3u;
    uint32_t lo, hi;

    if (seg == SEG_SS) {
        if (!(sel & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
        prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);
        if (rpl != cpl || !desc_writable(hi) || DESC_DPL(hi) != cpl)
            cpu_fault(cpu, EXC_GP, sel_err(sel));
        if (!DESC_P(hi)) cpu_fault(cpu, EXC_SS, sel_err(sel));
    } else {
        if (!(sel & 0xfffc)) {
            prot_seg_null(cpu, seg, sel);
            return;
        }
        prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);
        if (!desc_readable(hi)) cpu_fault(cpu, EXC_GP, sel_err(sel));
        if (!desc_conforming(hi)) {
            unsigned dpl = DESC_DPL(hi);
            if (rpl > dpl || cpl > dpl) cpu_fault(cpu, EXC_GP, sel_err(sel));
        }
        if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
    }
    prot_set_accessed(cpu, sel, hi);
    prot_seg_from_desc(&cpu->seg[seg], sel, lo, hi | (DT_ACCESSED << 8));
}

/* ---- far control transfers ---- */

static bool pm_mode(struct cpu *cpu)
{
    return cpu_pm(cpu) && !cpu_v86(cpu);
}

/* JMP/CALL straight to a code segment (SDM JMP/CALL "conforming /
 * non-conforming code segment" branches). */
static void check_direct_code(struct cpu *cpu, uint16_t sel, uint32_t hi)
{
    unsigned dpl = DESC_DPL(hi), rpl = sel & 3u, cpl = cpu->cpl;
    if (desc_conforming(hi)) {
        if (dpl > cpl) cpu_fault(cpu, EXC_GP, sel_err(sel));
    } else if (rpl > cpl || dpl != cpl) {
        cpu_fault(cpu, EXC_GP, sel_err(sel));
    }
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
}

/* A gate or TSS named by a far JMP/CALL: DPL >= max(CPL, RPL), present. */
static void check_gate(struct cpu *cpu, uint16_t sel, uint32_t hi)
{
    unsigned dpl = DESC_DPL(hi);
    if (dpl < cpu->cpl || dpl < (sel & 3u)) cpu_fault(cpu, EXC_GP, sel_err(sel));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
}

/* JMP/CALL to a task gate or a TSS descriptor. */
static void far_task(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi,
                     enum task_reason reason)
{
    unsigned type = DESC_TYPE(hi);
    if (type == SYS_TASKGATE) {
        check_gate(cpu, sel, hi);
        uint16_t tss = gate_sel(lo);
        uint32_t tlo, thi;
        if (tss & 4) cpu_fault(cpu, EXC_GP, sel_err(tss));
        prot_fetch_desc(cpu, tss, &tlo, &thi, EXC_GP, 0);
        unsigned tt = DESC_TYPE(thi);
        if (DESC_S(thi) || (tt != SYS_TSS16_AVAIL && tt != SYS_TSS32_AVAIL))
            cpu_fault(cpu, EXC_GP, sel_err(tss));
        if (!DESC_P(thi)) cpu_fault(cpu, EXC_NP, sel_err(tss));
        cpu_task_switch(cpu, tss, tlo, thi, reason, false, 0);
        return;
    }
    /* A TSS descriptor itself: the busy check comes before the present one. */
    unsigned dpl = DESC_DPL(hi);
    if (dpl < cpu->cpl || dpl < (sel & 3u) || (type & SYS_TSS_BUSY_BIT) || (sel & 4))
        cpu_fault(cpu, EXC_GP, sel_err(sel));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
    cpu_task_switch(cpu, sel, lo, hi, reason, false, 0);
}

/* The code segment a call gate points at (common part of JMP and CALL). */
static void gate_target(struct cpu *cpu, uint32_t glo, uint16_t *cs, uint32_t *lo, uint32_t *hi)
{
    *cs = gate_sel(glo);
    if (!(*cs & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    prot_fetch_desc(cpu, *cs, lo, hi, EXC_GP, 0);
    if (!desc_is_code(*hi) || DESC_DPL(*hi) > cpu->cpl) cpu_fault(cpu, EXC_GP, sel_err(*cs));
}

void cpu_far_jmp(struct cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize)
{
    if (opsize == 2) off &= 0xffff;
    if (!pm_mode(cpu)) {
        if (off > cpu->seg[SEG_CS].limit) cpu_fault(cpu, EXC_GP, 0);
        cpu_load_seg_real(cpu, SEG_CS, sel);
        cpu->eip = off;
        return;
    }
    if (!(sel & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint32_t lo, hi;
    prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);

    if (desc_is_code(hi)) {
        check_direct_code(cpu, sel, hi);
        if (off > desc_limit(lo, hi)) cpu_fault(cpu, EXC_GP, 0);
        prot_load_cs(cpu, sel, lo, hi, cpu->cpl);
        cpu->eip = off;
        return;
    }
    if (DESC_S(hi)) cpu_fault(cpu, EXC_GP, sel_err(sel)); /* a data segment */

    switch (DESC_TYPE(hi)) {
    case SYS_CALLGATE16:
    case SYS_CALLGATE32: {
        check_gate(cpu, sel, hi);
        uint16_t cs;
        uint32_t clo, chi;
        gate_target(cpu, lo, &cs, &clo, &chi);
        if (!desc_conforming(chi) && DESC_DPL(chi) != cpu->cpl) cpu_fault(cpu, EXC_GP, sel_err(cs));
        if (!DESC_P(chi)) cpu_fault(cpu, EXC_NP, sel_err(cs));
        uint32_t goff = gate_offset(lo, hi);
        if (DESC_TYPE(hi) == SYS_CALLGATE16) goff &= 0xffff;
        if (goff > desc_limit(clo, chi)) cpu_fault(cpu, EXC_GP, 0);
        prot_load_cs(cpu, cs, clo, chi, cpu->cpl);
        cpu->eip = goff;
        return;
    }
    case SYS_TASKGATE:
    case SYS_TSS16_AVAIL:
    case SYS_TSS32_AVAIL:
    case SYS_TSS16_BUSY:
    case SYS_TSS32_BUSY:
        far_task(cpu, sel, lo, hi, TASK_JMP);
        return;
    default:
        cpu_fault(cpu, EXC_GP, sel_err(sel));
    }
}

/* CALL through a call gate to a more privileged non-conforming segment:
 * switch to the inner stack from the TSS and copy the parameters (SDM CALL
 * "MORE-PRIVILEGE", §5.8.5). */
static void call_gate_inner(struct cpu *cpu, uint32_t ghi, uint16_t cs, uint32_t clo, uint32_t chi,
                            uint32_t goff)
{
    unsigned dpl = DESC_DPL(chi);
    unsigned gsize = DESC_TYPE(ghi) == SYS_CALLGATE32 ? 4 : 2;
    unsigned pc = ghi & 0x1f;
    uint16_t nss;
    uint32_t nesp, slo, shi;

    prot_tss_inner_stack(cpu, dpl, &nss, &nesp, 0);
    prot_check_new_ss(cpu, nss, dpl, &slo, &shi, false, 0);
    struct segment ss;
    prot_seg_from_desc(&ss, nss, slo, shi | (DT_ACCESSED << 8));

    struct prot_stack st;
    prot_stack_init(&st, &ss, nesp, dpl, sel_err(nss));
    prot_stack_check_push(cpu, &st, 4 + pc, gsize);
    if (goff > desc_limit(clo, chi)) cpu_fault(cpu, EXC_GP, 0);

    struct prot_stack old;
    prot_stack_init(&old, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
    uint32_t params[32];
    for (unsigned k = 0; k < pc; k++)
        params[k] = prot_stack_read(cpu, &old, k * gsize, gsize);

    prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_SS].sel);
    prot_stack_push(cpu, &st, gsize, cpu->regs[R_ESP]);
    for (unsigned k = pc; k-- > 0;)
        prot_stack_push(cpu, &st, gsize, params[k]);
    prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_CS].sel);
    prot_stack_push(cpu, &st, gsize, cpu->eip);

    prot_set_accessed(cpu, nss, shi);
    cpu->seg[SEG_SS] = ss;
    cpu->regs[R_ESP] = st.esp;
    prot_load_cs(cpu, cs, clo, chi, dpl);
    cpu->eip = goff;
}

/* Push CS:EIP on the current stack and enter a code segment at CPL. */
static void call_same_level(struct cpu *cpu, uint16_t cs, uint32_t clo, uint32_t chi, uint32_t off,
                            unsigned size)
{
    struct prot_stack st;
    prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
    prot_stack_check_push(cpu, &st, 2, size);
    if (off > desc_limit(clo, chi)) cpu_fault(cpu, EXC_GP, 0);
    prot_stack_push(cpu, &st, size, cpu->seg[SEG_CS].sel);
    prot_stack_push(cpu, &st, size, cpu->eip);
    prot_load_cs(cpu, cs, clo, chi, cpu->cpl);
    cpu->regs[R_ESP] = st.esp;
    cpu->eip = off;
}

void cpu_far_call(struct cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize)
{
    if (opsize == 2) off &= 0xffff;
    if (!pm_mode(cpu)) {
        struct prot_stack st;
        prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
        prot_stack_check_push(cpu, &st, 2, opsize);
        if (off > cpu->seg[SEG_CS].limit) cpu_fault(cpu, EXC_GP, 0);
        prot_stack_push(cpu, &st, opsize, cpu->seg[SEG_CS].sel);
        prot_stack_push(cpu, &st, opsize, cpu->eip);
        cpu_load_seg_real(cpu, SEG_CS, sel);
        cpu->regs[R_ESP] = st.esp;
        cpu->eip = off;
        return;
    }
    if (!(sel & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint32_t lo, hi;
    prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);

    if (desc_is_code(hi)) {
        check_direct_code(cpu, sel, hi);
        call_same_level(cpu, sel, lo, hi, off, opsize);
        return;
    }
    if (DESC_S(hi)) cpu_fault(cpu, EXC_GP, sel_err(sel));

    switch (DESC_TYPE(hi)) {
    case SYS_CALLGATE16:
    case SYS_CALLGATE32: {
        check_gate(cpu, sel, hi);
        uint16_t cs;
        uint32_t clo, chi;
        gate_target(cpu, lo, &cs, &clo, &chi);
        if (!DESC_P(chi)) cpu_fault(cpu, EXC_NP, sel_err(cs));
        uint32_t goff = gate_offset(lo, hi);
        unsigned gsize = DESC_TYPE(hi) == SYS_CALLGATE32 ? 4 : 2;
        if (gsize == 2) goff &= 0xffff;
        if (!desc_conforming(chi) && DESC_DPL(chi) < cpu->cpl)
            call_gate_inner(cpu, hi, cs, clo, chi, goff);
        else
            call_same_level(cpu, cs, clo, chi, goff, gsize);
        return;
    }
    case SYS_TASKGATE:
    case SYS_TSS16_AVAIL:
    case SYS_TSS32_AVAIL:
    case SYS_TSS16_BUSY:
    case SYS_TSS32_BUSY:
        far_task(cpu, sel, lo, hi, TASK_CALL);
        return;
    default:
        cpu_fault(cpu, EXC_GP, sel_err(sel));
    }
}

void cpu_far_ret(struct cpu *cpu, unsigned opsize, uint16_t imm)
{
    struct prot_stack st;
    prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
    uint32_t eip = prot_stack_read(cpu, &st, 0, opsize);
    uint16_t cs = (uint16_t)prot_stack_read(cpu, &st, opsize, opsize);
    uint32_t popped = 2 * opsize + imm;

    if (!pm_mode(cpu)) {
        if (eip > cpu->seg[SEG_CS].limit) cpu_fault(cpu, EXC_GP, 0);
        cpu_load_seg_real(cpu, SEG_CS, cs);
        cpu->eip = eip;
        cpu->regs[R_ESP] = prot_stack_pop_esp(&st, popped);
        return;
    }
    if (!(cs & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint32_t lo, hi;
    prot_fetch_desc(cpu, cs, &lo, &hi, EXC_GP, 0);
    unsigned rpl = cs & 3u, dpl = DESC_DPL(hi);
    if (!desc_is_code(hi) || rpl < cpu->cpl) cpu_fault(cpu, EXC_GP, sel_err(cs));
    if (desc_conforming(hi) ? dpl > rpl : dpl != rpl) cpu_fault(cpu, EXC_GP, sel_err(cs));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(cs));

    if (rpl == cpu->cpl) {
        if (eip > desc_limit(lo, hi)) cpu_fault(cpu, EXC_GP, 0);
        prot_load_cs(cpu, cs, lo, hi, rpl);
        cpu->eip = eip;
        cpu->regs[R_ESP] = prot_stack_pop_esp(&st, popped);
        return;
    }

    /* Return to an outer level: SS:ESP of the caller sit above the
     * parameters that imm releases. */
    uint32_t nesp = prot_stack_read(cpu, &st, popped, opsize);
    uint16_t nss = (uint16_t)prot_stack_read(cpu, &st, popped + opsize, opsize);
    uint32_t slo, shi;
    prot_check_new_ss(cpu, nss, rpl, &slo, &shi, true, 0);
    if (eip > desc_limit(lo, hi)) cpu_fault(cpu, EXC_GP, 0);
    prot_set_accessed(cpu, nss, shi);
    prot_load_cs(cpu, cs, lo, hi, rpl);
    cpu->eip = eip;
    prot_seg_from_desc(&cpu->seg[SEG_SS], nss, slo, shi | (DT_ACCESSED << 8));
    if (DESC_DB(shi))
        cpu->regs[R_ESP] = nesp + imm;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | ((nesp + imm) & 0xffffu);
    prot_null_outer_segs(cpu);
}
