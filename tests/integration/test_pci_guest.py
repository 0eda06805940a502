"""--enable-pci end to end with build/squib (its seccomp filters on): the
virtio devices sit on PCI instead of virtio-mmio, and the project's test
guest (squibtest=pci, tests/guest/pci.c) probes them on real KVM.

What is checked (digest 6.5, 6.6, 6.8): no pci=off and no
virtio_mmio.device= words on the command line; MCFG present; the host
bridge at 00:00.0 and the devices in attach order from slot 1, the same
through ECAM and the 0xcf8/0xcfc ports; virtio-pci identity, capabilities
and a 512 KiB 64-bit BAR at 0x40_0000_0000 and up; entropy read with the
queue's MSI-X vector delivered through KVM's GSI routing (from a vCPU
thread, under its filter); per-vector and function masking with the pending
bit; hostile accesses, after which the device still answers. Then real
Linux (minutes here) on the same transport: root and data disks and
/dev/hwrng over virtio-pci with MSI-X.

Device counts (no KVM needed for the refusals): PCI holds 31 devices
(bus 0's 32 device numbers less the host bridge's), far past virtio-mmio's
19; the 32nd is refused at InstanceStart with upstream's text before any
KVM resource exists. With KVM, 24 drives and an entropy device boot on PCI
and the guest finds all 25 in slots 1..25.

Hot-plug after boot (needs a running guest, so KVM): upstream's texts for
each check it makes before attaching, in its order; then drives and a pmem
device plugged into and unplugged from the running bus, which the test
guest (squibtest=pci-hotplug) sees come and go, reading a plugged drive.
"""
import os
import re

import pytest

import netns
from conftest import fd_targets
from test_boot_guest import (GUEST_DIR, assert_exit, configure,
                             kvm_skip_reason, start, wait_for)

needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))
needs_netns = pytest.mark.skipif(netns.skip_reason() is not None,
                                 reason=str(netns.skip_reason()))

START_ERR = "Start microvm error: "
PCI_FULL = ("Could not attach device: Error attach PCI device: PCI root error: "
            "Could not find an available device slot on the PCI bus.")
MMIO_FULL = ("Could not attach device: MMIO transport error: Failed to allocate "
             "requested resource: The requested resource is not available.")

KERNEL = os.path.join(GUEST_DIR, "guest-linux.elf")


def pci_lines(output):
    return [l[len("SQUIB-GUEST "):] for l in output.splitlines()
            if l.startswith("SQUIB-GUEST ")]


def put_drives(api, disk, n):
    for i in range(n):
        r = api.put("/drives/d%02d" % i, {"drive_id": "d%02d" % i,
                                           "path_on_host": disk,
                                           "is_root_device": False})
        assert r.status == 204, r.raw


def make_disk(tmp_path, name="d.img", size=4096):
    disk = os.path.join(str(tmp_path), name)
    with open(disk, "wb") as f:
        f.truncate(size)
    return disk


@pytest.mark.parametrize("pci", [False, True])
def test_device_count_limits(squib_factory, tmp_path, pci):
    """31 drives and an entropy device: 32 virtio devices. Over PCI the 32nd
    finds no slot; over virtio-mmio the 20th finds no GSI. Either way
    InstanceStart fails before KVM, the VM stays configurable, and squib
    keeps running."""
    squib = squib_factory(["--enable-pci"] if pci else [])
    api = squib.client()
    disk = make_disk(tmp_path)
    r = api.put("/boot-source", {"kernel_image_path": KERNEL
                                 if os.path.exists(KERNEL) else disk})
    assert r.status == 204, r.raw
    put_drives(api, disk, 31)
    assert api.put("/entropy", {}).status == 204
    for _ in range(2):
        r = api.put("/actions", {"action_type": "InstanceStart"})
        assert r.status == 400, r.raw
        assert r.fault == START_ERR + (PCI_FULL if pci else MMIO_FULL)
        assert api.get("/").json()["state"] == "Not started"
    assert squib.proc.poll() is None


