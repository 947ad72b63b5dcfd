/*
 * cmdline.c — the command-line parser: the subset of QEMU's flags that Umbra
 * implements (qemu-system-i386 semantics and spellings, including "--flag"
 * for "-flag" and QEMU's size suffixes), plus Umbra's own -stats.
 *
 * Choices that are not obvious:
 *  - Anything not understood is an error naming the flag: a QEMU line that
 *    silently loses an option would run a different machine than asked for.
 *  - Files given to -kernel and -initrd are opened here, so a typo fails
 *    before any machine is built.
 *  - The -initrd list follows QEMU's multiboot syntax: entries separated by
 *    ',' (",," is a literal comma), each "file arg...", the whole entry being
 *    the module's string.
 */
#include "frontends/cmdline.h"
#include "frontends/screendump.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RAM_MB_MIN 1
#define RAM_MB_MAX 3584
#define DEBUG_EXIT_BASE 0xf4
#define DEBUG_EXIT_SIZE 4
#define ICOUNT_SHIFT_MAX 10 /* QEMU's limit: 1 insn = 1024 ns */
#define ICOUNT_SHIFT_AUTO 3 /* QEMU's starting point for "auto" (Umbra does not adapt it) */

static const struct {
    const char *name;
    unsigned mask;
    const char *help;
} log_cats[] = {
    {"int", LOG_INT, "show interrupts and exceptions"},
    {"cpu_reset", LOG_CPU_RESET, "show CPU state before CPU resets"},
    {"guest_errors", LOG_GUEST_ERRORS, "log when the guest asks a device for something invalid"},
    {"unimp", LOG_UNIMP, "log unimplemented functionality (unmapped ports, unknown MSRs)"},
    {"exec", LOG_EXEC, "show each block executed"},
    {"pcall", LOG_PCALL, "show protected-mode far calls, returns and exceptions"},
};

static const char *fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return err;
}

bool cmdline_parse_size_mb(const char *s, uint64_t *mb)
{
    if (strncmp(s, "size=", 5) == 0) s += 5;
    /* QEMU's strtosz: a decimal number, optionally with a fraction, and one
     * case-insensitive suffix; -m's default unit is MiB. */
    if (*s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s) return false;
    /* strtod accepts hex and exponents; QEMU's -m does not. */
    for (const char *p = s; p < end; p++)
        if ((*p < '0' || *p > '9') && *p != '.') return false;
    double unit = 1024.0 * 1024.0;
    if (*end) {
        switch (*end) {
        case 'b':
        case 'B':
            unit = 1;
            break;
        case 'k':
        case 'K':
            unit = 1024.0;
            break;
        case 'm':
        case 'M':
            unit = 1024.0 * 1024.0;
            break;
        case 'g':
        case 'G':
            unit = 1024.0 * 1024.0 * 1024.0;
            break;
        case 't':
        case 'T':
            unit = 1024.0 * 1024.0 * 1024.0 * 1024.0;
            break;
        default:
            return false;
        }
        if (end[1]) return false;
    }
    double bytes = v * unit;
    if (bytes > 1e18) return false;
    uint64_t b = (uint64_t)bytes;
    if ((double)b < bytes) b++;
    *mb = (b + (1u << 20) - 1) >> 20;
    return true;
}

/* Strict unsigned number: decimal, 0x hex or 0 octal, the whole string. */
static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9') return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 0);
    if (errno || *end || v > max) return false;
    *out = v;
    return true;
}

static const char *check_file(const char *flag, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    int e = 0;
    if (!f) {
        e = errno;
    } else {
        struct stat st;
        /* fopen() succeeds on a directory on Linux; the read would fail later. */
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) e = EISDIR;
        fclose(f);
    }
    if (e) return fail(err, errlen, "%s: cannot open '%s': %s", flag, path, strerror(e));
    return NULL;
}

static void free_modules(struct cmdline *cl)
{
    for (size_t i = 0; i < cl->nmodules; i++) {
        free(cl->modules[i].path);
        free(cl->modules[i].string);
    }
    free(cl->modules);
    cl->modules = NULL;
    cl->nmodules = 0;
}

