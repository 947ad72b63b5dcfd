/*
 * native.c — difftest_native, the host half of the differential tester: a
 * 32-bit Linux program (gcc -m32 -fno-pie) that runs instruction sequences
 * on the real CPU in user mode and reports the state they end in.
 *
 * Usage (started by difftest, not by hand):  difftest_native SHM_FD RD_FD WR_FD
 *
 * Code and data are mapped at the fixed addresses of dt_shared.h.  A run
 * loads every register, EFLAGS and the x87 state (FRSTOR) in a small assembly
 * trampoline that touches no memory of the test, jumps to the sequence, and
 * always ends in a signal: the generator terminates every sequence with UD2,
 * so a normal end is #UD at the last instruction and a fault inside the
 * sequence (#DE, #GP, #AC, #MF, ...) is caught the same way.  The signal
 * handler runs on an alternate stack (the sequence's ESP points into the data
 * buffer under test) and takes everything from the signal frame: general
 * registers, EIP, EFLAGS, the trap number and error code that the kernel
 * records for the exception, and the x87 state, which the kernel stores in
 * the legacy FNSAVE layout at the head of the 32-bit frame's FPU area.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_shared.h"

#if !defined(__i386__)
#error "difftest_native must be built with -m32"
#endif

/* Read by the trampoline with absolute addressing (hence -fno-pie). */
uint32_t dt_regs[8];
uint32_t dt_eflags_slot[2];
uint32_t dt_entry = DT_CODE_BASE;
uint8_t dt_fpu_img[108] __attribute__((aligned(16)));

void dt_enter(void);
__asm__(".text\n"
        ".globl dt_enter\n"
        "dt_enter:\n"
        "  frstor dt_fpu_img\n"
        "  movl $dt_eflags_slot, %esp\n"
        "  popfl\n"
        "  movl dt_regs+0, %eax\n"
        "  movl dt_regs+4, %ecx\n"
        "  movl dt_regs+8, %edx\n"
        "  movl dt_regs+12, %ebx\n"
        "  movl dt_regs+20, %ebp\n"
        "  movl dt_regs+24, %esi\n"
        "  movl dt_regs+28, %edi\n"
        "  movl dt_regs+16, %esp\n"
        "  jmp *dt_entry\n");

static struct dt_shm *shm;
static uint8_t *code_buf, *data_buf, *low_buf; /* the fixed mappings */
static sigjmp_buf back;

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
    /* The sequence may have set EFLAGS.AC, and the kernel passes it on to
     * the handler; with CR0.AM set by Linux any misaligned access in libc
     * would then raise #AC here. */
    __asm__ volatile("pushfl; andl $~0x40000, (%%esp); popfl" ::: "memory", "cc");
    (void)sig;
    (void)si;
    ucontext_t *uc = ctx;
    const greg_t *g = uc->uc_mcontext.gregs;
    struct dt_state *o = &shm->out;
    o->regs[0] = (uint32_t)g[REG_EAX];
    o->regs[1] = (uint32_t)g[REG_ECX];
    o->regs[2] = (uint32_t)g[REG_EDX];
    o->regs[3] = (uint32_t)g[REG_EBX];
    o->regs[4] = (uint32_t)g[REG_ESP];
    o->regs[5] = (uint32_t)g[REG_EBP];
    o->regs[6] = (uint32_t)g[REG_ESI];
    o->regs[7] = (uint32_t)g[REG_EDI];
    o->eip = (uint32_t)g[REG_EIP];
    o->eflags = (uint32_t)g[REG_EFL];
    o->vector = (uint32_t)g[REG_TRAPNO];
    o->error = (uint32_t)g[REG_ERR];
    o->sreg[DT_ES] = (uint16_t)g[REG_ES];
    o->sreg[DT_CS] = (uint16_t)g[REG_CS];
    o->sreg[DT_SS] = (uint16_t)g[REG_SS];
    o->sreg[DT_DS] = (uint16_t)g[REG_DS];
    o->sreg[DT_FS] = (uint16_t)g[REG_FS];
    o->sreg[DT_GS] = (uint16_t)g[REG_GS];
    if (uc->uc_mcontext.fpregs)
        memcpy(o->fpu, uc->uc_mcontext.fpregs, sizeof o->fpu);
    else
        memset(o->fpu, 0xee, sizeof o->fpu);
    siglongjmp(back, 1);
}

