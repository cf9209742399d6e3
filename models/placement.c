/*
 * placement.c - expert placement strategies, the replica rule, migration.
 *
 * A placement maps physical slots to logical experts (phy2log); slot s sits on
 * EP rank s / slots_per_rank. Strategies fill that table and placement_index
 * derives the rest (home rank, replica count, slots per expert).
 *
 * contiguous is what frameworks do by default (Megatron-Core, GShard) and the
 * baseline every balancing strategy is compared against: when popular experts
 * have neighbouring indices one rank takes most tokens. round_robin and random
 * spread neighbours apart without looking at loads.
 *
 * balanced is Graham's longest-processing-time rule ("Bounds on
 * multiprocessing timing anomalies", 1969) with a slot limit per rank: at most
 * 4/3 of the optimal makespan without the limit; it is also EPLB's
 * balanced_packing, so one packer serves both.
 *
 * eplb follows deepseek-ai/EPLB's eplb.py step by step (REFERENCE.md spells
 * the steps and the tie rules): pack expert groups onto nodes, replicate the
 * hottest experts inside each node, pack the replicas onto the node's GPUs,
 * number the slots node-major. The reference computes in float32 (it calls
 * weight.float()); eplb rounds every quotient and partial sum to float so
 * that near-ties break as the reference's do. Sums of integer loads below
 * 2^24 are exact either way.
 *
 * topology_aware is greedy graph growing (as in the initial partitioning of
 * Karypis and Kumar's METIS, 1998) on the co-activation graph: fill one node
 * at a time with the expert most often chosen together with those it already
 * holds. It aims to cut the pairs of a token's experts that sit on different
 * nodes, which is what inter-node dispatch bytes follow (a greedy, not an
 * optimum: graph partitioning is NP-hard); it does not balance
 * load across nodes (only across a node's ranks), a cost docs/placement.md
 * admits.
 */
#include "moesim/placement.h"

#include <gsl/gsl_randist.h>
#include <stdlib.h>
#include <string.h>

/* Sizes *p and allocates its tables, zeroed; the strategy fills slot_expert
 * and calls placement_index. */
static void placement_alloc(placement *p, int experts, int ranks, int slots_per_rank)
{
    size_t slots = (size_t)ranks * (size_t)slots_per_rank;
    p->experts = experts;
    p->ranks = ranks;
    p->slots_per_rank = slots_per_rank;
    p->slot_expert = xcalloc(slots, sizeof(*p->slot_expert), "placement slots");
    p->expert_rank = xcalloc((size_t)experts, sizeof(*p->expert_rank), "placement map");
    p->replicas = xcalloc((size_t)experts, sizeof(*p->replicas), "placement replicas");
    p->slot_start = xcalloc((size_t)experts + 1, sizeof(*p->slot_start), "placement index");
    p->expert_slots = xcalloc(slots, sizeof(*p->expert_slots), "placement index");
}

/* Derives expert_rank, replicas and the per-expert slot lists from
 * slot_expert: an expert's first slot (lowest index) names its home rank. */
static void placement_index(placement *p)
{
    int slots = placement_slots(p);
    for (int x = 0; x < p->experts; x++) {
        p->expert_rank[x] = -1;
        p->replicas[x] = 0;
    }
    for (int s = 0; s < slots; s++) {
        int x = p->slot_expert[s];
        if (p->expert_rank[x] < 0)
            p->expert_rank[x] = s / p->slots_per_rank;
        p->replicas[x]++;
    }
    /* counting sort of slots by expert: slot lists come out ascending */
    p->slot_start[0] = 0;
    for (int x = 0; x < p->experts; x++)
        p->slot_start[x + 1] = p->slot_start[x] + p->replicas[x];
    int *fill = xcalloc((size_t)p->experts, sizeof(*fill), "placement index");
    for (int s = 0; s < slots; s++) {
        int x = p->slot_expert[s];
        p->expert_slots[p->slot_start[x] + fill[x]++] = s;
    }
    free(fill);
}

/* The check every one-slot-per-expert strategy shares. */
static int check_even(int experts, int ranks, err_t *e)
{
    if (experts < 1 || ranks < 1 || experts % ranks != 0)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "%d experts cannot be split evenly over %d ranks; allowed: a divisor "
                       "of the expert count",
                       experts, ranks);
    return 0;
}

