/*
 * lib.c — runtime for the guest tests: COM1 output (polling LSR.THRE before each
 * THR write, as a real 16550 driver must), a small printf, the debug-exit port,
 * the multiboot command line, and the GDT/IDT/TSS every test starts from.
 */
#include <stdarg.h>
#include "guest.h"

#define COM1 0x3F8
#define DEBUG_EXIT 0xF4

struct desc gdt[GDT_ENTRIES] __attribute__((aligned(8)));
struct gate idt[256] __attribute__((aligned(8)));
struct tss32 kernel_tss __attribute__((aligned(128)));
static isr_fn isr_table[256];
static u8 kernel_int_stack[16384] __attribute__((aligned(16)));
u32 boot_magic, boot_mbi;
u8 user_stack[8192] __attribute__((aligned(16)));

static void user_int80(struct frame *f) { user_return(f->eax); }
static const char *cmdline_str = "";

extern char __bss_start[], __bss_end[];

void *memset(void *d, int c, unsigned n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}

void *memcpy(void *d, const void *s, unsigned n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

int memcmp(const void *a, const void *b, unsigned n)
{
    const u8 *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (u8)*a - (u8)*b;
}

unsigned strlen(const char *s)
{
    unsigned n = 0;
    while (s[n])
        n++;
    return n;
}

static void serial_init(void)
{
    outb(COM1 + 1, 0x00); /* no interrupts */
    outb(COM1 + 3, 0x80); /* DLAB */
    outb(COM1 + 0, 0x01); /* 115200 */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03); /* 8N1 */
    outb(COM1 + 2, 0x07); /* FIFO on, cleared */
    outb(COM1 + 4, 0x03); /* DTR RTS */
}

void serial_putc(char c)
{
    unsigned spins = 0;
    while (!(inb(COM1 + 5) & 0x20))
        if (++spins > 100000000u)
            break; /* a UART that never drains must not hang the test */
    outb(COM1, (u8)c);
}

void kputs(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

static void put_num(u32 v, int base, int width, char pad, int neg)
{
    char buf[16];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (neg)
        buf[n++] = '-';
    while (n < width)
        serial_putc(pad), width--;
    while (n)
        serial_putc(buf[--n]);
}

static void kvprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            serial_putc(*fmt);
            continue;
        }
        fmt++;
        char pad = ' ';
        int width = 0;
        if (*fmt == '0')
            pad = '0', fmt++;
        while (*fmt >= '0' && *fmt <= '9')
            width = width * 10 + (*fmt++ - '0');
        while (*fmt == 'l')
            fmt++;
        switch (*fmt) {
        case 'x': put_num(va_arg(ap, u32), 16, width, pad, 0); break;
        case 'u': put_num(va_arg(ap, u32), 10, width, pad, 0); break;
        case 'd': {
            s32 v = va_arg(ap, s32);
            put_num(v < 0 ? -(u32)v : (u32)v, 10, width, pad, v < 0);
            break;
        }
        case 'c': serial_putc((char)va_arg(ap, int)); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            int l = strlen(s);
            while (l < width)
                serial_putc(' '), width--;
            kputs(s);
            break;
        }
        case '%': serial_putc('%'); break;
        default: serial_putc('?'); break;
        }
    }
}

void kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
}

NORETURN void guest_exit(u32 v)
{
    outb(DEBUG_EXIT, (u8)v);
    /* Not reached under an emulator with isa-debug-exit; never run on. */
    for (;;)
        __asm__ volatile("cli; hlt");
}

NORETURN void pass(void)
{
    kprintf("PASS %s\n", guest_name);
    guest_exit(0);
}

NORETURN void fail(const char *fmt, ...)
{
    va_list ap;
    kprintf("FAIL %s: ", guest_name);
    va_start(ap, fmt);
    kvprintf(fmt, ap);
    va_end(ap);
    kprintf("\n");
    guest_exit(1);
}

const char *cmdline(void) { return cmdline_str; }

int cmdline_get(const char *key, char *buf, int len)
{
    const char *s = cmdline_str;
    int kl = strlen(key);
    while (*s) {
        while (*s == ' ')
            s++;
        const char *w = s;
        while (*s && *s != ' ')
            s++;
        if (s - w > kl && w[kl] == '=' && !memcmp(w, key, kl)) {
            int n = 0;
            for (w += kl + 1; w < s && n < len - 1; w++)
                buf[n++] = *w;
            buf[n] = 0;
            return 1;
        }
    }
    return 0;
}

u32 cmdline_u32(const char *key, u32 def)
{
    char buf[32];
    if (!cmdline_get(key, buf, sizeof buf))
        return def;
    u32 v = 0;
    const char *p = buf;
    int base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (*p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            break;
        if (d >= base)
            break;
        v = v * base + d;
    }
    return v;
}

