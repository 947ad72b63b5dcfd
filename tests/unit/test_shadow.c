/*
 * test_shadow.c — shadow paging (mmu/shadow.c, track.c, tlb.c) against the
 * invariant that defines it: every translation the soft TLB or the shadow
 * tables give equals a fresh walk of the guest's tables.
 *
 * The randomized coherence test builds random page-table trees in guest RAM
 * out of a small pool of pages (a pool page may be a directory in one
 * address space, a page table in another and a data page mapped by a third
 * — including mapped writable, so stores through the TLB rewrite tables),
 * then runs random steps: guest stores to table entries through the CPU's
 * accessors (supervisor and user) and through mmu_phys_write (DMA, also in
 * bulk and misaligned), CR3 switches and reloads, INVLPGs, CR0.WP / CR4.PGE
 * toggles, and accesses of every kind.  After every step each TLB entry of
 * the current root for the GVAs in play is compared with a fresh walk, every
 * access's outcome (value, or #PF and its error code) with what a fresh walk
 * predicted, and every 64 steps mmu_audit() checks every root's TLB and
 * every shadow entry.  With out-of-sync pages enabled, translations through
 * an OOS table may be stale (as x86 allows) until the next CR3 load or
 * INVLPG: then the check is strict again.  A lockstep test runs a
 * well-behaved guest (INVLPG after table writes) under -mmu walk and -mmu
 * shadow side by side: every access and the final RAM (A/D bits included)
 * must be identical.  Fixed seeds; 640k steps in total.
 */
#include <check.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmu/mmu_internal.h"

#define RAM (16u << 20)
#define PDPT 0x0f0000u /* PAE: the PDPTs */
#define POOL 0x100000u /* table pool */
#define NPOOL 40
#define DATA 0x400000u /* data frames */
#define NDATA 64

enum { P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100 };
#define XD (1ull << 63)

/* ck_assert marks a point through Check's message channel on every call,
 * which dominates a loop of a million checks: assert only on failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define CHECK_EQ(a, b)                                                                             \
    CHECK((a) == (b), "%s == %s: 0x%llx != 0x%llx", #a, #b, (unsigned long long)(a),               \
          (unsigned long long)(b))

/* ---- the world ---- */

struct catcher {
    jmp_buf jmp;
    uint32_t gva, error;
    int count;
};

static void on_fault(void *opaque, uint32_t gva, uint32_t error)
{
    struct catcher *c = opaque;
    c->gva = gva;
    c->error = error;
    c->count++;
    longjmp(c->jmp, 1);
}

struct world {
    struct mmu *m;
    struct catcher c;
    uint64_t rng;
    bool pae, pse, nxe, wp, pge;
    bool strict;       /* OOS disabled: every check is exact at every step */
    bool well_behaved; /* INVLPG after every store that may have remapped */
    uint32_t cr3[8];
    unsigned nspaces, cur;
    uint32_t gva[48];
    unsigned ngva;
    uint64_t steps, accesses, faults, checks, skipped;
};

static uint64_t rnd(struct world *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 2685821657736338717ull;
}

static unsigned below(struct world *w, unsigned n)
{
    return (unsigned)(rnd(w) >> 33) % n;
}
static bool chance(struct world *w, unsigned pct)
{
    return below(w, 100) < pct;
}

static uint32_t pool_page(unsigned i)
{
    return POOL + i * PAGE_SIZE;
}

/* Indices in play, so random tables translate the GVAs the test touches. */
static const unsigned idx32_pd[] = {1, 2, 0x300, 0x3ff};
static const unsigned idx32_pt[] = {0, 1, 2, 7, 0x155, 0x3ff};
static const unsigned idxpae_pdpt[] = {0, 3};
static const unsigned idxpae_pd[] = {0, 1, 0x1ff};
static const unsigned idxpae_pt[] = {0, 1, 5, 0x1ff};
#define N(a) (sizeof(a) / sizeof(a)[0])

static unsigned entry_index(struct world *w, unsigned level)
{
    if (chance(w, 10))
        return below(w, w->pae ? 512 : 1024);
    if (w->pae)
        return level == 2 ? idxpae_pd[below(w, N(idxpae_pd))] : idxpae_pt[below(w, N(idxpae_pt))];
    return level == 2 ? idx32_pd[below(w, N(idx32_pd))] : idx32_pt[below(w, N(idx32_pt))];
}

static uint64_t rand_flags(struct world *w, bool leaf)
{
    uint64_t f = 0;
    if (chance(w, 93))
        f |= P;
    if (chance(w, 70))
        f |= W;
    if (chance(w, 75))
        f |= U;
    if (chance(w, 65))
        f |= A;
    if (leaf && chance(w, 50))
        f |= D;
    if (leaf && chance(w, 10))
        f |= G;
    if (w->pae && chance(w, 8))
        f |= XD;
    if (chance(w, 1)) /* a reserved bit, if the mode has any there */
        f |= w->pae ? 1ull << (36 + below(w, 27)) : 1u << (17 + below(w, 5));
    return f;
}

/* A random entry for a table at `level` (2 directory, 1 page table). */
static uint64_t rand_entry(struct world *w, unsigned level)
{
    if (chance(w, 8))
        return 0;
    if (level == 2) {
        if ((w->pse || w->pae) && chance(w, 15)) {
            /* A large page: over the data frames, the pool, or beyond RAM. */
            uint32_t size = w->pae ? 2u << 20 : 4u << 20;
            uint32_t base = chance(w, 85) ? below(w, RAM / size) * size : 0xf0000000u;
            return base | PS | rand_flags(w, true);
        }
        return pool_page(below(w, NPOOL)) | (rand_flags(w, false) & ~(uint64_t)PS);
    }
    uint32_t frame;
    unsigned k = below(w, 100);
    if (k < 65)
        frame = DATA + below(w, NDATA) * PAGE_SIZE;
    else if (k < 95)
        frame = pool_page(below(w, NPOOL)); /* a table mapped as data */
    else
        frame = 0xfee00000u; /* nothing there */
    return frame | rand_flags(w, true);
}

