"""virtio-blk and virtio-rng end to end: configured through the API, built at
InstanceStart, driven by the project's test guest (tests/guest/, virtio
tests in its README) on real KVM.

What is checked against the digest (6.4, 6.5, 1.5, 4.2): placement from
0xc0001000 / GSI 5 in attach order (root drive first, then the other drives
in insertion order, then entropy), described both on the command line and
in the DSDT; the root= words; the 17-device limit and its error texts;
byte-exact guest writes in the host file; read-only drives; flush; the
GET_ID serial; entropy; rate limiters measured against their buckets;
hostile drivers (squib keeps answering and the device recovers); PATCH
/drives after boot; block and entropy metrics.
"""
import json
import os
import time

import pytest

from conftest import fd_targets
from test_boot_guest import (GUEST_DIR, assert_exit, every, first, guest_lines,
                             kvm_skip_reason, start)

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

KERNEL = os.path.join(GUEST_DIR, "guest-linux.elf")
START_ERR = "Start microvm error: "


def boot_args(test, extra=""):
    return "console=ttyS0 reboot=k panic=1 squibtest=%s%s" % (test, extra)


def configure_guest(api, test, extra="", kernel=KERNEL, mem=128):
    args = boot_args(test, extra)
    r = api.put("/boot-source", {"kernel_image_path": kernel, "boot_args": args})
    assert r.status == 204, r.raw
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": mem})
    assert r.status == 204, r.raw
    return args


