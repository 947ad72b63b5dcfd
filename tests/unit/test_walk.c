/*
 * test_walk.c — the guest page-table walker (mmu/walk.c) on hand-built
 * tables: 32-bit 4 KiB, PSE 4 MiB (PSE-36), PAE 4 KiB / 2 MiB with XD.  For
 * every combination of U/S and R/W at each level, A/D as found, access kind,
 * privilege, CR0.WP and EFER.NXE, an independent oracle (the SDM §4.6 rules
 * written out plainly) gives fault or no fault and the error code; the test
 * then checks the A/D bits the walk left behind.  Reserved bits are tried
 * one at a time at every level.  The same cases also run through the public
 * accessors under both strategies, so the faults the CPU sees are the
 * walker's.
 */
#include <check.h>
#include <setjmp.h>
#include <stdlib.h>

#include "mmu/mmu.h"

#define RAM (8u << 20)

/* Layout: the top table (PD, or PDPT under PAE) at 0x10000, the PAE PD at
 * 0x11000, the PT at 0x12000, the data page at 0x200000. */
#define TOP 0x10000u
#define PAE_PD 0x11000u
#define PT 0x12000u
#define DATA 0x200000u
/* 32-bit: PDE 1, PTE 5.  PAE: PDPTE 1, PDE 3, PTE 5. */
#define GVA32 (0x00400000u + (5u << 12) + 0x123)
#define GVAPAE (0x40000000u + (3u << 21) + (5u << 12) + 0x123)

enum { P = 1, W = 2, U = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100 };
#define XD (1ull << 63)

static struct mmu *new_mmu(void)
{
    struct mmu *m = malloc(sizeof *m);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mmu_init(m, RAM), 0);
    return m;
}

static void free_mmu(struct mmu *m)
{
    mmu_destroy(m);
    free(m);
}

static void put64(struct mmu *m, uint32_t gpa, uint64_t v)
{
    mmu_phys_write(m, gpa, &v, 8);
}

static uint64_t get64(struct mmu *m, uint32_t gpa)
{
    uint64_t v;
    mmu_phys_read(m, gpa, &v, 8);
    return v;
}

/* The SDM's rules, independently: ~0u = allowed, else the error code. */
static uint32_t oracle(bool pae, bool nxe, bool wp, enum mmu_access acc, bool user, bool u, bool w,
                       bool nx)
{
    uint32_t err = PF_P | (acc == MMU_WRITE ? PF_W : 0) | (user ? PF_U : 0) |
                   (acc == MMU_FETCH && pae && nxe ? PF_I : 0);
    if (user && !u)
        return err;
    if (acc == MMU_WRITE && !w && (user || wp))
        return err;
    if (acc == MMU_FETCH && pae && nxe && nx)
        return err;
    return ~0u;
}

static const char *acc_name[] = {"read", "write", "fetch"};

/* ---- 32-bit, 4 KiB pages: every combination ---- */

