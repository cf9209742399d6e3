/*
 * trace.c - routing trace files (docs/trace.md, "moesim routing trace,
 * version 1").
 *
 * The file is one gzip stream holding a header record, one record per layer
 * of every batch, and an end record. Integers are little-endian and written
 * byte by byte, so the format does not depend on the machine. Every record
 * ends in the CRC-32 of its own bytes: the gzip trailer alone would find a
 * corruption only at the end of the file, after a replay had simulated
 * everything before it, and could not say where it is.
 *
 * Both directions stream through two fixed 64 KiB buffers: the writer packs
 * records into `in` and deflates whenever it fills; the reader inflates into
 * `out` and pulls fields from it. A record's CRC is computed over the bytes as
 * they pass through those buffers, so a record of any size needs no buffer of
 * its own. The reader trusts nothing before it is checked: header counts are
 * bounded before they size anything, and no allocation depends on the file.
 */
#include "moesim/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "moesim/outfile.h"

#define TRACE_MAGIC "MOESIMTR"
#define TAG_LAYER 0x5259414Cu /* "LAYR" in file byte order */
#define TAG_END 0x21444E45u   /* "END!" */
#define NO_EXPERT 0xFFFFu     /* a -1 entry on disk */
#define MAX_ID 65535u         /* experts and slots fit 16 bits */
#define MAX_NAME 127u
/* 2^31 bytes of u16 entries per record: far beyond any real batch, and small
 * enough that entry offsets fit in 32 bits and a reader's buffer is sane. */
#define MAX_ENTRIES (UINT64_C(1) << 30)
#define BUF_BYTES (64 * 1024)
#define GZIP_WINDOW (15 + 16) /* 32 KiB window, gzip wrapper (CRC-32 + length) */
#define LEVEL 1 /* fixed, so equal input gives equal bytes; 1: measured 4x faster than 6
                 * on a DeepSeek-V3 trace, for 4% more bytes (docs/trace.md) */

/* ---- little-endian fields ---- */

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Checks a header's ranges; returns 0 or -1 with a message in msg. Used by
 * the writer (the caller's header) and the reader (the file's). */
static int check_header(const trace_header *h, uint64_t *entries, char *msg, size_t n)
{
    const struct {
        const char *name;
        uint32_t v, max;
    } f[] = {{"experts", h->experts, MAX_ID},
             {"slots", h->slots, MAX_ID},
             {"moe_layers", h->moe_layers, UINT32_MAX},
             {"sources", h->sources, UINT32_MAX},
             {"tokens_per_source", h->tokens_per_source, UINT32_MAX}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].v < 1 || f[i].v > f[i].max) {
            snprintf(msg, n, "%s = %lu is out of range; allowed 1..%lu", f[i].name,
                     (unsigned long)f[i].v, (unsigned long)f[i].max);
            return -1;
        }
    /* Each product step stays below 2^64: the first is two 32-bit values,
     * the second starts from at most 2^30. */
    uint64_t st = (uint64_t)h->sources * h->tokens_per_source;
    if (st > MAX_ENTRIES || st * h->slots > MAX_ENTRIES) {
        snprintf(msg, n,
                 "sources x tokens_per_source x slots = %lu x %lu x %lu entries per layer; "
                 "allowed at most 2^30",
                 (unsigned long)h->sources, (unsigned long)h->tokens_per_source,
                 (unsigned long)h->slots);
        return -1;
    }
    *entries = st * h->slots;
    return 0;
}

/* ================= writer ================= */

struct trace_writer {
    outfile o;
    z_stream z;
    int z_live;           /* deflateInit2 succeeded: deflateEnd owed */
    int broken;           /* an error happened; only finish (failing) or abort remain */
    trace_header h;
    uint64_t entries;     /* per layer record */
    uint64_t next_batch;  /* the record trace_write_layer expects next */
    uint32_t next_layer;
    uint64_t records;     /* layer records written */
    uLong crc;            /* CRC of the current record up to in[crc_from] */
    size_t crc_from;      /* where the current record's unhashed bytes start in `in` */
    size_t len;           /* bytes waiting in `in` */
    unsigned char in[BUF_BYTES];
    unsigned char out[BUF_BYTES];
};

