/*
 * test_vga.c — the VGA driven through its ports and memory as a guest
 * would: the planar write modes 0-3 with rotate, set/reset, ALU and bit mask,
 * both read modes, chain-4 and odd/even addressing, against results computed
 * by hand from the register descriptions; the attribute flip-flop, DAC
 * indexes, the retrace bit moving with the clock; Bochs DISPI; the linear
 * framebuffer following BAR0; dirty-row rendering; a register fuzz.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/pci.h"
#include "devices/vga.h"
#include "mmu/mmu.h"

#define WIN_BASE 0xe0000000u
#define WIN_SIZE 0x10000000u

struct rig {
    struct mmu mmu;
    struct clock clock;
    struct bus bus;
    struct pci_bus pci;
    struct vga vga;
    /* display backend */
    uint32_t *pixels;
    unsigned w, h;
    unsigned updates, upd_y0, upd_y1;
};

static uint32_t *rig_resize(void *o, unsigned w, unsigned h, unsigned *stride)
{
    struct rig *r = o;
    free(r->pixels);
    r->pixels = calloc((size_t)w * h, 4);
    r->w = w, r->h = h;
    *stride = w;
    return r->pixels;
}

static void rig_update(void *o, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct rig *r = o;
    if (!r->updates || y < r->upd_y0) r->upd_y0 = y;
    if (!r->updates || y + h > r->upd_y1) r->upd_y1 = y + h;
    r->updates++;
}

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    ck_assert_int_eq(mmu_init(&r->mmu, 1u << 20), 0);
    clock_init(&r->clock, true, 0);
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(pci_bus_init(&r->pci, &r->bus, WIN_BASE, WIN_SIZE, NULL, err, sizeof err), 0);
    ck_assert_int_eq(mmu_map_mmio(&r->mmu, WIN_BASE, WIN_SIZE, &pci_mem_window_ops, &r->pci, "pci"), 0);
    struct display_backend d = {r, rig_resize, rig_update, NULL};
    static const uint8_t rom[3000] = {0x55, 0xaa, 6};
    ck_assert_int_eq(vga_init(&r->vga, &r->pci, &r->bus, &r->mmu, &r->clock, rom, sizeof rom, &d,
                              NULL, err, sizeof err),
                     0);
    pci_bus_reset(&r->pci);
    vga_reset(&r->vga);
    return r;
}

static void rig_free(struct rig *r)
{
    vga_destroy(&r->vga);
    mmu_destroy(&r->mmu);
    free(r->pixels);
    free(r);
}

static void seq(struct rig *r, uint8_t i, uint8_t v) { bus_out(&r->bus, 0x3c4, i, 1), bus_out(&r->bus, 0x3c5, v, 1); }
static void gc(struct rig *r, uint8_t i, uint8_t v) { bus_out(&r->bus, 0x3ce, i, 1), bus_out(&r->bus, 0x3cf, v, 1); }
static uint8_t mem_rd(struct rig *r, uint32_t off)
{
    uint8_t b;
    mmu_phys_read(&r->mmu, 0xa0000 + off, &b, 1);
    return b;
}
static void mem_wr(struct rig *r, uint32_t off, uint8_t b) { mmu_phys_write(&r->mmu, 0xa0000 + off, &b, 1); }

/* 16-colour planar set-up: sequential planes, A0000 64 KiB, graphics. */
static void planar(struct rig *r)
{
    seq(r, 4, 0x06);
    gc(r, 6, 0x05);
    gc(r, 5, 0x00);
    gc(r, 3, 0x00);
    gc(r, 1, 0x00);
    gc(r, 8, 0xff);
    seq(r, 2, 0x0f);
}

static void put_planes(struct rig *r, uint32_t off, const uint8_t p[4])
{
    planar(r);
    for (unsigned k = 0; k < 4; k++) {
        seq(r, 2, (uint8_t)(1u << k));
        mem_wr(r, off, p[k]);
    }
    seq(r, 2, 0x0f);
}

