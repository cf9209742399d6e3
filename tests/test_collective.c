/*
 * test_collective.c - each collective's transfers and bytes per link on
 * 2 nodes x 2 GPUs, worked out by hand, and their times under both network
 * models.
 */
#include "moesim/collective.h"

#include <string.h>

#include "moesim/flows.h"
#include "test.h"

static topo_t *make_2x2(void)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 100e9,
                     .intra_lat_ps = 0, .inter_bw_Bps = 50e9, .inter_lat_ps = 0};
    err_t e = ERR_INIT;
    return topo_new(&c, &e);
}

static double link(const topo_t *t, const double *lb, int gpu, topo_link_kind k)
{
    return lb[topo_link_of(t, gpu, k)];
}

static void uniform(double *bytes, double b)
{
    for (int i = 0; i < 16; i++)
        bytes[i] = i % 5 == 0 ? 0 : b; /* the diagonal (0, 5, 10, 15) stays local */
}

/* Direct: one phase of 12 transfers; every NVLink carries the 1 MB to or
 * from the node mate, every NIC the 2 MB to or from the other node. */
static void test_alltoall_direct(void)
{
    topo_t *t = make_2x2();
    double bytes[16], lb[16];
    uniform(bytes, 1e6);
    coll_plan p = COLL_PLAN_INIT;
    coll_alltoallv(&p, t, COLL_A2A_DIRECT, bytes, NULL);
    EXPECT_EQ_I64(p.phases, 1);
    EXPECT_EQ_I64(p.nflows, 12);
    net_result r;
    coll_plan_analytical(&p, t, 0, &r, lb);
    for (int g = 0; g < 4; g++) {
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_UP), 1e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_DOWN), 1e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_UP), 2e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_DOWN), 2e6, 0);
    }
    EXPECT_EQ_I64(r.time_ps, SIM_US(40)); /* 2 MB / 50 GB/s */
    coll_plan_fini(&p);
    topo_free(t);
}

/* Pairwise: shifts 1, 2, 3; in shift k GPU s sends to s + k mod 4. */
static void test_alltoall_pairwise(void)
{
    topo_t *t = make_2x2();
    double bytes[16];
    uniform(bytes, 1e6);
    coll_plan p = COLL_PLAN_INIT;
    coll_alltoallv(&p, t, COLL_A2A_PAIRWISE, bytes, NULL);
    EXPECT_EQ_I64(p.phases, 3);
    for (int k = 0; k < 3; k++) {
        EXPECT_EQ_I64(p.off[k + 1] - p.off[k], 4);
        for (int i = p.off[k]; i < p.off[k + 1]; i++)
            EXPECT_EQ_I64(p.dst[i], (p.src[i] + k + 1) % 4);
    }
    /* shift 1: 0->1 NVLink, 1->2 NIC, 2->3 NVLink, 3->0 NIC: 20 us (NIC);
     * shift 2: all four over NICs, one each: 20 us; shift 3 like shift 1. */
    net_result r;
    coll_plan_analytical(&p, t, 0, &r, NULL);
    EXPECT_EQ_I64(r.time_ps, SIM_US(60));
    EXPECT_EQ_I64(flows_time_phases(t, 0, p.phases, p.off, p.src, p.dst, p.bytes, NULL),
                  SIM_US(60));
    coll_plan_fini(&p);
    topo_free(t);
}

/* Hierarchical: GPU 0's bytes for GPUs 2 and 3 cross once, to GPU 2 (its
 * rail peer), which forwards 3's share over NVLink. Every NIC carries 2 MB
 * (1.5 MB when a token reaching both GPUs of a node crosses once), every
 * NVLink up-link its own 1 MB plus 1 MB forwarded. */
