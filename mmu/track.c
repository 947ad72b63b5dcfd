/*
 * track.c — write tracking of guest-physical pages.
 *
 * A tracked page never has a write tag in the soft TLB, so every store to it
 * leaves the fast path; phys.c then reports the written range to the owner
 * (the CPU's block cache, for pages holding decoded code).  Tracking a page
 * therefore has to shoot down the write tags already cached for it, in both
 * privilege views; entries remember their GPA page for exactly this.
 */
#include "mmu/mmu_internal.h"

void mmu_track_code(struct mmu *m, uint32_t gpa)
{
    uint32_t p = gpa >> PAGE_SHIFT;
    if (gpa >= m->ram_size || (m->page_track[p] & TRACK_CODE))
        return;
    m->page_track[p] |= TRACK_CODE;
    uint32_t page = gpa & PAGE_MASK;
    for (unsigned v = 0; v < 2; v++)
        for (unsigned i = 0; i < TLB_ENTRIES; i++) {
            struct tlb_entry *e = &m->tlb[v][i];
            if (e->tag_write != TLB_INVALID && e->gpa_page == page)
                e->tag_write = TLB_INVALID;
        }
}

void mmu_untrack_code(struct mmu *m, uint32_t gpa)
{
    if (gpa < m->ram_size)
        m->page_track[gpa >> PAGE_SHIFT] &= ~TRACK_CODE;
}
