#!/usr/bin/env bash
# Install every Debian 12 package squib's build, tests and benchmarks need.
# Idempotent: packages already present are skipped without touching apt.
set -euo pipefail

PKGS=(
    # build
    gcc make pkg-config libseccomp-dev liburing-dev linux-libc-dev nettle-dev
    # release tarball (objcopy splits the debug info)
    binutils
    # fuzzing and the second compiler
    clang libclang-rt-14-dev
    # lint and layout (make tidy, make format-check)
    clang-tidy clang-format
    # tests
    libcmocka-dev python3 python3-pytest python3-pytest-timeout curl socat
    e2fsprogs busybox-static
    iproute2 acpica-tools xz-utils cpio
    # benchmarks (QEMU microvm as the baseline)
    qemu-system-x86
)

missing=()
for p in "${PKGS[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PKGS[@]} packages present"
    exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
