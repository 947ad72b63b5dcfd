/*
 * shadow.c — shadow page tables: the cache of GVA→GPA compositions behind
 * the soft TLBs, kept coherent with the guest's tables by write tracking
 * (SDM vol. 3 §4.10 says what a TLB may hold; this file holds no more).
 *
 * A shadow page mirrors one guest page-table page and is keyed by (GPA of
 * that page, level, role); the role is only the entry size (PAE or not) —
 * a change of PSE/PAE/NXE/A20 drops everything (shadow_reset), which is the
 * "generation bump" of DESIGN.md done eagerly since those change at boot
 * only.  Its spte[] holds the guest entries as a successful walk left them
 * (normalized, A set), filled lazily one entry per TLB miss; 0 = not filled.
 * Permissions are ANDed along the path when a TLB entry is filled and CR0.WP
 * is applied there too, so neither is stored here.  PAE PDPTs are not
 * shadowed: the processor holds the PDPTEs in registers, and a root is
 * keyed by them.
 *
 * Roots: an LRU of MMU_ROOTS address spaces keyed by CR3 (+ the PDPTEs),
 * each holding its top shadow pages (pinned) and owning TLB number = slot.
 * Coherence, the one invariant: every filled spte of an in-sync page equals
 * its guest entry, and every TLB entry of every root was filled from a
 * complete spte path of that root.  So a guest write to a tracked table
 * re-derives (leaf) or drops (directory) the sptes it changed and drops, in
 * every root, the TLB entries derived from them — found through the parent
 * links (a shadow page knows every (parent, index) and root that leads to
 * it, hence every GVA range it translates in every root) — and a CR3 switch
 * never needs a flush.
 *
 * The non-obvious parts are the heuristics that keep a guest that rewrites
 * its tables from drowning in traps:
 *  - out of sync: a page table written `oos_after` times without serving a
 *    translation in between stops being write-protected, and its filled
 *    entries are re-derived from guest memory at the next CR3 load, PGE
 *    toggle, or INVLPG of an address it maps (x86 lets the TLB keep stale
 *    translations until then — but only for translations a walk did cache,
 *    which is exactly what a filled spte is; an unfilled one is walked
 *    afresh, and a denied one is re-walked before a #PF is delivered).  So
 *    no snapshot is needed: only filled entries can be stale, and fmap[]
 *    finds them without scanning the page;
 *  - unshadowing: a page written from user mode, written across an entry
 *    boundary or in bulk (> 8 bytes: DMA, loaders), a directory written
 *    `flood_limit` times without use, or an OOS table found much changed
 *    and unused at resync, has become data: all its shadow pages go;
 *  - a cap on shadow memory: the least recently used unpinned pages go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "mmu/mmu_internal.h"

#define DEFAULT_CAP (32u << 20)

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);
    if (!p) {
        fprintf(stderr, "umbra: out of host memory for shadow page tables\n");
        abort();
    }
    return p;
}

static unsigned sp_hash(uint32_t gfn)
{
    return (gfn * 0x9e3779b1u) >> (32 - SP_HASH_BITS);
}

/* GVA pages one entry of sp translates. */
static uint32_t entry_pages(const struct shadow_page *sp)
{
    return sp->level == 1 ? 1 : (sp->pae ? 512 : 1024);
}

static uint8_t *guest_page(struct mmu *m, uint32_t gfn)
{
    const struct phys_region *r = mmu_find_region(m, gfn << PAGE_SHIFT);
    return r->host + ((gfn << PAGE_SHIFT) - r->start);
}

/* Only tables in RAM are shadowed: only RAM writes can be tracked. */
static bool table_in_ram(struct mmu *m, uint64_t gpa)
{
    if (gpa >> 32 || gpa >= m->ram_size)
        return false;
    const struct phys_region *r = mmu_find_region(m, (uint32_t)gpa & PAGE_MASK);
    return r && r->kind == PHYS_RAM;
}

/* ---- LRU and tracking state ---- */

static void lru_unlink(struct shadow_page *sp)
{
    sp->lru_prev->lru_next = sp->lru_next;
    sp->lru_next->lru_prev = sp->lru_prev;
}

static void lru_append(struct mmu_shadow *sh, struct shadow_page *sp)
{
    sp->lru_prev = sh->lru.lru_prev;
    sp->lru_next = &sh->lru;
    sh->lru.lru_prev->lru_next = sp;
    sh->lru.lru_prev = sp;
}

static void sp_touch(struct mmu_shadow *sh, struct shadow_page *sp)
{
    sp->used = true;
    sp->writes = 0;
    if (sp->lru_next != &sh->lru) {
        lru_unlink(sp);
        lru_append(sh, sp);
    }
}