START_TEST(walk32_4k_every_combination)
{
    struct mmu *m = new_mmu();
    int cases = 0;
    for (unsigned bits = 0; bits < 128; bits++) {
        bool pde_u = bits & 1, pde_w = bits & 2, pte_u = bits & 4, pte_w = bits & 8;
        bool pte_a = bits & 16, pte_d = bits & 32, wp = bits & 64;
        for (int acc = 0; acc < 3; acc++)
            for (int user = 0; user < 2; user++) {
                uint32_t pde = PT | P | (pde_u ? U : 0) | (pde_w ? W : 0);
                uint32_t pte = DATA | P | (pte_u ? U : 0) | (pte_w ? W : 0) | (pte_a ? A : 0) |
                               (pte_d ? D : 0);
                mmu_phys_write32(m, TOP + 4, pde);
                mmu_phys_write32(m, PT + 5 * 4, pte);
                struct paging_mode pm = {.pg = true, .wp = wp, .cr3 = TOP};
                mmu_set_paging(m, &pm);
                struct walk_result r;
                bool ok = mmu_walk(m, GVA32, acc, user, &r);
                uint32_t want =
                    oracle(false, false, wp, acc, user, pde_u && pte_u, pde_w && pte_w, false);
                ck_assert_msg(ok == (want == ~0u), "bits %x %s user %d: ok %d", bits, acc_name[acc],
                              user, ok);
                uint32_t npde = mmu_phys_read32(m, TOP + 4), npte = mmu_phys_read32(m, PT + 20);
                /* A directory entry the walk went through is accessed. */
                ck_assert_uint_eq(npde, pde | A);
                ck_assert_uint_eq(r.nlv, 2);
                ck_assert_uint_eq(r.lv[0].addr, TOP + 4);
                ck_assert_uint_eq(r.lv[1].addr, PT + 20);
                if (ok) {
                    ck_assert_uint_eq(r.gpa, DATA + 0x123);
                    ck_assert_uint_eq(r.page_size, PAGE_SIZE);
                    uint32_t set = A | (acc == MMU_WRITE ? D : 0);
                    ck_assert_uint_eq(npte, pte | set);
                    ck_assert_uint_eq(r.lv[1].entry, pte | set);
                    ck_assert_int_eq(r.dirty, (npte & D) != 0);
                    ck_assert_int_eq(r.user, pde_u && pte_u);
                    ck_assert_int_eq(r.writable, pde_w && pte_w);
                } else {
                    ck_assert_uint_eq(r.error, want);
                    ck_assert_uint_eq(npte, pte); /* a denied access sets nothing */
                }
                cases++;
            }
    }
    ck_assert_int_eq(cases, 128 * 6);
    free_mmu(m);
}
END_TEST

START_TEST(walk32_not_present)
{
    struct mmu *m = new_mmu();
    struct paging_mode pm = {.pg = true, .cr3 = TOP};
    mmu_set_paging(m, &pm);
    struct walk_result r;
    for (int acc = 0; acc < 3; acc++)
        for (int user = 0; user < 2; user++) {
            uint32_t err = (acc == MMU_WRITE ? PF_W : 0) | (user ? PF_U : 0);
            mmu_phys_write32(m, TOP + 4, 0x12340000 | W | U); /* P clear: the rest ignored */
            ck_assert(!mmu_walk(m, GVA32, acc, user, &r));
            ck_assert_uint_eq(r.error, err);
            ck_assert_uint_eq(r.nlv, 1);
            ck_assert_uint_eq(mmu_phys_read32(m, TOP + 4), 0x12340000 | W | U);
            mmu_phys_write32(m, TOP + 4, PT | P | W | U);
            mmu_phys_write32(m, PT + 20, DATA | W | U | 0xe00);
            ck_assert(!mmu_walk(m, GVA32, acc, user, &r));
            ck_assert_uint_eq(r.error, err);
            ck_assert_uint_eq(r.nlv, 2);
            /* The PDE was used to find the PT: accessed, as on hardware. */
            ck_assert_uint_eq(mmu_phys_read32(m, TOP + 4), PT | P | W | U | A);
            ck_assert_uint_eq(mmu_phys_read32(m, PT + 20), DATA | W | U | 0xe00);
        }
    free_mmu(m);
}
END_TEST

/* ---- 32-bit with PSE: 4 MiB pages, PSE-36, reserved bits ---- */

START_TEST(walk32_pse_large_every_combination)
{
    struct mmu *m = new_mmu();
    for (unsigned bits = 0; bits < 32; bits++) {
        bool u = bits & 1, w = bits & 2, a = bits & 4, d = bits & 8, wp = bits & 16;
        for (int acc = 0; acc < 3; acc++)
            for (int user = 0; user < 2; user++) {
                uint32_t pde =
                    0x00400000u | P | PS | (u ? U : 0) | (w ? W : 0) | (a ? A : 0) | (d ? D : 0);
                mmu_phys_write32(m, TOP + 4 * 3, pde);
                struct paging_mode pm = {.pg = true, .pse = true, .wp = wp, .cr3 = TOP};
                mmu_set_paging(m, &pm);
                struct walk_result r;
                uint32_t gva = 0x00c00000u + 0x2a5678;
                bool ok = mmu_walk(m, gva, acc, user, &r);
                uint32_t want = oracle(false, false, wp, acc, user, u, w, false);
                ck_assert_int_eq(ok, want == ~0u);
                uint32_t now = mmu_phys_read32(m, TOP + 12);
                if (ok) {
                    ck_assert(r.large);
                    ck_assert_uint_eq(r.page_size, 4u << 20);
                    ck_assert_uint_eq(r.gpa, 0x00400000u + 0x2a5678);
                    ck_assert_uint_eq(r.nlv, 1);
                    ck_assert_uint_eq(now, pde | A | (acc == MMU_WRITE ? D : 0));
                } else {
                    ck_assert_uint_eq(r.error, want);
                    ck_assert_uint_eq(now, pde);
                }
            }
    }
    free_mmu(m);
}
END_TEST

