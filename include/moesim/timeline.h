/*
 * timeline.h - a run's phases as a Chrome trace event file (opens in
 * Perfetto, ui.perfetto.dev, or chrome://tracing).
 *
 * Every node is a process and every GPU two threads in it, its compute and
 * its communication stream, so a forward pass reads as two rows per GPU:
 * attention, gate, the GPU's own expert compute (where the straggler shows)
 * on the first; dispatch, combine, the TP all-reduces and pipeline sends on
 * the second, where they overlap the compute above them; one
 * more process, "run", holds a row with one span per batch and the
 * re-placements. Spans are complete events ("ph": "X") with times in
 * microseconds written exactly from integer picoseconds (six decimals), so
 * the same run gives the same bytes. Events are written as the run makes
 * them: memory does not grow with the run. The file goes through outfile.h:
 * it appears whole when timeline_finish succeeds, or not at all. Schema:
 * docs/output.md ("Timeline").
 */
#ifndef MOESIM_TIMELINE_H
#define MOESIM_TIMELINE_H

#include <stdint.h>

#include "moesim/base.h"

typedef struct timeline timeline_t;

/* The run's own row, for timeline_span's gpu. */
#define TIMELINE_RUN (-1)
/* Rows per GPU: stream 0 compute, 1 communication (thread 2 gpu + stream);
 * up to TIMELINE_MAX_STREAMS with timeline_create_streams: 2 pipeline
 * sends, 3 gradient reductions (threads after every GPU's first two). */
#define TIMELINE_STREAMS 2
#define TIMELINE_MAX_STREAMS 4

/* Starts the file at path (borrowed) for a cluster of nodes x gpus_per_node
 * GPUs, naming the scenario in its metadata. NULL with e filled (ERR_RUN)
 * if it cannot be written. */
timeline_t *timeline_create(const char *path, const char *scenario_name, int nodes,
                            int gpus_per_node, err_t *e);
/* The same with `streams` rows per GPU (2 .. TIMELINE_MAX_STREAMS). */
timeline_t *timeline_create_streams(const char *path, const char *scenario_name, int nodes,
                                    int gpus_per_node, int streams, err_t *e);

/* One span [start, end) on GPU gpu's row for `stream` (or TIMELINE_RUN,
 * stream ignored), named `name`
 * (a phase: "attention", "dispatch"...), in category cat ("compute",
 * "network", "run"), with the batch and layer it belongs to (layer < 0:
 * none) and, when key is not NULL, one more integer argument. name, cat and
 * key are written as given: plain words, no quotes or backslashes. */
void timeline_span(timeline_t *t, int gpu, int stream, const char *name, const char *cat,
                   sim_time_t start, sim_time_t end, int batch, int layer, const char *key,
                   int64_t value);

/* Closes the event list and renames the file into place. Frees t. 0, or -1
 * with e filled (ERR_RUN) and nothing left behind. */
int timeline_finish(timeline_t *t, err_t *e);

/* Drops the file. Frees t; NULL is fine. */
void timeline_abort(timeline_t *t);

#endif
