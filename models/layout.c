/*
 * layout.c - rank-to-GPU mapping for the parallel groups.
 *
 * The mapping is Megatron-Core's (megatron/core/parallel_state.py,
 * RankGenerator and generate_masked_orthogonal_rank_groups): the order string
 * lists dimensions innermost first, a GPU's coordinate along the i-th is
 * (gpu / stride_i) % size_i with stride_i the product of the sizes before it,
 * and a group is the GPUs that share every coordinate but one. Attention and
 * dense layers number GPUs on the grid (tp, dp, pp); expert layers on (etp,
 * ep, edp, pp) with the same order ("parallel folding": the expert grid
 * re-cuts the GPUs of tp x dp). With tp = pp = etp = 1 and the default order
 * EP group g is GPUs g*ep .. g*ep + ep - 1, the layout of the EP-only version.
 *
 * The two grids must agree on the pipeline: a stage holds both the attention
 * and the expert layers of its share of the model. They do whenever pp is the
 * outermost dimension (the default); otherwise the products of the sizes
 * inside pp must match, which layout_init_order checks.
 *
 * The checks repeat the scenario loader's so that the model stands on its own
 * when used as a library; its messages name every number that disagrees.
 */
#include "moesim/layout.h"

#include <stdio.h>
#include <string.h>

enum { D_TP, D_CP, D_EP, D_DP, D_PP, D_COUNT };
static const char *const dim_names[D_COUNT] = {"tp", "cp", "ep", "dp", "pp"};

/* Which grid and which named dimension each group kind varies along. */
static const struct {
    const char *name;
    int expert; /* 1: the expert grid */
    int dim;
} kinds[LAYOUT_KINDS] = {
    [LAYOUT_TP] = {"tp", 0, D_TP},   [LAYOUT_DP] = {"dp", 0, D_DP},
    [LAYOUT_PP] = {"pp", 0, D_PP},   [LAYOUT_EP] = {"ep", 1, D_EP},
    [LAYOUT_ETP] = {"etp", 1, D_TP}, [LAYOUT_EDP] = {"edp", 1, D_DP},
};

/* Parses "tp-ep-dp-pp" into l->dim; tp, ep, dp, pp must appear, cp may. */
static int parse_order(layout *l, const char *order, err_t *e)
{
    /* The scenario loader checks the same grammar with its own messages;
     * this copy lets the model stand alone (tests, `moesim place`). */
    int seen[D_COUNT] = {0};
    const char *p = order;
    snprintf(l->order, sizeof(l->order), "%s", order);
    if (strlen(order) >= sizeof(l->order))
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.order",
                       "\"%.40s...\" is too long; allowed: tp, ep, dp, pp (and cp) joined by "
                       "\"-\", such as \"" LAYOUT_DEFAULT_ORDER "\"",
                       order);
    l->ndims = 0;
    for (;;) {
        size_t n = strcspn(p, "-");
        int d = -1;
        for (int i = 0; i < D_COUNT; i++)
            if (n == 2 && strncmp(p, dim_names[i], 2) == 0)
                d = i;
        if (d < 0)
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.order",
                           "\"%s\": \"%.*s\" is not a dimension; allowed: tp, ep, dp, pp (and "
                           "cp) joined by \"-\", such as \"" LAYOUT_DEFAULT_ORDER "\"",
                           order, (int)n, p);
        if (seen[d]++)
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.order",
                           "\"%s\" names %s twice; allowed: each dimension once", order,
                           dim_names[d]);
        l->dim[l->ndims++] = d;
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    for (int d = 0; d < D_COUNT; d++)
        if (d != D_CP && !seen[d])
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.order",
                           "\"%s\" lacks %s; allowed: tp, ep, dp and pp each once (cp "
                           "optional), such as \"" LAYOUT_DEFAULT_ORDER "\"",
                           order, dim_names[d]);
    return 0;
}

