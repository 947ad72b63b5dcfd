/*
 * repfault.c — REP string instructions that fault part-way must fault
 * precisely (SDM vol. 2, REP): the saved EIP points at the instruction's first
 * prefix, and ECX/ESI/EDI reflect exactly the iterations completed; after the
 * handler fixes the cause, IRET resumes the instruction, which completes.
 * Faults come from a not-present page (#PF, what QEMU models) and, with
 * -append hw=1, from segment limits (#GP; QEMU does not check data segment
 * limits). Also: 16-bit address size wraps SI/DI/CX at 64K and leaves the high
 * halves of ESI/EDI/ECX alone.
 */
#include "guest.h"

const char guest_name[] = "repfault";

struct rr { u32 eax, ecx, esi, edi, df, ds, es, eflags; };
#define DECL(n) extern void n(struct rr *); extern char n##_i[]
DECL(rep_movsb_ds); DECL(rep_stosd); DECL(rep_movsd); DECL(repne_scasb); DECL(rep_stosb_cs);
DECL(rep_movsb_a16); DECL(rep_movsw_o16); DECL(rep_stosb);

static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt[4][1024] __attribute__((aligned(4096)));
/* area[1] is the page that is made not-present; area[0] and area[2] around it */
static u8 area[3][4096] __attribute__((aligned(4096)));
static u8 srcbuf[8192] __attribute__((aligned(4096)));

static struct {
    int n;
    u32 vec, err, eip, ecx, esi, edi, cr2;
} F;
static u32 *fix_pte;
static int fix_gdt = -1;

static void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

static void on_fault(struct frame *f)
{
    if (F.n++)
        fail("second fault: vector %u at %x (ecx=%x esi=%x edi=%x cr2=%x)", f->vector, f->eip,
             f->ecx, f->esi, f->edi, read_cr2());
    F.vec = f->vector, F.err = f->error, F.eip = f->eip;
    F.ecx = f->ecx, F.esi = f->esi, F.edi = f->edi, F.cr2 = read_cr2();
    if (f->vector == 14 && fix_pte) {
        *fix_pte |= 1;
        invlpg(F.cr2);
    } else if (f->vector == 13 && fix_gdt >= 0) {
        gdt_set(fix_gdt, 0x400000, 0xFFFFF, ACC_P | ACC_DATA_W, FLG_D); /* stub's pop es reloads */
    } else {
        fail("unexpected vector %u err %x at %x", f->vector, f->error, f->eip);
    }
}

static u32 *pte_of(void *p) { u32 a = (u32)p; return &pt[a >> 22][(a >> 12) & 1023]; }
static void not_present(void *p) { *pte_of(p) &= ~1u; invlpg((u32)p); fix_pte = pte_of(p); }

static u32 rng = 0xC0FFEE;
static u8 rnd(void) { rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5; return (u8)rng; }

static void fill(void)
{
    for (unsigned i = 0; i < sizeof srcbuf; i++)
        srcbuf[i] = rnd();
    memset(area, 0, sizeof area);
}

static void expect_fault(const char *name, int vec, char *insn, u32 ecx, u32 esi, u32 edi)
{
    CHECK(F.n == 1, "%s: %d faults, expected 1", name, F.n);
    CHECK(F.vec == (u32)vec, "%s: vector %u, expected %d", name, F.vec, vec);
    CHECK(F.eip == (u32)insn, "%s: saved EIP %x, expected the first prefix at %x", name, F.eip, (u32)insn);
    CHECK(F.ecx == ecx, "%s: ECX at fault %x, expected %x", name, F.ecx, ecx);
    CHECK(F.esi == esi, "%s: ESI at fault %x, expected %x", name, F.esi, esi);
    CHECK(F.edi == edi, "%s: EDI at fault %x, expected %x", name, F.edi, edi);
}

