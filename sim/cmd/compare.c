/*
 * compare.c - `moesim compare`: a scenario under every combination of
 * varied keys, run in parallel processes, reported side by side.
 *
 * The variants are the cross product of the --vary lists, numbered in
 * nested-loop order (the first --vary slowest), like the digits of a mixed-
 * radix number whose last digit is the last --vary. Every variant is loaded
 * and validated in the parent before anything runs, so a bad value costs no
 * simulation time and leaves no file. Then each variant runs in a child made
 * by fork(): it loads its scenario again (the parent keeps no scenario, only
 * the result records), plays it, and writes one fixed-size compare_result to
 * its pipe before _exit. The record is smaller than PIPE_BUF, so the write
 * never waits on the parent; the parent reads every pipe to its end anyway
 * (poll, then read what is there) before waitpid, and files each record
 * under its variant index. Output is therefore a function of the inputs
 * alone: the same whatever --jobs is and whichever child finishes first.
 * Processes rather than threads because a simulation is a whole program's
 * worth of state (play_t, models, GSL streams) and a crash or an exhausted
 * allocation in one variant must not take the others down.
 */
#include "moesim/compare.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "moesim/cli.h"
#include "moesim/outfile.h"
#include "moesim/play.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/units.h"

#ifdef PIPE_BUF /* one write of at most PIPE_BUF bytes to an empty pipe never blocks */
_Static_assert(sizeof(compare_result) <= PIPE_BUF, "a result record must fit one pipe write");
#endif

#define MAX_SETS 256
#define MAX_JOBS 4096

static const char usage_compare[] =
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
    "  --seed N         master seed of every variant (same as --set seed=N)\n"
    "  --jobs N         run at most N variants at once (default: the CPU cores)\n"
    "  --json FILE      also write the results as JSON (schema moesim.compare/1)\n"
    "  --csv FILE       also write the results as CSV, one row per variant\n"
    "  --quiet          print no table (errors still go to stderr)\n"
    "  --no-progress    no progress line on stderr\n"
    "  -h, --help       this text\n"
    "\n"
    "Example: moesim compare scenarios/mixtral-8x7b-h100x8.cfg \\\n"
    "           --vary model.router.capacity_factor=1.0,1.25,2.0 --vary parallel.ep=4,8\n"
    "Columns and schemas: docs/compare.md.\n";

/* ---- the plan: --vary lists and their cross product ---- */

/* A copy of s[0..n) with blanks trimmed at both ends. */
static char *dup_trimmed(const char *s, size_t n, const char *what)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = xmalloc(n + 1, what);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* Where the value starting at s ends: the first comma outside double quotes
 * and outside brackets, braces and parentheses (a libconfig array or group
 * holds commas of its own), or the end of the string. */
static const char *value_end(const char *s)
{
    int depth = 0, quoted = 0;
    for (; *s; s++) {
        if (quoted) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                quoted = 0;
        } else if (*s == '"') {
            quoted = 1;
        } else if (*s == '[' || *s == '{' || *s == '(') {
            depth++;
        } else if ((*s == ']' || *s == '}' || *s == ')') && depth > 0) {
            depth--;
        } else if (*s == ',' && depth == 0) {
            break;
        }
    }
    return s;
}

static void vary_fini(compare_vary *v)
{
    for (int i = 0; i < v->nvalues; i++)
        free(v->assign[i]);
    free(v->assign);
    free(v->value);
    free(v->key);
    memset(v, 0, sizeof(*v));
}

