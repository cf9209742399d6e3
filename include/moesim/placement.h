/*
 * placement.h - which expert lives on which expert-parallel rank.
 *
 * A placement is a table of physical slots: each EP rank holds
 * slots_per_rank slots, slot s lives on rank s / slots_per_rank and holds
 * logical expert slot_expert[s] (the phy2log table of expert-parallel load
 * balancers). Every expert has at least one slot; an expert with several
 * (replicas) shares its tokens among them, and placement_pick says which one
 * serves a token. Strategies are pure functions: a load table (and, where they
 * draw, a gsl_rng) in, a placement out. docs/placement.md describes each one
 * and its source:
 *
 *   contiguous      experts 0..E/ep-1 on rank 0, the next E/ep on rank 1...
 *                   (Megatron-Core and GShard's layout)
 *   round_robin     expert x on rank x % ep
 *   random          a uniformly random permutation of the experts
 *   balanced        greedy longest-processing-time packing by expected load
 *   eplb            DeepSeek's expert-parallel load balancer (deepseek-ai/EPLB)
 *   topology_aware  experts often chosen together kept inside one node
 */
#ifndef MOESIM_PLACEMENT_H
#define MOESIM_PLACEMENT_H

#include <gsl/gsl_rng.h>

#include "moesim/base.h"

/* The strategies by name, as placement.strategy writes them. dynamic is not
 * a layout of its own: the simulator re-places with one of balanced, eplb or
 * topology_aware every few batches (placement.rebalance). */
typedef enum placement_strategy {
    PLACEMENT_CONTIGUOUS,
    PLACEMENT_ROUND_ROBIN,
    PLACEMENT_RANDOM,
    PLACEMENT_BALANCED,
    PLACEMENT_EPLB,
    PLACEMENT_TOPOLOGY_AWARE,
    PLACEMENT_DYNAMIC,
    PLACEMENT_STRATEGY_COUNT
} placement_strategy;

/* "contiguous", "round_robin", "random", "balanced", "eplb",
 * "topology_aware", "dynamic"; "?" outside the enum. parse returns 0, or -1
 * for an unknown name (*out untouched). */
const char *placement_strategy_name(placement_strategy v);
int placement_strategy_parse(const char *s, placement_strategy *out);

typedef struct placement {
    int experts;        /* logical experts */
    int ranks;          /* EP ranks */
    int slots_per_rank;
    int *slot_expert;   /* ranks * slots_per_rank entries: phy2log */
    int *expert_rank;   /* expert -> the rank of its (first) slot */
    int *replicas;      /* expert -> number of slots holding it: logcnt */
    int *slot_start;    /* experts + 1 entries: expert x's slots are      */
    int *expert_slots;  /* expert_slots[slot_start[x] .. slot_start[x+1]), ascending */
} placement;

/* Every strategy below fills *p, which the caller releases with
 * placement_fini (also after a failure: the struct is then left zeroed).
 * Loads are per expert, in any unit (tokens, a share), and must be >= 0.
 * Array arguments are borrowed for the call only. Bad numbers return -1 with
 * e filled (ERR_INPUT, no key: callers name their own option or scenario key
 * when they check first). */

/* Contiguous placement of `experts` experts on `ranks` ranks (experts must be
 * a multiple of ranks), one slot per expert. */
int placement_contiguous(placement *p, int experts, int ranks, err_t *e);
/* Expert x on rank x % ranks; rank r's slots hold r, r + ranks, r + 2 ranks... */
int placement_round_robin(placement *p, int experts, int ranks, err_t *e);
/* A uniformly random permutation of the experts over the slots, one slot per
 * expert, drawn from rng (borrowed; advanced by the draw). */
int placement_random(placement *p, int experts, int ranks, gsl_rng *rng, err_t *e);
/* Longest-processing-time greedy: experts in descending load (ties: lower
 * index first) each go to the least loaded rank that still has a free slot
 * (ties: lower rank), so every rank gets experts / ranks slots. */
int placement_balanced(placement *p, int experts, int ranks, const double *load, err_t *e);
/* DeepSeek's EPLB for one layer, as deepseek-ai/EPLB's rebalance_experts:
 * `slots` physical experts (replicas; slots >= experts) over `gpus` ranks,
 * `groups` expert groups, `nodes` nodes. Requires experts % groups == 0,
 * gpus % nodes == 0, slots % gpus == 0. The hierarchical policy when groups %
 * nodes == 0, otherwise the global one (the same with groups = nodes = 1).
 * Rank r sits on node r / (gpus / nodes): the caller numbers EP ranks so. */
int placement_eplb(placement *p, int experts, int slots, int groups, int nodes, int gpus,
                   const double *load, err_t *e);
