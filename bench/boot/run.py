#!/usr/bin/env python3
"""Boot benchmark: the same guest under QEMU's microvm machine and under squib.

For each run it prints the wall time from starting the VMM process to the
first byte on the serial console, to /init's first line (SQUIB-INIT-START),
to the marker line (SQUIB-LINUX-INIT-OK, or --marker), and to the VMM's exit,
and the VMM's resident set size when the marker appeared and at its peak
(VmHWM, read while it runs). Figures only: nothing here passes or fails on a time
(the machines are nested VMs where times swing; compare VMMs within one run
of this script).

    bench/boot/run.py                         # real Linux, ext4 root, QEMU
    bench/boot/run.py --runs 3 --vmm qemu,squib
    bench/boot/run.py --root initramfs
    bench/boot/run.py --guest build/guest/<image> --marker 'SQUIB-GUEST'

The two VMMs are a pair of functions with one signature,
    run_qemu(image, cmdline, opts) -> Result | None
    run_squib(image, cmdline, opts) -> Result | None
where image is a Guest (kernel plus optional root disk, data disk or
initramfs) and None means "skipped" (the reason is printed). run_squib()
starts build/squib (or $SQUIB_BUILD/squib) with --no-api and a
Firecracker-format --config-file, with the serial console on its stdout. It
is off until squib can boot a guest: SQUIB_CAN_BOOT below says so, and
--squib forces it on to try. When squib boots guests, set SQUIB_CAN_BOOT to
True (and adjust _squib_config() if the config needs more).
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import linux_guest  # noqa: E402  (after the path insert)
from vmm import rss_kib, status_kib  # noqa: E402

# Flip once squib boots guests from --config-file; --squib overrides.
SQUIB_CAN_BOOT = True

# QEMU's microvm machine, set up as close to Firecracker's machine as QEMU
# allows: ACPI on (the kernel finds virtio-mmio devices only in the DSDT), no
# virtio_mmio.device= words added to the command line, one ISA serial port,
# no PCI, no option ROMs. -no-reboot turns a guest reset into QEMU's exit.
QEMU = "qemu-system-x86_64"
QEMU_MACHINE = ("microvm,acpi=on,auto-kernel-cmdline=off,isa-serial=on,"
                "pcie=off,rtc=on,x-option-roms=off")
# QEMU's microvm has no i8042, so the guest's reboot=k reset does not reach
# it: the test /init powers off through ACPI instead (S5, which microvm turns
# into QEMU's exit). Appended only to QEMU's command line.
QEMU_EXTRA_CMDLINE = "squib.exit=poweroff"
# -arch-capabilities: the nested hypervisor here refuses MSR 0x10a, and QEMU
# asserts when it cannot set it. Costs nothing elsewhere.
QEMU_CPU = "host,-arch-capabilities"


class Guest:
    """What to boot: a kernel and how its root is provided."""

    def __init__(self, kernel, root_disk=None, data_disk=None, initrd=None,
                 name=None, rng=False):
        self.kernel = kernel
        self.rng = rng                  # attach a virtio-rng (entropy) device
        self.root_disk = root_disk      # first virtio-blk (vda), read-write
        self.data_disk = data_disk      # second virtio-blk (vdb), read-write
        self.initrd = initrd
        self.name = name or os.path.basename(kernel)


class Options:
    def __init__(self, mem_mib=128, vcpus=1, timeout=1200.0, marker=None,
                 linger=5.0, log_dir=None):
        self.mem_mib = mem_mib
        self.vcpus = vcpus
        self.timeout = timeout          # seconds to wait for the marker
        self.marker = marker or linux_guest.MARKER
        self.linger = linger            # seconds to wait for exit after it
        self.log_dir = log_dir          # serial logs go here when set


class Result:
    def __init__(self, vmm):
        self.vmm = vmm
        self.first_byte = None          # seconds from process start
        self.init_start = None
        self.marker = None
        self.exit = None                # None: killed after linger
        self.exit_code = None
        self.rss_at_marker_kib = None
        self.vmm_rss_kib = None         # at the marker, guest RAM excluded
        self.max_rss_kib = None
        self.error = None               # set when the marker never came
        self.output = ""                # all serial lines
        self.tail = ""                  # the last 15, for error reports

    def row(self):
        def f(v):
            return "%.3f" % v if v is not None else "-"
        return [self.vmm, f(self.first_byte), f(self.init_start), f(self.marker),
                f(self.exit), str(self.rss_at_marker_kib or "-"),
                str(self.vmm_rss_kib or "-"), str(self.max_rss_kib or "-")]

    def as_dict(self):
        return {k: v for k, v in vars(self).items() if k not in ("tail", "output")}


def _vmm_rss_kib(pid, mem_mib):
    """RSS of pid without its guest RAM: the sum of Rss over every mapping
    in /proc/PID/smaps except those at least as large as the guest memory
    (the RAM block(s) a VMM maps for its guest). The VMM's own overhead."""
    total = 0
    size = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                if line.startswith("Size:"):
                    size = int(line.split()[1])
                elif line.startswith("Rss:") and size is not None:
                    if size < mem_mib * 1024:
                        total += int(line.split()[1])
                    size = None
    except OSError:
        return None
    return total


