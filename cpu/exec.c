/*
 * exec.c — the block cache and the run loop.
 *
 * A block is a run of decoded instructions cached by the host address of
 * its first byte (identical host bytes ⇔ identical guest-physical bytes, so
 * the key is exact and the soft TLB's fetch entry gives it for the price of
 * a compare) plus the decode-mode bits (CS.D, PE, VM).  Blocks are
 * superblocks: a conditional branch inside one is a side exit (execution
 * goes on along the fall-through path), and in 32-bit code a direct JMP or
 * CALL whose target lies in the same page is followed.  Blocks end at any
 * other control transfer or instruction marked D_END, before an
 * instruction in another page, and at BLOCK_MAX instructions; an
 * instruction that straddles two pages always forms a block of its own so
 * its fetch faults are raised with EIP at it.  Every page a block was
 * decoded from is write-tracked (mmu_track_code); a store there calls
 * cpu_code_write(), which drops the blocks whose byte range overlaps.  If
 * the running block is among them it is kept alive as a zombie until the
 * dispatch loop — which re-reads the loop bound bc->run_end after every
 * instruction — has left it, so self-modifying code takes effect from the
 * very next instruction.
 *
 * Chaining: each exit of a block (fall-through, branch taken, side exits,
 * and a small target cache for near RET / indirect CALL and JMP) remembers
 * its successor in the same page, validated by EIP, CS base and a
 * generation bumped whenever any block is freed, so most block transitions
 * cost a few compares and no lookup.
 *
 * Faults: cpu_fault() longjmps to cpu->exc_jmp with 1 (deliver the
 * exception, SDM Vol. 3 §6) or 2 (triple fault); cpu_run then counts the
 * instructions of the block that retired before the faulting one.
 * Interrupts, NMI, exit requests and the budget are checked between blocks
 * (one word, cpu->attn, summarises the asynchronous inputs); after STI /
 * MOV SS (inhibit_irq) and while EFLAGS.TF is set the loop runs one
 * instruction at a time (TF: a #DB trap after each, SDM Vol. 3 §17.3.1.4).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpu/ops.h"

#define BLOCK_MAX 64
#define HASH_BITS 14
#define PAGE_HASH_BITS 10
#define NO_PAGE 0xffffffffu

/* A successor remembered by a block: valid while the cache generation is
 * unchanged (no block was freed since) and EIP and the CS base match. */
struct link {
    struct block *b;
    uint32_t eip, base, gen;
};

/* How a block's successors are chained (see run_blocks). */
enum { CHAIN_NONE, CHAIN_DIRECT, CHAIN_INDIRECT };
#define NLINKS 4
#define MAX_SIDE 3
#define MAX_FOLLOW 2

struct block {
    struct block *hnext;    /* lookup hash chain */
    struct block *pnext[2]; /* per-page chains: first page, second page */
    struct block *znext;    /* zombie list */
    uint64_t key, key2;     /* host address of the first byte / of page 2 (0: none) */
    uint32_t mode;
    uint32_t page[2];       /* GPA pages (page[1] NO_PAGE unless straddling) */
    uint32_t gpa_lo, gpa_hi; /* GPA byte range in page[0]: [lo, hi) */
    uint32_t gpa2_hi;       /* bytes in page[1]: [page[1], gpa2_hi) */
    /* Chaining to successors in the same page.  CHAIN_DIRECT (a relative
     * branch or a fall-through): link[0] taken, link[1] fall-through.
     * CHAIN_INDIRECT (near RET, CALL/JMP r/m): link[] is a tiny
     * direct-mapped cache of recent targets, indexed by link_slot(). */
    struct link link[NLINKS];
    /* Side exits: conditional branches inside the block (see block_build);
     * side[k] links the target of the one at insns[side_at[k]]. */
    struct link side[MAX_SIDE];
    uint8_t side_at[MAX_SIDE];
    uint8_t nside;
    uint32_t end_off;  /* fall-through EIP of the last instruction - start EIP */
    uint8_t chain;
    bool dead;
    unsigned ninsn;
    const struct insn *end; /* insns + ninsn: the dispatch loop's bound */
    insn_fn *real;          /* real[k]: the handler sync_call runs for insns[k] */
    struct insn insns[];
};

/* Indirect targets are mostly function entries and return addresses; the
 * low 4 bits of 16-byte-aligned entries carry nothing, so fold the next. */
static inline unsigned link_slot(uint32_t eip) { return ((eip >> 4) ^ (eip >> 6)) & (NLINKS - 1); }

struct page_ent {
    struct page_ent *next;
    uint32_t page;
    struct block *head;
};

#define JC_BITS 12
struct jc_ent {
    uint64_t key;
    uint32_t mode;
    struct block *b;
};