/* Deflates what waits in `in` (flush: Z_NO_FLUSH, or Z_FINISH to end the
 * stream) and writes the compressed bytes. The record CRC first takes in the
 * bytes about to leave the buffer. */
static int w_drain(trace_writer *w, int flush, err_t *e)
{
    w->crc = crc32(w->crc, w->in + w->crc_from, (uInt)(w->len - w->crc_from));
    w->crc_from = 0;
    w->z.next_in = w->in;
    w->z.avail_in = (uInt)w->len;
    int rc;
    do {
        w->z.next_out = w->out;
        w->z.avail_out = sizeof(w->out);
        rc = deflate(&w->z, flush);
        if (rc == Z_STREAM_ERROR) {
            w->broken = 1;
            return err_set(e, ERR_RUN, w->o.path, 0, NULL, "zlib deflate failed (stream error)");
        }
        size_t have = sizeof(w->out) - w->z.avail_out;
        if (have && fwrite(w->out, 1, have, w->o.f) != have) {
            w->broken = 1;
            return err_set(e, ERR_RUN, w->o.path, 0, NULL, "cannot write: %s", strerror(errno));
        }
        /* Without Z_FINISH, deflate is done once it has room left over;
         * with it, only Z_STREAM_END says the trailer is out. */
    } while (flush == Z_FINISH ? rc != Z_STREAM_END : w->z.avail_out == 0);
    w->len = 0;
    return 0;
}

