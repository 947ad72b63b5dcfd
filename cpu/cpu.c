/*
 * cpu.c — lifetime and external interface of the core: init/destroy, the
 * power-on state (Intel SDM Vol. 3 §9.1.1, Table 9-1), the multiboot-style
 * flat 32-bit state, the interrupt/NMI/exit inputs, and cpu_disasm().
 *
 * Design choice: cpu_init wires the MMU's two upcalls (page fault → CPU-B's
 * cpu_mmu_page_fault, code write → the block cache) so a CPU and its MMU are
 * a closed pair; nothing else needs to know about either callback.
 */
#include <stdio.h>

#include "cpu/ops.h"
#include "cpu/ops_sys.h"

int cpu_init(struct cpu *cpu, struct mmu *mmu)
{
    cpu->mmu = mmu;
    cpu->bc = NULL;
    if (cpu_exec_init(cpu))
        return -1;
    mmu->page_fault = cpu_mmu_page_fault;
    mmu->fault_opaque = cpu;
    cpu_reset(cpu);
    return 0;
}

void cpu_destroy(struct cpu *cpu)
{
    cpu_exec_destroy(cpu);
}

static void seg_set(struct cpu *cpu, int s, uint16_t sel, uint32_t base, uint32_t limit,
                    uint32_t flags)
{
    cpu->seg[s].sel = sel;
    cpu->seg[s].base = base;
    cpu->seg[s].limit = limit;
    cpu->seg[s].flags = flags;
}

void cpu_reset(struct cpu *cpu)
{
    memset(cpu->regs, 0, sizeof cpu->regs);
    cpu->regs[R_EDX] = 0x00000633; /* family 6, model 3, stepping 3 */
    cpu->eip = 0xfff0;
    cpu->eflags = 0x2;
    cpu->lf_op = LF_NONE;
    cpu->lf_res = cpu->lf_op1 = cpu->lf_op2 = 0;
    cpu->cr0 = 0x60000010;
    cpu->cr2 = cpu->cr3 = cpu->cr4 = 0;
    memset(cpu->dr, 0, sizeof cpu->dr);
    cpu->dr[6] = 0xffff0ff0;
    cpu->dr[7] = 0x00000400;
    cpu->dr_watch = false;
    cpu->mem_check = false;
    for (int s = 0; s < SEG_COUNT; s++)
        seg_set(cpu, s, 0, 0, 0xffff, 0x9300); /* present r/w data, accessed */
    seg_set(cpu, SEG_CS, 0xf000, 0xffff0000, 0xffff, 0x9b00);
    seg_set(cpu, SEG_LDTR, 0, 0, 0xffff, 0x8200);
    seg_set(cpu, SEG_TR, 0, 0, 0xffff, 0x8b00);
    cpu->gdtr.base = cpu->idtr.base = 0;
    cpu->gdtr.limit = cpu->idtr.limit = 0xffff;
    cpu->cpl = 0;
    cpu->halted = false;
    cpu->inhibit_irq = false;
    cpu->nmi_pending = false;
    cpu->pending_exc = -1;
    cpu->shutdown = false;
    cpu->exit_request = 0;
    cpu_attn_update(cpu);
    cpu->sysenter_cs = cpu->sysenter_esp = cpu->sysenter_eip = 0;
    cpu->apic_base = 0xfee00900;
    cpu->pat = 0x0007040600070406ull;
    cpu->efer = 0;
    fpu_reset(&cpu->fpu);
    mmu_set_user(cpu->mmu, false);
    struct paging_mode pm = { 0 };
    mmu_set_paging(cpu->mmu, &pm);
    cpu_flush_blocks(cpu);
}

void cpu_set_flat32(struct cpu *cpu, uint32_t eip)
{
    cpu->cr0 |= CR0_PE;
    seg_set(cpu, SEG_CS, 0x08, 0, 0xffffffff, 0xcf9b00);
    for (int s = 0; s < SEG_LDTR; s++)
        if (s != SEG_CS)
            seg_set(cpu, s, 0x10, 0, 0xffffffff, 0xcf9300);
    cpu->cpl = 0;
    mmu_set_user(cpu->mmu, false);
    cpu->eip = eip;
    cpu_set_eflags(cpu, 0x2);
    cpu->halted = false;
}

void cpu_set_irq(struct cpu *cpu, bool level)
{
    cpu->irq_line = level;
    cpu_attn_update(cpu);
}
void cpu_set_nmi(struct cpu *cpu)
{
    cpu->nmi_pending = true;
    cpu->attn = 1;
}
/* Also called from signal handlers (the frontend's SIGINT): two plain
 * stores, the flag before the word the loop polls. */
void cpu_request_exit(struct cpu *cpu)
{
    cpu->exit_request = 1;
    cpu->attn = 1;
}

/* Read code bytes without side effects: physical memory while paging is
 * off, otherwise only through pages the soft TLB already maps. */
static unsigned peek_bytes(struct cpu *cpu, uint32_t lin, uint8_t *buf, unsigned n)
{
    struct mmu *m = cpu->mmu;
    unsigned k;
    for (k = 0; k < n; k++) {
        uint32_t a = lin + k;
        if (!m->paging.pg) {
            mmu_phys_read(m, a, &buf[k], 1);
            continue;
        }
        struct tlb_entry *e = mmu_tlb_entry(m, m->user, a);
        if (e->tag_fetch == (a & PAGE_MASK))
            buf[k] = *(const uint8_t *)(uintptr_t)(a + e->addend);
        else if (e->tag_read == (a & PAGE_MASK))
            buf[k] = *(const uint8_t *)(uintptr_t)(a + e->addend);
        else
            break;
    }
    return k;
}

int cpu_disasm(struct cpu *cpu, uint32_t lin, bool code32, char *buf, size_t bufsize)
{
    uint8_t bytes[15];
    struct insn i;
    unsigned n = peek_bytes(cpu, lin, bytes, sizeof bytes);
    if (n == 0 || !cpu_decode_bytes(bytes, n, code32, &i)) {
        if (bufsize)
            snprintf(buf, bufsize, "(unreadable)");
        return 0;
    }
    insn_disasm(&i, lin, buf, bufsize);
    return i.len;
}
