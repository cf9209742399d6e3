/*
 * test_exec.c - the executor against timelines worked out by hand: two
 * dependent operations on one stream, compute overlapping communication on
 * two streams (exposed time), a collective waiting for its last member (by
 * dependency and by stream order), two concurrent all-to-alls sharing a NIC
 * in the flow model, a two-phase plan, a cost beyond the clock.
 *
 * Topology: 2 nodes x 2 GPUs, NVLink 100 GB/s with no latency (1,500 B take
 * 15 ns), NICs 50 GB/s with 1 us latency.
 */
#include "moesim/exec.h"

#include <string.h>

#include "test.h"

#define NS(x) ((sim_time_t)(x) * 1000)
#define MAXOPS 16

/* The test's workload: durations and plans by tag, what the hook saw. */
typedef struct world {
    sim_time_t dur[MAXOPS];        /* compute tag -> duration */
    double bytes[MAXOPS];          /* comm tag -> bytes from members[0] to members[1] */
    int back[MAXOPS];              /* comm tag: 1 adds a second phase, back again */
    sim_time_t start[MAXOPS], end[MAXOPS], exposed[MAXOPS];
    int exposed_cls[MAXOPS];
    int done, overflows;
} world;

static sim_time_t duration(void *ctx, const exec_span *op)
{
    return ((world *)ctx)->dur[op->tag];
}

static void plan(void *ctx, const exec_span *op, coll_plan *out)
{
    world *w = ctx;
    double b[4] = {0, w->bytes[op->tag], 0, 0};
    int scratch[8];
    coll_alltoallv_group(out, NULL, COLL_A2A_DIRECT, 2, op->members, b, NULL, 0, scratch);
    if (w->back[op->tag])
        coll_alltoallv_group(out, NULL, COLL_A2A_DIRECT, 2, op->members, b, NULL, 1, scratch);
}

static void done(void *ctx, const exec_span *op)
{
    world *w = ctx;
    w->start[op->op] = op->start;
    w->end[op->op] = op->end;
    w->exposed[op->op] = op->exposed;
    w->exposed_cls[op->op] = op->exposed_cls;
    w->done++;
}

static void overflow(void *ctx, const exec_span *op, sim_time_t delay)
{
    (void)op;
    (void)delay;
    ((world *)ctx)->overflows++;
}

typedef struct rig {
    engine_t *eng;
    topo_t *t;
    exec_t *x;
} rig;

static rig rig_new(world *w, net_model model, int streams)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 100e9,
                     .intra_lat_ps = 0, .inter_bw_Bps = 50e9, .inter_lat_ps = NS(1000)};
    err_t e = ERR_INIT;
    rig r;
    r.eng = engine_new(2);
    r.t = topo_new(&c, &e);
    exec_config xc = {.gpus = 4, .streams = streams, .model = model};
    exec_callbacks cb = {duration, plan, done, overflow};
    memset(w, 0, sizeof(*w));
    r.x = exec_new(r.eng, r.t, &xc, &cb, w);
    return r;
}

static void rig_free(rig *r)
{
    exec_free(r->x);
    engine_free(r->eng);
    topo_free(r->t);
}

/* A (10 ns) then B (5 ns, after A) then C (1 ns, no dependency: stream
 * order alone) on GPU 0's compute stream: 0-10, 10-15, 15-16. */
static void test_one_stream(void)
{
    world w;
    rig r = rig_new(&w, NET_ANALYTICAL, 2);
    w.dur[0] = NS(10), w.dur[1] = NS(5), w.dur[2] = NS(1);
    int a = exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 0, NULL, 0);
    int b = exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 1, &a, 1);
    exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 2, NULL, 0);
    EXPECT_EQ_I64(b, 1);
    EXPECT_EQ_I64(exec_pending(r.x), 3);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(exec_pending(r.x), 0);
    EXPECT_EQ_I64(w.done, 3);
    EXPECT_EQ_I64(w.start[1], NS(10));
    EXPECT_EQ_I64(w.end[1], NS(15));
    EXPECT_EQ_I64(w.start[2], NS(15));
    EXPECT_EQ_I64(w.end[2], NS(16));
    EXPECT_EQ_I64(exec_busy(r.x, EXEC_STREAM_COMPUTE)[0], NS(16));
    EXPECT_EQ_I64(exec_busy(r.x, EXEC_STREAM_COMPUTE)[1], 0);
    /* cleared, the graph counts ids from 0 again and runs on */
    exec_clear(r.x);
    EXPECT_EQ_I64(exec_compute(r.x, 1, EXEC_STREAM_COMPUTE, 0, 1, NULL, 0), 0);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(w.start[0], NS(16));
    EXPECT_EQ_I64(w.end[0], NS(21));
    rig_free(&r);
}

