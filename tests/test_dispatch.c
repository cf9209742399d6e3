/* test_dispatch.c - a token's rows on the wire, worked by hand.
 *
 * A group of 4 GPUs on 2 nodes (members 0, 1 on node 0; 2, 3 on node 1). A
 * token of member 0 whose four experts live on members 1, 1, 2, 3 travels
 * once to each of 1, 2, 3 (DeepEP's is_token_in_rank) and once over RDMA to
 * each node; padded, every slot travels. */
#include <string.h>

#include "moesim/dispatch.h"
#include "test.h"

static void test_deepep_rows(void)
{
    double rows[16], node[8];
    int scratch[8];
    const int dst[4] = {1, 1, 2, 3}, run[4] = {0, 0, 1, 1};
    memset(rows, 0, sizeof(rows));
    memset(node, 0, sizeof(node));
    dispatch_token(rows, node, 4, 2, 0, dst, run, 4, 0, 10.0, scratch);
    EXPECT_NEAR(rows[0], 0.0, 0.0);
    EXPECT_NEAR(rows[1], 10.0, 0.0); /* two experts on member 1: one row */
    EXPECT_NEAR(rows[2], 10.0, 0.0);
    EXPECT_NEAR(rows[3], 10.0, 0.0);
    EXPECT_NEAR(node[0], 10.0, 0.0); /* node 0 once, node 1 once for two GPUs */
    EXPECT_NEAR(node[1], 10.0, 0.0);
    for (int i = 4; i < 16; i++) /* only the source's row is touched */
        EXPECT_NEAR(rows[i], 0.0, 0.0);
    /* a second token of member 3 to itself and member 0 */
    const int d2[2] = {3, 0}, r2[2] = {1, 0};
    dispatch_token(rows, node, 4, 2, 3, d2, r2, 2, 0, 1.0, scratch);
    EXPECT_NEAR(rows[15], 1.0, 0.0); /* its own experts: the diagonal, no link */
    EXPECT_NEAR(rows[12], 1.0, 0.0);
    EXPECT_NEAR(node[7], 1.0, 0.0);
    EXPECT_NEAR(node[6], 1.0, 0.0);
}

static void test_padded_rows(void)
{
    double rows[16] = {0}, node[8] = {0};
    int scratch[8];
    const int dst[4] = {1, 1, 2, 3}, run[4] = {0, 0, 1, 1};
    dispatch_token(rows, node, 4, 2, 0, dst, run, 4, 1, 10.0, scratch);
    EXPECT_NEAR(rows[1], 20.0, 0.0); /* every slot up to capacity travels */
    EXPECT_NEAR(rows[2], 10.0, 0.0);
    EXPECT_NEAR(rows[3], 10.0, 0.0);
    EXPECT_NEAR(node[0], 20.0, 0.0);
    EXPECT_NEAR(node[1], 20.0, 0.0);
    dispatch_token(rows, node, 4, 2, 0, dst, run, 0, 0, 10.0, scratch); /* no destination */
    EXPECT_NEAR(rows[1], 20.0, 0.0);
}

void test_dispatch_register(void)
{
    TEST_SUITE("dispatch", {"DeepEP rows", test_deepep_rows}, {"padded", test_padded_rows});
}
