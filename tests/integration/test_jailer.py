"""build/jailer for real: squib started in a jail, as root.

Each test builds its jail under a temporary --chroot-base-dir, starts
build/squib in it with an unprivileged uid/gid, talks to the API through
<jail>/run/firecracker.socket, looks at the process from the host (/proc),
and removes everything it made: the squib process, the jail, the cgroups
and the network namespace. No KVM is needed: squib's API serves without
/dev/kvm. Every test is skipped, with the reason, when not run as root.
"""
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, SQUIB, Client, fd_targets

JAILER = os.path.join(BUILD, "jailer")


def is_static(path):
    """True if the ELF file at path has no program interpreter (PT_INTERP),
    i.e. needs no shared library: the only kind that runs in a jail."""
    import struct
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:  # PT_INTERP
                return False
    return True


# The jail holds only the exec file, so it must be static. Sanitizer builds
# link squib dynamically; their jailer then jails the product build's squib.
EXEC_FILE = SQUIB
if not os.path.exists(SQUIB) or not is_static(SQUIB):
    EXEC_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                             "..", "..", "build", "squib")
    EXEC_FILE = os.path.normpath(EXEC_FILE)
UID = 65534
GID = 65534
CGROUP_V1 = "/sys/fs/cgroup"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the jailer needs root (mount "
                                       "namespace, pivot_root, mknod, "
                                       "setuid)")

_seq = [0]


def unique(prefix):
    _seq[0] += 1
    return "%s-%d-%d" % (prefix, os.getpid(), _seq[0])


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_and_wait(pid, timeout=10.0):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            # Reap it if it is our child (the jailer exec'd into it).
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            return
        time.sleep(0.01)
    raise AssertionError("pid %d did not exit" % pid)


