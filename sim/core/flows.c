/*
 * flows.c - the flow process: max-min fair rates turned into time on the
 * event engine.
 *
 * State: a pool of flow records (free list, no allocation once it has grown
 * to the largest set in flight), the dense array of flows whose bytes are
 * still leaving (`act`), the time their remaining bytes were last brought up
 * to date, and one engine event: the next completion. Between two changes
 * every rate is constant, so a flow's remaining bytes fall linearly and the
 * next completion is the smallest remaining / rate. A change (a start, a
 * completion) first brings every flow's remaining bytes to now, then asks
 * net_maxmin_solve for new rates and moves the completion event with
 * engine_reschedule. Starts at one instant are gathered into one re-share
 * by a zero-delay "reshare" event, so a collective that starts 65,280 flows
 * at once costs one solve, not 65,280.
 *
 * Exactness: a completion is scheduled at round(remaining / rate) ps, and a
 * flow counts as finished when less than one picosecond of its bytes is
 * left, so round inputs give exact times (900 MB alone on 450 GB/s: 2 ms).
 * Cost per change: O(active flows) to update and gather, plus the solve. A
 * set whose flows all finish at different instants (a skewed all-to-all-v)
 * therefore costs O(F^2) overall; collectives with equal sizes, the common
 * case, finish in a few waves. The way out, if it matters, is re-solving only
 * the links whose flows changed.
 */
#include "moesim/flows.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/net.h"

typedef struct flow {
    int src, dst;
    int hops;
    int route[TOPO_MAX_HOPS]; /* the topology's route, src to dst */
    double bytes;     /* as started */
    double rem;       /* bytes not yet sent */
    double rate;      /* bytes/s, from the last solve */
    sim_time_t lat;   /* route latency + overhead, paid after the last byte */
    int pos;          /* index in act, -1 when not active */
    int next_free;
    flows_done_fn done;
    void *ctx;
    uint64_t tag;
} flow;

struct flows {
    engine_t *eng;
    const topo_t *t;
    sim_time_t overhead_ps;
    int nlinks;
    double *cap;        /* per link: achievable rate */
    double *link_bytes; /* per link: bytes started over it */

    flow *pool;
    int npool, free_head;
    int *act;           /* active flow slots */
    int nact, cap_act;
    /* gathered per solve, sized like act */
    const int **rt;
    int *hp;
    double *rate;

    sim_time_t last;    /* when rem was last brought up to date */
    engine_id_t complete_ev; /* 0: none pending */
    int reshare_pending;
    uint64_t reshares;
    net_maxmin_t *mm;
    double tol_ps;      /* flows_set_tolerance: finishes this close count as now */
    int beyond;         /* an event would fall beyond the clock: the run stopped */
};

/* Times add saturating: a latency of "9000000 s" on two hops is beyond the
 * clock, and must read as such (SIM_TIME_MAX), not wrap. */
static sim_time_t sat_add(sim_time_t a, sim_time_t b)
{
    sim_time_t r;
    return __builtin_add_overflow(a, b, &r) ? SIM_TIME_MAX : r;
}

/* An event would fall beyond the clock's range (a "1 B/s" link): stop the
 * engine; flows_run_phases returns SIM_TIME_MAX and the caller names the
 * input. The process is spent (events are left pending). */
static void beyond_clock(flows_t *f)
{
    f->beyond = 1;
    engine_stop(f->eng);
}

static void complete_fire(engine_t *e, void *ctx, const engine_event_t *ev);
static void reshare_fire(engine_t *e, void *ctx, const engine_event_t *ev);
static void done_fire(engine_t *e, void *ctx, const engine_event_t *ev);

flows_t *flows_new(engine_t *eng, const topo_t *t, sim_time_t overhead_ps)
{
    flows_t *f = xcalloc(1, sizeof(*f), "flow process");
    f->eng = eng;
    f->t = t;
    f->overhead_ps = overhead_ps;
    f->nlinks = topo_link_count(t);
    f->cap = xcalloc((size_t)f->nlinks, sizeof(*f->cap), "link rates");
    f->link_bytes = xcalloc((size_t)f->nlinks, sizeof(*f->link_bytes), "flow link bytes");
    for (int l = 0; l < f->nlinks; l++)
        f->cap[l] = topo_link_rate(topo_link_at(t, l));
    f->free_head = -1;
    f->last = engine_now(eng);
    f->mm = net_maxmin_new();
    return f;
}

void flows_free(flows_t *f)
{
    if (!f)
        return;
    net_maxmin_free(f->mm);
    free(f->cap);
    free(f->link_bytes);
    free(f->pool);
    free(f->act);
    free(f->rt);
    free(f->hp);
    free(f->rate);
    free(f);
}

int flows_active(const flows_t *f)
{
    return f->nact;
}

