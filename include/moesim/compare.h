/*
 * compare.h - `moesim compare`: one scenario under every combination of
 * varied keys, side by side.
 *
 * `moesim compare SCENARIO --vary KEY=V1,V2,... [--vary ...]` (cmd_compare,
 * cmd.h) runs the scenario once per variant of a sweep plan (sweep.h): the
 * common --set overrides and then one "KEY=Vi" per varied key. Each child
 * of the sweep pool sends back one fixed-size compare_result, filed by
 * variant index, so the table, the JSON (schema "moesim.compare/1") and the
 * CSV do not depend on --jobs or on which child finished first. A variant
 * that fails is a row with its error, and the others still run.
 * docs/compare.md documents the options and the outputs.
 *
 * The pure parts (formatting rows and writing JSON and CSV from result
 * records) are public so they can be tested without running a simulation.
 */
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "moesim/base.h"
#include "moesim/metrics.h"
#include "moesim/sweep.h"

#define COMPARE_SCHEMA "moesim.compare/1"
/* The plan is the sweep's (sweep.h); the names below are the ones the
 * output functions were written with. */
typedef sweep_vary compare_vary;
typedef sweep_plan compare_plan;
#define COMPARE_MAX_VARY SWEEP_MAX_VARY

/* sweep_plan_choice, under the name the output functions use. */
void compare_plan_choice(const compare_plan *p, long index, int *choice);

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

#endif
