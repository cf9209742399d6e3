/*
 * net.h - how long a set of simultaneous transfers takes on the topology.
 *
 * `analytical` fidelity: every transfer starts at once; each link carries the
 * sum of the bytes routed over it; the set finishes when the busiest link has
 * drained, plus the longest latency among the routes that carry bytes:
 *   time = max_link(bytes_l / bw_l) + max_route_with_bytes(latency).
 * An all-to-all(-v) is such a set (its bytes per GPU pair from the real
 * routing), so the most loaded link, the straggler's, sets the time. Bytes a
 * GPU sends to itself use no link. Links run at their line rate times their
 * class's efficiency (topo_link_rate).
 *
 * `flow` fidelity: the max-min fair rates of a set of flows on their routes
 * (net_maxmin_*); sim/flows.c turns them into time, re-sharing whenever a
 * flow starts or ends.
 */
#ifndef MOESIM_NET_H
#define MOESIM_NET_H

#include "moesim/base.h"
#include "moesim/topo.h"

/* The fidelity of the network model (network.model): analytical or flow. */
typedef enum net_model { NET_ANALYTICAL, NET_FLOW, NET_MODEL_COUNT } net_model;

/* "analytical", "flow"; "?" outside the enum. parse returns 0, or -1 for an
 * unknown name (*out untouched). */
const char *net_model_name(net_model v);
int net_model_parse(const char *s, net_model *out);

typedef struct net_result {
    sim_time_t time_ps;        /* finish time of the whole set, from its start */
    sim_time_t drain_ps;       /* the bottleneck link's bytes over its bandwidth */
    sim_time_t latency_ps;     /* the longest route latency among pairs with bytes */
    int bottleneck_link;       /* link id, -1 if no bytes crossed a link */
    double bottleneck_bytes;   /* bytes on that link */
    double total_bytes;        /* bytes between distinct GPUs */
} net_result;

/* Analytical time of the transfers bytes[src * G + dst] (G = topo_gpus(t),
 * bytes >= 0; borrowed). If link_bytes is not NULL it receives the bytes on
 * each link (topo_link_count entries; overwritten). */
void net_analytical(const topo_t *t, const double *bytes, net_result *out, double *link_bytes);

/* The same for a list of n transfers src[i] -> dst[i] of bytes[i] (all
 * borrowed), for collectives whose phases are sparse. overhead_ps is added
 * once to the latency term when any bytes cross a link. link_bytes as above. */
void net_analytical_list(const topo_t *t, int n, const int *src, const int *dst,
                         const double *bytes, sim_time_t overhead_ps, net_result *out,
                         double *link_bytes);

/* The same figures as net_analytical_list, for a caller whose lb (one
 * double per link) is zero on entry: only the links crossed are written,
 * listed in touched (room for every link; *nt of them on return). The
 * caller zeroes them again before the next call. */
void net_analytical_sparse(const topo_t *t, int n, const int *src, const int *dst,
                           const double *bytes, sim_time_t overhead_ps, net_result *out,
                           double *lb, int *touched, int *nt);

/* Max-min fair sharing by progressive filling. A workspace that keeps its
 * buffers between calls, so a flow process re-sharing at every event
 * allocates only while the largest flow set seen so far grows. */
typedef struct net_maxmin net_maxmin_t;

/* Caller frees with net_maxmin_free (NULL: no-op). */
net_maxmin_t *net_maxmin_new(void);
void net_maxmin_free(net_maxmin_t *m);

/* Max-min fair rates of nflows flows over nlinks links of capacity cap[l]
 * (bytes/s, > 0). Flow f crosses the hops[f] links routes[f][0 ..] (hops >= 1,
 * no link twice). On return rate[f] (bytes/s) is the max-min fair allocation:
 * no flow's rate can grow without shrinking that of a flow with a rate no
 * larger; every flow has a bottleneck link that is full and on which its rate
 * is the largest. Arrays borrowed; rate overwritten. */
void net_maxmin_solve(net_maxmin_t *m, int nlinks, const double *cap, int nflows,
                      const int *const *routes, const int *hops, double *rate);

#endif
