/*
 * compare.c - `moesim compare`: a scenario under every combination of
 * varied keys, run by the sweep pool (sweep.h), reported side by side.
 *
 * Every variant is loaded and validated in the parent before anything
 * runs, so a bad value costs no simulation time; a variant the loader
 * refuses, or one that fails while it runs, is a row with its error and
 * the others still run (exit status 1; the JSON and CSV are written only
 * when every variant ran, so they are never partial). Each variant runs in
 * a child of the pool, which loads its scenario again (the parent keeps no
 * scenario, only the result records) and sends back one compare_result.
 * Output is a function of the inputs alone: the same whatever --jobs is.
 */
#include "moesim/compare.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moesim/cmd.h"
#include "moesim/cli.h"
#include "moesim/opts.h"
#include "moesim/outfile.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/units.h"

const char cmd_compare_usage[] =
    "usage: moesim compare [SCENARIO] --vary KEY=V1,V2,... [--vary ...] [options]\n"
    "\n"
    "Runs SCENARIO (without one, the built-in default scenario) once per\n"
    "combination of the --vary values and prints one row per variant: dropped\n"
    "share, max/mean GPU load, inter-node share of all-to-all bytes, dispatch and\n"
    "combine p50/p99, step time, throughput, and throughput over the first row's.\n"
    "Variants run in parallel processes; the results do not depend on --jobs.\n"
    "\n"
    "options:\n"
    "  --vary KEY=V1,V2,...  run the scenario with KEY set to each value in turn\n"
    "                   (repeatable: the variants are the cross product, the first\n"
    "                   --vary varying slowest; values written as with --set)\n"
    "  --set KEY=VALUE  override a scenario key in every variant, before the\n"
    "                   varied keys (repeatable)\n"
    "  --seed N         master seed of every variant (same as --set seed=N;\n"
    "                   0 to 2^64-1)\n"
    "  --jobs N         run at most N variants at once (default: the CPU cores)\n"
    "  --json FILE      also write the results as JSON (schema moesim.compare/1)\n"
    "  --csv FILE       also write the results as CSV, one row per variant\n"
    "                   (FILE - for stdout, and then no table)\n"
    "  --quiet          print no table (errors still go to stderr)\n"
    "  --no-progress    no progress line on stderr\n"
    "  -h, --help       this text\n"
    "\n"
    "A variant that is refused or fails is a row with its error; the others\n"
    "still run, the exit status is 1, and no JSON or CSV is written.\n"
    "\n"
    "Example: moesim compare scenarios/mixtral-8x7b-h100x8.cfg \\\n"
    "           --vary model.router.capacity_factor=1.0,1.25,2.0 --vary parallel.ep=4,8\n"
    "Columns and schemas: docs/compare.md.\n";

void compare_plan_choice(const compare_plan *p, long index, int *choice)
{
    sweep_plan_choice(p, index, choice);
}

/* ---- result records ---- */

void compare_result_from_metrics(compare_result *r, const metrics *m)
{
    report_totals_t t;
    metrics_summary d, c, st;
    report_totals(m, &t);
    metrics_series_summarize(&m->dispatch_all, &d);
    metrics_series_summarize(&m->combine_all, &c);
    metrics_series_summarize(&m->batch_time, &st);
    memset(r, 0, sizeof(*r));
    r->code = ERR_OK;
    r->dropped_share = t.dropped_share;
    r->gpu_load_max_over_mean = t.gpu_max_over_mean;
    r->internode_byte_share = t.internode_share;
    r->dispatch_p50_s = d.p50_s;
    r->dispatch_p99_s = d.p99_s;
    r->combine_p50_s = c.p50_s;
    r->combine_p99_s = c.p99_s;
    r->step_p50_s = st.p50_s;
    r->throughput_tokens_per_s = t.throughput;
    r->sim_time_ps = m->sim_time_ps;
}

void compare_ratios(compare_result *r, long n)
{
    double first = n > 0 ? r[0].throughput_tokens_per_s : 0;
    for (long i = 0; i < n; i++)
        r[i].throughput_ratio = first > 0 ? r[i].throughput_tokens_per_s / first : 0;
}

