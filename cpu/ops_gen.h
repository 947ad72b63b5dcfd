/*
 * ops_gen.h — size-generic helpers for the ops_*.c handler generators.
 * Handlers are stamped out per operand size (8/16/32) and form (register,
 * memory) by macros, so each one is a few straight-line instructions.
 */
#ifndef UMBRA_CPU_OPS_GEN_H
#define UMBRA_CPU_OPS_GEN_H

#include "cpu/ops.h"

#define M8 0xffu
#define M16 0xffffu
#define M32 0xffffffffu
#define SZ_8 SZ8
#define SZ_16 SZ16
#define SZ_32 SZ32
#define MREAD(bits, lin) mmu_read##bits(cpu->mmu, (lin))
#define MWRITE(bits, lin, v) mmu_write##bits(cpu->mmu, (lin), (v))
#define EA_RD(bits) rd##bits(cpu, i->seg, ea_of(cpu, i))
#define EA_WR(bits, v) wr##bits(cpu, i->seg, ea_of(cpu, i), (v))

#define H(name) static void name(struct cpu *cpu, const struct insn *i)

static inline uint32_t sext(uint32_t v, unsigned bits)
{
    return bits == 8 ? (uint32_t)(int8_t)v : bits == 16 ? (uint32_t)(int16_t)v : v;
}

/* Register read/write by size. */
#define GETR(bits, r) ((bits) == 8 ? R8(cpu, r) : (bits) == 16 ? R16(cpu, r) : R32(cpu, r))
#define SETR(bits, r, v)                                                                     \
    do {                                                                                     \
        if ((bits) == 8)                                                                     \
            R8(cpu, r) = (uint8_t)(v);                                                       \
        else if ((bits) == 16)                                                               \
            R16(cpu, r) = (uint16_t)(v);                                                     \
        else                                                                                 \
            R32(cpu, r) = (uint32_t)(v);                                                     \
    } while (0)

#endif
