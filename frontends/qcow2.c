/*
 * qcow2.c — QEMU's copy-on-write image format, versions 2 and 3 (QEMU's
 * docs/interop/qcow2.txt): header and header extensions, the two-level
 * L1/L2 cluster map, refcount table and blocks of any refcount width,
 * backing files (raw or qcow2, with their format from the header
 * extension or probed), and version 3 zero clusters.
 *
 * Reading follows the map: an unallocated cluster reads from the backing
 * file (zeroes past its end, or without one), a zero cluster reads zeroes.
 * Writing allocates clusters at the end of the file — data first, then the
 * L2 entry that points at it, each new cluster's refcount set to 1 (new
 * refcount blocks and a larger refcount table are allocated the same way)
 * — so that `qemu-img check` finds the image consistent, and a crash can
 * at worst leak a cluster, never point at garbage.  Entries are written
 * with the COPIED flag, as their refcount is exactly 1.
 *
 * Refused, with a message naming the file, before the guest starts:
 * encryption, compressed clusters, external data files, extended L2
 * entries, unknown incompatible features, an image marked dirty, one marked
 * corrupt or with internal snapshots when writable, and any table that
 * points outside the file or at a misaligned offset.  Auto-clear feature
 * bits (persistent bitmaps) are cleared before a writable image is used,
 * as the format requires of a writer that does not maintain them.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/block.h"
#include "frontends/image.h"

#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull
#define QCOW2_COPIED (1ull << 63)
#define QCOW2_COMPRESSED (1ull << 62)
#define QCOW2_ZERO 1ull
#define L1_RESERVED 0x7f000000000001ffull
#define L2_RESERVED 0x3f000000000001feull
#define MAX_BACKING_DEPTH 16

#define INCOMPAT_DIRTY 1ull
#define INCOMPAT_CORRUPT 2ull
#define INCOMPAT_DATA_FILE 4ull
#define INCOMPAT_COMPRESSION 8ull
#define INCOMPAT_EXTL2 16ull

struct qcow2 {
    struct image img;
    int fd;
    char *name; /* for messages */
    unsigned cluster_bits, l2_bits, refcount_bits;
    uint32_t cluster_size;
    unsigned version;
    uint64_t *l1;
    uint32_t l1_size;
    uint64_t l1_offset;
    uint64_t *rt; /* refcount table */
    uint64_t rt_entries, rt_offset;
    uint64_t next_free; /* end of the file, cluster-aligned: where clusters are allocated */
    struct image *backing;
    uint8_t *zero_cluster;
};

static uint64_t be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* --- refcounts --- */

static int set_refcount(struct qcow2 *q, uint64_t host_off, uint64_t value);

static uint64_t alloc_cluster_raw(struct qcow2 *q)
{
    uint64_t off = q->next_free;
    q->next_free += q->cluster_size;
    return off;
}

/* Grow the refcount table to hold at least `need` entries: a new table at
 * the end of the file, then the header, then the old table freed. */
static int grow_refcount_table(struct qcow2 *q, uint64_t need)
{
    uint64_t entries_per_cluster = q->cluster_size / 8;
    uint64_t clusters = (need * 2 + entries_per_cluster - 1) / entries_per_cluster;
    uint64_t entries = clusters * entries_per_cluster;
    uint64_t *rt = calloc(entries, 8);
    if (!rt) return -ENOMEM;
    memcpy(rt, q->rt, q->rt_entries * 8);
    uint64_t old_off = q->rt_offset, old_entries = q->rt_entries;
    uint64_t new_off = q->next_free;
    q->next_free += clusters * q->cluster_size;
    free(q->rt);
    q->rt = rt;
    q->rt_entries = entries;
    /* From here entries for new refcount blocks go to the new table (it
     * is written whole below, before the header points at it). */
    q->rt_offset = new_off;
    for (uint64_t i = 0; i < clusters; i++) {
        int r = set_refcount(q, new_off + i * q->cluster_size, 1);
        if (r) return r;
    }
    uint8_t *buf = malloc(entries * 8);
    if (!buf) return -ENOMEM;
    for (uint64_t i = 0; i < entries; i++)
        put_be64(buf + 8 * i, q->rt[i]);
    int r = image_pwrite(q->fd, buf, entries * 8, new_off);
    free(buf);
    if (r) return r;
    if (fdatasync(q->fd)) return -errno;
    uint8_t hdr[12];
    put_be64(hdr, new_off);
    put_be32(hdr + 8, (uint32_t)clusters);
    r = image_pwrite(q->fd, hdr, 12, 48);
    if (r) return r;
    uint64_t old_clusters = (old_entries * 8 + q->cluster_size - 1) / q->cluster_size;
    for (uint64_t i = 0; i < old_clusters; i++) {
        r = set_refcount(q, old_off + i * q->cluster_size, 0);
        if (r) return r;
    }
    return 0;
}