def test_pci_takes_more_devices_than_mmio(squib_factory, tmp_path):
    """19 drives and entropy (20 devices) are too many for virtio-mmio but
    not for PCI: with --enable-pci InstanceStart gets past the device
    count (here it may still fail later for want of KVM, never on it)."""
    squib = squib_factory(["--enable-pci"])
    api = squib.client()
    disk = make_disk(tmp_path)
    r = api.put("/boot-source", {"kernel_image_path": KERNEL
                                 if os.path.exists(KERNEL) else disk})
    assert r.status == 204, r.raw
    put_drives(api, disk, 19)
    assert api.put("/entropy", {}).status == 204
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status in (204, 400), r.raw
    if r.status == 400:
        assert "device slot" not in r.fault and "GSI" not in r.fault, r.fault
        assert "requested resource" not in r.fault, r.fault
        assert squib.proc.poll() is None


@needs_kvm
def test_pci_many_drives(squib_factory, tmp_path):
    """24 drives and entropy on PCI (25 devices, past virtio-mmio's 19):
    the guest finds every block function in slots 1..24 in attach order,
    entropy in slot 25 with its BAR after 24 others, and reads entropy
    through its MSI-X vector."""
    squib = squib_factory(["--enable-pci"])
    api = squib.client()
    disk = make_disk(tmp_path)
    r = api.put("/boot-source", {"kernel_image_path": KERNEL,
                                 "boot_args": "reboot=k panic=1 squibtest=pci"})
    assert r.status == 204, r.raw
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert r.status == 204, r.raw
    put_drives(api, disk, 24)
    assert api.put("/entropy", {}).status == 204
    start(api)
    assert_exit(squib, 0, 120)
    lines = pci_lines(squib.output())
    text = "\n".join(lines)
    want = ["pci dev slot=%d id=0x10421af4 class=0x1800001 ports=same" % s
            for s in range(1, 25)]
    want += [
        "pci dev slot=25 id=0x10441af4 class=0xffff0001 ports=same",
        "pci bar0 addr=0x4000c00000 size=0x80000 flags=0x4 after=0xc00004",
        "pci rng first used=1 irq=1 len=16 config_irqs=0",
        "done",
    ]
    for w in want:
        assert w in lines, "missing %r in:\n%s" % (w, text)
    assert not any(l.startswith("pci dev slot=26") for l in lines), text


@needs_kvm
def test_pci_probe_with_drive_and_entropy(squib_factory, tmp_path):
    squib = squib_factory(["--enable-pci"])
    api = squib.client()
    disk = os.path.join(str(tmp_path), "d.img")
    with open(disk, "wb") as f:
        f.truncate(4096)
    r = api.put("/boot-source", {"kernel_image_path": KERNEL,
                                 "boot_args": "reboot=k panic=1 squibtest=pci"})
    assert r.status == 204, r.raw
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert r.status == 204, r.raw
    r = api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": disk,
                                   "is_root_device": True})
    assert r.status == 204, r.raw
    assert api.put("/entropy", {}).status == 204
    start(api)
    assert_exit(squib, 0, 120)
    lines = pci_lines(squib.output())
    text = "\n".join(lines)
    cmdline = [l for l in lines if l.startswith("cmdline=")][0]
    assert cmdline == "cmdline=reboot=k panic=1 squibtest=pci root=/dev/vda rw"
    assert "acpi sig=MCFG" in text
    want = [
        "pci dev slot=0 id=0xd578086 class=0x6000000 ports=same",
        # The block device first (attach order), class mass storage/other.
        "pci dev slot=1 id=0x10421af4 class=0x1800001 ports=same",
        "pci dev slot=2 id=0x10441af4 class=0xffff0001 ports=same",
        "pci bar0 addr=0x4000080000 size=0x80000 flags=0x4 after=0x80004",
        "pci rng first used=1 irq=1 len=16 config_irqs=0",
        # The common configuration through VIRTIO_PCI_CAP_PCI_CFG.
        "pci cfgwin at=0x84 num_queues=1 same=1 status=0xf select=1 "
        "select_after=0",
        "pci mask vector used=1 irq=0 pba=0x2 unmasked_irq=1 pba_after=0x0",
        "pci mask function used=1 irq=0 pba=0x2 unmasked_irq=1",
        "pci rng after-hostile used=1 irq=1 len=16 config_irqs=0",
        "pci done queue_irqs=4",
        "done",
    ]
    for w in want:
        assert w in lines, "missing %r in:\n%s" % (w, text)


