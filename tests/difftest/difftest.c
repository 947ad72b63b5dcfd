/*
 * difftest.c — the random-instruction differential tester: random but valid
 * instruction sequences (gen.c, from cpu/opcodes.def) run on the host CPU in
 * 32-bit user mode (host.c + native.c) and in Umbra (guest.c); registers,
 * EFLAGS (less the flags the SDM leaves undefined at the point execution
 * stopped), segment selectors, the exception that ended the run, the x87
 * state and both data buffers must be equal.
 *
 *   difftest [--seed N] [--count N] [--units N] [--x87-only | --no-x87]
 *            [--exact-flags] [--max-fail N] [--no-minimize] [--verbose]
 *            [--repro SEED:MASK:HEX[:ADDR]] [--repro-file FILE] [--helper PATH]
 *
 * Sequence i of a run is generated from (seed, i), so any failure reproduces
 * with the same --seed and a --count that reaches it; the report also gives a
 * self-contained reproducer line (state seed, undefined-flags mask, code
 * bytes) for --repro and for the reproducer file the ctest batch replays.
 * A failing sequence is minimized first: the shortest failing prefix of its
 * units, then every unit whose removal keeps it failing goes.  A candidate
 * counts as failing only if it is still a valid sequence (no flag reader
 * sees an undefined flag) and the host did not page-fault (which would mean
 * the removal took a memory operand out of the buffers).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "difftest.h"
#include "gen.h"

struct opts {
    uint64_t seed;
    uint64_t count;
    int units;
    bool x87_only, no_x87, exact_flags, minimize, verbose;
    int max_fail;
    const char *helper;
    const char *repro_file;
    const char *repro[64];
    int nrepro;
};

struct ctx {
    struct opts o;
    struct dt_host *host;
    struct dt_guest *guest;
    struct dt_gen_opts gen;
    uint8_t data[DT_DATA_SIZE], low[DT_LOW_SIZE];
    struct dt_run nat, emu;
    uint64_t runs, faults, vec_hist[32], fails, invalid;
};

static uint64_t mix(uint64_t a, uint64_t b)
{
    uint64_t z = a * 0x9e3779b97f4a7c15ull + b + 0x7f4a7c159e3779b9ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* ---------------- comparison ---------------- */

