/*
 * mmu_internal.h — what the MMU's own files share: the physical access
 * helpers, the guest page-table walker and the logging macro.
 */
#ifndef UMBRA_MMU_INTERNAL_H
#define UMBRA_MMU_INTERNAL_H

#include "mmu/mmu.h"

/* Same bits as LOG_GUEST_ERRORS / LOG_UNIMP in cpu/cpu.h (mmu/ cannot include cpu/). */
#define MMU_LOG_GUEST_ERRORS 0x04u
#define MMU_LOG_UNIMP 0x08u

#define MMU_LOG(m, cat, ...)                                                                 \
    do {                                                                                     \
        if (((m)->log_mask & (cat)) && (m)->log)                                             \
            (m)->log((m)->log_opaque, (cat), __VA_ARGS__);                                   \
    } while (0)

uint32_t mmu_phys_load(struct mmu *m, uint32_t gpa, unsigned size);
void mmu_phys_store(struct mmu *m, uint32_t gpa, uint32_t v, unsigned size);
void mmu_note_ram_write(struct mmu *m, uint32_t gpa, uint32_t len);

/* Page-fault error code bits (SDM vol. 3 §4.7). */
#define PF_P 0x01u
#define PF_W 0x02u
#define PF_U 0x04u
#define PF_I 0x10u

/* The result of one guest walk (walk.c). */
struct walk_result {
    uint32_t gpa;       /* translated address (A20 applied) */
    uint32_t page_gpa;  /* GPA of the 4 KiB page holding gpa */
    uint32_t pde, pte;  /* entries as read (pte == 0 for a large page) */
    bool large;
    bool user;          /* effective U/S along the path */
    bool writable;      /* effective R/W along the path */
    bool dirty;         /* D set in the leaf (after this walk's update) */
    uint32_t error;     /* #PF error code when the walk denies the access */
};

/* Walk the guest tables for gva. Returns true and fills r if the access is
 * allowed (setting accessed/dirty bits as hardware does); false with
 * r->error set otherwise. */
bool mmu_walk(struct mmu *m, uint32_t gva, enum mmu_access acc, bool user, struct walk_result *r);

#endif
