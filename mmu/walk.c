/*
 * walk.c — the one walker of the guest's page tables (SDM vol. 3 §4.3–4.7):
 * 32-bit two-level paging with 4 KiB pages and, with CR4.PSE, 4 MiB pages
 * (PSE-36: PDE bits 16:13 are physical-address bits 35:32); PAE paging with
 * the four PDPTE registers, 4 KiB and 2 MiB pages and XD under EFER.NXE.
 * The shadow filler, `-mmu walk`, the debugger and the tests all use it.
 *
 * Semantics chosen to match the processor (and QEMU, the differential
 * reference of the guest tests):
 *  - a not-present entry faults with P=0 wherever it is met; a present entry
 *    with a reserved bit set faults with P=1|RSVD (the emulated CPU has a
 *    36-bit physical address, so PSE-36 PDE bits 21:17 and PAE bits 62:36 —
 *    and bit 63 without NXE — are reserved);
 *  - the accessed bit of a non-leaf entry is set as soon as the walk goes
 *    through it, even if a lower level then faults; the leaf's A (and D for
 *    a write) only when the whole access is permitted;
 *  - effective U/S and R/W are ANDed along the path, XD ORed; a supervisor
 *    write to a read-only page is allowed unless CR0.WP; I/D in the error
 *    code only when XD exists (PAE with NXE), for every fetch fault.
 * PAE PDPTEs are not re-read from memory on a walk: the processor loads them
 * on CR3 writes into registers, and so does mmu_set_paging (struct
 * paging_mode carries them).  A/D updates are stores of the entry's low word
 * through mmu_phys_store_src, so they pass the write tracking like any other
 * RAM write — a shadowed table sees its own A/D bits change.
 */
#include "mmu/mmu_internal.h"

static uint64_t entry_addr(struct mmu *m, bool pae, uint64_t table, unsigned index)
{
    return table + (uint64_t)index * (pae ? 8 : 4);
}

static uint64_t read_at(struct mmu *m, bool pae, uint64_t addr)
{
    if (addr >> 32)
        return ~0ull; /* beyond the 32-bit guest-physical map: floating bus */
    uint32_t a = (uint32_t)addr & m->a20_mask;
    uint64_t v = mmu_phys_load(m, a, 4);
    if (pae)
        v |= (uint64_t)mmu_phys_load(m, (a + 4) & m->a20_mask, 4) << 32;
    return v;
}

uint64_t walk_read_entry(struct mmu *m, bool pae, uint64_t table, unsigned index)
{
    return read_at(m, pae, entry_addr(m, pae, table, index));
}

static void set_bits(struct mmu *m, struct walk_level *l, uint64_t bits)
{
    if ((l->entry & bits) == bits)
        return;
    l->entry |= bits;
    if (!(l->addr >> 32))
        mmu_phys_store_src(m, (uint32_t)l->addr & m->a20_mask, (uint32_t)l->entry, 4, WSRC_AD);
}

static bool fail(struct walk_result *r, uint32_t error)
{
    r->error = error;
    return false;
}

static bool allowed(const struct paging_mode *pm, enum mmu_access acc, bool user,
                    const struct walk_result *r)
{
    if (user && !r->user)
        return false;
    if (acc == MMU_WRITE && !r->writable && (user || pm->wp))
        return false;
    if (acc == MMU_FETCH && r->nx)
        return false;
    return true;
}

