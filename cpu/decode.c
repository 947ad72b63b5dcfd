/*
 * decode.c — x86 instruction bytes → struct insn, driven only by the opcode
 * table in opcodes.def (Intel SDM Vol. 2, ch. 2 "Instruction Format" and
 * App. A "Opcode Map").
 *
 * Prefixes (66, 67, segment overrides, F0, F2/F3) are consumed first; the
 * default operand/address size is CS.D in protected mode and 16 in real
 * and virtual-8086 mode (the caller passes it as `code32`).  An instruction
 * longer than 15 bytes raises #GP(0).
 *
 * Design choice: the decoder runs when a block is built, not when it runs.
 * For any instruction but the first of a block it therefore refuses (returns
 * false) instead of faulting — past the CS limit, beyond 15 bytes, or into
 * another page — so the block simply ends there and the fault, if real, is
 * raised when execution actually reaches the instruction.
 */
#include "cpu/ops.h"

#define OP(code, mnem, operands, attr, hs) [code] = { mnem, operands, (attr), 0, &hs_##hs },
#define OPG(code, grp) [code] = { NULL, NULL, D_M | D_GRP, grp, NULL },
#define GRP(grp, reg, mnem, operands, attr, hs)
const struct op_row op_table[512] = {
#include "cpu/opcodes.def"
};
#undef OP
#undef OPG
#undef GRP

#define OP(code, mnem, operands, attr, hs)
#define OPG(code, grp)
#define GRP(grp, reg, mnem, operands, attr, hs) [grp][reg] = { mnem, operands, (attr), 0, &hs_##hs },
const struct op_row grp_table[G_COUNT][8] = {
#include "cpu/opcodes.def"
};
#undef OP
#undef OPG
#undef GRP

static const struct op_row undefined_row = { "(bad)", "", 0, 0, NULL };

const struct op_row *insn_row(const struct insn *i)
{
    const struct op_row *r = &op_table[i->opcode & 0x1ff];
    if (r->attr & D_GRP)
        r = &grp_table[r->grp][i->reg & 7];
    if (!r->mnem)
        r = &undefined_row;
    return r;
}

struct fetcher {
    struct cpu *cpu;
    const uint8_t *bytes; /* decode from this buffer instead of memory */
    unsigned nbytes;
    uint32_t eip, base, limit, page, wrap;
    unsigned n;
    bool first, bad;
};

static inline uint8_t fetch(struct fetcher *f)
{
    if (UNLIKELY(f->bad))
        return 0;
    if (f->bytes) {
        if (f->n >= f->nbytes || f->n >= 15) {
            f->bad = true;
            return 0;
        }
        return f->bytes[f->n++];
    }
    uint32_t off = (f->eip + f->n) & f->wrap;
    if (UNLIKELY(f->n >= 15 || off > f->limit)) {
        if (f->first)
            cpu_fault(f->cpu, EXC_GP, 0);
        f->bad = true;
        return 0;
    }
    uint32_t lin = f->base + off;
    if (UNLIKELY((lin & PAGE_MASK) != f->page) && !f->first) {
        f->bad = true;
        return 0;
    }
    f->n++;
    return mmu_fetch8(f->cpu->mmu, lin);
}

static uint32_t fetch_n(struct fetcher *f, unsigned bytes)
{
    uint32_t v = 0;
    for (unsigned k = 0; k < bytes; k++)
        v |= (uint32_t)fetch(f) << (8 * k);
    return v;
}

static const uint8_t ea16_base[8] = { R_EBX, R_EBX, R_EBP, R_EBP, 0xff, 0xff, R_EBP, R_EBX };
static const uint8_t ea16_index[8] = { R_ESI, R_EDI, R_ESI, R_EDI, R_ESI, R_EDI, 0xff, 0xff };

static bool decode(struct fetcher *fp, bool code32, struct insn *i);

bool cpu_decode(struct cpu *cpu, uint32_t eip, bool code32, bool first, struct insn *i)
{
    struct fetcher f = {
        .cpu = cpu,
        .eip = eip,
        .base = cpu->seg[SEG_CS].base,
        .limit = cpu->seg[SEG_CS].limit,
        .wrap = code32 ? 0xffffffffu : 0xffffu,
        .first = first,
    };
    f.page = (f.base + (eip & f.wrap)) & PAGE_MASK;
    return decode(&f, code32, i);
}

bool cpu_decode_bytes(const uint8_t *bytes, unsigned n, bool code32, struct insn *i)
{
    struct fetcher f = { .bytes = bytes, .nbytes = n };
    return decode(&f, code32, i);
}

