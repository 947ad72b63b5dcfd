/*
 * sys.c — system and privilege-sensitive instructions: descriptor-table
 * registers (SLDT/STR/LLDT/LTR/VERR/VERW, SGDT/SIDT/LGDT/LIDT/SMSW/LMSW/
 * INVLPG, LAR/LSL, ARPL), control and debug registers, MSRs, TSC, CPUID,
 * SYSENTER/SYSEXIT, HLT, CLI/STI, PUSHF/POPF, INT n/INT3/INTO/INT1, IRET,
 * and port I/O with its protection (IOPL and the TSS I/O permission bitmap).
 *
 * SDM vol. 2 instruction pages for each, vol. 3 §2.5 (control registers),
 * §16.5 (I/O permission bitmap), §20.2 (v86 sensitive instructions), and the
 * P6 MSR list (vol. 4).
 *
 * Design choice: the CPUID feature word is one constant (CPUID_EDX); CR4
 * accepts only the bits of features it reports, so a guest never enables a
 * mode the emulator lacks.  The TSC is the machine clock (ns) when the
 * machine provides one, else the retired-instruction count, so -icount runs
 * stay deterministic.  VME/PVI are not implemented (CPUID says so), hence
 * the IOPL-sensitive instructions in v86 mode always #GP when IOPL < 3.
 */
#include "cpu/desc.h"
#include "cpu/ops_sys.h"

/* CPUID.1:EDX bits. */
#define CPUID_FPU (1u << 0)
#define CPUID_VME (1u << 1)
#define CPUID_DE (1u << 2)
#define CPUID_PSE (1u << 3)
#define CPUID_TSC (1u << 4)
#define CPUID_MSR (1u << 5)
#define CPUID_PAE (1u << 6)
#define CPUID_MCE (1u << 7)
#define CPUID_CX8 (1u << 8)
#define CPUID_APIC (1u << 9)
#define CPUID_SEP (1u << 11)
#define CPUID_PGE (1u << 13)
#define CPUID_CMOV (1u << 15)

/* What works: the x87 (fpu.c), 4 MiB pages, PAE with NX and global pages
 * (mmu/walk.c, mmu/tlb.c), the local APIC (the machine's, at apic_base).
 * Not VME, MCE, MTRR, PAT, FXSR. */
#define CPUID_EDX                                                                                  \
    (CPUID_FPU | CPUID_DE | CPUID_PSE | CPUID_TSC | CPUID_MSR | CPUID_PAE | CPUID_CX8 |           \
     CPUID_APIC | CPUID_SEP | CPUID_PGE | CPUID_CMOV)
/* Extended leaf 0x80000001 EDX: execute-disable (EFER.NXE) only. */
#define CPUID_EXT_NX (1u << 20)
#define EFER_NXE (1ull << 11)
/* Pentium II (Deschutes-like): family 6, model 8, stepping 3. */
#define CPUID_SIGNATURE 0x00000683u

#define CR0_VALID                                                                                  \
    (CR0_PE | CR0_MP | CR0_EM | CR0_TS | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_NW | CR0_CD |     \
     CR0_PG)
#define CR4_VALID                                                                                  \
    (CR4_TSD | CR4_DE | CR4_PCE | ((CPUID_EDX & CPUID_VME) ? CR4_VME | CR4_PVI : 0) |              \
     ((CPUID_EDX & CPUID_PSE) ? CR4_PSE : 0) | ((CPUID_EDX & CPUID_PAE) ? CR4_PAE : 0) |           \
     ((CPUID_EDX & CPUID_MCE) ? CR4_MCE : 0) | ((CPUID_EDX & CPUID_PGE) ? CR4_PGE : 0))

static bool real_or_v86(const struct cpu *cpu)
{
    return !cpu_pm(cpu) || cpu_v86(cpu);
}
static unsigned iopl(const struct cpu *cpu)
{
    return (cpu->eflags & FL_IOPL) >> 12;
}

/* CPL 0 only (v86 runs at CPL 3, so it faults too). */
static void need_cpl0(struct cpu *cpu)
{
    if (cpu->cpl != 0) cpu_fault(cpu, EXC_GP, 0);
}

static void set_zf(struct cpu *cpu, bool z)
{
    uint32_t f = cpu_get_eflags(cpu);
    cpu_set_eflags(cpu, z ? f | FL_ZF : f & ~FL_ZF);
}

static uint16_t rm_read16(struct cpu *cpu, const struct insn *i)
{
    if (i->mod == 3) return (uint16_t)cpu->regs[i->rm];
    return cpu_read16(cpu, i->seg, cpu_ea(cpu, i));
}

static void rm_write16(struct cpu *cpu, const struct insn *i, uint16_t v)
{
    if (i->mod == 3)
        *cpu_reg16_ptr(cpu, i->rm) = v;
    else
        cpu_write16(cpu, i->seg, cpu_ea(cpu, i), v);
}

