/*
 * test_net_slirp.c — the libslirp backend driven through its own API by a
 * fake guest that writes raw Ethernet frames: DHCP DISCOVER/REQUEST get the
 * OFFER/ACK for 10.0.2.15 with router 10.0.2.2 and DNS 10.0.2.3; an ARP for
 * 10.0.2.2 gets slirp's MAC; a TCP connection to 10.0.2.2:P reaches a socket
 * listening on the host's 127.0.0.1:P and carries data both ways; a hostfwd
 * port on the host turns a host connect() into a SYN to the guest; frames
 * wait while the NIC has no room; a UDP hostfwd delivers a host datagram;
 * TFTP serves the bootfile; restrict=on keeps the guest in.
 *
 * The clock is Umbra's own in host mode; the test plays the run loop
 * (clock_run_timers + backend poll).
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frontends/net_slirp.h"

static const uint8_t GUEST_MAC[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
#define GUEST_IP 0x0a00020f
#define HOST_IP 0x0a000202
#define DNS_IP 0x0a000203
#define XID 0x1234abcd

/* ---- the fake guest's receive queue ---- */
#define RXQ 256
struct rx {
    uint8_t frame[RXQ][2048];
    size_t len[RXQ];
    unsigned n;
    bool full; /* can_receive answers false */
};

static bool rx_can(void *o) { return !((struct rx *)o)->full; }
static void rx_recv(void *o, const uint8_t *f, size_t len)
{
    struct rx *r = o;
    ck_assert_uint_lt(r->n, RXQ);
    ck_assert_uint_le(len, sizeof r->frame[0]);
    memcpy(r->frame[r->n], f, len);
    r->len[r->n++] = len;
}

struct rig {
    struct clock clock;
    struct net_slirp *s;
    struct net_backend *be;
    struct rx rx;
    uint8_t router_mac[6];
    bool restricted;
};

static struct rig *rig_open(struct net_user_config *cfg)
{
    struct rig *g = calloc(1, sizeof *g);
    clock_init(&g->clock, false, 0);
    char err[256];
    g->s = net_slirp_open(cfg, err, sizeof err);
    ck_assert_msg(g->s != NULL, "%s", err);
    ck_assert_msg(net_slirp_start(g->s, &g->clock, err, sizeof err), "%s", err);
    g->be = net_slirp_backend(g->s);
    g->restricted = cfg->restrict_;
    net_slirp_set_client(g->s, (struct net_client){&g->rx, rx_can, rx_recv});
    return g;
}

static void rig_close(struct rig *g)
{
    net_slirp_close(g->s);
    free(g);
}

static void pump(struct rig *g, int64_t wait_ns)
{
    clock_run_timers(&g->clock);
    g->be->poll(g->be->opaque, wait_ns);
}

/* ---- frame building ---- */
static void put16(uint8_t *p, uint16_t v) { p[0] = v >> 8, p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, v >> 16), put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static uint32_t sum(const uint8_t *p, size_t len, uint32_t acc)
{
    for (size_t i = 0; i + 1 < len; i += 2) acc += get16(p + i);
    if (len & 1) acc += (uint32_t)p[len - 1] << 8;
    return acc;
}
static uint16_t fold(uint32_t acc)
{
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (uint16_t)~acc;
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, GUEST_MAC, 6);
    put16(f + 12, type);
    return 14;
}

/* An IPv4 packet with payload already at f+14+20; fills the IP header and the
 * UDP/TCP checksum. */
