/*
 * paging_access.c — the exhaustive paging access test (SDM vol. 3, ch. 4:
 * 4.3 32-bit paging, 4.4 PAE paging, 4.6 access rights, 4.7 page-fault
 * exceptions, 4.8 accessed and dirty flags).
 *
 * For each paging mode the CPU advertises — 32-bit 2-level with 4 KiB pages
 * (CR4.PSE=0, so PDE.PS is ignored), 32-bit with PSE (4 KiB and 4 MiB pages),
 * PAE (4 KiB and 2 MiB pages, NX) — it enumerates every combination of the
 * PDE and PTE bits P, R/W, U/S, A, D, PS, NX and a reserved bit, crossed with
 * every access (read, write, fetch at CPL0 and CPL3), CR0.WP and EFER.NXE. One
 * test page is mapped at a fixed linear address through the entries under test
 * (INVLPG before each access); after the access it checks fault / no fault, the
 * #PF error code (P, W/R, U/S, RSVD, I/D), CR2, the saved EIP of a faulting
 * fetch, the data (read value, write landing in the right physical page, the
 * code fetched), and both entries afterwards (A/D set exactly where hardware
 * sets them: A on each non-leaf entry the walk went through, A on the leaf and
 * D on a write only if the access succeeded).
 *
 * The expected outcome comes from ref() below, a direct transcription of the
 * SDM rules, not from a table; the same test passing under QEMU (and on real
 * hardware) validates ref(). Reserved bits used: 32-bit PSE 4 MiB PDE bit 21;
 * PAE entries bit MAXPHYADDR (and bit 63 when EFER.NXE=0, i.e. the NX bit),
 * 2 MiB PDE bit 13. (Bits 62:52 of PAE entries are reserved too, but QEMU does
 * not check them, so they are left out.)
 *
 * Output: one summary line per mode (cases, mismatches) and the first few
 * mismatches in full. -append verbose=N prints up to N mismatches per mode.
 *
 * hw=1: the #PF error code of a reserved-bit fault must have P=1 (SDM 4.7:
 * "bit 3 of the error code can be set only if bit 0 is also set"). QEMU (7.x
 * TCG) reports RSVD with P=0, so without hw=1 that one difference is tolerated
 * and counted in a "note" line; Umbra's ctests run with hw=1.
 */
#include "paging.h"

const char guest_name[] = "paging_access";

enum { M_2L, M_PSE, M_PAE };
static const char *const mode_names[] = { "2level", "pse", "pae" };
static const char *const op_names[] = { "read", "write", "fetch" };

#define TEST_BASE 0x40000000u /* PDE 256 (32-bit) / PDPTE 1 (PAE) */
#define DATA_OFF 0x800
#define DATA_PATTERN 0xD47A5EEDu
#define CODE_MAGIC 0xC0DE4A11u
#define WRITE_VAL 0x57A7E123u

static u8 tpage[4096] __attribute__((aligned(4096)));   /* the page under test */

/* 32-bit tables: 16 MiB identity (user, writable) + the table under test */
static u32 pd32[1024] __attribute__((aligned(4096)));
static u32 id_pt32[4][1024] __attribute__((aligned(4096)));
static u32 t_pt32[1024] __attribute__((aligned(4096)));
/* PAE tables */
static u64 pdpt[4] __attribute__((aligned(32)));
static u64 pae_pd0[512] __attribute__((aligned(4096)));
static u64 pae_id_pt[8][512] __attribute__((aligned(4096)));
static u64 pae_pd1[512] __attribute__((aligned(4096)));
static u64 t_pt64[512] __attribute__((aligned(4096)));

static struct paging_features feat;
static u32 wp_state, nxe_state;

/* ---- the reference: SDM vol. 3 ch. 4 ---------------------------------------- */
struct outcome {
    int fault;
    u32 err;
    u64 pde, pte; /* the entries after the access */
};

static u64 addr_rsvd(void)
{
    /* PAE: address bits 51:MAXPHYADDR are reserved */
    if (feat.maxphyaddr >= 52)
        return 0;
    return ((1ull << 52) - 1) & ~((1ull << feat.maxphyaddr) - 1);
}

static u32 mutate; /* -append mutate=N: break ref() on purpose (checks the checker) */