/* The product of the sizes listed before pp in a grid: pp's stride. */
static int pp_stride(const layout *l, const int *size)
{
    int s = 1;
    for (int i = 0; i < l->ndims && l->dim[i] != D_PP; i++)
        s *= size[i];
    return s;
}

int layout_init(layout *l, int world, int dp, int tp, int pp, int ep, int etp, err_t *e)
{
    return layout_init_order(l, world, dp, tp, pp, ep, etp, NULL, e);
}

int layout_init_order(layout *l, int world, int dp, int tp, int pp, int ep, int etp,
                      const char *order, err_t *e)
{
    memset(l, 0, sizeof(*l));
    if (world < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.nodes", "no GPUs; allowed: >= 1");
    const struct {
        const char *key;
        int v;
    } deg[] = {{"parallel.dp", dp}, {"parallel.tp", tp}, {"parallel.pp", pp},
               {"parallel.ep", ep}, {"parallel.etp", etp}};
    for (size_t i = 0; i < sizeof(deg) / sizeof(deg[0]); i++)
        if (deg[i].v < 1)
            return err_set(e, ERR_INPUT, NULL, 0, deg[i].key, "%d; allowed: an integer >= 1",
                           deg[i].v);
    if (parse_order(l, order ? order : LAYOUT_DEFAULT_ORDER, e) < 0)
        return -1;
    /* int64: the degrees are bounded by the scenario loader, not here, and a
     * product of three large ones must not wrap into a false match */
    int64_t prod = (int64_t)dp * tp * pp;
    if (prod != world) {
        int64_t tpp = (int64_t)tp * pp;
        if (world % tpp == 0)
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.dp",
                           "dp %d x tp %d x pp %d = %lld GPUs, but the cluster has %d; with "
                           "tp %d and pp %d, dp %d fits",
                           dp, tp, pp, (long long)prod, world, tp, pp, (int)(world / tpp));
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.tp",
                       "dp %d x tp %d x pp %d = %lld GPUs, but the cluster has %d, and tp x "
                       "pp = %lld does not divide %d; allowed: tp x pp a divisor of %d",
                       dp, tp, pp, (long long)prod, world, (long long)tpp, world, world);
    }
    /* The expert grid re-cuts the GPUs of one pipeline stage (dp x tp of
     * them) into etp x ep x edp, so both expert degrees must divide it; etp
     * first, as ep's allowed values depend on it. */
    int attn = dp * tp;
    char ok[256];
    if (attn % etp != 0) {
        err_list_divisors(attn, ok, sizeof(ok));
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.etp",
                       "etp %d does not divide dp %d x tp %d = %d; allowed: a divisor of %d: %s",
                       etp, dp, tp, attn, attn, ok);
    }
    if (ep > attn / etp || (attn / etp) % ep != 0) { /* ep x etp never overflows */
        err_list_divisors(attn / etp, ok, sizeof(ok));
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.ep",
                       "ep %d x etp %d = %lld does not divide dp %d x tp %d = %d; allowed "
                       "with etp %d: ep a divisor of %d: %s",
                       ep, etp, (long long)ep * etp, dp, tp, attn, etp, attn / etp, ok);
    }
    l->world = world;
    l->dp = dp;
    l->tp = tp;
    l->pp = pp;
    l->ep = ep;
    l->etp = etp;
    l->edp = attn / (ep * etp);
    l->ep_groups = world / ep;
    for (int i = 0; i < l->ndims; i++) {
        /* ep has size 1 on the dense grid, cp on both (no context parallelism) */
        int d = l->dim[i];
        l->dense_size[i] = d == D_TP ? tp : d == D_DP ? dp : d == D_PP ? pp : 1;
        l->expert_size[i] = d == D_TP   ? etp
                            : d == D_EP ? ep
                            : d == D_DP ? l->edp
                            : d == D_PP ? pp
                                        : 1;
    }
    /* When nothing of size > 1 lies inside ep, EP group g is GPUs g*ep ..
     * g*ep + ep - 1 and the per-token lookups skip the general walk. */
    l->ep_inner = 1;
    for (int i = 0; i < l->ndims && l->dim[i] != D_EP; i++)
        l->ep_inner &= l->expert_size[i] == 1;
    /* Stages match when pp has the same stride on both grids: then a GPU's
     * stage and its stage-mates are the same whichever layer it runs. */
    int sd = pp_stride(l, l->dense_size), se = pp_stride(l, l->expert_size);
    if (pp > 1 && sd != se)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.order",
                       "\"%s\" puts pp inside other dimensions, so attention layers (%d GPUs "
                       "inside pp) and expert layers (%d) would form different pipelines; "
                       "allowed: pp last, as in \"" LAYOUT_DEFAULT_ORDER "\"",
                       l->order, sd, se);
    return 0;
}

