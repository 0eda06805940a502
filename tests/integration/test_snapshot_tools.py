"""The snapshot companion tools (docs/tools.md), run as built binaries:
rebase-snap and `snapshot-editor edit-memory rebase` on real sparse files,
`snapshot-editor info-vmstate` on state files written by squib's own writer
(build/snap-state-gen) and on broken ones, and the command lines' help,
version and error texts and exit codes, which are upstream's. One test takes
a Full and then a Diff snapshot of the counter guest, rebases the Diff onto
the Full memory file and restores from it (KVM only; skipped without).
"""
import os
import subprocess
import time

import pytest

from conftest import BUILD

REBASE_SNAP = os.path.join(BUILD, "rebase-snap")
EDITOR = os.path.join(BUILD, "snapshot-editor")
STATE_GEN = os.path.join(BUILD, "snap-state-gen")
PG = 4096
DEPRECATION = ("This tool is deprecated and will be removed in the future. "
               "Please use 'snapshot-editor' instead.\n")


def run(*argv):
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=30)


def make(path, layout):
    """A file of len(layout) pages: a letter is a page of data, '.' a hole."""
    with open(path, "wb") as f:
        f.truncate(len(layout) * PG)
        for i, c in enumerate(layout):
            if c != ".":
                f.seek(i * PG)
                f.write(bytes([ord(c)]) * PG)


def pages(path):
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) % PG == 0
    return "".join("." if data[i] == 0 else chr(data[i])
                   for i in range(0, len(data), PG))


def rebase_cmd(tool, base, diff):
    if tool == "rebase-snap":
        return [REBASE_SNAP, "--base-file", base, "--diff-file", diff]
    return [EDITOR, "edit-memory", "rebase", "--memory-path", base,
            "--diff-path", diff]


# ---- rebase ----------------------------------------------------------------

@pytest.mark.parametrize("tool", ["rebase-snap", "snapshot-editor"])
@pytest.mark.parametrize("base,diff,result", [
    ("abcdef", "..xy..", "abxyef"),     # holes at both ends
    ("abcdef", ".....z", "abcdez"),     # data in the last page
    ("abcd", "wxyz", "wxyz"),           # not sparse at all
    ("ab", "...yz", "ab.yz"),           # larger than the base
    ("abcd", "....", "abcd"),           # only holes
])
def test_rebase(tmp_path, tool, base, diff, result):
    b, d = str(tmp_path / "base"), str(tmp_path / "diff")
    make(b, base)
    make(d, diff)
    r = run(*rebase_cmd(tool, b, d))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == (DEPRECATION + "\n" if tool == "rebase-snap" else "")
    assert pages(b) == result
    assert pages(d) == diff


def test_rebase_snap_errors(tmp_path):
    b, d = str(tmp_path / "base"), str(tmp_path / "diff")
    make(d, "x")
    r = run(REBASE_SNAP, "--base-file", b, "--diff-file", d)
    assert r.returncode == 1
    assert r.stdout == DEPRECATION + "\n"
    assert r.stderr == (
        "Error parsing the cmd line args: Invalid base file: No such file or "
        "directory (os error 2)\n"
        "Error: SnapFile(InvalidBaseFile(Os { code: 2, kind: NotFound, "
        "message: \"No such file or directory\" }))\n")
    assert not os.path.exists(b)
    make(b, "ab")
    r = run(REBASE_SNAP, "--base-file", b, "--diff-file", d + "x")
    assert r.returncode == 1
    assert r.stderr.endswith(
        "Error: SnapFile(InvalidDiffFile(Os { code: 2, kind: NotFound, "
        "message: \"No such file or directory\" }))\n")
    assert pages(b) == "ab"
    os.unlink(b)
    os.mkdir(b)
    r = run(REBASE_SNAP, "--base-file", b, "--diff-file", d)
    assert r.returncode == 1
    assert "Invalid base file: Is a directory (os error 21)" in r.stderr


