/* test_compare_out.c - a sweep's rows: columns from the field table,
 * ratios, the table's cells, JSON and CSV, a failed row, and the figures
 * taken from a run's metrics.
 *
 * Pure: the sweeps are hand-made plain data, nothing forks or simulates. */
#include <stdlib.h>
#include <string.h>

#include "moesim/compare_out.h"
#include "moesim/field.h"
#include "test.h"

/* Sets the figure named `name` (a CSV column name) of rec. */
static void set_fig(compare_out_record *rec, const char *name, double v)
{
    int c = compare_out_column(name);
    CU_ASSERT_FATAL(c >= 0);
    rec->r[c] = v;
    rec->i[c] = (int64_t)v;
}

/* Two hand-made rows of a capacity-factor sweep. */
static const char *const keys[] = {"model.router.capacity_factor"};
static const char *const cf_values[] = {"1.0", "2.0"};
static const char *const *const values[] = {cf_values};
static const int nvalues[] = {2};
static const char *const cells[] = {"1.0", "2.0"};

static void sample(compare_out_sweep *sw, compare_out_record r[2], const char *const *sets,
                   int nsets)
{
    memset(r, 0, 2 * sizeof(*r));
    set_fig(&r[0], "dropped_share", 0.125);
    set_fig(&r[0], "gpu_load_max_over_mean", 1.25);
    set_fig(&r[0], "internode_byte_share", 0.5);
    set_fig(&r[0], "dispatch_p50_s", 20e-6);
    set_fig(&r[0], "dispatch_p99_s", 31.5e-6);
    set_fig(&r[0], "combine_p50_s", 19e-6);
    set_fig(&r[0], "combine_p99_s", 1.5e-3);
    set_fig(&r[0], "step_p50_s", 0.182);
    set_fig(&r[0], "throughput_tokens_per_s", 179900);
    set_fig(&r[0], "sim_time_ps", 729000000000.0);
    set_fig(&r[0], "needed_bytes", 54.6e9);
    r[1] = r[0];
    set_fig(&r[1], "dropped_share", 0.015);
    set_fig(&r[1], "gpu_load_max_over_mean", 1.5);
    set_fig(&r[1], "internode_byte_share", 0);
    set_fig(&r[1], "throughput_tokens_per_s", 2.5e6);
    set_fig(&r[1], "sim_time_ps", 1);
    compare_out_ratios(r, 2, NULL);
    *sw = (compare_out_sweep){.name = "t \"q\"", .file = "s.cfg", .seed = 7, .sets = sets,
                              .nsets = nsets, .nkeys = 1, .key = keys, .nvalues = nvalues,
                              .values = values, .nrows = 2, .cell = cells, .rec = r};
}

static void test_columns(void)
{
    /* the record holds every column the field table asks for */
    int n = 0;
    for (int i = 0; i < field_count(); i++) {
        const field *f = field_at(i);
        if (f->cmp == 0)
            continue;
        EXPECT_EQ_I64(f->level, FIELD_TOTALS); /* compare rows are whole runs */
        if (f->type == FIELD_STATS)
            for (int st = 0; st < FIELD_STAT_COUNT; st++)
                n += (f->cmp_stats & FIELD_STAT_BIT(st)) != 0;
        else
            n++;
    }
    EXPECT_TRUE(n <= COMPARE_OUT_MAX);
    EXPECT_EQ_I64(compare_out_column("dropped_share"), 0);
    EXPECT_EQ_I64(compare_out_column("sim_time_ps"), n - 2);
    EXPECT_EQ_I64(compare_out_column("needed_bytes"), n - 1);
    EXPECT_EQ_I64(compare_out_column("no_such_column"), -1);
    char hdr[512];
    EXPECT_STR_EQ(compare_out_csv_header(hdr, sizeof(hdr)),
                  "dropped_share,gpu_load_max_over_mean,internode_byte_share,dispatch_p50_s,"
                  "dispatch_p99_s,combine_p50_s,combine_p99_s,step_p50_s,"
                  "throughput_tokens_per_s,throughput_ratio,needed_bytes");
}

