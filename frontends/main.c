/*
 * main.c — the umbra program: parse the command line, check every input,
 * build the machine, boot a Linux bzImage or a Multiboot kernel (or the
 * firmware), run, and report how it ended.
 *
 * -kernel takes either format, as QEMU's does: a file with the Linux setup
 * header ("HdrS") is Linux, one with a multiboot magic number in its first
 * 8 KiB is Multiboot, anything else is refused by name.
 *
 * Everything that can fail because of the user's input fails before the
 * machine exists: files are read and parsed, and the kernel's layout is
 * checked against the RAM size, so a bad line never starts a guest.
 *
 * With no -kernel and nothing else to boot, Umbra boots its default guest:
 * Debian's i686 kernel and a busybox initramfs on a SYSLINUX disk that
 * roms/default-guest.sh builds from Debian packages at build time into
 * UMBRA_DEFAULT_GUEST_DIR, through the firmware like any disk (read-only:
 * -snapshot), with the shell on the serial console (stdio).  A drive (-hda,
 * -cdrom, -fda, -drive, -boot) or a firmware flag (-bios, -fw_cfg,
 * -debugcon) boots the firmware from the reset vector the same way
 * (frontends/firmware.c: Debian's SeaBIOS unless -bios says otherwise).
 * -demo boots the small demo guest (roms/demo.asm, embedded at build time),
 * which prints its banner through COM1 and exits through the isa-debug-exit
 * device with status 1 ((0 << 1) | 1).
 *
 * The only global is the terminal to restore from a fatal-signal handler;
 * main() owns it, as the design allows.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/fdc.h"
#include "devices/machine.h"
#include "frontends/block.h"
#include "frontends/chardev.h"
#include "frontends/cmdline.h"
#include "frontends/firmware.h"
#include "frontends/linuxboot.h"
#include "frontends/log.h"
#include "frontends/multiboot.h"
#include "frontends/net_slirp.h"
#include "frontends/netdump.h"
#include "frontends/screendump.h"
#include "frontends/sdl.h"
#include "frontends/vgafont.h"
#include "frontends/imagefile.h"

#ifndef UMBRA_VERSION
#define UMBRA_VERSION "unknown"
#endif

/* roms/roms.cmake generates these from roms/demo.asm. */
extern const unsigned char umbra_rom_demo[];
extern const size_t umbra_rom_demo_size;

#define EXC_RING 8

/* The last exceptions the CPU raised, for the triple-fault report. */
struct exc_entry {
    int vector;
    uint32_t error;
    uint16_t cs;
    uint32_t eip;
};
struct exc_ring {
    struct cpu *cpu;
    struct exc_entry e[EXC_RING];
    unsigned next, count;
};

static struct host_chardev *signal_tty; /* owned by main(); see the overview */

static void on_exception(void *opaque, int vector, uint32_t error_code, uint32_t eip)
{
    struct exc_ring *r = opaque;
    unsigned i = r->next;
    r->e[i].vector = vector;
    r->e[i].error = error_code;
    r->e[i].cs = r->cpu->seg[SEG_CS].sel;
    r->e[i].eip = eip;
    r->next = (i + 1) % EXC_RING;
    if (r->count < EXC_RING) r->count++;
}

static const char *exc_name(int v)
{
    static const char *const names[] = {"#DE", "#DB", "NMI",    "#BP", "#OF", "#BR", "#UD",
                                        "#NM", "#DF", "#MF(9)", "#TS", "#NP", "#SS", "#GP",
                                        "#PF", "#15", "#MF",    "#AC", "#MC", "#XM"};
    if (v >= 0 && v < (int)(sizeof names / sizeof names[0])) return names[v];
    return "#?";
}

static bool exc_has_error(int v)
{
    return v == EXC_DF || v == EXC_TS || v == EXC_NP || v == EXC_SS || v == EXC_GP || v == EXC_PF ||
           v == EXC_AC;
}

