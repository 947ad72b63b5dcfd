/*
 * test_mmu.c — the guest-physical map, the soft TLB and the walker alone:
 * RAM/ROM/MMIO decoding, the A20 gate, write tracking callbacks, and 32-bit
 * paging (4 KiB and 4 MiB pages) with accessed/dirty updates and faults.
 */
#include <check.h>
#include <setjmp.h>
#include <stdlib.h>

#include "mmu/mmu.h"

#define RAM (4u << 20)

struct fault_catcher {
    jmp_buf jmp;
    uint32_t gva, error;
    int count;
};

static void on_page_fault(void *opaque, uint32_t gva, uint32_t error)
{
    struct fault_catcher *f = opaque;
    f->gva = gva;
    f->error = error;
    f->count++;
    longjmp(f->jmp, 1);
}

struct mmio_dev {
    uint32_t last_addr, last_value;
    unsigned last_size;
    int reads, writes;
};

static uint32_t dev_read(void *opaque, uint32_t addr, unsigned size)
{
    struct mmio_dev *d = opaque;
    d->reads++;
    d->last_addr = addr;
    d->last_size = size;
    return 0xa5000000u | addr;
}

static void dev_write(void *opaque, uint32_t addr, uint32_t value, unsigned size)
{
    struct mmio_dev *d = opaque;
    d->writes++;
    d->last_addr = addr;
    d->last_value = value;
    d->last_size = size;
}

static const struct mmio_ops dev_ops = {dev_read, dev_write};

struct code_log {
    uint32_t gpa;
    unsigned len;
    int calls;
};

static void on_code_write(void *opaque, uint32_t gpa, unsigned len)
{
    struct code_log *c = opaque;
    c->gpa = gpa;
    c->len = len;
    c->calls++;
}

static struct mmu *new_mmu(void)
{
    struct mmu *m = malloc(sizeof *m);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(mmu_init(m, RAM), 0);
    return m;
}

static void free_mmu(struct mmu *m)
{
    mmu_destroy(m);
    free(m);
}

START_TEST(ram_read_write)
{
    struct mmu *m = new_mmu();
    mmu_write32(m, 0x1000, 0x11223344);
    ck_assert_uint_eq(mmu_read32(m, 0x1000), 0x11223344);
    ck_assert_uint_eq(mmu_read8(m, 0x1001), 0x33);
    ck_assert_uint_eq(mmu_read16(m, 0x1002), 0x1122);
    /* A page-crossing access goes bytewise through the slow path. */
    mmu_write32(m, 0x1ffe, 0xaabbccdd);
    ck_assert_uint_eq(mmu_read32(m, 0x1ffe), 0xaabbccdd);
    ck_assert_uint_eq(mmu_phys_read32(m, 0x2000), 0xaabb);
    /* Beyond RAM reads all-ones. */
    ck_assert_uint_eq(mmu_read32(m, RAM + 0x100), 0xffffffffu);
    free_mmu(m);
}
END_TEST

START_TEST(rom_is_read_only)
{
    struct mmu *m = new_mmu();
    uint8_t rom[PAGE_SIZE];
    for (unsigned i = 0; i < sizeof rom; i++)
        rom[i] = (uint8_t)i;
    ck_assert_int_eq(mmu_map_rom(m, 0xf0000, rom, sizeof rom, "rom"), 0);
    ck_assert_uint_eq(mmu_read8(m, 0xf0005), 5);
    mmu_write8(m, 0xf0005, 0x99);
    ck_assert_uint_eq(mmu_read8(m, 0xf0005), 5);
    ck_assert_uint_eq(mmu_fetch8(m, 0xf0007), 7);
    free_mmu(m);
}
END_TEST

START_TEST(mmio_reaches_callbacks_every_time)
{
    struct mmu *m = new_mmu();
    struct mmio_dev d = {0};
    ck_assert_int_eq(mmu_map_mmio(m, 0xa0000, 0x20000, &dev_ops, &d, "dev"), 0);
    ck_assert_uint_eq(mmu_read16(m, 0xa0010), 0x0010);
    ck_assert_uint_eq(d.last_size, 2);
    mmu_read16(m, 0xa0010);
    ck_assert_int_eq(d.reads, 2);
    mmu_write32(m, 0xa0020, 0xdeadbeef);
    ck_assert_int_eq(d.writes, 1);
    ck_assert_uint_eq(d.last_value, 0xdeadbeef);
    ck_assert_uint_eq(d.last_addr, 0x20);
    free_mmu(m);
}
END_TEST

