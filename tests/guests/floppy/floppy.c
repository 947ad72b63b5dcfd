/*
 * floppy.c — guest test of the floppy controller and DMA without a BIOS:
 * programs the 8259 (IRQ 6), the 8237 (channel 2) and the 82077AA directly.
 * Resets the FDC (four sense interrupts), recalibrates and seeks, reads a
 * whole cylinder with one multi-track DMA command and checks every byte
 * against floppy_pattern.h, reads sector 1, writes C5 H1 R7 and reads it
 * back, provokes "sector not found", and reads the written sector again in
 * non-DMA mode through the FIFO.  The ctest (run-floppy.sh) made the image
 * and checks it afterwards.
 *
 * Options (-append): ro=1 — the image is write-protected: WRITE DATA must
 * fail with ST1 NW and the sector keep its content; hw=1 — also the
 * datasheet behaviour QEMU does not model (a non-DMA transfer ends at EOT
 * with "end of cylinder", since nothing raises TC; a sector number beyond
 * the track is "no data", ST1 ND, where QEMU says "end of cylinder").
 */
#include "guest.h"
#include "floppy_pattern.h"

const char guest_name[] = "floppy";

#define FDC 0x3f0
#define DOR (FDC + 2)
#define MSR (FDC + 4)
#define DSR (FDC + 4)
#define FIFO (FDC + 5)
#define DIR (FDC + 7)

#define IRQ_VECTOR 0x26 /* the master PIC at 0x20: IRQ 6 */
#define BUF_A 0x80000u  /* DMA buffers: below 1 MiB, inside one 64 KiB page */
#define BUF_B 0x90000u

static volatile u32 irqs;

static void on_irq6(struct frame *f)
{
    (void)f;
    irqs++;
    outb(0x20, 0x20); /* EOI */
}

static void pic_init(void)
{
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, (u8)~(1u << 6));
    outb(0xa1, 0xff);
}

/* Wait for IRQ 6 (a hang is caught by the test's timeout). */
static void wait_irq(u32 before, const char *what)
{
    while (irqs == before)
        __asm__ volatile("sti; hlt; cli");
    if (irqs != before + 1)
        fail("%s: %u interrupts, want 1", what, irqs - before);
}

static void fdc_out(u8 v)
{
    for (u32 i = 0; i < 1000000; i++) {
        u8 m = inb(MSR);
        if ((m & 0xc0) == 0x80) {
            outb(FIFO, v);
            return;
        }
    }
    fail("FDC not ready for a command byte (MSR %02x)", inb(MSR));
}

/* Result phase: returns the number of bytes. */
static unsigned fdc_result(u8 *res, unsigned max)
{
    unsigned n = 0;
    for (u32 i = 0; i < 1000000; i++) {
        u8 m = inb(MSR);
        if ((m & 0xd0) == 0xd0) {
            if (n == max)
                fail("more than %u result bytes", max);
            res[n++] = inb(FIFO);
            i = 0;
        } else if ((m & 0xd0) == 0x80) {
            return n;
        }
    }
    fail("FDC result phase stuck (MSR %02x)", inb(MSR));
}

static void sense_int(u8 *st0, u8 *pcn)
{
    u8 r[2];
    fdc_out(0x08);
    if (fdc_result(r, 2) != 2)
        fail("SENSE INTERRUPT STATUS: not 2 result bytes");
    *st0 = r[0];
    *pcn = r[1];
}

static void seek(u8 head, u8 cyl)
{
    u32 n = irqs;
    fdc_out(0x0f);
    fdc_out((u8)(head << 2));
    fdc_out(cyl);
    wait_irq(n, "SEEK");
    u8 st0, pcn;
    sense_int(&st0, &pcn);
    CHECK(st0 == 0x20 && pcn == cyl, /* the head bit is always 0 after a seek */ "SEEK %u: ST0 %02x PCN %u", cyl, st0, pcn);
}

/* Channel 2: mode 0x46 (single, write to memory) or 0x4a (read memory). */
static void dma_setup(u8 mode, u32 phys, u32 bytes)
{
    outb(0x0a, 0x06);
    outb(0x0c, 0);
    outb(0x0b, mode);
    outb(0x04, (u8)phys);
    outb(0x04, (u8)(phys >> 8));
    outb(0x81, (u8)(phys >> 16));
    outb(0x05, (u8)(bytes - 1));
    outb(0x05, (u8)((bytes - 1) >> 8));
    outb(0x0a, 0x02);
}