static const char *parse_modules(struct cmdline *cl, const char *list, char *err, size_t errlen)
{
    free_modules(cl);
    const char *p = list;
    for (;;) {
        /* Collect one entry, undoubling ",,". */
        size_t cap = strlen(p) + 1;
        char *entry = malloc(cap);
        if (!entry) return fail(err, errlen, "-initrd: out of memory");
        size_t n = 0;
        while (*p) {
            if (*p == ',') {
                if (p[1] == ',') {
                    entry[n++] = ',';
                    p += 2;
                    continue;
                }
                break;
            }
            entry[n++] = *p++;
        }
        entry[n] = 0;
        char *s = entry;
        while (*s == ' ')
            s++;
        size_t wl = strcspn(s, " ");
        if (wl == 0) {
            free(entry);
            return fail(err, errlen, "-initrd: empty module entry in '%s'", list);
        }
        struct cmdline_module *nm = realloc(cl->modules, (cl->nmodules + 1) * sizeof *nm);
        if (!nm) {
            free(entry);
            return fail(err, errlen, "-initrd: out of memory");
        }
        cl->modules = nm;
        char *path = strndup(s, wl);
        char *str = strdup(s);
        free(entry);
        if (!path || !str) {
            free(path);
            free(str);
            return fail(err, errlen, "-initrd: out of memory");
        }
        cl->modules[cl->nmodules].path = path;
        cl->modules[cl->nmodules].string = str;
        cl->nmodules++;
        const char *e = check_file("-initrd", path, err, errlen);
        if (e) return e;
        if (!*p) return NULL;
        p++; /* the separating comma */
    }
}

static const char *parse_debug_exit(struct cmdline *cl, const char *arg, char *err, size_t errlen)
{
    const char *name = "isa-debug-exit";
    size_t nl = strcspn(arg, ",");
    if (strncmp(arg, "driver=", 7) == 0) /* QEMU's long form of the driver name */
        arg += 7, nl -= 7;
    if (nl != strlen(name) || strncmp(arg, name, nl) != 0)
        return fail(err, errlen, "-device: unsupported device '%.*s'", (int)nl, arg);
    if (cl->debug_exit_given)
        return fail(err, errlen, "-device: only one isa-debug-exit is supported");
    unsigned long base = DEBUG_EXIT_BASE, size = DEBUG_EXIT_SIZE;
    const char *p = arg + nl;
    while (*p == ',') {
        p++;
        size_t len = strcspn(p, ",");
        char prop[64];
        if (len >= sizeof prop)
            return fail(err, errlen, "-device: isa-debug-exit: bad property '%.*s'", (int)len, p);
        memcpy(prop, p, len);
        prop[len] = 0;
        p += len;
        char *eq = strchr(prop, '=');
        if (!eq) return fail(err, errlen, "-device: isa-debug-exit: bad property '%s'", prop);
        *eq = 0;
        const char *val = eq + 1;
        if (strcmp(prop, "iobase") == 0) {
            if (!parse_uint(val, 0xffff, &base))
                return fail(err, errlen, "-device: isa-debug-exit: invalid iobase '%s'", val);
        } else if (strcmp(prop, "iosize") == 0) {
            if (!parse_uint(val, 0x10000, &size) || size == 0)
                return fail(err, errlen, "-device: isa-debug-exit: invalid iosize '%s'", val);
        } else {
            return fail(err, errlen, "-device: isa-debug-exit: unknown property '%s'", prop);
        }
    }
    if (base + size > 0x10000)
        return fail(err, errlen, "-device: isa-debug-exit: ports 0x%lx+%lu beyond 0xffff", base,
                    size);
    cl->debug_exit_given = true;
    cl->cfg.debug_exit = true;
    cl->cfg.debug_exit_base = (uint16_t)base;
    cl->cfg.debug_exit_size = (uint16_t)size;
    return NULL;
}

