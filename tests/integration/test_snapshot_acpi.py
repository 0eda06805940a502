"""VMGenID and VMClock on KVM, seen from inside the guest, as upstream's
test_vmclock.py, test_sysgenid.py and test_snapshot_basic's VMGenID check
see them (docs/snapshot.md, "VMGenID and VMClock").

The `acpi-devs` test guest (tests/guest/README.md) finds both devices and
the GED in the DSDT, routes the GED's interrupts, and prints an
`acpidev-state` line (generation id, VMClock fields read under the
seq_count protocol, interrupts taken per GED line) at start and whenever
any of it changes. A snapshot restore must change the id, bump the VMClock
disruption marker and VM generation counter by one, and raise both GED
lines before the vCPUs run; a booted VM raises nothing.
"""
import os
import re
import struct
import time

import pytest

from test_boot_guest import (GUEST_DIR, configure, every, first, guest_lines,
                             kvm_skip_reason, start, wait_for)
from test_snapshot import create, crc64_jones, move

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

MEM_MIB = 64
ROUNDS = 3  # upstream restores five times; three show the same counting


def states(squib):
    return every(guest_lines(squib.output()), "acpidev-state")


def wait_state(squib, pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for s in states(squib):
            if pred(s):
                return s
        time.sleep(0.05)
    raise AssertionError("no acpidev-state line with %s; output:\n%s" %
                         (what, squib.output()[-4000:]))


def boot(squib_factory):
    s = squib_factory([])
    api = s.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "acpi-devs",
              mem=MEM_MIB)
    start(api)
    wait_for(s, r"SQUIB-GUEST acpidev-state round=0 ")
    return s


def check_abi(st):
    """The fields upstream's test_vmclock_read_fields checks, which never
    change."""
    assert st["magic"] == "0x4b4c4356"
    assert st["size"] == "0x1000"
    assert st["version"] == "1"
    assert st["clock_status"] == "0"
    assert st["counter_id"] == "255"
    assert int(st["flags"], 16) & 0x100, "VM_GEN_COUNTER_PRESENT"
    assert int(st["flags"], 16) & 0x200, "NOTIFICATION_PRESENT"
    assert int(st["seq"]) % 2 == 0, "read under the seq_count protocol"


def test_devices_at_boot(squib_factory):
    s = boot(squib_factory)
    lines = guest_lines(s.output())
    dev = first(lines, "acpidev")
    # Top of system memory, GSIs after the (no) virtio devices.
    assert dev["vmgenid"] == "0xdfff0"
    assert dev["vmclock"] == "0xde000"
    assert dev["ged_gsis"] == "2"
    assert (dev["gsi0"], dev["gsi1"]) == ("5", "6")
    st = first(lines, "acpidev-state")
    check_abi(st)
    assert st["disruption"] == "0"
    assert st["generation"] == "0"
    assert st["seq"] == "0"
    assert re.fullmatch(r"[0-9a-f]{32}", st["id"])
    assert st["id"] != "0" * 32, "no generation id written"
    # Nothing is raised at boot, and nothing changes while it runs.
    time.sleep(0.5)
    assert (st["irqs0"], st["irqs1"]) == ("0", "0")
    assert len(states(s)) == 1, states(s)


def test_each_restore_renews_id_and_bumps_vmclock(squib_factory, tmp_path):
    """Incremental restores, as upstream's test_snapshot_update and
    test_vmclock_notifications: each from a snapshot of the previous one."""
    s = boot(squib_factory)
    seen_ids = {states(s)[0]["id"]}
    for i in range(1, ROUNDS + 1):
        api = s.client()
        assert api.patch("/vm", {"state": "Paused"}).status == 204
        files = create(api, tmp_path, "vm%d" % i)
        s = move(squib_factory, s, *files)
        st = wait_state(s, lambda st: (st["generation"] == str(i) and
                                       int(st["irqs0"]) >= i and
                                       int(st["irqs1"]) >= i),
                        "generation=%d and both GED lines raised" % i)
        check_abi(st)
        assert st["disruption"] == str(i)
        # One notification per restore and line, none in between.
        assert (st["irqs0"], st["irqs1"]) == (str(i), str(i)), st
        assert st["seq"] == str(2 * i)
        assert st["id"] not in seen_ids, "the generation id did not change"
        seen_ids.add(st["id"])
    # A second look: nothing else moves while the restored VM runs.
    time.sleep(0.5)
    assert states(s)[-1]["generation"] == str(ROUNDS)


def test_restored_paused_notifies_on_resume(squib_factory, tmp_path):
    """resume_vm false: the id and the page are written at load, the
    interrupts wait in the interrupt controller until the vCPUs run."""
    s = boot(squib_factory)
    boot_id = states(s)[0]["id"]
    api = s.client()
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    state, memf = create(api, tmp_path)
    s.stop()
    new = squib_factory([])
    body = {"snapshot_path": state,
            "mem_backend": {"backend_type": "File", "backend_path": memf},
            "resume_vm": False}
    assert new.client().put("/snapshot/load", body).status == 204
    time.sleep(0.3)
    assert not states(new), "a paused guest printed"
    assert new.client().patch("/vm", {"state": "Resumed"}).status == 204
    st = wait_state(new, lambda st: st["irqs0"] == "1" and st["irqs1"] == "1",
                    "both GED lines raised once")
    assert st["generation"] == "1" and st["id"] != boot_id


def strip_section(path, tag):
    """Rewrite the state file at path without its `tag` section (as a squib
    from before that section wrote it), with a valid CRC."""
    with open(path, "rb") as f:
        data = f.read()
    body, out, off = data[:-8], bytearray(data[:20]), 20
    while off < len(body):
        t, n = struct.unpack_from("<4sI", body, off)
        if t != tag:
            out += body[off:off + 8 + n]
        off += 8 + n
    out += struct.pack("<Q", crc64_jones(bytes(out)))
    with open(path, "wb") as f:
        f.write(bytes(out))


def test_state_file_without_acpi_section(squib_factory, tmp_path):
    """A state file from before the ACPI section (the devices in the DSDT,
    their buffers never written) loads, and the devices are renewed at the
    places that boot gave them."""
    s = boot(squib_factory)
    boot_id = states(s)[0]["id"]
    api = s.client()
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    state, memf = create(api, tmp_path)
    strip_section(state, b"ACPI")
    new = move(squib_factory, s, state, memf)
    st = wait_state(new, lambda st: st["irqs0"] == "1" and st["irqs1"] == "1",
                    "both GED lines raised once")
    check_abi(st)
    assert st["generation"] == "1" and st["disruption"] == "1"
    assert st["id"] != boot_id