def make_file(tmp_path, name, size, fill=None):
    path = os.path.join(str(tmp_path), name)
    with open(path, "wb") as f:
        if fill is None:
            f.truncate(size)
        else:
            f.write(fill * (size // len(fill)))
    return path


def put_drive(api, drive_id, path, root=False, **kw):
    body = {"drive_id": drive_id, "path_on_host": path, "is_root_device": root}
    body.update(kw)
    r = api.put("/drives/" + drive_id, body)
    assert r.status == 204, r.raw


def pattern(sector):
    return bytes((7 * i + 3 * sector + 0x5A) & 0xFF for i in range(512))


def serial_of(path):
    st = os.stat(path)
    return ("%d%d%d" % (st.st_dev, st.st_rdev, st.st_ino))[:20]


def mmio_words(n):
    return " ".join("virtio_mmio.device=4K@0x%x:%d" % (0xC0001000 + 0x1000 * i, 5 + i)
                    for i in range(n))


def run_guest(squib, timeout=60):
    assert_exit(squib, 0, timeout)
    return guest_lines(squib.output())


def metrics_lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def metric_total(lines, group, key):
    """Counters are emitted as the change since the previous line."""
    return sum(m[group][key] for m in lines)


# ---------------------------------------------------------------------------
# Placement, command line, DSDT


@pytest.mark.parametrize("kernel", ["guest-linux.elf", "guest-pvh.elf"])
def test_devices_placed_and_described(squib, tmp_path, kernel):
    api = squib.client()
    args = configure_guest(api, "blk-irq", " squibsector=3", os.path.join(GUEST_DIR, kernel))
    disk = make_file(tmp_path, "root.img", 1 << 20)
    data = make_file(tmp_path, "data.img", 64 << 10)
    # Insertion order data, root: the root drive is still attached first.
    put_drive(api, "data", data)
    put_drive(api, "rootfs", disk, root=True, is_read_only=False, cache_type="Writeback")
    assert api.put("/entropy", {}).status == 204
    start(api)
    assert api.get("/").json()["state"] == "Running"
    lines = run_guest(squib)

    # Command line: the user's args, pci=off, root= just before the root
    # drive's own entry, then one entry per device in attach order.
    assert first(lines, "cmdline")["text"] == \
        args + " pci=off root=/dev/vda rw " + mmio_words(3)
    cmd = [(c["addr"], c["size"], c["gsi"]) for c in every(lines, "virtio-cmdline")]
    assert cmd == [("0xc0001000", "0x1000", "5"), ("0xc0002000", "0x1000", "6"),
                   ("0xc0003000", "0x1000", "7")]
    dsdt = [(d["name"], d["addr"], d["size"], d["gsi"]) for d in every(lines, "virtio-dsdt-dev")]
    assert dsdt == [("V000", "0xc0001000", "0x1000", "5"), ("V001", "0xc0002000", "0x1000", "6"),
                    ("V002", "0xc0003000", "0x1000", "7")]
    assert first(lines, "virtio-dsdt")["devices"] == "3"
    devs = every(lines, "virtio-dev")
    assert [(d["addr"], d["gsi"], d["id"]) for d in devs] == [
        ("0xc0001000", "5", "2"), ("0xc0002000", "6", "2"), ("0xc0003000", "7", "4")]
    for d in devs:
        assert (d["version"], d["vendor"], d["magic"], d["source"]) == ("2", "0x0", "virt", "both")

    # The first block device is the root drive (1 MiB, writeback).
    init = first(lines, "virtio-init")
    assert init["addr"] == "0xc0001000" and init["ok"] == "yes"
    assert init["dev_features"] == "0x120000200" and init["queue_max"] == "256"
    blk = first(lines, "virtio-blk")
    assert blk["capacity"] == "2048" and blk["ro"] == "0" and blk["flush"] == "1"
    assert first(lines, "ioapic")["routed"] == "yes"
    w = first(lines, "blk-write")
    assert w["status"] == "0x0" and w["used_len"] == "1"
    assert first(lines, "blk-readback")["match"] == "yes"
    assert first(lines, "blk-flush")["status"] == "0x0"
    bid = first(lines, "blk-id")
    assert bid["status"] == "0x0" and bid["id"] == serial_of(disk)
    irq = first(lines, "blk-irq")
    assert irq["ok"] == irq["reqs"] == "32" and int(irq["irqs"]) >= 1

    # The guest's write reached the host file byte-exact, nothing else did.
    with open(disk, "rb") as f:
        img = f.read()
    assert img[3 * 512:4 * 512] == pattern(3)
    assert img[:3 * 512] == bytes(3 * 512) and img[4 * 512:] == bytes(len(img) - 4 * 512)


def test_blk_event_idx(squib, tmp_path):
    """VIRTIO_RING_F_EVENT_IDX through the real irqfd: no interrupt while
    used_event is far away, one per completion when it asks, and the
    device publishes avail_event once it drained the ring."""
    api = squib.client()
    configure_guest(api, "blk-eventidx", " squibreqs=24")
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 64 << 10), root=True)
    start(api)
    lines = run_guest(squib)
    assert first(lines, "virtio-blk")["event_idx_offered"] == "1"
    ev = first(lines, "blk-eventidx")
    assert ev["negotiated"] == "1"
    assert ev["ok_suppressed"] == ev["reqs"] == "24" and ev["irqs_suppressed"] == "0"
    assert ev["ok_enabled"] == ev["irqs_enabled"] == "24"
    assert ev["avail_event"] == ev["avail_idx"]


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_blk_rw_with_event_idx(squib, tmp_path, engine):
    api = squib.client()
    configure_guest(api, "blk-irq", " squibsector=7 squibeventidx=1")
    disk = make_file(tmp_path, "d.img", 1 << 20)
    put_drive(api, "rootfs", disk, root=True, io_engine=engine, cache_type="Writeback")
    start(api)
    lines = run_guest(squib)
    assert first(lines, "virtio-blk")["event_idx"] == "1"
    assert first(lines, "blk-readback")["match"] == "yes"
    assert first(lines, "blk-flush")["status"] == "0x0"
    irq = first(lines, "blk-irq")
    assert irq["ok"] == irq["reqs"] == "32" and int(irq["irqs"]) >= 32
    with open(disk, "rb") as f:
        f.seek(7 * 512)
        assert f.read(512) == pattern(7)


def test_root_partuuid_read_only(squib, tmp_path):
    api = squib.client()
    args = configure_guest(api, "blk-ro", " squibsector=2")
    disk = make_file(tmp_path, "ro.img", 32 << 10, b"\xa5")
    put_drive(api, "rootfs", disk, root=True, partuuid="0eaa91a0-01", is_read_only=True)
    start(api)
    lines = run_guest(squib)
    assert first(lines, "cmdline")["text"] == \
        args + " pci=off root=PARTUUID=0eaa91a0-01 ro " + mmio_words(1)
    assert first(lines, "virtio-init")["dev_features"] == "0x120000020"
    ro = first(lines, "blk-ro")
    assert ro["ro_feature"] == "1" and ro["write_status"] == "0x1"
    assert ro["ioerr"] == "yes" and ro["unchanged"] == "yes"
    with open(disk, "rb") as f:
        assert f.read() == b"\xa5" * (32 << 10)