/* Loads drive comparisons only, so any unit works; a negative or NaN load
 * would make the greedy orders meaningless, hence refused. */
static int check_loads(const double *load, int n, err_t *e)
{
    if (!load)
        return err_set(e, ERR_INPUT, NULL, 0, NULL, "no expert loads given; this strategy "
                                                     "needs one load per expert");
    for (int i = 0; i < n; i++)
        if (!(load[i] >= 0) || load[i] > 1e300) /* also rejects NaN and infinities */
            return err_set(e, ERR_INPUT, NULL, 0, NULL,
                           "expert %d has load %g; allowed: a finite number >= 0", i, load[i]);
    return 0;
}

/* The identity phy2log: slot s holds expert s. */
int placement_contiguous(placement *p, int experts, int ranks, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (check_even(experts, ranks, e) < 0)
        return -1;
    placement_alloc(p, experts, ranks, experts / ranks);
    for (int s = 0; s < experts; s++)
        p->slot_expert[s] = s;
    placement_index(p);
    return 0;
}

/* Neighbouring experts land on different ranks: a router whose hot experts
 * have close indices (common after training) no longer piles them on one. */
int placement_round_robin(placement *p, int experts, int ranks, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (check_even(experts, ranks, e) < 0)
        return -1;
    int spr = experts / ranks;
    placement_alloc(p, experts, ranks, spr);
    for (int r = 0; r < ranks; r++)
        for (int j = 0; j < spr; j++)
            p->slot_expert[r * spr + j] = r + j * ranks;
    placement_index(p);
    return 0;
}

int placement_random(placement *p, int experts, int ranks, gsl_rng *rng, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (check_even(experts, ranks, e) < 0)
        return -1;
    if (!rng)
        return err_set(e, ERR_INPUT, NULL, 0, NULL, "the random strategy needs a random stream");
    placement_alloc(p, experts, ranks, experts / ranks);
    for (int s = 0; s < experts; s++)
        p->slot_expert[s] = s;
    /* Fisher-Yates over the slots: every permutation equally likely, and the
     * draw depends only on the stream, so a seed reproduces it anywhere */
    gsl_ran_shuffle(rng, p->slot_expert, (size_t)experts, sizeof(*p->slot_expert));
    placement_index(p);
    return 0;
}

/* ---- the packer shared by balanced and eplb ---- */

/* Rounds to float when `single`: the reference computes in float32. */
static double round_to(int single, double x)
{
    return single ? (double)(float)x : x;
}

typedef struct item {
    double w;
    int i;
} item;

/* Descending weight; equal weights by lower index (REFERENCE.md's rule; a
 * total order, so qsort's instability cannot show). */
