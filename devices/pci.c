/*
 * pci.c — PCI bus 0 and configuration mechanism #1 (PCI Local Bus
 * Specification 2.1, §3.2.2.3.2; config header §6.1-6.2): the 0xCF8
 * address register (dword accesses only, bits 1-0 and 30-24 reserved), the
 * 0xCFC-0xCFF data window at byte, word and dword granularity, write masks
 * and write-one-to-clear bits per configuration byte, BAR sizing (a BAR
 * reads back its size mask after all-ones is written), and decode of I/O
 * and memory BARs while the command register enables them.
 *
 * Design choices: I/O BARs (re-)register their range on the port bus when
 * they move; memory BARs are decoded within one MMIO window the machine maps
 * for the bus, so relocating one needs no MMU change — a BAR placed outside
 * the window is logged and stays unreachable.  An I/O BAR whose range
 * overlaps another device stays unmapped (guest error, like a decode
 * conflict on real hardware).  INTx pins reach the four PIRQ lines through
 * the i440FX/PIIX3 board's swizzle, PIRQ = (slot - 1 + pin - 1) mod 4, as
 * QEMU's board and SeaBIOS's tables assume; the level of a PIRQ is the OR
 * of the devices driving it, with the command register's INTx disable.
 */
#include "devices/pci.h"

#include <stdio.h>
#include <string.h>

