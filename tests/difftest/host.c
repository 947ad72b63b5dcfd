/*
 * host.c — driving difftest_native, the 32-bit helper that runs sequences on
 * the host CPU (see native.c for what happens on its side).
 *
 * The request and the result live in a shared memory block (a memfd the
 * helper inherits); a pipe pair carries one byte per request and per reply.
 * The helper catches every exception a sequence can raise, so it should never
 * die; if it does anyway (a sequence that escapes the sandbox the generator
 * built), the run is reported as not ok and the helper is restarted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "difftest.h"

struct dt_host {
    char *path;
    int shm_fd;
    struct dt_shm *shm;
    pid_t pid;
    int to_child, from_child;
};

static bool spawn(struct dt_host *h)
{
    int down[2], up[2];
    if (pipe(down) || pipe(up))
        return false;
    h->shm->magic = 0;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        close(down[1]);
        close(up[0]);
        char a[3][16];
        snprintf(a[0], sizeof a[0], "%d", h->shm_fd);
        snprintf(a[1], sizeof a[1], "%d", down[0]);
        snprintf(a[2], sizeof a[2], "%d", up[1]);
        execl(h->path, h->path, a[0], a[1], a[2], (char *)NULL);
        fprintf(stderr, "difftest: cannot run %s: %s\n", h->path, strerror(errno));
        _exit(127);
    }
    close(down[0]);
    close(up[1]);
    h->pid = pid;
    h->to_child = down[1];
    h->from_child = up[0];
    char c;
    if (read(h->from_child, &c, 1) != 1 || c != 'R' || h->shm->magic != DT_MAGIC) {
        fprintf(stderr, "difftest: the native helper %s did not start\n", h->path);
        return false;
    }
    return true;
}

static void reap(struct dt_host *h)
{
    if (h->pid <= 0)
        return;
    close(h->to_child);
    close(h->from_child);
    kill(h->pid, SIGKILL);
    waitpid(h->pid, NULL, 0);
    h->pid = -1;
}

struct dt_host *dt_host_start(const char *helper_path)
{
    signal(SIGPIPE, SIG_IGN);
    struct dt_host *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->path = strdup(helper_path);
    h->shm_fd = memfd_create("difftest", 0);
    if (h->shm_fd < 0 || ftruncate(h->shm_fd, sizeof(struct dt_shm))) {
        perror("difftest: memfd");
        free(h);
        return NULL;
    }
    h->shm = mmap(NULL, sizeof(struct dt_shm), PROT_READ | PROT_WRITE, MAP_SHARED, h->shm_fd, 0);
    if (h->shm == MAP_FAILED || !spawn(h)) {
        free(h);
        return NULL;
    }
    return h;
}

void dt_host_stop(struct dt_host *h)
{
    if (!h)
        return;
    if (h->pid > 0) {
        char c = 'Q';
        if (write(h->to_child, &c, 1) == 1)
            waitpid(h->pid, NULL, 0);
        close(h->to_child);
        close(h->from_child);
    }
    munmap(h->shm, sizeof(struct dt_shm));
    close(h->shm_fd);
    free(h->path);
    free(h);
}

bool dt_host_low_ok(const struct dt_host *h) { return h->shm->low_ok; }
const uint16_t *dt_host_sregs(const struct dt_host *h) { return h->shm->host_sreg; }

void dt_host_run(struct dt_host *h, struct dt_run *r)
{
    struct dt_shm *s = h->shm;
    r->ok = false;
    if (h->pid <= 0 && !spawn(h)) {
        snprintf(r->why, sizeof r->why, "native helper not running");
        return;
    }
    s->flags = r->use_low ? DT_F_USE_LOW : 0;
    s->code_len = r->code_len;
    s->code_addr = r->code_addr;
    memcpy(s->code, r->code, r->code_len);
    s->in = r->in;
    memcpy(s->data, r->data_in, DT_DATA_SIZE);
    if (r->use_low)
        memcpy(s->low, r->low_in, DT_LOW_SIZE);
    char c = 'G';
    if (write(h->to_child, &c, 1) != 1 || read(h->from_child, &c, 1) != 1 || c != 'D') {
        snprintf(r->why, sizeof r->why, "native helper died");
        reap(h);
        return;
    }
    r->out = s->out;
    memcpy(r->data, s->data, DT_DATA_SIZE);
    if (r->use_low)
        memcpy(r->low, s->low, DT_LOW_SIZE);
    r->ok = true;
}