static int item_cmp(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* EPLB's balanced_packing: n items of weight w into m packs of n / m items
 * each (n % m == 0). Fills pack[i] and rank_in_pack[i] (how many items the
 * pack held before item i). With one item per pack, item i goes to pack i
 * unsorted, as the reference does. */
static void pack_balanced(const double *w, int n, int m, int single, int *pack,
                          int *rank_in_pack)
{
    int cap = n / m;
    if (cap == 1) {
        for (int i = 0; i < n; i++) {
            pack[i] = i;
            rank_in_pack[i] = 0;
        }
        return;
    }
    item *order = xcalloc((size_t)n, sizeof(*order), "packing order");
    double *pw = xcalloc((size_t)m, sizeof(*pw), "pack weights");
    int *items = xcalloc((size_t)m, sizeof(*items), "pack sizes");
    for (int i = 0; i < n; i++)
        order[i] = (item){w[i], i};
    qsort(order, (size_t)n, sizeof(*order), item_cmp);
    /* Heaviest first: the big items are placed while every pack is still
     * open, and the small ones fill the gaps (the LPT argument). The scan of
     * m packs per item costs O(n m), fine for hundreds of experts and GPUs
     * and done once per placement, never per token. */
    for (int k = 0; k < n; k++) {
        int best = -1; /* the lightest pack with room; ties: lowest index */
        for (int q = 0; q < m; q++)
            if (items[q] < cap && (best < 0 || pw[q] < pw[best]))
                best = q;
        int i = order[k].i;
        pack[i] = best;
        rank_in_pack[i] = items[best]++;
        pw[best] = round_to(single, pw[best] + w[i]);
    }
    free(order);
    free(pw);
    free(items);
}

int placement_balanced(placement *p, int experts, int ranks, const double *load, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (check_even(experts, ranks, e) < 0 || check_loads(load, experts, e) < 0)
        return -1;
    int spr = experts / ranks;
    placement_alloc(p, experts, ranks, spr);
    int *pack = xcalloc((size_t)experts, sizeof(*pack), "packing");
    int *rk = xcalloc((size_t)experts, sizeof(*rk), "packing");
    /* double precision: this is not the reference's code path, and exact
     * sums make ties depend on the loads only */
    pack_balanced(load, experts, ranks, 0, pack, rk);
    for (int x = 0; x < experts; x++)
        p->slot_expert[pack[x] * spr + rk[x]] = x;
    free(pack);
    free(rk);
    placement_index(p);
    return 0;
}

/* ---- eplb ---- */

/* EPLB's replicate_experts: slots 0..n-1 hold items 0..n-1; each further slot
 * takes the item with the largest weight per replica (ties: lowest index).
 * Fills phy[slots] (item per slot) and cnt[n] (replicas per item). */
static void replicate(const double *w, int n, int slots, int *phy, int *cnt)
{
    for (int i = 0; i < n; i++) {
        phy[i] = i;
        cnt[i] = 1;
    }
    /* Each extra slot halves (thirds...) the hottest expert's per-replica
     * load: a greedy that minimises the largest per-replica load, one slot at
     * a time. O(slots x n), once per placement. */
    for (int s = n; s < slots; s++) {
        int best = 0;
        double bw = round_to(1, w[0] / cnt[0]);
        for (int i = 1; i < n; i++) {
            double v = round_to(1, w[i] / cnt[i]);
            if (v > bw) { /* strict: the first maximum wins, as torch's max */
                best = i;
                bw = v;
            }
        }
        phy[s] = best;
        cnt[best]++;
    }
}

int placement_eplb(placement *p, int experts, int slots, int groups, int nodes, int gpus,
                   const double *load, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (experts < 1 || groups < 1 || nodes < 1 || gpus < 1)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "experts %d, groups %d, nodes %d, GPUs %d; allowed: each >= 1",
                       experts, groups, nodes, gpus);
    if (experts % groups != 0)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "%d experts are not a multiple of %d groups; allowed: a divisor of %d",
                       experts, groups, experts);
    if (gpus % nodes != 0)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "%d GPUs are not a multiple of %d nodes; allowed: a divisor of %d", gpus,
                       nodes, gpus);
    if (slots < experts || slots % gpus != 0)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "%d slots for %d experts on %d GPUs; allowed: a multiple of %d that is "
                       ">= %d",
                       slots, experts, gpus, gpus, experts);
    if (check_loads(load, experts, e) < 0)
        return -1;
    /* Groups that cannot be dealt evenly to nodes leave group-limited routing
     * nothing to exploit: the reference then balances over all GPUs at once
     * (its global policy), which is this procedure with one group and node. */
    if (groups % nodes != 0)
        groups = nodes = 1;

    /* gsize: experts per group; gpn: groups per node; epn: experts per node;
     * spn: slots per node; gpus_pn: GPUs per node; spg: slots per GPU. The
     * checks above make every quotient exact. */
    int gsize = experts / groups, gpn = groups / nodes, epn = experts / nodes;
    int spn = slots / nodes, gpus_pn = gpus / nodes, spg = slots / gpus;
    /* scratch, freed at the end; wm, phy, cnt, wp, pack and rk are reused
     * node after node */
    double *w = xcalloc((size_t)experts, sizeof(*w), "eplb weights");
    double *gw = xcalloc((size_t)groups, sizeof(*gw), "eplb group weights");
    int *gpack = xcalloc((size_t)groups, sizeof(*gpack), "eplb groups");
    int *grank = xcalloc((size_t)groups, sizeof(*grank), "eplb groups");
    int *mlog2log = xcalloc((size_t)experts, sizeof(*mlog2log), "eplb experts");
    double *wm = xcalloc((size_t)epn, sizeof(*wm), "eplb node weights");
    int *phy = xcalloc((size_t)spn, sizeof(*phy), "eplb replicas");
    int *cnt = xcalloc((size_t)epn, sizeof(*cnt), "eplb replicas");
    double *wp = xcalloc((size_t)spn, sizeof(*wp), "eplb replica weights");
    int *pack = xcalloc((size_t)spn, sizeof(*pack), "eplb packing");
    int *rk = xcalloc((size_t)spn, sizeof(*rk), "eplb packing");

    /* the reference's weight.float() */
    for (int x = 0; x < experts; x++)
        w[x] = round_to(1, load[x]);
    /* Step 1: a group's load is the sum of its contiguous experts; pack the
     * groups onto nodes. */
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < gsize; j++)
            gw[g] = round_to(1, gw[g] + w[g * gsize + j]);
    pack_balanced(gw, groups, nodes, 1, gpack, grank);
    /* Node-major ("mlog") numbering: a node's experts are its groups' in the
     * order of the group's rank in the node, then expert index. */
    for (int g = 0; g < groups; g++)
        for (int j = 0; j < gsize; j++)
            mlog2log[(gpack[g] * gpn + grank[g]) * gsize + j] = g * gsize + j;

    placement_alloc(p, experts, gpus, spg);
    for (int n = 0; n < nodes; n++) {
        /* Step 2: replicate the node's experts into its slots. */
        for (int j = 0; j < epn; j++)
            wm[j] = w[mlog2log[n * epn + j]];
        replicate(wm, epn, spn, phy, cnt);
        /* Step 3: a replica's load is its expert's over the final replica
         * count; pack the node's replicas onto its GPUs. */
        for (int i = 0; i < spn; i++)
            wp[i] = round_to(1, wm[phy[i]] / cnt[phy[i]]);
        pack_balanced(wp, spn, gpus_pn, 1, pack, rk);
        /* Step 4: node-major numbering, GPU g holding slots g*spg ..; the
         * node-local expert goes back to its logical index */
        for (int i = 0; i < spn; i++)
            p->slot_expert[n * spn + pack[i] * spg + rk[i]] = mlog2log[n * epn + phy[i]];
    }
    placement_index(p);

    free(w);
    free(gw);
    free(gpack);
    free(grank);
    free(mlog2log);
    free(wm);
    free(phy);
    free(cnt);
    free(wp);
    free(pack);
    free(rk);
    return 0;
}

