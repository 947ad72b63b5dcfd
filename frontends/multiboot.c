/*
 * multiboot.c — Multiboot v1 loader (Multiboot Specification 0.6.96).
 *
 * The header (magic, flags, checksum summing to zero) is the first valid one
 * at a 4-byte-aligned offset wholly inside the first 8 KiB.  With flag bit 16
 * (the "a.out kludge") the header's address fields say what to load; else the
 * image must be an ELF32 i386 executable whose PT_LOAD segments are placed at
 * their physical addresses (p_paddr), with the entry point translated from
 * virtual to physical when it lies in a segment whose addresses differ —
 * what QEMU does for higher-half kernels.
 *
 * Layout in guest RAM (deterministic, computed again on every reset):
 *   kernel segments | modules (page-aligned) | info block (page-aligned):
 *   info structure, memory map, module list, loader name, command lines.
 * Nothing may touch the VGA/BIOS hole 640 KiB..1 MiB; allocations that would
 * cross it move above it.  The memory map matches a PC with a BIOS: the EBDA
 * (0x9FC00..0xA0000) and the BIOS (0xF0000..0x100000) are reserved.
 */
#include "frontends/imagefile.h"
#include "frontends/multiboot.h"

#include "devices/machine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOW_RAM_END 0xA0000u /* the VGA hole starts here */
#define EBDA_START 0x9FC00u  /* the BIOS keeps its data area below 640 KiB */
#define HIGH_RAM_START 0x100000u
#define MMAP_ENTRIES 4
#define MMAP_ENTRY_SIZE 24
#define MOD_ENTRY_SIZE 16
#define LOADER_NAME "umbra"

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

static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

void multiboot_init(struct multiboot *mb)
{
    memset(mb, 0, sizeof *mb);
}

void multiboot_free(struct multiboot *mb)
{
    free(mb->name);
    free(mb->image);
    free(mb->segs);
    free(mb->cmdline);
    for (size_t i = 0; i < mb->nmods; i++) {
        free(mb->mods[i].string);
        free(mb->mods[i].data);
    }
    free(mb->mods);
    multiboot_init(mb);
}

static int add_segment(struct multiboot *mb, size_t offset, uint32_t paddr, uint32_t filesz,
                       uint32_t memsz, char *err, size_t errlen)
{
    if ((uint64_t)paddr + memsz > 0x100000000ull)
        return fail(err, errlen, "%s: segment at 0x%08x+0x%x wraps past 4 GiB", mb->name, paddr,
                    memsz);
    struct multiboot_segment *s = realloc(mb->segs, (mb->nsegs + 1) * sizeof *s);
    if (!s) return fail(err, errlen, "%s: out of memory", mb->name);
    mb->segs = s;
    s[mb->nsegs++] = (struct multiboot_segment){offset, paddr, filesz, memsz};
    if (paddr + memsz > mb->kernel_end) mb->kernel_end = paddr + memsz;
    return 0;
}

static int parse_aout(struct multiboot *mb, char *err, size_t errlen)
{
    const uint8_t *h = mb->image + mb->header_offset;
    if ((size_t)mb->header_offset + 32 > mb->image_size)
        return fail(err, errlen, "%s: multiboot header truncated (a.out kludge fields missing)",
                    mb->name);
    uint32_t header_addr = rd32(h + 12), load_addr = rd32(h + 16), load_end = rd32(h + 20);
    uint32_t bss_end = rd32(h + 24);
    mb->entry = rd32(h + 28);
    if (load_addr > header_addr || header_addr - load_addr > mb->header_offset)
        return fail(err, errlen,
                    "%s: multiboot load_addr 0x%08x inconsistent with header_addr 0x%08x", mb->name,
                    load_addr, header_addr);
    size_t offset = mb->header_offset - (header_addr - load_addr);
    uint64_t filesz = mb->image_size - offset;
    if (load_end) {
        if (load_end < load_addr)
            return fail(err, errlen, "%s: multiboot load_end_addr 0x%08x below load_addr 0x%08x",
                        mb->name, load_end, load_addr);
        if ((uint64_t)load_end - load_addr > filesz)
            return fail(err, errlen, "%s: file too short for load_end_addr 0x%08x", mb->name,
                        load_end);
        filesz = load_end - load_addr;
    }
    if (filesz > 0xffffffffull - load_addr)
        return fail(err, errlen, "%s: image wraps past 4 GiB", mb->name);
    uint64_t memsz = filesz;
    if (bss_end) {
        if (bss_end < load_addr + filesz)
            return fail(err, errlen, "%s: multiboot bss_end_addr 0x%08x below the loaded image",
                        mb->name, bss_end);
        memsz = bss_end - load_addr;
    }
    return add_segment(mb, offset, load_addr, (uint32_t)filesz, (uint32_t)memsz, err, errlen);
}

