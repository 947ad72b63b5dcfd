/*
 * mmu_internal.h — what the MMU's own files share: the physical access
 * helpers, the write sources the tracking distinguishes, the shadow-page and
 * root structures, and the logging macro.
 */
#ifndef UMBRA_MMU_INTERNAL_H
#define UMBRA_MMU_INTERNAL_H

#include "mmu/mmu.h"

/* Same bits as LOG_GUEST_ERRORS / LOG_UNIMP in cpu/cpu.h (mmu/ cannot include cpu/). */
#define MMU_LOG_GUEST_ERRORS 0x04u
#define MMU_LOG_UNIMP 0x08u

#define MMU_LOG(m, cat, ...)                                                                       \
    do {                                                                                           \
        if (((m)->log_mask & (cat)) && (m)->log)                                                   \
            (m)->log((m)->log_opaque, (cat), __VA_ARGS__);                                         \
    } while (0)

/* Who wrote RAM: the tracking treats a trapped page-table write differently
 * by source (a user-mode store means the page has become data; the walker's
 * own A/D update is never a reason to give a page up). */
enum wsrc {
    WSRC_EMU = 0,  /* DMA, loaders, the emulator's descriptor updates */
    WSRC_CPU,      /* a supervisor-mode CPU store */
    WSRC_CPU_USER, /* a user-mode CPU store */
    WSRC_AD,       /* the walker setting accessed/dirty bits */
};

uint32_t mmu_phys_load(struct mmu *m, uint32_t gpa, unsigned size);
void mmu_phys_store(struct mmu *m, uint32_t gpa, uint32_t v, unsigned size);
void mmu_phys_store_src(struct mmu *m, uint32_t gpa, uint32_t v, unsigned size, enum wsrc src);
void mmu_note_ram_write(struct mmu *m, uint32_t gpa, uint32_t len);
void mmu_note_ram_write_src(struct mmu *m, uint32_t gpa, uint32_t len, enum wsrc src);

/* ---- walk.c ---- */
/* Guest paging-structure bits (the PAE layout; 32-bit entries are the same
 * in their low word). */
#define PTE_P 0x001ull
#define PTE_W 0x002ull
#define PTE_U 0x004ull
#define PTE_A 0x020ull
#define PTE_D 0x040ull
#define PTE_PS 0x080ull
#define PTE_G 0x100ull
#define PTE_NX (1ull << 63)
/* The emulated processor's physical-address width (a P6 with PAE/PSE-36). */
#define MMU_PHYS_BITS 36
#define PAE_ADDR_MASK (((1ull << MMU_PHYS_BITS) - 1) & ~0xfffull)

/* Whether a PDE maps a large page under pm. */
static inline bool walk_pde_large(const struct paging_mode *pm, uint64_t pde)
{
    return (pde & PTE_PS) && (pm->pae || pm->pse);
}

/* Reserved bits of a present entry at `level` (3 PDPTE, 2 PDE, 1 PTE);
 * `large` for a PDE with PS that maps a page.  Inline: the shadow code
 * re-derives entries with it on every trapped write. */
static inline uint64_t walk_rsvd_mask(const struct paging_mode *pm, unsigned level, bool large)
{
    if (!pm->pae)
        return (level == 2 && large) ? 0x003e0000ull : 0; /* PDE bits 21:17 */
    uint64_t above = ~((1ull << MMU_PHYS_BITS) - 1);      /* bits 63:36 */
    if (level == 3)
        return above | 0x1e6ull; /* bits 2:1, 8:5 and 63:36 */
    uint64_t r = above & ~PTE_NX;
    if (!pm->nxe)
        r |= PTE_NX;
    if (level == 2 && large)
        r |= 0x1fe000ull; /* bits 20:13 of a 2 MiB PDE */
    return r;
}

/* Normalize a guest entry to the PAE layout with the frame at bits 12..35:
 * a PSE-36 4 MiB PDE's high address bits move from 16:13 to 35:32. */
static inline uint64_t walk_normalize(const struct paging_mode *pm, unsigned level, uint64_t e)
{
    if (!pm->pae) {
        e &= 0xffffffffull;
        if (level == 2 && walk_pde_large(pm, e))
            return (e & 0xfff) | (e & 0xffc00000ull) | (((e >> 13) & 0xf) << 32);
        return e;
    }
    uint64_t frame = e & PAE_ADDR_MASK;
    if (level == 2 && walk_pde_large(pm, e))
        frame &= ~0x1fffffull;
    return (e & 0xfff) | frame | (pm->nxe ? (e & PTE_NX) : 0);
}
/* Read entry `index` of the guest table at GPA `table` (PAE: 8 bytes). */
uint64_t walk_read_entry(struct mmu *m, bool pae, uint64_t table, unsigned index);

/* ---- shadow.c / tlb.c ---- */
#define MMU_ROOTS 16
#define MMU_TLB_PHYS MMU_ROOTS /* the TLB used while CR0.PG = 0 */
#define MMU_NTLB (MMU_ROOTS + 1)

/* A translation ready for the TLB: from a walk or from the shadow tables. */
struct xlate {
    uint64_t gpa; /* may lie beyond 4 GiB (then unmapped) */
    bool user, writable, nx, dirty, global, large;
};

