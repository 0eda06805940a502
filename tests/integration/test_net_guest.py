"""virtio-net and the MMDS end to end: a NIC on a TAP configured through the
API, the MMDS enabled on it, driven by the project's test guest (tests/guest/
net.c, "virtio-net tests" in its README) on real KVM.

squib runs in a network namespace of its own (`unshare -n`), where a TAP
with the host address 192.168.241.1/24 is created just before squib starts,
so nothing touches the host's interfaces. That needs root (CAP_SYS_ADMIN and
CAP_NET_ADMIN); without it, or without /dev/kvm, the tests skip. The first
test needs no KVM: it checks that the namespace and the TAP work for squib.

What the guest checks over the rings is what tests/unit/test_netproto.c
checks in-process against the same stack (ARP, the handshake, V1 text and
JSON, V2 tokens, a 4 KiB value in MSS-sized segments, RSTs, the limit of 30
connections); here the device, the TAP and the metrics are added.
"""
import os

import pytest

import netns
from test_boot_guest import every, first, guest_lines, kvm_skip_reason, start
from test_virtio_guest import (configure_guest, log_to_file, metric_total, metrics_lines,
                               run_guest, watch_api_while_running)

TAP = "sqtap0"
HOST_IP = "192.168.241.1"
GUEST_IP = "192.168.241.2"
GUEST_MAC = "06:00:c0:a8:f1:02"
MMDS_MAC = "06:01:23:45:67:01"
INSTANCE_ID = "i-0123456789abcdef0"
BIG = "".join(chr(ord("a") + i % 26) for i in range(4096))
MMDS_DATA = {"latest": {"meta-data": {"instance-id": INSTANCE_ID}}, "big": BIG}
PATH = "/latest/meta-data/instance-id"

needs_netns = pytest.mark.skipif(netns.skip_reason() is not None,
                                 reason=str(netns.skip_reason()))
needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))


@pytest.fixture
def netsquib(squib_factory):
    """squib in a network namespace of its own, with TAP up."""
    return squib_factory(prefix=netns.private_prefix(TAP, HOST_IP + "/24"))


def put_nic(api, mmds_version=None, data=MMDS_DATA):
    r = api.put("/network-interfaces/eth0",
                {"iface_id": "eth0", "host_dev_name": TAP, "guest_mac": GUEST_MAC})
    assert r.status == 204, r.raw
    if mmds_version is None:
        return
    r = api.put("/mmds/config", {"network_interfaces": ["eth0"], "version": mmds_version})
    assert r.status == 204, r.raw
    r = api.put("/mmds", data)
    assert r.status == 204, r.raw


def put_metrics(api, tmp_path):
    path = os.path.join(str(tmp_path), "metrics.json")
    assert api.put("/metrics", {"metrics_path": path}).status == 204
    return path


def by_name(lines, word, key):
    return {kv[key]: kv for kv in every(lines, word)}


@needs_netns
def test_tap_in_private_namespace(netsquib):
    """No KVM needed: the TAP exists where squib runs, and not on the host."""
    api = netsquib.client()
    put_nic(api, "V2")
    r = api.get("/vm/config")
    assert r.status == 200, r.raw
    cfg = r.json()
    assert cfg["network-interfaces"][0]["host_dev_name"] == TAP
    assert cfg["mmds-config"]["network_interfaces"] == ["eth0"]
    assert not os.path.exists("/sys/class/net/" + TAP)


