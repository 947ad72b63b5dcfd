/*
 * test_exec.c — the execution core end to end: small code sequences placed
 * in guest RAM with mmu_phys_write, run with cpu_set_flat32 (or real mode)
 * and cpu_run, checking registers and memory afterwards.  Covers loops,
 * stack and string instructions, arithmetic, self-modifying code (a store
 * into the running block and into a cached block), exceptions delivered
 * through an IDT with precise EIP (incl. a fault in the middle of REP MOVSB),
 * external interrupts, the budget, and a throughput measurement.
 * The byte arrays were assembled with nasm from the listed source.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/cpu.h"
#include "cpu/cpu_internal.h"

/* loop.asm:
 *   bits 32
 *   org 0x1000
 *   mov ecx, 100
 *   xor eax, eax
 *   l: add eax, ecx
 *   loop l
 *   hlt
 */
static const uint8_t code_loop[] = {0xb9, 0x64, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x01, 0xc8, 0xe2, 0xfc, 0xf4};

/* stack.asm:
 *   bits 32
 *   org 0x1000
 *     mov esp, 0x80000
 *     push dword 0x11223344
 *     call f
 *     pop ebx            ; ebx = 0x11223344
 *     ; rep movsb 16 bytes from src to 0x3000
 *     mov esi, src
 *     mov edi, 0x3000
 *     mov ecx, 16
 *     cld
 *     rep movsb
 *     ; rep stosd
 *     mov eax, 0xdeadbeef
 *     mov edi, 0x3100
 *     mov ecx, 4
 *     rep stosd
 *     ; repe cmpsb: compare src with 0x3000, 16 bytes -> ecx=0, ZF=1
 *     mov esi, src
 *     mov edi, 0x3000
 *     mov ecx, 16
 *     repe cmpsb
 *     setz dl            ; dl = 1
 *     ; repne scasb for 'x' in src
 *     mov al, 'x'
 *     mov edi, src
 *     mov ecx, 16
 *     repne scasb        ; edi = src+6
 *     mov ebp, edi
 *     sub ebp, src       ; ebp = 7 (EDI is past the match)
 *     ; enter/leave
 *     enter 8, 0
 *     mov dword [ebp-4], 7
 *     mov esi, [ebp-4]   ; esi = 7
 *     leave
 *     ; pusha/popa
 *     mov edi, 0x55
 *     pusha
 *     mov edi, 0
 *     popa               ; edi restored 0x55
 *     hlt
 *   f: mov eax, [esp+4]
 *      add eax, 1
 *      ret
 *   src: db "hello xworld 123"
 */
static const uint8_t code_stack[] = {0xbc, 0x00, 0x00, 0x08, 0x00, 0x68, 0x44, 0x33, 0x22, 0x11, 0xe8, 0x6a, 0x00, 0x00, 0x00, 0x5b, 0xbe, 0x81, 0x10, 0x00, 0x00, 0xbf, 0x00, 0x30, 0x00, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xfc, 0xf3, 0xa4, 0xb8, 0xef, 0xbe, 0xad, 0xde, 0xbf, 0x00, 0x31, 0x00, 0x00, 0xb9, 0x04, 0x00, 0x00, 0x00, 0xf3, 0xab, 0xbe, 0x81, 0x10, 0x00, 0x00, 0xbf, 0x00, 0x30, 0x00, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xf3, 0xa6, 0x0f, 0x94, 0xc2, 0xb0, 0x78, 0xbf, 0x81, 0x10, 0x00, 0x00, 0xb9, 0x10, 0x00, 0x00, 0x00, 0xf2, 0xae, 0x89, 0xfd, 0x81, 0xed, 0x81, 0x10, 0x00, 0x00, 0xc8, 0x08, 0x00, 0x00, 0xc7, 0x45, 0xfc, 0x07, 0x00, 0x00, 0x00, 0x8b, 0x75, 0xfc, 0xc9, 0xbf, 0x55, 0x00, 0x00, 0x00, 0x60, 0xbf, 0x00, 0x00, 0x00, 0x00, 0x61, 0xf4, 0x8b, 0x44, 0x24, 0x04, 0x83, 0xc0, 0x01, 0xc3, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x20, 0x78, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x20, 0x31, 0x32, 0x33};

