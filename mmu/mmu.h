/*
 * mmu.h — the guest-physical map, the guest page-table walker, shadow paging,
 * write tracking and the soft TLB.
 *
 * Three address spaces, named everywhere with these words: GVA (guest
 * virtual = linear, after segmentation), GPA (guest physical), HVA (host).
 * Every guest memory access of the CPU goes through the inline fast paths
 * below: one direct-mapped soft TLB entry per GVA page holds a tag per access
 * kind and the host addend, so a hit costs a compare and an add.  Anything
 * else — MMIO, ROM writes, write-tracked pages (decoded code, guest page
 * tables), page crossings, TLB misses — takes the slow path in tlb.c.
 *
 * Each address space the guest uses (a "root": CR3, plus the PDPTEs under
 * PAE) has its own soft TLB; `tlb` points at the current root's, so a CR3
 * switch back to a recent address space keeps its translations (the write
 * tracking of the guest's page tables proves them still valid).  Paging
 * (GVA→GPA) arrives through `struct paging_mode`; while CR0.PG is clear
 * GVA == GPA (masked by the A20 gate).
 */
#ifndef UMBRA_MMU_H
#define UMBRA_MMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096u
#define PAGE_MASK 0xfffff000u
/* 4096 entries per view cover 16 MiB: a Linux process's user pages and the
 * kernel's hot pages then rarely evict each other (1024 missed twice as
 * often on the bench kit's boot, ctxsw and forkexec). */
#define TLB_BITS 12
#define TLB_ENTRIES (1u << TLB_BITS)
/* An invalid tag: the low bits of a real tag (a page address) are zero. */
#define TLB_INVALID 0xffffffffu

/* Access kinds; MMU_USER marks an access checked with user privilege. */
enum mmu_access { MMU_READ = 0, MMU_WRITE = 1, MMU_FETCH = 2 };

/* How TLB misses are resolved (`-mmu shadow|walk`); switchable at any time
 * with mmu_set_strategy(). Both give the same guest-visible results. */
enum mmu_strategy {
    MMU_SHADOW = 0, /* shadow page tables + per-root TLBs kept across CR3 loads */
    MMU_WALK = 1,   /* every miss walks the guest tables; CR3 loads flush the TLB */
};

/* The paging-relevant control state the CPU hands the MMU on CR0/CR3/CR4
 * (and EFER) writes.  The CPU calls mmu_set_paging() only when one of these
 * changed, or on every MOV to CR3: a call that changes nothing is therefore
 * a CR3 reload (a TLB flush for the guest).  Under PAE the MMU loads the four
 * PDPTEs from CR3 itself on CR3 loads and PG/PAE/PSE/PGE changes, as the
 * processor does (SDM §4.4.1), unless pdpte_valid says the caller already
 * did (use mmu_load_pdptes() first to raise #GP on reserved bits). */
struct paging_mode {
    bool pg;
    bool wp;
    bool pse;
    bool pae;
    bool pge;
    bool nxe; /* EFER.NXE */
    uint32_t cr3;
    bool pdpte_valid;
    uint64_t pdpte[4];
};

/* MMIO callbacks: size is 1, 2 or 4; addr is the offset into the region. */
struct mmio_ops {
    uint32_t (*read)(void *opaque, uint32_t addr, unsigned size);
    void (*write)(void *opaque, uint32_t addr, uint32_t value, unsigned size);
};

/* PHYS_HOST: a device's own memory (VRAM) that the CPU reads and writes
 * directly through the TLB; not write-tracked (no code or page tables are
 * expected there), owned by the device, movable with mmu_region_move(). */
enum phys_kind { PHYS_UNMAPPED = 0, PHYS_RAM, PHYS_ROM, PHYS_MMIO, PHYS_HOST };

struct phys_region {
    uint32_t start;
    uint32_t size;
    enum phys_kind kind;
    uint8_t *host; /* RAM / ROM backing */
    const struct mmio_ops *ops;
    void *opaque;
    const char *name;
    /* A chipset window (mmu_map_window): host is borrowed, not owned, and
     * writes go to RAM at the same GPA only when write_ram is set (a RAM
     * read with writes dropped, or a ROM read with writes to RAM). */
    bool window;
    bool write_ram;
};

