#!/usr/bin/env bash
# Print the path of a Linux guest kernel (an uncompressed, stripped ELF
# vmlinux with a PVH note) for squib's real-Linux tests and benchmarks,
# obtaining it first if the cache does not have it yet.
#
# Where the kernel comes from, in order:
#   1. a prebuilt kernel in a "shared/guest" folder: $SQUIB_GUEST_DIR if set,
#      else ../shared/guest next to this checkout, else next to the main
#      checkout when this is a git worktree. vmlinux-6.1-pvm.xz is
#      decompressed into the cache and checked against vmlinux-6.1-pvm.sha256.
#   2. otherwise a build from Debian's linux-source-6.1 with the project's own
#      config: `make tinyconfig` + scripts/guest/kernel.config (merged with the
#      kernel's scripts/kconfig/merge_config.sh), plus pvm-linux-6.1.patch from
#      the shared folder when there is one (needed only on nested PVM hosts).
#      The result is cached under a key hashed from the fragment, the patch and
#      the kernel source version, so changing either rebuilds.
#
# The cache lives outside the repository: $SQUIB_CACHE, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/squib. Only the path goes to stdout;
# progress goes to stderr.
#
# Usage: scripts/guest-kernel.sh [--source auto|shared|build] [--check]
#   --source shared  only take the prebuilt kernel (fail if absent)
#   --source build   always use the source build path
#   --check          print the path only if it is already cached; never
#                    download, decompress or build (exit 1 otherwise)
# Environment: SQUIB_CACHE, SQUIB_GUEST_DIR (the prebuilt kernel's folder),
# SQUIB_KEEP_BUILD=1 (keep the kernel source tree after a build).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${SQUIB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/squib}
KDIR=$CACHE/kernel
FRAGMENT=$HERE/guest/kernel.config
SOURCE=auto
CHECK_ONLY=0

log() { echo "guest-kernel: $*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
    --source) SOURCE=${2:?--source needs a value}; shift 2 ;;
    --source=*) SOURCE=${1#--source=}; shift ;;
    --check) CHECK_ONLY=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
    esac
done
case $SOURCE in auto|shared|build) ;; *) die "--source must be auto, shared or build" ;; esac

# The shared guest folder, or nothing. A worktree's own ../shared is tried
# before the main checkout's, so a checkout can be pointed elsewhere.
shared_dir() {
    local cand common
    if [ -n "${SQUIB_GUEST_DIR:-}" ]; then
        echo "$SQUIB_GUEST_DIR"
        return
    fi
    cand=$ROOT/../shared/guest
    if [ -d "$cand" ]; then
        (cd "$cand" && pwd)
        return
    fi
    common=$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
    if [ -n "$common" ] && [ -d "$(dirname "$common")/../shared/guest" ]; then
        (cd "$(dirname "$common")/../shared/guest" && pwd)
    fi
}

# Decompress the shared kernel into the cache (once) and verify its digest
# every time: it is cheap, and a truncated cache file must never be used.
from_shared() {
    local dir=$1 want out tmp got
    [ -f "$dir/vmlinux-6.1-pvm.sha256" ] || die "$dir: vmlinux-6.1-pvm.sha256 missing"
    want=$(awk '{print $1; exit}' "$dir/vmlinux-6.1-pvm.sha256")
    [[ $want =~ ^[0-9a-f]{64}$ ]] || die "$dir/vmlinux-6.1-pvm.sha256: not a sha256"
    out=$KDIR/vmlinux-6.1-pvm-${want:0:16}
    if [ ! -f "$out" ]; then
        [ "$CHECK_ONLY" = 1 ] && exit 1
        mkdir -p "$KDIR"
        tmp=$(mktemp "$KDIR/.vmlinux.XXXXXX")
        log "decompressing $dir/vmlinux-6.1-pvm.xz"
        if ! xz -dc "$dir/vmlinux-6.1-pvm.xz" > "$tmp"; then
            rm -f "$tmp"
            die "xz failed on $dir/vmlinux-6.1-pvm.xz"
        fi
        chmod 644 "$tmp"
        mv -f "$tmp" "$out"
    fi
    got=$(sha256sum "$out" | awk '{print $1}')
    if [ "$got" != "$want" ]; then
        rm -f "$out"
        die "sha256 mismatch for $out (got $got, want $want); removed"
    fi
    echo "$out"
}