static uint32_t rd_le(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void wr_le(uint8_t *p, uint32_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t cmd_of(const struct pci_device *d)
{
    return (uint16_t)rd_le(&d->config[PCI_COMMAND], 2);
}

/* --- interrupts --- */

int pci_device_pirq(const struct pci_device *d)
{
    unsigned pin = d->config[PCI_INTERRUPT_PIN];
    if (pin < 1 || pin > 4) return -1;
    return (int)(((d->devfn >> 3) + 3 + (pin - 1)) & 3);
}

static void update_pirqs(struct pci_bus *b)
{
    bool level[4] = {false, false, false, false};
    for (unsigned i = 0; i < b->ndevices; i++) {
        const struct pci_device *d = b->list[i];
        int x = pci_device_pirq(d);
        if (x >= 0 && d->irq_level && !(cmd_of(d) & PCI_CMD_INTX_DISABLE)) level[x] = true;
    }
    for (int x = 0; x < 4; x++) {
        if (level[x] != b->pirq_level[x]) {
            b->pirq_level[x] = level[x];
            if (b->set_pirq) b->set_pirq(b->pirq_opaque, x, level[x]);
        }
    }
}

void pci_set_irq(struct pci_device *d, bool level)
{
    d->irq_level = level;
    if (level)
        d->config[PCI_STATUS] |= PCI_STATUS_INTX;
    else
        d->config[PCI_STATUS] &= ~PCI_STATUS_INTX;
    if (d->bus) update_pirqs(d->bus);
}

/* --- BAR decoding --- */

static uint32_t bar_reg(const struct pci_device *d, int n)
{
    return rd_le(&d->config[PCI_BAR0 + 4 * n], 4);
}

static void bar_unmap(struct pci_device *d, struct pci_bar *bar)
{
    if (bar->mapped && bar->type == PCI_BAR_IO) bus_unregister(d->bus->io, (uint16_t)bar->addr);
    bar->mapped = false;
}

static void update_mappings(struct pci_device *d)
{
    struct pci_bus *b = d->bus;
    uint16_t cmd = cmd_of(d);
    for (int n = 0; n < 6; n++) {
        struct pci_bar *bar = &d->bar[n];
        if (bar->type == PCI_BAR_NONE) continue;
        uint32_t addr = bar_reg(d, n) & ~(bar->size - 1);
        bool want;
        if (bar->type == PCI_BAR_IO) {
            addr &= ~3u;
            want = (cmd & PCI_CMD_IO) && addr && addr + bar->size <= 0x10000;
        } else {
            addr &= ~15u;
            want = (cmd & PCI_CMD_MEM) && addr && addr != ~(bar->size - 1);
        }
        if (want == bar->mapped && (!want || addr == bar->addr)) continue;
        bar_unmap(d, bar);
        if (!want) continue;
        if (bar->type == PCI_BAR_IO) {
            char err[160];
            if (bus_register(b->io, (uint16_t)addr, bar->size, bar->io_widths, d->name,
                             bar->io_read, bar->io_write, bar->opaque, err, sizeof err)) {
                dev_log(b->log, DEV_LOG_GUEST_ERRORS, "pci: %s BAR%d: %s\n", d->name, n, err);
                continue;
            }
        } else if (addr < b->mem_base ||
                   (uint64_t)addr + bar->size > (uint64_t)b->mem_base + b->mem_size) {
            dev_log(b->log, DEV_LOG_GUEST_ERRORS,
                    "pci: %s BAR%d at 0x%08x is outside the PCI window 0x%08x+0x%x\n", d->name, n,
                    addr, b->mem_base, b->mem_size);
            continue;
        }
        bar->mapped = true;
        bar->addr = addr;
    }
}

static struct pci_bar *mem_bar_at(struct pci_bus *b, uint32_t gpa, uint32_t *off)
{
    for (unsigned i = 0; i < b->ndevices; i++) {
        struct pci_device *d = b->list[i];
        for (int n = 0; n < 6; n++) {
            struct pci_bar *bar = &d->bar[n];
            if (bar->mapped && bar->type == PCI_BAR_MEM && gpa - bar->addr < bar->size) {
                *off = gpa - bar->addr;
                return bar;
            }
        }
    }
    return NULL;
}

static uint32_t window_read(void *opaque, uint32_t addr, unsigned size)
{
    struct pci_bus *b = opaque;
    uint32_t off;
    struct pci_bar *bar = mem_bar_at(b, b->mem_base + addr, &off);
    if (!bar || !bar->mmio->read)
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1; /* master abort */
    return bar->mmio->read(bar->opaque, off, size);
}

static void window_write(void *opaque, uint32_t addr, uint32_t v, unsigned size)
{
    struct pci_bus *b = opaque;
    uint32_t off;
    struct pci_bar *bar = mem_bar_at(b, b->mem_base + addr, &off);
    if (bar && bar->mmio->write) bar->mmio->write(bar->opaque, off, v, size);
}

const struct mmio_ops pci_mem_window_ops = {window_read, window_write};

/* --- configuration space --- */

static struct pci_device *target(struct pci_bus *b, uint8_t bus, uint8_t devfn)
{
    return bus == 0 ? b->devfn[devfn] : NULL;
}

uint32_t pci_config_read(struct pci_bus *b, uint8_t bus, uint8_t devfn, uint8_t off, unsigned size)
{
    struct pci_device *d = target(b, bus, devfn);
    if (!d || off + size > 256) return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return rd_le(&d->config[off], size);
}

void pci_config_write(struct pci_bus *b, uint8_t bus, uint8_t devfn, uint8_t off, uint32_t v,
                      unsigned size)
{
    struct pci_device *d = target(b, bus, devfn);
    if (!d || off + size > 256) return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t o = (uint8_t)(off + i), nb = (uint8_t)(v >> (8 * i));
        uint8_t c = (uint8_t)((d->config[o] & ~d->wmask[o]) | (nb & d->wmask[o]));
        d->config[o] = (uint8_t)(c & ~(nb & d->w1cmask[o]));
    }
    bool cmd = off < PCI_COMMAND + 2 && off + size > PCI_COMMAND;
    bool bars = off < PCI_BAR0 + 24 && off + size > PCI_BAR0;
    if (cmd || bars) update_mappings(d);
    if (cmd) update_pirqs(b);
    if (d->config_written) d->config_written(d, off, size);
}

/* 0xCF8-0xCFB: the address register takes dword accesses only; a byte at
 * 0xCF9 is the ISA bridge's reset control; anything else floats. */
static uint32_t addr_read(void *opaque, uint16_t off, unsigned size)
{
    struct pci_bus *b = opaque;
    if (off == 0 && size == 4) return b->config_address;
    if (off == 1 && size == 1 && b->cf9_read) return b->cf9_read(b->cf9_opaque, 0, 1);
    return 0xffffffffu;
}

static void addr_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pci_bus *b = opaque;
    if (off == 0 && size == 4)
        b->config_address = v & 0x80fffffcu;
    else if (off == 1 && size == 1 && b->cf9_write)
        b->cf9_write(b->cf9_opaque, 0, v, 1);
}

static bool data_target(struct pci_bus *b, uint16_t off, uint8_t *bus, uint8_t *devfn, uint8_t *reg)
{
    uint32_t a = b->config_address;
    if (!(a & 0x80000000u)) return false;
    *bus = (uint8_t)(a >> 16);
    *devfn = (uint8_t)(a >> 8);
    *reg = (uint8_t)((a & 0xfc) + off);
    return true;
}