static size_t ip(uint8_t *f, const uint8_t *dst_mac, uint8_t proto, uint32_t src, uint32_t dst,
                 size_t l4len)
{
    eth(f, dst_mac, 0x0800);
    uint8_t *h = f + 14, *l4 = h + 20;
    memset(h, 0, 20);
    h[0] = 0x45;
    put16(h + 2, (uint16_t)(20 + l4len));
    h[8] = 64;
    h[9] = proto;
    put32(h + 12, src);
    put32(h + 16, dst);
    put16(h + 10, fold(sum(h, 20, 0)));
    uint8_t pseudo[12];
    put32(pseudo, src);
    put32(pseudo + 4, dst);
    pseudo[8] = 0;
    pseudo[9] = proto;
    put16(pseudo + 10, (uint16_t)l4len);
    size_t ck = proto == 17 ? 6 : 16;
    put16(l4 + ck, 0);
    put16(l4 + ck, fold(sum(l4, l4len, sum(pseudo, 12, 0))));
    return 14 + 20 + l4len;
}

static const uint8_t BCAST[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static size_t dhcp(uint8_t *f, uint8_t type, uint32_t server)
{
    uint8_t *u = f + 34, *b = u + 8;
    /* libslirp wants a whole struct bootp_t: 236 bytes + 312 of options. */
    memset(u, 0, 8 + 548);
    put16(u, 68);
    put16(u + 2, 67);
    b[0] = 1, b[1] = 1, b[2] = 6;
    put32(b + 4, XID);
    memcpy(b + 28, GUEST_MAC, 6);
    put32(b + 236, 0x63825363);
    uint8_t *o = b + 240;
    *o++ = 53, *o++ = 1, *o++ = type;
    if (server) {
        *o++ = 50, *o++ = 4, put32(o, GUEST_IP), o += 4;
        *o++ = 54, *o++ = 4, put32(o, server), o += 4;
    }
    *o++ = 255;
    size_t l4 = 8 + 548;
    put16(u + 4, (uint16_t)l4);
    return ip(f, BCAST, 17, 0, 0xffffffff, l4);
}

static size_t tcp(uint8_t *f, const uint8_t *dmac, uint32_t dst, uint16_t sport, uint16_t dport,
                  uint32_t seq, uint32_t ack, uint8_t flags, const void *data, size_t dlen)
{
    uint8_t *t = f + 34;
    memset(t, 0, 20);
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    if (dlen) memcpy(t + 20, data, dlen);
    return ip(f, dmac, 6, GUEST_IP, dst, 20 + dlen);
}

/* ---- frame matching ---- */
static bool is_ip(const uint8_t *f, size_t len, uint8_t proto)
{
    return len >= 34 && get16(f + 12) == 0x0800 && f[23] == proto && fold(sum(f + 14, 20, 0)) == 0;
}

/* Answer slirp's ARP requests for the guest, as a guest stack would. */
static void answer_arp(struct rig *g, const uint8_t *f, size_t len)
{
    if (len < 42 || get16(f + 12) != 0x0806 || get16(f + 20) != 1 || get32(f + 38) != GUEST_IP)
        return;
    uint8_t r[60] = {0};
    eth(r, f + 6, 0x0806);
    put16(r + 14, 1), put16(r + 16, 0x0800), r[18] = 6, r[19] = 4, put16(r + 20, 2);
    memcpy(r + 22, GUEST_MAC, 6), put32(r + 28, GUEST_IP);
    memcpy(r + 32, f + 22, 6), memcpy(r + 38, f + 28, 4);
    g->be->send(g->be->opaque, r, sizeof r);
}

typedef bool (*match_fn)(const uint8_t *f, size_t len, void *arg);

/* Pump until a received frame matches; returns its index or -1 after ~3 s. */
static int wait_for(struct rig *g, unsigned *from, match_fn m, void *arg)
{
    for (int iter = 0; iter < 300; iter++) {
        for (; *from < g->rx.n; (*from)++) {
            const uint8_t *f = g->rx.frame[*from];
            answer_arp(g, f, g->rx.len[*from]);
            if (m(f, g->rx.len[*from], arg)) return (int)(*from)++;
        }
        pump(g, 10000000);
    }
    for (unsigned k = 0; k < g->rx.n; k++)
        fprintf(stderr, "rx %u: len %zu type %04x\n", k, g->rx.len[k], get16(g->rx.frame[k] + 12));
    return -1;
}

static const uint8_t *dhcp_opt(const uint8_t *f, size_t len, uint8_t code)
{
    const uint8_t *o = f + 42 + 240, *end = f + len;
    while (o < end && *o != 255) {
        if (*o == 0) { o++; continue; }
        if (o + 2 > end || o + 2 + o[1] > end) return NULL;
        if (*o == code) return o;
        o += 2 + o[1];
    }
    return NULL;
}

static bool match_dhcp(const uint8_t *f, size_t len, void *arg)
{
    if (!is_ip(f, len, 17) || len < 42 + 240 || get16(f + 34) != 67 || get16(f + 36) != 68)
        return false;
    if (get32(f + 42 + 4) != XID) return false;
    const uint8_t *t = dhcp_opt(f, len, 53);
    return t && t[2] == *(uint8_t *)arg;
}

static void check_lease(const uint8_t *f, size_t len, bool restricted)
{
    ck_assert_uint_eq(get32(f + 42 + 16), GUEST_IP); /* yiaddr */
    ck_assert(!memcmp(f, GUEST_MAC, 6) || !memcmp(f, BCAST, 6));
    const uint8_t *o;
    if (restricted) {
        /* A restricted network has no way out: libslirp offers no router
         * and no DNS. */
        ck_assert_ptr_null(dhcp_opt(f, len, 3));
        ck_assert_ptr_null(dhcp_opt(f, len, 6));
        return;
    }
    o = dhcp_opt(f, len, 3);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(get32(o + 2), HOST_IP);
    o = dhcp_opt(f, len, 6);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(get32(o + 2), DNS_IP);
    o = dhcp_opt(f, len, 1);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(get32(o + 2), 0xffffff00);
}

static void do_dhcp(struct rig *g, unsigned *from)
{
    uint8_t f[600];
    g->be->send(g->be->opaque, f, dhcp(f, 1, 0));
    uint8_t want = 2;
    int i = wait_for(g, from, match_dhcp, &want);
    ck_assert_msg(i >= 0, "no DHCPOFFER");
    check_lease(g->rx.frame[i], g->rx.len[i], g->restricted);
    const uint8_t *sid = dhcp_opt(g->rx.frame[i], g->rx.len[i], 54);
    ck_assert_ptr_nonnull(sid);
    uint32_t server = get32(sid + 2);
    ck_assert_uint_eq(server, HOST_IP);
    g->be->send(g->be->opaque, f, dhcp(f, 3, server));
    want = 5;
    i = wait_for(g, from, match_dhcp, &want);
    ck_assert_msg(i >= 0, "no DHCPACK");
    check_lease(g->rx.frame[i], g->rx.len[i], g->restricted);
}

static bool match_arp_reply(const uint8_t *f, size_t len, void *arg)
{
    return len >= 42 && get16(f + 12) == 0x0806 && get16(f + 20) == 2 &&
           get32(f + 28) == HOST_IP && !memcmp(f + 32, GUEST_MAC, 6) && get32(f + 38) == GUEST_IP;
}

static void do_arp(struct rig *g, unsigned *from)
{
    uint8_t r[60] = {0};
    eth(r, BCAST, 0x0806);
    put16(r + 14, 1), put16(r + 16, 0x0800), r[18] = 6, r[19] = 4, put16(r + 20, 1);
    memcpy(r + 22, GUEST_MAC, 6), put32(r + 28, GUEST_IP), put32(r + 38, HOST_IP);
    g->be->send(g->be->opaque, r, sizeof r);
    int i = wait_for(g, from, match_arp_reply, NULL);
    ck_assert_msg(i >= 0, "no ARP reply for 10.0.2.2");
    memcpy(g->router_mac, g->rx.frame[i] + 22, 6);
    ck_assert(!memcmp(g->rx.frame[i], GUEST_MAC, 6));
}

struct tcp_match {
    uint16_t sport, dport;
    uint8_t flags; /* all must be set */
    size_t min_data;
};

static bool match_tcp(const uint8_t *f, size_t len, void *arg)
{
    struct tcp_match *m = arg;
    if (!is_ip(f, len, 6) || get32(f + 30) != GUEST_IP || memcmp(f, GUEST_MAC, 6)) return false;
    const uint8_t *t = f + 34;
    size_t iplen = get16(f + 16), thl = (size_t)(t[12] >> 4) * 4;
    return get16(t) == m->sport && get16(t + 2) == m->dport && (t[13] & m->flags) == m->flags &&
           iplen - 20 - thl >= m->min_data;
}

static int listen_local(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

START_TEST(dhcp_arp_tcp)
{
    struct net_user_config cfg = {0};
    struct rig *g = rig_open(&cfg);
    unsigned from = 0;
    do_dhcp(g, &from);
    do_arp(g, &from);

    uint16_t port;
    int lfd = listen_local(&port);
    uint8_t f[2048];
    uint32_t iss = 1000;
    g->be->send(g->be->opaque, f,
                tcp(f, g->router_mac, HOST_IP, 40000, port, iss, 0, 0x02, NULL, 0));
    struct tcp_match m = {port, 40000, 0x12, 0};
    int i = wait_for(g, &from, match_tcp, &m);
    ck_assert_msg(i >= 0, "no SYN-ACK from 10.0.2.2:%u", port);
    const uint8_t *t = g->rx.frame[i] + 34;
    ck_assert_uint_eq(get32(t + 8), iss + 1);
    uint32_t rseq = get32(t + 4) + 1;

    int cfd = accept(lfd, NULL, NULL);
    ck_assert_int_ge(cfd, 0);
    static const char msg[] = "hello from the guest";
    g->be->send(g->be->opaque, f,
                tcp(f, g->router_mac, HOST_IP, 40000, port, iss + 1, rseq, 0x18, msg,
                    sizeof msg - 1));
    char buf[64] = {0};
    size_t got = 0;
    for (int k = 0; k < 300 && got < sizeof msg - 1; k++) {
        pump(g, 10000000);
        struct pollfd p = {cfd, POLLIN, 0};
        if (poll(&p, 1, 0) == 1) {
            ssize_t r = read(cfd, buf + got, sizeof buf - 1 - got);
            if (r > 0) got += (size_t)r;
        }
    }
    ck_assert_str_eq(buf, msg);

    /* And back: the host writes, the guest gets a segment with the bytes. */
    static const char reply[] = "hello from the host";
    ck_assert_int_eq(write(cfd, reply, sizeof reply - 1), (ssize_t)sizeof reply - 1);
    m = (struct tcp_match){port, 40000, 0x10, sizeof reply - 1};
    i = wait_for(g, &from, match_tcp, &m);
    ck_assert_msg(i >= 0, "no data segment from the host");
    t = g->rx.frame[i] + 34;
    ck_assert(!memcmp(t + (t[12] >> 4) * 4, reply, sizeof reply - 1));

    close(cfd);
    close(lfd);
    rig_close(g);
}
END_TEST

static size_t udp(uint8_t *f, const uint8_t *dmac, uint32_t dst, uint16_t sport, uint16_t dport,
                  const void *data, size_t dlen)
{
    uint8_t *u = f + 34;
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)(8 + dlen));
    memcpy(u + 8, data, dlen);
    return ip(f, dmac, 17, GUEST_IP, dst, 8 + dlen);
}

