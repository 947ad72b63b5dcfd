/*
 * cmdline_net.c — the network flags as QEMU spells them, parsed into the
 * cmdline's netdevs and cfg.nic_*:
 *
 *   -netdev user,id=ID[,net=A[/M]][,host=A][,dns=A][,dhcpstart=A]
 *           [,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT]...
 *           [,restrict=on|off][,tftp=DIR][,bootfile=FILE][,hostname=NAME]
 *   -device ne2k_pci[,netdev=ID][,mac=M]
 *   -device ne2k_isa[,netdev=ID][,iobase=N][,irq=N][,mac=M]
 *   -nic user[,model=ne2k_pci|ne2k_isa][,mac=M][,<-netdev user options>] | -nic none
 *   -net nic[,model=][,macaddr=M]  -net user[,<-netdev user options>]
 *   -object filter-dump,id=ID,netdev=ID,file=PATH
 *
 * A separate file from cmdline.c so the storage/display parsing and this one
 * can grow apart; QEMU resolves netdev references after reading the whole
 * line, and so does cmdline_net_finish, so -device may come before -netdev.
 * The machine has one NIC (struct machine_config holds one), so a second
 * NIC is an error rather than something silently dropped.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontends/cmdline.h"

#define NE2K_ISA_IOBASE 0x300 /* QEMU's defaults */
#define NE2K_ISA_IRQ 9
#define IMPLICIT_ID "" /* the netdev of -net user and of -nic without id= */

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

static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9') return false;
    char *end;
    unsigned long v = strtoul(s, &end, 0);
    if (*end || v > max) return false;
    *out = v;
    return true;
}

static bool parse_onoff(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes")) return *out = true, true;
    if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no")) return *out = false, true;
    return false;
}

/* Dotted quad into host order; empty is false (callers decide). */
static bool parse_ipv4(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) return false;
    *out = ntohl(a.s_addr);
    return true;
}

bool cmdline_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
                                  &v[4], &v[5], &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        if (s[i * 3 + 2] != (i == 5 ? 0 : ':')) return false;
        mac[i] = (uint8_t)v[i];
    }
    return !(mac[0] & 1); /* a NIC's own address is never multicast */
}

/* [tcp|udp]:[haddr]:hport-[gaddr]:gport, the string after "hostfwd=". */
bool cmdline_parse_hostfwd(const char *s, struct net_hostfwd *f)
{
    char buf[128];
    if (strlen(s) >= sizeof buf) return false;
    strcpy(buf, s);
    *f = (struct net_hostfwd){0};
    char *p = buf, *c = strchr(p, ':');
    if (!c) return false;
    *c = 0;
    if (!strcmp(p, "udp"))
        f->udp = true;
    else if (*p && strcmp(p, "tcp") != 0)
        return false;
    p = c + 1;
    char *dash = strchr(p, '-');
    if (!dash) return false;
    *dash = 0;
    char *sides[2] = {p, dash + 1};
    uint32_t *addr[2] = {&f->host_addr, &f->guest_addr};
    uint16_t *port[2] = {&f->host_port, &f->guest_port};
    for (int i = 0; i < 2; i++) {
        char *colon = strrchr(sides[i], ':');
        if (!colon) return false;
        *colon = 0;
        if (*sides[i] && !parse_ipv4(sides[i], addr[i])) return false;
        unsigned long n;
        if (!parse_num(colon + 1, 65535, &n) || n == 0) return false;
        *port[i] = (uint16_t)n;
    }
    return true;
}

static struct cmdline_netdev *find_netdev(struct cmdline *cl, const char *id)
{
    for (unsigned i = 0; i < cl->nnetdevs; i++)
        if (!strcmp(cl->netdevs[i].id, id)) return &cl->netdevs[i];
    return NULL;
}

/* A private copy of a flag's argument, cut into key=value pairs in place;
 * the netdev's strings (tftp=, ...) point into it. */
static char *own_copy(struct cmdline *cl, const char *flag, const char *v, char *err,
                      size_t errlen)
{
    if (cl->nnet_args == sizeof cl->net_args / sizeof cl->net_args[0]) {
        fail(err, errlen, "%s: too many network options", flag);
        return NULL;
    }
    char *copy = strdup(v);
    if (!copy) {
        fail(err, errlen, "%s: out of memory", flag);
        return NULL;
    }
    return cl->net_args[cl->nnet_args++] = copy;
}

