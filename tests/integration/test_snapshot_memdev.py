"""Snapshots of machines with virtio-pmem and virtio-mem devices on KVM
(docs/snapshot.md "Pmem and virtio-mem").

The `memsnap` test guest (tests/guest/README.md) plugs the memory the host
asks for, writes a mark into every page of it, then keeps checking the
marks and hashing the pmem window's first 64 bytes ("memsnap-check"). A
restored guest that goes on checking with no bad page and the same hash
proves the plugged blocks' bytes came back from the memory file (Full,
Diff on Full, File and Uffd backends), their KVM slots were registered
again and the pmem file is mapped again at its window; GET
/hotplug/memory answers as before the snapshot, and a PATCH of the
requested size after the restore makes the guest plug more through the
restored queue.

Without KVM: a state file with both devices (the fuzzer's seed
tests/fuzz/corpus/snapshot_state/pmem_mem: 4 GiB of RAM, a 512 MiB region
at 512 GiB) loaded through the Uffd backend lists the region in the
handshake after the RAM, at the memory file's offset 4 GiB; the File
backend refuses a memory file that lacks the region, and maps one that
has it before building the devices.
"""
import json
import os
import re
import shutil
import time

import pytest

from test_boot_guest import kvm_skip_reason, start, wait_for
from test_snapshot import LOAD_ERR, create, expect_fatal_load, load
from test_snapshot_diff import data_extents, fnv1a, merge, pause, resume, snapshot
from test_snapshot_uffd import (ROOT, Handler, handshake_then_hang_up,
                                sparse_file, uffd_load)
from test_virtio_guest import configure_guest

needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))
SEED_STATE = os.path.join(ROOT, "tests", "fuzz", "corpus", "snapshot_state",
                          "pmem_mem")
SEED_RAM = 4 << 30
SEED_REGION = (0x80_0000_0000, 512 << 20)

MIB = 1 << 20
RAM_MIB = 128
HOTPLUG = {"total_size_mib": 256, "block_size_mib": 2, "slot_size_mib": 128}
CHECK = re.compile(r"^SQUIB-GUEST memsnap-check n=(\d+) bad=(\d+) "
                   r"plugged=0x([0-9a-f]+) pmem=0x([0-9a-f]+)\r?\n", re.M)


def checks(squib):
    return [(int(n), int(bad), int(pl, 16), int(pm, 16))
            for n, bad, pl, pm in CHECK.findall(squib.output())]


