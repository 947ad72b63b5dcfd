/* test_dma.c — the 8237A pair through its ports, against guest RAM: the
 * address/count flip-flop, transfers in both directions and verify, 64 KiB
 * and 128 KiB page wrap, decrement, autoinit, TC status and the mask set at
 * TC, masking, controller disable, master clear, request bits, the device's
 * ready callback, save/load, and a register fuzz. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/dma.h"

#define RAM (4u << 20)

struct rig {
    struct bus bus;
    struct mmu mmu;
    struct dma dma;
    int kicks;
};

static void on_ready(void *o) { ((struct rig *)o)->kicks++; }

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(mmu_init(&r->mmu, RAM), 0);
    ck_assert_int_eq(dma_init(&r->dma, &r->bus, &r->mmu, NULL, err, sizeof err), 0);
    return r;
}

static void rig_free(struct rig *r)
{
    mmu_destroy(&r->mmu);
    free(r);
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, p, v, 1); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, p, 1); }

static const uint16_t page_ports[8] = {0x87, 0x83, 0x81, 0x82, 0x8f, 0x8b, 0x89, 0x8a};

/* Program channel ch as a guest driver does: mask, flip-flop, mode,
 * address, page, count, unmask. */
static void program(struct rig *r, unsigned ch, uint8_t mode, uint32_t phys, uint16_t count)
{
    bool hi = ch >= 4;
    unsigned c = ch & 3;
    uint16_t base = hi ? 0xc0 : 0x00;
    unsigned sh = hi ? 1 : 0; /* controller 2's registers are at even ports */
    uint16_t addr = hi ? (uint16_t)(phys >> 1) : (uint16_t)phys;
    outb(r, base + (0x0a << sh), (uint8_t)(4 | c));
    outb(r, base + (0x0c << sh), 0);
    outb(r, base + (0x0b << sh), (uint8_t)(mode | c));
    outb(r, base + ((2 * c) << sh), addr & 0xff);
    outb(r, base + ((2 * c) << sh), addr >> 8);
    outb(r, page_ports[ch], (uint8_t)(phys >> 16));
    outb(r, base + ((2 * c + 1) << sh), count & 0xff);
    outb(r, base + ((2 * c + 1) << sh), count >> 8);
    outb(r, base + (0x0a << sh), (uint8_t)c);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7 + (i >> 8));
}

START_TEST(address_count_flipflop)
{
    struct rig *r = rig_new();
    outb(r, 0x0c, 0);
    outb(r, 0x04, 0x34);
    outb(r, 0x04, 0x12);
    outb(r, 0x05, 0xff);
    outb(r, 0x05, 0x01);
    outb(r, 0x0c, 0);
    ck_assert_uint_eq(inb(r, 0x04), 0x34);
    ck_assert_uint_eq(inb(r, 0x04), 0x12);
    ck_assert_uint_eq(inb(r, 0x05), 0xff);
    ck_assert_uint_eq(inb(r, 0x05), 0x01);
    /* Controller 2, channel 5: address at 0xc4, count at 0xc6. */
    outb(r, 0xd8, 0);
    outb(r, 0xc4, 0xcd);
    outb(r, 0xc4, 0xab);
    outb(r, 0xd8, 0);
    ck_assert_uint_eq(inb(r, 0xc4), 0xcd);
    ck_assert_uint_eq(inb(r, 0xc4), 0xab);
    /* Page registers read back. */
    outb(r, 0x81, 0x5a);
    ck_assert_uint_eq(inb(r, 0x81), 0x5a);
    rig_free(r);
}
END_TEST

START_TEST(write_to_memory_tc_masks)
{
    struct rig *r = rig_new();
    program(r, 2, DMA_MODE_WRITE | 0x40, 0x12000, 511);
    ck_assert(dma_channel_ready(&r->dma, 2));
    uint8_t src[600], got[600];
    fill(src, sizeof src, 3);
    bool tc;
    /* Asking for more than the count moves only count + 1 bytes. */
    ck_assert_uint_eq(dma_transfer(&r->dma, 2, src, 600, true, &tc), 512);
    ck_assert(tc);
    mmu_phys_read(&r->mmu, 0x12000, got, 600);
    ck_assert_mem_eq(got, src, 512);
    ck_assert_uint_eq(got[512], 0);
    /* TC in the status register (cleared by the read), and the channel masked. */
    ck_assert_uint_eq(inb(r, 0x08) & 0x0f, 0x04);
    ck_assert_uint_eq(inb(r, 0x08) & 0x0f, 0x00);
    ck_assert(!dma_channel_ready(&r->dma, 2));
    ck_assert_uint_eq(inb(r, 0x0f) & 0x04, 0x04);
    ck_assert_uint_eq(dma_transfer(&r->dma, 2, src, 16, true, &tc), 0);
    /* The current address and count have moved on. */
    outb(r, 0x0c, 0);
    ck_assert_uint_eq(inb(r, 0x04), 0x00);
    ck_assert_uint_eq(inb(r, 0x04), 0x22);
    ck_assert_uint_eq(inb(r, 0x05), 0xff);
    ck_assert_uint_eq(inb(r, 0x05), 0xff);
    rig_free(r);
}
END_TEST

