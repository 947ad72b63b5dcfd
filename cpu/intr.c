/*
 * intr.c — exceptions, interrupts, IRET, double and triple fault.
 *
 * SDM vol. 3 ch. 6 (interrupt and exception handling: §6.3 sources, §6.12
 * IDT gates and stack switching, §6.13 error codes, §6.15 table 6-5 for the
 * double-fault classes) and ch. 20 (real-address and virtual-8086 mode
 * interrupts); vol. 2 "INT n/INTO/INT3" and "IRET/IRETD" pseudocode, whose
 * order of checks and error-code selectors is followed exactly.
 *
 * Design choice: a fault is one longjmp to the run loop (cpu_fault), which
 * then calls cpu_deliver().  While an exception is being delivered
 * cpu->pending_exc holds its vector; a fault during that delivery lands in
 * cpu_fault again, which sees pending_exc and turns the pair into #DF, or
 * into a shutdown (triple fault, longjmp value 2) if #DF itself was being
 * delivered.  Delivery checks everything and writes the whole stack frame
 * before it commits any register, so a fault during delivery restarts
 * cleanly.
 */
#include "cpu/desc.h"

enum exc_class { EXC_BENIGN, EXC_CONTRIB, EXC_PAGE, EXC_DOUBLE };

static enum exc_class exc_class(int v)
{
    switch (v) {
    case EXC_DE:
    case EXC_TS:
    case EXC_NP:
    case EXC_SS:
    case EXC_GP:
        return EXC_CONTRIB;
    case EXC_PF:
        return EXC_PAGE;
    case EXC_DF:
        return EXC_DOUBLE;
    default:
        return EXC_BENIGN;
    }
}

static bool exc_is_fault(int v)
{
    switch (v) {
    case EXC_DE: case EXC_BR: case EXC_UD: case EXC_NM: case EXC_TS: case EXC_NP:
    case EXC_SS: case EXC_GP: case EXC_PF: case EXC_MF: case EXC_AC: case EXC_XM:
        return true;
    default:
        return false;
    }
}

bool cpu_exception_has_error(int vector)
{
    switch (vector) {
    case EXC_DF:
    case EXC_TS:
    case EXC_NP:
    case EXC_SS:
    case EXC_GP:
    case EXC_PF:
    case EXC_AC:
        return true;
    default:
        return false;
    }
}

void cpu_fault(struct cpu *cpu, int vector, uint32_t error_code)
{
    cpu_sync_insn_eip(cpu);
    if (cpu->pending_exc != -1) {
        enum exc_class first = exc_class(cpu->pending_exc), second = exc_class(vector);
        if (first == EXC_DOUBLE) {
            cpu->shutdown = true;
            cpu->shutdown_reason = vector;
            cpu->shutdown_cs = cpu->seg[SEG_CS].sel;
            cpu->shutdown_eip = cpu->insn_eip;
            cpu->pending_exc = -1;
            cpu->eip = cpu->insn_eip;
            CPU_LOG(cpu, LOG_INT, "triple fault: vector 0x%02x during #DF at %04x:%08x\n", vector,
                    cpu->shutdown_cs, cpu->shutdown_eip);
            longjmp(cpu->exc_jmp, 2);
        }
        if ((first == EXC_CONTRIB && second == EXC_CONTRIB) ||
            (first == EXC_PAGE && (second == EXC_CONTRIB || second == EXC_PAGE))) {
            CPU_LOG(cpu, LOG_INT, "double fault: vector 0x%02x during 0x%02x\n", vector,
                    cpu->pending_exc);
            vector = EXC_DF;
            error_code = 0;
        }
    }
    cpu->fault_vector = vector;
    cpu->fault_error = error_code;
    cpu->eip = cpu->insn_eip;
    longjmp(cpu->exc_jmp, 1);
}

void cpu_mmu_page_fault(void *opaque, uint32_t gva, uint32_t error_code)
{
    struct cpu *cpu = opaque;
    cpu->cr2 = gva;
    cpu_fault(cpu, EXC_PF, error_code);
}

