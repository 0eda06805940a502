"""--seccomp-filter with upstream's compiled filter files (docs/seccomp.md,
"Compiled filter files").

The files are tests/fixtures/seccomp_bitcode/*.bin, written by the real
bitcode 0.6.9 crate exactly as upstream's seccompiler-bin writes them (that
folder's README says how). squib must load them, install each thread kind's
program, serve the API under them, and refuse bad files with upstream's
texts and exit codes. The trap is provoked with build/squib-test's
SQUIB_TEST_SECCOMP_TRAP hook, as in test_seccomp.py: the named thread kind
calls getpgrp() right after installing its filter.
"""
import os
import signal
import subprocess

import pytest

from conftest import BUILD, ROOT
from test_boot_guest import GUEST_DIR, configure, kvm_skip_reason, start, wait_for

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "seccomp_bitcode")
NEED_KVM = pytest.mark.skipif(kvm_skip_reason() is not None,
                              reason=str(kvm_skip_reason()))
GETPGRP = 111  # x86_64
BAD_SYSCALL_LINE = "Shutting down VM after intercepting a bad syscall (%d)."
BITCODE_ERROR = ("Seccomp error: Filter deserialization failed: Bitcode "
                 "deserialization failed: bitcode error")


def fixture(name):
    return os.path.join(FIXTURES, name)


def test_allow_all_serves_the_api(squib_factory):
    s = squib_factory(args=("--seccomp-filter", fixture("allow_all.bin")))
    api = s.client()
    assert api.get("/").status == 200
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    assert r.status == 204, r.raw
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


def test_api_program_traps_the_hook_syscall(squib_test_factory):
    # The api program lets everything through but getpgrp, which traps:
    # the hook's call ends squib with 148, so the file's program is the
    # one in force (the built-in list would trap it too, hence the next
    # test).
    s = squib_test_factory(
        args=("--seccomp-filter", fixture("api_traps_getpgrp.bin")),
        env={"SQUIB_TEST_SECCOMP_TRAP": "api"}, wait=False)
    assert s.wait(10) == 148
    out = s.output()
    assert BAD_SYSCALL_LINE % GETPGRP in out, out
    assert "API server started." not in out


def test_api_program_allows_the_rest(squib_factory):
    # The same file without the hook: the api thread serves, and accept4,
    # epoll and friends (in no rule of this program) go through.
    s = squib_factory(args=("--seccomp-filter", fixture("api_traps_getpgrp.bin")))
    api = s.client()
    for _ in range(3):
        assert api.get("/").status == 200
    assert s.proc.poll() is None


def test_empty_programs_install_nothing(squib_test_factory):
    s = squib_test_factory(
        args=("--seccomp-filter", fixture("empty_programs.bin")),
        env={"SQUIB_TEST_SECCOMP_TRAP": "api"})
    assert s.client().get("/").status == 200
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


def test_upper_case_keys_are_categories(squib_test_factory):
    # "VMM", "Api", "vCpU": lower-cased as upstream. Api allows all.
    s = squib_test_factory(
        args=("--seccomp-filter", fixture("upper_case_keys.bin")),
        env={"SQUIB_TEST_SECCOMP_TRAP": "api"})
    assert s.client().get("/").status == 200
    assert s.proc.poll() is None


@NEED_KVM
def test_allow_all_boots_a_guest(squib_factory):
    s = squib_factory(args=("--seccomp-filter", fixture("allow_all.bin")))
    api = s.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "counter")
    start(api)
    wait_for(s, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


def compiled_defaults(tmp_path):
    """squib's built-in lists as a compiled file (build/seccomp-defaults
    --compiled), as upstream's seccompiler-bin would write them."""
    tool = os.path.join(BUILD, "seccomp-defaults")
    if not os.path.exists(tool):
        pytest.skip("the seccomp-defaults tool is not built (make seccomp-defaults)")
    data = subprocess.run([tool, "--compiled"], check=True,
                          stdout=subprocess.PIPE).stdout
    assert data[:1] == b"\x03"  # three categories
    path = os.path.join(str(tmp_path), "defaults.bpf")
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_compiled_defaults_serve_the_api(squib_factory, tmp_path):
    s = squib_factory(args=("--seccomp-filter", compiled_defaults(tmp_path)))
    api = s.client()
    assert api.get("/").status == 200
    r = api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 64})
    assert r.status == 204, r.raw
    for _ in range(10):
        c = s.client()
        assert c.get("/version").status == 200
        c.close()
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


def test_compiled_defaults_still_trap(squib_test_factory, tmp_path):
    s = squib_test_factory(args=("--seccomp-filter", compiled_defaults(tmp_path)),
                           env={"SQUIB_TEST_SECCOMP_TRAP": "api"}, wait=False)
    assert s.wait(10) == 148
    assert BAD_SYSCALL_LINE % GETPGRP in s.output()


@NEED_KVM
def test_compiled_defaults_run_a_guest(squib_factory, tmp_path):
    # The built-in lists, through the compiled-file path: squib boots,
    # pauses, resumes and shuts the guest down cleanly.
    s = squib_factory(args=("--seccomp-filter", compiled_defaults(tmp_path)))
    api = s.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "cad", vcpus=2)
    start(api)
    wait_for(s, r"SQUIB-GUEST cad waiting")
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    assert api.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    assert s.wait(30) == 0, s.output()[-3000:]
    assert "bad syscall" not in s.output()


def oversized(tmp_path):
    path = os.path.join(str(tmp_path), "big.bin")
    with open(path, "wb") as f:
        f.write(b"\0" * 150000)
    return path


@pytest.mark.parametrize("name,message", [
    ("bad_truncated.bin", BITCODE_ERROR),
    ("bad_trailing_byte.bin", BITCODE_ERROR),
    ("bad_utf8.bin", BITCODE_ERROR),
    ("missing_vcpu.bin", "Seccomp error: Missing thread category: vcpu"),
    ("empty_map.bin", "Seccomp error: Missing thread category: vmm"),
    ("non_ascii_key.bin",
     "Seccomp error: Invalid thread categories: thr\u00e9ad\u263a"),
    (None, "Seccomp error: Filter deserialization failed: Input size 100001 "
           "exceeds limit of 100000 bytes"),
])
def test_bad_file_exits_1(squib_factory, tmp_path, name, message):
    path = fixture(name) if name else oversized(tmp_path)
    s = squib_factory(args=("--seccomp-filter", path), wait=False)
    assert s.wait(10) == 1
    out = s.output()
    assert message in out, out
    assert "Error: " + message in out
    assert "Firecracker exiting with error. exit_code=1" in out
    # Filters load before the API socket is bound (startup step 5).
    assert not os.path.exists(s.sock_path)


@pytest.mark.parametrize("name,reason", [
    ("api_too_long.bin",
     "Filter length exceeds the maximum size of 4096 instructions"),
    ("api_invalid_bpf.bin",
     "prctl` syscall failed with error code: Invalid argument (os error 22)"),
])
def test_api_program_refused_at_install(squib_factory, name, reason):
    # Upstream loads such files and fails when the api thread installs its
    # program: the thread panics with the installation error, and a panic
    # aborts the process (SIGABRT), as upstream's panic = "abort".
    s = squib_factory(args=("--seccomp-filter", fixture(name)), wait=False)
    rc = s.wait(10)
    out = s.output()
    assert rc == -signal.SIGABRT, (rc, out)
    assert ("Failed to set the requested seccomp filters on the API "
            "thread: " + reason) in out, out
    assert "API server started." not in out