/* Next "key=value" of a comma list; returns false at the end. */
static bool next_prop(char **cursor, char **key, char **val)
{
    char *p = *cursor;
    if (!p || !*p) return false;
    char *comma = strchr(p, ',');
    if (comma) *comma = 0;
    *cursor = comma ? comma + 1 : NULL;
    *key = p;
    char *eq = strchr(p, '=');
    if (eq) *eq = 0;
    *val = eq ? eq + 1 : NULL;
    return true;
}

/* One -netdev user property; returns false if the key is not one. */
static const char *user_prop(struct net_user_config *u, const char *flag, const char *key,
                             const char *val, bool *handled, char *err, size_t errlen)
{
    *handled = true;
    if (!val) {
        if (!strcmp(key, "restrict")) return u->restrict_ = true, NULL;
        *handled = false;
        return NULL;
    }
    if (!strcmp(key, "net")) {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%s", val);
        char *slash = strchr(tmp, '/');
        uint32_t mask = 0xffffff00;
        if (slash) {
            *slash = 0;
            unsigned long bits;
            if (parse_num(slash + 1, 32, &bits))
                mask = bits ? ~0u << (32 - bits) : 0;
            else if (!parse_ipv4(slash + 1, &mask))
                return fail(err, errlen, "%s: invalid net mask '%s'", flag, slash + 1);
        }
        if (!parse_ipv4(tmp, &u->net))
            return fail(err, errlen, "%s: invalid net '%s'", flag, val);
        if (mask == 0 || (~mask & (~mask + 1)))
            return fail(err, errlen, "%s: invalid net mask in '%s'", flag, val);
        u->mask = mask;
        return NULL;
    }
    uint32_t *addr = !strcmp(key, "host") ? &u->host
                     : !strcmp(key, "dns") ? &u->dns
                     : !strcmp(key, "dhcpstart") ? &u->dhcp_start
                                                 : NULL;
    if (addr) {
        if (!parse_ipv4(val, addr) || !*addr)
            return fail(err, errlen, "%s: invalid %s address '%s'", flag, key, val);
        return NULL;
    }
    if (!strcmp(key, "hostfwd")) {
        if (u->nhostfwd == NET_USER_MAX_HOSTFWD)
            return fail(err, errlen, "%s: at most %d hostfwd rules", flag, NET_USER_MAX_HOSTFWD);
        if (!cmdline_parse_hostfwd(val, &u->hostfwd[u->nhostfwd]))
            return fail(err, errlen,
                        "%s: invalid hostfwd '%s' (tcp|udp:[haddr]:hport-[gaddr]:gport)", flag,
                        val);
        u->nhostfwd++;
        return NULL;
    }
    if (!strcmp(key, "restrict")) {
        if (!parse_onoff(val, &u->restrict_))
            return fail(err, errlen, "%s: restrict= takes on or off, not '%s'", flag, val);
        return NULL;
    }
    const char **str = !strcmp(key, "tftp") ? &u->tftp
                       : !strcmp(key, "bootfile") ? &u->bootfile
                       : !strcmp(key, "hostname") ? &u->hostname
                                                  : NULL;
    if (str) {
        if (!*val) return fail(err, errlen, "%s: empty %s=", flag, key);
        *str = val;
        return NULL;
    }
    *handled = false;
    return NULL;
}

static struct cmdline_netdev *add_netdev(struct cmdline *cl, const char *flag, const char *id,
                                         char *err, size_t errlen)
{
    if (find_netdev(cl, id)) {
        if (*id)
            fail(err, errlen, "%s: duplicate id '%s'", flag, id);
        else
            fail(err, errlen, "%s: only one network backend is supported", flag);
        return NULL;
    }
    if (cl->nnetdevs == sizeof cl->netdevs / sizeof cl->netdevs[0]) {
        fail(err, errlen, "%s: too many network backends", flag);
        return NULL;
    }
    struct cmdline_netdev *n = &cl->netdevs[cl->nnetdevs++];
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    return n;
}

