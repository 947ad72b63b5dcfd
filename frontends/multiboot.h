/*
 * multiboot.h — a Multiboot v1 (spec 0.6.96) kernel loader.
 *
 * Loading is split in two so errors surface before anything runs: the
 * kernel and modules are read and parsed once at start-up (every malformed
 * input is reported then), and multiboot_place() lays them out in guest RAM
 * on every reset through a write callback — so the tests can also place
 * images into a plain byte array.
 */
#ifndef UMBRA_FRONTENDS_MULTIBOOT_H
#define UMBRA_FRONTENDS_MULTIBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MULTIBOOT_HEADER_MAGIC 0x1BADB002u
#define MULTIBOOT_BOOT_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH 8192u

/* Header flags (bits 0-15 are requirements, 16-31 optional features). */
#define MB_HF_PAGE_ALIGN 0x00000001u
#define MB_HF_MEMINFO 0x00000002u
#define MB_HF_VIDEO 0x00000004u
#define MB_HF_AOUT_KLUDGE 0x00010000u

/* Info structure flags and offsets (spec section 3.3). */
#define MBI_MEM 0x001u
#define MBI_CMDLINE 0x004u
#define MBI_MODS 0x008u
#define MBI_MMAP 0x040u
#define MBI_LOADER_NAME 0x200u
#define MBI_OFF_FLAGS 0
#define MBI_OFF_MEM_LOWER 4
#define MBI_OFF_MEM_UPPER 8
#define MBI_OFF_CMDLINE 16
#define MBI_OFF_MODS_COUNT 20
#define MBI_OFF_MODS_ADDR 24
#define MBI_OFF_MMAP_LENGTH 44
#define MBI_OFF_MMAP_ADDR 48
#define MBI_OFF_LOADER_NAME 64
#define MBI_SIZE 128 /* covers the 116-byte v0.6.96 structure, zeroed */

struct multiboot_segment {
    size_t offset;   /* in the image */
    uint32_t paddr;  /* where it goes */
    uint32_t filesz; /* bytes copied */
    uint32_t memsz;  /* bytes covered; the rest is zeroed */
};

struct multiboot_module {
    char *string;
    uint8_t *data;
    uint32_t size;
};

struct multiboot {
    char *name; /* for messages and the front of the command line */
    uint8_t *image;
    size_t image_size;
    uint32_t header_offset;
    uint32_t header_flags;
    uint32_t entry;
    struct multiboot_segment *segs;
    size_t nsegs;
    uint32_t kernel_end; /* one past the highest byte of any segment */
    char *cmdline;
    struct multiboot_module *mods;
    size_t nmods;
};

/* What the loader hands the CPU: EIP in flat 32-bit protected mode, EAX, EBX. */
struct multiboot_handoff {
    uint32_t entry;
    uint32_t eax;
    uint32_t ebx; /* GPA of the info structure */
};

typedef void (*multiboot_write_fn)(void *opaque, uint32_t gpa, const void *buf, uint32_t len);

/* Is there a multiboot magic number (checksum valid or not) at a 4-byte
 * aligned offset in the first MULTIBOOT_SEARCH bytes?  For telling kernel
 * formats apart; multiboot_parse says what is wrong with a bad header. */
bool multiboot_probe(const void *image, size_t size);

/* All functions returning int give 0 on success, or -1 with a one-line
 * message in err that names the file (no "umbra: " prefix, no newline). */

void multiboot_init(struct multiboot *mb);
void multiboot_free(struct multiboot *mb);
/* Parse a kernel image held in memory (copied). */
int multiboot_parse(struct multiboot *mb, const char *name, const void *image, size_t size,
                    char *err, size_t errlen);
/* Read and parse a kernel file. */
int multiboot_load_file(struct multiboot *mb, const char *path, char *err, size_t errlen);
/* The command line the kernel sees: "name" or "name append" (as QEMU does). */
int multiboot_set_cmdline(struct multiboot *mb, const char *append, char *err, size_t errlen);
/* Add a module from memory (copied) or from a file. */
int multiboot_add_module(struct multiboot *mb, const char *string, const void *data, size_t size,
                         char *err, size_t errlen);
int multiboot_add_module_file(struct multiboot *mb, const char *path, const char *string, char *err,
                              size_t errlen);

/* Lay the kernel, modules and info structure out in a guest with ram_size
 * bytes of RAM (conventional memory below 640 KiB, then from 1 MiB).  With
 * write == NULL only checks that everything fits.  Deterministic: the same
 * inputs give the same layout, so a check at start-up holds for every reset. */
int multiboot_place(const struct multiboot *mb, uint32_t ram_size, multiboot_write_fn write,
                    void *opaque, struct multiboot_handoff *out, char *err, size_t errlen);

/* The machine boot hook (machine_set_boot_hook, opaque = the struct
 * multiboot): places everything and hands over to the kernel in the state
 * the spec defines (flat 32-bit protected mode, A20 on, EAX/EBX).  A layout
 * that no longer fits stops the machine with status 1 (main checks it at
 * start-up, so this only happens if the RAM size changed underneath). */
struct machine;
void multiboot_boot_hook(void *opaque, struct machine *m);

#endif