static void test_alltoall_hierarchical(void)
{
    topo_t *t = make_2x2();
    double bytes[16], lb[16];
    uniform(bytes, 1e6);
    coll_plan p = COLL_PLAN_INIT;
    coll_alltoallv(&p, t, COLL_A2A_HIERARCHICAL, bytes, NULL);
    EXPECT_EQ_I64(p.phases, 1);
    net_result r;
    coll_plan_analytical(&p, t, 0, &r, lb);
    for (int g = 0; g < 4; g++) {
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_UP), 2e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_DOWN), 2e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_UP), 2e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_DOWN), 2e6, 0);
    }
    /* no NIC flow goes off-rail: 0 and 2, 1 and 3 only */
    for (int i = 0; i < p.nflows; i++)
        if (topo_node_of(t, p.src[i]) != topo_node_of(t, p.dst[i]))
            EXPECT_EQ_I64(p.src[i] % 2, p.dst[i] % 2);
    double nb[8]; /* G x nodes */
    for (int i = 0; i < 8; i++)
        nb[i] = 1.5e6;
    coll_alltoallv(&p, t, COLL_A2A_HIERARCHICAL, bytes, nb);
    coll_plan_analytical(&p, t, 0, &r, lb);
    EXPECT_NEAR(link(t, lb, 0, TOPO_NIC_UP), 1.5e6, 0);
    /* the combine mirrors it: forward first, into the destination's rail */
    coll_alltoallv_combine(&p, t, COLL_A2A_HIERARCHICAL, bytes, NULL);
    coll_plan_analytical(&p, t, 0, &r, lb);
    for (int g = 0; g < 4; g++) {
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_UP), 2e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_UP), 2e6, 0);
    }
    coll_plan_fini(&p);
    topo_free(t);
}

/* Ring all-reduce of 4 MB on 4 GPUs: 6 steps of 1 MB around 0-1-2-3-0;
 * 1->2 and 3->0 cross nodes. Each step: 1 MB over a NIC, 20 us. */
static void test_allreduce_ring(void)
{
    topo_t *t = make_2x2();
    double lb[16];
    coll_plan p = COLL_PLAN_INIT;
    coll_allreduce(&p, t, 4, 4e6, COLL_AR_RING);
    EXPECT_EQ_I64(p.phases, 6);
    EXPECT_EQ_I64(p.nflows, 24);
    net_result r;
    coll_plan_analytical(&p, t, 0, &r, lb);
    EXPECT_NEAR(link(t, lb, 0, TOPO_NVLINK_UP), 6e6, 0);
    EXPECT_NEAR(link(t, lb, 1, TOPO_NIC_UP), 6e6, 0);
    EXPECT_NEAR(link(t, lb, 2, TOPO_NIC_DOWN), 6e6, 0);
    EXPECT_NEAR(link(t, lb, 3, TOPO_NIC_UP), 6e6, 0);
    EXPECT_NEAR(link(t, lb, 0, TOPO_NIC_UP), 0, 0);
    EXPECT_EQ_I64(r.time_ps, SIM_US(120));
    EXPECT_EQ_I64(flows_time_phases(t, 0, p.phases, p.off, p.src, p.dst, p.bytes, NULL),
                  SIM_US(120));
    coll_plan_fini(&p);
    topo_free(t);
}

/* Hierarchical all-reduce of 4 MB: shards of 2 MB; reduce-scatter in the
 * node (one step of 2 MB), all-reduce across nodes (2 steps of 1 MB between
 * rail peers), all-gather in the node (one step of 2 MB). */
static void test_allreduce_hierarchical(void)
{
    topo_t *t = make_2x2();
    double lb[16];
    coll_plan p = COLL_PLAN_INIT;
    coll_allreduce(&p, t, 4, 4e6, COLL_AR_HIERARCHICAL);
    EXPECT_EQ_I64(p.phases, 4);
    net_result r;
    coll_plan_analytical(&p, t, 0, &r, lb);
    for (int g = 0; g < 4; g++) {
        EXPECT_NEAR(link(t, lb, g, TOPO_NVLINK_UP), 4e6, 0);
        EXPECT_NEAR(link(t, lb, g, TOPO_NIC_UP), 2e6, 0);
    }
    /* 20 us + 20 us over NICs, 2 x 20 us over NVLink (2 MB at 100 GB/s) */
    EXPECT_EQ_I64(r.time_ps, SIM_US(80));
    coll_plan_fini(&p);
    topo_free(t);
}

static void test_allgather_reducescatter(void)
{
    topo_t *t = make_2x2();
    double lb[16];
    coll_plan p = COLL_PLAN_INIT;
    net_result r;
    coll_allgather(&p, t, 4, 4e6);
    EXPECT_EQ_I64(p.phases, 3);
    coll_plan_analytical(&p, t, 0, &r, lb);
    EXPECT_NEAR(link(t, lb, 1, TOPO_NIC_UP), 3e6, 0);
    EXPECT_EQ_I64(r.time_ps, SIM_US(60));
    coll_reducescatter(&p, t, 2, 4e6); /* GPUs 0 and 1: one NVLink step of 2 MB */
    EXPECT_EQ_I64(p.phases, 1);
    coll_plan_analytical(&p, t, 0, &r, lb);
    EXPECT_EQ_I64(r.time_ps, SIM_US(20));
    coll_plan_fini(&p);
    topo_free(t);
}

