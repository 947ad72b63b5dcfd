/*
 * fdc.h — the PC's floppy disk controller, an Intel 82077AA at 0x3f0-0x3f5
 * and 0x3f7 (0x3f6 belongs to the IDE controller), IRQ 6 and a DMA channel
 * (2), with up to four drives whose media are block backends.
 */
#ifndef UMBRA_FDC_H
#define UMBRA_FDC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/block.h"
#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/dma.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/state.h"

#define FDC_DRIVES 4
#define FDC_SECTOR_SIZE 512
#define FDC_VERSION_82077 0x90

/* A medium: 512-byte sectors, MFM, sector IDs numbered 1..spt. */
struct fdc_geometry {
    const char *name; /* "1.44 MB" */
    uint8_t tracks, heads, spt;
    uint8_t cmos_type; /* the drive type CMOS byte 0x10 reports for it */
    uint8_t rates;     /* bit r: readable at data rate r (CCR/DSR bits 1-0) */
};

/* The format of an image of `size` bytes, or NULL if no supported format
 * (360 KB, 720 KB, 1.2 MB, 1.44 MB, 2.88 MB) has that size. */
const struct fdc_geometry *fdc_geometry_for_size(uint64_t size);
/* "360 KB, 720 KB, ..." with the byte sizes, for error messages. */
const char *fdc_supported_sizes(void);

struct fdc_drive {
    struct block_backend *blk; /* NULL: no disk in the drive */
    const struct fdc_geometry *geo;
    bool present;     /* a drive is cabled to this select line */
    uint8_t cyl;      /* the controller's present cylinder number (PCN) */
    uint8_t head;     /* the head last selected */
    uint8_t sect;     /* the sector ID that last passed under the head */
    bool changed;     /* disk-change line: set at insertion, cleared by a step pulse */
    bool seeking;     /* MSR drive-busy bit */
    uint8_t seek_target;
    bool seek_recal;  /* the seek in progress is a RECALIBRATE */
    bool int_pending; /* a seek/recalibrate ended; SENSE INTERRUPT STATUS reports it */
    uint8_t int_st0;
    struct clock_timer seek_timer;
};

enum fdc_phase { FDC_PHASE_COMMAND, FDC_PHASE_EXEC, FDC_PHASE_RESULT };

struct fdc {
    struct fdc_drive drv[FDC_DRIVES];
    uint8_t dor, tdr, dsr, ccr;
    bool in_reset; /* DOR bit 2 held low */

    enum fdc_phase phase;
    uint8_t cmd[9];
    uint8_t cmd_len, cmd_pos;
    uint8_t res[10];
    uint8_t res_len, res_pos;

    /* The data command being executed. */
    uint8_t x_op; /* opcode, MT/MFM/SK bits masked off */
    uint8_t x_drive, x_phead;         /* drive and physical head */
    uint8_t x_c, x_h, x_r, x_n, x_eot; /* the sector ID sought, the last sector */
    bool x_mt;
    bool x_dma;         /* data moves by DMA (else through the FIFO, non-DMA mode) */
    bool x_waiting_dma; /* DREQ is up, the channel cannot serve it yet */
    uint16_t buf_pos, buf_len;
    uint8_t buf[1024]; /* one sector, or the 4*SC bytes of FORMAT's ID list */

    uint8_t reset_sense; /* SENSE INTERRUPT STATUS still owed after a reset (0-4) */
    bool int_line;       /* the INT output, before the DOR's DMA/IRQ gate */

    /* SPECIFY, CONFIGURE, PERPENDICULAR MODE, LOCK. */
    uint8_t srt_hut, hlt_nd;
    uint8_t config; /* EIS, EFIFO, POLL, FIFOTHR */
    uint8_t pretrk;
    uint8_t perp;   /* D3-D0 << 2 | GAP << 1 | WGATE */
    bool lock;
    uint8_t last_eot;

    struct clock *clock;
    struct clock_timer exec_timer;
    struct clock_timer overrun_timer; /* non-DMA: the host must take/give the byte by then */
    struct clock_timer gap_timer;     /* non-DMA: the next sector arrives */
    struct irq_line irq;
    struct dma *dma;
    unsigned dma_ch;
    const struct dev_log *log;
};

/* media[i]: drive i's disk (NULL: none).  Drive 0 is always present, drive
 * 1 when it has a disk.  Fails, naming the drive, if a medium's size is not
 * a supported format. */
int fdc_init(struct fdc *f, struct bus *bus, struct clock *clock, struct irq_line irq,
             struct dma *dma, unsigned dma_ch, struct block_backend *const media[2],
             const struct dev_log *log, char *err, size_t errlen);
/* Hardware reset: as the firmware leaves it (DOR 0x0c: out of reset, DMA
 * and IRQ enabled, no interrupt owed). */
void fdc_reset(struct fdc *f);
void fdc_save(struct fdc *f, struct state_buf *s);
int fdc_load(struct fdc *f, const struct state_buf *s);

/* CMOS byte 0x10: drive 0's type in the high nibble, drive 1's in the low. */
uint8_t fdc_cmos_types(const struct fdc *f);

#endif
