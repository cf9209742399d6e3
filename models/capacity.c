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
 * Who wins a full expert. Order priority: assignments token by token in index
 * order, each token's choices best first. Score priority (Riquelme et al.
 * 2021, batch-prioritised routing; Megatron's drop policy "probs"): the
 * scope's assignments by descending router weight, equal weights in index
 * order, so the result is a total order and no sort's stability shows.
 *
 * What happens to the loser. drop: it becomes -1 in `choice`. reroute: the
 * token's best expert by the router's scores that it does not already use
 * and that still has room, over all E (ties: lower index); -1 only when every
 * expert is full. adaptive: drop, against a per-expert capacity that follows
 * an exponential moving average of the expert's load (a serving system that
 * sizes buffers from recent traffic rather than from the uniform share).
 *
 * Invariants, per layer and batch (checked by tests/test_capacity.c):
 *   wanted[i] = served[i] - rerouted_in[i] + dropped[i] + rerouted[i],
 *   sum_i wanted[i] = tokens * k,  sum_i served[i] + sum_i dropped[i] = tokens * k,
 *   per scope, served[i] <= cap[i] (dropless: nothing is ever dropped),
 *   padding[i] = sum over scopes of cap[i] - served[i] when padded and finite.
 */
#include "moesim/capacity.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One assignment of a scope, for score priority: its weight and index. */
struct capacity_item {
    double w;
    uint32_t a;
};

void capacity_counts_init(capacity_counts *c, int experts)
{
    /* experts <= 0 still yields valid (one-byte) arrays from xcalloc, so
     * fini and a later capacity_apply error need no special case */
    size_t n = experts > 0 ? (size_t)experts : 0;
    memset(c, 0, sizeof(*c));
    c->experts = experts;
    c->wanted = xcalloc(n, sizeof(*c->wanted), "capacity counts (wanted)");
    c->served = xcalloc(n, sizeof(*c->served), "capacity counts (served)");
    c->dropped = xcalloc(n, sizeof(*c->dropped), "capacity counts (dropped)");
    c->rerouted = xcalloc(n, sizeof(*c->rerouted), "capacity counts (rerouted)");
    c->rerouted_in = xcalloc(n, sizeof(*c->rerouted_in), "capacity counts (rerouted in)");
    c->padding = xcalloc(n, sizeof(*c->padding), "capacity counts (padding)");
    c->cap = xcalloc(n, sizeof(*c->cap), "capacity per expert");
    c->ema = xcalloc(n, sizeof(*c->ema), "adaptive capacity average");
    c->load = xcalloc(n, sizeof(*c->load), "capacity scope load");
}

void capacity_counts_fini(capacity_counts *c)
{
    if (!c)
        return;
    free(c->wanted);
    free(c->served);
    free(c->dropped);
    free(c->rerouted);
    free(c->rerouted_in);
    free(c->padding);
    free(c->cap);
    free(c->ema);
    free(c->load);
    free(c->order);
    memset(c, 0, sizeof(*c));
}

int capacity_check(const capacity_config *cfg, err_t *e)
{
    switch (cfg->overflow) {
    case CAPACITY_DROP:
    case CAPACITY_REROUTE:
    case CAPACITY_ADAPTIVE:
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
                       "unknown overflow policy %d; allowed: drop, reroute, dropless, adaptive",
                       (int)cfg->overflow);
    }
    if (cfg->overflow == CAPACITY_ADAPTIVE) {
        if (!(cfg->margin > 0) || !isfinite(cfg->margin))
            return err_set(e, ERR_INPUT, NULL, 0, "model.router.margin",
                           "%g; allowed: a number > 0", cfg->margin);
        if (!(cfg->ema > 0 && cfg->ema <= 1))
            return err_set(e, ERR_INPUT, NULL, 0, "model.router.ema",
                           "%g; allowed: a number in (0, 1]", cfg->ema);
        if (!(cfg->min_factor > 0) || !isfinite(cfg->min_factor))
            return err_set(e, ERR_INPUT, NULL, 0, "model.router.min_factor",
                           "%g; allowed: a number > 0", cfg->min_factor);
        if (!(cfg->max_factor >= cfg->min_factor) || !isfinite(cfg->max_factor))
            return err_set(e, ERR_INPUT, NULL, 0, "model.router.max_factor",
                           "%g; allowed: a number >= model.router.min_factor (%g)",
                           cfg->max_factor, cfg->min_factor);
    }
    if (cfg->scope != CAPACITY_SCOPE_RANK && cfg->scope != CAPACITY_SCOPE_GLOBAL)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.capacity_scope",
                       "unknown scope %d; allowed: rank, global", (int)cfg->scope);
    if (cfg->priority != CAPACITY_ORDER && cfg->priority != CAPACITY_SCORE)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.priority",
                       "unknown priority %d; allowed: order, score", (int)cfg->priority);
    if (cfg->min_capacity < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.min_capacity",
                       "%lld; allowed: >= 0", (long long)cfg->min_capacity);
    return 0;
}