/* "#UD at 0008:00101234 -> #GP(0x0033) -> #DF -> #GP": the chain is the #DF,
 * what followed it, and before it every exception raised at the same CS:EIP
 * (the faults met while delivering the first one). */
static void report_triple_fault(const struct exc_ring *r, const struct cpu *cpu)
{
    int idx[EXC_RING], n = 0;
    for (unsigned k = 0; k < r->count; k++)
        idx[n++] = (int)((r->next + EXC_RING - r->count + k) % EXC_RING);
    int first = n > 3 ? n - 3 : 0;
    for (int k = n - 1; k >= 0; k--) {
        const struct exc_entry *df = &r->e[idx[k]];
        if (df->vector != EXC_DF) continue;
        first = k;
        while (first > 0 && r->e[idx[first - 1]].cs == df->cs &&
               r->e[idx[first - 1]].eip == df->eip && r->e[idx[first - 1]].vector != EXC_DF)
            first--;
        break;
    }
    fprintf(stderr, "umbra: guest triple fault: ");
    uint16_t last_cs = 0;
    uint32_t last_eip = 0;
    bool have_last = false;
    for (int k = first; k < n; k++) {
        const struct exc_entry *e = &r->e[idx[k]];
        if (k > first) fprintf(stderr, " -> ");
        fprintf(stderr, "%s", exc_name(e->vector));
        if (exc_has_error(e->vector) && e->vector != EXC_DF) fprintf(stderr, "(0x%04x)", e->error);
        if (!have_last || e->cs != last_cs || e->eip != last_eip)
            fprintf(stderr, " at %04x:%08x", e->cs, e->eip);
        last_cs = e->cs, last_eip = e->eip, have_last = true;
    }
    /* The fault that caused the shutdown may not have reached the hook. */
    bool shown = have_last && r->e[idx[n - 1]].vector == cpu->shutdown_reason;
    if (!shown) fprintf(stderr, "%s%s", have_last ? " -> " : "", exc_name(cpu->shutdown_reason));
    fprintf(stderr, "; CS:EIP %04x:%08x\n", cpu->shutdown_cs, cpu->shutdown_eip);
}

static void print_stats(struct machine *m)
{
    struct machine_stats s;
    machine_get_stats(m, &s);
    double mips = s.seconds > 0 ? (double)s.insns / s.seconds / 1e6 : 0;
    fprintf(stderr,
            "umbra: statistics\n"
            "  instructions retired  %llu\n"
            "  run time              %.3f s (%.1f MIPS)\n"
            "  block cache           %llu hits, %llu misses, %llu invalidations\n"
            "  soft TLB              %llu misses, %llu flushes\n"
            "  exceptions            %llu\n"
            "  interrupts            %llu\n"
            "  MMIO accesses         %llu\n"
            "  tracked writes        %llu\n",
            (unsigned long long)s.insns, s.seconds, mips, (unsigned long long)s.block_hits,
            (unsigned long long)s.block_misses, (unsigned long long)s.block_invalidations,
            (unsigned long long)s.tlb_misses, (unsigned long long)s.tlb_flushes,
            (unsigned long long)s.exceptions, (unsigned long long)s.interrupts,
            (unsigned long long)s.mmio_accesses, (unsigned long long)s.tracked_writes);
    const struct mmu_stats *u = &s.mmu;
#define C(x) (unsigned long long)(x)
    fprintf(stderr,
            "  MMU strategy          %s\n"
            "  CR3 loads             %llu (root cache: %llu hits, %llu misses)\n"
            "  guest walks           %llu; TLB misses served from shadow %llu\n"
            "  shadow pages          %llu built, %llu zapped, %llu unshadowed, %llu reclaimed, "
            "%llu live (%llu KiB)\n"
            "  shadow fills          %llu\n"
            "  write-protect traps   %llu\n"
            "  out-of-sync           %llu pages, %llu resyncs\n"
            "  INVLPGs               %llu\n"
            "  #PF delivered         %llu\n",
            s.mmu_walk ? "walk" : "shadow", C(u->cr3_loads), C(u->root_hits), C(u->root_misses),
            C(u->walks), C(u->tlb_hits_slow), C(u->shadow_built), C(u->shadow_zapped),
            C(u->shadow_unshadowed), C(u->shadow_reclaimed), C(u->shadow_pages),
            C(u->shadow_bytes / 1024), C(u->shadow_fills), C(u->wp_traps), C(u->oos_pages),
            C(u->oos_resyncs), C(u->invlpgs), C(u->pf_delivered));
#undef C
}

