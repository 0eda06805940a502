"""`make install`, `make uninstall` and `make release` (mk/install.mk,
docs/install.md), run on the build the tests are given.

The build directory (SQUIB_BUILD) is turned back into the make variables
that produce it: <dir>/san is `SAN=1` with BUILD=<dir>, <dir>/tsan is
`SAN=thread`, anything else is BUILD=<dir>. Install must copy only: the tests fail if it compiles
or links anything.
"""
import filecmp
import hashlib
import os
import re
import subprocess
import tarfile

import pytest

from conftest import BUILD, ROOT

FLAVOURS = {"san": "SAN=1", "tsan": "SAN=thread"}
TIMESTAMP = re.compile(rb"^\d{4}-\d\d-\d\dT[\d:.]+ ", re.M)


def make_env_args():
    """The environment and arguments of a make for the build under test.
    BUILD goes in the environment: the Makefile appends /san or /tsan to
    it, which a command-line BUILD would override. The calling make's flags
    are dropped, so only these choose the build."""
    build = os.path.abspath(BUILD)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BUILD", "SAN")}
    flavour = FLAVOURS.get(os.path.basename(build))
    if flavour:
        env["BUILD"] = os.path.dirname(build)
        return env, [flavour]
    env["BUILD"] = build
    return env, ["SAN=0"]


def make(*args, check=True):
    env, flavour = make_env_args()
    r = subprocess.run(["make", "--no-print-directory", "-C", ROOT] +
                       flavour + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, check=False, timeout=600)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def release_bins():
    names = make("-s", "release-bins").stdout.split()
    assert "squib" in names and "jailer" in names
    for n in names:
        if not os.access(os.path.join(BUILD, n), os.X_OK):
            pytest.skip("%s is not built in %s" % (n, BUILD))
    return names


def tree(root):
    """Every file and link under root, as relative paths."""
    out = set()
    for d, dirs, files in os.walk(root):
        for name in files + [x for x in dirs
                             if os.path.islink(os.path.join(d, x))]:
            out.add(os.path.relpath(os.path.join(d, name), root))
    return out


def run(path, *args):
    r = subprocess.run([path] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30, check=False)
    assert r.returncode == 0, (path, args, r.stderr)
    assert r.stdout.strip(), (path, args)
    return r.stdout


def install(destdir, prefix, *extra):
    bins = make("-s", "release-bins").stdout.split()
    stamps = [os.stat(os.path.join(BUILD, n)).st_mtime_ns for n in bins]
    r = make("install", "DESTDIR=%s" % destdir, "PREFIX=%s" % prefix, *extra)
    # Copies only: nothing compiled or linked, no binary rewritten.
    assert not re.search(r"^\s+(CC|LD)\s", r.stdout, re.M), r.stdout
    assert stamps == [os.stat(os.path.join(BUILD, n)).st_mtime_ns
                      for n in bins]
    return r


def test_install_layout_and_firecracker_link(tmp_path, release_bins):
    dest = tmp_path / "dest"
    install(dest, "/opt/sq", "FIRECRACKER_LINK=1")
    root = dest / "opt" / "sq"
    docs = ["README.md"] + sorted(os.listdir(os.path.join(ROOT, "docs")))
    pages = sorted(os.listdir(os.path.join(ROOT, "man")))
    assert tree(root) == (
        {"bin/" + n for n in release_bins} | {"bin/firecracker"} |
        {"share/man/man1/" + p for p in pages} |
        {"share/man/man1/firecracker.1"} |
        {"share/doc/squib/" + d for d in docs if d.endswith(".md")})
    for n in release_bins:
        p = root / "bin" / n
        assert filecmp.cmp(p, os.path.join(BUILD, n), shallow=False)
        assert os.stat(p).st_mode & 0o777 == 0o755
        run(str(p), "--help")
        run(str(p), "--version")
    for p in pages:
        assert filecmp.cmp(root / "share/man/man1" / p,
                           os.path.join(ROOT, "man", p), shallow=False)
    link = root / "bin" / "firecracker"
    assert os.readlink(link) == "squib"
    fc = run(str(link), "--version")
    sq = run(str(root / "bin" / "squib"), "--version")
    assert fc.startswith(b"Firecracker v")
    assert TIMESTAMP.sub(b"", fc) == TIMESTAMP.sub(b"", sq)
    assert run(str(link), "--squib-version") == \
        run(os.path.join(BUILD, "squib"), "--squib-version")
    assert (root / "share/man/man1/firecracker.1").read_text() == \
        ".so man1/squib.1\n"


