/* test_ne2000.c — the NE2000 through its ports, the way a driver programs
 * it: PROM read of the MAC (byte and word mode), transmit by remote DMA +
 * TXP into a fake backend (exact bytes, runt padding, ISR.PTX and the IRQ),
 * receive into the ring (headers, next-page chain, wrap at PSTOP, overflow
 * at BNRY), address filtering (unicast, broadcast, multicast hash,
 * promiscuous), word-mode remote DMA, the reset port, the RTL8029's PCI
 * configuration space, save/load, and a register fuzz. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/ne2000.h"

#define BASE 0x300
#define PSTART 0x46
#define PSTOP 0x80
#define TXPAGE 0x40

static const uint8_t MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

struct rig {
    struct bus bus;
    struct pci_bus pci;
    struct ne2000 nic;
    bool level;
    int edges;
    uint8_t sent[8][2048];
    size_t sent_len[8];
    int nsent;
};

static void irq_sink(void *o, int line, bool level)
{
    struct rig *r = o;
    (void)line;
    if (level && !r->level) r->edges++;
    r->level = level;
}

static void pirq_sink(void *o, int pirq, bool level)
{
    (void)pirq;
    irq_sink(o, 0, level);
}

static void be_send(void *o, const uint8_t *f, size_t len)
{
    struct rig *r = o;
    if (r->nsent < 8) {
        ck_assert_uint_le(len, sizeof r->sent[0]);
        memcpy(r->sent[r->nsent], f, len);
        r->sent_len[r->nsent] = len;
    }
    r->nsent++;
}

static struct net_backend backend;

static struct rig *rig_new(enum nic_model model)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    backend = (struct net_backend){r, be_send, NULL};
    if (model == NIC_NE2K_PCI) {
        ck_assert_int_eq(pci_bus_init(&r->pci, &r->bus, 0xe0000000u, 0x10000000u, NULL, err,
                                      sizeof err),
                         0);
        r->pci.set_pirq = pirq_sink;
        r->pci.pirq_opaque = r;
    }
    ck_assert_int_eq(ne2000_init(&r->nic, model, &r->pci, 0x18, &r->bus, BASE,
                                 (struct irq_line){irq_sink, r, 9}, MAC, &backend, NULL, err,
                                 sizeof err),
                     0);
    if (model == NIC_NE2K_PCI) {
        /* Place BAR0 at BASE and enable I/O decode, as firmware would. */
        pci_config_write(&r->pci, 0, 0x18, PCI_BAR0, BASE | 1, 4);
        pci_config_write(&r->pci, 0, 0x18, PCI_COMMAND, PCI_CMD_IO, 2);
    }
    return r;
}

static void outb(struct rig *r, uint16_t p, uint8_t v) { bus_out(&r->bus, BASE + p, v, 1); }
static void outw(struct rig *r, uint16_t p, uint16_t v) { bus_out(&r->bus, BASE + p, v, 2); }
static uint8_t inb(struct rig *r, uint16_t p) { return (uint8_t)bus_in(&r->bus, BASE + p, 1); }
static uint16_t inw(struct rig *r, uint16_t p) { return (uint16_t)bus_in(&r->bus, BASE + p, 2); }

/* Linux's NS8390_init order, byte mode unless word. */
static void nic_setup(struct rig *r, bool word, uint8_t rcr)
{
    outb(r, 0x00, 0x21);               /* stop, no DMA, page 0 */
    outb(r, 0x0e, word ? 0x49 : 0x48); /* DCR */
    outb(r, 0x0a, 0);
    outb(r, 0x0b, 0);
    outb(r, 0x0c, rcr);
    outb(r, 0x0d, 0x02); /* TCR: internal loopback while setting up */
    outb(r, 0x04, TXPAGE);
    outb(r, 0x01, PSTART);
    outb(r, 0x03, PSTOP - 1);
    outb(r, 0x02, PSTOP);
    outb(r, 0x07, 0xff);
    outb(r, 0x0f, 0x00);
    outb(r, 0x00, 0x61); /* page 1 */
    for (int i = 0; i < 6; i++)
        outb(r, 0x01 + i, MAC[i]);
    for (int i = 0; i < 8; i++)
        outb(r, 0x08 + i, 0);
    outb(r, 0x07, PSTART); /* CURR */
    outb(r, 0x00, 0x22);   /* page 0, start */
    outb(r, 0x07, 0xff);
    outb(r, 0x0f, 0x7f); /* IMR: everything */
    outb(r, 0x0d, 0x00); /* TCR: normal */
}

