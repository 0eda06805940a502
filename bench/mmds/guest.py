#!/usr/bin/env python3
"""MMDS requests per second from inside a guest, V1 and V2.

Boots the project's test guest (build/guest/guest-linux.elf,
squibtest=net-mmds-bench, tests/guest/README.md) on KVM with one NIC on a
TAP in a network namespace of its own (`unshare -n`) and the MMDS on it,
holding a value of --size bytes (default 1 KiB). The guest sends --reqs
GETs for it over one keep-alive TCP connection, through its own raw-frame
stack (tests/guest/netproto.c), then as many ARP requests for the MMDS
address: the smallest exchange with squib's stack through the same device,
the baseline of the same boot. Printed: requests per second, ARP round
trips per second, and their ratio. V2 takes a token first and sends it
with every GET.

The guest's ring-0 code is slow on the nested development machines
(tests/guest/README.md), so the figures there measure the guest at least as
much as squib; the ratio to the ARP baseline is what compares.

    bench/mmds/guest.py [--reqs 200] [--size 1024] [--runs 3]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import netns  # noqa: E402

BUILD = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
GUEST = os.path.join(BUILD, "guest", "guest-linux.elf")
TAP = "sqtap0"


def run(version, reqs, size):
    with tempfile.TemporaryDirectory(prefix="mmds-guest-") as tmp:
        meta = os.path.join(tmp, "meta.json")
        with open(meta, "w") as f:
            json.dump({"latest": {"value": "v" * size}}, f)
        cfg = os.path.join(tmp, "vm.json")
        args = ("console=ttyS0 reboot=k panic=1 squibtest=net-mmds-bench "
                "squibpath=/latest/value squibreqs=%d squibv2=%d squibtimeout=5000"
                % (reqs, version == "V2"))
        with open(cfg, "w") as f:
            json.dump({
                "boot-source": {"kernel_image_path": GUEST, "boot_args": args},
                "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
                "drives": [],
                "network-interfaces": [{"iface_id": "eth0", "host_dev_name": TAP}],
                "mmds-config": {"version": version, "network_interfaces": ["eth0"]},
            }, f)
        argv = netns.private_prefix(TAP, "192.168.241.1/24") + [
            os.path.join(BUILD, "squib"), "--no-api", "--config-file", cfg,
            "--metadata", meta, "--level", "Warning"]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=600)
        out = p.stdout.decode(errors="replace")
        m = re.search(r"SQUIB-GUEST net-mmds-bench (.*)", out)
        if not m:
            raise SystemExit("no net-mmds-bench line (exit %d):\n%s" % (p.returncode,
                                                                      out[-2000:]))
        kv = dict(w.split("=", 1) for w in m.group(1).split())
        if kv["ok"] != str(reqs) or kv["arps"] != str(reqs):
            raise SystemExit("guest reported failures: %s" % kv)
        if int(kv["body_len"]) != size:
            raise SystemExit("wrong body length: %s" % kv)
        return (reqs / (int(kv["get_us"]) / 1e6), reqs / (int(kv["arp_us"]) / 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reqs", type=int, default=200)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    why = netns.skip_reason()
    if why or not os.access("/dev/kvm", os.R_OK | os.W_OK) or not os.path.exists(GUEST):
        print("mmds guest bench: skipped: %s" % (why or "no usable /dev/kvm or no test guest "
                                                 "(make guests)"))
        return 0
    print("%d GETs of a %d-byte value per run, median of %d runs"
          % (args.reqs, args.size, args.runs))
    for version in ("V1", "V2"):
        rows = [run(version, args.reqs, args.size) for _ in range(args.runs)]
        get = statistics.median(r[0] for r in rows)
        arp = statistics.median(r[1] for r in rows)
        print("%s: %8.0f GET/s   ARP baseline %8.0f/s   GET/ARP %.2fx"
              % (version, get, arp, get / arp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