/* Greedy node filling by co-activation: coact is experts x experts (row
 * major, symmetric; coact[x*E+y] = tokens that chose both x and y, the
 * diagonal unused); rank_node[r] is the node of EP rank r (node ids from 0).
 * A node with k ranks takes k * experts / ranks experts: seeded with the
 * heaviest unplaced expert, it then adds the unplaced expert with the most
 * co-activations with those it holds (ties: heavier, then lower index); inside
 * a node experts are packed onto its ranks as by placement_balanced. */
int placement_topology_aware(placement *p, int experts, int ranks, const double *load,
                             const double *coact, const int *rank_node, err_t *e);

/* Adds one batch's routing to the inputs of the load-driven strategies:
 * choice is tokens x k expert indices (negative entries, such as dropped
 * assignments, are skipped); load[x] += assignments to x; coact (experts x
 * experts, may be NULL) += 1 at [x][y] and [y][x] for every pair of distinct
 * experts one token chose. Both are the caller's, zeroed before the warm-up;
 * O(tokens k^2). */
void placement_count(const int32_t *choice, int tokens, int k, int experts, double *load,
                     double *coact);

/* Everything a strategy may need, for callers that pick one by name. */
typedef struct placement_spec {
    const char *strategy; /* "contiguous", "round_robin", "random", "balanced",
                             "eplb", "topology_aware" */
    int experts, ranks;
    int slots;            /* eplb: physical slots in all (0: experts) */
    int groups, nodes;    /* eplb (0: 1) */
    const double *load;   /* balanced, eplb, topology_aware: per expert */
    const double *coact;  /* topology_aware */
    const int *rank_node; /* topology_aware */
    gsl_rng *rng;         /* random */
} placement_spec;

/* Builds the strategy spec->strategy names; an unknown name or a missing
 * input is ERR_INPUT listing what is allowed. */
int placement_build(placement *p, const placement_spec *spec, err_t *e);
/* 1 if `name` is a strategy placement_build knows. */
int placement_strategy_known(const char *name);

/* Frees what *p owns; safe on a zeroed struct. */
void placement_fini(placement *p);

/* The EP rank that serves `expert` (its first slot's). */
static inline int placement_rank_of(const placement *p, int expert)
{
    return p->expert_rank[expert];
}

static inline int placement_slots(const placement *p)
{
    return p->ranks * p->slots_per_rank;
}

/* Per-rank load when each expert's load is split evenly over its replicas:
 * fills rank_load (p->ranks entries) and returns max / mean (1 when all are
 * zero). */
double placement_rank_load(const placement *p, const double *load, double *rank_load);

/* The replica rule for one token routed to `expert` from a GPU on node
 * src_node: among the expert's slots, those on src_node first; among those,
 * the one whose rank has the fewest tokens so far in rank_tokens (the
 * caller's per-batch state: p->ranks counters it zeroes at each batch);
 * ties: the lower slot. Adds 1 to the chosen rank's counter and returns the
 * slot (its rank is slot / slots_per_rank). rank_node (p->ranks entries) may
 * be NULL: every rank counts as local; rank_tokens may be NULL: the first
 * local slot wins. With one replica this is that slot, in O(1). */
int placement_pick(const placement *p, int expert, int src_node, const int *rank_node,
                   int64_t *rank_tokens);

/* One expert's weights copied from a rank that holds it to one that will. */
typedef struct placement_move {
    int expert;
    int src_rank; /* a rank holding it under the old placement */
    int dst_rank; /* a rank holding it under the new one, but not the old */
} placement_move;

/* The copies that turn `from` into `to` (same experts and ranks): one for
 * every (expert, rank) pair present in `to` and absent from `from` (two
 * replicas on one rank need one copy). The source is a holder on the
 * destination's node if rank_node (may be NULL) shows one, else the expert's
 * first holder. Fills moves (room for placement_slots(to) entries) and
 * returns their count, or -1 with e filled when the shapes differ. */
int placement_moves(const placement *from, const placement *to, const int *rank_node,
                    placement_move *moves, err_t *e);
/* Renumbers the ranks of `to` so that as many of its (expert, rank) pairs
 * as possible are already in `from`: a strategy's ranks are interchangeable
 * (every rank holds the same number of slots), so a re-placement computed
 * from scratch can keep most weights where they are. Only ranks on the same
 * node trade places when rank_node (R entries) is given, which keeps a
 * node-level packing (eplb's groups, topology_aware's co-activated sets)
 * intact; NULL lets any two ranks trade. Greedy matching by overlap, ties to
 * lower ranks; deterministic. Returns how many ranks changed number (0 when
 * the shapes differ, leaving `to` as it was). */
int placement_align(const placement *from, placement *to, const int *rank_node);

/* Bytes moved by placement_moves: its count times expert_bytes (one expert's
 * weights); -1 when the shapes differ. */
double placement_migration_bytes(const placement *from, const placement *to,
                                 double expert_bytes, err_t *e);

#endif