bool mmu_walk_mode(struct mmu *m, const struct paging_mode *pm, uint32_t gva, enum mmu_access acc,
                   bool user, unsigned flags, struct walk_result *r)
{
    memset(r, 0, sizeof *r);
    const bool pae = pm->pae, peek = flags & MMU_WALK_PEEK;
    const bool has_xd = pae && pm->nxe;
    uint32_t err =
        (acc == MMU_WRITE ? PF_W : 0) | (user ? PF_U : 0) | (acc == MMU_FETCH && has_xd ? PF_I : 0);
    uint64_t table;
    struct walk_level *l;

    if (pae) {
        unsigned i = gva >> 30;
        l = &r->lv[r->nlv++];
        *l = (struct walk_level){
            .entry = pm->pdpte[i], .addr = (pm->cr3 & ~0x1fu) + i * 8u, .level = 3};
        if (!(l->entry & PTE_P))
            return fail(r, err);
        if (l->entry & walk_rsvd_mask(pm, 3, false))
            return fail(r, err | PF_P | PF_RSVD);
        table = l->entry & PAE_ADDR_MASK;
    } else {
        table = pm->cr3 & PAGE_MASK;
    }
    r->user = r->writable = true;

    /* Page directory. */
    unsigned idx = pae ? (gva >> 21) & 511 : gva >> 22;
    l = &r->lv[r->nlv++];
    l->level = 2;
    l->addr = entry_addr(m, pae, table, idx);
    l->entry = read_at(m, pae, l->addr);
    r->pde = l->entry;
    if (!(l->entry & PTE_P))
        return fail(r, err);
    r->large = walk_pde_large(pm, l->entry);
    if (l->entry & walk_rsvd_mask(pm, 2, r->large))
        return fail(r, err | PF_P | PF_RSVD);
    r->user &= (l->entry & PTE_U) != 0;
    r->writable &= (l->entry & PTE_W) != 0;
    r->nx |= has_xd && (l->entry & PTE_NX);

    if (r->large) {
        r->page_size = pae ? 2u << 20 : 4u << 20;
    } else {
        if (!peek)
            set_bits(m, l, PTE_A);
        r->pde = l->entry;
        table = pae ? l->entry & PAE_ADDR_MASK : l->entry & PAGE_MASK;
        idx = (gva >> 12) & (pae ? 511 : 1023);
        l = &r->lv[r->nlv++];
        l->level = 1;
        l->addr = entry_addr(m, pae, table, idx);
        l->entry = read_at(m, pae, l->addr);
        r->pte = l->entry;
        if (!(l->entry & PTE_P))
            return fail(r, err);
        if (l->entry & walk_rsvd_mask(pm, 1, false))
            return fail(r, err | PF_P | PF_RSVD);
        r->user &= (l->entry & PTE_U) != 0;
        r->writable &= (l->entry & PTE_W) != 0;
        r->nx |= has_xd && (l->entry & PTE_NX);
        r->page_size = PAGE_SIZE;
    }

    if (!allowed(pm, acc, user, r))
        return fail(r, err | PF_P);
    if (!peek)
        set_bits(m, l, PTE_A | (acc == MMU_WRITE ? PTE_D : 0));
    if (r->large)
        r->pde = l->entry;
    else
        r->pte = l->entry;
    r->dirty = (l->entry & PTE_D) != 0;
    r->global = (l->entry & PTE_G) != 0;
    uint64_t frame = walk_normalize(pm, l->level, l->entry) & PAE_ADDR_MASK;
    uint64_t gpa = (frame & ~(uint64_t)(r->page_size - 1)) | (gva & (r->page_size - 1));
    r->above_4g = (gpa >> 32) != 0;
    r->gpa = (uint32_t)gpa & m->a20_mask;
    r->page_gpa = r->gpa & PAGE_MASK;
    return true;
}

bool mmu_walk(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct walk_result *r)
{
    m->stats.walks++;
    return mmu_walk_mode(m, &m->paging, gva, acc, user, 0, r);
}

bool mmu_load_pdptes(struct mmu *m, uint32_t cr3, uint64_t pdpte[4])
{
    struct paging_mode pae = {.pae = true};
    bool ok = true;
    for (unsigned i = 0; i < 4; i++) {
        pdpte[i] = read_at(m, true, (cr3 & ~0x1fu) + i * 8u);
        if ((pdpte[i] & PTE_P) && (pdpte[i] & walk_rsvd_mask(&pae, 3, false)))
            ok = false;
    }
    return ok;
}
