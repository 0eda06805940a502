#!/usr/bin/env python3
"""Block benchmark: virtio-blk throughput seen from inside the test guest,
squib beside QEMU's microvm machine, on the same backing file in one run.

The guest (tests/guest, `squibtest=blk-bench`) moves a fixed amount of data
(128 KiB requests for seqread/seqwrite, 4 KiB at pseudo-random 4 KiB-aligned
offsets from a fixed seed for randread/randwrite, so both VMMs get the same
I/O) with a chosen number of requests in flight, times it with its TSC and
prints

    SQUIB-GUEST blk-bench mode=... bytes=... reqs=... tsc_ticks=... tsc_hz=...
        mib_per_s=... iops=...

between two marker lines (`blk-bench-start`, `blk-bench-end`) that this
script timestamps with its own clock as a cross-check. At both markers it
also samples the VMM's CPU time (utime + stime of the whole process from
/proc/PID/stat: every thread, the vCPU's included, and I/O threads or
io_uring workers that have since exited) and reports CPU seconds per GiB
moved, and the same without the vCPU thread(s) (found by name: squib's
`fc_vcpu N`, QEMU's `CPU N/KVM`).

Figures only: nothing here passes or fails on a time. The development
machines are nested, 2-core and shared with other work, so compare the two
VMMs as ratios within one run of this script, never across runs.

    bench/block/run.py                          # everything, once
    bench/block/run.py --modes randread --qd 1,16 --runs 3
    bench/block/run.py --io-engine Async        # squib's io_uring engine only
    bench/block/run.py --poll                   # completions by polling
    bench/block/run.py --transport mmio,pci --modes randread
                     # virtio-pci (squib --enable-pci, QEMU q35 virtio-blk-pci)
                     # beside virtio-mmio, and a table of the two side by side

squib is driven through its API (PUT /boot-source, /machine-config,
/drives/bench, then InstanceStart), or with --no-api and a --config-file
when --squib-config-file is given. If squib refuses the drive, the reason is
printed and QEMU's figures still are.

Backing store: a file in a temporary directory, filled with data (so reads
are not served from unwritten extents) and read once so it sits in the host
page cache. squib uses cache_type Unsafe (no FLUSH offered; buffered I/O
through the page cache), QEMU `cache=writeback,aio=threads` (also buffered
through the page cache; it would honour flushes, but the guest sends none):
the closest pair of settings the two have.
"""
import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import vmm  # noqa: E402  (after the path insert)
from vmm import GUEST, ROOT, SQUIB  # noqa: E402

QEMU_CACHE = "cache=writeback,aio=threads"
SQUIB_CACHE = "Unsafe"

MODES = ("seqread", "seqwrite", "randread", "randwrite")
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1024.0 ** 3


class Run:
    """One guest run: the guest's figures, host marker times, CPU time."""

    def __init__(self, vmm):
        self.vmm = vmm
        self.error = None
        self.figures = {}          # the blk-bench result line's keys
        self.host_s = None         # between the marker lines, host clock
        self.cpu_s = None          # VMM process CPU between the markers
        self.cpu_other_s = None    # the same minus the vCPU thread(s)
        self.tail = []

    def mib_s(self):
        f = self.figures
        if not f.get("tsc_ticks") or not f.get("tsc_hz"):
            return None
        return f["bytes"] / 1048576.0 * f["tsc_hz"] / f["tsc_ticks"]

    def iops(self):
        f = self.figures
        if not f.get("tsc_ticks") or not f.get("tsc_hz"):
            return None
        return f["reqs"] * f["tsc_hz"] / f["tsc_ticks"]

    def cpu_per_gib(self, other=False):
        cpu = self.cpu_other_s if other else self.cpu_s
        b = self.figures.get("bytes")
        if cpu is None or not b:
            return None
        return cpu / (b / GIB)


VCPU_COMM = re.compile(r"^(fc_vcpu \d+|CPU \d+/KVM)$")  # squib, QEMU


def _stat_cpu(path):
    """utime + stime in seconds from a /proc stat file."""
    with open(path) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _proc_cpu(pid):
    """(whole process, its vCPU threads) CPU seconds, or None. The process
    figure keeps the time of threads that have already exited (QEMU's aio
    workers come and go); vCPU threads are found by name."""
    try:
        total = _stat_cpu("/proc/%d/stat" % pid)
    except OSError:
        return None
    vcpu = 0.0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        tids = []
    for tid in tids:
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "comm") as f:
                if VCPU_COMM.match(f.read().strip()):
                    vcpu += _stat_cpu(base + "stat")
        except (OSError, ValueError):
            pass
    return total, vcpu