static const char *const regname[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const segname[DT_NSEG] = { "es", "cs", "ss", "ds", "fs", "gs" };

/* First difference between the two results, or false if none. */
static bool differs(struct ctx *c, const struct dt_prog *p, char *msg, size_t size)
{
    const struct dt_state *a = &c->nat.out, *b = &c->emu.out;
    if (a->vector != b->vector || a->eip != b->eip) {
        snprintf(msg, size, "stopped differently: host vector %u at %08x, umbra vector %u at %08x",
                 a->vector, a->eip, b->vector, b->eip);
        return true;
    }
    if (a->error != b->error && a->vector != 14) {
        snprintf(msg, size, "error code: host %#x umbra %#x", a->error, b->error);
        return true;
    }
    for (int k = 0; k < 8; k++)
        if (a->regs[k] != b->regs[k]) {
            snprintf(msg, size, "%s: host %08x umbra %08x", regname[k], a->regs[k], b->regs[k]);
            return true;
        }
    uint32_t mask = ~0u;
    if (!c->o.exact_flags)
        mask &= ~(uint32_t)dt_undef_at(p, a->eip);
    if ((a->eflags ^ b->eflags) & mask) {
        snprintf(msg, size, "eflags: host %08x umbra %08x (differ %08x, undefined-masked %03x)",
                 a->eflags, b->eflags, (a->eflags ^ b->eflags) & mask, ~mask & DT_FLAGS);
        return true;
    }
    for (int s = 0; s < DT_NSEG; s++)
        if (a->sreg[s] != b->sreg[s]) {
            snprintf(msg, size, "%s: host %04x umbra %04x", segname[s], a->sreg[s], b->sreg[s]);
            return true;
        }
    static const struct { unsigned off, len; const char *name; } fpf[] = {
        { 0, 2, "x87 control word" }, { 4, 2, "x87 status word" }, { 8, 2, "x87 tag word" },
    };
    for (unsigned k = 0; k < 3; k++)
        if (memcmp(a->fpu + fpf[k].off, b->fpu + fpf[k].off, fpf[k].len)) {
            uint16_t x, y;
            memcpy(&x, a->fpu + fpf[k].off, 2);
            memcpy(&y, b->fpu + fpf[k].off, 2);
            snprintf(msg, size, "%s: host %04x umbra %04x", fpf[k].name, x, y);
            return true;
        }
    for (int k = 0; k < 8; k++) {
        const uint8_t *x = a->fpu + 28 + 10 * k, *y = b->fpu + 28 + 10 * k;
        if (memcmp(x, y, 10)) {
            uint64_t sx, sy;
            uint16_t ex, ey;
            memcpy(&sx, x, 8);
            memcpy(&ex, x + 8, 2);
            memcpy(&sy, y, 8);
            memcpy(&ey, y + 8, 2);
            snprintf(msg, size, "st(%d): host %04x:%016" PRIx64 " umbra %04x:%016" PRIx64, k, ex,
                     sx, ey, sy);
            return true;
        }
    }
    for (int k = 0; k < p->nign; k++) /* host-dependent bytes: take the host's */
        for (uint32_t b = 0; b < p->ign_len[k]; b++) {
            uint32_t a = p->ign_addr[k] + b;
            if (a - DT_DATA_BASE < DT_DATA_SIZE)
                c->emu.data[a - DT_DATA_BASE] = c->nat.data[a - DT_DATA_BASE];
            else if (a - DT_LOW_BASE < DT_LOW_SIZE)
                c->emu.low[a - DT_LOW_BASE] = c->nat.low[a - DT_LOW_BASE];
        }
    for (uint32_t k = 0; k < DT_DATA_SIZE; k++)
        if (c->nat.data[k] != c->emu.data[k]) {
            snprintf(msg, size, "memory at %08x: host %02x umbra %02x", DT_DATA_BASE + k,
                     c->nat.data[k], c->emu.data[k]);
            return true;
        }
    if (p->uses_low)
        for (uint32_t k = 0; k < DT_LOW_SIZE; k++)
            if (c->nat.low[k] != c->emu.low[k]) {
                snprintf(msg, size, "memory at %08x: host %02x umbra %02x", DT_LOW_BASE + k,
                         c->nat.low[k], c->emu.low[k]);
                return true;
            }
    return false;
}

enum verdict { V_PASS, V_FAIL, V_INVALID };

static enum verdict run_prog(struct ctx *c, uint64_t state_seed, const struct dt_prog *p, char *msg,
                             size_t size)
{
    if (!p->valid)
        return V_INVALID;
    struct dt_state st;
    dt_gen_state(state_seed, &st, c->data, p->uses_low ? c->low : NULL);
    bool use_low = p->uses_low && c->gen.low_ok;
    for (int k = 0; k < 2; k++) {
        struct dt_run *r = k ? &c->emu : &c->nat;
        r->code = p->code;
        r->code_len = p->len;
        r->code_addr = p->base;
        r->use_low = use_low;
        r->in = st;
        r->data_in = c->data;
        r->low_in = c->low;
    }
    dt_host_run(c->host, &c->nat);
    dt_guest_run(c->guest, &c->emu);
    if (!c->nat.ok) {
        snprintf(msg, size, "%s", c->nat.why);
        return V_INVALID;
    }
    if (!c->emu.ok) {
        snprintf(msg, size, "%s", c->emu.why);
        return V_FAIL;
    }
    if (c->nat.out.vector == 14)
        return differs(c, p, msg, size) ? V_INVALID : V_PASS; /* out of the buffers */
    return differs(c, p, msg, size) ? V_FAIL : V_PASS;
}

/* ---------------- reporting ---------------- */

static void print_state(const char *who, const struct dt_state *s)
{
    printf("  %-6s vec %2u err %04x eip %08x efl %08x", who, s->vector, s->error, s->eip, s->eflags);
    for (int k = 0; k < 8; k++)
        printf("%s%s=%08x", k % 4 == 0 ? "\n         " : " ", regname[k], s->regs[k]);
    uint16_t cw, sw, tw;
    memcpy(&cw, s->fpu, 2);
    memcpy(&sw, s->fpu + 4, 2);
    memcpy(&tw, s->fpu + 8, 2);
    printf("\n         fcw=%04x fsw=%04x ftw=%04x\n", cw, sw, tw);
}

static void print_prog(struct ctx *c, const struct dt_prog *p, uint64_t state_seed)
{
    /* cpu_disasm reads guest memory: put the original bytes back (the run
     * may have modified its own code) */
    dt_guest_load_code(c->guest, p->base, p->code, p->len);
    char line[128];
    uint32_t a = p->base, end = p->base + p->len;
    while (a < end) {
        int n = dt_guest_disasm(c->guest, a, line, sizeof line);
        if (n <= 0)
            n = 1;
        printf("  %08x  ", a);
        for (int k = 0; k < 8; k++)
            printf(k < n ? "%02x" : "  ", p->code[a - p->base + (uint32_t)k]);
        printf("%s %s\n", n > 8 ? "+" : " ", line);
        a += (uint32_t)n;
    }
    uint16_t undef = dt_undef_at(p, c->nat.out.eip);
    printf("  reproducer: --repro %016" PRIx64 ":%03x:", state_seed, undef);
    for (uint32_t k = 0; k < p->len; k++)
        printf("%02x", p->code[k]);
    if (p->base != DT_CODE_BASE)
        printf(":%x", p->base);
    printf("\n");
}

static void report(struct ctx *c, const struct dt_prog *p, uint64_t state_seed, const char *msg)
{
    printf("MISMATCH: %s\n", msg);
    print_prog(c, p, state_seed);
    struct dt_state st;
    dt_gen_state(state_seed, &st, c->data, NULL);
    print_state("in", &st);
    print_state("host", &c->nat.out);
    print_state("umbra", &c->emu.out);
}

/* ---------------- minimization ---------------- */

static void minimize(struct ctx *c, const struct dt_seq *s, struct dt_prog *best)
{
    bool keep[DT_MAX_UNITS];
    char msg[256];
    static struct dt_prog p;
    int n = s->nunits, len = n;
    for (int k = 1; k < n; k++) { /* shortest failing prefix */
        for (int u = 0; u < n; u++)
            keep[u] = u < k;
        dt_assemble(s, keep, &p);
        if (run_prog(c, s->state_seed, &p, msg, sizeof msg) == V_FAIL) {
            len = k;
            break;
        }
    }
    for (int u = 0; u < n; u++)
        keep[u] = u < len;
    for (bool changed = true; changed;) {
        changed = false;
        for (int u = len - 1; u >= 0; u--) {
            if (!keep[u])
                continue;
            keep[u] = false;
            dt_assemble(s, keep, &p);
            if (run_prog(c, s->state_seed, &p, msg, sizeof msg) == V_FAIL)
                changed = true;
            else
                keep[u] = true;
        }
    }
    dt_assemble(s, keep, best);
}

/* ---------------- reproducers ---------------- */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "SEED:MASK:HEXCODE[:ADDRESS]" → false if malformed */
static bool run_repro(struct ctx *c, const char *spec, const char *where)
{
    static struct dt_prog p;
    uint8_t code[DT_CODE_MAX];
    char *end;
    uint64_t seed = strtoull(spec, &end, 16);
    if (*end != ':')
        goto bad;
    unsigned long mask = strtoul(end + 1, &end, 16);
    if (*end != ':')
        goto bad;
    const char *h = end + 1;
    uint32_t n = 0;
    while (hexval(h[0]) >= 0 && hexval(h[1]) >= 0 && n < DT_CODE_MAX - 2) {
        code[n++] = (uint8_t)(hexval(h[0]) << 4 | hexval(h[1]));
        h += 2;
    }
    uint32_t base = DT_CODE_BASE;
    if (*h == ':') {
        base = (uint32_t)strtoul(h + 1, &end, 16);
        h = end;
        if (base < DT_CODE_BASE || base - DT_CODE_BASE > DT_CODE_SIZE - 2 * DT_CODE_MAX)
            goto bad;
    }
    if (n == 0 || (*h && *h != ' ' && *h != '\t' && *h != '\n' && *h != '#'))
        goto bad;
    dt_prog_from_bytes(code, n, base, (uint16_t)mask, c->gen.low_ok, &p);
    char msg[256];
    enum verdict v = run_prog(c, seed, &p, msg, sizeof msg);
    c->runs++;
    if (v == V_PASS)
        return true;
    c->fails++;
    printf("reproducer %s %s\n", where, v == V_INVALID ? "could not run natively" : "FAILS");
    report(c, &p, seed, msg);
    return true;
bad:
    fprintf(stderr, "difftest: malformed reproducer %s: %s\n", where, spec);
    c->fails++;
    return false;
}

static void run_repro_file(struct ctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "difftest: %s: %s\n", path, strerror(errno));
        c->fails++;
        return;
    }
    char line[2 * DT_CODE_MAX + 128];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        char where[300];
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        run_repro(c, p, where);
    }
    fclose(f);
}