struct cpu_block_cache {
    struct jc_ent jc[1u << JC_BITS]; /* direct-mapped front of the hash */
    struct block *hash[1u << HASH_BITS];
    struct page_ent *pages[1u << PAGE_HASH_BITS];
    struct block *running;
    struct block *zombies;
    uintptr_t run_end; /* dispatch loop bound; 0 ends the running block */
    uint32_t run_eip0; /* EIP at the start of the running block */
    uint32_t gen;      /* bumped whenever a block is freed (links die); never 0 */
    uint32_t find_lin; /* linear address of the last block_find */
    unsigned nblocks;
};

/* A fresh link (all zero) must never look valid, so gen skips 0. */
static inline void gen_bump(struct cpu_block_cache *bc)
{
    if (++bc->gen == 0)
        bc->gen = 1;
}

static inline unsigned hash_key(uint64_t key, uint32_t mode)
{
    uint64_t h = (key ^ ((uint64_t)mode << 40)) * 0x9e3779b97f4a7c15ull;
    return (unsigned)(h >> (64 - HASH_BITS));
}
static inline unsigned hash_page(uint32_t page)
{
    return ((page >> PAGE_SHIFT) * 2654435761u) >> (32 - PAGE_HASH_BITS);
}

static struct page_ent *page_find(struct cpu_block_cache *bc, uint32_t page, bool create)
{
    struct page_ent **pp = &bc->pages[hash_page(page)];
    for (struct page_ent *p = *pp; p; p = p->next)
        if (p->page == page)
            return p;
    if (!create)
        return NULL;
    struct page_ent *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    p->page = page;
    p->next = *pp;
    *pp = p;
    return p;
}

static void page_drop_if_empty(struct cpu *cpu, uint32_t page)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct page_ent **pp = &bc->pages[hash_page(page)];
    for (; *pp; pp = &(*pp)->next) {
        struct page_ent *p = *pp;
        if (p->page == page) {
            if (p->head)
                return;
            *pp = p->next;
            free(p);
            mmu_untrack_code(cpu->mmu, page);
            return;
        }
    }
}

static inline struct jc_ent *jc_slot(struct cpu_block_cache *bc, uint64_t key)
{
    return &bc->jc[(key ^ (key >> JC_BITS)) & ((1u << JC_BITS) - 1)];
}

static void block_free(struct cpu *cpu, struct block *b)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct jc_ent *j = jc_slot(bc, b->key);
    if (j->b == b)
        j->b = NULL;
    gen_bump(bc);
    if (b == bc->running) {
        b->dead = true;
        b->znext = bc->zombies;
        bc->zombies = b;
        bc->run_end = 0;
    } else {
        free(b);
    }
}

/* Unlink b from the lookup hash and its page chains; free it (or zombie). */
static void block_remove(struct cpu *cpu, struct block *b)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct block **pp = &bc->hash[hash_key(b->key, b->mode)];
    for (; *pp; pp = &(*pp)->hnext)
        if (*pp == b) {
            *pp = b->hnext;
            break;
        }
    for (int k = 0; k < 2; k++) {
        if (b->page[k] == NO_PAGE)
            continue;
        struct page_ent *p = page_find(bc, b->page[k], false);
        if (!p)
            continue;
        struct block **q = &p->head;
        while (*q) {
            struct block *c = *q;
            int kk = c->page[0] == p->page ? 0 : 1;
            if (c == b) {
                *q = c->pnext[kk];
                break;
            }
            q = &c->pnext[kk];
        }
        page_drop_if_empty(cpu, b->page[k]);
    }
    bc->nblocks--;
    cpu->stats.block_invalidations++;
    block_free(cpu, b);
}

/* mmu->code_write: a store hit a page holding decoded code. */
static void cpu_code_write(void *opaque, uint32_t gpa, unsigned len)
{
    struct cpu *cpu = opaque;
    struct cpu_block_cache *bc = cpu->bc;
    uint32_t end = gpa + len;
    for (uint32_t page = gpa & PAGE_MASK; page < end || page == (gpa & PAGE_MASK);
         page += PAGE_SIZE) {
        struct page_ent *p = page_find(bc, page, false);
        if (p) {
            struct block *b = p->head;
            while (b) {
                int k = b->page[0] == page ? 0 : 1;
                struct block *next = b->pnext[k];
                uint32_t lo = k == 0 ? b->gpa_lo : b->page[1];
                uint32_t hi = k == 0 ? b->gpa_hi : b->gpa2_hi;
                if (gpa < hi && end > lo)
                    block_remove(cpu, b);
                b = next;
            }
        }
        if (page + PAGE_SIZE < page)
            break;
    }
}

