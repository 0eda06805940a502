"""virtio-pmem and virtio-mem end to end: configured through the API,
attached at InstanceStart in upstream's order with their memory windows
past 512 GiB as KVM memory slots, driven by the project's test guest
(tests/guest/memdev.c, "memory-device tests" in its README) on real KVM.

pmem: the window's guest address and size in config space, the file's
bytes read through guest memory, guest writes reaching the file (and not,
on a read-only device, whose slot is read-only), FLUSH, root=/dev/pmem0,
hostile requests and a flush storm with squib still answering, PATCH
/pmem/{id} after boot, the pmem metrics.

virtio-mem: PATCH /hotplug/memory after the driver is up, blocks plugged,
touched and unplugged by the guest, refused requests, GET /hotplug/memory
following the guest, memory given back to the host (squib's RSS), the
memory_hotplug metrics.
"""
import os

import pytest

from test_boot_guest import every, first, guest_lines, kvm_skip_reason, start, wait_for
from test_virtio_guest import (configure_guest, make_file, metric_total,
                               metrics_lines, mmio_words, run_guest)

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

WINDOW = 0x80_0000_0000  # 512 GiB: the first window past the 64-bit MMIO hole


def pmem_file(tmp_path, size=64 << 10):
    path = os.path.join(str(tmp_path), "pmem.img")
    with open(path, "wb") as f:
        f.write(bytes((i * 31 + 7) & 0xFF for i in range(size)))
    return path


def written(n):
    return bytes((i * 13 + 0x21) & 0xFF for i in range(n))


def put_pmem(api, path, **kw):
    body = {"id": "pm0", "path_on_host": path}
    body.update(kw)
    r = api.put("/pmem/pm0", body)
    assert r.status == 204, r.raw


def test_pmem_read_write_flush(squib, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    api = squib.client()
    args = configure_guest(api, "pmem", " squiboff=4096 squibbytes=64 squibwrite=64")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    path = pmem_file(tmp_path)
    with open(path, "rb") as f:
        before = f.read()
    put_pmem(api, path, root_device=True)
    start(api)
    lines = run_guest(squib)
    # root= just before the pmem device's own entry (upstream's order).
    assert first(lines, "cmdline")["text"] == \
        args + " pci=off root=/dev/pmem0 rw " + mmio_words(1)
    assert first(lines, "virtio-init")["ok"] == "yes"
    # Described both ways: command line and DSDT, as every virtio device.
    dev = first(lines, "virtio-dev")
    assert (dev["addr"], dev["gsi"], dev["id"], dev["source"]) == \
        ("0xc0001000", "5", "27", "both")
    p = first(lines, "pmem")
    assert int(p["start"], 16) == WINDOW and int(p["size"], 16) == 2 << 20
    rd = first(lines, "pmem-read")
    assert rd["hex"] == before[4096:4096 + 32].hex()
    assert first(lines, "pmem-write")["readback"] == "written"
    fl = first(lines, "pmem-flush")
    assert fl["good"] == "1" and fl["status"] == "0x0" and fl["used_len"] == "4"
    with open(path, "rb") as f:
        after = f.read()
    assert len(after) == len(before)  # the window's tail never grows the file
    assert after[4096:4096 + 64] == written(64)
    assert after[:4096] == before[:4096] and after[4160:] == before[4160:]
    ms = metrics_lines(metrics)
    assert "pmem_pm0" in ms[-1] and "pmem" in ms[-1]
    assert metric_total(ms, "pmem_pm0", "queue_event_count") >= 1
    assert metric_total(ms, "pmem_pm0", "event_fails") == 0


def test_pmem_read_only_window(squib, tmp_path):
    api = squib.client()
    args = configure_guest(api, "pmem", " squibbytes=64 squibwrite=64")
    path = pmem_file(tmp_path, (2 << 20) + 100)  # window of 4 MiB
    with open(path, "rb") as f:
        before = f.read()
    put_pmem(api, path, root_device=True, read_only=True)
    start(api)
    lines = run_guest(squib)
    assert first(lines, "cmdline")["text"] == \
        args + " pci=off root=/dev/pmem0 ro " + mmio_words(1)
    p = first(lines, "pmem")
    assert int(p["start"], 16) == WINDOW and int(p["size"], 16) == 4 << 20
    assert first(lines, "pmem-read")["hex"] == before[:32].hex()
    # KVM_MEM_READONLY: the writes exit to squib, which drops them.
    assert first(lines, "pmem-write")["readback"] == "unchanged"
    assert first(lines, "pmem-flush")["status"] == "0x0"
    with open(path, "rb") as f:
        assert f.read() == before


def test_pmem_hostile_and_flush_storm(squib, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    api = squib.client()
    configure_guest(api, "hostile-pmem", " squibflushes=300")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    put_drive_free = make_file(tmp_path, "d.img", 4096)
    assert api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": put_drive_free,
                                      "is_root_device": True}).status == 204
    put_pmem(api, pmem_file(tmp_path))
    start(api)
    lines = run_guest(squib, timeout=120)
    cases = every(lines, "pmem-hostile")
    assert [c["case"] for c in cases] == [
        "type1", "head8", "head-write", "no-status", "status-ro", "status8",
        "status-outside", "head-outside"]
    for c in cases:
        # Returned with 0 bytes, nothing written, no reset needed.
        assert (c["answered"], c["used_len"], c["needs_reset"], c["status"]) == \
            ("yes", "0", "no", "0x7777"), c
    fl = first(lines, "pmem-flush")
    assert fl["n"] == fl["done"] == fl["good"] == "300"
    ms = metrics_lines(metrics)
    assert metric_total(ms, "pmem_pm0", "event_fails") == 8
    assert metric_total(ms, "pmem", "event_fails") == 8
    assert metric_total(ms, "pmem_pm0", "queue_event_count") >= 308


