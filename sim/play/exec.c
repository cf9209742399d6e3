/*
 * exec.c - the executor: a graph of operations played on per-GPU streams.
 *
 * Each operation is compute on one GPU or a collective over member GPUs; it
 * holds one membership per member (one for compute), and each (GPU, stream)
 * keeps its queue of memberships as a singly linked FIFO threaded through
 * `mnext`, so a stream is a head and a tail index and adding is O(members).
 * An operation starts when two counters reach their goal: `deps_left` (its
 * unfinished dependencies) 0, and `at_head` (members at whose stream head it
 * stands) n. Each counter moves only when an operation ends: its successors
 * (an edge list threaded through `enext`) lose a dependency, and on every
 * member stream the next membership becomes the head. Nothing polls: the cost
 * of a graph is O(operations + memberships + edges) plus the costs the
 * callbacks compute.
 *
 * An operation's end is an engine event (even a zero-length one), so ending
 * never recurses into starting: every start happens in the handler of some
 * end, in the order the ends fire, which is the engine's (time, insertion)
 * order. Same graph, same costs: same times, on any machine.
 *
 * Communication is timed from its plan (models/collective.h). Analytical:
 * coll_plan_analytical, as if the collective had its links to itself (the
 * collectives running at once do not slow one another; docs/network.md).
 * Flow: each phase's transfers start on one flow process (sim/core/flows.c)
 * shared by all collectives in flight, so concurrent collectives share link
 * bandwidth max-min fairly; a phase starts when the previous one's last flow
 * has arrived.
 *
 * Exposed communication: a compute operation that stands at the head of its
 * stream with a dependency still running waits; when the dependency whose end
 * released it is communication, the part of the wait after that
 * communication started is exposed time of its class on the GPU. Before the
 * communication started, the GPU waited on a peer (a collective starts when
 * its last member arrives): imbalance, which the caller sees as idle time.
 */
#include "moesim/exec.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/flows.h"

#ifdef MOESIM_TEST
#define INITIAL_OPS 2
#else
#define INITIAL_OPS 256
#endif

enum { OP_WAITING, OP_RUNNING, OP_DONE };

typedef struct op {
    sim_time_t start, end;
    sim_time_t head_at;  /* compute: when it reached the head of its stream */
    uint64_t tag;
    int kind;
    int cls;             /* exec_class; EXEC_CLASS_NONE for compute */
    int stream, n;
    int memb;            /* memberships memb .. memb + n - 1 */
    int edges;           /* first successor edge, -1: none */
    int deps_left, at_head;
    int release;         /* the dependency whose end let it start, -1 */
    int phase, flows_left; /* flow model: the phase in flight */
    int pslot;           /* flow model: its plan in `plans`, -1: none */
    sim_time_t exposed;  /* compute: its exposed wait, of class exposed_cls */
    int exposed_cls;
    int state;
} op;

struct exec {
    engine_t *eng;
    const topo_t *t;
    exec_config cfg;
    exec_callbacks cb;
    void *ctx;

    op *ops;
    int nops, cap_ops;
    long pending;
    /* memberships: GPU, operation, next in the same stream's queue; for
     * data-parallel communication, when the run of such operations that
     * ended with it on that member's stream began (back to back) */
    int *mgpu, *mop, *mnext;
    sim_time_t *mrun;
    int nmemb, cap_memb;
    /* successor edges: target, next edge of the same source */
    int *eto, *enext;
    int nedge, cap_edge;
    /* per (gpu, stream): queue head and tail memberships, -1: empty; the
     * last operation's end and its run's start (data-parallel runs) */
    int *qhead, *qtail;
    sim_time_t *qend, *qrun;

    coll_plan plan;      /* analytical: filled by cb.plan, reused */
    flows_t *flows;      /* flow model only */
    coll_plan *plans;    /* flow model: plans of collectives in flight */
    int *pfree;          /* free slots of plans */
    int nplans, npfree;
    int nlinks;
    double *link_bytes; /* analytical: bytes per link, all plans */
    coll_scratch scratch;
    int64_t *exposed;    /* EXEC_CLASSES x gpus */
    int64_t *busy;       /* streams x gpus */
    int failed;
};

