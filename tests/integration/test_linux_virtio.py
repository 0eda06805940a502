"""Real Linux on squib's virtio devices, through the API (minutes on the
nested development machines, so one boot does everything).

The ext4 root file system is the root virtio-blk device (/dev/vda), an ext4
data disk is /dev/vdb, a small scratch file is /dev/vdc, an entropy device
and a balloon (statistics every second) are attached, and (where this
process can make a network namespace) eth0 is
a virtio-net device on a TAP in a namespace of the test's own, with the
MMDS (V2) enabled on it. The root image's /init (scripts/guest/init,
squib.test=virtio) reads /in.txt from /dev/vdb and writes /out.txt there,
prints 64 bytes from /dev/hwrng, prints the size of /dev/vdc and waits for it
to change: the host then swaps /dev/vdc's backing file with PATCH /drives,
and the guest kernel must see the new capacity (config-change interrupt).
Then the balloon: the guest touches 8 MiB in a process that exits, the
host inflates 96 MiB with PATCH /balloon, and the guest's MemTotal and
squib's RSS must fall, statistics arrive, and MemTotal come back after
the deflate.
With eth0 it then pings the host end of the TAP, moves 256 KiB each way over
TCP (md5 compared on both ends) and asks the MMDS for a token, for data with
it, with a wrong token and as JSON, over raw HTTP with busybox nc.
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
import netns
from conftest import BUILD, SQUIB, Squib, rss_kib

HOST_IP = "192.168.241.1"
GUEST_IP = "192.168.241.2"
NET_BYTES = 256 * 1024

# The host end of the guest's TCP tests, run inside the namespace: read
# NET_BYTES on port 5001, then send NET_BYTES on port 5002, printing the
# md5 of each.
PEER = r"""
import hashlib, os, socket, sys
n = int(sys.argv[2])
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], port))
    s.listen(1)
    s.settimeout(3000)
    return s
a, b = listen(5001), listen(5002)
print("PEER-READY", flush=True)
c, _ = a.accept()
c.settimeout(600)
got = b""
while len(got) < n:
    d = c.recv(65536)
    if not d:
        break
    got += d
