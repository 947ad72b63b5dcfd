/*
 * gen.c — random instruction sequences from the opcode table, for the
 * differential tester (tests/difftest/difftest.c).
 *
 * The rows come from cpu/opcodes.def through the same X-macro the decoder
 * uses, so a row added to the table is generated without an edit here
 * unless it needs a policy: each row is classified once (classify()) into a
 * generic form, driven by its operand codes (E G M I Z O ...), into one of a
 * few special kinds that need set-up to be valid in user mode (string
 * instructions, branches, stack-frame instructions, segment loads), or
 * excluded (I/O, privileged and system instructions, far transfers, CPUID and
 * RDTSC whose results are host-dependent, anything that would reach memory
 * outside the test buffers).  The x87 escapes D8-DF are generated from their
 * modrm map (every register form; every memory form but the ones whose
 * stored pointers are host-dependent: FNSTENV/FNSAVE, and FISTTP, which a
 * P6 does not have).
 *
 * What the table does not carry is flag semantics, so flag_sem() knows, per
 * mnemonic, which arithmetic flags an instruction reads, defines, and leaves
 * undefined (SDM Vol. 2 "Flags Affected"); the assembler propagates that
 * along the control flow so the comparison masks exactly the flags whose
 * last writer left them undefined, and the generator puts a CMP in front of
 * any instruction that would read such a flag.
 *
 * Registers: ESP is the stack (inside the data buffer) and EBP the base
 * register of the buffer; both are tracked exactly, only instructions whose
 * effect on them is known change them, and never inside the shadow of a
 * pending forward branch (so their value is the same on every path).  All
 * other registers are free.  Memory operands are aimed at a chosen address
 * in a buffer through any addressing form: a base or index register is
 * loaded first with a random value and the displacement compensates (modulo
 * 2^32, or 2^16 for 16-bit addressing).
 */
#include <stdlib.h>
#include <string.h>

#include "cpu/ops.h"
#include "gen.h"

/* ---------------- random numbers ---------------- */

struct rng {
    uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545f4914f6cdd1dull;
}
static uint32_t rn(struct rng *r, uint32_t n) { return n ? (uint32_t)(rnext(r) % n) : 0; }
static bool one_in(struct rng *r, uint32_t n) { return rn(r, n) == 0; }
static void rseed(struct rng *r, uint64_t seed)
{
    r->s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    if (!r->s)
        r->s = 1;
    for (int k = 0; k < 4; k++)
        rnext(r);
}

static uint32_t rval(struct rng *r)
{
    static const uint32_t special[] = { 0,          1,          2,          0x7f,       0x80,
                                        0xff,       0x100,      0x7fff,     0x8000,     0xffff,
                                        0x10000,    0x7fffffff, 0x80000000, 0xffffffff, 0x0f,
                                        0x10,       0x99,       0x1f,       0x20,       0x21,
                                        0xfffffffe, 0x80000001, 0x7ffffffe, 0x55555555, 0xaaaaaaaa };
    switch (rn(r, 6)) {
    case 0: return special[rn(r, sizeof special / sizeof special[0])];
    case 1: return rn(r, 256);
    case 2: return (uint32_t)(int32_t)(int8_t)rn(r, 256);
    case 3: return (uint32_t)(int32_t)(int16_t)rn(r, 65536);
    default: return (uint32_t)rnext(r);
    }
}

/* ---------------- the opcode table ---------------- */

struct form {
    uint16_t code; /* 0x000-0x1ff; groups resolved at init */
    int8_t reg;    /* group row: modrm.reg, else -1 */
    uint8_t grp;
    const char *mnem, *ops;
    uint16_t attr;
};

static const struct form table[] = {
#define OP(code, mnem, operands, attr, hs) { code, -1, G_NONE, mnem, operands, (attr) },
#define OPG(code, grp)
#define GRP(grp, reg, mnem, operands, attr, hs) { 0, reg, grp, mnem, operands, (attr) | D_M },
#include "cpu/opcodes.def"
#undef OP
#undef OPG
#undef GRP
};
#define NTABLE (sizeof table / sizeof table[0])

static const uint16_t grp_code[G_COUNT] = {
#define OP(code, mnem, operands, attr, hs)
#define OPG(code, grp) [grp] = code,
#define GRP(grp, reg, mnem, operands, attr, hs)
#include "cpu/opcodes.def"
#undef OP
#undef OPG
#undef GRP
};

enum kind {
    K_EXCLUDE,
    K_GENERIC,
    K_X87,
    K_STRING,
    K_BRANCH, /* Jcc, JMP, LOOPcc, JCXZ */
    K_CALL,
    K_RET,
    K_JMP_EV,
    K_CALL_EV,
    K_PUSHA,
    K_ENTER,
    K_LEAVE,
    K_POPF,
    K_POP_SEG,
    K_MOV_SREG,
    K_XLAT,
};

struct entry {
    const struct form *f;
    uint16_t code;
    enum kind kind;
    unsigned weight;
};

static struct entry entries[NTABLE];
static unsigned nentries, total_weight;

static bool is(const char *m, const char *name) { return !strcmp(m, name); }
static bool starts(const char *m, const char *p) { return !strncmp(m, p, strlen(p)); }

static enum kind classify(const struct form *f, uint16_t code)
{
    const char *m = f->mnem;
    if (!strcmp(m, "(x87)"))
        return K_X87;
    if (!strcmp(m, "(bad)"))
        return K_EXCLUDE; /* C6/C7 /7 etc. are XABORT/XBEGIN on TSX hosts */
    static const char *const excluded[] = {
        "les", "lds", "lss", "lfs", "lgs", "insb", "insw/insd", "outsb", "outsw/outsd", "in",
        "out", "call far", "jmp far", "retf", "iret/iretd", "int", "int1", "hlt", "cli", "sti",
        "lar", "lsl", "sldt", "str", "lldt", "ltr", "verr", "verw", "sgdt", "sidt", "lgdt",
        "lidt", "smsw", "lmsw", "invlpg", "clts", "invd", "wbinvd", "ud2", "wrmsr", "rdtsc",
        "rdmsr", "rdpmc", "sysenter", "sysexit", "cpuid", "fxsave", "fxrstor", "popa/popad",
    };
    for (unsigned k = 0; k < sizeof excluded / sizeof excluded[0]; k++)
        if (is(m, excluded[k]))
            return K_EXCLUDE;
    if (is(m, "call") && f->ops[0] == 'A')
        return K_EXCLUDE;
    if (is(m, "jmp") && f->ops[0] == 'A')
        return K_EXCLUDE;
    if (is(m, "mov") && (f->ops[0] == 'C' || f->ops[0] == 'D' || f->ops[0] == 'R'))
        return K_EXCLUDE;
    /* 0F 19-1E are hint NOPs on the host but MPX/CET instructions on some */
    if (code >= 0x119 && code <= 0x11e)
        return K_EXCLUDE;
    if (f->attr & D_STR)
        return K_STRING;
    if (f->attr & D_BRANCH)
        return is(m, "call") ? K_CALL : K_BRANCH;
    if (is(m, "ret"))
        return K_RET;
    if (is(m, "jmp"))
        return K_JMP_EV;
    if (is(m, "call"))
        return K_CALL_EV;
    if (is(m, "pusha/pushad"))
        return K_PUSHA;
    if (is(m, "enter"))
        return K_ENTER;
    if (is(m, "leave"))
        return K_LEAVE;
    if (is(m, "popf/popfd"))
        return K_POPF;
    if (is(m, "pop") && (!strcmp(f->ops, "ES") || !strcmp(f->ops, "SS") || !strcmp(f->ops, "DS")))
        return K_POP_SEG;
    if (is(m, "pop") && (!strcmp(f->ops, "FS") || !strcmp(f->ops, "GS")))
        return K_EXCLUDE; /* GS is the host's TLS */
    if (is(m, "mov") && !strcmp(f->ops, "Sw,Ew"))
        return K_MOV_SREG;
    if (is(m, "xlat"))
        return K_XLAT;
    return K_GENERIC;
}

static void table_init(void)
{
    if (nentries)
        return;
    for (unsigned k = 0; k < NTABLE; k++) {
        const struct form *f = &table[k];
        uint16_t code = f->reg >= 0 ? grp_code[f->grp] : f->code;
        enum kind kind = classify(f, code);
        if (kind == K_EXCLUDE)
            continue;
        unsigned w = 8;
        if (f->ops[0] == 'Z')
            w = 1; /* eight rows of one instruction */
        if (kind == K_BRANCH)
            w = 3;
        if (kind == K_X87)
            w = 90;
        if (kind == K_POPF || kind == K_ENTER || kind == K_LEAVE)
            w = 12;
        entries[nentries++] = (struct entry){ f, code, kind, w };
        total_weight += w;
    }
}

/* ---------------- flag semantics ---------------- */

#define CF FL_CF
#define PF FL_PF
#define AF FL_AF
#define ZF FL_ZF
#define SF FL_SF
#define OF FL_OF
#define ALL DT_FLAGS

