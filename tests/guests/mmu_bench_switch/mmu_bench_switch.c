/*
 * mmu_bench_switch.c — MMU benchmark: address-space switches.
 *
 * N address spaces (each its own page directory and page table, 16 pages of
 * its own at 0x40000000; the kernel's identity map shared), switched round
 * robin with MOV CR3; after each switch a few pages of the new space are
 * touched (read a tag, read-modify-write a counter). This is the case the
 * shadow MMU's root cache is for: with N at or below the number of cached
 * roots (8-16) a switch back should find its shadow root and TLB; with N=32 it
 * cannot. Under -mmu walk every switch flushes the soft TLB.
 *
 * -append n=N (address spaces, default 8, max 32) pages=K (pages touched per
 * switch, default 4, max 16) iters=I (switches, default 200000) user=1 (touch
 * at CPL3, entered with IRET and left with INT, like a process).
 * Prints a checksum and verifies it and every counter against closed forms, so
 * it prints PASS only if every translation was right.
 */
#include "paging.h"

const char guest_name[] = "mmu_bench_switch";

#define MAXN 32
#define SLOTS 16
#define WIN 0x40000000u
#define DATA_PHYS 0x00400000u /* N*16 data pages from 4 MiB (2 MiB at most) */
#define TAG(a, s) (0x5A000000u | ((a) << 8) | (s))

static u32 pd[MAXN][1024] __attribute__((aligned(4096)));
static u32 pt[MAXN][1024] __attribute__((aligned(4096)));
static u32 id_pt[4][1024] __attribute__((aligned(4096)));

static u32 n, k, iters, user;
static u32 u_sum, u_tags, u_off; /* shared with the CPL3 touch */

static u32 page_phys(u32 a, u32 s) { return DATA_PHYS + (a * SLOTS + s) * 4096; }

/* touch K pages at offset off: read the tag (offset 0) and bump the counter */
static void touch(u32 off)
{
    for (u32 s = 0; s < k; s++) {
        volatile u32 *p = (volatile u32 *)(WIN + s * 4096);
        u_tags += p[0];
        u32 v = p[off];
        u_sum += v;
        p[off] = v + 1;
    }
}

static void user_touch(void)
{
    touch(u_off);
    __asm__ volatile("int $0x80" ::"a"(0));
    for (;;)
        ;
}

void test_main(void)
{
    n = cmdline_u32("n", 8);
    k = cmdline_u32("pages", 4);
    iters = cmdline_u32("iters", 200000);
    user = cmdline_u32("user", 0);
    CHECK(n >= 1 && n <= MAXN && k >= 1 && k <= SLOTS, "n=%u pages=%u out of range", n, k);
    kprintf("mmu_bench_switch: n=%u pages=%u iters=%u user=%u\n", n, k, iters, user);

    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 1024; j++)
            id_pt[i][j] = ((i * 1024 + j) << 12) | PG_P | PG_RW | PG_US;
    for (u32 a = 0; a < n; a++) {
        for (int i = 0; i < 4; i++)
            pd[a][i] = (u32)id_pt[i] | PG_P | PG_RW | PG_US;
        pd[a][WIN >> 22] = (u32)pt[a] | PG_P | PG_RW | PG_US;
        for (u32 s = 0; s < SLOTS; s++) {
            u32 *page = (u32 *)page_phys(a, s);
            memset(page, 0, 4096);
            page[0] = TAG(a, s);
            pt[a][s] = page_phys(a, s) | PG_P | PG_RW | PG_US;
        }
    }
    write_cr3((u32)pd[0]);
    write_cr0(read_cr0() | CR0_PG | CR0_WP);

    u32 t0_lo, t0_hi, t1_lo, t1_hi;
    __asm__ volatile("rdtsc" : "=a"(t0_lo), "=d"(t0_hi));
    u_sum = u_tags = 0;
    for (u32 i = 0; i < iters; i++) {
        u32 a = i % n;
        write_cr3((u32)pd[a]);
        u_off = 1 + (i / n) % 8 * 16; /* cycle over 8 counters per page */
        if (user)
            user_call(user_touch, USER_STACK_TOP, 0x2, 0);
        else
            touch(u_off);
    }
    __asm__ volatile("rdtsc" : "=a"(t1_lo), "=d"(t1_hi));
    write_cr3((u32)pd[0]);
    u64 cycles = (((u64)t1_hi << 32) | t1_lo) - (((u64)t0_hi << 32) | t0_lo);
    kprintf("checksum=%x tags=%x tsc=%u Mcycles\n", u_sum, u_tags, (u32)(cycles >> 20));

    /* verify: each AS a was entered visits(a) times; its j-th visit used counter
     * j % 8 of each touched page; the counter read on that visit was j / 8
     * rounded the right way, so the sum of reads is a closed form */
    u32 want_sum = 0, want_tags = 0;
    for (u32 a = 0; a < n; a++) {
        u32 visits = iters / n + (a < iters % n);
        for (u32 c = 0; c < 8; c++) {
            u32 m = visits / 8 + (c < visits % 8); /* times counter c was bumped */
            for (u32 s = 0; s < k; s++) {
                u32 got = ((u32 *)page_phys(a, s))[1 + c * 16];
                CHECK(got == m, "AS %u page %u counter %u is %u, expected %u", a, s, c, got, m);
                want_sum += m * (m - 1) / 2;
            }
        }
        for (u32 s = 0; s < k; s++)
            want_tags += visits * TAG(a, s);
        for (u32 s = k; s < SLOTS; s++)
            CHECK(((u32 *)page_phys(a, s))[1] == 0, "AS %u page %u was touched", a, s);
    }
    CHECK(u_sum == want_sum && u_tags == want_tags, "checksum %x tags %x, expected %x %x", u_sum, u_tags,
          want_sum, want_tags);
    kprintf("ok   %u switches over %u address spaces, %u page touches, all counters right\n", iters, n,
            iters * k);
}
