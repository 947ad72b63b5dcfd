/*
 * pc.c — the PC: builds struct machine from struct machine_config, wires the
 * devices to the bus, the PIC and the clock, and runs the CPU in slices that
 * end at the clock's next deadline (machine.h is the contract).
 *
 * Interrupt path: ISA devices raise lines on the PIIX3, which ORs them with
 * the routed PCI interrupts and drives the 8259 pair and the I/O APIC; the
 * 8259's INTR is the local APIC's LINT0, and the local APIC drives the
 * CPU's INTR and answers its acknowledge (passing the 8259 through while it
 * is disabled, so a PIC-only guest sees a PIC-only PC).  The I/O APIC's
 * messages go to the local APIC, whose level EOIs come back to it.  The
 * CPU's IA32_APIC_BASE is read back between slices and at each acknowledge,
 * since the CPU has no hook for MSR writes.  The A20 gate has two drivers,
 * port 0x92 and the 8042's output port; the last one written wins, as on
 * QEMU's PC (the PIIX's OR of the two would leave the 8042 powerless after
 * port 0x92's A20-on reset state).
 *
 * A CPU halted with interrupts disabled and no possible NMI ends the run
 * (status 0): that is an OS without ACPI powering off, and waiting would
 * only burn host time until someone kills the process.
 *
 * Design choice: the run loop owns time.  Each slice runs the CPU for the
 * clock's budget, accounts the instructions retired to the clock (icount)
 * and fires expired timers; a halted CPU lets time jump (icount) or sleeps
 * (host) to the next deadline.  Guest-requested resets and stops arrive from
 * inside an I/O instruction, so they only set a flag and ask the CPU to exit;
 * the loop acts on them between slices.
 */
#include "devices/machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devices/bus.h"
#include "devices/clock.h"
#include "devices/debugcon.h"
#include "devices/debugexit.h"
#include "devices/dma.h"
#include "devices/fdc.h"
#include "devices/irq.h"
#include "devices/log.h"
#include "devices/i440fx.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/mptable.h"
#include "devices/ne2000.h"
#include "devices/pci.h"
#include "devices/pic.h"
#include "devices/piix3.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/ferr.h"
#include "devices/fwcfg.h"
#include "devices/pcbios.h"
#include "devices/ide.h"
#include "devices/sysctl.h"
#include "devices/uart.h"
#include "devices/vga.h"
#include "devices/screendump_port.h"

_Static_assert(DEV_LOG_UNIMP == LOG_UNIMP, "devices/log.h mirrors cpu/cpu.h");
_Static_assert(DEV_LOG_GUEST_ERRORS == LOG_GUEST_ERRORS, "devices/log.h mirrors cpu/cpu.h");

/* Longest host sleep while halted, so stop requests are seen promptly. */
#define IDLE_MAX_NS 10000000u
/* How often, in host time, the run loop polls the network backend: often
 * enough that a frame waits about a millisecond, seldom enough that the
 * poll's system call is lost in the instructions between. */
#define NET_POLL_NS 1000000u

struct machine {
    struct machine_config cfg;
    struct dev_log log;
    struct cpu cpu;
    struct mmu mmu;
    struct clock clock;
    struct bus bus;
    struct pic pic;
    struct pit pit;
    struct rtc rtc;
    struct i8042 kbc;
    struct pci_bus pci;
    struct i440fx i440fx;
    struct piix3 piix3;
    struct lapic lapic;
    struct ioapic ioapic;
    struct uart com1, com2;
    struct debugexit debugexit;
    struct sysctl sysctl;
    struct ferr ferr;
    struct fwcfg fwcfg; /* with firmware only (cfg.bios) */
    struct debugcon debugcon;
    struct ide ide;
    struct ne2000 nic; /* cfg.nic_model != NIC_NONE */
    struct dma dma;
    struct fdc fdc;
    struct vga vga;
    struct screendump_port screendump;
    bool cpu_ready, mmu_ready, fwcfg_ready;

    void (*boot_hook)(void *opaque, struct machine *m);
    void *boot_opaque;