/* TRACK_SHADOW follows "an in-sync shadow page exists for gfn". */
static void update_track(struct mmu *m, uint32_t gfn)
{
    bool want = false;
    for (struct shadow_page *sp = m->sh->hash[sp_hash(gfn)]; sp; sp = sp->hnext)
        if (sp->gfn == gfn && !sp->oos)
            want = true;
    uint8_t *t = &m->page_track[gfn];
    if (want && !(*t & TRACK_SHADOW)) {
        *t |= TRACK_SHADOW;
        tlb_shoot_write(m, gfn << PAGE_SHIFT);
    } else if (!want) {
        *t &= ~TRACK_SHADOW;
    }
}

static void spte_set(struct shadow_page *sp, unsigned j, uint64_t v)
{
    sp->spte[j] = v;
    if (v)
        sp->fmap[j >> 6] |= 1ull << (j & 63);
    else
        sp->fmap[j >> 6] &= ~(1ull << (j & 63));
}

/* Iterate over the filled entries of sp (safe against clearing j). */
#define FOR_EACH_FILLED(sp, j)                                                                     \
    for (unsigned _w = 0; _w < (sp)->nent / 64u; _w++)                                             \
        for (uint64_t _b = (sp)->fmap[_w]; _b; _b &= _b - 1)                                       \
            for (unsigned j = _w * 64 + (unsigned)__builtin_ctzll(_b), _once = 1; _once; _once = 0)

/* ---- parent links and TLB invalidation ---- */

static void add_parent(struct shadow_page *sp, struct shadow_page *p, uint32_t index)
{
    if (sp->nparents == sp->parents_cap) {
        sp->parents_cap = sp->parents_cap ? 2 * sp->parents_cap : 4;
        sp->parents = realloc(sp->parents, sp->parents_cap * sizeof *sp->parents);
        if (!sp->parents)
            abort();
    }
    sp->parents[sp->nparents++] = (struct sp_parent){p, index};
    if (!p)
        sp->root_refs++;
}

static void remove_parent(struct shadow_page *sp, struct shadow_page *p, uint32_t index)
{
    for (uint32_t k = 0; k < sp->nparents; k++)
        if (sp->parents[k].sp == p && sp->parents[k].index == index) {
            sp->parents[k] = sp->parents[--sp->nparents];
            if (!p)
                sp->root_refs--;
            return;
        }
}

/* Drop, in every root, the TLB entries for the GVA pages that sp's entries
 * [off, off + npages) (in pages from sp's first entry) translate. */
static void inval_mapped(struct mmu *m, struct shadow_page *sp, uint32_t off, uint32_t npages)
{
    for (uint32_t k = 0; k < sp->nparents; k++) {
        const struct sp_parent *p = &sp->parents[k];
        if (!p->sp) {
            uint32_t base = sp->pae ? (p->index % 4) << 30 : 0;
            tlb_invalidate_range(m, p->index / 4, base + (off << PAGE_SHIFT), npages);
        } else {
            inval_mapped(m, p->sp, p->index * entry_pages(p->sp) + off, npages);
        }
    }
}

static void unlink_child(struct shadow_page *sp, unsigned j)
{
    struct shadow_page *c = sp->child[j];
    if (c) {
        remove_parent(c, sp, j);
        sp->child[j] = NULL;
    }
}

/* Drop spte j and everything cached from it. */
static void drop_entry(struct mmu *m, struct shadow_page *sp, unsigned j)
{
    if (!sp->spte[j])
        return;
    inval_mapped(m, sp, j * entry_pages(sp), entry_pages(sp));
    if (sp->level == 2)
        unlink_child(sp, j);
    spte_set(sp, j, 0);
}

/* ---- creation and destruction ---- */

static struct shadow_page *sp_find(struct mmu *m, uint32_t gfn, unsigned level, bool pae)
{
    for (struct shadow_page *sp = m->sh->hash[sp_hash(gfn)]; sp; sp = sp->hnext)
        if (sp->gfn == gfn && sp->level == level && sp->pae == pae)
            return sp;
    return NULL;
}

static void oos_remove(struct mmu_shadow *sh, struct shadow_page *sp)
{
    for (unsigned k = 0; k < sh->noos; k++)
        if (sh->oos[k] == sp) {
            sh->oos[k] = sh->oos[--sh->noos];
            break;
        }
    sp->oos = false;
}

