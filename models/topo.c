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
 * 4g .. 4g+3 in topo_link_kind order; a route is a pure function of the
 * shape and the pair (route_build), so it never changes and needs no table. The other shapes append their links
 * after the per-GPU ones (mesh links, PCIe switch uplinks, leaf-to-spine
 * links, in that order) and change only route_build: a mesh splits a GPU's
 * NVLink evenly over its peers; PCIe GPUs under one switch talk below it,
 * others through both switches' uplinks to the root; a shared NIC is the
 * one in the slot of the first GPU of its run; a leaf's uplinks carry its
 * NICs' bandwidth / oversubscription, split over the spines, one of which
 * a fixed hash of the pair picks (deterministic ECMP, so runs repeat).
 * Routes were once a table of every pair (12 bytes a pair: 3 GiB and a
 * minute of setup at 16,384 GPUs); building one costs a few integer
 * operations, less than the cache miss of looking it up.
 */
#include "moesim/topo.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* Links every GPU owns, one per kind up to TOPO_NIC_DOWN (PCIe reuses the
 * two NVLink slots for its GPU-to-switch links). */
#define LINKS_PER_GPU 4

struct topo {
    topo_config cfg; /* as given, zeros replaced by their defaults */
    int gpus;        /* nodes x gpus_per_node */
    /* where the appended links start (ids), and their shapes */
    int mesh_base;   /* nvlink_mesh: G x (gpn - 1) links */
    int root_base;   /* pcie: 2 per PCIe switch */
    int sw_per_node;
    int spine_base;  /* fat_tree/rail: 2 x spines per leaf */
    int leaves;
    double spine_bw;
    int nlinks;
    topo_link *links;
};

/* Ids grouped by GPU, so a GPU's links sit together in link_bytes arrays
 * and, on a tie for the bottleneck, the lowest GPU is named. */
static int link_id(int gpu, topo_link_kind kind)
{
    return gpu * LINKS_PER_GPU + (int)kind;
}

/* The GPU whose NIC slot GPU g's traffic uses: itself with a NIC per GPU;
 * with fewer NICs, local GPUs are split into equal runs, each run sharing
 * the NIC of its first GPU (GPUs nearest on the PCIe tree share a NIC). */
static int nic_owner(const topo_t *t, int g)
{
    int gpn = t->cfg.gpus_per_node, nics = t->cfg.nics_per_node;
    int local = g % gpn, i = local * nics / gpn;
    return g - local + (i * gpn + nics - 1) / nics; /* first local l with l*nics/gpn == i */
}

/* The NIC index of GPU g in its node (its rail). */
static int nic_index(const topo_t *t, int g)
{
    return g % t->cfg.gpus_per_node * t->cfg.nics_per_node / t->cfg.gpus_per_node;
}

/* Deterministic ECMP: a fixed mix of the pair picks one of n equal paths,
 * so routes never change between runs and pairs spread evenly over spines. */