const char *exec_class_name(exec_class c)
{
    static const char *const names[EXEC_CLASSES] = {"alltoall", "tp", "dp", "pp"};
    return c >= 0 && c < EXEC_CLASSES ? names[c] : "?";
}

exec_t *exec_new(engine_t *eng, const topo_t *t, const exec_config *cfg,
                 const exec_callbacks *cb, void *ctx)
{
    assert(cfg->gpus > 0 && cfg->streams >= 1 && cfg->streams <= EXEC_MAX_STREAMS);
    exec_t *x = xcalloc(1, sizeof(*x), "executor");
    size_t g = (size_t)cfg->gpus, q = g * (size_t)cfg->streams;
    x->eng = eng;
    x->t = t;
    x->cfg = *cfg;
    x->cb = *cb;
    x->ctx = ctx;
    x->qhead = xmalloc(q * sizeof(*x->qhead), "stream queues");
    x->qtail = xmalloc(q * sizeof(*x->qtail), "stream queues");
    x->qend = xmalloc(q * sizeof(*x->qend), "stream queues");
    x->qrun = xcalloc(q, sizeof(*x->qrun), "stream queues");
    for (size_t i = 0; i < q; i++) {
        x->qhead[i] = x->qtail[i] = -1;
        x->qend[i] = -1;
    }
    x->nlinks = topo_link_count(t);
    if (cfg->model == NET_FLOW) {
        x->flows = flows_new(eng, t, cfg->overhead_ps);
        flows_set_tolerance(x->flows, cfg->flow_tol_ps);
    } else {
        x->link_bytes = xcalloc((size_t)x->nlinks, sizeof(double), "link bytes");
        coll_scratch_init(&x->scratch, x->nlinks);
    }
    x->exposed = xcalloc((size_t)EXEC_CLASSES * g, sizeof(*x->exposed), "exposed time");
    x->busy = xcalloc(q, sizeof(*x->busy), "stream busy time");
    x->plan = (coll_plan)COLL_PLAN_INIT;
    return x;
}

void exec_free(exec_t *x)
{
    if (!x)
        return;
    free(x->ops);
    free(x->mgpu);
    free(x->mop);
    free(x->mnext);
    free(x->mrun);
    free(x->qend);
    free(x->qrun);
    free(x->eto);
    free(x->enext);
    free(x->qhead);
    free(x->qtail);
    coll_plan_fini(&x->plan);
    for (int i = 0; i < x->nplans; i++)
        coll_plan_fini(&x->plans[i]);
    free(x->plans);
    free(x->pfree);
    flows_free(x->flows);
    free(x->link_bytes);
    coll_scratch_fini(&x->scratch);
    free(x->exposed);
    free(x->busy);
    free(x);
}

/* ---- the graph ---- */

static void grow_ops(exec_t *x)
{
    if (x->nops < x->cap_ops)
        return;
    int n = x->cap_ops ? 2 * x->cap_ops : INITIAL_OPS;
    x->ops = xrealloc(x->ops, (size_t)n, sizeof(*x->ops), "operations");
    x->cap_ops = n;
}

static void grow_memb(exec_t *x, int more)
{
    if (x->nmemb + more <= x->cap_memb)
        return;
    int n = x->cap_memb ? x->cap_memb : INITIAL_OPS;
    while (n < x->nmemb + more)
        n *= 2;
    x->mgpu = xrealloc(x->mgpu, (size_t)n, sizeof(*x->mgpu), "memberships");
    x->mop = xrealloc(x->mop, (size_t)n, sizeof(*x->mop), "memberships");
    x->mnext = xrealloc(x->mnext, (size_t)n, sizeof(*x->mnext), "memberships");
    x->mrun = xrealloc(x->mrun, (size_t)n, sizeof(*x->mrun), "memberships");
    x->cap_memb = n;
}

