/*
 * test_engine.c - the "engine" suite: ordering, ties, cancel, reschedule,
 * run limits, stop, growth, and a randomised check against a brute-force
 * reference queue.
 *
 * Handlers append what they see to a log, and the tests compare the log with
 * the order the contract promises: by time, then by (re)insertion.
 */
#include "moesim/engine.h"

#include <stdlib.h>

#include "test.h"

typedef struct fired {
    sim_time_t time;
    sim_time_t now; /* engine_now() seen by the handler */
    engine_id_t id;
    uint64_t arg;
} fired;

typedef struct log {
    fired *v;
    size_t n, cap;
} log_t;

static log_t log_new(size_t cap)
{
    log_t l = {xcalloc(cap, sizeof(fired), "test log"), 0, cap};
    return l;
}

static void log_free(log_t *l)
{
    free(l->v);
}

static void log_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    log_t *l = ctx;
    if (l->n == l->cap) {
        l->cap *= 2;
        l->v = xrealloc(l->v, l->cap, sizeof(*l->v), "test log");
    }
    l->v[l->n++] = (fired){ev->time, engine_now(e), ev->id, ev->arg};
}

/* The args of the log, in firing order, as one number per decimal digit
 * (enough for the short sequences in these tests). */
static uint64_t log_digits(const log_t *l)
{
    uint64_t d = 0;
    for (size_t i = 0; i < l->n; i++)
        d = d * 10 + l->v[i].arg;
    return d;
}

/* A small local LCG (Knuth's MMIX constants), top 32 bits. */
static uint32_t lcg(uint64_t *s)
{
    *s = *s * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (uint32_t)(*s >> 32);
}

static void test_order_by_time(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(8);
    engine_schedule(e, SIM_NS(30), log_fire, &l, 3);
    engine_schedule(e, SIM_NS(10), log_fire, &l, 1);
    engine_schedule(e, SIM_NS(20), log_fire, &l, 2);
    EXPECT_EQ_I64(engine_pending(e), 3);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 3);
    EXPECT_EQ_I64(l.n, 3);
    EXPECT_EQ_I64(log_digits(&l), 123);
    EXPECT_EQ_I64(l.v[0].time, SIM_NS(10));
    EXPECT_EQ_I64(l.v[0].now, SIM_NS(10));
    EXPECT_EQ_I64(l.v[2].now, SIM_NS(30));
    EXPECT_EQ_I64(engine_now(e), SIM_NS(30));
    EXPECT_EQ_I64(engine_pending(e), 0);
    EXPECT_EQ_I64(engine_fired(e), 3);
    log_free(&l);
    engine_free(e);
}

static void test_ties_in_insertion_order(void)
{
    engine_t *e = engine_new(2); /* small, so it grows on the way */
    log_t l = log_new(8);
    engine_schedule(e, 100, log_fire, &l, 1);
    engine_schedule(e, 200, log_fire, &l, 6);
    engine_schedule(e, 100, log_fire, &l, 2);
    engine_schedule(e, 50, log_fire, &l, 0);
    engine_schedule(e, 100, log_fire, &l, 3);
    engine_schedule(e, 100, log_fire, &l, 4);
    engine_schedule(e, 100, log_fire, &l, 5);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 7);
    EXPECT_EQ_I64(log_digits(&l), 123456);
    log_free(&l);
    engine_free(e);
}

static void test_ids(void)
{
    engine_t *e = engine_new(1);
    log_t l = log_new(4);
    engine_id_t a = engine_schedule(e, 5, log_fire, &l, 0);
    EXPECT_TRUE(a != 0);
    engine_run(e, SIM_TIME_MAX);
    EXPECT_EQ_I64(l.v[0].id, a); /* the handler sees the id it was given */
    /* the record is reused, the id is not */
    engine_id_t b = engine_schedule(e, 6, log_fire, &l, 0);
    EXPECT_TRUE(b != 0 && b != a);
    EXPECT_TRUE(!engine_cancel(e, a));
    EXPECT_TRUE(engine_cancel(e, b));
    engine_id_t c = engine_schedule(e, 7, log_fire, &l, 0);
    EXPECT_TRUE(c != a && c != b);
    log_free(&l);
    engine_free(e);
}

