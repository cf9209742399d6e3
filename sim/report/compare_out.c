/*
 * compare_out.c - a sweep's rows as a table, JSON and CSV.
 *
 * The figures' columns are found in the field table each time (a few dozen
 * rows, scanned once per output): totals fields with a compare position,
 * in that order, a stats field once per stat it compares. Columns with a
 * heading are in the table and the CSV; one without (sim_time_ps) only in
 * the JSON, after "vs first". The JSON nests a stats field's columns in one
 * object ("dispatch_s": {"p50", "p99"}); the CSV spells them
 * <stem>_<stat>_s ("dispatch_p50_s"), the names moesim.compare/1 started
 * with. Rows come in the caller's order, so the output depends on nothing
 * but the records.
 */
#include "moesim/compare_out.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/field.h"
#include "moesim/jsonout.h"

/* ---- the columns ---- */

typedef struct column {
    const field *f;
    field_stat stat; /* a stats field's stat; FIELD_STAT_COUNT for a scalar */
    int is_int;      /* the figure lives in the record's i[] */
    char head[48];   /* "" : JSON only */
    char csv[64];
    int width;
    field_fmt fmt;
} column;

/* Fills cols (COMPARE_OUT_MAX at most) and returns how many there are. */
static int columns(column *cols)
{
    int n = 0;
    for (int pos = 1;; pos++) {
        const field *f = NULL;
        for (int i = 0; i < field_count() && !f; i++)
            if (field_at(i)->level == FIELD_TOTALS && field_at(i)->cmp == pos)
                f = field_at(i);
        if (!f)
            return n;
        for (int st = 0; st <= FIELD_STAT_COUNT && n < COMPARE_OUT_MAX; st++) {
            int stats = f->type == FIELD_STATS;
            if (stats ? st == FIELD_STAT_COUNT || !(f->cmp_stats & FIELD_STAT_BIT(st))
                      : st != FIELD_STAT_COUNT)
                continue;
            column *c = &cols[n++];
            memset(c, 0, sizeof(*c));
            c->f = f;
            c->stat = (field_stat)st;
            c->is_int = stats ? field_stat_is_int((field_stat)st) : f->type == FIELD_INT;
            c->width = f->cmp_width;
            c->fmt = f->cmp_fmt;
            const char *sn = field_stat_name((field_stat)st);
            if (f->cmp_head)
                snprintf(c->head, sizeof(c->head), stats ? "%s %s" : "%s", f->cmp_head, sn);
            size_t stem = strlen(f->name);
            if (stats && stem > 2 && strcmp(f->name + stem - 2, "_s") == 0)
                snprintf(c->csv, sizeof(c->csv), "%.*s_%s_s", (int)(stem - 2), f->name, sn);
            else if (stats)
                snprintf(c->csv, sizeof(c->csv), "%s_%s", f->name, sn);
            else
                snprintf(c->csv, sizeof(c->csv), "%s", f->name);
        }
    }
}

/* The column of the throughput, which "vs first" divides; -1 if none. */
static int throughput_column(const column *cols, int n)
{
    for (int c = 0; c < n; c++)
        if (strcmp(cols[c].f->name, "throughput_tokens_per_s") == 0)
            return c;
    return -1;
}

static const char ratio_head[] = "vs first";
#define RATIO_WIDTH 8

/* ---- records ---- */

void compare_out_from_run(compare_out_record *rec, const scenario *s, const metrics *m,
                          const topo_t *t)
{
    column cols[COMPARE_OUT_MAX];
    int n = columns(cols);
    field_src src;
    field_src_init(&src, s, m, t);
    memset(rec, 0, sizeof(*rec));
    for (int c = 0; c < n; c++) {
        field_value v;
        field_get(cols[c].f, &src, &v);
        double x = field_number(cols[c].f, &v, cols[c].stat);
        if (cols[c].is_int)
            rec->i[c] = cols[c].f->type == FIELD_INT ? v.i : (int64_t)x;
        else
            rec->r[c] = x;
    }
}

int compare_out_column(const char *name)
{
    column cols[COMPARE_OUT_MAX];
    int n = columns(cols);
    for (int c = 0; c < n; c++)
        if (strcmp(cols[c].csv, name) == 0)
            return c;
    return -1;
}

double compare_out_throughput(const compare_out_record *rec)
{
    column cols[COMPARE_OUT_MAX];
    int c = throughput_column(cols, columns(cols));
    return c >= 0 ? rec->r[c] : 0;
}

void compare_out_ratios(compare_out_record *rec, long n, const char *const *error)
{
    double first = 0;
    for (long i = 0; i < n; i++)
        if (!error || !error[i]) {
            first = compare_out_throughput(&rec[i]);
            break;
        }
    for (long i = 0; i < n; i++)
        rec[i].throughput_ratio = first > 0 ? compare_out_throughput(&rec[i]) / first : 0;
}