START_TEST(a20_gate_wraps_at_1mib)
{
    struct mmu *m = new_mmu();
    mmu_write32(m, 0x0500, 0x12345678);
    ck_assert_uint_ne(mmu_read32(m, 0x100500), 0x12345678);
    mmu_set_a20(m, false);
    ck_assert_uint_eq(mmu_read32(m, 0x100500), 0x12345678);
    mmu_set_a20(m, true);
    ck_assert_uint_ne(mmu_read32(m, 0x100500), 0x12345678);
    free_mmu(m);
}
END_TEST

START_TEST(tracked_page_reports_writes)
{
    struct mmu *m = new_mmu();
    struct code_log c = {0};
    m->code_write = on_code_write;
    m->code_opaque = &c;
    /* Fill the TLB with a write tag first: tracking must shoot it down. */
    mmu_write32(m, 0x3000, 1);
    mmu_track_code(m, 0x3000);
    mmu_write16(m, 0x3010, 0xbeef);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_uint_eq(c.gpa, 0x3010);
    ck_assert_uint_eq(c.len, 2);
    ck_assert_uint_eq(mmu_read16(m, 0x3010), 0xbeef);
    /* DMA-style writes are tracked too. */
    uint8_t buf[8] = {0};
    mmu_phys_write(m, 0x3ffc, buf, sizeof buf);
    ck_assert_int_eq(c.calls, 2);
    mmu_untrack_code(m, 0x3000);
    mmu_write8(m, 0x3020, 1);
    ck_assert_int_eq(c.calls, 2);
    free_mmu(m);
}
END_TEST

/* Page tables: PD at 0x10000, PT at 0x11000; GVA 0x400000 → GPA 0x200000. */
static void setup_paging(struct mmu *m, struct fault_catcher *f, uint32_t pte_flags, bool wp)
{
    m->page_fault = on_page_fault;
    m->fault_opaque = f;
    mmu_phys_write32(m, 0x10000 + 1 * 4, 0x11000 | 0x7);
    mmu_phys_write32(m, 0x11000 + 0 * 4, 0x200000 | pte_flags);
    struct paging_mode pm = {.pg = true, .wp = wp, .cr3 = 0x10000};
    mmu_set_paging(m, &pm);
}

START_TEST(paging_translates_and_sets_accessed_dirty)
{
    struct mmu *m = new_mmu();
    struct fault_catcher f = {0};
    setup_paging(m, &f, 0x7, false);
    mmu_phys_write32(m, 0x200010, 0xcafef00d);
    ck_assert_uint_eq(mmu_read32(m, 0x400010), 0xcafef00d);
    uint32_t pte = mmu_phys_read32(m, 0x11000);
    ck_assert_uint_eq(pte & 0x20, 0x20); /* accessed */
    ck_assert_uint_eq(pte & 0x40, 0);    /* not dirty after a read */
    ck_assert_uint_eq(mmu_phys_read32(m, 0x10004) & 0x20, 0x20);
    /* The read filled the TLB, but a write must still reach the walker to set D. */
    mmu_write32(m, 0x400020, 0x1234);
    ck_assert_uint_eq(mmu_phys_read32(m, 0x11000) & 0x40, 0x40);
    ck_assert_uint_eq(mmu_phys_read32(m, 0x200020), 0x1234);
    free_mmu(m);
}
END_TEST

