/* test_layout.c - EP groups and the rank <-> GPU mapping. */
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
    for (int g = 0; g < 16; g++)
        EXPECT_EQ_I64(layout_gpu(&l, layout_ep_group(&l, g), layout_ep_rank(&l, g)), g);
}

static void test_rejects(void)
{
    layout l;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(layout_init(&l, 8, 4, 1, 1, 4, 1, &e), -1); /* dp != world */
    EXPECT_STR_CONTAINS(e.msg, "8");
    EXPECT_EQ_I64(layout_init(&l, 8, 8, 1, 1, 3, 1, &e), -1); /* ep does not divide dp */
    EXPECT_STR_CONTAINS(e.key, "parallel.ep");
    EXPECT_EQ_I64(layout_init(&l, 8, 4, 2, 1, 4, 1, &e), -1); /* tp not yet */
    EXPECT_EQ_I64(e.code, ERR_INPUT);
}

void test_layout_register(void)
{
    TEST_SUITE("layout", {"EP groups", test_ep_groups}, {"rejects", test_rejects});
}