static void check_planes(struct rig *r, uint32_t off, uint8_t p0, uint8_t p1, uint8_t p2, uint8_t p3)
{
    const uint8_t want[4] = {p0, p1, p2, p3};
    gc(r, 5, 0x00);
    for (unsigned k = 0; k < 4; k++) {
        gc(r, 4, (uint8_t)k);
        uint8_t got = mem_rd(r, off);
        ck_assert_msg(got == want[k], "plane %u at 0x%x: got 0x%02x, want 0x%02x", k, off, got,
                      want[k]);
    }
    gc(r, 4, 0);
}

static const uint8_t LATCH[4] = {0x0f, 0x33, 0x55, 0xaa};

START_TEST(write_mode0_rotate_setreset_and)
{
    struct rig *r = rig_new();
    put_planes(r, 0x10, LATCH);
    (void)mem_rd(r, 0x10); /* latches */
    gc(r, 3, 0x0a);        /* rotate 2, AND */
    gc(r, 1, 0x05);        /* set/reset enabled on planes 0 and 2 */
    gc(r, 0, 0x04);        /* plane 2 = ones, plane 0 = zeros */
    gc(r, 8, 0xf0);
    mem_wr(r, 0x10, 0x81); /* ror 2 = 0x60 */
    check_planes(r, 0x10, 0x0f, 0x23, 0x55, 0x2a);
    rig_free(r);
}
END_TEST

START_TEST(write_mode2_or)
{
    struct rig *r = rig_new();
    put_planes(r, 0x20, LATCH);
    (void)mem_rd(r, 0x20);
    gc(r, 3, 0x10); /* OR */
    gc(r, 5, 0x02);
    gc(r, 8, 0x3c);
    mem_wr(r, 0x20, 0x06);
    check_planes(r, 0x20, 0x0f, 0x3f, 0x7d, 0xaa);
    rig_free(r);
}
END_TEST

START_TEST(write_mode3_xor)
{
    struct rig *r = rig_new();
    put_planes(r, 0x30, LATCH);
    (void)mem_rd(r, 0x30);
    gc(r, 3, 0x19); /* XOR, rotate 1 */
    gc(r, 0, 0x09);
    gc(r, 8, 0xf0);
    gc(r, 5, 0x03);
    mem_wr(r, 0x30, 0x0f); /* ror 1 = 0x87; & bit mask = 0x80 */
    check_planes(r, 0x30, 0x8f, 0x33, 0x55, 0x2a);
    rig_free(r);
}
END_TEST

START_TEST(write_mode1_latch_copy)
{
    struct rig *r = rig_new();
    put_planes(r, 0x40, LATCH);
    const uint8_t old[4] = {0x11, 0x22, 0x99, 0x44};
    put_planes(r, 0x50, old);
    (void)mem_rd(r, 0x40);
    gc(r, 5, 0x01);
    gc(r, 8, 0x00); /* the bit mask does not apply in write mode 1 */
    seq(r, 2, 0x0b); /* plane 2 not written */
    mem_wr(r, 0x50, 0xee);
    seq(r, 2, 0x0f);
    gc(r, 8, 0xff);
    check_planes(r, 0x50, 0x0f, 0x33, 0x99, 0xaa);
    rig_free(r);
}
END_TEST

START_TEST(read_mode1_color_compare)
{
    struct rig *r = rig_new();
    const uint8_t p[4] = {0xf0, 0xcc, 0xaa, 0x00};
    put_planes(r, 0x60, p);
    gc(r, 5, 0x08);
    gc(r, 2, 0x03);
    gc(r, 7, 0x0f);
    ck_assert_uint_eq(mem_rd(r, 0x60), 0x40);
    gc(r, 7, 0x01);
    ck_assert_uint_eq(mem_rd(r, 0x60), 0xf0);
    gc(r, 7, 0x00);
    ck_assert_uint_eq(mem_rd(r, 0x60), 0xff);
    rig_free(r);
}
END_TEST