@needs_kvm
def test_linux_on_virtio_pci(tmp_path):
    """Real Linux (minutes here; skipped, saying why, where it cannot run):
    the root file system on virtio-blk over PCI, an ext4 data disk written
    and read, /dev/hwrng from virtio-rng over PCI, and (where network
    namespaces work) eth0 on virtio-net over PCI: ping, TCP each way and
    the MMDS, as test_linux_virtio checks them over MMIO. Then the guest
    lists its PCI functions from /sys/bus/pci (what lspci reads) and its
    MSI lines from /proc/interrupts: squib offers no INTx, so every
    completion the guest waited for came through an MSI-X vector, and the
    queues' vectors counted them."""
    import linux_guest
    import test_linux_virtio as tlv
    from conftest import BUILD

    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    tlv.run_with_network(tmp_path, ["--enable-pci"], lambda squib, with_net, peer:
                         run_linux_on_pci(squib, linux_guest, tmp_path, with_net, peer),
                         "linux on pci")


def run_linux_on_pci(squib, linux_guest, tmp_path, with_net, peer):
    import subprocess

    import test_linux_virtio as tlv
    from test_linux_virtio import wait_line

    root = linux_guest.rootfs_copy("ext4", tmp_path)
    data = os.path.join(str(tmp_path), "data.ext4")
    subprocess.run(["cp", "--sparse=always", linux_guest.rootfs("data"), data], check=True)
    api = squib.client()
    extra = "squib.test=virtio squib.balloon_mib=%d" % tlv.BALLOON_MIB
    if with_net:
        extra += " squib.ip=%s/24 squib.peer=%s" % (tlv.GUEST_IP, tlv.HOST_IP)
    r = api.put("/boot-source", {
        "kernel_image_path": linux_guest.kernel_path(),
        "boot_args": linux_guest.cmdline(extra, root="ext4"),
    })
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    for body in (
        {"drive_id": "rootfs", "path_on_host": root, "is_root_device": True},
        {"drive_id": "data", "path_on_host": data, "is_root_device": False},
    ):
        r = api.put("/drives/" + body["drive_id"], body)
        assert r.status == 204, r.raw
    tlv.put_entropy_balloon_net(api, with_net)
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 204, r.raw
    out = wait_line(squib, r"SQUIB-VDC-MISSING", 2 * linux_guest.BOOT_TIMEOUT).string
    cmd = re.search(r"Kernel command line: (.*)", out).group(1)
    assert "pci=off" not in cmd and "virtio_mmio" not in cmd, cmd
    # Attach order, as upstream's: the balloon first (slot 1, virtio0),
    # the drives (virtio1, virtio2), the NIC (virtio3), entropy last.
    rng_slot = 5 if with_net else 4
    for want in (r"PCI host bridge to bus 0000:00",
                 r"pci 0000:00:00\.0: \[8086:0d57\] type 00 class 0x060000",
                 r"pci 0000:00:01\.0: \[1af4:1045\]",
                 r"pci 0000:00:02\.0: \[1af4:1042\]",
                 r"pci 0000:00:03\.0: \[1af4:1042\]",
                 r"pci 0000:00:0%d\.0: \[1af4:1044\]" % rng_slot,
                 r"virtio_blk virtio1: .*\[vda\]",
                 r"SQUIB-BLK-OK vdb-fs",
                 r"SQUIB-HWRNG-SOURCE virtio_rng",
                 r"SQUIB-HWRNG [0-9a-f]{128}"):
        assert re.search(want, out), "missing %r in:\n%s" % (want, out[-4000:])
    # The balloon over PCI: MemTotal and squib's RSS fall, statistics
    # arrive, MemTotal comes back.
    tlv.check_balloon(squib, api)
    if with_net:
        out = wait_line(squib, r"(?s)SQUIB-MMDS-JSON.*?SQUIB-MMDS-END", 1200).string
        tlv.check_net(squib, api, out, peer)

    out = wait_line(squib, r"SQUIB-PCI-END", 300).string
    funcs = re.findall(r"SQUIB-PCI 0000:00:(\S+) 0x(\S+) 0x(\S+) 0x(\S+)", out)
    want = [("00.0", "8086", "0d57", "060000"),
            ("01.0", "1af4", "1045", "ffff00"),
            ("02.0", "1af4", "1042", "018000"),
            ("03.0", "1af4", "1042", "018000")]
    if with_net:
        want.append(("04.0", "1af4", "1041", "020000"))
    want.append(("0%d.0" % rng_slot, "1af4", "1044", "ffff00"))
    assert funcs == want, funcs
    irqs = {}
    for count, desc in re.findall(r"SQUIB-IRQ \d+:\s+(\d+)\s+(.*?)\r?$", out, re.M):
        irqs[desc.split()[-1]] = int(count)
    assert all("PCI-MSI" in l for l in re.findall(r"SQUIB-IRQ (.*)", out)), out[-3000:]
    # The root disk's request queue (virtio1), the data disk's (virtio2),
    # the balloon's inflate and deflate queues (virtio0) and the entropy
    # device's each took interrupts on their own vector.
    assert irqs.get("virtio1-req.0", 0) > 0 and irqs.get("virtio2-req.0", 0) > 0, irqs
    assert irqs.get("virtio0-inflate", 0) > 0 and irqs.get("virtio0-deflate", 0) > 0, irqs
    rng = "virtio%d-input" % (rng_slot - 1)
    assert irqs.get(rng, 0) > 0, irqs
    if with_net:
        assert irqs.get("virtio3-input.0", 0) > 0, irqs
    assert squib.wait(300) == 0


