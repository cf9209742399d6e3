/*
 * cli.c - the command line: parse arguments, load the scenario, run, report.
 *
 * This is the one place that prints diagnostics and decides the exit status
 * (0 ok, 1 failed run, 2 bad input). Output files are written under a
 * temporary name beside their destination and renamed into place only when
 * the whole run has succeeded, so a failure leaves nothing half-written.
 */
#include "moesim/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "moesim/base.h"
#include "moesim/coll.h"
#include "moesim/compare.h"
#include "moesim/csv.h"
#include "moesim/outfile.h"
#include "moesim/place.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/units.h"

#define MAX_SETS 256

static const char usage_main[] =
    "usage: moesim <command> [options]\n"
    "\n"
    "moesim simulates Mixture-of-Experts models on GPU clusters: real routing of\n"
    "token streams, expert capacity and overflow, all-to-all times and throughput.\n"
    "\n"
    "commands:\n"
    "  run [SCENARIO]   simulate a scenario (none: the built-in Mixtral 8x7B on 8 H100)\n"
    "  check SCENARIO   validate a scenario file, run nothing\n"
    "  compare SCENARIO --vary KEY=V1,V2,...  the scenario under each value, side by\n"
    "                   side, in parallel processes (compare --help)\n"
    "  place --loads F  an expert placement from a load table, as JSON (place --help)\n"
    "  collective SCENARIO  collectives/MoE all-to-all, nccl-tests style (collective --help)\n"
    "  help [COMMAND]   this text, or a command's options; 'help keys': every scenario key\n"
    "\n"
    "  moesim --version prints the version.\n"
    "Exit status: 0 success, 1 the run failed, 2 bad input.\n"
    "Scenario keys: docs/scenario.md. Output schema: docs/output.md.\n";

static const char usage_run[] =
    "usage: moesim run [SCENARIO] [options]\n"
    "\n"
    "Simulates SCENARIO (a libconfig file; without one, the built-in default\n"
    "scenario mixtral-8x7b-h100x8.cfg) and prints a report on stdout.\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE  override a scenario key, e.g. --set model.top_k=1 or\n"
    "                   --set cluster.gpu=H800-SXM (repeatable; the value is written\n"
    "                   as in a scenario file, a string may drop its quotes)\n"
    "  --seed N         master seed of every random stream (same as --set seed=N)\n"
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
    "  -h, --help       this text\n";

static const char usage_check[] =
    "usage: moesim check SCENARIO [--set KEY=VALUE]...\n"
    "\n"
    "Loads and validates SCENARIO with the same rules as run (a routing trace it\n"
    "replays is read whole and checked against the scenario), prints a one-line\n"
    "summary and exits 0, or prints the first error and exits 2.\n";

typedef struct cli_opts {
    const char *file;
    const char *sets[MAX_SETS];
    int nsets;
    char seed_set[64];
    const char *json, *trace, *timeline, *csv;
    int quiet, no_progress;
} cli_opts;

/* Does argv[*i] name option `name`, as "--name VALUE" or "--name=VALUE"?
 * Then *val is the value (NULL if none follows) and *i moves past it. */
static int opt_value(const char *name, int argc, char **argv, int *i, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    *val = a[n] == '=' ? a + n + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    return 1;
}

/* An output path option's value into *out: present, not empty, and short
 * enough for the scenario's field (max bytes with its NUL). what: "a file
 * name", "a directory". */
static int opt_path(const char *cmd, const char *name, const char *what, const char *val,
                    size_t max, const char **out)
{
    if (!val || !*val)
        return err_usage(cmd, "%s needs %s", name, what);
    if (strlen(val) >= max)
        return err_usage(cmd, "%s: the file name is too long", name);
    *out = val;
    return 0;
}

/* Parses the arguments after the command. Returns -1 when it printed help
 * (exit 0), 0 on success, ERR_INPUT after printing a usage error. */
