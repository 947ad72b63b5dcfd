/*
 * ide.c — guest test of the PIIX3 IDE controller the way a DOS or Win9x
 * driver drives it: the PCI function found and enabled by the guest itself,
 * the 8259s programmed, and every command completed through its IRQ 14/15
 * interrupt (status read to acknowledge, then data).  Disk (primary master,
 * 4 MiB, sector s holds s in its first 4 bytes then (s*7+i) & 0xff) and CD
 * (secondary master, 64 sectors of 2048 bytes, same pattern) are made by
 * ide-mkimage at build time; -snapshot keeps them clean.
 *
 * Checked: IDENTIFY (capacity, LBA), PIO read/write with one interrupt per
 * sector, READ MULTIPLE with one per block, bus-master DMA read and write
 * through a PRD table, LBA48, an out-of-range read ending in ERR, and on
 * the CD: DEVICE RESET signature, TEST UNIT READY, INQUIRY, READ CAPACITY,
 * READ(10) in PIO (2048-byte byte-count limit, one DRQ per sector) and DMA.
 * The same guest passes under QEMU (the reference), where only the error
 * bit, not the drive's exact error code, is compared.
 */
#include "guest.h"

#define DISK_SECTORS 8192u
#define CD_SECTORS 64u

static inline u16 inw(u16 p) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }

const char guest_name[] = "ide";

static volatile u32 irqs[2];
static u16 bm;

static void on_irq(struct frame *f)
{
    irqs[f->vector == 0x2e ? 0 : 1]++;
    outb(0xa0, 0x20);
    outb(0x20, 0x20);
}

static u32 pci_read(u32 devfn, u32 reg)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    return inl(0xcfc);
}
static void pci_write(u32 devfn, u32 reg, u32 v)
{
    outl(0xcf8, 0x80000000u | devfn << 8 | (reg & 0xfc));
    outl(0xcfc, v);
}

static u8 pat(u32 s, u32 i, u32 salt)
{
    return i < 4 ? (u8)(s >> (8 * i)) : (u8)(s * 7 + i + salt);
}

static void check_pattern(const u8 *b, u32 first, u32 n, u32 ssize, u32 salt, const char *what)
{
    for (u32 s = 0; s < n; s++)
        for (u32 i = 0; i < ssize; i++)
            CHECK(b[s * ssize + i] == pat(first + s, i, salt),
                  "%s: sector %u byte %u is %02x, want %02x", what, first + s, i,
                  b[s * ssize + i], pat(first + s, i, salt));
}

/* Wait for the next interrupt of channel c and acknowledge it by reading the
 * status register; returns the status. */
static u8 wait_irq(int c, u32 before, const char *what)
{
    u16 base = c ? 0x170 : 0x1f0;
    for (u32 spin = 0; irqs[c] == before; spin++) {
        CHECK(spin < 200000000u, "%s: no interrupt (status %02x)", what, inb(base + 7));
        __asm__ volatile("pause");
    }
    return inb(base + 7);
}

static void select_lba(u16 base, u32 lba, u8 count)
{
    outb(base + 6, (u8)(0xe0 | ((lba >> 24) & 0x0f)));
    outb(base + 2, count);
    outb(base + 3, (u8)lba);
    outb(base + 4, (u8)(lba >> 8));
    outb(base + 5, (u8)(lba >> 16));
}

static u8 ata_cmd(u32 lba, u8 count, u8 cmd)
{
    u32 before = irqs[0];
    select_lba(0x1f0, lba, count);
    outb(0x1f7, cmd);
    return (u8)before;
}

static void pio_in(u16 base, u8 *buf, u32 bytes)
{
    for (u32 i = 0; i < bytes; i += 2) {
        u16 w = inw(base);
        buf[i] = (u8)w;
        buf[i + 1] = (u8)(w >> 8);
    }
}

static u8 buf[16 * 512] __attribute__((aligned(4096)));
static u8 dmabuf[4 * 4096] __attribute__((aligned(4096)));
static u32 prd[8] __attribute__((aligned(16)));

