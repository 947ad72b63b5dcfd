/*
 * net_slirp.c — the user-mode network backend over libslirp (-netdev user).
 *
 * libslirp owns no thread and no clock: it asks the application for the time
 * (clock_get_ns), for timers (timer_new_opaque/timer_mod) and to poll its
 * host sockets (slirp_pollfds_fill/poll).  Time and timers come from the
 * machine's struct clock, so under -icount the guest's TCP timers and DHCP
 * leases run on guest time like every device; the sockets are polled from
 * the run loop through net_backend.poll.
 *
 * Frames for the guest are queued here and handed over only from poll, never
 * from inside slirp_input: the NIC is in the middle of transmitting when it
 * calls send, and a receive re-entering it there is the kind of path device
 * code does not expect.  The queue also holds frames while the NIC has no
 * room (can_receive false); past NET_SLIRP_QUEUE frames the ones already
 * waiting are kept and new ones dropped, as a full wire would lose them.
 */
#define _GNU_SOURCE /* ppoll: waits shorter than a millisecond */
#include "frontends/net_slirp.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *net_user_resolve(struct net_user_config *c)
{
    if (!c->net) c->net = 0x0a000200; /* 10.0.2.0 */
    if (!c->mask) c->mask = 0xffffff00;
    c->net &= c->mask;
    if (!c->host) c->host = c->net | 2;
    if (!c->dns) c->dns = c->net | 3;
    if (!c->dhcp_start) c->dhcp_start = c->net | 15;
    if ((c->host & c->mask) != c->net) return "host= is outside net=";
    if ((c->dns & c->mask) != c->net) return "dns= is outside net=";
    if ((c->dhcp_start & c->mask) != c->net) return "dhcpstart= is outside net=";
    for (unsigned i = 0; i < c->nhostfwd; i++)
        if (!c->hostfwd[i].guest_addr) c->hostfwd[i].guest_addr = c->dhcp_start;
    return NULL;
}

#ifndef UMBRA_HAVE_SLIRP

bool net_slirp_available(void) { return false; }

struct net_slirp *net_slirp_open(const struct net_user_config *cfg, char *err, size_t errlen)
{
    snprintf(err, errlen, "-netdev/-nic/-net user: this Umbra was built without libslirp (UMBRA_SLIRP=OFF)");
    return NULL;
}
bool net_slirp_start(struct net_slirp *s, struct clock *clock, char *err, size_t errlen)
{
    return false;
}
struct net_backend *net_slirp_backend(struct net_slirp *s) { return NULL; }
void net_slirp_set_client(struct net_slirp *s, struct net_client client) {}
void net_slirp_close(struct net_slirp *s) {}

#else

#include <poll.h>
#include <slirp/libslirp.h>
#include <time.h>

#define NET_SLIRP_QUEUE 128
#define NET_SLIRP_FRAME 2048 /* above the default MRU (1500) plus headers */

struct net_slirp_timer {
    struct clock_timer t;
    struct net_slirp *s;
    SlirpTimerId id;
    void *cb_opaque;
    SlirpTimerCb cb; /* the older timer_new interface; NULL with timer_new_opaque */
};

struct net_slirp {
    struct net_backend be;
    struct net_client client;
    bool have_client;
    Slirp *slirp;
    struct clock *clock;
    SlirpCb cb;
    struct net_user_config cfg; /* resolved */

    struct pollfd *fds;
    size_t nfds, capfds;

    /* Frames for the guest: a ring of fixed slots. */
    uint8_t (*q)[NET_SLIRP_FRAME];
    uint16_t qlen[NET_SLIRP_QUEUE];
    unsigned qhead, qcount;
    uint64_t dropped;
};