START_TEST(walk32_pse36_and_reserved)
{
    struct mmu *m = new_mmu();
    struct paging_mode pm = {.pg = true, .pse = true, .cr3 = TOP};
    mmu_set_paging(m, &pm);
    struct walk_result r;
    /* PDE bits 16:13 are PA bits 35:32: a page above 4 GiB. */
    mmu_phys_write32(m, TOP + 4, 0x00400000u | (0x3u << 13) | P | PS | W);
    ck_assert(mmu_walk(m, 0x00412345, MMU_READ, false, &r));
    ck_assert(r.above_4g);
    ck_assert_uint_eq(r.gpa, 0x00412345);
    /* Bits 21:17 are reserved (36-bit physical addresses). */
    for (unsigned b = 17; b <= 21; b++) {
        mmu_phys_write32(m, TOP + 4, 0x00400000u | (1u << b) | P | PS | W);
        ck_assert(!mmu_walk(m, 0x00412345, MMU_WRITE, true, &r));
        ck_assert_uint_eq(r.error, PF_P | PF_W | PF_U | PF_RSVD);
        ck_assert_uint_eq(mmu_phys_read32(m, TOP + 4) & A, 0);
    }
    /* Without CR4.PSE the PS bit is ignored: the PDE points at a PT. */
    mmu_phys_write32(m, TOP + 4, PT | P | PS | W | U);
    mmu_phys_write32(m, PT, DATA | P | W | U);
    pm.pse = false;
    mmu_set_paging(m, &pm);
    ck_assert(mmu_walk(m, 0x00400010, MMU_READ, true, &r));
    ck_assert(!r.large);
    ck_assert_uint_eq(r.gpa, DATA + 0x10);
    /* A 4 KiB PDE / PTE have no reserved bits in 32-bit paging. */
    mmu_phys_write32(m, PT, DATA | P | W | U | 0x80 /* PAT */ | 0xe00);
    ck_assert(mmu_walk(m, 0x00400010, MMU_READ, true, &r));
    free_mmu(m);
}
END_TEST

START_TEST(walk32_global_and_peek)
{
    struct mmu *m = new_mmu();
    struct paging_mode pm = {.pg = true, .pge = true, .cr3 = TOP};
    mmu_set_paging(m, &pm);
    mmu_phys_write32(m, TOP + 4, PT | P | W);
    mmu_phys_write32(m, PT + 20, DATA | P | W | G);
    struct walk_result r;
    ck_assert(mmu_walk_mode(m, &m->paging, GVA32, MMU_WRITE, false, MMU_WALK_PEEK, &r));
    ck_assert(r.global);
    ck_assert(!r.dirty);
    /* A peek sets nothing. */
    ck_assert_uint_eq(mmu_phys_read32(m, TOP + 4), PT | P | W);
    ck_assert_uint_eq(mmu_phys_read32(m, PT + 20), DATA | P | W | G);
    free_mmu(m);
}
END_TEST

START_TEST(walk_a20_masks_table_addresses)
{
    struct mmu *m = new_mmu();
    /* CR3 at 1 MiB + 0x10000 wraps to 0x10000 with A20 off. */
    mmu_phys_write32(m, TOP + 4, PT | P | W);
    mmu_phys_write32(m, PT + 20, DATA | P | W);
    mmu_set_a20(m, false);
    struct paging_mode pm = {.pg = true, .cr3 = 0x100000u + TOP};
    mmu_set_paging(m, &pm);
    struct walk_result r;
    ck_assert(mmu_walk(m, GVA32, MMU_READ, false, &r));
    ck_assert_uint_eq(r.gpa, (DATA + 0x123) & ~(1u << 20));
    free_mmu(m);
}
END_TEST

