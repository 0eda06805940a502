#!/usr/bin/env python3
"""virtio-net with real Linux: squib beside QEMU's microvm, one run each.

The same kernel and ext4 root boot under each VMM with one virtio-net
device on a TAP in a network namespace of this script's own (QEMU: the
`virtio-net-device` on `-netdev tap`, vhost off; vhost on as well where
/dev/vhost-net exists). The root image's /init runs its `net` test
(scripts/guest/init): it pings the host end once, sends 256 KiB to the host
over TCP, then receives what the host sends until it closes. The host end
(PEER below, run inside the namespace) measures:

  g2h     guest -> host TCP: bytes over the time from the first byte to EOF
  rtt     host -> guest ICMP echo, --pings of them one at a time 10 ms
          apart: the average round trip, and its inverse as round trips per
          second (while the guest waits in its receiving nc, i.e. idle)
  h2g     host -> guest TCP: --bytes sent, then the time until the guest
          closes its end (it has read everything)

and the CPU time (user + system, from /proc) of the VMM's threads across
each transfer: the vCPU thread's as a share of the transfer's time (it is
mostly the guest's own work), the other threads' (the device emulation) as
milliseconds per MiB moved. Figures only; compare VMMs within one run.
The MMDS part of the guest's test is answered by squib and runs into its
3 s time-outs under QEMU; it is not measured here (bench-mmds measures the
MMDS itself).

    bench/net/linux.py                   # squib and QEMU (vhost off)
    bench/net/linux.py --vmm squib --bytes 1048576
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench", "boot"))
import linux_guest  # noqa: E402
import netns  # noqa: E402
import run as boot  # noqa: E402  (bench/boot/run.py: QEMU's machine, watch())

HOST_IP = "192.168.241.1"
GUEST_IP = "192.168.241.2"
GUEST_MAC = "06:00:c0:a8:f1:02"
TAP = "tap0"

PEER = r"""
import os, socket, struct, sys, time
host, guest, nbytes, pings = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def ev(*a):
    print(*a, flush=True)
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    s.settimeout(3000)
    return s
a, b = listen(5001), listen(5002)
ev("PEER-READY")
c, _ = a.accept()
c.settimeout(600)
n, t0 = 0, None
while True:
    d = c.recv(65536)
    if not d:
        break
    if t0 is None:
        t0 = time.monotonic()
        ev("G2H-FIRST", t0)
    n += len(d)
t1 = time.monotonic()
c.close()
ev("G2H-END", t1, n)
# The guest now connects to 5002 and waits for data: ping it meanwhile,
# one ICMP echo at a time, 10 ms apart (a raw socket: root in the
# namespace), 56 bytes of payload as ping(8) sends.
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return ~t & 0xffff
time.sleep(1.0)
ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ic.settimeout(2.0)
rtts = []
ev("PING-START", time.monotonic())
for seq in range(1, pings + 1):
    body = bytes(range(56))
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x5351, seq)
    pkt = struct.pack("!BBHHH", 8, 0, csum(hdr + body), 0x5351, seq) + body
    t0 = time.monotonic()
    ic.sendto(pkt, (guest, 0))
    try:
        while True:
            d = ic.recv(2048)
            ihl = (d[0] & 15) * 4
            t, _, _, i, sq = struct.unpack("!BBHHH", d[ihl:ihl + 8])
            if t == 0 and i == 0x5351 and sq == seq:
                rtts.append(time.monotonic() - t0)
                break
    except socket.timeout:
        pass
    time.sleep(0.01)
ev("PING-END", time.monotonic())
ev("PING-OUT", "%d packets transmitted, %d received" % (pings, len(rtts)))
if rtts:
    ev("PING-OUT", "rtt min/avg/max = %.3f/%.3f/%.3f ms" % (
        min(rtts) * 1e3, sum(rtts) / len(rtts) * 1e3, max(rtts) * 1e3))
c, _ = b.accept()
c.settimeout(600)
data = os.urandom(nbytes)
t0 = time.monotonic()
ev("H2G-FIRST", t0)
c.sendall(data)
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
t1 = time.monotonic()
c.close()
ev("H2G-END", t1, nbytes)
"""


def cpu_seconds(pid):
    """{thread name: utime + stime in seconds} for every thread of pid,
    or None."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return None
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                comm, rest = f.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        secs = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        out[comm] = out.get(comm, 0.0) + secs
    return out