/* arith.asm:
 *   bits 32
 *   org 0x1000
 *     mov eax, 1000
 *     mov ecx, 7
 *     xor edx, edx
 *     div ecx            ; eax=142 edx=6
 *     mov ebx, eax
 *     mov eax, -5
 *     imul eax, eax, 3   ; -15
 *     mov esi, eax
 *     mov eax, 0x80000000
 *     shr eax, 4         ; 0x08000000
 *     sar eax, 1
 *     rol eax, 8         ; 0x00000004 ? 0x04000000 rol 8 = 0x00000004
 *     mov edi, eax
 *     mov eax, 5
 *     cmp eax, 7
 *     setl cl            ; 1
 *     setb ch            ; 1
 *     mov edx, 3
 *     cmp edx, 3
 *     cmovz eax, edx     ; eax = 3 (ZF)
 *     bsf ebp, ecx       ; ecx=0x0101 -> 0
 *     bswap edx          ; 0x03000000
 *     hlt
 */
static const uint8_t code_arith[] = {0xb8, 0xe8, 0x03, 0x00, 0x00, 0xb9, 0x07, 0x00, 0x00, 0x00, 0x31, 0xd2, 0xf7, 0xf1, 0x89, 0xc3, 0xb8, 0xfb, 0xff, 0xff, 0xff, 0x6b, 0xc0, 0x03, 0x89, 0xc6, 0xb8, 0x00, 0x00, 0x00, 0x80, 0xc1, 0xe8, 0x04, 0xd1, 0xf8, 0xc1, 0xc0, 0x08, 0x89, 0xc7, 0xb8, 0x05, 0x00, 0x00, 0x00, 0x83, 0xf8, 0x07, 0x0f, 0x9c, 0xc1, 0x0f, 0x92, 0xc5, 0xba, 0x03, 0x00, 0x00, 0x00, 0x83, 0xfa, 0x03, 0x0f, 0x44, 0xc2, 0x0f, 0xbc, 0xe9, 0x0f, 0xca, 0xf4};

/* smc.asm:
 *   bits 32
 *   org 0x1000
 *     mov byte [t+1], 42   ; patch the immediate of the next instruction (same block)
 *   t: mov al, 0
 *     ; second: loop executing a block 3 times, patching it after the first run
 *     mov ecx, 3
 *     xor ebx, ebx
 *   l: 
 *   u: add ebx, 1          ; 83 c3 01 -> patched to add ebx, 10
 *     mov byte [u+2], 10
 *     loop l                ; ebx = 1 + 10 + 10 = 21
 *     hlt
 */
static const uint8_t code_smc[] = {0xc6, 0x05, 0x08, 0x10, 0x00, 0x00, 0x2a, 0xb0, 0x00, 0xb9, 0x03, 0x00, 0x00, 0x00, 0x31, 0xdb, 0x83, 0xc3, 0x01, 0xc6, 0x05, 0x12, 0x10, 0x00, 0x00, 0x0a, 0xe2, 0xf4, 0xf4};

/* rmode.asm:
 *   bits 16
 *   org 0x7c00
 *     mov ax, 0x1234
 *     mov bx, 0x1111
 *     add ax, bx          ; 0x2345
 *     mov cx, 5
 *     xor dx, dx
 *   l: add dx, cx
 *     loop l              ; dx=15
 *     mov si, 0x500
 *     mov word [si], 0xbeef
 *     mov di, [0x500]     ; di = 0xbeef
 *     push ax
 *     pop bp              ; bp = 0x2345
 *     mov ebx, 0x12345678 ; 66 prefix
 *     hlt
 */