static void test_cancel(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(8);
    engine_id_t a = engine_schedule(e, 10, log_fire, &l, 1);
    engine_id_t b = engine_schedule(e, 20, log_fire, &l, 2);
    engine_id_t c = engine_schedule(e, 30, log_fire, &l, 3);
    engine_id_t d = engine_schedule(e, 40, log_fire, &l, 4);
    EXPECT_TRUE(engine_cancel(e, b));           /* pending */
    EXPECT_EQ_I64(engine_pending(e), 3);
    EXPECT_TRUE(!engine_cancel(e, b));          /* twice */
    EXPECT_TRUE(!engine_cancel(e, 0));          /* never an id */
    EXPECT_TRUE(!engine_cancel(e, UINT64_MAX)); /* bogus: no such slot */
    EXPECT_TRUE(!engine_cancel(e, a + (UINT64_C(1) << 32))); /* wrong generation */
    EXPECT_TRUE(!engine_cancel(e, (a & UINT32_MAX) + 999));   /* slot never used */
    EXPECT_TRUE(engine_cancel(e, d));           /* the last heap entry */
    EXPECT_EQ_I64(engine_run(e, 15), 1);
    EXPECT_TRUE(!engine_cancel(e, a));          /* fired */
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 1);
    EXPECT_EQ_I64(log_digits(&l), 13);
    EXPECT_TRUE(!engine_cancel(e, c));
    EXPECT_EQ_I64(engine_pending(e), 0);
    EXPECT_EQ_I64(engine_fired(e), 2);
    log_free(&l);
    engine_free(e);
}

static void test_cancel_root_keeps_order(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(8);
    engine_id_t first = engine_schedule(e, 1, log_fire, &l, 9);
    for (uint64_t i = 1; i <= 8; i++)
        engine_schedule(e, (sim_time_t)(100 - i), log_fire, &l, 9 - i); /* 99..92 */
    EXPECT_TRUE(engine_cancel(e, first));
    engine_run(e, SIM_TIME_MAX);
    EXPECT_EQ_I64(log_digits(&l), 12345678);
    EXPECT_EQ_I64(l.v[0].time, 92);
    log_free(&l);
    engine_free(e);
}

static void test_reschedule(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(8);
    engine_id_t a = engine_schedule(e, 10, log_fire, &l, 1);
    engine_id_t b = engine_schedule(e, 20, log_fire, &l, 2);
    engine_schedule(e, 30, log_fire, &l, 3);
    engine_schedule(e, 30, log_fire, &l, 4);
    engine_id_t c = engine_schedule(e, 40, log_fire, &l, 5);
    engine_id_t d = engine_schedule(e, 50, log_fire, &l, 6);
    EXPECT_TRUE(engine_reschedule(e, d, 5));  /* earlier: now first */
    EXPECT_TRUE(engine_reschedule(e, a, 45)); /* later */
    EXPECT_TRUE(engine_reschedule(e, c, 30)); /* to a tie: after 3 and 4 */
    EXPECT_TRUE(engine_reschedule(e, b, 20)); /* same time: stays, new seq */
    EXPECT_EQ_I64(engine_pending(e), 6);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 6);
    EXPECT_EQ_I64(log_digits(&l), 623451);
    EXPECT_EQ_I64(l.v[0].time, 5);
    EXPECT_EQ_I64(l.v[0].id, d); /* the event keeps its id */
    EXPECT_EQ_I64(l.v[4].time, 30);
    EXPECT_EQ_I64(l.v[5].time, 45);
    EXPECT_EQ_I64(l.v[5].id, a);
    EXPECT_TRUE(!engine_reschedule(e, a, 100)); /* fired */
    EXPECT_TRUE(!engine_reschedule(e, 0, 100));
    engine_id_t x = engine_schedule(e, 60, log_fire, &l, 7);
    EXPECT_TRUE(engine_cancel(e, x));
    EXPECT_TRUE(!engine_reschedule(e, x, 70)); /* cancelled */
    EXPECT_EQ_I64(engine_pending(e), 0);
    log_free(&l);
    engine_free(e);
}

