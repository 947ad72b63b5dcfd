/*
 * exec.c — the block cache and the run loop.
 *
 * A block is a run of decoded instructions cached by the host address of
 * its first byte (identical host bytes ⇔ identical guest-physical bytes, so
 * the key is exact and the soft TLB's fetch entry gives it for the price of
 * a compare) plus the decode-mode bits (CS.D, PE, VM).  Blocks end at a
 * control transfer or any instruction marked D_END, before an instruction
 * in another page, and at BLOCK_MAX instructions; an instruction that
 * straddles two pages always forms a block of its own so its fetch faults
 * are raised with EIP at it.  Every page a block was decoded from is
 * write-tracked (mmu_track_code); a store there calls cpu_code_write(),
 * which drops the overlapping blocks.  If the running block is among them
 * it is kept alive as a zombie until the dispatch loop — which re-reads the
 * loop bound bc->run_end after every instruction — has left it, so
 * self-modifying code takes effect from the very next instruction.
 *
 * Faults: cpu_fault() longjmps to cpu->exc_jmp with 1 (deliver the
 * exception, SDM Vol. 3 §6) or 2 (triple fault).  Interrupts, NMI, exit
 * requests and the budget are checked between blocks; after STI / MOV SS
 * (inhibit_irq) and while EFLAGS.TF is set the loop runs one instruction at
 * a time (TF: a #DB trap after each, SDM Vol. 3 §17.3.1.4).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cpu/ops.h"

#define BLOCK_MAX 64
#define HASH_BITS 14
#define PAGE_HASH_BITS 10
#define NO_PAGE 0xffffffffu

struct block {
    struct block *hnext;    /* lookup hash chain */
    struct block *pnext[2]; /* per-page chains: first page, second page */
    struct block *znext;    /* zombie list */
    uint64_t key, key2;     /* host address of the first byte / of page 2 (0: none) */
    uint32_t mode;
    uint32_t page[2];       /* GPA pages (page[1] NO_PAGE unless straddling) */
    uint32_t gpa_lo, gpa_hi; /* GPA byte range in page[0]: [lo, hi) */
    uint32_t gpa2_hi;       /* bytes in page[1]: [page[1], gpa2_hi) */
    /* Chaining: successors in the same page reached by a near branch or
     * fall-through (slot 0 taken, 1 fall-through), valid while bc->gen and
     * the CS base are unchanged. */
    struct block *link[2];
    uint32_t link_eip[2], link_gen[2], link_base[2];
    uint32_t end_off;  /* byte length: fall-through EIP = start EIP + end_off */
    bool chainable;
    unsigned ninsn;
    bool dead;
    struct insn insns[];
};

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
    uint32_t gen;      /* bumped whenever a block is freed (links die) */
    uint32_t find_lin; /* linear address of the last block_find */
    unsigned nblocks;
};

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
    bc->gen++;
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
    bc->gen++;
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