static void remote_write(struct rig *r, uint16_t addr, const uint8_t *p, uint16_t len)
{
    bool word = r->nic.dcr & 1;
    uint16_t cnt = word ? (uint16_t)((len + 1) & ~1) : len;
    outb(r, 0x0a, (uint8_t)cnt);
    outb(r, 0x0b, (uint8_t)(cnt >> 8));
    outb(r, 0x08, (uint8_t)addr);
    outb(r, 0x09, (uint8_t)(addr >> 8));
    outb(r, 0x00, 0x12); /* remote write, start */
    if (word) {
        for (uint16_t i = 0; i < cnt; i += 2)
            outw(r, 0x10, (uint16_t)(p[i] | (i + 1 < len ? p[i + 1] << 8 : 0)));
    } else {
        for (uint16_t i = 0; i < len; i++)
            outb(r, 0x10, p[i]);
    }
    ck_assert(inb(r, 0x07) & NE2K_ISR_RDC);
    outb(r, 0x07, NE2K_ISR_RDC);
}

static void remote_read(struct rig *r, uint16_t addr, uint8_t *p, uint16_t len)
{
    bool word = r->nic.dcr & 1;
    uint16_t cnt = word ? (uint16_t)((len + 1) & ~1) : len;
    outb(r, 0x0a, (uint8_t)cnt);
    outb(r, 0x0b, (uint8_t)(cnt >> 8));
    outb(r, 0x08, (uint8_t)addr);
    outb(r, 0x09, (uint8_t)(addr >> 8));
    outb(r, 0x00, 0x0a); /* remote read, start */
    if (word) {
        for (uint16_t i = 0; i < cnt; i += 2) {
            uint16_t w = inw(r, 0x10);
            p[i] = (uint8_t)w;
            if (i + 1 < len) p[i + 1] = (uint8_t)(w >> 8);
        }
    } else {
        for (uint16_t i = 0; i < len; i++)
            p[i] = inb(r, 0x10);
    }
    ck_assert(inb(r, 0x07) & NE2K_ISR_RDC);
    outb(r, 0x07, NE2K_ISR_RDC);
}

static void make_frame(uint8_t *f, size_t len, const uint8_t dst[6], uint8_t seed)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, "\x02\x00\x00\x00\x00\x01", 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; i++)
        f[i] = (uint8_t)(seed + i * 7);
}

static uint8_t curr(struct rig *r)
{
    outb(r, 0x00, 0x62);
    uint8_t c = inb(r, 0x07);
    outb(r, 0x00, 0x22);
    return c;
}

START_TEST(prom_byte_mode)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0);
    uint8_t prom[32];
    remote_read(r, 0, prom, 32);
    for (int i = 0; i < 6; i++) {
        ck_assert_uint_eq(prom[2 * i], MAC[i]);
        ck_assert_uint_eq(prom[2 * i + 1], MAC[i]);
    }
    ck_assert_uint_eq(prom[28], 0x57); /* "WW": a 16-bit board */
    ck_assert_uint_eq(prom[30], 0x57);
    free(r);
}
END_TEST

START_TEST(prom_word_mode_inb)
{
    /* ne2k-pci: DCR word mode, RBCR 32, then 32 inb: each is a word. */
    struct rig *r = rig_new(NIC_NE2K_PCI);
    outb(r, 0x00, 0x21);
    outb(r, 0x0e, 0x49);
    outb(r, 0x0a, 32);
    outb(r, 0x0b, 0);
    outb(r, 0x08, 0);
    outb(r, 0x09, 0);
    outb(r, 0x00, 0x0a);
    uint8_t sa[32];
    for (int i = 0; i < 32; i++)
        sa[i] = inb(r, 0x10);
    ck_assert_mem_eq(sa, MAC, 6);
    ck_assert_uint_eq(sa[14], 0x57);
    ck_assert_uint_eq(sa[15], 0x57);
    /* 32 inb in word mode moved 64 bytes, but RBCR was 32: done at 16. */
    ck_assert(inb(r, 0x07) & NE2K_ISR_RDC);
    free(r);
}
END_TEST

