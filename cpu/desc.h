/*
 * desc.h — private helpers of the protection half of the core (seg.c, intr.c,
 * task.c, sys.c): decoding of segment/gate/TSS descriptors (SDM vol. 3
 * §3.4.5, §5.8, §6.11, §7.2), and a small "stack frame builder".
 *
 * Design choice: far calls, interrupt delivery, IRET and task switches must
 * leave no trace when they fault (precise exceptions), and they often push on
 * a stack that is not yet SS (the inner stack of a privilege change).  So they
 * do not use cpu_push(): they describe the target stack in a struct
 * prot_stack, check the whole frame first (segment limit and page
 * permissions), then write it, and only then commit SS:ESP and the other
 * registers.
 *
 * A segment register loaded with a null selector in protected mode is
 * "unusable": flags == 0 (P clear), base 0, limit 0.
 */
#ifndef UMBRA_CPU_DESC_H
#define UMBRA_CPU_DESC_H

#include "cpu/cpu_internal.h"

/* Fields of a descriptor's high dword. */
#define DESC_TYPE(hi) (((hi) >> 8) & 0xfu)
#define DESC_S(hi) (((hi) >> 12) & 1u)
#define DESC_DPL(hi) (((hi) >> 13) & 3u)
#define DESC_P(hi) (((hi) >> 15) & 1u)
#define DESC_DB(hi) (((hi) >> 22) & 1u)

/* Type bits of code/data segments (S = 1). */
#define DT_ACCESSED 0x1u
#define DT_WRITABLE 0x2u   /* data */
#define DT_READABLE 0x2u   /* code */
#define DT_EXPDOWN 0x4u    /* data */
#define DT_CONFORMING 0x4u /* code */
#define DT_CODE 0x8u

/* System descriptor types (S = 0). */
enum {
    SYS_TSS16_AVAIL = 1,
    SYS_LDT = 2,
    SYS_TSS16_BUSY = 3,
    SYS_CALLGATE16 = 4,
    SYS_TASKGATE = 5,
    SYS_INTGATE16 = 6,
    SYS_TRAPGATE16 = 7,
    SYS_TSS32_AVAIL = 9,
    SYS_TSS32_BUSY = 11,
    SYS_CALLGATE32 = 12,
    SYS_INTGATE32 = 14,
    SYS_TRAPGATE32 = 15,
};
#define SYS_TSS_BUSY_BIT 0x2u

/* Segment cache flags of the flat segments SYSENTER/SYSEXIT and the
 * real/v86 loads synthesize (bits 8..23 of a descriptor's high dword). */
#define SEGFL_P 0x8000u
#define SEGFL_S 0x1000u
#define SEGFL_DB 0x400000u
#define SEGFL_G 0x800000u

static inline uint32_t desc_base(uint32_t lo, uint32_t hi)
{
    return (lo >> 16) | ((hi & 0xffu) << 16) | (hi & 0xff000000u);
}
static inline uint32_t desc_limit(uint32_t lo, uint32_t hi)
{
    uint32_t l = (lo & 0xffffu) | (hi & 0x000f0000u);
    return (hi & SEGFL_G) ? (l << 12) | 0xfffu : l;
}
static inline bool desc_is_code(uint32_t hi)
{
    return DESC_S(hi) && (DESC_TYPE(hi) & DT_CODE);
}
static inline bool desc_is_data(uint32_t hi)
{
    return DESC_S(hi) && !(DESC_TYPE(hi) & DT_CODE);
}
static inline bool desc_conforming(uint32_t hi)
{
    return desc_is_code(hi) && (DESC_TYPE(hi) & DT_CONFORMING);
}
static inline bool desc_readable(uint32_t hi)
{
    return desc_is_data(hi) || (desc_is_code(hi) && (DESC_TYPE(hi) & DT_READABLE));
}
static inline bool desc_writable(uint32_t hi)
{
    return desc_is_data(hi) && (DESC_TYPE(hi) & DT_WRITABLE);
}
static inline bool desc_is_tss(uint32_t hi)
{
    unsigned t = DESC_TYPE(hi);
    return !DESC_S(hi) && (t == SYS_TSS16_AVAIL || t == SYS_TSS16_BUSY || t == SYS_TSS32_AVAIL ||
                           t == SYS_TSS32_BUSY);
}
/* Gate fields. */
static inline uint16_t gate_sel(uint32_t lo)
{
    return (uint16_t)(lo >> 16);
}
static inline uint32_t gate_offset(uint32_t lo, uint32_t hi)
{
    return (lo & 0xffffu) | (hi & 0xffff0000u);
}

