"""Diff snapshots on KVM (docs/snapshot.md, "Diff snapshots"): a Full
snapshot, the guest runs on, then a Diff holds only what changed since; it
is written into a copy of the base (in place) or into a new sparse file
merged here onto the base with SEEK_DATA, and a new process restored from
the result goes on counting from where the guest stopped, nothing repeated
or lost. Pages squib itself wrote into guest memory (a block device's
reads) must be in the Diff though KVM's dirty log never sees them.

The `counter` guest counts in memory; the `blk-hold` guest reads 16 KiB
from a new place on its disk each round and keeps checking that buffer
(tests/guest/README.md).
"""
import os
import re
import shutil
import time

import pytest

from test_boot_guest import (GUEST_DIR, configure, counter_values,
                             kvm_skip_reason, start, wait_for)
from test_snapshot import move

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

MIB = 1 << 20
DEV_PREVIEW = "[DevPreview] Virtual machine diff snapshots is in development preview."


def boot(squib, test, extra_args, track=True, mem=128):
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), test, mem=mem,
              extra_args=extra_args)
    if track:
        r = api.patch("/machine-config", {"track_dirty_pages": True})
        assert r.status == 204, r.raw
    return api


def pause(api):
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)  # let a line in flight land


def resume(api):
    assert api.patch("/vm", {"state": "Resumed"}).status == 204


def snapshot(api, tmp_path, state, memf, kind):
    state, memf = str(tmp_path / state), str(tmp_path / memf)
    r = api.put("/snapshot/create", {"snapshot_path": state, "mem_file_path": memf,
                                     "snapshot_type": kind})
    assert r.status == 204, r.raw
    return state, memf