static uint32_t data_read(void *opaque, uint16_t off, unsigned size)
{
    struct pci_bus *b = opaque;
    uint8_t bus, devfn, reg;
    if (!data_target(b, off, &bus, &devfn, &reg)) return 0xffffffffu;
    return pci_config_read(b, bus, devfn, reg, size);
}

static void data_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct pci_bus *b = opaque;
    uint8_t bus, devfn, reg;
    if (data_target(b, off, &bus, &devfn, &reg)) pci_config_write(b, bus, devfn, reg, v, size);
}

/* --- devices --- */

void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint8_t revision, uint32_t class_code, uint8_t header_type)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    wr_le(&d->config[PCI_VENDOR_ID], vendor, 2);
    wr_le(&d->config[PCI_DEVICE_ID], device, 2);
    d->config[PCI_REVISION] = revision;
    wr_le(&d->config[PCI_CLASS_PROG], class_code, 3);
    d->config[PCI_HEADER_TYPE] = header_type;
    /* Command: I/O, memory, bus master, parity, SERR, INTx disable. */
    wr_le(&d->wmask[PCI_COMMAND], 0x0547, 2);
    /* Status: the error bits are write-one-to-clear. */
    wr_le(&d->w1cmask[PCI_STATUS], 0xf900, 2);
    d->wmask[0x0c] = 0xff; /* cache line size */
    d->wmask[0x0d] = 0xff; /* latency timer */
    d->wmask[PCI_INTERRUPT_LINE] = 0xff;
}

static void set_bar(struct pci_device *d, int n, uint32_t size, uint32_t low_bits)
{
    uint32_t mask = ~(size - 1) & ~(low_bits ? 3u : 15u);
    wr_le(&d->wmask[PCI_BAR0 + 4 * n], mask, 4);
    wr_le(&d->config[PCI_BAR0 + 4 * n], low_bits, 4);
}

void pci_set_bar_io(struct pci_device *d, int n, uint32_t size, unsigned widths, bus_read_fn read,
                    bus_write_fn write, void *opaque)
{
    d->bar[n] = (struct pci_bar){.type = PCI_BAR_IO,
                                 .size = size,
                                 .io_widths = widths,
                                 .io_read = read,
                                 .io_write = write,
                                 .opaque = opaque};
    set_bar(d, n, size, 0x1);
}

void pci_set_bar_mem(struct pci_device *d, int n, uint32_t size, bool prefetch,
                     const struct mmio_ops *ops, void *opaque)
{
    d->bar[n] = (struct pci_bar){
        .type = PCI_BAR_MEM, .size = size, .prefetch = prefetch, .mmio = ops, .opaque = opaque};
    set_bar(d, n, size, prefetch ? 0x8 : 0x0);
}

void pci_set_interrupt_pin(struct pci_device *d, uint8_t pin)
{
    d->config[PCI_INTERRUPT_PIN] = pin;
}

int pci_register(struct pci_bus *b, struct pci_device *d, uint8_t devfn, char *err, size_t errlen)
{
    if (b->devfn[devfn]) {
        snprintf(err, errlen, "PCI slot %02x.%x of %s is taken by %s", devfn >> 3, devfn & 7,
                 d->name, b->devfn[devfn]->name);
        return -1;
    }
    if (b->ndevices == PCI_MAX_DEVICES) {
        snprintf(err, errlen, "PCI: too many devices (%s)", d->name);
        return -1;
    }
    d->devfn = devfn;
    d->bus = b;
    b->devfn[devfn] = d;
    b->list[b->ndevices++] = d;
    return 0;
}

void pci_bus_reset(struct pci_bus *b)
{
    b->config_address = 0;
    for (unsigned i = 0; i < b->ndevices; i++) {
        struct pci_device *d = b->list[i];
        wr_le(&d->config[PCI_COMMAND], 0, 2);
        wr_le(&d->config[PCI_STATUS], d->irq_level ? PCI_STATUS_INTX : 0, 2);
        for (int n = 0; n < 6; n++)
            if (d->bar[n].type != PCI_BAR_NONE)
                wr_le(&d->config[PCI_BAR0 + 4 * n],
                      d->bar[n].type == PCI_BAR_IO ? 1u
                      : d->bar[n].prefetch         ? 8u
                                                   : 0u,
                      4);
        d->config[PCI_INTERRUPT_LINE] = 0;
        update_mappings(d);
    }
    update_pirqs(b);
}

