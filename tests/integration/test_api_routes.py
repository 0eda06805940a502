"""Every route before boot: status, body and exact fault_message (digest 1.2-1.8)."""
import os

import pytest

NSPRE = "The requested operation is not supported before starting the microVM."
DEFAULT_VM_CONFIG = (
    '{"balloon":null,"drives":[],"boot-source":{"kernel_image_path":"","initrd_path":null,'
    '"boot_args":null},"cpu-config":null,"logger":null,"machine-config":{"vcpu_count":1,'
    '"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"},'
    '"metrics":null,"mmds-config":null,"network-interfaces":[],"vsock":null,"entropy":null,'
    '"pmem":[],"memory-hotplug":null}'
)


def test_instance_info(api):
    r = api.get("/")
    assert r.status == 200
    assert r.body == b'{"id":"anonymous-instance","state":"Not started","vmm_version":"1.17.0-dev","app_name":"Firecracker"}'


def test_instance_info_custom_id(squib_factory):
    s = squib_factory(["--id", "my-vm-1"])
    assert s.client().get("/").json()["id"] == "my-vm-1"


def test_version(api):
    assert api.get("/version").body == b'{"firecracker_version":"1.17.0-dev"}'


def test_machine_config_default(api):
    assert api.get("/machine-config").body == (
        b'{"vcpu_count":1,"mem_size_mib":128,"smt":false,"track_dirty_pages":false,"huge_pages":"None"}')


def test_vm_config_default(api):
    r = api.get("/vm/config")
    assert r.status == 200
    assert r.body.decode() == DEFAULT_VM_CONFIG


@pytest.mark.parametrize("path,msg", [
    ("/balloon", "Balloon config error: No balloon device found."),
    ("/balloon/statistics", NSPRE),
    ("/balloon/hinting/status", NSPRE),
    ("/hotplug/memory", NSPRE),
])
def test_get_errors_pre_boot(api, path, msg):
    r = api.get(path)
    assert r.status == 400
    assert r.fault == msg


def test_mmds_empty(api):
    r = api.get("/mmds")
    assert r.status == 200 and r.body == b"{}"


@pytest.mark.parametrize("method,path,body", [
    ("PATCH", "/balloon", {"amount_mib": 1}),
    ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 1}),
    ("PATCH", "/balloon/hinting/start", None),
    ("PATCH", "/balloon/hinting/stop", None),
    ("PATCH", "/drives/d1", {"drive_id": "d1", "path_on_host": "x"}),
    ("PATCH", "/network-interfaces/n1", {"iface_id": "n1"}),
    ("PATCH", "/pmem/p1", {"id": "p1"}),
    ("PATCH", "/vm", {"state": "Paused"}),
    ("PATCH", "/hotplug/memory", {"requested_size_mib": 0}),
    ("PUT", "/actions", {"action_type": "FlushMetrics"}),
    ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}),
    ("PUT", "/snapshot/create", {"snapshot_path": "s", "mem_file_path": "m"}),
    ("DELETE", "/drives/d1", None),
    ("DELETE", "/pmem/p1", None),
    ("DELETE", "/network-interfaces/n1", None),
])
def test_post_boot_only_ops(api, method, path, body):
    r = api.request(method, path, body)
    assert r.status == 400, r.raw
    assert r.fault == NSPRE


def test_instance_start_without_kernel(api):
    r = api.put("/actions", {"action_type": "InstanceStart"})
    assert r.status == 400
    assert r.fault == "Start microvm error: Cannot start microvm without kernel configuration."
    assert api.get("/").json()["state"] == "Not started"


def test_machine_config_put_and_get(api):
    assert api.put("/machine-config", {"vcpu_count": 2, "mem_size_mib": 256, "smt": True}).status == 204
    assert api.get("/machine-config").json() == {
        "vcpu_count": 2, "mem_size_mib": 256, "smt": True, "track_dirty_pages": False,
        "huge_pages": "None"}
    # PUT resets omitted smt/track_dirty_pages/huge_pages.
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}).status == 204
    assert api.get("/machine-config").json()["smt"] is False


