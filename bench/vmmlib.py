"""What the benchmarks that run the test guest under squib and under QEMU's
microvm machine share: the QEMU machine settings, a client for squib's API
socket, a QMP client, and a reader that timestamps the guest's serial lines.

Imported by bench/block/run.py and bench/snapshot/run.py (which put this
directory on sys.path).
"""
import json
import os
import select
import shutil
import socket
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
# The nested hypervisor here refuses MSR 0x10a; QEMU asserts without this.
QEMU_CPU = "host,-arch-capabilities"


def check_tools(guest, vmms, squib_files):
    """Exit with the reason unless the guest, squib_files (when "squib" is
    in the set vmms) and /dev/kvm are there; a missing QEMU drops "qemu"
    from vmms with a note."""
    if not os.path.exists(guest):
        sys.exit("no guest at %s: run `make guests`" % guest)
    for path in squib_files if "squib" in vmms else ():
        if not os.access(path, os.X_OK):
            sys.exit("no %s: run `make`" % path)
    if "qemu" in vmms and not shutil.which(QEMU):
        print("qemu: %s not found, QEMU columns skipped" % QEMU)
        vmms.discard("qemu")
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


class Api:
    """Minimal HTTP/1.1 client on squib's Unix socket (one request per
    connection, Content-Length framed answers)."""

    def __init__(self, path, timeout=10.0):
        self.path = path
        self.timeout = timeout

    def request(self, method, url, body=None):
        """(status, body bytes); status 0 if the connection closed first."""
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
        return status, rbody

    def put(self, url, body, method="PUT"):
        """(status, fault_message or the body's text)."""
        status, rbody = self.request(method, url, body)
        fault = ""
        if rbody:
            try:
                fault = json.loads(rbody).get("fault_message", "")
            except ValueError:
                fault = rbody.decode(errors="replace")
        return status, fault


class Qmp:
    """QMP client on a Unix socket: commands in order, events kept."""

    def __init__(self, path, timeout=30.0):
        # The path exists from QEMU's bind(); its listen() may come later.
        deadline = time.monotonic() + 10
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(path)
                break
            except ConnectionRefusedError:
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

    def wait(self, pred, timeout, after=0.0):
        """(time, line) of the first line arriving at or after `after` that
        satisfies pred, or None at the time-out or end of output."""
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