@needs_netns
@needs_kvm
@pytest.mark.parametrize("version", ["V1", "V2"])
def test_net_mmds(netsquib, tmp_path, version):
    api = netsquib.client()
    log_to_file(api, tmp_path)
    metrics = put_metrics(api, tmp_path)
    configure_guest(api, "net-mmds", " squibpath=%s squibbig=/big" % PATH)
    put_nic(api, version)
    start(api)
    lines = run_guest(netsquib, 120)
    nic = first(lines, "virtio-net")
    assert nic["mac"] == GUEST_MAC and nic["mac_feature"] == "1"
    assert first(lines, "net-init")["ok"] == "yes"
    arp = first(lines, "net-arp")
    assert arp["result"] == "ok" and arp["mac"] == MMDS_MAC
    tcp = first(lines, "net-tcp")
    assert tcp["connect"] == "ok" and tcp["peer_mss"] == "1460" and tcp["peer_wnd"] == "2500"

    gets = by_name(lines, "net-mmds-get", "name")
    for g in gets.values():
        assert g["result"] == "ok", g
    if version == "V1":
        assert gets["v1-text"]["status"] == "200"
        assert gets["v1-text"]["ctype"] == "text/plain"
        assert gets["v1-text"]["body"] == INSTANCE_ID
        assert gets["v1-json"]["ctype"] == "application/json"
        assert gets["v1-json"]["body"] == '"%s"' % INSTANCE_ID
        # V1 serves whatever token comes (and counts it as invalid)
        assert gets["v2-badtoken"]["status"] == "200"
    else:
        assert gets["v1-text"]["status"] == "401"
        assert gets["v1-json"]["status"] == "401"
        assert gets["v2-badtoken"]["status"] == "401"
        assert gets["v2-badtoken"]["body"] == "MMDS_token_not_valid."
    assert gets["token"]["status"] == "200" and gets["token"]["len"] == "48"
    assert gets["v2-text"]["status"] == "200" and gets["v2-text"]["body"] == INSTANCE_ID
    big = gets["big"]
    assert big["status"] == "200" and big["len"] == "4096"
    assert big["body"] == BIG[:64]
    segs = first(lines, "net-mmds-segments")
    assert int(segs["segments"]) >= 3 and segs["max_seg"] == "1460"
    assert every(lines, "net-tcp")[1]["close"] == "ok"

    probes = by_name(lines, "net-probe", "case")
    assert probes["no-connection"]["result"] == "rst"
    assert probes["no-connection"]["rst_flags"] == "0x4"
    assert probes["no-connection"]["rst_seq_rel"] == "0"
    # upstream's handler drops a segment to another port without a RST
    assert probes["closed-port"]["result"] == "silent"
    # an ARP request for another address goes to the TAP, where no one has it
    assert probes["arp-other"]["result"] == "silent"
    assert probes["too-big"]["result"] == "rst"
    limit = probes["conn-limit"]
    assert limit["opened"] == "30" and limit["closed"] == "30"
    assert limit["result"] == "rst" and limit["rst_flags"] == "0x14"
    assert limit["rst_ack_rel"] == "0"  # the SYN itself is not acknowledged

    done = first(lines, "net-mmds")
    assert done["ok"] == "yes" and done["rx_bad"] == "0" and done["tx_timeouts"] == "0"

    ms = metrics_lines(metrics)
    # 1 + 1 (too-big) + 30 connections; the refused 31st is not created
    assert metric_total(ms, "mmds", "connections_created") == 32
    assert metric_total(ms, "mmds", "connections_destroyed") == 32
    assert metric_total(ms, "mmds", "rx_accepted") > 0
    assert metric_total(ms, "mmds", "tx_frames") > 0
    assert metric_total(ms, "mmds", "rx_accepted_err") >= 1  # the closed port
    assert metric_total(ms, "mmds", "rx_invalid_token") >= 1
    if version == "V2":
        assert metric_total(ms, "mmds", "rx_no_token") >= 2
    for group in ("net", "net_eth0"):
        assert metric_total(ms, group, "tx_fails") == 0
        assert metric_total(ms, group, "rx_fails") == 0
        assert metric_total(ms, group, "tx_malformed_frames") == 0
    # only the frames that were not the MMDS's reached the TAP
    assert metric_total(ms, "net_eth0", "tx_packets_count") >= 1