static void test_ratios(void)
{
    compare_out_record r[3];
    memset(r, 0, sizeof(r));
    set_fig(&r[0], "throughput_tokens_per_s", 200);
    set_fig(&r[1], "throughput_tokens_per_s", 100);
    set_fig(&r[2], "throughput_tokens_per_s", 300);
    compare_out_ratios(r, 3, NULL);
    EXPECT_NEAR(r[0].throughput_ratio, 1.0, 0);
    EXPECT_NEAR(r[1].throughput_ratio, 0.5, 0);
    EXPECT_NEAR(r[2].throughput_ratio, 1.5, 0);
    /* the first row failed: the ratios are over the first row that ran */
    const char *const error[] = {"it failed", NULL, NULL};
    compare_out_ratios(r, 3, error);
    EXPECT_NEAR(r[2].throughput_ratio, 3.0, 0);
    set_fig(&r[0], "throughput_tokens_per_s", 0); /* nothing to divide by */
    compare_out_ratios(r, 3, NULL);
    EXPECT_NEAR(r[2].throughput_ratio, 0, 0);
}

static void test_row(void)
{
    compare_out_sweep sw;
    compare_out_record r[2];
    sample(&sw, r, NULL, 0);
    char buf[512];
    EXPECT_STR_EQ(compare_out_heading(&sw, buf, sizeof(buf)),
                  "model.router.capacity_factor   dropped  gpu max/mean  inter-node  "
                  "dispatch p50  dispatch p99  combine p50  combine p99   step p50      "
                  "throughput  memory/GPU  vs first");
    EXPECT_STR_EQ(compare_out_row(&sw, 0, buf, sizeof(buf)),
                  "                         1.0    12.50%        1.250x       50.0%       "
                  "  20 us       31.5 us        19 us       1.5 ms     182 ms   179.9 k tok/s"
                  "     54.6 GB    1.000x");
    EXPECT_STR_EQ(compare_out_row(&sw, 1, buf, sizeof(buf)),
                  "                         2.0     1.50%        1.500x        0.0%       "
                  "  20 us       31.5 us        19 us       1.5 ms     182 ms   2.500 M tok/s"
                  "     54.6 GB   13.897x");
    /* every row as wide as the heading */
    char head[512];
    compare_out_heading(&sw, head, sizeof(head));
    EXPECT_EQ_I64(strlen(compare_out_row(&sw, 0, buf, sizeof(buf))), strlen(head));
    /* a short buffer truncates, terminated */
    EXPECT_EQ_I64(strlen(compare_out_row(&sw, 0, buf, 10)), 9);
}

/* What a writer puts into a memory stream, as a malloc'ed string. */
static char *capture(int (*w)(FILE *, const compare_out_sweep *), const compare_out_sweep *sw)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EXPECT_EQ_I64(w(f, sw), 0);
    fclose(f);
    return text;
}

static void test_json_csv(void)
{
    const char *sets[] = {"workload.batches=2", "seed=7"};
    compare_out_sweep sw;
    compare_out_record r[2];
    sample(&sw, r, sets, 2);

    /* moesim.compare/1's names and layout; reals in the shortest text
     * that reads back to the same double */
    char *json = capture(compare_out_json, &sw);
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
        "\"throughput_ratio\": 1, \"sim_time_ps\": 729000000000, \"needed_bytes\": "
        "54600000000},\n"
        "    {\"set\": {\"model.router.capacity_factor\": \"2.0\"}, \"dropped_share\": 0.015, "
        "\"gpu_load_max_over_mean\": 1.5, \"internode_byte_share\": 0, \"dispatch_s\": "
        "{\"p50\": 2e-05, \"p99\": 3.15e-05}, \"combine_s\": {\"p50\": 1.9e-05, \"p99\": "
        "0.0015}, \"step_s\": {\"p50\": 0.182}, \"throughput_tokens_per_s\": 2500000, "
        "\"throughput_ratio\": 13.896609227348527, \"sim_time_ps\": 1, \"needed_bytes\": "
        "54600000000}\n"
        "  ]\n"
        "}\n");
    free(json);

    char *csv = capture(compare_out_csv, &sw);
    EXPECT_STR_EQ(csv,
                  "model.router.capacity_factor,dropped_share,gpu_load_max_over_mean,"
                  "internode_byte_share,dispatch_p50_s,dispatch_p99_s,combine_p50_s,"
                  "combine_p99_s,step_p50_s,throughput_tokens_per_s,throughput_ratio,"
                  "needed_bytes\n"
                  "1.0,0.125,1.25,0.5,2e-05,3.15e-05,1.9e-05,0.0015,0.182,179900,1,54600000000\n"
                  "2.0,0.015,1.5,0,2e-05,3.15e-05,1.9e-05,0.0015,0.182,2500000,"
                  "13.896609227348527,54600000000\n");
    free(csv);

    /* CSV quotes a value holding a comma or a quote */
    static const char *const odd[] = {"[1,2]", "\"a\""};
    static const char *const *const odd_values[] = {odd};
    memset(r, 0, 2 * sizeof(*r));
    sw.values = odd_values;
    sw.cell = odd;
    csv = capture(compare_out_csv, &sw);
    EXPECT_STR_CONTAINS(csv, "\n\"[1,2]\",0,0,0,0,0,0,0,0,0,0,0\n\"\"\"a\"\"\",0,");
    free(csv);
}

