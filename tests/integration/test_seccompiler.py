"""build/seccompiler-bin (docs/tools.md): upstream's filter compiler, whose
output squib's --seccomp-filter loads.

The built-in lists exported as JSON (build/seccomp-defaults) compile to the
very bytes `seccomp-defaults --compiled` writes, and squib serves under
them; a compiled deny-list takes effect on its thread kind (squib dies with
148 on the denied syscall, as upstream does on a bad syscall); bad input
gets upstream's `Error: {Debug}` line, exit 1 and no output file; the
command line is upstream's clap definition.
"""
import json
import os
import subprocess

import pytest

from conftest import BUILD
from test_seccomp import deny_list, dies_on_first_connection

SECCOMPILER = os.path.join(BUILD, "seccompiler-bin")
DEFAULTS = os.path.join(BUILD, "seccomp-defaults")


def run(*argv, cwd=None):
    return subprocess.run(list(argv), capture_output=True, cwd=cwd,
                          timeout=60)


def compile_doc(tmp_path, doc, *extra, out="filter.bpf"):
    src = tmp_path / "filter.json"
    src.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    dst = tmp_path / out
    r = run(SECCOMPILER, "--target-arch", "x86_64", "--input-file", str(src),
            "--output-file", str(dst), *extra)
    return r, dst


def leftovers(tmp_path):
    return sorted(n for n in os.listdir(tmp_path) if n != "filter.json")


@pytest.fixture(scope="module")
def defaults_json():
    r = run(DEFAULTS)
    assert r.returncode == 0
    return r.stdout.decode()


def test_defaults_compile_to_the_exported_compiled_file(tmp_path, defaults_json):
    r, dst = compile_doc(tmp_path, defaults_json)
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    compiled = run(DEFAULTS, "--compiled")
    assert compiled.returncode == 0
    assert dst.read_bytes() == compiled.stdout
    assert leftovers(tmp_path) == ["filter.bpf"]