def test_non_root_drives_add_no_root_words(squib, tmp_path):
    api = squib.client()
    args = configure_guest(api, "virtio")
    put_drive(api, "a", make_file(tmp_path, "a.img", 4096))
    assert api.put("/entropy", {"rate_limiter": None}).status == 204
    start(api)
    lines = run_guest(squib)
    assert first(lines, "cmdline")["text"] == args + " pci=off " + mmio_words(2)
    assert first(lines, "virtio")["devices"] == "2"


# ---------------------------------------------------------------------------
# The 17-device limit (digest 6.4)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_seventeen_devices_boot(squib, tmp_path):
    api = squib.client()
    configure_guest(api, "virtio")
    disk = make_file(tmp_path, "d.img", 4096)
    for i in range(16):
        put_drive(api, "d%02d" % i, disk, root=(i == 0))
    assert api.put("/entropy", {}).status == 204
    start(api)
    lines = run_guest(squib)
    # The guest prints a cut command line; its length is in the zero page.
    args = boot_args("virtio") + " pci=off root=/dev/vda rw " + mmio_words(17)
    assert args.startswith(first(lines, "cmdline")["text"])
    assert int(first(lines, "zp")["cmdline_size"]) == len(args) + 1
    found = first(lines, "virtio")
    assert found["cmdline"] == found["dsdt"] == "17"
    dsdt = every(lines, "virtio-dsdt-dev")
    assert [(d["name"], d["addr"], d["gsi"]) for d in dsdt] == [
        ("V%03d" % i, "0x%x" % (0xC0001000 + 0x1000 * i), str(5 + i)) for i in range(17)]
    # The guest probes at most 16 windows (its table size): all block.
    devs = every(lines, "virtio-dev")
    assert len(devs) == int(found["devices"]) >= 16
    assert [d["id"] for d in devs[:16]] == ["2"] * 16
    assert all(d["source"] == "both" for d in devs)


ACPI_ERR = "Could not attach device: Error while registering ACPI with KVM: "
MMIO_ERR = "Could not attach device: MMIO transport error: "


@pytest.mark.parametrize("drives,text", [
    # 18 virtio devices: GSIs 5..22, VMGenID takes 23, VMClock finds none.
    (17, ACPI_ERR + "VMClock: Could not allocate GSI: The requested resource is not available."),
    # 19: VMGenID finds none.
    (18, ACPI_ERR + "VMGenID: Could not allocate GSI: The requested resource is not available."),
    # 20 and more: the 20th virtio device itself.
    (19, MMIO_ERR + "Failed to allocate requested resource: The requested resource is not available."),
    (25, MMIO_ERR + "Failed to allocate requested resource: The requested resource is not available."),
])
def test_too_many_devices_refused(squib, tmp_path, drives, text):
    """17 drives + entropy = 18 devices and more: InstanceStart fails with
    upstream's text, nothing is left built, and the VMM stays usable."""
    api = squib.client()
    configure_guest(api, "virtio")
    disk = make_file(tmp_path, "d.img", 4096)
    for i in range(drives):
        put_drive(api, "d%02d" % i, disk)
    assert api.put("/entropy", {}).status == 204
    fds = fd_count(squib.proc.pid)
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 400
    assert r.fault == START_ERR + text
    assert api.get("/").json()["state"] == "Not started"
    assert fd_count(squib.proc.pid) == fds
    # Still configurable and still refusing the same way.
    put_drive(api, "d00", disk, is_read_only=True)
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.fault == START_ERR + text
    assert fd_count(squib.proc.pid) == fds
    assert squib.proc.poll() is None


def kvm_fds(pid):
    """The process's fds on /dev/kvm, a VM and vCPUs."""
    return [t for t in fd_targets(pid) if t == "/dev/kvm" or t.startswith("anon_inode:kvm")]