def test_pmem_patch_after_boot(squib, tmp_path):
    api = squib.client()
    configure_guest(api, "counter")
    put_pmem(api, pmem_file(tmp_path))
    start(api)
    wait_for(squib, r"SQUIB-GUEST counter")
    rl = {"ops": {"size": 100, "refill_time": 1000}}
    r = api.patch("/pmem/pm0", {"id": "pm0", "rate_limiter": rl})
    assert r.status == 204, r.raw
    pm = api.get("/vm/config").json()["pmem"][0]
    assert pm["rate_limiter"] == {"bandwidth": None,
                                  "ops": {"size": 100, "one_time_burst": None,
                                          "refill_time": 1000}}
    assert api.patch("/pmem/pm0", {"id": "pm0"}).status == 204
    r = api.patch("/pmem/nope", {"id": "nope", "rate_limiter": rl})
    assert r.status == 400
    assert r.fault == "Pmem config error: Unable to patch the pmem device: Failed " \
        "perform action on device: Device not found Please verify the request arguments."
    # Removing the bucket (size 0) is reported as no limiter.
    r = api.patch("/pmem/pm0", {"id": "pm0", "rate_limiter": {"ops": {"size": 0, "refill_time": 0}}})
    assert r.status == 204, r.raw
    assert api.get("/vm/config").json()["pmem"][0]["rate_limiter"] is None
    assert api.get("/").json()["state"] == "Running"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def hotplug_status(api):
    r = api.get("/hotplug/memory")
    assert r.status == 200, r.raw
    return r.json()


def request_and_see(squib, api, mib, word, plugged):
    """PATCH the requested size, wait for the guest's line, check GET
    /hotplug/memory follows it; squib's RSS in KiB then."""
    r = api.patch("/hotplug/memory", {"requested_size_mib": mib})
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST %s " % word, timeout=120)
    st = hotplug_status(api)
    assert (st["plugged_size_mib"], st["requested_size_mib"]) == (plugged, mib)
    return rss_kib(squib.proc.pid)