static const char *kind_name(enum intr_kind k)
{
    switch (k) {
    case INTR_EXCEPTION:
        return "exception";
    case INTR_SOFTWARE:
        return "software";
    case INTR_EXTERNAL:
        return "external";
    default:
        return "nmi";
    }
}

/* Real-address mode: the IVT holds 4-byte IP:CS pairs (SDM §20.1.4). */
static void deliver_real(struct cpu *cpu, int vector)
{
    if ((uint32_t)vector * 4 + 3 > cpu->idtr.limit) cpu_fault(cpu, EXC_GP, 0);
    uint32_t ent = mmu_sys_read32(cpu->mmu, cpu->idtr.base + (uint32_t)vector * 4);
    struct prot_stack st;
    prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], 0, 0);
    prot_stack_check_push(cpu, &st, 3, 2);
    uint32_t fl = cpu_get_eflags(cpu);
    prot_stack_push(cpu, &st, 2, fl);
    prot_stack_push(cpu, &st, 2, cpu->seg[SEG_CS].sel);
    prot_stack_push(cpu, &st, 2, cpu->eip);
    cpu->regs[R_ESP] = st.esp;
    cpu_load_seg_real(cpu, SEG_CS, (uint16_t)(ent >> 16));
    cpu->eip = ent & 0xffff;
    cpu_set_eflags(cpu, fl & ~(FL_IF | FL_TF | FL_AC | FL_RF));
}

