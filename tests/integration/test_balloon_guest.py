"""virtio-balloon end to end on KVM, driven by the project's test guest
(tests/guest/balloon.c, "virtio-balloon tests" in its README).

The guest touches memory, the host asks for it with PATCH /balloon, the
guest inflates exactly those pages and squib's resident memory falls by
them; deflated, they read zero in the guest. The statistics the guest
reports come back through GET /balloon/statistics. The hostile cases send
what a broken or malicious driver would, and squib keeps answering.
"""
import os
import time

import pytest

from conftest import rss_kib
from test_boot_guest import first, guest_lines, kvm_skip_reason, start, wait_for
from test_virtio_guest import (configure_guest, log_to_file, metric_total, metrics_lines,
                               run_guest, watch_api_while_running)

needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))

MIB = 32


def put_balloon(api, **kw):
    body = {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1}
    body.update(kw)
    r = api.put("/balloon", body)
    assert r.status == 204, r.raw


@needs_kvm
def test_balloon_inflate_gives_memory_back(squib, tmp_path):
    api = squib.client()
    log_to_file(api, tmp_path)
    metrics = os.path.join(str(tmp_path), "metrics.json")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    put_balloon(api)
    configure_guest(api, "balloon", " squibmib=%d squibmem=128" % MIB)
    start(api)
    wait_for(squib, r"SQUIB-GUEST balloon-touched", 60)
    time.sleep(0.2)
    pid = squib.proc.pid
    before = rss_kib(pid)

    r = api.patch("/balloon", {"amount_mib": MIB})
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST balloon-inflated", 120)
    inflated = rss_kib(pid)
    # The guest's 32 MiB went back to the host (a little slack for what
    # squib itself touched meanwhile).
    assert before - inflated >= MIB * 1024 * 9 // 10, (before, inflated)

    # Statistics: the driver's numbers after a polling interval.
    deadline = time.time() + 10
    while True:
        s = api.get("/balloon/statistics")
        assert s.status == 200, s.raw
        st = s.json()
        if "total_memory" in st or time.time() > deadline:
            break
        time.sleep(0.2)
    assert st["target_mib"] == MIB and st["target_pages"] == MIB * 256, st
    assert st["actual_mib"] == MIB and st["actual_pages"] == MIB * 256, st
    assert st["total_memory"] == 128 << 20, st
    assert st["free_memory"] == 64 << 20, st
    assert "swap_out" in st and "swap_in" not in st, st
    assert api.get("/balloon").json()["amount_mib"] == MIB

    r = api.patch("/balloon", {"amount_mib": 0})
    assert r.status == 204, r.raw
    lines = run_guest(squib, 120)
    inf = first(lines, "balloon-inflated")
    assert inf["result"] == "ok" and inf["pages"] == str(MIB * 256), inf
    assert inf["actual"] == str(MIB * 256), inf
    de = first(lines, "balloon-deflated")
    assert de["result"] == "ok", de
    # Every page came back zeroed: the host had dropped them.
    assert de["zeroed"] == str(MIB * 256), de
    assert first(lines, "balloon-init")["stats"] == "1"
    ms = metrics_lines(metrics)
    assert metric_total(ms, "balloon", "inflate_count") >= MIB * 256 // 256
    assert metric_total(ms, "balloon", "deflate_count") >= MIB * 256 // 256


@needs_kvm
def test_balloon_follow_tracks_num_pages(squib, tmp_path):
    """balloon-follow (the balloon benchmark's guest) inflates and deflates
    to whatever the host asks, and the host gets the pages back."""
    api = squib.client()
    log_to_file(api, tmp_path)
    put_balloon(api, deflate_on_oom=False, stats_polling_interval_s=0)
    configure_guest(api, "balloon-follow", " squibmem=128")
    start(api)
    wait_for(squib, r"SQUIB-GUEST balloon-touched base=0x4000000 mib=64 pages=16384", 60)
    time.sleep(0.2)
    before = rss_kib(squib.proc.pid)
    # (target MiB, chains of 256 PFNs: 1 MiB each, in or out)
    for mib, chains in ((48, 48), (16, 32), (0, 16)):
        assert api.patch("/balloon", {"amount_mib": mib}).status == 204
        wait_for(squib, r"SQUIB-GUEST balloon-follow actual=%d chains=%d" %
                 (mib * 256, chains), 60)
        if mib == 48:
            after = rss_kib(squib.proc.pid)
            assert before - after >= 48 * 1024 * 9 // 10, (before, after)
    assert api.get("/balloon").json()["amount_mib"] == 0


HOSTILE = ["pfn-outside-ram", "pfn-duplicates", "inflate-write-only", "inflate-odd-len",
           "inflate-zero-len", "deflate-outside-ram", "stats-odd-len", "stats-oversized",
           "stats-write-only"]


@needs_kvm
def test_hostile_balloon(squib, tmp_path):
    api = squib.client()
    log_to_file(api, tmp_path)
    put_balloon(api)
    configure_guest(api, "hostile-balloon", " squibtimeout=4000")
    start(api)
    code, answered = watch_api_while_running(squib, api)
    assert code == 0, squib.output()[-3000:]
    assert answered >= 1
    lines = guest_lines(squib.output())
    cases = {kv["case"]: kv for w, kv, _ in lines if w == "hostile-case"}
    assert sorted(cases) == sorted(HOSTILE)
    for name, c in cases.items():
        # After each case a good inflate and deflate still work, and the
        # device never asked for a reset.
        assert c["after_ok"] == "yes", c
        assert int(c["status"], 16) & 0x40 == 0, c
    for name in HOSTILE:
        if not name.startswith("stats"):
            assert cases[name]["answered"] == "yes", cases[name]
    assert "SQUIB-GUEST hostile done" in squib.output()
