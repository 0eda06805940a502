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

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${#PKGS[@]} packages present"
else
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Without a usable /dev/kvm the guest tests run inside a VM with its own
# KVM (scripts/nested-kvm.sh, make nested-guests): fetch its kernel now.
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "setup: no usable /dev/kvm: preparing the nested-KVM test VM"
    "$(dirname "$0")/nested-kvm.sh" --prepare ||
        echo "setup: warning: the nested-KVM VM could not be prepared; make check still runs"
fi