static int ecmp(int src, int dst, int n)
{
    uint64_t x = (uint64_t)(uint32_t)src * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uint32_t)dst;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 29;
    return (int)(x % (uint64_t)n);
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
     * source's NIC to the destination's. Forwarding through a peer GPU over
     * NVLink first (DeepEP, hierarchical all-to-all) is the collective's
     * choice, expressed as two transfers, not a route. */
    if (src / gpn == dst / gpn) {
        int ls = src % gpn, ld = dst % gpn;
        switch (t->cfg.intra) {
        case TOPO_INTRA_NVSWITCH:
            out[0] = link_id(src, TOPO_NVLINK_UP);
            out[1] = link_id(dst, TOPO_NVLINK_DOWN);
            return 2;
        case TOPO_INTRA_NVLINK_MESH: /* one direct link, no switch */
            out[0] = t->mesh_base + src * (gpn - 1) + (ld < ls ? ld : ld - 1);
            return 1;
        case TOPO_INTRA_PCIE: {
            int gps = t->cfg.gpus_per_switch, node = src / gpn;
            int ss = ls / gps, sd = ld / gps;
            out[0] = link_id(src, TOPO_NVLINK_UP);
            if (ss == sd) { /* peer-to-peer under one switch stays below the root */
                out[1] = link_id(dst, TOPO_NVLINK_DOWN);
                return 2;
            }
            /* across switches through the root complex: the switches' uplinks
             * are shared by every GPU under them */
            out[1] = t->root_base + 2 * (node * t->sw_per_node + ss);
            out[2] = t->root_base + 2 * (node * t->sw_per_node + sd) + 1;
            out[3] = link_id(dst, TOPO_NVLINK_DOWN);
            return 4;
        }
        case TOPO_INTRA_COUNT: /* not a kind; no scenario sets it */
            break;
        }
    }
    int n = 0;
    out[n++] = link_id(nic_owner(t, src), TOPO_NIC_UP);
    int ls = -1, ld = -1; /* leaves; equal (or none): no spine on the way */
    if (t->cfg.fabric == TOPO_FABRIC_FAT_TREE) {
        ls = src / gpn / t->cfg.nodes_per_leaf;
        ld = dst / gpn / t->cfg.nodes_per_leaf;
    } else if (t->cfg.fabric == TOPO_FABRIC_RAIL) {
        ls = nic_index(t, src); /* rail i: NIC i of every node on leaf i */
        ld = nic_index(t, dst);
    }
    if (ls != ld) {
        int k = ecmp(src, dst, t->cfg.spines);
        out[n++] = t->spine_base + 2 * (ls * t->cfg.spines + k);
        out[n++] = t->spine_base + 2 * (ld * t->cfg.spines + k) + 1;
    }
    out[n++] = link_id(nic_owner(t, dst), TOPO_NIC_DOWN);
    return n;
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
    if (!(c->intra_eff >= 0 && c->intra_eff <= 1))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.intra.efficiency",
                       "%g; allowed: a fraction in (0, 1]", c->intra_eff);
    if (!(c->inter_eff >= 0 && c->inter_eff <= 1))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter.efficiency",
                       "%g; allowed: a fraction in (0, 1]", c->inter_eff);
    if (c->nics_per_node < 0 || c->nics_per_node > c->gpus_per_node)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter.nics_per_node",
                       "%d; allowed: 1 to cluster.gpus_per_node (%d)", c->nics_per_node,
                       c->gpus_per_node);
    if (c->gpus_per_switch < 0 || c->nodes_per_leaf < 0 || c->spines < 0 ||
        c->spine_lat_ps < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter",
                       "negative switch count or latency; allowed: >= 0");
    if (!(c->oversubscription == 0 || c->oversubscription >= 1))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.inter.oversubscription",
                       "%g; allowed: >= 1 (1: non-blocking)", c->oversubscription);
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

    /* Zeros in the config stand for the defaults of the first fabric. */
    topo_config *c = &t->cfg;
    int gpn = c->gpus_per_node;
    if (c->gpus_per_switch == 0)
        c->gpus_per_switch = 2; /* two GPUs per PCIe switch, as on DGX-1/A100 boards */
    if (c->nics_per_node == 0)
        c->nics_per_node = gpn;
    if (c->oversubscription == 0)
        c->oversubscription = 1;
    if (c->nodes_per_leaf == 0)
        c->nodes_per_leaf = 16;
    if (c->spines == 0)
        c->spines = 1;
    t->sw_per_node = (gpn + c->gpus_per_switch - 1) / c->gpus_per_switch;
    t->mesh_base = G * LINKS_PER_GPU;
    int nmesh = c->intra == TOPO_INTRA_NVLINK_MESH ? G * (gpn - 1) : 0;
    t->root_base = t->mesh_base + nmesh;
    int nroot = c->intra == TOPO_INTRA_PCIE ? 2 * c->nodes * t->sw_per_node : 0;
    t->spine_base = t->root_base + nroot;
    /* A leaf's uplinks carry at most what its NICs can send, divided by the
     * oversubscription; spread over the spines, one ECMP path each. */
    int leaf_nics = 0;
    if (c->fabric == TOPO_FABRIC_FAT_TREE) {
        t->leaves = (c->nodes + c->nodes_per_leaf - 1) / c->nodes_per_leaf;
        leaf_nics = (c->nodes < c->nodes_per_leaf ? c->nodes : c->nodes_per_leaf) *
                    c->nics_per_node;
    } else if (c->fabric == TOPO_FABRIC_RAIL) {
        t->leaves = c->nics_per_node;
        leaf_nics = c->nodes;
    }
    t->spine_bw = leaf_nics * c->inter_bw_Bps / c->oversubscription / c->spines;
    t->nlinks = t->spine_base + 2 * t->leaves * c->spines;
    t->links = xcalloc((size_t)t->nlinks, sizeof(*t->links), "topology links");
    /* Efficiency 0 stands for "not given": the line rate, as before the
     * factors existed, so tests and configs that predate them keep their times. */
    double ie = cfg->intra_eff > 0 ? cfg->intra_eff : 1.0;
    double xe = cfg->inter_eff > 0 ? cfg->inter_eff : 1.0;
    for (int g = 0; g < G; g++) {
        /* Latency on the first link of a route, the up-link: the figures are
         * end-to-end (DeepSeek ISCA 2025, Table 5), and splitting one over
         * the hops would invent numbers no source gives. */
        int pcie = c->intra == TOPO_INTRA_PCIE;
        t->links[link_id(g, TOPO_NVLINK_UP)] =
            (topo_link){.kind = pcie ? TOPO_PCIE_UP : TOPO_NVLINK_UP, .gpu = g,
                        .bw_Bps = cfg->intra_bw_Bps, .eff = ie, .lat_ps = cfg->intra_lat_ps};
        t->links[link_id(g, TOPO_NVLINK_DOWN)] =
            (topo_link){.kind = pcie ? TOPO_PCIE_DOWN : TOPO_NVLINK_DOWN, .gpu = g,
                        .bw_Bps = cfg->intra_bw_Bps, .eff = ie};
        t->links[link_id(g, TOPO_NIC_UP)] =
            (topo_link){.kind = TOPO_NIC_UP, .gpu = g, .bw_Bps = cfg->inter_bw_Bps, .eff = xe,
                        .lat_ps = cfg->inter_lat_ps};
        t->links[link_id(g, TOPO_NIC_DOWN)] =
            (topo_link){.kind = TOPO_NIC_DOWN, .gpu = g, .bw_Bps = cfg->inter_bw_Bps, .eff = xe};
        /* A mesh splits a GPU's NVLink lanes evenly over its peers, as on
         * MI300X (7 x 64 GB/s) or DGX-1-style boards: each pair gets its own
         * fixed share, which no other pair can borrow. */
        for (int j = 0; nmesh && j < gpn - 1; j++) {
            int peer = g - g % gpn + (j < g % gpn ? j : j + 1);
            t->links[t->mesh_base + g * (gpn - 1) + j] =
                (topo_link){.kind = TOPO_MESH, .gpu = g, .aux = peer,
                            .bw_Bps = cfg->intra_bw_Bps / (gpn - 1), .eff = ie,
                            .lat_ps = cfg->intra_lat_ps};
        }
    }
    /* A PCIe switch's uplink is one x16 link like each GPU's: the GPUs under
     * it share it when they talk across the root complex. */
    for (int sw = 0; sw < nroot / 2; sw++) {
        int first = sw / t->sw_per_node * gpn + sw % t->sw_per_node * c->gpus_per_switch;
        t->links[t->root_base + 2 * sw] =
            (topo_link){.kind = TOPO_ROOT_UP, .gpu = first, .aux = sw % t->sw_per_node,
                        .bw_Bps = cfg->intra_bw_Bps, .eff = ie};
        t->links[t->root_base + 2 * sw + 1] =
            (topo_link){.kind = TOPO_ROOT_DOWN, .gpu = first, .aux = sw % t->sw_per_node,
                        .bw_Bps = cfg->intra_bw_Bps, .eff = ie};
    }
    /* Crossing leaves costs the spine's extra latency, on the up-link. */
    for (int l = 0; l < t->leaves; l++)
        for (int k = 0; k < c->spines; k++) {
            int id = t->spine_base + 2 * (l * c->spines + k);
            t->links[id] = (topo_link){.kind = TOPO_SPINE_UP, .gpu = l, .aux = k,
                                       .bw_Bps = t->spine_bw, .eff = xe,
                                       .lat_ps = c->spine_lat_ps};
            t->links[id + 1] = (topo_link){.kind = TOPO_SPINE_DOWN, .gpu = l, .aux = k,
                                           .bw_Bps = t->spine_bw, .eff = xe};
        }

    return t;
}

