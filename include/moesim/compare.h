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
 * The pure parts (parsing --vary, enumerating variants) are public so they
 * can be tested without running a simulation; the outputs are compare_out.h's.
 */
#ifndef MOESIM_COMPARE_H
#define MOESIM_COMPARE_H

#include <stdint.h>
#include <stdio.h>

#include "moesim/base.h"
#include "moesim/compare_out.h"

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
 * binary) reads them back. */
typedef struct compare_result {
    int32_t code;            /* ERR_OK, or the err_code of a failure */
    int32_t pad_;            /* zero; keeps the record free of holes */
    compare_out_record fig;  /* the figures (compare_out.h), when code is ERR_OK */
    char error[1400];        /* "file:line: key: msg" when code != ERR_OK */
} compare_result;

/* Runs `moesim compare` with the arguments after the command name: prints
 * the table on stdout and errors on stderr, writes --json and --csv whole or
 * not at all; returns the exit status (0; 1 a variant failed to run; 2 bad
 * input, including a variant the scenario loader refuses). */
int compare_main(int argc, char **argv);

#endif