static int set_refcount(struct qcow2 *q, uint64_t host_off, uint64_t value)
{
    uint64_t cluster = host_off >> q->cluster_bits;
    uint64_t per_block = (uint64_t)q->cluster_size * 8 / q->refcount_bits;
    uint64_t bi = cluster / per_block, idx = cluster % per_block;
    if (bi >= q->rt_entries) {
        int r = grow_refcount_table(q, bi + 1);
        if (r) return r;
    }
    if (!q->rt[bi]) {
        uint64_t block = alloc_cluster_raw(q);
        uint8_t *zero = q->zero_cluster;
        int r = image_pwrite(q->fd, zero, q->cluster_size, block);
        if (r) return r;
        q->rt[bi] = block;
        uint8_t e[8];
        put_be64(e, block);
        r = image_pwrite(q->fd, e, 8, q->rt_offset + 8 * bi);
        if (r) return r;
        r = set_refcount(q, block, 1);
        if (r) return r;
    }
    /* Read-modify-write the bytes holding this entry. */
    uint64_t bit = idx * q->refcount_bits;
    uint64_t byte = bit / 8;
    unsigned nbytes = q->refcount_bits >= 8 ? q->refcount_bits / 8 : 1;
    uint8_t b[8];
    int r = image_pread(q->fd, b, nbytes, q->rt[bi] + byte);
    if (r) return r;
    if (q->refcount_bits >= 8) {
        for (unsigned i = 0; i < nbytes; i++)
            b[i] = (uint8_t)(value >> (8 * (nbytes - 1 - i)));
    } else {
        unsigned sh = (unsigned)(bit % 8), mask = ((1u << q->refcount_bits) - 1) << sh;
        b[0] = (uint8_t)((b[0] & ~mask) | ((unsigned)value << sh & mask));
    }
    return image_pwrite(q->fd, b, nbytes, q->rt[bi] + byte);
}

/* A new cluster with refcount 1, its contents not yet written. */
static int alloc_cluster(struct qcow2 *q, uint64_t *off)
{
    *off = alloc_cluster_raw(q);
    return set_refcount(q, *off, 1);
}

/* --- the cluster map --- */

static int l2_entry(struct qcow2 *q, uint64_t vcluster, uint64_t *entry)
{
    uint64_t l1i = vcluster >> q->l2_bits;
    if (l1i >= q->l1_size) return -EIO;
    uint64_t l2 = q->l1[l1i] & QCOW2_OFFSET_MASK;
    if (!l2) {
        *entry = 0;
        return 0;
    }
    uint8_t e[8];
    int r = image_pread(q->fd, e, 8, l2 + 8 * (vcluster & ((1ull << q->l2_bits) - 1)));
    if (r) return r;
    *entry = be64(e);
    return 0;
}

/* Bytes of [off, off+len) not covered by the cluster map: backing or zero. */
static int read_unallocated(struct qcow2 *q, uint64_t off, uint8_t *p, size_t n)
{
    if (!q->backing) return memset(p, 0, n), 0;
    uint64_t bsize = q->backing->be.size;
    size_t from_backing = off >= bsize ? 0 : bsize - off < n ? (size_t)(bsize - off) : n;
    if (from_backing) {
        int r = q->backing->be.read(q->backing->be.opaque, off, p, from_backing);
        if (r) return r;
    }
    memset(p + from_backing, 0, n - from_backing);
    return 0;
}

