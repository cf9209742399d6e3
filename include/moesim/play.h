/*
 * play.h - a workload played through the models as events.
 *
 * `forward` mode: each batch is `workload.tokens_per_rank` tokens on every
 * data-parallel rank, passed through every layer in turn. A dense layer is
 * attention then the dense FFN. An MoE layer is attention, the router's gate,
 * the dispatch all-to-all (bytes per GPU pair from the real routing), each
 * GPU's grouped expert GEMM (its own token counts; shared experts run on
 * every GPU's own tokens), and the combine all-to-all, which starts when the
 * slowest GPU has finished its experts. Every phase ends in an engine event;
 * the next phase is scheduled from that event's handler. Batches run one after
 * another. Tokens are generated, routed, counted and dropped per batch: memory
 * does not grow with the number of tokens.
 *
 * Layouts: with parallel.tp > 1 attention and dense FFNs are split over each
 * TP group and followed by a ring all-reduce over it; each TP rank routes
 * tokens_per_rank / tp tokens; with parallel.etp > 1 an expert's tokens go to
 * every GPU of its ETP group, each computing 1/etp of its width
 * (docs/placement.md, "Layouts in runs"). With parallel.pp > 1 the layers
 * split into stages and micro-batches flow through them (docs/schedules.md).
 *
 * `training` mode: each batch is a training step (docs/training.md): the
 * global batch's micro-batches forward and backward through the pipeline
 * schedule (models/sched.c), each micro-batch routed on its own, then the
 * gradients reduced in buckets, the optimizer, and (ZeRO-1) the parameters
 * gathered.
 */
#ifndef MOESIM_PLAY_H
#define MOESIM_PLAY_H

#include "moesim/base.h"
#include "moesim/metrics.h"
#include "moesim/scenario.h"

typedef struct play play_t;

/* Called after each batch (batches_done >= 1) with the simulated time;
 * returns 0 to go on, nonzero to stop the run there (play_run then fails
 * with ERR_RUN "stopped", after removing its temporary files). */
typedef int (*play_progress_fn)(void *ctx, int batches_done, int batches, sim_time_t now);

/* Builds the models for scenario `s` (borrowed; must outlive the play).
 * Returns NULL with e filled when the scenario cannot be simulated. Caller
 * frees with play_free. */
play_t *play_new(const scenario *s, err_t *e);
void play_free(play_t *p);

/* Runs every batch. progress may be NULL. Returns 0, or -1 with e filled. */
int play_run(play_t *p, play_progress_fn progress, void *ctx, err_t *e);

/* The run's measurements; borrowed, valid until play_free. */
const metrics *play_metrics(const play_t *p);
/* The topology the run used; borrowed, valid until play_free. */
const struct topo *play_topo(const play_t *p);

/* For a scenario whose source is a routing trace: reads the trace whole
 * (every record's CRC, the end record) and checks that its shape is the
 * scenario's (experts, choices per token, MoE layers, sources, tokens per
 * source) and that it holds the warm-up's and the run's batches. 0, or -1
 * with e filled (ERR_INPUT naming the trace file). play_new does the same. */
int play_check_trace(const scenario *s, err_t *e);

#endif
