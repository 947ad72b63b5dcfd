/*
 * vga_guest.c — draws the scenes of vga_scene.h by programming the VGA
 * directly (no BIOS): full register sets for text, mode 12h and mode 13h,
 * the planar write/read modes, chain-4 and unchained addressing, then the
 * Bochs DISPI registers and the PCI linear framebuffer.  After each scene it
 * asks for a screendump through Umbra's screendump-port device (port
 * SHOT_PORT, the byte = scene number); the host compares each picture with
 * the reference (vga_ref.c).  Read-back checks (latches, read mode 1,
 * chain-4 reads, DISPI registers) are made here and reported on COM1.
 */
#include "guest.h"
#include "vga_scene.h"

const char guest_name[] = "vga";

#define SHOT_PORT 0xe0

static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static volatile u8 *const vmem = (volatile u8 *)0xa0000;

static void seq(u8 i, u8 v) { outb(0x3c4, i), outb(0x3c5, v); }
static void gc(u8 i, u8 v) { outb(0x3ce, i), outb(0x3cf, v); }
static void crtc(u8 i, u8 v) { outb(0x3d4, i), outb(0x3d5, v); }
static u8 crtc_get(u8 i) { outb(0x3d4, i); return inb(0x3d5); }
static void ar(u8 i, u8 v)
{
    (void)inb(0x3da); /* flip-flop to index */
    outb(0x3c0, i);
    outb(0x3c0, v);
}
static void ar_enable_display(void)
{
    (void)inb(0x3da);
    outb(0x3c0, 0x20);
}
static void dac(u8 i, u8 r, u8 g, u8 b)
{
    outb(0x3c8, i);
    outb(0x3c9, r), outb(0x3c9, g), outb(0x3c9, b);
}

static u32 hold_at = 0xffffffffu; /* -append hold=N: stay on scene N (the window test) */

static void shot(unsigned n)
{
    outb(SHOT_PORT, (u8)n);
    kprintf("ok screendump %u\n", n);
    if (n == hold_at) {
        /* Stay on this picture; echo what the keyboard sends (the window
         * test types into the window and looks for the scan codes). */
        outb(0x64, 0xae); /* keyboard interface on */
        outb(0x64, 0xa8); /* mouse interface on */
        outb(0x64, 0xd4);
        outb(0x60, 0xf4); /* mouse: enable data reporting (answers FA) */
        kprintf("holding scene %u\n", n);
        for (;;) {
            u8 st = inb(0x64);
            if (st & 1) kprintf("%s %02x\n", (st & 0x20) ? "aux" : "key", inb(0x60));
            __asm__ volatile("pause");
        }
    }
}

/* Load a full register set, as a mode-set routine does. */
static void set_regs(u8 misc, const u8 *s, const u8 *c, const u8 *g, const u8 *a)
{
    outb(0x3c2, misc);
    for (u8 i = 0; i < 5; i++) seq(i, s[i]);
    /* Unlock CR0-CR7, then load with the lock bit of the table kept off. */
    crtc(0x11, crtc_get(0x11) & 0x7f);
    for (u8 i = 0; i < 25; i++) crtc(i, i == 0x11 ? c[i] & 0x7f : c[i]);
    for (u8 i = 0; i < 9; i++) gc(i, g[i]);
    for (u8 i = 0; i < 21; i++) ar(i, a[i]);
    ar_enable_display();
}

static const u8 text_seq[5] = {0x03, 0x00, 0x03, 0x00, 0x02};
static const u8 text_crtc[25] = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                                 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x50, 0x9c, 0x0e,
                                 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff};
static const u8 text_gc[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff};

static const u8 m12_seq[5] = {0x03, 0x01, 0x08, 0x00, 0x06};
static const u8 m12_crtc[25] = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00,
                                0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xea, 0x0c,
                                0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff};
static const u8 m12_gc[9] = {0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x05, 0x0f, 0xff};

static const u8 m13_seq[5] = {0x03, 0x01, 0x0f, 0x00, 0x0e};
static const u8 m13_crtc[25] = {0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00,
                                0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x0e,
                                0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff};
static const u8 m13_gc[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff};

