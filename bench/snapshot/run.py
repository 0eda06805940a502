#!/usr/bin/env python3
"""Snapshot benchmark: squib's PUT /snapshot/create and /snapshot/load beside
QEMU's migration to a file and -incoming from it, same guest, one run.

The guest is the project's test guest (build/guest/guest-pvh.elf, which
boots under both) in its `counter` mode with `squibfill=`: before counting
it writes a pattern to every byte of its RAM from 16 MiB up to 1 MiB below
its top (tests/guest/README.md, "counter"), so no page of the snapshot is
zero: squib's Full snapshot writes every page anyway, but QEMU's migration
stream sends zero pages as a flag alone, so an untouched guest would make
QEMU's file tiny and the comparison meaningless.

For each memory size (--mem, default 128 and 1024 MiB), each run:

  squib create   a squib boots the guest over its API, pauses it once the
                 fill is done and the counter prints, then PUT
                 /snapshot/create (Full): request to the 204. "vmm" is
                 squib's own figure from its log ("'create full snapshot'
                 VMM action took N us"). squib fsyncs the memory file.
  squib load     a NEW squib process (already listening on its API socket
                 when the clock starts): PUT /snapshot/load with
                 resume_vm=true, File backend, then again in another new
                 process with the Uffd backend served by squib-uffd-handler
                 (started before the clock, as the integration tests do).
                 "answer" is request to response, "line" request to the
                 guest's first complete counter line from the new process,
                 "vmm" squib's log line "'load snapshot' VMM action took N us"
                 (the vmm thread's whole handling of the load, resume
                 included: upstream's latencies_us.vmm_load_snapshot).
                 The load goes out the moment the socket accepts, so it can
                 wait for the VM shell squib makes at start-up (docs/
                 machine.md); "File, up N ms" is a third load sent N ms
                 (--settle-ms, 100) after the socket accepted, as into a
                 process started ahead from a pool: the QEMU it is compared
                 with has made its VM before its clock starts, too.
  QEMU save      qemu-system-x86_64 -M microvm -accel kvm boots the same
                 guest with a QMP socket; `stop`, then `migrate` to
                 "exec:cat > FILE" (this QEMU predates the file: URI),
                 max-bandwidth unlimited: from the command to query-migrate's
                 "completed" (polled every 2 ms). "+fsync" adds an fsync of
                 the file afterwards, which squib's figure includes.
  QEMU restore   a NEW QEMU started with -incoming defer (its QMP socket up
                 when the clock starts): `migrate-incoming` from
                 "exec:cat FILE", query-migrate polled (2 ms) until
                 "completed", then `cont` (the source was stopped, so the
                 machine arrives paused). "answer" is migrate-incoming to
                 cont's return (query-status then says running), "line"
                 migrate-incoming to the guest's first counter line.
  start to line  the same loads timed from the new process's start (for
                 Uffd, the handler's) to the guest's first counter line:
                 QEMU creates its VM, memory slots and vCPU before the clock
                 of "answer" starts, squib inside its load, so this row
                 compares the whole of both.

Clones (--clones N, default 10; 0 skips): the smallest size's snapshot is
restored into N squib processes at once (File backend), and N QEMUs take
-incoming from the same file at once; once every guest has printed a
counter line, the sum of their RSS and of their Pss (/proc/PID/smaps_rollup)
is taken. squib maps the memory file MAP_PRIVATE, so pages read are the page
cache's, shared between the clones until written; QEMU copies the stream
into each process's own anonymous RAM.

All files are in a temporary directory and in the page cache when read
(each was just written). Figures only: nothing here passes or fails on a
time. The development machines are nested, 2-core and shared with other
work: compare squib with QEMU as ratios within one run of this script.

    bench/snapshot/run.py                        # 128 MiB and 1 GiB, 3 runs
    bench/snapshot/run.py --mem 128 --runs 5 --clones 0
    bench/snapshot/run.py --vmm squib            # squib's figures alone
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from vmm import (BUILD, GUEST, QEMU, ROOT, SQUIB, Api, Qmp, Serial,  # noqa: E402
                 check_tools, qemu_argv, stop, wait_path)

HANDLER = os.path.join(BUILD, "squib-uffd-handler")
COUNTER_RE = re.compile(r"^SQUIB-GUEST counter value=(\d+)$")
FILL_RE = re.compile(r"^SQUIB-GUEST fill .*pages=(\d+)$")
LOAD_US_RE = re.compile(r"'load snapshot' VMM action took (\d+) us")
CREATE_US_RE = re.compile(r"'create full snapshot' VMM action took (\d+) us")
MIB = 1 << 20


def is_counter(line):
    return COUNTER_RE.match(line) is not None


def cmdline(mem_mib):
    return ("console=ttyS0 reboot=k panic=1 squibtest=counter squibevery=1048576 "
            "squibfill=%d" % (mem_mib - 1))


_SPAWNED = []  # every child, so that main() leaves none behind


def _spawn(argv, stdout=subprocess.PIPE):
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.STDOUT)
    _SPAWNED.append(proc)
    return proc


def _file_sizes(path):
    st = os.stat(path)
    return st.st_size, st.st_blocks * 512


def _smaps_rollup(pid):
    """{Rss, Pss, ...} in KiB from /proc/PID/smaps_rollup."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def _schedstat(pid):
    """(on-CPU ns, runnable-but-waiting ns) of the thread pid (the main
    thread, which is squib's vmm thread), from /proc/PID/task/PID/schedstat."""
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        run, wait, _ = f.read().split()
    return int(run), int(wait)