START_TEST(partial_transfers_then_tc)
{
    struct rig *r = rig_new();
    program(r, 1, DMA_MODE_WRITE, 0x30000, 99);
    uint8_t src[100];
    fill(src, sizeof src, 9);
    bool tc;
    ck_assert_uint_eq(dma_transfer(&r->dma, 1, src, 60, true, &tc), 60);
    ck_assert(!tc);
    ck_assert_uint_eq(inb(r, 0x08) & 0x0f, 0);
    ck_assert_uint_eq(dma_transfer(&r->dma, 1, src + 60, 60, true, &tc), 40);
    ck_assert(tc);
    uint8_t got[100];
    mmu_phys_read(&r->mmu, 0x30000, got, 100);
    ck_assert_mem_eq(got, src, 100);
    rig_free(r);
}
END_TEST

START_TEST(read_from_memory_and_verify)
{
    struct rig *r = rig_new();
    uint8_t pat[256], got[256];
    fill(pat, sizeof pat, 77);
    mmu_phys_write(&r->mmu, 0x45f00, pat, 256);
    program(r, 3, DMA_MODE_READ, 0x45f00, 255);
    bool tc;
    ck_assert_uint_eq(dma_transfer(&r->dma, 3, got, 256, false, &tc), 256);
    ck_assert(tc);
    ck_assert_mem_eq(got, pat, 256);
    /* Verify: counted, memory untouched in either direction. */
    program(r, 3, DMA_MODE_VERIFY, 0x45f00, 255);
    uint8_t junk[256];
    memset(junk, 0x11, sizeof junk);
    ck_assert_uint_eq(dma_transfer(&r->dma, 3, junk, 256, true, &tc), 256);
    ck_assert(tc);
    mmu_phys_read(&r->mmu, 0x45f00, got, 256);
    ck_assert_mem_eq(got, pat, 256);
    /* The wrong direction (read mode, device writing) leaves memory alone. */
    program(r, 3, DMA_MODE_READ, 0x45f00, 255);
    ck_assert_uint_eq(dma_transfer(&r->dma, 3, junk, 256, true, &tc), 256);
    mmu_phys_read(&r->mmu, 0x45f00, got, 256);
    ck_assert_mem_eq(got, pat, 256);
    rig_free(r);
}
END_TEST

START_TEST(page_wrap_8bit)
{
    struct rig *r = rig_new();
    /* 32 bytes from 0x2fff0: the address wraps to 0x20000, not 0x30000. */
    program(r, 2, DMA_MODE_WRITE, 0x2fff0, 31);
    uint8_t src[32], got[16], zero[16] = {0};
    fill(src, 32, 1);
    ck_assert_uint_eq(dma_transfer(&r->dma, 2, src, 32, true, NULL), 32);
    mmu_phys_read(&r->mmu, 0x2fff0, got, 16);
    ck_assert_mem_eq(got, src, 16);
    mmu_phys_read(&r->mmu, 0x20000, got, 16);
    ck_assert_mem_eq(got, src + 16, 16);
    mmu_phys_read(&r->mmu, 0x30000, got, 16);
    ck_assert_mem_eq(got, zero, 16);
    rig_free(r);
}
END_TEST