void test_main(void)
{
    int hw = cmdline_u32("hw", 0);
    struct rr r;
    u8 *np = area[1];

    isr_set(14, on_fault);
    isr_set(13, on_fault);
    for (int t = 0; t < 4; t++) {
        pd[t] = (u32)pt[t] | 3;
        for (int j = 0; j < 1024; j++)
            pt[t][j] = ((t * 1024 + j) << 12) | 3;
    }
    write_cr3((u32)pd);
    write_cr0(read_cr0() | 0x80000000);

    /* 1. ds rep movsb: destination runs into the not-present page after 100 bytes */
    fill();
    not_present(np);
    F.n = 0;
    r = (struct rr){ 0, 300, (u32)srcbuf, (u32)np - 100, 0, 0, 0, 0 };
    rep_movsb_ds(&r);
    expect_fault("ds rep movsb (dest #PF)", 14, rep_movsb_ds_i, 200, (u32)srcbuf + 100, (u32)np);
    CHECK(F.cr2 == (u32)np && F.err == 2, "rep movsb: CR2=%x err=%x", F.cr2, F.err);
    CHECK(r.ecx == 0 && r.esi == (u32)srcbuf + 300 && r.edi == (u32)np + 200,
          "rep movsb resumed: ecx=%x esi=%x edi=%x", r.ecx, r.esi, r.edi);
    CHECK(!memcmp(np - 100, srcbuf, 300) && np[200] == 0 && np[-101] == 0, "rep movsb: data wrong");
    kprintf("ok   ds rep movsb: #PF after 100 bytes, resumed, complete\n");

    /* 2. rep stosd, misaligned: the third dword straddles into the page */
    fill();
    not_present(np);
    F.n = 0;
    r = (struct rr){ 0xA5A5A5A5, 10, 0x1234, (u32)np - 10, 0, 0, 0, 0 };
    rep_stosd(&r);
    expect_fault("rep stosd straddling", 14, rep_stosd_i, 8, 0x1234, (u32)np - 2);
    CHECK(F.cr2 == (u32)np, "rep stosd: CR2=%x expected %x", F.cr2, (u32)np);
    CHECK(r.ecx == 0 && r.edi == (u32)np + 30, "rep stosd resumed: ecx=%x edi=%x", r.ecx, r.edi);
    for (int i = -10; i < 30; i++)
        CHECK(np[i] == 0xA5, "rep stosd: byte %d not written", i);
    CHECK(np[30] == 0 && np[-11] == 0, "rep stosd wrote outside");
    kprintf("ok   rep stosd: #PF on a straddling dword, resumed, complete\n");

    /* 3. rep movsd backwards (DF=1) from area[2] down into area[1] */
    fill();
    not_present(np);
    F.n = 0;
    u32 d0 = (u32)area[2] + 8; /* dwords at +8, +4, +0 are present; then np+4092 faults */
    r = (struct rr){ 0, 6, (u32)srcbuf + 400, d0, 1, 0, 0, 0 };
    rep_movsd(&r);
    expect_fault("std rep movsd", 14, rep_movsd_i, 3, (u32)srcbuf + 400 - 12, d0 - 12);
    CHECK(F.cr2 == d0 - 12, "std rep movsd: CR2=%x", F.cr2);
    CHECK(r.ecx == 0 && r.edi == d0 - 24 && r.esi == (u32)srcbuf + 400 - 24,
          "std rep movsd resumed: ecx=%x esi=%x edi=%x", r.ecx, r.esi, r.edi);
    CHECK(!memcmp((u8 *)d0 - 20, srcbuf + 400 - 20, 24), "std rep movsd: data wrong");
    kprintf("ok   std rep movsd: #PF going down, resumed, complete\n");

    /* 4. the source side faults: rep movsb reading into the not-present page */
    fill();
    memset(np, 0x77, 4096);
    not_present(np);
    F.n = 0;
    r = (struct rr){ 0, 64, (u32)np - 16, (u32)srcbuf + 1000, 0, 0, 0, 0 };
    rep_movsb_ds(&r);
    expect_fault("rep movsb (source #PF)", 14, rep_movsb_ds_i, 48, (u32)np, (u32)srcbuf + 1016);
    CHECK(F.cr2 == (u32)np && F.err == 0, "source #PF: CR2=%x err=%x", F.cr2, F.err);
    CHECK(r.ecx == 0 && srcbuf[1000 + 16] == 0x77 && srcbuf[1000 + 63] == 0x77,
          "source #PF resumed: ecx=%x", r.ecx);
    kprintf("ok   rep movsb: #PF on the source, resumed, complete\n");

    /* 5. repne scasb runs into the page, then finds the byte there */
    fill();
    np[5] = 0x42;
    not_present(np);
    F.n = 0;
    r = (struct rr){ 0x42, 1000, 0, (u32)np - 50, 0, 0, 0, 0 };
    repne_scasb(&r);
    expect_fault("repne scasb", 14, repne_scasb_i, 950, 0, (u32)np);
    CHECK(r.ecx == 1000 - 56 && r.edi == (u32)np + 6 && (r.eflags & EFL_ZF),
          "repne scasb resumed: ecx=%x edi=%x zf=%u", r.ecx, r.edi, !!(r.eflags & EFL_ZF));
    kprintf("ok   repne scasb: #PF mid-scan, resumed, stops at the match\n");

    /* 6. cs rep stosb: the ignored segment prefix still belongs to the instruction */
    fill();
    not_present(np);
    F.n = 0;
    r = (struct rr){ 0x5C, 9, 0, (u32)np - 3, 0, 0, 0, 0 };
    rep_stosb_cs(&r);
    expect_fault("cs rep stosb", 14, rep_stosb_cs_i, 6, 0, (u32)np);
    CHECK(r.ecx == 0 && np[5] == 0x5C && np[6] == 0, "cs rep stosb resumed: ecx=%x", r.ecx);
    kprintf("ok   cs rep stosb: EIP at the first prefix, resumed\n");
    fix_pte = 0;
    write_cr0(read_cr0() & ~0x80000000u);

    /* 7. 16-bit addressing: SI wraps 0xFFFF -> 0, CX counts, high halves kept */
    {
        u8 *dsb = (u8 *)0x200000, *esb = (u8 *)0x300000;
        gdt_set(GDT_FIRST_FREE, (u32)dsb, 0xFFFF, ACC_P | ACC_DATA_W, 0);
        gdt_set(GDT_FIRST_FREE + 1, (u32)esb, 0xFFFF, ACC_P | ACC_DATA_W, 0);
        *(u8 *)(0x300000 + 0x10000) = 0;
        for (int i = 0; i < 16; i++)
            dsb[i] = 0x10 + i, dsb[0xFFF0 + i] = 0xF0 + i, esb[0x100 + i] = 0, esb[0xFFF0 + i] = 0,
            esb[i] = 0;
        r = (struct rr){ 0, 0xABCD0006, 0x5555FFFD, 0x6666FFFE, 0, GDT_FIRST_FREE << 3,
                         (GDT_FIRST_FREE + 1) << 3, 0 };
        F.n = 0;
        rep_movsb_a16(&r);
        CHECK(F.n == 0, "a16 rep movsb faulted (vector %u)", F.vec);
        CHECK(r.ecx == 0xABCD0000 && r.esi == 0x55550003 && r.edi == 0x66660004,
              "a16 rep movsb: ecx=%x esi=%x edi=%x (high halves must stay)", r.ecx, r.esi, r.edi);
        const u8 want[6] = { dsb[0xFFFD], dsb[0xFFFE], dsb[0xFFFF], dsb[0], dsb[1], dsb[2] };
        const u8 got[6] = { esb[0xFFFE], esb[0xFFFF], esb[0], esb[1], esb[2], esb[3] };
        CHECK(!memcmp(want, got, 6), "a16 rep movsb: wrapped data wrong");
        CHECK(*(u8 *)(0x300000 + 0x10000) == 0,
              "a16 rep movsb wrote past 64K");
        /* o16 movsw with a 32-bit address: ECX counts */
        r = (struct rr){ 0, 3, (u32)srcbuf, (u32)srcbuf + 4096, 0, 0, 0, 0 };
        rep_movsw_o16(&r);
        CHECK(r.ecx == 0 && r.esi == (u32)srcbuf + 6 && r.edi == (u32)srcbuf + 4102 &&
                  !memcmp(srcbuf, srcbuf + 4096, 6), "rep movsw: ecx=%x esi=%x edi=%x", r.ecx, r.esi, r.edi);
    }
    kprintf("ok   a16 rep movsb wraps SI/DI/CX at 64K; rep movsw\n");

    /* 8. (hw=1) ES limit: rep stosb faults with #GP(0) once past the limit */
    if (hw) {
        int g = GDT_FIRST_FREE + 2;
        gdt_set(g, 0x400000, 0xFFF, ACC_P | ACC_DATA_W, FLG_D);
        fix_gdt = g;
        F.n = 0;
        r = (struct rr){ 0x3C, 20, 0, 0xFF6, 0, 0, g << 3, 0 };
        rep_stosb(&r);
        expect_fault("rep stosb past ES limit", 13, rep_stosb_i, 10, 0, 0x1000);
        CHECK(F.err == 0, "ES limit: error code %x", F.err);
        CHECK(r.ecx == 0 && r.edi == 0x100A, "ES limit resumed: ecx=%x edi=%x", r.ecx, r.edi);
        fix_gdt = -1;
        kprintf("ok   rep stosb: #GP at the ES limit, resumed after raising it\n");
    }
}