START_TEST(chain4_and_odd_even)
{
    struct rig *r = rig_new();
    /* Chain-4: A1:A0 select the plane, the address is kept. */
    seq(r, 4, 0x0e);
    gc(r, 6, 0x05);
    gc(r, 5, 0x40);
    seq(r, 2, 0x0f);
    mem_wr(r, 0x1235, 0x77);
    ck_assert_uint_eq(mem_rd(r, 0x1235), 0x77);
    ck_assert_uint_eq(r->vga.vram[0x1234 * 4 + 1], 0x77);
    /* Map mask still gates chain-4 writes. */
    seq(r, 2, 0x0d);
    mem_wr(r, 0x1235, 0x55);
    ck_assert_uint_eq(mem_rd(r, 0x1235), 0x77);
    /* Odd/even at 0xB8000: even bytes to plane 0, odd to plane 1. */
    seq(r, 2, 0x03);
    seq(r, 4, 0x02);
    gc(r, 5, 0x10);
    gc(r, 6, 0x0e);
    mem_wr(r, 0x18100, 0x41);
    mem_wr(r, 0x18101, 0x1f);
    ck_assert_uint_eq(r->vga.vram[0x100 * 4 + 0], 0x41);
    ck_assert_uint_eq(r->vga.vram[0x100 * 4 + 1], 0x1f);
    ck_assert_uint_eq(mem_rd(r, 0x18101), 0x1f);
    /* Outside the selected map: not decoded. */
    ck_assert_uint_eq(mem_rd(r, 0x100), 0xff);
    rig_free(r);
}
END_TEST

START_TEST(attribute_flipflop_dac_crtc)
{
    struct rig *r = rig_new();
    (void)bus_in(&r->bus, 0x3da, 1);
    bus_out(&r->bus, 0x3c0, 0x05, 1);
    (void)bus_in(&r->bus, 0x3da, 1); /* back to index */
    bus_out(&r->bus, 0x3c0, 0x06, 1);
    bus_out(&r->bus, 0x3c0, 0x2b, 1); /* data for index 6 */
    ck_assert_uint_eq(r->vga.ar[6], 0x2b);
    ck_assert_uint_eq(r->vga.ar[5], 0x05);
    bus_out(&r->bus, 0x3c8, 200, 1);
    bus_out(&r->bus, 0x3c9, 0x3f, 1), bus_out(&r->bus, 0x3c9, 0x41, 1), bus_out(&r->bus, 0x3c9, 7, 1);
    bus_out(&r->bus, 0x3c7, 200, 1);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3c7, 1), 3);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3c9, 1), 0x3f);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3c9, 1), 0x01); /* 6-bit DAC */
    ck_assert_uint_eq(bus_in(&r->bus, 0x3c9, 1), 7);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3c8, 1), 201);
    /* CRTC at 0x3D4 with misc bit 0 set, at 0x3B4 with it clear. */
    bus_out(&r->bus, 0x3d4, 0x0e, 2);
    bus_out(&r->bus, 0x3d5, 0x12, 1);
    ck_assert_uint_eq(r->vga.crtc[0x0e], 0x12);
    bus_out(&r->bus, 0x3c2, 0x66, 1);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3d5, 1), 0xff);
    bus_out(&r->bus, 0x3b4, 0x0f, 1);
    bus_out(&r->bus, 0x3b5, 0x34, 1);
    ck_assert_uint_eq(r->vga.crtc[0x0f], 0x34);
    ck_assert_uint_eq(bus_in(&r->bus, 0x3cc, 1), 0x66);
    /* Word write to the index port: index then data. */
    bus_out(&r->bus, 0x3b4, 0x560a, 2);
    ck_assert_uint_eq(r->vga.crtc[0x0a], 0x56);
    rig_free(r);
}
END_TEST

START_TEST(retrace_follows_clock)
{
    struct rig *r = rig_new();
    unsigned seen[2] = {0, 0};
    for (unsigned i = 0; i < 4000; i++) {
        clock_account_insns(&r->clock, 10000); /* 10 us */
        seen[(bus_in(&r->bus, 0x3da, 1) >> 3) & 1]++;
    }
    /* 40 ms = ~2.8 frames at 70 Hz: retrace seen, but briefly. */
    ck_assert_uint_gt(seen[1], 0);
    ck_assert_uint_gt(seen[0], seen[1] * 5);
    rig_free(r);
}
END_TEST

