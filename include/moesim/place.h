/*
 * place.h - the `moesim place` command: a placement from an expert-load table.
 *
 * `moesim place --loads FILE.csv --strategy eplb --replicas R --groups G
 * --nodes N --gpus M` reads one row of expert loads per layer and prints, as
 * one line of JSON on stdout, for each layer the logical expert of every
 * physical slot (phy2log; slot s sits on GPU s / (R / M)), the replica count
 * of every expert (logcnt), the load of every GPU with an expert's load split
 * evenly over its replicas (gpu_load) and max / mean of those (max_over_mean).
 * docs/placement.md shows the published EPLB example.
 */
#ifndef MOESIM_PLACE_H
#define MOESIM_PLACE_H

#include <stdio.h>

#include "moesim/base.h"

/* Reads a load table from f (CSV: one row per layer, one column per expert,
 * numbers >= 0; a first line that is not all numbers is a header and
 * skipped; blank lines are skipped). `name` is the file name errors carry.
 * On success *loads (layers x experts, row major) is the caller's to free().
 * Returns -1 with e filled (ERR_INPUT, file:line and what is wrong). */
int place_read_loads(FILE *f, const char *name, double **loads, int *layers, int *experts,
                     err_t *e);


#endif
