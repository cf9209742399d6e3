/*
 * placement.h - which expert lives on which expert-parallel rank.
 *
 * A placement is a table of physical slots: each EP rank holds
 * slots_per_rank slots, slot s lives on rank s / slots_per_rank and holds
 * logical expert slot_expert[s] (the phy2log table of expert-parallel load
 * balancers). Every expert has at least one slot. This version builds the
 * `contiguous` strategy: experts 0..E/ep-1 on rank 0, the next E/ep on rank 1,
 * and so on, one slot per expert (Megatron-Core and GShard's layout).
 */
#ifndef MOESIM_PLACEMENT_H
#define MOESIM_PLACEMENT_H

#include "moesim/base.h"

typedef struct placement {
    int experts;        /* logical experts */
    int ranks;          /* EP ranks */
    int slots_per_rank;
    int *slot_expert;   /* ranks * slots_per_rank entries */
    int *expert_rank;   /* expert -> the rank of its (first) slot */
    int *replicas;      /* expert -> number of slots holding it */
} placement;

/* Contiguous placement of `experts` experts on `ranks` ranks (experts must be
 * a multiple of ranks). Fills *p, which the caller releases with
 * placement_fini. Returns -1 with e filled on bad numbers. */
int placement_contiguous(placement *p, int experts, int ranks, err_t *e);
/* Frees what *p owns; safe on a zeroed struct. */
void placement_fini(placement *p);

/* The EP rank that serves `expert`. */
static inline int placement_rank_of(const placement *p, int expert)
{
    return p->expert_rank[expert];
}

#endif