/* A reference to a shadow page: entry `index` of shadow page `sp`, or, with
 * sp == NULL, root slot index / 4, PDPTE index % 4 (the top of a root). */
struct sp_parent {
    struct shadow_page *sp;
    uint32_t index;
};

/* One shadow page: the host-side mirror of one guest page-table page, keyed
 * by (gfn, level, role).  spte[] holds the guest entries as they were when
 * filled, normalized (walk_normalize) and only ever for entries a walk
 * accepted with A set; 0 means "not filled — walk on a miss". */
struct shadow_page {
    uint32_t gfn;  /* guest table page (GPA >> 12) */
    uint8_t level; /* 1 page table, 2 page directory */
    uint8_t pae;   /* role: 8-byte entries (512 of them) */
    bool oos;      /* out of sync: not write-protected; re-derived at the next resync */
    bool used;     /* served a translation since the last reset of `writes` */
    uint16_t nent;
    uint16_t writes; /* trapped writes since last used */
    uint64_t *spte;
    struct shadow_page **child; /* level 2: the page table each filled PDE leads to */
    uint64_t fmap[16];          /* bit j: spte[j] is filled */
    const uint8_t *host;        /* the guest page in host memory (tables are RAM) */
    struct sp_parent *parents;
    uint32_t nparents, parents_cap;
    uint32_t root_refs; /* pinned while a root holds it */
    size_t bytes;
    struct shadow_page *hnext;
    struct shadow_page *lru_prev, *lru_next;
};

struct mmu_root {
    bool valid;
    bool pae;
    uint32_t cr3; /* masked: what selects the tables */
    uint64_t pdpte[4];
    struct shadow_page *top[4]; /* 32-bit: top[0] */
    uint64_t stamp;             /* LRU */
};

#define SP_HASH_BITS 12
#define TLB_LOG 128
#define WSLOTS 4
#define SP_FREE_MAX 32

/* Bookkeeping per soft TLB that keeps flushes and range invalidations
 * proportional to what the TLB holds. */
struct tlb_meta {
    uint32_t large_map[32]; /* 4 MiB GVA regions where a large page was cached */
    uint32_t used_map[32];  /* 4 MiB GVA regions where anything was cached */
    uint16_t log[TLB_LOG];  /* view << TLB_BITS | index of entries filled since the flush */
    unsigned nlog;          /* > TLB_LOG: overflowed, scan everything */
};

struct mmu_shadow {
    /* [MMU_NTLB] soft TLBs, each [2][TLB_ENTRIES]; allocated on first use. */
    struct tlb_entry (*tlbs[MMU_NTLB])[TLB_ENTRIES];
    struct tlb_meta meta[MMU_NTLB];
    /* Where write tags for a RAM page may be, so that write-protecting it
     * does not scan every TLB: up to WSLOTS exact (TLB, view, index) hints
     * per page, then a bit per TLB to scan. */
    uint32_t *wslots;
    uint32_t *wtags;
    unsigned cur_tlb; /* index of m->tlb in tlbs[] */

    struct mmu_root roots[MMU_ROOTS];
    int cur; /* current root slot; -1 while paging is off or in walk mode */
    uint64_t clock;

    struct shadow_page *hash[1u << SP_HASH_BITS];
    struct shadow_page lru; /* sentinel: lru.lru_next is the oldest */
    /* Zapped pages kept for reuse, by (level - 1) * 2 + pae, all entries 0. */
    struct shadow_page *free[4][SP_FREE_MAX];
    unsigned nfree[4];
    struct shadow_page **oos;
    unsigned noos, oos_cap;
    size_t bytes, cap;

    /* Heuristics (tunable by tests and benchmarks). */
    unsigned oos_after;     /* trapped writes without use before a PT goes OOS (0: never) */
    unsigned oos_max;       /* at most this many OOS pages at once */
    unsigned flood_limit;   /* trapped writes without use before a PD is unshadowed */
    unsigned resync_unused; /* entries changed while OOS and unused → unshadow */
};

/* tlb.c */
struct tlb_entry (*tlb_get(struct mmu *m, unsigned t))[TLB_ENTRIES];
void tlb_flush_one(struct mmu *m, unsigned t);
void tlb_flush_nonglobal(struct mmu *m, unsigned t);
void tlb_invalidate_range(struct mmu *m, unsigned t, uint32_t gva, uint32_t npages);
void tlb_shoot_write(struct mmu *m, uint32_t gpa_page);
void tlb_invlpg_one(struct mmu *m, unsigned t, uint32_t gva);
void tlb_select(struct mmu *m, unsigned t);
void mmu_phys_map_changed(struct mmu *m);

/* shadow.c */
int shadow_init(struct mmu *m);
void shadow_destroy(struct mmu *m);
void shadow_reset(struct mmu *m); /* zap every shadow page, forget every root */
void shadow_load_root(struct mmu *m);
void shadow_resync_all(struct mmu *m);
bool shadow_lookup(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct xlate *x);
bool shadow_install(struct mmu *m, uint32_t gva, const struct walk_result *wr);
void shadow_invlpg(struct mmu *m, uint32_t gva);
void shadow_note_write(struct mmu *m, uint32_t gpa, uint32_t len, enum wsrc src);

#endif