static void on_fatal_signal(int sig)
{
    if (signal_tty) chardev_restore_tty(signal_tty); /* async-signal-safe: one tcsetattr */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The host side of the display: the headless surface or the window, and
 * where screendumps go. */
struct display_host {
    struct fb_surface headless;
    struct sdl_display *sdl;
    const char *pattern; /* -device screendump-port,file= */
};

static const struct fb_surface *display_pixels(const struct display_host *d)
{
    return d->sdl ? sdl_display_surface(d->sdl) : &d->headless;
}

/* These boots run no VGA BIOS: load the text font it would have, from the
 * VGA BIOS image if there is one (else the seabios package's), so the text
 * console shows characters.  Without either the screen keeps a blank font. */
static void load_text_font(struct machine *m, const struct cmdline *cl)
{
    uint8_t *rom = NULL;
    size_t len = 0;
    char err[256];
    const uint8_t *font = NULL;
    if (cl->cfg.vga_bios)
        font = vgafont_find_8x16(cl->cfg.vga_bios, cl->cfg.vga_bios_size);
    else if (image_read_file(VGAFONT_DEFAULT_ROM, &rom, &len, err, sizeof err) == 0)
        font = vgafont_find_8x16(rom, len);
    if (font) machine_firmware_vga_font(m, font, 16);
    free(rom);
}

static void on_screendump(void *opaque, unsigned value)
{
    struct display_host *d = opaque;
    char path[4096], err[512];
    screendump_path(path, sizeof path, d->pattern, value);
    if (screendump_write_png(path, display_pixels(d), err, sizeof err))
        fprintf(stderr, "umbra: %s\n", err);
}

enum kernel_kind { KERNEL_DEMO, KERNEL_MULTIBOOT, KERNEL_LINUX };

/* Tell the two kernel formats apart from the start of the file (errors in
 * the file itself are the loaders' to report). */
static int detect_kernel(const char *path, enum kernel_kind *kind, char *err, size_t errlen)
{
    static uint8_t head[MULTIBOOT_SEARCH];
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open '%s'", path);
        return -1;
    }
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (linuxboot_probe(head, n)) {
        *kind = KERNEL_LINUX;
    } else if (multiboot_probe(head, n)) {
        *kind = KERNEL_MULTIBOOT;
    } else {
        snprintf(err, errlen,
                 "%s: not a Linux bzImage (no \"HdrS\" setup header) nor a Multiboot kernel (no "
                 "multiboot header in the first %u bytes)",
                 path, MULTIBOOT_SEARCH);
        return -1;
    }
    return 0;
}

static int load_linux(struct linuxboot *lb, const struct cmdline *cl, char *err, size_t errlen)
{
    if (linuxboot_load_file(lb, cl->kernel, err, errlen) ||
        linuxboot_set_cmdline(lb, cl->append, err, errlen))
        return -1;
    if (cl->nmodules > 1) {
        snprintf(err, errlen, "-initrd: a Linux kernel takes one initrd file, not a module list");
        return -1;
    }
    /* The whole -initrd entry is the file name (commas undoubled). */
    if (cl->nmodules == 1 && linuxboot_load_initrd_file(lb, cl->modules[0].string, err, errlen))
        return -1;
    lb->vga_text = !cl->vga_none; /* the VGA starts in 80x25 text */
    return linuxboot_place(lb, cl->cfg.ram_mb << 20, NULL, NULL, NULL, err, errlen);
}