struct fsem {
    uint16_t reads, def, undef;
};

static uint16_t cc_reads(unsigned cc)
{
    static const uint16_t t[8] = { OF, CF, ZF, CF | ZF, SF, PF, SF | OF, ZF | SF | OF };
    return t[(cc >> 1) & 7];
}

/* Shift/rotate semantics for a known masked count c (0..31) of an s-bit
 * operand, or c < 0 for a count unknown at generation time (CL). */
static struct fsem shift_sem(const char *m, unsigned s, int c)
{
    struct fsem f = { 0, 0, 0 };
    bool rot = starts(m, "ro") || starts(m, "rc");
    bool dbl = starts(m, "shld") || starts(m, "shrd");
    if (starts(m, "rc"))
        f.reads = CF;
    if (c < 0) {
        f.undef = rot ? OF : OF | AF;
        if (!rot && !dbl && s < 32 && !is(m, "sar"))
            f.undef |= CF;
        return f;
    }
    if (c == 0)
        return f;
    if (rot) {
        f.def = CF;
    } else {
        f.def = CF | SF | ZF | PF;
        f.undef = AF;
        if (!dbl && !is(m, "sar") && (unsigned)c >= s) {
            f.def &= (uint16_t)~CF;
            f.undef |= CF;
        }
    }
    if (c == 1)
        f.def |= OF;
    else
        f.undef |= OF;
    return f;
}

static struct fsem flag_sem(const char *m, uint16_t code)
{
    struct fsem f = { 0, 0, 0 };
    if (is(m, "add") || is(m, "sub") || is(m, "cmp") || is(m, "neg") || is(m, "xadd") ||
        is(m, "cmpxchg"))
        f.def = ALL;
    else if (is(m, "adc") || is(m, "sbb"))
        f.reads = CF, f.def = ALL;
    else if (is(m, "and") || is(m, "or") || is(m, "xor") || is(m, "test"))
        f.def = ALL & ~AF, f.undef = AF;
    else if (is(m, "inc") || is(m, "dec"))
        f.def = ALL & ~CF;
    else if (is(m, "mul") || is(m, "imul"))
        f.def = CF | OF, f.undef = SF | ZF | AF | PF;
    else if (is(m, "div") || is(m, "idiv"))
        f.undef = ALL;
    else if (is(m, "daa") || is(m, "das"))
        f.reads = CF | AF, f.def = ALL & ~OF, f.undef = OF;
    else if (is(m, "aaa") || is(m, "aas"))
        f.reads = AF, f.def = CF | AF, f.undef = OF | SF | ZF | PF;
    else if (is(m, "aam") || is(m, "aad"))
        f.def = SF | ZF | PF, f.undef = OF | AF | CF;
    else if (starts(m, "bt"))
        f.def = CF, f.undef = OF | SF | AF | PF;
    else if (is(m, "bsf") || is(m, "bsr"))
        f.def = ZF, f.undef = CF | OF | SF | AF | PF;
    else if (is(m, "cmpxchg8b") || is(m, "arpl"))
        f.def = ZF;
    else if (is(m, "sahf"))
        f.def = SF | ZF | AF | PF | CF;
    else if (is(m, "lahf"))
        f.reads = SF | ZF | AF | PF | CF;
    else if (is(m, "pushf/pushfd"))
        f.reads = ALL;
    else if (is(m, "popf/popfd"))
        f.def = ALL;
    else if (is(m, "clc") || is(m, "stc"))
        f.def = CF;
    else if (is(m, "cmc"))
        f.reads = CF, f.def = CF;
    else if (is(m, "salc"))
        f.reads = CF;
    else if (is(m, "into"))
        f.reads = OF;
    else if (is(m, "loope") || is(m, "loopne"))
        f.reads = ZF;
    else if ((code >= 0x70 && code <= 0x7f) || (code >= 0x180 && code <= 0x19f) ||
             (code >= 0x140 && code <= 0x14f))
        f.reads = cc_reads(code & 15);
    return f;
}

/* ---------------- generation context ---------------- */

#define FREE_REGS 0xcfu /* EAX ECX EDX EBX ESI EDI; ESP and EBP are tracked */
#define ESP_MIN (DT_DATA_BASE + 0x1400u)
#define ESP_MAX (DT_DATA_BASE + 0x3c00u)

struct gctx {
    struct rng r;
    const struct dt_gen_opts *o;
    struct dt_seq *s;
    struct dt_unit *u;
    int ui;
    uint32_t esp, ebp;
    int open_until; /* a forward branch skips units below this: ESP/EBP stay put */
    uint16_t undef; /* flags possibly undefined at the insertion point */
    uint16_t edge_undef[DT_MAX_UNITS + 1];
    int nframes;    /* ENTER frames open: saved EBP values and their slots */
    uint32_t frame_ebp[4], frame_slot[4];
    uint8_t frame_size[4];
    int nprot; /* bytes no later operand may touch (host-dependent contents) */
    uint32_t prot_addr[16];
    uint8_t prot_len[16];
    unsigned excl;  /* registers the unit's set-up has fixed (not to reuse) */
};

static struct dt_insn *push_raw(struct gctx *g)
{
    if (g->u->n >= DT_UNIT_INSNS)
        return NULL;
    struct dt_insn *in = &g->u->in[g->u->n++];
    memset(in, 0, sizeof *in);
    in->fix_target = in->edge_target = -1;
    in->fix_insn = -1;
    return in;
}

static void put8(struct dt_insn *in, uint32_t v)
{
    if (in->len < sizeof in->b)
        in->b[in->len++] = (uint8_t)v;
}
static void put16(struct dt_insn *in, uint32_t v)
{
    put8(in, v);
    put8(in, v >> 8);
}
static void put32(struct dt_insn *in, uint32_t v)
{
    put16(in, v);
    put16(in, v >> 16);
}

/* Append a finished instruction, first a CMP if it reads a flag that may be
 * undefined here (CMP defines all six). */
static bool emit(struct gctx *g, const struct dt_insn *tmpl)
{
    if (tmpl->reads & g->undef) {
        struct dt_insn *c = push_raw(g);
        if (!c)
            return false;
        put8(c, 0x39);
        put8(c, 0xc0 | rn(&g->r, 64));
        c->def = ALL;
        g->undef = 0;
    }
    struct dt_insn *in = push_raw(g);
    if (!in)
        return false;
    *in = *tmpl;
    g->undef = (uint16_t)((g->undef & ~in->def) | in->undef);
    if (in->edge != EDGE_NONE && in->edge_target >= 0 && in->edge_target <= DT_MAX_UNITS)
        g->edge_undef[in->edge_target] |= g->undef;
    return true;
}

static struct dt_insn blank(void)
{
    struct dt_insn in;
    memset(&in, 0, sizeof in);
    in.fix_target = in.edge_target = -1;
    in.fix_insn = -1;
    return in;
}

/* mov r32, imm32 */
static bool emit_mov_imm(struct gctx *g, unsigned reg, uint32_t v)
{
    struct dt_insn in = blank();
    put8(&in, 0xb8 + reg);
    put32(&in, v);
    return emit(g, &in);
}

static unsigned pick_reg(struct gctx *g, unsigned allowed)
{
    allowed &= ~g->excl;
    if (!allowed)
        return 0xff;
    unsigned n = (unsigned)__builtin_popcount(allowed), k = rn(&g->r, n);
    for (unsigned r = 0; r < 8; r++)
        if ((allowed >> r) & 1) {
            if (k == 0)
                return r;
            k--;
        }
    return 0xff;
}

/* ---------------- memory operands ---------------- */

static bool overlaps_frames(const struct gctx *g, uint32_t a, uint32_t size)
{
    for (int k = 0; k < g->nframes; k++)
        if (a < g->frame_slot[k] + g->frame_size[k] && a + size > g->frame_slot[k])
            return true;
    for (int k = 0; k < g->nprot; k++)
        if (a < g->prot_addr[k] + g->prot_len[k] && a + size > g->prot_addr[k])
            return true;
    return false;
}

/* A target address for a `size`-byte access; `margin` bytes around it must
 * stay in the buffer too (string instructions, bit offsets). */
static bool pick_target(struct gctx *g, bool low, uint32_t size, uint32_t margin, uint32_t *out)
{
    uint32_t base = low ? DT_LOW_BASE : DT_DATA_BASE;
    uint32_t span = low ? DT_LOW_SIZE : DT_DATA_SIZE;
    if (size + 2 * margin + 16 > span)
        return false;
    for (int tries = 0; tries < 20; tries++) {
        uint32_t off;
        if (one_in(&g->r, 3)) /* straddle a page boundary now and then */
            off = (1 + rn(&g->r, span / PAGE_SIZE - 1)) * PAGE_SIZE - 8 + rn(&g->r, 16);
        else
            off = rn(&g->r, span);
        if (off < margin || off + size + margin > span)
            continue;
        if (!overlaps_frames(g, base + off - margin, size + 2 * margin)) {
            *out = base + off;
            return true;
        }
    }
    return false;
}

