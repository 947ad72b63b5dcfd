/*
 * image.h — what the image formats behind block_open() share (frontends/
 * only): every opened image is a struct image whose first member is the
 * block backend the device sees, with its own way to close.
 */
#ifndef UMBRA_FRONTEND_IMAGE_H
#define UMBRA_FRONTEND_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/block.h"

struct image {
    struct block_backend be; /* first: block_close() casts back */
    void (*close)(struct image *img);
};

/* A raw file (fd is adopted); NULL if out of memory. */
struct image *raw_image_new(int fd, uint64_t size, bool read_only);
/* A qcow2 file (fd is adopted on success), validated before it is used. */
struct image *qcow2_open(const char *path, int fd, bool read_only, char *err, size_t errlen);
/* Every write to `base` goes to a temporary file that disappears with the
 * process; base is only read.  Adopts base on success. */
struct image *overlay_open(struct image *base, const char *name, char *err, size_t errlen);
void image_close(struct image *img);

/* pread/pwrite of the whole length (EINTR and short transfers retried);
 * reads past the end of the file give zeroes.  0 or -errno. */
int image_pread(int fd, void *buf, size_t len, uint64_t off);
int image_pwrite(int fd, const void *buf, size_t len, uint64_t off);

#endif
