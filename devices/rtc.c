/*
 * rtc.c — Motorola MC146818A real-time clock plus CMOS RAM (MC146818A and
 * Dallas DS12887 datasheets): time and alarm registers in BCD or binary,
 * 12/24-hour format, registers A-D (UIP, divider chain, periodic rate, SET,
 * PIE/AIE/UIE, IRQF/PF/AF/UF cleared by reading C, VRT), and the periodic,
 * alarm and update-ended interrupts on IRQ8.
 *
 * Design choices: time is one seconds counter (since 1970, UTC) anchored to
 * the clock at the start of a divider second, so registers are computed on
 * read and nothing ticks while no one looks; a write to a time register
 * recomposes the counter.  The update cycle is instantaneous at the second
 * boundary, with UIP raised for the 244 us before it — the window the
 * datasheet guarantees — so a reader that waits for UIP to fall always sees
 * a consistent time.  A 1 Hz timer performs updates (UF, and the alarm
 * compare, need every second); the periodic flag is computed lazily from the
 * divider phase and a timer is armed only while PIE asks for interrupts, so
 * a 1024 Hz rate costs nothing unless the guest wants the interrupts.  The
 * day-of-week register is derived from the date, so writes to it are
 * ignored; daylight-saving (DSE) is not modelled.  Following the DS12887,
 * setting SET clears UIE.
 */
#include "devices/rtc.h"

#include <string.h>

#define NS_PER_SEC 1000000000ll
#define UIP_NS 244000ll
#define RTC_HZ 32768

enum {
    REG_SEC = 0x00,
    REG_SEC_ALARM = 0x01,
    REG_MIN = 0x02,
    REG_MIN_ALARM = 0x03,
    REG_HOUR = 0x04,
    REG_HOUR_ALARM = 0x05,
    REG_WDAY = 0x06,
    REG_MDAY = 0x07,
    REG_MON = 0x08,
    REG_YEAR = 0x09,
    REG_A = 0x0a,
    REG_B = 0x0b,
    REG_C = 0x0c,
    REG_D = 0x0d,
};
enum {
    A_UIP = 0x80,
    A_DV = 0x70,
    A_RS = 0x0f,
    B_SET = 0x80,
    B_PIE = 0x40,
    B_AIE = 0x20,
    B_UIE = 0x10,
    B_SQWE = 0x08,
    B_DM = 0x04,
    B_24H = 0x02,
    B_DSE = 0x01,
    C_IRQF = 0x80,
    C_PF = 0x40,
    C_AF = 0x20,
    C_UF = 0x10,
    D_VRT = 0x80,
};
/* The only divider setting that runs the clock from the PC's 32.768 kHz
 * crystal; 0x60/0x70 hold the chain in reset, others do not count. */
#define DV_32K 0x20

