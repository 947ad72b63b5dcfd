/*
 * test_decode.c — the decoder against its own table (cpu/opcodes.def).
 *
 * For every defined row (and group row) the test builds encodings from the
 * row's attributes — with and without 66/67/segment/REP prefixes, with
 * register and memory modrm forms (16-bit, 32-bit, SIB, disp8/disp32) and
 * random immediates — and checks that the decoder returns exactly the
 * length, opcode, modrm fields, immediates and segment the table implies,
 * that every decoded instruction has a handler, and that the disassembler
 * produces text for it.  It also checks that the operand strings the
 * disassembler reads agree with the immediate kinds the decoder reads, a
 * few exact disassembly strings, and the 15-byte limit.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "cpu/ops.h"

static unsigned imm_bytes(unsigned kind, unsigned opsize, unsigned adsize)
{
    switch (kind) {
    case I_B: case I_BS: return 1;
    case I_W: return 2;
    case I_Z: return opsize;
    case I_AP: return opsize + 2;
    case I_ENTER: return 3;
    case I_O: return adsize;
    }
    return 0;
}

static uint32_t seed = 12345;
static uint8_t rnd8(void)
{
    seed = seed * 1103515245 + 12345;
    return (uint8_t)(seed >> 16);
}

struct form {
    uint8_t modrm_mod, rm, sib; /* rm: for mod != 3 */
    unsigned extra;             /* sib + displacement bytes after modrm */
};

/* modrm tails for 32-bit and 16-bit addressing */
static const struct form forms32[] = {
    { 3, 1, 0, 0 }, { 0, 3, 0, 0 }, { 0, 5, 0, 4 }, { 1, 6, 0, 1 }, { 2, 7, 0, 4 },
    { 0, 4, 0x9e, 1 }, { 1, 4, 0x24, 2 }, { 0, 4, 0x25, 5 }, { 2, 4, 0xb3, 5 },
};
static const struct form forms16[] = {
    { 3, 2, 0, 0 }, { 0, 0, 0, 0 }, { 0, 6, 0, 2 }, { 1, 2, 0, 1 }, { 2, 7, 0, 2 },
};