/* 32 bytes, so that indexing is a shift. */
struct tlb_entry {
    uint32_t tag_read;
    uint32_t tag_write;
    uint32_t tag_fetch;
    uint32_t gpa_page; /* GPA of the page (for write-tracking shootdowns) */
    uintptr_t addend;  /* HVA = GVA + addend */
    uint32_t flags;    /* TLBF_* */
    uint32_t pad;
};
#define TLBF_GLOBAL 0x1u /* from a G=1 leaf with CR4.PGE: survives CR3 loads (walk mode) */
#define TLBF_LARGE 0x2u  /* from a 2/4 MiB page */

struct mmu_stats {
    uint64_t tlb_hits_slow; /* misses served from the shadow tables without a guest walk */
    uint64_t tlb_misses;    /* accesses that left the inline fast path to translate */
    uint64_t tlb_flushes;   /* whole-TLB flushes (one per root TLB flushed) */
    uint64_t mmio_accesses;
    uint64_t tracked_writes; /* writes that hit a page holding decoded code */
    uint64_t walks;          /* guest page-table walks (fills, faults confirmed) */
    uint64_t cr3_loads;
    uint64_t root_hits; /* CR3 loads that found their root in the LRU */
    uint64_t root_misses;
    uint64_t shadow_built;      /* shadow pages created */
    uint64_t shadow_zapped;     /* shadow pages destroyed (any reason) */
    uint64_t shadow_unshadowed; /* guest pages given up as data (heuristics) */
    uint64_t shadow_reclaimed;  /* shadow pages dropped by the memory cap */
    uint64_t shadow_fills;      /* shadow entries filled from a guest walk */
    uint64_t wp_traps;          /* writes to write-protected guest page-table pages */
    uint64_t oos_pages;         /* pages that went out of sync */
    uint64_t oos_resyncs;       /* out-of-sync pages resynced */
    uint64_t invlpgs;
    uint64_t pf_delivered; /* #PF raised to the guest */
    uint64_t shadow_pages; /* current number of shadow pages (a gauge) */
    uint64_t shadow_bytes; /* current shadow memory (a gauge) */
};

/* Track flags per RAM page (mmu->page_track). */
#define TRACK_CODE 0x01u   /* decoded code lives here (the CPU's block cache) */
#define TRACK_SHADOW 0x02u /* a guest page table with in-sync shadow pages */

#define MMU_MAX_REGIONS 64 /* the PAM windows alone take 13 */

struct mmu_shadow; /* mmu_internal.h: roots, shadow pages, per-root TLBs */

struct mmu {
    /* The current soft TLB first, so the fast path's offsets are small: it
     * points at the current root's [2][TLB_ENTRIES] array ([0] supervisor,
     * [1] user view); `user` selects the view of the current CPL.  A CR3
     * switch repoints it instead of copying or flushing. */
    struct tlb_entry (*tlb)[TLB_ENTRIES];
    /* tlb[user]: the view every CPL-checked access uses, kept in step by
     * mmu_set_user() and root switches so a hit costs no index arithmetic. */
    struct tlb_entry *view;
    unsigned user;

    uint8_t *ram;
    uint32_t ram_size;
    uint32_t a20_mask;
    struct phys_region regions[MMU_MAX_REGIONS];
    int nregions;
    uint8_t *page_track; /* one byte per RAM page */
    struct paging_mode paging;
    enum mmu_strategy strategy; /* change with mmu_set_strategy() */
    struct mmu_shadow *sh;

    /* Raised for a guest-visible page fault; never returns (longjmps into
     * the CPU's run loop). */
    void (*page_fault)(void *opaque, uint32_t gva, uint32_t error_code);
    void *fault_opaque;
    /* Called after a write hit a page with TRACK_CODE, with the GPA range
     * written; the CPU drops decoded blocks there. */
    void (*code_write)(void *opaque, uint32_t gpa, unsigned len);
    void *code_opaque;