START_TEST(transmit_frame)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0);
    uint8_t f[100];
    make_frame(f, sizeof f, (const uint8_t[6]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 3);
    remote_write(r, TXPAGE << 8, f, sizeof f);
    ck_assert(!r->level);
    r->edges = 0; /* the remote DMA's RDC interrupt came and went */
    outb(r, 0x05, sizeof f);
    outb(r, 0x06, 0);
    outb(r, 0x00, 0x26); /* TXP */
    ck_assert_int_eq(r->nsent, 1);
    ck_assert_uint_eq(r->sent_len[0], sizeof f);
    ck_assert_mem_eq(r->sent[0], f, sizeof f);
    ck_assert_uint_eq(inb(r, 0x07) & NE2K_ISR_PTX, NE2K_ISR_PTX);
    ck_assert_uint_eq(inb(r, 0x04) & 1, 1); /* TSR.PTX */
    ck_assert_uint_eq(inb(r, 0x00) & 0x04, 0); /* TXP cleared */
    ck_assert(r->level);
    ck_assert_int_eq(r->edges, 1);
    outb(r, 0x07, NE2K_ISR_PTX);
    ck_assert(!r->level);
    /* A runt goes out padded to 60 bytes with zeros. */
    remote_write(r, TXPAGE << 8, f, 20);
    outb(r, 0x05, 20);
    outb(r, 0x00, 0x26);
    ck_assert_int_eq(r->nsent, 2);
    ck_assert_uint_eq(r->sent_len[1], 60);
    ck_assert_mem_eq(r->sent[1], f, 20);
    for (int i = 20; i < 60; i++)
        ck_assert_uint_eq(r->sent[1][i], 0);
    /* IMR off: the ISR bit is set, the line stays low. */
    outb(r, 0x07, 0xff);
    outb(r, 0x0f, 0);
    outb(r, 0x00, 0x26);
    ck_assert(inb(r, 0x07) & NE2K_ISR_PTX);
    ck_assert(!r->level);
    /* A stopped NIC does not transmit. */
    outb(r, 0x00, 0x21);
    outb(r, 0x00, 0x25);
    ck_assert_int_eq(r->nsent, 3);
    free(r);
}
END_TEST

START_TEST(transmit_oversized)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0);
    /* TBCR 0xffff from the last page: truncated, never past the buffer. */
    outb(r, 0x04, 0x7f);
    outb(r, 0x05, 0xff);
    outb(r, 0x06, 0xff);
    outb(r, 0x00, 0x26);
    ck_assert_int_eq(r->nsent, 1);
    ck_assert_uint_eq(r->sent_len[0], NE2K_MAX_FRAME);
    ck_assert_uint_eq(r->sent[0][NE2K_MAX_FRAME - 1], 0xff); /* beyond RAM */
    free(r);
}
END_TEST

/* Read the frame at page `pg`: header and data (through remote DMA, which
 * wraps at PSTOP). */
static void ring_frame(struct rig *r, uint8_t pg, uint8_t hdr[4], uint8_t *data, uint16_t len)
{
    remote_read(r, (uint16_t)(pg << 8), hdr, 4);
    if (len) remote_read(r, (uint16_t)((pg << 8) + 4), data, len);
}

