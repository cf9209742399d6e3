/* test_sweep.c - the sweep plan: --vary parsing and the variants' order.
 *
 * The pool test forks a few children that run no simulation (the e2e
 * checks in tests/e2e/compare.sh run real ones). */
#include <stdlib.h>
#include <string.h>

#include "moesim/sweep.h"
#include "test.h"

/* Exact string equality; a failure prints both strings whole. */
static void expect_str_eq(const char *a, const char *b, const char *what, int line)
{
    size_t n = strlen(what) + (a ? strlen(a) : 6) + strlen(b) + 32;
    char *m = malloc(n);
    if (m)
        snprintf(m, n, "%s:\n\"%s\"\n!=\n\"%s\"", what, a ? a : "(null)", b);
    CU_assertImplementation(a && strcmp(a, b) == 0, line, m ? m : what, __FILE__, "",
                            CU_FALSE);
    free(m);
}
#define EXPECT_STR_EQ(a, b) expect_str_eq((a), (b), #a, __LINE__)

/* Adds a spec that must parse. */
static void add_ok(sweep_plan *p, const char *spec)
{
    err_t e = ERR_INIT;
    int rc = sweep_plan_add(p, spec, &e);
    char m[1024];
    snprintf(m, sizeof(m), "sweep_plan_add(\"%s\") failed: %s", spec, e.msg);
    CU_assertImplementation(rc == 0, __LINE__, m, __FILE__, "", CU_FALSE);
}

static void test_parse(void)
{
    sweep_plan p = SWEEP_PLAN_INIT;
    add_ok(&p, "parallel.ep=4,8,16");
    EXPECT_EQ_I64(p.nvary, 1);
    EXPECT_EQ_I64(p.variants, 3);
    EXPECT_STR_EQ(p.vary[0].key, "parallel.ep");
    EXPECT_EQ_I64(p.vary[0].nvalues, 3);
    EXPECT_STR_EQ(p.vary[0].value[0], "4");
    EXPECT_STR_EQ(p.vary[0].value[2], "16");
    EXPECT_STR_EQ(p.vary[0].assign[1], "parallel.ep=8");

    /* blanks around the key and the values go; blanks inside stay */
    add_ok(&p, " model.router.kind = softmax_topk , \"topk softmax\" ");
    EXPECT_STR_EQ(p.vary[1].key, "model.router.kind");
    EXPECT_EQ_I64(p.vary[1].nvalues, 2);
    EXPECT_STR_EQ(p.vary[1].value[0], "softmax_topk");
    EXPECT_STR_EQ(p.vary[1].value[1], "\"topk softmax\"");
    EXPECT_STR_EQ(p.vary[1].assign[0], "model.router.kind=softmax_topk");
    EXPECT_EQ_I64(p.variants, 6);

    /* commas inside quotes, arrays, groups and lists do not split */
    add_ok(&p, "x.y=[1,2],{a=1;b=(3,4)},\"a,b\",\"q\\\",r\",7");
    EXPECT_EQ_I64(p.vary[2].nvalues, 5);
    EXPECT_STR_EQ(p.vary[2].value[0], "[1,2]");
    EXPECT_STR_EQ(p.vary[2].value[1], "{a=1;b=(3,4)}");
    EXPECT_STR_EQ(p.vary[2].value[2], "\"a,b\"");
    EXPECT_STR_EQ(p.vary[2].value[3], "\"q\\\",r\"");
    EXPECT_STR_EQ(p.vary[2].value[4], "7");
    EXPECT_EQ_I64(p.variants, 30);

    /* a value may itself hold '=' (only the first one ends the key) */
    add_ok(&p, "seed=1");
    EXPECT_EQ_I64(p.vary[3].nvalues, 1);
    EXPECT_EQ_I64(p.variants, 30);

    sweep_plan_fini(&p);
    EXPECT_EQ_I64(p.nvary, 0);
    EXPECT_EQ_I64(p.variants, 1);
    sweep_plan_fini(&p); /* twice is harmless */
}

