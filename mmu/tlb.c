/*
 * tlb.c — the soft TLBs, translation (the slow path behind mmu.h's inline
 * fast paths), CR0/CR3/CR4 changes and INVLPG.
 *
 * A TLB entry caches, for one GVA page and one privilege view, a tag per
 * access kind and the host addend.  A tag is only filled when an access of
 * that kind can go straight to host memory: the write tag stays invalid for
 * ROM, for write-tracked pages (decoded code, shadowed guest page tables),
 * for pages the guest tables make read-only in this view, and for clean pages
 * whose dirty bit the walker must still set.  MMIO is never cached, so every
 * device access reaches its callback.  CR0.WP is applied here, at fill time,
 * so the shadow entries never depend on it.
 *
 * There are MMU_NTLB TLBs: one per root slot (MMU_ROOTS) and one for
 * CR0.PG = 0.  Which one m->tlb points at depends on the strategy:
 *  - shadow: the current root's.  Its entries stay valid across CR3 switches
 *    because every one of them was filled from shadow entries whose guest
 *    table pages are write-tracked (shadow.c invalidates what a guest write
 *    changes, in every root, before the next instruction).
 *  - walk: always TLB 0, flushed on CR3 loads (except global entries, as the
 *    processor does) and on paging-mode changes; INVLPG drops one page.
 * The TLB may hold less than the guest's tables allow, never more.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mmu/mmu_internal.h"

static void tlb_entry_clear(struct tlb_entry *e)
{
    e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
    e->flags = 0;
}

struct tlb_entry (*tlb_get(struct mmu *m, unsigned t))[TLB_ENTRIES]
{
    return m->sh->tlbs[t];
}

void tlb_select(struct mmu *m, unsigned t)
{
    m->sh->cur_tlb = t;
    m->tlb = m->sh->tlbs[t];
    m->view = m->tlb[m->user];
}

static void meta_reset(struct tlb_meta *mt)
{
    mt->nlog = 0;
    memset(mt->large_map, 0, sizeof mt->large_map);
    memset(mt->used_map, 0, sizeof mt->used_map);
}

/* Flushing costs what was filled since the last flush (the log), or a full
 * pass if more than TLB_LOG entries were. */
void tlb_flush_one(struct mmu *m, unsigned t)
{
    struct tlb_entry(*tlb)[TLB_ENTRIES] = m->sh->tlbs[t];
    struct tlb_meta *mt = &m->sh->meta[t];
    if (!mt->nlog)
        return;
    if (mt->nlog <= TLB_LOG) {
        for (unsigned k = 0; k < mt->nlog; k++)
            tlb_entry_clear(&tlb[mt->log[k] >> TLB_BITS][mt->log[k] & (TLB_ENTRIES - 1)]);
    } else {
        for (unsigned v = 0; v < 2; v++)
            for (unsigned i = 0; i < TLB_ENTRIES; i++)
                tlb_entry_clear(&tlb[v][i]);
    }
    meta_reset(mt);
    m->stats.tlb_flushes++;
}

/* A CR3 load in walk mode keeps global entries (they stay logged). */
void tlb_flush_nonglobal(struct mmu *m, unsigned t)
{
    struct tlb_entry(*tlb)[TLB_ENTRIES] = m->sh->tlbs[t];
    struct tlb_meta *mt = &m->sh->meta[t];
    if (!mt->nlog)
        return;
    unsigned old = mt->nlog, kept = 0;
    uint16_t log[TLB_LOG];
    if (old <= TLB_LOG)
        memcpy(log, mt->log, old * sizeof log[0]);
    mt->nlog = 0;
    for (unsigned k = 0; k < (old <= TLB_LOG ? old : 2 * TLB_ENTRIES); k++) {
        unsigned code = old <= TLB_LOG ? log[k] : k;
        struct tlb_entry *e = &tlb[code >> TLB_BITS][code & (TLB_ENTRIES - 1)];
        if (e->tag_read == TLB_INVALID)
            continue;
        if (!(e->flags & TLBF_GLOBAL)) {
            tlb_entry_clear(e);
            continue;
        }
        if (kept < TLB_LOG)
            mt->log[kept] = (uint16_t)code;
        kept++;
    }
    mt->nlog = kept;
    m->stats.tlb_flushes++;
}

