/*
 * imagefile.h — reading a whole kernel, initrd or module file into memory
 * for the loaders, with one-line errors that name the file.
 */
#ifndef UMBRA_IMAGEFILE_H
#define UMBRA_IMAGEFILE_H

#include <stddef.h>
#include <stdint.h>

/* Larger than any RAM Umbra emulates: a bigger file cannot be placed. */
#define IMAGE_MAX_SIZE (1u << 30)

/* Read `path` whole into a malloc'd buffer (free it); 0, or -1 with err set. */
int image_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen);

#endif