static void test_row_bytes(void)
{
    EXPECT_NEAR(coll_row_bytes(7168, DTYPE_FP8), 7392, 0); /* DeepEP's FP8 row */
    EXPECT_NEAR(coll_row_bytes(7168, DTYPE_BF16), 14336, 0);
    coll_a2a_algo a;
    EXPECT_EQ_I64(coll_a2a_parse("hierarchical", &a), 0);
    EXPECT_EQ_I64(a, COLL_A2A_HIERARCHICAL);
    EXPECT_EQ_I64(coll_a2a_parse("ring", &a), -1);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(coll_a2a_algo, coll_a2a_name, coll_a2a_parse, COLL_A2A_COUNT);
}

/* The sparse path, which coll_plan_analytical and the executor take,
 * against an independent reference: each phase's transfers as a G x G
 * matrix through net_analytical (every link scanned). The plan's time is
 * the phases' drain + latency + overhead, its link bytes their sum (added
 * to what the accumulator held), the scratch left zero. Plans: a skewed
 * all-to-all-v, direct (one phase) and hierarchical, and a ring all-reduce
 * (six phases). */
static void test_sparse_same(void)
{
    topo_t *t = make_2x2();
    int L = topo_link_count(t), G = topo_gpus(t);
    double bytes[16], acc[64], ref[64], lbp[64], mat[16];
    for (int i = 0; i < 16; i++)
        bytes[i] = 1e5 * (1 + (i * 7) % 5);
    coll_scratch sc;
    coll_scratch_init(&sc, L);
    for (int k = 0; k < 3; k++) {
        coll_plan p = COLL_PLAN_INIT;
        if (k < 2)
            coll_alltoallv(&p, t, k ? COLL_A2A_HIERARCHICAL : COLL_A2A_DIRECT, bytes, NULL);
        else
            coll_allreduce(&p, t, 4, 3e6, COLL_AR_RING);
        sim_time_t want = 0;
        for (int l = 0; l < L; l++)
            ref[l] = acc[l] = 0.5 * l; /* what earlier plans left */
        for (int ph = 0; ph < p.phases; ph++) {
            memset(mat, 0, sizeof(mat));
            for (int i = p.off[ph]; i < p.off[ph + 1]; i++)
                mat[p.src[i] * G + p.dst[i]] += p.bytes[i];
            net_result r;
            net_analytical(t, mat, &r, lbp);
            if (r.total_bytes > 0)
                want += r.drain_ps + r.latency_ps + SIM_US(1);
            for (int l = 0; l < L; l++)
                ref[l] += lbp[l];
        }
        net_result b;
        coll_plan_analytical_add(&p, t, SIM_US(1), &b, acc, &sc);
        EXPECT_EQ_I64(b.time_ps, want);
        for (int l = 0; l < L; l++) {
            EXPECT_NEAR(acc[l], ref[l], 1e-9 * ref[l]);
            EXPECT_NEAR(sc.phase[l], 0, 0);
            EXPECT_NEAR(sc.call[l], 0, 0);
        }
        coll_plan_fini(&p);
    }
    coll_scratch_fini(&sc);
    topo_free(t);
}

void test_collective_register(void)
{
    CU_pSuite s = CU_add_suite("collective", NULL, NULL);
    CU_add_test(s, "all-to-all direct 2x2", test_alltoall_direct);
    CU_add_test(s, "sparse analytical path", test_sparse_same);
    CU_add_test(s, "all-to-all pairwise 2x2", test_alltoall_pairwise);
    CU_add_test(s, "all-to-all hierarchical 2x2", test_alltoall_hierarchical);
    CU_add_test(s, "all-reduce ring 2x2", test_allreduce_ring);
    CU_add_test(s, "all-reduce hierarchical 2x2", test_allreduce_hierarchical);
    CU_add_test(s, "all-gather, reduce-scatter", test_allgather_reducescatter);
    CU_add_test(s, "row bytes, names", test_row_bytes);
    CU_add_test(s, "name tables: every value round-trips, unknown is -1", test_names);
}
