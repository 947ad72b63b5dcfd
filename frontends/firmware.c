/*
 * firmware.c — the host side of a firmware boot: the BIOS image comes from
 * Debian's seabios package (/usr/share/seabios/bios-256k.bin) unless -bios
 * names another, looked up as given and then in /usr/share/seabios, as
 * QEMU's -bios does with its data directory.  Images are never copied into
 * the repository.  The size rules are QEMU's (a non-zero multiple of 64 KiB,
 * at most 16 MiB here), checked by devices/pcbios.c so the machine applies
 * them too.
 *
 * -fw_cfg name=N,file=F|string=S (QEMU's syntax) hands the firmware extra
 * files, e.g. an option ROM as "genroms/NAME" that SeaBIOS runs and may
 * boot from (tests/firmware does exactly that).
 *
 * With the standard VGA present, its option ROM is Debian's
 * vgabios-stdvga.bin from the same package, served through the VGA's PCI
 * expansion ROM BAR, where SeaBIOS finds and runs it.
 *
 * -debugcon (QEMU's isa-debugcon at port 0x402, where SeaBIOS writes its
 * debug log) goes to a file or stdout through a struct chardev.
 */
#include "frontends/firmware.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/pcbios.h"
#include "frontends/imagefile.h"

void firmware_resolve(const char *name, char *path, size_t cap)
{
    if (!name) {
        snprintf(path, cap, "%s/%s", FIRMWARE_DIR, FIRMWARE_DEFAULT_BIOS);
        return;
    }
    snprintf(path, cap, "%s", name);
    if (access(path, F_OK) == 0 || strchr(name, '/')) return;
    snprintf(path, cap, "%s/%s", FIRMWARE_DIR, name);
}

int firmware_load(struct firmware *fw, const char *name, char *err, size_t errlen)
{
    firmware_resolve(name, fw->bios_path, sizeof fw->bios_path);
    const char *path = fw->bios_path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "-bios: %s: %s (Debian package seabios)", path, strerror(errno));
        return -1;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    const char *why = size < 0 ? "cannot tell its size" : pcbios_check_size((size_t)size);
    if (why) {
        fclose(f);
        snprintf(err, errlen, "-bios: %s: not a BIOS image: %s (Debian package seabios)", path,
                 why);
        return -1;
    }
    fw->bios = malloc((size_t)size);
    if (!fw->bios || fseek(f, 0, SEEK_SET) || fread(fw->bios, 1, (size_t)size, f) != (size_t)size) {
        int e = errno;
        fclose(f);
        free(fw->bios);
        fw->bios = NULL;
        snprintf(err, errlen, "-bios: %s: read error: %s", path, strerror(e));
        return -1;
    }
    fclose(f);
    fw->bios_size = (size_t)size;
    return 0;
}

static void debugcon_write(void *opaque, const uint8_t *buf, size_t len)
{
    struct firmware *fw = opaque;
    while (len) {
        ssize_t n = write(fw->debugcon_fd, buf, len);
        if (n <= 0) return; /* a full disk or closed pipe loses debug text, nothing else */
        buf += n;
        len -= (size_t)n;
    }
}