/* ceil(v), but a v within a relative 1e-9 of an integer is that integer:
 * tokens * k is exact, the division and the factor are not (10 * 1.1 is
 * 11.000000000000002 in binary, and a bare ceil would give 12 where the
 * definition says 11). No real capacity lives that close to an integer by
 * design. */
static int64_t ceil_exactish(double v)
{
    if (v >= 9.2e18)
        return INT64_MAX;
    double r = nearbyint(v);
    return (int64_t)(fabs(v - r) <= 1e-9 * fmax(1.0, v) ? r : ceil(v));
}

int64_t capacity_of(const capacity_config *cfg, int64_t tokens, int top_k, int experts)
{
    if (cfg->overflow == CAPACITY_DROPLESS)
        return INT64_MAX;
    if (tokens <= 0 || top_k <= 0 || experts <= 0) /* an empty scope: only the floor */
        return cfg->min_capacity > 0 ? cfg->min_capacity : 0;
    int64_t cap =
        ceil_exactish((double)tokens * (double)top_k / (double)experts * cfg->factor);
    return cap > cfg->min_capacity ? cap : cfg->min_capacity;
}

/* Higher weight first, then lower assignment index: a total order. */
static int item_cmp(const void *pa, const void *pb)
{
    const struct capacity_item *a = pa, *b = pb;
    if (a->w != b->w)
        return a->w > b->w ? -1 : 1;
    return (a->a > b->a) - (a->a < b->a);
}

/* Per-expert capacity of this batch: the uniform one, or adaptive's bounded
 * average. share is the uniform expected load of one expert in one scope.
 * The bounds keep adaptive honest: without min_factor an expert that went
 * cold would keep almost no slots when its traffic returns; without
 * max_factor one hot batch would size a buffer for the worst case forever.
 * counts->capacity reports the largest, which is the uniform capacity for
 * every policy but adaptive. */
static void set_caps(const capacity_config *cfg, capacity_counts *c, int64_t scope_tokens,
                     int k, int E)
{
    const int64_t uniform = capacity_of(cfg, scope_tokens, k, E);
    int64_t max = 0;
    const double share = (double)scope_tokens * k / E;
    if (cfg->overflow == CAPACITY_ADAPTIVE && !c->ema_ready) {
        for (int i = 0; i < E; i++)
            c->ema[i] = share; /* no history yet: assume the uniform share */
        c->ema_ready = 1;
    }
    for (int i = 0; i < E; i++) {
        int64_t cap = uniform;
        if (cfg->overflow == CAPACITY_ADAPTIVE) {
            double v = fmin(fmax(c->ema[i] * cfg->margin, cfg->min_factor * share),
                            cfg->max_factor * share);
            cap = ceil_exactish(v);
            cap = cap > cfg->min_capacity ? cap : cfg->min_capacity;
        }
        c->cap[i] = cap;
        max = cap > max ? cap : max;
    }
    c->capacity = max;
}