static void put_entry(struct mmu *m, bool pae, uint32_t table, unsigned i, uint64_t v)
{
    if (pae)
        mmu_phys_write(m, table + i * 8, &v, 8);
    else
        mmu_phys_write32(m, table + i * 4, (uint32_t)v);
}

static void load_cr3(struct world *w, unsigned space)
{
    w->cur = space;
    struct paging_mode pm = {.pg = true,
                             .pae = w->pae,
                             .pse = w->pse,
                             .nxe = w->nxe,
                             .wp = w->wp,
                             .pge = w->pge,
                             .cr3 = w->cr3[space]};
    mmu_set_paging(w->m, &pm);
}

static void world_init(struct world *w, uint64_t seed, bool pae, bool strict,
                       enum mmu_strategy strategy)
{
    memset(w, 0, sizeof *w);
    w->rng = seed;
    w->pae = pae;
    w->pse = !pae;
    w->nxe = pae;
    w->pge = true;
    w->strict = strict;
    w->m = malloc(sizeof *w->m);
    ck_assert_ptr_nonnull(w->m);
    ck_assert_int_eq(mmu_init(w->m, RAM), 0);
    struct mmu *m = w->m;
    m->page_fault = on_fault;
    m->fault_opaque = &w->c;
    mmu_set_strategy(m, strategy);
    if (strict)
        m->sh->oos_after = 0;
    /* Data frames: every dword holds its own address, so any read tells
     * where it went. */
    for (uint32_t a = DATA; a < DATA + NDATA * PAGE_SIZE; a += 4)
        mmu_phys_write32(m, a, a ^ 0xa5000000u);
    /* Pool pages: random entries at the indices in play. */
    for (unsigned p = 0; p < NPOOL; p++) {
        unsigned level = 1 + (p < 20);
        const unsigned *pd = pae ? idxpae_pd : idx32_pd, *pt = pae ? idxpae_pt : idx32_pt;
        unsigned npd = pae ? N(idxpae_pd) : N(idx32_pd), npt = pae ? N(idxpae_pt) : N(idx32_pt);
        for (unsigned k = 0; k < npd; k++)
            put_entry(m, pae, pool_page(p), pd[k], rand_entry(w, level));
        for (unsigned k = 0; k < npt; k++)
            put_entry(m, pae, pool_page(p), pt[k], rand_entry(w, level));
    }
    /* Address spaces: 32-bit roots are pool pages 0..7; PAE PDPTs are 32
     * bytes each in a page of their own (PDPT) and point at pool pages. */
    w->nspaces = 8;
    for (unsigned s = 0; s < w->nspaces; s++) {
        w->cr3[s] = pae ? PDPT + s * 32 : pool_page(s);
        if (pae)
            for (unsigned i = 0; i < 4; i++)
                put_entry(m, true, w->cr3[s], i,
                          chance(w, 90) ? pool_page(8 + below(w, 12)) | P : 0);
    }
    /* GVAs in play. */
    if (pae) {
        for (unsigned a = 0; a < N(idxpae_pdpt); a++)
            for (unsigned b = 0; b < N(idxpae_pd); b++)
                for (unsigned c = 0; c < N(idxpae_pt); c++)
                    w->gva[w->ngva++] =
                        (idxpae_pdpt[a] << 30) | (idxpae_pd[b] << 21) | (idxpae_pt[c] << 12);
    } else {
        for (unsigned b = 0; b < N(idx32_pd); b++)
            for (unsigned c = 0; c < N(idx32_pt); c++)
                w->gva[w->ngva++] = (idx32_pd[b] << 22) | (idx32_pt[c] << 12);
    }
    load_cr3(w, 0);
}

static void world_free(struct world *w)
{
    mmu_destroy(w->m);
    free(w->m);
}

/* ---- checks ---- */

static bool peek(struct world *w, uint32_t gva, enum mmu_access acc, bool user,
                 struct walk_result *r)
{
    return mmu_walk_mode(w->m, &w->m->paging, gva, acc, user, MMU_WALK_PEEK, r);
}

/* May the cached translation of gva lag behind the tables? Only through an
 * out-of-sync page table. */
static bool may_be_stale(struct world *w, uint32_t gva)
{
    if (w->strict)
        return false;
    struct mmu_xlate_info info;
    mmu_xlate_info(w->m, gva, &info);
    return info.table_oos;
}

static void check_tlb_page(struct world *w, uint32_t page, bool strict)
{
    struct mmu *m = w->m;
    for (unsigned v = 0; v < 2; v++) {
        const struct tlb_entry *e = mmu_tlb_entry(m, v, page);
        if (e->tag_read != page)
            continue;
        if (!strict && may_be_stale(w, page)) {
            w->skipped++;
            continue;
        }
        struct walk_result r;
        w->checks++;
        CHECK(peek(w, page, MMU_READ, v, &r), "step %llu: TLB maps 0x%08x view %u, walk faults %x",
              (unsigned long long)w->steps, page, v, r.error);
        CHECK(e->gpa_page == r.page_gpa, "step %llu: 0x%08x → 0x%x, walk 0x%x",
              (unsigned long long)w->steps, page, e->gpa_page, r.page_gpa);
        const struct phys_region *reg = mmu_find_region(m, r.page_gpa);
        CHECK(reg && e->addend == (uintptr_t)(reg->host + (r.page_gpa - reg->start)) - page,
              "reg && e->addend == (uintptr_t)(reg->host + (r.page_gpa - reg->start)) - page");
        if (e->tag_fetch == page)
            CHECK(peek(w, page, MMU_FETCH, v, &r), "step %llu: stale fetch tag 0x%08x",
                  (unsigned long long)w->steps, page);
        if (e->tag_write == page) {
            CHECK(peek(w, page, MMU_WRITE, v, &r) && r.dirty,
                  "step %llu: stale write tag 0x%08x view %u", (unsigned long long)w->steps, page,
                  v);
            CHECK(!m->page_track[r.page_gpa >> PAGE_SHIFT],
                  "!m->page_track[r.page_gpa >> PAGE_SHIFT]");
        }
    }
}

