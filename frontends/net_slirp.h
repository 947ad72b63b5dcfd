/*
 * net_slirp.h — the user-mode network backend (-netdev user, QEMU's "SLIRP"):
 * libslirp plays the guest's LAN, router, DHCP, DNS and TFTP server and turns
 * the guest's TCP/UDP into host sockets.
 *
 * The configuration struct is plain data with no libslirp type in it, so the
 * command-line parser fills it whether or not Umbra was built with libslirp
 * (UMBRA_SLIRP); only net_slirp_open needs the library.
 */
#ifndef UMBRA_FRONTENDS_NET_SLIRP_H
#define UMBRA_FRONTENDS_NET_SLIRP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/clock.h"
#include "devices/net.h"

#define NET_USER_MAX_HOSTFWD 16

/* hostfwd=tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport.  Addresses in
 * host byte order; host_addr 0 = every host address, guest_addr 0 = the
 * first DHCP address. */
struct net_hostfwd {
    bool udp;
    uint32_t host_addr;
    uint16_t host_port;
    uint32_t guest_addr;
    uint16_t guest_port;
};

/* -netdev user,...  Addresses in host byte order; 0 = QEMU's default derived
 * from the network (host .2, DNS .3, DHCP from .15 of 10.0.2.0/24). */
struct net_user_config {
    uint32_t net, mask;
    uint32_t host, dns, dhcp_start;
    bool restrict_; /* restrict=on: the guest reaches nothing outside */
    const char *tftp, *bootfile, *hostname;
    struct net_hostfwd hostfwd[NET_USER_MAX_HOSTFWD];
    unsigned nhostfwd;
};

/* Fill in the defaults QEMU uses for every address left 0.  Returns NULL, or
 * a one-line reason (a host/DNS/DHCP address outside the network). */
const char *net_user_resolve(struct net_user_config *c);

struct net_slirp;

/* True if this build has libslirp. */
bool net_slirp_available(void);

/* Two steps, because the NIC takes its backend when the machine is built
 * and libslirp's timers need the machine's clock, which exists only then:
 * net_slirp_open checks the configuration and makes the backend (frames
 * sent before start are dropped, as on a cable with nothing at the other
 * end); net_slirp_start brings the stack up with timers on `clock` (the
 * machine's, so -icount stays the guest's notion of time) and opens the
 * hostfwd ports.  Both return NULL/false with err filled (one line, no
 * prefix); the config's strings must outlive the backend. */
struct net_slirp *net_slirp_open(const struct net_user_config *cfg, char *err, size_t errlen);
bool net_slirp_start(struct net_slirp *s, struct clock *clock, char *err, size_t errlen);
/* The backend the NIC transmits into (opaque is the net_slirp). */
struct net_backend *net_slirp_backend(struct net_slirp *s);
/* Where received frames go; until set, they wait in the queue. */
void net_slirp_set_client(struct net_slirp *s, struct net_client client);
void net_slirp_close(struct net_slirp *s);

#endif
