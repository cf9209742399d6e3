/*
 * test_csv.c - the CSV files of a run: exact header rows, row counts and
 * sums that match the metrics, quoting, byte-identical repeats, and a
 * failed write that leaves no file behind.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moesim/csv.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "test.h"

/* Two GPUs, four experts, two MoE layers, top-1, capacity 1 per expert and
 * rank: every layer routes like tests/e2e/two-gpus.cfg and drops 2 of its 8
 * assignments. The name needs quoting in CSV. */
static const char csv_cfg[] =
    "name = \"csv, \\\"quoted\\\"\"; seed = 11;\n"
    "model = { layers = 2; hidden = 1024; expert_ffn = 2048; experts = 4; top_k = 1;\n"
    "  heads = 8; router = { kind = \"softmax_topk\"; overflow = \"drop\";\n"
    "  capacity_factor = 1.0; }; };\n"
    "cluster = { nodes = 1; gpus_per_node = 2; gpu = \"H100-SXM\";\n"
    "  intra = { bandwidth = \"100 GB/s\"; latency = \"1 us\"; efficiency = 1.0; }; };\n"
    "parallel = { ep = 2; };\n"
    "workload = { tokens_per_rank = 4; batches = 2; seq_len = 4; source = { kind = \"fixed\";\n"
    "  logits = ( [0.0, 0.0, 5.0, 0.0], [0.0, 0.0, 5.0, 0.0], [5.0, 0.0, 0.0, 0.0],\n"
    "             [0.0, 0.0, 0.0, 5.0], [5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 5.0],\n"
    "             [0.0, 0.0, 0.0, 5.0], [0.0, 0.0, 5.0, 0.0] ); }; };\n"
    "network = { message_overhead = \"0 us\"; };\n";

#define STATS(p) ",", p "_mean,", p "_p50,", p "_p95,", p "_p99,", p "_max,", p "_n,", \
                 p "_min_ps,", p "_max_ps,", p "_sum_ps"

/* The header rows as moesim.csv/1 first wrote them, spelled out: a renamed
 * or moved column must fail here (columns are only ever appended). */
static const char *const totals_hdr[] = {
    "scenario_name,scenario_seed,tokens,batches,sim_time_s,sim_time_ps,",
    "throughput_tokens_per_s,assignments,dropped,rerouted,dropped_share,",
    "rerouted_share,gpu_load_max_over_mean,a2a_bytes,internode_byte_share",
    STATS("step_s"), STATS("dispatch_s"), STATS("combine_s"), STATS("tp_allreduce_s"), NULL};
static const char *const layers_hdr[] = {
    "layer,tokens,assignments,dropped,rerouted,capacity,load_max_over_mean,load_cv,",
    "aux_loss,gpu_load_max_over_mean,padding,unrouted_tokens",
    STATS("attention_s"), STATS("gate_s"), STATS("dispatch_s"), STATS("expert_compute_s"),
    STATS("combine_s"), STATS("tp_allreduce_s"), NULL};

static char *join(const char *const *parts)
{
    static char buf[4096]; /* tests run one at a time */
    buf[0] = '\0';
    for (; *parts; parts++)
        strcat(buf, *parts);
    return buf;
}

static play_t *run(const char *const *sets, int nsets, scenario *s)
{
    return test_play_run("csv.cfg", csv_cfg, sets, nsets, s);
}

/* The whole file, NUL-terminated (caller frees), or NULL if unreadable. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = xmalloc(cap, "test file");
    for (size_t r; (r = fread(b + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (cap - n - 1 == 0)
            b = xrealloc(b, cap *= 2, 1, "test file");
    }
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = n;
    return b;
}

/* Line i (0-based) of text, copied into buf without its "\n". */
static int line_at(const char *text, int i, char *buf, size_t n)
{
    for (; i > 0 && text; i--) {
        const char *nl = strchr(text, '\n');
        text = nl ? nl + 1 : NULL;
    }
    if (!text || !*text)
        return -1;
    size_t k = strcspn(text, "\n");
    if (k >= n)
        return -1;
    memcpy(buf, text, k);
    buf[k] = '\0';
    return 0;
}

static int count_lines(const char *text)
{
    int n = 0;
    for (; *text; text++)
        n += *text == '\n';
    return n;
}

