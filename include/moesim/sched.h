/*
 * sched.h - schedules as data: the order in which each pipeline stage runs
 * the steps of its micro-batches.
 *
 * A schedule knows nothing of time, GPUs or bytes. It lists steps - attention,
 * the gate, a dispatch, a GPU's experts, a combine, a TP all-reduce, a send
 * between stages - for each stage (every GPU of a stage runs the same
 * program: SPMD), and merges the stages' programs into one list in which
 * every step comes after the steps it depends on and each stage's steps keep
 * its program order. The executor (sim/play) turns that list into operations
 * on per-GPU streams in that order, so each stream's order is the program's.
 *
 * Dependencies are two: a step depends on the previous step of its
 * micro-batch on the same stage (its chain; the first step of a stage after
 * the first depends on the send that brought the micro-batch), and, where
 * `serial` is set, on the previous step of the stage's program whatever its
 * micro-batch. `none` sets it everywhere (today's order: nothing overlaps);
 * under `two_batch` only the chain and the streams' order hold, so one
 * micro-batch's communication runs while the other computes (DeepSeek-V3
 * Technical Report §3.4; SGLang's two-batch overlap).
 */
#ifndef MOESIM_SCHED_H
#define MOESIM_SCHED_H

#include <stdbool.h>

#include "moesim/base.h"

/* The steps of a forward pass. */
typedef enum sched_kind {
    SCHED_ATTN,     /* attention (compute) */
    SCHED_TP_ATTN,  /* TP all-reduce after attention (communication) */
    SCHED_FFN,      /* a dense layer's FFN (compute) */
    SCHED_GATE,     /* the router's GEMM (compute) */
    SCHED_DISPATCH, /* EP all-to-all, tokens to their experts (communication) */
    SCHED_EXPERTS,  /* a GPU's grouped expert GEMMs and shared experts (compute) */
    SCHED_COMBINE,  /* EP all-to-all, expert outputs back (communication) */
    SCHED_TP_FFN,   /* TP all-reduce after the FFN or MoE block (communication) */
    SCHED_SEND,     /* activations to the stage of the next chunk, or in backward their
                     * gradient to the stage of the chunk before (communication) */
    SCHED_HEAD,     /* the output layer after the last layer, on the last stage (compute) */
    /* a training step's end (sched_training) */
    SCHED_GRAD_DENSE,   /* a bucket's dense gradients over the DP group (communication) */
    SCHED_GRAD_EXPERT,  /* a bucket's expert gradients over the expert-DP group (communication) */
    SCHED_OPTIMIZER,    /* Adam over the stage's local shard (compute) */
    SCHED_GATHER_DENSE, /* ZeRO-1: updated dense parameters all-gathered (communication) */
    SCHED_GATHER_EXPERT,/* ZeRO-1: updated expert parameters all-gathered (communication) */
    SCHED_KIND_COUNT
} sched_kind;

/* workload.overlap */
typedef enum sched_overlap {
    SCHED_OVERLAP_NONE,      /* every step after the previous one: no overlap */
    SCHED_OVERLAP_TWO_BATCH, /* micro-batches in pairs, one's communication under the other's compute */
    SCHED_OVERLAP_COUNT
} sched_overlap;

/* A step's direction in a training step: the forward pass, the input
 * gradient (B: what the stage before needs), the weight gradient (W: what
 * only the optimizer needs, so zero-bubble schedules may defer it). A
 * communication step of phase B is the mirror of its forward: a dispatch's
 * gradient travels as a combine does, a combine's as a dispatch, a send
 * from the later stage to the earlier. */
enum { SCHED_PHASE_F, SCHED_PHASE_B, SCHED_PHASE_W, SCHED_PHASES };

/* parallel.schedule */
typedef enum sched_pipe {
    SCHED_PIPE_GPIPE,       /* every forward, then every backward */
    SCHED_PIPE_1F1B,        /* PipeDream-Flush / Megatron: warm-up, one forward one backward */
    SCHED_PIPE_INTERLEAVED, /* Megatron's interleaved 1F1B over vpp chunks per stage */
    SCHED_PIPE_DUALPIPE,    /* DeepSeek's bidirectional schedule (DualPipe repository) */
    SCHED_PIPE_COUNT
} sched_pipe;

/* training.recompute */
typedef enum sched_recompute {
    SCHED_RECOMPUTE_NONE,
    SCHED_RECOMPUTE_SELECTIVE, /* attention core and expert activation: costs, not steps */
    SCHED_RECOMPUTE_FULL,      /* each layer's forward again before its backward */
    SCHED_RECOMPUTE_COUNT
} sched_recompute;

/* "attention", "tp_attn", "dense_ffn", "gate", "dispatch", "experts",
 * "combine", "tp_ffn", "pp_send", "lm_head", "grad_dense", "grad_expert",
 * "optimizer", "gather_dense", "gather_expert"; "?" outside the enum. */
const char *sched_kind_name(sched_kind k);
/* "none", "two_batch"; parse returns 0, or -1 (*out untouched). */
const char *sched_overlap_name(sched_overlap o);
int sched_overlap_parse(const char *s, sched_overlap *out);
/* Compute steps run on a GPU's compute stream, the others on its
 * communication stream. */
bool sched_is_compute(sched_kind k);

