/*
 * guest.c — running a difftest sequence in Umbra, as a guest that mirrors
 * the Linux user process the native helper runs in.
 *
 * The machine is a bare struct mmu + struct cpu (umbra_core only) with 4 MiB
 * of RAM and paging off, so the code and data buffers sit at the same
 * linear addresses as in the helper.  A minimal "kernel" lives at K_BASE: a
 * GDT whose user descriptors sit at exactly the selectors the host process
 * has (CS 0x23, DS/ES/SS 0x2b, GS 0x63 on x86-64 Linux — the helper reports
 * them), a 32-bit TSS for the ring-0 stack, an IDT whose 32 exception gates
 * lead to one stub per vector, and an entry stub.  A run enters ring 0 at the
 * entry stub, which FRSTORs the initial x87 image and IRETs to CPL3 at the
 * sequence with the initial EFLAGS, so the sequence sees what a user process
 * sees (CPL3, IOPL0, IF=1, CR0.AM/NE/MP set as Linux sets them).  Every run
 * ends in an exception — the final UD2 or a fault on the way — whose stub
 * FNSAVEs the x87 state and halts; the vector is the stub that halted, and
 * EIP, EFLAGS, CS, ESP and SS come from the exception frame, just as the
 * Linux kernel builds the signal context from it.  So faults are compared
 * as the architecture delivers them, pushed-EFLAGS bits included.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu_internal.h"
#include "difftest.h"

#define RAM_SIZE (4u << 20)
#define K_BASE 0x00300000u
#define K_GDT (K_BASE + 0x000u)
#define K_IDT (K_BASE + 0x100u)
#define K_TSS (K_BASE + 0x200u)
#define K_IMG (K_BASE + 0x300u)  /* FRSTOR source */
#define K_SAVE (K_BASE + 0x400u) /* FNSAVE destination */
#define K_ENTRY (K_BASE + 0x1000u)
#define K_STUBS (K_BASE + 0x1100u) /* 16 bytes per vector: fnsave [ss:K_SAVE]; hlt */
#define K_STUB_HLT 8                /* EIP after the stub's HLT */
#define K_STACK_TOP (K_BASE + 0x3000u)
#define K_NVEC 32
#define KCS 0x08
#define KDS 0x10
#define KTSS 0x18
#define GDT_ENTRIES 16

struct dt_guest {
    struct mmu mmu;
    struct cpu cpu;
    uint16_t sreg[DT_NSEG];
    bool broken; /* the last run went astray: rebuild the machine first */
};

static void put_desc(struct dt_guest *g, unsigned sel, uint32_t lo, uint32_t hi)
{
    mmu_phys_write32(&g->mmu, K_GDT + (sel & ~7u), lo);
    mmu_phys_write32(&g->mmu, K_GDT + (sel & ~7u) + 4, hi);
}

static void set_seg(struct cpu *cpu, int s, uint16_t sel, uint32_t hi)
{
    cpu->seg[s].sel = sel;
    cpu->seg[s].base = 0;
    cpu->seg[s].limit = sel ? 0xffffffffu : 0;
    cpu->seg[s].flags = sel ? (hi & 0x00ffff00u) : 0;
}

#define D_UCODE 0x00cffb00u
#define D_UDATA 0x00cff300u
#define D_KCODE 0x00cf9b00u
#define D_KDATA 0x00cf9300u

static void machine_setup(struct dt_guest *g);

struct dt_guest *dt_guest_new(const uint16_t host_sreg[DT_NSEG])
{
    struct dt_guest *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    memcpy(g->sreg, host_sreg, sizeof g->sreg);
    for (int s = 0; s < DT_NSEG; s++) {
        unsigned idx = host_sreg[s] >> 3;
        if (host_sreg[s] && (idx <= KTSS >> 3 || idx >= GDT_ENTRIES || (host_sreg[s] & 3) != 3)) {
            fprintf(stderr, "difftest: host selector %#x cannot be mirrored\n", host_sreg[s]);
            free(g);
            return NULL;
        }
    }
    if (mmu_init(&g->mmu, RAM_SIZE) || cpu_init(&g->cpu, &g->mmu)) {
        free(g);
        return NULL;
    }
    machine_setup(g);
    return g;
}

