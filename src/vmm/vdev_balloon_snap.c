/*
 * vdev_balloon_snap.c: the balloon's own state in a snapshot
 * (vdev_kind_snap.h). Layout 1, after the u32 layout number:
 *
 *   u32 num_pages, u32 actual_pages, u16 statistics interval,
 *   u8 stats buffer held, u16 its head index,
 *   u16 mask of reported statistics (bit = tag), 16 x u64 their values,
 *   u32 free_page_hint_cmd_id, u32 host command, u32 last command id,
 *   u8 guest command known, u32 guest command, u8 acknowledge on finish
 */
#include <errno.h>
#include <string.h>

#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_state.h"

_Static_assert(BALLOON_N_STATS <= 16, "the statistics mask is a u16");

void vdev_balloon_state_encode(const struct balloon_state *s, struct buf *out)
{
    uint16_t mask = 0;

    vdev_state_put_u32(out, VDEV_BALLOON_STATE_LAYOUT);
    vdev_state_put_u32(out, s->num_pages);
    vdev_state_put_u32(out, s->actual_pages);
    vdev_state_put_u16(out, s->interval_s);
    vdev_state_put_u8(out, s->has_stats_desc);
    vdev_state_put_u16(out, s->stats_desc);
    for (unsigned i = 0; i < BALLOON_N_STATS; i++)
        if (s->has[i])
            mask |= (uint16_t)(1u << i);
    vdev_state_put_u16(out, mask);
    for (unsigned i = 0; i < BALLOON_N_STATS; i++)
        vdev_state_put_u64(out, s->value[i]);
    vdev_state_put_u32(out, s->hint_cmd_id);
    vdev_state_put_u32(out, s->host_cmd);
    vdev_state_put_u32(out, s->last_cmd_id);
    vdev_state_put_u8(out, s->has_guest_cmd);
    vdev_state_put_u32(out, s->guest_cmd);
    vdev_state_put_u8(out, s->ack_on_finish);
}

int vdev_balloon_state_decode(const uint8_t *p, size_t len,
                              struct balloon_state *out, struct sq_err *err)
{
    struct vdev_state_reader r = {p, len, 0, false};
    uint16_t mask;

    memset(out, 0, sizeof(*out));
    if (vdev_state_get_layout(&r, VDEV_BALLOON_STATE_LAYOUT, "balloon", err) <
        0)
        return err->code;
    out->num_pages = vdev_state_get_u32(&r);
    out->actual_pages = vdev_state_get_u32(&r);
    out->interval_s = vdev_state_get_u16(&r);
    out->has_stats_desc = vdev_state_get_bool(&r);
    out->stats_desc = vdev_state_get_u16(&r);
    mask = vdev_state_get_u16(&r);
    for (unsigned i = 0; i < BALLOON_N_STATS; i++) {
        out->has[i] = mask >> i & 1;
        out->value[i] = vdev_state_get_u64(&r);
    }
    out->hint_cmd_id = vdev_state_get_u32(&r);
    out->host_cmd = vdev_state_get_u32(&r);
    out->last_cmd_id = vdev_state_get_u32(&r);
    out->has_guest_cmd = vdev_state_get_bool(&r);
    out->guest_cmd = vdev_state_get_u32(&r);
    out->ack_on_finish = vdev_state_get_bool(&r);
    if (!vdev_state_done(&r)) {
        memset(out, 0, sizeof(*out));
        return sq_errf(err, -EBADMSG, "balloon state: " VDEV_STATE_ERR_DECODE);
    }
    return 0;
}

int vdev_balloon_save(void *dev, struct buf *out, struct sq_err *err)
{
    struct balloon_state s;

    (void)err;
    balloon_save_state(dev, &s);
    vdev_balloon_state_encode(&s, out);
    return 0;
}

int vdev_balloon_restore(void *dev, const uint8_t *p, size_t len,
                         struct sq_err *err)
{
    struct balloon_state s;
    int rc = vdev_balloon_state_decode(p, len, &s, err);

    return rc < 0 ? rc : balloon_restore_state(dev, &s, err);
}
