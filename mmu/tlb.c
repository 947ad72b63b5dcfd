/*
 * tlb.c — translation and the soft TLB (the slow path behind mmu.h's inline
 * fast paths).
 *
 * A TLB entry caches, for one GVA page and one privilege view, a tag per
 * access kind and the host addend.  A tag is only filled when an access of
 * that kind can go straight to host memory: the write tag stays invalid for
 * ROM, for write-tracked pages (decoded code lives there), for pages the
 * guest tables make read-only in this view, and for clean pages whose dirty
 * bit the walker must still set.  MMIO is never cached, so every device
 * access reaches its callback.
 *
 * The TLB may hold less than the guest's tables allow, never more: it is
 * flushed on CR3 loads and paging-mode changes and entries are dropped on
 * INVLPG; a large page in the TLB makes INVLPG flush everything.
 */
#include "mmu/mmu_internal.h"

void mmu_flush_tlb(struct mmu *m)
{
    for (unsigned v = 0; v < 2; v++)
        for (unsigned i = 0; i < TLB_ENTRIES; i++) {
            struct tlb_entry *e = &m->tlb[v][i];
            e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
        }
    m->tlb_has_large = false;
    m->stats.tlb_flushes++;
}

void mmu_invlpg(struct mmu *m, uint32_t gva)
{
    if (m->tlb_has_large) {
        mmu_flush_tlb(m);
        return;
    }
    for (unsigned v = 0; v < 2; v++) {
        struct tlb_entry *e = mmu_tlb_entry(m, v, gva);
        if (e->tag_read == (gva & PAGE_MASK) || e->tag_write == (gva & PAGE_MASK) ||
            e->tag_fetch == (gva & PAGE_MASK))
            e->tag_read = e->tag_write = e->tag_fetch = TLB_INVALID;
    }
}

void mmu_set_paging(struct mmu *m, const struct paging_mode *mode)
{
    m->paging = *mode;
    mmu_flush_tlb(m);
}

/* GVA → GPA for one access; raises #PF through the CPU when denied. */
static void translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user,
                      struct walk_result *wr)
{
    if (!m->paging.pg) {
        memset(wr, 0, sizeof *wr);
        wr->gpa = gva & m->a20_mask;
        wr->page_gpa = wr->gpa & PAGE_MASK;
        wr->user = wr->writable = wr->dirty = true;
        return;
    }
    if (!mmu_walk(m, gva, acc, user, wr))
        m->page_fault(m->fault_opaque, gva, wr->error);
}

uint32_t mmu_translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user)
{
    struct walk_result wr;
    translate(m, gva, acc, user, &wr);
    return wr.gpa;
}

/* Cache the translation in the TLB if the page is plain host memory. */
static struct tlb_entry *fill(struct mmu *m, uint32_t gva, bool user, const struct walk_result *wr)
{
    const struct phys_region *r = mmu_find_region(m, wr->page_gpa);
    if (!r || (r->kind != PHYS_RAM && r->kind != PHYS_ROM))
        return NULL;
    if (wr->page_gpa - r->start > r->size - PAGE_SIZE)
        return NULL; /* region does not cover the whole page */
    uint32_t page = gva & PAGE_MASK;
    struct tlb_entry *e = mmu_tlb_entry(m, user, gva);
    e->gpa_page = wr->page_gpa;
    e->addend = (uintptr_t)(r->host + (wr->page_gpa - r->start)) - page;
    e->tag_read = e->tag_fetch = page;
    bool may_write = wr->writable || (!user && !m->paging.wp);
    bool tracked = r->kind == PHYS_RAM && m->page_track[wr->page_gpa >> PAGE_SHIFT];
    e->tag_write = (r->kind == PHYS_RAM && may_write && wr->dirty && !tracked) ? page : TLB_INVALID;
    if (wr->large)
        m->tlb_has_large = true;
    return e;
}

uint32_t mmu_read_slow(struct mmu *m, uint32_t gva, unsigned size, enum mmu_access acc, bool user)
{
    if (!mmu_fits_page(gva, size)) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= mmu_read_slow(m, gva + i, 1, acc, user) << (8 * i);
        return v;
    }
    struct walk_result wr;
    m->stats.tlb_misses++;
    translate(m, gva, acc, user, &wr);
    struct tlb_entry *e = fill(m, gva, user, &wr);
    if (e) {
        uint32_t v = 0;
        memcpy(&v, (const void *)(uintptr_t)(gva + e->addend), size);
        return v;
    }
    return mmu_phys_load(m, wr.gpa, size);
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
    struct walk_result wr;
    m->stats.tlb_misses++;
    translate(m, gva, MMU_WRITE, user, &wr);
    fill(m, gva, user, &wr);
    mmu_phys_store(m, wr.gpa, value, size);
}

void mmu_probe_write(struct mmu *m, uint32_t gva, unsigned len, bool user)
{
    if (!len || !m->paging.pg)
        return;
    struct walk_result wr;
    uint32_t last = gva + len - 1;
    translate(m, gva, MMU_WRITE, user, &wr);
    if ((last & PAGE_MASK) != (gva & PAGE_MASK))
        translate(m, last & PAGE_MASK, MMU_WRITE, user, &wr); /* CR2 = first byte on that page */
}
