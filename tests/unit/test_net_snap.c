/*
 * test_net_snap.c: a virtio-net device's snapshot state and the network
 * part of a restore, without KVM: the device's own state (rate limiters
 * with their buckets, the MMDS stack) encoded and decoded back field for
 * field, every truncation and bad flag refused with the reader's error;
 * the buckets saved and restored on a test clock; the VDEV and MMDS
 * sections through the state file; network_overrides; the saved
 * configuration and MMDS settings put back into the resources (the TAP
 * opened by name through a fake, upstream's text when it cannot be); and
 * the kind's save/restore hooks on a real device over a socketpair.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/snap_net_fixture.h"
#include "config/net.h"
#include "fake_tap.h"
#include "mmds/ns.h"
#include "mmds/store.h"
#include "snap_decode.h"
#include "snapshot/state_net.h"
#include "vmm/resources.h"
#include "vmm/vdev_net_int.h"

static void same_bucket(const struct token_bucket_state *a,
                        const struct token_bucket_state *b)
{
    assert_int_equal(a->size, b->size);
    assert_int_equal(a->one_time_burst, b->one_time_burst);
    assert_int_equal(a->refill_time_ms, b->refill_time_ms);
    assert_int_equal(a->budget, b->budget);
    assert_int_equal(a->elapsed_ns, b->elapsed_ns);
}

static void same_limiter(const struct rate_limiter_state *a,
                         const struct rate_limiter_state *b)
{
    assert_int_equal(a->has_bandwidth, b->has_bandwidth);
    assert_int_equal(a->has_ops, b->has_ops);
    same_bucket(&a->bandwidth, &b->bandwidth);
    same_bucket(&a->ops, &b->ops);
}

static void same_net_snap(const struct net_snap *a, const struct net_snap *b)
{
    same_limiter(&a->rx, &b->rx);
    same_limiter(&a->tx, &b->tx);
    assert_int_equal(a->has_mmds, b->has_mmds);
    assert_memory_equal(a->mmds_mac, b->mmds_mac, 6);
    assert_int_equal(a->mmds_ipv4, b->mmds_ipv4);
    assert_int_equal(a->mmds_tcp_port, b->mmds_tcp_port);
}

/* ---- the device's own state --------------------------------------------- */