/* What a forward schedule is built from (all borrowed for the call). */
typedef struct sched_config {
    int layers;
    int stages;              /* pipeline stages, >= 1 */
    const int *stage_first;  /* stages + 1 entries: stage k holds [first[k], first[k+1]) */
    const bool *moe;         /* layers entries: layer is MoE */
    bool tp;                 /* TP all-reduces after attention and after the FFN/MoE block */
    bool head;               /* the output layer after the last layer (model.vocab > 0) */
    int micro_batches;       /* >= 1 */
    sched_overlap overlap;
} sched_config;

/* One entry of the merged list. For SCHED_SEND, `stage` is the sender,
 * `to` the receiver (a forward send: the stage of the next chunk, which
 * under interleaved wraps from the last stage to the first; a backward
 * one: the stage of the chunk before), `chunk` the sender's and `layer`
 * -1; `to` is -1 on every other step. SCHED_HEAD's layer is the last.
 * Gradient and gather steps cover the layers [layer, layer + span) of one
 * bucket, mb is the micro-batch whose backward completed the bucket; they
 * and the optimizer carry phase B; the optimizer's layer and chunk are -1.
 * Gathers come in the order the buckets completed. */
typedef struct sched_step {
    unsigned char kind;      /* sched_kind */
    unsigned char serial;    /* also after the previous step of the stage's program */
    unsigned char phase;     /* SCHED_PHASE_* (forward schedules: F) */
    unsigned char recompute; /* a forward step run again before its backward: not model FLOPs */
    int stage, mb, layer;
    int to;                  /* SCHED_SEND: the receiving stage */
    int chunk;               /* the model chunk the step belongs to */
    int span;                /* gradient and gather steps: layers in the bucket */
} sched_step;

/* Entries a forward schedule has (for sizing `out`). */
long sched_forward_count(const sched_config *c);
/* Writes the merged list of a forward pass into out (sched_forward_count
 * entries) and returns that count, or -1 with e filled (ERR_INPUT) when the
 * configuration is not a schedule (two_batch with one micro-batch, stages
 * that do not cover the layers). */
long sched_forward(const sched_config *c, sched_step *out, err_t *e);

/* "gpipe", "1f1b", "interleaved", "dualpipe"; "none", "selective", "full".
 * parse returns 0, or -1 (*out untouched). */
const char *sched_pipe_name(sched_pipe p);
int sched_pipe_parse(const char *s, sched_pipe *out);
const char *sched_recompute_name(sched_recompute r);
int sched_recompute_parse(const char *s, sched_recompute *out);

/* A training step: every micro-batch forward and backward through the
 * model's chunks, then each stage's gradients synchronised in buckets, the
 * optimizer, and (ZeRO-1) the parameters gathered. The model is cut into
 * `chunks` chunks of consecutive layers; which stage runs a chunk:
 *   gpipe, 1f1b    chunks = stages, chunk c on stage c
 *   interleaved    chunks = stages x vpp, chunk c on stage c % stages
 *   dualpipe       chunks = stages (even); micro-batches [0, M/2) run
 *                  chunk c on stage c, [M/2, M) on stage stages - 1 - c
 *                  (each stage holds two chunks: parameters x 2)
 * All borrowed for the call. */
typedef struct sched_train_config {
    int layers;
    int stages;              /* pipeline stages, >= 1 */
    int vpp;                 /* interleaved: chunks per stage, >= 2; others 1 */
    const int *chunk_first;  /* chunks + 1 entries: chunk c holds [first[c], first[c+1]) */
    const bool *moe;         /* layers entries */
    bool tp;                 /* TP all-reduces (forward and backward) */
    bool head;               /* the output layer after the last layer */
    int micro_batches;       /* per DP replica and step, >= 1 */
    sched_pipe pipe;
    sched_recompute recompute;
    /* Gradient buckets: layers entries, bucket_of[l] the bucket of layer
     * l's gradients (nondecreasing in l, never shared by two chunks). With
     * overlap_grad, a bucket's GRAD steps follow the step that completes
     * its last gradient (the last micro-batch's weight gradient of its
     * lowest layer on that stage), serial = 0; without, every bucket's
     * GRAD steps follow the stage's last backward step. */
    const int *bucket_of;
    bool overlap_grad;
    bool zero;               /* ZeRO-1: gather steps after the optimizer */
    /* dualpipe: each overlapped forward-backward pair's steps interleaved
     * at its communication (serial = 0), so one micro-batch's all-to-alls
     * run under the other's compute (DeepSeek-V3 Technical Report 3.2.1) */
    bool overlap_a2a;
} sched_train_config;

/* The stage that runs chunk c of micro-batch mb. */
int sched_chunk_stage(const sched_train_config *c, int chunk, int mb);
/* Entries a training step has (for sizing `out`); 0 for a configuration
 * sched_training refuses. */
long sched_training_count(const sched_train_config *c);
/* Writes the merged list of one training step into out and returns its
 * length (sched_training_count), or -1 with e filled: ERR_INPUT naming the
 * key (parallel.vpp without interleaved, parallel.pp odd for dualpipe,
 * workload.micro_batches fewer than 2 x stages or odd for dualpipe or not
 * a multiple of stages for interleaved, parallel.pp_layers for chunks that
 * do not cover the layers, training.grad_bucket for buckets out of order
 * or shared by two chunks); ERR_RUN naming parallel.schedule if the
 * stages' programs do not meet (a bug: never for the pipes built here).
 * bucket_of NULL: one bucket per chunk. DualPipe's two copies of a chunk
 * (stages k and pp - 1 - k) are reduced as two buckets of their own stages
 * here; the sum of the two copies' gradients (DualPipe's example adds them)
 * is not a step (docs/training.md). */
long sched_training(const sched_train_config *c, sched_step *out, err_t *e);

#endif
