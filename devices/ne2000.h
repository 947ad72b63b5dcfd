/*
 * ne2000.h — an NE2000-compatible Ethernet card: the National DP8390D
 * network interface controller with its buffer memory, the station-address
 * PROM, the data port and the reset port.  Two boards: the ISA NE2000 (16 KiB
 * of buffer memory at 0x4000-0x7FFF, a 32-port window at nic_iobase) and the
 * Realtek RTL8029AS PCI chip (10ec:8029, 32 KiB at 0x4000-0xBFFF, the same
 * 32 ports behind I/O BAR0, INTA#).
 *
 * Frames leave through a struct net_backend and arrive through the
 * struct net_client that ne2000_net_client() returns.
 */
#ifndef UMBRA_NE2000_H
#define UMBRA_NE2000_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/net.h"
#include "devices/pci.h"
#include "devices/state.h"

#define NE2K_IO_SIZE 32
#define NE2K_MEM_BASE 0x4000u   /* first byte of buffer memory (page 0x40) */
#define NE2K_MEM_MAX 0x8000u    /* the RTL8029's 32 KiB; the ISA board uses half */
#define NE2K_MAX_FRAME 1536u    /* longest frame the transmitter sends (see ne2000.c) */

/* ISR / IMR bits (DP8390D §6, Interrupt Status Register). */
#define NE2K_ISR_PRX 0x01
#define NE2K_ISR_PTX 0x02
#define NE2K_ISR_RXE 0x04
#define NE2K_ISR_TXE 0x08
#define NE2K_ISR_OVW 0x10
#define NE2K_ISR_CNT 0x20
#define NE2K_ISR_RDC 0x40
#define NE2K_ISR_RST 0x80

struct ne2000 {
    enum nic_model model;
    struct pci_device pci; /* NIC_NE2K_PCI only */
    struct irq_line irq;   /* NIC_NE2K_ISA only */
    struct net_backend *backend;
    const struct dev_log *log;
    uint8_t mac[6];
    uint32_t mem_end; /* one past the last buffer-memory address */

    /* DP8390 registers. */
    uint8_t cr, isr, imr, dcr, tcr, rcr, rsr, tsr, ncr;
    uint8_t pstart, pstop, bnry, tpsr, curr;
    uint16_t tbcr, rsar, rbcr, clda;
    uint8_t par[6], mar[8];
    uint8_t cntr[3]; /* frame alignment, CRC, missed-packet tallies */
    bool irq_out;
    bool dma_overrun_logged; /* log only, not saved */

    uint8_t prom[32];
    uint8_t mem[NE2K_MEM_MAX];
};

/* model: NIC_NE2K_PCI (registers on `pci` at devfn, irq unused) or
 * NIC_NE2K_ISA (ports iobase..iobase+31 on `io`, edge on `irq`).  be may be
 * NULL (transmitted frames are dropped). */
int ne2000_init(struct ne2000 *n, enum nic_model model, struct pci_bus *pci, uint8_t devfn,
                struct bus *io, uint16_t iobase, struct irq_line irq, const uint8_t mac[6],
                struct net_backend *be, const struct dev_log *log, char *err, size_t errlen);
void ne2000_reset(struct ne2000 *n);
void ne2000_save(struct ne2000 *n, struct state_buf *s);
int ne2000_load(struct ne2000 *n, const struct state_buf *s);
struct net_client ne2000_net_client(struct ne2000 *n);

/* The port window's callbacks (offset 0..31), for tests and the PCI BAR. */
uint32_t ne2000_io_read(void *opaque, uint16_t off, unsigned size);
void ne2000_io_write(void *opaque, uint16_t off, uint32_t v, unsigned size);

#endif