@needs_netns
@needs_kvm
def test_net_ping(netsquib, tmp_path):
    api = netsquib.client()
    log_to_file(api, tmp_path)
    metrics = put_metrics(api, tmp_path)
    configure_guest(api, "net-ping",
                    " squibhost=%s squibip=%s squibcount=5" % (HOST_IP, GUEST_IP))
    put_nic(api)
    start(api)
    lines = run_guest(netsquib, 60)
    assert first(lines, "virtio-net")["ip"] == GUEST_IP
    assert first(lines, "net-arp")["result"] == "ok"
    pings = every(lines, "net-ping")
    assert pings[-1]["sent"] == "5" and pings[-1]["received"] == "5"
    assert pings[-1]["rx_bad"] == "0"
    ms = metrics_lines(metrics)
    assert metric_total(ms, "net_eth0", "tx_packets_count") >= 6
    assert metric_total(ms, "net_eth0", "rx_packets_count") >= 6
    assert metric_total(ms, "mmds", "rx_accepted") == 0


@needs_netns
@needs_kvm
def test_hostile_net(netsquib, tmp_path):
    api = netsquib.client()
    log_to_file(api, tmp_path)
    metrics = put_metrics(api, tmp_path)
    configure_guest(api, "hostile-net")
    put_nic(api, "V1")
    start(api)
    code, answered = watch_api_while_running(netsquib, api)
    assert code == 0, netsquib.output()[-3000:]
    assert answered >= 1
    lines = guest_lines(netsquib.output())
    cases = by_name(lines, "hostile-case", "case")
    assert len(cases) == 12
    for c in cases.values():
        assert c["reset_ok"] == c["reinit_ok"] == c["arp_ok"] == "yes", c
    # TX chains the device cannot send are used with length 0
    for name in ("tx-addr-outside-ram", "tx-desc-loop", "tx-write-only", "tx-zero-len",
                 "tx-oversized"):
        c = cases[name]
        assert c["tx_answered"] == "yes" and c["tx_used_len"] == "0", c
        assert c["needs_reset"] == "no" and c["still_works"] == "yes", c
    # a head outside the ring breaks it: NEEDS_RESET until the reset
    c = cases["tx-head-out-of-range"]
    assert c["tx_answered"] == "no" and c["needs_reset"] == "yes", c
    # RX chains that cannot take a frame come back empty with the next frame
    for name in ("rx-addr-outside-ram", "rx-desc-loop", "rx-read-only", "rx-zero-len"):
        c = cases[name]
        assert c["rx_bad_returned"] == "yes" and c["rx_bad_len"] == "0", c
        assert c["still_works"] == "yes", c
    # the MMDS's answer waits for buffers and is not lost
    assert cases["rx-no-buffers"]["still_works"] == "yes"
    assert cases["notify-storm"]["still_works"] == "yes"
    done = first(lines, "hostile")
    assert done["final"] == "ok" and done["ok"] == done["cases"] == "12"
    ms = metrics_lines(metrics)
    assert metric_total(ms, "net_eth0", "tx_fails") >= 3
    assert metric_total(ms, "net_eth0", "tx_malformed_frames") >= 2
    assert metric_total(ms, "net_eth0", "rx_fails") >= 4
    assert metric_total(ms, "net_eth0", "no_rx_avail_buffer") >= 1
    assert metric_total(ms, "net_eth0", "event_fails") >= 1
    # the storm's notifications coalesce in the ioeventfds
    assert metric_total(ms, "net_eth0", "tx_queue_event_count") >= 1
    assert metric_total(ms, "net_eth0", "rx_queue_event_count") >= 1


@needs_netns
@needs_kvm
def test_net_mmds_bench_mode(netsquib):
    """The guest side of bench/mmds/guest.py: keep-alive GETs with a V2
    token, then ARP round trips, all answered."""
    api = netsquib.client()
    configure_guest(api, "net-mmds-bench", " squibpath=/big squibreqs=5 squibv2=1")
    put_nic(api, "V2")
    start(api)
    lines = run_guest(netsquib, 60)
    b = first(lines, "net-mmds-bench")
    assert b["version"] == "V2" and b["reqs"] == "5", b
    assert b["ok"] == "5" and b["arps"] == "5", b
    assert b["body_len"] == str(len(BIG)), b