static void sp_zap(struct mmu *m, struct shadow_page *sp)
{
    struct mmu_shadow *sh = m->sh;
    inval_mapped(m, sp, 0, sp->nent * entry_pages(sp));
    for (uint32_t k = 0; k < sp->nparents; k++) {
        const struct sp_parent *p = &sp->parents[k];
        if (!p->sp) {
            sh->roots[p->index / 4].top[p->index % 4] = NULL;
        } else {
            p->sp->child[p->index] = NULL;
            spte_set(p->sp, p->index, 0);
        }
    }
    sp->nparents = 0;
    sp->root_refs = 0;
    /* Clear what is filled, so that the page can be recycled as zeroed. */
    FOR_EACH_FILLED(sp, j)
    {
        if (sp->level == 2)
            unlink_child(sp, j);
        spte_set(sp, j, 0);
    }
    if (sp->oos)
        oos_remove(sh, sp);
    struct shadow_page **pp = &sh->hash[sp_hash(sp->gfn)];
    while (*pp != sp)
        pp = &(*pp)->hnext;
    *pp = sp->hnext;
    lru_unlink(sp);
    sh->bytes -= sp->bytes;
    m->stats.shadow_zapped++;
    m->stats.shadow_pages--;
    m->stats.shadow_bytes = sh->bytes;
    uint32_t gfn = sp->gfn;
    unsigned kind = (sp->level - 1) * 2 + sp->pae;
    if (sh->nfree[kind] < SP_FREE_MAX) {
        sp->nparents = 0;
        sh->free[kind][sh->nfree[kind]++] = sp;
    } else {
        free(sp->spte);
        free(sp->child);
        free(sp->parents);
        free(sp);
    }
    update_track(m, gfn);
}

/* Zap the least recently used unpinned shadow page; false if none. */
static bool reclaim_one(struct mmu *m)
{
    struct mmu_shadow *sh = m->sh;
    for (struct shadow_page *sp = sh->lru.lru_next; sp != &sh->lru; sp = sp->lru_next)
        if (!sp->root_refs) {
            sp_zap(m, sp);
            m->stats.shadow_reclaimed++;
            return true;
        }
    return false;
}

static void sync_page(struct mmu *m, struct shadow_page *sp);

static struct shadow_page *sp_get(struct mmu *m, uint32_t gfn, unsigned level, bool pae)
{
    struct mmu_shadow *sh = m->sh;
    struct shadow_page *sp = sp_find(m, gfn, level, pae);
    if (sp)
        return sp;
    /* A page table going out of sync must be its gfn's only shadow page:
     * bring it back before the gfn gets a second use. */
    for (struct shadow_page *o = sh->hash[sp_hash(gfn)]; o; o = o->hnext)
        if (o->gfn == gfn && o->oos) {
            sync_page(m, o);
            break;
        }
    unsigned nent = pae ? 512 : 1024;
    size_t bytes = sizeof *sp + nent * sizeof(uint64_t) +
                   (level == 2 ? nent * sizeof(struct shadow_page *) : 0);
    while (sh->bytes + bytes > sh->cap && reclaim_one(m))
        ;
    unsigned kind = (level - 1) * 2 + pae;
    if (sh->nfree[kind]) {
        /* Recycled: entries and children were cleared by sp_zap. */
        sp = sh->free[kind][--sh->nfree[kind]];
        struct shadow_page keep = *sp;
        memset(sp, 0, sizeof *sp);
        sp->spte = keep.spte;
        sp->child = keep.child;
        sp->parents = keep.parents;
        sp->parents_cap = keep.parents_cap;
    } else {
        sp = xcalloc(1, sizeof *sp);
        sp->spte = xcalloc(nent, sizeof *sp->spte);
        if (level == 2)
            sp->child = xcalloc(nent, sizeof *sp->child);
    }
    sp->gfn = gfn;
    sp->level = (uint8_t)level;
    sp->pae = pae;
    sp->nent = (uint16_t)nent;
    sp->bytes = bytes;
    sp->host = guest_page(m, gfn);
    unsigned h = sp_hash(gfn);
    sp->hnext = sh->hash[h];
    sh->hash[h] = sp;
    lru_append(sh, sp);
    sh->bytes += bytes;
    m->stats.shadow_built++;
    m->stats.shadow_pages++;
    m->stats.shadow_bytes = sh->bytes;
    update_track(m, gfn);
    return sp;
}

static void unshadow(struct mmu *m, uint32_t gfn)
{
    struct shadow_page *sp;
    bool any = false;
    while ((sp = m->sh->hash[sp_hash(gfn)])) {
        while (sp && sp->gfn != gfn)
            sp = sp->hnext;
        if (!sp)
            break;
        sp_zap(m, sp);
        any = true;
    }
    if (any)
        m->stats.shadow_unshadowed++;
}

/* ---- re-deriving entries from guest memory ---- */

/* Guest entry j of the table sp mirrors (a RAM page: read it directly). */
static uint64_t guest_entry(const struct shadow_page *sp, unsigned j)
{
    if (sp->pae) {
        uint64_t v;
        memcpy(&v, sp->host + j * 8, 8);
        return v;
    }
    uint32_t v;
    memcpy(&v, sp->host + j * 4, 4);
    return v;
}

/* What spte a walk would leave for this guest entry: the normalized entry
 * if it is present, accessed and free of reserved bits, else 0. */