/* The kernel structures and the control state, from reset. */
static void machine_setup(struct dt_guest *g)
{
    struct cpu *cpu = &g->cpu;
    const uint16_t *host_sreg = g->sreg;
    cpu_reset(cpu);
    cpu_set_flat32(cpu, K_ENTRY);
    cpu->cr0 |= CR0_MP | CR0_NE | CR0_AM | CR0_ET;

    uint8_t zero[0x4000] = { 0 };
    mmu_phys_write(&g->mmu, K_BASE, zero, sizeof zero);
    put_desc(g, KCS, 0x0000ffffu, D_KCODE);
    put_desc(g, KDS, 0x0000ffffu, D_KDATA);
    put_desc(g, KTSS, (K_TSS << 16) | 103u,
             (K_TSS & 0xff000000u) | 0x00008b00u | ((K_TSS >> 16) & 0xffu));
    for (int s = 0; s < DT_NSEG; s++)
        if (host_sreg[s])
            put_desc(g, host_sreg[s], 0x0000ffffu, s == DT_CS ? D_UCODE : D_UDATA);
    cpu->gdtr.base = K_GDT;
    cpu->gdtr.limit = GDT_ENTRIES * 8 - 1;
    for (unsigned v = 0; v < K_NVEC; v++) {
        uint32_t off = K_STUBS + 16 * v;
        /* DPL3 gates, as Linux has for INT3 and INTO */
        mmu_phys_write32(&g->mmu, K_IDT + 8 * v, ((uint32_t)KCS << 16) | (off & 0xffff));
        mmu_phys_write32(&g->mmu, K_IDT + 8 * v + 4, (off & 0xffff0000u) | 0xee00u);
        /* SS: the sequence may have left anything usable at CPL3 in DS */
        uint8_t stub[K_STUB_HLT] = { 0x36, 0xdd, 0x35, 0, 0, 0, 0, 0xf4 };
        uint32_t a = K_SAVE;
        memcpy(stub + 3, &a, 4);
        mmu_phys_write(&g->mmu, off, stub, sizeof stub);
    }
    cpu->idtr.base = K_IDT;
    cpu->idtr.limit = K_NVEC * 8 - 1;
    mmu_phys_write32(&g->mmu, K_TSS + 4, K_STACK_TOP);
    mmu_phys_write32(&g->mmu, K_TSS + 8, KDS);
    mmu_phys_write32(&g->mmu, K_TSS + 100, 104u << 16); /* no I/O bitmap */
    cpu->seg[SEG_TR] = (struct segment){ KTSS, K_TSS, 103, 0x8b00 };
    cpu->seg[SEG_LDTR] = (struct segment){ 0, 0, 0, 0 };
    uint8_t entry[8] = { 0x36, 0xdd, 0x25, 0, 0, 0, 0, 0xcf }; /* frstor [ss:K_IMG]; iretd */
    uint32_t a = K_IMG;
    memcpy(entry + 3, &a, 4);
    mmu_phys_write(&g->mmu, K_ENTRY, entry, sizeof entry);
    g->broken = false;
}

void dt_guest_free(struct dt_guest *g)
{
    if (!g)
        return;
    cpu_destroy(&g->cpu);
    mmu_destroy(&g->mmu);
    free(g);
}

static bool has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17;
}

