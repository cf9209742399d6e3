/*
 * csv.c - the run's results as four CSV files (schema moesim.csv/1).
 *
 * The columns mirror the JSON report field for field (report.c writes the
 * same figures; docs/output.md lists both), so a column means what the JSON
 * field of the same name means. What the JSON nests is flattened: a stats
 * object becomes nine columns <name>_mean ... <name>_sum_ps, the per-expert
 * arrays become experts.csv's long rows (one per layer and expert, the shape
 * pandas and pivot tables want). links.csv lists every link, in the JSON's
 * order (most bytes first, ties by link id); the JSON shows only the first
 * 16 that carried bytes.
 *
 * Whole or nothing across files: each file goes to its own outfile
 * (temporary name beside it); only when all four are written and flushed are
 * they renamed, one after another. A rename that fails part-way removes the
 * files already renamed, so a reader never sees a mixed set from two runs.
 */
#include "moesim/csv.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moesim/outfile.h"
#include "moesim/report.h"
#include "moesim/router.h"

enum { CSV_TOTALS, CSV_LAYERS, CSV_EXPERTS, CSV_LINKS, CSV_FILES };

static const char *const csv_names[CSV_FILES] = {"totals.csv", "layers.csv", "experts.csv",
                                                 "links.csv"};

/* The suffixes a flattened stats object adds, in the JSON's order. */
static const char *const stat_cols[] = {"mean", "p50",    "p95",    "p99",   "max",
                                        "n",    "min_ps", "max_ps", "sum_ps"};

/* ---- fields ---- */

/* A real as report_json_num writes it; empty where the JSON has null. */
static void csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.12g", v);
}

/* A string, quoted (quotes doubled) only when it holds a comma, a quote or
 * a line break (RFC 4180). */
static void csv_str(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Header cells <prefix>_mean ... <prefix>_sum_ps, each after a comma. */
static void csv_stats_header(FILE *f, const char *prefix)
{
    for (size_t i = 0; i < sizeof(stat_cols) / sizeof(stat_cols[0]); i++)
        fprintf(f, ",%s_%s", prefix, stat_cols[i]);
}

/* The nine values of a stats object, each after a comma (json_stats' order). */
static void csv_stats(FILE *f, const metrics_series *s)
{
    metrics_summary m;
    metrics_series_summarize(s, &m);
    const double reals[] = {m.mean_s, m.p50_s, m.p95_s, m.p99_s, m.max_s};
    for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++) {
        fputc(',', f);
        csv_num(f, reals[i]);
    }
    fprintf(f, ",%zu,%" PRId64 ",%" PRId64 ",%" PRId64, m.n, m.min_ps, m.max_ps, m.sum_ps);
}

/* Per-batch means, as report.c computes them. */
static double per_batch(double sum, int batches)
{
    return batches > 0 ? sum / batches : 0;
}

/* ---- the four files ---- */

static void write_totals(FILE *f, const scenario *s, const metrics *m)
{
    report_totals_t tt;
    report_totals(m, &tt);
    fputs("scenario_name,scenario_seed,tokens,batches,sim_time_s,sim_time_ps,"
          "throughput_tokens_per_s,assignments,dropped,rerouted,dropped_share,"
          "rerouted_share,gpu_load_max_over_mean,a2a_bytes,internode_byte_share",
          f);
    csv_stats_header(f, "step_s");
    csv_stats_header(f, "dispatch_s");
    csv_stats_header(f, "combine_s");
    csv_stats_header(f, "tp_allreduce_s");
    fputc('\n', f);

    csv_str(f, s->name);
    fprintf(f, ",%" PRIu64 ",%" PRId64 ",%d,", s->seed, m->tokens, m->batches);
    csv_num(f, sim_time_to_s(m->sim_time_ps));
    fprintf(f, ",%" PRId64 ",", m->sim_time_ps);
    csv_num(f, tt.throughput);
    fprintf(f, ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", tt.assignments, tt.dropped,
            tt.rerouted);
    csv_num(f, tt.dropped_share);
    fputc(',', f);
    csv_num(f, tt.rerouted_share);
    fputc(',', f);
    csv_num(f, tt.gpu_max_over_mean);
    fputc(',', f);
    csv_num(f, m->a2a_bytes);
    fputc(',', f);
    csv_num(f, tt.internode_share);
    csv_stats(f, &m->batch_time);
    csv_stats(f, &m->dispatch_all);
    csv_stats(f, &m->combine_all);
    csv_stats(f, &m->tp_allreduce_all);
    fputc('\n', f);
}