def test_failed_machine_build_unwinds_devices(squib, tmp_path):
    """A failure after the devices were built (here: a kernel that does not
    load) frees them and the VM; a later InstanceStart builds them again
    and boots. The first failure also uses up the VM shell made at start-up
    (docs/machine.md), whose two fds were there before it, so the count is
    compared between two failures: nothing may pile up."""
    api = squib.client()
    disk = make_file(tmp_path, "d.img", 1 << 20)
    args = configure_guest(api, "blk-rw", " squibsector=5", kernel=disk)
    put_drive(api, "rootfs", disk, root=True, io_engine="Async")
    assert api.put("/entropy", {}).status == 204
    fds = None
    for _ in range(2):
        r = api.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 400 and r.fault.startswith(START_ERR), r.raw
        assert api.get("/").json()["state"] == "Not started"
        assert kvm_fds(squib.proc.pid) == []
        assert fds is None or fd_count(squib.proc.pid) == fds
        fds = fd_count(squib.proc.pid)
    r = api.put("/boot-source", {"kernel_image_path": KERNEL, "boot_args": args})
    assert r.status == 204, r.raw
    start(api)
    lines = run_guest(squib)
    assert first(lines, "blk-readback")["match"] == "yes"
    with open(disk, "rb") as f:
        f.seek(5 * 512)
        assert f.read(512) == pattern(5)


def test_pmem_backing_file_opened_at_start(squib, tmp_path):
    """pmem files are opened at InstanceStart (upstream), so a missing one
    fails the start with upstream's text and nothing is left open."""
    api = squib.client()
    configure_guest(api, "virtio")
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 4096), root=True)
    assert api.put("/entropy", {}).status == 204
    r = api.put("/pmem/pm0", {"id": "pm0", "path_on_host": str(tmp_path / "gone.img")})
    assert r.status == 204, r.raw
    fds = fd_count(squib.proc.pid)
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.fault == START_ERR + "Cannot create pmem device: Error accessing backing " \
        "file: No such file or directory (os error 2)"
    assert api.get("/").json()["state"] == "Not started"
    assert fd_count(squib.proc.pid) == fds
    # An empty file is refused too (upstream's BackingFileZeroSize).
    r = api.put("/pmem/pm0", {"id": "pm0", "path_on_host": make_file(tmp_path, "e.img", 0)})
    assert r.status == 204, r.raw
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.fault == START_ERR + "Cannot create pmem device: Error backing file size is 0"
    assert fd_count(squib.proc.pid) == fds


# ---------------------------------------------------------------------------
# Entropy and rate limiters


def test_rng_bytes_arrive_and_metrics(squib, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    api = squib.client()
    configure_guest(api, "rng", " squibbytes=4096")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 4096), root=True)
    assert api.put("/entropy", {}).status == 204
    start(api)
    lines = run_guest(squib)
    assert first(lines, "virtio-rng")["addr"] == "0xc0002000"
    rng = first(lines, "rng")
    assert rng["bytes"] == "4096" and rng["nonzero"] == "yes"
    data = "".join(d["hex"] for d in every(lines, "rng-data"))
    assert len(data) >= 128 and len(set(data)) > 4
    ms = metrics_lines(metrics)
    m = ms[-1]
    assert metric_total(ms, "entropy", "entropy_bytes") >= 4096
    assert metric_total(ms, "entropy", "entropy_event_count") >= 1
    assert metric_total(ms, "entropy", "entropy_event_fails") == 0
    for k in ("block", "block_rootfs"):
        assert set(m[k]) >= {"read_count", "write_count", "flush_count", "update_count",
                             "rate_limiter_throttled_events", "io_engine_throttled_events"}
    keys = list(m)
    assert keys.index("block_rootfs") < keys.index("block") < keys.index("entropy")


