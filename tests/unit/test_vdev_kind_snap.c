/*
 * test_vdev_kind_snap.c: the balloon's and the vsock device's own state in
 * a snapshot (vmm/vdev_kind_snap.h): each encoded and decoded back field
 * for field; every truncation, a byte too many, a bad flag byte and an
 * unknown layout rejected with the decoder's text; the balloon's state
 * taken from one device and put into another (and refused where it does
 * not fit); vsock_override applied to a decoded state
 * (snapshot/vsock_override.h); the balloon releasing RAM of a restored VM
 * (mapped from a memory file). No KVM, no guest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/virtio/balloon_int.h"
#include "snapshot/state.h"
#include "snapshot/vsock_override.h"
#include "util/xalloc.h"
#include "vmm/guest_mem_file.h"
#include "vmm/vdev_kind_snap.h"

/* Every field distinct and non-zero. */
static void sample_balloon(struct balloon_state *s)
{
    memset(s, 0, sizeof(*s));
    s->num_pages = 0x11223344;
    s->actual_pages = 0x55667788;
    s->interval_s = 0x99aa;
    s->has_stats_desc = true;
    s->stats_desc = 0xbb;
    for (unsigned i = 0; i < BALLOON_N_STATS; i++) {
        s->has[i] = i % 3 != 1;
        s->value[i] = 0x0102030405060708ULL * (i + 1);
    }
    s->hint_cmd_id = 7;
    s->host_cmd = 8;
    s->last_cmd_id = 9;
    s->has_guest_cmd = true;
    s->guest_cmd = 10;
    s->ack_on_finish = true;
}

static void assert_balloon_equal(const struct balloon_state *a,
                                 const struct balloon_state *b)
{
    assert_int_equal(a->num_pages, b->num_pages);
    assert_int_equal(a->actual_pages, b->actual_pages);
    assert_int_equal(a->interval_s, b->interval_s);
    assert_int_equal(a->has_stats_desc, b->has_stats_desc);
    assert_int_equal(a->stats_desc, b->stats_desc);
    for (unsigned i = 0; i < BALLOON_N_STATS; i++) {
        assert_int_equal(a->has[i], b->has[i]);
        assert_int_equal(a->value[i], b->value[i]);
    }
    assert_int_equal(a->hint_cmd_id, b->hint_cmd_id);
    assert_int_equal(a->host_cmd, b->host_cmd);
    assert_int_equal(a->last_cmd_id, b->last_cmd_id);
    assert_int_equal(a->has_guest_cmd, b->has_guest_cmd);
    assert_int_equal(a->guest_cmd, b->guest_cmd);
    assert_int_equal(a->ack_on_finish, b->ack_on_finish);
}

