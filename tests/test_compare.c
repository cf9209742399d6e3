/* test_compare.c - compare's rows, JSON and CSV (the plan: test_sweep.c).
 *
 * Only the pure parts: nothing here forks or runs a simulation (the e2e
 * checks in tests/e2e/compare.sh do), so the suite is valgrind-clean. */
#include <stdlib.h>
#include <string.h>

#include "moesim/compare.h"
#include "moesim/metrics.h"
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
static void add_ok(compare_plan *p, const char *spec)
{
    err_t e = ERR_INIT;
    int rc = sweep_plan_add(p, spec, &e);
    char m[1024];
    snprintf(m, sizeof(m), "sweep_plan_add(\"%s\") failed: %s", spec, e.msg);
    CU_assertImplementation(rc == 0, __LINE__, m, __FILE__, "", CU_FALSE);
}

static void sample(compare_plan *p, compare_result r[2])
{
    add_ok(p, "model.router.capacity_factor=1.0,2.0");
    memset(r, 0, 2 * sizeof(*r));
    r[0] = (compare_result){.dropped_share = 0.125, .gpu_load_max_over_mean = 1.25,
                            .internode_byte_share = 0.5, .dispatch_p50_s = 20e-6,
                            .dispatch_p99_s = 31.5e-6, .combine_p50_s = 19e-6,
                            .combine_p99_s = 1.5e-3, .step_p50_s = 0.182,
                            .throughput_tokens_per_s = 179900,
                            .sim_time_ps = INT64_C(729000000000)};
    r[1] = r[0];
    r[1].dropped_share = 0.015;
    r[1].gpu_load_max_over_mean = 1.5;
    r[1].internode_byte_share = 0;
    r[1].throughput_tokens_per_s = 2.5e6;
    r[1].sim_time_ps = 1;
    compare_ratios(r, 2);
}

static void test_ratios(void)
{
    compare_result r[3];
    memset(r, 0, sizeof(r));
    r[0].throughput_tokens_per_s = 200;
    r[1].throughput_tokens_per_s = 100;
    r[2].throughput_tokens_per_s = 300;
    compare_ratios(r, 3);
    EXPECT_NEAR(r[0].throughput_ratio, 1.0, 0);
    EXPECT_NEAR(r[1].throughput_ratio, 0.5, 0);
    EXPECT_NEAR(r[2].throughput_ratio, 1.5, 0);
    r[0].throughput_tokens_per_s = 0; /* nothing to divide by */
    compare_ratios(r, 3);
    EXPECT_NEAR(r[2].throughput_ratio, 0, 0);
}

static void test_row(void)
{
    compare_plan p = SWEEP_PLAN_INIT;
    compare_result r[2];
    sample(&p, r);
    char buf[512];
    EXPECT_STR_EQ(compare_format_heading(&p, buf, sizeof(buf)),
                  "model.router.capacity_factor   dropped  gpu max/mean  inter-node  "
                  "dispatch p50  dispatch p99  combine p50  combine p99   step p50      "
                  "throughput  vs first");
    EXPECT_STR_EQ(compare_format_row(&p, 0, &r[0], buf, sizeof(buf)),
                  "                         1.0    12.50%        1.250x       50.0%       "
                  "  20 us       31.5 us        19 us       1.5 ms     182 ms   179.9 k tok/s"
                  "    1.000x");
    EXPECT_STR_EQ(compare_format_row(&p, 1, &r[1], buf, sizeof(buf)),
                  "                         2.0     1.50%        1.500x        0.0%       "
                  "  20 us       31.5 us        19 us       1.5 ms     182 ms   2.500 M tok/s"
                  "   13.897x");
    /* every row as wide as the heading */
    char head[512];
    compare_format_heading(&p, head, sizeof(head));
    EXPECT_EQ_I64(strlen(compare_format_row(&p, 0, &r[0], buf, sizeof(buf))), strlen(head));
    /* a short buffer truncates, terminated */
    EXPECT_EQ_I64(strlen(compare_format_row(&p, 0, &r[0], buf, 10)), 9);
    sweep_plan_fini(&p);
}

