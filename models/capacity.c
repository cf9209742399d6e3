/*
 * capacity.c - expert capacity, and the assignments that do not fit.
 *
 * Capacity follows Megatron-Core (megatron/core/transformer/moe/moe_utils.py,
 * get_capacity): ceil(tokens * top_k / experts * capacity_factor), raised to
 * min_capacity; Switch Transformer (Fedus et al. 2022, Eq. 3) is its top-1
 * case and GShard (Lepikhin et al. 2020) its per-group (here: per source rank)
 * scope. The budget is counted per scope: with scope `rank` every source rank
 * has its own budget of `capacity` slots per expert (each rank's dispatch
 * decides alone, as GShard groups and DeepSpeed do); with scope `global` the
 * whole batch shares one budget per expert.
 *
 * Order priority: assignments are taken token by token in index order (with
 * global scope, rank 0's tokens first), each token's choices best first; an
 * assignment that finds its expert full is dropped and becomes -1 in `choice`
 * (the token passes that expert through the residual connection). Invariants:
 *   served[i] + dropped[i] == wanted[i],  sum_i wanted[i] == tokens * k,
 *   served[i] <= capacity per scope (dropless: nothing is ever dropped).
 * New overflow policies (reroute to the next-best expert with room, adaptive)
 * and score priority plug in as cases of the switches below.
 */
#include "moesim/capacity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void capacity_counts_init(capacity_counts *c, int experts)
{
    /* experts <= 0 still yields valid (one-byte) arrays from xcalloc, so
     * fini and a later capacity_apply error need no special case */
    size_t n = experts > 0 ? (size_t)experts : 0;
    c->experts = experts;
    c->wanted = xcalloc(n, sizeof(*c->wanted), "capacity counts (wanted)");
    c->served = xcalloc(n, sizeof(*c->served), "capacity counts (served)");
    c->dropped = xcalloc(n, sizeof(*c->dropped), "capacity counts (dropped)");
    c->capacity = 0;
}

void capacity_counts_fini(capacity_counts *c)
{
    if (!c)
        return;
    free(c->wanted);
    free(c->served);
    free(c->dropped);
    c->wanted = c->served = c->dropped = NULL;
    c->experts = 0;
}

int capacity_check(const capacity_config *cfg, err_t *e)
{
    switch (cfg->overflow) {
    case CAPACITY_DROP:
        /* isfinite too: an infinite factor is dropless spelled badly */
        if (!(cfg->factor > 0) || !isfinite(cfg->factor))
            return err_set(e, ERR_INPUT, NULL, 0, "model.router.capacity_factor",
                           "%g; allowed: a number > 0 (or overflow = \"dropless\")",
                           cfg->factor);
        break;
    case CAPACITY_DROPLESS:
        break;
    default:
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.overflow",
                       "unknown overflow policy %d; allowed: drop, dropless",
                       (int)cfg->overflow);
    }
    if (cfg->scope != CAPACITY_SCOPE_RANK && cfg->scope != CAPACITY_SCOPE_GLOBAL)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.capacity_scope",
                       "unknown scope %d; allowed: rank, global", (int)cfg->scope);
    if (cfg->priority != CAPACITY_ORDER)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.priority",
                       "unknown priority %d; allowed: order", (int)cfg->priority);
    if (cfg->min_capacity < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.min_capacity",
                       "%lld; allowed: >= 0", (long long)cfg->min_capacity);
    return 0;
}

int64_t capacity_of(const capacity_config *cfg, int64_t tokens, int top_k, int experts)
{
    if (cfg->overflow == CAPACITY_DROPLESS)
        return INT64_MAX;
    if (tokens <= 0 || top_k <= 0 || experts <= 0) /* an empty scope: only the floor */
        return cfg->min_capacity > 0 ? cfg->min_capacity : 0;

    /* tokens * k is exact in int64 and in a double up to 2^53; the division
     * and the factor are not: 10 * 1.1 is 11.000000000000002 in binary, and
     * a bare ceil would give 12 slots where the definition says 11. A value
     * within a relative 1e-9 of an integer is taken as that integer; no real
     * capacity computation lives that close to an integer by design. */
    double v = (double)tokens * (double)top_k / (double)experts * cfg->factor;
    if (v >= 9.2e18)
        return INT64_MAX;
    double r = nearbyint(v);
    double c = fabs(v - r) <= 1e-9 * fmax(1.0, v) ? r : ceil(v);
    int64_t cap = (int64_t)c;
    return cap > cfg->min_capacity ? cap : cfg->min_capacity;
}

int capacity_apply(const capacity_config *cfg, int experts, int top_k, int ranks,
                   int tokens_per_rank, int32_t *choice, capacity_counts *counts, err_t *e)
{
    if (capacity_check(cfg, e) != 0)
        return -1;
    if (experts < 1 || top_k < 1 || top_k > experts)
        return err_set(e, ERR_INPUT, NULL, 0, "model.top_k",
                       "top_k %d with %d experts; allowed: 1 to model.experts", top_k,
                       experts);
    if (ranks < 1 || tokens_per_rank < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "workload.tokens_per_rank",
                       "%d ranks of %d tokens; allowed: >= 1 rank, >= 0 tokens", ranks,
                       tokens_per_rank);
    if (counts->experts != experts)
        return err_set(e, ERR_RUN, NULL, 0, NULL,
                       "capacity counts hold %d experts, the layer has %d", counts->experts,
                       experts);

    const size_t E = (size_t)experts;
    memset(counts->wanted, 0, E * sizeof(*counts->wanted));
    memset(counts->served, 0, E * sizeof(*counts->served));
    memset(counts->dropped, 0, E * sizeof(*counts->dropped));

    const int per_rank = cfg->scope == CAPACITY_SCOPE_RANK;
    const int64_t scope_tokens =
        per_rank ? (int64_t)tokens_per_rank : (int64_t)ranks * tokens_per_rank;
    const int64_t cap = capacity_of(cfg, scope_tokens, top_k, experts);
    const int dropless = cfg->overflow == CAPACITY_DROPLESS; /* cap is INT64_MAX anyway;
                                                                 the flag says why */
    counts->capacity = cap; /* per scope: each rank's budget, or the batch's */

    /* The per-scope load of expert i is served[i] - base[i], where base is
     * served at the start of the scope. `wanted` doubles as base while we
     * run, since wanted = served + dropped can be rebuilt at the end: the
     * rank scope then costs no extra memory and no allocation. For global
     * scope base stays all zero. */
    int64_t *base = counts->wanted;
    const size_t k = (size_t)top_k;

    for (int r = 0; r < ranks; r++) {
        if (per_rank)
            memcpy(base, counts->served, E * sizeof(*base));
        int32_t *c = choice + (size_t)r * (size_t)tokens_per_rank * k;
        const size_t n = (size_t)tokens_per_rank * k; /* token-major, best first */
        for (size_t a = 0; a < n; a++) {
            int32_t x = c[a];
            if (x < 0)
                continue; /* already dropped upstream: not wanted here */
            if (x >= experts)
                return err_set(e, ERR_INPUT, NULL, 0, NULL,
                               "rank %d, token %zu chose expert %d; allowed: 0 to %d", r,
                               a / k, (int)x, experts - 1);
            if (dropless || counts->served[x] - base[x] < cap) {
                counts->served[x]++;
            } else {
                counts->dropped[x]++;
                c[a] = -1;
            }
        }
    }

    for (size_t i = 0; i < E; i++)
        counts->wanted[i] = counts->served[i] + counts->dropped[i];
    return 0;
}