/* ---- topology_aware ---- */

int placement_topology_aware(placement *p, int experts, int ranks, const double *load,
                             const double *coact, const int *rank_node, err_t *e)
{
    memset(p, 0, sizeof(*p));
    if (check_even(experts, ranks, e) < 0 || check_loads(load, experts, e) < 0)
        return -1;
    if (!coact || !rank_node)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "topology_aware needs a co-activation table and the node of each rank");
    int nodes = 0;
    for (int r = 0; r < ranks; r++) {
        if (rank_node[r] < 0 || rank_node[r] >= ranks)
            return err_set(e, ERR_INPUT, NULL, 0, NULL,
                           "rank %d is on node %d; allowed: a node id in [0, %d]", r,
                           rank_node[r], ranks - 1);
        if (rank_node[r] + 1 > nodes)
            nodes = rank_node[r] + 1;
    }
    /* node_of[x]: the node expert x joins; aff[x]: co-activations of x with
     * the experts already on the node being filled */
    int spr = experts / ranks;
    int *node_of = xcalloc((size_t)experts, sizeof(*node_of), "expert nodes");
    double *aff = xcalloc((size_t)experts, sizeof(*aff), "affinities");
    int *nranks = xcalloc((size_t)nodes, sizeof(*nranks), "ranks per node");
    for (int r = 0; r < ranks; r++)
        nranks[rank_node[r]]++;
    for (int x = 0; x < experts; x++)
        node_of[x] = -1;

    /* Nodes fill in id order; each takes as many experts as its ranks have
     * slots, so slot counts stay equal. Affinity restarts at 0 per node: only
     * pairs inside the node are saved from crossing the fabric. O(E^2) per
     * node, once per placement. */
    for (int n = 0; n < nodes; n++) {
        int cap = nranks[n] * spr;
        for (int x = 0; x < experts; x++)
            aff[x] = 0;
        for (int k = 0; k < cap; k++) {
            /* the seed (k = 0, all affinities 0) is the heaviest unplaced */
            int best = -1;
            for (int x = 0; x < experts; x++) {
                if (node_of[x] >= 0)
                    continue;
                if (best < 0 || aff[x] > aff[best] ||
                    (aff[x] == aff[best] && load[x] > load[best]))
                    best = x;
            }
            node_of[best] = n;
            /* the newcomer's co-activations now count for everyone else */
            for (int x = 0; x < experts; x++)
                if (x != best)
                    aff[x] += coact[(size_t)x * (size_t)experts + (size_t)best];
        }
    }

    /* Inside each node, LPT-pack its experts onto its ranks. */
    placement_alloc(p, experts, ranks, spr);
    int *xs = xcalloc((size_t)experts, sizeof(*xs), "node experts");
    double *xw = xcalloc((size_t)experts, sizeof(*xw), "node loads");
    int *rs = xcalloc((size_t)ranks, sizeof(*rs), "node ranks");
    int *pack = xcalloc((size_t)experts, sizeof(*pack), "packing");
    int *rk = xcalloc((size_t)experts, sizeof(*rk), "packing");
    for (int n = 0; n < nodes; n++) {
        int nx = 0, nr = 0;
        for (int x = 0; x < experts; x++)
            if (node_of[x] == n) {
                xs[nx] = x;
                xw[nx++] = load[x];
            }
        for (int r = 0; r < ranks; r++)
            if (rank_node[r] == n)
                rs[nr++] = r;
        if (nr == 0) /* a node id with no EP rank of ours: nothing to fill */
            continue;
        pack_balanced(xw, nx, nr, 0, pack, rk);
        for (int i = 0; i < nx; i++)
            p->slot_expert[rs[pack[i]] * spr + rk[i]] = xs[i];
    }
    placement_index(p);
    free(node_of);
    free(aff);
    free(nranks);
    free(xs);
    free(xw);
    free(rs);
    free(pack);
    free(rk);
    return 0;
}

