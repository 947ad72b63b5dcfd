/* test_pcbios.c — what a machine with firmware shows the guest
 * (devices/pcbios.c, devices/i440fx.c, mmu windows): the BIOS image at the
 * top of 4 GiB and its tail at 0xE0000-0xFFFFF; each PAM mode (reads from
 * ROM or RAM, writes to RAM or dropped) seen through the CPU's soft TLB and
 * through DMA, for a ROM-backed and a PCI-backed segment, also through
 * paging under both MMU strategies; a CPU that
 * switches PAM under its own feet and then runs the shadow copy; and the
 * CMOS bytes SeaBIOS reads, for several -m values, boot orders and drives. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/machine.h"
#include "devices/pcbios.h"

#define IMG 0x20000u /* 128 KiB: ROM behind 0xE0000-0xFFFFF */

static uint8_t *make_image(void)
{
    uint8_t *img = malloc(IMG);
    for (unsigned i = 0; i < IMG; i++)
        img[i] = (uint8_t)(0x80 | ((i >> 12) ^ i));
    return img;
}

static uint8_t rom_byte(uint32_t gpa_low) /* ROM byte behind 0xE0000.. */
{
    unsigned i = gpa_low - 0xe0000u;
    return (uint8_t)(0x80 | ((i >> 12) ^ i));
}

static struct machine *new_machine(struct machine_config *cfg)
{
    char err[256];
    struct machine *m = machine_create(cfg, err, sizeof err);
    ck_assert_msg(m != NULL, "%s", err);
    return m;
}

static void outp(struct machine *m, uint16_t port, uint32_t v, unsigned size)
{
    struct cpu *c = machine_cpu(m);
    c->io.out(c->io.opaque, port, v, size);
}

static uint32_t inp(struct machine *m, uint16_t port, unsigned size)
{
    struct cpu *c = machine_cpu(m);
    return c->io.in(c->io.opaque, port, size);
}

/* A byte write to the host bridge's configuration space (mechanism #1). */
static void pam_write(struct machine *m, unsigned reg, uint8_t v)
{
    outp(m, 0xcf8, 0x80000000u | (reg & 0xfc), 4);
    outp(m, 0xcfc + (reg & 3), v, 1);
}

START_TEST(bios_mapped_high_and_low)
{
    uint8_t *img = make_image();
    struct machine_config cfg = {.ram_mb = 32, .icount = true, .bios = img, .bios_size = IMG};
    struct machine *m = new_machine(&cfg);
    struct mmu *mmu = machine_mmu(m);
    for (uint32_t off = 0; off < IMG; off += 0x1111) {
        ck_assert_uint_eq(mmu_read8(mmu, 0xfffe0000u + off), img[off]);
        ck_assert_uint_eq(mmu_read8(mmu, 0xe0000u + off), img[off]);
    }
    /* The reset vector: CS base 0xFFFF0000, IP 0xFFF0. */
    struct cpu *c = machine_cpu(m);
    ck_assert_uint_eq(c->seg[SEG_CS].base + c->eip, 0xfffffff0u);
    machine_destroy(m);
    free(img);
}
END_TEST

/* Segment under test: start, PAM register, nibble shift, ROM behind it. */
struct seg {
    uint32_t gpa;
    unsigned reg, shift;
    bool rom;
};

static const struct seg segs[] = {
    {0xf0000, 0x59, 4, true},  /* PAM0 high */
    {0xe8000, 0x5f, 0, true},  /* PAM6 low */
    {0xc4000, 0x5a, 4, false}, /* PAM1 high: PCI/ISA, nothing answers */
};