static void check_all(struct world *w, bool strict)
{
    for (unsigned k = 0; k < w->ngva; k++)
        check_tlb_page(w, w->gva[k], strict);
    if (w->steps % 64 == 0) {
        char why[200];
        CHECK(mmu_audit(w->m, w->strict, why, sizeof why) == 0, "step %llu: %s",
              (unsigned long long)w->steps, why);
    }
}

/* One access through the CPU's accessors; returns ~0u or the #PF code. */
static uint32_t do_access(struct world *w, uint32_t gva, enum mmu_access acc, bool user,
                          uint32_t *val)
{
    struct mmu *m = w->m;
    mmu_set_user(m, user);
    if (setjmp(w->c.jmp))
        return w->c.error;
    if (acc == MMU_READ)
        *val = mmu_read32(m, gva);
    else if (acc == MMU_WRITE)
        mmu_write32(m, gva, *val);
    else
        *val = mmu_fetch8(m, gva);
    return ~0u;
}

static uint32_t phys32(struct mmu *m, struct walk_result *r)
{
    return r->above_4g ? 0xffffffffu : mmu_phys_read32(m, r->gpa);
}

static void step_access(struct world *w, uint32_t gva, enum mmu_access acc, bool user, bool exact)
{
    struct walk_result r;
    bool stale = !exact && may_be_stale(w, gva);
    bool ok = peek(w, gva, acc, user, &r);
    uint32_t before = ok ? phys32(w->m, &r) : 0;
    uint32_t val = (uint32_t)rnd(w);
    /* Writes to tables come from the other steps; keep data writes to data. */
    if (acc == MMU_WRITE && ok && r.gpa >= POOL && r.gpa < POOL + NPOOL * PAGE_SIZE &&
        chance(w, 70)) {
        uint64_t e = rand_entry(w, 1 + below(w, 2));
        val = (uint32_t)(w->pae && (gva & 4) ? e >> 32 : e);
    }
    uint32_t got = do_access(w, gva, acc, user, &val);
    w->accesses++;
    if (got != ~0u) {
        w->faults++;
        CHECK_EQ(w->c.gva, gva);
    }
    if (stale)
        return;
    CHECK((got == ~0u) == ok, "step %llu: %s 0x%08x user %d: got %x, walk %s %x",
          (unsigned long long)w->steps,
          acc == 0   ? "read"
          : acc == 1 ? "write"
                     : "fetch",
          gva, user, got, ok ? "allows" : "denies", r.error);
    if (!ok) {
        CHECK_EQ(got, r.error);
        return;
    }
    /* Compare with memory after the access: a PTE that maps its own table
     * page gets its A bit set by the walk before the load reads it. */
    uint32_t after = phys32(w->m, &r);
    if (acc == MMU_READ)
        CHECK(val == after, "step %llu: read 0x%08x gave %x, memory at 0x%x has %x (was %x)",
              (unsigned long long)w->steps, gva, val, r.gpa, after, before);
    else if (acc == MMU_FETCH)
        CHECK_EQ(val, after & 0xff);
    else if (!r.above_4g && r.gpa < RAM)
        CHECK_EQ(mmu_phys_read32(w->m, r.gpa), val);
}

static void invlpg_all(struct world *w)
{
    for (unsigned k = 0; k < w->ngva; k++)
        mmu_invlpg(w->m, w->gva[k]);
}

/* A store into a table entry: through a writable mapping of the table, as
 * the guest kernel would, or by DMA. */
static void step_table_write(struct world *w)
{
    struct mmu *m = w->m;
    unsigned level = 1 + below(w, 2);
    uint32_t table = pool_page(below(w, NPOOL));
    unsigned i = entry_index(w, level), esz = w->pae ? 8 : 4;
    uint64_t v = rand_entry(w, level);
    if (w->pae && chance(w, 3)) {
        /* Rewrite a PDPTE: seen at the next CR3 load only. */
        uint64_t e = chance(w, 85) ? pool_page(8 + below(w, 12)) | P : chance(w, 50) ? 0 : 0x1e7;
        put_entry(m, true, w->cr3[below(w, w->nspaces)], below(w, 4), e);
        return;
    }
    unsigned how = below(w, 100);
    if (how < 45) {
        /* Find a GVA that maps the table page writable. */
        for (unsigned k = 0; k < w->ngva; k++) {
            struct walk_result r;
            bool user = chance(w, 5);
            if (!peek(w, w->gva[k], MMU_WRITE, user, &r) || r.page_gpa != table)
                continue;
            uint32_t at = w->gva[k] + i * esz;
            mmu_set_user(m, user);
            if (setjmp(w->c.jmp) == 0) {
                mmu_write32(m, at, (uint32_t)v);
                if (w->pae && chance(w, 70)) {
                    if (w->well_behaved) /* the first half may have remapped `at` */
                        invlpg_all(w);
                    mmu_write32(m, at + 4, (uint32_t)(v >> 32));
                }
            }
            return;
        }
    }
    if (how < 80) {
        put_entry(m, w->pae, table, i, v);
    } else if (how < 92) {
        /* Half an entry (PAE kernels write PTEs in two halves). */
        mmu_phys_write32(m, table + i * esz + (w->pae && chance(w, 50) ? 4 : 0), (uint32_t)v);
    } else if (how < 96) {
        /* Misaligned: straddles two entries. */
        uint32_t at = table + i * esz + 2;
        if (at + 4 <= table + PAGE_SIZE)
            mmu_phys_write32(m, at, (uint32_t)v);
    } else {
        /* Bulk (a DMA into a page that was a table). */
        uint8_t buf[256];
        for (unsigned k = 0; k < sizeof buf; k += 8) {
            uint64_t e = rand_entry(w, level);
            memcpy(buf + k, &e, 8);
        }
        uint32_t off = below(w, PAGE_SIZE / 8) * 8;
        uint32_t len = 16 + below(w, 240);
        if (off + len > PAGE_SIZE)
            len = PAGE_SIZE - off;
        mmu_phys_write(m, table + off, buf, len);
    }
}