/* ---- PAE ---- */

static void pae_setup(struct mmu *m, uint64_t pdpte, uint64_t pde, uint64_t pte, bool wp, bool nxe)
{
    put64(m, TOP + 8, pdpte);
    put64(m, PAE_PD + 3 * 8, pde);
    put64(m, PT + 5 * 8, pte);
    struct paging_mode pm = {.pg = true, .pae = true, .wp = wp, .nxe = nxe, .cr3 = TOP};
    mmu_set_paging(m, &pm);
}

START_TEST(walk_pae_4k_every_combination)
{
    struct mmu *m = new_mmu();
    for (unsigned bits = 0; bits < 512; bits++) {
        bool pde_u = bits & 1, pde_w = bits & 2, pde_nx = bits & 4, pte_u = bits & 8;
        bool pte_w = bits & 16, pte_nx = bits & 32, pte_d = bits & 64, wp = bits & 128;
        bool nxe = bits & 256;
        for (int acc = 0; acc < 3; acc++)
            for (int user = 0; user < 2; user++) {
                uint64_t pde = PT | P | (pde_u ? U : 0) | (pde_w ? W : 0) | (pde_nx ? XD : 0);
                uint64_t pte = DATA | P | (pte_u ? U : 0) | (pte_w ? W : 0) | (pte_nx ? XD : 0) |
                               (pte_d ? D | A : 0);
                pae_setup(m, PAE_PD | P, pde, pte, wp, nxe);
                struct walk_result r;
                bool ok = mmu_walk(m, GVAPAE, acc, user, &r);
                uint32_t err = (acc == MMU_WRITE ? PF_W : 0) | (user ? PF_U : 0) |
                               (acc == MMU_FETCH && nxe ? PF_I : 0);
                uint32_t want;
                if (!nxe && pde_nx) /* XD is a reserved bit without NXE */
                    want = err | PF_P | PF_RSVD;
                else if (!nxe && pte_nx)
                    want = err | PF_P | PF_RSVD;
                else
                    want = oracle(true, nxe, wp, acc, user, pde_u && pte_u, pde_w && pte_w,
                                  pde_nx || pte_nx);
                ck_assert_msg(ok == (want == ~0u), "bits %x %s user %d", bits, acc_name[acc], user);
                uint64_t npde = get64(m, PAE_PD + 24), npte = get64(m, PT + 40);
                ck_assert_uint_eq(r.lv[0].level, 3);
                ck_assert_uint_eq(r.lv[0].addr, TOP + 8);
                if (!nxe && pde_nx) {
                    ck_assert_uint_eq(r.error, want);
                    ck_assert_uint_eq(npde, pde); /* a reserved-bit fault sets nothing */
                    continue;
                }
                ck_assert_uint_eq(npde, pde | A);
                if (ok) {
                    ck_assert_uint_eq(r.gpa, DATA + 0x123);
                    ck_assert_uint_eq(npte, pte | A | (acc == MMU_WRITE ? D : 0));
                    ck_assert_int_eq(r.nx, nxe && (pde_nx || pte_nx));
                    ck_assert_uint_eq(r.nlv, 3);
                } else {
                    ck_assert_uint_eq(r.error, want);
                    ck_assert_uint_eq(npte, pte);
                }
            }
    }
    free_mmu(m);
}
END_TEST

START_TEST(walk_pae_2m_every_combination)
{
    struct mmu *m = new_mmu();
    for (unsigned bits = 0; bits < 32; bits++) {
        bool u = bits & 1, w = bits & 2, nx = bits & 4, wp = bits & 8, nxe = bits & 16;
        for (int acc = 0; acc < 3; acc++)
            for (int user = 0; user < 2; user++) {
                uint64_t pde =
                    0x00600000u | P | PS | (u ? U : 0) | (w ? W : 0) | (nx && nxe ? XD : 0);
                pae_setup(m, PAE_PD | P, pde, 0, wp, nxe);
                struct walk_result r;
                bool ok = mmu_walk(m, GVAPAE, acc, user, &r);
                uint32_t want = oracle(true, nxe, wp, acc, user, u, w, nx && nxe);
                ck_assert_int_eq(ok, want == ~0u);
                if (ok) {
                    ck_assert(r.large);
                    ck_assert_uint_eq(r.page_size, 2u << 20);
                    ck_assert_uint_eq(r.gpa, 0x00600000u + (5u << 12) + 0x123);
                    ck_assert_uint_eq(get64(m, PAE_PD + 24), pde | A | (acc == MMU_WRITE ? D : 0));
                } else {
                    ck_assert_uint_eq(r.error, want);
                    ck_assert_uint_eq(get64(m, PAE_PD + 24), pde);
                }
            }
    }
    free_mmu(m);
}
END_TEST