START_TEST(pam_modes)
{
    const struct seg *s = &segs[_i];
    uint8_t *img = make_image();
    struct machine_config cfg = {.ram_mb = 16, .icount = true, .bios = img, .bios_size = IMG};
    struct machine *m = new_machine(&cfg);
    struct mmu *mmu = machine_mmu(m);
    uint32_t a = s->gpa + 0x123;
    uint8_t rom = s->rom ? rom_byte(a) : 0xff;
    mmu->ram[a] = 0x11; /* what shadow RAM holds at the start */

    /* Mode 0 (power-on): reads the ROM side, writes vanish. */
    ck_assert_uint_eq(mmu_read8(mmu, a), rom);
    mmu_write8(mmu, a, 0x22);
    ck_assert_uint_eq(mmu_read8(mmu, a), rom);
    ck_assert_uint_eq(mmu->ram[a], 0x11);

    /* Mode 2 (WE): still reads the ROM, writes land in RAM -- how a BIOS
     * copies itself. */
    pam_write(m, s->reg, (uint8_t)(2 << s->shift));
    ck_assert_uint_eq(mmu_read8(mmu, a), rom);
    mmu_write8(mmu, a, 0x33);
    ck_assert_uint_eq(mmu_read8(mmu, a), rom);
    ck_assert_uint_eq(mmu->ram[a], 0x33);
    uint8_t b = 0x44;
    mmu_phys_write(mmu, a + 1, &b, 1); /* DMA obeys the same routing */
    ck_assert_uint_eq(mmu->ram[a + 1], 0x44);

    /* Mode 3: RAM both ways. */
    pam_write(m, s->reg, (uint8_t)(3 << s->shift));
    ck_assert_uint_eq(mmu_read8(mmu, a), 0x33);
    mmu_write8(mmu, a, 0x55);
    ck_assert_uint_eq(mmu_read8(mmu, a), 0x55);
    mmu_phys_read(mmu, a + 1, &b, 1);
    ck_assert_uint_eq(b, 0x44);

    /* Mode 1 (RE): RAM read, write-protected -- the shadowed BIOS. */
    pam_write(m, s->reg, (uint8_t)(1 << s->shift));
    ck_assert_uint_eq(mmu_read8(mmu, a), 0x55);
    mmu_write8(mmu, a, 0x66);
    b = 0x77;
    mmu_phys_write(mmu, a, &b, 1);
    ck_assert_uint_eq(mmu_read8(mmu, a), 0x55);
    ck_assert_uint_eq(mmu->ram[a], 0x55);

    /* The neighbouring segment is untouched by all this. */
    uint32_t other = s->gpa == 0xf0000 ? 0xec000 : s->gpa + 0x4000;
    ck_assert_uint_eq(mmu_read8(mmu, other), other >= 0xe0000 ? rom_byte(other) : 0xff);

    /* The register reads back what was written (reserved bits as zero). */
    outp(m, 0xcf8, 0x80000000u | (s->reg & 0xfc), 4);
    ck_assert_uint_eq(inp(m, 0xcfc + (s->reg & 3), 1), 1u << s->shift);
    pam_write(m, s->reg, 0xff);
    ck_assert_uint_eq(inp(m, 0xcfc + (s->reg & 3), 1), s->reg == 0x59 ? 0x70 : 0x77);

    /* The high alias is ROM whatever PAM says; a reset restores mode 0. */
    ck_assert_uint_eq(mmu_read8(mmu, 0xfffe0000u + (a - 0xe0000u) % IMG),
                      img[(a - 0xe0000u) % IMG]);
    machine_reset(m);
    ck_assert_uint_eq(mmu_read8(mmu, a), rom);
    machine_destroy(m);
    free(img);
}
END_TEST

/* The CPU runs ROM code at F000:E100, then turns the F segment into
 * read/write shadow RAM (whose copy differs at E100) and calls E100 again:
 * it must now run the RAM's bytes, not the decoded or TLB-cached ROM. */
START_TEST(cpu_follows_pam_switch)
{
    uint8_t *img = calloc(1, 0x10000);
    memset(img, 0xf4, 0x10000);
    static const uint8_t reset[] = {0xea, 0x00, 0xe0, 0x00, 0xf0}; /* jmp f000:e000 */
    memcpy(img + 0xfff0, reset, sizeof reset);
    static const uint8_t main_code[] = {
        0xe8, 0xfd, 0x00,                   /* call e100 */
        0xba, 0xf8, 0x0c,                   /* mov dx, 0xcf8 */
        0x66, 0xb8, 0x58, 0x00, 0x00, 0x80, /* mov eax, 0x80000058 */
        0x66, 0xef,                         /* out dx, eax */
        0xba, 0xfd, 0x0c,                   /* mov dx, 0xcfd */
        0xb0, 0x30,                         /* mov al, 0x30: PAM0 F segment RE|WE */
        0xee,                               /* out dx, al */
        0xe8, 0xe9, 0x00,                   /* call e100 */
        0xb0, 0x11, 0xe6, 0xf4, 0xf4,       /* mov al, 0x11; out 0xf4, al; hlt */
    };
    memcpy(img + 0xe000, main_code, sizeof main_code);
    static const uint8_t rom_sub[] = {0x43, 0xc3};                   /* inc bx; ret */
    static const uint8_t ram_sub[] = {0xb0, 0x22, 0xe6, 0xf4, 0xf4}; /* exit 0x22 */
    memcpy(img + 0xe100, rom_sub, sizeof rom_sub);
    struct machine_config cfg = {.ram_mb = 4,
                                 .icount = true,
                                 .bios = img,
                                 .bios_size = 0x10000,
                                 .debug_exit = true,
                                 .debug_exit_base = 0xf4,
                                 .debug_exit_size = 4};
    struct machine *m = new_machine(&cfg);
    struct mmu *mmu = machine_mmu(m);
    /* The shadow copy, as a BIOS would have made it, with E100 changed. */
    memcpy(mmu->ram + 0xf0000, img, 0x10000);
    memcpy(mmu->ram + 0xfe100, ram_sub, sizeof ram_sub);
    int status = machine_run(m);
    ck_assert_int_eq(status, (0x22 << 1) | 1);
    ck_assert_uint_eq(machine_cpu(m)->regs[R_EBX] & 0xffff, 1); /* ROM's E100 ran once */
    machine_destroy(m);
    free(img);
}
END_TEST

