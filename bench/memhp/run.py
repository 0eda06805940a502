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

QEMU beside it: virtio-mem is PCI only there (virtio-mem-pci), so QEMU
runs the q35 machine (microvm's pcie=on gives the guest no MCFG table),
-m with maxmem, a 1 GiB memory-backend-ram; the guest drives it through
tests/guest/vpci.c (its region lies right above RAM at 4 GiB). QMP
qom-set requested-size stands for the PATCH and qom-get size, polled
every millisecond, for the GET. The guest's driver is the same.

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
    def __init__(self, touch, name="squib"):
        self.name = name
        self.touch = touch
        self.error = None
        self.rss = {}     # "before", "plugged", "unplugged": KiB
        self.t_get = {}   # "plug", "unplug": s, PATCH to GET showing it
        self.t_line = {}  # the same, to the guest's mem-follow line


def _wait_plugged(plugged_mib, serial, mib, timeout):
    """(s to plugged_mib() first returning mib, s to the guest's mem-follow
    line with that plugged size), both from now."""
    t0 = time.monotonic()
    t_get = t_line = None
    want = "plugged=%#x " % (mib << 20) if mib else "plugged=0x0 "
    deadline = t0 + timeout
    while t_get is None or t_line is None:
        if time.monotonic() > deadline:
            raise RuntimeError("plugged_size_mib %d not reached in %.0f s"
                               % (mib, timeout))
        if t_get is None and plugged_mib() == mib:
            t_get = time.monotonic() - t0
        if t_line is None:
            hit = serial.wait(lambda l: l.startswith("SQUIB-GUEST mem-follow ")
                              and want in l, 0.001, after=t0)
            if hit:
                t_line = hit[0] - t0
        else:
            time.sleep(0.001)
    return t_get, t_line


def _steps(res, proc, serial, request, plugged_mib, args):
    serial.expect(r"SQUIB-GUEST mem-config ", args.timeout)
    time.sleep(0.2)
    res.rss["before"] = vmm.rss_kib(proc.pid)
    for step, mib in (("plug", args.total_mib), ("unplug", 0)):
        request(mib)
        res.t_get[step], res.t_line[step] = _wait_plugged(plugged_mib, serial, mib,
                                                          args.timeout)
        res.rss["plugged" if mib else "unplugged"] = vmm.rss_kib(proc.pid)


def run_qemu(args, tmp, touch):
    res = Result(touch, "qemu")
    qmp_path = os.path.join(tmp, "qmp.sock")
    argv = vmm.qemu_argv(
        args.guest, "console=ttyS0 reboot=k panic=1 squibtest=mem-follow "
        "squibtouch=%d" % touch, args.mem_mib, machine=vmm.QEMU_PCI_MACHINE,
        maxmem_mib=args.mem_mib + args.total_mib, extra=[
            "-object", "memory-backend-ram,id=mem0,size=%dM" % args.total_mib,
            "-device", "virtio-mem-pci,id=vm0,memdev=mem0,block-size=2M,"
            "requested-size=0",
            "-qmp", "unix:%s,server=on,wait=off" % qmp_path])
    dev = "/machine/peripheral/vm0"

    def body(proc, qmp):
        def request(mib):
            qmp.cmd("qom-set", path=dev, property="requested-size", value=mib << 20)

        def plugged_mib():
            return qmp.cmd("qom-get", path=dev, property="size") >> 20

        _steps(res, proc, vmm.Serial(proc.stdout), request, plugged_mib, args)

    res.error = vmm.run_qemu_qmp(argv, qmp_path, body)
    return res


def run_squib(args, tmp, touch):
    res = Result(touch)

    def body(proc, api, serial):
        def request(mib):
            status, fault = api.patch("/hotplug/memory", {"requested_size_mib": mib})
            if status != 204:
                raise RuntimeError("PATCH /hotplug/memory: %d %s" % (status, fault))

        def plugged_mib():
            status, st = api.get("/hotplug/memory")
            if status != 200:
                raise RuntimeError("GET /hotplug/memory: %d" % status)
            try:
                return st["plugged_size_mib"]
            except (KeyError, TypeError) as e:
                raise RuntimeError("GET /hotplug/memory: %r in %r" % (e, st))

        _steps(res, proc, serial, request, plugged_mib, args)

    res.error = vmm.run_squib_api(tmp, (
        ("/boot-source", {"kernel_image_path": args.guest,
                          "boot_args": "console=ttyS0 reboot=k panic=1 "
                                       "squibtest=mem-follow squibtouch=%d" % touch}),
        ("/machine-config", {"vcpu_count": 1, "mem_size_mib": args.mem_mib}),
        ("/hotplug/memory", {"total_size_mib": args.total_mib,
                             "block_size_mib": 2, "slot_size_mib": 128}),
        ("/actions", {"action_type": "InstanceStart"})), body)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--total-mib", type=int, default=1024,
                    help="hot-pluggable size, plugged and unplugged whole")
    ap.add_argument("--mem-mib", type=int, default=128, help="boot RAM")
    ap.add_argument("--runs", type=int, default=3, help="runs per variant (median kept)")
    ap.add_argument("--touch", default="0,1",
                    help="variants: 0 plug only, 1 the guest also writes every page")
    ap.add_argument("--vmm", default="squib,qemu")
    ap.add_argument("--guest", default=vmm.GUEST)
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)

    vmms = [v for v in args.vmm.split(",") if v]
    vmm.check_tools(args.guest, vmms, (vmm.SQUIB,))
    touches = [int(t) for t in args.touch.split(",") if t]

    print("memory hot-plug benchmark: virtio-mem %d MiB (block 2 MiB; squib slot "
          "128 MiB), plugged whole and unplugged whole; %d run(s) per variant, "
          "median kept" % (args.total_mib, args.runs))
    print("squib: PATCH and GET /hotplug/memory; QEMU q35 virtio-mem-pci: QMP "
          "qom-set requested-size and qom-get size")
    print("nested 2-core machine shared with other work: compare ratios within "
          "this run only")
    tmp = tempfile.mkdtemp(prefix="squib-bench-memhp-")
    results = {(v, t): [] for v in vmms for t in touches}
    try:
        for i in range(args.runs):
            for t in touches:
                for v in vmms:
                    r = (run_squib if v == "squib" else run_qemu)(args, tmp, t)
                    results[(v, t)].append(r)
                    if r.error:
                        print("  %-5s touch=%d run %d error: %s" % (v, t, i + 1, r.error))
                    else:
                        print("  %-5s touch=%d run %d plug: to size %.4f s, guest line "
                              "%.4f s; unplug: to size %.4f s, guest line %.4f s; RSS "
                              "%.1f -> %.1f -> %.1f MiB"
                              % (v, t, i + 1, r.t_get["plug"], r.t_line["plug"],
                                 r.t_get["unplug"], r.t_line["unplug"],
                                 r.rss["before"] / 1024.0, r.rss["plugged"] / 1024.0,
                                 r.rss["unplugged"] / 1024.0))
                    sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(rs, f):
        vals = [f(r) for r in rs if not r.error]
        return statistics.median(vals) if vals else None

    print()
    cols = (("plug, to size ms", lambda r: r.t_get["plug"] * 1e3, "%.2f"),
            ("plug, to guest line ms", lambda r: r.t_line["plug"] * 1e3, "%.2f"),
            ("unplug, to size ms", lambda r: r.t_get["unplug"] * 1e3, "%.2f"),
            ("unplug, to guest line ms", lambda r: r.t_line["unplug"] * 1e3, "%.2f"),
            ("RSS before MiB", lambda r: r.rss["before"] / 1024.0, "%.1f"),
            ("RSS plugged MiB", lambda r: r.rss["plugged"] / 1024.0, "%.1f"),
            ("RSS unplugged MiB", lambda r: r.rss["unplugged"] / 1024.0, "%.1f"))
    rows = []
    for t in touches:
        for label, f, spec in cols:
            sq = med(results.get(("squib", t), []), f)
            qe = med(results.get(("qemu", t), []), f)
            rows.append(["plug + write" if t else "plug only", label,
                         vmm.fmt(sq, spec), vmm.fmt(qe, spec), vmm.ratio(sq, qe)])
    vmm.print_table(["%d MiB" % args.total_mib, "median", "squib", "QEMU",
                     "squib/QEMU"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
