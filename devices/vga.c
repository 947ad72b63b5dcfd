/*
 * vga.c — the standard VGA's registers and memory paths, with the Bochs VBE
 * (DISPI) extensions, as the PCI device 1234:1111 class 0300.
 *
 * References: IBM VGA Technical Reference (sequencer, CRTC, graphics and
 * attribute controllers, DAC), FreeVGA's register descriptions, and the
 * Bochs VBE "DISPI" interface (vbe_display_api.txt) for ports 0x1CE/0x1CF.
 *
 * Design choices:
 * - VRAM is one host allocation.  Planar byte o of plane p lives at
 *   vram[o * 4 + p], so a 32-bit load gives the four latches at once; the
 *   VBE modes and the linear framebuffer see the same bytes linearly.
 * - The legacy window is MMIO (every access runs the graphics controller's
 *   logic); the linear framebuffer is plain host memory in the guest-physical
 *   map (mmu_map_host), moved when the guest reprograms BAR0, so stores to
 *   it cost what RAM stores cost.  The renderer finds changes by comparing
 *   VRAM with a snapshot instead of trapping writes.
 * - Addresses follow the hardware: chain-4 keeps the CPU address (plane =
 *   A1:A0, plane offset = A & ~3), odd/even keeps it too (plane = A0,
 *   offset = A & ~1); the CRTC's byte/word/dword address modes undo this on
 *   the display side (vga_render.c).
 */
#include "devices/vga.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_FRAME 14285714u /* 70 Hz, the VGA's 400/480-line refresh rate */
#define NS_PER_LINE 31778u     /* 31.47 kHz */
#define NS_VRETRACE 64000u     /* two lines of vertical sync */
#define NS_HBLANK 6000u
#define REFRESH_NS 16666667u   /* how often the host display is updated (60 Hz) */

static uint32_t vbe_bytes_pp(uint16_t bpp) { return (bpp + 7) / 8; }

static bool vbe_enabled(const struct vga *v)
{
    return v->vbe_regs[VBE_INDEX_ENABLE] & VBE_DISPI_ENABLED;
}

/* --- the legacy memory window --- */

/* Offset into the window → offset the planar logic sees, or -1 when the
 * graphics controller's memory map does not decode it. */
static int64_t window_offset(const struct vga *v, uint32_t addr)
{
    switch ((v->gc[6] >> 2) & 3) {
    case 0: return addr;
    case 1: return addr < 0x10000 ? (int64_t)addr : -1;
    case 2: return addr - 0x10000 < 0x8000 ? (int64_t)(addr - 0x10000) : -1;
    default: return addr - 0x18000 < 0x8000 ? (int64_t)(addr - 0x18000) : -1;
    }
}

static uint32_t vbe_bank_addr(const struct vga *v, uint32_t addr)
{
    return (v->vbe_regs[VBE_INDEX_BANK] * 0x10000u + (addr & 0xffff)) % v->vram_size;
}

uint32_t vga_mem_read(struct vga *v, uint32_t addr)
{
    if (vbe_enabled(v) && v->vbe_regs[VBE_INDEX_BPP] > 4) {
        if (addr >= 0x10000) return 0xff;
        return v->vram[vbe_bank_addr(v, addr)];
    }
    int64_t o = window_offset(v, addr);
    if (o < 0) return 0xff;
    uint32_t a = (uint32_t)o;
    if (v->seq[4] & 0x08) /* chain-4 */
        return v->vram[((a & ~3u) & VGA_PLANE_MASK) * 4 + (a & 3)];
    if (v->gc[5] & 0x10) { /* host odd/even */
        unsigned plane = (v->gc[4] & 2) | (a & 1);
        return v->vram[((a & ~1u) & VGA_PLANE_MASK) * 4 + plane];
    }
    a &= VGA_PLANE_MASK;
    memcpy(v->latch, &v->vram[a * 4], 4);
    if (!(v->gc[5] & 0x08)) /* read mode 0: one plane */
        return v->latch[v->gc[4] & 3];
    /* Read mode 1: colour compare over the planes in colour don't care. */
    uint8_t diff = 0;
    for (unsigned p = 0; p < 4; p++) {
        if (!(v->gc[7] & (1u << p))) continue;
        uint8_t want = (v->gc[2] & (1u << p)) ? 0xff : 0x00;
        diff |= v->latch[p] ^ want;
    }
    return (uint8_t)~diff;
}

