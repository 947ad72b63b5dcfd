/*
 * vgafont.h — the 8x16 text font for boots without firmware, taken from a
 * VGA BIOS image (Debian's seabios package ships vgabios-stdvga.bin): a
 * direct -kernel boot runs no VGA BIOS, so nothing else would load plane 2
 * and the text console would show no characters.
 */
#ifndef UMBRA_FRONTENDS_VGAFONT_H
#define UMBRA_FRONTENDS_VGAFONT_H

#include <stddef.h>
#include <stdint.h>

/* Where Debian's seabios package puts the standard VGA's BIOS. */
#define VGAFONT_DEFAULT_ROM "/usr/share/seabios/vgabios-stdvga.bin"

/* The 4096-byte 8x16 font inside a VGA BIOS image, or NULL. */
const uint8_t *vgafont_find_8x16(const uint8_t *rom, size_t len);

#endif