static void test_payload_round_trip(void **state)
{
    struct net_snap in, out, none;
    struct buf b = BUF_INIT;
    struct sq_err err;

    (void)state;
    make_net_snap(&in);
    net_snap_encode(&in, &b);
    assert_int_equal(b.len, NET_SNAP_LEN);
    assert_int_equal(net_snap_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    same_net_snap(&in, &out);

    /* Nothing present: all zeros, and back. */
    memset(&none, 0, sizeof(none));
    buf_reset(&b);
    net_snap_encode(&none, &b);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(((uint8_t *)b.data)[i], 0);
    assert_int_equal(net_snap_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    same_net_snap(&none, &out);
    buf_fini(&b);
}

static void test_payload_truncated(void **state)
{
    struct net_snap in, out;
    struct buf b = BUF_INIT;
    struct sq_err err;
    char want[64];

    (void)state;
    make_net_snap(&in);
    net_snap_encode(&in, &b);
    buf_putc(&b, 0); /* one byte too many as well */
    for (size_t len = 0; len <= NET_SNAP_LEN + 1; len++) {
        uint8_t *copy;

        if (len == NET_SNAP_LEN)
            continue;
        copy = malloc(len ? len : 1); /* exact size: ASan bounds */
        memcpy(copy, b.data, len);
        sq_err_clear(&err);
        assert_int_equal(net_snap_decode(copy, len, &out, &err), -EBADMSG);
        snprintf(want, sizeof(want), "net state: %zu bytes, %u expected", len,
                 (unsigned)NET_SNAP_LEN);
        assert_string_equal(err.msg, want);
        assert_false(out.has_mmds);
        free(copy);
    }
    buf_fini(&b);
}

static void test_payload_bad_flags(void **state)
{
    /* The offsets of the five flags, and of a field of an absent part. */
    static const size_t flags[] = {0, NET_SNAP_BUCKET_LEN, NET_SNAP_LIMITER_LEN,
                                   NET_SNAP_LIMITER_LEN + NET_SNAP_BUCKET_LEN,
                                   2 * NET_SNAP_LIMITER_LEN};
    struct net_snap in, out;
    struct buf b = BUF_INIT;
    struct sq_err err;

    (void)state;
    make_net_snap(&in);
    net_snap_encode(&in, &b);
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        uint8_t *p = (uint8_t *)b.data;
        uint8_t old = p[flags[i]];

        p[flags[i]] = 2;
        sq_err_clear(&err);
        assert_int_equal(net_snap_decode(p, b.len, &out, &err), -EBADMSG);
        assert_string_equal(err.msg, "net state: bad flag");
        p[flags[i]] = old;
    }
    /* tx bandwidth is absent in the fixture: a value there is corrupt. */
    ((uint8_t *)b.data)[NET_SNAP_LIMITER_LEN + 3] = 1;
    assert_int_equal(net_snap_decode((uint8_t *)b.data, b.len, &out, &err),
                     -EBADMSG);
    buf_fini(&b);

    /* No MMDS but an address. */
    memset(&in, 0, sizeof(in));
    in.mmds_ipv4 = 1;
    b = (struct buf)BUF_INIT;
    net_snap_encode(&in, &b);
    assert_int_equal(net_snap_decode((uint8_t *)b.data, b.len, &out, &err), 0);
    assert_int_equal(out.mmds_ipv4, 0); /* not written without the flag */
    ((uint8_t *)b.data)[2 * NET_SNAP_LIMITER_LEN + 7] = 1;
    assert_int_equal(net_snap_decode((uint8_t *)b.data, b.len, &out, &err),
                     -EBADMSG);
    buf_fini(&b);
}

/* ---- rate limiter buckets ----------------------------------------------- */

static uint64_t clock_ns;

static uint64_t fake_clock(void *opaque)
{
    (void)opaque;
    return clock_ns;
}

static void test_rate_limiter_snap(void **state)
{
    struct rate_limiter_params p = {
        .has_bandwidth = true,
        .bandwidth = {.size = 1000,
                      .one_time_burst = 500,
                      .refill_time_ms = 100},
        .has_ops = true,
        .ops = {.size = 10, .refill_time_ms = 1000}};
    struct rate_limiter a, b;
    struct rate_limiter_state s, s2, bad;

    (void)state;
    clock_ns = 1000000000ULL;
    assert_int_equal(rate_limiter_init(&a, &p), 0);
    rate_limiter_set_clock(&a, fake_clock, NULL);
    assert_true(rate_limiter_consume(&a, 700, RL_TOKEN_BYTES)); /* burst 500 */
    assert_true(rate_limiter_consume(&a, 3, RL_TOKEN_OPS));
    clock_ns += 7000;
    rate_limiter_save(&a, &s);
    assert_true(s.has_bandwidth);
    assert_int_equal(s.bandwidth.size, 1000);
    assert_int_equal(s.bandwidth.one_time_burst, 0);
    assert_int_equal(s.bandwidth.refill_time_ms, 100);
    assert_int_equal(s.bandwidth.budget, 800);
    assert_int_equal(s.bandwidth.elapsed_ns, 7000);
    assert_true(s.has_ops);
    assert_int_equal(s.ops.budget, 7);

    /* Into a limiter built without buckets, on a later clock. */
    clock_ns = 5000000000ULL;
    assert_int_equal(rate_limiter_init(&b, NULL), 0);
    rate_limiter_set_clock(&b, fake_clock, NULL);
    assert_int_equal(rate_limiter_restore(&b, &s), 0);
    assert_true(b.has_bandwidth && b.has_ops);
    assert_int_equal(b.bandwidth.budget, 800);
    assert_int_equal(b.bandwidth.last_update_ns, clock_ns - 7000);
    assert_false(rate_limiter_is_blocked(&b));
    rate_limiter_save(&b, &s2);
    same_limiter(&s, &s2);

    /* A bucket that cannot be built leaves the limiter as it was. */
    bad = s;
    bad.ops.refill_time_ms = 0;
    assert_int_equal(rate_limiter_restore(&b, &bad), -EINVAL);
    assert_true(b.has_ops);
    /* A budget above the size is cut to it; an elapsed time older than
     * the clock starts now. */
    bad = s;
    bad.bandwidth.budget = 5000;
    bad.bandwidth.elapsed_ns = UINT64_MAX;
    assert_int_equal(rate_limiter_restore(&b, &bad), 0);
    assert_int_equal(b.bandwidth.budget, 1000);
    assert_int_equal(b.bandwidth.last_update_ns, clock_ns);
    /* Absent buckets come back absent. */
    memset(&bad, 0, sizeof(bad));
    assert_int_equal(rate_limiter_restore(&b, &bad), 0);
    assert_false(b.has_bandwidth || b.has_ops);
    rate_limiter_fini(&a);
    rate_limiter_fini(&b);
}

/* ---- sections ----------------------------------------------------------- */

static void test_state_round_trip(void **state)
{
    struct microvm_state in, out;
    struct snap_writer w;
    struct net_snap a, b;
    struct sq_err err;

    (void)state;
    make_net_state(&in);
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    assert_int_equal(snap_finish_and_decode(&w, &out, &err), 0);
    assert_int_equal(out.n_vdevs, 1);
    assert_string_equal(out.vdevs[0].kind, "virtio-net");
    assert_string_equal(out.vdevs[0].id, "eth0");
    assert_int_equal(out.vdevs[0].addr, 0xc0001000);
    assert_int_equal(out.vdevs[0].gsi, 5);
    assert_memory_equal(&in.vdevs[0].transport, &out.vdevs[0].transport,
                        sizeof(in.vdevs[0].transport));
    assert_string_equal(out.vdev_configs[0], NET_FIXTURE_CONFIG);
    assert_int_equal(net_snap_decode((uint8_t *)out.vdevs[0].device.data,
                                     out.vdevs[0].device.len, &b, &err),
                     0);
    make_net_snap(&a);
    same_net_snap(&a, &b);
    assert_non_null(out.mmds);
    assert_int_equal(out.mmds->version, 1);
    assert_true(out.mmds->imds_compat);
    assert_memory_equal(out.mmds->ipv4, ((uint8_t[4]){169, 254, 170, 2}), 4);
    assert_int_equal(out.mmds->n_ifaces, 1);
    assert_string_equal(out.mmds->ifaces[0], "eth0");
    microvm_state_fini(&in);
    microvm_state_fini(&out);
}

/* The fixture state, then an MMDS section written by `add`. */
static int with_mmds(void (*add)(struct snap_writer *),
                     struct microvm_state *out, struct sq_err *err)
{
    struct microvm_state in;
    struct snap_writer w;

    make_state(&in);
    snap_writer_init(&w);
    microvm_state_encode(&in, &w);
    microvm_state_fini(&in);
    add(&w);
    return snap_finish_and_decode(&w, out, err);
}

static void mmds_head(struct snap_writer *w, uint8_t version, uint8_t compat,
                      uint32_t n)
{
    snap_section_begin(w, SNAP_TAG_MMDS);
    snap_put_u8(w, version);
    snap_put_u8(w, compat);
    snap_put_bytes(w, "\xa9\xfe\xa9\xfe", 4);
    snap_put_u32(w, n);
}

static void add_version3(struct snap_writer *w)
{
    mmds_head(w, 2, 0, 1);
    snap_put_str(w, "eth0");
    snap_section_end(w);
}

static void add_compat2(struct snap_writer *w)
{
    mmds_head(w, 0, 2, 1);
    snap_put_str(w, "eth0");
    snap_section_end(w);
}

static void add_no_iface(struct snap_writer *w)
{
    mmds_head(w, 0, 0, 0);
    snap_section_end(w);
}

static void add_too_many(struct snap_writer *w)
{
    mmds_head(w, 0, 0, 32); /* one more than PCI's 31 devices */
    for (int i = 0; i < 32; i++)
        snap_put_str(w, "eth0");
    snap_section_end(w);
}

static void add_cut_string(struct snap_writer *w)
{
    mmds_head(w, 0, 0, 2);
    snap_put_str(w, "eth0");
    snap_put_u32(w, 100); /* a string longer than what is left */
    snap_put_bytes(w, "eth", 3);
    snap_section_end(w);
}

static void add_trailing(struct snap_writer *w)
{
    mmds_head(w, 0, 0, 1);
    snap_put_str(w, "eth0");
    snap_put_u8(w, 0);
    snap_section_end(w);
}

static void add_short(struct snap_writer *w)
{
    snap_section_begin(w, SNAP_TAG_MMDS);
    snap_put_u8(w, 1);
    snap_section_end(w);
}

static void add_twice(struct snap_writer *w)
{
    for (int i = 0; i < 2; i++) {
        mmds_head(w, 1, 0, 1);
        snap_put_str(w, "eth0");
        snap_section_end(w);
    }
}

static void test_mmds_section_errors(void **state)
{
    void (*bad[])(struct snap_writer *) = {
        add_version3,   add_compat2,  add_no_iface, add_too_many,
        add_cut_string, add_trailing, add_short,
    };
    struct microvm_state out;
    struct sq_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(with_mmds(bad[i], &out, &err), -EBADMSG);
        assert_string_equal(err.msg, "An error occurred during bitcode "
                                     "serialization: MMDS section: bad "
                                     "layout");
        assert_null(out.mmds);
    }
    assert_int_equal(with_mmds(add_twice, &out, &err), -EBADMSG);
    assert_string_equal(err.msg, "An error occurred during bitcode "
                                 "serialization: MMDS section: repeated");
}

