/*
 * smc.c — self-modifying code. A CPU that caches decoded instructions must see
 * every store to code before that code runs again (P6 and later detect even a
 * store to the next instruction, SDM vol. 3 8.1.3). Each case computes the
 * value the patched code must produce from the patch itself.
 */
#include "guest.h"

const char guest_name[] = "smc";

extern u32 smc_imm(u32 v);
extern u32 smc_opcode(u32 which);
extern u32 smc_loop(u32 n);
extern u32 smc_fn(void);
extern u32 smc_rep_ahead(u32 v);
extern u32 smc_via_es(u32 sel, u32 off, u32 v);
extern u32 smc_via_ptr(u32 *alias, u32 v);
extern char smc_via_es_ins[], smc_via_ptr_ins[], smc_fn_end[];
extern char tmpl_a[], tmpl_a_end[], tmpl_b[], tmpl_b_end[];
extern void copy_code(void *dst, const void *src, u32 n);

static u8 code_buf[4096] __attribute__((aligned(4096)));
static u32 pd[1024] __attribute__((aligned(4096)));
static u32 pt[4][1024] __attribute__((aligned(4096)));

static u32 rng = 0x1234567;
static u32 next(void)
{
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

void test_main(void)
{
    u32 i, v, r;

    /* 1. immediate of the next instruction, many values: a stale decode shows */
    for (i = 0; i < 200; i++) {
        v = next();
        r = smc_imm(v);
        CHECK(r == v, "imm patch ahead, round %u: got %x expected %x", i, r, v);
    }
    kprintf("ok   patch immediate of next instruction (200 rounds)\n");

    /* 2. opcode of an instruction ahead, flipped back and forth */
    for (i = 0; i < 50; i++) {
        u32 which = i & 1;
        r = smc_opcode(which);
        u32 want = which ? 7 + 0x1000 : 0x1000;
        CHECK(r == want, "opcode patch ahead (%s), round %u: got %x expected %x",
              which ? "mov->add" : "add->mov", i, r, want);
    }
    kprintf("ok   patch opcode of an instruction ahead\n");

    /* 3. a loop patching its own body */
    for (u32 n = 1; n < 40; n += 7) {
        u32 want = 0;
        for (i = 1; i <= n; i++)
            want += i & 0xff;
        r = smc_loop(n);
        CHECK(r == want, "loop patching itself, n=%u: got %x expected %x", n, r, want);
    }
    kprintf("ok   loop patching its own next iteration\n");

    /* 4. patch a function, call it, repeatedly */
    for (i = 0; i < 100; i++) {
        v = next();
        *(volatile u32 *)((u8 *)smc_fn + 1) = v;
        r = smc_fn();
        CHECK(r == v, "patched function, round %u: got %x expected %x", i, r, v);
    }
    kprintf("ok   patch a function then call it\n");

    /* 5. REP MOVSB overwriting the instruction right after it */
    for (i = 0; i < 50; i++) {
        v = next();
        r = smc_rep_ahead(v);
        CHECK(r == v, "rep movsb over the next instruction, round %u: got %x expected %x", i, r, v);
    }
    kprintf("ok   rep movsb rewriting the following instruction\n");

    /* 6. write through an aliasing data segment: base B, offset = target - B */
    {
        u32 target = (u32)smc_via_es_ins + 1, base = 0x00123000;
        gdt_set(GDT_FIRST_FREE, base, 0xFFFFF, ACC_P | ACC_DATA_W, FLG_G | FLG_D);
        for (i = 0; i < 50; i++) {
            v = next();
            r = smc_via_es(GDT_FIRST_FREE << 3, target - base, v);
            CHECK(r == v, "write through aliased segment, round %u: got %x expected %x", i, r, v);
        }
    }
    kprintf("ok   patch through a different segment (other base)\n");

    /* 7. copy code into a buffer with rep movsb and run it; replace it and run again */
    for (i = 0; i < 20; i++) {
        u32 arg = next();
        if (i & 1) {
            copy_code(code_buf, tmpl_b, tmpl_b_end - tmpl_b);
            r = ((u32(*)(u32))code_buf)(arg);
            CHECK(r == ((arg * 3) ^ 0xbbbb0000), "copied template b, round %u: got %x", i, r);
        } else {
            copy_code(code_buf, tmpl_a, tmpl_a_end - tmpl_a);
            r = ((u32(*)(u32))code_buf)(arg);
            CHECK(r == 0xaaaa0001 + arg, "copied template a, round %u: got %x", i, r);
        }
    }
    kprintf("ok   rep movsb code into a buffer, run, replace, run\n");

    /* 8. paging alias: a second virtual page mapped to the code's physical page */
    for (int t = 0; t < 4; t++) {
        pd[t] = (u32)pt[t] | 3;
        for (int j = 0; j < 1024; j++)
            pt[t][j] = ((t * 1024 + j) << 12) | 3;
    }
    u32 code_pa = (u32)smc_via_ptr_ins + 1;
    u32 alias_va = 0x00c00000; /* pt[3][0] */
    pt[3][0] = (code_pa & ~0xFFFu) | 3;
    pt[3][1] = ((code_pa & ~0xFFFu) + 0x1000) | 3; /* the 4 bytes may cross a page */
    write_cr3((u32)pd);
    write_cr0(read_cr0() | 0x80000000);
    for (i = 0; i < 50; i++) {
        v = next();
        r = smc_via_ptr((u32 *)(alias_va + (code_pa & 0xFFF)), v);
        CHECK(r == v, "write through a paging alias, round %u: got %x expected %x", i, r, v);
    }
    write_cr0(read_cr0() & ~0x80000000u);
    kprintf("ok   patch through a paging alias of the code page\n");
}
