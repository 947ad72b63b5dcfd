/*
 * gen.h — random instruction sequences for the differential tester, built
 * from the opcode table (cpu/opcodes.def), and their assembly into a code
 * image with the per-instruction "undefined arithmetic flags" analysis.
 *
 * A sequence is a list of units.  A unit is one instruction under test plus
 * whatever set-up it needs to be valid and deterministic — base registers
 * loaded so a memory operand lands in the data buffer, ECX bounded before a
 * REP string instruction, a CMP before a reader of flags the SDM leaves
 * undefined at that point — so the minimizer can drop whole units and still
 * have a sequence that means the same thing.  Branches (forward only) name a
 * target unit; removing the target retargets them to the next unit kept.
 */
#ifndef UMBRA_DT_GEN_H
#define UMBRA_DT_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "dt_shared.h"

#define DT_MAX_UNITS 48
#define DT_UNIT_INSNS 8
#define DT_MAX_INSNS (DT_MAX_UNITS * DT_UNIT_INSNS + 1)

/* Arithmetic flags as EFLAGS bits. */
#define DT_FLAGS 0x08d5u

enum dt_fix { FIX_NONE, FIX_REL8, FIX_REL32, FIX_ABS32 };
enum dt_edge { EDGE_NONE, EDGE_COND, EDGE_ALWAYS };

struct dt_insn {
    uint8_t b[15];
    uint8_t len;
    uint8_t fix;       /* enum dt_fix: field at b[fix_at] refers to fix_target */
    uint8_t fix_at;
    uint8_t edge;      /* enum dt_edge: control may go to edge_target */
    bool stop;         /* control never falls through (jmp, ret, int3) */
    int16_t fix_target; /* unit index */
    int8_t fix_insn;    /* >= 0: that instruction of the unit instead of its start */
    uint8_t fix_add;    /* bytes added to the target address (ABS32) */
    int16_t edge_target;
    uint16_t reads;    /* arithmetic flags read */
    uint16_t def;      /* flags certainly given a defined value */
    uint16_t undef;    /* flags possibly left undefined */
};

struct dt_unit {
    uint8_t n;
    bool uses_low; /* touches the LOW (16-bit addressing) buffer */
    uint8_t ign_len; /* bytes at ign_addr not compared: host-dependent stores */
    uint32_t ign_addr;
    struct dt_insn in[DT_UNIT_INSNS];
};

struct dt_gen_opts {
    bool low_ok;   /* 16-bit addressing may be generated */
    bool no_x87;   /* integer instructions only */
    bool no_int;   /* x87 instructions only (with their set-up) */
    int max_units; /* sequence length bound */
};

struct dt_seq {
    uint64_t state_seed; /* initial registers, flags, x87 state, buffers */
    uint32_t code_addr;  /* where the code starts (sometimes just below a page end) */
    int nunits;
    struct dt_unit u[DT_MAX_UNITS];
};

/* An assembled sequence: the code image (always ending in UD2) and, per
 * instruction start, the flags that may be undefined when execution reaches
 * it; entry `ninsn` is the final UD2. */
struct dt_prog {
    uint8_t code[DT_CODE_MAX];
    uint32_t len;
    uint32_t base; /* its address */
    int ninsn;
    uint32_t addr[DT_MAX_INSNS];
    uint16_t undef_at[DT_MAX_INSNS];
    bool uses_low;
    int nign; /* memory not compared (x87 environment pointers) */
    uint32_t ign_addr[DT_MAX_UNITS];
    uint8_t ign_len[DT_MAX_UNITS];
    bool valid; /* false: a flag reader would see an undefined flag, or a
                 * branch no longer reaches (minimizer candidates only) */
};

/* Initial state for a sequence (deterministic in the seed). */
void dt_gen_state(uint64_t seed, struct dt_state *st, uint8_t *data, uint8_t *low);
/* A random sequence. */
void dt_gen_seq(uint64_t seed, const struct dt_gen_opts *o, struct dt_seq *s);
/* Assemble the units with keep[u] set (all if keep is NULL). */
void dt_assemble(const struct dt_seq *s, const bool *keep, struct dt_prog *p);
/* A raw code image (a reproducer): every flag is defined except `undef`. */
void dt_prog_from_bytes(const uint8_t *code, uint32_t len, uint32_t base, uint16_t undef,
                        bool uses_low, struct dt_prog *p);
/* Flags possibly undefined when execution stops at `eip` (all of them if
 * eip is no instruction start). */
uint16_t dt_undef_at(const struct dt_prog *p, uint32_t eip);

#endif