def wait_checks(squib, more_than=0, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = checks(squib)
        if len(c) > more_than:
            return c
        assert squib.proc.poll() is None, squib.output()[-3000:]
        time.sleep(0.05)
    raise AssertionError("no memsnap-check line:\n" + squib.output()[-3000:])


def pmem_file(tmp_path):
    path = str(tmp_path / "pmem.img")
    with open(path, "wb") as f:
        f.write(bytes((i * 29 + 11) & 0xFF for i in range(4 * MIB)))
    return path


def hotplug(api):
    r = api.get("/hotplug/memory")
    assert r.status == 200, r.raw
    return r.json()


def patch_requested(api, mib, timeout=20):
    """PATCH /hotplug/memory, retried while the driver is not up yet."""
    deadline = time.time() + timeout
    while True:
        r = api.patch("/hotplug/memory", {"requested_size_mib": mib})
        if r.status == 204 or time.time() > deadline:
            assert r.status == 204, r.raw
            return
        time.sleep(0.05)


def boot_memsnap(squib, tmp_path, track=False):
    """The memsnap guest with a read-only pmem device and 16 MiB plugged,
    paused after a few checks. Returns (api, pmem path, GET status)."""
    api = squib.client()
    configure_guest(api, "memsnap", " squibms=100", mem=RAM_MIB)
    if track:
        assert api.patch("/machine-config", {"track_dirty_pages": True}).status == 204
    path = pmem_file(tmp_path)
    r = api.put("/pmem/pm0", {"id": "pm0", "path_on_host": path, "read_only": True})
    assert r.status == 204, r.raw
    r = api.put("/hotplug/memory", HOTPLUG)
    assert r.status == 204, r.raw
    start(api)
    patch_requested(api, 16)
    wait_for(squib, r"SQUIB-GUEST memsnap-ready ", timeout=60)
    wait_checks(squib, 2)
    pause(api)
    st = hotplug(api)
    assert (st["plugged_size_mib"], st["requested_size_mib"]) == (16, 16)
    return api, path, st


def expected_pmem(path):
    with open(path, "rb") as f:
        return fnv1a(f.read(64))


def goes_on(restored, frozen, path, status):
    """The restored guest checks on: later n, no bad page, 16 MiB plugged,
    the pmem bytes; GET /hotplug/memory as before; then a PATCH to 32 MiB
    is plugged and marked through the restored queue."""
    api = restored.client()
    after = wait_checks(restored)
    n, bad, plugged, pm = after[0]
    assert n > frozen[0], (frozen, after[:2])
    assert (bad, plugged) == (0, 16 * MIB), after[:3]
    assert pm == frozen[3] == expected_pmem(path)
    assert hotplug(api) == status
    patch_requested(api, 32)
    wait_for(restored, r"SQUIB-GUEST memsnap-grown ", timeout=30)
    last = len(checks(restored))
    grown = wait_checks(restored, last)[-1]
    assert (grown[1], grown[2]) == (0, 32 * MIB), grown
    st = hotplug(api)
    assert (st["plugged_size_mib"], st["requested_size_mib"]) == (32, 32)
    # Read-only honoured: the guest never changed the file.
    assert expected_pmem(path) == pm


@needs_kvm
def test_full_snapshot_file_backend(squib_factory, tmp_path):
    first = squib_factory([])
    api, path, status = boot_memsnap(first, tmp_path)
    frozen = checks(first)[-1]
    state, memf = create(api, tmp_path)
    # RAM, then the 256 MiB hot-plug region: only its 16 MiB plugged are
    # data, the rest is a hole.
    assert os.path.getsize(memf) == (RAM_MIB << 20) + (256 << 20)
    win = [(s, e) for s, e in data_extents(memf) if e > RAM_MIB << 20]
    assert win and win[-1][1] <= (RAM_MIB + 16) << 20, win
    first.stop()
    second = squib_factory([])
    r = load(second, state, memf)
    assert r.status == 204, r.raw + second.output().encode()
    goes_on(second, frozen, path, status)


@needs_kvm
def test_diff_on_full(squib_factory, tmp_path):
    """With track_dirty_pages a Diff holds only what changed in the plugged
    blocks since the Full (KVM's log of each plugged slot): the guest only
    reads its marks, so next to nothing of the region; written in place onto
    a copy of the Full, or merged onto it, it restores the plugged blocks."""
    first = squib_factory([])
    api, path, status = boot_memsnap(first, tmp_path, track=True)
    _, full = snapshot(api, tmp_path, "full.state", "full.mem", "Full")
    resume(api)
    wait_checks(first, len(checks(first)) + 2)
    pause(api)
    frozen = checks(first)[-1]
    _, diff = snapshot(api, tmp_path, "diff.state", "diff.mem", "Diff")
    region = sum(min(e, (RAM_MIB + 256) << 20) - max(s, RAM_MIB << 20)
                 for s, e in data_extents(diff) if e > RAM_MIB << 20)
    # 16 MiB are plugged; less than one 2 MiB block of them changed.
    assert region < 2 * MIB, data_extents(diff)
    merged = merge(full, diff, str(tmp_path / "merged.mem"))
    assert os.path.getsize(merged) == os.path.getsize(full)
    # Nothing ran since: a Diff in place onto a copy of the Full adds no
    # page of the region and leaves the Full's plugged blocks there.
    shutil.copyfile(merged, str(tmp_path / "layered.mem"))
    state, memf = snapshot(api, tmp_path, "diff2.state", "layered.mem", "Diff")
    _, again = snapshot(api, tmp_path, "diff3.state", "diff3.mem", "Diff")
    assert not [e for e in data_extents(again) if e[1] > RAM_MIB << 20]
    first.stop()
    second = squib_factory([])
    r = load(second, state, memf)
    assert r.status == 204, r.raw + second.output().encode()
    goes_on(second, frozen, path, status)


@needs_kvm
def test_uffd_backend(squib_factory, tmp_path):
    """The hot-plug region is in the handshake after the RAM; the handler
    serves its plugged blocks from the memory file."""
    first = squib_factory([])
    api, path, status = boot_memsnap(first, tmp_path)
    frozen = checks(first)[-1]
    state, memf = create(api, tmp_path)
    first.stop()
    h = Handler(tmp_path, memf)
    try:
        second = squib_factory([])
        r = uffd_load(second, state, h.sock)
        assert r.status == 204, r.raw + second.output().encode()
        goes_on(second, frozen, path, status)
    finally:
        h.stop()


@needs_kvm
def test_pmem_file_resized_refuses_load(squib_factory, tmp_path):
    """The pmem window is rebuilt from the file: a file that grew past its
    window cannot be put back at the saved one, and the load fails."""
    first = squib_factory([])
    api, path, _ = boot_memsnap(first, tmp_path)
    state, memf = create(api, tmp_path)
    first.stop()
    with open(path, "ab") as f:
        f.write(b"\0" * (4 * MIB))
    second = squib_factory([])
    r = load(second, state, memf)
    assert r.status == 400
    assert r.fault == LOAD_ERR + "Failed to build microVM from snapshot: " \
        "virtio-pmem pm0: Restored pmem size %d does not match backing file " \
        "mapping size %d" % (4 * MIB, 8 * MIB), r.fault


# ---- without KVM: the region in the memory backends -------------------------

def test_uffd_handshake_lists_the_hotplug_region(squib_factory, tmp_path):
    s = squib_factory([])
    got = handshake_then_hang_up(s, SEED_STATE, str(tmp_path / "py.sock"),
                                 resume=False)
    s.stop()
    regions = json.loads(got["msg"].decode())
    assert [(r["size"], r["offset"]) for r in regions] == [
        (3 << 30, 0), (1 << 30, 3 << 30), (SEED_REGION[1], SEED_RAM)]
    assert all(r["base_host_virt_addr"] % (2 << 20) == 0 for r in regions)


def test_file_backend_needs_the_hotplug_region(squib_factory, tmp_path):
    ram_only = sparse_file(tmp_path / "ram.mem", SEED_RAM)
    expect_fatal_load(squib_factory([]), SEED_STATE, ram_only,
                      LOAD_ERR + "Failed to load guest memory: Error creating guest "
                      "memory from file: Failed to restore guest memory: Total sum of "
                      "memory regions exceeds largest possible file offset")
    # With the region the memory is mapped; the build then stops at the
    # seed's pmem file, which does not exist.
    whole = sparse_file(tmp_path / "vm.mem", SEED_RAM + SEED_REGION[1])
    expect_fatal_load(squib_factory([]), SEED_STATE, whole,
                      LOAD_ERR + "Failed to build microVM from snapshot: Cannot "
                      "create pmem device: Error accessing backing file: No such file "
                      "or directory (os error 2)")