/* READ (0x06) / WRITE (0x05) DATA with MFM (+MT); returns in res[7]. */
static void rw(u8 op, u8 c, u8 h, u8 r, u8 eot, u8 *res, int expect_irq)
{
    u32 n = irqs;
    u8 b[9] = {op, (u8)(h << 2), c, h, r, 2, eot, 0x1b, 0xff};
    for (int i = 0; i < 9; i++)
        fdc_out(b[i]);
    if (expect_irq)
        wait_irq(n, "READ/WRITE DATA");
    if (fdc_result(res, 7) != 7)
        fail("READ/WRITE DATA: not 7 result bytes");
}

static void check_sector(u32 addr, unsigned lba, const char *what)
{
    const u8 *p = (const u8 *)addr;
    for (unsigned i = 0; i < FD_SECTOR_SIZE; i++)
        if (p[i] != fd_pattern(lba, i))
            fail("%s: LBA %u byte %u is %02x, want %02x", what, lba, i, p[i], fd_pattern(lba, i));
}

void test_main(void)
{
    int ro = cmdline_u32("ro", 0), hw = cmdline_u32("hw", 0);
    u8 res[10], st0, pcn;
    idt_set_stub(IRQ_VECTOR, ACC_P | ACC_INTGATE32);
    isr_set(IRQ_VECTOR, on_irq6);
    pic_init();

    /* Reset through the DOR: one interrupt, then ST0 0xc0-0xc3. */
    u32 n = irqs;
    outb(DOR, 0x00);
    outb(DOR, 0x1c); /* out of reset, DMA+IRQ on, drive 0 selected, motor 0 */
    wait_irq(n, "reset");
    for (unsigned i = 0; i < 4; i++) {
        sense_int(&st0, &pcn);
        CHECK(st0 == (0xc0 | i), "reset sense %u: ST0 %02x", i, st0);
    }
    kputs("ok reset\n");
    fdc_out(0x10);
    CHECK(fdc_result(res, 1) == 1 && res[0] == 0x90, "VERSION %02x", res[0]);
    outb(DSR, 0x00); /* 500 kb/s */
    fdc_out(0x03);
    fdc_out(0xdf);
    fdc_out(0x02); /* SPECIFY: DMA mode */

    n = irqs;
    fdc_out(0x07);
    fdc_out(0x00);
    wait_irq(n, "RECALIBRATE");
    sense_int(&st0, &pcn);
    CHECK(st0 == 0x20 && pcn == 0, "RECALIBRATE: ST0 %02x PCN %u", st0, pcn);
    seek(0, 1);
    seek(0, 0);
    CHECK(!(inb(DIR) & 0x80), "disk change still set after stepping (DIR %02x)", inb(DIR));
    kputs("ok recalibrate/seek\n");

    /* A whole cylinder (2), both heads, one multi-track DMA read. */
    seek(0, 2);
    dma_setup(0x46, BUF_A, 2 * FD_SPT * FD_SECTOR_SIZE);
    rw(0xc6, 2, 0, 1, FD_SPT, res, 1);
    CHECK((res[0] & 0xc0) == 0 && res[1] == 0 && res[2] == 0, "MT read: ST0-2 %02x %02x %02x",
          res[0], res[1], res[2]);
    CHECK(res[3] == 3 && res[4] == 0 && res[5] == 1 && res[6] == 2,
          "MT read: result C%u H%u R%u N%u, want C3 H0 R1 N2", res[3], res[4], res[5], res[6]);
    CHECK(inb(0x08) & 0x04, "DMA channel 2 did not reach terminal count");
    for (unsigned s = 0; s < 2 * FD_SPT; s++)
        check_sector(BUF_A + s * FD_SECTOR_SIZE, FD_LBA(2, 0, 1) + s, "MT read");
    kputs("ok multi-track read of cylinder 2\n");

    seek(0, 0);
    dma_setup(0x46, BUF_B, FD_SECTOR_SIZE);
    rw(0x46, 0, 0, 1, FD_SPT, res, 1);
    CHECK(res[0] == 0 && res[5] == 2, "read C0 H0 R1: ST0 %02x R%u", res[0], res[5]);
    check_sector(BUF_B, 0, "read LBA 0");
    kputs("ok read sector 1\n");

    /* Write C5 H1 R7, then read it back. */
    u8 *w = (u8 *)BUF_A;
    for (unsigned i = 0; i < FD_SECTOR_SIZE; i++)
        w[i] = fd_written(i);
    seek(1, FD_WRITE_C);
    dma_setup(0x4a, BUF_A, FD_SECTOR_SIZE);
    rw(0x45, FD_WRITE_C, FD_WRITE_H, FD_WRITE_R, FD_SPT, res, 1);
    if (ro) {
        CHECK((res[0] & 0xc0) == 0x40 && (res[1] & 0x02), "write-protected WRITE: ST0 %02x ST1 %02x",
              res[0], res[1]);
        kputs("ok write refused (write-protected)\n");
    } else {
        CHECK((res[0] & 0xc0) == 0 && res[1] == 0 && res[5] == FD_WRITE_R + 1,
              "WRITE: ST0 %02x ST1 %02x R%u", res[0], res[1], res[5]);
        kputs("ok write\n");
    }
    memset((void *)BUF_B, 0, FD_SECTOR_SIZE);
    dma_setup(0x46, BUF_B, FD_SECTOR_SIZE);
    rw(0x46, FD_WRITE_C, FD_WRITE_H, FD_WRITE_R, FD_SPT, res, 1);
    CHECK((res[0] & 0xc0) == 0, "read back: ST0 %02x ST1 %02x", res[0], res[1]);
    const u8 *b = (const u8 *)BUF_B;
    for (unsigned i = 0; i < FD_SECTOR_SIZE; i++) {
        u8 want = ro ? fd_pattern(FD_LBA(FD_WRITE_C, FD_WRITE_H, FD_WRITE_R), i) : fd_written(i);
        CHECK(b[i] == want, "read back byte %u: %02x, want %02x", i, b[i], want);
    }
    kputs("ok read back\n");

    /* No sector 19 on a 1.44 MB track. */
    dma_setup(0x46, BUF_B, FD_SECTOR_SIZE);
    rw(0x46, FD_WRITE_C, FD_WRITE_H, FD_SPT + 1, FD_SPT + 1, res, 1);
    CHECK((res[0] & 0xc0) == 0x40 && (!hw || res[1] == 0x04), "sector 19: ST0 %02x ST1 %02x, want ND",
          res[0], res[1]);
    kputs("ok sector not found\n");

    /* Non-DMA: the same sector through the FIFO. */
    fdc_out(0x03);
    fdc_out(0xdf);
    fdc_out(0x03);
    u8 bx[9] = {0x46, (u8)(FD_WRITE_H << 2), FD_WRITE_C, FD_WRITE_H, FD_WRITE_R, 2, FD_WRITE_R,
                0x1b, 0xff};
    for (int i = 0; i < 9; i++)
        fdc_out(bx[i]);
    for (unsigned i = 0; i < FD_SECTOR_SIZE; i++) {
        u32 k = 0;
        while ((inb(MSR) & 0xe0) != 0xe0)
            if (++k > 10000000)
                fail("non-DMA read: no data byte %u (MSR %02x)", i, inb(MSR));
        u8 v = inb(FIFO);
        u8 want = ro ? fd_pattern(FD_LBA(FD_WRITE_C, FD_WRITE_H, FD_WRITE_R), i) : fd_written(i);
        CHECK(v == want, "non-DMA read byte %u: %02x, want %02x", i, v, want);
    }
    if (fdc_result(res, 7) != 7)
        fail("non-DMA read: not 7 result bytes");
    if (hw)
        CHECK(res[0] == (0x40 | FD_WRITE_H << 2) && res[1] == 0x80,
              "non-DMA read: ST0 %02x ST1 %02x, want end of cylinder", res[0], res[1]);
    else
        CHECK((res[0] & 0xc0) == 0 || ((res[0] & 0xc0) == 0x40 && res[1] == 0x80),
              "non-DMA read: ST0 %02x ST1 %02x", res[0], res[1]);
    kputs("ok non-DMA read\n");
}
