/*
 * vdev_state.h: the byte layout of a virtio device's own state, the last
 * part of its VDEV section (docs/snapshot.md, "Sections"). Each kind that
 * has state of its own writes it field by field, little-endian, starting
 * with a u32 layout version of its own (so its layout can change without
 * touching the file's version), and reads it back through a cursor that,
 * like snapshot/format.h's section reader, turns a read past the end into
 * zeros and `bad`: a decoder reads every field, then checks
 * vdev_state_done() once.
 */
#ifndef SQUIB_VMM_VDEV_STATE_H
#define SQUIB_VMM_VDEV_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/err.h"

/* Decoder texts: "{kind} state: {what}" (after the VDEV's own prefix). */
#define VDEV_STATE_ERR_LAYOUT "unknown state layout %u"
#define VDEV_STATE_ERR_DECODE "the state does not decode"

void vdev_state_put_u8(struct buf *b, uint8_t v);
void vdev_state_put_u16(struct buf *b, uint16_t v);
void vdev_state_put_u32(struct buf *b, uint32_t v);
void vdev_state_put_u64(struct buf *b, uint64_t v);

/* A cursor over (p, len), borrowed. */
struct vdev_state_reader {
    const uint8_t *p;
    size_t len, off;
    bool bad;
};

uint8_t vdev_state_get_u8(struct vdev_state_reader *r);
uint16_t vdev_state_get_u16(struct vdev_state_reader *r);
uint32_t vdev_state_get_u32(struct vdev_state_reader *r);
uint64_t vdev_state_get_u64(struct vdev_state_reader *r);
/* A u8 that must be 0 or 1 (anything else makes r bad). */
bool vdev_state_get_bool(struct vdev_state_reader *r);

/*
 * Read the u32 layout every state starts with. 0 when it is `layout` (or
 * the bytes ran out: vdev_state_done() then fails), else -EBADMSG with err
 * "{what} state: unknown state layout {n}".
 */
int vdev_state_get_layout(struct vdev_state_reader *r, uint32_t layout,
                          const char *what, struct sq_err *err);

/* Every byte read and nothing read past the end. */
bool vdev_state_done(const struct vdev_state_reader *r);

#endif
