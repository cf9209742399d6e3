/*
 * test_forward.c - forward pipelines on the executor against the textbook:
 * p stages of one GPU, one dense layer each (attention 10 ns, FFN 10 ns: a
 * stage time T of 20 ns per micro-batch), m micro-batches.
 *
 * Zero-cost sends: the pass takes (m + p - 1) T and the stages' compute
 * streams are idle (p - 1) / (m + p - 1) of it, the bubble. A send of
 * 1,500 B over NVLink (100 GB/s, no latency: S = 15 ns) with overlap
 * "none" is blocking, as Megatron's p2p without overlap: stage k + 1 takes
 * micro-batch j only after it has finished j - 1, so for p = 2 every
 * micro-batch pays its send: m (T + S) + T.
 */
#include "moesim/forward.h"

#include <stdbool.h>
#include <string.h>

#include "test.h"

#define NS(x) ((sim_time_t)(x) * 1000)
#define MAXP 8

typedef struct pipe {
    fwd_t *f;
    double send_bytes;
    sim_time_t end;
} pipe;

static sim_time_t duration(void *ctx, const exec_span *op)
{
    (void)ctx;
    (void)op;
    return NS(10);
}

static void plan(void *ctx, const exec_span *op, coll_plan *out)
{
    pipe *pp = ctx;
    EXPECT_EQ_I64(fwd_step(pp->f, op->tag)->kind, SCHED_SEND);
    double b[4] = {0, pp->send_bytes, 0, 0};
    int scratch[8];
    coll_alltoallv_group(out, NULL, COLL_A2A_DIRECT, 2, op->members, b, NULL, 0, scratch);
}

static void done(void *ctx, const exec_span *op)
{
    pipe *pp = ctx;
    if (op->end > pp->end)
        pp->end = op->end;
}

/* Runs p stages, m micro-batches; returns the pass's length, and the
 * compute streams' idle share in *bubble. */
static sim_time_t run_pipe(int p, int m, double send_bytes, double *bubble)
{
    topo_config c = {.nodes = 1, .gpus_per_node = p, .intra_bw_Bps = 100e9,
                     .inter_bw_Bps = 50e9};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    engine_t *eng = engine_new(2);
    pipe pp = {.send_bytes = send_bytes};
    exec_config xc = {.gpus = p, .streams = 2, .model = NET_ANALYTICAL};
    exec_callbacks cb = {duration, plan, done, NULL};
    exec_t *x = exec_new(eng, t, &xc, &cb, &pp);

    int first[MAXP + 1], gpu[MAXP];
    bool moe[MAXP] = {false};
    for (int k = 0; k <= p; k++)
        first[k] = k;
    for (int k = 0; k < p; k++)
        gpu[k] = k;
    sched_config sc = {.layers = p, .stages = p, .stage_first = first, .moe = moe,
                       .micro_batches = m};
    long n = sched_forward_count(&sc);
    sched_step steps[512];
    EXPECT_TRUE(n <= 512);
    EXPECT_EQ_I64(sched_forward(&sc, steps, &e), n);
    fwd_layout lay = {.gpus = p, .stages = p, .per_stage = 1, .stage_gpu = gpu, .tp = 1,
                      .tp_gpu = gpu, .a2a = 1, .a2a_gpu = gpu,
                      .p2p_stream = EXEC_STREAM_COMM, .grad_stream = EXEC_STREAM_COMM};
    pp.f = fwd_new(x, &lay, steps, n, m);
    /* per micro-batch: 2 compute ops per stage, p - 1 sends */
    EXPECT_EQ_I64(fwd_add_pass(pp.f), (long)m * (2 * p + p - 1));
    engine_run(eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(exec_pending(x), 0);
    int64_t busy = 0;
    for (int k = 0; k < p; k++)
        busy += exec_busy(x, EXEC_STREAM_COMPUTE)[k];
    EXPECT_EQ_I64(busy, (int64_t)p * m * NS(20));
    *bubble = 1.0 - (double)busy / ((double)p * (double)pp.end);
    fwd_free(pp.f);
    exec_free(x);
    engine_free(eng);
    topo_free(t);
    return pp.end;
}

static void test_bubble(void)
{
    static const int cases[][2] = {{2, 1}, {2, 4}, {4, 4}, {4, 8}, {8, 8}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int p = cases[i][0], m = cases[i][1];
        double bubble;
        EXPECT_EQ_I64(run_pipe(p, m, 0, &bubble), (sim_time_t)(m + p - 1) * NS(20));
        EXPECT_NEAR(bubble, (double)(p - 1) / (m + p - 1), 1e-12);
    }
}

/* p = 2, m = 4, S = 15 ns: stage 0 computes 0-20, sends 20-35, computes
 * micro-batch 1 at 35-55 (its program waits on the blocking send); stage 1
 * computes 35-55, then takes the next send at 55-70, and so on: the last
 * micro-batch ends at 4 (20 + 15) + 20 = 160 ns. */
static void test_send_cost(void)
{
    double bubble;
    EXPECT_EQ_I64(run_pipe(2, 4, 1500, &bubble), NS(160));
    EXPECT_NEAR(bubble, 1.0 - 160.0 / 320.0, 1e-12);
    EXPECT_EQ_I64(run_pipe(2, 1, 1500, &bubble), NS(55));
}

static void test_tags(void)
{
    EXPECT_EQ_I64(fwd_class(SCHED_SEND), EXEC_CLASS_PP);
    EXPECT_EQ_I64(fwd_class(SCHED_TP_ATTN), EXEC_CLASS_TP);
    EXPECT_EQ_I64(fwd_class(SCHED_DISPATCH), EXEC_CLASS_ALLTOALL);
    EXPECT_EQ_I64(fwd_unit(((uint64_t)7 << 24) | 5), 5);
}

void test_forward_register(void)
{
    TEST_SUITE("forward", {"bubble", test_bubble}, {"send cost", test_send_cost},
               {"tags", test_tags});
}
