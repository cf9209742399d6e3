/*
 * trace.h - routing traces: the router's choices, recorded and read back.
 *
 * A routing trace holds, for every batch and every MoE layer, each token's
 * chosen experts (top-k indices, best first, before capacity is applied), so
 * a run can be replayed later and production routing can be fed into moesim.
 * One batch is `sources` routing sources (GPUs) x `tokens_per_source` tokens;
 * each token has `slots` entries, an expert index in [0, experts) or -1 for
 * "no expert in this slot". A layer's entries are ordered source-major, then
 * token, then slot: entry (s, t, k) is at ((s * tokens_per_source) + t) *
 * slots + k.
 *
 * The file is one gzip stream of little-endian records, each with its own
 * CRC-32, so a corrupt record is found where it is and named by batch and
 * layer; docs/trace.md describes the format ("moesim routing trace, version
 * 1"). Writer and reader stream through fixed buffers: memory never grows with
 * the number of batches or layers. The writer goes through outfile.h: a trace
 * appears whole, after trace_finish, or not at all. The same header and
 * choices always give the same bytes (fixed compression level, no time or
 * name in the gzip header).
 */
#ifndef MOESIM_TRACE_H
#define MOESIM_TRACE_H

#include "moesim/base.h"

#define TRACE_VERSION 1

typedef struct trace_header {
    uint32_t experts;           /* experts per MoE layer, 1..65535 */
    uint32_t slots;             /* choice entries per token, 1..65535 */
    uint32_t moe_layers;        /* MoE layers per batch, >= 1 */
    uint32_t sources;           /* routing sources per batch, >= 1 */
    uint32_t tokens_per_source; /* tokens each source routes per batch, >= 1 */
    uint64_t seed;              /* the scenario seed that produced it (informational) */
    char name[128];             /* scenario name (informational), NUL-terminated */
} trace_header;

typedef struct trace_writer trace_writer;

/* Starts a trace at path (borrowed; written under a temporary name, renamed
 * into place by trace_finish). h is borrowed and copied. Besides the ranges
 * above, a layer's entries (sources x tokens_per_source x slots) must be at
 * most 2^30. Returns a writer the caller ends with trace_finish or
 * trace_abort; NULL with e filled: ERR_INPUT if the header is out of range,
 * ERR_RUN if the file cannot be written. */
trace_writer *trace_create(const char *path, const trace_header *h, err_t *e);

/* Appends one MoE layer of one batch: choice (borrowed) holds
 * sources * tokens_per_source * slots entries, each -1 or an expert index.
 * Batches come in order 0, 1, 2, ... and layers 0..moe_layers-1 within a
 * batch; anything else, or an entry out of range, is ERR_RUN (a caller bug)
 * with a message. After any error the writer only accepts trace_finish (which
 * then fails, leaving nothing) or trace_abort. Returns 0 or -1. */
int trace_write_layer(trace_writer *w, uint32_t batch, uint32_t layer, const int32_t *choice,
                      err_t *e);

/* Writes the end record (the number of whole batches; zero is allowed),
 * finishes the compressed stream and renames the file into place. Frees w in
 * every case. Returns 0, or -1 with e filled (ERR_RUN) and nothing left on
 * disk: a batch left incomplete, an earlier trace_write_layer error, a write
 * error. */
int trace_finish(trace_writer *w, err_t *e);

/* Drops everything: no file left behind. Frees w; NULL is fine. */
void trace_abort(trace_writer *w);

typedef struct trace_reader trace_reader;

/* Opens the trace at path (borrowed) and reads and checks its header into *h.
 * Returns a reader the caller frees with trace_close; NULL with e filled:
 * ERR_INPUT naming the file for anything wrong with it (cannot open, not a
 * regular file: a FIFO would block forever; not a moesim trace, unsupported
 * version, corrupt or truncated header), saying what was found and what is
 * expected; ERR_RUN if zlib runs out of memory. */
trace_reader *trace_open(const char *path, trace_header *h, err_t *e);

/* Reads the next layer record into choice (the caller's buffer of
 * sources * tokens_per_source * slots entries; NULL checks the record without
 * keeping it). Returns 1 with *batch and *layer set; 0 at the end record,
 * after checking it (its counts, and that the gzip stream ends right after
 * it, trailer checked), and again on every later call; -1 with e filled
 * (ERR_INPUT naming the file and the batch and layer where it happened) on
 * any corruption: a CRC mismatch, truncation, bad compressed data, records out
 * of order, an index >= experts, a token naming one expert twice (it would
 * be counted twice; the message names the token), a record's counts not
 * matching the header.
 * After an error every later call fails. On error choice may hold part of a
 * record. */
int trace_read_layer(trace_reader *r, uint32_t *batch, uint32_t *layer, int32_t *choice,
                     err_t *e);

/* Closes the file and frees r; NULL is fine. */
void trace_close(trace_reader *r);

/* Reads the whole file once, in constant memory, and checks everything
 * trace_read_layer checks, including the end record's batch count against the
 * batches seen. Returns 0 with *h (may be NULL) and *batches (whole batches in
 * the file; may be NULL) set, or -1 with e filled (ERR_INPUT, as above). */
int trace_verify(const char *path, trace_header *h, uint64_t *batches, err_t *e);

#endif