static void add_edge(exec_t *x, int from, int to)
{
    if (x->nedge == x->cap_edge) {
        int n = x->cap_edge ? 2 * x->cap_edge : INITIAL_OPS;
        x->eto = xrealloc(x->eto, (size_t)n, sizeof(*x->eto), "dependencies");
        x->enext = xrealloc(x->enext, (size_t)n, sizeof(*x->enext), "dependencies");
        x->cap_edge = n;
    }
    x->eto[x->nedge] = to;
    x->enext[x->nedge] = x->ops[from].edges;
    x->ops[from].edges = x->nedge++;
}

static int queue_of(const exec_t *x, int gpu, int stream)
{
    return gpu * x->cfg.streams + stream;
}

static void try_start(exec_t *x, int id);

/* The operation became the head of one more member stream. */
static void reach_head(exec_t *x, int id)
{
    op *o = &x->ops[id];
    o->at_head++;
    if (o->cls == EXEC_CLASS_NONE)
        o->head_at = engine_now(x->eng);
    try_start(x, id);
}

static int add_op(exec_t *x, const int *members, int n, int stream, int kind, int cls,
                  uint64_t tag, const int *deps, int ndeps)
{
    assert(n >= 1 && stream >= 0 && stream < x->cfg.streams);
    grow_ops(x);
    grow_memb(x, n);
    int id = x->nops++;
    x->ops[id] = (op){.tag = tag, .kind = kind, .cls = cls, .stream = stream, .n = n,
                      .memb = x->nmemb, .edges = -1, .release = -1, .pslot = -1,
                      .exposed_cls = EXEC_CLASS_NONE,
                      .state = OP_WAITING};
    x->pending++;
    for (int d = 0; d < ndeps; d++) {
        assert(deps[d] >= 0 && deps[d] < id);
        if (x->ops[deps[d]].state != OP_DONE) {
            add_edge(x, deps[d], id);
            x->ops[id].deps_left++;
        }
    }
    int heads = 0;
    for (int i = 0; i < n; i++) {
        assert(members[i] >= 0 && members[i] < x->cfg.gpus);
        int m = x->nmemb++, q = queue_of(x, members[i], stream);
        x->mgpu[m] = members[i];
        x->mop[m] = id;
        x->mnext[m] = -1;
        if (x->qtail[q] < 0)
            x->qhead[q] = m, heads++;
        else
            x->mnext[x->qtail[q]] = m;
        x->qtail[q] = m;
    }
    x->ops[id].at_head = heads;
    if (heads > 0) /* compute: it heads its stream from now */
        x->ops[id].head_at = engine_now(x->eng);
    try_start(x, id);
    return id;
}

int exec_compute(exec_t *x, int gpu, int stream, int kind, uint64_t tag, const int *deps,
                 int ndeps)
{
    return add_op(x, &gpu, 1, stream, kind, EXEC_CLASS_NONE, tag, deps, ndeps);
}

int exec_collective(exec_t *x, const int *members, int n, int stream, int kind,
                    exec_class cls, uint64_t tag, const int *deps, int ndeps)
{
    assert(cls >= 0 && cls < EXEC_CLASSES);
    return add_op(x, members, n, stream, kind, (int)cls, tag, deps, ndeps);
}

long exec_pending(const exec_t *x)
{
    return x->pending;
}

void exec_clear(exec_t *x)
{
    assert(x->pending == 0);
    x->nops = x->nmemb = x->nedge = 0;
    size_t q = (size_t)x->cfg.gpus * (size_t)x->cfg.streams;
    for (size_t i = 0; i < q; i++) {
        x->qhead[i] = x->qtail[i] = -1;
        x->qend[i] = -1;
    }
}

int exec_failed(const exec_t *x)
{
    return x->failed || (x->flows && flows_beyond(x->flows));
}

/* ---- running ---- */

static exec_span span_of(const exec_t *x, int id)
{
    const op *o = &x->ops[id];
    return (exec_span){.op = id, .kind = o->kind, .tag = o->tag, .cls = (exec_class)o->cls,
                       .gpu = x->mgpu[o->memb], .members = &x->mgpu[o->memb], .n = o->n,
                       .stream = o->stream, .start = o->start, .end = o->end,
                       .exposed = o->exposed, .exposed_cls = (exec_class)o->exposed_cls};
}