/* Field i (0-based) of a CSV line, unquoted, into buf. */
static void field_at(const char *line, int i, char *buf, size_t n)
{
    size_t k = 0;
    for (int f = 0; *line; f++) {
        int q = *line == '"';
        line += q;
        for (; *line && (q || *line != ','); line++) {
            if (q && *line == '"') {
                if (line[1] != '"') {
                    line++;
                    break;
                }
                line++;
            }
            if (f == i && k + 1 < n)
                buf[k++] = *line;
        }
        if (f == i)
            break;
        line += *line == ',';
    }
    buf[k] = '\0';
}

/* The index of column `name` in a header row, or -1. */
static int column(const char *header, const char *name)
{
    char cell[128];
    for (int i = 0;; i++) {
        field_at(header, i, cell, sizeof(cell));
        if (!cell[0])
            return -1;
        if (strcmp(cell, name) == 0)
            return i;
    }
}

static const char *const files[] = {"totals.csv", "layers.csv", "experts.csv", "links.csv",
                                    "steps.csv", "stages.csv"};

static void remove_csv(const char *dir)
{
    char path[512];
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

static void test_files(void)
{
    char tmp[] = "/tmp/moesim-csv-XXXXXX", dir[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
    snprintf(dir, sizeof(dir), "%s/out", tmp); /* created by report_csv */
    scenario s;
    play_t *p = run(NULL, 0, &s);
    const metrics *m = play_metrics(p);
    err_t e = ERR_INIT;
    CU_ASSERT_EQUAL_FATAL(report_csv(dir, &s, m, play_topo(p), &e), 0);
    EXPECT_EQ_I64(test_dir_entries(dir), 6); /* the six files, no temporary ones */
    CU_ASSERT_EQUAL_FATAL(m->moe_layers, 2);
    report_totals_t tt;
    report_totals(m, &tt);
    CU_ASSERT_FATAL(tt.dropped > 0); /* the scenario must drop, or the sums prove little */

    char *tot = slurp(dir, "totals.csv", NULL), *lay = slurp(dir, "layers.csv", NULL);
    char *exp = slurp(dir, "experts.csv", NULL), *lnk = slurp(dir, "links.csv", NULL);
    CU_ASSERT_FATAL(tot && lay && exp && lnk);
    char hdr[4096], row[4096], cell[128];

    /* totals.csv: the header, one row; the name quoted RFC 4180 style */
    EXPECT_EQ_I64(count_lines(tot), 2);
    CU_ASSERT_FATAL(line_at(tot, 0, hdr, sizeof(hdr)) == 0);
    CU_ASSERT_NSTRING_EQUAL(hdr, join(totals_hdr), strlen(join(totals_hdr)));
    /* appended by the field table: the memory, placement and migration
     * fields the JSON always had (issue 10) */
    EXPECT_TRUE(strstr(hdr, ",memory_needed_bytes,memory_weights_bytes,"
                             "memory_activations_bytes,memory_hbm_bytes,memory_checked"));
    EXPECT_TRUE(strstr(hdr, ",placement_strategy,placement_redundant,"
                             "placement_warmup_batches,placement_rebalances,"
                             "placement_migrated_experts,placement_kept_layers,"
                             "placement_migration_bytes,placement_migration_s_mean,"));
    EXPECT_TRUE(strstr(hdr, ",placement_migration_s_sum_ps,"));
    CU_ASSERT_FATAL(line_at(tot, 1, row, sizeof(row)) == 0);
    const char *first = "\"csv, \"\"quoted\"\"\",11,"; /* name, then seed */
    CU_ASSERT_NSTRING_EQUAL(row, first, strlen(first));
    field_at(row, column(hdr, "dropped"), cell, sizeof(cell));
    EXPECT_EQ_I64(strtoll(cell, NULL, 10), tt.dropped);
    field_at(row, column(hdr, "sim_time_ps"), cell, sizeof(cell));
    EXPECT_EQ_I64(strtoll(cell, NULL, 10), m->sim_time_ps);
    field_at(row, column(hdr, "step_s_n"), cell, sizeof(cell));
    EXPECT_EQ_I64(strtoll(cell, NULL, 10), m->batches);
    gpu_memory_shape msh;
    gpu_memory mem;
    scenario_memory(&s, &msh, &mem);
    field_at(row, column(hdr, "memory_needed_bytes"), cell, sizeof(cell));
    EXPECT_NEAR(strtod(cell, NULL), mem.total, 0);
    field_at(row, column(hdr, "memory_checked"), cell, sizeof(cell));
    CU_ASSERT_STRING_EQUAL(cell, s.cluster.check_memory ? "true" : "false");
    field_at(row, column(hdr, "placement_strategy"), cell, sizeof(cell));
    CU_ASSERT_STRING_EQUAL(cell, "contiguous");
    field_at(row, column(hdr, "workload_trace_file"), cell, sizeof(cell));
    CU_ASSERT_STRING_EQUAL(cell, ""); /* the JSON's null */

    /* layers.csv: the header and one row per MoE layer, capacity filled */
    EXPECT_EQ_I64(count_lines(lay), 1 + m->moe_layers);
    CU_ASSERT_FATAL(line_at(lay, 0, hdr, sizeof(hdr)) == 0);
    CU_ASSERT_NSTRING_EQUAL(hdr, join(layers_hdr), strlen(join(layers_hdr)));
    EXPECT_TRUE(strstr(hdr, ",dropped_share")); /* appended with the field table */
    for (int i = 0; i < m->moe_layers; i++) {
        CU_ASSERT_FATAL(line_at(lay, 1 + i, row, sizeof(row)) == 0);
        field_at(row, column(hdr, "layer"), cell, sizeof(cell));
        EXPECT_EQ_I64(atoi(cell), m->layer[i].layer);
        field_at(row, column(hdr, "capacity"), cell, sizeof(cell));
        EXPECT_EQ_I64(strtoll(cell, NULL, 10), m->layer[i].capacity);
        field_at(row, column(hdr, "dropped"), cell, sizeof(cell));
        EXPECT_EQ_I64(strtoll(cell, NULL, 10), m->layer[i].dropped);
    }

    /* experts.csv: layers x experts rows whose sums are the run's totals */
    int experts = s.model.experts;
    EXPECT_EQ_I64(count_lines(exp), 1 + m->moe_layers * experts);
    CU_ASSERT_FATAL(line_at(exp, 0, hdr, sizeof(hdr)) == 0);
    CU_ASSERT_STRING_EQUAL(hdr, "layer,expert,wanted,served,dropped,rerouted,padding");
    long long wanted = 0, served = 0, dropped = 0;
    for (int r = 1; line_at(exp, r, row, sizeof(row)) == 0; r++) {
        int layer, expert;
        long long w, sv, d, rr, pad;
        CU_ASSERT_FATAL(sscanf(row, "%d,%d,%lld,%lld,%lld,%lld,%lld", &layer, &expert, &w, &sv,
                               &d, &rr, &pad) == 7);
        EXPECT_EQ_I64(layer, m->layer[(r - 1) / experts].layer);
        EXPECT_EQ_I64(expert, (r - 1) % experts);
        wanted += w;
        served += sv;
        dropped += d;
    }
    EXPECT_EQ_I64(wanted, tt.assignments);
    EXPECT_EQ_I64(dropped, tt.dropped);
    EXPECT_EQ_I64(served, tt.assignments - tt.dropped); /* rerouted ones are served */

    /* links.csv: every link, most bytes first */
    EXPECT_EQ_I64(count_lines(lnk), 1 + topo_link_count(play_topo(p)));
    CU_ASSERT_FATAL(line_at(lnk, 0, hdr, sizeof(hdr)) == 0);
    CU_ASSERT_STRING_EQUAL(hdr, "link,bytes,busy_s,utilization");
    double prev = INFINITY, most = 0;
    for (int i = 0; i < m->links; i++)
        most = m->link_bytes[i] > most ? m->link_bytes[i] : most;
    for (int r = 1; line_at(lnk, r, row, sizeof(row)) == 0; r++) {
        field_at(row, 1, cell, sizeof(cell));
        double b = strtod(cell, NULL);
        EXPECT_TRUE(b <= prev);
        if (r == 1)
            EXPECT_NEAR(b, most, 1e-6);
        prev = b;
    }
    EXPECT_TRUE(most > 0);

    free(tot);
    free(lay);
    free(exp);
    free(lnk);
    remove_csv(dir);
    rmdir(tmp);
    play_free(p);
    scenario_fini(&s);
}

/* Writes the run of `sets` into dir/<sub>. */
static void write_run(const char *const *sets, int nsets, const char *dir)
{
    scenario s;
    play_t *p = run(sets, nsets, &s);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(report_csv(dir, &s, play_metrics(p), play_topo(p), &e), 0);
    play_free(p);
    scenario_fini(&s);
}

static void test_same_bytes(void)
{
    char a[] = "/tmp/moesim-csv-XXXXXX", b[] = "/tmp/moesim-csv-XXXXXX";
    char c[] = "/tmp/moesim-csv-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(a));
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(b));
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(c));
    write_run(NULL, 0, a); /* into existing directories */
    write_run(NULL, 0, b);
    const char *dropless[] = {"model.router.overflow=dropless"};
    write_run(dropless, 1, c);
    for (int i = 0; i < 4; i++) {
        size_t na = 0, nb = 0;
        char *x = slurp(a, files[i], &na), *y = slurp(b, files[i], &nb);
        CU_ASSERT_FATAL(x && y);
        EXPECT_TRUE(na > 0);
        EXPECT_EQ_I64(na, nb);
        EXPECT_TRUE(na == nb && memcmp(x, y, na) == 0);
        free(x);
        free(y);
    }
    /* dropless: the capacity is empty, as the JSON's null */
    char *lay = slurp(c, "layers.csv", NULL), *drop = slurp(a, "layers.csv", NULL);
    CU_ASSERT_FATAL(lay && drop);
    char hdr[4096], row[4096], cell[64];
    CU_ASSERT_FATAL(line_at(lay, 0, hdr, sizeof(hdr)) == 0);
    CU_ASSERT_FATAL(line_at(lay, 1, row, sizeof(row)) == 0);
    strcpy(cell, "x");
    field_at(row, column(hdr, "capacity"), cell, sizeof(cell));
    CU_ASSERT_STRING_EQUAL(cell, "");
    EXPECT_TRUE(strcmp(lay, drop) != 0);
    free(lay);
    free(drop);
    remove_csv(a);
    remove_csv(b);
    remove_csv(c);
}