/* -device screendump-port,iobase=N,file=PATTERN (Umbra's test device). */
static const char *parse_screendump_port(struct cmdline *cl, const char *arg, char *err,
                                         size_t errlen)
{
    unsigned long base = 0;
    const char *file = NULL;
    const char *p = arg + strlen("screendump-port");
    while (*p == ',') {
        p++;
        size_t len = strcspn(p, ",");
        if (strncmp(p, "iobase=", 7) == 0 && len > 7) {
            char val[32];
            if (len - 7 >= sizeof val) return fail(err, errlen, "-device: screendump-port: bad iobase");
            memcpy(val, p + 7, len - 7);
            val[len - 7] = 0;
            if (!parse_uint(val, 0xffff, &base) || base == 0)
                return fail(err, errlen, "-device: screendump-port: invalid iobase '%s'", val);
        } else if (strncmp(p, "file=", 5) == 0 && len > 5) {
            file = p + 5; /* the rest of the argument: a file name may hold commas */
            break;
        } else {
            return fail(err, errlen, "-device: screendump-port: unknown property '%.*s'", (int)len, p);
        }
        p += len;
    }
    if (*p && !file) return fail(err, errlen, "-device: screendump-port: bad argument '%s'", arg);
    if (!base || !file)
        return fail(err, errlen, "-device: screendump-port needs iobase=N and file=PATH");
    if (!screendump_pattern_ok(file))
        return fail(err, errlen, "-device: screendump-port: file '%s': only one %%d is allowed", file);
    cl->screendump_port = (uint16_t)base;
    cl->screendump_file = file;
    cl->cfg.screendump_port = (uint16_t)base;
    return NULL;
}

static const char *parse_log_mask(struct cmdline *cl, const char *arg, char *err, size_t errlen)
{
    unsigned mask = 0;
    const char *p = arg;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 4 && strncmp(p, "help", 4) == 0) {
            cl->log_help = true;
            return NULL;
        }
        size_t i;
        for (i = 0; i < sizeof log_cats / sizeof log_cats[0]; i++)
            if (strlen(log_cats[i].name) == len && strncmp(p, log_cats[i].name, len) == 0) break;
        if (i == sizeof log_cats / sizeof log_cats[0])
            return fail(err, errlen, "-d: unknown category '%.*s' (try -d help)", (int)len, p);
        mask |= log_cats[i].mask;
        p += len;
        if (*p == ',') p++;
    }
    cl->cfg.log_mask = mask;
    return NULL;
}

static const char *parse_icount(struct cmdline *cl, const char *arg, char *err, size_t errlen)
{
    unsigned long shift = 0;
    const char *p = arg;
    while (*p) {
        size_t len = strcspn(p, ",");
        char opt[64];
        if (len >= sizeof opt)
            return fail(err, errlen, "-icount: invalid option '%.*s'", (int)len, p);
        memcpy(opt, p, len);
        opt[len] = 0;
        p += len;
        if (*p == ',') p++;
        const char *v = opt;
        if (strncmp(opt, "shift=", 6) == 0)
            v = opt + 6;
        else if (strcmp(opt, "sleep=on") == 0 || strcmp(opt, "sleep=off") == 0 ||
                 strcmp(opt, "align=off") == 0)
            continue; /* Umbra never sleeps or aligns to host time under -icount */
        if (strcmp(v, "auto") == 0)
            shift = ICOUNT_SHIFT_AUTO;
        else if (!parse_uint(v, ICOUNT_SHIFT_MAX, &shift))
            return fail(err, errlen, "-icount: invalid shift '%s' (0..%d or auto)", v,
                        ICOUNT_SHIFT_MAX);
    }
    cl->cfg.icount = true;
    cl->cfg.icount_shift = (unsigned)shift;
    return NULL;
}

static const char *parse_serial(struct cmdline *cl, const char *arg, char *err, size_t errlen)
{
    if (cl->serial != SERIAL_DEFAULT)
        return fail(err, errlen, "-serial: only one serial port is supported");
    /* mon:stdio multiplexes QEMU's monitor onto stdio; Umbra has the Ctrl-A
     * escapes there but no monitor, which loses nothing the guest sees. */
    if (strcmp(arg, "stdio") == 0 || strcmp(arg, "mon:stdio") == 0) {
        cl->serial = SERIAL_STDIO;
    } else if (strcmp(arg, "null") == 0) {
        cl->serial = SERIAL_NULL;
    } else if (strcmp(arg, "none") == 0) {
        cl->serial = SERIAL_NONE;
    } else if (strncmp(arg, "file:", 5) == 0) {
        if (!arg[5]) return fail(err, errlen, "-serial: file: needs a path");
        cl->serial = SERIAL_FILE;
        cl->serial_path = arg + 5;
    } else {
        return fail(err, errlen, "-serial: unsupported backend '%s' (stdio, file:PATH, null, none)",
                    arg);
    }
    return NULL;
}