static void disk_tests(void)
{
    u16 w[256];
    u32 before = irqs[0];
    outb(0x1f6, 0xa0);
    outb(0x1f7, 0xec);
    u8 st = wait_irq(0, before, "IDENTIFY");
    CHECK((st & 0x89) == 0x08, "IDENTIFY: status %02x", st);
    pio_in(0x1f0, (u8 *)w, 512);
    CHECK((w[0] & 0x8000) == 0, "IDENTIFY word 0 %04x", w[0]);
    CHECK((w[60] | (u32)w[61] << 16) == DISK_SECTORS, "capacity %u", w[60] | (u32)w[61] << 16);
    CHECK(w[49] & 0x200, "no LBA");
    char model[41];
    for (int i = 0; i < 20; i++) {
        model[2 * i] = (char)(w[27 + i] >> 8);
        model[2 * i + 1] = (char)w[27 + i];
    }
    model[40] = 0;
    for (int i = 39; i >= 0 && model[i] == ' '; i--)
        model[i] = 0;
    kprintf("ok identify: \"%s\", %u sectors\n", model, DISK_SECTORS);

    /* PIO read, one interrupt per sector. */
    before = ata_cmd(100, 3, 0x20);
    for (u32 s = 0; s < 3; s++) {
        st = wait_irq(0, before + s, "READ SECTORS");
        CHECK((st & 0x89) == 0x08, "READ SECTORS: status %02x", st);
        pio_in(0x1f0, buf + 512 * s, 512);
    }
    CHECK((inb(0x3f6) & 0x89) == 0, "READ SECTORS: still busy");
    check_pattern(buf, 100, 3, 512, 0, "PIO read");
    kputs("ok pio read\n");

    /* PIO write, then read back. */
    before = ata_cmd(300, 2, 0x30);
    for (u32 s = 0; s < 2; s++) {
        for (u32 t = 0; t < 1000000 && !(inb(0x3f6) & 0x08); t++)
            ;
        for (u32 i = 0; i < 512; i += 2)
            outw(0x1f0, (u16)(pat(300 + s, i, 0x55) | pat(300 + s, i + 1, 0x55) << 8));
        st = wait_irq(0, before + s, "WRITE SECTORS");
        CHECK(!(st & 0x01), "WRITE SECTORS: status %02x", st);
    }
    before = ata_cmd(300, 2, 0x20);
    for (u32 s = 0; s < 2; s++) {
        wait_irq(0, before + s, "READ back");
        pio_in(0x1f0, buf + 512 * s, 512);
    }
    check_pattern(buf, 300, 2, 512, 0x55, "PIO write read back");
    kputs("ok pio write\n");

    /* READ MULTIPLE: 8 sectors in blocks of 4, two interrupts. */
    before = ata_cmd(0, 4, 0xc6);
    st = wait_irq(0, before, "SET MULTIPLE");
    CHECK(!(st & 0x01), "SET MULTIPLE: status %02x", st);
    before = ata_cmd(50, 8, 0xc4);
    for (u32 b = 0; b < 2; b++) {
        st = wait_irq(0, before + b, "READ MULTIPLE");
        CHECK((st & 0x89) == 0x08, "READ MULTIPLE: status %02x", st);
        pio_in(0x1f0, buf + 2048 * b, 2048);
    }
    check_pattern(buf, 50, 8, 512, 0, "READ MULTIPLE");
    kputs("ok read multiple\n");

    /* DMA read of 16 sectors through two PRDs. */
    prd[0] = (u32)dmabuf;
    prd[1] = 4096;
    prd[2] = (u32)dmabuf + 4096;
    prd[3] = 0x80000000u | 4096;
    outl(bm + 4, (u32)prd);
    outb(bm + 2, 0x06);
    outb(bm, 0x08);
    before = ata_cmd(1000, 16, 0xc8);
    outb(bm, 0x09);
    st = wait_irq(0, before, "READ DMA");
    u8 bst = inb(bm + 2);
    outb(bm, 0x00);
    CHECK(!(st & 0x01), "READ DMA: status %02x", st);
    CHECK((bst & 0x06) == 0x04, "READ DMA: bus-master status %02x", bst);
    check_pattern(dmabuf, 1000, 16, 512, 0, "DMA read");
    kputs("ok dma read\n");

    /* DMA write of 8 sectors, PIO read back. */
    for (u32 s = 0; s < 8; s++)
        for (u32 i = 0; i < 512; i++)
            dmabuf[512 * s + i] = pat(2000 + s, i, 0x33);
    prd[0] = (u32)dmabuf;
    prd[1] = 0x80000000u | 4096;
    outl(bm + 4, (u32)prd);
    outb(bm + 2, 0x06);
    outb(bm, 0x00);
    before = ata_cmd(2000, 8, 0xca);
    outb(bm, 0x01);
    st = wait_irq(0, before, "WRITE DMA");
    bst = inb(bm + 2);
    outb(bm, 0x00);
    CHECK(!(st & 0x01) && (bst & 0x06) == 0x04, "WRITE DMA: status %02x/%02x", st, bst);
    before = ata_cmd(2000, 8, 0xc4);
    for (u32 b = 0; b < 2; b++) {
        wait_irq(0, before + b, "READ back DMA write");
        pio_in(0x1f0, buf + 2048 * b, 2048);
    }
    check_pattern(buf, 2000, 8, 512, 0x33, "DMA write read back");
    kputs("ok dma write\n");

    /* LBA48: READ SECTORS EXT. */
    before = irqs[0];
    outb(0x1f6, 0x40);
    outb(0x1f2, 0);
    outb(0x1f3, 0);
    outb(0x1f4, 0);
    outb(0x1f5, 0);
    outb(0x1f2, 2);
    outb(0x1f3, (u8)8000);
    outb(0x1f4, (u8)(8000 >> 8));
    outb(0x1f5, 0);
    outb(0x1f7, 0x24);
    for (u32 s = 0; s < 2; s++) {
        st = wait_irq(0, before + s, "READ SECTORS EXT");
        CHECK((st & 0x89) == 0x08, "READ SECTORS EXT: status %02x", st);
        pio_in(0x1f0, buf + 512 * s, 512);
    }
    check_pattern(buf, 8000, 2, 512, 0, "LBA48 read");
    kputs("ok lba48\n");

    /* Past the end: an error, with its interrupt. */
    before = ata_cmd(DISK_SECTORS, 1, 0x20);
    st = wait_irq(0, before, "out-of-range READ");
    CHECK((st & 0x81) == 0x01, "out-of-range READ: status %02x", st);
    CHECK(inb(0x1f1) != 0, "out-of-range READ: error register 0");
    kputs("ok out of range\n");
}