static void deliver_pm(struct cpu *cpu, int vector, enum intr_kind kind, bool has_error,
                       uint32_t error_code)
{
    uint32_t ext = kind == INTR_SOFTWARE ? 0 : 1;
    uint32_t idt_err = (uint32_t)vector * 8 + 2 + ext;
    if ((uint32_t)vector * 8 + 7 > cpu->idtr.limit) cpu_fault(cpu, EXC_GP, idt_err);
    uint32_t lo = mmu_sys_read32(cpu->mmu, cpu->idtr.base + (uint32_t)vector * 8);
    uint32_t hi = mmu_sys_read32(cpu->mmu, cpu->idtr.base + (uint32_t)vector * 8 + 4);
    unsigned type = DESC_TYPE(hi);
    if (DESC_S(hi) || (type != SYS_TASKGATE && type != SYS_INTGATE16 && type != SYS_TRAPGATE16 &&
                       type != SYS_INTGATE32 && type != SYS_TRAPGATE32))
        cpu_fault(cpu, EXC_GP, idt_err);
    /* Only INT n / INT3 / INTO are checked against the gate's DPL; this is
     * how an OS keeps user code from calling exception handlers. */
    if (kind == INTR_SOFTWARE && DESC_DPL(hi) < cpu->cpl)
        cpu_fault(cpu, EXC_GP, (uint32_t)vector * 8 + 2);
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, idt_err);

    if (type == SYS_TASKGATE) {
        uint16_t tss = gate_sel(lo);
        uint32_t tlo, thi;
        if (tss & 4) cpu_fault(cpu, EXC_GP, sel_err(tss) | ext);
        prot_fetch_desc(cpu, tss, &tlo, &thi, EXC_GP, ext);
        unsigned tt = DESC_TYPE(thi);
        if (DESC_S(thi) || (tt != SYS_TSS16_AVAIL && tt != SYS_TSS32_AVAIL))
            cpu_fault(cpu, EXC_GP, sel_err(tss) | ext);
        if (!DESC_P(thi)) cpu_fault(cpu, EXC_NP, sel_err(tss) | ext);
        cpu_task_switch(cpu, tss, tlo, thi, TASK_INT, has_error, error_code);
        return;
    }

    unsigned gsize = (type & 8) ? 4 : 2;
    bool int_gate = !(type & 1);
    uint32_t off = gate_offset(lo, hi);
    if (gsize == 2) off &= 0xffff;
    uint16_t cs = gate_sel(lo);
    if (!(cs & 0xfffc)) cpu_fault(cpu, EXC_GP, ext);
    uint32_t clo, chi;
    prot_fetch_desc(cpu, cs, &clo, &chi, EXC_GP, ext);
    if (!desc_is_code(chi) || DESC_DPL(chi) > cpu->cpl) cpu_fault(cpu, EXC_GP, sel_err(cs) | ext);
    if (!DESC_P(chi)) cpu_fault(cpu, EXC_NP, sel_err(cs) | ext);

    unsigned dpl = DESC_DPL(chi);
    bool v86 = cpu_v86(cpu);
    uint32_t fl = cpu_get_eflags(cpu);
    uint32_t newfl = fl & ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (int_gate) newfl &= ~FL_IF;

    if (!desc_conforming(chi) && dpl < cpu->cpl) {
        /* Inter-privilege: new stack from the TSS (§6.12.1). From v86 the
         * handler must be at ring 0, and the data segments are saved on the
         * new stack and nulled. */
        if (v86 && dpl != 0) cpu_fault(cpu, EXC_GP, sel_err(cs) | ext);
        uint16_t nss;
        uint32_t nesp, slo, shi;
        prot_tss_inner_stack(cpu, dpl, &nss, &nesp, ext);
        prot_check_new_ss(cpu, nss, dpl, &slo, &shi, false, ext);
        struct segment ss;
        prot_seg_from_desc(&ss, nss, slo, shi | (DT_ACCESSED << 8));
        struct prot_stack st;
        prot_stack_init(&st, &ss, nesp, dpl, sel_err(nss) | ext);
        prot_stack_check_push(cpu, &st, (v86 ? 9 : 5) + (has_error ? 1 : 0), gsize);
        if (off > desc_limit(clo, chi)) cpu_fault(cpu, EXC_GP, ext);
        if (v86) {
            prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_GS].sel);
            prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_FS].sel);
            prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_DS].sel);
            prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_ES].sel);
        }
        prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_SS].sel);
        prot_stack_push(cpu, &st, gsize, cpu->regs[R_ESP]);
        prot_stack_push(cpu, &st, gsize, fl);
        prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_CS].sel);
        prot_stack_push(cpu, &st, gsize, cpu->eip);
        if (has_error) prot_stack_push(cpu, &st, gsize, error_code);
        prot_set_accessed(cpu, nss, shi);
        prot_load_cs(cpu, cs, clo, chi, dpl);
        if (v86) {
            prot_seg_null(cpu, SEG_ES, 0);
            prot_seg_null(cpu, SEG_DS, 0);
            prot_seg_null(cpu, SEG_FS, 0);
            prot_seg_null(cpu, SEG_GS, 0);
        }
        cpu->seg[SEG_SS] = ss;
        cpu->regs[R_ESP] = st.esp;
        cpu->eip = off;
        cpu_set_eflags(cpu, newfl);
        return;
    }

    if (v86) cpu_fault(cpu, EXC_GP, sel_err(cs) | ext);
    struct prot_stack st;
    prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, ext);
    prot_stack_check_push(cpu, &st, 3 + (has_error ? 1 : 0), gsize);
    if (off > desc_limit(clo, chi)) cpu_fault(cpu, EXC_GP, ext);
    prot_stack_push(cpu, &st, gsize, fl);
    prot_stack_push(cpu, &st, gsize, cpu->seg[SEG_CS].sel);
    prot_stack_push(cpu, &st, gsize, cpu->eip);
    if (has_error) prot_stack_push(cpu, &st, gsize, error_code);
    prot_load_cs(cpu, cs, clo, chi, cpu->cpl);
    cpu->regs[R_ESP] = st.esp;
    cpu->eip = off;
    cpu_set_eflags(cpu, newfl);
}