void cpu_flush_blocks(struct cpu *cpu)
{
    struct cpu_block_cache *bc = cpu->bc;
    if (!bc)
        return;
    for (unsigned h = 0; h < (1u << HASH_BITS); h++) {
        struct block *b = bc->hash[h];
        bc->hash[h] = NULL;
        while (b) {
            struct block *n = b->hnext;
            block_free(cpu, b);
            b = n;
        }
    }
    for (unsigned h = 0; h < (1u << PAGE_HASH_BITS); h++) {
        struct page_ent *p = bc->pages[h];
        bc->pages[h] = NULL;
        while (p) {
            struct page_ent *n = p->next;
            mmu_untrack_code(cpu->mmu, p->page);
            free(p);
            p = n;
        }
    }
    bc->nblocks = 0;
    gen_bump(bc);
    memset(bc->jc, 0, sizeof bc->jc);
}

void cpu_end_block(struct cpu *cpu) { cpu->bc->run_end = 0; }

static void free_zombies(struct cpu_block_cache *bc)
{
    while (bc->zombies) {
        struct block *z = bc->zombies;
        bc->zombies = z->znext;
        free(z);
    }
}

int cpu_exec_init(struct cpu *cpu)
{
    cpu->bc = calloc(1, sizeof *cpu->bc);
    if (!cpu->bc)
        return -1;
    cpu->bc->gen = 1;
    cpu->mmu->code_write = cpu_code_write;
    cpu->mmu->code_opaque = cpu;
    return 0;
}

void cpu_exec_destroy(struct cpu *cpu)
{
    if (!cpu->bc)
        return;
    cpu->bc->running = NULL;
    cpu_flush_blocks(cpu);
    free_zombies(cpu->bc);
    free(cpu->bc);
    cpu->bc = NULL;
}

static inline uint32_t cur_mode(const struct cpu *cpu)
{
    uint32_t m = 0;
    if (cpu->cr0 & CR0_PE) {
        m |= 2;
        if (cpu->eflags & FL_VM)
            m |= 4;
        else if (SEGF_DB(cpu->seg[SEG_CS].flags))
            m |= 1;
    }
    return m;
}

/* Host address of the code byte at `lin` (0 with *gpa set for non-RAM). */
static inline uint64_t code_key(struct cpu *cpu, uint32_t lin, uint32_t *gpa)
{
    struct mmu *m = cpu->mmu;
    struct tlb_entry *e = mmu_tlb_entry(m, m->user, lin);
    if (LIKELY(e->tag_fetch == (lin & PAGE_MASK)))
        return (uint64_t)(uintptr_t)(lin + e->addend);
    (void)mmu_fetch8(m, lin); /* fills the TLB, or raises the fetch fault */
    e = mmu_tlb_entry(m, m->user, lin);
    if (e->tag_fetch == (lin & PAGE_MASK))
        return (uint64_t)(uintptr_t)(lin + e->addend);
    *gpa = mmu_translate(m, lin, MMU_FETCH, m->user);
    return (1ull << 63) | *gpa;
}


/*
 * Superblocks: a conditional branch does not end the block; execution goes
 * on along the fall-through path, and a taken branch leaves the block
 * through a side exit, which zeroes bc->run_end like any early exit.  So a
 * block has one entry and may have several exits; the instructions that ran
 * are still a prefix of insns[] (fault accounting relies on that).
 */
static inline bool is_jcc(const struct insn *i)
{
    return ((i->opcode & 0x1f0) == 0x070 || (i->opcode & 0x1f0) == 0x180) && i->fn != op_ud;
}

/* Direct JMP / CALL (rel8, rel16/32): a block may go on at the target. */
static inline bool is_direct_jump(const struct insn *i)
{
    return (i->opcode == 0xe8 || i->opcode == 0xe9 || i->opcode == 0xeb) && i->fn != op_ud;
}

static bool block_has(const uint32_t *at, unsigned n, uint32_t eip)
{
    for (unsigned k = 0; k < n; k++)
        if (at[k] == eip)
            return true;
    return false;
}

/* EIP of insns[k + 1] given that of insns[k]: the next instruction in
 * memory, or the target of a followed jump or call. */
static uint32_t block_next_eip(const struct block *b, unsigned k, uint32_t eip)
{
    const struct insn *i = &b->insns[k];
    eip += i->len;
    if (k + 1 < b->ninsn && is_direct_jump(i))
        eip += i->imm;
    return (b->mode & 1) ? eip : eip & 0xffff;
}

static void log_block(struct cpu *cpu, struct block *b, uint32_t eip)
{
    char line[128];
    CPU_LOG(cpu, LOG_EXEC, "IN: %04x:%08x (%u insns)\n", cpu->seg[SEG_CS].sel, eip, b->ninsn);
    for (unsigned k = 0; k < b->ninsn; k++) {
        insn_disasm(&b->insns[k], eip, line, sizeof line);
        CPU_LOG(cpu, LOG_EXEC, "%04x:%08x  %s\n", cpu->seg[SEG_CS].sel, eip, line);
        eip = block_next_eip(b, k, eip);
    }
}

