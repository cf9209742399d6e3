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
    int links[TOPO_MAX_HOPS];
    /* Inside node 0: GPU 0's NVLink up, then GPU 1's NVLink down. */
    EXPECT_EQ_I64(topo_route(t, 0, 1, links), 2);
    EXPECT_EQ_I64(links[0], topo_link_of(t, 0, TOPO_NVLINK_UP));
    EXPECT_EQ_I64(links[1], topo_link_of(t, 1, TOPO_NVLINK_DOWN));
    /* Across nodes: GPU 1's NIC up, then GPU 2's NIC down. */
    EXPECT_EQ_I64(topo_route(t, 1, 2, links), 2);
    EXPECT_EQ_I64(topo_link_at(t, links[0])->kind, TOPO_NIC_UP);
    EXPECT_EQ_I64(topo_link_at(t, links[0])->gpu, 1);
    EXPECT_EQ_I64(topo_link_at(t, links[1])->kind, TOPO_NIC_DOWN);
    EXPECT_EQ_I64(topo_link_at(t, links[1])->gpu, 2);
    /* Inside node 1, backwards. */
    EXPECT_EQ_I64(topo_route(t, 3, 2, links), 2);
    EXPECT_EQ_I64(links[0], topo_link_of(t, 3, TOPO_NVLINK_UP));
    EXPECT_EQ_I64(links[1], topo_link_of(t, 2, TOPO_NVLINK_DOWN));
    /* To itself: no link. */
    EXPECT_EQ_I64(topo_route(t, 2, 2, links), 0);
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
    topo_config c = {.nodes = 1, .gpus_per_node = 1, .intra_bw_Bps = 450e9, .inter_bw_Bps = 50e9};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    EXPECT_TRUE(t != NULL);
    int links[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 0, 0, links), 0);
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
    const topo_config good = {.nodes = 2, .gpus_per_node = 8, .intra_bw_Bps = 450e9,
                             .intra_lat_ps = 3330000, .inter_bw_Bps = 50e9,
                             .inter_lat_ps = 2800000};
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

/* 2 nodes x 4 GPUs with a shape applied; intra 120 GB/s, NIC 50 GB/s. */
static topo_t *make_2x4(topo_config c)
{
    c.nodes = 2;
    c.gpus_per_node = 4;
    c.intra_bw_Bps = 120e9;
    c.intra_lat_ps = 1000;
    c.inter_bw_Bps = 50e9;
    c.inter_lat_ps = 5000;
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

static int hop_kind(const topo_t *t, const int *links, int h)
{
    return (int)topo_link_at(t, links[h])->kind;
}

/* PCIe, two GPUs a switch: 0->1 stays under switch 0; 0->2 climbs to the
 * root through switch 0's uplink and down switch 1's, which GPUs 2 and 3
 * share. */
static void test_pcie_routes(void)
{
    topo_t *t = make_2x4((topo_config){.intra = TOPO_INTRA_PCIE, .gpus_per_switch = 2});
    int l[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 0, 1, l), 2);
    EXPECT_EQ_I64(hop_kind(t, l, 0), TOPO_PCIE_UP);
    EXPECT_EQ_I64(hop_kind(t, l, 1), TOPO_PCIE_DOWN);
    EXPECT_EQ_I64(topo_route(t, 0, 2, l), 4);
    EXPECT_EQ_I64(hop_kind(t, l, 1), TOPO_ROOT_UP);
    EXPECT_EQ_I64(hop_kind(t, l, 2), TOPO_ROOT_DOWN);
    EXPECT_EQ_I64(topo_link_at(t, l[1])->aux, 0);
    EXPECT_EQ_I64(topo_link_at(t, l[2])->aux, 1);
    int l2[TOPO_MAX_HOPS];
    topo_route(t, 1, 3, l2); /* the same two uplinks: shared */
    EXPECT_EQ_I64(l2[1], l[1]);
    EXPECT_EQ_I64(l2[2], l[2]);
    EXPECT_EQ_I64(topo_route_latency(t, 0, 2), 1000);
    EXPECT_EQ_I64(topo_link_count(t), 8 * 4 + 2 * 2 * 2);
    topo_free(t);
}

/* NVLink mesh: one direct link per ordered pair, a third of the GPU's 120
 * GB/s each (3 peers). */
static void test_mesh_routes(void)
{
    topo_t *t = make_2x4((topo_config){.intra = TOPO_INTRA_NVLINK_MESH});
    int l[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 0, 3, l), 1);
    const topo_link *k = topo_link_at(t, l[0]);
    EXPECT_EQ_I64(k->kind, TOPO_MESH);
    EXPECT_EQ_I64(k->gpu, 0);
    EXPECT_EQ_I64(k->aux, 3);
    EXPECT_NEAR(k->bw_Bps, 40e9, 1e-3);
    EXPECT_EQ_I64(topo_route(t, 6, 5, l), 1);
    EXPECT_EQ_I64(topo_link_at(t, l[0])->gpu, 6);
    EXPECT_EQ_I64(topo_link_at(t, l[0])->aux, 5);
    char name[64];
    topo_link_name(t, l[0], name, sizeof(name));
    EXPECT_STR_CONTAINS(name, "node1.gpu6.mesh_to_gpu5");
    topo_free(t);
}