static bool any_region(const uint32_t *map, uint32_t gva, uint32_t npages)
{
    uint64_t first = gva >> 22, last = ((uint64_t)gva + ((uint64_t)npages << PAGE_SHIFT) - 1) >> 22;
    for (uint64_t r = first; r <= last && r < 1024; r++)
        if (map[r >> 5] & (1u << (r & 31)))
            return true;
    return false;
}

/* Drop TLB t's entries for GVA pages [gva, gva + npages pages). */
void tlb_invalidate_range(struct mmu *m, unsigned t, uint32_t gva, uint32_t npages)
{
    struct tlb_entry(*tlb)[TLB_ENTRIES] = m->sh->tlbs[t];
    struct tlb_meta *mt = &m->sh->meta[t];
    gva &= PAGE_MASK;
    if (!mt->nlog)
        return;
    if (npages >= 16) {
        if (!any_region(mt->used_map, gva, npages))
            return;
        unsigned n = mt->nlog <= TLB_LOG ? mt->nlog : 2 * TLB_ENTRIES;
        for (unsigned k = 0; k < n; k++) {
            unsigned code = mt->nlog <= TLB_LOG ? mt->log[k] : k;
            struct tlb_entry *e = &tlb[code >> TLB_BITS][code & (TLB_ENTRIES - 1)];
            if (e->tag_read != TLB_INVALID && ((e->tag_read - gva) >> PAGE_SHIFT) < npages)
                tlb_entry_clear(e);
        }
        return;
    }
    for (uint32_t k = 0; k < npages; k++) {
        uint32_t page = gva + (k << PAGE_SHIFT);
        for (unsigned v = 0; v < 2; v++) {
            struct tlb_entry *e = &tlb[v][(page >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
            if (e->tag_read == page || e->tag_write == page || e->tag_fetch == page)
                tlb_entry_clear(e);
        }
    }
}

/* A page became write-tracked: no TLB may keep a write tag for it. */
void tlb_shoot_write(struct mmu *m, uint32_t gpa_page)
{
    struct mmu_shadow *sh = m->sh;
    uint32_t gfn = gpa_page >> PAGE_SHIFT;
    if (gpa_page >= m->ram_size)
        return;
    uint32_t *slot = &sh->wslots[gfn * WSLOTS];
    for (unsigned k = 0; k < WSLOTS && slot[k]; k++) {
        unsigned code = slot[k] - 1u;
        struct tlb_entry *e = &sh->tlbs[code >> (TLB_BITS + 1)][(code >> TLB_BITS) & 1][code & (TLB_ENTRIES - 1)];
        if (e->gpa_page == gpa_page)
            e->tag_write = TLB_INVALID;
        slot[k] = 0;
    }
    uint32_t bits = sh->wtags[gfn];
    sh->wtags[gfn] = 0;
    while (bits) {
        unsigned t = (unsigned)__builtin_ctz(bits);
        bits &= bits - 1;
        struct tlb_entry(*tlb)[TLB_ENTRIES] = sh->tlbs[t];
        for (unsigned v = 0; v < 2; v++)
            for (unsigned i = 0; i < TLB_ENTRIES; i++) {
                struct tlb_entry *e = &tlb[v][i];
                if (e->tag_write != TLB_INVALID && e->gpa_page == gpa_page)
                    e->tag_write = TLB_INVALID;
            }
    }
}

static void note_write_tag(struct mmu_shadow *sh, uint32_t gfn, unsigned t, unsigned v,
                           unsigned idx)
{
    uint32_t code = 1 + ((t << (TLB_BITS + 1)) | (v << TLB_BITS) | idx);
    uint32_t *slot = &sh->wslots[gfn * WSLOTS];
    for (unsigned k = 0; k < WSLOTS; k++) {
        if (slot[k] == code)
            return;
        if (!slot[k]) {
            slot[k] = code;
            return;
        }
    }
    sh->wtags[gfn] |= 1u << t;
}

/* INVLPG in one TLB: the page, and the 4 KiB pieces of any large page
 * cached around it (they all stand for the one large TLB entry). */
void tlb_invlpg_one(struct mmu *m, unsigned t, uint32_t gva)
{
    tlb_invalidate_range(m, t, gva, 1);
    uint32_t *word = &m->sh->meta[t].large_map[gva >> 27], bit = 1u << ((gva >> 22) & 31);
    if (*word & bit) {
        *word &= ~bit;
        tlb_invalidate_range(m, t, gva & 0xffc00000u, 1024);
    }
}

void mmu_flush_tlb(struct mmu *m)
{
    for (unsigned t = 0; t < MMU_NTLB; t++)
        tlb_flush_one(m, t);
}

/* ---- translation ---- */

/* GVA → GPA for one access; raises #PF through the CPU when denied.  Returns
 * whether the result may be cached in the TLB (in shadow mode only what the
 * shadow tables cover, since only that is kept coherent). */
static bool translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct xlate *x)
{
    if (!m->paging.pg) {
        *x =
            (struct xlate){.gpa = gva & m->a20_mask, .user = true, .writable = true, .dirty = true};
        return true;
    }
    bool shadow = m->strategy == MMU_SHADOW;
    if (shadow && shadow_lookup(m, gva, acc, user, x)) {
        m->stats.tlb_hits_slow++;
        return true;
    }
    struct walk_result wr;
    if (!mmu_walk(m, gva, acc, user, &wr)) {
        m->stats.pf_delivered++;
        m->page_fault(m->fault_opaque, gva, wr.error);
        abort(); /* page_fault never returns */
    }
    *x = (struct xlate){.gpa = wr.above_4g ? (1ull << 32) | wr.gpa : wr.gpa,
                        .user = wr.user,
                        .writable = wr.writable,
                        .nx = wr.nx,
                        .dirty = wr.dirty,
                        .global = wr.global,
                        .large = wr.large};
    if (!shadow)
        return true;
    /* install declines for a table outside RAM: such a translation cannot be
     * kept coherent, so it is not cached. */
    return shadow_install(m, gva, &wr);
}

uint32_t mmu_translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user)
{
    struct xlate x;
    translate(m, gva, acc, user, &x);
    return (uint32_t)x.gpa;
}

