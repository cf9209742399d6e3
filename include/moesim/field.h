/*
 * field.h - the table of result fields: one row per figure a run reports.
 *
 * Each row gives the field's name (its JSON name, fixed once written: the
 * schemas add names, never rename them), its unit, its level (the run's
 * totals, one MoE layer, one expert of a layer, one link), how it is
 * computed (a getter from the scenario and the metrics) and one line of
 * meaning. The JSON report, the CSV tables, the per-layer text table, the
 * `compare` columns and the field reference in docs/output.md are all made
 * from these rows, so a field added here appears in every one of them.
 *
 * Order: within a level, the table's order is the CSV's column order and
 * the JSON's member order. A totals-level field also names its group, the
 * JSON object it sits in ("scenario", "cluster", ..., "totals"); the report
 * writes the groups in field_group order, each with its fields in table
 * order, and totals.csv names a field "<group>_<name>" unless its group is
 * "totals". New fields go at the end of their level, so CSV columns only
 * ever get appended.
 */
#ifndef MOESIM_FIELD_H
#define MOESIM_FIELD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "moesim/gpu.h"
#include "moesim/metrics.h"
#include "moesim/report.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

typedef enum field_level {
    FIELD_TOTALS, /* one value per run */
    FIELD_LAYER,  /* one per MoE layer */
    FIELD_EXPERT, /* one per (MoE layer, expert) */
    FIELD_LINK,   /* one per link */
    FIELD_STEP,   /* one per training step */
    FIELD_STAGE,  /* one per pipeline stage (training) */
    /* later: FIELD_REQUEST (serving) */
    FIELD_LEVEL_COUNT
} field_level;

typedef enum field_type {
    FIELD_INT,   /* int64, exact */
    FIELD_U64,   /* uint64 (the seed) */
    FIELD_REAL,  /* double; null/empty when not finite */
    FIELD_STR,
    FIELD_BOOL,
    FIELD_STATS, /* a metrics series: mean p50 p95 p99 max (s), n min_ps max_ps sum_ps */
    FIELD_REALS, /* an array of reals: JSON only (no CSV column) */
    FIELD_TYPE_COUNT
} field_type;

/* The JSON objects of totals-level fields, in the report's order. */
typedef enum field_group {
    FIELD_GROUP_SCENARIO,
    FIELD_GROUP_CLUSTER,
    FIELD_GROUP_MODEL,
    FIELD_GROUP_NETWORK,
    FIELD_GROUP_PLACEMENT,
    FIELD_GROUP_LAYOUT,
    FIELD_GROUP_WORKLOAD,
    FIELD_GROUP_MEMORY,
    FIELD_GROUP_TOTALS,
    FIELD_GROUP_COUNT,
    FIELD_GROUP_NONE = FIELD_GROUP_COUNT /* below the totals level */
} field_group;

/* The members of a stats object, in the JSON's order. */
typedef enum field_stat {
    FIELD_STAT_MEAN, FIELD_STAT_P50, FIELD_STAT_P95, FIELD_STAT_P99, FIELD_STAT_MAX,
    FIELD_STAT_N, FIELD_STAT_MIN_PS, FIELD_STAT_MAX_PS, FIELD_STAT_SUM_PS,
    FIELD_STAT_COUNT
} field_stat;

#define FIELD_STAT_BIT(s) (1u << (s))

/* How a figure reads in a text table. */
typedef enum field_fmt {
    FIELD_FMT_NONE,
    FIELD_FMT_INT,        /* 1234 */
    FIELD_FMT_PCT2,       /* 12.50% (a fraction) */
    FIELD_FMT_PCT1,       /* 12.5% */
    FIELD_FMT_RATIO,      /* 1.250 */
    FIELD_FMT_TIMES,      /* 1.250x */
    FIELD_FMT_TIME,       /* 12.5 us (seconds) */
    FIELD_FMT_THROUGHPUT, /* 2.500 M tok/s, 179.9 k tok/s */
    FIELD_FMT_GB,         /* 54.6 GB (bytes) */
    FIELD_FMT_COUNT
} field_fmt;

