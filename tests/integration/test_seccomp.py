"""squib's seccomp filters, end to end (docs/seccomp.md, digest 10, 3.4).

With the default filters squib must serve the API and boot and run a test
guest without ever tripping its own filters; a forbidden syscall from any
thread kind ends the process with exit code 148 and upstream's log line;
--no-seccomp installs nothing; --seccomp-filter loads squib's JSON format.
The forbidden syscalls are provoked with the SQUIB_TEST_SECCOMP_TRAP hook of
build/squib-test (docs/threads.md, "The test build"): the named thread kind
calls getpgrp() right after installing its filter.
"""
import json
import os
import re

import pytest

import subprocess

from conftest import BUILD
from test_boot_guest import GUEST_DIR, configure, kvm_skip_reason, start, wait_for

NEED_KVM = pytest.mark.skipif(kvm_skip_reason() is not None,
                              reason=str(kvm_skip_reason()))
GETPGRP = 111  # x86_64
BAD_SYSCALL_LINE = "Shutting down VM after intercepting a bad syscall (%d)."


def metrics_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def boot_counter(squib):
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "counter",
              extra_args=" squibevery=1048576")
    start(api)
    return api


def category(default_action, filter_action, rules):
    return {"default_action": default_action, "filter_action": filter_action,
            "filter": rules}


def write_filter(tmp_path, doc, name="filter.json"):
    path = os.path.join(str(tmp_path), name)
    with open(path, "w") as f:
        f.write(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def test_default_filters_serve_the_api(squib):
    api = squib.client()
    for _ in range(3):
        assert api.get("/").status == 200
        assert api.get("/machine-config").status == 200
    r = api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 64})
    assert r.status == 204, r.raw
    r = api.put("/logger", {"level": "Debug"})
    assert r.status == 204, r.raw
    # Many connections, opened and closed.
    for _ in range(20):
        c = squib.client()
        assert c.get("/version").status == 200
        c.close()
    assert squib.proc.poll() is None
    assert "bad syscall" not in squib.output()


@NEED_KVM
def test_default_filters_boot_and_run_a_guest(squib):
    api = boot_counter(squib)
    wait_for(squib, r"SQUIB-GUEST counter value=\d+\r?\n")
    # Post-boot work on the vmm thread under its filter.
    assert api.get("/").json()["state"] == "Running"
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    r = api.put("/actions", {"action_type": "FlushMetrics"})
    assert r.status in (204, 400), r.raw
    assert api.get("/vm/config").status == 200
    out = wait_for(squib, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert squib.proc.poll() is None, out[-3000:]
    assert "bad syscall" not in squib.output()


@NEED_KVM
def test_default_filters_clean_guest_shutdown(squib):
    # Teardown (vCPU joins, TTY and fd restore, api thread stop, exit line)
    # runs on the vmm thread after its filter: it must exit 0, not 148.
    api = squib.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "cad")
    start(api)
    wait_for(squib, r"SQUIB-GUEST cad waiting")
    assert api.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    assert squib.wait(30) == 0, squib.output()[-3000:]
    assert "Firecracker exiting successfully. exit_code=0" in squib.output()


def test_api_thread_bad_syscall_exits_148(squib_test_factory, tmp_path):
    metrics = os.path.join(str(tmp_path), "metrics.json")
    s = squib_test_factory(args=("--metrics-path", metrics),
                      env={"SQUIB_TEST_SECCOMP_TRAP": "api"}, wait=False)
    assert s.wait(10) == 148
    out = s.output()
    assert BAD_SYSCALL_LINE % GETPGRP in out
    assert re.search(r"\[anonymous-instance:fc_api\] Shutting down VM after "
                     r"intercepting signal 31, code 1\.", out), out
    assert "API server started." not in out
    # The handler flushed the metrics with seccomp.num_faults = 1.
    assert any(m.get("seccomp", {}).get("num_faults") == 1
               for m in metrics_lines(metrics))


def test_product_binary_ignores_test_hooks(squib_factory):
    # The hooks are in build/squib-test only: build/squib does not read
    # SQUIB_TEST_*, so its api thread serves instead of trapping.
    s = squib_factory(env={"SQUIB_TEST_SECCOMP_TRAP": "api"})
    assert s.client().get("/").status == 200
    assert s.proc.poll() is None


@NEED_KVM
@pytest.mark.parametrize("kind,thread", [("vcpu", "fc_vcpu 0"),
                                         ("vmm", "main")])
