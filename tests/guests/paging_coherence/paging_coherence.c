/*
 * paging_coherence.c — page-table edits must reach translation exactly when the
 * architecture says (SDM vol. 3, 4.10: caching translation information).
 *
 * What x86 guarantees, and what this guest checks:
 *  - MOV to CR3 invalidates every non-global translation and the paging-
 *    structure caches (4.10.4.1): edits made without INVLPG are seen after it.
 *  - INVLPG invalidates the translation of its page — for a 4 MiB / 2 MiB page,
 *    the whole page (4.10.2.3) — and all paging-structure caches.
 *  - No invalidation is needed after making a not-present entry present
 *    (4.10.4.3), and a #PF invalidates the faulting address's translations
 *    (4.10.4.1), so a handler that fixes the entry and returns needs no INVLPG.
 *  - The first write through a translation cached with D=0 sets D (4.8).
 *  - A page can be a page table and data at once; a page directory can map
 *    itself (the recursive 0xFFC00000 window).
 *  - A global page (CR4.PGE, G=1) may survive a CR3 load (either outcome is
 *    accepted and reported) but not INVLPG or a CR4.PGE toggle.
 *  - PAE: the PDPTEs are loaded by MOV to CR3; after INVLPG the old or the new
 *    PDPTE may be in use, after the CR3 load only the new one.
 * Where the architecture allows a stale translation (an edit before any flush)
 * the guest reads nothing it would have to judge. A randomized part switches
 * between several address spaces (CR3s) that share some page tables, editing
 * the tables of the current and of other address spaces, against a model.
 *
 * -append ops=N sets the number of randomized steps (default 20000), seed=S;
 * hw=1 also checks what QEMU gets wrong (RSVD #PF error code without P).
 */
#include "paging.h"

const char guest_name[] = "paging_coherence";

#define VA_W 0x40000000u /* PDE 256: window of 4 KiB slots */
#define VA_G 0x40400000u /* PDE 257: global pages */
#define VA_L 0x40800000u /* PDE 258: a 4 MiB page */
#define VA_X 0x40C00000u /* PDE 259: the page-table-as-data test */
#define RECURSIVE 0xFFC00000u
#define PHYS_BIG_A 0x00400000u /* two 4 MiB physical areas above the image (needs 12 MiB RAM) */
#define PHYS_BIG_B 0x00800000u
#define TAG(i) (0x7A600000u | (i))
#define DATA_OFF 8

#define NPOOL 32
#define NAS 4
#define NPT 6
#define NSLOT 8

static u32 kpd[1024] __attribute__((aligned(4096)));        /* main PD */
static u32 id_pt[4][1024] __attribute__((aligned(4096)));   /* 16 MiB identity */
static u32 wpt[NPT][1024] __attribute__((aligned(4096)));   /* window PTs */
static u32 gpt[1024] __attribute__((aligned(4096)));        /* global-page PT */
static u32 as_pd[NAS][1024] __attribute__((aligned(4096))); /* address spaces */
static u8 pool[NPOOL][4096] __attribute__((aligned(4096)));
static u8 ptdata[2][4096] __attribute__((aligned(4096)));   /* tables that are also data */
static u8 split_pages[2][4096] __attribute__((aligned(4096)));
/* PAE */
static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pdpt_alt[4] __attribute__((aligned(32)));
static u64 pae_pd0[512] __attribute__((aligned(4096)));
static u64 pae_pd1[512] __attribute__((aligned(4096)));
static u64 pae_pd1_alt[512] __attribute__((aligned(4096)));
static u64 pae_pt[512] __attribute__((aligned(4096)));

static struct paging_features feat;
static u32 hw;
static u32 mutate; /* -append mutate=N: leave out a needed flush (checks the checker) */
static u32 rng = 0x2545F491;
static u32 rnd(void) { rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5; return rng; }

static u32 P(const void *p) { return (u32)p; }
static u32 pte_for(int i) { return P(pool[i]) | PG_P | PG_RW | PG_US; }
static u32 rd(u32 va) { return *(volatile u32 *)va; }

static u32 expect_read(const char *what, u32 va, u32 want)
{
    u32 v = probe(0, PROBE_READ, va, 0);
    if (v == PROBE_FAULT)
        fail("%s: read of %x took #PF err=%x cr2=%x, expected %x", what, va, pf_last.err, pf_last.cr2, want);
    if (v != want)
        fail("%s: read of %x gave %x, expected %x", what, va, v, want);
    return v;
}

static void expect_fault(const char *what, int op, u32 va, u32 err)
{
    u32 v = probe(0, op, va, 0xBAD);
    if (v != PROBE_FAULT)
        fail("%s: %s of %x did not fault (got %x)", what, op == PROBE_WRITE ? "write" : "read", va, v);
    if (pf_last.err != err || pf_last.cr2 != va)
        fail("%s: #PF err=%x cr2=%x, expected err=%x cr2=%x", what, pf_last.err, pf_last.cr2, err, va);
}

