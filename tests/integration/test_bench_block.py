"""The block benchmark's guest side (`squibtest=blk-bench`, tests/guest
README "blk-bench") under squib, and bench/block/run.py end to end.

The guest's figures are only as good as the I/O behind them, so these
check that the I/O really happened as described: a sequential write leaves
the pattern in exactly the first squibmib MiB of the host file, a random
write touches exactly the 4 KiB blocks the fixed-seed xorshift64 sequence
names (the same sequence QEMU gets in the benchmark), the reads complete
with no errors and the interrupt / polling modes show up in the counts.
No test looks at a time.
"""
import os
import re
import subprocess
import sys

import pytest

from test_boot_guest import GUEST_DIR, assert_exit, first, guest_lines, kvm_skip_reason

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL = os.path.join(GUEST_DIR, "guest-linux.elf")
MIB = 1 << 20
SEED = 0x9E3779B97F4A7C15


def write_pattern(n):
    return bytes((i * 7 + 0x5A) & 0xFF for i in range(n))


def rand_blocks(count, blocks):
    """The 4 KiB block indices blk-bench's random modes visit, in order."""
    x, out = SEED, []
    mask = (1 << 64) - 1
    for _ in range(count):
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        out.append(x % blocks)
    return out


def bench(squib, disk, mode, mib, qd, engine="Sync", poll=False):
    api = squib.client()
    args = ("console=ttyS0 reboot=k panic=1 squibtest=blk-bench squibbench=%s "
            "squibmib=%d squibqd=%d squibpoll=%d" % (mode, mib, qd, int(poll)))
    for url, body in (
            ("/boot-source", {"kernel_image_path": KERNEL, "boot_args": args}),
            ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
            ("/drives/bench", {"drive_id": "bench", "path_on_host": disk,
                               "is_root_device": False, "is_read_only": False,
                               "cache_type": "Unsafe", "io_engine": engine}),
            ("/actions", {"action_type": "InstanceStart"})):
        r = api.put(url, body)
        assert r.status == 204, r.raw
    assert_exit(squib, 0, 120)
    lines = guest_lines(squib.output())
    setup = first(lines, "blk-bench")
    result = [kv for w, kv, _ in lines if w == "blk-bench" and "bytes" in kv]
    assert len(result) == 1, squib.output()[-3000:]
    words = [w for w, _, _ in lines]
    assert words.index("blk-bench-start") < words.index("blk-bench-end")
    return setup, result[0]


def make_disk(tmp_path, size, byte):
    path = os.path.join(str(tmp_path), "disk.img")
    with open(path, "wb") as f:
        f.write(bytes([byte]) * size)
    return path


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_seqwrite_lands_in_the_file(squib, tmp_path, engine):
    disk = make_disk(tmp_path, 2 * MIB, 0xEE)
    setup, res = bench(squib, disk, "seqwrite", 1, 4, engine)
    assert setup["size"] == "131072" and setup["qd"] == "4" and setup["reqs"] == "8"
    assert res["complete"] == "yes" and res["errors"] == "0"
    assert res["bytes"] == str(MIB) and res["reqs"] == "8"
    assert int(res["tsc_ticks"]) > 0 and int(res["tsc_hz"]) > 0
    assert int(res["irqs"]) >= 1
    with open(disk, "rb") as f:
        data = f.read()
    assert data[:MIB] == write_pattern(128 * 1024) * 8
    assert data[MIB:] == b"\xee" * MIB


