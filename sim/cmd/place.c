/*
 * place.c - `moesim place`: a placement computed from an expert-load table.
 *
 * The command reads a CSV of expert loads (a row per layer), runs one of the
 * placement strategies of models/placement.c on every row and prints the
 * result as the JSON that deepseek-ai/EPLB's rebalance_experts returns
 * (phy2log, logcnt) plus the per-GPU loads and their balance, so that its
 * output can be checked against the reference and fed to other tools. Like
 * cli.c it sits at the top floor: it prints, and returns the exit status.
 * Nothing is printed on stdout unless every layer succeeded.
 */
#include "moesim/place.h"

#include <errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/cmd.h"
#include "moesim/opts.h"
#include "moesim/placement.h"

const char cmd_place_usage[] =
    "usage: moesim place --loads FILE.csv --gpus M [options]\n"
    "\n"
    "Computes an expert placement from a load table (CSV: one row per layer, one\n"
    "column per expert; a first line that is not numbers is a header) and prints\n"
    "{\"phy2log\": [[...]], \"logcnt\": [[...]], \"gpu_load\": [[...]], "
    "\"max_over_mean\": [...]}\n"
    "on stdout: per layer, the expert held by each slot (slot s sits on GPU\n"
    "s / (R / M)), the replicas of each expert, the load of each GPU (an expert's\n"
    "load split evenly over its replicas) and max / mean GPU load.\n"
    "\n"
    "options:\n"
    "  --loads FILE     the load table (required)\n"
    "  --gpus M         GPUs, i.e. expert-parallel ranks (required)\n"
    "  --strategy S     eplb (default), balanced, contiguous, round_robin, random\n"
    "  --replicas R     physical expert slots in all (eplb; default: the expert count;\n"
    "                   the other strategies place each expert once)\n"
    "  --groups G       expert groups (eplb; default 1)\n"
    "  --nodes N        nodes (eplb; default 1)\n"
    "  --seed N         seed of the random strategy (default 1)\n"
    "  -h, --help       this text\n"
    "\n"
    "Strategies and the published example: docs/placement.md.\n";

/* ---- the load table ---- */

/* Parses one field as a number; 0 on success. Leading and trailing blanks
 * are allowed. */
static int parse_number(const char *s, double *v)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    return (end == s || *end != '\0') ? -1 : 0;
}

/* Splits line in place at commas into at most `max` fields; returns the
 * count (which may exceed max: the extra fields are counted, not kept). */
static int split(char *line, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        char *c = strchr(p, ',');
        if (n < max)
            fields[n] = p;
        n++;
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    return n;
}

