/*
 * run.c - `moesim run`: load a scenario, simulate it, report.
 *
 * Everything that can be refused is refused before the simulation starts:
 * the scenario, the options, and every output path (opts_check_files: one
 * file named twice, an input named as an output, a directory that is
 * missing or cannot be written). Output files are written whole or not at
 * all (outfile.h), so a failed or interrupted run leaves nothing behind: a
 * signal sets a flag (cmd.h), the progress hook asks the run to stop at the
 * next batch, and the normal unwinding removes every temporary file.
 */
#include "moesim/cmd.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "moesim/csv.h"
#include "moesim/cli.h"
#include "moesim/opts.h"
#include "moesim/outfile.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/units.h"

const char cmd_run_usage[] =
    "usage: moesim run [SCENARIO] [options]\n"
    "\n"
    "Simulates SCENARIO (a libconfig file; without one, the built-in default\n"
    "scenario mixtral-8x7b-h100x8.cfg) and prints a report on stdout.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE  override a scenario key, e.g. --set model.top_k=1 or\n"
    "                   --set cluster.gpu=H800-SXM (repeatable; the value is written\n"
    "                   as in a scenario file, a string may drop its quotes)\n"
    "  --seed N         master seed of every random stream (same as --set seed=N;\n"
    "                   0 to 2^63-1)\n"
    "  --json FILE      also write the report as JSON (schema moesim.report/1)\n"
    "  --trace FILE     also write the run's routing trace (docs/trace.md), which\n"
    "                   workload.source.kind = \"trace\" replays\n"
    "  --csv DIR        also write the results as CSV files in DIR (totals, layers,\n"
    "                   experts, links; schema moesim.csv/1)\n"
    "  --timeline FILE  also write the run's phases, GPU by GPU, as Chrome trace\n"
    "                   events (open in ui.perfetto.dev; output.timeline_batches\n"
    "                   limits it to the first batches)\n"
    "  --quiet          print no table (errors still go to stderr)\n"
    "  --no-progress    no progress line on stderr\n"
    "  -h, --help       this text\n"
    "\n"
    "FILE - writes to stdout, and then no table is printed. Output files are\n"
    "written whole or not at all; the outputs must be distinct files, none of\n"
    "them an input, each in a directory that exists.\n";

enum { O_SET, O_SEED, O_JSON, O_TRACE, O_CSV, O_TIMELINE, O_QUIET, O_NO_PROGRESS };
static const opts_spec run_spec[] = {
    [O_SET] = {"set", 0, OPTS_VALUE, "KEY=VALUE"},
    [O_SEED] = {"seed", 0, OPTS_VALUE, "a number"},
    [O_JSON] = {"json", 0, OPTS_OUTPUT, "a file name"},
    [O_TRACE] = {"trace", 0, OPTS_OUTPUT, "a file name"},
    [O_CSV] = {"csv", 0, OPTS_OUTPUT, "a directory"},
    [O_TIMELINE] = {"timeline", 0, OPTS_OUTPUT, "a file name"},
    [O_QUIET] = {"quiet", 0, OPTS_FLAG, NULL},
    [O_NO_PROGRESS] = {"no-progress", 0, OPTS_FLAG, NULL},
    {NULL, 0, 0, NULL},
};

/* The files report_csv writes inside --csv DIR (csv.h). */
static const char *const csv_files[] = {"totals.csv", "layers.csv", "experts.csv", "links.csv",
                                        NULL};

typedef struct run_opts {
    opts raw;
    const char *file;  /* NULL: the built-in default scenario */
    const char **sets; /* nsets, --seed last; owned array */
    int nsets;
    char seed_set[40];
    const char *json, *trace, *timeline, *csv;
    int quiet, no_progress;
} run_opts;

static void run_opts_fini(run_opts *o)
{
    opts_fini(&o->raw);
    free(o->sets);
}

/* Returns -1 when it printed help (exit 0), 0 on success, ERR_INPUT after a
 * usage error. */
static int parse(int argc, char **argv, run_opts *o)
{
    const char *cmd = "run";
    memset(o, 0, sizeof(*o));
    err_t e = ERR_INIT;
    if (opts_parse(run_spec, argc, argv, &o->raw, &e) < 0)
        return cmd_usage(cmd, "%s", e.msg);
    if (o->raw.help)
        return cmd_help(cmd) == 0 ? -1 : ERR_INPUT;
    if (o->raw.npos > 1)
        return cmd_usage(cmd, "unexpected argument %.200s (one scenario file at most)",
                         o->raw.pos[1]);
    o->file = o->raw.npos ? o->raw.pos[0] : NULL;
    o->sets = xcalloc((size_t)o->raw.nitem + 1, sizeof(*o->sets), "--set options");
    for (int i = 0; i < o->raw.nitem; i++) {
        const char *v = o->raw.item[i].value;
        uint64_t seed;
        switch (o->raw.item[i].spec) {
        case O_SET: o->sets[o->nsets++] = v; break;
        case O_SEED:
            if (opts_parse_u64(v, &seed) < 0 || seed > INT64_MAX) /* the scenario's range */
                return cmd_usage(cmd, "--seed %.100s; allowed: a whole number from 0 to "
                                      "9223372036854775807 (2^63-1)", v);
            snprintf(o->seed_set, sizeof(o->seed_set), "seed=%llu", (unsigned long long)seed);
            break;
        case O_JSON: o->json = v; break;
        case O_TRACE: o->trace = v; break;
        case O_CSV: o->csv = v; break;
        case O_TIMELINE: o->timeline = v; break;
        case O_QUIET: o->quiet = 1; break;
        case O_NO_PROGRESS: o->no_progress = 1; break;
        }
    }
    if (o->seed_set[0]) /* --seed applies after every --set, whatever the order */
        o->sets[o->nsets++] = o->seed_set;
    return 0;
}

