/*
 * csv.h - a run's results as CSV files, for spreadsheets and pandas.
 *
 * Schema "moesim.csv/1", documented in docs/output.md: six files in one
 * directory, totals.csv, layers.csv, experts.csv, links.csv, steps.csv and stages.csv
 * (training steps and stages; headers alone for forward runs), whose columns
 * carry the names of the JSON report's fields (report.h; a stats object such
 * as dispatch_s flattens into dispatch_s_mean, dispatch_s_p50, ...). Numbers
 * are written as the JSON writes them (12 significant digits); a value the
 * JSON writes null is an empty field. Every file starts with its header row,
 * ends its lines with "\n" and quotes a field only when it must (RFC 4180).
 * Output is a pure function of the scenario and the metrics: the same run
 * gives byte-identical files.
 */
#ifndef MOESIM_CSV_H
#define MOESIM_CSV_H

#include "moesim/base.h"
#include "moesim/metrics.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

#define CSV_SCHEMA "moesim.csv/1"

/* Writes the run's CSV files into dir (created if missing; its parent must
 * exist). All files appear together or none: each is written under a
 * temporary name and all are renamed into place only after every one was
 * written; if a rename fails, the files already renamed are removed again
 * (and a directory this call created). All pointers borrowed. Returns 0, or
 * -1 with e filled (ERR_RUN: cannot create or write). */
int report_csv(const char *dir, const scenario *s, const metrics *m, const topo_t *t, err_t *e);

#endif
