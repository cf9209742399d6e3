/*
 * layout.c - rank-to-GPU mapping for the parallel groups.
 *
 * With tp = pp = 1 the mapping is the identity for data parallelism and
 * contiguous blocks for expert parallelism: EP group g is GPUs g*ep .. g*ep +
 * ep - 1. The checks repeat the scenario loader's so that the model stands on
 * its own when used as a library.
 */
#include "moesim/layout.h"

int layout_init(layout *l, int world, int dp, int tp, int pp, int ep, int etp, err_t *e)
{
    if (world < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.nodes", "no GPUs; allowed: >= 1");
    if (tp != 1 || pp != 1 || etp != 1)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.tp",
                       "tensor, pipeline and expert-tensor parallelism are not available in "
                       "this version; allowed: 1");
    if (dp * tp * pp != world)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.dp",
                       "dp %d x tp %d x pp %d = %d GPUs, but the cluster has %d", dp, tp, pp,
                       dp * tp * pp, world);
    if (ep < 1 || dp % ep != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.ep",
                       "%d does not divide parallel.dp (%d); allowed: a divisor of %d", ep, dp,
                       dp);
    l->world = world;
    l->dp = dp;
    l->tp = tp;
    l->pp = pp;
    l->ep = ep;
    l->etp = etp;
    l->ep_groups = dp / ep;
    return 0;
}

int layout_ep_group(const layout *l, int gpu)
{
    return gpu / l->ep;
}

int layout_ep_rank(const layout *l, int gpu)
{
    return gpu % l->ep;
}

int layout_gpu(const layout *l, int group, int rank)
{
    return group * l->ep + rank;
}
