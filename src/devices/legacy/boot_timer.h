/*
 * boot_timer.h: the boot-timer pseudo device (--boot-timer), MMIO 0xc0000000.
 *
 * A guest (or its init) writes the byte 123 at offset 0 when it has booted;
 * the device then logs, at INFO, the wall-clock and process-CPU time since
 * the start timestamp (taken when InstanceStart began building the VM):
 *   Guest-boot-time = {us:>6} us {ms} ms, {cpu_us:>6} CPU us {cpu_ms} CPU ms
 * Other writes and all reads are ignored (reads return zeros).
 */
#ifndef SQUIB_DEVICES_LEGACY_BOOT_TIMER_H
#define SQUIB_DEVICES_LEGACY_BOOT_TIMER_H

#include <stdint.h>

#include "vmm/bus.h"

#define BOOT_TIMER_ADDR  0xc0000000ULL
#define BOOT_TIMER_LEN   0x1000ULL
#define BOOT_TIMER_MAGIC 123

/* A point in time: CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID, in us. */
struct boot_timestamp {
    uint64_t time_us;
    uint64_t cputime_us;
};

/* Now. */
struct boot_timestamp boot_timestamp_now(void);

struct boot_timer {
    struct bus_dev bus;
    struct boot_timestamp start;
};

/* Initialise an embedded timer counting from `start`. */
void boot_timer_init(struct boot_timer *t, struct boot_timestamp start);
void boot_timer_fini(struct boot_timer *t);

#endif