static uint64_t derive(const struct paging_mode *pm, unsigned level, uint64_t raw)
{
    if (!(raw & PTE_P) || !(raw & PTE_A))
        return 0;
    bool large = level == 2 && walk_pde_large(pm, raw);
    if (raw & walk_rsvd_mask(pm, level, large))
        return 0;
    return walk_normalize(pm, level, raw);
}

/* The guest entry j of sp may have changed: bring spte j in line.  A leaf
 * is re-derived (the new translation is one a walk may cache); a directory
 * entry that changed is dropped, with its link to the page table below. */
static void rederive(struct mmu *m, struct shadow_page *sp, unsigned j)
{
    uint64_t old = sp->spte[j];
    if (!old)
        return;
    uint64_t now = derive(&m->paging, sp->level, guest_entry(sp, j));
    if (now == old)
        return;
    /* Only A or D newly set (the walker's own update, mostly): what was
     * cached from the old entry is still right — a TLB entry from a clean
     * leaf just has no write tag — so nothing needs invalidating. */
    if ((now & old) == old && !((now ^ old) & ~(PTE_A | PTE_D))) {
        spte_set(sp, j, now);
        return;
    }
    drop_entry(m, sp, j);
    bool leaf = sp->level == 1 || walk_pde_large(&m->paging, now);
    if (leaf)
        spte_set(sp, j, now);
}

static bool go_oos(struct mmu *m, struct shadow_page *sp)
{
    struct mmu_shadow *sh = m->sh;
    if (sh->noos >= sh->oos_max)
        return false;
    for (struct shadow_page *o = sh->hash[sp_hash(sp->gfn)]; o; o = o->hnext)
        if (o->gfn == sp->gfn && o != sp)
            return false; /* also used at another level or role */
    if (sh->noos == sh->oos_cap) {
        sh->oos_cap = sh->oos_cap ? 2 * sh->oos_cap : 16;
        sh->oos = realloc(sh->oos, sh->oos_cap * sizeof *sh->oos);
        if (!sh->oos)
            abort();
    }
    sh->oos[sh->noos++] = sp;
    sp->oos = true;
    sp->used = false;
    sp->writes = 0;
    m->stats.oos_pages++;
    update_track(m, sp->gfn);
    return true;
}

/* Re-derive the filled entries (only those can be stale) and write-protect
 * again, or give the page up if it looks like data now: much changed, or
 * nothing left, without serving a translation since it went out of sync. */
static void sync_page(struct mmu *m, struct shadow_page *sp)
{
    struct mmu_shadow *sh = m->sh;
    unsigned changed = 0, left = 0;
    FOR_EACH_FILLED(sp, j)
    {
        uint64_t old = sp->spte[j];
        rederive(m, sp, j);
        changed += sp->spte[j] != old;
        left += sp->spte[j] != 0;
    }
    m->stats.oos_resyncs++;
    bool data = !sp->used && (changed >= sh->resync_unused || !left);
    oos_remove(sh, sp);
    sp->writes = 0;
    sp->used = false;
    if (data)
        unshadow(m, sp->gfn);
    else
        update_track(m, sp->gfn);
}

void shadow_resync_all(struct mmu *m)
{
    while (m->sh->noos)
        sync_page(m, m->sh->oos[m->sh->noos - 1]);
    m->stats.shadow_bytes = m->sh->bytes;
}

/* ---- the write-tracking hook ---- */

void shadow_note_write(struct mmu *m, uint32_t gpa, uint32_t len, enum wsrc src)
{
    struct mmu_shadow *sh = m->sh;
    uint32_t gfn = gpa >> PAGE_SHIFT, off = gpa & ~PAGE_MASK;
    struct shadow_page *list[8];
    unsigned n = 0;
    for (struct shadow_page *sp = sh->hash[sp_hash(gfn)]; sp; sp = sp->hnext)
        if (sp->gfn == gfn && !sp->oos && n < 8)
            list[n++] = sp;
    if (src != WSRC_AD) {
        m->stats.wp_traps++;
        bool data = src == WSRC_CPU_USER || len > 8;
        for (unsigned k = 0; k < n && !data; k++) {
            unsigned esz = list[k]->pae ? 8 : 4;
            data = off / esz != (off + len - 1) / esz;
        }
        if (data) {
            unshadow(m, gfn);
            return;
        }
    }
    for (unsigned k = 0; k < n; k++) {
        struct shadow_page *sp = list[k];
        unsigned esz = sp->pae ? 8 : 4;
        for (unsigned j = off / esz; j <= (off + len - 1) / esz; j++)
            rederive(m, sp, j);
    }
    if (src == WSRC_AD)
        return;
    for (unsigned k = 0; k < n; k++) {
        struct shadow_page *sp = list[k];
        if (sp->writes < 0xffff)
            sp->writes++;
        if (sp->level == 1 && sh->oos_after && sp->writes >= sh->oos_after && go_oos(m, sp))
            continue;
        if (sp->writes >= sh->flood_limit) {
            unshadow(m, gfn); /* zaps every page in list: stop here */
            return;
        }
    }
}