static int parse_elf(struct multiboot *mb, char *err, size_t errlen)
{
    const uint8_t *e = mb->image;
    if (mb->image_size < 4 || memcmp(e,
                                     "\x7f"
                                     "ELF",
                                     4) != 0)
        return fail(err, errlen, "%s: not an ELF file and no multiboot a.out kludge", mb->name);
    if (mb->image_size < 52) return fail(err, errlen, "%s: truncated ELF header", mb->name);
    if (e[4] == 2)
        return fail(err, errlen, "%s: ELF64 kernels are not supported (need ELF32 i386)", mb->name);
    if (e[4] != 1 || e[5] != 1)
        return fail(err, errlen, "%s: not a little-endian ELF32 file", mb->name);
    if (rd16(e + 16) != 2)
        return fail(err, errlen, "%s: ELF type %u is not an executable", mb->name, rd16(e + 16));
    if (rd16(e + 18) != 3)
        return fail(err, errlen, "%s: ELF machine %u is not i386", mb->name, rd16(e + 18));
    uint32_t entry = rd32(e + 24), phoff = rd32(e + 28);
    unsigned phentsize = rd16(e + 42), phnum = rd16(e + 44);
    if (phnum == 0 || phentsize < 32 ||
        (uint64_t)phoff + (uint64_t)phnum * phentsize > mb->image_size)
        return fail(err, errlen, "%s: malformed ELF program headers", mb->name);
    mb->entry = entry;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = e + phoff + (size_t)i * phentsize;
        if (rd32(ph) != 1 /* PT_LOAD */) continue;
        uint32_t off = rd32(ph + 4), vaddr = rd32(ph + 8), paddr = rd32(ph + 12);
        uint32_t filesz = rd32(ph + 16), memsz = rd32(ph + 20);
        if (filesz > memsz || (uint64_t)off + filesz > mb->image_size)
            return fail(err, errlen, "%s: malformed ELF segment %u", mb->name, i);
        if (memsz == 0) continue;
        if (add_segment(mb, off, paddr, filesz, memsz, err, errlen)) return -1;
        if (vaddr != paddr && entry >= vaddr && entry - vaddr < memsz)
            mb->entry = entry - vaddr + paddr;
    }
    if (mb->nsegs == 0) return fail(err, errlen, "%s: no loadable ELF segments", mb->name);
    return 0;
}

bool multiboot_probe(const void *image, size_t size)
{
    const uint8_t *p = image;
    for (size_t off = 0; off + 4 <= size && off + 4 <= MULTIBOOT_SEARCH; off += 4)
        if (rd32(p + off) == MULTIBOOT_HEADER_MAGIC) return true;
    return false;
}

