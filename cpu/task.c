/*
 * task.c — hardware task switches through a TSS (32-bit and 16-bit).
 *
 * SDM vol. 3 ch. 7: §7.2 TSS layouts, §7.3 the task-switch steps, table 7-1
 * (the checks made while loading the new task and the faults they raise),
 * §7.4 nesting (NT flag, previous-task link, busy bit).
 *
 * Design choice: everything that can fault in the context of the old task
 * (limits, readability of the new TSS, writability of the old one) happens
 * before the first write; from the point the old state is saved the switch
 * is committed, insn_eip becomes the new task's EIP, and the descriptor
 * checks of the new segment registers raise their faults (#TS/#NP/#SS with
 * the offending selector) in the new task, as the SDM specifies.  Until a
 * register's descriptor is validated it is left unusable.
 *
 * 16-bit TSS: the upper halves of the general registers become 0xffff and
 * FS/GS are null, as on Intel hardware.
 */
#include "cpu/desc.h"

struct tss_state {
    uint32_t cr3, eip, eflags;
    uint32_t regs[8];
    uint16_t seg[6]; /* ES CS SS DS FS GS */
    uint16_t ldt;
};

static void read_tss(struct cpu *cpu, uint32_t base, bool is32, struct tss_state *t)
{
    struct mmu *m = cpu->mmu;
    if (is32) {
        t->cr3 = mmu_sys_read32(m, base + 0x1c);
        t->eip = mmu_sys_read32(m, base + 0x20);
        t->eflags = mmu_sys_read32(m, base + 0x24);
        for (unsigned r = 0; r < 8; r++)
            t->regs[r] = mmu_sys_read32(m, base + 0x28 + 4 * r);
        for (unsigned s = 0; s < 6; s++)
            t->seg[s] = mmu_sys_read16(m, base + 0x48 + 4 * s);
        t->ldt = mmu_sys_read16(m, base + 0x60);
    } else {
        t->cr3 = 0;
        t->eip = mmu_sys_read16(m, base + 14);
        t->eflags = mmu_sys_read16(m, base + 16);
        for (unsigned r = 0; r < 8; r++)
            t->regs[r] = 0xffff0000u | mmu_sys_read16(m, base + 18 + 2 * r);
        for (unsigned s = 0; s < 4; s++)
            t->seg[s] = mmu_sys_read16(m, base + 34 + 2 * s);
        t->seg[SEG_FS] = t->seg[SEG_GS] = 0;
        t->ldt = mmu_sys_read16(m, base + 42);
    }
}

static void save_tss(struct cpu *cpu, uint32_t base, bool is32, uint32_t eflags)
{
    struct mmu *m = cpu->mmu;
    if (is32) {
        mmu_sys_write32(m, base + 0x20, cpu->eip);
        mmu_sys_write32(m, base + 0x24, eflags);
        for (unsigned r = 0; r < 8; r++)
            mmu_sys_write32(m, base + 0x28 + 4 * r, cpu->regs[r]);
        for (unsigned s = 0; s < 6; s++)
            mmu_sys_write16(m, base + 0x48 + 4 * s, cpu->seg[s].sel);
    } else {
        mmu_sys_write16(m, base + 14, (uint16_t)cpu->eip);
        mmu_sys_write16(m, base + 16, (uint16_t)eflags);
        for (unsigned r = 0; r < 8; r++)
            mmu_sys_write16(m, base + 18 + 2 * r, (uint16_t)cpu->regs[r]);
        for (unsigned s = 0; s < 4; s++)
            mmu_sys_write16(m, base + 34 + 2 * s, cpu->seg[s].sel);
    }
}

/* Data segment register of the new task (table 7-1). */
static void load_task_data_seg(struct cpu *cpu, int seg, uint16_t sel)
{
    if (!(sel & 0xfffc)) {
        prot_seg_null(cpu, seg, sel);
        return;
    }
    uint32_t lo, hi;
    prot_fetch_desc(cpu, sel, &lo, &hi, EXC_TS, 0);
    unsigned dpl = DESC_DPL(hi);
    if (!desc_readable(hi)) cpu_fault(cpu, EXC_TS, sel_err(sel));
    if (!desc_conforming(hi) && (dpl < cpu->cpl || dpl < (sel & 3u)))
        cpu_fault(cpu, EXC_TS, sel_err(sel));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
    prot_set_accessed(cpu, sel, hi);
    prot_seg_from_desc(&cpu->seg[seg], sel, lo, hi | (DT_ACCESSED << 8));
}

void cpu_task_switch(struct cpu *cpu, uint16_t tss_sel, uint32_t desc_lo, uint32_t desc_hi,
                     enum task_reason reason, bool has_error, uint32_t error_code)
{
    static const char *const reasons[] = {"jmp", "call", "iret", "int"};
    struct mmu *m = cpu->mmu;
    unsigned ntype = DESC_TYPE(desc_hi);
    bool n32 = ntype & 8;
    uint32_t nbase = desc_base(desc_lo, desc_hi), nlimit = desc_limit(desc_lo, desc_hi);
    struct segment *tr = &cpu->seg[SEG_TR];
    bool o32 = SEGF_TYPE(tr->flags) & 8;
    uint16_t old_sel = tr->sel;