# Install the build's Debian packages if any is missing (idempotent).
ensure_build_packages() {
    local p missing=() sudo=""
    for p in linux-source-6.1 bc flex bison libelf-dev libssl-dev make gcc \
             xz-utils patch perl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    log "installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >&2
}

# Every option the fragment asks for must have come out as asked; merge_config
# only warns, and a silently dropped driver would cost a 15-minute rebuild to
# notice later.
check_config() {
    local cfg=$1 line opt want bad=0
    while IFS= read -r line; do
        case $line in
        CONFIG_*=*) opt=${line%%=*}; want=$line ;;
        "# CONFIG_"*" is not set") opt=${line#\# }; opt=${opt%% *}; want="" ;;
        *) continue ;;
        esac
        if [ -n "$want" ]; then
            grep -qxF "$want" "$cfg" || { log "config: wanted $want, got: $(grep -E "^(# )?$opt[= ]" "$cfg" || echo unset)"; bad=1; }
        else
            ! grep -q "^$opt=" "$cfg" || { log "config: wanted $opt off, got: $(grep "^$opt=" "$cfg")"; bad=1; }
        fi
    done < "$FRAGMENT"
    return $bad
}

from_build() {
    local shared=$1 patchf="" key ver out src tarball jobs
    [ -n "$shared" ] && [ -f "$shared/pvm-linux-6.1.patch" ] && patchf=$shared/pvm-linux-6.1.patch
    ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
    key=$( { cat "$FRAGMENT"; [ -n "$patchf" ] && cat "$patchf"; echo "linux-source-6.1 ${ver:-unknown}"; } |
           sha256sum | cut -c1-16)
    out=$KDIR/vmlinux-6.1-built-$key
    if [ -f "$out" ]; then
        echo "$out"
        return 0
    fi
    [ "$CHECK_ONLY" = 1 ] && exit 1
    # One build at a time per cache: a second caller waits, then finds the
    # result below.
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.kernel-build.lock"
    flock 9
    [ -f "$out" ] && { echo "$out"; return 0; }
    ensure_build_packages
    # The version is part of the key; re-read it now the package is in.
    ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
    key=$( { cat "$FRAGMENT"; [ -n "$patchf" ] && cat "$patchf"; echo "linux-source-6.1 $ver"; } |
           sha256sum | cut -c1-16)
    out=$KDIR/vmlinux-6.1-built-$key
    [ -f "$out" ] && { echo "$out"; return 0; }

    tarball=$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1)
    [ -n "$tarball" ] || die "linux-source-6.1 is installed but /usr/src/linux-source-6.1.tar.* is missing"
    src=$CACHE/build/linux-$key
    rm -rf "$src"
    mkdir -p "$src"
    log "unpacking $tarball into $src"
    tar -xf "$tarball" -C "$src" --strip-components=1
    if [ -n "$patchf" ]; then
        log "applying $patchf"
        patch -d "$src" -p1 --forward --quiet < "$patchf"
    fi
    (
        cd "$src"
        make -s ARCH=x86_64 tinyconfig >&2
        scripts/kconfig/merge_config.sh -m .config "$FRAGMENT" >&2
        make -s ARCH=x86_64 olddefconfig >&2
    )
    check_config "$src/.config" || die "kernel config does not match $FRAGMENT (see above)"
    jobs=$(nproc)
    log "building vmlinux with $jobs jobs (10-15 minutes on a 2-core machine)"
    make -C "$src" -s ARCH=x86_64 -j"$jobs" vmlinux >&2
    mkdir -p "$KDIR"
    strip -s -o "$out.tmp" "$src/vmlinux"
    cp "$src/.config" "$out.config"
    mv -f "$out.tmp" "$out"
    # The tree is about 1.5 GB; a changed fragment gets a new key and a fresh
    # tree anyway.
    if [ "${SQUIB_KEEP_BUILD:-0}" = 1 ]; then
        log "built $out; source tree kept in $src"
    else
        rm -rf "$src"
        log "built $out (SQUIB_KEEP_BUILD=1 keeps the source tree)"
    fi
    echo "$out"
}

SHARED=$(shared_dir)
if [ "$SOURCE" != build ] && [ -n "$SHARED" ] && [ -f "$SHARED/vmlinux-6.1-pvm.xz" ]; then
    from_shared "$SHARED"
    exit 0
fi
[ "$SOURCE" = shared ] && die "no prebuilt kernel (looked for shared/guest/vmlinux-6.1-pvm.xz; set SQUIB_GUEST_DIR)"
from_build "$SHARED"