START_TEST(dispi_and_lfb_bar)
{
    struct rig *r = rig_new();
    bus_out(&r->bus, 0x1ce, 0, 2);
    ck_assert_uint_eq(bus_in(&r->bus, 0x1cf, 2), 0xb0c5);
    bus_out(&r->bus, 0x1ce, 10, 2);
    ck_assert_uint_eq(bus_in(&r->bus, 0x1cf, 2), VGA_VRAM_SIZE >> 16);
    /* An invalid depth is refused. */
    bus_out(&r->bus, 0x1ce, 3, 2);
    bus_out(&r->bus, 0x1cf, 12, 2);
    ck_assert_uint_eq(bus_in(&r->bus, 0x1cf, 2), 8);
    bus_out(&r->bus, 0x1cf, 32, 2);
    bus_out(&r->bus, 0x1ce, 1, 2);
    bus_out(&r->bus, 0x1cf, 1280, 2);
    bus_out(&r->bus, 0x1ce, 2, 2);
    bus_out(&r->bus, 0x1cf, 1024, 2);
    bus_out(&r->bus, 0x1ce, 4, 2);
    bus_out(&r->bus, 0x1cf, 0x41, 2);
    ck_assert_uint_eq(r->vga.vbe_line_offset, 1280 * 4);
    unsigned w, h;
    ck_assert_int_eq(vga_render_mode(&r->vga, &w, &h), VGA_KIND_VBE);
    ck_assert_uint_eq(w, 1280);
    ck_assert_uint_eq(h, 1024);
    /* XRES is read-only while enabled. */
    bus_out(&r->bus, 0x1ce, 1, 2);
    bus_out(&r->bus, 0x1cf, 640, 2);
    ck_assert_uint_eq(bus_in(&r->bus, 0x1cf, 2), 1280);

    /* BAR0: 16 MiB prefetchable; host memory where the guest puts it. */
    uint8_t devfn = r->vga.pci.devfn;
    pci_config_write(&r->pci, 0, devfn, 0x10, 0xffffffffu, 4);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, devfn, 0x10, 4), 0xff000008u);
    pci_config_write(&r->pci, 0, devfn, 0x10, 0xe1000000u, 4);
    pci_config_write(&r->pci, 0, devfn, 4, 2, 2);
    ck_assert_int_eq(mmu_find_region(&r->mmu, 0xe1000010u)->kind, PHYS_HOST);
    mmu_phys_write32(&r->mmu, 0xe1000010u, 0x00abcdef);
    ck_assert_uint_eq(r->vga.vram[0x10], 0xef);
    ck_assert_uint_eq(mmu_phys_read32(&r->mmu, 0xe1000010u), 0x00abcdef);
    /* Moved: the old place is the PCI window again (nothing decodes it). */
    pci_config_write(&r->pci, 0, devfn, 0x10, 0xe4000000u, 4);
    ck_assert_uint_eq(mmu_phys_read32(&r->mmu, 0xe1000010u), 0xffffffffu);
    ck_assert_uint_eq(mmu_phys_read32(&r->mmu, 0xe4000010u), 0x00abcdef);
    /* Memory decoding off: gone. */
    pci_config_write(&r->pci, 0, devfn, 4, 0, 2);
    ck_assert_uint_eq(mmu_phys_read32(&r->mmu, 0xe4000010u), 0xffffffffu);
    /* The banked window at 0xA0000 reaches the same VRAM. */
    bus_out(&r->bus, 0x1ce, 5, 2);
    bus_out(&r->bus, 0x1cf, 3, 2);
    mem_wr(r, 0x22, 0x5a);
    ck_assert_uint_eq(r->vga.vram[3 * 0x10000 + 0x22], 0x5a);

    /* The expansion ROM: 4 KiB (3000 bytes rounded up), enable bit 0. */
    pci_config_write(&r->pci, 0, devfn, 4, 2, 2);
    pci_config_write(&r->pci, 0, devfn, 0x30, 0xfffffffeu, 4);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, devfn, 0x30, 4), 0xfffff000u);
    pci_config_write(&r->pci, 0, devfn, 0x30, 0xe8000001u, 4);
    ck_assert_uint_eq(mmu_phys_read32(&r->mmu, 0xe8000000u) & 0xffffff, 0x06aa55);
    rig_free(r);
}
END_TEST