static int w_put(trace_writer *w, const unsigned char *p, size_t n, err_t *e)
{
    while (n) {
        if (w->len == sizeof(w->in) && w_drain(w, Z_NO_FLUSH, e) != 0)
            return -1;
        size_t k = sizeof(w->in) - w->len;
        k = k < n ? k : n;
        memcpy(w->in + w->len, p, k);
        w->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

static int w_put_le(trace_writer *w, uint64_t v, int bytes, err_t *e)
{
    unsigned char b[8];
    put_le(b, v, bytes);
    return w_put(w, b, (size_t)bytes, e);
}

static void w_record_start(trace_writer *w)
{
    w->crc = crc32(0L, Z_NULL, 0);
    w->crc_from = w->len;
}

/* Appends the CRC-32 of the record since w_record_start. */
static int w_record_end(trace_writer *w, err_t *e)
{
    uLong c = crc32(w->crc, w->in + w->crc_from, (uInt)(w->len - w->crc_from));
    if (w_put_le(w, c, 4, e) != 0)
        return -1;
    w->crc_from = w->len; /* the CRC itself belongs to no record */
    return 0;
}

static int w_header(trace_writer *w, err_t *e)
{
    const trace_header *h = &w->h;
    size_t n = strlen(h->name);
    w_record_start(w);
    if (w_put(w, (const unsigned char *)TRACE_MAGIC, 8, e) != 0)
        return -1;
    const uint32_t u[] = {TRACE_VERSION, h->experts, h->slots, h->moe_layers, h->sources,
                          h->tokens_per_source};
    for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
        if (w_put_le(w, u[i], 4, e) != 0)
            return -1;
    if (w_put_le(w, h->seed, 8, e) != 0 || w_put_le(w, n, 4, e) != 0 ||
        w_put(w, (const unsigned char *)h->name, n, e) != 0)
        return -1;
    return w_record_end(w, e);
}

trace_writer *trace_create(const char *path, const trace_header *h, err_t *e)
{
    char msg[256];
    uint64_t entries;
    if (check_header(h, &entries, msg, sizeof(msg)) != 0) {
        err_set(e, ERR_INPUT, path, 0, NULL, "trace header: %s", msg);
        return NULL;
    }
    if (memchr(h->name, '\0', sizeof(h->name)) == NULL) {
        err_set(e, ERR_INPUT, path, 0, NULL,
                "trace header: name is not NUL-terminated; allowed at most %u bytes",
                MAX_NAME);
        return NULL;
    }
    trace_writer *w = xcalloc(1, sizeof(*w), "trace writer");
    w->h = *h;
    w->entries = entries;
    w->o = (outfile)OUTFILE_INIT;
    if (outfile_open(&w->o, path, e) != 0)
        goto fail;
    /* memLevel 8 and the default strategy are deflate's defaults; the gzip
     * header deflate writes has mtime 0 and no name, so runs match byte for
     * byte. */
    int rc = deflateInit2(&w->z, LEVEL, Z_DEFLATED, GZIP_WINDOW, 8, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
        err_set(e, ERR_RUN, path, 0, NULL, "cannot start compression (zlib: %s)",
                rc == Z_MEM_ERROR ? "out of memory" : "bad parameters");
        goto fail;
    }
    w->z_live = 1;
    if (w_header(w, e) != 0)
        goto fail;
    return w;
fail:
    trace_abort(w);
    return NULL;
}

/* Checks a layer's entries before any of them is written, so a refused layer
 * leaves no trace in the file. */
static int w_check_choice(const trace_writer *w, uint32_t batch, uint32_t layer,
                          const int32_t *choice, err_t *e)
{
    for (uint64_t i = 0; i < w->entries; i++) {
        int32_t c = choice[i];
        if (c >= -1 && (int64_t)c < (int64_t)w->h.experts)
            continue;
        uint64_t per_source = (uint64_t)w->h.tokens_per_source * w->h.slots;
        return err_set(e, ERR_RUN, w->o.path, 0, NULL,
                       "batch %lu layer %lu: entry %llu (source %llu, token %llu, slot %llu) "
                       "is %ld; allowed -1 or an expert index 0..%lu",
                       (unsigned long)batch, (unsigned long)layer, (unsigned long long)i,
                       (unsigned long long)(i / per_source),
                       (unsigned long long)(i % per_source / w->h.slots),
                       (unsigned long long)(i % w->h.slots), (long)c,
                       (unsigned long)w->h.experts - 1);
    }
    return 0;
}

static int w_layer_body(trace_writer *w, uint32_t batch, uint32_t layer, const int32_t *choice,
                        err_t *e)
{
    w_record_start(w);
    if (w_put_le(w, TAG_LAYER, 4, e) != 0 || w_put_le(w, batch, 4, e) != 0 ||
        w_put_le(w, layer, 4, e) != 0 || w_put_le(w, w->entries, 4, e) != 0)
        return -1;
    /* Entries go straight into `in`, two bytes at a time: the hot part of a
     * trace, kept free of per-entry calls. */
    for (uint64_t i = 0; i < w->entries; i++) {
        if (w->len + 2 > sizeof(w->in) && w_drain(w, Z_NO_FLUSH, e) != 0)
            return -1;
        uint32_t v = choice[i] < 0 ? NO_EXPERT : (uint32_t)choice[i];
        w->in[w->len] = (unsigned char)v;
        w->in[w->len + 1] = (unsigned char)(v >> 8);
        w->len += 2;
    }
    return w_record_end(w, e);
}

int trace_write_layer(trace_writer *w, uint32_t batch, uint32_t layer, const int32_t *choice,
                      err_t *e)
{
    if (w->broken)
        return err_set(e, ERR_RUN, w->o.path, 0, NULL,
                       "trace writer used after an earlier error");
    if (batch != w->next_batch || layer != w->next_layer) {
        w->broken = 1;
        return err_set(e, ERR_RUN, w->o.path, 0, NULL,
                       "layer record out of order: got batch %lu layer %lu, expected batch %llu "
                       "layer %lu (batches in order from 0, layers 0..%lu within each)",
                       (unsigned long)batch, (unsigned long)layer,
                       (unsigned long long)w->next_batch, (unsigned long)w->next_layer,
                       (unsigned long)w->h.moe_layers - 1);
    }
    if (w_check_choice(w, batch, layer, choice, e) != 0 ||
        w_layer_body(w, batch, layer, choice, e) != 0) {
        w->broken = 1;
        return -1;
    }
    w->records++;
    if (++w->next_layer == w->h.moe_layers) {
        w->next_layer = 0;
        w->next_batch++;
    }
    return 0;
}

static int w_end(trace_writer *w, err_t *e)
{
    if (w->broken)
        return err_set(e, ERR_RUN, w->o.path, 0, NULL,
                       "trace not written: an earlier write to it failed");
    if (w->next_layer != 0)
        return err_set(e, ERR_RUN, w->o.path, 0, NULL,
                       "trace not written: batch %llu is incomplete (%lu of %lu layers); "
                       "a trace holds whole batches",
                       (unsigned long long)w->next_batch, (unsigned long)w->next_layer,
                       (unsigned long)w->h.moe_layers);
    w_record_start(w);
    if (w_put_le(w, TAG_END, 4, e) != 0 || w_put_le(w, w->next_batch, 8, e) != 0 ||
        w_put_le(w, w->records, 8, e) != 0 || w_record_end(w, e) != 0 ||
        w_drain(w, Z_FINISH, e) != 0)
        return -1;
    return 0;
}

int trace_finish(trace_writer *w, err_t *e)
{
    if (w_end(w, e) != 0) {
        trace_abort(w);
        return -1;
    }
    deflateEnd(&w->z);
    w->z_live = 0;
    int rc = outfile_commit(&w->o, e);
    trace_abort(w); /* nothing left to remove: just frees */
    return rc;
}

void trace_abort(trace_writer *w)
{
    if (!w)
        return;
    if (w->z_live)
        deflateEnd(&w->z);
    outfile_abort(&w->o);
    free(w);
}

/* ================= reader ================= */

struct trace_reader {
    char *path;
    FILE *f;
    z_stream z;
    int z_live;             /* inflateInit2 succeeded: inflateEnd owed */
    int eof;                /* the file has no more bytes */
    int z_end;              /* inflate reached Z_STREAM_END (trailer checked) */
    int failed;             /* an error was reported; later calls fail */
    int at_end;             /* the end record was read and checked */
    int in_header;          /* still reading the header (for messages) */
    trace_header h;
    uint64_t entries;       /* per layer record */
    uint64_t next_batch;    /* the record expected next */
    uint32_t next_layer;
    uint64_t records;       /* layer records read */
    uLong crc;              /* CRC of the current record's bytes so far */
    size_t out_pos, out_len; /* unread inflated bytes: out[out_pos..out_len) */
    /* A token names an expert once: seen[x] == stamp when the current token
     * has chosen x already (a fixed table, so nothing depends on the file;
     * stamps count tokens and the table is cleared when they wrap). */
    uint32_t stamp;
    uint32_t slot;          /* the next entry's slot within its token */
    uint32_t seen[MAX_ID + 1];
    unsigned char in[BUF_BYTES];
    unsigned char out[BUF_BYTES];
};

/* Fills e with msg and where in the file it happened; the reader stops. */
#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int r_fail(trace_reader *r, err_t *e, err_code code, const char *fmt, ...)
{
    char msg[600], where[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->in_header)
        snprintf(where, sizeof(where), "in the header");
    else if (r->at_end)
        snprintf(where, sizeof(where), "after the end record");
    else
        snprintf(where, sizeof(where), "at batch %llu layer %lu",
                 (unsigned long long)r->next_batch, (unsigned long)r->next_layer);
    r->failed = 1;
    if (!r->f) /* not open yet: nothing was read, so there is no "where" */
        return err_set(e, code, r->path, 0, NULL, "%s", msg);
    return err_set(e, code, r->path, 0, NULL, "%s (%s)", msg, where);
}

static int r_truncated(trace_reader *r, err_t *e)
{
    if (r->z_end)
        return r_fail(r, e, ERR_INPUT,
                      "truncated: the compressed stream ends before the trace's end record");
    return r_fail(r, e, ERR_INPUT,
                  "truncated: the file ends inside the compressed stream, before its end");
}

/* Inflates more of the stream into `out`. Returns 1 with out_len > 0 bytes
 * waiting, 0 when the stream ended (Z_STREAM_END: the gzip trailer's CRC-32
 * and length checked) with nothing more, -1 on error. Input running out
 * before the stream's end is truncation. */
static int r_fill(trace_reader *r, err_t *e)
{
    r->out_pos = r->out_len = 0;
    if (r->z_end)
        return 0;
    r->z.next_out = r->out;
    r->z.avail_out = sizeof(r->out);
    for (;;) {
        if (r->z.avail_in == 0 && !r->eof) {
            size_t n = fread(r->in, 1, sizeof(r->in), r->f);
            if (n == 0 && ferror(r->f))
                return r_fail(r, e, ERR_INPUT, "cannot read: %s", strerror(errno));
            r->eof = n == 0;
            r->z.next_in = r->in;
            r->z.avail_in = (uInt)n;
        }
        if (r->z.avail_in == 0 && r->eof)
            return r_truncated(r, e);
        uInt in_before = r->z.avail_in;
        int rc = inflate(&r->z, Z_NO_FLUSH);
        r->out_len = sizeof(r->out) - r->z.avail_out;
        switch (rc) {
        case Z_STREAM_END:
            r->z_end = 1;
            return r->out_len > 0;
        case Z_OK:
        case Z_BUF_ERROR: /* needs more input: the loop reads it, or finds the end */
            if (r->out_len > 0)
                return 1;
            if (r->z.avail_in == in_before && r->z.avail_in > 0) /* no progress: cannot happen */
                return r_fail(r, e, ERR_INPUT, "corrupt compressed data (zlib made no progress)");
            break;
        case Z_DATA_ERROR:
        case Z_NEED_DICT:
            return r_fail(r, e, ERR_INPUT, "corrupt compressed data (zlib: %s)",
                          r->z.msg ? r->z.msg : "bad data");
        case Z_MEM_ERROR:
            return r_fail(r, e, ERR_RUN, "out of memory decompressing (zlib)");
        default:
            return r_fail(r, e, ERR_RUN, "zlib inflate failed (code %d)", rc);
        }
    }
}

/* Copies the next n inflated bytes to dst, adding them to the record CRC. */
static int r_pull(trace_reader *r, unsigned char *dst, size_t n, err_t *e)
{
    while (n) {
        if (r->out_pos == r->out_len) {
            int rc = r_fill(r, e);
            if (rc <= 0)
                return rc < 0 ? -1 : r_truncated(r, e);
        }
        size_t k = r->out_len - r->out_pos;
        k = k < n ? k : n;
        memcpy(dst, r->out + r->out_pos, k);
        r->crc = crc32(r->crc, dst, (uInt)k);
        r->out_pos += k;
        dst += k;
        n -= k;
    }
    return 0;
}

static int r_le(trace_reader *r, uint64_t *v, int bytes, err_t *e)
{
    unsigned char b[8];
    if (r_pull(r, b, (size_t)bytes, e) != 0)
        return -1;
    *v = get_le(b, bytes);
    return 0;
}

/* Reads a record's stored CRC and compares it with the bytes read since the
 * record began. */
static int r_check_crc(trace_reader *r, const char *what, err_t *e)
{
    uLong computed = r->crc;
    uint64_t stored;
    if (r_le(r, &stored, 4, e) != 0)
        return -1;
    if (stored != computed)
        return r_fail(r, e, ERR_INPUT,
                      "corrupt %s: CRC-32 mismatch (stored 0x%08lx, computed 0x%08lx)", what,
                      (unsigned long)stored, (unsigned long)computed);
    return 0;
}

/* The first bytes must be gzip's magic: a clearer message for a file of
 * another kind than zlib's "incorrect header check". The bytes read stay in
 * `in` for inflate. */
static int r_sniff(trace_reader *r, err_t *e)
{
    size_t n = fread(r->in, 1, 2, r->f);
    r->z.next_in = r->in;
    r->z.avail_in = (uInt)n;
    if (n == 0 && ferror(r->f))
        return r_fail(r, e, ERR_INPUT, "cannot read: %s", strerror(errno));
    if (n == 0)
        return r_fail(r, e, ERR_INPUT,
                      "truncated: the file is empty; expected a moesim routing trace (gzip)");
    if (r->in[0] == 0x1f && (n == 1 || r->in[1] == 0x8b)) {
        if (n == 1)
            return r_fail(r, e, ERR_INPUT, "truncated: the file ends after 1 byte");
        return 0;
    }
    char found[16];
    snprintf(found, sizeof(found), n > 1 ? "%02x %02x" : "%02x", r->in[0], r->in[1]);
    return r_fail(r, e, ERR_INPUT,
                  "not a moesim routing trace: expected a gzip stream (bytes 1f 8b), found %s",
                  found);
}

static void r_printable(const unsigned char *p, size_t n, char *buf, size_t size)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 5 < size; i++)
        j += (size_t)snprintf(buf + j, size - j, p[i] >= 32 && p[i] < 127 ? "%c" : "\\x%02x",
                              p[i]);
    buf[j] = '\0';
}

