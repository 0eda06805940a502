"""Shared fixtures for squib's integration tests.

`squib` starts build/squib (or $SQUIB_BUILD/squib) on a fresh socket in a
temporary directory and yields a handle with a raw HTTP/1.1 client, so tests
can check responses byte for byte.

`squib_test_factory` starts build/squib-test instead: the same program linked
with the test hooks (tests/support/hooks.c), which read the SQUIB_TEST_*
environment variables. The product binary ignores them.
"""
import os
import re
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
SQUIB = os.path.join(BUILD, "squib")
SQUIB_TEST = os.path.join(BUILD, "squib-test")


def pytest_collection_modifyitems(config, items):
    """SQUIB_GUEST_TESTS_ONLY=1 keeps only the test files that boot guests
    (those that use test_boot_guest.kvm_skip_reason), so that a run inside
    the slow nested VM (make nested-integration) spends its time on what a
    host without /dev/kvm skipped, not on the API tests it already ran."""
    if os.environ.get("SQUIB_GUEST_TESTS_ONLY") != "1":
        return
    keep, drop = [], []
    for item in items:
        mod = getattr(item, "module", None)
        (keep if mod is not None and hasattr(mod, "kvm_skip_reason")
         else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# One of squib's log lines ("2026-12-07T18:51:08.543666270 [id:thread] ...").
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+ \[[^\]\n]*\][^\n]*\n")


def unsplice_log_lines(text):
    """squib writes each log line in one write(2), but the guest's serial
    output comes a byte or a line at a time on the same stdout, so on a slow
    host a log line can land in the middle of a guest line. Move every log
    line that does not start a line to just after the line it cut, so both
    read whole."""
    out, held, pos = [], [], 0
    for m in LOG_LINE.finditer(text):
        if m.start() == 0 or text[m.start() - 1] == "\n":
            continue
        out.append(text[pos:m.start()])
        held.append(m.group(0))
        pos = m.end()
        nl = text.find("\n", pos)
        nxt = LOG_LINE.search(text, pos)
        # Release the held lines at the end of the cut line, unless another
        # mid-line log line comes first (then it joins the held ones).
        if nl >= 0 and (nxt is None or nxt.start() > nl or
                        text[nxt.start() - 1] == "\n"):
            out.append(text[pos:nl + 1])
            out.extend(held)
            held = []
            pos = nl + 1
    out.append(text[pos:])
    out.extend(held)
    return "".join(out)


class Response:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        self.status_line = lines[0]
        self.status = int(lines[0].split(b" ")[1])
        self.headers = [tuple(l.split(b": ", 1)) for l in lines[1:]]

    def header(self, name):
        for k, v in self.headers:
            if k.decode().lower() == name.lower():
                return v.decode()
        return None

    def json(self):
        import json
        return json.loads(self.body)

    @property
    def fault(self):
        return self.json()["fault_message"]


def fd_targets(pid):
    """What each of a live process's open fds points at (readlink of
    /proc/PID/fd/N: a path, "anon_inode:...", "socket:[...]"); an fd closed
    while the list is read is left out."""
    targets = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return targets


def rss_kib(pid):
    """VmRSS of a live process, in KiB (0 if it has none)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def read_response(sock, timeout=10.0):
    """Read exactly one HTTP response (Content-Length framed) from sock."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before headers: %r" % data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Response(head + b"\r\n\r\n" + rest[:length]), rest[length:]