/* The log fills up with entries invalidated one by one and refilled; keep
 * only those still valid, once each, so that it overflows only when the TLB
 * really holds TLB_LOG entries. */
static void compact_log(struct tlb_entry (*tlb)[TLB_ENTRIES], struct tlb_meta *mt)
{
    uint64_t seen[2 * TLB_ENTRIES / 64] = {0};
    unsigned n = 0;
    for (unsigned k = 0; k < mt->nlog; k++) {
        unsigned code = mt->log[k];
        if (tlb[code >> TLB_BITS][code & (TLB_ENTRIES - 1)].tag_read == TLB_INVALID ||
            (seen[code >> 6] & (1ull << (code & 63))))
            continue;
        seen[code >> 6] |= 1ull << (code & 63);
        mt->log[n++] = (uint16_t)code;
    }
    mt->nlog = n;
}

/* Cache the translation in the current TLB if the page is plain host memory. */
static struct tlb_entry *fill(struct mmu *m, uint32_t gva, bool user, const struct xlate *x)
{
    if (x->gpa >> 32)
        return NULL;
    uint32_t page_gpa = (uint32_t)x->gpa & PAGE_MASK;
    const struct phys_region *r = mmu_find_region(m, page_gpa);
    if (!r || (r->kind != PHYS_RAM && r->kind != PHYS_ROM && r->kind != PHYS_HOST))
        return NULL;
    if (page_gpa - r->start > r->size - PAGE_SIZE)
        return NULL; /* region does not cover the whole page */
    struct mmu_shadow *sh = m->sh;
    uint32_t page = gva & PAGE_MASK;
    struct tlb_entry *e = mmu_tlb_entry(m, user, gva);
    unsigned t = sh->cur_tlb, idx = (gva >> PAGE_SHIFT) & (TLB_ENTRIES - 1);
    struct tlb_meta *mt = &sh->meta[t];
    if (e->tag_read == TLB_INVALID) {
        if (mt->nlog == TLB_LOG)
            compact_log(sh->tlbs[t], mt);
        if (mt->nlog < TLB_LOG)
            mt->log[mt->nlog++] = (uint16_t)((user << TLB_BITS) | idx);
        else
            mt->nlog = TLB_LOG + 1;
    }
    mt->used_map[gva >> 27] |= 1u << ((gva >> 22) & 31);
    e->gpa_page = page_gpa;
    e->addend = (uintptr_t)(r->host + (page_gpa - r->start)) - page;
    e->tag_read = page;
    /* Device memory is not write-tracked: fetches from it take the slow
     * path (code run from a framebuffer and rewritten there is not
     * re-decoded, as for MMIO). */
    e->tag_fetch = x->nx || r->kind == PHYS_HOST ? TLB_INVALID : page;
    bool may_write = x->writable || (!user && !m->paging.wp);
    bool ram = (r->kind == PHYS_RAM && (!r->window || r->write_ram)) || r->kind == PHYS_HOST;
    bool tracked = r->kind == PHYS_RAM && ram && m->page_track[page_gpa >> PAGE_SHIFT];
    e->tag_write = (ram && may_write && x->dirty && !tracked) ? page : TLB_INVALID;
    /* The reverse map covers RAM only (device memory is never tracked). */
    if (e->tag_write != TLB_INVALID && r->kind == PHYS_RAM)
        note_write_tag(sh, page_gpa >> PAGE_SHIFT, t, user, idx);
    e->flags = (x->global && m->paging.pge ? TLBF_GLOBAL : 0) | (x->large ? TLBF_LARGE : 0);
    if (x->large)
        mt->large_map[gva >> 27] |= 1u << ((gva >> 22) & 31);
    return e;
}

