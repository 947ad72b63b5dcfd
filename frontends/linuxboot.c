/*
 * linuxboot.c — Linux x86 boot protocol loader, 32-bit entry
 * (Documentation/arch/x86/boot.rst, "32-bit Boot Protocol").
 *
 * A bzImage is a boot sector, setup_sects sectors of real-mode setup code
 * whose first part is the setup header (at 0x1f1, magic "HdrS" at 0x202),
 * then the protected-mode kernel.  Umbra has no BIOS in this path, so it
 * skips the real-mode setup code entirely: it builds the "zero page"
 * (struct boot_params) itself — the setup header copied from the file,
 * patched with what a boot loader fills in, plus the e820 memory map — and
 * enters the protected-mode kernel at 1 MiB in flat 32-bit mode with
 * ESI = zero page, as GRUB's linux32 and QEMU's direct boot do.
 *
 * Requirements checked at start-up: protocol >= 2.04 (32-bit syssize,
 * initrd_addr_max) and LOADED_HIGH (a bzImage; old zImages load at
 * 0x10000 and need the real-mode path).  From 2.10 on, the kernel tells
 * how much memory it needs while decompressing (pref_address + init_size);
 * the initrd is placed at the top of RAM below initrd_addr_max, as QEMU
 * does, and must stay clear of that range.
 *
 * The memory map matches -m and what the boot hook writes: RAM up to the
 * EBDA, whose one KiB holds the MP table; the BIOS area 0xF0000-0xFFFFF
 * reserved (nothing is there, but every PC has it and Linux expects it);
 * RAM from 1 MiB to the end.  screen_info is left zero, which tells Linux
 * there is no video adapter (no VGA console: the console is serial),
 * unless the machine has a VGA (vga_text): then it describes the text mode
 * the VGA is in, 80x25 colour.
 * CAN_USE_HEAP / heap_end_ptr are left clear: they describe the heap of the
 * real-mode setup code, which never runs here.
 */
#include "frontends/imagefile.h"
#include "frontends/linuxboot.h"

#include "devices/machine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOW_RAM_END 0xA0000u
#define BIOS_START 0xF0000u
#define HIGH_RAM_START 0x100000u
#define MIN_VERSION 0x0204u
#define BDA_EBDA_SEG 0x40eu /* BIOS data area: EBDA segment */
#define BDA_BASE_KB 0x413u  /* BIOS data area: base memory in KiB */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)v);
    wr16(p + 2, (uint16_t)(v >> 16));
}
static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

bool linuxboot_probe(const void *image, size_t size)
{
    const uint8_t *p = image;
    return size >= BP_HEADER + 4 && rd16(p + BP_BOOT_FLAG) == 0xAA55 &&
           memcmp(p + BP_HEADER, "HdrS", 4) == 0;
}

void linuxboot_init(struct linuxboot *lb)
{
    memset(lb, 0, sizeof *lb);
}

void linuxboot_free(struct linuxboot *lb)
{
    free(lb->name);
    free(lb->image);
    free(lb->cmdline);
    free(lb->initrd_name);
    free(lb->initrd);
    linuxboot_init(lb);
}