int multiboot_parse(struct multiboot *mb, const char *name, const void *image, size_t size,
                    char *err, size_t errlen)
{
    multiboot_free(mb);
    mb->name = strdup(name);
    mb->image = malloc(size ? size : 1);
    if (!mb->name || !mb->image) return fail(err, errlen, "%s: out of memory", name);
    memcpy(mb->image, image, size);
    mb->image_size = size;

    /* The first header whose checksum holds: a stray magic number in code
     * or data before the real header must not hide it. */
    long bad_checksum_at = -1;
    bool found = false;
    for (size_t off = 0; off + 12 <= size && off + 12 <= MULTIBOOT_SEARCH; off += 4) {
        const uint8_t *h = mb->image + off;
        if (rd32(h) != MULTIBOOT_HEADER_MAGIC) continue;
        if ((uint32_t)(rd32(h) + rd32(h + 4) + rd32(h + 8)) != 0) {
            if (bad_checksum_at < 0) bad_checksum_at = (long)off;
            continue;
        }
        mb->header_offset = (uint32_t)off;
        mb->header_flags = rd32(h + 4);
        found = true;
        break;
    }
    if (!found) {
        if (bad_checksum_at >= 0)
            return fail(err, errlen, "%s: multiboot header at offset 0x%lx has a bad checksum",
                        name, bad_checksum_at);
        return fail(err, errlen, "%s: no multiboot header in the first %u bytes", name,
                    MULTIBOOT_SEARCH);
    }
    /* Requirements the loader cannot meet must fail (spec 3.1.2).  Bit 2
     * (a video mode) is accepted without setting the info's video fields,
     * as QEMU does: the kernel sees from the info flags that it got none. */
    uint32_t unknown = mb->header_flags & 0xfff8u;
    if (unknown)
        return fail(err, errlen,
                    "%s: multiboot header requires unsupported features (flags 0x%08x)", name,
                    mb->header_flags);
    if (mb->header_flags & MB_HF_AOUT_KLUDGE) return parse_aout(mb, err, errlen);
    return parse_elf(mb, err, errlen);
}

int multiboot_load_file(struct multiboot *mb, const char *path, char *err, size_t errlen)
{
    uint8_t *data;
    size_t size;
    if (image_read_file(path, &data, &size, err, errlen)) return -1;
    int r = multiboot_parse(mb, path, data, size, err, errlen);
    free(data);
    return r;
}

int multiboot_set_cmdline(struct multiboot *mb, const char *append, char *err, size_t errlen)
{
    size_t n = strlen(mb->name) + (append ? strlen(append) + 1 : 0) + 1;
    char *s = malloc(n);
    if (!s) return fail(err, errlen, "%s: out of memory", mb->name);
    if (append)
        snprintf(s, n, "%s %s", mb->name, append);
    else
        snprintf(s, n, "%s", mb->name);
    free(mb->cmdline);
    mb->cmdline = s;
    return 0;
}

int multiboot_add_module(struct multiboot *mb, const char *string, const void *data, size_t size,
                         char *err, size_t errlen)
{
    if (size > IMAGE_MAX_SIZE) return fail(err, errlen, "%s: module too large", string);
    struct multiboot_module *m = realloc(mb->mods, (mb->nmods + 1) * sizeof *m);
    if (!m) return fail(err, errlen, "%s: out of memory", string);
    mb->mods = m;
    struct multiboot_module mod = {strdup(string), malloc(size ? size : 1), (uint32_t)size};
    if (!mod.string || !mod.data) {
        free(mod.string);
        free(mod.data);
        return fail(err, errlen, "%s: out of memory", string);
    }
    memcpy(mod.data, data, size);
    mb->mods[mb->nmods++] = mod;
    return 0;
}

int multiboot_add_module_file(struct multiboot *mb, const char *path, const char *string, char *err,
                              size_t errlen)
{
    uint8_t *data;
    size_t size;
    if (image_read_file(path, &data, &size, err, errlen)) return -1;
    int r = multiboot_add_module(mb, string, data, size, err, errlen);
    free(data);
    return r;
}

/* Is [addr, addr+len) inside guest RAM (and not in the 640K..1M hole)? */
static bool in_ram(uint32_t addr, uint64_t len, uint32_t ram_size)
{
    uint64_t end = (uint64_t)addr + len;
    if (end <= LOW_RAM_END) return end <= ram_size;
    return addr >= HIGH_RAM_START && end <= ram_size;
}

/* Bump allocator over guest RAM above the kernel. */
struct alloc {
    uint64_t cur;
    uint32_t ram_size;
};

static bool alloc_take(struct alloc *a, uint64_t len, uint32_t align, uint32_t *out)
{
    uint64_t p = (a->cur + align - 1) & ~(uint64_t)(align - 1);
    if (p < HIGH_RAM_START && p + len > LOW_RAM_END) p = HIGH_RAM_START;
    if (p + len > a->ram_size) return false;
    *out = (uint32_t)p;
    a->cur = p + len;
    return true;
}