static const char *set_nic(struct cmdline *cl, const char *flag, enum nic_model model,
                           char *err, size_t errlen)
{
    if (cl->nic_given) return fail(err, errlen, "%s: only one NIC is supported", flag);
    cl->nic_given = true;
    cl->cfg.nic_model = model;
    if (model == NIC_NE2K_ISA) {
        cl->cfg.nic_iobase = NE2K_ISA_IOBASE;
        cl->cfg.nic_irq = NE2K_ISA_IRQ;
    }
    return NULL;
}

static const char *parse_model(const char *flag, const char *v, enum nic_model *m, char *err,
                               size_t errlen)
{
    if (!strcmp(v, "ne2k_pci"))
        *m = NIC_NE2K_PCI;
    else if (!strcmp(v, "ne2k_isa"))
        *m = NIC_NE2K_ISA;
    else
        return fail(err, errlen, "%s: unsupported NIC model '%s' (ne2k_pci, ne2k_isa)", flag, v);
    return NULL;
}

/* -netdev user,id=ID,...  (and the user part of -nic user / -net user) */
static const char *parse_user(struct cmdline *cl, const char *flag, char *props, const char *id,
                              struct cmdline_netdev **out, char *err, size_t errlen)
{
    struct cmdline_netdev *n = add_netdev(cl, flag, id, err, errlen);
    if (!n) return err;
    n->user = (struct net_user_config){0};
    char *key, *val;
    while (next_prop(&props, &key, &val)) {
        bool handled;
        const char *e = user_prop(&n->user, flag, key, val, &handled, err, errlen);
        if (e) return e;
        if (handled || !strcmp(key, "id")) continue;
        /* -nic and -net carry NIC properties in the same list. */
        if (out && val && (!strcmp(key, "model") || !strcmp(key, "mac") ||
                           !strcmp(key, "macaddr")))
            continue;
        return fail(err, errlen, "%s: unknown property '%s'", flag, key);
    }
    struct net_user_config probe = n->user;
    const char *why = net_user_resolve(&probe);
    if (why) return fail(err, errlen, "%s: %s", flag, why);
    if (out) *out = n;
    return NULL;
}

/* The id= of a comma list, or "" if none. */
static const char *prop_id(const char *props, char *buf, size_t len)
{
    buf[0] = 0;
    for (const char *p = props; p && *p;) {
        const char *end = strchr(p, ',');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        if (l > 3 && !strncmp(p, "id=", 3)) {
            snprintf(buf, len, "%.*s", (int)(l - 3), p + 3);
            break;
        }
        p = end ? end + 1 : NULL;
    }
    return buf;
}

/* The NIC properties of -device ne2k_*, -nic and -net nic. */
static const char *nic_props(struct cmdline *cl, const char *flag, char *props, bool device,
                             char *err, size_t errlen)
{
    char *key, *val;
    while (next_prop(&props, &key, &val)) {
        if (!val) {
            if (device) return fail(err, errlen, "%s: bad property '%s'", flag, key);
            continue;
        }
        if (!strcmp(key, "mac") || !strcmp(key, "macaddr")) {
            if (!cmdline_parse_mac(val, cl->cfg.nic_mac))
                return fail(err, errlen, "%s: invalid MAC address '%s' (XX:XX:XX:XX:XX:XX, unicast)",
                            flag, val);
        } else if (device && !strcmp(key, "netdev")) {
            snprintf(cl->nic_netdev_id, sizeof cl->nic_netdev_id, "%s", val);
            cl->nic_netdev_ref = true;
            if (strlen(val) >= sizeof cl->nic_netdev_id)
                return fail(err, errlen, "%s: netdev id '%s' too long", flag, val);
        } else if (device && cl->cfg.nic_model == NIC_NE2K_ISA && !strcmp(key, "iobase")) {
            unsigned long n;
            if (!parse_num(val, 0xffe0, &n) || (n & 0x1f))
                return fail(err, errlen, "%s: invalid iobase '%s' (32-byte aligned, <= 0xffe0)",
                            flag, val);
            cl->cfg.nic_iobase = (uint16_t)n;
        } else if (device && cl->cfg.nic_model == NIC_NE2K_ISA && !strcmp(key, "irq")) {
            unsigned long n;
            if (!parse_num(val, 15, &n) || n == 2 || n == 0)
                return fail(err, errlen, "%s: invalid irq '%s' (1, 3..15)", flag, val);
            cl->cfg.nic_irq = (uint8_t)n;
        } else if (device && strcmp(key, "id") != 0) {
            return fail(err, errlen, "%s: unknown property '%s'", flag, key);
        }
    }
    return NULL;
}

