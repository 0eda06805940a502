"""Real Linux through the API (slow on the nested development machines:
minutes). Skipped, with the reason printed, where the guest kernel cannot be
obtained or KVM cannot run it."""
import os
import time

import pytest

import linux_guest
from conftest import BUILD


@pytest.fixture
def linux():
    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        # Each boot takes many minutes here; the sanitizer build runs the
        # same VMM paths with the test guests (test_boot_guest.py).
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    return linux_guest


def wait_line(s, text, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = s.output()
        if text in out:
            return out
        if s.proc.poll() is not None:
            break
        time.sleep(0.5)
    raise AssertionError("%r not seen within %ss; output tail:\n%s" % (text, timeout, s.output()[-3000:]))


def test_linux_initramfs_boots_to_init(squib, linux):
    api = squib.client()
    r = api.put("/boot-source", {
        "kernel_image_path": linux.kernel_path(),
        "initrd_path": linux.rootfs("initramfs"),
        "boot_args": linux.cmdline("squib.test=marker", root="initramfs"),
    })
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    t0 = time.time()
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r.raw
    out = wait_line(squib, linux.MARKER, 2 * linux.BOOT_TIMEOUT)
    print("linux: /init marker %.0f s after InstanceStart" % (time.time() - t0))
    assert "Linux version" in out
    # ACPI tables squib wrote, as the kernel saw them.
    for sig in ("RSDP", "XSDT", "FACP", "DSDT", "APIC", "MCFG"):
        assert "ACPI: %s " % sig in out, sig
    assert api.get("/").json()["state"] == "Running"
    # The init reboots with reboot=k: an i8042 reset ends squib with 0.
    assert squib.wait(120) == 0
    assert "Firecracker exiting successfully. exit_code=0" in squib.output()