int linuxboot_parse(struct linuxboot *lb, const char *name, const void *image, size_t size,
                    char *err, size_t errlen)
{
    char *cmdline = lb->cmdline, *initrd_name = lb->initrd_name;
    uint8_t *initrd = lb->initrd;
    uint32_t initrd_size = lb->initrd_size;
    free(lb->name);
    free(lb->image);
    linuxboot_init(lb);
    lb->cmdline = cmdline, lb->initrd_name = initrd_name, lb->initrd = initrd;
    lb->initrd_size = initrd_size;

    if (!linuxboot_probe(image, size))
        return fail(err, errlen, "%s: not a Linux kernel (no boot sector with a \"HdrS\" header)",
                    name);
    lb->name = strdup(name);
    lb->image = malloc(size);
    if (!lb->name || !lb->image) return fail(err, errlen, "%s: out of memory", name);
    memcpy(lb->image, image, size);
    lb->image_size = size;
    const uint8_t *p = lb->image;

    lb->version = rd16(p + BP_VERSION);
    if (lb->version < MIN_VERSION)
        return fail(err, errlen, "%s: Linux boot protocol %u.%02u is too old (need 2.04 or later)",
                    name, lb->version >> 8, lb->version & 0xff);
    if (!(p[BP_LOADFLAGS] & LINUX_LOADED_HIGH))
        return fail(err, errlen, "%s: a zImage (not loaded high) is not supported; use a bzImage",
                    name);
    /* The header runs to the end of the jump at 0x200 (its target). */
    lb->hdr_len = 0x202 + (size_t)p[BP_JUMP + 1] - BP_HDR;
    if (BP_HDR + lb->hdr_len > size || BP_HDR + lb->hdr_len > BP_E820_TABLE)
        return fail(err, errlen, "%s: malformed setup header (length %zu)", name, lb->hdr_len);
    unsigned setup_sects = p[BP_SETUP_SECTS] ? p[BP_SETUP_SECTS] : 4;
    lb->pm_offset = (size_t)(setup_sects + 1) * 512;
    uint64_t syssize = (uint64_t)rd32(p + 0x1f4) * 16;
    if (lb->pm_offset >= size || size - lb->pm_offset < syssize)
        return fail(err, errlen,
                    "%s: truncated bzImage (setup %zu bytes + kernel %llu bytes, file %zu bytes)",
                    name, lb->pm_offset, (unsigned long long)syssize, size);
    lb->pm_size = size - lb->pm_offset;

    lb->initrd_addr_max = rd32(p + BP_INITRD_ADDR_MAX);
    lb->cmdline_size = lb->version >= 0x0206 ? rd32(p + BP_CMDLINE_SIZE) : 255;
    /* The room between the command line and the MP table bounds it too. */
    if (lb->cmdline_size > LINUXBOOT_MPTABLE - LINUXBOOT_CMDLINE - 1)
        lb->cmdline_size = LINUXBOOT_MPTABLE - LINUXBOOT_CMDLINE - 1;
    uint64_t end = (uint64_t)LINUXBOOT_KERNEL + lb->pm_size;
    if (lb->version >= 0x020a) {
        /* A relocatable kernel decompresses at max(load address,
         * pref_address) and needs init_size bytes there. */
        uint64_t pref = rd32(p + BP_PREF_ADDRESS) | (uint64_t)rd32(p + BP_PREF_ADDRESS + 4) << 32;
        uint64_t base = pref > LINUXBOOT_KERNEL ? pref : LINUXBOOT_KERNEL;
        uint64_t need = base + rd32(p + BP_INIT_SIZE);
        if (need > end) end = need;
    }
    if (end > 0xffffffffu)
        return fail(err, errlen, "%s: kernel wants memory above 4 GiB (pref_address/init_size)",
                    name);
    lb->kernel_end = (uint32_t)end;
    return 0;
}

int linuxboot_load_file(struct linuxboot *lb, const char *path, char *err, size_t errlen)
{
    uint8_t *data;
    size_t size;
    if (image_read_file(path, &data, &size, err, errlen)) return -1;
    int r = linuxboot_parse(lb, path, data, size, err, errlen);
    free(data);
    return r;
}

int linuxboot_set_cmdline(struct linuxboot *lb, const char *append, char *err, size_t errlen)
{
    const char *s = append ? append : "";
    if (lb->image && strlen(s) > lb->cmdline_size)
        return fail(err, errlen, "%s: command line of %zu bytes is longer than the kernel's %u",
                    lb->name, strlen(s), lb->cmdline_size);
    char *c = strdup(s);
    if (!c) return fail(err, errlen, "out of memory");
    free(lb->cmdline);
    lb->cmdline = c;
    return 0;
}

int linuxboot_set_initrd(struct linuxboot *lb, const char *name, const void *data, size_t size,
                         char *err, size_t errlen)
{
    if (size > IMAGE_MAX_SIZE) return fail(err, errlen, "%s: initrd too large", name);
    char *n = strdup(name);
    uint8_t *d = malloc(size ? size : 1);
    if (!n || !d) {
        free(n);
        free(d);
        return fail(err, errlen, "%s: out of memory", name);
    }
    memcpy(d, data, size);
    free(lb->initrd_name);
    free(lb->initrd);
    lb->initrd_name = n;
    lb->initrd = d;
    lb->initrd_size = (uint32_t)size;
    return 0;
}