static bool match_tftp_data(const uint8_t *f, size_t len, void *arg)
{
    return is_ip(f, len, 17) && get32(f + 30) == GUEST_IP && get16(f + 36) == 2000 &&
           len >= 46 && get16(f + 42) == 3 && get16(f + 44) == 1;
}

START_TEST(tftp_bootfile)
{
    char dir[] = "/tmp/umbra-tftp-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/boot.bin", dir);
    static const char content[] = "a tiny boot file";
    FILE *fp = fopen(path, "wb");
    fwrite(content, 1, sizeof content - 1, fp);
    fclose(fp);

    struct net_user_config cfg = {.tftp = dir, .bootfile = "boot.bin"};
    struct rig *g = rig_open(&cfg);
    unsigned from = 0;
    uint8_t f[600];
    g->be->send(g->be->opaque, f, dhcp(f, 1, 0));
    uint8_t want = 2;
    int i = wait_for(g, &from, match_dhcp, &want);
    ck_assert_msg(i >= 0, "no DHCPOFFER");
    /* BOOTP's file field carries the boot file name. */
    ck_assert_str_eq((const char *)g->rx.frame[i] + 42 + 108, "boot.bin");
    do_arp(g, &from);

    static const char rrq[] = "\0\1boot.bin\0octet";
    g->be->send(g->be->opaque, f, udp(f, g->router_mac, HOST_IP, 2000, 69, rrq, sizeof rrq));
    i = wait_for(g, &from, match_tftp_data, NULL);
    ck_assert_msg(i >= 0, "no TFTP DATA block 1");
    size_t dlen = get16(g->rx.frame[i] + 38) - 8 - 4;
    ck_assert_uint_eq(dlen, sizeof content - 1);
    ck_assert(!memcmp(g->rx.frame[i] + 46, content, dlen));
    rig_close(g);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(restrict_blocks_outbound)
{
    struct net_user_config cfg = {.restrict_ = true};
    struct rig *g = rig_open(&cfg);
    unsigned from = 0;
    do_dhcp(g, &from);
    do_arp(g, &from);
    uint16_t port;
    int lfd = listen_local(&port);
    uint8_t f[2048];
    g->be->send(g->be->opaque, f, tcp(f, g->router_mac, HOST_IP, 40001, port, 5000, 0, 0x02, NULL, 0));
    for (int k = 0; k < 30; k++) pump(g, 10000000);
    struct pollfd p = {lfd, POLLIN, 0};
    ck_assert_int_eq(poll(&p, 1, 0), 0); /* nobody connected */
    for (; from < g->rx.n; from++) {
        const uint8_t *r = g->rx.frame[from];
        ck_assert(!(is_ip(r, g->rx.len[from], 6) && (r[47] & 0x12) == 0x12));
    }
    close(lfd);
    rig_close(g);
}
END_TEST