/* ---- scene 0 ---- */
static void scene_text(void)
{
    u8 a[21];
    for (unsigned i = 0; i < 16; i++) a[i] = (u8)text_ar(i);
    a[16] = 0x04; /* mode control: text, line graphics on, blink off */
    a[17] = 0x00, a[18] = 0x0f, a[19] = 0x08, a[20] = 0x00;
    set_regs(0x67, text_seq, text_crtc, text_gc, a);
    crtc(0x0a, 0x20); /* cursor off: its blink would make the picture time-dependent */

    /* Fonts into plane 2: odd/even off, sequential, map at 0xA0000. */
    seq(2, 0x04);
    seq(4, 0x06);
    gc(4, 0x02);
    gc(5, 0x00);
    gc(6, 0x04);
    for (unsigned map = 0; map < 2; map++)
        for (unsigned ch = 0; ch < 256; ch++)
            for (unsigned l = 0; l < 32; l++)
                vmem[map * 0x4000 + ch * 32 + l] = l < TEXT_CHAR_H ? (u8)font_row(map, ch, l) : 0;
    /* Read one back through read mode 0 / plane 2. */
    CHECK(vmem[0x4000 + 65 * 32 + 3] == font_row(1, 65, 3), "font read-back via plane 2");
    seq(2, 0x03);
    seq(4, 0x02);
    gc(4, 0x00);
    gc(5, 0x10);
    gc(6, 0x0e);
    seq(3, (TEXT_MAP_A & 3) << 2 | (TEXT_MAP_B & 3));

    for (unsigned i = 0; i < 64; i++) dac((u8)i, (u8)text_dac(i, 0), (u8)text_dac(i, 1), (u8)text_dac(i, 2));
    volatile u16 *text = (volatile u16 *)0xb8000;
    for (unsigned r = 0; r < TEXT_ROWS; r++)
        for (unsigned c = 0; c < TEXT_COLS; c++)
            text[r * 80 + c] = (u16)(text_char(r, c) | text_attr(r, c) << 8);
    CHECK(text[3 * 80 + 7] == (text_char(3, 7) | text_attr(3, 7) << 8), "text read-back (odd/even)");
    shot(SCENE_TEXT);
}

/* ---- scene 1 ---- */
static void m12_byte(unsigned off, u8 mask, const struct m12_rect *r)
{
    (void)vmem[off]; /* load the latches */
    switch (r->kind) {
    case M12_WM2:
        gc(8, mask);
        vmem[off] = (u8)r->color;
        break;
    case M12_WM0_SR:
    case M12_XOR:
        gc(8, mask);
        vmem[off] = 0x5a; /* ignored: set/reset covers every plane */
        break;
    case M12_WM3:
        vmem[off] = mask; /* the CPU data is the bit mask (GC8 = 0xFF) */
        break;
    default:
        vmem[off] = M12_ROTATE_DATA;
        break;
    }
}

static void scene_m12(void)
{
    u8 a[21];
    for (unsigned i = 0; i < 16; i++) a[i] = (u8)i;
    a[16] = 0x01, a[17] = 0x00, a[18] = 0x0f, a[19] = 0x00, a[20] = 0x00;
    set_regs(0xe3, m12_seq, m12_crtc, m12_gc, a);
    for (unsigned i = 0; i < 16; i++) dac((u8)i, (u8)m12_dac(i, 0), (u8)m12_dac(i, 1), (u8)m12_dac(i, 2));

    for (unsigned k = 0; k < M12_NRECTS; k++) {
        const struct m12_rect *r = &m12_rects[k];
        seq(2, 0x0f);
        gc(3, 0x00);
        gc(1, 0x00);
        gc(8, 0xff);
        switch (r->kind) {
        case M12_WM2: gc(5, 0x02); break;
        case M12_WM0_SR: gc(5, 0x00), gc(0, (u8)r->color), gc(1, 0x0f); break;
        case M12_WM3: gc(5, 0x03), gc(0, (u8)r->color), gc(8, 0xff); break;
        case M12_XOR: gc(5, 0x00), gc(0, (u8)r->color), gc(1, 0x0f), gc(3, 0x18); break;
        default: gc(5, 0x00), gc(3, (u8)(r->arg & 7)), seq(2, (u8)r->color); break;
        }
        for (unsigned y = r->y; y < r->y + r->h; y++)
            for (unsigned bx = r->x / 8; bx <= (r->x + r->w - 1) / 8; bx++) {
                u8 mask = 0;
                for (unsigned b = 0; b < 8; b++) {
                    unsigned x = bx * 8 + b;
                    if (x >= r->x && x < r->x + r->w) mask |= (u8)(0x80 >> b);
                }
                m12_byte(y * 80 + bx, mask, r);
            }
    }
    gc(3, 0x00), gc(1, 0x00), gc(8, 0xff), gc(5, 0x00), seq(2, 0x0f);

    /* Read mode 1 (colour compare) and read mode 0 on what was drawn: the
     * single pixel of colour 13 at (333, 333). */
    gc(5, 0x08);
    gc(2, 13);
    gc(7, 0x0f);
    u8 cmp = vmem[333 * 80 + 333 / 8];
    CHECK(cmp == (0x80 >> (333 % 8)), "read mode 1: colour compare gave 0x%x", cmp);
    gc(7, 0x00); /* colour don't care on every plane: every pixel matches */
    cmp = vmem[333 * 80 + 333 / 8];
    CHECK(cmp == 0xff, "read mode 1 with no planes compared gave 0x%x", cmp);
    gc(5, 0x00);
    gc(7, 0x0f);
    gc(4, 2); /* plane 2 of the byte holding (333,333): colour 13 = 1101b has bit 2 set */
    CHECK(vmem[333 * 80 + 333 / 8] & (0x80 >> (333 % 8)), "read mode 0 plane 2");
    gc(4, 0);
    shot(SCENE_M12);
}