/* The same switch seen through paging (both MMU strategies): a virtual page
 * mapped onto 0xF0000 must follow PAM, so the shadow tables and every soft
 * TLB built over the window are dropped when it is rerouted. */
START_TEST(pam_through_paging)
{
    uint8_t *img = make_image();
    struct machine_config cfg = {.ram_mb = 8,
                                 .icount = true,
                                 .bios = img,
                                 .bios_size = IMG,
                                 .mmu_strategy = _i ? MMU_WALK : MMU_SHADOW};
    struct machine *m = new_machine(&cfg);
    struct mmu *mmu = machine_mmu(m);
    /* Page directory at 0x10000, one page table at 0x11000 mapping
     * 0x40000000 -> 0xF0000 (writable). */
    uint32_t pde = 0x11000 | 0x7, pte = 0xf0000 | 0x67;
    mmu_phys_write(mmu, 0x10000 + (0x40000000u >> 22) * 4, &pde, 4);
    mmu_phys_write(mmu, 0x11000, &pte, 4);
    struct paging_mode pm = {.pg = true, .cr3 = 0x10000};
    mmu_set_paging(mmu, &pm);
    mmu->ram[0xf0010] = 0x5a;
    ck_assert_uint_eq(mmu_read8(mmu, 0x40000010u), rom_byte(0xf0010)); /* mode 0: ROM */
    pam_write(m, 0x59, 0x30);
    ck_assert_uint_eq(mmu_read8(mmu, 0x40000010u), 0x5a); /* RAM now */
    mmu_write8(mmu, 0x40000010u, 0x6b);
    ck_assert_uint_eq(mmu->ram[0xf0010], 0x6b);
    pam_write(m, 0x59, 0x10); /* write-protected */
    mmu_write8(mmu, 0x40000010u, 0x7c);
    ck_assert_uint_eq(mmu_read8(mmu, 0x40000010u), 0x6b);
    ck_assert_uint_eq(mmu->ram[0xf0010], 0x6b);
    pam_write(m, 0x59, 0x00);
    ck_assert_uint_eq(mmu_read8(mmu, 0x40000010u), rom_byte(0xf0010));
    char why[256];
    ck_assert_msg(mmu_audit(mmu, true, why, sizeof why) == 0, "%s", why);
    machine_destroy(m);
    free(img);
}
END_TEST

static uint8_t cmos(struct machine *m, uint8_t idx)
{
    outp(m, 0x70, idx, 1);
    return (uint8_t)inp(m, 0x71, 1);
}

static int no_read(void *o, uint64_t off, void *buf, size_t len)
{
    return -5;
}
static int no_write(void *o, uint64_t off, const void *buf, size_t len)
{
    return -5;
}

START_TEST(cmos_memory_bytes)
{
    static const unsigned mbs[] = {1, 16, 128, 1024, 3584};
    uint8_t img[0x10000];
    memset(img, 0xf4, sizeof img);
    for (unsigned k = 0; k < 5; k++) {
        struct machine_config cfg = {
            .ram_mb = mbs[k], .icount = true, .bios = img, .bios_size = sizeof img};
        struct machine *m = new_machine(&cfg);
        uint64_t ram = (uint64_t)mbs[k] << 20;
        ck_assert_uint_eq(cmos(m, 0x15) | cmos(m, 0x16) << 8, 640);
        uint64_t ext = ram > (1u << 20) ? (ram - (1u << 20)) >> 10 : 0;
        if (ext > 0xffff) ext = 0xffff;
        ck_assert_uint_eq(cmos(m, 0x17) | cmos(m, 0x18) << 8, ext);
        ck_assert_uint_eq(cmos(m, 0x30) | cmos(m, 0x31) << 8, ext);
        uint64_t over16 = ram > (16u << 20) ? (ram - (16u << 20)) >> 16 : 0;
        ck_assert_uint_eq(cmos(m, 0x34) | cmos(m, 0x35) << 8, over16);
        ck_assert_uint_eq(cmos(m, 0x5b) | cmos(m, 0x5c) | cmos(m, 0x5d), 0);
        ck_assert_uint_eq(cmos(m, 0x5f), 0); /* one CPU */
        /* SeaBIOS's own arithmetic (qemu_preinit) gives back the RAM size. */
        uint32_t rs = (uint32_t)cmos(m, 0x34) << 16 | (uint32_t)cmos(m, 0x35) << 24;
        rs = rs ? rs + (16u << 20)
                : ((uint32_t)cmos(m, 0x30) << 10 | (uint32_t)cmos(m, 0x31) << 18) + (1u << 20);
        ck_assert_uint_eq(rs, ram);
        /* Default boot order "cad": c=2, a=1, d=3; no drives. */
        ck_assert_uint_eq(cmos(m, 0x3d), 0x12);
        ck_assert_uint_eq(cmos(m, 0x38) & 0xf0, 0x30);
        ck_assert_uint_eq(cmos(m, 0x10), 0);
        ck_assert_uint_eq(cmos(m, 0x12), 0);
        unsigned sum = 0;
        for (unsigned i = 0x10; i <= 0x2d; i++)
            sum += cmos(m, (uint8_t)i);
        ck_assert_uint_eq(cmos(m, 0x2e) << 8 | cmos(m, 0x2f), sum);
        machine_destroy(m);
    }
}
END_TEST