/* ---- roots ---- */

static void root_release(struct mmu *m, unsigned slot)
{
    struct mmu_root *r = &m->sh->roots[slot];
    for (unsigned i = 0; i < 4; i++)
        if (r->top[i]) {
            remove_parent(r->top[i], NULL, slot * 4 + i);
            r->top[i] = NULL;
        }
    tlb_flush_one(m, slot);
    r->valid = false;
}

void shadow_load_root(struct mmu *m)
{
    struct mmu_shadow *sh = m->sh;
    const struct paging_mode *pm = &m->paging;
    uint32_t cr3 = pm->pae ? pm->cr3 & ~0x1fu : pm->cr3 & PAGE_MASK;
    int victim = -1;
    for (int s = 0; s < MMU_ROOTS; s++) {
        struct mmu_root *r = &sh->roots[s];
        if (!r->valid) {
            if (victim < 0 || sh->roots[victim].valid)
                victim = s;
            continue;
        }
        if (r->pae == pm->pae && r->cr3 == cr3 &&
            (!pm->pae || !memcmp(r->pdpte, pm->pdpte, sizeof r->pdpte))) {
            r->stamp = ++sh->clock;
            sh->cur = s;
            tlb_select(m, (unsigned)s);
            m->stats.root_hits++;
            return;
        }
        if (victim < 0 || (sh->roots[victim].valid && r->stamp < sh->roots[victim].stamp))
            victim = s;
    }
    root_release(m, (unsigned)victim);
    struct mmu_root *r = &sh->roots[victim];
    *r = (struct mmu_root){.valid = true, .pae = pm->pae, .cr3 = cr3, .stamp = ++sh->clock};
    if (pm->pae)
        memcpy(r->pdpte, pm->pdpte, sizeof r->pdpte);
    sh->cur = victim;
    tlb_select(m, (unsigned)victim);
    m->stats.root_misses++;
}

/* ---- translation through the shadow ---- */

bool shadow_lookup(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct xlate *x)
{
    struct mmu_shadow *sh = m->sh;
    if (sh->cur < 0)
        return false;
    const struct paging_mode *pm = &m->paging;
    struct mmu_root *r = &sh->roots[sh->cur];
    struct shadow_page *sp = r->top[pm->pae ? gva >> 30 : 0];
    if (!sp)
        return false;
    unsigned j = pm->pae ? (gva >> 21) & 511 : gva >> 22;
    uint64_t e = sp->spte[j];
    if (!e)
        return false;
    bool u = e & PTE_U, w = e & PTE_W, nx = e & PTE_NX;
    uint64_t leaf = e, frame;
    uint32_t size;
    if (walk_pde_large(pm, e)) {
        size = pm->pae ? 2u << 20 : 4u << 20;
        frame = e & PAE_ADDR_MASK & ~(uint64_t)(size - 1);
    } else {
        sp = sp->child[j];
        leaf = sp->spte[(gva >> PAGE_SHIFT) & (sp->nent - 1)];
        if (!leaf)
            return false;
        u &= (leaf & PTE_U) != 0;
        w &= (leaf & PTE_W) != 0;
        nx |= (leaf & PTE_NX) != 0;
        size = PAGE_SIZE;
        frame = leaf & PAE_ADDR_MASK;
    }
    if (user && !u)
        return false;
    if (acc == MMU_WRITE && ((!w && (user || pm->wp)) || !(leaf & PTE_D)))
        return false; /* a fault to confirm, or D to set: the walker's job */
    if (acc == MMU_FETCH && nx)
        return false;
    uint64_t gpa = frame | (gva & (size - 1));
    if (!(gpa >> 32))
        gpa &= m->a20_mask;
    *x = (struct xlate){.gpa = gpa,
                        .user = u,
                        .writable = w,
                        .nx = nx,
                        .dirty = (leaf & PTE_D) != 0,
                        .global = (leaf & PTE_G) != 0,
                        .large = size != PAGE_SIZE};
    sp_touch(sh, sp);
    return true;
}