def drive_body(drive_id, path, root=False):
    return {"drive_id": drive_id, "path_on_host": path, "is_root_device": root}


def marked_disk(tmp_path, name, mark):
    """A 64 KiB disk whose sector 0 starts with the 8-byte `mark`."""
    disk = make_disk(tmp_path, name, 64 << 10)
    with open(disk, "r+b") as f:
        f.write(mark)
    return disk


def read_line(slot, mark):
    """The test guest's line for a read of sector 0 of the drive in slot."""
    return r"pci-hotplug read slot=%d used=1 status=0 data=0x%x\b" % (
        slot, int.from_bytes(mark, "little"))


@needs_kvm
@pytest.mark.parametrize("pci", [False, True])
def test_hotplug_after_boot(squib_factory, tmp_path, pci):
    """Hot-plug on a running guest. Without PCI every route refuses. With
    PCI, upstream's checks come first with their texts; then a drive is
    plugged (204): the guest, which keeps rescanning bus 0
    (squibtest=pci-hotplug), finds it in the first free slot and reads the
    marked sector 0 through its BAR; GET /vm/config lists it; after DELETE
    (204) the slot reads empty in the guest and the configuration is the
    boot one again; the slot is used again by the next plug; a pmem device
    comes and goes the same way."""
    squib = squib_factory(["--enable-pci"] if pci else [])
    api = squib.client()
    disk = make_disk(tmp_path)
    configure(api, KERNEL, "pci-hotplug" if pci else "counter")
    assert api.put("/drives/rootfs", drive_body("rootfs", disk, True)).status == 204
    r = api.put("/pmem/pm0", {"id": "pm0", "path_on_host": make_disk(tmp_path, "p.img", 64 << 10)})
    assert r.status == 204, r.raw
    start(api)
    if pci:
        wait_for(squib, r"SQUIB-GUEST pci-hotplug watching")
    else:
        wait_for(squib, r"SQUIB-GUEST counter value=\d+\r?\n")
    before = api.get("/vm/config").json()

    def fault(method, path, body=None):
        r = api.request(method, path, body)
        assert r.status == 400, (path, r.raw)
        return r.fault

    def ok(method, path, body=None):
        r = api.request(method, path, body)
        assert r.status == 204, (path, r.raw)

    if not pci:
        for path, body in [
            ("/drives/x", drive_body("x", "/nonexistent", True)),
            ("/pmem/x", {"id": "x", "path_on_host": "/nonexistent"}),
            ("/network-interfaces/x", {"iface_id": "x", "host_dev_name": "t"}),
        ]:
            assert fault("PUT", path, body) == "PCI is not enabled"
            assert fault("DELETE", path) == "PCI is not enabled"
        assert api.get("/vm/config").json() == before
    else:
        assert fault("PUT", "/drives/rootfs", drive_body("rootfs", "/x")) == "Device ID in use"
        assert fault("PUT", "/pmem/pm0", {"id": "pm0", "path_on_host": "/x"}) == "Device ID in use"
        assert (fault("PUT", "/drives/x", drive_body("x", "/nonexistent", True))
                == "Drive config error: A root block device already exists!")
        assert fault("PUT", "/drives/x", drive_body("x", "/nonexistent")) == (
            "Drive config error: Unable to create the virtio block device: Virtio "
            "backend error: Error manipulating the backing file: No such file or "
            "directory (os error 2) /nonexistent")
        assert fault("PUT", "/pmem/x", {"id": "x", "path_on_host": "/x",
                                        "root_device": True}) == (
            "Pmem config error: Attempt to add pmem as a root device while the "
            "root device defined as a block device")
        assert fault("DELETE", "/drives/nope") == "Device not found"
        assert fault("DELETE", "/network-interfaces/nope") == "Device not found"
        assert fault("DELETE", "/drives/rootfs") == "Cannot unplug root device"
        assert api.get("/vm/config").json() == before

        # Boot devices: rootfs in slot 1, pm0 in slot 2; the plug takes 3.
        mark = b"SQUIBHOT"
        ok("PUT", "/drives/hot", drive_body("hot", marked_disk(tmp_path, "h.img", mark)))
        wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=3 id=0x10421af4 present=1")
        wait_for(squib, read_line(3, mark))
        drives = api.get("/vm/config").json()["drives"]
        assert [d["drive_id"] for d in drives] == ["rootfs", "hot"]
        assert fault("PUT", "/drives/hot", drive_body("hot", disk)) == "Device ID in use"
        ok("DELETE", "/drives/hot")
        wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=3 id=0xffffffff present=0")
        assert api.get("/vm/config").json() == before

        # The freed slot (and its BAR and GSIs) serve the next device.
        mark2 = b"AGAIN-03"
        ok("PUT", "/drives/hot2", drive_body("hot2", marked_disk(tmp_path, "h2.img", mark2)))
        wait_for(squib, read_line(3, mark2))
        ok("PUT", "/pmem/pm1", {"id": "pm1", "path_on_host": make_disk(tmp_path, "p1.img", 2 << 20)})
        wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=4 id=0x105b1af4 present=1")
        ok("DELETE", "/pmem/pm1")
        wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=4 id=0xffffffff present=0")
        ok("DELETE", "/drives/hot2")
        wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=3 id=0xffffffff present=0")
        assert api.get("/vm/config").json() == before
    logs = squib.logs()
    assert "[DevPreview] PCI device hotplug is in development preview." in logs
    assert "[DevPreview] PCI device hot-unplug is in development preview." in logs
    assert squib.proc.poll() is None


