/*
 * test_net.c - the analytical network: per-link bytes, the bottleneck, the
 * latency term, against sums worked out by hand.
 */
#include "moesim/net.h"

#include <stdlib.h>

#include "test.h"

static void test_one_transfer(void)
{
    topo_config c = {.nodes = 1, .gpus_per_node = 2, .intra_bw_Bps = 450e9,
                     .intra_lat_ps = 3000, .inter_bw_Bps = 50e9, .inter_lat_ps = 0};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    double bytes[4] = {0, 900e6, 0, 0};
    net_result r;
    net_analytical(t, bytes, &r, NULL);
    /* 900 MB over 450 GB/s = 2 ms exactly, plus the NVLink latency. */
    EXPECT_EQ_I64(r.drain_ps, 2000000000LL);
    EXPECT_EQ_I64(r.latency_ps, 3000);
    EXPECT_EQ_I64(r.time_ps, 2000003000LL);
    /* GPU 0's up-link and GPU 1's down-link tie: the lower id wins. */
    EXPECT_EQ_I64(r.bottleneck_link, topo_link_of(t, 0, TOPO_NVLINK_UP));
    EXPECT_NEAR(r.bottleneck_bytes, 900e6, 0);
    EXPECT_NEAR(r.total_bytes, 900e6, 0);
    topo_free(t);
}

static topo_t *make_2x2(void)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 100e9,
                     .intra_lat_ps = 1000, .inter_bw_Bps = 50e9, .inter_lat_ps = 4000};
    err_t e = ERR_INIT;
    return topo_new(&c, &e);
}

static void test_alltoall_2x2(void)
{
    topo_t *t = make_2x2();
    /* bytes[s][d] = (1 + 4s + d) MB; the diagonal (999 MB) stays local. */
    double bytes[16];
    for (int s = 0; s < 4; s++)
        for (int d = 0; d < 4; d++)
            bytes[s * 4 + d] = s == d ? 999e6 : 1e6 * (1 + 4 * s + d);
    double lb[16];
    net_result r;
    net_analytical(t, bytes, &r, lb);
    /* NVLink: 0->1 2 MB, 1->0 5, 2->3 12, 3->2 15. */
    EXPECT_NEAR(lb[topo_link_of(t, 0, TOPO_NVLINK_UP)], 2e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 1, TOPO_NVLINK_DOWN)], 2e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 1, TOPO_NVLINK_UP)], 5e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 3, TOPO_NVLINK_UP)], 15e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 2, TOPO_NVLINK_DOWN)], 15e6, 0);
    /* NIC up: GPU 0 sends 3 + 4, 1: 7 + 8, 2: 9 + 10, 3: 13 + 14 MB. */
    EXPECT_NEAR(lb[topo_link_of(t, 0, TOPO_NIC_UP)], 7e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 1, TOPO_NIC_UP)], 15e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 2, TOPO_NIC_UP)], 19e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 3, TOPO_NIC_UP)], 27e6, 0);
    /* NIC down: GPU 0 receives 9 + 13, 1: 10 + 14, 2: 3 + 7, 3: 4 + 8 MB. */
    EXPECT_NEAR(lb[topo_link_of(t, 0, TOPO_NIC_DOWN)], 22e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 1, TOPO_NIC_DOWN)], 24e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 2, TOPO_NIC_DOWN)], 10e6, 0);
    EXPECT_NEAR(lb[topo_link_of(t, 3, TOPO_NIC_DOWN)], 12e6, 0);
    /* The busiest: GPU 3's NIC up, 27 MB at 50 GB/s = 540 us (NVLink's worst,
     * 15 MB at 100 GB/s, takes 150 us); the inter-node latency on top. */
    EXPECT_EQ_I64(r.bottleneck_link, topo_link_of(t, 3, TOPO_NIC_UP));
    EXPECT_NEAR(r.bottleneck_bytes, 27e6, 0);
    EXPECT_EQ_I64(r.drain_ps, 540000000LL);
    EXPECT_EQ_I64(r.latency_ps, 4000);
    EXPECT_EQ_I64(r.time_ps, 540004000LL);
    EXPECT_NEAR(r.total_bytes, 102e6, 0);
    topo_free(t);
}

static void test_latency_only_where_bytes(void)
{
    topo_t *t = make_2x2();
    double bytes[16] = {0};
    bytes[0 * 4 + 1] = 1e6; /* inside node 0 only: the NIC latency is not paid */
    net_result r;
    net_analytical(t, bytes, &r, NULL);
    EXPECT_EQ_I64(r.latency_ps, 1000);
    EXPECT_EQ_I64(r.time_ps, 10000000 + 1000);
    topo_free(t);
}

