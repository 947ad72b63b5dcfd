/*
 * ne2000.c — the NE2000 / RTL8029AS Ethernet card, modelled from the National
 * DP8390D datasheet (register pages 0-2, remote and local DMA, the receive
 * ring), the NE2000 board conventions (station-address PROM at buffer
 * address 0, data port at +0x10, reset port at +0x18) and the Realtek
 * RTL8029AS datasheet (PCI IDs, 8029 ID bytes in page 0, 32 KiB of RAM).
 *
 * Port window (32 bytes): 0x00-0x0F the DP8390 registers of the page CR.PS
 * selects, 0x10-0x17 the remote-DMA data port, 0x18-0x1F the reset port (a
 * read resets the NIC).  Buffer memory is addressed as the DP8390 sees it:
 * 0x0000-0x3FFF is the PROM (32 bytes, repeated), RAM starts at 0x4000.
 *
 * Design choices:
 * - Remote DMA is instantaneous: each data-port access moves one byte
 *   (DCR.WTS=0) or one word (WTS=1, whatever the CPU access width — an 8-bit
 *   read in word mode sees the low byte of the word, as on the 16-bit board),
 *   and ISR.RDC is set the moment the byte count reaches zero.  That is why
 *   the PROM holds each byte twice: in word mode a driver reading 16 words
 *   gets the 16 PROM bytes.
 * - Transmit is instantaneous too: TXP sends TBCR bytes from TPSR at once.
 *   Frames shorter than 60 bytes are padded with zeros (the minimum Ethernet
 *   frame; a backend would otherwise forward a runt), longer than
 *   NE2K_MAX_FRAME are truncated (a guest error; the real MAC would jabber).
 * - Receive: a frame occupies 256-byte pages from CURR: a 4-byte header
 *   (RSR, next page, byte count = frame + 4 CRC bytes), the frame, then its
 *   FCS (computed here: the backend's frames carry none).  The frame must not
 *   run into page BNRY; if it would, it is dropped with ISR.OVW, as the DP8390
 *   aborts on a ring overflow.  can_receive() reports false while the ring
 *   has no room for a full-size frame so that a backend that can wait (it
 *   queues) does, instead of making the guest recover from overflows.
 * - Malformed programming never leaves buffer memory: out-of-range
 *   addresses read 0xFF and drop writes; an invalid ring (PSTART >= PSTOP,
 *   CURR or BNRY outside it) drops received frames as missed packets.  Each
 *   is logged under -d guest_errors.
 * - The interrupt output is ISR & IMR (bits 0-6): a level on INTA# for PCI,
 *   and for the ISA board the same level on an edge-triggered ISA IRQ.
 */
#include "devices/ne2000.h"

#include <stdio.h>
#include <string.h>

/* Command register. */
#define CR_STP 0x01
#define CR_STA 0x02
#define CR_TXP 0x04
#define CR_RD_MASK 0x38
#define CR_RD_READ 0x08
#define CR_RD_WRITE 0x10
#define CR_RD_SEND 0x18
#define CR_PS_SHIFT 6

#define RCR_AB 0x04
#define RCR_AM 0x08
#define RCR_PRO 0x10
#define RCR_MON 0x20
#define TCR_LB_MASK 0x06
#define DCR_WTS 0x01

#define TSR_PTX 0x01
#define RSR_PRX 0x01
#define RSR_MPA 0x10
#define RSR_PHY 0x20

#define MIN_FRAME 60u

static void drive_irq(struct ne2000 *n, bool force)
{
    bool level = (n->isr & n->imr & 0x7f) != 0;
    if (level == n->irq_out && !force) return;
    n->irq_out = level;
    if (n->model == NIC_NE2K_PCI)
        pci_set_irq(&n->pci, level);
    else
        irq_set(&n->irq, level);
}

static void update_irq(struct ne2000 *n) { drive_irq(n, false); }

static void set_isr(struct ne2000 *n, uint8_t bits)
{
    n->isr |= bits;
    update_irq(n);
}

/* --- buffer memory as the DP8390 addresses it --- */

static bool mem_ok(const struct ne2000 *n, uint16_t a)
{
    return a < NE2K_MEM_BASE || a < n->mem_end;
}

static uint8_t mem_read(const struct ne2000 *n, uint16_t a)
{
    if (a < NE2K_MEM_BASE) return n->prom[a & 31];
    if (a < n->mem_end) return n->mem[a - NE2K_MEM_BASE];
    return 0xff;
}

