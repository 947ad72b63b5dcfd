/*
 * modes.c — real mode, protected mode and virtual-8086 mode, and the way
 * between them (SDM vol. 3, 9.9 and ch. 20). From the multiboot entry (PM) we
 * drop to real mode through a 16-bit PM segment and CR0.PE=0, do segment
 * arithmetic, 32-bit operands, a far call and an INT through an IVT vector we
 * install, and return to PM. Then v86 mode is entered by IRET with VM=1:
 * with IOPL<3, INT and CLI trap to the PM monitor with #GP(0); with IOPL=3,
 * INT goes through a DPL3 IDT gate (and the CPU zeroes DS..GS on the way in,
 * saving them in the frame) while IN still consults the TSS I/O bitmap.
 */
#include "guest.h"

const char guest_name[] = "modes";

#define BLOB_PA 0x8000u
#define BLOB_SEG 0x0800u
extern char rm_base[], rm_end[];
extern void modes_to_real(void);
extern u32 v86_call(u32 cs_ip, u32 ss_sp, u32 eflags);
extern NORETURN void v86_return(u32 v);
extern char res_cs[], res_seg[], res_eax[], res_isr_ax[], res_isr_ip[], res_isr_cs[],
    res_isr_flags[], res_isr_flags_in[], res_sp_before[], res_sp_after[], res_far[], res_v86_cs[],
    res_v86_seg[], res_v86_ax[], res_v86_ax3[], res_v86_flags[], res_v86_in[];
extern char v86_iopl0[], v86_iopl3[], v86_int62[], v86_cli[], v86_int64[], v86_in[], rm_after_int[];

#define OFF(l) ((u32)(l) - (u32)rm_base)
#define W(l) (*(volatile u16 *)(BLOB_PA + OFF(l)))
#define D(l) (*(volatile u32 *)(BLOB_PA + OFF(l)))

static struct {
    int n;
    u32 what[8], eip[8], err[8], eflags[8], ds[8], v86_ds[8], v86_es[8], ss[8], esp[8];
} M;

static void record(struct frame *f, u32 what)
{
    int i = M.n++;
    if (i >= 8)
        fail("monitor: too many events");
    M.what[i] = what, M.eip[i] = f->eip, M.err[i] = f->error, M.eflags[i] = f->eflags;
    M.ds[i] = f->ds, M.v86_ds[i] = f->v86_ds, M.v86_es[i] = f->v86_es, M.ss[i] = f->ss, M.esp[i] = f->esp;
}

/* #GP from v86: the monitor decodes and emulates the sensitive instruction */
static void on_gp(struct frame *f)
{
    if (!(f->eflags & EFL_VM))
        fail("#GP outside v86 at %x:%x err %x", f->cs, f->eip, f->error);
    u8 *ip = (u8 *)((f->cs << 4) + (f->eip & 0xFFFF));
    record(f, ip[0] == 0xCD ? 0xCD00 | ip[1] : ip[0]);
    if (ip[0] == 0xCD && ip[1] == 0x62) {
        f->eax = (f->eax & ~0xFFFFu) | 0x6262;
        f->eip += 2;
    } else if (ip[0] == 0xCD && ip[1] == 0x63) {
        v86_return(1);
    } else if (ip[0] == 0xFA) {
        f->eip += 1;
    } else if (ip[0] == 0xEC) {
        f->eax = (f->eax & ~0xFFu) | 0xEE;
        f->eip += 1;
    } else {
        fail("monitor: unexpected #GP in v86 at %x:%x opcode %x", f->cs, f->eip, ip[0]);
    }
}

static void on_int64(struct frame *f)
{
    record(f, 0x64);
    f->eax = (f->eax & ~0xFFFFu) | 0x6464;
}
static void on_int65(struct frame *f) { record(f, 0x65); v86_return(2); }

