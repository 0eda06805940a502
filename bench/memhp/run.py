#!/usr/bin/env python3
"""Memory hot-plug benchmark: how long squib's virtio-mem takes to give a
test guest 1 GiB and to take it back.

The test guest (tests/guest, `squibtest=mem-follow`, README "memory-device
tests") follows the device's requested size: when it grows, one PLUG
request for the blocks above what is plugged (with --touch also a write to
every 4 KiB page of them, so the host backs them), when it drops to 0 one
UNPLUG_ALL; then a `mem-follow` line.

Per run: PUT /hotplug/memory (total --total-mib, block 2 MiB, slot 128
MiB) before boot; once the guest's driver is up, PATCH /hotplug/memory
requested_size_mib = --total-mib, and GET /hotplug/memory polled every
millisecond until plugged_size_mib equals it; then PATCH 0 and the same
until plugged_size_mib is 0. Printed: the time from each PATCH to the GET
that first showed the new plugged size, to the guest's `mem-follow` line,
and squib's RSS (VmRSS) before, plugged and unplugged.

QEMU is not beside it: QEMU's virtio-mem is PCI only (virtio-mem-pci), and
the test guest drives virtio-mem over virtio-mmio only.

Figures only: nothing here passes or fails on a time; the development
machines are nested, 2-core and shared.

    bench/memhp/run.py
    bench/memhp/run.py --runs 5 --total-mib 1024
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import vmm  # noqa: E402  (after the path insert)


class Result:
    def __init__(self, touch):
        self.touch = touch
        self.error = None
        self.rss = {}     # "before", "plugged", "unplugged": KiB
        self.t_get = {}   # "plug", "unplug": s, PATCH to GET showing it
        self.t_line = {}  # the same, to the guest's mem-follow line


def _wait_plugged(api, serial, mib, timeout):
    """(s to the GET showing plugged_size_mib == mib, s to the guest's
    mem-follow line with that plugged size), both from now."""
    t0 = time.monotonic()
    t_get = t_line = None
    want = "plugged=%#x " % (mib << 20) if mib else "plugged=0x0 "
    deadline = t0 + timeout
    while t_get is None or t_line is None:
        if time.monotonic() > deadline:
            raise RuntimeError("plugged_size_mib %d not reached in %.0f s"
                               % (mib, timeout))
        if t_get is None:
            status, st = api.get("/hotplug/memory")
            if status != 200:
                raise RuntimeError("GET /hotplug/memory: %d" % status)
            if st["plugged_size_mib"] == mib:
                t_get = time.monotonic() - t0
        serial.pump(0.001)
        if t_line is None:
            for t, line in serial.lines[serial.seen:]:
                if line.startswith("SQUIB-GUEST mem-follow ") and want in line:
                    t_line = t - t0
            serial.seen = len(serial.lines)
    return t_get, t_line


def run_squib(args, tmp, touch):
    res = Result(touch)
    proc = None
    try:
        proc, api = vmm.start_squib(tmp)
        serial = vmm.Serial(proc)
        vmm.configure_squib(api, (
            ("/boot-source", {"kernel_image_path": args.guest,
                              "boot_args": "console=ttyS0 reboot=k panic=1 "
                                           "squibtest=mem-follow squibtouch=%d" % touch}),
            ("/machine-config", {"vcpu_count": 1, "mem_size_mib": args.mem_mib}),
            ("/hotplug/memory", {"total_size_mib": args.total_mib,
                                 "block_size_mib": 2, "slot_size_mib": 128}),
            ("/actions", {"action_type": "InstanceStart"})))
        serial.wait(r"SQUIB-GUEST mem-config ", args.timeout)
        time.sleep(0.2)
        res.rss["before"] = vmm.rss_kib(proc.pid)
        for step, mib in (("plug", args.total_mib), ("unplug", 0)):
            status, fault = api.patch("/hotplug/memory", {"requested_size_mib": mib})
            if status != 204:
                raise RuntimeError("PATCH /hotplug/memory: %d %s" % (status, fault))
            res.t_get[step], res.t_line[step] = _wait_plugged(api, serial, mib,
                                                              args.timeout)
            res.rss["plugged" if mib else "unplugged"] = vmm.rss_kib(proc.pid)
    except (OSError, RuntimeError, KeyError, TypeError) as e:
        res.error = str(e)
    finally:
        if proc:
            vmm.stop(proc)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--total-mib", type=int, default=1024,
                    help="hot-pluggable size, plugged and unplugged whole")
    ap.add_argument("--mem-mib", type=int, default=128, help="boot RAM")
    ap.add_argument("--runs", type=int, default=3, help="runs per variant (median kept)")
    ap.add_argument("--touch", default="0,1",
                    help="variants: 0 plug only, 1 the guest also writes every page")
    ap.add_argument("--guest", default=vmm.GUEST)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)

    if not os.path.exists(args.guest):
        sys.exit("no guest at %s: run `make guests`" % args.guest)
    if not os.access(vmm.SQUIB, os.X_OK):
        sys.exit("no squib at %s: run `make`" % vmm.SQUIB)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("no access to /dev/kvm")
    touches = [int(t) for t in args.touch.split(",") if t]

    print("memory hot-plug benchmark: virtio-mem %d MiB (block 2 MiB, slot 128 "
          "MiB), plugged whole and unplugged whole; %d run(s) per variant, "
          "median kept" % (args.total_mib, args.runs))
    print("QEMU: not compared (its virtio-mem is virtio-mem-pci only; the test "
          "guest drives virtio-mem over virtio-mmio)")
    print("nested 2-core machine shared with other work: figures swing between runs")
    tmp = tempfile.mkdtemp(prefix="squib-bench-memhp-")
    results = {t: [] for t in touches}
    try:
        for i in range(args.runs):
            for t in touches:
                r = run_squib(args, tmp, t)
                results[t].append(r)
                if r.error:
                    print("  touch=%d run %d error: %s" % (t, i + 1, r.error))
                else:
                    print("  touch=%d run %d plug: GET %.4f s, guest line %.4f s; "
                          "unplug: GET %.4f s, guest line %.4f s; RSS %.1f -> %.1f "
                          "-> %.1f MiB" % (t, i + 1, r.t_get["plug"], r.t_line["plug"],
                                           r.t_get["unplug"], r.t_line["unplug"],
                                           r.rss["before"] / 1024.0,
                                           r.rss["plugged"] / 1024.0,
                                           r.rss["unplugged"] / 1024.0))
                sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(rs, f):
        vals = [f(r) for r in rs if not r.error]
        return statistics.median(vals) if vals else None

    print()
    rows = []
    for t in touches:
        rs = results[t]
        rows.append([
            "plug + write every page" if t else "plug only",
            vmm.fmt(med(rs, lambda r: r.t_get["plug"] * 1e3), "%.2f"),
            vmm.fmt(med(rs, lambda r: r.t_line["plug"] * 1e3), "%.2f"),
            vmm.fmt(med(rs, lambda r: r.t_get["unplug"] * 1e3), "%.2f"),
            vmm.fmt(med(rs, lambda r: r.t_line["unplug"] * 1e3), "%.2f"),
            vmm.fmt(med(rs, lambda r: r.rss["before"] / 1024.0)),
            vmm.fmt(med(rs, lambda r: r.rss["plugged"] / 1024.0)),
            vmm.fmt(med(rs, lambda r: r.rss["unplugged"] / 1024.0))])
    vmm.print_table(["median (%d MiB)" % args.total_mib, "plug GET ms",
                     "plug line ms", "unplug GET ms", "unplug line ms",
                     "RSS MiB", "plugged", "unplugged"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
