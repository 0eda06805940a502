"""virtio-vsock end to end: PUT /vsock, the device built at InstanceStart,
driven by the project's test guest (tests/guest/vsock.c, "virtio-vsock
tests" in its README) on real KVM, with the host side on real Unix sockets
the way Firecracker's hybrid vsock has it: host-initiated connections
through uds_path and "CONNECT <port>\\n", guest-initiated ones to a
listener at "<uds_path>_<port>".

The first tests need no KVM: the socket PUT /vsock binds, a client that
connects before boot (the kernel accepts it, squib does not serve it yet),
and a second PUT /vsock that removes the first path (upstream's
VsockBuilder::insert). What the guest checks over the rings is what
tests/unit/test_vsockproto.c checks in-process through the same device
(the same client code); here KVM, the loop and the metrics are added.
"""
import os
import socket
import threading

import pytest

from conftest import rss_kib
from test_boot_guest import first, guest_lines, kvm_skip_reason, start, wait_for
from test_virtio_guest import (configure_guest, log_to_file, metric_total, metrics_lines,
                               run_guest, watch_api_while_running)

needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))

CID = 3
GUEST_PORT = 52
HOST_PORT = 1024
HOSTILE_PORT = 1234
MASK64 = (1 << 64) - 1


def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & MASK64
    return h


def vp_pattern(seed, n, start=0):
    """vsockproto.h's vp_pattern() for offsets [start, start + n)."""
    out = bytearray(n)
    for i in range(n):
        off = start + i
        x = (off * 0x9e3779b97f4a7c15 + seed) & MASK64
        out[i] = ((x >> 29) ^ (x >> 47) ^ off) & 0xff
    return bytes(out)


def put_vsock(api, path, cid=CID):
    r = api.put("/vsock", {"guest_cid": cid, "uds_path": path})
    assert r.status == 204, r.raw


def put_metrics(api, tmp_path):
    path = os.path.join(str(tmp_path), "metrics.json")
    assert api.put("/metrics", {"metrics_path": path}).status == 204
    return path


