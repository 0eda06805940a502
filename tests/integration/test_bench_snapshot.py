"""bench/snapshot/run.py end to end, squib only, one small guest: every
figure of the table is filled (never an error). No test looks at a time."""
import os
import re
import subprocess
import sys

import pytest

from test_boot_guest import kvm_skip_reason

pytestmark = pytest.mark.skipif(kvm_skip_reason() is not None,
                                reason=str(kvm_skip_reason()))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_run_py_prints_squib_figures():
    env = dict(os.environ)
    env.setdefault("SQUIB_BUILD", os.path.join(ROOT, "build"))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "snapshot", "run.py"),
                        "--vmm", "squib", "--mem", "64", "--runs", "1", "--clones", "2"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=300)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    for label in ("create (squib Full, fsync incl.) / migrate",
                  "load File: answer / cont returned", "load File: first counter line",
                  "load Uffd: answer / cont returned", "load Uffd: first counter line",
                  "load File, up 100 ms: answer / cont returned",
                  "load File, up 100 ms: first counter line"):
        m = re.search(r"^\s*" + re.escape(label) + r"\s+([\d.]+)\s+-\s+-$", out, re.M)
        assert m and float(m.group(1)) > 0, (label, out)
    vmm = re.findall(r"squib vmm thread \(log\)\s+([\d.]+)", out)
    assert len(vmm) == 4, out  # create, File load, Uffd load, File load up 100 ms
    assert "squib state" in out and "memory 64 MiB" in out, out
    clones = re.search(r"sum of Pss, MiB\s+(\d+)\s+-", out)
    assert clones and int(clones.group(1)) > 0, out