/* What a writer puts into a memory stream, as a malloc'ed string. */
typedef int (*writer_fn)(FILE *, const compare_meta *, const compare_plan *,
                         const compare_result *);

static char *capture(writer_fn w, const compare_meta *mt, const compare_plan *p,
                     const compare_result *r)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EXPECT_EQ_I64(w(f, mt, p, r), 0);
    fclose(f);
    return text;
}

static int write_csv(FILE *f, const compare_meta *mt, const compare_plan *p,
                     const compare_result *r)
{
    (void)mt;
    return compare_write_csv(f, p, r);
}

static void test_json_csv(void)
{
    compare_plan p = SWEEP_PLAN_INIT;
    compare_result r[2];
    sample(&p, r);
    const char *sets[] = {"workload.batches=2", "seed=7"};
    compare_meta mt = {.name = "t \"q\"", .file = "s.cfg", .seed = 7, .sets = sets,
                       .nsets = 2};

    char *json = capture(compare_write_json, &mt, &p, r);
    EXPECT_STR_EQ(
        json,
        "{\n"
        "  \"schema\": \"moesim.compare/1\",\n"
        "  \"moesim_version\": \"" MOESIM_VERSION "\",\n"
        "  \"scenario\": {\"name\": \"t \\\"q\\\"\", \"file\": \"s.cfg\", \"seed\": 7, "
        "\"set\": [\"workload.batches=2\", \"seed=7\"]},\n"
        "  \"vary\": [\n"
        "    {\"key\": \"model.router.capacity_factor\", \"values\": [\"1.0\", \"2.0\"]}\n"
        "  ],\n"
        "  \"variants\": [\n"
        "    {\"set\": {\"model.router.capacity_factor\": \"1.0\"}, \"dropped_share\": 0.125, "
        "\"gpu_load_max_over_mean\": 1.25, \"internode_byte_share\": 0.5, \"dispatch_s\": "
        "{\"p50\": 2e-05, \"p99\": 3.15e-05}, \"combine_s\": {\"p50\": 1.9e-05, \"p99\": "
        "0.0015}, \"step_s\": {\"p50\": 0.182}, \"throughput_tokens_per_s\": 179900, "
        "\"throughput_ratio\": 1, \"sim_time_ps\": 729000000000},\n"
        "    {\"set\": {\"model.router.capacity_factor\": \"2.0\"}, \"dropped_share\": 0.015, "
        "\"gpu_load_max_over_mean\": 1.5, \"internode_byte_share\": 0, \"dispatch_s\": "
        "{\"p50\": 2e-05, \"p99\": 3.15e-05}, \"combine_s\": {\"p50\": 1.9e-05, \"p99\": "
        "0.0015}, \"step_s\": {\"p50\": 0.182}, \"throughput_tokens_per_s\": 2500000, "
        "\"throughput_ratio\": 13.8966092273, \"sim_time_ps\": 1}\n"
        "  ]\n"
        "}\n");
    free(json);

    char *csv = capture(write_csv, &mt, &p, r);
    EXPECT_STR_EQ(csv,
                  "model.router.capacity_factor,dropped_share,gpu_load_max_over_mean,"
                  "internode_byte_share,dispatch_p50_s,dispatch_p99_s,combine_p50_s,"
                  "combine_p99_s,step_p50_s,throughput_tokens_per_s,throughput_ratio\n"
                  "1.0,0.125,1.25,0.5,2e-05,3.15e-05,1.9e-05,0.0015,0.182,179900,1\n"
                  "2.0,0.015,1.5,0,2e-05,3.15e-05,1.9e-05,0.0015,0.182,2500000,13.8966092273\n");
    free(csv);
    sweep_plan_fini(&p);

    /* CSV quotes a value holding a comma or a quote */
    add_ok(&p, "x.y=[1,2],\"a\"");
    memset(r, 0, sizeof(r));
    csv = capture(write_csv, &mt, &p, r);
    EXPECT_STR_CONTAINS(csv, "\n\"[1,2]\",0,0,0,0,0,0,0,0,0,0\n\"\"\"a\"\"\",0,");
    free(csv);
    sweep_plan_fini(&p);
}

