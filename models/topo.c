/*
 * topo.c - the cluster as GPUs, directed links and a fixed route per GPU pair.
 *
 * The model: every link is one direction of a physical channel, with its own
 * bandwidth, so traffic in the two directions never competes. This first
 * fabric is two-level: per GPU an NVLink up-link into its node's NVSwitch and
 * a down-link out of it, and a NIC up-link into a non-blocking inter-node
 * fabric and a down-link out of it (one NIC per GPU, GPU-direct RDMA, as on
 * HGX H100/H800 servers with eight ConnectX-7). A switch that forwards at
 * full rate is not a bottleneck, so it is not a link: a route inside a node
 * is [nvlink_up(src), nvlink_down(dst)], across nodes [nic_up(src),
 * nic_down(dst)]. The end-to-end latency of a fabric sits on the first link
 * of the route and the rest carry 0, so a route's latency (the sum) is the
 * fabric's one-way GPU-to-GPU latency.
 *
 * Invariants: link ids are dense, 0 .. nlinks-1; GPU g owns links
 * 4g .. 4g+3 in topo_link_kind order; routes are built once by route_build,
 * stored flat (CSR: pair src*G+dst owns route_links[route_off[p] ..
 * route_off[p+1])) and never change. Other fabrics (PCIe, NVLink mesh, a
 * leaf/spine tree with oversubscription, NICs shared by GPUs, rails, ECMP)
 * append their links after the per-GPU ones and change only route_build;
 * the storage and the accessors stay as they are. The cost is memory that
 * grows with G^2 (about 12 bytes per pair at two hops), hence TOPO_MAX_GPUS;
 * the way out, if ever needed, is to store routes per class of pair.
 */
#include "moesim/topo.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Links per GPU in this fabric, one per topo_link_kind. */
#define LINKS_PER_GPU 4

struct topo {
    topo_config cfg; /* as given, for the counts and for reports */
    int gpus;        /* nodes x gpus_per_node */
    int nlinks;
    topo_link *links;
    int32_t *route_off; /* gpus*gpus + 1 offsets into route_links */
    int *route_links;   /* every route's link ids, pair after pair */
};

/* Ids grouped by GPU, so a GPU's links sit together in link_bytes arrays
 * and, on a tie for the bottleneck, the lowest GPU is named. */
static int link_id(int gpu, topo_link_kind kind)
{
    return gpu * LINKS_PER_GPU + (int)kind;
}

/* The single place that decides which links a transfer crosses. Writes at
 * most TOPO_MAX_HOPS ids into out and returns the hop count. */
static int route_build(const topo_t *t, int src, int dst, int out[TOPO_MAX_HOPS])
{
    if (src == dst) /* a local copy stays in HBM */
        return 0;
    int gpn = t->cfg.gpus_per_node;
    /* Same node: the NVSwitch gives every pair one hop at full rate, so such
     * traffic never touches a NIC. Different nodes: GPU-direct RDMA from the
     * source's own NIC straight to the destination's. Forwarding through a
     * peer GPU over NVLink first (DeepEP, hierarchical all-to-all) is the
     * collective's choice, expressed as two transfers, not a route. */
    if (src / gpn == dst / gpn) {
        out[0] = link_id(src, TOPO_NVLINK_UP);
        out[1] = link_id(dst, TOPO_NVLINK_DOWN);
    } else {
        out[0] = link_id(src, TOPO_NIC_UP);
        out[1] = link_id(dst, TOPO_NIC_DOWN);
    }
    return 2;
}

/* The checks name the scenario keys, so a caller can pass e straight up;
 * the scenario loader adds file and line. */
static int check_config(const topo_config *c, err_t *e)
{
    if (c->nodes < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.nodes", "%d; allowed: >= 1", c->nodes);
    if (c->gpus_per_node < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpus_per_node", "%d; allowed: >= 1",
                       c->gpus_per_node);
    if ((long long)c->nodes * c->gpus_per_node > TOPO_MAX_GPUS)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.nodes",
                       "%d nodes x %d GPUs = %lld GPUs; allowed: at most %d GPUs in all",
                       c->nodes, c->gpus_per_node, (long long)c->nodes * c->gpus_per_node,
                       TOPO_MAX_GPUS);
    /* isfinite also refuses NaN, which every comparison would let through. */
    if (!(c->intra_bw_Bps > 0) || !isfinite(c->intra_bw_Bps))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.intra.bandwidth",
                       "%g B/s; allowed: a finite bandwidth > 0", c->intra_bw_Bps);
    if (c->intra_lat_ps < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.intra.latency",
                       "%lld ps; allowed: >= 0", (long long)c->intra_lat_ps);
    if (!(c->inter_bw_Bps > 0) || !isfinite(c->inter_bw_Bps))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter.bandwidth",
                       "%g B/s; allowed: a finite bandwidth > 0", c->inter_bw_Bps);
    if (c->inter_lat_ps < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter.latency",
                       "%lld ps; allowed: >= 0", (long long)c->inter_lat_ps);
    return 0;
}