def test_rng_rate_limited_to_bucket(squib):
    size, refill_ms, ms = 8192, 100, 1500
    api = squib.client()
    configure_guest(api, "rng-rate", " squibms=%d squibbytes=1024 squibtimeout=5000" % ms)
    r = api.put("/entropy", {"rate_limiter": {"bandwidth": {"size": size, "refill_time": refill_ms}}})
    assert r.status == 204, r.raw
    start(api)
    lines = run_guest(squib, 60)
    rate = first(lines, "rng-rate")
    secs = int(rate["tsc_ticks"]) / int(rate["tsc_hz"])
    got = int(rate["bytes"])
    # The bucket starts full, then refills size bytes per refill period.
    want = size + size * secs * 1000 / refill_ms
    assert 0.75 * want <= got <= 1.1 * want, (got, want, rate)
    # Per refill period: the ticks' increments never run far past a bucket.
    ticks = [(int(t["bytes"]), int(t["tsc"])) for t in every(lines, "rng-rate-tick")]
    hz = int(rate["tsc_hz"])
    for (b0, t0), (b1, t1) in zip(ticks, ticks[1:]):
        periods = (t1 - t0) / hz * 1000 / refill_ms
        assert b1 - b0 <= size * (periods + 1) + 1024, (b0, b1, periods)


@pytest.mark.parametrize("bucket,low,high", [
    # 5 requests before the batch (one of them 8 sectors), 10 tokens at
    # start, 100 ops/s after: the 60 requests need about 0.55 s.
    ("ops", 0.4, 0.8),
    # 4 KiB at start, 40 KiB/s after; the first read takes the whole
    # bucket, the batch needs 60 * 512 bytes: about 0.75 s.
    ("bandwidth", 0.55, 1.0),
])
def test_blk_rate_limited_to_bucket(squib, tmp_path, bucket, low, high):
    api = squib.client()
    configure_guest(api, "blk-poll", " squibreqs=60 squibtimeout=5000")
    disk = make_file(tmp_path, "d.img", 64 << 10)
    size = 10 if bucket == "ops" else 4096
    put_drive(api, "rootfs", disk, root=True,
              rate_limiter={bucket: {"size": size, "refill_time": 100}})
    start(api)
    lines = run_guest(squib)
    poll = first(lines, "blk-poll")
    assert poll["ok"] == poll["reqs"] == "60"
    secs = int(poll["tsc_ticks"]) / int(first(lines, "tsc")["hz"])
    assert low <= secs <= high, poll


def test_blk_unlimited_is_faster(squib, tmp_path):
    """The limits above are the limiter's doing: without one the same
    batch takes a fraction of the time."""
    api = squib.client()
    configure_guest(api, "blk-poll", " squibreqs=60")
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 64 << 10), root=True)
    start(api)
    lines = run_guest(squib)
    poll = first(lines, "blk-poll")
    assert poll["ok"] == "60"
    assert int(poll["tsc_ticks"]) / int(first(lines, "tsc")["hz"]) < 0.3, poll


# ---------------------------------------------------------------------------
# Hostile drivers


def log_to_file(api, tmp_path):
    """Send squib's log to a file, so that the request lines logged while
    the guest runs do not cut the guest's serial lines."""
    r = api.put("/logger", {"log_path": os.path.join(str(tmp_path), "squib.log")})
    assert r.status == 204, r.raw


def watch_api_while_running(squib, api, timeout=120):
    """GET / keeps answering while the guest runs; returns the exit code and
    how many times it answered."""
    deadline = time.time() + timeout
    answered = 0
    while squib.proc.poll() is None and time.time() < deadline:
        try:
            r = api.get("/")
        except OSError:
            break
        if squib.proc.poll() is None:
            assert r.status == 200
            answered += 1
        time.sleep(0.05)
    return squib.wait(5), answered


