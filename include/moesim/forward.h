/*
 * forward.h - a schedule's steps as operations on the executor.
 *
 * A schedule (models/sched.c) says what each pipeline stage runs, in order;
 * this module says on which GPUs: a compute step is one operation per GPU of
 * its stage, a TP all-reduce one collective per TP group, a dispatch or
 * combine one per dispatch group (an EP group with its ETP peers), a send
 * one two-member collective per GPU of the sending stage and its peer in the
 * receiving stage, a gradient reduction or gather one per data-parallel
 * group (dense parameters) or expert-data-parallel group (experts'). Each operation depends on the operation before it in its
 * micro-batch's chain on every GPU it spans (and, for `serial` steps, on the
 * previous operation of the GPU's program), which the executor turns into
 * start times on the GPUs' streams.
 *
 * Each operation's tag holds the step's index in the list and the unit (GPU
 * index in the stage, or group index): fwd_step / fwd_unit decode it for the
 * cost callbacks and the done hook.
 */
#ifndef MOESIM_FORWARD_H
#define MOESIM_FORWARD_H

#include <stdint.h>

#include "moesim/exec.h"
#include "moesim/sched.h"

/* Which GPUs each step spans (all borrowed; must outlive the fwd_t). */
typedef struct fwd_layout {
    int gpus;            /* world */
    int stages;
    int per_stage;       /* GPUs per stage */
    const int *stage_gpu;   /* stages x per_stage: stage k's GPUs, by source index */
    int tp;              /* TP group size (1: no TP step runs) */
    const int *tp_gpu;      /* stages x per_stage: stage k's TP groups one after another */
    int a2a;             /* dispatch group size */
    const int *a2a_gpu;     /* stages x per_stage: stage k's dispatch groups one after another */
    /* training: the groups gradients are reduced over (and ZeRO-1 gathers) */
    int dp;              /* dense parameters: the data-parallel group */
    const int *dp_gpu;      /* stages x per_stage, as tp_gpu */
    int edp;             /* expert parameters: the GPUs holding the same experts */
    const int *edp_gpu;     /* stages x per_stage, as tp_gpu */
    int p2p_stream;      /* the stream pipeline sends run on */
    int grad_stream;     /* the stream gradient reductions and gathers run on */
} fwd_layout;

typedef struct fwd fwd_t;

/* A forward pass of `steps` (a sched_forward list of n entries, borrowed: it
 * must outlive the fwd_t, as the layout's arrays) over
 * layout `lay` on executor x (borrowed). micro_batches as the schedule's. */
fwd_t *fwd_new(exec_t *x, const fwd_layout *lay, const sched_step *steps, long n,
               int micro_batches);
void fwd_free(fwd_t *f);

/* Adds every operation of one pass to the executor (nothing runs until the
 * engine does); the pass starts when the executor is idle. Returns the
 * operations added. */
long fwd_add_pass(fwd_t *f);

/* The step an operation's tag stands for, and its unit: the GPU's index in
 * its stage (compute, send), or the group's index in its stage (TP,
 * dispatch, combine). */
const sched_step *fwd_step(const fwd_t *f, uint64_t tag);
int fwd_unit(uint64_t tag);
/* The step's index in the list fwd_new was given. */
long fwd_step_index(uint64_t tag);

/* The exposure class of a communication step (EXEC_CLASS_ALLTOALL for
 * dispatch and combine, _TP, _PP for sends, _DP for gradients and
 * gathers). */
exec_class fwd_class(sched_kind k);
/* The GPUs of one unit of a group step of kind k (TP, dispatch, gradient
 * and gather steps). */
int fwd_group_size(const fwd_layout *lay, sched_kind k);

#endif