def _log_us(path, regex):
    try:
        with open(path, errors="replace") as f:
            m = regex.findall(f.read())
    except OSError:
        return None
    return int(m[-1]) if m else None


def _wait_filled(serial, timeout, who):
    """The time of the guest's fill line, once a counter line followed it."""
    fill = serial.wait(lambda l: FILL_RE.match(l) is not None, timeout)
    if not fill:
        raise RuntimeError("%s: no fill line: %s" % (who, serial.tail()))
    if not serial.wait(is_counter, timeout, after=fill[0]):
        raise RuntimeError("%s: no counter line: %s" % (who, serial.tail()))
    return fill[0]


# ---- squib -----------------------------------------------------------------

class Squib:
    """One squib process with its API socket, log file and serial reader."""

    def __init__(self, tmp, name):
        self.sock = os.path.join(tmp, name + ".sock")
        self.log = os.path.join(tmp, name + ".log")
        for p in (self.sock, self.log):
            if os.path.exists(p):
                os.unlink(p)
        open(self.log, "w").close()
        self.t_spawn = time.monotonic()
        self.proc = _spawn([SQUIB, "--api-sock", self.sock, "--log-path", self.log])
        self.serial = Serial(self.proc.stdout)
        wait_path(self.sock, self.proc)
        self.api = Api(self.sock, timeout=300)

    def put(self, url, body, method="PUT"):
        status, fault = self.api.put(url, body, method)
        if status != 204:
            raise RuntimeError("squib %s %s: %d %s; log: %s" % (
                method, url, status, fault, self.log_tail()))

    def log_tail(self, n=5):
        with open(self.log, errors="replace") as f:
            return " | ".join(f.read().splitlines()[-n:])

    def stop(self):
        stop(self.proc)


def squib_source(mem, tmp, timeout, huge_pages=None):
    """Boot, fill, pause, create: a dict of figures and the files."""
    s = Squib(tmp, "src")
    machine = {"vcpu_count": 1, "mem_size_mib": mem}
    if huge_pages:
        machine["huge_pages"] = huge_pages
    try:
        s.put("/boot-source", {"kernel_image_path": GUEST, "boot_args": cmdline(mem)})
        s.put("/machine-config", machine)
        t_boot = time.monotonic()
        s.put("/actions", {"action_type": "InstanceStart"})
        fill_s = _wait_filled(s.serial, timeout, "squib") - t_boot
        s.put("/vm", {"state": "Paused"}, method="PATCH")
        time.sleep(0.1)
        roll = _smaps_rollup(s.proc.pid)
        rss, thp = roll["Rss"], roll.get("AnonHugePages", 0)
        state = os.path.join(tmp, "squib-%d.state" % mem)
        memf = os.path.join(tmp, "squib-%d.mem" % mem)
        for p in (state, memf):
            if os.path.exists(p):
                os.unlink(p)
        t0 = time.monotonic()
        s.put("/snapshot/create", {"snapshot_type": "Full", "snapshot_path": state,
                                   "mem_file_path": memf})
        create_s = time.monotonic() - t0
        vmm_us = _log_us(s.log, CREATE_US_RE)
    finally:
        s.stop()
    return {"create_s": create_s, "create_vmm_us": vmm_us, "fill_s": fill_s,
            "source_rss_kib": rss, "source_thp_kib": thp, "state": state, "memf": memf}


