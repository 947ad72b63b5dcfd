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

int insn_disasm(const struct insn *i, uint32_t eip, char *buf, size_t size)
{
    struct out o = { buf, size, 0 };
    if (!size)
        return 0;
    buf[0] = 0;
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