/* --- storage --- */

static const char *add_drive(struct cmdline *cl, const char *flag, struct block_drive d,
                             char *err, size_t errlen)
{
    unsigned slots = d.floppy ? 2 : 4;
    if (d.index >= slots)
        return fail(err, errlen, "%s: index %u out of range (0..%u for if=%s)", flag, d.index,
                    slots - 1, d.floppy ? "floppy" : "ide");
    for (size_t i = 0; i < cl->ndrives; i++)
        if (cl->drives[i].floppy == d.floppy && cl->drives[i].index == d.index)
            return fail(err, errlen, "%s: %s drive %u is already in use", flag,
                        d.floppy ? "floppy" : "IDE", d.index);
    if (cl->ndrives >= sizeof cl->drives / sizeof cl->drives[0])
        return fail(err, errlen, "%s: too many drives", flag);
    if (d.path && !*d.path) return fail(err, errlen, "%s: empty file name", flag);
    cl->drives[cl->ndrives++] = d;
    return NULL;
}

/* The first free slot, as QEMU numbers drives given without index=. */
static unsigned free_slot(const struct cmdline *cl, bool floppy)
{
    for (unsigned n = 0;; n++) {
        bool used = false;
        for (size_t i = 0; i < cl->ndrives; i++)
            used |= cl->drives[i].floppy == floppy && cl->drives[i].index == n;
        if (!used) return n;
    }
}

static bool parse_onoff(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) return *out = true, true;
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) return *out = false, true;
    return false;
}

/* -drive file=F,format=raw|qcow2,if=ide|floppy,media=disk|cdrom,index=N,
 * readonly=on|off,snapshot=on|off (cache= and id= are accepted: Umbra's
 * writes are synchronous and flushes always reach the disk). */
static const char *parse_drive(struct cmdline *cl, char *arg, char *err, size_t errlen)
{
    struct block_drive d = {0};
    bool have_index = false, floppy = false;
    for (char *save = NULL, *opt = strtok_r(arg, ",", &save); opt;
         opt = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(opt, '=');
        if (!eq) return fail(err, errlen, "-drive: malformed option '%s' (key=value)", opt);
        *eq = 0;
        const char *v = eq + 1;
        if (!strcmp(opt, "file")) {
            d.path = v;
        } else if (!strcmp(opt, "format")) {
            if (!strcmp(v, "raw"))
                d.format = BLOCK_FMT_RAW;
            else if (!strcmp(v, "qcow2"))
                d.format = BLOCK_FMT_QCOW2;
            else
                return fail(err, errlen, "-drive: unsupported format '%s' (raw, qcow2)", v);
        } else if (!strcmp(opt, "if")) {
            if (!strcmp(v, "floppy"))
                floppy = true;
            else if (strcmp(v, "ide") != 0)
                return fail(err, errlen, "-drive: unsupported interface '%s' (ide, floppy)", v);
        } else if (!strcmp(opt, "media")) {
            if (!strcmp(v, "cdrom"))
                d.cdrom = true;
            else if (strcmp(v, "disk") != 0)
                return fail(err, errlen, "-drive: unsupported media '%s' (disk, cdrom)", v);
        } else if (!strcmp(opt, "index")) {
            unsigned long n;
            if (!parse_uint(v, 255, &n)) return fail(err, errlen, "-drive: invalid index '%s'", v);
            d.index = (unsigned)n;
            have_index = true;
        } else if (!strcmp(opt, "readonly")) {
            if (!parse_onoff(v, &d.read_only))
                return fail(err, errlen, "-drive: invalid readonly value '%s' (on, off)", v);
        } else if (!strcmp(opt, "snapshot")) {
            if (!parse_onoff(v, &d.snapshot))
                return fail(err, errlen, "-drive: invalid snapshot value '%s' (on, off)", v);
        } else if (!strcmp(opt, "cache")) {
            if (strcmp(v, "writeback") && strcmp(v, "writethrough") && strcmp(v, "none") &&
                strcmp(v, "unsafe") && strcmp(v, "directsync"))
                return fail(err, errlen, "-drive: invalid cache mode '%s'", v);
        } else if (strcmp(opt, "id") != 0) {
            return fail(err, errlen, "-drive: unknown option '%s'", opt);
        }
    }
    d.floppy = floppy;
    if (floppy && d.cdrom) return fail(err, errlen, "-drive: a floppy cannot be media=cdrom");
    if (!d.path && !d.cdrom) return fail(err, errlen, "-drive: file= is required");
    if (!have_index) d.index = free_slot(cl, floppy);
    return add_drive(cl, "-drive", d, err, errlen);
}

