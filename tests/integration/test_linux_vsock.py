"""Real Linux on squib's virtio-vsock: a boot of its own, kept apart from
test_linux_virtio.py's single boot so that a vsock failure cannot hide
that boot's results.

It skips, with the reason printed, without KVM, in the sanitizer builds,
and wherever the guest kernel cannot be obtained. On the nested
development machines the echo runs at about 170 KiB/s each way (the guest
kernel's copies go through KVM's instruction emulator there), so the
sizes are what fits CI: on MMIO 16 MiB from the guest and 12 MiB to it,
on PCI 3 MiB and 2 MiB (SIZES).

The root image's /init (scripts/guest/init, squib.test=vsock) runs
/bin/vsock_echo (tests/guest/linux/vsock_echo.c, built static into the
image by scripts/mkrootfs.sh): it connects to host CID 2 port HOST_PORT,
which squib turns into a connection to "<uds_path>_<HOST_PORT>", and sends
GUEST_BYTES (4 MiB) of the pattern; then it listens on AF_VSOCK port
GUEST_PORT and echoes two host-initiated connections ("CONNECT 52\\n" on
uds_path), 12 MiB and 64 KiB, then SMALL_CONNS small ones, during which
squib's fd count and RSS must stay put. Where a network namespace can be
made, squib runs in one with eth0 on a TAP and the MMDS at version V1, and
the guest then fetches metadata as text and as JSON without a token (the
virtio boot covers V2).
Every byte is compared on the host, and the guest's FNV-1a with the
host's.
"""
import os
import re
import socket
import time

import pytest

import linux_guest
import netns
from conftest import BUILD, Squib, SQUIB, rss_kib
from test_linux_virtio import GUEST_IP, HOST_IP, mmds_answer, wait_line
from test_vsock_guest import Listener, echo_through, fnv1a64, host_connect, vp_pattern

GUEST_PORT = 52
HOST_PORT = 1024
GUEST_BYTES = 4 << 20
SMALL_CONNS = 40  # opened, echoed and closed one after the other


@pytest.fixture
def linux():
    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    return linux_guest


# The PCI boot moves less: the transport is what it adds, and the large
# transfers cost CI minutes at these speeds (they run on MMIO).
SIZES = {False: (GUEST_BYTES, 12 << 20, SMALL_CONNS),
         True: (1 << 20, 2 << 20, 10)}