static void write_zeros(multiboot_write_fn write, void *opaque, uint32_t gpa, uint32_t len)
{
    static const uint8_t zeros[4096];
    while (len) {
        uint32_t n = len < sizeof zeros ? len : (uint32_t)sizeof zeros;
        write(opaque, gpa, zeros, n);
        gpa += n;
        len -= n;
    }
}

int multiboot_place(const struct multiboot *mb, uint32_t ram_size, multiboot_write_fn write,
                    void *opaque, struct multiboot_handoff *out, char *err, size_t errlen)
{
    if (!mb->image) return fail(err, errlen, "no kernel loaded");
    for (size_t i = 0; i < mb->nsegs; i++) {
        const struct multiboot_segment *s = &mb->segs[i];
        if (!in_ram(s->paddr, s->memsz, ram_size)) {
            char high[48] = "";
            if (ram_size > HIGH_RAM_START)
                snprintf(high, sizeof high, " and 0x%08x..0x%08x", HIGH_RAM_START, ram_size - 1);
            uint32_t low_end = ram_size < LOW_RAM_END ? ram_size : LOW_RAM_END;
            return fail(err, errlen,
                        "%s: segment 0x%08x..0x%08x outside RAM (%u MiB: 0x00000000..0x%08x%s)",
                        mb->name, s->paddr, (uint32_t)(s->paddr + s->memsz - 1), ram_size >> 20,
                        low_end - 1, high);
        }
    }
    if (!in_ram(mb->entry, 1, ram_size))
        return fail(err, errlen, "%s: entry point 0x%08x outside RAM", mb->name, mb->entry);

    /* Layout first, so nothing is written unless everything fits. */
    struct alloc a = {mb->kernel_end, ram_size};
    uint32_t *mod_at = calloc(mb->nmods + 1, sizeof *mod_at);
    if (!mod_at) return fail(err, errlen, "%s: out of memory", mb->name);
    for (size_t i = 0; i < mb->nmods; i++) {
        if (!alloc_take(&a, mb->mods[i].size, 4096, &mod_at[i])) {
            free(mod_at);
            return fail(err, errlen, "%s: module '%s' does not fit in %u MiB of RAM", mb->name,
                        mb->mods[i].string, ram_size >> 20);
        }
    }
    const char *cmdline = mb->cmdline ? mb->cmdline : mb->name;
    uint64_t info_len = MBI_SIZE + MMAP_ENTRIES * MMAP_ENTRY_SIZE +
                        (uint64_t)mb->nmods * MOD_ENTRY_SIZE + sizeof LOADER_NAME +
                        strlen(cmdline) + 1;
    for (size_t i = 0; i < mb->nmods; i++)
        info_len += strlen(mb->mods[i].string) + 1;
    uint32_t info_at;
    if (info_len > 0xffffffu || !alloc_take(&a, info_len, 4096, &info_at)) {
        free(mod_at);
        return fail(err, errlen,
                    "%s: kernel, modules and boot information do not fit in %u MiB "
                    "of RAM",
                    mb->name, ram_size >> 20);
    }
    if (out) *out = (struct multiboot_handoff){mb->entry, MULTIBOOT_BOOT_MAGIC, info_at};
    if (!write) {
        free(mod_at);
        return 0;
    }

    for (size_t i = 0; i < mb->nsegs; i++) {
        const struct multiboot_segment *s = &mb->segs[i];
        write(opaque, s->paddr, mb->image + s->offset, s->filesz);
        write_zeros(write, opaque, s->paddr + s->filesz, s->memsz - s->filesz);
    }
    for (size_t i = 0; i < mb->nmods; i++)
        write(opaque, mod_at[i], mb->mods[i].data, mb->mods[i].size);

    /* Build the whole info block on the host, then copy it in one write. */
    uint8_t *blk = calloc(1, (size_t)info_len);
    if (!blk) {
        free(mod_at);
        return fail(err, errlen, "%s: out of memory", mb->name);
    }
    uint32_t mmap_off = MBI_SIZE;
    uint32_t mods_off = mmap_off + MMAP_ENTRIES * MMAP_ENTRY_SIZE;
    uint32_t str_off = mods_off + (uint32_t)mb->nmods * MOD_ENTRY_SIZE;

    uint32_t low_end = ram_size < EBDA_START ? ram_size : EBDA_START;
    static const struct {
        uint32_t base, len, type;
    } fixed[] = {
        {EBDA_START, LOW_RAM_END - EBDA_START, 2},
        {0xF0000, 0x10000, 2},
    };
    uint32_t n = 0;
    uint8_t *e = blk + mmap_off;
    /* size (of the rest of the entry: 20), base, length, type */
    wr32(e, 20), wr64(e + 4, 0), wr64(e + 12, low_end), wr32(e + 20, 1), n++;
    for (size_t i = 0; i < 2; i++, n++) {
        e = blk + mmap_off + n * MMAP_ENTRY_SIZE;
        wr32(e, 20), wr64(e + 4, fixed[i].base), wr64(e + 12, fixed[i].len),
            wr32(e + 20, fixed[i].type);
    }
    if (ram_size > HIGH_RAM_START) {
        e = blk + mmap_off + n * MMAP_ENTRY_SIZE;
        wr32(e, 20), wr64(e + 4, HIGH_RAM_START), wr64(e + 12, ram_size - HIGH_RAM_START);
        wr32(e + 20, 1);
        n++;
    }

    uint32_t flags = MBI_MEM | MBI_CMDLINE | MBI_MMAP | MBI_LOADER_NAME;
    wr32(blk + MBI_OFF_MEM_LOWER, low_end >> 10);
    wr32(blk + MBI_OFF_MEM_UPPER,
         ram_size > HIGH_RAM_START ? (ram_size - HIGH_RAM_START) >> 10 : 0);
    wr32(blk + MBI_OFF_MMAP_LENGTH, n * MMAP_ENTRY_SIZE);
    wr32(blk + MBI_OFF_MMAP_ADDR, info_at + mmap_off);

    uint32_t s = str_off;
    memcpy(blk + s, LOADER_NAME, sizeof LOADER_NAME);
    wr32(blk + MBI_OFF_LOADER_NAME, info_at + s);
    s += sizeof LOADER_NAME;
    strcpy((char *)blk + s, cmdline);
    wr32(blk + MBI_OFF_CMDLINE, info_at + s);
    s += (uint32_t)strlen(cmdline) + 1;
    if (mb->nmods) {
        flags |= MBI_MODS;
        wr32(blk + MBI_OFF_MODS_COUNT, (uint32_t)mb->nmods);
        wr32(blk + MBI_OFF_MODS_ADDR, info_at + mods_off);
        for (size_t i = 0; i < mb->nmods; i++) {
            uint8_t *m = blk + mods_off + i * MOD_ENTRY_SIZE;
            wr32(m, mod_at[i]);
            wr32(m + 4, mod_at[i] + mb->mods[i].size); /* one past the end, as GRUB and QEMU */
            strcpy((char *)blk + s, mb->mods[i].string);
            wr32(m + 8, info_at + s);
            s += (uint32_t)strlen(mb->mods[i].string) + 1;
        }
    }
    wr32(blk + MBI_OFF_FLAGS, flags);
    write(opaque, info_at, blk, (uint32_t)info_len);
    free(blk);
    free(mod_at);
    return 0;
}

static void write_phys(void *opaque, uint32_t gpa, const void *buf, uint32_t len)
{
    mmu_phys_write(opaque, gpa, buf, len);
}

void multiboot_boot_hook(void *opaque, struct machine *m)
{
    const struct multiboot *mb = opaque;
    struct mmu *mmu = machine_mmu(m);
    struct cpu *cpu = machine_cpu(m);
    struct multiboot_handoff h;
    char err[256];
    if (multiboot_place(mb, mmu->ram_size, write_phys, mmu, &h, err, sizeof err)) {
        fprintf(stderr, "umbra: %s\n", err);
        machine_request_stop(m, 1);
        return;
    }
    mmu_set_a20(mmu, true);
    cpu_set_flat32(cpu, h.entry);
    cpu->regs[R_EAX] = h.eax;
    cpu->regs[R_EBX] = h.ebx;
}
