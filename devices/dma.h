/*
 * dma.h — the PC's pair of Intel 8237A DMA controllers: channels 0-3 (8-bit,
 * ports 0x00-0x0f) and 4-7 (16-bit, ports 0xc0-0xdf), with their page
 * registers in 0x81-0x8f (port 0x80 is the POST port, not ours).
 *
 * The device side: a device that owns a channel registers a callback, raises
 * its DREQ with dma_set_dreq() when it wants to move data, and, whenever the
 * channel can serve it (dma_channel_ready(), or the callback saying the guest
 * has just unmasked or enabled it), moves bytes with dma_transfer().  The
 * transfer is immediate; the device models the medium's timing itself.
 */
#ifndef UMBRA_DMA_H
#define UMBRA_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/log.h"
#include "devices/state.h"
#include "mmu/mmu.h"

#define DMA_CHANNELS 8

/* Mode register fields (port 0x0b / 0xd6). */
#define DMA_MODE_CHAN 0x03
#define DMA_MODE_XFER 0x0c /* 00 verify, 01 write (to memory), 10 read (from memory) */
#define DMA_MODE_VERIFY 0x00
#define DMA_MODE_WRITE 0x04
#define DMA_MODE_READ 0x08
#define DMA_MODE_AUTOINIT 0x10
#define DMA_MODE_DECREMENT 0x20
#define DMA_MODE_MODE 0xc0 /* 00 demand, 01 single, 10 block, 11 cascade */
#define DMA_MODE_CASCADE 0xc0

/* Command register bit 2: the controller is disabled. */
#define DMA_CMD_DISABLE 0x04

struct dma_channel {
    uint16_t base_addr, base_count; /* what the guest wrote (autoinit reloads them) */
    uint16_t cur_addr, cur_count;   /* 8-bit channels: bytes; 16-bit: words */
    uint8_t mode;
    bool masked;
    bool dreq;     /* the device's request line */
    bool sw_request; /* the request register (port 0x09 / 0xd2) */
    /* The device's "you may go on" callback (NULL: none registered). */
    void (*ready)(void *opaque);
    void *ready_opaque;
};

struct dma_ctrl {
    uint8_t command;
    uint8_t status_tc; /* status bits 0-3: terminal count reached, cleared by reading */
    uint8_t temp;
    bool flipflop; /* the next address/count byte is the high one */
};

struct dma {
    struct dma_channel ch[DMA_CHANNELS];
    struct dma_ctrl ctrl[2];
    uint8_t page_regs[16]; /* 0x80-0x8f as written; the channel pages alias into it */
    struct mmu *mmu;
    const struct dev_log *log;
};

int dma_init(struct dma *d, struct bus *bus, struct mmu *mmu, const struct dev_log *log,
             char *err, size_t errlen);
/* Power-on / reset: as the 8237's master clear (all channels masked). */
void dma_reset(struct dma *d);
void dma_save(struct dma *d, struct state_buf *s);
int dma_load(struct dma *d, const struct state_buf *s);

/* A device takes channel ch (0-7); `ready` is called when the channel
 * becomes able to serve a raised DREQ (the guest unmasked it or enabled its
 * controller). */
void dma_register_channel(struct dma *d, unsigned ch, void (*ready)(void *opaque), void *opaque);
void dma_set_dreq(struct dma *d, unsigned ch, bool level);
/* Unmasked, on an enabled controller, not in cascade mode. */
bool dma_channel_ready(struct dma *d, unsigned ch);
/* The channel's transfer type (DMA_MODE_VERIFY / _WRITE / _READ). */
uint8_t dma_transfer_type(struct dma *d, unsigned ch);

/* Move up to len bytes between buf and guest memory on channel ch: to
 * memory (the device delivers data: the channel should be in write mode) or
 * from memory (into buf; read mode).  A channel in verify mode, or in the
 * other direction, counts the bytes without touching memory (from_memory
 * then fills buf with 0xff: nothing drove the bus).  Stops at terminal count
 * (setting the TC status bit, then reloading (autoinit) or masking the
 * channel) and returns the bytes moved; 0 if the channel is not ready.
 * *tc (if not NULL) says whether terminal count was reached.  A 16-bit
 * channel moves whole words: an odd len is rounded down. */
size_t dma_transfer(struct dma *d, unsigned ch, void *buf, size_t len, bool to_memory, bool *tc);

#endif