def test_uninstall_removes_exactly_what_was_installed(tmp_path, release_bins):
    dest = tmp_path / "dest"
    root = dest / "usr"
    # Files of other packages beside ours must survive.
    for rel in ("bin/other-tool", "share/man/man1/other.1",
                "share/doc/other/README"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("not squib's\n")
    before = tree(root)
    install(dest, "/usr", "FIRECRACKER_LINK=1")
    assert tree(root) > before
    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr",
         "FIRECRACKER_LINK=1")
    assert tree(root) == before
    assert not (root / "share/doc/squib").exists()
    # Uninstalling again finds nothing to remove and still succeeds.
    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert tree(root) == before


def test_install_never_replaces_a_real_firecracker(tmp_path, release_bins):
    dest = tmp_path / "dest"
    fc = dest / "usr" / "bin" / "firecracker"
    fc.parent.mkdir(parents=True)
    fc.write_bytes(b"#!/bin/sh\necho the real one\n")
    r = make("install", "DESTDIR=%s" % dest, "PREFIX=/usr",
             "FIRECRACKER_LINK=1", check=False)
    assert r.returncode != 0
    assert "is not a link to squib" in r.stderr
    assert not fc.is_symlink()
    assert fc.read_bytes() == b"#!/bin/sh\necho the real one\n"
    # Uninstall leaves a firecracker that is not our link alone.
    make("uninstall", "DESTDIR=%s" % dest, "PREFIX=/usr")
    assert fc.read_bytes() == b"#!/bin/sh\necho the real one\n"


def test_install_without_link_installs_no_firecracker(tmp_path, release_bins):
    install(tmp_path, "/usr")
    assert not os.path.lexists(tmp_path / "usr/bin/firecracker")
    assert not os.path.lexists(tmp_path / "usr/share/man/man1/firecracker.1")


def test_release_tarball(release_bins):
    out = make("release").stdout.strip().splitlines()[-1]
    tgz = os.path.join(ROOT, out) if not os.path.isabs(out) else out
    version = run(os.path.join(BUILD, "squib"),
                  "--squib-version").decode().split()[-1]
    assert re.fullmatch(r"v\d+\.\d+\.\d+.*", version)
    suffix = "%s-%s" % (version, os.uname().machine)
    assert os.path.basename(tgz) == "squib-%s.tgz" % suffix
    top = "release-" + suffix
    with open(tgz, "rb") as f:
        first = f.read()
    with tarfile.open(tgz) as t:
        members = t.getmembers()
        names = [m.name for m in members]
        files = {m.name[len(top) + 1:]: t.extractfile(m).read()
                 for m in members if m.isfile()}
    assert names == sorted(names)
    assert all(n == top or n.startswith(top + "/") for n in names)
    assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == \
        {(0, 0, "", "")}
    assert len({m.mtime for m in members}) == 1
    expected = {"SHA256SUMS", "seccomp-filter-%s.json" % suffix}
    for n in release_bins:
        expected |= {"%s-%s" % (n, suffix), "%s-%s.debug" % (n, suffix)}
    expected |= {"man/" + p for p in os.listdir(os.path.join(ROOT, "man"))}
    expected |= {"docs/README.md"} | {
        "docs/" + d for d in os.listdir(os.path.join(ROOT, "docs"))
        if d.endswith(".md")}
    assert set(files) == expected
    sums = {}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, path = line.split("  ", 1)
        assert path.startswith("./")
        sums[path[2:]] = digest
    assert list(sums) == sorted(sums)
    assert set(sums) == expected - {"SHA256SUMS"}
    for path, digest in sums.items():
        assert hashlib.sha256(files[path]).hexdigest() == digest, path
    # The same binaries give the same bytes.
    make("release")
    with open(tgz, "rb") as f:
        assert f.read() == first