static int q_read(void *opaque, uint64_t off, void *buf, size_t len)
{
    struct qcow2 *q = opaque;
    uint8_t *p = buf;
    while (len) {
        uint64_t vc = off >> q->cluster_bits;
        uint32_t in = (uint32_t)(off & (q->cluster_size - 1));
        size_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
        uint64_t e;
        int r = l2_entry(q, vc, &e);
        if (r) return r;
        uint64_t host = e & QCOW2_OFFSET_MASK;
        if (e & QCOW2_COMPRESSED)
            r = -EIO; /* refused at open; a guest cannot create one */
        else if (e & QCOW2_ZERO)
            memset(p, 0, n);
        else if (!host)
            r = read_unallocated(q, off, p, n);
        else
            r = image_pread(q->fd, p, n, host + in);
        if (r) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int write_l2_entry(struct qcow2 *q, uint64_t vcluster, uint64_t entry)
{
    uint64_t l1i = vcluster >> q->l2_bits;
    uint64_t l2 = q->l1[l1i] & QCOW2_OFFSET_MASK;
    uint8_t e[8];
    int r;
    if (!l2) {
        r = alloc_cluster(q, &l2);
        if (!r) r = image_pwrite(q->fd, q->zero_cluster, q->cluster_size, l2);
        if (r) return r;
        q->l1[l1i] = l2 | QCOW2_COPIED;
        put_be64(e, q->l1[l1i]);
        r = image_pwrite(q->fd, e, 8, q->l1_offset + l1i * 8);
        if (r) return r;
    }
    put_be64(e, entry);
    return image_pwrite(q->fd, e, 8, l2 + 8 * (vcluster & ((1ull << q->l2_bits) - 1)));
}

static int q_write(void *opaque, uint64_t off, const void *buf, size_t len)
{
    struct qcow2 *q = opaque;
    if (q->img.be.read_only) return -EROFS;
    const uint8_t *p = buf;
    while (len) {
        uint64_t vc = off >> q->cluster_bits;
        uint32_t in = (uint32_t)(off & (q->cluster_size - 1));
        size_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
        uint64_t e;
        int r = l2_entry(q, vc, &e);
        if (r) return r;
        uint64_t host = e & QCOW2_OFFSET_MASK;
        if (host && !(e & (QCOW2_COMPRESSED | QCOW2_ZERO)) && (e & QCOW2_COPIED)) {
            r = image_pwrite(q->fd, p, n, host + in); /* ours alone: in place */
        } else if (host && (e & QCOW2_ZERO) && (e & QCOW2_COPIED)) {
            /* A preallocated zero cluster: zero it, write, then drop the flag. */
            r = image_pwrite(q->fd, q->zero_cluster, q->cluster_size, host);
            if (!r) r = image_pwrite(q->fd, p, n, host + in);
            if (!r) r = write_l2_entry(q, vc, host | QCOW2_COPIED);
        } else if (host && !(e & QCOW2_ZERO) && !(e & QCOW2_COMPRESSED)) {
            r = -EIO; /* shared with an internal snapshot: refused at open */
        } else {
            /* A new cluster: the bytes around the write come from the
             * backing file, or are zeroes. */
            uint64_t nc;
            r = alloc_cluster(q, &nc);
            if (r) return r;
            if (n < q->cluster_size) {
                uint8_t *tmp = malloc(q->cluster_size);
                if (!tmp) return -ENOMEM;
                uint64_t start = off - in;
                if (e & QCOW2_ZERO)
                    memset(tmp, 0, q->cluster_size);
                else
                    r = read_unallocated(q, start, tmp, q->cluster_size);
                memcpy(tmp + in, p, n);
                if (!r) r = image_pwrite(q->fd, tmp, q->cluster_size, nc);
                free(tmp);
            } else {
                r = image_pwrite(q->fd, p, n, nc);
            }
            if (!r) r = write_l2_entry(q, vc, nc | QCOW2_COPIED);
        }
        if (r) return r;
        p += n, off += n, len -= n;
    }
    return 0;
}

static int q_flush(void *opaque)
{
    struct qcow2 *q = opaque;
    if (!q->img.be.read_only && fdatasync(q->fd)) return -errno;
    return q->backing ? q->backing->be.flush(q->backing->be.opaque) : 0;
}

static void q_close(struct image *img)
{
    struct qcow2 *q = (struct qcow2 *)img;
    q_flush(q);
    image_close(q->backing);
    close(q->fd);
    free(q->l1);
    free(q->rt);
    free(q->zero_cluster);
    free(q->name);
    free(q);
}

/* --- opening and validation --- */

#define FAIL(...)                                                                            \
    do {                                                                                     \
        snprintf(err, errlen, __VA_ARGS__);                                                  \
        goto fail;                                                                           \
    } while (0)

static struct image *open_backing(const char *image, const char *file, const char *fmt,
                                  int depth, char *err, size_t errlen);

static struct image *qcow2_open_depth(const char *path, int fd, bool ro, int depth, char *err,
                                      size_t errlen)
{
    struct qcow2 *q = calloc(1, sizeof *q);
    uint8_t h[112] = {0}, *l2buf = NULL, *tbl = NULL;
    char backing_file[1024] = "", backing_fmt[32] = "";
    if (!q) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }

    q->fd = fd;
    q->name = strdup(path);
    if (!q->name) {
        free(q);
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st)) FAIL("%s: %s", path, strerror(errno));
    uint64_t fsize = (uint64_t)st.st_size;
    if (fsize < 72 || pread(fd, h, sizeof h, 0) < 72)
        FAIL("%s: qcow2 header truncated", path);
    if (memcmp(h, "QFI\xfb", 4)) FAIL("%s: not a qcow2 image", path);
    q->version = be32(h + 4);
    if (q->version != 2 && q->version != 3)
        FAIL("%s: qcow2 version %u is not supported (2 or 3)", path, q->version);
    uint64_t backing_off = be64(h + 8);
    uint32_t backing_len = be32(h + 16);
    q->cluster_bits = be32(h + 20);
    uint64_t size = be64(h + 24);
    uint32_t crypt = be32(h + 32);
    q->l1_size = be32(h + 36);
    q->l1_offset = be64(h + 40);
    q->rt_offset = be64(h + 48);
    uint32_t rt_clusters = be32(h + 56);
    uint32_t nb_snapshots = be32(h + 60);
    uint32_t header_len = 72;
    q->refcount_bits = 16;
    if (q->cluster_bits < 9 || q->cluster_bits > 21)
        FAIL("%s: qcow2 cluster size 2^%u is invalid", path, q->cluster_bits);
    q->cluster_size = 1u << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    if (crypt) FAIL("%s: encrypted qcow2 images are not supported", path);
    if (q->version == 3) {
        if (fsize < 104) FAIL("%s: qcow2 header truncated", path);
        uint64_t incompat = be64(h + 72);
        uint32_t order = be32(h + 96);
        header_len = be32(h + 100);
        if (header_len < 104 || header_len > q->cluster_size)
            FAIL("%s: qcow2 header length %u is invalid", path, header_len);
        if (order > 6) FAIL("%s: qcow2 refcount order %u is invalid", path, order);
        q->refcount_bits = 1u << order;
        if (incompat & INCOMPAT_DIRTY)
            FAIL("%s: the qcow2 image was not closed cleanly (repair it with qemu-img check -r "
                 "all)",
                 path);
        if ((incompat & INCOMPAT_CORRUPT) && !ro)
            FAIL("%s: the qcow2 image is marked corrupt (qemu-img check -r all; read-only use "
                 "is allowed)",
                 path);
        if (incompat & INCOMPAT_DATA_FILE)
            FAIL("%s: qcow2 images with an external data file are not supported", path);
        if (incompat & INCOMPAT_EXTL2)
            FAIL("%s: qcow2 images with extended L2 entries are not supported", path);
        if (incompat & ~(INCOMPAT_COMPRESSION | INCOMPAT_CORRUPT))
            FAIL("%s: qcow2 image has unknown incompatible features 0x%llx", path,
                 (unsigned long long)incompat);
    }
    if (nb_snapshots && !ro)
        FAIL("%s: qcow2 images with internal snapshots can only be opened read-only (or with "
             "-snapshot)",
             path);
    /* Header extensions: the backing file's format. */
    for (uint64_t ext = header_len; ext + 8 <= q->cluster_size && ext + 8 <= fsize;) {
        uint8_t eh[8];
        if (image_pread(fd, eh, 8, ext)) FAIL("%s: cannot read the qcow2 header", path);
        uint32_t type = be32(eh), len = be32(eh + 4);
        if (type == 0) break;
        if (ext + 8 + len > q->cluster_size) FAIL("%s: qcow2 header extension overflows", path);
        if (type == 0xe2792aca && len < sizeof backing_fmt) {
            if (image_pread(fd, backing_fmt, len, ext + 8))
                FAIL("%s: cannot read the qcow2 header", path);
            backing_fmt[len] = 0;
        } else if (type == 0x0537be77) {
            FAIL("%s: encrypted qcow2 images are not supported", path);
        }
        ext += 8 + ((len + 7) & ~7u);
    }
    if (backing_off) {
        if (backing_len == 0 || backing_len >= sizeof backing_file ||
            backing_off + backing_len > q->cluster_size || backing_off + backing_len > fsize)
            FAIL("%s: qcow2 backing file name is out of bounds", path);
        if (image_pread(fd, backing_file, backing_len, backing_off))
            FAIL("%s: cannot read the backing file name", path);
        backing_file[backing_len] = 0;
    }
    /* Tables must lie inside the file, cluster-aligned. */
    uint64_t l2_entries = 1ull << q->l2_bits;
    uint64_t vclusters = (size + q->cluster_size - 1) >> q->cluster_bits;
    if ((uint64_t)q->l1_size * l2_entries < vclusters)
        FAIL("%s: qcow2 L1 table too small for the image size", path);
    if (q->l1_size > (1u << 26)) FAIL("%s: qcow2 L1 table size %u is invalid", path, q->l1_size);
    if ((q->l1_offset & (q->cluster_size - 1)) || q->l1_offset + (uint64_t)q->l1_size * 8 > fsize)
        FAIL("%s: qcow2 L1 table at 0x%llx is outside the file or misaligned", path,
             (unsigned long long)q->l1_offset);
    if (!rt_clusters || (q->rt_offset & (q->cluster_size - 1)) ||
        q->rt_offset + (uint64_t)rt_clusters * q->cluster_size > fsize)
        FAIL("%s: qcow2 refcount table at 0x%llx is outside the file or misaligned", path,
             (unsigned long long)q->rt_offset);
    q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
    q->rt_entries = (uint64_t)rt_clusters * q->cluster_size / 8;
    q->rt = calloc(q->rt_entries, 8);
    q->zero_cluster = calloc(1, q->cluster_size);
    l2buf = malloc(q->cluster_size);
    tbl = malloc(q->rt_entries * 8 > (uint64_t)q->l1_size * 8 ? q->rt_entries * 8
                                                               : (uint64_t)q->l1_size * 8 + 8);
    if (!q->l1 || !q->rt || !q->zero_cluster || !l2buf || !tbl) FAIL("%s: out of memory", path);
    if (image_pread(fd, tbl, (size_t)q->rt_entries * 8, q->rt_offset))
        FAIL("%s: cannot read the qcow2 refcount table", path);
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        q->rt[i] = be64(tbl + 8 * i);
        if ((q->rt[i] & (q->cluster_size - 1)) || q->rt[i] >= fsize)
            FAIL("%s: qcow2 refcount block %llu at 0x%llx is outside the file or misaligned",
                 path, (unsigned long long)i, (unsigned long long)q->rt[i]);
    }
    if (image_pread(fd, tbl, (size_t)q->l1_size * 8, q->l1_offset))
        FAIL("%s: cannot read the qcow2 L1 table", path);
    for (uint32_t i = 0; i < q->l1_size; i++) {
        uint64_t e = q->l1[i] = be64(tbl + 8 * i);
        uint64_t l2 = e & QCOW2_OFFSET_MASK;
        if (!l2) continue;
        if ((e & L1_RESERVED) || (l2 & (q->cluster_size - 1)) || l2 + q->cluster_size > fsize)
            FAIL("%s: qcow2 L1 entry %u (0x%llx) points outside the file or is misaligned", path,
                 i, (unsigned long long)e);
        if (image_pread(fd, l2buf, q->cluster_size, l2))
            FAIL("%s: cannot read a qcow2 L2 table", path);
        for (uint64_t j = 0; j < l2_entries; j++) {
            uint64_t v = be64(l2buf + 8 * j);
            if (v & QCOW2_COMPRESSED)
                FAIL("%s: compressed qcow2 clusters are not supported (convert the image with "
                     "qemu-img convert -O qcow2)",
                     path);
            uint64_t host = v & QCOW2_OFFSET_MASK;
            if ((v & L2_RESERVED) || (q->version == 2 && (v & QCOW2_ZERO)) ||
                (host & (q->cluster_size - 1)) || (host && host >= fsize))
                FAIL("%s: qcow2 L2 entry at 0x%llx (0x%llx) points outside the file or is "
                     "misaligned",
                     path, (unsigned long long)(l2 + 8 * j), (unsigned long long)v);
        }
    }
    free(l2buf);
    free(tbl);
    l2buf = tbl = NULL;
    q->next_free = (fsize + q->cluster_size - 1) & ~(uint64_t)(q->cluster_size - 1);
    /* Auto-clear features (e.g. persistent dirty bitmaps) are ones a
     * writer that does not maintain them must switch off before writing. */
    if (q->version == 3 && !ro && be64(h + 88)) {
        uint8_t zero[8] = {0};
        int r = image_pwrite(fd, zero, 8, 88);
        if (!r && fdatasync(fd)) r = -errno;
        if (r) FAIL("%s: cannot update the qcow2 header: %s", path, strerror(-r));
    }
    if (backing_file[0]) {
        q->backing = open_backing(path, backing_file, backing_fmt, depth + 1, err, errlen);
        if (!q->backing) goto fail;
    }
    q->img.be = (struct block_backend){.opaque = q,
                                       .size = size,
                                       .read_only = ro,
                                       .read = q_read,
                                       .write = q_write,
                                       .flush = q_flush};
    q->img.close = q_close;
    return &q->img;
