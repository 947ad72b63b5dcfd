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
#define EA_RD(bits) rd##bits(cpu, i->seg, EA(cpu, i))
#define EA_WR(bits, v) wr##bits(cpu, i->seg, EA(cpu, i), (v))
#define EA_RMW(size) seg_lin(cpu, i->seg, EA(cpu, i), (size), true)

#define H(name) static void name(struct cpu *cpu, const struct insn *i)

/*
 * Effective addresses.  Handlers name the operand's offset EA(cpu, i): the
 * general ea_of() here, but in a handler stamped by H_EA the parameter EA
 * shadows it with one of the fixed 32-bit forms below, so the decoder can
 * pick a variant whose address is a load and an add (struct hset.m32f).
 */
typedef uint32_t (*ea_fn)(struct cpu *cpu, const struct insn *i);
static inline uint32_t EA(struct cpu *cpu, const struct insn *i) { return ea_of(cpu, i); }
static inline uint32_t ea_b(struct cpu *cpu, const struct insn *i)
{
    return cpu->regs[i->base] + i->disp;
}
static inline uint32_t ea_bi(struct cpu *cpu, const struct insn *i)
{
    return cpu->regs[i->base] + (cpu->regs[i->index] << i->scale) + i->disp;
}
static inline uint32_t ea_i(struct cpu *cpu, const struct insn *i)
{
    return (cpu->regs[i->index] << i->scale) + i->disp;
}
/* H_EA(name) { body using EA(cpu, i) }: name (any addressing) plus name_b,
 * name_bi, name_i; HSET_EA names all of them. */
#define H_EA(name)                                                                           \
    static inline __attribute__((always_inline)) void name##_t(struct cpu *cpu,              \
                                                               const struct insn *i, ea_fn EA); \
    H(name) { name##_t(cpu, i, EA); }                                                        \
    H(name##_b) { name##_t(cpu, i, ea_b); }                                                  \
    H(name##_bi) { name##_t(cpu, i, ea_bi); }                                                \
    H(name##_i) { name##_t(cpu, i, ea_i); }                                                  \
    static inline __attribute__((always_inline)) void name##_t(struct cpu *cpu,              \
                                                               const struct insn *i, ea_fn EA)
#define HSET_EA(name, a, b, c, d)                                                            \
    const struct hset hs_##name = { a, b, c, d, { d##_b, d##_bi, d##_i } }
/* Memory-form handler definers by operand size: only 32-bit ones are
 * specialised (16-bit operands are rare in 32-bit code). */
#define HM8 H
#define HM16 H
#define HM32 H_EA

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