int compare_plan_add(compare_plan *p, const char *spec, err_t *e)
{
    const char *eq = strchr(spec, '=');
    if (!eq)
        return err_set(e, ERR_INPUT, NULL, 0, "--vary",
                       "\"%.200s\" has no '='; expected KEY=V1,V2,... such as "
                       "parallel.ep=4,8",
                       spec);
    compare_vary v = {0};
    v.key = dup_trimmed(spec, (size_t)(eq - spec), "--vary key");
    if (!v.key[0]) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "\"%.200s\" names no key; expected KEY=V1,V2,... such as parallel.ep=4,8",
                spec);
        goto fail;
    }
    const char *list = eq + 1;
    if (!list[strspn(list, " \t")]) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s= lists no values; expected at least one value after '=', such as "
                "%.128s=V1,V2",
                v.key, v.key);
        goto fail;
    }
    for (int i = 0; i < p->nvary; i++)
        if (strcmp(p->vary[i].key, v.key) == 0) {
            err_set(e, ERR_INPUT, NULL, 0, "--vary",
                    "%.128s is varied twice (--vary %d and %d); allowed: each key in one "
                    "--vary, with all its values: %.128s=V1,V2,...",
                    v.key, i + 1, p->nvary + 1, v.key);
            goto fail;
        }
    if (p->nvary == COMPARE_MAX_VARY) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s: more than %d --vary options; allowed: at most %d varied keys",
                v.key, COMPARE_MAX_VARY, COMPARE_MAX_VARY);
        goto fail;
    }

    /* count, then split */
    int count = 0;
    for (const char *s = list;; s++) {
        s = value_end(s);
        count++;
        if (!*s)
            break;
    }
    if (p->variants * count > COMPARE_MAX_VARIANTS) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s: %d values make %ld variants; allowed: at most %d in all (the "
                "product of the --vary value counts)",
                v.key, count, p->variants * count, COMPARE_MAX_VARIANTS);
        goto fail;
    }
    v.assign = xcalloc((size_t)count, sizeof(*v.assign), "--vary values");
    v.value = xcalloc((size_t)count, sizeof(*v.value), "--vary values");
    size_t klen = strlen(v.key);
    const char *s = list;
    for (int i = 0; i < count; i++) {
        const char *end = value_end(s);
        char *val = dup_trimmed(s, (size_t)(end - s), "--vary value");
        if (!val[0]) {
            free(val);
            err_set(e, ERR_INPUT, NULL, 0, "--vary",
                    "%.128s=%.200s: value %d of %d is empty; allowed: values separated by "
                    "single commas, such as %.128s=V1,V2",
                    v.key, list, i + 1, count, v.key);
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(v.value[j], val) == 0) {
                err_set(e, ERR_INPUT, NULL, 0, "--vary",
                        "%.128s: the value %.200s is listed twice; allowed: each value once",
                        v.key, val);
                free(val);
                goto fail;
            }
        size_t vlen = strlen(val);
        v.assign[i] = xmalloc(klen + 1 + vlen + 1, "--vary value");
        memcpy(v.assign[i], v.key, klen);
        v.assign[i][klen] = '=';
        memcpy(v.assign[i] + klen + 1, val, vlen + 1);
        v.value[i] = v.assign[i] + klen + 1;
        v.nvalues = i + 1;
        free(val);
        s = *end ? end + 1 : end;
    }
    p->vary[p->nvary++] = v;
    p->variants *= count;
    return 0;

fail:
    vary_fini(&v);
    return -1;
}

void compare_plan_fini(compare_plan *p)
{
    for (int i = 0; i < p->nvary; i++)
        vary_fini(&p->vary[i]);
    p->nvary = 0;
    p->variants = 1;
}

void compare_plan_choice(const compare_plan *p, long index, int *choice)
{
    for (int k = p->nvary - 1; k >= 0; k--) { /* the last --vary is the fastest digit */
        choice[k] = (int)(index % p->vary[k].nvalues);
        index /= p->vary[k].nvalues;
    }
}

void compare_plan_sets(const compare_plan *p, long index, const char **sets)
{
    int choice[COMPARE_MAX_VARY];
    compare_plan_choice(p, index, choice);
    for (int k = 0; k < p->nvary; k++)
        sets[k] = p->vary[k].assign[choice[k]];
}

char *compare_plan_label(const compare_plan *p, long index, char *buf, size_t n)
{
    const char *sets[COMPARE_MAX_VARY];
    compare_plan_sets(p, index, sets);
    size_t k = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; i < p->nvary && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", sets[i]);
        k += w > 0 ? (size_t)w : 0;
    }
    return buf;
}

/* ---- the outputs' view of the sweep ---- */

/* The plain data compare_out writes from: the plan's keys, values and each
 * variant's values, and the records. Owns its arrays; sweep_view_fini
 * releases them. */
