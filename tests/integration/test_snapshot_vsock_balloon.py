"""Snapshots of a real Linux guest with a vsock and a balloon device
(docs/snapshot.md, "Vsock" and "Balloon"), on KVM; skipped, with the
reason, without KVM, in the sanitizer builds and where the guest kernel
cannot be obtained (linux_guest.skip_reason).

One boot serves both devices (real-Linux boots take minutes on nested
hosts). The root image's /init runs squib.test=vsock (scripts/guest/init):
/bin/vsock_echo listens on AF_VSOCK port GUEST_PORT and echoes CONNS
host-initiated connections one after the other, printing
SQUIB-VSOCK-ECHO with the byte count when each one ends. The guest's own
virtio_balloon driver answers the balloon.

  1. A host connection is opened and echoed, and left open. The balloon is
     inflated to BALLOON_MIB and its statistics arrive.
  2. The VM is paused and snapshotted; its squib is killed.
  3. A new squib, with a metrics file, loads the snapshot with
     vsock_override to a new socket path and resumes.
  4. vsock: the guest got the TRANSPORT_RESET squib put in its event queue
     when the snapshot was taken: the open connection ends in the guest
     (its ECHO line with the bytes echoed before the snapshot). Nothing
     listens at the old path.
  5. balloon: GET /balloon and GET /balloon/statistics answer as before;
     the statistics timer runs again (stats_updates_count grows); a
     deflate after the restore reaches the guest (actual_mib back to 0).
  6. A new host connection through the new path is echoed (last: the
     guest's init ends, and its VM with it, once that one closes).
"""
import os
import re
import socket
import time

import pytest

import linux_guest
from conftest import BUILD, Squib, SQUIB
from test_boot_guest import kvm_skip_reason
from test_linux_virtio import wait_line
from test_virtio_guest import metric_total, metrics_lines
from test_vsock_guest import Listener, echo_through, host_connect

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

GUEST_PORT = 52
HOST_PORT = 1024
CONNS = 2
BALLOON_MIB = 32
BEFORE = b"before the snapshot " * 200  # 4000 bytes


@pytest.fixture
def linux():
    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    return linux_guest


def wait_stats(api, pred, timeout=120):
    deadline = time.time() + timeout
    while True:
        st = api.get("/balloon/statistics").json()
        if pred(st) or time.time() > deadline:
            return st
        time.sleep(0.5)


