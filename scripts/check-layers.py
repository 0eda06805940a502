#!/usr/bin/env python3
"""Check that src/'s #include "..." lines follow DESIGN.md's layers.

    scripts/check-layers.py [--root DIR] [--known FILE] [-v]

DESIGN.md ("Modules and their layers") says which folder of src/ may use
which. This reads every #include "..." in src/ (*.c and *.h), finds the
folder of the including file and of the included header, and fails on each
edge the table below does not allow, naming the file, the include and the
rule. Folders are the first path component under src/ (devices/virtio/mmio.h
is in devices); files directly in src/ (main.c, cli.c, cli.h) form the
folder "top", which may use everything and which nothing else may use.

Known violations are listed, one "file: include" a line, in
scripts/layers-known.txt: they are reported as known and do not fail the run,
but a listed line whose include no longer exists does fail it, so the list
can only shrink. A new folder fails until it is added to USES below.

Exit status: 0 clean (known violations allowed), 1 violations or stale list
entries, 2 usage or setup errors.
"""
import argparse
import os
import re
import sys

# Folder -> the folders it may include (DESIGN.md). Keep in step with the
# table there.
USES = {
    "util": set(),
    "obs": {"util"},
    "config": {"util"},
    "mmds": {"config", "util"},
    "devices": {"obs", "util"},
    "vmm": {"config", "devices", "mmds", "obs", "util"},
    "snapshot": {"vmm", "devices", "config", "obs", "util"},
    "api": {"config", "obs", "util"},
    "jailer": {"util"},
    "cputmpl": {"vmm", "config", "obs", "util"},
    "top": {"util", "obs", "config", "mmds", "devices", "vmm", "snapshot",
            "api", "jailer", "cputmpl"},
}

# Single headers a folder may include from a folder it may not otherwise use.
# devices use the machine substrate (bus and guest memory) that still lives
# in vmm/; api uses only the vmm's request/reply vocabulary.
EXCEPTIONS = {
    "devices": {"vmm/bus.h", "vmm/guest_mem.h"},
    "api": {"vmm/action.h"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def folder_of(src_rel):
    """Folder of a path relative to src/: 'vmm/vcpu.h' -> 'vmm'."""
    parts = src_rel.split("/")
    return "top" if len(parts) == 1 else parts[0]


def scan(src_dir):
    """Yield (file relative to src, line number, include as written,
    included file relative to src or None when it cannot be found)."""
    for dirpath, dirnames, filenames in os.walk(src_dir):
        dirnames.sort()
        for name in sorted(filenames):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src_dir).replace(os.sep, "/")
            with open(path, encoding="utf-8", errors="replace") as f:
                for n, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    inc = m.group(1)
                    # Quote includes: the including file's folder first,
                    # then -Isrc.
                    target = None
                    for base in (os.path.dirname(path), src_dir):
                        cand = os.path.normpath(os.path.join(base, inc))
                        if os.path.isfile(cand):
                            target = os.path.relpath(cand, src_dir)
                            target = target.replace(os.sep, "/")
                            break
                    yield rel, n, inc, target


def load_known(path):
    """'src/x.c: vmm/y.h' lines -> {(file, include): line number}."""
    known = {}
    if not os.path.exists(path):
        return known
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if ": " not in line:
                raise ValueError(f"{path}:{n}: expected 'src/file: include'")
            file, inc = (s.strip() for s in line.split(": ", 1))
            known[(file, inc)] = n
    return known


def find_cycles(edges):
    """Folder-level cycles in {folder: set(folders)}, as lists of folders."""
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return cycles


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=ROOT,
                    help="top of the checkout (default: this script's)")
    ap.add_argument("--known", default=None,
                    help="known-violations list "
                         "(default: ROOT/scripts/layers-known.txt)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="also list each known violation")
    args = ap.parse_args()

    src_dir = os.path.join(args.root, "src")
    known_path = args.known or os.path.join(args.root, "scripts",
                                            "layers-known.txt")
    known_name = os.path.relpath(known_path, args.root)
    if not os.path.isdir(src_dir):
        print(f"check-layers: no src/ under {args.root}", file=sys.stderr)
        return 2
    try:
        known = load_known(known_path)
    except ValueError as e:
        print(f"check-layers: {e}", file=sys.stderr)
        return 2

    errors, seen_known, edges = [], set(), {}
    n_includes = 0
    for rel, n, inc, target in scan(src_dir):
        n_includes += 1
        where = f"src/{rel}:{n}"
        src_folder = folder_of(rel)
        if src_folder not in USES:
            errors.append(f"{where}: folder src/{src_folder}/ is not in "
                          f"DESIGN.md's layer table; add it to USES in "
                          f"scripts/check-layers.py")
            continue
        if target is None:
            errors.append(f'{where}: #include "{inc}" names no file under '
                          f"src/ (includes are relative to src/)")
            continue
        dst_folder = folder_of(target)
        if dst_folder == src_folder:
            continue
        key = (f"src/{rel}", target)
        if dst_folder in USES[src_folder]:
            edges.setdefault(src_folder, set()).add(dst_folder)
            continue
        if target in EXCEPTIONS.get(src_folder, ()):
            continue   # substrate / vocabulary edge, not part of the layers
        if key in known:
            seen_known.add(key)
            if args.verbose:
                print(f'{where}: known: #include "{inc}" '
                      f"({src_folder} -> {dst_folder})")
            continue
        allowed = sorted(USES[src_folder]) + sorted(
            EXCEPTIONS.get(src_folder, ()))
        if dst_folder not in USES:
            what = f"src/{dst_folder}/ is not in DESIGN.md's layer table"
        else:
            what = f"{src_folder} may not use {dst_folder}"
        errors.append(
            f'{where}: #include "{inc}": {what} ({src_folder} uses '
            f"{', '.join(allowed) or 'nothing'}; DESIGN.md, Modules and "
            f"their layers)")

    for key, n in sorted(known.items(), key=lambda kv: kv[1]):
        if key not in seen_known:
            errors.append(f"{known_name}:{n}: {key[0]} no longer includes "
                          f"{key[1]} (or it is allowed now): delete the line")

    for cycle in find_cycles(edges):
        errors.append("folder cycle: " + " -> ".join(cycle))

    for e in errors:
        print(e, file=sys.stderr)
    print(f"check-layers: {n_includes} includes, {len(errors)} errors, "
          f"{len(seen_known)} known violations ({known_name})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