static bool target_ok(const struct gctx *g, bool low, uint32_t a, uint32_t size)
{
    uint32_t base = low ? DT_LOW_BASE : DT_DATA_BASE;
    uint32_t span = low ? DT_LOW_SIZE : DT_DATA_SIZE;
    return a >= base && a - base + size <= span && !overlaps_frames(g, a, size);
}

/* Encoded modrm + sib + displacement bytes of a memory operand. */
struct memop {
    uint8_t b[8];
    uint8_t n;
    bool a16;
    uint8_t defseg; /* SEG_SS for EBP/ESP-based forms */
};

static void mput(struct memop *m, uint32_t v, unsigned bytes)
{
    for (unsigned k = 0; k < bytes; k++)
        m->b[m->n++] = (uint8_t)(v >> (8 * k));
}

/* Aim a 32-bit-addressing operand (modrm.reg = `reg`) at address A; loads
 * of base/index registers are emitted into the unit. */
static bool mem32(struct gctx *g, unsigned reg, uint32_t A, struct memop *m)
{
    struct rng *r = &g->r;
    memset(m, 0, sizeof *m);
    m->defseg = SEG_DS;
    unsigned kind = rn(r, 8);
    reg = (reg & 7) << 3;
    if (kind == 0) { /* [disp32] */
        mput(m, reg | 5, 1);
        mput(m, A, 4);
        return true;
    }
    if (kind == 1 || kind == 2) { /* [ebp+disp] or [esp+disp] at their tracked values */
        bool esp = kind == 2;
        uint32_t b = esp ? g->esp : g->ebp;
        int32_t d = (int32_t)(A - b);
        m->defseg = SEG_SS;
        if (d >= -128 && d <= 127) {
            mput(m, 0x40 | reg | (esp ? 4 : 5), 1);
            if (esp)
                mput(m, 0x24, 1);
            mput(m, (uint32_t)d, 1);
        } else {
            mput(m, 0x80 | reg | (esp ? 4 : 5), 1);
            if (esp)
                mput(m, 0x24, 1);
            mput(m, (uint32_t)d, 4);
        }
        return true;
    }
    if (kind <= 4) { /* [base+disp] through a loaded free register, no SIB */
        unsigned base = pick_reg(g, FREE_REGS);
        if (base == 0xff)
            return false;
        unsigned mod = rn(r, 3);
        uint32_t d = mod == 0 ? 0 : mod == 1 ? (uint32_t)(int32_t)(int8_t)rn(r, 256) : rval(r);
        if (!emit_mov_imm(g, base, A - d))
            return false;
        mput(m, (mod << 6) | reg | base, 1);
        if (mod)
            mput(m, d, mod == 1 ? 1 : 4);
        return true;
    }
    /* SIB: base (free, EBP, ESP or none) + index (free, EBP or none) * scale */
    unsigned scale = rn(r, 4);
    unsigned idx = one_in(r, 6) ? 4 : one_in(r, 8) ? R_EBP : pick_reg(g, FREE_REGS);
    if (idx == 0xff)
        idx = 4;
    unsigned bsel = rn(r, 4);
    unsigned base = bsel == 0 ? 5 /* none (mod 0) */ : bsel == 1 ? (one_in(r, 2) ? R_ESP : R_EBP)
                                                                 : pick_reg(g, FREE_REGS);
    if (base == 0xff)
        base = 5;
    bool nobase = bsel == 0;
    uint32_t iv = 0;
    if (idx != 4) {
        if (idx == R_EBP) {
            iv = g->ebp;
        } else {
            iv = rval(r);
            if (!emit_mov_imm(g, idx, iv))
                return false;
            g->excl |= 1u << idx;
        }
    }
    uint32_t contrib = idx == 4 ? 0 : iv << scale;
    if (nobase) {
        mput(m, 0x04 | reg, 1);
        mput(m, (scale << 6) | ((idx & 7) << 3) | 5, 1);
        mput(m, A - contrib, 4);
        return true;
    }
    if (base == R_ESP || base == R_EBP) {
        uint32_t bv = base == R_ESP ? g->esp : g->ebp;
        m->defseg = SEG_SS;
        mput(m, 0x80 | reg | 4, 1);
        mput(m, (scale << 6) | ((idx & 7) << 3) | base, 1);
        mput(m, A - contrib - bv, 4);
        return true;
    }
    if (base == idx) { /* one register in both roles: only a disp32 can aim it */
        mput(m, 0x80 | reg | 4, 1);
        mput(m, (scale << 6) | ((idx & 7) << 3) | base, 1);
        mput(m, A - contrib - iv, 4);
        return true;
    }
    unsigned mod = rn(r, 3);
    uint32_t d = mod == 0 ? 0 : mod == 1 ? (uint32_t)(int32_t)(int8_t)rn(r, 256) : rval(r);
    if (!emit_mov_imm(g, base, A - contrib - d))
        return false;
    mput(m, (mod << 6) | reg | 4, 1);
    mput(m, (scale << 6) | ((idx & 7) << 3) | base, 1);
    if (mod)
        mput(m, d, mod == 1 ? 1 : 4);
    return true;
}

/* 16-bit addressing (67 prefix) at A in LOW. BP is EBP's low half. */
static bool mem16(struct gctx *g, unsigned reg, uint32_t A, struct memop *m)
{
    struct rng *r = &g->r;
    static const int8_t b16[8] = { R_EBX, R_EBX, R_EBP, R_EBP, -1, -1, R_EBP, R_EBX };
    static const int8_t i16[8] = { R_ESI, R_EDI, R_ESI, R_EDI, R_ESI, R_EDI, -1, -1 };
    memset(m, 0, sizeof *m);
    m->a16 = true;
    m->defseg = SEG_DS;
    reg = (reg & 7) << 3;
    unsigned rm = rn(r, 8), mod = rn(r, 3);
    if (rm == 6 && mod == 0) {
        mput(m, reg | 6, 1);
        mput(m, A, 2);
        return true;
    }
    int b = b16[rm], x = i16[rm];
    if (b == R_EBP)
        m->defseg = SEG_SS;
    if ((b >= 0 && b != R_EBP && (g->excl >> b) & 1) || (x >= 0 && (g->excl >> x) & 1))
        return false;
    uint32_t d = mod == 0 ? 0 : mod == 1 ? (uint32_t)(int32_t)(int8_t)rn(r, 256) : rn(r, 65536);
    uint32_t rest = (A - d) & 0xffff;
    /* BP is fixed; a free register (high half random) takes the remainder. */
    if (b == R_EBP) {
        rest = (rest - g->ebp) & 0xffff;
        if (x < 0) {
            if (rest != 0) { /* [bp+disp]: the displacement must do it */
                if (mod == 0)
                    return false;
                d = (A - g->ebp) & 0xffff;
                mod = 2;
            }
        } else if (!emit_mov_imm(g, (unsigned)x, ((uint32_t)rnext(r) & 0xffff0000u) | rest)) {
            return false;
        }
    } else if (b >= 0 && x >= 0) {
        uint32_t xv = (uint32_t)rnext(r);
        if (!emit_mov_imm(g, (unsigned)x, xv) ||
            !emit_mov_imm(g, (unsigned)b, ((uint32_t)rnext(r) & 0xffff0000u) | ((rest - xv) & 0xffff)))
            return false;
    } else {
        int only = b >= 0 ? b : x;
        if (!emit_mov_imm(g, (unsigned)only, ((uint32_t)rnext(r) & 0xffff0000u) | rest))
            return false;
    }
    if (b >= 0 && b != R_EBP)
        g->excl |= 1u << b;
    if (x >= 0)
        g->excl |= 1u << x;
    mput(m, (mod << 6) | reg | rm, 1);
    if (mod)
        mput(m, d, mod == 1 ? 1 : 2);
    return true;
}

/* Choose where a memory operand goes and encode it.  `A_fixed` nonzero aims
 * it at that address in DATA. */
static bool gen_mem(struct gctx *g, unsigned reg, uint32_t size, uint32_t margin, uint32_t A_fixed,
                    struct memop *m, uint32_t *A_out)
{
    bool low = !A_fixed && g->o->low_ok && one_in(&g->r, 6);
    uint32_t A = A_fixed;
    if (!A && !pick_target(g, low, size, margin, &A))
        return false;
    /* a form can fail (its registers are taken): try others */
    for (int tries = 0; tries < 3; tries++) {
        struct gctx save = *g;
        uint8_t n0 = g->u->n;
        bool ok = low ? mem16(g, reg, A, m) : mem32(g, reg, A, m);
        if (ok) {
            if (low)
                g->u->uses_low = true;
            if (A_out)
                *A_out = A;
            return true;
        }
        *g = save;
        g->u->n = n0;
    }
    return false;
}

/* ---------------- instruction assembly helpers ---------------- */

struct enc {
    struct dt_insn in;
    bool p66, p67;
    uint8_t seg; /* override prefix byte or 0 */
    bool lock;
    uint8_t rep;
};