    unsigned log_mask;
    void (*log)(void *opaque, unsigned category, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *log_opaque;

    struct mmu_stats stats;
};

int mmu_init(struct mmu *m, uint32_t ram_size);
void mmu_destroy(struct mmu *m);

/* --- guest-physical map (phys.c) --- */
/* Map a ROM image (copied) at gpa; later mappings win over RAM. */
int mmu_map_rom(struct mmu *m, uint32_t gpa, const void *data, uint32_t size, const char *name);
int mmu_map_mmio(struct mmu *m, uint32_t gpa, uint32_t size, const struct mmio_ops *ops,
                 void *opaque, const char *name);
const struct phys_region *mmu_find_region(struct mmu *m, uint32_t gpa);
/* A window over RAM whose reads and writes a chipset steers separately (the
 * i440FX's PAM shadow RAM).  It starts as plain RAM; returns a handle >= 0,
 * or a negative errno.  RAM must cover [gpa, gpa + size). */
int mmu_map_window(struct mmu *m, uint32_t gpa, uint32_t size, const char *name);
/* Reads come from RAM (read_ram), else from rom (size bytes, kept by the
 * caller; NULL = nothing answers: all-ones); writes go to RAM or are
 * dropped.  Flushes translations and drops decoded code there on a change. */
void mmu_route_window(struct mmu *m, int handle, bool read_ram, const uint8_t *rom,
                      bool write_ram);
/* Map size bytes of device-owned host memory at gpa (a PCI memory BAR such
 * as a linear framebuffer): guest loads and stores hit it through the TLB
 * with no callback.  Returns a handle (>= 0) for mmu_region_move, or a
 * negative errno.  The memory must outlive the mapping. */
int mmu_map_host(struct mmu *m, uint32_t gpa, uint32_t size, uint8_t *host, const char *name);
/* The handle of the region the last mmu_map_* call added. */
int mmu_region_last(struct mmu *m);
/* Move a region to gpa and resize it (size 0: decode nothing, e.g. a BAR
 * whose decoding the guest turned off).  Flushes what the old place cached. */
void mmu_region_move(struct mmu *m, int handle, uint32_t gpa, uint32_t size);
void mmu_set_a20(struct mmu *m, bool enabled);
/* Emulator/DMA access to guest-physical memory. Writes pass the write
 * tracking; MMIO is reached; unmapped reads give all-ones. */
void mmu_phys_read(struct mmu *m, uint32_t gpa, void *buf, uint32_t len);
void mmu_phys_write(struct mmu *m, uint32_t gpa, const void *buf, uint32_t len);
uint32_t mmu_phys_read32(struct mmu *m, uint32_t gpa);
void mmu_phys_write32(struct mmu *m, uint32_t gpa, uint32_t v);

/* --- write tracking (track.c) --- */
void mmu_track_code(struct mmu *m, uint32_t gpa);   /* whole page */
void mmu_untrack_code(struct mmu *m, uint32_t gpa); /* whole page */

/* --- translation and the soft TLB (tlb.c) --- */
/* CR0/CR3/CR4/EFER writes (see struct paging_mode for when to call). */
void mmu_set_paging(struct mmu *m, const struct paging_mode *mode);
/* Read the four PAE PDPTEs at cr3; false if one that is present has reserved
 * bits set (the MOV to CR3/CR0/CR4 must then raise #GP(0), SDM §4.4.1). */
bool mmu_load_pdptes(struct mmu *m, uint32_t cr3, uint64_t pdpte[4]);
void mmu_set_strategy(struct mmu *m, enum mmu_strategy s);
/* Cap on shadow-page memory (bytes); the oldest unpinned pages go first. */
void mmu_set_shadow_cap(struct mmu *m, size_t bytes);
static inline void mmu_set_user(struct mmu *m, bool user)
{
    m->user = user;
    m->view = m->tlb ? m->tlb[user] : NULL;
}
void mmu_flush_tlb(struct mmu *m); /* every root's TLB */
void mmu_invlpg(struct mmu *m, uint32_t gva);
/* Translate a GVA for the given access (faults through page_fault if the
 * guest tables forbid it). */
uint32_t mmu_translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user);
uint32_t mmu_read_slow(struct mmu *m, uint32_t gva, unsigned size, enum mmu_access acc, bool user);
void mmu_write_slow(struct mmu *m, uint32_t gva, uint32_t value, unsigned size, bool user);