#define SIDE_EXIT(n)                                                                         \
    static void side_jcc16_##n(struct cpu *cpu, const struct insn *i)                        \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n)) {                                                         \
            cpu->eip = (cpu->bc->run_eip0 + i->noff + i->imm) & 0xffff;                      \
            cpu->bc->run_end = 0;                                                            \
        }                                                                                    \
    }                                                                                        \
    static void side_jcc32_##n(struct cpu *cpu, const struct insn *i)                        \
    {                                                                                        \
        if (cond_eval(cpu, 0x##n)) {                                                         \
            cpu->eip = cpu->bc->run_eip0 + i->noff + i->imm;                                 \
            cpu->bc->run_end = 0;                                                            \
        }                                                                                    \
    }
SIDE_EXIT(0) SIDE_EXIT(1) SIDE_EXIT(2) SIDE_EXIT(3) SIDE_EXIT(4) SIDE_EXIT(5) SIDE_EXIT(6)
SIDE_EXIT(7) SIDE_EXIT(8) SIDE_EXIT(9) SIDE_EXIT(a) SIDE_EXIT(b) SIDE_EXIT(c) SIDE_EXIT(d)
SIDE_EXIT(e) SIDE_EXIT(f)
#define SIDE_ROW(w)                                                                          \
    { side_jcc##w##_0, side_jcc##w##_1, side_jcc##w##_2, side_jcc##w##_3, side_jcc##w##_4,   \
      side_jcc##w##_5, side_jcc##w##_6, side_jcc##w##_7, side_jcc##w##_8, side_jcc##w##_9,   \
      side_jcc##w##_a, side_jcc##w##_b, side_jcc##w##_c, side_jcc##w##_d, side_jcc##w##_e,   \
      side_jcc##w##_f }
static const insn_fn side_exit_fn[2][16] = { SIDE_ROW(16), SIDE_ROW(32) };

/* Whether a block ending with `last` may be chained: only if leaving it
 * changes nothing but EIP (so the successor's decode mode, CS base and
 * paging are those the block ran with, and no interrupt window opened). */
static uint8_t chain_kind(const struct insn *last)
{
    const struct op_row *row = insn_row(last);
    if (!(last->flags & INSN_F_ENDS_BLOCK) || (row->attr & D_BRANCH))
        return CHAIN_DIRECT;
    if (row->hs == &hs_ret || row->hs == &hs_ret_imm || row->hs == &hs_call_Ev ||
        row->hs == &hs_jmp_Ev)
        return CHAIN_INDIRECT;
    return CHAIN_NONE;
}

/*
 * Lazy EIP.  Inside a block the dispatch loop neither stores insn_eip nor
 * advances cpu->eip: it records the running insn in cpu->cur_insn, and
 * EIP is derived as run_eip0 + insn.noff where it is observed — by
 * cpu_fault (cpu_sync_insn_eip), after a block cut short, and before the
 * last instruction of every block.  An instruction in the middle of a
 * block whose handler reads or writes EIP (or may reach code that does)
 * runs through sync_call, which sets insn_eip and eip first.
 */
static bool insn_needs_eip(const struct insn *i)
{
    unsigned op = i->opcode;
    if ((i->flags & INSN_F_ENDS_BLOCK) || i->rep)
        return true;
    /* (x87 escapes derive FIP themselves: cpu_sync_insn_eip in fpu.c) */
    if ((op >= 0x6c && op <= 0x6f) || (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef))
        return true; /* I/O: device callbacks */
    if (op == 0x62 || (op >= 0xcc && op <= 0xcf) || op == 0xf1 || op == 0xf4)
        return true;
    if (op >= 0x100) {
        /* 0F: only the plain integer ones run without EIP */
        unsigned o = op & 0xff;
        if ((o >= 0x40 && o <= 0x4f) || (o >= 0x90 && o <= 0x9f) || (o >= 0xc8 && o <= 0xcf))
            return false;
        switch (o) {
        case 0xa3: case 0xa4: case 0xa5: case 0xab: case 0xac: case 0xad: case 0xaf:
        case 0xb0: case 0xb1: case 0xb3: case 0xb6: case 0xb7: case 0xba: case 0xbb:
        case 0xbc: case 0xbd: case 0xbe: case 0xbf: case 0xc0: case 0xc1:
            return false;
        default:
            return true;
        }
    }
    return false;
}

static void sync_call(struct cpu *cpu, const struct insn *i)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct block *b = bc->running;
    uint32_t e = bc->run_eip0 + i->noff;
    cpu->insn_eip = e - i->len;
    cpu->eip = e;
    cpu->cur_insn = NULL;
    b->real[i - b->insns](cpu, i);
}

/* A direct JMP / CALL (32-bit) that the block follows: its effect on EIP
 * is in the noff of the instructions after it, so in the middle of a block
 * it need not know EIP.  It still leaves cpu->eip at its target, as needed
 * when it runs as a block's last (single-step) or when the CALL's push
 * cuts the block short (a store into it). */
static void follow_jmp32(struct cpu *cpu, const struct insn *i)
{
    cpu->eip = cpu->bc->run_eip0 + i->noff + i->imm;
}
static void follow_call32(struct cpu *cpu, const struct insn *i)
{
    uint32_t e = cpu->bc->run_eip0 + i->noff;
    push32(cpu, e);
    cpu->eip = e + i->imm;
}

void cpu_sync_insn_eip(struct cpu *cpu)
{
    struct cpu_block_cache *bc = cpu->bc;
    const struct insn *i = cpu->cur_insn;
    if (bc && bc->running && i) {
        uint32_t e = bc->run_eip0 + i->noff;
        cpu->insn_eip = e - i->len;
        cpu->eip = e;
        cpu->cur_insn = NULL;
    }
}

static struct block *block_build(struct cpu *cpu, uint32_t lin, uint64_t key, uint32_t mode)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct mmu *m = cpu->mmu;
    struct insn buf[BLOCK_MAX];
    bool code32 = mode & 1;
    uint32_t wrap = code32 ? 0xffffffffu : 0xffffu;
    uint32_t base = cpu->seg[SEG_CS].base;
    uint32_t eip = cpu->eip, e = eip, bytes = 0;
    uint32_t at[BLOCK_MAX];              /* EIP of each instruction */
    uint32_t off_lo = lin & ~PAGE_MASK, off_hi = off_lo; /* bytes covered in the page */
    unsigned n = 0, nside = 0, nfollow = 0;
    bool straddle = false;

    for (;;) {
        if (!cpu_decode(cpu, e, code32, n == 0, &buf[n]))
            break;
        struct insn *i = &buf[n];
        at[n++] = e;
        uint32_t first = base + e, last = base + ((e + i->len - 1) & wrap);
        bytes += i->len;
        e = (e + i->len) & wrap;
        if ((last & PAGE_MASK) != (lin & PAGE_MASK)) {
            straddle = true;
            break;
        }
        if ((first & ~PAGE_MASK) < off_lo)
            off_lo = first & ~PAGE_MASK;
        if ((last & ~PAGE_MASK) + 1 > off_hi)
            off_hi = (last & ~PAGE_MASK) + 1;
        if (n == BLOCK_MAX)
            break;
        if (i->flags & INSN_F_ENDS_BLOCK) {
            if (is_jcc(i) && nside < MAX_SIDE) {
                nside++; /* continue on the fall-through path */
            } else if (code32 && is_direct_jump(i) && i->opsize == 4 && nfollow < MAX_FOLLOW &&
                       !block_has(at, n, e + i->imm)) {
                nfollow++; /* continue at the target */
                e += i->imm;
            } else {
                break;
            }
        }
        if (((base + e) & PAGE_MASK) != (lin & PAGE_MASK))
            break;
    }
    /* Every conditional branch but the last instruction becomes a side
     * exit; the direct jumps and calls before the last were followed. */
    uint8_t side_at[MAX_SIDE];
    insn_fn real[BLOCK_MAX];
    nside = 0;
    uint32_t off = 0; /* EIP of insns[k] - EIP at the start, as the handlers go */
    for (unsigned k = 0; k < n; k++) {
        struct insn *i = &buf[k];
        i->noff = off + i->len;
        i->idx = (uint8_t)k;
        off = i->noff;
        real[k] = NULL;
        if (k + 1 == n)
            break;
        if (is_direct_jump(i))
            off += i->imm; /* followed (32-bit operand size only) */
        if (is_jcc(i)) {
            i->fn = side_exit_fn[i->opsize == 4][i->opcode & 0xf];
            i->flags |= INSN_F_SYNC | INSN_F_SIDE;
            i->imm2 = nside; /* exit_link: its slot in side[] */
            side_at[nside++] = (uint8_t)k;
        } else if (is_direct_jump(i) && i->opsize == 4 && !i->rep && !i->lock) {
            /* SYNC: its store into this block (SMC) may cut it short */
            i->fn = i->opcode == 0xe8 ? follow_call32 : follow_jmp32;
            i->flags |= INSN_F_SYNC;
        } else if (insn_needs_eip(i)) {
            real[k] = i->fn;
            i->fn = sync_call;
            i->flags |= INSN_F_SYNC;
        }
        i->flags &= ~INSN_F_ENDS_BLOCK;
    }

    struct block *b = malloc(sizeof *b + n * sizeof(struct insn) + n * sizeof(insn_fn));
    if (!b)
        abort();
    b->real = (insn_fn *)(void *)(b->insns + n);
    memcpy(b->real, real, n * sizeof(insn_fn));
    memcpy(b->insns, buf, n * sizeof(struct insn));
    b->ninsn = n;
    b->key = key;
    b->mode = mode;
    b->dead = false;
    b->key2 = 0;
    memset(b->link, 0, sizeof b->link);
    /* fall-through EIP of the last instruction = start EIP + end_off */
    b->end_off = at[n - 1] + buf[n - 1].len - eip;
    b->end = b->insns + n;
    b->chain = straddle ? CHAIN_NONE : chain_kind(&b->insns[n - 1]);
    memset(b->side, 0, sizeof b->side);
    memcpy(b->side_at, side_at, nside);
    b->nside = (uint8_t)nside;
    uint32_t gpa = mmu_translate(m, lin, MMU_FETCH, m->user);
    b->page[0] = gpa & PAGE_MASK;
    b->page[1] = NO_PAGE;
    b->gpa_lo = b->page[0] + off_lo;
    b->gpa_hi = b->page[0] + off_hi;
    if (straddle) {
        uint32_t lin2 = (lin & PAGE_MASK) + PAGE_SIZE;
        uint32_t gpa2 = mmu_translate(m, lin2, MMU_FETCH, m->user);
        uint32_t dummy;
        b->gpa_hi = b->page[0] + PAGE_SIZE;
        b->page[1] = gpa2 & PAGE_MASK;
        b->gpa2_hi = b->page[1] + (bytes - (PAGE_SIZE - (lin & ~PAGE_MASK)));
        b->key2 = code_key(cpu, lin2, &dummy);
    }
    for (int k = 0; k < 2; k++) {
        if (b->page[k] == NO_PAGE)
            continue;
        struct page_ent *p = page_find(bc, b->page[k], true);
        if (!p->head)
            mmu_track_code(m, b->page[k]);
        b->pnext[k] = p->head;
        p->head = b;
    }
    unsigned h = hash_key(key, mode);
    b->hnext = bc->hash[h];
    bc->hash[h] = b;
    bc->nblocks++;
    cpu->stats.block_misses++;
    if (UNLIKELY(cpu->log_mask & LOG_EXEC))
        log_block(cpu, b, eip);
    return b;
}

