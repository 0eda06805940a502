#!/usr/bin/env python3
"""Balloon benchmark: host memory the balloon gives back, squib beside
QEMU's microvm machine (virtio-balloon-device), the same guest in one run.

The test guest (tests/guest, `squibtest=balloon-follow`, README "virtio-
balloon tests") writes one byte in every 4 KiB page from 64 MiB to the end
of its RAM (so the VMM's resident set holds nearly all of it), prints
`balloon-touched`, then follows the device's num_pages as Linux's driver
does: 256 PFNs a chain, `actual` written after each, and a
`balloon-follow actual=N` line once it reaches the target.

Per VMM and run: the VMM's RSS (VmRSS) once the guest has touched its
memory, then the balloon is set to --balloon-mib (squib: PATCH /balloon
amount_mib, after PUT /balloon amount_mib 0 before boot; QEMU: QMP
`balloon` with the guest size that leaves), and from that request on
VmRSS is polled every few ms until the guest's line has come and the RSS
has not moved for --settle-ms. Printed: RSS before and after, MiB given
back, the time from the request to the guest's line and to the RSS
reaching its final value (within 1 MiB); then the balloon set back to 0
and the time to the guest's line.

Figures only: nothing here passes or fails on a time. The development
machines are nested, 2-core and shared: compare the two VMMs as ratios
within one run of this script.

    bench/balloon/run.py
    bench/balloon/run.py --runs 5 --mem-mib 512 --balloon-mib 384
"""
import argparse
import os
import statistics
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vmm  # noqa: E402  (after the path insert)


def cmdline(mem_mib):
    return ("console=ttyS0 reboot=k panic=1 squibtest=balloon-follow "
            "squibmem=%d" % mem_mib)


class Result:
    def __init__(self, name):
        self.name = name
        self.error = None
        self.rss_before = None    # KiB, guest memory touched
        self.rss_after = None     # KiB, balloon inflated, RSS settled
        self.t_line = None        # s, request to the guest's line
        self.t_rss = None         # s, request to the RSS's final value
        self.t_deflate = None     # s, request 0 to the guest's line
        self.pages = None         # the guest's actual after inflating

    def freed_mib(self):
        if self.rss_before is None or self.rss_after is None:
            return None
        return (self.rss_before - self.rss_after) / 1024.0


def _steady_rss(pid, ms=300):
    """VmRSS once it stopped changing by more than 256 KiB over ms."""
    last = vmm.rss_kib(pid)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(ms / 1000.0)
        now = vmm.rss_kib(pid)
        if now is None or last is None or abs(now - last) <= 256:
            return now
        last = now
    return last


def measure(res, proc, serial, set_target, args):
    """Touched, inflate, settle, deflate; fills res."""
    target_pages = args.balloon_mib * 256
    serial.expect(r"SQUIB-GUEST balloon-touched ", args.timeout)
    res.rss_before = _steady_rss(proc.pid)
    t0 = time.monotonic()
    set_target(args.balloon_mib)
    samples = [(t0, res.rss_before)]
    line_t = None
    quiet_s = args.settle_ms / 1000.0
    deadline = t0 + args.timeout
    def inflated(line):
        return (line.startswith("SQUIB-GUEST balloon-follow actual=")
                and vmm.parse_kv(line).get("actual") == target_pages)

    while True:
        if line_t is None:
            hit = serial.wait(inflated, 0.002, after=t0)
            if hit:
                line_t = hit[0]
                res.pages = vmm.parse_kv(hit[1])["actual"]
        else:
            time.sleep(0.002)
        now = time.monotonic()
        rss = vmm.rss_kib(proc.pid)
        if rss is None:
            raise RuntimeError("the VMM exited")
        if rss != samples[-1][1]:
            samples.append((now, rss))
        if line_t is not None and now - samples[-1][0] >= quiet_s:
            break
        if now > deadline:
            raise RuntimeError("no settled RSS within %.0f s (guest line %s)"
                               % (args.timeout, "seen" if line_t else "not seen"))
    res.t_line = line_t - t0
    res.rss_after = samples[-1][1]
    # The first sample within 1 MiB of where the RSS ended.
    res.t_rss = next(t for t, r in samples if abs(r - res.rss_after) <= 1024) - t0
    t1 = time.monotonic()
    set_target(0)
    t, _ = serial.expect(r"SQUIB-GUEST balloon-follow actual=0 ", args.timeout,
                         after=t1)
    res.t_deflate = t - t1