/* ---- progress on a terminal, and the stop a signal asks for ---- */

typedef struct progress {
    int tty;
    struct timespec start;
    int shown;
} progress;

static double wall_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static int on_progress(void *ctx, int done, int total, sim_time_t now)
{
    progress *pr = ctx;
    if (cmd_signal())
        return 1;
    double el = wall_since(&pr->start);
    if (!pr->tty || el < 1.0) /* short runs stay quiet */
        return 0;
    char t[32];
    double eta = el / done * (total - done);
    fprintf(stderr, "\rbatch %d/%d, simulated %s, ETA %.0f s   ", done, total,
            units_format_time(now, t, sizeof(t)), eta);
    fflush(stderr);
    pr->shown = 1;
    return 0;
}

/* ---- run ---- */

/* Puts --trace and --timeline into the scenario (which sim/play reads) and
 * checks every file before anything is written. */
static int prepare_outputs(run_opts *o, scenario *s, const char **jpath, err_t *e)
{
    const char *paths[2] = {o->trace, o->timeline};
    char *fields[2] = {s->output.trace, s->output.timeline};
    const size_t sizes[2] = {sizeof(s->output.trace), sizeof(s->output.timeline)};
    for (int i = 0; i < 2; i++) {
        if (paths[i] && strlen(paths[i]) >= sizes[i])
            return err_set(e, ERR_INPUT, NULL, 0, NULL, "--%s: the file name is longer than "
                           "%zu bytes", i ? "timeline" : "trace", sizes[i] - 1);
        if (paths[i])
            snprintf(fields[i], sizes[i], "%s", paths[i]);
    }
    *jpath = o->json ? o->json : (s->output.json[0] ? s->output.json : NULL);
    const opts_file files[] = {
        {"the scenario", o->file, 0, NULL},
        {"the replayed trace", s->workload.source.kind == SOURCE_TRACE
                                   ? s->workload.trace_file : NULL, 0, NULL},
        {"--json", *jpath, 1, NULL},
        {"--trace", s->output.trace[0] ? s->output.trace : NULL, 1, NULL},
        {"--timeline", s->output.timeline[0] ? s->output.timeline : NULL, 1, NULL},
        {"--csv", o->csv, 1, csv_files},
    };
    if (opts_check_files(files, (int)(sizeof(files) / sizeof(files[0])), e) < 0)
        return -1;
    if (o->csv && strcmp(o->csv, "-") == 0)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "--csv -: the CSV output is a directory of six files; allowed: a "
                       "directory name");
    for (int i = 0; i < (int)(sizeof(files) / sizeof(files[0])); i++)
        if (files[i].output && files[i].path && strcmp(files[i].path, "-") == 0)
            o->quiet = 1; /* stdout carries that output alone */
    return 0;
}

/* The results, once the run is done: CSV, JSON, then the table. */
static int write_results(const run_opts *o, const scenario *s, play_t *p, outfile *json,
                         err_t *e)
{
    const metrics *m = play_metrics(p);
    if (o->csv && report_csv(o->csv, s, m, play_topo(p), e) < 0)
        return -1;
    if (json->f) {
        report_json(json->f, s, m, play_topo(p)); /* a write error shows in commit */
        if (outfile_commit(json, e) < 0)
            return -1;
    }
    if (!o->quiet && report_text(stdout, s, m, play_topo(p)) < 0)
        return err_set(e, ERR_RUN, "stdout", 0, NULL, "cannot write the report");
    return 0;
}

int cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) {
        run_opts_fini(&o);
        return rc < 0 ? 0 : rc;
    }
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    play_t *p = NULL;
    outfile json = OUTFILE_INIT;
    const char *jpath = NULL;
    progress pr = {0};

    if (cli_load(o.file, o.sets, o.nsets, &s, &e) < 0 || prepare_outputs(&o, &s, &jpath, &e) < 0)
        goto fail;
    if (jpath && outfile_open(&json, jpath, &e) < 0)
        goto fail;
    if (cmd_signal() || !(p = play_new(&s, &e)))
        goto fail;
    pr.tty = !o.no_progress && s.output.progress && isatty(fileno(stderr));
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    if (play_run(p, on_progress, &pr, &e) < 0)
        goto fail;
    if (pr.shown)
        fprintf(stderr, "\r%60s\r", "");
    if (cmd_signal() || write_results(&o, &s, p, &json, &e) < 0)
        goto fail;
    play_free(p);
    scenario_fini(&s);
    run_opts_fini(&o);
    return 0;

fail:
    outfile_abort(&json);
    play_free(p);
    scenario_fini(&s);
    run_opts_fini(&o);
    if (cmd_signal()) { /* interrupted: the files are gone, say so briefly */
        fprintf(stderr, "moesim run: interrupted (signal %d); no output written\n",
                cmd_signal());
        return cmd_signal_status();
    }
    return cmd_print_err(stderr, NULL, &e);
}