static void enc_prefixes(struct enc *e)
{
    /* prefix order varies on real code; the decoder must not care */
    uint8_t p[4];
    unsigned n = 0;
    if (e->lock)
        p[n++] = 0xf0;
    if (e->rep)
        p[n++] = e->rep;
    if (e->seg)
        p[n++] = e->seg;
    if (e->p66)
        p[n++] = 0x66;
    if (e->p67)
        p[n++] = 0x67;
    for (unsigned k = 0; k < n; k++)
        put8(&e->in, p[k]);
}

static void enc_opcode(struct enc *e, uint16_t code)
{
    if (code >= 0x100)
        put8(&e->in, 0x0f);
    put8(&e->in, code & 0xff);
}

static uint8_t rand_seg_override(struct gctx *g)
{
    static const uint8_t segs[3] = { 0x26, 0x36, 0x3e };
    return one_in(&g->r, 5) ? segs[rn(&g->r, 3)] : 0;
}

static void put_imm(struct dt_insn *in, unsigned bytes, uint32_t v)
{
    if (bytes == 1)
        put8(in, v);
    else if (bytes == 2)
        put16(in, v);
    else
        put32(in, v);
}

static uint32_t shift_count(struct rng *r)
{
    static const uint8_t c[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 255 };
    return one_in(r, 2) ? c[rn(r, sizeof c)] : rn(r, 256);
}

/* ---------------- generic rows ---------------- */

static unsigned tok_size(const char *t, unsigned opsize)
{
    switch (t[1]) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    case 'q': return 8;
    case 'a': return 2 * opsize;
    default: return opsize;
    }
}

static bool stack_room(const struct gctx *g, int32_t delta)
{
    uint32_t n = g->esp + (uint32_t)delta;
    return n >= ESP_MIN && n <= ESP_MAX;
}

static bool gen_generic(struct gctx *g, const struct entry *en)
{
    const struct form *f = en->f;
    struct rng *r = &g->r;
    const char *m = f->mnem;
    char toks[3][8];
    unsigned nt = 0;
    for (const char *p = f->ops; *p && nt < 3;) {
        size_t n = strcspn(p, ",");
        if (n > 7)
            n = 7;
        memcpy(toks[nt], p, n);
        toks[nt][n] = 0;
        nt++;
        p += n;
        if (*p == ',')
            p++;
    }
    bool has_v = strchr(m, '/') != NULL || is(m, "push") || is(m, "pop");
    for (unsigned k = 0; k < nt; k++)
        if (toks[k][1] == 'v' || toks[k][1] == 'z' || !strcmp(toks[k], "eAX") ||
            !strcmp(toks[k], "Ma"))
            has_v = true;
    struct enc e;
    memset(&e, 0, sizeof e);
    e.in = blank();
    unsigned opsize = 4;
    if (has_v && !is(m, "bswap") && one_in(r, 3)) {
        opsize = 2;
        e.p66 = true;
    } else if (!has_v && !is(m, "bswap") && one_in(r, 40)) {
        e.p66 = true; /* no effect on byte forms */
    }

    /* which operands are written (the destination of most forms) */
    bool w0 = !(is(m, "cmp") || is(m, "test") || is(m, "bt") || is(m, "push") ||
                is(m, "bound") || is(m, "nop") || is(m, "mul") || is(m, "div") ||
                is(m, "idiv") || (is(m, "imul") && nt == 1));
    bool w1 = is(m, "xchg") || is(m, "xadd");

    /* the stack: pushes and pops move ESP */
    int32_t esp_delta = 0;
    if (is(m, "push") || is(m, "pushf/pushfd"))
        esp_delta = -(int32_t)opsize;
    else if (is(m, "pop"))
        esp_delta = (int32_t)opsize;
    if (esp_delta && (g->ui < g->open_until || !stack_room(g, esp_delta)))
        return false;

    bool has_modrm = f->attr & D_M;
    bool mem = false;
    unsigned mreg = 0, mrm = 0; /* modrm.reg / modrm.rm for register forms */
    int e_tok = -1, g_tok = -1;
    for (unsigned k = 0; k < nt; k++) {
        if (toks[k][0] == 'E' || toks[k][0] == 'M')
            e_tok = (int)k;
        if (toks[k][0] == 'G' || toks[k][0] == 'S')
            g_tok = (int)k;
    }
    if (has_modrm) {
        if (e_tok >= 0 && toks[e_tok][0] == 'M')
            mem = true;
        else
            mem = one_in(r, 2) || en->code == 0x118;
    }
    /* Z forms: the register is in the opcode */
    bool z_sp_bp = nt && toks[0][0] == 'Z' && ((en->code & 7) == 4 || (en->code & 7) == 5);
    if (z_sp_bp && (is(m, "pop") || (toks[0][1] != 'b' && w0)))
        return false;

    /* div: make the quotient fit most of the time (#DE is still compared) */
    uint32_t unit_excl = 0;
    if (is(m, "div") || is(m, "idiv")) {
        unit_excl = (1u << R_EAX) | (1u << R_EDX);
        if (!one_in(r, 4)) {
            struct dt_insn s = blank();
            unsigned sz = toks[0][1] == 'b' ? 1 : opsize;
            if (is(m, "idiv")) {
                if (sz != 4)
                    put8(&s, 0x66);
                put8(&s, sz == 1 ? 0x98 : 0x99); /* cbw / cwd / cdq */
            } else if (sz == 1) {
                put8(&s, 0xb4); /* mov ah, 0 */
                put8(&s, 0);
            } else {
                put8(&s, 0xba); /* mov edx, 0 */
                put32(&s, 0);
            }
            if (!emit(g, &s))
                return false;
        }
    }
    g->excl |= unit_excl;

    /* bit instructions with a register bit offset reach EA + offset/8; POP
     * to [ESP+d] addresses with ESP after the pop */
    uint32_t margin = is(m, "pop") ? opsize : 0;
    bool bt_reg = starts(m, "bt") && g_tok == 1 && mem;
    if (bt_reg) {
        unsigned breg = pick_reg(g, FREE_REGS);
        if (breg == 0xff)
            return false;
        uint32_t off = (uint32_t)((int32_t)rn(r, 1024) - 512);
        if (!emit_mov_imm(g, breg, opsize == 2 ? (off & 0xffff) | ((uint32_t)rnext(r) & 0xffff0000u) : off))
            return false;
        g->excl |= 1u << breg;
        mreg = breg;
        margin = 72;
    }

    /* CL counts: usually known, always for SHLD/SHRD (a 16-bit count above
     * 16 leaves the result undefined) */
    bool uses_cl = false;
    for (unsigned k = 0; k < nt; k++)
        if (!strcmp(toks[k], "CL"))
            uses_cl = true;
    int count = -2; /* -2: no count; -1: unknown */
    bool dbl = starts(m, "shld") || starts(m, "shrd");
    if (uses_cl) {
        count = -1;
        if (dbl || !one_in(r, 5)) {
            uint32_t c = shift_count(r);
            if (dbl && opsize == 2)
                c = (rn(r, 8) << 5) | rn(r, 17);
            struct dt_insn s = blank();
            put8(&s, 0xb1); /* mov cl, imm8 */
            put8(&s, c);
            if (!emit(g, &s))
                return false;
            count = (int)(c & 31);
        }
        g->excl |= 1u << R_ECX;
    }

    /* register operands */
    unsigned size_e = e_tok >= 0 ? tok_size(toks[e_tok], opsize) : opsize;
    if (g_tok >= 0 && !bt_reg) {
        const char *t = toks[g_tok];
        if (t[0] == 'S') {
            mreg = rn(r, 6); /* ES CS SS DS FS GS */
        } else {
            unsigned sz = tok_size(t, opsize);
            bool written = (g_tok == 0 && w0) || (g_tok == 1 && w1);
            unsigned allowed = sz == 1 || !written ? 0xffu : FREE_REGS;
            mreg = pick_reg(g, allowed | (written ? 0 : g->excl));
            if (mreg == 0xff)
                return false;
        }
    } else if (f->reg >= 0) {
        mreg = (unsigned)f->reg;
    }
    if (has_modrm && !mem) {
        bool written = (e_tok == 0 && w0) || (e_tok == 1 && w1);
        unsigned allowed = size_e == 1 || !written ? 0xffu : FREE_REGS;
        mrm = pick_reg(g, allowed | (written ? 0 : g->excl));
        if (mrm == 0xff)
            return false;
    }

    /* the memory operand (its loads come before the instruction) */
    struct memop mo;
    memset(&mo, 0, sizeof mo);
    if (has_modrm && mem) {
        uint32_t sz = size_e ? size_e : 4;
        if (is(m, "cmpxchg8b"))
            sz = 8;
        if (!gen_mem(g, mreg, sz, margin, 0, &mo, NULL))
            return false;
        e.p67 = mo.a16;
        e.seg = rand_seg_override(g);
        e.lock = ((f->attr & D_LOCK) && one_in(r, 3)) || one_in(r, 150);
    } else if (f->attr & D_M) {
        mo.b[0] = (uint8_t)(0xc0 | (mreg << 3) | mrm);
        mo.n = 1;
    }
    /* moffs: an absolute address of address size */
    uint32_t moffs = 0;
    bool is_moffs = (f->attr & D_IMM_MASK) == I_O;
    if (is_moffs) {
        bool low = g->o->low_ok && one_in(r, 5);
        if (!pick_target(g, low, opsize, 0, &moffs))
            return false;
        e.p67 = low;
        if (low)
            g->u->uses_low = true;
        e.seg = rand_seg_override(g);
    }

    enc_prefixes(&e);
    enc_opcode(&e, en->code);
    for (unsigned k = 0; k < mo.n; k++)
        put8(&e.in, mo.b[k]);
    uint32_t imm_count = 0;
    switch (f->attr & D_IMM_MASK) {
    case I_B: {
        uint32_t v = (en->code == 0xc0 || en->code == 0xc1 || dbl) ? shift_count(r) : rval(r);
        if (dbl && opsize == 2)
            v = (rn(r, 8) << 5) | rn(r, 17);
        put8(&e.in, v);
        imm_count = v & 31;
        break;
    }
    case I_BS: put8(&e.in, rval(r)); break;
    case I_W: put16(&e.in, rval(r)); break;
    case I_Z: put_imm(&e.in, opsize, rval(r)); break;
    case I_O: put_imm(&e.in, e.p67 ? 2 : 4, moffs); break;
    default: break;
    }

    /* flags */
    struct fsem fs = flag_sem(m, en->code);
    bool shift = is(m, "rol") || is(m, "ror") || is(m, "rcl") || is(m, "rcr") || is(m, "shl") ||
                 is(m, "sal") || is(m, "shr") || is(m, "sar") || dbl;
    if (shift) {
        unsigned bits = 8 * (toks[0][1] == 'b' ? 1 : opsize);
        int c = -1;
        if (uses_cl)
            c = count;
        else if (nt > 1 && !strcmp(toks[nt - 1], "1"))
            c = 1;
        else
            c = (int)imm_count;
        fs = shift_sem(m, bits, c);
    }
    e.in.reads = fs.reads;
    e.in.def = fs.def;
    e.in.undef = fs.undef;
    /* INT3 is a trap: the state it reports is the one after it, so for the
     * flag analysis it falls through like any instruction */
    if (!emit(g, &e.in))
        return false;
    g->esp += (uint32_t)esp_delta;
    return true;
}

