/*
 * phys.c — the guest-physical map: one RAM allocation, ROM images, MMIO
 * regions and the A20 gate.
 *
 * Regions are few (tens), so lookups are a backwards scan: later mappings
 * win, which lets ROM and MMIO windows sit on top of the RAM region the way a
 * chipset decodes them.  The scan only runs on the slow path (TLB fills,
 * DMA); the CPU's hot path never sees this file.  Every write into RAM from
 * here (DMA, loaders, the emulator's own updates) passes the write tracking,
 * exactly as CPU stores do (track.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "mmu/mmu.h"
#include "mmu/mmu_internal.h"

int mmu_init(struct mmu *m, uint32_t ram_size)
{
    memset(m, 0, sizeof *m);
    if (ram_size == 0 || (ram_size & ~PAGE_MASK))
        return -EINVAL;
    void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (ram == MAP_FAILED)
        return -errno;
#ifdef MADV_HUGEPAGE
    madvise(ram, ram_size, MADV_HUGEPAGE);
#endif
    m->ram = ram;
    m->ram_size = ram_size;
    m->page_track = calloc(ram_size >> PAGE_SHIFT, 1);
    if (!m->page_track) {
        munmap(ram, ram_size);
        return -ENOMEM;
    }
    if (shadow_init(m)) {
        mmu_destroy(m);
        return -ENOMEM;
    }
    m->a20_mask = 0xffffffffu;
    m->regions[0] = (struct phys_region){
        .start = 0, .size = ram_size, .kind = PHYS_RAM, .host = ram, .name = "ram"};
    m->nregions = 1;
    return 0;
}

void mmu_destroy(struct mmu *m)
{
    shadow_destroy(m);
    for (int i = 0; i < m->nregions; i++)
        if (m->regions[i].kind == PHYS_ROM && !m->regions[i].window)
            free(m->regions[i].host);
    if (m->ram)
        munmap(m->ram, m->ram_size);
    free(m->page_track);
    memset(m, 0, sizeof *m);
}

static struct phys_region *add_region(struct mmu *m, uint32_t gpa, uint32_t size)
{
    if (m->nregions >= MMU_MAX_REGIONS || size == 0 || (uint64_t)gpa + size > 0x100000000ull)
        return NULL;
    struct phys_region *r = &m->regions[m->nregions++];
    memset(r, 0, sizeof *r);
    r->start = gpa;
    r->size = size;
    return r;
}

int mmu_map_rom(struct mmu *m, uint32_t gpa, const void *data, uint32_t size, const char *name)
{
    uint8_t *copy = malloc(size);
    if (!copy)
        return -ENOMEM;
    struct phys_region *r = add_region(m, gpa, size);
    if (!r) {
        free(copy);
        return -ENOSPC;
    }
    memcpy(copy, data, size);
    r->kind = PHYS_ROM;
    r->host = copy;
    r->name = name;
    mmu_phys_map_changed(m);
    return 0;
}

int mmu_map_mmio(struct mmu *m, uint32_t gpa, uint32_t size, const struct mmio_ops *ops,
                 void *opaque, const char *name)
{
    struct phys_region *r = add_region(m, gpa, size);
    if (!r)
        return -ENOSPC;
    r->kind = PHYS_MMIO;
    r->ops = ops;
    r->opaque = opaque;
    r->name = name;
    mmu_phys_map_changed(m);
    return 0;
}

int mmu_map_window(struct mmu *m, uint32_t gpa, uint32_t size, const char *name)
{
    if ((uint64_t)gpa + size > m->ram_size || ((gpa | size) & ~PAGE_MASK))
        return -EINVAL;
    struct phys_region *r = add_region(m, gpa, size);
    if (!r)
        return -ENOSPC;
    r->kind = PHYS_RAM;
    r->host = m->ram + gpa;
    r->name = name;
    r->window = true;
    r->write_ram = true;
    mmu_phys_map_changed(m);
    return (int)(r - m->regions);
}

void mmu_route_window(struct mmu *m, int handle, bool read_ram, const uint8_t *rom,
                      bool write_ram)
{
    if (handle < 0 || handle >= m->nregions || !m->regions[handle].window)
        return;
    struct phys_region *r = &m->regions[handle];
    enum phys_kind kind = read_ram ? PHYS_RAM : rom ? PHYS_ROM : PHYS_UNMAPPED;
    uint8_t *host = read_ram ? m->ram + r->start : (uint8_t *)rom;
    if (r->kind == kind && r->host == host && r->write_ram == write_ram)
        return;
    r->kind = kind;
    r->host = host;
    r->write_ram = write_ram;
    mmu_phys_map_changed(m);
    /* Chained blocks skip the lookup that would notice the bytes now come
     * from elsewhere: drop whatever was decoded in the window. */
    if (m->code_write)
        m->code_write(m->code_opaque, r->start, r->size);
}

int mmu_map_host(struct mmu *m, uint32_t gpa, uint32_t size, uint8_t *host, const char *name)
{
    struct phys_region *r = add_region(m, gpa, size);
    if (!r)
        return -ENOSPC;
    r->kind = PHYS_HOST;
    r->host = host;
    r->name = name;
    mmu_phys_map_changed(m);
    return m->nregions - 1;
}

