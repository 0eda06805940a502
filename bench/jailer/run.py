#!/usr/bin/env python3
"""Start-up through the jailer, beside squib started bare (a figure, never
pass/fail).

    bench/jailer/run.py [--build DIR] [--rounds N]     (make bench-jailer)

Each round starts, in turn:
  bare     build/squib --api-sock <tmp>/bare.sock
  jailer   build/jailer ... --exec-file build/squib (uid/gid 65534)
  jailer+cgroup  the same with --cgroup cpu.shares=512 (cgroup v1), when the
           cpu controller is mounted
and times each from just before the spawn to the first successful connect()
on its API socket (polled every 100 us, the same way for all), then kills it
and removes its jail and cgroup. Rounds are interleaved, so a slow moment of
the machine hits all the variants alike. Prints the median and the 10th and
90th percentiles in milliseconds, and the jailer's overhead as the
difference of the medians. Needs root (prints "skipped" otherwise).
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

UID = GID = 65534


def wait_socket(path, proc, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return time.monotonic()
        except OSError:
            pass
        if proc.poll() not in (None, 0):
            raise RuntimeError("exited with %s" % proc.returncode)
        time.sleep(0.0001)
    raise RuntimeError("no socket at " + path)


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while True:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        if not os.path.exists("/proc/%d" % pid):
            return
        with open("/proc/%d/stat" % pid) as f:
            if f.read().split(")")[-1].split()[0] == "Z":
                return
        time.sleep(0.001)


def cpu_mount():
    with open("/proc/mounts") as f:
        for line in f:
            dev, d, kind, opts = line.split()[:4]
            if kind == "cgroup" and "cpu" in opts.split(","):
                return d
    return None


def run_bare(squib, tmp):
    sock = os.path.join(tmp, "bare.sock")
    t0 = time.monotonic()
    p = subprocess.Popen([squib, "--api-sock", sock],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t1 = wait_socket(sock, p)
    kill(p.pid)
    os.unlink(sock)
    return t1 - t0


def run_jailer(jailer, squib, base, n, cgroup_mount):
    jail_id = "bench-%d-%d" % (os.getpid(), n)
    args = [jailer, "--id", jail_id, "--exec-file", squib,
            "--uid", str(UID), "--gid", str(GID), "--chroot-base-dir", base]
    parent = "squib-bench-%d" % os.getpid()
    if cgroup_mount:
        args += ["--parent-cgroup", parent, "--cgroup", "cpu.shares=512"]
    root = os.path.join(base, "squib", jail_id, "root")
    sock = os.path.join(root, "run", "firecracker.socket")
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    t1 = wait_socket(sock, p)
    kill(p.pid)
    shutil.rmtree(os.path.join(base, "squib", jail_id))
    if cgroup_mount:
        os.rmdir(os.path.join(cgroup_mount, parent, jail_id))
    return t1 - t0


def summary(name, xs):
    xs = sorted(x * 1000 for x in xs)
    q = statistics.quantiles(xs, n=10) if len(xs) > 1 else [xs[0]] * 9
    print("  %-15s median %7.3f ms   p10 %7.3f   p90 %7.3f   (n=%d)"
          % (name, statistics.median(xs), q[0], q[-1], len(xs)))
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=51)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench-jailer: skipped (the jailer needs root)")
        return
    squib = os.path.abspath(os.path.join(a.build, "squib"))
    jailer = os.path.abspath(os.path.join(a.build, "jailer"))
    cg = cpu_mount()
    base = tempfile.mkdtemp(prefix="sqjb-", dir="/tmp")
    tmp = tempfile.mkdtemp(prefix="sqjb-bare-", dir="/tmp")
    res = {"bare": [], "jailer": [], "jailer+cgroup": []}
    try:
        for n in range(a.rounds):
            res["bare"].append(run_bare(squib, tmp))
            res["jailer"].append(run_jailer(jailer, squib, base, 2 * n, None))
            if cg:
                res["jailer+cgroup"].append(
                    run_jailer(jailer, squib, base, 2 * n + 1, cg))
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
        if cg:
            try:
                os.rmdir(os.path.join(cg, "squib-bench-%d" % os.getpid()))
            except OSError:
                pass
    print("spawn -> API socket accepts, %d interleaved rounds:" % a.rounds)
    bare = summary("bare squib", res["bare"])
    jailed = summary("jailer", res["jailer"])
    if res["jailer+cgroup"]:
        summary("jailer+cgroup", res["jailer+cgroup"])
    print("  jailer overhead (median difference): %.3f ms" % (jailed - bare))


if __name__ == "__main__":
    main()