/* What the getters read: one finished run, and where in it. All borrowed. */
typedef struct field_src {
    const scenario *s;
    const metrics *m;
    const topo_t *t;
    report_totals_t tot; /* report_totals(m) */
    gpu_memory mem;      /* scenario_memory(s) */
    int layer;           /* FIELD_LAYER, FIELD_EXPERT: index into m->layer */
    int expert;          /* FIELD_EXPERT */
    int link;            /* FIELD_LINK: link id */
    int step;            /* FIELD_STEP: index into m->step */
    int stage;           /* FIELD_STAGE: the pipeline stage */
} field_src;

/* One field's value. */
typedef struct field_value {
    bool null;          /* JSON null, an empty CSV field */
    int64_t i;          /* FIELD_INT */
    uint64_t u;         /* FIELD_U64 */
    double r;           /* FIELD_REAL */
    const char *s;      /* FIELD_STR: borrowed from the source or from buf */
    bool b;             /* FIELD_BOOL */
    metrics_summary st; /* FIELD_STATS */
    const double *v;    /* FIELD_REALS: n values, borrowed */
    size_t n;
    char buf[64];       /* room for a string made on the spot (a link's name) */
} field_value;

typedef struct field {
    const char *name;    /* the JSON name */
    field_level level;
    field_group group;   /* FIELD_TOTALS only */
    field_type type;
    const char *unit;    /* "s", "ps", "B", "tokens", "fraction", "ratio", "" ... */
    void (*get)(const field_src *src, field_value *v);
    const char *meaning; /* one line, for docs/output.md */
    /* the per-layer text table: column position (1, 2, ...; 0: not shown),
     * heading, width, format; a stats field shows its p50 */
    int text;
    const char *text_head;
    int text_width;
    field_fmt text_fmt;
    /* `compare`: position among its columns (0: not compared); for a stats
     * field the stats compared (FIELD_STAT_BIT set); the heading (a stats
     * field's gets " p50" ...), width and format of the table's column, or
     * no heading: in compare's JSON only */
    int cmp;
    unsigned cmp_stats;
    const char *cmp_head;
    int cmp_width;
    field_fmt cmp_fmt;
    /* NULL, or the object the field is a member of, at its level (and
     * group): totals.exposed_s.alltoall is the member "alltoall" of sub
     * "exposed_s"; its CSV columns read exposed_s_alltoall_* */
    const char *sub;
} field;

/* The table: field_count() rows, field_at(0 .. count-1). */
int field_count(void);
const field *field_at(int i);
/* The row of (level, group, name); group is ignored below FIELD_TOTALS.
 * NULL if there is none. */
const field *field_find(field_level level, field_group group, const char *name);

/* The CSV column (the stem of a stats field's columns) of f:
 * [<group>_][<sub>_]<name>, the group only for totals outside "totals".
 * Returns buf. */
char *field_column(const field *f, char *buf, size_t n);

/* Names for documents and CSV columns ("totals", "layer", ...; "scenario",
 * ...; "mean", "p50", ...); "?" for a value out of range. */
const char *field_level_name(field_level l);
const char *field_group_name(field_group g);
const char *field_stat_name(field_stat s);

/* Fills src for the run (all borrowed; they must outlive src); indices 0.
 * s and t may be NULL when only fields of the metrics will be read (the
 * compare figures). */
void field_src_init(field_src *src, const scenario *s, const metrics *m, const topo_t *t);

/* The value of f at src's position. */
void field_get(const field *f, const field_src *src, field_value *v);

/* One number of a value as a double: the value itself (FIELD_INT, FIELD_U64,
 * FIELD_REAL, FIELD_BOOL as 0/1) or stat `stat` of a FIELD_STATS value.
 * NaN when null. */
double field_number(const field *f, const field_value *v, field_stat stat);
/* Whether `stat` of a stats value is an exact integer (n, min_ps, ...). */
bool field_stat_is_int(field_stat stat);

/* The text of a figure in format fmt (without padding) into buf (n bytes);
 * returns buf. NaN gives "-". */
char *field_format(field_fmt fmt, double x, char *buf, size_t n);

/* The text of value v of f (stat `stat` of a stats value) in format fmt,
 * integers exactly, into buf (n bytes); returns buf. */
char *field_format_value(const field *f, const field_value *v, field_stat stat, field_fmt fmt,
                         char *buf, size_t n);

/* Writes docs/output.md's field reference (a Markdown table per level, one
 * row per field: JSON name, CSV column, unit, meaning). Returns 0, or -1 if
 * writing failed. */
int field_write_md(FILE *f);

#endif
