/*
 * durable.c — guest half of storage.durable: what a FLUSH CACHE
 * acknowledged must survive `kill -9` of the emulator.  On the primary
 * master (a 2 GiB raw or qcow2 image) it writes the extents of durable.h
 * with salt=S from the command line, by PIO (WRITE SECTORS, one interrupt
 * per sector) and by bus-master DMA (WRITE DMA), issues FLUSH CACHE, waits
 * for its completion interrupt, and prints "DURABLE-FLUSHED salt=S".  The
 * test kills Umbra as soon as it sees that line; meanwhile the guest goes on
 * writing new clusters (unflushed), so the kill lands mid-allocation.
 */
#include "guest.h"

#include "durable.h"

static inline u32 inl(u16 p) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(p)); return v; }
static inline void outl(u16 p, u32 v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(p)); }

const char guest_name[] = "durable";

static volatile u32 irqs;
static u16 bm;
static u8 dmabuf[16 * 512] __attribute__((aligned(4096)));
static u32 prd[4] __attribute__((aligned(16)));

static void on_irq(struct frame *f)
{
    (void)f;
    irqs++;
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

static u8 wait_irq(u32 before, const char *what)
{
    for (u32 spin = 0; irqs == before; spin++) {
        CHECK(spin < 200000000u, "%s: no interrupt (status %02x)", what, inb(0x3f6));
        __asm__ volatile("pause");
    }
    return inb(0x1f7);
}

static u32 command(u32 lba, u8 count, u8 cmd)
{
    u32 before = irqs;
    outb(0x1f6, (u8)(0xe0 | ((lba >> 24) & 0x0f)));
    outb(0x1f2, count);
    outb(0x1f3, (u8)lba);
    outb(0x1f4, (u8)(lba >> 8));
    outb(0x1f5, (u8)(lba >> 16));
    outb(0x1f7, cmd);
    return before;
}

static void write_pio(u32 lba, u32 count, u32 salt)
{
    u32 before = command(lba, (u8)count, 0x30);
    for (u32 s = 0; s < count; s++) {
        u32 t = 0;
        while ((inb(0x3f6) & 0x88) != 0x08) CHECK(++t < 10000000u, "WRITE SECTORS %u: no DRQ", lba);
        for (u32 i = 0; i < 512; i += 2)
            outw(0x1f0, (u16)(durable_byte(lba + s, i, salt) | durable_byte(lba + s, i + 1, salt) << 8));
        u8 st = wait_irq(before + s, "WRITE SECTORS");
        CHECK(!(st & 0x21), "WRITE SECTORS %u: status %02x", lba + s, st);
    }
}

static void write_dma(u32 lba, u32 count, u32 salt)
{
    for (u32 s = 0; s < count; s++)
        for (u32 i = 0; i < 512; i++) dmabuf[512 * s + i] = durable_byte(lba + s, i, salt);
    u32 half = count * 512 / 2;
    prd[0] = (u32)dmabuf;
    prd[1] = half;
    prd[2] = (u32)dmabuf + half;
    prd[3] = 0x80000000u | (count * 512 - half);
    outl(bm + 4, (u32)prd);
    outb(bm + 2, 0x06); /* clear interrupt and error */
    outb(bm, 0x00);     /* direction: memory to disk */
    u32 before = command(lba, (u8)count, 0xca);
    outb(bm, 0x01);
    u8 st = wait_irq(before, "WRITE DMA");
    u8 bst = inb(bm + 2);
    outb(bm, 0x00);
    CHECK(!(st & 0x21) && (bst & 0x06) == 0x04, "WRITE DMA %u: status %02x/%02x", lba, st, bst);
}

void test_main(void)
{
    u32 salt = cmdline_u32("salt", 0);
    CHECK(salt != 0, "no salt= on the command line");
    CHECK(pci_read(0x09, 0x00) == 0x70108086, "00:01.1 is not the PIIX3 IDE");
    u32 bar4 = pci_read(0x09, 0x20);
    if ((bar4 & ~3u) == 0) { /* no firmware placed it */
        pci_write(0x09, 0x20, 0xc000);
        bar4 = pci_read(0x09, 0x20);
    }
    bm = (u16)(bar4 & 0xfffc);
    pci_write(0x09, 0x04, pci_read(0x09, 0x04) | 0x05); /* I/O and bus master */
    pci_write(0x09, 0x40, 0x80008000u);                 /* both channels decode */

    outb(0x20, 0x11); outb(0x21, 0x20); outb(0x21, 0x04); outb(0x21, 0x01);
    outb(0xa0, 0x11); outb(0xa1, 0x28); outb(0xa1, 0x02); outb(0xa1, 0x01);
    outb(0x21, 0xfb);
    outb(0xa1, 0xbf); /* IRQ 14 only */
    isr_set(0x2e, on_irq);
    outb(0x3f6, 0x00);
    inb(0x1f7);
    __asm__ volatile("sti");

    for (u32 e = 0; e < DURABLE_NEXTENTS; e++) {
        const struct durable_extent *x = &durable_extents[e];
        if (x->dma)
            write_dma(x->lba, x->count, salt);
        else
            write_pio(x->lba, x->count, salt);
    }
    u32 before = command(0, 0, 0xe7); /* FLUSH CACHE */
    u8 st = wait_irq(before, "FLUSH CACHE");
    CHECK(!(st & 0xa1), "FLUSH CACHE: status %02x", st);
    kprintf("DURABLE-FLUSHED salt=%u\n", salt);

    /* Unflushed writes, one new cluster each, until the test kills us. */
    for (u32 k = 0; k < DURABLE_AFTER_MAX; k++)
        write_pio(DURABLE_AFTER_LBA + k * DURABLE_STRIDE, 1, salt + 1);
    kputs("DURABLE-AFTER-DONE\n");
    for (;;) __asm__ volatile("hlt");
}
