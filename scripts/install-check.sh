#!/usr/bin/env bash
# The installed tree and the release tarball, checked (make install-check,
# docs/install.md):
#
#   install-check.sh DIR PREFIX RELEASE_OUT BIN...
#
# DIR/root is the DESTDIR `make install FIRECRACKER_LINK=1 PREFIX=PREFIX`
# just filled. Checks that every BIN is installed, that every installed
# binary (and the firecracker link) answers --help and --version with exit 0
# and some output, that the installed man pages match the installed binaries
# (scripts/check-man.py), and that the one tarball in RELEASE_OUT unpacks
# (into DIR/unpack) and its SHA256SUMS verify.
set -euo pipefail

[ $# -ge 4 ] || { echo "usage: $0 DIR PREFIX RELEASE_OUT BIN..." >&2; exit 2; }
dir=$1 prefix=$2 out=$3
shift 3
root=$dir/root$prefix
here=$(cd "$(dirname "$0")" && pwd)

fail() {
    echo "install-check: $*" >&2
    exit 1
}

for b in "$@"; do
    [ -x "$root/bin/$b" ] || fail "$b is not installed in $root/bin"
    [ -f "$root/share/man/man1/$b.1" ] || fail "$b has no installed man page"
done
[ -f "$root/share/doc/squib/README.md" ] || fail "no docs in $root/share/doc/squib"

n=0
for path in "$root"/bin/*; do
    for opt in --help --version; do
        outp=$("$path" "$opt" </dev/null) ||
            fail "$path $opt exited $?"
        [ -n "$outp" ] || fail "$path $opt printed nothing"
    done
    n=$((n + 1))
done
want=$(($# + 1)) # the binaries and the firecracker link
[ "$n" -eq "$want" ] || fail "$root/bin holds $n entries, expected $want"
[ "$("$root/bin/firecracker" --squib-version)" = "$("$root/bin/squib" --squib-version)" ] ||
    fail "the firecracker link does not run squib"
echo "install-check: $n installed commands answer --help and --version"

/usr/bin/python3 "$here/check-man.py" --bin-dir "$root/bin" \
    --man-dir "$root/share/man/man1"

shopt -s nullglob
tgzs=("$out"/squib-*.tgz)
[ ${#tgzs[@]} -eq 1 ] || fail "expected one tarball in $out, found ${#tgzs[@]}"
rm -rf "$dir/unpack"
mkdir -p "$dir/unpack"
tar -xzf "${tgzs[0]}" -C "$dir/unpack"
tops=("$dir"/unpack/*)
[ ${#tops[@]} -eq 1 ] || fail "the tarball does not hold one top folder"
(cd "${tops[0]}" && sha256sum --quiet -c SHA256SUMS) ||
    fail "SHA256SUMS of ${tgzs[0]} do not verify"
suffix=${tops[0]##*/release-}
for b in "$@"; do
    f=${tops[0]}/$b-$suffix
    [ -x "$f" ] || fail "$b is not in the tarball"
    "$f" --version >/dev/null || fail "$f --version exited $?"
done
echo "install-check: ${tgzs[0]} unpacks and its SHA256SUMS verify" \
    "($(wc -l <"${tops[0]}/SHA256SUMS") files)"
