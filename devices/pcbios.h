/*
 * pcbios.h — what a PC that boots real firmware needs beyond its devices:
 * the BIOS image in the address space (below 4 GiB and, through the
 * i440FX's PAM, at 0xE0000-0xFFFFF), the CMOS bytes SeaBIOS reads, and
 * the fw_cfg contents that describe the machine.
 */
#ifndef UMBRA_PCBIOS_H
#define UMBRA_PCBIOS_H

#include <stddef.h>
#include <stdint.h>

#include "devices/fwcfg.h"
#include "devices/i440fx.h"
#include "devices/machine.h"
#include "devices/rtc.h"

/* Largest image accepted, and its granule (QEMU's rules for -bios). */
#define PCBIOS_MAX_SIZE (16u << 20)
#define PCBIOS_GRANULE 0x10000u
/* The part of the image also visible below 1 MiB. */
#define PCBIOS_LOW_SIZE 0x20000u

/* NULL if size is acceptable, else why not. */
const char *pcbios_check_size(size_t size);

/* Map the image ending at 4 GiB and give its last 128 KiB to the PAM
 * windows at 0xE0000-0xFFFFF. */
int pcbios_map(struct mmu *mmu, struct i440fx *h, const uint8_t *bios, size_t size, char *err,
               size_t errlen);

/* CMOS: memory sizes, CPU count, boot order, floppy and hard-disk types,
 * equipment byte, checksum. */
void pcbios_cmos_setup(struct rtc *rtc, const struct machine_config *cfg);

/* fw_cfg: RAM size, CPUs, e820, boot order, console, boot-fail policy,
 * and the configuration's extra files (which replace the machine's files
 * of the same name).  -1 if one cannot be added (a name
 * taken or too long, or too many). */
int pcbios_fwcfg_setup(struct fwcfg *f, const struct machine_config *cfg);

/* CMOS floppy type (1 360K, 2 1.2M, 3 720K, 4 1.44M, 5 2.88M) for an image
 * of `bytes`; 0 for none. */
uint8_t pcbios_floppy_type(uint64_t bytes);

/* QEMU's boot-device codes for CMOS 0x3d/0x38: a=1 c=2 d=3 n=4; the three
 * nibbles in order, first in bits 3:0.  "" means "cad". */
uint16_t pcbios_boot_nibbles(const char *order);

#endif