    volatile bool stop;
    bool reset_pending;
    int exit_status;
    enum machine_stop_reason reason;
    uint64_t slice_base; /* cpu.stats.insns when the current slice began */
    double seconds;
    uint64_t net_polled; /* host ns (CLOCK_MONOTONIC) of the last network poll */
};

/* --- glue between the CPU and the devices --- */

static void cpu_intr_line(void *opaque, int line, bool level)
{
    cpu_set_irq(&((struct machine *)opaque)->cpu, level);
}

/* The CPU may have written IA32_APIC_BASE since we last looked. */
static void sync_apic_base(struct machine *m)
{
    if (m->cpu.apic_base != m->lapic.base_msr)
        lapic_set_base(&m->lapic, m->cpu.apic_base);
}

static uint8_t cpu_intr_ack(void *opaque)
{
    struct machine *m = opaque;
    sync_apic_base(m);
    return lapic_ack(&m->lapic);
}

static void cpu_nmi(void *opaque) { cpu_set_nmi(&((struct machine *)opaque)->cpu); }

static uint8_t pic_intack(void *opaque) { return pic_ack(&((struct machine *)opaque)->pic); }

static void lapic_eoi(void *opaque, uint8_t vector)
{
    ioapic_eoi(&((struct machine *)opaque)->ioapic, vector);
}

static void ioapic_message(void *opaque, uint8_t dest, bool logical, unsigned mode,
                           uint8_t vector, bool level)
{
    lapic_deliver(&((struct machine *)opaque)->lapic, dest, logical, mode, vector, level);
}

static void input_key_cb(void *opaque, unsigned code, bool down)
{
    i8042_key(&((struct machine *)opaque)->kbc, code, down);
}

static void input_mouse_cb(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    i8042_mouse(&((struct machine *)opaque)->kbc, dx, dy, dz, buttons);
}

static uint64_t cpu_tsc_now(void *opaque) { return clock_now_ns(&((struct machine *)opaque)->clock); }

static uint64_t clock_inflight(void *opaque)
{
    struct machine *m = opaque;
    return m->cpu.stats.insns > m->slice_base ? m->cpu.stats.insns - m->slice_base : 0;
}

static void set_a20(void *opaque, bool on) { mmu_set_a20(&((struct machine *)opaque)->mmu, on); }

static void guest_reset(void *opaque)
{
    struct machine *m = opaque;
    m->reset_pending = true;
    cpu_request_exit(&m->cpu);
}

static void debug_exit(void *opaque, int status)
{
    struct machine *m = opaque;
    machine_request_stop(m, status);
    m->reason = STOP_DEBUG_EXIT;
}

static void screendump_request(void *opaque, unsigned value)
{
    struct machine *m = opaque;
    if (!m->cfg.no_vga) vga_render(&m->vga, false);
    if (m->cfg.screendump) m->cfg.screendump(m->cfg.screendump_opaque, value);
}

/* --- assembly --- */

/* The PCI hole: memory BARs are decoded from the top of RAM up to the
 * I/O APIC. */
#define PCI_HOLE_END IOAPIC_BASE_DEFAULT

/* The hard-disk bytes of the CMOS, as QEMU's PC fills them for SeaBIOS:
 * types 0x12/0x19/0x1A, parameter tables at 0x1B and 0x24 for the two
 * primary drives, and the INT 13h translation of drives 0-3 at 0x39 (2 bits
 * each: 0 none, 1 LBA -- LBA once the disk has more than 1024 cylinders). */
static void cmos_disk_setup(struct machine *m)
{
    uint8_t types = 0, trans = 0;
    for (int n = 0; n < 4; n++) {
        uint16_t c;
        uint8_t h, s;
        if (ide_disk_geometry(&m->ide, n, &c, &h, &s)) continue;
        if (c > 1024) trans |= (uint8_t)(1u << (2 * n));
        if (n > 1) continue;
        uint8_t t = n ? 0x24 : 0x1b;
        const uint8_t tbl[9] = {(uint8_t)c, (uint8_t)(c >> 8), h, 0xff, 0xff,
                                (uint8_t)(0xc0 | (h > 8 ? 0x08 : 0)), (uint8_t)c,
                                (uint8_t)(c >> 8), s};
        rtc_cmos_set(&m->rtc, (uint8_t)(0x19 + n), 47); /* user-defined type */
        for (int i = 0; i < 9; i++)
            rtc_cmos_set(&m->rtc, (uint8_t)(t + i), tbl[i]);
        types |= n ? 0x0f : 0xf0;
    }
    rtc_cmos_set(&m->rtc, 0x12, types);
    rtc_cmos_set(&m->rtc, 0x39, trans);
    rtc_cmos_update_checksum(&m->rtc);
}

