/*
 * netdump.c — pcap capture of a NIC's traffic, as QEMU's filter-dump
 * writes it: the classic libpcap format (magic a1b2c3d4, version 2.4,
 * LINKTYPE_ETHERNET), one record per frame with the host's wall-clock time,
 * so Wireshark and tcpdump -r read it as they read a capture from a wire.
 *
 * It is a wrapper struct net_backend rather than a feature of one backend,
 * so any backend can be captured.  Records are written with stdio and
 * flushed at close; a crash may lose the tail, which is acceptable for a
 * debugging aid and keeps the per-frame cost to a memcpy.
 */
#include "frontends/netdump.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCAP_SNAPLEN 65535
#define LINKTYPE_ETHERNET 1

struct netdump {
    struct net_backend be;
    struct net_backend *inner;
    struct net_client nic;
    FILE *f;
};

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void record(struct netdump *d, const uint8_t *frame, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len;
    uint8_t h[16];
    put32le(h, (uint32_t)ts.tv_sec);
    put32le(h + 4, (uint32_t)(ts.tv_nsec / 1000));
    put32le(h + 8, (uint32_t)incl);
    put32le(h + 12, (uint32_t)len);
    fwrite(h, 1, sizeof h, d->f);
    fwrite(frame, 1, incl, d->f);
}

static void dump_send(void *opaque, const uint8_t *frame, size_t len)
{
    struct netdump *d = opaque;
    record(d, frame, len);
    if (d->inner && d->inner->send) d->inner->send(d->inner->opaque, frame, len);
}

static void dump_poll(void *opaque, int64_t max_wait_ns)
{
    struct netdump *d = opaque;
    if (d->inner && d->inner->poll) d->inner->poll(d->inner->opaque, max_wait_ns);
}

static bool dump_can_receive(void *opaque)
{
    struct netdump *d = opaque;
    return !d->nic.can_receive || d->nic.can_receive(d->nic.opaque);
}

static void dump_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct netdump *d = opaque;
    record(d, frame, len);
    if (d->nic.receive) d->nic.receive(d->nic.opaque, frame, len);
}

struct netdump *netdump_open(const char *path, struct net_backend *inner, char *err,
                             size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "-object filter-dump: cannot create '%s': %s", path,
                 strerror(errno));
        return NULL;
    }
    uint8_t h[24] = {0};
    put32le(h, 0xa1b2c3d4);
    h[4] = 2, h[6] = 4; /* version 2.4, little-endian 16-bit fields */
    put32le(h + 16, PCAP_SNAPLEN);
    put32le(h + 20, LINKTYPE_ETHERNET);
    if (fwrite(h, 1, sizeof h, f) != sizeof h) {
        snprintf(err, errlen, "-object filter-dump: cannot write '%s'", path);
        fclose(f);
        return NULL;
    }
    struct netdump *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->f = f;
    d->inner = inner;
    d->be = (struct net_backend){d, dump_send, dump_poll};
    return d;
}

struct net_backend *netdump_backend(struct netdump *d) { return &d->be; }

struct net_client netdump_client(struct netdump *d, struct net_client nic)
{
    d->nic = nic;
    return (struct net_client){d, dump_can_receive, dump_receive};
}

void netdump_close(struct netdump *d)
{
    if (!d) return;
    fclose(d->f);
    free(d);
}