def test_default_output_name(tmp_path, defaults_json):
    (tmp_path / "in.json").write_text(defaults_json)
    r = run(SECCOMPILER, "-t=x86_64", "-iin.json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "seccomp_binary_filter.out").stat().st_size > 0
    mask = os.umask(0)
    os.umask(mask)
    mode = (tmp_path / "seccomp_binary_filter.out").stat().st_mode & 0o777
    assert mode == 0o666 & ~mask


def test_squib_serves_under_the_compiled_defaults(squib_factory, tmp_path,
                                                   defaults_json):
    r, dst = compile_doc(tmp_path, defaults_json)
    assert r.returncode == 0
    s = squib_factory(args=("--seccomp-filter", str(dst)))
    api = s.client()
    for _ in range(3):
        assert api.get("/").status == 200
    r = api.put("/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    assert r.status == 204, r.raw
    assert s.proc.poll() is None
    assert "bad syscall" not in s.output()


def test_compiled_deny_list_kills_squib_on_its_thread(squib_factory, tmp_path):
    # accept4 denied to the api thread: squib starts and dies on the first
    # connection it accepts, with exit 148 and upstream's log line.
    r, dst = compile_doc(tmp_path, deny_list(api_rules=["accept4"]))
    assert r.returncode == 0, r.stderr
    dies_on_first_connection(squib_factory, str(dst))


def test_basic_drops_argument_conditions(tmp_path):
    cond = {"index": 0, "type": "dword", "op": "eq", "val": 3}
    with_args = deny_list(api_rules=["close"])
    with_args["api"]["filter"][0]["args"] = [cond]
    r, basic = compile_doc(tmp_path, with_args, "--basic", out="basic.bpf")
    assert r.returncode == 0, r.stderr
    r, plain = compile_doc(tmp_path, deny_list(api_rules=["close"]),
                           out="plain.bpf")
    assert r.returncode == 0
    r, full = compile_doc(tmp_path, with_args, out="full.bpf")
    assert r.returncode == 0
    assert basic.read_bytes() == plain.read_bytes()
    assert full.read_bytes() != plain.read_bytes()


def test_split_output(tmp_path, defaults_json):
    r, dst = compile_doc(tmp_path, defaults_json, "--split-output")
    assert r.returncode == 0, r.stderr
    assert leftovers(tmp_path) == ["api.bpf", "vcpu.bpf", "vmm.bpf"]
    for name in ("api.bpf", "vcpu.bpf", "vmm.bpf"):
        size = (tmp_path / name).stat().st_size
        assert size > 0 and size % 8 == 0
        # Every program starts by loading the audit architecture.
        assert (tmp_path / name).read_bytes()[:8] == bytes(
            [0x20, 0, 0, 0, 4, 0, 0, 0])


@pytest.mark.parametrize("doc,extra,stderr", [
    ("{", (), 'Error: JsonDeserialize(Error("EOF while parsing an object", '
     'line: 1, column: 1))\n'),
    ("", (), 'Error: JsonDeserialize(Error("EOF while parsing a value", '
     'line: 1, column: 0))\n'),
    # squib's own check: the three categories (upstream's seccompiler takes
    # any, and Firecracker refuses the file when it loads it).
    ('{"vmm": 1}', (), 'Error: JsonDeserialize(Error("Missing thread '
     'category: api", line: 0, column: 0))\n'),
    (json.dumps(deny_list(api_rules=["nosuchcall"])), (),
     'seccompiler-bin: api: filter[0]: unknown syscall "nosuchcall" on '
     'x86_64\nError: LibSeccompSycall\n'),
    (json.dumps(deny_list()), ("--target-arch", "arm"),
     'Error: ArchParse("arm")\n'),
    (json.dumps(deny_list()), ("--target-arch", "aarch64"),
     'seccompiler-bin: squib compiles filters for x86_64 only\n'
     'Error: ArchParse("aarch64")\n'),
    # The JSON is looked at before the architecture, as upstream.
    ("[", ("--target-arch", "arm"), 'Error: JsonDeserialize(Error("EOF '
     'while parsing a list", line: 1, column: 1))\n'),
])
def test_errors_leave_no_file(tmp_path, doc, extra, stderr):
    src = tmp_path / "filter.json"
    src.write_text(doc)
    argv = ["--target-arch", "x86_64", "--input-file", str(src),
            "--output-file", str(tmp_path / "out.bpf")]
    if extra:
        argv[0:2] = extra
    r = run(SECCOMPILER, *argv)
    assert r.returncode == 1
    assert r.stdout == b""
    assert r.stderr.decode() == stderr
    assert leftovers(tmp_path) == []


def test_input_errors(tmp_path):
    r = run(SECCOMPILER, "-t", "x86_64", "-i", str(tmp_path / "none"),
            "-o", str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr == (b'Error: IntputOpen(Os { code: 2, kind: NotFound, '
                        b'message: "No such file or directory" })\n')
    r = run(SECCOMPILER, "-t", "x86_64", "-i", str(tmp_path),
            "-o", str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr == (b'Error: InputRead(Os { code: 21, kind: IsADirectory, '
                        b'message: "Is a directory" })\n')
    (tmp_path / "latin1.json").write_bytes(b'{"vmm": "\xe9"}')
    r = run(SECCOMPILER, "-t", "x86_64", "-i", str(tmp_path / "latin1.json"),
            "-o", str(tmp_path / "out"))
    assert r.returncode == 1
    assert r.stderr == (b'Error: InputRead(Custom { kind: InvalidData, error: '
                        b'"stream did not contain valid UTF-8" })\n')
    assert not os.path.exists(tmp_path / "out")


def test_output_error(tmp_path, defaults_json):
    r, _ = compile_doc(tmp_path, defaults_json, out="no/such/dir/out.bpf")
    assert r.returncode == 1
    assert r.stderr == (b'Error: OutputCreate(Os { code: 2, kind: NotFound, '
                        b'message: "No such file or directory" })\n')


HELP = """Usage: seccompiler-bin [OPTIONS] --target-arch <TARGET_ARCH> --input-file <INPUT_FILE>

Options:
  -t, --target-arch <TARGET_ARCH>  The computer architecture where the BPF program runs. Supported architectures: x86_64, aarch64.
  -i, --input-file <INPUT_FILE>    File path of the JSON input.
  -o, --output-file <OUTPUT_FILE>  Optional path of the output file. [default: seccomp_binary_filter.out]
  -b, --basic                      Deprecated! Transforms the filters into basic filters. Drops all argument checks and rule-level actions. Not recommended.
      --split-output               Output individual BPF files for each thread instead of a single combined file. Used for testing purposes.
  -h, --help                       Print help
  -V, --version                    Print version
"""

TRY = "\n\nFor more information, try '--help'.\n"
USAGE = "Usage: seccompiler-bin [OPTIONS] --target-arch <TARGET_ARCH> --input-file <INPUT_FILE>"


def test_help_and_version():
    for argv in (["--help"], ["-h"], ["-t", "x", "--help"]):
        r = run(SECCOMPILER, *argv)
        assert (r.returncode, r.stdout.decode(), r.stderr) == (0, HELP, b"")
    for argv in (["--version"], ["-V"]):
        r = run(SECCOMPILER, *argv)
        assert (r.returncode, r.stdout) == (0, b"seccompiler v1.17.0-dev\n")


@pytest.mark.parametrize("argv,stderr", [
    ([], "error: the following required arguments were not provided:\n"
     "  --target-arch <TARGET_ARCH>\n  --input-file <INPUT_FILE>\n\n"
     "Usage: seccompiler-bin --target-arch <TARGET_ARCH> --input-file "
     "<INPUT_FILE>" + TRY),
    (["-t", "x86_64", "--basic"],
     "error: the following required arguments were not provided:\n"
     "  --input-file <INPUT_FILE>\n\n"
     "Usage: seccompiler-bin --target-arch <TARGET_ARCH> --input-file "
     "<INPUT_FILE> --basic" + TRY),
    (["--foo"], "error: unexpected argument '--foo' found\n\n" + USAGE + TRY),
    (["-t", "a", "-t", "b"], "error: the argument '--target-arch "
     "<TARGET_ARCH>' cannot be used multiple times\n\n" + USAGE + TRY),
    (["-i"], "error: a value is required for '--input-file <INPUT_FILE>' "
     "but none was supplied" + TRY),
])
def test_argument_errors(argv, stderr):
    r = run(SECCOMPILER, *argv)
    assert (r.returncode, r.stdout, r.stderr.decode()) == (2, b"", stderr)