START_TEST(paging_faults_with_error_codes)
{
    struct mmu *m = new_mmu();
    struct fault_catcher f = {0};
    setup_paging(m, &f, 0x5 /* present, user, read-only */, true);
    if (setjmp(f.jmp) == 0) {
        mmu_read32(m, 0x800000); /* PDE not present */
        ck_abort_msg("no fault");
    }
    ck_assert_uint_eq(f.gva, 0x800000);
    ck_assert_uint_eq(f.error, 0);
    if (setjmp(f.jmp) == 0) {
        mmu_write32(m, 0x400000, 1); /* read-only, supervisor, WP=1 */
        ck_abort_msg("no fault");
    }
    ck_assert_uint_eq(f.error, 0x3);
    mmu_set_user(m, true);
    if (setjmp(f.jmp) == 0) {
        mmu_write8(m, 0x400004, 1);
        ck_abort_msg("no fault");
    }
    ck_assert_uint_eq(f.error, 0x7);
    /* The denied accesses must not have set D. */
    ck_assert_uint_eq(mmu_phys_read32(m, 0x11000) & 0x40, 0);
    /* A user read is fine. */
    ck_assert_uint_eq(mmu_read8(m, 0x400004), 0);
    free_mmu(m);
}
END_TEST

START_TEST(supervisor_writes_readonly_page_without_wp)
{
    struct mmu *m = new_mmu();
    struct fault_catcher f = {0};
    setup_paging(m, &f, 0x5, false);
    if (setjmp(f.jmp) != 0)
        ck_abort_msg("unexpected fault");
    mmu_write32(m, 0x400000, 0x77);
    ck_assert_uint_eq(mmu_phys_read32(m, 0x200000), 0x77);
    free_mmu(m);
}
END_TEST

START_TEST(large_pages_and_invlpg)
{
    struct mmu *m = new_mmu();
    struct fault_catcher f = {0};
    m->page_fault = on_page_fault;
    m->fault_opaque = &f;
    /* 4 MiB page: GVA 0x00400000-0x007fffff → GPA 0 (PSE). */
    mmu_phys_write32(m, 0x10000 + 4, 0x00000087);
    struct paging_mode pm = {.pg = true, .pse = true, .cr3 = 0x10000};
    mmu_set_paging(m, &pm);
    mmu_phys_write32(m, 0x123450, 0xfeedface);
    ck_assert_uint_eq(mmu_read32(m, 0x523450), 0xfeedface);
    /* Remap the large page and INVLPG one address inside it: the whole
     * large mapping must be re-walked. */
    mmu_phys_write32(m, 0x10000 + 4, 0x00000000);
    mmu_invlpg(m, 0x400000);
    if (setjmp(f.jmp) == 0) {
        mmu_read32(m, 0x523450);
        ck_abort_msg("stale large-page translation survived INVLPG");
    }
    ck_assert_uint_eq(f.gva, 0x523450);
    free_mmu(m);
}
END_TEST

START_TEST(split_write_faults_with_cr2_at_second_page)
{
    struct mmu *m = new_mmu();
    struct fault_catcher f = {0};
    setup_paging(m, &f, 0x7, true);
    /* GVA 0x400000 is mapped, 0x401000 is not: a dword at 0x400ffe
     * straddles; the #PF names the first byte of the missing page and
     * nothing is written to the first one. */
    mmu_phys_write32(m, 0x200ffc, 0x11111111);
    if (setjmp(f.jmp) == 0) {
        mmu_write32(m, 0x400ffe, 0xaabbccdd);
        ck_abort_msg("no fault");
    }
    ck_assert_uint_eq(f.gva, 0x401000);
    ck_assert_uint_eq(f.error, 0x2);
    ck_assert_uint_eq(mmu_phys_read32(m, 0x200ffc), 0x11111111);
    free_mmu(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mmu");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ram_read_write);
    tcase_add_test(tc, rom_is_read_only);
    tcase_add_test(tc, mmio_reaches_callbacks_every_time);
    tcase_add_test(tc, a20_gate_wraps_at_1mib);
    tcase_add_test(tc, tracked_page_reports_writes);
    tcase_add_test(tc, paging_translates_and_sets_accessed_dirty);
    tcase_add_test(tc, paging_faults_with_error_codes);
    tcase_add_test(tc, supervisor_writes_readonly_page_without_wp);
    tcase_add_test(tc, large_pages_and_invlpg);
    tcase_add_test(tc, split_write_faults_with_cr2_at_second_page);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
