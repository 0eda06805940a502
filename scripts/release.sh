#!/usr/bin/env bash
# Build squib's release tarball, laid out like Firecracker's (docs/install.md):
#
#   release.sh --build DIR --out DIR BIN...
#
# VERSION is what DIR/squib --squib-version prints (v0.1.0), ARCH is
# `uname -m`, SUFFIX is VERSION-ARCH. OUT (emptied first) gets
#   release-SUFFIX/             the unpacked tree:
#     BIN-SUFFIX                each binary, debug info split off (objcopy)
#     BIN-SUFFIX.debug          ... into this file (gnu-debuglink)
#     seccomp-filter-SUFFIX.json  the built-in filter as a --seccomp-filter
#                               JSON file (DIR/seccomp-defaults)
#     man/*.1  docs/README.md docs/*.md
#     SHA256SUMS                sha256sum of every other file, as ./path,
#                               sorted (upstream's format)
#   squib-SUFFIX.tgz            that tree, entries sorted, owner 0:0, every
#                               mtime SOURCE_DATE_EPOCH (default: the last
#                               commit's time), gzip without a timestamp: the
#                               same binaries give the same bytes.
# Prints the tarball's path. Fails, leaving no tarball, on any error.
set -euo pipefail

usage() {
    echo "usage: $0 --build DIR --out DIR BIN..." >&2
    exit 2
}

build=''
out=''
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
if [ -z "$build" ] || [ -z "$out" ] || [ $# -eq 0 ]; then usage; fi
bins=("$@")

die() {
    echo "release: $*" >&2
    exit 1
}

squib_version=$("$build/squib" --squib-version) ||
    die "$build/squib --squib-version failed"
version=v${squib_version#squib v}
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]] ||
    die "unexpected squib version '$squib_version'"
arch=$(uname -m)
suffix=$version-$arch
top=release-$suffix
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi

rm -rf "$out"
mkdir -p "$out/$top/man" "$out/$top/docs"
dir=$out/$top

for b in "${bins[@]}"; do
    src=$build/$b
    [ -x "$src" ] || die "$src is missing (run make first)"
    "$src" --version >/dev/null || die "$src --version failed"
    dst=$dir/$b-$suffix
    objcopy --only-keep-debug "$src" "$dst.debug"
    objcopy --strip-debug --add-gnu-debuglink="$dst.debug" "$src" "$dst"
done
"$build/seccomp-defaults" >"$dir/seccomp-filter-$suffix.json" ||
    die "$build/seccomp-defaults failed"
cp man/*.1 "$dir/man/"
cp README.md docs/*.md "$dir/docs/"

find "$dir" -type d -exec chmod 0755 {} +
find "$dir" -type f -exec chmod 0644 {} +
for b in "${bins[@]}"; do chmod 0755 "$dir/$b-$suffix"; done
(
    cd "$dir"
    find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum >../SHA256SUMS
)
mv "$out/SHA256SUMS" "$dir/SHA256SUMS"
chmod 0644 "$dir/SHA256SUMS"

tgz=$out/squib-$suffix.tgz
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
    --numeric-owner --format=gnu -C "$out" -cf - "$top" |
    gzip -9n >"$tgz.tmp"
mv "$tgz.tmp" "$tgz"
echo "$tgz"