static void test_self_and_zero(void)
{
    topo_t *t = make_2x2();
    double bytes[16] = {0};
    double lb[16];
    net_result r;
    net_analytical(t, bytes, &r, lb);
    EXPECT_EQ_I64(r.time_ps, 0);
    EXPECT_EQ_I64(r.bottleneck_link, -1);
    EXPECT_NEAR(r.total_bytes, 0, 0);
    for (int s = 0; s < 4; s++)
        bytes[s * 4 + s] = 1e9; /* only self-traffic */
    lb[5] = 123; /* overwritten */
    net_analytical(t, bytes, &r, lb);
    EXPECT_EQ_I64(r.time_ps, 0);
    EXPECT_EQ_I64(r.drain_ps, 0);
    EXPECT_EQ_I64(r.latency_ps, 0);
    EXPECT_EQ_I64(r.bottleneck_link, -1);
    EXPECT_NEAR(r.bottleneck_bytes, 0, 0);
    EXPECT_NEAR(r.total_bytes, 0, 0);
    for (int l = 0; l < 16; l++)
        EXPECT_NEAR(lb[l], 0, 0);
    topo_free(t);
}

static void test_uniform_1024(void)
{
    /* 128 nodes x 8 GPUs, 1 MB between every pair: each NIC carries the 1016
     * MB of the GPUs outside its node, at 50 GB/s = 20.32 ms; every NIC ties,
     * so GPU 0's NIC up (the lowest id) is named. */
    topo_config c = {.nodes = 128, .gpus_per_node = 8, .intra_bw_Bps = 450e9,
                     .intra_lat_ps = 3330000, .inter_bw_Bps = 50e9, .inter_lat_ps = 3700000};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    int G = topo_gpus(t);
    double *bytes = xcalloc((size_t)G * G, sizeof(*bytes), "test bytes");
    for (int s = 0; s < G; s++)
        for (int d = 0; d < G; d++)
            bytes[(size_t)s * G + d] = s == d ? 0 : 1e6;
    net_result r;
    net_analytical(t, bytes, &r, NULL);
    EXPECT_EQ_I64(r.bottleneck_link, topo_link_of(t, 0, TOPO_NIC_UP));
    EXPECT_EQ_I64(r.drain_ps, 20320000000LL);
    EXPECT_EQ_I64(r.latency_ps, 3700000);
    EXPECT_NEAR(r.total_bytes, 1024.0 * 1023 * 1e6, 0);
    free(bytes);
    topo_free(t);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(net_model, net_model_name, net_model_parse, NET_MODEL_COUNT);
}

/* Issue 16: "1 B/s" and "9000000 s" links gave drains and latency sums
 * past 2^63 ps that wrapped; they saturate at SIM_TIME_MAX. */
static void test_beyond_the_clock_saturates(void)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 1,
                     .intra_lat_ps = 1000, .inter_bw_Bps = 50e9, .inter_lat_ps = 4000};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    double bytes[16] = {0};
    bytes[1] = 1e8; /* GPU 0 -> 1 over NVLink at 1 B/s: 1e20 ps */
    net_result r;
    net_analytical(t, bytes, &r, NULL);
    EXPECT_EQ_I64(r.drain_ps, SIM_TIME_MAX);
    EXPECT_EQ_I64(r.time_ps, SIM_TIME_MAX);
    int src[1] = {0}, dst[1] = {1};
    double b1[1] = {1e8};
    net_analytical_list(t, 1, src, dst, b1, SIM_TIME_MAX, &r, NULL);
    EXPECT_EQ_I64(r.latency_ps, SIM_TIME_MAX);
    EXPECT_EQ_I64(r.time_ps, SIM_TIME_MAX);
    topo_free(t);

    /* a latency of 9e18 ps and as much overhead are past the clock */
    c.intra_bw_Bps = 100e9;
    c.intra_lat_ps = INT64_C(9000000000000000000);
    t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    net_analytical(t, bytes, &r, NULL);
    EXPECT_EQ_I64(r.latency_ps, INT64_C(9000000000000000000));
    net_analytical_list(t, 1, src, dst, b1, INT64_C(9000000000000000000), &r, NULL);
    EXPECT_EQ_I64(r.latency_ps, SIM_TIME_MAX);
    EXPECT_EQ_I64(r.time_ps, SIM_TIME_MAX);
    topo_free(t);
}

void test_net_register(void);
void test_net_register(void)
{
    TEST_SUITE("net", {"one transfer", test_one_transfer}, {"all-to-all 2x2", test_alltoall_2x2},
               {"latency only where bytes", test_latency_only_where_bytes},
               {"self and zero traffic", test_self_and_zero},
               {"uniform 1024 GPUs", test_uniform_1024},
               {"name tables: every value round-trips, unknown is -1", test_names},
               {"times beyond the clock saturate (issue 16)", test_beyond_the_clock_saturates});
}
