#!/usr/bin/env python3
"""Fail on C library calls squib must not make (make layers).

    scripts/check-banned.py [--root DIR]

Each call below is named with the reason; a call in a comment or a string is
ignored. The reasons are seccomp reasons: every thread runs under a filter
that allows only what upstream's VMM does, so a libc call that makes a
hidden system call ends the VMM ("bad syscall", exit 148) the first time it
takes that path on a real guest.

Exit status: 0 clean, 1 a banned call found, 2 usage errors.
"""
import argparse
import os
import re
import sys

BANNED = {
    "qsort": "glibc's qsort calls sysinfo(2) for arrays over 1 KiB; "
             "use sq_sort (util/sort.h)",
    "qsort_r": "as qsort; use sq_sort (util/sort.h)",
}

CALL = re.compile(r"\b(" + "|".join(sorted(BANNED, key=len, reverse=True))
                  + r")\s*\(")
COMMENT_OR_STRING = re.compile(
    r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def blank(match):
    """Keep newlines so that line numbers stay right."""
    return re.sub(r"[^\n]", " ", match.group(0))


def scan(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = COMMENT_OR_STRING.sub(blank, f.read())
    for m in CALL.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=ROOT)
    args = ap.parse_args()
    src = os.path.join(args.root, "src")
    if not os.path.isdir(src):
        print("check-banned: no src/ under %s" % args.root, file=sys.stderr)
        return 2
    found = 0
    for d, _, files in sorted(os.walk(src)):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(d, name)
            for line, call in scan(path):
                print("%s:%d: %s(): %s" % (os.path.relpath(path, args.root),
                                           line, call, BANNED[call]))
                found += 1
    if found:
        print("check-banned: %d banned call(s)" % found, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