START_TEST(hostfwd_syn)
{
    /* A free host port: bind to 0, note it, close. */
    uint16_t port;
    int tmp = listen_local(&port);
    close(tmp);
    struct net_user_config cfg = {0};
    cfg.hostfwd[0] = (struct net_hostfwd){false, INADDR_LOOPBACK, port, 0, 22};
    cfg.nhostfwd = 1;
    struct rig *g = rig_open(&cfg);
    unsigned from = 0;
    do_dhcp(g, &from);

    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr = {htonl(INADDR_LOOPBACK)}};
    connect(cfd, (struct sockaddr *)&a, sizeof a);
    int i = -1;
    for (int k = 0; k < 300 && i < 0; k++) {
        for (; from < g->rx.n; from++) {
            const uint8_t *f = g->rx.frame[from];
            answer_arp(g, f, g->rx.len[from]);
            if (is_ip(f, g->rx.len[from], 6) && get32(f + 30) == GUEST_IP &&
                get16(f + 36) == 22 && (f[47] & 0x12) == 0x02) {
                i = (int)from;
                break;
            }
        }
        if (i < 0) pump(g, 10000000);
    }
    ck_assert_msg(i >= 0, "no SYN to the guest's port 22");
    ck_assert(!memcmp(g->rx.frame[i], GUEST_MAC, 6));
    close(cfd);
    rig_close(g);
}
END_TEST