static const char *parse_nic_device(struct cmdline *cl, const char *v, char *err, size_t errlen)
{
    const char *flag = "-device";
    char *copy = own_copy(cl, flag, v, err, errlen);
    if (!copy) return err;
    char *comma = strchr(copy, ',');
    char *props = comma ? comma + 1 : NULL;
    if (comma) *comma = 0;
    enum nic_model m = NIC_NONE;
    if (parse_model(flag, copy, &m, err, errlen)) return err;
    if (set_nic(cl, flag, m, err, errlen)) return err;
    return nic_props(cl, flag, props, true, err, errlen);
}

bool cmdline_is_nic_device(const char *v)
{
    size_t l = strcspn(v, ",");
    return (l == 8 && (!strncmp(v, "ne2k_pci", 8) || !strncmp(v, "ne2k_isa", 8)));
}

const char *cmdline_parse_net(struct cmdline *cl, const char *opt, const char *v, char *err,
                              size_t errlen)
{
    if (!strcmp(opt, "-device")) return parse_nic_device(cl, v, err, errlen);
    char *copy = own_copy(cl, opt, v, err, errlen);
    if (!copy) return err;
    char *comma = strchr(copy, ',');
    char *props = comma ? comma + 1 : NULL;
    if (comma) *comma = 0;
    const char *type = copy;
    char idbuf[sizeof cl->netdevs[0].id + 1];

    if (!strcmp(opt, "-netdev")) {
        if (strcmp(type, "user") != 0)
            return fail(err, errlen, "-netdev: unsupported backend '%s' (user)", type);
        const char *id = prop_id(props, idbuf, sizeof idbuf);
        if (!*id) return fail(err, errlen, "-netdev: user needs id=");
        if (strlen(id) >= sizeof cl->netdevs[0].id)
            return fail(err, errlen, "-netdev: id '%s' too long", id);
        return parse_user(cl, "-netdev", props, id, NULL, err, errlen);
    }
    if (!strcmp(opt, "-nic")) {
        if (!strcmp(type, "none")) {
            if (props) return fail(err, errlen, "-nic: none takes no properties");
            cl->nic_none = true;
            return NULL;
        }
        if (strcmp(type, "user") != 0)
            return fail(err, errlen, "-nic: unsupported backend '%s' (user, none)", type);
        /* Find model= before the user properties are cut apart. */
        enum nic_model m = NIC_NE2K_PCI;
        char *mp = props ? strstr(props, "model=") : NULL;
        if (mp && (mp == props || mp[-1] == ',')) {
            char model[32];
            snprintf(model, sizeof model, "%.*s", (int)strcspn(mp + 6, ","), mp + 6);
            if (parse_model("-nic", model, &m, err, errlen)) return err;
        }
        if (set_nic(cl, "-nic", m, err, errlen)) return err;
        char *nicprops = props ? own_copy(cl, "-nic", props, err, errlen) : NULL;
        if (props && !nicprops) return err;
        /* -nic user,id=ID names its netdev, e.g. for -object filter-dump. */
        const char *id = prop_id(props, idbuf, sizeof idbuf);
        if (strlen(id) >= sizeof cl->netdevs[0].id)
            return fail(err, errlen, "-nic: id '%s' too long", id);
        struct cmdline_netdev *n;
        if (parse_user(cl, "-nic", props, id, &n, err, errlen)) return err;
        cl->nic_netdev_ref = true;
        snprintf(cl->nic_netdev_id, sizeof cl->nic_netdev_id, "%s", id);
        return nic_props(cl, "-nic", nicprops, false, err, errlen);
    }
    /* -net nic[,model=,macaddr=] | -net user[,...] */
    if (!strcmp(type, "nic")) {
        enum nic_model m = NIC_NE2K_PCI;
        char *key, *val, *p = props;
        while (next_prop(&p, &key, &val)) {
            if (!val) return fail(err, errlen, "-net: bad property '%s'", key);
            if (!strcmp(key, "model")) {
                if (parse_model("-net", val, &m, err, errlen)) return err;
            } else if (!strcmp(key, "macaddr")) {
                if (!cmdline_parse_mac(val, cl->cfg.nic_mac))
                    return fail(err, errlen, "-net: invalid MAC address '%s'", val);
            } else if (strcmp(key, "vlan") != 0 && strcmp(key, "name") != 0 &&
                       strcmp(key, "netdev") != 0) {
                return fail(err, errlen, "-net: unknown nic property '%s'", key);
            }
        }
        if (set_nic(cl, "-net", m, err, errlen)) return err;
        cl->net_nic = true;
        return NULL;
    }
    if (!strcmp(type, "user")) {
        /* -net user's vlan= and name= name the hub, which Umbra does not have. */
        char *key, *val, *p = props;
        struct cmdline_netdev *n = add_netdev(cl, "-net", IMPLICIT_ID, err, errlen);
        if (!n) return err;
        while (next_prop(&p, &key, &val)) {
            bool handled;
            if (user_prop(&n->user, "-net", key, val, &handled, err, errlen)) return err;
            if (!handled && strcmp(key, "vlan") != 0 && strcmp(key, "name") != 0 &&
                strcmp(key, "id") != 0)
                return fail(err, errlen, "-net: unknown user property '%s'", key);
        }
        struct net_user_config probe = n->user;
        const char *why = net_user_resolve(&probe);
        if (why) return fail(err, errlen, "-net: %s", why);
        cl->net_user = true;
        return NULL;
    }
    return fail(err, errlen, "-net: unsupported type '%s' (nic, user)", type);
}

