/* test_block.c — disk images as block backends, checked against QEMU's own
 * tools: raw read/write/flush and read-only; the -snapshot overlay leaves
 * the base image's sha256 unchanged while the guest sees its writes; qcow2
 * (v2 and v3, large and tiny clusters so that L2 tables, refcount blocks
 * and the refcount table all have to grow) written by Umbra passes
 * `qemu-img check` and converts back to exactly what was written; images
 * made by qemu-img/qemu-io with raw and qcow2 backing files and zero
 * clusters read correctly; truncated, corrupt, encrypted and compressed
 * images are refused with a message naming the file. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/block.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/umbra-test-block-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *path(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
    return p[i];
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    char full[2400];
    snprintf(full, sizeof full, "cd '%s' && ( %s ) >/dev/null 2>&1", dir, cmd);
    int r = system(full);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void sha256(const char *file, char out[65])
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", file);
    FILE *f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%64s", out), 1);
    pclose(f);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

static void write_file(const char *file, const uint8_t *data, size_t n)
{
    FILE *f = fopen(file, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_file(const char *file, size_t *n)
{
    FILE *f = fopen(file, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(*n + 1);
    ck_assert_uint_eq(fread(p, 1, *n, f), *n);
    fclose(f);
    return p;
}

static struct block_backend *open_ok(const char *file, enum block_format fmt, bool ro, bool snap)
{
    char err[512] = "";
    struct block_options o = {file, fmt, ro, snap};
    struct block_backend *b = block_open(&o, err, sizeof err);
    if (!b) ck_abort_msg("block_open(%s): %s", file, err);
    return b;
}

static void expect_refused(const char *file, const char *what)
{
    char err[512] = "";
    struct block_options o = {file, BLOCK_FMT_AUTO, false, false};
    struct block_backend *b = block_open(&o, err, sizeof err);
    ck_assert_msg(b == NULL, "%s: opened a bad image", what);
    ck_assert_msg(strstr(err, file) != NULL, "%s: message does not name the file: %s", what, err);
}

START_TEST(raw_read_write_flush)
{
    const char *f = path("disk.raw");
    uint8_t data[8192], back[8192];
    fill(data, sizeof data, 1);
    write_file(f, data, sizeof data);
    struct block_backend *b = open_ok(f, BLOCK_FMT_AUTO, false, false);
    ck_assert_uint_eq(b->size, sizeof data);
    ck_assert(!b->read_only);
    uint8_t w[1000];
    fill(w, sizeof w, 7);
    ck_assert_int_eq(b->write(b->opaque, 3000, w, sizeof w), 0);
    ck_assert_int_eq(b->flush(b->opaque), 0);
    memcpy(data + 3000, w, sizeof w);
    ck_assert_int_eq(b->read(b->opaque, 0, back, sizeof back), 0);
    ck_assert_mem_eq(back, data, sizeof data);
    block_close(b);
    size_t n;
    uint8_t *onfile = read_file(f, &n);
    ck_assert_uint_eq(n, sizeof data);
    ck_assert_mem_eq(onfile, data, sizeof data);
    free(onfile);
    /* Read-only: writes refused. */
    b = open_ok(f, BLOCK_FMT_RAW, true, false);
    ck_assert(b->read_only);
    ck_assert_int_eq(b->write(b->opaque, 0, w, 10), -EROFS);
    block_close(b);
    /* Missing file: the message names it. */
    expect_refused(path("nonexistent.img"), "missing file");
}
END_TEST

/* Random writes through b mirrored into model; then a full compare. */
static void scribble(struct block_backend *b, uint8_t *model, size_t size, unsigned seed, int n,
                     size_t maxlen)
{
    srand(seed);
    uint8_t *buf = malloc(maxlen);
    for (int i = 0; i < n; i++) {
        size_t len = 1 + (size_t)rand() % maxlen;
        size_t off = ((size_t)rand() * 4099u) % (size - len);
        fill(buf, len, (unsigned)rand());
        ck_assert_int_eq(b->write(b->opaque, off, buf, len), 0);
        memcpy(model + off, buf, len);
    }
    free(buf);
    uint8_t *back = malloc(size);
    ck_assert_int_eq(b->read(b->opaque, 0, back, size), 0);
    ck_assert(memcmp(back, model, size) == 0);
    free(back);
}

START_TEST(snapshot_keeps_base)
{
    const char *f = path("base.raw");
    size_t size = 1 << 20;
    uint8_t *model = malloc(size);
    fill(model, size, 3);
    write_file(f, model, size);
    char before[65], after[65];
    sha256(f, before);
    struct block_backend *b = open_ok(f, BLOCK_FMT_AUTO, false, true);
    ck_assert(!b->read_only);
    scribble(b, model, size, 11, 200, 70000);
    ck_assert_int_eq(b->flush(b->opaque), 0);
    block_close(b);
    sha256(f, after);
    ck_assert_str_eq(before, after);
    free(model);
}
END_TEST