class Jail:
    """One jailer run: its id, paths, and everything to clean up."""

    def __init__(self, tmp_path, jail_id=None):
        # A short base: the socket path must fit sun_path (108 bytes), and
        # pytest's tmp_path can be long.
        self.base = tempfile.mkdtemp(prefix="sqj-", dir="/tmp")
        self.id = jail_id or unique("vm")
        self.root = os.path.join(self.base, "squib", self.id, "root")
        self.sock = os.path.join(self.root, "run", "firecracker.socket")
        self.pid_file = os.path.join(self.root, "squib.pid")
        self.out = str(tmp_path / ("%s.out" % self.id))
        self.proc = None
        self.pids = []
        self.cgroup_dirs = []  # removed last to first

    def argv(self, args=(), extra=()):
        a = [JAILER, "--id", self.id, "--exec-file", EXEC_FILE,
             "--uid", str(UID), "--gid", str(GID),
             "--chroot-base-dir", self.base] + list(args)
        if extra:
            a += ["--"] + list(extra)
        return a

    def start(self, args=(), extra=(), **kw):
        """Start the jailer (which becomes squib unless it forks)."""
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(self.argv(args, extra), stdout=out,
                                         stderr=subprocess.STDOUT, **kw)
        return self.proc

    def run(self, args=(), extra=(), env=None):
        """Run the jailer to its end; returns CompletedProcess."""
        return subprocess.run(self.argv(args, extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30, env=env)

    def wait_ready(self, timeout=10.0):
        """Wait for the pid file and the API socket; returns squib's pid."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if os.path.exists(self.pid_file) and os.path.exists(self.sock):
                try:
                    with open(self.pid_file) as f:
                        pid = int(f.read())
                except ValueError:
                    pid = None
                if pid and pid not in self.pids:
                    self.pids.append(pid)
                if pid:
                    try:
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.connect(self.sock)
                        s.close()
                        return pid
                    except OSError:
                        pass
            if self.proc and self.proc.poll() not in (None, 0):
                break
            time.sleep(0.005)
        with open(self.out, "rb") as f:
            log = f.read()
        raise AssertionError("jailed squib not ready; output: %r" % log)

    def get(self, path="/"):
        c = Client(self.sock)
        try:
            return c.request("GET", path)
        finally:
            c.close()

    def close(self):
        # Also whatever the pid file names, if a test failed before
        # wait_ready saw it.
        try:
            with open(self.pid_file) as f:
                pid = int(f.read())
            if pid not in self.pids and pid_alive(pid):
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if self.id.encode() in f.read():
                        self.pids.append(pid)
        except (OSError, ValueError):
            pass
        for pid in self.pids:
            kill_and_wait(pid)
        if self.proc:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(timeout=10)
        for d in reversed(self.cgroup_dirs):
            if os.path.isdir(d):
                os.rmdir(d)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def jail(tmp_path):
    if not os.path.exists(JAILER):
        pytest.skip("build/jailer is not built (make jailer)")
    if not os.path.exists(EXEC_FILE) or not is_static(EXEC_FILE):
        pytest.skip("no statically linked squib to jail (%s); make "
                    "build/squib" % EXEC_FILE)
    j = Jail(tmp_path)
    yield j
    j.close()


def status_field(pid, name):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return None


def limit(pid, name):
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith(name):
                return line[len(name):].split()[:2]
    return None


def test_jailed_squib_serves_as_uid_in_chroot(jail, tmp_path):
    outside = tmp_path / "outside-the-jail"
    outside.write_text("secret")
    # An inherited fd the jailer must close.
    leak = open(str(tmp_path / "inherited"), "w")
    os.environ["SQUIB_JAILER_TEST_VAR"] = "x"
    try:
        jail.start(pass_fds=[leak.fileno()])
    finally:
        del os.environ["SQUIB_JAILER_TEST_VAR"]
    pid = jail.wait_ready()
    assert pid == jail.proc.pid  # the jailer exec'd into squib

    r = jail.get("/")
    assert r.status == 200
    assert r.json()["id"] == jail.id

    # Unprivileged, supplementary groups dropped.
    assert status_field(pid, "Uid") == [str(UID)] * 4
    assert status_field(pid, "Gid") == [str(GID)] * 4
    assert status_field(pid, "Groups") == []

    # Only the jail is visible from inside.
    root = "/proc/%d/root" % pid
    assert sorted(os.listdir(root)) == ["dev", "run", "squib", "squib.pid"]
    assert not os.path.exists(root + str(outside))
    assert not os.path.exists(root + "/proc")
    with open("/proc/%d/mountinfo" % pid) as f:
        mounts = [l.split()[4] for l in f]
    assert mounts == ["/"]

    # The jail's files: folders 0700, devices 0600, all owned uid:gid.
    for d in ["", "dev", "dev/net", "run"]:
        st = os.stat(os.path.join(jail.root, d))
        assert stat.S_IMODE(st.st_mode) == 0o700, d
        assert (st.st_uid, st.st_gid) == (UID, GID), d
    devices = {"dev/net/tun": (10, 200), "dev/kvm": (10, 232),
               "dev/urandom": (1, 9)}
    for name, (major, minor) in devices.items():
        st = os.stat(os.path.join(jail.root, name))
        assert stat.S_ISCHR(st.st_mode), name
        assert stat.S_IMODE(st.st_mode) == 0o600, name
        assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (major, minor)
        assert (st.st_uid, st.st_gid) == (UID, GID), name
    copy = os.stat(os.path.join(jail.root, "squib"))
    src = os.stat(EXEC_FILE)
    assert stat.S_IMODE(copy.st_mode) == stat.S_IMODE(src.st_mode)
    assert (copy.st_uid, copy.st_gid) == (UID, GID)
    assert copy.st_size == src.st_size
    with open(jail.pid_file) as f:
        assert f.read() == str(pid)

    # The command line upstream's jailer gives firecracker.
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    assert argv[:3] == [b"/squib", b"--id", jail.id.encode()]
    assert [argv[3], argv[5], argv[7]] == [
        b"--start-time-us", b"--start-time-cpu-us", b"--parent-cpu-time-us"]
    assert all(a.isdigit() for a in (argv[4], argv[6], argv[8]))
    assert len(argv) == 9

    # Empty environment, no inherited fd, 2048 fds (the default limit).
    with open("/proc/%d/environ" % pid, "rb") as f:
        assert f.read() == b""
    assert not any(t.endswith("inherited") for t in fd_targets(pid))
    assert limit(pid, "Max open files") == ["2048", "2048"]
    leak.close()


def test_extra_args_reach_squib(jail):
    jail.sock = os.path.join(jail.root, "api.sock")
    jail.start(extra=["--api-sock", "/api.sock"])
    pid = jail.wait_ready()
    assert jail.get("/").status == 200
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        argv = f.read().split(b"\0")[:-1]
    assert argv[9:] == [b"--api-sock", b"/api.sock"]
    assert os.stat(jail.sock).st_uid == UID


def cgroup_v1_mounted(controller):
    with open("/proc/mounts") as f:
        for line in f:
            dev, d, kind, opts = line.split()[:4]
            if kind == "cgroup" and controller in opts.split(","):
                return d
    return None


def test_cgroup_v1(jail):
    cpu = cgroup_v1_mounted("cpu")
    cpuset = cgroup_v1_mounted("cpuset")
    if not cpu or not cpuset:
        pytest.skip("cgroup v1 cpu and cpuset controllers are not mounted")
    parent = unique("squib-test")
    for mount in (cpu, cpuset):
        jail.cgroup_dirs += [os.path.join(mount, parent),
                             os.path.join(mount, parent, jail.id)]
    jail.start(args=["--parent-cgroup", parent,
                     "--cgroup", "cpu.shares=123",
                     "--cgroup", "cpuset.cpus=0",
                     "--cgroup", "cpuset.mems=0"])
    pid = jail.wait_ready()
    assert jail.get("/").status == 200
    with open(os.path.join(cpu, parent, jail.id, "cpu.shares")) as f:
        assert f.read() == "123\n"
    with open(os.path.join(cpuset, parent, jail.id, "cpuset.cpus")) as f:
        assert f.read() == "0\n"
    for mount in (cpu, cpuset):
        with open(os.path.join(mount, parent, jail.id, "tasks")) as f:
            assert str(pid) in f.read().split()
    with open("/proc/%d/cgroup" % pid) as f:
        lines = f.read().splitlines()
    want = "/%s/%s" % (parent, jail.id)
    assert any(l.endswith(":cpu:" + want) or (":cpu," in l and
                                               l.endswith(want))
               for l in lines)
    assert any(l.endswith(":cpuset:" + want) for l in lines)


def cgroup_v2_mount():
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


def read_words(path):
    with open(path) as f:
        return f.read().split()


def test_cgroup_v2(jail):
    unified = cgroup_v2_mount()
    if not unified:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    controllers = read_words(os.path.join(unified, "cgroup.controllers"))
    if "hugetlb" not in controllers:
        pytest.skip("the cgroup v2 hierarchy has no hugetlb controller "
                    "(have: %s)" % " ".join(controllers))
    root_ctl = os.path.join(unified, "cgroup.subtree_control")
    enabled_before = "hugetlb" in read_words(root_ctl)
    parent = unique("squib-test")
    jail.cgroup_dirs += [os.path.join(unified, parent),
                         os.path.join(unified, parent, jail.id)]
    try:
        jail.start(args=["--cgroup-version", "2", "--parent-cgroup", parent,
                         "--cgroup", "hugetlb.2MB.max=2097152"])
        pid = jail.wait_ready()
        assert jail.get("/").status == 200
        cg = os.path.join(unified, parent, jail.id)
        # Enabled in every ancestor, the value written, the pid moved in.
        assert "hugetlb" in read_words(root_ctl)
        assert "hugetlb" in read_words(os.path.join(
            unified, parent, "cgroup.subtree_control"))
        assert read_words(os.path.join(cg, "hugetlb.2MB.max")) == ["2097152"]
        assert str(pid) in read_words(os.path.join(cg, "cgroup.procs"))
        with open("/proc/%d/cgroup" % pid) as f:
            assert "0::/%s/%s\n" % (parent, jail.id) in f.read()
    finally:
        jail.close()
        if not enabled_before:
            with open(root_ctl, "w") as f:
                f.write("-hugetlb")


def test_cgroup_v2_move_into_parent(jail):
    """v2 without --cgroup: an existing --parent-cgroup takes the process."""
    unified = cgroup_v2_mount()
    if not unified:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    parent = unique("squib-test")
    os.mkdir(os.path.join(unified, parent))
    jail.cgroup_dirs.append(os.path.join(unified, parent))
    jail.start(args=["--cgroup-version", "2", "--parent-cgroup", parent])
    pid = jail.wait_ready()
    assert str(pid) in read_words(os.path.join(unified, parent,
                                               "cgroup.procs"))
    assert not os.path.exists(os.path.join(unified, parent, jail.id))


def test_netns(jail):
    if not shutil.which("ip"):
        pytest.skip("the ip command is missing (Debian package iproute2)")
    name = unique("squib-jail")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        path = "/var/run/netns/" + name
        jail.start(args=["--netns", path])
        pid = jail.wait_ready()
        assert jail.get("/").status == 200
        assert os.stat("/proc/%d/ns/net" % pid).st_ino == os.stat(path).st_ino
        assert os.stat("/proc/%d/ns/net" % pid).st_ino != \
            os.stat("/proc/self/ns/net").st_ino
    finally:
        jail.close()
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_daemonize(jail):
    t0 = time.monotonic()
    p = jail.run(args=["--daemonize"])
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"" and p.stderr == b""
    assert time.monotonic() - t0 < 10
    pid = jail.wait_ready()
    assert pid_alive(pid)
    assert jail.get("/").status == 200
    # After the double fork: its pid is not its SID, the SID is not ours
    # (setsid), stdio on /dev/null.
    assert os.getsid(pid) != pid
    assert os.getsid(pid) != os.getsid(0)
    null = os.stat("/dev/null").st_rdev
    for fd in (0, 1, 2):
        assert os.stat("/proc/%d/fd/%d" % (pid, fd)).st_rdev == null


def test_new_pid_ns(jail):
    jail.start(args=["--new-pid-ns"])
    assert jail.proc.wait(timeout=10) == 0  # the parent exits once forked
    pid = jail.wait_ready()
    assert pid != jail.proc.pid and pid_alive(pid)
    assert jail.get("/").status == 200
    # Host pid in the pid file; pid 1 in its own namespace.
    assert status_field(pid, "NSpid") == [str(pid), "1"]
    assert os.stat("/proc/%d/ns/pid" % pid).st_ino != \
        os.stat("/proc/self/ns/pid").st_ino


def test_resource_limits(jail):
    jail.start(args=["--resource-limit", "fsize=1048576",
                     "--resource-limit", "no-file=512"])
    pid = jail.wait_ready()
    assert jail.get("/").status == 200
    assert limit(pid, "Max file size") == ["1048576", "1048576"]
    assert limit(pid, "Max open files") == ["512", "512"]


def error_text(display, debug):
    return ("%s\nError: %s\n" % (display, debug)).encode()


ERROR_CASES = [
    ("bad-flag", ["--bogus"], None,
     error_text("Failed to parse arguments: Found argument 'bogus' which "
                "wasn't expected, or isn't valid in this context.",
                "ArgumentParsing(UnexpectedArgument(\"bogus\"))")),
    ("missing-value", ["--netns"], None,
     error_text("Failed to parse arguments: The argument 'netns' requires "
                "a value, but none was supplied.",
                "ArgumentParsing(MissingValue(\"netns\"))")),
    ("missing-exec-file", [], "/nonexistent/squib",
     error_text("Failed to canonicalize path /nonexistent/squib: No such "
                "file or directory (os error 2)",
                "Canonicalize(\"/nonexistent/squib\", Os { code: 2, kind: "
                "NotFound, message: \"No such file or directory\" })")),
    ("exec-file-is-a-dir", [], "/",
     error_text("/ is not a file", "NotAFile(\"/\")")),
    ("unknown-controller", ["--cgroup", "nosuchctl.value=1"], None,
     error_text("Controller nosuchctl is unavailable",
                "CgroupControllerUnavailable(\"nosuchctl\")")),
    ("cgroup-format", ["--cgroup", "cpu.shares"], None,
     error_text("Invalid format for cgroups: cpu.shares",
                "CgroupFormat(\"cpu.shares\")")),
    ("resource-limit", ["--resource-limit", "stack=1"], None,
     error_text("Invalid resource argument: stack",
                "ResLimitArgument(\"stack\")")),
    ("duplicate-uid", ["--uid", "x"], None,
     error_text("Failed to parse arguments: The argument 'uid' was "
                "provided more than once.",
                "ArgumentParsing(DuplicateArgument(\"uid\"))")),
]


@pytest.mark.parametrize("args,exec_file,want",
                         [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_errors(jail, args, exec_file, want):
    argv = jail.argv(args)
    if exec_file:
        argv[argv.index("--exec-file") + 1] = exec_file
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 1
    assert p.stdout == b""
    assert p.stderr == want
    # Nothing left behind: no jail, no cgroup.
    assert os.listdir(jail.base) == []
    for ctrl in ("cpu", "cpuset"):
        mount = cgroup_v1_mounted(ctrl)
        if mount:
            assert not os.path.exists(os.path.join(mount, "squib", jail.id))


def test_invalid_id(jail):
    jail.id = "bad_id"
    p = jail.run()
    assert p.returncode == 1
    assert p.stderr == error_text(
        "Invalid instance ID: Invalid char (_) at position 3",
        "InvalidInstanceId(InvalidChar('_', 3))")
    assert os.listdir(jail.base) == []


def test_existing_jail_is_refused(jail):
    """A second run with the same id finds the device nodes of the first:
    upstream fails at the first mknod, after entering the jail."""
    jail.start()
    pid = jail.wait_ready()
    kill_and_wait(pid)
    jail.proc.wait(timeout=10)
    # The error comes inside the jail, where a sanitizer build's leak check
    # at exit cannot read /proc; the product build ignores the variable.
    p = jail.run(env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))
    assert p.returncode == 1
    assert p.stderr == error_text(
        "Failed to create /dev/net/tun via mknod inside the jail: File "
        "exists (os error 17)",
        "MknodDev(Os { code: 17, kind: AlreadyExists, message: \"File "
        "exists\" }, \"/dev/net/tun\")")


def test_help_and_version():
    if not os.path.exists(JAILER):
        pytest.skip("build/jailer is not built (make jailer)")
    p = subprocess.run([JAILER, "--help"], stdout=subprocess.PIPE)
    assert p.returncode == 0
    assert p.stdout.startswith(b"Jailer v1.17.0-dev\n\nrequired arguments:\n"
                               b"  --exec-file <exec-file>   File path to "
                               b"exec into.\n")
    assert p.stdout.endswith(b"\n\nAny arguments after the -- separator will"
                             b" be supplied to the jailed binary.\n\n")
    p = subprocess.run([JAILER, "--version", "--bogus"],
                       stdout=subprocess.PIPE)
    assert (p.returncode, p.stdout) == (0, b"Jailer v1.17.0-dev\n\n")


def test_vm_boots_in_jail(jail, tmp_path):
    """The whole path a platform takes: the jailer joins a network
    namespace holding a TAP owned by the jail's uid, squib (default seccomp
    filters, uid 65534, only the chroot visible) is configured through the
    jail's socket with paths relative to the chroot, files handed in by
    hard link (or copy across file systems), and boots the test guest with
    a drive, the NIC, entropy, balloon and vsock devices attached; the guest pings
    the namespace's end of the TAP, pauses and resumes, and resets: squib
    exits 0."""
    from test_boot_guest import GUEST_DIR, kvm_skip_reason
    from test_boot_guest import every, guest_lines
    import netns
    why = kvm_skip_reason() or netns.skip_reason()
    if why:
        pytest.skip(why)
    ns = netns.NetNs()
    try:
        ns.run(["ip", "tuntap", "add", "dev", "sqjtap0", "mode", "tap",
                "user", str(UID), "group", str(GID)])
        ns.run(["ip", "addr", "add", "192.168.241.1/24", "dev", "sqjtap0"])
        ns.run(["ip", "link", "set", "sqjtap0", "up"])
        jail.start(args=["--netns", "/var/run/netns/" + ns.name])
        pid = jail.wait_ready()
        kernel = os.path.join(GUEST_DIR, "guest-linux.elf")
        disk = tmp_path / "rootfs.img"
        disk.write_bytes(b"\0" * (64 << 10))
        for src, name in ((kernel, "guest.elf"), (str(disk), "rootfs.img")):
            dst = os.path.join(jail.root, name)
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
            os.chown(dst, UID, GID)
        api = Client(jail.sock)
        args = ("console=ttyS0 reboot=k panic=1 squibtest=net-ping "
                "squibhost=192.168.241.1 squibip=192.168.241.2 squibcount=3")
        for path, body in (
                ("/boot-source", {"kernel_image_path": "guest.elf", "boot_args": args}),
                ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
                ("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": "rootfs.img",
                                    "is_root_device": True}),
                ("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "sqjtap0",
                                              "guest_mac": "06:00:c0:a8:f1:02"}),
                ("/entropy", {}),
                ("/balloon", {"amount_mib": 0, "deflate_on_oom": False}),
                ("/vsock", {"guest_cid": 3, "uds_path": "v.sock"}),
                ("/actions", {"action_type": "InstanceStart"})):
            r = api.request("PUT", path, body)
            assert r.status == 204, (path, r.raw)
        assert os.path.exists(os.path.join(jail.root, "v.sock"))
        assert api.request("PATCH", "/vm", {"state": "Paused"}).status == 204
        assert api.request("PATCH", "/vm", {"state": "Resumed"}).status == 204
        api.close()
        assert jail.proc.wait(timeout=120) == 0
        with open(jail.out, "rb") as f:
            out = f.read().decode(errors="replace")
        lines = guest_lines(out)
        pings = every(lines, "net-ping")
        assert pings and pings[-1]["received"] == "3", out[-3000:]
        assert "bad syscall" not in out
        assert "Firecracker exiting successfully" in out
        assert not pid_alive(pid)
    finally:
        jail.close()
        ns.close()
