/* test_placement.c - every expert placed once, slot counts respected. */
#include "moesim/placement.h"
#include "test.h"

static void test_contiguous(void)
{
    placement p = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&p, 8, 4, &e), 0);
    EXPECT_EQ_I64(p.slots_per_rank, 2);
    int per_rank[4] = {0};
    for (int x = 0; x < 8; x++) {
        EXPECT_EQ_I64(placement_rank_of(&p, x), x / 2);
        EXPECT_EQ_I64(p.replicas[x], 1);
        per_rank[placement_rank_of(&p, x)]++;
    }
    for (int r = 0; r < 4; r++)
        EXPECT_EQ_I64(per_rank[r], 2);
    placement_fini(&p);
    placement_fini(&p); /* idempotent */
}

static void test_uneven_rejected(void)
{
    placement p = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&p, 10, 4, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    placement_fini(&p);
}

void test_placement_register(void)
{
    TEST_SUITE("placement", {"contiguous", test_contiguous},
               {"uneven split rejected", test_uneven_rejected});
}