/* ---- network_overrides -------------------------------------------------- */

static void test_network_overrides(void **state)
{
    char id0[] = "eth0", id1[] = "eth1", tap[] = "tap9", nope[] = "eth7";
    struct network_override o[2] = {{id0, tap}, {id1, tap}};
    const char *kinds[3] = {"virtio-block", "virtio-net", "virtio-net"};
    char *configs[3];
    struct net_iface_cfg c;
    struct sq_err err;

    (void)state;
    configs[0] = xstrdup("{\"drive_id\":\"eth0\"}");
    configs[1] = xstrdup(NET_FIXTURE_CONFIG);
    configs[2] = xstrdup("{\"iface_id\":\"eth1\",\"host_dev_name\":\"t1\"}");

    /* None: nothing changes. */
    assert_int_equal(snapshot_network_overrides(configs, kinds, 3, o, 0, &err),
                     0);
    assert_string_equal(configs[1], NET_FIXTURE_CONFIG);

    assert_int_equal(snapshot_network_overrides(configs, kinds, 3, o, 1, &err),
                     0);
    assert_string_equal(configs[0], "{\"drive_id\":\"eth0\"}");
    assert_int_equal(
        net_iface_cfg_parse(configs[1], strlen(configs[1]), &c, &err), 0);
    assert_string_equal(c.iface_id, "eth0");
    assert_string_equal(c.host_dev_name, "tap9");
    assert_true(c.has_guest_mac);
    assert_int_equal(c.guest_mac[5], 2);
    assert_true(c.has_rx_rate_limiter);
    assert_int_equal(c.rx_rate_limiter.bandwidth.size, 1000);
    assert_false(c.has_tx_rate_limiter);
    net_iface_cfg_fini(&c);
    assert_non_null(strstr(configs[2], "\"t1\""));

    /* Both, the second by its id. */
    assert_int_equal(snapshot_network_overrides(configs, kinds, 3, o, 2, &err),
                     0);
    assert_non_null(strstr(configs[2], "\"tap9\""));

    /* An id no saved interface has; a block device's id does not count. */
    o[1].iface_id = nope;
    sq_err_clear(&err);
    assert_int_equal(snapshot_network_overrides(configs, kinds, 3, o, 2, &err),
                     -ENODEV);
    assert_string_equal(err.msg, "Unknown Network Device.");
    o[0].iface_id = id0;
    o[1].iface_id = id0;
    kinds[1] = "virtio-rng";
    assert_int_equal(snapshot_network_overrides(configs, kinds, 3, o, 1, &err),
                     -ENODEV);
    for (int i = 0; i < 3; i++)
        free(configs[i]);
}

