/*
 * bus.h — the ISA/PCI port I/O space (64 Ki ports).
 *
 * Devices register ranges of ports with the access widths they implement;
 * the bus splits wider accesses and widens narrower ones so that a device's
 * callbacks only ever see widths it declared.  Callbacks receive the offset
 * of the port from the start of their range.
 */
#ifndef UMBRA_BUS_H
#define UMBRA_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/log.h"

/* Access-width mask bits: a width's bit is its size in bytes. */
#define BUS_W8 1u
#define BUS_W16 2u
#define BUS_W32 4u

typedef uint32_t (*bus_read_fn)(void *opaque, uint16_t offset, unsigned size);
typedef void (*bus_write_fn)(void *opaque, uint16_t offset, uint32_t value, unsigned size);

struct bus_range {
    uint16_t base;
    uint32_t len;
    unsigned widths;
    const char *name;
    bus_read_fn read;   /* NULL: reads all-ones */
    bus_write_fn write; /* NULL: writes ignored */
    void *opaque;
    bool live;
};

#define BUS_MAX_RANGES 255

struct bus {
    /* Direct table: 0 = unmapped, else index + 1 into ranges. */
    uint8_t map[65536];
    struct bus_range ranges[BUS_MAX_RANGES];
    unsigned nranges;
    const struct dev_log *log;
};

void bus_init(struct bus *b, const struct dev_log *log);
/* Returns 0, or -1 with a message naming both devices if [base, base+len)
 * overlaps a registered range (or the table is full / arguments are bad). */
int bus_register(struct bus *b, uint16_t base, uint32_t len, unsigned widths, const char *name,
                 bus_read_fn read, bus_write_fn write, void *opaque, char *err, size_t errlen);
/* Remove the range starting at base (for relocatable ranges, e.g. PCI BARs). */
void bus_unregister(struct bus *b, uint16_t base);

/* The signatures of struct cpu_io's in/out, so pc.c points the CPU here. */
uint32_t bus_in(void *bus, uint16_t port, unsigned size);
void bus_out(void *bus, uint16_t port, uint32_t value, unsigned size);

#endif
