/* test_cli.c - the scenario of a command line: the built-in default says it
 * is built in, and takes --set overrides like a file. */
#include <string.h>

#include "moesim/cli.h"
#include "test.h"

static void test_default(void)
{
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    const char *sets[] = {"model.top_k=1"};
    EXPECT_EQ_I64(cli_load(NULL, sets, 1, &s, &e), 0);
    EXPECT_STR_CONTAINS(s.file, "mixtral-8x7b-h100x8.cfg (built-in)");
    EXPECT_EQ_I64(s.model.top_k, 1);
    scenario_fini(&s);
    memset(&s, 0, sizeof(s));
    EXPECT_EQ_I64(cli_load("/nonexistent/x.cfg", NULL, 0, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    scenario_fini(&s);
}

void test_cli_register(void)
{
    TEST_SUITE("cli", {"the built-in default", test_default});
}