def tun_fds(pid):
    """How many of the process's fds are /dev/net/tun (its open TAPs)."""
    return fd_targets(pid).count("/dev/net/tun")


@needs_kvm
@needs_netns
def test_hotplug_net_after_boot(squib_factory, tmp_path):
    """A network interface plugged into a running guest's bus (squib in a
    network namespace of its own with a TAP, its seccomp filters on): the
    TAP is opened by the vmm thread (TUNSETIFF and friends under its
    filter), the guest finds virtio-net in slot 2, GET /vm/config lists
    it, its MAC is then in use; DELETE closes the TAP again and the guest
    sees the slot empty."""
    tap, mac = "sqhp0", "06:00:c0:a8:f2:02"
    squib = squib_factory(["--enable-pci"],
                          prefix=netns.private_prefix(tap, "192.168.242.1/24"))
    api = squib.client()
    configure(api, KERNEL, "pci-hotplug")
    assert api.put("/drives/rootfs", drive_body("rootfs", make_disk(tmp_path), True)).status == 204
    start(api)
    wait_for(squib, r"SQUIB-GUEST pci-hotplug watching")
    before = api.get("/vm/config").json()
    tuns = tun_fds(squib.proc.pid)

    r = api.put("/network-interfaces/eth0",
                {"iface_id": "eth0", "host_dev_name": tap, "guest_mac": mac})
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=2 id=0x10411af4 present=1")
    # The configuration's TAP and the device's close-on-exec copy of it, as
    # for a NIC configured before boot (a drive's file likewise).
    assert tun_fds(squib.proc.pid) == tuns + 2
    nics = api.get("/vm/config").json()["network-interfaces"]
    assert [(n["iface_id"], n["host_dev_name"], n["guest_mac"]) for n in nics] == [
        ("eth0", tap, mac)]
    r = api.put("/network-interfaces/eth1",
                {"iface_id": "eth1", "host_dev_name": tap, "guest_mac": mac})
    assert r.status == 400 and r.fault == (
        "Network config error: The MAC address is already in use: " + mac), r.raw

    r = api.request("DELETE", "/network-interfaces/eth0")
    assert r.status == 204, r.raw
    wait_for(squib, r"SQUIB-GUEST pci-hotplug slot=2 id=0xffffffff present=0")
    assert tun_fds(squib.proc.pid) == tuns
    assert api.get("/vm/config").json() == before
    assert squib.proc.poll() is None