/* A selector stored by SLDT/STR/SMSW: a 32-bit register destination is
 * zero-extended on P6 family processors; memory always takes 16 bits. */
static void rm_store_sel(struct cpu *cpu, const struct insn *i, uint32_t v)
{
    if (i->mod == 3 && i->opsize == 4)
        cpu->regs[i->rm] = v;
    else
        rm_write16(cpu, i, (uint16_t)v);
}

static void reg_write(struct cpu *cpu, unsigned r, unsigned opsize, uint32_t v)
{
    if (opsize == 4)
        cpu->regs[r] = v;
    else
        *cpu_reg16_ptr(cpu, r) = (uint16_t)v;
}

/* ---- control registers ---- */

/* Hand the MMU the paging mode that the given CR0/CR3/CR4 (and EFER) would
 * establish.  Under PAE paging the PDPTEs are loaded here, as the processor
 * does on those writes (SDM vol. 3 §4.4.1); a reserved bit in one raises
 * #GP(0) before anything changed, so callers commit the register after. */
static void set_paging(struct cpu *cpu, uint32_t cr0, uint32_t cr3, uint32_t cr4)
{
    struct paging_mode pm = {
        .pg = (cr0 & CR0_PG) != 0,
        .wp = (cr0 & CR0_WP) != 0,
        .pse = (cr4 & CR4_PSE) != 0,
        .pae = (cr4 & CR4_PAE) != 0,
        .pge = (cr4 & CR4_PGE) != 0,
        .nxe = (cpu->efer & EFER_NXE) != 0,
        .cr3 = cr3,
    };
    if (pm.pg && pm.pae) {
        if (!mmu_load_pdptes(cpu->mmu, cr3, pm.pdpte)) cpu_fault(cpu, EXC_GP, 0);
        pm.pdpte_valid = true;
    }
    mmu_set_paging(cpu->mmu, &pm);
}

static void cr_hook(struct cpu *cpu, int cr, uint32_t old, uint32_t v)
{
    if (cpu->hooks.cr_write) cpu->hooks.cr_write(cpu->hooks.opaque, cr, old, v);
}

void cpu_write_cr0(struct cpu *cpu, uint32_t v)
{
    /* Reserved bits are ignored on writes and ET is hardwired on P6. */
    v = (v & CR0_VALID) | CR0_ET;
    if ((v & CR0_PG) && !(v & CR0_PE)) cpu_fault(cpu, EXC_GP, 0);
    if ((v & CR0_NW) && !(v & CR0_CD)) cpu_fault(cpu, EXC_GP, 0);
    uint32_t old = cpu->cr0;
    if ((old ^ v) & (CR0_PG | CR0_WP | CR0_PE)) set_paging(cpu, v, cpu->cr3, cpu->cr4);
    cpu->cr0 = v;
    cpu_update_mem_check(cpu);
    /* Decoded blocks carry the mode they were decoded in; a PE/PG switch is
     * rare enough to start afresh. */
    if ((old ^ v) & (CR0_PG | CR0_PE)) cpu_flush_blocks(cpu);
    cr_hook(cpu, 0, old, v);
}

void cpu_write_cr3(struct cpu *cpu, uint32_t v)
{
    uint32_t old = cpu->cr3;
    set_paging(cpu, cpu->cr0, v, cpu->cr4);
    cpu->cr3 = v;
    cr_hook(cpu, 3, old, v);
}

void cpu_write_cr4(struct cpu *cpu, uint32_t v)
{
    if (v & ~(uint32_t)CR4_VALID) cpu_fault(cpu, EXC_GP, 0);
    uint32_t old = cpu->cr4;
    if ((old ^ v) & (CR4_PSE | CR4_PAE | CR4_PGE)) set_paging(cpu, cpu->cr0, cpu->cr3, v);
    cpu->cr4 = v;
    cr_hook(cpu, 4, old, v);
}

void op_mov_r_cr(struct cpu *cpu, const struct insn *i)
{
    if (i->reg != 0 && i->reg != 2 && i->reg != 3 && i->reg != 4) cpu_fault(cpu, EXC_UD, 0);
    need_cpl0(cpu);
    uint32_t v = i->reg == 0   ? cpu->cr0
                 : i->reg == 2 ? cpu->cr2
                 : i->reg == 3 ? cpu->cr3
                               : cpu->cr4;
    cpu->regs[i->rm] = v;
}

void op_mov_cr_r(struct cpu *cpu, const struct insn *i)
{
    if (i->reg != 0 && i->reg != 2 && i->reg != 3 && i->reg != 4) cpu_fault(cpu, EXC_UD, 0);
    need_cpl0(cpu);
    uint32_t v = cpu->regs[i->rm];
    switch (i->reg) {
    case 0:
        cpu_write_cr0(cpu, v);
        break;
    case 2:
        cr_hook(cpu, 2, cpu->cr2, v);
        cpu->cr2 = v;
        break;
    case 3:
        cpu_write_cr3(cpu, v);
        break;
    default:
        cpu_write_cr4(cpu, v);
        break;
    }
}

