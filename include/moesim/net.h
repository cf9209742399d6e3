/*
 * net.h - how long a set of simultaneous transfers takes on the topology.
 *
 * `analytical` fidelity: every transfer starts at once; each link carries the
 * sum of the bytes routed over it; the set finishes when the busiest link has
 * drained, plus the longest latency among the routes that carry bytes:
 *   time = max_link(bytes_l / bw_l) + max_route_with_bytes(latency).
 * An all-to-all(-v) is such a set (its bytes per GPU pair from the real
 * routing), so the most loaded link, the straggler's, sets the time. Bytes a
 * GPU sends to itself use no link. The flow-level fidelity (max-min sharing,
 * event-driven) will sit behind the same result type.
 */
#ifndef MOESIM_NET_H
#define MOESIM_NET_H

#include "moesim/base.h"
#include "moesim/topo.h"

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

#endif