static int r_header(trace_reader *r, err_t *e)
{
    unsigned char magic[8];
    uint64_t v[8];
    r->crc = crc32(0L, Z_NULL, 0);
    if (r_pull(r, magic, 8, e) != 0)
        return -1;
    if (memcmp(magic, TRACE_MAGIC, 8) != 0) {
        char shown[40];
        r_printable(magic, 8, shown, sizeof(shown));
        return r_fail(r, e, ERR_INPUT,
                      "not a moesim routing trace: magic is \"%s\", expected \"" TRACE_MAGIC "\"",
                      shown);
    }
    /* The version comes before anything else is interpreted: a later
     * version may lay the rest out differently. */
    if (r_le(r, &v[0], 4, e) != 0)
        return -1;
    if (v[0] != TRACE_VERSION)
        return r_fail(r, e, ERR_INPUT,
                      "unsupported trace version %llu; this moesim reads version %d",
                      (unsigned long long)v[0], TRACE_VERSION);
    for (int i = 1; i <= 5; i++)
        if (r_le(r, &v[i], 4, e) != 0)
            return -1;
    if (r_le(r, &v[6], 8, e) != 0 || r_le(r, &v[7], 4, e) != 0)
        return -1;
    if (v[7] > MAX_NAME) /* checked before it sizes a read */
        return r_fail(r, e, ERR_INPUT, "corrupt header: name length %llu; allowed 0..%u",
                      (unsigned long long)v[7], MAX_NAME);
    trace_header *h = &r->h;
    memset(h, 0, sizeof(*h));
    if (r_pull(r, (unsigned char *)h->name, (size_t)v[7], e) != 0 ||
        r_check_crc(r, "header", e) != 0)
        return -1;
    h->experts = (uint32_t)v[1];
    h->slots = (uint32_t)v[2];
    h->moe_layers = (uint32_t)v[3];
    h->sources = (uint32_t)v[4];
    h->tokens_per_source = (uint32_t)v[5];
    h->seed = v[6];
    char msg[256];
    if (check_header(h, &r->entries, msg, sizeof(msg)) != 0)
        return r_fail(r, e, ERR_INPUT, "corrupt header: %s", msg);
    return 0;
}