static struct block *block_find(struct cpu *cpu)
{
    uint32_t mode = cur_mode(cpu);
    uint32_t eip = cpu->eip;
    if (!(mode & 1))
        eip &= 0xffff;
    cpu->eip = eip;
    uint32_t lin = cpu->seg[SEG_CS].base + eip;
    uint32_t gpa = 0;
    cpu->insn_eip = eip;
    cpu->bc->find_lin = lin;
    uint64_t key = code_key(cpu, lin, &gpa);
    struct jc_ent *j = jc_slot(cpu->bc, key);
    if (LIKELY(j->key == key && j->mode == mode && j->b && !j->b->key2)) {
        cpu->stats.block_hits++;
        return j->b;
    }
    for (struct block *b = cpu->bc->hash[hash_key(key, mode)]; b; b = b->hnext) {
        if (b->key == key && b->mode == mode) {
            if (b->key2) {
                uint32_t d;
                if (code_key(cpu, (lin & PAGE_MASK) + PAGE_SIZE, &d) != b->key2)
                    continue;
            }
            cpu->stats.block_hits++;
            j->key = key;
            j->mode = mode;
            j->b = b;
            return b;
        }
    }
    return block_build(cpu, lin, key, mode);
}

/* Run b (or only its first instruction); returns how many instructions ran.
 * The loop re-reads bc->run_end after every instruction because a store
 * into the running block (or cpu_end_block) zeroes it.  The instructions
 * before the last run with EIP stale (see insn_needs_eip); the last one
 * runs with insn_eip and eip set. */