/* ---- the warm-up's counts ---- */

void placement_count(const int32_t *choice, int tokens, int k, int experts, double *load,
                     double *coact)
{
    for (int t = 0; t < tokens; t++) {
        const int32_t *c = choice + (size_t)t * (size_t)k;
        for (int i = 0; i < k; i++) {
            if (c[i] < 0 || c[i] >= experts)
                continue;
            load[c[i]] += 1;
            /* each unordered pair once per token, written both ways so that
             * the table stays symmetric; a repeated expert is no pair */
            for (int j = i + 1; coact && j < k; j++) {
                if (c[j] < 0 || c[j] >= experts || c[j] == c[i])
                    continue;
                coact[(size_t)c[i] * (size_t)experts + (size_t)c[j]] += 1;
                coact[(size_t)c[j] * (size_t)experts + (size_t)c[i]] += 1;
            }
        }
    }
}

/* ---- by name ---- */

static const char *const strategies[] = {"contiguous", "round_robin",    "random",
                                         "balanced",   "eplb",           "topology_aware"};
#define NSTRATEGIES (int)(sizeof(strategies) / sizeof(strategies[0]))

int placement_strategy_known(const char *name)
{
    for (int i = 0; i < NSTRATEGIES; i++)
        if (name && strcmp(name, strategies[i]) == 0)
            return 1;
    return 0;
}

/* One dispatch by name, so the scenario loader, `moesim place` and a
 * dynamic re-placement all build placements the same way. */
int placement_build(placement *p, const placement_spec *sp, err_t *e)
{
    const char *s = sp->strategy ? sp->strategy : "";
    if (strcmp(s, "contiguous") == 0)
        return placement_contiguous(p, sp->experts, sp->ranks, e);
    if (strcmp(s, "round_robin") == 0)
        return placement_round_robin(p, sp->experts, sp->ranks, e);
    if (strcmp(s, "random") == 0)
        return placement_random(p, sp->experts, sp->ranks, sp->rng, e);
    if (strcmp(s, "balanced") == 0)
        return placement_balanced(p, sp->experts, sp->ranks, sp->load, e);
    if (strcmp(s, "eplb") == 0)
        return placement_eplb(p, sp->experts, sp->slots > 0 ? sp->slots : sp->experts,
                              sp->groups > 0 ? sp->groups : 1, sp->nodes > 0 ? sp->nodes : 1,
                              sp->ranks, sp->load, e);
    if (strcmp(s, "topology_aware") == 0)
        return placement_topology_aware(p, sp->experts, sp->ranks, sp->load, sp->coact,
                                        sp->rank_node, e);
    memset(p, 0, sizeof(*p));
    return err_set(e, ERR_INPUT, NULL, 0, NULL,
                   "\"%.100s\" is not a placement strategy; allowed: contiguous, round_robin, "
                   "random, balanced, eplb, topology_aware",
                   s);
}