@pytest.mark.parametrize("argv,text,debug", [
    ([], "Argument 'base-file' required, but not found.",
     'MissingArgument("base-file")'),
    (["--base-file", "b"], "Argument 'diff-file' required, but not found.",
     'MissingArgument("diff-file")'),
    (["--base-file"], "The argument 'base-file' requires a value, but none "
     "was supplied.", 'MissingValue("base-file")'),
    (["--base-file", "--diff-file", "d"], "The argument 'base-file' requires "
     "a value, but none was supplied.", 'MissingValue("base-file")'),
    (["--base-file", "a", "--base-file", "b"], "The argument 'base-file' was "
     "provided more than once.", 'DuplicateArgument("base-file")'),
    (["--foo"], "Found argument 'foo' which wasn't expected, or isn't valid "
     "in this context.", 'UnexpectedArgument("foo")'),
    (["bar"], "Found argument 'bar' which wasn't expected, or isn't valid "
     "in this context.", 'UnexpectedArgument("bar")'),
])
def test_rebase_snap_arguments(argv, text, debug):
    r = run(REBASE_SNAP, *argv)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == ("Arguments parsing error: %s \n\nFor more information "
                        "try --help.\nError: ArgParse(%s)\n" % (text, debug))


def test_rebase_snap_help_and_version():
    for flag in ("--help", "-h"):
        r = run(REBASE_SNAP, "--base-file", flag)
        assert r.returncode == 0
        assert r.stdout == (
            "Rebase_snap v1.17.0-dev\n"
            "Tool that copies all the non-sparse sections from a diff file "
            "onto a base file.\n\n" + DEPRECATION + "\n"
            "required arguments:\n"
            "  --base-file <base-file>   File path of the base mem snapshot.\n"
            "  --diff-file <diff-file>   File path of the diff mem snapshot.\n"
            "\n"
            "optional arguments:\n"
            "  --help   Show the help message.\n")
    r = run(REBASE_SNAP, "--version", "--foo")
    assert r.returncode == 0
    assert r.stdout == "Rebase_snap v1.17.0-dev\n" + DEPRECATION + "\n"
    # After a bare "--" nothing counts.
    r = run(REBASE_SNAP, "--", "--help")
    assert r.returncode == 1 and "MissingArgument" in r.stderr


def test_editor_rebase_errors(tmp_path):
    b, d = str(tmp_path / "base"), str(tmp_path / "diff")
    make(b, "ab")
    r = run(EDITOR, "edit-memory", "rebase", "-m", b, "-d", d)
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (
        "Error during editing memory file: Could not open diff file: No such "
        "file or directory (os error 2)\n"
        "Error: EditMemory(OpenDiffFile(Os { code: 2, kind: NotFound, "
        "message: \"No such file or directory\" }))\n")
    assert pages(b) == "ab"
    r = run(EDITOR, "edit-memory", "rebase", "--memory-path=" + d,
            "--diff-path=" + b)
    assert r.returncode == 1
    assert "Could not open memory file: No such file or directory" in r.stderr


# ---- info-vmstate ----------------------------------------------------------

@pytest.fixture(scope="module")
def states(tmp_path_factory):
    d = tmp_path_factory.mktemp("states")
    r = run(STATE_GEN, str(d))
    assert r.returncode == 0, r.stderr
    return d


def test_info_version(states):
    r = run(EDITOR, "info-vmstate", "version", "--vmstate-path",
            str(states / "vmstate"))
    assert (r.returncode, r.stdout, r.stderr) == (0, "v11.0.0\n", "")
    r = run(EDITOR, "info-vmstate", "version", "-v", str(states / "vmstate"))
    assert r.stdout == "v11.0.0\n"


