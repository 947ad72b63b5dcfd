/*
 * disasm.c — Intel-syntax text for a decoded instruction, driven by the
 * operand codes of the same opcodes.def row the decoder used (SDM Vol. 2,
 * App. A.2 operand notation), e.g. "add eax, dword [ebx+esi*4+0x10]".
 *
 * Design choice: the disassembler works on struct insn, not bytes, so the
 * -d exec log prints exactly what the block cache will execute.  String
 * operands (X/Y codes) are implied by the mnemonic and not printed.
 */
#include <stdarg.h>
#include <stdio.h>

#include "cpu/ops.h"

static const char *const reg8[8] = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };
static const char *const reg16[8] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *const reg32[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const sreg[8] = { "es", "cs", "ss", "ds", "fs", "gs", "?", "?" };

struct out {
    char *buf;
    size_t size, pos;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    if (o->pos >= o->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->pos, o->size - o->pos, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->pos += (size_t)n;
    if (o->pos >= o->size)
        o->pos = o->size - 1;
}

static const char *regname(unsigned size, unsigned r)
{
    return size == 1 ? reg8[r & 7] : size == 2 ? reg16[r & 7] : reg32[r & 7];
}

static void put_hex(struct out *o, int32_t v, bool sign)
{
    if (sign && v < 0)
        put(o, "-0x%x", (unsigned)-(int64_t)v);
    else
        put(o, "0x%x", (unsigned)v);
}

static void put_mem(struct out *o, const struct insn *i, const char *sizekw)
{
    if (sizekw)
        put(o, "%s ", sizekw);
    uint8_t defseg = SEG_DS;
    if ((i->flags & INSN_F_HAS_MODRM) && (i->base == R_EBP || (i->adsize == 4 && i->base == R_ESP)))
        defseg = SEG_SS;
    if (i->seg != defseg)
        put(o, "%s:", sreg[i->seg & 7]);
    put(o, "[");
    const char *const *names = i->adsize == 2 ? reg16 : reg32;
    bool any = false;
    if (i->base != 0xff) {
        put(o, "%s", names[i->base]);
        any = true;
    }
    if (i->index != 0xff) {
        put(o, "%s%s", any ? "+" : "", names[i->index]);
        if (i->scale)
            put(o, "*%u", 1u << i->scale);
        any = true;
    }
    if (!any) {
        put_hex(o, (int32_t)i->disp, false);
    } else if (i->disp) {
        int32_t d = i->adsize == 2 ? (int16_t)i->disp : (int32_t)i->disp;
        put(o, d < 0 ? "" : "+");
        put_hex(o, d, true);
    }
    put(o, "]");
}

static const char *size_kw(unsigned size)
{
    return size == 1 ? "byte" : size == 2 ? "word" : size == 4 ? "dword" : "qword";
}

/* Print one operand code; returns false if it printed nothing. */
static bool put_operand(struct out *o, const struct insn *i, const char *code, uint32_t eip,
                        bool *first_imm)
{
    unsigned v = i->opsize;
    char c0 = code[0], c1 = code[1];
    unsigned size = c1 == 'b' ? 1 : c1 == 'w' ? 2 : c1 == 'd' ? 4 : v;
    if (!strcmp(code, "AL") || !strcmp(code, "CL") || !strcmp(code, "DX") ||
        !strcmp(code, "ES") || !strcmp(code, "CS") || !strcmp(code, "SS") ||
        !strcmp(code, "DS") || !strcmp(code, "FS") || !strcmp(code, "GS")) {
        put(o, "%c%c", code[0] + 32, code[1] + 32);
        return true;
    }
    if (!strcmp(code, "eAX")) {
        put(o, "%s", v == 4 ? "eax" : "ax");
        return true;
    }
    if (!strcmp(code, "1")) {
        put(o, "1");
        return true;
    }
    switch (c0) {
    case 'E':
        if (i->mod == 3)
            put(o, "%s", regname(size, i->rm));
        else
            put_mem(o, i, size_kw(size));
        return true;
    case 'M':
        put_mem(o, i, c1 == 'p' ? "far" : c1 == 'q' ? "qword" : NULL);
        return true;
    case 'G':
        put(o, "%s", regname(size, i->reg));
        return true;
    case 'Z':
        put(o, "%s", regname(size, i->rm));
        return true;
    case 'R':
        put(o, "%s", reg32[i->rm]);
        return true;
    case 'C':
        put(o, "cr%u", i->reg);
        return true;
    case 'D':
        put(o, "dr%u", i->reg);
        return true;
    case 'S':
        put(o, "%s", sreg[i->reg]);
        return true;
    case 'O':
        put_mem(o, i, size_kw(size));
        return true;
    case 'X': case 'Y':
        return false;
    case 'A':
        put(o, "0x%x:0x%x", i->imm2 & 0xffff, i->imm);
        return true;
    case 'J': {
        uint32_t t = eip + i->len + i->imm;
        if (i->opsize == 2)
            t &= 0xffff;
        put(o, "0x%x", t);
        return true;
    }
    case 'I': {
        uint32_t imm = *first_imm ? i->imm : i->imm2;
        *first_imm = false;
        if (!strcmp(code, "Ibs")) {
            put_hex(o, (int32_t)imm, true);
        } else {
            uint32_t m = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffffu;
            put(o, "0x%x", imm & m);
        }
        return true;
    }
    }
    put(o, "%s", code);
    return true;
}

/* The x87 escapes D8-DF: the opcode table has one row per escape byte, so
 * the mnemonics come from the modrm map here (SDM Vol. 2 App. A.5). */
static const char *const x87_mem[8][8] = {
    { "fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr" },
    { "fld", NULL, "fst", "fstp", "fldenv", "fldcw", "fnstenv", "fnstcw" },
    { "fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr" },
    { "fild", "fisttp", "fist", "fistp", NULL, "fld", NULL, "fstp" },
    { "fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr" },
    { "fld", "fisttp", "fst", "fstp", "frstor", NULL, "fnsave", "fnstsw" },
    { "fiadd", "fimul", "ficom", "ficomp", "fisub", "fisubr", "fidiv", "fidivr" },
    { "fild", "fisttp", "fist", "fistp", "fbld", "fild", "fbstp", "fistp" },
};
/* operand size per escape (and, for D9/DB/DD/DF, per reg): 0 = no keyword */
static unsigned x87_mem_size(unsigned esc, unsigned reg)
{
    static const uint8_t d9[8] = { 4, 0, 4, 4, 0, 2, 0, 2 }, db[8] = { 4, 4, 4, 4, 0, 10, 0, 10 },
                         dd[8] = { 8, 8, 8, 8, 0, 0, 0, 2 }, df[8] = { 2, 2, 2, 2, 10, 8, 10, 8 };
    switch (esc) {
    case 0: case 2: return 4;
    case 4: return 8;
    case 6: return 2;
    case 1: return d9[reg];
    case 3: return db[reg];
    case 5: return dd[reg];
    default: return df[reg];
    }
}
static const char *const x87_d9_e0[32] = {
    "fchs",  "fabs",   NULL,     NULL,   "ftst",   "fxam",  NULL,    NULL,
    "fld1",  "fldl2t", "fldl2e", "fldpi", "fldlg2", "fldln2", "fldz", NULL,
    "f2xm1", "fyl2x",  "fptan",  "fpatan", "fxtract", "fprem1", "fdecstp", "fincstp",
    "fprem", "fyl2xp1", "fsqrt", "fsincos", "frndint", "fscale", "fsin", "fcos",
};

static void x87_disasm(struct out *o, const struct insn *i)
{
    unsigned esc = i->opcode & 7, reg = i->reg & 7, rm = i->rm & 7;
    if (i->mod != 3) {
        const char *m = x87_mem[esc][reg];
        unsigned sz = x87_mem_size(esc, reg);
        put(o, "%s ", m ? m : "(bad)");
        put_mem(o, i, sz == 10 ? "tword" : sz ? size_kw(sz) : NULL);
        return;
    }
    /* register forms: name, and operand shape 0 none, 1 st(i), 2 st,st(i), 3 st(i),st */
    static const char *const d8[8] = { "fadd", "fmul", "fcom", "fcomp", "fsub", "fsubr", "fdiv", "fdivr" };
    static const char *const dc[8] = { "fadd", "fmul", "fcom2", "fcomp3", "fsubr", "fsub", "fdivr", "fdiv" };
    static const char *const de[8] = { "faddp", "fmulp", "fcomp5", NULL, "fsubrp", "fsubp", "fdivrp", "fdivp" };
    static const char *const fcmov[8] = { "fcmovb", "fcmove", "fcmovbe", "fcmovu",
                                          "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu" };
    const char *m = NULL;
    int shape = 1;
    switch (esc) {
    case 0: m = d8[reg]; shape = reg == 2 || reg == 3 ? 1 : 2; break;
    case 1:
        if (reg == 0) m = "fld";
        else if (reg == 1) m = "fxch";
        else if (reg == 3) m = "fstp1";
        else if (reg == 2) { m = rm == 0 ? "fnop" : NULL; shape = 0; }
        else { m = x87_d9_e0[(reg - 4) * 8 + rm]; shape = 0; }
        break;
    case 2:
        if (reg < 4) { m = fcmov[reg]; shape = 2; }
        else { m = reg == 5 && rm == 1 ? "fucompp" : NULL; shape = 0; }
        break;
    case 3:
        if (reg < 4) { m = fcmov[reg + 4]; shape = 2; }
        else if (reg == 4) {
            static const char *const e0[8] = { "fneni", "fndisi", "fnclex", "fninit", "fnsetpm" };
            m = e0[rm];
            shape = 0;
        } else if (reg == 5 || reg == 6) { m = reg == 5 ? "fucomi" : "fcomi"; shape = 2; }
        break;
    case 4: m = dc[reg]; shape = reg == 2 || reg == 3 ? 1 : 3; break;
    case 5: {
        static const char *const dd[8] = { "ffree", "fxch4", "fst", "fstp", "fucom", "fucomp" };
        m = dd[reg];
        break;
    }
    case 6:
        m = reg == 3 ? (rm == 1 ? "fcompp" : NULL) : de[reg];
        shape = reg == 3 ? 0 : reg == 2 ? 1 : 3;
        break;
    default:
        if (reg == 4) { m = rm == 0 ? "fnstsw ax" : NULL; shape = 0; }
        else if (reg == 5 || reg == 6) { m = reg == 5 ? "fucomip" : "fcomip"; shape = 2; }
        else if (reg < 4) { static const char *const df[4] = { "ffreep", "fxch7", "fstp8", "fstp9" }; m = df[reg]; }
        break;
    }
    if (!m) {
        put(o, "(bad)");
        return;
    }
    put(o, "%s", m);
    if (shape == 1)
        put(o, " st(%u)", rm);
    else if (shape == 2)
        put(o, " st, st(%u)", rm);
    else if (shape == 3)
        put(o, " st(%u), st", rm);
}

int insn_disasm(const struct insn *i, uint32_t eip, char *buf, size_t size)
{
    struct out o = { buf, size, 0 };
    if (!size)
        return 0;
    buf[0] = 0;
    if (i->opcode >= 0xd8 && i->opcode <= 0xdf) {
        x87_disasm(&o, i);
        return (int)o.pos;
    }
    const struct op_row *row = insn_row(i);
    if (i->lock)
        put(&o, "lock ");
    if (i->rep && (row->attr & D_STR))
        put(&o, "%s ", i->rep == 0xf2 ? "repne" : (i->opcode == 0xa6 || i->opcode == 0xa7 ||
                                                   i->opcode == 0xae || i->opcode == 0xaf)
                                                      ? "repe"
                                                      : "rep");
    const char *m = row->mnem, *slash = strchr(m, '/');
    if (slash) {
        bool second = (i->opcode == 0xe3) ? i->adsize == 4 : i->opsize == 4;
        if (second)
            put(&o, "%s", slash + 1);
        else
            put(&o, "%.*s", (int)(slash - m), m);
    } else {
        put(&o, "%s", m);
    }
    const char *p = row->operands;
    bool first = true, first_imm = true;
    while (p && *p) {
        char code[8];
        size_t n = strcspn(p, ",");
        if (n >= sizeof code)
            n = sizeof code - 1;
        memcpy(code, p, n);
        code[n] = 0;
        p += n;
        if (*p == ',')
            p++;
        size_t save = o.pos;
        put(&o, first ? " " : ", ");
        if (put_operand(&o, i, code, eip, &first_imm))
            first = false;
        else {
            o.pos = save;
            buf[o.pos] = 0;
        }
    }
    return (int)o.pos;
}
