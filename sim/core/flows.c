/*
 * flows.c - the flow process: max-min fair rates turned into time on the
 * event engine, re-shared incrementally.
 *
 * The max-min allocation is kept as its bottleneck structure (Bertsekas and
 * Gallager, "Data Networks", 2nd ed., §6.5.2): every flow in flight belongs
 * to one link of its route, its bottleneck, and runs at that link's fair
 * share `lam`; a link with own flows is full, lam = (capacity - `other`) /
 * own, where `other` is the rate of the flows crossing it that are
 * bottlenecked elsewhere. The allocation is max-min fair exactly when every
 * flow's bottleneck has the smallest share on its route, no flow crossing a
 * link runs faster than its share, and a link with no own flows has room
 * (every flow then has a full link on which its rate is the largest: the
 * textbook condition, which has one solution). A completion or an arrival
 * breaks these conditions only on the links it crosses; `repair` restores
 * them by settling the links that changed, lowest share first (the order
 * in which progressive filling meets them), and passing on only what
 * moved: a link whose share rose lets go of the own flows that have a
 * smaller share elsewhere, a link whose share fell takes in the flows that
 * cross it faster, and a changed share is re-booked on the other links of
 * its own flows, which are queued in turn. The work of an event is that of
 * the links whose share it changes and of their flows, not of every flow in
 * flight. A burst of arrivals (an eighth or more of the flows new, as at a
 * collective's start) is solved from scratch by progressive filling, as
 * net_maxmin_solve does; so is a repair that grows past the cost of one.
 *
 * Time: the flows of one bottleneck share one rate, so each link keeps
 * `served`, the bytes each of its own flows has sent since its clock `at`,
 * and its own flows in a min-heap by `key`, the value of `served` at which
 * the flow's last byte leaves; a change of share moves that clock, not the
 * flows. A min-heap of links by their earliest finish gives the one pending
 * completion event, moved with engine_reschedule. Starts at one instant are
 * gathered into one re-share by a zero-delay event.
 *
 * Exactness: a completion is scheduled at round(remaining / rate) ps, and a
 * flow counts as finished when less than one picosecond of its bytes is
 * left, so round inputs give exact times (900 MB alone on 450 GB/s: 2 ms).
 * The rates are progressive filling's to within FLOWS_EPS (1e-12,
 * relative); tests/test_flows.c checks every arrival against a solve from
 * scratch at every event (1 ps apart at most, a rounding tipped).
 *
 * Cost, and what is left: on a skewed all-to-all-v, whose flows all end at
 * different instants, a completion changes the share of about a fifth of
 * the links and the rates of a fifth of the flows (measured at 64 and 128
 * GPUs; the fraction grows slowly with size). An event costs that, about
 * 0.5 F flow visits against O(F log L) for a solve, so the whole
 * collective is still O(F^2), 20-30 times faster (256 GPUs, 65,280 flows:
 * 18-20 s, was 435 s). Books kept per flow or per link cannot do much
 * better, since those rates do change; the way out would use the
 * all-to-all's dense structure (docs/network.md). Memory: O(F x hops), the
 * per-link flow lists.
 */
#include "moesim/flows.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct flow {
    int hops;
    int route[TOPO_MAX_HOPS]; /* the topology's route, src to dst */
    int lpos[TOPO_MAX_HOPS];  /* its index in each hop's flow list */
    int hpos;         /* index in its bottleneck's heap */
    int apos;         /* index in act; -1 when its bytes have all left */
    int next_free;
    double left;      /* bytes left when it last joined a group (at first: all) */
    sim_time_t lat;   /* route latency + overhead, paid after the last byte */
    flows_done_fn done;
    void *ctx;
    uint64_t tag;
} flow;

/* An own flow as its bottleneck keeps it: the key and a copy of the route,
 * so a change of share walks one array, not the flows' records. Its rate,
 * and what it is booked at on its other links, is the bottleneck's lam. */
typedef struct owned {
    double key;       /* the link's `served` at which its last byte leaves */
    int slot;
    int hops;
    int route[TOPO_MAX_HOPS];
} owned;

