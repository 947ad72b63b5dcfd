/*
 * state.h — saved device state as a list of named fields.
 *
 * A record is: name (NUL-terminated), a 32-bit little-endian length, the
 * bytes.  Loading looks a field up by name, so a newer Umbra loading an older
 * state keeps its reset value for fields the old one did not write, and a
 * field whose size changed is refused rather than misread.  Each device saves
 * a "<dev>.version" field first.
 */
#ifndef UMBRA_STATE_H
#define UMBRA_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct state_buf {
    uint8_t *data;
    size_t len, cap;
    bool error; /* allocation failed while saving */
};

void state_init(struct state_buf *s);
void state_free(struct state_buf *s);
void state_put(struct state_buf *s, const char *name, const void *p, uint32_t size);
/* 0 if found with that size (copied to p); -1 if absent or of another size. */
int state_get(const struct state_buf *s, const char *name, void *p, uint32_t size);

#define STATE_PUT(s, prefix, field) state_put((s), prefix #field, &(field), sizeof(field))
#define STATE_GET(s, prefix, field) state_get((s), prefix #field, &(field), sizeof(field))

#endif
