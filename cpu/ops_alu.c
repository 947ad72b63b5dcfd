/*
 * ops_alu.c — integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP,
 * TEST, INC/DEC, NOT/NEG, MUL/IMUL/DIV/IDIV, BCD adjusts, CBW/CWD, the flag
 * instructions, SETcc/CMOVcc, BT/BTS/BTR/BTC, BSF/BSR, CMPXCHG(8B), XADD
 * (Intel SDM Vol. 2 instruction pages).
 *
 * Read-modify-write memory forms compute the result, store it, and only
 * then record the lazy flags, so a faulting store leaves the flags of the
 * previous instruction (precise exceptions).
 */
#include "cpu/ops_gen.h"

/* ---------------- ALU core ---------------- */
enum { A_ADD, A_OR, A_ADC, A_SBB, A_AND, A_SUB, A_XOR, A_CMP };

static inline uint32_t alu_res(int op, uint32_t a, uint32_t b, uint32_t c)
{
    switch (op) {
    case A_ADD: return a + b;
    case A_OR: return a | b;
    case A_ADC: return a + b + c;
    case A_SBB: return a - b - c;
    case A_AND: return a & b;
    case A_XOR: return a ^ b;
    default: return a - b;
    }
}

static inline void alu_lf(struct cpu *cpu, int op, int sz, uint32_t a, uint32_t b, uint32_t r,
                          uint32_t c)
{
    switch (op) {
    case A_OR: case A_AND: case A_XOR:
        cpu->lf_op = LF(LK_LOGIC, sz);
        cpu->lf_res = r;
        break;
    case A_ADD: lf_set(cpu, LF(LK_ADD, sz), a, b, r); break;
    case A_ADC: lf_set(cpu, LF(c ? LK_ADC : LK_ADD, sz), a, b, r); break;
    case A_SBB: lf_set(cpu, LF(c ? LK_SBB : LK_SUB, sz), a, b, r); break;
    default: lf_set(cpu, LF(LK_SUB, sz), a, b, r); break;
    }
}

#define CIN(op) (((op) == A_ADC || (op) == A_SBB) ? cpu_get_cf(cpu) : 0)
#define WB(op) ((op) != A_CMP)

