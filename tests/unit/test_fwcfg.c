/* test_fwcfg.c — QEMU's fw_cfg device (devices/fwcfg.c) driven through its
 * ports as SeaBIOS drives it: the signature and ID items, the file
 * directory (big-endian, sorted by name whatever the insertion order),
 * byte reads through the data port, and the DMA interface (select + read,
 * skip, reads past the end giving zeros, a write to a read-only item and
 * transfers outside RAM getting the error bit, a descriptor outside RAM
 * being ignored), plus the machine's own contents (etc/e820 for -m). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "devices/fwcfg.h"
#include "devices/machine.h"

struct rig {
    struct bus bus;
    struct mmu mmu;
    struct fwcfg fw;
};

static struct rig *rig_new(void)
{
    struct rig *r = calloc(1, sizeof *r);
    char err[200];
    bus_init(&r->bus, NULL);
    ck_assert_int_eq(mmu_init(&r->mmu, 1u << 20), 0);
    ck_assert_msg(fwcfg_init(&r->fw, &r->bus, &r->mmu, NULL, err, sizeof err) == 0, "%s", err);
    return r;
}

static void rig_free(struct rig *r)
{
    fwcfg_destroy(&r->fw);
    mmu_destroy(&r->mmu);
    free(r);
}

static void select_item(struct rig *r, uint16_t key)
{
    bus_out(&r->bus, 0x510, key, 2);
}

static void read_data(struct rig *r, void *buf, unsigned n)
{
    uint8_t *b = buf;
    for (unsigned i = 0; i < n; i++)
        b[i] = (uint8_t)bus_in(&r->bus, 0x511, 1);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static uint32_t bswap32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

/* Write an FWCfgDmaAccess at desc and start it the way SeaBIOS does: one
 * OUTL of the big-endian low address word to 0x518.  Returns the control
 * word the device left there. */
static uint32_t dma(struct rig *r, uint32_t desc, uint32_t control, uint32_t len, uint64_t addr)
{
    uint8_t d[16];
    put_be32(d, control);
    put_be32(d + 4, len);
    put_be32(d + 8, (uint32_t)(addr >> 32));
    put_be32(d + 12, (uint32_t)addr);
    mmu_phys_write(&r->mmu, desc, d, sizeof d);
    bus_out(&r->bus, 0x518, bswap32(desc), 4);
    mmu_phys_read(&r->mmu, desc, d, 4);
    return be32(d);
}

START_TEST(signature_and_id)
{
    struct rig *r = rig_new();
    char sig[5] = {0};
    select_item(r, FWCFG_SIGNATURE);
    read_data(r, sig, 4);
    ck_assert_str_eq(sig, "QEMU");
    /* Past the end: zeros. */
    uint8_t more;
    read_data(r, &more, 1);
    ck_assert_int_eq(more, 0);
    /* A new selection rewinds. */
    select_item(r, FWCFG_SIGNATURE);
    read_data(r, sig, 1);
    ck_assert_int_eq(sig[0], 'Q');
    uint8_t id[4];
    select_item(r, FWCFG_ID);
    read_data(r, id, 4);
    ck_assert_uint_eq(id[0] & 3, 3); /* traditional + DMA */
    /* An item nobody added reads as zeros. */
    select_item(r, 0x0123);
    read_data(r, id, 4);
    ck_assert_uint_eq(id[0] | id[1] | id[2] | id[3], 0);
    /* The DMA register reads back "QEMU CFG", byte by byte and as dwords. */
    char dsig[9] = {0};
    for (int i = 0; i < 8; i++)
        dsig[i] = (char)bus_in(&r->bus, 0x514 + i, 1);
    ck_assert_str_eq(dsig, "QEMU CFG");
    uint32_t lo = bus_in(&r->bus, 0x514, 4);
    ck_assert_mem_eq(&lo, "QEMU", 4);
    rig_free(r);
}
END_TEST

