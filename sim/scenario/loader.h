/*
 * loader.h - what the scenario loader's files share (private to
 * sim/scenario; not in include/).
 *
 *   scenario.c  the key-table engine: --set, the walk for unknown keys, one
 *               row read, bounded, stored and checked, errors, the key reference
 *   schema.c    the rows (scenario_keys[]), their computed defaults and the
 *               checks across keys
 *   preset.c    system presets (cluster.system) and their sources
 *   memfit.c    what one GPU holds, and the check that it fits
 *   lex.c       a first pass over the text for libconfig's sharp edges
 */
#ifndef MOESIM_SCENARIO_LOADER_H
#define MOESIM_SCENARIO_LOADER_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "moesim/scenario.h"

typedef enum key_type {
    KT_INT,       /* int field */
    KT_INT64,     /* int64_t or uint64_t field */
    KT_FLOAT,     /* double; an integer is accepted */
    KT_BOOL,      /* bool */
    KT_STRING,    /* char array */
    KT_ENUM,      /* one of `vals`, stored as an int code */
    KT_BANDWIDTH, /* "400 Gb/s" -> double B/s */
    KT_TIME,      /* "1.5 us" -> sim_time_t ps */
    KT_SIZE,      /* "80 GiB" -> double bytes */
    KT_FLOPS,     /* "989 TFLOP/s" -> double FLOP/s */
    KT_LIST,      /* a list; its check reads it */
    KT_GPU        /* a preset name (stored as a string) or a group of overrides */
} key_type;

enum {
    F_MIN_OPEN = 1, /* the lower bound itself is not allowed */
    F_NO_MAX = 2    /* no upper bound */
};

/* One value of a row: given in the tree (st) or a default (st NULL). */
typedef struct value {
    const config_setting_t *st;
    int64_t i;     /* int, int64, bool, enum code, time */
    double d;      /* float and the unit kinds but time */
    const char *s; /* string, enum name; borrowed from the tree or the table */
} value;

/* Limits of the text itself, checked before libconfig reads it (lex.c). */
#define SCENARIO_MAX_STRING 4096 /* bytes of one string, adjacent literals joined */
#define SCENARIO_MAX_DEPTH 64    /* groups and lists inside each other */
#define SCENARIO_MAX_INCLUDE 8   /* @include inside @include */

/* An integer literal libconfig reads as another value (wrapped past 32 bits
 * without L, saturated past 64 bits): where it is and its true value. */
typedef struct scenario_wide {
    char file[256];   /* as libconfig names the file; "" for a string */
    int line;         /* of the literal */
    int name_line;    /* of the name it is assigned to */
    char name[64];    /* that name; "" inside a list */
    char text[40];    /* the literal as written */
    int64_t value;    /* its value, when it fits 64 bits */
    bool too_big;     /* it does not */
} scenario_wide;

typedef struct scenario_lex {
    scenario_wide *wide; /* owned; scenario_lex_fini frees */
    int n, cap;
} scenario_lex;

/* Lexes a file (and the files it includes, `depth` levels down already) or a
 * string; `shown` names it in errors. 0, or -1 with e filled (ERR_INPUT). A
 * file that cannot be opened is left for libconfig to report. */
int scenario_lex_file(scenario_lex *x, const char *path, const char *shown, int depth,
                      err_t *e);
int scenario_lex_string(scenario_lex *x, const char *text, const char *name, err_t *e);
/* The record of the literal assigned to `name` at (file, line); NULL if none.
 * Borrowed from x. */
const scenario_wide *scenario_lex_find(const scenario_lex *x, const char *file, int line,
                                       const char *name);
void scenario_lex_fini(scenario_lex *x);

typedef struct loader {
    scenario *s;
    config_t *cfg;
    const char *name; /* file name for errors when libconfig has none */
    const scenario_lex *lex; /* integers libconfig reads wrong; borrowed */
} loader;

typedef struct key_row key_row;
typedef void (*default_fn)(const scenario *s, const key_row *r, value *v);
typedef int (*check_fn)(loader *L, const key_row *r, const value *v, err_t *e);

struct key_row {
    const char *path;
    key_type type;
    const char *def;          /* default as written in a file; with `deflt`, only
                               * words for the docs; NULL without `deflt`: required */
    default_fn deflt;         /* computes the default from rows above, or NULL */
    double min, max;          /* bounds of numbers (see flags) */
    unsigned flags;
    const char *max_key;      /* an int key above whose value is the upper bound */
    const char *na_what;      /* ints: values above `max` are "<na_what> not available
                               * in this version" ("tensor parallelism is") */
    const char *(*names)(int);/* enum: the model's name table, values 0 .. count - 1 */
    int count;
    const char *const *vals;  /* enum: values after the model's (aliases), or all of
                               * them for the scenario's own enums (NULL-ended) */
    const int *codes;         /* enum: the code stored for vals[i]; NULL: i */
    const char *const *na;    /* enum: recognised, not available yet (NULL-ended) */
    check_fn check;           /* a check across keys, run after storing, or NULL */
    size_t off, size;         /* the field in `scenario`; size 0: none */
    const char *help;
};

#define FIELD(m) .off = offsetof(scenario, m), .size = sizeof(((scenario *)0)->m)

/* The schema, in dependency order (schema.c). */
extern const key_row scenario_keys[];
extern const size_t scenario_nkeys;

/* Fills e (ERR_INPUT) for the setting st, or for the unwritten key `key`
 * located at its enclosing group, and returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
int scenario_fail(const loader *L, const config_setting_t *st, const char *key, err_t *e,
                  const char *fmt, ...);
/* What row r allows, for messages (L set: bounds read from loaded keys) and
 * for the docs (L NULL: bounds named by key); writes at most n bytes. */
void scenario_allowed(const loader *L, const key_row *r, char *buf, size_t n);
/* What the file wrote, as it wrote it (9, 1.5, "x", a group). */
void scenario_describe(const config_setting_t *st, char *buf, size_t n);
/* The loaded value of the int key `path` (0 if there is none). */
int64_t scenario_key_int(const scenario *s, const char *path);
/* The integer at st (an int setting) as the file wrote it, not as libconfig
 * wrapped it; one beyond 64 bits fails naming r's key and range (r NULL:
 * st's name). */
int scenario_int_of(const loader *L, const key_row *r, const config_setting_t *st, int64_t *v,
                    err_t *e);
/* Applies "key.path=value" to the tree, as --set does. */
int scenario_apply_set(loader *L, const char *set, err_t *e);

/* Expands cluster.system into the keys the tree lacks (preset.c). */
int scenario_apply_system(loader *L, err_t *e);
/* Refuses a scenario whose GPUs cannot hold it, when cluster.check_memory
 * (memfit.c). */
int scenario_check_memory(loader *L, err_t *e);
/* Refuses products of keys the run cannot do: min_capacity beyond a batch's
 * assignments, simulated time that could overflow the clock, host memory
 * beyond limits.host_memory (memfit.c). After the rows and derive. */
int scenario_check_products(loader *L, err_t *e);

#endif