/* Faults with a selector error code: the RPL bits are replaced by EXT / IDT
 * / TI as the SDM's error-code format (§6.13) says. */
static inline uint32_t sel_err(uint16_t sel)
{
    return sel & 0xfffcu;
}

void prot_seg_from_desc(struct segment *s, uint16_t sel, uint32_t lo, uint32_t hi);
/* Mark segment `seg` unusable (a null selector in protected mode). */
void prot_seg_null(struct cpu *cpu, int seg, uint16_t sel);
/* v86-mode load: base sel<<4, limit 64K, DPL 3. */
void prot_load_v86(struct cpu *cpu, int seg, uint16_t sel);
/* Set the accessed bit (data/code) or the busy bit (TSS) in the in-memory
 * descriptor of `sel`, as the processor's locked descriptor update does. */
void prot_set_accessed(struct cpu *cpu, uint16_t sel, uint32_t hi);
void prot_set_tss_busy(struct cpu *cpu, uint16_t sel, bool busy);
/* Read a descriptor through the GDT/LDT, raising `vec`(sel | ext) when the
 * selector is beyond the table limit. */
void prot_fetch_desc(struct cpu *cpu, uint16_t sel, uint32_t *lo, uint32_t *hi, int vec,
                     uint32_t ext);

/* Linear accesses with an explicit privilege (the pushes of a privilege
 * change are done at the new CPL, before CPL itself changes). */
uint32_t prot_lin_read(struct cpu *cpu, uint32_t lin, unsigned size, bool user);
void prot_lin_write(struct cpu *cpu, uint32_t lin, uint32_t v, unsigned size, bool user);

/* Is [off, off+size) inside the segment (expand-up or expand-down)? */
bool prot_seg_limit_ok(const struct segment *s, uint32_t off, unsigned size);

struct prot_stack {
    struct segment ss;
    uint32_t esp;  /* full ESP; only the low 16 bits move when !B */
    uint32_t mask; /* 0xffff or 0xffffffff (SS.B) */
    bool user;     /* accessed with user privilege (CPL 3) */
    int vec;       /* fault raised on a limit violation (#SS), its error code */
    uint32_t err;
};
void prot_stack_init(struct prot_stack *st, const struct segment *ss, uint32_t esp, unsigned cpl,
                     uint32_t err);
/* Check that `n` pushes of `size` bytes fit: limit (#SS(err)) and pages. */
void prot_stack_check_push(struct cpu *cpu, struct prot_stack *st, unsigned n, unsigned size);
/* Push after a successful check (cannot fault). */
void prot_stack_push(struct cpu *cpu, struct prot_stack *st, unsigned size, uint32_t v);
/* Read the slot at ESP + delta (limit-checked, #SS(err)); does not move ESP. */
uint32_t prot_stack_read(struct cpu *cpu, struct prot_stack *st, uint32_t delta, unsigned size);
/* ESP after popping `n` bytes (wrapping inside SP when !B). */
static inline uint32_t prot_stack_pop_esp(const struct prot_stack *st, uint32_t n)
{
    return (st->esp & ~st->mask) | ((st->esp + n) & st->mask);
}

/* The inner stack pointer for privilege level `dpl` from the current TSS
 * (#TS(TR | ext) when the TSS is too short). */
void prot_tss_inner_stack(struct cpu *cpu, unsigned dpl, uint16_t *ss, uint32_t *esp, uint32_t ext);
/* Checks of a new SS on a privilege change (inner stack from the TSS, or an
 * outer one popped by RET/IRET): `gp` selects #GP instead of #TS for the
 * selector checks; a not-present segment raises #SS. */
void prot_check_new_ss(struct cpu *cpu, uint16_t sel, unsigned cpl, uint32_t *lo, uint32_t *hi,
                       bool gp, uint32_t ext);
/* After a return to an outer level: null the data segment registers the new
 * CPL may not use (SDM RET / IRET "return to outer privilege"). */
void prot_null_outer_segs(struct cpu *cpu);
/* Load CS from a checked code descriptor with RPL = cpl, and set CPL. */
void prot_load_cs(struct cpu *cpu, uint16_t sel, uint32_t lo, uint32_t hi, unsigned cpl);
/* EFLAGS as IRET/POPF leave it: `mask` are the bits the image may change. */
void prot_write_eflags(struct cpu *cpu, uint32_t image, uint32_t mask);

#endif