/* A failed variant is a row with its error: the table says why, the JSON
 * carries the error instead of figures, the CSV leaves the figures empty. */
static void test_failed_row(void)
{
    compare_out_sweep sw;
    compare_out_record r[2];
    sample(&sw, r, NULL, 0);
    const char *const error[] = {NULL, "s.cfg:3: cluster.gpu: does not fit in memory"};
    sw.error = error;
    char buf[512];
    EXPECT_STR_EQ(compare_out_row(&sw, 1, buf, sizeof(buf)),
                  "model.router.capacity_factor=2.0  failed: s.cfg:3: cluster.gpu: does not "
                  "fit in memory");
    char *json = capture(compare_out_json, &sw);
    EXPECT_STR_CONTAINS(json, "{\"set\": {\"model.router.capacity_factor\": \"2.0\"}, "
                              "\"error\": \"s.cfg:3: cluster.gpu: does not fit in memory\"}\n");
    free(json);
    char *csv = capture(compare_out_csv, &sw);
    EXPECT_STR_CONTAINS(csv, "\n2.0,,,,,,,,,,,\n");
    free(csv);
    char *t = capture(compare_out_table, &sw);
    EXPECT_STR_CONTAINS(t, "  failed: s.cfg:3");
    EXPECT_STR_CONTAINS(t, "179.9 k tok/s"); /* the row that ran */
    free(t);
}

static void test_table(void)
{
    const char *sets[] = {"workload.batches=2"};
    compare_out_sweep sw;
    compare_out_record r[2];
    sample(&sw, r, sets, 1);
    sw.name = "m";
    sw.seed = 3;
    char *t = capture(compare_out_table, &sw);
    char head[512], row[512];
    char want[4096];
    snprintf(want, sizeof(want),
             "moesim " MOESIM_VERSION " compare: m (seed 3), s.cfg, 2 variants\n"
             "  every variant: workload.batches=2\n\n%s\n",
             compare_out_heading(&sw, head, sizeof(head)));
    EXPECT_TRUE(strncmp(t, want, strlen(want)) == 0);
    EXPECT_STR_CONTAINS(t, compare_out_row(&sw, 1, row, sizeof(row)));
    free(t);
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
    compare_out_record r;
    memset(&r, 0xff, sizeof(r));
    compare_out_from_run(&r, NULL, &m, NULL); /* the figures read only the metrics */
#define FIG(name) r.r[compare_out_column(name)]
    EXPECT_NEAR(FIG("dropped_share"), 0.25, 0);
    EXPECT_NEAR(FIG("gpu_load_max_over_mean"), 1.5, 0);
    EXPECT_NEAR(FIG("internode_byte_share"), 0.25, 0);
    EXPECT_NEAR(FIG("dispatch_p50_s"), 20e-6, 1e-18);   /* halfway between the two */
    EXPECT_NEAR(FIG("dispatch_p99_s"), 29.8e-6, 1e-18); /* 10 + 0.99 * 20 us */
    EXPECT_NEAR(FIG("combine_p50_s"), 5e-6, 1e-18);
    EXPECT_NEAR(FIG("combine_p99_s"), 5e-6, 1e-18);
    EXPECT_NEAR(FIG("step_p50_s"), 1e-3, 1e-15);
    EXPECT_NEAR(FIG("throughput_tokens_per_s"), 500000, 1e-6);
    EXPECT_NEAR(compare_out_throughput(&r), 500000, 1e-6);
    EXPECT_NEAR(r.throughput_ratio, 0, 0);
#undef FIG
    EXPECT_EQ_I64(r.i[compare_out_column("sim_time_ps")], SIM_MS(2));
    metrics_fini(&m);
}

void test_compare_out_register(void)
{
    TEST_SUITE("compare_out", {"columns from the field table", test_columns},
               {"throughput ratios", test_ratios}, {"table row", test_row},
               {"JSON and CSV", test_json_csv}, {"a failed row", test_failed_row},
               {"table", test_table}, {"figures from metrics", test_from_metrics});
}
