#!/usr/bin/env python3
"""Write compile_commands.json (for clangd, clang-tidy and other tools) from
the compile commands the Makefile gives it, without building anything.

    scripts/compdb.py -o OUT --build DIR --cmd "CC FLAGS..." FILE... \
                      [--cmd "CC FLAGS..." FILE...]...

Each --cmd starts a group: the compiler and flags used for the files that
follow it. Every file gets "CMD -c FILE -o DIR/FILE.o", as make runs it.
"""
import json
import os
import shlex
import sys


def main(argv):
    out, build, groups = None, "build", []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-o", "--build", "--cmd") and i + 1 < len(argv):
            if a == "-o":
                out = argv[i + 1]
            elif a == "--build":
                build = argv[i + 1]
            else:
                groups.append((shlex.split(argv[i + 1]), []))
            i += 2
            continue
        if not groups or a.startswith("-"):
            print(__doc__, file=sys.stderr)
            return 2
        groups[-1][1].append(a)
        i += 1
    if out is None:
        print(__doc__, file=sys.stderr)
        return 2

    root = os.getcwd()
    entries, seen = [], set()
    for cmd, files in groups:
        for f in files:
            if f in seen:
                continue
            seen.add(f)
            obj = os.path.join(build, os.path.splitext(f)[0] + ".o")
            entries.append({
                "directory": root,
                "file": os.path.join(root, f),
                "arguments": cmd + ["-c", f, "-o", obj],
                "output": obj,
            })
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fp:
        json.dump(entries, fp, indent=1)
        fp.write("\n")
    os.replace(tmp, out)
    print(f"compdb: {len(entries)} entries in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