bool shadow_install(struct mmu *m, uint32_t gva, const struct walk_result *wr)
{
    struct mmu_shadow *sh = m->sh;
    if (sh->cur < 0)
        return false;
    const struct paging_mode *pm = &m->paging;
    unsigned i = pm->pae ? gva >> 30 : 0, slot = (unsigned)sh->cur;
    uint64_t pd = pm->pae ? pm->pdpte[i] & PAE_ADDR_MASK : pm->cr3 & PAGE_MASK;
    if (!(pd >> 32))
        pd &= m->a20_mask; /* as the walker reads it */
    struct mmu_root *r = &sh->roots[slot];
    struct shadow_page *top = r->top[i];
    if (!top) {
        if (!table_in_ram(m, pd))
            return false;
        top = sp_get(m, (uint32_t)(pd >> PAGE_SHIFT), 2, pm->pae);
        r->top[i] = top;
        add_parent(top, NULL, slot * 4 + i);
    }
    /* Derive from guest memory as it is now, not from the walk's copies: the
     * walk's own A/D update of the leaf may have changed the directory entry
     * too (a directory that maps itself). */
    unsigned j = pm->pae ? (gva >> 21) & 511 : gva >> 22;
    uint64_t pde = derive(pm, 2, guest_entry(top, j));
    if (!pde || walk_pde_large(pm, pde) != wr->large)
        return false;
    m->stats.shadow_fills++;
    if (wr->large) {
        if (top->spte[j] != pde) {
            drop_entry(m, top, j);
            spte_set(top, j, pde);
        }
        sp_touch(sh, top);
        return true;
    }
    uint64_t pt = pde & PAE_ADDR_MASK;
    if (!(pt >> 32))
        pt &= m->a20_mask;
    struct shadow_page *sp = top->child[j];
    if (!sp || top->spte[j] != pde) {
        /* sp_get cannot reclaim top: a root pins it. */
        sp = (pt >> 32) ? NULL : sp_find(m, (uint32_t)(pt >> PAGE_SHIFT), 1, pm->pae);
        if (!sp && !table_in_ram(m, pt))
            return false;
        if (!sp)
            sp = sp_get(m, (uint32_t)(pt >> PAGE_SHIFT), 1, pm->pae);
    }
    if (top->spte[j] != pde || top->child[j] != sp) {
        drop_entry(m, top, j);
        /* A new path to an out-of-sync table: entries cached under another
         * path are no translation the guest could have cached under this
         * one — re-derive them all. */
        if (sp->oos)
            FOR_EACH_FILLED(sp, k)
            {
                rederive(m, sp, k);
            }
        spte_set(top, j, pde);
        top->child[j] = sp;
        add_parent(sp, top, j);
    }
    unsigned k = (gva >> PAGE_SHIFT) & (sp->nent - 1);
    uint64_t pte = derive(pm, 1, guest_entry(sp, k));
    if (!pte)
        return false;
    if (sp->spte[k] != pte) {
        drop_entry(m, sp, k);
        spte_set(sp, k, pte);
    }
    top->used = true;
    top->writes = 0;
    sp_touch(sh, sp);
    return true;
}

void shadow_invlpg(struct mmu *m, uint32_t gva)
{
    struct mmu_shadow *sh = m->sh;
    /* Re-derive the entry for gva in the page table the guest's tables lead
     * to now (found by a walk: the shadow path may be unlinked while the
     * out-of-sync page still holds a stale entry for gva). */
    struct walk_result w;
    mmu_walk_mode(m, &m->paging, gva, MMU_READ, false, MMU_WALK_PEEK, &w);
    const struct walk_level *l = &w.lv[w.nlv - 1];
    if (w.nlv && l->level == 1 && !(l->addr >> 32)) {
        uint32_t a = (uint32_t)l->addr & m->a20_mask;
        for (struct shadow_page *sp = sh->hash[sp_hash(a >> PAGE_SHIFT)]; sp; sp = sp->hnext)
            if (sp->gfn == a >> PAGE_SHIFT && sp->level == 1 && sp->oos)
                rederive(m, sp, (a & ~PAGE_MASK) / (sp->pae ? 8 : 4));
    }
    /* In-sync tables need nothing more: their TLB entries are coherent in
     * every root, large pages included (directories never go out of sync).
     * Dropping the page from the current TLB is cheap and keeps the
     * semantics plain. */
    tlb_invalidate_range(m, sh->cur_tlb, gva, 1);
}

/* ---- whole-state operations ---- */

void shadow_reset(struct mmu *m)
{
    struct mmu_shadow *sh = m->sh;
    for (unsigned s = 0; s < MMU_ROOTS; s++)
        if (sh->roots[s].valid)
            root_release(m, s);
    while (sh->lru.lru_next != &sh->lru)
        sp_zap(m, sh->lru.lru_next);
    sh->cur = -1;
}