int pci_bus_init(struct pci_bus *b, struct bus *io, uint32_t mem_base, uint32_t mem_size,
                 const struct dev_log *log, char *err, size_t errlen)
{
    memset(b, 0, sizeof *b);
    b->io = io;
    b->mem_base = mem_base;
    b->mem_size = mem_size;
    b->log = log;
    if (bus_register(io, 0xcf8, 4, BUS_W8 | BUS_W16 | BUS_W32, "pci-config-address", addr_read,
                     addr_write, b, err, errlen))
        return -1;
    return bus_register(io, 0xcfc, 4, BUS_W8 | BUS_W16 | BUS_W32, "pci-config-data", data_read,
                        data_write, b, err, errlen);
}

void pci_firmware_assign_bars(struct pci_bus *b, uint16_t io_base)
{
    uint32_t io = io_base, mem = b->mem_base;
    /* Largest first, so alignment wastes nothing. */
    for (uint32_t size = 1u << 31; size >= 4; size >>= 1) {
        for (unsigned i = 0; i < b->ndevices; i++) {
            struct pci_device *d = b->list[i];
            for (int n = 0; n < 6; n++) {
                struct pci_bar *bar = &d->bar[n];
                if (bar->type == PCI_BAR_NONE || bar->size != size) continue;
                uint32_t *next = bar->type == PCI_BAR_IO ? &io : &mem;
                uint32_t at = (*next + size - 1) & ~(size - 1);
                uint64_t limit =
                    bar->type == PCI_BAR_IO ? 0x10000 : (uint64_t)b->mem_base + b->mem_size;
                if ((uint64_t)at + size > limit) {
                    dev_log(b->log, DEV_LOG_GUEST_ERRORS, "pci: no room for %s BAR%d\n", d->name,
                            n);
                    continue;
                }
                pci_config_write(b, 0, d->devfn, (uint8_t)(PCI_BAR0 + 4 * n), at, 4);
                *next = at + size;
            }
        }
    }
    for (unsigned i = 0; i < b->ndevices; i++) {
        struct pci_device *d = b->list[i];
        uint16_t cmd = cmd_of(d);
        for (int n = 0; n < 6; n++)
            cmd |= d->bar[n].type == PCI_BAR_IO    ? PCI_CMD_IO
                   : d->bar[n].type == PCI_BAR_MEM ? PCI_CMD_MEM | PCI_CMD_MASTER
                                                   : 0;
        pci_config_write(b, 0, d->devfn, PCI_COMMAND, cmd, 2);
    }
}

void pci_device_save(struct pci_device *d, const char *prefix, struct state_buf *s)
{
    char name[64];
    snprintf(name, sizeof name, "%s.config", prefix);
    state_put(s, name, d->config, sizeof d->config);
    snprintf(name, sizeof name, "%s.irq_level", prefix);
    state_put(s, name, &d->irq_level, sizeof d->irq_level);
}

int pci_device_load(struct pci_device *d, const char *prefix, const struct state_buf *s)
{
    char name[64];
    uint8_t cfg[256];
    snprintf(name, sizeof name, "%s.config", prefix);
    if (state_get(s, name, cfg, sizeof cfg)) return -1;
    /* Only what the guest could have written: identity bytes stay ours. */
    for (int i = 0; i < 256; i++)
        d->config[i] = (uint8_t)((d->config[i] & ~(d->wmask[i] | d->w1cmask[i])) |
                                 (cfg[i] & (d->wmask[i] | d->w1cmask[i])));
    snprintf(name, sizeof name, "%s.irq_level", prefix);
    state_get(s, name, &d->irq_level, sizeof d->irq_level);
    update_mappings(d);
    pci_set_irq(d, d->irq_level);
    return 0;
}

void pci_bus_save(struct pci_bus *b, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "pci.version", &version, sizeof version);
    state_put(s, "pci.config_address", &b->config_address, sizeof b->config_address);
}

int pci_bus_load(struct pci_bus *b, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "pci.version", &version, sizeof version) || version != 1) return -1;
    state_get(s, "pci.config_address", &b->config_address, sizeof b->config_address);
    b->config_address &= 0x80fffffcu;
    return 0;
}
