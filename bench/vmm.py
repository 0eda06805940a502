"""What the benchmarks that boot the test guest share: where squib, QEMU and
the guest are, QEMU's microvm settings, a client for squib's API socket,
one for QEMU's QMP socket, a serial-line reader with host time stamps, and
/proc readings (RSS). bench/block, bench/balloon, bench/memhp and
bench/snapshot use it (they put this directory on sys.path).

Nothing here times anything on its own or passes or fails on a time.
"""
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
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


def check_tools(guest, vmms, squib_files):
    """Exit with the reason unless the guest, squib_files (when "squib" is
    in vmms, a list or set) and /dev/kvm are there; a missing QEMU drops
    "qemu" from vmms with a note."""
    if not os.path.exists(guest):
        sys.exit("no guest at %s: run `make guests`" % guest)
    for path in squib_files if "squib" in vmms else ():
        if not os.access(path, os.X_OK):
            sys.exit("no %s: run `make`" % path)
    if "qemu" in vmms and not shutil.which(QEMU):
        print("qemu: %s not found, QEMU columns skipped" % QEMU)
        vmms.remove("qemu")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("no access to /dev/kvm")


def wait_path(path, proc, timeout=10.0):
    """Wait until path exists (a socket the child makes); RuntimeError if
    the child exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise RuntimeError("%s exited (%s) before making %s"
                               % (proc.args[0], proc.returncode, path))
        if time.monotonic() > deadline:
            raise RuntimeError("%s made no %s within %.0f s"
                               % (proc.args[0], path, timeout))
        time.sleep(0.002)


def read_response(s):
    """One Content-Length framed HTTP response from socket s: (head, body)
    as bytes, the head without its blank line. Raises ConnectionError if
    the peer closes before the response is whole."""
    data = b""
    while b"\r\n\r\n" not in data:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("connection closed before the response's head ended")
        data += c
    head, _, body = data.partition(b"\r\n\r\n")
    n = 0
    for h in head.split(b"\r\n")[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            n = int(v)
    while len(body) < n:
        c = s.recv(65536)
        if not c:
            raise ConnectionError("connection closed before the response's body ended")
        body += c
    return head, body


class Api:
    """Minimal HTTP/1.1 client on squib's Unix socket (one request per
    connection, Content-Length framed answers)."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout

    def request(self, method, url, body=None):
        """(status, parsed JSON body or None, fault_message or "")."""
        data = json.dumps(body).encode() if body is not None else b""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.path)
            head = "%s %s HTTP/1.1\r\n" % (method, url)
            if body is not None:
                head += ("Content-Type: application/json\r\n"
                         "Content-Length: %d\r\n" % len(data))
            s.sendall((head + "\r\n").encode() + data)
            try:
                head, rbody = read_response(s)
            except ConnectionError:  # hung up: status 0, the caller says so
                head, rbody = b"", b""
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

    def put(self, url, body, method="PUT"):
        """(status, fault_message or the body's text)."""
        status, _, fault = self.request(method, url, body)
        return status, fault

    def patch(self, url, body):
        return self.put(url, body, "PATCH")

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
    try:
        wait_path(sock, proc)
    except RuntimeError:
        stop(proc)
        raise
    return proc, Api(sock)


def configure_squib(api, steps):
    """PUT each (url, body) in order; raises RuntimeError on the first
    answer that is not 204."""
    for url, body in steps:
        status, fault = api.put(url, body)
        if status != 204:
            raise RuntimeError("PUT %s: %d %s" % (url, status, fault))


def run_squib_api(tmp, steps, body, extra_args=()):
    """Start squib (start_squib), PUT each of steps (configure_squib), call
    body(proc, api, serial) with a Serial on its stdout, stop squib. None,
    or the error's text: run_qemu_qmp's twin."""
    proc = None
    try:
        proc, api = start_squib(tmp, extra_args)
        serial = Serial(proc.stdout)
        configure_squib(api, steps)
        body(proc, api, serial)
        return None
    except (OSError, RuntimeError, ValueError) as e:
        return str(e)
    finally:
        stop(proc)


def stop(proc):
    """Kill proc (None: nothing) and reap it."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
    proc.wait()


class Qmp:
    """QMP client on a Unix socket: commands in order, events kept."""

    def __init__(self, path, timeout=30.0):
        # The path exists from QEMU's bind(); its listen() may come later,
        # and a caller may connect before QEMU made it at all.
        deadline = time.monotonic() + 10
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self.buf = b""
        self.events = []            # (monotonic time, event dict)
        self._read()                # the greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            c = self.sock.recv(65536)
            if not c:
                raise RuntimeError("QMP connection closed")
            self.buf += c
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, fds=None, **args):
        """Send one command (fds: passed with it by SCM_RIGHTS); its
        "return", or RuntimeError with QEMU's error."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        data = json.dumps(msg).encode() + b"\n"
        if fds:
            socket.send_fds(self.sock, [data], fds)
        else:
            self.sock.sendall(data)
        while True:
            r = self._read()
            if "event" in r:
                self.events.append((time.monotonic(), r))
                continue
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"].get("desc")))
            return r.get("return")

    def wait_event(self, name, timeout):
        """Monotonic time of the first `name` event (kept or new), or None."""
        deadline = time.monotonic() + timeout
        while True:
            for t, e in self.events:
                if e["event"] == name:
                    return t
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                r = self._read()
            except socket.timeout:
                return None
            if "event" in r:
                self.events.append((time.monotonic(), r))

    def close(self):
        self.sock.close()


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
    """Reads a VMM's stdout (the guest's serial console) on a thread and
    keeps every complete line with the monotonic time it arrived."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.lines = []             # (time, text)
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        fd = self.pipe.fileno()
        buf = b""
        while True:
            select.select([fd], [], [])
            c = os.read(fd, 65536)
            now = time.monotonic()
            if not c:
                break
            buf += c
            with self.cond:
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    self.lines.append((now, raw.decode(errors="replace").rstrip("\r")))
                self.cond.notify_all()
        with self.cond:
            self.lines.append((time.monotonic(), None))  # end of output
            self.cond.notify_all()

    def wait(self, match, timeout, after=0.0):
        """(time, line) of the first line arriving at or after `after` that
        satisfies match (a predicate, or a regular expression searched for),
        or None at the time-out or end of output."""
        pred = re.compile(match).search if isinstance(match, str) else match
        deadline = time.monotonic() + timeout
        with self.cond:
            i = 0
            while True:
                while i < len(self.lines):
                    t, text = self.lines[i]
                    i += 1
                    if text is None:
                        return None
                    if t >= after and pred(text):
                        return t, text
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def tail(self, n=10):
        with self.cond:
            return [t for _, t in self.lines[-n:] if t is not None]

    def expect(self, match, timeout, after=0.0):
        """wait(), but RuntimeError with the last lines instead of None."""
        hit = self.wait(match, timeout, after)
        if hit is None:
            raise RuntimeError("no line matching %r; last lines:\n    %s"
                               % (match, "\n    ".join(self.tail())))
        return hit


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


def status_kib(pid, field):
    """A KiB field of /proc/PID/status ("VmRSS", "VmHWM"), or None once the
    process is gone (or, a zombie, has no such line)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_kib(pid):
    """VmRSS of a process in KiB, or None once it is gone."""
    return status_kib(pid, "VmRSS")


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