/* Opens path for reading, refusing what is not a regular file: a FIFO
 * would block the run forever waiting for a writer (O_NONBLOCK lets the
 * open return so fstat can tell), a directory reads as an error later, a
 * device never ends. */
static int r_open(trace_reader *r, const char *path, err_t *e)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return r_fail(r, e, ERR_INPUT, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return r_fail(r, e, ERR_INPUT, "cannot open: %s", strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return r_fail(r, e, ERR_INPUT,
                      "%s; allowed: a regular file (a trace recorded by moesim run --trace)",
                      S_ISFIFO(st.st_mode)  ? "a FIFO, not a file"
                      : S_ISDIR(st.st_mode) ? "a directory, not a file"
                                            : "a special file, not a regular one");
    }
    /* back to blocking reads: a regular file never blocks, but be plain */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    r->f = fdopen(fd, "rb");
    if (!r->f) {
        int err = errno;
        close(fd);
        return r_fail(r, e, ERR_INPUT, "cannot open: %s", strerror(err));
    }
    return 0;
}

trace_reader *trace_open(const char *path, trace_header *h, err_t *e)
{
    trace_reader *r = xcalloc(1, sizeof(*r), "trace reader");
    r->path = xstrdup(path, "trace file name");
    r->in_header = 1;
    if (r_open(r, path, e) != 0)
        goto fail;
    if (r_sniff(r, e) != 0)
        goto fail;
    int rc = inflateInit2(&r->z, GZIP_WINDOW); /* gzip only: no zlib or raw streams */
    if (rc != Z_OK) {
        r_fail(r, e, ERR_RUN, "cannot start decompression (zlib: %s)",
               rc == Z_MEM_ERROR ? "out of memory" : "bad parameters");
        goto fail;
    }
    r->z_live = 1;
    if (r_header(r, e) != 0)
        goto fail;
    r->in_header = 0;
    *h = r->h;
    return r;
fail:
    trace_close(r);
    return NULL;
}