/* ---- scenes 2 and 3 ---- */
static void set_m13(void)
{
    u8 a[21];
    for (unsigned i = 0; i < 16; i++) a[i] = (u8)i;
    a[16] = 0x41, a[17] = 0x00, a[18] = 0x0f, a[19] = 0x00, a[20] = 0x00;
    set_regs(0x63, m13_seq, m13_crtc, m13_gc, a);
    outb(0x3c8, 0);
    for (unsigned i = 0; i < 256; i++)
        outb(0x3c9, (u8)dac256(i, 0)), outb(0x3c9, (u8)dac256(i, 1)), outb(0x3c9, (u8)dac256(i, 2));
    /* DAC read-back through the read index. */
    outb(0x3c7, 77);
    u8 r = inb(0x3c9), g = inb(0x3c9), b = inb(0x3c9);
    CHECK(r == dac256(77, 0) && g == dac256(77, 1) && b == dac256(77, 2), "DAC read-back");
}

static void scene_m13(void)
{
    set_m13();
    for (unsigned y = 0; y < M13_H; y++)
        for (unsigned x = 0; x < M13_W; x++) vmem[y * 320 + x] = (u8)m13_pixel(x, y);
    CHECK(vmem[123 * 320 + 45] == m13_pixel(45, 123), "chain-4 read-back");
    shot(SCENE_M13);
}

static void scene_unchained(void)
{
    set_m13();
    seq(4, 0x06);    /* chain-4 off */
    crtc(0x14, 0x00); /* dword mode off */
    crtc(0x17, 0xe3); /* byte mode */
    for (unsigned p = 0; p < 4; p++) {
        seq(2, (u8)(1 << p));
        for (unsigned y = 0; y < M13_H; y++)
            for (unsigned k = 0; k < 80; k++) vmem[y * 80 + k] = (u8)unchained_pixel(4 * k + p, y);
    }
    /* Latch copy: read loads all four planes, write mode 1 stores them. */
    seq(2, 0x0f);
    gc(5, 0x41); /* keep the 256-colour shift mode (bit 6) */
    for (unsigned y = 0; y < UNCHAINED_COPY_ROWS; y++)
        for (unsigned k = 0; k < 80; k++) {
            (void)vmem[y * 80 + k];
            vmem[(y + UNCHAINED_COPY_DST) * 80 + k] = 0;
        }
    gc(5, 0x40);
    gc(4, 3);
    CHECK(vmem[(UNCHAINED_COPY_DST + 5) * 80 + 9] == unchained_pixel(4 * 9 + 3, 5), "latch copy");
    gc(4, 0);
    shot(SCENE_UNCHAINED);
}

/* ---- scene 6: CGA mode 4 ---- */
static const u8 cga_seq[5] = {0x03, 0x09, 0x03, 0x00, 0x02};
static const u8 cga_crtc[25] = {0x2d, 0x27, 0x28, 0x90, 0x2b, 0x80, 0xbf, 0x1f, 0x00,
                                0xc1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                                0x8f, 0x14, 0x00, 0x96, 0xb9, 0xa2, 0xff};
static const u8 cga_gc[9] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0f, 0x00, 0xff};

static void scene_cga4(void)
{
    u8 a[21] = {0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12,
                0x13, 0x14, 0x15, 0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00};
    set_regs(0x63, cga_seq, cga_crtc, cga_gc, a);
    for (unsigned i = 0; i < 4; i++) {
        u8 d = cga_ar[i];
        dac(d, (u8)cga_dac(d, 0), (u8)cga_dac(d, 1), (u8)cga_dac(d, 2));
    }
    /* CGA layout: even lines from 0xB8000, odd lines from 0xBA000, 80 bytes
     * a line, 4 pixels a byte, leftmost in bits 7-6. */
    volatile u8 *cga = (volatile u8 *)0xb8000;
    for (unsigned y = 0; y < CGA_H; y++)
        for (unsigned bx = 0; bx < CGA_W / 4; bx++) {
            u8 b = 0;
            for (unsigned k = 0; k < 4; k++) b |= (u8)(cga_pixel(bx * 4 + k, y) << (6 - 2 * k));
            cga[(y & 1) * 0x2000 + (y >> 1) * 80 + bx] = b;
        }
    shot(SCENE_CGA4);
}

