/*
 * machine.h — one emulated PC: the configuration a frontend fills in, and the
 * machine that pc.c assembles from it.  All mutable state hangs off struct
 * machine (no globals), so two machines can live in one process.
 *
 * Host resources reach devices only through the small backend structs here;
 * frontends/ implements them.
 */
#ifndef UMBRA_MACHINE_H
#define UMBRA_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "mmu/mmu.h"

/* Character backend (a UART's host side): struct chardev, in its own header
 * so devices can use it without including the CPU's. */
#include "devices/block.h"
#include "devices/chardev.h"
#include "devices/net.h"
#include "devices/display.h"
#include "devices/input.h"

struct machine_config {
    uint32_t ram_mb;          /* 1 .. 3584 */
    enum mmu_strategy mmu_strategy; /* -mmu shadow (default) | walk */
    bool no_reboot;           /* triple fault / reset exits instead */
    bool icount;              /* deterministic time from retired instructions */
    unsigned icount_shift;    /* 1 instruction = 2^shift ns (default 0) */
    unsigned log_mask;        /* LOG_* categories (cpu/cpu.h) */
    bool debug_exit;          /* isa-debug-exit present */
    uint16_t debug_exit_base; /* default 0xf4 */
    uint16_t debug_exit_size; /* default 4 */
    struct chardev serial0;   /* COM1 backend; write == NULL means no backend */
    struct chardev serial1;   /* COM2 (0x2f8, IRQ 3) backend; default none */
    /* RTC time at machine creation, seconds since 1970 UTC; 0 = the host's
     * wall clock, or with -icount the fixed RTC_FIXED_EPOCH (2024-01-01) so
     * runs are reproducible. */
    int64_t rtc_start;
    /* Firmware (roms/, loaded by the frontend): with no -kernel the CPU
     * starts at the reset vector in `bios` (mapped below 4 GiB, its last
     * 128 KiB also at 0xe0000); `vga_bios` is the VGA's PCI option ROM.
     * NULL = none. */
    const uint8_t *bios;
    size_t bios_size;
    const uint8_t *vga_bios;
    size_t vga_bios_size;
    bool serial_console; /* -nographic: firmware prints to COM1 too */
    /* -debugcon: QEMU's isa-debugcon at port 0x402 (SeaBIOS's debug log);
     * write == NULL means no device. */
    struct chardev debugcon;
    /* -fw_cfg name=N,file=F|string=S: extra fw_cfg files for the firmware
     * (e.g. "genroms/x.bin", an option ROM SeaBIOS runs); data is the
     * frontend's. */
    struct machine_fw_file {
        const char *name;
        const uint8_t *data;
        size_t size;
    } fw_files[8];
    unsigned n_fw_files;
    /* Storage, opened by the frontend (frontends/block.h) and owned by it.
     * ide[]: primary master, primary slave, secondary master, secondary
     * slave; NULL = no drive. */
    struct block_backend *ide[4];
    bool ide_cdrom[4]; /* ATAPI CD-ROM rather than an ATA disk */
    struct block_backend *floppy[2];
    /* Firmware boot order, QEMU's letters: a floppy, c disk, d CD-ROM, n
     * network; "" = the default ("cad"). */
    char boot_order[8];
    /* Display: the VGA renders into this host surface at ~60 Hz of guest
     * time (resize == NULL: no surface, nothing is rendered). */
    struct display_backend display;
    bool no_vga; /* -vga none: no display card at all */
    /* Umbra's test-only screendump port (devices/screendump_port.h): 0 =
     * absent.  A byte written to it renders the screen and calls
     * screendump(opaque, byte), which saves the display surface. */
    uint16_t screendump_port;
    void (*screendump)(void *opaque, unsigned value);
    void *screendump_opaque;
    /* Network (frontends/ opens the backend): one NE2000, PCI (RTL8029) or
     * ISA at nic_iobase/nic_irq, with this MAC address. */
    enum nic_model nic_model;
    struct net_backend *nic_backend;
    uint8_t nic_mac[6];
    uint16_t nic_iobase; /* ISA only */
    uint8_t nic_irq;     /* ISA only */
    /* Log sink for -d / -D. */
    void (*log)(void *opaque, unsigned category, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    void *log_opaque;
};

struct machine;

/* Build a machine; on failure returns NULL with a message in err. */
struct machine *machine_create(const struct machine_config *cfg, char *err, size_t errlen);
void machine_destroy(struct machine *m);

struct cpu *machine_cpu(struct machine *m);
struct mmu *machine_mmu(struct machine *m);
/* The machine's clock, for host backends whose timers must run on guest
 * time (frontends/net_slirp.c). */
struct clock;
struct clock *machine_clock(struct machine *m);

/* Keyboard and mouse events from the frontend (SDL window, tests). */
struct input_sink machine_input(struct machine *m);

/* The NIC's receiving side, for the network backend (all NULL without a
 * NIC). */
struct net_client machine_net_client(struct machine *m);

/* Render the VGA into cfg.display now (everything if full), e.g. before
 * saving a screendump at exit. */
void machine_display_update(struct machine *m, bool full);

/* What the VGA BIOS would have done for a boot without firmware: load an
 * 8x`height` text font (256 glyphs) into the VGA's plane 2. */
void machine_firmware_vga_font(struct machine *m, const uint8_t *glyphs, unsigned height);

/* What firmware would have done, for loaders that boot without one:
 * place PCI BARs, route PCI interrupts (PIRQ A-D to IRQ 10/10/11/11,
 * level-triggered in the ELCR) and write each device's interrupt line. */
void machine_firmware_pci_setup(struct machine *m);
/* Write an Intel MP table describing the machine (CPU, buses, I/O APIC,
 * interrupt routing) at guest-physical gpa, 16-byte aligned, in a place the
 * OS searches (e.g. 0x9fc00, the last KiB of base memory, reserved in the
 * memory map).  Call after machine_firmware_pci_setup.  Returns the bytes
 * written, 0 on error. */
size_t machine_write_mptable(struct machine *m, uint32_t gpa);

/* Called on reset (power-on and guest-requested resets): the frontend's
 * loader places the kernel and sets the CPU state.  Without one, the CPU
 * starts at the reset vector. */
void machine_set_boot_hook(struct machine *m, void (*hook)(void *opaque, struct machine *m),
                           void *opaque);
void machine_reset(struct machine *m);

/* Run until the guest exits (debug-exit port, triple fault with
 * -no-reboot, a CPU halted for good -- how an OS without ACPI powers off --
 * or machine_request_stop). Returns the process exit status. */
int machine_run(struct machine *m);
void machine_request_stop(struct machine *m, int status);

/* What stopped the machine (for the frontend's message). */
enum machine_stop_reason {
    STOP_NONE,
    STOP_DEBUG_EXIT,
    STOP_TRIPLE_FAULT,
    STOP_RESET,  /* a reset request with -no-reboot */
    STOP_REQUEST,
    STOP_HALTED, /* HLT with interrupts disabled and no NMI source: stopped for good */
};
enum machine_stop_reason machine_stop_reason(struct machine *m);

/* Statistics for the --stats flag. */
struct machine_stats {
    uint64_t insns;
    double seconds; /* host wall clock spent in machine_run */
    uint64_t block_hits, block_misses, block_invalidations;
    uint64_t exceptions, interrupts;
    uint64_t tlb_misses, tlb_flushes, mmio_accesses, tracked_writes;
    bool mmu_walk;         /* -mmu walk in force */
    struct mmu_stats mmu; /* every MMU counter (shadow paging, TLB) */
};
void machine_get_stats(struct machine *m, struct machine_stats *out);

#endif
