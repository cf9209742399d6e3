/*
 * bench_engine.c - speed of the event engine in the hold model.
 *
 * The hold model is the classic benchmark for event queues: the queue is
 * filled with N events, then each event's handler schedules one new event at
 * now + an exponential delay (mean 1 us), so N stays pending and every event
 * costs one pop and one push. Figures are events per second of wall time on
 * one core, after a warm-up that lets the heap reach its steady shape; the
 * delay draws (GSL mt19937, gsl_ran_exponential) are part of the timed work,
 * as they would be in a model. Targets: >= 10 M events/s with 1 k pending,
 * >= 3 M events/s with 1 M pending. Not a pass/fail test: always exits 0.
 */
#include "moesim/engine.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

#define MEAN_DELAY_PS 1e6 /* 1 us */

typedef struct hold {
    gsl_rng *rng;
    uint64_t left; /* events still to fire before engine_stop */
} hold;

static sim_time_t draw_delay(gsl_rng *rng)
{
    return (sim_time_t)llround(gsl_ran_exponential(rng, MEAN_DELAY_PS));
}

static void hold_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    hold *h = ctx;
    engine_after(e, draw_delay(h->rng), hold_fire, h, ev->arg);
    if (--h->left == 0)
        engine_stop(e);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs `events` events of the hold model with `pending` events in the queue
 * after `warmup` untimed ones; returns events per second. */
static double hold_rate(size_t pending, uint64_t warmup, uint64_t events)
{
    hold h = {gsl_rng_alloc(gsl_rng_mt19937), 0};
    gsl_rng_set(h.rng, 20240601);
    engine_t *e = engine_new(pending);
    for (size_t i = 0; i < pending; i++)
        engine_schedule(e, draw_delay(h.rng), hold_fire, &h, i);

    h.left = warmup;
    engine_run(e, SIM_TIME_MAX);

    h.left = events;
    double t0 = seconds_now();
    uint64_t fired = engine_run(e, SIM_TIME_MAX);
    double dt = seconds_now() - t0;

    engine_free(e);
    gsl_rng_free(h.rng);
    return (double)fired / dt;
}

int main(void)
{
    static const struct {
        size_t pending;
        uint64_t warmup, events;
        double target_M;
    } runs[] = {
        {1000, 2000000, 20000000, 10},
        {1000000, 3000000, 10000000, 3},
    };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        double rate = hold_rate(runs[i].pending, runs[i].warmup, runs[i].events);
        printf("engine hold model, %zu pending: %.1f M events/s (target >= %g)\n",
               runs[i].pending, rate / 1e6, runs[i].target_M);
        fflush(stdout);
    }
    return 0;
}
