/*
 * overlay.c — the -snapshot overlay: the guest's writes land in a temporary
 * file that is unlinked as soon as it is created (so it disappears with the
 * process, however it ends), in 64 KiB clusters placed in the order they
 * are first written; a map from guest cluster to overlay cluster says where
 * each byte lives.  The base image is opened read-only and only read.
 *
 * Design choice: a partly written cluster is first filled from the base
 * (copy on first write), so later reads of the cluster need one place only.
 * Flush has nothing to make durable: the overlay is thrown away at exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontends/image.h"

#define OV_CLUSTER_BITS 16
#define OV_CLUSTER (1u << OV_CLUSTER_BITS)

struct overlay {
    struct image img;
    struct image *base;
    int fd;
    uint32_t *map; /* guest cluster -> 1 + overlay cluster, 0 = in the base */
    uint64_t nclusters;
    uint32_t used;
};

static int ov_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct overlay *o = opaque;
    uint8_t *p = buf;
    while (len) {
        uint64_t c = off >> OV_CLUSTER_BITS;
        uint32_t in = (uint32_t)(off & (OV_CLUSTER - 1));
        size_t n = OV_CLUSTER - in < len ? OV_CLUSTER - in : len;
        int r = o->map[c] ? image_pread(o->fd, p, n, ((uint64_t)(o->map[c] - 1) << OV_CLUSTER_BITS) + in)
                          : o->base->be.read(o->base->be.opaque, off, p, n);
        if (r) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int ov_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct overlay *o = opaque;
    const uint8_t *p = buf;
    while (len) {
        uint64_t c = off >> OV_CLUSTER_BITS;
        uint32_t in = (uint32_t)(off & (OV_CLUSTER - 1));
        size_t n = OV_CLUSTER - in < len ? OV_CLUSTER - in : len;
        if (!o->map[c]) {
            if (o->used == UINT32_MAX) return -ENOSPC;
            uint64_t at = (uint64_t)o->used << OV_CLUSTER_BITS;
            if (n < OV_CLUSTER) { /* copy the cluster from the base first */
                uint64_t start = c << OV_CLUSTER_BITS;
                size_t clen = o->img.be.size - start < OV_CLUSTER ? (size_t)(o->img.be.size - start)
                                                                  : OV_CLUSTER;
                uint8_t *tmp = malloc(OV_CLUSTER);
                if (!tmp) return -ENOMEM;
                int r = o->base->be.read(o->base->be.opaque, start, tmp, clen);
                if (!r) r = image_pwrite(o->fd, tmp, clen, at);
                free(tmp);
                if (r) return r;
            }
            o->map[c] = ++o->used;
        }
        int r = image_pwrite(o->fd, p, n, ((uint64_t)(o->map[c] - 1) << OV_CLUSTER_BITS) + in);
        if (r) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int ov_flush(void *opaque) { return 0; }

static void ov_close(struct image *img)
{
    struct overlay *o = (struct overlay *)img;
    close(o->fd);
    free(o->map);
    image_close(o->base);
    free(o);
}

struct image *overlay_open(struct image *base, const char *name, char *err, size_t errlen)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/umbra-snapshot-XXXXXX", dir && *dir ? dir : "/var/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "%s: -snapshot: cannot create a temporary file in %s: %s", name,
                 dir && *dir ? dir : "/var/tmp", strerror(errno));
        return NULL;
    }
    unlink(path);
    struct overlay *o = calloc(1, sizeof *o);
    uint64_t nclusters = (base->be.size + OV_CLUSTER - 1) >> OV_CLUSTER_BITS;
    /* calloc of a large map only reserves address space until written. */
    uint32_t *map = calloc(nclusters ? nclusters : 1, sizeof *map);
    if (!o || !map) {
        snprintf(err, errlen, "%s: -snapshot: out of memory", name);
        free(o);
        free(map);
        close(fd);
        return NULL;
    }
    o->base = base;
    o->fd = fd;
    o->map = map;
    o->nclusters = nclusters;
    o->img.be = (struct block_backend){.opaque = o,
                                       .size = base->be.size,
                                       .read_only = false,
                                       .read = ov_read,
                                       .write = ov_write,
                                       .flush = ov_flush};
    o->img.close = ov_close;
    return &o->img;
}
