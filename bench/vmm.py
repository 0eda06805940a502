"""What the benchmarks that boot the test guest share: where squib, QEMU and
the guest are, QEMU's microvm settings, a client for squib's API socket,
one for QEMU's QMP socket, a serial-line reader with host time stamps, and
/proc readings (RSS). bench/block, bench/balloon and bench/memhp use it.

Nothing here times anything on its own or passes or fails on a time.
"""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
SQUIB = os.path.join(BUILD, "squib")
# The PVH flavour boots under both VMMs (QEMU cannot boot a plain vmlinux).
GUEST = os.path.join(ROOT, "build", "guest", "guest-pvh.elf")

QEMU = "qemu-system-x86_64"
# ioapic2=off keeps every GSI on the IOAPIC at 0xfec00000; ACPI stays on so
# the guest finds the device in the DSDT, as it does under squib.
QEMU_MACHINE = "microvm,ioapic2=off,acpi=on,isa-serial=on,pcie=off,rtc=on"
# For virtio-pci: microvm's pcie=on gives the guest no MCFG table and no
# BARs assigned, q35's firmware does both.
QEMU_PCI_MACHINE = "q35"
# The nested hypervisor here refuses MSR 0x10a; QEMU asserts without this.
QEMU_CPU = "host,-arch-capabilities"


def qemu_argv(guest, cmdline, mem_mib, machine=QEMU_MACHINE, extra=(),
              maxmem_mib=None):
    """QEMU booting the test guest on one vCPU, serial on stdout, a guest
    reset ending QEMU, virtio-mmio devices modern (the guest drives
    version 2 only). `extra` adds -device/-drive/... arguments; maxmem_mib
    makes room for memory devices."""
    mem = "%dM" % mem_mib + (",maxmem=%dM" % maxmem_mib if maxmem_mib else "")
    return ([QEMU, "-M", machine, "-accel", "kvm", "-cpu", QEMU_CPU,
             "-smp", "1", "-m", mem, "-nodefaults",
             "-name", "bench,debug-threads=on",  # thread names: CPU 0/KVM
             "-no-user-config", "-nographic", "-no-reboot", "-serial", "stdio",
             "-monitor", "none", "-kernel", guest, "-append", cmdline,
             "-global", "virtio-mmio.force-legacy=false"] + list(extra))


def have_qemu():
    return shutil.which(QEMU) is not None


class Api:
    """Minimal HTTP/1.1 client on squib's Unix socket (one request per
    connection, Content-Length framed answers)."""

    def __init__(self, path):
        self.path = path

    def request(self, method, url, body=None):
        """(status, parsed JSON body or None, fault_message or "")."""
        data = json.dumps(body).encode() if body is not None else b""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(self.path)
            head = "%s %s HTTP/1.1\r\n" % (method, url)
            if body is not None:
                head += ("Content-Type: application/json\r\n"
                         "Content-Length: %d\r\n" % len(data))
            s.sendall((head + "\r\n").encode() + data)
            resp = b""
            while b"\r\n\r\n" not in resp:
                c = s.recv(65536)
                if not c:
                    break
                resp += c
            head, _, rbody = resp.partition(b"\r\n\r\n")
            n = 0
            for h in head.split(b"\r\n")[1:]:
                k, _, v = h.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            while len(rbody) < n:
                c = s.recv(65536)
                if not c:
                    break
                rbody += c
        finally:
            s.close()
        status = int(head.split(b" ")[1]) if head else 0
        parsed, fault = None, ""
        if rbody:
            try:
                parsed = json.loads(rbody)
                if isinstance(parsed, dict):
                    fault = parsed.get("fault_message", "")
            except ValueError:
                fault = rbody.decode(errors="replace")
        return status, parsed, fault

    def put(self, url, body):
        status, _, fault = self.request("PUT", url, body)
        return status, fault

    def patch(self, url, body):
        status, _, fault = self.request("PATCH", url, body)
        return status, fault

    def get(self, url):
        status, parsed, _ = self.request("GET", url)
        return status, parsed