static int open_debugcon(struct firmware *fw, struct cmdline *cl, char *err, size_t errlen)
{
    const char *spec = cl->debugcon;
    if (!spec || !strcmp(spec, "none") || !strcmp(spec, "null")) return 0;
    if (!strcmp(spec, "stdio")) {
        fw->debugcon_fd = dup(STDOUT_FILENO);
    } else if (!strncmp(spec, "file:", 5) && spec[5]) {
        fw->debugcon_fd = open(spec + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    } else {
        snprintf(err, errlen, "-debugcon: unsupported backend '%s' (stdio, file:PATH, null)", spec);
        return -1;
    }
    if (fw->debugcon_fd < 0) {
        snprintf(err, errlen, "-debugcon: %s: %s", spec, strerror(errno));
        return -1;
    }
    cl->cfg.debugcon = (struct chardev){fw, debugcon_write, NULL};
    return 0;
}

int firmware_parse_fw_cfg(const char *spec, char **name, uint8_t **data, size_t *size, char *err,
                          size_t errlen)
{
    *name = NULL;
    *data = NULL;
    *size = 0;
    const char *n = NULL, *file = NULL, *str = NULL;
    size_t nlen = 0, flen = 0, slen = 0;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ",");
        if (!strncmp(p, "name=", 5))
            n = p + 5, nlen = len - 5;
        else if (!strncmp(p, "file=", 5))
            file = p + 5, flen = len - 5;
        else if (!strncmp(p, "string=", 7))
            str = p + 7, slen = len - 7;
        else if (p == spec && !memchr(p, '=', len))
            n = p, nlen = len; /* the implied name= */
        else {
            snprintf(err, errlen, "-fw_cfg: unknown option '%.*s'", (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',') p++;
    }
    if (!n || !nlen || (!file == !str)) {
        snprintf(err, errlen, "-fw_cfg: needs name=NAME and one of file=PATH or string=TEXT");
        return -1;
    }
    if (nlen >= 56) {
        snprintf(err, errlen, "-fw_cfg: name '%.*s' longer than 55 characters", (int)nlen, n);
        return -1;
    }
    *name = strndup(n, nlen);
    if (str) {
        *data = (uint8_t *)strndup(str, slen);
        *size = slen;
        return 0;
    }
    char *path = strndup(file, flen);
    int r = image_read_file(path, data, size, err, errlen);
    free(path);
    if (r) {
        free(*name);
        *name = NULL;
    }
    return r;
}

static int load_vga_bios(struct firmware *fw, struct cmdline *cl, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", FIRMWARE_DIR, "vgabios-stdvga.bin");
    char why[512];
    if (image_read_file(path, &fw->vga_bios, &fw->vga_bios_size, why, sizeof why)) {
        snprintf(err, errlen, "VGA BIOS: %s (Debian package seabios; -vga none runs without VGA)",
                 why);
        return -1;
    }
    cl->cfg.vga_bios = fw->vga_bios;
    cl->cfg.vga_bios_size = fw->vga_bios_size;
    return 0;
}

int firmware_setup(struct firmware *fw, struct cmdline *cl, char *err, size_t errlen)
{
    if (firmware_load(fw, cl->bios, err, errlen)) return -1;
    if (!cl->vga_none && load_vga_bios(fw, cl, err, errlen)) return -1;
    for (unsigned i = 0; i < cl->n_fw_cfg && i < 8; i++) {
        size_t size;
        if (firmware_parse_fw_cfg(cl->fw_cfg[i], &fw->fw_names[i], &fw->fw_data[i], &size, err,
                                  errlen))
            return -1;
        cl->cfg.fw_files[i] = (struct machine_fw_file){fw->fw_names[i], fw->fw_data[i], size};
        cl->cfg.n_fw_files = i + 1;
    }
    cl->cfg.bios = fw->bios;
    cl->cfg.bios_size = fw->bios_size;
    /* Without a window the serial port is the console, and SeaBIOS is told
     * to print its screen there too (QEMU's -nographic). */
    bool window = !cl->nographic && !cl->display_none && !cl->vga_none &&
                  (cl->display_sdl || getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"));
    if (cl->serial == SERIAL_DEFAULT && !window) cl->nographic = true;
    cl->cfg.serial_console = cl->nographic;
    return open_debugcon(fw, cl, err, errlen);
}

void firmware_free(struct firmware *fw)
{
    free(fw->bios);
    fw->bios = NULL;
    free(fw->vga_bios);
    fw->vga_bios = NULL;
    for (unsigned i = 0; i < 8; i++) {
        free(fw->fw_names[i]);
        free(fw->fw_data[i]);
        fw->fw_names[i] = NULL;
        fw->fw_data[i] = NULL;
    }
    if (fw->debugcon_fd >= 0) close(fw->debugcon_fd);
    fw->debugcon_fd = -1;
}
