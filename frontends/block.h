/*
 * block.h — opening disk images as block backends (devices/block.h) for
 * -hda/-cdrom/-fda/-drive: format probing, read-only and -snapshot.
 */
#ifndef UMBRA_FRONTEND_BLOCK_H
#define UMBRA_FRONTEND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/block.h"

enum block_format { BLOCK_FMT_AUTO, BLOCK_FMT_RAW, BLOCK_FMT_QCOW2 };

struct block_options {
    const char *path;
    enum block_format format;
    bool read_only; /* the guest may not write (CD-ROMs, readonly=on) */
    bool snapshot;  /* guest writes go to a temporary overlay, never to path */
};

/* Open an image; NULL with a one-line message naming the file in err. */
struct block_backend *block_open(const struct block_options *o, char *err, size_t errlen);
/* Flush and release (NULL is fine). */
void block_close(struct block_backend *b);

#endif