START_TEST(render_only_changed_rows)
{
    struct rig *r = rig_new();
    /* Mode 13h by registers (as vga_guest.c's set_m13, minus the palette). */
    static const uint8_t crtc13[25] = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00,
                                       0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x0e,
                                       0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff};
    bus_out(&r->bus, 0x3c2, 0x63, 1);
    seq(r, 1, 0x01), seq(r, 2, 0x0f), seq(r, 4, 0x0e);
    for (uint8_t i = 0; i < 25; i++) bus_out(&r->bus, 0x3d4, i, 1), bus_out(&r->bus, 0x3d5, crtc13[i], 1);
    gc(r, 5, 0x40), gc(r, 6, 0x05);
    (void)bus_in(&r->bus, 0x3da, 1);
    bus_out(&r->bus, 0x3c0, 0x30, 1), bus_out(&r->bus, 0x3c0, 0x41, 1);
    bus_out(&r->bus, 0x3c8, 12, 1);
    bus_out(&r->bus, 0x3c9, 0x3f, 1), bus_out(&r->bus, 0x3c9, 0x15, 1), bus_out(&r->bus, 0x3c9, 0x15, 1);
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->w, 320);
    ck_assert_uint_eq(r->h, 200);
    r->updates = 0;
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->updates, 0); /* nothing changed */
    mem_wr(r, 77 * 320 + 10, 0x0c);
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->updates, 1);
    ck_assert_uint_eq(r->upd_y0, 77);
    ck_assert_uint_eq(r->upd_y1, 78);
    ck_assert_uint_eq(r->pixels[77 * 320 + 10], 0xff5555);
    ck_assert_uint_eq(r->pixels[77 * 320 + 11], 0x000000);
    rig_free(r);
}
END_TEST

/* Text mode from the reset state: font from plane 2, 9th column, cursor
 * scan lines and blink, attribute blink. */
START_TEST(text_font_cursor_blink)
{
    struct rig *r = rig_new();
    /* Glyphs into map 0 of plane 2. */
    seq(r, 2, 0x04), seq(r, 4, 0x06), gc(r, 5, 0x00), gc(r, 6, 0x04), gc(r, 4, 2);
    for (unsigned l = 0; l < 16; l++) {
        mem_wr(r, 0xc1 * 32 + l, 0x81);
        mem_wr(r, 0x41 * 32 + l, 0x01);
    }
    seq(r, 2, 0x03), seq(r, 4, 0x02), gc(r, 5, 0x10), gc(r, 6, 0x0e), gc(r, 4, 0);
    /* Cells 0-3 of row 0: cursor cell, line-graphics char, plain char, blinking char. */
    const uint8_t cells[8] = {0x00, 0x07, 0xc1, 0x1e, 0x41, 0x1e, 0x41, 0x9e};
    for (unsigned i = 0; i < 8; i++) mem_wr(r, 0x18000 + i, cells[i]);
    bus_out(&r->bus, 0x3d4, 0x0a, 1), bus_out(&r->bus, 0x3d5, 13, 1);
    bus_out(&r->bus, 0x3d4, 0x0b, 1), bus_out(&r->bus, 0x3d5, 14, 1);
    r->vga.frames = 0;
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->w, 720);
    ck_assert_uint_eq(r->h, 400);
    const uint32_t yellow = 0xffff55, blue = 0x0000aa, grey = 0xaaaaaa;
    uint32_t *row = r->pixels + 5 * 720; /* scan line 5 */
    ck_assert_uint_eq(row[9], yellow);
    ck_assert_uint_eq(row[10], blue);
    ck_assert_uint_eq(row[16], yellow);
    ck_assert_uint_eq(row[17], yellow); /* 9th dot repeats the 8th for 0xC0-0xDF */
    ck_assert_uint_eq(row[18 + 7], yellow);
    ck_assert_uint_eq(row[18 + 8], blue); /* ... but not for 'A' */
    ck_assert_uint_eq(row[27 + 7], yellow); /* blink phase on */
    /* Cursor on scan lines 13-14 of cell 0, in its foreground colour. */
    ck_assert_uint_eq(r->pixels[12 * 720 + 3], 0);
    ck_assert_uint_eq(r->pixels[13 * 720 + 3], grey);
    ck_assert_uint_eq(r->pixels[14 * 720 + 8], grey);
    ck_assert_uint_eq(r->pixels[15 * 720 + 3], 0);
    /* 16 frames later the cursor is off; 32 later blinking text too. */
    r->vga.frames = 16;
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->pixels[13 * 720 + 3], 0);
    ck_assert_uint_eq(r->pixels[5 * 720 + 27 + 7], yellow);
    r->vga.frames = 32;
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->pixels[5 * 720 + 27 + 7], blue);
    ck_assert_uint_eq(r->pixels[5 * 720 + 18 + 7], yellow);
    /* 8-dot characters: 640 wide. */
    seq(r, 1, 0x01);
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->w, 640);
    ck_assert_uint_eq(r->pixels[5 * 640 + 8], yellow);
    ck_assert_uint_eq(r->pixels[5 * 640 + 15], yellow);
    rig_free(r);
}
END_TEST

