/*
 * mmu_bench_fork.c — MMU benchmark: building and tearing down page tables the
 * way fork + exit do.
 *
 * A "parent" address space maps P user pages (default 384) spread over several
 * page tables. Each iteration forks it: a new page directory and new page
 * tables are allocated, every parent PTE is copied and both copies are made
 * read-only (copy-on-write), and the parent's TLB is flushed with a CR3 load.
 * The "child" then runs: it writes W random pages (each first write takes a #PF
 * whose handler copies the frame and maps it writable, with INVLPG as Linux
 * does) and reads R random pages. It "exits": back to the parent's CR3, and
 * its tables and private frames are freed. The parent then writes a few pages,
 * taking #PFs that just make its now-unshared frames writable again.
 * Frames come from one allocator, so a page that was a page table is data in a
 * later iteration and the other way round (what the shadow MMU's unshadow and
 * reshadow paths must handle).
 *
 * -append iters=I (forks, default 2000) pages=P (default 384, max 2048)
 * writes=W (child writes, default 16) reads=R (child reads, default 32).
 * Every value read is checked against a model and the checksum printed; PASS
 * only if all agree.
 */
#include "paging.h"

const char guest_name[] = "mmu_bench_fork";

#define WIN 0x40000000u
#define PER_PT 128                /* user pages per page table (spread over tables) */
#define FRAME_BASE 0x00400000u    /* frames: 4 MiB .. 16 MiB, all identity mapped */
#define NFRAMES 3072
#define MAXPAGES 2048

static u32 id_pt[4][1024] __attribute__((aligned(4096)));
static u16 refcnt[NFRAMES];
static u16 free_stack[NFRAMES];
static u32 nfree;
static u32 par[MAXPAGES], child[MAXPAGES]; /* model: word 0 of each page */
static u32 npages, iters, nwrites, nreads;
static u32 n_copy, n_reuse, n_pf;
static u32 rng = 0x9E3779B9;
static u32 rnd(void) { rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5; return rng; }