static int machine_wire(struct machine *m, char *err, size_t errlen)
{
    const struct machine_config *cfg = &m->cfg;
    uint32_t ram_top = cfg->ram_mb << 20;

    clock_init(&m->clock, cfg->icount, cfg->icount_shift);
    clock_set_inflight(&m->clock, clock_inflight, m);
    bus_init(&m->bus, &m->log);

    m->cpu.io = (struct cpu_io){&m->bus, bus_in, bus_out};
    m->cpu.intr = (struct cpu_intr){m, cpu_intr_ack};
    m->cpu.tsc_now = cpu_tsc_now;
    m->cpu.tsc_opaque = m;

    /* The interrupt controllers, from the CPU outwards. */
    lapic_init(&m->lapic, &m->clock, 0, (struct irq_line){cpu_intr_line, m, 0}, cpu_nmi,
               pic_intack, lapic_eoi, m, &m->log);
    ioapic_init(&m->ioapic, 1, ioapic_message, m, &m->log);
    if (pic_init(&m->pic, &m->bus, lapic_lint_line(&m->lapic, 0), &m->log, err, errlen))
        return -1;

    /* PCI: host bridge at 00.0, ISA bridge at 01.0 (whose ISA IRQ lines
     * feed the 8259s and the I/O APIC). */
    if (pci_bus_init(&m->pci, &m->bus, ram_top, PCI_HOLE_END - ram_top, &m->log, err, errlen) ||
        i440fx_init(&m->i440fx, &m->pci, err, errlen) ||
        piix3_init(&m->piix3, &m->pci, 0x08, pic_irq_line(&m->pic, 0),
                   ioapic_irq_line(&m->ioapic, 0), guest_reset, m, err, errlen))
        return -1;
#define ISA_IRQ(n) piix3_isa_irq(&m->piix3, (n))

    int64_t rtc_start = cfg->rtc_start ? cfg->rtc_start
                        : cfg->icount  ? RTC_FIXED_EPOCH
                                       : (int64_t)time(NULL);
    if (pit_init(&m->pit, &m->bus, &m->clock, ISA_IRQ(0), &m->log, err, errlen) ||
        rtc_init(&m->rtc, &m->bus, &m->clock, ISA_IRQ(8), rtc_start, &m->log, err, errlen) ||
        i8042_init(&m->kbc, &m->bus, ISA_IRQ(1), ISA_IRQ(12), set_a20, guest_reset, m, &m->log,
                   err, errlen) ||
        uart_init(&m->com1, &m->bus, 0x3f8, ISA_IRQ(4), &m->clock, &cfg->serial0, &m->log, err,
                  errlen) ||
        uart_init(&m->com2, &m->bus, 0x2f8, ISA_IRQ(3), &m->clock, &cfg->serial1, &m->log, err,
                  errlen) ||
        sysctl_init(&m->sysctl, &m->bus, set_a20, guest_reset, m, err, errlen) ||
        ferr_init(&m->ferr, &m->bus, ISA_IRQ(13), err, errlen))
        return -1;
    /* PIIX3 function 1: the IDE controller on IRQ 14 and 15. */
    if (ide_init(&m->ide, &m->pci, &m->bus, &m->mmu, ISA_IRQ(14), ISA_IRQ(15), cfg->ide,
                 cfg->ide_cdrom, 0x09, &m->log, err, errlen))
        return -1;
    /* The 8237 pair, and the floppy controller on IRQ 6 and DMA channel 2. */
    if (dma_init(&m->dma, &m->bus, &m->mmu, &m->log, err, errlen) ||
        fdc_init(&m->fdc, &m->bus, &m->clock, ISA_IRQ(6), &m->dma, 2, cfg->floppy, &m->log, err,
                 errlen))
        return -1;
    /* The NE2000: an RTL8029 in PCI slot 3 on INTA#, or an ISA board
     * (default 0x300, IRQ 9). */
    if (cfg->nic_model == NIC_NE2K_PCI || cfg->nic_model == NIC_NE2K_ISA) {
        uint8_t nic_irq = cfg->nic_irq ? cfg->nic_irq : 9;
        if (nic_irq > 15) {
            snprintf(err, errlen, "NE2000: IRQ %u out of range (0..15)", nic_irq);
            return -1;
        }
        if (ne2000_init(&m->nic, cfg->nic_model, &m->pci, 0x18, &m->bus,
                        cfg->nic_iobase ? cfg->nic_iobase : 0x300, ISA_IRQ(nic_irq), cfg->nic_mac,
                        cfg->nic_backend, &m->log, err, errlen))
            return -1;
    }
    m->cpu.fpu.ferr_changed = ferr_set_level;
    m->cpu.fpu.ferr_opaque = &m->ferr;
#undef ISA_IRQ
    rtc_cmos_setup(&m->rtc, (uint64_t)cfg->ram_mb << 20, fdc_cmos_types(&m->fdc));
    cmos_disk_setup(m);

    /* Memory-mapped: the APICs, and the PCI hole for memory BARs. */
    if (mmu_map_mmio(&m->mmu, IOAPIC_BASE_DEFAULT, PAGE_SIZE, &ioapic_mmio_ops, &m->ioapic,
                     "ioapic") ||
        mmu_map_mmio(&m->mmu, LAPIC_BASE_DEFAULT, PAGE_SIZE, &lapic_mmio_ops, &m->lapic,
                     "lapic") ||
        mmu_map_mmio(&m->mmu, ram_top, PCI_HOLE_END - ram_top, &pci_mem_window_ops, &m->pci,
                     "pci-hole")) {
        snprintf(err, errlen, "cannot map the APIC and PCI memory regions");
        return -1;
    }
    /* Firmware: the BIOS image, shadow RAM under PAM, fw_cfg and the CMOS
     * bytes it reads (pcbios.c). */
    if (cfg->bios) {
        if (pcbios_map(&m->mmu, &m->i440fx, cfg->bios, cfg->bios_size, err, errlen) ||
            fwcfg_init(&m->fwcfg, &m->bus, &m->mmu, &m->log, err, errlen))
            return -1;
        m->fwcfg_ready = true;
        if (pcbios_fwcfg_setup(&m->fwcfg, cfg)) {
            snprintf(err, errlen, "-fw_cfg: a file name is repeated, too long (55 characters "
                                  "at most) or one too many");
            return -1;
        }
        pcbios_cmos_setup(&m->rtc, cfg);
    }
    if (cfg->debugcon.write && debugcon_init(&m->debugcon, &m->bus, &cfg->debugcon, err, errlen))
        return -1;
    if (cfg->debug_exit &&
        debugexit_init(&m->debugexit, &m->bus, cfg->debug_exit_base ? cfg->debug_exit_base : 0xf4,
                       cfg->debug_exit_size ? cfg->debug_exit_size : 4, debug_exit, m, err,
                       errlen))
        return -1;
    /* The VGA last: its framebuffer BAR maps over the PCI hole. */
    if (!cfg->no_vga &&
        vga_init(&m->vga, &m->pci, &m->bus, &m->mmu, &m->clock, cfg->vga_bios, cfg->vga_bios_size,
                 &cfg->display, &m->log, err, errlen))
        return -1;
    if (cfg->screendump_port &&
        screendump_port_init(&m->screendump, &m->bus, cfg->screendump_port, screendump_request, m,
                             err, errlen))
        return -1;
    return 0;
}