def test_machine_config_patch(api):
    assert api.patch("/machine-config", {"mem_size_mib": 512}).status == 204
    cfg = api.get("/machine-config").json()
    assert cfg["mem_size_mib"] == 512 and cfg["vcpu_count"] == 1
    r = api.patch("/machine-config", {})
    assert r.status == 400 and r.fault == "Empty PATCH request."


@pytest.mark.parametrize("body,msg", [
    ('{"mem_size_mib": 128}',
     "An error occurred when deserializing the json body of a request: missing field `vcpu_count` at line 1 column 21."),
    ('{"vcpu_count": 1}',
     "An error occurred when deserializing the json body of a request: missing field `mem_size_mib` at line 1 column 17."),
    ('{"vcpu_count": 0, "mem_size_mib": 128}',
     "Machine config error: The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled."),
    ('{"vcpu_count": 33, "mem_size_mib": 128}',
     "Machine config error: The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled."),
    ('{"vcpu_count": 3, "mem_size_mib": 128, "smt": true}',
     "Machine config error: The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number if SMT is enabled."),
    ('{"vcpu_count": 1, "mem_size_mib": 0}',
     "Machine config error: The memory size (MiB) is either 0, or not a multiple of the configured page size."),
    ('{"vcpu_count": 1, "mem_size_mib": 129, "huge_pages": "2M"}',
     "Machine config error: The memory size (MiB) is either 0, or not a multiple of the configured page size."),
    ('{"vcpu_count": 256, "mem_size_mib": 128}',
     "An error occurred when deserializing the json body of a request: invalid value: integer `256`, expected u8 at line 1 column 18."),
    ('{"vcpu_count": "1", "mem_size_mib": 128}',
     'An error occurred when deserializing the json body of a request: invalid type: string "1", expected u8 at line 1 column 18.'),
    ('{"vcpu_count": 1, "mem_size_mib": 128, "foo": 1}',
     "An error occurred when deserializing the json body of a request: unknown field `foo`, expected one of "
     "`vcpu_count`, `mem_size_mib`, `smt`, `cpu_template`, `track_dirty_pages`, `huge_pages` at line 1 column 44."),
])
def test_machine_config_errors(api, body, msg):
    r = api.put("/machine-config", body)
    assert r.status == 400, r.raw
    assert r.fault == msg


def test_machine_config_deprecated_template(api):
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "None"})
    assert r.status == 204
    assert r.header("Deprecation") == "true"
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert r.header("Deprecation") is None


def test_boot_source_missing_kernel(api, tmp_path):
    r = api.put("/boot-source", {"kernel_image_path": str(tmp_path / "nope")})
    assert r.status == 400
    assert r.fault == "Boot source error: The kernel file cannot be opened: No such file or directory (os error 2)"


def test_boot_source_ok_and_vm_config(api, tmp_path):
    k = tmp_path / "vmlinux"
    k.write_bytes(b"\x7fELF")
    assert api.put("/boot-source", {"kernel_image_path": str(k), "boot_args": ""}).status == 204
    cfg = api.get("/vm/config").json()
    assert cfg["boot-source"] == {"kernel_image_path": str(k), "initrd_path": None, "boot_args": ""}


def test_boot_source_initrd_missing(api, tmp_path):
    k = tmp_path / "vmlinux"
    k.write_bytes(b"\x7fELF")
    r = api.put("/boot-source", {"kernel_image_path": str(k), "initrd_path": str(tmp_path / "nope")})
    assert r.status == 400
    assert r.fault == ("Boot source error: The initrd file cannot be opened due to invalid path or invalid "
                       "permissions. No such file or directory (os error 2)")