static void mem_write(struct ne2000 *n, uint16_t a, uint8_t v)
{
    if (a >= NE2K_MEM_BASE && a < n->mem_end) n->mem[a - NE2K_MEM_BASE] = v;
}

static bool ring_valid(const struct ne2000 *n)
{
    return n->pstart < n->pstop;
}

/* The DMA address after a, wrapping from PSTOP to PSTART as the DP8390's
 * address counters do (remote DMA too, so a driver can read a frame that
 * wraps in one go). */
static uint16_t next_addr(const struct ne2000 *n, uint16_t a)
{
    a++;
    if (ring_valid(n) && a == (uint16_t)(n->pstop << 8)) a = (uint16_t)(n->pstart << 8);
    return a;
}

/* --- remote DMA (the data port) --- */

static uint32_t data_read(struct ne2000 *n, unsigned size)
{
    unsigned bytes = (n->dcr & DCR_WTS) ? 2 : size;
    uint32_t v = 0;
    if (!n->rbcr) {
        /* Once per command: ne2k-pci reads 32 times in word mode with a
         * count of 32, so this is routine for some drivers. */
        if (!n->dma_overrun_logged)
            dev_log(n->log, DEV_LOG_GUEST_ERRORS,
                    "ne2000: data port read with no remote DMA left\n");
        n->dma_overrun_logged = true;
        return size == 1 ? 0xff : 0xffff;
    }
    if (!mem_ok(n, n->rsar))
        dev_log(n->log, DEV_LOG_GUEST_ERRORS, "ne2000: remote read at %#x outside buffer memory\n",
                n->rsar);
    for (unsigned i = 0; i < bytes && n->rbcr; i++) {
        v |= (uint32_t)mem_read(n, n->rsar) << (8 * i);
        n->rsar = next_addr(n, n->rsar);
        if (--n->rbcr == 0) set_isr(n, NE2K_ISR_RDC);
    }
    return size == 1 ? (v & 0xff) : v;
}

static void data_write(struct ne2000 *n, uint32_t v, unsigned size)
{
    unsigned bytes = (n->dcr & DCR_WTS) ? 2 : size;
    if (!n->rbcr) {
        /* Once per command: ne2k-pci reads 32 times in word mode with a
         * count of 32, so this is routine for some drivers. */
        if (!n->dma_overrun_logged)
            dev_log(n->log, DEV_LOG_GUEST_ERRORS,
                    "ne2000: data port write with no remote DMA left\n");
        n->dma_overrun_logged = true;
        return;
    }
    if (!mem_ok(n, n->rsar) || n->rsar < NE2K_MEM_BASE)
        dev_log(n->log, DEV_LOG_GUEST_ERRORS, "ne2000: remote write at %#x outside buffer RAM\n",
                n->rsar);
    for (unsigned i = 0; i < bytes && n->rbcr; i++) {
        mem_write(n, n->rsar, (uint8_t)(v >> (8 * i)));
        n->rsar = next_addr(n, n->rsar);
        if (--n->rbcr == 0) set_isr(n, NE2K_ISR_RDC);
    }
}

/* --- receive --- */

/* The Ethernet CRC-32 as the DP8390's address hash computes it: bits enter
 * least significant first, the register shifts left, no final inversion. */
static uint32_t ether_crc_be(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = p[i];
        for (int k = 0; k < 8; k++, b >>= 1) {
            uint32_t carry = (crc >> 31) ^ (b & 1u);
            crc <<= 1;
            if (carry) crc ^= 0x04c11db7u;
        }
    }
    return crc;
}

/* The FCS as it goes on the wire (reflected CRC-32, complemented). */
static uint32_t ether_fcs(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1u));
    }
    return ~crc;
}

/* RCR filtering; *phys_mc set for a multicast/broadcast destination. */
static bool address_accepted(const struct ne2000 *n, const uint8_t *dst, bool *mc)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    *mc = dst[0] & 1;
    if (n->rcr & RCR_PRO) return true;
    if (!memcmp(dst, bcast, 6)) return n->rcr & RCR_AB;
    if (*mc) {
        if (!(n->rcr & RCR_AM)) return false;
        unsigned idx = ether_crc_be(dst, 6) >> 26;
        return n->mar[idx >> 3] & (1u << (idx & 7));
    }
    return !memcmp(dst, n->par, 6);
}

