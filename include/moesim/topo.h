/*
 * topo.h - the cluster's GPUs and links, and the route between any two GPUs.
 *
 * First topology: `nodes` nodes of `gpus_per_node` GPUs. Inside a node every
 * GPU has its own up-link to and down-link from the node's NVSwitch (full
 * duplex: the two directions are separate links). Between nodes every GPU has
 * its own NIC (GPU-direct RDMA), with an up-link into and a down-link out of a
 * non-blocking fabric. A route within a node is [nvlink up of src, nvlink down
 * of dst]; across nodes [nic up of src, nic down of dst]. A link's latency is
 * charged on the first link of a route: `intra_lat_ps` / `inter_lat_ps` are
 * the one-way GPU-to-GPU latencies of the two fabrics. Routes are fixed at
 * construction. GPU g sits in node g / gpus_per_node.
 */
#ifndef MOESIM_TOPO_H
#define MOESIM_TOPO_H

#include "moesim/base.h"

typedef struct topo topo_t;

#define TOPO_MAX_HOPS 8
/* The route table holds one route per GPU pair (about 12 bytes a pair at two
 * hops): 16,384 GPUs, the largest fabric DeepSeek describes, take ~3 GiB. */
#define TOPO_MAX_GPUS 16384

typedef enum topo_link_kind {
    TOPO_NVLINK_UP,   /* GPU -> its node's switch */
    TOPO_NVLINK_DOWN, /* switch -> GPU */
    TOPO_NIC_UP,      /* GPU's NIC -> fabric */
    TOPO_NIC_DOWN     /* fabric -> GPU's NIC */
} topo_link_kind;

typedef struct topo_link {
    topo_link_kind kind;
    int gpu;          /* the GPU this link belongs to */
    double bw_Bps;    /* bytes per second, one direction */
    sim_time_t lat_ps;
} topo_link;

typedef struct topo_config {
    int nodes;         /* >= 1 */
    int gpus_per_node; /* >= 1 */
    double intra_bw_Bps;     /* per GPU, per direction, into the node switch */
    sim_time_t intra_lat_ps; /* one-way GPU-to-GPU latency inside a node */
    double inter_bw_Bps;     /* per NIC, per direction */
    sim_time_t inter_lat_ps; /* one-way GPU-to-GPU latency across nodes */
} topo_config;

/* Builds the topology; NULL with e filled (ERR_INPUT, key "cluster.nodes",
 * "cluster.gpus_per_node", "cluster.intra.bandwidth", "cluster.intra.latency",
 * "cluster.inter.bandwidth" or "cluster.inter.latency") if a count or
 * bandwidth is not positive, a latency is negative or there are more than
 * TOPO_MAX_GPUS GPUs. Caller frees with topo_free (NULL: no-op). */
topo_t *topo_new(const topo_config *cfg, err_t *e);
void topo_free(topo_t *t);

int topo_gpus(const topo_t *t);
int topo_nodes(const topo_t *t);
int topo_gpus_per_node(const topo_t *t);
int topo_node_of(const topo_t *t, int gpu);
int topo_link_count(const topo_t *t);
/* Borrowed; valid until topo_free. */
const topo_link *topo_link_at(const topo_t *t, int id);
/* The id of GPU gpu's link of the given kind, -1 if out of range. */
int topo_link_of(const topo_t *t, int gpu, topo_link_kind kind);
/* "nvlink_up", "nvlink_down", "nic_up", "nic_down" (static strings). */
const char *topo_link_kind_name(topo_link_kind kind);
/* A short name such as "node0.gpu3.nvlink_up" for reports (the GPU number is
 * the global one: node1.gpu9 with 8 GPUs a node); writes at most n bytes. */
void topo_link_name(const topo_t *t, int id, char *buf, size_t n);

/* The links from src to dst (src != dst), in order; returns the hop count
 * (<= TOPO_MAX_HOPS) and sets *links to a borrowed array valid until
 * topo_free. Returns 0 when src == dst (a local copy uses no link). */
int topo_route(const topo_t *t, int src, int dst, const int **links);
/* Sum of the latencies of the route's links. */
sim_time_t topo_route_latency(const topo_t *t, int src, int dst);

#endif
