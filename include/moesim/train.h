/*
 * train.h - what a training step needs beyond a forward pass's costs: its
 * schedule built from the scenario (chunks, gradient buckets), the
 * parameters each GPU holds (a bucket's gradients, the optimizer's shard),
 * and ring reductions as plans of transfers.
 *
 * The parameters each GPU holds: scenario.h (scenario_params).
 */
#ifndef MOESIM_TRAIN_H
#define MOESIM_TRAIN_H

#include "moesim/collective.h"
#include "moesim/scenario.h"
#include "moesim/sched.h"

/* A training step's schedule for s, with the arrays its config borrows. */
typedef struct train_sched {
    sched_train_config c;
    int *chunk_first;   /* chunks + 1 */
    bool *moe;          /* layers */
    int *bucket_of;     /* layers */
    int *chunk_of;      /* layers: the chunk holding each */
    sched_step *steps;  /* the merged list */
    long n;
} train_sched;

/* Builds it (buckets cut at training.grad_bucket bytes of gradients, in
 * backward order inside each chunk). 0, or -1 with e filled. */
int train_sched_build(const scenario *s, train_sched *ts, err_t *e);
void train_sched_free(train_sched *ts);

/* A ring over members m (n): `phases` phases (all-reduce 2 (n - 1),
 * reduce-scatter or all-gather n - 1), each moving bytes / n from every
 * member to the next, into out. */
void train_ring_plan(coll_plan *out, const int *m, int n, double bytes, int phases);

#endif