/* After the end record: no more payload, the gzip stream ends (its trailer
 * checked by inflate), and the file ends with it. */
static int r_expect_eof(trace_reader *r, err_t *e)
{
    if (r->out_pos < r->out_len)
        return r_fail(r, e, ERR_INPUT, "corrupt: more data follows the end record");
    while (!r->z_end) {
        int rc = r_fill(r, e);
        if (rc < 0)
            return -1;
        if (rc > 0)
            return r_fail(r, e, ERR_INPUT, "corrupt: more data follows the end record");
    }
    if (r->z.avail_in > 0 || fgetc(r->f) != EOF)
        return r_fail(r, e, ERR_INPUT,
                      "corrupt: bytes after the end of the gzip stream; a trace is exactly one "
                      "gzip stream");
    return 0;
}

static int r_end_record(trace_reader *r, err_t *e)
{
    uint64_t batches, records;
    if (r_le(r, &batches, 8, e) != 0 || r_le(r, &records, 8, e) != 0 ||
        r_check_crc(r, "end record", e) != 0)
        return -1;
    if (r->next_layer != 0)
        return r_fail(r, e, ERR_INPUT,
                      "truncated: the end record comes in the middle of a batch (%lu of %lu "
                      "layers)",
                      (unsigned long)r->next_layer, (unsigned long)r->h.moe_layers);
    if (batches != r->next_batch || records != r->records)
        return r_fail(r, e, ERR_INPUT,
                      "corrupt end record: it counts %llu batches and %llu layer records, the "
                      "file holds %llu and %llu",
                      (unsigned long long)batches, (unsigned long long)records,
                      (unsigned long long)r->next_batch, (unsigned long long)r->records);
    r->at_end = 1;
    return r_expect_eof(r, e);
}