START_TEST(cmos_drives_and_boot_order)
{
    uint8_t img[0x10000];
    memset(img, 0xf4, sizeof img);
    struct block_backend fd0 = {.size = 1474560, .read = no_read, .write = no_write};
    struct block_backend fd1 = {.size = 737280, .read = no_read, .write = no_write};
    struct block_backend hd0 = {.size = 100u << 20, .read = no_read, .write = no_write};
    struct block_backend cd = {.size = 600u << 20, .read = no_read, .write = no_write};
    struct machine_config cfg = {
        .ram_mb = 8, .icount = true, .bios = img, .bios_size = sizeof img, .boot_order = "dca"};
    cfg.floppy[0] = &fd0;
    cfg.floppy[1] = &fd1;
    cfg.ide[0] = &hd0;
    cfg.ide[1] = &cd;
    cfg.ide_cdrom[1] = true;
    struct machine *m = new_machine(&cfg);
    ck_assert_uint_eq(cmos(m, 0x10), 0x43);        /* 1.44M, 720K */
    ck_assert_uint_eq(cmos(m, 0x14) & 0xc1, 0x41); /* two diskette drives */
    ck_assert_uint_eq(cmos(m, 0x12), 0xf0);        /* one ATA disk: the CD is not one */
    ck_assert_uint_eq(cmos(m, 0x19), 47);
    ck_assert_uint_eq(cmos(m, 0x1b) | cmos(m, 0x1c) << 8, (100u << 20) / 512 / (16 * 63));
    ck_assert_uint_eq(cmos(m, 0x1d), 16);
    ck_assert_uint_eq(cmos(m, 0x23), 63);
    ck_assert_uint_eq(cmos(m, 0x3d), 0x23);        /* d=3 first, c=2 second */
    ck_assert_uint_eq(cmos(m, 0x38) & 0xf0, 0x10); /* a=1 third */
    machine_destroy(m);

    ck_assert_uint_eq(pcbios_floppy_type(368640), 1);
    ck_assert_uint_eq(pcbios_floppy_type(1228800), 2);
    ck_assert_uint_eq(pcbios_floppy_type(2949120), 5);
    ck_assert_uint_eq(pcbios_boot_nibbles("n"), 4);
    ck_assert_uint_eq(pcbios_boot_nibbles(""), 0x312);
}
END_TEST

START_TEST(bad_image_sizes_refused)
{
    uint8_t img[0x10000 + 512];
    memset(img, 0, sizeof img);
    size_t bad[] = {0, 512, 0x10000 + 512, (16u << 20) + 0x10000};
    for (unsigned k = 0; k < 4; k++) {
        struct machine_config cfg = {.ram_mb = 8, .bios = img, .bios_size = bad[k]};
        char err[256] = "";
        ck_assert_ptr_null(machine_create(&cfg, err, sizeof err));
        ck_assert_msg(strstr(err, "64 KiB") || strstr(err, "16 MiB"), "%s", err);
    }
    ck_assert_ptr_null(pcbios_check_size(0x10000));
    ck_assert_ptr_null(pcbios_check_size(16u << 20));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pcbios");
    TCase *tc = tcase_create("pcbios");
    tcase_add_test(tc, bios_mapped_high_and_low);
    tcase_add_loop_test(tc, pam_modes, 0, 3);
    tcase_add_test(tc, cpu_follows_pam_switch);
    tcase_add_loop_test(tc, pam_through_paging, 0, 2);
    tcase_add_test(tc, cmos_memory_bytes);
    tcase_add_test(tc, cmos_drives_and_boot_order);
    tcase_add_test(tc, bad_image_sizes_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