static const uint8_t code_rmode[] = {0xb8, 0x34, 0x12, 0xbb, 0x11, 0x11, 0x01, 0xd8, 0xb9, 0x05, 0x00, 0x31, 0xd2, 0x01, 0xca, 0xe2, 0xfc, 0xbe, 0x00, 0x05, 0xc7, 0x04, 0xef, 0xbe, 0x8b, 0x3e, 0x00, 0x05, 0x50, 0x5d, 0x66, 0xbb, 0x78, 0x56, 0x34, 0x12, 0xf4};

/* exc.asm:
 *   bits 32
 *   org 0x1000
 *     mov eax, 5
 *     xor ecx, ecx
 *     div ecx
 *     hlt
 */
static const uint8_t code_exc[] = {0xb8, 0x05, 0x00, 0x00, 0x00, 0x31, 0xc9, 0xf7, 0xf1, 0xf4};

/* handler.asm:
 *   bits 32
 *   org 0x2000
 *     mov esi, [esp]
 *     mov edi, [esp+4]
 *     hlt
 */
static const uint8_t code_handler[] = {0x8b, 0x34, 0x24, 0x8b, 0x7c, 0x24, 0x04, 0xf4};

/* repf.asm:
 *   bits 32
 *   org 0x1000
 *     mov esi, 0x2000
 *     mov edi, 0x3000
 *     mov ecx, 10
 *     rep movsb
 *     hlt
 */
static const uint8_t code_repf[] = {0xbe, 0x00, 0x20, 0x00, 0x00, 0xbf, 0x00, 0x30, 0x00, 0x00, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0xf3, 0xa4, 0xf4};

/* irq.asm:
 *   bits 32
 *   org 0x1000
 *     xor ebx, ebx
 *     sti
 *   l: inc ecx
 *     jmp l
 */
static const uint8_t code_irq[] = {0x31, 0xdb, 0xfb, 0x41, 0xeb, 0xfd};

/* ih.asm:
 *   bits 32
 *   org 0x2100
 *     mov ebx, 0x77
 *     hlt
 */
static const uint8_t code_ih[] = {0xbb, 0x77, 0x00, 0x00, 0x00, 0xf4};

/* bench.asm:
 *   bits 32
 *   org 0x1000
 *     mov ecx, 0
 *     xor eax, eax
 *   l: add eax, ecx
 *     xor edx, eax
 *     inc ecx
 *     cmp ecx, 50000000
 *     jne l
 *     hlt
 */
static const uint8_t code_bench[] = {0xb9, 0x00, 0x00, 0x00, 0x00, 0x31, 0xc0, 0x01, 0xc8, 0x31, 0xc2, 0x41, 0x81, 0xf9, 0x80, 0xf0, 0xfa, 0x02, 0x75, 0xf3, 0xf4};

static struct mmu *mmu;
static struct cpu *cpu;

static uint8_t ack_vector(void *opaque)
{
    (void)opaque;
    cpu_set_irq(cpu, false);
    return 0x20;
}

static void gate(unsigned vec, uint32_t off)
{
    mmu_phys_write32(mmu, 0x600 + vec * 8, (off & 0xffff) | (0x08u << 16));
    mmu_phys_write32(mmu, 0x600 + vec * 8 + 4, (off & 0xffff0000u) | 0x8e00u);
}

static void setup(void)
{
    mmu = calloc(1, sizeof *mmu);
    cpu = calloc(1, sizeof *cpu);
    ck_assert_int_eq(mmu_init(mmu, 16u << 20), 0);
    ck_assert_int_eq(cpu_init(cpu, mmu), 0);
    /* flat GDT: null, code 0x08, data 0x10; IDT at 0x600 */
    mmu_phys_write32(mmu, 0x500 + 8, 0x0000ffff);
    mmu_phys_write32(mmu, 0x500 + 12, 0x00cf9a00);
    mmu_phys_write32(mmu, 0x500 + 16, 0x0000ffff);
    mmu_phys_write32(mmu, 0x500 + 20, 0x00cf9200);
    cpu_set_flat32(cpu, 0x1000);
    cpu->gdtr.base = 0x500;
    cpu->gdtr.limit = 23;
    cpu->idtr.base = 0x600;
    cpu->idtr.limit = 0x7ff;
    cpu->regs[R_ESP] = 0x80000;
    cpu->intr.ack = ack_vector;
}

