/*
 * router.c - gating: one layer's router logits to each token's top-k experts.
 *
 * softmax_topk (GShard, Lepikhin et al. 2020; Switch Transformer, Fedus et
 * al. 2022, is its k = 1): p = softmax(x) over all E experts, the k largest p
 * are the token's experts, their gate weights are p (or p renormalised over
 * the k, as Mixtral-style "norm_topk_prob" routers do). Because softmax is
 * monotonic, the selection runs on the raw logits and the exponentials are
 * only computed when someone wants a probability (weights or prob_sum).
 *
 * Invariants every router kind keeps, and that capacity.c and the reroute
 * policy rely on:
 *   - a token's k choices are distinct experts, written best first;
 *   - ties are broken by the lower expert index, so equal logits route the
 *     same way on every machine (no dependence on sort stability);
 *   - nothing is allocated per token (one scratch row per call at most).
 * Logits must be finite: the caller's source never produces inf or NaN.
 *
 * New kinds (topk_softmax, sigmoid_bias, noisy_topk, group-limited,
 * expert_choice, hash) plug in as a case of the switch in router_route and,
 * where they need state (a bias, a noise stream), a field of the config.
 */
#include "moesim/router.h"

#include <math.h>
#include <stdlib.h>

/* Scratch for one token's exponentials lives on the stack up to this many
 * experts (DeepSeek-V3 has 256); wider routers take one heap row per call. */
#define ROUTER_STACK_EXPERTS 512

int router_check(const router_config *cfg, err_t *e)
{
    switch (cfg->kind) {
    case ROUTER_SOFTMAX_TOPK:
        break;
    default:
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.kind",
                       "unknown router kind %d; allowed: softmax_topk", (int)cfg->kind);
    }
    if (cfg->experts < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "model.experts",
                       "%d experts; allowed: >= 1", cfg->experts);
    if (cfg->top_k < 1 || cfg->top_k > cfg->experts)
        return err_set(e, ERR_INPUT, NULL, 0, "model.top_k",
                       "top_k %d; allowed: 1 to model.experts (%d)", cfg->top_k,
                       cfg->experts);
    return 0;
}

/*
 * Top-k of one row of logits by insertion into a k-array kept in descending
 * order. k is small (1 to 8 in every published model), so this beats any
 * heap or sort: E comparisons against the current k-th value, and a shift of
 * at most k entries on the rare insert. Scanning experts in increasing index
 * and inserting only on a strictly larger value puts an equal value after
 * the ones already held: that is the lower-index tie-break.
 */
static void topk_row(const double *x, int experts, int k, int32_t *idx, double *val)
{
    int n = 0; /* entries held so far, <= k */
    for (int i = 0; i < experts; i++) {
        double v = x[i];
        if (n == k && !(v > val[k - 1]))
            continue; /* the common case once the array is full */
        int pos = n < k ? n : k - 1;
        while (pos > 0 && v > val[pos - 1]) {
            val[pos] = val[pos - 1];
            idx[pos] = idx[pos - 1];
            pos--;
        }
        val[pos] = v;
        idx[pos] = (int32_t)i;
        if (n < k)
            n++;
    }
}

/* softmax-then-top-k over `tokens` rows. ex is a scratch row of E doubles. */
static void route_softmax_topk(const router_config *cfg, const double *logits, int tokens,
                               int32_t *choice, double *weight, double *prob_sum,
                               double *ex)
{
    const int E = cfg->experts, k = cfg->top_k;
    const int want_p = weight != NULL || prob_sum != NULL;
    double top[64], *topv = top; /* the k largest logits of the current token */
    if (k > 64)
        topv = xmalloc((size_t)k * sizeof(*topv), "router top-k values");

    for (int t = 0; t < tokens; t++) {
        const double *x = logits + (size_t)t * (size_t)E;
        int32_t *c = choice + (size_t)t * (size_t)k;
        topk_row(x, E, k, c, topv);
        if (!want_p)
            continue; /* choices alone need no exponential */

        /* Stable softmax: subtracting the maximum (topv[0]) keeps every
         * exponent <= 0, so nothing overflows and the largest term is 1. */
        const double m = topv[0];
        double sum = 0;
        for (int i = 0; i < E; i++) {
            ex[i] = exp(x[i] - m);
            sum += ex[i];
        }
        const double inv = 1.0 / sum;
        if (prob_sum)
            for (int i = 0; i < E; i++)
                prob_sum[i] += ex[i] * inv;
        if (weight) {
            double *w = weight + (size_t)t * (size_t)k;
            double wsum = 0;
            for (int j = 0; j < k; j++) {
                w[j] = ex[c[j]] * inv;
                wsum += w[j];
            }
            if (cfg->normalize) /* wsum >= p_max >= 1/E > 0: no division by zero */
                for (int j = 0; j < k; j++)
                    w[j] /= wsum;
        }
    }
    if (topv != top)
        free(topv);
}

int router_route(const router_config *cfg, const double *logits, int tokens,
                 int32_t *choice, double *weight, double *prob_sum, err_t *e)
{
    if (router_check(cfg, e) != 0)
        return -1;
    if (tokens <= 0)
        return 0;

    double stack_row[ROUTER_STACK_EXPERTS];
    double *ex = stack_row;
    if (cfg->experts > ROUTER_STACK_EXPERTS)
        ex = xmalloc((size_t)cfg->experts * sizeof(*ex), "router softmax row");

    switch (cfg->kind) {
    case ROUTER_SOFTMAX_TOPK:
        route_softmax_topk(cfg, logits, tokens, choice, weight, prob_sum, ex);
        break;
    }

    if (ex != stack_row)
        free(ex);
    return 0;
}

double router_aux_loss(int experts, const int64_t *counts, const double *prob_sum,
                       int64_t tokens)
{
    /* f_i and P_i each sum to 1, so E * sum f_i P_i is 1 when both are uniform
     * and E when all load and all probability sit on one expert. An empty
     * batch has no imbalance to penalise: 0 rather than a division by zero. */
    int64_t total = 0;
    for (int i = 0; i < experts; i++)
        total += counts[i];
    if (total <= 0 || tokens <= 0)
        return 0.0;
    double acc = 0;
    for (int i = 0; i < experts; i++)
        acc += ((double)counts[i] / (double)total) * (prob_sum[i] / (double)tokens);
    return (double)experts * acc;
}