@pytest.mark.parametrize("dev", ["blk", "rng"])
def test_hostile_driver(squib, tmp_path, dev):
    api = squib.client()
    log_to_file(api, tmp_path)
    configure_guest(api, "hostile-" + dev)
    disk = make_file(tmp_path, "d.img", 64 << 10, b"\x11")
    put_drive(api, "rootfs", disk, root=True)
    assert api.put("/entropy", {}).status == 204
    start(api)
    code, answered = watch_api_while_running(squib, api)
    assert code == 0, squib.output()[-3000:]
    assert answered >= 1
    lines = guest_lines(squib.output())
    cases = every(lines, "hostile-case")
    assert len(cases) >= 15
    for c in cases:
        assert c["reset_ok"] == "yes" and c["reinit_ok"] == "yes", c
    byname = {c["case"]: c for c in cases}
    assert byname["queue-size-npot"]["setup"] == "refused"
    assert byname["used-outside-ram"]["needs_reset"] == "yes"
    assert byname["head-out-of-range"]["needs_reset"] == "yes"
    assert byname["notify-before-driver-ok"]["early"] == "no"
    if dev == "blk":
        assert byname["addr-outside-ram"]["status"] == "0x1"
        assert byname["wrong-dir-header"]["status"] == "none"
    done = first(lines, "hostile")
    assert done["final"] == "ok" and done["ok"] == done["cases"] == str(len(cases))
    # No hostile request wrote to the disk.
    with open(disk, "rb") as f:
        assert f.read() == b"\x11" * (64 << 10)


@pytest.mark.parametrize("dev", ["blk", "rng"])
def test_avail_index_ahead_keeps_vmm_running(squib, tmp_path, dev):
    api = squib.client()
    log_to_file(api, tmp_path)
    configure_guest(api, "hostile-" + dev, " squibcase=avail-idx-ahead")
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 4096), root=True)
    assert api.put("/entropy", {}).status == 204
    start(api)
    code, _ = watch_api_while_running(squib, api)
    assert code == 0, squib.output()[-3000:]
    lines = guest_lines(squib.output())
    case = first(lines, "hostile-case")
    assert case["case"] == "avail-idx-ahead" and case["needs_reset"] == "yes"
    assert first(lines, "hostile")["final"] == "ok"


# ---------------------------------------------------------------------------
# PATCH /drives after boot (the guest side is in test_linux_virtio.py)


def test_patch_drive_after_boot(squib, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    api = squib.client()
    configure_guest(api, "counter")
    assert api.put("/metrics", {"metrics_path": metrics}).status == 204
    old = make_file(tmp_path, "old.img", 4096)
    new = make_file(tmp_path, "new.img", 8192)
    put_drive(api, "rootfs", old, root=True)
    put_drive(api, "ro", old, is_read_only=True)
    start(api)

    missing = os.path.join(str(tmp_path), "missing.img")
    r = api.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": missing})
    assert r.fault == (
        "Drive config error: Unable to patch the block device: Block: Virtio backend "
        "error: Error manipulating the backing file: No such file or directory "
        "(os error 2) %s Please verify the request arguments." % missing)
    r = api.patch("/drives/nope", {"drive_id": "nope", "path_on_host": new})
    assert r.fault == ("Drive config error: Unable to patch the block device: Failed "
                         "perform action on device: Device not found Please verify the "
                         "request arguments.")
    r = api.patch("/drives/rootfs", {"drive_id": "rootfs"})
    assert r.fault == ("Drive config error: Unable to patch the block device: Block: "
                         "Running method expected different backend. Please verify the "
                         "request arguments.")

    r = api.patch("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": new})
    assert r.status == 204, r.raw
    r = api.patch("/drives/rootfs", {"drive_id": "rootfs", "rate_limiter": {
        "bandwidth": {"size": 1000, "refill_time": 100}, "ops": None}})
    assert r.status == 204, r.raw
    os.chmod(new, 0o444)
    if os.geteuid() != 0:
        # A read-only drive reopens read-only: a file it may not write is fine.
        r = api.patch("/drives/ro", {"drive_id": "ro", "path_on_host": new})
        assert r.status == 204, r.raw
    cfg = api.get("/vm/config").json()
    d = cfg["drives"][0]
    assert d["path_on_host"] == new
    assert d["rate_limiter"] == {"bandwidth": {"size": 1000, "one_time_burst": None,
                                               "refill_time": 100}, "ops": None}

    assert api.put("/actions", {"action_type": "FlushMetrics"}).status == 204
    ms = metrics_lines(metrics)
    assert metric_total(ms, "block_rootfs", "update_count") == 1
    assert metric_total(ms, "block_rootfs", "update_fails") == 1
    assert metric_total(ms, "block", "update_count") == 1
    assert api.get("/").json()["state"] == "Running"