START_TEST(receive_ring)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0x04);
    struct net_client c = ne2000_net_client(&r->nic);
    ck_assert(c.can_receive(c.opaque));
    uint8_t f[600], hdr[4], got[600];
    make_frame(f, sizeof f, MAC, 1);
    c.receive(c.opaque, f, 600);
    ck_assert(inb(r, 0x07) & NE2K_ISR_PRX);
    ck_assert(r->level);
    ck_assert_uint_eq(inb(r, 0x0c) & 0x21, 0x01); /* RSR: PRX, not multicast */
    /* 4 + 600 + 4 CRC bytes = 3 pages. */
    ck_assert_uint_eq(curr(r), PSTART + 3);
    /* CR written with neither STA nor STP (a page or DMA change, as Linux
     * does in its handlers) leaves the NIC running. */
    outb(r, 0x00, 0x20);
    ck_assert_uint_eq(inb(r, 0x00), 0x22);
    outb(r, 0x00, 0x60);
    ck_assert_uint_eq(inb(r, 0x00), 0x62);
    outb(r, 0x00, 0x20);
    ring_frame(r, PSTART, hdr, got, 600);
    ck_assert_uint_eq(hdr[0], 0x01);
    ck_assert_uint_eq(hdr[1], PSTART + 3);
    ck_assert_uint_eq(hdr[2] | hdr[3] << 8, 604);
    ck_assert_mem_eq(got, f, 600);
    /* A short frame is padded to 60 bytes; the chain continues. */
    c.receive(c.opaque, f, 42);
    ck_assert_uint_eq(curr(r), PSTART + 4);
    ring_frame(r, PSTART + 3, hdr, got, 60);
    ck_assert_uint_eq(hdr[1], PSTART + 4);
    ck_assert_uint_eq(hdr[2] | hdr[3] << 8, 64);
    ck_assert_mem_eq(got, f, 42);
    for (int i = 42; i < 60; i++)
        ck_assert_uint_eq(got[i], 0);
    free(r);
}
END_TEST

/* Linux's lib8390 writes BNRY = next frame - 1, i.e. PSTART - 1 (outside
 * the ring) when the next frame to read is at PSTART: the chip's compare
 * never matches it, so reception goes on (a 4 MiB download stalled on a
 * model that dropped frames there). */
START_TEST(receive_bnry_below_pstart)
{
    struct rig *r = rig_new(NIC_NE2K_PCI);
    nic_setup(r, false, 0x04);
    struct net_client c = ne2000_net_client(&r->nic);
    outb(r, 0x03, PSTART - 1);
    outb(r, 0x00, 0x62);
    ck_assert_uint_eq(curr(r), PSTART);
    outb(r, 0x00, 0x22);
    uint8_t f[600], hdr[4], got[600];
    make_frame(f, sizeof f, MAC, 5);
    ck_assert(c.can_receive(c.opaque));
    c.receive(c.opaque, f, 600);
    ck_assert_uint_eq(inb(r, 0x07) & (NE2K_ISR_PRX | NE2K_ISR_OVW), NE2K_ISR_PRX);
    ring_frame(r, PSTART, hdr, got, 600);
    ck_assert_mem_eq(got, f, 600);
    ck_assert_uint_eq(curr(r), PSTART + 3);
    free(r);
}
END_TEST

START_TEST(receive_wrap_and_overflow)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0x04);
    struct net_client c = ne2000_net_client(&r->nic);
    /* Driver has consumed up to 0x7c; CURR 0x7e: a 3-page frame wraps. */
    outb(r, 0x03, 0x7c);
    outb(r, 0x00, 0x62);
    outb(r, 0x07, 0x7e);
    outb(r, 0x00, 0x22);
    uint8_t f[600], hdr[4], got[600];
    make_frame(f, sizeof f, MAC, 9);
    c.receive(c.opaque, f, 600);
    ck_assert_uint_eq(curr(r), PSTART + 1);
    ring_frame(r, 0x7e, hdr, got, 600); /* remote DMA wraps too */
    ck_assert_uint_eq(hdr[1], PSTART + 1);
    ck_assert_mem_eq(got, f, 600);
    /* The bytes past PSTOP landed at PSTART. */
    uint8_t b;
    remote_read(r, PSTART << 8, &b, 1);
    ck_assert_uint_eq(b, f[2 * 256 - 4]);
    /* Fill until the frame would run into BNRY (0x7c). */
    int accepted = 0;
    outb(r, 0x07, 0xff);
    for (int i = 0; i < 40; i++) {
        uint8_t before = curr(r);
        c.receive(c.opaque, f, 600);
        if (inb(r, 0x07) & NE2K_ISR_OVW) {
            ck_assert_uint_eq(curr(r), before); /* dropped whole */
            break;
        }
        accepted++;
    }
    ck_assert(inb(r, 0x07) & NE2K_ISR_OVW);
    ck_assert_int_eq(accepted, (0x7c - (PSTART + 1)) / 3);
    ck_assert(!c.can_receive(c.opaque));
    ck_assert_uint_eq(inb(r, 0x0f), 1); /* CNTR2: one missed packet */
    ck_assert_uint_eq(inb(r, 0x0f), 0); /* cleared by the read */
    /* The driver frees the ring; reception resumes. */
    outb(r, 0x03, curr(r) - 1);
    outb(r, 0x07, 0xff);
    ck_assert(c.can_receive(c.opaque));
    c.receive(c.opaque, f, 600);
    ck_assert_uint_eq(inb(r, 0x07) & (NE2K_ISR_PRX | NE2K_ISR_OVW), NE2K_ISR_PRX);
    free(r);
}
END_TEST