def test_drives(api, tmp_path):
    f = tmp_path / "disk.img"
    f.write_bytes(b"\0" * 4096)
    ok = api.put("/drives/rootfs", {"drive_id": "rootfs", "path_on_host": str(f), "is_root_device": True})
    assert ok.status == 204
    r = api.put("/drives/other", {"drive_id": "other", "path_on_host": str(f), "is_root_device": True})
    assert r.status == 400 and r.fault == "Drive config error: A root block device already exists!"
    r = api.put("/drives/x", {"drive_id": "y", "path_on_host": str(f), "is_root_device": False})
    assert r.status == 400 and r.fault == "The id from the path does not match the id from the body!"
    r = api.put("/drives/x-y", {"drive_id": "x-y", "path_on_host": str(f), "is_root_device": False})
    assert r.fault == "API Resource IDs can only contain alphanumeric characters and underscores."
    missing = str(tmp_path / "missing.img")
    r = api.put("/drives/d2", {"drive_id": "d2", "path_on_host": missing, "is_root_device": False})
    assert r.status == 400
    assert r.fault == ("Drive config error: Unable to create the virtio block device: Virtio backend error: "
                       "Error manipulating the backing file: No such file or directory (os error 2) " + missing)
    r = api.put("/drives/d3", {"drive_id": "d3", "is_root_device": False})
    assert r.fault == "Drive config error: Unable to create the virtio block device: Invalid block config."
    cfg = api.get("/vm/config").json()
    assert cfg["drives"] == [{
        "drive_id": "rootfs", "partuuid": None, "is_root_device": True, "cache_type": "Unsafe",
        "is_read_only": False, "path_on_host": str(f), "rate_limiter": None, "io_engine": "Sync",
        "socket": None}]


def test_drive_root_moves_first(api, tmp_path):
    f = tmp_path / "disk.img"
    f.write_bytes(b"\0" * 4096)
    for d, root in (("a", False), ("b", False), ("c", True)):
        assert api.put("/drives/" + d, {"drive_id": d, "path_on_host": str(f), "is_root_device": root}).status == 204
    assert [d["drive_id"] for d in api.get("/vm/config").json()["drives"]] == ["c", "a", "b"]


