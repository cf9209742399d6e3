/*
 * csv.c - the run's results as six CSV files (schema moesim.csv/1).
 *
 * The columns are the field table's (field.h), level by level: totals.csv
 * the totals fields, layers.csv the layer fields, experts.csv the expert
 * fields, links.csv the link fields, steps.csv the training steps' (a
 * header alone in forward runs), each file's columns in the table's
 * order, so a column means what the JSON field of the same name means and a
 * field added to the table is a column here with no other edit. What the
 * JSON nests is flattened: a totals field outside "totals" is
 * <group>_<name> (scenario_name, memory_needed_bytes), a stats object nine
 * columns <name>_mean ... <name>_sum_ps, the per-expert arrays experts.csv's
 * long rows (one per layer and expert, the shape pandas and pivot tables
 * want); an array field (load_max_over_mean_by_batch) has no column. links.csv lists every link, in the JSON's
 * order (most bytes first, ties by link id); the JSON shows only the first
 * 16 that carried bytes.
 *
 * Whole or nothing across files: each file goes to its own outfile
 * (temporary name beside it); only when all six are written and flushed are
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

#include "moesim/field.h"
#include "moesim/jsonout.h"
#include "moesim/outfile.h"
#include "moesim/report.h"

enum { CSV_TOTALS, CSV_LAYERS, CSV_EXPERTS, CSV_LINKS, CSV_STEPS, CSV_STAGES, CSV_FILES };

static const char *const csv_names[CSV_FILES] = {"totals.csv", "layers.csv", "experts.csv",
                                                 "links.csv", "steps.csv", "stages.csv"};

/* ---- cells ---- */

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

/* A real in the JSON's format; empty where the JSON has null. */
static void csv_num(FILE *f, double v)
{
    char buf[JSONOUT_REAL_MAX];
    fputs(jsonout_format_real(v, buf, sizeof(buf)), f);
}

/* Does field x have columns in the file of its level? (An array has none.) */
static int has_columns(const field *x, field_level level)
{
    return x->level == level && x->type != FIELD_REALS;
}

/* The header cells of every field of `level`, comma-separated (the first
 * one after a comma too when `comma`): <group>_<name> for a totals field
 * outside the "totals" group, <name>_<stat> for each stat of a stats field. */
static void header(FILE *f, field_level level, int comma)
{
    for (int i = 0; i < field_count(); i++) {
        const field *x = field_at(i);
        if (!has_columns(x, level))
            continue;
        char name[96];
        field_column(x, name, sizeof(name));
        if (x->type != FIELD_STATS) {
            fprintf(f, "%s%s", comma++ ? "," : "", name);
            continue;
        }
        for (int st = 0; st < FIELD_STAT_COUNT; st++)
            fprintf(f, "%s%s_%s", comma++ ? "," : "", name, field_stat_name((field_stat)st));
    }
    fputc('\n', f);
}

/* One field's cells, each after a comma unless it is the row's first. */
static int cells(FILE *f, const field *x, const field_value *v, int comma)
{
    if (x->type == FIELD_STATS) {
        for (int st = 0; st < FIELD_STAT_COUNT; st++) {
            double n = field_number(x, v, (field_stat)st);
            fputs(comma++ ? "," : "", f);
            if (field_stat_is_int((field_stat)st))
                fprintf(f, "%" PRId64, (int64_t)n);
            else
                csv_num(f, n);
        }
        return comma;
    }
    fputs(comma++ ? "," : "", f);
    if (v->null) /* the JSON's null: an empty field */
        return comma;
    switch (x->type) {
    case FIELD_INT:
        fprintf(f, "%" PRId64, v->i);
        break;
    case FIELD_U64:
        fprintf(f, "%" PRIu64, v->u);
        break;
    case FIELD_STR:
        csv_str(f, v->s);
        break;
    case FIELD_BOOL:
        fputs(v->b ? "true" : "false", f);
        break;
    default:
        csv_num(f, v->r);
        break;
    }
    return comma;
}

/* The row of every field of `level` at src's position. */
static void row(FILE *f, const field_src *src, field_level level, int comma)
{
    for (int i = 0; i < field_count(); i++) {
        const field *x = field_at(i);
        if (!has_columns(x, level))
            continue;
        field_value v;
        field_get(x, src, &v);
        comma = cells(f, x, &v, comma);
    }
    fputc('\n', f);
}

/* ---- the six files ---- */

static void write_totals(FILE *f, field_src *src)
{
    header(f, FIELD_TOTALS, 0);
    row(f, src, FIELD_TOTALS, 0);
}

/* A level's header and its n rows, *idx (src's position at that level)
 * running over them. */
static void write_rows(FILE *f, field_src *src, field_level level, int n, int *idx)
{
    header(f, level, 0);
    for (*idx = 0; *idx < n; (*idx)++)
        row(f, src, level, 0);
    *idx = 0;
}

static void write_layers(FILE *f, field_src *src)
{
    write_rows(f, src, FIELD_LAYER, src->m->moe_layers, &src->layer);
}

/* Long format: the layer's index and the expert's lead every row. */
static void write_experts(FILE *f, field_src *src)
{
    fputs("layer,expert", f);
    header(f, FIELD_EXPERT, 1);
    for (src->layer = 0; src->layer < src->m->moe_layers; src->layer++) {
        const metrics_layer *l = &src->m->layer[src->layer];
        for (src->expert = 0; src->expert < l->experts; src->expert++) {
            fprintf(f, "%d,%d", l->layer, src->expert);
            row(f, src, FIELD_EXPERT, 1);
        }
    }
    src->layer = src->expert = 0;
}

/* Every link, most bytes first, ties by id: the JSON's order. */
static void write_links(FILE *f, field_src *src)
{
    header(f, FIELD_LINK, 0);
    if (src->m->links <= 0)
        return;
    int *ord = report_links_by_bytes(src->m);
    for (int i = 0; i < src->m->links; i++) {
        src->link = ord[i];
        row(f, src, FIELD_LINK, 0);
    }
    free(ord);
    src->link = 0;
}

/* Training: one row per step (forward runs: the header alone). */
static void write_steps(FILE *f, field_src *src)
{
    write_rows(f, src, FIELD_STEP, src->m->nstep, &src->step);
}

/* Training: one row per pipeline stage (forward runs: the header alone). */
static void write_stages(FILE *f, field_src *src)
{
    write_rows(f, src, FIELD_STAGE, src->m->stage_ps ? src->m->stages : 0, &src->stage);
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
    outfile o[CSV_FILES] = {OUTFILE_INIT, OUTFILE_INIT, OUTFILE_INIT,
                            OUTFILE_INIT, OUTFILE_INIT, OUTFILE_INIT};
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

    field_src src;
    field_src_init(&src, s, m, t);
    write_totals(o[CSV_TOTALS].f, &src);
    write_layers(o[CSV_LAYERS].f, &src);
    write_experts(o[CSV_EXPERTS].f, &src);
    write_links(o[CSV_LINKS].f, &src);
    write_steps(o[CSV_STEPS].f, &src);
    write_stages(o[CSV_STAGES].f, &src);

    /* Flush all six first: a full disk shows here, while nothing is renamed. */
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
