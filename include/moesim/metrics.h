/*
 * metrics.h - what a run measures, accumulated batch by batch.
 *
 * A series keeps one duration sample per (batch, layer) in integer
 * picoseconds, so means and maxima are exact and percentiles come from the
 * sorted samples (GSL's quantile with linear interpolation). Samples grow with
 * batches x layers (x micro-batches), and the exposed-communication series
 * with batches x GPUs, never with tokens: a batch of any size adds as many.
 * Per-expert counts and per-link byte totals have fixed size.
 */
#ifndef MOESIM_METRICS_H
#define MOESIM_METRICS_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "moesim/base.h"

typedef struct metrics_series {
    int64_t *v; /* samples, picoseconds */
    size_t n, cap;
} metrics_series;

typedef struct metrics_summary {
    size_t n;
    double mean_s, p50_s, p95_s, p99_s, max_s; /* seconds; 0 when n == 0 */
    int64_t min_ps, max_ps, sum_ps;            /* exact */
} metrics_summary;

void metrics_series_init(metrics_series *s);
void metrics_series_fini(metrics_series *s);
void metrics_series_add(metrics_series *s, int64_t ps);
void metrics_series_summarize(const metrics_series *s, metrics_summary *out);

/* Classes of communication a compute stream can wait on (sim/play's
 * exec_class): all-to-all, TP, DP, PP. */
#define METRICS_EXPOSED_CLASSES 4

/* One MoE layer, over all batches. */
typedef struct metrics_layer {
    int layer;                /* index among all layers (0-based) */
    int experts;
    int64_t tokens;           /* tokens routed, all batches */
    int64_t assignments;      /* tokens x top_k */
    int64_t dropped, rerouted;
    int64_t capacity;         /* per expert per scope, last batch; INT64_MAX if dropless */
    int64_t *wanted, *served, *dropped_per_expert; /* experts entries each */
    double *prob_sum;         /* router probability mass per expert */
    bool no_probs;            /* replayed from a trace: no probabilities, no aux loss */
    double load_max_over_mean_sum, load_cv_sum, gpu_max_over_mean_sum; /* sums of per-batch values */
    int64_t *rerouted_per_expert; /* of wanted[i], moved to another expert */
    int64_t *padding_per_expert;  /* empty padded slots (pad_to_capacity) */
    int64_t padding;              /* sum of padding_per_expert */
    int64_t unrouted;             /* expert_choice: tokens that got no expert */
    double *mom_by_batch;         /* load max/mean of each batch, in batch order */
    size_t mom_n, mom_cap;
    int batches;
    metrics_series attention, gate, dispatch, expert, combine;
    metrics_series tp_allreduce; /* both TP all-reduces of the layer (none if tp = 1) */
    /* per batch: the time the compute streams of the layer's stage waited on
     * communication of each class (exec_class's order: all-to-all, TP, DP,
     * PP) in the layer's compute, the mean over the stage's GPUs */
    metrics_series exposed[METRICS_EXPOSED_CLASSES];
} metrics_layer;

/* The whole run. */
/* One training step (the JSON's steps[]): its time and what its GPUs did. */
typedef struct metrics_step {
    sim_time_t time_ps;      /* the step, start to its last operation's end */
    int64_t tokens;
    int64_t idle_ps, span_ps; /* compute streams summed over GPUs, as the totals' */
    int64_t exposed_ps[METRICS_EXPOSED_CLASSES]; /* summed over GPUs */
    sim_time_t optimizer_ps; /* the slowest stage's optimizer */
    int gpus;
} metrics_step;

typedef struct metrics {
    int moe_layers;
    metrics_layer *layer;     /* moe_layers entries */
    int64_t tokens;           /* tokens through the model, all batches */
    int batches;
    sim_time_t sim_time_ps;   /* simulated time at the end of the run */
    metrics_series batch_time, dispatch_all, combine_all;
    int links;
    double *link_bytes;       /* bytes carried per link, all collectives */
    int gpus;
    int64_t *gpu_busy_ps;     /* compute time per GPU */
    double a2a_bytes;         /* dispatch bytes between distinct GPUs, model dtype */
    double a2a_internode_bytes; /* the part of a2a_bytes that leaves its node */
    int rebalances;           /* dynamic placement: re-placements done */
    int64_t migrated_experts; /* expert weight copies, all layers and EP groups */
    int64_t kept_layers;      /* layer re-placements skipped: gain below the minimum */
    double migration_bytes;   /* their bytes */
    metrics_series migration; /* time of each re-placement's transfers */
    metrics_series tp_allreduce_all; /* per (batch, layer), dense layers too: both TP
                                      * all-reduces of the layer (none if tp = 1) */
    /* per (batch, GPU): the time its compute stream waited on communication
     * of each class (METRICS_EXPOSED_CLASSES) */
    metrics_series exposed[METRICS_EXPOSED_CLASSES];
    /* compute streams, summed over batches and GPUs: idle time that is not
     * exposed communication (pipeline bubbles, waits for a group's
     * straggler), and the time they spanned (batch time x GPUs) */
    int64_t compute_idle_ps, compute_span_ps;
    /* training: per (step, stage) the optimizer's time (its slowest GPU),
     * per (step, bucket, stage) a gradient reduction's (its slowest group) */
    metrics_series optimizer, grad_sync;
    double grad_sync_bytes;   /* bytes all GPUs sent in gradient reductions */
    metrics_step *step;       /* training: one per step (grows with steps, not tokens) */
    int nstep, step_cap;
    /* training: per pipeline stage, its GPUs' time summed over GPUs and
     * steps, by METRICS_SHARE_* (NULL in forward runs) */
    int stages;
    int64_t *stage_ps;
} metrics;

/* What a stage's GPU time went to (the text report's per-stage shares). */
enum {
    METRICS_SHARE_ATTENTION, /* attention, forward and backward */
    METRICS_SHARE_EXPERTS,   /* routed and shared experts, forward and backward */
    METRICS_SHARE_OTHER,     /* dense FFNs, gates, output layer, optimizer */
    METRICS_SHARE_EXPOSED,   /* + class: exposed communication, 4 of them */
    METRICS_SHARE_IDLE = METRICS_SHARE_EXPOSED + METRICS_EXPOSED_CLASSES,
    METRICS_SHARE_SPAN,      /* the stage's GPU time: step time x GPUs */
    METRICS_SHARES
};

/* Appends a step's record (training). */
void metrics_step_add(metrics *m, const metrics_step *st);

/* Sizes the tables; release with metrics_fini. */
void metrics_init(metrics *m, int moe_layers, int experts, int links, int gpus);
void metrics_fini(metrics *m);

/* max/mean and coefficient of variation (population std / mean) of n counts;
 * both 0 when the mean is 0. */
void metrics_balance(const int64_t *counts, int n, double *max_over_mean, double *cv);

#endif
