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
    SCHED_SEND,     /* activations from stage s to stage s + 1 (communication) */
    SCHED_HEAD,     /* the output layer after the last layer, on the last stage (compute) */
    SCHED_KIND_COUNT
} sched_kind;

/* workload.overlap */
typedef enum sched_overlap {
    SCHED_OVERLAP_NONE,      /* every step after the previous one: no overlap */
    SCHED_OVERLAP_TWO_BATCH, /* micro-batches in pairs, one's communication under the other's compute */
    SCHED_OVERLAP_COUNT
} sched_overlap;

/* "attention", "tp_attn", "dense_ffn", "gate", "dispatch", "experts",
 * "combine", "tp_ffn", "pp_send", "lm_head"; "?" outside the enum. */
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

/* One entry of the merged list. For SCHED_SEND, `stage` is the sender
 * (stage + 1 receives) and `layer` is -1; SCHED_HEAD's layer is the last. */
typedef struct sched_step {
    unsigned char kind;      /* sched_kind */
    unsigned char serial;    /* also after the previous step of the stage's program */
    int stage, mb, layer;
} sched_step;

/* Entries a forward schedule has (for sizing `out`). */
long sched_forward_count(const sched_config *c);
/* Writes the merged list of a forward pass into out (sched_forward_count
 * entries) and returns that count, or -1 with e filled (ERR_INPUT) when the
 * configuration is not a schedule (two_batch with one micro-batch, stages
 * that do not cover the layers). */
long sched_forward(const sched_config *c, sched_step *out, err_t *e);

#endif