/* Two NICs for four GPUs: GPUs 0, 1 use GPU 0's NIC, 2, 3 GPU 2's. */
static void test_shared_nics(void)
{
    topo_t *t = make_2x4((topo_config){.nics_per_node = 2});
    int l[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 1, 7, l), 2);
    EXPECT_EQ_I64(l[0], topo_link_of(t, 0, TOPO_NIC_UP));
    EXPECT_EQ_I64(l[1], topo_link_of(t, 6, TOPO_NIC_DOWN));
    EXPECT_EQ_I64(topo_link_of(t, 1, TOPO_NIC_UP), topo_link_of(t, 0, TOPO_NIC_UP));
    EXPECT_EQ_I64(topo_link_at(t, l[1])->gpu, 6);
    topo_free(t);
}

/* Fat tree, one node a leaf, 2 spines, oversubscription 2: a leaf's 4 NICs
 * (200 GB/s) get 100 GB/s up, 50 GB/s per spine; crossing adds the spine
 * latency. Routes are the same in every build (deterministic ECMP). */
static void test_fat_tree(void)
{
    topo_config c = {.fabric = TOPO_FABRIC_FAT_TREE, .nodes_per_leaf = 1, .spines = 2,
                     .oversubscription = 2, .spine_lat_ps = 900};
    topo_t *t = make_2x4(c), *u = make_2x4(c);
    int l[TOPO_MAX_HOPS], m[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 0, 4, l), 4);
    EXPECT_EQ_I64(hop_kind(t, l, 1), TOPO_SPINE_UP);
    EXPECT_EQ_I64(hop_kind(t, l, 2), TOPO_SPINE_DOWN);
    EXPECT_EQ_I64(topo_link_at(t, l[1])->gpu, 0); /* leaf 0 */
    EXPECT_EQ_I64(topo_link_at(t, l[2])->gpu, 1); /* leaf 1 */
    EXPECT_EQ_I64(topo_link_at(t, l[1])->aux, topo_link_at(t, l[2])->aux); /* one spine */
    EXPECT_NEAR(topo_link_at(t, l[1])->bw_Bps, 50e9, 1e-3);
    EXPECT_EQ_I64(topo_route_latency(t, 0, 4), 5000 + 900);
    /* both spines are used by some pair, and u routes exactly as t */
    int used[2] = {0, 0};
    for (int s = 0; s < 4; s++)
        for (int d = 4; d < 8; d++) {
            topo_route(t, s, d, l);
            topo_route(u, s, d, m);
            used[topo_link_at(t, l[1])->aux] = 1;
            EXPECT_EQ_I64(l[1], m[1]);
        }
    EXPECT_TRUE(used[0] && used[1]);
    topo_free(t);
    topo_free(u);
}

/* Rail-optimised: NIC i of every node on leaf i; same rail: no spine. */
static void test_rail(void)
{
    topo_t *t = make_2x4((topo_config){.fabric = TOPO_FABRIC_RAIL, .spines = 1});
    int l[TOPO_MAX_HOPS];
    EXPECT_EQ_I64(topo_route(t, 1, 5, l), 2);
    EXPECT_EQ_I64(topo_route(t, 1, 6, l), 4);
    EXPECT_EQ_I64(topo_link_at(t, l[1])->gpu, 1); /* leaf of rail 1 */
    EXPECT_EQ_I64(topo_link_at(t, l[2])->gpu, 2); /* leaf of rail 2 */
    /* a rail leaf holds one NIC of each of the 2 nodes: 100 GB/s to the spine */
    EXPECT_NEAR(topo_link_at(t, l[1])->bw_Bps, 100e9, 1e-3);
    char name[64];
    topo_link_name(t, l[1], name, sizeof(name));
    EXPECT_STR_CONTAINS(name, "leaf1.spine0.spine_up");
    topo_free(t);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_name_tables(void)
{
    EXPECT_NAME_TABLE(topo_intra, topo_intra_name, topo_intra_parse, TOPO_INTRA_COUNT);
    EXPECT_NAME_TABLE(topo_fabric, topo_fabric_name, topo_fabric_parse, TOPO_FABRIC_COUNT);
    EXPECT_NAME_TABLE(topo_inter, topo_inter_name, topo_inter_parse, TOPO_INTER_COUNT);
}

void test_topo_register(void);
void test_topo_register(void)
{
    TEST_SUITE("topo", {"shape and links", test_shape}, {"routes 2x2", test_routes},
               {"latency on first link", test_latency}, {"link names", test_names},
               {"single GPU", test_single_gpu}, {"bad config", test_bad_config},
               {"pcie routes", test_pcie_routes}, {"nvlink mesh routes", test_mesh_routes},
               {"shared NICs", test_shared_nics}, {"fat tree, ECMP", test_fat_tree},
               {"rail-optimised", test_rail},
               {"name tables: every value round-trips, unknown is -1", test_name_tables});
}