/* ---------------- special kinds ---------------- */

static int pick_branch_target(struct gctx *g)
{
    int t = g->ui + 1 + (int)rn(&g->r, 3);
    return t > DT_MAX_UNITS ? DT_MAX_UNITS : t;
}

static void open_branch(struct gctx *g, int t)
{
    if (t > g->open_until)
        g->open_until = t;
}

static bool gen_branch(struct gctx *g, const struct entry *en)
{
    struct rng *r = &g->r;
    const char *m = en->f->mnem;
    struct dt_insn in = blank();
    uint16_t code = en->code;
    int t = pick_branch_target(g);
    if (code >= 0xe0 && code <= 0xe3) {
        if (one_in(r, 3)) /* a small count exercises the zero cases */
            if (!emit_mov_imm(g, R_ECX, ((uint32_t)rnext(r) & 0xffff0000u) | rn(r, 3)))
                return false;
        if (g->o->low_ok && one_in(r, 4))
            put8(&in, 0x67); /* CX instead of ECX */
    }
    if (code >= 0x100)
        put8(&in, 0x0f);
    put8(&in, code & 0xff);
    in.fix_at = in.len;
    if ((en->f->attr & D_IMM_MASK) == I_BS) {
        in.fix = FIX_REL8;
        put8(&in, 0);
    } else {
        in.fix = FIX_REL32;
        put32(&in, 0);
    }
    in.fix_target = in.edge_target = (int16_t)t;
    in.edge = is(m, "jmp") ? EDGE_ALWAYS : EDGE_COND;
    in.stop = is(m, "jmp");
    struct fsem fs = flag_sem(m, code);
    in.reads = fs.reads;
    open_branch(g, t);
    return emit(g, &in);
}

static bool gen_call(struct gctx *g)
{
    if (g->ui < g->open_until || !stack_room(g, -4))
        return false;
    struct dt_insn in = blank();
    int t = pick_branch_target(g);
    put8(&in, 0xe8);
    in.fix = FIX_REL32;
    in.fix_at = 1;
    put32(&in, 0);
    in.fix_target = in.edge_target = (int16_t)t;
    in.edge = EDGE_ALWAYS;
    in.stop = true;
    if (!emit(g, &in))
        return false;
    g->esp -= 4;
    open_branch(g, t);
    return true;
}

static bool gen_ret(struct gctx *g, const struct entry *en)
{
    struct rng *r = &g->r;
    uint32_t imm = en->code == 0xc2 ? rn(r, 17) : 0;
    if ((imm && g->ui < g->open_until) || !stack_room(g, (int32_t)imm))
        return false;
    int t = pick_branch_target(g);
    struct dt_insn p = blank();
    put8(&p, 0x68);
    p.fix = FIX_ABS32;
    p.fix_at = 1;
    p.fix_target = (int16_t)t;
    put32(&p, 0);
    if (!emit(g, &p))
        return false;
    struct dt_insn in = blank();
    put8(&in, en->code & 0xff);
    if (en->code == 0xc2)
        put16(&in, imm);
    in.edge = EDGE_ALWAYS;
    in.edge_target = (int16_t)t;
    in.stop = true;
    if (!emit(g, &in))
        return false;
    g->esp += imm;
    open_branch(g, t);
    return true;
}

static bool gen_jmp_ev(struct gctx *g, bool call)
{
    struct rng *r = &g->r;
    if (call && (g->ui < g->open_until || !stack_room(g, -4)))
        return false;
    int t = pick_branch_target(g);
    struct dt_insn in = blank();
    unsigned modrm_reg = call ? 2 : 4;
    if (one_in(r, 2)) {
        unsigned reg = pick_reg(g, FREE_REGS);
        struct dt_insn mv = blank();
        put8(&mv, 0xb8 + reg);
        mv.fix = FIX_ABS32;
        mv.fix_at = 1;
        mv.fix_target = (int16_t)t;
        put32(&mv, 0);
        if (!emit(g, &mv))
            return false;
        put8(&in, 0xff);
        put8(&in, 0xc0 | (modrm_reg << 3) | reg);
    } else {
        uint32_t A;
        if (!pick_target(g, false, 4, 0, &A))
            return false;
        struct dt_insn st = blank(); /* mov dword [A], label */
        put8(&st, 0xc7);
        put8(&st, 0x05);
        put32(&st, A);
        st.fix = FIX_ABS32;
        st.fix_at = st.len;
        st.fix_target = (int16_t)t;
        put32(&st, 0);
        if (!emit(g, &st))
            return false;
        struct memop mo;
        if (!gen_mem(g, modrm_reg, 4, 0, A, &mo, NULL))
            return false;
        uint8_t seg = rand_seg_override(g);
        if (seg)
            put8(&in, seg);
        put8(&in, 0xff);
        for (unsigned k = 0; k < mo.n; k++)
            put8(&in, mo.b[k]);
    }
    in.edge = EDGE_ALWAYS;
    in.edge_target = (int16_t)t;
    in.stop = true;
    if (!emit(g, &in))
        return false;
    if (call)
        g->esp -= 4;
    open_branch(g, t);
    return true;
}

static bool gen_string(struct gctx *g, const struct entry *en)
{
    struct rng *r = &g->r;
    const char *m = en->f->mnem;
    uint16_t code = en->code;
    bool bytes = code & 1 ? false : true;
    struct enc e;
    memset(&e, 0, sizeof e);
    e.in = blank();
    unsigned opsize = 4;
    if (!bytes && one_in(r, 3)) {
        opsize = 2;
        e.p66 = true;
    }
    unsigned esz = bytes ? 1 : opsize;
    bool a16 = g->o->low_ok && one_in(r, 5);
    e.p67 = a16;
    bool src = starts(m, "movs") || starts(m, "cmps") || starts(m, "lods");
    bool dst = !starts(m, "lods");
    uint32_t n = 1;
    if (!one_in(r, 3)) {
        e.rep = one_in(r, 4) ? 0xf2 : 0xf3;
        n = rn(r, 13);
        uint32_t cx = a16 ? (((uint32_t)rnext(r) & 0xffff0000u) | n) : n;
        if (!emit_mov_imm(g, R_ECX, cx))
            return false;
    }
    uint32_t margin = (n + 1) * esz + 8;
    if (one_in(r, 3)) {
        struct dt_insn d = blank();
        put8(&d, one_in(r, 2) ? 0xfc : 0xfd);
        if (!emit(g, &d))
            return false;
    }
    uint32_t A;
    if (src) {
        if (!pick_target(g, a16, esz, margin, &A))
            return false;
        if (!emit_mov_imm(g, R_ESI, a16 ? (((uint32_t)rnext(r) & 0xffff0000u) | (A & 0xffff)) : A))
            return false;
        e.seg = rand_seg_override(g);
    }
    if (dst) {
        if (!pick_target(g, a16, esz, margin, &A))
            return false;
        if (!emit_mov_imm(g, R_EDI, a16 ? (((uint32_t)rnext(r) & 0xffff0000u) | (A & 0xffff)) : A))
            return false;
    }
    if (a16)
        g->u->uses_low = true;
    bool cmp = starts(m, "cmps") || starts(m, "scas");
    if (one_in(r, 16)) {
        /* single-step the string instruction: a trap after each iteration.
         * Between iterations of CMPS/SCAS the host reports the flags from
         * before the instruction, Umbra those of the iteration (as the SDM's
         * pseudocode has it): no defined value there. */
        struct dt_insn p = blank(), f = blank();
        put8(&p, 0x68);
        put32(&p, 0x302 | ((uint32_t)rnext(r) & (DT_FLAGS | FL_DF)));
        put8(&f, 0x9d);
        f.def = cmp ? 0 : ALL;
        f.undef = cmp ? ALL : 0;
        if (!emit(g, &p) || !emit(g, &f))
            return false;
    }
    enc_prefixes(&e);
    enc_opcode(&e, code);
    if (cmp) {
        if (!e.rep || n > 0)
            e.in.def = ALL;
    }
    return emit(g, &e.in);
}