static uint8_t alu(const struct vga *v, uint8_t data, uint8_t latch)
{
    switch ((v->gc[3] >> 3) & 3) {
    case 1: return data & latch;
    case 2: return data | latch;
    case 3: return data ^ latch;
    default: return data;
    }
}

void vga_mem_write(struct vga *v, uint32_t addr, uint8_t val)
{
    if (vbe_enabled(v) && v->vbe_regs[VBE_INDEX_BPP] > 4) {
        if (addr < 0x10000) v->vram[vbe_bank_addr(v, addr)] = val;
        return;
    }
    int64_t o = window_offset(v, addr);
    if (o < 0) return;
    uint32_t a = (uint32_t)o;
    uint8_t map_mask = v->seq[2] & 0x0f;
    if (v->seq[4] & 0x08) { /* chain-4: A1:A0 pick the plane */
        unsigned plane = a & 3;
        if (map_mask & (1u << plane)) v->vram[((a & ~3u) & VGA_PLANE_MASK) * 4 + plane] = val;
        if (plane == 2) v->font_written = true;
        return;
    }
    if (!(v->seq[4] & 0x04)) { /* odd/even: A0 picks plane 0/1 (or 2/3) */
        unsigned plane = (a & 1);
        for (unsigned p = plane; p < 4; p += 2)
            if (map_mask & (1u << p)) {
                v->vram[((a & ~1u) & VGA_PLANE_MASK) * 4 + p] = val;
                if (p == 2) v->font_written = true;
            }
        return;
    }
    a &= VGA_PLANE_MASK;
    uint8_t out[4];
    unsigned rot = v->gc[3] & 7;
    uint8_t rotated = (uint8_t)((val >> rot) | (val << ((8 - rot) & 7)));
    uint8_t mask = v->gc[8];
    switch (v->gc[5] & 3) {
    case 0:
        for (unsigned p = 0; p < 4; p++) {
            uint8_t d = (v->gc[1] & (1u << p)) ? ((v->gc[0] & (1u << p)) ? 0xff : 0) : rotated;
            out[p] = alu(v, d, v->latch[p]);
        }
        break;
    case 1:
        memcpy(out, v->latch, 4);
        mask = 0xff;
        break;
    case 2:
        for (unsigned p = 0; p < 4; p++)
            out[p] = alu(v, (val & (1u << p)) ? 0xff : 0, v->latch[p]);
        break;
    default:
        mask &= rotated;
        for (unsigned p = 0; p < 4; p++)
            out[p] = alu(v, (v->gc[0] & (1u << p)) ? 0xff : 0, v->latch[p]);
        break;
    }
    for (unsigned p = 0; p < 4; p++) {
        if (!(map_mask & (1u << p))) continue;
        v->vram[a * 4 + p] = (uint8_t)((out[p] & mask) | (v->latch[p] & ~mask));
    }
    if (map_mask & 4) v->font_written = true;
}

static uint32_t legacy_read(void *opaque, uint32_t addr, unsigned size)
{
    struct vga *v = opaque;
    uint32_t r = 0;
    for (unsigned i = 0; i < size; i++) r |= vga_mem_read(v, addr + i) << (8 * i);
    return r;
}

static void legacy_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    for (unsigned i = 0; i < size; i++) vga_mem_write(v, addr + i, (uint8_t)(val >> (8 * i)));
}

const struct mmio_ops vga_legacy_ops = {legacy_read, legacy_write};

/* --- Bochs VBE (DISPI) --- */

