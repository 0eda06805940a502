"""Real Linux on squib's memory devices, through the API (minutes on the
nested development machines, so one boot does both).

The root file system is the ext4 test image as a read-only root pmem device
(root=/dev/pmem0 ro, added by squib): the guest kernel's virtio_pmem driver
finds the window past 512 GiB and mounts it with DAX (rootflags=dax; the
image has 4 KiB blocks for that), so the guest runs its programs straight
from the host file's pages. A virtio-mem device of 512 MiB
is attached; the guest's /init (scripts/guest/init, squib.test=memdev)
reports its online memory blocks, the host asks for 256 MiB (PATCH
/hotplug/memory) and the guest kernel plugs and onlines them
(memhp_default_state=online_movable), then the host asks for 0 and the
guest unplugs them again; GET /hotplug/memory follows. Skipped, with the
reason printed, where the guest kernel cannot be obtained or KVM cannot
run it, and in the sanitizer build.
"""
import re
import time

from conftest import SQUIB, Squib
# The real-Linux fixture (skips with the reason) and the serial-line wait
# are test_linux_virtio's.
from test_linux_virtio import linux, wait_line  # noqa: F401  (pytest fixture)


def status(api):
    r = api.get("/hotplug/memory")
    assert r.status == 200, r.raw
    return r.json()


def wait_plugged(api, mib, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st = status(api)
        if st["plugged_size_mib"] == mib:
            return st
        time.sleep(1)
    raise AssertionError("plugged size never reached %d MiB: %r" % (mib, status(api)))


def test_linux_pmem_root_and_memory_hotplug(linux, tmp_path):
    squib = Squib(tmp_path, binary=SQUIB)
    try:
        root = linux.rootfs_copy("ext4", tmp_path)
        api = squib.client()
        r = api.put("/boot-source", {
            "kernel_image_path": linux.kernel_path(),
            "boot_args": linux.cmdline("init=/init rootflags=dax "
                                       "memhp_default_state=online_movable "
                                       "squib.test=memdev", root=None),
        })
        assert r.status == 204, r.raw
        assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
        r = api.put("/pmem/root", {"id": "root", "path_on_host": root,
                                   "root_device": True, "read_only": True})
        assert r.status == 204, r.raw
        r = api.put("/hotplug/memory", {"total_size_mib": 512, "slot_size_mib": 128,
                                        "block_size_mib": 2})
        assert r.status == 204, r.raw
        r = api.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 204, r.raw

        m = wait_line(squib, r"SQUIB-ROOT (\S+) / (\S+) (\S+)", 900)
        assert m.group(1) == "/dev/root" or "pmem0" in m.group(1), m.group(0)
        assert m.group(2) == "ext4" and m.group(3).startswith("ro"), m.group(0)
        # Mounted with DAX: the guest maps the pmem window's pages (the
        # host file, through squib's mapping) instead of copying them into
        # its page cache; its init and busybox run from them.
        opts = m.group(3).split(",")
        assert "dax" in opts or "dax=always" in opts, m.group(0)
        assert "DAX unsupported" not in squib.output(), squib.output()[-3000:]
        before = int(wait_line(squib, r"SQUIB-MEM blocks=(\d+)", 60).group(1))
        wait_line(squib, r"SQUIB-MEM-READY", 60)
        # The driver is up once the guest reached /init.
        r = api.patch("/hotplug/memory", {"requested_size_mib": 256})
        assert r.status == 204, r.raw
        st = wait_plugged(api, 256, 600)
        assert st["requested_size_mib"] == 256
        plugged = int(wait_line(squib, r"SQUIB-MEM-PLUGGED blocks=(\d+)", 600).group(1))
        # 256 MiB in the guest's 128 MiB memory blocks.
        assert plugged == before + 2, (before, plugged)
        r = api.patch("/hotplug/memory", {"requested_size_mib": 0})
        assert r.status == 204, r.raw
        after = int(wait_line(squib, r"SQUIB-MEM-UNPLUGGED blocks=(\d+)", 600).group(1))
        assert after == before, (before, after)
        wait_plugged(api, 0, 600)
        wait_line(squib, r"SQUIB-DONE", 120)
        # MemTotal grew by the 256 MiB and fell back.
        totals = [int(t) for t in re.findall(r"SQUIB-MEM blocks=\d+ MemTotal:\s+(\d+) kB",
                                             squib.output())]
        assert len(totals) == 3, totals
        assert totals[1] - totals[0] == 256 * 1024 and totals[2] == totals[0], totals
    finally:
        print("\n".join(l for l in squib.output().splitlines()
                        if re.search(r"SQUIB-|pmem|virtio_mem|memory|EXT4|Kernel panic", l)))
        squib.stop()
