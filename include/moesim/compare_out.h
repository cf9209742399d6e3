/*
 * compare_out.h - the results of a sweep side by side: `moesim compare`'s
 * table, JSON (schema "moesim.compare/1") and CSV.
 *
 * The columns are the totals-level fields the field table marks for compare
 * (field.h: `cmp`, in its order; a stats field gives one column per stat
 * it compares), then "vs first", the throughput over the first row's. A
 * variant is a row: the value of every varied key, as written, and its
 * record, or the error it failed with. Nothing here knows how the variants
 * were planned or run: the caller passes plain data (compare_out_sweep), so
 * `compare`, a later `plan` and any sweep backend share these writers.
 * docs/compare.md documents the columns and the schemas.
 */
#ifndef MOESIM_COMPARE_OUT_H
#define MOESIM_COMPARE_OUT_H

#include <stdint.h>
#include <stdio.h>

#include "moesim/metrics.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

#define COMPARE_OUT_SCHEMA "moesim.compare/1"
#define COMPARE_OUT_MAX 16 /* compare columns a record holds (a unit test checks) */

/* What one variant measured: column c's figure in r[c] (a real column) or
 * i[c] (an integer column), in compare_out's column order. A plain record
 * of fixed size and no pointers: a child process can send its bytes down a
 * pipe to the parent (the same binary). */
typedef struct compare_out_record {
    double r[COMPARE_OUT_MAX];
    int64_t i[COMPARE_OUT_MAX];
    double throughput_ratio; /* over the first row's; set by compare_out_ratios */
} compare_out_record;

/* Fills *rec from a finished run (all borrowed; s and t may be NULL: the
 * compare figures read the metrics alone); throughput_ratio 0. */
void compare_out_from_run(compare_out_record *rec, const scenario *s, const metrics *m,
                          const topo_t *t);
/* Sets every row's throughput_ratio to its throughput over that of the
 * first row that ran (error[i] NULL; error itself NULL: every row ran); 0
 * when that throughput is 0 or no row ran. */
void compare_out_ratios(compare_out_record *rec, long n, const char *const *error);
/* The index in a record of the column that the CSV (or, for a column in the
 * JSON only, the JSON) names `name` ("dropped_share", "dispatch_p99_s",
 * "sim_time_ps"); -1 if there is none. */
int compare_out_column(const char *name);
/* A record's throughput (tokens per simulated second). */
double compare_out_throughput(const compare_out_record *rec);

/* A sweep's rows and what the outputs say about them; all borrowed. */
typedef struct compare_out_sweep {
    const char *name, *file;       /* the scenario (the first variant's) */
    uint64_t seed;                 /* the first variant's seed */
    const char *const *sets;       /* the --set overrides of every variant */
    int nsets;
    int nkeys;                     /* the varied keys */
    const char *const *key;        /* nkeys */
    const int *nvalues;            /* nkeys: how many values each key takes */
    const char *const *const *values; /* values[k][0 .. nvalues[k]): as written */
    long nrows;                    /* variants */
    const char *const *cell;       /* nrows x nkeys, row-major: row r's value of key k */
    const compare_out_record *rec; /* nrows (a failed row's is ignored) */
    const char *const *error;      /* nrows: NULL for a row that ran, else its error
                                    * ("file:line: key: msg"); NULL: every row ran */
} compare_out_sweep;

/* The table's column headings, or row `row`'s cells, without a newline:
 * right-aligned, two blanks apart, a column per varied key (as wide as the
 * key or its widest value), then the figures with their units; a failed
 * row is "KEY=V, KEY=V  failed: " and its error. Write at most n bytes into buf (always
 * terminated) and return buf. */
char *compare_out_heading(const compare_out_sweep *sw, char *buf, size_t n);
char *compare_out_row(const compare_out_sweep *sw, long row, char *buf, size_t n);

/* The table for people (a header line, the headings, a row per variant, a
 * legend), the JSON document (schema COMPARE_OUT_SCHEMA) and the CSV (a
 * header row, a row per variant; a failed row's figures are empty). Return
 * 0, or -1 if writing failed. */
int compare_out_table(FILE *f, const compare_out_sweep *sw);
int compare_out_json(FILE *f, const compare_out_sweep *sw);
int compare_out_csv(FILE *f, const compare_out_sweep *sw);

/* The column names of the CSV's figures, comma-separated (for tests and
 * docs): "dropped_share,...,throughput_ratio". Returns buf. */
char *compare_out_csv_header(char *buf, size_t n);

#endif
