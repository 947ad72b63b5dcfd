/*
 * taskswitch.c — hardware task switches (SDM vol. 3, ch. 7): JMP to a TSS
 * (no nesting, old task not busy), CALL to a TSS and through a task gate (NT
 * set, back-link, both busy) with IRET back, INT through an IDT task gate, an
 * exception through a task gate with its error code on the new task's stack,
 * and #GP for a jump to the busy current task. Register and segment state is
 * checked on both sides, including what the CPU saved into the old TSS.
 */
#include "guest.h"

const char guest_name[] = "taskswitch";

extern void ts_go(int how);
extern void ts_busy(void);
extern char task_b[], ts_jmp_after[], ts_call_after[], ts_gate_after[], ts_int_after[],
    ts_gp_site[], ts_gp_after[], ts_busy_site[], ts_busy_after[];
extern u32 ptr_b[2], ptr_gate[2], bad_sel, tss_b_sel, b_mode, a_after[8], b_regs[8], b_segs[6],
    b_tr, b_eflags, b_busy_a, b_busy_b, b_err;

static struct tss32 tss_b __attribute__((aligned(128)));
static u8 stack_b[4096] __attribute__((aligned(16)));
#define G_TSSB GDT_FIRST_FREE
#define G_GATE (GDT_FIRST_FREE + 1)
#define SEL_B (G_TSSB << 3)
#define SEL_GATE (G_GATE << 3)

static const char *const how_name[] = { "jmp tss", "call tss", "call task gate", "int task gate",
                                        "#GP task gate" };

static void init_b(void)
{
    memset(&tss_b, 0, sizeof tss_b);
    tss_b.eip = (u32)task_b;
    tss_b.esp = (u32)stack_b + sizeof stack_b;
    tss_b.eflags = 0x2;
    tss_b.cs = SEL_KCODE;
    tss_b.ss = tss_b.ds = tss_b.es = tss_b.fs = tss_b.gs = SEL_KDATA;
    tss_b.eax = 0xB0B0B0B0, tss_b.ebx = 0xB1B1B1B1, tss_b.ecx = 0xB2B2B2B2, tss_b.edx = 0xB3B3B3B3;
    tss_b.esi = 0xB4B4B4B4, tss_b.edi = 0xB5B5B5B5, tss_b.ebp = 0xB6B6B6B6;
    tss_b.cr3 = read_cr3();
    tss_b.iomap = sizeof tss_b;
    tss_b.link = 0x5555; /* must be overwritten by a nesting switch */
    memset(b_regs, 0, 32);
}

static struct { int n; u32 vec, err, eip; } G;
static void on_gp(struct frame *f)
{
    G.n++, G.vec = f->vector, G.err = f->error, G.eip = f->eip;
    f->eip = (u32)ts_busy_after;
}

static void check_b_side(int how, u32 expect_esp)
{
    const char *h = how_name[how];
    static const u32 want[7] = { 0xB0B0B0B0, 0xB1B1B1B1, 0xB2B2B2B2, 0xB3B3B3B3, 0xB4B4B4B4,
                                 0xB5B5B5B5, 0xB6B6B6B6 };
    for (int i = 0; i < 7; i++)
        CHECK(b_regs[i] == want[i], "%s: task B register %d = %x, expected %x from its TSS", h, i,
              b_regs[i], want[i]);
    CHECK(b_regs[7] == expect_esp, "%s: task B ESP %x, expected %x", h, b_regs[7], expect_esp);
    CHECK(b_segs[0] == SEL_KCODE && b_segs[1] == SEL_KDATA && b_segs[2] == SEL_KDATA &&
              b_segs[5] == SEL_KDATA, "%s: task B segments cs=%x ss=%x ds=%x gs=%x", h, b_segs[0],
          b_segs[1], b_segs[2], b_segs[5]);
    CHECK(b_tr == SEL_B, "%s: TR in task B = %x", h, b_tr);
}