class Handler:
    """squib-uffd-handler serving memf on a socket in tmp."""

    def __init__(self, tmp, memf, name):
        self.sock = os.path.join(tmp, name + ".uffd.sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.out = open(os.path.join(tmp, name + ".uffd.log"), "w")
        self.proc = _spawn([HANDLER, self.sock, memf], stdout=self.out)
        wait_path(self.sock, self.proc)

    def stop(self):
        stop(self.proc)
        self.out.close()


def squib_load(src, backend, tmp, timeout, name="load", settle=0.0):
    """A new squib loads src's snapshot with `backend` ("File" or "Uffd"),
    `settle` seconds after its socket accepted."""
    t_spawn = time.monotonic()
    handler = Handler(tmp, src["memf"], name) if backend == "Uffd" else None
    s = None
    try:
        s = Squib(tmp, name)
        time.sleep(settle)
        path = handler.sock if handler else src["memf"]
        body = {"snapshot_path": src["state"], "resume_vm": True,
                "mem_backend": {"backend_type": backend, "backend_path": path}}
        cpu0 = _schedstat(s.proc.pid)
        t0 = time.monotonic()
        s.put("/snapshot/load", body)
        answer_s = time.monotonic() - t0
        cpu1 = _schedstat(s.proc.pid)
        line = s.serial.wait(is_counter, timeout, after=t0)
        if not line:
            raise RuntimeError("squib %s load: no counter line after resume: %s"
                               % (backend, s.serial.tail()))
        return {"answer_s": answer_s, "line_s": line[0] - t0,
                "spawn_line_s": line[0] - t_spawn,
                "vmm_us": _log_us(s.log, LOAD_US_RE),
                "vmm_cpu_s": (cpu1[0] - cpu0[0]) / 1e9,
                "vmm_runq_s": (cpu1[1] - cpu0[1]) / 1e9,
                "rss_kib": _smaps_rollup(s.proc.pid)["Rss"]}
    finally:
        if s:
            s.stop()
        if handler:
            handler.stop()


def squib_clones(src, n, tmp, timeout):
    """n squib processes load src's snapshot at once (File backend)."""
    body = {"snapshot_path": src["state"], "resume_vm": True,
            "mem_backend": {"backend_type": "File", "backend_path": src["memf"]}}
    procs = []
    try:
        for i in range(n):
            procs.append(Squib(tmp, "clone%d" % i))
        return _restore_all(procs, lambda s: s.put("/snapshot/load", body), timeout)
    finally:
        for s in procs:
            s.stop()


def _restore_all(vms, restore, timeout):
    """restore(vm) for every vm at once (a thread each); once every guest
    printed a counter line: the time to the last one and the memory sums."""
    errors = []

    def one(vm):
        try:
            restore(vm)
        except (OSError, RuntimeError) as e:
            errors.append(str(e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=one, args=(vm,)) for vm in vms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    last = t0
    for vm in vms:
        line = vm.serial.wait(is_counter, timeout, after=t0)
        if not line:
            raise RuntimeError("clone: no counter line: %s" % vm.serial.tail())
        last = max(last, line[0])
    return _clone_memory([vm.proc.pid for vm in vms], last - t0)


def _clone_memory(pids, all_s):
    time.sleep(0.5)
    rss = pss = 0
    for pid in pids:
        r = _smaps_rollup(pid)
        rss += r["Rss"]
        pss += r["Pss"]
    return {"all_lines_s": all_s, "rss_kib": rss, "pss_kib": pss}


# ---- QEMU ------------------------------------------------------------------

class Qemu:
    """One QEMU microvm with the test guest, a QMP socket and a serial reader."""

    def __init__(self, mem, tmp, name, incoming=False):
        self.qmp_path = os.path.join(tmp, name + ".qmp")
        if os.path.exists(self.qmp_path):
            os.unlink(self.qmp_path)
        argv = qemu_argv(GUEST, cmdline(mem), mem, extra=[
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path])
        if incoming:
            argv += ["-incoming", "defer"]
        self.t_spawn = time.monotonic()
        self.proc = _spawn(argv)
        self.serial = Serial(self.proc.stdout)
        self.qmp = None
        wait_path(self.qmp_path, self.proc)
        self.qmp = Qmp(self.qmp_path, timeout=300)

    def stop(self):
        if self.qmp:
            self.qmp.close()
        stop(self.proc)


def qemu_source(mem, tmp, timeout):
    q = Qemu(mem, tmp, "qsrc")
    path = os.path.join(tmp, "qemu-%d.mig" % mem)
    if os.path.exists(path):
        os.unlink(path)
    try:
        t_boot = time.monotonic()
        fill_s = _wait_filled(q.serial, timeout, "qemu") - t_boot
        q.qmp.cmd("stop")
        # Unlimited bandwidth (the default would throttle the stream), so
        # the stopped machine's whole RAM goes in the completion stage.
        q.qmp.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        time.sleep(0.1)
        roll = _smaps_rollup(q.proc.pid)
        rss, thp = roll["Rss"], roll.get("AnonHugePages", 0)
        t0 = time.monotonic()
        q.qmp.cmd("migrate", uri="exec:cat > %s" % path)
        _wait_migrated(q.qmp, timeout)
        save_s = time.monotonic() - t0
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        sync_s = time.monotonic() - t0
    finally:
        q.stop()
    return {"save_s": save_s, "save_sync_s": sync_s, "fill_s": fill_s,
            "source_rss_kib": rss, "source_thp_kib": thp, "file": path}


def _wait_migrated(qmp, timeout):
    """Poll query-migrate (2 ms) until "completed"."""
    t0 = time.monotonic()
    while True:
        st = qmp.cmd("query-migrate").get("status")
        if st == "completed":
            return
        if st in ("failed", "cancelled"):
            raise RuntimeError("qemu migration: %s" % st)
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("qemu migration: still %s" % st)
        time.sleep(0.002)


def qemu_restore(q, src, timeout):
    """migrate-incoming, wait for it, `cont` (the source was stopped, so
    the machine arrives paused); (loaded, running) monotonic times."""
    q.qmp.cmd("migrate-incoming", uri="exec:cat %s" % src["file"])
    _wait_migrated(q.qmp, timeout)
    loaded = time.monotonic()
    q.qmp.cmd("cont")
    running = time.monotonic()
    status = q.qmp.cmd("query-status")
    if status.get("status") != "running":
        raise RuntimeError("qemu incoming: status %s" % status)
    return loaded, running


def qemu_load(mem, src, tmp, timeout, name="qload"):
    q = Qemu(mem, tmp, name, incoming=True)
    try:
        t0 = time.monotonic()
        loaded, running = qemu_restore(q, src, timeout)
        line = q.serial.wait(is_counter, timeout, after=t0)
        if not line:
            raise RuntimeError("qemu incoming: no counter line: %s" % q.serial.tail())
        return {"loaded_s": loaded - t0, "answer_s": running - t0, "line_s": line[0] - t0,
                "spawn_line_s": line[0] - q.t_spawn,
                "rss_kib": _smaps_rollup(q.proc.pid)["Rss"]}
    finally:
        q.stop()


def qemu_clones(mem, src, n, tmp, timeout):
    qs = []
    try:
        for i in range(n):
            qs.append(Qemu(mem, tmp, "qclone%d" % i, incoming=True))
        return _restore_all(qs, lambda q: qemu_restore(q, src, timeout), timeout)
    finally:
        for q in qs:
            q.stop()


# ---- the table -------------------------------------------------------------

def _med(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def _ms(v):
    return "%.1f" % (v * 1e3) if v is not None else "-"


def _ratio(q, s):
    if q is None or s is None or not s:
        return "-"
    return "%.1fx" % (q / s)


def _table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))))


