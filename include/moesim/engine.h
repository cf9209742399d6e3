/*
 * engine.h - the discrete-event engine: a clock and a queue of pending events.
 *
 * Events are ordered by (time, sequence number): the sequence number is taken
 * when an event is scheduled or rescheduled, so events at equal times fire in
 * the order they were (re)inserted. Events can be cancelled or moved (a flow's
 * finish time changes when bandwidth is re-shared). The engine knows nothing
 * of what is simulated: a model meets it through a handler and a context
 * pointer. Event records come from an engine-owned pool that grows with the
 * number of events pending at once and is recycled, so the run loop does not
 * allocate in steady state.
 */
#ifndef MOESIM_ENGINE_H
#define MOESIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "moesim/base.h"

typedef struct engine engine_t;

/* Names one scheduled event; 0 never names an event. An id stays unique for
 * the engine's life, so cancelling an event that already fired is harmless. */
typedef uint64_t engine_id_t;

typedef struct engine_event {
    sim_time_t time; /* when it fires (== engine_now() during the handler) */
    engine_id_t id;  /* the id engine_schedule returned */
    uint64_t arg;    /* the caller's argument, passed through unchanged */
} engine_event_t;

/* Called when an event fires; may schedule, cancel and reschedule events and
 * call engine_stop. `ctx` is the pointer given to engine_schedule (borrowed). */
typedef void (*engine_fire_fn)(engine_t *e, void *ctx, const engine_event_t *ev);

/* A new engine at time 0 with room for `initial_capacity` pending events
 * (0: a default); it grows as needed. Caller frees with engine_free. */
engine_t *engine_new(size_t initial_capacity);
/* Frees the engine and its pending events (their handlers are not called).
 * engine_free(NULL) is a no-op. */
void engine_free(engine_t *e);

/* Current simulated time. */
sim_time_t engine_now(const engine_t *e);
/* Number of events pending. */
size_t engine_pending(const engine_t *e);
/* Events fired since engine_new. */
uint64_t engine_fired(const engine_t *e);

/* Schedules fire(e, ctx, ev) at `time` (>= engine_now(e); an earlier time is a
 * programming error caught by assert). `ctx` is borrowed and must outlive the
 * event. Returns the event's id. */
engine_id_t engine_schedule(engine_t *e, sim_time_t time, engine_fire_fn fire, void *ctx,
                            uint64_t arg);
/* Schedules at engine_now(e) + delay; delay must be engine_fits (an
 * assertion: a caller that can be handed any delay checks first). */
engine_id_t engine_after(engine_t *e, sim_time_t delay, engine_fire_fn fire, void *ctx,
                         uint64_t arg);
/* Can an event be scheduled `delay` from now: 0 <= delay and now + delay
 * within the clock (SIM_TIME_MAX, about 106 days)? A time computed from
 * input (a slow link, a huge latency) may not be: callers turn false into an
 * error naming the input, never into engine_after's assertion. */
bool engine_fits(const engine_t *e, sim_time_t delay);
/* Removes a pending event. Returns true if it was pending, false if it had
 * fired, was cancelled already or never existed. */
bool engine_cancel(engine_t *e, engine_id_t id);
/* Moves a pending event to `time` (>= now); it takes a new sequence number,
 * so it fires after events already scheduled at that same time. Returns true
 * if it was pending. The event keeps its id. */
bool engine_reschedule(engine_t *e, engine_id_t id, sim_time_t time);

/* Fires events in order until none is pending, engine_stop is called, or the
 * next event lies after `until` (then the clock is advanced to `until`; pass
 * SIM_TIME_MAX to run to empty). Returns the number of events fired. */
uint64_t engine_run(engine_t *e, sim_time_t until);
/* Makes engine_run return after the current handler. */
void engine_stop(engine_t *e);

#endif