/* GPU 0 computes C1 (10 ns) while its comm stream sends X to GPU 1 from 0;
 * C2 needs X. X of 1,500 B takes 15 ns: C2 waits at the head from 10 to 15,
 * 5 ns exposed all-to-all. X of 500 B (5 ns) hides behind C1: 0 exposed. */
static void overlap_case(double bytes, sim_time_t c2_start, sim_time_t exposed)
{
    world w;
    rig r = rig_new(&w, NET_ANALYTICAL, 2);
    const int pair[2] = {0, 1};
    w.dur[0] = NS(10), w.dur[2] = NS(4), w.bytes[1] = bytes;
    exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 0, NULL, 0);
    int x = exec_collective(r.x, pair, 2, EXEC_STREAM_COMM, 0, EXEC_CLASS_ALLTOALL, 1, NULL, 0);
    exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 2, &x, 1);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(w.start[1], 0);
    EXPECT_EQ_I64(w.end[1], bytes == 1500 ? NS(15) : NS(5));
    EXPECT_EQ_I64(w.start[2], c2_start);
    EXPECT_EQ_I64(w.exposed[2], exposed);
    EXPECT_EQ_I64(w.exposed_cls[2], exposed ? EXEC_CLASS_ALLTOALL : EXEC_CLASS_NONE);
    EXPECT_EQ_I64(exec_exposed(r.x, EXEC_CLASS_ALLTOALL)[0], exposed);
    EXPECT_EQ_I64(exec_exposed(r.x, EXEC_CLASS_TP)[0], 0);
    EXPECT_EQ_I64(exec_busy(r.x, EXEC_STREAM_COMM)[1], w.end[1]);
    EXPECT_NEAR(exec_link_bytes(r.x)[topo_link_of(r.t, 0, TOPO_NVLINK_UP)], bytes, 0);
    rig_free(&r);
}

static void test_overlap(void)
{
    overlap_case(1500, NS(15), NS(5));
    overlap_case(500, NS(10), 0);
}

/* X over GPUs 0 and 1 needs A0 (GPU 0, 10 ns) and A1 (GPU 1, 30 ns): it
 * starts at 30, its last member's arrival, and ends at 45. C on GPU 0 after
 * X waits from 10 to 45, but only 15 ns of it is communication: from 10 to
 * 30 GPU 0 waited on GPU 1. */
static void test_last_member_dep(void)
{
    world w;
    rig r = rig_new(&w, NET_ANALYTICAL, 2);
    const int pair[2] = {0, 1};
    w.dur[0] = NS(10), w.dur[1] = NS(30), w.bytes[2] = 1500, w.dur[3] = NS(1);
    int dep[2];
    dep[0] = exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 0, NULL, 0);
    dep[1] = exec_compute(r.x, 1, EXEC_STREAM_COMPUTE, 0, 1, NULL, 0);
    int x = exec_collective(r.x, pair, 2, EXEC_STREAM_COMM, 0, EXEC_CLASS_TP, 2, dep, 2);
    exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 3, &x, 1);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(w.start[2], NS(30));
    EXPECT_EQ_I64(w.end[2], NS(45));
    EXPECT_EQ_I64(w.start[3], NS(45));
    EXPECT_EQ_I64(w.exposed[3], NS(15));
    EXPECT_EQ_I64(exec_exposed(r.x, EXEC_CLASS_TP)[0], NS(15));
    EXPECT_EQ_I64(exec_exposed(r.x, EXEC_CLASS_ALLTOALL)[0], 0);
    rig_free(&r);
}

/* By stream order: GPU 1's comm stream first runs Y (2,000 B from GPU 1 to
 * GPU 2 over the NICs: 40 ns + 1 us), so X over {0, 1}, though added with
 * nothing to wait for, starts at 1,040 ns when GPU 1 reaches it; GPU 0's
 * comm stream stood idle meanwhile. */
static void test_last_member_stream(void)
{
    world w;
    rig r = rig_new(&w, NET_ANALYTICAL, 2);
    const int y_members[2] = {1, 2}, pair[2] = {0, 1};
    w.bytes[0] = 2000, w.bytes[1] = 1500;
    exec_collective(r.x, y_members, 2, EXEC_STREAM_COMM, 0, EXEC_CLASS_PP, 0, NULL, 0);
    exec_collective(r.x, pair, 2, EXEC_STREAM_COMM, 0, EXEC_CLASS_ALLTOALL, 1, NULL, 0);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(w.done, 2);
    EXPECT_EQ_I64(w.end[0], NS(1040));
    EXPECT_EQ_I64(w.start[1], NS(1040));
    EXPECT_EQ_I64(w.end[1] - w.start[1], NS(15));
    EXPECT_EQ_I64(exec_busy(r.x, EXEC_STREAM_COMM)[0], NS(15));
    EXPECT_EQ_I64(exec_busy(r.x, EXEC_STREAM_COMM)[1], NS(1055));
    rig_free(&r);
}

