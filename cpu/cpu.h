/*
 * cpu.h — the public face of Umbra's x86 core (an i686 / P6-class CPU).
 *
 * Everything outside cpu/ sees the CPU only through this header: the
 * architectural state (so the loader, monitor and tests can read and set it),
 * the run entry point, and the two narrow interfaces through which the CPU
 * reaches the rest of the machine — port I/O and the interrupt line.  The
 * decoder, block cache and instruction semantics live behind cpu_internal.h.
 *
 * Design choice: arithmetic flags are lazy (see cpu_internal.h); always read
 * EFLAGS through cpu_get_eflags() and write it through cpu_set_eflags().
 */
#ifndef UMBRA_CPU_H
#define UMBRA_CPU_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/fpu.h"
#include "mmu/mmu.h"

enum { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };
/* Segment registers in encoding order, then the two system segments. */
enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_LDTR, SEG_TR, SEG_COUNT };
#define SEG_NONE 0xff

/* EFLAGS bits */
#define FL_CF 0x00000001u
#define FL_PF 0x00000004u
#define FL_AF 0x00000010u
#define FL_ZF 0x00000040u
#define FL_SF 0x00000080u
#define FL_TF 0x00000100u
#define FL_IF 0x00000200u
#define FL_DF 0x00000400u
#define FL_OF 0x00000800u
#define FL_IOPL 0x00003000u
#define FL_NT 0x00004000u
#define FL_RF 0x00010000u
#define FL_VM 0x00020000u
#define FL_AC 0x00040000u
#define FL_VIF 0x00080000u
#define FL_VIP 0x00100000u
#define FL_ID 0x00200000u
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

/* CR0 / CR4 bits */
#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u
#define CR4_VME 0x0001u
#define CR4_PVI 0x0002u
#define CR4_TSD 0x0004u
#define CR4_DE 0x0008u
#define CR4_PSE 0x0010u
#define CR4_PAE 0x0020u
#define CR4_MCE 0x0040u
#define CR4_PGE 0x0080u
#define CR4_PCE 0x0100u
#define CR4_OSFXSR 0x0200u
#define CR4_OSXMMEXCPT 0x0400u

/* Exception vectors */
enum {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
    EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
    EXC_MF = 16, EXC_AC = 17, EXC_MC = 18, EXC_XM = 19,
};

/*
 * A segment register with its hidden descriptor cache.  `flags` holds bits
 * 8..23 of the descriptor's high dword exactly as in memory (type, S, DPL, P,
 * AVL, L, D/B, G) so tests against the SDM's bit layout read naturally; `limit`
 * is the effective byte limit (already scaled by G).
 */
struct segment {
    uint16_t sel;
    uint32_t base;
    uint32_t limit;
    uint32_t flags;
};
#define SEGF_TYPE(f) (((f) >> 8) & 0xf)
#define SEGF_S(f) (((f) >> 12) & 1)
#define SEGF_DPL(f) (((f) >> 13) & 3)
#define SEGF_P(f) (((f) >> 15) & 1)
#define SEGF_DB(f) (((f) >> 22) & 1)
#define SEGF_G(f) (((f) >> 23) & 1)

struct dtr {
    uint32_t base;
    uint16_t limit;
};

/* The CPU reaches port I/O only through this (pc.c points it at the bus). */
struct cpu_io {
    void *opaque;
    uint32_t (*in)(void *opaque, uint16_t port, unsigned size);
    void (*out)(void *opaque, uint16_t port, uint32_t value, unsigned size);
};

/* The CPU takes external interrupts only through this: the interrupt
 * controller raises the INTR line with cpu_set_irq(); when the CPU accepts it
 * it calls ack() for the vector. */
struct cpu_intr {
    void *opaque;
    uint8_t (*ack)(void *opaque);
};

/* Instrumentation hooks: NULL when unused, so the hot path pays nothing. */
struct cpu_hooks {
    void *opaque;
    void (*exception)(void *opaque, int vector, uint32_t error_code, uint32_t eip);
    void (*cr_write)(void *opaque, int cr, uint32_t old_value, uint32_t new_value);
};

/* Counters the statistics flag and the monitor print. */
struct cpu_stats {
    uint64_t insns;          /* instructions retired */
    uint64_t blocks_run;     /* block dispatches */
    uint64_t block_hits;     /* block lookups found in the cache */
    uint64_t block_misses;   /* blocks decoded */
    uint64_t block_invalidations;
    uint64_t exceptions;
    uint64_t interrupts;
};

/* Why cpu_run() returned. */
enum cpu_exit {
    CPU_EXIT_BUDGET,   /* ran its instruction budget */
    CPU_EXIT_HALT,     /* HLT with no interrupt deliverable */
    CPU_EXIT_REQUEST,  /* cpu_request_exit() was called (device, monitor) */
    CPU_EXIT_SHUTDOWN, /* triple fault: see cpu->shutdown_reason */
};

struct cpu_block_cache; /* cpu_internal.h */

