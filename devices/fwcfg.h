/*
 * fwcfg.h — QEMU's firmware configuration interface (fw_cfg), the channel
 * through which SeaBIOS learns the machine's memory map, CPU count, boot
 * order and console: a selector port, a data port and a DMA interface.
 */
#ifndef UMBRA_FWCFG_H
#define UMBRA_FWCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/state.h"
#include "mmu/mmu.h"

#define FWCFG_PORT_SEL 0x510 /* 16-bit selector; 0x511: 8-bit data */
#define FWCFG_PORT_DMA 0x514 /* 64-bit big-endian DMA address, high word first */

/* Well-known selectors (docs/specs/fw_cfg.rst in QEMU). */
#define FWCFG_SIGNATURE 0x0000
#define FWCFG_ID 0x0001
#define FWCFG_UUID 0x0002
#define FWCFG_RAM_SIZE 0x0003
#define FWCFG_NOGRAPHIC 0x0004
#define FWCFG_NB_CPUS 0x0005
#define FWCFG_NUMA 0x000d
#define FWCFG_BOOT_MENU 0x000e
#define FWCFG_MAX_CPUS 0x000f
#define FWCFG_FILE_DIR 0x0019
#define FWCFG_FILE_FIRST 0x0020
#define FWCFG_IRQ0_OVERRIDE 0x8002

/* ID feature bits. */
#define FWCFG_ID_TRADITIONAL 0x1u
#define FWCFG_ID_DMA 0x2u

/* FWCfgDmaAccess control bits. */
#define FWCFG_DMA_ERROR 0x01u
#define FWCFG_DMA_READ 0x02u
#define FWCFG_DMA_SKIP 0x04u
#define FWCFG_DMA_SELECT 0x08u
#define FWCFG_DMA_WRITE 0x10u

#define FWCFG_MAX_ITEMS 24
#define FWCFG_MAX_FILES 32
#define FWCFG_NAME_MAX 56 /* including the NUL */

struct fwcfg_item {
    uint16_t key;
    uint8_t *data; /* owned */
    uint32_t len;
    char name[FWCFG_NAME_MAX]; /* files only */
};

struct fwcfg {
    struct mmu *mmu; /* DMA target */
    const struct dev_log *log;
    /* Numbered items, and files kept sorted by name (their selector is
     * FWCFG_FILE_FIRST + index, the directory lists them in that order). */
    struct fwcfg_item items[FWCFG_MAX_ITEMS];
    unsigned nitems;
    struct fwcfg_item files[FWCFG_MAX_FILES];
    unsigned nfiles;
    uint8_t *dir; /* FWCFG_FILE_DIR's contents, rebuilt as files are added */
    uint32_t dir_len;
    /* Guest-visible registers. */
    uint16_t selector;
    uint32_t offset;
    uint64_t dma_addr;
};

int fwcfg_init(struct fwcfg *f, struct bus *bus, struct mmu *mmu, const struct dev_log *log,
               char *err, size_t errlen);
void fwcfg_destroy(struct fwcfg *f);
void fwcfg_reset(struct fwcfg *f);
void fwcfg_save(struct fwcfg *f, struct state_buf *s);
int fwcfg_load(struct fwcfg *f, const struct state_buf *s);

/* Contents (copied).  Numbered items replace an earlier one with the same
 * key; returns -1 when full or a file name is too long or repeated. */
int fwcfg_add_bytes(struct fwcfg *f, uint16_t key, const void *data, uint32_t len);
int fwcfg_add_i16(struct fwcfg *f, uint16_t key, uint16_t v); /* little-endian */
int fwcfg_add_i32(struct fwcfg *f, uint16_t key, uint32_t v);
int fwcfg_add_i64(struct fwcfg *f, uint16_t key, uint64_t v);
int fwcfg_add_file(struct fwcfg *f, const char *name, const void *data, uint32_t len);

#endif