static void teardown(void)
{
    cpu_destroy(cpu);
    mmu_destroy(mmu);
    free(cpu);
    free(mmu);
}

static void load(uint32_t gpa, const uint8_t *code, size_t n) { mmu_phys_write(mmu, gpa, code, (uint32_t)n); }

START_TEST(test_loop)
{
    load(0x1000, code_loop, sizeof code_loop);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EAX], 5050);
    ck_assert_uint_eq(cpu->regs[R_ECX], 0);
    ck_assert_uint_eq(cpu->eip, 0x1000 + sizeof code_loop);
    ck_assert_uint_eq(cpu->stats.insns, 3 + 2 * 100);
}
END_TEST

START_TEST(test_stack_string)
{
    load(0x1000, code_stack, sizeof code_stack);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EBX], 0x11223344);
    ck_assert_uint_eq(cpu->regs[R_EAX], 0xdeadbe78);
    ck_assert_uint_eq(cpu->regs[R_EDX] & 0xff, 1);
    ck_assert_uint_eq(cpu->regs[R_EBP], 7); /* EDI past the match */
    ck_assert_uint_eq(cpu->regs[R_ECX], 9);
    ck_assert_uint_eq(cpu->regs[R_ESI], 7);
    ck_assert_uint_eq(cpu->regs[R_EDI], 0x55);
    ck_assert_uint_eq(cpu->regs[R_ESP], 0x80000);
    char buf[17] = { 0 };
    mmu_phys_read(mmu, 0x3000, buf, 16);
    ck_assert_str_eq(buf, "hello xworld 123");
    for (int k = 0; k < 4; k++)
        ck_assert_uint_eq(mmu_phys_read32(mmu, 0x3100 + 4 * k), 0xdeadbeef);
    ck_assert_uint_eq(mmu_phys_read32(mmu, 0x3110), 0);
}
END_TEST

START_TEST(test_arith)
{
    load(0x1000, code_arith, sizeof code_arith);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EBX], 142);
    ck_assert_uint_eq(cpu->regs[R_ESI], (uint32_t)-15);
    ck_assert_uint_eq(cpu->regs[R_EDI], 4);
    ck_assert_uint_eq(cpu->regs[R_ECX], 0x0101);
    ck_assert_uint_eq(cpu->regs[R_EAX], 3);
    ck_assert_uint_eq(cpu->regs[R_EBP], 0);
    ck_assert_uint_eq(cpu->regs[R_EDX], 0x03000000);
}
END_TEST

START_TEST(test_smc)
{
    load(0x1000, code_smc, sizeof code_smc);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EAX] & 0xff, 42);
    ck_assert_uint_eq(cpu->regs[R_EBX], 21);
    ck_assert(cpu->stats.block_invalidations >= 2);
}
END_TEST

START_TEST(test_smc_external)
{
    /* the loop program runs, then the host patches its code: the cached
     * block must be dropped (the count becomes 10 instead of 100) */
    load(0x1000, code_loop, sizeof code_loop);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    uint8_t ten = 10;
    mmu_phys_write(mmu, 0x1001, &ten, 1);
    cpu->eip = 0x1000;
    cpu->halted = false;
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EAX], 55);
}
END_TEST

