/*
 * netdump.h — packet capture (-object filter-dump,netdev=ID,file=PATH): a
 * struct net_backend that writes every frame, both directions, to a pcap
 * file and passes it on.  It sits between the NIC and the real backend:
 * the NIC transmits into netdump_backend(), and the real backend delivers
 * into netdump_client(), which forwards to the NIC's client.
 */
#ifndef UMBRA_FRONTENDS_NETDUMP_H
#define UMBRA_FRONTENDS_NETDUMP_H

#include <stddef.h>

#include "devices/net.h"

struct netdump;

/* Create PATH (truncating it) and write the pcap header.  `inner` is the
 * backend frames are passed on to.  NULL with err filled on failure. */
struct netdump *netdump_open(const char *path, struct net_backend *inner, char *err,
                             size_t errlen);
struct net_backend *netdump_backend(struct netdump *d);
/* The client to hand the inner backend: it records, then forwards to `nic`. */
struct net_client netdump_client(struct netdump *d, struct net_client nic);
void netdump_close(struct netdump *d);

#endif