def start_squib(tmp, extra_args=()):
    """squib on an API socket in tmp, serial on a pipe: (proc, Api)."""
    sock = os.path.join(tmp, "api.sock")
    log = os.path.join(tmp, "squib.log")
    if os.path.exists(sock):
        os.unlink(sock)
    open(log, "w").close()
    proc = subprocess.Popen([SQUIB, "--api-sock", sock, "--log-path", log]
                            + list(extra_args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError("squib did not open its API socket")
        time.sleep(0.005)
    return proc, Api(sock)


def configure_squib(api, steps):
    """PUT each (url, body) in order; raises RuntimeError on the first
    answer that is not 204."""
    for url, body in steps:
        status, fault = api.put(url, body)
        if status != 204:
            raise RuntimeError("PUT %s: %d %s" % (url, status, fault))


def stop(proc):
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class Qmp:
    """QEMU's QMP on a Unix socket (-qmp unix:PATH,server=on,wait=off)."""

    def __init__(self, path, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.f = self.s.makefile("rb")
        json.loads(self.f.readline())  # the greeting
        self.execute("qmp_capabilities")

    def execute(self, cmd, **arguments):
        msg = {"execute": cmd}
        if arguments:
            msg["arguments"] = arguments
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (cmd, r["error"]))
            # an event: skip

    def close(self):
        self.f.close()
        self.s.close()


def run_qemu_qmp(argv, qmp_path, body):
    """Start QEMU (argv, with -qmp on qmp_path), connect to QMP, call
    body(proc, qmp), stop QEMU. None, or the error's text."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    qmp = None
    try:
        qmp = Qmp(qmp_path)
        body(proc, qmp)
        return None
    except (OSError, RuntimeError, ValueError) as e:
        return str(e)
    finally:
        if qmp:
            qmp.close()
        stop(proc)


class Serial:
    """The guest's serial lines on a VMM's stdout, each with the host's
    monotonic time it was read at."""

    def __init__(self, proc):
        self.proc = proc
        self.buf = b""
        self.lines = []   # (time, line)
        self.seen = 0     # lines already handed out by wait()

    def pump(self, timeout):
        """Read what arrives within timeout seconds; False at EOF."""
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not r:
            return True
        chunk = os.read(fd, 65536)
        if not chunk:
            return False
        now = time.monotonic()
        self.buf += chunk
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            self.lines.append((now, raw.decode(errors="replace").rstrip("\r")))
        return True

    def wait(self, pattern, timeout):
        """The (time, line) of the next line not yet handed out that matches
        the regular expression; RuntimeError on a time-out or EOF."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self.seen < len(self.lines):
                t, line = self.lines[self.seen]
                self.seen += 1
                if rx.search(line):
                    return t, line
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.5)):
                tail = "\n    ".join(l for _, l in self.lines[-10:])
                raise RuntimeError("no line matching %r; last lines:\n    %s"
                                   % (pattern, tail))

    def drain(self):
        """Take in whatever has arrived, without waiting."""
        while self.pump(0) and select.select([self.proc.stdout.fileno()],
                                             [], [], 0)[0]:
            pass


def parse_kv(line):
    """The key=value words of a SQUIB-GUEST line (decimal or 0x hex as
    int, anything else as text)."""
    out = {}
    for w in line.split()[2:]:
        k, eq, v = w.partition("=")
        if not eq:
            continue
        try:
            out[k] = int(v, 0)
        except ValueError:
            out[k] = v
    return out


def rss_kib(pid):
    """VmRSS of a process in KiB, or None once it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def fmt(v, f="%.1f"):
    return f % v if v is not None else "-"


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2f" % (a / b)


def print_table(hdr, rows):
    table = [hdr] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(hdr))]
    for r in table:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