void dt_guest_run(struct dt_guest *g, struct dt_run *r)
{
    struct cpu *cpu = &g->cpu;
    struct mmu *m = &g->mmu;
    r->ok = false;
    if (g->broken)
        machine_setup(g);
    mmu_phys_write(m, r->code_addr, r->code, r->code_len);
    mmu_phys_write(m, DT_DATA_BASE, r->data_in, DT_DATA_SIZE);
    if (r->use_low)
        mmu_phys_write(m, DT_LOW_BASE, r->low_in, DT_LOW_SIZE);
    mmu_phys_write(m, K_IMG, r->in.fpu, sizeof r->in.fpu);
    uint32_t frame[5] = { r->code_addr, g->sreg[DT_CS], r->in.eflags, r->in.regs[R_ESP],
                          g->sreg[DT_SS] };
    mmu_phys_write(m, K_STACK_TOP - sizeof frame, frame, sizeof frame);

    set_seg(cpu, SEG_CS, KCS, D_KCODE);
    set_seg(cpu, SEG_SS, KDS, D_KDATA);
    set_seg(cpu, SEG_DS, g->sreg[DT_DS], D_UDATA);
    set_seg(cpu, SEG_ES, g->sreg[DT_ES], D_UDATA);
    set_seg(cpu, SEG_FS, g->sreg[DT_FS], D_UDATA);
    set_seg(cpu, SEG_GS, g->sreg[DT_GS], D_UDATA);
    cpu_set_cpl(cpu, 0);
    memcpy(cpu->regs, r->in.regs, sizeof cpu->regs);
    cpu->regs[R_ESP] = K_STACK_TOP - sizeof frame;
    cpu_set_eflags(cpu, 0x2);
    cpu->eip = K_ENTRY;
    cpu->halted = false;
    cpu->shutdown = false;
    cpu->pending_exc = -1;
    cpu->inhibit_irq = false;
    cpu->exit_request = 0;

    enum cpu_exit ex = cpu_run(cpu, 1000000);
    uint32_t eip = cpu->eip;
    if (ex != CPU_EXIT_HALT || eip < K_STUBS + K_STUB_HLT || eip >= K_STUBS + 16 * K_NVEC ||
        (eip - K_STUBS - K_STUB_HLT) % 16) {
        g->broken = true;
        snprintf(r->why, sizeof r->why, "Umbra did not reach an exception stub (exit %d, eip %08x)",
                 (int)ex, eip);
        return;
    }
    unsigned v = (eip - K_STUBS - K_STUB_HLT) / 16;
    uint32_t sp = cpu->regs[R_ESP], err = 0;
    if (has_error_code(v)) {
        err = mmu_phys_read32(m, sp);
        sp += 4;
    }
    uint32_t f[5];
    mmu_phys_read(m, sp, f, sizeof f);
    struct dt_state *o = &r->out;
    memset(o, 0, sizeof *o);
    memcpy(o->regs, cpu->regs, sizeof o->regs);
    o->regs[R_ESP] = f[3];
    o->eip = f[0];
    o->eflags = f[2];
    o->vector = v;
    o->error = err;
    o->sreg[DT_ES] = cpu->seg[SEG_ES].sel;
    o->sreg[DT_CS] = (uint16_t)f[1];
    o->sreg[DT_SS] = (uint16_t)f[4];
    o->sreg[DT_DS] = cpu->seg[SEG_DS].sel;
    o->sreg[DT_FS] = cpu->seg[SEG_FS].sel;
    o->sreg[DT_GS] = cpu->seg[SEG_GS].sel;
    mmu_phys_read(m, K_SAVE, o->fpu, sizeof o->fpu);
    mmu_phys_read(m, DT_DATA_BASE, r->data, DT_DATA_SIZE);
    if (r->use_low)
        mmu_phys_read(m, DT_LOW_BASE, r->low, DT_LOW_SIZE);
    r->ok = true;
}

void dt_guest_load_code(struct dt_guest *g, uint32_t addr, const uint8_t *code, uint32_t len)
{
    mmu_phys_write(&g->mmu, addr, code, len);
}

int dt_guest_disasm(struct dt_guest *g, uint32_t lin, char *buf, unsigned size)
{
    return cpu_disasm(&g->cpu, lin, true, buf, size);
}