static const char *row_error(const compare_out_sweep *sw, long row)
{
    return sw->error ? sw->error[row] : NULL;
}

/* ---- the table ---- */

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
static int key_width(const compare_out_sweep *sw, int k)
{
    size_t w = strlen(sw->key[k]);
    for (int i = 0; i < sw->nvalues[k]; i++)
        if (strlen(sw->values[k][i]) > w)
            w = strlen(sw->values[k][i]);
    return w > 1000 ? 1000 : (int)w;
}

char *compare_out_heading(const compare_out_sweep *sw, char *buf, size_t n)
{
    column cols[COMPARE_OUT_MAX];
    int nc = columns(cols);
    size_t k = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; i < sw->nkeys; i++)
        k = put(buf, n, k, "%s%*s", i ? "  " : "", key_width(sw, i), sw->key[i]);
    for (int c = 0; c < nc; c++)
        if (cols[c].head[0])
            k = put(buf, n, k, "%s%*s", k ? "  " : "", cols[c].width, cols[c].head);
    put(buf, n, k, "%s%*s", k ? "  " : "", RATIO_WIDTH, ratio_head);
    return buf;
}

char *compare_out_row(const compare_out_sweep *sw, long row, char *buf, size_t n)
{
    column cols[COMPARE_OUT_MAX];
    int nc = columns(cols);
    const compare_out_record *r = &sw->rec[row];
    size_t k = 0;
    if (n)
        buf[0] = '\0';
    if (row_error(sw, row)) { /* "KEY=V, KEY=V  failed: why": the key named */
        for (int i = 0; i < sw->nkeys; i++)
            k = put(buf, n, k, "%s%s=%s", i ? ", " : "", sw->key[i],
                    sw->cell[row * sw->nkeys + i]);
        put(buf, n, k, "%sfailed: %s", k ? "  " : "", row_error(sw, row));
        return buf;
    }
    for (int i = 0; i < sw->nkeys; i++)
        k = put(buf, n, k, "%s%*s", i ? "  " : "", key_width(sw, i),
                sw->cell[row * sw->nkeys + i]);
    char cell[48];
    for (int c = 0; c < nc; c++) {
        if (!cols[c].head[0])
            continue;
        double x = cols[c].is_int ? (double)r->i[c] : r->r[c];
        k = put(buf, n, k, "%s%*s", k ? "  " : "", cols[c].width,
                field_format(cols[c].fmt, x, cell, sizeof(cell)));
    }
    put(buf, n, k, "%s%*s", k ? "  " : "", RATIO_WIDTH,
        field_format(FIELD_FMT_TIMES, r->throughput_ratio, cell, sizeof(cell)));
    return buf;
}

/* Room for one line: the columns, the keys, and an error. */
static size_t line_size(const compare_out_sweep *sw)
{
    size_t n = 1700;
    for (int c = 0; c < COMPARE_OUT_MAX; c++)
        n += 64;
    for (int i = 0; i < sw->nkeys; i++)
        n += (size_t)key_width(sw, i) + 2;
    return n;
}

int compare_out_table(FILE *f, const compare_out_sweep *sw)
{
    size_t n = line_size(sw);
    char *line = xmalloc(n, "table line");
    fprintf(f, "moesim %s compare: %s (seed %" PRIu64 "), %s, %ld variant%s\n", MOESIM_VERSION,
            sw->name, sw->seed, sw->file, sw->nrows, sw->nrows == 1 ? "" : "s");
    if (sw->nsets > 0) {
        fputs("  every variant:", f);
        for (int i = 0; i < sw->nsets; i++)
            fprintf(f, " %s", sw->sets[i]);
        fputc('\n', f);
    }
    fputc('\n', f);
    fprintf(f, "%s\n", compare_out_heading(sw, line, n));
    for (long i = 0; i < sw->nrows; i++)
        fprintf(f, "%s\n", compare_out_row(sw, i, line, n));
    fputs("\ndispatch, combine: over batches and MoE layers; step: one forward pass, or "
          "one training step;\n"
          "vs first: throughput over the first row's\n",
          f);
    free(line);
    return ferror(f) ? -1 : 0;
}

/* ---- JSON and CSV ---- */

static json_t *figure(const column *c, const compare_out_record *r, int i)
{
    return c->is_int ? jsonout_int(r->i[i]) : jsonout_real(r->r[i]);
}

/* One variant: its keys' values, then the figures (a stats field's in one
 * object), "vs first" after the last column the table shows. */