static void vbe_update_geometry(struct vga *v)
{
    uint16_t *r = v->vbe_regs;
    uint32_t bpp = r[VBE_INDEX_BPP];
    uint32_t width = r[VBE_INDEX_VIRT_WIDTH];
    if (width < r[VBE_INDEX_XRES]) width = r[VBE_INDEX_XRES];
    uint32_t line = bpp == 4 ? width / 2 : width * vbe_bytes_pp((uint16_t)bpp);
    if (line == 0) line = 1;
    uint32_t height = v->vram_size / line;
    if (height > 0xffff) height = 0xffff;
    if (height < r[VBE_INDEX_YRES]) {
        /* The mode does not fit: real Bochs cards refuse it the same way. */
        dev_log(v->log, DEV_LOG_GUEST_ERRORS, "vga: VBE virtual screen %ux%u does not fit VRAM\n",
                width, r[VBE_INDEX_YRES]);
    }
    r[VBE_INDEX_VIRT_WIDTH] = (uint16_t)width;
    r[VBE_INDEX_VIRT_HEIGHT] = (uint16_t)height;
    v->vbe_line_offset = line;
    uint32_t x = r[VBE_INDEX_X_OFFSET], y = r[VBE_INDEX_Y_OFFSET];
    /* 4 bpp is planar: 8 pixels per plane byte, 4 VRAM bytes per plane byte. */
    uint64_t start = (uint64_t)y * line + (bpp == 4 ? x / 8 * 4 : x * vbe_bytes_pp((uint16_t)bpp));
    v->vbe_start = start < v->vram_size ? (uint32_t)start : 0;
}

static uint16_t vbe_read(struct vga *v)
{
    uint16_t *r = v->vbe_regs;
    unsigned i = v->vbe_index;
    if (i >= VBE_INDEX_COUNT) return 0;
    if (r[VBE_INDEX_ENABLE] & VBE_DISPI_GETCAPS) {
        if (i == VBE_INDEX_XRES) return VBE_DISPI_MAX_XRES;
        if (i == VBE_INDEX_YRES) return VBE_DISPI_MAX_YRES;
        if (i == VBE_INDEX_BPP) return VBE_DISPI_MAX_BPP;
    }
    if (i == VBE_INDEX_VIDEO_MEMORY_64K) return (uint16_t)(v->vram_size >> 16);
    return r[i];
}