/* ---- the table ---- */

/* The figures' columns: heading and width. */
enum { COL_DROPPED, COL_GPU, COL_INTER, COL_DP50, COL_DP99, COL_CP50, COL_CP99, COL_STEP,
       COL_THR, COL_RATIO, NCOLS };
static const struct {
    const char *head;
    int width;
} cols[NCOLS] = {{"dropped", 8},      {"gpu max/mean", 12}, {"inter-node", 10},
                 {"dispatch p50", 12}, {"dispatch p99", 12}, {"combine p50", 11},
                 {"combine p99", 11},  {"step p50", 9},      {"throughput", 14},
                 {"vs first", 8}};

/* Appends to buf (n bytes, k used); returns the new k, at most n - 1. */
static size_t put(char *buf, size_t n, size_t k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static size_t put(char *buf, size_t n, size_t k, const char *fmt, ...)
{
    if (n == 0 || k >= n - 1)
        return k;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + k, n - k, fmt, ap);
    va_end(ap);
    if (w < 0)
        return k;
    return k + (size_t)w < n - 1 ? k + (size_t)w : n - 1;
}

/* A varied key's column: as wide as the key or its widest value. */
static int vary_width(const compare_vary *v)
{
    size_t w = strlen(v->key);
    for (int i = 0; i < v->nvalues; i++)
        if (strlen(v->value[i]) > w)
            w = strlen(v->value[i]);
    return w > 1000 ? 1000 : (int)w;
}

static char *fmt_time(double s, char *buf, size_t n)
{
    return units_format_time(sim_time_from_s(s), buf, n);
}

char *compare_format_heading(const compare_plan *p, char *buf, size_t n)
{
    size_t k = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; i < p->nvary; i++)
        k = put(buf, n, k, "%s%*s", i ? "  " : "", vary_width(&p->vary[i]), p->vary[i].key);
    for (int c = 0; c < NCOLS; c++)
        k = put(buf, n, k, "%s%*s", k ? "  " : "", cols[c].width, cols[c].head);
    return buf;
}

char *compare_format_row(const compare_plan *p, long index, const compare_result *r,
                         char *buf, size_t n)
{
    int choice[COMPARE_MAX_VARY];
    compare_plan_choice(p, index, choice);
    char f[NCOLS][40];
    snprintf(f[COL_DROPPED], sizeof(f[0]), "%.2f%%", 100.0 * r->dropped_share);
    snprintf(f[COL_GPU], sizeof(f[0]), "%.3fx", r->gpu_load_max_over_mean);
    snprintf(f[COL_INTER], sizeof(f[0]), "%.1f%%", 100.0 * r->internode_byte_share);
    fmt_time(r->dispatch_p50_s, f[COL_DP50], sizeof(f[0]));
    fmt_time(r->dispatch_p99_s, f[COL_DP99], sizeof(f[0]));
    fmt_time(r->combine_p50_s, f[COL_CP50], sizeof(f[0]));
    fmt_time(r->combine_p99_s, f[COL_CP99], sizeof(f[0]));
    fmt_time(r->step_p50_s, f[COL_STEP], sizeof(f[0]));
    double thr = r->throughput_tokens_per_s; /* as report.c prints it */
    if (thr >= 1e6)
        snprintf(f[COL_THR], sizeof(f[0]), "%.3f M tok/s", thr / 1e6);
    else
        snprintf(f[COL_THR], sizeof(f[0]), "%.1f k tok/s", thr / 1e3);
    snprintf(f[COL_RATIO], sizeof(f[0]), "%.3fx", r->throughput_ratio);

    size_t k = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; i < p->nvary; i++)
        k = put(buf, n, k, "%s%*s", i ? "  " : "", vary_width(&p->vary[i]),
                p->vary[i].value[choice[i]]);
    for (int c = 0; c < NCOLS; c++)
        k = put(buf, n, k, "%s%*s", k ? "  " : "", cols[c].width, f[c]);
    return buf;
}