static bool gen_pusha(struct gctx *g)
{
    struct rng *r = &g->r;
    bool o16 = one_in(r, 3);
    bool pair = g->ui < g->open_until || one_in(r, 2);
    int32_t delta = -(int32_t)(8 * (o16 ? 2 : 4));
    if (!stack_room(g, delta))
        return false;
    struct dt_insn in = blank();
    if (o16)
        put8(&in, 0x66);
    put8(&in, 0x60);
    if (!emit(g, &in))
        return false;
    if (pair) { /* POPA reloads EBP: only right after its PUSHA */
        struct dt_insn p = blank();
        if (o16)
            put8(&p, 0x66);
        put8(&p, 0x61);
        return emit(g, &p);
    }
    g->esp += (uint32_t)delta;
    return true;
}

static bool gen_enter(struct gctx *g)
{
    struct rng *r = &g->r;
    if (g->ui < g->open_until || g->nframes >= 4)
        return false;
    bool o16 = one_in(r, 6);
    unsigned os = o16 ? 2 : 4;
    unsigned level = one_in(r, 2) ? 0 : rn(r, 4) | (one_in(r, 4) ? 32 : 0);
    unsigned L = level & 31;
    uint32_t size = one_in(r, 3) ? 0 : rn(r, 64);
    int32_t delta = -(int32_t)(os * (1 + (L ? L : 0)) + size);
    if (!stack_room(g, delta))
        return false;
    uint32_t frame = g->esp - os;
    /* the nesting levels copy [EBP - k*os]: those must be in the buffer */
    if (L && !target_ok(g, false, g->ebp - os * L, os * L))
        return false;
    struct dt_insn in = blank();
    if (o16)
        put8(&in, 0x66);
    put8(&in, 0xc8);
    put16(&in, size);
    put8(&in, level);
    if (!emit(g, &in))
        return false;
    g->frame_ebp[g->nframes] = g->ebp;
    g->frame_slot[g->nframes] = frame;
    g->frame_size[g->nframes] = (uint8_t)os;
    g->nframes++;
    g->esp += (uint32_t)delta;
    g->ebp = o16 ? ((g->ebp & 0xffff0000u) | (frame & 0xffff)) : frame;
    return true;
}

static bool gen_leave(struct gctx *g)
{
    if (g->ui < g->open_until || g->nframes == 0)
        return false;
    int k = g->nframes - 1;
    unsigned os = g->frame_size[k];
    struct dt_insn in = blank();
    if (os == 2)
        put8(&in, 0x66);
    put8(&in, 0xc9);
    if (!emit(g, &in))
        return false;
    g->esp = g->ebp + os;
    g->ebp = g->frame_ebp[k];
    g->nframes--;
    return true;
}

static bool gen_popf(struct gctx *g)
{
    struct rng *r = &g->r;
    bool o16 = one_in(r, 4);
    uint32_t v = (uint32_t)rnext(r);
    /* bits POPF may change at CPL3 / IOPL0: arithmetic, DF, NT, AC, ID; TF
     * (a single-step trap) and AC (alignment checks) only now and then */
    v &= ~(FL_TF | FL_AC | FL_NT);
    if (one_in(r, 48))
        v |= FL_TF;
    if (one_in(r, 10))
        v |= FL_AC;
    if (one_in(r, 16))
        v |= FL_NT;
    struct dt_insn p = blank();
    if (o16) {
        put8(&p, 0x66);
        put8(&p, 0x68);
        put16(&p, v);
    } else {
        put8(&p, 0x68);
        put32(&p, v);
    }
    if (!emit(g, &p))
        return false;
    struct dt_insn in = blank();
    if (o16)
        put8(&in, 0x66);
    put8(&in, 0x9d);
    in.def = ALL;
    return emit(g, &in);
}

static bool gen_pop_seg(struct gctx *g, const struct entry *en)
{
    struct rng *r = &g->r;
    static const uint8_t push_op[3] = { 0x06, 0x16, 0x1e }; /* ES SS DS */
    bool o16 = one_in(r, 3);
    struct dt_insn p = blank();
    if (o16)
        put8(&p, 0x66);
    /* CS (a readable code segment) now and then: DS may hold it, SS not */
    put8(&p, one_in(r, 10) ? 0x0e : push_op[rn(r, 3)]);
    if (!emit(g, &p))
        return false;
    if (one_in(r, 12)) { /* single-step the load: SS holds the trap back */
        struct dt_insn t = blank(), f = blank();
        put8(&t, 0x68);
        put32(&t, 0x302 | ((uint32_t)rnext(r) & DT_FLAGS));
        put8(&f, 0x9d);
        f.def = ALL;
        if (!emit(g, &t) || !emit(g, &f))
            return false;
    }
    struct dt_insn in = blank();
    if (o16)
        put8(&in, 0x66);
    put8(&in, en->code & 0xff);
    return emit(g, &in);
}

static bool gen_mov_sreg(struct gctx *g)
{
    struct rng *r = &g->r;
    /* not GS: the host's GS is its TLS segment, whose base Umbra cannot know */
    static const uint8_t srcs[4] = { 0, 1, 2, 3 }; /* ES CS SS DS */
    static const uint8_t dsts[3] = { 0, 2, 3 };    /* ES SS DS */
    unsigned src = one_in(r, 8) ? srcs[1] : srcs[rn(r, 4)];
    unsigned dst = one_in(r, 40) ? 1 : dsts[rn(r, 3)];
    if (one_in(r, 3)) {
        uint32_t A;
        struct memop mo;
        if (!pick_target(g, false, 2, 0, &A))
            return false;
        struct dt_insn st = blank(); /* mov [A], sreg */
        put8(&st, 0x8c);
        put8(&st, (src << 3) | 5);
        put32(&st, A);
        if (!emit(g, &st))
            return false;
        if (!gen_mem(g, dst, 2, 0, A, &mo, NULL))
            return false;
        struct dt_insn in = blank();
        if (mo.a16)
            put8(&in, 0x67);
        put8(&in, 0x8e);
        for (unsigned k = 0; k < mo.n; k++)
            put8(&in, mo.b[k]);
        return emit(g, &in);
    }
    unsigned reg = pick_reg(g, FREE_REGS);
    struct dt_insn a = blank();
    if (one_in(r, 2))
        put8(&a, 0x66);
    put8(&a, 0x8c);
    put8(&a, 0xc0 | (src << 3) | reg);
    if (!emit(g, &a))
        return false;
    struct dt_insn in = blank();
    put8(&in, 0x8e);
    put8(&in, 0xc0 | (dst << 3) | reg);
    return emit(g, &in);
}

static bool gen_xlat(struct gctx *g)
{
    struct rng *r = &g->r;
    bool a16 = g->o->low_ok && one_in(r, 5);
    uint32_t A;
    if (!pick_target(g, a16, 256, 0, &A))
        return false;
    if (!emit_mov_imm(g, R_EBX, a16 ? (((uint32_t)rnext(r) & 0xffff0000u) | (A & 0xffff)) : A))
        return false;
    struct enc e;
    memset(&e, 0, sizeof e);
    e.in = blank();
    e.p67 = a16;
    e.seg = rand_seg_override(g);
    enc_prefixes(&e);
    put8(&e.in, 0xd7);
    if (a16)
        g->u->uses_low = true;
    return emit(g, &e.in);
}

/* ---------------- x87 ---------------- */

/* Memory operand size of D8+esc /reg, 0 if excluded: FISTTP is SSE3; the
 * reserved encodings raise #UD on some hosts and not on others. */