def test_guest_side_bad_syscall_exits_148(squib_test_factory, kind, thread):
    s = squib_test_factory(env={"SQUIB_TEST_SECCOMP_TRAP": kind})
    api = s.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "counter")
    # The vmm filter goes on once InstanceStart built the VM; the vCPU's as
    # its thread starts. Either way the process dies with 148; the answer
    # to InstanceStart may or may not make it out first.
    try:
        api.put("/actions", {"action_type": "InstanceStart"})
    except (ConnectionError, OSError):
        pass
    assert s.wait(30) == 148
    out = s.output()
    assert "[anonymous-instance:%s] " % thread + BAD_SYSCALL_LINE % GETPGRP in out, out[-3000:]


def test_pre_boot_vmm_work_is_not_filtered(squib_test_factory):
    # Upstream installs the vmm filter only once the VM is built: before
    # that, the vmm thread serves configuration requests unfiltered.
    s = squib_test_factory(env={"SQUIB_TEST_SECCOMP_TRAP": "vmm"})
    api = s.client()
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    assert r.status == 204, r.raw
    assert api.get("/").status == 200
    assert s.proc.poll() is None


def test_no_seccomp_installs_nothing(squib_test_factory):
    s = squib_test_factory(args=("--no-seccomp",),
                      env={"SQUIB_TEST_SECCOMP_TRAP": "api"})
    api = s.client()
    assert api.get("/").status == 200
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


@NEED_KVM
def test_no_seccomp_boots_with_trap_hook(squib_test_factory):
    s = squib_test_factory(args=("--no-seccomp",),
                      env={"SQUIB_TEST_SECCOMP_TRAP": "vcpu"})
    boot_counter(s)
    wait_for(s, r"SQUIB-GUEST counter value=\d+\r?\n")
    assert s.proc.poll() is None


def test_no_seccomp_conflicts_with_filter(squib_factory, tmp_path):
    path = write_filter(tmp_path, "{}")
    s = squib_factory(args=("--no-seccomp", "--seccomp-filter", path), wait=False)
    assert s.wait(10) == 153
    assert ("Argument 'seccomp-filter' cannot be used together with argument "
            "'no-seccomp'.") in s.output()


def deny_list(api_rules=(), vmm_rules=(), vcpu_rules=()):
    """A filter that allows everything but the listed syscalls (trap)."""
    def rules(names):
        return [{"syscall": n, "comment": "test"} for n in names]
    return {"vmm": category("allow", "trap", rules(vmm_rules)),
            "api": category("allow", "trap", rules(api_rules)),
            "vcpu": category("allow", "trap", rules(vcpu_rules))}


def test_custom_filter_is_applied(squib_test_factory, tmp_path):
    # A deny-list that lets the api thread do anything but getpgrp: the
    # hook then trips it, so the file (not the built-in list) is in force.
    path = write_filter(tmp_path, deny_list(api_rules=["getpgrp"]))
    s = squib_test_factory(args=("--seccomp-filter", path),
                      env={"SQUIB_TEST_SECCOMP_TRAP": "api"}, wait=False)
    assert s.wait(10) == 148
    assert BAD_SYSCALL_LINE % GETPGRP in s.output()


def dies_on_first_connection(squib_factory, filter_path):
    """squib under a filter that denies accept4 to the api thread starts,
    and dies on the first connection it accepts, with exit code 148 and
    that syscall's number in upstream's log line."""
    s = squib_factory(args=("--seccomp-filter", filter_path))
    try:
        s.client().get("/")
    except (ConnectionError, OSError):
        pass
    assert s.wait(10) == 148
    assert BAD_SYSCALL_LINE % 288 in s.output()


def test_custom_filter_targets_its_thread_kind(squib_factory, tmp_path):
    # accept4 is denied to the api thread only.
    path = write_filter(tmp_path, deny_list(api_rules=["accept4"]))
    dies_on_first_connection(squib_factory, path)


def test_custom_filter_allow_all_serves(squib_factory, tmp_path):
    path = write_filter(tmp_path, deny_list())
    s = squib_factory(args=("--seccomp-filter", path))
    api = s.client()
    assert api.get("/").status == 200
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}).status == 204
    assert s.proc.poll() is None


