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
 *
 * Other shapes (topo_config's intra, nics_per_node, fabric): PCIe switches
 * under a CPU root, a direct NVLink mesh, NICs shared by neighbouring GPUs,
 * a fat tree of leaves and spines with an oversubscription ratio, or a
 * rail-optimised fabric (NIC i of every node on leaf i). Where several
 * spines give equal paths, a fixed hash of the pair picks one (ECMP). Every
 * link also carries an efficiency: transfers run at line rate x efficiency.
 */
#ifndef MOESIM_TOPO_H
#define MOESIM_TOPO_H

#include "moesim/base.h"

typedef struct topo topo_t;

#define TOPO_MAX_HOPS 8
/* The largest cluster: 16,384 GPUs, the largest fabric DeepSeek describes.
 * Routes are computed on demand, so the topology itself grows with GPUs and
 * links, not pairs; the cap stands for what the play layer still keeps per
 * GPU pair (a dense bytes matrix per all-to-all). */
#define TOPO_MAX_GPUS 16384

typedef enum topo_link_kind {
    TOPO_NVLINK_UP,   /* GPU -> its node's switch */
    TOPO_NVLINK_DOWN, /* switch -> GPU */
    TOPO_NIC_UP,      /* GPU's NIC -> fabric */
    TOPO_NIC_DOWN,    /* fabric -> GPU's NIC */
    TOPO_MESH,        /* nvlink_mesh: GPU `gpu` -> GPU `aux` directly */
    TOPO_PCIE_UP,     /* pcie: GPU -> its PCIe switch (in the GPU's nvlink_up slot) */
    TOPO_PCIE_DOWN,   /* pcie: PCIe switch -> GPU (in the nvlink_down slot) */
    TOPO_ROOT_UP,     /* pcie: PCIe switch `aux` -> the CPU root complex */
    TOPO_ROOT_DOWN,   /* pcie: root complex -> PCIe switch `aux` */
    TOPO_SPINE_UP,    /* fabric leaf `gpu` -> spine `aux` */
    TOPO_SPINE_DOWN   /* spine `aux` -> fabric leaf `gpu` */
} topo_link_kind;

/* Links inside a node. */
typedef enum topo_intra {
    TOPO_INTRA_NVSWITCH,   /* per-GPU up/down links to a non-blocking switch */
    TOPO_INTRA_PCIE,       /* GPUs under PCIe switches under the CPU root */
    TOPO_INTRA_NVLINK_MESH, /* a direct link between every pair of GPUs */
    TOPO_INTRA_COUNT
} topo_intra;

/* The fabric between the nodes' NICs. */
typedef enum topo_fabric {
    TOPO_FABRIC_SINGLE_SWITCH, /* non-blocking: a NIC hop each end */
    TOPO_FABRIC_FAT_TREE,      /* leaves of nodes_per_leaf nodes, spines above */
    TOPO_FABRIC_RAIL,          /* NIC i of every node on leaf i, spines above */
    TOPO_FABRIC_COUNT
} topo_fabric;

/* The link technology between nodes. The topology is the same for both; the
 * scenario's default inter-node latency depends on it. */
typedef enum topo_inter {
    TOPO_INTER_IB,   /* InfiniBand */
    TOPO_INTER_ROCE, /* RDMA over Converged Ethernet */
    TOPO_INTER_COUNT
} topo_inter;

typedef struct topo_link {
    topo_link_kind kind;
    int gpu;          /* the GPU this link belongs to */
    int aux;          /* mesh: peer GPU; root: switch in node; spine: spine index */
    double bw_Bps;    /* line rate, bytes per second, one direction */
    double eff;       /* achievable fraction of bw_Bps, in (0, 1] */
    sim_time_t lat_ps;
} topo_link;

/* The rate a transfer reaches on the link: line rate x efficiency (B/s). */
double topo_link_rate(const topo_link *l);

typedef struct topo_config {
    int nodes;         /* >= 1 */
    int gpus_per_node; /* >= 1 */
    double intra_bw_Bps;     /* per GPU, per direction, into the node switch */
    sim_time_t intra_lat_ps; /* one-way GPU-to-GPU latency inside a node */
    double inter_bw_Bps;     /* per NIC, per direction */
    sim_time_t inter_lat_ps; /* one-way GPU-to-GPU latency across nodes */
    /* Achievable fraction of the line rate per link class, in (0, 1]; 0 means
     * 1 (line rate), so a config that does not name them models ideal links. */
    double intra_eff;
    double inter_eff;
    /* Topology shape; zeros give the default fabric (NVSwitch, one NIC per
     * GPU, single non-blocking switch). */
    topo_intra intra;
    int gpus_per_switch;       /* pcie: GPUs under one PCIe switch (0: 2) */
    int nics_per_node;         /* 0: one per GPU; else 1..gpus_per_node, shared */
    topo_fabric fabric;
    double oversubscription;   /* leaf down/up capacity ratio (0: 1, non-blocking) */
    int nodes_per_leaf;        /* fat_tree: nodes under one leaf (0: 16) */
    int spines;                /* fat_tree/rail: spine switches, ECMP paths (0: 1) */
    sim_time_t spine_lat_ps;   /* added when a route crosses a spine */
} topo_config;

/* Builds the topology; NULL with e filled (ERR_INPUT, key "cluster.nodes",
 * "cluster.gpus_per_node", "cluster.intra.bandwidth", "cluster.intra.latency",
 * "cluster.inter.bandwidth", "cluster.inter.latency",
 * "cluster.intra.efficiency" or "cluster.inter.efficiency") if a count or
 * bandwidth is not positive, an efficiency is outside [0, 1], a latency is negative or there are more than
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

/* Writes the link ids from src to dst, in order, into links and returns the
 * hop count (<= TOPO_MAX_HOPS); 0 when src == dst (a local copy uses no
 * link). Computed from the topology's shape on each call: a few integer
 * operations, no table, the same links every time. */
int topo_route(const topo_t *t, int src, int dst, int links[TOPO_MAX_HOPS]);
/* Sum of the latencies of the route's links. */
sim_time_t topo_route_latency(const topo_t *t, int src, int dst);

/* The values as scenario files write them (intra: "nvswitch", "pcie",
 * "nvlink_mesh"; fabric: "single_switch", "fat_tree", "rail_optimized";
 * inter: "ib", "roce"); "?" outside the enum. parse returns 0, or -1 for an
 * unknown name (*out untouched). */
const char *topo_intra_name(topo_intra v);
int topo_intra_parse(const char *s, topo_intra *out);
const char *topo_fabric_name(topo_fabric v);
int topo_fabric_parse(const char *s, topo_fabric *out);
const char *topo_inter_name(topo_inter v);
int topo_inter_parse(const char *s, topo_inter *out);

#endif