static void log_block(struct cpu *cpu, struct block *b, uint32_t eip)
{
    char line[128];
    CPU_LOG(cpu, LOG_EXEC, "IN: %04x:%08x (%u insns)\n", cpu->seg[SEG_CS].sel, eip, b->ninsn);
    for (unsigned k = 0; k < b->ninsn; k++) {
        insn_disasm(&b->insns[k], eip, line, sizeof line);
        CPU_LOG(cpu, LOG_EXEC, "%04x:%08x  %s\n", cpu->seg[SEG_CS].sel, eip, line);
        eip += b->insns[k].len;
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
    unsigned n = 0;
    bool straddle = false;

    for (;;) {
        if (!cpu_decode(cpu, e, code32, n == 0, &buf[n]))
            break;
        struct insn *i = &buf[n++];
        uint32_t last = base + ((e + i->len - 1) & wrap);
        bytes += i->len;
        e = (e + i->len) & wrap;
        if ((last & PAGE_MASK) != (lin & PAGE_MASK)) {
            straddle = true;
            break;
        }
        if ((i->flags & INSN_F_ENDS_BLOCK) || n == BLOCK_MAX)
            break;
        if (((base + e) & PAGE_MASK) != (lin & PAGE_MASK))
            break;
    }

    struct block *b = malloc(sizeof *b + n * sizeof(struct insn));
    if (!b)
        abort();
    memcpy(b->insns, buf, n * sizeof(struct insn));
    b->ninsn = n;
    b->key = key;
    b->mode = mode;
    b->dead = false;
    b->key2 = 0;
    memset(b->link, 0, sizeof b->link);
    b->end_off = bytes;
    {
        const struct insn *last = &b->insns[n - 1];
        b->chainable = !straddle && ((insn_row(last)->attr & D_BRANCH) ||
                                     !(last->flags & INSN_F_ENDS_BLOCK));
    }
    uint32_t gpa = mmu_translate(m, lin, MMU_FETCH, m->user);
    b->page[0] = gpa & PAGE_MASK;
    b->page[1] = NO_PAGE;
    b->gpa_lo = gpa;
    b->gpa_hi = gpa + bytes;
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

/* Run up to `max` instructions of b; returns how many ran. */
static inline unsigned block_exec(struct cpu *cpu, struct block *b, unsigned max)
{
    struct cpu_block_cache *bc = cpu->bc;
    const struct insn *i = b->insns;
    bc->running = b;
    bc->run_eip0 = cpu->eip;
    bc->run_end = (uintptr_t)(b->insns + (max < b->ninsn ? max : b->ninsn));
    do {
        cpu->insn_eip = cpu->eip;
        cpu->eip += i->len;
        i->fn(cpu, i);
        i++;
    } while ((uintptr_t)i < bc->run_end);
    bc->running = NULL;
    return (unsigned)(i - b->insns);
}

static bool deliver_pending(struct cpu *cpu)
{
    if (cpu->inhibit_irq)
        return false;
    if (cpu->nmi_pending) {
        cpu->nmi_pending = false;
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

/* The dispatch loop proper; kept out of cpu_run's frame so no local lives
 * across the setjmp. */
static enum cpu_exit run_blocks(struct cpu *cpu)
{
    struct cpu_block_cache *bc = cpu->bc;
    struct block *prev = NULL;
    uint32_t prev_eip = 0, prev_gen = 0;
    for (;;) {
        if (UNLIKELY(cpu->shutdown))
            return CPU_EXIT_SHUTDOWN;
        if (cpu->budget <= 0)
            return CPU_EXIT_BUDGET;
        if (UNLIKELY(cpu->exit_request)) {
            cpu->exit_request = 0;
            return CPU_EXIT_REQUEST;
        }
        if (UNLIKELY(cpu->nmi_pending || cpu->irq_line))
            if (deliver_pending(cpu))
                prev = NULL;
        if (UNLIKELY(cpu->halted))
            return CPU_EXIT_HALT;
        if (UNLIKELY(cpu->inhibit_irq || (cpu->eflags & FL_TF) || (cpu->dr[7] & 0xff))) {
            bool tf = cpu->eflags & FL_TF;
            if (UNLIKELY(cpu->dr[7] & 0xff) && exec_breakpoint(cpu)) {
                prev = NULL;
                continue;
            }
            struct block *b = block_find(cpu);
            cpu->inhibit_irq = false;
            cpu->dr_hits = 0;
            block_exec(cpu, b, 1);
            cpu->eflags &= ~FL_RF;
            free_zombies(bc);
            cpu->budget--;
            cpu->stats.insns++;
            prev = NULL;
            if (tf || cpu->dr_hits) {
                /* One #DB reports the single step and any data breakpoints. */
                cpu->dr[6] = (cpu->dr[6] & ~0xfu) | cpu->dr_hits | (tf ? 0x4000 : 0);
                cpu->dr_hits = 0;
                cpu_deliver(cpu, EXC_DB, INTR_EXCEPTION, false, 0);
            }
            continue;
        }
        struct block *b = NULL;
        uint32_t base = cpu->seg[SEG_CS].base;
        if (prev && prev_gen == bc->gen) {
            int k = cpu->eip == prev_eip + prev->end_off;
            if (prev->link[k] && prev->link_eip[k] == cpu->eip && prev->link_gen[k] == bc->gen &&
                prev->link_base[k] == base) {
                b = prev->link[k];
                cpu->stats.block_hits++;
            } else {
                b = block_find(cpu);
                if (prev->chainable && !b->key2 &&
                    ((bc->find_lin ^ (base + prev_eip)) & PAGE_MASK) == 0) {
                    prev->link[k] = b;
                    prev->link_eip[k] = cpu->eip;
                    prev->link_gen[k] = bc->gen;
                    prev->link_base[k] = base;
                }
            }
        } else {
            b = block_find(cpu);
        }
        prev = b;
        prev_eip = cpu->eip;
        prev_gen = bc->gen;
        unsigned n = block_exec(cpu, b, BLOCK_MAX);
        if (UNLIKELY(bc->zombies != NULL)) {
            free_zombies(bc);
            prev = NULL;
        }
        cpu->budget -= n;
        cpu->stats.insns += n;
        cpu->stats.blocks_run++;
    }
}

enum cpu_exit cpu_run(struct cpu *cpu, int64_t budget)
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
                e += b->insns[k].len;
                if (!(b->mode & 1))
                    e &= 0xffff;
                k++;
            }
            if (k < b->ninsn) {
                cpu->budget -= k;
                cpu->stats.insns += k;
            }
        }
        bc->running = NULL;
        free_zombies(bc);
        if (r == 2 || cpu->shutdown)
            return CPU_EXIT_SHUTDOWN;
        cpu->budget--; /* the fault itself makes progress against the budget */
        int v = cpu->fault_vector;
        cpu_deliver(cpu, v, INTR_EXCEPTION, cpu_exception_has_error(v), cpu->fault_error);
    }
    return run_blocks(cpu);
}
