#!/usr/bin/env python3
"""pmem read benchmark: the same bytes read by real Linux from a virtio-pmem
device and from a virtio-blk device, both under squib, in one boot.

The guest (the shared test kernel, initramfs root, /init's
squib.test=readbench) reads --mib MiB with `dd bs=1M` from /dev/pmem0 (a
file mapped into its memory: page faults on the file's host pages, no
request queue) and then from /dev/vda (a virtio-blk device on a file of the
same size and content: one request per 1 MiB, pread on the host), and
prints the guest's uptime before and after each (10 ms resolution). Both
files are in the host's page cache before the boot, so neither read waits
for a disk. Each device is read once per boot (the guest's page cache
would serve a second pass of the block device).

Figures only: nothing passes or fails on a time. The machines are nested
VMs with 2 cores where times swing; compare the two devices within one run
(the ratio), never across runs.

    bench/pmem/run.py                  # 8 MiB, one boot
    bench/pmem/run.py --mib 64 --runs 3
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import linux_guest  # noqa: E402  (after the path insert)


def make_file(path, mib):
    """mib MiB of incompressible bytes, read once so it is in the page cache."""
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def boot_once(squib, opts, tmp):
    pmem = os.path.join(tmp, "pmem.img")
    blk = os.path.join(tmp, "blk.img")
    make_file(pmem, opts.mib)
    subprocess.run(["cp", pmem, blk], check=True)
    cmdline = linux_guest.cmdline("squib.test=readbench squib.rb=pmem0:vda "
                                  "squib.rb_mib=%d" % opts.mib, root="initramfs")
    cfg = {
        "boot-source": {"kernel_image_path": linux_guest.kernel_path(),
                        "initrd_path": linux_guest.rootfs("initramfs"),
                        "boot_args": cmdline},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "drives": [{"drive_id": "blk", "path_on_host": blk, "is_root_device": False,
                    "is_read_only": True}],
        "pmem": [{"id": "pm0", "path_on_host": pmem, "read_only": True}],
    }
    cfg_path = os.path.join(tmp, "vm.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    log = os.path.join(tmp, "squib.log")
    open(log, "w").close()
    p = subprocess.Popen([squib, "--no-api", "--config-file", cfg_path, "--log-path", log,
                          "--level", "Warning"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    deadline = time.time() + opts.timeout
    res, tail = {}, []
    # Each device's line is printed as it comes: a slow machine still
    # shows the first figure.
    for raw in p.stdout:
        line = raw.decode(errors="replace").rstrip()
        tail = (tail + [line])[-20:]
        m = re.search(r"SQUIB-RB dev=(\S+) mib=(\d+) t0=([\d.]+) t1=([\d.]+)", line)
        if m:
            secs = max(float(m.group(4)) - float(m.group(3)), 0.01)
            res[m.group(1)] = int(m.group(2)) / secs
            print("  %s: %s MiB in %.2f s" % (m.group(1), m.group(2), secs), flush=True)
        if len(res) == 2 or time.time() > deadline:
            break
    p.kill()
    p.wait()
    if len(res) != 2:
        print("run incomplete; output tail:\n" + "\n".join(tail))
        return None
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=8, help="MiB read from each device")
    ap.add_argument("--runs", type=int, default=1, help="boots")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds per boot")
    opts = ap.parse_args()
    why = linux_guest.skip_reason()
    if why:
        print("skipped: " + why)
        return 0
    build = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
    squib = os.path.join(build, "squib")
    print("pmem vs block read, %d MiB each, dd bs=1M in the guest (MiB/s)" % opts.mib)
    print("%-4s %10s %10s %8s" % ("run", "pmem0", "vda", "ratio"))
    for i in range(opts.runs):
        with tempfile.TemporaryDirectory(prefix="squib-bench-pmem-") as tmp:
            r = boot_once(squib, opts, tmp)
        if r:
            print("%-4d %10.3f %10.3f %8.2f" % (i + 1, r["pmem0"], r["vda"],
                                                 r["pmem0"] / r["vda"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
