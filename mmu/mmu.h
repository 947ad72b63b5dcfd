/*
 * mmu.h — the guest-physical map, write tracking and the soft TLB.
 *
 * Three address spaces, named everywhere with these words: GVA (guest
 * virtual = linear, after segmentation), GPA (guest physical), HVA (host).
 * Every guest memory access of the CPU goes through the inline fast paths
 * below: one direct-mapped soft TLB entry per GVA page holds a tag per access
 * kind and the host addend, so a hit costs a compare and an add.  Anything
 * else — MMIO, ROM writes, pages holding decoded code (write-tracked), page
 * crossings, TLB misses — takes the slow path in tlb.c.
 *
 * Paging (GVA→GPA) arrives through `struct paging_mode`; while CR0.PG is
 * clear GVA == GPA (masked by the A20 gate).
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
#define TLB_BITS 10
#define TLB_ENTRIES (1u << TLB_BITS)
/* An invalid tag: the low bits of a real tag (a page address) are zero. */
#define TLB_INVALID 0xffffffffu

/* Access kinds; MMU_USER marks an access checked with user privilege. */
enum mmu_access { MMU_READ = 0, MMU_WRITE = 1, MMU_FETCH = 2 };

/* The paging-relevant control state the CPU hands the MMU on CR writes. */
struct paging_mode {
    bool pg;
    bool wp;
    bool pse;
    bool pae;
    bool pge;
    bool nxe;
    uint32_t cr3;
};

/* MMIO callbacks: size is 1, 2 or 4; addr is the offset into the region. */
struct mmio_ops {
    uint32_t (*read)(void *opaque, uint32_t addr, unsigned size);
    void (*write)(void *opaque, uint32_t addr, uint32_t value, unsigned size);
};

enum phys_kind { PHYS_UNMAPPED = 0, PHYS_RAM, PHYS_ROM, PHYS_MMIO };

struct phys_region {
    uint32_t start;
    uint32_t size;
    enum phys_kind kind;
    uint8_t *host;          /* RAM / ROM backing */
    const struct mmio_ops *ops;
    void *opaque;
    const char *name;
};

struct tlb_entry {
    uint32_t tag_read;
    uint32_t tag_write;
    uint32_t tag_fetch;
    uint32_t gpa_page; /* GPA of the page (for write-tracking shootdowns) */
    uintptr_t addend;  /* HVA = GVA + addend */
};

struct mmu_stats {
    uint64_t tlb_hits_slow; /* slow-path accesses that were plain misses then refilled */
    uint64_t tlb_misses;
    uint64_t tlb_flushes;
    uint64_t mmio_accesses;
    uint64_t tracked_writes;
};

/* Track flags per RAM page (mmu->page_track). */
#define TRACK_CODE 0x01u

#define MMU_MAX_REGIONS 32

struct mmu {
    /* Soft TLB first so the fast path's offsets are small. [0] supervisor,
     * [1] user view; `user` selects the view of the current CPL. */
    struct tlb_entry tlb[2][TLB_ENTRIES];
    unsigned user;

    uint8_t *ram;
    uint32_t ram_size;
    uint32_t a20_mask;
    struct phys_region regions[MMU_MAX_REGIONS];
    int nregions;
    uint8_t *page_track; /* one byte per RAM page */
    struct paging_mode paging;
    bool tlb_has_large; /* a 4 MiB page is cached: INVLPG flushes all */

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
void mmu_set_paging(struct mmu *m, const struct paging_mode *mode);
static inline void mmu_set_user(struct mmu *m, bool user) { m->user = user; }
void mmu_flush_tlb(struct mmu *m);
void mmu_invlpg(struct mmu *m, uint32_t gva);
/* Translate a GVA for the given access (faults through page_fault if the
 * guest tables forbid it). */
uint32_t mmu_translate(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user);
uint32_t mmu_read_slow(struct mmu *m, uint32_t gva, unsigned size, enum mmu_access acc,
                       bool user);
void mmu_write_slow(struct mmu *m, uint32_t gva, uint32_t value, unsigned size, bool user);

static inline struct tlb_entry *mmu_tlb_entry(struct mmu *m, unsigned user, uint32_t gva)
{
    return &m->tlb[user][(gva >> PAGE_SHIFT) & (TLB_ENTRIES - 1)];
}

static inline bool mmu_fits_page(uint32_t gva, unsigned size)
{
    return (gva & ~PAGE_MASK) <= PAGE_SIZE - size;
}

#define MMU_DEFINE_ACCESS(bits, type)                                                        \
    static inline type mmu_read##bits(struct mmu *m, uint32_t gva)                          \
    {                                                                                        \
        struct tlb_entry *e = mmu_tlb_entry(m, m->user, gva);                               \
        if (__builtin_expect(e->tag_read == (gva & PAGE_MASK) &&                             \
                                 mmu_fits_page(gva, sizeof(type)), 1)) {                     \
            type v;                                                                          \
            memcpy(&v, (const void *)(uintptr_t)(gva + e->addend), sizeof v);               \
            return v;                                                                        \
        }                                                                                    \
        return (type)mmu_read_slow(m, gva, sizeof(type), MMU_READ, m->user);                 \
    }                                                                                        \
    static inline void mmu_write##bits(struct mmu *m, uint32_t gva, type v)                 \
    {                                                                                        \
        struct tlb_entry *e = mmu_tlb_entry(m, m->user, gva);                               \
        if (__builtin_expect(e->tag_write == (gva & PAGE_MASK) &&                            \
                                 mmu_fits_page(gva, sizeof(type)), 1)) {                     \
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
    struct tlb_entry *e = mmu_tlb_entry(m, m->user, gva);
    if (__builtin_expect(e->tag_fetch == (gva & PAGE_MASK), 1))
        return *(const uint8_t *)(uintptr_t)(gva + e->addend);
    return (uint8_t)mmu_read_slow(m, gva, 1, MMU_FETCH, m->user);
}

/* Check that a write to [gva, gva+len) would succeed (for instructions that
 * must fault before changing any state, e.g. a far call's pushes). Faults
 * through page_fault if not. */
void mmu_probe_write(struct mmu *m, uint32_t gva, unsigned len, bool user);

#endif