def boot(linux, tmp_path, uds):
    root = linux.rootfs_copy("ext4", tmp_path)
    squib = Squib(tmp_path, binary=SQUIB)
    api = squib.client()
    extra = ("squib.test=vsock squib.vsock_port=%d squib.vsock_host=%d "
             "squib.vsock_bytes=4096 squib.vsock_conns=%d" % (GUEST_PORT, HOST_PORT, CONNS))
    r = api.put("/boot-source", {"kernel_image_path": linux.kernel_path(),
                                 "boot_args": linux.cmdline(extra, root="ext4")})
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    r = api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": root,
                                   "is_root_device": True, "is_read_only": False})
    assert r.status == 204, r.raw
    r = api.put("/vsock", {"guest_cid": 3, "uds_path": uds})
    assert r.status == 204, r.raw
    r = api.put("/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                             "stats_polling_interval_s": 1})
    assert r.status == 204, r.raw
    assert api.put("/actions", {"action_type": "InstanceStart"}).status == 204
    return squib, api


def test_linux_snapshot_vsock_and_balloon(linux, tmp_path):
    uds = os.path.join(str(tmp_path), "v.sock")
    uds2 = os.path.join(str(tmp_path), "v2.sock")
    lst = Listener(uds, HOST_PORT)
    first = second = None
    try:
        first, api = boot(linux, tmp_path, uds)
        wait_line(first, r"SQUIB-VSOCK-LISTENING port=%d\r?\n" % GUEST_PORT,
                  2 * linux.BOOT_TIMEOUT + 300)
        # 1. An open, working connection; an inflated balloon.
        conn, _ = host_connect(uds, GUEST_PORT, timeout=120)
        assert echo_through(conn, BEFORE, 1000) == BEFORE
        r = api.patch("/balloon", {"amount_mib": BALLOON_MIB})
        assert r.status == 204, r.raw
        st = wait_stats(api, lambda s: s.get("actual_mib") == BALLOON_MIB
                        and "free_memory" in s)
        assert st["actual_mib"] == BALLOON_MIB and "free_memory" in st, st
        cfg_before = api.get("/balloon").json()

        # 2. Paused, saved, killed.
        assert api.patch("/vm", {"state": "Paused"}).status == 204
        state = str(tmp_path / "vm.state")
        memf = str(tmp_path / "vm.mem")
        r = api.put("/snapshot/create", {"snapshot_path": state, "mem_file_path": memf})
        assert r.status == 204, r.raw
        stats_before = api.get("/balloon/statistics").json()
        first.stop()

        # 3. A new process, another socket path.
        second = Squib(tmp_path, binary=SQUIB)
        api2 = second.client()
        metrics = str(tmp_path / "metrics.json")
        assert api2.put("/metrics", {"metrics_path": metrics}).status == 204
        r = api2.put("/snapshot/load", {
            "snapshot_path": state,
            "mem_backend": {"backend_type": "File", "backend_path": memf},
            "vsock_override": {"uds_path": uds2},
            "resume_vm": True})
        assert r.status == 204, r.raw + second.output().encode()
        assert os.path.exists(uds2)

        # 4. vsock: the old connection was reset in the guest, a new one
        # works through the new path only.
        conn.settimeout(30)
        try:
            leftover = conn.recv(1)
        except OSError:
            leftover = b""
        assert leftover == b"", "the old host connection carried data after the restore"
        conn.close()
        m = wait_line(second, r"SQUIB-VSOCK-ECHO port=%d bytes=(\d+) " % GUEST_PORT, 120)
        assert int(m.group(1)) == len(BEFORE), m.group(0)
        with pytest.raises(OSError):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(uds)
            finally:
                s.close()

        # 5. balloon: as before, and alive (while the guest still waits for
        # the second connection: its init ends after that one).
        assert api2.get("/balloon").json() == cfg_before
        st = api2.get("/balloon/statistics").json()
        assert st["target_mib"] == BALLOON_MIB and st["actual_mib"] == BALLOON_MIB, st
        assert sorted(st) == sorted(stats_before), (st, stats_before)
        time.sleep(3.5)
        assert api2.put("/actions", {"action_type": "FlushMetrics"}).status == 204
        assert metric_total(metrics_lines(metrics), "balloon", "stats_updates_count") >= 2
        r = api2.patch("/balloon", {"amount_mib": 0})
        assert r.status == 204, r.raw
        st = wait_stats(api2, lambda s: s.get("actual_mib") == 0)
        assert st["actual_mib"] == 0 and st["target_mib"] == 0, st

        # 6. vsock: a new host connection through the new path is echoed.
        data = os.urandom(64 << 10)
        s, hport = host_connect(uds2, GUEST_PORT, timeout=120)
        assert hport >= 1 << 30
        assert echo_through(s, data, 65536) == data
        s.shutdown(socket.SHUT_WR)
        s.settimeout(60)
        assert s.recv(1) == b""
        s.close()
        out = second.output()
        ends = re.findall(r"SQUIB-VSOCK-ECHO port=%d bytes=(\d+) " % GUEST_PORT, out)
        deadline = time.time() + 60
        while len(ends) < 2 and time.time() < deadline:
            time.sleep(0.5)
            ends = re.findall(r"SQUIB-VSOCK-ECHO port=%d bytes=(\d+) " % GUEST_PORT,
                              second.output())
        assert ends == [str(len(BEFORE)), str(len(data))], ends
    finally:
        lst.close()
        for s in (first, second):
            if s:
                s.stop()
