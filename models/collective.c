/*
 * collective.c - collectives as phases of point-to-point transfers.
 *
 * The model: a collective is what its algorithm sends, step by step; the
 * network model (analytical or flow) decides how long each step takes on the
 * topology. Steps are barriers, which is how ring and pairwise algorithms
 * run (a step's chunk must arrive before the next is forwarded). Nothing here
 * models reduction arithmetic: at these sizes a reduction runs at HBM speed,
 * far above any link's.
 *
 * Algorithms and their sources:
 *  - ring all-reduce: reduce-scatter then all-gather around a ring, 2(N-1)
 *    steps of size/N (Patarasuk and Yuan 2009; NCCL's ring); all-gather and
 *    reduce-scatter are its two halves. Bus bandwidth in nccl-tests' sense
 *    (PERFORMANCE.md) is exactly what these plans load a link with.
 *  - hierarchical all-reduce: reduce-scatter inside each node, all-reduce of
 *    the node's 1/g share across nodes among GPUs of the same local index
 *    (one ring per rail), all-gather inside the node (NCCL's tree/CollNet
 *    idea; Horovod's hierarchical all-reduce).
 *  - all-to-all: direct (every pair at once: NCCL's grouped send/recv),
 *    pairwise (N-1 shifts; MPI's pairwise exchange), hierarchical (DeepEP's
 *    internode normal kernels: RDMA to the same local index in the target
 *    node, then NVLink forwarding; the legs are pipelined, so one phase).
 * Ranks are GPUs 0..N-1 in order, so a ring crosses a node boundary once per
 * node, as NCCL's rings do on rail-aligned servers.
 */
#include "moesim/collective.h"

#include <stdlib.h>
#include <string.h>

/* Keeps the buffers: play.c rebuilds a plan for every all-to-all of a run,
 * and the hot path allocates nothing once they have grown. */
void coll_plan_clear(coll_plan *p)
{
    p->phases = 0;
    p->nflows = 0;
}

void coll_plan_fini(coll_plan *p)
{
    free(p->off);
    free(p->src);
    free(p->dst);
    free(p->bytes);
    *p = (coll_plan)COLL_PLAN_INIT;
}

/* Opens a new phase; transfers added after it belong to it. */
static void phase(coll_plan *p)
{
    if (p->phases + 2 > p->cap_phases) {
        p->cap_phases = p->cap_phases ? 2 * p->cap_phases : 16;
        p->off = xrealloc(p->off, (size_t)p->cap_phases, sizeof(*p->off), "collective phases");
    }
    p->off[p->phases] = p->nflows;
    p->phases++;
    p->off[p->phases] = p->nflows;
}

/* A transfer in the current phase; local copies and empty ones are left
 * out, since they use no link. */
static void add(coll_plan *p, int src, int dst, double bytes)
{
    if (src == dst || !(bytes > 0))
        return;
    if (p->nflows == p->cap_flows) {
        int n = p->cap_flows ? 2 * p->cap_flows : 64;
        p->src = xrealloc(p->src, (size_t)n, sizeof(*p->src), "collective transfers");
        p->dst = xrealloc(p->dst, (size_t)n, sizeof(*p->dst), "collective transfers");
        p->bytes = xrealloc(p->bytes, (size_t)n, sizeof(*p->bytes), "collective transfers");
        p->cap_flows = n;
    }
    p->src[p->nflows] = src;
    p->dst[p->nflows] = dst;
    p->bytes[p->nflows] = bytes;
    p->nflows++;
    p->off[p->phases] = p->nflows;
}

void coll_plan_phase(coll_plan *p)
{
    phase(p);
}

void coll_plan_add(coll_plan *p, int src, int dst, double bytes)
{
    add(p, src, dst, bytes);
}

static const char *const a2a_names[COLL_A2A_COUNT] = {"direct", "pairwise", "hierarchical"};

const char *coll_a2a_name(coll_a2a_algo a)
{
    return enum_name(a2a_names, COLL_A2A_COUNT, (int)a);
}

int coll_a2a_parse(const char *s, coll_a2a_algo *out)
{
    int v = enum_find(a2a_names, COLL_A2A_COUNT, s);
    if (v < 0)
        return -1;
    *out = (coll_a2a_algo)v;
    return 0;
}

/* Transfers are generated in (src, dst) order within a phase, so a plan,
 * and every time computed from it, is the same on every run. */