void cpu_deliver(struct cpu *cpu, int vector, enum intr_kind kind, bool has_error,
                 uint32_t error_code)
{
    /* A fault while delivering an event that is not an instruction of its
     * own (exception, IRQ, NMI) must report the address the event was
     * going to return to; INT n restarts at the INT itself. */
    if (kind != INTR_SOFTWARE) cpu->insn_eip = cpu->eip;
    /* The EFLAGS image of a fault-class exception carries RF=1 so that
     * IRET back to the faulting instruction does not retrigger an
     * instruction breakpoint on it (SDM Vol. 3 §17.3.1.1).  #DB is never
     * forced (breakpoint faults push RF as it was; the rest are traps), nor
     * the traps #BP/#OF or the aborts.  Delivery clears RF for the handler. */
    if (kind == INTR_EXCEPTION && exc_is_fault(vector)) cpu->eflags |= FL_RF;
    if (kind == INTR_EXCEPTION) {
        cpu->pending_exc = vector;
        cpu->stats.exceptions++;
    } else {
        cpu->stats.interrupts++;
    }
    CPU_LOG(cpu, LOG_INT, "%s 0x%02x err=%04x at %04x:%08x cpl=%u\n", kind_name(kind), vector,
            has_error ? error_code : 0, cpu->seg[SEG_CS].sel, cpu->eip, cpu->cpl);
    if (cpu->hooks.exception)
        cpu->hooks.exception(cpu->hooks.opaque, vector, has_error ? error_code : 0, cpu->eip);

    if (!cpu_pm(cpu))
        deliver_real(cpu, vector);
    else
        deliver_pm(cpu, vector, kind, has_error, error_code);
    cpu->pending_exc = -1;
    cpu->halted = false;
}

/* ---- IRET ---- */

#define FL_ARITH_TF_DF (FL_ARITH | FL_TF | FL_DF)

void prot_write_eflags(struct cpu *cpu, uint32_t image, uint32_t mask)
{
    uint32_t old = cpu_get_eflags(cpu);
    cpu_set_eflags(cpu, (old & ~mask) | (image & mask) | 2u);
}

