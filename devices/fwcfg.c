/*
 * fwcfg.c — QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst,
 * the x86 I/O-port flavour), so that Debian's SeaBIOS configures the machine
 * the way it does under QEMU.
 *
 * Registers: a 16-bit selector at 0x510 (a write picks an item and rewinds
 * it), an 8-bit data port at 0x511 (reads step through the item, zeros past
 * its end; writes are ignored, as in QEMU since 2.4), and the DMA address at
 * 0x514-0x51b, big-endian, whose low-word write starts a transfer described
 * by an FWCfgDmaAccess structure in guest memory {be32 control, be32 length,
 * be64 address}.  Reads of 0x514 give the signature "QEMU CFG".  The DMA
 * reaches memory only through mmu_phys_read/write, and only RAM: an address
 * outside it gets the error bit and a guest_errors line, never a host crash.
 *
 * Design choice: files are kept sorted by name and numbered in that order,
 * as QEMU does, so the directory (item 0x19: be32 count, then {be32 size,
 * be16 select, be16 reserved, char name[56]} per file) is always sorted and
 * is rebuilt once per added file rather than per read.
 */
#include "devices/fwcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char dma_signature[8] = {'Q', 'E', 'M', 'U', ' ', 'C', 'F', 'G'};

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The item the selector names; NULL if none.  Bit 14 (the write flag) does
 * not take part in the lookup; bit 15 selects the architecture's items. */
static const struct fwcfg_item *current_item(const struct fwcfg *f)
{
    uint16_t key = f->selector & 0xbfff;
    if (key >= FWCFG_FILE_FIRST && key < FWCFG_FILE_FIRST + f->nfiles)
        return &f->files[key - FWCFG_FILE_FIRST];
    for (unsigned i = 0; i < f->nitems; i++)
        if (f->items[i].key == key) return &f->items[i];
    return NULL;
}

static uint8_t data_read_byte(struct fwcfg *f)
{
    const struct fwcfg_item *it = current_item(f);
    if (!it || f->offset >= it->len) return 0;
    return it->data[f->offset++];
}

static uint32_t port_read(void *opaque, uint16_t off, unsigned size)
{
    struct fwcfg *f = opaque;
    if (off == 1 && size == 1) return data_read_byte(f);
    return 0; /* the selector is write-only */
}

static void port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct fwcfg *f = opaque;
    if (off == 0 && size == 2) {
        f->selector = (uint16_t)v;
        f->offset = 0;
    } else if (off == 1) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS,
                "fw_cfg: write to the data port ignored (read-only since QEMU 2.4)\n");
    } else {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fw_cfg: %u-byte write to selector offset %u\n", size,
                off);
    }
}

static bool dma_range_ok(const struct fwcfg *f, uint64_t addr, uint32_t len)
{
    return addr < f->mmu->ram_size && len <= f->mmu->ram_size - addr;
}