fail:
    free(l2buf);
    free(tbl);
    free(q->l1);
    free(q->rt);
    free(q->zero_cluster);
    free(q->name);
    free(q);
    return NULL;
}

/* A backing file: relative names are relative to the image's directory. */
static struct image *open_backing(const char *image, const char *file, const char *fmt,
                                  int depth, char *err, size_t errlen)
{
    if (depth > MAX_BACKING_DEPTH) {
        snprintf(err, errlen, "%s: backing file chain deeper than %d", image, MAX_BACKING_DEPTH);
        return NULL;
    }
    char path[4096];
    if (file[0] == '/') {
        snprintf(path, sizeof path, "%s", file);
    } else {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", image);
        snprintf(path, sizeof path, "%s/%s", dirname(dir), file);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: backing file %s: %s", image, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: backing file %s is not a regular file", image, path);
        close(fd);
        return NULL;
    }
    uint8_t magic[4] = {0};
    bool is_qcow2 = pread(fd, magic, 4, 0) == 4 && memcmp(magic, "QFI\xfb", 4) == 0;
    if (fmt[0]) {
        if (strcmp(fmt, "raw") == 0) {
            is_qcow2 = false;
        } else if (strcmp(fmt, "qcow2") == 0) {
            is_qcow2 = true;
        } else {
            snprintf(err, errlen, "%s: backing file format '%s' is not supported", image, fmt);
            close(fd);
            return NULL;
        }
    }
    struct image *img;
    if (is_qcow2) {
        img = qcow2_open_depth(path, fd, true, depth, err, errlen);
    } else {
        img = raw_image_new(fd, (uint64_t)st.st_size, true);
        if (!img) snprintf(err, errlen, "%s: out of memory", image);
    }
    if (!img) close(fd);
    return img;
}

struct image *qcow2_open(const char *path, int fd, bool read_only, char *err, size_t errlen)
{
    return qcow2_open_depth(path, fd, read_only, 0, err, errlen);
}
