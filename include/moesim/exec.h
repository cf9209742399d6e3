/*
 * exec.h - the executor: operations on per-GPU streams, on the run's engine.
 *
 * Each GPU has `streams` streams (compute and communication by default). A
 * stream runs its operations one at a time, in the order they were added. An
 * operation is compute on one GPU, or communication over a group of member
 * GPUs (a collective; a point-to-point send is a collective of two), queued
 * on every member's stream. It starts when all its dependencies have ended
 * and it is at the head of its stream on every member: a collective starts
 * when its last member reaches it, as NCCL's do.
 *
 * Costs are asked for when an operation starts, not when it is added (the MoE
 * block routes when its gate ends): a compute operation's duration, a
 * communication's plan of transfers (models/collective.h). The network model
 * times a plan: analytical, each collective alone (coll_plan_analytical, as if
 * it had its links to itself); flow, its phases as flows on one flow process
 * shared by every collective in flight, so concurrent collectives share link
 * bandwidth max-min fairly (phase k + 1 starts when phase k's last flow has
 * arrived).
 *
 * One hook hears of every operation that ends (metrics, timeline). Exposed
 * communication: when a compute operation waits at the head of its GPU's
 * compute stream for a communication operation to end, the part of the wait
 * during which that operation was running is added to the GPU's exposed time
 * of the operation's class (waiting for a collective's last member to arrive
 * is imbalance, not communication, and is not counted).
 */
#ifndef MOESIM_EXEC_H
#define MOESIM_EXEC_H

#include <stdint.h>

#include "moesim/base.h"
#include "moesim/collective.h"
#include "moesim/engine.h"
#include "moesim/net.h"
#include "moesim/topo.h"

enum { EXEC_STREAM_COMPUTE = 0, EXEC_STREAM_COMM = 1, EXEC_MAX_STREAMS = 4 };

/* What communication a compute stream can wait on (totals.exposed_s). */
typedef enum exec_class {
    EXEC_CLASS_ALLTOALL,
    EXEC_CLASS_TP,
    EXEC_CLASS_DP,
    EXEC_CLASS_PP,
    EXEC_CLASSES,
    EXEC_CLASS_NONE = -1 /* compute */
} exec_class;

/* "alltoall", "tp", "dp", "pp" (the JSON names); "?" outside the enum. */
const char *exec_class_name(exec_class c);

/* An operation as the callbacks see it (borrowed for the call). */
typedef struct exec_span {
    int op;              /* id */
    int kind;            /* the caller's */
    uint64_t tag;        /* the caller's */
    exec_class cls;      /* EXEC_CLASS_NONE for compute */
    int gpu;             /* compute: its GPU; communication: members[0] */
    const int *members;  /* communication: n GPUs; compute: &gpu, n = 1 */
    int n;
    int stream;
    sim_time_t start, end; /* end: only in the done hook */
    sim_time_t exposed;  /* compute, in the done hook: its exposed wait (see above) */
    exec_class exposed_cls; /* of that wait; EXEC_CLASS_NONE if none */
} exec_span;

typedef struct exec_callbacks {
    /* compute: how long the operation takes (>= 0; SIM_TIME_MAX: beyond) */
    sim_time_t (*duration)(void *ctx, const exec_span *op);
    /* communication: its transfers, into out (cleared before the call) */
    void (*plan)(void *ctx, const exec_span *op, coll_plan *out);
    /* every operation, when it ends */
    void (*done)(void *ctx, const exec_span *op);
    /* a cost beyond the clock (may be NULL): the run stops after it */
    void (*overflow)(void *ctx, const exec_span *op, sim_time_t delay);
} exec_callbacks;

typedef struct exec_config {
    int gpus;
    int streams;             /* per GPU, 1 .. EXEC_MAX_STREAMS */
    net_model model;         /* NET_ANALYTICAL or NET_FLOW */
    sim_time_t overhead_ps;  /* network.message_overhead */
    sim_time_t flow_tol_ps;  /* network.flow_tolerance */
} exec_config;

typedef struct exec exec_t;

/* An executor on engine eng and topology t (both borrowed); cb and ctx are
 * kept. */
exec_t *exec_new(engine_t *eng, const topo_t *t, const exec_config *cfg,
                 const exec_callbacks *cb, void *ctx);
void exec_free(exec_t *x);

/* Adds an operation; deps are ids of operations added before (borrowed for
 * the call; a repeated id is fine). Returns its id (ids count from 0 after
 * each exec_clear). May be called from the callbacks. */
int exec_compute(exec_t *x, int gpu, int stream, int kind, uint64_t tag, const int *deps,
                 int ndeps);
int exec_collective(exec_t *x, const int *members, int n, int stream, int kind,
                    exec_class cls, uint64_t tag, const int *deps, int ndeps);

/* Operations added and not yet ended. */
long exec_pending(const exec_t *x);
/* Empties the graph, keeping its memory; only when nothing is pending. */
void exec_clear(exec_t *x);
/* 1 once a cost went beyond the clock (the engine was stopped). */
int exec_failed(const exec_t *x);

/* Per GPU: exposed time of class c, busy time of stream s, since the last
 * exec_reset_counters (borrowed arrays of `gpus` entries). */
const int64_t *exec_exposed(const exec_t *x, exec_class c);
const int64_t *exec_busy(const exec_t *x, int stream);
void exec_reset_counters(exec_t *x);
/* Bytes per link of every plan timed so far (topo_link_count entries). */
const double *exec_link_bytes(const exec_t *x);

#endif
