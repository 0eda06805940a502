"""The Uffd memory backend of PUT /snapshot/load (digest 7.3) and
squib-uffd-handler (docs/snapshot.md, docs/tools.md).

Without KVM: squib-uffd-handler's command line; the load's socket errors
with upstream's texts, each followed by exit 1; the exact handshake a
handler receives (read here by a handler written in Python, as any
third-party handler would); the handshake reaching squib-uffd-handler.
These use a real state file of the counter guest (the fuzz corpus seed):
restoring it stops at the KVM step on a machine without KVM, after the
handshake.

With KVM (skipped without): the counter guest snapshotted, its squib
killed, restored through squib-uffd-handler, counts on; ten restores of
one snapshot at once, one handler each; a handler that hangs up after the
handshake leaves the guest frozen, never running on zero pages.
"""
import array
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, ROOT
from test_boot_guest import counter_values, kvm_skip_reason, wait_for

HANDLER = os.path.join(BUILD, "squib-uffd-handler")
COUNTER_STATE = os.path.join(ROOT, "tests", "fuzz", "corpus", "snapshot_state",
                             "counter_guest")
COUNTER_MIB = 128  # the corpus state's mem_size_mib
UFFD_ERR = ("Load snapshot error: Failed to restore from snapshot: Failed to load "
            "guest memory: Error creating guest memory from uffd: ")
needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))