START_TEST(walk_pae_reserved_bits_every_level)
{
    struct mmu *m = new_mmu();
    struct walk_result r;
    /* PTE and 4 KiB PDE: bits 62:36 (bit 63 without NXE). */
    for (unsigned b = 36; b <= 63; b++) {
        for (int lvl = 1; lvl <= 2; lvl++) {
            uint64_t pde = PT | P | W | U, pte = DATA | P | W | U;
            if (lvl == 1)
                pte |= 1ull << b;
            else
                pde |= 1ull << b;
            pae_setup(m, PAE_PD | P, pde, pte, false, b == 63);
            bool ok = mmu_walk(m, GVAPAE, MMU_READ, true, &r);
            if (b == 63) {
                ck_assert(ok); /* XD with NXE is no reserved bit */
                continue;
            }
            ck_assert_msg(!ok, "bit %u level %d", b, lvl);
            ck_assert_uint_eq(r.error, PF_P | PF_U | PF_RSVD);
            ck_assert_uint_eq(r.nlv, lvl == 2 ? 2 : 3);
        }
    }
    /* A 2 MiB PDE: also bits 20:13. */
    for (unsigned b = 13; b <= 20; b++) {
        pae_setup(m, PAE_PD | P, 0x00600000u | (1ull << b) | P | PS | W, 0, false, false);
        ck_assert(!mmu_walk(m, GVAPAE, MMU_FETCH, false, &r));
        ck_assert_uint_eq(r.error, PF_P | PF_RSVD);
    }
    /* I/D is reported with NXE on any fetch fault, not-present included. */
    pae_setup(m, PAE_PD | P, PT | P | W, 0, false, true);
    ck_assert(!mmu_walk(m, GVAPAE, MMU_FETCH, true, &r));
    ck_assert_uint_eq(r.error, PF_U | PF_I);
    free_mmu(m);
}
END_TEST

START_TEST(walk_pae_pdptes_are_registers)
{
    struct mmu *m = new_mmu();
    struct walk_result r;
    pae_setup(m, PAE_PD | P, PT | P | W, DATA | P | W, false, false);
    ck_assert(mmu_walk(m, GVAPAE, MMU_READ, false, &r));
    ck_assert_uint_eq(r.lv[0].entry, PAE_PD | P);
    /* Changing the PDPT in memory has no effect until CR3 is loaded again. */
    put64(m, TOP + 8, 0);
    ck_assert(mmu_walk(m, GVAPAE, MMU_READ, false, &r));
    struct paging_mode pm = m->paging;
    pm.pdpte_valid = false;
    mmu_set_paging(m, &pm); /* same CR3 again: a reload */
    ck_assert(!mmu_walk(m, GVAPAE, MMU_READ, false, &r));
    ck_assert_uint_eq(r.error, 0);
    ck_assert_uint_eq(r.nlv, 1);
    /* PDPTE reserved bits: mmu_load_pdptes reports them (the CPU's #GP). */
    uint64_t pd[4];
    put64(m, TOP + 8, PAE_PD | P | W);
    ck_assert(!mmu_load_pdptes(m, TOP, pd));
    put64(m, TOP + 8, PAE_PD | P | (1ull << 40));
    ck_assert(!mmu_load_pdptes(m, TOP, pd));
    put64(m, TOP + 8, PAE_PD | W); /* not present: anything goes */
    ck_assert(mmu_load_pdptes(m, TOP, pd));
    put64(m, TOP + 8, PAE_PD | P | 0x18 /* PWT, PCD */);
    ck_assert(mmu_load_pdptes(m, TOP, pd));
    ck_assert_uint_eq(pd[1], PAE_PD | P | 0x18);
    /* A table above 4 GiB reads as all-ones: reserved bits, not a crash. */
    pae_setup(m, PAE_PD | P, (0x5ull << 32) | P | W, 0, false, false);
    ck_assert(!mmu_walk(m, GVAPAE, MMU_READ, false, &r));
    ck_assert_uint_eq(r.error, PF_P | PF_RSVD);
    free_mmu(m);
}
END_TEST

