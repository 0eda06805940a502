#!/usr/bin/env python3
"""Write a newc ("070701") cpio archive from a directory tree plus device nodes.

mkrootfs.sh uses this instead of cpio(1) so that an initramfs can hold
/dev/console without root privileges (mknod needs them; an archive entry does
not). All entries are owned by uid/gid 0, and mtimes are 0 so the same tree
always gives the same bytes.

Usage: mkcpio.py DIR OUT [--node PATH:c|b:MAJOR:MINOR:MODE]...
OUT is written gzip-compressed when it ends in .gz.
"""
import argparse
import gzip
import os
import stat
import sys


def header(ino, mode, nlink, size, rdev_major, rdev_minor, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor,
              len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return (4 - n % 4) % 4


def entry(out, ino, mode, nlink, data, name, rdev=(0, 0)):
    raw_name = name.encode()
    hdr = header(ino, mode, nlink, len(data), rdev[0], rdev[1], raw_name)
    out.write(hdr + raw_name + b"\0")
    out.write(b"\0" * pad4(len(hdr) + len(raw_name) + 1))
    out.write(data)
    out.write(b"\0" * pad4(len(data)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--node", action="append", default=[],
                    help="PATH:c|b:MAJOR:MINOR:MODE (octal mode)")
    args = ap.parse_args()

    items = []
    for top, dirs, files in os.walk(args.dir):
        dirs.sort()
        rel = os.path.relpath(top, args.dir)
        if rel != ".":
            items.append(rel)
        for f in sorted(files):
            items.append(os.path.normpath(os.path.join(rel, f)))

    tmp = args.out + ".tmp"
    if args.out.endswith(".gz"):
        def opener(path, mode):
            # mtime=0 in the gzip header too, for reproducible bytes.
            return gzip.GzipFile(path, mode, mtime=0)
    else:
        opener = open
    ino = 1
    with opener(tmp, "wb") as out:
        for rel in items:
            st = os.lstat(os.path.join(args.dir, rel))
            perm = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                entry(out, ino, stat.S_IFDIR | perm, 2, b"", rel)
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(os.path.join(args.dir, rel)).encode()
                entry(out, ino, stat.S_IFLNK | 0o777, 1, target, rel)
            elif stat.S_ISREG(st.st_mode):
                with open(os.path.join(args.dir, rel), "rb") as f:
                    entry(out, ino, stat.S_IFREG | perm, 1, f.read(), rel)
            else:
                sys.exit("mkcpio: unsupported file type: " + rel)
            ino += 1
        for spec in args.node:
            try:
                path, kind, major, minor, mode = spec.split(":")
                fmt = {"c": stat.S_IFCHR, "b": stat.S_IFBLK}[kind]
                entry(out, ino, fmt | int(mode, 8), 1, b"", path.lstrip("/"),
                      (int(major), int(minor)))
            except (ValueError, KeyError):
                sys.exit("mkcpio: bad --node " + spec)
            ino += 1
        entry(out, 0, 0, 1, b"", "TRAILER!!!")
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