def _hwm_kib(pid):
    """Peak RSS so far (VmHWM) of a live process, or 0."""
    return status_kib(pid, "VmHWM") or 0


# The highest VmHWM seen per pid while polling it (a zombie has none, so
# the last read before the reap is the process's peak as far as we know).
_HWM_SEEN = {}


def _wait4(pid, timeout):
    """Reap pid within timeout: (status, rusage) or None if still running."""
    deadline = time.monotonic() + timeout
    while True:
        _HWM_SEEN[pid] = max(_HWM_SEEN.get(pid, 0), _hwm_kib(pid))
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid == pid:
            return status, usage
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def watch(vmm, argv, opts, cwd=None):
    """Start argv (a VMM whose stdout is the guest's serial console), time it
    as described at the top of this file, stop it, and return a Result."""
    res = Result(vmm)
    log_path = None
    if opts.log_dir:
        log_path = os.path.join(opts.log_dir, "%s-%d.serial" % (vmm, int(time.time() * 1000)))
    stderr = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=stderr, cwd=cwd)
    serial = linux_guest.SerialWatcher(proc.stdout, t0=t0, log_path=log_path)
    hit = serial.wait_for(opts.marker, opts.timeout)
    if hit:
        res.marker = hit[0]
        res.rss_at_marker_kib = rss_kib(proc.pid)
        res.vmm_rss_kib = _vmm_rss_kib(proc.pid, opts.mem_mib)
        _HWM_SEEN[proc.pid] = _hwm_kib(proc.pid)
    reaped = _wait4(proc.pid, opts.linger if hit else 0)
    hwm = 0
    if reaped is None:
        hwm = _hwm_kib(proc.pid)
        proc.send_signal(signal.SIGKILL)
        reaped = _wait4(proc.pid, 30)
    else:
        res.exit = time.monotonic() - t0
    proc.returncode = -1  # reaped here; keep Popen from waiting again
    status, usage = reaped
    res.exit_code = os.waitstatus_to_exitcode(status)
    # Not ru_maxrss: for a child started by fork+exec it includes the
    # Python parent's pages the child had before exec (about 16 MiB), which
    # would swamp a small VMM's figure. VmHWM read while it lived instead.
    del usage
    res.max_rss_kib = max(_HWM_SEEN.pop(proc.pid, 0), hwm, res.rss_at_marker_kib or 0)
    serial.wait_closed(5)
    res.first_byte = serial.first_byte
    start = serial.find(linux_guest.INIT_START)
    res.init_start = start[0] if start else None
    res.output = serial.text()
    res.tail = "\n".join(res.output.splitlines()[-15:])
    if not hit:
        stderr.seek(0)
        err = stderr.read().decode(errors="replace").strip()
        if serial.closed and time.monotonic() - t0 < opts.timeout:
            how = "output ended after %.0f s" % (time.monotonic() - t0)
        else:
            how = "not within %.0f s" % opts.timeout
        res.error = "no %r: %s (exit %s)%s" % (
            opts.marker, how, res.exit_code, (": " + err[-500:]) if err else "")
    stderr.close()
    return res