static int load_multiboot(struct multiboot *mb, const struct cmdline *cl, char *err, size_t errlen)
{
    int r = cl->kernel ? multiboot_load_file(mb, cl->kernel, err, errlen)
                       : multiboot_parse(mb, "umbra-demo", umbra_rom_demo, umbra_rom_demo_size, err,
                                         errlen);
    if (r == 0) r = multiboot_set_cmdline(mb, cl->append, err, errlen);
    for (size_t i = 0; r == 0 && i < cl->nmodules; i++)
        r = multiboot_add_module_file(mb, cl->modules[i].path, cl->modules[i].string, err, errlen);
    if (r == 0) r = multiboot_place(mb, cl->cfg.ram_mb << 20, NULL, NULL, NULL, err, errlen);
    return r;
}

/* Floppy drives (-fda, -fdb, -drive if=floppy): an image whose file is not
 * writable is a write-protected disk (as a real disk's tab), and a size that
 * is no floppy format is refused before any guest runs, naming the file. */
static void protect_floppies(struct cmdline *cl)
{
    for (size_t i = 0; i < cl->ndrives; i++) {
        struct block_drive *d = &cl->drives[i];
        if (!d->floppy || !d->path) continue;
        /* No write permission bit at all counts too, so root sees a 0444
         * image as the write-protected disk its owner meant. */
        struct stat st;
        if (access(d->path, W_OK) != 0 ||
            (stat(d->path, &st) == 0 && !(st.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))))
            d->read_only = true;
    }
}

static int check_floppies(const struct cmdline *cl, char *err, size_t errlen)
{
    for (size_t i = 0; i < cl->ndrives; i++) {
        const struct block_drive *d = &cl->drives[i];
        const struct block_backend *b = d->floppy ? cl->cfg.floppy[d->index] : NULL;
        if (b && !fdc_geometry_for_size(b->size)) {
            snprintf(err, errlen, "-fd%c: '%s' is %llu bytes, not a floppy image (supported: %s)",
                     'a' + d->index, d->path, (unsigned long long)b->size,
                     fdc_supported_sizes());
            return -1;
        }
    }
    return 0;
}

/* Ctrl-A X, from the serial input thread.  The machine exists only after
 * the chardev it is handed to, hence the indirection (atomic: two threads). */
struct quit_target {
    struct machine *_Atomic m;
};

static void on_quit(void *opaque)
{
    struct quit_target *q = opaque;
    struct machine *m = atomic_load(&q->m);
    if (m) machine_request_stop(m, 0);
}

#ifndef UMBRA_DEFAULT_GUEST_DIR
#define UMBRA_DEFAULT_GUEST_DIR ""
#endif

/* Without -kernel: a disk to boot or a firmware flag asks for the firmware,
 * else the default guest boots. */
static bool boots_firmware(const struct cmdline *cl)
{
    return cl->bios || cl->n_fw_cfg || cl->debugcon || cl->ndrives || cl->cfg.boot_order[0];
}

/* Boot the default guest as a PC boots a disk: its SYSLINUX disk on the
 * primary master through the firmware, with -snapshot so the image is never
 * written, and the console on the terminal.  -m still applies. */
static int select_default_guest(struct cmdline *cl, char *path, size_t cap, char *err,
                                size_t errlen)
{
    const char *dir = UMBRA_DEFAULT_GUEST_DIR;
    snprintf(path, cap, "%.4000s/disk.img", dir);
    FILE *f = *dir ? fopen(path, "rb") : NULL;
    if (!f) {
        snprintf(err, errlen,
                 "no -kernel given, and the default guest is not built (%.160s missing; "
                 "build it with: roms/default-guest.sh %.160s); -demo runs the small built-in "
                 "demo guest",
                 *dir ? path : "this build has none", *dir ? dir : "DIR");
        return -1;
    }
    fclose(f);
    if (cl->ndrives >= sizeof cl->drives / sizeof cl->drives[0]) {
        snprintf(err, errlen, "too many drives");
        return -1;
    }
    cl->drives[cl->ndrives++] = (struct block_drive){
        .path = path, .format = BLOCK_FMT_RAW, .index = 0, .snapshot = true};
    if (cl->serial == SERIAL_DEFAULT && !cl->display_sdl) cl->nographic = true;
    return 0;
}

