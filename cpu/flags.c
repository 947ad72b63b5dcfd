/*
 * flags.c — lazy arithmetic flags (Intel SDM Vol. 1 §3.4.3, Vol. 2 per
 * instruction "Flags Affected").
 *
 * The last flag-setting operation leaves its kind and operand size in
 * cpu->lf_op and its operands/result (already truncated to the size) in
 * lf_op1/lf_op2/lf_res; CF PF AF ZF SF OF are computed only when read.
 * LK_NONE means cpu->eflags holds them.  Instructions that change only some
 * arithmetic flags (rotates, BT, CLC...) materialise first.
 *
 * Undefined flags follow the Intel P6/Core behaviour measured on the host
 * (tests/unit/test_flags.c checks against the host CPU): after MUL/IMUL
 * SF = msb of the low half, ZF = AF = 0, PF from the low byte; after
 * BSF/BSR only ZF is meaningful, CF OF SF AF are 0 and PF follows the result.
 */
#include "cpu/ops.h"

const uint8_t cpu_parity_table[256] = {
#define P2(n) n, n ^ 1, n ^ 1, n
#define P4(n) P2(n), P2(n ^ 1), P2(n ^ 1), P2(n)
#define P6(n) P4(n), P4(n ^ 1), P4(n ^ 1), P4(n)
    P6(1), P6(0), P6(0), P6(1)
#undef P2
#undef P4
#undef P6
};

uint32_t cpu_arith_flags(struct cpu *cpu)
{
    uint32_t op = cpu->lf_op;
    if (op == LF_NONE)
        return cpu->eflags & FL_ARITH;
    unsigned sz = op & 3, kind = op >> 2;
    uint32_t sign = 0x80u << (8 * ((1u << sz) - 1));
    uint32_t a = cpu->lf_op1, b = cpu->lf_op2, r = cpu->lf_res;
    uint32_t f = 0;
    bool cf = false, of = false, af = false, zf = r == 0;

    switch (kind) {
    case LK_ADD:
        cf = r < a;
        of = (a ^ r) & (b ^ r) & sign;
        af = (a ^ b ^ r) & 0x10;
        break;
    case LK_ADC:
        cf = r <= a;
        of = (a ^ r) & (b ^ r) & sign;
        af = (a ^ b ^ r) & 0x10;
        break;
    case LK_SUB:
        cf = a < b;
        of = (a ^ b) & (a ^ r) & sign;
        af = (a ^ b ^ r) & 0x10;
        break;
    case LK_SBB:
        cf = a <= b;
        of = (a ^ b) & (a ^ r) & sign;
        af = (a ^ b ^ r) & 0x10;
        break;
    case LK_LOGIC:
        break;
    case LK_INC:
        cf = b;
        of = r == sign;
        af = (r & 0xf) == 0;
        break;
    case LK_DEC:
        cf = b;
        of = r == sign - 1;
        af = (r & 0xf) == 0xf;
        break;
    case LK_SHL: /* b = count 1..31; OF by the count-1 formula for every count */
        cf = (uint32_t)(((uint64_t)a << b) >> (8u << sz)) & 1;
        of = ((a & sign) != 0) != ((a & (sign >> 1)) != 0);
        break;
    case LK_SHR:
        cf = (a >> (b - 1)) & 1;
        of = a & sign;
        break;
    case LK_SAR: {
        int32_t sa = (int32_t)(a & sign ? a | ~(sign | (sign - 1)) : a);
        cf = (uint32_t)(sa >> (b - 1)) & 1;
        break;
    }
    case LK_MUL:
        cf = of = b;
        zf = false;
        break;
    case LK_BSF:
        zf = b;
        break;
    default:
        return cpu->eflags & FL_ARITH;
    }
    if (cf)
        f |= FL_CF;
    if (of)
        f |= FL_OF;
    if (af)
        f |= FL_AF;
    if (zf)
        f |= FL_ZF;
    if (kind != LK_BSF && (r & sign))
        f |= FL_SF;
    if (cpu_parity_table[r & 0xff])
        f |= FL_PF;
    return f;
}

uint32_t cpu_get_cf_slow(struct cpu *cpu)
{
    uint32_t op = cpu->lf_op;
    switch (op >> 2) {
    case LK_NONE: return cpu->eflags & FL_CF;
    case LK_ADD: return cpu->lf_res < cpu->lf_op1;
    case LK_ADC: return cpu->lf_res <= cpu->lf_op1;
    case LK_SUB: return cpu->lf_op1 < cpu->lf_op2;
    case LK_SBB: return cpu->lf_op1 <= cpu->lf_op2;
    case LK_LOGIC: case LK_BSF: return 0;
    case LK_INC: case LK_DEC: case LK_MUL: return cpu->lf_op2 & 1;
    }
    return cpu_arith_flags(cpu) & FL_CF;
}

void cpu_flags_materialize(struct cpu *cpu)
{
    uint32_t f = cpu_arith_flags(cpu);
    cpu->eflags = (cpu->eflags & ~FL_ARITH) | f;
    cpu->lf_op = LF_NONE;
}

bool cpu_cond(struct cpu *cpu, unsigned cc)
{
    uint32_t f = cpu_arith_flags(cpu);
    bool r;
    switch (cc >> 1) {
    case 0: r = f & FL_OF; break;
    case 1: r = f & FL_CF; break;
    case 2: r = f & FL_ZF; break;
    case 3: r = f & (FL_CF | FL_ZF); break;
    case 4: r = f & FL_SF; break;
    case 5: r = f & FL_PF; break;
    case 6: r = !(f & FL_SF) != !(f & FL_OF); break;
    default: r = (f & FL_ZF) || (!(f & FL_SF) != !(f & FL_OF)); break;
    }
    return r ^ (cc & 1);
}

#define EFLAGS_VALID 0x003f7fd5u

uint32_t cpu_get_eflags(struct cpu *cpu)
{
    return (cpu->eflags & ~FL_ARITH & EFLAGS_VALID) | cpu_arith_flags(cpu) | 0x2;
}

void cpu_set_eflags(struct cpu *cpu, uint32_t value)
{
    cpu->eflags = (value & EFLAGS_VALID) | 0x2;
    cpu->lf_op = LF_NONE;
    cpu_update_mem_check(cpu);
}
