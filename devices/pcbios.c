/*
 * pcbios.c — the firmware's view of the machine: the BIOS mapping, the
 * CMOS bytes (QEMU's layout, which SeaBIOS reads on an emulator) and the
 * fw_cfg items and files SeaBIOS 1.16 looks for (src/fw/paravirt.c,
 * src/boot.c, src/sercon.c).
 *
 * Design choice: Umbra presents itself to SeaBIOS the way QEMU's i440FX
 * machine does -- same CMOS bytes, same fw_cfg names -- because SeaBIOS's
 * emulator paths are the ones that configure a machine with no real
 * chipset registers for memory sizing.  What is not given (no
 * etc/table-loader, so no ACPI tables; no smbios files) SeaBIOS builds or
 * skips itself: it writes an MP table and a $PIR table, which are how an
 * OS without ACPI finds its interrupt routing.
 */
#include "devices/pcbios.h"

#include <stdio.h>
#include <string.h>

const char *pcbios_check_size(size_t size)
{
    if (size == 0 || size % PCBIOS_GRANULE) return "size must be a non-zero multiple of 64 KiB";
    if (size > PCBIOS_MAX_SIZE) return "size must be at most 16 MiB";
    return NULL;
}

int pcbios_map(struct mmu *mmu, struct i440fx *h, const uint8_t *bios, size_t size, char *err,
               size_t errlen)
{
    const char *why = pcbios_check_size(size);
    if (why) {
        snprintf(err, errlen, "firmware image: %s", why);
        return -1;
    }
    uint32_t base = (uint32_t)(0x100000000ull - size);
    if (mmu_map_rom(mmu, base, bios, (uint32_t)size, "bios")) {
        snprintf(err, errlen, "cannot map the firmware at 0x%08x", base);
        return -1;
    }
    /* The low alias shares the high mapping's bytes, so decoded code is the
     * same block whichever address it was reached through. */
    const struct phys_region *r = mmu_find_region(mmu, base);
    size_t low = size < PCBIOS_LOW_SIZE ? size : PCBIOS_LOW_SIZE;
    return i440fx_attach_pam(h, mmu, r->host + (size - low), low, err, errlen);
}

uint8_t pcbios_floppy_type(uint64_t bytes)
{
    if (!bytes) return 0;
    if (bytes <= 368640) return 1;
    if (bytes <= 737280) return 3;
    if (bytes <= 1228800) return 2;
    if (bytes <= 1474560 + 245760) /* 1.44M and its extended formats (1.68M/1.72M) */
        return 4;
    return 5;
}

uint16_t pcbios_boot_nibbles(const char *order)
{
    if (!order || !*order) order = "cad";
    uint16_t v = 0;
    unsigned n = 0;
    for (const char *p = order; *p && n < 3; p++) {
        unsigned code = *p == 'a' ? 1 : *p == 'c' ? 2 : *p == 'd' ? 3 : *p == 'n' ? 4 : 0;
        if (code) v |= (uint16_t)(code << (4 * n++));
    }
    return v;
}

/* A hard disk's geometry at cmos[at..at+8] (QEMU's cmos_init_hd layout):
 * cylinders, heads, write precompensation, control, landing zone,
 * sectors per track -- an LBA-style 16 heads x 63 sectors translation. */
static void cmos_disk(uint8_t *c, unsigned at, uint64_t bytes)
{
    uint64_t cyl = bytes / 512 / (16 * 63);
    if (cyl > 16383) cyl = 16383;
    if (cyl == 0) cyl = 1;
    c[at + 0] = (uint8_t)cyl;
    c[at + 1] = (uint8_t)(cyl >> 8);
    c[at + 2] = 16;
    c[at + 3] = 0xff; /* no write precompensation */
    c[at + 4] = 0xff;
    c[at + 5] = 0xc8; /* more than 8 heads */
    c[at + 6] = (uint8_t)cyl;
    c[at + 7] = (uint8_t)(cyl >> 8);
    c[at + 8] = 63;
}

void pcbios_cmos_setup(struct rtc *rtc, const struct machine_config *cfg)
{
    uint8_t fd0 = cfg->floppy[0] ? pcbios_floppy_type(cfg->floppy[0]->size) : 0;
    uint8_t fd1 = cfg->floppy[1] ? pcbios_floppy_type(cfg->floppy[1]->size) : 0;
    rtc_cmos_setup(rtc, (uint64_t)cfg->ram_mb << 20, (uint8_t)(fd0 << 4 | fd1));
    uint8_t *c = rtc->cmos;

    c[0x5f] = 0; /* CPUs - 1 */

    uint16_t boot = pcbios_boot_nibbles(cfg->boot_order);
    c[0x3d] = (uint8_t)boot;
    /* 0x38 bits 7:4: third boot device; bit 0 set = skip the floppy boot
     * signature check (QEMU sets it unless -boot ...,strict) -- keep it
     * clear, as QEMU's default does. */
    c[0x38] = (uint8_t)((boot >> 4) & 0xf0);

    /* Hard disks (ATA, not CD-ROMs) on the primary channel: type 0xF in
     * 0x12 means "see 0x19/0x1a", 47 the user-defined type. */
    c[0x12] = 0;
    c[0x19] = c[0x1a] = 0;
    for (unsigned d = 0; d < 2; d++) {
        if (!cfg->ide[d] || cfg->ide_cdrom[d]) continue;
        c[0x12] |= d == 0 ? 0xf0 : 0x0f;
        c[0x19 + d] = 47;
        cmos_disk(c, d == 0 ? 0x1b : 0x24, cfg->ide[d]->size);
    }
    rtc_cmos_update_checksum(rtc);
}

