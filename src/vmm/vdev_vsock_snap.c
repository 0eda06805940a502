/*
 * vdev_vsock_snap.c: the vsock device's own state in a snapshot
 * (vdev_kind_snap.h). Layout 1, after the u32 layout number:
 *
 *   u64 guest CID, u8 TRANSPORT_RESET not yet acknowledged
 *
 * The Unix socket path is the configuration's (the VDEV section's JSON),
 * which vsock_override may replace at load (snapshot/vsock_override.h).
 */
#include <errno.h>
#include <string.h>

#include "obs/log.h"
#include "vmm/vdev_kind_snap.h"
#include "vmm/vdev_state.h"

void vdev_vsock_state_encode(const struct vsock_state *s, struct buf *out)
{
    vdev_state_put_u32(out, VDEV_VSOCK_STATE_LAYOUT);
    vdev_state_put_u64(out, s->guest_cid);
    vdev_state_put_u8(out, s->pending_event_ack);
}

int vdev_vsock_state_decode(const uint8_t *p, size_t len,
                            struct vsock_state *out, struct sq_err *err)
{
    struct vdev_state_reader r = {p, len, 0, false};

    memset(out, 0, sizeof(*out));
    if (vdev_state_get_layout(&r, VDEV_VSOCK_STATE_LAYOUT, "vsock", err) < 0)
        return err->code;
    out->guest_cid = vdev_state_get_u64(&r);
    out->pending_event_ack = vdev_state_get_bool(&r);
    if (!vdev_state_done(&r)) {
        memset(out, 0, sizeof(*out));
        return sq_errf(err, -EBADMSG, "vsock state: " VDEV_STATE_ERR_DECODE);
    }
    return 0;
}

int vdev_vsock_save(void *dev, struct buf *out, struct sq_err *err)
{
    struct vsock_state s;
    int rc = vsock_send_transport_reset(dev);

    (void)err;
    /* upstream: "Failed to send reset transport event", and saves all the
     * same; an inactive device has no guest to tell. */
    if (rc < 0 && rc != -ENODEV)
        log_error("Failed to send reset transport event: errno %d", -rc);
    vsock_save_state(dev, &s);
    vdev_vsock_state_encode(&s, out);
    return 0;
}

int vdev_vsock_restore(void *dev, const uint8_t *p, size_t len,
                       struct sq_err *err)
{
    struct vsock_state s;
    int rc = vdev_vsock_state_decode(p, len, &s, err);

    return rc < 0 ? rc : vsock_restore_state(dev, &s, err);
}
