/*
 * test_base.c - what every module shares: the enum name-table helpers and
 * the dtype table.
 */
#include "moesim/base.h"

#include <string.h>

#include "test.h"

static const char *const colours[3] = {"red", "green", "blue"};

static void test_enum_helpers(void)
{
    EXPECT_TRUE(strcmp(enum_name(colours, 3, 0), "red") == 0);
    EXPECT_TRUE(strcmp(enum_name(colours, 3, 2), "blue") == 0);
    EXPECT_TRUE(strcmp(enum_name(colours, 3, 3), "?") == 0); /* one past: no read */
    EXPECT_TRUE(strcmp(enum_name(colours, 3, -1), "?") == 0);
    EXPECT_EQ_I64(enum_find(colours, 3, "green"), 1);
    EXPECT_EQ_I64(enum_find(colours, 3, "Green"), -1); /* names are exact */
    EXPECT_EQ_I64(enum_find(colours, 3, "gree"), -1);
    EXPECT_EQ_I64(enum_find(colours, 3, NULL), -1);
    EXPECT_EQ_I64(enum_find(colours, 0, "red"), -1);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(dtype_t, dtype_name, dtype_parse, DTYPE_COUNT);
    EXPECT_EQ_I64(dtype_bytes(DTYPE_COUNT), 0);
}

void test_base_register(void)
{
    TEST_SUITE("base", {"enum_name and enum_find", test_enum_helpers},
               {"name tables: every value round-trips, unknown is -1", test_names});
}
