/* test_place.c - the load table reader of `moesim place`: headers, blanks,
 * and errors that name file:line and what is wrong. */
#include <stdlib.h>
#include <string.h>

#include "moesim/place.h"
#include "test.h"

/* Reads `text` as a CSV named "t.csv"; returns read_loads' result. */
static int read_text(const char *text, double **loads, int *layers, int *experts, err_t *e)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int rc = place_read_loads(f, "t.csv", loads, layers, experts, e);
    fclose(f);
    return rc;
}

static void test_reads(void)
{
    double *x;
    int l, n;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(read_text("e0,e1,e2\n1,2,3\n\n 4 , 5.5 ,6\r\n", &x, &l, &n, &e), 0);
    EXPECT_EQ_I64(l, 2);
    EXPECT_EQ_I64(n, 3);
    EXPECT_NEAR(x[0], 1, 0);
    EXPECT_NEAR(x[4], 5.5, 0);
    EXPECT_NEAR(x[5], 6, 0);
    free(x);
    /* no header, no final newline */
    EXPECT_EQ_I64(read_text("90,132,40,61\n20,107,104,64", &x, &l, &n, &e), 0);
    EXPECT_EQ_I64(l, 2);
    EXPECT_EQ_I64(n, 4);
    EXPECT_NEAR(x[7], 64, 0);
    free(x);
}

static void expect_error(const char *text, int line, const char *msg)
{
    double *x = (double *)1;
    int l, n;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(read_text(text, &x, &l, &n, &e), -1);
    EXPECT_TRUE(x == NULL);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.file, "t.csv");
    EXPECT_EQ_I64(e.line, line);
    EXPECT_STR_CONTAINS(e.msg, msg);
}

static void test_errors(void)
{
    expect_error("1,2,3\n4,5\n", 2, "2 values, but the first row has 3");
    expect_error("a,b\n4,5,6\n", 2, "the header (line 1) names 2 columns");
    expect_error("1,2,3\n4,x,6\n", 2, "column 2: \"x\" is not a number");
    expect_error("1,2,3\n4,,6\n", 2, "column 2: \"\" is not a number");
    expect_error("1,2,3\n\n4,-1,6\n", 3, "column 2: -1 is not a load");
    expect_error("1,nan,3\n", 1, "column 2: nan is not a load");
    expect_error("1,2,inf\n", 1, "column 3: inf is not a load");
    expect_error("expert0,expert1\n", 0, "no rows of loads");
    expect_error("", 0, "no rows of loads");
}

void test_place_register(void)
{
    TEST_SUITE("place", {"reads a table", test_reads}, {"errors", test_errors});
}