static void write_layers(FILE *f, const metrics *m)
{
    fputs("layer,tokens,assignments,dropped,rerouted,capacity,load_max_over_mean,load_cv,"
          "aux_loss,gpu_load_max_over_mean,padding,unrouted_tokens",
          f);
    csv_stats_header(f, "attention_s");
    csv_stats_header(f, "gate_s");
    csv_stats_header(f, "dispatch_s");
    csv_stats_header(f, "expert_compute_s");
    csv_stats_header(f, "combine_s");
    csv_stats_header(f, "tp_allreduce_s");
    fputc('\n', f);

    for (int i = 0; i < m->moe_layers; i++) {
        const metrics_layer *l = &m->layer[i];
        fprintf(f, "%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",", l->layer, l->tokens,
                l->assignments, l->dropped, l->rerouted);
        if (l->capacity != INT64_MAX) /* dropless: empty, as the JSON's null */
            fprintf(f, "%" PRId64, l->capacity);
        fputc(',', f);
        csv_num(f, per_batch(l->load_max_over_mean_sum, l->batches));
        fputc(',', f);
        csv_num(f, per_batch(l->load_cv_sum, l->batches));
        fputc(',', f);
        if (!l->no_probs) /* a replayed trace has no probabilities: empty */
            csv_num(f, router_aux_loss(l->experts, l->wanted, l->prob_sum, l->tokens));
        fputc(',', f);
        csv_num(f, per_batch(l->gpu_max_over_mean_sum, l->batches));
        fprintf(f, ",%" PRId64 ",%" PRId64, l->padding, l->unrouted);
        csv_stats(f, &l->attention);
        csv_stats(f, &l->gate);
        csv_stats(f, &l->dispatch);
        csv_stats(f, &l->expert);
        csv_stats(f, &l->combine);
        csv_stats(f, &l->tp_allreduce);
        fputc('\n', f);
    }
}

static void write_experts(FILE *f, const metrics *m)
{
    fputs("layer,expert,wanted,served,dropped,rerouted,padding\n", f);
    for (int i = 0; i < m->moe_layers; i++) {
        const metrics_layer *l = &m->layer[i];
        for (int x = 0; x < l->experts; x++)
            fprintf(f, "%d,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "\n",
                    l->layer, x, l->wanted[x], l->served[x], l->dropped_per_expert[x],
                    l->rerouted_per_expert[x], l->padding_per_expert[x]);
    }
}

/* Every link, most bytes first, ties by id: report.c's order for the JSON. */
static void write_links(FILE *f, const metrics *m, const topo_t *t)
{
    fputs("link,bytes,busy_s,utilization\n", f);
    if (m->links <= 0)
        return;
    int *ord = report_links_by_bytes(m);
    for (int i = 0; i < m->links; i++) {
        int id = ord[i];
        char name[64];
        topo_link_name(t, id, name, sizeof(name));
        sim_time_t busy = sim_time_for_bytes(m->link_bytes[id], topo_link_at(t, id)->bw_Bps);
        csv_str(f, name);
        fputc(',', f);
        csv_num(f, m->link_bytes[id]);
        fputc(',', f);
        csv_num(f, sim_time_to_s(busy));
        fputc(',', f);
        csv_num(f, m->sim_time_ps > 0 ? (double)busy / (double)m->sim_time_ps : 0);
        fputc('\n', f);
    }
    free(ord);
}

/* ---- the directory, whole or nothing ---- */

/* Makes dir unless it is a directory already; *made tells whether this call
 * created it (and so should remove it on failure). */
static int make_dir(const char *dir, int *made, err_t *e)
{
    struct stat st;
    *made = 0;
    if (mkdir(dir, 0777) == 0) {
        *made = 1;
        return 0;
    }
    int saved = errno;
    if (saved == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return err_set(e, ERR_RUN, dir, 0, NULL, "cannot create the CSV directory: %s",
                   saved == EEXIST ? "exists and is not a directory" : strerror(saved));
}

int report_csv(const char *dir, const scenario *s, const metrics *m, const topo_t *t, err_t *e)
{
    outfile o[CSV_FILES] = {OUTFILE_INIT, OUTFILE_INIT, OUTFILE_INIT, OUTFILE_INIT};
    char path[CSV_FILES][PATH_MAX]; /* the outfile has no limit; PATH_MAX is the kernel's */
    int made, committed = 0;

    for (int i = 0; i < CSV_FILES; i++) { /* before anything exists: paths that fit */
        int n = snprintf(path[i], sizeof(path[i]), "%s/%s", dir, csv_names[i]);
        if (n < 0 || (size_t)n >= sizeof(path[i]))
            return err_set(e, ERR_RUN, dir, 0, NULL,
                           "cannot write: the path is longer than %zu bytes",
                           sizeof(path[i]) - 1);
    }
    if (make_dir(dir, &made, e) < 0)
        return -1;
    for (int i = 0; i < CSV_FILES; i++)
        if (outfile_open(&o[i], path[i], e) < 0)
            goto fail;

    write_totals(o[CSV_TOTALS].f, s, m);
    write_layers(o[CSV_LAYERS].f, m);
    write_experts(o[CSV_EXPERTS].f, m);
    write_links(o[CSV_LINKS].f, m, t);

    /* Flush all four first: a full disk shows here, while nothing is renamed. */
    for (int i = 0; i < CSV_FILES; i++) {
        errno = 0;
        if (fflush(o[i].f) != 0 || ferror(o[i].f)) {
            int saved = errno;
            err_set(e, ERR_RUN, path[i], 0, NULL, "cannot write: %s",
                    saved ? strerror(saved) : "write error");
            goto fail;
        }
    }
    for (; committed < CSV_FILES; committed++)
        if (outfile_commit(&o[committed], e) < 0)
            goto fail;
    return 0;

fail:
    for (int i = 0; i < CSV_FILES; i++)
        outfile_abort(&o[i]);
    for (int i = 0; i < committed; i++) /* renamed before a later rename failed */
        remove(path[i]);
    if (made)
        rmdir(dir);
    return -1;
}