static uint32_t load_gpa(struct mmu *m, uint64_t gpa, unsigned size)
{
    if (gpa >> 32)
        return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    return mmu_phys_load(m, (uint32_t)gpa, size);
}

uint32_t mmu_read_slow(struct mmu *m, uint32_t gva, unsigned size, enum mmu_access acc, bool user)
{
    if (!mmu_fits_page(gva, size)) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= mmu_read_slow(m, gva + i, 1, acc, user) << (8 * i);
        return v;
    }
    struct xlate x;
    m->stats.tlb_misses++;
    struct tlb_entry *e = translate(m, gva, acc, user, &x) ? fill(m, gva, user, &x) : NULL;
    if (e) {
        uint32_t v = 0;
        memcpy(&v, (const void *)(uintptr_t)(gva + e->addend), size);
        return v;
    }
    return load_gpa(m, x.gpa, size);
}

void mmu_write_slow(struct mmu *m, uint32_t gva, uint32_t value, unsigned size, bool user)
{
    if (!mmu_fits_page(gva, size)) {
        /* Both pages must be writable before any byte changes. */
        mmu_probe_write(m, gva, size, user);
        for (unsigned i = 0; i < size; i++)
            mmu_write_slow(m, gva + i, (value >> (8 * i)) & 0xff, 1, user);
        return;
    }
    struct xlate x;
    m->stats.tlb_misses++;
    if (translate(m, gva, MMU_WRITE, user, &x))
        fill(m, gva, user, &x);
    if (x.gpa >> 32)
        return;
    mmu_phys_store_src(m, (uint32_t)x.gpa, value, size, user ? WSRC_CPU_USER : WSRC_CPU);
}

void mmu_probe_write(struct mmu *m, uint32_t gva, unsigned len, bool user)
{
    if (!len || !m->paging.pg)
        return;
    struct xlate x;
    uint32_t last = gva + len - 1;
    translate(m, gva, MMU_WRITE, user, &x);
    /* A fault in the second page reports its first byte in CR2. */
    if ((last & PAGE_MASK) != (gva & PAGE_MASK))
        translate(m, last & PAGE_MASK, MMU_WRITE, user, &x);
}

/* ---- control-register changes ---- */

