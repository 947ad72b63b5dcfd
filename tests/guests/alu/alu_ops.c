/*
 * alu_ops.c — differential test of the integer ALU.
 *
 * The same source is built twice: as a native 32-bit Linux program (hosted:
 * prints to stdout) that runs at build time on the real CPU to produce the
 * expected output, and as a guest (freestanding: prints to COM1). The test
 * passes when the guest's serial output equals the native output exactly.
 *
 * Every kernel below is ONE instruction wrapped in inline asm: EFLAGS are
 * loaded with POPF before it and saved with PUSHF after it. Operands come from
 * a table of edge values plus a fixed-seed xorshift generator, with the
 * arithmetic flags all clear and all set on input.
 *
 * Flags: only the flags the Intel SDM defines for each instruction (and operand
 * count) are compared; the ones it leaves undefined (e.g. AF after AND, OF after
 * a multi-bit shift, everything after DIV, SF/ZF/AF/PF after MUL) are masked,
 * because they differ between Intel, AMD and QEMU and no guest may rely on them.
 * Results the SDM leaves undefined (BSF/BSR of 0, 16-bit SHLD/SHRD by more
 * than 16, DIV overflow) are not executed at all.
 *
 * Output: one line per group of kernels, "<group> n=<cases> h=<hash>", the hash
 * an FNV-1a over every output register and masked EFLAGS. On a mismatch, rerun
 * both sides with the group name to get every case:
 *     native:  ./alu-native add           guest: -append alu=add
 */

#if defined(__STDC_HOSTED__) && __STDC_HOSTED__
#include <stdio.h>
#include <string.h>
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
typedef long long s64;
#define kprintf printf
#define NATIVE 1
#else
#include "guest.h"
#define NATIVE 0
const char guest_name[] = "alu";
#endif

typedef struct { u32 a, b, c, d; } regs_t;
typedef void kern_t(regs_t *R, u32 fin, u32 *fo);

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800
#define ALL (CF | PF | AF | ZF | SF | OF)

#define KERN(name) static void name(regs_t *R, u32 fin, u32 *fo)
#define PRE "push %[fi]\n\tpopf\n\t"
#define POST "\n\tpushf\n\tpop %[f]"

/* ---- two-operand ALU: reg,reg (8/8h/16/32), mem,reg (32), imm forms ---- */
#define BINK(name, ins, cons, mod)                                                            \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, b = R->b, f;                                                            \
        __asm__ volatile(PRE ins " %" mod "[b], %" mod "[a]" POST                             \
                         : [a] "+" cons(a), [f] "=&r"(f)                                      \
                         : [b] cons(b), [fi] "r"(fin)                                         \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
static u32 cell;
static u32 cell8[2];
#define BINM(name, ins)                                                                       \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 b = R->b, f;                                                                      \
        cell = R->a;                                                                          \
        __asm__ volatile(PRE ins " %k[b], %[m]" POST                                          \
                         : [m] "+m"(cell), [f] "=&r"(f)                                       \
                         : [b] "r"(b), [fi] "r"(fin)                                          \
                         : "cc");                                                             \
        R->a = cell;                                                                          \
        *fo = f;                                                                              \
    }
#define BINI(name, ins, cons, mod, imm)                                                       \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins " $" #imm ", %" mod "[a]" POST                               \
                         : [a] "+" cons(a), [f] "=&r"(f)                                      \
                         : [fi] "r"(fin)                                                      \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
