/*
 * cpu_internal.h — the contract between the parts of the x86 core.
 *
 *   opcodes.def  one X-macro table of the opcode map (decoder, disassembler,
 *                block builder and tests all read it)
 *   decode.c     bytes → struct insn;  disasm.c  struct insn → text
 *   exec.c       block cache (keyed by GPA + decode mode), threaded dispatch
 *                over a block, cpu_run(), interrupt checks at block ends
 *   flags.c      lazy arithmetic flags
 *   mem.c        segmented memory access (limit/type checks) and the stack
 *   ops_*.c      integer instruction semantics
 *   seg.c        descriptor loads and protection checks, far JMP/CALL/RET
 *   intr.c       exceptions, interrupts, IRET, double/triple fault
 *   task.c       hardware task switches
 *   sys.c        system instructions, CR/DR/MSR, CPUID, I/O permission
 *
 * Conventions every handler follows:
 *  - When a handler that reads or writes EIP runs (see insn_needs_eip in
 *    exec.c: control transfers, anything that ends a block, REP, I/O,
 *    most 0F system instructions, and the last instruction of every block),
 *    cpu->insn_eip is the EIP of the instruction and cpu->eip has already
 *    been advanced past it (so relative branches add to cpu->eip, exactly as
 *    the SDM defines them).  Other handlers run with both stale: the run
 *    loop only records cpu->cur_insn, and EIP is derived from the block's
 *    start and insn.noff when needed (cpu_fault, the end of the block).
 *  - A fault is raised with cpu_fault(); it restores EIP to insn_eip, and
 *    leaves through cpu->exc_jmp.  Handlers never return error codes.
 *    Handlers must do all checks that can fault before changing state
 *    (precise exceptions).
 *  - Control transfers, mode changes and IF changes end the block: their
 *    table entries carry INSN_F_ENDS_BLOCK.
 */
#ifndef UMBRA_CPU_INTERNAL_H
#define UMBRA_CPU_INTERNAL_H

#include "cpu/cpu.h"

struct insn;
typedef void (*insn_fn)(struct cpu *cpu, const struct insn *i);

/* A decoded instruction. Compact; decoded once, executed many times. */
struct insn {
    insn_fn fn;
    uint32_t disp;   /* memory operand displacement */
    uint32_t imm;    /* first immediate (sign-extended where the form says) */
    uint32_t imm2;   /* second immediate: ENTER level, far pointer selector */
    uint32_t noff;   /* in a block: EIP after this insn - EIP at the block start */
    uint16_t opcode; /* 0x000-0x0ff one byte, 0x100-0x1ff after 0F */
    uint8_t len;     /* total length in bytes incl. prefixes */
    uint8_t opsize;  /* 2 or 4 (1 for byte forms is implied by the opcode) */
    uint8_t adsize;  /* 2 or 4 */
    uint8_t seg;     /* segment of the memory operand (default or override) */
    uint8_t rep;     /* 0, 0xf2 (REPNE) or 0xf3 (REP/REPE) */
    uint8_t lock;
    uint8_t mod;     /* modrm fields; mod == 3 means register operand */
    uint8_t reg;
    uint8_t rm;
    uint8_t base;    /* memory form: base register or 0xff; 16-bit forms use */
    uint8_t index;   /*   base/index too (BX,BP / SI,DI) */
    uint8_t scale;   /* shift count 0..3 */
    uint8_t flags;   /* INSN_F_* */
    uint8_t idx;     /* in a block: index in insns[] */
};

#define INSN_F_ENDS_BLOCK 0x01
#define INSN_F_HAS_MODRM 0x02
#define INSN_F_MEM 0x04 /* modrm form with a memory operand */
#define INSN_F_SYNC 0x08 /* in a block: the handler keeps cpu->eip right itself */
#define INSN_F_SIDE 0x10 /* in a block: a side exit; imm2 is its index in side[] */

/* ---- faults and interrupts (intr.c) ---- */
/* Raise an exception. Vectors that push an error code (8, 10-14, 17) push
 * `error_code`; others ignore it. Never returns. */
__attribute__((noreturn)) void cpu_fault(struct cpu *cpu, int vector, uint32_t error_code);
/* Deliver an interrupt or exception now (called from the run loop after the
 * longjmp, for INT n/INT3/INTO/ICEBP, and for external interrupts). */
enum intr_kind { INTR_EXCEPTION, INTR_SOFTWARE, INTR_EXTERNAL, INTR_NMI };
void cpu_deliver(struct cpu *cpu, int vector, enum intr_kind kind, bool has_error,
                 uint32_t error_code);
void cpu_iret(struct cpu *cpu, unsigned opsize);
bool cpu_exception_has_error(int vector);

