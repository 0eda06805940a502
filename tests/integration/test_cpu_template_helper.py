"""build/cpu-template-helper, upstream's tool for custom CPU templates.

Without KVM: the command line (help, version, clap's errors and exit
status 2), `template strip` over three real template files, `fingerprint
compare` with and without differences in the filtered fields, and the
tool's own errors (missing files, bad JSON: status 1, upstream's texts, no
output file left behind).

With /dev/kvm (skipped otherwise, with the reason): `template dump` of a VM
built from the project's test guest (and of upstream's built-in
configuration), `template verify` of part of that dump against a new VM
(no mismatch; a flipped bit is reported), a custom template's bit seen in
the dump, and two fingerprint dumps that compare equal.
"""
import fcntl
import json
import os
import struct
import subprocess

import pytest

from conftest import BUILD, ROOT

HELPER = os.path.join(BUILD, "cpu-template-helper")
GUEST = os.path.join(ROOT, "build", "guest", "guest-linux.elf")


def run(*args, cwd=None):
    p = subprocess.run([HELPER] + list(args), capture_output=True, text=True,
                       cwd=cwd, timeout=120)
    return p.returncode, p.stdout, p.stderr


def kvm_skip_reason():
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm does not exist"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable"
    return None


needs_kvm = pytest.mark.skipif(kvm_skip_reason() is not None,
                               reason=str(kvm_skip_reason()))


# struct kvm_cpuid2 is {u32 nent, u32 pad} then entries of 40 bytes
# {function, index, flags, eax, ebx, ecx, edx, pad[3]}.
_CPUID_ENTRY = struct.Struct("<10I")
_CPUID_ROOM = 256


def _kvm_ioc(direction, nr, size):
    return (direction << 30) | (size << 16) | (0xAE << 8) | nr


def cpuid_readback_skip_reason():
    """None if KVM_GET_CPUID2 gives back what KVM_SET_CPUID2 set (what
    `template dump` reads, as upstream's does), else why not. Some nested
    hypervisors (PVM) answer KVM_GET_CPUID2 with the host's own CPUID,
    whatever was set: there a template's bits cannot show in a dump."""
    why = kvm_skip_reason()
    if why:
        return why
    size = 8 + _CPUID_ROOM * _CPUID_ENTRY.size
    kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    fds = [kvm]
    try:
        vm = fcntl.ioctl(kvm, _kvm_ioc(0, 0x01, 0), 0)        # KVM_CREATE_VM
        fds.append(vm)
        vcpu = fcntl.ioctl(vm, _kvm_ioc(0, 0x41, 0), 0)       # KVM_CREATE_VCPU
        fds.append(vcpu)
        buf = bytearray(size)
        struct.pack_into("<I", buf, 0, _CPUID_ROOM)
        fcntl.ioctl(kvm, _kvm_ioc(3, 0x05, 8), buf)           # GET_SUPPORTED
        nent = struct.unpack_from("<I", buf, 0)[0]
        for i in range(nent):
            e = list(_CPUID_ENTRY.unpack_from(buf, 8 + i * _CPUID_ENTRY.size))
            if e[0] == 7 and e[1] == 0:
                e[4] ^= 1 << 3                                # BMI1 flipped
                want = e[4]
                _CPUID_ENTRY.pack_into(buf, 8 + i * _CPUID_ENTRY.size, *e)
        fcntl.ioctl(vcpu, _kvm_ioc(1, 0x90, 8), buf)          # KVM_SET_CPUID2
        struct.pack_into("<I", buf, 0, _CPUID_ROOM)
        fcntl.ioctl(vcpu, _kvm_ioc(3, 0x91, 8), buf)          # KVM_GET_CPUID2
        nent = struct.unpack_from("<I", buf, 0)[0]
        for i in range(nent):
            e = _CPUID_ENTRY.unpack_from(buf, 8 + i * _CPUID_ENTRY.size)
            if e[0] == 7 and e[1] == 0 and e[4] != want:
                return ("KVM_GET_CPUID2 here does not give back what "
                        "KVM_SET_CPUID2 set (leaf 0x7 EBX 0x%x, set 0x%x)"
                        % (e[4], want))
    except OSError as e:
        return "CPUID read-back probe failed: %s" % e
    finally:
        for fd in reversed(fds):
            os.close(fd)
    return None