static int blank(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

int place_read_loads(FILE *f, const char *name, double **loads, int *layers, int *experts,
                     err_t *e)
{
    char *line = NULL;
    size_t cap = 0;
    char **fields = NULL;
    int nfields = 0, cols = 0, rows = 0, header_cols = 0, header_line = 0, first_line = 0;
    size_t room = 0;
    double *out = NULL;
    ssize_t len;
    *loads = NULL;
    *layers = *experts = 0;

    for (int lineno = 1; (len = getline(&line, &cap, f)) >= 0; lineno++) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (blank(line))
            continue;
        /* count first, then split into a big enough array */
        int n = 1;
        for (const char *c = line; *c; c++)
            n += *c == ',';
        if (n > nfields) {
            fields = xrealloc(fields, (size_t)n, sizeof(*fields), "CSV fields");
            nfields = n;
        }
        split(line, fields, n);
        int numbers = 1;
        for (int i = 0; i < n && numbers; i++) {
            double v;
            numbers = parse_number(fields[i], &v) == 0;
        }
        if (!first_line) {
            first_line = lineno;
            if (!numbers) { /* a header: remember its width, read no loads */
                header_cols = n;
                header_line = lineno;
                continue;
            }
        }
        if (cols == 0) {
            if (header_cols && n != header_cols) {
                err_set(e, ERR_INPUT, name, lineno, NULL,
                        "%d values, but the header (line %d) names %d columns; expected one "
                        "column per expert",
                        n, header_line, header_cols);
                goto fail;
            }
            cols = n;
        } else if (n != cols) {
            err_set(e, ERR_INPUT, name, lineno, NULL,
                    "%d values, but the first row has %d; expected one column per expert "
                    "on every row",
                    n, cols);
            goto fail;
        }
        if ((size_t)(rows + 1) * (size_t)cols > room) {
            room = room ? 2 * room : 16 * (size_t)cols;
            out = xrealloc(out, room, sizeof(*out), "load table");
        }
        for (int i = 0; i < n; i++) {
            double v;
            if (parse_number(fields[i], &v) < 0) {
                err_set(e, ERR_INPUT, name, lineno, NULL,
                        "column %d: \"%.40s\" is not a number; allowed: a load >= 0 such as "
                        "132 or 0.25",
                        i + 1, fields[i] + strspn(fields[i], " \t"));
                goto fail;
            }
            if (!isfinite(v) || v < 0) {
                err_set(e, ERR_INPUT, name, lineno, NULL,
                        "column %d: %g is not a load; allowed: a finite number >= 0", i + 1, v);
                goto fail;
            }
            out[(size_t)rows * (size_t)cols + (size_t)i] = v;
        }
        rows++;
    }
    if (ferror(f)) {
        err_set(e, ERR_INPUT, name, 0, NULL, "cannot read: %s", strerror(errno));
        goto fail;
    }
    if (rows == 0) {
        err_set(e, ERR_INPUT, name, 0, NULL,
                "no rows of loads; expected one row per layer, one column per expert, "
                "such as \"90,132,40\"");
        goto fail;
    }
    free(line);
    free(fields);
    *loads = out;
    *layers = rows;
    *experts = cols;
    return 0;

fail:
    free(line);
    free(fields);
    free(out);
    return -1;
}

/* ---- options ---- */

typedef struct place_opts {
    const char *loads, *strategy;
    int replicas, groups, nodes, gpus; /* 0: not given */
    uint64_t seed;
} place_opts;

/* A whole-string integer in [1, 2^24]; 0 on success. */
static int parse_count(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 1 || v > (1L << 24))
        return -1;
    *out = (int)v;
    return 0;
}

enum { O_LOADS, O_STRATEGY, O_REPLICAS, O_GROUPS, O_NODES, O_GPUS, O_SEED };
static const opts_spec place_spec[] = {
    [O_LOADS] = {"loads", 0, OPTS_VALUE, "a file name"},
    [O_STRATEGY] = {"strategy", 0, OPTS_VALUE, "a strategy"},
    [O_REPLICAS] = {"replicas", 0, OPTS_VALUE, "a whole number >= 1"},
    [O_GROUPS] = {"groups", 0, OPTS_VALUE, "a whole number >= 1"},
    [O_NODES] = {"nodes", 0, OPTS_VALUE, "a whole number >= 1"},
    [O_GPUS] = {"gpus", 0, OPTS_VALUE, "a whole number >= 1"},
    [O_SEED] = {"seed", 0, OPTS_VALUE, "a number"},
    {NULL, 0, 0, NULL},
};

/* Returns -1 when it printed help, 0 on success, ERR_INPUT after a usage
 * error. */