/* ATAPI packet on the secondary master; limit = byte-count limit. */
static u32 packet(const u8 *p, u16 limit, int dma, u8 *out, u32 max, u8 *status)
{
    u32 before = irqs[1];
    outb(0x176, 0xa0);
    outb(0x171, dma ? 1 : 0);
    outb(0x174, (u8)limit);
    outb(0x175, (u8)(limit >> 8));
    outb(0x177, 0xa0);
    for (u32 t = 0; t < 1000000 && (inb(0x376) & 0x88) != 0x08; t++)
        ;
    CHECK((inb(0x376) & 0x88) == 0x08, "PACKET: no DRQ for the packet");
    for (int i = 0; i < 12; i += 2)
        outw(0x170, (u16)(p[i] | p[i + 1] << 8));
    if (dma) outb(bm + 8, 0x09);
    u32 n = 0;
    for (;;) {
        u8 st = wait_irq(1, before, "PACKET");
        before = irqs[1];
        if (!(st & 0x08)) {
            *status = st;
            if (dma) outb(bm + 8, 0x00);
            return n;
        }
        u32 len = inb(0x174) | (u32)inb(0x175) << 8;
        CHECK(n + len <= max && len <= limit, "PACKET: DRQ of %u bytes", len);
        pio_in(0x170, out + n, len);
        n += len;
    }
}