class Client:
    """One keep-alive connection to the API socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.leftover = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self, timeout=10.0):
        if self.leftover:
            # A response already buffered from a previous read.
            s = self.leftover
            self.leftover = b""
            fake = _BufferedSock(s, self.sock)
            resp, self.leftover = read_response(fake, timeout)
            return resp
        resp, self.leftover = read_response(self.sock, timeout)
        return resp

    def request(self, method, path, body=None, headers=None):
        if isinstance(body, (dict, list)):
            import json
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        req = "%s %s HTTP/1.1\r\n" % (method, path)
        for k, v in (headers or {}).items():
            req += "%s: %s\r\n" % (k, v)
        if body is not None:
            req += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
        req = req.encode() + b"\r\n" + (body or b"")
        self.send_raw(req)
        return self.recv()

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body)

    def close(self):
        self.sock.close()


class _BufferedSock:
    def __init__(self, prefix, sock):
        self.prefix = prefix
        self.sock = sock

    def settimeout(self, t):
        self.sock.settimeout(t)

    def recv(self, n):
        if self.prefix:
            out, self.prefix = self.prefix[:n], self.prefix[n:]
            return out
        return self.sock.recv(n)


class Squib:
    """A squib process. Its logger writes to a file of its own (--log-path,
    unless the test passes one), so that log lines never land inside the
    guest's serial output on stdout; output() returns both. `prefix` goes
    in front of the command line: a wrapper that ends by exec'ing the rest
    (such as `unshare -n sh -c '...; exec "$@"' sh`), so that the process
    waited for and killed is squib itself."""

    def __init__(self, tmpdir, args=(), env=None, wait=True, binary=SQUIB,
                 prefix=(), console=False):
        self.tmpdir = str(tmpdir)
        n = 0
        while os.path.exists(os.path.join(self.tmpdir, "squib%d.out" % n)):
            n += 1
        self.sock_path = os.path.join(self.tmpdir, "api%d.sock" % n)
        self.log_path = os.path.join(self.tmpdir, "squib%d.out" % n)
        self.logger_path = None
        cmd = [binary]
        if "--api-sock" not in args and "--no-api" not in args:
            cmd += ["--api-sock", self.sock_path]
        if "--log-path" not in args and "--help" not in args and "-h" not in args:
            self.logger_path = os.path.join(self.tmpdir, "squib%d.log" % n)
            cmd += ["--log-path", self.logger_path]
        cmd = list(prefix) + cmd + list(args)
        self.out = open(self.log_path, "wb")
        e = dict(os.environ)
        e.update(env or {})
        # console=True: stdin is a pipe that type() writes to (the guest's
        # serial input); otherwise /dev/null.
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.PIPE if console else subprocess.DEVNULL,
                                     env=e, cwd=self.tmpdir)
        self._clients = []
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout=10.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(self.sock_path):
                try:
                    c = Client(self.sock_path)
                    c.close()
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("squib exited %d: %s" % (self.proc.returncode, self.output()))
            time.sleep(0.005)
        raise TimeoutError("squib socket not ready: " + self.output())

    def client(self):
        c = Client(self.sock_path)
        self._clients.append(c)
        return c

    def serial(self):
        """What squib wrote to stdout/stderr (the guest's serial console and
        squib's log lines, unspliced: see unsplice_log_lines)."""
        self.out.flush()
        with open(self.log_path, "rb") as f:
            return unsplice_log_lines(f.read().decode(errors="replace"))

    def logs(self):
        """squib's log file ("" if it has none yet)."""
        if not self.logger_path or not os.path.exists(self.logger_path):
            return ""
        with open(self.logger_path, "rb") as f:
            return f.read().decode(errors="replace")

    def type(self, text):
        """Write text to squib's stdin, which feeds the guest's serial
        port (started with console=True)."""
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def output(self):
        """stdout/stderr with the log file after its last whole line; a
        line the guest is still printing comes last, so it never runs into
        the log's first line and guest_lines() still sees it unfinished."""
        ser = self.serial()
        cut = ser.rfind("\n") + 1
        return ser[:cut] + self.logs() + ser[cut:]

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout)

    def stop(self):
        for c in self._clients:
            try:
                c.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        self.out.close()


def _factory(tmp_path, binary):
    """Yield a function that starts `binary`; stop all it started after."""
    started = []

    def make(args=(), env=None, wait=True, prefix=(), console=False):
        s = Squib(tmp_path, args, env, wait, binary, prefix, console)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def squib_factory(tmp_path):
    yield from _factory(tmp_path, SQUIB)


@pytest.fixture
def squib_test_factory(tmp_path):
    """Like squib_factory, for build/squib-test (the test hooks)."""
    if not os.path.exists(SQUIB_TEST):
        raise RuntimeError(SQUIB_TEST + " is not built (make squib-test)")
    yield from _factory(tmp_path, SQUIB_TEST)


@pytest.fixture
def squib(squib_factory):
    return squib_factory()


@pytest.fixture
def api(squib):
    """A keep-alive client on a freshly started squib."""
    return squib.client()