def data_extents(path):
    """The [start, end) ranges of `path` that hold data (SEEK_DATA/HOLE)."""
    out, fd = [], os.open(path, os.O_RDONLY)
    try:
        size, at = os.fstat(fd).st_size, 0
        while at < size:
            try:
                start = os.lseek(fd, at, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.append((start, end))
            at = end
    finally:
        os.close(fd)
    return out


def merge(base, diff, out):
    """Lay the data of the sparse `diff` onto a copy of `base`."""
    shutil.copyfile(base, out)
    with open(diff, "rb") as d, open(out, "r+b") as o:
        for start, end in data_extents(diff):
            d.seek(start)
            o.seek(start)
            o.write(d.read(end - start))
    return out


def on_disk(path):
    return os.stat(path).st_blocks * 512


def wait_more_counts(squib, than, n=3, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline and len(counter_values(squib)) < than + n:
        time.sleep(0.05)
    assert len(counter_values(squib)) >= than + n, squib.output()[-3000:]


def counts_on(restored, frozen):
    deadline = time.time() + 20
    while time.time() < deadline and not counter_values(restored):
        time.sleep(0.05)
    after = counter_values(restored)
    assert after, "the restored guest printed nothing:\n" + restored.output()[-3000:]
    # Nothing lost (it does not restart below the snapshot's count) and
    # nothing repeated from before the Full one (it is not the base alone).
    assert after[0] >= frozen[-1], (frozen[-3:], after[:3])
    assert after[0] - frozen[-1] < 64 * 1048576, "counted far beyond the snapshot"
    assert after == sorted(after)


@pytest.mark.parametrize("how", ["in-place", "merge", "merge-mincore"])
def test_diff_on_full_goes_on_counting(squib_factory, tmp_path, how):
    first = squib_factory([])
    api = boot(first, "counter", " squibevery=1048576", track=how != "merge-mincore")
    start(api)
    wait_for(first, r"SQUIB-GUEST counter value=\d+\r?\n")
    time.sleep(0.3)
    pause(api)
    _, full = snapshot(api, tmp_path, "full.state", "full.mem", "Full")
    at_full = counter_values(first)
    resume(api)
    wait_more_counts(first, len(at_full))
    pause(api)
    frozen = counter_values(first)
    assert frozen[-1] > at_full[-1]
    if how == "in-place":
        shutil.copyfile(full, tmp_path / "layered.mem")
        ino = os.stat(tmp_path / "layered.mem").st_ino
        state, memf = snapshot(api, tmp_path, "diff.state", "layered.mem", "Diff")
        assert os.stat(memf).st_ino == ino, "the base was not updated in place"
    else:
        state, diff = snapshot(api, tmp_path, "diff.state", "diff.mem", "Diff")
        assert os.path.getsize(diff) == 128 * MIB
        if how == "merge":
            # Only what changed since the Full one: a few pages, not RAM.
            assert on_disk(diff) * 16 < on_disk(full), (on_disk(diff), on_disk(full))
        memf = merge(full, diff, str(tmp_path / "merged.mem"))
    out = first.output()
    assert DEV_PREVIEW in out
    assert "'create diff snapshot' VMM action took" in out
    assert not [n for n in os.listdir(tmp_path) if re.search(r"\.mem\.\w{6}$", n)], \
        "a temporary memory file was left behind"
    counts_on(move(squib_factory, first, state, memf), frozen)


def test_first_diff_equals_full(squib_factory, tmp_path):
    """With tracking on from boot, a first Diff holds every page that is not
    zero: what the loader wrote, what the guest wrote. It reads back equal
    to a Full snapshot of the same paused machine, and restores."""
    first = squib_factory([])
    api = boot(first, "counter", " squibevery=1048576")
    start(api)
    wait_for(first, r"SQUIB-GUEST counter value=\d+\r?\n")
    time.sleep(0.3)
    pause(api)
    frozen = counter_values(first)
    state, diff = snapshot(api, tmp_path, "diff.state", "diff.mem", "Diff")
    _, full = snapshot(api, tmp_path, "full.state", "full.mem", "Full")
    with open(diff, "rb") as a, open(full, "rb") as b:
        while True:
            x, y = a.read(MIB), b.read(MIB)
            assert x == y, "the first Diff differs from the Full snapshot"
            if not x:
                break
    assert on_disk(diff) < on_disk(full)
    counts_on(move(squib_factory, first, state, diff), frozen)


def test_diff_of_a_restored_vm(squib_factory, tmp_path):
    """track_dirty_pages given at load: a restored VM's Diff holds what it
    changed since the restore, layered onto the file it was restored from."""
    first = squib_factory([])
    api = boot(first, "counter", " squibevery=1048576", track=False)
    start(api)
    wait_for(first, r"SQUIB-GUEST counter value=\d+\r?\n")
    time.sleep(0.3)
    pause(api)
    state, full = snapshot(api, tmp_path, "full.state", "full.mem", "Full")
    first.stop()
    second = squib_factory([])
    api = second.client()
    r = api.put("/snapshot/load", {"snapshot_path": state,
                                   "mem_backend": {"backend_type": "File", "backend_path": full},
                                   "track_dirty_pages": True, "resume_vm": True})
    assert r.status == 204, r.raw
    assert api.get("/machine-config").json()["track_dirty_pages"] is True
    wait_more_counts(second, 0)
    pause(api)
    frozen = counter_values(second)
    shutil.copyfile(full, tmp_path / "layered.mem")
    state2, memf = snapshot(api, tmp_path, "diff.state", "layered.mem", "Diff")
    counts_on(move(squib_factory, second, state2, memf), frozen)


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def hold_lines(squib, kind):
    return [(int(r), int(s), int(h, 16)) for r, s, h in re.findall(
        r"^SQUIB-GUEST blk-hold %s round=(\d+) sector=(\d+)(?: status=0x0)? fnv1a=0x([0-9a-f]+)\r?\n" % kind,
        squib.output(), re.M)]


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_diff_holds_pages_squib_wrote(squib_factory, tmp_path, engine):
    """The guest reads disk data into a buffer it never writes itself; a
    Diff taken after such a read must hold the buffer (squib marked those
    pages), or the restored guest finds the base's older bytes there."""
    disk = bytearray(1 * MIB)
    for s in range(len(disk) // 512):
        for i in range(512):
            disk[s * 512 + i] = (s * 31 + i * 7 + (i >> 8)) & 0xff
    (tmp_path / "disk.img").write_bytes(bytes(disk))

    def expected(sector):
        return fnv1a(disk[sector * 512:sector * 512 + 16384])

    first = squib_factory([])
    api = boot(first, "blk-hold", " squibchecks=60 squibms=50")
    r = api.put("/drives/data", {"drive_id": "data", "is_root_device": False,
                                 "path_on_host": str(tmp_path / "disk.img"),
                                 "io_engine": engine})
    assert r.status == 204, r.raw
    start(api)
    wait_for(first, r"SQUIB-GUEST blk-hold read round=1 ")
    pause(api)
    _, full = snapshot(api, tmp_path, "full.state", "full.mem", "Full")
    last = hold_lines(first, "read")[-1][0]
    resume(api)
    # Pause just after the next read, while the guest is checking it.
    wait_for(first, r"SQUIB-GUEST blk-hold read round=%d " % (last + 1), timeout=30)
    pause(api)
    reads = hold_lines(first, "read")
    rnd, sector, h = reads[-1]
    assert h == expected(sector)
    state, diff = snapshot(api, tmp_path, "diff.state", "diff.mem", "Diff")
    merged = merge(full, diff, str(tmp_path / "merged.mem"))
    second = move(squib_factory, first, state, merged)
    wait_for(second, r"SQUIB-GUEST blk-hold check round=\d+ ", timeout=30)
    time.sleep(0.5)
    checks = hold_lines(second, "check")
    # The restored guest goes on checking the round it read before the Diff,
    assert checks and checks[0][0] == rnd, (rnd, checks[:3])
    # and every buffer it checks holds the disk's bytes.
    for r_, s_, h_ in checks + hold_lines(second, "read"):
        assert h_ == expected(s_), (r_, s_, hex(h_), hex(expected(s_)))