static inline unsigned block_exec(struct cpu *cpu, struct block *b, bool one)
{
    struct cpu_block_cache *bc = cpu->bc;
    const struct insn *i = b->insns;
    const struct insn *last = one ? i : b->end - 1;
    uint32_t e0 = cpu->eip;
    bc->running = b;
    bc->run_eip0 = e0;
    bc->run_end = (uintptr_t)last;
    while ((uintptr_t)i < bc->run_end) {
        cpu->cur_insn = i;
        i->fn(cpu, i);
        i++;
    }
    /* (the barrier makes the test below read run_end again, so the loop
     * compares with memory instead of loading it into a register) */
    __asm__ volatile("" ::: "memory");
    if (LIKELY(bc->run_end != 0)) { /* i == last */
        uint32_t e = e0 + i->noff;
        cpu->insn_eip = e - i->len;
        cpu->eip = e;
        cpu->cur_insn = NULL;
        i->fn(cpu, i);
        bc->running = NULL;
        return one ? 1 : b->ninsn;
    } else {
        /* cut short (taken side exit, SMC, cpu_end_block) after i - 1 */
        const struct insn *j = i - 1;
        if (!(j->flags & INSN_F_SYNC))
            cpu->eip = e0 + j->noff;
        cpu->cur_insn = NULL;
    }
    bc->running = NULL;
    return (unsigned)i[-1].idx + 1;
}