struct machine *machine_create(const struct machine_config *cfg, char *err, size_t errlen)
{
    if (cfg->ram_mb < 1 || cfg->ram_mb > 3584) {
        snprintf(err, errlen, "RAM size %u MiB out of range (1..3584)", cfg->ram_mb);
        return NULL;
    }
    struct machine *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg = *cfg;
    m->log = (struct dev_log){cfg->log_mask, cfg->log, cfg->log_opaque};

    int r = mmu_init(&m->mmu, cfg->ram_mb << 20);
    if (r) {
        snprintf(err, errlen, "cannot allocate %u MiB of guest RAM: %s", cfg->ram_mb,
                 strerror(r < 0 ? -r : r));
        machine_destroy(m);
        return NULL;
    }
    m->mmu_ready = true;
    mmu_set_strategy(&m->mmu, cfg->mmu_strategy);
    m->mmu.log_mask = cfg->log_mask;
    m->mmu.log = cfg->log;
    m->mmu.log_opaque = cfg->log_opaque;

    if (cpu_init(&m->cpu, &m->mmu)) {
        snprintf(err, errlen, "cannot initialise the CPU");
        machine_destroy(m);
        return NULL;
    }
    m->cpu_ready = true;
    m->cpu.log_mask = cfg->log_mask;
    m->cpu.log = cfg->log;
    m->cpu.log_opaque = cfg->log_opaque;