/* DR4/DR5 alias DR6/DR7 unless CR4.DE makes them undefined. */
static unsigned dr_index(struct cpu *cpu, unsigned r)
{
    need_cpl0(cpu);
    if (r == 4 || r == 5) {
        if (cpu->cr4 & CR4_DE) cpu_fault(cpu, EXC_UD, 0);
        r += 2;
    }
    return r;
}

void op_mov_r_dr(struct cpu *cpu, const struct insn *i)
{
    unsigned r = dr_index(cpu, i->reg);
    uint32_t v = cpu->dr[r];
    if (r == 6)
        v = (v & 0x0000e00fu) | 0xffff0ff0u;
    else if (r == 7)
        v = (v & 0xffff23ffu) | 0x400u;
    cpu->regs[i->rm] = v;
}

void op_mov_dr_r(struct cpu *cpu, const struct insn *i)
{
    unsigned r = dr_index(cpu, i->reg);
    uint32_t v = cpu->regs[i->rm];
    if (r == 6)
        v = (v & 0x0000e00fu) | 0xffff0ff0u;
    else if (r == 7)
        v = (v & 0xffff23ffu) | 0x400u;
    cpu->dr[r] = v;
    /* Data breakpoints are checked on the slow segment path only, so the
     * fast path costs nothing while none is enabled. */
    bool watch = false;
    for (unsigned n = 0; n < 4; n++)
        if (((cpu->dr[7] >> (2 * n)) & 3) && ((cpu->dr[7] >> (16 + 4 * n)) & 1))
            watch = true; /* R/W = 01 (write) or 11 (read/write) */
    cpu->dr_watch = watch;
    cpu_update_mem_check(cpu);
}

unsigned cpu_dr_match(struct cpu *cpu, uint32_t lin, unsigned len, int kind)
{
    static const uint8_t blen[4] = {1, 2, 8, 4}; /* DR7 LEN encodings */
    uint32_t dr7 = cpu->dr[7];
    unsigned hit = 0;
    for (unsigned n = 0; n < 4; n++) {
        if (!((dr7 >> (2 * n)) & 3)) continue;
        unsigned rw = (dr7 >> (16 + 4 * n)) & 3;
        if (kind == DR_EXEC) {
            /* Instruction breakpoints match the first byte only; their LEN
             * must be 0. */
            if (rw == 0 && lin == cpu->dr[n]) hit |= 1u << n;
            continue;
        }
        if (rw != 3 && !(rw == 1 && kind == DR_WRITE))
            continue; /* rw 2 (I/O) needs CR4.DE: not modelled */
        uint32_t size = blen[(dr7 >> (18 + 4 * n)) & 3];
        uint32_t base = cpu->dr[n] & ~(size - 1);
        /* Overlap of [lin, lin+len) with [base, base+size), modulo 2^32. */
        if (lin - base < size || base - lin < len) hit |= 1u << n;
    }
    return hit;
}

void op_clts(struct cpu *cpu, const struct insn *i)
{
    need_cpl0(cpu);
    cpu_write_cr0(cpu, cpu->cr0 & ~CR0_TS);
}

void op_invd(struct cpu *cpu, const struct insn *i)
{
    need_cpl0(cpu); /* no caches to invalidate */
}

/* ---- descriptor-table instructions ---- */

static bool verify_seg(struct cpu *cpu, uint16_t sel, bool write)
{
    uint32_t lo, hi;
    if (!(sel & 0xfffc) || !cpu_read_descriptor(cpu, sel, &lo, &hi) || !DESC_S(hi)) return false;
    unsigned dpl = DESC_DPL(hi);
    bool priv_ok = dpl >= cpu->cpl && dpl >= (sel & 3u);
    if (write) return desc_writable(hi) && priv_ok;
    if (!desc_readable(hi)) return false;
    return desc_conforming(hi) || priv_ok;
}

static void load_ldtr(struct cpu *cpu, uint16_t sel)
{
    if (!(sel & 0xfffc)) {
        prot_seg_null(cpu, SEG_LDTR, sel);
        return;
    }
    uint32_t lo, hi;
    if (sel & 4) cpu_fault(cpu, EXC_GP, sel_err(sel));
    prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);
    if (DESC_S(hi) || DESC_TYPE(hi) != SYS_LDT) cpu_fault(cpu, EXC_GP, sel_err(sel));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
    prot_seg_from_desc(&cpu->seg[SEG_LDTR], sel, lo, hi);
}