static void vbe_write(struct vga *v, uint16_t val)
{
    uint16_t *r = v->vbe_regs;
    unsigned i = v->vbe_index;
    bool on = vbe_enabled(v);
    switch (i) {
    case VBE_INDEX_ID:
        if (val >= VBE_DISPI_ID0 && val <= VBE_DISPI_ID5) r[i] = val;
        break;
    case VBE_INDEX_XRES:
    case VBE_INDEX_YRES:
    case VBE_INDEX_BPP: {
        if (on) {
            dev_log(v->log, DEV_LOG_GUEST_ERRORS, "vga: VBE reg %u written while enabled\n", i);
            break;
        }
        bool ok = i == VBE_INDEX_XRES   ? val && val <= VBE_DISPI_MAX_XRES && !(val & 7)
                  : i == VBE_INDEX_YRES ? val && val <= VBE_DISPI_MAX_YRES
                                        : (val == 4 || val == 8 || val == 15 || val == 16 ||
                                           val == 24 || val == 32);
        if (!ok) {
            dev_log(v->log, DEV_LOG_GUEST_ERRORS, "vga: VBE reg %u: invalid value %u\n", i, val);
            break;
        }
        r[i] = val;
        break;
    }
    case VBE_INDEX_BANK:
        if ((uint32_t)val * 0x10000u >= v->vram_size) {
            dev_log(v->log, DEV_LOG_GUEST_ERRORS, "vga: VBE bank %u beyond VRAM\n", val);
            break;
        }
        r[i] = val;
        break;
    case VBE_INDEX_ENABLE:
        r[i] = val & (VBE_DISPI_ENABLED | VBE_DISPI_GETCAPS | VBE_DISPI_8BIT_DAC |
                      VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
        if ((val & VBE_DISPI_ENABLED) && !on) {
            r[VBE_INDEX_VIRT_WIDTH] = r[VBE_INDEX_XRES];
            r[VBE_INDEX_VIRT_HEIGHT] = r[VBE_INDEX_YRES];
            r[VBE_INDEX_X_OFFSET] = r[VBE_INDEX_Y_OFFSET] = 0;
            r[VBE_INDEX_BANK] = 0;
            vbe_update_geometry(v);
            if (!(val & VBE_DISPI_NOCLEARMEM)) {
                uint64_t n = (uint64_t)v->vbe_line_offset * r[VBE_INDEX_YRES];
                memset(v->vram, 0, n < v->vram_size ? n : v->vram_size);
            }
            /* Graphics mode, the 64 KiB window at 0xA0000 for the banks;
             * 4 bpp is planar, through the window like mode 12h. */
            v->gc[6] = (v->gc[6] & ~0x0cu) | 0x05;
            if (r[VBE_INDEX_BPP] == 4) {
                v->seq[4] = (v->seq[4] & ~0x08u) | 0x06;
                v->gc[5] &= ~0x60u;
            } else {
                v->seq[4] |= 0x08;
            }
        }
        v->full_redraw = true;
        break;
    case VBE_INDEX_VIRT_WIDTH:
    case VBE_INDEX_X_OFFSET:
    case VBE_INDEX_Y_OFFSET:
        r[i] = val;
        vbe_update_geometry(v);
        v->full_redraw = true;
        break;
    default: /* VIRT_HEIGHT and VIDEO_MEMORY_64K are computed */
        break;
    }
}

/* --- legacy ports --- */

static bool crtc_port_ok(const struct vga *v, uint16_t port)
{
    bool color = v->misc & 1;
    return ((port & 0xfff0) == 0x3d0) == color;
}

static uint8_t input_status1(struct vga *v)
{
    uint64_t t = clock_now_ns(v->clock) % NS_PER_FRAME;
    bool vretrace = t >= NS_PER_FRAME - NS_VRETRACE;
    bool hblank = t % NS_PER_LINE >= NS_PER_LINE - NS_HBLANK;
    return (uint8_t)((vretrace ? 0x08 : 0) | (vretrace || hblank ? 0x01 : 0));
}

static uint8_t dac_component(const struct vga *v, uint8_t c)
{
    return (v->vbe_regs[VBE_INDEX_ENABLE] & VBE_DISPI_8BIT_DAC) ? c : c & 0x3f;
}

uint32_t vga_ioport_read(struct vga *v, uint16_t port)
{
    switch (port) {
    case 0x1ce: return v->vbe_index;
    case 0x1cf: return vbe_read(v);
    case 0x3c0: return v->ar_index;
    case 0x3c1: return v->ar_index % 0x20 < sizeof v->ar ? v->ar[v->ar_index % 0x20] : 0;
    case 0x3c2: return 0x10; /* input status 0: switch sense (a colour monitor) */
    case 0x3c3: return 1;
    case 0x3c4: return v->seq_index;
    case 0x3c5: return v->seq_index < sizeof v->seq ? v->seq[v->seq_index] : 0xff;
    case 0x3c6: return v->pel_mask;
    case 0x3c7: return v->dac_state;
    case 0x3c8: return v->dac_write_index;
    case 0x3c9: {
        uint8_t c = dac_component(v, v->dac[v->dac_read_index * 3 + v->dac_sub]);
        if (++v->dac_sub == 3) v->dac_sub = 0, v->dac_read_index++;
        return c;
    }
    case 0x3ca: return v->feature;
    case 0x3cc: return v->misc;
    case 0x3ce: return v->gc_index;
    case 0x3cf: return v->gc_index < sizeof v->gc ? v->gc[v->gc_index] : 0xff;
    case 0x3b4:
    case 0x3d4: return crtc_port_ok(v, port) ? v->crtc_index : 0xff;
    case 0x3b5:
    case 0x3d5:
        if (!crtc_port_ok(v, port)) return 0xff;
        return v->crtc_index < sizeof v->crtc ? v->crtc[v->crtc_index] : 0xff;
    case 0x3ba:
    case 0x3da:
        if (!crtc_port_ok(v, port)) return 0xff;
        v->ar_flipflop = false;
        return input_status1(v);
    default: return 0xff;
    }
}

void vga_ioport_write(struct vga *v, uint16_t port, uint32_t val32)
{
    uint8_t val = (uint8_t)val32;
    switch (port) {
    case 0x1ce: v->vbe_index = (uint16_t)val32; return;
    case 0x1cf: vbe_write(v, (uint16_t)val32); return;
    case 0x3c0:
        if (!v->ar_flipflop) {
            v->ar_index = val & 0x3f;
        } else {
            unsigned i = v->ar_index & 0x1f;
            static const uint8_t mask[0x15] = {
                0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0x3f,
                0x3f, 0x3f, 0x3f, 0x3f, 0x3f, 0xef, 0xff, 0x3f, 0x0f, 0x0f};
            if (i < sizeof v->ar) v->ar[i] = val & mask[i];
            v->full_redraw = true;
        }
        v->ar_flipflop = !v->ar_flipflop;
        return;
    case 0x3c2: v->misc = val; v->full_redraw = true; return;
    case 0x3c4: v->seq_index = val & 7; return;
    case 0x3c5: {
        static const uint8_t mask[8] = {0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0, 0, 0xff};
        v->seq[v->seq_index] = val & mask[v->seq_index];
        v->full_redraw = true;
        return;
    }
    case 0x3c6: v->pel_mask = val; v->full_redraw = true; return;
    case 0x3c7: v->dac_read_index = val; v->dac_sub = 0; v->dac_state = 3; return;
    case 0x3c8: v->dac_write_index = val; v->dac_sub = 0; v->dac_state = 0; return;
    case 0x3c9:
        v->dac_latch[v->dac_sub] = dac_component(v, val);
        if (++v->dac_sub == 3) {
            memcpy(&v->dac[v->dac_write_index * 3], v->dac_latch, 3);
            v->dac_sub = 0;
            v->dac_write_index++;
            v->full_redraw = true;
        }
        return;
    case 0x3ce: v->gc_index = val & 0x0f; return;
    case 0x3cf: {
        static const uint8_t mask[9] = {0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff};
        if (v->gc_index < sizeof v->gc) v->gc[v->gc_index] = val & mask[v->gc_index];
        v->full_redraw = true;
        return;
    }
    case 0x3b4:
    case 0x3d4:
        if (crtc_port_ok(v, port)) v->crtc_index = val & 0x3f;
        return;
    case 0x3b5:
    case 0x3d5:
        if (!crtc_port_ok(v, port) || v->crtc_index >= sizeof v->crtc) return;
        /* CR11 bit 7 write-protects CR0-CR7 (CR7 bit 4, line compare, stays). */
        if ((v->crtc[0x11] & 0x80) && v->crtc_index <= 7) {
            if (v->crtc_index == 7) v->crtc[7] = (v->crtc[7] & ~0x10) | (val & 0x10);
            return;
        }
        v->crtc[v->crtc_index] = val;
        v->full_redraw = true;
        return;
    case 0x3ba:
    case 0x3da:
        if (crtc_port_ok(v, port)) v->feature = val;
        return;
    default:
        dev_log(v->log, DEV_LOG_UNIMP, "vga: write 0x%02x to port 0x%03x\n", val, port);
        return;
    }
}

static uint32_t port_read(void *opaque, uint16_t off, unsigned size)
{
    struct vga *v = opaque;
    (void)size;
    return vga_ioport_read(v, (uint16_t)(0x3b0 + off));
}

static void port_write(void *opaque, uint16_t off, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    uint16_t port = (uint16_t)(0x3b0 + off);
    /* A word write to an index port writes the index then the data. */
    if (size == 2) {
        vga_ioport_write(v, port, val & 0xff);
        vga_ioport_write(v, (uint16_t)(port + 1), (val >> 8) & 0xff);
        return;
    }
    vga_ioport_write(v, port, val);
}

static uint32_t dispi_read(void *opaque, uint16_t off, unsigned size)
{
    (void)size;
    return vga_ioport_read(opaque, (uint16_t)(0x1ce + (off >= 1 ? 1 : 0)));
}

static void dispi_write(void *opaque, uint16_t off, uint32_t val, unsigned size)
{
    (void)size;
    vga_ioport_write(opaque, (uint16_t)(0x1ce + (off >= 1 ? 1 : 0)), val);
}

/* --- PCI: BAR0 the framebuffer, BAR2 the registers, the expansion ROM --- */

/* Reached only when the guest touches the framebuffer through some path
 * that bypasses the host mapping (it normally covers the BAR exactly). */
static uint32_t lfb_read(void *opaque, uint32_t addr, unsigned size)
{
    struct vga *v = opaque;
    uint32_t r = 0;
    if (addr + size <= v->vram_size) memcpy(&r, v->vram + addr, size);
    return r;
}

static void lfb_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    if (addr + size <= v->vram_size) memcpy(v->vram + addr, &val, size);
}