START_TEST(channel_16bit_words_and_wrap)
{
    struct rig *r = rig_new();
    /* Channel 5, page 0x03: bit 0 of the page is ignored, so the 128 KiB
     * window is 0x20000-0x3ffff; start 16 bytes before its end. */
    outb(r, 0xd4, 1); /* mask 5 */
    outb(r, 0xd8, 0);
    outb(r, 0xd6, DMA_MODE_WRITE | 1);
    uint16_t waddr = 0xfff8; /* byte 0x1fff0 in the window */
    outb(r, 0xc4, waddr & 0xff);
    outb(r, 0xc4, waddr >> 8);
    outb(r, 0x8b, 0x03);
    outb(r, 0xc6, 15); /* 16 words */
    outb(r, 0xc6, 0);
    outb(r, 0xd4, 1 & 3); /* unmask 5 */
    uint8_t src[40], got[16];
    fill(src, sizeof src, 5);
    bool tc;
    /* An odd length is rounded down to whole words; 32 bytes = the count. */
    ck_assert_uint_eq(dma_transfer(&r->dma, 5, src, 33, true, &tc), 32);
    ck_assert(tc);
    mmu_phys_read(&r->mmu, 0x3fff0, got, 16);
    ck_assert_mem_eq(got, src, 16);
    mmu_phys_read(&r->mmu, 0x20000, got, 16);
    ck_assert_mem_eq(got, src + 16, 16);
    ck_assert_uint_eq(inb(r, 0xd0) & 0x0f, 0x02);
    rig_free(r);
}
END_TEST

START_TEST(decrement_and_autoinit)
{
    struct rig *r = rig_new();
    program(r, 0, DMA_MODE_WRITE | DMA_MODE_DECREMENT | DMA_MODE_AUTOINIT, 0x50010, 3);
    uint8_t src[4] = {1, 2, 3, 4}, got[4];
    bool tc;
    ck_assert_uint_eq(dma_transfer(&r->dma, 0, src, 8, true, &tc), 4);
    ck_assert(tc);
    mmu_phys_read(&r->mmu, 0x5000d, got, 4);
    uint8_t want[4] = {4, 3, 2, 1};
    ck_assert_mem_eq(got, want, 4);
    /* Autoinit: still unmasked, address and count reloaded. */
    ck_assert(dma_channel_ready(&r->dma, 0));
    outb(r, 0x0c, 0);
    ck_assert_uint_eq(inb(r, 0x00), 0x10);
    ck_assert_uint_eq(inb(r, 0x00), 0x00);
    ck_assert_uint_eq(inb(r, 0x01), 3);
    uint8_t src2[4] = {9, 9, 9, 9};
    ck_assert_uint_eq(dma_transfer(&r->dma, 0, src2, 4, true, &tc), 4);
    mmu_phys_read(&r->mmu, 0x5000d, got, 4);
    ck_assert_mem_eq(got, src2, 4);
    rig_free(r);
}
END_TEST

START_TEST(masks_disable_master_clear)
{
    struct rig *r = rig_new();
    uint8_t b[4] = {0};
    /* Power-on: every channel masked. */
    ck_assert_uint_eq(inb(r, 0x0f) & 0x0f, 0x0f);
    ck_assert(!dma_channel_ready(&r->dma, 2));
    outb(r, 0x0e, 0); /* clear all masks */
    ck_assert_uint_eq(inb(r, 0x0f) & 0x0f, 0);
    ck_assert(dma_channel_ready(&r->dma, 2));
    outb(r, 0x0f, 0x05); /* write all masks: 0 and 2 */
    ck_assert(!dma_channel_ready(&r->dma, 0));
    ck_assert(dma_channel_ready(&r->dma, 1));
    ck_assert(!dma_channel_ready(&r->dma, 2));
    outb(r, 0x0f, 0);
    outb(r, 0x08, DMA_CMD_DISABLE);
    ck_assert(!dma_channel_ready(&r->dma, 1));
    ck_assert_uint_eq(dma_transfer(&r->dma, 1, b, 4, true, NULL), 0);
    outb(r, 0x08, 0);
    ck_assert(dma_channel_ready(&r->dma, 1));
    /* Cascade mode is not a transfer channel. */
    outb(r, 0x0b, 0xc1);
    ck_assert(!dma_channel_ready(&r->dma, 1));
    outb(r, 0x0b, 0x41);
    /* Master clear: masks set, flip-flop cleared. */
    outb(r, 0x02, 0x77); /* flip-flop now high */
    outb(r, 0x0d, 0);
    ck_assert_uint_eq(inb(r, 0x0f) & 0x0f, 0x0f);
    outb(r, 0x02, 0x11);
    outb(r, 0x02, 0x22);
    outb(r, 0x0c, 0);
    ck_assert_uint_eq(inb(r, 0x02), 0x11);
    ck_assert_uint_eq(inb(r, 0x02), 0x22);
    /* Controller 2 is independent. */
    ck_assert_uint_eq(inb(r, 0xde) & 0x0f, 0x0f);
    outb(r, 0xdc, 0);
    ck_assert_uint_eq(inb(r, 0xde) & 0x0f, 0);
    ck_assert_uint_eq(inb(r, 0x0f) & 0x0f, 0x0f);
    rig_free(r);
}
END_TEST