void coll_alltoallv(coll_plan *p, const topo_t *t, coll_a2a_algo algo, const double *bytes,
                    const double *node_bytes)
{
    int G = topo_gpus(t), gpn = topo_gpus_per_node(t), N = topo_nodes(t);
    coll_plan_clear(p);
    switch (algo) {
    case COLL_A2A_DIRECT:
        phase(p);
        for (int s = 0; s < G; s++)
            for (int d = 0; d < G; d++)
                add(p, s, d, bytes[(size_t)s * G + d]);
        break;
    case COLL_A2A_PAIRWISE:
        /* shift k: everyone sends to the GPU k ahead, so every GPU sends
         * and receives exactly one transfer per round */
        for (int k = 1; k < G; k++) {
            phase(p);
            for (int s = 0; s < G; s++) {
                int d = (s + k) % G;
                add(p, s, d, bytes[(size_t)s * G + d]);
            }
        }
        break;
    case COLL_A2A_HIERARCHICAL:
        /* Why one phase and not two: DeepEP's forwarder starts sending a
         * chunk over NVLink as soon as it arrives over RDMA, so the legs
         * overlap except for the first chunk; counting them in sequence
         * would double the time of a pipelined kernel. The cost: the
         * forwarding leg may start before its bytes could have arrived,
         * which matters only when RDMA is not the slower leg. */
        phase(p);
        for (int s = 0; s < G; s++) {
            int sn = s / gpn, local = s % gpn;
            for (int n = 0; n < N; n++) {
                if (n == sn) { /* own node: NVLink straight to the target */
                    for (int d = n * gpn; d < (n + 1) * gpn; d++)
                        add(p, s, d, bytes[(size_t)s * G + d]);
                    continue;
                }
                int proxy = n * gpn + local; /* same rail: one NIC hop, no spine */
                double rdma = 0;
                for (int d = n * gpn; d < (n + 1) * gpn; d++) {
                    double b = bytes[(size_t)s * G + d];
                    rdma += b;
                    add(p, proxy, d, b); /* the forwarding leg over NVLink */
                }
                if (node_bytes) /* a token goes to a node once, however many targets */
                    rdma = node_bytes[(size_t)s * N + n];
                add(p, s, proxy, rdma);
            }
        }
        break;
    case COLL_A2A_COUNT: /* not an algorithm: an empty plan */
        break;
    }
}

void coll_alltoallv_combine(coll_plan *p, const topo_t *t, coll_a2a_algo algo,
                            const double *bytes, const double *node_bytes)
{
    if (algo != COLL_A2A_HIERARCHICAL) {
        coll_alltoallv(p, t, algo, bytes, node_bytes);
        return;
    }
    int G = topo_gpus(t), gpn = topo_gpus_per_node(t), N = topo_nodes(t);
    coll_plan_clear(p);
    phase(p);
    /* The mirror of the dispatch: the forwarding leg now comes first, into
     * the proxy that shares the destination's rail. */
    for (int d = 0; d < G; d++) {
        int dn = d / gpn, local = d % gpn;
        for (int n = 0; n < N; n++) {
            if (n == dn) {
                for (int s = n * gpn; s < (n + 1) * gpn; s++)
                    add(p, s, d, bytes[(size_t)s * G + d]);
                continue;
            }
            int proxy = n * gpn + local;
            double rdma = 0;
            for (int s = n * gpn; s < (n + 1) * gpn; s++) {
                double b = bytes[(size_t)s * G + d];
                rdma += b;
                add(p, s, proxy, b);
            }
            if (node_bytes)
                rdma = node_bytes[(size_t)d * N + n];
            add(p, proxy, d, rdma);
        }
    }
}

/* The runs of members[] (ascending GPU ids, node-major) in each node:
 * run r is members [lo[r], lo[r + 1]) on node node[r]; returns the runs. */
static int node_runs(const topo_t *t, int n, const int *members, int *lo, int *node)
{
    int gpn = topo_gpus_per_node(t), r = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || members[i] / gpn != members[i - 1] / gpn) {
            lo[r] = i;
            node[r++] = members[i] / gpn;
        }
    lo[r] = n;
    return r;
}