def is_vcpu(comm):
    """squib names its vCPU threads "fc_vcpu N" as upstream does; QEMU's
    are "CPU N/KVM"."""
    return "vcpu" in comm or "/KVM" in comm


class Peer:
    """The host end in the namespace; records the VMM's CPU time at each of
    its events (vmm_pid set once the VMM runs)."""

    def __init__(self, ns, nbytes, pings):
        self.proc = ns.popen(["python3", "-c", PEER, HOST_IP, GUEST_IP, str(nbytes),
                              str(pings)], stdout=subprocess.PIPE)
        assert self.proc.stdout.readline().startswith(b"PEER-READY")
        self.vmm_pid = None
        self.events = {}
        self.ping_out = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for raw in self.proc.stdout:
            words = raw.decode(errors="replace").split()
            if not words:
                continue
            if words[0] == "PING-OUT":
                self.ping_out.append(" ".join(words[1:]))
                continue
            cpu = cpu_seconds(self.vmm_pid) if self.vmm_pid else None
            self.events[words[0]] = ([float(w) for w in words[1:]], cpu)

    def figures(self):
        """{name: value} from what the peer reported."""
        out = {}
        ev = self.events
        for d in ("G2H", "H2G"):
            if d + "-FIRST" in ev and d + "-END" in ev:
                (t0,), c0 = ev[d + "-FIRST"]
                (t1, n), c1 = ev[d + "-END"]
                secs = max(t1 - t0, 1e-9)
                out[d.lower() + "_kib_s"] = n / 1024 / secs
                out[d.lower() + "_bytes"] = int(n)
                if c0 is not None and c1 is not None and n:
                    mib = n / (1 << 20)
                    vcpu = sum(v - c0.get(k, 0.0) for k, v in c1.items() if is_vcpu(k))
                    rest = sum(v - c0.get(k, 0.0) for k, v in c1.items() if not is_vcpu(k))
                    # The vCPU thread's time is mostly the guest's own.
                    out[d.lower() + "_vmm_cpu_ms_per_mib"] = rest * 1000 / mib
                    out[d.lower() + "_vcpu_busy_pct"] = 100 * vcpu / secs
        for line in self.ping_out:
            # "N packets transmitted, M received, ..." and
            # "rtt min/avg/max/mdev = a/b/c/d ms"
            if "received" in line:
                out["pings_received"] = int(line.split(",")[1].split()[0])
            if line.startswith("rtt") or line.startswith("round-trip"):
                out["rtt_avg_ms"] = float(line.split("=")[1].split("/")[1])
        if out.get("rtt_avg_ms"):
            # one echo in flight at a time: round trips per second
            out["pings_per_s"] = 1000.0 / out["rtt_avg_ms"]
        return out