START_TEST(hostfwd_udp)
{
    int probe = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}};
    ck_assert_int_eq(bind(probe, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t l = sizeof a;
    getsockname(probe, (struct sockaddr *)&a, &l);
    close(probe);
    uint16_t port = ntohs(a.sin_port);
    struct net_user_config cfg = {0};
    cfg.hostfwd[0] = (struct net_hostfwd){true, INADDR_LOOPBACK, port, 0, 5353};
    cfg.nhostfwd = 1;
    struct rig *g = rig_open(&cfg);
    unsigned from = 0;
    do_dhcp(g, &from);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    static const char msg[] = "datagram for the guest";
    ck_assert_int_eq(sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&a, sizeof a),
                     (ssize_t)sizeof msg - 1);
    int i = -1;
    for (int k = 0; k < 300 && i < 0; k++) {
        for (; from < g->rx.n; from++) {
            const uint8_t *f = g->rx.frame[from];
            answer_arp(g, f, g->rx.len[from]);
            if (is_ip(f, g->rx.len[from], 17) && get32(f + 30) == GUEST_IP && get16(f + 36) == 5353) {
                i = (int)from;
                break;
            }
        }
        if (i < 0) pump(g, 10000000);
    }
    ck_assert_msg(i >= 0, "no datagram to the guest's port 5353");
    ck_assert_uint_eq(get16(g->rx.frame[i] + 38), 8 + sizeof msg - 1);
    ck_assert(!memcmp(g->rx.frame[i] + 42, msg, sizeof msg - 1));
    close(fd);
    rig_close(g);
}
END_TEST