def connect_uds(path, timeout=5.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def host_connect(path, port, timeout=10.0):
    """CONNECT to guest port; returns (socket, host-side port)."""
    s = connect_uds(path, timeout)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        assert b, "closed before OK: %r" % line
        line += b
    assert line.startswith(b"OK "), line
    return s, int(line[3:-1])


def echo_through(s, data, chunk):
    """Send data in chunks while reading the echo; returns what came back."""
    got = bytearray()
    err = []

    def reader():
        try:
            while len(got) < len(data):
                b = s.recv(65536)
                if not b:
                    break
                got.extend(b)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    for i in range(0, len(data), chunk):
        s.sendall(data[i:i + chunk])
    t.join(60)
    assert not err, err
    return bytes(got)


class Listener:
    """A host listener at <uds_path>_<port>: accepts connections and either
    reads everything from each (keeping the bytes) or holds them unread."""

    def __init__(self, uds_path, port, read=True):
        self.path = "%s_%d" % (uds_path, port)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.read = read
        self.received = []  # bytes per closed connection
        self.held = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if not self.read:
                self.held.append(c)
                continue
            data = bytearray()
            c.settimeout(30)
            try:
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    data.extend(b)
            except OSError:
                pass
            c.close()
            self.received.append(bytes(data))

    def close(self):
        self.stop = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()


# ---------------------------------------------------------------------------
# Without KVM


def test_uds_before_boot(squib, tmp_path):
    """PUT /vsock binds and listens at once; a client connecting before the
    guest runs is queued by the kernel but gets nothing (the device is not
    active, so squib does not accept), and squib keeps serving the API."""
    api = squib.client()
    path = str(tmp_path / "v.sock")
    put_vsock(api, path)
    assert os.path.exists(path)
    c = connect_uds(path, timeout=0.5)
    c.sendall(b"CONNECT 52\n")
    with pytest.raises(socket.timeout):
        c.recv(16)
    for _ in range(3):
        r = api.get("/")
        assert r.status == 200 and r.json()["state"] == "Not started"
    assert api.get("/vm/config").json()["vsock"] == {"guest_cid": CID, "uds_path": path}
    c.close()
    # A second client after the first went away: the same.
    c = connect_uds(path, timeout=0.3)
    with pytest.raises(socket.timeout):
        c.recv(16)
    c.close()
    assert api.get("/").status == 200


def test_reput_unlinks_old_path(squib, tmp_path):
    """Upstream's VsockBuilder::insert: a second PUT /vsock removes the
    first device's socket file before binding the new one; the same path
    twice works; and when the old file is already gone, the unlink fails,
    the PUT fails, and the old device is dropped all the same."""
    api = squib.client()
    a, b = str(tmp_path / "a.sock"), str(tmp_path / "b.sock")
    put_vsock(api, a)
    early = connect_uds(a, timeout=0.5)
    put_vsock(api, b, cid=4)
    assert not os.path.exists(a) and os.path.exists(b)
    assert api.get("/vm/config").json()["vsock"] == {"guest_cid": 4, "uds_path": b}
    # The old listening socket is closed: its queued client is dropped.
    try:
        assert early.recv(16) == b""
    except ConnectionResetError:
        pass
    early.close()
    with pytest.raises(OSError):
        connect_uds(a, timeout=0.5)
    put_vsock(api, b, cid=5)
    assert os.path.exists(b)
    connect_uds(b, timeout=0.5).close()
    os.unlink(b)
    r = api.put("/vsock", {"guest_cid": 6, "uds_path": b})
    assert r.status == 400, r.raw
    assert r.fault.startswith("Vsock config error: Cannot create backend for vsock device: "
                              "Error binding to the host-side Unix socket: "), r.fault
    assert "os error 2" in r.fault, r.fault
    assert api.get("/vm/config").json()["vsock"] is None
    assert api.get("/").status == 200


# ---------------------------------------------------------------------------
# On KVM


@needs_kvm
def test_vsock_echo(squib, tmp_path):
    """Guest-initiated: 192 KiB of the pattern to a host listener (three
    times squib's 64 KiB credit, so the guest waits for credit updates),
    checked. Host-initiated: two connections through uds_path echoed by the
    guest, 160 KiB in 64 KiB writes and 16 KiB in 100-byte writes, every
    byte compared and the guest's FNV-1a matching the host's. The sizes are
    small because the test guest's ring-0 code runs at some microseconds
    per byte on the nested development machines (tests/guest/README.md);
    tests/unit/test_vsockproto.c moves megabytes through the same device
    in-process, and the Linux test tens of MiB."""
    api = squib.client()
    log_to_file(api, tmp_path)
    metrics = put_metrics(api, tmp_path)
    uds = str(tmp_path / "v.sock")
    put_vsock(api, uds)
    lst = Listener(uds, HOST_PORT)
    nbytes = 192 << 10
    configure_guest(api, "vsock-echo", " squibport=%d squibhostport=%d squibbytes=%d squibconns=2"
                    % (GUEST_PORT, HOST_PORT, nbytes))
    start(api)
    try:
        wait_for(squib, r"SQUIB-GUEST vsock-listen", 60)
        runs = [(os.urandom(160 << 10), 65536), (os.urandom(16 << 10), 100)]
        for data, chunk in runs:
            s, hport = host_connect(uds, GUEST_PORT, timeout=120)
            assert hport >= 1 << 30
            back = echo_through(s, data, chunk)
            assert back == data
            s.shutdown(socket.SHUT_WR)
            s.settimeout(60)
            assert s.recv(1) == b""
            s.close()
        lines = run_guest(squib, 120)
    finally:
        lst.close()
    assert first(lines, "vsock-init")["cid"] == str(CID)
    out = first(lines, "vsock-connect")
    assert out["result"] == "ok" and out["bytes"] == str(nbytes), out
    assert len(lst.received) == 1 and lst.received[0] == vp_pattern(1, nbytes)
    assert int(out["fnv1a"], 16) == fnv1a64(lst.received[0])
    echoes = [kv for w, kv, _ in lines if w == "vsock-echo"]
    assert len(echoes) == 2
    for kv, (data, _) in zip(echoes, runs):
        assert kv["bytes"] == str(len(data)) and kv["end"] == "eof", kv
        assert int(kv["fnv1a"], 16) == fnv1a64(data)
    done = first(lines, "vsock-done")
    assert done["served"] == "2" and done["rx_bad"] == "0"
    assert done["credit_violations"] == "0"
    assert int(done["max_in_flight"]) <= 65536
    ms = metrics_lines(metrics)
    total_in = nbytes + sum(len(d) for d, _ in runs)
    assert metric_total(ms, "vsock", "tx_bytes_count") >= total_in
    assert metric_total(ms, "vsock", "rx_bytes_count") >= sum(len(d) for d, _ in runs)
    assert metric_total(ms, "vsock", "conns_added") >= 3
    for k in ("activate_fails", "cfg_fails", "rx_queue_event_fails", "tx_queue_event_fails",
              "muxer_event_fails", "tx_write_fails", "rx_read_fails"):
        assert metric_total(ms, "vsock", k) == 0, k


HOSTILE = ["hdr-bad-op", "hdr-bad-type", "hdr-bad-dst-cid", "len-lies", "len-huge",
           "hdr-short", "credit-overrun", "unknown-conn", "tx-zero-len", "tx-write-only",
           "tx-addr-outside-ram", "tx-desc-loop", "tx-head-out-of-range", "rx-zero-len",
           "rx-read-only", "rx-addr-outside-ram", "notify-storm"]


@needs_kvm
def test_hostile_vsock(squib, tmp_path):
    """Every hostile case leaves squib serving the API and the device
    working after a reset; the cases' own outcomes as the README lists."""
    api = squib.client()
    log_to_file(api, tmp_path)
    metrics = put_metrics(api, tmp_path)
    uds = str(tmp_path / "v.sock")
    put_vsock(api, uds)
    lst = Listener(uds, HOSTILE_PORT, read=False)
    configure_guest(api, "hostile-vsock", " squibhostport=%d" % HOSTILE_PORT)
    start(api)
    try:
        code, answered = watch_api_while_running(squib, api)
    finally:
        lst.close()
    assert code == 0, squib.output()[-3000:]
    assert answered >= 1
    lines = guest_lines(squib.output())
    cases = {kv["case"]: kv for w, kv, _ in lines if w == "hostile-case"}
    assert sorted(cases) == sorted(HOSTILE)
    for c in cases.values():
        assert c["reset_ok"] == c["reinit_ok"] == "yes" and c["conn_after"] == "response", c
    for name in ("hdr-bad-op", "hdr-bad-type"):
        assert cases[name]["rsts"] == "1" and cases[name]["still_works"] == "response"
    assert cases["hdr-bad-dst-cid"]["rsts"] == "0"
    assert cases["unknown-conn"]["rsts"] == "5"
    for name in ("len-lies", "len-huge", "hdr-short", "tx-zero-len", "tx-write-only",
                 "tx-addr-outside-ram", "tx-desc-loop"):
        c = cases[name]
        assert c["tx_answered"] == "yes" and c["tx_used_len"] == "0", c
        assert c["needs_reset"] == "no" and c["still_works"] == "response", c
    c = cases["tx-head-out-of-range"]
    assert c["tx_answered"] == "no" and c["needs_reset"] == "yes", c
    for name in ("rx-zero-len", "rx-read-only", "rx-addr-outside-ram"):
        c = cases[name]
        assert c["rx_bad_returned"] == "yes" and c["rx_bad_len"] == "0", c
        assert c["still_works"] == "response", c
    assert cases["credit-overrun"]["overrun_rst"] == "yes"
    assert cases["notify-storm"]["still_works"] == "response"
    done = first(lines, "hostile")
    assert done["ok"] == done["cases"] == str(len(HOSTILE))
    ms = metrics_lines(metrics)
    assert metric_total(ms, "vsock", "tx_queue_event_fails") >= 1
    assert metric_total(ms, "vsock", "conns_added") >= len(HOSTILE)


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


@needs_kvm
def test_vsock_many_connections_no_leak(squib, tmp_path):
    """Host-initiated connections opened, echoed and closed one after the
    other: squib's fd count is back where it was after each batch and its
    RSS does not grow with the number of connections."""
    api = squib.client()
    log_to_file(api, tmp_path)
    uds = str(tmp_path / "v.sock")
    put_vsock(api, uds)
    batches, per_batch = 3, 20
    configure_guest(api, "vsock-echo", " squibport=%d squibconns=%d"
                    % (GUEST_PORT, batches * per_batch + 1))
    start(api)
    wait_for(squib, r"SQUIB-GUEST vsock-listen", 60)
    pid = squib.proc.pid

    def one(i):
        data = b"%06d" % i * 20
        s, _ = host_connect(uds, GUEST_PORT)
        assert echo_through(s, data, len(data)) == data
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        assert s.recv(1) == b""
        s.close()

    one(0)  # the first connection allocates what every later one reuses
    fds0, rss0 = fd_count(pid), rss_kib(pid)
    seen = []
    for b in range(batches):
        for i in range(per_batch):
            one(1 + b * per_batch + i)
        seen.append((fd_count(pid), rss_kib(pid)))
    for fds, rss in seen:
        assert fds == fds0, (fds0, seen)
    # Nothing per connection stays behind: 60 connections would leave
    # hundreds of KiB if each kept its buffers.
    assert seen[-1][1] - rss0 < 256, (rss0, seen)
    assert api.get("/").status == 200
    lines = run_guest(squib, 120)
    done = first(lines, "vsock-done")
    assert done["served"] == str(batches * per_batch + 1), done
    assert done["rx_bad"] == "0" and done["credit_violations"] == "0", done