int linuxboot_load_initrd_file(struct linuxboot *lb, const char *path, char *err, size_t errlen)
{
    uint8_t *data;
    size_t size;
    if (image_read_file(path, &data, &size, err, errlen)) return -1;
    int r = linuxboot_set_initrd(lb, path, data, size, err, errlen);
    free(data);
    return r;
}

/* The boot GDT: the protocol wants __BOOT_CS (0x10) execute/read and
 * __BOOT_DS (0x18) read/write, both flat 4 GiB. */
static const uint64_t boot_gdt[4] = {
    0,
    0,
    0x00cf9b000000ffffull,
    0x00cf93000000ffffull,
};

static unsigned build_e820(uint8_t *table, uint32_t ram_size)
{
    struct {
        uint64_t base, len;
        uint32_t type;
    } e[4];
    unsigned n = 0;
    uint32_t low = ram_size < LINUXBOOT_MPTABLE ? ram_size : LINUXBOOT_MPTABLE;
    e[n++] = (typeof(e[0])){0, low, E820_RAM};
    e[n++] = (typeof(e[0])){LINUXBOOT_MPTABLE, LOW_RAM_END - LINUXBOOT_MPTABLE, E820_RESERVED};
    e[n++] = (typeof(e[0])){BIOS_START, HIGH_RAM_START - BIOS_START, E820_RESERVED};
    if (ram_size > HIGH_RAM_START)
        e[n++] = (typeof(e[0])){HIGH_RAM_START, ram_size - HIGH_RAM_START, E820_RAM};
    for (unsigned i = 0; i < n; i++) {
        uint8_t *p = table + i * BP_E820_ENTRY_SIZE;
        wr64(p, e[i].base);
        wr64(p + 8, e[i].len);
        wr32(p + 16, e[i].type);
    }
    return n;
}

