/*
 * firmware.h — booting through firmware when there is no -kernel: finding
 * and loading Debian's SeaBIOS (or the -bios file), and the -debugcon
 * sink for its debug port.
 */
#ifndef UMBRA_FRONTENDS_FIRMWARE_H
#define UMBRA_FRONTENDS_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "frontends/cmdline.h"

#define FIRMWARE_DIR "/usr/share/seabios"
#define FIRMWARE_DEFAULT_BIOS "bios-256k.bin"

struct firmware {
    uint8_t *bios;
    size_t bios_size;
    char bios_path[4096];
    uint8_t *vga_bios; /* the VGA's option ROM (Debian's vgabios-stdvga.bin) */
    size_t vga_bios_size;
    int debugcon_fd; /* -1: none */
    /* -fw_cfg files: names and contents, owned here. */
    char *fw_names[8];
    uint8_t *fw_data[8];
};

#define FIRMWARE_INIT                                                                              \
    {                                                                                              \
        .debugcon_fd = -1                                                                          \
    }

/* Where a -bios name is found: as given if it exists, else (a name without
 * a '/') in FIRMWARE_DIR; NULL = the default.  Writes the path tried last. */
void firmware_resolve(const char *name, char *path, size_t cap);

/* Load the image: 0, or -1 with a one-line message naming the path (and
 * the Debian package) in err. */
int firmware_load(struct firmware *fw, const char *name, char *err, size_t errlen);

/* Parse one -fw_cfg spec ("[name=]NAME,file=PATH" or "...,string=TEXT")
 * into *name (malloc'd) and its contents (malloc'd); 0, or -1 with err. */
int firmware_parse_fw_cfg(const char *spec, char **name, uint8_t **data, size_t *size, char *err,
                          size_t errlen);

/* The no-kernel boot: load the firmware named by cl->bios (or the
 * default), point cl->cfg at it, make COM1 SeaBIOS's console under
 * -nographic, and open -debugcon.  0, or -1 with err set. */
int firmware_setup(struct firmware *fw, struct cmdline *cl, char *err, size_t errlen);
void firmware_free(struct firmware *fw);

#endif
