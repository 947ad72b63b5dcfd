/*
 * net.h — the network backend a NIC talks to (frontends/ implements it: the
 * libslirp user-mode stack, a packet capture tap).  Frames are whole
 * Ethernet frames without the FCS, as the wire carries them.
 *
 * Direction device -> host is a call into the backend; host -> device goes
 * through the NIC's struct net_client, which the machine hands to the
 * backend (machine_net_client()).  Both run on the emulator's one thread.
 */
#ifndef UMBRA_NET_H
#define UMBRA_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct net_backend {
    void *opaque;
    /* The guest transmitted a frame. */
    void (*send)(void *opaque, const uint8_t *frame, size_t len);
    /* Called from the run loop at least every millisecond of host time
     * (NET_POLL_NS in devices/pc.c) and while the CPU is halted, with the longest the backend may block
     * waiting for host I/O; it delivers received frames to the client.  NULL:
     * nothing to poll. */
    void (*poll)(void *opaque, int64_t max_wait_ns);
};

/* The NIC's receiving side. */
struct net_client {
    void *opaque;
    /* Room for a frame now?  A backend that gets false keeps the frame and
     * tries again later (the NIC calls nothing back; polling retries). */
    bool (*can_receive)(void *opaque);
    void (*receive)(void *opaque, const uint8_t *frame, size_t len);
};

enum nic_model { NIC_NONE = 0, NIC_NE2K_PCI, NIC_NE2K_ISA };

#endif