START_TEST(directory_sorted_big_endian)
{
    struct rig *r = rig_new();
    const char *names[] = {"zeta", "etc/e820", "bootorder", "etc/boot-fail-wait", "alpha"};
    for (unsigned i = 0; i < 5; i++) {
        uint8_t data[300];
        memset(data, 'A' + i, sizeof data);
        ck_assert_int_eq(fwcfg_add_file(&r->fw, names[i], data, 10 + 50 * i), 0);
    }
    ck_assert_int_eq(fwcfg_add_file(&r->fw, "alpha", "x", 1), -1); /* duplicate */
    uint8_t cnt[4];
    select_item(r, FWCFG_FILE_DIR);
    read_data(r, cnt, 4);
    ck_assert_uint_eq(be32(cnt), 5);
    char prev[57] = "";
    for (unsigned e = 0; e < 5; e++) {
        uint8_t ent[64];
        read_data(r, ent, 64);
        char name[57] = {0};
        memcpy(name, ent + 8, 56);
        ck_assert_msg(strcmp(prev, name) < 0, "'%s' listed after '%s'", name, prev);
        strcpy(prev, name);
        unsigned i = 0;
        while (strcmp(names[i], name))
            i++;
        ck_assert_uint_eq(be32(ent), 10 + 50 * i);
        uint16_t sel = (uint16_t)(ent[4] << 8 | ent[5]);
        ck_assert_uint_ge(sel, FWCFG_FILE_FIRST);
        /* The file's bytes, through the data port at its selector (this
         * rewinds the directory, so come back to it afterwards). */
        uint8_t got[300];
        select_item(r, sel);
        read_data(r, got, 10 + 50 * i + 1);
        for (unsigned k = 0; k < 10 + 50 * i; k++)
            ck_assert_uint_eq(got[k], 'A' + i);
        ck_assert_uint_eq(got[10 + 50 * i], 0);
        select_item(r, FWCFG_FILE_DIR);
        uint8_t skip[4 + 64 * 5];
        read_data(r, skip, 4 + 64 * (e + 1));
    }
    rig_free(r);
}
END_TEST

START_TEST(dma_read_skip_and_errors)
{
    struct rig *r = rig_new();
    uint8_t data[100];
    for (int i = 0; i < 100; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    ck_assert_int_eq(fwcfg_add_file(&r->fw, "etc/test", data, sizeof data), 0);
    /* Find its selector in the directory, by DMA. */
    uint8_t dir[4 + 64];
    ck_assert_uint_eq(dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_READ | FWCFG_FILE_DIR << 16,
                          sizeof dir, 0x2000),
                      0);
    mmu_phys_read(&r->mmu, 0x2000, dir, sizeof dir);
    ck_assert_uint_eq(be32(dir), 1);
    ck_assert_str_eq((char *)dir + 4 + 8, "etc/test");
    uint16_t sel = (uint16_t)(dir[8] << 8 | dir[9]);

    /* Select + read 40, skip 10, read the remaining 50 and 14 past the end. */
    uint8_t buf[64];
    memset(buf, 0xee, sizeof buf);
    mmu_phys_write(&r->mmu, 0x3000, buf, sizeof buf);
    ck_assert_uint_eq(
        dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_READ | (uint32_t)sel << 16, 40, 0x3000), 0);
    mmu_phys_read(&r->mmu, 0x3000, buf, 41);
    ck_assert_mem_eq(buf, data, 40);
    ck_assert_uint_eq(buf[40], 0xee); /* not one byte more */
    ck_assert_uint_eq(dma(r, 0x1000, FWCFG_DMA_SKIP, 10, 0), 0);
    memset(buf, 0xee, sizeof buf);
    mmu_phys_write(&r->mmu, 0x3000, buf, sizeof buf);
    ck_assert_uint_eq(dma(r, 0x1000, FWCFG_DMA_READ, 64, 0x3000), 0);
    mmu_phys_read(&r->mmu, 0x3000, buf, 64);
    ck_assert_mem_eq(buf, data + 50, 50);
    for (int i = 50; i < 64; i++)
        ck_assert_uint_eq(buf[i], 0);
    /* The data port continues where DMA left off. */
    select_item(r, sel);
    ck_assert_uint_eq(dma(r, 0x1000, FWCFG_DMA_SKIP, 99, 0), 0);
    uint8_t last;
    read_data(r, &last, 1);
    ck_assert_uint_eq(last, data[99]);

    /* Writes: no item is writable. */
    ck_assert_uint_eq(
        dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_WRITE | (uint32_t)sel << 16, 4, 0x3000),
        FWCFG_DMA_ERROR);
    select_item(r, sel);
    read_data(r, buf, 4);
    ck_assert_mem_eq(buf, data, 4);
    /* A destination outside RAM (1 MiB here), or beyond 4 GiB. */
    ck_assert_uint_eq(
        dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_READ | (uint32_t)sel << 16, 16, 0xfffff8),
        FWCFG_DMA_ERROR);
    ck_assert_uint_eq(
        dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_READ | (uint32_t)sel << 16, 16, 0x100000000ull),
        FWCFG_DMA_ERROR);
    /* A descriptor outside RAM: nothing happens, nothing crashes. */
    bus_out(&r->bus, 0x518, bswap32(0xfff00000u), 4);
    /* The high address word applies to the next transfer only. */
    bus_out(&r->bus, 0x514, bswap32(1), 4);
    bus_out(&r->bus, 0x518, bswap32(0x1000), 4); /* descriptor at 4 GiB + 0x1000: ignored */
    ck_assert_uint_eq(
        dma(r, 0x1000, FWCFG_DMA_SELECT | FWCFG_DMA_READ | (uint32_t)sel << 16, 4, 0x3000), 0);
    mmu_phys_read(&r->mmu, 0x3000, buf, 4);
    ck_assert_mem_eq(buf, data, 4);
    /* No operation bit: length is ignored, control still completes. */
    ck_assert_uint_eq(dma(r, 0x1000, 0, 1000, 0x3000), 0);
    rig_free(r);
}
END_TEST

