/*
 * fuzz_trace.c - libFuzzer target: the routing trace reader
 * (sim/core/trace.c).
 *
 * The input is a trace's payload (the bytes inside the gzip stream) or, if
 * it begins with gzip's magic, a whole file. A payload is compressed here,
 * so mutations reach the records rather than dying in inflate; a whole file
 * covers the gzip layer itself. It is written to a file of its own (the
 * reader takes a path) and read twice: trace_verify over the whole of it,
 * then trace_open and trace_read_layer into a buffer, so the copy into a
 * caller's buffer is covered too. Seeds are small traces recorded by
 * `moesim run --trace`, whole and as payloads. A trace must be read or
 * refused with a message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "moesim/trace.h"

/* read into a buffer only when a layer is this small; larger ones are
 * checked without keeping them (choice = NULL) */
#define MAX_KEPT (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One file per process, made once: the harness's only state. */
static const char *scratch(void)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/moesim-fuzz-trace-%ld.mtr.gz", (long)getpid());
    }
    return path;
}

/* Writes data to path, gzip-compressed unless it already is gzip. */
static int put_file(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) {
        fwrite(data, 1, size, f);
        fclose(f);
        return 0;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    unsigned char out[1 << 16];
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fclose(f);
        return -1;
    }
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)size;
    int rc;
    do {
        z.next_out = out;
        z.avail_out = sizeof(out);
        rc = deflate(&z, Z_FINISH);
        fwrite(out, 1, sizeof(out) - z.avail_out, f);
    } while (rc == Z_OK);
    deflateEnd(&z);
    fclose(f);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = scratch();
    if (put_file(path, data, size) != 0)
        return 0;

    err_t e = ERR_INIT;
    trace_header h;
    uint64_t batches = 0;
    if (trace_verify(path, &h, &batches, &e) != 0 && e.msg[0] == '\0')
        abort(); /* a refusal always says why */

    e = (err_t)ERR_INIT;
    trace_reader *r = trace_open(path, &h, &e);
    if (r) {
        uint64_t n = (uint64_t)h.sources * h.tokens_per_source * h.slots;
        int32_t *c = n <= MAX_KEPT ? malloc((size_t)n * sizeof(*c)) : NULL;
        uint32_t b, l;
        int rc;
        while ((rc = trace_read_layer(r, &b, &l, c, &e)) == 1)
            for (uint64_t i = 0; c && i < n; i++)
                if (c[i] < -1 || c[i] >= (int32_t)h.experts)
                    abort(); /* the reader promised every index is in range */
        free(c);
        trace_close(r);
    }
    unlink(path);
    return 0;
}