/* ---- into the resources ------------------------------------------------- */

static void test_take_configs(void **state)
{
    struct vm_resources r;
    struct snap_mmds *m, *again;
    struct microvm_state st;
    struct sq_err err;

    (void)state;
    res_init(&r, 51200, false, false);
    r.tap_open = fake_tap_open;
    sq_err_clear(&err);
    assert_int_equal(snapshot_take_net_config(&r,
                                              "{\"iface_id\":\"eth0\","
                                              "\"host_dev_name\":\"bad0\"}",
                                              &err),
                     -EBUSY);
    assert_string_equal(
        err.msg, "Failed to restore devices: Error restoring MMIO devices: "
                 "Net: Failed to create a network device: Open tap device "
                 "failed: Error while creating ifreq structure: Device or "
                 "resource busy (os error 16). Invalid TUN/TAP Backend "
                 "provided by bad0. Check our documentation on setting up the "
                 "network devices.");
    assert_int_equal(r.n_nets, 0);
    assert_int_equal(snapshot_take_net_config(&r, "{\"iface_id\":", &err),
                     -EINVAL);
    assert_non_null(strstr(err.msg, "Error restoring MMIO devices: Net: "));

    make_net_state(&st);
    assert_int_equal(snapshot_take_net_config(&r, st.vdev_configs[0], &err), 0);
    assert_int_equal(r.n_nets, 1);
    assert_string_equal(r.nets[0].cfg.host_dev_name, "tap0");
    assert_true(r.nets[0].cfg.has_rx_rate_limiter);
    assert_null(snap_mmds_from_resources(&r)); /* no MMDS yet */

    assert_int_equal(snapshot_take_mmds(&r, st.mmds, "vm-7", &err), 0);
    assert_true(r.nets[0].mmds);
    assert_memory_equal(r.nets[0].mmds_ipv4, st.mmds->ipv4, 4);
    assert_int_equal(mmds_store_version(r.mmds), MMDS_VERSION_V2);
    assert_true(mmds_store_imds_compat(r.mmds));
    assert_string_equal(mmds_store_aad(r.mmds), "vm-7");
    assert_false(mmds_store_is_initialized(r.mmds)); /* data not saved */

    /* What a snapshot of these resources saves is what was restored. */
    again = snap_mmds_from_resources(&r);
    assert_non_null(again);
    assert_int_equal(again->version, st.mmds->version);
    assert_int_equal(again->imds_compat, st.mmds->imds_compat);
    assert_memory_equal(again->ipv4, st.mmds->ipv4, 4);
    assert_int_equal(again->n_ifaces, 1);
    assert_string_equal(again->ifaces[0], "eth0");
    snap_mmds_free(again);

    /* An interface the resources do not have. */
    m = st.mmds;
    free(m->ifaces[0]);
    m->ifaces[0] = xstrdup("eth5");
    assert_int_equal(snapshot_take_mmds(&r, m, "vm-7", &err), -EINVAL);
    assert_string_equal(
        err.msg, "Failed to restore devices: Error restoring MMIO devices: "
                 "MmdsConfig: The list of network interface IDs provided "
                 "contains at least one ID that does not correspond to any "
                 "existing network interface.");
    microvm_state_fini(&st);
    res_fini(&r);
}

