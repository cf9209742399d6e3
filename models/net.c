/*
 * net.c - the analytical network: a set of simultaneous transfers, timed by
 * its most loaded link.
 *
 * The model: all transfers start together and every link is shared by all the
 * bytes routed over it, so the set ends when the busiest link has drained;
 * on top of that comes the longest one-way latency among the routes that
 * carry bytes (a pipelined transfer pays its path latency once):
 *   time = max_l sim_time_for_bytes(bytes_l, bw_l) + max_{s != d, bytes > 0} lat(s, d)
 * Each link's drain is rounded to the picosecond before the max, so 900 MB
 * over 450 GB/s is 2,000,000,000 ps exactly, whatever else is in the set.
 * No schedule can drain a link faster than its bandwidth, so the drain term
 * is a lower bound on the set's real time, reached when the bottleneck link
 * is kept busy from start to end. What it leaves out (congestion control,
 * per-message overheads, a bottleneck left idle while its flows wait on other
 * links) is for the flow fidelity. For an
 * all-to-all(-v) this is the straggler's time: the most loaded NIC or NVLink.
 *
 * Cost: one pass over the G^2 pairs, a few hops each (G = 1024: 1M pairs).
 */
#include "moesim/net.h"

#include <stdlib.h>
#include <string.h>

void net_analytical(const topo_t *t, const double *bytes, net_result *out, double *link_bytes)
{
    int G = topo_gpus(t);
    int L = topo_link_count(t);
    /* Without a caller's buffer the per-link sums need one of our own; callers
     * on a hot path pass theirs and nothing is allocated. */
    double *lb = link_bytes ? link_bytes : xcalloc((size_t)L, sizeof(*lb), "link bytes");
    memset(lb, 0, (size_t)L * sizeof(*lb));

    double total = 0;
    sim_time_t latency = 0;
    for (int s = 0; s < G; s++) {
        const double *row = bytes + (size_t)s * (size_t)G;
        for (int d = 0; d < G; d++) {
            double b = row[d];
            if (!(b > 0) || s == d) /* no bytes, or a local copy: no link */
                continue;
            const int *links;
            int n = topo_route(t, s, d, &links);
            sim_time_t lat = 0;
            for (int h = 0; h < n; h++) {
                lb[links[h]] += b;
                lat += topo_link_at(t, links[h])->lat_ps;
            }
            if (lat > latency)
                latency = lat;
            total += b;
        }
    }

    /* The bottleneck: the largest drain, ties to the lowest id; a link with
     * bytes wins over none even if its drain rounds to 0 ps. */
    int best = -1;
    sim_time_t drain = 0;
    for (int l = 0; l < L; l++) {
        if (!(lb[l] > 0))
            continue;
        sim_time_t d = sim_time_for_bytes(lb[l], topo_link_at(t, l)->bw_Bps);
        if (best < 0 || d > drain) {
            best = l;
            drain = d;
        }
    }

    out->drain_ps = drain;
    out->latency_ps = latency;
    out->time_ps = drain + latency;
    out->bottleneck_link = best;
    out->bottleneck_bytes = best >= 0 ? lb[best] : 0;
    out->total_bytes = total;
    if (!link_bytes)
        free(lb);
}