bool net_slirp_available(void) { return true; }

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_slirp *s = opaque;
    if (len > NET_SLIRP_FRAME || s->qcount == NET_SLIRP_QUEUE) {
        s->dropped++;
        return (ssize_t)len; /* lost on the wire, as far as slirp can tell */
    }
    unsigned slot = (s->qhead + s->qcount) % NET_SLIRP_QUEUE;
    memcpy(s->q[slot], buf, len);
    s->qlen[slot] = (uint16_t)len;
    s->qcount++;
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    /* libslirp reports malformed guest packets here; they are dropped,
     * which is what a real router does. */
    (void)msg;
}

static int64_t cb_clock_get_ns(void *opaque)
{
    struct net_slirp *s = opaque;
    return (int64_t)clock_now_ns(s->clock);
}

static void timer_fire(void *opaque)
{
    struct net_slirp_timer *t = opaque;
    if (t->cb)
        t->cb(t->cb_opaque);
    else
        slirp_handle_timer(t->s->slirp, t->id, t->cb_opaque);
}

static struct net_slirp_timer *timer_alloc(struct net_slirp *s)
{
    struct net_slirp_timer *t = calloc(1, sizeof *t);
    if (!t) abort();
    t->s = s;
    clock_timer_init(&t->t, s->clock, timer_fire, t, "slirp");
    return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct net_slirp_timer *t = timer_alloc(opaque);
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct net_slirp_timer *t = timer_alloc(opaque);
    t->id = id;
    t->cb_opaque = cb_opaque;
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct net_slirp_timer *t = timer;
    clock_timer_cancel(&t->t);
    free(t);
}

/* expire_time is in milliseconds of the clock clock_get_ns reports. */
static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    struct net_slirp_timer *t = timer;
    clock_timer_arm(&t->t, expire_ms < 0 ? 0 : (uint64_t)expire_ms * 1000000u);
}

/* Sockets are polled from net_backend.poll every time, so there is no
 * separate registry to keep. */
static void cb_register_poll_fd(int fd, void *opaque) {}
static void cb_unregister_poll_fd(int fd, void *opaque) {}
static void cb_notify(void *opaque) {}

static int cb_add_poll(int fd, int events, void *opaque)
{
    struct net_slirp *s = opaque;
    if (s->nfds == s->capfds) {
        size_t cap = s->capfds ? s->capfds * 2 : 16;
        struct pollfd *n = realloc(s->fds, cap * sizeof *n);
        if (!n) abort();
        s->fds = n;
        s->capfds = cap;
    }
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    s->fds[s->nfds] = (struct pollfd){.fd = fd, .events = ev};
    return (int)s->nfds++;
}

static int cb_get_revents(int idx, void *opaque)
{
    struct net_slirp *s = opaque;
    if (idx < 0 || (size_t)idx >= s->nfds) return 0;
    short rev = s->fds[idx].revents;
    int r = 0;
    if (rev & POLLIN) r |= SLIRP_POLL_IN;
    if (rev & POLLOUT) r |= SLIRP_POLL_OUT;
    if (rev & POLLPRI) r |= SLIRP_POLL_PRI;
    if (rev & (POLLERR | POLLNVAL)) r |= SLIRP_POLL_ERR;
    if (rev & POLLHUP) r |= SLIRP_POLL_HUP;
    return r;
}

static void deliver(struct net_slirp *s)
{
    if (!s->have_client) return;
    while (s->qcount && (!s->client.can_receive || s->client.can_receive(s->client.opaque))) {
        unsigned slot = s->qhead;
        s->qhead = (s->qhead + 1) % NET_SLIRP_QUEUE;
        s->qcount--;
        s->client.receive(s->client.opaque, s->q[slot], s->qlen[slot]);
    }
}

static void be_send(void *opaque, const uint8_t *frame, size_t len)
{
    struct net_slirp *s = opaque;
    if (!s->slirp || len > 65535) return;
    slirp_input(s->slirp, frame, (int)len);
}