static bool received(struct rig *r, const uint8_t dst[6])
{
    struct net_client c = ne2000_net_client(&r->nic);
    uint8_t f[64];
    make_frame(f, sizeof f, dst, 0);
    outb(r, 0x07, 0xff);
    c.receive(c.opaque, f, sizeof f);
    return inb(r, 0x07) & NE2K_ISR_PRX;
}

START_TEST(address_filter)
{
    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t other[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
    /* 01:00:5e:00:00:01, the all-hosts group. */
    static const uint8_t mcast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
    struct rig *r = rig_new(NIC_NE2K_PCI);
    nic_setup(r, false, 0x00);
    ck_assert(received(r, MAC));
    ck_assert(!received(r, other));
    ck_assert(!received(r, bcast));
    ck_assert(!received(r, mcast));
    outb(r, 0x0c, 0x04); /* AB */
    ck_assert(received(r, bcast));
    ck_assert_uint_eq(inb(r, 0x0c) & 0x20, 0x20); /* RSR.PHY */
    ck_assert(!received(r, mcast));
    /* AM with an empty hash: nothing; with exactly one MAR bit set, that
     * address passes and one bit is the only one that does. */
    outb(r, 0x0c, 0x08);
    ck_assert(!received(r, mcast));
    int hits = 0, bit = -1;
    for (int i = 0; i < 64; i++) {
        outb(r, 0x00, 0x62);
        for (int j = 0; j < 8; j++)
            outb(r, 0x08 + j, (uint8_t)((i >> 3) == j ? 1u << (i & 7) : 0));
        outb(r, 0x00, 0x22);
        if (received(r, mcast)) {
            hits++;
            bit = i;
        }
    }
    ck_assert_int_eq(hits, 1);
    /* ether_crc(01:00:5e:00:00:01) = 0x7fa32d9b (Linux's ether_crc; the
     * bit-reversed complement of zlib's crc32, computed independently), so
     * 8390.c's make_mc_bits sets MAR3 bit 7: hash index 0x1f. */
    ck_assert_int_eq(bit, 0x1f);
    ck_assert(!received(r, bcast)); /* AB off */
    outb(r, 0x0c, 0x10);           /* promiscuous */
    ck_assert(received(r, other));
    ck_assert(received(r, bcast));
    ck_assert(received(r, mcast));
    free(r);
}
END_TEST

START_TEST(word_mode_dma)
{
    struct rig *r = rig_new(NIC_NE2K_PCI);
    nic_setup(r, true, 0);
    uint8_t f[77], back[77];
    make_frame(f, sizeof f, MAC, 5);
    remote_write(r, 0x5000, f, sizeof f);
    remote_read(r, 0x5000, back, sizeof back);
    ck_assert_mem_eq(back, f, sizeof f);
    /* Byte mode reads back the same memory. */
    outb(r, 0x0e, 0x48);
    remote_read(r, 0x5000, back, sizeof back);
    ck_assert_mem_eq(back, f, sizeof f);
    /* 32-bit accesses are two words. */
    outb(r, 0x0e, 0x49);
    outb(r, 0x0a, 4);
    outb(r, 0x0b, 0);
    outb(r, 0x08, 0x00);
    outb(r, 0x09, 0x50);
    outb(r, 0x00, 0x0a);
    uint32_t d = bus_in(&r->bus, BASE + 0x10, 4);
    ck_assert_uint_eq(d, (uint32_t)f[0] | f[1] << 8 | f[2] << 16 | (uint32_t)f[3] << 24);
    ck_assert(inb(r, 0x07) & NE2K_ISR_RDC);
    /* The RTL8029's 32 KiB reach 0xBFFF; the ISA board's end at 0x7FFF. */
    remote_write(r, 0xbffe, f, 2);
    remote_read(r, 0xbffe, back, 2);
    ck_assert_mem_eq(back, f, 2);
    free(r);
}
END_TEST

START_TEST(reset_port)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    nic_setup(r, false, 0);
    ck_assert_uint_eq(inb(r, 0x07) & NE2K_ISR_RST, 0);
    ck_assert_uint_eq(inb(r, 0x00) & 0x03, 0x02);
    outb(r, 0x18, inb(r, 0x18)); /* Linux's ne_reset_8390 */
    ck_assert(inb(r, 0x07) & NE2K_ISR_RST);
    ck_assert_uint_eq(inb(r, 0x00), 0x21);
    outb(r, 0x07, 0xff); /* RST is not write-1-to-clear */
    ck_assert(inb(r, 0x07) & NE2K_ISR_RST);
    outb(r, 0x00, 0x22);
    ck_assert_uint_eq(inb(r, 0x07) & NE2K_ISR_RST, 0);
    /* Stop sets it again. */
    outb(r, 0x00, 0x21);
    ck_assert(inb(r, 0x07) & NE2K_ISR_RST);
    free(r);
}
END_TEST

