/*
 * engine.c - the event engine: a clock, a pool of event records and a 4-ary
 * heap that orders them by (time, sequence number).
 *
 * Three arrays, all owned by the engine and grown together:
 *   - `slots`: one record per event (handler, context, argument, generation,
 *     sequence number). Free records form a singly linked free list threaded
 *     through `next_free`, so scheduling takes a record in O(1) and the run loop
 *     allocates nothing once the pool is as large as the most events ever
 *     pending at once.
 *   - `heap`: the pending events as 16-byte (time, slot) pairs in a 4-ary
 *     min-heap. Node k sits at index k + HEAP_BASE with HEAP_BASE = 3, so the
 *     four children of any node (indices 4k+4 .. 4k+7) share one 64-byte cache
 *     line; a sift-down step then costs one line, and a 4-ary heap is half as
 *     deep as a binary one. Only the time is stored inline: a 64-bit sequence
 *     number would make entries 24 bytes and split children across lines. Ties
 *     on time are broken by reading the sequence numbers from the two slot
 *     records, which costs two extra loads only when times are equal.
 *   - `pos`: for each slot, its heap index (POS_NONE when not pending). Every
 *     heap move updates it, which is what makes cancel and reschedule O(log n)
 *     instead of a linear search or lazy tombstones that bloat the heap. It is
 *     kept apart from the slot records so these writes touch 4 bytes, not 40.
 *
 * An id is (generation << 32) | slot. A slot's generation starts at 1 (so no
 * id is 0) and moves on each time the record is recycled, so a stale id (fired,
 * cancelled) no longer matches its slot and is refused. A slot whose 32-bit
 * generation is used up is retired instead of recycled, which keeps ids unique
 * for the engine's life at the cost of 40 bytes per 4 billion reuses of one
 * slot.
 *
 * Measured with bench/bench_engine.c (hold model, exponential delays drawn
 * with GSL, one core of a 2-core EPYC VM, -O2): about 14 M events/s with 1 k
 * pending and 3.7 M events/s with 1 M pending on a quiet machine (targets 10
 * and 3); about 2.7 M with 1 M pending while other builds share the cores. At
 * 1 M pending the heap no longer fits in cache and the cost is the misses of
 * sift-down and of reading the popped record, which the prefetches below hide
 * in part. The way out, if that ever limits, is a calendar or ladder queue,
 * which gives O(1) amortised hold times for smooth time distributions.
 */
#include "moesim/engine.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define HEAP_BASE 3          /* index of the root; see the file head */
#define POS_NONE UINT32_MAX  /* pos[] of a slot that is not pending */
#define SLOT_MAX (UINT32_MAX - 1)
#define GEN_MAX UINT32_MAX
/* The test build (-DMOESIM_TEST) starts tiny, so every test exercises growth. */
#ifdef MOESIM_TEST
#define DEFAULT_CAPACITY 2
#else
#define DEFAULT_CAPACITY 64
#endif

/* Hints only: without them the code is the same, just slower on large heaps. */
#if defined(__GNUC__)
#define PREFETCH(p) __builtin_prefetch(p)
#define UNLIKELY(c) __builtin_expect(!!(c), 0)
#else
#define PREFETCH(p) ((void)(p))
#define UNLIKELY(c) (c)
#endif

typedef struct heap_entry {
    sim_time_t time;
    uint32_t slot;
    uint32_t pad_; /* keeps the entry at 16 bytes, four to a cache line */
} heap_entry;

typedef struct slot {
    engine_fire_fn fire;
    void *ctx;
    uint64_t arg;
    uint64_t seq;       /* taken at schedule or reschedule */
    uint32_t gen;       /* the high half of the id; moves on at each recycle */
    uint32_t next_free; /* next record on the free list (POS_NONE ends it) */
} slot;

struct engine {
    heap_entry *heap_mem; /* what xrealloc returned; heap points inside it */
    heap_entry *heap;     /* heap[HEAP_BASE] is the root, 64-byte aligned */
    uint32_t *pos;
    slot *slots;
    size_t pending;   /* events in the heap */
    size_t nslots;    /* slot records handed out at least once */
    size_t cap;       /* room in heap, pos and slots */
    uint32_t free_head;
    sim_time_t now;
    uint64_t seq;     /* next sequence number */
    uint64_t fired;
    bool stop;
    bool running;
};

/* Does entry a fire before entry b? */
static inline bool before(const engine_t *e, heap_entry a, heap_entry b)
{
    if (UNLIKELY(a.time == b.time))
        return e->slots[a.slot].seq < e->slots[b.slot].seq;
    return a.time < b.time;
}

static inline void heap_put(engine_t *e, size_t k, heap_entry x)
{
    e->heap[HEAP_BASE + k] = x;
    e->pos[x.slot] = (uint32_t)k;
}

