/*
 * bench.h - what the benchmarks share: a monotonic clock, the process's
 * peak resident memory, and one case on the path `moesim run` takes.
 */
#ifndef MOESIM_BENCH_H
#define MOESIM_BENCH_H

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "moesim/play.h"
#include "moesim/scenario.h"

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

/* One case: `file` with `sets` loaded, built and run (scenario load,
 * play_new, play_run); prints the seconds per `unit` (a batch or step of
 * workload.batches), the set-up, the peak memory, and the target when
 * target_s > 0. */
static inline void bench_case(const char *name, const char *file, const char *const *sets,
                              int nsets, const char *unit, double target_s)
{
    scenario s;
    err_t e = ERR_INIT;
    char buf[1400];
    memset(&s, 0, sizeof(s));
    double t0 = seconds_now();
    if (scenario_load_file(file, sets, nsets, &s, &e) < 0) {
        err_format(&e, buf, sizeof(buf));
        printf("%-52s failed: %s\n", name, buf);
        scenario_fini(&s);
        return;
    }
    play_t *p = play_new(&s, &e);
    double t1 = seconds_now();
    int rc = p ? play_run(p, NULL, NULL, &e) : -1;
    double t2 = seconds_now();
    if (rc < 0) {
        err_format(&e, buf, sizeof(buf));
        printf("%-52s failed: %s\n", name, buf);
    } else {
        printf("%-52s %7.2f s per %s", name, (t2 - t1) / s.workload.batches, unit);
        if (target_s > 0)
            printf(" (target <= %.1f s)", target_s);
        printf(", set-up %.2f s, peak %.2f GiB\n", t1 - t0, peak_gib());
    }
    play_free(p);
    scenario_fini(&s);
}

#endif