/* -boot c|d|a|n..., or order=...[,once=...][,menu=on|off][,splash-time=N] */
static const char *parse_boot(struct cmdline *cl, const char *arg, char *err, size_t errlen)
{
    char buf[256];
    if (strlen(arg) >= sizeof buf) return fail(err, errlen, "-boot: argument too long");
    strcpy(buf, arg);
    const char *order = NULL;
    if (!strchr(buf, '=')) {
        order = buf;
    } else {
        for (char *save = NULL, *opt = strtok_r(buf, ",", &save); opt;
             opt = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(opt, '=');
            if (!eq) return fail(err, errlen, "-boot: malformed option '%s'", opt);
            *eq = 0;
            bool b;
            if (!strcmp(opt, "order") || !strcmp(opt, "once"))
                order = eq + 1;
            else if (!strcmp(opt, "menu") || !strcmp(opt, "strict")) {
                if (!parse_onoff(eq + 1, &b))
                    return fail(err, errlen, "-boot: invalid %s value '%s'", opt, eq + 1);
            } else if (strcmp(opt, "splash-time") && strcmp(opt, "reboot-timeout") &&
                       strcmp(opt, "splash"))
                return fail(err, errlen, "-boot: unknown option '%s'", opt);
        }
    }
    if (!order) return NULL;
    size_t n = strlen(order);
    if (n == 0 || n >= sizeof cl->cfg.boot_order)
        return fail(err, errlen, "-boot: invalid boot order '%s'", order);
    for (size_t i = 0; i < n; i++) {
        if (!strchr("acdn", order[i]))
            return fail(err, errlen, "-boot: invalid boot device '%c' (a, c, d, n)", order[i]);
        if (memchr(order, order[i], i))
            return fail(err, errlen, "-boot: boot device '%c' given twice", order[i]);
    }
    memcpy(cl->cfg.boot_order, order, n + 1);
    return NULL;
}

static const char *parse_storage(struct cmdline *cl, const char *opt, const char *v, char *err,
                                 size_t errlen)
{
    if (!strcmp(opt, "-cdrom"))
        return add_drive(cl, "-cdrom", (struct block_drive){.path = v, .index = 2, .cdrom = true},
                         err, errlen);
    if (!strcmp(opt, "-fda") || !strcmp(opt, "-fdb"))
        return add_drive(cl, opt, (struct block_drive){.path = v, .floppy = true,
                                                        .index = (unsigned)(opt[3] - 'a')},
                         err, errlen);
    if (!strcmp(opt, "-boot")) return parse_boot(cl, v, err, errlen);
    if (!strcmp(opt, "-drive")) {
        /* The drive's file name points into this copy, which *cl owns. */
        if (cl->ndrive_args >= sizeof cl->drive_args / sizeof cl->drive_args[0])
            return fail(err, errlen, "-drive: too many drives");
        char *copy = strdup(v);
        if (!copy) return fail(err, errlen, "-drive: out of memory");
        cl->drive_args[cl->ndrive_args++] = copy;
        return parse_drive(cl, copy, err, errlen);
    }
    /* -hda .. -hdd */
    return add_drive(cl, opt, (struct block_drive){.path = v, .index = (unsigned)(opt[3] - 'a')},
                     err, errlen);
}

void cmdline_free(struct cmdline *cl)
{
    free_modules(cl);
    for (size_t i = 0; i < cl->ndrive_args; i++)
        free(cl->drive_args[i]);
    cl->ndrive_args = 0;
    for (size_t i = 0; i < cl->nnet_args; i++)
        free(cl->net_args[i]);
    cl->nnet_args = 0;
}

