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
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moesim/cmd.h"
#include "moesim/cli.h"
#include "moesim/opts.h"
#include "moesim/outfile.h"
#include "moesim/play.h"
#include "moesim/scenario.h"

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
    "                   0 to 2^63-1)\n"
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

/* ---- the outputs' view of the sweep ---- */

/* What the outputs say about the scenario; all borrowed. `sets` are the
 * --set overrides (and "seed=N" from --seed) applied to every variant. */
typedef struct compare_meta {
    const char *name, *file;
    uint64_t seed; /* the first variant's seed */
    const char *const *sets;
    int nsets;
} compare_meta;

/* The plain data compare_out writes from (compare_out.h): the plan's keys
 * and values, each variant's values, its record and its error. Owns its
 * arrays; sweep_view_fini releases them. */
typedef struct sweep_view {
    compare_out_sweep sw;
    const char *key[SWEEP_MAX_VARY];
    int nvalues[SWEEP_MAX_VARY];
    const char *const *values[SWEEP_MAX_VARY];
    const char **cell;
    compare_out_record *rec;
    const char **error;
} sweep_view;

/* Fills v from the plan and the results (all borrowed, and must outlive v);
 * sets the records' throughput ratios. */
static void sweep_view_init(sweep_view *v, const sweep_plan *p, const compare_meta *mt,
                            const compare_result *results)
{
    memset(v, 0, sizeof(*v));
    long n = p->variants;
    v->cell = xcalloc((size_t)n * (size_t)(p->nvary ? p->nvary : 1), sizeof(*v->cell), "rows");
    v->rec = xcalloc((size_t)n, sizeof(*v->rec), "records");
    v->error = xcalloc((size_t)n, sizeof(*v->error), "row errors");
    for (int k = 0; k < p->nvary; k++) {
        v->key[k] = p->vary[k].key;
        v->nvalues[k] = p->vary[k].nvalues;
        v->values[k] = p->vary[k].value;
    }
    int choice[SWEEP_MAX_VARY];
    for (long i = 0; i < n; i++) {
        sweep_plan_choice(p, i, choice);
        for (int k = 0; k < p->nvary; k++)
            v->cell[i * p->nvary + k] = p->vary[k].value[choice[k]];
        v->rec[i] = results[i].fig;
        v->error[i] = results[i].code == ERR_OK ? NULL : results[i].error;
    }
    compare_out_ratios(v->rec, n, v->error);
    v->sw = (compare_out_sweep){.name = mt->name, .file = mt->file, .seed = mt->seed,
                                .sets = mt->sets, .nsets = mt->nsets, .nkeys = p->nvary,
                                .key = v->key, .nvalues = v->nvalues, .values = v->values,
                                .nrows = n, .cell = v->cell, .rec = v->rec, .error = v->error};
}

static void sweep_view_fini(sweep_view *v)
{
    free(v->cell);
    free(v->rec);
    free(v->error);
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
        if (opts_parse_u64(val, &seed) < 0 || seed > INT64_MAX) /* the scenario's range */
            return cmd_usage("compare", "--seed %.100s; allowed: a whole number from 0 to "
                                        "9223372036854775807 (2^63-1)", val);
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
            compare_out_from_run(&((compare_result *)record)->fig, &s, play_metrics(p),
                                 play_topo(p));
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

/* The table when some variant failed: its row says why. */
static int write_table_with_errors(FILE *f, const compare_meta *mt, const sweep_plan *p,
                                   const compare_result *r)
{
    sweep_view view;
    sweep_view_init(&view, p, mt, r);
    int rc = compare_out_table(f, &view.sw);
    sweep_view_fini(&view);
    return rc;
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
    sweep_view view;
    sweep_view_init(&view, &o->plan, mt, results);
    int rc = -1;
    if ((o->json && outfile_open(&json, o->json, e) < 0) ||
        (o->csv && outfile_open(&csv, o->csv, e) < 0))
        goto done;
    if (json.f) /* write errors show in commit */
        compare_out_json(json.f, &view.sw);
    if (csv.f)
        compare_out_csv(csv.f, &view.sw);
    if (json.f && outfile_commit(&json, e) < 0)
        goto done;
    if (csv.f && outfile_commit(&csv, e) < 0) {
        if (o->json && strcmp(o->json, "-") != 0)
            remove(o->json); /* both files or neither */
        goto done;
    }
    if (!o->quiet && (compare_out_table(stdout, &view.sw) < 0 || fflush(stdout) != 0)) {
        err_set(e, ERR_RUN, "stdout", 0, NULL, "cannot write the table");
        goto done;
    }
    rc = 0;
done:
    outfile_abort(&json);
    outfile_abort(&csv);
    sweep_view_fini(&view);
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
        if (!o->quiet)
            write_table_with_errors(stdout, &mt, &o->plan, results);
        rc = ERR_RUN;
    } else {
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
