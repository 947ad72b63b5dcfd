/*
 * ops_mov.c — data movement: MOV (all forms incl. moffs and Sreg), LEA,
 * XCHG, MOVZX/MOVSX, BSWAP, XLAT, PUSH/POP (incl. PUSHA/POPA, Sreg, r/m),
 * ENTER/LEAVE, BOUND, LDS/LES/LSS/LFS/LGS, and the string instructions
 * MOVS CMPS STOS LODS SCAS with REP/REPE/REPNE (Intel SDM Vol. 2).
 *
 * Instructions that pop into something that can fault (POP Sreg, POP r/m,
 * POPA) read the stack first and move ESP last, so a fault leaves ESP as it
 * was.  REP string instructions update ECX/ESI/EDI after every iteration,
 * so a fault mid-way is precise and restartable; a long REP yields every
 * few thousand iterations by restarting itself (EIP back at the
 * instruction) so interrupts are taken between iterations as on hardware.
 */
#include "cpu/ops_gen.h"

/* ---------------- MOV ---------------- */
#define MOV_FORMS(bits)                                                                      \
    H(mov_eg_r##bits) { SETR(bits, i->rm, GETR(bits, i->reg)); }                             \
    HM##bits(mov_eg_m##bits) { EA_WR(bits, GETR(bits, i->reg)); }                            \
    H(mov_ge_r##bits) { SETR(bits, i->reg, GETR(bits, i->rm)); }                             \
    HM##bits(mov_ge_m##bits) { SETR(bits, i->reg, EA_RD(bits)); }                            \
    H(mov_ei_r##bits) { SETR(bits, i->rm, i->imm); }                                         \
    HM##bits(mov_ei_m##bits) { EA_WR(bits, i->imm); }                                        \
    H(mov_ao_##bits) { SETR(bits, 0, rd##bits(cpu, i->seg, i->disp)); }                      \
    H(mov_oa_##bits) { wr##bits(cpu, i->seg, i->disp, GETR(bits, 0)); }
MOV_FORMS(8)
MOV_FORMS(16)
MOV_FORMS(32)
HSET(mov_EbGb, mov_eg_r8, mov_eg_r8, mov_eg_m8, mov_eg_m8);
HSET_EA(mov_EvGv, mov_eg_r16, mov_eg_r32, mov_eg_m16, mov_eg_m32);
HSET(mov_GbEb, mov_ge_r8, mov_ge_r8, mov_ge_m8, mov_ge_m8);
HSET_EA(mov_GvEv, mov_ge_r16, mov_ge_r32, mov_ge_m16, mov_ge_m32);
HSET(mov_EbIb, mov_ei_r8, mov_ei_r8, mov_ei_m8, mov_ei_m8);
HSET_EA(mov_EvIz, mov_ei_r16, mov_ei_r32, mov_ei_m16, mov_ei_m32);
HSET(mov_ZbIb, mov_ei_r8, mov_ei_r8, NULL, NULL);
HSET(mov_ZvIz, mov_ei_r16, mov_ei_r32, NULL, NULL);
HSET(mov_ALOb, mov_ao_8, mov_ao_8, NULL, NULL);
HSET(mov_eAXOv, mov_ao_16, mov_ao_32, NULL, NULL);
HSET(mov_ObAL, mov_oa_8, mov_oa_8, NULL, NULL);
HSET(mov_OveAX, mov_oa_16, mov_oa_32, NULL, NULL);

H(mov_sw_r16)
{
    if (i->reg > SEG_GS)
        cpu_fault(cpu, EXC_UD, 0);
    R16(cpu, i->rm) = cpu->seg[i->reg].sel;
}
H(mov_sw_r32)
{
    if (i->reg > SEG_GS)
        cpu_fault(cpu, EXC_UD, 0);
    R32(cpu, i->rm) = cpu->seg[i->reg].sel;
}
H(mov_sw_m)
{
    if (i->reg > SEG_GS)
        cpu_fault(cpu, EXC_UD, 0);
    EA_WR(16, cpu->seg[i->reg].sel);
}
HSET(mov_EvSw, mov_sw_r16, mov_sw_r32, mov_sw_m, mov_sw_m);

static inline void load_sreg(struct cpu *cpu, unsigned seg, uint16_t v)
{
    if (seg == SEG_CS || seg > SEG_GS)
        cpu_fault(cpu, EXC_UD, 0);
    cpu_load_seg(cpu, (int)seg, v);
    cpu_seg_flat_update(cpu);
    if (seg == SEG_SS)
        cpu->inhibit_irq = true;
}
H(mov_ws_r) { load_sreg(cpu, i->reg, R16(cpu, i->rm)); }
H(mov_ws_m)
{
    if (i->reg == SEG_CS || i->reg > SEG_GS)
        cpu_fault(cpu, EXC_UD, 0);
    load_sreg(cpu, i->reg, EA_RD(16));
}
HSET(mov_SwEw, mov_ws_r, mov_ws_r, mov_ws_m, mov_ws_m);

H(lea16) { R16(cpu, i->reg) = (uint16_t)ea_of(cpu, i); }
H_EA(lea32) { R32(cpu, i->reg) = EA(cpu, i); }
HSET_EA(lea, NULL, NULL, lea16, lea32);

/* ---------------- XCHG ---------------- */
#define XCHG_FORMS(bits)                                                                     \
    H(xchg_r##bits)                                                                          \
    {                                                                                        \
        uint32_t a = GETR(bits, i->rm);                                                      \
        SETR(bits, i->rm, GETR(bits, i->reg));                                               \
        SETR(bits, i->reg, a);                                                               \
    }                                                                                        \
    H(xchg_m##bits)                                                                          \
    {                                                                                        \
        uint32_t lin = EA_RMW(bits / 8);                                                     \
        uint32_t a = MREAD(bits, lin);                                                       \
        MWRITE(bits, lin, GETR(bits, i->reg));                                               \
        SETR(bits, i->reg, a);                                                               \
    }
XCHG_FORMS(8)
XCHG_FORMS(16)
XCHG_FORMS(32)
HSET(xchg_EbGb, xchg_r8, xchg_r8, xchg_m8, xchg_m8);
HSET(xchg_EvGv, xchg_r16, xchg_r32, xchg_m16, xchg_m32);
H(xchg_z16)
{
    uint16_t a = R16(cpu, i->rm);
    R16(cpu, i->rm) = R16(cpu, 0);
    R16(cpu, 0) = a;
}
H(xchg_z32)
{
    uint32_t a = R32(cpu, i->rm);
    R32(cpu, i->rm) = R32(cpu, 0);
    R32(cpu, 0) = a;
}
HSET(xchg_Zv, xchg_z16, xchg_z32, NULL, NULL);

/* ---------------- MOVZX / MOVSX / BSWAP / XLAT ---------------- */
H(movzxb_r16) { R16(cpu, i->reg) = R8(cpu, i->rm); }
H(movzxb_r32) { R32(cpu, i->reg) = R8(cpu, i->rm); }
H(movzxb_m16) { R16(cpu, i->reg) = EA_RD(8); }
H_EA(movzxb_m32) { R32(cpu, i->reg) = EA_RD(8); }
H(movzxw_r16) { R16(cpu, i->reg) = R16(cpu, i->rm); }
H(movzxw_r32) { R32(cpu, i->reg) = R16(cpu, i->rm); }
H(movzxw_m16) { R16(cpu, i->reg) = EA_RD(16); }
H_EA(movzxw_m32) { R32(cpu, i->reg) = EA_RD(16); }
H(movsxb_r16) { R16(cpu, i->reg) = (uint16_t)(int8_t)R8(cpu, i->rm); }
H(movsxb_r32) { R32(cpu, i->reg) = (uint32_t)(int8_t)R8(cpu, i->rm); }
H(movsxb_m16) { R16(cpu, i->reg) = (uint16_t)(int8_t)EA_RD(8); }
H_EA(movsxb_m32) { R32(cpu, i->reg) = (uint32_t)(int8_t)EA_RD(8); }
H(movsxw_r16) { R16(cpu, i->reg) = R16(cpu, i->rm); }
H(movsxw_r32) { R32(cpu, i->reg) = (uint32_t)(int16_t)R16(cpu, i->rm); }
H(movsxw_m16) { R16(cpu, i->reg) = EA_RD(16); }
H_EA(movsxw_m32) { R32(cpu, i->reg) = (uint32_t)(int16_t)EA_RD(16); }
HSET_EA(movzx_b, movzxb_r16, movzxb_r32, movzxb_m16, movzxb_m32);
HSET_EA(movzx_w, movzxw_r16, movzxw_r32, movzxw_m16, movzxw_m32);
HSET_EA(movsx_b, movsxb_r16, movsxb_r32, movsxb_m16, movsxb_m32);
HSET_EA(movsx_w, movsxw_r16, movsxw_r32, movsxw_m16, movsxw_m32);

H(bswap16) { R16(cpu, i->rm) = 0; /* undefined; P6/Core give 0 */ }
H(bswap32) { R32(cpu, i->rm) = __builtin_bswap32(R32(cpu, i->rm)); }
HSET(bswap, bswap16, bswap32, NULL, NULL);

H(op_xlat)
{
    uint32_t off = R32(cpu, R_EBX) + R8(cpu, 0);
    if (i->adsize == 2)
        off &= 0xffff;
    R8(cpu, 0) = rd8(cpu, i->seg, off);
}
HSET(xlat, op_xlat, op_xlat, NULL, NULL);

/* ---------------- PUSH / POP ---------------- */
H(push_z16) { push16(cpu, R16(cpu, i->rm)); }
H(push_z32) { push32(cpu, R32(cpu, i->rm)); }
H(pop_z16)
{
    uint16_t v = pop16(cpu);
    R16(cpu, i->rm) = v;
}
H(pop_z32)
{
    uint32_t v = pop32(cpu);
    R32(cpu, i->rm) = v;
}
HSET(push_Zv, push_z16, push_z32, NULL, NULL);
HSET(pop_Zv, pop_z16, pop_z32, NULL, NULL);
H(push_i16) { push16(cpu, (uint16_t)i->imm); }
H(push_i32) { push32(cpu, i->imm); }
HSET(push_imm, push_i16, push_i32, NULL, NULL);
H(push_m16) { push16(cpu, EA_RD(16)); }
H_EA(push_m32) { push32(cpu, EA_RD(32)); }
HSET_EA(push_Ev, push_z16, push_z32, push_m16, push_m32);

/* POP r/m: ESP is incremented before the destination address is computed. */
H(pop_m16)
{
    uint16_t v = rd16(cpu, SEG_SS, stack_off(cpu, 0));
    uint32_t old = cpu->regs[R_ESP];
    stack_add(cpu, 2);
    uint32_t ea = ea_of(cpu, i);
    cpu->regs[R_ESP] = old;
    wr16(cpu, i->seg, ea, v);
    stack_add(cpu, 2);
}
H(pop_m32)
{
    uint32_t v = rd32(cpu, SEG_SS, stack_off(cpu, 0));
    uint32_t old = cpu->regs[R_ESP];
    stack_add(cpu, 4);
    uint32_t ea = ea_of(cpu, i);
    cpu->regs[R_ESP] = old;
    wr32(cpu, i->seg, ea, v);
    stack_add(cpu, 4);
}
HSET(pop_Ev, pop_z16, pop_z32, pop_m16, pop_m32);

/* Segment pushes: a 32-bit push writes only the low 16 bits (P6/Core). */
static inline void push_sreg(struct cpu *cpu, const struct insn *i, int seg)
{
    if (i->opsize == 2) {
        push16(cpu, cpu->seg[seg].sel);
    } else {
        uint32_t sp = stack_off(cpu, (uint32_t)-4);
        wr16(cpu, SEG_SS, sp, cpu->seg[seg].sel);
        stack_add(cpu, (uint32_t)-4);
    }
}
static inline void pop_sreg(struct cpu *cpu, const struct insn *i, int seg)
{
    uint16_t v = rd16(cpu, SEG_SS, stack_off(cpu, 0));
    cpu_load_seg(cpu, seg, v);
    cpu_seg_flat_update(cpu); /* POP ES/DS/FS/GS do not end the block */
    stack_add(cpu, i->opsize);
    if (seg == SEG_SS)
        cpu->inhibit_irq = true;
}
#define SREG_PP(name, seg)                                                                   \
    H(push_##name##_h) { push_sreg(cpu, i, seg); }                                           \
    H(pop_##name##_h) { pop_sreg(cpu, i, seg); }                                             \
    HSET(push_##name, push_##name##_h, push_##name##_h, NULL, NULL);                         \
    HSET(pop_##name, pop_##name##_h, pop_##name##_h, NULL, NULL);
SREG_PP(es, SEG_ES)
SREG_PP(ss, SEG_SS)
SREG_PP(ds, SEG_DS)
SREG_PP(fs, SEG_FS)
SREG_PP(gs, SEG_GS)
H(push_cs_h) { push_sreg(cpu, i, SEG_CS); }
HSET(push_cs, push_cs_h, push_cs_h, NULL, NULL);

H(pusha16)
{
    uint32_t sz = 2;
    for (int r = 0; r < 8; r++)
        wr16(cpu, SEG_SS, stack_off(cpu, (uint32_t)-(int32_t)(sz * (r + 1))),
             r == R_ESP ? R16(cpu, R_ESP) : R16(cpu, r));
    stack_add(cpu, (uint32_t)-16);
}
H(pusha32)
{
    for (int r = 0; r < 8; r++)
        wr32(cpu, SEG_SS, stack_off(cpu, (uint32_t)-(int32_t)(4 * (r + 1))), R32(cpu, r));
    stack_add(cpu, (uint32_t)-32);
}
H(popa16)
{
    uint16_t v[8];
    for (int r = 0; r < 8; r++)
        v[r] = rd16(cpu, SEG_SS, stack_off(cpu, (uint32_t)(2 * (7 - r))));
    for (int r = 0; r < 8; r++)
        if (r != R_ESP)
            R16(cpu, r) = v[r];
    stack_add(cpu, 16);
}
H(popa32)
{
    uint32_t v[8];
    for (int r = 0; r < 8; r++)
        v[r] = rd32(cpu, SEG_SS, stack_off(cpu, (uint32_t)(4 * (7 - r))));
    for (int r = 0; r < 8; r++)
        if (r != R_ESP)
            R32(cpu, r) = v[r];
    stack_add(cpu, 32);
}
HSET(pusha, pusha16, pusha32, NULL, NULL);
HSET(popa, popa16, popa32, NULL, NULL);

/* ---------------- ENTER / LEAVE ---------------- */
H(op_enter)
{
    unsigned size = i->opsize, level = i->imm2 & 31;
    uint32_t frame = stack_off(cpu, (uint32_t)-(int32_t)size);
    uint32_t ebp = cpu->regs[R_EBP];
    uint32_t sp = frame; /* offset of the pushed EBP */
    bool s32 = ss32(cpu);
    /* All reads/writes first, registers last: precise on a fault. */
    if (size == 4)
        wr32(cpu, SEG_SS, sp, ebp);
    else
        wr16(cpu, SEG_SS, sp, (uint16_t)ebp);
    for (unsigned l = 1; l < level; l++) {
        uint32_t bp = s32 ? ebp - size * l : (uint16_t)(ebp - size * l);
        sp = s32 ? sp - size : (uint16_t)(sp - size);
        if (size == 4)
            wr32(cpu, SEG_SS, sp, rd32(cpu, SEG_SS, bp));
        else
            wr16(cpu, SEG_SS, sp, rd16(cpu, SEG_SS, bp));
    }
    if (level) {
        sp = s32 ? sp - size : (uint16_t)(sp - size);
        if (size == 4)
            wr32(cpu, SEG_SS, sp, frame);
        else
            wr16(cpu, SEG_SS, sp, (uint16_t)frame);
    }
    uint32_t newsp = s32 ? sp - i->imm : (uint16_t)(sp - i->imm);
    /* Last, the CPU probes a write of operand size at the final stack
     * pointer (SDM ENTER: #SS, #PF and #AC there); the frame it pushed
     * stays in memory when that faults, as on hardware. */
    if (i->imm) {
        uint32_t lin = seg_lin(cpu, SEG_SS, newsp, size, true);
        (void)mmu_translate(cpu->mmu, lin, MMU_WRITE, cpu->mmu->user);
    }
    if (size == 4)
        cpu->regs[R_EBP] = frame;
    else
        R16(cpu, R_EBP) = (uint16_t)frame;
    if (s32)
        cpu->regs[R_ESP] = newsp;
    else
        R16(cpu, R_ESP) = (uint16_t)newsp;
}
HSET(enter, op_enter, op_enter, NULL, NULL);

H(op_leave)
{
    uint32_t bp = ss32(cpu) ? cpu->regs[R_EBP] : R16(cpu, R_EBP);
    if (i->opsize == 4) {
        uint32_t v = rd32(cpu, SEG_SS, bp);
        if (ss32(cpu))
            cpu->regs[R_ESP] = bp + 4;
        else
            R16(cpu, R_ESP) = (uint16_t)(bp + 4);
        cpu->regs[R_EBP] = v;
    } else {
        uint16_t v = rd16(cpu, SEG_SS, bp);
        if (ss32(cpu))
            cpu->regs[R_ESP] = bp + 2;
        else
            R16(cpu, R_ESP) = (uint16_t)(bp + 2);
        R16(cpu, R_EBP) = v;
    }
}
HSET(leave, op_leave, op_leave, NULL, NULL);

/* ---------------- BOUND / far pointer loads ---------------- */
H(bound16)
{
    uint32_t ea = ea_of(cpu, i);
    int16_t lo = (int16_t)rd16(cpu, i->seg, ea);
    int16_t hi = (int16_t)rd16(cpu, i->seg, (ea + 2) & (i->adsize == 2 ? 0xffff : ~0u));
    int16_t v = (int16_t)R16(cpu, i->reg);
    if (v < lo || v > hi)
        cpu_fault(cpu, EXC_BR, 0);
}
H(bound32)
{
    uint32_t ea = ea_of(cpu, i);
    int32_t lo = (int32_t)rd32(cpu, i->seg, ea);
    int32_t hi = (int32_t)rd32(cpu, i->seg, (ea + 4) & (i->adsize == 2 ? 0xffff : ~0u));
    int32_t v = (int32_t)R32(cpu, i->reg);
    if (v < lo || v > hi)
        cpu_fault(cpu, EXC_BR, 0);
}
HSET(bound, NULL, NULL, bound16, bound32);

static inline void load_far(struct cpu *cpu, const struct insn *i, int seg)
{
    uint32_t ea = ea_of(cpu, i), off;
    uint32_t amask = i->adsize == 2 ? 0xffff : ~0u;
    uint16_t sel;
    if (i->opsize == 4) {
        off = rd32(cpu, i->seg, ea);
        sel = rd16(cpu, i->seg, (ea + 4) & amask);
    } else {
        off = rd16(cpu, i->seg, ea);
        sel = rd16(cpu, i->seg, (ea + 2) & amask);
    }
    cpu_load_seg(cpu, seg, sel);
    cpu_seg_flat_update(cpu); /* LDS/LES/LFS/LGS do not end the block */
    if (i->opsize == 4)
        R32(cpu, i->reg) = off;
    else
        R16(cpu, i->reg) = (uint16_t)off;
    if (seg == SEG_SS)
        cpu->inhibit_irq = true;
}
#define LFAR(name, seg)                                                                      \
    H(name##_h) { load_far(cpu, i, seg); }                                                   \
    HSET(name, NULL, NULL, name##_h, name##_h);
LFAR(les, SEG_ES)
LFAR(lds, SEG_DS)
LFAR(lss, SEG_SS)
LFAR(lfs, SEG_FS)
LFAR(lgs, SEG_GS)

/* ---------------- string instructions ---------------- */
enum { ST_MOVS, ST_CMPS, ST_STOS, ST_LODS, ST_SCAS };
#define STR_CHUNK 4096

static inline uint32_t str_rd(struct cpu *cpu, int seg, uint32_t off, unsigned sz)
{
    return sz == 1 ? rd8(cpu, seg, off) : sz == 2 ? rd16(cpu, seg, off) : rd32(cpu, seg, off);
}
static inline void str_wr(struct cpu *cpu, int seg, uint32_t off, unsigned sz, uint32_t v)
{
    if (sz == 1)
        wr8(cpu, seg, off, (uint8_t)v);
    else if (sz == 2)
        wr16(cpu, seg, off, (uint16_t)v);
    else
        wr32(cpu, seg, off, v);
}

static inline void str_op(struct cpu *cpu, const struct insn *i, int op, unsigned sz)
{
    bool a32 = i->adsize == 4;
    uint32_t amask = a32 ? 0xffffffffu : 0xffffu;
    uint32_t delta = (cpu->eflags & FL_DF) ? (uint32_t)-(int32_t)sz : sz;
    int lsz = sz == 1 ? SZ8 : sz == 2 ? SZ16 : SZ32;
    uint32_t vmask = sz == 4 ? 0xffffffffu : (1u << (8 * sz)) - 1;
    bool rep = i->rep != 0;
    unsigned n = 0;
    /* Single-stepping traps after every iteration (SDM Vol. 3 §17.3.1.4) */
    unsigned chunk = UNLIKELY(cpu->eflags & FL_TF) ? 1 : STR_CHUNK;

    for (;;) {
        if (rep && (cpu->regs[R_ECX] & amask) == 0)
            return;
        uint32_t si = cpu->regs[R_ESI] & amask, di = cpu->regs[R_EDI] & amask;
        bool stop = false;
        switch (op) {
        case ST_MOVS:
            str_wr(cpu, SEG_ES, di, sz, str_rd(cpu, i->seg, si, sz));
            break;
        case ST_STOS:
            str_wr(cpu, SEG_ES, di, sz, cpu->regs[R_EAX] & vmask);
            break;
        case ST_LODS: {
            uint32_t v = str_rd(cpu, i->seg, si, sz);
            if (sz == 1)
                R8(cpu, 0) = (uint8_t)v;
            else if (sz == 2)
                R16(cpu, 0) = (uint16_t)v;
            else
                R32(cpu, 0) = v;
            break;
        }
        case ST_CMPS: {
            uint32_t a = str_rd(cpu, i->seg, si, sz), b = str_rd(cpu, SEG_ES, di, sz);
            lf_set(cpu, LF(LK_SUB, lsz), a, b, (a - b) & vmask);
            if (rep)
                stop = (a == b) != (i->rep == 0xf3);
            break;
        }
        case ST_SCAS: {
            uint32_t a = cpu->regs[R_EAX] & vmask, b = str_rd(cpu, SEG_ES, di, sz);
            lf_set(cpu, LF(LK_SUB, lsz), a, b, (a - b) & vmask);
            if (rep)
                stop = (a == b) != (i->rep == 0xf3);
            break;
        }
        }
        if (op == ST_MOVS || op == ST_CMPS || op == ST_LODS)
            cpu->regs[R_ESI] = a32 ? si + delta : (cpu->regs[R_ESI] & ~0xffffu) | ((si + delta) & 0xffff);
        if (op != ST_LODS)
            cpu->regs[R_EDI] = a32 ? di + delta : (cpu->regs[R_EDI] & ~0xffffu) | ((di + delta) & 0xffff);
        if (!rep)
            return;
        if (a32)
            cpu->regs[R_ECX]--;
        else
            R16(cpu, R_ECX)--;
        if (stop)
            return;
        if (++n >= chunk && (cpu->regs[R_ECX] & amask) != 0) {
            /* yield: re-execute this instruction after an interrupt check.
             * A trap or interrupt taken between iterations pushes RF=1, so
             * returning into the instruction skips its breakpoint (§17.3.1.1) */
            cpu->eip = cpu->insn_eip;
            cpu->eflags |= FL_RF;
            cpu_end_block(cpu);
            return;
        }
    }
}

#define STR_H(name, op)                                                                      \
    H(name##_1) { str_op(cpu, i, op, 1); }                                                   \
    H(name##_2) { str_op(cpu, i, op, 2); }                                                   \
    H(name##_4) { str_op(cpu, i, op, 4); }                                                   \
    HSET(name##b, name##_1, name##_1, NULL, NULL);                                           \
    HSET(name, name##_2, name##_4, NULL, NULL);
STR_H(movs, ST_MOVS)
STR_H(cmps, ST_CMPS)
STR_H(stos, ST_STOS)
STR_H(lods, ST_LODS)
STR_H(scas, ST_SCAS)