static void dma_transfer(struct fwcfg *f, uint64_t desc)
{
    uint8_t d[16];
    if (!dma_range_ok(f, desc, sizeof d)) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS,
                "fw_cfg: DMA descriptor at 0x%llx lies outside RAM; ignored\n",
                (unsigned long long)desc);
        return;
    }
    mmu_phys_read(f->mmu, (uint32_t)desc, d, sizeof d);
    uint32_t control = get_be32(d), length = get_be32(d + 4);
    uint64_t addr = (uint64_t)get_be32(d + 8) << 32 | get_be32(d + 12);

    if (control & FWCFG_DMA_SELECT) {
        f->selector = (uint16_t)(control >> 16);
        f->offset = 0;
    }
    bool read = false, write = false;
    if (control & FWCFG_DMA_READ)
        read = true;
    else if (control & FWCFG_DMA_WRITE)
        write = true;
    else if (!(control & FWCFG_DMA_SKIP))
        length = 0;

    uint32_t status = 0;
    const struct fwcfg_item *it = current_item(f);
    while (length && !status) {
        uint32_t avail = it && f->offset < it->len ? it->len - f->offset : 0;
        uint32_t n = avail ? (length < avail ? length : avail) : length;
        if ((read || write) && !dma_range_ok(f, addr, n)) {
            dev_log(f->log, DEV_LOG_GUEST_ERRORS,
                    "fw_cfg: DMA of %u bytes at 0x%llx lies outside RAM\n", n,
                    (unsigned long long)addr);
            status = FWCFG_DMA_ERROR;
            break;
        }
        if (write) {
            /* No item here is writable. */
            dev_log(f->log, DEV_LOG_GUEST_ERRORS, "fw_cfg: DMA write to read-only item 0x%04x\n",
                    f->selector);
            status = FWCFG_DMA_ERROR;
            break;
        }
        if (read) {
            if (avail) {
                mmu_phys_write(f->mmu, (uint32_t)addr, it->data + f->offset, n);
            } else {
                static const uint8_t zeros[256];
                for (uint32_t k = 0; k < n;) {
                    uint32_t c = n - k < sizeof zeros ? n - k : (uint32_t)sizeof zeros;
                    mmu_phys_write(f->mmu, (uint32_t)(addr + k), zeros, c);
                    k += c;
                }
            }
        }
        if (avail) f->offset += n;
        addr += n;
        length -= n;
    }
    /* Completion: the control word becomes 0, or just the error bit. */
    uint8_t done[4];
    put_be32(done, status);
    mmu_phys_write(f->mmu, (uint32_t)desc, done, sizeof done);
}

static uint32_t dma_read(void *opaque, uint16_t off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && off + i < sizeof dma_signature; i++)
        v |= (uint32_t)(uint8_t)dma_signature[off + i] << (8 * i);
    return v;
}

/* The guest writes the address big-endian: the byte at the lowest port is
 * the most significant, so a little-endian OUTL of cpu_to_be32(a) gives a. */
static uint32_t bswap_n(uint32_t v, unsigned size)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < size; i++)
        r = r << 8 | ((v >> (8 * i)) & 0xff);
    return r;
}

static void dma_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct fwcfg *f = opaque;
    if (size != 4 || (off != 0 && off != 4)) {
        dev_log(f->log, DEV_LOG_GUEST_ERRORS,
                "fw_cfg: %u-byte write to DMA register offset %u ignored\n", size, off);
        return;
    }
    uint32_t word = bswap_n(v, 4);
    if (off == 0) {
        f->dma_addr = (uint64_t)word << 32;
        return;
    }
    uint64_t desc = f->dma_addr | word;
    f->dma_addr = 0; /* the next transfer's high word is zero unless written */
    dma_transfer(f, desc);
}

/* --- contents --- */

static void rebuild_dir(struct fwcfg *f)
{
    uint32_t len = 4 + 64 * f->nfiles;
    uint8_t *d = calloc(1, len);
    if (!d) abort();
    put_be32(d, f->nfiles);
    for (unsigned i = 0; i < f->nfiles; i++) {
        uint8_t *e = d + 4 + 64 * i;
        put_be32(e, f->files[i].len);
        uint16_t sel = (uint16_t)(FWCFG_FILE_FIRST + i);
        e[4] = (uint8_t)(sel >> 8), e[5] = (uint8_t)sel;
        memcpy(e + 8, f->files[i].name, FWCFG_NAME_MAX);
    }
    free(f->dir);
    f->dir = d;
    f->dir_len = len;
    for (unsigned i = 0; i < f->nitems; i++)
        if (f->items[i].key == FWCFG_FILE_DIR) {
            f->items[i].data = d; /* shared with f->dir, freed through it */
            f->items[i].len = len;
        }
}

static uint8_t *copy_data(const void *data, uint32_t len)
{
    uint8_t *p = malloc(len ? len : 1);
    if (!p) abort();
    if (len) memcpy(p, data, len);
    return p;
}

int fwcfg_add_bytes(struct fwcfg *f, uint16_t key, const void *data, uint32_t len)
{
    if (key == FWCFG_FILE_DIR || (key >= FWCFG_FILE_FIRST && key < 0x4000)) return -1;
    for (unsigned i = 0; i < f->nitems; i++)
        if (f->items[i].key == key) {
            free(f->items[i].data);
            f->items[i].data = copy_data(data, len);
            f->items[i].len = len;
            return 0;
        }
    if (f->nitems == FWCFG_MAX_ITEMS) return -1;
    f->items[f->nitems++] = (struct fwcfg_item){key, copy_data(data, len), len, ""};
    return 0;
}

