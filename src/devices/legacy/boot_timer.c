/*
 * boot_timer.c: the boot-timer pseudo device (boot_timer.h).
 */
#include "devices/legacy/boot_timer.h"

#include <time.h>

#include "obs/log.h"
#include "util/time.h"

struct boot_timestamp boot_timestamp_now(void)
{
    struct boot_timestamp t = {
        .time_us = time_clock_us(CLOCK_MONOTONIC),
        .cputime_us = time_clock_us(CLOCK_PROCESS_CPUTIME_ID),
    };
    return t;
}

static void boot_timer_write(struct bus_dev *dev, uint64_t offset,
                             const uint8_t *data, uint32_t len)
{
    struct boot_timer *t = dev->opaque;
    struct boot_timestamp now;
    uint64_t us, cpu_us;

    if (len != 1 || offset != 0 || data[0] != BOOT_TIMER_MAGIC)
        return;
    now = boot_timestamp_now();
    us = now.time_us - t->start.time_us;
    cpu_us = now.cputime_us - t->start.cputime_us;
    log_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
             (unsigned long long)us, (unsigned long long)(us / 1000),
             (unsigned long long)cpu_us, (unsigned long long)(cpu_us / 1000));
}

void boot_timer_init(struct boot_timer *t, struct boot_timestamp start)
{
    t->start = start;
    bus_dev_init(&t->bus, "boot_timer", NULL, boot_timer_write, t);
}

void boot_timer_fini(struct boot_timer *t)
{
    bus_dev_fini(&t->bus);
}
