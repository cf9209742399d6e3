/*
 * test_play.c - forward passes end to end, in process: the hand-computed
 * two-GPU case (tests/e2e/two-gpus.cfg explains every number) and runs that
 * must not depend on anything but the scenario and seed.
 */
#include <stdio.h>
#include <string.h>

#include "moesim/gpu.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"
#include "test.h"

#define TWO_GPUS "tests/e2e/two-gpus.cfg"

static play_t *run(const char *file, const char *const *sets, int nsets, scenario *s)
{
    return test_play_run(file, NULL, sets, nsets, s);
}

static void test_two_gpus_dropless(void)
{
    scenario s;
    play_t *p = run(TWO_GPUS, NULL, 0, &s);
    const metrics *m = play_metrics(p);
    EXPECT_EQ_I64(m->tokens, 8);
    EXPECT_EQ_I64(m->moe_layers, 1);
    const metrics_layer *l = &m->layer[0];
    EXPECT_EQ_I64(l->dropped, 0);
    int64_t wanted[4] = {2, 0, 3, 3};
    for (int x = 0; x < 4; x++)
        EXPECT_EQ_I64(l->wanted[x], wanted[x]);
    /* 6144 B over 100 GB/s = 61,440 ps, plus 1 us */
    EXPECT_EQ_I64(l->dispatch.v[0], 1061440);
    EXPECT_EQ_I64(l->combine.v[0], 1061440);

    /* GPU 0 serves experts 0, 1 with 2 and 0 tokens; GPU 1 experts 2, 3 with 3 and 3. */
    gpu_ffn_shape sh = {s.model.hidden, s.model.expert_ffn, s.model.ffn_matrices, s.model.dtype};
    int64_t g0[2] = {2, 0}, g1[2] = {3, 3};
    sim_time_t t0 = gpu_experts_time(&s.cluster.gpu, &sh, g0, 2);
    sim_time_t t1 = gpu_experts_time(&s.cluster.gpu, &sh, g1, 2);
    sim_time_t slowest = t0 > t1 ? t0 : t1;
    EXPECT_EQ_I64(l->expert.v[0], slowest);

    gpu_attn_shape as = {s.model.hidden, s.model.heads, s.model.kv_heads, s.model.head_dim,
                         s.workload.seq_len, s.model.dtype, 0, 0, 0, 0, 0};
    sim_time_t total = gpu_attention_time(&s.cluster.gpu, &as, 4) +
                       gpu_gate_time(&s.cluster.gpu, 4, s.model.hidden, 4, s.model.dtype) +
                       1061440 + slowest + 1061440;
    EXPECT_EQ_I64(m->sim_time_ps, total);
    play_free(p);
    scenario_fini(&s);
}

static void test_two_gpus_capacity(void)
{
    const char *sets[] = {"model.router.overflow=drop", "model.router.capacity_factor=1.0"};
    scenario s;
    play_t *p = run(TWO_GPUS, sets, 2, &s);
    const metrics_layer *l = &play_metrics(p)->layer[0];
    EXPECT_EQ_I64(l->capacity, 1);
    EXPECT_EQ_I64(l->dropped, 2);
    int64_t served[4] = {2, 0, 2, 2}, dropped[4] = {0, 0, 1, 1};
    for (int x = 0; x < 4; x++) {
        EXPECT_EQ_I64(l->served[x], served[x]);
        EXPECT_EQ_I64(l->dropped_per_expert[x], dropped[x]);
    }
    EXPECT_EQ_I64(l->dispatch.v[0], 1040960); /* 4096 B: 40.96 ns + 1 us */
    play_free(p);
    scenario_fini(&s);
}

/* Tensor parallelism 2 on the two-GPU case: one DP rank of 4 tokens whose
 * TP ranks route 2 tokens each (GPU 0 tokens 0, 1 -> experts 2, 2; GPU 1
 * tokens 2, 3 -> experts 0, 3). GPU 0 sends 2 rows (4096 B) to GPU 1, GPU 1
 * one row to GPU 0: dispatch 40.96 ns + 1 us. Each TP all-reduce is a ring
 * of 2 over 4 tokens x 1024 x 2 B = 8192 B: 2 steps of 4096 B, 1,040,960 ps
 * each; two all-reduces per layer. Attention runs 4 of the 8 heads on all 4
 * tokens; the gate sees 2 tokens. */