#define BIN_ALL(op)                                                                           \
    BINK(op##_8, #op "b", "q", "b")                                                           \
    BINK(op##_8h, #op "b", "Q", "h")                                                          \
    BINK(op##_16, #op "w", "r", "w")                                                          \
    BINK(op##_32, #op "l", "r", "k")                                                          \
    BINM(op##_m32, #op "l")                                                                   \
    BINI(op##_i8a, #op "b", "a", "b", 0x85)                                                   \
    BINI(op##_i8b, #op "b", "b", "b", 0x7f)                                                   \
    BINI(op##_i16a, #op "w", "a", "w", 0x8001)                                                \
    BINI(op##_i16s, #op "w", "d", "w", -2)                                                    \
    BINI(op##_i32a, #op "l", "a", "k", 0x80000001)                                            \
    BINI(op##_i32s, #op "l", "S", "k", 0x7f)                                                  \
    BINI(op##_i32b, #op "l", "D", "k", 0x12345678)

BIN_ALL(add)
BIN_ALL(adc)
BIN_ALL(sub)
BIN_ALL(sbb)
BIN_ALL(and)
BIN_ALL(or)
BIN_ALL(xor)
BIN_ALL(cmp)
BIN_ALL(test)

/* ---- one-operand ---- */
#define UNK(name, ins, cons, mod)                                                             \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins " %" mod "[a]" POST                                          \
                         : [a] "+" cons(a), [f] "=&r"(f)                                      \
                         : [fi] "r"(fin)                                                      \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
#define UNM(name, ins)                                                                        \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 f;                                                                                \
        cell = R->a;                                                                          \
        __asm__ volatile(PRE ins " %[m]" POST : [m] "+m"(cell), [f] "=&r"(f) : [fi] "r"(fin) : "cc"); \
        R->a = cell;                                                                          \
        *fo = f;                                                                              \
    }
#define UN_ALL(op)                                                                            \
    UNK(op##_8, #op "b", "q", "b")                                                            \
    UNK(op##_8h, #op "b", "Q", "h")                                                           \
    UNK(op##_16, #op "w", "r", "w")                                                           \
    UNK(op##_32, #op "l", "r", "k")                                                           \
    UNM(op##_m32, #op "l")                                                                    \
    UNM(op##_m16, #op "w")
UN_ALL(inc)
UN_ALL(dec)
UN_ALL(neg)
UN_ALL(not)
UNK(bswap_32, "bswap", "r", "k")

/* ---- shift/rotate group, raw encodings so every form is exact:
 *      D0/D1 (by 1), D2/D3 (by CL), C0/C1 ib; value in AL/AX/EAX, count in CL ---- */
#define SHK(name, bytes)                                                                      \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ".byte " bytes POST                                              \
                         : "+a"(a), [f] "=&r"(f)                                              \
                         : "c"(R->c), [fi] "r"(fin)                                           \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
#define MODRM(d) "0xc0+8*" #d
#define SH_FORMS(d)                                                                           \
    SHK(sh##d##_1_8, "0xd0," MODRM(d)) SHK(sh##d##_1_16, "0x66,0xd1," MODRM(d))              \
    SHK(sh##d##_1_32, "0xd1," MODRM(d))                                                       \
    SHK(sh##d##_cl_8, "0xd2," MODRM(d)) SHK(sh##d##_cl_16, "0x66,0xd3," MODRM(d))            \
    SHK(sh##d##_cl_32, "0xd3," MODRM(d))                                                      \
    SH_IMM(d, 0) SH_IMM(d, 1) SH_IMM(d, 3) SH_IMM(d, 7) SH_IMM(d, 8) SH_IMM(d, 9)             \
    SH_IMM(d, 16) SH_IMM(d, 17) SH_IMM(d, 31) SH_IMM(d, 32) SH_IMM(d, 33) SH_IMM(d, 255)
#define SH_IMM(d, n)                                                                          \
    SHK(sh##d##_i##n##_8, "0xc0," MODRM(d) "," #n)                                            \
    SHK(sh##d##_i##n##_16, "0x66,0xc1," MODRM(d) "," #n)                                      \
    SHK(sh##d##_i##n##_32, "0xc1," MODRM(d) "," #n)
SH_FORMS(0)
SH_FORMS(1)
SH_FORMS(2)
SH_FORMS(3)
SH_FORMS(4)
SH_FORMS(5)
SH_FORMS(6)
SH_FORMS(7)

/* ---- SHLD/SHRD: dest in a, source in b, count CL or imm ---- */
#define DSK(name, ins, mod, cnt)                                                              \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins " " cnt ", %" mod "[b], %" mod "[a]" POST                    \
                         : [a] "+r"(a), [f] "=&r"(f)                                          \
                         : [b] "r"(R->b), "c"(R->c), [fi] "r"(fin)                            \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
DSK(shld_cl_16, "shldw", "w", "%%cl")
DSK(shld_cl_32, "shldl", "k", "%%cl")
DSK(shrd_cl_16, "shrdw", "w", "%%cl")
DSK(shrd_cl_32, "shrdl", "k", "%%cl")
DSK(shld_i1_32, "shldl", "k", "$1")
DSK(shld_i5_16, "shldw", "w", "$5")
DSK(shld_i31_32, "shldl", "k", "$31")
DSK(shrd_i1_16, "shrdw", "w", "$1")
DSK(shrd_i7_32, "shrdl", "k", "$7")
DSK(shrd_i32_32, "shrdl", "k", "$32")

/* ---- MUL/IMUL/DIV/IDIV one-operand: EDX:EAX implicit, source b ---- */
#define MDK(name, ins, cons, mod)                                                             \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, d = R->d, f;                                                            \
        __asm__ volatile(PRE ins " %" mod "[b]" POST                                          \
                         : "+a"(a), "+d"(d), [f] "=&r"(f)                                     \
                         : [b] cons(R->b), [fi] "r"(fin)                                      \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        R->d = d;                                                                             \
        *fo = f;                                                                              \
    }
#define MD_ALL(op)                                                                            \
    MDK(op##_8, #op "b", "b", "b") MDK(op##_16, #op "w", "b", "w") MDK(op##_32, #op "l", "b", "k")
MD_ALL(mul)
MD_ALL(imul)
MD_ALL(div)
MD_ALL(idiv)
KERN(mul_m32)
{
    u32 a = R->a, d = R->d, f;
    cell = R->b;
    __asm__ volatile(PRE "mull %[m]" POST : "+a"(a), "+d"(d), [f] "=&r"(f) : [m] "m"(cell), [fi] "r"(fin) : "cc");
    R->a = a, R->d = d, *fo = f;
}
KERN(div_m32)
{
    u32 a = R->a, d = R->d, f;
    cell = R->b;
    __asm__ volatile(PRE "divl %[m]" POST : "+a"(a), "+d"(d), [f] "=&r"(f) : [m] "m"(cell), [fi] "r"(fin) : "cc");
    R->a = a, R->d = d, *fo = f;
}
BINK(imul2_16, "imulw", "r", "w")
BINK(imul2_32, "imull", "r", "k")
#define IM3(name, ins, mod, imm)                                                              \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins " $" #imm ", %" mod "[b], %" mod "[a]" POST                  \
                         : [a] "+r"(a), [f] "=&r"(f)                                          \
                         : [b] "r"(R->b), [fi] "r"(fin)                                       \
                         : "cc");                                                             \
        R->a = a;                                                                             \
        *fo = f;                                                                              \
    }
IM3(imul3_i8_16, "imulw", "w", -3)
IM3(imul3_i16_16, "imulw", "w", 0x7ffd)
IM3(imul3_i8_32, "imull", "k", 0x7f)
IM3(imul3_i32_32, "imull", "k", -0x12345)

/* ---- bit test family ---- */
#define BTI(name, ins, mod, imm) BINI(name, ins, "r", mod, imm)
BINK(bt_16, "btw", "r", "w")
BINK(bt_32, "btl", "r", "k")
BINK(bts_16, "btsw", "r", "w")
BINK(bts_32, "btsl", "r", "k")
BINK(btr_16, "btrw", "r", "w")
BINK(btr_32, "btrl", "r", "k")
BINK(btc_16, "btcw", "r", "w")
BINK(btc_32, "btcl", "r", "k")
BTI(bt_i_16, "btw", "w", 13)
BTI(bt_i_32, "btl", "k", 31)
BTI(bts_i_16, "btsw", "w", 17)
BTI(bts_i_32, "btsl", "k", 33)
BTI(btr_i_16, "btrw", "w", 15)
BTI(btr_i_32, "btrl", "k", 7)
BTI(btc_i_16, "btcw", "w", 0)
BTI(btc_i_32, "btcl", "k", 200)
/* Memory bit strings: the register offset is signed and reaches outside the
 * addressed dword. bitbuf[8] is the operand; offsets span bitbuf[0..15]. */
static u32 bitbuf[16];
#define BTM(name, ins, mod)                                                                   \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 f;                                                                                \
        __asm__ volatile(PRE ins " %" mod "[b], bitbuf+32" POST                               \
                         : [f] "=&r"(f)                                                       \
                         : [b] "r"(R->b), [fi] "r"(fin)                                       \
                         : "cc", "memory");                                                   \
        *fo = f;                                                                              \
    }
BTM(bt_m32, "btl", "k")
BTM(bts_m32, "btsl", "k")
BTM(btr_m32, "btrl", "k")
BTM(btc_m32, "btcl", "k")
BTM(btc_m16, "btcw", "w")
BINK(bsf_16, "bsfw", "r", "w")
BINK(bsf_32, "bsfl", "r", "k")
BINK(bsr_16, "bsrw", "r", "w")
BINK(bsr_32, "bsrl", "r", "k")

/* ---- XADD / CMPXCHG / CMPXCHG8B ---- */
#define XAK(name, ins, mod)                                                                   \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, b = R->b, f;                                                            \
        __asm__ volatile(PRE ins " %" mod "[b], %" mod "[a]" POST                             \
                         : [a] "+q"(a), [b] "+q"(b), [f] "=&r"(f)                             \
                         : [fi] "r"(fin)                                                      \
                         : "cc");                                                             \
        R->a = a, R->b = b, *fo = f;                                                          \
    }
XAK(xadd_8, "xaddb", "b")
XAK(xadd_16, "xaddw", "w")
XAK(xadd_32, "xaddl", "k")
#define CXK(name, ins)                                                                        \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, c = R->c, f;                                                            \
        __asm__ volatile(PRE ins POST                                                         \
                         : "+b"(a), "+a"(c), [f] "=&r"(f)                                     \
                         : "d"(R->b), [fi] "r"(fin)                                           \
                         : "cc");                                                             \
        R->a = a, R->c = c, *fo = f;                                                          \
    }
CXK(cmpxchg_8, "cmpxchgb %%dl, %%bl")
CXK(cmpxchg_16, "cmpxchgw %%dx, %%bx")
CXK(cmpxchg_32, "cmpxchgl %%edx, %%ebx")
KERN(cmpxchg8b)
{
    u32 a = R->c, d = R->d, f;
    cell8[0] = R->a, cell8[1] = R->b;
    __asm__ volatile(PRE "cmpxchg8b cell8" POST
                     : "+a"(a), "+d"(d), [f] "=&r"(f)
                     : "b"(R->a ^ R->b), "c"(~R->d), [fi] "r"(fin)
                     : "cc", "memory");
    R->c = a, R->d = d, R->a = cell8[0], R->b = cell8[1], *fo = f;
}

/* ---- BCD and sign extension on AL/AX/EAX/EDX ---- */
#define AXK(name, ins)                                                                        \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, d = R->d, f;                                                            \
        __asm__ volatile(PRE ins POST : "+a"(a), "+d"(d), [f] "=&r"(f) : [fi] "r"(fin) : "cc"); \
        R->a = a, R->d = d, *fo = f;                                                          \
    }
AXK(daa, "daa")
AXK(das, "das")
AXK(aaa, "aaa")
AXK(aas, "aas")
AXK(aam_10, "aam")
AXK(aam_16, "aam $16")
AXK(aam_7, "aam $7")
AXK(aam_255, "aam $255")
AXK(aad_10, "aad")
AXK(aad_16, "aad $16")
AXK(aad_3, "aad $3")
AXK(aad_255, "aad $255")
AXK(cbw, "cbtw")
AXK(cwde, "cwtl")
AXK(cwd, "cwtd")
AXK(cdq, "cltd")
AXK(lahf, "lahf")
AXK(sahf, "sahf")
AXK(salc, ".byte 0xd6")

#define MXK(name, ins, mb, ma)                                                                \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins " %" mb "[b], %" ma "[a]" POST                               \
                         : [a] "+r"(a), [f] "=&r"(f)                                          \
                         : [b] "q"(R->b), [fi] "r"(fin)                                       \
                         : "cc");                                                             \
        R->a = a, *fo = f;                                                                    \
    }
MXK(movsbw, "movsbw", "b", "w")
MXK(movsbl, "movsbl", "b", "k")
MXK(movswl, "movswl", "w", "k")
MXK(movzbw, "movzbw", "b", "w")
MXK(movzbl, "movzbl", "b", "k")
MXK(movzwl, "movzwl", "w", "k")
KERN(movsbl_h)
{
    u32 a = R->a, f;
    __asm__ volatile(PRE "movsbl %h[b], %k[a]" POST : [a] "+r"(a), [f] "=&r"(f) : [b] "Q"(R->b), [fi] "r"(fin) : "cc");
    R->a = a, *fo = f;
}

/* ---- LEA address arithmetic, 32- and 16-bit address sizes ---- */
#define LEAK(name, ins)                                                                       \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a = R->a, f;                                                                      \
        __asm__ volatile(PRE ins POST : "+a"(a), [f] "=&r"(f) : "b"(R->b), "S"(R->c), [fi] "r"(fin) : "cc"); \
        R->a = a, *fo = f;                                                                    \
    }
LEAK(lea_sib, "leal 0x12345678(%%ebx,%%esi,4), %%eax")
LEAK(lea_sib8, "leal -0x80(%%esi,%%ebx,8), %%eax")
LEAK(lea_idx, "leal (,%%esi,2), %%eax")
LEAK(lea_d32, "leal 0x7fffffff(%%ebx), %%eax")
LEAK(lea_a16, "leal 0x7ff0(%%bx,%%si), %%eax")
LEAK(lea_a16w, "leaw -0x10(%%bx,%%si), %%ax")
LEAK(lea_a16b, "leal 0x1234(%%bx), %%eax")
LEAK(lea_o16a32, "leaw 0x1234(%%ebx,%%esi,2), %%ax")

/* ---- condition codes: SETcc, CMOVcc (16/32), Jcc rel8/rel32, LOOP/JECXZ ---- */
#define CC_LIST(X) X(o) X(no) X(b) X(ae) X(e) X(ne) X(be) X(a) X(s) X(ns) X(p) X(np) X(l) X(ge) X(le) X(g)
#define SETK(c) KERN(set##c) { u32 a = R->a, f; __asm__ volatile(PRE "set" #c " %b[a]" POST : [a] "+q"(a), [f] "=&r"(f) : [fi] "r"(fin) : "cc"); R->a = a, *fo = f; }
#define CMOVK(c) \
    KERN(cmov##c##_32) { u32 a = R->a, f; __asm__ volatile(PRE "cmov" #c "l %k[b], %k[a]" POST : [a] "+r"(a), [f] "=&r"(f) : [b] "r"(R->b), [fi] "r"(fin) : "cc"); R->a = a, *fo = f; } \
    KERN(cmov##c##_16) { u32 a = R->a, f; __asm__ volatile(PRE "cmov" #c "w %w[b], %w[a]" POST : [a] "+r"(a), [f] "=&r"(f) : [b] "r"(R->b), [fi] "r"(fin) : "cc"); R->a = a, *fo = f; }
#define JCCK(c) \
    KERN(j##c##_8) { u32 a, f; __asm__ volatile(PRE "mov $1, %k[a]\n\tj" #c " 1f\n\tmov $2, %k[a]\n1:" POST : [a] "=&r"(a), [f] "=&r"(f) : [fi] "r"(fin) : "cc"); R->a = a, *fo = f; } \
    KERN(j##c##_32) { u32 a, f; __asm__ volatile(PRE "mov $1, %k[a]\n\t%{disp32%} j" #c " 1f\n\tmov $2, %k[a]\n1:" POST : [a] "=&r"(a), [f] "=&r"(f) : [fi] "r"(fin) : "cc"); R->a = a, *fo = f; }
CC_LIST(SETK)
CC_LIST(CMOVK)
CC_LIST(JCCK)
#define LOOPK(name, ins)                                                                      \
    KERN(name)                                                                                \
    {                                                                                         \
        u32 a, c = R->c, f;                                                                   \
        __asm__ volatile(PRE "mov $1, %k[a]\n\t" ins " 1f\n\tmov $2, %k[a]\n1:" POST          \
                         : [a] "=&r"(a), "+c"(c), [f] "=&r"(f)                                \
                         : [fi] "r"(fin)                                                      \
                         : "cc");                                                             \
        R->a = a, R->c = c, *fo = f;                                                          \
    }
LOOPK(loop, "loop")
LOOPK(loope, "loope")
LOOPK(loopne, "loopne")
LOOPK(jecxz, "jecxz")
LOOPK(loop_a16, "addr16 loop")
LOOPK(jcxz, "jcxz")

/* ------------------------------------------------------------------------- */

enum kind {
    K_BIN,    /* a,b from the operand table */
    K_UN,     /* a */
    K_SHIFT,  /* a x count table in c; arg = digit | size<<8 | imm<<16 | has_imm */
    K_SHD,    /* a,b x count table; arg = size | imm */
    K_MUL,    /* a,b (b = source), d from table */
    K_DIV,    /* arg = size | signed */
    K_BTM,    /* memory bit string */
    K_BS,     /* bsf/bsr: skip zero source; arg = size */
    K_CX,     /* cmpxchg */
    K_CX8,
    K_AL,     /* every AL, a few AH, BCD flag inputs */
    K_CC,     /* all 64 combinations of the six flags */
    K_LOOP,
};

#define IMM 0x1000000
#define SZ(n) ((n) << 8)
struct test {
    const char *group, *name;
    kern_t *k;
    enum kind kind;
    u32 fmask; /* defined flags (for shifts: computed per count) */
    u32 arg;
};

#define BIN_T(op, m)                                                                          \
    { #op, #op "_8", op##_8, K_BIN, m, 0 }, { #op, #op "_8h", op##_8h, K_BIN, m, 0 },         \
    { #op, #op "_16", op##_16, K_BIN, m, 0 }, { #op, #op "_32", op##_32, K_BIN, m, 0 },       \
    { #op, #op "_m32", op##_m32, K_BIN, m, 0 }, { #op "_imm", #op "_i8a", op##_i8a, K_UN, m, 0 }, \
    { #op "_imm", #op "_i8b", op##_i8b, K_UN, m, 0 }, { #op "_imm", #op "_i16a", op##_i16a, K_UN, m, 0 }, \
    { #op "_imm", #op "_i16s", op##_i16s, K_UN, m, 0 }, { #op "_imm", #op "_i32a", op##_i32a, K_UN, m, 0 }, \
    { #op "_imm", #op "_i32s", op##_i32s, K_UN, m, 0 }, { #op "_imm", #op "_i32b", op##_i32b, K_UN, m, 0 }
#define UN_T(op, m)                                                                           \
    { #op, #op "_8", op##_8, K_UN, m, 0 }, { #op, #op "_8h", op##_8h, K_UN, m, 0 },           \
    { #op, #op "_16", op##_16, K_UN, m, 0 }, { #op, #op "_32", op##_32, K_UN, m, 0 },         \
    { #op, #op "_m32", op##_m32, K_UN, m, 0 }, { #op, #op "_m16", op##_m16, K_UN, m, 0 }
#define SH_T1(g, d, sz) { g, g "_1_" #sz, sh##d##_1_##sz, K_SHIFT, 0, d | SZ(sz) | IMM | (1u << 16) }, \
    { g, g "_cl_" #sz, sh##d##_cl_##sz, K_SHIFT, 0, d | SZ(sz) }
#define SH_TI(g, d, n) { g "_imm", g "_i" #n "_8", sh##d##_i##n##_8, K_SHIFT, 0, d | SZ(8) | IMM | (n << 16) }, \
    { g "_imm", g "_i" #n "_16", sh##d##_i##n##_16, K_SHIFT, 0, d | SZ(16) | IMM | (n << 16) }, \
    { g "_imm", g "_i" #n "_32", sh##d##_i##n##_32, K_SHIFT, 0, d | SZ(32) | IMM | (n << 16) }
#define SH_T(g, d) SH_T1(g, d, 8), SH_T1(g, d, 16), SH_T1(g, d, 32), SH_TI(g, d, 0), SH_TI(g, d, 1), \
    SH_TI(g, d, 3), SH_TI(g, d, 7), SH_TI(g, d, 8), SH_TI(g, d, 9), SH_TI(g, d, 16), SH_TI(g, d, 17), \
    SH_TI(g, d, 31), SH_TI(g, d, 32), SH_TI(g, d, 33), SH_TI(g, d, 255)
#define CC_T(c) { "cc_" #c, "set" #c, set##c, K_CC, ALL, 0 }, { "cc_" #c, "cmov" #c "_16", cmov##c##_16, K_CC, ALL, 0 }, \
    { "cc_" #c, "cmov" #c "_32", cmov##c##_32, K_CC, ALL, 0 }, { "cc_" #c, "j" #c "_8", j##c##_8, K_CC, ALL, 0 }, \
    { "cc_" #c, "j" #c "_32", j##c##_32, K_CC, ALL, 0 },

static const struct test tests[] = {
    BIN_T(add, ALL), BIN_T(adc, ALL), BIN_T(sub, ALL), BIN_T(sbb, ALL),
    BIN_T(and, ALL & ~AF), BIN_T(or, ALL & ~AF), BIN_T(xor, ALL & ~AF), BIN_T(cmp, ALL),
    BIN_T(test, ALL & ~AF),
    UN_T(inc, ALL), UN_T(dec, ALL), UN_T(neg, ALL), UN_T(not, ALL),
    { "bswap", "bswap_32", bswap_32, K_UN, ALL, 0 },
    SH_T("rol", 0), SH_T("ror", 1), SH_T("rcl", 2), SH_T("rcr", 3),
    SH_T("shl", 4), SH_T("shr", 5), SH_T("sal", 6), SH_T("sar", 7),
    { "shld", "shld_cl_16", shld_cl_16, K_SHD, 0, 16 },
    { "shld", "shld_cl_32", shld_cl_32, K_SHD, 0, 32 },
    { "shld", "shld_i1_32", shld_i1_32, K_SHD, 0, 32 | IMM | (1 << 16) },
    { "shld", "shld_i5_16", shld_i5_16, K_SHD, 0, 16 | IMM | (5 << 16) },
    { "shld", "shld_i31_32", shld_i31_32, K_SHD, 0, 32 | IMM | (31 << 16) },
    { "shrd", "shrd_cl_16", shrd_cl_16, K_SHD, 0, 16 },
    { "shrd", "shrd_cl_32", shrd_cl_32, K_SHD, 0, 32 },
    { "shrd", "shrd_i1_16", shrd_i1_16, K_SHD, 0, 16 | IMM | (1 << 16) },
    { "shrd", "shrd_i7_32", shrd_i7_32, K_SHD, 0, 32 | IMM | (7 << 16) },
    { "shrd", "shrd_i32_32", shrd_i32_32, K_SHD, 0, 32 | IMM | (32 << 16) },
    { "mul", "mul_8", mul_8, K_MUL, CF | OF, 0 }, { "mul", "mul_16", mul_16, K_MUL, CF | OF, 0 },
    { "mul", "mul_32", mul_32, K_MUL, CF | OF, 0 }, { "mul", "mul_m32", mul_m32, K_MUL, CF | OF, 0 },
    { "imul", "imul_8", imul_8, K_MUL, CF | OF, 0 }, { "imul", "imul_16", imul_16, K_MUL, CF | OF, 0 },
    { "imul", "imul_32", imul_32, K_MUL, CF | OF, 0 },
    { "imul2", "imul2_16", imul2_16, K_BIN, CF | OF, 0 }, { "imul2", "imul2_32", imul2_32, K_BIN, CF | OF, 0 },
    { "imul3", "imul3_i8_16", imul3_i8_16, K_BIN, CF | OF, 0 },
    { "imul3", "imul3_i16_16", imul3_i16_16, K_BIN, CF | OF, 0 },
    { "imul3", "imul3_i8_32", imul3_i8_32, K_BIN, CF | OF, 0 },
    { "imul3", "imul3_i32_32", imul3_i32_32, K_BIN, CF | OF, 0 },
    { "div", "div_8", div_8, K_DIV, 0, 8 }, { "div", "div_16", div_16, K_DIV, 0, 16 },
    { "div", "div_32", div_32, K_DIV, 0, 32 }, { "div", "div_m32", div_m32, K_DIV, 0, 32 },
    { "idiv", "idiv_8", idiv_8, K_DIV, 0, 8 | 1 }, { "idiv", "idiv_16", idiv_16, K_DIV, 0, 16 | 1 },
    { "idiv", "idiv_32", idiv_32, K_DIV, 0, 32 | 1 },
    { "bt", "bt_16", bt_16, K_BIN, CF | ZF, 0 }, { "bt", "bt_32", bt_32, K_BIN, CF | ZF, 0 },
    { "bt", "bt_i_16", bt_i_16, K_UN, CF | ZF, 0 }, { "bt", "bt_i_32", bt_i_32, K_UN, CF | ZF, 0 },
    { "bt", "bt_m32", bt_m32, K_BTM, CF | ZF, 0 },
    { "bts", "bts_16", bts_16, K_BIN, CF | ZF, 0 }, { "bts", "bts_32", bts_32, K_BIN, CF | ZF, 0 },
    { "bts", "bts_i_16", bts_i_16, K_UN, CF | ZF, 0 }, { "bts", "bts_i_32", bts_i_32, K_UN, CF | ZF, 0 },
    { "bts", "bts_m32", bts_m32, K_BTM, CF | ZF, 0 },
    { "btr", "btr_16", btr_16, K_BIN, CF | ZF, 0 }, { "btr", "btr_32", btr_32, K_BIN, CF | ZF, 0 },
    { "btr", "btr_i_16", btr_i_16, K_UN, CF | ZF, 0 }, { "btr", "btr_i_32", btr_i_32, K_UN, CF | ZF, 0 },
    { "btr", "btr_m32", btr_m32, K_BTM, CF | ZF, 0 },
    { "btc", "btc_16", btc_16, K_BIN, CF | ZF, 0 }, { "btc", "btc_32", btc_32, K_BIN, CF | ZF, 0 },
    { "btc", "btc_i_16", btc_i_16, K_UN, CF | ZF, 0 }, { "btc", "btc_i_32", btc_i_32, K_UN, CF | ZF, 0 },
    { "btc", "btc_m32", btc_m32, K_BTM, CF | ZF, 0 }, { "btc", "btc_m16", btc_m16, K_BTM, CF | ZF, 0 },
    { "bsf", "bsf_16", bsf_16, K_BS, ZF, 16 }, { "bsf", "bsf_32", bsf_32, K_BS, ZF, 32 },
    { "bsr", "bsr_16", bsr_16, K_BS, ZF, 16 }, { "bsr", "bsr_32", bsr_32, K_BS, ZF, 32 },
    { "xadd", "xadd_8", xadd_8, K_BIN, ALL, 0 }, { "xadd", "xadd_16", xadd_16, K_BIN, ALL, 0 },
    { "xadd", "xadd_32", xadd_32, K_BIN, ALL, 0 },
    { "cmpxchg", "cmpxchg_8", cmpxchg_8, K_CX, ALL, 0xff },
    { "cmpxchg", "cmpxchg_16", cmpxchg_16, K_CX, ALL, 0xffff },
    { "cmpxchg", "cmpxchg_32", cmpxchg_32, K_CX, ALL, 0xffffffff },
    { "cmpxchg8b", "cmpxchg8b", cmpxchg8b, K_CX8, ALL, 0 },
    { "daa", "daa", daa, K_AL, ALL & ~OF, 0 }, { "das", "das", das, K_AL, ALL & ~OF, 0 },
    { "aaa", "aaa", aaa, K_AL, CF | AF, 0 }, { "aas", "aas", aas, K_AL, CF | AF, 0 },
    { "aam", "aam_10", aam_10, K_AL, SF | ZF | PF, 0 }, { "aam", "aam_16", aam_16, K_AL, SF | ZF | PF, 0 },
    { "aam", "aam_7", aam_7, K_AL, SF | ZF | PF, 0 }, { "aam", "aam_255", aam_255, K_AL, SF | ZF | PF, 0 },
    { "aad", "aad_10", aad_10, K_AL, SF | ZF | PF, 0 }, { "aad", "aad_16", aad_16, K_AL, SF | ZF | PF, 0 },
    { "aad", "aad_3", aad_3, K_AL, SF | ZF | PF, 0 }, { "aad", "aad_255", aad_255, K_AL, SF | ZF | PF, 0 },
    { "lahf", "lahf", lahf, K_CC, ALL, 0 }, { "lahf", "sahf", sahf, K_UN, ALL, 0 },
    { "salc", "salc", salc, K_CC, ALL, 0 },
    { "cbw", "cbw", cbw, K_MUL, ALL, 0 }, { "cbw", "cwde", cwde, K_MUL, ALL, 0 },
    { "cbw", "cwd", cwd, K_MUL, ALL, 0 }, { "cbw", "cdq", cdq, K_MUL, ALL, 0 },
    { "movx", "movsbw", movsbw, K_BIN, ALL, 0 }, { "movx", "movsbl", movsbl, K_BIN, ALL, 0 },
    { "movx", "movswl", movswl, K_BIN, ALL, 0 }, { "movx", "movzbw", movzbw, K_BIN, ALL, 0 },
    { "movx", "movzbl", movzbl, K_BIN, ALL, 0 }, { "movx", "movzwl", movzwl, K_BIN, ALL, 0 },
    { "movx", "movsbl_h", movsbl_h, K_BIN, ALL, 0 },
    { "lea", "lea_sib", lea_sib, K_BIN, ALL, 0 }, { "lea", "lea_sib8", lea_sib8, K_BIN, ALL, 0 },
    { "lea", "lea_idx", lea_idx, K_BIN, ALL, 0 }, { "lea", "lea_d32", lea_d32, K_BIN, ALL, 0 },
    { "lea", "lea_a16", lea_a16, K_BIN, ALL, 0 }, { "lea", "lea_a16w", lea_a16w, K_BIN, ALL, 0 },
    { "lea", "lea_a16b", lea_a16b, K_BIN, ALL, 0 }, { "lea", "lea_o16a32", lea_o16a32, K_BIN, ALL, 0 },
    CC_LIST(CC_T)
    { "loop", "loop", loop, K_LOOP, ALL, 0 }, { "loop", "loope", loope, K_LOOP, ALL, 0 },
    { "loop", "loopne", loopne, K_LOOP, ALL, 0 }, { "loop", "jecxz", jecxz, K_LOOP, ALL, 0 },
    { "loop", "loop_a16", loop_a16, K_LOOP, ALL, 0 }, { "loop", "jcxz", jcxz, K_LOOP, ALL, 0 },
};

/* ---- operands ---- */
static const u32 edge[] = {
    0, 1, 2, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000,
    0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff,
};
#define NEDGE (sizeof edge / sizeof edge[0])
#define NRAND 14
#define NV (NEDGE + NRAND)
static u32 vals[NV];
static const u32 counts[] = { 0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 18, 24, 31, 32, 33, 63, 255 };
#define NCOUNTS (sizeof counts / sizeof counts[0])
static const u32 fins[] = { 0, ALL };

static u32 rng = 0x2545F491;
static u32 xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static u32 hash;
static u32 ncases;
static const char *detail; /* group whose cases are printed */

static void mix(u32 v)
{
    for (int i = 0; i < 4; i++) {
        hash ^= v & 0xff;
        hash *= 0x01000193;
        v >>= 8;
    }
}

static void run1(const struct test *t, u32 a, u32 b, u32 c, u32 d, u32 fin, u32 fmask)
{
    regs_t R = { a, b, c, d };
    u32 fo;
    t->k(&R, fin, &fo);
    fo &= fmask;
    mix(R.a), mix(R.b), mix(R.c), mix(R.d), mix(fo);
    if (t->kind == K_BTM)
        for (int i = 0; i < 16; i++)
            mix(bitbuf[i]);
    ncases++;
    if (detail && !strcmp(detail, t->group))
        kprintf("  %s a=%08x b=%08x c=%08x d=%08x f=%03x -> %08x %08x %08x %08x f=%03x\n", t->name,
                a, b, c, d, fin, R.a, R.b, R.c, R.d, fo);
}

static u32 shift_mask(int dig, int size, u32 cnt)
{
    u32 c = cnt & 31, m;
    if (c == 0)
        return ALL; /* flags unaffected */
    if (dig <= 3)
        return c == 1 ? ALL : ALL & ~OF; /* rotates: only CF, OF change */
    m = ALL & ~AF;
    if (c != 1)
        m &= ~OF;
    if (dig != 7 && c >= (u32)size)
        m &= ~CF; /* SHL/SHR by >= size: CF undefined */
    return m;
}

/* Would DIV/IDIV of d:a (size bits each half) by b raise #DE? */
static int div_ok(int size, int sgn, u32 a, u32 b, u32 d)
{
    u64 mask = size == 32 ? 0xffffffffull : (1ull << size) - 1;
    u64 dividend, divisor = b & mask;
    if (!divisor)
        return 0;
    if (size == 8)
        dividend = a & 0xffff;
    else
        dividend = ((u64)(d & mask) << size) | (a & mask);
    if (!sgn)
        return dividend / divisor <= mask;
    /* signed: sign-extend both from 2*size and size bits */
    s64 sd = size == 32 ? (s64)dividend : (s64)(dividend << (64 - 2 * size)) >> (64 - 2 * size);
    s64 sv = (s64)(divisor << (64 - size)) >> (64 - size);
    s64 lim = (s64)1 << (size - 1);
    if (sv == -1)
        return sd > -lim && sd <= lim; /* the quotient -sd must fit */
    s64 q = sd / sv;
    return q >= -lim && q < lim;
}

static void run_test(const struct test *t)
{
    u32 i, j, k, fi;
    int size = (t->arg >> 8) & 0xff, dig = t->arg & 0xff;
    switch (t->kind) {
    case K_BIN:
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (fi = 0; fi < 2; fi++)
                    run1(t, vals[i], vals[j], vals[(i + j) % NV], 0, fins[fi], t->fmask);
        break;
    case K_UN:
        for (i = 0; i < NV; i++)
            for (fi = 0; fi < 2; fi++)
                run1(t, vals[i], vals[NV - 1 - i], 0, 0, fins[fi], t->fmask);
        break;
    case K_SHIFT:
        for (i = 0; i < NV; i++)
            for (k = 0; k < NCOUNTS; k++)
                for (fi = 0; fi < 2; fi++) {
                    u32 cnt = (t->arg & IMM) ? (t->arg >> 16) & 0xff : counts[k];
                    if ((t->arg & IMM) && k)
                        break;
                    run1(t, vals[i], 0, counts[k] | (vals[k] & 0xffffff00), 0, fins[fi],
                         shift_mask(dig, size, cnt));
                }
        break;
    case K_SHD:
        size = t->arg & 0xff;
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j += 3)
                for (k = 0; k < NCOUNTS; k++)
                    for (fi = 0; fi < 2; fi++) {
                        u32 cnt = ((t->arg & IMM) ? (t->arg >> 16) : counts[k]) & 31, m;
                        if ((t->arg & IMM) && k)
                            break;
                        if (size == 16 && cnt > 16)
                            continue; /* result undefined */
                        m = cnt == 0 ? ALL : cnt == 1 ? ALL & ~AF : ALL & ~AF & ~OF;
                        run1(t, vals[i], vals[j], counts[k], 0, fins[fi], m);
                    }
        break;
    case K_MUL:
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (fi = 0; fi < 2; fi++)
                    run1(t, vals[i], vals[j], 0, vals[(i * 7 + j) % NV], fins[fi], t->fmask);
        break;
    case K_DIV:
        size = t->arg & 0xf8;
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (k = 0; k < 4; k++) {
                    u32 a = vals[i], b = vals[j], d = vals[(i * 5 + j) % NV];
                    u32 m = size == 32 ? 0xffffffff : (1u << size) - 1, bm = b & m;
                    u32 hi = k == 0 ? d : k == 1 ? 0 : k == 2 ? ((a >> (size - 1)) & 1 ? m : 0)
                                                             : bm ? vals[(i + 3) % NV] % bm : 0;
                    /* the high half of the dividend: AH for 8-bit, DX/EDX otherwise */
                    if (size == 8)
                        a = (a & ~0xff00u) | ((hi & 0xff) << 8);
                    else
                        d = (d & ~m) | (hi & m);
                    if (!div_ok(size, t->arg & 1, a, b, d))
                        continue;
                    run1(t, a, b, 0, d, fins[k & 1], t->fmask);
                }
        break;
    case K_BTM:
        for (j = 0; j < NV; j++)
            for (fi = 0; fi < 2; fi++) {
                u32 off = (vals[j] % 512) - 256; /* bits -256..255 around bitbuf[8] */
                for (k = 0; k < 16; k++)
                    bitbuf[k] = vals[(j + k) % NV] ^ (k * 0x11111111);
                run1(t, 0, off, 0, 0, fins[fi], t->fmask);
                run1(t, 0, vals[j] & 0x1f, 0, 0, fins[fi], t->fmask);
            }
        break;
    case K_BS:
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (fi = 0; fi < 2; fi++)
                    if (vals[j] & (size == 16 ? 0xffff : 0xffffffff))
                        run1(t, vals[i], vals[j], 0, 0, fins[fi], t->fmask);
        break;
    case K_CX:
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (fi = 0; fi < 2; fi++) {
                    run1(t, vals[i], vals[j], vals[i] ^ (vals[j] & ~t->arg), 0, fins[fi], t->fmask);
                    run1(t, vals[i], vals[j], vals[(i + j + 1) % NV], 0, fins[fi], t->fmask);
                }
        break;
    case K_CX8:
        for (i = 0; i < NV; i++)
            for (j = 0; j < NV; j++)
                for (fi = 0; fi < 2; fi++) {
                    run1(t, vals[i], vals[j], vals[i], vals[j], fins[fi], t->fmask);
                    run1(t, vals[i], vals[j], vals[i], vals[(j + 1) % NV], fins[fi], t->fmask);
                    run1(t, vals[i], vals[j], vals[(i + 1) % NV], vals[j], fins[fi], t->fmask);
                }
        break;
    case K_AL: {
        static const u32 bcdf[] = { 0, CF, AF, CF | AF, ALL };
        static const u32 ah[] = { 0x1200, 0xff00, 0x0900, 0x7f00 };
        for (i = 0; i < 256; i++)
            for (j = 0; j < 4; j++)
                for (fi = 0; fi < 5; fi++)
                    run1(t, (vals[i % NV] & 0xffff0000) | ah[j] | i, 0, 0, vals[(i + j) % NV],
                         bcdf[fi], t->fmask);
        break;
    }
    case K_CC:
        for (fi = 0; fi < 64; fi++) {
            u32 f = (fi & 1 ? CF : 0) | (fi & 2 ? PF : 0) | (fi & 4 ? AF : 0) | (fi & 8 ? ZF : 0) |
                    (fi & 16 ? SF : 0) | (fi & 32 ? OF : 0);
            run1(t, 0x12345678, 0x9abcdef0, 0, 0x55aa55aa, f, t->fmask);
        }
        break;
    case K_LOOP: {
        static const u32 cx[] = { 0, 1, 2, 0x10000, 0x10001, 0xffffffff, 0x12340000 };
        for (i = 0; i < sizeof cx / sizeof cx[0]; i++)
            for (fi = 0; fi < 2; fi++)
                run1(t, 0, 0, cx[i], 0, fins[fi], t->fmask);
        break;
    }
    }
}

static void alu_run(const char *only)
{
    u32 i;
    detail = only;
    for (i = 0; i < NEDGE; i++)
        vals[i] = edge[i];
    for (; i < NV; i++)
        vals[i] = xorshift();
    kprintf("alu: %u operands, %u kernels\n", (u32)NV, (u32)(sizeof tests / sizeof tests[0]));
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const struct test *t = &tests[i];
        if (i == 0 || strcmp(t->group, tests[i - 1].group)) {
            hash = 0x811c9dc5;
            ncases = 0;
        }
        run_test(t);
        if (i + 1 == sizeof tests / sizeof tests[0] || strcmp(t->group, tests[i + 1].group))
            kprintf("%s n=%u h=%08x\n", t->group, ncases, hash);
    }
}

#if NATIVE
int main(int argc, char **argv)
{
    alu_run(argc > 1 ? argv[1] : 0);
    printf("PASS alu\n");
    return 0;
}
#else
void test_main(void)
{
    static char buf[32];
    alu_run(cmdline_get("alu", buf, sizeof buf) ? buf : 0);
    /* PASS is printed by the runtime; the comparison with the native output decides. */
}
#endif
