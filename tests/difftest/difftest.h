/*
 * difftest.h — the two execution back ends of the differential tester: the
 * host CPU (through the difftest_native helper process) and Umbra (in
 * process, through umbra_core).  Both take the same request (code image,
 * initial state, buffers) and fill the same result.
 */
#ifndef UMBRA_DIFFTEST_H
#define UMBRA_DIFFTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "dt_shared.h"

struct dt_run {
    /* request */
    const uint8_t *code;
    uint32_t code_len;
    uint32_t code_addr;
    bool use_low;
    struct dt_state in;
    const uint8_t *data_in, *low_in;
    /* result */
    struct dt_state out;
    uint8_t data[DT_DATA_SIZE];
    uint8_t low[DT_LOW_SIZE];
    bool ok; /* the back end ran it (false: helper died, Umbra did not halt) */
    char why[96];
};

/* host.c — the native helper */
struct dt_host;
struct dt_host *dt_host_start(const char *helper_path);
void dt_host_stop(struct dt_host *h);
bool dt_host_low_ok(const struct dt_host *h);
const uint16_t *dt_host_sregs(const struct dt_host *h);
void dt_host_run(struct dt_host *h, struct dt_run *r);

/* guest.c — Umbra */
struct dt_guest;
struct dt_guest *dt_guest_new(const uint16_t host_sreg[DT_NSEG]);
void dt_guest_free(struct dt_guest *g);
void dt_guest_run(struct dt_guest *g, struct dt_run *r);
/* Put `code` at `addr` (as a run does) without running it. */
void dt_guest_load_code(struct dt_guest *g, uint32_t addr, const uint8_t *code, uint32_t len);
/* Disassemble the instruction at `lin` of the code loaded. */
int dt_guest_disasm(struct dt_guest *g, uint32_t lin, char *buf, unsigned size);

#endif
