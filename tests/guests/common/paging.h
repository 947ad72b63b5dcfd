/*
 * paging.h — helpers shared by the paging guests (paging_access,
 * paging_coherence, mmu_bench_*): CPUID/MSR/TLB instructions, entry bits, and
 * a probe that performs one access at CPL0 or CPL3 and reports a #PF instead of
 * dying on it. Link common/paging.c and common/probe.asm to use it.
 */
#ifndef PAGING_H
#define PAGING_H
#include "guest.h"

#define PG_P (1u << 0)
#define PG_RW (1u << 1)
#define PG_US (1u << 2)
#define PG_PWT (1u << 3)
#define PG_PCD (1u << 4)
#define PG_A (1u << 5)
#define PG_D (1u << 6)
#define PG_PS (1u << 7)
#define PG_G (1u << 8)
#define PG_NX (1ull << 63)

#define CR0_WP (1u << 16)
#define CR0_PG (1u << 31)
#define CR4_PSE (1u << 4)
#define CR4_PAE (1u << 5)
#define CR4_PGE (1u << 7)
#define MSR_EFER 0xC0000080u
#define EFER_NXE (1u << 11)

#define PF_P 1u
#define PF_W 2u
#define PF_U 4u
#define PF_RSVD 8u
#define PF_ID 16u

#define PROBE_READ 0
#define PROBE_WRITE 1
#define PROBE_FETCH 2
#define PROBE_FAULT 0xFA017EEEu /* what a probe returns when it took a #PF */
#define PROBE_OK 0x0C0FFEE0u    /* what a successful write probe returns */

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }
static inline void write_cr2(u32 v) { __asm__ volatile("mov %0, %%cr2" ::"r"(v)); }

/* What the CPU advertises (filled by paging_features()). */
struct paging_features {
    int pse, pae, pge, pse36, nx;
    int maxphyaddr;
};
void paging_features(struct paging_features *f);

/* The last #PF taken during a probe (cleared by probe()). */
struct pf_record {
    u32 n, err, cr2, eip, cs;
};
extern struct pf_record pf_last;

/* Installs the #PF handler that probes rely on. A #PF outside a probe fails the
 * test unless pf_hook (called first) returns nonzero, meaning handled. */
void probe_install(void);
extern int (*pf_hook)(struct frame *f);

/* One access at CPL 0 or 3: returns the value read / PROBE_OK / what the code
 * at va returned, or PROBE_FAULT with pf_last filled. */
u32 probe(int cpl, int op, u32 va, u32 val);

#endif
