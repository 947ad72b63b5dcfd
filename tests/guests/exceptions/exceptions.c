/*
 * exceptions.c — every exception vector the CPU raises, each checked for the
 * vector, the error code (or its absence: the runtime's stubs give a uniform
 * frame, so a wrongly pushed or missing error code shifts EIP/CS and fails),
 * and the saved CS:EIP — the faulting instruction for faults, the next one for
 * traps (SDM vol. 3, 6.5 and table 6-1). The instruction addresses come from
 * labels in exc_cases.asm, so nothing here is a hand-computed value.
 */
#include "guest.h"

const char guest_name[] = "exceptions";

#define NOERR 0xFFFFFFFFu
#define NONE (-1)

static struct {
    int hit;
    u32 vec, err, eip, cs, eflags, cr2, dr6;
} R;
static u32 resume_at;
/* -append hw=1 adds the checks where QEMU (the reference) differs from real
 * hardware; Umbra should pass them too. */
static int hw;
static int ignore_ext; /* compare error codes without the EXT bit */
static int in_user;

static inline u32 read_dr6(void) { u32 v; __asm__ volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static inline void write_dr(int n, u32 v)
{
    switch (n) {
    case 0: __asm__ volatile("mov %0, %%dr0" ::"r"(v)); break;
    case 1: __asm__ volatile("mov %0, %%dr1" ::"r"(v)); break;
    case 6: __asm__ volatile("mov %0, %%dr6" ::"r"(v)); break;
    case 7: __asm__ volatile("mov %0, %%dr7" ::"r"(v)); break;
    }
}

static void on_exc(struct frame *f)
{
    R.hit++;
    R.vec = f->vector;
    R.err = f->error;
    R.eip = f->eip;
    R.cs = f->cs;
    R.eflags = f->eflags;
    R.cr2 = read_cr2();
    R.dr6 = read_dr6();
    if (f->vector == 16)
        __asm__ volatile("fnclex");
    if (R.hit > 5)
        fail("exception storm: vector %u at %x:%x", f->vector, f->cs, f->eip);
    if (in_user)
        user_return(0xdead);
    f->eip = resume_at;
    f->cs = SEL_KCODE;
    f->eflags &= ~EFL_TF;
}

/* Which vectors push an error code (so the frame's error field is real). */
static int has_err(int v) { return v == 8 || (v >= 10 && v <= 14) || v == 17; }

static void call_case(void (*fn)(void), u32 eax, u32 ecx)
{
    __asm__ volatile("call *%2"
                     : "+a"(eax), "+c"(ecx)
                     : "r"(fn)
                     : "edx", "ebx", "esi", "edi", "memory", "cc");
}

static void check(const char *name, int vec, u32 err, u32 eip, u32 cs)
{
    if (vec == NONE) {
        CHECK(R.hit == 0, "%s: expected no exception, got vector %u err=%x at %x:%x", name, R.vec,
              R.err, R.cs, R.eip);
        kprintf("ok   %s: no exception\n", name);
        return;
    }
    CHECK(R.hit == 1, "%s: expected vector %d, got %d exceptions (last vector %u)", name, vec,
          R.hit, R.vec);
    CHECK(R.vec == (u32)vec, "%s: expected vector %d, got %u (err=%x eip=%x)", name, vec, R.vec,
          R.err, R.eip);
    if (has_err(vec))
        CHECK((R.err | ignore_ext) == (err | ignore_ext), "%s: vector %d error code %x, expected %x", name, vec, R.err, err);
    if (eip != NOERR) {
        CHECK(R.cs == cs, "%s: saved CS %x, expected %x", name, R.cs, cs);
        CHECK(R.eip == eip, "%s: saved EIP %x, expected %x", name, R.eip, eip);
    }
    kprintf("ok   %s: vector %u", name, R.vec);
    if (has_err(vec))
        kprintf(" err=%x", R.err);
    kprintf("\n");
}

static void expect(const char *name, void (*fn)(void), u32 eax, u32 ecx, void *resume, int vec,
                   u32 err, void *eip)
{
    memset(&R, 0, sizeof R);
    resume_at = (u32)resume;
    call_case(fn, eax, ecx);
    check(name, vec, err, (u32)eip, SEL_KCODE);
}

static void expect_user(const char *name, void (*fn)(void), u32 eflags, u32 ss, int vec, u32 err,
                        void *eip)
{
    memset(&R, 0, sizeof R);
    in_user = 1;
    u32 r = user_call(fn, USER_STACK_TOP, eflags, ss);
    in_user = 0;
    if (vec != NONE)
        CHECK(r == 0xdead, "%s: user code finished without an exception", name);
    check(name, vec, err, (u32)eip, SEL_UCODE);
}

#define EXT(name) extern char name[], name##_f[], name##_r[]
EXT(c_de0); EXT(c_deovf); EXT(c_de8); EXT(c_aam0); EXT(c_step); EXT(c_icebp); EXT(c_drx);
EXT(c_drw); EXT(c_int3); EXT(c_int3l); EXT(c_into); EXT(c_bound); EXT(c_bound16); EXT(c_ud2);
EXT(c_udlock); EXT(c_udlockreg); EXT(c_udlea); EXT(c_udmovcs); EXT(c_udprefix); EXT(c_fnop);
EXT(c_fwait); EXT(c_mf); EXT(c_lds); EXT(c_lss); EXT(c_les_write); EXT(c_es_read);
EXT(c_ss_limit); EXT(c_jmpfar); EXT(c_int50); EXT(c_intgate); EXT(c_gp13); EXT(c_tss);
EXT(c_pf_read); EXT(c_pf_write);
EXT(u_cli); EXT(u_hlt); EXT(u_movcr0); EXT(u_in); EXT(u_lgdt); EXT(u_int_dpl0); EXT(u_ac);
EXT(u_ac_setup); EXT(u_ss_limit); EXT(u_pf_read); EXT(u_pf_write);
extern char c_into_no[], c_bound_no[], drw_cell[];
extern u32 farptr[2], u_pf_addr;
#define CASE(fn) (void (*)(void))fn

/* GDT slots used here. */
enum {
    G_XONLY = GDT_FIRST_FREE, G_RO, G_LIM, G_EXPDOWN, G_NP_DATA, G_SS2M, G_NP_CODE, G_GATE_NP,
    G_BADTSS, G_USS_LIM, G_COUNT
};
#define SEL(i) ((i) << 3)

static u8 badtss_mem[256];
static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt[4][1024] __attribute__((aligned(4096)));
static u8 pf_pages[3][4096] __attribute__((aligned(4096))); /* not present, read-only, supervisor */

static void setup_segments(void)
{
    gdt_set(G_XONLY, 0, 0xFFFFF, ACC_P | ACC_CODE_X, FLG_G | FLG_D);
    gdt_set(G_RO, 0, 0xFFFFF, ACC_P | ACC_DATA_R, FLG_G | FLG_D);
    gdt_set(G_LIM, 0x200000, 0xFFF, ACC_P | ACC_DATA_W, FLG_D);
    gdt_set(G_EXPDOWN, 0x200000, 0xFFF, ACC_P | ACC_DATA_WD, FLG_D);
    gdt_set(G_NP_DATA, 0, 0xFFFFF, ACC_DATA_W, FLG_G | FLG_D);
    gdt_set(G_SS2M, 0, 0x1FF, ACC_P | ACC_DATA_W, FLG_G | FLG_D);
    gdt_set(G_NP_CODE, 0, 0xFFFFF, ACC_CODE_R, FLG_G | FLG_D);
    gdt_set_gate(G_GATE_NP, SEL_KCODE, 0, ACC_CALLGATE32, 0);
    gdt_set(G_BADTSS, (u32)badtss_mem, 0x20, ACC_P | ACC_TSS32, 0);
    gdt_set(G_USS_LIM, 0, USER_STACK_TOP - 5, ACC_P | ACC_DPL(3) | ACC_DATA_W, FLG_D);
}

static void divide_and_debug(void)
{
    expect("#DE div by zero", CASE(c_de0), 0, 0, c_de0_r, 0, 0, c_de0_f);
    expect("#DE idiv overflow", CASE(c_deovf), 0, 0, c_deovf_r, 0, 0, c_deovf_f);
    expect("#DE div8 quotient overflow", CASE(c_de8), 0, 0, c_de8_r, 0, 0, c_de8_f);
    expect("#DE aam 0", CASE(c_aam0), 0, 0, c_aam0_r, 0, 0, c_aam0_f);

    write_dr(6, 0);
    expect("#DB single step (trap after the next insn)", CASE(c_step), 0, 0, c_step_r, 1, 0, c_step_f);
    CHECK(R.dr6 & 0x4000, "#DB single step: DR6.BS not set (dr6=%x)", R.dr6);
    CHECK(R.eflags & EFL_TF, "#DB single step: saved EFLAGS.TF clear");
    /* QEMU (the reference) builds without WANT_ICEBP and raises #UD for F1. */
    if (hw)
        expect("#DB icebp (trap)", CASE(c_icebp), 0, 0, c_icebp_r, 1, 0, c_icebp_f);

    write_dr(6, 0);
    write_dr(0, (u32)c_drx_f);
    write_dr(7, 0x001 | 0x300); /* L0, execute, len 1; LE GE */
    expect("#DB DR0 execute breakpoint (fault)", CASE(c_drx), 0, 0, c_drx_r, 1, 0, c_drx_f);
    write_dr(7, 0);
    CHECK(R.dr6 & 1, "#DB DR0: DR6.B0 not set (dr6=%x)", R.dr6);
    write_dr(6, 0);
    write_dr(1, (u32)drw_cell);
    write_dr(7, 0x004 | 0x300 | (1u << 20) | (3u << 22)); /* L1, write, len 4 */
    expect("#DB DR1 data write watchpoint (trap)", CASE(c_drw), 0, 0, c_drw_r, 1, 0, c_drw_f);
    write_dr(7, 0);
    CHECK(R.dr6 & 2, "#DB DR1: DR6.B1 not set (dr6=%x)", R.dr6);

    expect("#BP int3 (trap)", CASE(c_int3), 0, 0, c_int3_r, 3, 0, c_int3_f);
    expect("#BP int 3 long form (trap)", CASE(c_int3l), 0, 0, c_int3l_r, 3, 0, c_int3l_f);
    expect("#OF into with OF=1 (trap)", CASE(c_into), 0, 0, c_into_r, 4, 0, c_into_f);
    expect("into with OF=0", CASE(c_into_no), 0, 0, 0, NONE, 0, 0);
    expect("#BR bound32 above", CASE(c_bound), 0, 0, c_bound_r, 5, 0, c_bound_f);
    expect("#BR bound16 below", CASE(c_bound16), 0, 0, c_bound16_r, 5, 0, c_bound16_f);
    expect("bound in range", CASE(c_bound_no), 0, 0, 0, NONE, 0, 0);
}

static void invalid_and_fpu(void)
{
    expect("#UD ud2", CASE(c_ud2), 0, 0, c_ud2_r, 6, 0, c_ud2_f);
    if (hw) /* QEMU does not check LOCK on MOV */
        expect("#UD lock mov", CASE(c_udlock), 0, 0, c_udlock_r, 6, 0, c_udlock_f);
    expect("#UD lock add reg,reg", CASE(c_udlockreg), 0, 0, c_udlockreg_r, 6, 0, c_udlockreg_f);
    expect("#UD lea with register operand", CASE(c_udlea), 0, 0, c_udlea_r, 6, 0, c_udlea_f);
    expect("#UD mov cs", CASE(c_udmovcs), 0, 0, c_udmovcs_r, 6, 0, c_udmovcs_f);
    expect("#UD prefixed ud2 (EIP at first prefix)", CASE(c_udprefix), 0, 0, c_udprefix_r, 6, 0,
           c_udprefix_f);

    u32 cr0 = read_cr0() & ~0x2Eu; /* MP EM TS NE */
    write_cr0(cr0 | 0x08);
    expect("#NM fnop with CR0.TS", CASE(c_fnop), 0, 0, c_fnop_r, 7, 0, c_fnop_f);
    expect("fwait with CR0.TS, MP=0", CASE(c_fwait), 0, 0, 0, NONE, 0, 0);
    write_cr0(cr0 | 0x08 | 0x02);
    expect("#NM fwait with CR0.TS, MP=1", CASE(c_fwait), 0, 0, c_fwait_r, 7, 0, c_fwait_f);
    write_cr0(cr0 | 0x04);
    expect("#NM fnop with CR0.EM", CASE(c_fnop), 0, 0, c_fnop_r, 7, 0, c_fnop_f);
    write_cr0(cr0 | 0x20 | 0x02); /* NE: native x87 error reporting */
    expect("#MF unmasked zero divide at next fwait", CASE(c_mf), 0, 0, c_mf_r, 16, 0, c_mf_f);
    write_cr0(cr0 | 0x02);
}

static void segments(void)
{
    expect("#GP load DS beyond GDT limit", CASE(c_lds), 0x200, 0, c_lds_r, 13, 0x200, c_lds_f);
    expect("#GP load DS beyond GDT limit (LDT bit, RPL)", CASE(c_lds), 0x207, 0, c_lds_r, 13, 0x204, c_lds_f);
    expect("#GP load DS with execute-only code", CASE(c_lds), SEL(G_XONLY), 0, c_lds_r, 13, SEL(G_XONLY), c_lds_f);
    expect("#GP load DS with a TSS", CASE(c_lds), SEL_TSS, 0, c_lds_r, 13, SEL_TSS, c_lds_f);
    expect("#GP load DS with RPL3 > DPL0", CASE(c_lds), SEL_KDATA | 3, 0, c_lds_r, 13, SEL_KDATA, c_lds_f);
    expect("#NP load DS not present", CASE(c_lds), SEL(G_NP_DATA), 0, c_lds_r, 11, SEL(G_NP_DATA), c_lds_f);
    expect("load DS null (no fault)", CASE(c_lds), 0, 0, c_lds_r, NONE, 0, 0);
    expect("#GP load SS null", CASE(c_lss), 0, 0, c_lss_r, 13, 0, c_lss_f);
    expect("#GP load SS read-only", CASE(c_lss), SEL(G_RO), 0, c_lss_r, 13, SEL(G_RO), c_lss_f);
    expect("#GP load SS with DPL3 data at CPL0", CASE(c_lss), SEL_UDATA, 0, c_lss_r, 13, SEL_UDATA & ~3, c_lss_f);
    expect("#SS load SS not present", CASE(c_lss), SEL(G_NP_DATA), 0, c_lss_r, 12, SEL(G_NP_DATA), c_lss_f);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect("#GP write to read-only segment", CASE(c_les_write), SEL(G_RO), 0, c_les_write_r, 13, 0, c_les_write_f);
    expect("read at limit-3 (no fault)", CASE(c_es_read), SEL(G_LIM), 0xFFC, c_es_read_r, NONE, 0, 0);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect("#GP dword read straddling limit", CASE(c_es_read), SEL(G_LIM), 0xFFE, c_es_read_r, 13, 0, c_es_read_f);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect("#GP read beyond limit", CASE(c_es_read), SEL(G_LIM), 0x1000, c_es_read_r, 13, 0, c_es_read_f);
    expect("expand-down read above limit (no fault)", CASE(c_es_read), SEL(G_EXPDOWN), 0x1000, c_es_read_r, NONE, 0, 0);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect("#GP expand-down read at limit", CASE(c_es_read), SEL(G_EXPDOWN), 0xFFF, c_es_read_r, 13, 0, c_es_read_f);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect("#SS [ebp] beyond SS limit", CASE(c_ss_limit), SEL(G_SS2M), 0, c_ss_limit_r, 12, 0, c_ss_limit_f);
    expect("#GP jmp far to null", CASE(c_jmpfar), 0, 0, c_jmpfar_r, 13, 0, c_jmpfar_f);
    expect("#GP jmp far to data segment", CASE(c_jmpfar), SEL_KDATA, 0, c_jmpfar_r, 13, SEL_KDATA, c_jmpfar_f);
    expect("#NP jmp far to not-present code", CASE(c_jmpfar), SEL(G_NP_CODE), 0, c_jmpfar_r, 11, SEL(G_NP_CODE), c_jmpfar_f);
    expect("#NP jmp far through not-present call gate", CASE(c_jmpfar), SEL(G_GATE_NP), 0, c_jmpfar_r, 11, SEL(G_GATE_NP), c_jmpfar_f);
    expect("jmp far to code (no fault)", CASE(c_jmpfar), SEL_KCODE, 0, c_jmpfar_r, NONE, 0, 0);

    farptr[0] = 0;
    farptr[1] = SEL(G_BADTSS);
    expect("#TS jmp to TSS with limit < 0x67", CASE(c_tss), 0, 0, c_tss_r, 10, SEL(G_BADTSS), c_tss_f);

    /* IDT-related */
    idt[0x41].access &= ~ACC_P;
    expect("#NP int to not-present gate (IDT bit)", CASE(c_intgate), 0, 0, c_intgate_r, 11, 0x41 * 8 + 2, c_intgate_f);
    idt[0x41].access |= ACC_P;
    idt[6].access &= ~ACC_P;
    ignore_ext = !hw; /* QEMU leaves EXT clear here */
    expect("#NP delivering #UD through not-present gate (EXT)", CASE(c_ud2), 0, 0, c_ud2_r, 11, 6 * 8 + 3, c_ud2_f);
    ignore_ext = 0;
    idt[6].access |= ACC_P;
    struct PACKED { u16 limit; u32 base; } small = { 0x48 * 8 - 1, (u32)idt };
    __asm__ volatile("lidt %0" ::"m"(small));
    expect("#GP int beyond IDT limit", CASE(c_int50), 0, 0, c_int50_r, 13, 0x50 * 8 + 2, c_int50_f);
    idt_reload();
    idt[13].access &= ~ACC_P;
    expect("#DF: #GP whose gate is not present", CASE(c_gp13), 0x200, 0, c_gp13_r, 8, 0, (void *)NOERR);
    idt[13].access |= ACC_P;
}

static void user_mode(void)
{
    expect_user("#GP cli at CPL3 IOPL0", CASE(u_cli), 0x202, 0, 13, 0, u_cli_f);
    expect_user("#GP hlt at CPL3", CASE(u_hlt), 0x202, 0, 13, 0, u_hlt_f);
    expect_user("#GP mov from cr0 at CPL3", CASE(u_movcr0), 0x202, 0, 13, 0, u_movcr0_f);
    expect_user("#GP in at CPL3 without I/O permission", CASE(u_in), 0x202, 0, 13, 0, u_in_f);
    expect_user("#GP lgdt at CPL3", CASE(u_lgdt), 0x202, 0, 13, 0, u_lgdt_f);
    expect_user("#GP int to DPL0 gate from CPL3", CASE(u_int_dpl0), 0x202, 0, 13, 0x41 * 8 + 2, u_int_dpl0_f);
    if (hw) /* QEMU does not check data segment limits/rights */
        expect_user("#SS push below SS limit at CPL3", CASE(u_ss_limit), 0x202, SEL(G_USS_LIM) | 3, 12, 0,
                    u_ss_limit_f);
    if (hw) { /* QEMU does not implement alignment checking */
        write_cr0(read_cr0() | (1u << 18)); /* AM */
        expect_user("#AC misaligned dword at CPL3", CASE(u_ac), 0x202 | EFL_AC, 0, 17, 0, u_ac_f);
        expect_user("#AC after popf sets AC", CASE(u_ac_setup), 0x202, 0, 17, 0, u_ac_setup_f);
        write_cr0(read_cr0() & ~(1u << 18));
    }
    expect_user("misaligned with CR0.AM=0 (no fault)", CASE(u_ac), 0x202 | EFL_AC, 0, NONE, 0, 0);
}

static void paging(void)
{
    for (int i = 0; i < 4; i++) {
        pd[i] = (u32)pt[i] | 7;
        for (int j = 0; j < 1024; j++)
            pt[i][j] = ((i * 1024 + j) << 12) | 7; /* present, writable, user */
    }
    u32 np = (u32)pf_pages[0], ro = (u32)pf_pages[1], sup = (u32)pf_pages[2];
    pt[np >> 22][(np >> 12) & 1023] &= ~1u;
    pt[ro >> 22][(ro >> 12) & 1023] &= ~2u;
    pt[sup >> 22][(sup >> 12) & 1023] &= ~4u;
    write_cr3((u32)pd);
    write_cr0(read_cr0() | 0x80010000); /* PG WP */

    expect("#PF read not-present", CASE(c_pf_read), 0, np + 0x123, c_pf_read_r, 14, 0, c_pf_read_f);
    CHECK(R.cr2 == np + 0x123, "#PF: CR2=%x expected %x", R.cr2, np + 0x123);
    expect("#PF write not-present", CASE(c_pf_write), 0, np + 8, c_pf_write_r, 14, 2, c_pf_write_f);
    CHECK(R.cr2 == np + 8, "#PF: CR2=%x expected %x", R.cr2, np + 8);
    expect("#PF write read-only with CR0.WP", CASE(c_pf_write), 0, ro + 0xffc, c_pf_write_r, 14, 3, c_pf_write_f);
    CHECK(R.cr2 == ro + 0xffc, "#PF: CR2=%x expected %x", R.cr2, ro + 0xffc);
    expect("#PF dword write straddling into not-present", CASE(c_pf_write), 0, np - 2, c_pf_write_r, 14, 2, c_pf_write_f);
    CHECK(R.cr2 == np, "#PF straddle: CR2=%x expected %x", R.cr2, np);
    expect("read of a read-only page (no fault)", CASE(c_pf_read), 0, ro, c_pf_read_r, NONE, 0, 0);
    u_pf_addr = sup + 4;
    expect_user("#PF user read of supervisor page", CASE(u_pf_read), 0x202, 0, 14, 5, u_pf_read_f);
    CHECK(R.cr2 == sup + 4, "#PF: CR2=%x expected %x", R.cr2, sup + 4);
    u_pf_addr = np + 0x40;
    expect_user("#PF user write not-present", CASE(u_pf_write), 0x202, 0, 14, 6, u_pf_write_f);
    CHECK(R.cr2 == np + 0x40, "#PF: CR2=%x expected %x", R.cr2, np + 0x40);
    u_pf_addr = ro + 0x10;
    expect_user("#PF user write read-only", CASE(u_pf_write), 0x202, 0, 14, 7, u_pf_write_f);
    u_pf_addr = ro + 0x10;
    expect_user("user read of read-only page (no fault)", CASE(u_pf_read), 0x202, 0, NONE, 0, 0);
    write_cr0(read_cr0() & ~0x10000u);
    expect("write read-only with CR0.WP=0 (no fault)", CASE(c_pf_write), 0, ro, c_pf_write_r, NONE, 0, 0);
    write_cr0(read_cr0() & ~0x80000000u);
}

void test_main(void)
{
    hw = cmdline_u32("hw", 0);
    for (int v = 0; v < 32; v++)
        isr_set(v, on_exc);
    isr_set(0x41, on_exc);
    isr_set(0x50, on_exc);
    setup_segments();
    divide_and_debug();
    invalid_and_fpu();
    segments();
    user_mode();
    paging();
}