typedef struct link {
    double cap;       /* achievable rate, bytes/s */
    double lam;       /* rate of each own flow; INFINITY when it owns none */
    double other;     /* rates of the flows crossing it bottlenecked elsewhere, as
                       * booked: each at its bottleneck's lam */
    double served;    /* bytes each own flow has sent since a reset, as of `at` */
    sim_time_t at;
    double fin;       /* earliest own finish, ps (absolute, as a double) */
    int *fl;          /* flows crossing it */
    int nfl, cap_fl;
    owned *own;       /* own flows: a min-heap by key */
    int nown, cap_own;
    int gpos;         /* index in the finish heap; -1 when absent */
    char queued;      /* in the repair queue (or being settled) */
    char dirty;       /* fin to recompute before the next schedule */
    char fresh;       /* its share fell from infinity outside settle: check it */
} link;

typedef struct qent {
    double key;       /* repair: share when queued; solve: share when pushed */
    int link;
    int ver;          /* solve only: the link's version when pushed */
} qent;

struct flows {
    engine_t *eng;
    const topo_t *t;
    sim_time_t overhead_ps;
    int nlinks;
    link *lk;
    double *link_bytes; /* per link: bytes started over it */

    flow *pool;
    int *bn;            /* per slot: its bottleneck link; -1: not placed (apart
                         * from the records: pull_in reads only this) */
    int npool, free_head;
    int *act;           /* slots whose bytes are still leaving, placed or not */
    int nact, cap_act;
    int npend;
    long hops_act;      /* total hops of act: the size of a solve */

    int *gheap;         /* links with own flows, by fin */
    int ngheap;
    int *dirty;         /* links whose fin is to recompute */
    int ndirty;
    qent *q;            /* repair queue, or the solve's heap */
    int nq, cap_q;
    qent *scr;          /* candidates of one settle */
    int cap_scr;
    double *srem;       /* solve scratch, per link: remaining capacity */
    int *sn, *sver;     /* ... unfrozen flows, heap version */
    long work;          /* flows visited by the current repair */
    int broken;         /* a settle met a share it cannot use: solve instead */
    int *pend;          /* started, awaiting the zero-delay re-share */
    int cap_pend;
    sim_time_t epoch;   /* when the last solve ran: fin counts from it */

    engine_id_t complete_ev; /* 0: none pending */
    int reshare_pending;
    uint64_t reshares;
    double tol_ps;      /* flows_set_tolerance: finishes this close count as now */
    int beyond;         /* an event would fall beyond the clock: the run stopped */
};

/* Shares closer than this (relative) are equal: the books (`other`) are
 * sums kept by adding and subtracting rates, so a share recomputed from
 * them can differ from the one it came from in its last bits. Moving a
 * flow between two such links, or passing such a change on, would chase
 * rounding round the network. So a flow moves only to a share smaller by
 * more than this, a link with no own flows takes some in only when over
 * capacity by more than this, and a share that moves by less stays. The
 * rates are then those of progressive filling to within about this. */
#define FLOWS_EPS 1e-12

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
    size_t L = (size_t)f->nlinks;
    f->lk = xcalloc(L, sizeof(*f->lk), "flow links");
    f->link_bytes = xcalloc(L, sizeof(*f->link_bytes), "flow link bytes");
    f->gheap = xcalloc(L, sizeof(*f->gheap), "flow finish heap");
    f->dirty = xcalloc(L, sizeof(*f->dirty), "flow links");
    f->srem = xcalloc(L, sizeof(*f->srem), "flow solve");
    f->sn = xcalloc(L, sizeof(*f->sn), "flow solve");
    f->sver = xcalloc(L, sizeof(*f->sver), "flow solve");
    for (int l = 0; l < f->nlinks; l++) {
        f->lk[l].cap = topo_link_rate(topo_link_at(t, l));
        f->lk[l].lam = INFINITY;
        f->lk[l].gpos = -1;
    }
    f->free_head = -1;
    return f;
}

