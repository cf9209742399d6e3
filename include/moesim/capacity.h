/*
 * capacity.h - expert capacity and what happens to assignments beyond it.
 *
 * Capacity as Megatron-Core defines it: ceil(tokens * top_k / experts *
 * capacity_factor), at least min_capacity, where `tokens` are the tokens in
 * the capacity scope: those of one source rank (GShard, DeepSpeed) or the
 * whole batch (global). Assignments are considered in arrival order (token
 * index; with global scope rank 0's tokens come first) and, for each token,
 * best choice first; an assignment that finds its expert full is dropped (the
 * token passes that expert through the residual). `dropless` sets no limit:
 * the imbalance then shows up as compute and all-to-all time.
 */
#ifndef MOESIM_CAPACITY_H
#define MOESIM_CAPACITY_H

#include <stdint.h>

#include "moesim/base.h"

typedef enum capacity_scope { CAPACITY_SCOPE_RANK, CAPACITY_SCOPE_GLOBAL } capacity_scope;
typedef enum capacity_overflow { CAPACITY_DROP, CAPACITY_DROPLESS } capacity_overflow;
typedef enum capacity_priority { CAPACITY_ORDER } capacity_priority;

typedef struct capacity_config {
    double factor;          /* capacity factor, > 0 (ignored when dropless) */
    capacity_scope scope;
    capacity_overflow overflow;
    capacity_priority priority;
    int64_t min_capacity;   /* lower bound on capacity, >= 0 */
} capacity_config;

/* Per-expert accounting of one layer and one batch. Every array has E
 * entries; the caller owns them (see capacity_counts_new). */
typedef struct capacity_counts {
    int experts;
    int64_t *wanted;   /* assignments the router made to expert i */
    int64_t *served;   /* of those, kept */
    int64_t *dropped;  /* of those, dropped */
    int64_t capacity;  /* per expert and per scope; INT64_MAX when dropless */
} capacity_counts;

/* Allocates zeroed counts for `experts` experts (c is the caller's struct,
 * its arrays are owned by it); release with capacity_counts_fini, which is
 * safe on NULL and leaves the arrays NULL. */
void capacity_counts_init(capacity_counts *c, int experts);
void capacity_counts_fini(capacity_counts *c);

/* Checks a config: factor > 0 and finite unless dropless, known scope,
 * overflow and priority, min_capacity >= 0. Returns 0, or -1 with e filled
 * (code ERR_INPUT, key "model.router.capacity_factor" etc.). */
int capacity_check(const capacity_config *cfg, err_t *e);

/* Capacity of one expert in a scope holding `tokens` tokens:
 * max(min_capacity, ceil(tokens * k / experts * factor)); INT64_MAX when dropless. */
int64_t capacity_of(const capacity_config *cfg, int64_t tokens, int top_k, int experts);

/* Applies capacity to one layer of one batch: `ranks` source ranks of
 * `tokens_per_rank` tokens each, token t of rank r at index r*tokens_per_rank+t.
 * choice: (ranks*tokens_per_rank) x k expert indices, best first (from
 * router_route); it is rewritten in place: a dropped assignment becomes -1.
 * An entry already -1 on input is skipped (not wanted). Fills counts (zeroed
 * first; counts->experts must equal experts). Allocates nothing. Returns 0,
 * or -1 with e filled on a bad config or a choice outside [0, experts), in
 * which case choice may be partly rewritten. */
int capacity_apply(const capacity_config *cfg, int experts, int top_k, int ranks,
                   int tokens_per_rank, int32_t *choice, capacity_counts *counts, err_t *e);

#endif