    if (machine_wire(m, err, errlen)) {
        machine_destroy(m);
        return NULL;
    }
    machine_reset(m);
    return m;
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    if (m->fwcfg_ready)
        fwcfg_destroy(&m->fwcfg);
    if (m->cpu_ready)
        cpu_destroy(&m->cpu);
    if (m->mmu_ready)
        mmu_destroy(&m->mmu);
    vga_destroy(&m->vga);
    free(m);
}

struct cpu *machine_cpu(struct machine *m) { return &m->cpu; }
struct mmu *machine_mmu(struct machine *m) { return &m->mmu; }

void machine_set_boot_hook(struct machine *m, void (*hook)(void *opaque, struct machine *m),
                           void *opaque)
{
    m->boot_hook = hook;
    m->boot_opaque = opaque;
}

void machine_reset(struct machine *m)
{
    m->reset_pending = false;
    pic_reset(&m->pic);
    pit_reset(&m->pit);
    rtc_reset(&m->rtc);
    i8042_reset(&m->kbc);
    uart_reset(&m->com1);
    uart_reset(&m->com2);
    pci_bus_reset(&m->pci);
    i440fx_reset(&m->i440fx);
    piix3_reset(&m->piix3);
    ide_reset(&m->ide);
    if (m->cfg.nic_model != NIC_NONE) ne2000_reset(&m->nic);
    if (!m->cfg.no_vga) vga_reset(&m->vga);
    screendump_port_reset(&m->screendump);
    ioapic_reset(&m->ioapic);
    lapic_reset(&m->lapic);
    sysctl_reset(&m->sysctl);
    ferr_reset(&m->ferr);
    dma_reset(&m->dma);
    fdc_reset(&m->fdc);
    debugexit_reset(&m->debugexit);
    if (m->fwcfg_ready)
        fwcfg_reset(&m->fwcfg);
    cpu_reset(&m->cpu);
    sync_apic_base(m);
    m->slice_base = m->cpu.stats.insns; /* in case the reset cleared the counters */
    if (m->boot_hook)
        m->boot_hook(m->boot_opaque, m);
}

/* --- the run loop --- */

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Could anything still wake a CPU halted with IF=0?  Only an NMI (there is
 * no SMI or INIT source): one pending, or one a device may yet send -- LINT0
 * (the 8259) set to NMI delivery, or an unmasked I/O APIC pin in NMI mode.
 * LINT1 and the thermal and performance LVTs have no source on this
 * machine, and the timer and error LVTs always deliver fixed interrupts. */
#define APIC_ENTRY_MASKED 0x10000u /* bit 16 of an LVT or redirection entry */
#define APIC_ENTRY_MODE(e) (((e) >> 8) & 7)

