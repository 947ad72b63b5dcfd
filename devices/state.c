/*
 * state.c — named-field saved state (see state.h).  Linear lookup: device
 * states are a few dozen fields, and loading is rare.
 */
#include "devices/state.h"

#include <stdlib.h>
#include <string.h>

void state_init(struct state_buf *s) { memset(s, 0, sizeof *s); }

void state_free(struct state_buf *s)
{
    free(s->data);
    state_init(s);
}

static bool state_reserve(struct state_buf *s, size_t more)
{
    if (s->len + more <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + more)
        cap *= 2;
    uint8_t *d = realloc(s->data, cap);
    if (!d) {
        s->error = true;
        return false;
    }
    s->data = d;
    s->cap = cap;
    return true;
}

void state_put(struct state_buf *s, const char *name, const void *p, uint32_t size)
{
    size_t nl = strlen(name) + 1;
    if (!state_reserve(s, nl + 4 + size))
        return;
    memcpy(s->data + s->len, name, nl);
    s->len += nl;
    for (int i = 0; i < 4; i++)
        s->data[s->len++] = (uint8_t)(size >> (8 * i));
    memcpy(s->data + s->len, p, size);
    s->len += size;
}

int state_get(const struct state_buf *s, const char *name, void *p, uint32_t size)
{
    size_t off = 0;
    while (off < s->len) {
        const char *n = (const char *)s->data + off;
        size_t nl = strnlen(n, s->len - off);
        if (off + nl + 1 + 4 > s->len)
            return -1; /* truncated record */
        off += nl + 1;
        uint32_t fl = 0;
        for (int i = 0; i < 4; i++)
            fl |= (uint32_t)s->data[off++] << (8 * i);
        if (fl > s->len - off)
            return -1;
        if (strcmp(n, name) == 0) {
            if (fl != size)
                return -1;
            memcpy(p, s->data + off, size);
            return 0;
        }
        off += fl;
    }
    return -1;
}