static void check_a_side(int how, u32 after)
{
    const char *h = how_name[how];
    static const u32 want[7] = { 0xA0A0A0A0, 0xA1A1A1A1, 0xA2A2A2A2, 0xA3A3A3A3, 0xA4A4A4A4,
                                 0xA5A5A5A5, 0xA6A6A6A6 };
    for (int i = 0; i < 7; i++)
        CHECK(a_after[i] == want[i], "%s: task A register %d after return = %x, expected %x", h,
              i, a_after[i], want[i]);
    CHECK(!(a_after[7] & EFL_NT), "%s: NT set in task A after return", h);
    CHECK(kernel_tss.eax == want[0] && kernel_tss.ebx == want[1] && kernel_tss.esi == want[4] &&
              kernel_tss.ebp == want[6], "%s: registers saved into A's TSS wrong (eax=%x ebx=%x)", h,
          kernel_tss.eax, kernel_tss.ebx);
    CHECK(kernel_tss.eip == after, "%s: EIP saved in A's TSS %x, expected %x", h, kernel_tss.eip, after);
    CHECK(kernel_tss.cs == SEL_KCODE && kernel_tss.ds == SEL_KDATA && kernel_tss.ss == SEL_KDATA,
          "%s: segments saved in A's TSS cs=%x ds=%x ss=%x", h, kernel_tss.cs, kernel_tss.ds, kernel_tss.ss);
    CHECK(read_tr() == SEL_TSS, "%s: TR after return %x", h, read_tr());
    CHECK((gdt[5].access & 0x0F) == ACC_TSS32_BUSY, "%s: A's TSS not busy after return", h);
    CHECK((gdt[G_TSSB].access & 0x0F) == ACC_TSS32, "%s: B's TSS still busy after return (%x)", h,
          gdt[G_TSSB].access);
}

void test_main(void)
{
    gdt_set(G_TSSB, (u32)&tss_b, sizeof tss_b - 1, ACC_P | ACC_TSS32, 0);
    gdt_set_gate(G_GATE, SEL_B, 0, ACC_P | ACC_TASKGATE, 0);
    idt_set(0x90, SEL_B, 0, ACC_P | ACC_TASKGATE);
    ptr_b[1] = SEL_B;
    ptr_gate[1] = SEL_GATE;
    tss_b_sel = SEL_B;
    u32 top = (u32)stack_b + sizeof stack_b;

    /* 1. JMP: not nested */
    init_b();
    b_mode = 0;
    ts_go(0);
    check_b_side(0, top);
    CHECK(!(b_eflags & EFL_NT), "jmp tss: NT set in task B");
    CHECK((b_busy_a & 0x0F) == ACC_TSS32 && (b_busy_b & 0x0F) == ACC_TSS32_BUSY,
          "jmp tss: in B, A's type %x (want available) B's %x (want busy)", b_busy_a & 0xF, b_busy_b & 0xF);
    CHECK(tss_b.link == 0x5555, "jmp tss: back-link written (%x)", tss_b.link);
    check_a_side(0, (u32)ts_jmp_after);
    CHECK(tss_b.eip > (u32)task_b, "jmp tss: B's EIP not saved into its TSS (%x)", tss_b.eip);
    kprintf("ok   jmp to TSS and jmp back\n");

    /* 2-4. nested: CALL TSS, CALL task gate, INT task gate; IRET back */
    char *ret_at[5] = { ts_jmp_after, ts_call_after, ts_gate_after, ts_int_after, ts_gp_after };
    for (int how = 1; how <= 4; how++) {
        init_b();
        b_mode = how;
        b_err = 0xffffffff;
        if (how == 4)
            idt_set(13, SEL_B, 0, ACC_P | ACC_TASKGATE);
        ts_go(how);
        if (how == 4)
            idt_set_stub(13, ACC_P | ACC_INTGATE32);
        check_b_side(how, how == 4 ? top - 4 : top);
        CHECK(b_eflags & EFL_NT, "%s: NT clear in task B", how_name[how]);
        CHECK(tss_b.link == SEL_TSS, "%s: back-link %x, expected %x", how_name[how], tss_b.link, SEL_TSS);
        CHECK((b_busy_a & 0x0F) == ACC_TSS32_BUSY && (b_busy_b & 0x0F) == ACC_TSS32_BUSY,
              "%s: in B, A's type %x B's %x (both must be busy)", how_name[how], b_busy_a & 0xF, b_busy_b & 0xF);
        if (how == 4) {
            CHECK(b_err == (bad_sel & ~3u), "#GP task gate: error code %x on B's stack, expected %x",
                  b_err, bad_sel & ~3u);
            /* A's EIP was saved at the faulting instruction; B moved it past */
            check_a_side(how, (u32)ts_gp_after);
        } else {
            check_a_side(how, (u32)ret_at[how]);
        }
        kprintf("ok   %s, iret back\n", how_name[how]);
    }

    /* 5. jmp to the busy current task -> #GP(selector) */
    isr_set(13, on_gp);
    ts_busy();
    CHECK(G.n == 1 && G.vec == 13 && G.err == SEL_TSS && G.eip == (u32)ts_busy_site,
          "jmp to busy TSS: %d faults, vector %u err %x eip %x (want #GP(%x) at %x)", G.n, G.vec,
          G.err, G.eip, SEL_TSS, (u32)ts_busy_site);
    kprintf("ok   jmp to the busy current TSS -> #GP(selector)\n");
}