static bool nmi_possible(const struct machine *m)
{
    if (m->cpu.nmi_pending) return true;
    const struct lapic *l = &m->lapic;
    uint32_t l0 = l->lvt[LVT_LINT0];
    if (lapic_enabled(l) && !(l0 & APIC_ENTRY_MASKED) && APIC_ENTRY_MODE(l0) == APIC_DM_NMI)
        return true;
    for (unsigned i = 0; i < IOAPIC_PINS; i++) {
        uint64_t e = m->ioapic.redir[i];
        if (!(e & APIC_ENTRY_MASKED) && APIC_ENTRY_MODE(e) == APIC_DM_NMI) return true;
    }
    return false;
}

static void stop_with(struct machine *m, enum machine_stop_reason reason, int status)
{
    machine_request_stop(m, status);
    m->reason = reason;
}

static uint64_t host_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The network backend's sockets are polled from here, on the one emulator
 * thread, at least every NET_POLL_NS of host time and whenever the CPU
 * halts; received frames reach the NIC from inside the poll. */
static void net_poll(struct machine *m, int64_t max_wait_ns)
{
    struct net_backend *be = m->cfg.nic_backend;
    be->poll(be->opaque, max_wait_ns);
    m->net_polled = host_ns();
}

struct clock *machine_clock(struct machine *m) { return &m->clock; }

int machine_run(struct machine *m)
{
    double start = wall_seconds();
    bool net = m->cfg.nic_backend && m->cfg.nic_backend->poll;
    while (!m->stop) {
        sync_apic_base(m);
        clock_run_timers(&m->clock);
        int64_t budget = clock_budget(&m->clock);
        /* -icount slices run to the next deadline, which may be far off in
         * host time; the network must still be polled. */
        if (net && budget > CLOCK_HOST_SLICE) budget = CLOCK_HOST_SLICE;
        m->slice_base = m->cpu.stats.insns;
        enum cpu_exit r = cpu_run(&m->cpu, budget);
        clock_account_insns(&m->clock, clock_inflight(m));
        m->slice_base = m->cpu.stats.insns;
        if (net && host_ns() - m->net_polled >= NET_POLL_NS) net_poll(m, 0);

        if (r == CPU_EXIT_SHUTDOWN) {
            /* A reset requested earlier in the same block (SeaBIOS writes
             * 0xcf9 and then faults on purpose) came first. */
            if (m->cfg.no_reboot && m->reset_pending) {
                stop_with(m, STOP_RESET, 0);
                break;
            }
            if (m->cfg.no_reboot) {
                stop_with(m, STOP_TRIPLE_FAULT, 2);
                break;
            }
            machine_reset(m);
            continue;
        }
        if (m->reset_pending) {
            if (m->cfg.no_reboot) {
                stop_with(m, STOP_RESET, 0);
                break;
            }
            machine_reset(m);
            continue;
        }
        /* cli; hlt is how Linux halts a machine it cannot power off
         * (no ACPI): nothing will ever run again, so this is the end. */
        if (r == CPU_EXIT_HALT && !(cpu_get_eflags(&m->cpu) & FL_IF) && !nmi_possible(m)) {
            stop_with(m, STOP_HALTED, 0);
            break;
        }
        /* Halted: if no timer is due (one might raise the interrupt that
         * wakes the CPU), let time pass to the next deadline. */
        if (r == CPU_EXIT_HALT && !m->stop && clock_run_timers(&m->clock) == 0) {
            if (net && !m->clock.icount) {
                /* Host time: sleep in the backend's poll instead, so a
                 * frame arriving wakes the guest at once. */
                uint64_t now = clock_now_ns(&m->clock), dl = clock_next_deadline(&m->clock);
                uint64_t wait = dl > now ? dl - now : 0;
                net_poll(m, (int64_t)(wait < IDLE_MAX_NS ? wait : IDLE_MAX_NS));
            } else {
                /* -icount: time jumps; the host is only asked what has
                 * already arrived, so waiting never shows in guest time. */
                if (net) net_poll(m, 0);
                clock_idle(&m->clock, IDLE_MAX_NS);
            }
        }
    }
    m->seconds += wall_seconds() - start;
    return m->exit_status;
}