void test_main(void)
{
    u32 n = rm_end - rm_base;
    CHECK(n < 0x1000, "blob too big (%u)", n);
    memcpy((void *)BLOB_PA, rm_base, n);
    gdt_set(6, BLOB_PA, 0xFFFF, ACC_P | ACC_CODE_R, 0);  /* 0x30: 16-bit code */
    gdt_set(7, 0, 0xFFFF, ACC_P | ACC_DATA_W, 0);        /* 0x38: 16-bit data */

    /* ---- real mode ---- */
    modes_to_real();
    idt_reload();
    CHECK(read_cr0() & 1, "not back in protected mode");
    CHECK(W(res_cs) == BLOB_SEG, "real mode: CS=%x expected %x", W(res_cs), BLOB_SEG);
    CHECK((W(res_seg) & 0xFF) == 0x5A && *(volatile u8 *)0x12350 == 0x5A,
          "real mode: 1235:0000 read %x, linear 0x12350 holds %x (1234:0010 written 5A)",
          W(res_seg) & 0xFF, *(volatile u8 *)0x12350);
    CHECK(D(res_eax) == ((0x89ABCDEFu >> 8) | (0x89ABCDEFu << 24)), "real mode: o32 ror gave %x", D(res_eax));
    CHECK(W(res_isr_ax) == 0x1111 + 0x5000, "real mode INT 61h: AX=%x", W(res_isr_ax));
    CHECK(W(res_isr_ip) == OFF(rm_after_int) && W(res_isr_cs) == BLOB_SEG,
          "real mode INT: pushed return %x:%x expected %x:%x", W(res_isr_cs), W(res_isr_ip), BLOB_SEG,
          OFF(rm_after_int));
    CHECK(!(W(res_isr_flags_in) & (EFL_IF | EFL_TF)), "real mode INT: IF/TF not clear in handler (%x)",
          W(res_isr_flags_in));
    CHECK(W(res_sp_after) == W(res_sp_before), "real mode INT/IRET: SP %x -> %x", W(res_sp_before),
          W(res_sp_after));
    CHECK(W(res_far) == BLOB_SEG, "real mode far call: CS=%x", W(res_far));
    kprintf("ok   PM -> real mode (segments, o32, IVT INT, far call) -> PM\n");

    /* ---- v86, IOPL 0 ---- */
    isr_set(13, on_gp);
    M.n = 0;
    u32 r = v86_call((BLOB_SEG << 16) | OFF(v86_iopl0), 0x7000, EFL_VM | 0x2 | EFL_IOPL(0));
    CHECK(r == 1, "v86 IOPL0 did not end through the monitor (%x)", r);
    CHECK(W(res_v86_cs) == BLOB_SEG, "v86: CS=%x", W(res_v86_cs));
    CHECK((W(res_v86_seg) & 0xFF) == 0xA7, "v86: segment arithmetic read %x", W(res_v86_seg) & 0xFF);
    CHECK(M.n == 3 && M.what[0] == 0xCD62 && M.what[1] == 0xFA && M.what[2] == 0xCD63,
          "v86 IOPL0: monitor saw %d events (%x %x %x), expected int 62h, cli, int 63h", M.n,
          M.what[0], M.what[1], M.what[2]);
    CHECK(M.eip[0] == OFF(v86_int62) && M.eip[1] == OFF(v86_cli) && M.err[0] == 0 && M.err[1] == 0,
          "v86 #GP: eip %x/%x err %x/%x", M.eip[0], M.eip[1], M.err[0], M.err[1]);
    CHECK((M.eflags[0] & EFL_VM) && M.v86_ds[0] == BLOB_SEG && M.ds[0] == 0 && M.ss[0] == 0 &&
              M.esp[0] == 0x7000, "v86 #GP frame: eflags %x v86 ds %x ds %x ss:sp %x:%x", M.eflags[0],
          M.v86_ds[0], M.ds[0], M.ss[0], M.esp[0]);
    CHECK(W(res_v86_ax) == 0x6262, "v86: emulated INT result AX=%x", W(res_v86_ax));
    kprintf("ok   v86 IOPL0: INT and CLI trap to the monitor with #GP(0)\n");

    /* ---- v86, IOPL 3 ---- */
    idt_set_stub(0x64, ACC_P | ACC_DPL(3) | ACC_INTGATE32);
    idt_set_stub(0x65, ACC_P | ACC_DPL(3) | ACC_INTGATE32);
    isr_set(0x64, on_int64);
    isr_set(0x65, on_int65);
    M.n = 0;
    r = v86_call((BLOB_SEG << 16) | OFF(v86_iopl3), 0x7000, EFL_VM | 0x2 | EFL_IOPL(3) | EFL_IF);
    CHECK(r == 2, "v86 IOPL3 did not end through int 65h (%x)", r);
    CHECK(M.n == 3 && M.what[0] == 0x64 && M.what[1] == 0xEC && M.what[2] == 0x65,
          "v86 IOPL3: events %d (%x %x %x), expected int 64h via IDT, #GP on IN, int 65h", M.n,
          M.what[0], M.what[1], M.what[2]);
    CHECK(M.eip[0] == OFF(v86_int64) + 2 && (M.eflags[0] & EFL_VM) && M.v86_ds[0] == BLOB_SEG &&
              M.v86_es[0] == BLOB_SEG && M.ds[0] == 0,
          "v86 int 64h frame: eip %x eflags %x v86 ds/es %x/%x ds %x", M.eip[0], M.eflags[0],
          M.v86_ds[0], M.v86_es[0], M.ds[0]);
    CHECK(W(res_v86_ax3) == 0x6464, "v86: AX after int 64h = %x", W(res_v86_ax3));
    CHECK(!(W(res_v86_flags) & EFL_IF) && (W(res_v86_flags) & 0x3000) == 0x3000,
          "v86 IOPL3: CLI did not clear IF or IOPL wrong (flags %x)", W(res_v86_flags));
    CHECK(M.eip[1] == OFF(v86_in) && M.err[1] == 0 && (W(res_v86_in) & 0xFF) == 0xEE,
          "v86 IOPL3: IN without I/O bitmap: #GP at %x err %x", M.eip[1], M.err[1]);
    kprintf("ok   v86 IOPL3: INT through a DPL3 IDT gate, CLI allowed, IN checks the I/O bitmap\n");
}
