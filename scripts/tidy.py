#!/usr/bin/env python3
"""Run clang-tidy (configured by .clang-tidy) over squib's sources.

    scripts/tidy.py [-j N] [--known FILE] [--write-known] SRC... -- FLAGS...

Each SRC is checked with the compiler FLAGS given after `--`, N files at a
time. Every report is reduced to "path: [check] message" (no line number, so
unrelated edits do not move it), and compared with the known list
(scripts/tidy-known.txt by default):

  - a report not in the list fails the run: fix it, or if it is a false
    positive that cannot be configured away, add its line to the list with a
    comment saying why;
  - a listed report that no longer occurs also fails the run: delete its line,
    so the list only shrinks;
  - a compiler error (clang-diagnostic-error) always fails.

--write-known rewrites the list from the current reports (then review the
diff). Exit status 0 when clean, 1 on findings, 2 on usage errors.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORT = re.compile(
    r"^(?P<path>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): "
    r"(?P<sev>warning|error): (?P<msg>.*?) \[(?P<check>[^\]]+)\]$")


def rel(path):
    path = os.path.normpath(os.path.join(ROOT, path))
    return os.path.relpath(path, ROOT)


def run_one(tidy, src, flags):
    proc = subprocess.run([tidy, "--quiet", src, "--"] + flags, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    return src, proc.returncode, proc.stdout


def load_known(path):
    known = {}
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            known[line.strip()] = n
    return known


def main():
    argv = sys.argv[1:]
    flags = []
    if "--" in argv:
        i = argv.index("--")
        argv, flags = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-j", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--clang-tidy", default=os.environ.get("CLANG_TIDY",
                                                           "clang-tidy"))
    ap.add_argument("--known", default=os.path.join(ROOT, "scripts",
                                                    "tidy-known.txt"))
    ap.add_argument("--write-known", action="store_true")
    ap.add_argument("srcs", nargs="+")
    args = ap.parse_args(argv)

    found = {}          # "path: [check] message" -> first "path:line"
    failed = []         # sources clang-tidy could not process
    with concurrent.futures.ThreadPoolExecutor(max(1, args.j)) as pool:
        jobs = [pool.submit(run_one, args.clang_tidy, s, flags)
                for s in args.srcs]
        for job in jobs:
            src, rc, out = job.result()
            got = False
            for line in out.splitlines():
                m = REPORT.match(line)
                if not m:
                    continue
                got = True
                check = m["check"].split(",")[0]
                if check.startswith("clang-diagnostic-error"):
                    failed.append(line)
                    continue
                key = f"{rel(m['path'])}: [{check}] {m['msg']}"
                found.setdefault(key, f"{rel(m['path'])}:{m['line']}")
            if rc != 0 and not got:
                failed.append(f"{src}: clang-tidy exited {rc}\n{out}")

    if failed:
        print("tidy: clang-tidy could not check some files:", file=sys.stderr)
        for f in failed:
            print("  " + f, file=sys.stderr)
        return 1

    if args.write_known:
        header = []
        if os.path.exists(args.known):
            with open(args.known, encoding="utf-8") as f:
                for line in f:
                    if not line.startswith("#"):
                        break
                    header.append(line)
        with open(args.known, "w", encoding="utf-8") as f:
            f.writelines(header)
            for key in sorted(found):
                f.write(key + "\n")
        print(f"tidy: wrote {len(found)} reports to {rel(args.known)}")
        return 0

    known = load_known(args.known)
    new = sorted(k for k in found if k not in known)
    gone = sorted((n, k) for k, n in known.items() if k not in found)
    for k in new:
        print(f"{found[k]}: new clang-tidy report: {k.split(': ', 1)[1]}",
              file=sys.stderr)
    for n, k in gone:
        print(f"{rel(args.known)}:{n}: listed report no longer occurs, "
              f"delete the line: {k}", file=sys.stderr)
    n_known = len(found) - len(new)
    print(f"tidy: {len(args.srcs)} files, {len(new)} new reports, "
          f"{n_known} known ({rel(args.known)}), {len(gone)} stale entries")
    return 1 if new or gone else 0


if __name__ == "__main__":
    sys.exit(main())