START_TEST(pci_config)
{
    struct rig *r = rig_new(NIC_NE2K_PCI);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x18, 0, 4), 0x802910ec);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x18, 0x08, 4) >> 8, 0x020000);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x18, PCI_INTERRUPT_PIN, 1), 1);
    pci_config_write(&r->pci, 0, 0x18, PCI_BAR0, 0xffffffffu, 4);
    ck_assert_uint_eq(pci_config_read(&r->pci, 0, 0x18, PCI_BAR0, 4), 0xffffffe1u);
    pci_config_write(&r->pci, 0, 0x18, PCI_BAR0, 0xc100, 4);
    ck_assert_uint_eq(bus_in(&r->bus, 0xc100 + 0x0a, 1), 0x50); /* 8029ID0 'P' */
    ck_assert_uint_eq(bus_in(&r->bus, 0xc100 + 0x0b, 1), 0x43); /* 'C' */
    ck_assert_uint_eq(bus_in(&r->bus, BASE, 1), 0xff);          /* moved away */
    /* INTA# follows ISR & IMR, and the status register shows it. */
    bus_out(&r->bus, 0xc100 + 0x0f, 0x40, 1);
    bus_out(&r->bus, 0xc100 + 0x00, 0x12, 1); /* remote write with RBCR 0: RDC */
    ck_assert(r->level);
    ck_assert(pci_config_read(&r->pci, 0, 0x18, PCI_STATUS, 2) & PCI_STATUS_INTX);
    bus_out(&r->bus, 0xc100 + 0x07, 0x40, 1);
    ck_assert(!r->level);
    free(r);
}
END_TEST

START_TEST(save_load)
{
    struct rig *r = rig_new(NIC_NE2K_PCI);
    nic_setup(r, true, 0x04);
    struct net_client c = ne2000_net_client(&r->nic);
    uint8_t f[300];
    make_frame(f, sizeof f, MAC, 2);
    c.receive(c.opaque, f, sizeof f);
    struct state_buf s;
    state_init(&s);
    ne2000_save(&r->nic, &s);
    struct rig *r2 = rig_new(NIC_NE2K_PCI);
    ck_assert_int_eq(ne2000_load(&r2->nic, &s), 0);
    state_free(&s);
    ck_assert(r2->level);
    ck_assert_uint_eq(curr(r2), curr(r));
    uint8_t hdr[4], got[300];
    ring_frame(r2, PSTART, hdr, got, sizeof got);
    ck_assert_mem_eq(got, f, sizeof f);
    free(r);
    free(r2);
}
END_TEST

static int nlogs;
static void log_count(void *o, unsigned cat, const char *fmt, ...)
{
    (void)o;
    (void)fmt;
    ck_assert_uint_eq(cat, DEV_LOG_GUEST_ERRORS);
    nlogs++;
}