void flows_free(flows_t *f)
{
    if (!f)
        return;
    for (int l = 0; l < f->nlinks; l++) {
        free(f->lk[l].fl);
        free(f->lk[l].own);
    }
    free(f->lk);
    free(f->link_bytes);
    free(f->pool);
    free(f->bn);
    free(f->act);
    free(f->gheap);
    free(f->dirty);
    free(f->q);
    free(f->scr);
    free(f->pend);
    free(f->srem);
    free(f->sn);
    free(f->sver);
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

int flows_beyond(const flows_t *f)
{
    return f->beyond;
}

void flows_set_tolerance(flows_t *f, sim_time_t ps)
{
    f->tol_ps = ps > 0 ? (double)ps : 0.0;
}

/* Flow records are recycled through a free list threaded through the
 * records themselves; the pool doubles when empty, so a process that has
 * seen its largest burst allocates nothing more. */
static int slot_get(flows_t *f)
{
    if (f->free_head < 0) { /* grow the pool and thread the new slots */
        int n = f->npool ? 2 * f->npool : 64;
        f->pool = xrealloc(f->pool, (size_t)n, sizeof(*f->pool), "flows");
        f->bn = xrealloc(f->bn, (size_t)n, sizeof(*f->bn), "flow bottlenecks");
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

/* Grows an int array to hold n + 1 entries (doubling). */
static int *grow_ints(int *a, int *cap, int n, const char *what)
{
    if (n < *cap)
        return a;
    *cap = *cap ? 2 * *cap : 16;
    return xrealloc(a, (size_t)*cap, sizeof(*a), what);
}

/* ---- a link's clock and its heap of own flows ---- */

/* `served` now: the own flows have run at lam since `at`. */
static double served_now(const flows_t *f, const link *k)
{
    sim_time_t dt = engine_now(f->eng) - k->at;
    return dt == 0 || k->nown == 0 ? k->served : k->served + k->lam * sim_time_to_s(dt);
}

static void mark_dirty(flows_t *f, int l)
{
    if (!f->lk[l].dirty) {
        f->lk[l].dirty = 1;
        f->dirty[f->ndirty++] = l;
    }
}

/* A new share for the own flows from now on: the clock is brought to now
 * at the old one first. */
static void set_lam(flows_t *f, int l, double x)
{
    link *k = &f->lk[l];
    if (x == k->lam)
        return;
    k->served = served_now(f, k);
    k->at = engine_now(f->eng);
    k->lam = x;
    mark_dirty(f, l);
}

/* Keys tie to the lower slot, so the heap's order is the input's. */
static int own_less(const owned *x, const owned *y)
{
    return x->key < y->key || (x->key == y->key && x->slot < y->slot);
}

static void own_place(flows_t *f, link *k, int i, const owned *o)
{
    k->own[i] = *o;
    f->pool[o->slot].hpos = i;
}

/* Moves the entry at i to where it belongs, up or down. */
static void own_sift(flows_t *f, link *k, int i)
{
    owned o = k->own[i];
    while (i > 0 && own_less(&o, &k->own[(i - 1) / 2])) {
        own_place(f, k, i, &k->own[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k->nown)
            break;
        if (c + 1 < k->nown && own_less(&k->own[c + 1], &k->own[c]))
            c++;
        if (!own_less(&k->own[c], &o))
            break;
        own_place(f, k, i, &k->own[c]);
        i = c;
    }
    own_place(f, k, i, &o);
}

/* Flow s joins link l's group with `rem` bytes left. */
static void join(flows_t *f, int s, int l, double rem)
{
    link *k = &f->lk[l];
    const flow *fl = &f->pool[s];
    if (k->nown == 0) { /* an empty group restarts its clock, keeping keys small */
        k->served = 0;
        k->at = engine_now(f->eng);
    }
    f->bn[s] = l;
    if (k->nown == k->cap_own) {
        k->cap_own = k->cap_own ? 2 * k->cap_own : 8;
        k->own = xrealloc(k->own, (size_t)k->cap_own, sizeof(*k->own), "flow heap");
    }
    owned o = {served_now(f, k) + rem, s, fl->hops, {0}};
    memcpy(o.route, fl->route, sizeof(o.route));
    own_place(f, k, k->nown++, &o);
    own_sift(f, k, k->nown - 1);
    mark_dirty(f, l);
}

/* Flow s leaves its group; returns the bytes it had left. A group left
 * empty owns nothing: its share is infinite. */
static double leave(flows_t *f, int s)
{
    link *k = &f->lk[f->bn[s]];
    int i = f->pool[s].hpos;
    double rem = k->own[i].key - served_now(f, k);
    if (i < --k->nown) {
        own_place(f, k, i, &k->own[k->nown]);
        own_sift(f, k, i);
    }
    if (k->nown == 0)
        k->lam = INFINITY;
    mark_dirty(f, f->bn[s]);
    f->bn[s] = -1;
    return rem;
}

/* Picoseconds until link l's first own flow's last byte leaves. */
static double remaining_ps(const flows_t *f, int l)
{
    const link *k = &f->lk[l];
    return (k->own[0].key - served_now(f, k)) / k->lam * 1e12;
}

/* ---- the heap of links by earliest finish ---- */

static int fin_less(const flows_t *f, int a, int b)
{
    return f->lk[a].fin < f->lk[b].fin || (f->lk[a].fin == f->lk[b].fin && a < b);
}

static void fin_place(flows_t *f, int i, int l)
{
    f->gheap[i] = l;
    f->lk[l].gpos = i;
}

static void fin_sift(flows_t *f, int i)
{
    int l = f->gheap[i];
    while (i > 0 && fin_less(f, l, f->gheap[(i - 1) / 2])) {
        fin_place(f, i, f->gheap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    for (;;) {
        int c = 2 * i + 1;
        if (c >= f->ngheap)
            break;
        if (c + 1 < f->ngheap && fin_less(f, f->gheap[c + 1], f->gheap[c]))
            c++;
        if (!fin_less(f, f->gheap[c], l))
            break;
        fin_place(f, i, f->gheap[c]);
        i = c;
    }
    fin_place(f, i, l);
}

/* Brings link l's place in the finish heap up to date. fin is counted
 * from `epoch` (the last solve), which keeps it small enough for its
 * double to resolve well under a picosecond. */
static void fin_update(flows_t *f, int l)
{
    link *k = &f->lk[l];
    if (k->nown == 0) {
        if (k->gpos >= 0) {
            int i = k->gpos, last = f->gheap[--f->ngheap];
            k->gpos = -1;
            if (i < f->ngheap) {
                fin_place(f, i, last);
                fin_sift(f, i);
            }
        }
        return;
    }
    k->fin = (double)(k->at - f->epoch) + (k->own[0].key - k->served) / k->lam * 1e12;
    if (k->gpos < 0)
        fin_place(f, f->ngheap++, l);
    fin_sift(f, k->gpos);
}

/* ---- the repair queue: links to settle, lowest share first ---- */

static int q_less(const qent *a, const qent *b)
{
    return a->key < b->key || (a->key == b->key && a->link < b->link);
}

static void q_push(flows_t *f, qent e)
{
    if (f->nq == f->cap_q) {
        f->cap_q = f->cap_q ? 2 * f->cap_q : 64;
        f->q = xrealloc(f->q, (size_t)f->cap_q, sizeof(*f->q), "flow repair queue");
    }
    int i = f->nq++;
    while (i > 0 && q_less(&e, &f->q[(i - 1) / 2])) {
        f->q[i] = f->q[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    f->q[i] = e;
}

static qent q_pop(flows_t *f)
{
    qent top = f->q[0], last = f->q[--f->nq];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= f->nq)
            break;
        if (c + 1 < f->nq && q_less(&f->q[c + 1], &f->q[c]))
            c++;
        if (!q_less(&f->q[c], &last))
            break;
        f->q[i] = f->q[c];
        i = c;
    }
    if (f->nq > 0)
        f->q[i] = last;
    return top;
}

/* The share link l's own flows would have as things stand. */
static double share(const link *k)
{
    return k->nown > 0 ? (k->cap - k->other) / k->nown : INFINITY;
}

static int near(double x, double prev)
{
    return isfinite(prev) && fabs(x - prev) <= FLOWS_EPS * prev;
}

static int over(const link *k)
{
    return k->nown == 0 && k->other > k->cap * (1 + FLOWS_EPS);
}

/* Link l's share or its room changed: queue it, keyed by its share now
 * (an estimate: it may change again before it is settled). A link owning
 * nothing with room left has nothing to settle. */
static void enqueue(flows_t *f, int l)
{
    link *k = &f->lk[l];
    if (k->queued || (k->nown == 0 && !over(k)))
        return;
    k->queued = 1;
    q_push(f, (qent){k->nown > 0 ? share(k) : 0, l, 0});
}

/* A flow booked at rate `was` on the links of its route other than its
 * bottleneck `bn` is now booked at `now`: their books follow, and they are
 * queued. */
static void rebook(flows_t *f, int hops, const int *route, int bn, double was, double now)
{
    double d = now - was;
    for (int h = 0; h < hops; h++)
        if (route[h] != bn) {
            f->lk[route[h]].other += d;
            enqueue(f, route[h]);
        }
    f->work += hops;
}

/* Flow s's bottleneck becomes link `to`, at to's share: it is booked on
 * its old one at that share and no longer on the new one, and on the rest
 * of its route the difference; all are queued (a link being settled is
 * marked queued, so it is not). */
static void move(flows_t *f, int s, int to)
{
    const flow *fl = &f->pool[s];
    int from = f->bn[s];
    double was = f->lk[from].lam, now = f->lk[to].lam;
    double rem = leave(f, s);
    f->lk[from].other += was; /* booked as the others: rebook moves it to `now` */
    f->lk[to].other -= was;
    join(f, s, to, rem);
    rebook(f, fl->hops, fl->route, to, was, now);
    enqueue(f, to);
}

/* ---- settling a link ---- */

static int by_key_up(const void *a, const void *b)
{
    const qent *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->link > y->link) - (x->link < y->link);
}

static int by_key_down(const void *a, const void *b)
{
    return by_key_up(b, a);
}

static qent *scratch(flows_t *f, int n)
{
    if (n > f->cap_scr) {
        f->cap_scr = n;
        f->scr = xrealloc(f->scr, (size_t)n, sizeof(*f->scr), "flow candidates");
    }
    return f->scr;
}

/* Link l's share fell to x (or it owns nothing and is over capacity):
 * the flows crossing it bottlenecked at a larger share come in, largest
 * first, until none is above the share: progressive filling on this one
 * link. Each brings its rate r > x with it and leaves at the new share,
 * (n x + r) / (n + 1): between x and r, so the share rises and one pass
 * over the flows finds all that qualify. They come in booked at l's share
 * as it was (an empty link takes the largest rate as that), which settle
 * then moves with the rest. Returns the share. */
static double pull_in(flows_t *f, int l, double x)
{
    link *k = &f->lk[l];
    qent *c = scratch(f, k->nfl);
    int n = 0;
    for (int i = 0; i < k->nfl; i++) {
        int s = k->fl[i], b = f->bn[s];
        if (b != l && (k->nown == 0 || f->lk[b].lam > x * (1 + FLOWS_EPS)))
            c[n++] = (qent){f->lk[b].lam, s, 0};
    }
    f->work += k->nfl;
    qsort(c, (size_t)n, sizeof(*c), by_key_down);
    for (int i = 0; i < n; i++) {
        if (k->nown > 0 && !(c[i].key > x * (1 + FLOWS_EPS)))
            break;
        if (k->nown == 0)
            set_lam(f, l, c[i].key);
        move(f, c[i].link, l);
        x = share(k);
    }
    return x;
}

/* Link l's share rose to x: its own flows that have a smaller share mu on
 * another link of their route go there, smallest first, until none is
 * below the share. Each leaves the share at (n x - mu) / (n - 1), above x,
 * so flows a pass left may qualify now: passes repeat while one moves any.
 * They are booked at their new share at once, so x counts them at the rate
 * they will have. Returns the share. */
static double push_out(flows_t *f, int l, double x)
{
    link *k = &f->lk[l];
    for (int moved = 1; moved && k->nown > 0;) {
        qent *c = scratch(f, k->nown);
        int n = 0;
        for (int i = 0; i < k->nown; i++) {
            const owned *o = &k->own[i];
            double mu = INFINITY;
            for (int h = 0; h < o->hops; h++) {
                int j = o->route[h];
                mu = j != l && f->lk[j].lam < mu ? f->lk[j].lam : mu;
            }
            if (mu < x * (1 - FLOWS_EPS))
                c[n++] = (qent){mu, o->slot, 0};
            f->work += o->hops;
        }
        qsort(c, (size_t)n, sizeof(*c), by_key_up);
        moved = 0;
        for (int i = 0; i < n && c[i].key < x * (1 - FLOWS_EPS); i++) {
            const flow *fl = &f->pool[c[i].link];
            int to = -1; /* the first hop with that share: the lowest-share link */
            for (int h = 0; h < fl->hops && to < 0; h++)
                if (fl->route[h] != l && f->lk[fl->route[h]].lam == c[i].key)
                    to = fl->route[h];
            move(f, c[i].link, to);
            x = share(k);
            moved = 1;
        }
    }
    return x;
}

/* Makes link l consistent with its neighbours as they stand: full at
 * lam with every own flow's other links at lam or above, no flow
 * crossing it bottlenecked above lam, or owning nothing with room. The
 * own flows are then booked at the new lam, which queues their other
 * links. */
static void settle(flows_t *f, int l)
{
    link *k = &f->lk[l];
    if (k->nown == 0 && !over(k))
        return;
    double prev = k->lam, x = share(k);
    int fresh = k->fresh;
    k->fresh = 0;
    if (k->nown > 0 && near(x, prev) && !fresh) {
        x = prev; /* rounding of the books, not a change */
    } else {
        if (x < prev || k->nown == 0 || fresh)
            x = pull_in(f, l, x);
        if (isfinite(prev) && x > prev * (1 + FLOWS_EPS)) /* pull_in too can raise it */
            x = push_out(f, l, x);
    }
    if (k->nown == 0)
        return;
    if (!(x > 0)) { /* only rounding gone astray can leave no room */
        f->broken = 1;
        return;
    }
    double was = k->lam; /* what the own flows are booked at */
    if (near(x, was))
        return;
    set_lam(f, l, x);
    for (int i = 0; i < k->nown; i++)
        rebook(f, k->own[i].hops, k->own[i].route, l, was, x);
}

/* ---- solving from scratch ---- */

/* Adds flow s to the flow lists of its hops. */
static void lists_add(flows_t *f, int s)
{
    flow *fl = &f->pool[s];
    for (int h = 0; h < fl->hops; h++) {
        link *k = &f->lk[fl->route[h]];
        k->fl = grow_ints(k->fl, &k->cap_fl, k->nfl, "flow lists");
        fl->lpos[h] = k->nfl;
        k->fl[k->nfl++] = s;
    }
}

static void lists_remove(flows_t *f, int s)
{
    flow *fl = &f->pool[s];
    for (int h = 0; h < fl->hops; h++) {
        link *k = &f->lk[fl->route[h]];
        int i = fl->lpos[h], last = k->fl[--k->nfl];
        if (i < k->nfl) { /* the last one takes its place */
            k->fl[i] = last;
            flow *m = &f->pool[last];
            for (int j = 0; j < m->hops; j++)
                if (m->route[j] == fl->route[h])
                    m->lpos[j] = i;
        }
        if (k->nfl == 0)
            k->other = 0; /* nothing crosses it: drop the rounding of its sums */
    }
}

/* Progressive filling over every flow in flight (net_maxmin_solve's
 * algorithm on the per-link flow lists): the link with the smallest fair
 * share fills first and freezes its unfrozen flows there. Leaves each
 * flow's bottleneck in bn and each bottleneck's share in its lam. */
static void fill(flows_t *f)
{
    f->nq = 0;
    for (int l = 0; l < f->nlinks; l++) {
        f->srem[l] = f->lk[l].cap;
        f->sn[l] = f->lk[l].nfl;
        f->sver[l] = 0;
        if (f->sn[l] > 0)
            q_push(f, (qent){f->srem[l] / f->sn[l], l, 0});
    }
    while (f->nq > 0) {
        qent e = q_pop(f);
        int l = e.link;
        if (e.ver != f->sver[l] || f->sn[l] == 0) /* stale, or emptied */
            continue;
        double sh = f->srem[l] / f->sn[l];
        f->lk[l].lam = sh;
        f->sver[l]++; /* every link touched below is pushed again once */
        for (int i = 0; i < f->lk[l].nfl; i++) {
            int s = f->lk[l].fl[i];
            flow *fl = &f->pool[s];
            if (f->bn[s] >= 0)
                continue;
            f->bn[s] = l;
            for (int h = 0; h < fl->hops; h++) {
                int k = fl->route[h];
                f->srem[k] = f->srem[k] - sh > 0 ? f->srem[k] - sh : 0;
                f->sn[k]--;
                if (k != l && f->sver[k] >= 0) {
                    f->sver[k] = -f->sver[k] - 1; /* marked: push once below */
                    f->dirty[f->ndirty++] = k;
                }
            }
        }
        for (int i = 0; i < f->ndirty; i++) {
            int k = f->dirty[i];
            f->sver[k] = -f->sver[k]; /* unmark, one version on */
            if (f->sn[k] > 0)
                q_push(f, (qent){f->srem[k] / f->sn[k], k, f->sver[k]});
        }
        f->ndirty = 0;
    }
}

/* New rates for every flow in flight, from scratch: each flow's bytes left
 * are carried over, its group rebuilt around the bottleneck fill gave it. */
static void solve(flows_t *f)
{
    sim_time_t now = engine_now(f->eng);
    for (int l = 0; l < f->nlinks; l++) { /* the groups' keys become bytes left */
        link *k = &f->lk[l];
        double served = served_now(f, k);
        for (int i = 0; i < k->nown; i++)
            f->pool[k->own[i].slot].left = k->own[i].key - served;
    }
    for (int l = 0; l < f->nlinks; l++) {
        link *k = &f->lk[l];
        *k = (link){.cap = k->cap, .lam = INFINITY, .at = now, .fl = k->fl, .nfl = k->nfl,
                    .cap_fl = k->cap_fl, .own = k->own, .cap_own = k->cap_own, .gpos = -1};
    }
    f->ngheap = f->ndirty = 0;
    f->epoch = now;
    f->broken = 0;
    for (int i = 0; i < f->nact; i++)
        f->bn[f->act[i]] = -1;
    fill(f);
    for (int i = 0; i < f->nact; i++) {
        int s = f->act[i];
        flow *fl = &f->pool[s];
        int b = f->bn[s];
        for (int h = 0; h < fl->hops; h++)
            if (fl->route[h] != b)
                f->lk[fl->route[h]].other += f->lk[b].lam;
        join(f, s, b, fl->left);
    }
}

/* Settles queued links, lowest share first, until none is left. A repair
 * that has visited 16 times the hops in flight (a solve's work, counting
 * its heap), or met a share it cannot use, gives way to one: the answer is
 * the same, and no event costs more than a few solves. On the skewed
 * all-to-all-v the largest repair visits 6 times the hops (128 GPUs). */
static void repair(flows_t *f)
{
    f->work = 0;
    long budget = 16 * f->hops_act + 4L * f->nlinks + 1024;
    while (f->nq > 0) {
        qent e = q_pop(f);
        settle(f, e.link);
        f->lk[e.link].queued = 0;
        if (f->broken || f->work > budget) {
            solve(f);
            return;
        }
    }
}

/* A flow joins the allocation where it stands: at the smallest share on
 * its route, booked there on its other links; repair does the rest. */
static void place(flows_t *f, int s)
{
    flow *fl = &f->pool[s];
    lists_add(f, s);
    int b = fl->route[0];
    for (int h = 1; h < fl->hops; h++)
        if (f->lk[fl->route[h]].lam < f->lk[b].lam)
            b = fl->route[h];
    if (!isfinite(f->lk[b].lam)) { /* all its links are free: book it at what b has left */
        set_lam(f, b, f->lk[b].cap - f->lk[b].other);
        f->lk[b].fresh = 1; /* settle must still take in what crosses b faster */
    }
    for (int h = 0; h < fl->hops; h++)
        if (fl->route[h] != b)
            f->lk[fl->route[h]].other += f->lk[b].lam;
    join(f, s, b, fl->left);
    for (int h = 0; h < fl->hops; h++)
        enqueue(f, fl->route[h]);
}

/* A flow whose last byte has left: out of its group, its lists and the
 * books of its other links, which are queued. */
static void drop(flows_t *f, int s)
{
    flow *fl = &f->pool[s];
    int b = f->bn[s];
    double rate = f->lk[b].lam;
    leave(f, s);
    for (int h = 0; h < fl->hops; h++)
        if (fl->route[h] != b)
            f->lk[fl->route[h]].other -= rate;
    lists_remove(f, s);
    for (int h = 0; h < fl->hops; h++)
        enqueue(f, fl->route[h]);
    int last = f->act[--f->nact]; /* swap-remove keeps act dense */
    f->act[fl->apos] = last;
    f->pool[last].apos = fl->apos;
    fl->apos = -1;
    f->hops_act -= fl->hops;
}

/* The finish heap brought up to date and the completion event moved to
 * its earliest flow, counted afresh from now. */
static void schedule(flows_t *f)
{
    for (int i = 0; i < f->ndirty; i++) {
        f->lk[f->dirty[i]].dirty = 0;
        fin_update(f, f->dirty[i]);
    }
    f->ndirty = 0;
    if (f->ngheap == 0) {
        if (f->complete_ev)
            engine_cancel(f->eng, f->complete_ev);
        f->complete_ev = 0;
        return;
    }
    double soonest = remaining_ps(f, f->gheap[0]);
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
    *fl = (flow){.left = bytes, .apos = -1, .next_free = -1, .done = done, .ctx = ctx,
                 .tag = tag};
    f->bn[s] = -1;
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
    f->act = grow_ints(f->act, &f->cap_act, f->nact, "active flows");
    fl->apos = f->nact;
    f->act[f->nact++] = s;
    f->hops_act += fl->hops;
    f->pend = grow_ints(f->pend, &f->cap_pend, f->npend, "new flows");
    f->pend[f->npend++] = s;
    /* Until the re-share runs, this flow sends nothing and the others keep
     * their rates: nothing elapses before it, since it is due now. */
    if (!f->reshare_pending) {
        f->reshare_pending = 1;
        engine_after(f->eng, 0, reshare_fire, f, 0);
    }
}

/* Fires once per instant at which flows started. A burst (an eighth or
 * more of the flows in flight are new, as at a collective's start) is
 * solved from scratch; a few are placed and repaired. */
static void reshare_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    (void)ev;
    flows_t *f = ctx;
    f->reshare_pending = 0;
    f->reshares++;
    if (8 * f->npend >= f->nact) {
        for (int i = 0; i < f->npend; i++)
            lists_add(f, f->pend[i]);
        f->npend = 0;
        solve(f);
    } else {
        for (int i = 0; i < f->npend; i++)
            place(f, f->pend[i]);
        f->npend = 0;
        repair(f);
    }
    schedule(f);
}

static void complete_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)ev;
    flows_t *f = ctx;
    f->complete_ev = 0;
    /* Every flow done by now leaves together: one re-share for the wave. */
    while (f->ngheap > 0) {
        int l = f->gheap[0];
        link *k = &f->lk[l];
        if (!(remaining_ps(f, l) < 1.0 + f->tol_ps))
            break;
        while (k->nown > 0 && remaining_ps(f, l) < 1.0 + f->tol_ps) {
            int s = k->own[0].slot;
            if (!engine_fits(e, f->pool[s].lat)) {
                beyond_clock(f);
                return;
            }
            drop(f, s);
            engine_after(e, f->pool[s].lat, done_fire, f, (uint64_t)s);
        }
        fin_update(f, l);
    }
    if (!f->reshare_pending) {
        f->reshares++;
        repair(f);
        schedule(f);
    }
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
