"""Tests of the real-Linux guest tooling: scripts/mkrootfs.sh (the cpio and
ext4 images it builds and caches), scripts/guest/init (run for real in a user
namespace), scripts/guest-kernel.sh (fetching a prebuilt kernel into the
cache and refusing a bad checksum) and the helpers in linux_guest.py.

None of these boots a VM; they take about a second. The one that boots the
real kernel under QEMU (minutes on nested hosts) runs only with
SQUIB_QEMU_LINUX=1.
"""
import gzip
import os
import hashlib
import lzma
import shutil
import subprocess

import pytest

import linux_guest

INIT_SRC = os.path.join(linux_guest.SCRIPTS, "guest", "init")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache directory for the scripts."""
    d = tmp_path / "cache"
    monkeypatch.setenv("SQUIB_CACHE", str(d))
    return d


def run(args, env=None, check=True):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, env=e, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (args, p.returncode, p.stderr))
    return p


def parse_newc(data):
    """An independent newc reader: {name: (mode, rdevmajor, rdevminor, data)}."""
    out, off = {}, 0
    while True:
        assert data[off:off + 6] == b"070701", "bad magic at %d" % off
        f = [int(data[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = f[1], f[6], f[9], f[10], f[11]
        name_off = off + 110
        name = data[name_off:name_off + namesize - 1].decode()
        assert data[name_off + namesize - 1] == 0
        off = name_off + namesize
        off += (4 - off % 4) % 4
        body = data[off:off + size]
        off += size
        off += (4 - off % 4) % 4
        if name == "TRAILER!!!":
            return out
        out[name] = (mode, rmaj, rmin, body)


def test_initramfs_holds_init_busybox_and_console(cache):
    path = run([linux_guest.MKROOTFS_SH, "initramfs"]).stdout.strip()
    assert path.startswith(str(cache))
    with gzip.open(path) as f:
        entries = parse_newc(f.read())
    with open(INIT_SRC, "rb") as f:
        init = f.read()
    mode, _, _, body = entries["init"]
    assert body == init and mode == 0o100755
    with open("/bin/busybox", "rb") as f:
        assert entries["bin/busybox"][3] == f.read()
    assert entries["bin/sh"][0] & 0o170000 == 0o120000
    assert entries["bin/sh"][3] == b"busybox"
    mode, rmaj, rmin, _ = entries["dev/console"]
    assert (mode & 0o170000, rmaj, rmin) == (0o020000, 5, 1)
    for d in ("proc", "sys", "dev", "tmp", "mnt", "root"):
        assert entries[d][0] & 0o170000 == 0o040000, d
    if shutil.which("cpio"):
        # GNU cpio must read the same archive.
        p = subprocess.run("zcat %s | cpio -it --quiet" % path, shell=True,
                           stdout=subprocess.PIPE, text=True, check=True)
        assert sorted(p.stdout.split()) == sorted(entries)


def debugfs(image, request):
    p = run(["debugfs", "-R", request, image])
    return p.stdout


def test_ext4_images_hold_the_tree_owned_by_root(cache):
    if not shutil.which("debugfs") and not os.path.exists("/sbin/debugfs"):
        pytest.skip("debugfs missing (e2fsprogs)")
    root, data = run([linux_guest.MKROOTFS_SH, "ext4", "data"]).stdout.split()
    with open(INIT_SRC) as f:
        assert debugfs(root, "cat /init") == f.read()
    stat = debugfs(root, "stat /bin/busybox")
    assert "User:     0" in stat and "Group:     0" in stat
    assert "Size: %d" % os.path.getsize("/bin/busybox") in stat
    assert debugfs(data, "cat /in.txt") == "SQUIB-DATA-FROM-HOST\n"
    assert os.path.getsize(root) == 32 << 20


def test_rootfs_is_cached_and_copies_are_private(cache, tmp_path):
    first = linux_guest.rootfs("ext4")
    mtime = os.stat(first).st_mtime_ns
    assert linux_guest.rootfs("ext4") == first
    assert os.stat(first).st_mtime_ns == mtime
    copy = linux_guest.rootfs_copy("ext4", tmp_path)
    assert copy != first and os.path.dirname(copy) == str(tmp_path)
    with open(copy, "r+b") as f:
        f.write(b"x")
    with open(first, "rb") as a, open(copy, "rb") as b:
        assert a.read(1) != b.read(1)
    with pytest.raises(ValueError):
        linux_guest.rootfs("squashfs")


def test_init_runs_in_a_user_namespace(cache, tmp_path):
    """Run the real /init from the initramfs as PID 1 of a user+pid+mount
    namespace: it must print its lines in order and end with reboot -f
    (which ends the pid namespace). devtmpfs cannot be mounted there, and
    /proc/cmdline is the host's, so this is the marker test."""
    if not shutil.which("unshare"):
        pytest.skip("unshare missing (util-linux)")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                           stderr=subprocess.PIPE)
    if probe.returncode != 0:
        pytest.skip("user namespaces unavailable: %s" % probe.stderr.decode().strip())
    path = linux_guest.rootfs("initramfs")
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run("zcat %s | cpio -id --quiet 2>/dev/null" % path, shell=True,
                   cwd=tree, check=False)
    p = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--pid",
                        "--net", "--fork", "chroot", str(tree), "/init"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    lines = [l for l in p.stdout.decode().splitlines() if l.startswith("SQUIB-")]
    assert lines[0] == linux_guest.INIT_START
    assert lines[1] == linux_guest.MARKER
    assert lines[2].startswith("SQUIB-UPTIME ")
    assert float(lines[2].split()[1]) > 0
    assert lines[3:] == ["SQUIB-TEST marker", linux_guest.DONE]