/* #PF fixups: make the entry present / writable and return without INVLPG */
static u32 *fix_pte, fix_or, fix_n, fix_err, fix_cr2;
static int fixup(struct frame *f)
{
    if (!fix_pte)
        return 0;
    fix_n++, fix_err = f->error, fix_cr2 = read_cr2();
    *fix_pte |= fix_or;
    fix_pte = 0;
    return 1;
}

static void paging_on_32(u32 cr4_extra)
{
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4((read_cr4() & ~(CR4_PAE | CR4_PGE | CR4_PSE)) | cr4_extra);
    write_cr3(P(kpd));
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

static void setup(void)
{
    for (int i = 0; i < NPOOL; i++) {
        memset(pool[i], 0, 4096);
        *(u32 *)pool[i] = TAG(i);
    }
    for (int i = 0; i < 4; i++) {
        kpd[i] = P(id_pt[i]) | PG_P | PG_RW | PG_US;
        for (int j = 0; j < 1024; j++)
            id_pt[i][j] = ((i * 1024 + j) << 12) | PG_P | PG_RW | PG_US;
    }
    kpd[256] = P(wpt[0]) | PG_P | PG_RW | PG_US;
    kpd[257] = P(gpt) | PG_P | PG_RW | PG_US;
    /* two 4 MiB areas with tags at a few offsets */
    for (u32 off = 0; off < 0x400000; off += 0x100000) {
        *(u32 *)(PHYS_BIG_A + off) = 0xA0000000u | off;
        *(u32 *)(PHYS_BIG_B + off) = 0xB0000000u | off;
        *(u32 *)(PHYS_BIG_A + off + 0xFF000) = 0xA0000001u | off;
        *(u32 *)(PHYS_BIG_B + off + 0xFF000) = 0xB0000001u | off;
    }
}

/* 1. edits without INVLPG, seen after a CR3 load; the P 0->1 and #PF rules */
static void test_cr3_reload(void)
{
    u32 va = VA_W, *pte = &wpt[0][0];
    *pte = pte_for(0);
    write_cr3(P(kpd));
    expect_read("initial mapping", va, TAG(0));
    *pte = pte_for(1); /* no INVLPG: the old translation may live on */
    write_cr3(P(kpd));
    expect_read("PTE changed, then CR3 reloaded", va, TAG(1));
    kprintf("ok   PTE changed without INVLPG, seen after a CR3 load\n");

    /* change the PDE: slot 0 of another table */
    wpt[1][0] = pte_for(2);
    kpd[256] = P(wpt[1]) | PG_P | PG_RW | PG_US;
    write_cr3(P(kpd));
    expect_read("PDE changed, then CR3 reloaded", va, TAG(2));
    kpd[256] = P(wpt[0]) | PG_P | PG_RW | PG_US;
    write_cr3(P(kpd));
    expect_read("PDE changed back, then CR3 reloaded", va, TAG(1));
    kprintf("ok   PDE changed without INVLPG, seen after a CR3 load\n");

    /* read-only now: the write must fault after the CR3 load */
    *pte &= ~PG_RW;
    write_cr3(P(kpd));
    expect_fault("PTE made read-only, CR3 reloaded", PROBE_WRITE, va + DATA_OFF, PF_P | PF_W);
    *pte = 0;
    write_cr3(P(kpd));
    expect_fault("PTE made not-present, CR3 reloaded", PROBE_READ, va, 0);
    kprintf("ok   permissions reduced without INVLPG, enforced after a CR3 load\n");

    /* not-present -> present needs no invalidation (the #PF above flushed it) */
    *pte = pte_for(3);
    expect_read("not-present PTE made present, no flush", va, TAG(3));
    /* a never-used slot and a never-used PDE: present at once */
    wpt[0][5] = pte_for(4);
    expect_read("fresh PTE, no flush", va + 5 * 4096, TAG(4));
    wpt[2][7] = pte_for(5);
    kpd[259] = P(wpt[2]) | PG_P | PG_RW | PG_US;
    expect_read("fresh PDE, no flush", VA_X + 7 * 4096, TAG(5));
    kpd[259] = 0;
    write_cr3(P(kpd));
    kprintf("ok   not-present -> present takes effect with no flush\n");

    /* demand paging: the #PF handler fixes the entry and IRETs, no INVLPG */
    *pte = pte_for(6) & ~PG_P;
    invlpg(va);
    fix_pte = pte, fix_or = PG_P, fix_n = 0;
    expect_read("demand fault fixed by the handler", va, TAG(6));
    CHECK(fix_n == 1 && fix_err == 0 && fix_cr2 == va, "demand fault: %u faults err=%x cr2=%x", fix_n,
          fix_err, fix_cr2);
    *pte = pte_for(6) & ~PG_RW;
    invlpg(va);
    expect_read("read-only mapping", va, TAG(6)); /* cache the read-only translation */
    fix_pte = pte, fix_or = PG_RW, fix_n = 0;
    u32 r = probe(0, PROBE_WRITE, va + DATA_OFF, 0x600D);
    CHECK(r == PROBE_OK && fix_n == 1 && fix_err == (PF_P | PF_W), "copy-on-write fault fixed by the "
          "handler: result %x, %u faults err=%x", r, fix_n, fix_err);
    CHECK(*(u32 *)(pool[6] + DATA_OFF) == 0x600D, "write after the fixed fault did not land");
    kprintf("ok   #PF handler fixes P / R/W without INVLPG, the retried access succeeds\n");

    /* D: a translation cached by a read (D=0) must set D on the first write */
    *pte = pte_for(7);
    invlpg(va);
    expect_read("clean page", va, TAG(7));
    CHECK((*pte & (PG_A | PG_D)) == PG_A, "after a read: PTE %x, expected A set and D clear", *pte);
    *(volatile u32 *)(va + DATA_OFF) = 1;
    CHECK(*pte & PG_D, "write through a translation cached by a read did not set D: PTE %x", *pte);
    *pte &= ~(PG_A | PG_D);
    invlpg(va);
    *(volatile u32 *)(va + DATA_OFF) = 2;
    CHECK((*pte & (PG_A | PG_D)) == (PG_A | PG_D), "A/D cleared, INVLPG, write: PTE %x", *pte);
    kprintf("ok   D set by the first write after a read cached the translation\n");
}

/* 2. INVLPG, including a 4 MiB page */
static void test_invlpg(void)
{
    u32 va = VA_W + 0x3000, *pte = &wpt[0][3];
    *pte = pte_for(8);
    invlpg(va);
    expect_read("mapped", va, TAG(8));
    for (int i = 9; i < 16; i++) {
        *pte = pte_for(i);
        if (mutate != 3)
            invlpg(va);
        expect_read("PTE changed, INVLPG", va, TAG(i));
    }
    *pte &= ~PG_RW;
    invlpg(va);
    expect_fault("PTE made read-only, INVLPG", PROBE_WRITE, va + DATA_OFF, PF_P | PF_W);
    *pte &= ~PG_US;
    invlpg(va);
    u32 r = probe(3, PROBE_READ, va, 0);
    CHECK(r == PROBE_FAULT && pf_last.err == (PF_P | PF_U), "PTE made supervisor, INVLPG, user read: "
          "%x err=%x", r, pf_last.err);
    *pte = 0;
    invlpg(va);
    expect_fault("PTE made not-present, INVLPG", PROBE_READ, va, 0);
    kprintf("ok   INVLPG: remap, read-only, supervisor, not-present take effect at once\n");

    if (!feat.pse) {
        kprintf("SKIP 4 MiB page INVLPG: CPUID.01h:EDX.PSE[3]=0\n");
        return;
    }
    write_cr4(read_cr4() | CR4_PSE);
    kpd[258] = PHYS_BIG_A | PG_PS | PG_P | PG_RW | PG_US;
    invlpg(VA_L);
    for (u32 off = 0; off < 0x400000; off += 0x100000)
        expect_read("4 MiB page A", VA_L + off, 0xA0000000u | off);
    kpd[258] = PHYS_BIG_B | PG_PS | PG_P | PG_RW | PG_US;
    invlpg(VA_L + 0x2FF000); /* one address inside the page invalidates all of it */
    for (u32 off = 0; off < 0x400000; off += 0x100000) {
        expect_read("4 MiB page remapped, INVLPG elsewhere in it", VA_L + off, 0xB0000000u | off);
        expect_read("4 MiB page remapped, INVLPG elsewhere in it", VA_L + off + 0xFF000, 0xB0000001u | off);
    }
    /* 4 MiB page replaced by a page table */
    wpt[3][0x1FF] = pte_for(16);
    kpd[258] = P(wpt[3]) | PG_P | PG_RW | PG_US;
    invlpg(VA_L);
    expect_read("4 MiB page replaced by a table, INVLPG", VA_L + 0x1FF000, TAG(16));
    kpd[258] = 0;
    write_cr3(P(kpd));
    write_cr4(read_cr4() & ~CR4_PSE);
    kprintf("ok   INVLPG of one address in a 4 MiB page invalidates the whole page\n");
}

/* 3. a page that is a page table and data at once */
static void test_table_as_data(void)
{
    u32 *t = (u32 *)ptdata[0];
    u32 va_self = VA_X + 1023 * 4096; /* the table maps itself at its last slot */
    memset(t, 0, 4096);
    t[1023] = P(t) | PG_P | PG_RW | PG_US;
    t[0] = pte_for(17);
    kpd[259] = P(t) | PG_P | PG_RW | PG_US;
    write_cr3(P(kpd));
    expect_read("table page, slot 0", VA_X, TAG(17));
    volatile u32 *self = (volatile u32 *)va_self;
    CHECK((self[0] & ~0xFFFu) == P(pool[17]) && (self[0] & PG_A), "table read as data: entry 0 = %x, "
          "expected %x with A set", self[0], pte_for(17) | PG_A);
    /* write entries through the data mapping, use them */
    self[1] = pte_for(18); /* never used: no flush needed */
    expect_read("entry written through the data mapping", VA_X + 4096, TAG(18));
    self[0] = pte_for(19);
    invlpg(VA_X);
    expect_read("entry rewritten through the data mapping, INVLPG", VA_X, TAG(19));
    for (int i = 2; i < 40; i++)
        self[i] = pte_for(i % NPOOL);
    write_cr3(P(kpd));
    for (int i = 2; i < 40; i++)
        expect_read("burst of entries written as data, CR3 reload", VA_X + i * 4096, TAG(i % NPOOL));
    CHECK(self[5] & PG_A, "A bit set by the walk not visible through the data mapping: %x", self[5]);
    /* data in the table page that is not an entry: a misaligned and a string write */
    *(volatile u32 *)((u32)self + 0x802) = 0; /* entries 512, 513: not present, still */
    u32 sd = (u32)self + 0x900, sn = 16;
    __asm__ volatile("rep stosl" : "+D"(sd), "+c"(sn) : "a"(0) : "memory");
    expect_read("after string writes into the table", VA_X + 3 * 4096, TAG(3));
    self[600] = pte_for(20); /* a later slot written by the same page */
    expect_read("entry 600 written as data", VA_X + 600 * 4096, TAG(20));
    kprintf("ok   page used as a page table and as data (self-mapped slot, burst, string writes)\n");

    /* the table stops being a table and becomes plain data, then a table again */
    kpd[259] = 0;
    write_cr3(P(kpd));
    for (int round = 0; round < 4; round++)
        for (int i = 0; i < 1024; i++)
            t[i] = rnd() & ~PG_P; /* data written through the identity map */
    expect_fault("PDE removed", PROBE_READ, VA_X, 0);
    memset(t, 0, 4096);
    t[0] = pte_for(21);
    t[9] = pte_for(22);
    kpd[259] = P(t) | PG_P | PG_RW | PG_US;
    write_cr3(P(kpd));
    expect_read("table again (0)", VA_X, TAG(21));
    expect_read("table again (9)", VA_X + 9 * 4096, TAG(22));
    /* the same page at two levels: a PDE pointing to the PD's own page is the
     * recursive case, tested below; here one table page under two PDEs */
    kpd[260] = P(t) | PG_P | PG_RW | PG_US;
    write_cr3(P(kpd));
    expect_read("one table under two PDEs", 0x41000000u + 9 * 4096, TAG(22));
    t[9] = pte_for(23);
    invlpg(VA_X + 9 * 4096);
    invlpg(0x41000000u + 9 * 4096);
    expect_read("shared table edited (first PDE)", VA_X + 9 * 4096, TAG(23));
    expect_read("shared table edited (second PDE)", 0x41000000u + 9 * 4096, TAG(23));
    kpd[259] = kpd[260] = 0;
    write_cr3(P(kpd));
    kprintf("ok   page table turned into data and back; one table under two PDEs\n");
}

/* 4. recursive page directory */
static void test_recursive(void)
{
    kpd[1023] = P(kpd) | PG_P | PG_RW; /* supervisor only */
    write_cr3(P(kpd));
    volatile u32 *ptes = (volatile u32 *)RECURSIVE;          /* all PTEs, by VA >> 12 */
    volatile u32 *pdes = (volatile u32 *)(RECURSIVE + 0x3FF000); /* the PD itself */
    CHECK((pdes[1023] & ~0xFFFu) == P(kpd), "PD self-map: PDE 1023 reads %x", pdes[1023]);
    CHECK((pdes[256] & ~0xFFFu) == P(wpt[0]), "PD through the window: PDE 256 reads %x", pdes[256]);
    u32 va = VA_W + 0x6000;
    ptes[va >> 12] = pte_for(24);
    invlpg(va);
    expect_read("PTE written through 0xFFC00000", va, TAG(24));
    CHECK(wpt[0][6] == pte_for(24) || wpt[0][6] == (pte_for(24) | PG_A), "PTE written through the "
          "window: the table holds %x", wpt[0][6]);
    CHECK(ptes[va >> 12] & PG_A, "A bit not visible through the window: %x", ptes[va >> 12]);
    ptes[va >> 12] = pte_for(25);
    write_cr3(P(kpd));
    expect_read("PTE written through the window, CR3 reload", va, TAG(25));

    /* a new page table installed through the window and filled through it */
    u32 *t = (u32 *)ptdata[1];
    memset(t, 0xEE, 4096); /* garbage first: becomes a table below */
    for (int i = 0; i < 1024; i++)
        t[i] &= ~PG_P;
    pdes[261] = P(t) | PG_P | PG_RW | PG_US; /* was not present: no flush needed */
    volatile u32 *newpt = (volatile u32 *)(RECURSIVE + 261 * 4096);
    for (int i = 0; i < 1024; i++)
        newpt[i] = 0;
    u32 base = 261u << 22;
    for (int i = 0; i < 16; i++)
        newpt[i * 64] = pte_for(i);
    for (int i = 0; i < 16; i++)
        expect_read("table installed and filled through the window", base + i * 64 * 4096, TAG(i));
    CHECK(t[64] == (pte_for(1) | PG_A), "new table seen through the identity map: %x", t[64]);
    /* remove it through the window */
    pdes[261] = 0;
    /* INVLPG drops only the named page's TLB entry (SDM vol. 3 §4.10.4.1):
     * every page read above may still be cached, so each is invalidated. */
    for (int i = 0; i < 16; i++)
        invlpg(base + i * 64 * 4096);
    invlpg(RECURSIVE + 261 * 4096);
    expect_fault("PDE removed through the window", PROBE_READ, base + 64 * 4096, 0);
    expect_fault("its window page is gone too", PROBE_READ, RECURSIVE + 261 * 4096, 0);
    kpd[1023] = 0;
    write_cr3(P(kpd));
    kprintf("ok   recursive page directory: PTEs and PDEs edited through 0xFFC00000\n");
}

/* 4b. accesses that straddle two pages: the fault names the first byte of the
 * page that faults, and a faulting store writes nothing to either page */
static void test_split(void)
{
    u32 a = VA_W + 16 * 4096, b = a + 4096;
    u32 *pa = &wpt[0][16], *pb = &wpt[0][17];
    u8 *A = split_pages[1], *B = split_pages[0]; /* B is not the page after A physically */
    u32 pte_a = P(A) | PG_P | PG_RW | PG_US, pte_b = P(B) | PG_P | PG_RW | PG_US;
    memset(A + 4088, 0x11, 8);
    memset(B, 0x22, 8);
    *pa = pte_a;
    *pb = 0;
    write_cr3(P(kpd));
    u32 r = probe(0, PROBE_READ, b - 2, 0);
    CHECK(r == PROBE_FAULT && pf_last.err == 0 && pf_last.cr2 == b, "split read into a not-present "
          "page: %x err=%x cr2=%x, expected #PF err=0 cr2=%x", r, pf_last.err, pf_last.cr2, b);
    r = probe(0, PROBE_WRITE, b - 1, 0xAABBCCDD);
    CHECK(r == PROBE_FAULT && pf_last.err == PF_W && pf_last.cr2 == b, "split write into a not-present "
          "page: %x err=%x cr2=%x, expected #PF err=2 cr2=%x", r, pf_last.err, pf_last.cr2, b);
    CHECK(A[4095] == 0x11, "faulting split write changed the first page: %x", A[4095]);
    *pb = pte_b & ~PG_RW;
    r = probe(0, PROBE_WRITE, b - 3, 0xAABBCCDD);
    CHECK(r == PROBE_FAULT && pf_last.err == (PF_P | PF_W) && pf_last.cr2 == b, "split write into a "
          "read-only page: %x err=%x cr2=%x, expected #PF err=3 cr2=%x", r, pf_last.err, pf_last.cr2, b);
    CHECK(A[4093] == 0x11 && A[4095] == 0x11 && B[0] == 0x22, "faulting split write wrote something");
    *pb = pte_b & ~PG_US;
    invlpg(b);
    r = probe(3, PROBE_READ, b - 2, 0);
    CHECK(r == PROBE_FAULT && pf_last.err == (PF_P | PF_U) && pf_last.cr2 == b, "user split read into a "
          "supervisor page: %x err=%x cr2=%x", r, pf_last.err, pf_last.cr2);
    *pa = 0;
    *pb = pte_b;
    invlpg(a);
    invlpg(b);
    expect_fault("dword read from a not-present page into a present one", PROBE_READ, b - 2, 0);
    *pa = pte_a;
    *pb = pte_b;
    invlpg(a);
    invlpg(b);
    r = probe(0, PROBE_WRITE, b - 1, 0xAABBCCDD);
    CHECK(r == PROBE_OK && A[4095] == 0xDD && B[0] == 0xCC && B[1] == 0xBB && B[2] == 0xAA,
          "split write across two mapped pages: %x, bytes %x | %x %x %x", r, A[4095], B[0], B[1], B[2]);
    CHECK((*pa & PG_D) && (*pb & PG_D), "split write: D bits %x %x", *pa, *pb);
    expect_read("split read across two mapped pages", b - 2, 0xBBCCDD11u);
    *pa = *pb = 0;
    write_cr3(P(kpd));
    kprintf("ok   accesses straddling two pages: CR2, error code, nothing written on a fault\n");
}

/* 5. many address spaces, tables edited in between, against a model */
static int ptmap[NPT][NSLOT]; /* pool page, or -1 */
static int as_pt[NAS];
static u32 pdata[NPOOL];

static void set_slot(int t, int s, int p)
{
    ptmap[t][s] = p;
    wpt[t][s] = p >= 0 ? pte_for(p) : (rnd() & ~0xFFFu & ~PG_P) | (rnd() & 0xFFE); /* garbage, P=0 */
}

static void check_slot(int cur, int s, const char *what)
{
    u32 va = VA_W + s * 4096;
    int p = ptmap[as_pt[cur]][s];
    u32 v = probe(0, PROBE_READ, va, 0);
    if (p < 0) {
        if (v != PROBE_FAULT || pf_last.err != 0 || pf_last.cr2 != va)
            fail("%s: AS %d slot %d (table %d) should be not present: got %x err=%x", what, cur, s,
                 as_pt[cur], v, pf_last.err);
        return;
    }
    if (v != TAG(p))
        fail("%s: AS %d slot %d (table %d) read %x, expected page %d (%x)", what, cur, s, as_pt[cur], v,
             p, TAG(p));
    v = rd(va + DATA_OFF);
    if (v != pdata[p])
        fail("%s: AS %d slot %d page %d data %x, expected %x", what, cur, s, p, v, pdata[p]);
}

static void test_many_cr3(void)
{
    u32 ops = cmdline_u32("ops", 20000);
    u32 n_sw = 0, n_rd = 0, n_wr = 0, n_pte = 0, n_pde = 0, n_noflush = 0;
    for (int t = 0; t < NPT; t++) {
        memset(wpt[t], 0, 4096);
        for (int s = 0; s < NSLOT; s++)
            set_slot(t, s, rnd() % 4 ? (int)(rnd() % NPOOL) : -1);
    }
    for (int a = 0; a < NAS; a++) {
        memset(as_pd[a], 0, 4096);
        for (int i = 0; i < 4; i++)
            as_pd[a][i] = kpd[i];
        as_pt[a] = a;
        as_pd[a][256] = P(wpt[a]) | PG_P | PG_RW | PG_US;
    }
    for (int p = 0; p < NPOOL; p++)
        pdata[p] = *(u32 *)(pool[p] + DATA_OFF);
    int cur = 0;
    write_cr3(P(as_pd[0]));
    for (u32 i = 0; i < ops; i++) {
        u32 r = rnd() % 100;
        if (r < 12) { /* switch */
            cur = rnd() % NAS;
            write_cr3(P(as_pd[cur]));
            n_sw++;
        } else if (r < 45) {
            check_slot(cur, rnd() % NSLOT, "read");
            n_rd++;
        } else if (r < 60) {
            int s = rnd() % NSLOT, p = ptmap[as_pt[cur]][s];
            u32 va = VA_W + s * 4096 + DATA_OFF, val = rnd();
            u32 v = probe(0, PROBE_WRITE, va, val);
            if (p < 0) {
                CHECK(v == PROBE_FAULT && pf_last.err == PF_W, "write to unmapped AS %d slot %d: %x err=%x",
                      cur, s, v, pf_last.err);
            } else {
                CHECK(v == PROBE_OK, "write AS %d slot %d faulted err=%x", cur, s, pf_last.err);
                pdata[p] = val;
            }
            n_wr++;
        } else if (r < 88) { /* edit a PTE in any table, used by this AS or not */
            int t = rnd() % NPT, s = rnd() % NSLOT;
            int was = ptmap[t][s], p = rnd() % 5 ? (int)(rnd() % NPOOL) : -1;
            set_slot(t, s, p);
            if (as_pt[cur] == t) {
                u32 how = rnd() % 3;
                if (was < 0 && how == 2)
                    n_noflush++; /* not-present -> present: no invalidation needed */
                else if (how == 1) {
                    if (mutate != 2)
                        write_cr3(P(as_pd[cur]));
                } else if (mutate != 1)
                    invlpg(VA_W + s * 4096);
            }
            n_pte++;
        } else if (r < 96) { /* point an AS at another table (tables get shared) */
            int a = rnd() % NAS, t = rnd() % NPT;
            as_pt[a] = t;
            as_pd[a][256] = P(wpt[t]) | PG_P | PG_RW | PG_US;
            if (a == cur) {
                if (rnd() & 1) {
                    write_cr3(P(as_pd[cur]));
                } else {
                    for (int s = 0; s < NSLOT; s++)
                        invlpg(VA_W + s * 4096); /* also drops the cached PDE */
                }
            }
            n_pde++;
        } else {
            for (int s = 0; s < NSLOT; s++)
                check_slot(cur, s, "sweep");
        }
    }
    for (int a = 0; a < NAS; a++) {
        write_cr3(P(as_pd[a]));
        for (int s = 0; s < NSLOT; s++)
            check_slot(a, s, "final sweep");
    }
    write_cr3(P(kpd));
    kprintf("ok   %u steps over %d address spaces sharing %d tables: %u CR3 switches, %u reads, "
            "%u writes, %u PTE edits (%u 0->1 without flush), %u PDE edits\n",
            ops, NAS, NPT, n_sw, n_rd, n_wr, n_pte, n_noflush, n_pde);
}

/* 6. global pages */
static void test_global(void)
{
    if (!feat.pge) {
        kprintf("SKIP global pages: CPUID.01h:EDX.PGE[13]=0\n");
        return;
    }
    write_cr4(read_cr4() | CR4_PGE);
    u32 *pte = &gpt[0];
    int kept = 0, trials = 0;
    for (int i = 0; i < 4; i++) {
        u32 va = VA_G + i * 0x1000;
        u32 *e = pte + i;
        *e = pte_for(i) | PG_G;
        invlpg(va);
        expect_read("global page", va, TAG(i));
        *e = pte_for(i + 10) | PG_G;
        write_cr3(P(kpd));
        u32 v = probe(0, PROBE_READ, va, 0);
        CHECK(v == TAG(i) || v == TAG(i + 10), "global page after a CR3 load: read %x, expected %x "
              "(kept) or %x (reloaded)", v, TAG(i), TAG(i + 10));
        kept += v == TAG(i), trials++;
        if (i & 1) {
            invlpg(va);
        } else {
            write_cr4(read_cr4() & ~CR4_PGE);
            write_cr4(read_cr4() | CR4_PGE);
        }
        expect_read(i & 1 ? "global page after INVLPG" : "global page after toggling CR4.PGE", va, TAG(i + 10));
    }
    /* without CR4.PGE the G bit is ignored: a CR3 load must drop the entry */
    write_cr4(read_cr4() & ~CR4_PGE);
    *pte = pte_for(5) | PG_G;
    invlpg(VA_G);
    expect_read("G set, CR4.PGE=0", VA_G, TAG(5));
    *pte = pte_for(6) | PG_G;
    write_cr3(P(kpd));
    expect_read("G set, CR4.PGE=0, CR3 reloaded", VA_G, TAG(6));
    /* a non-global page never survives a CR3 load, even with CR4.PGE=1 */
    write_cr4(read_cr4() | CR4_PGE);
    *pte = pte_for(7);
    invlpg(VA_G);
    expect_read("non-global page", VA_G, TAG(7));
    *pte = pte_for(8);
    write_cr3(P(kpd));
    expect_read("non-global page, CR4.PGE=1, CR3 reloaded", VA_G, TAG(8));
    write_cr4(read_cr4() & ~CR4_PGE);
    kprintf("ok   global pages: kept across a CR3 load in %d of %d trials (both allowed); "
            "INVLPG, CR4.PGE toggle and G without PGE behave\n", kept, trials);
}

/* 7. PAE: PDPTEs load with CR3; PTE edits; 2 MiB page INVLPG */
static void test_pae(void)
{
    if (!feat.pae) {
        kprintf("SKIP pae: CPUID.01h:EDX.PAE[6]=0\n");
        return;
    }
    for (int i = 0; i < 8; i++) /* identity: 16 MiB of 2 MiB pages */
        pae_pd0[i] = (u64)i << 21 | PG_PS | PG_P | PG_RW | PG_US;
    pdpt[0] = pdpt_alt[0] = P(pae_pd0) | PG_P;
    pdpt[1] = P(pae_pd1) | PG_P;
    pdpt_alt[1] = P(pae_pd1_alt) | PG_P;
    pae_pd1[0] = P(pae_pt) | PG_P | PG_RW | PG_US;
    pae_pd1_alt[0] = P(pae_pt) | PG_P | PG_RW | PG_US;
    pae_pd1_alt[1] = (u64)PHYS_BIG_B | PG_PS | PG_P | PG_RW | PG_US;
    pae_pd1[1] = (u64)PHYS_BIG_A | PG_PS | PG_P | PG_RW | PG_US;
    pae_pt[0] = pte_for(0);
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4((read_cr4() & ~CR4_PSE) | CR4_PAE);
    write_cr3(P(pdpt));
    write_cr0(read_cr0() | CR0_PG);

    u32 va = 0x40000000u, big = 0x40200000u;
    expect_read("PAE mapping", va, TAG(0));
    pae_pt[0] = pte_for(1);
    write_cr3(P(pdpt));
    expect_read("PAE PTE changed, CR3 reloaded", va, TAG(1));
    pae_pt[0] = pte_for(2);
    invlpg(va);
    expect_read("PAE PTE changed, INVLPG", va, TAG(2));
    pae_pt[0] = pte_for(3) | PG_NX; /* NX with EFER.NXE=0 is a reserved bit */
    invlpg(va);
    /* RSVD implies P (SDM 4.7); QEMU reports RSVD alone, so that needs hw=1 */
    u32 r = probe(0, PROBE_READ, va, 0);
    CHECK(r == PROBE_FAULT && pf_last.cr2 == va &&
          (pf_last.err == (PF_P | PF_RSVD) || (!hw && pf_last.err == PF_RSVD)),
          "PAE PTE with bit 63 and EFER.NXE=0, INVLPG: %x err=%x cr2=%x, expected #PF err=9", r,
          pf_last.err, pf_last.cr2);
    pae_pt[0] = pte_for(3);
    write_cr3(P(pdpt));
    expect_read("PAE PTE fixed", va, TAG(3));
    kprintf("ok   PAE: PTE edits seen after CR3 load / INVLPG\n");

    /* 2 MiB page */
    for (u32 off = 0; off < 0x200000; off += 0x100000)
        expect_read("2 MiB page A", big + off, 0xA0000000u | off);
    pae_pd1[1] = (u64)PHYS_BIG_B | PG_PS | PG_P | PG_RW | PG_US;
    invlpg(big + 0x1FF000);
    for (u32 off = 0; off < 0x200000; off += 0x100000)
        expect_read("2 MiB page remapped, INVLPG elsewhere in it", big + off, 0xB0000000u | off);
    pae_pd1[1] = (u64)PHYS_BIG_A | PG_PS | PG_P | PG_RW | PG_US;
    write_cr3(P(pdpt));
    kprintf("ok   PAE: INVLPG of one address in a 2 MiB page invalidates the whole page\n");

    /* PDPTE edited in memory: the PDPTE registers hold the old one until CR3 */
    pae_pd1_alt[0] = P(pae_pt) | PG_P | PG_RW | PG_US;
    pdpt[1] = P(pae_pd1_alt) | PG_P;
    invlpg(big);
    u32 v = probe(0, PROBE_READ, big, 0);
    CHECK(v == 0xA0000000u || v == 0xB0000000u, "PDPTE edited, INVLPG: read %x", v);
    write_cr3(P(pdpt));
    expect_read("PDPTE edited, CR3 reloaded", big, 0xB0000000u);
    /* switching between two PDPTs */
    for (int i = 0; i < 8; i++) {
        pdpt[1] = P(i & 2 ? pae_pd1 : pae_pd1_alt) | PG_P;
        write_cr3(P(i & 1 ? pdpt_alt : pdpt));
        expect_read("PDPT switch", big, i & 1 || !(i & 2) ? 0xB0000000u : 0xA0000000u);
    }
    kprintf("ok   PAE: PDPTE edit (%s after INVLPG, new after the CR3 load), PDPT switches\n",
            v == 0xA0000000u ? "old PDPTE still used" : "new PDPTE already used");
    pdpt[1] = P(pae_pd1) | PG_P;
    write_cr0(read_cr0() & ~CR0_PG);
    write_cr4(read_cr4() & ~CR4_PAE);
}

void test_main(void)
{
    paging_features(&feat);
    rng ^= cmdline_u32("seed", 0);
    hw = cmdline_u32("hw", 0);
    mutate = cmdline_u32("mutate", 0);
    if (mutate)
        kprintf("mutate=%u: a required flush is left out; this run should FAIL\n", mutate);
    probe_install();
    pf_hook = fixup;
    setup();
    paging_on_32(0);
    test_cr3_reload();
    test_invlpg();
    test_table_as_data();
    test_recursive();
    test_split();
    test_many_cr3();
    test_global();
    write_cr0(read_cr0() & ~CR0_PG);
    test_pae();
}
