/*
 * block.h — the block backend a disk device (IDE, ATAPI, floppy) talks to.
 * frontends/ implements it (raw files, the -snapshot overlay, qcow2); a
 * device sees only byte offsets into a flat image of `size` bytes.
 *
 * Calls are synchronous and complete before they return; a device models
 * the medium's timing itself with the clock.  Errors come back as -errno
 * and the device turns them into the hardware's error status -- a failing
 * host file never stops the emulator.
 */
#ifndef UMBRA_BLOCK_H
#define UMBRA_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block_backend {
    void *opaque;
    uint64_t size;  /* bytes the guest sees */
    bool read_only; /* writes fail with -EROFS */
    /* 0, or -errno. off + len <= size is the caller's duty. */
    int (*read)(void *opaque, uint64_t off, void *buf, size_t len);
    int (*write)(void *opaque, uint64_t off, const void *buf, size_t len);
    /* Make every acknowledged write durable (the guest's FLUSH CACHE). */
    int (*flush)(void *opaque);
};

#endif
