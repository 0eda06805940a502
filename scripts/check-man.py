#!/usr/bin/env python3
"""Check man pages against the binaries they describe (docs/install.md).

    check-man.py --bin-dir DIR --man-dir DIR [NAME...]

For every NAME (default: every executable regular file in --bin-dir; symbolic
links are aliases and are skipped), <man-dir>/<NAME>.1 must exist and have the
sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS and SEE ALSO. The
binary's long options are every `--option` printed by `<bin> --help` and by
each extra invocation the page lists at its top as a roff comment:

    .\\" help: template dump --help

(each such line runs `<bin> template dump --help`). Every invocation must exit
0. Then, both ways:
  - every long option the binary prints appears in the page as `\\-\\-option`
    (hyphens inside the name may be written `-` or `\\-`);
  - every `\\-\\-option` in the page (roff comments aside) is one the binary
    prints, or one the page declares as accepted but not in --help with
        .\\" hidden-option: --option
Each problem is printed as `<name>: ...` naming the binary and the option;
the exit status is 1 if there was any, 2 on a usage error.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS",
            "SEE ALSO")
HELP_OPT = re.compile(r"(?<![\w-])--([A-Za-z0-9][A-Za-z0-9_-]*)")
PAGE_OPT = re.compile(r"\\-\\-((?:[A-Za-z0-9_]|\\-|-)+)")
# Examples show other programs' command lines (curl --unix-socket ...).
EXAMPLE_SECTIONS = ("EXAMPLE", "EXAMPLES")
HELP_LINE = re.compile(r'^\.\\"\s*help:\s*(.*)$')
HIDDEN_LINE = re.compile(r'^\.\\"\s*hidden-option:\s*(.*)$')
TIMEOUT = 20


def page_name(opt):
    """`api\\-sock` or `api-sock` as written in roff -> `api-sock`."""
    return opt.replace("\\-", "-").rstrip("-")


def read_page(path):
    """(options named in the page text, help invocations, hidden options,
    section names) of one roff page."""
    invocations, hidden, sections, opts = [], set(), set(), set()
    section = ""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for line in lines:
        m = HELP_LINE.match(line)
        if m:
            invocations.append(shlex.split(m.group(1)))
            continue
        m = HIDDEN_LINE.match(line)
        if m:
            for word in m.group(1).split():
                hidden.add(word.lstrip("-"))
            continue
        if line.startswith('.\\"') or line.startswith("'\\\""):
            continue
        if line.startswith(".SH"):
            section = line[3:].strip().strip('"').upper()
            sections.add(section)
        if section in EXAMPLE_SECTIONS:
            continue
        for m in PAGE_OPT.finditer(line):
            name = page_name(m.group(1))
            if name:
                opts.add(name)
    return opts, invocations, hidden, sections


def help_options(name, binary, args, problems):
    """The long options `binary args...` prints, or None if it failed."""
    cmd = [binary] + args
    shown = " ".join([name] + args)
    try:
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        problems.append("%s: `%s` could not run: %s" % (name, shown, e))
        return None
    if res.returncode != 0:
        problems.append("%s: `%s` exited %d: %s" % (
            name, shown, res.returncode,
            res.stderr.decode(errors="replace").strip()[:200]))
        return None
    out = res.stdout.decode(errors="replace")
    if not out.strip():
        problems.append("%s: `%s` printed nothing" % (name, shown))
        return None
    return set(HELP_OPT.findall(out))


def check_binary(name, bin_dir, man_dir):
    """Every problem of one binary and its page, as lines."""
    problems = []
    binary = os.path.join(bin_dir, name)
    page = os.path.join(man_dir, name + ".1")
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        return ["%s: no executable %s" % (name, binary)]
    if not os.path.isfile(page):
        return ["%s: has no man page (expected %s)" % (name, page)]
    in_page, invocations, hidden, sections = read_page(page)
    for s in SECTIONS:
        if s not in sections:
            problems.append("%s: %s has no section %s" % (name, page, s))
    known = set()
    complete = True
    for args in [["--help"]] + invocations:
        opts = help_options(name, binary, args, problems)
        if opts is None:
            complete = False
        else:
            known |= opts
    for opt in sorted(known - in_page):
        problems.append("%s: option --%s is in its help but not in %s "
                        "(write it as \\-\\-%s)" % (name, opt, page, opt))
    for opt in sorted(hidden & known):
        problems.append("%s: option --%s is declared hidden-option in %s but "
                        "its help prints it" % (name, opt, page))
    for opt in sorted(hidden - in_page):
        problems.append("%s: hidden option --%s is not described in %s" %
                        (name, opt, page))
    if complete:
        for opt in sorted(in_page - known - hidden):
            problems.append("%s: %s names --%s, which the binary's help does "
                            "not know" % (name, page, opt))
    return problems


def binaries_in(bin_dir):
    names = []
    for entry in sorted(os.listdir(bin_dir)):
        path = os.path.join(bin_dir, entry)
        if os.path.islink(path):
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            names.append(entry)
    return names


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--man-dir", required=True)
    ap.add_argument("names", nargs="*",
                    help="binaries to check (default: all in --bin-dir)")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.bin_dir):
        print("check-man: %s is not a directory" % args.bin_dir,
              file=sys.stderr)
        return 2
    names = args.names or binaries_in(args.bin_dir)
    if not names:
        print("check-man: no binaries to check in %s" % args.bin_dir,
              file=sys.stderr)
        return 2
    problems = []
    for name in names:
        problems += check_binary(name, args.bin_dir, args.man_dir)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("check-man: %d problem(s)" % len(problems), file=sys.stderr)
        return 1
    print("check-man: %d binaries, man pages match their help: %s" %
          (len(names), " ".join(names)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
