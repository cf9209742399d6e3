/*
 * compare.h - `moesim compare`: one scenario under every combination of
 * varied keys, side by side.
 *
 * `moesim compare SCENARIO --vary KEY=V1,V2,... [--vary ...]` runs the
 * scenario once per variant: the cross product of the --vary lists, in
 * nested-loop order with the first --vary varying slowest. Each variant is
 * the scenario loaded with the common --set overrides and then one "KEY=Vi"
 * per varied key. Variants run in child processes (at most --jobs at once);
 * each child sends back one fixed-size compare_result, and the parent orders
 * the results by variant index, so the table, the JSON (schema
 * "moesim.compare/1") and the CSV do not depend on --jobs or on which child
 * finished first. docs/compare.md documents the options and the outputs.
 *
 * The pure parts (parsing --vary, enumerating variants, formatting rows and
 * writing JSON and CSV from result records) are public so they can be tested
 * without running a simulation.
 */
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "moesim/base.h"
#include "moesim/metrics.h"

#define COMPARE_SCHEMA "moesim.compare/1"
#define COMPARE_MAX_VARY 16        /* --vary options */
#define COMPARE_MAX_VARIANTS 10000 /* product of their value counts */

/* One --vary KEY=V1,V2,...: the key and its values, as written (blanks
 * around each trimmed). */
typedef struct compare_vary {
    char *key;      /* owned */
    char **assign;  /* nvalues owned strings "KEY=Vi", ready for the loader */
    const char **value; /* nvalues pointers into assign: the Vi part */
    int nvalues;
} compare_vary;

/* The varied keys; the variants are the cross product of their values. */
typedef struct compare_plan {
    compare_vary vary[COMPARE_MAX_VARY];
    int nvary;
    long variants; /* product of the value counts (1 when nvary is 0) */
} compare_plan;

#define COMPARE_PLAN_INIT {.nvary = 0, .variants = 1}

/* Parses one --vary spec ("KEY=V1,V2,..."; `spec` borrowed) and appends it to
 * the plan. Values are split at commas outside quotes and brackets, so an
 * array value such as [1,2] stays whole. Returns 0, or -1 with e filled
 * (ERR_INPUT, key "--vary"): no '=', no key, no values, an empty value, a
 * value listed twice, a key already varied, more than COMPARE_MAX_VARY
 * --vary or more than COMPARE_MAX_VARIANTS variants. On failure the plan is
 * unchanged. */
int compare_plan_add(compare_plan *p, const char *spec, err_t *e);
/* Frees what the plan owns and leaves it empty; safe on COMPARE_PLAN_INIT. */
void compare_plan_fini(compare_plan *p);

/* The value index of every varied key for variant `index` (0 <= index <
 * p->variants): nested-loop order, the first --vary slowest. choice has
 * p->nvary entries. */
void compare_plan_choice(const compare_plan *p, long index, int *choice);
/* Points sets[0 .. p->nvary-1] at the "KEY=Vi" strings of variant `index`
 * (borrowed from the plan). */
void compare_plan_sets(const compare_plan *p, long index, const char **sets);
/* "KEY=Vi, KEY=Vj" for variant `index`, for messages; writes at most n bytes
 * into buf and returns buf. */
char *compare_plan_label(const compare_plan *p, long index, char *buf, size_t n);

/* What one variant measured, or why it failed. A plain record of fixed size:
 * a child process writes its bytes to a pipe and the parent (the same
 * binary) reads them back. Times in seconds, shares as fractions. */
typedef struct compare_result {
    int32_t code;                    /* ERR_OK, or the err_code of a failure */
    int32_t pad_;                    /* zero; keeps the record free of holes */
    double dropped_share;            /* of token-expert assignments */
    double gpu_load_max_over_mean;   /* report_totals_t.gpu_max_over_mean */
    double internode_byte_share;     /* of dispatch bytes between GPUs */
    double dispatch_p50_s, dispatch_p99_s; /* over (batch, MoE layer) */
    double combine_p50_s, combine_p99_s;
    double step_p50_s;               /* over batches */
    double throughput_tokens_per_s;  /* tokens per simulated second */
    double throughput_ratio;         /* over the first variant's; set by compare_ratios */
    int64_t sim_time_ps;             /* simulated time at the end of the run */
    char error[1400];                /* "file:line: key: msg" when code != ERR_OK */
} compare_result;

/* Fills r's figures from a finished run's metrics (borrowed); code ERR_OK,
 * throughput_ratio 0 until compare_ratios. */
void compare_result_from_metrics(compare_result *r, const metrics *m);
/* Sets every throughput_ratio to its throughput over r[0]'s (0 when r[0]'s
 * throughput is 0). */
void compare_ratios(compare_result *r, long n);

/* What the outputs say about the scenario; all borrowed. `sets` are the
 * --set overrides (and "seed=N" from --seed) applied to every variant. */
typedef struct compare_meta {
    const char *name, *file;
    uint64_t seed; /* the first variant's seed */
    const char *const *sets;
    int nsets;
} compare_meta;

/* The column headings of the table, or one variant's row (r: its result),
 * without a newline; the columns are right-aligned, one per varied key
 * (as wide as the key or its widest value), then the figures with units.
 * Write at most n bytes into buf and return buf. */
char *compare_format_heading(const compare_plan *p, char *buf, size_t n);
char *compare_format_row(const compare_plan *p, long index, const compare_result *r,
                         char *buf, size_t n);

/* The table for people (a header line, the headings, a row per variant, a
 * legend), the JSON document (schema COMPARE_SCHEMA) and the CSV (a header
 * line, a row per variant). r has p->variants entries, every one ERR_OK.
 * All pointers borrowed. Return 0, or -1 if writing failed. */
int compare_write_table(FILE *f, const compare_meta *mt, const compare_plan *p,
                        const compare_result *r);
int compare_write_json(FILE *f, const compare_meta *mt, const compare_plan *p,
                       const compare_result *r);
int compare_write_csv(FILE *f, const compare_plan *p, const compare_result *r);

/* Runs `moesim compare` with the arguments after the command name: prints
 * the table on stdout and errors on stderr, writes --json and --csv whole or
 * not at all; returns the exit status (0; 1 a variant failed to run; 2 bad
 * input, including a variant the scenario loader refuses). */
int compare_main(int argc, char **argv);

#endif