void topo_free(topo_t *t)
{
    if (!t)
        return;
    free(t->links);
    free(t);
}

double topo_link_rate(const topo_link *l)
{
    return l->bw_Bps * l->eff;
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
    if (kind == TOPO_NIC_UP || kind == TOPO_NIC_DOWN) /* a shared NIC: its owner's */
        gpu = nic_owner(t, gpu);
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
    case TOPO_MESH:
        return "mesh";
    case TOPO_PCIE_UP:
        return "pcie_up";
    case TOPO_PCIE_DOWN:
        return "pcie_down";
    case TOPO_ROOT_UP:
        return "root_up";
    case TOPO_ROOT_DOWN:
        return "root_down";
    case TOPO_SPINE_UP:
        return "spine_up";
    case TOPO_SPINE_DOWN:
        return "spine_down";
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
    if (l->kind == TOPO_SPINE_UP || l->kind == TOPO_SPINE_DOWN) {
        snprintf(buf, n, "leaf%d.spine%d.%s", l->gpu, l->aux, topo_link_kind_name(l->kind));
        return;
    }
    if (l->kind == TOPO_MESH) {
        snprintf(buf, n, "node%d.gpu%d.mesh_to_gpu%d", l->gpu / t->cfg.gpus_per_node, l->gpu,
                 l->aux);
        return;
    }
    if (l->kind == TOPO_ROOT_UP || l->kind == TOPO_ROOT_DOWN) {
        snprintf(buf, n, "node%d.pcie_switch%d.%s", l->gpu / t->cfg.gpus_per_node, l->aux,
                 topo_link_kind_name(l->kind));
        return;
    }
    /* The global GPU number, so the name matches GPU ids everywhere else. */
    snprintf(buf, n, "node%d.gpu%d.%s", l->gpu / t->cfg.gpus_per_node, l->gpu,
             topo_link_kind_name(l->kind));
}

