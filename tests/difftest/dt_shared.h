/*
 * dt_shared.h — the contract between the differential tester (difftest, a
 * normal host program linked with umbra_core) and its native runner
 * (difftest_native, a 32-bit Linux program built with gcc -m32).
 *
 * Both sides place code and data at the same fixed linear addresses, so a
 * sequence runs unchanged natively and as an Umbra guest with paging off
 * (guest-physical = linear).  The runner gets its requests through a shared
 * memory block (the memfd named on its command line) and a pipe that carries
 * one byte per request and one per reply; sending the 16 KiB data buffer over
 * a pipe per sequence would cost more than running the sequence.
 *
 * This header is compiled by both a 64-bit and a 32-bit compiler, so every
 * structure uses fixed-width fields with explicit padding only.
 */
#ifndef UMBRA_DT_SHARED_H
#define UMBRA_DT_SHARED_H

#include <stdint.h>

/* Memory map (linear = guest-physical).  LOW serves 16-bit addressing (the
 * 67 prefix): it only exists when the host lets a process map below 64 KiB
 * (vm.mmap_min_addr <= 0x8000); the runner reports whether it could.  DATA
 * starts at an address whose low 16 bits are 0x8000 so that BP (the low half
 * of the base register EBP, which points into DATA) addresses LOW. */
#define DT_LOW_BASE 0x00008000u
#define DT_LOW_SIZE 0x00008000u
#define DT_CODE_BASE 0x00100000u
#define DT_CODE_SIZE 0x00010000u
#define DT_DATA_BASE 0x00208000u
#define DT_DATA_SIZE 0x00004000u
#define DT_EBP_INIT (DT_DATA_BASE + 0x0800u)
#define DT_ESP_INIT (DT_DATA_BASE + 0x3000u)
#define DT_CODE_MAX 4096u /* a sequence may start up to DT_CODE_MAX into CODE */

/* Segment registers in the order ES CS SS DS FS GS (the encoding order). */
enum { DT_ES, DT_CS, DT_SS, DT_DS, DT_FS, DT_GS, DT_NSEG };

/* Architectural state before or after a sequence.  `fpu` is the 108-byte
 * FNSAVE image (32-bit protected-mode format). */
struct dt_state {
    uint32_t regs[8]; /* EAX ECX EDX EBX ESP EBP ESI EDI */
    uint32_t eip;
    uint32_t eflags;
    uint32_t vector; /* exception that ended the run (#UD at the final UD2 = done) */
    uint32_t error;  /* its error code (0 if none) */
    uint16_t sreg[DT_NSEG];
    uint32_t pad;
    uint8_t fpu[108];
};

#define DT_F_USE_LOW 0x1u /* the sequence touches LOW: copy and compare it */

struct dt_shm {
    /* runner → tool, once at start-up */
    uint32_t magic;
    uint32_t low_ok;
    uint16_t host_sreg[DT_NSEG];
    uint32_t pad0;
    /* tool → runner, per request */
    uint32_t flags;
    uint32_t code_len;
    uint32_t code_addr; /* where the code goes and runs, inside CODE */
    uint32_t pad1;
    struct dt_state in;
    uint8_t code[DT_CODE_MAX];
    /* both directions: initial contents in, final contents out */
    uint8_t low[DT_LOW_SIZE];
    uint8_t data[DT_DATA_SIZE];
    /* runner → tool, per request */
    struct dt_state out;
};

#define DT_MAGIC 0x55444946u

#endif
