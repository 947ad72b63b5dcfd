/*
 * chardev.h — the character backend a UART talks to (frontends/ implements
 * it: stdio, a file, a socket).  Kept out of machine.h so that devices need
 * not include the CPU's header to see it; machine.h includes this file.
 */
#ifndef UMBRA_CHARDEV_H
#define UMBRA_CHARDEV_H

#include <stddef.h>
#include <stdint.h>

struct chardev {
    void *opaque;
    void (*write)(void *opaque, const uint8_t *buf, size_t len);
    /* Non-blocking: returns bytes read (0 if none ready). May be NULL. */
    size_t (*read)(void *opaque, uint8_t *buf, size_t len);
};

#endif