/* --- the guest page-table walker (walk.c) --- */
/* Page-fault error code bits (SDM vol. 3 §4.7). */
#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_RSVD 0x08u
#define PF_I 0x10u

/* One paging-structure entry the walk read. */
struct walk_level {
    uint64_t entry; /* as read, then with this walk's A/D update */
    uint64_t addr;  /* GPA of the entry (a PDPTE: where it was loaded from) */
    unsigned level; /* 3 PDPTE, 2 PDE, 1 PTE */
};

struct walk_result {
    uint32_t gpa;      /* translated address (A20 applied; low 32 bits) */
    uint32_t page_gpa; /* GPA of the 4 KiB page holding gpa */
    bool above_4g;     /* the frame lies beyond 4 GiB (PSE-36/PAE): unmapped */
    uint64_t pde, pte; /* the PDE and PTE as read (pte == 0 for a large page) */
    struct walk_level lv[3];
    unsigned nlv;       /* levels read, including the one that faulted */
    uint32_t page_size; /* 4 KiB, 2 MiB or 4 MiB */
    bool large;
    bool user;      /* effective U/S along the path */
    bool writable;  /* effective R/W along the path */
    bool nx;        /* effective XD along the path (PAE with EFER.NXE) */
    bool dirty;     /* D set in the leaf (after this walk's update) */
    bool global;    /* G set in the leaf */
    uint32_t error; /* #PF error code when the walk denies the access */
};

/* Flags for mmu_walk_mode. */
#define MMU_WALK_PEEK 0x1u /* set no accessed/dirty bit (the debugger, audits) */

/* Walk the guest tables for gva under the current mode. Returns true and
 * fills r if the access is allowed (setting accessed/dirty bits as hardware
 * does); false with r->error set otherwise.  Raises nothing. */
bool mmu_walk(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct walk_result *r);
/* The same under an explicit paging mode (another root, the debugger). */
bool mmu_walk_mode(struct mmu *m, const struct paging_mode *pm, uint32_t gva, enum mmu_access acc,
                   bool user, unsigned flags, struct walk_result *r);

/* --- inspection for the monitor and tests (shadow.c) --- */
struct mmu_xlate_info {
    struct walk_result walk; /* peek walk (no A/D), supervisor read */
    bool walk_ok;
    bool shadowed;           /* the leaf's guest table page has a shadow page */
    bool table_wp;           /* ... and it is write-protected (in sync) */
    bool table_oos;          /* ... or out of sync */
    uint64_t spte[2];        /* shadow entries on the path: [1] PDE, [0] PTE (0: none) */
    struct tlb_entry tlb[2]; /* current root's TLB entry, [0] supervisor, [1] user */
    bool tlb_valid[2];
};
void mmu_xlate_info(struct mmu *m, uint32_t gva, struct mmu_xlate_info *out);
/* Check every cached translation (every root's TLB, every filled shadow
 * entry) against a fresh walk; 0 if coherent, else -1 with a description.
 * Entries derived from out-of-sync pages are skipped unless strict. */
int mmu_audit(struct mmu *m, bool strict, char *why, size_t whylen);