static unsigned ring_pages(const struct ne2000 *n) { return (unsigned)(n->pstop - n->pstart); }

static bool in_ring(const struct ne2000 *n, uint8_t page)
{
    return page >= n->pstart && page < n->pstop;
}

/* BNRY as the chip's full-ring compare sees it.  The DP8390 only checks
 * "next page to write == BNRY", so a BNRY outside the ring never stops it;
 * drivers rely on one such value: Linux's lib8390 writes BNRY = next frame
 * - 1, which is PSTART - 1 when the next frame is at PSTART -- it means the
 * host has read up to the ring's last page.  Any other outside value would
 * let the chip overwrite unread frames; modelled as that same "all read". */
static uint8_t effective_bnry(const struct ne2000 *n)
{
    return in_ring(n, n->bnry) ? n->bnry : (uint8_t)(n->pstop - 1);
}

/* Pages a frame may use from CURR without entering page BNRY. */
static unsigned ring_free(const struct ne2000 *n)
{
    unsigned ring = ring_pages(n);
    return ((unsigned)effective_bnry(n) + ring - n->curr) % ring;
}

static void missed(struct ne2000 *n)
{
    n->rsr = RSR_MPA;
    if (n->cntr[2] != 0xff) n->cntr[2]++;
    if (n->cntr[2] & 0x80) n->isr |= NE2K_ISR_CNT;
}

static bool nic_receive_ready(const struct ne2000 *n)
{
    return !(n->cr & CR_STP) && (n->cr & CR_STA);
}

static bool client_can_receive(void *opaque)
{
    struct ne2000 *n = opaque;
    /* A stopped NIC drops frames, as on the wire; say yes so the backend
     * does not hoard them. */
    if (!nic_receive_ready(n) || !ring_valid(n) || !in_ring(n, n->curr))
        return true;
    return ring_free(n) * 256u >= NE2K_MAX_FRAME + 8u;
}

static void receive_frame(struct ne2000 *n, const uint8_t *frame, size_t len)
{
    if (!nic_receive_ready(n) || len < 6) return;
    bool mc;
    if (!address_accepted(n, frame, &mc)) return;
    /* No Ethernet peer sends more; the backend's own oversize frames are
     * not the guest's doing, so they go without a guest_errors line. */
    if (len > NE2K_MAX_FRAME) return;
    if (n->rcr & RCR_MON) { /* monitor mode: checked and counted, not stored */
        missed(n);
        update_irq(n);
        return;
    }
    if (!in_ring(n, n->bnry) && ring_valid(n) && n->bnry != (uint8_t)(n->pstart - 1))
        dev_log(n->log, DEV_LOG_GUEST_ERRORS,
                "ne2000: BNRY %#x outside the ring [%#x, %#x): unread frames may be overwritten\n",
                n->bnry, n->pstart, n->pstop);
    if (!ring_valid(n) || !in_ring(n, n->curr)) {
        dev_log(n->log, DEV_LOG_GUEST_ERRORS,
                "ne2000: receive ring invalid (PSTART %#x PSTOP %#x CURR %#x), frame dropped\n",
                n->pstart, n->pstop, n->curr);
        missed(n);
        update_irq(n);
        return;
    }
    uint8_t buf[NE2K_MAX_FRAME + 4];
    size_t flen = len < MIN_FRAME ? MIN_FRAME : len;
    memset(buf, 0, flen);
    memcpy(buf, frame, len);
    uint32_t fcs = ether_fcs(buf, flen);
    for (int i = 0; i < 4; i++)
        buf[flen + (size_t)i] = (uint8_t)(fcs >> (8 * i));
    size_t count = flen + 4;                     /* what the header reports */
    unsigned pages = (unsigned)((count + 4 + 255) / 256);
    if (pages > ring_free(n)) {
        missed(n);
        set_isr(n, NE2K_ISR_OVW);
        return;
    }
    unsigned next = n->curr + pages;
    if (next >= n->pstop) next -= ring_pages(n);
    uint8_t rsr = RSR_PRX | (mc ? RSR_PHY : 0);
    uint8_t hdr[4] = {rsr, (uint8_t)next, (uint8_t)count, (uint8_t)(count >> 8)};
    uint16_t a = (uint16_t)(n->curr << 8);
    for (int i = 0; i < 4; i++) {
        mem_write(n, a, hdr[i]);
        a = next_addr(n, a);
    }
    for (size_t i = 0; i < count; i++) {
        mem_write(n, a, buf[i]);
        a = next_addr(n, a);
    }
    n->clda = a;
    n->curr = (uint8_t)next;
    n->rsr = rsr;
    set_isr(n, NE2K_ISR_PRX);
}

