"""Free page hinting and free page reporting end to end on KVM, driven by
the project's test guest (tests/guest/balloon_hint.c, "virtio-balloon tests"
in its README).

The host starts hinting runs with PATCH /balloon/hinting/start; the guest
answers as Linux's driver does (the run's command id, free memory, STOP),
squib drops the hinted pages (its resident memory falls by them, the guest
reads them back as zeros once the host said DONE) and GET
/balloon/hinting/status shows both sides' command ids. Reported pages are
dropped too. The hostile cases send what a broken or malicious driver
would; squib keeps answering, the device keeps working and squib's memory
does not grow.
"""
import os
import time

import pytest

from conftest import rss_kib
from test_boot_guest import first, guest_lines, kvm_skip_reason, start, wait_for
from test_virtio_guest import (configure_guest, log_to_file, metric_total, metrics_lines,
                               run_guest)

needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))

MIB = 16
STOP, DONE = 0, 1


def put_balloon(api):
    r = api.put("/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                             "stats_polling_interval_s": 1, "free_page_hinting": True,
                             "free_page_reporting": True})
    assert r.status == 204, r.raw


def status(api):
    r = api.get("/balloon/hinting/status")
    assert r.status == 200, r.raw
    return r.json()


def line_of(squib, word, n=None):
    """The first `word` line (with n=<n> when given) seen so far."""
    for w, kv, _ in guest_lines(squib.output()):
        if w == word and (n is None or kv.get("n") == str(n)):
            return kv
    raise AssertionError("no %s line" % word)


@needs_kvm
def test_hinting_and_reporting_give_memory_back(squib, tmp_path):
    api = squib.client()
    log_to_file(api, tmp_path)
    metrics = os.path.join(str(tmp_path), "metrics.json")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    put_balloon(api)
    configure_guest(api, "balloon-hint", " squibmib=%d squibmem=128" % MIB)
    start(api)
    wait_for(squib, r"SQUIB-GUEST hint-touched", 60)
    assert status(api) == {"host_cmd": STOP, "guest_cmd": None}
    init = first(guest_lines(squib.output()), "balloon-init")
    assert init["hinting"] == "1" and init["reporting"] == "1", init
    time.sleep(0.2)
    pid = squib.proc.pid
    before = rss_kib(pid)

    # Run 1, stopped by the host: the guest's STOP leaves the run open.
    r = api.patch("/balloon/hinting/start", {"acknowledge_on_stop": False})
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST hint-run n=1 ", 60)
    run1 = line_of(squib, "hint-run", 1)
    cmd1 = int(run1["cmd_id"])
    assert cmd1 >= 2, run1
    assert run1["start_used"] == "1" and run1["stop_used"] == "1", run1
    assert run1["used"] == run1["buffers"] == str(MIB), run1
    hinted = rss_kib(pid)
    assert before - hinted >= MIB * 1024 * 9 // 10, (before, hinted)
    assert status(api) == {"host_cmd": cmd1, "guest_cmd": STOP}
    r = api.patch("/balloon/hinting/stop", None)
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST hint-done n=1 ", 60)
    done1 = line_of(squib, "hint-done", 1)
    assert done1["cmd_id"] == str(DONE) and done1["zeroed"] == str(MIB * 256), done1
    assert status(api)["host_cmd"] == DONE

    # Run 2, acknowledged by the device itself on the guest's STOP.
    r = api.patch("/balloon/hinting/start", None)
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST hint-done n=2 ", 60)
    run2 = line_of(squib, "hint-run", 2)
    assert int(run2["cmd_id"]) == cmd1 + 1, run2
    assert line_of(squib, "hint-done", 2)["zeroed"] == str(MIB * 256)
    assert status(api) == {"host_cmd": DONE, "guest_cmd": STOP}

    lines = run_guest(squib, 120)
    rep = first(lines, "report-done")
    assert rep["used"] == rep["chains"] and rep["buffers"] == str(MIB), rep
    assert rep["zeroed"] == rep["pages"] == str(MIB * 256), rep
    assert first(lines, "balloon-hint-done") is not None
    ms = metrics_lines(metrics)
    assert metric_total(ms, "balloon", "free_page_hint_count") >= 2 * MIB
    assert metric_total(ms, "balloon", "free_page_hint_freed") >= 2 * (MIB << 20)
    assert metric_total(ms, "balloon", "free_page_report_count") >= MIB
    assert metric_total(ms, "balloon", "free_page_report_freed") >= MIB << 20


HOSTILE = ["hint-before-run", "hint-no-cmd", "done-before-start", "hint-stale-cmd",
           "hint-wrong-cmd", "stop-then-hint", "cmd-outside-ram", "hint-outside-ram",
           "hint-overlap", "hint-duplicate", "hint-zero-len", "hint-huge-len",
           "hint-addr-wraps", "hint-read-only", "report-outside-ram", "report-read-only",
           "report-zero-len", "report-huge-len", "report-overlap", "guest-done"]
# Hints squib must ignore (no run, no or another command id): the page stays.
IGNORED = ["hint-before-run", "hint-no-cmd", "done-before-start", "hint-stale-cmd",
           "hint-wrong-cmd", "stop-then-hint", "hint-zero-len"]
# In the run with the right id: dropped, whatever the descriptor's flags
# (upstream does not look at them), overlapping or repeated.
DROPPED = ["hint-overlap", "hint-duplicate", "hint-read-only", "report-read-only",
           "report-overlap"]


@needs_kvm
def test_hostile_hinting(squib, tmp_path):
    api = squib.client()
    log_to_file(api, tmp_path)
    put_balloon(api)
    configure_guest(api, "hostile-hint", " squibtimeout=4000 squibhold=5000")
    start(api)
    wait_for(squib, r"SQUIB-GUEST hostile-hint waiting", 60)
    pid = squib.proc.pid
    before = rss_kib(pid)
    assert status(api)["host_cmd"] == STOP
    r = api.patch("/balloon/hinting/start", {"acknowledge_on_stop": False})
    assert r.status == 204, r.raw
    while "SQUIB-GUEST hostile done" not in squib.output():
        # squib's API answers all along.
        assert squib.proc.poll() is None, squib.output()[-3000:]
        assert api.get("/").status == 200
        status(api)
        time.sleep(0.05)
    cmd = int(line_of(squib, "hint-start")["cmd_id"])
    assert cmd >= 2
    # The hostile hints outside guest RAM made squib no bigger.
    assert rss_kib(pid) <= before + 4096, (before, rss_kib(pid))
    # The guest's last word in the run is its good command id.
    assert status(api) == {"host_cmd": cmd, "guest_cmd": cmd}
    assert api.get("/balloon").status == 200
    assert api.patch("/balloon/hinting/stop", None).status == 204
    assert status(api)["host_cmd"] == DONE

    lines = run_guest(squib, 60)
    cases = {kv["case"]: kv for w, kv, _ in lines if w == "hint-case"}
    assert sorted(cases) == sorted(HOSTILE)
    for name, c in cases.items():
        assert c["answered"] == "yes", c
        assert c["after_ok"] == "yes" and "reset" not in c, c
        assert int(c["status"], 16) & 0x40 == 0, c
    for name in IGNORED:
        assert cases[name]["kept"] == "yes", cases[name]
    for name in DROPPED:
        assert cases[name]["kept"] == "no", cases[name]
    done = [raw for w, kv, raw in lines if raw.startswith("SQUIB-GUEST hostile done")]
    assert done and "cases=%d ok=%d" % (len(HOSTILE), len(HOSTILE)) in done[0], done
