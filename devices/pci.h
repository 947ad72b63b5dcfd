/*
 * pci.h — PCI bus 0 behind configuration mechanism #1 (ports 0xCF8 address,
 * 0xCFC-0xCFF data): devices with a 256-byte configuration space, BARs that
 * the guest sizes and places, and INTx pins routed to four PIRQ lines.
 *
 * Memory BARs are decoded inside one MMIO window that the machine maps for
 * the bus (the PCI hole, from the top of RAM to the I/O APIC), so BARs move
 * without the MMU having to unmap anything.
 */
#ifndef UMBRA_PCI_H
#define UMBRA_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/log.h"
#include "devices/state.h"
#include "mmu/mmu.h" /* struct mmio_ops only */

enum {
    PCI_VENDOR_ID = 0x00,
    PCI_DEVICE_ID = 0x02,
    PCI_COMMAND = 0x04,
    PCI_STATUS = 0x06,
    PCI_REVISION = 0x08,
    PCI_CLASS_PROG = 0x09,
    PCI_HEADER_TYPE = 0x0e,
    PCI_BAR0 = 0x10,
    PCI_INTERRUPT_LINE = 0x3c,
    PCI_INTERRUPT_PIN = 0x3d,
};
#define PCI_CMD_IO 0x0001u
#define PCI_CMD_MEM 0x0002u
#define PCI_CMD_MASTER 0x0004u
#define PCI_CMD_INTX_DISABLE 0x0400u
#define PCI_STATUS_INTX 0x0008u

enum pci_bar_type { PCI_BAR_NONE = 0, PCI_BAR_IO, PCI_BAR_MEM };

struct pci_bar {
    enum pci_bar_type type;
    uint32_t size; /* a power of two: >= 4 (I/O), >= 16 (memory) */
    bool prefetch;
    unsigned io_widths;
    bus_read_fn io_read;
    bus_write_fn io_write;
    const struct mmio_ops *mmio;
    void *opaque;
    bool mapped;
    uint32_t addr; /* where it is decoded while mapped */
};

struct pci_bus;

struct pci_device {
    uint8_t config[256];
    uint8_t wmask[256];   /* guest-writable bits */
    uint8_t w1cmask[256]; /* write-one-to-clear bits */
    uint8_t devfn;
    const char *name;
    struct pci_bar bar[6];
    bool irq_level; /* INTx input as the device drives it */
    /* Called after a guest write to [off, off+size) (the new bytes are in
     * config), so a device can act on its own registers. */
    void (*config_written)(struct pci_device *d, uint8_t off, unsigned size);
    void *opaque;
    struct pci_bus *bus;
};

#define PCI_MAX_DEVICES 32

struct pci_bus {
    uint32_t config_address;
    struct pci_device *devfn[256];
    struct pci_device *list[PCI_MAX_DEVICES];
    unsigned ndevices;
    bool pirq_level[4];
    void (*set_pirq)(void *opaque, int pirq, bool level);
    void *pirq_opaque;
    /* Port 0xCF9 shares the 0xCF8 dword but belongs to the ISA bridge. */
    bus_read_fn cf9_read;
    bus_write_fn cf9_write;
    void *cf9_opaque;
    uint32_t mem_base, mem_size; /* the MMIO window for memory BARs */
    struct bus *io;
    const struct dev_log *log;
};

/* The window's callbacks: map them at [mem_base, mem_base + mem_size). */
extern const struct mmio_ops pci_mem_window_ops;

int pci_bus_init(struct pci_bus *b, struct bus *io, uint32_t mem_base, uint32_t mem_size,
                 const struct dev_log *log, char *err, size_t errlen);
/* Reset: every device's command, status and BARs to zero, mappings gone;
 * devices' own reset functions then restore their registers. */
void pci_bus_reset(struct pci_bus *b);

/* Fill in the header of a type-0 device (before pci_register). */
void pci_device_init(struct pci_device *d, const char *name, uint16_t vendor, uint16_t device,
                     uint8_t revision, uint32_t class_code, uint8_t header_type);
void pci_set_bar_io(struct pci_device *d, int n, uint32_t size, unsigned widths, bus_read_fn read,
                    bus_write_fn write, void *opaque);
void pci_set_bar_mem(struct pci_device *d, int n, uint32_t size, bool prefetch,
                     const struct mmio_ops *ops, void *opaque);
/* pin: 1 = INTA# .. 4 = INTD#, 0 = none. */
void pci_set_interrupt_pin(struct pci_device *d, uint8_t pin);
int pci_register(struct pci_bus *b, struct pci_device *d, uint8_t devfn, char *err, size_t errlen);

/* The device's INTx level (asserted = true). */
void pci_set_irq(struct pci_device *d, bool level);
/* Which PIRQ (0-3 = A-D) the device's pin drives on this board, or -1. */
int pci_device_pirq(const struct pci_device *d);

/* Configuration cycles as the CPU makes them (bus 0 only; absent devices
 * read all-ones).  For firmware set-up and tests. */
uint32_t pci_config_read(struct pci_bus *b, uint8_t bus, uint8_t devfn, uint8_t off, unsigned size);
void pci_config_write(struct pci_bus *b, uint8_t bus, uint8_t devfn, uint8_t off, uint32_t v,
                      unsigned size);

/* What firmware does before an OS: place every BAR (I/O from io_base up,
 * memory from the window's base up, each naturally aligned) and enable
 * decoding.  Direct-boot loaders call this in place of a BIOS. */
void pci_firmware_assign_bars(struct pci_bus *b, uint16_t io_base);

void pci_device_save(struct pci_device *d, const char *prefix, struct state_buf *s);
int pci_device_load(struct pci_device *d, const char *prefix, const struct state_buf *s);
void pci_bus_save(struct pci_bus *b, struct state_buf *s);
int pci_bus_load(struct pci_bus *b, const struct state_buf *s);

#endif