/* ---- scenes 4 and 5: Bochs VBE ---- */
static void dispi(u16 i, u16 v) { outw(0x1ce, i), outw(0x1cf, v); }
static u16 dispi_get(u16 i) { outw(0x1ce, i); return inw(0x1cf); }

static u32 pci_cfg(unsigned dev, unsigned off)
{
    outl(0xcf8, 0x80000000u | dev << 11 | off);
    return inl(0xcfc);
}
static void pci_cfg_set(unsigned dev, unsigned off, u32 v)
{
    outl(0xcf8, 0x80000000u | dev << 11 | off);
    outl(0xcfc, v);
}

/* The framebuffer BAR; placed here if no firmware did. */
static volatile u8 *find_lfb(void)
{
    for (unsigned dev = 0; dev < 32; dev++) {
        if (pci_cfg(dev, 0) != 0x11111234u) continue;
        CHECK((pci_cfg(dev, 8) >> 8) == 0x030000, "VGA class code");
        u32 bar = pci_cfg(dev, 0x10);
        CHECK(bar & 8, "BAR0 prefetchable");
        if ((bar & ~15u) == 0) {
            pci_cfg_set(dev, 0x10, 0xffffffffu);
            u32 size = ~(pci_cfg(dev, 0x10) & ~15u) + 1;
            CHECK(size >= (8u << 20), "BAR0 size %u", size);
            pci_cfg_set(dev, 0x10, 0xe0000000u);
            bar = pci_cfg(dev, 0x10);
        }
        pci_cfg_set(dev, 4, pci_cfg(dev, 4) | 2); /* memory decoding on */
        return (volatile u8 *)(bar & ~15u);
    }
    fail("no 1234:1111 VGA on PCI bus 0");
}

static void vbe_mode(unsigned w, unsigned h, unsigned bpp)
{
    dispi(4, 0); /* disable to change the mode */
    dispi(1, (u16)w);
    dispi(2, (u16)h);
    dispi(3, (u16)bpp);
    dispi(4, 0x41); /* enabled, LFB */
    CHECK(dispi_get(1) == w && dispi_get(2) == h && dispi_get(3) == bpp, "DISPI mode read-back");
}

static void scene_vbe32(volatile u8 *lfb)
{
    outw(0x1ce, 0);
    outw(0x1cf, 0xb0c5);
    CHECK(inw(0x1cf) == 0xb0c5, "DISPI ID 0xB0C5");
    CHECK(dispi_get(10) >= 128, "VIDEO_MEMORY_64K: %u", dispi_get(10));
    dispi(4, 0x02); /* GETCAPS */
    CHECK(dispi_get(1) >= 1280 && dispi_get(2) >= 1024 && dispi_get(3) == 32, "DISPI caps");
    vbe_mode(VBE32_W, VBE32_H, 32);
    volatile u32 *fb = (volatile u32 *)lfb;
    for (unsigned y = 0; y < VBE32_BANKED_FROM; y++)
        for (unsigned x = 0; x < VBE32_W; x++) fb[y * VBE32_W + x] = vbe32_pixel(x, y);
    /* The rest through the 64 KiB banks at 0xA0000. */
    for (unsigned y = VBE32_BANKED_FROM; y < VBE32_H; y++)
        for (unsigned x = 0; x < VBE32_W; x++) {
            u32 off = (y * VBE32_W + x) * 4;
            dispi(5, (u16)(off >> 16));
            *(volatile u32 *)(vmem + (off & 0xffff)) = vbe32_pixel(x, y);
        }
    CHECK(fb[(VBE32_H - 1) * VBE32_W + 5] == vbe32_pixel(5, VBE32_H - 1), "banked write seen in LFB");
    shot(SCENE_VBE32);
}

static void scene_vbe16(volatile u8 *lfb)
{
    vbe_mode(VBE16_W, VBE16_H, 16);
    volatile u16 *fb = (volatile u16 *)lfb;
    for (unsigned y = 0; y < VBE16_H; y++)
        for (unsigned x = 0; x < VBE16_W; x++) fb[y * VBE16_W + x] = (u16)vbe16_pixel(x, y);
    shot(SCENE_VBE16);
}

void test_main(void)
{
    hold_at = cmdline_u32("hold", 0xffffffffu);
    CHECK(inb(SHOT_PORT) == 0, "screendump-port missing (read 0x%x)", inb(SHOT_PORT));
    scene_text();
    scene_m12();
    scene_m13();
    scene_unchained();
    scene_cga4();
    volatile u8 *lfb = find_lfb();
    scene_vbe32(lfb);
    scene_vbe16(lfb);
}
