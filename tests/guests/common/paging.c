/*
 * paging.c — see paging.h. The #PF handler records what the CPU reported and
 * abandons the probing instruction: at CPL3 through user_return(), at CPL0 by
 * resuming at probe_recover (probe.asm), which restores the probe's stack.
 */
#include "paging.h"

extern u32 probe_k(u32 op, u32 va, u32 val);
extern void probe_u(void);
extern u32 probe_op, probe_va, probe_val;
extern char probe_recover[];

struct pf_record pf_last;
int (*pf_hook)(struct frame *f);
static volatile int probe_armed;

void paging_features(struct paging_features *f)
{
    u32 a, b, c, d, max_ext;
    memset(f, 0, sizeof *f);
    cpuid(1, &a, &b, &c, &d);
    f->pse = !!(d & (1u << 3));
    f->pae = !!(d & (1u << 6));
    f->pge = !!(d & (1u << 13));
    f->pse36 = !!(d & (1u << 17));
    f->maxphyaddr = f->pae ? 36 : 32; /* SDM vol. 3 4.1.4 when leaf 80000008h is absent */
    cpuid(0x80000000u, &max_ext, &b, &c, &d);
    if (max_ext >= 0x80000001u && max_ext < 0x8000ffffu) {
        cpuid(0x80000001u, &a, &b, &c, &d);
        f->nx = !!(d & (1u << 20));
    }
    if (max_ext >= 0x80000008u && max_ext < 0x8000ffffu) {
        cpuid(0x80000008u, &a, &b, &c, &d);
        if ((a & 0xFF) >= 32)
            f->maxphyaddr = a & 0xFF;
    }
}

static void on_pf(struct frame *f)
{
    if (pf_hook && pf_hook(f))
        return;
    if (!probe_armed)
        fail("unexpected #PF error=%x at %x:%x cr2=%x", f->error, f->cs, f->eip, read_cr2());
    pf_last.n++;
    pf_last.err = f->error;
    pf_last.cr2 = read_cr2();
    pf_last.eip = f->eip;
    pf_last.cs = f->cs;
    probe_armed = 0;
    if (f->cs & 3)
        user_return(PROBE_FAULT);
    f->eip = (u32)probe_recover;
}

void probe_install(void) { isr_set(14, on_pf); }

u32 probe(int cpl, int op, u32 va, u32 val)
{
    u32 r;
    memset(&pf_last, 0, sizeof pf_last);
    probe_armed = 1;
    if (cpl == 3) {
        probe_op = op, probe_va = va, probe_val = val;
        r = user_call(probe_u, USER_STACK_TOP, 0x2, 0);
    } else {
        r = probe_k(op, va, val);
    }
    probe_armed = 0;
    return r;
}