def run_squib(args, tmp):
    res = Result("squib")

    def body(proc, api, serial):
        def set_target(mib):
            status, fault = api.patch("/balloon", {"amount_mib": mib})
            if status != 204:
                raise RuntimeError("PATCH /balloon: %d %s" % (status, fault))

        measure(res, proc, serial, set_target, args)

    res.error = vmm.run_squib_api(tmp, (
        ("/boot-source", {"kernel_image_path": args.guest,
                          "boot_args": cmdline(args.mem_mib)}),
        ("/machine-config", {"vcpu_count": 1, "mem_size_mib": args.mem_mib}),
        ("/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                      "stats_polling_interval_s": 0}),
        ("/actions", {"action_type": "InstanceStart"})), body)
    return res


def run_qemu(args, tmp):
    res = Result("qemu")
    qmp_path = os.path.join(tmp, "qmp.sock")
    argv = vmm.qemu_argv(args.guest, cmdline(args.mem_mib), args.mem_mib, extra=[
        "-device", "virtio-balloon-device",
        "-qmp", "unix:%s,server=on,wait=off" % qmp_path])

    def body(proc, qmp):
        def set_target(mib):
            # QMP's value is the size the guest is to be left with.
            qmp.cmd("balloon", value=(args.mem_mib - mib) << 20)

        measure(res, proc, vmm.Serial(proc.stdout), set_target, args)

    res.error = vmm.run_qemu_qmp(argv, qmp_path, body)
    return res


def _med(rs, f):
    vals = [f(r) for r in rs if not r.error and f(r) is not None]
    return statistics.median(vals) if vals else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mem-mib", type=int, default=512)
    ap.add_argument("--balloon-mib", type=int, default=384)
    ap.add_argument("--runs", type=int, default=3, help="runs per VMM (median kept)")
    ap.add_argument("--vmm", default="squib,qemu")
    ap.add_argument("--settle-ms", type=int, default=500,
                    help="RSS unchanged this long after the guest's line: settled")
    ap.add_argument("--guest", default=vmm.GUEST)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)

    vmms = [v for v in args.vmm.split(",") if v]
    vmm.check_tools(args.guest, vmms, (vmm.SQUIB,))

    print("balloon benchmark: %d MiB guest, memory from 64 MiB up touched, "
          "balloon to %d MiB and back to 0; %d run(s) per VMM, interleaved, "
          "median kept" % (args.mem_mib, args.balloon_mib, args.runs))
    print("squib: PATCH /balloon amount_mib; QEMU microvm virtio-balloon-device: "
          "QMP balloon; RSS = VmRSS of the VMM process")
    print("nested 2-core machine shared with other work: compare ratios within "
          "this run only")
    tmp = tempfile.mkdtemp(prefix="squib-bench-balloon-")
    results = {v: [] for v in vmms}
    try:
        for i in range(args.runs):
            for v in vmms:
                r = run_squib(args, tmp) if v == "squib" else run_qemu(args, tmp)
                results[v].append(r)
                if r.error:
                    print("  %-6s run %d error: %s" % (v, i + 1, r.error))
                else:
                    print("  %-6s run %d RSS %.1f -> %.1f MiB (%.1f given back), "
                          "guest line %.3f s, RSS settled %.3f s, deflate %.3f s"
                          % (v, i + 1, r.rss_before / 1024.0, r.rss_after / 1024.0,
                             r.freed_mib(), r.t_line, r.t_rss, r.t_deflate))
                sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    rows = []
    cols = (("RSS before MiB", lambda r: r.rss_before / 1024.0, "%.1f"),
            ("RSS after MiB", lambda r: r.rss_after / 1024.0, "%.1f"),
            ("given back MiB", Result.freed_mib, "%.1f"),
            ("inflate to guest line s", lambda r: r.t_line, "%.3f"),
            ("inflate to RSS settled s", lambda r: r.t_rss, "%.3f"),
            ("deflate to guest line s", lambda r: r.t_deflate, "%.3f"))
    for label, f, spec in cols:
        s = _med(results.get("squib", []), f)
        q = _med(results.get("qemu", []), f)
        rows.append([label, vmm.fmt(s, spec), vmm.fmt(q, spec), vmm.ratio(s, q)])
    vmm.print_table(["median", "squib", "QEMU", "squib/QEMU"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