START_TEST(malformed_programming)
{
    struct rig *r = rig_new(NIC_NE2K_ISA);
    struct dev_log log = {DEV_LOG_GUEST_ERRORS, log_count, NULL};
    r->nic.log = &log;
    nic_setup(r, false, 0x04);
    struct net_client c = ne2000_net_client(&r->nic);
    uint8_t f[200];
    make_frame(f, sizeof f, MAC, 4);
    /* PSTART >= PSTOP: the frame is missed, logged, nothing written. */
    outb(r, 0x01, 0x80);
    outb(r, 0x02, 0x50);
    nlogs = 0;
    c.receive(c.opaque, f, sizeof f);
    ck_assert_uint_eq(inb(r, 0x07) & NE2K_ISR_PRX, 0);
    ck_assert_int_eq(nlogs, 1);
    ck_assert_uint_eq(inb(r, 0x0f), 1);
    /* CURR outside [PSTART, PSTOP). */
    outb(r, 0x01, PSTART);
    outb(r, 0x02, PSTOP);
    outb(r, 0x00, 0x62);
    outb(r, 0x07, 0xf0);
    outb(r, 0x00, 0x22);
    c.receive(c.opaque, f, sizeof f);
    ck_assert_uint_eq(inb(r, 0x07) & NE2K_ISR_PRX, 0);
    ck_assert_int_eq(nlogs, 2);
    /* Remote DMA past the end of buffer memory: reads 0xFF, writes dropped,
     * the count still runs down to RDC. */
    uint8_t back[4];
    remote_write(r, 0xfffe, f, 4); /* 0xfffe, 0xffff, then wraps to 0 (PROM) */
    ck_assert_int_ge(nlogs, 3);
    remote_read(r, 0x9000, back, 2);
    ck_assert_uint_eq(back[0], 0xff);
    ck_assert_uint_eq(back[1], 0xff);
    remote_read(r, 0x0000, back, 2); /* the PROM is read-only */
    ck_assert_uint_eq(back[0], MAC[0]);
    /* Reading with the count exhausted: 0xFF, logged once per command. */
    int before = nlogs;
    ck_assert_uint_eq(inb(r, 0x10), 0xff);
    ck_assert_uint_eq(inb(r, 0x10), 0xff);
    ck_assert_int_eq(nlogs, before + 1);
    free(r);
}
END_TEST

START_TEST(fuzz)
{
    for (int model = 0; model < 2; model++) {
        struct rig *r = rig_new(model ? NIC_NE2K_PCI : NIC_NE2K_ISA);
        struct net_client c = ne2000_net_client(&r->nic);
        srand(1234 + model);
        uint8_t f[1600];
        for (size_t i = 0; i < sizeof f; i++)
            f[i] = (uint8_t)rand();
        for (int i = 0; i < 200000; i++) {
            uint16_t port = (uint16_t)(rand() % NE2K_IO_SIZE);
            unsigned size = 1u << (rand() % 3);
            int op = rand() % 16;
            if (op < 7) {
                bus_out(&r->bus, (uint16_t)(BASE + port), (uint32_t)rand(), size);
            } else if (op < 14) {
                (void)bus_in(&r->bus, (uint16_t)(BASE + port), size);
            } else {
                size_t len = (size_t)(rand() % (int)sizeof f);
                if (rand() & 1) f[0] = (uint8_t)(rand() & 1 ? 0xff : f[0]);
                if (c.can_receive(c.opaque)) c.receive(c.opaque, f, len);
            }
            ck_assert(r->level == r->nic.irq_out);
            ck_assert(r->nic.irq_out == ((r->nic.isr & r->nic.imr & 0x7f) != 0));
        }
        ck_assert(r->nsent >= 0);
        free(r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ne2000");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, prom_byte_mode);
    tcase_add_test(tc, prom_word_mode_inb);
    tcase_add_test(tc, transmit_frame);
    tcase_add_test(tc, transmit_oversized);
    tcase_add_test(tc, receive_ring);
    tcase_add_test(tc, receive_wrap_and_overflow);
    tcase_add_test(tc, receive_bnry_below_pstart);
    tcase_add_test(tc, address_filter);
    tcase_add_test(tc, word_mode_dma);
    tcase_add_test(tc, reset_port);
    tcase_add_test(tc, pci_config);
    tcase_add_test(tc, save_load);
    tcase_add_test(tc, malformed_programming);
    tcase_add_test(tc, fuzz);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