/* Two all-to-alls on separate comm streams, both from GPU 0 to the other
 * node (X: 0 -> 2, 50,000 B; Y: 0 -> 3), through GPU 0's one NIC at
 * 50 GB/s. Flow model, Y of 50,000 B: both get 25 GB/s, 2 us of sending,
 * + 1 us latency = both end at 3 us. Y of 25,000 B: Y's last byte leaves at
 * 1 us (arrives 2 us); X has 25,000 B left, alone at 50 GB/s: 0.5 us more,
 * arrives at 2.5 us. Analytical, each as if alone: 1 us + 1 us, and 0.5 +
 * 1 us. */
static void concurrent_case(net_model model, double y_bytes, sim_time_t x_end,
                            sim_time_t y_end)
{
    world w;
    rig r = rig_new(&w, model, 3);
    const int xm[2] = {0, 2}, ym[2] = {0, 3};
    w.bytes[0] = 50000, w.bytes[1] = y_bytes;
    exec_collective(r.x, xm, 2, 1, 0, EXEC_CLASS_ALLTOALL, 0, NULL, 0);
    exec_collective(r.x, ym, 2, 2, 0, EXEC_CLASS_ALLTOALL, 1, NULL, 0);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(w.start[0], 0);
    EXPECT_EQ_I64(w.start[1], 0);
    EXPECT_EQ_I64(w.end[0], x_end);
    EXPECT_EQ_I64(w.end[1], y_end);
    EXPECT_NEAR(exec_link_bytes(r.x)[topo_link_of(r.t, 0, TOPO_NIC_UP)], 50000 + y_bytes, 0);
    rig_free(&r);
}

static void test_concurrent_flows(void)
{
    concurrent_case(NET_FLOW, 50000, NS(3000), NS(3000));
    concurrent_case(NET_FLOW, 25000, NS(2500), NS(2000));
    concurrent_case(NET_ANALYTICAL, 50000, NS(2000), NS(2000));
    concurrent_case(NET_ANALYTICAL, 25000, NS(2000), NS(1500));
}

/* A plan of two phases (there, 15 ns; back, 15 ns): the second starts when
 * the first has arrived, in both models. */
static void test_phases(void)
{
    for (int m = 0; m < 2; m++) {
        world w;
        rig r = rig_new(&w, m ? NET_FLOW : NET_ANALYTICAL, 2);
        const int pair[2] = {0, 1};
        w.bytes[0] = 1500, w.back[0] = 1;
        exec_collective(r.x, pair, 2, EXEC_STREAM_COMM, 0, EXEC_CLASS_DP, 0, NULL, 0);
        engine_run(r.eng, SIM_TIME_MAX);
        EXPECT_EQ_I64(w.end[0], NS(30));
        EXPECT_NEAR(exec_link_bytes(r.x)[topo_link_of(r.t, 1, TOPO_NVLINK_UP)], 1500, 0);
        rig_free(&r);
    }
}

/* A duration beyond the clock stops the run and is reported once; nothing
 * after it starts. */
static void test_beyond(void)
{
    world w;
    rig r = rig_new(&w, NET_ANALYTICAL, 2);
    w.dur[0] = SIM_TIME_MAX;
    int a = exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 0, NULL, 0);
    exec_compute(r.x, 0, EXEC_STREAM_COMPUTE, 0, 1, &a, 1);
    engine_run(r.eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(exec_failed(r.x), 1);
    EXPECT_EQ_I64(w.overflows, 1);
    EXPECT_EQ_I64(w.done, 0);
    EXPECT_STR_EQ(exec_class_name(EXEC_CLASS_PP), "pp");
    EXPECT_STR_EQ(exec_class_name(EXEC_CLASSES), "?");
    rig_free(&r);
}

void test_exec_register(void)
{
    TEST_SUITE("exec", {"one stream", test_one_stream}, {"overlap", test_overlap},
               {"last member by dependency", test_last_member_dep},
               {"last member by stream", test_last_member_stream},
               {"concurrent flows", test_concurrent_flows}, {"phases", test_phases},
               {"beyond the clock", test_beyond});
}