def report(mem, res, settle_ms):
    s, q = res.get("squib_src", []), res.get("qemu_src", [])
    f, u, ql = res.get("file", []), res.get("uffd", []), res.get("qload", [])
    fu = res.get("file_up", [])
    print()
    print("%d MiB guest (medians of %d run(s); ms; QEMU/squib = how many times "
          "longer QEMU took)" % (mem, max(len(s), len(q))))
    rows = [["", "squib", "QEMU", "QEMU/squib"]]
    sc, qc = _med(s, "create_s"), _med(q, "save_s")
    qcs = _med(q, "save_sync_s")
    rows.append(["create (squib Full, fsync incl.) / migrate", _ms(sc), _ms(qc), _ratio(qc, sc)])
    rows.append(["  QEMU migrate + fsync", "", _ms(qcs), _ratio(qcs, sc)])
    vc = _med(s, "create_vmm_us")
    rows.append(["  squib vmm thread (log)", _ms(vc / 1e6 if vc else None), "", ""])
    qa, ql_line = _med(ql, "answer_s"), _med(ql, "line_s")
    for label, rs in (("File", f), ("Uffd", u), ("File, up %d ms" % settle_ms, fu)):
        if not rs:
            continue
        a, line, vmm = _med(rs, "answer_s"), _med(rs, "line_s"), _med(rs, "vmm_us")
        rows.append(["load %s: answer / cont returned" % label, _ms(a), _ms(qa), _ratio(qa, a)])
        rows.append(["load %s: first counter line" % label, _ms(line), _ms(ql_line),
                     _ratio(ql_line, line)])
        rows.append(["  squib vmm thread (log)", _ms(vmm / 1e6 if vmm else None), "", ""])
        rows.append(["    of which on a CPU", _ms(_med(rs, "vmm_cpu_s")), "", ""])
        rows.append(["    runnable, waiting for a CPU", _ms(_med(rs, "vmm_runq_s")), "", ""])
        if rs is fu:
            continue  # its start-to-line time holds the wait
        sp, qsp = _med(rs, "spawn_line_s"), _med(ql, "spawn_line_s")
        rows.append(["load %s: process start to first line" % label, _ms(sp), _ms(qsp),
                     _ratio(qsp, sp)])
    _table(rows)
    sizes = []
    if s:
        st, sb = _file_sizes(s[-1]["state"])
        mf, mb = _file_sizes(s[-1]["memf"])
        sizes.append("squib state %d B, memory %d MiB (%d MiB allocated)"
                     % (st, mf // MIB, mb // MIB))
        sizes.append("squib source RSS %d MiB (%d MiB in huge pages), boot to the fill line %.2f s"
                     % (s[-1]["source_rss_kib"] // 1024, s[-1]["source_thp_kib"] // 1024,
                        _med(s, "fill_s")))
    if q:
        qf, qb = _file_sizes(q[-1]["file"])
        sizes.append("QEMU stream %.1f MiB, source RSS %d MiB (%d MiB in huge pages), "
                     "boot to the fill line %.2f s" % (qf / MIB, q[-1]["source_rss_kib"] // 1024,
                                      q[-1]["source_thp_kib"] // 1024, _med(q, "fill_s")))
    for label, rs in (("squib File", f), ("squib Uffd", u), ("QEMU", ql)):
        if rs:
            sizes.append("%s RSS at the first line %d MiB"
                         % (label, _med(rs, "rss_kib") // 1024))
    for line in sizes:
        print("  " + line)


def report_clones(mem, n, sc, qc):
    print()
    print("%d clones of the %d MiB snapshot restored at once" % (n, mem))
    rows = [["", "squib (File)", "QEMU (-incoming)", "QEMU/squib"]]
    for key, label in (("rss_kib", "sum of RSS, MiB"), ("pss_kib", "sum of Pss, MiB")):
        a = sc[key] / 1024.0 if sc else None
        b = qc[key] / 1024.0 if qc else None
        rows.append([label, "%.0f" % a if a is not None else "-",
                     "%.0f" % b if b is not None else "-", _ratio(b, a)])
    a = sc["all_lines_s"] if sc else None
    b = qc["all_lines_s"] if qc else None
    rows.append(["all counting, ms", _ms(a), _ms(b), _ratio(b, a)])
    _table(rows)


def run_squib(mem, i, res, tmp, args):
    """One squib run of size mem: create, then the two loads."""
    src = squib_source(mem, tmp, args.timeout, args.squib_huge_pages)
    fr = squib_load(src, "File", tmp, args.timeout)
    ur = squib_load(src, "Uffd", tmp, args.timeout)
    pr = squib_load(src, "File", tmp, args.timeout, settle=args.settle_ms / 1e3)
    res.setdefault("squib_src", []).append(src)
    res.setdefault("file", []).append(fr)
    res.setdefault("uffd", []).append(ur)
    res.setdefault("file_up", []).append(pr)
    print("  %4d MiB run %d squib: create %s ms, load File %s/%s ms (vmm %s us), "
          "Uffd %s/%s ms (vmm %s us), File up %d ms %s/%s ms (vmm %s us)" % (
              mem, i + 1, _ms(src["create_s"]), _ms(fr["answer_s"]), _ms(fr["line_s"]),
              fr["vmm_us"], _ms(ur["answer_s"]), _ms(ur["line_s"]), ur["vmm_us"],
              args.settle_ms, _ms(pr["answer_s"]), _ms(pr["line_s"]), pr["vmm_us"]))


def run_qemu(mem, i, res, tmp, args):
    """One QEMU run of size mem: migrate to the file, then -incoming."""
    src = qemu_source(mem, tmp, args.timeout)
    lr = qemu_load(mem, src, tmp, args.timeout)
    res.setdefault("qemu_src", []).append(src)
    res.setdefault("qload", []).append(lr)
    print("  %4d MiB run %d QEMU: migrate %s ms (+fsync %s), incoming %s/%s ms" % (
        mem, i + 1, _ms(src["save_s"]), _ms(src["save_sync_s"]), _ms(lr["answer_s"]),
        _ms(lr["line_s"])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mem", default="128,1024", help="guest sizes in MiB (default 128,1024)")
    ap.add_argument("--runs", type=int, default=3, help="runs per size, median kept (3)")
    ap.add_argument("--clones", type=int, default=10, help="clones at once, 0 = none (10)")
    ap.add_argument("--vmm", default="squib,qemu", help="squib,qemu")
    ap.add_argument("--squib-huge-pages", choices=("None", "Transparent", "2M"),
                    help="squib's machine-config huge_pages (default: not set, 4 KiB pages)")
    ap.add_argument("--settle-ms", type=int, default=100,
                    help="the third squib load waits this long after the socket accepted (100)")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--json", help="also write every run's figures here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    mems = [int(m) for m in args.mem.split(",") if m]
    vmms = set(args.vmm.split(","))
    check_tools(GUEST, vmms, (SQUIB, HANDLER))
    if "qemu" in vmms:
        print(subprocess.run([QEMU, "--version"], capture_output=True,
                             text=True).stdout.splitlines()[0])
    print("guest %s, counter test with every byte of RAM from 16 MiB to 1 MiB "
          "below its top written before the snapshot; files in a temporary "
          "directory, in the page cache when read" % os.path.relpath(GUEST, ROOT))
    print("nested 2-core machine shared with other work: compare ratios within "
          "this run only")
    sys.stdout.flush()

    tmp = tempfile.mkdtemp(prefix="squib-bench-snapshot-")
    results = {}
    try:
        for mem in mems:
            res = results.setdefault(mem, {})
            for i in range(args.runs):
                if "squib" in vmms:
                    try:
                        run_squib(mem, i, res, tmp, args)
                    except (OSError, RuntimeError) as e:
                        print("  %4d MiB run %d squib: error: %s" % (mem, i + 1, e))
                if "qemu" in vmms:
                    try:
                        run_qemu(mem, i, res, tmp, args)
                    except (OSError, RuntimeError) as e:
                        print("  %4d MiB run %d QEMU: error: %s" % (mem, i + 1, e))
                for proc in _SPAWNED:
                    stop(proc)
                sys.stdout.flush()
        for mem in mems:
            report(mem, results[mem], args.settle_ms)
        if args.clones > 0:
            mem = min(mems)
            res = results[mem]
            sc = qc = None
            try:
                if res.get("squib_src"):
                    sc = squib_clones(res["squib_src"][-1], args.clones, tmp, args.timeout)
            except (OSError, RuntimeError) as e:
                print("squib clones: error: %s" % e)
            try:
                if res.get("qemu_src"):
                    qc = qemu_clones(mem, res["qemu_src"][-1], args.clones, tmp, args.timeout)
            except (OSError, RuntimeError) as e:
                print("QEMU clones: error: %s" % e)
            report_clones(mem, args.clones, sc, qc)
            results["clones"] = {"squib": sc, "qemu": qc}
    finally:
        for proc in _SPAWNED:
            stop(proc)
        if args.keep:
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
