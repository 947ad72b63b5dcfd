/*
 * mmu_switch.c — a micro-benchmark of the MMU alone (no CPU): the cost of
 * address-space switches and of building and tearing down page tables,
 * under -mmu shadow and -mmu walk.  Not a test: it prints a table.
 *
 * The guest it imitates is a 32-bit kernel with PSE and PGE: a global
 * direct map of low memory in 4 MiB pages at 0xC0000000 (through which the
 * kernel writes page tables, as Linux does), and processes with one page
 * table each for their user pages.
 *  - switch N: N processes; each turn loads a CR3 and touches 8 user pages
 *    (read + write) and 4 kernel pages.  N = 2, 8, 32 (the root LRU holds
 *    16, so 32 also measures what eviction costs).
 *  - fork/exit: the parent's kernel allocates a PD and a PT from a free
 *    list (reused pages, as a real allocator would), zeroes them through
 *    the direct map, fills kernel PDEs and 8 PTEs, runs the child (touch 8
 *    pages), switches back and clears the child's PTEs, freeing the pages.
 * Reports ns per turn (best of REPS runs: the host may be shared) and the
 * MMU counters of the last run.
 *
 * Build: cc -O2 -I. tests/bench/mmu_switch.c mmu/... (see the note at the
 * end of the report), or the CMake target bench_mmu_switch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mmu/mmu.h"

#define RAM (64u << 20)
#define KBASE 0xc0000000u
#define UBASE 0x08048000u
#define NUSER 8
#define P 1u
#define W 2u
#define U 4u
#define PS 0x80u
#define G 0x100u
#define REPS 5

static void on_fault(void *opaque, uint32_t gva, uint32_t error)
{
    fprintf(stderr, "unexpected #PF at 0x%08x (error %x)\n", gva, error);
    exit(1);
}

struct guest {
    struct mmu m;
    uint32_t kernel_pd;
    uint32_t free_list[4096];
    unsigned nfree;
    uint32_t next_frame;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t alloc_frame(struct guest *g)
{
    if (g->nfree)
        return g->free_list[--g->nfree];
    uint32_t f = g->next_frame;
    g->next_frame += PAGE_SIZE;
    return f;
}

static void free_frame(struct guest *g, uint32_t f)
{
    g->free_list[g->nfree++] = f;
}

static void set_cr3(struct guest *g, uint32_t cr3)
{
    struct paging_mode pm = {.pg = true, .pse = true, .pge = true, .wp = true, .cr3 = cr3};
    mmu_set_paging(&g->m, &pm);
}

/* Kernel stores go through the direct map, as the guest's would. */
static void kwrite(struct guest *g, uint32_t gpa, uint32_t v)
{
    mmu_set_user(&g->m, false);
    mmu_write32(&g->m, KBASE + gpa, v);
}

static void guest_init(struct guest *g, enum mmu_strategy s)
{
    if (mmu_init(&g->m, RAM)) {
        fprintf(stderr, "mmu_init failed\n");
        exit(1);
    }
    g->m.page_fault = on_fault;
    mmu_set_strategy(&g->m, s);
    g->next_frame = 16u << 20;
    g->nfree = 0;
    g->kernel_pd = 0x10000;
    for (uint32_t i = 0; i < RAM >> 22; i++)
        mmu_phys_write32(&g->m, g->kernel_pd + (768 + i) * 4, (i << 22) | P | W | PS | G);
    set_cr3(g, g->kernel_pd);
}

/* A process: PD with the kernel half, one PT with NUSER user pages. */
static uint32_t make_process(struct guest *g, bool zero)
{
    uint32_t pd = alloc_frame(g), pt = alloc_frame(g);
    if (zero)
        for (uint32_t off = 0; off < PAGE_SIZE; off += 4) {
            kwrite(g, pd + off, 0);
            kwrite(g, pt + off, 0);
        }
    for (uint32_t i = 0; i < RAM >> 22; i++)
        kwrite(g, pd + (768 + i) * 4, (i << 22) | P | W | PS | G);
    kwrite(g, pd + (UBASE >> 22) * 4, pt | P | W | U);
    for (uint32_t k = 0; k < NUSER; k++)
        kwrite(g, pt + (((UBASE >> 12) + k) & 1023) * 4, alloc_frame(g) | P | W | U);
    return pd;
}

static void destroy_process(struct guest *g, uint32_t pd)
{
    uint32_t pt = mmu_phys_read32(&g->m, pd + (UBASE >> 22) * 4) & PAGE_MASK;
    for (uint32_t k = 0; k < NUSER; k++) {
        uint32_t at = pt + (((UBASE >> 12) + k) & 1023) * 4;
        free_frame(g, mmu_phys_read32(&g->m, at) & PAGE_MASK);
        kwrite(g, at, 0);
    }
    kwrite(g, pd + (UBASE >> 22) * 4, 0);
    free_frame(g, pt);
    free_frame(g, pd);
}