def squib_argv(tmp, kernel, root, cmdline, mem):
    build = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
    cfg = {
        "boot-source": {"kernel_image_path": kernel, "boot_args": cmdline},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": mem},
        "drives": [{"drive_id": "rootfs", "path_on_host": root,
                    "is_root_device": False, "is_read_only": False}],
        "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP,
                                "guest_mac": GUEST_MAC}],
        "mmds-config": {"version": "V2", "network_interfaces": ["eth0"]},
    }
    path = os.path.join(tmp, "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    log = os.path.join(tmp, "squib.log")
    open(log, "w").close()
    return [os.path.join(build, "squib"), "--no-api", "--config-file", path,
            "--log-path", log, "--level", "Warning"]


def qemu_argv(kernel, root, cmdline, mem, vhost):
    # debug-threads names the vCPU threads ("CPU 0/KVM"), for the CPU split.
    return [boot.QEMU, "-name", "bench,debug-threads=on",
            "-M", boot.QEMU_MACHINE, "-accel", "kvm", "-cpu", boot.QEMU_CPU,
            "-smp", "1", "-m", str(mem), "-nodefaults", "-no-user-config", "-nographic",
            "-no-reboot", "-serial", "stdio", "-kernel", kernel,
            "-append", cmdline + " " + boot.QEMU_EXTRA_CMDLINE,
            "-drive", "id=d0,file=%s,format=raw,if=none" % root,
            "-device", "virtio-blk-device,drive=d0",
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=%s"
            % (TAP, "on" if vhost else "off"),
            "-device", "virtio-net-device,netdev=n0,mac=%s" % GUEST_MAC]


def run_one(vmm, args, kernel):
    """Boot under vmm ("squib", "qemu", "qemu-vhost"), return its figures."""
    ns = netns.NetNs()
    tmp = tempfile.mkdtemp(prefix="net-bench-")
    peer = None
    try:
        ns.tap(TAP, HOST_IP + "/24")
        peer = Peer(ns, args.bytes, args.pings)
        root = linux_guest.rootfs_copy("ext4", tmp)
        cmdline = linux_guest.cmdline("squib.test=net squib.ip=%s/24 squib.peer=%s"
                                      % (GUEST_IP, HOST_IP), root="ext4")
        if vmm == "squib":
            argv = squib_argv(tmp, kernel, root, cmdline, args.mem)
        else:
            argv = qemu_argv(kernel, root, cmdline, args.mem, vmm == "qemu-vhost")
        argv = ["ip", "netns", "exec", ns.name] + argv
        opts = boot.Options(mem_mib=args.mem, timeout=args.timeout,
                            marker=linux_guest.DONE, linger=30.0, log_dir=args.log_dir)
        # boot.watch() blocks until the marker; the VMM's pid is needed
        # earlier for the CPU figures, so find it from the namespace.
        done = {}

        def go():
            done["res"] = boot.watch(vmm, argv, opts, cwd=tmp)

        t = threading.Thread(target=go)
        t.start()
        deadline = time.monotonic() + 30
        while peer.vmm_pid is None and time.monotonic() < deadline:
            pids = subprocess.run(["ip", "netns", "pids", ns.name], stdout=subprocess.PIPE
                                  ).stdout.decode().split()
            for p in pids:
                try:
                    with open("/proc/%s/comm" % p) as f:
                        comm = f.read().strip()
                except OSError:
                    continue
                if comm.startswith("squib") or comm.startswith("qemu"):
                    peer.vmm_pid = int(p)
            time.sleep(0.05)
        t.join()
        res = done["res"]
        figs = peer.figures()
        if res.error:
            figs["error"] = res.error + "\n" + res.tail
        figs["done_s"] = res.marker
        return figs
    finally:
        if peer and peer.proc.poll() is None:
            peer.proc.kill()
        ns.close()
        subprocess.run(["rm", "-rf", tmp])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", default=None,
                    help="comma-separated: squib, qemu, qemu-vhost (default: squib, "
                    "qemu, and qemu-vhost where /dev/vhost-net exists)")
    ap.add_argument("--bytes", type=int, default=256 * 1024, help="host -> guest bytes")
    ap.add_argument("--pings", type=int, default=100)
    ap.add_argument("--mem", type=int, default=256)
    ap.add_argument("--timeout", type=float, default=2400.0)
    ap.add_argument("--log-dir")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    why = linux_guest.skip_reason() or netns.skip_reason()
    if why:
        print("net linux bench: skipped: " + why)
        return 0
    kernel = linux_guest.kernel_path()
    vmms = args.vmm.split(",") if args.vmm else (
        ["squib", "qemu"] + (["qemu-vhost"] if os.path.exists("/dev/vhost-net") else []))
    if not args.vmm and not os.path.exists("/dev/vhost-net"):
        print("qemu-vhost: skipped: /dev/vhost-net does not exist on this host")
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    results = {}
    for vmm in vmms:
        if vmm.startswith("qemu") and not boot.shutil_which(boot.QEMU):
            print("%s: skipped: %s not installed" % (vmm, boot.QEMU))
            continue
        print("%s: booting (minutes on nested hosts)..." % vmm, flush=True)
        results[vmm] = run_one(vmm, args, kernel)
        if "error" in results[vmm]:
            print("%s: %s" % (vmm, results[vmm]["error"]))
    keys = ["g2h_kib_s", "h2g_kib_s", "rtt_avg_ms", "pings_per_s",
            "g2h_vmm_cpu_ms_per_mib", "h2g_vmm_cpu_ms_per_mib",
            "g2h_vcpu_busy_pct", "h2g_vcpu_busy_pct"]
    for k in keys:
        print("%-24s" % k + "".join("%14s" % ("%.2f" % f[k] if k in f else "-")
                                      for f in results.values()))
    print("%-24s" % "" + "".join("%14s" % v for v in results))
    if "squib" in results:
        for other in [v for v in results if v != "squib"]:
            for k in ("g2h_kib_s", "h2g_kib_s", "pings_per_s"):
                a, b = results["squib"].get(k), results[other].get(k)
                if a and b:
                    print("squib/%s %s: %.2fx" % (other, k, a / b))
    if args.json:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