static int parse_opts(int argc, char **argv, place_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->strategy = "eplb";
    o->seed = 1;
    opts raw;
    err_t e = ERR_INIT;
    int rc = opts_parse(place_spec, argc, argv, &raw, &e) < 0 ? cmd_usage("place", "%s", e.msg)
             : raw.help ? -1
             : raw.npos ? cmd_usage("place", "unexpected argument %.200s", raw.pos[0])
                        : 0;
    int *ints[] = {[O_REPLICAS] = &o->replicas, [O_GROUPS] = &o->groups,
                   [O_NODES] = &o->nodes, [O_GPUS] = &o->gpus};
    for (int i = 0; i < raw.nitem && rc == 0; i++) {
        int k = raw.item[i].spec;
        const char *val = raw.item[i].value;
        if (k == O_LOADS)
            o->loads = val;
        else if (k == O_STRATEGY)
            o->strategy = val;
        else if (k == O_SEED && opts_parse_u64(val, &o->seed) < 0)
            rc = cmd_usage("place", "--seed %.100s; allowed: a whole number from 0 to "
                                    "18446744073709551615 (2^64-1)", val);
        else if (k != O_SEED && parse_count(val, ints[k]) < 0)
            rc = cmd_usage("place", "--%s needs a whole number >= 1", place_spec[k].name);
    }
    opts_fini(&raw);
    if (rc < 0)
        cmd_help("place");
    if (rc)
        return rc;
    if (!o->loads)
        return cmd_usage("place", "%s FILE.csv is required", "--loads");
    if (!o->gpus)
        return cmd_usage("place", "%s M (the GPUs to place experts on) is required", "--gpus");
    return 0;
}

/* The command-line checks, naming the options (the model's own checks name
 * quantities only). */
static int check_opts(const place_opts *o, int experts, err_t *e)
{
    static const char *const ours[] = {"eplb", "balanced", "contiguous", "round_robin",
                                       "random"};
    char ok[256];
    int known = 0;
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        known |= strcmp(o->strategy, ours[i]) == 0;
    if (!known)
        return err_set(e, ERR_INPUT, NULL, 0, "--strategy",
                       "\"%.100s\" is not available here%s; allowed: eplb, balanced, "
                       "contiguous, round_robin, random",
                       o->strategy,
                       placement_strategy_known(o->strategy)
                           ? " (it needs a co-activation table: use it from a scenario)"
                           : "");
    int M = o->gpus;
    if (strcmp(o->strategy, "eplb") != 0) {
        if (o->replicas && o->replicas != experts)
            return err_set(e, ERR_INPUT, NULL, 0, "--replicas",
                           "%d, but the %s strategy places each of the %d experts once; "
                           "allowed: %d, or leave it out (replicas: --strategy eplb)",
                           o->replicas, o->strategy, experts, experts);
        if (experts % M != 0) {
            err_list_divisors(experts, ok, sizeof(ok));
            return err_set(e, ERR_INPUT, NULL, 0, "--gpus",
                           "%d experts cannot be split evenly over %d GPUs; allowed: a divisor "
                           "of %d: %s",
                           experts, M, experts, ok);
        }
        return 0;
    }
    int G = o->groups ? o->groups : 1, N = o->nodes ? o->nodes : 1;
    int R = o->replicas ? o->replicas : experts;
    if (experts % G != 0) {
        err_list_divisors(experts, ok, sizeof(ok));
        return err_set(e, ERR_INPUT, NULL, 0, "--groups",
                       "%d experts are not a multiple of %d groups; allowed: a divisor of %d: "
                       "%s",
                       experts, G, experts, ok);
    }
    if (M % N != 0) {
        err_list_divisors(M, ok, sizeof(ok));
        return err_set(e, ERR_INPUT, NULL, 0, "--nodes",
                       "--gpus %d is not a multiple of %d nodes; allowed: a divisor of %d: %s",
                       M, N, M, ok);
    }
    /* the smallest multiple of M that holds every expert once */
    long fit = ((long)experts + M - 1) / M * M;
    if (R < experts)
        return err_set(e, ERR_INPUT, NULL, 0, "--replicas",
                       "%d slots cannot hold the %d experts once each; allowed: a multiple "
                       "of --gpus %d that is >= %d, such as %ld",
                       R, experts, M, experts, fit);
    if (R % M != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "--replicas",
                       "%d is not a multiple of --gpus %d; allowed: a multiple of %d that is "
                       ">= %d experts, such as %ld",
                       R, M, M, experts, fit > R ? fit : ((long)R + M - 1) / M * M);
    return 0;
}

/* ---- JSON ---- */

/* Whole numbers as such (250, not 2.5e+02); others as the shortest %g that
 * reads back as v. */