/* Has the current token chosen expert v before? Called for every entry in
 * order; a token's first entry starts a new stamp. */
static int r_repeated(trace_reader *r, uint32_t v)
{
    if (r->slot == 0 && ++r->stamp == 0) { /* wrapped: forget every token */
        memset(r->seen, 0, sizeof(r->seen));
        r->stamp = 1;
    }
    if (++r->slot == r->h.slots)
        r->slot = 0;
    if (v == NO_EXPERT || v >= r->h.experts)
        return 0;
    int again = r->seen[v] == r->stamp;
    r->seen[v] = r->stamp;
    return again;
}

/* Reads a layer record's entries (16 bits each), into choice unless it is
 * NULL; *bad gets the first index >= experts (its position in *bad_at) and
 * *dup the first expert a token names twice (at *dup_at), to be reported
 * only once the CRC has shown the record is as written. */
static int r_entries(trace_reader *r, int32_t *choice, uint64_t *bad_at, uint32_t *bad,
                     uint64_t *dup_at, uint32_t *dup, err_t *e)
{
    unsigned char chunk[4096];
    *bad_at = UINT64_MAX;
    *dup_at = UINT64_MAX;
    for (uint64_t i = 0; i < r->entries;) {
        uint64_t left = r->entries - i;
        size_t k = left < sizeof(chunk) / 2 ? (size_t)left : sizeof(chunk) / 2;
        if (r_pull(r, chunk, 2 * k, e) != 0)
            return -1;
        for (size_t j = 0; j < k; j++, i++) {
            uint32_t v = chunk[2 * j] | (uint32_t)chunk[2 * j + 1] << 8;
            if (v != NO_EXPERT && v >= r->h.experts && *bad_at == UINT64_MAX) {
                *bad_at = i;
                *bad = v;
            }
            if (r_repeated(r, v) && *dup_at == UINT64_MAX) {
                *dup_at = i;
                *dup = v;
            }
            if (choice)
                choice[i] = v == NO_EXPERT ? -1 : (int32_t)v;
        }
    }
    return 0;
}