struct insn; /* cpu_internal.h */

struct cpu {
    /* --- architectural state --- */
    uint32_t regs[8];
    uint32_t eip;
    uint32_t eflags; /* non-arithmetic bits; arithmetic ones may be lazy */
    struct segment seg[SEG_COUNT];
    struct dtr gdtr, idtr;
    uint32_t cr0, cr2, cr3, cr4;
    uint32_t dr[8];
    uint8_t cpl;
    bool halted;

    /* Lazy arithmetic flags (see cpu_internal.h). */
    uint32_t lf_res, lf_op1, lf_op2;
    uint32_t lf_op; /* enum lazy_op */

    /* MSRs a P6 OS touches */
    uint32_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t tsc_offset;
    uint64_t apic_base;
    uint64_t pat;
    uint64_t mtrr[32];
    uint64_t misc_enable;
    uint64_t efer; /* IA32_EFER: NXE only */

    /* x87 FPU (fpu.h) */
    struct fpu_state fpu;

    /* --- execution machinery --- */
    uint32_t insn_eip;        /* EIP of the instruction executing (for faults) */
    const struct insn *cur_insn; /* executing insn whose EIP is not in insn_eip/eip, or NULL */
    volatile int exit_request; /* set by cpu_request_exit(); polled per block */
    bool irq_line;            /* INTR input level */
    bool nmi_pending;
    bool inhibit_irq;         /* one-instruction shadow after STI / MOV SS */
    int pending_exc;          /* vector being delivered (double-fault classification), -1 if none */
    int fault_vector;         /* set by cpu_fault() before it longjmps */
    uint32_t fault_error;
    bool shutdown;            /* triple fault happened: cpu_run returns CPU_EXIT_SHUTDOWN */
    bool dr_watch;            /* DR7 enables a data breakpoint */
    bool mem_check;           /* dr_watch, or alignment checking possible (AM, AC, CPL3):
                               * every data access takes the slow segment check */
    uint8_t dr_hits;          /* data breakpoints hit by the current instruction (B0-B3) */
    int shutdown_reason;      /* triple fault: the last vector */
    uint32_t shutdown_eip;
    uint16_t shutdown_cs;
    jmp_buf exc_jmp;          /* the one non-local exit for faults */
    int64_t budget;           /* instructions left in this cpu_run() slice */
    /* Nonzero while exit_request, nmi_pending or irq_line is set, so the run
     * loop tests one word per block; cpu_set_irq/cpu_set_nmi/
     * cpu_request_exit keep it (set those fields only through them). */
    volatile int attn;
    /* Segments whose accesses need no limit/type check (flat 4 GiB, base 0,
     * usable type, protected mode, no mem_check): bit s for reads,
     * bit 8+s for writes.  Valid while instructions execute; see seg_lin. */
    uint16_t seg_flat;

    struct mmu *mmu;
    struct cpu_io io;
    struct cpu_intr intr;
    struct cpu_hooks hooks;
    struct cpu_block_cache *bc;
    struct cpu_stats stats;
    /* TSC source: the machine's clock, in ns; NULL = retired instructions. */
    uint64_t (*tsc_now)(void *opaque);
    void *tsc_opaque;
    /* Log mask and sink (the frontend's -d categories). */
    unsigned log_mask;
    void (*log)(void *opaque, unsigned category, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *log_opaque;
};

/* Log categories (bits of cpu->log_mask; shared with the frontend's -d). */
#define LOG_INT 0x01u
#define LOG_CPU_RESET 0x02u
#define LOG_GUEST_ERRORS 0x04u
#define LOG_UNIMP 0x08u
#define LOG_EXEC 0x10u
#define LOG_PCALL 0x20u

int cpu_init(struct cpu *cpu, struct mmu *mmu);
void cpu_destroy(struct cpu *cpu);
/* Power-on/INIT state: real mode, CS:IP = F000:FFF0 (base FFFF0000). */
void cpu_reset(struct cpu *cpu);
/* Execute up to `budget` instructions (stopping early at HLT, an exit request
 * or a triple fault). Interrupts are checked at block boundaries. */
enum cpu_exit cpu_run(struct cpu *cpu, int64_t budget);
void cpu_set_irq(struct cpu *cpu, bool level);
void cpu_set_nmi(struct cpu *cpu);
void cpu_request_exit(struct cpu *cpu);

uint32_t cpu_get_eflags(struct cpu *cpu);
void cpu_set_eflags(struct cpu *cpu, uint32_t value);

/* Put the CPU in the state a multiboot v1 loader hands over: 32-bit
 * protected mode, flat 4 GiB code/data segments, paging off, IF=0. */
void cpu_set_flat32(struct cpu *cpu, uint32_t eip);

/* Disassemble the instruction at linear address `lin` into `buf`; returns its
 * length (0 if it could not be read). Used by the exec log and the monitor. */
int cpu_disasm(struct cpu *cpu, uint32_t lin, bool code32, char *buf, size_t bufsize);

#endif
