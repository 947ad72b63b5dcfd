/*
 * block.c — disk images as block backends.
 *
 * Raw images are read and written in place with pread/pwrite, and the
 * guest's flush becomes fdatasync, so what a guest's FLUSH CACHE
 * acknowledged survives the emulator being killed.  A file that is not
 * what the format says is refused before the guest starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/block.h"

struct raw_image {
    struct block_backend be;
    int fd;
};

static int raw_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct raw_image *r = opaque;
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(r->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) /* the file shrank under us: the rest reads as zeroes */
            return memset(p, 0, len), 0;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int raw_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct raw_image *r = opaque;
    if (r->be.read_only)
        return -EROFS;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(r->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

static int raw_flush(void *opaque)
{
    struct raw_image *r = opaque;
    return r->be.read_only || fdatasync(r->fd) == 0 ? 0 : -errno;
}

static bool looks_like_qcow2(int fd)
{
    uint8_t magic[4];
    return pread(fd, magic, 4, 0) == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
}

struct block_backend *block_open(const struct block_options *o, char *err, size_t errlen)
{
    bool ro = o->read_only || o->snapshot;
    int fd = open(o->path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", o->path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", o->path);
        close(fd);
        return NULL;
    }
    enum block_format fmt = o->format;
    if (fmt == BLOCK_FMT_AUTO)
        fmt = looks_like_qcow2(fd) ? BLOCK_FMT_QCOW2 : BLOCK_FMT_RAW;
    if (fmt != BLOCK_FMT_RAW || o->snapshot) {
        snprintf(err, errlen, "%s: %s is not supported yet", o->path,
                 o->snapshot ? "-snapshot" : "the qcow2 format");
        close(fd);
        return NULL;
    }
    struct raw_image *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, errlen, "%s: out of memory", o->path);
        close(fd);
        return NULL;
    }
    r->fd = fd;
    r->be = (struct block_backend){.opaque = r,
                                   .size = (uint64_t)st.st_size,
                                   .read_only = ro,
                                   .read = raw_read,
                                   .write = raw_write,
                                   .flush = raw_flush};
    return &r->be;
}

void block_close(struct block_backend *b)
{
    if (!b)
        return;
    struct raw_image *r = b->opaque;
    raw_flush(r);
    close(r->fd);
    free(r);
}