static int parse_opts(const char *cmd, int argc, char **argv, cli_opts *o)
{
    memset(o, 0, sizeof(*o));
    const int run = strcmp(cmd, "run") == 0;
    const scenario *sc = NULL; /* for the sizes of the output fields */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        int rc = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(run ? usage_run : usage_check, stdout);
            return -1;
        }
        if (opt_value("--set", argc, argv, &i, &val)) {
            if (!val)
                return err_usage(cmd, "%s needs KEY=VALUE", "--set");
            if (o->nsets == MAX_SETS)
                return err_usage(cmd, "more than %s --set options", "256");
            o->sets[o->nsets++] = val;
        } else if (run && opt_value("--seed", argc, argv, &i, &val)) {
            if (!val)
                return err_usage(cmd, "%s needs a number", "--seed");
            snprintf(o->seed_set, sizeof(o->seed_set), "seed=%s", val);
        } else if (run && opt_value("--json", argc, argv, &i, &val)) {
            rc = opt_path(cmd, "--json", "a file name", val, PATH_MAX, &o->json);
        } else if (run && opt_value("--trace", argc, argv, &i, &val)) {
            rc = opt_path(cmd, "--trace", "a file name", val, sizeof(sc->output.trace),
                          &o->trace);
        } else if (run && opt_value("--timeline", argc, argv, &i, &val)) {
            rc = opt_path(cmd, "--timeline", "a file name", val, sizeof(sc->output.timeline),
                          &o->timeline);
        } else if (run && opt_value("--csv", argc, argv, &i, &val)) {
            rc = opt_path(cmd, "--csv", "a directory", val, PATH_MAX, &o->csv);
        } else if (run && strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (run && strcmp(a, "--no-progress") == 0) {
            o->no_progress = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return err_usage(cmd, "unknown option %s", a);
        } else if (!o->file) {
            o->file = a;
        } else {
            return err_usage(cmd, "unexpected argument %s (one scenario file at most)", a);
        }
        if (rc)
            return rc;
    }
    /* --seed applies after every --set, whatever the order on the line. */
    if (o->seed_set[0]) {
        if (o->nsets == MAX_SETS)
            return err_usage(cmd, "more than %s --set options", "256");
        o->sets[o->nsets++] = o->seed_set;
    }
    return 0;
}

static int print_err(const err_t *e)
{
    return err_print(stderr, NULL, e);
}

static int load(const cli_opts *o, scenario *s, err_t *e)
{
    if (o->file)
        return scenario_load_file(o->file, o->sets, o->nsets, s, e);
    char name[128];
    snprintf(name, sizeof(name), "%s (built-in)", cli_default_scenario_file);
    return scenario_load_string(cli_default_scenario_text, name, o->sets, o->nsets, s, e);
}

/* ---- progress on a terminal ---- */

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

static void on_progress(void *ctx, int done, int total, sim_time_t now)
{
    progress *pr = ctx;
    double el = wall_since(&pr->start);
    if (!pr->tty || el < 1.0) /* short runs stay quiet */
        return;
    char t[32];
    double eta = el / done * (total - done);
    fprintf(stderr, "\rbatch %d/%d, simulated %s, ETA %.0f s   ", done, total,
            units_format_time(now, t, sizeof(t)), eta);
    fflush(stderr);
    pr->shown = 1;
}

/* ---- commands ---- */