@needs_kvm
def test_linux_pci_hotplug(squib_factory, tmp_path):
    """Real Linux (minutes; skipped, saying why, where it cannot run) does
    what upstream's docs/device-hotplug.md asks of a guest: it rescans its
    bus until a drive plugged after boot shows up as /dev/vdb, mounts its
    ext4 file system, reads a file and writes one, unmounts it, removes
    the function through sysfs, and the host then unplugs it; the file the
    guest wrote is in the image afterwards."""
    import subprocess

    import linux_guest
    from test_linux_virtio import debugfs_cat, wait_line
    from conftest import BUILD

    if os.path.basename(os.path.normpath(BUILD)) in ("san", "tsan"):
        pytest.skip("real-Linux boots run in the normal build only (minutes each on nested hosts)")
    linux_guest.require()
    root = linux_guest.rootfs_copy("ext4", tmp_path)
    squib = squib_factory(["--enable-pci"])
    api = squib.client()
    r = api.put("/boot-source", {
        "kernel_image_path": linux_guest.kernel_path(),
        "boot_args": linux_guest.cmdline(
            "squib.test=pcihotplug squib.hp_bdf=0000:00:02.0", root="ext4"),
    })
    assert r.status == 204, r.raw
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 256}).status == 204
    assert api.put("/drives/rootfs", drive_body("rootfs", root, True)).status == 204
    start(api)
    wait_line(squib, r"SQUIB-HP-READY", 2 * linux_guest.BOOT_TIMEOUT)

    disk = os.path.join(str(tmp_path), "hot.ext4")
    subprocess.run(["cp", "--sparse=always", linux_guest.rootfs("data"), disk], check=True)
    r = api.put("/drives/hot", drive_body("hot", disk))
    assert r.status == 204, r.raw
    wait_line(squib, r"SQUIB-HP-MOUNTED SQUIB-DATA-FROM-HOST", 600)
    wait_line(squib, r"SQUIB-HP-REMOVED", 120)
    # The guest rescans 20 s after SQUIB-HP-REMOVED: the unplug comes first.
    r = api.request("DELETE", "/drives/hot")
    assert r.status == 204, r.raw
    assert [d["drive_id"] for d in api.get("/vm/config").json()["drives"]] == ["rootfs"]
    out = wait_line(squib, r"SQUIB-DONE", 300).string
    assert "SQUIB-HP-GONE" in out, out[-4000:]
    for want in (r"pci 0000:00:02\.0: \[1af4:1042\]",
                 r"virtio_blk virtio1: .*\[vdb\]",
                 r"EXT4-fs \(vdb\): mounted filesystem"):
        assert re.search(want, out), "missing %r in:\n%s" % (want, out[-4000:])
    assert squib.wait(300) == 0
    assert debugfs_cat(disk, "/hp.txt").strip() == "SQUIB-HOTPLUG-WROTE"
