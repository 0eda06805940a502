"""The firecracker-compatible command line of build/squib, run for real.

Help, version and argument errors end the process at once, so those tests
check exit codes and the exact stdout/stderr. Tests of flags that let
startup continue (--log-path, --metrics-path, ...) only wait for the effect
they check and then stop the process, so they hold whatever squib does
after startup (serving the API on the --api-sock given here).
"""
import os
import re
import signal
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("SQUIB_BUILD", os.path.join(ROOT, "build"))
SQUIB = os.path.join(BUILD, "squib")

TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}"
HINT = r" \n\nFor more information try --help."  # literal backslashes, as upstream

# upstream's arguments with their help strings and defaults, in help order
ARGS = [
    ("api-sock", True, "Path to unix domain socket used by the API.", "/run/firecracker.socket"),
    ("boot-timer", False, "Whether or not to load boot timer device for logging elapsed time "
     "since InstanceStart command.", None),
    ("config-file", True, "Path to a file that contains the microVM configuration in JSON format.", None),
    ("describe-snapshot", True, "Print the data format version of the provided snapshot state file.", None),
    ("enable-pci", False, "Enables PCIe support.", None),
    ("help", False, "Show the help message.", None),
    ("http-api-max-payload-size", True, "Http API request payload max size, in bytes.", "51200"),
    ("id", True, "MicroVM unique identifier.", "anonymous-instance"),
    ("level", True, "Set the logger level.", None),
    ("log-path", True, "Path to a fifo or a file used for configuring the logger on startup.", None),
    ("metadata", True, "Path to a file that contains metadata in JSON format to add to the mmds.", None),
    ("metrics-path", True, "Path to a fifo or a file used for configuring the metrics on startup.", None),
    ("mmds-size-limit", True, "Mmds data store limit, in bytes.", None),
    ("module", True, "Set the logger module filter.", None),
    ("no-api", False, "Optional parameter which allows starting and using a microVM without an "
     "active API socket.", None),
    ("no-seccomp", False, "Optional parameter which allows starting and using a microVM without "
     "seccomp filtering. Not recommended.", None),
    ("parent-cpu-time-us", True, "Parent process CPU time (wall clock, microseconds). This "
     "parameter is optional.", None),
    ("seccomp-filter", True, "Optional parameter which allows specifying the path to a custom "
     "seccomp filter. For advanced users.", None),
    ("show-level", False, "Whether or not to output the level in the logs.", None),
    ("show-log-origin", False, "Whether or not to include the file path and line number of the "
     "log's origin.", None),
    ("snapshot-version", False, "Print the supported data format version.", None),
    ("start-time-cpu-us", True, "Process start CPU time (wall clock, microseconds). This "
     "parameter is optional.", None),
    ("start-time-us", True, "Process start time (wall clock, microseconds). This parameter is "
     "optional.", None),
    ("version", False, "Print the binary version number.", None),
]


def expected_help():
    names = ["  --%s <%s>" % (n, n) if v else "  --%s" % n for n, v, _, _ in ARGS]
    width = max(len(x) for x in names)
    lines = ["optional arguments:"]
    for name, (_, _, text, default) in zip(names, ARGS):
        line = name.ljust(width) + "   " + text
        if default is not None:
            line += ' [default: "%s"]' % default
        lines.append(line)
    return "\n".join(lines)