/* ---- the same faults through the accessors, both strategies ---- */

struct catcher {
    jmp_buf jmp;
    uint32_t gva, error;
    int count;
};

static void on_fault(void *opaque, uint32_t gva, uint32_t error)
{
    struct catcher *c = opaque;
    c->gva = gva;
    c->error = error;
    c->count++;
    longjmp(c->jmp, 1);
}

static uint32_t access(struct mmu *m, struct catcher *c, uint32_t gva, enum mmu_access acc,
                       bool user, uint32_t *value)
{
    mmu_set_user(m, user);
    if (setjmp(c->jmp))
        return c->error;
    if (acc == MMU_READ)
        *value = mmu_read32(m, gva);
    else if (acc == MMU_WRITE)
        mmu_write32(m, gva, *value);
    else
        *value = mmu_fetch8(m, gva);
    return ~0u;
}

START_TEST(accessors_fault_like_the_walker)
{
    for (int strat = 0; strat < 2; strat++) {
        struct mmu *m = new_mmu();
        struct catcher c = {0};
        m->page_fault = on_fault;
        m->fault_opaque = &c;
        mmu_set_strategy(m, strat ? MMU_WALK : MMU_SHADOW);
        for (unsigned bits = 0; bits < 32; bits++) {
            bool pde_u = bits & 1, pte_u = bits & 2, pde_w = bits & 4, pte_w = bits & 8;
            bool wp = bits & 16;
            mmu_phys_write32(m, TOP + 4, PT | P | (pde_u ? U : 0) | (pde_w ? W : 0));
            mmu_phys_write32(m, PT + 20, DATA | P | (pte_u ? U : 0) | (pte_w ? W : 0));
            struct paging_mode pm = {.pg = true, .wp = wp, .cr3 = TOP};
            mmu_set_paging(m, &pm);
            mmu_invlpg(m, GVA32); /* the tables changed under the TLB */
            for (int acc = 0; acc < 3; acc++)
                for (int user = 0; user < 2; user++) {
                    uint32_t v = 0x5a5a0000u | bits,
                             want = oracle(false, false, wp, acc, user, pde_u && pte_u,
                                           pde_w && pte_w, false);
                    uint32_t got = access(m, &c, GVA32, acc, user, &v);
                    ck_assert_msg(got == want, "strategy %d bits %x %s user %d: %x want %x", strat,
                                  bits, acc_name[acc], user, got, want);
                    if (got != ~0u)
                        ck_assert_uint_eq(c.gva, GVA32);
                    else if (acc == MMU_WRITE)
                        ck_assert_uint_eq(mmu_phys_read32(m, DATA + 0x123), v);
                }
        }
        ck_assert_uint_eq(m->stats.pf_delivered, (uint64_t)c.count);
        free_mmu(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("walk");
    TCase *tc = tcase_create("walker");
    tcase_add_test(tc, walk32_4k_every_combination);
    tcase_add_test(tc, walk32_not_present);
    tcase_add_test(tc, walk32_pse_large_every_combination);
    tcase_add_test(tc, walk32_pse36_and_reserved);
    tcase_add_test(tc, walk32_global_and_peek);
    tcase_add_test(tc, walk_a20_masks_table_addresses);
    tcase_add_test(tc, walk_pae_4k_every_combination);
    tcase_add_test(tc, walk_pae_2m_every_combination);
    tcase_add_test(tc, walk_pae_reserved_bits_every_level);
    tcase_add_test(tc, walk_pae_pdptes_are_registers);
    tcase_add_test(tc, accessors_fault_like_the_walker);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