static void run_steps(struct world *w, unsigned nsteps)
{
    for (unsigned s = 0; s < nsteps; s++) {
        w->steps++;
        unsigned op = below(w, 100);
        bool strict = w->strict;
        uint32_t gva = w->gva[below(w, w->ngva)] + below(w, PAGE_SIZE / 4) * 4;
        if (op < 30) {
            step_table_write(w);
        } else if (op < 38) {
            load_cr3(w, chance(w, 20) ? w->cur : below(w, w->nspaces));
            strict = true; /* everything out of sync is resynced now */
        } else if (op < 44) {
            mmu_invlpg(w->m, gva);
            check_tlb_page(w, gva & PAGE_MASK, true);
            /* After INVLPG nothing about gva may be stale, whatever path
             * the shadow had for it. */
            step_access(w, gva, (enum mmu_access)below(w, 3), chance(w, 30), true);
        } else if (op < 45) {
            w->wp = !w->wp;
            load_cr3(w, w->cur);
            strict = true;
        } else if (op < 46) {
            w->pge = !w->pge;
            load_cr3(w, w->cur);
            strict = true;
        } else {
            step_access(w, gva, (enum mmu_access)below(w, 3), chance(w, 30), false);
        }
        check_all(w, strict);
    }
}

static void print_world(const char *name, struct world *w)
{
    const struct mmu_stats *st = &w->m->stats;
    fprintf(stderr,
            "%s: %llu steps, %llu accesses (%llu #PF), %llu TLB checks (%llu skipped OOS); "
            "cr3 %llu root hits %llu, built %llu zapped %llu unshadowed %llu reclaimed %llu, "
            "fills %llu, wp traps %llu, oos %llu resyncs %llu, walks %llu\n",
            name, (unsigned long long)w->steps, (unsigned long long)w->accesses,
            (unsigned long long)w->faults, (unsigned long long)w->checks,
            (unsigned long long)w->skipped, (unsigned long long)st->cr3_loads,
            (unsigned long long)st->root_hits, (unsigned long long)st->shadow_built,
            (unsigned long long)st->shadow_zapped, (unsigned long long)st->shadow_unshadowed,
            (unsigned long long)st->shadow_reclaimed, (unsigned long long)st->shadow_fills,
            (unsigned long long)st->wp_traps, (unsigned long long)st->oos_pages,
            (unsigned long long)st->oos_resyncs, (unsigned long long)st->walks);
}

static void coherence(const char *name, uint64_t seed, bool pae, bool strict, size_t cap,
                      unsigned nsteps)
{
    struct world w;
    world_init(&w, seed, pae, strict, MMU_SHADOW);
    if (cap)
        mmu_set_shadow_cap(w.m, cap);
    run_steps(&w, nsteps);
    /* The run must have exercised what it claims to test. */
    const struct mmu_stats *st = &w.m->stats;
    CHECK(st->root_hits > 0, "st->root_hits > 0");
    CHECK(st->wp_traps > 0, "st->wp_traps > 0");
    CHECK(st->shadow_unshadowed > 0, "st->shadow_unshadowed > 0");
    CHECK(st->shadow_fills > 0, "st->shadow_fills > 0");
    CHECK(w.faults > 0 && w.faults < w.accesses, "w.faults > 0 && w.faults < w.accesses");
    if (!strict)
        CHECK(st->oos_resyncs > 0, "st->oos_resyncs > 0");
    if (cap)
        CHECK(st->shadow_reclaimed > 0, "st->shadow_reclaimed > 0");
    print_world(name, &w);
    world_free(&w);
}

START_TEST(coherence_32bit_strict)
{
    coherence("32-bit strict", 0x1234567, false, true, 0, 100000);
}
END_TEST
START_TEST(coherence_32bit_oos)
{
    coherence("32-bit oos", 0x2345678, false, false, 0, 100000);
}
END_TEST
START_TEST(coherence_pae_strict)
{
    coherence("pae strict", 0x3456789, true, true, 0, 100000);
}
END_TEST
START_TEST(coherence_pae_oos)
{
    coherence("pae oos", 0x456789a, true, false, 0, 100000);
}
END_TEST
START_TEST(coherence_small_cap)
{
    coherence("32-bit cap", 0x56789ab, false, false, 160u << 10, 60000);
}
END_TEST
START_TEST(coherence_pae_small_cap)
{
    coherence("pae cap", 0x6789abc, true, true, 120u << 10, 60000);
}
END_TEST

/* ---- lockstep: walk and shadow give identical guest-visible results ---- */

