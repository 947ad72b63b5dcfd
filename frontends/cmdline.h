/*
 * cmdline.h — Umbra's command line: a QEMU-compatible subset parsed into a
 * struct machine_config plus the options only the frontend uses.
 *
 * The parser never prints and never exits: it returns an error string, so
 * the unit tests can drive it and main() decides what to do with it.
 */
#ifndef UMBRA_FRONTENDS_CMDLINE_H
#define UMBRA_FRONTENDS_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "devices/machine.h"
#include "frontends/block.h"
#include "frontends/net_slirp.h"

enum serial_kind {
    SERIAL_DEFAULT, /* nothing given: stdio (there is no window to show a console in) */
    SERIAL_STDIO,
    SERIAL_FILE,
    SERIAL_NULL,
    SERIAL_NONE,
};

/* One network backend from -netdev user (or the implicit one of -nic user
 * and -net user, whose id is ""). */
struct cmdline_netdev {
    char id[32];
    struct net_user_config user;
};

/* One multiboot module from -initrd: "file arg..." */
struct cmdline_module {
    char *path;   /* the first word */
    char *string; /* the whole entry (file name and arguments), as the kernel sees it */
};

struct cmdline {
    struct machine_config cfg; /* ram_mb, no_reboot, icount*, log_mask, debug_exit* */
    bool ram_given;

    const char *kernel; /* NULL: the default guest, or the firmware (main.c) */
    bool demo;          /* -demo: the built-in demo guest instead */
    const char *bios;     /* -bios FILE; NULL = Debian's SeaBIOS */
    const char *debugcon; /* -debugcon stdio|file:PATH|null; NULL = none */
    const char *fw_cfg[8]; /* -fw_cfg specs, parsed and loaded by frontends/firmware.c */
    unsigned n_fw_cfg;
    const char *append;
    struct cmdline_module *modules;
    size_t nmodules;

    bool nographic;
    bool display_none;
    bool debug_exit_given;
    enum serial_kind serial;
    const char *serial_path; /* SERIAL_FILE */
    const char *log_file;    /* -D; NULL = stderr */
    bool stats;
    /* -mmu walk: no shadow tables (every TLB miss walks the guest's).  Not
     * yet in struct machine_config; the MMU walks in both modes for now. */
    bool mmu_walk;

    /* Storage: -hda..-hdd, -cdrom, -fda/-fdb, -drive (opened by main with
     * block_open_drives); -snapshot; -boot fills cfg.boot_order. */
    struct block_drive drives[8];
    size_t ndrives;
    bool snapshot;
    char *drive_args[8]; /* -drive strings the drives point into */
    size_t ndrive_args;

    /* Display (-display, -vga, screendumps). */
    bool display_sdl;                 /* -display sdl */
    bool vga_none;                    /* -vga none */
    const char *screendump_file;      /* -device screendump-port,file=PATTERN */
    uint16_t screendump_port;         /* its iobase (0: absent) */
    const char *screendump_on_exit;   /* -screendump-on-exit FILE */

    /* Network (frontends/cmdline_net.c): -netdev, -nic, -net, -device ne2k_*,
     * -object filter-dump.  cfg.nic_model/nic_mac/nic_iobase/nic_irq are
     * filled here; main opens netdevs[nic_netdev] and sets cfg.nic_backend. */
    struct cmdline_netdev netdevs[4];
    unsigned nnetdevs;
    int nic_netdev; /* index into netdevs of the NIC's backend; -1: none */
    bool nic_given, nic_none, net_nic, net_user, nic_netdev_ref;
    char nic_netdev_id[32];
    const char *netdump_file; /* -object filter-dump: pcap of that netdev's frames */
    char netdump_netdev[32];
    char *net_args[16]; /* copies of the flags' strings the netdevs point into */
    size_t nnet_args;

    /* Informational requests: main prints and exits 0. */
    bool help, version, log_help;
};

/* Parse argv[1..argc-1] into *cl (overwritten, not freed).  Returns NULL on
 * success, or err holding a one-line message without the "umbra: " prefix
 * or a newline.  Strings in *cl point into argv or into memory owned by *cl
 * (release with cmdline_free, also after an error). */
const char *cmdline_parse(struct cmdline *cl, int argc, char **argv, char *err, size_t errlen);
void cmdline_free(struct cmdline *cl);

/* The network flags (cmdline_net.c), called by cmdline_parse. */
bool cmdline_is_nic_device(const char *device_arg);
const char *cmdline_parse_net(struct cmdline *cl, const char *opt, const char *v, char *err,
                              size_t errlen);
const char *cmdline_parse_object(struct cmdline *cl, const char *v, char *err, size_t errlen);
const char *cmdline_net_finish(struct cmdline *cl, char *err, size_t errlen);
/* XX:XX:XX:XX:XX:XX, unicast. */
bool cmdline_parse_mac(const char *s, uint8_t mac[6]);
/* [tcp|udp]:[haddr]:hport-[gaddr]:gport */
bool cmdline_parse_hostfwd(const char *s, struct net_hostfwd *f);

/* Text for -h and -d help. */
void cmdline_usage(FILE *out);
void cmdline_log_help(FILE *out);

/* Parse a QEMU size ("256", "256M", "1G", "1.5G", "524288k"; bare numbers are
 * MiB) into MiB, rounding partial MiB up.  Returns false if malformed. */
bool cmdline_parse_size_mb(const char *s, uint64_t *mb);

#endif