static bool deliver_pending(struct cpu *cpu)
{
    if (cpu->inhibit_irq)
        return false;
    if (cpu->nmi_pending) {
        cpu->nmi_pending = false;
        cpu_attn_update(cpu);
        cpu->halted = false;
        cpu_deliver(cpu, EXC_NMI, INTR_NMI, false, 0);
        return true;
    }
    if (cpu->irq_line && (cpu->eflags & FL_IF) && cpu->intr.ack) {
        cpu->halted = false;
        uint8_t vec = cpu->intr.ack(cpu->intr.opaque);
        cpu_deliver(cpu, vec, INTR_EXTERNAL, false, 0);
        return true;
    }
    return false;
}

/* Instruction breakpoints (DR0-DR3 with R/W = 00 enabled in DR7): a fault
 * before the instruction, suppressed once by EFLAGS.RF (SDM Vol. 3 §17.3.1.1).
 * While any is enabled the loop runs one instruction at a time. */
static bool exec_breakpoint(struct cpu *cpu)
{
    if (cpu->eflags & FL_RF)
        return false;
    uint32_t lin = cpu->seg[SEG_CS].base + cpu->eip, dr7 = cpu->dr[7];
    for (int n = 0; n < 4; n++) {
        if (!((dr7 >> (2 * n)) & 3) || ((dr7 >> (16 + 4 * n)) & 3) != 0)
            continue;
        if (cpu->dr[n] == lin) {
            cpu->dr[6] = (cpu->dr[6] & ~0xfu) | (1u << n);
            cpu->insn_eip = cpu->eip;
            cpu_deliver(cpu, EXC_DB, INTR_EXCEPTION, false, 0);
            return true;
        }
    }
    return false;
}

/* The link slot for the way b was just left (it started at prev_eip and
 * ran n instructions), or NULL when that exit does not chain. */
static inline struct link *exit_link(struct cpu *cpu, struct block *b, unsigned n,
                                     uint32_t prev_eip)
{
    if (LIKELY(n == b->ninsn)) {
        if (b->chain == CHAIN_DIRECT)
            return &b->link[cpu->eip == prev_eip + b->end_off];
        if (b->chain == CHAIN_INDIRECT)
            return &b->link[link_slot(cpu->eip)];
        return NULL;
    }
    /* Left early: a taken side exit, or cut short (SMC, cpu_end_block). */
    const struct insn *j = &b->insns[n - 1];
    if (j->flags & INSN_F_SIDE)
        return &b->side[j->imm2];
    return NULL;
}

/* The block at CS:EIP reached through link slot l of the block that ran
 * from CS:prev_eip: the link when valid, else a cache lookup that refreshes
 * the link if the target lies in that block's page (a block in the same
 * linear page is reached through the same translation, so no paging change
 * can make the link stale without ending a block in a way that does not
 * chain; nor can CS change in a chaining exit). */
static inline struct block *block_next(struct cpu *cpu, struct link *l, uint32_t prev_eip)
{
    struct cpu_block_cache *bc = cpu->bc;
    uint32_t eip = cpu->eip, base = cpu->seg[SEG_CS].base;
    if (LIKELY(l->eip == eip && l->gen == bc->gen && l->base == base)) {
        cpu->stats.block_hits++;
        return l->b;
    }
    struct block *b = block_find(cpu);
    if (!b->key2 && ((bc->find_lin ^ (base + prev_eip)) & PAGE_MASK) == 0) {
        l->b = b;
        l->eip = cpu->eip;
        l->base = base;
        l->gen = bc->gen;
    }
    return b;
}

/* One instruction at a time, for the instruction after STI / MOV SS, while
 * EFLAGS.TF is set, while DR7 enables a breakpoint, and while RF is set (it
 * clears once the next instruction completes — IRET restores the RF=1 that
 * a fault pushed). */
static void step_one(struct cpu *cpu)
{
    bool tf = cpu->eflags & FL_TF;
    if (UNLIKELY(cpu->dr[7] & 0xff) && exec_breakpoint(cpu))
        return;
    struct block *b = block_find(cpu);
    cpu->inhibit_irq = false;
    cpu->dr_hits = 0;
    uint64_t nint = cpu->stats.interrupts;
    /* RF clears at the start of the instruction, after the breakpoint check;
     * an interrupted REP iteration sets it again */
    cpu->eflags &= ~FL_RF;
    block_exec(cpu, b, true);
    free_zombies(cpu->bc);
    cpu->budget--;
    cpu->stats.insns++;
    /* INT n / INT3 / INTO that delivered their interrupt (the only way the
     * count moves inside one instruction) clear TF for the handler and take
     * no single-step trap (measured: tests/difftest reproducers). */
    if (cpu->stats.interrupts != nint)
        tf = false;
    /* MOV SS / POP SS hold off debug exceptions for one more instruction
     * (SDM Vol. 3 §6.8.3): the step trap comes after the next one, which
     * this path runs too (TF is still set).  STI's shadow does not. */
    if (cpu->inhibit_irq && b->insns[0].opcode != 0xfb)
        tf = false;
    if (tf || cpu->dr_hits) {
        /* One #DB reports the single step and any data breakpoints. */
        cpu->dr[6] = (cpu->dr[6] & ~0xfu) | cpu->dr_hits | (tf ? 0x4000 : 0);
        cpu->dr_hits = 0;
        cpu_deliver(cpu, EXC_DB, INTR_EXCEPTION, false, 0);
    }
}