static void test_table(void)
{
    compare_plan p = SWEEP_PLAN_INIT;
    compare_result r[2];
    sample(&p, r);
    const char *sets[] = {"workload.batches=2"};
    compare_meta mt = {.name = "m", .file = "s.cfg", .seed = 3, .sets = sets, .nsets = 1};
    char *t = capture(compare_write_table, &mt, &p, r);
    char head[512], row[512];
    char want[4096];
    snprintf(want, sizeof(want),
             "moesim " MOESIM_VERSION " compare: m (seed 3), s.cfg, 2 variants\n"
             "  every variant: workload.batches=2\n\n%s\n",
             compare_format_heading(&p, head, sizeof(head)));
    EXPECT_TRUE(strncmp(t, want, strlen(want)) == 0);
    EXPECT_STR_CONTAINS(t, compare_format_row(&p, 1, &r[1], row, sizeof(row)));
    free(t);
    sweep_plan_fini(&p);
}

static void test_from_metrics(void)
{
    metrics m;
    metrics_init(&m, 1, 4, 0, 2);
    m.layer[0].assignments = 400;
    m.layer[0].dropped = 100;
    m.tokens = 1000;
    m.sim_time_ps = SIM_MS(2); /* 1000 tokens in 2 ms: 500k tokens/s */
    m.layer[0].gpu_max_over_mean_sum = 3.0;
    m.layer[0].batches = 2;
    m.a2a_bytes = 1000;
    m.a2a_internode_bytes = 250;
    metrics_series_add(&m.dispatch_all, SIM_US(10));
    metrics_series_add(&m.dispatch_all, SIM_US(30));
    metrics_series_add(&m.combine_all, SIM_US(5));
    metrics_series_add(&m.batch_time, SIM_MS(1));
    metrics_series_add(&m.batch_time, SIM_MS(1));
    compare_result r;
    memset(&r, 0xff, sizeof(r));
    compare_result_from_metrics(&r, &m);
    EXPECT_EQ_I64(r.code, ERR_OK);
    EXPECT_NEAR(r.dropped_share, 0.25, 0);
    EXPECT_NEAR(r.gpu_load_max_over_mean, 1.5, 0);
    EXPECT_NEAR(r.internode_byte_share, 0.25, 0);
    EXPECT_NEAR(r.dispatch_p50_s, 20e-6, 1e-18);    /* halfway between the two */
    EXPECT_NEAR(r.dispatch_p99_s, 29.8e-6, 1e-18);  /* 10 + 0.99 * 20 us */
    EXPECT_NEAR(r.combine_p50_s, 5e-6, 1e-18);
    EXPECT_NEAR(r.combine_p99_s, 5e-6, 1e-18);
    EXPECT_NEAR(r.step_p50_s, 1e-3, 1e-15);
    EXPECT_NEAR(r.throughput_tokens_per_s, 500000, 1e-6);
    EXPECT_NEAR(r.throughput_ratio, 0, 0);
    EXPECT_EQ_I64(r.sim_time_ps, SIM_MS(2));
    EXPECT_EQ_I64(r.error[0], 0);
    metrics_fini(&m);
}

void test_compare_register(void)
{
    TEST_SUITE("compare", {"throughput ratios", test_ratios},
               {"table row", test_row}, {"JSON and CSV", test_json_csv},
               {"table", test_table}, {"figures from metrics", test_from_metrics});
}