def run_qemu(image, cmdline, opts):
    """Boot image under qemu-system-x86_64 -M microvm with KVM; None (and a
    printed reason) if QEMU is not installed."""
    if not shutil_which(QEMU):
        print("qemu: %s not installed (Debian package qemu-system-x86)" % QEMU)
        return None
    argv = [QEMU, "-M", QEMU_MACHINE, "-accel", "kvm", "-cpu", QEMU_CPU,
            "-smp", str(opts.vcpus), "-m", str(opts.mem_mib),
            "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
            "-serial", "stdio", "-kernel", image.kernel,
            "-append", cmdline + " " + QEMU_EXTRA_CMDLINE]
    if image.initrd:
        argv += ["-initrd", image.initrd]
    for i, disk in enumerate(d for d in (image.root_disk, image.data_disk) if d):
        argv += ["-drive", "id=d%d,file=%s,format=raw,if=none" % (i, disk),
                 "-device", "virtio-blk-device,drive=d%d" % i]
    if image.rng:
        argv += ["-object", "rng-random,id=rng0,filename=/dev/urandom",
                 "-device", "virtio-rng-device,rng=rng0"]
    return watch("qemu", argv, opts)


def _squib_config(image, cmdline, opts):
    """The Firecracker-format VM config for image (digest section 3.5)."""
    cfg = {
        "boot-source": {"kernel_image_path": image.kernel, "boot_args": cmdline},
        "machine-config": {"vcpu_count": opts.vcpus, "mem_size_mib": opts.mem_mib},
        "drives": [],
    }
    if image.initrd:
        cfg["boot-source"]["initrd_path"] = image.initrd
    if image.rng:
        cfg["entropy"] = {}
    if image.root_disk:
        cfg["drives"].append({"drive_id": "rootfs", "path_on_host": image.root_disk,
                              "is_root_device": False, "is_read_only": False})
    if image.data_disk:
        cfg["drives"].append({"drive_id": "data", "path_on_host": image.data_disk,
                              "is_root_device": False, "is_read_only": False})
    return cfg


def run_squib(image, cmdline, opts, force=False):
    """Boot image under squib with --no-api --config-file. Until squib can
    boot guests (SQUIB_CAN_BOOT, or force) this prints why and returns None.

    The drives are not marked as root devices: the command line already says
    root=/dev/vda, and Firecracker would add its own root= word otherwise."""
    build = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
    squib = os.path.join(build, "squib")
    if not (SQUIB_CAN_BOOT or force):
        print("squib: not yet able to boot (skipped; --squib tries anyway)")
        return None
    if not os.access(squib, os.X_OK):
        print("squib: %s not built (run make)" % squib)
        return None
    with tempfile.TemporaryDirectory(prefix="squib-bench-") as tmp:
        cfg_path = os.path.join(tmp, "vm.json")
        with open(cfg_path, "w") as f:
            json.dump(_squib_config(image, cmdline, opts), f, indent=1)
        argv = [squib, "--no-api", "--config-file", cfg_path,
                "--log-path", os.path.join(tmp, "squib.log"), "--level", "Warning"]
        # --log-path must name an existing file or FIFO (as upstream).
        open(os.path.join(tmp, "squib.log"), "w").close()
        res = watch("squib", argv, opts, cwd=tmp)
        if res.error:
            with open(os.path.join(tmp, "squib.log"), errors="replace") as f:
                log = f.read().strip()
            if log:
                res.error += "; log: " + log[-500:]
        return res


def shutil_which(name):
    import shutil
    return shutil.which(name)


RUNNERS = {"qemu": run_qemu, "squib": run_squib}


def _summary(results):
    rows = [r for r in results if r is not None and not r.error]
    if not rows:
        return None
    out = Result(rows[0].vmm + " median")
    for field in ("first_byte", "init_start", "marker", "exit",
                  "rss_at_marker_kib", "vmm_rss_kib", "max_rss_kib"):
        vals = [getattr(r, field) for r in rows if getattr(r, field) is not None]
        if vals:
            m = statistics.median(vals)
            setattr(out, field, int(m) if field.endswith("kib") else m)
    return out


