/*
 * log.h — the sink behind -d (categories) and -D (file): the function a
 * struct machine_config's log pointer is set to.
 */
#ifndef UMBRA_FRONTENDS_LOG_H
#define UMBRA_FRONTENDS_LOG_H

#include <stddef.h>
#include <stdio.h>

struct log_sink {
    FILE *f;
    int owned; /* opened by log_open (closed by log_close) */
};

/* path == NULL: stderr.  Returns 0, or -1 with a message in err. */
int log_open(struct log_sink *s, const char *path, char *err, size_t errlen);
void log_close(struct log_sink *s);
/* printf-like; a line without a trailing newline gets one. */
void log_printf(void *opaque, unsigned category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
