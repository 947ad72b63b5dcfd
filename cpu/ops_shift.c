/*
 * ops_shift.c — ROL ROR RCL RCR SHL/SAL SHR SAR and SHLD/SHRD (Intel SDM
 * Vol. 2 "RCL/RCR/ROL/ROR", "SAL/SAR/SHL/SHR", "SHLD", "SHRD").
 *
 * The count is masked to 5 bits; a masked count of 0 changes nothing.  The
 * flags the SDM leaves undefined follow the Intel P6/Core behaviour measured
 * on the host (test_flags.c compares against it): AF is cleared by shifts,
 * and OF is computed for every count by the count-1 formula applied to the
 * original operand (SHL/ROL/RCL: msb ^ next bit; SHR: msb; SAR: 0; ROR:
 * msb ^ lsb; RCR: CF-in ^ msb), except that ROL/ROR of a register by an
 * immediate count other than 1 leaves OF alone (measured: the CL and the
 * memory forms compute it),
 * and RCL/RCR by a multiple of size+1 change nothing.  SHL/SAL/SHR/SAR leave
 * lazy flags (LK_SHL/LK_SHR/LK_SAR, computed by flags.c from the original
 * operand and the count); rotates and SHLD/SHRD compute them eagerly here
 * (they are rarer, and rotates change only CF/OF).
 */
#include "cpu/ops_gen.h"

enum { S_ROL, S_ROR, S_RCL, S_RCR, S_SHL, S_SHR, S_SAL, S_SAR };
#define SZ_OF(bits) ((bits) == 8 ? SZ8 : (bits) == 16 ? SZ16 : SZ32)

static inline uint32_t szp(uint32_t r, unsigned bits)
{
    uint32_t f = 0;
    if ((r & (0xffffffffu >> (32 - bits))) == 0)
        f |= FL_ZF;
    if (r & (1u << (bits - 1)))
        f |= FL_SF;
    if (cpu_parity_table[r & 0xff])
        f |= FL_PF;
    return f;
}

/* Returns the result; fl and mask: the flags to apply (mask 0: unchanged;
 * MASK_LAZY: fl is the lazy op to record with the operand and count). */
