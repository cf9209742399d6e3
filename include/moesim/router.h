/*
 * router.h - gating: from one layer's router logits to each token's experts.
 *
 * Pure math on a batch: logits in, chosen experts and their gate weights out.
 * Kinds (docs/routing.md has the formulas and sources):
 *   softmax_topk   GShard / Switch: p = softmax(x) over all experts, top-k of p.
 *   topk_softmax   Mixtral: top-k of x, softmax over those k.
 *   sigmoid_bias   DeepSeek-V3: s = sigmoid(x); selection on s + bias, weights
 *                  the unbiased s of the chosen, normalised; the bias moves by
 *                  +-bias_update_speed toward balance after every batch.
 *   noisy_topk     Shazeer et al. 2017: x + noise_std * N(0, 1), top-k, softmax
 *                  over the k.
 *   expert_choice  Zhou et al. 2022: each expert takes its C best tokens.
 *   hash           a fixed hash of the token's id (baseline).
 * Group-limited routing (groups > 1) applies to the first four: a token keeps
 * its topk_groups best groups (group score: the sum of its top-2 affinities)
 * and takes its top k inside them (DeepSeek-V2/V3).
 *
 * Invariants: a token's choices are distinct experts written best first;
 * ties go to the lower expert index (lower token index for expert_choice);
 * nothing is allocated per token.
 */
#ifndef MOESIM_ROUTER_H
#define MOESIM_ROUTER_H

#include <gsl/gsl_rng.h>
#include <stdbool.h>
#include <stdint.h>

#include "moesim/base.h"

typedef enum router_kind {
    ROUTER_SOFTMAX_TOPK, /* GShard / Switch: softmax over all, then top-k */
    ROUTER_TOPK_SOFTMAX, /* Mixtral: top-k logits, softmax over the k */
    ROUTER_SIGMOID_BIAS, /* DeepSeek-V3: sigmoid, selection bias, aux-loss-free */
    ROUTER_NOISY_TOPK,   /* Shazeer 2017: Gaussian noise on logits, top-k */
    ROUTER_EXPERT_CHOICE,/* Zhou 2022: experts pick tokens */
    ROUTER_HASH,         /* Roller 2021 style: hash of the token id */
    ROUTER_KIND_COUNT
} router_kind;

typedef struct router_config {
    router_kind kind;
    int experts;              /* E >= 1 */
    int top_k;                /* 1 <= k <= E; expert_choice: mean experts per token */
    bool normalize;           /* renormalise the k chosen weights to sum to 1 */
    int groups;               /* expert groups (1: not group-limited); divides E */
    int topk_groups;          /* groups a token may use, 1..groups */
    double bias_update_speed; /* sigmoid_bias: gamma, in score units per batch, >= 0 */
    double noise_std;         /* noisy_topk: std. dev. of the noise, in logits, >= 0 */
} router_config;

/* What one call needs beyond the logits, and what it reports. Every pointer is
 * the caller's (borrowed for the call). */
typedef struct router_state {
    const double *bias;   /* sigmoid_bias: E selection biases; NULL: all 0 */
    gsl_rng *noise;       /* noisy_topk: the noise stream (required) */
    int64_t first_token;  /* hash: the id of token 0 of this call */
    int64_t ec_capacity;  /* expert_choice: C, tokens each expert takes (>= 0) */
    int64_t ec_unrouted;  /* out, expert_choice: tokens that got no expert */
} router_state;

/* Checks a config: a known kind, experts >= 1, 1 <= top_k <= experts, groups
 * dividing experts, topk_groups <= groups, top_k <= topk_groups x E/groups,
 * groups only for the top-k families. Returns 0, or -1 with e filled (code
 * ERR_INPUT, key "model.top_k", "model.router.groups" etc.). */
int router_check(const router_config *cfg, err_t *e);

/* Choice slots per token: top_k, or E for expert_choice (a token may get any
 * number of experts; unused slots are -1). */
int router_slots(const router_config *cfg);

/* Routes `tokens` tokens. logits: tokens x experts, row-major, finite
 * (borrowed). Writes choice[t*S + j], S = router_slots(cfg) (expert index,
 * j = 0 the best; -1 for an unused expert_choice slot) and, if weight is not
 * NULL, weight[t*S + j]. If prob_sum is not NULL, adds each token's router
 * probabilities (the softmax, or for sigmoid_bias the normalised affinities)
 * into prob_sum[0..E-1] for the auxiliary loss. st may be NULL for kinds that
 * need no state. expert_choice allocates one scratch table per call; the other
 * kinds allocate nothing per call below 512 experts. Returns 0, or -1 with e
 * filled when the config or state is invalid. */
int router_route(const router_config *cfg, router_state *st, const double *logits, int tokens,
                 int32_t *choice, double *weight, double *prob_sum, err_t *e);

/* The auxiliary-loss-free bias update (DeepSeek-V3 §2.1.2): after a batch,
 * bias[i] += speed * sign(mean load - load[i]) for every expert, where load is
 * the router's selection count per expert (counts, E entries). */
void router_update_bias(const router_config *cfg, double *bias, const int64_t *counts);

/* Switch Transformer's auxiliary balance loss, E * sum_i f_i * P_i, where f_i
 * is the fraction of token-expert assignments sent to expert i (counts[i] /
 * sum counts) and P_i the mean router probability of expert i (prob_sum[i] /
 * tokens). 1.0 when perfectly balanced; 0 when counts or tokens are empty. */
double router_aux_loss(int experts, const int64_t *counts, const double *prob_sum,
                       int64_t tokens);

/* The kind as scenario files write it ("softmax_topk", ..., "hash"; "?" for
 * a value outside the enum, ROUTER_KIND_COUNT included); parse returns 0, or
 * -1 for an unknown name (*out untouched). */
const char *router_kind_name(router_kind v);
int router_kind_parse(const char *s, router_kind *out);

#endif