static void cd_tests(void)
{
    u8 st, b[64];
    outb(0x176, 0xa0);
    outb(0x177, 0x08); /* DEVICE RESET */
    for (u32 t = 0; t < 1000000 && (inb(0x376) & 0x80); t++)
        ;
    CHECK(inb(0x174) == 0x14 && inb(0x175) == 0xeb, "CD signature %02x %02x", inb(0x174),
          inb(0x175));
    u8 tur[12] = {0};
    for (int i = 0;; i++) { /* a unit attention may be pending */
        packet(tur, 0, 0, b, 0, &st);
        if (!(st & 0x01)) break;
        CHECK(i < 3, "TEST UNIT READY: status %02x error %02x", st, inb(0x171));
    }
    u8 inq[12] = {0x12, 0, 0, 0, 36};
    CHECK(packet(inq, 36, 0, b, 36, &st) == 36 && !(st & 1), "INQUIRY");
    CHECK(b[0] == 0x05 && (b[1] & 0x80), "INQUIRY: type %02x %02x", b[0], b[1]);
    u8 cap[12] = {0x25};
    CHECK(packet(cap, 8, 0, b, 8, &st) == 8 && !(st & 1), "READ CAPACITY");
    u32 last = (u32)b[0] << 24 | (u32)b[1] << 16 | (u32)b[2] << 8 | b[3];
    u32 bsize = (u32)b[4] << 24 | (u32)b[5] << 16 | (u32)b[6] << 8 | b[7];
    CHECK(last == CD_SECTORS - 1 && bsize == 2048, "READ CAPACITY: %u x %u", last, bsize);
    kputs("ok atapi inquiry, capacity\n");

    u8 rd[12] = {0x28, 0, 0, 0, 0, 10, 0, 0, 3};
    u32 n = packet(rd, 2048, 0, buf, sizeof buf, &st);
    CHECK(n == 3 * 2048 && !(st & 1), "READ(10) PIO: %u bytes, status %02x", n, st);
    check_pattern(buf, 10, 3, 2048, 0, "ATAPI PIO read");
    kputs("ok atapi pio read\n");

    prd[4] = (u32)dmabuf;
    prd[5] = 0x80000000u | 8192;
    outl(bm + 12, (u32)&prd[4]);
    outb(bm + 10, 0x06);
    outb(bm + 8, 0x08);
    u8 rd2[12] = {0x28, 0, 0, 0, 0, 40, 0, 0, 4};
    packet(rd2, 0, 1, 0, 0, &st);
    u8 bst = inb(bm + 10);
    CHECK(!(st & 1) && (bst & 0x06) == 0x04, "READ(10) DMA: status %02x/%02x", st, bst);
    check_pattern(dmabuf, 40, 4, 2048, 0, "ATAPI DMA read");
    kputs("ok atapi dma read\n");

    u8 past[12] = {0x28, 0, 0, 0, 0, CD_SECTORS - 1, 0, 0, 2};
    packet(past, 2048, 0, buf, sizeof buf, &st);
    CHECK(st & 0x01, "READ(10) past the end: status %02x", st);
    CHECK((inb(0x171) >> 4) == 5, "READ(10) past the end: sense key %u", inb(0x171) >> 4);
    kputs("ok atapi check condition\n");
}

void test_main(void)
{
    /* The IDE function: 00:01.1 on the i440FX/PIIX3 board. */
    u32 id = pci_read(0x09, 0x00), class = pci_read(0x09, 0x08);
    CHECK(id == 0x70108086, "00:01.1 is %08x, not the PIIX3 IDE", id);
    CHECK((class >> 16) == 0x0101, "class %08x", class);
    u32 bar4 = pci_read(0x09, 0x20);
    if ((bar4 & ~3u) == 0) { /* no firmware placed it */
        pci_write(0x09, 0x20, 0xc000);
        bar4 = pci_read(0x09, 0x20);
    }
    bm = (u16)(bar4 & 0xfffc);
    pci_write(0x09, 0x04, pci_read(0x09, 0x04) | 0x05); /* I/O and bus master */
    pci_write(0x09, 0x40, 0x80008000u);                 /* both channels decode */
    kprintf("ok pci: bus master at 0x%x\n", bm);

    /* 8259s: master at 0x20, slave at 0x28; only IRQ 2, 14, 15 unmasked. */
    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, 0xfb);
    outb(0xa1, 0x3f);
    isr_set(0x2e, on_irq);
    isr_set(0x2f, on_irq);
    outb(0x3f6, 0x00); /* nIEN off */
    outb(0x376, 0x00);
    inb(0x1f7);
    inb(0x177);
    __asm__ volatile("sti");

    disk_tests();
    cd_tests();
    __asm__ volatile("cli");
}
