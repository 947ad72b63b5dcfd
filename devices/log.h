/*
 * log.h — the log sink devices write through (-d categories).
 *
 * Devices may not include cpu/cpu.h, so the two categories they use are
 * mirrored here; pc.c statically asserts they equal LOG_GUEST_ERRORS and
 * LOG_UNIMP.  A NULL sink (unit tests) logs nothing.
 */
#ifndef UMBRA_DEV_LOG_H
#define UMBRA_DEV_LOG_H

#define DEV_LOG_GUEST_ERRORS 0x04u
#define DEV_LOG_UNIMP 0x08u

struct dev_log {
    unsigned mask;
    void (*fn)(void *opaque, unsigned category, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *opaque;
};

#define dev_log(l, cat, ...)                                                                 \
    do {                                                                                     \
        const struct dev_log *dev_log_l_ = (l);                                              \
        if (dev_log_l_ && dev_log_l_->fn && (dev_log_l_->mask & (cat)))                      \
            dev_log_l_->fn(dev_log_l_->opaque, (cat), __VA_ARGS__);                          \
    } while (0)

#endif