uint64_t flows_reshares(const flows_t *f)
{
    return f->reshares;
}

const double *flows_link_bytes(const flows_t *f)
{
    return f->link_bytes;
}

/* Flow records are recycled through a free list threaded through the
 * records themselves; the pool doubles when empty, so a process that has
 * seen its largest burst allocates nothing more. */
static int slot_get(flows_t *f)
{
    if (f->free_head < 0) { /* grow the pool and thread the new slots */
        int n = f->npool ? 2 * f->npool : 64;
        f->pool = xrealloc(f->pool, (size_t)n, sizeof(*f->pool), "flows");
        for (int i = f->npool; i < n; i++)
            f->pool[i].next_free = i + 1 < n ? i + 1 : -1;
        f->free_head = f->npool;
        f->npool = n;
    }
    int s = f->free_head;
    f->free_head = f->pool[s].next_free;
    return s;
}

static void slot_put(flows_t *f, int s)
{
    f->pool[s].next_free = f->free_head;
    f->free_head = s;
}

/* Brings every active flow's remaining bytes to now. Free when nothing has
 * elapsed, which keeps a burst of starts at one instant linear. */
static void advance(flows_t *f)
{
    sim_time_t now = engine_now(f->eng);
    if (now == f->last)
        return;
    double dt = sim_time_to_s(now - f->last);
    for (int i = 0; i < f->nact; i++) {
        flow *fl = &f->pool[f->act[i]];
        fl->rem -= fl->rate * dt;
    }
    f->last = now;
}

/* Less than one picosecond of bytes left (plus the tolerance, if one is
 * set): finished. The picosecond absorbs the rounding of completion times
 * to whole picoseconds. */
static int finished(const flows_t *f, const flow *fl)
{
    return fl->rem <= 0 || fl->rem / fl->rate * 1e12 < 1.0 + f->tol_ps;
}

int flows_beyond(const flows_t *f)
{
    return f->beyond;
}

void flows_set_tolerance(flows_t *f, sim_time_t ps)
{
    f->tol_ps = ps > 0 ? (double)ps : 0.0;
}

/* New rates for the active set, and the completion event moved to the
 * earliest finish under them. */
static void reshare(flows_t *f)
{
    f->reshares++;
    if (f->nact == 0) {
        if (f->complete_ev)
            engine_cancel(f->eng, f->complete_ev);
        f->complete_ev = 0;
        return;
    }
    for (int i = 0; i < f->nact; i++) {
        const flow *fl = &f->pool[f->act[i]];
        f->rt[i] = fl->route;
        f->hp[i] = fl->hops;
    }
    net_maxmin_solve(f->mm, f->nlinks, f->cap, f->nact, f->rt, f->hp, f->rate);
    double soonest = INFINITY;
    for (int i = 0; i < f->nact; i++) {
        flow *fl = &f->pool[f->act[i]];
        fl->rate = f->rate[i];
        double t = fl->rem / fl->rate * 1e12;
        soonest = t < soonest ? t : soonest;
    }
    /* compared as doubles first: llround of a time past 2^63 is undefined */
    sim_time_t now = engine_now(f->eng);
    if (!(soonest < (double)(SIM_TIME_MAX - now))) {
        beyond_clock(f);
        return;
    }
    sim_time_t when = now + (soonest < 1 ? 1 : (sim_time_t)llround(soonest));
    if (when < now) { /* rounded up past the end of the clock */
        beyond_clock(f);
        return;
    }
    if (!f->complete_ev || !engine_reschedule(f->eng, f->complete_ev, when))
        f->complete_ev = engine_schedule(f->eng, when, complete_fire, f, 0);
}

/* Why the link bytes are counted at the start and not as bytes flow: the
 * run reports bytes per link, not a time series, and every started flow
 * does deliver all its bytes. */
void flows_start(flows_t *f, int src, int dst, double bytes, flows_done_fn done, void *ctx,
                 uint64_t tag)
{
    int s = slot_get(f);
    flow *fl = &f->pool[s];
    *fl = (flow){.src = src, .dst = dst, .bytes = bytes, .rem = bytes, .pos = -1,
                 .next_free = -1, .done = done, .ctx = ctx, .tag = tag};
    fl->hops = src == dst ? 0 : topo_route(f->t, src, dst, fl->route);
    if (fl->hops == 0 || !(bytes > 0)) { /* no link: arrives at once */
        engine_after(f->eng, 0, done_fire, f, (uint64_t)s);
        return;
    }
    fl->lat = f->overhead_ps;
    for (int h = 0; h < fl->hops; h++)
        fl->lat = sat_add(fl->lat, topo_link_at(f->t, fl->route[h])->lat_ps);
    for (int h = 0; h < fl->hops; h++)
        f->link_bytes[fl->route[h]] += bytes;
    advance(f); /* the others' progress up to now, at their old rates */
    if (f->nact == f->cap_act) {
        int n = f->cap_act ? 2 * f->cap_act : 64;
        f->act = xrealloc(f->act, (size_t)n, sizeof(*f->act), "active flows");
        f->rt = xrealloc(f->rt, (size_t)n, sizeof(*f->rt), "flow routes");
        f->hp = xrealloc(f->hp, (size_t)n, sizeof(*f->hp), "flow hops");
        f->rate = xrealloc(f->rate, (size_t)n, sizeof(*f->rate), "flow rates");
        f->cap_act = n;
    }
    fl->pos = f->nact;
    f->act[f->nact++] = s;
    fl->rate = 0;
    /* Until the re-share runs, this flow has rate 0 and the others keep
     * theirs: nothing elapses before it, since it is due now. */
    if (!f->reshare_pending) {
        f->reshare_pending = 1;
        engine_after(f->eng, 0, reshare_fire, f, 0);
    }
}

