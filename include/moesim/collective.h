/*
 * collective.h - collectives decomposed into transfers between GPUs, in
 * phases.
 *
 * A plan is a list of phases; a phase is a set of transfers (src GPU, dst
 * GPU, bytes) that start together, and the next phase starts when the last
 * transfer of the previous one has arrived (a barrier, as the steps of a ring
 * or the rounds of a pairwise exchange). A network model times a plan: the
 * analytical one phase by phase (coll_plan_analytical), the flow process
 * (sim/flows.c, flows_time_phases) flow by flow with max-min sharing.
 *
 * All-to-all(-v) (bytes per GPU pair given, e.g. from real routing):
 *   direct        one phase, every pair at once;
 *   pairwise      N-1 phases, phase k: GPU i sends to GPU (i+k) mod N;
 *   hierarchical  bytes to another node go over RDMA once to the GPU with the
 *                 sender's local index in that node, which forwards them over
 *                 NVLink to their targets (DeepEP's internode kernels;
 *                 group-limited routing bounds the nodes per token). DeepEP
 *                 pipelines the two legs chunk by chunk, so both legs are one
 *                 phase here: their flows share links concurrently.
 * All-reduce: ring (2(N-1) steps of size/N around GPUs 0..N-1), hierarchical
 * (reduce-scatter in each node, all-reduce across nodes among GPUs of equal
 * local index, all-gather in each node). All-gather and reduce-scatter: ring,
 * N-1 steps of size/N. `size` is the nccl-tests buffer size: the all-reduce's
 * buffer, the all-gather's output, the reduce-scatter's input.
 */
#ifndef MOESIM_COLLECTIVE_H
#define MOESIM_COLLECTIVE_H

#include "moesim/base.h"
#include "moesim/net.h"
#include "moesim/topo.h"

typedef enum coll_a2a_algo {
    COLL_A2A_DIRECT,
    COLL_A2A_PAIRWISE,
    COLL_A2A_HIERARCHICAL,
    COLL_A2A_COUNT
} coll_a2a_algo;

typedef enum coll_ar_algo { COLL_AR_RING, COLL_AR_HIERARCHICAL } coll_ar_algo;

/* Phases of transfers; arrays owned by the plan, grown as needed. Phase p's
 * transfers are [off[p], off[p+1]). */
typedef struct coll_plan {
    int phases;
    int nflows;
    int *off;      /* phases + 1 entries */
    int *src, *dst;
    double *bytes;
    int cap_flows, cap_phases;
} coll_plan;

#define COLL_PLAN_INIT {0, 0, NULL, NULL, NULL, NULL, 0, 0}

/* Empties the plan, keeping its buffers. */
void coll_plan_clear(coll_plan *p);
/* Frees the plan's buffers; safe on COLL_PLAN_INIT. */
void coll_plan_fini(coll_plan *p);

/* Opens a new phase at the end of the plan: transfers added after it
 * belong to it. */
void coll_plan_phase(coll_plan *p);
/* One transfer in the plan's last phase (a phase must be open); local
 * copies and empty ones are left out, since they use no link. */
void coll_plan_add(coll_plan *p, int src, int dst, double bytes);

/* "direct", "pairwise", "hierarchical"; "?" outside the enum. parse returns 0,
 * or -1 for an unknown name (*out untouched). */
const char *coll_a2a_name(coll_a2a_algo a);
int coll_a2a_parse(const char *s, coll_a2a_algo *out);

/* All-to-all(-v) among all GPUs of t: bytes[s*G + d] (borrowed; the diagonal
 * is a local copy and ignored). node_bytes (may be NULL; G x nodes) gives,
 * for hierarchical, the bytes s sends over RDMA to node n once per token
 * however many GPUs there receive it; NULL: the sum of bytes to the node's
 * GPUs. Replaces the plan's contents. */
void coll_alltoallv(coll_plan *p, const topo_t *t, coll_a2a_algo algo, const double *bytes,
                    const double *node_bytes);
/* The combine direction of a hierarchical exchange (for the other
 * algorithms the same as coll_alltoallv): rows bound for GPU d from another
 * node first meet over NVLink at the GPU of d's local index in their node,
 * which sends them on over RDMA, once per token (node_bytes[d * nodes + n]:
 * the bytes node n returns to d; NULL: the sum). */
void coll_alltoallv_combine(coll_plan *p, const topo_t *t, coll_a2a_algo algo,
                            const double *bytes, const double *node_bytes);
/* All-to-all(-v) among the n members of one group (ascending GPU ids),
 * appended to the plan as its own phases (the plan is not cleared):
 * bytes[i * n + j] goes from members[i] to members[j] (combine = 1: back,
 * members[j] to members[i]); for hierarchical, node_bytes[i * runs + r]
 * (may be NULL: the sums) is what member i sends to (combine: gets back
 * from) the r-th node the members span (in order), over RDMA, once per
 * token. Pairwise shifts within the group
 * (n - 1 rounds). scratch: 2 n + 2 ints. */
void coll_alltoallv_group(coll_plan *p, const topo_t *t, coll_a2a_algo algo, int n,
                          const int *members, const double *bytes, const double *node_bytes,
                          int combine, int *scratch);
/* All-reduce of `size` bytes among GPUs 0..n-1 (1 <= n <= topo_gpus).
 * Hierarchical needs n a multiple of gpus_per_node (else: ring). */
void coll_allreduce(coll_plan *p, const topo_t *t, int n, double size, coll_ar_algo algo);
/* Ring all-gather / reduce-scatter of `size` bytes among GPUs 0..n-1. */
void coll_allgather(coll_plan *p, const topo_t *t, int n, double size);
void coll_reducescatter(coll_plan *p, const topo_t *t, int n, double size);

/* Analytical time of a plan: the sum over phases of net_analytical_list
 * (overhead_ps added once per phase that moves bytes). out describes the
 * phase with the longest drain, with time_ps the total; link_bytes (may be
 * NULL) receives the bytes per link over all phases (overwritten). */
void coll_plan_analytical(const coll_plan *p, const topo_t *t, sim_time_t overhead_ps,
                          net_result *out, double *link_bytes);

/* Buffers for coll_plan_analytical_add: per link, zero between calls. */
typedef struct coll_scratch {
    double *phase, *call;
    int *phase_links, *call_links;
} coll_scratch;
void coll_scratch_init(coll_scratch *sc, int links);
void coll_scratch_fini(coll_scratch *sc);
/* coll_plan_analytical's figures, its bytes per link added to acc
 * (topo_link_count entries) instead of written over a buffer: a plan costs
 * O(its transfers x hops), not O(links) per phase (2,048 GPUs have ten
 * thousand links and a ring over 128 of them 254 phases). */
void coll_plan_analytical_add(const coll_plan *p, const topo_t *t, sim_time_t overhead_ps,
                              net_result *out, double *acc, coll_scratch *sc);

/* Bytes of one token's row of `hidden` values on the wire: hidden x the
 * dtype's size, and for FP8 one FP32 scale per 128 values on top (DeepEP's
 * dispatch layout: 7,168 values -> 7,392 bytes). */
double coll_row_bytes(int hidden, dtype_t dt);

#endif