static void lockstep(uint64_t seed, bool pae, unsigned nsteps)
{
    struct world a, b;
    world_init(&a, seed, pae, false, MMU_WALK);
    world_init(&b, seed, pae, false, MMU_SHADOW);
    a.pge = b.pge = false; /* global entries may differ legitimately across spaces */
    a.well_behaved = b.well_behaved = true;
    load_cr3(&a, 0);
    load_cr3(&b, 0);
    for (unsigned s = 0; s < nsteps; s++) {
        uint64_t r = rnd(&a);
        rnd(&b);
        unsigned op = (unsigned)(r >> 40) % 100;
        uint32_t gva = a.gva[(r >> 8) % a.ngva] + ((r >> 20) % (PAGE_SIZE / 4)) * 4;
        if (op < 25) {
            uint64_t ra = a.rng;
            step_table_write(&a);
            b.rng = ra;
            step_table_write(&b);
            CHECK_EQ(a.rng, b.rng);
            /* A well-behaved guest invalidates what it changed. */
            invlpg_all(&a);
            invlpg_all(&b);
        } else if (op < 33) {
            unsigned sp = (unsigned)(r >> 16) % a.nspaces;
            load_cr3(&a, sp);
            load_cr3(&b, sp);
        } else {
            enum mmu_access acc = (enum mmu_access)((r >> 4) % 3);
            bool user = (r >> 7) & 1;
            uint32_t va = (uint32_t)(r >> 32), vb = va;
            struct walk_result wr;
            bool hits_table = acc == MMU_WRITE && peek(&a, gva, MMU_WRITE, user, &wr) &&
                              wr.gpa >= POOL && wr.gpa < POOL + NPOOL * PAGE_SIZE;
            uint32_t ga = do_access(&a, gva, acc, user, &va);
            uint32_t gb = do_access(&b, gva, acc, user, &vb);
            CHECK(ga == gb && va == vb, "step %u: %d 0x%08x user %d: walk %x/%x shadow %x/%x", s,
                  acc, gva, user, ga, va, gb, vb);
            /* A store that hit a table is a table write: invalidate. */
            if (hits_table) {
                invlpg_all(&a);
                invlpg_all(&b);
            }
        }
        if (s % 5000 == 4999)
            CHECK(!memcmp(a.m->ram, b.m->ram, RAM), "!memcmp(a.m->ram, b.m->ram, RAM)");
    }
    CHECK(!memcmp(a.m->ram, b.m->ram, RAM), "!memcmp(a.m->ram, b.m->ram, RAM)");
    CHECK(b.m->stats.root_hits > 0, "b.m->stats.root_hits > 0");
    CHECK(a.m->stats.shadow_built == 0, "a.m->stats.shadow_built == 0");
    fprintf(
        stderr,
        "lockstep %s: %u steps; walk: %llu walks, %llu flushes; shadow: %llu walks, %llu flushes\n",
        pae ? "pae" : "32-bit", nsteps, (unsigned long long)a.m->stats.walks,
        (unsigned long long)a.m->stats.tlb_flushes, (unsigned long long)b.m->stats.walks,
        (unsigned long long)b.m->stats.tlb_flushes);
    world_free(&a);
    world_free(&b);
}

START_TEST(lockstep_32bit)
{
    lockstep(0xabcdef1, false, 60000);
}
END_TEST
START_TEST(lockstep_pae)
{
    lockstep(0xbcdef12, true, 60000);
}
END_TEST

/* ---- directed cases ---- */

struct small {
    struct mmu *m;
    struct catcher c;
};

static struct mmu *small_init(struct small *s)
{
    memset(s, 0, sizeof *s);
    s->m = malloc(sizeof *s->m);
    ck_assert_int_eq(mmu_init(s->m, RAM), 0);
    s->m->page_fault = on_fault;
    s->m->fault_opaque = &s->c;
    return s->m;
}

static void small_free(struct small *s)
{
    char why[200];
    ck_assert_msg(mmu_audit(s->m, true, why, sizeof why) == 0, "%s", why);
    mmu_destroy(s->m);
    free(s->m);
}

static void set32(struct mmu *m, uint32_t cr3)
{
    struct paging_mode pm = {.pg = true, .pse = true, .cr3 = cr3};
    mmu_set_paging(m, &pm);
}

/* Two address spaces at 0x10000 and 0x20000 sharing the PT at 0x30000 for
 * GVA 0x00410000.. (kernel-like; PTEs 16..23, so that the TLB indices do not
 * collide with the private pages), each with a private PT (0x11000,
 * 0x21000) at GVA 0x00800000..; both map the tables at 0x00c00000 (PT
 * 0x31000). */
static void two_spaces(struct mmu *m)
{
    for (uint32_t s = 0; s < 2; s++) {
        uint32_t pd = 0x10000 + s * 0x10000, priv = pd + 0x1000;
        mmu_phys_write32(m, pd + 1 * 4, 0x30000 | P | W);
        mmu_phys_write32(m, pd + 2 * 4, priv | P | W | U);
        mmu_phys_write32(m, pd + 3 * 4, 0x31000 | P | W | U);
        for (uint32_t i = 0; i < 8; i++)
            mmu_phys_write32(m, priv + i * 4, (DATA + (s * 8 + i) * PAGE_SIZE) | P | W | U);
    }
    for (uint32_t i = 0; i < 8; i++)
        mmu_phys_write32(m, 0x30000 + (16 + i) * 4, (DATA + (16 + i) * PAGE_SIZE) | P | W);
    /* 0x00c00000 + k pages: the tables themselves. */
    uint32_t tabs[] = {0x10000, 0x11000, 0x20000, 0x21000, 0x30000};
    for (uint32_t k = 0; k < 5; k++)
        mmu_phys_write32(m, 0x31000 + k * 4, tabs[k] | P | W | U);
    for (uint32_t a = DATA; a < DATA + 32 * PAGE_SIZE; a += 4)
        mmu_phys_write32(m, a, a);
}