static int cmd_check(int argc, char **argv)
{
    cli_opts o;
    int rc = parse_opts("check", argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!o.file)
        return err_usage("check", "%s: a scenario file is required", "check");
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    rc = 0;
    if (load(&o, &s, &e) < 0 ||
        (s.workload.source.kind == SOURCE_TRACE && play_check_trace(&s, &e) < 0)) {
        rc = print_err(&e);
    } else {
        gpu_memory_shape sh;
        gpu_memory need;
        scenario_host host;
        scenario_memory(&s, &sh, &need);
        scenario_host_memory(&s, &host);
        printf("%s: ok: %s, %d layers (%d MoE), %d experts top-%d, %d x %d %s\n", s.file,
               s.name, s.model.layers, s.moe_layers, s.model.experts, s.model.top_k,
               s.cluster.topo.nodes, s.cluster.topo.gpus_per_node, s.cluster.gpu.name);
        printf("memory: %.1f GB per GPU of %.1f GB; the simulator's own about %.1f GB of "
               "%.1f GB (limits.host_memory)\n",
               need.total / 1e9, s.cluster.gpu.hbm_bytes / 1e9, host.total / 1e9,
               s.limits.host_memory / 1e9);
    }
    scenario_fini(&s);
    return rc;
}

static int cmd_run(int argc, char **argv)
{
    cli_opts o;
    int rc = parse_opts("run", argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;

    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    play_t *p = NULL;
    outfile json = OUTFILE_INIT;
    const char *jpath = NULL;
    progress pr = {0};

    if (load(&o, &s, &e) < 0)
        goto fail;
    if (o.trace)
        snprintf(s.output.trace, sizeof(s.output.trace), "%s", o.trace);
    if (o.timeline)
        snprintf(s.output.timeline, sizeof(s.output.timeline), "%s", o.timeline);
    jpath = o.json ? o.json : (s.output.json[0] ? s.output.json : NULL);
    if (jpath && outfile_open(&json, jpath, &e) < 0)
        goto fail;
    if (!(p = play_new(&s, &e)))
        goto fail;

    pr.tty = !o.no_progress && s.output.progress && isatty(fileno(stderr));
    clock_gettime(CLOCK_MONOTONIC, &pr.start);
    if (play_run(p, on_progress, &pr, &e) < 0)
        goto fail;
    if (pr.shown)
        fprintf(stderr, "\r%60s\r", "");

    const metrics *m = play_metrics(p);
    if (o.csv && report_csv(o.csv, &s, m, play_topo(p), &e) < 0)
        goto fail;
    if (json.f) {
        report_json(json.f, &s, m, play_topo(p)); /* a write error shows in commit */
        if (outfile_commit(&json, &e) < 0)
            goto fail;
    }
    if (!o.quiet && report_text(stdout, &s, m, play_topo(p)) < 0) {
        err_set(&e, ERR_RUN, "stdout", 0, NULL, "cannot write the report");
        goto fail;
    }
    play_free(p);
    scenario_fini(&s);
    return 0;

fail:
    outfile_abort(&json);
    play_free(p);
    scenario_fini(&s);
    return print_err(&e);
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return ERR_INPUT;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("moesim %s\n", MOESIM_VERSION);
        return 0;
    }
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        const char *topic = argc > 2 ? argv[2] : "";
        if (strcmp(topic, "run") == 0)
            fputs(usage_run, stdout);
        else if (strcmp(topic, "check") == 0)
            fputs(usage_check, stdout);
        else if (strcmp(topic, "keys") == 0)
            scenario_write_keys_md(stdout);
        else if (strcmp(topic, "place") == 0 || strcmp(topic, "collective") == 0 ||
                 strcmp(topic, "compare") == 0) {
            char help_arg[] = "--help";
            char *hv[] = {help_arg, NULL};
            if (strcmp(topic, "compare") == 0)
                return compare_main(1, hv);
            return topic[0] == 'p' ? place_main(1, hv) : coll_main(1, hv);
        } else if (topic[0])
            return err_usage(NULL, "no help on '%s'", topic);
        else
            fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 2, argv + 2);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (strcmp(cmd, "place") == 0)
        return place_main(argc - 2, argv + 2);
    if (strcmp(cmd, "collective") == 0)
        return coll_main(argc - 2, argv + 2);
    if (strcmp(cmd, "compare") == 0)
        return compare_main(argc - 2, argv + 2);
    return err_usage(NULL, "unknown command '%s'", cmd);
}
