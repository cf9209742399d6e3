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
 * Links run at line rate x their class's efficiency (topo_link_rate).
 *
 * The flow fidelity's core, max-min fair sharing, is here too, as a pure
 * function of capacities and routes (net_maxmin_solve). The algorithm is
 * progressive filling (Bertsekas and Gallager, "Data Networks", 2nd ed.,
 * §6.5.2): raise every unfrozen flow's rate together; the first link to
 * fill freezes its flows at its fair share (remaining capacity / unfrozen
 * flows); repeat. Done in order of fair share with a min-heap of links
 * instead of by raising a common rate, so a solve costs
 * O(F·H·log L) for F flows of H hops over L links, not O(L) per step:
 * freezing a flow only raises the share of the other links on its route
 * (their remaining capacity per flow cannot fall below the share being
 * frozen), so a link's heap entry can only be too small, never too large,
 * and stale entries are skipped by a version number when they surface.
 */
#include "moesim/net.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* net_analytical's bottleneck from per-link bytes: the largest drain,
 * ties to the lowest id; a link with bytes wins over none even if its
 * drain rounds to 0 ps (net_analytical_sparse keeps the same rule). */
static void bottleneck(const topo_t *t, const double *lb, net_result *out)
{
    int L = topo_link_count(t);
    int best = -1;
    sim_time_t drain = 0;
    for (int l = 0; l < L; l++) {
        if (!(lb[l] > 0))
            continue;
        sim_time_t d = sim_time_for_bytes(lb[l], topo_link_rate(topo_link_at(t, l)));
        if (best < 0 || d > drain) {
            best = l;
            drain = d;
        }
    }
    out->drain_ps = drain;
    out->bottleneck_link = best;
    out->bottleneck_bytes = best >= 0 ? lb[best] : 0;
}

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
            int links[TOPO_MAX_HOPS];
            int n = topo_route(t, s, d, links);
            sim_time_t lat = 0;
            for (int h = 0; h < n; h++) {
                lb[links[h]] += b;
                lat = sat_add(lat, topo_link_at(t, links[h])->lat_ps);
            }
            if (lat > latency)
                latency = lat;
            total += b;
        }
    }

    bottleneck(t, lb, out);
    out->latency_ps = latency;
    out->time_ps = sat_add(out->drain_ps, latency);
    out->total_bytes = total;
    if (!link_bytes)
        free(lb);
}

/* The list form serves collectives, whose phases are sparse (a ring step
 * has n transfers, not n^2): the same bound as net_analytical, over the
 * transfers given, with the software overhead paid once per phase because
 * a phase's messages are posted together and their overheads overlap;
 * net_analytical_sparse over a zeroed buffer. */
void net_analytical_list(const topo_t *t, int n, const int *src, const int *dst,
                         const double *bytes, sim_time_t overhead_ps, net_result *out,
                         double *link_bytes)
{
    int L = topo_link_count(t), nt;
    double *lb = link_bytes ? link_bytes : xcalloc((size_t)L, sizeof(*lb), "link bytes");
    int *touched = xcalloc((size_t)L, sizeof(*touched), "links");
    memset(lb, 0, (size_t)L * sizeof(*lb));
    net_analytical_sparse(t, n, src, dst, bytes, overhead_ps, out, lb, touched, &nt);
    free(touched);
    if (!link_bytes)
        free(lb);
}

/* net_analytical_list for callers that keep lb zero between calls: only
 * the links the transfers cross are written (each listed once in touched,
 * *nt of them), and the bottleneck is found among those, by the same rule.
 * The same figures as net_analytical_list, in O(hops) rather than O(links). */