int shadow_init(struct mmu *m)
{
    struct mmu_shadow *sh = calloc(1, sizeof *sh);
    if (!sh)
        return -1;
    m->sh = sh;
    for (unsigned t = 0; t < MMU_NTLB; t++) {
        sh->tlbs[t] = malloc(2 * sizeof *sh->tlbs[t]);
        if (!sh->tlbs[t])
            return -1;
        sh->meta[t].nlog = TLB_LOG + 1;
        tlb_flush_one(m, t);
    }
    m->stats.tlb_flushes = 0;
    sh->wtags = calloc(m->ram_size >> PAGE_SHIFT, sizeof *sh->wtags);
    sh->wslots = calloc((size_t)(m->ram_size >> PAGE_SHIFT) * WSLOTS, sizeof *sh->wslots);
    if (!sh->wtags || !sh->wslots)
        return -1;
    sh->lru.lru_next = sh->lru.lru_prev = &sh->lru;
    sh->cur = -1;
    sh->cap = DEFAULT_CAP;
    sh->oos_after = 1;
    sh->oos_max = 64;
    sh->flood_limit = 4;
    sh->resync_unused = 16;
    tlb_select(m, MMU_TLB_PHYS);
    return 0;
}

void shadow_destroy(struct mmu *m)
{
    struct mmu_shadow *sh = m->sh;
    if (!sh)
        return;
    if (sh->wtags && sh->wslots)
        shadow_reset(m);
    for (unsigned k = 0; k < 4; k++)
        while (sh->nfree[k]) {
            struct shadow_page *sp = sh->free[k][--sh->nfree[k]];
            free(sp->spte);
            free(sp->child);
            free(sp->parents);
            free(sp);
        }
    for (unsigned t = 0; t < MMU_NTLB; t++)
        free(sh->tlbs[t]);
    free(sh->wtags);
    free(sh->wslots);
    free(sh->oos);
    free(sh);
    m->sh = NULL;
    m->tlb = NULL;
    m->view = NULL;
}

void mmu_set_shadow_cap(struct mmu *m, size_t bytes)
{
    m->sh->cap = bytes;
    while (m->sh->bytes > m->sh->cap && reclaim_one(m))
        ;
}

/* ---- inspection ---- */

void mmu_xlate_info(struct mmu *m, uint32_t gva, struct mmu_xlate_info *out)
{
    memset(out, 0, sizeof *out);
    const struct paging_mode *pm = &m->paging;
    out->walk_ok = mmu_walk_mode(m, pm, gva, MMU_READ, false, MMU_WALK_PEEK, &out->walk);
    for (unsigned v = 0; v < 2; v++) {
        out->tlb[v] = *mmu_tlb_entry(m, v, gva);
        out->tlb_valid[v] = out->tlb[v].tag_read == (gva & PAGE_MASK);
    }
    struct mmu_shadow *sh = m->sh;
    if (!pm->pg || sh->cur < 0)
        return;
    struct shadow_page *top = sh->roots[sh->cur].top[pm->pae ? gva >> 30 : 0];
    if (!top)
        return;
    unsigned j = pm->pae ? (gva >> 21) & 511 : gva >> 22;
    out->spte[1] = top->spte[j];
    struct shadow_page *leaf = top;
    if (top->child[j]) {
        leaf = top->child[j];
        out->spte[0] = leaf->spte[(gva >> PAGE_SHIFT) & (leaf->nent - 1)];
    } else if (!walk_pde_large(pm, top->spte[j])) {
        return;
    }
    out->shadowed = true;
    out->table_oos = leaf->oos;
    out->table_wp = !leaf->oos && (m->page_track[leaf->gfn] & TRACK_SHADOW);
}