START_TEST(switching_back_reuses_root_and_tlb)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    for (int round = 0; round < 10; round++)
        for (uint32_t sp = 0; sp < 2; sp++) {
            set32(m, 0x10000 + sp * 0x10000);
            for (uint32_t i = 0; i < 8; i++) {
                ck_assert_uint_eq(mmu_read32(m, 0x00800000 + i * PAGE_SIZE),
                                  DATA + (sp * 8 + i) * PAGE_SIZE);
                ck_assert_uint_eq(mmu_read32(m, 0x00410000 + i * PAGE_SIZE),
                                  DATA + (16 + i) * PAGE_SIZE);
            }
        }
    /* Only the first visit of each space missed: 2 spaces × 16 pages. */
    ck_assert_uint_eq(m->stats.tlb_misses, 32);
    ck_assert_uint_eq(m->stats.cr3_loads, 20);
    ck_assert_uint_eq(m->stats.root_hits, 18);
    /* The shared PT has one shadow page, reached from both roots. */
    ck_assert_uint_eq(m->stats.shadow_built, 2 + 2 + 1);
    /* Walk mode re-walks after every switch. */
    mmu_set_strategy(m, MMU_WALK);
    uint64_t before = m->stats.tlb_misses;
    for (uint32_t sp = 0; sp < 2; sp++) {
        set32(m, 0x10000 + sp * 0x10000);
        for (uint32_t i = 0; i < 8; i++)
            ck_assert_uint_eq(mmu_read32(m, 0x00800000 + i * PAGE_SIZE),
                              DATA + (sp * 8 + i) * PAGE_SIZE);
    }
    ck_assert_uint_eq(m->stats.tlb_misses - before, 16);
    small_free(&s);
}
END_TEST

START_TEST(store_to_shared_table_reaches_every_root)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x20000);
    ck_assert_uint_eq(mmu_read32(m, 0x00410000), DATA + 16 * PAGE_SIZE);
    set32(m, 0x10000);
    ck_assert_uint_eq(mmu_read32(m, 0x00410000), DATA + 16 * PAGE_SIZE);
    /* The kernel remaps shared PTE 0 through its self-map (PT 0x30000 is
     * mapped at 0x00c04000), without INVLPG: the shadow is write-protected
     * and in sync, so the next access, in either space, sees it. */
    uint64_t traps = m->stats.wp_traps;
    mmu_write32(m, 0x00c04000 + 16 * 4, (DATA + 30 * PAGE_SIZE) | P | W);
    ck_assert_uint_eq(m->stats.wp_traps, traps + 1);
    ck_assert_uint_eq(mmu_read32(m, 0x00410000), DATA + 30 * PAGE_SIZE);
    set32(m, 0x20000);
    ck_assert_uint_eq(mmu_read32(m, 0x00410000), DATA + 30 * PAGE_SIZE);
    /* DMA into the same table is tracked the same way. */
    mmu_phys_write32(m, 0x30000 + 16 * 4, (DATA + 31 * PAGE_SIZE) | P | W);
    ck_assert_uint_eq(mmu_read32(m, 0x00410000), DATA + 31 * PAGE_SIZE);
    small_free(&s);
}
END_TEST

START_TEST(user_store_unshadows)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x10000);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    /* A user-mode store into the private PT (mapped user-writable at
     * 0x00c01000): the page has become data. */
    mmu_set_user(m, true);
    mmu_write32(m, 0x00c01000, (DATA + 5 * PAGE_SIZE) | P | W | U);
    ck_assert_uint_eq(m->stats.shadow_unshadowed, 1);
    ck_assert(!(m->page_track[0x11] & TRACK_SHADOW));
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA + 5 * PAGE_SIZE);
    /* Used as a table again: shadowed again. */
    ck_assert(m->page_track[0x11] & TRACK_SHADOW);
    small_free(&s);
}
END_TEST

START_TEST(burst_goes_out_of_sync_and_resyncs)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x10000);
    for (uint32_t i = 0; i < 8; i++)
        mmu_read32(m, 0x00800000 + i * PAGE_SIZE);
    /* Rewrite all 8 PTEs of the private PT through the self-map. */
    for (uint32_t i = 0; i < 8; i++)
        mmu_write32(m, 0x00c01000 + i * 4, (DATA + (24 + i) * PAGE_SIZE) | P | W | U);
    ck_assert_uint_eq(m->stats.oos_pages, 1);
    ck_assert_uint_eq(m->stats.wp_traps, m->sh->oos_after); /* the rest went straight to RAM */
    /* Out of sync: the last entries may still translate the old way... */
    ck_assert_uint_eq(mmu_read32(m, 0x00807000), DATA + 7 * PAGE_SIZE);
    /* ...until INVLPG of that page... */
    mmu_invlpg(m, 0x00807000);
    ck_assert_uint_eq(mmu_read32(m, 0x00807000), DATA + 31 * PAGE_SIZE);
    ck_assert_uint_eq(mmu_read32(m, 0x00806000), DATA + 6 * PAGE_SIZE);
    /* ...or a CR3 load. */
    set32(m, 0x10000);
    ck_assert_uint_eq(m->stats.oos_resyncs, 1);
    for (uint32_t i = 0; i < 8; i++)
        ck_assert_uint_eq(mmu_read32(m, 0x00800000 + i * PAGE_SIZE), DATA + (24 + i) * PAGE_SIZE);
    ck_assert(m->page_track[0x11] & TRACK_SHADOW);
    small_free(&s);
}
END_TEST

START_TEST(newly_present_entry_needs_no_invlpg_even_out_of_sync)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x10000);
    for (uint32_t i = 0; i < 8; i++)
        mmu_read32(m, 0x00800000 + i * PAGE_SIZE);
    for (uint32_t i = 0; i < 4; i++) /* out of sync now */
        mmu_write32(m, 0x00c01000 + i * 4, (DATA + (24 + i) * PAGE_SIZE) | P | W | U);
    ck_assert_uint_eq(m->stats.oos_pages, 1);
    /* A not-present entry is never cached: making it present is seen at
     * once, as on hardware. */
    mmu_write32(m, 0x00c01000 + 9 * 4, (DATA + 9 * PAGE_SIZE) | P | W | U);
    ck_assert_uint_eq(mmu_read32(m, 0x00809000), DATA + 9 * PAGE_SIZE);
    /* A denied access is re-walked before #PF: a permission the guest just
     * granted is honoured. */
    mmu_write32(m, 0x00c01000 + 10 * 4, (DATA + 10 * PAGE_SIZE) | P | U);
    ck_assert_uint_eq(mmu_read32(m, 0x0080a000), DATA + 10 * PAGE_SIZE);
    mmu_set_paging(m, &(struct paging_mode){.pg = true, .pse = true, .wp = true, .cr3 = 0x10000});
    mmu_write32(m, 0x00c01000 + 10 * 4, (DATA + 10 * PAGE_SIZE) | P | U | W);
    mmu_write32(m, 0x0080a000, 77);
    ck_assert_int_eq(s.c.count, 0);
    small_free(&s);
}
END_TEST