int fwcfg_add_i16(struct fwcfg *f, uint16_t key, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    return fwcfg_add_bytes(f, key, b, sizeof b);
}

int fwcfg_add_i32(struct fwcfg *f, uint16_t key, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fwcfg_add_bytes(f, key, b, sizeof b);
}

int fwcfg_add_i64(struct fwcfg *f, uint16_t key, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return fwcfg_add_bytes(f, key, b, sizeof b);
}

int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len)
{
    if (f->nfiles == FWCFG_MAX_FILES || strlen(name) >= FWCFG_NAME_MAX) return -1;
    unsigned pos = 0;
    while (pos < f->nfiles && strcmp(f->files[pos].name, name) < 0)
        pos++;
    if (pos < f->nfiles && !strcmp(f->files[pos].name, name)) return -1;
    memmove(&f->files[pos + 1], &f->files[pos], (f->nfiles - pos) * sizeof f->files[0]);
    struct fwcfg_item *it = &f->files[pos];
    memset(it, 0, sizeof *it);
    it->key = (uint16_t)(FWCFG_FILE_FIRST + pos);
    it->data = copy_data(data, len);
    it->len = len;
    strcpy(it->name, name);
    f->nfiles++;
    for (unsigned i = 0; i < f->nfiles; i++)
        f->files[i].key = (uint16_t)(FWCFG_FILE_FIRST + i);
    rebuild_dir(f);
    return 0;
}

/* --- life cycle --- */

int fwcfg_init(struct fwcfg *f, struct bus *bus, struct mmu *mmu, const struct dev_log *log,
               char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    f->mmu = mmu;
    f->log = log;
    fwcfg_add_bytes(f, FWCFG_SIGNATURE, "QEMU", 4);
    fwcfg_add_i32(f, FWCFG_ID, FWCFG_ID_TRADITIONAL | FWCFG_ID_DMA);
    /* The directory: an item whose data is f->dir (see rebuild_dir). */
    f->items[f->nitems++] = (struct fwcfg_item){FWCFG_FILE_DIR, NULL, 0, ""};
    rebuild_dir(f);
    if (bus_register(bus, FWCFG_PORT_SEL, 2, BUS_W8 | BUS_W16, "fw_cfg", port_read, port_write, f,
                     err, errlen) ||
        bus_register(bus, FWCFG_PORT_DMA, 8, BUS_W8 | BUS_W16 | BUS_W32, "fw_cfg-dma", dma_read,
                     dma_write, f, err, errlen)) {
        fwcfg_destroy(f);
        return -1;
    }
    return 0;
}

void fwcfg_destroy(struct fwcfg *f)
{
    for (unsigned i = 0; i < f->nitems; i++)
        if (f->items[i].key != FWCFG_FILE_DIR) free(f->items[i].data);
    for (unsigned i = 0; i < f->nfiles; i++)
        free(f->files[i].data);
    free(f->dir);
    f->nitems = f->nfiles = 0;
    f->dir = NULL;
}

void fwcfg_reset(struct fwcfg *f)
{
    f->selector = 0;
    f->offset = 0;
    f->dma_addr = 0;
}

void fwcfg_save(struct fwcfg *f, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "fwcfg.version", &version, sizeof version);
    state_put(s, "fwcfg.selector", &f->selector, sizeof f->selector);
    state_put(s, "fwcfg.offset", &f->offset, sizeof f->offset);
    state_put(s, "fwcfg.dma_addr", &f->dma_addr, sizeof f->dma_addr);
}

int fwcfg_load(struct fwcfg *f, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "fwcfg.version", &version, sizeof version) || version != 1) return -1;
    state_get(s, "fwcfg.selector", &f->selector, sizeof f->selector);
    state_get(s, "fwcfg.offset", &f->offset, sizeof f->offset);
    state_get(s, "fwcfg.dma_addr", &f->dma_addr, sizeof f->dma_addr);
    return 0;
}