static void end_fire(engine_t *e, void *ctx, const engine_event_t *ev);

/* A cost beyond the clock: the caller names its input; the run stops. */
static void beyond(exec_t *x, int id, sim_time_t delay)
{
    x->failed = 1;
    if (x->cb.overflow) {
        exec_span s = span_of(x, id);
        x->cb.overflow(x->ctx, &s, delay);
    }
    engine_stop(x->eng);
}

static void end_after(exec_t *x, int id, sim_time_t delay)
{
    if (delay == SIM_TIME_MAX || delay < 0 || !engine_fits(x->eng, delay)) {
        beyond(x, id, delay);
        return;
    }
    engine_after(x->eng, delay, end_fire, x, (uint64_t)id);
}

static void flow_done(void *ctx, uint64_t tag);

/* Flow model: a plan slot for a collective in flight (its later phases
 * start from it); slots are reused, so memory follows the most collectives
 * in flight at once. */
static int plan_get(exec_t *x)
{
    if (x->npfree > 0)
        return x->pfree[--x->npfree];
    x->plans = xrealloc(x->plans, (size_t)x->nplans + 1, sizeof(*x->plans), "plans in flight");
    x->pfree = xrealloc(x->pfree, (size_t)x->nplans + 1, sizeof(*x->pfree), "plans in flight");
    x->plans[x->nplans] = (coll_plan)COLL_PLAN_INIT;
    return x->nplans++;
}

/* Flow model: starts the next phase of the operation's plan that has a
 * transfer; ends the operation when none is left. */
static void run_phase(exec_t *x, int id)
{
    op *o = &x->ops[id];
    const coll_plan *p = &x->plans[o->pslot];
    while (o->phase < p->phases && p->off[o->phase] == p->off[o->phase + 1])
        o->phase++;
    if (o->phase >= p->phases) {
        end_after(x, id, 0);
        return;
    }
    int a = p->off[o->phase], b = p->off[o->phase + 1];
    o->flows_left = b - a;
    for (int i = a; i < b; i++)
        flows_start(x->flows, p->src[i], p->dst[i], p->bytes[i], flow_done, x, (uint64_t)id);
}

static void flow_done(void *ctx, uint64_t tag)
{
    exec_t *x = ctx;
    int id = (int)tag;
    if (--x->ops[id].flows_left == 0) {
        x->ops[id].phase++;
        run_phase(x, id);
    }
}

static void start_comm(exec_t *x, int id)
{
    exec_span s = span_of(x, id);
    if (x->flows) {
        int slot = plan_get(x);
        x->ops[id].pslot = slot;
        coll_plan_clear(&x->plans[slot]);
        x->cb.plan(x->ctx, &s, &x->plans[slot]);
        run_phase(x, id);
        return;
    }
    net_result r;
    coll_plan_clear(&x->plan);
    x->cb.plan(x->ctx, &s, &x->plan);
    coll_plan_analytical_add(&x->plan, x->t, x->cfg.overhead_ps, &r, x->link_bytes,
                             &x->scratch);
    end_after(x, id, r.time_ps);
}

/* Exposed wait of a compute operation starting now (see the file head). */
/* When the communication r began for GPU g: its start, or for
 * data-parallel communication the start of the run of such operations
 * that ran back to back on g's stream up to it (gradient buckets queue on
 * one stream: the optimizer waits for the last, the GPU for them all). */
static sim_time_t comm_began(const exec_t *x, const op *r, int g)
{
    for (int i = 0; r->cls == EXEC_CLASS_DP && i < r->n; i++)
        if (x->mgpu[r->memb + i] == g)
            return x->mrun[r->memb + i];
    return r->start;
}

