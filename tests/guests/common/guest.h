/*
 * guest.h — the tiny runtime every guest test links against: serial output on
 * COM1, the isa-debug-exit port, the multiboot command line, and helpers for the
 * GDT/IDT/TSS so that each test only writes what it is about.
 *
 * Conventions: a test prints "PASS <name>" and exits with V=0 (status 1), or
 * "FAIL <name>: detail" and exits with V=1 (status 3). An unexpected exception
 * is a failure reported by the default handler.
 */
#ifndef GUEST_H
#define GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef signed char s8;
typedef short s16;
typedef int s32;
typedef long long s64;

#define NORETURN __attribute__((noreturn))
#define PACKED __attribute__((packed))

#define GUEST_START_MARKER "=== guest start ==="

/* Fixed GDT layout set up by the runtime before test_main(). */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1B /* index 3, RPL 3 */
#define SEL_UDATA 0x23 /* index 4, RPL 3 */
#define SEL_TSS 0x28   /* index 5: the runtime's kernel TSS */
#define GDT_FIRST_FREE 6
#define GDT_ENTRIES 64

/* Descriptor access bytes. */
#define ACC_P 0x80
#define ACC_DPL(n) ((n) << 5)
#define ACC_S 0x10
#define ACC_CODE_R (ACC_S | 0x0A)   /* execute/read */
#define ACC_CODE_X (ACC_S | 0x08)   /* execute only */
#define ACC_CODE_CR (ACC_S | 0x0E)  /* conforming, readable */
#define ACC_DATA_W (ACC_S | 0x02)   /* read/write */
#define ACC_DATA_R (ACC_S | 0x00)   /* read only */
#define ACC_DATA_WD (ACC_S | 0x06)  /* read/write, expand down */
#define ACC_TSS32 0x09              /* available 32-bit TSS */
#define ACC_TSS32_BUSY 0x0B
#define ACC_LDT 0x02
#define ACC_CALLGATE32 0x0C
#define ACC_CALLGATE16 0x04
#define ACC_TASKGATE 0x05
#define ACC_INTGATE32 0x0E
#define ACC_TRAPGATE32 0x0F
/* Descriptor flag nibble (bits 52..55). */
#define FLG_G 0x8
#define FLG_D 0x4

struct PACKED desc {
    u16 limit_lo, base_lo;
    u8 base_mid, access, limit_hi_flags, base_hi;
};

struct PACKED gate {
    u16 off_lo, sel;
    u8 params, access;
    u16 off_hi;
};

struct PACKED tss32 {
    u16 link, _r0;
    u32 esp0;
    u16 ss0, _r1;
    u32 esp1;
    u16 ss1, _r2;
    u32 esp2;
    u16 ss2, _r3;
    u32 cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    u16 es, _r4, cs, _r5, ss, _r6, ds, _r7, fs, _r8, gs, _r9, ldt, _r10;
    u16 trap, iomap;
};

/* What isr.asm pushes; the tail exists only for privilege changes / v86. */
struct frame {
    u32 gs, fs, es, ds;
    u32 edi, esi, ebp, esp_at_pusha, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
    u32 esp, ss;                      /* from CPL>0 or v86 only */
    u32 v86_es, v86_ds, v86_fs, v86_gs; /* from v86 only */
};

typedef void (*isr_fn)(struct frame *f);

extern struct desc gdt[GDT_ENTRIES];
extern struct gate idt[256];
extern struct tss32 kernel_tss;
extern u32 isr_stub_table[256];
extern const char guest_name[];     /* defined by each test */
extern u32 boot_magic, boot_mbi;

void test_main(void);                /* defined by each test */

void serial_putc(char c);
void kputs(const char *s);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
NORETURN void guest_exit(u32 v);
NORETURN void pass(void);
NORETURN void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define CHECK(cond, ...) do { if (!(cond)) fail(__VA_ARGS__); } while (0)

const char *cmdline(void);
/* Value of "key=..." in the command line (up to the next space) or 0. */
int cmdline_get(const char *key, char *buf, int len);
u32 cmdline_u32(const char *key, u32 def);

void gdt_set(int idx, u32 base, u32 limit, u8 access, u8 flags);
void gdt_set_gate(int idx, u16 sel, u32 off, u8 access, u8 params);
void idt_set(int vec, u16 sel, u32 off, u8 access);
/* Route vector to the runtime's C dispatcher through a gate of this kind. */
void idt_set_stub(int vec, u8 access);
void isr_set(int vec, isr_fn fn);
void gdt_reload(void);
void idt_reload(void);

/* user.asm: run fn at CPL3 until it does INT 0x80 (or a handler gives up);
 * user_return(v) from a ring-0 handler makes user_call return v. */
u32 user_call(void (*fn)(void), u32 user_esp, u32 eflags, u32 user_ss);
NORETURN void user_return(u32 v);
#define USER_RET_VECTOR 0x80
extern u32 user_use_retf, user_ds_override;
extern u8 user_stack[8192];
#define USER_STACK_TOP ((u32)user_stack + sizeof user_stack)

void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);
int memcmp(const void *a, const void *b, unsigned n);
int strcmp(const char *a, const char *b);
unsigned strlen(const char *s);

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u32 read_cr0(void) { u32 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline void write_cr0(u32 v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline u32 read_cr2(void) { u32 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u32 read_cr3(void) { u32 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr3(u32 v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline u32 read_cr4(void) { u32 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(u32 v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }
static inline u32 read_eflags(void) { u32 v; __asm__ volatile("pushf; pop %0" : "=r"(v)); return v; }
static inline void write_eflags(u32 v) { __asm__ volatile("push %0; popf" ::"r"(v) : "cc", "memory"); }
static inline u16 read_cs(void) { u16 v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline u16 read_ss(void) { u16 v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
static inline u16 read_tr(void) { u16 v; __asm__ volatile("str %0" : "=r"(v)); return v; }

#define EFL_CF 0x0001
#define EFL_PF 0x0004
#define EFL_AF 0x0010
#define EFL_ZF 0x0040
#define EFL_SF 0x0080
#define EFL_TF 0x0100
#define EFL_IF 0x0200
#define EFL_DF 0x0400
#define EFL_OF 0x0800
#define EFL_IOPL(n) ((n) << 12)
#define EFL_NT 0x4000
#define EFL_RF 0x10000
#define EFL_VM 0x20000
#define EFL_AC 0x40000

#endif