/* One hierarchical leg set: for every member a and every other node's run,
 * the RDMA hop between a and the proxy of a's rail in that node, and the
 * NVLink hops between the proxy and the run's members. Dispatch: a sends,
 * rows b[a][d] go proxy -> d; combine: the same rows come back d -> proxy,
 * then proxy -> a. node_bytes[a * nodes + node] (NULL: the sum) is the RDMA
 * hop's size. */
static void group_hier(coll_plan *p, const topo_t *t, int n, const int *members,
                       const double *b, const double *node_bytes, int combine, int *lo,
                       int *node)
{
    int gpn = topo_gpus_per_node(t), runs = node_runs(t, n, members, lo, node);
    for (int a = 0; a < n; a++) {
        int an = members[a] / gpn, local = members[a] % gpn;
        for (int r = 0; r < runs; r++) {
            int proxy = node[r] * gpn + local;
            double rdma = 0;
            for (int d = lo[r]; d < lo[r + 1]; d++) {
                double v = b[(size_t)a * n + d]; /* combine: the same rows come back */
                if (node[r] == an) { /* own node: NVLink straight */
                    if (combine)
                        add(p, members[d], members[a], v);
                    else
                        add(p, members[a], members[d], v);
                    continue;
                }
                rdma += v;
                if (combine)
                    add(p, members[d], proxy, v);
                else
                    add(p, proxy, members[d], v);
            }
            if (node[r] == an)
                continue;
            if (node_bytes)
                rdma = node_bytes[(size_t)a * runs + r];
            if (combine)
                add(p, proxy, members[a], rdma);
            else
                add(p, members[a], proxy, rdma);
        }
    }
}

void coll_alltoallv_group(coll_plan *p, const topo_t *t, coll_a2a_algo algo, int n,
                          const int *members, const double *bytes, const double *node_bytes,
                          int combine, int *scratch)
{
    /* the combine sends the dispatch's rows back: member j to member i */
#define ROW(i, j) (combine ? bytes[(size_t)(j) * n + (i)] : bytes[(size_t)(i) * n + (j)])
    switch (algo) {
    case COLL_A2A_DIRECT:
        phase(p);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                add(p, members[i], members[j], ROW(i, j));
        break;
    case COLL_A2A_PAIRWISE:
        for (int k = 1; k < n; k++) {
            phase(p);
            for (int i = 0; i < n; i++)
                add(p, members[i], members[(i + k) % n], ROW(i, (i + k) % n));
        }
        break;
    case COLL_A2A_HIERARCHICAL:
        phase(p);
        group_hier(p, t, n, members, bytes, node_bytes, combine, scratch, scratch + n + 1);
        break;
    case COLL_A2A_COUNT:
        break;
    }
#undef ROW
}

/* `steps` barriers, each moving one chunk from every GPU to the next around
 * the ring 0..n-1: a ring step's chunk must have arrived before it can be
 * reduced and forwarded, which is what the barrier models. */
static void ring_steps(coll_plan *p, int n, double chunk, int steps)
{
    for (int k = 0; k < steps; k++) {
        phase(p);
        for (int i = 0; i < n; i++)
            add(p, i, (i + 1) % n, chunk);
    }
}

void coll_allreduce(coll_plan *p, const topo_t *t, int n, double size, coll_ar_algo algo)
{
    int gpn = topo_gpus_per_node(t);
    coll_plan_clear(p);
    if (n < 2)
        return;
    if (algo == COLL_AR_RING || n <= gpn || n % gpn != 0) {
        ring_steps(p, n, size / n, 2 * (n - 1));
        return;
    }
    /* Why hierarchical: each GPU sends 2(n-1)/n of the buffer in a ring,
     * and a flat ring pushes all of it through NICs at every node boundary;
     * here only the node's 1/gpn share crosses, once per rail, in parallel
     * on all gpn NICs, and NVLink carries the rest. */
    int m = n / gpn; /* nodes */
    double shard = size / gpn;
    /* 1: reduce-scatter inside every node (rings of gpn, all nodes at once) */
    for (int k = 0; k < gpn - 1; k++) {
        phase(p);
        for (int i = 0; i < n; i++) {
            int base = i / gpn * gpn;
            add(p, i, base + (i % gpn + 1) % gpn, shard);
        }
    }
    /* 2: ring all-reduce of each shard across nodes, one ring per local index */
    for (int k = 0; k < 2 * (m - 1); k++) {
        phase(p);
        for (int i = 0; i < n; i++)
            add(p, i, (i + gpn) % n, shard / m);
    }
    /* 3: all-gather inside every node */
    for (int k = 0; k < gpn - 1; k++) {
        phase(p);
        for (int i = 0; i < n; i++) {
            int base = i / gpn * gpn;
            add(p, i, base + (i % gpn + 1) % gpn, shard);
        }
    }
}