/* -object filter-dump,id=ID,netdev=ID,file=PATH */
const char *cmdline_parse_object(struct cmdline *cl, const char *v, char *err, size_t errlen)
{
    char *copy = own_copy(cl, "-object", v, err, errlen);
    if (!copy) return err;
    char *comma = strchr(copy, ',');
    char *props = comma ? comma + 1 : NULL;
    if (comma) *comma = 0;
    if (strcmp(copy, "filter-dump") != 0)
        return fail(err, errlen, "-object: unsupported object '%s' (filter-dump)", copy);
    if (cl->netdump_file) return fail(err, errlen, "-object: only one filter-dump is supported");
    const char *netdev = NULL, *file = NULL;
    char *key, *val;
    while (next_prop(&props, &key, &val)) {
        if (!val) return fail(err, errlen, "-object: bad property '%s'", key);
        if (!strcmp(key, "netdev"))
            netdev = val;
        else if (!strcmp(key, "file"))
            file = val;
        else if (strcmp(key, "id") != 0 && strcmp(key, "maxlen") != 0)
            return fail(err, errlen, "-object: filter-dump: unknown property '%s'", key);
    }
    if (!netdev || !file || !*file)
        return fail(err, errlen, "-object: filter-dump needs netdev=ID and file=PATH");
    if (strlen(netdev) >= sizeof cl->netdump_netdev)
        return fail(err, errlen, "-object: netdev id '%s' too long", netdev);
    snprintf(cl->netdump_netdev, sizeof cl->netdump_netdev, "%s", netdev);
    cl->netdump_file = file;
    return NULL;
}

const char *cmdline_net_finish(struct cmdline *cl, char *err, size_t errlen)
{
    /* -nic none: no NIC unless another flag asks for one (Umbra has no
     * default NIC, so there is nothing else to turn off). */
    if (cl->nic_none && !cl->nic_given) cl->cfg.nic_model = NIC_NONE;
    if (cl->net_user) {
        if (!cl->net_nic) return fail(err, errlen, "-net: user needs a -net nic to connect to");
        cl->nic_netdev_ref = true;
        cl->nic_netdev_id[0] = 0;
    }
    cl->nic_netdev = -1;
    if (cl->nic_netdev_ref) {
        struct cmdline_netdev *n = find_netdev(cl, cl->nic_netdev_id);
        if (!n)
            return fail(err, errlen, "-device: netdev '%s' not found (no -netdev user,id=%s)",
                        cl->nic_netdev_id, cl->nic_netdev_id);
        cl->nic_netdev = (int)(n - cl->netdevs);
    }
    if (cl->netdump_file) {
        struct cmdline_netdev *n = find_netdev(cl, cl->netdump_netdev);
        if (!n) return fail(err, errlen, "-object: filter-dump: netdev '%s' not found",
                            cl->netdump_netdev);
    }
    return NULL;
}
