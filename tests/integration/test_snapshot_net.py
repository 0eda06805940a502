"""Snapshots of a machine with a virtio-net device and the MMDS
(docs/snapshot.md, "Network interfaces and the MMDS").

On KVM (and root, for the namespaces): the test guest pings the host
through its NIC every 100 ms (net-ping, tests/guest/README.md) and then
asks the MMDS (V2) for a value; it is paused mid-way and snapshotted, its
squib killed, and a new squib in another network namespace restores it
with `network_overrides` onto a TAP of another name. The restored guest's
pings go on from the next sequence number and are all answered through the
new TAP, and the MMDS answers on the same interface with the same version
once the new process was given its data (the store is not in snapshots).

Without KVM: the load's network errors, from state files squib's own
writer made (build/snap-state-gen): an override naming no interface of the
snapshot, and a TAP that cannot be opened, each upstream's fatal failure.
"""
import os
import subprocess
import time

import pytest

import netns
from test_boot_guest import every, first, guest_lines, kvm_skip_reason, start
from test_snapshot import LOAD_ERR, STATE_ERR, create, expect_fatal_load, load
from test_virtio_guest import configure_guest, log_to_file

BUILD = os.environ.get("SQUIB_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
STATE_GEN = os.path.join(BUILD, "snap-state-gen")

TAP, OTHER_TAP = "sqtap0", "sqtap1"
HOST_IP = "192.168.241.1"
GUEST_IP = "192.168.241.2"
GUEST_MAC = "06:00:c0:a8:f1:02"
# Both TAPs get the same address: the restored guest's ARP entry stays good.
HOST_MAC = "02:00:c0:a8:f1:01"
INSTANCE_ID = "i-0123456789abcdef0"
MMDS_DATA = {"latest": {"meta-data": {"instance-id": INSTANCE_ID}}}
PATH = "/latest/meta-data/instance-id"
PINGS = 60

needs_netns = pytest.mark.skipif(netns.skip_reason() is not None,
                                 reason=str(netns.skip_reason()))
needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))


def in_netns(squib_factory, tap):
    return squib_factory(prefix=netns.private_prefix(tap, HOST_IP + "/24", HOST_MAC))


def pings(squib):
    return [p for p in every(guest_lines(squib.output()), "net-ping") if "seq" in p]


def snapshot_pinging_guest(squib_factory, tmp_path):
    """Boot the pinging guest with MMDS V2 on its NIC, pause it after a few
    answered pings, snapshot it and kill its squib: (state, memory file,
    the pings it made before)."""
    s = in_netns(squib_factory, TAP)
    api = s.client()
    log_to_file(api, tmp_path)
    configure_guest(api, "net-ping",
                    " squibhost=%s squibip=%s squibcount=%d squibgap=100"
                    " squibthenmmds=1 squibpath=%s"
                    % (HOST_IP, GUEST_IP, PINGS, PATH))
    r = api.put("/network-interfaces/eth0",
                {"iface_id": "eth0", "host_dev_name": TAP, "guest_mac": GUEST_MAC})
    assert r.status == 204, r.raw
    r = api.put("/mmds/config", {"network_interfaces": ["eth0"], "version": "V2"})
    assert r.status == 204, r.raw
    assert api.put("/mmds", MMDS_DATA).status == 204
    start(api)
    deadline = time.time() + 60
    while time.time() < deadline and len(pings(s)) < 5:
        time.sleep(0.05)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)  # let a line in flight land
    before = pings(s)
    assert len(before) >= 5, s.output()[-3000:]
    assert all(p["result"] == "ok" for p in before), before
    state, memf = create(api, tmp_path)
    s.stop()
    return state, memf, before