class Handler:
    """squib-uffd-handler serving `memf` on `<dir>/<name>.sock`."""

    def __init__(self, directory, memf, name="h"):
        self.sock = os.path.join(str(directory), name + ".sock")
        self.log_path = os.path.join(str(directory), name + ".log")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([HANDLER, self.sock, memf],
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, self.output()
            assert time.time() < deadline, "the handler made no socket"
            time.sleep(0.01)

    def output(self):
        with open(self.log_path) as f:
            return f.read()

    def wait(self, timeout=10):
        return self.proc.wait(timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def handlers():
    made = []
    yield made
    for h in made:
        h.stop()


def uffd_load(s, state, sock, resume=True, timeout=10.0):
    c = s.client()
    body = json.dumps({"snapshot_path": state, "resume_vm": resume,
                       "mem_backend": {"backend_type": "Uffd", "backend_path": sock}})
    c.send_raw(("PUT /snapshot/load HTTP/1.1\r\nContent-Type: application/json\r\n"
                "Content-Length: %d\r\n\r\n%s" % (len(body), body)).encode())
    return c.recv(timeout)


def sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)
    return str(path)


# ---- squib-uffd-handler's command line --------------------------------------

def test_handler_help_and_version():
    p = subprocess.run([HANDLER, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    assert p.stdout.startswith("Usage: squib-uffd-handler [--no-kill-peer] SOCKET MEMORY_FILE\n")
    for opt in ("--no-kill-peer", "--help", "--version"):
        assert "\n  " + opt + " " in p.stdout
    p = subprocess.run([HANDLER, "--version"], capture_output=True, text=True)
    assert p.returncode == 0
    assert p.stdout.startswith("squib-uffd-handler v1.17.0-dev")


@pytest.mark.parametrize("args,text", [
    ([], "SOCKET and MEMORY_FILE are required"),
    (["a"], "SOCKET and MEMORY_FILE are required"),
    (["a", "b", "c"], "too many arguments"),
    (["--bogus", "a", "b"], "unknown option"),
])
def test_handler_usage_errors(args, text):
    p = subprocess.run([HANDLER] + args, capture_output=True, text=True)
    assert p.returncode == 2
    assert text in p.stderr


def test_handler_setup_errors(tmp_path):
    memf = sparse_file(tmp_path / "m", 1 << 20)
    p = subprocess.run([HANDLER, str(tmp_path / "s"), str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert p.returncode == 1
    assert "Cannot open the memory file %s: No such file or directory" % (tmp_path / "nope") in p.stderr
    # An existing path is never replaced (upstream's handlers fail to bind too).
    p = subprocess.run([HANDLER, memf, memf], capture_output=True, text=True)
    assert p.returncode == 1
    assert "Cannot bind to socket path %s: Address already in use" % memf in p.stderr
    assert os.path.getsize(memf) == 1 << 20


# ---- load errors (no KVM needed) ------------------------------------------

def expect_fatal_uffd_load(s, sock, detail):
    r = uffd_load(s, COUNTER_STATE, sock)
    assert r.status == 400, r.raw
    assert r.fault == UFFD_ERR + detail
    assert s.proc.wait(10) == 1, s.output()[-3000:]
    assert "Loading snapshot failed." in s.output()


def test_uffd_socket_missing(squib_factory, tmp_path):
    expect_fatal_uffd_load(squib_factory([]), str(tmp_path / "inexistent"),
                           "Failed to connect to UDS Unix stream: No such file or "
                           "directory (os error 2)")


def test_uffd_socket_not_listening(squib_factory, tmp_path):
    # upstream's test_unbinded_socket: a plain file at the path.
    path = tmp_path / "firecracker-uffd.sock"
    path.write_bytes(b"")
    expect_fatal_uffd_load(squib_factory([]), str(path),
                           "Failed to connect to UDS Unix stream: Connection "
                           "refused (os error 111)")


def test_uffd_socket_path_too_long(squib_factory, tmp_path):
    expect_fatal_uffd_load(squib_factory([]), "/" + "a" * 120,
                           "Failed to connect to UDS Unix stream: path must be "
                           "shorter than SUN_LEN")


# ---- the handshake (no KVM needed; on KVM the load may then hang) ----------

def handshake_then_hang_up(s, state, path, resume=True):
    """A handler written in Python, as a third party's would be: it takes
    squib's handshake on `path` (message, fds, the peer's pid), closes
    everything and returns what it got. The load is sent meanwhile; on KVM
    it may never be answered (the restore waits on memory nobody serves)."""
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(1)
    got = {}

    def serve():
        conn, _ = lsock.accept()
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        got["pid"] = array.array("i", creds)[0]
        msg, fds, _, _ = socket.recv_fds(conn, 65536, 4)
        got["msg"] = msg
        got["fd_kind"] = [os.readlink("/proc/self/fd/%d" % fd) for fd in fds]
        for fd in fds:
            os.close(fd)
        conn.close()

    t = threading.Thread(target=serve)
    t.start()
    try:
        uffd_load(s, state, path, resume=resume, timeout=5)
    except Exception:
        pass
    t.join(10)
    lsock.close()
    return got


def test_handshake_message_as_a_third_party_handler_sees_it(squib_factory, tmp_path):
    s = squib_factory([])
    got = handshake_then_hang_up(s, COUNTER_STATE, str(tmp_path / "py.sock"),
                                 resume=False)
    s.stop()
    assert got["pid"] == s.proc.pid
    assert got["fd_kind"] == ["anon_inode:[userfaultfd]"]
    text = got["msg"].decode()
    regions = json.loads(text)
    assert len(regions) == 1
    r = regions[0]
    assert list(r) == ["base_host_virt_addr", "size", "offset", "page_size",
                       "page_size_kib"]
    assert r["size"] == COUNTER_MIB << 20 and r["offset"] == 0
    assert r["page_size"] == 4096 and r["page_size_kib"] == 4096
    assert r["base_host_virt_addr"] % (2 << 20) == 0
    assert text == json.dumps(regions, separators=(",", ":"))


def test_handshake_reaches_squib_uffd_handler(squib_factory, tmp_path, handlers):
    h = Handler(tmp_path, sparse_file(tmp_path / "vm.mem", COUNTER_MIB << 20))
    handlers.append(h)
    s = squib_factory([])
    r = uffd_load(s, COUNTER_STATE, h.sock, resume=False)
    if kvm_skip_reason() is not None:
        assert r.status == 400, r.raw  # stopped at the KVM step, after the handshake
        assert s.proc.wait(10) == 1
    s.stop()
    # The handler got squib's regions, then its hang-up, and ends well.
    assert h.wait() == 0, h.output()
    out = h.output()
    assert "VMM pid %d sent 1 region(s), page size 4096" % s.proc.pid in out, out
    assert "the VMM hung up" in out


# ---- with KVM -------------------------------------------------------------

def snapshot_counter(squib_factory, tmp_path):
    from test_snapshot import snapshot_counter_guest
    first = squib_factory([])
    state, memf, frozen = snapshot_counter_guest(first, tmp_path)
    assert frozen, "the guest printed no counter line before the pause"
    first.stop()
    return state, memf, frozen


def wait_counting(s, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline and not counter_values(s):
        time.sleep(0.05)
    return counter_values(s)


@needs_kvm
def test_uffd_restore_goes_on_counting(squib_factory, tmp_path, handlers):
    state, memf, frozen = snapshot_counter(squib_factory, tmp_path)
    h = Handler(tmp_path, memf)
    handlers.append(h)
    s = squib_factory([])
    r = uffd_load(s, state, h.sock)
    assert r.status == 204, r.raw + s.output().encode()
    after = wait_counting(s)
    assert after, "the restored guest printed nothing:\n" + s.output()[-3000:]
    assert after[0] >= frozen[-1], (frozen[-1], after[:3])
    assert after[0] - frozen[-1] < 64 * 1048576, "counted far beyond the snapshot"
    assert after == sorted(after)
    api = s.client()
    assert api.get("/").json()["state"] == "Running"
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    s.stop()
    assert h.wait() == 0, h.output()
    assert "faults" in h.output()


@needs_kvm
def test_uffd_ten_restores_at_once(squib_factory, tmp_path, handlers):
    state, memf, frozen = snapshot_counter(squib_factory, tmp_path)
    clones = []
    for i in range(10):
        h = Handler(tmp_path, memf, "h%d" % i)
        handlers.append(h)
        clones.append((squib_factory([]), h))
    for s, h in clones:
        r = uffd_load(s, state, h.sock)
        assert r.status == 204, r.raw + s.output().encode()
    deadline = time.time() + 60
    while time.time() < deadline and not all(counter_values(s) for s, _ in clones):
        time.sleep(0.1)
    for s, h in clones:
        values = counter_values(s)
        assert values, s.output()[-2000:] + h.output()
        assert values[0] >= frozen[-1]
    for s, h in clones:
        s.stop()
        assert h.wait() == 0, h.output()


@needs_kvm
def test_uffd_handler_hangs_up_after_the_handshake(squib_factory, tmp_path):
    """upstream's malicious handler: nobody serves the faults, so the guest
    freezes (squib keeps its own copy of the uffd) instead of running on
    zero pages; the process stays alive until it is killed."""
    state, _, frozen = snapshot_counter(squib_factory, tmp_path)
    s = squib_factory([])
    got = handshake_then_hang_up(s, state, str(tmp_path / "gone.sock"))
    assert got["fd_kind"] == ["anon_inode:[userfaultfd]"]
    time.sleep(3)
    assert s.proc.poll() is None, s.output()[-3000:]
    assert counter_values(s) == [], "the guest ran without its memory"
    s.stop()