void net_analytical_sparse(const topo_t *t, int n, const int *src, const int *dst,
                           const double *bytes, sim_time_t overhead_ps, net_result *out,
                           double *lb, int *touched, int *nt)
{
    double total = 0;
    sim_time_t latency = -1;
    *nt = 0;
    for (int i = 0; i < n; i++) {
        if (!(bytes[i] > 0) || src[i] == dst[i])
            continue;
        int links[TOPO_MAX_HOPS];
        int h = topo_route(t, src[i], dst[i], links);
        sim_time_t lat = 0;
        for (int k = 0; k < h; k++) {
            if (lb[links[k]] == 0)
                touched[(*nt)++] = links[k];
            lb[links[k]] += bytes[i];
            lat = sat_add(lat, topo_link_at(t, links[k])->lat_ps);
        }
        latency = lat > latency ? lat : latency;
        total += bytes[i];
    }
    int best = -1;
    sim_time_t drain = 0;
    for (int j = 0; j < *nt; j++) { /* the largest drain, ties to the lowest id */
        int l = touched[j];
        sim_time_t d = sim_time_for_bytes(lb[l], topo_link_rate(topo_link_at(t, l)));
        if (best < 0 || d > drain || (d == drain && l < best)) {
            best = l;
            drain = d;
        }
    }
    out->drain_ps = drain;
    out->bottleneck_link = best;
    out->bottleneck_bytes = best >= 0 ? lb[best] : 0;
    out->latency_ps = latency < 0 ? 0 : sat_add(latency, overhead_ps);
    out->time_ps = sat_add(out->drain_ps, out->latency_ps);
    out->total_bytes = total;
}

/* ---- max-min fair sharing ---- */

typedef struct heap_ent {
    double share; /* remaining capacity / unfrozen flows when pushed */
    int link;
    int ver;      /* the link's version when pushed; older entries are stale */
} heap_ent;

struct net_maxmin {
    /* per link */
    int cap_links;
    double *rem;   /* remaining capacity */
    int *n;        /* unfrozen flows crossing it */
    int *ver;
    int *off;      /* CSR: flows of link l are list[off[l] .. off[l+1]) */
    int *touched;  /* links whose share moved in this round */
    char *mark;
    /* per flow-hop */
    int cap_hops;
    int *list;
    /* per flow */
    int cap_flows;
    char *frozen;
    /* the heap of links by share */
    int cap_heap, nheap;
    heap_ent *heap;
};

net_maxmin_t *net_maxmin_new(void)
{
    return xcalloc(1, sizeof(net_maxmin_t), "max-min workspace");
}

void net_maxmin_free(net_maxmin_t *m)
{
    if (!m)
        return;
    free(m->rem);
    free(m->n);
    free(m->ver);
    free(m->off);
    free(m->touched);
    free(m->mark);
    free(m->list);
    free(m->frozen);
    free(m->heap);
    free(m);
}

/* Grows the buffers to the sizes a solve needs; they never shrink, so a
 * flow process's steady state allocates nothing. */
static void reserve(net_maxmin_t *m, int nlinks, int nflows, int nhops)
{
    if (nlinks > m->cap_links) {
        size_t L = (size_t)nlinks;
        m->rem = xrealloc(m->rem, L, sizeof(*m->rem), "max-min links");
        m->n = xrealloc(m->n, L, sizeof(*m->n), "max-min links");
        m->ver = xrealloc(m->ver, L, sizeof(*m->ver), "max-min links");
        m->off = xrealloc(m->off, L + 1, sizeof(*m->off), "max-min links");
        m->touched = xrealloc(m->touched, L, sizeof(*m->touched), "max-min links");
        m->mark = xrealloc(m->mark, L, sizeof(*m->mark), "max-min links");
        m->cap_links = nlinks;
    }
    if (nflows > m->cap_flows) {
        m->frozen = xrealloc(m->frozen, (size_t)nflows, sizeof(*m->frozen), "max-min flows");
        m->cap_flows = nflows;
    }
    if (nhops > m->cap_hops) {
        m->list = xrealloc(m->list, (size_t)nhops, sizeof(*m->list), "max-min flow lists");
        m->cap_hops = nhops;
    }
    /* at most one live entry per link plus one push per touched link per
     * round; rounds <= links, pushes <= hops: links + hops bounds it */
    if (nlinks + nhops > m->cap_heap) {
        m->cap_heap = nlinks + nhops;
        m->heap = xrealloc(m->heap, (size_t)m->cap_heap, sizeof(*m->heap), "max-min heap");
    }
}