def test_virtio_mem_plug_touch_unplug(squib, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    api = squib.client()
    args = configure_guest(api, "virtio-mem")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    r = api.put("/hotplug/memory", {"total_size_mib": 256, "block_size_mib": 2,
                                    "slot_size_mib": 128})
    assert r.status == 204, r.raw
    r = api.patch("/hotplug/memory", {"requested_size_mib": 8})
    assert r.status == 400  # not before boot
    start(api)
    out = wait_for(squib, r"SQUIB-GUEST mem-config ")
    assert hotplug_status(api) == {"block_size_mib": 2, "total_size_mib": 256,
                                   "slot_size_mib": 128, "plugged_size_mib": 0,
                                   "requested_size_mib": 0}
    for bad in (3, 258):
        r = api.patch("/hotplug/memory", {"requested_size_mib": bad})
        assert r.status == 400
        assert r.fault == "Memory hotplug update error: Failed to create memory " \
            "hotplug device: Size %d is invalid: it must be a multiple of block " \
            "size and less than the total size" % (bad << 20)
    rss0 = rss_kib(squib.proc.pid)
    # Ask for 16 MiB: the guest plugs and touches every 4 KiB page of it,
    # so the host backs them now.
    rss1 = request_and_see(squib, api, 16, "mem-plugged", 16)
    assert rss1 - rss0 >= 14 * 1024, (rss0, rss1)
    # Ask for nothing: the guest unplugs, and the blocks go back to the
    # host (MADV_DONTNEED).
    rss2 = request_and_see(squib, api, 0, "mem-done", 0)
    assert rss1 - rss2 >= 14 * 1024, (rss1, rss2)
    assert api.patch("/hotplug/memory", {"requested_size_mib": 2}).status == 204
    lines = run_guest(squib)

    assert first(lines, "cmdline")["text"] == args + " pci=off " + mmio_words(1)
    dev = first(lines, "virtio-dev")
    assert (dev["addr"], dev["gsi"], dev["id"], dev["source"]) == \
        ("0xc0001000", "5", "24", "both")
    cfg = first(lines, "mem-config")
    assert int(cfg["start"], 16) == WINDOW
    assert int(cfg["block"], 16) == 2 << 20 and int(cfg["region"], 16) == 256 << 20
    req = first(lines, "mem-requested")
    # The usable region grows to the request in whole slots.
    assert int(req["requested"], 16) == 16 << 20 and int(req["usable"], 16) == 128 << 20
    res = {m["name"]: m for m in every(lines, "mem-req")}
    for name in ("plug-too-many", "plug-misaligned", "plug-outside",
                 "unplug-unplugged", "plug-again"):
        assert (res[name]["used_len"], res[name]["resp"]) == ("10", "3"), res[name]
    assert res["bad-type"]["answered"] == "yes" and res["bad-type"]["used_len"] == "0"
    assert res["state-empty"]["resp"] == "0" and res["state-empty"]["state"] == "1"
    assert res["plug"]["resp"] == "0"
    assert res["state-plugged"]["state"] == "0"
    assert res["unplug-half"]["resp"] == "0"
    assert res["state-mixed"]["state"] == "2"
    assert res["unplug-all"]["resp"] == "0"
    # UNPLUG_ALL shrinks the usable region to 0: a range in it is invalid.
    assert res["state-after"]["resp"] == "3"
    assert all(m["needs_reset"] == "no" for m in res.values())
    touch = first(lines, "mem-touch")
    assert touch["pages"] == str(4096) and touch["bad"] == "0"
    assert int(first(lines, "mem-plugged")["plugged"], 16) == 16 << 20
    done = first(lines, "mem-done")
    assert int(done["plugged"], 16) == 0 and int(done["usable"], 16) == 0

    ms = metrics_lines(metrics)
    assert metric_total(ms, "memory_hotplug", "plug_count") == 5
    assert metric_total(ms, "memory_hotplug", "plug_fails") == 4
    assert metric_total(ms, "memory_hotplug", "plug_bytes") == 16 << 20
    assert metric_total(ms, "memory_hotplug", "unplug_all_count") == 1
    assert metric_total(ms, "memory_hotplug", "queue_event_fails") == 1


def test_mem_follow_plugs_and_unplugs_what_is_asked(squib, tmp_path):
    """mem-follow (the hot-plug benchmark's guest) plugs, grows, shrinks
    and unplugs to whatever the host asks; GET /hotplug/memory follows."""
    api = squib.client()
    configure_guest(api, "mem-follow", " squibtouch=1")
    r = api.put("/hotplug/memory", {"total_size_mib": 256, "block_size_mib": 2,
                                    "slot_size_mib": 128})
    assert r.status == 204, r.raw
    start(api)
    wait_for(squib, r"SQUIB-GUEST mem-config ")
    rss0 = rss_kib(squib.proc.pid)
    rss1 = request_and_see(squib, api, 64, r"mem-follow .*plugged=0x4000000", 64)
    assert rss1 - rss0 >= 60 * 1024, (rss0, rss1)
    request_and_see(squib, api, 192, r"mem-follow .*plugged=0xc000000", 192)
    request_and_see(squib, api, 32, r"mem-follow .*plugged=0x2000000", 32)
    rss2 = request_and_see(squib, api, 0, r"mem-follow .*plugged=0x0", 0)
    assert rss1 - rss2 >= 60 * 1024, (rss1, rss2)
    lines = guest_lines(squib.output())
    reqs = [(m["name"], m["resp"]) for m in every(lines, "mem-req")]
    assert reqs == [("follow-plug", "0"), ("follow-plug", "0"),
                    ("follow-unplug", "0"), ("follow-unplug-all", "0")], reqs
    assert [m["bad"] for m in every(lines, "mem-touch")] == ["0", "0"]


def test_windows_past_512_gib_run_out(squib, tmp_path):
    """A hot-pluggable region larger than the 512 GiB window cannot be
    placed (upstream's allocator error); pmem windows after a region that
    fills it neither."""
    api = squib.client()
    configure_guest(api, "virtio")
    r = api.put("/hotplug/memory", {"total_size_mib": 1 << 20})  # 1 TiB
    assert r.status == 204, r.raw
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.fault == "Start microvm error: Failed to allocate guest resource: " \
        "Failed to allocate requested resource: The requested resource is not available."
    r = api.put("/hotplug/memory", {"total_size_mib": 512 << 10})  # all of it
    assert r.status == 204, r.raw
    put_pmem(api, pmem_file(tmp_path))
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.fault == "Start microvm error: Cannot create pmem device: Failed to " \
        "allocate memory region"
    assert api.get("/").json()["state"] == "Not started"