/* The OpenFirmware paths QEMU writes into "bootorder" for the devices a
 * boot letter names (SeaBIOS matches them against its own device paths). */
static size_t append(char *buf, size_t len, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (len + n < cap) {
        memcpy(buf + len, s, n);
        len += n;
        buf[len] = 0;
    }
    return len;
}

static size_t bootorder_text(const struct machine_config *cfg, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    const char *order = cfg->boot_order[0] ? cfg->boot_order : "cad";
    for (const char *p = order; *p; p++) {
        char line[96];
        for (unsigned i = 0; i < 4; i++) {
            bool want = (*p == 'c' && cfg->ide[i] && !cfg->ide_cdrom[i]) ||
                        (*p == 'd' && cfg->ide[i] && cfg->ide_cdrom[i]);
            if (!want) continue;
            snprintf(line, sizeof line, "/pci@i0cf8/ide@1,1/drive@%u/disk@%u\n", i / 2, i % 2);
            len = append(buf, len, cap, line);
        }
        for (unsigned i = 0; *p == 'a' && i < 2; i++)
            if (cfg->floppy[i]) {
                snprintf(line, sizeof line, "/pci@i0cf8/isa@1/fdc@03f0/floppy@%u\n", i);
                len = append(buf, len, cap, line);
            }
    }
    return len;
}

/* The configuration's own files replace the machine's of the same name
 * (e.g. etc/boot-fail-wait, which QEMU sets from -boot reboot-timeout=). */
static bool user_has(const struct machine_config *cfg, const char *name)
{
    for (unsigned i = 0; i < cfg->n_fw_files && i < 8; i++)
        if (!strcmp(cfg->fw_files[i].name, name)) return true;
    return false;
}

static int add_default(struct fwcfg *f, const struct machine_config *cfg, const char *name,
                       const void *data, uint32_t len)
{
    return user_has(cfg, name) ? 0 : fwcfg_add_file(f, name, data, len);
}

int pcbios_fwcfg_setup(struct fwcfg *f, const struct machine_config *cfg)
{
    uint64_t ram = (uint64_t)cfg->ram_mb << 20;
    int r = 0;
    r |= fwcfg_add_i64(f, FWCFG_RAM_SIZE, ram);
    r |= fwcfg_add_i16(f, FWCFG_NOGRAPHIC, cfg->serial_console);
    r |= fwcfg_add_i16(f, FWCFG_NB_CPUS, 1);
    r |= fwcfg_add_i16(f, FWCFG_MAX_CPUS, 1);
    r |= fwcfg_add_i16(f, FWCFG_BOOT_MENU, 0);
    r |= fwcfg_add_i64(f, FWCFG_NUMA, 0);
    uint8_t uuid[16] = {0};
    r |= fwcfg_add_bytes(f, FWCFG_UUID, uuid, sizeof uuid);
    /* ISA IRQ 0 reaches I/O APIC input 2 (piix3_isa_gsi): SeaBIOS's MP
     * table then says so. */
    r |= fwcfg_add_i32(f, FWCFG_IRQ0_OVERRIDE, 1);

    /* etc/e820: {le64 address, le64 length, le32 type} per entry; all the
     * RAM lies below the PCI hole. */
    uint8_t e820[20] = {0};
    for (int i = 0; i < 8; i++)
        e820[8 + i] = (uint8_t)(ram >> (8 * i));
    e820[16] = 1; /* E820_RAM */
    r |= add_default(f, cfg, "etc/e820", e820, sizeof e820);

    /* -1: after "No bootable device." wait forever instead of rebooting
     * (QEMU's default for -boot reboot-timeout). */
    uint8_t wait[4] = {0xff, 0xff, 0xff, 0xff};
    r |= add_default(f, cfg, "etc/boot-fail-wait", wait, sizeof wait);

    char order[512];
    size_t n = bootorder_text(cfg, order, sizeof order);
    r |= add_default(f, cfg, "bootorder", order, (uint32_t)n);

    if (cfg->serial_console) {
        /* SeaBIOS's sercon: its text screen also goes to COM1. */
        uint8_t port[2] = {0xf8, 0x03};
        r |= add_default(f, cfg, "etc/sercon-port", port, sizeof port);
    }
    if (r) return -1;
    for (unsigned i = 0; i < cfg->n_fw_files && i < 8; i++) {
        const struct machine_fw_file *ff = &cfg->fw_files[i];
        if (ff->size > UINT32_MAX || fwcfg_add_file(f, ff->name, ff->data, (uint32_t)ff->size))
            return -1;
    }
    return 0;
}