def test_randwrite_touches_the_seeded_blocks(squib, tmp_path):
    size = 4 * MIB
    disk = make_disk(tmp_path, size, 0x00)
    setup, res = bench(squib, disk, "randwrite", 1, 8)
    count = int(setup["reqs"])
    assert count == 256
    assert res["complete"] == "yes" and res["errors"] == "0" and res["reqs"] == "256"
    want = set(rand_blocks(count, size // 4096))
    block = write_pattern(4096)
    with open(disk, "rb") as f:
        data = f.read()
    got = {i for i in range(size // 4096) if data[i * 4096:(i + 1) * 4096] == block}
    zero = {i for i in range(size // 4096) if data[i * 4096:(i + 1) * 4096] == bytes(4096)}
    assert got == want
    assert len(got) + len(zero) == size // 4096


@pytest.mark.parametrize("mode,poll", [("seqread", False), ("randread", False),
                                       ("randread", True)])
def test_reads_complete(squib, tmp_path, mode, poll):
    disk = make_disk(tmp_path, 4 * MIB, 0x33)
    setup, res = bench(squib, disk, mode, 2, 16, poll=poll)
    size = 131072 if mode == "seqread" else 4096
    assert setup["completion"] == ("poll" if poll else "irq")
    assert res["complete"] == "yes" and res["errors"] == "0"
    assert int(res["reqs"]) == 2 * MIB // size
    assert int(res["bytes"]) == 2 * MIB
    if poll:
        assert res["irqs"] == "0"
    else:
        assert int(res["irqs"]) >= 1
    # Batching: never more notifications than requests.
    assert 1 <= int(res["kicks"]) <= int(res["reqs"])


@pytest.mark.parametrize("poll", [False, True])
def test_randwrite_over_pci(squib_factory, tmp_path, poll):
    """squib --enable-pci: the guest finds the drive on PCI bus 0 (vpci.c),
    drives blk-bench through the common configuration, completions by
    MSI-X (or polling), and the writes land where the seed says."""
    squib = squib_factory(["--enable-pci"])
    size = 4 * MIB
    disk = make_disk(tmp_path, size, 0x00)
    setup, res = bench(squib, disk, "randwrite", 1, 8, poll=poll)
    lines = guest_lines(squib.output())
    dev = first(lines, "virtio-pci-dev")
    assert dev["id"] == "2" and int(dev["common"], 16) >= 0x40_0000_0000, dev
    assert first(lines, "virtio")["pci"] == "1"
    assert res["complete"] == "yes" and res["errors"] == "0" and res["reqs"] == "256"
    assert (res["irqs"] == "0") if poll else int(res["irqs"]) >= 1
    want = set(rand_blocks(256, size // 4096))
    block = write_pattern(4096)
    with open(disk, "rb") as f:
        data = f.read()
    assert {i for i in range(size // 4096) if data[i * 4096:(i + 1) * 4096] == block} == want


def test_bad_mode_is_reported(squib, tmp_path):
    disk = make_disk(tmp_path, MIB, 0)
    api = squib.client()
    args = "console=ttyS0 reboot=k panic=1 squibtest=blk-bench squibbench=sideways"
    for url, body in (
            ("/boot-source", {"kernel_image_path": KERNEL, "boot_args": args}),
            ("/drives/bench", {"drive_id": "bench", "path_on_host": disk,
                               "is_root_device": False}),
            ("/actions", {"action_type": "InstanceStart"})):
        r = api.put(url, body)
        assert r.status == 204, r.raw
    assert_exit(squib, 0, 60)
    assert "SQUIB-GUEST blk-bench mode=unknown" in squib.output()


def test_run_py_prints_both_columns(tmp_path):
    """The host script, squib only, one tiny cell: a table row with figures
    for the Sync engine and the CPU column filled or '-' (never an error)."""
    env = dict(os.environ)
    env.setdefault("SQUIB_BUILD", os.path.join(ROOT, "build"))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "block", "run.py"),
                        "--vmm", "squib", "--modes", "randread", "--qd", "2",
                        "--rand-mib", "1", "--disk-mib", "8", "--io-engine", "Sync"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=300)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert "error" not in out, out
    row = [l for l in out.splitlines() if re.match(r"\s*randread\s+2\s", l)]
    assert len(row) == 1, out
    cols = row[0].split()
    assert float(cols[2]) > 0 and float(cols[3]) > 0  # squib MiB/s, IOPS
    assert cols[4] == "-" and cols[6] == "-"            # no QEMU column