    CPU_LOG(cpu, LOG_INT, "task switch (%s) %04x -> %04x\n", reasons[reason], old_sel, tss_sel);

    /* Checks in the old task's context. */
    if (!desc_is_tss(desc_hi)) cpu_fault(cpu, EXC_GP, sel_err(tss_sel));
    bool busy = ntype & SYS_TSS_BUSY_BIT;
    if (reason == TASK_IRET ? !busy : busy)
        cpu_fault(cpu, reason == TASK_IRET ? EXC_TS : EXC_GP, sel_err(tss_sel));
    if (nlimit < (n32 ? 0x67u : 0x2bu)) cpu_fault(cpu, EXC_TS, sel_err(tss_sel));
    if (!SEGF_P(tr->flags) || tr->limit < (o32 ? 0x5fu : 0x29u))
        cpu_fault(cpu, EXC_TS, sel_err(old_sel));

    struct tss_state t;
    read_tss(cpu, nbase, n32, &t);
    if (o32)
        mmu_probe_write(m, tr->base + 0x20, 0x40, false);
    else
        mmu_probe_write(m, tr->base + 14, 28, false);
    bool nest = reason == TASK_CALL || reason == TASK_INT;
    if (nest) mmu_probe_write(m, nbase, 2, false);

    /* Commit: save the outgoing task. */
    uint32_t eflags = cpu_get_eflags(cpu);
    if (reason == TASK_JMP || reason == TASK_IRET) prot_set_tss_busy(cpu, old_sel, false);
    if (reason == TASK_IRET) eflags &= ~FL_NT;
    save_tss(cpu, tr->base, o32, eflags);
    if (nest) {
        mmu_sys_write16(m, nbase, old_sel);
        t.eflags |= FL_NT;
    }
    if (reason != TASK_IRET) prot_set_tss_busy(cpu, tss_sel, true);
    prot_seg_from_desc(tr, tss_sel, desc_lo, desc_hi | (SYS_TSS_BUSY_BIT << 8));
    cpu->cr0 |= CR0_TS;

    /* Load the incoming task; from here faults belong to it. */
    if (n32 && (cpu->cr0 & CR0_PG)) cpu_write_cr3(cpu, t.cr3);
    cpu->eip = t.eip;
    cpu->insn_eip = t.eip;
    cpu_set_eflags(cpu, t.eflags | 2u);
    for (unsigned r = 0; r < 8; r++)
        cpu->regs[r] = t.regs[r];
    for (unsigned s = 0; s < 6; s++)
        prot_seg_null(cpu, (int)s, t.seg[s]);
    prot_seg_null(cpu, SEG_LDTR, t.ldt);

    if (t.ldt & 0xfffc) {
        uint32_t lo, hi;
        if (t.ldt & 4) cpu_fault(cpu, EXC_TS, sel_err(t.ldt));
        prot_fetch_desc(cpu, t.ldt, &lo, &hi, EXC_TS, 0);
        if (DESC_S(hi) || DESC_TYPE(hi) != SYS_LDT || !DESC_P(hi))
            cpu_fault(cpu, EXC_TS, sel_err(t.ldt));
        prot_seg_from_desc(&cpu->seg[SEG_LDTR], t.ldt, lo, hi);
    }

    if (t.eflags & FL_VM) {
        for (unsigned s = 0; s < 6; s++)
            prot_load_v86(cpu, (int)s, t.seg[s]);
        cpu_set_cpl(cpu, 3);
    } else {
        uint16_t cs = t.seg[SEG_CS];
        unsigned cpl = cs & 3u;
        uint32_t lo, hi;
        cpu_set_cpl(cpu, cpl);
        if (!(cs & 0xfffc)) cpu_fault(cpu, EXC_TS, 0);
        prot_fetch_desc(cpu, cs, &lo, &hi, EXC_TS, 0);
        unsigned dpl = DESC_DPL(hi);
        if (!desc_is_code(hi) || (desc_conforming(hi) ? dpl > cpl : dpl != cpl))
            cpu_fault(cpu, EXC_TS, sel_err(cs));
        if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(cs));
        prot_load_cs(cpu, cs, lo, hi, cpl);

        uint16_t ss = t.seg[SEG_SS];
        prot_check_new_ss(cpu, ss, cpl, &lo, &hi, false, 0);
        prot_set_accessed(cpu, ss, hi);
        prot_seg_from_desc(&cpu->seg[SEG_SS], ss, lo, hi | (DT_ACCESSED << 8));

        load_task_data_seg(cpu, SEG_ES, t.seg[SEG_ES]);
        load_task_data_seg(cpu, SEG_DS, t.seg[SEG_DS]);
        load_task_data_seg(cpu, SEG_FS, t.seg[SEG_FS]);
        load_task_data_seg(cpu, SEG_GS, t.seg[SEG_GS]);
    }

    if (has_error) {
        unsigned size = n32 ? 4 : 2;
        struct prot_stack st;
        prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
        prot_stack_check_push(cpu, &st, 1, size);
        prot_stack_push(cpu, &st, size, error_code);
        cpu->regs[R_ESP] = st.esp;
    }
    if (cpu->eip > cpu->seg[SEG_CS].limit) cpu_fault(cpu, EXC_GP, 0);
}
