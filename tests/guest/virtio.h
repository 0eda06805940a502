/*
 * virtio.h: the test guest's virtio-mmio drivers (tests/guest/virtio.c).
 *
 * Small polled/interrupt-driven drivers for virtio-mmio version 2 devices:
 * discovery from the "virtio_mmio.device=" command-line words and the ACPI
 * DSDT (LNRO0005 devices), virtio-blk (read, write, flush, get-id),
 * virtio-rng, and a hostile mode that feeds devices malformed queues one
 * case at a time. The tests and their output lines are documented in
 * README.md ("virtio tests").
 */
#ifndef SQUIB_GUEST_VIRTIO_H
#define SQUIB_GUEST_VIRTIO_H

#include <stddef.h>
#include <stdint.h>

/* First IDT vector used for virtio interrupts (one per device slot). */
#define VIRTIO_VECTOR_BASE 0x50
#define VIRTIO_VECTOR_MAX  0x5f

/*
 * Run the virtio test named (name, name_len) if it is one: blk-rw, blk-ro,
 * blk-id, blk-poll, blk-irq, blk-eventidx, blk-bench, rng, rng-rate,
 * hostile-blk, hostile-rng, net-mmds, net-ping, hostile-net (net.c),
 * vsock-echo, hostile-vsock (vsock.c), acpi-devs (acpidev.c), virtio
 * (discovery only). cmdline is the
 * kernel command line (parameters squibsector=, squibcount=, squibbytes=,
 * squibms=, squibreqs=, squibcase=, squibtimeout=, squibeventidx=, squibbench=,
 * squibmib=, squibqd=, squibpoll=, squibip=, squibhost=, squibmmds=,
 * squibport=, squibpath=, squibbig=, squibhostport=, squibconns= are read from
 * it); rsdp_hint is the RSDP address the boot protocol gave (0: scan the BIOS
 * area). Returns 1 when the test ran (the caller then prints "done" and resets
 * the machine), 0 when the name is not a virtio test.
 */
int virtio_run_test(const char *name, size_t name_len, const char *cmdline,
                    size_t cmdline_len, uint64_t rsdp_hint);

/* IDT vectors of the acpi-devs test (acpidev.c): the GED's GSIs, in the
 * order its _CRS lists them. */
#define ACPIDEV_VECTOR_BASE 0x70
#define ACPIDEV_VECTOR_MAX  0x71

/* Called by the interrupt handler for ACPIDEV_VECTOR_BASE..MAX: counts. */
void acpidev_isr(uint64_t vector);

/* Called by the interrupt handler for vectors VIRTIO_VECTOR_BASE..MAX
 * before the LAPIC EOI: reads the device's InterruptStatus, acknowledges
 * it through InterruptACK and counts the interrupt. */
void virtio_isr(uint64_t vector);

#endif
