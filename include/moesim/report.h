/*
 * report.h - a run's results for people (a table) and for programs (JSON).
 *
 * The JSON schema is "moesim.report/1", documented in docs/output.md; fields
 * are added, never renamed. Numbers and strings as jsonout.h writes them. Output is a pure function of the scenario and the
 * metrics (no wall-clock times, no addresses), so the same scenario and seed
 * give byte-identical files.
 */
#ifndef MOESIM_REPORT_H
#define MOESIM_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "moesim/metrics.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

#define REPORT_SCHEMA "moesim.report/1"
#define REPORT_JSON_LINKS 16 /* links the JSON lists: the busiest that carried bytes */

/* The run's headline figures, as the report's "totals" prints them. */
typedef struct report_totals_t {
    int64_t assignments, dropped, rerouted; /* token-expert assignments, all MoE layers */
    double dropped_share, rerouted_share;   /* of assignments */
    double throughput;                      /* tokens per simulated second */
    double gpu_max_over_mean;               /* mean over batches and MoE layers */
    double internode_share;                 /* of dispatch bytes between GPUs */
} report_totals_t;


/* The link ids, most bytes first, ties by lower id: the order every report
 * lists links in. Caller frees. */
int *report_links_by_bytes(const metrics *m);

/* Fills *t from the metrics of a finished run. */
void report_totals(const metrics *m, report_totals_t *t);

/* Writes the human-readable report. All pointers borrowed. Returns 0, or -1
 * if writing failed. */
int report_text(FILE *f, const scenario *s, const metrics *m, const topo_t *t);
/* The JSON report as a jansson tree: every field of the table (field.h) at
 * its place. All pointers borrowed; the caller releases the tree with
 * json_decref. */
json_t *report_json_tree(const scenario *s, const metrics *m, const topo_t *t);
/* Writes the JSON report (report_json_tree through jsonout_write: one member
 * per line in the document, "totals", "layers" and each layer, and "links").
 * Returns 0, or -1 if writing failed. */
int report_json(FILE *f, const scenario *s, const metrics *m, const topo_t *t);

#endif