int mmu_region_last(struct mmu *m) { return m->nregions - 1; }

void mmu_region_move(struct mmu *m, int handle, uint32_t gpa, uint32_t size)
{
    if (handle < 0 || handle >= m->nregions)
        return;
    struct phys_region *r = &m->regions[handle];
    if ((uint64_t)gpa + size > 0x100000000ull)
        size = 0;
    if (r->start == gpa && r->size == size)
        return;
    r->start = gpa;
    r->size = size;
    mmu_phys_map_changed(m);
}

const struct phys_region *mmu_find_region(struct mmu *m, uint32_t gpa)
{
    for (int i = m->nregions - 1; i >= 0; i--) {
        const struct phys_region *r = &m->regions[i];
        if (gpa - r->start < r->size)
            return r;
    }
    return NULL;
}

void mmu_set_a20(struct mmu *m, bool enabled)
{
    uint32_t mask = enabled ? 0xffffffffu : ~(1u << 20);
    if (mask != m->a20_mask) {
        m->a20_mask = mask;
        /* Table addresses and frames are masked too. */
        mmu_phys_map_changed(m);
    }
}

/* One access of 1, 2 or 4 bytes that does not cross a region boundary. */
uint32_t mmu_phys_load(struct mmu *m, uint32_t gpa, unsigned size)
{
    const struct phys_region *r = mmu_find_region(m, gpa);
    if (!r || gpa - r->start > r->size - size)
        return size == 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
    uint32_t off = gpa - r->start, v = 0;
    switch (r->kind) {
    case PHYS_RAM:
    case PHYS_ROM:
    case PHYS_HOST:
        memcpy(&v, r->host + off, size);
        return v;
    case PHYS_MMIO:
        m->stats.mmio_accesses++;
        return r->ops->read(r->opaque, off, size);
    default:
        return 0xffffffffu;
    }
}

void mmu_phys_store(struct mmu *m, uint32_t gpa, uint32_t v, unsigned size)
{
    mmu_phys_store_src(m, gpa, v, size, WSRC_EMU);
}

void mmu_phys_store_src(struct mmu *m, uint32_t gpa, uint32_t v, unsigned size, enum wsrc src)
{
    const struct phys_region *r = mmu_find_region(m, gpa);
    if (!r || gpa - r->start > r->size - size) {
        MMU_LOG(m, MMU_LOG_GUEST_ERRORS, "write of %u bytes to unmapped GPA 0x%08x\n", size, gpa);
        return;
    }
    uint32_t off = gpa - r->start;
    switch (r->kind) {
    case PHYS_MMIO:
        m->stats.mmio_accesses++;
        r->ops->write(r->opaque, off, v, size);
        return;
    case PHYS_HOST:
        memcpy(r->host + off, &v, size);
        return;
    case PHYS_RAM:
        if (!r->window) {
            memcpy(r->host + off, &v, size);
            mmu_note_ram_write_src(m, gpa, size, src);
            return;
        }
        /* fall through */
    default: /* ROM: writes are dropped, as on a real board... */
        if (r->window && r->write_ram) { /* ...unless the chipset sends them to RAM */
            memcpy(m->ram + gpa, &v, size);
            mmu_note_ram_write_src(m, gpa, size, src);
        }
        return;
    }
}

void mmu_phys_read(struct mmu *m, uint32_t gpa, void *buf, uint32_t len)
{
    uint8_t *out = buf;
    while (len) {
        const struct phys_region *r = mmu_find_region(m, gpa);
        if (r && (r->kind == PHYS_RAM || r->kind == PHYS_ROM || r->kind == PHYS_HOST)) {
            uint32_t n = r->size - (gpa - r->start);
            if (n > len)
                n = len;
            /* A later region may cover part of this span: stop at page granularity. */
            uint32_t to_page = PAGE_SIZE - (gpa & ~PAGE_MASK);
            if (n > to_page)
                n = to_page;
            memcpy(out, r->host + (gpa - r->start), n);
            out += n, gpa += n, len -= n;
        } else {
            *out++ = (uint8_t)mmu_phys_load(m, gpa++, 1);
            len--;
        }
    }
}

void mmu_phys_write(struct mmu *m, uint32_t gpa, const void *buf, uint32_t len)
{
    const uint8_t *in = buf;
    while (len) {
        const struct phys_region *r = mmu_find_region(m, gpa);
        if (r && r->kind == PHYS_RAM && (!r->window || r->write_ram)) {
            uint32_t n = r->size - (gpa - r->start);
            uint32_t to_page = PAGE_SIZE - (gpa & ~PAGE_MASK);
            if (n > to_page)
                n = to_page;
            if (n > len)
                n = len;
            memcpy(r->host + (gpa - r->start), in, n);
            mmu_note_ram_write(m, gpa, n);
            in += n, gpa += n, len -= n;
        } else {
            mmu_phys_store(m, gpa++, *in++, 1);
            len--;
        }
    }
}

uint32_t mmu_phys_read32(struct mmu *m, uint32_t gpa)
{
    uint32_t v;
    mmu_phys_read(m, gpa, &v, 4);
    return v;
}

void mmu_phys_write32(struct mmu *m, uint32_t gpa, uint32_t v)
{
    mmu_phys_write(m, gpa, &v, 4);
}