static json_t *json_row(const compare_out_sweep *sw, long row, const column *cols, int nc)
{
    json_t *o = jsonout_object(), *set = jsonout_object();
    for (int k = 0; k < sw->nkeys; k++)
        jsonout_set(set, sw->key[k], jsonout_str(sw->cell[row * sw->nkeys + k]));
    jsonout_set(o, "set", set);
    if (row_error(sw, row)) {
        jsonout_set(o, "error", jsonout_str(row_error(sw, row)));
        return o;
    }
    const compare_out_record *r = &sw->rec[row];
    int thr = throughput_column(cols, nc); /* the ratio follows it */
    for (int c = 0; c < nc; c++) {
        if (cols[c].f->type == FIELD_STATS) {
            json_t *st = json_object_get(o, cols[c].f->name);
            if (!st) {
                st = jsonout_object();
                jsonout_set(o, cols[c].f->name, st);
            }
            jsonout_set(st, field_stat_name(cols[c].stat), figure(&cols[c], r, c));
        } else {
            jsonout_set(o, cols[c].f->name, figure(&cols[c], r, c));
        }
        if (c == thr)
            jsonout_set(o, "throughput_ratio", jsonout_real(r->throughput_ratio));
    }
    return o;
}

int compare_out_json(FILE *f, const compare_out_sweep *sw)
{
    static const char *const expand[] = {"", "vary", "variants", NULL};
    column cols[COMPARE_OUT_MAX];
    int nc = columns(cols);
    json_t *root = jsonout_object(), *scen = jsonout_object(), *sets = jsonout_array();
    jsonout_set(root, "schema", jsonout_str(COMPARE_OUT_SCHEMA));
    jsonout_set(root, "moesim_version", jsonout_str(MOESIM_VERSION));
    jsonout_set(scen, "name", jsonout_str(sw->name));
    jsonout_set(scen, "file", jsonout_str(sw->file));
    jsonout_set(scen, "seed", jsonout_u64(sw->seed));
    for (int i = 0; i < sw->nsets; i++)
        jsonout_push(sets, jsonout_str(sw->sets[i]));
    jsonout_set(scen, "set", sets);
    jsonout_set(root, "scenario", scen);
    json_t *vary = jsonout_array();
    for (int k = 0; k < sw->nkeys; k++) {
        json_t *v = jsonout_object(), *vals = jsonout_array();
        jsonout_set(v, "key", jsonout_str(sw->key[k]));
        for (int i = 0; i < sw->nvalues[k]; i++)
            jsonout_push(vals, jsonout_str(sw->values[k][i]));
        jsonout_set(v, "values", vals);
        jsonout_push(vary, v);
    }
    jsonout_set(root, "vary", vary);
    json_t *rows = jsonout_array();
    for (long i = 0; i < sw->nrows; i++)
        jsonout_push(rows, json_row(sw, i, cols, nc));
    jsonout_set(root, "variants", rows);
    int rc = jsonout_write(f, root, expand);
    json_decref(root);
    return rc;
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

char *compare_out_csv_header(char *buf, size_t n)
{
    column cols[COMPARE_OUT_MAX];
    int nc = columns(cols);
    size_t k = 0;
    int thr = throughput_column(cols, nc), first = 1;
    if (n)
        buf[0] = '\0';
    for (int c = 0; c < nc; c++) {
        if (cols[c].head[0])
            k = put(buf, n, k, "%s%s", first ? "" : ",", cols[c].csv), first = 0;
        if (c == thr) /* columns only ever follow: the ratio keeps its place */
            k = put(buf, n, k, ",throughput_ratio");
    }
    return buf;
}

int compare_out_csv(FILE *f, const compare_out_sweep *sw)
{
    column cols[COMPARE_OUT_MAX];
    int nc = columns(cols);
    char head[1024], num[JSONOUT_REAL_MAX];
    for (int k = 0; k < sw->nkeys; k++) {
        csv_str(f, sw->key[k]);
        fputc(',', f);
    }
    fprintf(f, "%s\n", compare_out_csv_header(head, sizeof(head)));
    for (long v = 0; v < sw->nrows; v++) {
        const compare_out_record *r = &sw->rec[v];
        int failed = row_error(sw, v) != NULL;
        for (int k = 0; k < sw->nkeys; k++) {
            csv_str(f, sw->cell[v * sw->nkeys + k]);
            fputc(',', f);
        }
        int thr = throughput_column(cols, nc), first = 1;
        for (int c = 0; c < nc; c++) {
            if (cols[c].head[0]) {
                if (!first)
                    fputc(',', f);
                first = 0;
                if (!failed && cols[c].is_int)
                    fprintf(f, "%" PRId64, r->i[c]);
                else if (!failed)
                    fputs(jsonout_format_real(r->r[c], num, sizeof(num)), f);
            }
            if (c == thr) {
                fputc(',', f);
                if (!failed)
                    fputs(jsonout_format_real(r->throughput_ratio, num, sizeof(num)), f);
            }
        }
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