/* dst = E (register rm or memory), src given. */
#define ALU_E(fn, op, bits, SRC)                                                             \
    H(fn##_r##bits)                                                                          \
    {                                                                                        \
        uint32_t b = (SRC) & M##bits, a = GETR(bits, i->rm), c = CIN(op);                    \
        uint32_t r = alu_res(op, a, b, c) & M##bits;                                         \
        if (WB(op))                                                                          \
            SETR(bits, i->rm, r);                                                            \
        alu_lf(cpu, op, SZ_##bits, a, b, r, c);                                              \
    }                                                                                        \
    HM##bits(fn##_m##bits)                                                                   \
    {                                                                                        \
        uint32_t b = (SRC) & M##bits, a, c, r;                                               \
        if (WB(op)) {                                                                        \
            uint32_t lin = EA_RMW(bits / 8);                                                 \
            a = MREAD(bits, lin);                                                            \
            c = CIN(op);                                                                     \
            r = alu_res(op, a, b, c) & M##bits;                                              \
            MWRITE(bits, lin, r);                                                            \
        } else {                                                                             \
            a = EA_RD(bits);                                                                 \
            c = CIN(op);                                                                     \
            r = alu_res(op, a, b, c) & M##bits;                                              \
        }                                                                                    \
        alu_lf(cpu, op, SZ_##bits, a, b, r, c);                                              \
    }

/* dst = G register, src = E. */
#define ALU_G(fn, op, bits)                                                                  \
    static inline void fn##_do##bits(struct cpu *cpu, const struct insn *i, uint32_t b)      \
    {                                                                                        \
        uint32_t a = GETR(bits, i->reg), c = CIN(op);                                        \
        uint32_t r = alu_res(op, a, b, c) & M##bits;                                         \
        if (WB(op))                                                                          \
            SETR(bits, i->reg, r);                                                           \
        alu_lf(cpu, op, SZ_##bits, a, b, r, c);                                              \
    }                                                                                        \
    H(fn##_r##bits) { fn##_do##bits(cpu, i, GETR(bits, i->rm)); }                           \
    HM##bits(fn##_m##bits) { fn##_do##bits(cpu, i, EA_RD(bits)); }

/* dst = accumulator, src = immediate. */
#define ALU_A(fn, op, bits)                                                                  \
    H(fn##_a##bits)                                                                          \
    {                                                                                        \
        uint32_t b = i->imm & M##bits, a = GETR(bits, 0), c = CIN(op);                       \
        uint32_t r = alu_res(op, a, b, c) & M##bits;                                         \
        if (WB(op))                                                                          \
            SETR(bits, 0, r);                                                                \
        alu_lf(cpu, op, SZ_##bits, a, b, r, c);                                              \
    }

#define ALU_ALL(name, op)                                                                    \
    ALU_E(name##_eg, op, 8, GETR(8, i->reg))                                                 \
    ALU_E(name##_eg, op, 16, GETR(16, i->reg))                                               \
    ALU_E(name##_eg, op, 32, GETR(32, i->reg))                                               \
    ALU_E(name##_ei, op, 8, i->imm)                                                          \
    ALU_E(name##_ei, op, 16, i->imm)                                                         \
    ALU_E(name##_ei, op, 32, i->imm)                                                         \
    ALU_G(name##_ge, op, 8)                                                                  \
    ALU_G(name##_ge, op, 16)                                                                 \
    ALU_G(name##_ge, op, 32)                                                                 \
    ALU_A(name, op, 8)                                                                       \
    ALU_A(name, op, 16)                                                                      \
    ALU_A(name, op, 32)                                                                      \
    HSET(name##_EbGb, name##_eg_r8, name##_eg_r8, name##_eg_m8, name##_eg_m8);               \
    HSET_EA(name##_EvGv, name##_eg_r16, name##_eg_r32, name##_eg_m16, name##_eg_m32);        \
    HSET(name##_GbEb, name##_ge_r8, name##_ge_r8, name##_ge_m8, name##_ge_m8);               \
    HSET_EA(name##_GvEv, name##_ge_r16, name##_ge_r32, name##_ge_m16, name##_ge_m32);        \
    HSET(name##_ALIb, name##_a8, name##_a8, NULL, NULL);                                     \
    HSET(name##_eAXIz, name##_a16, name##_a32, NULL, NULL);                                  \
    HSET(name##_EbIb, name##_ei_r8, name##_ei_r8, name##_ei_m8, name##_ei_m8);               \
    HSET_EA(name##_EvIz, name##_ei_r16, name##_ei_r32, name##_ei_m16, name##_ei_m32);

ALU_ALL(add, A_ADD)
ALU_ALL(or, A_OR)
ALU_ALL(adc, A_ADC)
ALU_ALL(sbb, A_SBB)
ALU_ALL(and, A_AND)
ALU_ALL(sub, A_SUB)
ALU_ALL(xor, A_XOR)
ALU_ALL(cmp, A_CMP)

/* TEST = AND without the store. */
#define TEST_E(fn, bits, SRC)                                                                \
    H(fn##_r##bits)                                                                          \
    {                                                                                        \
        cpu->lf_op = LF(LK_LOGIC, SZ_##bits);                                                \
        cpu->lf_res = GETR(bits, i->rm) & (SRC) & M##bits;                                   \
    }                                                                                        \
    HM##bits(fn##_m##bits)                                                                   \
    {                                                                                        \
        uint32_t a = EA_RD(bits);                                                            \
        cpu->lf_op = LF(LK_LOGIC, SZ_##bits);                                                \
        cpu->lf_res = a & (SRC) & M##bits;                                                   \
    }
TEST_E(test_eg, 8, GETR(8, i->reg))
TEST_E(test_eg, 16, GETR(16, i->reg))
TEST_E(test_eg, 32, GETR(32, i->reg))
TEST_E(test_ei, 8, i->imm)
TEST_E(test_ei, 16, i->imm)
TEST_E(test_ei, 32, i->imm)
H(test_a8) { cpu->lf_op = LF(LK_LOGIC, SZ8); cpu->lf_res = R8(cpu, 0) & i->imm & 0xff; }
H(test_a16) { cpu->lf_op = LF(LK_LOGIC, SZ16); cpu->lf_res = R16(cpu, 0) & i->imm & 0xffff; }
H(test_a32) { cpu->lf_op = LF(LK_LOGIC, SZ32); cpu->lf_res = R32(cpu, 0) & i->imm; }
HSET(test_EbGb, test_eg_r8, test_eg_r8, test_eg_m8, test_eg_m8);
HSET_EA(test_EvGv, test_eg_r16, test_eg_r32, test_eg_m16, test_eg_m32);
HSET(test_EbI, test_ei_r8, test_ei_r8, test_ei_m8, test_ei_m8);
HSET_EA(test_EvI, test_ei_r16, test_ei_r32, test_ei_m16, test_ei_m32);
HSET(test_ALIb, test_a8, test_a8, NULL, NULL);
HSET(test_eAXIz, test_a16, test_a32, NULL, NULL);

/* ---------------- INC / DEC / NOT / NEG ---------------- */
#define UNARY(fn, bits, EXPR, FLAGS)                                                         \
    H(fn##_r##bits)                                                                          \
    {                                                                                        \
        uint32_t a = GETR(bits, i->rm), r = (EXPR) & M##bits;                                \
        SETR(bits, i->rm, r);                                                                \
        FLAGS;                                                                               \
    }                                                                                        \
    HM##bits(fn##_m##bits)                                                                   \
    {                                                                                        \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t a = MREAD(bits, lin), r = (EXPR) & M##bits;                                 \
        MWRITE(bits, lin, r);                                                                \
        FLAGS;                                                                               \
    }

#define INCDEC_LF(kind, bits)                                                                \
    do {                                                                                     \
        uint32_t cf_ = cpu_get_cf(cpu);                                                      \
        lf_set(cpu, LF(kind, SZ_##bits), a, cf_, r);                                         \
    } while (0)

#define UNARY3(fn, EXPR, FLAGS8, FLAGS16, FLAGS32)                                           \
    UNARY(fn, 8, EXPR, FLAGS8) UNARY(fn, 16, EXPR, FLAGS16) UNARY(fn, 32, EXPR, FLAGS32)

UNARY3(inc, a + 1, INCDEC_LF(LK_INC, 8), INCDEC_LF(LK_INC, 16), INCDEC_LF(LK_INC, 32))
UNARY3(dec, a - 1, INCDEC_LF(LK_DEC, 8), INCDEC_LF(LK_DEC, 16), INCDEC_LF(LK_DEC, 32))
UNARY3(not, ~a, (void)0, (void)0, (void)0)
UNARY3(neg, 0 - a, lf_set(cpu, LF(LK_SUB, SZ8), 0, a, r), lf_set(cpu, LF(LK_SUB, SZ16), 0, a, r),
       lf_set(cpu, LF(LK_SUB, SZ32), 0, a, r))

HSET(inc_Eb, inc_r8, inc_r8, inc_m8, inc_m8);
HSET_EA(inc_Ev, inc_r16, inc_r32, inc_m16, inc_m32);
HSET(dec_Eb, dec_r8, dec_r8, dec_m8, dec_m8);
HSET_EA(dec_Ev, dec_r16, dec_r32, dec_m16, dec_m32);
HSET(not_Eb, not_r8, not_r8, not_m8, not_m8);
HSET_EA(not_Ev, not_r16, not_r32, not_m16, not_m32);
HSET(neg_Eb, neg_r8, neg_r8, neg_m8, neg_m8);
HSET_EA(neg_Ev, neg_r16, neg_r32, neg_m16, neg_m32);

/* 40+r / 48+r: the register is in the opcode (decoded into i->rm). */
HSET(inc_Zv, inc_r16, inc_r32, NULL, NULL);
HSET(dec_Zv, dec_r16, dec_r32, NULL, NULL);

/* ---------------- MUL / IMUL / DIV / IDIV ---------------- */
static inline void mul_lf(struct cpu *cpu, int sz, uint32_t lo, bool over)
{
    cpu->lf_op = LF(LK_MUL, sz);
    cpu->lf_res = lo;
    cpu->lf_op2 = over;
}

#define SRC_RM(bits) ((i->mod == 3) ? GETR(bits, i->rm) : EA_RD(bits))

H(mul_b)
{
    uint32_t r = (uint32_t)R8(cpu, R_EAX) * SRC_RM(8);
    R16(cpu, R_EAX) = (uint16_t)r;
    mul_lf(cpu, SZ8, r & 0xff, r >> 8);
}
H(imul_b)
{
    int32_t r = (int8_t)R8(cpu, R_EAX) * (int8_t)SRC_RM(8);
    R16(cpu, R_EAX) = (uint16_t)r;
    mul_lf(cpu, SZ8, r & 0xff, r != (int8_t)r);
}
H(mul_w)
{
    uint32_t r = (uint32_t)R16(cpu, R_EAX) * SRC_RM(16);
    R16(cpu, R_EAX) = (uint16_t)r;
    R16(cpu, R_EDX) = (uint16_t)(r >> 16);
    mul_lf(cpu, SZ16, r & 0xffff, r >> 16);
}
H(imul_w)
{
    int32_t r = (int16_t)R16(cpu, R_EAX) * (int16_t)SRC_RM(16);
    R16(cpu, R_EAX) = (uint16_t)r;
    R16(cpu, R_EDX) = (uint16_t)((uint32_t)r >> 16);
    mul_lf(cpu, SZ16, (uint32_t)r & 0xffff, r != (int16_t)r);
}
H(mul_d)
{
    uint64_t r = (uint64_t)R32(cpu, R_EAX) * SRC_RM(32);
    R32(cpu, R_EAX) = (uint32_t)r;
    R32(cpu, R_EDX) = (uint32_t)(r >> 32);
    mul_lf(cpu, SZ32, (uint32_t)r, r >> 32);
}
H(imul_d)
{
    int64_t r = (int64_t)(int32_t)R32(cpu, R_EAX) * (int32_t)SRC_RM(32);
    R32(cpu, R_EAX) = (uint32_t)r;
    R32(cpu, R_EDX) = (uint32_t)((uint64_t)r >> 32);
    mul_lf(cpu, SZ32, (uint32_t)r, r != (int32_t)r);
}
H(div_b)
{
    uint32_t d = SRC_RM(8), n = R16(cpu, R_EAX);
    if (d == 0 || n / d > 0xff)
        cpu_fault(cpu, EXC_DE, 0);
    R8(cpu, 0) = (uint8_t)(n / d);
    R8(cpu, 4) = (uint8_t)(n % d);
}
H(idiv_b)
{
    int32_t d = (int8_t)SRC_RM(8), n = (int16_t)R16(cpu, R_EAX);
    if (d == 0)
        cpu_fault(cpu, EXC_DE, 0);
    int32_t q = n / d;
    if (q != (int8_t)q)
        cpu_fault(cpu, EXC_DE, 0);
    R8(cpu, 0) = (uint8_t)q;
    R8(cpu, 4) = (uint8_t)(n % d);
}
H(div_w)
{
    uint32_t d = SRC_RM(16), n = (uint32_t)R16(cpu, R_EDX) << 16 | R16(cpu, R_EAX);
    if (d == 0 || n / d > 0xffff)
        cpu_fault(cpu, EXC_DE, 0);
    R16(cpu, R_EAX) = (uint16_t)(n / d);
    R16(cpu, R_EDX) = (uint16_t)(n % d);
}
H(idiv_w)
{
    int32_t d = (int16_t)SRC_RM(16);
    int32_t n = (int32_t)((uint32_t)R16(cpu, R_EDX) << 16 | R16(cpu, R_EAX));
    if (d == 0 || (n == INT32_MIN && d == -1))
        cpu_fault(cpu, EXC_DE, 0);
    int32_t q = n / d;
    if (q != (int16_t)q)
        cpu_fault(cpu, EXC_DE, 0);
    R16(cpu, R_EAX) = (uint16_t)q;
    R16(cpu, R_EDX) = (uint16_t)(n % d);
}
H(div_d)
{
    uint64_t d = SRC_RM(32), n = (uint64_t)R32(cpu, R_EDX) << 32 | R32(cpu, R_EAX);
    if (d == 0 || n / d > 0xffffffffu)
        cpu_fault(cpu, EXC_DE, 0);
    R32(cpu, R_EAX) = (uint32_t)(n / d);
    R32(cpu, R_EDX) = (uint32_t)(n % d);
}
H(idiv_d)
{
    int64_t d = (int32_t)SRC_RM(32);
    int64_t n = (int64_t)((uint64_t)R32(cpu, R_EDX) << 32 | R32(cpu, R_EAX));
    if (d == 0 || (n == INT64_MIN && d == -1))
        cpu_fault(cpu, EXC_DE, 0);
    int64_t q = n / d;
    if (q != (int32_t)q)
        cpu_fault(cpu, EXC_DE, 0);
    R32(cpu, R_EAX) = (uint32_t)q;
    R32(cpu, R_EDX) = (uint32_t)(n % d);
}
HSET(mul_Eb, mul_b, mul_b, mul_b, mul_b);
HSET(imul_Eb, imul_b, imul_b, imul_b, imul_b);
HSET(div_Eb, div_b, div_b, div_b, div_b);
HSET(idiv_Eb, idiv_b, idiv_b, idiv_b, idiv_b);
HSET(mul_Ev, mul_w, mul_d, mul_w, mul_d);
HSET(imul_Ev, imul_w, imul_d, imul_w, imul_d);
HSET(div_Ev, div_w, div_d, div_w, div_d);
HSET(idiv_Ev, idiv_w, idiv_d, idiv_w, idiv_d);

/* IMUL Gv,Ev and IMUL Gv,Ev,imm */
static inline void imul2_16(struct cpu *cpu, const struct insn *i, int32_t a, int32_t b)
{
    int32_t r = (int16_t)a * (int16_t)b;
    R16(cpu, i->reg) = (uint16_t)r;
    mul_lf(cpu, SZ16, (uint32_t)r & 0xffff, r != (int16_t)r);
}
static inline void imul2_32(struct cpu *cpu, const struct insn *i, int32_t a, int32_t b)
{
    int64_t r = (int64_t)a * b;
    R32(cpu, i->reg) = (uint32_t)r;
    mul_lf(cpu, SZ32, (uint32_t)r, r != (int32_t)r);
}
H(imul_ge_r16) { imul2_16(cpu, i, R16(cpu, i->reg), R16(cpu, i->rm)); }
H(imul_ge_m16) { imul2_16(cpu, i, R16(cpu, i->reg), EA_RD(16)); }
H(imul_ge_r32) { imul2_32(cpu, i, (int32_t)R32(cpu, i->reg), (int32_t)R32(cpu, i->rm)); }
H_EA(imul_ge_m32) { imul2_32(cpu, i, (int32_t)R32(cpu, i->reg), (int32_t)EA_RD(32)); }
H(imul_gei_r16) { imul2_16(cpu, i, R16(cpu, i->rm), (int32_t)i->imm); }
H(imul_gei_m16) { imul2_16(cpu, i, EA_RD(16), (int32_t)i->imm); }
H(imul_gei_r32) { imul2_32(cpu, i, (int32_t)R32(cpu, i->rm), (int32_t)i->imm); }
H_EA(imul_gei_m32) { imul2_32(cpu, i, (int32_t)EA_RD(32), (int32_t)i->imm); }
HSET_EA(imul_GvEv, imul_ge_r16, imul_ge_r32, imul_ge_m16, imul_ge_m32);
HSET_EA(imul_GvEvI, imul_gei_r16, imul_gei_r32, imul_gei_m16, imul_gei_m32);

/* ---------------- BCD ---------------- */
static void set_szp8(struct cpu *cpu, uint32_t others, uint8_t al)
{
    uint32_t f = others;
    if (al == 0)
        f |= FL_ZF;
    if (al & 0x80)
        f |= FL_SF;
    if (cpu_parity_table[al])
        f |= FL_PF;
    cpu->eflags = (cpu->eflags & ~FL_ARITH) | f;
    cpu->lf_op = LF_NONE;
}

H(op_daa)
{
    uint32_t fl = cpu_arith_flags(cpu);
    uint8_t al = R8(cpu, 0), old = al;
    bool cf = fl & FL_CF, af = false;
    if ((al & 0xf) > 9 || (fl & FL_AF)) {
        al += 6;
        af = true;
    }
    if (old > 0x99 || cf) {
        al += 0x60;
        cf = true;
    } else {
        cf = false;
    }
    R8(cpu, 0) = al;
    /* OF is undefined; Intel P6/Core clear it (measured on the host over
     * every AL/CF/AF input, tests/unit/test_flags.c) */
    set_szp8(cpu, (cf ? FL_CF : 0) | (af ? FL_AF : 0), al);
}
H(op_das)
{
    uint32_t fl = cpu_arith_flags(cpu);
    uint8_t al = R8(cpu, 0), old = al;
    bool cf = fl & FL_CF, af = false;
    if ((al & 0xf) > 9 || (fl & FL_AF)) {
        cf = cf || al < 6;
        al -= 6;
        af = true;
    }
    if (old > 0x99 || (fl & FL_CF)) {
        al -= 0x60;
        cf = true;
    }
    R8(cpu, 0) = al;
    set_szp8(cpu, (cf ? FL_CF : 0) | (af ? FL_AF : 0), al); /* OF cleared, as DAA */
}
H(op_aaa)
{
    uint32_t fl = cpu_arith_flags(cpu);
    uint32_t f = 0;
    if ((R8(cpu, 0) & 0xf) > 9 || (fl & FL_AF)) {
        R16(cpu, R_EAX) += 0x106;
        f = FL_AF | FL_CF;
    }
    R8(cpu, 0) &= 0xf;
    set_szp8(cpu, f, R8(cpu, 0));
}
H(op_aas)
{
    uint32_t fl = cpu_arith_flags(cpu);
    uint32_t f = 0;
    if ((R8(cpu, 0) & 0xf) > 9 || (fl & FL_AF)) {
        R16(cpu, R_EAX) -= 6;
        R8(cpu, 4) -= 1;
        f = FL_AF | FL_CF;
    }
    R8(cpu, 0) &= 0xf;
    set_szp8(cpu, f, R8(cpu, 0));
}
H(op_aam)
{
    uint8_t d = (uint8_t)i->imm, al = R8(cpu, 0);
    if (d == 0)
        cpu_fault(cpu, EXC_DE, 0);
    R8(cpu, 4) = al / d;
    R8(cpu, 0) = al % d;
    cpu->lf_op = LF(LK_LOGIC, SZ8);
    cpu->lf_res = R8(cpu, 0);
}
H(op_aad)
{
    uint32_t a = R8(cpu, 0), b = (R8(cpu, 4) * (i->imm & 0xff)) & 0xff;
    uint32_t r = (a + b) & 0xff;
    R16(cpu, R_EAX) = (uint16_t)r;
    lf_set(cpu, LF(LK_ADD, SZ8), a, b, r);
}
HSET(daa, op_daa, op_daa, NULL, NULL);
HSET(das, op_das, op_das, NULL, NULL);
HSET(aaa, op_aaa, op_aaa, NULL, NULL);
HSET(aas, op_aas, op_aas, NULL, NULL);
HSET(aam, op_aam, op_aam, NULL, NULL);
HSET(aad, op_aad, op_aad, NULL, NULL);

/* ---------------- conversions, flag instructions ---------------- */
H(op_cbw) { R16(cpu, R_EAX) = (uint16_t)(int8_t)R8(cpu, 0); }
H(op_cwde) { R32(cpu, R_EAX) = (uint32_t)(int16_t)R16(cpu, R_EAX); }
H(op_cwd) { R16(cpu, R_EDX) = (R16(cpu, R_EAX) & 0x8000) ? 0xffff : 0; }
H(op_cdq) { R32(cpu, R_EDX) = (uint32_t)((int32_t)R32(cpu, R_EAX) >> 31); }
HSET(cbw, op_cbw, op_cwde, NULL, NULL);
HSET(cwd, op_cwd, op_cdq, NULL, NULL);

H(op_cmc) { cpu_set_arith(cpu, FL_CF, cpu_get_cf(cpu) ? 0 : FL_CF); }
H(op_clc) { cpu_set_arith(cpu, FL_CF, 0); }
H(op_stc) { cpu_set_arith(cpu, FL_CF, FL_CF); }
H(op_cld) { cpu->eflags &= ~FL_DF; }
H(op_std) { cpu->eflags |= FL_DF; }
H(op_lahf) { R8(cpu, 4) = (uint8_t)((cpu_arith_flags(cpu) & 0xd5) | 0x02); }
H(op_sahf) { cpu_set_arith(cpu, FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF, R8(cpu, 4)); }
H(op_salc) { R8(cpu, 0) = cpu_get_cf(cpu) ? 0xff : 0; }
HSET(cmc, op_cmc, op_cmc, NULL, NULL);
HSET(clc, op_clc, op_clc, NULL, NULL);
HSET(stc, op_stc, op_stc, NULL, NULL);
HSET(cld, op_cld, op_cld, NULL, NULL);
HSET(std, op_std, op_std, NULL, NULL);
HSET(lahf, op_lahf, op_lahf, NULL, NULL);
HSET(sahf, op_sahf, op_sahf, NULL, NULL);
HSET(salc, op_salc, op_salc, NULL, NULL);

/* ---------------- SETcc / CMOVcc ---------------- */
#define CC_OPS(n)                                                                            \
    H(setcc_r_##n) { R8(cpu, i->rm) = cond_eval(cpu, 0x##n); }                               \
    H(setcc_m_##n) { EA_WR(8, cond_eval(cpu, 0x##n)); }                                      \
    H(cmov_r16_##n)                                                                          \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n))                                                           \
            R16(cpu, i->reg) = R16(cpu, i->rm);                                              \
    }                                                                                        \
    H(cmov_r32_##n)                                                                          \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n))                                                           \
            R32(cpu, i->reg) = R32(cpu, i->rm);                                              \
    }                                                                                        \
    H(cmov_m16_##n)                                                                          \
    {                                                                                        \
        uint16_t v = EA_RD(16);                                                              \
        if (cond_eval(cpu, 0x##n))                                                           \
            R16(cpu, i->reg) = v;                                                            \
    }                                                                                        \
    H(cmov_m32_##n)                                                                          \
    {                                                                                        \
        uint32_t v = EA_RD(32);                                                              \
        if (cond_eval(cpu, 0x##n))                                                           \
            R32(cpu, i->reg) = v;                                                            \
    }                                                                                        \
    HSET(setcc_##n, setcc_r_##n, setcc_r_##n, setcc_m_##n, setcc_m_##n);                     \
    HSET(cmov_##n, cmov_r16_##n, cmov_r32_##n, cmov_m16_##n, cmov_m32_##n);

CC_OPS(0) CC_OPS(1) CC_OPS(2) CC_OPS(3) CC_OPS(4) CC_OPS(5) CC_OPS(6) CC_OPS(7)
CC_OPS(8) CC_OPS(9) CC_OPS(a) CC_OPS(b) CC_OPS(c) CC_OPS(d) CC_OPS(e) CC_OPS(f)

/* ---------------- BT / BTS / BTR / BTC ---------------- */
enum { B_T, B_S, B_R, B_C };
static inline uint32_t bt_apply(int op, uint32_t v, uint32_t m)
{
    return op == B_S ? v | m : op == B_R ? v & ~m : op == B_C ? v ^ m : v;
}

#define BT_OPS(name, op)                                                                     \
    static inline void name##_r(struct cpu *cpu, const struct insn *i, unsigned bits,        \
                                uint32_t off)                                                \
    {                                                                                        \
        uint32_t m = 1u << (off & (bits - 1));                                               \
        uint32_t v = bits == 16 ? R16(cpu, i->rm) : R32(cpu, i->rm);                         \
        if (op != B_T)                                                                       \
            SETR(bits == 16 ? 16 : 32, i->rm, bt_apply(op, v, m));                           \
        cpu_set_arith(cpu, FL_CF, (v & m) ? FL_CF : 0);                                      \
    }                                                                                        \
    static inline void name##_m(struct cpu *cpu, const struct insn *i, unsigned bits,        \
                                uint32_t ea, uint32_t bit)                                   \
    {                                                                                        \
        uint32_t m = 1u << bit, v;                                                           \
        if (bits == 16) {                                                                    \
            if (op != B_T) {                                                                 \
                uint32_t lin = seg_lin(cpu, i->seg, ea, 2, true);                            \
                v = MREAD(16, lin);                                                          \
                MWRITE(16, lin, (uint16_t)bt_apply(op, v, m));                               \
            } else {                                                                         \
                v = rd16(cpu, i->seg, ea);                                                   \
            }                                                                                \
        } else {                                                                             \
            if (op != B_T) {                                                                 \
                uint32_t lin = seg_lin(cpu, i->seg, ea, 4, true);                            \
                v = MREAD(32, lin);                                                          \
                MWRITE(32, lin, bt_apply(op, v, m));                                         \
            } else {                                                                         \
                v = rd32(cpu, i->seg, ea);                                                   \
            }                                                                                \
        }                                                                                    \
        cpu_set_arith(cpu, FL_CF, (v & m) ? FL_CF : 0);                                      \
    }                                                                                        \
    H(name##_gr16) { name##_r(cpu, i, 16, R16(cpu, i->reg)); }                              \
    H(name##_gr32) { name##_r(cpu, i, 32, R32(cpu, i->reg)); }                              \
    H(name##_gm16)                                                                           \
    {                                                                                        \
        int32_t off = (int16_t)R16(cpu, i->reg);                                             \
        uint32_t ea = ea_of(cpu, i) + (uint32_t)((off >> 4) * 2);                            \
        if (i->adsize == 2)                                                                  \
            ea &= 0xffff;                                                                    \
        name##_m(cpu, i, 16, ea, (uint32_t)off & 15);                                        \
    }                                                                                        \
    H(name##_gm32)                                                                           \
    {                                                                                        \
        int32_t off = (int32_t)R32(cpu, i->reg);                                             \
        uint32_t ea = ea_of(cpu, i) + (uint32_t)((off >> 5) * 4);                            \
        if (i->adsize == 2)                                                                  \
            ea &= 0xffff;                                                                    \
        name##_m(cpu, i, 32, ea, (uint32_t)off & 31);                                        \
    }                                                                                        \
    H(name##_ir16) { name##_r(cpu, i, 16, i->imm); }                                        \
    H(name##_ir32) { name##_r(cpu, i, 32, i->imm); }                                        \
    H(name##_im16) { name##_m(cpu, i, 16, ea_of(cpu, i), i->imm & 15); }                    \
    H(name##_im32) { name##_m(cpu, i, 32, ea_of(cpu, i), i->imm & 31); }                    \
    HSET(name##_EvGv, name##_gr16, name##_gr32, name##_gm16, name##_gm32);                   \
    HSET(name##_EvIb, name##_ir16, name##_ir32, name##_im16, name##_im32);

BT_OPS(bt, B_T)
BT_OPS(bts, B_S)
BT_OPS(btr, B_R)
BT_OPS(btc, B_C)

/* ---------------- BSF / BSR ---------------- */
static inline void bsx(struct cpu *cpu, const struct insn *i, unsigned bits, uint32_t src,
                       bool rev)
{
    uint32_t old = bits == 16 ? R16(cpu, i->reg) : R32(cpu, i->reg);
    (void)old;
    if (src == 0) { /* destination kept; flags: ZF and PF set, others clear */
        cpu->lf_op = LF(LK_BSF, SZ32);
        cpu->lf_res = 0;
        cpu->lf_op2 = 1;
        return;
    }
    uint32_t r = rev ? 31u - (uint32_t)__builtin_clz(src) : (uint32_t)__builtin_ctz(src);
    SETR(bits == 16 ? 16 : 32, i->reg, r);
    cpu->lf_op = LF(LK_BSF, SZ32);
    cpu->lf_res = r;
    cpu->lf_op2 = 0;
}
H(bsf_r16) { bsx(cpu, i, 16, R16(cpu, i->rm), false); }
H(bsf_r32) { bsx(cpu, i, 32, R32(cpu, i->rm), false); }
H(bsf_m16) { bsx(cpu, i, 16, EA_RD(16), false); }
H(bsf_m32) { bsx(cpu, i, 32, EA_RD(32), false); }
H(bsr_r16) { bsx(cpu, i, 16, R16(cpu, i->rm), true); }
H(bsr_r32) { bsx(cpu, i, 32, R32(cpu, i->rm), true); }
H(bsr_m16) { bsx(cpu, i, 16, EA_RD(16), true); }
H(bsr_m32) { bsx(cpu, i, 32, EA_RD(32), true); }
HSET(bsf, bsf_r16, bsf_r32, bsf_m16, bsf_m32);
HSET(bsr, bsr_r16, bsr_r32, bsr_m16, bsr_m32);

/* ---------------- CMPXCHG / XADD / CMPXCHG8B ---------------- */
#define CMPXCHG(bits)                                                                        \
    H(cmpxchg_r##bits)                                                                       \
    {                                                                                        \
        uint32_t acc = GETR(bits, 0), d = GETR(bits, i->rm);                                 \
        lf_set(cpu, LF(LK_SUB, SZ_##bits), acc, d, (acc - d) & M##bits);                     \
        if (acc == d)                                                                        \
            SETR(bits, i->rm, GETR(bits, i->reg));                                           \
        else                                                                                 \
            SETR(bits, 0, d);                                                                \
    }                                                                                        \
    H(cmpxchg_m##bits)                                                                       \
    {                                                                                        \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t acc = GETR(bits, 0), d = MREAD(bits, lin);                                  \
        MWRITE(bits, lin, acc == d ? GETR(bits, i->reg) : d);                                \
        lf_set(cpu, LF(LK_SUB, SZ_##bits), acc, d, (acc - d) & M##bits);                     \
        if (acc != d)                                                                        \
            SETR(bits, 0, d);                                                                \
    }                                                                                        \
    H(xadd_r##bits)                                                                          \
    {                                                                                        \
        uint32_t d = GETR(bits, i->rm), s = GETR(bits, i->reg), r = (d + s) & M##bits;       \
        SETR(bits, i->reg, d);                                                               \
        SETR(bits, i->rm, r);                                                                \
        lf_set(cpu, LF(LK_ADD, SZ_##bits), d, s, r);                                         \
    }                                                                                        \
    H(xadd_m##bits)                                                                          \
    {                                                                                        \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t d = MREAD(bits, lin), s = GETR(bits, i->reg), r = (d + s) & M##bits;        \
        MWRITE(bits, lin, r);                                                                \
        SETR(bits, i->reg, d);                                                               \
        lf_set(cpu, LF(LK_ADD, SZ_##bits), d, s, r);                                         \
    }
CMPXCHG(8)
CMPXCHG(16)
CMPXCHG(32)
HSET(cmpxchg_EbGb, cmpxchg_r8, cmpxchg_r8, cmpxchg_m8, cmpxchg_m8);
HSET(cmpxchg_EvGv, cmpxchg_r16, cmpxchg_r32, cmpxchg_m16, cmpxchg_m32);
HSET(xadd_EbGb, xadd_r8, xadd_r8, xadd_m8, xadd_m8);
HSET(xadd_EvGv, xadd_r16, xadd_r32, xadd_m16, xadd_m32);

H(op_cmpxchg8b)
{
    uint32_t ea = ea_of(cpu, i);
    uint32_t lo_lin = seg_lin(cpu, i->seg, ea, 8, true);
    uint32_t hi_lin = lo_lin + 4;
    uint32_t lo = MREAD(32, lo_lin), hi = MREAD(32, hi_lin);
    bool eq = lo == R32(cpu, R_EAX) && hi == R32(cpu, R_EDX);
    if (eq) {
        mmu_probe_write(cpu->mmu, lo_lin, 8, cpu->mmu->user);
        MWRITE(32, lo_lin, R32(cpu, R_EBX));
        MWRITE(32, hi_lin, R32(cpu, R_ECX));
    } else {
        mmu_probe_write(cpu->mmu, lo_lin, 8, cpu->mmu->user);
        MWRITE(32, lo_lin, lo);
        MWRITE(32, hi_lin, hi);
        R32(cpu, R_EAX) = lo;
        R32(cpu, R_EDX) = hi;
    }
    cpu_set_arith(cpu, FL_ZF, eq ? FL_ZF : 0);
}
HSET(cmpxchg8b, NULL, NULL, op_cmpxchg8b, op_cmpxchg8b);