/* Moves x up from node k to where it belongs; the hole at k is free. */
static void sift_up(engine_t *e, size_t k, heap_entry x)
{
    while (k > 0) {
        size_t parent = (k - 1) / 4;
        heap_entry p = e->heap[HEAP_BASE + parent];
        if (!before(e, x, p))
            break;
        heap_put(e, k, p);
        k = parent;
    }
    heap_put(e, k, x);
}

/* Moves x down from node k to where it belongs; the hole at k is free. */
static void sift_down(engine_t *e, size_t k, heap_entry x)
{
    size_t n = e->pending;
    for (;;) {
        size_t first = 4 * k + 1;
        if (first >= n)
            break;
        const heap_entry *c = &e->heap[HEAP_BASE + first];
        /* The grandchildren are the 16 entries (four lines) from 4 * first + 1;
         * asking for them now, before we know which line we need, overlaps
         * one level's memory latency with this level's work. On a heap of a
         * million events that is worth about 1.5x; on a small one, nothing. */
        if (4 * first + 1 < n) {
            const char *g = (const char *)&e->heap[HEAP_BASE + 4 * first + 1];
            PREFETCH(g);
            PREFETCH(g + 64);
            PREFETCH(g + 128);
            PREFETCH(g + 192);
        }
        size_t best;
        if (n - first >= 4) { /* a tournament the compiler can do without jumps */
            size_t b01 = before(e, c[1], c[0]);
            size_t b23 = 2 + (size_t)before(e, c[3], c[2]);
            best = before(e, c[b23], c[b01]) ? b23 : b01;
        } else {
            best = 0;
            for (size_t i = 1; i < n - first; i++)
                if (before(e, c[i], c[best]))
                    best = i;
        }
        if (!before(e, c[best], x))
            break;
        heap_put(e, k, c[best]);
        k = first + best;
    }
    heap_put(e, k, x);
}

/* Takes node k out of the heap and refills the hole with the last entry. */
static void heap_remove(engine_t *e, size_t k)
{
    e->pos[e->heap[HEAP_BASE + k].slot] = POS_NONE;
    heap_entry last = e->heap[HEAP_BASE + --e->pending];
    if (k == e->pending) /* was the last one: nothing to refill */
        return;
    if (k > 0 && before(e, last, e->heap[HEAP_BASE + (k - 1) / 4]))
        sift_up(e, k, last);
    else
        sift_down(e, k, last);
}

/* Re-seats the three arrays with room for `cap` events. The heap block gets
 * 64 bytes of slack so its root can be placed where children groups start on
 * a cache line; realloc may move the block, so the contents are shifted to
 * the new aligned place. */
static void grow(engine_t *e, size_t cap)
{
    size_t old_off = e->heap_mem ? (size_t)(e->heap - e->heap_mem) : 0;
    size_t elems = HEAP_BASE + cap + 64 / sizeof(heap_entry);
    e->heap_mem = xrealloc(e->heap_mem, elems, sizeof(*e->heap_mem), "event heap");
    /* children of node k start at index 4k+4: make index 0 a line start */
    uintptr_t addr = (uintptr_t)e->heap_mem;
    size_t off = (size_t)((64 - addr % 64) % 64) / sizeof(heap_entry);
    if (off != old_off && e->pending > 0)
        memmove(e->heap_mem + off, e->heap_mem + old_off,
                (HEAP_BASE + e->pending) * sizeof(*e->heap_mem));
    e->heap = e->heap_mem + off;
    e->pos = xrealloc(e->pos, cap, sizeof(*e->pos), "event positions");
    e->slots = xrealloc(e->slots, cap, sizeof(*e->slots), "event records");
    e->cap = cap;
}

/* A free slot record, from the free list or fresh from the pool. */
static uint32_t slot_take(engine_t *e)
{
    if (e->free_head != POS_NONE) {
        uint32_t s = e->free_head;
        e->free_head = e->slots[s].next_free;
        return s;
    }
    assert(e->nslots < SLOT_MAX && "more than 2^32 - 2 events pending");
    if (e->nslots == e->cap)
        grow(e, e->cap * 2);
    uint32_t s = (uint32_t)e->nslots++;
    e->slots[s].gen = 1;
    e->pos[s] = POS_NONE;
    return s;
}

/* Returns a slot record to the free list; its old id stops matching. */
static void slot_release(engine_t *e, uint32_t s)
{
    if (e->slots[s].gen == GEN_MAX) /* ids from this slot are used up: retire it */
        return;
    e->slots[s].gen++;
    e->slots[s].next_free = e->free_head;
    e->free_head = s;
}

