/* test_layout.c - the rank <-> GPU mapping for several orders (each case
 * computed by hand in its comment), group membership, and the errors. */
#include <string.h>

#include "moesim/layout.h"
#include "test.h"

static void test_ep_groups(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init(&l, 16, 16, 1, 1, 4, 1, &e), 0);
    EXPECT_EQ_I64(l.ep_groups, 4);
    EXPECT_EQ_I64(layout_ep_group(&l, 0), 0);
    EXPECT_EQ_I64(layout_ep_group(&l, 5), 1);
    EXPECT_EQ_I64(layout_ep_rank(&l, 5), 1);
    EXPECT_EQ_I64(layout_ep_group(&l, 15), 3);
    EXPECT_EQ_I64(layout_ep_rank(&l, 15), 3);
    for (int g = 0; g < 16; g++) {
        EXPECT_EQ_I64(layout_gpu(&l, layout_ep_group(&l, g), layout_ep_rank(&l, g)), g);
        /* the general walk agrees with the EP-only shortcut */
        EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_EP, g), g / 4);
        EXPECT_EQ_I64(layout_rank_in(&l, LAYOUT_EP, g), g % 4);
        EXPECT_EQ_I64(layout_member(&l, LAYOUT_EP, g / 4, g % 4), g);
        EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_DP, g), 0);
        EXPECT_EQ_I64(layout_rank_in(&l, LAYOUT_DP, g), g);
    }
}

/* The groups of every kind partition the GPUs, and member/group_of/rank_in
 * agree. */
static void expect_partition(const layout *l)
{
    for (int k = 0; k < LAYOUT_KINDS; k++) {
        int n = layout_groups(l, (layout_kind)k), size = layout_group_size(l, (layout_kind)k);
        EXPECT_EQ_I64(n * size, l->world);
        int seen[64] = {0};
        int gpus[64];
        for (int g = 0; g < n; g++) {
            layout_group_gpus(l, (layout_kind)k, g, gpus);
            for (int r = 0; r < size; r++) {
                EXPECT_TRUE(gpus[r] >= 0 && gpus[r] < l->world);
                seen[gpus[r]]++;
                EXPECT_EQ_I64(layout_group_of(l, (layout_kind)k, gpus[r]), g);
                EXPECT_EQ_I64(layout_rank_in(l, (layout_kind)k, gpus[r]), r);
            }
        }
        for (int g = 0; g < l->world; g++)
            EXPECT_EQ_I64(seen[g], 1);
    }
}

static void expect_group(const layout *l, layout_kind k, int group, const int *want, int n)
{
    int gpus[64];
    EXPECT_EQ_I64(layout_group_size(l, k), n);
    layout_group_gpus(l, k, group, gpus);
    for (int i = 0; i < n; i++)
        EXPECT_EQ_I64(gpus[i], want[i]);
}

/* tp 2, dp 8, ep 4 on 16 GPUs, "tp-ep-dp-pp": TP pairs {0,1}, {2,3}...; DP
 * groups are the GPUs with the same tp coordinate, {0,2,...,14} and
 * {1,3,...,15}; on the expert grid (etp 1, ep 4, edp 4) EP groups are runs of
 * 4, and EDP groups stride 4. */
static void test_tp_ep_dp_pp(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init_order(&l, 16, 8, 2, 1, 4, 1, "tp-ep-dp-pp", &e), 0);
    EXPECT_EQ_I64(l.edp, 4);
    expect_partition(&l);
    expect_group(&l, LAYOUT_TP, 3, (const int[]){6, 7}, 2);
    expect_group(&l, LAYOUT_DP, 1, (const int[]){1, 3, 5, 7, 9, 11, 13, 15}, 8);
    expect_group(&l, LAYOUT_EP, 2, (const int[]){8, 9, 10, 11}, 4);
    expect_group(&l, LAYOUT_EDP, 1, (const int[]){1, 5, 9, 13}, 4);
    EXPECT_EQ_I64(layout_group_size(&l, LAYOUT_ETP), 1);
    EXPECT_EQ_I64(layout_ep_group(&l, 9), 2);
    EXPECT_EQ_I64(layout_ep_rank(&l, 9), 1);
}

