"""Snapshots on KVM (docs/snapshot.md): a paused counter guest is saved,
its squib killed, and a new squib process restored from the files goes on
counting from where the first one stopped; and the load errors a client
sees (digest 7.2, 7.4), each followed by the process exiting with 1.

The `counter` test guest (tests/guest/README.md) counts in ring 3 and
prints the latest multiple of squibevery from a LAPIC timer interrupt, so a
restored guest proves registers, memory, the LAPIC timer and the serial
port came back.
"""
import os
import re
import struct
import time

import pytest

from test_boot_guest import (GUEST_DIR, configure, counter_values,
                             kvm_skip_reason, start, wait_for)

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

LOAD_ERR = "Load snapshot error: Failed to restore from snapshot: "
STATE_ERR = LOAD_ERR + "Failed to get snapshot state from file: "
DECODE_ERR = STATE_ERR + "Failed to load snapshot state from file: "


def crc64_jones(data, crc=0):
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95ac9329ac4bc9b5 if crc & 1 else crc >> 1
    return crc


def file_digest(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot_counter_guest(squib, tmp_path, mem=128):
    """Boot the counter guest, pause it, snapshot it; return the files and
    the last value it printed."""
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "counter",
              mem=mem, extra_args=" squibevery=1048576")
    start(api)
    wait_for(squib, r"SQUIB-GUEST counter value=\d+\r?\n")
    time.sleep(0.3)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)  # let a line in flight land
    frozen = counter_values(squib)
    state, memf = create(api, tmp_path)
    assert os.path.getsize(memf) == mem << 20
    assert not [n for n in os.listdir(tmp_path) if n.startswith("vm.state.")], \
        "a temporary state file was left behind"
    return state, memf, frozen


def create(api, tmp_path, name="vm"):
    """A Full snapshot of the paused VM behind `api`: (state, memory file)."""
    state, memf = str(tmp_path / (name + ".state")), str(tmp_path / (name + ".mem"))
    r = api.put("/snapshot/create", {"snapshot_path": state, "mem_file_path": memf})
    assert r.status == 204, r.raw
    return state, memf


def move(squib_factory, old, state, memf):
    """Kill `old` and restore (state, memf) in a new process, resumed."""
    old.stop()
    new = squib_factory([])
    r = load(new, state, memf)
    assert r.status == 204, r.raw + new.output().encode()
    return new


def load(s, state, memf, resume=True, **extra):
    body = {"snapshot_path": state,
            "mem_backend": {"backend_type": "File", "backend_path": memf},
            "resume_vm": resume}
    body.update(extra)
    return s.client().put("/snapshot/load", body)


def test_restore_in_new_process_goes_on_counting(squib_factory, tmp_path):
    first = squib_factory([])
    state, memf, frozen = snapshot_counter_guest(first, tmp_path)
    assert frozen, "the guest printed no counter line before the pause"
    # first is killed: nothing of it survives but the two files.
    second = move(squib_factory, first, state, memf)
    api = second.client()
    info = api.get("/").json()
    assert info["state"] == "Running"
    cfg = api.get("/machine-config").json()
    assert cfg["vcpu_count"] == 1 and cfg["mem_size_mib"] == 128
    # The restored guest prints only values above the last one before the
    # pause: the count went on, nothing restarted from zero.
    deadline = time.time() + 20
    while time.time() < deadline and not counter_values(second):
        time.sleep(0.05)
    after = counter_values(second)
    assert after, "the restored guest printed nothing:\n" + second.output()[-3000:]
    assert after[0] >= frozen[-1], (frozen[-1], after[:3])
    assert after[0] - frozen[-1] < 64 * 1048576, "counted far beyond the snapshot"
    assert after == sorted(after)
    # It keeps running, and pauses and resumes as a booted one does.
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    assert "'load snapshot' VMM action took" in second.output()