static size_t line_size(const compare_plan *p)
{
    size_t n = 256;
    for (int c = 0; c < NCOLS; c++)
        n += (size_t)cols[c].width + 2;
    for (int i = 0; i < p->nvary; i++)
        n += (size_t)vary_width(&p->vary[i]) + 2;
    return n;
}

int compare_write_table(FILE *f, const compare_meta *mt, const compare_plan *p,
                        const compare_result *r)
{
    size_t n = line_size(p);
    char *line = xmalloc(n, "table line");
    fprintf(f, "moesim %s compare: %s (seed %" PRIu64 "), %s, %ld variant%s\n", MOESIM_VERSION,
            mt->name, mt->seed, mt->file, p->variants, p->variants == 1 ? "" : "s");
    if (mt->nsets > 0) {
        fputs("  every variant:", f);
        for (int i = 0; i < mt->nsets; i++)
            fprintf(f, " %s", mt->sets[i]);
        fputc('\n', f);
    }
    fputc('\n', f);
    fprintf(f, "%s\n", compare_format_heading(p, line, n));
    for (long i = 0; i < p->variants; i++)
        fprintf(f, "%s\n", compare_format_row(p, i, &r[i], line, n));
    fputs("\ndispatch, combine: over batches and MoE layers; step: one forward pass;\n"
          "vs first: throughput over the first row's\n",
          f);
    free(line);
    return ferror(f) ? -1 : 0;
}

/* ---- JSON and CSV ---- */

int compare_write_json(FILE *f, const compare_meta *mt, const compare_plan *p,
                       const compare_result *r)
{
    fprintf(f, "{\n  \"schema\": \"%s\",\n  \"moesim_version\": \"%s\",\n", COMPARE_SCHEMA,
            MOESIM_VERSION);
    fputs("  \"scenario\": {\"name\": ", f);
    report_json_str(f, mt->name);
    fputs(", \"file\": ", f);
    report_json_str(f, mt->file);
    fprintf(f, ", \"seed\": %" PRIu64 ", \"set\": [", mt->seed);
    for (int i = 0; i < mt->nsets; i++) {
        fputs(i ? ", " : "", f);
        report_json_str(f, mt->sets[i]);
    }
    fputs("]},\n  \"vary\": [\n", f);
    for (int k = 0; k < p->nvary; k++) {
        fputs("    {\"key\": ", f);
        report_json_str(f, p->vary[k].key);
        fputs(", \"values\": [", f);
        for (int i = 0; i < p->vary[k].nvalues; i++) {
            fputs(i ? ", " : "", f);
            report_json_str(f, p->vary[k].value[i]);
        }
        fprintf(f, "]}%s\n", k + 1 < p->nvary ? "," : "");
    }
    fputs("  ],\n  \"variants\": [\n", f);
    int choice[COMPARE_MAX_VARY];
    for (long v = 0; v < p->variants; v++) {
        const compare_result *x = &r[v];
        compare_plan_choice(p, v, choice);
        fputs("    {\"set\": {", f);
        for (int k = 0; k < p->nvary; k++) {
            fputs(k ? ", " : "", f);
            report_json_str(f, p->vary[k].key);
            fputs(": ", f);
            report_json_str(f, p->vary[k].value[choice[k]]);
        }
        fputs("}, \"dropped_share\": ", f);
        report_json_num(f, x->dropped_share);
        fputs(", \"gpu_load_max_over_mean\": ", f);
        report_json_num(f, x->gpu_load_max_over_mean);
        fputs(", \"internode_byte_share\": ", f);
        report_json_num(f, x->internode_byte_share);
        fputs(", \"dispatch_s\": {\"p50\": ", f);
        report_json_num(f, x->dispatch_p50_s);
        fputs(", \"p99\": ", f);
        report_json_num(f, x->dispatch_p99_s);
        fputs("}, \"combine_s\": {\"p50\": ", f);
        report_json_num(f, x->combine_p50_s);
        fputs(", \"p99\": ", f);
        report_json_num(f, x->combine_p99_s);
        fputs("}, \"step_s\": {\"p50\": ", f);
        report_json_num(f, x->step_p50_s);
        fputs("}, \"throughput_tokens_per_s\": ", f);
        report_json_num(f, x->throughput_tokens_per_s);
        fputs(", \"throughput_ratio\": ", f);
        report_json_num(f, x->throughput_ratio);
        fprintf(f, ", \"sim_time_ps\": %" PRId64 "}%s\n", x->sim_time_ps,
                v + 1 < p->variants ? "," : "");
    }
    fputs("  ]\n}\n", f);
    return ferror(f) ? -1 : 0;
}

