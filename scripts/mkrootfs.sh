#!/usr/bin/env bash
# Build (once, cached) the root file systems of squib's real-Linux tests and
# print their paths, one per line, in the order asked for.
#
# Kinds:
#   initramfs  a gzip'd newc cpio: busybox-static as /bin/busybox, /init from
#              scripts/guest/init, /bin/vsock_echo (tests/guest/linux/
#              vsock_echo.c, compiled here with the host compiler, -static),
#              and a /dev/console node (the kernel opens it for init's output
#              before init can mount devtmpfs)
#   ext4       a 32 MiB ext4 image of the same tree (mkfs.ext4 -d, no root
#              privileges needed), for root=/dev/vda rw init=/init
#   data       an 8 MiB ext4 image holding /in.txt, a second disk for the
#              blkrw test (squib.test=blkrw mounts it as /dev/vdb)
#
# The images are cached under $SQUIB_CACHE (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/squib)/rootfs/<key>/, where the key hashes
# the init script, the busybox binary, the sources of vsock_echo and this
# script, so any change rebuilds.
# They are the pristine copies: a test that lets the guest write must boot a
# copy (cp --sparse=always), never the cached file.
#
# Usage: scripts/mkrootfs.sh [initramfs|ext4|data|all]...   (default: ext4)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SQUIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/squib}
INIT=$HERE/guest/init
BUSYBOX=${SQUIB_BUSYBOX:-/bin/busybox}
GUEST_CC=${SQUIB_GUEST_CC:-${CC:-gcc}}
VSOCK_SRC=("$HERE/../tests/guest/linux/vsock_echo.c" "$HERE/../tests/guest/vsockproto.c")
VSOCK_HDR=$HERE/../tests/guest/vsockproto.h
MKE2FS=$(command -v mkfs.ext4 || echo /sbin/mkfs.ext4)

log() { echo "mkrootfs: $*" >&2; }
die() { log "$*"; exit 1; }

[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (Debian package busybox-static)"
# A dynamically linked busybox would need its libraries in the image.
if file -L "$BUSYBOX" 2>/dev/null | grep -q 'dynamically linked'; then
    die "$BUSYBOX is dynamically linked; install busybox-static"
fi
[ -x "$MKE2FS" ] || die "mkfs.ext4 missing (Debian package e2fsprogs)"

KEY=$(cat "$INIT" "$BUSYBOX" "$0" "$HERE/guest/mkcpio.py" "${VSOCK_SRC[@]}" "$VSOCK_HDR" |
    sha256sum | cut -c1-16)
OUT=$CACHE/rootfs/$KEY
mkdir -p "$OUT"

# The file tree shared by all root kinds, built in a scratch directory.
stage_tree() {
    local d=$1
    mkdir -p "$d"/{bin,dev,proc,sys,tmp,mnt,root,etc}
    chmod 1777 "$d/tmp"
    chmod 700 "$d/root"
    cp "$BUSYBOX" "$d/bin/busybox"
    ln -s busybox "$d/bin/sh"
    # Static, so the image needs no libc of its own.
    "$GUEST_CC" -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -static \
        -o "$d/bin/vsock_echo" "${VSOCK_SRC[@]}" ||
        die "cannot build vsock_echo with $GUEST_CC -static (libc6-dev)"
    install -m 755 "$INIT" "$d/init"
    printf 'root:x:0:0:root:/root:/bin/sh\n' > "$d/etc/passwd"
    printf 'root:x:0:\n' > "$d/etc/group"
}

build_initramfs() {
    local tmp
    tmp=$(mktemp -d)
    stage_tree "$tmp/root"
    # mkcpio.py writes beside the target and renames, so no partial archive
    # is ever seen under the final name.
    python3 "$HERE/guest/mkcpio.py" "$tmp/root" "$OUT/initramfs.cpio.gz" \
        --node /dev/console:c:5:1:600
    rm -rf "$tmp"
}

build_ext4() {
    local tmp
    tmp=$(mktemp -d)
    stage_tree "$tmp/root"
    rm -f "$OUT/rootfs.ext4.new"
    # root_owner: files belong to root in the image even when built by a user.
    # 4 KiB blocks (mke2fs picks 1 KiB for so small a file system): a DAX
    # mount needs the block size to be the page size.
    "$MKE2FS" -q -F -t ext4 -b 4096 -L squibroot -E root_owner=0:0 -d "$tmp/root" \
        "$OUT/rootfs.ext4.new" 32M >&2
    mv -f "$OUT/rootfs.ext4.new" "$OUT/rootfs.ext4"
    rm -rf "$tmp"
}

build_data() {
    local tmp
    tmp=$(mktemp -d)
    mkdir "$tmp/data"
    echo "SQUIB-DATA-FROM-HOST" > "$tmp/data/in.txt"
    rm -f "$OUT/data.ext4.new"
    "$MKE2FS" -q -F -t ext4 -L squibdata -E root_owner=0:0 -d "$tmp/data" \
        "$OUT/data.ext4.new" 8M >&2
    mv -f "$OUT/data.ext4.new" "$OUT/data.ext4"
    rm -rf "$tmp"
}

get() {
    local kind=$1 file
    case $kind in
    initramfs) file=initramfs.cpio.gz ;;
    ext4) file=rootfs.ext4 ;;
    data) file=data.ext4 ;;
    *) die "unknown kind '$kind' (initramfs, ext4, data, all)" ;;
    esac
    if [ ! -f "$OUT/$file" ]; then
        log "building $kind in $OUT"
        "build_$kind"
    fi
    echo "$OUT/$file"
}

[ $# -gt 0 ] || set -- ext4
for k in "$@"; do
    if [ "$k" = all ]; then
        get initramfs
        get ext4
        get data
    else
        get "$k"
    fi
done