static bool decode(struct fetcher *fp, bool code32, struct insn *i)
{
#define f (*fp)
    unsigned opsize = code32 ? 4 : 2, adsize = opsize;
    uint8_t seg = SEG_NONE, rep = 0, lock = 0;
    unsigned b;

    memset(i, 0, sizeof *i);
    for (;;) {
        b = fetch(&f);
        if (f.bad)
            return false;
        switch (b) {
        case 0x26: seg = SEG_ES; continue;
        case 0x2e: seg = SEG_CS; continue;
        case 0x36: seg = SEG_SS; continue;
        case 0x3e: seg = SEG_DS; continue;
        case 0x64: seg = SEG_FS; continue;
        case 0x65: seg = SEG_GS; continue;
        case 0x66: opsize = code32 ? 2 : 4; continue;
        case 0x67: adsize = code32 ? 2 : 4; continue;
        case 0xf0: lock = 1; continue;
        case 0xf2: case 0xf3: rep = (uint8_t)b; continue;
        }
        break;
    }
    unsigned opcode = b;
    if (b == 0x0f)
        opcode = 0x100 | fetch(&f);

    const struct op_row *row = &op_table[opcode];
    unsigned attr = row->attr;
    const struct hset *hs = row->hs;
    i->opcode = (uint16_t)opcode;
    i->opsize = (uint8_t)opsize;
    i->adsize = (uint8_t)adsize;
    i->rep = rep;
    i->lock = lock;
    i->base = i->index = 0xff;
    i->mod = 3;
    i->reg = i->rm = (uint8_t)(opcode & 7);

    if (attr & D_M) {
        unsigned m = fetch(&f);
        i->mod = (uint8_t)(m >> 6);
        i->reg = (uint8_t)((m >> 3) & 7);
        i->rm = (uint8_t)(m & 7);
        uint8_t defseg = SEG_DS;
        if (i->mod != 3) {
            if (adsize == 2) {
                if (i->mod == 0 && i->rm == 6) {
                    i->disp = fetch_n(&f, 2);
                } else {
                    i->base = ea16_base[i->rm];
                    i->index = ea16_index[i->rm];
                    if (i->base == R_EBP)
                        defseg = SEG_SS;
                    if (i->mod == 1)
                        i->disp = (uint32_t)(int8_t)fetch(&f);
                    else if (i->mod == 2)
                        i->disp = fetch_n(&f, 2);
                }
            } else {
                unsigned rm = i->rm;
                if (rm == 4) {
                    unsigned sib = fetch(&f);
                    unsigned idx = (sib >> 3) & 7, base = sib & 7;
                    i->scale = (uint8_t)(sib >> 6);
                    if (idx != 4)
                        i->index = (uint8_t)idx;
                    if (base == 5 && i->mod == 0) {
                        i->disp = fetch_n(&f, 4);
                    } else {
                        i->base = (uint8_t)base;
                        if (base == R_ESP || base == R_EBP)
                            defseg = SEG_SS;
                    }
                } else if (rm == 5 && i->mod == 0) {
                    i->disp = fetch_n(&f, 4);
                } else {
                    i->base = (uint8_t)rm;
                    if (rm == R_EBP)
                        defseg = SEG_SS;
                }
                if (i->mod == 1)
                    i->disp = (uint32_t)(int8_t)fetch(&f);
                else if (i->mod == 2)
                    i->disp = fetch_n(&f, 4);
            }
            i->flags |= INSN_F_MEM;
        }
        i->seg = seg != SEG_NONE ? seg : defseg;
        i->flags |= INSN_F_HAS_MODRM;
        if (attr & D_GRP) {
            const struct op_row *g = &grp_table[row->grp][i->reg];
            attr = g->attr | D_M;
            hs = g->hs;
        }
    } else {
        i->seg = seg != SEG_NONE ? seg : SEG_DS;
    }

    switch (attr & D_IMM_MASK) {
    case I_B: i->imm = fetch(&f); break;
    case I_BS: i->imm = (uint32_t)(int8_t)fetch(&f); break;
    case I_W: i->imm = fetch_n(&f, 2); break;
    case I_Z:
        i->imm = opsize == 4 ? fetch_n(&f, 4) : (uint32_t)(int16_t)fetch_n(&f, 2);
        break;
    case I_AP:
        i->imm = fetch_n(&f, opsize);
        i->imm2 = fetch_n(&f, 2);
        break;
    case I_ENTER:
        i->imm = fetch_n(&f, 2);
        i->imm2 = fetch(&f);
        break;
    case I_O: i->disp = fetch_n(&f, adsize); break;
    }
    if (f.bad)
        return false;

    i->len = (uint8_t)f.n;
    if (attr & D_END)
        i->flags |= INSN_F_ENDS_BLOCK;

    insn_fn fn = NULL;
    if (hs) {
        if (i->mod == 3)
            fn = opsize == 4 ? hs->r32 : hs->r16;
        else
            fn = opsize == 4 ? hs->m32 : hs->m16;
        /* 32-bit addressing through a register: the specialised form */
        if (i->mod != 3 && opsize == 4 && adsize == 4 && hs->m32f[EAF_B] &&
            (i->base != 0xff || i->index != 0xff))
            fn = hs->m32f[i->index == 0xff ? EAF_B : i->base == 0xff ? EAF_I : EAF_BI];
    }
    if (lock && !((attr & D_LOCK) && i->mod != 3))
        fn = NULL;
    if (!fn) {
        fn = op_ud;
        i->flags |= INSN_F_ENDS_BLOCK;
    }
    i->fn = fn;
    return true;
#undef f
}