/* The second half of a ring all-reduce: every GPU ends with all n chunks.
 * `t` is unused: a ring's shape does not depend on the fabric (the network
 * model sees the fabric when it times the plan). */
void coll_allgather(coll_plan *p, const topo_t *t, int n, double size)
{
    (void)t;
    coll_plan_clear(p);
    if (n >= 2)
        ring_steps(p, n, size / n, n - 1);
}

/* The first half: every GPU ends with one reduced chunk; same traffic as
 * the all-gather, in the same ring order. */
void coll_reducescatter(coll_plan *p, const topo_t *t, int n, double size)
{
    (void)t;
    coll_plan_clear(p);
    if (n >= 2)
        ring_steps(p, n, size / n, n - 1);
}

/* Phases are barriers, so their times add; within a phase the analytical
 * bound applies (busiest link's drain + longest latency + overhead). The
 * result names the phase whose drain is longest, so its bottleneck link is
 * the one a user should look at. */
void coll_plan_analytical(const coll_plan *p, const topo_t *t, sim_time_t overhead_ps,
                          net_result *out, double *link_bytes)
{
    int L = topo_link_count(t);
    double *acc = link_bytes ? link_bytes : xcalloc((size_t)L, sizeof(*acc), "link bytes");
    coll_scratch sc;
    coll_scratch_init(&sc, L);
    memset(acc, 0, (size_t)L * sizeof(*acc));
    coll_plan_analytical_add(p, t, overhead_ps, out, acc, &sc);
    coll_scratch_fini(&sc);
    if (!link_bytes)
        free(acc);
}

double coll_row_bytes(int hidden, dtype_t dt)
{
    double b = (double)hidden * dtype_bytes(dt);
    if (dt == DTYPE_FP8) /* per-128-value FP32 scales travel with the row */
        b += 4.0 * ((hidden + 127) / 128);
    return b;
}

void coll_scratch_init(coll_scratch *sc, int links)
{
    sc->phase = xcalloc((size_t)links, sizeof(*sc->phase), "phase link bytes");
    sc->call = xcalloc((size_t)links, sizeof(*sc->call), "plan link bytes");
    sc->phase_links = xcalloc((size_t)links, sizeof(*sc->phase_links), "phase links");
    sc->call_links = xcalloc((size_t)links, sizeof(*sc->call_links), "plan links");
}

void coll_scratch_fini(coll_scratch *sc)
{
    free(sc->phase);
    free(sc->call);
    free(sc->phase_links);
    free(sc->call_links);
    memset(sc, 0, sizeof(*sc));
}

/* As coll_plan_analytical, phase by phase, summing the phases' link bytes
 * in the same order (so acc gets the same doubles). */
void coll_plan_analytical_add(const coll_plan *p, const topo_t *t, sim_time_t overhead_ps,
                              net_result *out, double *acc, coll_scratch *sc)
{
    *out = (net_result){0, 0, 0, -1, 0, 0};
    sim_time_t total = 0, longest = -1;
    double all = 0;
    int ncall = 0;
    for (int ph = 0; ph < p->phases; ph++) {
        int a = p->off[ph], n = p->off[ph + 1] - a, nt;
        if (n == 0)
            continue;
        net_result r;
        net_analytical_sparse(t, n, p->src + a, p->dst + a, p->bytes + a, overhead_ps, &r,
                              sc->phase, sc->phase_links, &nt);
        total = r.time_ps > SIM_TIME_MAX - total ? SIM_TIME_MAX : total + r.time_ps;
        all += r.total_bytes;
        if (r.drain_ps > longest) {
            longest = r.drain_ps;
            *out = r;
        }
        for (int k = 0; k < nt; k++) {
            int l = sc->phase_links[k];
            if (sc->call[l] == 0)
                sc->call_links[ncall++] = l;
            sc->call[l] += sc->phase[l];
            sc->phase[l] = 0;
        }
    }
    for (int k = 0; k < ncall; k++) {
        int l = sc->call_links[k];
        acc[l] += sc->call[l];
        sc->call[l] = 0;
    }
    out->time_ps = total;
    out->total_bytes = all;
}
