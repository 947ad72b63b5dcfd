/*
 * imagefile.c — whole-file reads for the kernel loaders (multiboot, Linux):
 * the one place that turns open/stat/read failures into the one-line
 * messages naming the file that the command line promises.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontends/imagefile.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

int image_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode) || st.st_size > IMAGE_MAX_SIZE) {
        int e = S_ISDIR(st.st_mode) ? EISDIR : EFBIG;
        fclose(f);
        return fail(err, errlen, "cannot read '%s': %s", path, strerror(e));
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) {
        fclose(f);
        return fail(err, errlen, "cannot read '%s': out of memory", path);
    }
    if (fread(buf, 1, n, f) != n) {
        int e = ferror(f) ? errno : EIO;
        free(buf);
        fclose(f);
        return fail(err, errlen, "cannot read '%s': %s", path, strerror(e));
    }
    fclose(f);
    *data = buf;
    *size = n;
    return 0;
}
