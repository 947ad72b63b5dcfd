/*
 * block.c — disk images as block backends: format probing, raw images, and
 * the dispatch to qcow2 (qcow2.c) and to the -snapshot overlay (overlay.c).
 *
 * Raw images are read and written in place with pread/pwrite, and the
 * guest's flush becomes fdatasync, so what a guest's FLUSH CACHE
 * acknowledged survives the emulator being killed.  A file that is not
 * what the format says is refused before the guest starts.  With -snapshot
 * the image is opened read-only, so nothing the guest does can reach it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/block.h"
#include "frontends/image.h"

int image_pread(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) /* past the end of the file: zeroes, as a sparse file reads */
            return memset(p, 0, len), 0;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

int image_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n < 0 ? -errno : -EIO;
        p += n, off += (uint64_t)n, len -= (size_t)n;
    }
    return 0;
}

struct raw_image {
    struct image img;
    int fd;
};

static int raw_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    return image_pread(((struct raw_image *)opaque)->fd, buf, len, off);
}

static int raw_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct raw_image *r = opaque;
    if (r->img.be.read_only) return -EROFS;
    return image_pwrite(r->fd, buf, len, off);
}

static int raw_flush(void *opaque)
{
    struct raw_image *r = opaque;
    return r->img.be.read_only || fdatasync(r->fd) == 0 ? 0 : -errno;
}

static void raw_close(struct image *img)
{
    struct raw_image *r = (struct raw_image *)img;
    raw_flush(r);
    close(r->fd);
    free(r);
}

struct image *raw_image_new(int fd, uint64_t size, bool read_only)
{
    struct raw_image *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->fd = fd;
    r->img.be = (struct block_backend){.opaque = r,
                                       .size = size,
                                       .read_only = read_only,
                                       .read = raw_read,
                                       .write = raw_write,
                                       .flush = raw_flush};
    r->img.close = raw_close;
    return &r->img;
}

void image_close(struct image *img)
{
    if (img) img->close(img);
}

static bool looks_like_qcow2(int fd)
{
    uint8_t magic[4];
    return pread(fd, magic, 4, 0) == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
}

/* Open without the overlay. */
static struct image *open_image(const struct block_options *o, bool ro, char *err, size_t errlen)
{
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
    if (fmt == BLOCK_FMT_AUTO) fmt = looks_like_qcow2(fd) ? BLOCK_FMT_QCOW2 : BLOCK_FMT_RAW;
    struct image *img;
    if (fmt == BLOCK_FMT_QCOW2) {
        img = qcow2_open(o->path, fd, ro, err, errlen);
        if (!img) close(fd);
        return img;
    }
    img = raw_image_new(fd, (uint64_t)st.st_size, ro);
    if (!img) {
        snprintf(err, errlen, "%s: out of memory", o->path);
        close(fd);
    }
    return img;
}

struct block_backend *block_open(const struct block_options *o, char *err, size_t errlen)
{
    /* Under -snapshot the image itself is only ever read. */
    bool ro = o->read_only || o->snapshot;
    struct image *img = open_image(o, ro, err, errlen);
    if (!img) return NULL;
    if (o->snapshot && !o->read_only) {
        struct image *ov = overlay_open(img, o->path, err, errlen);
        if (!ov) {
            image_close(img);
            return NULL;
        }
        img = ov;
    }
    return &img->be;
}

void block_close(struct block_backend *b)
{
    if (b) image_close((struct image *)b);
}

int block_open_drives(const struct block_drive *drives, size_t n, bool snapshot,
                      struct machine_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const struct block_drive *d = &drives[i];
        if (!d->path) { /* a CD-ROM drive with no disc */
            cfg->ide_cdrom[d->index] = true;
            continue;
        }
        struct block_options o = {.path = d->path,
                                  .format = d->format,
                                  .read_only = d->read_only || d->cdrom,
                                  .snapshot = snapshot || d->snapshot};
        struct block_backend *b = block_open(&o, err, errlen);
        if (!b) {
            block_close_drives(cfg);
            return -1;
        }
        if (d->floppy) {
            cfg->floppy[d->index] = b;
        } else {
            cfg->ide[d->index] = b;
            cfg->ide_cdrom[d->index] = d->cdrom;
        }
    }
    return 0;
}

void block_close_drives(struct machine_config *cfg)
{
    for (int i = 0; i < 4; i++) {
        block_close(cfg->ide[i]);
        cfg->ide[i] = NULL;
    }
    for (int i = 0; i < 2; i++) {
        block_close(cfg->floppy[i]);
        cfg->floppy[i] = NULL;
    }
}