/* A CRTC programmed wider than the largest surface: the picture is cut at
 * 2048 pixels, nothing is written past it (ASan build). */
START_TEST(oversized_crtc)
{
    struct rig *r = rig_new();
    bus_out(&r->bus, 0x3d4, 0x11, 1), bus_out(&r->bus, 0x3d5, 0x00, 1); /* unlock */
    bus_out(&r->bus, 0x3d4, 0x01, 1), bus_out(&r->bus, 0x3d5, 0xff, 1);
    vga_render(&r->vga, true);
    ck_assert_uint_eq(r->w, 2048);
    gc(r, 6, 0x05); /* graphics, 16 colours: 256 * 8 = 2048 */
    vga_render(&r->vga, true);
    ck_assert_uint_eq(r->w, 2048);
    gc(r, 5, 0x40);
    vga_render(&r->vga, true);
    ck_assert_uint_eq(r->w, 1024);
    rig_free(r);
}
END_TEST

/* Mode 12h-like planar graphics: horizontal pel panning shifts the picture
 * left by AR13 pixels; text: preset row scan starts the screen inside row 0. */
START_TEST(pel_panning_and_preset_row_scan)
{
    struct rig *r = rig_new();
    bus_out(&r->bus, 0x3d4, 0x11, 1), bus_out(&r->bus, 0x3d5, 0x00, 1);
    bus_out(&r->bus, 0x3d4, 0x09, 1), bus_out(&r->bus, 0x3d5, 0x40, 1); /* 1 scan line per row */
    bus_out(&r->bus, 0x3d4, 0x17, 1), bus_out(&r->bus, 0x3d5, 0xe3, 1); /* byte mode */
    planar(r);
    /* Byte 0 of line 0: only the first pixel lit (colour 15); byte 1 too. */
    mem_wr(r, 0, 0x80);
    mem_wr(r, 1, 0x80);
    (void)bus_in(&r->bus, 0x3da, 1);
    bus_out(&r->bus, 0x3c0, 0x30, 1), bus_out(&r->bus, 0x3c0, 0x01, 1); /* graphics */
    vga_render(&r->vga, true);
    ck_assert_uint_eq(r->w, 640);
    const uint32_t white = 0xffffff;
    ck_assert_uint_eq(r->pixels[0], white);
    ck_assert_uint_eq(r->pixels[8], white);
    (void)bus_in(&r->bus, 0x3da, 1);
    bus_out(&r->bus, 0x3c0, 0x33, 1), bus_out(&r->bus, 0x3c0, 0x03, 1); /* pan by 3 */
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->pixels[0], 0);
    ck_assert_uint_eq(r->pixels[5], white);
    ck_assert_uint_eq(r->pixels[8], 0);
    rig_free(r);

    r = rig_new();
    seq(r, 2, 0x04), seq(r, 4, 0x06), gc(r, 5, 0x00), gc(r, 6, 0x04), gc(r, 4, 2);
    for (unsigned l = 0; l < 16; l++) mem_wr(r, 0x41 * 32 + l, (uint8_t)(l == 5 ? 0xff : 0));
    seq(r, 2, 0x03), seq(r, 4, 0x02), gc(r, 5, 0x10), gc(r, 6, 0x0e), gc(r, 4, 0);
    mem_wr(r, 0x18000, 0x41), mem_wr(r, 0x18001, 0x07);
    bus_out(&r->bus, 0x3d4, 0x0a, 1), bus_out(&r->bus, 0x3d5, 0x20, 1); /* no cursor */
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->pixels[5 * 720 + 2], 0xaaaaaa);
    ck_assert_uint_eq(r->pixels[0 * 720 + 2], 0);
    bus_out(&r->bus, 0x3d4, 0x08, 1), bus_out(&r->bus, 0x3d5, 0x05, 1);
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->pixels[0 * 720 + 2], 0xaaaaaa);
    ck_assert_uint_eq(r->pixels[5 * 720 + 2], 0);
    rig_free(r);
}
END_TEST