def watch(run, proc, timeout):
    """Read the guest's serial lines from proc.stdout until the VMM exits;
    timestamp the markers and sample the CPU time there."""
    buf = b""
    start = end = None
    cpu0 = cpu1 = None
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            run.error = "timed out after %.0f s" % timeout
            break
        r, _, _ = select.select([fd], [], [], min(left, 1.0))
        if not r:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        now = time.monotonic()
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode(errors="replace").rstrip("\r")
            run.tail = (run.tail + [line])[-15:]
            if line == "SQUIB-GUEST blk-bench-start":
                start, cpu0 = now, _proc_cpu(proc.pid)
            elif line == "SQUIB-GUEST blk-bench-end":
                end, cpu1 = now, _proc_cpu(proc.pid)
            elif line.startswith("SQUIB-GUEST blk-bench ") and " bytes=" in line:
                run.figures = vmm.parse_kv(line)
            elif line.startswith("SQUIB-GUEST blk-bench ") and "error=" in line:
                run.error = "guest: " + line
    if start is not None and end is not None:
        run.host_s = end - start
    if cpu0 and cpu1:
        run.cpu_s = cpu1[0] - cpu0[0]
        run.cpu_other_s = run.cpu_s - (cpu1[1] - cpu0[1])
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if not run.figures and not run.error:
        run.error = "no blk-bench line; last lines:\n    " + "\n    ".join(run.tail)
    elif run.figures.get("complete") != "yes" and not run.error:
        run.error = "incomplete: %s" % run.figures
    return run


def cmdline(mode, mib, qd, poll):
    return ("console=ttyS0 reboot=k panic=1 squibtest=blk-bench squibbench=%s "
            "squibmib=%d squibqd=%d squibpoll=%d" % (mode, mib, qd, 1 if poll else 0))


def _name(base, transport):
    return base if transport == "mmio" else base + "-" + transport


def run_qemu(disk, args, mode, mib, qd, transport="mmio"):
    """virtio-mmio: microvm's virtio-blk-device. PCI: q35 (SeaBIOS assigns
    the BARs; microvm's pcie=on has no MCFG table for the guest to find
    the bus by) with a modern-only virtio-blk-pci, MSI-X."""
    run = Run(_name("qemu", transport))
    drive = ["-drive", "id=d0,file=%s,format=raw,if=none,%s" % (disk, args.qemu_cache)]
    if transport == "pci":
        argv = vmm.qemu_argv(args.guest, cmdline(mode, mib, qd, args.poll), args.mem_mib,
                             machine=vmm.QEMU_PCI_MACHINE, extra=drive + [
                                 "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"])
    else:
        argv = vmm.qemu_argv(args.guest, cmdline(mode, mib, qd, args.poll), args.mem_mib,
                             extra=drive + ["-device", "virtio-blk-device,drive=d0"])
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    return watch(run, proc, args.timeout)


def _squib_body(disk, args, engine, mode, mib, qd):
    return {
        "boot-source": {"kernel_image_path": args.guest,
                        "boot_args": cmdline(mode, mib, qd, args.poll)},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": args.mem_mib},
        "drives": [{"drive_id": "bench", "path_on_host": disk,
                    "is_root_device": False, "is_read_only": False,
                    "cache_type": args.squib_cache, "io_engine": engine}],
    }


