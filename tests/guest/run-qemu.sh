#!/bin/sh
# run-qemu.sh: boot a test guest (or any kernel) under QEMU with TCG and the
# serial port on stdout, to check the guest itself independently of squib.
#
#   tests/guest/run-qemu.sh KERNEL [CMDLINE] [-- EXTRA QEMU ARGS...]
#
# KERNEL is build/guest/guest-pvh.elf (PVH entry) or build/guest/guest.bzImage
# (QEMU enters a bzImage through its real-mode setup and the 32-bit entry).
# An ELF without a PVH note cannot be booted by QEMU's -kernel.
# Environment: QEMU_MACHINE (default "microvm"; "pc" has an i8042, MPTable
# and ACPI from SeaBIOS), QEMU_SMP (default 1), QEMU_MEM (default 128M),
# QEMU_TIMEOUT in seconds (default 60), QEMU_ACCEL (default tcg),
# QEMU_INITRD (optional initrd file). The guest's output is printed;
# the exit status is QEMU's (124 on timeout).
set -eu

if [ $# -lt 1 ]; then
    echo "usage: $0 KERNEL [CMDLINE] [-- QEMU ARGS...]" >&2
    exit 2
fi
kernel=$1
shift
cmdline="console=ttyS0 squibtest=report"
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
    cmdline=$1
    shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift

machine=${QEMU_MACHINE:-microvm}
initrd_args=
if [ -n "${QEMU_INITRD:-}" ]; then
    initrd_args="-initrd ${QEMU_INITRD}"
fi

# shellcheck disable=SC2086
exec timeout "${QEMU_TIMEOUT:-60}" qemu-system-x86_64 \
    -M "$machine" -accel "${QEMU_ACCEL:-tcg}" -cpu max \
    -smp "${QEMU_SMP:-1}" -m "${QEMU_MEM:-128M}" \
    -nodefaults -no-user-config -nographic -no-reboot \
    -serial stdio -monitor none \
    -kernel "$kernel" -append "$cmdline" $initrd_args "$@"