def bits(value, width):
    return "0b" + format(value, "0%db" % width)


def leaf(leaf_, subleaf, flags, **regs):
    return {"leaf": hex(leaf_), "subleaf": hex(subleaf), "flags": flags,
            "modifiers": [{"register": r, "bitmap": b}
                          for r, b in regs.items()]}


def msr(addr, value):
    return {"addr": hex(addr), "bitmap": bits(value, 64)}


def write_json(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
    return str(path)


# ---- command line ----------------------------------------------------------

def test_help_and_version():
    rc, out, err = run("--help")
    assert rc == 0 and err == ""
    assert out.startswith("Usage: cpu-template-helper <COMMAND>\n\nCommands:\n"
                          "  template     Template-related operations\n")
    rc, out, _ = run("--version")
    assert (rc, out) == (0, "cpu-template-helper v1.17.0-dev\n")
    for sub in (["template", "dump"], ["template", "strip"],
                ["template", "verify"], ["fingerprint", "dump"],
                ["fingerprint", "compare"]):
        rc, out, _ = run(*sub, "--help")
        assert rc == 0
        assert ("Usage: cpu-template-helper %s" % " ".join(sub)) in out


def test_clap_errors():
    rc, out, err = run()
    assert rc == 2 and out == ""
    assert err.startswith("Usage: cpu-template-helper <COMMAND>")
    rc, _, err = run("template", "verify", "--nope")
    assert rc == 2
    assert err == ("error: unexpected argument '--nope' found\n\n"
                   "Usage: cpu-template-helper template verify [OPTIONS]\n\n"
                   "For more information, try '--help'.\n")
    rc, _, err = run("fingerprint", "compare")
    assert rc == 2
    assert err.startswith("error: the following required arguments were not "
                          "provided:\n  --prev <PATH>\n  --curr <PATH>\n")


# ---- strip -------------------------------------------------------------------

def three_templates(tmp_path):
    """Leaf 0x0 and MSR 0x1 the same in all three; leaf 0x1/ebx and MSR 0x0
    differ; leaf 0x2 and MSR 0x2 only in some."""
    common = leaf(0x0, 0, 0, eax=bits(0x16, 32))
    docs = []
    for i, ebx in enumerate((0x00010800, 0x00020800, 0x00030800)):
        cpuid = [common, leaf(0x1, 0, 0, eax=bits(0x50657, 32),
                              ebx=bits(ebx, 32))]
        msrs = [msr(0x0, i), msr(0x1, 0xfee00900)]
        if i == 1:
            cpuid.append(leaf(0x2, 1, 1, ecx=bits(7, 32)))
            msrs.append(msr(0x2, 5))
        docs.append({"cpuid_modifiers": cpuid, "msr_modifiers": msrs})
    return [write_json(tmp_path / ("cpu%d.json" % i), d)
            for i, d in enumerate(docs)]


def test_strip_three_files(tmp_path):
    paths = three_templates(tmp_path)
    before = [open(p).read() for p in paths]
    rc, out, err = run("template", "strip", "--paths", *paths)
    assert (rc, out, err) == (0, "", "")
    # inputs untouched, one output each beside them
    assert [open(p).read() for p in paths] == before
    outs = [json.load(open(str(tmp_path / ("cpu%d_stripped.json" % i))))
            for i in range(3)]
    for i, o in enumerate(outs):
        assert list(o) == ["kvm_capabilities", "cpuid_modifiers",
                           "msr_modifiers"]
        assert o["kvm_capabilities"] == []
        leaves = [(m["leaf"], m["subleaf"]) for m in o["cpuid_modifiers"]]
        # leaf 0x0 is common to all: gone; leaf 0x1 keeps ebx only, and
        # only bits 16-17 (0x1, 0x2, 0x3 there)
        assert ("0x0", "0x0") not in leaves
        l1 = o["cpuid_modifiers"][0]
        assert l1["leaf"] == "0x1"
        assert l1["modifiers"] == [{
            "register": "ebx",
            "bitmap": "0b" + "x" * 14 + format(i + 1, "02b") + "x" * 16}]
        addrs = [m["addr"] for m in o["msr_modifiers"]]
        assert "0x1" not in addrs
        assert o["msr_modifiers"][0] == {
            "addr": "0x0", "bitmap": "0b" + "x" * 62 + format(i, "02b")}
    assert [m["leaf"] for m in outs[1]["cpuid_modifiers"]] == ["0x1", "0x2"]
    assert outs[1]["cpuid_modifiers"][1] == leaf(0x2, 1, 1, ecx=bits(7, 32))
    assert outs[1]["msr_modifiers"][1] == msr(0x2, 5)
    # upstream's layout: serde_json's pretty printer, no final newline
    text = open(str(tmp_path / "cpu0_stripped.json")).read()
    assert text.startswith('{\n  "kvm_capabilities": [],\n  '
                           '"cpuid_modifiers": [\n    {\n      "leaf": "0x1",')
    assert text.endswith("\n  ]\n}")


def test_strip_suffix_and_errors(tmp_path):
    paths = three_templates(tmp_path)
    rc, _, _ = run("template", "strip", "-p", paths[0], paths[1], "-s", "")
    assert rc == 0
    assert "0x0" not in [m["leaf"] for m in
                         json.load(open(paths[0]))["cpuid_modifiers"]]
    bad = tmp_path / "bad.json"
    bad.write_text("{\"cpuid_modifiers\": [}")
    rc, out, err = run("template", "strip", "-p", paths[2], str(bad))
    assert (rc, out) == (1, "")
    assert err == ("Failed to serialize/deserialize JSON file: expected "
                   "value at line 1 column 22\n")
    rc, _, err = run("template", "strip", "-p", paths[2],
                     str(tmp_path / "missing.json"))
    assert rc == 1
    assert err == ("Failed to operate file: No such file or directory "
                   "(os error 2)\n")
    assert not (tmp_path / "cpu2_stripped.json").exists()


# ---- compare -----------------------------------------------------------------

def fingerprint(**kw):
    doc = {"firecracker_version": "1.17.0-dev", "kernel_version": "6.1.0-18",
           "microcode_version": "0xd0003a5", "bios_version": "1.0",
           "bios_revision": "1.0",
           "guest_cpu_config": {"kvm_capabilities": [],
                                "cpuid_modifiers": [leaf(0x0, 0, 0,
                                                         eax=bits(0xd, 32))],
                                "msr_modifiers": [msr(0x10a, 0x20c000e0eb)]}}
    doc.update(kw)
    return doc


def test_compare(tmp_path):
    prev = write_json(tmp_path / "prev.json", fingerprint())
    same = write_json(tmp_path / "same.json", fingerprint())
    rc, out, err = run("fingerprint", "compare", "--prev", prev, "--curr", same)
    assert (rc, out, err) == (0, "", "")

    cfg = fingerprint()["guest_cpu_config"]
    cfg["msr_modifiers"] = [msr(0x10a, 0x20c000e0ea)]
    curr = write_json(tmp_path / "curr.json",
                      fingerprint(kernel_version="6.8.0",
                                  guest_cpu_config=cfg))
    # differences outside the filter: success
    rc, out, err = run("fingerprint", "compare", "-p", prev, "-c", curr,
                       "-f", "microcode_version", "bios_version")
    assert (rc, out, err) == (0, "", "")
    # a difference in the filter: upstream's text, status 1
    rc, out, err = run("fingerprint", "compare", "-p", prev, "-c", curr,
                       "-f", "kernel_version")
    assert (rc, out) == (1, "")
    assert err == ("Difference detected between source and target: \n"
                   "{\n"
                   '  "name": "kernel_version",\n'
                   '  "prev": "6.1.0-18",\n'
                   '  "curr": "6.8.0"\n'
                   "}\n")
    # all fields (the default): both diffs, the CPU configs stripped
    rc, _, err = run("fingerprint", "compare", "-p", prev, "-c", curr)
    assert rc == 1
    assert err.count('"name": ') == 2
    assert '"name": "guest_cpu_config"' in err
    assert '"cpuid_modifiers": []' in err     # leaf 0x0 is the same
    assert '"bitmap": "0b' + "x" * 63 + '1"' in err
    assert '"bitmap": "0b' + "x" * 63 + '0"' in err

    bad = write_json(tmp_path / "bad.json", {"kernel_version": "x"})
    rc, _, err = run("fingerprint", "compare", "-p", bad, "-c", curr)
    assert rc == 1
    assert err == ("Failed to serialize/deserialize JSON file: missing field "
                   "`firecracker_version` at line 3 column 1\n")


# ---- what needs a VM -----------------------------------------------------------

def guest_config(tmp_path, **extra):
    doc = {"boot-source": {"kernel_image_path": GUEST}, "drives": [],
           "machine-config": {"vcpu_count": 2, "mem_size_mib": 64}}
    doc.update(extra)
    return write_json(tmp_path / "vm.json", doc)


@pytest.mark.skipif(kvm_skip_reason() is None,
                    reason="checks the failure without KVM")
def test_dump_without_kvm_leaves_no_file(tmp_path):
    out = tmp_path / "out.json"
    rc, _, err = run("template", "dump", "--output", str(out))
    assert rc == 1
    assert err.startswith("Failed to build microVM: Kvm error: ")
    assert not out.exists()
    assert os.listdir(str(tmp_path)) == []


def test_dump_bad_config_json(tmp_path):
    cfg = tmp_path / "vm.json"
    cfg.write_text("{\"boot-source\": {}}")
    rc, _, err = run("template", "dump", "--config", str(cfg), "-o",
                     str(tmp_path / "o.json"))
    assert rc == 1
    assert err == ("Failed to create VmResources: Invalid JSON: missing "
                   "field `kernel_image_path` at line 1 column 18\n")
    assert not (tmp_path / "o.json").exists()


def dump(tmp_path, name, *args):
    out = str(tmp_path / name)
    rc, _, err = run("template", "dump", "--output", out, *args)
    assert (rc, err) == (0, "")
    return json.load(open(out))


@needs_kvm
def test_dump_builtin_config(tmp_path):
    d = dump(tmp_path, "cpu_config.json")
    leaves = [(int(m["leaf"], 16), int(m["subleaf"], 16))
              for m in d["cpuid_modifiers"]]
    assert leaves == sorted(leaves) and (0, 0) in leaves
    for m in d["cpuid_modifiers"]:
        assert [r["register"] for r in m["modifiers"]] == \
            ["eax", "ebx", "ecx", "edx"]
        assert all(len(r["bitmap"]) == 34 and "x" not in r["bitmap"]
                   for r in m["modifiers"])
    addrs = [int(m["addr"], 16) for m in d["msr_modifiers"]]
    assert addrs == sorted(addrs)
    for excluded in (0x10, 0x6e0, 0x17a, 0x17b, 0x480):
        assert excluded not in addrs
    # the default output name, in the working directory
    rc, _, _ = run("template", "dump", cwd=str(tmp_path))
    assert rc == 0 and (tmp_path / "cpu_config.json").exists()


@needs_kvm
@pytest.mark.skipif(not os.path.exists(GUEST),
                    reason="the test guests are not built (make guests)")
def test_dump_then_verify(tmp_path):
    cfg = guest_config(tmp_path)
    d = dump(tmp_path, "dump.json", "--config", cfg)
    # CPUID leaves every KVM lists and MSRs that are plain state
    keep = {(0x0, 0x0), (0x1, 0x0), (0x7, 0x0), (0x80000000, 0x0)}
    tmpl = {"cpuid_modifiers": [m for m in d["cpuid_modifiers"]
                                if (int(m["leaf"], 16),
                                    int(m["subleaf"], 16)) in keep],
            "msr_modifiers": [m for m in d["msr_modifiers"]
                              if int(m["addr"], 16) in (0x1a0, 0x277)]}
    assert len(tmpl["cpuid_modifiers"]) == 4
    path = write_json(tmp_path / "tmpl.json", tmpl)
    rc, out, err = run("template", "verify", "--config", cfg, "--template",
                       path)
    assert (rc, out, err) == (0, "", "")

    # CPUID.1:ECX bit 31 (hypervisor) is forced on by normalisation: a
    # template asking for 0 there is not applied as requested.
    l1 = [m for m in tmpl["cpuid_modifiers"] if m["leaf"] == "0x1"][0]
    ecx = [r for r in l1["modifiers"] if r["register"] == "ecx"][0]
    assert ecx["bitmap"][2] == "1"
    ecx["bitmap"] = "0b0" + ecx["bitmap"][3:]
    path = write_json(tmp_path / "tmpl2.json", tmpl)
    rc, _, err = run("template", "verify", "--config", cfg, "--template", path)
    assert rc == 1
    assert err.startswith("Value for leaf=0x1, subleaf=0x0, flags=0b0, "
                          "register=ecx mismatched.\n* CPU template     : "
                          "0b0")
    assert err.endswith("* Diff             :   ^" + " " * 31 + "\n")


@pytest.mark.skipif(not os.path.exists(GUEST),
                    reason="the test guests are not built (make guests)")
def test_custom_template_bit_in_dump(tmp_path):
    why = cpuid_readback_skip_reason()
    if why:
        pytest.skip(why)
    cfg = guest_config(tmp_path)
    # CPUID.7.0:EBX bit 0 (FSGSBASE) cleared, everything else as KVM has it
    tmpl = write_json(tmp_path / "t.json", {"cpuid_modifiers": [
        leaf(0x7, 0, 1, ebx="0b" + "x" * 31 + "0")]})
    d = dump(tmp_path, "dump.json", "--config", cfg, "--template", tmpl)
    l7 = [m for m in d["cpuid_modifiers"]
          if (m["leaf"], m["subleaf"]) == ("0x7", "0x0")][0]
    ebx = [r for r in l7["modifiers"] if r["register"] == "ebx"][0]
    assert ebx["bitmap"][-1] == "0"
    rc, _, err = run("template", "verify", "--config", cfg, "--template", tmpl)
    assert (rc, err) == (0, "")


@needs_kvm
def test_t2_static_template(tmp_path):
    if "GenuineIntel" not in open("/proc/cpuinfo").read():
        pytest.skip("T2 applies to Intel hosts only")
    cfg = guest_config(tmp_path, **{"machine-config": {
        "vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}})
    out = str(tmp_path / "t2.json")
    rc, _, err = run("template", "dump", "--config", cfg, "--output", out)
    if rc == 1 and "not permitted to apply the CPU template" in err:
        pytest.skip("this CPU model may not use T2")
    assert (rc, err) == (0, "")
    d = json.load(open(out))
    l1 = [m for m in d["cpuid_modifiers"] if m["leaf"] == "0x1"][0]
    ecx = [r for r in l1["modifiers"] if r["register"] == "ecx"][0]
    # T2 clears CPUID.1:ECX bit 15 (PDCM)
    assert ecx["bitmap"][2 + 31 - 15] == "0"
    rc, _, err = run("template", "verify", "--config", cfg)
    assert (rc, err) == (0, "")


@needs_kvm
def test_fingerprint_dump_twice(tmp_path):
    fp1, fp2 = str(tmp_path / "fp1.json"), str(tmp_path / "fp2.json")
    rc, _, err = run("fingerprint", "dump", "--output", fp1)
    if rc == 1 and ("microcode" in err or "/sys/devices/virtual/dmi" in err):
        pytest.skip("this host does not report " + err.strip())
    assert (rc, err) == (0, "")
    rc, _, err = run("fingerprint", "dump", "--output", fp2)
    assert (rc, err) == (0, "")
    doc = json.load(open(fp1))
    assert list(doc) == ["firecracker_version", "kernel_version",
                         "microcode_version", "bios_version", "bios_revision",
                         "guest_cpu_config"]
    assert doc["kernel_version"] == os.uname().release
    rc, out, err = run("fingerprint", "compare", "-p", fp1, "-c", fp2)
    assert (rc, out, err) == (0, "", "")