/* A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line
 * break. */
static void csv_str(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int compare_write_csv(FILE *f, const compare_plan *p, const compare_result *r)
{
    for (int k = 0; k < p->nvary; k++) {
        csv_str(f, p->vary[k].key);
        fputc(',', f);
    }
    fputs("dropped_share,gpu_load_max_over_mean,internode_byte_share,dispatch_p50_s,"
          "dispatch_p99_s,combine_p50_s,combine_p99_s,step_p50_s,throughput_tokens_per_s,"
          "throughput_ratio\n",
          f);
    int choice[COMPARE_MAX_VARY];
    for (long v = 0; v < p->variants; v++) {
        const compare_result *x = &r[v];
        compare_plan_choice(p, v, choice);
        for (int k = 0; k < p->nvary; k++) {
            csv_str(f, p->vary[k].value[choice[k]]);
            fputc(',', f);
        }
        const double fig[] = {x->dropped_share,  x->gpu_load_max_over_mean,
                              x->internode_byte_share, x->dispatch_p50_s,
                              x->dispatch_p99_s, x->combine_p50_s,
                              x->combine_p99_s,  x->step_p50_s,
                              x->throughput_tokens_per_s, x->throughput_ratio};
        for (size_t i = 0; i < sizeof(fig) / sizeof(fig[0]); i++)
            fprintf(f, i ? ",%.12g" : "%.12g", fig[i]);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}

/* ---- options ---- */

enum { O_VARY, O_SET, O_SEED, O_JOBS, O_JSON, O_CSV, O_QUIET, O_NO_PROGRESS };
static const opts_spec compare_spec[] = {
    [O_VARY] = {"vary", 0, OPTS_VALUE, "KEY=V1,V2,..."},
    [O_SET] = {"set", 0, OPTS_VALUE, "KEY=VALUE"},
    [O_SEED] = {"seed", 0, OPTS_VALUE, "a number"},
    [O_JOBS] = {"jobs", 0, OPTS_VALUE, "a number"},
    [O_JSON] = {"json", 0, OPTS_OUTPUT, "a file name"},
    [O_CSV] = {"csv", 0, OPTS_OUTPUT, "a file name"},
    [O_QUIET] = {"quiet", 0, OPTS_FLAG, NULL},
    [O_NO_PROGRESS] = {"no-progress", 0, OPTS_FLAG, NULL},
    {NULL, 0, 0, NULL},
};

typedef struct compare_opts {
    opts raw;
    const char *file;     /* NULL: the built-in default scenario */
    const char **sets;    /* nsets, then room for one set per varied key; owned */
    int nsets;
    char seed_set[40];
    sweep_plan plan;
    long jobs;            /* 0: the CPU cores */
    const char *json, *csv;
    int quiet, no_progress;
} compare_opts;

/* One option into o; ERR_INPUT after a usage error. */
static int take(compare_opts *o, int spec, const char *val)
{
    err_t e = ERR_INIT;
    uint64_t seed;
    char *end;
    switch (spec) {
    case O_VARY:
        if (sweep_plan_add(&o->plan, val, &e) < 0)
            return cmd_print_err(stderr, "moesim compare", &e);
        return 0;
    case O_SET: o->sets[o->nsets++] = val; return 0;
    case O_SEED:
        if (opts_parse_u64(val, &seed) < 0)
            return cmd_usage("compare", "--seed %.100s; allowed: a whole number from 0 to "
                                        "18446744073709551615 (2^64-1)", val);
        snprintf(o->seed_set, sizeof(o->seed_set), "seed=%llu", (unsigned long long)seed);
        return 0;
    case O_JOBS:
        errno = 0;
        o->jobs = strtol(val, &end, 10);
        if (end == val || *end || errno || o->jobs < 1 || o->jobs > SWEEP_MAX_JOBS)
            return cmd_usage("compare", "--jobs needs a whole number from 1 to 4096, not %.100s",
                             val);
        return 0;
    case O_JSON: o->json = val; return 0;
    case O_CSV: o->csv = val; return 0;
    case O_QUIET: o->quiet = 1; return 0;
    case O_NO_PROGRESS: o->no_progress = 1; return 0;
    }
    return 0;
}

/* Returns -1 when it printed help, 0 on success, ERR_INPUT after a usage
 * error (the caller releases o either way). */
static int parse_opts(int argc, char **argv, compare_opts *o)
{
    err_t e = ERR_INIT;
    if (opts_parse(compare_spec, argc, argv, &o->raw, &e) < 0)
        return cmd_usage("compare", "%s", e.msg);
    if (o->raw.help)
        return cmd_help("compare") == 0 ? -1 : ERR_INPUT;
    if (o->raw.npos > 1)
        return cmd_usage("compare", "unexpected argument %.200s (one scenario file at most)",
                         o->raw.pos[1]);
    o->file = o->raw.npos ? o->raw.pos[0] : NULL;
    o->sets = xcalloc((size_t)o->raw.nitem + SWEEP_MAX_VARY + 1, sizeof(*o->sets), "sets");
    for (int i = 0; i < o->raw.nitem; i++) {
        int rc = take(o, o->raw.item[i].spec, o->raw.item[i].value);
        if (rc)
            return rc;
    }
    if (o->plan.nvary == 0)
        return cmd_usage("compare",
                         "%s KEY=V1,V2,... is required (at least one varied key)", "--vary");
    /* --seed applies after every --set, whatever the order on the line */
    if (o->seed_set[0])
        o->sets[o->nsets++] = o->seed_set;
    const opts_file files[] = {{"the scenario", o->file, 0, NULL}, {"--json", o->json, 1, NULL},
                               {"--csv", o->csv, 1, NULL}};
    if (opts_check_files(files, 3, &e) < 0)
        return cmd_print_err(stderr, "moesim compare", &e);
    if ((o->json && strcmp(o->json, "-") == 0) || (o->csv && strcmp(o->csv, "-") == 0))
        o->quiet = 1; /* stdout carries that output alone */
    return 0;
}

/* ---- running the variants ---- */

/* The sets of variant v: the common ones, then the varied keys' (in o's
 * spare room, so a child can use it freely). */
static const char **variant_sets(const compare_opts *o, long v, const char **sets)
{
    memcpy(sets, o->sets, (size_t)o->nsets * sizeof(*sets));
    sweep_plan_sets(&o->plan, v, sets + o->nsets);
    return sets;
}

/* What a child does (sweep_fn): one variant, start to end, into record. */
static int run_variant(void *ctx, long index, void *record, err_t *e)
{
    const compare_opts *o = ctx;
    const char **sets = xcalloc((size_t)(o->nsets + o->plan.nvary), sizeof(*sets), "sets");
    scenario s;
    memset(&s, 0, sizeof(s));
    play_t *p = NULL;
    int rc = -1;
    if (cli_load(o->file, variant_sets(o, index, sets), o->nsets + o->plan.nvary, &s, e) == 0) {
        s.output.trace[0] = s.output.timeline[0] = '\0'; /* one file, many writers */
        if ((p = play_new(&s, e)) && play_run(p, NULL, NULL, e) == 0) {
            compare_result_from_metrics(record, play_metrics(p));
            rc = 0;
        }
    }
    play_free(p);
    scenario_fini(&s);
    free(sets);
    return rc;
}

/* "compare: D/N variants done, R running" on a terminal. */
static void show_progress(void *ctx, long done, long total, int running)
{
    (void)ctx;
    fprintf(stderr, "\rcompare: %ld/%ld variants done, %d running   ", done, total, running);
    fflush(stderr);
}

/* Loads every variant in the parent, keeping the first loaded one's name,
 * file and seed. Returns how many loaded; with `say`, prints each refusal
 * (otherwise the refused variants' rows will). */
static long validate(const compare_opts *o, int say, compare_meta *mt, char *name,
                     size_t name_n, char *file, size_t file_n)
{
    const sweep_plan *p = &o->plan;
    const char **sets = xcalloc((size_t)(o->nsets + p->nvary), sizeof(*sets), "sets");
    long loaded = 0;
    for (long v = 0; v < p->variants && !cmd_signal(); v++) {
        scenario s;
        memset(&s, 0, sizeof(s));
        err_t e = ERR_INIT;
        if (cli_load(o->file, variant_sets(o, v, sets), o->nsets + p->nvary, &s, &e) < 0) {
            if (!say)
                goto next;
            char msg[1400], label[512];
            err_format(&e, msg, sizeof(msg));
            fprintf(stderr, "moesim compare: variant %ld of %ld (%s): %s\n", v + 1,
                    p->variants, sweep_plan_label(p, v, label, sizeof(label)), msg);
        } else if (loaded++ == 0) {
            snprintf(name, name_n, "%s", s.name);
            snprintf(file, file_n, "%s", s.file);
            mt->seed = s.seed;
        }
    next:
        scenario_fini(&s);
    }
    free(sets);
    return loaded;
}

/* The table when some variant failed: its row says why (the writers of
 * compare_write_table take only complete results). */
static int write_table_with_errors(FILE *f, const compare_meta *mt, const sweep_plan *p,
                                   const compare_result *r)
{
    size_t n = 4096;
    for (int i = 0; i < p->nvary; i++)
        n += strlen(p->vary[i].key) + 1024;
    char *line = xmalloc(n, "table line");
    fprintf(f, "moesim %s compare: %s (seed %" PRIu64 "), %s, %ld variant%s\n", MOESIM_VERSION,
            mt->name, mt->seed, mt->file, p->variants, p->variants == 1 ? "" : "s");
    if (mt->nsets > 0) {
        fputs("  every variant:", f);
        for (int i = 0; i < mt->nsets; i++)
            fprintf(f, " %s", mt->sets[i]);
        fputc('\n', f);
    }
    fprintf(f, "\n%s\n", compare_format_heading(p, line, n));
    for (long v = 0; v < p->variants; v++) {
        if (r[v].code == ERR_OK)
            fprintf(f, "%s\n", compare_format_row(p, v, &r[v], line, n));
        else
            fprintf(f, "%s  failed: %s\n", sweep_plan_label(p, v, line, n), r[v].error);
    }
    fputs("\ndispatch, combine: over batches and MoE layers; step: one forward pass;\n"
          "vs first: throughput over the first row that ran\n",
          f);
    free(line);
    return ferror(f) ? -1 : 0;
}

/* Runs the variants into results; returns the count that failed (their
 * errors printed), or -1 when a signal stopped the sweep. */
static long run_all(compare_opts *o, compare_result *results)
{
    long n = o->plan.variants, failed = 0;
    long jobs = o->jobs;
    if (jobs == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores >= 1 ? (cores > SWEEP_MAX_JOBS ? SWEEP_MAX_JOBS : cores) : 1;
    }
    int tty = !o->no_progress && isatty(fileno(stderr));
    sweep_status *st = xcalloc((size_t)n, sizeof(*st), "variant status");
    sweep_config c = {.backend = SWEEP_FORK, .variants = n, .jobs = jobs,
                      .record_size = sizeof(compare_result), .run = run_variant, .ctx = o,
                      .progress = tty ? show_progress : NULL, .stop = cmd_signal};
    err_t e = ERR_INIT;
    int rc = sweep_run(&c, results, st, &e);
    if (tty)
        fprintf(stderr, "\r%70s\r", "");
    char label[512];
    for (long v = 0; v < n && rc == 0; v++) {
        compare_result *r = &results[v];
        r->code = st[v].code;
        if (st[v].code == ERR_OK)
            continue;
        snprintf(r->error, sizeof(r->error), "%s", st[v].error);
        fprintf(stderr, "moesim compare: variant %ld of %ld (%s) failed: %s\n", v + 1, n,
                sweep_plan_label(&o->plan, v, label, sizeof(label)), r->error);
        failed++;
    }
    free(st);
    return rc < 0 ? -1 : failed;
}

/* The outputs of a sweep in which every variant ran: JSON, CSV, table. */
static int write_outputs(const compare_opts *o, const compare_meta *mt,
                         const compare_result *results, err_t *e)
{
    outfile json = OUTFILE_INIT, csv = OUTFILE_INIT;
    int rc = -1;
    if ((o->json && outfile_open(&json, o->json, e) < 0) ||
        (o->csv && outfile_open(&csv, o->csv, e) < 0))
        goto done;
    if (json.f) /* write errors show in commit */
        compare_write_json(json.f, mt, &o->plan, results);
    if (csv.f)
        compare_write_csv(csv.f, &o->plan, results);
    if (json.f && outfile_commit(&json, e) < 0)
        goto done;
    if (csv.f && outfile_commit(&csv, e) < 0) {
        if (o->json && strcmp(o->json, "-") != 0)
            remove(o->json); /* both files or neither */
        goto done;
    }
    if (!o->quiet && (compare_write_table(stdout, mt, &o->plan, results) < 0 ||
                      fflush(stdout) != 0)) {
        err_set(e, ERR_RUN, "stdout", 0, NULL, "cannot write the table");
        goto done;
    }
    rc = 0;
done:
    outfile_abort(&json);
    outfile_abort(&csv);
    return rc;
}

/* Validate, run, report; the exit status. A variant the loader refuses or
 * that fails to run is a row with its error and exit status 1 (JSON and
 * CSV are written only when every variant ran); when none loads, 2. */
static int compare(compare_opts *o)
{
    char name[128] = "", file[256] = "";
    compare_meta mt = {.name = name, .file = file, .sets = o->sets, .nsets = o->nsets};
    long n = o->plan.variants;
    if (validate(o, 0, &mt, name, sizeof(name), file, sizeof(file)) == 0 && !cmd_signal()) {
        validate(o, 1, &mt, name, sizeof(name), file, sizeof(file)); /* say why */
        return ERR_INPUT;
    }
    compare_result *results = xcalloc((size_t)n, sizeof(*results), "compare results");
    long failed = cmd_signal() ? -1 : run_all(o, results);
    int rc = 0;
    err_t e = ERR_INIT;
    if (failed < 0 || cmd_signal()) {
        rc = -1;
    } else if (failed > 0) {
        long first = 0; /* "vs first": over the first row that ran */
        while (first < n && results[first].code != ERR_OK)
            first++;
        compare_ratios(results + first, n - first);
        if (!o->quiet)
            write_table_with_errors(stdout, &mt, &o->plan, results);
        rc = ERR_RUN;
    } else {
        compare_ratios(results, n);
        if (write_outputs(o, &mt, results, &e) < 0)
            rc = cmd_signal() ? -1 : cmd_print_err(stderr, "moesim compare", &e);
    }
    free(results);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    compare_opts o;
    memset(&o, 0, sizeof(o));
    o.plan = (sweep_plan)SWEEP_PLAN_INIT;
    int rc = parse_opts(argc, argv, &o);
    if (rc == 0 && (rc = compare(&o)) < 0) {
        fprintf(stderr, "moesim compare: interrupted (signal %d); no output written\n",
                cmd_signal());
        rc = cmd_signal_status();
    }
    opts_fini(&o.raw);
    free(o.sets);
    sweep_plan_fini(&o.plan);
    return rc < 0 ? 0 : rc;
}