static void *map_fixed(uint32_t addr, uint32_t size, int prot)
{
    void *p = mmap((void *)(uintptr_t)addr, size, prot,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    return p == (void *)(uintptr_t)addr ? p : NULL;
}

static void run_one(void)
{
    uint32_t at = shm->code_addr - DT_CODE_BASE;
    if (at > DT_CODE_SIZE - 2 * DT_CODE_MAX)
        at = 0;
    uint8_t *code = code_buf + at;
    uint32_t n = shm->code_len > DT_CODE_MAX ? DT_CODE_MAX : shm->code_len;
    dt_entry = DT_CODE_BASE + at;
    memcpy(code, shm->code, n);
    __builtin___clear_cache((char *)code, (char *)code + n);
    memcpy(data_buf, shm->data, DT_DATA_SIZE);
    int use_low = (shm->flags & DT_F_USE_LOW) && shm->low_ok;
    if (use_low)
        memcpy(low_buf, shm->low, DT_LOW_SIZE);
    memcpy(dt_regs, shm->in.regs, sizeof dt_regs);
    dt_eflags_slot[0] = shm->in.eflags;
    memcpy(dt_fpu_img, shm->in.fpu, sizeof dt_fpu_img);
    memset(&shm->out, 0, sizeof shm->out);
    if (sigsetjmp(back, 1) == 0)
        dt_enter();
    memcpy(shm->data, data_buf, DT_DATA_SIZE);
    if (use_low)
        memcpy(shm->low, low_buf, DT_LOW_SIZE);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SHM_FD RD_FD WR_FD (started by difftest)\n", argv[0]);
        return 2;
    }
    int shm_fd = atoi(argv[1]), rd = atoi(argv[2]), wr = atoi(argv[3]);
    shm = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd, 0);
    if (shm == MAP_FAILED) {
        perror("difftest_native: mmap shm");
        return 1;
    }
    code_buf = map_fixed(DT_CODE_BASE, DT_CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC);
    data_buf = map_fixed(DT_DATA_BASE, DT_DATA_SIZE, PROT_READ | PROT_WRITE);
    if (!code_buf || !data_buf) {
        perror("difftest_native: mapping the code/data buffers");
        return 1;
    }
    low_buf = map_fixed(DT_LOW_BASE, DT_LOW_SIZE, PROT_READ | PROT_WRITE);
    shm->low_ok = low_buf != NULL;

    static uint8_t altstack[65536] __attribute__((aligned(16)));
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack };
    if (sigaltstack(&ss, NULL)) {
        perror("difftest_native: sigaltstack");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = { SIGILL, SIGSEGV, SIGFPE, SIGTRAP, SIGBUS };
    for (unsigned k = 0; k < sizeof sigs / sizeof sigs[0]; k++)
        sigaction(sigs[k], &sa, NULL);

    uint16_t s[DT_NSEG];
    __asm__("mov %%es, %0" : "=r"(s[DT_ES]));
    __asm__("mov %%cs, %0" : "=r"(s[DT_CS]));
    __asm__("mov %%ss, %0" : "=r"(s[DT_SS]));
    __asm__("mov %%ds, %0" : "=r"(s[DT_DS]));
    __asm__("mov %%fs, %0" : "=r"(s[DT_FS]));
    __asm__("mov %%gs, %0" : "=r"(s[DT_GS]));
    memcpy(shm->host_sreg, s, sizeof s);
    shm->magic = DT_MAGIC;

    char c = 'R';
    if (write(wr, &c, 1) != 1)
        return 1;
    while (read(rd, &c, 1) == 1) {
        if (c == 'Q')
            break;
        run_one();
        c = 'D';
        if (write(wr, &c, 1) != 1)
            return 1;
    }
    return 0;
}
