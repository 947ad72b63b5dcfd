/*
 * netdump.c — pcap capture of a NIC's traffic (netdump.h).  The file format
 * is libpcap's classic one: a 24-byte global header (magic 0xa1b2c3d4,
 * version 2.4, snaplen, link type 1 = Ethernet) and a 16-byte record header
 * per frame (seconds, microseconds, captured length, original length), all
 * little-endian as written here explicitly, so the file is the same on any
 * host.  Frames carry no FCS, as on the wire the backend sees.
 *
 * Design choice: the wrapper sits between the NIC and its backend on both
 * paths, so the capture shows exactly what crossed the NIC boundary —
 * including frames a stopped NIC then drops, as a tap on the cable would.
 */
#include "frontends/netdump.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void record(struct netdump *d, const uint8_t *frame, size_t len)
{
    if (!d->f || d->write_error) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    size_t cap = len < d->snaplen ? len : d->snaplen;
    uint8_t h[16];
    put32(h, (uint32_t)ts.tv_sec);
    put32(h + 4, (uint32_t)(ts.tv_nsec / 1000));
    put32(h + 8, (uint32_t)cap);
    put32(h + 12, (uint32_t)len);
    if (fwrite(h, sizeof h, 1, d->f) != 1 || (cap && fwrite(frame, cap, 1, d->f) != 1) ||
        fflush(d->f)) {
        fprintf(stderr, "umbra: packet capture: write failed (%s); capture stopped\n",
                strerror(errno));
        d->write_error = true;
    }
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
    return d->nic.can_receive ? d->nic.can_receive(d->nic.opaque) : true;
}

static void dump_receive(void *opaque, const uint8_t *frame, size_t len)
{
    struct netdump *d = opaque;
    record(d, frame, len);
    if (d->nic.receive) d->nic.receive(d->nic.opaque, frame, len);
}

int netdump_open(struct netdump *d, const char *path, struct net_backend *inner, size_t snaplen,
                 char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->inner = inner;
    d->snaplen = snaplen ? snaplen : 65535;
    d->self = (struct net_backend){d, dump_send, dump_poll};
    d->f = fopen(path, "wb");
    if (!d->f) {
        snprintf(err, errlen, "cannot create packet capture %s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t h[24];
    put32(h, 0xa1b2c3d4u);
    put16(h + 4, 2);
    put16(h + 6, 4);
    put32(h + 8, 0);  /* thiszone: UTC */
    put32(h + 12, 0); /* sigfigs */
    put32(h + 16, (uint32_t)d->snaplen);
    put32(h + 20, 1); /* LINKTYPE_ETHERNET */
    if (fwrite(h, sizeof h, 1, d->f) != 1 || fflush(d->f)) {
        snprintf(err, errlen, "cannot write packet capture %s: %s", path, strerror(errno));
        fclose(d->f);
        d->f = NULL;
        return -1;
    }
    return 0;
}

struct net_backend *netdump_backend(struct netdump *d) { return &d->self; }

struct net_client netdump_client(struct netdump *d, struct net_client nic)
{
    d->nic = nic;
    return (struct net_client){d, dump_can_receive, dump_receive};
}

void netdump_close(struct netdump *d)
{
    if (d->f) fclose(d->f);
    d->f = NULL;
}
