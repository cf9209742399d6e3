/*
 * sweep.h - a scenario swept over varied keys (floor 5): the plan of
 * variants and the pool of processes that runs them.
 *
 * The plan is the cross product of --vary lists (KEY=V1,V2,...), numbered in
 * nested-loop order with the first --vary slowest. The pool runs a function
 * once per variant, at most `jobs` at once, each in a child process made by
 * fork() (the only backend today; an MPI backend would be another value of
 * sweep_backend behind the same sweep_run), and brings back from each a
 * fixed-size record (opaque bytes of the caller's choosing) and a status
 * (code and error text). A failing variant is a failed status, not the end
 * of the sweep. Results are filed under their variant index, so what the
 * caller prints does not depend on `jobs` or on which child finished first.
 * `compare` runs on it; `plan` and MPI sweeps are to come.
 */
#ifndef MOESIM_SWEEP_H
#define MOESIM_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "moesim/base.h"

#define SWEEP_MAX_VARY 16        /* --vary options */
#define SWEEP_MAX_VARIANTS 10000 /* product of their value counts */

/* One --vary KEY=V1,V2,...: the key and its values, as written (blanks
 * around each trimmed). */
typedef struct sweep_vary {
    char *key;      /* owned */
    char **assign;  /* nvalues owned strings "KEY=Vi", ready for the loader */
    const char **value; /* nvalues pointers into assign: the Vi part */
    int nvalues;
} sweep_vary;

/* The varied keys; the variants are the cross product of their values. */
typedef struct sweep_plan {
    sweep_vary vary[SWEEP_MAX_VARY];
    int nvary;
    long variants; /* product of the value counts (1 when nvary is 0) */
} sweep_plan;

#define SWEEP_PLAN_INIT {.nvary = 0, .variants = 1}

/* Parses one --vary spec ("KEY=V1,V2,..."; `spec` borrowed) and appends it to
 * the plan. Values are split at commas outside quotes and brackets, so an
 * array value such as [1,2] stays whole. Returns 0, or -1 with e filled
 * (ERR_INPUT, key "--vary"): no '=', no key, no values, an empty value, a
 * value listed twice, a key already varied, more than SWEEP_MAX_VARY
 * --vary or more than SWEEP_MAX_VARIANTS variants. On failure the plan is
 * unchanged. */
int sweep_plan_add(sweep_plan *p, const char *spec, err_t *e);
/* Frees what the plan owns and leaves it empty; safe on SWEEP_PLAN_INIT. */
void sweep_plan_fini(sweep_plan *p);

/* The value index of every varied key for variant `index` (0 <= index <
 * p->variants): nested-loop order, the first --vary slowest. choice has
 * p->nvary entries. */
void sweep_plan_choice(const sweep_plan *p, long index, int *choice);
/* Points sets[0 .. p->nvary-1] at the "KEY=Vi" strings of variant `index`
 * (borrowed from the plan). */
void sweep_plan_sets(const sweep_plan *p, long index, const char **sets);
/* "KEY=Vi, KEY=Vj" for variant `index`, for messages; writes at most n bytes
 * into buf and returns buf. */
char *sweep_plan_label(const sweep_plan *p, long index, char *buf, size_t n);

/* ---- the pool ---- */

#define SWEEP_MAX_JOBS 4096

/* How one variant ended: ERR_OK, or the err_code and "file:line: key: msg".
 * code is -1 for a variant that never ran (the sweep was stopped). */
typedef struct sweep_status {
    int32_t code;
    char error[1400];
} sweep_status;

/* Runs variant `index` into record (record_size bytes, zeroed). Returns 0,
 * or -1 with e filled. Called in a child process: it may print nothing
 * and must not write files other variants write. */
typedef int (*sweep_fn)(void *ctx, long index, void *record, err_t *e);

/* Called when the count of finished or running variants changes. */
typedef void (*sweep_progress_fn)(void *ctx, long done, long total, int running);

typedef enum sweep_backend { SWEEP_FORK } sweep_backend;

typedef struct sweep_config {
    sweep_backend backend;
    long variants;      /* >= 1 */
    long jobs;          /* at most this many at once; 1..SWEEP_MAX_JOBS */
    size_t record_size; /* bytes of one result record */
    sweep_fn run;
    void *ctx;          /* for run; borrowed */
    sweep_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    int (*stop)(void);  /* may be NULL; nonzero: kill the children and return */
} sweep_config;

/* Runs every variant. records has variants * record_size bytes, status
 * `variants` entries (both the caller's). Returns 0 when every variant
 * ended (each status says how), or -1 with e filled (ERR_RUN) when stop()
 * asked to end: then every child is killed and reaped, and the variants
 * that did not finish have code -1. */
int sweep_run(const sweep_config *c, void *records, sweep_status *status, err_t *e);

#endif
