/*
 * fpu_test.h — the interface between the x87 guest test's shared kernels
 * (fpu_kernels.c, compiled identically for the guest and the native
 * reference) and its two drivers (fpu_guest.c, fpu_native.c).
 */
#ifndef FPU_TEST_H
#define FPU_TEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef int s32;
typedef long long s64;

/* One output line: "<name> <id in hex> n=<n> h=<hash>". */
typedef void report_fn(const char *name, u32 id, u32 n, u32 hash);

/* Run everything; `code` is a writable, executable buffer of FPU_CODE_SIZE
 * bytes for the generated instruction stubs. */
#define FPU_CODE_SIZE (48 * 640)
void fpu_run(u8 *code, int verbose, report_fn *report);

#endif