/* ---------------- main ---------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: difftest [--seed N] [--count N] [--units N] [--x87-only|--no-x87]\n"
            "                [--exact-flags] [--max-fail N] [--no-minimize] [--verbose]\n"
            "                [--repro SEED:MASK:HEX[:ADDR]]... [--repro-file FILE] [--helper PATH]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct ctx c;
    c.o.seed = 1;
    c.o.count = 1000;
    c.o.units = 20;
    c.o.max_fail = 1;
    c.o.minimize = true;
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (!strcmp(a, "--seed") && v)
            c.o.seed = strtoull(v, NULL, 0), k++;
        else if (!strcmp(a, "--count") && v)
            c.o.count = strtoull(v, NULL, 0), k++;
        else if (!strcmp(a, "--units") && v)
            c.o.units = atoi(v), k++;
        else if (!strcmp(a, "--max-fail") && v)
            c.o.max_fail = atoi(v), k++;
        else if (!strcmp(a, "--helper") && v)
            c.o.helper = v, k++;
        else if (!strcmp(a, "--repro-file") && v)
            c.o.repro_file = v, k++;
        else if (!strcmp(a, "--repro") && v && c.o.nrepro < 64)
            c.o.repro[c.o.nrepro++] = v, k++;
        else if (!strcmp(a, "--x87-only"))
            c.o.x87_only = true;
        else if (!strcmp(a, "--no-x87"))
            c.o.no_x87 = true;
        else if (!strcmp(a, "--exact-flags"))
            c.o.exact_flags = true;
        else if (!strcmp(a, "--no-minimize"))
            c.o.minimize = false;
        else if (!strcmp(a, "--verbose"))
            c.o.verbose = true;
        else
            usage();
    }
    char helper[4096];
    if (!c.o.helper) {
        /* next to this executable */
        ssize_t n = readlink("/proc/self/exe", helper, sizeof helper - 32);
        if (n < 0)
            n = 0;
        helper[n] = 0;
        char *slash = strrchr(helper, '/');
        strcpy(slash ? slash + 1 : helper, "difftest_native");
        c.o.helper = helper;
    }
    c.host = dt_host_start(c.o.helper);
    if (!c.host)
        return 2;
    c.guest = dt_guest_new(dt_host_sregs(c.host));
    if (!c.guest)
        return 2;
    c.gen.low_ok = dt_host_low_ok(c.host);
    c.gen.no_x87 = c.o.no_x87;
    c.gen.no_int = c.o.x87_only;
    c.gen.max_units = c.o.units;
    if (!c.gen.low_ok)
        printf("note: cannot map below 64 KiB here (vm.mmap_min_addr): no 16-bit addressing\n");

    for (int k = 0; k < c.o.nrepro; k++)
        run_repro(&c, c.o.repro[k], "(command line)");
    if (c.o.repro_file)
        run_repro_file(&c, c.o.repro_file);

    static struct dt_seq s;
    static struct dt_prog p;
    time_t t0 = time(NULL);
    char msg[256];
    for (uint64_t i = 0; i < c.o.count && (int)c.fails < c.o.max_fail; i++) {
        dt_gen_seq(mix(c.o.seed, i), &c.gen, &s);
        dt_assemble(&s, NULL, &p);
        if (c.o.verbose)
            printf("sequence %" PRIu64 "\n", i);
        enum verdict v = run_prog(&c, s.state_seed, &p, msg, sizeof msg);
        c.runs++;
        if (c.nat.ok && c.nat.out.vector < 32)
            c.vec_hist[c.nat.out.vector]++;
        if (c.o.verbose)
            print_prog(&c, &p, s.state_seed);
        if (v == V_INVALID) {
            c.invalid++;
            if (c.o.verbose || c.invalid <= 3)
                printf("sequence %" PRIu64 " (seed %" PRIu64 ") did not run natively: %s\n", i,
                       c.o.seed, c.nat.ok ? "host page fault (generator bug)" : msg);
            if (c.invalid <= 3 && c.nat.ok) {
                print_prog(&c, &p, s.state_seed);
                print_state("host", &c.nat.out);
            }
            continue;
        }
        if (v == V_PASS)
            continue;
        c.fails++;
        printf("sequence %" PRIu64 " of seed %" PRIu64 " differs\n", i, c.o.seed);
        report(&c, &p, s.state_seed, msg);
        if (c.o.minimize) {
            static struct dt_prog best;
            minimize(&c, &s, &best);
            run_prog(&c, s.state_seed, &best, msg, sizeof msg);
            printf("minimized:\n");
            report(&c, &best, s.state_seed, msg);
        }
        fflush(stdout);
    }
    printf("difftest: seed %" PRIu64 ": %" PRIu64 " sequences, %" PRIu64 " failed, %" PRIu64
           " invalid, %lds\n",
           c.o.seed, c.runs, c.fails, c.invalid, (long)(time(NULL) - t0));
    printf("  ended by: done (#UD) %" PRIu64, c.vec_hist[6]);
    for (int v = 0; v < 32; v++)
        if (v != 6 && c.vec_hist[v])
            printf(", vector %d %" PRIu64, v, c.vec_hist[v]);
    printf("\n");
    dt_guest_free(c.guest);
    dt_host_stop(c.host);
    return c.fails || c.invalid ? 1 : 0;
}
