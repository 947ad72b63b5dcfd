/*
 * rtc.h — the Motorola MC146818A real-time clock and its 128 bytes of CMOS
 * RAM (ports 0x70 index / 0x71 data), IRQ8.
 */
#ifndef UMBRA_RTC_H
#define UMBRA_RTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"

/* The start time used when time must not depend on the host (-icount):
 * 2024-01-01 00:00:00 UTC. */
#define RTC_FIXED_EPOCH 1704067200

/* CMOS bytes outside the clock that firmware and Linux read. */
enum {
    CMOS_SHUTDOWN = 0x0f,
    CMOS_FLOPPY = 0x10,
    CMOS_EQUIPMENT = 0x14,
    CMOS_BASEMEM_LO = 0x15,
    CMOS_BASEMEM_HI = 0x16,
    CMOS_EXTMEM_LO = 0x17,
    CMOS_EXTMEM_HI = 0x18,
    CMOS_CHECKSUM_HI = 0x2e,
    CMOS_CHECKSUM_LO = 0x2f,
    CMOS_EXTMEM2_LO = 0x30,
    CMOS_EXTMEM2_HI = 0x31,
    CMOS_CENTURY = 0x32,
    CMOS_MEM16M_LO = 0x34,
    CMOS_MEM16M_HI = 0x35,
    CMOS_MEM4G_LO = 0x5b, /* 0x5b-0x5d: RAM above 4 GiB, 64 KiB units */
};

struct rtc {
    /* Registers A-D at 0x0a-0x0d and the user RAM; the time registers
     * (0x00-0x09, 0x32) are not stored here but derived from `sec`. */
    uint8_t cmos[128];
    uint8_t index;
    bool nmi_disabled; /* port 0x70 bit 7 (stored: nothing raises NMI yet) */
    /* Time: the seconds counter (since 1970, UTC) held `sec` at clock time
     * `phase_ns`, the start of a second of the divider chain.  While the
     * divider runs and SET is clear, sec advances once per second. */
    int64_t sec;
    int64_t phase_ns;
    int64_t pf_ns; /* periodic flag accounted up to this clock time */
    bool irq_level;

    struct clock *clock;
    struct clock_timer update_timer;   /* the next once-a-second update */
    struct clock_timer periodic_timer; /* armed only while PIE is set */
    struct irq_line irq;
    const struct dev_log *log;
};

/* start_sec: the wall-clock time (seconds since 1970 UTC) the clock shows at
 * clock time 0. */
int rtc_init(struct rtc *r, struct bus *bus, struct clock *clock, struct irq_line irq,
             int64_t start_sec, const struct dev_log *log, char *err, size_t errlen);
/* The RESET pin: clears interrupt enables and flags; time and RAM survive. */
void rtc_reset(struct rtc *r);
void rtc_save(struct rtc *r, struct state_buf *s);
int rtc_load(struct rtc *r, const struct state_buf *s);

/* Board set-up: the memory-size bytes, floppy types (CMOS 0x10: drive A in
 * the high nibble) and equipment byte, then the checksum over 0x10-0x2d. */
void rtc_cmos_setup(struct rtc *r, uint64_t ram_bytes, uint8_t floppy_types);
void rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t value);
uint8_t rtc_cmos_get(struct rtc *r, uint8_t index);
void rtc_cmos_update_checksum(struct rtc *r);

/* The current time as seconds since 1970 (for tests and the monitor). */
int64_t rtc_time(struct rtc *r);

#endif