const char *layout_kind_name(layout_kind k)
{
    return (k >= 0 && k < LAYOUT_KINDS) ? kinds[k].name : "?";
}

/* The grid and the position in the order of kind k's dimension. */
static const int *grid_of(const layout *l, layout_kind k, int *pos)
{
    *pos = 0;
    for (int i = 0; i < l->ndims; i++)
        if (l->dim[i] == kinds[k].dim)
            *pos = i;
    return kinds[k].expert ? l->expert_size : l->dense_size;
}

int layout_group_size(const layout *l, layout_kind k)
{
    int pos;
    const int *size = grid_of(l, k, &pos);
    return size[pos];
}

/* Every group of one kind has the same size, so they tile the world. */
int layout_groups(const layout *l, layout_kind k)
{
    return l->world / layout_group_size(l, k);
}

/* A GPU's rank in its group is its coordinate along the group's dimension. */
int layout_rank_in(const layout *l, layout_kind k, int gpu)
{
    int pos, stride = 1;
    const int *size = grid_of(l, k, &pos);
    for (int i = 0; i < pos; i++)
        stride *= size[i];
    return (gpu / stride) % size[pos];
}

int layout_group_of(const layout *l, layout_kind k, int gpu)
{
    int pos;
    const int *size = grid_of(l, k, &pos);
    int group = 0, mult = 1, rest = gpu;
    /* peel the coordinates off innermost first; skip the group's own */
    for (int i = 0; i < l->ndims; i++) {
        int c = rest % size[i];
        rest /= size[i];
        if (i == pos)
            continue;
        group += c * mult;
        mult *= size[i];
    }
    return group;
}

/* The inverse of group_of and rank_in: the group index is unpacked into
 * the other coordinates in the same order, the rank fills the group's own,
 * and the coordinates are packed back with the strides. */
int layout_member(const layout *l, layout_kind k, int group, int rank)
{
    int pos;
    const int *size = grid_of(l, k, &pos);
    int gpu = 0, stride = 1, rest = group;
    for (int i = 0; i < l->ndims; i++) {
        int c = rank;
        if (i != pos) {
            c = rest % size[i];
            rest /= size[i];
        }
        gpu += c * stride;
        stride *= size[i];
    }
    return gpu;
}

void layout_group_gpus(const layout *l, layout_kind k, int group, int *gpus)
{
    int n = layout_group_size(l, k);
    for (int r = 0; r < n; r++)
        gpus[r] = layout_member(l, k, group, r);
}

/* The EP lookups run per token-expert pair in the play loop: the shortcut
 * keeps the EP-only layouts (all of today's scenarios) at one division. */
int layout_ep_group(const layout *l, int gpu)
{
    if (l->ep_inner)
        return gpu / l->ep;
    return layout_group_of(l, LAYOUT_EP, gpu);
}

int layout_ep_rank(const layout *l, int gpu)
{
    if (l->ep_inner)
        return gpu % l->ep;
    return layout_rank_in(l, LAYOUT_EP, gpu);
}

int layout_gpu(const layout *l, int group, int rank)
{
    if (l->ep_inner)
        return group * l->ep + rank;
    return layout_member(l, LAYOUT_EP, group, rank);
}
