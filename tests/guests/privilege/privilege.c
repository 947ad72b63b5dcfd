/*
 * privilege.c — privilege-level transfers (SDM vol. 3, 5.8 and 6.12): CPL0->3 by
 * IRET and RETF (with data segments invalidated on the way out), CPL3->0
 * through 32- and 16-bit call gates with parameter copying and the TSS stack
 * switch, DPL3 interrupt and trap gates (IF cleared or kept), conforming code
 * (no CPL change), forbidden transfers (#GP), SYSENTER/SYSEXIT.
 */
#include "guest.h"

const char guest_name[] = "privilege";

#define EXT(n) extern char n[]
EXT(u_cg32); EXT(u_cg32_ret); EXT(cg32_handler); EXT(u_cg16_entry); EXT(u_cg16); EXT(u_cg16_ret);
EXT(cg16_handler); EXT(u_conf); EXT(conf_fn); EXT(u_call_kcode); EXT(u_call_kcode_f);
EXT(u_call_gate_dpl0); EXT(u_call_gate_dpl0_f); EXT(u_ints); EXT(u_sysenter); EXT(u_sysexit_ret);
EXT(sysenter_entry); EXT(u_segs);
extern u32 params[3], fp_uc16[2];
extern u16 params16[2];
extern u32 u_esp_before, u_esp_after, u_eax_after, u_cs_after, u_ss_after, u_ds, u_es, u_fs,
    u_eflags, k_esp, k_cs, k_ss, k_frame[8], k_eflags;
#define FN(x) ((void (*)(void))(x))

static u8 stack16[0x1000] __attribute__((aligned(16)));
static u8 sysenter_stack[4096] __attribute__((aligned(16)));

static struct {
    int n;
    u32 vec[4], err[4], eip[4], cs[4], ss[4], esp[4], if_in_handler[4], frame_top[4];
} X;

static void on_int(struct frame *f)
{
    int i = X.n++;
    if (i >= 4)
        fail("too many interrupts");
    X.vec[i] = f->vector;
    X.err[i] = f->error;
    X.eip[i] = f->eip;
    X.cs[i] = f->cs;
    X.ss[i] = f->ss;
    X.esp[i] = f->esp;
    X.if_in_handler[i] = read_eflags() & EFL_IF; /* as the gate left it: the stub does not touch IF */
    X.frame_top[i] = (u32)&f->ss + 4;
    if (f->vector == 13)
        user_return(0xdead);
}

static void wrmsr(u32 msr, u32 lo) { __asm__ volatile("wrmsr" ::"c"(msr), "a"(lo), "d"(0)); }

#define SEL(i) ((i) << 3)

