"""Real Linux on squib's virtio devices, through the API (minutes on the
nested development machines, so one boot does everything).

The ext4 root file system is the root virtio-blk device (/dev/vda), an ext4
data disk is /dev/vdb, a small scratch file is /dev/vdc, and an entropy
device is attached. The root image's /init (scripts/guest/init,
squib.test=virtio) reads /in.txt from /dev/vdb and writes /out.txt there,
prints 64 bytes from /dev/hwrng, prints the size of /dev/vdc and waits for it
to change: the host then swaps /dev/vdc's backing file with PATCH /drives,
and the guest kernel must see the new capacity (config-change interrupt).
Skipped, with the reason printed, where the guest kernel cannot be obtained
or KVM cannot run it, and in the sanitizer build.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

import linux_guest
from conftest import BUILD


@pytest.fixture
def linux():
    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    if not shutil.which("debugfs") and not os.path.exists("/sbin/debugfs"):
        pytest.skip("debugfs missing (Debian package e2fsprogs)")
    return linux_guest


def wait_line(s, pattern, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = s.output()
        m = re.search(pattern, out)
        if m:
            return m
        if s.proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError("%r not seen within %ss; output tail:\n%s"
                         % (pattern, timeout, s.output()[-3000:]))


def debugfs_cat(image, path):
    tool = shutil.which("debugfs") or "/sbin/debugfs"
    p = subprocess.run([tool, "-R", "cat " + path, image],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return p.stdout.decode(errors="replace")


def test_linux_root_data_entropy_and_resize(squib, linux, tmp_path):
    root = linux.rootfs_copy("ext4", tmp_path)
    data = os.path.join(str(tmp_path), "data.ext4")
    subprocess.run(["cp", "--sparse=always", linux.rootfs("data"), data], check=True)
    small = os.path.join(str(tmp_path), "small.img")
    big = os.path.join(str(tmp_path), "big.img")
    with open(small, "wb") as f:
        f.truncate(1 << 20)
    with open(big, "wb") as f:
        f.truncate(3 << 20)

    api = squib.client()
    r = api.put("/boot-source", {
        "kernel_image_path": linux.kernel_path(),
        "boot_args": linux.cmdline("squib.test=virtio", root="ext4"),
    })
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    for body in (
        {"drive_id": "rootfs", "path_on_host": root, "is_root_device": True,
         "is_read_only": False},
        {"drive_id": "data", "path_on_host": data, "is_root_device": False,
         "is_read_only": False, "cache_type": "Writeback"},
        {"drive_id": "scratch", "path_on_host": small, "is_root_device": False,
         "is_read_only": True, "io_engine": "Async"},
    ):
        r = api.put("/drives/" + body["drive_id"], body)
        assert r.status == 204, r.raw
    assert api.put("/entropy", {}).status == 204

    t0 = time.time()
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r.raw
    wait_line(squib, re.escape(linux.MARKER), 2 * linux.BOOT_TIMEOUT)
    print("linux virtio: /init marker %.0f s after InstanceStart" % (time.time() - t0))
    out = squib.output()
    # The root file system came up from squib's virtio-blk /dev/vda.
    assert re.search(r"virtio_blk virtio0: .*\[vda\]", out), out[-3000:]
    assert "Kernel command line:" in out
    cmd = re.search(r"Kernel command line: (.*)", out).group(1)
    assert "root=/dev/vda rw virtio_mmio.device=4K@0xc0001000:5 " \
           "virtio_mmio.device=4K@0xc0002000:6 virtio_mmio.device=4K@0xc0003000:7 " \
           "virtio_mmio.device=4K@0xc0004000:8" in cmd, cmd

    # blkrw on /dev/vdb: the host's file came in, the guest's went out.
    wait_line(squib, r"SQUIB-BLK-(OK|READ) .*", 300)
    out = wait_line(squib, r"SQUIB-VDC-SIZE (\d+)", 600).string
    assert "SQUIB-BLK-READ SQUIB-DATA-FROM-HOST" in out, out[-3000:]
    assert "SQUIB-BLK-OK vdb-fs" in out, out[-3000:]

    # hwrng: the virtio-rng device is the current source and gave bytes.
    src = re.search(r"SQUIB-HWRNG-SOURCE (\S+)", out)
    assert src and src.group(1).startswith("virtio_rng"), out[-3000:]
    hexbytes = re.search(r"SQUIB-HWRNG ([0-9a-f]*)", out).group(1)
    assert len(hexbytes) == 128 and hexbytes != "0" * 128

    # /dev/vdc: 1 MiB = 2048 sectors; swap it for the 3 MiB file.
    assert re.search(r"SQUIB-VDC-SIZE (\d+)", out).group(1) == "2048"
    r = api.patch("/drives/scratch", {"drive_id": "scratch", "path_on_host": big})
    assert r.status == 204, r.raw
    m = wait_line(squib, r"SQUIB-VDC-RESIZED (\d+)", 300)
    assert m.group(1) == "6144"
    cfg = api.get("/vm/config").json()
    assert [d["path_on_host"] for d in cfg["drives"]] == [root, data, big]

    assert squib.wait(300) == 0
    out = squib.output()
    assert "Firecracker exiting successfully. exit_code=0" in out
    # The guest's file, read back from the data image by the host.
    text = debugfs_cat(data, "/out.txt")
    assert text.startswith("written by the guest at uptime "), text
