"""Tests of scripts/check-banned.py on small fake trees (make layers)."""
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "scripts", "check-banned.py")


def run(tmp_path, files):
    for rel, text in files.items():
        p = tmp_path / "src" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return subprocess.run([sys.executable, SCRIPT, "--root", str(tmp_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)


def test_clean_tree_passes(tmp_path):
    r = run(tmp_path, {"util/a.c": "void f(void) { sq_sort(0, 0, 0, 0); }\n"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_qsort_call_fails_with_place_and_reason(tmp_path):
    r = run(tmp_path, {"vmm/b.c": "int x;\n\nvoid g(void)\n{\n"
                                  "    qsort (p, n, 4, cmp);\n}\n",
                       "vmm/c.h": "#define S(p) qsort_r(p, 1, 1, 0, 0)\n"})
    assert r.returncode == 1
    assert "src/vmm/b.c:5: qsort(): glibc's qsort calls sysinfo(2)" in r.stdout
    assert "src/vmm/c.h:1: qsort_r():" in r.stdout
    assert "2 banned call(s)" in r.stderr


def test_comments_strings_and_longer_names_are_ignored(tmp_path):
    r = run(tmp_path, {"obs/d.c": "/* not qsort(3) here,\n qsort( */\n"
                                  "// qsort(\n"
                                  "const char *s = \"qsort(\";\n"
                                  "void my_qsort(void); void h(void) "
                                  "{ my_qsort(); }\n"})
    assert r.returncode == 0, r.stdout


def test_no_src_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, SCRIPT, "--root", str(tmp_path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, check=False)
    assert r.returncode == 2