int topo_route(const topo_t *t, int src, int dst, int links[TOPO_MAX_HOPS])
{
    /* A GPU out of range is the caller's bug (inputs are checked against
     * topo_gpus where they are read), hence an assert, not an err_t. */
    assert(src >= 0 && src < t->gpus && dst >= 0 && dst < t->gpus);
    return route_build(t, src, dst, links);
}

/* Summed over the hops although only the first carries latency today, so
 * a fabric that adds switch hops with their own delay needs no change here. */
sim_time_t topo_route_latency(const topo_t *t, int src, int dst)
{
    int links[TOPO_MAX_HOPS];
    int n = topo_route(t, src, dst, links);
    sim_time_t lat = 0;
    for (int h = 0; h < n; h++)
        lat += t->links[links[h]].lat_ps;
    return lat;
}

/* ---- names ---- */

static const char *const intra_names[TOPO_INTRA_COUNT] = {"nvswitch", "pcie", "nvlink_mesh"};

const char *topo_intra_name(topo_intra v)
{
    return enum_name(intra_names, TOPO_INTRA_COUNT, (int)v);
}

int topo_intra_parse(const char *s, topo_intra *out)
{
    int v = enum_find(intra_names, TOPO_INTRA_COUNT, s);
    if (v < 0)
        return -1;
    *out = (topo_intra)v;
    return 0;
}

static const char *const fabric_names[TOPO_FABRIC_COUNT] = {"single_switch", "fat_tree", "rail_optimized"};

const char *topo_fabric_name(topo_fabric v)
{
    return enum_name(fabric_names, TOPO_FABRIC_COUNT, (int)v);
}

int topo_fabric_parse(const char *s, topo_fabric *out)
{
    int v = enum_find(fabric_names, TOPO_FABRIC_COUNT, s);
    if (v < 0)
        return -1;
    *out = (topo_fabric)v;
    return 0;
}

static const char *const inter_names[TOPO_INTER_COUNT] = {"ib", "roce"};

const char *topo_inter_name(topo_inter v)
{
    return enum_name(inter_names, TOPO_INTER_COUNT, (int)v);
}

int topo_inter_parse(const char *s, topo_inter *out)
{
    int v = enum_find(inter_names, TOPO_INTER_COUNT, s);
    if (v < 0)
        return -1;
    *out = (topo_inter)v;
    return 0;
}
