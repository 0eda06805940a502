"""Tests of scripts/check-man.py on fake binaries and pages (make layers).

The fake binaries are small shell scripts that print a help text for given
arguments, so each case states exactly what the binary knows.
"""
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                      "scripts", "check-man.py")

HELP = """Tool v1.0

optional arguments:
  --api-sock <api-sock>   Path to the socket. [default: "/run/x.socket"]
  --no-api                No API.
  --help                  Show the help message.
"""

SECTIONS = """.SH NAME
tool \\- a tool
.SH SYNOPSIS
.B tool
.SH DESCRIPTION
Does things; \\-\\- alone is a separator, not an option.
.SH OPTIONS
%s
.SH EXIT STATUS
0
.SH "SEE ALSO"
.BR other (1)
"""

GOOD_OPTS = """.TP
.BI \\-\\-api\\-sock " path"
.TP
.B \\-\\-no-api
.TP
.B \\-\\-help
"""


def fake_bin(d, name, cases, default_rc=2):
    """d/bin/name: prints cases[args] for the exact argument string."""
    bindir = d / "bin"
    bindir.mkdir(exist_ok=True)
    lines = ["#!/bin/sh", 'case "$*" in']
    for args, (text, rc) in cases.items():
        lines.append("'%s') cat <<'EOF'\n%sEOF\nexit %d ;;" % (args, text, rc))
    lines.append("*) echo \"unknown: $*\" >&2; exit %d ;;" % default_rc)
    lines.append("esac")
    p = bindir / name
    p.write_text("\n".join(lines) + "\n")
    p.chmod(0o755)
    return p


def page(d, name, text):
    mandir = d / "man"
    mandir.mkdir(exist_ok=True)
    (mandir / (name + ".1")).write_text(text)


def run(d, *names):
    return subprocess.run([sys.executable, SCRIPT, "--bin-dir",
                           str(d / "bin"), "--man-dir", str(d / "man")] +
                          list(names), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)


def test_matching_page_passes(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS)
    r = run(tmp_path, "tool")
    assert r.returncode == 0, r.stderr
    assert "tool" in r.stdout


def test_option_missing_from_page_names_binary_and_option(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS.replace(
        ".B \\-\\-no-api\n", ""))
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "tool: option --no-api is in its help but not in" in r.stderr


def test_option_unknown_to_binary_fails(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", SECTIONS % (GOOD_OPTS + ".B \\-\\-gone\\-away\n"))
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "names --gone-away, which the binary's help does not know" \
        in r.stderr


def test_roff_comments_are_not_page_text(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool",
         '.\\" once had \\-\\-old\n' + SECTIONS % GOOD_OPTS)
    assert run(tmp_path, "tool").returncode == 0


def test_examples_may_show_other_programs_options(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    example = ".SH EXAMPLES\ncurl \\-\\-unix\\-socket /run/x.sock\n"
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS + example)
    assert run(tmp_path, "tool").returncode == 0
    # The same text anywhere else is an option the binary does not know.
    page(tmp_path, "tool", SECTIONS % (GOOD_OPTS + example[13:]))
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "names --unix-socket" in r.stderr


def test_missing_page_or_binary_fails(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    fake_bin(tmp_path, "other", {"--help": (HELP, 0)})
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS)
    r = run(tmp_path, "tool", "other", "absent")
    assert r.returncode == 1
    assert "other: has no man page" in r.stderr
    assert "absent: no executable" in r.stderr
    assert "tool:" not in r.stderr


def test_without_names_checks_every_binary_but_links(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS)
    os.symlink("tool", tmp_path / "bin" / "alias")
    (tmp_path / "bin" / "notes.txt").write_text("not a binary\n")
    r = run(tmp_path)
    assert r.returncode == 0, r.stderr
    fake_bin(tmp_path, "second", {"--help": (HELP, 0)})
    r = run(tmp_path)
    assert r.returncode == 1
    assert "second: has no man page" in r.stderr


def test_subcommand_help_invocations(tmp_path):
    sub = "Dump a template.\n\nOptions:\n  --output <output>  Where.\n"
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0),
                                "template dump --help": (sub, 0)})
    text = '.\\" help: template dump --help\n' + SECTIONS % GOOD_OPTS
    page(tmp_path, "tool", text)
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "option --output is in its help" in r.stderr
    page(tmp_path, "tool", text + ".B \\-\\-output\n")
    r = run(tmp_path, "tool")
    assert r.returncode == 0, r.stderr


def test_failing_invocation_fails_and_names_it(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", '.\\" help: nosuch --help\n' +
         SECTIONS % GOOD_OPTS)
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "tool: `tool nosuch --help` exited 2" in r.stderr


def test_empty_help_fails(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": ("", 0)})
    page(tmp_path, "tool", SECTIONS % GOOD_OPTS)
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "printed nothing" in r.stderr


def test_hidden_option(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    opts = GOOD_OPTS + ".B \\-\\-secret\n"
    page(tmp_path, "tool", SECTIONS % opts)
    assert run(tmp_path, "tool").returncode == 1
    page(tmp_path, "tool", '.\\" hidden-option: --secret\n' +
         SECTIONS % opts)
    r = run(tmp_path, "tool")
    assert r.returncode == 0, r.stderr
    # Declared hidden but printed by --help, or declared and not described.
    page(tmp_path, "tool", '.\\" hidden-option: --no-api --other\n' +
         SECTIONS % opts)
    r = run(tmp_path, "tool")
    assert "--no-api is declared hidden-option" in r.stderr
    assert "hidden option --other is not described" in r.stderr


def test_required_sections(tmp_path):
    fake_bin(tmp_path, "tool", {"--help": (HELP, 0)})
    page(tmp_path, "tool", (SECTIONS % GOOD_OPTS).replace(
        ".SH EXIT STATUS", ".SH RETURN"))
    r = run(tmp_path, "tool")
    assert r.returncode == 1
    assert "has no section EXIT STATUS" in r.stderr


def test_no_binaries_is_a_usage_error(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "man").mkdir()
    assert run(tmp_path).returncode == 2
