"""Helpers for tests (and benchmarks) that boot a real Linux guest.

Not a test module itself: tests import it (`from linux_guest import ...`;
pytest puts tests/integration on sys.path). It finds the guest kernel and the
root file systems the project's scripts build and cache outside the
repository, knows the kernel command line the test kernel needs on nested
(PVM) hosts, says why such a test must be skipped, and watches a VMM's serial
output for marker lines with timestamps.

    reason = skip_reason()          # None, or a printed sentence
    kernel = kernel_path()          # cached vmlinux (ELF, PVH note)
    root = rootfs_copy("ext4", tmp_path)   # writable copy of the root image
    args = cmdline("squib.test=marker", root="ext4")
    watcher = SerialWatcher(proc.stdout)   # proc: the VMM, serial on stdout
    line = watcher.wait_for(MARKER, timeout=BOOT_TIMEOUT)

A real-Linux boot takes minutes on the nested development machines (150 s to
/init under QEMU when the machine is quiet, 600 s when it is busy), so give
such tests BOOT_TIMEOUT, start them early (a fixture scoped to the whole run
can start the VMM and let other tests run while it boots), and keep them few. Environment overrides:

    SQUIB_GUEST_KERNEL  use this kernel file instead of the script's
    SQUIB_GUEST_BUILD=1 allow kernel_path() to build the kernel from source
                        (10-15 minutes) when no prebuilt one is available
    SQUIB_CACHE         cache directory of the scripts (default
                        ${XDG_CACHE_HOME:-~/.cache}/squib)
"""
import fcntl
import os
import re
import shutil
import subprocess
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(ROOT, "scripts")
GUEST_KERNEL_SH = os.path.join(SCRIPTS, "guest-kernel.sh")
MKROOTFS_SH = os.path.join(SCRIPTS, "mkrootfs.sh")

# Printed by the root file systems' /init (scripts/guest/init).
INIT_START = "SQUIB-INIT-START"
MARKER = "SQUIB-LINUX-INIT-OK"
DONE = "SQUIB-DONE"

# Seconds a test should allow from VMM start to MARKER. Measured under QEMU on
# the nested machines: about 150 s on a quiet machine, 600 s with other VMs
# and builds competing for its two cores.
BOOT_TIMEOUT = 1200

# The console and exit words every real-Linux test wants: serial console on
# ttyS0, reboot through the i8042 (which ends a Firecracker-style VMM), reboot
# one second after a panic.
CONSOLE_CMDLINE = "console=ttyS0 reboot=k panic=1"

ROOT_CMDLINE = {
    "ext4": "root=/dev/vda rw init=/init",
    "initramfs": "rdinit=/init",
}


def _read_required_cmdline():
    path = os.path.join(SCRIPTS, "guest", "required-cmdline")
    with open(path) as f:
        words = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    return " ".join(words)


# The words the test kernel needs on nested (PVM) hosts; see
# scripts/guest/required-cmdline for why. Harmless on real hardware.
REQUIRED_CMDLINE = _read_required_cmdline()

_KVM_GET_API_VERSION = 0xAE00
_KVM_API_VERSION = 12

# kernel_path() runs the script once per process; its answer is kept here.
_kernel_cache = {}


def cmdline(extra="", root="ext4", console=True):
    """The full kernel command line for a test.

    REQUIRED_CMDLINE, then CONSOLE_CMDLINE (unless console is False), then the
    root words for root ("ext4": root=/dev/vda rw init=/init, which expects
    the root image as the first virtio-blk device; "initramfs": rdinit=/init;
    None: nothing), then extra (e.g. "squib.test=blkrw").
    """
    parts = [REQUIRED_CMDLINE]
    if console:
        parts.append(CONSOLE_CMDLINE)
    if root is not None:
        parts.append(ROOT_CMDLINE[root])
    if extra:
        parts.append(extra)
    return " ".join(parts)


def _run_script(args, timeout):
    try:
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout, text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    out = p.stdout.strip().splitlines()
    if p.returncode != 0 or not out:
        err = p.stderr.strip().splitlines()
        return None, (err[-1] if err else "exit %d" % p.returncode)
    return out[-1], None


def kernel_path():
    """Path of the guest kernel, or None (kernel_unavailable() says why).

    Order: $SQUIB_GUEST_KERNEL; a kernel already built from the project's
    config (scripts/guest-kernel.sh --source build) in the cache; the prebuilt
    kernel from a shared guest folder (decompressed and checksummed by the
    script, about a second); a source build only when SQUIB_GUEST_BUILD=1.
    The answer is kept for the rest of the process.
    """
    if "path" in _kernel_cache:
        return _kernel_cache["path"]
    path, why = None, None
    env = os.environ.get("SQUIB_GUEST_KERNEL")
    if env:
        if os.path.isfile(env):
            path = env
        else:
            why = "SQUIB_GUEST_KERNEL=%s does not exist" % env
    else:
        # A kernel built from the project's own config, if one is cached for
        # the current fragment: it reached /init 3.5 times sooner than the
        # prebuilt one under QEMU (docs/guest.md).
        path, why = _run_script([GUEST_KERNEL_SH, "--source", "build", "--check"], 60)
        if path is None:
            path, why = _run_script([GUEST_KERNEL_SH, "--check"], 60)
        if path is None:
            path, why = _run_script([GUEST_KERNEL_SH, "--source", "shared"], 300)
        if path is None and os.environ.get("SQUIB_GUEST_BUILD") == "1":
            path, why = _run_script([GUEST_KERNEL_SH], 3 * 3600)
        if path is None:
            why = ("no guest kernel (%s); run scripts/guest-kernel.sh to build one, "
                   "or set SQUIB_GUEST_BUILD=1" % why)
    _kernel_cache["path"] = path
    _kernel_cache["why"] = why
    return path


