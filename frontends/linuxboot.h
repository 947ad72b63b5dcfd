/*
 * linuxboot.h — direct boot of a Linux bzImage through the 32-bit entry of
 * the Linux x86 boot protocol (Documentation/arch/x86/boot.rst), the way
 * `qemu -kernel` boots it but without running any BIOS or real-mode code.
 *
 * As with multiboot.h, loading is split in two so errors surface before
 * anything runs: the kernel and initrd are read and checked once at
 * start-up, and linuxboot_place() lays them out on every reset through a
 * write callback (the unit tests place them into a plain byte array).
 */
#ifndef UMBRA_FRONTENDS_LINUXBOOT_H
#define UMBRA_FRONTENDS_LINUXBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fixed low-memory layout (all below the EBDA, all RAM in the e820). */
#define LINUXBOOT_GDT 0x8f000u       /* the boot GDT: null, null, __BOOT_CS, __BOOT_DS */
#define LINUXBOOT_ZERO_PAGE 0x90000u /* struct boot_params */
#define LINUXBOOT_CMDLINE 0x91000u   /* NUL-terminated command line */
#define LINUXBOOT_MPTABLE 0x9fc00u   /* the last KiB of base memory, reserved */
#define LINUXBOOT_KERNEL 0x100000u   /* the protected-mode kernel (bzImage: loaded high) */
#define LINUXBOOT_BOOT_CS 0x10u
#define LINUXBOOT_BOOT_DS 0x18u

/* Offsets into struct boot_params (arch/x86/include/uapi/asm/bootparam.h). */
#define BP_ORIG_VIDEO_ISVGA 0x00f
/* struct screen_info, for the VGA text console (vga_text below). */
#define BP_ORIG_VIDEO_MODE 0x006
#define BP_ORIG_VIDEO_COLS 0x007
#define BP_ORIG_VIDEO_LINES 0x00e
#define BP_ORIG_VIDEO_POINTS 0x010
#define BP_ALT_MEM_K 0x1e0
#define BP_E820_ENTRIES 0x1e8
#define BP_SENTINEL 0x1ef
#define BP_HDR 0x1f1
#define BP_SETUP_SECTS 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP 0x200
#define BP_HEADER 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_KERNEL_ALIGNMENT 0x230
#define BP_CMDLINE_SIZE 0x238
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define BP_E820_ENTRY_SIZE 20
#define BP_SIZE 4096

#define LINUX_LOADED_HIGH 0x01u
#define LINUX_TYPE_OF_LOADER 0xffu /* "undefined": Umbra has no registered loader ID */
#define E820_RAM 1u
#define E820_RESERVED 2u

struct linuxboot {
    char *name; /* for messages */
    uint8_t *image;
    size_t image_size;
    uint16_t version;
    size_t hdr_len;   /* bytes of setup header from 0x1f1 */
    size_t pm_offset; /* protected-mode kernel in the file */
    size_t pm_size;
    uint32_t initrd_addr_max;
    uint32_t cmdline_size;
    uint32_t kernel_end; /* one past the highest byte the kernel may use while booting */
    char *cmdline;
    char *initrd_name;
    uint8_t *initrd;
    uint32_t initrd_size;
    /* The machine has a VGA in 80x25 colour text mode (mode 3, 16-line
     * font): say so in screen_info, as the real-mode setup code would
     * have, so Linux can use its VGA console.  false: no video adapter. */
    bool vga_text;
};

/* What the boot hook hands the CPU (32-bit entry: ESI = zero page). */
struct linuxboot_handoff {
    uint32_t entry;
    uint32_t boot_params;
    uint32_t initrd_addr;
};

typedef void (*linuxboot_write_fn)(void *opaque, uint32_t gpa, const void *buf, uint32_t len);

/* Does this look like a Linux x86 kernel (boot sector signature and the
 * "HdrS" setup-header magic)?  Anything that does is then parsed as one, so
 * a damaged bzImage gets a bzImage error rather than a multiboot one. */
bool linuxboot_probe(const void *image, size_t size);

/* All functions returning int give 0 on success, or -1 with a one-line
 * message in err naming the file (no "umbra: " prefix, no newline). */
void linuxboot_init(struct linuxboot *lb);
void linuxboot_free(struct linuxboot *lb);
int linuxboot_parse(struct linuxboot *lb, const char *name, const void *image, size_t size,
                    char *err, size_t errlen);
int linuxboot_load_file(struct linuxboot *lb, const char *path, char *err, size_t errlen);
/* The command line is -append as given (Linux sees no kernel name in it). */
int linuxboot_set_cmdline(struct linuxboot *lb, const char *append, char *err, size_t errlen);
int linuxboot_set_initrd(struct linuxboot *lb, const char *name, const void *data, size_t size,
                         char *err, size_t errlen);
int linuxboot_load_initrd_file(struct linuxboot *lb, const char *path, char *err, size_t errlen);

/* Lay out kernel, initrd, zero page, command line and GDT in a guest with
 * ram_size bytes of RAM; with write == NULL only checks that it fits.
 * Deterministic, so the start-up check holds for every reset. */
int linuxboot_place(const struct linuxboot *lb, uint32_t ram_size, linuxboot_write_fn write,
                    void *opaque, struct linuxboot_handoff *out, char *err, size_t errlen);

/* The machine boot hook (opaque = the struct linuxboot): does what firmware
 * would (PCI BARs and interrupt routing, an MP table at LINUXBOOT_MPTABLE,
 * the BIOS data area's memory words), places everything and enters the
 * kernel's 32-bit entry. */
struct machine;
void linuxboot_boot_hook(void *opaque, struct machine *m);

#endif