static void test_nothing_on_failure(void)
{
    char tmp[] = "/tmp/moesim-csv-XXXXXX", plain[128], under[160], out[128], blocker[160];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
    snprintf(plain, sizeof(plain), "%s/plain", tmp);
    FILE *f = fopen(plain, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    scenario s;
    play_t *p = run(NULL, 0, &s);
    const metrics *m = play_metrics(p);

    /* a directory under a regular file cannot be made */
    snprintf(under, sizeof(under), "%s/csv", plain);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(report_csv(under, &s, m, play_topo(p), &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.file, under);
    /* nor can a regular file serve as the directory */
    e = (err_t)ERR_INIT;
    EXPECT_EQ_I64(report_csv(plain, &s, m, play_topo(p), &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.msg, "not a directory");
    EXPECT_EQ_I64(test_dir_entries(tmp), 1); /* only "plain" */

    /* the last rename fails (stages.csv is a directory): the five files
     * renamed before it are taken back, and no temporary file stays */
    snprintf(out, sizeof(out), "%s/out", tmp);
    snprintf(blocker, sizeof(blocker), "%s/stages.csv", out);
    CU_ASSERT_FATAL(mkdir(out, 0777) == 0 && mkdir(blocker, 0777) == 0);
    e = (err_t)ERR_INIT;
    EXPECT_EQ_I64(report_csv(out, &s, m, play_topo(p), &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.file, blocker);
    EXPECT_EQ_I64(test_dir_entries(out), 1); /* only the blocking directory */
    /* and with the way clear, the same call succeeds */
    rmdir(blocker);
    e = (err_t)ERR_INIT;
    EXPECT_EQ_I64(report_csv(out, &s, m, play_topo(p), &e), 0);
    EXPECT_EQ_I64(test_dir_entries(out), 6);

    remove_csv(out);
    remove(plain);
    rmdir(tmp);
    play_free(p);
    scenario_fini(&s);
}

void test_csv_register(void)
{
    TEST_SUITE("csv", {"files, headers and sums", test_files},
               {"same run, same bytes; null is empty", test_same_bytes},
               {"nothing written on failure", test_nothing_on_failure});
}