struct tm_fields {
    int64_t year;
    int mon, mday, hour, min, sec, wday; /* wday 0 = Sunday */
};

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm, exact for any year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floordiv(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static struct tm_fields civil_from_sec(int64_t s)
{
    struct tm_fields t;
    int64_t days = floordiv(s, 86400), rem = s - days * 86400;
    t.hour = (int)(rem / 3600);
    t.min = (int)(rem / 60 % 60);
    t.sec = (int)(rem % 60);
    t.wday = (int)(days + 4 - floordiv(days + 4, 7) * 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = floordiv(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    t.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    t.mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    t.year = yoe + era * 400 + (t.mon <= 2);
    return t;
}

static int64_t sec_from_civil(const struct tm_fields *t)
{
    return days_from_civil(t->year, t->mon, t->mday) * 86400 + t->hour * 3600 + t->min * 60 +
           t->sec;
}

static bool binary(const struct rtc *r)
{
    return r->cmos[REG_B] & B_DM;
}

static uint8_t encode(const struct rtc *r, int v)
{
    return binary(r) ? (uint8_t)v : (uint8_t)((v / 10) << 4 | v % 10);
}

static int decode(const struct rtc *r, uint8_t v)
{
    return binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hour(const struct rtc *r, int h)
{
    if (r->cmos[REG_B] & B_24H) return encode(r, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
    if (r->cmos[REG_B] & B_24H) return decode(r, v);
    return decode(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static bool divider_running(const struct rtc *r)
{
    return (r->cmos[REG_A] & A_DV) == DV_32K;
}
static bool updating(const struct rtc *r)
{
    return divider_running(r) && !(r->cmos[REG_B] & B_SET);
}

static int64_t now_ns(const struct rtc *r)
{
    return (int64_t)clock_now_ns(r->clock);
}

static bool alarm_matches(const struct rtc *r, int64_t s)
{
    struct tm_fields t = civil_from_sec(s);
    const uint8_t *c = r->cmos;
    /* An alarm byte with its two top bits set is "don't care". */
    return (c[REG_SEC_ALARM] >= 0xc0 || c[REG_SEC_ALARM] == encode(r, t.sec)) &&
           (c[REG_MIN_ALARM] >= 0xc0 || c[REG_MIN_ALARM] == encode(r, t.min)) &&
           (c[REG_HOUR_ALARM] >= 0xc0 || c[REG_HOUR_ALARM] == encode_hour(r, t.hour));
}

/* Bring the counter up to `now`: every whole divider second that passed is
 * an update cycle (unless SET inhibits them), which sets UF and compares the
 * alarm.  The phase advances even under SET, as the divider keeps running. */
static void settle(struct rtc *r, int64_t now)
{
    if (!divider_running(r) || now < r->phase_ns) return;
    int64_t n = (now - r->phase_ns) / NS_PER_SEC;
    if (n == 0) return;
    r->phase_ns += n * NS_PER_SEC;
    if (r->cmos[REG_B] & B_SET) return;
    int64_t first = r->sec + 1;
    r->sec += n;
    r->cmos[REG_C] |= C_UF;
    /* Any alarm setting matches at least once a day, so looking further
     * back than a day (a long-stalled host) cannot change AF. */
    if (first < r->sec - 86399) first = r->sec - 86399;
    for (int64_t s = first; s <= r->sec; s++) {
        if (alarm_matches(r, s)) {
            r->cmos[REG_C] |= C_AF;
            break;
        }
    }
}

static unsigned periodic_ticks(const struct rtc *r)
{
    unsigned rs = r->cmos[REG_A] & A_RS;
    if (rs == 0) return 0;
    if (rs < 3) rs += 7; /* rates 1 and 2 repeat 8 and 9 with a 32.768 kHz base */
    return 1u << (rs - 1);
}

/* 32.768 kHz ticks of the divider since phase_ns, floored. */
static int64_t ticks_at(const struct rtc *r, int64_t t)
{
    __int128 d = (__int128)(t - r->phase_ns) * RTC_HZ;
    __int128 q = d / NS_PER_SEC;
    if (d % NS_PER_SEC != 0 && d < 0) q--;
    return (int64_t)q;
}

/* Set PF if a periodic boundary passed since the last accounting. */
static void periodic_account(struct rtc *r, int64_t now)
{
    unsigned p = periodic_ticks(r);
    if (p && divider_running(r) && now > r->pf_ns &&
        floordiv(ticks_at(r, now), p) > floordiv(ticks_at(r, r->pf_ns), p))
        r->cmos[REG_C] |= C_PF;
    r->pf_ns = now;
}

static void update_irq(struct rtc *r)
{
    uint8_t *c = r->cmos;
    bool irqf = (c[REG_C] & c[REG_B] & (C_PF | C_AF | C_UF)) != 0;
    if (irqf)
        c[REG_C] |= C_IRQF;
    else
        c[REG_C] &= ~C_IRQF;
    if (irqf != r->irq_level) {
        r->irq_level = irqf;
        irq_set(&r->irq, irqf);
    }
}

static void arm_timers(struct rtc *r)
{
    if (updating(r))
        clock_timer_arm(&r->update_timer, (uint64_t)(r->phase_ns + NS_PER_SEC));
    else
        clock_timer_cancel(&r->update_timer);
    unsigned p = periodic_ticks(r);
    if (p && divider_running(r) && (r->cmos[REG_B] & B_PIE)) {
        int64_t next = (floordiv(ticks_at(r, now_ns(r)), p) + 1) * p;
        /* The first clock time at which tick `next` has happened. */
        __int128 ns = ((__int128)next * NS_PER_SEC + RTC_HZ - 1) / RTC_HZ;
        clock_timer_arm(&r->periodic_timer, (uint64_t)(r->phase_ns + (int64_t)ns));
    } else {
        clock_timer_cancel(&r->periodic_timer);
    }
}

/* Everything that depends on time, brought up to now. */
static void sync_now(struct rtc *r)
{
    int64_t now = now_ns(r);
    periodic_account(r, now);
    settle(r, now);
}

static void timer_cb(void *opaque)
{
    struct rtc *r = opaque;
    sync_now(r);
    update_irq(r);
    arm_timers(r);
}

static uint8_t read_time_reg(struct rtc *r, uint8_t idx)
{
    struct tm_fields t = civil_from_sec(r->sec);
    switch (idx) {
    case REG_SEC:
        return encode(r, t.sec);
    case REG_MIN:
        return encode(r, t.min);
    case REG_HOUR:
        return encode_hour(r, t.hour);
    case REG_WDAY:
        return encode(r, t.wday + 1);
    case REG_MDAY:
        return encode(r, t.mday);
    case REG_MON:
        return encode(r, t.mon);
    case REG_YEAR:
        return encode(r, (int)(t.year - floordiv(t.year, 100) * 100));
    default: /* CMOS_CENTURY */
        return encode(r, (int)(floordiv(t.year, 100) % 100));
    }
}

static void write_time_reg(struct rtc *r, uint8_t idx, uint8_t v)
{
    struct tm_fields t = civil_from_sec(r->sec);
    int64_t century = floordiv(t.year, 100), yy = t.year - century * 100;
    switch (idx) {
    case REG_SEC:
        t.sec = clampi(decode(r, v), 0, 59);
        break;
    case REG_MIN:
        t.min = clampi(decode(r, v), 0, 59);
        break;
    case REG_HOUR:
        t.hour = clampi(decode_hour(r, v), 0, 23);
        break;
    case REG_WDAY:
        return; /* derived from the date */
    case REG_MDAY:
        t.mday = clampi(decode(r, v), 1, 31);
        break;
    case REG_MON:
        t.mon = clampi(decode(r, v), 1, 12);
        break;
    case REG_YEAR:
        t.year = century * 100 + clampi(decode(r, v), 0, 99);
        break;
    default:
        t.year = (int64_t)clampi(decode(r, v), 0, 99) * 100 + yy;
        break;
    }
    /* The new value holds from the current divider second on. */
    r->sec = sec_from_civil(&t);
}

static bool is_time_reg(uint8_t idx)
{
    return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR ||
           (idx >= REG_WDAY && idx <= REG_YEAR) || idx == CMOS_CENTURY;
}

static uint32_t data_read(struct rtc *r)
{
    uint8_t idx = r->index;
    if (is_time_reg(idx)) {
        sync_now(r);
        update_irq(r);
        return read_time_reg(r, idx);
    }
    switch (idx) {
    case REG_A: {
        sync_now(r);
        update_irq(r);
        bool uip = updating(r) && r->phase_ns + NS_PER_SEC - now_ns(r) <= UIP_NS;
        return (r->cmos[REG_A] & ~A_UIP) | (uip ? A_UIP : 0);
    }
    case REG_C: {
        sync_now(r);
        update_irq(r);
        uint8_t v = r->cmos[REG_C];
        r->cmos[REG_C] = 0;
        update_irq(r);
        return v;
    }
    case REG_D:
        return D_VRT;
    default:
        return r->cmos[idx];
    }
}

static void data_write(struct rtc *r, uint8_t v)
{
    uint8_t idx = r->index;
    int64_t now = now_ns(r);
    if (is_time_reg(idx)) {
        sync_now(r);
        write_time_reg(r, idx, v);
        update_irq(r);
        return;
    }
    switch (idx) {
    case REG_A: {
        sync_now(r);
        bool was_running = divider_running(r);
        r->cmos[REG_A] = (uint8_t)(v & ~A_UIP);
        if (!was_running && divider_running(r)) {
            /* Leaving divider reset: the first update comes 500 ms later. */
            r->phase_ns = now - NS_PER_SEC / 2;
            r->pf_ns = now;
        }
        break;
    }
    case REG_B:
        sync_now(r);
        if (v & B_SET) v &= ~B_UIE;
        if (v & B_DSE) dev_log(r->log, DEV_LOG_UNIMP, "rtc: daylight saving enable not modelled\n");
        r->cmos[REG_B] = v;
        break;
    case REG_C:
    case REG_D:
        return; /* read-only */
    default:
        r->cmos[idx] = v;
        return;
    }
    update_irq(r);
    arm_timers(r);
}

static uint32_t rtc_port_read(void *opaque, uint16_t off, unsigned size)
{
    struct rtc *r = opaque;
    /* The index port is write-only on the PIIX; reads float. */
    return off == 0 ? 0xff : data_read(r);
}

static void rtc_port_write(void *opaque, uint16_t off, uint32_t v, unsigned size)
{
    struct rtc *r = opaque;
    if (off == 0) {
        r->index = v & 0x7f;
        r->nmi_disabled = v & 0x80;
    } else {
        data_write(r, (uint8_t)v);
    }
}

int64_t rtc_time(struct rtc *r)
{
    sync_now(r);
    update_irq(r);
    return r->sec;
}

void rtc_reset(struct rtc *r)
{
    sync_now(r);
    r->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    r->cmos[REG_C] = 0;
    r->index = 0;
    r->nmi_disabled = false;
    update_irq(r);
    arm_timers(r);
}

int rtc_init(struct rtc *r, struct bus *bus, struct clock *clock, struct irq_line irq,
             int64_t start_sec, const struct dev_log *log, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->clock = clock;
    r->irq = irq;
    r->log = log;
    clock_timer_init(&r->update_timer, clock, timer_cb, r, "rtc-update");
    clock_timer_init(&r->periodic_timer, clock, timer_cb, r, "rtc-periodic");
    r->cmos[REG_A] = DV_32K | 0x06; /* 1024 Hz, as firmware programs it */
    r->cmos[REG_B] = B_24H;
    r->cmos[REG_D] = D_VRT;
    r->sec = start_sec;
    r->phase_ns = r->pf_ns = now_ns(r);
    rtc_reset(r);
    return bus_register(bus, 0x70, 2, BUS_W8, "rtc", rtc_port_read, rtc_port_write, r, err, errlen);
}

void rtc_cmos_set(struct rtc *r, uint8_t index, uint8_t value)
{
    r->cmos[index & 0x7f] = value;
}
uint8_t rtc_cmos_get(struct rtc *r, uint8_t index)
{
    return r->cmos[index & 0x7f];
}

void rtc_cmos_update_checksum(struct rtc *r)
{
    unsigned sum = 0;
    for (int i = 0x10; i <= 0x2d; i++)
        sum += r->cmos[i];
    r->cmos[CMOS_CHECKSUM_HI] = (uint8_t)(sum >> 8);
    r->cmos[CMOS_CHECKSUM_LO] = (uint8_t)sum;
}

void rtc_cmos_setup(struct rtc *r, uint64_t ram_bytes, uint8_t floppy_types)
{
    uint8_t *c = r->cmos;
    c[CMOS_SHUTDOWN] = 0;
    c[CMOS_BASEMEM_LO] = 640 & 0xff;
    c[CMOS_BASEMEM_HI] = 640 >> 8;
    uint64_t ext_kb = ram_bytes > (1u << 20) ? (ram_bytes - (1u << 20)) >> 10 : 0;
    if (ext_kb > 0xffff) ext_kb = 0xffff;
    c[CMOS_EXTMEM_LO] = c[CMOS_EXTMEM2_LO] = (uint8_t)ext_kb;
    c[CMOS_EXTMEM_HI] = c[CMOS_EXTMEM2_HI] = (uint8_t)(ext_kb >> 8);
    uint64_t below4g = ram_bytes > 0x100000000ull ? 0x100000000ull : ram_bytes;
    uint64_t above16m = below4g > (16u << 20) ? (below4g - (16u << 20)) >> 16 : 0;
    if (above16m > 0xffff) above16m = 0xffff;
    c[CMOS_MEM16M_LO] = (uint8_t)above16m;
    c[CMOS_MEM16M_HI] = (uint8_t)(above16m >> 8);
    uint64_t above4g = ram_bytes > 0x100000000ull ? (ram_bytes - 0x100000000ull) >> 16 : 0;
    for (int i = 0; i < 3; i++)
        c[CMOS_MEM4G_LO + i] = (uint8_t)(above4g >> (8 * i));
    c[CMOS_FLOPPY] = floppy_types;
    unsigned drives = ((floppy_types >> 4) != 0) + ((floppy_types & 0x0f) != 0);
    /* Equipment: bit 0 diskette present, bits 7-6 drives - 1, bits 5-4 = 0
     * (EGA/VGA, its own BIOS), bit 1 math coprocessor (the i686 has one). */
    c[CMOS_EQUIPMENT] = (uint8_t)((drives ? 0x01 | (drives - 1) << 6 : 0) | 0x02);
    rtc_cmos_update_checksum(r);
}

void rtc_save(struct rtc *r, struct state_buf *s)
{
    uint32_t version = 1;
    state_put(s, "rtc.version", &version, sizeof version);
    sync_now(r);
    state_put(s, "rtc.cmos", r->cmos, sizeof r->cmos);
    state_put(s, "rtc.index", &r->index, sizeof r->index);
    state_put(s, "rtc.nmi_disabled", &r->nmi_disabled, sizeof r->nmi_disabled);
    state_put(s, "rtc.sec", &r->sec, sizeof r->sec);
    state_put(s, "rtc.phase_ns", &r->phase_ns, sizeof r->phase_ns);
    state_put(s, "rtc.pf_ns", &r->pf_ns, sizeof r->pf_ns);
}

int rtc_load(struct rtc *r, const struct state_buf *s)
{
    uint32_t version;
    if (state_get(s, "rtc.version", &version, sizeof version) || version != 1) return -1;
    state_get(s, "rtc.cmos", r->cmos, sizeof r->cmos);
    state_get(s, "rtc.index", &r->index, sizeof r->index);
    state_get(s, "rtc.nmi_disabled", &r->nmi_disabled, sizeof r->nmi_disabled);
    state_get(s, "rtc.sec", &r->sec, sizeof r->sec);
    state_get(s, "rtc.phase_ns", &r->phase_ns, sizeof r->phase_ns);
    state_get(s, "rtc.pf_ns", &r->pf_ns, sizeof r->pf_ns);
    r->index &= 0x7f;
    r->cmos[REG_D] = D_VRT;
    /* The saved anchors are clock times: a phase in the future (a state from
     * a longer-running machine) would stall updates, so re-anchor it. */
    int64_t now = now_ns(r);
    if (r->phase_ns > now) r->phase_ns = now - (r->phase_ns - now) % NS_PER_SEC;
    if (r->pf_ns > now) r->pf_ns = now;
    update_irq(r);
    irq_set(&r->irq, r->irq_level); /* drive the line whatever it was before */
    arm_timers(r);
    return 0;
}
