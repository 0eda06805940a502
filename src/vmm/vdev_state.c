/*
 * vdev_state.c: little-endian fields of a device's own state (vdev_state.h).
 */
#include "vmm/vdev_state.h"

#include <errno.h>

/* n <= 8 bytes of v, least significant first. */
static void put_le(struct buf *b, uint64_t v, unsigned n)
{
    uint8_t bytes[8];

    for (unsigned i = 0; i < n; i++)
        bytes[i] = (uint8_t)(v >> (8 * i));
    buf_append(b, bytes, n);
}

void vdev_state_put_u8(struct buf *b, uint8_t v)
{
    put_le(b, v, 1);
}

void vdev_state_put_u16(struct buf *b, uint16_t v)
{
    put_le(b, v, 2);
}

void vdev_state_put_u32(struct buf *b, uint32_t v)
{
    put_le(b, v, 4);
}

void vdev_state_put_u64(struct buf *b, uint64_t v)
{
    put_le(b, v, 8);
}

static uint64_t get_le(struct vdev_state_reader *r, unsigned n)
{
    uint64_t v = 0;

    if (r->bad || r->len - r->off < n) {
        r->bad = true;
        return 0;
    }
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += n;
    return v;
}

uint8_t vdev_state_get_u8(struct vdev_state_reader *r)
{
    return (uint8_t)get_le(r, 1);
}

uint16_t vdev_state_get_u16(struct vdev_state_reader *r)
{
    return (uint16_t)get_le(r, 2);
}

uint32_t vdev_state_get_u32(struct vdev_state_reader *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t vdev_state_get_u64(struct vdev_state_reader *r)
{
    return get_le(r, 8);
}

bool vdev_state_get_bool(struct vdev_state_reader *r)
{
    uint8_t v = vdev_state_get_u8(r);

    if (v > 1)
        r->bad = true;
    return v == 1;
}

int vdev_state_get_layout(struct vdev_state_reader *r, uint32_t layout,
                          const char *what, struct sq_err *err)
{
    uint32_t got = vdev_state_get_u32(r);

    if (!r->bad && got != layout)
        return sq_errf(err, -EBADMSG, "%s state: " VDEV_STATE_ERR_LAYOUT, what,
                       got);
    return 0;
}

bool vdev_state_done(const struct vdev_state_reader *r)
{
    return !r->bad && r->off == r->len;
}