def run(args, timeout=10):
    return subprocess.run([SQUIB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def log_lines(text):
    """Split log output into (id, thread, rest) after checking the prefix."""
    out = []
    for line in text.splitlines():
        m = re.match(TS + r" \[([^:\]]+):([^:\]]+)(.*?)\] (.*)$", line)
        assert m, "not a log line: %r" % line
        out.append(m.groups())
    return out


def test_help_exact():
    for flags in (["--help"], ["-h"], ["--bogus", "--help"], ["--id", "-h"]):
        p = run(flags)
        assert p.returncode == 0
        assert p.stderr == b""
        out = p.stdout.decode()
        head = "Firecracker v1.17.0-dev\n\n" + expected_help() + "\n"
        assert out.startswith(head)
        rest = log_lines(out[len(head):])
        assert rest == [("anonymous-instance", "main", "",
                         "Firecracker exiting successfully. exit_code=0")]


def test_version():
    p = run(["--version"])
    assert p.returncode == 0
    # Upstream's bytes exactly, then its exit log line on the stdout logger.
    assert p.stdout.startswith(b"Firecracker v1.17.0-dev\n\n")
    assert log_lines(p.stdout[len(b"Firecracker v1.17.0-dev\n\n"):].decode()) == [
        ("anonymous-instance", "main", "", "Firecracker exiting successfully. exit_code=0")]
    # --help wins over --version
    assert run(["--version", "--help"]).stdout.decode().count("optional arguments:") == 1


def test_squib_version():
    """squib's own version: its flag prints one line and nothing else."""
    p = run(["--squib-version"])
    assert (p.returncode, p.stdout, p.stderr) == (0, b"squib v0.1.0\n", b"")
    assert run(["--squib-version", "--version"]).stdout.startswith(b"Firecracker v1.17.0-dev\n\n")


def test_snapshot_version():
    p = run(["--snapshot-version"])
    assert p.returncode == 0
    assert p.stdout.decode().startswith("v11.0.0\n")


@pytest.mark.parametrize("args,code,message,debug", [
    (["foo"], 153,
     "Arguments parsing error: Found argument 'foo' which wasn't expected, or isn't valid in "
     "this context." + HINT, 'ParseArguments(UnexpectedArgument("foo"))'),
    (["--api-sock=/x"], 153,
     "Arguments parsing error: Found argument 'api-sock=/x' which wasn't expected, or isn't "
     "valid in this context." + HINT, 'ParseArguments(UnexpectedArgument("api-sock=/x"))'),
    (["--id"], 153,
     "Arguments parsing error: The argument 'id' requires a value, but none was supplied." + HINT,
     'ParseArguments(MissingValue("id"))'),
    (["--level", "info", "--level", "debug"], 153,
     "Arguments parsing error: The argument 'level' was provided more than once." + HINT,
     'ParseArguments(DuplicateArgument("level"))'),
    (["--no-api"], 153,
     "Arguments parsing error: Argument 'config-file' required, but not found." + HINT,
     'ParseArguments(MissingArgument("config-file"))'),
    (["--no-seccomp", "--seccomp-filter", "x"], 153,
     "Arguments parsing error: Argument 'seccomp-filter' cannot be used together with "
     "argument 'no-seccomp'." + HINT,
     'ParseArguments(ForbiddenArgument("no-seccomp", "seccomp-filter"))'),
    (["--level", "loud"], 152,
     "Invalid value for logger level: Failed to parse string to level filter: loud.Possible "
     "values: [Error, Warning, Info, Debug]",
     'InvalidLogLevel(LevelFilterFromStrError("loud"))'),
    (["--id", "my_vm"], 1, "Invalid instance ID: InvalidChar('_', 2)",
     "Invalid instance ID: InvalidChar('_', 2)"),
    (["--http-api-max-payload-size", "1k"], 1,
     "'http-api-max-payload-size' parameter expected to be of 'usize' type.: ParseIntError "
     "{ kind: InvalidDigit }",
     "'http-api-max-payload-size' parameter expected to be of 'usize' type.: ParseIntError "
     "{ kind: InvalidDigit }"),
    (["--describe-snapshot", "/nonexistent-dir/snap"], 1,
     "When printing Snapshot Data format: Unable to open snapshot state file: No such file or "
     "directory (os error 2)",
     'PrintSnapshotDataFormat(OpenSnapshot(Os { code: 2, kind: NotFound, message: "No such '
     'file or directory" }))'),
])
def test_errors(args, code, message, debug):
    p = run(args)
    assert p.returncode == code
    assert p.stderr.decode() == "Error: %s\n" % debug
    assert log_lines(p.stdout.decode()) == [
        ("anonymous-instance", "main", "", message),
        ("anonymous-instance", "main", "", "Firecracker exiting with error. exit_code=%d" % code),
    ]


# Alphanumeric for Rust's char::is_alphanumeric (upstream's --id rule) but
# not for the C library's iswalnum: U+00B2, U+00B9, U+00BD, U+2160, U+2460.
@pytest.mark.parametrize("vm_id", ["a\u00b2", "\u00b9", "x\u00bd-1", "\u2160", "vm-\u2460"])
def test_id_rust_alphanumeric(squib_factory, vm_id):
    s = squib_factory(["--id", vm_id])
    r = s.client().get("/")
    assert r.status == 200
    assert r.json()["id"] == vm_id
    assert "[%s:main] Running Firecracker v1.17.0-dev" % vm_id in s.logs()


# Upstream's env::args() panics on an argument that is not UTF-8, before it
# parses anything; squib reports the panic's message and exits 1.
@pytest.mark.parametrize("args, shown", [
    ([b"--id", b"a\xff" b"b"], r'"a\xFFb"'),
    ([b"--help", b"--api-sock", b"/tmp/s\xed\xa0\x80"], r'"/tmp/s\xED\xA0\x80"'),
])
def test_argument_not_utf8(args, shown):
    p = run(args)
    message = "called `Result::unwrap()` on an `Err` value: " + shown
    assert p.returncode == 1
    assert p.stderr.decode() == "Error: %s\n" % message
    assert log_lines(p.stdout.decode()) == [
        ("anonymous-instance", "main", "", message),
        ("anonymous-instance", "main", "", "Firecracker exiting with error. exit_code=1"),
    ]


def test_log_path_bad():
    p = run(["--log-path", "/nonexistent-dir/log"])
    assert p.returncode == 1
    assert p.stderr.decode() == (
        'Error: LoggerInitialization(LoggerUpdateError(Os { code: 2, kind: NotFound, message: '
        '"No such file or directory" }))\n')
    assert log_lines(p.stdout.decode())[0][3] == (
        "Could not initialize logger: Failed to open target file: No such file or directory "
        "(os error 2)")


def test_metrics_path_bad():
    p = run(["--metrics-path", "/nonexistent-dir/metrics"])
    assert p.returncode == 1
    assert p.stderr.decode() == ('Error: MetricsInitialization(InitializationFailure("No such '
                                 'file or directory (os error 2)"))\n')
    assert [x[3] for x in log_lines(p.stdout.decode())] == [
        "Running Firecracker v1.17.0-dev",
        "Could not initialize metrics: Cannot initialize the metrics system due to bad user "
        "input: No such file or directory (os error 2)",
        "Firecracker exiting with error. exit_code=1"]


class Started:
    """squib started with extra args; stopped on exit."""

    def __init__(self, tmp_path, args):
        self.sock = str(tmp_path / "api.sock")
        self.proc = subprocess.Popen([SQUIB, "--api-sock", self.sock] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, cwd=str(tmp_path))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.communicate()


def wait_for(pred, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def file_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return ""


def test_log_path_level_origin(tmp_path):
    log = tmp_path / "fc.log"
    with Started(tmp_path, ["--log-path", str(log), "--level", "Debug", "--show-level",
                            "--show-log-origin", "--id", "vm-1"]) as s:
        assert wait_for(lambda: "Running Firecracker" in file_text(log)), file_text(log)
        first = log_lines(file_text(log))[0]
        assert first[0] == "vm-1" and first[1] == "main"
        assert re.match(r"^:INFO:src/[a-z_/]+\.c:\d+$", first[2]), first
        assert first[3] == "Running Firecracker v1.17.0-dev"
        # nothing went to stdout once the target was set
        s.proc.kill()
        out, _ = s.proc.communicate()
        assert b"Running Firecracker" not in out


def test_log_path_existing_file_not_truncated(tmp_path):
    log = tmp_path / "fc.log"
    log.write_bytes(b"Z" * 4000)
    with Started(tmp_path, ["--log-path", str(log)]):
        assert wait_for(lambda: "Running Firecracker" in file_text(log))
        text = file_text(log)
        # written from offset 0, over the old bytes, without truncating them
        assert len(text) == 4000
        assert re.match(TS + r" \[anonymous-instance:main\] Running Firecracker v1.17.0-dev\n", text)
        assert text.endswith("ZZZZ")


def test_log_path_fifo(tmp_path):
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        with Started(tmp_path, ["--log-path", str(fifo)]) as s:
            data = b""

            def got_line():
                nonlocal data
                try:
                    data += os.read(fd, 65536)
                except BlockingIOError:
                    pass
                return b"Running Firecracker" in data
            assert wait_for(got_line), s.proc.poll()
            assert re.match(TS.encode() + rb" \[anonymous-instance:main\] Running Firecracker", data)
    finally:
        os.close(fd)


def test_log_path_fifo_without_reader(tmp_path):
    # Nobody ever reads: opening and writing must not hold up startup, which
    # goes on to initialise the metrics.
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    m = tmp_path / "metrics.json"
    with Started(tmp_path, ["--log-path", str(fifo), "--metrics-path", str(m)]):
        assert wait_for(m.exists)


def test_module_filter(tmp_path):
    log = tmp_path / "fc.log"
    # squib's module path of the startup line is "cli" (src/cli.c)
    with Started(tmp_path, ["--log-path", str(log), "--module", "cli"]):
        assert wait_for(lambda: "Running Firecracker" in file_text(log))
    log2 = tmp_path / "fc2.log"
    with Started(tmp_path, ["--log-path", str(log2), "--module", "vmm::nothing",
                            "--level", "Off"]) as s:
        assert wait_for(lambda: log2.exists())
        time.sleep(0.2)
        assert "Running Firecracker" not in file_text(log2)
        s.proc.kill()


def test_metrics_path_created(tmp_path):
    m = tmp_path / "metrics.json"
    with Started(tmp_path, ["--metrics-path", str(m)]):
        assert wait_for(m.exists)
