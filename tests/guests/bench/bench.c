/*
 * bench.c — an integer workload for measuring Umbra's speed: ALU, hard-to-predict
 * branches, loads/stores to a table, calls through pointers, a division now and then.
 * About 40 guest instructions per iteration; the default iteration count (8M) is
 * ~300M instructions. -append iters=N sets the count (the ctest uses a small one).
 *
 * Like alu, it is built natively as well: the native program's output (the
 * checksum for the same count) is the expected serial output, so the bench is
 * also a correctness test of everything it touches.
 */
#if defined(__STDC_HOSTED__) && __STDC_HOSTED__
#include <stdio.h>
#include <stdlib.h>
typedef unsigned int u32;
#define kprintf printf
#define NATIVE 1
#else
#include "guest.h"
#define NATIVE 0
const char guest_name[] = "bench";
#endif

#define DEFAULT_ITERS 8000000u

static u32 table[1024];

static u32 __attribute__((noinline)) mix_a(u32 x, u32 y) { return (x ^ (y << 3)) + (y >> 2); }
static u32 __attribute__((noinline)) mix_b(u32 x, u32 y) { return (x * 0x9e3779b1u) ^ y; }
static u32 __attribute__((noinline)) mix_c(u32 x, u32 y) { return (x >> 7 | x << 25) - y; }
static u32 __attribute__((noinline)) mix_d(u32 x, u32 y) { return x + y + (x < y); }
static u32 (*const mixers[4])(u32, u32) = { mix_a, mix_b, mix_c, mix_d };

static u32 run(u32 iters)
{
    u32 h = 0x12345678, s = 0, i;
    for (i = 0; i < 1024; i++)
        table[i] = i * 2654435761u;
    for (i = 0; i < iters; i++) {
        u32 idx = h & 1023;
        u32 v = table[idx];
        if (v & 1)
            h = mix_a(h, v);
        else
            h = h * 31 + v;
        table[(idx + 7) & 1023] = v ^ h;
        h = mixers[(h >> 11) & 3](h, i);
        if ((h & 0x30) == 0x10)
            s += h;
        else if (h & 0x40)
            s ^= h >> 3;
        else
            s -= v;
        if ((i & 255) == 0)
            s += h / ((v | 1) & 0xffff);
    }
    return s ^ h;
}

#if NATIVE
int main(int argc, char **argv)
{
    u32 iters = argc > 1 ? (u32)strtoul(argv[1], 0, 0) : DEFAULT_ITERS;
    printf("bench iters=%u checksum=%08x\n", iters, run(iters));
    printf("PASS bench\n");
    return 0;
}
#else
void test_main(void)
{
    u32 iters = cmdline_u32("iters", DEFAULT_ITERS);
    kprintf("bench iters=%u checksum=%08x\n", iters, run(iters));
}
#endif