/* A tie made by rescheduling must also lose to events scheduled at that time
 * after the original scheduling but before the reschedule. */
static void test_reschedule_tie_uses_new_sequence(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(4);
    engine_id_t a = engine_schedule(e, 100, log_fire, &l, 3);
    engine_schedule(e, 50, log_fire, &l, 1);
    engine_schedule(e, 50, log_fire, &l, 2);
    EXPECT_TRUE(engine_reschedule(e, a, 50));
    engine_run(e, SIM_TIME_MAX);
    EXPECT_EQ_I64(log_digits(&l), 123);
    EXPECT_EQ_I64(engine_now(e), 50);
    log_free(&l);
    engine_free(e);
}

static void test_run_until(void)
{
    engine_t *e = engine_new(0);
    log_t l = log_new(8);
    engine_schedule(e, 10, log_fire, &l, 1);
    engine_schedule(e, 20, log_fire, &l, 2);
    engine_schedule(e, 25, log_fire, &l, 3); /* exactly at the limit: fires */
    engine_schedule(e, 30, log_fire, &l, 4);
    engine_schedule(e, 40, log_fire, &l, 5);
    EXPECT_EQ_I64(engine_run(e, 25), 3);
    EXPECT_EQ_I64(engine_now(e), 25);
    EXPECT_EQ_I64(engine_pending(e), 2);
    EXPECT_EQ_I64(engine_run(e, 28), 0); /* nothing due: the clock still moves */
    EXPECT_EQ_I64(engine_now(e), 28);
    EXPECT_EQ_I64(engine_run(e, 20), 0); /* a limit in the past: no change */
    EXPECT_EQ_I64(engine_now(e), 28);
    /* events may be scheduled at the advanced clock, not before it */
    engine_schedule(e, 28, log_fire, &l, 0);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 3); /* a second run continues */
    EXPECT_EQ_I64(log_digits(&l), 123045);
    EXPECT_EQ_I64(l.v[3].time, 28);
    EXPECT_EQ_I64(engine_now(e), 40);
    /* run to empty leaves the clock at the last event */
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 0);
    EXPECT_EQ_I64(engine_now(e), 40);
    EXPECT_EQ_I64(engine_fired(e), 6);
    log_free(&l);
    engine_free(e);
}

typedef struct stopper {
    log_t log;
    uint64_t stop_at_arg;
} stopper;

static void stop_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    stopper *s = ctx;
    log_fire(e, &s->log, ev);
    if (ev->arg == s->stop_at_arg)
        engine_stop(e);
}

static void test_stop_from_handler(void)
{
    engine_t *e = engine_new(0);
    stopper s = {log_new(8), 2};
    for (uint64_t i = 1; i <= 5; i++)
        engine_schedule(e, (sim_time_t)i * 10, stop_fire, &s, i);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 2);
    EXPECT_EQ_I64(engine_now(e), 20); /* stopped: the clock is not advanced */
    EXPECT_EQ_I64(engine_pending(e), 3);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 3); /* the stop does not stick */
    EXPECT_EQ_I64(log_digits(&s.log), 12345);
    log_free(&s.log);
    engine_free(e);
}

typedef struct chain {
    log_t log;
    uint64_t left;
    engine_id_t victim; /* cancelled by the first handler */
    bool cancelled, self_cancel, self_resched;
} chain;

/* Each firing schedules the next 7 ps later and one at the same instant. */
static void chain_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    chain *c = ctx;
    log_fire(e, &c->log, ev);
    if (ev->arg == 0) { /* the same-instant companion: nothing more */
        return;
    }
    if (c->victim) {
        c->cancelled = engine_cancel(e, c->victim);
        c->victim = 0;
    }
    /* an event that is firing is no longer pending */
    c->self_cancel |= engine_cancel(e, ev->id);
    c->self_resched |= engine_reschedule(e, ev->id, engine_now(e) + 1);
    engine_after(e, 0, chain_fire, c, 0);
    if (--c->left > 0)
        engine_after(e, 7, chain_fire, c, ev->arg + 1);
}