def test_snapshot_of_a_restored_vm(squib_factory, tmp_path):
    """A restored VM (seccomp filters on, RAM mapped from a file) is paused
    and snapshotted again; a third process restores that and counts on."""
    first = squib_factory([])
    state, memf, frozen = snapshot_counter_guest(first, tmp_path)
    second = move(squib_factory, first, state, memf)
    api = second.client()
    deadline = time.time() + 20
    while time.time() < deadline and len(counter_values(second)) < 3:
        time.sleep(0.05)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)
    frozen2 = counter_values(second)
    assert frozen2 and frozen2[-1] > frozen[-1]
    third = move(squib_factory, second, *create(api, tmp_path, "vm2"))
    wait_for(third, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert counter_values(third)[0] >= frozen2[-1]


def test_restore_one_snapshot_in_ten_processes(squib_factory, tmp_path):
    """The memory file is mapped privately: ten processes restore the same
    files at once and each guest counts on from the snapshot on its own."""
    first = squib_factory([])
    state, memf, frozen = snapshot_counter_guest(first, tmp_path)
    first.stop()
    digest = file_digest(memf)
    clones = [squib_factory([]) for _ in range(10)]
    for c in clones:
        r = load(c, state, memf)
        assert r.status == 204, r.raw + c.output().encode()
    deadline = time.time() + 60
    while time.time() < deadline and not all(counter_values(c) for c in clones):
        time.sleep(0.1)
    for c in clones:
        values = counter_values(c)
        assert values, c.output()[-2000:]
        assert values[0] >= frozen[-1]
    # The guests write their counters, but only into their private copies.
    assert file_digest(memf) == digest


def fill_word(addr):
    """What the counter guest's squibfill= leaves at addr (8-aligned)."""
    return ((addr * 0x9e3779b97f4a7c15) | 1) & ((1 << 64) - 1)


def test_full_snapshot_holds_what_the_guest_wrote(squib, tmp_path):
    """squibfill=MIB (the snapshot benchmark's guest, bench/snapshot):
    the guest writes RAM from 16 MiB to MIB MiB before counting; the Full
    memory file holds those bytes at their guest-physical offsets."""
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-pvh.elf"), "counter",
              extra_args=" squibevery=1048576 squibfill=40")
    start(api)
    out = wait_for(squib, r"SQUIB-GUEST fill start=0x1000000 end=0x2800000 pages=6144")
    wait_for(squib, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert out.count("SQUIB-GUEST fill ") == 1
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    _, memf = create(api, tmp_path)
    with open(memf, "rb") as f:
        for page in (16 << 8, (16 << 8) + 1, 30 << 8, (40 << 8) - 1):
            f.seek(page << 12)
            data = f.read(4096)
            for i in (0, 1, 511):
                addr = (page << 12) + 8 * i
                assert struct.unpack_from("<Q", data, 8 * i)[0] == fill_word(addr), hex(addr)
        f.seek(40 << 20)  # above the fill: never written
        assert f.read(4096) == bytes(4096)


def test_load_paused_then_resume(squib_factory, tmp_path):
    first = squib_factory([])
    state, memf, frozen = snapshot_counter_guest(first, tmp_path)
    first.stop()
    second = squib_factory([])
    r = load(second, state, memf, resume=False)
    assert r.status == 204, r.raw
    api = second.client()
    assert api.get("/").json()["state"] == "Paused"
    time.sleep(0.5)
    assert counter_values(second) == []
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    wait_for(second, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert counter_values(second)[0] >= frozen[-1]


def rng_ticks(squib):
    return [int(v) for v in re.findall(r"^SQUIB-GUEST rng-rate-tick bytes=(\d+) ", squib.output(), re.M)]


def test_restore_virtio_devices_mid_stream(squib_factory, tmp_path):
    """A guest reading entropy in a loop (rng-rate), with a block device
    beside the rng, is snapshotted mid-stream and restored in a new
    process: its requests go on through the restored queues (the byte
    count keeps growing from where it was) and the run ends without a
    timed-out request."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    first = squib_factory([])
    api = first.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "rng-rate",
              extra_args=" squibms=4000 squibbytes=64")
    r = api.put("/drives/data", {"drive_id": "data", "path_on_host": str(disk),
                                 "is_root_device": False})
    assert r.status == 204, r.raw
    assert api.put("/entropy", {}).status == 204
    start(api)
    deadline = time.time() + 30
    while time.time() < deadline and len(rng_ticks(first)) < 3:
        time.sleep(0.05)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)
    before = rng_ticks(first)
    assert before, first.output()[-3000:]
    state, memf = create(api, tmp_path)
    second = move(squib_factory, first, state, memf)
    cfg = second.client().get("/vm/config").json()
    assert [d["drive_id"] for d in cfg["drives"]] == ["data"]
    assert cfg["entropy"] is not None
    out = wait_for(second, r"SQUIB-GUEST rng-rate bytes=.* bytes_per_sec=\d+\r?\n",
                   timeout=60)
    after = rng_ticks(second)
    assert after and after[0] > before[-1], (before[-3:], after[:3])
    final = [l for l in out.splitlines() if l.startswith("SQUIB-GUEST rng-rate ")][0]
    assert " timeouts=0 " in final, final


@pytest.mark.parametrize("engine", ["Sync", "Async"])
def test_restore_block_mid_benchmark(squib_factory, tmp_path, engine):
    """A guest streaming reads from a block device (blk-bench, completions
    by interrupt, 8 requests in flight) is snapshotted mid-run (an Async
    engine's requests in flight finish first) and restored in a new
    process: the run completes there with every request answered."""
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\x5a" * (8 << 20))
    first = squib_factory([])
    api = first.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "blk-bench",
              extra_args=" squibbench=seqread squibmib=1024 squibqd=8")
    r = api.put("/drives/bench", {"drive_id": "bench", "path_on_host": str(disk),
                                  "is_root_device": False, "io_engine": engine})
    assert r.status == 204, r.raw
    start(api)
    wait_for(first, r"SQUIB-GUEST blk-bench-start")
    time.sleep(0.3)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert "blk-bench-end" not in first.output(), "the run ended before the pause"
    state, memf = create(api, tmp_path)
    second = move(squib_factory, first, state, memf)
    # The whole line (the serial output and the log share output()).
    out = wait_for(second, r"SQUIB-GUEST blk-bench mode=\S+ bytes=.* iops=\d+\r?\n",
                   timeout=120)
    result = [l for l in out.splitlines()
              if l.startswith("SQUIB-GUEST blk-bench mode=") and " bytes=" in l][0]
    assert " complete=yes" in result and " errors=0" in result, result
    assert " reqs=8192 " in result, result


def test_describe_snapshot(squib_factory, tmp_path):
    import subprocess
    from conftest import SQUIB
    s = squib_factory([])
    state, _, _ = snapshot_counter_guest(s, tmp_path)
    p = subprocess.run([SQUIB, "--describe-snapshot", state], capture_output=True)
    assert p.returncode == 0
    assert p.stdout.startswith(b"v11.0.0\n")


def expect_fatal_load(s, state, memf, fault, **extra):
    """PUT /snapshot/load answers 400 with `fault`, then the process ends
    with 1, as upstream's does after a failed restore."""
    r = load(s, state, memf, **extra)
    assert r.status == 400, r.raw
    assert r.fault == fault
    try:
        code = s.proc.wait(10)
    except Exception:
        raise AssertionError("squib did not exit after a failed load:\n" + s.output()[-3000:])
    assert code == 1, s.output()[-3000:]
    out = s.output()
    assert "Loading snapshot failed." in out
    assert "Firecracker exiting with error. exit_code=1" in out


@pytest.fixture(scope="module")
def good_snapshot(tmp_path_factory):
    from conftest import Squib
    d = tmp_path_factory.mktemp("snap")
    s = Squib(d)
    try:
        state, memf, _ = snapshot_counter_guest(s, d)
    finally:
        s.stop()
    with open(state, "rb") as f:
        return f.read(), memf


def broken(tmp_path, data):
    p = tmp_path / "broken.state"
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("case", ["crc", "magic", "version", "short", "empty", "missing"])
def test_load_errors(squib_factory, tmp_path, good_snapshot, case):
    data, memf = good_snapshot
    if case == "crc":
        d = bytearray(data)
        d[40] ^= 0x01  # inside the first section
        path, fault = broken(tmp_path, bytes(d)), DECODE_ERR + "CRC64 validation failed"
    elif case == "magic":
        body = struct.pack("<Q", 0x07101984AAAA0000) + data[8:-8]
        path = broken(tmp_path, body + struct.pack("<Q", crc64_jones(body)))
        fault = DECODE_ERR + "Magic value does not match arch: %d" % 0x07101984AAAA0000
    elif case == "version":
        body = data[:8] + struct.pack("<III", 11, 1, 0) + data[20:-8]
        path = broken(tmp_path, body + struct.pack("<Q", crc64_jones(body)))
        fault = DECODE_ERR + "Invalid data version: 11.1.0"
    elif case == "short":
        path, fault = broken(tmp_path, data[:5]), DECODE_ERR + "IO Error: File too short to contain CRC"
    elif case == "empty":
        path, fault = broken(tmp_path, b""), DECODE_ERR + "IO Error: File too short to contain CRC"
    else:
        path = str(tmp_path / "nope")
        fault = STATE_ERR + "Failed to open snapshot file: No such file or directory (os error 2)"
    expect_fatal_load(squib_factory([]), path, memf, fault)


def test_load_memory_file_too_small(squib_factory, tmp_path, good_snapshot):
    data, _ = good_snapshot
    state = broken(tmp_path, data)
    small = tmp_path / "small.mem"
    small.write_bytes(b"\0" * 4096)
    expect_fatal_load(squib_factory([]), state, str(small),
                      LOAD_ERR + "Failed to load guest memory: Error creating guest "
                      "memory from file: Failed to restore guest memory: Total sum of "
                      "memory regions exceeds largest possible file offset")


def test_load_2m_huge_pages_with_file_backend(squib_factory, tmp_path, good_snapshot):
    data, memf = good_snapshot
    expect_fatal_load(squib_factory([]), broken(tmp_path, data), memf,
                      LOAD_ERR + "Failed to load guest memory: Error creating guest memory "
                      "from file: Cannot restore hugetlbfs backed snapshot by mapping the "
                      "memory file. Please use uffd.",
                      huge_pages="2M")


def test_load_with_clock_realtime(squib_factory, tmp_path, good_snapshot):
    data, memf = good_snapshot
    s = squib_factory([])
    r = load(s, broken(tmp_path, data), memf, clock_realtime=True)
    assert r.status == 204, r.raw
    wait_for(s, r"SQUIB-GUEST counter value=\d+\r?\n")


def test_load_after_boot_resource_is_refused_not_fatal(squib_factory, tmp_path, good_snapshot):
    data, memf = good_snapshot
    s = squib_factory([])
    api = s.client()
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
    r = load(s, broken(tmp_path, data), memf)
    assert r.status == 400
    assert r.fault == ("Load snapshot error: Loading a microVM snapshot not allowed "
                       "after configuring boot-specific resources.")
    time.sleep(0.2)
    assert s.proc.poll() is None


def test_create_while_running_refused(squib, tmp_path):
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "counter")
    start(api)
    r = api.put("/snapshot/create", {"snapshot_path": str(tmp_path / "s"),
                                     "mem_file_path": str(tmp_path / "m")})
    assert r.status == 400
    assert r.fault == ("Create snapshot error: Cannot save the microVM state: Operation "
                       "not allowed: save/restore unavailable while running")
    assert not os.path.exists(tmp_path / "s")