@needs_netns
@needs_kvm
def test_restore_onto_another_tap_goes_on(squib_factory, tmp_path):
    state, memf, before = snapshot_pinging_guest(squib_factory, tmp_path)
    second = in_netns(squib_factory, OTHER_TAP)
    r = load(second, state, memf, resume=False,
             network_overrides=[{"iface_id": "eth0", "host_dev_name": OTHER_TAP}])
    assert r.status == 204, r.raw + second.output().encode()
    api = second.client()
    cfg = api.get("/vm/config").json()
    nic = cfg["network-interfaces"][0]
    assert nic["iface_id"] == "eth0" and nic["host_dev_name"] == OTHER_TAP
    assert nic["guest_mac"] == GUEST_MAC
    mmds = cfg["mmds-config"]
    assert mmds["network_interfaces"] == ["eth0"] and mmds["version"] == "V2"
    assert mmds["ipv4_address"] == "169.254.169.254"
    # The data store is not part of a snapshot: the new process gets it.
    assert api.put("/mmds", MMDS_DATA).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    try:
        code = second.proc.wait(120)
    except subprocess.TimeoutExpired:
        raise AssertionError("the restored guest did not finish:\n" + second.output()[-3000:])
    assert code == 0, second.output()[-3000:]
    lines = guest_lines(second.output())
    after = [p for p in every(lines, "net-ping") if "seq" in p]
    assert after, second.output()[-3000:]
    # It goes on where it stopped (at most the ping in flight again), and
    # every ping after the restore is answered through the other TAP.
    assert int(after[0]["seq"]) in (int(before[-1]["seq"]), int(before[-1]["seq"]) + 1), \
        (before[-1], after[0])
    assert int(after[-1]["seq"]) == PINGS
    assert all(p["result"] == "ok" for p in after), after
    total = [p for p in every(lines, "net-ping") if "sent" in p][-1]
    assert total["sent"] == str(PINGS) and int(total["received"]) >= PINGS - 1
    gets = {g["name"]: g for g in every(lines, "net-mmds-get")}
    assert gets["token"]["status"] == "200"
    assert gets["v2-text"]["status"] == "200" and gets["v2-text"]["body"] == INSTANCE_ID
    assert gets["v1-text"]["status"] == "401"  # still V2


@needs_netns
@needs_kvm
def test_restore_with_unknown_iface_is_fatal(squib_factory, tmp_path):
    state, memf, _ = snapshot_pinging_guest(squib_factory, tmp_path)
    expect_fatal_load(in_netns(squib_factory, OTHER_TAP), state, memf,
                      STATE_ERR + "Unknown Network Device.",
                      network_overrides=[{"iface_id": "eth9", "host_dev_name": OTHER_TAP}])


# ---- without KVM: state files from squib's own writer -------------------------

@pytest.fixture(scope="module")
def gen_states(tmp_path_factory):
    d = tmp_path_factory.mktemp("states")
    subprocess.run([STATE_GEN, str(d)], check=True)
    return d


def test_override_of_a_snapshot_without_nics(squib_factory, tmp_path, gen_states):
    expect_fatal_load(squib_factory([]), str(gen_states / "vmstate"), str(tmp_path / "mem"),
                      STATE_ERR + "Unknown Network Device.",
                      network_overrides=[{"iface_id": "eth0", "host_dev_name": "tap9"}])


def test_override_of_another_iface(squib_factory, tmp_path, gen_states):
    # vmstate_net holds eth0 only (tests/support/snap_net_fixture.h).
    expect_fatal_load(squib_factory([]), str(gen_states / "vmstate_net"), str(tmp_path / "mem"),
                      STATE_ERR + "Unknown Network Device.",
                      network_overrides=[{"iface_id": "eth0", "host_dev_name": "tap9"},
                                         {"iface_id": "eth1", "host_dev_name": "tap9"}])


@pytest.mark.skipif(not os.access("/dev/net/tun", os.R_OK | os.W_OK),
                    reason="/dev/net/tun cannot be opened here")
def test_tap_that_cannot_be_opened(squib_factory, tmp_path, gen_states):
    # A name the kernel refuses: the saved TAP is opened by name, and the
    # override's name is the one used.
    name = "x" * 20
    expect_fatal_load(squib_factory([]), str(gen_states / "vmstate_net"), str(tmp_path / "mem"),
                      LOAD_ERR + "Failed to build microVM from snapshot: Failed to restore "
                      "devices: Error restoring MMIO devices: Net: Failed to create a network "
                      "device: Open tap device failed: Invalid interface name",
                      network_overrides=[{"iface_id": "eth0", "host_dev_name": name}])


@needs_netns
def test_override_tap_is_opened_before_memory(squib_factory, tmp_path, gen_states):
    # The overriding TAP opens: the load gets past the devices'
    # configurations and fails only on the missing memory file.
    expect_fatal_load(in_netns(squib_factory, OTHER_TAP), str(gen_states / "vmstate_net"),
                      str(tmp_path / "mem"),
                      LOAD_ERR + "Failed to load guest memory: Error creating guest memory "
                      "from file: Failed to load guest memory: No such file or directory "
                      "(os error 2)",
                      network_overrides=[{"iface_id": "eth0", "host_dev_name": OTHER_TAP}])