static void test_balloon_round_trip(void **state)
{
    struct balloon_state in, out;
    struct buf b = BUF_INIT;
    struct sq_err err;

    (void)state;
    sample_balloon(&in);
    vdev_balloon_state_encode(&in, &b);
    /* layout, 2 x u32, u16, u8, u16, u16 mask, 16 x u64, 3 x u32, u8, u32,
     * u8 */
    assert_int_equal(b.len, 4 + 8 + 2 + 1 + 2 + 2 + 128 + 12 + 1 + 4 + 1);
    sq_err_clear(&err);
    assert_int_equal(
        vdev_balloon_state_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    assert_balloon_equal(&in, &out);
    buf_fini(&b);
}

/* Every cut, one byte too many, a flag byte of 2, another layout. */
static void test_balloon_bad(void **state)
{
    struct balloon_state in, out;
    struct buf b = BUF_INIT;
    struct sq_err err;
    uint8_t *p;

    (void)state;
    sample_balloon(&in);
    vdev_balloon_state_encode(&in, &b);
    for (size_t n = 0; n < b.len; n++) {
        /* An exact-size heap copy, so ASan sees any over-read. */
        p = xmalloc(n ? n : 1);
        memcpy(p, b.data, n);
        sq_err_clear(&err);
        assert_int_equal(vdev_balloon_state_decode(p, n, &out, &err), -EBADMSG);
        assert_string_equal(err.msg, "balloon state: the state does not "
                                     "decode");
        assert_int_equal(out.num_pages, 0);
        free(p);
    }
    buf_putc(&b, 0);
    assert_int_equal(
        vdev_balloon_state_decode((uint8_t *)b.data, b.len, &out, &err),
        -EBADMSG);
    b.len--;
    b.data[14] = 2; /* has_stats_desc */
    assert_int_equal(
        vdev_balloon_state_decode((uint8_t *)b.data, b.len, &out, &err),
        -EBADMSG);
    b.data[14] = 1;
    b.data[0] = 2; /* layout 2 */
    sq_err_clear(&err);
    assert_int_equal(
        vdev_balloon_state_decode((uint8_t *)b.data, b.len, &out, &err),
        -EBADMSG);
    assert_string_equal(err.msg, "balloon state: unknown state layout 2");
    buf_fini(&b);
}

static void test_vsock_round_trip_and_bad(void **state)
{
    struct vsock_state in = {0x1122334455667788ULL, true}, out;
    struct buf b = BUF_INIT;
    struct sq_err err;

    (void)state;
    vdev_vsock_state_encode(&in, &b);
    assert_int_equal(b.len, 4 + 8 + 1);
    sq_err_clear(&err);
    assert_int_equal(
        vdev_vsock_state_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    assert_int_equal(out.guest_cid, in.guest_cid);
    assert_true(out.pending_event_ack);
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *p = xmalloc(n ? n : 1);

        memcpy(p, b.data, n);
        assert_int_equal(vdev_vsock_state_decode(p, n, &out, &err), -EBADMSG);
        free(p);
    }
    b.data[12] = 0xff;
    sq_err_clear(&err);
    assert_int_equal(
        vdev_vsock_state_decode((uint8_t *)b.data, b.len, &out, &err),
        -EBADMSG);
    assert_string_equal(err.msg, "vsock state: the state does not decode");
    b.data[12] = 0;
    b.data[3] = 1; /* layout 0x01000001 */
    assert_int_equal(
        vdev_vsock_state_decode((uint8_t *)b.data, b.len, &out, &err),
        -EBADMSG);
    assert_string_equal(err.msg, "vsock state: unknown state layout 16777217");
    buf_fini(&b);
}

static struct balloon *new_balloon(uint16_t interval, bool hinting)
{
    struct balloon_params p;
    struct balloon *b = NULL;
    struct sq_err err;

    memset(&p, 0, sizeof(p));
    p.amount_mib = 16;
    p.stats_polling_interval_s = interval;
    p.free_page_hinting = hinting;
    sq_err_clear(&err);
    assert_int_equal(balloon_new(&p, &b, &err), 0);
    return b;
}

/* Through the kind's hooks: one device's state into another's. */
static void test_balloon_device_hooks(void **state)
{
    struct balloon *a = new_balloon(5, true), *c = new_balloon(5, true);
    struct balloon_state s, got;
    struct balloon_dev_stats st;
    struct buf b = BUF_INIT;
    struct sq_err err;

    (void)state;
    sample_balloon(&s);
    s.interval_s = 3; /* a PATCHed interval */
    sq_err_clear(&err);
    assert_int_equal(balloon_restore_state(a, &s, &err), 0);
    assert_int_equal(vdev_balloon_save(a, &b, &err), 0);
    assert_int_equal(vdev_balloon_restore(c, (uint8_t *)b.data, b.len, &err),
                     0);
    balloon_save_state(c, &got);
    assert_balloon_equal(&s, &got);
    /* What GET /balloon/statistics shows comes back too. */
    assert_int_equal(balloon_get_stats(c, &st, &err), 0);
    assert_int_equal(st.target_pages, s.num_pages);
    assert_int_equal(st.actual_pages, s.actual_pages);
    assert_true(st.has[0]);
    assert_false(st.has[1]);
    assert_int_equal(st.value[4], s.value[4]);
    /* A bad payload leaves the device as it was. */
    assert_int_equal(vdev_balloon_restore(c, (uint8_t *)b.data, 3, &err),
                     -EBADMSG);
    balloon_save_state(c, &got);
    assert_balloon_equal(&s, &got);
    buf_fini(&b);
    balloon_free(a);
    balloon_free(c);
}

static void test_balloon_restore_misfit(void **state)
{
    struct balloon *nostats = new_balloon(0, false), *stats = new_balloon(1, 0);
    struct balloon_state s;
    struct sq_err err;

    (void)state;
    memset(&s, 0, sizeof(s));
    s.interval_s = 2;
    sq_err_clear(&err);
    assert_int_equal(balloon_restore_state(nostats, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "statistics interval 2 for a device without "
                                 "a statistics queue");
    s.interval_s = 0;
    assert_int_equal(balloon_restore_state(stats, &s, &err), -EINVAL);
    s.interval_s = 1;
    s.has_stats_desc = true;
    s.stats_desc = BALLOON_QUEUE_SIZE;
    sq_err_clear(&err);
    assert_int_equal(balloon_restore_state(stats, &s, &err), -EINVAL);
    assert_string_equal(err.msg, "held statistics buffer 256 is not in the "
                                 "statistics queue");
    s.stats_desc = BALLOON_QUEUE_SIZE - 1;
    assert_int_equal(balloon_restore_state(stats, &s, &err), 0);
    balloon_free(nostats);
    balloon_free(stats);
}

/* A decoded state with a block device and (optionally) a vsock device. */
static void two_devices(struct microvm_state *st, const char *vsock_json)
{
    memset(st, 0, sizeof(*st));
    st->n_vdevs = vsock_json ? 2 : 1;
    st->vdevs = xcalloc(2, sizeof(*st->vdevs));
    st->vdev_configs = xcalloc(2, sizeof(*st->vdev_configs));
    st->vdevs[0].kind = xstrdup("virtio-block");
    st->vdevs[0].id = xstrdup("rootfs");
    st->vdev_configs[0] = xstrdup("{\"drive_id\":\"rootfs\"}");
    if (vsock_json) {
        st->vdevs[1].kind = xstrdup("virtio-vsock");
        st->vdevs[1].id = xstrdup("vsock");
        st->vdev_configs[1] = xstrdup(vsock_json);
    }
}

static void test_vsock_override(void **state)
{
    struct microvm_state st;
    struct sq_err err;

    (void)state;
    two_devices(&st, "{\"guest_cid\":3,\"uds_path\":\"/old/v.sock\"}");
    sq_err_clear(&err);
    assert_int_equal(snapshot_vsock_override(&st, "/new/\"q\".sock", &err), 0);
    assert_string_equal(
        st.vdev_configs[1],
        "{\"guest_cid\":3,\"uds_path\":\"/new/\\\"q\\\".sock\"}");
    assert_string_equal(st.vdev_configs[0], "{\"drive_id\":\"rootfs\"}");
    microvm_state_fini(&st);

    two_devices(&st, NULL);
    sq_err_clear(&err);
    assert_int_equal(snapshot_vsock_override(&st, "/new.sock", &err), -ENODEV);
    assert_string_equal(err.msg, "Unknown Vsock Device.");
    microvm_state_fini(&st);

    two_devices(&st, "{\"guest_cid\":3");
    sq_err_clear(&err);
    assert_true(snapshot_vsock_override(&st, "/new.sock", &err) < 0);
    assert_non_null(strstr(err.msg, "the saved vsock configuration: "));
    assert_string_equal(st.vdev_configs[1], "{\"guest_cid\":3");
    microvm_state_fini(&st);
}

/* A restored VM's RAM is the memory file mapped privately: a released page
 * reads zeros afterwards (not the file's bytes again), its neighbours keep
 * theirs, and the file is untouched. */
static void test_discard_on_file_backed_ram(void **state)
{
    char path[] = "/tmp/squib-memfile-XXXXXX";
    struct guest_mem *gm = NULL;
    struct sq_err err;
    uint8_t *hva, page[4096];
    int fd = mkstemp(path);
    void *p;

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    memset(page, 0xa5, sizeof(page));
    for (int i = 0; i < 2 * 256; i++) /* 2 MiB */
        assert_int_equal(write(fd, page, sizeof(page)), sizeof(page));
    sq_err_clear(&err);
    assert_int_equal(guest_mem_new(2, GUEST_MEM_HUGE_NONE, &gm, &err), 0);
    assert_int_equal(guest_mem_file_map(gm, fd, &err), 0);
    assert_true(gm->regions[0].file_backed);
    assert_int_equal(guest_mem_translate(gm, 0x1000, 0x2000, &p), 0);
    hva = p;
    hva[0] = 1; /* a private copy of the first page */
    assert_int_equal(balloon_discard(gm, 0x1000, 0x1000), 0);
    for (size_t i = 0; i < 0x1000; i++)
        assert_int_equal(hva[i], 0);
    assert_int_equal(hva[0x1000], 0xa5);
    assert_int_equal(pread(fd, page, 1, 0x1000), 1);
    assert_int_equal(page[0], 0xa5);
    /* Outside RAM: as for anonymous RAM. */
    assert_int_equal(balloon_discard(gm, 3ULL << 20, 0x1000), -EFAULT);
    guest_mem_free(gm);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_balloon_round_trip),
        cmocka_unit_test(test_balloon_bad),
        cmocka_unit_test(test_vsock_round_trip_and_bad),
        cmocka_unit_test(test_balloon_device_hooks),
        cmocka_unit_test(test_balloon_restore_misfit),
        cmocka_unit_test(test_vsock_override),
        cmocka_unit_test(test_discard_on_file_backed_ram),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