static void print_num(FILE *out, double v)
{
    char buf[40];
    if (v == floor(v) && fabs(v) < 1e15) {
        fprintf(out, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    fputs(buf, out);
}

static void print_ints(FILE *out, const char *key, const int *v, int rows, int cols,
                       const char *after)
{
    fprintf(out, "\"%s\": [", key);
    for (int r = 0; r < rows; r++) {
        fputs(r ? ",[" : "[", out);
        for (int c = 0; c < cols; c++)
            fprintf(out, c ? ",%d" : "%d", v[(size_t)r * (size_t)cols + (size_t)c]);
        fputc(']', out);
    }
    fprintf(out, "]%s", after);
}

int cmd_place(int argc, char **argv)
{
    place_opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;

    err_t e = ERR_INIT;
    double *loads = NULL;
    int layers = 0, experts = 0;
    int *phy = NULL, *cnt = NULL;
    double *gl = NULL, *mom = NULL;
    gsl_rng *rng = NULL;
    placement p = {0};

    FILE *f = fopen(o.loads, "r");
    if (!f) {
        err_set(&e, ERR_INPUT, o.loads, 0, NULL, "cannot read: %s", strerror(errno));
        goto fail;
    }
    rc = place_read_loads(f, o.loads, &loads, &layers, &experts, &e);
    fclose(f);
    if (rc < 0 || check_opts(&o, experts, &e) < 0)
        goto fail;

    int R = strcmp(o.strategy, "eplb") == 0 && o.replicas ? o.replicas : experts;
    int M = o.gpus;
    phy = xcalloc((size_t)layers * (size_t)R, sizeof(*phy), "phy2log");
    cnt = xcalloc((size_t)layers * (size_t)experts, sizeof(*cnt), "logcnt");
    gl = xcalloc((size_t)layers * (size_t)M, sizeof(*gl), "GPU loads");
    mom = xcalloc((size_t)layers, sizeof(*mom), "balance");
    rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, o.seed);
    placement_spec spec = {.strategy = o.strategy, .experts = experts, .ranks = M,
                           .slots = R, .groups = o.groups, .nodes = o.nodes, .rng = rng};
    for (int l = 0; l < layers; l++) {
        spec.load = loads + (size_t)l * (size_t)experts;
        if (placement_build(&p, &spec, &e) < 0) {
            snprintf(e.file, sizeof(e.file), "%s", o.loads); /* name the table */
            goto fail;
        }
        memcpy(phy + (size_t)l * (size_t)R, p.slot_expert, (size_t)R * sizeof(*phy));
        memcpy(cnt + (size_t)l * (size_t)experts, p.replicas, (size_t)experts * sizeof(*cnt));
        mom[l] = placement_rank_load(&p, spec.load, gl + (size_t)l * (size_t)M);
        placement_fini(&p);
    }

    fputc('{', stdout);
    print_ints(stdout, "phy2log", phy, layers, R, ", ");
    print_ints(stdout, "logcnt", cnt, layers, experts, ", ");
    fputs("\"gpu_load\": [", stdout);
    for (int l = 0; l < layers; l++) {
        fputs(l ? ",[" : "[", stdout);
        for (int g = 0; g < M; g++) {
            if (g)
                fputc(',', stdout);
            print_num(stdout, gl[(size_t)l * (size_t)M + (size_t)g]);
        }
        fputc(']', stdout);
    }
    fputs("], \"max_over_mean\": [", stdout);
    for (int l = 0; l < layers; l++) {
        if (l)
            fputc(',', stdout);
        print_num(stdout, mom[l]);
    }
    fputs("]}\n", stdout);
    rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : ERR_RUN;
    if (rc)
        fprintf(stderr, "moesim place: cannot write to stdout\n");
    goto done;

fail:
    rc = cmd_print_err(stderr, "moesim place", &e);
done:
    placement_fini(&p);
    gsl_rng_free(rng);
    free(loads);
    free(phy);
    free(cnt);
    free(gl);
    free(mom);
    return rc;
}
