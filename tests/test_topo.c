/*
 * test_topo.c - routes, link kinds, latencies and config checks of the
 * two-level topology, on 2 nodes x 2 GPUs worked out by hand.
 */
#include "moesim/topo.h"

#include <string.h>

#include "test.h"

static topo_t *make_2x2(void)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 450e9,
                     .intra_lat_ps = 1000, .inter_bw_Bps = 50e9, .inter_lat_ps = 5000};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    EXPECT_TRUE(t != NULL);
    return t;
}

static void test_shape(void)
{
    topo_t *t = make_2x2();
    EXPECT_EQ_I64(topo_gpus(t), 4);
    EXPECT_EQ_I64(topo_nodes(t), 2);
    EXPECT_EQ_I64(topo_gpus_per_node(t), 2);
    EXPECT_EQ_I64(topo_node_of(t, 0), 0);
    EXPECT_EQ_I64(topo_node_of(t, 1), 0);
    EXPECT_EQ_I64(topo_node_of(t, 2), 1);
    EXPECT_EQ_I64(topo_node_of(t, 3), 1);
    EXPECT_EQ_I64(topo_link_count(t), 16);
    /* Every GPU owns one link of each kind, with its fabric's bandwidth. */
    for (int g = 0; g < 4; g++)
        for (int k = TOPO_NVLINK_UP; k <= TOPO_NIC_DOWN; k++) {
            int id = topo_link_of(t, g, (topo_link_kind)k);
            const topo_link *l = topo_link_at(t, id);
            EXPECT_EQ_I64(l->kind, k);
            EXPECT_EQ_I64(l->gpu, g);
            EXPECT_NEAR(l->bw_Bps, k <= TOPO_NVLINK_DOWN ? 450e9 : 50e9, 0);
        }
    EXPECT_EQ_I64(topo_link_of(t, 4, TOPO_NIC_UP), -1);
    topo_free(t);
}

static void test_routes(void)
{
    topo_t *t = make_2x2();
    const int *links;
    /* Inside node 0: GPU 0's NVLink up, then GPU 1's NVLink down. */
    EXPECT_EQ_I64(topo_route(t, 0, 1, &links), 2);
    EXPECT_EQ_I64(links[0], topo_link_of(t, 0, TOPO_NVLINK_UP));
    EXPECT_EQ_I64(links[1], topo_link_of(t, 1, TOPO_NVLINK_DOWN));
    /* Across nodes: GPU 1's NIC up, then GPU 2's NIC down. */
    EXPECT_EQ_I64(topo_route(t, 1, 2, &links), 2);
    EXPECT_EQ_I64(topo_link_at(t, links[0])->kind, TOPO_NIC_UP);
    EXPECT_EQ_I64(topo_link_at(t, links[0])->gpu, 1);
    EXPECT_EQ_I64(topo_link_at(t, links[1])->kind, TOPO_NIC_DOWN);
    EXPECT_EQ_I64(topo_link_at(t, links[1])->gpu, 2);
    /* Inside node 1, backwards. */
    EXPECT_EQ_I64(topo_route(t, 3, 2, &links), 2);
    EXPECT_EQ_I64(links[0], topo_link_of(t, 3, TOPO_NVLINK_UP));
    EXPECT_EQ_I64(links[1], topo_link_of(t, 2, TOPO_NVLINK_DOWN));
    /* To itself: no link. */
    EXPECT_EQ_I64(topo_route(t, 2, 2, &links), 0);
    topo_free(t);
}

static void test_latency(void)
{
    topo_t *t = make_2x2();
    EXPECT_EQ_I64(topo_route_latency(t, 0, 1), 1000);
    EXPECT_EQ_I64(topo_route_latency(t, 1, 0), 1000);
    EXPECT_EQ_I64(topo_route_latency(t, 0, 3), 5000);
    EXPECT_EQ_I64(topo_route_latency(t, 3, 0), 5000);
    EXPECT_EQ_I64(topo_route_latency(t, 2, 2), 0);
    /* Charged on the first link only. */
    EXPECT_EQ_I64(topo_link_at(t, topo_link_of(t, 0, TOPO_NIC_UP))->lat_ps, 5000);
    EXPECT_EQ_I64(topo_link_at(t, topo_link_of(t, 0, TOPO_NIC_DOWN))->lat_ps, 0);
    topo_free(t);
}

static void test_names(void)
{
    topo_t *t = make_2x2();
    char buf[64];
    topo_link_name(t, topo_link_of(t, 3, TOPO_NIC_UP), buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "node1.gpu3.nic_up");
    topo_link_name(t, topo_link_of(t, 0, TOPO_NVLINK_DOWN), buf, sizeof(buf));
    EXPECT_TRUE(strcmp(buf, "node0.gpu0.nvlink_down") == 0);
    topo_link_name(t, 0, buf, 6); /* truncated, still terminated */
    EXPECT_TRUE(strcmp(buf, "node0") == 0);
    topo_free(t);
}

static void test_single_gpu(void)
{
    topo_config c = {1, 1, 450e9, 0, 50e9, 0};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    EXPECT_TRUE(t != NULL);
    const int *links;
    EXPECT_EQ_I64(topo_route(t, 0, 0, &links), 0);
    EXPECT_EQ_I64(topo_route_latency(t, 0, 0), 0);
    topo_free(t);
    topo_free(NULL);
}

/* One bad field in an otherwise good config must be refused under its key. */
static void expect_refused(topo_config c, const char *key)
{
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    EXPECT_TRUE(t == NULL);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, key);
    topo_free(t);
}

static void test_bad_config(void)
{
    const topo_config good = {2, 8, 450e9, 3330000, 50e9, 2800000};
    topo_config c = good;
    c.nodes = 0;
    expect_refused(c, "cluster.nodes");
    c = good;
    c.gpus_per_node = -1;
    expect_refused(c, "cluster.gpus_per_node");
    c = good;
    c.nodes = TOPO_MAX_GPUS;
    expect_refused(c, "cluster.nodes");
    c = good;
    c.intra_bw_Bps = 0;
    expect_refused(c, "cluster.intra.bandwidth");
    c = good;
    c.inter_bw_Bps = -1;
    expect_refused(c, "cluster.inter.bandwidth");
    c = good;
    c.inter_bw_Bps = NAN;
    expect_refused(c, "cluster.inter.bandwidth");
    c = good;
    c.intra_lat_ps = -1;
    expect_refused(c, "cluster.intra.latency");
    c = good;
    c.inter_lat_ps = -5;
    expect_refused(c, "cluster.inter.latency");
}

void test_topo_register(void);
void test_topo_register(void)
{
    TEST_SUITE("topo", {"shape and links", test_shape}, {"routes 2x2", test_routes},
               {"latency on first link", test_latency}, {"link names", test_names},
               {"single GPU", test_single_gpu}, {"bad config", test_bad_config});
}