@pytest.mark.parametrize("pci", [False, True], ids=["mmio", "pci"])
def test_linux_vsock_echo(linux, tmp_path, pci):
    """The same boot on virtio-mmio and (--enable-pci) on virtio-pci with
    MSI-X: vsock both ways and the MMDS over eth0 do not depend on the
    transport."""
    guest_bytes, echo_bytes, small_conns = SIZES[pci]
    root = linux.rootfs_copy("ext4", tmp_path)
    # With a namespace, squib runs in it with a NIC whose MMDS is V1 (the
    # virtio boot has V2), and the guest asks it once the echoes are done.
    why = netns.skip_reason()
    ns = None
    if why:
        print("linux vsock: no MMDS V1 part: " + why)
    else:
        ns = netns.NetNs()
        ns.tap("tap0", HOST_IP + "/24")
    squib = Squib(tmp_path, ["--enable-pci"] if pci else [],
                  binary=ns.wrap(SQUIB, tmp_path) if ns else SQUIB)
    uds = os.path.join(str(tmp_path), "v.sock")
    lst = None
    try:
        api = squib.client()
        extra = ("squib.test=vsock squib.vsock_port=%d squib.vsock_host=%d "
                 "squib.vsock_bytes=%d squib.vsock_conns=%d"
                 % (GUEST_PORT, HOST_PORT, guest_bytes, 2 + small_conns))
        if ns:
            extra += " squib.ip=%s/24" % GUEST_IP
        r = api.put("/boot-source", {"kernel_image_path": linux.kernel_path(),
                                     "boot_args": linux.cmdline(extra, root="ext4")})
        assert r.status == 204, r.raw
        assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
        r = api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": root,
                                       "is_root_device": True, "is_read_only": False})
        assert r.status == 204, r.raw
        r = api.put("/vsock", {"guest_cid": 3, "uds_path": uds})
        assert r.status == 204, r.raw
        if ns:
            for path, body in (
                    ("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0"}),
                    ("/mmds/config", {"version": "V1", "network_interfaces": ["eth0"]}),
                    ("/mmds", {"latest": {"meta-data": {"ami-id": "ami-12345678"}}})):
                r = api.put(path, body)
                assert r.status == 204, (path, r.raw)
        lst = Listener(uds, HOST_PORT)
        t0 = time.time()
        assert api.put("/actions", {"action_type": "InstanceStart"}).status == 204
        wait_line(squib, re.escape(linux.MARKER), 2 * linux.BOOT_TIMEOUT)
        print("linux vsock: /init marker %.0f s after InstanceStart" % (time.time() - t0))

        # Guest-initiated, to the listener at <uds>_<HOST_PORT>.
        t1 = time.time()
        m = wait_line(squib, r"SQUIB-VSOCK-SENT port=(\d+) bytes=(\d+) fnv1a=0x([0-9a-f]+) "
                      r"result=(\S+)", 600)
        print("linux vsock: guest -> host %d KiB in about %.0f s after /init"
              % (guest_bytes >> 10, time.time() - t1))
        assert m.group(4) == "ok" and int(m.group(2)) == guest_bytes, m.group(0)
        deadline = time.time() + 60
        while not lst.received and time.time() < deadline:
            time.sleep(0.1)
        assert len(lst.received) == 1
        assert lst.received[0] == vp_pattern(1, guest_bytes)
        assert int(m.group(3), 16) == fnv1a64(lst.received[0])

        # Host-initiated, echoed by the guest.
        wait_line(squib, r"SQUIB-VSOCK-LISTENING port=%d\r?\n" % GUEST_PORT, 300)
        runs = [os.urandom(echo_bytes), os.urandom(64 << 10)]
        for data in runs:
            t1 = time.time()
            s, hport = host_connect(uds, GUEST_PORT, timeout=120)
            assert hport >= 1 << 30
            assert echo_through(s, data, 65536) == data
            secs = time.time() - t1
            print("linux vsock: %d KiB echoed in %.1f s (%.0f KiB/s each way)"
                  % (len(data) >> 10, secs, len(data) / 1024 / secs))
            s.shutdown(socket.SHUT_WR)
            s.settimeout(60)
            assert s.recv(1) == b""
            s.close()
        # Many small connections: squib's fds and memory stay where they
        # were once the first has come and gone.
        pid = squib.proc.pid
        fds = []
        t1 = time.time()
        for i in range(small_conns):
            data = b"%04d" % i * 64
            s, _ = host_connect(uds, GUEST_PORT, timeout=120)
            assert echo_through(s, data, len(data)) == data
            s.shutdown(socket.SHUT_WR)
            s.settimeout(60)
            assert s.recv(1) == b""
            s.close()
            runs.append(data)
            fds.append((len(os.listdir("/proc/%d/fd" % pid)), rss_kib(pid)))
        print("linux vsock: %d connections opened, echoed and closed in %.1f s"
              % (small_conns, time.time() - t1))
        assert all(f == fds[0][0] for f, _ in fds), fds
        assert fds[-1][1] - fds[0][1] < 512, fds
        deadline = time.time() + 300
        while len(re.findall(r"SQUIB-VSOCK-ECHO .*\n", squib.output())) < len(runs) and time.time() < deadline:
            time.sleep(0.5)
        out = squib.output()
        echoes = re.findall(r"SQUIB-VSOCK-ECHO port=\d+ bytes=(\d+) fnv1a=0x([0-9a-f]+) ", out)
        assert [(int(b), int(h, 16)) for b, h in echoes] == [(len(d), fnv1a64(d)) for d in runs]
        if ns:
            out = wait_line(squib, r"(?s)SQUIB-MMDS-V1JSON.*?SQUIB-MMDS-END", 300).string
            text = mmds_answer(out, "V1TEXT")
            assert text.startswith("HTTP/1.1 200 \n"), text
            assert "Content-Type: text/plain" in text, text
            assert text.rstrip().endswith("\n\nami-12345678"), text
            js = mmds_answer(out, "V1JSON")
            assert js.startswith("HTTP/1.1 200 \n"), js
            assert "Content-Type: application/json" in js, js
            assert js.rstrip().endswith('{"meta-data":{"ami-id":"ami-12345678"}}'), js
        assert squib.wait(300) == 0
        assert "Firecracker exiting successfully. exit_code=0" in squib.output()
    finally:
        if lst:
            lst.close()
        squib.stop()
        if ns:
            ns.close()