def kernel_unavailable():
    """Why kernel_path() returned None, or None when it found a kernel."""
    kernel_path()
    return _kernel_cache["why"]


def rootfs(kind):
    """Path of the cached, pristine root image of kind "ext4", "initramfs"
    or "data" (see scripts/mkrootfs.sh). Never boot it writable: use
    rootfs_copy(). Raises RuntimeError if the script fails."""
    if kind not in ("ext4", "initramfs", "data"):
        raise ValueError("unknown rootfs kind %r" % kind)
    path, why = _run_script([MKROOTFS_SH, kind], 120)
    if path is None:
        raise RuntimeError("scripts/mkrootfs.sh %s failed: %s" % (kind, why))
    return path


def rootfs_copy(kind, dest_dir):
    """A private copy of rootfs(kind) in dest_dir (sparse), for a guest that
    may write to it. Returns its path."""
    src = rootfs(kind)
    dst = os.path.join(str(dest_dir), os.path.basename(src))
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)
    return dst


def kvm_unusable():
    """None if /dev/kvm opens read-write and speaks KVM API 12, else why."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return "/dev/kvm is not usable: %s" % e.strerror
    try:
        version = fcntl.ioctl(fd, _KVM_GET_API_VERSION)
    except OSError as e:
        return "/dev/kvm: KVM_GET_API_VERSION failed: %s" % e.strerror
    finally:
        os.close(fd)
    if version != _KVM_API_VERSION:
        return "/dev/kvm: KVM API version %d, need %d" % (version, _KVM_API_VERSION)
    return None


def tools_missing():
    """None if the root-image tools are installed, else which is missing."""
    for tool, pkg in (("mkfs.ext4", "e2fsprogs"), ("xz", "xz-utils")):
        if not shutil.which(tool) and not os.path.exists("/sbin/" + tool):
            return "%s missing (Debian package %s)" % (tool, pkg)
    if not os.path.exists("/bin/busybox"):
        return "/bin/busybox missing (Debian package busybox-static)"
    return None


def skip_reason():
    """None when a real-Linux test can run here, else the reason (also
    printed, so it shows in the test log next to the skip)."""
    why = kvm_unusable() or tools_missing() or (
        None if kernel_path() else kernel_unavailable())
    if why:
        print("linux guest: skipping: " + why)
    return why


def require():
    """pytest.skip() with skip_reason() unless a real-Linux test can run."""
    why = skip_reason()
    if why:
        import pytest
        pytest.skip(why)


class SerialWatcher:
    """Reads a VMM's serial output (a pipe) on a thread and timestamps it.

    t0 is the reference time (default: now; pass the time taken just before
    starting the VMM). first_byte is the time of the first byte (seconds
    after t0) or None; lines is a list of (seconds after t0, text) with the
    line end removed. A partial last line is in lines once its newline
    arrives or the pipe closes. Everything read is also appended to
    log_path when given.
    """

    def __init__(self, pipe, t0=None, log_path=None):
        self.t0 = time.monotonic() if t0 is None else t0
        self.first_byte = None
        self.lines = []
        self.closed = False
        self._pipe = pipe
        self._cond = threading.Condition()
        self._log = open(log_path, "ab") if log_path else None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        fd = self._pipe.fileno()
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            now = time.monotonic() - self.t0
            with self._cond:
                if chunk and self.first_byte is None:
                    self.first_byte = now
                if self._log and chunk:
                    self._log.write(chunk)
                    self._log.flush()
                pending += chunk
                *full, pending = pending.split(b"\n")
                if not chunk and pending:
                    full.append(pending)
                    pending = b""
                for raw in full:
                    text = raw.rstrip(b"\r").decode(errors="replace")
                    self.lines.append((now, text))
                if not chunk:
                    self.closed = True
                self._cond.notify_all()
            if not chunk:
                break
        if self._log:
            self._log.close()

    def find(self, pattern):
        """(time, line) of the first line matching regex pattern so far, or
        None."""
        rx = re.compile(pattern)
        with self._cond:
            for t, text in self.lines:
                if rx.search(text):
                    return t, text
        return None

    def wait_for(self, pattern, timeout):
        """Wait until a line matches regex pattern; return (time, line), or
        None on timeout or when the pipe closes without a match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for t, text in self.lines[seen:]:
                    if rx.search(text):
                        return t, text
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    return None
                self._cond.wait(min(left, 1.0))

    def wait_closed(self, timeout):
        """Wait for end of output; True if it ended within timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def text(self):
        """All complete lines so far, joined with newlines."""
        with self._cond:
            return "\n".join(text for _, text in self.lines)