const char *cmdline_parse(struct cmdline *cl, int argc, char **argv, char *err, size_t errlen)
{
    memset(cl, 0, sizeof *cl);
    cl->cfg.ram_mb = 128; /* QEMU's default */
    cl->cfg.debug_exit_base = DEBUG_EXIT_BASE;
    cl->cfg.debug_exit_size = DEBUG_EXIT_SIZE;
    memcpy(cl->cfg.nic_mac, (const uint8_t[6]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6); /* QEMU's */
    cl->nic_netdev = -1;
    const char *initrd = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == 0) return fail(err, errlen, "unexpected argument '%s'", a);
        const char *opt = a[1] == '-' ? a + 1 : a; /* QEMU takes --flag for -flag */

        if (!strcmp(opt, "-h") || !strcmp(opt, "-help")) {
            cl->help = true;
            return NULL;
        }
        if (!strcmp(opt, "-version")) {
            cl->version = true;
            return NULL;
        }
        if (!strcmp(opt, "-nographic")) {
            cl->nographic = true;
            continue;
        }
        if (!strcmp(opt, "-no-reboot")) {
            cl->cfg.no_reboot = true;
            continue;
        }
        if (!strcmp(opt, "-stats")) {
            cl->stats = true;
            continue;
        }
        if (!strcmp(opt, "-demo")) {
            cl->demo = true;
            continue;
        }
        if (!strcmp(opt, "-snapshot")) {
            cl->snapshot = true;
            continue;
        }

        /* The display's options. */
        if (!strcmp(opt, "-vga") || !strcmp(opt, "-screendump-on-exit")) {
            if (i + 1 >= argc) return fail(err, errlen, "%s: missing argument", opt);
            const char *v = argv[++i];
            if (!strcmp(opt, "-screendump-on-exit")) {
                if (!*v) return fail(err, errlen, "-screendump-on-exit: empty file name");
                cl->screendump_on_exit = v;
            } else if (!strcmp(v, "std")) {
                cl->vga_none = false;
            } else if (!strcmp(v, "none")) {
                cl->vga_none = true;
            } else {
                return fail(err, errlen, "-vga: unsupported card '%s' (std, none)", v);
            }
            continue;
        }

        /* Everything below takes an argument. */
        static const char *const with_arg[] = {"-m",      "-kernel",  "-append", "-initrd",
                                               "-serial", "-display", "-device", "-d",
                                               "-D",      "-icount",  "-mmu",
                                               "-bios",   "-debugcon", "-fw_cfg",
                                               "-hda",    "-hdb",     "-hdc",    "-hdd",
                                               "-cdrom",  "-fda",     "-fdb",    "-drive",
                                               "-boot",   "-netdev",  "-nic",    "-net",
                                               "-object"};
        bool known = false;
        for (size_t k = 0; k < sizeof with_arg / sizeof with_arg[0]; k++)
            known |= strcmp(opt, with_arg[k]) == 0;
        if (!known) return fail(err, errlen, "%s: unknown option (try -help)", a);
        if (i + 1 >= argc) return fail(err, errlen, "%s: missing argument", opt);
        const char *v = argv[++i];
        const char *e = NULL;

        if (!strcmp(opt, "-m")) {
            uint64_t mb;
            if (!cmdline_parse_size_mb(v, &mb))
                return fail(err, errlen, "-m: invalid size '%s'", v);
            if (mb < RAM_MB_MIN || mb > RAM_MB_MAX)
                return fail(err, errlen, "-m: size '%s' out of range (%d..%d MiB)", v, RAM_MB_MIN,
                            RAM_MB_MAX);
            cl->cfg.ram_mb = (uint32_t)mb;
            cl->ram_given = true;
        } else if (!strcmp(opt, "-kernel")) {
            e = check_file("-kernel", v, err, errlen);
            cl->kernel = v;
        } else if (!strcmp(opt, "-append")) {
            cl->append = v;
        } else if (!strcmp(opt, "-initrd")) {
            initrd = v;
        } else if (!strcmp(opt, "-serial")) {
            e = parse_serial(cl, v, err, errlen);
        } else if (!strcmp(opt, "-display")) {
            /* QEMU also allows options after a comma; none are taken. */
            if (strcmp(v, "none") != 0 && strcmp(v, "sdl") != 0)
                return fail(err, errlen, "-display: unsupported display '%s' (sdl, none)", v);
            cl->display_none = strcmp(v, "none") == 0;
            cl->display_sdl = !cl->display_none;
        } else if (!strcmp(opt, "-device")) {
            if (!strncmp(v, "screendump-port", 15) && (v[15] == ',' || !v[15]))
                e = parse_screendump_port(cl, v, err, errlen);
            else if (cmdline_is_nic_device(v))
                e = cmdline_parse_net(cl, opt, v, err, errlen);
            else
                e = parse_debug_exit(cl, v, err, errlen);
        } else if (!strcmp(opt, "-d")) {
            e = parse_log_mask(cl, v, err, errlen);
            if (!e && cl->log_help) return NULL;
        } else if (!strcmp(opt, "-D")) {
            if (!*v) return fail(err, errlen, "-D: empty file name");
            cl->log_file = v;
        } else if (!strcmp(opt, "-mmu")) {
            if (strcmp(v, "shadow") != 0 && strcmp(v, "walk") != 0)
                return fail(err, errlen, "-mmu: unknown mode '%s' (shadow, walk)", v);
            cl->mmu_walk = strcmp(v, "walk") == 0;
            cl->cfg.mmu_strategy = cl->mmu_walk ? MMU_WALK : MMU_SHADOW;
        } else if (!strcmp(opt, "-icount")) {
            e = parse_icount(cl, v, err, errlen);
        } else if (!strcmp(opt, "-bios")) {
            if (!*v) return fail(err, errlen, "-bios: empty file name");
            cl->bios = v; /* looked up by frontends/firmware.c */
        } else if (!strcmp(opt, "-debugcon")) {
            cl->debugcon = v;
        } else if (!strcmp(opt, "-fw_cfg")) {
            if (cl->n_fw_cfg == sizeof cl->fw_cfg / sizeof cl->fw_cfg[0])
                return fail(err, errlen, "-fw_cfg: at most %zu files",
                            sizeof cl->fw_cfg / sizeof cl->fw_cfg[0]);
            cl->fw_cfg[cl->n_fw_cfg++] = v;
        } else if (!strcmp(opt, "-netdev") || !strcmp(opt, "-nic") || !strcmp(opt, "-net")) {
            e = cmdline_parse_net(cl, opt, v, err, errlen);
        } else if (!strcmp(opt, "-object")) {
            e = cmdline_parse_object(cl, v, err, errlen);
        } else {
            e = parse_storage(cl, opt, v, err, errlen);
        }
        if (e) return e;
    }

    if (initrd) {
        if (!cl->kernel) return fail(err, errlen, "-initrd: needs -kernel");
        const char *e = parse_modules(cl, initrd, err, errlen);
        if (e) return e;
    }
    if (cl->append && !cl->kernel) return fail(err, errlen, "-append: needs -kernel");
    const char *ne = cmdline_net_finish(cl, err, errlen);
    if (ne) return ne;
    if (cl->demo && (cl->kernel || cl->bios || cl->n_fw_cfg || cl->debugcon))
        return fail(err, errlen, "-demo: conflicts with %s",
                    cl->kernel ? "-kernel" : cl->bios ? "-bios" : cl->n_fw_cfg ? "-fw_cfg" : "-debugcon");
    /* -kernel boots without firmware (frontends/linuxboot.c, multiboot.c). */
    if (cl->kernel && (cl->bios || cl->n_fw_cfg || cl->debugcon))
        return fail(err, errlen, "%s: only without -kernel (kernels boot without firmware)",
                    cl->bios ? "-bios" : cl->n_fw_cfg ? "-fw_cfg" : "-debugcon");
    return NULL;
}