def fake_shared(tmp_path, content, digest=None):
    d = tmp_path / "shared-guest"
    d.mkdir()
    (d / "vmlinux-6.1-pvm.xz").write_bytes(lzma.compress(content, format=lzma.FORMAT_XZ))
    digest = digest or hashlib.sha256(content).hexdigest()
    (d / "vmlinux-6.1-pvm.sha256").write_text(digest + "  vmlinux\n")
    return d


def test_guest_kernel_from_shared_dir(cache, tmp_path):
    content = b"\x7fELF fake kernel " * 1000
    d = fake_shared(tmp_path, content)
    env = {"SQUIB_GUEST_DIR": str(d)}
    # Nothing cached yet: --check must not decompress.
    p = run([linux_guest.GUEST_KERNEL_SH, "--check"], env, check=False)
    assert p.returncode == 1 and p.stdout == ""
    path = run([linux_guest.GUEST_KERNEL_SH], env).stdout.strip()
    assert path.startswith(str(cache)) and os.path.isfile(path)
    with open(path, "rb") as f:
        assert f.read() == content
    assert run([linux_guest.GUEST_KERNEL_SH, "--check"], env).stdout.strip() == path
    # A corrupted cache file is caught by the checksum and removed.
    with open(path, "r+b") as f:
        f.write(b"X")
    p = run([linux_guest.GUEST_KERNEL_SH, "--check"], env, check=False)
    assert p.returncode != 0 and "sha256 mismatch" in p.stderr
    assert not os.path.exists(path)


def test_guest_kernel_refuses_bad_checksum(cache, tmp_path):
    d = fake_shared(tmp_path, b"kernel bytes", digest="0" * 64)
    p = run([linux_guest.GUEST_KERNEL_SH, "--source", "shared"],
            {"SQUIB_GUEST_DIR": str(d)}, check=False)
    assert p.returncode != 0 and p.stdout == ""
    assert "sha256 mismatch" in p.stderr
    kdir = cache / "kernel"
    assert not kdir.exists() or [f for f in os.listdir(kdir) if not f.startswith(".")] == []


def test_guest_kernel_shared_only_fails_without_shared_dir(cache, tmp_path):
    p = run([linux_guest.GUEST_KERNEL_SH, "--source", "shared"],
            {"SQUIB_GUEST_DIR": str(tmp_path / "absent")}, check=False)
    assert p.returncode != 0 and p.stdout == ""


def test_cmdline_composition():
    req = linux_guest.REQUIRED_CMDLINE
    assert "#" not in req and "\n" not in req
    words = req.split()
    clear = [w for w in words if w.startswith("clearcpuid=")]
    assert len(clear) == 1 and len(clear[0]) - len("clearcpuid=") <= 128
    assert "noxsave" in words
    full = linux_guest.cmdline("squib.test=blkrw", root="ext4")
    assert full.startswith(req + " console=ttyS0 reboot=k panic=1 ")
    assert full.endswith(" root=/dev/vda rw init=/init squib.test=blkrw")
    assert "root=" not in linux_guest.cmdline(root=None)
    assert linux_guest.cmdline(root="initramfs", console=False) == req + " rdinit=/init"


def test_skip_reason_is_none_or_a_sentence(capsys):
    why = linux_guest.skip_reason()
    if why is None:
        assert linux_guest.kernel_path() and os.path.isfile(linux_guest.kernel_path())
        assert linux_guest.kvm_unusable() is None
    else:
        assert isinstance(why, str) and why
        assert why in capsys.readouterr().out