@pytest.mark.parametrize("doc,message", [
    ({"vmm": category("trap", "allow", []), "api": category("trap", "allow", [])},
     "Seccomp error: Missing thread category: vcpu"),
    ({"vmm": {}, "api": {}, "vcpu": {}, "jailer": {}},
     "Seccomp error: Invalid thread categories: jailer"),
    ("{\"vmm\": ", "Seccomp error: Filter deserialization failed: EOF while "
                   "parsing a value at line 1 column 8"),
    (dict(deny_list(), vcpu=category("trap", "allow", [{"syscall": "nosuchcall"}])),
     "Seccomp error: Filter deserialization failed: vcpu: filter[0]: unknown "
     "syscall \"nosuchcall\" on x86_64"),
])
def test_invalid_filter_file_exits_1(squib_factory, tmp_path, doc, message):
    path = write_filter(tmp_path, doc)
    s = squib_factory(args=("--seccomp-filter", path), wait=False)
    assert s.wait(10) == 1
    out = s.output()
    assert message in out, out
    assert "Error: " + message in out
    assert "Firecracker exiting with error. exit_code=1" in out
    # Filters load before the API socket is bound (startup step 5).
    assert "Listening on API socket" not in out
    assert not os.path.exists(s.sock_path)


def test_missing_filter_file_exits_1(squib_factory, tmp_path):
    path = os.path.join(str(tmp_path), "nope.json")
    s = squib_factory(args=("--seccomp-filter", path), wait=False)
    assert s.wait(10) == 1
    assert ("Seccomp error: Filter file open error: No such file or directory "
            "(os error 2)") in s.output()


def write_config(tmp_path, test):
    cfg = {
        "boot-source": {
            "kernel_image_path": os.path.join(GUEST_DIR, "guest-linux.elf"),
            "boot_args": "console=ttyS0 reboot=k panic=1 squibtest=%s" % test,
        },
        "drives": [],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 128},
    }
    path = os.path.join(str(tmp_path), "vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


@NEED_KVM
def test_config_file_no_api_boot_under_filters(squib_factory, tmp_path):
    # --config-file --no-api: the vmm filter goes on right after the
    # config-file boot; the guest reports and resets, squib exits 0.
    s = squib_factory(args=("--no-api", "--config-file",
                            write_config(tmp_path, "report")), wait=False)
    assert s.wait(30) == 0, s.output()[-3000:]
    out = s.output()
    assert "Successfully started microvm that was configured from one single json" in out
    assert "SQUIB-GUEST boot=linux64" in out
    assert "bad syscall" not in out


@NEED_KVM
@pytest.mark.parametrize("api_mode", [False, True])
def test_config_file_boot_installs_vmm_filter(squib_test_factory, tmp_path, api_mode):
    args = ("--config-file", write_config(tmp_path, "counter"))
    if not api_mode:
        args = ("--no-api",) + args
    s = squib_test_factory(args=args, env={"SQUIB_TEST_SECCOMP_TRAP": "vmm"},
                      wait=False)
    assert s.wait(30) == 148
    out = s.output()
    assert "[anonymous-instance:main] " + BAD_SYSCALL_LINE % GETPGRP in out, out[-3000:]
    # Installed after the VM was built (upstream's order).
    assert out.index("Successfully started microvm") < out.index("bad syscall")


def defaults_file(tmp_path):
    """squib's built-in lists as a --seccomp-filter file (build/seccomp-defaults)."""
    tool = os.path.join(BUILD, "seccomp-defaults")
    if not os.path.exists(tool):
        pytest.skip("the seccomp-defaults tool is not built (make seccomp-defaults)")
    doc = subprocess.run([tool], check=True, stdout=subprocess.PIPE).stdout
    json.loads(doc)  # a valid JSON document
    return write_filter(tmp_path, doc.decode(), name="defaults.json")


@NEED_KVM
def test_exported_defaults_as_custom_filter_run_a_guest(squib_factory, tmp_path):
    # The custom-filter path compiles the exported built-in lists into the
    # same programs: squib boots, pauses, resumes and shuts down cleanly.
    s = squib_factory(args=("--seccomp-filter", defaults_file(tmp_path)))
    api = s.client()
    configure(api, os.path.join(GUEST_DIR, "guest-linux.elf"), "cad", vcpus=2)
    start(api)
    wait_for(s, r"SQUIB-GUEST cad waiting")
    assert api.patch("/vm", {"state": "Paused"}).status == 204
    assert api.patch("/vm", {"state": "Resumed"}).status == 204
    assert api.put("/actions", {"action_type": "SendCtrlAltDel"}).status == 204
    assert s.wait(30) == 0, s.output()[-3000:]
    assert "bad syscall" not in s.output()


def test_exported_defaults_still_trap(squib_test_factory, tmp_path):
    s = squib_test_factory(args=("--seccomp-filter", defaults_file(tmp_path)),
                      env={"SQUIB_TEST_SECCOMP_TRAP": "api"}, wait=False)
    assert s.wait(10) == 148
    assert BAD_SYSCALL_LINE % GETPGRP in s.output()
