/*
 * fpu.h — the x87 floating-point unit of Umbra's P6 core: its architectural
 * state (embedded in struct cpu as `fpu`) and the instruction handlers the
 * opcode table points at.  See fpu.c for the model and the design.
 *
 * This header is included by cpu.h, so it must not include cpu.h itself; the
 * handlers take the core's types by forward declaration.
 */
#ifndef UMBRA_CPU_FPU_H
#define UMBRA_CPU_FPU_H

#include <stdbool.h>
#include <stdint.h>

/* One data register in the x87's 80-bit double extended format, laid out
 * exactly as the m80 memory format (significand, then sign + exponent), so
 * the host's FLD/FSTP m80 read and write it directly. */
struct fpu_reg {
    uint64_t sig;
    uint16_t se; /* bit 15 sign, bits 0-14 biased exponent */
    uint16_t pad[3];
};

/* Control word (SDM Vol. 1 §8.1.5) */
#define FPU_CW_IM 0x0001u
#define FPU_CW_DM 0x0002u
#define FPU_CW_ZM 0x0004u
#define FPU_CW_OM 0x0008u
#define FPU_CW_UM 0x0010u
#define FPU_CW_PM 0x0020u
#define FPU_CW_PC 0x0300u /* 00 single, 10 double, 11 extended */
#define FPU_CW_RC 0x0c00u /* 00 nearest, 01 down, 10 up, 11 toward zero */
#define FPU_CW_IC 0x1000u
/* Status word (SDM Vol. 1 §8.1.3) */
#define FPU_SW_IE 0x0001u
#define FPU_SW_DE 0x0002u
#define FPU_SW_ZE 0x0004u
#define FPU_SW_OE 0x0008u
#define FPU_SW_UE 0x0010u
#define FPU_SW_PE 0x0020u
#define FPU_SW_SF 0x0040u
#define FPU_SW_ES 0x0080u
#define FPU_SW_C0 0x0100u
#define FPU_SW_C1 0x0200u
#define FPU_SW_C2 0x0400u
#define FPU_SW_TOP 0x3800u
#define FPU_SW_C3 0x4000u
#define FPU_SW_B 0x8000u
#define FPU_SW_EXC 0x003fu /* the six exception flags, also the six masks of the CW */
#define FPU_SW_CC (FPU_SW_C0 | FPU_SW_C1 | FPU_SW_C2 | FPU_SW_C3)

/*
 * While `resident` is set (only inside cpu_run, between guest x87
 * instructions; see fpu.c), the host's own x87 holds the registers, TOP,
 * the tags, the condition codes and the masked exception flags: then r[],
 * top, tag and the condition codes in sw are stale, and sw holds only the
 * flags moved out of the host (with ES).  cw and the pointers are always
 * current.  fpu_sync() writes the host state back; cpu_run calls it before
 * returning, so outside the CPU loop the fields below are the state.
 */
struct fpu_state {
    struct fpu_reg r[8]; /* physical registers R0-R7; ST(i) is r[(top + i) & 7] */
    uint16_t cw;
    uint16_t sw; /* status word with the TOP field kept zero (see `top`) */
    uint8_t top;
    uint8_t tag;  /* bit i set: R(i) is in use (the FXSAVE "abridged" tag); the
                   * full 2-bit tags are derived from the contents on store */
    uint16_t fop; /* last non-control instruction: opcode bits 0-2 << 8 | modrm */
    uint32_t fip; /* its CS:EIP and the DS:offset of its memory operand */
    uint32_t fdp;
    uint16_t fcs;
    uint16_t fds;
    uint32_t mxcsr; /* FXSAVE/FXRSTOR storage only: no SSE instructions exist yet */
    bool resident;  /* the host x87 holds the state (see above) */

    /* FERR# output (CR0.NE=0 error reporting, SDM Vol. 1 §D.2): the machine
     * routes it to IRQ13 and clears that latch on a write to port 0xF0.
     * Not touched by fpu_reset; level is the current pin state. */
    bool ferr;
    void (*ferr_changed)(void *opaque, bool level);
    void *ferr_opaque;
};

struct cpu;
struct insn;

/* Hardware RESET state (SDM Vol. 3 Table 9-1, P6): CW 0040, SW 0, TW 5555
 * (all eight registers valid, +0.0), pointers zero, MXCSR 1F80, FERR#
 * deasserted.  Software (BIOS, OS) executes FNINIT to get CW 037F and an
 * empty stack.  INIT leaves the x87 unchanged: call this on RESET only. */
void fpu_reset(struct fpu_state *f);
/* Write the state held on the host x87 back into *f and give the host x87
 * back to C (empty stack, control word 037F).  A no-op when not resident.
 * Anything that reads *f from inside the CPU loop calls this first. */
void fpu_sync(struct fpu_state *f);
/* Status word as FNSTSW returns it (TOP merged in); like fpu_get_tw, reads
 * *f only: fpu_sync first if it may be resident. */
uint16_t fpu_get_sw(const struct fpu_state *f);
/* Full 16-bit tag word as FNSTENV stores it. */
uint16_t fpu_get_tw(const struct fpu_state *f);

/* Handlers (struct insn from the decoder): the escape opcodes D8-DF in every
 * form (register and memory, any operand size), WAIT/FWAIT (9B), and
 * FXSAVE / FXRSTOR (0F AE /0, /1, memory forms).  The opcode table uses the
 * handler sets fpu.c defines: x87_d8 .. x87_df (one register-form and one
 * memory-form handler per escape byte), x87_wait, x87_fxsave, x87_fxrstor;
 * op_fpu is the same as a single entry point (tests, other callers) that
 * also syncs the state back into *f afterwards. */
void op_fpu(struct cpu *cpu, const struct insn *i);
void op_fpu_wait(struct cpu *cpu, const struct insn *i);
void op_fxsave(struct cpu *cpu, const struct insn *i);
void op_fxrstor(struct cpu *cpu, const struct insn *i);

#endif