struct net_client machine_net_client(struct machine *m)
{
    if (m->cfg.nic_model == NIC_NONE) return (struct net_client){0};
    return ne2000_net_client(&m->nic);
}

struct input_sink machine_input(struct machine *m)
{
    return (struct input_sink){m, input_key_cb, input_mouse_cb};
}

void machine_display_update(struct machine *m, bool full)
{
    if (!m->cfg.no_vga) vga_render(&m->vga, full);
}

void machine_firmware_vga_font(struct machine *m, const uint8_t *glyphs, unsigned height)
{
    if (!m->cfg.no_vga) vga_firmware_load_font(&m->vga, glyphs, height);
}

void machine_firmware_pci_setup(struct machine *m)
{
    pci_firmware_assign_bars(&m->pci, 0xc000);
    uint16_t level = piix3_firmware_route_irqs(&m->piix3);
    ide_firmware_setup(&m->ide);
    /* PCI interrupts are shared and level-triggered. */
    bus_out(&m->bus, 0x4d0, bus_in(&m->bus, 0x4d0, 1) | (level & 0xff), 1);
    bus_out(&m->bus, 0x4d1, bus_in(&m->bus, 0x4d1, 1) | (level >> 8), 1);
}

size_t machine_write_mptable(struct machine *m, uint32_t gpa)
{
    struct mptable_pci_irq irqs[PCI_MAX_DEVICES];
    unsigned n = 0;
    for (unsigned i = 0; i < m->pci.ndevices; i++) {
        const struct pci_device *d = m->pci.list[i];
        int pirq = pci_device_pirq(d);
        int irq = pirq >= 0 ? piix3_pirq_route(&m->piix3, pirq) : -1;
        if (irq >= 0)
            irqs[n++] = (struct mptable_pci_irq){(uint8_t)(d->devfn >> 3),
                                                 d->config[PCI_INTERRUPT_PIN],
                                                 (uint8_t)piix3_isa_gsi(irq)};
    }
    struct mptable_config cfg = {
        .lapic_id = (uint8_t)(m->lapic.id >> 24),
        .lapic_version = (uint8_t)LAPIC_VERSION,
        .lapic_addr = LAPIC_BASE_DEFAULT,
        /* Informational for the OS: family 6; FPU and APIC present. */
        .cpu_signature = 0x600,
        .cpu_features = 0x201,
        .ioapic_id = (uint8_t)(m->ioapic.id >> 24),
        .ioapic_version = (uint8_t)IOAPIC_VERSION,
        .ioapic_addr = IOAPIC_BASE_DEFAULT,
        .pci_irqs = irqs,
        .n_pci_irqs = n,
    };
    uint8_t buf[1024];
    size_t len = mptable_build(buf, sizeof buf, gpa, &cfg);
    if (len)
        mmu_phys_write(&m->mmu, gpa, buf, (uint32_t)len);
    return len;
}

void machine_request_stop(struct machine *m, int status)
{
    m->exit_status = status;
    if (m->reason == STOP_NONE)
        m->reason = STOP_REQUEST;
    m->stop = true;
    cpu_request_exit(&m->cpu);
}

enum machine_stop_reason machine_stop_reason(struct machine *m) { return m->reason; }

void machine_get_stats(struct machine *m, struct machine_stats *out)
{
    memset(out, 0, sizeof *out);
    out->insns = m->cpu.stats.insns;
    out->seconds = m->seconds;
    out->block_hits = m->cpu.stats.block_hits;
    out->block_misses = m->cpu.stats.block_misses;
    out->block_invalidations = m->cpu.stats.block_invalidations;
    out->exceptions = m->cpu.stats.exceptions;
    out->interrupts = m->cpu.stats.interrupts;
    out->tlb_misses = m->mmu.stats.tlb_misses;
    out->tlb_flushes = m->mmu.stats.tlb_flushes;
    out->mmio_accesses = m->mmu.stats.mmio_accesses;
    out->tracked_writes = m->mmu.stats.tracked_writes;
    out->mmu_walk = m->mmu.strategy == MMU_WALK;
    out->mmu = m->mmu.stats;
}
