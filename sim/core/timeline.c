/*
 * timeline.c - Chrome trace event files, written as the run goes.
 *
 * The format is the JSON object form of the Trace Event Format (Google,
 * "Trace Event Format", the document chrome://tracing and Perfetto read):
 * {"traceEvents": [...], "displayTimeUnit": "ns", "otherData": {...}}.
 * Metadata events ("ph": "M") name the processes (nodes, and "run") and the
 * threads (GPUs); every phase is one complete event ("ph": "X") with "ts"
 * and "dur" in microseconds. Those are written from integer picoseconds as
 * whole microseconds and six decimals, never through a double, so the text
 * is exact and the same on every machine.
 */
#include "moesim/timeline.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "moesim/outfile.h"

/* a GPU's rows, by stream (sim/play's compute and communication streams;
 * training's pipeline-send and gradient streams) */
static const char *const stream_names[TIMELINE_MAX_STREAMS] = {"compute", "comm", "p2p",
                                                               "grad"};

struct timeline {
    outfile out;
    int nodes, gpus_per_node;
    int streams;
};

/* Thread ids: stream st < 2 of GPU g is 2 g + st, as in files written
 * before the extra streams; stream st >= 2 comes after every GPU's two. */
static int tid_of(const timeline_t *t, int g, int st)
{
    int world = t->nodes * t->gpus_per_node;
    return st < TIMELINE_STREAMS ? TIMELINE_STREAMS * g + st
                                 : TIMELINE_STREAMS * world +
                                       (t->streams - TIMELINE_STREAMS) * g +
                                       (st - TIMELINE_STREAMS);
}

/* ps as microseconds with six decimals: 1234567 ps -> "1.234567". */
static void put_us(FILE *f, sim_time_t ps)
{
    fprintf(f, "%" PRId64 ".%06" PRId64, ps / 1000000, ps % 1000000);
}

timeline_t *timeline_create(const char *path, const char *scenario_name, int nodes,
                            int gpus_per_node, err_t *e)
{
    return timeline_create_streams(path, scenario_name, nodes, gpus_per_node,
                                   TIMELINE_STREAMS, e);
}

timeline_t *timeline_create_streams(const char *path, const char *scenario_name, int nodes,
                                    int gpus_per_node, int streams, err_t *e)
{
    timeline_t *t = xcalloc(1, sizeof(*t), "timeline");
    t->out = (outfile)OUTFILE_INIT;
    t->nodes = nodes;
    t->gpus_per_node = gpus_per_node;
    t->streams = streams;
    if (outfile_open(&t->out, path, e) < 0) {
        free(t);
        return NULL;
    }
    FILE *f = t->out.f;
    fprintf(f, "{\"displayTimeUnit\": \"ns\",\n \"otherData\": {\"schema\": "
               "\"moesim.timeline/2\", \"scenario\": ");
    /* the name is a scenario name: escape what JSON needs */
    fputc('"', f);
    for (const char *c = scenario_name; *c; c++) {
        if (*c == '"' || *c == '\\')
            fputc('\\', f);
        if ((unsigned char)*c >= 0x20)
            fputc(*c, f);
    }
    fprintf(f, "\"},\n \"traceEvents\": [\n");
    /* metadata: nodes are processes 0.., GPUs their threads; "run" after them */
    for (int n = 0; n < nodes; n++) {
        fprintf(f, "  {\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, "
                   "\"args\": {\"name\": \"node %d\"}},\n", n, n);
        fprintf(f, "  {\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, "
                   "\"args\": {\"sort_index\": %d}},\n", n, n + 1);
        for (int g = n * gpus_per_node; g < (n + 1) * gpus_per_node; g++)
            for (int st = 0; st < t->streams; st++) {
                int tid = tid_of(t, g, st), sort = t->streams * g + st;
                fprintf(f, "  {\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, "
                           "\"tid\": %d, \"args\": {\"name\": \"gpu %d %s\"}},\n",
                        n, tid, g, stream_names[st]);
                fprintf(f, "  {\"ph\": \"M\", \"name\": \"thread_sort_index\", \"pid\": %d, "
                           "\"tid\": %d, \"args\": {\"sort_index\": %d}},\n",
                        n, tid, sort);
            }
    }
    fprintf(f, "  {\"ph\": \"M\", \"name\": \"process_name\", \"pid\": %d, "
               "\"args\": {\"name\": \"run\"}},\n", nodes);
    fprintf(f, "  {\"ph\": \"M\", \"name\": \"process_sort_index\", \"pid\": %d, "
               "\"args\": {\"sort_index\": 0}},\n", nodes);
    fprintf(f, "  {\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": %d, \"tid\": 0, "
               "\"args\": {\"name\": \"batches\"}}", nodes);
    return t;
}

void timeline_span(timeline_t *t, int gpu, int stream, const char *name, const char *cat,
                   sim_time_t start, sim_time_t end, int batch, int layer, const char *key,
                   int64_t value)
{
    FILE *f = t->out.f;
    int pid = gpu == TIMELINE_RUN ? t->nodes : gpu / t->gpus_per_node;
    int tid = gpu == TIMELINE_RUN ? 0 : tid_of(t, gpu, stream);
    fprintf(f, ",\n  {\"ph\": \"X\", \"name\": \"%s\", \"cat\": \"%s\", \"pid\": %d, "
               "\"tid\": %d, \"ts\": ", name, cat, pid, tid);
    put_us(f, start);
    fprintf(f, ", \"dur\": ");
    put_us(f, end - start);
    fprintf(f, ", \"args\": {\"batch\": %d", batch);
    if (layer >= 0)
        fprintf(f, ", \"layer\": %d", layer);
    if (key)
        fprintf(f, ", \"%s\": %" PRId64, key, value);
    fprintf(f, "}}");
}

int timeline_finish(timeline_t *t, err_t *e)
{
    fprintf(t->out.f, "\n ]}\n");
    int rc = outfile_commit(&t->out, e);
    free(t);
    return rc;
}

void timeline_abort(timeline_t *t)
{
    if (!t)
        return;
    outfile_abort(&t->out);
    free(t);
}