static void check_row(unsigned opcode, const struct op_row *row, int reg)
{
    static const uint8_t prefix_sets[][3] = { { 0 }, { 0x66 }, { 0x67 }, { 0x26 }, { 0x66, 0x67 },
                                              { 0xf3 }, { 0x64, 0x66 } };
    static const uint8_t prefix_len[] = { 0, 1, 1, 1, 2, 1, 2 };
    for (int code32 = 0; code32 < 2; code32++) {
        for (unsigned p = 0; p < sizeof prefix_len; p++) {
            bool o66 = false, a67 = false;
            for (unsigned k = 0; k < prefix_len[p]; k++) {
                o66 |= prefix_sets[p][k] == 0x66;
                a67 |= prefix_sets[p][k] == 0x67;
            }
            unsigned opsize = (code32 ^ o66) ? 4 : 2, adsize = (code32 ^ a67) ? 4 : 2;
            const struct form *fl = adsize == 4 ? forms32 : forms16;
            unsigned nf = adsize == 4 ? sizeof forms32 / sizeof forms32[0]
                                      : sizeof forms16 / sizeof forms16[0];
            bool has_modrm = (row->attr & D_M) || reg >= 0;
            for (unsigned f = 0; f < (has_modrm ? nf : 1); f++) {
                uint8_t b[32];
                unsigned n = 0;
                for (unsigned k = 0; k < prefix_len[p]; k++)
                    b[n++] = prefix_sets[p][k];
                if (opcode & 0x100)
                    b[n++] = 0x0f;
                b[n++] = (uint8_t)opcode;
                uint8_t mod = 3, r = (uint8_t)(reg >= 0 ? reg : rnd8() & 7), rm = 0;
                if (has_modrm) {
                    mod = fl[f].modrm_mod;
                    rm = fl[f].rm;
                    b[n++] = (uint8_t)(mod << 6 | r << 3 | rm);
                    if (fl[f].sib)
                        b[n++] = fl[f].sib;
                    for (unsigned k = fl[f].sib ? 1 : 0; k < fl[f].extra; k++)
                        b[n++] = rnd8();
                }
                unsigned kind = row->attr & D_IMM_MASK;
                unsigned ib = imm_bytes(kind, opsize, adsize);
                unsigned imm_at = n;
                for (unsigned k = 0; k < ib; k++)
                    b[n++] = rnd8();
                b[n] = 0x90;

                struct insn i;
                ck_assert_msg(cpu_decode_bytes(b, n + 1, code32, &i), "decode %03x failed", opcode);
                ck_assert_msg(i.len == n, "opcode %03x /%d prefixes %u form %u code32 %d: len %u want %u",
                              opcode, reg, p, f, code32, i.len, n);
                ck_assert_uint_eq(i.opcode, opcode);
                ck_assert_uint_eq(i.opsize, opsize);
                ck_assert_uint_eq(i.adsize, adsize);
                ck_assert_ptr_nonnull(i.fn);
                if (has_modrm) {
                    ck_assert_uint_eq(i.mod, mod);
                    ck_assert_uint_eq(i.reg, r);
                    ck_assert_uint_eq(!!(i.flags & INSN_F_MEM), mod != 3);
                }
                if (p == 3)
                    ck_assert_uint_eq(i.seg, SEG_ES);
                if (p == 6)
                    ck_assert_uint_eq(i.seg, SEG_FS);
                if (kind == I_B)
                    ck_assert_uint_eq(i.imm, b[imm_at]);
                if (kind == I_BS)
                    ck_assert_uint_eq(i.imm, (uint32_t)(int8_t)b[imm_at]);
                if (kind == I_O) {
                    uint32_t d = 0;
                    memcpy(&d, &b[imm_at], adsize);
                    ck_assert_uint_eq(i.disp, d);
                }
                if (kind == I_Z && opsize == 4) {
                    uint32_t d;
                    memcpy(&d, &b[imm_at], 4);
                    ck_assert_uint_eq(i.imm, d);
                }
                char text[128];
                ck_assert_int_gt(insn_disasm(&i, 0x1000, text, sizeof text), 0);
            }
        }
    }
}

/* The operand codes (disassembler) must agree with the immediate kind
 * (decoder). */
static void check_operands(const struct op_row *row, unsigned opcode, int reg)
{
    const char *o = row->operands;
    unsigned kind = row->attr & D_IMM_MASK, want = I_NONE;
    if (strstr(o, "Ibs") || strstr(o, "Jb"))
        want = I_BS;
    else if (strstr(o, "Iw,Ib"))
        want = I_ENTER;
    else if (strstr(o, "Ib"))
        want = I_B;
    else if (strstr(o, "Iw"))
        want = I_W;
    else if (strstr(o, "Iz") || strstr(o, "Jz"))
        want = I_Z;
    else if (strstr(o, "Ap"))
        want = I_AP;
    else if (strstr(o, "Ob") || strstr(o, "Ov"))
        want = I_O;
    ck_assert_msg(kind == want, "%03x /%d (%s %s): imm kind %u, operands say %u", opcode, reg,
                  row->mnem, o, kind, want);
    bool modrm = false;
    for (const char *t = o; *t; t += strcspn(t, ",") + (t[strcspn(t, ",")] ? 1 : 0)) {
        bool seg_literal = t[1] == 'S' && (t[0] == 'E' || t[0] == 'D' || t[0] == 'S' ||
                                           t[0] == 'C' || t[0] == 'F' || t[0] == 'G');
        if (!seg_literal && strchr("EGMSRCD", t[0]) && t[1] != 'X' && t[1] != 'L')
            modrm = true;
    }
    ck_assert_msg(!modrm || (row->attr & D_M) || reg >= 0, "%03x: modrm operand without D_M",
                  opcode);
}