static void test_handlers_schedule(void)
{
    engine_t *e = engine_new(1);
    chain c = {log_new(4), 1000, 0, false, false, false};
    engine_schedule(e, 3, chain_fire, &c, 1);
    c.victim = engine_schedule(e, 5, chain_fire, &c, 77);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), 2000);
    EXPECT_TRUE(c.cancelled);
    EXPECT_TRUE(!c.self_cancel);
    EXPECT_TRUE(!c.self_resched);
    EXPECT_EQ_I64(c.log.n, 2000);
    for (size_t i = 0; i < c.log.n; i += 2) {
        EXPECT_EQ_I64(c.log.v[i].arg, i / 2 + 1);
        EXPECT_EQ_I64(c.log.v[i].time, 3 + 7 * (sim_time_t)(i / 2));
        EXPECT_EQ_I64(c.log.v[i + 1].arg, 0);
        EXPECT_EQ_I64(c.log.v[i + 1].time, c.log.v[i].time);
    }
    EXPECT_EQ_I64(engine_now(e), 3 + 7 * 999);
    log_free(&c.log);
    engine_free(e);
}

typedef struct checker {
    sim_time_t last_time;
    uint64_t last_arg;
    uint64_t count, bad;
} checker;

/* args are insertion indices, so (time, arg) must never go backwards */
static void check_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    checker *k = ctx;
    if (ev->time != engine_now(e) || ev->time < k->last_time ||
        (k->count > 0 && ev->time == k->last_time && ev->arg <= k->last_arg))
        k->bad++;
    k->last_time = ev->time;
    k->last_arg = ev->arg;
    k->count++;
}

static void test_million_random(void)
{
    enum { N = 1000000 };
    engine_t *e = engine_new(16);
    checker k = {0, 0, 0, 0};
    uint64_t s = 42;
    /* times in [0, 2^18): about four events per instant, so ties are common */
    for (uint64_t i = 0; i < N; i++)
        engine_schedule(e, lcg(&s) >> 14, check_fire, &k, i);
    EXPECT_EQ_I64(engine_pending(e), N);
    EXPECT_EQ_I64(engine_run(e, SIM_TIME_MAX), N);
    EXPECT_EQ_I64(k.count, N);
    EXPECT_EQ_I64(k.bad, 0);
    EXPECT_EQ_I64(engine_pending(e), 0);
    EXPECT_TRUE(k.last_time <= (1 << 18) - 1);
    EXPECT_TRUE(k.last_time >= (1 << 18) - 64);
    engine_free(e);
}

/* Random schedules, cancels, reschedules and short runs, checked against a
 * brute-force list: each firing must be the pending event with the least
 * (time, sequence), where the sequence is taken at (re)scheduling. */
enum { REF_MAX = 1024 };

typedef struct ref {
    engine_id_t id[REF_MAX];
    sim_time_t time[REF_MAX];
    uint64_t seq[REF_MAX];
    bool live[REF_MAX];
    uint64_t next_seq;
    uint64_t fired, bad;
} ref;

static void ref_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    ref *r = ctx;
    size_t best = REF_MAX;
    for (size_t i = 0; i < REF_MAX; i++)
        if (r->live[i] && (best == REF_MAX || r->time[i] < r->time[best] ||
                           (r->time[i] == r->time[best] && r->seq[i] < r->seq[best])))
            best = i;
    if (best != ev->arg || r->id[best] != ev->id || r->time[best] != ev->time ||
        engine_now(e) != ev->time)
        r->bad++;
    if (ev->arg < REF_MAX)
        r->live[ev->arg] = false;
    r->fired++;
}

