/*
 * ide.h — the PIIX3 IDE controller (PCI function 1 of the 82371SB, 8086:7010)
 * with its two legacy channels (0x1F0/0x3F6 on IRQ 14, 0x170/0x376 on IRQ
 * 15), the bus-master DMA registers behind BAR4, and up to two drives per
 * channel: ATA disks and ATAPI CD-ROMs (atapi.c) over block backends.
 *
 * Each drive keeps its own copy of the command-block registers (the host's
 * writes reach both drives of a channel, as on the cable) and its own
 * transfer state; the channel holds device control and the bus master.
 */
#ifndef UMBRA_IDE_H
#define UMBRA_IDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/block.h"
#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/pci.h"
#include "devices/state.h"
#include "mmu/mmu.h"

/* The transfer buffer: 128 sectors of 512 bytes or 32 of 2048. */
#define IDE_BUF_SIZE (64 * 1024)
#define IDE_MAX_MULTIPLE 16

enum ide_xfer {
    IDE_XFER_NONE,
    IDE_XFER_PIO_IN,      /* device to host through the data port */
    IDE_XFER_PIO_OUT,     /* host to device through the data port */
    IDE_XFER_PACKET,      /* ATAPI: receiving the 12-byte command packet */
    IDE_XFER_DMA,         /* waiting for the bus master's start bit */
};

/* What the data transfer of the current command is for. */
enum ide_op {
    IDE_OP_NONE,
    IDE_OP_IDENTIFY,     /* one buffer, no backend */
    IDE_OP_READ,         /* ATA sectors */
    IDE_OP_WRITE,
    IDE_OP_ATAPI_BUF,    /* ATAPI reply built in the buffer */
    IDE_OP_ATAPI_READ,   /* ATAPI 2048-byte sectors */
};

struct ide_drive {
    struct block_backend *be; /* NULL: no drive here */
    bool atapi;
    uint8_t unit; /* 0 master, 1 slave */
    /* Command block (current and previous "HOB" values for LBA48). */
    uint8_t feature, nsector, sector, lcyl, hcyl, select;
    uint8_t hob_feature, hob_nsector, hob_sector, hob_lcyl, hob_hcyl;
    uint8_t status, error;
    bool intrq; /* this drive's INTRQ, before nIEN */
    /* Geometry and settings. */
    uint64_t nb_sectors; /* 512-byte sectors (ATA) */
    uint16_t cyls, heads, secs;             /* default translation */
    uint16_t cur_cyls, cur_heads, cur_secs; /* INITIALIZE DEVICE PARAMETERS */
    uint8_t mult;                           /* READ/WRITE MULTIPLE block, 0 = off */
    uint8_t xfer_mode;                      /* SET FEATURES 03h value */
    bool write_cache, standby;
    char serial[21], model[41];
    /* Transfer state. */
    uint8_t cmd;
    enum ide_xfer xfer;
    enum ide_op op;
    bool dma_write;     /* DMA direction: host memory to device */
    uint64_t lba;       /* next sector of the transfer */
    uint32_t left;      /* sectors still to move after the buffer */
    uint32_t block;     /* sectors per DRQ block (ATA PIO) */
    uint32_t pos, end;  /* current DRQ block in buf */
    uint32_t buf_len;   /* valid bytes in buf (ATAPI) */
    uint8_t buf[IDE_BUF_SIZE];
    /* ATAPI. */
    uint8_t packet[12];
    uint16_t byte_limit;
    uint8_t sense_key, asc, ascq;
    bool medium;       /* a disc is in the tray */
    bool locked;       /* PREVENT MEDIUM REMOVAL */
    bool unit_attention;
    uint8_t media_event; /* GET EVENT STATUS NOTIFICATION: 0 none, 2 new, 3 removal */
};

struct ide_channel {
    struct ide_drive drive[2];
    uint8_t cur;  /* selected drive */
    uint8_t devctl;
    bool irq_out;
    struct irq_line irq;
    /* Bus master (BAR4 + 8 * channel). */
    uint8_t bm_cmd, bm_status;
    uint32_t bm_prd;
    struct ide *ide;
    uint8_t index;
};

struct ide {
    struct pci_device dev;
    struct ide_channel ch[2];
    struct mmu *mmu;
    const struct dev_log *log;
};

/* drives[]: primary master, primary slave, secondary master, secondary slave
 * (NULL = none); cdrom[i] makes drive i an ATAPI CD-ROM (a NULL backend with
 * cdrom set is an empty drive).  devfn is the PIIX3's function 1. */
int ide_init(struct ide *ide, struct pci_bus *pci, struct bus *io, struct mmu *mmu,
             struct irq_line irq14, struct irq_line irq15, struct block_backend *const drives[4],
             const bool cdrom[4], uint8_t devfn, const struct dev_log *log, char *err,
             size_t errlen);
void ide_reset(struct ide *ide);
void ide_save(struct ide *ide, struct state_buf *s);
int ide_load(struct ide *ide, const struct state_buf *s);
/* What firmware does before an OS for direct boot: enable both channels'
 * decode (IDETIM bit 15) as SeaBIOS does. */
void ide_firmware_setup(struct ide *ide);
/* The default CHS geometry of ATA disk n (0-3) for the firmware's CMOS
 * tables; -1 if drive n is not an ATA disk. */
int ide_disk_geometry(const struct ide *ide, int n, uint16_t *cyls, uint8_t *heads,
                      uint8_t *secs);
/* Change the disc of a CD-ROM (NULL = eject): the guest sees a unit
 * attention and a media event.  Returns -1 if drive is not a CD-ROM. */
int ide_cdrom_change(struct ide *ide, int drive, struct block_backend *be);

/* --- between ide.c and atapi.c --- */
void ide_atapi_identify(struct ide_drive *d);
void ide_atapi_packet(struct ide_channel *ch, struct ide_drive *d);
/* The next DRQ chunk of an ATAPI PIO transfer, or completion. */
void ide_atapi_pio_next(struct ide_channel *ch, struct ide_drive *d);
/* Fill buf with the next sectors of an ATAPI READ; false on a read error. */
bool ide_atapi_refill(struct ide_channel *ch, struct ide_drive *d);
void ide_atapi_reset(struct ide_drive *d);
/* Finish an ATAPI command: good status, or CHECK CONDITION with the sense. */
void ide_atapi_done(struct ide_channel *ch, struct ide_drive *d);
void ide_atapi_fail(struct ide_channel *ch, struct ide_drive *d, uint8_t key, uint8_t asc,
                    uint8_t ascq);
void ide_set_irq(struct ide_channel *ch, struct ide_drive *d);
void ide_start_dma(struct ide_channel *ch, struct ide_drive *d, bool to_device);

#define IDE_ST_BSY 0x80
#define IDE_ST_DRDY 0x40
#define IDE_ST_DF 0x20
#define IDE_ST_DSC 0x10
#define IDE_ST_DRQ 0x08
#define IDE_ST_ERR 0x01
#define IDE_ER_UNC 0x40
#define IDE_ER_IDNF 0x10
#define IDE_ER_ABRT 0x04

#endif