static const struct mmio_ops lfb_ops = {lfb_read, lfb_write};

/* BAR2 (QEMU's layout): 0x400-0x41f the ports 0x3c0-0x3df, 0x500-0x515
 * the DISPI registers as 16-bit words. */
static uint32_t regs_read(void *opaque, uint32_t addr, unsigned size)
{
    struct vga *v = opaque;
    if (addr >= 0x400 && addr < 0x420) {
        uint32_t r = 0;
        for (unsigned i = 0; i < size && addr + i < 0x420; i++)
            r |= vga_ioport_read(v, (uint16_t)(0x3c0 + addr - 0x400 + i)) << (8 * i);
        return r;
    }
    if (addr >= 0x500 && addr < 0x500 + 2 * VBE_INDEX_COUNT && size >= 2) {
        v->vbe_index = (uint16_t)((addr - 0x500) / 2);
        return vbe_read(v);
    }
    return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static void regs_write(void *opaque, uint32_t addr, uint32_t val, unsigned size)
{
    struct vga *v = opaque;
    if (addr >= 0x400 && addr < 0x420) {
        for (unsigned i = 0; i < size && addr + i < 0x420; i++)
            vga_ioport_write(v, (uint16_t)(0x3c0 + addr - 0x400 + i), (val >> (8 * i)) & 0xff);
        return;
    }
    if (addr >= 0x500 && addr < 0x500 + 2 * VBE_INDEX_COUNT && size >= 2) {
        v->vbe_index = (uint16_t)((addr - 0x500) / 2);
        vbe_write(v, (uint16_t)val);
        return;
    }
    dev_log(v->log, DEV_LOG_GUEST_ERRORS, "vga: MMIO write to unknown register 0x%x\n", addr);
}

static const struct mmio_ops regs_ops = {regs_read, regs_write};

#define PCI_ROM_ADDRESS 0x30

void vga_sync_bars(struct vga *v)
{
    const struct pci_bar *lfb = &v->pci.bar[0];
    mmu_region_move(v->mmu, v->lfb_handle, lfb->mapped ? lfb->addr : 0,
                    lfb->mapped ? lfb->size : 0);
    if (v->rom_handle < 0) return;
    uint32_t reg;
    memcpy(&reg, &v->pci.config[PCI_ROM_ADDRESS], 4);
    uint32_t addr = reg & ~(v->rom_size - 1);
    bool on = (reg & 1) && (v->pci.config[PCI_COMMAND] & PCI_CMD_MEM) && addr &&
              addr >= v->pci.bus->mem_base &&
              (uint64_t)addr + v->rom_size <= (uint64_t)v->pci.bus->mem_base + v->pci.bus->mem_size;
    mmu_region_move(v->mmu, v->rom_handle, on ? addr : 0, on ? v->rom_size : 0);
}

static void config_written(struct pci_device *d, uint8_t off, unsigned size)
{
    (void)off;
    (void)size;
    vga_sync_bars(d->opaque);
}

/* --- refresh --- */

static void refresh_tick(void *opaque)
{
    struct vga *v = opaque;
    clock_timer_arm(&v->refresh_timer, clock_now_ns(v->clock) + REFRESH_NS);
    v->frames++;
    if (!v->disp.resize) return;
    vga_render(v, false);
    if (v->disp.refresh) v->disp.refresh(v->disp.opaque);
}

/* --- life cycle --- */

int vga_init(struct vga *v, struct pci_bus *pci, struct bus *io, struct mmu *mmu,
             struct clock *clock, const uint8_t *rom, size_t rom_size,
             const struct display_backend *disp, const struct dev_log *log, char *err,
             size_t errlen)
{
    memset(v, 0, sizeof *v);
    v->vram_size = VGA_VRAM_SIZE;
    v->vram = calloc(1, v->vram_size);
    v->snap = calloc(1, v->vram_size);
    if (!v->vram || !v->snap) {
        snprintf(err, errlen, "vga: cannot allocate %u MiB of VRAM", v->vram_size >> 20);
        return -1;
    }
    v->mmu = mmu;
    v->clock = clock;
    v->log = log;
    if (disp) v->disp = *disp;
    v->rom_handle = -1;

    pci_device_init(&v->pci, "vga", 0x1234, 0x1111, 0x02, 0x030000, 0);
    pci_set_bar_mem(&v->pci, 0, v->vram_size, true, &lfb_ops, v);
    pci_set_bar_mem(&v->pci, 2, 4096, false, &regs_ops, v);
    v->pci.config_written = config_written;
    v->pci.opaque = v;
    if (rom && rom_size) {
        uint32_t size = 2048;
        while (size < rom_size) size <<= 1;
        uint8_t *image = calloc(1, size);
        if (!image) {
            snprintf(err, errlen, "vga: out of memory for the option ROM");
            return -1;
        }
        memcpy(image, rom, rom_size);
        int r = mmu_map_rom(mmu, 0, image, size, "vga-rom");
        free(image);
        if (r) {
            snprintf(err, errlen, "vga: cannot map the option ROM");
            return -1;
        }
        v->rom_handle = mmu_region_last(mmu);
        v->rom_size = size;
        mmu_region_move(mmu, v->rom_handle, 0, 0);
        uint32_t wmask = ~(size - 1) | 1;
        memcpy(&v->pci.wmask[PCI_ROM_ADDRESS], &wmask, 4);
    }
    if (pci_register(pci, &v->pci, 0x10, err, errlen)) return -1;
    v->lfb_handle = mmu_map_host(mmu, 0, v->vram_size, v->vram, "vga-lfb");
    if (v->lfb_handle < 0) {
        snprintf(err, errlen, "vga: cannot map the linear framebuffer");
        return -1;
    }
    mmu_region_move(mmu, v->lfb_handle, 0, 0);
    if (mmu_map_mmio(mmu, VGA_LEGACY_BASE, VGA_LEGACY_SIZE, &vga_legacy_ops, v, "vga-legacy")) {
        snprintf(err, errlen, "vga: cannot map the legacy window");
        return -1;
    }
    if (bus_register(io, 0x3b0, 0x30, BUS_W8 | BUS_W16, "vga", port_read, port_write, v, err,
                     errlen) ||
        /* 0x1CE index, 0x1CF data (a word there covers 0x1CF-0x1D0). */
        bus_register(io, 0x1ce, 3, BUS_W8 | BUS_W16, "vga-dispi", dispi_read, dispi_write, v, err,
                     errlen))
        return -1;
    clock_timer_init(&v->refresh_timer, clock, refresh_tick, v, "vga-refresh");
    return 0;
}

void vga_destroy(struct vga *v)
{
    free(v->vram);
    free(v->snap);
    v->vram = v->snap = NULL;
}

/* The state at power-on, before any BIOS: 80x25 colour text timing with
 * the standard palette, so a guest that only writes 0xB8000 sees text. */
void vga_reset(struct vga *v)
{
    static const uint8_t seq[8] = {0x03, 0x00, 0x03, 0x00, 0x02};
    static const uint8_t crtc[0x19] = {0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                                       0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                                       0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff};
    static const uint8_t gc[9] = {0, 0, 0, 0, 0, 0x10, 0x0e, 0x0f, 0xff};
    static const uint8_t ar[0x15] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a,
                                     0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00};
    v->misc = 0x67;
    v->feature = 0;
    memcpy(v->seq, seq, sizeof v->seq);
    memcpy(v->crtc, crtc, sizeof v->crtc);
    memcpy(v->gc, gc, sizeof v->gc);
    memcpy(v->ar, ar, sizeof v->ar);
    v->seq_index = v->crtc_index = v->gc_index = 0;
    v->ar_index = 0x20;
    v->ar_flipflop = false;
    v->pel_mask = 0xff;
    v->dac_read_index = v->dac_write_index = v->dac_sub = v->dac_state = 0;
    /* The EGA palette in the first 64 DAC entries (rgbRGB bits). */
    for (unsigned i = 0; i < 256; i++) {
        unsigned c = i & 0x3f;
        for (unsigned k = 0; k < 3; k++) {
            unsigned hi = (c >> (2 - k)) & 1, lo = (c >> (5 - k)) & 1;
            v->dac[i * 3 + k] = (uint8_t)(hi * 0x2a + lo * 0x15);
        }
    }
    memset(v->latch, 0, sizeof v->latch);
    memset(v->vbe_regs, 0, sizeof v->vbe_regs);
    v->vbe_regs[VBE_INDEX_ID] = VBE_DISPI_ID5;
    v->vbe_regs[VBE_INDEX_XRES] = 640;
    v->vbe_regs[VBE_INDEX_YRES] = 480;
    v->vbe_regs[VBE_INDEX_BPP] = 8;
    v->vbe_index = 0;
    v->vbe_start = 0;
    v->vbe_line_offset = 640;
    memset(&v->pci.config[PCI_ROM_ADDRESS], 0, 4);
    vga_sync_bars(v);
    v->full_redraw = true;
    v->font_written = true;
    clock_timer_arm(&v->refresh_timer, clock_now_ns(v->clock) + REFRESH_NS);
}