c.close()
print("PEER-G2H", len(got), hashlib.md5(got).hexdigest(), flush=True)
data = os.urandom(n)
c, _ = b.accept()
c.settimeout(600)
c.sendall(data)
c.close()
print("PEER-H2G", len(data), hashlib.md5(data).hexdigest(), flush=True)
"""


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


def mmds_answer(out, name):
    m = re.search(r"SQUIB-MMDS-%s\r?\n(.*?)SQUIB-MMDS-END" % name, out, re.S)
    assert m, "no MMDS answer %s in:\n%s" % (name, out[-3000:])
    return m.group(1).replace("\r", "")


def check_net(squib, api, out, peer):
    """What the guest's net test printed, against the host's view."""
    assert "SQUIB-NET-OK" in out, out[-3000:]
    host = peer.communicate(timeout=600)[0].decode()
    g2h = re.search(r"PEER-G2H (\d+) ([0-9a-f]{32})", host)
    h2g = re.search(r"PEER-H2G (\d+) ([0-9a-f]{32})", host)
    assert g2h and h2g, host
    assert int(g2h.group(1)) == NET_BYTES
    assert re.search(r"SQUIB-G2H-MD5 ([0-9a-f]{32})", out).group(1) == g2h.group(2)
    assert re.search(r"SQUIB-H2G-MD5 ([0-9a-f]{32})", out).group(1) == h2g.group(2)

    token = mmds_answer(out, "TOKEN")
    assert token.startswith("HTTP/1.1 200 \n"), token
    assert "X-metadata-token-ttl-seconds: 60" in token, token
    assert re.search(r"\n\n[A-Za-z0-9+/]{48}\n*$", token), token
    text = mmds_answer(out, "TEXT")
    assert text.startswith("HTTP/1.1 200 \n"), text
    assert "Content-Type: text/plain" in text and text.rstrip().endswith("\n\nami-12345678"), text
    wrong = mmds_answer(out, "WRONG")
    assert wrong.startswith("HTTP/1.1 401 \n"), wrong
    assert wrong.rstrip().endswith("MMDS token not valid."), wrong
    js = mmds_answer(out, "JSON")
    assert "Content-Type: application/json" in js, js
    assert js.rstrip().endswith('{"meta-data":{"ami-id":"ami-12345678"}}'), js

    cfg = api.get("/vm/config").json()
    assert [n["iface_id"] for n in cfg["network-interfaces"]] == ["eth0"]
    assert cfg["mmds-config"]["version"] == "V2"


def run_with_network(tmp_path, args, body, what):
    """Start squib (with args) in a network namespace of its own with tap0
    and the TCP peer (PEER) beside it, or without a network where
    namespaces cannot be made (saying so), then body(squib, with_net,
    peer); everything is stopped and removed afterwards."""
    why = netns.skip_reason()
    ns = None
    if why:
        print("%s: no virtio-net part: %s" % (what, why))
    else:
        ns = netns.NetNs()
    squib = None
    peer = None
    try:
        if ns:
            ns.tap("tap0", HOST_IP + "/24")
            peer = ns.popen(["python3", "-c", PEER, HOST_IP, str(NET_BYTES)],
                            stdout=subprocess.PIPE)
            assert peer.stdout.readline().startswith(b"PEER-READY")
        squib = Squib(tmp_path, list(args),
                      binary=ns.wrap(SQUIB, tmp_path) if ns else SQUIB)
        body(squib, ns is not None, peer)
    finally:
        if peer and peer.poll() is None:
            peer.kill()
        if squib:
            squib.stop()
        if ns:
            ns.close()


def test_linux_root_data_entropy_net_mmds_and_resize(linux, tmp_path):
    run_with_network(tmp_path, [], lambda squib, with_net, peer: run_linux(
        squib, linux, tmp_path, with_net, peer), "linux virtio")


BALLOON_MIB = 96


def check_balloon(squib, api):
    """The guest's balloon step (scripts/guest/init test_balloon): inflate
    BALLOON_MIB, see the guest's MemTotal and squib's RSS fall and the
    statistics arrive; deflate, see MemTotal come back."""
    m0 = int(wait_line(squib, r"SQUIB-MEMTOTAL (\d+)", 600).group(1))
    time.sleep(1)
    rss0 = rss_kib(squib.proc.pid)
    t0 = time.time()
    r = api.patch("/balloon", {"amount_mib": BALLOON_MIB})
    assert r.status == 204, r.raw
    m1 = int(wait_line(squib, r"SQUIB-MEMTOTAL-INFLATED (\d+)", 600).group(1))
    secs = time.time() - t0
    rss1 = rss_kib(squib.proc.pid)
    print("linux balloon: %d MiB inflated in %.0f s; MemTotal %d -> %d kB; squib RSS "
          "%d -> %d KiB" % (BALLOON_MIB, secs, m0, m1, rss0, rss1))
    assert m0 - m1 == BALLOON_MIB * 1024, (m0, m1)
    # The guest gave back pages, some of them touched (the 8 MiB a process
    # used and freed just before, and what booting touched): squib's RSS
    # falls.
    assert rss0 - rss1 >= 4 * 1024, (rss0, rss1)
    deadline = time.time() + 30
    while True:
        st = api.get("/balloon/statistics").json()
        if "free_memory" in st or time.time() > deadline:
            break
        time.sleep(0.5)
    assert st["actual_mib"] == BALLOON_MIB and st["target_mib"] == BALLOON_MIB, st
    for k in ("free_memory", "total_memory", "available_memory"):
        assert st.get(k, 0) > 0, st
    r = api.patch("/balloon", {"amount_mib": 0})
    assert r.status == 204, r.raw
    m2 = int(wait_line(squib, r"SQUIB-MEMTOTAL-DEFLATED (\d+)", 600).group(1))
    assert m2 == m0, (m0, m2)


def put_entropy_balloon_net(api, with_net):
    """The devices the virtio boot has besides its drives: entropy, a
    balloon with statistics every second and, with_net, eth0 on tap0 with
    the MMDS (V2) and its data."""
    assert api.put("/entropy", {}).status == 204
    r = api.put("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                             "stats_polling_interval_s": 1})
    assert r.status == 204, r.raw
    if with_net:
        r = api.put("/network-interfaces/eth0", {
            "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:c0:a8:f1:02"})
        assert r.status == 204, r.raw
        r = api.put("/mmds/config", {"version": "V2", "network_interfaces": ["eth0"]})
        assert r.status == 204, r.raw
        r = api.put("/mmds", {"latest": {"meta-data": {"ami-id": "ami-12345678"}}})
        assert r.status == 204, r.raw


def run_linux(squib, linux, tmp_path, with_net, peer):
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
    extra = "squib.test=virtio squib.balloon_mib=%d" % BALLOON_MIB
    if with_net:
        extra += " squib.ip=%s/24 squib.peer=%s" % (GUEST_IP, HOST_IP)
    r = api.put("/boot-source", {
        "kernel_image_path": linux.kernel_path(),
        "boot_args": linux.cmdline(extra, root="ext4"),
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
    put_entropy_balloon_net(api, with_net)

    t0 = time.time()
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r.raw
    wait_line(squib, re.escape(linux.MARKER), 2 * linux.BOOT_TIMEOUT)
    print("linux virtio: /init marker %.0f s after InstanceStart" % (time.time() - t0))
    out = squib.output()
    # The root file system came up from squib's virtio-blk /dev/vda.
    assert re.search(r"virtio_blk virtio\d+: .*\[vda\]", out), out[-3000:]
    assert "Kernel command line:" in out
    cmd = re.search(r"Kernel command line: (.*)", out).group(1)
    # The balloon is attached first, then the 3 drives, net and rng; the
    # root words come where the root drive is in that order (digest 6.5).
    n_dev = 6 if with_net else 5
    mmio = ["virtio_mmio.device=4K@0x%x:%d" % (0xc0001000 + 0x1000 * i, 5 + i)
            for i in range(n_dev)]
    want = " ".join(["pci=off", mmio[0], "root=/dev/vda rw"] + mmio[1:])
    assert want in cmd, cmd

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

    check_balloon(squib, api)

    if with_net:
        t1 = time.time()
        out = wait_line(squib, r"(?s)SQUIB-MMDS-JSON.*?SQUIB-MMDS-END", 1200).string
        print("linux virtio: network part took %.0f s" % (time.time() - t1))
        check_net(squib, api, out, peer)

    assert squib.wait(300) == 0
    out = squib.output()
    assert "Firecracker exiting successfully. exit_code=0" in out
    # The guest's file, read back from the data image by the host.
    text = debugfs_cat(data, "/out.txt")
    assert text.startswith("written by the guest at uptime "), text