static uint32_t run_process(struct guest *g, uint32_t pd, bool kernel_too)
{
    uint32_t sum = 0;
    set_cr3(g, pd);
    mmu_set_user(&g->m, true);
    for (uint32_t k = 0; k < NUSER; k++) {
        uint32_t a = UBASE + k * PAGE_SIZE + 64;
        uint32_t v = mmu_read32(&g->m, a);
        mmu_write32(&g->m, a, v + 1);
        sum += v;
    }
    if (kernel_too) {
        mmu_set_user(&g->m, false);
        for (uint32_t k = 0; k < 4; k++)
            sum += mmu_read32(&g->m, KBASE + 0x100000 + k * 0x3000);
    }
    return sum;
}

static void print_counters(const struct mmu_stats *st)
{
    printf("    misses %llu walks %llu flushes %llu cr3 %llu root-hits %llu built %llu zapped %llu "
           "unshadowed %llu fills %llu wp-traps %llu oos %llu resyncs %llu\n",
           (unsigned long long)st->tlb_misses, (unsigned long long)st->walks,
           (unsigned long long)st->tlb_flushes, (unsigned long long)st->cr3_loads,
           (unsigned long long)st->root_hits, (unsigned long long)st->shadow_built,
           (unsigned long long)st->shadow_zapped, (unsigned long long)st->shadow_unshadowed,
           (unsigned long long)st->shadow_fills, (unsigned long long)st->wp_traps,
           (unsigned long long)st->oos_pages, (unsigned long long)st->oos_resyncs);
}

static const char *sname(enum mmu_strategy s)
{
    return s == MMU_SHADOW ? "shadow" : "walk";
}

static double bench_switch(enum mmu_strategy s, unsigned n, unsigned turns)
{
    struct guest *g = calloc(1, sizeof *g);
    guest_init(g, s);
    uint32_t pds[64];
    for (unsigned i = 0; i < n; i++)
        pds[i] = make_process(g, false);
    volatile uint32_t sink = 0;
    for (unsigned i = 0; i < n; i++) /* warm up */
        sink += run_process(g, pds[i], true);
    double ns = 1e30;
    for (int rep = 0; rep < REPS; rep++) { /* best of REPS: the host is shared */
        memset(&g->m.stats, 0, sizeof g->m.stats);
        double t0 = now();
        for (unsigned t = 0; t < turns; t++)
            sink += run_process(g, pds[t % n], true);
        double r = (now() - t0) * 1e9 / turns;
        ns = r < ns ? r : ns;
    }
    printf("switch N=%-2u %-6s %8.1f ns/turn (%5.1f Mturns/s, 20 accesses each)\n", n, sname(s), ns,
           1e3 / ns);
    print_counters(&g->m.stats);
    mmu_destroy(&g->m);
    free(g);
    return ns;
}

static double bench_fork(enum mmu_strategy s, unsigned iters)
{
    struct guest *g = calloc(1, sizeof *g);
    guest_init(g, s);
    uint32_t parent = make_process(g, true);
    volatile uint32_t sink = 0;
    for (int warm = 0; warm < 2; warm++) {
        uint32_t child = make_process(g, true);
        sink += run_process(g, child, false);
        set_cr3(g, parent);
        destroy_process(g, child);
    }
    double ns = 1e30;
    for (int rep = 0; rep < REPS; rep++) {
        memset(&g->m.stats, 0, sizeof g->m.stats);
        double t0 = now();
        for (unsigned i = 0; i < iters; i++) {
            set_cr3(g, parent);
            uint32_t child = make_process(g, true);
            sink += run_process(g, child, false);
            set_cr3(g, parent);
            destroy_process(g, child);
        }
        double r = (now() - t0) * 1e9 / iters;
        ns = r < ns ? r : ns;
    }
    printf("fork/exit  %-6s %8.1f ns/iteration (%6.1f k/s; 2 pages zeroed + 27 PTE/PDE stores)\n",
           sname(s), ns, 1e6 / ns);
    print_counters(&g->m.stats);
    mmu_destroy(&g->m);
    free(g);
    return ns;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 1;
    if (!scale)
        scale = 1;
    const unsigned ns[] = {2, 8, 32};
    printf("%-26s %10s %10s %8s\n", "benchmark", "shadow ns", "walk ns", "walk/shadow");
    double r[4][2];
    for (unsigned i = 0; i < 3; i++) {
        r[i][0] = bench_switch(MMU_SHADOW, ns[i], 100000 * scale);
        r[i][1] = bench_switch(MMU_WALK, ns[i], 100000 * scale);
    }
    r[3][0] = bench_fork(MMU_SHADOW, 10000 * scale);
    r[3][1] = bench_fork(MMU_WALK, 10000 * scale);
    printf("\n%-26s %10s %10s %8s\n", "summary", "shadow ns", "walk ns", "speedup");
    for (unsigned i = 0; i < 3; i++)
        printf("switch N=%-17u %10.1f %10.1f %7.2fx\n", ns[i], r[i][0], r[i][1], r[i][1] / r[i][0]);
    printf("%-26s %10.1f %10.1f %7.2fx\n", "fork/exit", r[3][0], r[3][1], r[3][1] / r[3][0]);
    return 0;
}
