/*
 * source.h - token sources: where each token's router logits come from.
 *
 * A source produces, for a batch of tokens and each MoE layer, the router
 * logits the gate sees. `synthetic` tokens carry a latent vector drawn from a
 * mixture of topic Gaussians: all tokens of one sequence share a topic, so
 * their routing is correlated; each MoE layer has router weights W_l (experts x
 * latent_dim, Gaussian) and a per-expert popularity bias, and consecutive
 * layers' weights are correlated, as trained routers are. logits = W_l h + b_l.
 * The topic mix may drift over batches (`drift`). `popularity` draws logits
 * log w_i + Gumbel noise, so a token's top-k is a draw without replacement
 * with probabilities w (uniform, Zipf, hot experts, log-normal). `fixed`
 * cycles through a table of logits given in the scenario (tests and
 * teaching). Memory is that of one batch, reused from batch to batch.
 */
#ifndef MOESIM_SOURCE_H
#define MOESIM_SOURCE_H

#include <gsl/gsl_rng.h>

#include "moesim/base.h"

typedef struct source source_t;

/* SOURCE_TRACE: a recorded routing trace, replayed by the simulator
 * (sim/trace.c) instead of a router; source_new refuses it. */
typedef enum source_kind {
    SOURCE_SYNTHETIC,
    SOURCE_FIXED,
    SOURCE_POPULARITY,
    SOURCE_TRACE,
    SOURCE_KIND_COUNT
} source_kind;

/* popularity: the law of the per-expert weights w_i (see source.c) */
typedef enum source_dist {
    SOURCE_UNIFORM,   /* w_i = 1 */
    SOURCE_ZIPF,      /* w = 1 / rank^s over a per-layer random ranking */
    SOURCE_HOT,       /* hot_experts experts share hot_share of the mass */
    SOURCE_LOGNORMAL, /* w_i = exp(sigma N(0, 1)) */
    SOURCE_DIST_COUNT
} source_dist;

typedef struct source_config {
    source_kind kind;
    int layers;  /* MoE layers, >= 1 */
    int experts; /* E >= 1 */

    /* synthetic */
    int latent_dim;    /* dimension of a token's latent vector, >= 1 */
    int topics;        /* mixture components, >= 1 */
    int seq_len;       /* tokens per sequence (one topic per sequence), >= 1 */
    double skew;       /* std. dev. of the per-expert popularity bias, in logit units, >= 0 */
    double layer_corr; /* correlation of router weights between consecutive layers, [0, 1] */
    double topic_std;  /* spread of a token around its topic mean, > 0 */
    double drift;      /* random-walk step of the topic mix per batch, in logits, >= 0 */
    double offset;     /* constant added to every logit (sigmoid gates see it), finite */

    /* popularity */
    source_dist dist;
    double zipf_s;     /* zipf exponent, >= 0 */
    int hot_experts;   /* hot: how many experts are hot, 1..E */
    double hot_share;  /* hot: their share of the gate's mass, [0, 1] */
    double sigma;      /* lognormal: std. dev. of log w, >= 0 */

    /* fixed: rows x experts logits, row-major (borrowed during source_new,
     * which copies it); token i of a batch gets row i % rows, in every layer */
    const double *fixed_logits;
    int fixed_rows;
} source_config;

/* Builds the source. Draws what is fixed for the whole run (topic means, router
 * weights, biases) from `init` (borrowed). Returns NULL with e filled on a bad
 * config. Caller frees with source_free. */
source_t *source_new(const source_config *cfg, gsl_rng *init, err_t *e);
void source_free(source_t *s);

/* Starts a batch of `tokens` tokens (token i of the batch is the i-th token
 * generated, sequences run across rank boundaries in index order), drawing
 * what varies per token from `rng` (borrowed). */
void source_begin_batch(source_t *s, int tokens, gsl_rng *rng);

/* Writes the logits of every token of the current batch for MoE layer
 * `layer` (0-based) into logits (tokens x experts, caller's buffer). */
void source_logits(source_t *s, int layer, double *logits);

/* For tests: on != 0 makes the synthetic source compute every logit the
 * plain way (one sum at a time), the reference its vector kernels (one per
 * instruction set, base.h: isa_best) must match bit for bit. */
void source_force_plain(int on);

/* The values as scenario files write them (kind: "synthetic", "fixed",
 * "popularity", "trace"; dist: "uniform", "zipf", "hot", "lognormal"); "?"
 * outside the enum. parse returns 0, or -1 for an unknown name (*out
 * untouched). */
const char *source_kind_name(source_kind v);
int source_kind_parse(const char *s, source_kind *out);
const char *source_dist_name(source_dist v);
int source_dist_parse(const char *s, source_dist *out);

#endif