/* page-sized copies and clears with string instructions, as an OS would */
static void page_zero(u32 pa)
{
    u32 n = 1024;
    __asm__ volatile("rep stosl" : "+D"(pa), "+c"(n) : "a"(0) : "memory");
}
static void page_copy(u32 dst, u32 src)
{
    u32 n = 1024;
    __asm__ volatile("rep movsl" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static u32 frame_idx(u32 pa) { return (pa - FRAME_BASE) >> 12; }

static u32 alloc_frame(int zero)
{
    CHECK(nfree > 0, "out of frames");
    u32 f = free_stack[--nfree];
    refcnt[f] = 1;
    u32 pa = FRAME_BASE + (f << 12);
    if (zero)
        page_zero(pa);
    return pa;
}

static void put_frame(u32 pa)
{
    u32 f = frame_idx(pa);
    CHECK(f < NFRAMES && refcnt[f] > 0, "freeing frame %x with refcount %u", pa, f < NFRAMES ? refcnt[f] : 0);
    if (--refcnt[f] == 0)
        free_stack[nfree++] = f;
}

static u32 page_va(u32 i) { return WIN + (i / PER_PT) * 0x400000u + (i % PER_PT) * 4096; }
static u32 user_pdes(void) { return (npages + PER_PT - 1) / PER_PT; }

static u32 *pte_of(u32 pd_pa, u32 va)
{
    u32 pde = ((u32 *)pd_pa)[va >> 22];
    return &((u32 *)(pde & ~0xFFFu))[(va >> 12) & 1023];
}

/* copy-on-write fault: copy a shared frame, or take back an unshared one */
static int cow_fault(struct frame *f)
{
    u32 va = read_cr2();
    if ((f->error & (PF_P | PF_W)) != (PF_P | PF_W) || va < WIN || va >= page_va(npages - 1) + 4096)
        return 0;
    u32 *pte = pte_of(read_cr3() & ~0xFFFu, va);
    u32 old = *pte & ~0xFFFu;
    CHECK((*pte & PG_P) && !(*pte & PG_RW), "COW fault on PTE %x at %x", *pte, va);
    if (refcnt[frame_idx(old)] > 1) {
        u32 copy = alloc_frame(0);
        page_copy(copy, old);
        put_frame(old);
        *pte = copy | PG_P | PG_RW | PG_US;
        n_copy++;
    } else {
        *pte |= PG_RW;
        n_reuse++;
    }
    invlpg(va); /* not required after a #PF, but what an OS does */
    n_pf++;
    return 1;
}

static u32 make_parent(void)
{
    u32 pd = alloc_frame(1);
    for (int i = 0; i < 4; i++)
        ((u32 *)pd)[i] = (u32)id_pt[i] | PG_P | PG_RW | PG_US;
    for (u32 t = 0; t < user_pdes(); t++)
        ((u32 *)pd)[(WIN >> 22) + t] = alloc_frame(1) | PG_P | PG_RW | PG_US;
    for (u32 i = 0; i < npages; i++) {
        u32 pa = alloc_frame(1);
        par[i] = i * 3 + 1;
        *(u32 *)pa = par[i];
        *pte_of(pd, page_va(i)) = pa | PG_P | PG_RW | PG_US;
    }
    return pd;
}

static u32 fork(u32 ppd)
{
    u32 cpd = alloc_frame(1);
    for (int i = 0; i < 4; i++)
        ((u32 *)cpd)[i] = ((u32 *)ppd)[i];
    for (u32 t = 0; t < user_pdes(); t++) {
        u32 slot = (WIN >> 22) + t;
        u32 *ppt = (u32 *)(((u32 *)ppd)[slot] & ~0xFFFu);
        u32 cpt = alloc_frame(1);
        ((u32 *)cpd)[slot] = cpt | PG_P | PG_RW | PG_US;
        for (int j = 0; j < 1024; j++) {
            if (!(ppt[j] & PG_P))
                continue;
            ppt[j] &= ~PG_RW;
            ((u32 *)cpt)[j] = ppt[j] & ~(PG_A | PG_D);
            refcnt[frame_idx(ppt[j] & ~0xFFFu)]++;
        }
    }
    write_cr3(ppd); /* the parent's PTEs lost R/W: flush its TLB */
    return cpd;
}

static void teardown(u32 cpd)
{
    for (u32 t = 0; t < user_pdes(); t++) {
        u32 pt = ((u32 *)cpd)[(WIN >> 22) + t] & ~0xFFFu;
        for (int j = 0; j < 1024; j++)
            if (((u32 *)pt)[j] & PG_P)
                put_frame(((u32 *)pt)[j] & ~0xFFFu);
        put_frame(pt);
    }
    put_frame(cpd);
}

void test_main(void)
{
    iters = cmdline_u32("iters", 2000);
    npages = cmdline_u32("pages", 384);
    nwrites = cmdline_u32("writes", 16);
    nreads = cmdline_u32("reads", 32);
    CHECK(npages >= 1 && npages <= MAXPAGES, "pages=%u out of range (1..%d)", npages, MAXPAGES);
    CHECK(npages + nwrites + 2 * (user_pdes() + 1) <= NFRAMES, "pages + writes too large for %d frames",
          NFRAMES);
    kprintf("mmu_bench_fork: iters=%u pages=%u writes=%u reads=%u\n", iters, npages, nwrites, nreads);

    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 1024; j++)
            id_pt[i][j] = ((i * 1024 + j) << 12) | PG_P | PG_RW | PG_US;
    for (u32 f = 0; f < NFRAMES; f++)
        free_stack[nfree++] = NFRAMES - 1 - f;
    pf_hook = cow_fault;
    probe_install();

    u32 ppd = make_parent();
    u32 frames_parent = nfree;
    write_cr3(ppd);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);

    u32 sum = 0;
    u32 t0_lo, t0_hi, t1_lo, t1_hi;
    __asm__ volatile("rdtsc" : "=a"(t0_lo), "=d"(t0_hi));
    for (u32 it = 0; it < iters; it++) {
        u32 cpd = fork(ppd);
        write_cr3(cpd);
        memcpy(child, par, npages * 4);
        for (u32 w = 0; w < nwrites; w++) {
            u32 i = rnd() % npages;
            volatile u32 *p = (volatile u32 *)page_va(i);
            *p = *p + 1;
            child[i]++;
        }
        for (u32 r = 0; r < nreads; r++) {
            u32 i = rnd() % npages;
            u32 v = *(volatile u32 *)page_va(i);
            CHECK(v == child[i], "iteration %u: child read page %u = %x, expected %x", it, i, v, child[i]);
            sum = sum * 31 + v;
        }
        write_cr3(ppd);
        teardown(cpd);
        for (u32 w = 0; w < 4; w++) {
            u32 i = rnd() % npages;
            volatile u32 *p = (volatile u32 *)page_va(i);
            *p = *p + 7;
            par[i] += 7;
        }
        u32 i = rnd() % npages;
        u32 v = *(volatile u32 *)page_va(i);
        CHECK(v == par[i], "iteration %u: parent read page %u = %x, expected %x", it, i, v, par[i]);
        sum = sum * 31 + v;
    }
    __asm__ volatile("rdtsc" : "=a"(t1_lo), "=d"(t1_hi));
    u64 cycles = (((u64)t1_hi << 32) | t1_lo) - (((u64)t0_hi << 32) | t0_lo);

    for (u32 i = 0; i < npages; i++) {
        u32 v = *(volatile u32 *)page_va(i);
        CHECK(v == par[i], "end: parent page %u = %x, expected %x", i, v, par[i]);
        sum = sum * 31 + v;
    }
    CHECK(nfree == frames_parent, "frames leaked: %u free, expected %u", nfree, frames_parent);
    kprintf("checksum=%x forks=%u cow_copies=%u cow_reuses=%u faults=%u tsc=%u Mcycles\n", sum, iters,
            n_copy, n_reuse, n_pf, (u32)(cycles >> 20));
    kprintf("ok   %u fork/exit cycles of %u pages, every read matched the model, no frame leaked\n",
            iters, npages);
}
