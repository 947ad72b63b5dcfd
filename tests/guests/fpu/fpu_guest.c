/*
 * fpu_guest.c — the guest driver of the x87 test: runs the shared kernels
 * (fpu_kernels.c) with output on COM1, then the system-level checks that
 * only a kernel can make, which the native reference prints verbatim:
 *   - CR0.TS: an ESC instruction raises #NM; the handler does CLTS and the
 *     instruction is retried (lazy FPU switching);  CR0.EM: #NM likewise;
 *   - WAIT raises #NM only when CR0.MP and CR0.TS are both set;
 *   - CR0.NE=1: an unmasked exception (divide by zero) is reported as #MF
 *     at the next waiting instruction, with FIP naming the guilty one; no-wait
 *     instructions (FNSTSW) run meanwhile.
 * The CR0.NE=0 / FERR# / IRQ13 path needs the machine's interrupt wiring and
 * is covered by the unit test.
 *
 *     -append fpu=verbose      per-form hashes (compare with fpu-native verbose)
 */
#include "guest.h"

#include "fpu_test.h"

const char guest_name[] = "fpu";

static u8 code[FPU_CODE_SIZE] __attribute__((aligned(16)));

static void report(const char *name, u32 id, u32 n, u32 hash)
{
    kprintf("%s %x n=%u h=%08x\n", name, id, n, hash);
}

static volatile u32 nm_count, mf_count, mf_eip, mf_fip;

static void on_nm(struct frame *f)
{
    nm_count++;
    write_cr0(read_cr0() & ~0xcu); /* clear TS and EM: the FPU state is "ours" now */
    (void)f;
}

static void on_mf(struct frame *f)
{
    u32 env[7];
    mf_count++;
    mf_eip = f->eip;
    __asm__ volatile("fnstenv %0\n\tfnclex" : "=m"(env));
    __asm__ volatile("fldenv %0" ::"m"(env)); /* FNSTENV masked everything: undo */
    __asm__ volatile("fnclex");
    mf_fip = env[3];
}

static void system_checks(void)
{
    u32 cr0 = read_cr0();
    double one;

    /* lazy switching: TS set, the first ESC traps, the handler clears TS */
    nm_count = 0;
    write_cr0(cr0 | 0x8); /* TS */
    __asm__ volatile("fninit\n\tfld1\n\tfstpl %0" : "=m"(one));
    CHECK(nm_count == 1 && one == 1.0, "#NM on TS: count %u", nm_count);
    write_cr0(cr0 | 0x4); /* EM */
    __asm__ volatile("fld1\n\tfstpl %0" : "=m"(one));
    CHECK(nm_count == 2 && one == 1.0, "#NM on EM: count %u", nm_count);

    /* WAIT: #NM only with MP and TS */
    write_cr0((cr0 & ~0x2u) | 0x8);
    __asm__ volatile("fwait");
    CHECK(nm_count == 2, "WAIT with TS but not MP trapped");
    write_cr0(cr0 | 0x2 | 0x8);
    __asm__ volatile("fwait");
    CHECK(nm_count == 3, "WAIT with MP and TS did not trap");
    write_cr0(cr0);

    /* #MF: divide by zero with ZE unmasked, reported at the next FWAIT */
    u16 cw = 0x037b, sw;
    u32 fdiv_at, wait_at;
    mf_count = 0;
    __asm__ volatile("fninit\n\t"
                     "fldcw %3\n\t"
                     "fld1\n\t"
                     "fldz\n\t"
                     "1: .byte 0xde, 0xf9\n\t" /* FDIVP ST(1),ST(0): 1 / 0 */
                     "fnstsw %2\n\t"
                     "2: fwait\n\t"
                     "movl $1b, %0\n\t"
                     "movl $2b, %1\n\t"
                     "fninit"
                     : "=r"(fdiv_at), "=r"(wait_at), "=m"(sw)
                     : "m"(cw));
    CHECK(sw & 0x80, "divide by zero did not set ES (sw %x)", sw);
    CHECK(mf_count == 1, "#MF count %u", mf_count);
    CHECK(mf_eip == wait_at, "#MF at %x, want %x (the FWAIT)", mf_eip, wait_at);
    CHECK(mf_fip == fdiv_at, "FIP %x, want %x (the FDIV)", mf_fip, fdiv_at);
    kprintf("system: #NM lazy switch ok, WAIT ok, #MF ok\n");
}

void test_main(void)
{
    static char buf[16];
    int verbose = cmdline_get("fpu", buf, sizeof buf) && !strcmp(buf, "verbose");
    /* MP: WAIT honours TS; NE: native #MF reporting; EM, TS: FPU present */
    write_cr0((read_cr0() & ~0xcu) | 0x2 | 0x20);
    isr_set(7, on_nm);
    isr_set(16, on_mf);
    kprintf("x87 differential test\n");
    fpu_run(code, verbose, report);
    system_checks();
}