/* The paging_coherence guest found this: an out-of-sync table whose
 * directory entry was dropped and then re-linked must not bring back an
 * entry the guest has since changed and INVLPG'd. */
START_TEST(oos_entry_is_fresh_after_invlpg_and_relink)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x10000);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    mmu_write32(m, 0x00c01000 + 4, (DATA + 1 * PAGE_SIZE) | P | W | U); /* PT goes OOS */
    ck_assert(m->stats.oos_pages == 1);
    mmu_write32(m, 0x00c01000, (DATA + 20 * PAGE_SIZE) | P | W | U); /* not trapped */
    /* Clear the PDE's A bit: the directory entry is dropped and unlinked. */
    mmu_write32(m, 0x00c00000 + 2 * 4, 0x11000 | P | W | U);
    mmu_invlpg(m, 0x00800000);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA + 20 * PAGE_SIZE);
    small_free(&s);
}
END_TEST

START_TEST(cap_reclaims_oldest)
{
    struct small s;
    struct mmu *m = small_init(&s);
    /* One directory with 200 page tables, each mapping one data page. */
    for (uint32_t i = 0; i < 200; i++) {
        uint32_t pt = 0x100000 + i * PAGE_SIZE;
        mmu_phys_write32(m, 0x10000 + i * 4, pt | P | W);
        mmu_phys_write32(m, pt, (DATA + (i % 64) * PAGE_SIZE) | P | W);
    }
    for (uint32_t a = DATA; a < DATA + 64 * PAGE_SIZE; a += 4)
        mmu_phys_write32(m, a, a);
    mmu_set_shadow_cap(m, 64 * 9000);
    set32(m, 0x10000);
    for (int round = 0; round < 3; round++)
        for (uint32_t i = 0; i < 200; i++)
            ck_assert_uint_eq(mmu_read32(m, i << 22), DATA + (i % 64) * PAGE_SIZE);
    ck_assert(m->stats.shadow_reclaimed > 0);
    ck_assert(m->stats.shadow_bytes <= 64 * 9000);
    ck_assert(m->stats.shadow_pages < 70);
    /* A reclaimed table is not tracked any more: writes to it are free. */
    ck_assert(!(m->page_track[0x100] & TRACK_SHADOW));
    small_free(&s);
}
END_TEST

struct code_log {
    int calls;
    uint32_t gpa;
};

static void on_code_write(void *opaque, uint32_t gpa, unsigned len)
{
    struct code_log *c = opaque;
    c->calls++;
    c->gpa = gpa;
}

START_TEST(code_tracking_reaches_every_root)
{
    struct small s;
    struct mmu *m = small_init(&s);
    struct code_log c = {0};
    m->code_write = on_code_write;
    m->code_opaque = &c;
    two_spaces(m);
    /* Root A caches a write tag for the shared data page... */
    set32(m, 0x10000);
    mmu_write32(m, 0x00410010, 1);
    mmu_write32(m, 0x00410014, 2);
    /* ...B decodes code there... */
    set32(m, 0x20000);
    mmu_track_code(m, DATA + 16 * PAGE_SIZE);
    /* ...and A's store must still be seen. */
    set32(m, 0x10000);
    mmu_write32(m, 0x00410018, 3);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_uint_eq(c.gpa, DATA + 16 * PAGE_SIZE + 0x18);
    small_free(&s);
}
END_TEST

START_TEST(self_mapping_directory)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    /* PDE 1023 points at the directory itself: the PTs appear at
     * 0xffc00000 and the directory at 0xfffff000. */
    mmu_phys_write32(m, 0x10000 + 1023 * 4, 0x10000 | P | W);
    set32(m, 0x10000);
    ck_assert_uint_eq(mmu_read32(m, 0xfffff000 + 2 * 4), 0x11000 | P | W | U);
    ck_assert_uint_eq(mmu_read32(m, 0xffc00000 + 2 * PAGE_SIZE), DATA | P | W | U);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    /* Remap through the recursive window. */
    mmu_write32(m, 0xffc00000 + 2 * PAGE_SIZE, (DATA + 20 * PAGE_SIZE) | P | W | U);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA + 20 * PAGE_SIZE);
    /* Unmap a whole PT by writing the PDE through the directory's own map. */
    mmu_write32(m, 0xfffff000 + 2 * 4, 0);
    if (setjmp(s.c.jmp) == 0) {
        mmu_read32(m, 0x00800000);
        ck_abort_msg("no fault after unmapping the PDE");
    }
    ck_assert_uint_eq(s.c.error, 0);
    small_free(&s);
}
END_TEST