void placement_fini(placement *p)
{
    free(p->slot_expert);
    free(p->expert_rank);
    free(p->replicas);
    free(p->slot_start);
    free(p->expert_slots);
    p->slot_expert = NULL;
    p->expert_rank = NULL;
    p->replicas = NULL;
    p->slot_start = NULL;
    p->expert_slots = NULL;
}

/* ---- loads, the replica rule, migration ---- */

/* EPLB's model of a replicated expert: its load splits evenly over its
 * replicas, which placement_pick approximates token by token. */
double placement_rank_load(const placement *p, const double *load, double *rank_load)
{
    double total = 0, max = 0;
    for (int r = 0; r < p->ranks; r++)
        rank_load[r] = 0;
    for (int s = 0; s < placement_slots(p); s++) {
        int x = p->slot_expert[s];
        rank_load[s / p->slots_per_rank] += load[x] / p->replicas[x];
    }
    for (int r = 0; r < p->ranks; r++) {
        total += rank_load[r];
        if (rank_load[r] > max)
            max = rank_load[r];
    }
    return total > 0 ? max / (total / p->ranks) : 1.0;
}

int placement_pick(const placement *p, int expert, int src_node, const int *rank_node,
                   int64_t *rank_tokens)
{
    int a = p->slot_start[expert], b = p->slot_start[expert + 1];
    int spr = p->slots_per_rank;
    int best = p->expert_slots[a];
    /* Replicas are few (a handful per hot expert), so a linear scan per
     * token is cheaper than any index; experts with one slot skip it. */
    if (b - a > 1) {
        int best_local = !rank_node || rank_node[best / spr] == src_node;
        for (int i = a + 1; i < b; i++) {
            int s = p->expert_slots[i], r = s / spr;
            int local = !rank_node || rank_node[r] == src_node;
            /* own node beats remote whatever the load: inter-node bytes are
             * the scarce ones */
            if (local != best_local) {
                if (local) {
                    best = s;
                    best_local = 1;
                }
                continue;
            }
            if (rank_tokens && rank_tokens[r] < rank_tokens[best / spr])
                best = s;
        }
    }
    if (rank_tokens)
        rank_tokens[best / spr]++;
    return best;
}

/* 1 if rank r holds expert x under p: a scan of x's few replicas. */
static int holds(const placement *p, int x, int r)
{
    for (int i = p->slot_start[x]; i < p->slot_start[x + 1]; i++)
        if (p->expert_slots[i] / p->slots_per_rank == r)
            return 1;
    return 0;
}

int placement_moves(const placement *from, const placement *to, const int *rank_node,
                    placement_move *moves, err_t *e)
{
    if (from->experts != to->experts || from->ranks != to->ranks)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "cannot move from %d experts on %d ranks to %d experts on %d ranks",
                       from->experts, from->ranks, to->experts, to->ranks);
    /* A rank keeps the weights it already has: only (expert, rank) pairs
     * new in `to` cost a copy. The slot counts of the two may differ (a
     * re-placement may add replicas), hence each side's own spr. */
    int n = 0, spr = to->slots_per_rank;
    for (int s = 0; s < placement_slots(to); s++) {
        int x = to->slot_expert[s], r = s / spr;
        if (holds(from, x, r))
            continue;
        int dup = 0; /* a second replica on the same rank copies nothing new */
        for (int t = r * spr; t < s; t++)
            dup |= to->slot_expert[t] == x;
        if (dup)
            continue;
        int src = from->expert_slots[from->slot_start[x]] / from->slots_per_rank;
        for (int i = from->slot_start[x]; rank_node && i < from->slot_start[x + 1]; i++) {
            int q = from->expert_slots[i] / from->slots_per_rank;
            if (rank_node[q] == rank_node[r]) { /* NVLink beats the NIC */
                src = q;
                break;
            }
        }
        moves[n++] = (placement_move){x, src, r};
    }
    return n;
}