/* ---- segmentation (seg.c) ---- */
/* Load a data/stack segment register with all the checks of the current
 * mode (real/v86: base = sel << 4). */
void cpu_load_seg(struct cpu *cpu, int seg, uint16_t sel);
/* Real-mode style load with no checks (reset, v86 entry, SMM-less paths). */
void cpu_load_seg_real(struct cpu *cpu, int seg, uint16_t sel);
void cpu_far_jmp(struct cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize);
void cpu_far_call(struct cpu *cpu, uint16_t sel, uint32_t off, unsigned opsize);
void cpu_far_ret(struct cpu *cpu, unsigned opsize, uint16_t imm);
/* Read a descriptor's two dwords for `sel` from the GDT/LDT; false if the
 * selector is outside the table limit. */
bool cpu_read_descriptor(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi);
void cpu_set_cpl(struct cpu *cpu, unsigned cpl);

/* ---- task switch (task.c) ---- */
enum task_reason { TASK_JMP, TASK_CALL, TASK_IRET, TASK_INT };
void cpu_task_switch(struct cpu *cpu, uint16_t tss_sel, uint32_t desc_lo, uint32_t desc_hi,
                     enum task_reason reason, bool has_error, uint32_t error_code);

/* ---- system (sys.c) ---- */
void cpu_write_cr0(struct cpu *cpu, uint32_t v);
void cpu_write_cr3(struct cpu *cpu, uint32_t v);
void cpu_write_cr4(struct cpu *cpu, uint32_t v);
/* #GP(0) unless port I/O [port, port+size) is allowed at this CPL/IOPL/VM
 * (consults the TSS I/O bitmap). */
void cpu_check_io(struct cpu *cpu, uint16_t port, unsigned size);
uint64_t cpu_rdtsc(struct cpu *cpu);
/* Debug-register breakpoints: the DR6 B0-B3 bits of the breakpoints enabled
 * in DR7 that an access of `len` bytes at linear `lin` hits.  kind: DR_EXEC
 * (instruction fetch at lin), DR_WRITE, DR_READ (matches R/W breakpoints
 * only).  Callers skip it while (cpu->dr[7] & 0xff) == 0. */
enum { DR_EXEC, DR_WRITE, DR_READ };
unsigned cpu_dr_match(struct cpu *cpu, uint32_t lin, unsigned len, int kind);

/* ---- memory (mem.c) ---- */
/* Recompute cpu->mem_check after a change of DR7, CR0.AM, EFLAGS.AC or CPL. */
void cpu_update_mem_check(struct cpu *cpu);
/* Effective offset of the instruction's memory operand. */
uint32_t cpu_ea(struct cpu *cpu, const struct insn *i);
/* Segmented accesses with limit and type checks (#GP / #SS on violation). */
uint8_t cpu_read8(struct cpu *cpu, int seg, uint32_t off);
uint16_t cpu_read16(struct cpu *cpu, int seg, uint32_t off);
uint32_t cpu_read32(struct cpu *cpu, int seg, uint32_t off);
void cpu_write8(struct cpu *cpu, int seg, uint32_t off, uint8_t v);
void cpu_write16(struct cpu *cpu, int seg, uint32_t off, uint16_t v);
void cpu_write32(struct cpu *cpu, int seg, uint32_t off, uint32_t v);
/* Stack: uses SS.B for the stack-pointer width. */
void cpu_push(struct cpu *cpu, unsigned size, uint32_t v);
uint32_t cpu_pop(struct cpu *cpu, unsigned size);

/* ---- lazy flags (flags.c) ---- */
uint32_t cpu_arith_flags(struct cpu *cpu); /* CF PF AF ZF SF OF from the lazy state */

/* ---- block cache (exec.c) ---- */
void cpu_flush_blocks(struct cpu *cpu);
/* Make cpu->insn_eip that of the executing instruction (cpu_fault). */
void cpu_sync_insn_eip(struct cpu *cpu);

static inline uint8_t *cpu_reg8_ptr(struct cpu *cpu, unsigned r)
{
    return (uint8_t *)&cpu->regs[r & 3] + (r >> 2);
}
static inline uint16_t *cpu_reg16_ptr(struct cpu *cpu, unsigned r)
{
    return (uint16_t *)&cpu->regs[r];
}
static inline bool cpu_pm(const struct cpu *cpu) { return cpu->cr0 & CR0_PE; }
static inline bool cpu_v86(const struct cpu *cpu) { return cpu->eflags & FL_VM; }

#define CPU_LOG(cpu, cat, ...)                                                               \
    do {                                                                                     \
        if (((cpu)->log_mask & (cat)) && (cpu)->log)                                         \
            (cpu)->log((cpu)->log_opaque, (cat), __VA_ARGS__);                               \
    } while (0)

#endif