static int r_layer_record(trace_reader *r, uint32_t *batch, uint32_t *layer, int32_t *choice,
                          err_t *e)
{
    uint64_t b, l, n, bad_at, dup_at;
    uint32_t bad = 0, dup = 0;
    if (r_le(r, &b, 4, e) != 0 || r_le(r, &l, 4, e) != 0 || r_le(r, &n, 4, e) != 0)
        return -1;
    if (n != r->entries) /* the record's length is unknown: stop here */
        return r_fail(r, e, ERR_INPUT,
                      "corrupt layer record: %llu entries, the header says sources x "
                      "tokens_per_source x slots = %llu",
                      (unsigned long long)n, (unsigned long long)r->entries);
    if (r_entries(r, choice, &bad_at, &bad, &dup_at, &dup, e) != 0 ||
        r_check_crc(r, "layer record", e) != 0)
        return -1;
    if (b != r->next_batch || l != r->next_layer)
        return r_fail(r, e, ERR_INPUT,
                      "corrupt: records out of order: found batch %llu layer %llu, expected "
                      "batch %llu layer %lu",
                      (unsigned long long)b, (unsigned long long)l,
                      (unsigned long long)r->next_batch, (unsigned long)r->next_layer);
    if (bad_at != UINT64_MAX)
        return r_fail(r, e, ERR_INPUT,
                      "corrupt layer record: entry %llu is expert %lu; allowed 0..%lu "
                      "(experts = %lu) or 0xFFFF for none",
                      (unsigned long long)bad_at, (unsigned long)bad,
                      (unsigned long)r->h.experts - 1, (unsigned long)r->h.experts);
    if (dup_at != UINT64_MAX) { /* counted twice, it would inflate the expert's load */
        uint64_t tok = dup_at / r->h.slots;
        return r_fail(r, e, ERR_INPUT,
                      "corrupt layer record: token %llu (source %llu, token %llu) chooses "
                      "expert %lu twice; allowed: distinct experts per token",
                      (unsigned long long)tok,
                      (unsigned long long)(tok / r->h.tokens_per_source),
                      (unsigned long long)(tok % r->h.tokens_per_source), (unsigned long)dup);
    }
    *batch = (uint32_t)b;
    *layer = (uint32_t)l;
    r->records++;
    if (++r->next_layer == r->h.moe_layers) {
        r->next_layer = 0;
        r->next_batch++;
    }
    return 1;
}

int trace_read_layer(trace_reader *r, uint32_t *batch, uint32_t *layer, int32_t *choice,
                     err_t *e)
{
    if (r->failed)
        return err_set(e, ERR_INPUT, r->path, 0, NULL,
                       "trace not readable past an earlier error");
    if (r->at_end)
        return 0;
    uint64_t tag;
    r->crc = crc32(0L, Z_NULL, 0);
    if (r_le(r, &tag, 4, e) != 0)
        return -1;
    if (tag == TAG_LAYER)
        return r_layer_record(r, batch, layer, choice, e);
    if (tag == TAG_END)
        return r_end_record(r, e) == 0 ? 0 : -1;
    unsigned char raw[4];
    char shown[24];
    put_le(raw, tag, 4);
    r_printable(raw, 4, shown, sizeof(shown));
    return r_fail(r, e, ERR_INPUT,
                  "corrupt: unknown record tag \"%s\"; expected \"LAYR\" or \"END!\"", shown);
}

void trace_close(trace_reader *r)
{
    if (!r)
        return;
    if (r->z_live)
        inflateEnd(&r->z);
    if (r->f)
        fclose(r->f);
    free(r->path);
    free(r);
}

int trace_verify(const char *path, trace_header *h, uint64_t *batches, err_t *e)
{
    trace_header hh;
    trace_reader *r = trace_open(path, &hh, e);
    if (!r)
        return -1;
    uint32_t b, l;
    int rc;
    while ((rc = trace_read_layer(r, &b, &l, NULL, e)) == 1)
        ;
    if (rc == 0) {
        if (h)
            *h = hh;
        if (batches)
            *batches = r->next_batch;
    }
    trace_close(r);
    return rc == 0 ? 0 : -1;
}