void gdt_set(int idx, u32 base, u32 limit, u8 access, u8 flags)
{
    struct desc *d = &gdt[idx];
    d->limit_lo = limit & 0xFFFF;
    d->base_lo = base & 0xFFFF;
    d->base_mid = (base >> 16) & 0xFF;
    d->access = access;
    d->limit_hi_flags = ((limit >> 16) & 0x0F) | (flags << 4);
    d->base_hi = base >> 24;
}

void gdt_set_gate(int idx, u16 sel, u32 off, u8 access, u8 params)
{
    struct gate *g = (struct gate *)&gdt[idx];
    g->off_lo = off & 0xFFFF;
    g->sel = sel;
    g->params = params;
    g->access = access;
    g->off_hi = off >> 16;
}

void idt_set(int vec, u16 sel, u32 off, u8 access)
{
    struct gate *g = &idt[vec];
    g->off_lo = off & 0xFFFF;
    g->sel = sel;
    g->params = 0;
    g->access = access;
    g->off_hi = off >> 16;
}

void idt_set_stub(int vec, u8 access) { idt_set(vec, SEL_KCODE, isr_stub_table[vec], access); }

void isr_set(int vec, isr_fn fn) { isr_table[vec] = fn; }

void gdt_reload(void)
{
    struct PACKED { u16 limit; u32 base; } p = { sizeof gdt - 1, (u32)gdt };
    __asm__ volatile("lgdt %0" ::"m"(p));
}

void idt_reload(void)
{
    struct PACKED { u16 limit; u32 base; } p = { sizeof idt - 1, (u32)idt };
    __asm__ volatile("lidt %0" ::"m"(p));
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
    "#GP", "#PF", "15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* Called by isr.asm with the saved state; a handler may edit it to resume elsewhere. */
void isr_dispatch(struct frame *f)
{
    isr_fn fn = isr_table[f->vector & 0xFF];
    if (fn) {
        fn(f);
        return;
    }
    const char *n = f->vector < 32 && exc_names[f->vector] ? exc_names[f->vector] : "int";
    fail("unexpected %s (vector %u) error=%x at %x:%x eflags=%x cr2=%x", n, f->vector, f->error,
         f->cs, f->eip, f->eflags, read_cr2());
}

NORETURN void guest_entry(u32 magic, u32 mbi)
{
    memset(__bss_start, 0, __bss_end - __bss_start);
    boot_magic = magic;
    boot_mbi = mbi;
    serial_init();
    outb(0x21, 0xFF); /* mask both 8259s: no IRQ may reach the test's vectors */
    outb(0xA1, 0xFF);
    /* Firmware (QEMU's SeaBIOS) may have printed on COM1 before us; run-guest.sh
     * drops everything up to this marker. */
    kputs("\n" GUEST_START_MARKER "\n");
    if (magic == 0x2BADB002 && (*(u32 *)mbi & 4) && ((u32 *)mbi)[4]) {
        /* copy: tests may reuse low memory where the loader put it */
        static char buf[512];
        const char *s = (const char *)((u32 *)mbi)[4];
        unsigned n = 0;
        while (s[n] && n < sizeof buf - 1)
            buf[n] = s[n], n++;
        cmdline_str = buf;
    }

    gdt_set(1, 0, 0xFFFFF, ACC_P | ACC_DPL(0) | ACC_CODE_R, FLG_G | FLG_D);
    gdt_set(2, 0, 0xFFFFF, ACC_P | ACC_DPL(0) | ACC_DATA_W, FLG_G | FLG_D);
    gdt_set(3, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | ACC_CODE_R, FLG_G | FLG_D);
    gdt_set(4, 0, 0xFFFFF, ACC_P | ACC_DPL(3) | ACC_DATA_W, FLG_G | FLG_D);
    kernel_tss.ss0 = SEL_KDATA;
    kernel_tss.esp0 = (u32)kernel_int_stack + sizeof kernel_int_stack;
    kernel_tss.iomap = sizeof kernel_tss; /* no I/O bitmap */
    gdt_set(5, (u32)&kernel_tss, sizeof kernel_tss - 1, ACC_P | ACC_TSS32, 0);
    gdt_reload();
    __asm__ volatile("ljmp %0, $1f\n1:\n"
                     "mov %1, %%ds\nmov %1, %%es\nmov %1, %%fs\nmov %1, %%gs\nmov %1, %%ss\n"
                     ::"i"(SEL_KCODE), "r"(SEL_KDATA) : "memory");
    __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
    __asm__ volatile("lldt %w0" ::"r"(0)); /* after reset LDTR is base 0, limit 0xFFFF */
    for (int v = 0; v < 256; v++)
        idt_set_stub(v, ACC_P | ACC_INTGATE32);
    idt_set_stub(USER_RET_VECTOR, ACC_P | ACC_DPL(3) | ACC_INTGATE32);
    isr_set(USER_RET_VECTOR, user_int80);
    idt_reload();

    test_main();
    pass();
}