void vga_firmware_load_font(struct vga *v, const uint8_t *glyphs, unsigned height)
{
    if (height == 0 || height > 32) return;
    for (unsigned ch = 0; ch < 256; ch++)
        for (unsigned l = 0; l < 32; l++)
            v->vram[(ch * 32 + l) * 4 + 2] = l < height ? glyphs[ch * height + l] : 0;
    v->font_written = true;
}

void vga_save(struct vga *v, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "vga.version", &version, sizeof version);
    state_put(s, "vga.vram", v->vram, v->vram_size);
    STATE_PUT(s, "vga.", v->misc);
    STATE_PUT(s, "vga.", v->feature);
    STATE_PUT(s, "vga.", v->seq_index);
    STATE_PUT(s, "vga.", v->seq);
    STATE_PUT(s, "vga.", v->crtc_index);
    STATE_PUT(s, "vga.", v->crtc);
    STATE_PUT(s, "vga.", v->gc_index);
    STATE_PUT(s, "vga.", v->gc);
    STATE_PUT(s, "vga.", v->ar_index);
    STATE_PUT(s, "vga.", v->ar);
    STATE_PUT(s, "vga.", v->ar_flipflop);
    STATE_PUT(s, "vga.", v->dac_read_index);
    STATE_PUT(s, "vga.", v->dac_write_index);
    STATE_PUT(s, "vga.", v->dac_sub);
    STATE_PUT(s, "vga.", v->dac_state);
    STATE_PUT(s, "vga.", v->pel_mask);
    STATE_PUT(s, "vga.", v->dac_latch);
    STATE_PUT(s, "vga.", v->dac);
    STATE_PUT(s, "vga.", v->latch);
    STATE_PUT(s, "vga.", v->vbe_index);
    STATE_PUT(s, "vga.", v->vbe_regs);
    pci_device_save(&v->pci, "vga.pci.", s);
}

