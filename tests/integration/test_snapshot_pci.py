"""Snapshots of PCI-mode VMs (--enable-pci) on KVM (docs/snapshot.md,
"PCI"): the test guest (squibtest=pci-loop, tests/guest/pci.c) reads
entropy from virtio-rng over virtio-pci, each request waited for with the
queue's MSI-X interrupt, beside a virtio-blk function; it is paused in the
middle of that work, snapshotted, its squib killed, and a new process
restores it: the loop goes on from where it was, every request answered
with its interrupt (KVM's GSI routes and irqfds set up again for the
vectors the guest had unmasked, the notification ioeventfds registered
again at the same BAR), and the restored VM is snapshotted and restored
once more. Real Linux does the same with block I/O and /dev/hwrng
over MSI-X (normal build only, minutes).

The snapshot decides the transport, as upstream's: the restoring process
needs no --enable-pci, and one given --enable-pci restores a virtio-mmio
snapshot on virtio-mmio. Without /dev/kvm these skip (conftest.py).
"""
import os
import re
import time

import pytest

from test_boot_guest import GUEST_DIR, kvm_skip_reason, start, wait_for
from test_snapshot import create, load

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

KERNEL = os.path.join(GUEST_DIR, "guest-linux.elf")
TICK = re.compile(r"^SQUIB-GUEST pci loop-tick requests=(\d+) irqs=(\d+) "
                  r"timeouts=(\d+)\r?\n", re.M)
DONE = r"SQUIB-GUEST pci loop-done requests=\d+ irqs=\d+ timeouts=\d+\r?\n"


def ticks(squib):
    return [tuple(int(x) for x in m) for m in TICK.findall(squib.output())]


