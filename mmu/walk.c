/*
 * walk.c — a pure walker of the guest's page tables (SDM vol. 3 §4.3):
 * 32-bit two-level paging with 4 KiB pages and, with CR4.PSE, 4 MiB pages.
 * PAE comes with the shadow-paging work.
 *
 * It returns the effective permissions (U/S and R/W ANDed along the path)
 * and sets accessed/dirty bits exactly when the hardware would: A on every
 * level used by a permitted access, D on the leaf for a permitted write;
 * nothing on a denied access.  The updates go through mmu_phys_store, so a
 * page-table page that is also write-tracked sees them.
 */
#include "mmu/mmu_internal.h"

static bool access_allowed(const struct mmu *m, enum mmu_access acc, bool user, bool pg_user,
                           bool pg_write)
{
    if (user && !pg_user)
        return false;
    if (acc == MMU_WRITE && !pg_write && (user || m->paging.wp))
        return false;
    return true;
}

bool mmu_walk(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct walk_result *r)
{
    memset(r, 0, sizeof *r);
    uint32_t err = (acc == MMU_WRITE ? PF_W : 0) | (user ? PF_U : 0);
    uint32_t pde_addr = ((m->paging.cr3 & PAGE_MASK) | ((gva >> 22) << 2)) & m->a20_mask;
    uint32_t pde = mmu_phys_load(m, pde_addr, 4);
    r->pde = pde;
    if (!(pde & 1)) {
        r->error = err;
        return false;
    }
    if ((pde & 0x80) && m->paging.pse) {
        r->large = true;
        r->user = pde & 4;
        r->writable = pde & 2;
        if (!access_allowed(m, acc, user, r->user, r->writable)) {
            r->error = err | PF_P;
            return false;
        }
        uint32_t set = 0x20 | (acc == MMU_WRITE ? 0x40 : 0);
        if ((pde & set) != set) {
            pde |= set;
            mmu_phys_store(m, pde_addr, pde, 4);
        }
        r->pde = pde;
        r->dirty = pde & 0x40;
        r->gpa = ((pde & 0xffc00000u) | (gva & 0x003fffffu)) & m->a20_mask;
        r->page_gpa = r->gpa & PAGE_MASK;
        return true;
    }
    uint32_t pte_addr = ((pde & PAGE_MASK) | (((gva >> 12) & 0x3ff) << 2)) & m->a20_mask;
    uint32_t pte = mmu_phys_load(m, pte_addr, 4);
    r->pte = pte;
    if (!(pte & 1)) {
        r->error = err;
        return false;
    }
    r->user = (pde & 4) && (pte & 4);
    r->writable = (pde & 2) && (pte & 2);
    if (!access_allowed(m, acc, user, r->user, r->writable)) {
        r->error = err | PF_P;
        return false;
    }
    if (!(pde & 0x20)) {
        pde |= 0x20;
        mmu_phys_store(m, pde_addr, pde, 4);
    }
    uint32_t set = 0x20 | (acc == MMU_WRITE ? 0x40 : 0);
    if ((pte & set) != set) {
        pte |= set;
        mmu_phys_store(m, pte_addr, pte, 4);
    }
    r->pde = pde;
    r->pte = pte;
    r->dirty = pte & 0x40;
    r->gpa = ((pte & PAGE_MASK) | (gva & ~PAGE_MASK)) & m->a20_mask;
    r->page_gpa = r->gpa & PAGE_MASK;
    return true;
}