/* VBE 4 bpp: planar memory through the window, drawn like mode 12h. */
START_TEST(vbe_4bpp_planar)
{
    struct rig *r = rig_new();
    const uint16_t regs[][2] = {{1, 640}, {2, 480}, {3, 4}, {4, 0x01}};
    for (unsigned i = 0; i < 4; i++)
        bus_out(&r->bus, 0x1ce, regs[i][0], 2), bus_out(&r->bus, 0x1cf, regs[i][1], 2);
    gc(r, 5, 0x02); /* write mode 2 */
    seq(r, 2, 0x0f);
    (void)mem_rd(r, 80 * 10 + 2);
    mem_wr(r, 80 * 10 + 2, 9);
    vga_render(&r->vga, false);
    ck_assert_uint_eq(r->w, 640);
    ck_assert_uint_eq(r->pixels[10 * 640 + 15], 0);
    ck_assert_uint_eq(r->pixels[10 * 640 + 16], 0x5555ff); /* AR 9 = 0x39: EGA light blue */
    ck_assert_uint_eq(r->pixels[10 * 640 + 23], 0x5555ff);
    ck_assert_uint_eq(r->pixels[10 * 640 + 24], 0);
    ck_assert_uint_eq(r->pixels[11 * 640 + 16], 0);
    rig_free(r);
}
END_TEST

START_TEST(register_fuzz)
{
    struct rig *r = rig_new();
    unsigned seed = 12345;
    for (unsigned i = 0; i < 200000; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned x = seed >> 8;
        switch (x % 6) {
        case 0: bus_out(&r->bus, (uint16_t)(0x3b0 + (x >> 3) % 0x30), x >> 12, 1); break;
        case 1: (void)bus_in(&r->bus, (uint16_t)(0x3b0 + (x >> 3) % 0x30), 1); break;
        case 2: bus_out(&r->bus, (uint16_t)(0x1ce + (x >> 3) % 2), x >> 8, 2); break;
        case 3: mem_wr(r, (x >> 3) % 0x20000, (uint8_t)(x >> 20)); break;
        case 4: (void)mem_rd(r, (x >> 3) % 0x20000); break;
        default:
            if (i % 1000 == 0) vga_render(&r->vga, (x >> 4) & 1);
            break;
        }
    }
    vga_render(&r->vga, true);
    rig_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("vga");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, write_mode0_rotate_setreset_and);
    tcase_add_test(tc, write_mode2_or);
    tcase_add_test(tc, write_mode3_xor);
    tcase_add_test(tc, write_mode1_latch_copy);
    tcase_add_test(tc, read_mode1_color_compare);
    tcase_add_test(tc, chain4_and_odd_even);
    tcase_add_test(tc, attribute_flipflop_dac_crtc);
    tcase_add_test(tc, retrace_follows_clock);
    tcase_add_test(tc, dispi_and_lfb_bar);
    tcase_add_test(tc, render_only_changed_rows);
    tcase_add_test(tc, text_font_cursor_blink);
    tcase_add_test(tc, oversized_crtc);
    tcase_add_test(tc, pel_panning_and_preset_row_scan);
    tcase_add_test(tc, vbe_4bpp_planar);
    tcase_add_test(tc, register_fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