/* The token's best expert by score that it does not already use and that has
 * room in this scope, or -1. Ties go to the lower index. A linear scan over
 * all E per overflowing assignment: overflow is a minority of assignments
 * and E at most a few hundred, so a per-token sorted ranking (E log E for
 * every token, overflowing or not) would cost more. `mine` holds the token's
 * current choices, so a reroute never lands on an expert the token already
 * uses, including one it was rerouted to a moment ago. */
static int32_t next_best(const double *score, const int32_t *mine, int k, const int64_t *load,
                         const int64_t *cap, int E)
{
    int32_t best = -1;
    for (int32_t y = 0; y < E; y++) {
        if (load[y] >= cap[y] || (best >= 0 && !(score[y] > score[best])))
            continue;
        int used = 0;
        for (int j = 0; j < k; j++)
            used |= mine[j] == y;
        if (!used)
            best = y;
    }
    return best;
}

int capacity_apply(const capacity_config *cfg, int experts, int top_k, int ranks,
                   int tokens_per_rank, int32_t *choice, const double *weight,
                   const double *scores, capacity_counts *counts, err_t *e)
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
    if (cfg->priority == CAPACITY_SCORE && !weight)
        return err_set(e, ERR_RUN, NULL, 0, "model.router.priority",
                       "score priority needs the router's weights; none were given");
    if (cfg->overflow == CAPACITY_REROUTE && !scores)
        return err_set(e, ERR_RUN, NULL, 0, "model.router.overflow",
                       "reroute needs the router's scores; none were given");

    /* Counts are per call (this layer, this batch); the caller sums them over
     * batches. Only ema survives from call to call. */
    const size_t E = (size_t)experts, k = (size_t)top_k;
    int64_t *arrays[] = {counts->wanted, counts->served, counts->dropped, counts->rerouted,
                         counts->rerouted_in, counts->padding};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        memset(arrays[i], 0, E * sizeof(int64_t));

    const int per_rank = cfg->scope == CAPACITY_SCOPE_RANK;
    const int nscopes = per_rank ? ranks : 1;
    const size_t scope_tokens = per_rank ? (size_t)tokens_per_rank
                                         : (size_t)ranks * (size_t)tokens_per_rank;
    const size_t n = scope_tokens * k; /* assignments per scope */
    set_caps(cfg, counts, (int64_t)scope_tokens, top_k, experts);
    counts->scopes = nscopes;
    const int dropless = cfg->overflow == CAPACITY_DROPLESS;
    const int reroute = cfg->overflow == CAPACITY_REROUTE;
    const int by_score = cfg->priority == CAPACITY_SCORE;
    if (by_score && n > counts->order_cap) { /* grows once to the largest scope */
        free(counts->order);
        counts->order = xcalloc(n, sizeof(*counts->order), "capacity score order");
        counts->order_cap = n;
    }

    /* Wanted first, over everything: a bad index fails before any rewrite,
     * and wanted is what the router chose whatever happens next. */
    for (size_t a = 0; a < (size_t)nscopes * n; a++) {
        int32_t x = choice[a];
        if (x < 0)
            continue; /* already dropped upstream: not wanted here */
        if (x >= experts)
            return err_set(e, ERR_INPUT, NULL, 0, NULL,
                           "token %zu chose expert %d; allowed: 0 to %d", a / k, (int)x,
                           experts - 1);
        counts->wanted[x]++;
    }

    /* Scope by scope: with rank scope every rank starts from empty experts
     * (its own budget); with global scope the one pass covers the batch.
     * `load` is the scope's running count per expert, the quantity the
     * capacity bounds. */
    for (int sc = 0; sc < nscopes; sc++) {
        int32_t *c = choice + (size_t)sc * n;
        const size_t a0 = (size_t)sc * n; /* global index of the scope's first */
        memset(counts->load, 0, E * sizeof(*counts->load));
        if (by_score && n > 0) {
            for (size_t a = 0; a < n; a++)
                counts->order[a] = (struct capacity_item){weight[a0 + a], (uint32_t)a};
            qsort(counts->order, n, sizeof(*counts->order), item_cmp);
        }
        int64_t *load = counts->load;
        const int64_t *cap = counts->cap;
        if (!by_score && !reroute) {
            /* Arrival order, drop or dropless: the common case, branch-free
             * (whether an expert is full changes unpredictably, and a
             * mispredicted branch per assignment cost more than the rest). */
            for (size_t a = 0; a < n; a++) {
                const int32_t x = c[a];
                if (x < 0)
                    continue;
                const int keep = dropless || load[x] < cap[x];
                load[x] += keep;
                counts->dropped[x] += !keep;
                c[a] = keep ? x : -1;
            }
        } else {
            for (size_t q = 0; q < n; q++) {
                const size_t a = by_score ? counts->order[q].a : q;
                const int32_t x = c[a];
                if (x < 0)
                    continue;
                /* room left: keep it where the router put it */
                if (dropless || load[x] < cap[x]) {
                    load[x]++;
                    continue;
                }
                /* x is full for this scope: move the assignment, or drop it */
                const size_t t = a / k;
                int32_t y = -1;
                if (reroute)
                    y = next_best(scores + (a0 / k + t) * E, c + t * k, top_k, load, cap,
                                  experts);
                if (y >= 0) {
                    c[a] = y;
                    load[y]++;
                    counts->rerouted[x]++;
                    counts->rerouted_in[y]++;
                } else {
                    c[a] = -1;
                    counts->dropped[x]++;
                }
            }
        }
        /* Every assignment an expert processes, kept or rerouted in, is one
         * unit of its scope's load and nothing else is: served is the sum of
         * the scopes' loads. */
        for (size_t i = 0; i < E; i++)
            counts->served[i] += load[i];
        /* the padded kernel computes cap slots whether filled or not; the
         * difference is the waste the issue asks to report */
        if (cfg->pad_to_capacity && !dropless)
            for (size_t i = 0; i < E; i++) /* saturating: min_capacity may be 2^63 - 1 */
                counts->padding[i] = sat_add(counts->padding[i], counts->cap[i] - counts->load[i]);
    }

    /* The average follows what the router wanted, not what was served: a
     * capacity that followed served load would never grow past itself. */
    if (cfg->overflow == CAPACITY_ADAPTIVE) /* per scope, so ranks compare */
        for (size_t i = 0; i < E; i++)
            counts->ema[i] = cfg->ema * ((double)counts->wanted[i] / nscopes) +
                             (1.0 - cfg->ema) * counts->ema[i];
    return 0;
}

