"""--config-file, --no-api and --metadata (digest 3.5, 8.1), booting the test guest."""
import json
import os

import pytest

from test_boot_guest import GUEST_DIR, assert_exit, guest_lines, first, kvm_skip_reason


def write_cfg(tmp_path, cfg, name="vm.json"):
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    return str(p)


def base_cfg(test="report", vcpus=1):
    return {
        "boot-source": {
            "kernel_image_path": os.path.join(GUEST_DIR, "guest-linux.elf"),
            "boot_args": "console=ttyS0 reboot=k panic=1 squibtest=%s" % test,
        },
        "drives": [],
        "machine-config": {"vcpu_count": vcpus, "mem_size_mib": 128},
    }


needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None, reason=str(kvm_skip_reason()))


@needs_kvm
def test_no_api_boots_and_exits_0(squib_factory, tmp_path):
    cfg = write_cfg(tmp_path, base_cfg())
    s = squib_factory(["--no-api", "--config-file", cfg], wait=False)
    assert_exit(s, 0, 30)
    out = s.output()
    assert first(guest_lines(out), "done") is not None
    assert "Successfully started microvm that was configured from one single json" in out
    assert "Firecracker exiting successfully. exit_code=0" in out
    assert not os.path.exists(s.sock_path)


@needs_kvm
def test_config_file_with_api_reports_config(squib_factory, tmp_path):
    cfg = base_cfg(test="counter", vcpus=2)
    path = write_cfg(tmp_path, cfg)
    s = squib_factory(["--config-file", path])
    c = s.client()
    assert c.get("/").json()["state"] == "Running"
    got = c.get("/vm/config").json()
    assert got["boot-source"] == {**cfg["boot-source"], "initrd_path": None}
    assert got["machine-config"] == {"vcpu_count": 2, "mem_size_mib": 128, "smt": False,
                                     "track_dirty_pages": False, "huge_pages": "None"}
    assert got["drives"] == []
    # GET /vm/config is itself a valid config file: boot from it again.
    again = write_cfg(tmp_path, got, "again.json")
    s2 = squib_factory(["--config-file", again, "--api-sock", str(tmp_path / "b.sock")], wait=False)
    s2.sock_path = str(tmp_path / "b.sock")
    s2.wait_ready()
    assert s2.client().get("/").json()["state"] == "Running"


def test_config_file_bad_machine_config(squib_factory, tmp_path):
    cfg = base_cfg()
    cfg["machine-config"]["vcpu_count"] = 0
    s = squib_factory(["--no-api", "--config-file", write_cfg(tmp_path, cfg)], wait=False)
    assert s.wait(10) == 1
    out = s.output()
    assert ("RunWithoutApiError error: Failed to build MicroVM from Json: Configuration for VMM from one "
            "single json failed: ") in out
    assert "Firecracker exiting with error. exit_code=1" in out


def test_config_file_missing_required(squib_factory, tmp_path):
    s = squib_factory(["--no-api", "--config-file", write_cfg(tmp_path, {"drives": []})], wait=False)
    assert s.wait(10) == 1
    assert "missing field `boot-source`" in s.output()


def test_config_file_unreadable(squib_factory, tmp_path):
    s = squib_factory(["--no-api", "--config-file", str(tmp_path / "nope.json")], wait=False)
    assert s.wait(10) != 0
    assert "Unable to open or read from the configuration file" in s.output()


def test_no_api_requires_config_file(squib_factory):
    s = squib_factory(["--no-api"], wait=False)
    assert s.wait(10) == 153
    assert "Argument 'config-file' required, but not found." in s.output()


def test_metadata_loaded(squib_factory, tmp_path):
    md = tmp_path / "md.json"
    md.write_text(json.dumps({"latest": {"meta-data": {"id": "i-1"}}}))
    s = squib_factory(["--metadata", str(md)])
    assert s.client().get("/mmds").body == b'{"latest":{"meta-data":{"id":"i-1"}}}'
    assert "Successfully added metadata to mmds from file" in s.output()


def test_metadata_too_large(squib_factory, tmp_path):
    md = tmp_path / "md.json"
    md.write_text(json.dumps({"k": "x" * 300}))
    s = squib_factory(["--metadata", str(md), "--mmds-size-limit", "100"], wait=False)
    assert s.wait(10) == 1
    assert "Populating MMDS from file failed: The MMDS patch request doesn't fit." in s.output()


def test_metadata_invalid_json(squib_factory, tmp_path):
    md = tmp_path / "md.json"
    md.write_text("{nope")
    s = squib_factory(["--metadata", str(md)], wait=False)
    assert s.wait(10) != 0
    assert "MMDS error: metadata provided not valid json" in s.output()