static void client_receive(void *opaque, const uint8_t *frame, size_t len)
{
    receive_frame(opaque, frame, len);
}

struct net_client ne2000_net_client(struct ne2000 *n)
{
    return (struct net_client){n, client_can_receive, client_receive};
}

/* --- transmit --- */

static void transmit(struct ne2000 *n)
{
    unsigned len = n->tbcr;
    if (len > NE2K_MAX_FRAME) {
        dev_log(n->log, DEV_LOG_GUEST_ERRORS, "ne2000: TBCR %u too long, truncated to %u\n", len,
                NE2K_MAX_FRAME);
        len = NE2K_MAX_FRAME;
    }
    uint8_t buf[NE2K_MAX_FRAME];
    uint16_t a = (uint16_t)(n->tpsr << 8);
    if (!mem_ok(n, a) || a < NE2K_MEM_BASE || (uint32_t)a + len > n->mem_end)
        dev_log(n->log, DEV_LOG_GUEST_ERRORS,
                "ne2000: transmit buffer %#x+%u outside buffer RAM\n", a, len);
    /* The local DMA reads linearly (no ring wrap on transmit). */
    for (unsigned i = 0; i < len; i++)
        buf[i] = mem_read(n, (uint16_t)(a + i));
    n->clda = (uint16_t)(a + len);
    if (len < MIN_FRAME) {
        memset(buf + len, 0, MIN_FRAME - len);
        len = MIN_FRAME;
    }
    if (n->tcr & TCR_LB_MASK) {
        /* Loopback: the frame comes back to our own receiver. */
        receive_frame(n, buf, len);
    } else if (n->backend && n->backend->send) {
        n->backend->send(n->backend->opaque, buf, len);
    }
    n->tsr = TSR_PTX;
    n->ncr = 0;
    n->cr &= (uint8_t)~CR_TXP;
    set_isr(n, NE2K_ISR_PTX);
}

/* --- registers --- */

static void write_cr(struct ne2000 *n, uint8_t v)
{
    /* TXP can only be set, never cleared, by the host; STA and STP keep
     * their state unless one of them is written as 1 (drivers write CR with
     * neither just to change page or DMA command, e.g. Linux's 0x20/0x60). */
    n->cr = (uint8_t)((v & ~(CR_TXP | CR_STA | CR_STP)) | (n->cr & (CR_TXP | CR_STA | CR_STP)));
    if (v & CR_STP) {
        n->cr = (uint8_t)((n->cr & ~CR_STA) | CR_STP);
        n->isr |= NE2K_ISR_RST;
    } else if (v & CR_STA) {
        n->cr = (uint8_t)((n->cr & ~CR_STP) | CR_STA);
        n->isr &= (uint8_t)~NE2K_ISR_RST;
    }
    unsigned rd = v & CR_RD_MASK;
    if (rd == CR_RD_READ || rd == CR_RD_WRITE) n->dma_overrun_logged = false;
    if ((rd == CR_RD_READ || rd == CR_RD_WRITE) && n->rbcr == 0) set_isr(n, NE2K_ISR_RDC);
    if (rd == CR_RD_SEND)
        dev_log(n->log, DEV_LOG_UNIMP, "ne2000: Send Packet remote DMA command not modelled\n");
    if ((v & CR_TXP) && !(n->cr & CR_STP)) {
        n->cr |= CR_TXP;
        transmit(n);
    }
    update_irq(n);
}

