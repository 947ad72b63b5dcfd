/*
 * chardev.c — character backends for the UARTs: stdio, file:PATH, null.
 *
 * Output is written straight to the file descriptor (no stdio buffering),
 * so a guest's console line appears the moment the UART transmits it and
 * interleaves correctly with Umbra's own stderr messages.
 *
 * stdio input is read by a small thread into a ring that the UART drains
 * without blocking.  The thread is there for one reason: Ctrl-A X must quit
 * even when the guest never looks at its serial port (a hung guest is when
 * one reaches for it).  On a TTY stdin goes raw as QEMU does it (no echo, no
 * line editing, output post-processing kept so "\n" still returns the
 * carriage); with -nographic Ctrl-C goes to the guest too, and the original
 * termios is restored at close or by main's fatal-signal handler.
 */
#include "frontends/chardev.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CTRL_A 0x01
#define POLL_MS 100 /* how long close() may wait for the reader thread */

static void write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, -1);
                continue;
            }
            return; /* EPIPE and friends: the reader went away; drop output */
        }
        buf += n;
        len -= (size_t)n;
    }
}

static void fd_write(void *opaque, const uint8_t *buf, size_t len)
{
    struct host_chardev *c = opaque;
    if (c->out_fd >= 0) write_all(c->out_fd, buf, len);
}

static size_t ring_read(void *opaque, uint8_t *buf, size_t len)
{
    struct host_chardev *c = opaque;
    pthread_mutex_lock(&c->lock);
    size_t n = 0;
    while (n < len && c->count) {
        buf[n++] = c->ring[c->head];
        c->head = (c->head + 1) % CHARDEV_RING;
        c->count--;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void ring_put(struct host_chardev *c, uint8_t b)
{
    pthread_mutex_lock(&c->lock);
    if (c->count < CHARDEV_RING) {
        c->ring[(c->head + c->count) % CHARDEV_RING] = b;
        c->count++;
    }
    pthread_mutex_unlock(&c->lock);
}

static size_t ring_space(struct host_chardev *c)
{
    pthread_mutex_lock(&c->lock);
    size_t s = CHARDEV_RING - c->count;
    pthread_mutex_unlock(&c->lock);
    return s;
}

static void escape_help(struct host_chardev *c)
{
    static const char help[] = "\r\nC-a h    print this help\r\n"
                               "C-a x    exit emulator\r\n"
                               "C-a C-a  sends C-a\r\n";
    write_all(STDOUT_FILENO, (const uint8_t *)help, sizeof help - 1);
}

/* QEMU's mux escapes: Ctrl-A then a command letter. */
static void input_byte(struct host_chardev *c, uint8_t b)
{
    if (!c->mux) {
        ring_put(c, b);
        return;
    }
    if (!c->escape) {
        if (b == CTRL_A)
            c->escape = true;
        else
            ring_put(c, b);
        return;
    }
    c->escape = false;
    switch (b) {
    case 'x':
    case 'X': {
        static const char msg[] = "\r\numbra: terminated\r\n";
        write_all(STDERR_FILENO, (const uint8_t *)msg, sizeof msg - 1);
        if (c->quit) c->quit(c->quit_opaque);
        break;
    }
    case 'h':
    case 'H':
    case '?':
        escape_help(c);
        break;
    case CTRL_A:
    case 'a':
        ring_put(c, CTRL_A);
        break;
    default:
        break; /* unknown escapes are swallowed, as in QEMU */
    }
}

static void *reader_main(void *opaque)
{
    struct host_chardev *c = opaque;
    uint8_t buf[256];
    while (!atomic_load(&c->stop)) {
        size_t space = ring_space(c);
        if (space == 0) { /* the guest is not reading: leave input in the kernel */
            poll(NULL, 0, POLL_MS);
            continue;
        }
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int r = poll(&p, 1, POLL_MS);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        ssize_t n = read(STDIN_FILENO, buf, space < sizeof buf ? space : sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break; /* end of input: the guest just sees no more bytes */
        for (ssize_t i = 0; i < n; i++)
            input_byte(c, buf[i]);
    }
    return NULL;
}

static void make_raw(struct host_chardev *c)
{
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &c->saved) != 0) return;
    struct termios t = c->saved;
    /* QEMU's qemu_chr_set_echo_stdio(): raw input, cooked output. */
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
    if (c->mux) t.c_lflag &= ~(tcflag_t)ISIG;
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) c->tty_raw = true;
}

int chardev_open(struct host_chardev *c, enum serial_kind kind, const char *path, bool mux,
                 void (*quit)(void *opaque), void *quit_opaque, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->out_fd = -1;
    c->quit = quit;
    c->quit_opaque = quit_opaque;
    atomic_init(&c->stop, false);
    c->be.opaque = c;

    switch (kind) {
    case SERIAL_NONE:
        return 0; /* no backend: be.write stays NULL */
    case SERIAL_NULL:
        c->be.write = fd_write;
        return 0;
    case SERIAL_FILE: {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            snprintf(err, errlen, "-serial: cannot open '%s': %s", path, strerror(errno));
            return -1;
        }
        c->out_fd = fd;
        c->owns_fd = true;
        c->be.write = fd_write;
        return 0;
    }
    case SERIAL_DEFAULT:
    case SERIAL_STDIO:
        break;
    }

    c->out_fd = STDOUT_FILENO;
    c->mux = mux;
    c->be.write = fd_write;
    c->be.read = ring_read;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        snprintf(err, errlen, "-serial: stdio: cannot create a mutex");
        return -1;
    }
    make_raw(c);
    int e = pthread_create(&c->reader, NULL, reader_main, c);
    if (e) {
        chardev_restore_tty(c);
        c->tty_raw = false;
        pthread_mutex_destroy(&c->lock);
        snprintf(err, errlen, "-serial: stdio: cannot start the input thread: %s", strerror(e));
        return -1;
    }
    c->reader_running = true;
    return 0;
}

void chardev_restore_tty(const struct host_chardev *c)
{
    if (c->tty_raw) tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
}

void chardev_close(struct host_chardev *c)
{
    if (c->reader_running) {
        atomic_store(&c->stop, true);
        pthread_join(c->reader, NULL);
        pthread_mutex_destroy(&c->lock);
        c->reader_running = false;
    }
    chardev_restore_tty(c);
    c->tty_raw = false;
    if (c->owns_fd) close(c->out_fd);
    c->out_fd = -1;
    c->owns_fd = false;
    c->be.write = NULL;
    c->be.read = NULL;
}
