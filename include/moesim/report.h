/*
 * report.h - a run's results for people (a table) and for programs (JSON).
 *
 * The JSON schema is "moesim.report/1", documented in docs/output.md; fields
 * are added, never renamed. Output is a pure function of the scenario and the
 * metrics (no wall-clock times, no addresses), so the same scenario and seed
 * give byte-identical files.
 */
#ifndef MOESIM_REPORT_H
#define MOESIM_REPORT_H

#include <stdio.h>

#include "moesim/metrics.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

#define REPORT_SCHEMA "moesim.report/1"

/* Writes the human-readable report. All pointers borrowed. Returns 0, or -1
 * if writing failed. */
int report_text(FILE *f, const scenario *s, const metrics *m, const topo_t *t);
/* Writes the JSON report. Returns 0, or -1 if writing failed. */
int report_json(FILE *f, const scenario *s, const metrics *m, const topo_t *t);

#endif