int vga_load(struct vga *v, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "vga.version", &version, sizeof version) || version != 1) return -1;
    state_get(s, "vga.vram", v->vram, v->vram_size);
    STATE_GET(s, "vga.", v->misc);
    STATE_GET(s, "vga.", v->feature);
    STATE_GET(s, "vga.", v->seq_index);
    STATE_GET(s, "vga.", v->seq);
    STATE_GET(s, "vga.", v->crtc_index);
    STATE_GET(s, "vga.", v->crtc);
    STATE_GET(s, "vga.", v->gc_index);
    STATE_GET(s, "vga.", v->gc);
    STATE_GET(s, "vga.", v->ar_index);
    STATE_GET(s, "vga.", v->ar);
    STATE_GET(s, "vga.", v->ar_flipflop);
    STATE_GET(s, "vga.", v->dac_read_index);
    STATE_GET(s, "vga.", v->dac_write_index);
    STATE_GET(s, "vga.", v->dac_sub);
    STATE_GET(s, "vga.", v->dac_state);
    STATE_GET(s, "vga.", v->pel_mask);
    STATE_GET(s, "vga.", v->dac_latch);
    STATE_GET(s, "vga.", v->dac);
    STATE_GET(s, "vga.", v->latch);
    STATE_GET(s, "vga.", v->vbe_index);
    STATE_GET(s, "vga.", v->vbe_regs);
    /* Indexes come from a file: keep them inside their arrays. */
    v->seq_index &= 7;
    v->crtc_index &= 0x3f;
    v->gc_index &= 0x0f;
    v->ar_index &= 0x3f;
    v->dac_sub %= 3;
    if (v->vbe_regs[VBE_INDEX_BANK] * 0x10000u >= v->vram_size) v->vbe_regs[VBE_INDEX_BANK] = 0;
    vbe_update_geometry(v);
    int r = pci_device_load(&v->pci, "vga.pci.", s);
    vga_sync_bars(v);
    v->full_redraw = true;
    v->font_written = true;
    return r;
}