/* The same degrees, "tp-dp-ep-pp": EP now varies slowest of the expert grid
 * (etp 1, edp 4, ep 4), so EP group g is {g, g+4, g+8, g+12}: GPU 9 is rank
 * (9 / 4) % 4 = 2 of group 9 % 4 = 1. */
static void test_tp_dp_ep_pp(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init_order(&l, 16, 8, 2, 1, 4, 1, "tp-dp-ep-pp", &e), 0);
    expect_partition(&l);
    expect_group(&l, LAYOUT_EP, 0, (const int[]){0, 4, 8, 12}, 4);
    expect_group(&l, LAYOUT_EP, 1, (const int[]){1, 5, 9, 13}, 4);
    EXPECT_EQ_I64(layout_ep_group(&l, 9), 1);
    EXPECT_EQ_I64(layout_ep_rank(&l, 9), 2);
    EXPECT_EQ_I64(layout_gpu(&l, 1, 2), 9);
    expect_group(&l, LAYOUT_TP, 0, (const int[]){0, 1}, 2); /* tp still innermost */
}

/* tp 2, dp 4, pp 2, ep 2, etp 2 on 16 GPUs, "tp-ep-dp-pp".
 * Dense grid tp 2 | ep 1 | dp 4 | pp 2, strides 1, 2, 2, 8: PP group 3 is
 * {3, 11}; GPU 13 has tp 1, dp 2, pp 1, so its DP group is 1 + 1 x 2 = 3:
 * {9, 11, 13, 15}.
 * Expert grid etp 2 | ep 2 | edp 2 | pp 2, strides 1, 2, 4, 8: GPU 6 has etp 0,
 * ep 1, edp 1, pp 0: EP group 0 + 1 x 2 = 2 is {4, 6}; ETP group 1 + 1 x 2 =
 * 3 is {6, 7}; EDP group 0 + 1 x 2 = 2 is {2, 6}. */
static void test_with_pp_and_etp(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init_order(&l, 16, 4, 2, 2, 2, 2, NULL, &e), 0);
    EXPECT_EQ_I64(l.edp, 2);
    expect_partition(&l);
    expect_group(&l, LAYOUT_PP, 3, (const int[]){3, 11}, 2);
    EXPECT_EQ_I64(layout_rank_in(&l, LAYOUT_PP, 11), 1);
    EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_DP, 13), 3);
    expect_group(&l, LAYOUT_DP, 3, (const int[]){9, 11, 13, 15}, 4);
    EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_EP, 6), 2);
    expect_group(&l, LAYOUT_EP, 2, (const int[]){4, 6}, 2);
    EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_ETP, 6), 3);
    expect_group(&l, LAYOUT_ETP, 3, (const int[]){6, 7}, 2);
    EXPECT_EQ_I64(layout_group_of(&l, LAYOUT_EDP, 6), 2);
    expect_group(&l, LAYOUT_EDP, 2, (const int[]){2, 6}, 2);
    EXPECT_EQ_I64(layout_ep_group(&l, 6), 2); /* the walk, not the shortcut */
    EXPECT_EQ_I64(layout_ep_rank(&l, 6), 1);
    EXPECT_EQ_I64(layout_gpu(&l, 2, 1), 6);
}

/* "ep-tp-dp-pp" with cp: ep innermost of the expert grid, tp of the dense. 8
 * GPUs, tp 2, dp 4, ep 4: expert grid ep 4 | etp 1 | cp 1 | edp 2, so EP
 * groups are {0..3}, {4..7}; dense grid ep 1 | tp 2 | cp 1 | dp 4: TP pairs. */
