/* test_cmd.c - the command layer's printers and its signal flag (issue 16:
 * the handler only records the signal; the exit status is 128 + N). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "moesim/cmd.h"
#include "test.h"

static void test_print_err(void)
{
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    err_t e = ERR_INIT;
    err_set(&e, ERR_INPUT, "a.cfg", 3, "model.top_k", "9 is too many");
    EXPECT_EQ_I64(cmd_print_err(f, "moesim x", &e), ERR_INPUT);
    err_t none = ERR_INIT; /* an error with no code is a failed run */
    EXPECT_EQ_I64(cmd_print_err(f, NULL, &none), ERR_RUN);
    char buf[256] = "";
    rewind(f);
    EXPECT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
    EXPECT_STR_CONTAINS(buf, "moesim x: a.cfg:3: model.top_k: 9 is too many\n");
    fclose(f);
    EXPECT_EQ_I64(cmd_help("frobnicate"), ERR_INPUT);
}

static void test_signal_flag(void)
{
    EXPECT_EQ_I64(cmd_signal(), 0);
    EXPECT_EQ_I64(cmd_signal_status(), 0);
    cmd_signals_install();
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    if (now.sa_handler != SIG_IGN) { /* ignored on entry stays ignored */
        raise(SIGTERM);            /* the handler records it; nothing dies */
        EXPECT_EQ_I64(cmd_signal(), SIGTERM);
        EXPECT_EQ_I64(cmd_signal_status(), 143);
        raise(SIGINT); /* the first signal is the one reported */
        EXPECT_EQ_I64(cmd_signal_status(), 143);
    }
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

void test_cmd_register(void)
{
    TEST_SUITE("cmd", {"printers", test_print_err}, {"signal flag", test_signal_flag});
}