/* qemu-img create, Umbra writes, qemu-img check and convert agree. */
static uint64_t refcount_table_offset(const char *img)
{
    size_t n;
    uint8_t *h = read_file(img, &n);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h[48 + i];
    free(h);
    return v;
}

/* Returns whether the refcount table moved (had to grow). */
static bool qcow2_roundtrip(const char *opts, size_t size, int writes, size_t maxlen)
{
    const char *img = path("t.qcow2"), *raw = path("t.raw");
    ck_assert_int_eq(run("qemu-img create -f qcow2 -o %s t.qcow2 %zu", opts, size), 0);
    uint64_t rt_before = refcount_table_offset(img);
    uint8_t *model = calloc(1, size);
    struct block_backend *b = open_ok(img, BLOCK_FMT_AUTO, false, false);
    ck_assert_uint_eq(b->size, size);
    scribble(b, model, size, 5, writes, maxlen);
    ck_assert_int_eq(b->flush(b->opaque), 0);
    block_close(b);
    ck_assert_int_eq(run("qemu-img check t.qcow2"), 0);
    ck_assert_int_eq(run("qemu-img convert -f qcow2 -O raw t.qcow2 t.raw"), 0);
    size_t n;
    uint8_t *out = read_file(raw, &n);
    ck_assert_uint_eq(n, size);
    ck_assert(memcmp(out, model, size) == 0);
    free(out);
    /* And Umbra reads its own image back the same after reopening. */
    b = open_ok(img, BLOCK_FMT_QCOW2, true, false);
    uint8_t *back = malloc(size);
    ck_assert_int_eq(b->read(b->opaque, 0, back, size), 0);
    ck_assert(memcmp(back, model, size) == 0);
    block_close(b);
    free(back);
    free(model);
    return refcount_table_offset(img) != rt_before;
}

START_TEST(qcow2_v3_written_by_umbra)
{
    qcow2_roundtrip("compat=1.1", 64 << 20, 300, 200000);
}
END_TEST

START_TEST(qcow2_v2_written_by_umbra)
{
    qcow2_roundtrip("compat=0.10", 64 << 20, 300, 200000);
}
END_TEST

START_TEST(qcow2_tiny_clusters_grow_refcounts)
{
    /* 512-byte clusters: a refcount block covers 128 KiB and the first
     * refcount table 8 MiB of file, so both must grow. */
    ck_assert(qcow2_roundtrip("compat=1.1,cluster_size=512", 12 << 20, 400, 65536));
}
END_TEST

START_TEST(qcow2_refcount_order_1)
{
    qcow2_roundtrip("compat=1.1,cluster_size=4096,refcount_bits=2", 4 << 20, 100, 20000);
}
END_TEST

START_TEST(qcow2_backing_and_zero_clusters)
{
    const char *base = path("base.raw"), *ov = path("ov.qcow2");
    size_t bsize = 4 << 20, size = 8 << 20;
    uint8_t *model = calloc(1, size);
    fill(model, bsize, 9);
    write_file(base, model, bsize);
    char before[65], after[65];
    sha256(base, before);
    ck_assert_int_eq(run("qemu-img create -f qcow2 -b base.raw -F raw ov.qcow2 %zu", size), 0);
    ck_assert_int_eq(run("qemu-io -f qcow2 -c 'write -P 0xab 1M 64k' -c 'write -z 2M 128k' "
                         "-c 'write -P 0xcd 6M 4k' ov.qcow2"),
                     0);
    memset(model + (1 << 20), 0xab, 65536);
    memset(model + (2 << 20), 0, 131072);
    memset(model + (6 << 20), 0xcd, 4096);
    struct block_backend *b = open_ok(ov, BLOCK_FMT_AUTO, false, false);
    ck_assert_uint_eq(b->size, size);
    uint8_t *back = malloc(size);
    ck_assert_int_eq(b->read(b->opaque, 0, back, size), 0);
    ck_assert(memcmp(back, model, size) == 0);
    /* Partial writes into unallocated clusters copy from the backing file;
     * into zero clusters they keep the zeroes around them. */
    uint8_t w[100];
    fill(w, sizeof w, 77);
    size_t offs[] = {(3 << 20) + 10, (2 << 20) + 5000, (5 << 20) + 1, bsize - 50};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(b->write(b->opaque, offs[i], w, sizeof w), 0);
        memcpy(model + offs[i], w, sizeof w);
    }
    ck_assert_int_eq(b->read(b->opaque, 0, back, size), 0);
    ck_assert(memcmp(back, model, size) == 0);
    block_close(b);
    ck_assert_int_eq(run("qemu-img check ov.qcow2"), 0);
    ck_assert_int_eq(run("qemu-img convert -O raw ov.qcow2 out.raw"), 0);
    size_t n;
    uint8_t *out = read_file(path("out.raw"), &n);
    ck_assert_uint_eq(n, size);
    ck_assert(memcmp(out, model, size) == 0);
    free(out);
    sha256(base, after);
    ck_assert_str_eq(before, after);
    /* A qcow2 backing a qcow2: the chain reads through. */
    ck_assert_int_eq(run("qemu-img create -f qcow2 -b ov.qcow2 -F qcow2 top.qcow2"), 0);
    b = open_ok(path("top.qcow2"), BLOCK_FMT_AUTO, false, false);
    ck_assert_int_eq(b->read(b->opaque, 0, back, size), 0);
    ck_assert(memcmp(back, model, size) == 0);
    block_close(b);
    free(back);
    free(model);
}
END_TEST