START_TEST(requests_and_ready_callback)
{
    struct rig *r = rig_new();
    dma_register_channel(&r->dma, 2, on_ready, r);
    dma_set_dreq(&r->dma, 2, true);
    ck_assert_uint_eq(inb(r, 0x08) & 0xf0, 0x40);
    outb(r, 0x09, 0x04 | 1); /* software request on channel 1 */
    ck_assert_uint_eq(inb(r, 0x08) & 0xf0, 0x60);
    outb(r, 0x09, 1);
    ck_assert_uint_eq(r->kicks, 0);
    outb(r, 0x0a, 2); /* unmask 2 with DREQ up: the device hears of it */
    ck_assert_uint_eq(r->kicks, 1);
    outb(r, 0x0a, 4 | 2);
    dma_set_dreq(&r->dma, 2, false);
    outb(r, 0x0a, 2);
    ck_assert_uint_eq(r->kicks, 1);
    dma_set_dreq(&r->dma, 2, true);
    outb(r, 0x08, DMA_CMD_DISABLE);
    outb(r, 0x08, 0); /* enabling the controller also serves it */
    ck_assert_uint_eq(r->kicks, 2);
    rig_free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *r = rig_new();
    program(r, 2, DMA_MODE_WRITE, 0x12345, 0x1ff);
    uint8_t b[16];
    dma_transfer(&r->dma, 2, b, 16, true, NULL);
    struct state_buf s;
    state_init(&s);
    dma_save(&r->dma, &s);
    struct rig *r2 = rig_new();
    ck_assert_int_eq(dma_load(&r2->dma, &s), 0);
    state_free(&s);
    outb(r2, 0x0c, 0);
    ck_assert_uint_eq(inb(r2, 0x04), 0x55);
    ck_assert_uint_eq(inb(r2, 0x04), 0x23);
    ck_assert_uint_eq(inb(r2, 0x05), 0xef);
    ck_assert_uint_eq(inb(r2, 0x05), 0x01);
    ck_assert_uint_eq(inb(r2, 0x81), 0x01);
    ck_assert(dma_channel_ready(&r2->dma, 2));
    rig_free(r);
    rig_free(r2);
}
END_TEST

START_TEST(fuzz)
{
    struct rig *r = rig_new();
    srand(1234);
    static const uint16_t ports[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                     0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x81, 0x82,
                                     0x83, 0x87, 0x89, 0x8a, 0x8b, 0x8f, 0xc0, 0xc2, 0xc4,
                                     0xc6, 0xc8, 0xca, 0xcc, 0xce, 0xd0, 0xd2, 0xd4, 0xd6,
                                     0xd8, 0xda, 0xdc, 0xde, 0xc1, 0xdf, 0x8c};
    static uint8_t buf[70000];
    for (int i = 0; i < 200000; i++) {
        uint16_t p = ports[rand() % (int)(sizeof ports / sizeof ports[0])];
        if (rand() & 1)
            outb(r, p, (uint8_t)rand());
        else
            (void)inb(r, p);
        if (i % 97 == 0) {
            unsigned ch = (unsigned)rand() % 8;
            size_t len = (size_t)rand() % sizeof buf;
            size_t n = dma_transfer(&r->dma, ch, buf, len, rand() & 1, NULL);
            ck_assert_uint_le(n, len);
        }
    }
    rig_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dma");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, address_count_flipflop);
    tcase_add_test(tc, write_to_memory_tc_masks);
    tcase_add_test(tc, partial_transfers_then_tc);
    tcase_add_test(tc, read_from_memory_and_verify);
    tcase_add_test(tc, page_wrap_8bit);
    tcase_add_test(tc, channel_16bit_words_and_wrap);
    tcase_add_test(tc, decrement_and_autoinit);
    tcase_add_test(tc, masks_disable_master_clear);
    tcase_add_test(tc, requests_and_ready_callback);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