START_TEST(test_table_rows)
{
    unsigned rows = 0;
    for (unsigned op = 0; op < 512; op++) {
        const struct op_row *row = &op_table[op];
        if (row->attr & D_GRP) {
            for (int r = 0; r < 8; r++) {
                const struct op_row *g = &grp_table[row->grp][r];
                ck_assert_msg(g->mnem != NULL, "group %u /%d missing", row->grp, r);
                check_operands(g, op, r);
                check_row(op, g, r);
                rows++;
            }
        } else if (row->mnem) {
            check_operands(row, op, -1);
            check_row(op, row, -1);
            rows++;
        }
    }
    ck_assert_uint_gt(rows, 400);
}
END_TEST

START_TEST(test_undefined_and_limits)
{
    struct insn i;
    /* 0F 0F (3DNow!) is not an i686 opcode: decodes to the #UD handler */
    static const uint8_t undef[] = { 0x0f, 0x0f, 0x00 };
    ck_assert(cpu_decode_bytes(undef, sizeof undef, true, &i));
    ck_assert_ptr_eq(i.fn, op_ud);
    /* LOCK on a register destination, and LOCK MOV: #UD */
    static const uint8_t lock_reg[] = { 0xf0, 0x01, 0xc8 };
    ck_assert(cpu_decode_bytes(lock_reg, sizeof lock_reg, true, &i));
    ck_assert_ptr_eq(i.fn, op_ud);
    static const uint8_t lock_mov[] = { 0xf0, 0x89, 0x03 };
    ck_assert(cpu_decode_bytes(lock_mov, sizeof lock_mov, true, &i));
    ck_assert_ptr_eq(i.fn, op_ud);
    static const uint8_t lock_add[] = { 0xf0, 0x01, 0x03 };
    ck_assert(cpu_decode_bytes(lock_add, sizeof lock_add, true, &i));
    ck_assert_ptr_ne(i.fn, op_ud);
    /* 15 bytes is the limit */
    uint8_t longi[20];
    memset(longi, 0x66, sizeof longi);
    longi[14] = 0x90;
    ck_assert(cpu_decode_bytes(longi, sizeof longi, true, &i));
    ck_assert_uint_eq(i.len, 15);
    longi[14] = 0x66;
    longi[15] = 0x90;
    ck_assert(!cpu_decode_bytes(longi, sizeof longi, true, &i));
}
END_TEST

static void dis(const uint8_t *b, unsigned n, bool code32, const char *want)
{
    struct insn i;
    char text[128];
    ck_assert(cpu_decode_bytes(b, n, code32, &i));
    ck_assert_uint_eq(i.len, n);
    insn_disasm(&i, 0x1000, text, sizeof text);
    ck_assert_str_eq(text, want);
}

START_TEST(test_disasm_text)
{
    dis((const uint8_t[]){ 0x03, 0x44, 0xb3, 0x10 }, 4, true, "add eax, dword [ebx+esi*4+0x10]");
    dis((const uint8_t[]){ 0x8b, 0x46, 0xfc }, 3, false, "mov ax, word [bp-0x4]");
    dis((const uint8_t[]){ 0xeb, 0xfe }, 2, true, "jmp 0x1000");
    dis((const uint8_t[]){ 0xf3, 0xa5 }, 2, true, "rep movsd");
    dis((const uint8_t[]){ 0x26, 0x88, 0x07 }, 3, false, "mov byte es:[bx], al");
    dis((const uint8_t[]){ 0x83, 0xe8, 0xff }, 3, true, "sub eax, -0x1");
    dis((const uint8_t[]){ 0x0f, 0xb6, 0xc1 }, 3, true, "movzx eax, cl");
    dis((const uint8_t[]){ 0xc8, 0x10, 0x00, 0x01 }, 4, true, "enter 0x10, 0x1");
    dis((const uint8_t[]){ 0xea, 0x00, 0x7c, 0x00, 0x00 }, 5, false, "jmp 0x0:0x7c00");
    dis((const uint8_t[]){ 0xa1, 0x78, 0x56, 0x34, 0x12 }, 5, true, "mov eax, dword [0x12345678]");
    dis((const uint8_t[]){ 0x0f, 0x22, 0xc0 }, 3, true, "mov cr0, eax");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("table");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_table_rows);
    tcase_add_test(tc, test_undefined_and_limits);
    tcase_add_test(tc, test_disasm_text);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