static uint8_t reg_read(struct ne2000 *n, unsigned r)
{
    if (r == 0) return n->cr;
    switch (n->cr >> CR_PS_SHIFT) {
    case 0:
        switch (r) {
        case 0x01: return (uint8_t)n->clda;
        case 0x02: return (uint8_t)(n->clda >> 8);
        case 0x03: return n->bnry;
        case 0x04: return n->tsr;
        case 0x05: return n->ncr;
        case 0x06: return 0; /* FIFO: nothing in flight */
        case 0x07: return n->isr;
        case 0x08: return (uint8_t)n->rsar;
        case 0x09: return (uint8_t)(n->rsar >> 8);
        case 0x0a: return n->model == NIC_NE2K_PCI ? 0x50 : 0xff; /* RTL8029 ID 'P' */
        case 0x0b: return n->model == NIC_NE2K_PCI ? 0x43 : 0xff; /* 'C' */
        case 0x0c: return n->rsr;
        default: { /* 0x0d-0x0f: tally counters, cleared by reading */
            uint8_t v = n->cntr[r - 0x0d];
            n->cntr[r - 0x0d] = 0;
            return v;
        }
        }
    case 1:
        if (r <= 6) return n->par[r - 1];
        if (r == 7) return n->curr;
        return n->mar[r - 8];
    case 2:
        switch (r) {
        case 0x01: return n->pstart;
        case 0x02: return n->pstop;
        case 0x03: return 0; /* remote next packet pointer */
        case 0x04: return n->tpsr;
        case 0x05: return 0; /* local next packet pointer */
        case 0x06: return (uint8_t)(n->clda >> 8);
        case 0x07: return (uint8_t)n->clda;
        case 0x0c: return n->rcr | 0xc0;
        case 0x0d: return n->tcr | 0xe0;
        case 0x0e: return n->dcr | 0x80;
        case 0x0f: return n->imr | 0x80;
        default: return 0xff;
        }
    default: /* page 3: RTL8029 configuration, not modelled */
        return 0;
    }
}

static void reg_write(struct ne2000 *n, unsigned r, uint8_t v)
{
    if (r == 0) {
        write_cr(n, v);
        return;
    }
    switch (n->cr >> CR_PS_SHIFT) {
    case 0:
        switch (r) {
        case 0x01: n->pstart = v; break;
        case 0x02: n->pstop = v; break;
        case 0x03: n->bnry = v; break;
        case 0x04: n->tpsr = v; break;
        case 0x05: n->tbcr = (uint16_t)((n->tbcr & 0xff00) | v); break;
        case 0x06: n->tbcr = (uint16_t)((n->tbcr & 0x00ff) | v << 8); break;
        case 0x07: n->isr &= (uint8_t)~(v & 0x7f); break; /* RST is not cleared this way */
        case 0x08: n->rsar = (uint16_t)((n->rsar & 0xff00) | v); break;
        case 0x09: n->rsar = (uint16_t)((n->rsar & 0x00ff) | v << 8); break;
        case 0x0a: n->rbcr = (uint16_t)((n->rbcr & 0xff00) | v); break;
        case 0x0b: n->rbcr = (uint16_t)((n->rbcr & 0x00ff) | v << 8); break;
        case 0x0c: n->rcr = v & 0x3f; break;
        case 0x0d: n->tcr = v & 0x1f; break;
        case 0x0e: n->dcr = v & 0x7f; break;
        case 0x0f: n->imr = v & 0x7f; break;
        default: break;
        }
        update_irq(n);
        break;
    case 1:
        if (r <= 6)
            n->par[r - 1] = v;
        else if (r == 7)
            n->curr = v;
        else
            n->mar[r - 8] = v;
        break;
    case 2: /* diagnostic writes of the DMA address registers: not modelled */
        dev_log(n->log, DEV_LOG_UNIMP, "ne2000: page 2 write %#x <- %#x ignored\n", r, v);
        break;
    default:
        break;
    }
}

/* NIC reset (the reset port): the DP8390's reset state. */
static void nic_soft_reset(struct ne2000 *n)
{
    n->cr = CR_STP | 0x20; /* stopped, remote DMA aborted, page 0 */
    n->isr = NE2K_ISR_RST;
    n->imr = 0;
    update_irq(n);
}

uint32_t ne2000_io_read(void *opaque, uint16_t off, unsigned size)
{
    struct ne2000 *n = opaque;
    off &= NE2K_IO_SIZE - 1;
    if (off >= 0x10 && off < 0x18) return data_read(n, size);
    if (off >= 0x18) {
        nic_soft_reset(n);
        return 0;
    }
    uint32_t v = reg_read(n, off);
    if (size == 2 && off < 0x0f) v |= (uint32_t)reg_read(n, off + 1u) << 8;
    return v;
}

