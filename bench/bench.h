/*
 * bench.h - what the benchmarks share: a monotonic clock and the process's
 * peak resident memory.
 */
#ifndef MOESIM_BENCH_H
#define MOESIM_BENCH_H

#include <sys/resource.h>
#include <time.h>

static inline double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double peak_gib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0 / (1024.0 * 1024.0 * 1024.0); /* KiB on Linux */
}

#endif