typedef struct sweep_view {
    compare_out_sweep sw;
    const char *key[COMPARE_MAX_VARY];
    int nvalues[COMPARE_MAX_VARY];
    const char *const *values[COMPARE_MAX_VARY];
    const char **cell;
    compare_out_record *rec;
    const char **error;
} sweep_view;

static void sweep_view_init(sweep_view *v, const compare_plan *p, const char *name,
                            const char *file, uint64_t seed, const char *const *sets,
                            int nsets, const compare_result *results)
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
    int choice[COMPARE_MAX_VARY];
    for (long i = 0; i < n; i++) {
        compare_plan_choice(p, i, choice);
        for (int k = 0; k < p->nvary; k++)
            v->cell[i * p->nvary + k] = p->vary[k].value[choice[k]];
        v->rec[i] = results[i].fig;
        v->error[i] = results[i].code == ERR_OK ? NULL : results[i].error;
    }
    compare_out_ratios(v->rec, n, v->error);
    v->sw = (compare_out_sweep){.name = name, .file = file, .seed = seed, .sets = sets,
                                .nsets = nsets, .nkeys = p->nvary, .key = v->key,
                                .nvalues = v->nvalues, .values = v->values, .nrows = n,
                                .cell = v->cell, .rec = v->rec, .error = v->error};
}

static void sweep_view_fini(sweep_view *v)
{
    free(v->cell);
    free(v->rec);
    free(v->error);
}

/* ---- options ---- */

typedef struct compare_opts {
    const char *file;     /* NULL: the built-in default scenario */
    const char *sets[MAX_SETS + 1];
    int nsets;
    char seed_set[64];
    compare_plan plan;
    long jobs;            /* 0: the CPU cores */
    const char *json, *csv;
    int quiet, no_progress;
} compare_opts;

/* Returns -1 when it printed help, 0 on success, ERR_INPUT after a usage
 * error (the plan is the caller's to release either way). */
static int parse_opts(int argc, char **argv, compare_opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_compare, stdout);
            return -1;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->file)
                return err_usage("compare",
                                 "unexpected argument %s (one scenario file at most)", a);
            o->file = a;
            continue;
        }
        if (strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
            continue;
        }
        if (strcmp(a, "--no-progress") == 0) {
            o->no_progress = 1;
            continue;
        }
        /* --opt=value or --opt value: the name ends at the first '=' */
        char opt[32];
        const char *eq = strchr(a, '=');
        size_t n = eq ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof(opt))
            return err_usage("compare", "unknown option %s", a);
        memcpy(opt, a, n);
        opt[n] = '\0';
        if (strcmp(opt, "--vary") != 0 && strcmp(opt, "--set") != 0 &&
            strcmp(opt, "--seed") != 0 && strcmp(opt, "--jobs") != 0 &&
            strcmp(opt, "--json") != 0 && strcmp(opt, "--csv") != 0)
            return err_usage("compare", "unknown option %s", a);
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val || !*val)
            return err_usage("compare", "%s needs a value", opt);
        if (strcmp(opt, "--vary") == 0) {
            err_t e = ERR_INIT;
            if (compare_plan_add(&o->plan, val, &e) < 0) {
                err_print(stderr, "moesim compare", &e);
                return ERR_INPUT;
            }
        } else if (strcmp(opt, "--set") == 0) {
            if (o->nsets == MAX_SETS)
                return err_usage("compare", "more than %s --set options", "256");
            o->sets[o->nsets++] = val;
        } else if (strcmp(opt, "--seed") == 0) {
            snprintf(o->seed_set, sizeof(o->seed_set), "seed=%s", val);
        } else if (strcmp(opt, "--jobs") == 0) {
            char *end;
            errno = 0;
            long j = strtol(val, &end, 10);
            if (end == val || *end || errno || j < 1 || j > MAX_JOBS)
                return err_usage("compare",
                                 "--jobs needs a whole number from 1 to 4096, not %s", val);
            o->jobs = j;
        } else if (strcmp(opt, "--json") == 0) {
            o->json = val;
        } else {
            o->csv = val;
        }
    }
    if (o->plan.nvary == 0)
        return err_usage("compare",
                         "%s KEY=V1,V2,... is required (at least one varied key)", "--vary");
    /* --seed applies after every --set, whatever the order on the line */
    if (o->seed_set[0])
        o->sets[o->nsets++] = o->seed_set;
    return 0;
}