static void test_ep_first_with_cp(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init_order(&l, 8, 4, 2, 1, 4, 1, "ep-tp-cp-dp-pp", &e), 0);
    expect_partition(&l);
    expect_group(&l, LAYOUT_EP, 1, (const int[]){4, 5, 6, 7}, 4);
    expect_group(&l, LAYOUT_TP, 1, (const int[]){2, 3}, 2);
    expect_group(&l, LAYOUT_EDP, 3, (const int[]){3, 7}, 2);
}

static void test_rejects(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init(&l, 8, 4, 1, 1, 4, 1, &e), -1); /* dp != world */
    EXPECT_STR_CONTAINS(e.msg, "dp 4 x tp 1 x pp 1 = 4 GPUs, but the cluster has 8");
    EXPECT_STR_CONTAINS(e.msg, "dp 8 fits");
    EXPECT_EQ_I64(layout_init(&l, 8, 8, 1, 1, 3, 1, &e), -1); /* ep does not divide dp */
    EXPECT_STR_CONTAINS(e.key, "parallel.ep");
    EXPECT_STR_CONTAINS(e.msg, "1, 2, 4, 8");
    EXPECT_EQ_I64(layout_init(&l, 12, 2, 3, 2, 1, 1, &e), 0);
    EXPECT_EQ_I64(layout_init(&l, 12, 3, 3, 2, 1, 1, &e), -1); /* 18 != 12 */
    EXPECT_STR_CONTAINS(e.key, "parallel.dp");
    EXPECT_EQ_I64(layout_init(&l, 10, 3, 3, 1, 1, 1, &e), -1); /* tp 3 cannot fit 10 */
    EXPECT_STR_CONTAINS(e.key, "parallel.tp");
    EXPECT_STR_CONTAINS(e.msg, "does not divide 10");
    EXPECT_EQ_I64(layout_init(&l, 8, 4, 2, 1, 4, 4, &e), -1); /* ep x etp 16 > dp x tp 8 */
    EXPECT_STR_CONTAINS(e.msg, "ep 4 x etp 4 = 16 does not divide dp 4 x tp 2 = 8");
    EXPECT_EQ_I64(layout_init(&l, 6, 6, 1, 1, 1, 4, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "parallel.etp");
    EXPECT_EQ_I64(layout_init(&l, 8, 8, 1, 1, 0, 1, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "parallel.ep");
    EXPECT_EQ_I64(layout_init(&l, 0, 8, 1, 1, 1, 1, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
}

static void test_bad_orders(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init_order(&l, 8, 8, 1, 1, 8, 1, "tp-ep-dp", &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "lacks pp");
    EXPECT_EQ_I64(layout_init_order(&l, 8, 8, 1, 1, 8, 1, "tp-ep-ep-dp-pp", &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "names ep twice");
    EXPECT_EQ_I64(layout_init_order(&l, 8, 8, 1, 1, 8, 1, "tp-ep-xp-dp-pp", &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "\"xp\" is not a dimension");
    EXPECT_STR_CONTAINS(e.key, "parallel.order");
    /* pp inside tp on one grid only: attention stages stride tp 2, expert
     * stages etp 1 */
    EXPECT_EQ_I64(layout_init_order(&l, 16, 4, 2, 2, 4, 1, "tp-pp-ep-dp", &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "different pipelines");
    /* with etp = tp both grids stride 2 inside pp, and it is consistent */
    EXPECT_EQ_I64(layout_init_order(&l, 16, 4, 2, 2, 2, 2, "tp-pp-ep-dp", &e), 0);
    expect_partition(&l);
    expect_group(&l, LAYOUT_PP, 0, (const int[]){0, 2}, 2);
}

void test_layout_register(void)
{
    TEST_SUITE("layout", {"EP groups", test_ep_groups}, {"tp-ep-dp-pp", test_tp_ep_dp_pp},
               {"tp-dp-ep-pp", test_tp_dp_ep_pp}, {"pp and etp", test_with_pp_and_etp},
               {"ep-tp-cp-dp-pp", test_ep_first_with_cp}, {"rejects", test_rejects},
               {"bad orders", test_bad_orders});
}
