/*
 * block.h — opening disk images as block backends (devices/block.h) for
 * -hda/-cdrom/-fda/-drive: format probing, read-only and -snapshot.
 */
#ifndef UMBRA_FRONTEND_BLOCK_H
#define UMBRA_FRONTEND_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "devices/block.h"
#include "devices/machine.h"

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

/* One drive from the command line (-hda.., -cdrom, -fda, -drive). */
struct block_drive {
    const char *path; /* NULL: an empty CD-ROM drive */
    enum block_format format;
    bool floppy;  /* if=floppy: index 0-1, else IDE index 0-3 */
    unsigned index;
    bool cdrom;   /* media=cdrom: ATAPI, read-only */
    bool read_only;
    bool snapshot; /* snapshot=on for this drive */
};

/* Open every drive into cfg->ide[] / ide_cdrom[] / floppy[] (-snapshot
 * applies to all).  On failure nothing stays open and err names the file. */
int block_open_drives(const struct block_drive *drives, size_t n, bool snapshot,
                      struct machine_config *cfg, char *err, size_t errlen);
/* Close what block_open_drives opened (flushing it). */
void block_close_drives(struct machine_config *cfg);

#endif