def test_info_vcpu_states(states):
    r = run(EDITOR, "info-vmstate", "vcpu-states", "--vmstate-path",
            str(states / "vmstate"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("vcpu 0:\nVcpuState {\n    cpuid: [\n")
    assert "\n}\nvcpu 1:\nVcpuState {\n" in r.stdout
    assert "    tsc_khz: Some(2000001),\n}\n" in r.stdout
    assert r.stdout.count("vcpu ") == 2


def test_info_vm_state(states):
    r = run(EDITOR, "info-vmstate", "vm-state", "--vmstate-path",
            str(states / "vmstate"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("MicrovmState {\n    vm_info: VmInfo {\n"
                          "        vcpu_count: 2,\n")
    assert out.endswith("    ],\n}\n")
    for s in ("    memory_regions: [\n", "    vm_state: VmState {\n",
              "    vcpu_states: [\n", "    serial: SerialState {\n",
              "    i8042: I8042State {\n", "    virtio_devices: [\n",
              "            kind: virtio-block,\n"):
        assert s in out, s
    assert "pci_state" not in out


def test_info_vm_state_pci(states):
    """A PCI-mode machine's state file: the root bus and each device's
    PCI transport after the virtio devices."""
    r = run(EDITOR, "info-vmstate", "vm-state", "--vmstate-path",
            str(states / "vmstate_pci"))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.endswith("    },\n}\n")
    for s in ("    pci_state: PciDevicesState {\n",
              "        config_address: 0x80000800,\n",
              "                kind: virtio-block,\n",
              "                sbdf: 0000:00:01.0,\n",
              "                bar_address: 0x4000000000,\n",
              "                        (0x1c, 0x80010011),\n",
              "                    (0x1, last_used: 76),\n",
              "                    (0xfee00000, 0x0, 0x31, 0x0),\n",
              "                pba: 0x1,\n"):
        assert s in out, s


LOAD = "Error during getting info from a vmstate file: Can not load snapshot: "


@pytest.mark.parametrize("name,text,debug", [
    ("vmstate_crc", "CRC64 validation failed", "Crc64"),
    ("vmstate_magic", "Magic value does not match arch: 508934812619243520",
     "InvalidMagic(508934812619243520)"),
    ("vmstate_newer", "Invalid data version: 11.1.0",
     "InvalidFormatVersion(Version { major: 11, minor: 1, patch: 0 })"),
    ("vmstate_major", "Invalid data version: 12.0.0",
     "InvalidFormatVersion(Version { major: 12, minor: 0, patch: 0 })"),
    ("vmstate_short", "IO Error: File too short to contain CRC",
     'Io(Custom { kind: UnexpectedEof, error: "File too short to contain '
     'CRC" })'),
])
@pytest.mark.parametrize("what", ["version", "vcpu-states", "vm-state"])
def test_info_refuses(states, what, name, text, debug):
    r = run(EDITOR, "info-vmstate", what, "--vmstate-path", str(states / name))
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == (LOAD + text + "\nError: InfoVmState(Utils("
                        "VmStateLoad(" + debug + ")))\n")


def test_info_refuses_undecodable_and_missing(states, tmp_path):
    r = run(EDITOR, "info-vmstate", "vm-state", "--vmstate-path",
            str(states / "vmstate_cut"))
    assert r.returncode == 1
    assert r.stderr.startswith(LOAD + "An error occurred during bitcode "
                               "serialization: ")
    r = run(EDITOR, "info-vmstate", "version", "--vmstate-path",
            str(tmp_path / "none"))
    assert r.returncode == 1
    assert r.stderr == (
        "Error during getting info from a vmstate file: Can not open snapshot "
        "file: No such file or directory (os error 2)\n"
        "Error: InfoVmState(Utils(VmStateFileOpen(Os { code: 2, kind: "
        "NotFound, message: \"No such file or directory\" })))\n")


# ---- snapshot-editor's command line (clap) ---------------------------------

TOP_HELP = """Usage: snapshot-editor <COMMAND>

Commands:
  edit-memory   
  info-vmstate  
  help          Print this message or the help of the given subcommand(s)

Options:
  -h, --help     Print help
  -V, --version  Print version
"""

REBASE_HELP = """Apply a diff snapshot on top of a base one

Usage: snapshot-editor edit-memory rebase --memory-path <MEMORY_PATH> --diff-path <DIFF_PATH>

Options:
  -m, --memory-path <MEMORY_PATH>  Path to the memory file
  -d, --diff-path <DIFF_PATH>      Path to the diff file
  -h, --help                       Print help
"""

INFO_HELP = """Usage: snapshot-editor info-vmstate <COMMAND>

Commands:
  version      Print snapshot version
  vcpu-states  Print info about vcpu states
  vm-state     Print readable MicroVM state
  help         Print this message or the help of the given subcommand(s)

Options:
  -h, --help  Print help
"""


def test_editor_help_and_version():
    for argv in (["--help"], ["-h"], ["help"]):
        r = run(EDITOR, *argv)
        assert (r.returncode, r.stdout, r.stderr) == (0, TOP_HELP, ""), argv
    r = run(EDITOR)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", TOP_HELP)
    for argv in (["--version"], ["-V"]):
        r = run(EDITOR, *argv)
        assert (r.returncode, r.stdout) == (0, "snapshot-editor v1.17.0-dev\n")
    for argv in (["edit-memory", "rebase", "--help"],
                 ["help", "edit-memory", "rebase"],
                 ["edit-memory", "rebase", "-m", "x", "-h"]):
        r = run(EDITOR, *argv)
        assert (r.returncode, r.stdout) == (0, REBASE_HELP), argv
    r = run(EDITOR, "info-vmstate", "--help")
    assert (r.returncode, r.stdout) == (0, INFO_HELP)
    r = run(EDITOR, "info-vmstate")
    assert (r.returncode, r.stderr) == (2, INFO_HELP)


TRY = "\n\nFor more information, try '--help'.\n"


@pytest.mark.parametrize("argv,stderr", [
    # Upstream builds edit-vmstate (remove-regs) for aarch64 only.
    (["edit-vmstate", "remove-regs", "0x1"],
     "error: unrecognized subcommand 'edit-vmstate'\n\n"
     "Usage: snapshot-editor <COMMAND>" + TRY),
    (["info-vmstate", "foo"],
     "error: unrecognized subcommand 'foo'\n\n"
     "Usage: snapshot-editor info-vmstate <COMMAND>" + TRY),
    (["--foo"],
     "error: unexpected argument '--foo' found\n\n"
     "Usage: snapshot-editor <COMMAND>" + TRY),
    (["edit-memory", "rebase"],
     "error: the following required arguments were not provided:\n"
     "  --memory-path <MEMORY_PATH>\n  --diff-path <DIFF_PATH>\n\n"
     "Usage: snapshot-editor edit-memory rebase --memory-path <MEMORY_PATH> "
     "--diff-path <DIFF_PATH>" + TRY),
    (["edit-memory", "rebase", "-d", "x"],
     "error: the following required arguments were not provided:\n"
     "  --memory-path <MEMORY_PATH>\n\n"
     "Usage: snapshot-editor edit-memory rebase --memory-path <MEMORY_PATH> "
     "--diff-path <DIFF_PATH>" + TRY),
    (["edit-memory", "rebase", "-m", "a", "-m", "b"],
     "error: the argument '--memory-path <MEMORY_PATH>' cannot be used "
     "multiple times\n\n"
     "Usage: snapshot-editor edit-memory rebase --memory-path <MEMORY_PATH> "
     "--diff-path <DIFF_PATH>" + TRY),
    (["info-vmstate", "version", "--vmstate-path"],
     "error: a value is required for '--vmstate-path <VMSTATE_PATH>' but "
     "none was supplied" + TRY),
    (["info-vmstate", "version", "-v", "x", "extra"],
     "error: unexpected argument 'extra' found\n\n"
     "Usage: snapshot-editor info-vmstate version --vmstate-path "
     "<VMSTATE_PATH>" + TRY),
])
def test_editor_argument_errors(argv, stderr):
    r = run(EDITOR, *argv)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", stderr)


# ---- a Diff snapshot rebased and restored (KVM) ----------------------------

def test_diff_snapshot_rebased_and_restored(squib_factory, tmp_path):
    """Full snapshot, resume, pause, Diff snapshot into a new memory file,
    rebase-snap the Diff onto the Full memory file, restore from the merged
    file with the Diff's state: the guest's counter goes on from the Diff."""
    from test_boot_guest import counter_values, kvm_skip_reason, wait_for
    from test_snapshot import load, snapshot_counter_guest

    reason = kvm_skip_reason()
    if reason:
        pytest.skip(reason)
    first = squib_factory([])
    full_state, full_mem, frozen = snapshot_counter_guest(first, tmp_path)
    api = first.client()
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    deadline = time.time() + 20
    while time.time() < deadline and \
            len(counter_values(first)) < len(frozen) + 2:
        time.sleep(0.05)
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    time.sleep(0.2)
    frozen_diff = counter_values(first)
    assert frozen_diff[-1] > frozen[-1]
    diff_state = str(tmp_path / "diff.state")
    diff_mem = str(tmp_path / "diff.mem")
    r = api.put("/snapshot/create", {"snapshot_path": diff_state,
                                     "mem_file_path": diff_mem,
                                     "snapshot_type": "Diff"})
    assert r.status == 204, r.raw
    assert os.path.getsize(diff_mem) == os.path.getsize(full_mem)
    r = run(REBASE_SNAP, "--base-file", full_mem, "--diff-file", diff_mem)
    assert r.returncode == 0, r.stderr
    first.stop()
    second = squib_factory([])
    r = load(second, diff_state, full_mem)
    assert r.status == 204, r.raw + second.output().encode()
    wait_for(second, r"SQUIB-GUEST counter value=\d+\r?\n")
    after = counter_values(second)
    assert after[0] >= frozen_diff[-1], (frozen_diff[-1], after[:3])
    assert after[0] - frozen_diff[-1] < 64 * 1048576