def _print_table(rows):
    head = ["vmm", "first byte s", "init start s", "marker s", "exit s",
            "RSS@marker KiB", "VMM RSS KiB (no guest RAM)", "max RSS KiB"]
    table = [head] + [r.row() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        print("  ".join(c.rjust(w) if i else c.ljust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmm", default="qemu,squib",
                    help="comma-separated: qemu, squib (default both)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--kernel", help="guest kernel (default: scripts/guest-kernel.sh)")
    ap.add_argument("--root", choices=("ext4", "initramfs"), default="ext4",
                    help="real Linux: root on virtio-blk (default) or an initramfs")
    ap.add_argument("--test", default="marker",
                    help="squib.test= for the real-Linux /init (default marker)")
    ap.add_argument("--rng", action="store_true",
                    help="attach a virtio-rng device (implied by --test hwrng)")
    ap.add_argument("--guest", help="boot this image instead of Linux (e.g. one of "
                    "the project's test guests in build/guest/); no root, no "
                    "required command line")
    ap.add_argument("--cmdline", help="replace the whole kernel command line")
    ap.add_argument("--append", default="", help="add words to the command line")
    ap.add_argument("--marker", help="regex of the line that ends the timing "
                    "(default %s, or SQUIB-GUEST with --guest)" % linux_guest.MARKER)
    ap.add_argument("--mem", type=int, default=128, help="MiB (default 128)")
    ap.add_argument("--vcpus", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds to wait for the marker (default 1200 for "
                    "Linux, 10 with --guest)")
    ap.add_argument("--linger", type=float, default=None,
                    help="seconds to wait for the VMM to exit after the marker")
    ap.add_argument("--log-dir", help="keep each run's serial output here")
    ap.add_argument("--squib", action="store_true",
                    help="run squib even though SQUIB_CAN_BOOT is False")
    ap.add_argument("--json", action="store_true", help="also print JSON results")
    args = ap.parse_args(argv)

    why = linux_guest.kvm_unusable()
    if why:
        print("boot bench: skipped: " + why)
        return 0

    tmp = tempfile.TemporaryDirectory(prefix="boot-bench-")
    if args.guest:
        image = Guest(os.path.abspath(args.guest), rng=args.rng)
        cmdline = args.cmdline if args.cmdline is not None else "console=ttyS0 reboot=k panic=1"
        marker = args.marker or "SQUIB-GUEST"
        timeout = args.timeout or 10.0
        linger = 1.0 if args.linger is None else args.linger
    else:
        kernel = args.kernel or linux_guest.kernel_path()
        if not kernel:
            print("boot bench: skipped: " + linux_guest.kernel_unavailable())
            return 0
        image = Guest(kernel, name="linux-" + args.root,
                      rng=args.rng or args.test == "hwrng")
        if args.root == "ext4":
            image.root_disk = linux_guest.rootfs_copy("ext4", tmp.name)
            if args.test == "blkrw":
                image.data_disk = linux_guest.rootfs_copy("data", tmp.name)
        else:
            image.initrd = linux_guest.rootfs("initramfs")
        cmdline = args.cmdline if args.cmdline is not None else linux_guest.cmdline(
            "squib.test=%s" % args.test, root=args.root)
        marker = args.marker or linux_guest.MARKER
        timeout = args.timeout or linux_guest.BOOT_TIMEOUT
        linger = 30.0 if args.linger is None else args.linger
    if args.append:
        cmdline += " " + args.append
    opts = Options(mem_mib=args.mem, vcpus=args.vcpus, timeout=timeout,
                   marker=marker, linger=linger, log_dir=args.log_dir)
    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)

    print("guest: %s" % image.name)
    print("kernel: %s" % image.kernel)
    print("cmdline: %s" % cmdline)
    all_rows, report = [], {}
    for vmm in [v.strip() for v in args.vmm.split(",") if v.strip()]:
        if vmm not in RUNNERS:
            ap.error("unknown vmm %r" % vmm)
        results = []
        for i in range(args.runs):
            if vmm == "squib":
                r = run_squib(image, cmdline, opts, force=args.squib)
            else:
                r = RUNNERS[vmm](image, cmdline, opts)
            if r is None:
                break
            results.append(r)
            if r.error:
                print("%s run %d: %s\n%s" % (vmm, i + 1, r.error, r.tail))
            # A guest that writes its root disk must start from the pristine
            # image each run.
            if image.root_disk:
                image.root_disk = linux_guest.rootfs_copy("ext4", tmp.name)
            if image.data_disk:
                image.data_disk = linux_guest.rootfs_copy("data", tmp.name)
        all_rows += results
        s = _summary(results) if len(results) > 1 else None
        if s:
            all_rows.append(s)
        report[vmm] = [r.as_dict() for r in results]
    if all_rows:
        _print_table(all_rows)
    if args.json:
        print(json.dumps({"guest": image.name, "cmdline": cmdline, "results": report},
                         indent=1))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
