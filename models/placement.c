/*
 * placement.c - expert placement strategies.
 *
 * Contiguous placement puts expert e on rank e / (E / ranks). It is what
 * frameworks do by default and the baseline every balancing strategy is
 * compared against: when popular experts have neighbouring indices (or a
 * layer's hot experts happen to fall together) one rank takes most tokens.
 */
#include "moesim/placement.h"

#include <stdlib.h>

static void placement_alloc(placement *p, int experts, int ranks, int slots_per_rank)
{
    p->experts = experts;
    p->ranks = ranks;
    p->slots_per_rank = slots_per_rank;
    p->slot_expert = xcalloc((size_t)ranks * (size_t)slots_per_rank, sizeof(*p->slot_expert),
                             "placement slots");
    p->expert_rank = xcalloc((size_t)experts, sizeof(*p->expert_rank), "placement map");
    p->replicas = xcalloc((size_t)experts, sizeof(*p->replicas), "placement replicas");
}

/* Derives expert_rank and replicas from slot_expert: an expert's first slot
 * (lowest index) names its home rank. */
static void placement_index(placement *p)
{
    for (int i = 0; i < p->experts; i++) {
        p->expert_rank[i] = -1;
        p->replicas[i] = 0;
    }
    int slots = p->ranks * p->slots_per_rank;
    for (int s = 0; s < slots; s++) {
        int x = p->slot_expert[s];
        if (p->expert_rank[x] < 0)
            p->expert_rank[x] = s / p->slots_per_rank;
        p->replicas[x]++;
    }
}

int placement_contiguous(placement *p, int experts, int ranks, err_t *e)
{
    if (experts < 1 || ranks < 1 || experts % ranks != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.ep",
                       "%d experts cannot be split evenly over %d ranks; allowed: a divisor "
                       "of the expert count",
                       experts, ranks);
    placement_alloc(p, experts, ranks, experts / ranks);
    for (int s = 0; s < experts; s++)
        p->slot_expert[s] = s;
    placement_index(p);
    return 0;
}

void placement_fini(placement *p)
{
    free(p->slot_expert);
    free(p->expert_rank);
    free(p->replicas);
    p->slot_expert = NULL;
    p->expert_rank = NULL;
    p->replicas = NULL;
}