static void ref(int mode, u64 pde, u64 pte, int op, int user, int wp, int nxe, struct outcome *o)
{
    if (mutate == 1)
        wp = !wp;
    if (mutate == 2)
        nxe = 0;
    if (mutate == 3 && mode == M_PSE)
        mode = M_2L;
    int write = op == PROBE_WRITE, fetch = op == PROBE_FETCH;
    /* I/D is reported only with PAE (or 4-level) paging and EFER.NXE=1 (no SMEP here) */
    u32 err = (write ? PF_W : 0) | (user ? PF_U : 0) | (fetch && mode == M_PAE && nxe ? PF_ID : 0);
    o->fault = 1;
    o->pde = pde;
    o->pte = pte;
    o->err = err;
    if (!(pde & PG_P))
        return;
    /* PDE.PS is ignored by 32-bit paging with CR4.PSE=0; PAE always honours it */
    int large = (pde & PG_PS) && mode != M_2L;
    u64 rsvd = 0;
    if (mode == M_PSE && large)
        rsvd = 1u << 21;
    if (mode == M_PAE) {
        rsvd = addr_rsvd() | (nxe ? 0 : PG_NX);
        if (large)
            rsvd |= 0x1FE000; /* bits 20:13 of a 2 MiB PDE */
    }
    if (pde & rsvd) {
        o->err = err | PF_P | PF_RSVD;
        return;
    }
    if (!large) {
        if (mutate != 4)
            o->pde |= PG_A; /* the walk used the PDE */
        if (!(pte & PG_P))
            return;
        u64 prsvd = mode == M_PAE ? addr_rsvd() | (nxe ? 0 : PG_NX) : 0;
        if (pte & prsvd) {
            o->err = err | PF_P | PF_RSVD;
            return;
        }
    }
    u64 leaf = large ? pde : pte;
    int us = (pde & PG_US) && (leaf & PG_US);
    int rw = (pde & PG_RW) && (leaf & PG_RW);
    int nx = mode == M_PAE && nxe && ((pde & PG_NX) || (leaf & PG_NX));
    int ok = 1;
    if (user && !us)
        ok = 0;
    if (write && !rw && (user || wp))
        ok = 0;
    if (fetch && nx)
        ok = 0;
    if (!ok) {
        o->err = err | PF_P;
        return;
    }
    o->fault = 0;
    o->err = 0;
    u64 set = PG_A | (write && mutate != 5 ? PG_D : 0);
    if (large)
        o->pde |= set;
    else
        o->pte |= set;
}

/* ---- tables ------------------------------------------------------------------ */
static u32 test_va(int mode) { return TEST_BASE + ((u32)tpage & (mode == M_PAE ? 0x1FFFFF : 0x3FFFFF)); }

static void build_tables(void)
{
    for (int i = 0; i < 4; i++) {
        pd32[i] = (u32)id_pt32[i] | PG_P | PG_RW | PG_US;
        for (int j = 0; j < 1024; j++)
            id_pt32[i][j] = ((i * 1024 + j) << 12) | PG_P | PG_RW | PG_US;
    }
    pdpt[0] = (u32)pae_pd0 | PG_P;
    pdpt[1] = (u32)pae_pd1 | PG_P;
    for (int i = 0; i < 8; i++) {
        pae_pd0[i] = (u32)pae_id_pt[i] | PG_P | PG_RW | PG_US;
        for (int j = 0; j < 512; j++)
            pae_id_pt[i][j] = (u64)((i * 512 + j) << 12) | PG_P | PG_RW | PG_US;
    }
}

static void enter_mode(int mode)
{
    write_cr0(read_cr0() & ~CR0_PG);
    u32 cr4 = read_cr4() & ~(CR4_PSE | CR4_PAE | CR4_PGE);
    if (mode == M_PSE)
        cr4 |= CR4_PSE;
    if (mode == M_PAE)
        cr4 |= CR4_PAE;
    write_cr4(cr4);
    write_cr3(mode == M_PAE ? (u32)pdpt : (u32)pd32);
    write_cr0(read_cr0() | CR0_PG);
}

static void set_wp_nxe(int wp, int nxe)
{
    u32 cr0 = read_cr0() & ~CR0_WP;
    write_cr0(cr0 | (wp ? CR0_WP : 0));
    if (feat.nx) {
        u64 efer = rdmsr(MSR_EFER) & ~(u64)EFER_NXE;
        wrmsr(MSR_EFER, efer | (nxe ? EFER_NXE : 0));
    }
    wp_state = wp, nxe_state = nxe;
}

/* ---- one mode ------------------------------------------------------------------ */
struct bitset {
    int n;
    u64 bit[10];
};