int main(int argc, char **argv)
{
    struct cmdline cl;
    char err[512];
    int status = 1;

    if (cmdline_parse(&cl, argc, argv, err, sizeof err)) {
        fprintf(stderr, "umbra: %s\n", err);
        cmdline_free(&cl);
        return 1;
    }
    if (cl.help || cl.version || cl.log_help) {
        if (cl.help)
            cmdline_usage(stdout);
        else if (cl.version)
            printf("umbra version " UMBRA_VERSION ", a pure-software x86 PC emulator\n");
        else
            cmdline_log_help(stdout);
        cmdline_free(&cl);
        return 0;
    }

    char default_disk[4096];
    bool firmware = !cl.kernel && !cl.demo && boots_firmware(&cl);
    if (!cl.kernel && !cl.demo && !firmware) {
        if (select_default_guest(&cl, default_disk, sizeof default_disk, err, sizeof err)) {
            fprintf(stderr, "umbra: %s\n", err);
            cmdline_free(&cl);
            return 1;
        }
        firmware = true;
    }
    if (cl.demo) {
        /* The demo reports through COM1 and exits through port 0xf4. */
        if (!cl.debug_exit_given) {
            cl.cfg.debug_exit = true;
            cl.cfg.debug_exit_base = 0xf4;
            cl.cfg.debug_exit_size = 4;
        }
        if (cl.serial == SERIAL_DEFAULT) cl.nographic = true;
    }

    struct multiboot mb;
    struct linuxboot lb;
    multiboot_init(&mb);
    linuxboot_init(&lb);
    struct log_sink log = {0};
    struct host_chardev serial;
    struct quit_target quit = {NULL};
    struct display_host display = {0};
    struct machine *m = NULL;
    bool serial_open = false;
    struct net_slirp *net = NULL;
    struct netdump *netdump = NULL;

    /* The firmware boots from the reset vector; a kernel is placed by its loader. */
    struct firmware fw = FIRMWARE_INIT;
    enum kernel_kind kind = KERNEL_DEMO;
    int r = firmware ? firmware_setup(&fw, &cl, err, sizeof err)
            : cl.kernel ? detect_kernel(cl.kernel, &kind, err, sizeof err)
                        : 0;
    if (r == 0 && !firmware)
        r = kind == KERNEL_LINUX ? load_linux(&lb, &cl, err, sizeof err)
                                 : load_multiboot(&mb, &cl, err, sizeof err);
    if (r == 0) r = log_open(&log, cl.log_file, err, sizeof err);
    /* Disk images: a bad or corrupt one fails here, naming the file. */
    protect_floppies(&cl);
    if (r == 0) r = block_open_drives(cl.drives, cl.ndrives, cl.snapshot, &cl.cfg, err, sizeof err);
    if (r == 0) r = check_floppies(&cl, err, sizeof err);
    if (r == 0) {
        /* -serial stdio keeps QEMU's mux escapes only with -nographic. */
        r = chardev_open(&serial, cl.serial, cl.serial_path, cl.nographic, on_quit, &quit, err,
                         sizeof err);
        serial_open = r == 0;
    }
    /* The NIC's backend: made now (the NIC takes it when the machine is
     * built), started once the machine's clock exists. */
    if (r == 0 && cl.nic_netdev >= 0) {
        net = net_slirp_open(&cl.netdevs[cl.nic_netdev].user, err, sizeof err);
        if (!net) r = -1;
    }
    if (r == 0 && net && cl.netdump_file &&
        !strcmp(cl.netdump_netdev, cl.netdevs[cl.nic_netdev].id)) {
        netdump = netdump_open(cl.netdump_file, net_slirp_backend(net), err, sizeof err);
        if (!netdump) r = -1;
    }
    if (r) {
        fprintf(stderr, "umbra: %s\n", err);
        goto out;
    }
    if (net) cl.cfg.nic_backend = netdump ? netdump_backend(netdump) : net_slirp_backend(net);

    cl.cfg.serial0 = serial.be;
    cl.cfg.log = log_printf;
    cl.cfg.log_opaque = &log;

    /* The window when asked for, or by default when there is a display
     * server to show it on; otherwise a headless surface, kept only when
     * something will read it (a screendump). */
    bool want_sdl = !cl.vga_none && !cl.display_none && !cl.nographic &&
                    (cl.display_sdl || getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"));
    if (want_sdl) {
        display.sdl = sdl_display_open(err, sizeof err);
        if (!display.sdl) {
            if (cl.display_sdl) {
                fprintf(stderr, "umbra: -display sdl: %s\n", err);
                goto out;
            }
            fprintf(stderr, "umbra: no window (%s); running headless\n", err);
        }
    }
    if (display.sdl)
        cl.cfg.display = sdl_display_backend(display.sdl);
    else if (cl.screendump_file || cl.screendump_on_exit)
        cl.cfg.display = headless_display(&display.headless);
    cl.cfg.no_vga = cl.vga_none;
    display.pattern = cl.screendump_file;
    if (cl.screendump_file) {
        cl.cfg.screendump = on_screendump;
        cl.cfg.screendump_opaque = &display;
    }
    m = machine_create(&cl.cfg, err, sizeof err);
    if (!m) {
        fprintf(stderr, "umbra: %s\n", err);
        goto out;
    }
    if (net && !net_slirp_start(net, machine_clock(m), err, sizeof err)) {
        fprintf(stderr, "umbra: %s\n", err);
        goto out;
    }
    /* Received frames go to the NIC's receiving side, through the capture
     * if there is one. */
    if (net) {
        struct net_client nic = machine_net_client(m);
        net_slirp_set_client(net, netdump ? netdump_client(netdump, nic) : nic);
    }
    atomic_store(&quit.m, m);
    if (display.sdl) {
        sdl_display_set_input(display.sdl, machine_input(m), on_quit, &quit);
        sdl_display_set_status(display.sdl, "running");
    }

    struct exc_ring ring = {.cpu = machine_cpu(m)};
    machine_cpu(m)->hooks.opaque = &ring;
    machine_cpu(m)->hooks.exception = on_exception;
    if (kind == KERNEL_LINUX)
        machine_set_boot_hook(m, linuxboot_boot_hook, &lb);
    else if (!firmware)
        machine_set_boot_hook(m, multiboot_boot_hook, &mb);
    machine_reset(m); /* machine_create reset it before the hook existed */
    if (!cl.vga_none) load_text_font(m, &cl);

    signal_tty = &serial;
    signal(SIGTERM, on_fatal_signal);
    signal(SIGHUP, on_fatal_signal);
    signal(SIGINT, on_fatal_signal);
    signal(SIGQUIT, on_fatal_signal);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout drops serial output instead */

    status = machine_run(m);

    if (machine_stop_reason(m) == STOP_TRIPLE_FAULT) report_triple_fault(&ring, machine_cpu(m));
    if (machine_stop_reason(m) == STOP_HALTED)
        fprintf(stderr, "umbra: the guest halted the CPU with interrupts disabled (powered off)\n");
    if (cl.stats) print_stats(m);
    if (cl.screendump_on_exit) {
        machine_display_update(m, true);
        if (screendump_write_png(cl.screendump_on_exit, display_pixels(&display), err, sizeof err))
            fprintf(stderr, "umbra: %s\n", err);
    }

out:
    if (serial_open) chardev_close(&serial);
    signal_tty = NULL;
    /* Before the machine: libslirp's timers live on the machine's clock. */
    net_slirp_close(net);
    netdump_close(netdump);
    machine_destroy(m);
    block_close_drives(&cl.cfg);
    if (display.sdl) sdl_display_close(display.sdl);
    fb_surface_free(&display.headless);
    log_close(&log);
    multiboot_free(&mb);
    linuxboot_free(&lb);
    firmware_free(&fw);
    cmdline_free(&cl);
    return status;
}