START_TEST(snapshot_over_qcow2)
{
    const char *img = path("s.qcow2");
    size_t size = 2 << 20;
    ck_assert_int_eq(run("qemu-img create -f qcow2 s.qcow2 %zu", size), 0);
    ck_assert_int_eq(run("qemu-io -f qcow2 -c 'write -P 0x11 0 1M' s.qcow2"), 0);
    char before[65], after[65];
    sha256(img, before);
    uint8_t *model = calloc(1, size);
    memset(model, 0x11, 1 << 20);
    struct block_backend *b = open_ok(img, BLOCK_FMT_AUTO, false, true);
    scribble(b, model, size, 21, 100, 30000);
    block_close(b);
    sha256(img, after);
    ck_assert_str_eq(before, after);
    free(model);
}
END_TEST

static void patch(const char *file, long off, const void *bytes, size_t n)
{
    int fd = open(file, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, bytes, n, off), (ssize_t)n);
    close(fd);
}

START_TEST(bad_images_refused)
{
    ck_assert_int_eq(run("qemu-img create -f qcow2 good.qcow2 16M"), 0);
    ck_assert_int_eq(run("qemu-io -f qcow2 -c 'write -P 0x22 0 1M' good.qcow2"), 0);
    /* Truncated header. */
    ck_assert_int_eq(run("head -c 50 good.qcow2 > trunc.qcow2"), 0);
    expect_refused(path("trunc.qcow2"), "truncated header");
    /* Truncated tables: the L2 tables or the L1 point past the end. */
    ck_assert_int_eq(run("head -c 200000 good.qcow2 > short.qcow2"), 0);
    expect_refused(path("short.qcow2"), "truncated tables");
    ck_assert_int_eq(run("cp good.qcow2 l1.qcow2"), 0);
    uint8_t far[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    patch(path("l1.qcow2"), 40, far, 8);
    expect_refused(path("l1.qcow2"), "L1 beyond the file");
    ck_assert_int_eq(run("cp good.qcow2 mis.qcow2"), 0);
    uint8_t odd[8] = {0, 0, 0, 0, 0, 0, 0x12, 0x34};
    patch(path("mis.qcow2"), 48, odd, 8);
    expect_refused(path("mis.qcow2"), "misaligned refcount table");
    /* Encryption, version 4, a dirty v3 image, unknown incompatible bits. */
    ck_assert_int_eq(run("cp good.qcow2 enc.qcow2"), 0);
    uint8_t one[4] = {0, 0, 0, 1};
    patch(path("enc.qcow2"), 32, one, 4);
    expect_refused(path("enc.qcow2"), "encrypted");
    ck_assert_int_eq(run("cp good.qcow2 v4.qcow2"), 0);
    uint8_t four[4] = {0, 0, 0, 4};
    patch(path("v4.qcow2"), 4, four, 4);
    expect_refused(path("v4.qcow2"), "version 4");
    ck_assert_int_eq(run("cp good.qcow2 dirty.qcow2"), 0);
    uint8_t dirty[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    patch(path("dirty.qcow2"), 72, dirty, 8);
    expect_refused(path("dirty.qcow2"), "dirty");
    uint8_t unknown[8] = {0, 0, 0, 0, 0, 0, 1, 0};
    patch(path("dirty.qcow2"), 72, unknown, 8);
    expect_refused(path("dirty.qcow2"), "unknown incompatible feature");
    /* Compressed clusters. */
    ck_assert_int_eq(run("qemu-img convert -c -O qcow2 good.qcow2 comp.qcow2"), 0);
    expect_refused(path("comp.qcow2"), "compressed");
    /* A missing backing file. */
    ck_assert_int_eq(run("qemu-img create -f qcow2 -b gone.raw -F raw -u orphan.qcow2 1M"), 0);
    expect_refused(path("orphan.qcow2"), "missing backing file");
    /* The good one still opens. */
    block_close(open_ok(path("good.qcow2"), BLOCK_FMT_AUTO, false, false));
}
END_TEST

/* A persistent dirty bitmap (an auto-clear feature Umbra does not keep):
 * its bit is cleared before Umbra writes, so QEMU will not trust a bitmap
 * that missed the writes; the data itself is intact. */
START_TEST(qcow2_autoclear_bitmaps)
{
    ck_assert_int_eq(run("qemu-img create -f qcow2 bm.qcow2 4M"), 0);
    ck_assert_int_eq(run("qemu-img bitmap --add bm.qcow2 b0"), 0);
    size_t n;
    uint8_t *h = read_file(path("bm.qcow2"), &n);
    ck_assert_uint_ne(h[95] & 1, 0);
    free(h);
    struct block_backend *b = open_ok(path("bm.qcow2"), BLOCK_FMT_AUTO, false, false);
    uint8_t w[4096];
    fill(w, sizeof w, 5);
    ck_assert_int_eq(b->write(b->opaque, 8192, w, sizeof w), 0);
    block_close(b);
    h = read_file(path("bm.qcow2"), &n);
    for (int i = 88; i < 96; i++)
        ck_assert_uint_eq(h[i], 0);
    free(h);
    int rc = run("qemu-img check bm.qcow2");
    ck_assert_msg(rc == 0 || rc == 3, "qemu-img check: %d (only leaks are acceptable)", rc);
    ck_assert_int_eq(run("qemu-img convert -O raw bm.qcow2 bm.raw"), 0);
    uint8_t *out = read_file(path("bm.raw"), &n);
    ck_assert_mem_eq(out + 8192, w, sizeof w);
    free(out);
}
END_TEST

/* Random damage to the metadata of a small image: each result is either
 * refused at open, or reads and writes without harming the host. */
START_TEST(qcow2_metadata_fuzz)
{
    ck_assert_int_eq(run("qemu-img create -f qcow2 -o cluster_size=4096 f.qcow2 1M"), 0);
    ck_assert_int_eq(run("qemu-io -f qcow2 -c 'write -P 0x5 0 300k' -c 'write -z 512k 64k' "
                         "f.qcow2"),
                     0);
    size_t n;
    uint8_t *good = read_file(path("f.qcow2"), &n);
    uint8_t *img = malloc(n), *buf = malloc(1 << 20);
    srand(99);
    int opened = 0;
    for (int round = 0; round < 300; round++) {
        memcpy(img, good, n);
        /* Metadata lives in the first few clusters (header, L1, refcounts, L2). */
        int hits = 1 + rand() % 4;
        for (int h = 0; h < hits; h++) {
            size_t at = (size_t)rand() % (n < 5 * 4096 ? n : 5 * 4096);
            img[at] ^= (uint8_t)(1u << (rand() % 8));
        }
        write_file(path("z.qcow2"), img, n);
        char err[512] = "";
        struct block_options o = {path("z.qcow2"), BLOCK_FMT_QCOW2, false, false};
        struct block_backend *b = block_open(&o, err, sizeof err);
        if (!b) {
            ck_assert_msg(strstr(err, "z.qcow2") != NULL, "message without the file: %s", err);
            continue;
        }
        opened++;
        uint64_t size = b->size < (1 << 20) ? b->size : (1 << 20);
        b->read(b->opaque, 0, buf, size);
        if (size > 8192) {
            memset(buf, 0x77, 8192);
            b->write(b->opaque, size / 2, buf, 8192);
            b->read(b->opaque, size / 2, buf, 8192);
        }
        block_close(b);
    }
    ck_assert_int_gt(opened, 0); /* damage to data-irrelevant bytes still opens */
    free(img);
    free(buf);
    free(good);
}
END_TEST

static Suite *block_suite(void)
{
    Suite *s = suite_create("block");
    TCase *t = tcase_create("images");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_set_timeout(t, 120);
    tcase_add_test(t, raw_read_write_flush);
    tcase_add_test(t, snapshot_keeps_base);
    tcase_add_test(t, qcow2_v3_written_by_umbra);
    tcase_add_test(t, qcow2_v2_written_by_umbra);
    tcase_add_test(t, qcow2_tiny_clusters_grow_refcounts);
    tcase_add_test(t, qcow2_refcount_order_1);
    tcase_add_test(t, qcow2_backing_and_zero_clusters);
    tcase_add_test(t, snapshot_over_qcow2);
    tcase_add_test(t, bad_images_refused);
    tcase_add_test(t, qcow2_metadata_fuzz);
    tcase_add_test(t, qcow2_autoclear_bitmaps);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(block_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