def run_squib(disk, args, engine, mode, mib, qd, tmp, transport="mmio"):
    """Returns a Run; run.error starting with "drive:" means squib refused
    the drive itself (a build that cannot attach drives). transport "pci"
    starts squib with --enable-pci."""
    run = Run(_name("squib-" + engine, transport))
    extra = ["--enable-pci"] if transport == "pci" else []
    cfg = _squib_body(disk, args, engine, mode, mib, qd)
    log = os.path.join(tmp, "squib.log")
    open(log, "w").close()
    if args.squib_config_file:
        path = os.path.join(tmp, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        argv = [SQUIB, "--no-api", "--config-file", path, "--log-path", log] + extra
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        watch(run, proc, args.timeout)
        if run.error and not any(l.startswith("SQUIB-GUEST") for l in run.tail):
            with open(log, errors="replace") as f:
                text = [l.split("] ", 1)[-1] for l in f.read().splitlines()
                        if "rror" in l and "exiting with error" not in l]
            if text:
                run.error = "drive: " + text[-1]
        return run
    try:
        proc, api = vmm.start_squib(tmp, extra)
    except (OSError, RuntimeError) as e:
        run.error = str(e)
        return run
    try:
        for url, body in (("/boot-source", cfg["boot-source"]),
                          ("/machine-config", cfg["machine-config"]),
                          ("/drives/bench", cfg["drives"][0]),
                          ("/actions", {"action_type": "InstanceStart"})):
            status, fault = api.put(url, body)
            if status != 204:
                kind = "drive: " if url in ("/drives/bench", "/actions") else ""
                run.error = "%sPUT %s: %d %s" % (kind, url, status, fault)
                vmm.stop(proc)
                return run
    except OSError as e:
        run.error = str(e)
        vmm.stop(proc)
        return run
    return watch(run, proc, args.timeout)


def make_disk(path, mib):
    """A preallocated file full of non-zero data, read once into the page
    cache so both VMMs start from the same warm cache."""
    chunk = bytes((i * 7 + 0x5a) & 0xff for i in range(1 << 20))
    with open(path, "wb") as f:
        os.posix_fallocate(f.fileno(), 0, mib << 20)
        for _ in range(mib):
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


def _median_run(runs):
    """The run with the median MiB/s (errors dropped); None if none worked."""
    good = [r for r in runs if not r.error and r.mib_s()]
    if not good:
        return runs[0] if runs else None
    good.sort(key=lambda r: r.mib_s())
    return good[len(good) // 2]


def print_table(title, rows):
    print()
    print(title)
    hdr = ["mode", "qd", "squib MiB/s", "squib IOPS", "QEMU MiB/s", "QEMU IOPS",
           "squib/QEMU", "squib CPU s/GiB", "QEMU CPU s/GiB",
           "squib non-vCPU", "QEMU non-vCPU"]
    table = []
    for mode, qd, s, q in rows:
        table.append([
            mode, str(qd),
            vmm.fmt(s.mib_s() if s and not s.error else None),
            vmm.fmt(s.iops() if s and not s.error else None, "%.0f"),
            vmm.fmt(q.mib_s() if q and not q.error else None),
            vmm.fmt(q.iops() if q and not q.error else None, "%.0f"),
            vmm.ratio(s.mib_s() if s and not s.error else None,
                      q.mib_s() if q and not q.error else None),
            vmm.fmt(s.cpu_per_gib() if s and not s.error else None, "%.2f"),
            vmm.fmt(q.cpu_per_gib() if q and not q.error else None, "%.2f"),
            vmm.fmt(s.cpu_per_gib(True) if s and not s.error else None, "%.2f"),
            vmm.fmt(q.cpu_per_gib(True) if q and not q.error else None, "%.2f"),
        ])
    vmm.print_table(hdr, table)


def print_transports(results, modes, qds, bases):
    """PCI beside MMIO for each VMM: IOPS, the mean time a request is in
    flight (queue depth / IOPS, Little's law) and their ratio."""
    print()
    print("virtio-pci (MSI-X) beside virtio-mmio: IOPS, mean latency = qd / IOPS")
    table = []
    for base in bases:
        for m in modes:
            for q in qds:
                a, b = results.get((base, m, q)), results.get((base + "-pci", m, q))
                ia = a.iops() if a and not a.error else None
                ib = b.iops() if b and not b.error else None
                table.append([base, m, str(q), vmm.fmt(ia, "%.0f"), vmm.fmt(ib, "%.0f"),
                              vmm.ratio(ib, ia),
                              vmm.fmt(q * 1e6 / ia if ia else None),
                              vmm.fmt(q * 1e6 / ib if ib else None)])
    vmm.print_table(["vmm", "mode", "qd", "mmio IOPS", "pci IOPS", "pci/mmio",
                     "mmio lat us", "pci lat us"], table)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--qd", default="1,16", help="requests in flight, comma list")
    ap.add_argument("--seq-mib", type=int, default=1024, help="MiB moved per sequential run")
    ap.add_argument("--rand-mib", type=int, default=32, help="MiB moved per random run")
    ap.add_argument("--disk-mib", type=int, default=256, help="backing file size")
    ap.add_argument("--mem-mib", type=int, default=128)
    ap.add_argument("--runs", type=int, default=1, help="runs per cell (median kept)")
    ap.add_argument("--io-engine", default="Sync,Async",
                    help="squib io_engine values, comma list (Sync, Async)")
    ap.add_argument("--vmm", default="squib,qemu")
    ap.add_argument("--transport", default="mmio",
                    help="virtio transports, comma list: mmio (squib's default; QEMU "
                         "microvm), pci (squib --enable-pci; QEMU q35, virtio-blk-pci)")
    ap.add_argument("--poll", action="store_true", help="completions by polling")
    ap.add_argument("--squib-cache", default=SQUIB_CACHE, help="squib cache_type")
    ap.add_argument("--qemu-cache", default=QEMU_CACHE, help="QEMU -drive cache/aio options")
    ap.add_argument("--squib-config-file", action="store_true",
                    help="start squib with --no-api --config-file instead of the API")
    ap.add_argument("--guest", default=GUEST)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per guest run")
    ap.add_argument("--json", help="also write every run's figures to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args(argv)

    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            ap.error("unknown mode %s" % m)
    qds = [int(x) for x in args.qd.split(",") if x]
    engines = [e for e in args.io_engine.split(",") if e]
    transports = [t for t in args.transport.split(",") if t]
    for t in transports:
        if t not in ("mmio", "pci"):
            ap.error("unknown transport %s" % t)
    vmms = set(args.vmm.split(","))
    vmm.check_tools(args.guest, vmms, (SQUIB,))

    tmp = tempfile.mkdtemp(prefix="squib-bench-block-")
    disk = os.path.join(tmp, "disk.img")
    print("block benchmark: guest %s, backing file %d MiB (preallocated, "
          "filled, page cache warm)" % (os.path.relpath(args.guest, ROOT), args.disk_mib))
    print("squib: cache_type=%s, io_engine %s; QEMU microvm: %s "
          "(both buffered through the host page cache; the guest sends no flushes)"
          % (args.squib_cache, "/".join(engines), args.qemu_cache))
    print("requests: 128 KiB sequential (%d MiB per run), 4 KiB random (%d MiB per run); "
          "completions by %s; %d run(s) per cell, median kept"
          % (args.seq_mib, args.rand_mib, "polling" if args.poll else "interrupt",
             args.runs))
    print("MiB/s and IOPS from the guest's TSC; CPU s/GiB = VMM process "
          "utime+stime between the guest's start/end lines (all threads, the "
          "vCPU's included) per GiB moved; non-vCPU = the same without the "
          "vCPU thread (I/O threads, io_uring and aio workers, event loop); "
          "/proc ticks are 1/%d s" % CLK_TCK)
    print("nested 2-core machine shared with other work: compare ratios within "
          "this run only")
    make_disk(disk, args.disk_mib)

    results = {}      # (vmm, mode, qd) -> Run; vmm names end in -pci for PCI
    squib_refused = {}
    try:
        for mode in modes:
            mib = args.seq_mib if mode.startswith("seq") else args.rand_mib
            for qd in qds:
                cell = []
                for t in transports:
                    if "qemu" in vmms:
                        cell.append((_name("qemu", t), None, t))
                    if "squib" in vmms:
                        cell += [(_name("squib-" + e, t), e, t) for e in engines
                                 if e not in squib_refused]
                runs = {name: [] for name, _, _ in cell}
                for _ in range(args.runs):
                    for name, engine, t in cell:
                        if engine in squib_refused:
                            continue
                        if engine is None:
                            r = run_qemu(disk, args, mode, mib, qd, t)
                        else:
                            r = run_squib(disk, args, engine, mode, mib, qd, tmp, t)
                            if r.error and r.error.startswith("drive:"):
                                squib_refused[engine] = r.error[len("drive:"):].strip()
                                print("squib: cannot attach drives in this build: "
                                      "%s (io_engine %s)" % (squib_refused[engine], engine))
                                continue
                        runs[name].append(r)
                        status = ("error: " + r.error) if r.error else (
                            "%.1f MiB/s %.0f IOPS, host %.2f s" %
                            (r.mib_s(), r.iops(), r.host_s or 0))
                        print("  %-10s %-15s qd=%-3d %s" % (mode, name, qd, status))
                        sys.stdout.flush()
                for name, rs in runs.items():
                    if rs:
                        results[(name, mode, qd)] = _median_run(rs)
    finally:
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    for t in transports:
        qemu_desc = "microvm, " if t == "mmio" else "q35, virtio-blk-pci, "
        for engine in engines:
            if "squib" in vmms and engine in squib_refused:
                print("\nsquib: cannot attach drives in this build: %s (io_engine %s)"
                      % (squib_refused[engine], engine))
            rows = [(m, q, results.get((_name("squib-" + engine, t), m, q)),
                     results.get((_name("qemu", t), m, q))) for m in modes for q in qds]
            print_table("virtio-%s: squib io_engine=%s vs QEMU (%s%s):"
                        % (t, engine, qemu_desc, args.qemu_cache), rows)
    if len(transports) > 1:
        print_transports(results, modes, qds, ["squib-" + e for e in engines] + ["qemu"])
    if args.json:
        out = []
        for (name, mode, qd), r in sorted(results.items()):
            out.append({"vmm": name, "mode": mode, "qd": qd, "error": r.error,
                        "figures": r.figures, "host_s": r.host_s, "cpu_s": r.cpu_s,
                        "cpu_other_s": r.cpu_other_s, "mib_s": r.mib_s(),
                        "iops": r.iops()})
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
