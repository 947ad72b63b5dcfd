/*
 * vga.h — the standard VGA with Bochs VBE extensions, as the PCI device
 * 1234:1111 (QEMU's "-vga std"): legacy registers at 0x3B4-0x3DF, the
 * 0xA0000-0xBFFFF window, the DISPI registers at 0x1CE/0x1CF, a linear
 * framebuffer (BAR0), the DISPI/VGA registers as MMIO (BAR2) and the VGA
 * BIOS as the expansion ROM.  vga.c holds the registers and the memory
 * paths, vga_render.c turns VRAM into host pixels.
 */
#ifndef UMBRA_VGA_H
#define UMBRA_VGA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/display.h"
#include "devices/log.h"
#include "devices/pci.h"
#include "devices/state.h"
#include "mmu/mmu.h"

#define VGA_VRAM_SIZE (16u << 20)
#define VGA_LEGACY_BASE 0xa0000u
#define VGA_LEGACY_SIZE 0x20000u
/* Planar addressing wraps at 64 KiB per plane (256 KiB), as on a real VGA. */
#define VGA_PLANE_MASK 0xffffu

/* Bochs DISPI register indexes and ENABLE bits. */
enum {
    VBE_INDEX_ID = 0,
    VBE_INDEX_XRES,
    VBE_INDEX_YRES,
    VBE_INDEX_BPP,
    VBE_INDEX_ENABLE,
    VBE_INDEX_BANK,
    VBE_INDEX_VIRT_WIDTH,
    VBE_INDEX_VIRT_HEIGHT,
    VBE_INDEX_X_OFFSET,
    VBE_INDEX_Y_OFFSET,
    VBE_INDEX_VIDEO_MEMORY_64K,
    VBE_INDEX_COUNT
};
#define VBE_DISPI_ENABLED 0x01u
#define VBE_DISPI_GETCAPS 0x02u
#define VBE_DISPI_8BIT_DAC 0x20u
#define VBE_DISPI_LFB_ENABLED 0x40u
#define VBE_DISPI_NOCLEARMEM 0x80u
#define VBE_DISPI_ID0 0xb0c0u
#define VBE_DISPI_ID5 0xb0c5u
#define VBE_DISPI_MAX_XRES 2560u
#define VBE_DISPI_MAX_YRES 1600u
#define VBE_DISPI_MAX_BPP 32u

/* The host-visible result of the mode registers: what the renderer draws. */
enum vga_render_kind { VGA_KIND_BLANK, VGA_KIND_TEXT, VGA_KIND_PLANAR16, VGA_KIND_CHAIN256,
                       VGA_KIND_VBE, VGA_KIND_CGA4 /* shift register interleave (modes 4/5) */ };

struct vga {
    uint8_t *vram; /* VGA_VRAM_SIZE; planar byte o of plane p at vram[o * 4 + p] */
    uint32_t vram_size;

    /* Legacy registers. */
    uint8_t misc, feature;
    uint8_t seq_index, seq[8];
    uint8_t crtc_index, crtc[0x19];
    uint8_t gc_index, gc[9];
    uint8_t ar_index, ar[0x15];
    bool ar_flipflop; /* true: the next 0x3C0 write is data */
    uint8_t dac_read_index, dac_write_index, dac_sub, dac_state, pel_mask;
    uint8_t dac_latch[3];
    uint8_t dac[768];
    uint8_t latch[4];

    /* Bochs VBE. */
    uint16_t vbe_index;
    uint16_t vbe_regs[VBE_INDEX_COUNT];
    uint32_t vbe_start, vbe_line_offset;

    /* PCI and the guest-physical map. */
    struct pci_device pci;
    struct mmu *mmu;
    int lfb_handle, rom_handle;
    uint32_t rom_size;

    struct clock *clock;
    struct clock_timer refresh_timer;
    const struct dev_log *log;
    struct display_backend disp;

    /* Renderer state (vga_render.c). */
    uint8_t *snap;   /* VRAM as last rendered */
    bool full_redraw; /* palette, mode or font changed */
    bool font_written;
    uint32_t *surface;
    unsigned surf_w, surf_h, surf_stride;
    enum vga_render_kind last_kind;
    uint32_t palette[256]; /* DAC as host pixels */
    uint64_t frames;
    uint16_t last_cursor;
    bool last_cursor_on, last_blink_on;
};

/* owner: devices/vga.c */
int vga_init(struct vga *v, struct pci_bus *pci, struct bus *io, struct mmu *mmu,
             struct clock *clock, const uint8_t *rom, size_t rom_size,
             const struct display_backend *disp, const struct dev_log *log, char *err,
             size_t errlen);
void vga_reset(struct vga *v);
void vga_destroy(struct vga *v);
void vga_save(struct vga *v, struct state_buf *s);
int vga_load(struct vga *v, const struct state_buf *s);
/* The 0xA0000-0xBFFFF window (map it over RAM). */
extern const struct mmio_ops vga_legacy_ops;
/* Legacy and DISPI port access (also what the port callbacks use). */
uint32_t vga_ioport_read(struct vga *v, uint16_t port);
void vga_ioport_write(struct vga *v, uint16_t port, uint32_t val);
uint32_t vga_mem_read(struct vga *v, uint32_t addr);          /* addr: offset in the window */
void vga_mem_write(struct vga *v, uint32_t addr, uint8_t val); /* addr: offset in the window */
/* Keep the LFB and ROM mappings where the PCI registers say (after a PCI
 * bus reset or a state load). */
void vga_sync_bars(struct vga *v);

/* What the VGA BIOS's mode set does for a boot without firmware: the 256
 * glyphs of `height` rows each (1..32) into character map 0 of plane 2. */
void vga_firmware_load_font(struct vga *v, const uint8_t *glyphs, unsigned height);

/* owner: devices/vga_render.c */
/* Render what changed since the last call (everything if full) into the
 * display backend and report the changed rectangles. */
void vga_render(struct vga *v, bool full);
/* The mode the registers select and its size in host pixels. */
enum vga_render_kind vga_render_mode(const struct vga *v, unsigned *w, unsigned *h);

#endif