#define MASK_LAZY 0xffffffffu
static inline uint32_t shift_calc(struct cpu *cpu, int op, unsigned bits, uint32_t v,
                                  unsigned cnt, uint32_t *fl, uint32_t *mask)
{
    uint32_t M = 0xffffffffu >> (32 - bits);
    uint32_t msb = (v >> (bits - 1)) & 1, nxt = (v >> (bits - 2)) & 1;
    uint32_t r, cf, of;
    cnt &= 31;
    *mask = 0;
    if (cnt == 0)
        return v;
    switch (op) {
    case S_ROL: {
        unsigned c = cnt & (bits - 1);
        r = c ? ((v << c) | (v >> (bits - c))) & M : v;
        cf = r & 1;
        of = msb ^ nxt;
        *fl = (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        *mask = FL_CF | FL_OF;
        return r;
    }
    case S_ROR: {
        unsigned c = cnt & (bits - 1);
        r = c ? ((v >> c) | (v << (bits - c))) & M : v;
        cf = (r >> (bits - 1)) & 1;
        of = msb ^ (v & 1);
        *fl = (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        *mask = FL_CF | FL_OF;
        return r;
    }
    case S_RCL: case S_RCR: {
        uint32_t cin = cpu_get_cf(cpu);
        unsigned c = bits == 32 ? cnt : cnt % (bits + 1);
        if (c == 0)
            return v; /* a whole turn: nothing changes, flags included */
        uint64_t x = ((uint64_t)cin << bits) | v, W = (2ull << bits) - 1;
        if (c) {
            if (op == S_RCL)
                x = ((x << c) | (x >> (bits + 1 - c))) & W;
            else
                x = ((x >> c) | (x << (bits + 1 - c))) & W;
        }
        r = (uint32_t)x & M;
        cf = (uint32_t)(x >> bits) & 1;
        of = op == S_RCL ? msb ^ nxt : cin ^ msb;
        *fl = (cf ? FL_CF : 0) | (of ? FL_OF : 0);
        *mask = FL_CF | FL_OF;
        return r;
    }
    case S_SHL: case S_SAL:
        *fl = LF(LK_SHL, SZ_OF(bits));
        *mask = MASK_LAZY;
        return (v << cnt) & M;
    case S_SHR:
        *fl = LF(LK_SHR, SZ_OF(bits));
        *mask = MASK_LAZY;
        return v >> cnt;
    default: /* SAR */
        *fl = LF(LK_SAR, SZ_OF(bits));
        *mask = MASK_LAZY;
        return (uint32_t)((int32_t)sext(v, bits) >> cnt) & M;
    }
}

/* v: the original operand, cnt: the masked count, r: the result. */
static inline void commit(struct cpu *cpu, uint32_t fl, uint32_t mask, uint32_t v, unsigned cnt,
                          uint32_t r)
{
    if (mask == MASK_LAZY) {
        lf_set(cpu, fl, v, cnt, r);
    } else if (mask == FL_ARITH) {
        cpu->eflags = (cpu->eflags & ~FL_ARITH) | fl;
        cpu->lf_op = LF_NONE;
    } else if (mask) {
        cpu_set_arith(cpu, mask, fl);
    }
}

/* Rotates of a register by an imm8 count other than 1 keep OF (P6/Core,
 * measured); the memory forms compute it like the CL forms (measured by
 * tests/difftest --exact-flags). */
#define IMM_OF_FIX(op, CNT)                                                                  \
    if ((op) <= S_ROR && mask && (i->opcode & 0xfe) == 0xc0 && ((CNT) & 31) != 1)            \
        mask &= ~FL_OF;

#define SHIFT_FORMS(name, op, bits, CNT)                                                     \
    H(name##_r##bits)                                                                        \
    {                                                                                        \
        uint32_t fl = 0, mask, v = GETR(bits, i->rm), cnt = (CNT) & 31;                      \
        uint32_t r = shift_calc(cpu, op, bits, v, cnt, &fl, &mask);                          \
        SETR(bits, i->rm, r);                                                                \
        IMM_OF_FIX(op, CNT)                                                                  \
        commit(cpu, fl, mask, v, cnt, r);                                                    \
    }                                                                                        \
    H(name##_m##bits)                                                                        \
    {                                                                                        \
        uint32_t fl = 0, mask;                                                               \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t v = MREAD(bits, lin), cnt = (CNT) & 31;                                     \
        uint32_t r = shift_calc(cpu, op, bits, v, cnt, &fl, &mask);                          \
        if (mask)                                                                            \
            MWRITE(bits, lin, r);                                                            \
        commit(cpu, fl, mask, v, cnt, r);                                                    \
    }

#define SHIFT_OP(name, op)                                                                   \
    SHIFT_FORMS(name##_ib, op, 8, i->imm)                                                    \
    SHIFT_FORMS(name##_ib, op, 16, i->imm)                                                   \
    SHIFT_FORMS(name##_ib, op, 32, i->imm)                                                   \
    SHIFT_FORMS(name##_1, op, 8, 1)                                                          \
    SHIFT_FORMS(name##_1, op, 16, 1)                                                         \
    SHIFT_FORMS(name##_1, op, 32, 1)                                                         \
    SHIFT_FORMS(name##_cl, op, 8, R8(cpu, R_ECX))                                            \
    SHIFT_FORMS(name##_cl, op, 16, R8(cpu, R_ECX))                                           \
    SHIFT_FORMS(name##_cl, op, 32, R8(cpu, R_ECX))                                           \
    HSET(name##_b_ib, name##_ib_r8, name##_ib_r8, name##_ib_m8, name##_ib_m8);               \
    HSET(name##_v_ib, name##_ib_r16, name##_ib_r32, name##_ib_m16, name##_ib_m32);           \
    HSET(name##_b_1, name##_1_r8, name##_1_r8, name##_1_m8, name##_1_m8);                    \
    HSET(name##_v_1, name##_1_r16, name##_1_r32, name##_1_m16, name##_1_m32);                \
    HSET(name##_b_cl, name##_cl_r8, name##_cl_r8, name##_cl_m8, name##_cl_m8);               \
    HSET(name##_v_cl, name##_cl_r16, name##_cl_r32, name##_cl_m16, name##_cl_m32);

SHIFT_OP(rol, S_ROL)
SHIFT_OP(ror, S_ROR)
SHIFT_OP(rcl, S_RCL)
SHIFT_OP(rcr, S_RCR)
SHIFT_OP(shl, S_SHL)
SHIFT_OP(shr, S_SHR)
SHIFT_OP(sar, S_SAR)

/* ---------------- SHLD / SHRD ---------------- */
/* 16-bit counts above 16 shift through dst:src:dst, as P6/Core do. */
static inline uint32_t dshift(bool left, unsigned bits, uint32_t d, uint32_t s, unsigned cnt,
                              uint32_t *fl)
{
    uint32_t r, cf, of;
    uint32_t msb = (d >> (bits - 1)) & 1;
    if (bits == 32) {
        uint64_t x = left ? ((uint64_t)d << 32 | s) : ((uint64_t)s << 32 | d);
        if (left) {
            r = (uint32_t)((x << cnt) >> 32);
            cf = (d >> (32 - cnt)) & 1;
            of = msb ^ ((d >> 30) & 1);
        } else {
            r = (uint32_t)(x >> cnt);
            cf = (d >> (cnt - 1)) & 1;
            of = (s & 1) ^ msb;
        }
    } else {
        uint64_t x;
        if (left) {
            x = ((uint64_t)d << 32) | ((uint64_t)s << 16) | d;
            r = (uint32_t)((x << cnt) >> 32) & 0xffff;
            cf = (uint32_t)(((x << (cnt - 1)) >> 47) & 1);
            of = msb ^ ((d >> 14) & 1);
        } else {
            x = ((uint64_t)d << 32) | ((uint64_t)s << 16) | d;
            r = (uint32_t)(x >> cnt) & 0xffff;
            cf = (uint32_t)(x >> (cnt - 1)) & 1;
            of = (s & 1) ^ msb;
        }
    }
    *fl = szp(r, bits) | (cf ? FL_CF : 0) | (of ? FL_OF : 0);
    return r;
}

#define DSHIFT(name, left, bits)                                                             \
    H(name##_r##bits)                                                                        \
    {                                                                                        \
        unsigned cnt = ((i->opcode & 1) ? R8(cpu, R_ECX) : i->imm) & 31;                     \
        uint32_t fl;                                                                         \
        if (!cnt)                                                                            \
            return;                                                                          \
        uint32_t r = dshift(left, bits, GETR(bits, i->rm), GETR(bits, i->reg), cnt, &fl);   \
        SETR(bits, i->rm, r);                                                                \
        commit(cpu, fl, FL_ARITH, 0, 0, 0);                                                  \
    }                                                                                        \
    H(name##_m##bits)                                                                        \
    {                                                                                        \
        unsigned cnt = ((i->opcode & 1) ? R8(cpu, R_ECX) : i->imm) & 31;                     \
        uint32_t fl;                                                                         \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t d = MREAD(bits, lin);                                                       \
        if (!cnt)                                                                            \
            return;                                                                          \
        uint32_t r = dshift(left, bits, d, GETR(bits, i->reg), cnt, &fl);                    \
        MWRITE(bits, lin, r);                                                                \
        commit(cpu, fl, FL_ARITH, 0, 0, 0);                                                  \
    }
DSHIFT(shld, true, 16)
DSHIFT(shld, true, 32)
DSHIFT(shrd, false, 16)
DSHIFT(shrd, false, 32)
HSET(shld, shld_r16, shld_r32, shld_m16, shld_m32);
HSET(shrd, shrd_r16, shrd_r32, shrd_m16, shrd_m32);