void cpu_iret(struct cpu *cpu, unsigned opsize)
{
    struct prot_stack st;
    uint32_t fl_old = cpu_get_eflags(cpu);
    unsigned iopl = (fl_old & FL_IOPL) >> 12;

    if (cpu_pm(cpu) && !cpu_v86(cpu) && (fl_old & FL_NT)) {
        /* Return from a nested task through the TSS back-link (§7.3). */
        uint16_t link = mmu_sys_read16(cpu->mmu, cpu->seg[SEG_TR].base);
        uint32_t lo, hi;
        if (link & 4) cpu_fault(cpu, EXC_TS, sel_err(link));
        prot_fetch_desc(cpu, link, &lo, &hi, EXC_TS, 0);
        unsigned t = DESC_TYPE(hi);
        if (DESC_S(hi) || (t != SYS_TSS16_BUSY && t != SYS_TSS32_BUSY))
            cpu_fault(cpu, EXC_TS, sel_err(link));
        if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(link));
        cpu_task_switch(cpu, link, lo, hi, TASK_IRET, false, 0);
        return;
    }
    if (cpu_v86(cpu) && iopl < 3) cpu_fault(cpu, EXC_GP, 0);

    prot_stack_init(&st, &cpu->seg[SEG_SS], cpu->regs[R_ESP], cpu->cpl, 0);
    uint32_t eip = prot_stack_read(cpu, &st, 0, opsize);
    uint16_t cs = (uint16_t)prot_stack_read(cpu, &st, opsize, opsize);
    uint32_t fl = prot_stack_read(cpu, &st, 2 * opsize, opsize);

    if (!cpu_pm(cpu) || cpu_v86(cpu)) {
        uint32_t mask;
        if (!cpu_pm(cpu))
            mask = opsize == 4 ? 0x257fd5u : 0xffffu;
        else /* v86 with IOPL 3: IOPL, VM, VIF, VIP stay */
            mask = opsize == 4 ? (0x257fd5u & ~FL_IOPL) : (0xffffu & ~FL_IOPL);
        if (eip > cpu->seg[SEG_CS].limit) cpu_fault(cpu, EXC_GP, 0);
        cpu_load_seg_real(cpu, SEG_CS, cs);
        cpu->eip = eip;
        cpu->regs[R_ESP] = prot_stack_pop_esp(&st, 3 * opsize);
        prot_write_eflags(cpu, fl, mask);
        return;
    }

    if (opsize == 4 && (fl & FL_VM) && cpu->cpl == 0) {
        /* Return to virtual-8086 mode: the frame continues with ESP, SS, ES,
         * DS, FS, GS. */
        uint32_t nesp = prot_stack_read(cpu, &st, 12, 4);
        uint16_t sel[5];
        for (unsigned k = 0; k < 5; k++)
            sel[k] = (uint16_t)prot_stack_read(cpu, &st, 16 + 4 * k, 4);
        if (eip > 0xffff) cpu_fault(cpu, EXC_GP, 0);
        cpu_set_eflags(cpu, fl | 2u);
        prot_load_v86(cpu, SEG_CS, cs);
        prot_load_v86(cpu, SEG_SS, sel[0]);
        prot_load_v86(cpu, SEG_ES, sel[1]);
        prot_load_v86(cpu, SEG_DS, sel[2]);
        prot_load_v86(cpu, SEG_FS, sel[3]);
        prot_load_v86(cpu, SEG_GS, sel[4]);
        cpu->regs[R_ESP] = nesp;
        cpu->eip = eip;
        cpu_set_cpl(cpu, 3);
        return;
    }

    if (!(cs & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint32_t lo, hi;
    prot_fetch_desc(cpu, cs, &lo, &hi, EXC_GP, 0);
    unsigned rpl = cs & 3u, dpl = DESC_DPL(hi), cpl = cpu->cpl;
    if (!desc_is_code(hi) || rpl < cpl) cpu_fault(cpu, EXC_GP, sel_err(cs));
    if (desc_conforming(hi) ? dpl > rpl : dpl != rpl) cpu_fault(cpu, EXC_GP, sel_err(cs));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(cs));

    /* Which EFLAGS bits the image may change depends on the CPL before the
     * return (SDM IRET, "RETURN-TO-SAME/OUTER-PRIVILEGE-LEVEL"). */
    uint32_t mask = FL_ARITH_TF_DF | FL_NT;
    if (opsize == 4) mask |= FL_RF | FL_AC | FL_ID;
    if (cpl <= iopl) mask |= FL_IF;
    if (cpl == 0) {
        mask |= FL_IOPL;
        if (opsize == 4) mask |= FL_VIF | FL_VIP;
    }
    if (opsize == 2) mask &= 0xffff;

    if (rpl == cpl) {
        if (eip > desc_limit(lo, hi)) cpu_fault(cpu, EXC_GP, 0);
        prot_load_cs(cpu, cs, lo, hi, cpl);
        cpu->eip = eip;
        cpu->regs[R_ESP] = prot_stack_pop_esp(&st, 3 * opsize);
        prot_write_eflags(cpu, fl, mask);
        return;
    }

    uint32_t nesp = prot_stack_read(cpu, &st, 3 * opsize, opsize);
    uint16_t nss = (uint16_t)prot_stack_read(cpu, &st, 4 * opsize, opsize);
    uint32_t slo, shi;
    prot_check_new_ss(cpu, nss, rpl, &slo, &shi, true, 0);
    if (eip > desc_limit(lo, hi)) cpu_fault(cpu, EXC_GP, 0);
    prot_set_accessed(cpu, nss, shi);
    prot_load_cs(cpu, cs, lo, hi, rpl);
    cpu->eip = eip;
    prot_write_eflags(cpu, fl, mask);
    prot_seg_from_desc(&cpu->seg[SEG_SS], nss, slo, shi | (DT_ACCESSED << 8));
    if (DESC_DB(shi))
        cpu->regs[R_ESP] = nesp;
    else
        cpu->regs[R_ESP] = (cpu->regs[R_ESP] & 0xffff0000u) | (nesp & 0xffffu);
    prot_null_outer_segs(cpu);
}
