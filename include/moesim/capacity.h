/*
 * capacity.h - expert capacity and what happens to assignments beyond it.
 *
 * Capacity as Megatron-Core defines it: ceil(tokens * top_k / experts *
 * capacity_factor), at least min_capacity, where `tokens` are the tokens in
 * the capacity scope: those of one source rank (GShard, DeepSpeed) or the
 * whole batch (global). Assignments are considered in arrival order (token
 * index; with global scope rank 0's tokens come first; each token's choices
 * best first) or, with score priority, by descending router weight. An
 * assignment that finds its expert full is
 *   drop      dropped (the token passes that expert through the residual);
 *   reroute   moved to the token's next-best expert that still has room (by the
 *             router's scores, over all E), dropped only when none has room;
 *   dropless  never: no limit, the imbalance shows up as time;
 *   adaptive  dropped, but each expert's capacity follows an exponential
 *             moving average of its past load times `margin`, bounded by
 *             min_factor and max_factor times the uniform share k*T/E.
 * With pad_to_capacity every expert's buffer is padded to its capacity
 * (padding = capacity - served, per scope), as padded GShard/Tutel kernels do.
 */
#ifndef MOESIM_CAPACITY_H
#define MOESIM_CAPACITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moesim/base.h"

typedef enum capacity_scope {
    CAPACITY_SCOPE_RANK,
    CAPACITY_SCOPE_GLOBAL,
    CAPACITY_SCOPE_COUNT
} capacity_scope;
typedef enum capacity_overflow {
    CAPACITY_DROP,
    CAPACITY_DROPLESS,
    CAPACITY_REROUTE,
    CAPACITY_ADAPTIVE,
    CAPACITY_OVERFLOW_COUNT
} capacity_overflow;
typedef enum capacity_priority {
    CAPACITY_ORDER,
    CAPACITY_SCORE,
    CAPACITY_PRIORITY_COUNT
} capacity_priority;

typedef struct capacity_config {
    double factor;          /* capacity factor, > 0 (ignored when dropless) */
    capacity_scope scope;
    capacity_overflow overflow;
    capacity_priority priority;
    int64_t min_capacity;   /* lower bound on capacity, >= 0 */
    bool pad_to_capacity;   /* buffers and GEMMs padded to capacity */
    /* adaptive: capacity_i = clamp(ceil(ema_i * margin), min_factor * share,
     * max_factor * share), share = k * T / E; ema_i <- ema * load_i +
     * (1 - ema) * ema_i after each batch, starting at share. */
    double margin;          /* > 0 */
    double ema;             /* weight of the newest batch, (0, 1] */
    double min_factor;      /* > 0 */
    double max_factor;      /* >= min_factor */
} capacity_config;

/* Per-expert accounting of one layer and one batch, and the state that
 * persists from batch to batch (the adaptive average). Every array has E
 * entries; the struct owns them (see capacity_counts_init). Per expert i:
 *   wanted[i]  = kept + dropped[i] + rerouted[i]   (the router's choices of i)
 *   served[i]  = kept + rerouted_in[i]             (what expert i processes)
 * so sum served + sum dropped = tokens * k, and served[i] <= capacity[i] per
 * scope unless dropless. */
typedef struct capacity_counts {
    int experts;
    int64_t *wanted;      /* assignments the router made to expert i */
    int64_t *served;      /* assignments expert i processes, rerouted ones included */
    int64_t *dropped;     /* of wanted[i], dropped */
    int64_t *rerouted;    /* of wanted[i], moved to another expert (rerouted away) */
    int64_t *rerouted_in; /* moved to expert i from another */
    int64_t *padding;     /* empty slots of expert i summed over scopes (capacity - served) */
    int64_t *cap;         /* capacity of expert i per scope, this batch; INT64_MAX dropless */
    int64_t capacity;     /* the largest cap[i]; INT64_MAX when dropless */
    int scopes;           /* scopes this batch: ranks, or 1 for global */

    /* private to capacity.c: batch-to-batch state and scratch */
    double *ema;          /* adaptive: average load per scope, per expert */
    int ema_ready;
    int64_t *load;        /* per-scope load while applying */
    struct capacity_item *order; /* score priority: assignment order of one scope */
    size_t order_cap;
} capacity_counts;

/* Allocates zeroed counts for `experts` experts (c is the caller's struct,
 * its arrays are owned by it); release with capacity_counts_fini, which is
 * safe on NULL and leaves the arrays NULL. */
void capacity_counts_init(capacity_counts *c, int experts);
void capacity_counts_fini(capacity_counts *c);

/* Checks a config: factor > 0 and finite unless dropless, known scope,
 * overflow and priority, min_capacity >= 0, adaptive bounds. Returns 0, or -1
 * with e filled (code ERR_INPUT, key "model.router.capacity_factor" etc.). */
int capacity_check(const capacity_config *cfg, err_t *e);

/* Capacity of one expert in a scope holding `tokens` tokens:
 * max(min_capacity, ceil(tokens * k / experts * factor)); INT64_MAX when dropless. */
int64_t capacity_of(const capacity_config *cfg, int64_t tokens, int top_k, int experts);

/* Applies capacity to one layer of one batch: `ranks` source ranks of
 * `tokens_per_rank` tokens each, token t of rank r at index r*tokens_per_rank+t.
 * choice: (ranks*tokens_per_rank) x k expert indices, best first (from
 * router_route); it is rewritten in place: a dropped assignment becomes -1, a
 * rerouted one its new expert. An entry already -1 on input is skipped (not
 * wanted). weight (same shape; borrowed) is required for score priority,
 * scores ((ranks*tokens_per_rank) x experts, higher is better; borrowed) for
 * reroute; both may be NULL otherwise. Fills counts (zeroed first;
 * counts->experts must equal experts) and, for adaptive, updates its average.
 * Allocates nothing once the scratch has grown to the largest scope. Returns
 * 0, or -1 with e filled on a bad config or a choice outside [0, experts), in
 * which case choice may be partly rewritten. */
int capacity_apply(const capacity_config *cfg, int experts, int top_k, int ranks,
                   int tokens_per_rank, int32_t *choice, const double *weight,
                   const double *scores, capacity_counts *counts, err_t *e);

/* The values as scenario files write them (scope: "rank", "global";
 * overflow: "drop", "dropless", "reroute", "adaptive"; priority: "order",
 * "score"); "?" outside the enum. parse returns 0, or -1 for an unknown name
 * (*out untouched). */
const char *capacity_scope_name(capacity_scope v);
int capacity_scope_parse(const char *s, capacity_scope *out);
const char *capacity_overflow_name(capacity_overflow v);
int capacity_overflow_parse(const char *s, capacity_overflow *out);
const char *capacity_priority_name(capacity_priority v);
int capacity_priority_parse(const char *s, capacity_priority *out);

#endif