static u64 expand(const struct bitset *s, u32 k)
{
    u64 v = 0;
    for (int i = 0; i < s->n; i++)
        if (k & (1u << i))
            v |= s->bit[i];
    return v;
}

static u32 max_show, hw;

struct stats {
    u32 cases, mismatches, quirks;
};

static void show(int mode, u64 pde, u64 pte, int op, int cpl, int wp, int nxe, const struct outcome *e,
                 int fault, u32 err, u32 cr2, u32 eip, u64 pde_a, u64 pte_a, u32 val, const char *what)
{
    kprintf("  mismatch %s: pde=%x_%08x pte=%x_%08x %s cpl%d wp=%d nxe=%d (%s)\n", mode_names[mode],
            (u32)(pde >> 32), (u32)pde, (u32)(pte >> 32), (u32)pte, op_names[op], cpl, wp, nxe, what);
    kprintf("    expected: %s err=%x pde=%x_%08x pte=%x_%08x\n", e->fault ? "#PF" : "no fault", e->err,
            (u32)(e->pde >> 32), (u32)e->pde, (u32)(e->pte >> 32), (u32)e->pte);
    kprintf("    got:      %s err=%x cr2=%x eip=%x pde=%x_%08x pte=%x_%08x value=%x\n",
            fault ? "#PF" : "no fault", err, cr2, eip, (u32)(pde_a >> 32), (u32)pde_a,
            (u32)(pte_a >> 32), (u32)pte_a, val);
}

/* Runs one (pde, pte) pair through all six accesses. */
static void run_case(int mode, u64 pde, u64 pte, struct stats *st)
{
    u32 va = test_va(mode);
    int pt_idx = mode == M_PAE ? (va >> 12) & 511 : (va >> 12) & 1023;
    int pd_idx = mode == M_PAE ? (va >> 21) & 511 : va >> 22;
    volatile u32 *data = (volatile u32 *)(tpage + DATA_OFF);

    for (int cpl = 0; cpl <= 3; cpl += 3) {
        for (int op = 0; op < 3; op++) {
            u32 addr = op == PROBE_FETCH ? va : va + DATA_OFF;
            if (mode == M_PAE) {
                pae_pd1[pd_idx] = pde;
                t_pt64[pt_idx] = pte;
            } else {
                pd32[pd_idx] = (u32)pde;
                t_pt32[pt_idx] = (u32)pte;
            }
            *data = DATA_PATTERN;
            write_cr2(0);
            invlpg(addr);
            u32 r = probe(cpl, op, addr, WRITE_VAL);
            u64 pde_a = mode == M_PAE ? pae_pd1[pd_idx] : pd32[pd_idx];
            u64 pte_a = mode == M_PAE ? t_pt64[pt_idx] : t_pt32[pt_idx];
            u32 landed = *data;

            struct outcome e;
            ref(mode, pde, pte, op, cpl == 3, wp_state, nxe_state, &e);
            int fault = r == PROBE_FAULT && pf_last.n == 1;
            const char *bad = 0;
            if (r == PROBE_FAULT && pf_last.n != 1)
                bad = "probe fault count";
            else if (fault != e.fault)
                bad = e.fault ? "no #PF" : "unexpected #PF";
            else if (fault && pf_last.err != e.err &&
                     !(!hw && (e.err & PF_RSVD) && pf_last.err == (e.err & ~PF_P)))
                bad = "error code";
            else if (fault && pf_last.cr2 != addr)
                bad = "CR2";
            else if (fault && op == PROBE_FETCH && pf_last.eip != va)
                bad = "saved EIP of the fetch";
            else if (!fault && op == PROBE_READ && r != DATA_PATTERN)
                bad = "value read";
            else if (!fault && op == PROBE_FETCH && r != CODE_MAGIC)
                bad = "code fetched";
            else if (!fault && op == PROBE_WRITE && (r != PROBE_OK || landed != WRITE_VAL))
                bad = "write did not land in the page";
            else if (op != PROBE_WRITE && landed != DATA_PATTERN)
                bad = "page data changed";
            else if (pde_a != e.pde)
                bad = "PDE after the access (A/D)";
            else if (pte_a != e.pte)
                bad = "PTE after the access (A/D)";
            st->cases++;
            if (!bad && fault && pf_last.err != e.err)
                st->quirks++;
            if (bad) {
                if (st->mismatches < max_show)
                    show(mode, pde, pte, op, cpl, wp_state, nxe_state, &e, fault, pf_last.err,
                         pf_last.cr2, pf_last.eip, pde_a, pte_a, r, bad);
                st->mismatches++;
            }
        }
    }
}

