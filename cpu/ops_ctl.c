/*
 * ops_ctl.c — control transfer: Jcc, JMP/CALL (relative, indirect, far),
 * RET/RETF, LOOP/LOOPE/LOOPNE/JCXZ/JECXZ, plus #UD, NOP, WAIT, the x87
 * escape placeholder, and the handler sets that route system opcodes to
 * CPU-B's handlers in ops_sys.h (Intel SDM Vol. 2).
 *
 * Near branches stay within 16 bits in 16-bit code (jump_to).  The CS-limit
 * check of a branch target happens when the target is fetched (decode.c),
 * i.e. with EIP already at the target rather than at the branch.
 */
#include "cpu/ops_gen.h"
#include "cpu/ops_sys.h"

void op_ud(struct cpu *cpu, const struct insn *i) { cpu_fault(cpu, EXC_UD, 0); }
HSET(ud, op_ud, op_ud, op_ud, op_ud);

H(op_nop) {}
HSET(nop, op_nop, op_nop, NULL, NULL);
HSET(nop_Ev, op_nop, op_nop, op_nop, op_nop);

/* ---------------- Jcc ---------------- */
#define JCC(n)                                                                               \
    H(jcc16_##n)                                                                             \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n))                                                           \
            cpu->eip = (cpu->eip + i->imm) & 0xffff;                                         \
    }                                                                                        \
    H(jcc32_##n)                                                                             \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n))                                                           \
            cpu->eip += i->imm;                                                              \
    }                                                                                        \
    HSET(jcc_##n, jcc16_##n, jcc32_##n, NULL, NULL);
JCC(0) JCC(1) JCC(2) JCC(3) JCC(4) JCC(5) JCC(6) JCC(7)
JCC(8) JCC(9) JCC(a) JCC(b) JCC(c) JCC(d) JCC(e) JCC(f)

H(jmp16) { cpu->eip = (cpu->eip + i->imm) & 0xffff; }
H(jmp32) { cpu->eip += i->imm; }
HSET(jmp_J, jmp16, jmp32, NULL, NULL);

H(call16)
{
    push16(cpu, (uint16_t)cpu->eip);
    cpu->eip = (cpu->eip + i->imm) & 0xffff;
}
H(call32)
{
    push32(cpu, cpu->eip);
    cpu->eip += i->imm;
}
HSET(call_Jz, call16, call32, NULL, NULL);

H(jmp_r16) { cpu->eip = R16(cpu, i->rm); }
H(jmp_r32) { cpu->eip = R32(cpu, i->rm); }
H(jmp_m16) { cpu->eip = EA_RD(16); }
H_EA(jmp_m32) { cpu->eip = EA_RD(32); }
HSET_EA(jmp_Ev, jmp_r16, jmp_r32, jmp_m16, jmp_m32);

static inline __attribute__((always_inline)) void call_abs16(struct cpu *cpu, uint16_t t)
{
    push16(cpu, (uint16_t)cpu->eip);
    cpu->eip = t;
}
static inline __attribute__((always_inline)) void call_abs32(struct cpu *cpu, uint32_t t)
{
    push32(cpu, cpu->eip);
    cpu->eip = t;
}
H(call_r16) { call_abs16(cpu, R16(cpu, i->rm)); }
H(call_r32) { call_abs32(cpu, R32(cpu, i->rm)); }
H(call_m16) { call_abs16(cpu, EA_RD(16)); }
H_EA(call_m32) { call_abs32(cpu, EA_RD(32)); }
HSET_EA(call_Ev, call_r16, call_r32, call_m16, call_m32);

H(ret16) { cpu->eip = pop16(cpu); }
H(ret32) { cpu->eip = pop32(cpu); }
HSET(ret, ret16, ret32, NULL, NULL);
H(ret_i16)
{
    cpu->eip = pop16(cpu);
    stack_add(cpu, i->imm & 0xffff);
}
H(ret_i32)
{
    cpu->eip = pop32(cpu);
    stack_add(cpu, i->imm & 0xffff);
}
HSET(ret_imm, ret_i16, ret_i32, NULL, NULL);

/* ---------------- LOOP family ---------------- */
static inline uint32_t count_dec(struct cpu *cpu, const struct insn *i)
{
    if (i->adsize == 4)
        return --cpu->regs[R_ECX];
    return --R16(cpu, R_ECX);
}
static inline void take(struct cpu *cpu, const struct insn *i)
{
    jump_to(cpu, cpu->eip + i->imm, i->opsize);
}
H(op_loop)
{
    if (count_dec(cpu, i))
        take(cpu, i);
}
H(op_loope)
{
    if (count_dec(cpu, i) && cond_eval(cpu, 4))
        take(cpu, i);
}
H(op_loopne)
{
    if (count_dec(cpu, i) && cond_eval(cpu, 5))
        take(cpu, i);
}
H(op_jcxz)
{
    if ((i->adsize == 4 ? cpu->regs[R_ECX] : R16(cpu, R_ECX)) == 0)
        take(cpu, i);
}
HSET(loop, op_loop, op_loop, NULL, NULL);
HSET(loope, op_loope, op_loope, NULL, NULL);
HSET(loopne, op_loopne, op_loopne, NULL, NULL);
HSET(jcxz, op_jcxz, op_jcxz, NULL, NULL);

/* ---------------- far transfers (seg.c does the work) ---------------- */
H(op_jmpf_ap) { cpu_far_jmp(cpu, (uint16_t)i->imm2, i->imm, i->opsize); }
H(op_callf_ap) { cpu_far_call(cpu, (uint16_t)i->imm2, i->imm, i->opsize); }
static inline void far_ptr(struct cpu *cpu, const struct insn *i, uint16_t *sel, uint32_t *off)
{
    uint32_t ea = ea_of(cpu, i), amask = i->adsize == 2 ? 0xffff : ~0u;
    if (i->opsize == 4) {
        *off = rd32(cpu, i->seg, ea);
        *sel = rd16(cpu, i->seg, (ea + 4) & amask);
    } else {
        *off = rd16(cpu, i->seg, ea);
        *sel = rd16(cpu, i->seg, (ea + 2) & amask);
    }
}
H(op_jmpf_mp)
{
    uint16_t sel;
    uint32_t off;
    far_ptr(cpu, i, &sel, &off);
    cpu_far_jmp(cpu, sel, off, i->opsize);
}
H(op_callf_mp)
{
    uint16_t sel;
    uint32_t off;
    far_ptr(cpu, i, &sel, &off);
    cpu_far_call(cpu, sel, off, i->opsize);
}
H(op_retf) { cpu_far_ret(cpu, i->opsize, (uint16_t)i->imm); }
HSET(jmpf_Ap, op_jmpf_ap, op_jmpf_ap, NULL, NULL);
HSET(callf_Ap, op_callf_ap, op_callf_ap, NULL, NULL);
HSET(jmpf_Mp, NULL, NULL, op_jmpf_mp, op_jmpf_mp);
HSET(callf_Mp, NULL, NULL, op_callf_mp, op_callf_mp);
HSET(retf, op_retf, op_retf, NULL, NULL);

/* ---------------- system opcodes: CPU-B's handlers ---------------- */
#define SYS_ALL(name, fn) HSET(name, fn, fn, fn, fn);
SYS_ALL(grp6, op_grp6)
SYS_ALL(grp7, op_grp7)
SYS_ALL(lar, op_lar)
SYS_ALL(lsl, op_lsl)
SYS_ALL(clts, op_clts)
SYS_ALL(invd, op_invd)
SYS_ALL(mov_r_cr, op_mov_r_cr)
SYS_ALL(mov_r_dr, op_mov_r_dr)
SYS_ALL(mov_cr_r, op_mov_cr_r)
SYS_ALL(mov_dr_r, op_mov_dr_r)
SYS_ALL(wrmsr, op_wrmsr)
SYS_ALL(rdtsc, op_rdtsc)
SYS_ALL(rdmsr, op_rdmsr)
SYS_ALL(rdpmc, op_rdpmc)
SYS_ALL(sysenter, op_sysenter)
SYS_ALL(sysexit, op_sysexit)
SYS_ALL(cpuid, op_cpuid)
SYS_ALL(arpl, op_arpl)
SYS_ALL(hlt, op_hlt)
SYS_ALL(cli, op_cli)
SYS_ALL(sti, op_sti)
SYS_ALL(pushf, op_pushf)
SYS_ALL(popf, op_popf)
SYS_ALL(int3, op_int3)
SYS_ALL(int_imm, op_int_imm)
SYS_ALL(into, op_into)
SYS_ALL(int1, op_int1)
SYS_ALL(iret, op_iret)
SYS_ALL(in, op_in)
SYS_ALL(out, op_out)
SYS_ALL(ins, op_ins)
SYS_ALL(outs, op_outs)
