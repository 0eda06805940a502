#!/usr/bin/env bash
# Run a command where /dev/kvm works, on a host that has none.
#
#   scripts/nested-kvm.sh [--mem SIZE] [--cpus N] [--timeout SECONDS] -- CMD...
#
# The command runs as root inside a throwaway QEMU virtual machine that
# emulates an AMD CPU with SVM and nested paging in software (TCG), under
# Debian's own kernel with its kvm-amd module loaded: a real KVM, on
# emulated hardware, slow (every instruction is translated) but complete.
# The VM sees the host's whole file system through 9p (read-write, at /),
# with fresh tmpfs on /tmp, /run and /dev/shm, loopback up and /dev/net/tun
# and /dev/vhost-vsock present. CMD runs in the current directory with PATH,
# HOME and every SQUIB_*, PYTEST_* and sanitizer *_OPTIONS variable of the
# caller; its output goes to this script's stdout and its exit status is
# this script's.
#
# It is for the tests: `make nested-integration` runs squib's integration
# tests here, so the tests that boot guests run on any x86_64 machine. squib
# itself is not changed by it and must not depend on it.
#
# The kernel package (Debian's linux-image for amd64, from the archive) and
# the initramfs built from it are cached under ${XDG_CACHE_HOME:-~/.cache}/
# squib/nested; `--prepare` only fills the cache (scripts/setup.sh calls it
# on hosts without /dev/kvm). Needs qemu-system-x86, busybox-static and cpio
# (scripts/setup.sh installs them).
set -euo pipefail

MEM=16G
CPUS=2
TIMEOUT=3600
PREPARE_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
    --mem) MEM=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --prepare) PREPARE_ONLY=1; shift ;;
    --) shift; break ;;
    *) echo "nested-kvm: unknown option $1 (usage: see the script's header)" >&2; exit 2 ;;
    esac
done
if [ $PREPARE_ONLY -eq 0 ] && [ $# -eq 0 ]; then
    echo "nested-kvm: no command (usage: $0 [options] -- CMD...)" >&2
    exit 2
fi

CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/squib/nested
MODS="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
      netfs fscache 9pnet 9pnet_virtio 9p irqbypass kvm ccp kvm-amd tun vsock
      vhost_iotlb vhost vmw_vsock_virtio_transport_common vhost_vsock"

# The versioned kernel package linux-image-amd64 points at.
image_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -n1
}