static void test_two_gpus_tp2(void)
{
    const char *sets[] = {"parallel.tp=2", "parallel.dp=1"};
    scenario s, s1;
    play_t *p = run(TWO_GPUS, sets, 2, &s);
    play_t *p1 = run(TWO_GPUS, NULL, 0, &s1);
    const metrics *m = play_metrics(p);
    const metrics_layer *l = &m->layer[0];
    EXPECT_EQ_I64(m->tokens, 4);
    int64_t wanted[4] = {1, 0, 2, 1};
    for (int x = 0; x < 4; x++)
        EXPECT_EQ_I64(l->wanted[x], wanted[x]);
    EXPECT_EQ_I64(l->dispatch.v[0], 1040960);
    EXPECT_EQ_I64(l->combine.v[0], 1040960);
    EXPECT_EQ_I64(l->tp_allreduce.n, 1);
    EXPECT_EQ_I64(l->tp_allreduce.v[0], 4 * 1040960);
    EXPECT_EQ_I64(m->tp_allreduce_all.v[0], 4 * 1040960);
    EXPECT_EQ_I64(play_metrics(p1)->layer[0].tp_allreduce.n, 0); /* tp = 1: none */

    /* attention: half the heads, every token of the DP rank */
    const gpu_spec *g = &s.cluster.gpu;
    gpu_attn_shape half = {1024, 4, 4, 128, 4, DTYPE_BF16, 0, 0, 0, 0, 0};
    gpu_attn_shape full = {1024, 8, 8, 128, 4, DTYPE_BF16, 0, 0, 0, 0, 0};
    EXPECT_EQ_I64(l->attention.v[0], gpu_attention_time(g, &half, 4));
    EXPECT_EQ_I64(play_metrics(p1)->layer[0].attention.v[0], gpu_attention_time(g, &full, 4));
    /* the FLOPs halve: compare each roofline's compute term by hand:
     * QKV 2 x 4 x 1024 x 3 x 512 over 2 x 4 x 1024 x 3 x 1024 */
    EXPECT_TRUE(l->attention.v[0] < play_metrics(p1)->layer[0].attention.v[0]);
    EXPECT_EQ_I64(l->gate.v[0], gpu_gate_time(g, 2, 1024, 4, DTYPE_BF16));

    /* GPU 0 holds experts 0, 1 with 1 and 0 tokens; GPU 1 experts 2, 3 with 2 and 1 */
    gpu_ffn_shape sh = {1024, 2048, 3, DTYPE_BF16};
    int64_t g0[2] = {1, 0}, g1[2] = {2, 1};
    sim_time_t t0 = gpu_experts_time(g, &sh, g0, 2), t1 = gpu_experts_time(g, &sh, g1, 2);
    sim_time_t slowest = t0 > t1 ? t0 : t1;
    EXPECT_EQ_I64(l->expert.v[0], slowest);
    EXPECT_EQ_I64(m->sim_time_ps, gpu_attention_time(g, &half, 4) + 2 * 1040960 +
                                       gpu_gate_time(g, 2, 1024, 4, DTYPE_BF16) + 1040960 +
                                       slowest + 1040960 + 2 * 1040960);
    play_free(p);
    play_free(p1);
    scenario_fini(&s);
    scenario_fini(&s1);
}

/* Expert tensor parallelism 2 with ep 1 on the two GPUs: every token goes to
 * both GPUs of the ETP group, each computes half of every expert's FFN
 * (1024 of 2048) for all 4 tokens; each GPU sends its 2 tokens' rows to the
 * other (4096 B each way) and gets both partial outputs back. */
static void test_two_gpus_etp2(void)
{
    const char *sets[] = {"parallel.tp=2", "parallel.dp=1", "parallel.ep=1", "parallel.etp=2"};
    scenario s;
    play_t *p = run(TWO_GPUS, sets, 4, &s);
    const metrics_layer *l = &play_metrics(p)->layer[0];
    EXPECT_EQ_I64(l->dispatch.v[0], 1040960);
    EXPECT_EQ_I64(l->combine.v[0], 1040960);
    gpu_ffn_shape sh = {1024, 1024, 3, DTYPE_BF16};
    int64_t all[4] = {1, 0, 2, 1};
    EXPECT_EQ_I64(l->expert.v[0], gpu_experts_time(&s.cluster.gpu, &sh, all, 4));
    EXPECT_NEAR(play_metrics(p)->a2a_bytes, 2 * 4096.0, 0);
    play_free(p);
    scenario_fini(&s);
}