static unsigned x87_mem_size(unsigned esc, unsigned reg, bool o16)
{
    switch (esc) {
    case 0: return 4;
    case 1: {
        static const uint8_t s[8] = { 4, 0, 4, 4, 28, 2, 28, 2 };
        return (reg == 4 || reg == 6) && o16 ? 14 : s[reg];
    }
    case 2: return 4;
    case 3: {
        static const uint8_t s[8] = { 4, 0, 4, 4, 0, 10, 0, 10 };
        return s[reg];
    }
    case 4: return 8;
    case 5: {
        static const uint8_t s[8] = { 8, 0, 8, 8, 108, 0, 108, 2 };
        return (reg == 4 || reg == 6) && o16 ? 94 : s[reg];
    }
    case 6: return 2;
    default: {
        static const uint8_t s[8] = { 2, 0, 2, 2, 10, 8, 10, 8 };
        return s[reg];
    }
    }
}

static uint16_t rand_cw(struct rng *r)
{
    if (one_in(r, 8))
        return (uint16_t)rnext(r);
    uint16_t cw = 0x0040 | (uint16_t)(rn(r, 4) << 8) | (uint16_t)(rn(r, 4) << 10);
    cw |= one_in(r, 4) ? (uint16_t)rn(r, 64) : 0x3f;
    if (one_in(r, 8))
        cw |= 0x1000;
    return cw;
}

static bool gen_x87(struct gctx *g, const struct entry *en)
{
    struct rng *r = &g->r;
    unsigned esc = en->code & 7;
    struct enc e;
    memset(&e, 0, sizeof e);
    e.in = blank();
    if (one_in(r, 9)) { /* FWAIT before, as assemblers emit it */
        struct dt_insn w = blank();
        put8(&w, 0x9b);
        if (!emit(g, &w))
            return false;
    }
    if (one_in(r, 2)) { /* register form: all 64 of them */
        unsigned modrm = 0xc0 | rn(r, 64);
        if (one_in(r, 20))
            e.p66 = true;
        enc_prefixes(&e);
        put8(&e.in, 0xd8 + esc);
        put8(&e.in, modrm);
        /* FCMOVcc read flags; FCOMI & co. define all six */
        if ((esc == 2 || esc == 3) && modrm < 0xe0) {
            static const uint16_t rd[4] = { CF, ZF, CF | ZF, PF };
            e.in.reads = rd[(modrm >> 3) & 3];
        }
        if ((esc == 3 || esc == 7) && modrm >= 0xe8 && modrm < 0xf8)
            e.in.def = ALL;
        return emit(g, &e.in);
    }
    unsigned reg = rn(r, 8);
    bool o16 = one_in(r, 4);
    unsigned size = x87_mem_size(esc, reg, o16);
    if (!size)
        return false;
    e.p66 = o16;
    uint32_t A = 0;
    if (esc == 1 && reg == 5) { /* FLDCW: store a chosen control word first */
        if (!pick_target(g, false, 2, 0, &A))
            return false;
        struct dt_insn st = blank(); /* mov word [A], imm16 */
        put8(&st, 0x66);
        put8(&st, 0xc7);
        put8(&st, 0x05);
        put32(&st, A);
        put16(&st, rand_cw(r));
        if (!emit(g, &st))
            return false;
    }
    bool env_store = (esc == 1 || esc == 5) && reg == 6;
    if (env_store) {
        /* FNSTENV/FNSAVE: the FPU CS, opcode, operand offset and DS are not
         * compared — recent hosts store 0 for the deprecated selectors
         * (CPUID.7:EBX[13]) and may keep the operand pointer only on
         * unmasked exceptions; Umbra keeps them as a P6 did.  So the image
         * goes below the stack, and no later operand may read those bytes. */
        if (g->nprot >= 16)
            return false;
        for (int tries = 0;; tries++) {
            if (tries == 20)
                return false;
            A = DT_DATA_BASE + rn(r, ESP_MIN - DT_DATA_BASE - 256 - size);
            if (target_ok(g, false, A, size))
                break;
        }
    }
    struct memop mo;
    if (!gen_mem(g, reg, size, 0, A, &mo, &A))
        return false;
    if (env_store) {
        g->u->ign_addr = A + (o16 ? 8 : 16);
        g->u->ign_len = o16 ? 6 : 12;
        g->prot_addr[g->nprot] = g->u->ign_addr;
        g->prot_len[g->nprot++] = g->u->ign_len;
    }
    e.p67 = mo.a16;
    e.seg = rand_seg_override(g);
    enc_prefixes(&e);
    put8(&e.in, 0xd8 + esc);
    for (unsigned k = 0; k < mo.n; k++)
        put8(&e.in, mo.b[k]);
    return emit(g, &e.in);
}

/* Self-modifying code: a store into the next instruction, which the CPU
 * must execute as modified (x86 keeps instruction fetch coherent with
 * stores, SDM Vol. 3 §11.6).  Either its immediate or its ALU opcode. */
static bool gen_smc(struct gctx *g)
{
    struct rng *r = &g->r;
    unsigned reg = pick_reg(g, FREE_REGS);
    struct dt_insn st = blank(), tgt = blank();
    if (one_in(r, 2)) { /* mov dword [next+1], imm32 ; mov reg, imm32 */
        put8(&st, 0xc7);
        put8(&st, 0x05);
        st.fix = FIX_ABS32;
        st.fix_at = st.len;
        st.fix_add = 1;
        put32(&st, 0);
        put32(&st, rval(r));
        put8(&tgt, 0xb8 + reg);
        put32(&tgt, rval(r));
    } else { /* mov byte [next], op ; op reg, reg2 (an ALU op becomes another) */
        put8(&st, 0xc6);
        put8(&st, 0x05);
        st.fix = FIX_ABS32;
        st.fix_at = st.len;
        put32(&st, 0);
        put8(&st, 0x01 + 8 * rn(r, 8));
        put8(&tgt, 0x01 + 8 * rn(r, 8));
        put8(&tgt, 0xc0 | (rn(r, 8) << 3) | reg);
        /* whichever op runs: AF may be undefined, CF may be read */
        tgt.reads = CF;
        tgt.def = ALL & ~AF;
        tgt.undef = AF;
    }
    st.fix_target = (int16_t)g->ui;
    int k = g->u->n;
    if (!emit(g, &st))
        return false;
    if (!emit(g, &tgt))
        return false;
    g->u->in[k].fix_insn = (int8_t)(g->u->n - 1);
    return true;
}

/* ---------------- sequences ---------------- */

static const struct entry *pick_entry(struct gctx *g)
{
    for (;;) {
        uint32_t w = rn(&g->r, total_weight);
        const struct entry *en = entries;
        for (unsigned k = 0; k < nentries; k++) {
            if (w < entries[k].weight) {
                en = &entries[k];
                break;
            }
            w -= entries[k].weight;
        }
        if (g->o->no_x87 && en->kind == K_X87)
            continue;
        if (g->o->no_int && en->kind != K_X87)
            continue;
        return en;
    }
}

static bool gen_unit(struct gctx *g, const struct entry *en)
{
    switch (en->kind) {
    case K_GENERIC: return gen_generic(g, en);
    case K_X87: return gen_x87(g, en);
    case K_STRING: return gen_string(g, en);
    case K_BRANCH: return gen_branch(g, en);
    case K_CALL: return gen_call(g);
    case K_RET: return gen_ret(g, en);
    case K_JMP_EV: return gen_jmp_ev(g, false);
    case K_CALL_EV: return gen_jmp_ev(g, true);
    case K_PUSHA: return gen_pusha(g);
    case K_ENTER: return gen_enter(g);
    case K_LEAVE: return gen_leave(g);
    case K_POPF: return gen_popf(g);
    case K_POP_SEG: return gen_pop_seg(g, en);
    case K_MOV_SREG: return gen_mov_sreg(g);
    case K_XLAT: return gen_xlat(g);
    default: return false;
    }
}

void dt_gen_seq(uint64_t seed, const struct dt_gen_opts *o, struct dt_seq *s)
{
    table_init();
    static struct gctx g; /* large; generation is single-threaded */
    memset(&g, 0, sizeof g);
    rseed(&g.r, seed);
    g.o = o;
    g.s = s;
    g.esp = DT_ESP_INIT;
    g.ebp = DT_EBP_INIT;
    s->state_seed = rnext(&g.r);
    s->nunits = 0;
    /* now and then the code crosses a page boundary early on, so blocks and
     * instructions straddle pages */
    s->code_addr = one_in(&g.r, 4) ? DT_CODE_BASE + PAGE_SIZE - 1 - rn(&g.r, 48) : DT_CODE_BASE;
    int max = o->max_units > 0 && o->max_units <= DT_MAX_UNITS ? o->max_units : 20;
    int target = 1 + (int)rn(&g.r, (uint32_t)max);
    for (int attempts = 0; s->nunits < target && attempts < 400; attempts++) {
        static struct gctx save;
        save = g;
        g.ui = s->nunits;
        g.u = &s->u[g.ui];
        memset(g.u, 0, sizeof *g.u);
        g.undef |= g.edge_undef[g.ui];
        g.excl = 0;
        bool ok = !o->no_int && one_in(&g.r, 40) ? gen_smc(&g) : gen_unit(&g, pick_entry(&g));
        if (ok && g.u->n > 0) {
            s->nunits++;
        } else {
            g = save;
        }
    }
}