START_TEST(pae_shared_directory_between_roots)
{
    struct small s;
    struct mmu *m = small_init(&s);
    /* Two PDPTs (at 0x10000 and 0x10020: 32-byte aligned in one page)
     * share the directory for GVA 3 GiB+ (0x30000), like Linux's kernel PMD. */
    uint64_t e;
    for (int k = 0; k < 2; k++) {
        e = (0x20000 + k * 0x1000) | P;
        mmu_phys_write(m, 0x10000 + k * 0x20, &e, 8);
        e = 0x30000 | P;
        mmu_phys_write(m, 0x10000 + k * 0x20 + 24, &e, 8);
    }
    e = 0x31000 | P | W;
    mmu_phys_write(m, 0x30000, &e, 8);
    e = (DATA + 3 * PAGE_SIZE) | P | W;
    mmu_phys_write(m, 0x31000, &e, 8);
    for (uint32_t a = DATA; a < DATA + 32 * PAGE_SIZE; a += 4)
        mmu_phys_write32(m, a, a);
    for (int k = 0; k < 2; k++) {
        mmu_set_paging(m,
                       &(struct paging_mode){.pg = true, .pae = true, .cr3 = 0x10000 + k * 0x20});
        ck_assert_uint_eq(mmu_read32(m, 0xc0000000), DATA + 3 * PAGE_SIZE);
    }
    ck_assert_uint_eq(m->stats.root_misses, 2);
    /* PAE guests write a PTE in two halves, then INVLPG it. */
    mmu_phys_write32(m, 0x31000 + 4, 0);
    mmu_phys_write32(m, 0x31000, (DATA + 9 * PAGE_SIZE) | P | W);
    mmu_invlpg(m, 0xc0000000);
    ck_assert_uint_eq(mmu_read32(m, 0xc0000000), DATA + 9 * PAGE_SIZE);
    mmu_set_paging(m, &(struct paging_mode){.pg = true, .pae = true, .cr3 = 0x10000});
    ck_assert_uint_eq(m->stats.root_hits, 1);
    ck_assert_uint_eq(mmu_read32(m, 0xc0000000), DATA + 9 * PAGE_SIZE);
    small_free(&s);
}
END_TEST

START_TEST(mode_changes_and_strategy_switch)
{
    struct small s;
    struct mmu *m = small_init(&s);
    two_spaces(m);
    set32(m, 0x10000);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    /* Paging off and on again keeps the root. */
    mmu_set_paging(m, &(struct paging_mode){.pse = true, .cr3 = 0x10000});
    ck_assert_uint_eq(mmu_read32(m, DATA + 8), DATA + 8);
    set32(m, 0x10000);
    ck_assert_uint_eq(m->stats.root_hits, 1);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    /* A PSE change is a new generation: every shadow page goes. */
    uint64_t zapped = m->stats.shadow_zapped;
    mmu_set_paging(m, &(struct paging_mode){.pg = true, .cr3 = 0x10000});
    ck_assert(m->stats.shadow_zapped > zapped);
    ck_assert_uint_eq(m->stats.shadow_pages, 0);
    ck_assert_uint_eq(mmu_read32(m, 0x00800000), DATA);
    for (int k = 0; k < 4; k++) {
        mmu_set_strategy(m, k & 1 ? MMU_SHADOW : MMU_WALK);
        ck_assert_int_eq(m->strategy, k & 1 ? MMU_SHADOW : MMU_WALK);
        ck_assert_uint_eq(mmu_read32(m, 0x00801000), DATA + PAGE_SIZE);
        mmu_write32(m, 0x00c01000 + 4, (DATA + 12 * PAGE_SIZE) | P | W | U);
        mmu_invlpg(m, 0x00801000);
        ck_assert_uint_eq(mmu_read32(m, 0x00801000), DATA + 12 * PAGE_SIZE);
        mmu_write32(m, 0x00c01000 + 4, (DATA + 1 * PAGE_SIZE) | P | W | U);
        mmu_invlpg(m, 0x00801000);
    }
    small_free(&s);
}
END_TEST

START_TEST(walk_mode_keeps_global_entries_across_cr3)
{
    struct small s;
    struct mmu *m = small_init(&s);
    mmu_set_strategy(m, MMU_WALK);
    two_spaces(m);
    mmu_phys_write32(m, 0x30000 + 16 * 4, (DATA + 16 * PAGE_SIZE) | P | W | G);
    struct paging_mode pm = {.pg = true, .pge = true, .cr3 = 0x10000};
    mmu_set_paging(m, &pm);
    mmu_read32(m, 0x00410000);
    mmu_read32(m, 0x00800000);
    pm.cr3 = 0x20000;
    mmu_set_paging(m, &pm);
    ck_assert_uint_eq(mmu_tlb_entry(m, 0, 0x00410000)->tag_read, 0x00410000);
    ck_assert_uint_eq(mmu_tlb_entry(m, 0, 0x00800000)->tag_read, TLB_INVALID);
    mmu_invlpg(m, 0x00410000);
    ck_assert_uint_eq(mmu_tlb_entry(m, 0, 0x00410000)->tag_read, TLB_INVALID);
    mmu_destroy(m);
    free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shadow");
    TCase *tc = tcase_create("directed");
    tcase_add_test(tc, switching_back_reuses_root_and_tlb);
    tcase_add_test(tc, store_to_shared_table_reaches_every_root);
    tcase_add_test(tc, user_store_unshadows);
    tcase_add_test(tc, burst_goes_out_of_sync_and_resyncs);
    tcase_add_test(tc, newly_present_entry_needs_no_invlpg_even_out_of_sync);
    tcase_add_test(tc, oos_entry_is_fresh_after_invlpg_and_relink);
    tcase_add_test(tc, cap_reclaims_oldest);
    tcase_add_test(tc, code_tracking_reaches_every_root);
    tcase_add_test(tc, self_mapping_directory);
    tcase_add_test(tc, pae_shared_directory_between_roots);
    tcase_add_test(tc, mode_changes_and_strategy_switch);
    tcase_add_test(tc, walk_mode_keeps_global_entries_across_cr3);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("random");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, coherence_32bit_strict);
    tcase_add_test(tr, coherence_32bit_oos);
    tcase_add_test(tr, coherence_pae_strict);
    tcase_add_test(tr, coherence_pae_oos);
    tcase_add_test(tr, coherence_small_cap);
    tcase_add_test(tr, coherence_pae_small_cap);
    tcase_add_test(tr, lockstep_32bit);
    tcase_add_test(tr, lockstep_pae);
    suite_add_tcase(s, tr);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