static void load_tr(struct cpu *cpu, uint16_t sel)
{
    uint32_t lo, hi;
    if (!(sel & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    if (sel & 4) cpu_fault(cpu, EXC_GP, sel_err(sel));
    prot_fetch_desc(cpu, sel, &lo, &hi, EXC_GP, 0);
    unsigned t = DESC_TYPE(hi);
    if (DESC_S(hi) || (t != SYS_TSS16_AVAIL && t != SYS_TSS32_AVAIL))
        cpu_fault(cpu, EXC_GP, sel_err(sel));
    if (!DESC_P(hi)) cpu_fault(cpu, EXC_NP, sel_err(sel));
    prot_set_tss_busy(cpu, sel, true);
    prot_seg_from_desc(&cpu->seg[SEG_TR], sel, lo, hi | (SYS_TSS_BUSY_BIT << 8));
}

void op_grp6(struct cpu *cpu, const struct insn *i)
{
    if (real_or_v86(cpu) || i->reg > 5) cpu_fault(cpu, EXC_UD, 0);
    switch (i->reg) {
    case 0:
        rm_store_sel(cpu, i, cpu->seg[SEG_LDTR].sel);
        break;
    case 1:
        rm_store_sel(cpu, i, cpu->seg[SEG_TR].sel);
        break;
    case 2: {
        need_cpl0(cpu);
        load_ldtr(cpu, rm_read16(cpu, i));
        break;
    }
    case 3: {
        need_cpl0(cpu);
        load_tr(cpu, rm_read16(cpu, i));
        break;
    }
    case 4:
        set_zf(cpu, verify_seg(cpu, rm_read16(cpu, i), false));
        break;
    default:
        set_zf(cpu, verify_seg(cpu, rm_read16(cpu, i), true));
        break;
    }
}

void op_grp7(struct cpu *cpu, const struct insn *i)
{
    switch (i->reg) {
    case 0:
    case 1: { /* SGDT / SIDT */
        if (i->mod == 3) cpu_fault(cpu, EXC_UD, 0);
        const struct dtr *d = i->reg ? &cpu->idtr : &cpu->gdtr;
        uint32_t ea = cpu_ea(cpu, i);
        uint32_t base = i->opsize == 2 ? d->base & 0x00ffffffu : d->base;
        cpu_write16(cpu, i->seg, ea, d->limit);
        cpu_write32(cpu, i->seg, ea + 2, base);
        return;
    }
    case 2:
    case 3: { /* LGDT / LIDT */
        if (i->mod == 3) cpu_fault(cpu, EXC_UD, 0);
        need_cpl0(cpu);
        uint32_t ea = cpu_ea(cpu, i);
        uint16_t limit = cpu_read16(cpu, i->seg, ea);
        uint32_t base = cpu_read32(cpu, i->seg, ea + 2);
        struct dtr *d = i->reg == 3 ? &cpu->idtr : &cpu->gdtr;
        d->limit = limit;
        d->base = i->opsize == 2 ? base & 0x00ffffffu : base;
        return;
    }
    case 4: /* SMSW */
        rm_store_sel(cpu, i, i->mod == 3 && i->opsize == 4 ? cpu->cr0 : cpu->cr0 & 0xffff);
        return;
    case 6: { /* LMSW: PE can be set, never cleared */
        need_cpl0(cpu);
        uint16_t v = rm_read16(cpu, i);
        cpu_write_cr0(cpu, (cpu->cr0 & ~0xfu) | (v & 0xfu) | (cpu->cr0 & CR0_PE));
        return;
    }
    case 7: /* INVLPG */
        if (i->mod == 3) cpu_fault(cpu, EXC_UD, 0);
        need_cpl0(cpu);
        mmu_invlpg(cpu->mmu, cpu->seg[i->seg].base + cpu_ea(cpu, i));
        return;
    default:
        cpu_fault(cpu, EXC_UD, 0);
    }
}

/* LAR and LSL: a selector "is valid" for them if it names a descriptor the
 * current privilege may see; which system types count differs. */
static bool lar_lsl_check(struct cpu *cpu, uint16_t sel, bool lar, uint32_t *lo, uint32_t *hi)
{
    if (!(sel & 0xfffc) || !cpu_read_descriptor(cpu, sel, lo, hi)) return false;
    if (!DESC_S(*hi)) {
        switch (DESC_TYPE(*hi)) {
        case SYS_TSS16_AVAIL:
        case SYS_LDT:
        case SYS_TSS16_BUSY:
        case SYS_TSS32_AVAIL:
        case SYS_TSS32_BUSY:
            break;
        case SYS_CALLGATE16:
        case SYS_TASKGATE:
        case SYS_CALLGATE32:
            if (lar) break;
            return false;
        default:
            return false;
        }
    } else if (desc_conforming(*hi)) {
        return true;
    }
    unsigned dpl = DESC_DPL(*hi);
    return dpl >= cpu->cpl && dpl >= (sel & 3u);
}

void op_lar(struct cpu *cpu, const struct insn *i)
{
    if (real_or_v86(cpu)) cpu_fault(cpu, EXC_UD, 0);
    uint32_t lo, hi;
    bool ok = lar_lsl_check(cpu, rm_read16(cpu, i), true, &lo, &hi);
    if (ok) reg_write(cpu, i->reg, i->opsize, i->opsize == 4 ? hi & 0x00ffff00u : hi & 0xff00u);
    set_zf(cpu, ok);
}

void op_lsl(struct cpu *cpu, const struct insn *i)
{
    if (real_or_v86(cpu)) cpu_fault(cpu, EXC_UD, 0);
    uint32_t lo, hi;
    bool ok = lar_lsl_check(cpu, rm_read16(cpu, i), false, &lo, &hi);
    if (ok) reg_write(cpu, i->reg, i->opsize, desc_limit(lo, hi));
    set_zf(cpu, ok);
}

void op_arpl(struct cpu *cpu, const struct insn *i)
{
    if (real_or_v86(cpu)) cpu_fault(cpu, EXC_UD, 0);
    uint16_t d = rm_read16(cpu, i);
    uint16_t s = (uint16_t)cpu->regs[i->reg];
    if ((d & 3u) < (s & 3u)) {
        rm_write16(cpu, i, (uint16_t)((d & ~3u) | (s & 3u)));
        set_zf(cpu, true);
    } else {
        set_zf(cpu, false);
    }
}

/* ---- MSRs, TSC, PMCs, CPUID ---- */

uint64_t cpu_rdtsc(struct cpu *cpu)
{
    uint64_t raw = cpu->tsc_now ? cpu->tsc_now(cpu->tsc_opaque) : cpu->stats.insns;
    return raw + cpu->tsc_offset;
}

/* The MTRRs are plain storage in cpu->mtrr[]: variable pairs 0..15, then the
 * fixed-range registers, then the default type. */
static uint64_t *mtrr_slot(struct cpu *cpu, uint32_t msr)
{
    if (msr >= 0x200 && msr <= 0x20f) return &cpu->mtrr[msr - 0x200];
    if (msr == 0x250) return &cpu->mtrr[16];
    if (msr == 0x258 || msr == 0x259) return &cpu->mtrr[17 + (msr - 0x258)];
    if (msr >= 0x268 && msr <= 0x26f) return &cpu->mtrr[19 + (msr - 0x268)];
    if (msr == 0x2ff) return &cpu->mtrr[27];
    return NULL;
}

void op_rdmsr(struct cpu *cpu, const struct insn *i)
{
    need_cpl0(cpu);
    uint32_t msr = cpu->regs[R_ECX];
    uint64_t v;
    uint64_t *slot = mtrr_slot(cpu, msr);
    if (slot) {
        v = *slot;
    } else {
        switch (msr) {
        case 0x10:
            v = cpu_rdtsc(cpu);
            break;
        case 0x17:
            v = 0;
            break; /* IA32_PLATFORM_ID */
        case 0x1b:
            v = cpu->apic_base;
            break;
        case 0x8b:
            v = 0;
            break; /* IA32_BIOS_SIGN_ID: no microcode loaded */
        case 0xfe:
            v = 0x508;
            break; /* MTRRcap: 8 variable, fixed, WC */
        case 0x174:
            v = cpu->sysenter_cs;
            break;
        case 0x175:
            v = cpu->sysenter_esp;
            break;
        case 0x176:
            v = cpu->sysenter_eip;
            break;
        case 0x1a0:
            v = cpu->misc_enable;
            break;
        case 0x277:
            v = cpu->pat;
            break;
        case 0xc0000080:
            v = cpu->efer;
            break;
        default:
            CPU_LOG(cpu, LOG_UNIMP, "rdmsr 0x%08x: unknown MSR, #GP\n", msr);
            cpu_fault(cpu, EXC_GP, 0);
        }
    }
    cpu->regs[R_EAX] = (uint32_t)v;
    cpu->regs[R_EDX] = (uint32_t)(v >> 32);
}

static bool pat_valid(uint64_t v)
{
    for (unsigned k = 0; k < 8; k++) {
        unsigned t = (v >> (8 * k)) & 0xff;
        if (t == 2 || t == 3 || t > 7) return false;
    }
    return true;
}

void op_wrmsr(struct cpu *cpu, const struct insn *i)
{
    need_cpl0(cpu);
    uint32_t msr = cpu->regs[R_ECX];
    uint64_t v = ((uint64_t)cpu->regs[R_EDX] << 32) | cpu->regs[R_EAX];
    uint64_t *slot = mtrr_slot(cpu, msr);
    if (slot) {
        *slot = v;
        return;
    }
    switch (msr) {
    case 0x10: {
        /* P6 writes the low 32 bits and clears the high ones. */
        uint64_t raw = cpu->tsc_now ? cpu->tsc_now(cpu->tsc_opaque) : cpu->stats.insns;
        cpu->tsc_offset = (uint64_t)cpu->regs[R_EAX] - raw;
        return;
    }
    case 0x1b: /* the BSP flag is read-only */
        cpu->apic_base = (v & 0xfffff800ull) | (cpu->apic_base & 0x100);
        return;
    case 0x8b:
        return;
    case 0x174:
        cpu->sysenter_cs = (uint32_t)v;
        return;
    case 0x175:
        cpu->sysenter_esp = (uint32_t)v;
        return;
    case 0x176:
        cpu->sysenter_eip = (uint32_t)v;
        return;
    case 0x1a0:
        cpu->misc_enable = v;
        return;
    case 0x277:
        if (!pat_valid(v)) cpu_fault(cpu, EXC_GP, 0);
        cpu->pat = v;
        return;
    case 0xc0000080: /* EFER: only NXE exists on this CPU (no SYSCALL, no long mode) */
        if (v & ~EFER_NXE) cpu_fault(cpu, EXC_GP, 0);
        if ((cpu->efer ^ v) & EFER_NXE) {
            cpu->efer = v;
            set_paging(cpu, cpu->cr0, cpu->cr3, cpu->cr4);
        }
        return;
    default:
        CPU_LOG(cpu, LOG_UNIMP, "wrmsr 0x%08x <- 0x%016llx: unknown MSR, #GP\n", msr,
                (unsigned long long)v);
        cpu_fault(cpu, EXC_GP, 0);
    }
}

void op_rdtsc(struct cpu *cpu, const struct insn *i)
{
    if ((cpu->cr4 & CR4_TSD) && cpu->cpl > 0) cpu_fault(cpu, EXC_GP, 0);
    uint64_t v = cpu_rdtsc(cpu);
    cpu->regs[R_EAX] = (uint32_t)v;
    cpu->regs[R_EDX] = (uint32_t)(v >> 32);
}

void op_rdpmc(struct cpu *cpu, const struct insn *i)
{
    if (!(cpu->cr4 & CR4_PCE) && cpu->cpl > 0) cpu_fault(cpu, EXC_GP, 0);
    if (cpu->regs[R_ECX] > 1) /* P6 has two counters */
        cpu_fault(cpu, EXC_GP, 0);
    cpu->regs[R_EAX] = 0; /* counters are not modelled */
    cpu->regs[R_EDX] = 0;
}

void op_cpuid(struct cpu *cpu, const struct insn *i)
{
    uint32_t leaf = cpu->regs[R_EAX];
    uint32_t a, b, c, d;
    switch (leaf) {
    case 0:
        a = 2;
        b = 0x756e6547u; /* "Genu" */
        d = 0x49656e69u; /* "ineI" */
        c = 0x6c65746eu; /* "ntel" */
        break;
    case 1:
        a = CPUID_SIGNATURE;
        b = 0;
        c = 0;
        d = CPUID_EDX;
        /* A local APIC disabled through IA32_APIC_BASE vanishes from CPUID. */
        if (!(cpu->apic_base & 0x800)) d &= ~CPUID_APIC;
        break;
    case 0x80000000:
        a = 0x80000001u;
        b = c = d = 0;
        break;
    case 0x80000001:
        a = b = c = 0;
        d = CPUID_EXT_NX;
        break;
    default:
        /* Leaf 2, and every leaf above the maximum, which on Intel returns
         * the highest basic leaf: the classic Pentium II cache descriptors
         * (32 KiB L1 split, 512 KiB L2, TLBs). */
        a = 0x03020101u;
        b = 0;
        c = 0;
        d = 0x0c040843u;
        break;
    }
    cpu->regs[R_EAX] = a;
    cpu->regs[R_EBX] = b;
    cpu->regs[R_ECX] = c;
    cpu->regs[R_EDX] = d;
}

/* ---- SYSENTER / SYSEXIT ---- */

static void load_flat(struct cpu *cpu, int seg, uint16_t sel, unsigned dpl, bool code)
{
    struct segment *s = &cpu->seg[seg];
    s->sel = sel;
    s->base = 0;
    s->limit = 0xffffffffu;
    s->flags = SEGFL_G | SEGFL_DB | 0xf0000u | SEGFL_P | (dpl << 13) | SEGFL_S |
               ((code ? 0xbu : 0x3u) << 8);
}

void op_sysenter(struct cpu *cpu, const struct insn *i)
{
    if (!cpu_pm(cpu) || !(cpu->sysenter_cs & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint16_t cs = (uint16_t)(cpu->sysenter_cs & 0xfffc);
    cpu_set_eflags(cpu, cpu_get_eflags(cpu) & ~(FL_VM | FL_IF | FL_RF));
    load_flat(cpu, SEG_CS, cs, 0, true);
    load_flat(cpu, SEG_SS, (uint16_t)(cs + 8), 0, false);
    cpu_set_cpl(cpu, 0);
    cpu->regs[R_ESP] = cpu->sysenter_esp;
    cpu->eip = cpu->sysenter_eip;
}

void op_sysexit(struct cpu *cpu, const struct insn *i)
{
    if (!cpu_pm(cpu) || cpu->cpl != 0 || !(cpu->sysenter_cs & 0xfffc)) cpu_fault(cpu, EXC_GP, 0);
    uint16_t cs = (uint16_t)cpu->sysenter_cs;
    load_flat(cpu, SEG_CS, (uint16_t)((cs + 16) | 3), 3, true);
    load_flat(cpu, SEG_SS, (uint16_t)((cs + 24) | 3), 3, false);
    cpu_set_cpl(cpu, 3);
    cpu->regs[R_ESP] = cpu->regs[R_ECX];
    cpu->eip = cpu->regs[R_EDX];
}

/* ---- HLT, interrupt flag, EFLAGS ---- */

void op_hlt(struct cpu *cpu, const struct insn *i)
{
    need_cpl0(cpu);
    cpu->halted = true;
}

/* May CLI/STI change IF here?  (No VME/PVI: v86 needs IOPL 3.) */
static void check_if_change(struct cpu *cpu)
{
    if (!cpu_pm(cpu)) return;
    if (cpu_v86(cpu) ? iopl(cpu) < 3 : cpu->cpl > iopl(cpu)) cpu_fault(cpu, EXC_GP, 0);
}

void op_cli(struct cpu *cpu, const struct insn *i)
{
    check_if_change(cpu);
    cpu_set_eflags(cpu, cpu_get_eflags(cpu) & ~FL_IF);
}

void op_sti(struct cpu *cpu, const struct insn *i)
{
    check_if_change(cpu);
    uint32_t f = cpu_get_eflags(cpu);
    if (!(f & FL_IF)) cpu->inhibit_irq = true; /* interrupts open after the next instruction */
    cpu_set_eflags(cpu, f | FL_IF);
}

void op_pushf(struct cpu *cpu, const struct insn *i)
{
    if (cpu_v86(cpu) && iopl(cpu) < 3) cpu_fault(cpu, EXC_GP, 0);
    uint32_t f = cpu_get_eflags(cpu) & ~(FL_VM | FL_RF);
    cpu_push(cpu, i->opsize, i->opsize == 2 ? f & 0xffff : f);
}

void op_popf(struct cpu *cpu, const struct insn *i)
{
    if (cpu_v86(cpu) && iopl(cpu) < 3) cpu_fault(cpu, EXC_GP, 0);
    uint32_t v = cpu_pop(cpu, i->opsize);
    uint32_t mask = FL_ARITH | FL_TF | FL_DF | FL_NT | FL_AC | FL_ID;
    if (cpu_v86(cpu) || cpu->cpl <= iopl(cpu)) mask |= FL_IF;
    if (cpu->cpl == 0 && !cpu_v86(cpu)) mask |= FL_IOPL;
    if (i->opsize == 2) mask &= 0xffff;
    uint32_t old = cpu_get_eflags(cpu);
    cpu_set_eflags(cpu, (((old & ~mask) | (v & mask)) & ~FL_RF) | 2u);
}

/* ---- software interrupts ---- */

void op_int3(struct cpu *cpu, const struct insn *i)
{
    cpu_deliver(cpu, EXC_BP, INTR_SOFTWARE, false, 0);
}

void op_int_imm(struct cpu *cpu, const struct insn *i)
{
    if (cpu_v86(cpu) && iopl(cpu) < 3) cpu_fault(cpu, EXC_GP, 0);
    cpu_deliver(cpu, i->imm & 0xff, INTR_SOFTWARE, false, 0);
}

void op_into(struct cpu *cpu, const struct insn *i)
{
    if (cpu_get_eflags(cpu) & FL_OF) cpu_deliver(cpu, EXC_OF, INTR_SOFTWARE, false, 0);
}

/* ICEBP: a trap like #DB, without the gate DPL check, EXT set. */
void op_int1(struct cpu *cpu, const struct insn *i)
{
    cpu_deliver(cpu, EXC_DB, INTR_EXCEPTION, false, 0);
}

void op_iret(struct cpu *cpu, const struct insn *i)
{
    cpu_iret(cpu, i->opsize);
}

/* ---- port I/O ---- */

void cpu_check_io(struct cpu *cpu, uint16_t port, unsigned size)
{
    if (!cpu_pm(cpu) || (!cpu_v86(cpu) && cpu->cpl <= iopl(cpu))) return;
    const struct segment *tr = &cpu->seg[SEG_TR];
    /* Only a 32-bit TSS has an I/O permission bitmap. */
    if (!SEGF_P(tr->flags) || !(SEGF_TYPE(tr->flags) & 8) || tr->limit < 0x67)
        cpu_fault(cpu, EXC_GP, 0);
    uint32_t at = (uint32_t)mmu_sys_read16(cpu->mmu, tr->base + 0x66) + (port >> 3);
    /* The processor always reads two bytes of the bitmap. */
    if (at + 1 > tr->limit) cpu_fault(cpu, EXC_GP, 0);
    uint32_t bits = mmu_sys_read16(cpu->mmu, tr->base + at);
    if (bits & (((1u << size) - 1) << (port & 7))) cpu_fault(cpu, EXC_GP, 0);
}

static uint32_t io_in(struct cpu *cpu, uint16_t port, unsigned size)
{
    uint32_t ones = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return cpu->io.in ? cpu->io.in(cpu->io.opaque, port, size) & ones : ones;
}

static void io_out(struct cpu *cpu, uint16_t port, uint32_t v, unsigned size)
{
    if (cpu->io.out) cpu->io.out(cpu->io.opaque, port, v, size);
}

static unsigned io_size(const struct insn *i)
{
    return (i->opcode & 1) ? i->opsize : 1;
}

static uint16_t io_port(struct cpu *cpu, const struct insn *i)
{
    return (i->opcode & 8) ? (uint16_t)cpu->regs[R_EDX] : (uint16_t)(i->imm & 0xff);
}

void op_in(struct cpu *cpu, const struct insn *i)
{
    unsigned size = io_size(i);
    uint16_t port = io_port(cpu, i);
    cpu_check_io(cpu, port, size);
    uint32_t v = io_in(cpu, port, size);
    if (size == 1)
        *cpu_reg8_ptr(cpu, R_EAX) = (uint8_t)v;
    else
        reg_write(cpu, R_EAX, size, v);
}

void op_out(struct cpu *cpu, const struct insn *i)
{
    unsigned size = io_size(i);
    uint16_t port = io_port(cpu, i);
    cpu_check_io(cpu, port, size);
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    io_out(cpu, port, cpu->regs[R_EAX] & mask, size);
}

/* INS must not lose the port read to a faulting store: check ES:DI for a
 * write (type, limit, page) before reading the port. */
static void check_es_write(struct cpu *cpu, uint32_t off, unsigned size)
{
    const struct segment *es = &cpu->seg[SEG_ES];
    if (cpu_pm(cpu) && !cpu_v86(cpu) && (!SEGF_P(es->flags) || !desc_writable(es->flags)))
        cpu_fault(cpu, EXC_GP, 0);
    if (!prot_seg_limit_ok(es, off, size)) cpu_fault(cpu, EXC_GP, 0);
    mmu_probe_write(cpu->mmu, es->base + off, size, cpu->cpl == 3);
}

static void store_es(struct cpu *cpu, uint32_t off, uint32_t v, unsigned size)
{
    switch (size) {
    case 1:
        cpu_write8(cpu, SEG_ES, off, (uint8_t)v);
        break;
    case 2:
        cpu_write16(cpu, SEG_ES, off, (uint16_t)v);
        break;
    default:
        cpu_write32(cpu, SEG_ES, off, v);
        break;
    }
}

static uint32_t load_seg(struct cpu *cpu, int seg, uint32_t off, unsigned size)
{
    switch (size) {
    case 1:
        return cpu_read8(cpu, seg, off);
    case 2:
        return cpu_read16(cpu, seg, off);
    default:
        return cpu_read32(cpu, seg, off);
    }
}

/* One routine for INS and OUTS: each iteration commits its index register
 * and count, so a fault mid-way restarts the REP with the rest. */
static void string_io(struct cpu *cpu, const struct insn *i, bool in)
{
    unsigned size = io_size(i);
    uint16_t port = (uint16_t)cpu->regs[R_EDX];
    uint32_t amask = i->adsize == 2 ? 0xffffu : 0xffffffffu;
    uint32_t delta = (cpu->eflags & FL_DF) ? (uint32_t)-size : size;
    unsigned idx = in ? R_EDI : R_ESI;

    if (i->rep && !(cpu->regs[R_ECX] & amask)) return;
    cpu_check_io(cpu, port, size);
    for (;;) {
        uint32_t off = cpu->regs[idx] & amask;
        if (in) {
            check_es_write(cpu, off, size);
            store_es(cpu, off, io_in(cpu, port, size), size);
        } else {
            io_out(cpu, port, load_seg(cpu, i->seg, off, size), size);
        }
        cpu->regs[idx] = (cpu->regs[idx] & ~amask) | ((cpu->regs[idx] + delta) & amask);
        if (!i->rep) return;
        uint32_t c = (cpu->regs[R_ECX] - 1) & amask;
        cpu->regs[R_ECX] = (cpu->regs[R_ECX] & ~amask) | c;
        if (!c) return;
    }
}

void op_ins(struct cpu *cpu, const struct insn *i)
{
    string_io(cpu, i, true);
}
void op_outs(struct cpu *cpu, const struct insn *i)
{
    string_io(cpu, i, false);
}
