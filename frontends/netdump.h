/*
 * netdump.h — a packet-capture wrapper around a network backend (QEMU's
 * filter-dump): every frame the guest sends and every frame delivered to it
 * is appended to a pcap file (LINKTYPE_ETHERNET, microsecond host-time
 * stamps), then passed on unchanged.
 *
 * Wiring: give netdump_backend() to the machine as cfg.nic_backend, and let
 * the inner backend deliver to netdump_client(dump, machine_net_client(m))
 * instead of the NIC's client directly.
 */
#ifndef UMBRA_FRONTENDS_NETDUMP_H
#define UMBRA_FRONTENDS_NETDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/net.h"

struct netdump {
    FILE *f;
    struct net_backend *inner; /* NULL: frames from the guest go nowhere */
    struct net_backend self;
    struct net_client nic;     /* where received frames are forwarded */
    size_t snaplen;
    bool write_error;          /* reported once, then capture stops */
};

/* Create path (truncating it) and write the pcap header.  snaplen 0 = 65535.
 * Returns 0, or -1 with a message in err. */
int netdump_open(struct netdump *d, const char *path, struct net_backend *inner, size_t snaplen,
                 char *err, size_t errlen);
/* The backend the NIC sends to (and the run loop polls). */
struct net_backend *netdump_backend(struct netdump *d);
/* The client the inner backend delivers to: records, then forwards to nic. */
struct net_client netdump_client(struct netdump *d, struct net_client nic);
void netdump_close(struct netdump *d);

#endif
