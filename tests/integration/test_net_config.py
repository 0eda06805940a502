"""Network interfaces on real TAPs, in a network namespace of the test's own,
through the API (no KVM needed): the TAP is opened at PUT time as upstream
does, by the name the client gives (an existing persistent TAP, or a new
one the kernel names from a pattern), and what GET /vm/config reports.

Skipped, with the reason, where this process cannot make a namespace.
"""
import subprocess

import pytest

import netns
from conftest import SQUIB, Squib


@pytest.fixture
def ns_squib(tmp_path):
    why = netns.skip_reason()
    if why:
        pytest.skip(why)
    ns = netns.NetNs()
    ns.tap("tap0", "192.168.241.1/24")
    s = None
    try:
        s = Squib(tmp_path, binary=ns.wrap(SQUIB, tmp_path))
        yield ns, s
    finally:
        if s:
            s.stop()
        ns.close()


def links(ns):
    p = ns.run(["ip", "-o", "link", "show"], stdout=subprocess.PIPE)
    return p.stdout.decode()


def test_put_opens_the_tap_and_config_shows_it(ns_squib):
    ns, s = ns_squib
    api = s.client()
    r = api.put("/network-interfaces/eth0", {
        "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:c0:a8:f1:02",
        "rx_rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}}})
    assert r.status == 204, r.raw
    r = api.put("/mmds/config", {"version": "V2", "network_interfaces": ["eth0"],
                                 "ipv4_address": "169.254.170.2"})
    assert r.status == 204, r.raw
    cfg = api.get("/vm/config").json()
    assert cfg["network-interfaces"] == [{
        "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:c0:a8:f1:02",
        "mtu": None,
        "rx_rate_limiter": {"bandwidth": {"size": 1000, "one_time_burst": None,
                                          "refill_time": 100}, "ops": None},
        "tx_rate_limiter": None}]
    assert cfg["mmds-config"] == {"version": "V2", "network_interfaces": ["eth0"],
                                  "ipv4_address": "169.254.170.2", "imds_compat": False}
    # Before boot the limiters cannot be patched (upstream's NSPre).
    r = api.patch("/network-interfaces/eth0", {"iface_id": "eth0"})
    assert r.status == 400
    assert r.json() == {"fault_message": "The requested operation is not supported "
                                         "before starting the microVM."}


def test_tap_pattern_names_a_new_tap_that_goes_with_squib(ns_squib):
    ns, s = ns_squib
    api = s.client()
    r = api.put("/network-interfaces/eth1", {"iface_id": "eth1", "host_dev_name": "sqt%d"})
    assert r.status == 204, r.raw
    # The kernel named it; GET /vm/config shows the name it got.
    name = api.get("/vm/config").json()["network-interfaces"][0]["host_dev_name"]
    assert name.startswith("sqt") and name != "sqt%d", name
    assert ": %s:" % name in links(ns)
    s.stop()
    # Not persistent: it went away with the process that made it.
    assert ": %s:" % name not in links(ns)
