/*
 * ioapic.c — Intel 82093AA I/O APIC (datasheet, May 1996): IOREGSEL at
 * offset 0x00 and IOWIN at 0x10; registers ID (0x00), version (0x01: 0x11,
 * 24 entries), arbitration ID (0x02) and the 24 64-bit redirection entries
 * (0x10-0x3f): vector, delivery mode, destination mode, delivery status,
 * polarity, remote IRR, trigger mode, mask, destination.
 *
 * Design choices: messages are delivered the moment an input asserts, so
 * the delivery status bit always reads idle.  Edge inputs send on a rising
 * edge that finds the entry unmasked (an edge while masked is lost, as on
 * the chip).  Level inputs send while asserted and unmasked with remote IRR
 * clear, set remote IRR, and send again after the local APIC's EOI if still
 * asserted.  Inputs arrive as asserted/deasserted (the board's wiring is
 * folded in), so the polarity bit is stored but not applied: any correctly
 * programmed guest sees the same behaviour either way.
 */
#include "devices/ioapic.h"

#include <string.h>

#define RTE_MASKED (1ull << 16)
#define RTE_LEVEL (1ull << 15)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_WMASK 0xff0000000001afffull /* vector..dest mode, polarity, trigger, mask, dest */

static void send(struct ioapic *io, int pin)
{
    uint64_t e = io->redir[pin];
    if (e & RTE_LEVEL) io->redir[pin] |= RTE_REMOTE_IRR;
    if (io->deliver)
        io->deliver(io->opaque, (uint8_t)(e >> 56), e & 0x800, (unsigned)(e >> 8) & 7, (uint8_t)e,
                    e & RTE_LEVEL);
}

/* A level input that is asserted, unmasked and not in service sends. */
static void service_level(struct ioapic *io, int pin)
{
    uint64_t e = io->redir[pin];
    if ((e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) && (io->level & (1u << pin)))
        send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, int pin, bool level)
{
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    uint32_t bit = 1u << pin;
    bool rose = level && !(io->level & bit);
    if (level)
        io->level |= bit;
    else
        io->level &= ~bit;
    uint64_t e = io->redir[pin];
    if (e & RTE_LEVEL)
        service_level(io, pin);
    else if (rose && !(e & RTE_MASKED))
        send(io, pin);
}

static void line_set(void *opaque, int line, bool level)
{
    ioapic_set_irq(opaque, line, level);
}

struct irq_line ioapic_irq_line(struct ioapic *io, int pin)
{
    return (struct irq_line){line_set, io, pin};
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = io->redir[pin];
        if ((e & RTE_LEVEL) && (e & RTE_REMOTE_IRR) && (uint8_t)e == vector) {
            io->redir[pin] &= ~RTE_REMOTE_IRR;
            service_level(io, pin);
        }
    }
}

static uint32_t reg_read(struct ioapic *io)
{
    unsigned r = io->regsel;
    if (r == 0x00) return io->id;
    if (r == 0x01) return IOAPIC_VERSION;
    if (r == 0x02) return io->id; /* arbitration ID: loaded from the ID */
    if (r >= 0x10 && r < 0x10 + 2 * IOAPIC_PINS) {
        uint64_t e = io->redir[(r - 0x10) >> 1];
        return (r & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0;
}

static void reg_write(struct ioapic *io, uint32_t v)
{
    unsigned r = io->regsel;
    if (r == 0x00) {
        io->id = v & 0x0f000000u;
        return;
    }
    if (r < 0x10 || r >= 0x10 + 2 * IOAPIC_PINS) return; /* version, arbitration: read-only */
    int pin = (int)(r - 0x10) >> 1;
    uint64_t e = io->redir[pin];
    uint64_t nv =
        (r & 1) ? ((uint64_t)v << 32) | (e & 0xffffffffu) : (e & 0xffffffff00000000ull) | v;
    e = (e & ~RTE_WMASK) | (nv & RTE_WMASK);
    if (!(e & RTE_LEVEL)) e &= ~RTE_REMOTE_IRR; /* meaningless for edge inputs */
    unsigned mode = (unsigned)(e >> 8) & 7;
    if (mode == 3 || mode == 6)
        dev_log(io->log, DEV_LOG_GUEST_ERRORS, "ioapic: pin %d reserved delivery mode %u\n", pin,
                mode);
    io->redir[pin] = e;
    service_level(io, pin);
}

static uint32_t mmio_read(void *opaque, uint32_t addr, unsigned size)
{
    struct ioapic *io = opaque;
    uint32_t v;
    addr &= 0xfff;
    if (addr < 0x10)
        v = addr == 0 ? io->regsel : 0;
    else if (addr < 0x14)
        v = reg_read(io) >> (8 * (addr & 3));
    else
        v = 0;
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void mmio_write(void *opaque, uint32_t addr, uint32_t v, unsigned size)
{
    struct ioapic *io = opaque;
    addr &= 0xfff;
    if (addr == 0) {
        io->regsel = (uint8_t)v;
    } else if (addr == 0x10 && size == 4) {
        reg_write(io, v);
    } else {
        dev_log(io->log, DEV_LOG_GUEST_ERRORS, "ioapic: %u-byte write at 0x%03x ignored\n", size,
                addr);
    }
}

const struct mmio_ops ioapic_mmio_ops = {mmio_read, mmio_write};

void ioapic_reset(struct ioapic *io)
{
    io->regsel = 0;
    for (int i = 0; i < IOAPIC_PINS; i++)
        io->redir[i] = RTE_MASKED;
}

void ioapic_init(struct ioapic *io, uint8_t id,
                 void (*deliver)(void *, uint8_t, bool, unsigned, uint8_t, bool), void *opaque,
                 const struct dev_log *log)
{
    memset(io, 0, sizeof *io);
    io->id = (uint32_t)(id & 0x0f) << 24;
    io->deliver = deliver;
    io->opaque = opaque;
    io->log = log;
    ioapic_reset(io);
}

void ioapic_save(struct ioapic *io, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "ioapic.version", &version, sizeof version);
    state_put(s, "ioapic.regsel", &io->regsel, sizeof io->regsel);
    state_put(s, "ioapic.id", &io->id, sizeof io->id);
    state_put(s, "ioapic.redir", io->redir, sizeof io->redir);
    state_put(s, "ioapic.level", &io->level, sizeof io->level);
}

int ioapic_load(struct ioapic *io, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "ioapic.version", &version, sizeof version) || version != 1) return -1;
    state_get(s, "ioapic.regsel", &io->regsel, sizeof io->regsel);
    state_get(s, "ioapic.id", &io->id, sizeof io->id);
    state_get(s, "ioapic.redir", io->redir, sizeof io->redir);
    state_get(s, "ioapic.level", &io->level, sizeof io->level);
    io->id &= 0x0f000000u;
    io->level &= (1u << IOAPIC_PINS) - 1;
    for (int i = 0; i < IOAPIC_PINS; i++)
        io->redir[i] &= RTE_WMASK | RTE_REMOTE_IRR;
    return 0;
}