void ne2000_io_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct ne2000 *n = opaque;
    off &= NE2K_IO_SIZE - 1;
    if (off >= 0x10 && off < 0x18) {
        data_write(n, v, size);
        return;
    }
    if (off >= 0x18) return; /* writes to the reset port do nothing */
    reg_write(n, off, (uint8_t)v);
    if (size == 2 && off < 0x0f) reg_write(n, off + 1u, (uint8_t)(v >> 8));
}

/* --- life cycle --- */

int ne2000_init(struct ne2000 *n, enum nic_model model, struct pci_bus *pci, uint8_t devfn,
                struct bus *io, uint16_t iobase, struct irq_line irq, const uint8_t mac[6],
                struct net_backend *be, const struct dev_log *log, char *err, size_t errlen)
{
    memset(n, 0, sizeof *n);
    n->model = model;
    n->backend = be;
    n->log = log;
    memcpy(n->mac, mac, 6);
    n->mem_end = model == NIC_NE2K_PCI ? NE2K_MEM_BASE + 0x8000u : NE2K_MEM_BASE + 0x4000u;
    /* PROM: MAC, then zeros, then "WW" (0x57) in bytes 14-15, the signature
     * drivers check for a 16-bit board; every byte doubled (see above). */
    uint8_t p[16] = {0};
    memcpy(p, mac, 6);
    p[14] = p[15] = 0x57;
    for (int i = 0; i < 16; i++)
        n->prom[2 * i] = n->prom[2 * i + 1] = p[i];

    if (model == NIC_NE2K_PCI) {
        struct pci_device *d = &n->pci;
        pci_device_init(d, "rtl8029", 0x10ec, 0x8029, 0x00, 0x020000, 0x00);
        d->opaque = n;
        pci_set_bar_io(d, 0, NE2K_IO_SIZE, BUS_W8 | BUS_W16, ne2000_io_read, ne2000_io_write, n);
        pci_set_interrupt_pin(d, 1);
        if (pci_register(pci, d, devfn, err, errlen)) return -1;
    } else if (model == NIC_NE2K_ISA) {
        n->irq = irq;
        if (bus_register(io, iobase, NE2K_IO_SIZE, BUS_W8 | BUS_W16, "ne2000", ne2000_io_read,
                         ne2000_io_write, n, err, errlen))
            return -1;
    } else {
        snprintf(err, errlen, "ne2000: unknown NIC model %d", (int)model);
        return -1;
    }
    ne2000_reset(n);
    return 0;
}

void ne2000_reset(struct ne2000 *n)
{
    n->isr = 0;
    n->imr = 0;
    n->dcr = n->tcr = n->rcr = n->rsr = n->tsr = n->ncr = 0;
    n->pstart = n->pstop = n->bnry = n->tpsr = n->curr = 0;
    n->tbcr = n->rsar = n->rbcr = n->clda = 0;
    memset(n->par, 0, sizeof n->par);
    memset(n->mar, 0, sizeof n->mar);
    memset(n->cntr, 0, sizeof n->cntr);
    nic_soft_reset(n);
}

#define NE2K_FIELDS(X)                                                                         \
    X(cr) X(isr) X(imr) X(dcr) X(tcr) X(rcr) X(rsr) X(tsr) X(ncr) X(pstart) X(pstop) X(bnry)  \
        X(tpsr) X(curr) X(tbcr) X(rsar) X(rbcr) X(clda) X(par) X(mar) X(cntr) X(mem)

void ne2000_save(struct ne2000 *n, struct state_buf *s)
{
    uint32_t version = 1;
    STATE_PUT(s, "ne2000.", version);
#define PUT(f) STATE_PUT(s, "ne2000.", n->f);
    NE2K_FIELDS(PUT)
#undef PUT
    if (n->model == NIC_NE2K_PCI) pci_device_save(&n->pci, "ne2000.pci.", s);
}

int ne2000_load(struct ne2000 *n, const struct state_buf *s)
{
    uint32_t version;
    if (STATE_GET(s, "ne2000.", version) || version != 1) return -1;
#define GET(f)                                                                                 \
    if (STATE_GET(s, "ne2000.", n->f)) return -1;
    NE2K_FIELDS(GET)
#undef GET
    if (n->model == NIC_NE2K_PCI && pci_device_load(&n->pci, "ne2000.pci.", s)) return -1;
    drive_irq(n, true);
    return 0;
}