/*
 * The dispatch loop proper; kept out of cpu_run's frame (noinline) so no
 * local lives across the setjmp — inlined, the compiler would keep even
 * `cpu` in memory and reload it around every handler call.
 *
 * `next` is the link slot through which the block just run was left, or
 * NULL if that exit does not chain.  Per block the loop checks only the
 * budget and cpu->attn, which summarises the three inputs that can change
 * at any time (exit request, NMI, INTR).  The CPU's own conditions —
 * shutdown, HLT, the STI / MOV SS shadow, TF, DR7 breakpoints, and the
 * segment state cached in cpu->seg_flat — change only through instructions
 * that end a block without chaining, through event delivery, or across
 * cpu_run calls, so they are checked only when there is no `next`.
 */
static __attribute__((noinline)) enum cpu_exit run_blocks(struct cpu *cpu)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct link *next = NULL; /* how the last block was left, if it chains */
    uint32_t eip0 = 0;        /* where the last block started */
    cpu_attn_update(cpu); /* in case a caller set the fields directly */
    if (UNLIKELY(cpu->shutdown))
        return CPU_EXIT_SHUTDOWN;
    for (;;) {
        if (UNLIKELY(cpu->budget <= 0))
            return CPU_EXIT_BUDGET;
        if (UNLIKELY(cpu->attn)) {
            if (cpu->exit_request) {
                cpu->exit_request = 0;
                cpu_attn_update(cpu);
                return CPU_EXIT_REQUEST;
            }
            if (deliver_pending(cpu)) {
                next = NULL;
                if (UNLIKELY(cpu->shutdown))
                    return CPU_EXIT_SHUTDOWN;
            }
        }
        struct block *b;
        if (LIKELY(next != NULL)) {
            b = block_next(cpu, next, eip0);
        } else {
            cpu_seg_flat_update(cpu);
            if (UNLIKELY(cpu->shutdown))
                return CPU_EXIT_SHUTDOWN;
            if (UNLIKELY(cpu->halted))
                return CPU_EXIT_HALT;
            if (UNLIKELY(cpu->inhibit_irq || (cpu->eflags & (FL_TF | FL_RF)) ||
                         (cpu->dr[7] & 0xff))) {
                step_one(cpu);
                continue;
            }
            b = block_find(cpu);
        }
        eip0 = cpu->eip;
        cpu->stats.blocks_run++;
        unsigned n = block_exec(cpu, b, false);
        next = exit_link(cpu, b, n, eip0);
        if (UNLIKELY(bc->zombies != NULL)) {
            free_zombies(bc);
            next = NULL;
        }
        cpu->budget -= n;
        cpu->stats.insns += n;
    }
}

static __attribute__((noinline)) enum cpu_exit run_slice(struct cpu *cpu, int64_t budget)
{
    struct cpu_block_cache *bc = cpu->bc;
    cpu->budget = budget;
    int r = setjmp(cpu->exc_jmp);
    if (r) {
        /* the instructions of the block before the faulting one retired */
        struct block *b = bc->running;
        if (b) {
            uint32_t e = bc->run_eip0;
            unsigned k = 0;
            while (k < b->ninsn && e != cpu->eip) {
                e = block_next_eip(b, k, e);
                k++;
            }
            if (k < b->ninsn) {
                cpu->budget -= k;
                cpu->stats.insns += k;
            }
        }
        bc->running = NULL;
        cpu->cur_insn = NULL;
        free_zombies(bc);
        if (r == 2 || cpu->shutdown)
            return CPU_EXIT_SHUTDOWN;
        cpu->budget--; /* the fault itself makes progress against the budget */
        int v = cpu->fault_vector;
        cpu_deliver(cpu, v, INTR_EXCEPTION, cpu_exception_has_error(v), cpu->fault_error);
    }
    return run_blocks(cpu);
}

/* The guest's x87 state may live on the host x87 while blocks run (fpu.c);
 * outside cpu_run it is always back in cpu->fpu. */
enum cpu_exit cpu_run(struct cpu *cpu, int64_t budget)
{
    enum cpu_exit r = run_slice(cpu, budget);
    fpu_sync(&cpu->fpu);
    return r;
}