void test_main(void)
{
    u32 r;
    u32 kc16_base = (u32)cg16_handler & ~0xFFFFu, uc16_base = (u32)u_cg16 & ~0xFFFFu;
    gdt_set_gate(6, SEL_KCODE, (u32)cg32_handler, ACC_P | ACC_DPL(3) | ACC_CALLGATE32, 3);
    gdt_set_gate(7, SEL(8), (u32)cg16_handler - kc16_base, ACC_P | ACC_DPL(3) | ACC_CALLGATE16, 2);
    gdt_set(8, kc16_base, 0xFFFFF, ACC_P | ACC_CODE_R, FLG_G | FLG_D);
    gdt_set(9, uc16_base, 0xFFFFF, ACC_P | ACC_DPL(3) | ACC_CODE_R, FLG_G | FLG_D);
    gdt_set(10, (u32)stack16, 0xFFF, ACC_P | ACC_DPL(3) | ACC_DATA_W, 0);
    gdt_set(11, 0, 0xFFFFF, ACC_P | ACC_CODE_CR, FLG_G | FLG_D);
    gdt_set_gate(12, SEL_KCODE, (u32)cg32_handler, ACC_P | ACC_DPL(0) | ACC_CALLGATE32, 3);
    fp_uc16[0] = (u32)u_cg16 - uc16_base;
    CHECK(fp_uc16[0] < 0xFF00 && (u32)cg16_handler - kc16_base < 0xFF00,
          "16-bit gate code must sit in the first 64K of its segment; relink");
    idt_set_stub(0x81, ACC_P | ACC_DPL(3) | ACC_INTGATE32);
    idt_set_stub(0x82, ACC_P | ACC_DPL(3) | ACC_TRAPGATE32);
    isr_set(0x81, on_int);
    isr_set(0x82, on_int);
    isr_set(13, on_int);

    /* 1. IRET to CPL3 with DS/ES = a DPL0 selector: they must become null */
    user_ds_override = SEL_KDATA;
    r = user_call(FN(u_segs), USER_STACK_TOP, 0x202, 0);
    user_ds_override = 0;
    CHECK(u_cs_after == SEL_UCODE && u_ss_after == SEL_UDATA, "IRET to CPL3: CS=%x SS=%x",
          u_cs_after, u_ss_after);
    CHECK(u_esp_after == USER_STACK_TOP, "IRET to CPL3: ESP=%x expected %x", u_esp_after, USER_STACK_TOP);
    CHECK((u_eflags & 0x3202) == 0x202, "IRET to CPL3: EFLAGS=%x", u_eflags);
    CHECK(u_ds == 0 && u_es == 0, "IRET to CPL3 did not null DPL0 DS/ES: DS=%x ES=%x", u_ds, u_es);
    CHECK(u_fs == SEL_UDATA, "IRET to CPL3: FS=%x", u_fs);
    kprintf("ok   IRET to CPL3 (DPL0 DS/ES nulled, FS kept)\n");

    /* 2. RETF to CPL3 */
    user_use_retf = 1;
    r = user_call(FN(u_segs), USER_STACK_TOP - 64, 0, 0);
    user_use_retf = 0;
    CHECK(u_cs_after == SEL_UCODE && u_ss_after == SEL_UDATA && u_esp_after == USER_STACK_TOP - 64,
          "RETF to CPL3: CS=%x SS=%x ESP=%x", u_cs_after, u_ss_after, u_esp_after);
    kprintf("ok   RETF to CPL3\n");

    /* 3. 32-bit call gate, 3 dword parameters */
    r = user_call(FN(u_cg32), USER_STACK_TOP, 0x202, 0);
    CHECK(k_cs == SEL_KCODE && k_ss == SEL_KDATA, "call gate 32: handler CS=%x SS=%x", k_cs, k_ss);
    CHECK(k_esp == kernel_tss.esp0 - 28, "call gate 32: ring-0 ESP=%x expected TSS.ESP0-28=%x",
          k_esp, kernel_tss.esp0 - 28);
    CHECK(k_frame[0] == (u32)u_cg32_ret && k_frame[1] == SEL_UCODE,
          "call gate 32: return address %x:%x expected %x:%x", k_frame[1], k_frame[0], SEL_UCODE,
          (u32)u_cg32_ret);
    CHECK(k_frame[2] == params[2] && k_frame[3] == params[1] && k_frame[4] == params[0],
          "call gate 32: parameters copied %x %x %x", k_frame[4], k_frame[3], k_frame[2]);
    CHECK(k_frame[5] == u_esp_before - 12 && k_frame[6] == SEL_UDATA,
          "call gate 32: saved SS:ESP %x:%x expected %x:%x", k_frame[6], k_frame[5], SEL_UDATA,
          u_esp_before - 12);
    CHECK(u_eax_after == 0xC0DE && u_esp_after == u_esp_before && u_cs_after == SEL_UCODE,
          "call gate 32: after RETF 12: eax=%x esp=%x (want %x) cs=%x", u_eax_after, u_esp_after,
          u_esp_before, u_cs_after);
    kprintf("ok   32-bit call gate CPL3->0 with parameter copy, RETF back\n");

    /* 4. 16-bit call gate, 2 word parameters, 16-bit stacks */
    memset(k_frame, 0, sizeof k_frame);
    r = user_call(FN(u_cg16_entry), USER_STACK_TOP, 0x202, 0);
    u16 *w = (u16 *)k_frame;
    CHECK(k_cs == SEL(8) && k_ss == SEL_KDATA, "call gate 16: handler CS=%x SS=%x", k_cs, k_ss);
    CHECK(k_esp == kernel_tss.esp0 - 12, "call gate 16: ring-0 ESP=%x expected TSS.ESP0-12=%x",
          k_esp, kernel_tss.esp0 - 12);
    CHECK(w[0] == (u32)u_cg16_ret - uc16_base && w[1] == (SEL(9) | 3),
          "call gate 16: return address %x:%x", w[1], w[0]);
    CHECK(w[2] == params16[1] && w[3] == params16[0], "call gate 16: parameters %x %x", w[3], w[2]);
    CHECK(w[4] == 0x0FF0 - 4 && w[5] == (SEL(10) | 3), "call gate 16: saved SS:SP %x:%x", w[5], w[4]);
    CHECK((u_esp_after & 0xFFFF) == 0x0FF0 && u_eax_after == 0xC16 && u_cs_after == (SEL(9) | 3),
          "call gate 16: after o16 RETF 4: sp=%x eax=%x cs=%x", u_esp_after, u_eax_after, u_cs_after);
    kprintf("ok   16-bit call gate CPL3->0 with parameter copy, 16-bit RETF back\n");

    /* 5. conforming code: CPL stays 3, no stack switch */
    r = user_call(FN(u_conf), USER_STACK_TOP, 0x202, 0);
    CHECK(k_cs == (SEL(11) | 3), "conforming: CS=%x expected %x (RPL = CPL 3)", k_cs, SEL(11) | 3);
    CHECK(k_ss == SEL_UDATA && k_esp == u_esp_before - 8, "conforming: SS:ESP=%x:%x, no switch expected",
          k_ss, k_esp);
    CHECK(u_eax_after == 0xC0F, "conforming: did not return");
    kprintf("ok   far call to conforming code stays at CPL3\n");

    /* 6. forbidden transfers */
    X.n = 0;
    r = user_call(FN(u_call_kcode), USER_STACK_TOP, 0x202, 0);
    CHECK(r == 0xdead && X.n == 1 && X.vec[0] == 13 && X.err[0] == SEL_KCODE &&
          X.eip[0] == (u32)u_call_kcode_f, "far call CPL3 -> DPL0 code: want #GP(8) at %x, got %u exc vec %u err %x eip %x",
          (u32)u_call_kcode_f, X.n, X.vec[0], X.err[0], X.eip[0]);
    X.n = 0;
    r = user_call(FN(u_call_gate_dpl0), USER_STACK_TOP, 0x202, 0);
    CHECK(r == 0xdead && X.n == 1 && X.vec[0] == 13 && X.err[0] == SEL(12) &&
          X.eip[0] == (u32)u_call_gate_dpl0_f, "call through DPL0 gate from CPL3: want #GP(%x), got %u exc vec %u err %x",
          SEL(12), X.n, X.vec[0], X.err[0]);
    kprintf("ok   CPL3 far call to DPL0 code / DPL0 gate -> #GP(selector)\n");

    /* 7. interrupt gate clears IF, trap gate keeps it; both switch to TSS.SS0:ESP0 */
    X.n = 0;
    r = user_call(FN(u_ints), USER_STACK_TOP, 0x202, 0);
    CHECK(X.n == 2 && X.vec[0] == 0x81 && X.vec[1] == 0x82, "int gates: %u interrupts", X.n);
    CHECK(!X.if_in_handler[0], "interrupt gate did not clear IF");
    CHECK(X.if_in_handler[1], "trap gate cleared IF");
    for (int i = 0; i < 2; i++) {
        CHECK(X.cs[i] == SEL_UCODE && X.ss[i] == SEL_UDATA && X.esp[i] == u_esp_before,
              "int 0x%x from CPL3: saved %x:%x SS:ESP %x:%x", X.vec[i], X.cs[i], X.eip[i], X.ss[i], X.esp[i]);
        CHECK(X.frame_top[i] == kernel_tss.esp0, "int 0x%x: frame not at TSS.ESP0 (%x vs %x)",
              X.vec[i], X.frame_top[i], kernel_tss.esp0);
    }
    CHECK(u_esp_after == u_esp_before, "after two IRETs to CPL3: ESP %x, expected %x", u_esp_after, u_esp_before);
    kprintf("ok   DPL3 interrupt gate (IF cleared) and trap gate (IF kept), stack switch\n");

    /* 8. SYSENTER / SYSEXIT */
    wrmsr(0x174, SEL_KCODE);
    wrmsr(0x175, (u32)sysenter_stack + sizeof sysenter_stack);
    wrmsr(0x176, (u32)sysenter_entry);
    r = user_call(FN(u_sysenter), USER_STACK_TOP, 0x202, 0);
    CHECK(k_cs == SEL_KCODE && k_ss == SEL_KDATA, "sysenter: CS=%x SS=%x", k_cs, k_ss);
    CHECK(k_esp == (u32)sysenter_stack + sizeof sysenter_stack, "sysenter: ESP=%x", k_esp);
    CHECK(!(k_eflags & EFL_IF), "sysenter did not clear IF");
    CHECK(u_cs_after == SEL_UCODE && u_ss_after == SEL_UDATA && u_esp_after == u_esp_before,
          "sysexit: CS=%x SS=%x ESP=%x", u_cs_after, u_ss_after, u_esp_after);
    kprintf("ok   SYSENTER to CPL0, SYSEXIT to CPL3\n");
    (void)r;
}