static int same_metrics(const metrics *a, const metrics *b)
{
    if (a->sim_time_ps != b->sim_time_ps || a->tokens != b->tokens)
        return 0;
    for (int i = 0; i < a->moe_layers; i++) {
        const metrics_layer *x = &a->layer[i], *y = &b->layer[i];
        if (x->dropped != y->dropped || x->dispatch.n != y->dispatch.n)
            return 0;
        for (size_t j = 0; j < x->dispatch.n; j++)
            if (x->dispatch.v[j] != y->dispatch.v[j] || x->expert.v[j] != y->expert.v[j])
                return 0;
        for (int k = 0; k < x->experts; k++)
            if (x->wanted[k] != y->wanted[k])
                return 0;
    }
    return 1;
}

static void test_two_simulations_in_one_process(void)
{
    /* Both alive at once, run one after the other, then a third alone:
     * nothing global may leak between them. */
    const char *sets[] = {"workload.batches=2", "workload.tokens_per_rank=64",
                          "model.layers=4"};
    scenario sa, sb, sc;
    memset(&sa, 0, sizeof(sa));
    memset(&sb, 0, sizeof(sb));
    err_t e = ERR_INIT;
    CU_ASSERT_EQUAL_FATAL(scenario_load_file("scenarios/mixtral-8x7b-h100x8.cfg", sets, 3, &sa, &e), 0);
    CU_ASSERT_EQUAL_FATAL(scenario_load_file("scenarios/mixtral-8x7b-h100x8.cfg", sets, 3, &sb, &e), 0);
    play_t *a = play_new(&sa, &e), *b = play_new(&sb, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(play_run(a, NULL, NULL, &e), 0);
    CU_ASSERT_EQUAL(play_run(b, NULL, NULL, &e), 0);
    play_t *c = run("scenarios/mixtral-8x7b-h100x8.cfg", sets, 3, &sc);
    EXPECT_TRUE(same_metrics(play_metrics(a), play_metrics(b)));
    EXPECT_TRUE(same_metrics(play_metrics(a), play_metrics(c)));
    EXPECT_TRUE(play_metrics(a)->layer[0].dropped > 0); /* skewed synthetic routing drops at 1.25 */
    play_free(a);
    play_free(b);
    play_free(c);
    scenario_fini(&sa);
    scenario_fini(&sb);
    scenario_fini(&sc);
}

static void test_seed_changes_routing(void)
{
    const char *s1[] = {"workload.batches=1", "workload.tokens_per_rank=64", "model.layers=2",
                        "seed=1"};
    const char *s2[] = {"workload.batches=1", "workload.tokens_per_rank=64", "model.layers=2",
                        "seed=2"};
    scenario a, b;
    play_t *pa = run("scenarios/mixtral-8x7b-h100x8.cfg", s1, 4, &a);
    play_t *pb = run("scenarios/mixtral-8x7b-h100x8.cfg", s2, 4, &b);
    EXPECT_TRUE(!same_metrics(play_metrics(pa), play_metrics(pb)));
    play_free(pa);
    play_free(pb);
    scenario_fini(&a);
    scenario_fini(&b);
}

/* 2 nodes x 2 GPUs, one expert per GPU, top-2, one token per GPU: GPU 0's
 * token wants experts 2 and 3, both on node 1; every other token stays in
 * its node. Direct: GPU 0's NIC carries two rows. Hierarchical: one row,
 * once per token and node, forwarded inside node 1 over NVLink; the combine
 * gathers it at GPU 2 (local index 0 of node 1), whose NIC carries it back. */
static const char *const TWO_NODES =
    "name = \"two-nodes\";\n"
    "model = { layers = 1; hidden = 1024; expert_ffn = 2048; experts = 4; top_k = 2; heads = 8;\n"
    "  router = { overflow = \"dropless\"; }; };\n"
    "cluster = { nodes = 2; gpus_per_node = 2; };\n"
    "workload = { tokens_per_rank = 1; batches = 1; seq_len = 1;\n"
    "  source = { kind = \"fixed\"; logits = ( [0.0, 0.0, 5.0, 4.0], [4.0, 5.0, 0.0, 0.0],\n"
    "                                         [0.0, 0.0, 5.0, 4.0], [0.0, 0.0, 4.0, 5.0] ); }; };\n";

static double nic_up_bytes(const char *algo, int gpu)
{
    char set[64];
    snprintf(set, sizeof(set), "network.alltoall=%s", algo);
    const char *sets[] = {set};
    scenario s;
    err_t e = ERR_INIT;
    CU_ASSERT_EQUAL_FATAL(scenario_load_string(TWO_NODES, "two-nodes", sets, 1, &s, &e), 0);
    play_t *p = play_new(&s, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(play_run(p, NULL, NULL, &e), 0);
    double b = play_metrics(p)->link_bytes[topo_link_of(play_topo(p), gpu, TOPO_NIC_UP)];
    play_free(p);
    scenario_fini(&s);
    return b;
}

/* ---- placement in runs ---- */

static void test_balanced_by_hand(void)
{
    /* The warm-up sees the fixed table's loads 2, 0, 3, 3. LPT: expert 2 to
     * rank 0, 3 to rank 1, 0 to rank 0 (tie: lower rank), 1 to rank 1. So
     * GPU 0 serves 5 assignments and GPU 1 three (contiguous: 2 and 6).
     * Source 0's tokens want 2, 2, 0, 3: one row to GPU 1; source 1's want
     * 0, 3, 3, 2: two rows to GPU 0. 2 x 2048 B over 100 GB/s + 1 us. */
    const char *sets[] = {"placement.strategy=balanced", "placement.warmup_batches=1"};
    scenario s;
    play_t *p = run(TWO_GPUS, sets, 2, &s);
    const metrics *m = play_metrics(p);
    const metrics_layer *l = &m->layer[0];
    EXPECT_NEAR(l->gpu_max_over_mean_sum, 5.0 / 4.0, 1e-12);
    EXPECT_EQ_I64(l->dispatch.v[0], 1040960);
    EXPECT_NEAR(m->a2a_bytes, 3 * 2048.0, 1e-9);
    int64_t wanted[4] = {2, 0, 3, 3}; /* routing itself does not move */
    for (int x = 0; x < 4; x++)
        EXPECT_EQ_I64(l->wanted[x], wanted[x]);
    play_free(p);
    scenario_fini(&s);

    p = run(TWO_GPUS, NULL, 0, &s); /* contiguous: 6 of 8 on GPU 1 */
    EXPECT_NEAR(play_metrics(p)->layer[0].gpu_max_over_mean_sum, 6.0 / 4.0, 1e-12);
    play_free(p);
    scenario_fini(&s);
}

/* Two GPUs, four experts, top-1; every batch routes 3, 2, 3, 0 tokens to
 * experts 0..3. */
static const char dyn_cfg[] =
    "name = \"dynamic\"; seed = 3;\n"
    "model = { layers = 1; hidden = 1024; expert_ffn = 2048; experts = 4; top_k = 1;\n"
    "  heads = 8; router = { kind = \"softmax_topk\"; overflow = \"dropless\"; }; };\n"
    "cluster = { nodes = 1; gpus_per_node = 2; gpu = \"H100-SXM\";\n"
    "  intra = { bandwidth = \"100 GB/s\"; latency = \"1 us\"; efficiency = 1.0; }; };\n"
    "parallel = { ep = 2; };\n"
    "placement = { strategy = \"dynamic\"; rebalance_every = 1; };\n"
    "workload = { tokens_per_rank = 4; batches = 3; seq_len = 4; source = { kind = \"fixed\";\n"
    "  logits = ( [5.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0], [5.0, 0.0, 0.0, 0.0],\n"
    "             [0.0, 5.0, 0.0, 0.0], [0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 5.0, 0.0],\n"
    "             [0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 5.0, 0.0] ); }; };\n"
    "network = { message_overhead = \"0 us\"; };\n";

static void test_dynamic_migration_by_hand(void)
{
    /* Start: balanced on equal loads = expert x on rank x % 2: {0, 2}, {1, 3}.
     * Before batch 1, balanced on 3, 2, 3, 0: 0 to rank 0, 2 to rank 1, 1
     * to rank 0 (tie), 3 to rank 1: {0, 1}, {2, 3}. Expert 1 moves to GPU 0
     * and expert 2 to GPU 1: two copies of 3 x 1024 x 2048 x 2 B each way,
     * 12,582,912 B over 100 GB/s + 1 us. Before batch 2 the average is the
     * same and nothing moves. */
    err_t e = ERR_INIT;
    scenario s;
    memset(&s, 0, sizeof(s));
    CU_ASSERT_EQUAL_FATAL(scenario_load_string(dyn_cfg, "dynamic.cfg", NULL, 0, &s, &e), 0);
    play_t *p = play_new(&s, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL_FATAL(play_run(p, NULL, NULL, &e), 0);
    const metrics *m = play_metrics(p);
    double expert = 3.0 * 1024 * 2048 * 2;
    EXPECT_EQ_I64(m->rebalances, 2);
    EXPECT_EQ_I64(m->migrated_experts, 2);
    EXPECT_NEAR(m->migration_bytes, 2 * expert, 1e-6);
    CU_ASSERT_EQUAL_FATAL(m->migration.n, 2);
    EXPECT_EQ_I64(m->migration.v[0], 125829120 + 1000000);
    EXPECT_EQ_I64(m->migration.v[1], 0);
    /* the copies travelled on the links: 12.58 MB up from each GPU */
    double moved = 0;
    for (int i = 0; i < m->links; i++)
        moved += m->link_bytes[i];
    EXPECT_TRUE(moved >= 2 * expert);
    /* batch 0 on {0, 2} {1, 3}: GPU 0 serves 6 of 8; after: 5 of 8 */
    const metrics_layer *l = &m->layer[0];
    EXPECT_NEAR(l->gpu_max_over_mean_sum, 6.0 / 4 + 5.0 / 4 + 5.0 / 4, 1e-12);
    /* the run's time holds the migration; the batches' steps do not */
    EXPECT_EQ_I64(m->sim_time_ps, m->batch_time.v[0] + m->batch_time.v[1] +
                                      m->batch_time.v[2] + m->migration.v[0]);
    play_free(p);
    scenario_fini(&s);
}

/* The minimum gain: the move before batch 1 takes GPU 0's share of the
 * load from 6 of 8 to 5 of 8, max/mean 1.5 to 1.25, a gain of 1/6. Below
 * that minimum it is made, above it both layer placements are kept. */
static void test_dynamic_min_gain(void)
{
    const double gains[2] = {0.15, 0.2};
    const int64_t copies[2] = {2, 0}, kept[2] = {1, 2};
    for (int i = 0; i < 2; i++) {
        char set[64];
        snprintf(set, sizeof(set), "placement.rebalance_min_gain=%g", gains[i]);
        const char *sets[1] = {set};
        scenario s;
        play_t *p = test_play_run("dynamic.cfg", dyn_cfg, sets, 1, &s);
        const metrics *m = play_metrics(p);
        EXPECT_EQ_I64(m->rebalances, 2);
        EXPECT_EQ_I64(m->migrated_experts, copies[i]);
        EXPECT_EQ_I64(m->kept_layers, kept[i]);
        /* kept: GPU 0 serves 6 of 8 in every batch */
        EXPECT_NEAR(m->layer[0].gpu_max_over_mean_sum,
                    i == 0 ? 6.0 / 4 + 5.0 / 4 + 5.0 / 4 : 3 * 6.0 / 4, 1e-12);
        play_free(p);
        scenario_fini(&s);
    }
}

static const char *const SKEWED[] = {
    "workload.source.kind=popularity", "workload.source.distribution=zipf",
    "workload.source.s=0.6",           "model.experts=32",
    "model.layers=2",                  "workload.tokens_per_rank=512",
    "workload.batches=2",              "model.router.overflow=dropless"};

static void test_strategies_on_skewed_source(void)
{
    /* Every strategy sees the same tokens (the warm-up has its own stream);
     * load-driven ones spread a zipf source's hot experts, so their GPU
     * load max/mean beats contiguous blocks'. */
    const char *names[] = {"contiguous", "round_robin", "random", "balanced", "eplb",
                           "topology_aware"};
    double mom[6];
    int64_t wanted0[32];
    for (int k = 0; k < 6; k++) {
        const char *sets[12];
        int n = 0;
        for (size_t i = 0; i < sizeof(SKEWED) / sizeof(*SKEWED); i++)
            sets[n++] = SKEWED[i];
        char st[64];
        snprintf(st, sizeof(st), "placement.strategy=%s", names[k]);
        sets[n++] = st;
        scenario s;
        play_t *p = run("scenarios/mixtral-8x7b-h100x8.cfg", sets, n, &s);
        const metrics *m = play_metrics(p);
        report_totals_t tt;
        report_totals(m, &tt);
        mom[k] = tt.gpu_max_over_mean;
        if (k == 0)
            memcpy(wanted0, m->layer[0].wanted, sizeof(wanted0));
        for (int x = 0; x < 32; x++)
            CU_ASSERT_EQUAL(m->layer[0].wanted[x], wanted0[x]);
        play_free(p);
        scenario_fini(&s);
    }
    /* measured: contiguous 1.525, balanced and eplb 1.333 (the hottest
     * expert alone fills a GPU: only replicas go further) */
    EXPECT_TRUE(mom[0] > 1.4);
    EXPECT_TRUE(mom[3] < mom[0] - 0.1); /* balanced */
    EXPECT_TRUE(mom[4] < mom[0] - 0.1); /* eplb without replicas */
}

static void test_eplb_replicas_in_run(void)
{
    /* 8 redundant slots: each GPU holds 5; the hottest experts are
     * replicated and their tokens split, so GPU load evens out further than
     * without replicas, and every assignment is still served exactly once. */
    double mom[2];
    for (int k = 0; k < 2; k++) {
        const char *sets[12];
        int n = 0;
        for (size_t i = 0; i < sizeof(SKEWED) / sizeof(*SKEWED); i++)
            sets[n++] = SKEWED[i];
        sets[n++] = "placement.strategy=eplb";
        sets[n++] = k ? "placement.redundant=8" : "placement.redundant=0";
        scenario s;
        play_t *p = run("scenarios/mixtral-8x7b-h100x8.cfg", sets, n, &s);
        const metrics *m = play_metrics(p);
        report_totals_t tt;
        report_totals(m, &tt);
        mom[k] = tt.gpu_max_over_mean;
        int64_t served = 0;
        for (int x = 0; x < 32; x++)
            served += m->layer[0].served[x];
        EXPECT_EQ_I64(served, 2 * 8 * 512 * 2); /* batches x ranks x tokens x top_k */
        play_free(p);
        scenario_fini(&s);
    }
    EXPECT_TRUE(mom[1] < mom[0]);
    EXPECT_TRUE(mom[1] < 1.15);
}

static void test_hierarchical_once_per_node(void)
{
    EXPECT_NEAR(nic_up_bytes("direct", 0), 2 * 2048, 0);
    /* combine, direct: GPUs 2 and 3 each send their row back over RDMA */
    EXPECT_NEAR(nic_up_bytes("direct", 2), 2048, 0);
    EXPECT_NEAR(nic_up_bytes("direct", 3), 2048, 0);
    EXPECT_NEAR(nic_up_bytes("hierarchical", 0), 2048, 0);
    /* combine, hierarchical: GPU 3 hands its row to GPU 2 over NVLink */
    EXPECT_NEAR(nic_up_bytes("hierarchical", 2), 2048, 0);
    EXPECT_NEAR(nic_up_bytes("hierarchical", 3), 0, 0);
}

/* ---- run-time defence (issue 16) ---- */

/* The two-GPU case with one figure set in code, past what load would
 * allow: the run stops with ERR_INPUT naming `key` and the clock's range,
 * never on an assertion or a wrapped time. Returns the message. */
static void expect_beyond(void (*edit)(scenario *), const char *const *sets, int nsets,
                          const char *key, const char *what)
{
    scenario s;
    err_t e = ERR_INIT;
    CU_ASSERT_EQUAL_FATAL(scenario_load_file(TWO_GPUS, sets, nsets, &s, &e), 0);
    edit(&s);
    play_t *p = play_new(&s, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    EXPECT_EQ_I64(play_run(p, NULL, NULL, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, key);
    EXPECT_STR_CONTAINS(e.msg, "the clock's 106 days");
    EXPECT_STR_CONTAINS(e.msg, what);
    play_free(p);
    scenario_fini(&s);
}

static void slow_flops(scenario *s) { s->cluster.gpu.peak_flops[DTYPE_BF16] = 1e-3; }
static void slow_link(scenario *s) { s->cluster.topo.intra_bw_Bps = 1e-9; }
static void long_latency(scenario *s)
{
    s->cluster.topo.intra_lat_ps = SIM_S(9000000);
}
static void half_latency(scenario *s)
{
    s->cluster.topo.intra_lat_ps = SIM_S(5000000);
}
static void huge_floor(scenario *s)
{
    s->model.capacity.overflow = CAPACITY_DROP;
    s->model.capacity.factor = 1.0;
    s->model.capacity.pad_to_capacity = true;
    s->model.capacity.min_capacity = INT64_MAX;
}
static void tiny_link_eff(scenario *s)
{
    s->cluster.topo.intra_eff = 1e-300;
}
static void tiny_compute_eff(scenario *s)
{
    s->cluster.gpu.compute_eff = 1e-300;
}
static void many_tokens(scenario *s) { s->workload.tokens_per_rank = 1 << 30; }

static void test_beyond_the_clock(void)
{
    /* bf16 = "0.001 FLOP/s": the attention alone is 3.6e10 s */
    expect_beyond(slow_flops, NULL, 0, "cluster.gpu.bf16", "0.001 FLOP/s makes one attention");
    /* intra.bandwidth of 1e-9 B/s: 6144 B take 6e12 s, analytical and flow */
    expect_beyond(slow_link, NULL, 0, "cluster.intra.bandwidth", "one dispatch");
    const char *flow[] = {"network.model=flow"};
    expect_beyond(slow_link, flow, 1, "cluster.intra.bandwidth", "one dispatch");
    /* 9e18 ps a route: the dispatch fits, the combine after it does not */
    expect_beyond(long_latency, NULL, 0, "cluster.intra.latency", "9000000 s makes the run");
    expect_beyond(long_latency, flow, 1, "cluster.intra.latency", "9000000 s makes the run");
    /* 5e18 ps: one all-to-all fits, dispatch plus combine do not */
    expect_beyond(half_latency, NULL, 0, "cluster.intra.latency", "makes the run pass");
    /* an efficiency no link or kernel reaches is named, not the bandwidth */
    expect_beyond(tiny_link_eff, NULL, 0, "cluster.intra.efficiency", "1e-300 makes one");
    expect_beyond(tiny_compute_eff, NULL, 0, "cluster.gpu.compute_efficiency", "1e-300");
    /* a padded floor of 2^63 - 1 slots per expert */
    expect_beyond(huge_floor, NULL, 0, "model.router.min_capacity", "one dispatch");
}

/* 2 ranks x 2^30 tokens is 2^31 tokens a batch: refused by name, not an
 * int that wraps into "out of memory allocating 18446744073709551615". */
static void test_tokens_per_batch_overflow(void)
{
    scenario s;
    err_t e = ERR_INIT;
    CU_ASSERT_EQUAL_FATAL(scenario_load_file(TWO_GPUS, NULL, 0, &s, &e), 0);
    many_tokens(&s);
    EXPECT_TRUE(play_new(&s, &e) == NULL);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, "workload.tokens_per_rank");
    EXPECT_STR_CONTAINS(e.msg, "2147483648 tokens per batch");
    scenario_fini(&s);
}

void test_play_register(void)
{
    TEST_SUITE("play", {"two GPUs, dropless, by hand", test_two_gpus_dropless},
               {"two GPUs, tensor parallel 2, by hand", test_two_gpus_tp2},
               {"two GPUs, expert tensor parallel 2, by hand", test_two_gpus_etp2},
               {"two GPUs, capacity 1, by hand", test_two_gpus_capacity},
               {"two simulations in one process", test_two_simulations_in_one_process},
               {"seed changes routing", test_seed_changes_routing},
               {"balanced placement, by hand", test_balanced_by_hand},
               {"dynamic placement's migration, by hand", test_dynamic_migration_by_hand},
               {"dynamic placement keeps what would gain too little", test_dynamic_min_gain},
               {"strategies on a skewed source", test_strategies_on_skewed_source},
               {"eplb replicas in a run", test_eplb_replicas_in_run},
               {"hierarchical all-to-all: once per token and node",
                test_hierarchical_once_per_node},
               {"times beyond the clock name their key (issue 16)", test_beyond_the_clock},
               {"tokens per batch beyond an int (issue 16)", test_tokens_per_batch_overflow});
}