def test_serial_watcher_times_lines():
    p = subprocess.Popen(["sh", "-c", "printf 'a\\nSQUIB-X one\\r\\n'; sleep 0.2; "
                          "printf 'late\\npartial'"], stdout=subprocess.PIPE)
    w = linux_guest.SerialWatcher(p.stdout)
    hit = w.wait_for(r"^SQUIB-X", 10)
    assert hit is not None and hit[1] == "SQUIB-X one"
    late = w.wait_for("late", 10)
    assert late[0] >= hit[0] + 0.1
    assert w.wait_for("never", 10) is None   # returns at end of output
    assert w.wait_closed(5)
    assert [t for _, t in w.lines] == ["a", "SQUIB-X one", "late", "partial"]
    assert 0 <= w.first_byte <= hit[0]
    p.wait()


@pytest.mark.skipif(os.environ.get("SQUIB_QEMU_LINUX") != "1",
                    reason="boots real Linux under QEMU (minutes); set SQUIB_QEMU_LINUX=1")
def test_qemu_boots_linux_and_writes_the_data_disk(tmp_path):
    """The kernel and root images work under QEMU microvm on this machine."""
    import sys
    linux_guest.require()
    if not shutil.which("qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 missing")
    sys.path.insert(0, os.path.join(linux_guest.ROOT, "bench", "boot"))
    import run as bench
    img = bench.Guest(linux_guest.kernel_path(),
                      root_disk=linux_guest.rootfs_copy("ext4", tmp_path),
                      data_disk=linux_guest.rootfs_copy("data", tmp_path))
    opts = bench.Options(timeout=linux_guest.BOOT_TIMEOUT, marker=linux_guest.DONE,
                         linger=60)
    res = bench.run_qemu(img, linux_guest.cmdline("squib.test=blkrw"), opts)
    assert res.error is None, res.error + "\n" + res.tail
    lines = res.output.splitlines()
    assert "SQUIB-BLK-READ SQUIB-DATA-FROM-HOST" in lines
    assert "SQUIB-BLK-OK vdb-fs" in lines
    out = subprocess.run(["debugfs", "-R", "cat /out.txt", img.data_disk],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert out.stdout.startswith("written by the guest at uptime ")


def bench_module():
    import sys
    path = os.path.join(linux_guest.ROOT, "bench", "boot")
    if path not in sys.path:
        sys.path.insert(0, path)
    import run as bench
    return bench


def test_bench_watch_times_a_vmm_that_exits():
    """watch() on a stand-in VMM: times are ordered, the exit is seen."""
    bench = bench_module()
    script = ("sleep 0.2; echo early; echo SQUIB-INIT-START; sleep 0.1; "
              "echo SQUIB-LINUX-INIT-OK; sleep 0.1; exit 3")
    opts = bench.Options(timeout=20, linger=20)
    res = bench.watch("fake", ["sh", "-c", script], opts)
    assert res.error is None
    assert 0.15 <= res.first_byte <= res.init_start <= res.marker <= res.exit
    assert res.marker - res.init_start >= 0.05
    assert res.exit_code == 3
    assert res.max_rss_kib > 0
    assert res.output.splitlines() == ["early", "SQUIB-INIT-START", "SQUIB-LINUX-INIT-OK"]


def test_bench_watch_kills_a_silent_vmm():
    bench = bench_module()
    opts = bench.Options(timeout=0.5, linger=0)
    t0 = __import__("time").monotonic()
    res = bench.watch("fake", ["sh", "-c", "echo booting; exec sleep 60"], opts)
    assert __import__("time").monotonic() - t0 < 20
    assert res.marker is None and res.exit is None
    assert res.exit_code == -9
    assert "no 'SQUIB-LINUX-INIT-OK': not within 0 s" in res.error
    assert res.first_byte is not None and res.output == "booting"


def test_bench_squib_config_and_skip(capsys):
    bench = bench_module()
    img = bench.Guest("/k/vmlinux", root_disk="/r/root.ext4", data_disk="/r/data.ext4",
                      initrd="/r/initrd", rng=True)
    cfg = bench._squib_config(img, "console=ttyS0", bench.Options(mem_mib=256, vcpus=1))
    assert cfg["boot-source"] == {"kernel_image_path": "/k/vmlinux",
                                  "boot_args": "console=ttyS0",
                                  "initrd_path": "/r/initrd"}
    assert cfg["machine-config"] == {"vcpu_count": 1, "mem_size_mib": 256}
    assert [d["path_on_host"] for d in cfg["drives"]] == ["/r/root.ext4", "/r/data.ext4"]
    assert all(d["is_root_device"] is False for d in cfg["drives"])
    assert cfg["entropy"] == {}
    if not bench.SQUIB_CAN_BOOT:
        assert bench.run_squib(img, "x", bench.Options()) is None
        assert "squib: not yet able to boot" in capsys.readouterr().out
