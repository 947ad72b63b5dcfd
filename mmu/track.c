/*
 * track.c — write tracking of guest-physical pages, the one funnel every
 * RAM write passes: CPU stores that left the TLB fast path, DMA and loaders
 * (mmu_phys_write), the walker's accessed/dirty updates.
 *
 * A page is tracked for two owners, one bit each in page_track[]:
 * TRACK_CODE for the CPU's decoded blocks (self-modifying code: code_write
 * is told the range) and TRACK_SHADOW for guest page tables with in-sync
 * shadow pages (shadow.c re-derives what the write changed).  A tracked
 * page never has a write tag in any soft TLB, so no store can bypass this
 * file; tracking a page therefore shoots down the write tags already cached
 * for it, in every root's TLB (wtags[] says which TLBs may hold one, so the
 * shootdown rarely scans more than one TLB).
 */
#include "mmu/mmu_internal.h"

void mmu_note_ram_write_src(struct mmu *m, uint32_t gpa, uint32_t len, enum wsrc src)
{
    if (!len)
        return;
    uint32_t first = gpa >> PAGE_SHIFT, last = (gpa + len - 1) >> PAGE_SHIFT;
    bool code = false;
    for (uint32_t p = first; p <= last; p++) {
        uint8_t t = m->page_track[p];
        if (!t)
            continue;
        if (t & TRACK_SHADOW) {
            uint32_t lo = p == first ? gpa : p << PAGE_SHIFT;
            uint32_t hi = p == last ? gpa + len : (p + 1) << PAGE_SHIFT;
            shadow_note_write(m, lo, hi - lo, src);
        }
        if (t & TRACK_CODE)
            code = true;
    }
    if (code) {
        m->stats.tracked_writes++;
        if (m->code_write)
            m->code_write(m->code_opaque, gpa, len);
    }
}

void mmu_note_ram_write(struct mmu *m, uint32_t gpa, uint32_t len)
{
    mmu_note_ram_write_src(m, gpa, len, WSRC_EMU);
}

void mmu_track_code(struct mmu *m, uint32_t gpa)
{
    uint32_t p = gpa >> PAGE_SHIFT;
    if (gpa >= m->ram_size || (m->page_track[p] & TRACK_CODE))
        return;
    m->page_track[p] |= TRACK_CODE;
    tlb_shoot_write(m, gpa & PAGE_MASK);
}

void mmu_untrack_code(struct mmu *m, uint32_t gpa)
{
    if (gpa < m->ram_size)
        m->page_track[gpa >> PAGE_SHIFT] &= ~TRACK_CODE;
}
