"""Tests of scripts/check-layers.py on small fake trees (make layers)."""
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "scripts", "check-layers.py")


def make_tree(tmp_path, files, known=None):
    for rel, text in files.items():
        p = tmp_path / "src" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if known is not None:
        (tmp_path / "scripts").mkdir(exist_ok=True)
        (tmp_path / "scripts" / "layers-known.txt").write_text(known)
    return tmp_path


def run(root):
    return subprocess.run([sys.executable, SCRIPT, "--root", str(root)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)


BASE = {
    "util/buf.h": "#include <stddef.h>\n",
    "obs/log.h": '#include "util/buf.h"\n',
    "config/drive.h": '#include "util/buf.h"\n',
    "vmm/bus.h": '#include "util/buf.h"\n',
    "vmm/vmm.h": '#include "config/drive.h"\n#include "devices/serial.h"\n',
    "vmm/action.h": "\n",
    "devices/serial.h": '#include "vmm/bus.h"\n#include "obs/log.h"\n',
    "api/server.c": '#include "vmm/action.h"\n#include "obs/log.h"\n',
    "main.c": '#include "vmm/vmm.h"\n#include "api/server.h"\n'
              '#include "cli.h"\n',
    "cli.h": "\n",
    "api/server.h": "\n",
}


def test_clean_tree_passes(tmp_path):
    r = run(make_tree(tmp_path, BASE))
    assert r.returncode == 0, r.stderr
    assert "0 errors" in r.stdout


@pytest.mark.parametrize("rel,inc,rule", [
    ("devices/serial.c", "config/drive.h", "devices may not use config"),
    ("vmm/start.c", "api/server.h", "vmm may not use api"),
    ("util/x.c", "obs/log.h", "util may not use obs"),
    ("config/y.c", "vmm/action.h", "config may not use vmm"),
    ("obs/z.c", "vmm/vmm.h", "obs may not use vmm"),
    ("api/parse.c", "vmm/vmm.h", "api may not use vmm"),
    ("devices/blk.c", "vmm/vmm.h", "devices may not use vmm"),
    ("util/w.c", "cli.h", "util may not use top"),
])
def test_forbidden_edge_fails(tmp_path, rel, inc, rule):
    files = dict(BASE)
    files[rel] = f'#include <stdio.h>\n#include "{inc}"\n'
    r = run(make_tree(tmp_path, files))
    assert r.returncode == 1
    assert f'src/{rel}:2: #include "{inc}": {rule}' in r.stderr


def test_known_violation_is_reported_not_failed(tmp_path):
    files = dict(BASE)
    files["vmm/vmm_int.h"] = '#include "api/server.h"\n'
    known = "# why\nsrc/vmm/vmm_int.h: api/server.h\n"
    r = run(make_tree(tmp_path, files, known))
    assert r.returncode == 0, r.stderr
    assert "1 known violations" in r.stdout


def test_stale_known_entry_fails(tmp_path):
    known = "# gone\nsrc/vmm/vmm_int.h: api/server.h\n"
    r = run(make_tree(tmp_path, BASE, known))
    assert r.returncode == 1
    assert "layers-known.txt:2: src/vmm/vmm_int.h no longer includes" \
        in r.stderr


def test_unknown_folder_fails(tmp_path):
    files = dict(BASE)
    files["vstate/kvm.c"] = '#include "util/buf.h"\n'
    r = run(make_tree(tmp_path, files))
    assert r.returncode == 1
    assert "src/vstate/ is not in DESIGN.md's layer table" in r.stderr


def test_missing_header_fails(tmp_path):
    files = dict(BASE)
    files["vmm/x.c"] = '#include "vmm/nope.h"\n'
    r = run(make_tree(tmp_path, files))
    assert r.returncode == 1
    assert 'names no file under src/' in r.stderr


def test_same_folder_and_relative_includes_pass(tmp_path):
    files = dict(BASE)
    files["devices/virtio/queue.h"] = '#include "vmm/guest_mem.h"\n'
    files["vmm/guest_mem.h"] = "\n"
    files["devices/virtio/block.c"] = '#include "queue.h"\n'
    r = run(make_tree(tmp_path, files))
    assert r.returncode == 0, r.stderr


def test_find_cycles():
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.find_cycles({"a": {"b"}, "b": {"c"}}) == []
    assert mod.find_cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
    # The layer table itself has no cycle.
    assert mod.find_cycles(mod.USES) == []