/* The machine's contents: etc/e820 describes -m, RAM_SIZE agrees, and
 * sercon is offered only with a serial console. */
static const uint8_t *fake_bios(void)
{
    static uint8_t img[0x10000];
    memset(img, 0xf4, sizeof img); /* hlt everywhere */
    return img;
}

START_TEST(machine_items)
{
    unsigned mbs[] = {16, 128, 3584};
    for (unsigned k = 0; k < 3; k++) {
        struct machine_config cfg = {.ram_mb = mbs[k],
                                     .icount = true,
                                     .bios = fake_bios(),
                                     .bios_size = 0x10000,
                                     .serial_console = k == 1};
        char err[256];
        struct machine *m = machine_create(&cfg, err, sizeof err);
        ck_assert_msg(m != NULL, "%s", err);
        struct cpu *c = machine_cpu(m);
        uint8_t dir[4 + 64 * FWCFG_MAX_FILES];
        c->io.out(c->io.opaque, 0x510, FWCFG_FILE_DIR, 2);
        for (unsigned i = 0; i < sizeof dir; i++)
            dir[i] = (uint8_t)c->io.in(c->io.opaque, 0x511, 1);
        uint16_t e820_sel = 0;
        bool sercon = false;
        for (unsigned e = 0; e < be32(dir); e++) {
            const uint8_t *ent = dir + 4 + 64 * e;
            if (!strcmp((const char *)ent + 8, "etc/e820")) {
                ck_assert_uint_eq(be32(ent), 20);
                e820_sel = (uint16_t)(ent[4] << 8 | ent[5]);
            }
            sercon |= !strcmp((const char *)ent + 8, "etc/sercon-port");
        }
        ck_assert_uint_ne(e820_sel, 0);
        ck_assert(sercon == (k == 1));
        uint8_t e820[20];
        c->io.out(c->io.opaque, 0x510, e820_sel, 2);
        for (unsigned i = 0; i < 20; i++)
            e820[i] = (uint8_t)c->io.in(c->io.opaque, 0x511, 1);
        uint64_t addr, len;
        memcpy(&addr, e820, 8);
        memcpy(&len, e820 + 8, 8);
        ck_assert_uint_eq(addr, 0);
        ck_assert_uint_eq(len, (uint64_t)mbs[k] << 20);
        ck_assert_uint_eq(e820[16], 1);
        uint8_t rs[8];
        c->io.out(c->io.opaque, 0x510, FWCFG_RAM_SIZE, 2);
        for (unsigned i = 0; i < 8; i++)
            rs[i] = (uint8_t)c->io.in(c->io.opaque, 0x511, 1);
        memcpy(&len, rs, 8);
        ck_assert_uint_eq(len, (uint64_t)mbs[k] << 20);
        machine_destroy(m);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fwcfg");
    TCase *tc = tcase_create("fwcfg");
    tcase_add_test(tc, signature_and_id);
    tcase_add_test(tc, directory_sorted_big_endian);
    tcase_add_test(tc, dma_read_skip_and_errors);
    tcase_add_test(tc, machine_items);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