/* ---- running the variants ---- */

static int load(const compare_opts *o, const char *const *sets, int nsets, scenario *s,
                err_t *e)
{
    if (o->file)
        return scenario_load_file(o->file, sets, nsets, s, e);
    char name[128];
    snprintf(name, sizeof(name), "%s (built-in)", cli_default_scenario_file);
    return scenario_load_string(cli_default_scenario_text, name, sets, nsets, s, e);
}

/* What a child does: one variant, start to end, into *r. */
static void run_variant(const compare_opts *o, const char *const *sets, int nsets,
                        compare_result *r)
{
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    play_t *p = NULL;
    int loaded = load(o, sets, nsets, &s, &e) == 0;
    if (loaded) /* variants write no outputs of their own: one file, many writers */
        s.output.trace[0] = s.output.timeline[0] = '\0';
    if (!loaded || !(p = play_new(&s, &e)) || play_run(p, NULL, NULL, &e) < 0) {
        memset(r, 0, sizeof(*r));
        r->code = (int32_t)(e.code == ERR_OK ? ERR_RUN : e.code);
        err_format(&e, r->error, sizeof(r->error));
    } else {
        memset(r, 0, sizeof(*r));
        r->code = ERR_OK;
        compare_out_from_run(&r->fig, &s, play_metrics(p), play_topo(p));
    }
    play_free(p);
    scenario_fini(&s);
}

/* A running child: its pipe and how much of its record has arrived. */
typedef struct child {
    pid_t pid;
    int fd;      /* read end; -1 when the slot is free */
    long index;  /* the variant */
    size_t got;  /* bytes read; more than a record means a broken child */
} child;

static void write_all(int fd, const void *buf, size_t n)
{
    const char *c = buf;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(ERR_RUN); /* the parent sees a short record and says so */
        c += w;
        n -= (size_t)w;
    }
}

/* Forks the child of variant `index` into slot c; -1 (errno set) if the
 * system would not. */
static int spawn(const compare_opts *o, const char **sets, int nsets, long index, child *c,
                 const child *all, int nall)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    compare_plan_sets(&o->plan, index, sets + o->nsets);
    fflush(stdout); /* nothing buffered may be written twice */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < nall; i++) /* the other children's pipes are not ours */
            if (all[i].fd >= 0)
                close(all[i].fd);
        compare_result r;
        run_variant(o, sets, nsets, &r);
        write_all(fds[1], &r, sizeof(r));
        close(fds[1]);
        _exit(r.code == ERR_OK ? 0 : (int)r.code);
    }
    close(fds[1]);
    c->pid = pid;
    c->fd = fds[0];
    c->index = index;
    c->got = 0;
    return 0;
}

/* Reads what child c has sent into its record; when the pipe ends, reaps
 * the child and checks the record. Returns 1 when the child is done. */