/* Fires once per instant at which flows started: the others' progress up
 * to now is already booked (flows_start advanced them), so new rates for
 * everyone and a moved completion event are all that is left. */
static void reshare_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    (void)ev;
    flows_t *f = ctx;
    f->reshare_pending = 0;
    advance(f);
    reshare(f);
}

static void complete_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)ev;
    flows_t *f = ctx;
    f->complete_ev = 0;
    advance(f);
    /* Every flow done by now leaves together: one re-share for the wave. */
    for (int i = 0; i < f->nact;) {
        int s = f->act[i];
        flow *fl = &f->pool[s];
        if (fl->rate > 0 && finished(f, fl)) {
            int last = f->act[--f->nact]; /* swap-remove keeps act dense */
            f->act[i] = last;
            f->pool[last].pos = i;
            fl->pos = -1;
            fl->rem = 0;
            if (!engine_fits(e, fl->lat)) {
                beyond_clock(f);
                return;
            }
            engine_after(e, fl->lat, done_fire, f, (uint64_t)s);
        } else {
            i++;
        }
    }
    if (!f->reshare_pending)
        reshare(f);
}

/* A flow's last byte has arrived (its latency paid): hand it back to the
 * caller, which may start the next phase from inside the callback. */
static void done_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    flows_t *f = ctx;
    int s = (int)ev->arg;
    flow fl = f->pool[s];
    slot_put(f, s); /* before the callback, which may start flows */
    if (fl.done)
        fl.done(fl.ctx, fl.tag);
}

/* ---- a phased collective on its own engine ---- */

typedef struct phase_run {
    flows_t *f;
    int phases, cur, pending;
    const int *off, *src, *dst;
    const double *bytes;
} phase_run;

static void phase_start(phase_run *r);

static void phase_flow_done(void *ctx, uint64_t tag)
{
    (void)tag;
    phase_run *r = ctx;
    if (--r->pending == 0) {
        r->cur++;
        phase_start(r);
    }
}

/* Starts the next phase that has any flow (an empty phase takes no time). */
static void phase_start(phase_run *r)
{
    while (r->cur < r->phases && r->off[r->cur] == r->off[r->cur + 1])
        r->cur++;
    if (r->cur >= r->phases)
        return;
    int a = r->off[r->cur], b = r->off[r->cur + 1];
    r->pending = b - a;
    for (int i = a; i < b; i++)
        flows_start(r->f, r->src[i], r->dst[i], r->bytes[i], phase_flow_done, r, 0);
}

sim_time_t flows_run_phases(flows_t *f, int phases, const int *off, const int *src,
                            const int *dst, const double *bytes)
{
    assert(engine_pending(f->eng) == 0);
    memset(f->link_bytes, 0, (size_t)f->nlinks * sizeof(*f->link_bytes));
    sim_time_t start = engine_now(f->eng);
    f->last = start; /* nothing was in flight since the previous run */
    phase_run r = {f, phases, 0, 0, off, src, dst, bytes};
    phase_start(&r);
    engine_run(f->eng, SIM_TIME_MAX);
    if (f->beyond)
        return SIM_TIME_MAX;
    assert(r.cur >= phases);
    return engine_now(f->eng) - start;
}

sim_time_t flows_time_phases(const topo_t *t, sim_time_t overhead_ps, int phases,
                             const int *off, const int *src, const int *dst,
                             const double *bytes, double *link_bytes)
{
    engine_t *eng = engine_new(16);
    flows_t *f = flows_new(eng, t, overhead_ps);
    sim_time_t end = flows_run_phases(f, phases, off, src, dst, bytes);
    if (link_bytes)
        memcpy(link_bytes, f->link_bytes, (size_t)f->nlinks * sizeof(*link_bytes));
    flows_free(f);
    engine_free(eng);
    return end;
}