/* spec must be refused with exactly `want` (err_format's text), leaving the
 * plan as it was. */
static void expect_refused(sweep_plan *p, const char *spec, const char *want, int line)
{
    int nvary = p->nvary;
    long variants = p->variants;
    err_t e = ERR_INIT;
    char got[1400], m[3000];
    int rc = sweep_plan_add(p, spec, &e);
    err_format(&e, got, sizeof(got));
    snprintf(m, sizeof(m), "--vary %s: rc %d, code %d, message\n\"%s\", wanted\n\"%s\"", spec,
             rc, (int)e.code, got, want);
    CU_assertImplementation(rc == -1 && e.code == ERR_INPUT && strcmp(got, want) == 0, line,
                            m, __FILE__, "", CU_FALSE);
    EXPECT_EQ_I64(p->nvary, nvary);
    EXPECT_EQ_I64(p->variants, variants);
}

static void test_bad_specs(void)
{
    sweep_plan p = SWEEP_PLAN_INIT;
    expect_refused(&p, "parallel.ep",
                   "--vary: \"parallel.ep\" has no '='; expected KEY=V1,V2,... such as "
                   "parallel.ep=4,8",
                   __LINE__);
    expect_refused(&p, " =4,8",
                   "--vary: \" =4,8\" names no key; expected KEY=V1,V2,... such as "
                   "parallel.ep=4,8",
                   __LINE__);
    expect_refused(&p, "parallel.ep= ",
                   "--vary: parallel.ep= lists no values; expected at least one value after "
                   "'=', such as parallel.ep=V1,V2",
                   __LINE__);
    expect_refused(&p, "parallel.ep=4,,8",
                   "--vary: parallel.ep=4,,8: value 2 of 3 is empty; allowed: values "
                   "separated by single commas, such as parallel.ep=V1,V2",
                   __LINE__);
    expect_refused(&p, "parallel.ep=4,8,",
                   "--vary: parallel.ep=4,8,: value 3 of 3 is empty; allowed: values "
                   "separated by single commas, such as parallel.ep=V1,V2",
                   __LINE__);
    expect_refused(&p, "parallel.ep=4, 8,4",
                   "--vary: parallel.ep: the value 4 is listed twice; allowed: each value "
                   "once",
                   __LINE__);

    add_ok(&p, "parallel.ep=4,8");
    expect_refused(&p, " parallel.ep =16",
                   "--vary: parallel.ep is varied twice (--vary 1 and 2); allowed: each key "
                   "in one --vary, with all its values: parallel.ep=V1,V2,...",
                   __LINE__);

    /* 2 x 5000 variants fit; one more value does not */
    char *big = malloc(6 * 5001 + 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    size_t k = (size_t)sprintf(big, "seed=");
    for (int i = 1; i <= 5001; i++)
        k += (size_t)sprintf(big + k, i > 1 ? ",%d" : "%d", i);
    expect_refused(&p, big,
                   "--vary: seed: 5001 values make 10002 variants; allowed: at most 10000 in "
                   "all (the product of the --vary value counts)",
                   __LINE__);
    big[strlen(big) - 5] = '\0'; /* drop ",5001" */
    add_ok(&p, big);
    EXPECT_EQ_I64(p.variants, 10000);
    free(big);
    sweep_plan_fini(&p);

    /* at most SWEEP_MAX_VARY keys */
    char spec[32];
    for (int i = 0; i < SWEEP_MAX_VARY; i++) {
        snprintf(spec, sizeof(spec), "k%d=1", i);
        add_ok(&p, spec);
    }
    expect_refused(&p, "one.more=1",
                   "--vary: one.more: more than 16 --vary options; allowed: at most 16 varied "
                   "keys",
                   __LINE__);
    sweep_plan_fini(&p);
}

static void test_order(void)
{
    sweep_plan p = SWEEP_PLAN_INIT;
    add_ok(&p, "a=1,2");
    add_ok(&p, "b=x,y,z");
    add_ok(&p, "c=p,q");
    EXPECT_EQ_I64(p.variants, 12);
    /* nested loops: a slowest, c fastest */
    static const char *const want[12] = {
        "a=1, b=x, c=p", "a=1, b=x, c=q", "a=1, b=y, c=p", "a=1, b=y, c=q",
        "a=1, b=z, c=p", "a=1, b=z, c=q", "a=2, b=x, c=p", "a=2, b=x, c=q",
        "a=2, b=y, c=p", "a=2, b=y, c=q", "a=2, b=z, c=p", "a=2, b=z, c=q"};
    char label[128];
    for (long v = 0; v < 12; v++)
        EXPECT_STR_EQ(sweep_plan_label(&p, v, label, sizeof(label)), want[v]);

    int choice[3];
    sweep_plan_choice(&p, 3, choice); /* 3 = 0*6 + 1*2 + 1 */
    EXPECT_EQ_I64(choice[0], 0);
    EXPECT_EQ_I64(choice[1], 1);
    EXPECT_EQ_I64(choice[2], 1);
    const char *sets[3];
    sweep_plan_sets(&p, 8, sets); /* 8 = 1*6 + 1*2 + 0 */
    EXPECT_STR_EQ(sets[0], "a=2");
    EXPECT_STR_EQ(sets[1], "b=y");
    EXPECT_STR_EQ(sets[2], "c=p");

    /* a short buffer truncates, terminated */
    EXPECT_STR_EQ(sweep_plan_label(&p, 11, label, 6), "a=2, ");
    sweep_plan_fini(&p);
}

/* Two hand-made records: two ranks of a capacity-factor sweep. */
/* A variant function: the square of the index, and odd ones fail with a
 * message naming them (issue 10: a failing variant is a row, not the end). */
static int square(void *ctx, long index, void *record, err_t *e)
{
    int64_t *r = record;
    EXPECT_TRUE(ctx == NULL);
    if (index % 2)
        return err_set(e, ERR_INPUT, "v.cfg", 3, "k", "variant %ld refused", index);
    *r = (int64_t)(index * index);
    return 0;
}

static void test_pool(void)
{
    enum { N = 7 };
    int64_t rec[N];
    sweep_status st[N];
    for (long jobs = 1; jobs <= 3; jobs += 2) {
        sweep_config c = {.backend = SWEEP_FORK, .variants = N, .jobs = jobs,
                          .record_size = sizeof(rec[0]), .run = square};
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(sweep_run(&c, rec, st, &e), 0);
        for (long v = 0; v < N; v++) {
            EXPECT_EQ_I64(st[v].code, v % 2 ? ERR_INPUT : ERR_OK);
            EXPECT_EQ_I64(rec[v], v % 2 ? 0 : v * v);
        }
        EXPECT_STR_EQ(st[3].error, "v.cfg:3: k: variant 3 refused");
        EXPECT_STR_EQ(st[2].error, "");
    }
}

static int stop_now(void)
{
    return 1;
}

static void test_stop(void)
{
    int64_t rec[3];
    sweep_status st[3];
    sweep_config c = {.backend = SWEEP_FORK, .variants = 3, .jobs = 2,
                      .record_size = sizeof(rec[0]), .run = square, .stop = stop_now};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(sweep_run(&c, rec, st, &e), -1);
    EXPECT_STR_EQ(e.msg, "stopped");
    EXPECT_EQ_I64(st[0].code, -1); /* never ran */
}

void test_sweep_register(void)
{
    TEST_SUITE("sweep", {"parse --vary", test_parse}, {"bad --vary specs", test_bad_specs},
               {"variant order", test_order}, {"pool: failures are rows", test_pool},
               {"pool: stop", test_stop});
}