static int heap_less(const heap_ent *a, const heap_ent *b)
{
    /* equal shares: the lower link first, so solves are deterministic */
    return a->share < b->share || (a->share == b->share && a->link < b->link);
}

static void heap_push(net_maxmin_t *m, heap_ent e)
{
    assert(m->nheap < m->cap_heap);
    int i = m->nheap++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!heap_less(&e, &m->heap[p]))
            break;
        m->heap[i] = m->heap[p];
        i = p;
    }
    m->heap[i] = e;
}

static heap_ent heap_pop(net_maxmin_t *m)
{
    heap_ent top = m->heap[0];
    heap_ent last = m->heap[--m->nheap];
    int i = 0, N = m->nheap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= N)
            break;
        if (c + 1 < N && heap_less(&m->heap[c + 1], &m->heap[c]))
            c++;
        if (!heap_less(&m->heap[c], &last))
            break;
        m->heap[i] = m->heap[c];
        i = c;
    }
    if (N > 0)
        m->heap[i] = last;
    return top;
}

void net_maxmin_solve(net_maxmin_t *m, int nlinks, const double *cap, int nflows,
                      const int *const *routes, const int *hops, double *rate)
{
    int nh = 0;
    for (int f = 0; f < nflows; f++)
        nh += hops[f];
    reserve(m, nlinks, nflows, nh);

    /* Per-link flow lists (CSR), built by counting then filling. */
    memset(m->n, 0, (size_t)nlinks * sizeof(*m->n));
    for (int f = 0; f < nflows; f++)
        for (int h = 0; h < hops[f]; h++)
            m->n[routes[f][h]]++;
    m->off[0] = 0;
    for (int l = 0; l < nlinks; l++)
        m->off[l + 1] = m->off[l] + m->n[l];
    memcpy(m->touched, m->off, (size_t)nlinks * sizeof(*m->touched)); /* fill cursors */
    for (int f = 0; f < nflows; f++)
        for (int h = 0; h < hops[f]; h++)
            m->list[m->touched[routes[f][h]]++] = f;

    m->nheap = 0;
    for (int l = 0; l < nlinks; l++) {
        m->rem[l] = cap[l];
        m->ver[l] = 0;
        m->mark[l] = 0;
        if (m->n[l] > 0)
            heap_push(m, (heap_ent){cap[l] / m->n[l], l, 0});
    }
    memset(m->frozen, 0, (size_t)nflows);

    while (m->nheap > 0) {
        heap_ent e = heap_pop(m);
        int l = e.link;
        if (e.ver != m->ver[l] || m->n[l] == 0) /* stale, or emptied by earlier rounds */
            continue;
        /* The link with the smallest fair share is full first: its flows
         * are frozen at that share, which is the largest they can get. */
        double share = m->rem[l] / m->n[l];
        int ntouched = 0;
        for (int i = m->off[l]; i < m->off[l + 1]; i++) {
            int f = m->list[i];
            if (m->frozen[f])
                continue;
            m->frozen[f] = 1;
            rate[f] = share;
            for (int h = 0; h < hops[f]; h++) {
                int k = routes[f][h];
                m->rem[k] -= share;
                if (m->rem[k] < 0) /* rounding: never below empty */
                    m->rem[k] = 0;
                m->n[k]--;
                if (k != l && !m->mark[k]) {
                    m->mark[k] = 1;
                    m->touched[ntouched++] = k;
                }
            }
        }
        /* One new heap entry per link whose share moved, not one per flow. */
        for (int i = 0; i < ntouched; i++) {
            int k = m->touched[i];
            m->mark[k] = 0;
            m->ver[k]++;
            if (m->n[k] > 0)
                heap_push(m, (heap_ent){m->rem[k] / m->n[k], k, m->ver[k]});
        }
    }
}

/* ---- names ---- */

static const char *const model_names[NET_MODEL_COUNT] = {"analytical", "flow"};

const char *net_model_name(net_model v)
{
    return enum_name(model_names, NET_MODEL_COUNT, (int)v);
}

int net_model_parse(const char *s, net_model *out)
{
    int v = enum_find(model_names, NET_MODEL_COUNT, s);
    if (v < 0)
        return -1;
    *out = (net_model)v;
    return 0;
}