prepare() {
    local pkg deb tmp
    [ -f "$CACHE/vmlinuz" ] && [ -f "$CACHE/initrd.gz" ] && return 0
    mkdir -p "$CACHE"
    tmp=$(mktemp -d "$CACHE/build.XXXXXX")
    pkg=$(image_package)
    if [ -z "$pkg" ]; then
        # A fresh machine may have no package lists yet.
        if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
        pkg=$(image_package)
    fi
    if [ -z "$pkg" ]; then
        echo "nested-kvm: apt knows no linux-image-amd64 (apt-get update?)" >&2
        rm -rf "$tmp"
        return 1
    fi
    (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1 ||
        { echo "nested-kvm: cannot download $pkg" >&2; exit 1; })
    deb=$(ls "$tmp"/*.deb)
    dpkg-deb -x "$deb" "$tmp/k"
    mkdir -p "$tmp/initrd/bin" "$tmp/initrd/mod" "$tmp/initrd/proc" \
        "$tmp/initrd/sys" "$tmp/initrd/dev" "$tmp/initrd/newroot" \
        "$tmp/initrd/hostroot"
    cp /bin/busybox "$tmp/initrd/bin/busybox"
    for m in $MODS; do
        f=$(find "$tmp/k/lib/modules" -name "$m.ko" -o -name "$m.ko.xz" | head -n1)
        if [ -z "$f" ]; then
            echo "nested-kvm: $pkg has no module $m" >&2
            rm -rf "$tmp"
            return 1
        fi
        case "$f" in
        *.xz) xz -dc "$f" > "$tmp/initrd/mod/$m.ko" ;;
        *) cp "$f" "$tmp/initrd/mod/$m.ko" ;;
        esac
    done
    cat > "$tmp/initrd/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# Loaded in passes until none is left, whatever order the kernel's
# dependencies need.
for pass in 1 2 3 4 5; do
    for m in $(echo $MODS); do
        [ -e /sys/module/\$(echo \$m | tr - _) ] || insmod /mod/\$m.ko 2>/dev/null
    done
done
for m in $(echo $MODS); do
    [ -e /sys/module/\$(echo \$m | tr - _) ] || echo "nested-kvm: module \$m did not load"
done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,access=client host /hostroot ||
    { echo "nested-kvm: cannot mount the host file system"; poweroff -f; }
mount -o bind /hostroot /newroot
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts pts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
mount -t tmpfs -o size=80% tmp /newroot/tmp
mount -t tmpfs run /newroot/run
job=\$(sed -n 's/.*nestedjob=\([^ ]*\).*/\1/p' /proc/cmdline)
# Host folders under the VM's own tmpfs mounts (the job, a checkout in
# /tmp) are bound back in from the second view of the host.
for p in \$(sed -n 's/.*nestedbind=\([^ ]*\).*/\1/p' /proc/cmdline | tr ':' ' '); do
    mkdir -p /newroot\$p
    mount -o bind /hostroot\$p /newroot\$p
done
chroot /newroot /bin/sh "\$job/run"
echo "nested-kvm: the command ended"
poweroff -f
EOF
    chmod +x "$tmp/initrd/init"
    (cd "$tmp/initrd" && find . | cpio -o -H newc --quiet | gzip -1 > "$tmp/initrd.gz")
    cp "$(ls "$tmp"/k/boot/vmlinuz-*)" "$tmp/vmlinuz"
    mv "$tmp/initrd.gz" "$CACHE/initrd.gz"
    mv "$tmp/vmlinuz" "$CACHE/vmlinuz"
    rm -rf "$tmp"
}

prepare
[ $PREPARE_ONLY -eq 1 ] && exit 0

# The job folder is on the host's disk (not under /tmp, which the VM covers
# with its own tmpfs): the command, its output and its status.
JOB=$(mktemp -d "$CACHE/job.XXXXXX")
trap 'rm -rf "$JOB"' EXIT
BIND=
for p in "$JOB" "$PWD"; do
    case "$p" in
    *[[:space:]:]*) echo "nested-kvm: cannot share a path with spaces or colons: $p" >&2; exit 2 ;;
    /tmp/* | /tmp | /run/* | /dev/shm/*) BIND=${BIND:+$BIND:}$p ;;
    esac
done
{
    echo "cd $(printf '%q' "$PWD") || exit 1"
    echo "export PATH=$(printf '%q' "$PATH") HOME=$(printf '%q' "$HOME")"
    # The variables the tests and sanitizers read come along.
    env | sed -n 's/^\(\(SQUIB\|PYTEST\|UBSAN\|ASAN\|TSAN\|LSAN\)_[A-Za-z0-9_]*\)=.*/\1/p' |
        while read -r v; do echo "export $v=$(printf '%q' "${!v}")"; done
    echo "ip link set lo up 2>/dev/null"
    printf '%q ' "$@"
    echo "> $(printf '%q' "$JOB/out") 2>&1"
    echo "echo \$? > $(printf '%q' "$JOB/status")"
} > "$JOB/run"

# The output file is followed while the VM runs, so progress shows.
: > "$JOB/out"
tail -n +1 -f "$JOB/out" &
TAIL=$!
rc=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -machine q35 \
    -cpu max -smp "$CPUS" -m "$MEM" -nographic -no-reboot \
    -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 nestedjob=$JOB nestedbind=$BIND" \
    -fsdev local,id=fs0,path=/,security_model=passthrough,multidevs=remap \
    -device virtio-9p-pci,fsdev=fs0,mount_tag=host > "$JOB/console" 2>&1 || rc=$?
sleep 1
kill $TAIL 2>/dev/null || true
wait $TAIL 2>/dev/null || true
if [ ! -s "$JOB/status" ]; then
    echo "nested-kvm: the VM ended without the command's status (qemu status $rc); its console:" >&2
    tail -n 30 "$JOB/console" >&2
    exit 1
fi
exit "$(cat "$JOB/status")"
