/*
 * time.h: the clocks squib reads, as plain integer counts. CLOCK_MONOTONIC
 * measures intervals, timeouts, rate limits and latencies; any other clock
 * id (the process-time metrics, the boot timer) goes through time_clock_*.
 * Header-only (static inline): each is clock_gettime() and one conversion.
 */
#ifndef SQUIB_UTIL_TIME_H
#define SQUIB_UTIL_TIME_H

#include <stdint.h>
#include <time.h>

/* Clock `clk` in ns; 0 if clk is not a clock this kernel has. */
static inline uint64_t time_clock_ns(clockid_t clk)
{
    struct timespec ts;

    if (clock_gettime(clk, &ts) < 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Clock `clk` in µs (truncated); 0 as time_clock_ns. */
static inline uint64_t time_clock_us(clockid_t clk)
{
    return time_clock_ns(clk) / 1000;
}

/* CLOCK_MONOTONIC in ns, µs and ms (truncated). */
static inline uint64_t time_mono_ns(void)
{
    return time_clock_ns(CLOCK_MONOTONIC);
}

static inline uint64_t time_mono_us(void)
{
    return time_mono_ns() / 1000;
}

static inline uint64_t time_mono_ms(void)
{
    return time_mono_ns() / 1000000;
}

#endif
