/*
 * log.c — the -d / -D log sink (QEMU's qemu_log equivalent).
 *
 * Each call is one line: it is formatted whole and written with a single
 * fwrite so lines from different devices never interleave mid-line, and a
 * missing newline is supplied so a caller's style cannot glue lines together.
 * A -D file is fully buffered (the exec log can be huge) and flushed at
 * close; stderr stays unbuffered so the log and the guest's output keep
 * their order on a terminal.
 */
#include "frontends/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int log_open(struct log_sink *s, const char *path, char *err, size_t errlen)
{
    s->f = stderr;
    s->owned = 0;
    if (!path) return 0;
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "-D: cannot open '%s': %s", path, strerror(errno));
        return -1;
    }
    setvbuf(f, NULL, _IOFBF, 1 << 16);
    s->f = f;
    s->owned = 1;
    return 0;
}

void log_close(struct log_sink *s)
{
    if (s->f && s->owned)
        fclose(s->f);
    else if (s->f)
        fflush(s->f);
    s->f = NULL;
    s->owned = 0;
}

void log_printf(void *opaque, unsigned category, const char *fmt, ...)
{
    struct log_sink *s = opaque;
    if (!s || !s->f) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    char *line = buf;
    char *big = NULL;
    if ((size_t)n + 2 > sizeof buf) { /* room for an added newline too */
        /* Rare (register dumps): format again into a buffer that fits. */
        big = malloc((size_t)n + 2);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            line = big;
        } else {
            n = sizeof buf - 2;
        }
    }
    size_t len = (size_t)n;
    if (len == 0 || line[len - 1] != '\n') {
        line[len++] = '\n';
        line[len] = 0;
    }
    fwrite(line, 1, len, s->f);
    free(big);
}