static void be_poll(void *opaque, int64_t max_wait_ns)
{
    struct net_slirp *s = opaque;
    if (!s->slirp) return;
    deliver(s);
    /* Frames still waiting for the NIC are no reason to spin: only the
     * guest can make room, and while it runs the loop polls every ~1 ms. */
    if (max_wait_ns < 0) max_wait_ns = 0;
    uint32_t timeout_ms = (uint32_t)((max_wait_ns + 999999) / 1000000);
    s->nfds = 0;
    slirp_pollfds_fill(s->slirp, &timeout_ms, cb_add_poll, s);
    int64_t wait = (int64_t)timeout_ms * 1000000;
    if (wait > max_wait_ns) wait = max_wait_ns;
    struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
    int n = ppoll(s->fds, s->nfds, &ts, NULL);
    if (n < 0)
        for (size_t i = 0; i < s->nfds; i++) s->fds[i].revents = 0;
    slirp_pollfds_poll(s->slirp, n < 0, cb_get_revents, s);
    deliver(s);
}

struct net_slirp *net_slirp_open(const struct net_user_config *cfg, char *err, size_t errlen)
{
    struct net_user_config c = *cfg;
    const char *why = net_user_resolve(&c);
    if (why) {
        snprintf(err, errlen, "-netdev user: %s", why);
        return NULL;
    }
    struct net_slirp *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->q = malloc(NET_SLIRP_QUEUE * sizeof *s->q);
    if (!s->q) abort();
    s->cfg = c;
    s->be = (struct net_backend){s, be_send, be_poll};
    return s;
}

bool net_slirp_start(struct net_slirp *s, struct clock *clock, char *err, size_t errlen)
{
    const struct net_user_config *c = &s->cfg;
    s->clock = clock;
    s->cb = (SlirpCb){
        .send_packet = cb_send_packet,
        .guest_error = cb_guest_error,
        .clock_get_ns = cb_clock_get_ns,
        .timer_new = cb_timer_new,
        .timer_free = cb_timer_free,
        .timer_mod = cb_timer_mod,
        .register_poll_fd = cb_register_poll_fd,
        .unregister_poll_fd = cb_unregister_poll_fd,
        .notify = cb_notify,
        .timer_new_opaque = cb_timer_new_opaque,
    };
    SlirpConfig sc = {
        .version = 4,
        .restricted = c->restrict_,
        .in_enabled = true,
        .vnetwork = {htonl(c->net)},
        .vnetmask = {htonl(c->mask)},
        .vhost = {htonl(c->host)},
        .in6_enabled = false,
        .vhostname = c->hostname,
        .tftp_path = c->tftp,
        .bootfile = c->bootfile,
        .vdhcp_start = {htonl(c->dhcp_start)},
        .vnameserver = {htonl(c->dns)},
    };
    s->slirp = slirp_new(&sc, &s->cb, s);
    if (!s->slirp) {
        snprintf(err, errlen, "-netdev user: libslirp refused the configuration");
        return false;
    }
    for (unsigned i = 0; i < c->nhostfwd; i++) {
        const struct net_hostfwd *f = &c->hostfwd[i];
        struct in_addr ha = {htonl(f->host_addr)}, ga = {htonl(f->guest_addr)};
        if (slirp_add_hostfwd(s->slirp, f->udp, ha, f->host_port, ga, f->guest_port) < 0) {
            snprintf(err, errlen, "-netdev user: hostfwd %s port %u: cannot listen on the host",
                     f->udp ? "udp" : "tcp", f->host_port);
            return false;
        }
    }
    return true;
}

struct net_backend *net_slirp_backend(struct net_slirp *s) { return &s->be; }

void net_slirp_set_client(struct net_slirp *s, struct net_client client)
{
    s->client = client;
    s->have_client = client.receive != NULL;
}

void net_slirp_close(struct net_slirp *s)
{
    if (!s) return;
    if (s->slirp) slirp_cleanup(s->slirp); /* frees its timers through timer_free */
    free(s->fds);
    free(s->q);
    free(s);
}

#endif