static int collect(child *c, compare_result *results)
{
    compare_result *r = &results[c->index];
    char spare[64];
    char *dst = c->got < sizeof(*r) ? (char *)r + c->got : spare;
    size_t room = c->got < sizeof(*r) ? sizeof(*r) - c->got : sizeof(spare);
    ssize_t k = read(c->fd, dst, room);
    if (k < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (k > 0) {
        c->got += (size_t)k;
        return 0;
    }
    int read_errno = k < 0 ? errno : 0;
    close(c->fd);
    c->fd = -1;
    int st = 0;
    while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (c->got == sizeof(*r) && WIFEXITED(st) &&
        (r->code == ERR_OK) == (WEXITSTATUS(st) == 0)) {
        r->error[sizeof(r->error) - 1] = '\0'; /* a record is trusted, but not that far */
        return 1;
    }
    memset(r, 0, sizeof(*r));
    r->code = ERR_RUN;
    if (WIFSIGNALED(st))
        snprintf(r->error, sizeof(r->error), "the simulation process died (signal %d)",
                 WTERMSIG(st));
    else if (read_errno)
        snprintf(r->error, sizeof(r->error), "cannot read its result: %s",
                 strerror(read_errno));
    else
        snprintf(r->error, sizeof(r->error),
                 "the simulation process exited with status %d without a result",
                 WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 1;
}

/* "compare: D/N variants done, R running" on a terminal, when it changes. */
static void show_progress(int tty, long done, long total, int running, long *shown)
{
    long state = done * (MAX_JOBS + 1) + running;
    if (!tty || state == *shown)
        return;
    *shown = state;
    fprintf(stderr, "\rcompare: %ld/%ld variants done, %d running   ", done, total, running);
    fflush(stderr);
}

/* Runs every variant, at most `jobs` at once, into results (p->variants
 * entries). Stops starting new ones after the first failure. Returns 0 when
 * every variant ran, -1 otherwise (the failures are in their records; a
 * variant never started keeps code -1). */
static int run_all(const compare_opts *o, long jobs, int tty, compare_result *results)
{
    long n = o->plan.variants;
    int slots = (int)(jobs < n ? jobs : n);
    child *kids = xcalloc((size_t)slots, sizeof(*kids), "child processes");
    struct pollfd *pfd = xcalloc((size_t)slots, sizeof(*pfd), "poll set");
    int *which = xcalloc((size_t)slots, sizeof(*which), "poll set");
    const char **sets = xcalloc((size_t)(o->nsets + o->plan.nvary), sizeof(*sets), "sets");
    memcpy(sets, o->sets, (size_t)o->nsets * sizeof(*sets));
    for (int i = 0; i < slots; i++)
        kids[i].fd = -1;
    for (long v = 0; v < n; v++)
        results[v].code = -1;

    long next = 0, done = 0, shown = -1;
    int running = 0, stop = 0;
    for (;;) {
        for (int i = 0; i < slots && !stop && next < n; i++) {
            if (kids[i].fd >= 0)
                continue;
            if (spawn(o, sets, o->nsets + o->plan.nvary, next, &kids[i], kids, slots) < 0) {
                compare_result *r = &results[next];
                r->code = ERR_RUN;
                snprintf(r->error, sizeof(r->error), "cannot start a process: %s",
                         strerror(errno));
                stop = 1;
                break;
            }
            next++;
            running++;
        }
        if (running == 0)
            break;
        show_progress(tty, done, n, running, &shown);
        int np = 0;
        for (int i = 0; i < slots; i++)
            if (kids[i].fd >= 0) {
                pfd[np] = (struct pollfd){.fd = kids[i].fd, .events = POLLIN};
                which[np++] = i;
            }
        if (poll(pfd, (nfds_t)np, -1) < 0) {
            if (errno == EINTR)
                continue;
            for (int j = 0; j < np; j++) /* poll itself failed: plain blocking reads */
                pfd[j].revents = POLLIN;
        }
        for (int j = 0; j < np; j++) {
            if (!pfd[j].revents)
                continue;
            child *c = &kids[which[j]];
            if (collect(c, results)) {
                running--;
                done++;
                if (results[c->index].code != ERR_OK)
                    stop = 1;
            }
        }
    }
    if (tty)
        fprintf(stderr, "\r%70s\r", "");
    int ok = done == n;
    for (long v = 0; v < n && ok; v++)
        ok = results[v].code == ERR_OK;
    free(kids);
    free(pfd);
    free(which);
    free(sets);
    return ok ? 0 : -1;
}

/* Loads every variant in the parent, keeping the first one's name, file and
 * seed. Returns 0, or the exit status after printing which variant the
 * loader refused and why. */
static int validate(const compare_opts *o, char *name, size_t name_n, char *file,
                    size_t file_n, uint64_t *seed)
{
    const compare_plan *p = &o->plan;
    const char **sets = xcalloc((size_t)(o->nsets + p->nvary), sizeof(*sets), "sets");
    memcpy(sets, o->sets, (size_t)o->nsets * sizeof(*sets));
    int rc = 0;
    for (long v = 0; v < p->variants && rc == 0; v++) {
        scenario s;
        memset(&s, 0, sizeof(s));
        err_t e = ERR_INIT;
        compare_plan_sets(p, v, sets + o->nsets);
        if (load(o, sets, o->nsets + p->nvary, &s, &e) < 0) {
            char msg[1400], label[512];
            err_format(&e, msg, sizeof(msg));
            fprintf(stderr, "moesim compare: variant %ld of %ld (%s): %s\n", v + 1,
                    p->variants, compare_plan_label(p, v, label, sizeof(label)), msg);
            rc = e.code == ERR_OK ? ERR_INPUT : (int)e.code;
        } else if (v == 0) {
            snprintf(name, name_n, "%s", s.name);
            snprintf(file, file_n, "%s", s.file);
            *seed = s.seed;
        }
        scenario_fini(&s);
    }
    free(sets);
    return rc;
}

/* Writes --json and --csv (both or neither) and the table from the
 * results (every variant ran). Returns 0, or -1 with e filled. */
static int write_outputs(const compare_opts *o, outfile *json, outfile *csv, const char *name,
                         const char *file, uint64_t seed, const compare_result *results,
                         err_t *e)
{
    sweep_view view;
    sweep_view_init(&view, &o->plan, name, file, seed, o->sets, o->nsets, results);
    int rc = -1;
    if (json->f) /* write errors show in commit */
        compare_out_json(json->f, &view.sw);
    if (csv->f)
        compare_out_csv(csv->f, &view.sw);
    if (json->f && outfile_commit(json, e) < 0)
        goto out;
    if (csv->f && outfile_commit(csv, e) < 0) {
        if (o->json)
            remove(o->json); /* both files or neither */
        goto out;
    }
    if (!o->quiet && (compare_out_table(stdout, &view.sw) < 0 || fflush(stdout) != 0)) {
        err_set(e, ERR_RUN, "stdout", 0, NULL, "cannot write the table");
        goto out;
    }
    rc = 0;
out:
    sweep_view_fini(&view);
    return rc;
}

int compare_main(int argc, char **argv)
{
    compare_opts o;
    memset(&o, 0, sizeof(o));
    o.plan = (compare_plan)COMPARE_PLAN_INIT;
    int rc = parse_opts(argc, argv, &o);
    if (rc) {
        compare_plan_fini(&o.plan);
        return rc < 0 ? 0 : rc;
    }

    char name[128] = "", file[256] = "";
    uint64_t seed = 0;
    outfile json = OUTFILE_INIT, csv = OUTFILE_INIT;
    compare_result *results = NULL;
    err_t e = ERR_INIT;
    long n = o.plan.variants;

    if ((rc = validate(&o, name, sizeof(name), file, sizeof(file), &seed)) != 0)
        goto done;
    /* open the outputs now, so an unwritable path fails before the runs */
    if ((o.json && outfile_open(&json, o.json, &e) < 0) ||
        (o.csv && outfile_open(&csv, o.csv, &e) < 0)) {
        rc = err_print(stderr, "moesim compare", &e);
        goto done;
    }

    long jobs = o.jobs;
    if (jobs == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cores >= 1 ? (cores > MAX_JOBS ? MAX_JOBS : cores) : 1;
    }
    int tty = !o.no_progress && isatty(fileno(stderr));
    results = xcalloc((size_t)n, sizeof(*results), "compare results");
    if (run_all(&o, jobs, tty, results) < 0) {
        rc = 0;
        char label[512];
        for (long v = 0; v < n; v++) {
            const compare_result *r = &results[v];
            if (r->code == ERR_OK || r->code == -1)
                continue;
            fprintf(stderr, "moesim compare: variant %ld of %ld (%s) failed: %s\n", v + 1, n,
                    compare_plan_label(&o.plan, v, label, sizeof(label)), r->error);
            if (rc < (int)r->code) /* bad input (2) outranks a failed run (1) */
                rc = (int)r->code;
        }
        if (rc == 0)
            rc = ERR_RUN;
        goto done;
    }
    if (write_outputs(&o, &json, &csv, name, file, seed, results, &e) < 0)
        goto fail;
    rc = 0;
    goto done;

fail:
    rc = err_print(stderr, "moesim compare", &e);
done:
    outfile_abort(&json);
    outfile_abort(&csv);
    free(results);
    compare_plan_fini(&o.plan);
    return rc;
}
