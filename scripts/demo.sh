#!/usr/bin/env bash
# squib's main job on a fresh machine: boot microVMs through the Firecracker
# API with curl.
#
#   1. the project's small test guest (milliseconds): its report of what it
#      found (boot protocol, zero page, e820, MPTable, ACPI tables);
#   2. a real Linux guest (scripts/guest-kernel.sh obtains the kernel,
#      scripts/mkrootfs.sh the busybox initramfs) booted to its /init marker
#      line. On nested-virtualisation hosts this takes minutes; set
#      SQUIB_DEMO_LINUX=0 to skip it.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s guests

WORK=$(mktemp -d /tmp/squib-demo.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

start_squib() {
    SOCK=$WORK/api.sock
    rm -f "$SOCK"
    ./build/squib --api-sock "$SOCK" --id demo-vm > "$WORK/out" 2>&1 &
    PID=$!
    for _ in $(seq 200); do [ -S "$SOCK" ] && return 0; sleep 0.01; done
    echo "squib did not come up:" >&2
    cat "$WORK/out" >&2
    exit 1
}

api() { # METHOD PATH [JSON]
    local code
    code=$(curl -sS -o "$WORK/resp" -w '%{http_code}' --unix-socket "$SOCK" \
        -X "$1" "http://localhost$2" ${3:+-H 'Content-Type: application/json' -d "$3"})
    printf '%s %s -> %s %s\n' "$1" "$2" "$code" "$(cat "$WORK/resp")"
    case $code in 2??) ;; *) exit 1 ;; esac
}

wait_exit() { # seconds
    for _ in $(seq $(( $1 * 10 ))); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    wait "$PID" && rc=0 || rc=$?
    PID=
    echo "squib exited with code $rc"
}

echo "== 1. the test guest"
start_squib
api PUT /boot-source "{\"kernel_image_path\": \"$PWD/build/guest/guest-linux.elf\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 squibtest=report\"}"
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}'
api GET /vm/config
api PUT /actions '{"action_type": "InstanceStart"}'
wait_exit 30
grep -E '^SQUIB-GUEST (boot|cmdline|mptable |rsdp|acpi|madt |done)' "$WORK/out" || true

if [ "${SQUIB_DEMO_LINUX:-1}" = 0 ]; then
    exit 0
fi

echo "== 2. a real Linux guest"
KERNEL=$(scripts/guest-kernel.sh)
INITRD=$(scripts/mkrootfs.sh initramfs)
ARGS="$(grep -v '^#' scripts/guest/required-cmdline | tr '\n' ' ') console=ttyS0 reboot=k panic=1 rdinit=/init squib.test=marker"
start_squib
api PUT /boot-source "{\"kernel_image_path\": \"$KERNEL\", \"initrd_path\": \"$INITRD\", \"boot_args\": \"$ARGS\"}"
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 256}'
api PUT /actions '{"action_type": "InstanceStart"}'
api GET /
echo "booting Linux (minutes on nested hosts); its console follows"
tail -n +1 -f "$WORK/out" --pid "$PID" | grep --line-buffered -E '^\[|^SQUIB-' &
TAIL=$!
wait_exit 1800
kill "$TAIL" 2>/dev/null || true
grep -q 'SQUIB-LINUX-INIT-OK' "$WORK/out" && echo "Linux reached /init: SQUIB-LINUX-INIT-OK"