static inline struct tlb_entry *mmu_tlb_entry(struct mmu *m, unsigned user, uint32_t gva)
{
    return &m->tlb[user][(gva >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
}

/* The current view's entry for gva.  The fast paths compare the tag with
 * the address masked to the page and to the access's alignment, so a
 * misaligned access (which might cross the page) takes the slow path with a
 * single compare for both conditions. */
static inline struct tlb_entry *mmu_view_entry(struct mmu *m, uint32_t gva)
{
    return &m->view[(gva >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
}

static inline bool mmu_fits_page(uint32_t gva, unsigned size)
{
    return (gva & ~PAGE_MASK) <= PAGE_SIZE - size;
}

#define MMU_DEFINE_ACCESS(bits, type)                                                        \
    static inline type mmu_read##bits(struct mmu *m, uint32_t gva)                          \
    {                                                                                        \
        struct tlb_entry *e = mmu_view_entry(m, gva);                                       \
        if (__builtin_expect(e->tag_read == (gva & (PAGE_MASK | (sizeof(type) - 1))), 1)) {  \
            type v;                                                                          \
            memcpy(&v, (const void *)(uintptr_t)(gva + e->addend), sizeof v);               \
            return v;                                                                        \
        }                                                                                    \
        return (type)mmu_read_slow(m, gva, sizeof(type), MMU_READ, m->user);                 \
    }                                                                                        \
    static inline void mmu_write##bits(struct mmu *m, uint32_t gva, type v)                 \
    {                                                                                        \
        struct tlb_entry *e = mmu_view_entry(m, gva);                                       \
        if (__builtin_expect(e->tag_write == (gva & (PAGE_MASK | (sizeof(type) - 1))), 1)) { \
            memcpy((void *)(uintptr_t)(gva + e->addend), &v, sizeof v);                     \
            return;                                                                          \
        }                                                                                    \
        mmu_write_slow(m, gva, v, sizeof(type), m->user);                                    \
    }                                                                                        \
    /* Implicit supervisor accesses (descriptor tables, TSS) ignore CPL. */                  \
    static inline type mmu_sys_read##bits(struct mmu *m, uint32_t gva)                      \
    {                                                                                        \
        struct tlb_entry *e = mmu_tlb_entry(m, 0, gva);                                     \
        if (__builtin_expect(e->tag_read == (gva & PAGE_MASK) &&                             \
                                 mmu_fits_page(gva, sizeof(type)), 1)) {                     \
            type v;                                                                          \
            memcpy(&v, (const void *)(uintptr_t)(gva + e->addend), sizeof v);               \
            return v;                                                                        \
        }                                                                                    \
        return (type)mmu_read_slow(m, gva, sizeof(type), MMU_READ, false);                   \
    }                                                                                        \
    static inline void mmu_sys_write##bits(struct mmu *m, uint32_t gva, type v)             \
    {                                                                                        \
        struct tlb_entry *e = mmu_tlb_entry(m, 0, gva);                                     \
        if (__builtin_expect(e->tag_write == (gva & PAGE_MASK) &&                            \
                                 mmu_fits_page(gva, sizeof(type)), 1)) {                     \
            memcpy((void *)(uintptr_t)(gva + e->addend), &v, sizeof v);                     \
            return;                                                                          \
        }                                                                                    \
        mmu_write_slow(m, gva, v, sizeof(type), false);                                      \
    }

MMU_DEFINE_ACCESS(8, uint8_t)
MMU_DEFINE_ACCESS(16, uint16_t)
MMU_DEFINE_ACCESS(32, uint32_t)

/* Instruction fetch of one byte (the decoder's path). */
static inline uint8_t mmu_fetch8(struct mmu *m, uint32_t gva)
{
    struct tlb_entry *e = mmu_view_entry(m, gva);
    if (__builtin_expect(e->tag_fetch == (gva & PAGE_MASK), 1))
        return *(const uint8_t *)(uintptr_t)(gva + e->addend);
    return (uint8_t)mmu_read_slow(m, gva, 1, MMU_FETCH, m->user);
}

/* Check that a write to [gva, gva+len) would succeed (for instructions that
 * must fault before changing any state, e.g. a far call's pushes). Faults
 * through page_fault if not. */
void mmu_probe_write(struct mmu *m, uint32_t gva, unsigned len, bool user);

#endif