def test_net_errors(api):
    r = api.put("/network-interfaces/eth0", {"iface_id": "eth1", "host_dev_name": "tap0"})
    assert r.fault == "The id from the path [eth0] does not match the id from the body [eth1]!"
    r = api.put("/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "zz"})
    assert r.status == 400
    assert r.fault.startswith("An error occurred when deserializing the json body of a request: "
                              "The provided MAC address is invalid.")


def test_logger(api, tmp_path):
    log = tmp_path / "fc.log"
    assert api.put("/logger", {"log_path": str(log), "level": "Debug", "show_level": True}).status == 204
    assert api.get("/version").status == 200
    assert ":DEBUG" in log.read_text() or ":INFO" in log.read_text()
    r = api.put("/logger", {"level": "Verbose"})
    assert r.status == 400 and "Invalid LevelFilter" in r.fault
    r = api.put("/logger", {"log_path": str(tmp_path / "no" / "such")})
    assert r.fault == "Logger error: Failed to open target file: No such file or directory (os error 2)"


def test_metrics_once(api, tmp_path):
    m = tmp_path / "metrics"
    assert api.put("/metrics", {"metrics_path": str(m)}).status == 204
    r = api.put("/metrics", {"metrics_path": str(m)})
    assert r.status == 400
    assert r.fault == ("Metrics error: Cannot initialize the metrics system due to bad user input: "
                       "Reinitialization of metrics not allowed.")


def test_mmds_data_store(api):
    r = api.patch("/mmds", {"a": 1})
    assert r.status == 400 and r.fault == "MMDS error: The MMDS data store is not initialized."
    assert api.put("/mmds", {"b": {"y": 2, "x": 1}, "a": [1, 2]}).status == 204
    assert api.get("/mmds").body == b'{"a":[1,2],"b":{"x":1,"y":2}}'
    assert api.patch("/mmds", {"b": {"x": None, "z": "s"}, "c": True}).status == 204
    assert api.get("/mmds").body == b'{"a":[1,2],"b":{"y":2,"z":"s"},"c":true}'


def test_mmds_limit(squib_factory):
    s = squib_factory(["--mmds-size-limit", "100"])
    c = s.client()
    r = c.put("/mmds", {"k": "x" * 200})
    assert r.status == 413
    assert r.fault == "MMDS limit exceeded error: The MMDS patch request doesn't fit."
    assert c.get("/mmds").body == b"{}"


def test_mmds_config_errors(api):
    r = api.put("/mmds/config", {"network_interfaces": []})
    assert r.fault == ("MMMDS config error: The list of network interface IDs that allow forwarding MMDS "
                       "requests is empty.")
    r = api.put("/mmds/config", {"network_interfaces": ["nope"]})
    assert r.fault == ("MMMDS config error: The list of network interface IDs provided contains at least one "
                       "ID that does not correspond to any existing network interface.")


def test_vsock(api, tmp_path):
    p = str(tmp_path / "v.sock")
    r = api.put("/vsock", {"guest_cid": 3, "uds_path": p, "vsock_id": "v"})
    assert r.status == 204 and r.header("Deprecation") == "true"
    assert api.get("/vm/config").json()["vsock"] == {"guest_cid": 3, "uds_path": p}
    assert os.path.exists(p)


def test_entropy_serial_balloon(api, tmp_path):
    assert api.put("/entropy", {}).status == 204
    assert api.put("/serial", {}).status == 204
    assert api.put("/balloon", {"amount_mib": 1, "deflate_on_oom": True}).status == 204
    assert api.get("/balloon").json() == {
        "amount_mib": 1, "deflate_on_oom": True, "stats_polling_interval_s": 0,
        "free_page_hinting": False, "free_page_reporting": False}
    r = api.put("/balloon", {"amount_mib": 1000, "deflate_on_oom": True})
    assert r.fault == "Balloon config error: Amount of pages requested is too large."


def test_hotplug_memory_config(api):
    r = api.put("/hotplug/memory", {"total_size_mib": 1024, "block_size_mib": 3})
    assert r.status == 400
    assert r.fault == "Memory hotplug config error: Block size must be a power of 2"
    assert api.put("/hotplug/memory", {"total_size_mib": 1024}).status == 204


def test_snapshot_load_gating(api):
    assert api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}).status == 204
    r = api.put("/snapshot/load", {"snapshot_path": "s", "mem_backend": {"backend_type": "File", "backend_path": "m"}})
    assert r.status == 400
    assert r.fault == ("Load snapshot error: Loading a microVM snapshot not allowed after configuring "
                       "boot-specific resources.")


def test_snapshot_load_param_errors(api):
    r = api.put("/snapshot/load", {"snapshot_path": "s"})
    assert r.fault == ("An error occurred when deserializing the json body of a request: missing field: either "
                       "`mem_backend` or `mem_file_path` is required.")
    r = api.put("/snapshot/load", {"snapshot_path": "s", "mem_file_path": "m",
                                   "mem_backend": {"backend_type": "File", "backend_path": "m"}})
    assert r.fault == ("An error occurred when deserializing the json body of a request: too many fields: "
                       "either `mem_backend` or `mem_file_path` exclusively is required.")


def test_cpu_config(api):
    body = {"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
                                 "modifiers": [{"register": "eax", "bitmap": "0b" + "x" * 32}]}],
            "msr_modifiers": [], "kvm_capabilities": []}
    assert api.put("/cpu-config", body).status == 204
    bad = {"cpuid_modifiers": [{"leaf": "1", "subleaf": "0x0", "flags": 0, "modifiers": []}]}
    r = api.put("/cpu-config", bad)
    assert r.status == 400


def test_unknown_json(api):
    r = api.put("/actions", "{")
    assert r.status == 400
    assert r.fault == ("An error occurred when deserializing the json body of a request: "
                       "EOF while parsing an object at line 1 column 1.")
    r = api.put("/actions", {"action_type": "Reboot"})
    assert r.fault == ("An error occurred when deserializing the json body of a request: unknown variant "
                       "`Reboot`, expected one of `FlushMetrics`, `InstanceStart`, `SendCtrlAltDel` at line 1 "
                       "column 24.")