void cmdline_usage(FILE *out)
{
    fputs("usage: umbra [options]\n"
          "With no -kernel, the firmware (Debian's SeaBIOS by default) boots the drives\n"
          "given, or with none Umbra's default guest: a disk built from Debian packages at\n"
          "build time (roms/default-guest.sh) with Debian's i686 Linux and a busybox shell\n"
          "on the serial console, booted read-only.\n"
          "\n"
          "  -m SIZE              guest RAM (MiB, or with a suffix: 256M, 1G; 1M..3584M)\n"
          "  -kernel FILE         boot a Linux bzImage or a Multiboot v1 kernel (ELF32 or\n"
          "                       a.out kludge)\n"
          "  -append STRING       the kernel command line\n"
          "  -initrd FILE         Linux: the initial RAM disk\n"
          "  -initrd 'F ARGS,...' Multiboot: modules, comma-separated (\",,\" is a comma)\n"
          "  -demo                boot the small built-in demo guest (prints CPU facts)\n"
          "  -bios FILE           firmware image (default /usr/share/seabios/bios-256k.bin;\n"
          "                       names without '/' are also looked up there)\n"
          "  -debugcon DEV        port 0x402 debug console: stdio | file:PATH | null\n"
          "  -fw_cfg [name=]N,file=F|string=S  a file for the firmware (fw_cfg)\n"
          "  -nographic           no window; the serial port on stdio (Ctrl-A X quits)\n"
          "  -display sdl|none    a window (the default when $DISPLAY or $WAYLAND_DISPLAY\n"
          "                       is set), or none\n"
          "  -vga std|none        the standard VGA with Bochs VBE (default), or no card\n"
          "  -screendump-on-exit FILE  save the screen as PNG when the machine stops\n"
          "  -device screendump-port,iobase=N,file=PATH\n"
          "                       test device: a byte V written to the port saves the\n"
          "                       screen as PNG in PATH (its %d replaced by V)\n"
          "  -serial DEV          COM1: stdio | file:PATH | null | none\n"
          "  -device isa-debug-exit[,iobase=N][,iosize=N]\n"
          "                       a write of V to the port exits with (V << 1) | 1\n"
          "  -no-reboot           exit instead of rebooting (triple fault, reset)\n"
          "  -fda FILE, -fdb FILE floppy disk image in drive A / B (raw: 360K, 720K, 1.2M,\n"
          "                       1.44M or 2.88M; a read-only file is write-protected)\n"
          "  -d CAT,...           log categories (-d help lists them)\n"
          "  -D FILE              write the log to FILE instead of stderr\n"
          "  -icount [shift=]N|auto  deterministic time: 1 instruction = 2^N ns\n"
          "  -mmu shadow|walk     shadow page tables (default) or a guest walk per TLB miss\n"
          "  -hda/-hdb/-hdc/-hdd FILE  IDE disk 0-3 (raw or qcow2, probed)\n"
          "  -cdrom FILE          ATAPI CD-ROM (secondary master)\n"
          "  -drive file=F[,format=raw|qcow2][,if=ide|floppy][,media=disk|cdrom]\n"
          "         [,index=N][,readonly=on][,snapshot=on]\n"
          "  -snapshot            guest writes go to a temporary overlay, never to the images\n"
          "  -boot [order=]DRIVES boot order: a floppy, c disk, d CD-ROM, n network\n"
          "  -netdev user,id=ID[,net=A/M][,host=A][,dns=A][,dhcpstart=A][,restrict=on]\n"
          "         [,hostfwd=tcp|udp:[HADDR]:HPORT-[GADDR]:GPORT]...[,tftp=DIR]\n"
          "         [,bootfile=F][,hostname=N]  user-mode network (libslirp): NAT, DHCP,\n"
          "                       DNS and TFTP at 10.0.2.2/.3, guest at 10.0.2.15\n"
          "  -device ne2k_pci[,netdev=ID][,mac=M]  NE2000 PCI NIC\n"
          "  -device ne2k_isa[,netdev=ID][,iobase=N][,irq=N][,mac=M]  NE2000 ISA NIC\n"
          "                       (default 0x300, IRQ 9; MAC default 52:54:00:12:34:56)\n"
          "  -nic user[,model=ne2k_pci|ne2k_isa][,mac=M][,<user options>] | -nic none\n"
          "  -net nic[,model=M][,macaddr=M]  -net user[,<user options>]\n"
          "  -object filter-dump,id=ID,netdev=ID,file=PATH  capture that network to pcap\n"
          "  -stats               print execution statistics at exit\n"
          "  -h, -help            this text\n"
          "  -version             the version\n",
          out);
}

void cmdline_log_help(FILE *out)
{
    fputs("Log items (comma separated):\n", out);
    for (size_t i = 0; i < sizeof log_cats / sizeof log_cats[0]; i++)
        fprintf(out, "%-13s %s\n", log_cats[i].name, log_cats[i].help);
}