START_TEST(hostfwd_port_in_use)
{
    uint16_t port;
    int lfd = listen_local(&port);
    struct net_user_config cfg = {0};
    cfg.hostfwd[0] = (struct net_hostfwd){false, INADDR_LOOPBACK, port, 0, 22};
    cfg.nhostfwd = 1;
    struct clock c;
    clock_init(&c, false, 0);
    char err[256] = "";
    struct net_slirp *s = net_slirp_open(&cfg, err, sizeof err);
    ck_assert_ptr_nonnull(s);
    ck_assert(!net_slirp_start(s, &c, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "hostfwd"));
    ck_assert_ptr_null(strchr(err, '\n'));
    net_slirp_close(s);
    close(lfd);
}
END_TEST

START_TEST(queue_waits_for_room)
{
    struct net_user_config cfg = {0};
    struct rig *g = rig_open(&cfg);
    g->rx.full = true;
    uint8_t f[600];
    g->be->send(g->be->opaque, f, dhcp(f, 1, 0));
    for (int k = 0; k < 20; k++) pump(g, 1000000);
    ck_assert_uint_eq(g->rx.n, 0);
    g->rx.full = false;
    unsigned from = 0;
    uint8_t want = 2;
    ck_assert_int_ge(wait_for(g, &from, match_dhcp, &want), 0);
    rig_close(g);
}
END_TEST

START_TEST(resolve_defaults)
{
    struct net_user_config c = {0};
    ck_assert_ptr_null(net_user_resolve(&c));
    ck_assert_uint_eq(c.net, 0x0a000200);
    ck_assert_uint_eq(c.host, HOST_IP);
    ck_assert_uint_eq(c.dns, DNS_IP);
    ck_assert_uint_eq(c.dhcp_start, GUEST_IP);
    struct net_user_config d = {.net = 0xc0a86400, .mask = 0xffffff00, .dns = 0x0a000203};
    ck_assert_ptr_nonnull(net_user_resolve(&d));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net_slirp");
    TCase *tc = tcase_create("net_slirp");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, resolve_defaults);
    if (net_slirp_available()) {
        tcase_add_test(tc, dhcp_arp_tcp);
        tcase_add_test(tc, hostfwd_syn);
        tcase_add_test(tc, hostfwd_udp);
        tcase_add_test(tc, hostfwd_port_in_use);
        tcase_add_test(tc, queue_waits_for_room);
        tcase_add_test(tc, tftp_bootfile);
        tcase_add_test(tc, restrict_blocks_outbound);
    }
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