/* The slot an id names if that event is pending, else POS_NONE. */
static uint32_t slot_of(const engine_t *e, engine_id_t id)
{
    uint64_t s = id & UINT32_MAX;
    if (s >= e->nslots || e->slots[s].gen != (uint32_t)(id >> 32) ||
        e->pos[s] == POS_NONE)
        return POS_NONE;
    return (uint32_t)s;
}

static engine_id_t id_of(const engine_t *e, uint32_t s)
{
    return ((uint64_t)e->slots[s].gen << 32) | s;
}

engine_t *engine_new(size_t initial_capacity)
{
    engine_t *e = xcalloc(1, sizeof(*e), "engine");
    e->free_head = POS_NONE;
#ifdef MOESIM_TEST
    initial_capacity = DEFAULT_CAPACITY;
#endif
    grow(e, initial_capacity ? initial_capacity : DEFAULT_CAPACITY);
    return e;
}

void engine_free(engine_t *e)
{
    if (!e)
        return;
    free(e->heap_mem);
    free(e->pos);
    free(e->slots);
    free(e);
}

sim_time_t engine_now(const engine_t *e)
{
    return e->now;
}

size_t engine_pending(const engine_t *e)
{
    return e->pending;
}

uint64_t engine_fired(const engine_t *e)
{
    return e->fired;
}

engine_id_t engine_schedule(engine_t *e, sim_time_t time, engine_fire_fn fire, void *ctx,
                            uint64_t arg)
{
    assert(time >= e->now && "event scheduled in the past");
    assert(fire != NULL);
    uint32_t s = slot_take(e);
    slot *r = &e->slots[s];
    r->fire = fire;
    r->ctx = ctx;
    r->arg = arg;
    r->seq = e->seq++;
    sift_up(e, e->pending++, (heap_entry){time, s, 0});
    return id_of(e, s);
}

bool engine_fits(const engine_t *e, sim_time_t delay)
{
    return delay >= 0 && delay <= SIM_TIME_MAX - e->now;
}

engine_id_t engine_after(engine_t *e, sim_time_t delay, engine_fire_fn fire, void *ctx,
                         uint64_t arg)
{
    /* a programming error: callers with delays from input check engine_fits */
    assert(engine_fits(e, delay) && "delay out of range");
    return engine_schedule(e, e->now + delay, fire, ctx, arg);
}

bool engine_cancel(engine_t *e, engine_id_t id)
{
    uint32_t s = slot_of(e, id);
    if (s == POS_NONE)
        return false;
    heap_remove(e, e->pos[s]);
    slot_release(e, s);
    return true;
}

bool engine_reschedule(engine_t *e, engine_id_t id, sim_time_t time)
{
    assert(time >= e->now && "event rescheduled into the past");
    uint32_t s = slot_of(e, id);
    if (s == POS_NONE)
        return false;
    /* A new sequence number can only make the event later at an equal time,
     * so the entry moves up only if its time got strictly earlier. */
    size_t k = e->pos[s];
    sim_time_t old = e->heap[HEAP_BASE + k].time;
    e->slots[s].seq = e->seq++;
    heap_entry x = {time, s, 0};
    if (time < old)
        sift_up(e, k, x);
    else
        sift_down(e, k, x);
    return true;
}

uint64_t engine_run(engine_t *e, sim_time_t until)
{
    assert(!e->running && "engine_run called from a handler");
    uint64_t fired = 0;
    e->running = true;
    e->stop = false;
    while (!e->stop && e->pending > 0) {
        heap_entry top = e->heap[HEAP_BASE];
        if (top.time > until)
            break;
        /* pop: the record stays out of the free list while its handler runs,
         * so the handler cannot be handed the same slot, and cancelling or
         * rescheduling the firing event's own id returns false */
        heap_remove(e, 0);
        if (e->pending > 0) { /* the next record is cold on a large heap: fetch it
                                 while this handler runs */
            const slot *next = &e->slots[e->heap[HEAP_BASE].slot];
            PREFETCH(next);
            PREFETCH((const char *)(next + 1) - 1);
        }
        /* advance the clock */
        e->now = top.time;
        /* dispatch; copy first: the handler may grow (move) the slot array */
        const slot *r = &e->slots[top.slot];
        engine_fire_fn fire = r->fire;
        void *ctx = r->ctx;
        engine_event_t ev = {top.time, id_of(e, top.slot), r->arg};
        fire(e, ctx, &ev);
        /* recycle */
        slot_release(e, top.slot);
        e->fired++;
        fired++;
    }
    /* stopped at the limit, not by engine_stop or an empty queue: the time up
     * to `until` has passed with nothing happening */
    if (!e->stop && e->pending > 0 && until > e->now)
        e->now = until;
    e->running = false;
    return fired;
}

void engine_stop(engine_t *e)
{
    e->stop = true;
}