def test_config_file_with_drives_and_entropy(squib_factory, tmp_path):
    """--config-file builds the same devices (upstream applies the file's
    drives and entropy before booting)."""
    disk = make_file(tmp_path, "root.img", 1 << 20)
    data = make_file(tmp_path, "data.img", 8192)
    cfg = {
        "boot-source": {"kernel_image_path": KERNEL,
                        "boot_args": boot_args("blk-rw", " squibsector=4")},
        "drives": [
            {"drive_id": "data", "path_on_host": data, "is_root_device": False},
            {"drive_id": "rootfs", "path_on_host": disk, "is_root_device": True,
             "partuuid": "12345678-02"},
        ],
        "entropy": {"rate_limiter": {"ops": {"size": 100, "refill_time": 1000}}},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
    }
    path = os.path.join(str(tmp_path), "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    squib = squib_factory(["--no-api", "--config-file", path], wait=False)
    lines = run_guest(squib)
    assert first(lines, "cmdline")["text"] == boot_args("blk-rw", " squibsector=4") + \
        " pci=off root=PARTUUID=12345678-02 rw " + mmio_words(3)
    assert [d["id"] for d in every(lines, "virtio-dev")] == ["2", "2", "4"]
    assert first(lines, "virtio-blk")["capacity"] == "2048"
    with open(disk, "rb") as f:
        f.seek(4 * 512)
        assert f.read(512) == pattern(4)


def test_patch_rate_limiter_takes_effect(squib, tmp_path):
    """A guest held to 50 requests per second by its ops bucket speeds up
    once PATCH /drives removes the bucket while it runs."""
    api = squib.client()
    configure_guest(api, "blk-poll", " squibreqs=1500 squibtimeout=5000")
    put_drive(api, "rootfs", make_file(tmp_path, "d.img", 64 << 10), root=True,
              rate_limiter={"ops": {"size": 5, "refill_time": 100}})
    start(api)
    # The guest's boot and its serial lines take about a second under a
    # nested hypervisor: PATCH once the batch is known to have begun (the
    # blk-id line comes right before it) and has been held for a while.
    deadline = time.time() + 30
    while "SQUIB-GUEST blk-id" not in squib.serial() and time.time() < deadline:
        assert squib.proc.poll() is None
        time.sleep(0.02)
    time.sleep(0.5)
    assert squib.proc.poll() is None
    r = api.patch("/drives/rootfs", {"drive_id": "rootfs",
                                     "rate_limiter": {"ops": {"size": 0, "refill_time": 0}}})
    assert r.status == 204, r.raw
    assert api.get("/vm/config").json()["drives"][0]["rate_limiter"] is None
    lines = run_guest(squib, 60)
    poll = first(lines, "blk-poll")
    assert poll["ok"] == poll["reqs"] == "1500"
    secs = int(poll["tsc_ticks"]) / int(first(lines, "tsc")["hz"])
    # Limited all the way it would take 30 s; the batch was held for 0.5 s
    # before the PATCH.
    assert 0.3 <= secs < 10, poll


# ---------------------------------------------------------------------------
# A backing file that cannot take the guest's writes


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs: writes beyond what it holds fail with ENOSPC."""
    import subprocess
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): %s" % r.stdout.decode().strip())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)])


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_full_disk_gives_ioerr_and_squib_keeps_running(squib, tiny_fs, engine):
    api = squib.client()
    # Sector 4096 is 2 MiB into a sparse 4 MiB file on a 64 KiB file system.
    configure_guest(api, "blk-rw", " squibsector=4096")
    disk = os.path.join(str(tiny_fs), "sparse.img")
    with open(disk, "wb") as f:
        f.truncate(4 << 20)
    put_drive(api, "data", disk, io_engine=engine)
    with open(os.path.join(str(tiny_fs), "filler"), "wb") as f:
        try:
            f.write(b"\0" * (64 << 10))  # fill what is left of the file system
        except OSError:
            pass
    start(api)
    lines = run_guest(squib)
    w = first(lines, "blk-write")
    assert w["sector"] == "4096"
    assert w["status"] == "0x1", w  # VIRTIO_BLK_S_IOERR
    # The device and the VMM went on: the guest finished its test and reset.
    assert first(lines, "done") is not None
    assert "Firecracker exiting successfully. exit_code=0" in squib.output()
