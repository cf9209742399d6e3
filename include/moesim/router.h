/*
 * router.h - gating: from one layer's router logits to each token's experts.
 *
 * Pure math on a batch: logits in, chosen experts and their gate weights out.
 * This first version implements softmax-then-top-k (GShard, Lepikhin et al.
 * 2020; Switch Transformer, Fedus et al. 2022, is top-1 of it): p = softmax(x)
 * over all experts, the k largest p are chosen (ties: the lower expert index
 * wins), and their weights are p, optionally renormalised to sum to 1. The
 * choices of a token are written best first, which later policies (reroute to
 * the next-best expert) rely on. Other router families plug in as new kinds.
 */
#ifndef MOESIM_ROUTER_H
#define MOESIM_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "moesim/base.h"

typedef enum router_kind {
    ROUTER_SOFTMAX_TOPK /* GShard / Switch: softmax over all, then top-k */
} router_kind;

typedef struct router_config {
    router_kind kind;
    int experts;    /* E >= 1 */
    int top_k;      /* 1 <= k <= E */
    bool normalize; /* renormalise the k chosen weights to sum to 1 */
} router_config;

/* Checks a config: a known kind, experts >= 1, 1 <= top_k <= experts.
 * Returns 0, or -1 with e filled (code ERR_INPUT, key "model.top_k" etc.). */
int router_check(const router_config *cfg, err_t *e);

/* Routes `tokens` tokens. logits: tokens x experts, row-major, finite
 * (borrowed). Writes choice[t*k + j] (expert index, j = 0 is the best) and,
 * if weight is not NULL, weight[t*k + j]. If prob_sum is not NULL, adds each token's full
 * softmax vector into prob_sum[0..E-1] (for the auxiliary balance loss).
 * choice, weight and prob_sum are the caller's. Allocates nothing per token.
 * Returns 0, or -1 with e filled when the config is invalid. */
int router_route(const router_config *cfg, const double *logits, int tokens,
                 int32_t *choice, double *weight, double *prob_sum, err_t *e);

/* Switch Transformer's auxiliary balance loss, E * sum_i f_i * P_i, where f_i
 * is the fraction of token-expert assignments sent to expert i (counts[i] /
 * sum counts) and P_i the mean router probability of expert i (prob_sum[i] /
 * tokens). 1.0 when perfectly balanced; 0 when counts or tokens are empty. */
double router_aux_loss(int experts, const int64_t *counts, const double *prob_sum,
                       int64_t tokens);

#endif