static u32 run_mode(int mode)
{
    struct stats st = { 0, 0, 0 };
    struct bitset pde4k = { 0, { 0 } }, pdebig = { 0, { 0 } }, pte = { 0, { 0 } };
    u64 common[] = { PG_P, PG_RW, PG_US, PG_A, PG_D };
    for (int i = 0; i < 5; i++) {
        pde4k.bit[pde4k.n++] = common[i];
        pdebig.bit[pdebig.n++] = common[i];
        pte.bit[pte.n++] = common[i];
    }
    u64 t_pt_addr = mode == M_PAE ? (u32)t_pt64 : (u32)t_pt32;
    u64 big_base = (u32)tpage & (mode == M_PAE ? ~0x1FFFFFu : ~0x3FFFFFu);
    int has_big = mode != M_2L;
    if (mode == M_2L)
        pde4k.bit[pde4k.n++] = PG_PS; /* ignored with CR4.PSE=0 */
    if (mode == M_PSE)
        pdebig.bit[pdebig.n++] = 1u << 21;
    if (mode == M_PAE) {
        pde4k.bit[pde4k.n++] = PG_NX;
        pdebig.bit[pdebig.n++] = PG_NX;
        pte.bit[pte.n++] = PG_NX;
        if (feat.maxphyaddr < 52) {
            u64 r = 1ull << feat.maxphyaddr;
            pde4k.bit[pde4k.n++] = r;
            pdebig.bit[pdebig.n++] = r;
            pte.bit[pte.n++] = r;
        }
        pdebig.bit[pdebig.n++] = 1u << 13;
    }

    enter_mode(mode);
    for (int nxe = 0; nxe <= 1; nxe++) {
        if (nxe && !feat.nx)
            continue;
        for (int wp = 0; wp <= 1; wp++) {
            set_wp_nxe(wp, nxe);
            for (u32 a = 0; a < (1u << pde4k.n); a++)
                for (u32 b = 0; b < (1u << pte.n); b++)
                    run_case(mode, t_pt_addr | expand(&pde4k, a), (u32)tpage | expand(&pte, b), &st);
            if (has_big)
                for (u32 a = 0; a < (1u << pdebig.n); a++)
                    run_case(mode, big_base | PG_PS | expand(&pdebig, a), 0, &st);
        }
    }
    set_wp_nxe(0, 0);
    write_cr0(read_cr0() & ~CR0_PG);
    kprintf("%s %s: %u cases, %u mismatches\n", st.mismatches ? "FAILED" : "ok  ", mode_names[mode],
            st.cases, st.mismatches);
    if (st.quirks)
        kprintf("note %s: %u reserved-bit faults reported RSVD without P (QEMU's error; "
                "tolerated without hw=1)\n", mode_names[mode], st.quirks);
    return st.mismatches;
}

void test_main(void)
{
    paging_features(&feat);
    max_show = cmdline_u32("verbose", 4);
    hw = cmdline_u32("hw", 0);
    mutate = cmdline_u32("mutate", 0);
    if (mutate)
        kprintf("mutate=%u: the reference is deliberately wrong; this run must FAIL\n", mutate);
    kprintf("cpuid: pse=%d pae=%d pse36=%d nx=%d maxphyaddr=%d\n", feat.pse, feat.pae, feat.pse36,
            feat.nx, feat.maxphyaddr);
    /* the test page: code at 0 (mov eax, CODE_MAGIC; ret), data at DATA_OFF */
    tpage[0] = 0xB8;
    *(u32 *)(tpage + 1) = CODE_MAGIC;
    tpage[5] = 0xC3;
    build_tables();
    probe_install();

    u32 bad = 0;
    bad += run_mode(M_2L);
    if (feat.pse)
        bad += run_mode(M_PSE);
    else
        kprintf("SKIP pse: CPUID.01h:EDX.PSE[3]=0\n");
    if (feat.pae)
        bad += run_mode(M_PAE);
    else
        kprintf("SKIP pae: CPUID.01h:EDX.PAE[6]=0\n");
    if (!feat.nx)
        kprintf("SKIP nx (EFER.NXE=1 cases): CPUID.80000001h:EDX.NX[20]=0\n");
    CHECK(!bad, "%u mismatches with the SDM reference", bad);
}