/* ---- the kind's hooks on a device --------------------------------------- */

static void vnet_new(struct vnet *vn, struct mmds_store *store,
                     const struct rate_limiter_params *rx)
{
    struct net_params p;
    struct sq_err err;
    int sv[2];

    memset(&p, 0, sizeof(p));
    memset(vn, 0, sizeof(*vn));
    assert_int_equal(
        socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv),
        0);
    p.iface_id = "eth0";
    p.tap_fd = sv[0];
    p.rx_rl = rx;
    if (store) {
        assert_int_equal(mmds_nic_new(store, (const uint8_t[4]){169, 254, 1, 9},
                                      &vn->mmds, &err),
                         0);
        mmds_nic_hook(vn->mmds, &p);
    }
    assert_int_equal(net_new(&p, &vn->net, &err), 0);
    close(sv[0]);
    close(sv[1]);
}

static void vnet_free(struct vnet *vn)
{
    net_free(vn->net);
    mmds_nic_free(vn->mmds);
}

static void test_hooks(void **state)
{
    struct rate_limiter_params rx = {
        .has_ops = true, .ops = {.size = 100, .refill_time_ms = 1000}};
    struct mmds_store *store = mmds_store_new(1024);
    struct vnet a, b, c;
    struct buf out = BUF_INIT;
    struct net_snap s;
    struct sq_err err;

    (void)state;
    vnet_new(&a, store, &rx);
    assert_true(
        rate_limiter_consume(net_rx_rate_limiter(a.net), 1, RL_TOKEN_OPS));
    assert_int_equal(net_vsave(&a, &out, &err), 0);
    assert_int_equal(net_snap_decode((uint8_t *)out.data, out.len, &s, &err),
                     0);
    assert_true(s.has_mmds);
    assert_memory_equal(s.mmds_mac, mmds_ns_default_mac, 6);
    assert_int_equal(s.mmds_ipv4, 0xa9fe0109);
    assert_int_equal(s.mmds_tcp_port, 80);
    assert_true(s.rx.has_ops);
    assert_false(s.rx.has_bandwidth);
    assert_int_equal(s.rx.ops.budget, 99);
    assert_false(s.tx.has_ops || s.tx.has_bandwidth);

    /* Into a device built with an MMDS and no limiter: the buckets are
     * the saved ones. */
    vnet_new(&b, store, NULL);
    assert_int_equal(net_vrestore(&b, (uint8_t *)out.data, out.len, &err), 0);
    assert_true(net_rx_rate_limiter(b.net)->has_ops);
    assert_int_equal(net_rx_rate_limiter(b.net)->ops.budget, 99);

    /* A device without the MMDS it was saved with. */
    vnet_new(&c, NULL, NULL);
    assert_int_equal(net_vrestore(&c, (uint8_t *)out.data, out.len, &err),
                     -EINVAL);
    assert_string_equal(err.msg, "Indicator that no MMDS is associated with "
                                 "this device.");
    /* A cut payload: the reader's error. */
    assert_int_equal(net_vrestore(&b, (uint8_t *)out.data, 10, &err), -EBADMSG);
    assert_string_equal(err.msg, "net state: 10 bytes, 177 expected");
    buf_fini(&out);
    vnet_free(&a);
    vnet_free(&b);
    vnet_free(&c);
    mmds_store_free(store);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_round_trip),
        cmocka_unit_test(test_payload_truncated),
        cmocka_unit_test(test_payload_bad_flags),
        cmocka_unit_test(test_rate_limiter_snap),
        cmocka_unit_test(test_state_round_trip),
        cmocka_unit_test(test_mmds_section_errors),
        cmocka_unit_test(test_network_overrides),
        cmocka_unit_test(test_take_configs),
        cmocka_unit_test(test_hooks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