/* Distinct experts rank a of p shares with rank b of q. */
static int overlap(const placement *p, int a, const placement *q, int b)
{
    int n = 0, spr = p->slots_per_rank;
    for (int i = 0; i < spr; i++) {
        int x = p->slot_expert[a * spr + i], dup = 0;
        for (int j = 0; j < i && !dup; j++)
            dup = p->slot_expert[a * spr + j] == x;
        if (!dup && holds(q, x, b))
            n++;
    }
    return n;
}

typedef struct pair {
    int n, a, b;
} pair;

static int pair_cmp(const void *x, const void *y)
{
    const pair *u = x, *v = y;
    if (u->n != v->n)
        return u->n > v->n ? -1 : 1;
    if (u->a != v->a)
        return u->a < v->a ? -1 : 1;
    return (u->b > v->b) - (u->b < v->b);
}

int placement_align(const placement *from, placement *to, const int *rank_node)
{
    int R = to->ranks, spr = to->slots_per_rank;
    if (from->experts != to->experts || from->ranks != R)
        return 0;
    /* Greedy maximum-overlap matching: pairs (new rank a, old rank b) on the
     * same node, most shared experts first (ties: lower a, then lower b);
     * new rank a then takes old rank b's place. Ranks left unmatched (no
     * pair with overlap) keep the free places in rank order. */
    pair *pairs = xcalloc((size_t)R * (size_t)R, sizeof(*pairs), "alignment");
    size_t np = 0;
    for (int a = 0; a < R; a++)
        for (int b = 0; b < R; b++) {
            if (rank_node && rank_node[a] != rank_node[b])
                continue;
            int n = overlap(to, a, from, b);
            if (n > 0)
                pairs[np++] = (pair){n, a, b};
        }
    qsort(pairs, np, sizeof(*pairs), pair_cmp);
    int *place = xcalloc((size_t)R, sizeof(*place), "alignment"); /* new rank -> place */
    int *taken = xcalloc((size_t)R, sizeof(*taken), "alignment");
    for (int a = 0; a < R; a++)
        place[a] = -1;
    for (size_t i = 0; i < np; i++)
        if (place[pairs[i].a] < 0 && !taken[pairs[i].b]) {
            place[pairs[i].a] = pairs[i].b;
            taken[pairs[i].b] = 1;
        }
    for (int a = 0; a < R; a++) { /* the rest: the first free place on the same node */
        for (int b = 0; b < R && place[a] < 0; b++)
            if (!taken[b] && (!rank_node || rank_node[a] == rank_node[b])) {
                place[a] = b;
                taken[b] = 1;
            }
    }
    int *old = xcalloc((size_t)placement_slots(to), sizeof(*old), "alignment");
    memcpy(old, to->slot_expert, (size_t)placement_slots(to) * sizeof(*old));
    int moved = 0;
    for (int a = 0; a < R; a++) {
        memcpy(to->slot_expert + (size_t)place[a] * spr, old + (size_t)a * spr,
               (size_t)spr * sizeof(*old));
        moved += place[a] != a;
    }
    placement_index(to);
    free(old);
    free(taken);
    free(place);
    free(pairs);
    return moved;
}

double placement_migration_bytes(const placement *from, const placement *to,
                                 double expert_bytes, err_t *e)
{
    placement_move *m = xcalloc((size_t)placement_slots(to), sizeof(*m), "moves");
    int n = placement_moves(from, to, NULL, m, e);
    free(m);
    return n < 0 ? -1 : n * expert_bytes;
}

/* ---- names ---- */

static const char *const strategy_names[PLACEMENT_STRATEGY_COUNT] = {"contiguous", "round_robin", "random", "balanced", "eplb", "topology_aware", "dynamic"};

const char *placement_strategy_name(placement_strategy v)
{
    return enum_name(strategy_names, PLACEMENT_STRATEGY_COUNT, (int)v);
}

int placement_strategy_parse(const char *s, placement_strategy *out)
{
    int v = enum_find(strategy_names, PLACEMENT_STRATEGY_COUNT, s);
    if (v < 0)
        return -1;
    *out = (placement_strategy)v;
    return 0;
}
