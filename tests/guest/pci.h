/*
 * pci.h: the test guest's PCI probe (tests/guest/pci.c, squibtest=pci).
 */
#ifndef SQUIB_GUEST_PCI_H
#define SQUIB_GUEST_PCI_H

#include <stdint.h>

/* IDT vectors of the probed function's MSI-X vectors 0 and 1. */
#define PCI_VECTOR_BASE 0x60
#define PCI_VECTOR_MAX  0x61

/* Run the probe; prints its lines (README.md, "PCI test"). */
void pci_run_test(void);

/* The same set-up, then n entropy requests each waited for with its MSI-X
 * interrupt: "pci loop-tick requests= irqs= timeouts=" every 256, then
 * "pci loop-done ..." (squibtest=pci-loop, squibn=). */
void pci_run_loop(uint64_t n);
/* squibtest=pci-hotplug: watch bus 0 for functions that come and go,
 * read sector 0 of each virtio-blk one that comes; never returns. */
void pci_hotplug_test(void);

/* Called by the interrupt handler for PCI_VECTOR_BASE..MAX before the
 * LAPIC EOI: counts the interrupt. */
void pci_isr(uint64_t vector);

#endif