topo_t *topo_new(const topo_config *cfg, err_t *e)
{
    if (check_config(cfg, e) != 0)
        return NULL;
    topo_t *t = xcalloc(1, sizeof(*t), "topology");
    t->cfg = *cfg;
    t->gpus = cfg->nodes * cfg->gpus_per_node;
    int G = t->gpus;

    t->nlinks = G * LINKS_PER_GPU;
    t->links = xcalloc((size_t)t->nlinks, sizeof(*t->links), "topology links");
    for (int g = 0; g < G; g++) {
        /* Latency on the first link of a route, the up-link: the figures are
         * end-to-end (DeepSeek ISCA 2025, Table 5), and splitting one over
         * the hops would invent numbers no source gives. */
        t->links[link_id(g, TOPO_NVLINK_UP)] =
            (topo_link){TOPO_NVLINK_UP, g, cfg->intra_bw_Bps, cfg->intra_lat_ps};
        t->links[link_id(g, TOPO_NVLINK_DOWN)] =
            (topo_link){TOPO_NVLINK_DOWN, g, cfg->intra_bw_Bps, 0};
        t->links[link_id(g, TOPO_NIC_UP)] =
            (topo_link){TOPO_NIC_UP, g, cfg->inter_bw_Bps, cfg->inter_lat_ps};
        t->links[link_id(g, TOPO_NIC_DOWN)] = (topo_link){TOPO_NIC_DOWN, g, cfg->inter_bw_Bps, 0};
    }

    /* Two passes over the pairs: count the hops, then fill; route_build is
     * cheap, and the table is then allocated exactly once. */
    size_t pairs = (size_t)G * (size_t)G;
    t->route_off = xcalloc(pairs + 1, sizeof(*t->route_off), "route offsets");
    int hops[TOPO_MAX_HOPS];
    int64_t total = 0;
    for (int s = 0; s < G; s++)
        for (int d = 0; d < G; d++) {
            t->route_off[(size_t)s * (size_t)G + (size_t)d] = (int32_t)total;
            total += route_build(t, s, d, hops);
        }
    t->route_off[pairs] = (int32_t)total; /* TOPO_MAX_GPUS keeps total < 2^31 */
    t->route_links = xcalloc((size_t)total, sizeof(*t->route_links), "routes");
    for (int s = 0; s < G; s++)
        for (int d = 0; d < G; d++) {
            int n = route_build(t, s, d, hops);
            int *dst = t->route_links + t->route_off[(size_t)s * (size_t)G + (size_t)d];
            for (int h = 0; h < n; h++)
                dst[h] = hops[h];
        }
    return t;
}

void topo_free(topo_t *t)
{
    if (!t)
        return;
    free(t->route_links);
    free(t->route_off);
    free(t->links);
    free(t);
}

int topo_gpus(const topo_t *t)
{
    return t->gpus;
}

int topo_nodes(const topo_t *t)
{
    return t->cfg.nodes;
}

int topo_gpus_per_node(const topo_t *t)
{
    return t->cfg.gpus_per_node;
}

int topo_node_of(const topo_t *t, int gpu)
{
    assert(gpu >= 0 && gpu < t->gpus);
    return gpu / t->cfg.gpus_per_node;
}

int topo_link_count(const topo_t *t)
{
    return t->nlinks;
}

const topo_link *topo_link_at(const topo_t *t, int id)
{
    assert(id >= 0 && id < t->nlinks);
    return &t->links[id];
}

/* Range-checked rather than asserted: callers probe for links a fabric may
 * not have (a single node's NIC, later a GPU without one of its own). */
int topo_link_of(const topo_t *t, int gpu, topo_link_kind kind)
{
    if (gpu < 0 || gpu >= t->gpus || kind < TOPO_NVLINK_UP || kind > TOPO_NIC_DOWN)
        return -1;
    return link_id(gpu, kind);
}

const char *topo_link_kind_name(topo_link_kind kind)
{
    switch (kind) {
    case TOPO_NVLINK_UP:
        return "nvlink_up";
    case TOPO_NVLINK_DOWN:
        return "nvlink_down";
    case TOPO_NIC_UP:
        return "nic_up";
    case TOPO_NIC_DOWN:
        return "nic_down";
    }
    return "?";
}

void topo_link_name(const topo_t *t, int id, char *buf, size_t n)
{
    if (n == 0)
        return;
    if (id < 0 || id >= t->nlinks) { /* a report asking about no link says so */
        snprintf(buf, n, "link%d?", id);
        return;
    }
    const topo_link *l = &t->links[id];
    /* The global GPU number, so the name matches GPU ids everywhere else. */
    snprintf(buf, n, "node%d.gpu%d.%s", l->gpu / t->cfg.gpus_per_node, l->gpu,
             topo_link_kind_name(l->kind));
}

int topo_route(const topo_t *t, int src, int dst, const int **links)
{
    /* A GPU out of range is the caller's bug (inputs are checked against
     * topo_gpus where they are read), hence an assert, not an err_t. */
    assert(src >= 0 && src < t->gpus && dst >= 0 && dst < t->gpus);
    size_t p = (size_t)src * (size_t)t->gpus + (size_t)dst;
    *links = t->route_links + t->route_off[p]; /* borrowed: no copy per lookup */
    return (int)(t->route_off[p + 1] - t->route_off[p]);
}

/* Summed over the hops although only the first carries latency today, so
 * a fabric that adds switch hops with their own delay needs no change here. */
sim_time_t topo_route_latency(const topo_t *t, int src, int dst)
{
    const int *links;
    int n = topo_route(t, src, dst, &links);
    sim_time_t lat = 0;
    for (int h = 0; h < n; h++)
        lat += t->links[links[h]].lat_ps;
    return lat;
}