START_TEST(test_real_mode)
{
    cpu_reset(cpu);
    cpu->seg[SEG_CS].sel = 0;
    cpu->seg[SEG_CS].base = 0;
    cpu->eip = 0x7c00;
    cpu->regs[R_ESP] = 0x7000;
    load(0x7c00, code_rmode, sizeof code_rmode);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EAX], 0x2345);
    ck_assert_uint_eq(cpu->regs[R_EDX], 15);
    ck_assert_uint_eq(cpu->regs[R_EDI], 0xbeef);
    ck_assert_uint_eq(cpu->regs[R_EBP], 0x2345);
    ck_assert_uint_eq(cpu->regs[R_EBX], 0x12345678);
    ck_assert_uint_eq(cpu->regs[R_ESP], 0x7000);
}
END_TEST

START_TEST(test_divide_error)
{
    load(0x1000, code_exc, sizeof code_exc);
    load(0x2000, code_handler, sizeof code_handler);
    gate(0, 0x2000);
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_ESI], 0x1007); /* EIP of the DIV */
    ck_assert_uint_eq(cpu->regs[R_EDI], 0x08);
    ck_assert_uint_eq(cpu->stats.exceptions, 1);
}
END_TEST

START_TEST(test_rep_fault_precise)
{
    static const uint8_t src[16] = "abcdefghijklmnop";
    load(0x1000, code_repf, sizeof code_repf);
    load(0x2000, src, sizeof src);
    load(0x2100, code_handler, sizeof code_handler);
    gate(13, 0x2100);
    cpu->seg[SEG_DS].limit = 0x2003;
    ck_assert_int_eq(cpu_run(cpu, 100000), CPU_EXIT_HALT);
    /* #GP(0) pushes an error code: [esp] = 0, [esp+4] = EIP */
    ck_assert_uint_eq(cpu->regs[R_ESI], 0);
    ck_assert_uint_eq(cpu->regs[R_EDI], 0x100f); /* the REP MOVSB */
    ck_assert_uint_eq(cpu->regs[R_ECX], 6);
    char buf[5] = { 0 };
    mmu_phys_read(mmu, 0x3000, buf, 4);
    ck_assert_str_eq(buf, "abcd");
}
END_TEST

START_TEST(test_external_interrupt)
{
    load(0x1000, code_irq, sizeof code_irq);
    load(0x2100, code_ih, sizeof code_ih);
    gate(0x20, 0x2100);
    ck_assert_int_eq(cpu_run(cpu, 1000), CPU_EXIT_BUDGET);
    ck_assert_uint_eq(cpu->regs[R_EBX], 0);
    cpu_set_irq(cpu, true);
    ck_assert_int_eq(cpu_run(cpu, 1000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_EBX], 0x77);
    ck_assert_uint_eq(cpu->stats.interrupts, 1);
}
END_TEST

START_TEST(test_ud)
{
    static const uint8_t ud2[] = { 0x0f, 0x0b };
    load(0x1000, ud2, sizeof ud2);
    load(0x2000, code_handler, sizeof code_handler);
    gate(6, 0x2000);
    ck_assert_int_eq(cpu_run(cpu, 1000), CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_ESI], 0x1000);
}
END_TEST

START_TEST(test_speed)
{
    load(0x1000, code_bench, sizeof code_bench);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum cpu_exit e;
    do
        e = cpu_run(cpu, 10000000);
    while (e == CPU_EXIT_BUDGET);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(e, CPU_EXIT_HALT);
    ck_assert_uint_eq(cpu->regs[R_ECX], 50000000);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    printf("test_exec: %.0f MIPS (%llu insns in %.3f s)\n",
           (double)cpu->stats.insns / s / 1e6, (unsigned long long)cpu->stats.insns, s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exec");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300); /* the long loop takes ~50 s under ASan */
    tcase_add_test(tc, test_loop);
    tcase_add_test(tc, test_stack_string);
    tcase_add_test(tc, test_arith);
    tcase_add_test(tc, test_smc);
    tcase_add_test(tc, test_smc_external);
    tcase_add_test(tc, test_real_mode);
    tcase_add_test(tc, test_divide_error);
    tcase_add_test(tc, test_rep_fault_precise);
    tcase_add_test(tc, test_external_interrupt);
    tcase_add_test(tc, test_ud);
    tcase_add_test(tc, test_speed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