__attribute__((format(printf, 3, 4))) static int audit_fail(char *why, size_t n, const char *fmt,
                                                            ...)
{
    if (why && n) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Is the leaf table of a walk out of sync (its translation may be stale)? */
static bool walk_via_oos(struct mmu *m, const struct walk_result *w)
{
    const struct walk_level *l = &w->lv[w->nlv - 1];
    if (l->level == 3 || (l->addr >> 32))
        return false;
    for (struct shadow_page *sp = m->sh->hash[sp_hash((uint32_t)(l->addr >> PAGE_SHIFT))]; sp;
         sp = sp->hnext)
        if (sp->gfn == (uint32_t)(l->addr >> PAGE_SHIFT) && sp->oos)
            return true;
    return false;
}

static int audit_tlb(struct mmu *m, unsigned t, const struct paging_mode *pm, bool strict,
                     char *why, size_t n)
{
    struct tlb_entry(*tlb)[TLB_ENTRIES] = m->sh->tlbs[t];
    for (unsigned v = 0; v < 2; v++)
        for (unsigned i = 0; i < TLB_ENTRIES; i++) {
            const struct tlb_entry *e = &tlb[v][i];
            uint32_t page = e->tag_read;
            if (page == TLB_INVALID)
                continue;
            if (((page >> PAGE_SHIFT) & (TLB_ENTRIES - 1)) != i)
                return audit_fail(why, n, "TLB %u: entry for 0x%08x at wrong index %u", t, page, i);
            uint32_t gpa = page;
            struct walk_result w;
            if (pm->pg) {
                bool ok = mmu_walk_mode(m, pm, page, MMU_READ, v, MMU_WALK_PEEK, &w);
                if (!strict && walk_via_oos(m, &w))
                    continue;
                if (!ok)
                    return audit_fail(why, n, "TLB %u view %u: 0x%08x cached but walk faults %x", t,
                                      v, page, w.error);
                gpa = w.page_gpa;
                if (w.above_4g)
                    return audit_fail(why, n, "TLB %u: 0x%08x cached beyond 4G", t, page);
                if (e->tag_fetch != TLB_INVALID &&
                    !mmu_walk_mode(m, pm, page, MMU_FETCH, v, MMU_WALK_PEEK, &w))
                    return audit_fail(why, n, "TLB %u view %u: 0x%08x fetch tag but walk says %x",
                                      t, v, page, w.error);
                if (e->tag_write != TLB_INVALID &&
                    (!mmu_walk_mode(m, pm, page, MMU_WRITE, v, MMU_WALK_PEEK, &w) || !w.dirty))
                    return audit_fail(why, n,
                                      "TLB %u view %u: 0x%08x write tag but walk %x dirty %d", t, v,
                                      page, w.error, w.dirty);
            } else {
                gpa = page & m->a20_mask;
            }
            if (e->gpa_page != gpa)
                return audit_fail(why, n, "TLB %u: 0x%08x maps GPA 0x%x, walk says 0x%x", t, page,
                                  e->gpa_page, gpa);
            const struct phys_region *r = mmu_find_region(m, gpa);
            if (!r || (uintptr_t)(r->host + (gpa - r->start)) - page != e->addend)
                return audit_fail(why, n, "TLB %u: 0x%08x wrong host address", t, page);
            if (e->tag_write != TLB_INVALID && r->kind == PHYS_RAM &&
                m->page_track[gpa >> PAGE_SHIFT])
                return audit_fail(why, n, "TLB %u: 0x%08x write tag on tracked GPA 0x%x", t, page,
                                  gpa);
        }
    return 0;
}

int mmu_audit(struct mmu *m, bool strict, char *why, size_t whylen)
{
    struct mmu_shadow *sh = m->sh;
    if (!m->paging.pg || m->strategy == MMU_WALK)
        return audit_tlb(m, sh->cur_tlb, &m->paging, strict, why, whylen);
    if (audit_tlb(m, MMU_TLB_PHYS, &(struct paging_mode){0}, strict, why, whylen))
        return -1;
    for (unsigned s = 0; s < MMU_ROOTS; s++) {
        const struct mmu_root *r = &sh->roots[s];
        if (!r->valid) {
            continue;
        }
        struct paging_mode pm = m->paging;
        pm.pae = r->pae;
        pm.cr3 = r->cr3;
        memcpy(pm.pdpte, r->pdpte, sizeof pm.pdpte);
        if (audit_tlb(m, s, &pm, strict, why, whylen))
            return -1;
        for (unsigned i = 0; i < 4; i++)
            if (r->top[i] &&
                r->top[i]->gfn !=
                    (uint32_t)((pm.pae ? pm.pdpte[i] & PAE_ADDR_MASK : pm.cr3) >> PAGE_SHIFT))
                return audit_fail(why, whylen, "root %u top %u has wrong gfn", s, i);
    }
    /* Every filled entry of an in-sync page equals its guest entry. */
    for (struct shadow_page *sp = sh->lru.lru_next; sp != &sh->lru; sp = sp->lru_next) {
        if (!sp->oos && !(m->page_track[sp->gfn] & TRACK_SHADOW))
            return audit_fail(why, whylen, "gfn 0x%x shadowed but not tracked", sp->gfn);
        if (sp->oos && !strict)
            continue;
        for (unsigned j = 0; j < sp->nent; j++) {
            if (!sp->spte[j] != !(sp->fmap[j >> 6] & (1ull << (j & 63))))
                return audit_fail(why, whylen, "gfn 0x%x: fmap bit %u wrong", sp->gfn, j);
            if (!sp->spte[j])
                continue;
            uint64_t raw = walk_read_entry(m, sp->pae, (uint64_t)sp->gfn << PAGE_SHIFT, j);
            if (derive(&m->paging, sp->level, raw) != sp->spte[j])
                return audit_fail(
                    why, whylen, "gfn 0x%x level %u: spte %u = %llx stale (guest %llx)", sp->gfn,
                    sp->level, j, (unsigned long long)sp->spte[j], (unsigned long long)raw);
            if (sp->level == 2 && !walk_pde_large(&m->paging, sp->spte[j]) &&
                (!sp->child[j] ||
                 sp->child[j]->gfn != (uint32_t)((sp->spte[j] & PAE_ADDR_MASK) >> PAGE_SHIFT)))
                return audit_fail(why, whylen, "gfn 0x%x: spte %u has wrong child", sp->gfn, j);
        }
    }
    return 0;
}
