/*
 * chardev.h — host backends for a UART (struct chardev in devices/machine.h):
 * stdio, file:PATH, null.
 */
#ifndef UMBRA_FRONTENDS_CHARDEV_H
#define UMBRA_FRONTENDS_CHARDEV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <termios.h>

#include "devices/machine.h"
#include "frontends/cmdline.h"

#define CHARDEV_RING 4096

struct host_chardev {
    struct chardev be; /* handed to the machine (be.write == NULL: no backend) */
    enum serial_kind kind;
    int out_fd; /* -1: output discarded */
    bool owns_fd;

    /* stdio input: a reader thread fills the ring; be.read drains it. */
    bool reader_running;
    pthread_t reader;
    pthread_mutex_t lock;
    uint8_t ring[CHARDEV_RING];
    size_t head, count;
    atomic_bool stop;
    bool mux;    /* Ctrl-A escapes (-nographic, mon:stdio) */
    bool escape; /* Ctrl-A seen (reader thread only) */

    bool tty_raw; /* stdin's termios changed; saved holds the original */
    struct termios saved;

    /* Ctrl-A X; called from the reader thread. */
    void (*quit)(void *opaque);
    void *quit_opaque;
};

/* Open the backend for kind (SERIAL_DEFAULT behaves as stdio).  mux enables
 * the Ctrl-A escapes and, on a TTY, keeps Ctrl-C for the guest (QEMU's
 * -nographic).  quit is called on Ctrl-A X.  Returns 0, or -1 with err set. */
int chardev_open(struct host_chardev *c, enum serial_kind kind, const char *path, bool mux,
                 void (*quit)(void *opaque), void *quit_opaque, char *err, size_t errlen);
void chardev_close(struct host_chardev *c);
/* Put the terminal back; async-signal-safe (for a fatal-signal handler). */
void chardev_restore_tty(const struct host_chardev *c);

#endif
