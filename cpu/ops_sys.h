/*
 * ops_sys.h — handlers of the system and privilege-sensitive instructions,
 * implemented in seg.c / intr.c / sys.c and referenced by opcodes.def.
 * Each is an insn_fn; the decoder has already read the modrm byte and the
 * immediates the opcode table gives them.
 */
#ifndef UMBRA_CPU_OPS_SYS_H
#define UMBRA_CPU_OPS_SYS_H

#include "cpu/cpu_internal.h"

/* 0F 00 /0-5: SLDT STR LLDT LTR VERR VERW */
void op_grp6(struct cpu *cpu, const struct insn *i);
/* 0F 01 /0-7: SGDT SIDT LGDT LIDT SMSW - LMSW INVLPG */
void op_grp7(struct cpu *cpu, const struct insn *i);
void op_lar(struct cpu *cpu, const struct insn *i);     /* 0F 02 */
void op_lsl(struct cpu *cpu, const struct insn *i);     /* 0F 03 */
void op_clts(struct cpu *cpu, const struct insn *i);    /* 0F 06 */
void op_invd(struct cpu *cpu, const struct insn *i);    /* 0F 08, 0F 09 (WBINVD) */
void op_mov_r_cr(struct cpu *cpu, const struct insn *i); /* 0F 20 */
void op_mov_r_dr(struct cpu *cpu, const struct insn *i); /* 0F 21 */
void op_mov_cr_r(struct cpu *cpu, const struct insn *i); /* 0F 22 */
void op_mov_dr_r(struct cpu *cpu, const struct insn *i); /* 0F 23 */
void op_wrmsr(struct cpu *cpu, const struct insn *i);   /* 0F 30 */
void op_rdtsc(struct cpu *cpu, const struct insn *i);   /* 0F 31 */
void op_rdmsr(struct cpu *cpu, const struct insn *i);   /* 0F 32 */
void op_rdpmc(struct cpu *cpu, const struct insn *i);   /* 0F 33 */
void op_sysenter(struct cpu *cpu, const struct insn *i); /* 0F 34 */
void op_sysexit(struct cpu *cpu, const struct insn *i); /* 0F 35 */
void op_cpuid(struct cpu *cpu, const struct insn *i);   /* 0F A2 */
void op_arpl(struct cpu *cpu, const struct insn *i);    /* 63 */
void op_hlt(struct cpu *cpu, const struct insn *i);     /* F4 */
void op_cli(struct cpu *cpu, const struct insn *i);     /* FA */
void op_sti(struct cpu *cpu, const struct insn *i);     /* FB */
void op_pushf(struct cpu *cpu, const struct insn *i);   /* 9C */
void op_popf(struct cpu *cpu, const struct insn *i);    /* 9D */
void op_int3(struct cpu *cpu, const struct insn *i);    /* CC */
void op_int_imm(struct cpu *cpu, const struct insn *i); /* CD ib */
void op_into(struct cpu *cpu, const struct insn *i);    /* CE */
void op_int1(struct cpu *cpu, const struct insn *i);    /* F1 (ICEBP) */
void op_iret(struct cpu *cpu, const struct insn *i);    /* CF */
/* IN/OUT: E4-E7 (port = imm), EC-EF (port = DX); byte form by opcode bit 0 */
void op_in(struct cpu *cpu, const struct insn *i);
void op_out(struct cpu *cpu, const struct insn *i);
/* INS/OUTS 6C-6F, with REP */
void op_ins(struct cpu *cpu, const struct insn *i);
void op_outs(struct cpu *cpu, const struct insn *i);

/* #PF entry point the MMU calls (cpu_init wires mmu->page_fault to it). */
void cpu_mmu_page_fault(void *opaque, uint32_t gva, uint32_t error_code);

#endif