int linuxboot_place(const struct linuxboot *lb, uint32_t ram_size, linuxboot_write_fn write,
                    void *opaque, struct linuxboot_handoff *out, char *err, size_t errlen)
{
    if (!lb->image) return fail(err, errlen, "no kernel loaded");
    const char *cmdline = lb->cmdline ? lb->cmdline : "";
    if (strlen(cmdline) > lb->cmdline_size)
        return fail(err, errlen, "%s: command line of %zu bytes is longer than the kernel's %u",
                    lb->name, strlen(cmdline), lb->cmdline_size);
    if (lb->kernel_end > ram_size)
        return fail(err, errlen, "%s: the kernel needs %u MiB of RAM to boot, -m gives %u MiB",
                    lb->name, (lb->kernel_end + 0xfffffu) >> 20, ram_size >> 20);
    uint32_t initrd_addr = 0;
    if (lb->initrd) {
        uint64_t top = (uint64_t)lb->initrd_addr_max + 1;
        if (top > ram_size) top = ram_size;
        uint64_t at = top >= lb->initrd_size ? (top - lb->initrd_size) & ~0xfffull : 0;
        if (at < lb->kernel_end)
            return fail(err, errlen,
                        "%s: initrd '%s' (%u bytes) does not fit in %u MiB of RAM above the "
                        "kernel (which uses up to 0x%08x)",
                        lb->name, lb->initrd_name, lb->initrd_size, ram_size >> 20, lb->kernel_end);
        initrd_addr = (uint32_t)at;
    }
    if (out) *out = (struct linuxboot_handoff){LINUXBOOT_KERNEL, LINUXBOOT_ZERO_PAGE, initrd_addr};
    if (!write) return 0;

    write(opaque, LINUXBOOT_KERNEL, lb->image + lb->pm_offset, (uint32_t)lb->pm_size);
    if (lb->initrd) write(opaque, initrd_addr, lb->initrd, lb->initrd_size);

    write(opaque, LINUXBOOT_CMDLINE, cmdline, (uint32_t)strlen(cmdline) + 1);

    uint8_t gdt[sizeof boot_gdt];
    for (unsigned i = 0; i < 4; i++)
        wr64(gdt + 8 * i, boot_gdt[i]);
    write(opaque, LINUXBOOT_GDT, gdt, sizeof gdt);

    /* The zero page starts all-zero (so the sentinel at 0x1ef is clear and
     * Linux trusts every field), then gets the file's setup header. */
    uint8_t *bp = calloc(1, BP_SIZE);
    if (!bp) return fail(err, errlen, "%s: out of memory", lb->name);
    memcpy(bp + BP_HDR, lb->image + BP_HDR, lb->hdr_len);
    bp[BP_TYPE_OF_LOADER] = LINUX_TYPE_OF_LOADER;
    bp[BP_LOADFLAGS] &= (uint8_t)~0x80u; /* CAN_USE_HEAP: see the overview */
    wr16(bp + BP_HEAP_END_PTR, 0);
    wr32(bp + BP_CMD_LINE_PTR, LINUXBOOT_CMDLINE);
    wr32(bp + BP_RAMDISK_IMAGE, initrd_addr);
    wr32(bp + BP_RAMDISK_SIZE, lb->initrd ? lb->initrd_size : 0);
    wr32(bp + BP_CODE32_START, LINUXBOOT_KERNEL);
    wr32(bp + BP_ALT_MEM_K, ram_size > HIGH_RAM_START ? (ram_size - HIGH_RAM_START) >> 10 : 0);
    bp[BP_E820_ENTRIES] = (uint8_t)build_e820(bp + BP_E820_TABLE, ram_size);
    bp[BP_ORIG_VIDEO_ISVGA] = 0;
    if (lb->vga_text) {
        bp[BP_ORIG_VIDEO_MODE] = 3;
        bp[BP_ORIG_VIDEO_COLS] = 80;
        bp[BP_ORIG_VIDEO_LINES] = 25;
        bp[BP_ORIG_VIDEO_ISVGA] = 1;
        wr16(bp + BP_ORIG_VIDEO_POINTS, 16);
    }
    write(opaque, LINUXBOOT_ZERO_PAGE, bp, BP_SIZE);
    free(bp);

    /* The BIOS data area words Linux reads to find the EBDA and the size
     * of base memory (it reserves everything from there to 1 MiB). */
    uint8_t bda[2];
    wr16(bda, LINUXBOOT_MPTABLE >> 4);
    write(opaque, BDA_EBDA_SEG, bda, 2);
    wr16(bda, LINUXBOOT_MPTABLE >> 10);
    write(opaque, BDA_BASE_KB, bda, 2);
    return 0;
}

static void write_phys(void *opaque, uint32_t gpa, const void *buf, uint32_t len)
{
    mmu_phys_write(opaque, gpa, buf, len);
}

void linuxboot_boot_hook(void *opaque, struct machine *m)
{
    const struct linuxboot *lb = opaque;
    struct mmu *mmu = machine_mmu(m);
    struct cpu *cpu = machine_cpu(m);
    struct linuxboot_handoff h;
    char err[256];
    if (linuxboot_place(lb, mmu->ram_size, write_phys, mmu, &h, err, sizeof err)) {
        fprintf(stderr, "umbra: %s\n", err);
        machine_request_stop(m, 1);
        return;
    }
    machine_firmware_pci_setup(m);
    if (machine_write_mptable(m, LINUXBOOT_MPTABLE) == 0) {
        fprintf(stderr, "umbra: cannot write the MP table\n");
        machine_request_stop(m, 1);
        return;
    }
    mmu_set_a20(mmu, true);
    cpu_set_flat32(cpu, h.entry);
    cpu->gdtr = (struct dtr){LINUXBOOT_GDT, sizeof boot_gdt - 1};
    /* cpu_set_flat32 loaded flat caches with multiboot's selectors; the
     * Linux protocol names its own, which must match the GDT. */
    for (int s = 0; s < SEG_LDTR; s++)
        cpu->seg[s].sel = s == SEG_CS ? LINUXBOOT_BOOT_CS : LINUXBOOT_BOOT_DS;
    for (int r = 0; r < 8; r++)
        cpu->regs[r] = 0;
    cpu->regs[R_ESI] = h.boot_params;
    /* Linux's startup_32 makes its own stack in the zero page's scratch
     * field; this one only has to be harmless RAM. */
    cpu->regs[R_ESP] = LINUXBOOT_GDT;
}