static void count_exposed(exec_t *x, int id)
{
    op *o = &x->ops[id];
    if (o->release < 0 || x->ops[o->release].cls == EXEC_CLASS_NONE)
        return;
    const op *r = &x->ops[o->release];
    sim_time_t began = comm_began(x, r, x->mgpu[o->memb]);
    sim_time_t from = o->head_at > began ? o->head_at : began;
    if (o->start <= from)
        return;
    o->exposed = o->start - from;
    o->exposed_cls = r->cls;
    int64_t *sum = &x->exposed[(size_t)r->cls * (size_t)x->cfg.gpus + (size_t)x->mgpu[o->memb]];
    *sum = sat_add(*sum, o->exposed);
}

static void try_start(exec_t *x, int id)
{
    op *o = &x->ops[id];
    if (o->state != OP_WAITING || o->deps_left > 0 || o->at_head < o->n || exec_failed(x))
        return;
    o->state = OP_RUNNING;
    o->start = engine_now(x->eng);
    if (o->cls != EXEC_CLASS_NONE) {
        for (int i = 0; i < o->n; i++) { /* a data-parallel run goes on, or begins */
            int q = queue_of(x, x->mgpu[o->memb + i], o->stream);
            x->mrun[o->memb + i] =
                o->cls == EXEC_CLASS_DP && x->qend[q] == o->start ? x->qrun[q] : o->start;
        }
        start_comm(x, id);
        return;
    }
    x->mrun[o->memb] = o->start; /* compute breaks a stream's run */
    count_exposed(x, id);
    exec_span s = span_of(x, id);
    end_after(x, id, x->cb.duration(x->ctx, &s));
}

/* An operation ends: the hook hears of it, then each member stream moves
 * to its next operation, then its successors lose a dependency. */
static void end_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    exec_t *x = ctx;
    int id = (int)ev->arg;
    op *o = &x->ops[id];
    o->state = OP_DONE;
    o->end = ev->time;
    x->pending--;
    if (o->pslot >= 0) {
        x->pfree[x->npfree++] = o->pslot;
        o->pslot = -1;
    }
    for (int i = 0; i < o->n; i++) {
        int64_t *b = &x->busy[(size_t)o->stream * (size_t)x->cfg.gpus + (size_t)x->mgpu[o->memb + i]];
        *b = sat_add(*b, o->end - o->start);
    }
    exec_span s = span_of(x, id);
    x->cb.done(x->ctx, &s);
    int n = x->ops[id].n, memb = x->ops[id].memb, stream = x->ops[id].stream;
    for (int i = 0; i < n; i++) {
        int q = queue_of(x, x->mgpu[memb + i], stream);
        assert(x->qhead[q] == memb + i);
        x->qend[q] = x->ops[id].end;
        x->qrun[q] = x->mrun[memb + i];
        int next = x->mnext[memb + i];
        x->qhead[q] = next;
        if (next < 0)
            x->qtail[q] = -1;
        else
            reach_head(x, x->mop[next]);
    }
    for (int ed = x->ops[id].edges; ed >= 0; ed = x->enext[ed]) {
        op *t = &x->ops[x->eto[ed]];
        if (--t->deps_left == 0) {
            t->release = id;
            try_start(x, x->eto[ed]);
        }
    }
}

/* ---- counters ---- */

const int64_t *exec_exposed(const exec_t *x, exec_class c)
{
    assert(c >= 0 && c < EXEC_CLASSES);
    return &x->exposed[(size_t)c * (size_t)x->cfg.gpus];
}

const int64_t *exec_busy(const exec_t *x, int stream)
{
    assert(stream >= 0 && stream < x->cfg.streams);
    return &x->busy[(size_t)stream * (size_t)x->cfg.gpus];
}

void exec_reset_counters(exec_t *x)
{
    size_t g = (size_t)x->cfg.gpus;
    memset(x->exposed, 0, (size_t)EXEC_CLASSES * g * sizeof(*x->exposed));
    memset(x->busy, 0, (size_t)x->cfg.streams * g * sizeof(*x->busy));
}

const double *exec_link_bytes(const exec_t *x)
{
    return x->flows ? flows_link_bytes(x->flows) : x->link_bytes;
}