/* ---------------- initial state ---------------- */

static void rand_ext(struct rng *r, uint8_t *p)
{
    uint64_t sig = rnext(r);
    unsigned e, sign = rn(r, 2);
    switch (rn(r, 16)) {
    case 0: sig = 0; e = 0; break;                                       /* zero */
    case 1: sig >>= 1 + rn(r, 63); e = 0; break;                         /* denormal */
    case 2: sig |= 1ull << 63; e = 0; break;                             /* pseudo-denormal */
    case 3: sig &= ~(1ull << 63); e = 1 + rn(r, 0x7ffe); break;          /* unnormal */
    case 4: sig = 1ull << 63; e = 0x7fff; break;                         /* infinity */
    case 5: sig |= 3ull << 62; e = 0x7fff; break;                        /* QNaN */
    case 6: sig = (sig | 1ull << 63 | 1) & ~(1ull << 62); e = 0x7fff; break; /* SNaN */
    case 7: sig &= ~(1ull << 63); e = 0x7fff; break;                     /* pseudo-NaN */
    case 8: sig |= 1ull << 63; e = one_in(r, 2) ? 1 + rn(r, 64) : 0x7ffe - rn(r, 64); break;
    case 9: sig = (1ull << 63) | ((uint64_t)rn(r, 1u << 20) << 40); e = 0x3fff + rn(r, 64); break;
    default: sig |= 1ull << 63; e = 0x3fff - 40 + rn(r, 80); break;      /* ordinary */
    }
    memcpy(p, &sig, 8);
    uint16_t se = (uint16_t)(sign << 15 | e);
    memcpy(p + 8, &se, 2);
}

void dt_gen_state(uint64_t seed, struct dt_state *st, uint8_t *data, uint8_t *low)
{
    struct rng r;
    rseed(&r, seed);
    memset(st, 0, sizeof *st);
    for (int k = 0; k < 8; k++)
        st->regs[k] = rval(&r);
    st->regs[R_ESP] = DT_ESP_INIT;
    st->regs[R_EBP] = DT_EBP_INIT;
    uint32_t fl = 0x202 | (uint32_t)(rnext(&r) & DT_FLAGS);
    if (one_in(&r, 4))
        fl |= FL_DF;
    if (one_in(&r, 2))
        fl |= FL_ID;
    if (one_in(&r, 16))
        fl |= FL_AC;
    st->eflags = fl;

    /* FNSAVE image, 32-bit protected-mode layout */
    uint8_t *img = st->fpu;
    /* mostly all exceptions masked at the start, so a sequence usually runs
     * past its first x87 instruction; FLDCW/FLDENV/FRSTOR unmask later */
    uint16_t cw = rand_cw(&r);
    if (!one_in(&r, 4))
        cw |= 0x3f;
    uint16_t top = (uint16_t)rn(&r, 8);
    uint16_t sw = one_in(&r, 2) ? 0 : (uint16_t)rn(&r, 64);
    sw |= (uint16_t)(rnext(&r) & 0x4700); /* condition codes */
    if ((sw & ~cw & 0x3f) || one_in(&r, 32))
        sw |= 0x8080; /* ES and B follow the unmasked flags (usually) */
    sw |= (uint16_t)(top << 11);
    uint16_t tw = 0;
    for (int k = 0; k < 8; k++)
        tw |= (uint16_t)((one_in(&r, 3) ? 3 : rn(&r, 3)) << (2 * k));
    memset(img, 0, 108);
    memcpy(img + 0, &cw, 2);
    memcpy(img + 4, &sw, 2);
    memcpy(img + 8, &tw, 2);
    for (int k = 0; k < 8; k++)
        rand_ext(&r, img + 28 + 10 * k);

    /* buffers: random bytes, with x87 values sprinkled in so memory loads
     * see interesting numbers too */
    for (uint32_t k = 0; k < DT_DATA_SIZE; k += 8) {
        uint64_t v = rnext(&r);
        memcpy(data + k, &v, 8);
    }
    for (int k = 0; k < 64; k++)
        rand_ext(&r, data + rn(&r, DT_DATA_SIZE - 10));
    if (low) {
        for (uint32_t k = 0; k < DT_LOW_SIZE; k += 8) {
            uint64_t v = rnext(&r);
            memcpy(low + k, &v, 8);
        }
    }
}

/* ---------------- assembly and the flag analysis ---------------- */

void dt_assemble(const struct dt_seq *s, const bool *keep, struct dt_prog *p)
{
    int ustart[DT_MAX_UNITS + 1]; /* instruction index of each unit's first insn */
    uint32_t uaddr[DT_MAX_UNITS + 1];
    const struct dt_insn *ins[DT_MAX_INSNS];
    int n = 0;
    memset(p, 0, sizeof *p);
    p->valid = true;
    uint32_t addr = p->base = s->code_addr;
    for (int u = 0; u < s->nunits; u++) {
        ustart[u] = n;
        uaddr[u] = addr;
        if (keep && !keep[u])
            continue;
        if (s->u[u].uses_low)
            p->uses_low = true;
        if (s->u[u].ign_len) {
            p->ign_addr[p->nign] = s->u[u].ign_addr;
            p->ign_len[p->nign++] = s->u[u].ign_len;
        }
        for (int k = 0; k < s->u[u].n; k++) {
            ins[n] = &s->u[u].in[k];
            p->addr[n] = addr;
            addr += ins[n]->len;
            n++;
        }
    }
    ustart[s->nunits] = n;
    uaddr[s->nunits] = addr;
    p->ninsn = n;
    p->addr[n] = addr;
    /* a removed unit's address is the next kept one's */
    for (int u = s->nunits - 1; u >= 0; u--)
        if (keep && !keep[u]) {
            uaddr[u] = uaddr[u + 1];
            ustart[u] = ustart[u + 1];
        }

    uint32_t off = 0;
    for (int k = 0; k < n; k++) {
        const struct dt_insn *in = ins[k];
        memcpy(p->code + off, in->b, in->len);
        if (in->fix != FIX_NONE) {
            int t = in->fix_target > s->nunits ? s->nunits : in->fix_target;
            uint32_t ta = uaddr[t];
            if (in->fix_insn >= 0 && t < s->nunits && (!keep || keep[t]))
                ta = p->addr[ustart[t] + in->fix_insn];
            ta += in->fix_add;
            uint32_t next = p->addr[k] + in->len;
            uint8_t *f = p->code + off + in->fix_at;
            if (in->fix == FIX_REL8) {
                int32_t d = (int32_t)(ta - next);
                if (d > 127)
                    p->valid = false;
                f[0] = (uint8_t)d;
            } else {
                uint32_t v = in->fix == FIX_REL32 ? ta - next : ta;
                memcpy(f, &v, 4);
            }
        }
        off += in->len;
    }
    p->code[off] = 0x0f; /* UD2 ends every sequence */
    p->code[off + 1] = 0x0b;
    p->len = off + 2;

    /* undefined flags along the (forward-only) control flow */
    uint16_t arrive[DT_MAX_INSNS];
    memset(arrive, 0, sizeof arrive);
    uint16_t cur = 0;
    for (int k = 0; k < n; k++) {
        cur |= arrive[k];
        p->undef_at[k] = cur;
        const struct dt_insn *in = ins[k];
        if (in->reads & cur)
            p->valid = false;
        uint16_t out = (uint16_t)((cur & ~in->def) | in->undef);
        if (in->edge != EDGE_NONE) {
            int t = in->edge_target > s->nunits ? s->nunits : in->edge_target;
            int ti = ustart[t];
            if (ti <= k)
                p->valid = false;
            else
                arrive[ti] |= out;
        }
        cur = in->stop ? 0 : out;
    }
    p->undef_at[n] = cur | arrive[n];
}

void dt_prog_from_bytes(const uint8_t *code, uint32_t len, uint32_t base, uint16_t undef,
                        bool uses_low, struct dt_prog *p)
{
    memset(p, 0, sizeof *p);
    p->base = base;
    if (len > DT_CODE_MAX - 2)
        len = DT_CODE_MAX - 2;
    memcpy(p->code, code, len);
    p->len = len;
    p->ninsn = 0;
    p->addr[0] = base + len; /* unused: every stop point gets `undef` */
    p->undef_at[0] = undef;
    p->uses_low = uses_low;
    p->valid = true;
}

uint16_t dt_undef_at(const struct dt_prog *p, uint32_t eip)
{
    if (p->ninsn == 0)
        return p->undef_at[0];
    for (int k = 0; k <= p->ninsn; k++)
        if (p->addr[k] == eip)
            return p->undef_at[k];
    uint16_t all = 0;
    for (int k = 0; k <= p->ninsn; k++)
        all |= p->undef_at[k];
    return all;
}