/* ---- names ---- */

static const char *const scope_names[CAPACITY_SCOPE_COUNT] = {"rank", "global"};

const char *capacity_scope_name(capacity_scope v)
{
    return enum_name(scope_names, CAPACITY_SCOPE_COUNT, (int)v);
}

int capacity_scope_parse(const char *s, capacity_scope *out)
{
    int v = enum_find(scope_names, CAPACITY_SCOPE_COUNT, s);
    if (v < 0)
        return -1;
    *out = (capacity_scope)v;
    return 0;
}

static const char *const overflow_names[CAPACITY_OVERFLOW_COUNT] = {"drop", "dropless", "reroute", "adaptive"};

const char *capacity_overflow_name(capacity_overflow v)
{
    return enum_name(overflow_names, CAPACITY_OVERFLOW_COUNT, (int)v);
}

int capacity_overflow_parse(const char *s, capacity_overflow *out)
{
    int v = enum_find(overflow_names, CAPACITY_OVERFLOW_COUNT, s);
    if (v < 0)
        return -1;
    *out = (capacity_overflow)v;
    return 0;
}

static const char *const priority_names[CAPACITY_PRIORITY_COUNT] = {"order", "score"};

const char *capacity_priority_name(capacity_priority v)
{
    return enum_name(priority_names, CAPACITY_PRIORITY_COUNT, (int)v);
}

int capacity_priority_parse(const char *s, capacity_priority *out)
{
    int v = enum_find(priority_names, CAPACITY_PRIORITY_COUNT, s);
    if (v < 0)
        return -1;
    *out = (capacity_priority)v;
    return 0;
}