static bool same_pdptes(const struct paging_mode *a, const struct paging_mode *b)
{
    return !memcmp(a->pdpte, b->pdpte, sizeof a->pdpte);
}

void mmu_set_paging(struct mmu *m, const struct paging_mode *mode)
{
    struct paging_mode old = m->paging, pm = *mode;
    bool structural = old.pg != pm.pg || old.pae != pm.pae || old.pse != pm.pse ||
                      old.pge != pm.pge || old.cr3 != pm.cr3;
    bool nothing = !structural && old.wp == pm.wp && old.nxe == pm.nxe;
    /* The processor reloads the PDPTE registers on CR3 loads and on PG, PAE,
     * PSE and PGE changes, not on WP or NXE changes (SDM §4.4.1). */
    if (pm.pae && pm.pg && !pm.pdpte_valid) {
        if (structural || nothing) {
            if (!mmu_load_pdptes(m, pm.cr3, pm.pdpte))
                MMU_LOG(m, MMU_LOG_GUEST_ERRORS,
                        "PAE PDPTE with reserved bits at CR3 0x%08x (should be #GP)\n", pm.cr3);
        } else {
            memcpy(pm.pdpte, old.pdpte, sizeof pm.pdpte);
        }
    }
    pm.pdpte_valid = pm.pae && pm.pg;
    if (!pm.pdpte_valid)
        memset(pm.pdpte, 0, sizeof pm.pdpte);
    m->paging = pm;

    bool cr3_load = pm.pg && (old.cr3 != pm.cr3 || nothing || !same_pdptes(&old, &pm));
    if (cr3_load)
        m->stats.cr3_loads++;
    bool roles = old.pse != pm.pse || old.pae != pm.pae || old.nxe != pm.nxe;

    if (m->strategy == MMU_SHADOW) {
        /* Done even while paging is off, so that no shadow page of the old
         * interpretation survives until it is turned on. */
        if (roles) {
            shadow_reset(m); /* the generation bump: entries are read differently now */
        } else if (old.wp != pm.wp) {
            for (unsigned t = 0; t < MMU_ROOTS; t++)
                tlb_flush_one(m, t); /* WP is applied at fill time */
        }
    }
    if (!pm.pg) {
        m->sh->cur = -1;
        tlb_select(m, MMU_TLB_PHYS);
        return;
    }
    if (m->strategy == MMU_WALK) {
        if (roles || old.wp != pm.wp || old.pge != pm.pge || old.pg != pm.pg)
            tlb_flush_one(m, 0);
        else if (cr3_load && pm.pge)
            tlb_flush_nonglobal(m, 0);
        else if (cr3_load)
            tlb_flush_one(m, 0);
        tlb_select(m, 0);
        return;
    }
    /* Every call with paging on is a TLB flush to the guest (a CR3 load, or
     * a PG/PGE/PSE/WP change): changes it made to out-of-sync tables must
     * now be seen. */
    shadow_resync_all(m);
    shadow_load_root(m);
}

void mmu_invlpg(struct mmu *m, uint32_t gva)
{
    m->stats.invlpgs++;
    if (!m->paging.pg)
        return;
    if (m->strategy == MMU_SHADOW) {
        shadow_invlpg(m, gva);
        return;
    }
    tlb_invlpg_one(m, m->sh->cur_tlb, gva);
}

/* The GPA→host map or the A20 gate changed: host addends are stale, and a
 * guest table may now lie under ROM/MMIO or at a different address (the
 * shadow's generation bump). */
void mmu_phys_map_changed(struct mmu *m)
{
    shadow_reset(m);
    mmu_flush_tlb(m);
    if (m->paging.pg && m->strategy == MMU_SHADOW)
        shadow_load_root(m);
}

void mmu_set_strategy(struct mmu *m, enum mmu_strategy s)
{
    if (s == m->strategy)
        return;
    shadow_reset(m);
    mmu_flush_tlb(m);
    m->strategy = s;
    if (!m->paging.pg)
        return;
    if (s == MMU_WALK) {
        m->sh->cur = -1;
        tlb_select(m, 0);
    } else {
        shadow_load_root(m);
    }
}