def boot_loop(squib_factory, tmp_path, n):
    """A PCI-mode VM with a data drive (slot 1) and entropy (slot 2)
    running pci-loop; returns its squib once a few ticks were printed."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    squib = squib_factory(["--enable-pci"])
    api = squib.client()
    r = api.put("/boot-source", {"kernel_image_path": KERNEL,
                                 "boot_args": "reboot=k panic=1 "
                                              "squibtest=pci-loop squibn=%d" % n})
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1,
                                       "mem_size_mib": 128}).status == 204
    r = api.put("/drives/data", {"drive_id": "data", "path_on_host": str(disk),
                                 "is_root_device": False})
    assert r.status == 204, r.raw
    assert api.put("/entropy", {}).status == 204
    start(api)
    deadline = time.time() + 60
    while time.time() < deadline and len(ticks(squib)) < 3:
        time.sleep(0.05)
    assert len(ticks(squib)) >= 3, squib.output()[-3000:]
    return squib


def pause_and_snapshot(squib, tmp_path, name):
    api = squib.client()
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)  # let a line in flight land
    before = ticks(squib)
    assert "pci loop-done" not in squib.output(), "the loop ended too soon"
    return before, create(api, tmp_path, name)


def restore(squib_factory, old, files, args, console=False):
    old.stop()
    new = squib_factory(args, console=console)
    r = load(new, *files)
    assert r.status == 204, r.raw + new.output().encode()
    return new


@pytest.mark.parametrize("args", [[], ["--enable-pci"]],
                         ids=["plain", "enable-pci"])
def test_restore_pci_vm_mid_work(squib_factory, tmp_path, args):
    first = boot_loop(squib_factory, tmp_path, 400000)
    before, files = pause_and_snapshot(first, tmp_path, "vm")
    second = restore(squib_factory, first, files, args)
    cfg = second.client().get("/vm/config").json()
    assert [d["drive_id"] for d in cfg["drives"]] == ["data"]
    assert cfg["entropy"] is not None
    # The loop goes on from the snapshot, over MSI-X.
    deadline = time.time() + 60
    while time.time() < deadline and len(ticks(second)) < 3:
        time.sleep(0.05)
    after = ticks(second)
    assert after and after[0][0] > before[-1][0], (before[-3:], after[:3])
    assert all(t[2] == 0 for t in after), after[-3:]
    # The restored VM snapshotted and restored again.
    before2, files2 = pause_and_snapshot(second, tmp_path, "vm2")
    assert before2[-1][0] > after[0][0]
    third = restore(squib_factory, second, files2, [])
    out = wait_for(third, DONE, timeout=240)
    done = re.search(r"pci loop-done requests=(\d+) irqs=(\d+) timeouts=(\d+)",
                     out).groups()
    requests, irqs, timeouts = (int(x) for x in done)
    assert requests == 400000 and timeouts == 0, done
    assert irqs >= requests, done


def test_restore_after_pmem_unplug_and_plug(squib_factory, tmp_path):
    """Pmem windows after a hot-unplug and a hot-plug are not where attach
    order puts them: pm0 (4 MiB window) goes, pm2 (2 MiB) takes its hole
    below pm1's window. The restore takes each saved window (docs/snapshot.md,
    Pmem) and the VM goes on; a pmem plugged after it fits beside pm2."""
    first = boot_loop(squib_factory, tmp_path, 400000)
    api = first.client()
    for name, size in (("pm0", 3 << 20), ("pm1", 64 << 10), ("pm2", 64 << 10),
                       ("pm3", 64 << 10)):
        (tmp_path / (name + ".img")).write_bytes(b"\0" * size)

    def plug(a, name):
        r = a.put("/pmem/" + name, {"id": name, "path_on_host":
                                    str(tmp_path / (name + ".img"))})
        assert r.status == 204, r.raw

    plug(api, "pm0")
    plug(api, "pm1")
    r = api.request("DELETE", "/pmem/pm0")
    assert r.status == 204, r.raw
    plug(api, "pm2")
    before, files = pause_and_snapshot(first, tmp_path, "vm")
    second = restore(squib_factory, first, files, [])
    api2 = second.client()
    cfg = api2.get("/vm/config").json()
    assert [p["id"] for p in cfg["pmem"]] == ["pm1", "pm2"]
    deadline = time.time() + 60
    while time.time() < deadline and len(ticks(second)) < 3:
        time.sleep(0.05)
    after = ticks(second)
    assert after and after[0][0] > before[-1][0], (before[-3:], after[:3])
    plug(api2, "pm3")


def test_enable_pci_restores_an_mmio_snapshot_on_mmio(squib_factory, tmp_path):
    """A virtio-mmio snapshot loaded by a process started with
    --enable-pci stays on virtio-mmio; hot-plug then says PCI is not
    enabled, as upstream's (its VirtioDevicesState decides)."""
    first = squib_factory([])
    api = first.client()
    r = api.put("/boot-source", {"kernel_image_path": KERNEL,
                                 "boot_args": "console=ttyS0 reboot=k panic=1 "
                                              "squibtest=counter "
                                              "squibevery=1048576"})
    assert r.status == 204, r.raw
    start(api)
    wait_for(first, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    files = create(api, tmp_path, "mmio")
    second = restore(squib_factory, first, files, ["--enable-pci"])
    disk = tmp_path / "hot.img"
    disk.write_bytes(b"\0" * 4096)
    r = second.client().put("/drives/hot", {"drive_id": "hot",
                                            "path_on_host": str(disk),
                                            "is_root_device": False})
    assert r.status == 400 and r.fault == "PCI is not enabled", r.raw


def test_linux_on_pci_restored_mid_io(squib_factory, tmp_path):
    """Real Linux on virtio-pci (minutes; normal build only): its init
    (squib.test=ioloop) writes entropy from /dev/hwrng to the ext4 data
    disk, syncs, drops the page cache and reads it back, round after
    round; paused and snapshotted in the middle, restored in a new
    process, it goes on with the next round, each read back intact, and
    runs a command typed on its serial console, its clock sane. Linux
    waits for each block and entropy completion on its MSI-X vector (squib
    offers no INTx), so the restored routes and irqfds carry them."""
    import subprocess

    import linux_guest
    from conftest import BUILD
    from test_linux_virtio import wait_line

    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    root = linux_guest.rootfs_copy("ext4", tmp_path)
    data = str(tmp_path / "data.ext4")
    subprocess.run(["cp", "--sparse=always", linux_guest.rootfs("data"), data], check=True)
    first = squib_factory(["--enable-pci"])
    api = first.client()
    r = api.put("/boot-source", {
        "kernel_image_path": linux_guest.kernel_path(),
        "boot_args": linux_guest.cmdline("squib.test=ioloop squib.loops=300 squib.console=1",
                                         root="ext4"),
    })
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    for body in ({"drive_id": "rootfs", "path_on_host": root, "is_root_device": True},
                 {"drive_id": "data", "path_on_host": data, "is_root_device": False}):
        r = api.put("/drives/" + body["drive_id"], body)
        assert r.status == 204, r.raw
    assert api.put("/entropy", {}).status == 204
    start(api)
    wait_line(first, r"SQUIB-IOLOOP i=5 bad=0", 2 * linux_guest.BOOT_TIMEOUT)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)
    before = [int(i) for i in re.findall(r"SQUIB-IOLOOP i=(\d+) ", first.output())]
    assert "SQUIB-IOLOOP-DONE" not in first.output(), "the loop ended too soon"
    files = create(api, tmp_path, "linux")
    last_up = float(re.findall(r"SQUIB-IOLOOP i=\d+ bad=\d+ up=([\d.]+)\r?\n",
                               first.output())[-1])
    second = restore(squib_factory, first, files, [], console=True)
    # A command typed on the restored guest's serial console runs; the
    # guest's clock went on from where it stopped: its uptime is past the
    # one printed last before the snapshot, and by less than two minutes.
    second.type("SQUIB-CMD echo SQUIB-CLOCK $(read -r U I < /proc/uptime; echo $U)\n")
    up = float(wait_line(second, r"SQUIB-CONSOLE-RAN SQUIB-CLOCK ([\d.]+)", 120).group(1))
    assert last_up < up < last_up + 120, (last_up, up)
    # Five more rounds after the restore, not the whole loop: a round takes
    # 5 to 15 s on nested hosts, and the 300 only keep the loop from ending
    # before the pause on fast ones.
    goal = before[-1] + 5
    m = wait_line(second, r"SQUIB-IOLOOP i=%d bad=(\d+)" % goal, 600)
    assert m.group(1) == "0", second.output()[-3000:]
    after = [int(i) for i in re.findall(r"SQUIB-IOLOOP i=(\d+) ", second.output())]
    assert after[0] == before[-1] + 1, (before[-3:], after[:3])
    assert after == list(range(after[0], goal + 1)), after