static void test_random_against_reference(void)
{
    engine_t *e = engine_new(1);
    ref *r = xcalloc(1, sizeof(*r), "reference queue");
    uint64_t s = 7;
    uint64_t cancels = 0, reschedules = 0, stale = 0;
    for (int op = 0; op < 200000; op++) {
        uint32_t u = lcg(&s);
        size_t i = lcg(&s) % REF_MAX;
        sim_time_t t = engine_now(e) + (sim_time_t)(lcg(&s) % 1024);
        switch (u % 16) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: /* schedule into a free entry */
            if (!r->live[i]) {
                r->id[i] = engine_schedule(e, t, ref_fire, r, i);
                r->time[i] = t;
                r->seq[i] = r->next_seq++;
                r->live[i] = true;
            }
            break;
        case 7: case 8: case 9: { /* cancel; stale ids must be refused */
            bool was = r->live[i];
            bool got = engine_cancel(e, r->id[i]);
            if (got != was)
                r->bad++;
            cancels += got;
            stale += !got && r->id[i] != 0;
            r->live[i] = false;
            break;
        }
        case 10: case 11: case 12: case 13: { /* reschedule */
            bool got = engine_reschedule(e, r->id[i], t);
            if (got != r->live[i])
                r->bad++;
            if (got) {
                r->time[i] = t;
                r->seq[i] = r->next_seq++;
                reschedules++;
            }
            break;
        }
        default: /* run a little */
            engine_run(e, engine_now(e) + (sim_time_t)(u >> 4) % 4);
            break;
        }
    }
    size_t live = 0;
    for (size_t i = 0; i < REF_MAX; i++)
        live += r->live[i];
    EXPECT_EQ_I64(engine_pending(e), live);
    engine_run(e, SIM_TIME_MAX);
    EXPECT_EQ_I64(engine_pending(e), 0);
    EXPECT_EQ_I64(r->bad, 0);
    EXPECT_EQ_I64(engine_fired(e), r->fired);
    EXPECT_TRUE(r->fired > 10000);
    EXPECT_TRUE(cancels > 1000);
    EXPECT_TRUE(reschedules > 1000);
    EXPECT_TRUE(stale > 1000);
    free(r);
    engine_free(e);
}

static void test_free_with_pending(void)
{
    engine_t *e = engine_new(4);
    log_t l = log_new(4);
    for (int i = 0; i < 10000; i++)
        engine_schedule(e, i % 97, log_fire, &l, 0);
    EXPECT_EQ_I64(engine_pending(e), 10000);
    engine_free(e); /* ASan and valgrind check that nothing leaks */
    EXPECT_EQ_I64(l.n, 0); /* handlers are not called */
    engine_free(NULL);
    log_free(&l);
}

static void fire_nothing(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    (void)ctx;
    (void)ev;
}

/* Issue 16: callers check engine_fits before engine_after, whose assertion
 * is for programming errors only. */
static void test_fits(void)
{
    engine_t *e = engine_new(0);
    EXPECT_TRUE(engine_fits(e, 0));
    EXPECT_TRUE(engine_fits(e, SIM_TIME_MAX));
    EXPECT_TRUE(!engine_fits(e, -1));
    engine_after(e, SIM_TIME_MAX - 10, fire_nothing, NULL, 0);
    engine_run(e, SIM_TIME_MAX);
    EXPECT_EQ_I64(engine_now(e), SIM_TIME_MAX - 10);
    EXPECT_TRUE(engine_fits(e, 10));
    EXPECT_TRUE(!engine_fits(e, 11));
    EXPECT_TRUE(!engine_fits(e, SIM_TIME_MAX));
    engine_free(e);
}

void test_engine_register(void);

void test_engine_register(void)
{
    TEST_SUITE("engine",
               {"events fire in time order", test_order_by_time},
               {"equal times fire in insertion order", test_ties_in_insertion_order},
               {"ids are unique and never 0", test_ids},
               {"cancel: pending, twice, fired, bogus", test_cancel},
               {"cancel the earliest event", test_cancel_root_keeps_order},
               {"reschedule: earlier, later, to a tie", test_reschedule},
               {"reschedule takes a new sequence number", test_reschedule_tie_uses_new_sequence},
               {"run with a time limit", test_run_until},
               {"engine_stop from a handler", test_stop_from_handler},
               {"handlers schedule and cancel", test_handlers_schedule},
               {"1 M random events fire in order", test_million_random},
               {"random operations against a reference", test_random_against_reference},
               {"free with pending events", test_free_with_pending},
               {"engine_fits: the clock's end (issue 16)", test_fits});
}
