/* test_trace.c - routing traces read back exactly, and bad files are refused by name. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "moesim/trace.h"
#include "test.h"

/* The small shape most tests use: 2 sources x 5 tokens x 2 slots = 20 entries
 * per layer, 2 layers per batch, 3 batches. */
#define N_ENTRIES 20
#define N_BATCHES 3
#define N_LAYERS 2
#define HEADER_BYTES (48 + 4)            /* fixed part + the name "test" */
#define RECORD_BYTES (16 + 2 * N_ENTRIES + 4) /* tag, batch, layer, count, entries, CRC */

static trace_header small_header(void)
{
    trace_header h = {8, 2, N_LAYERS, 2, 5, 42, "test"};
    return h;
}

/* A known choice for every entry, -1 included: values -1..7. */
static int32_t expected_choice(uint32_t batch, uint32_t layer, int i)
{
    return (int32_t)((batch * 7 + layer * 3 + (uint32_t)i * 5) % 9) - 1;
}

static void fill_layer(uint32_t batch, uint32_t layer, int32_t *c)
{
    for (int i = 0; i < N_ENTRIES; i++)
        c[i] = expected_choice(batch, layer, i);
}

static void make_dir(char *dir)
{
    strcpy(dir, "/tmp/moesim-trace-XXXXXX");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    char p[512];
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        remove(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = xmalloc(cap, "test file");
    for (size_t k; (k = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += k;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2, 1, "test file");
    }
    fclose(f);
    *len = n;
    return buf;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EXPECT_EQ_I64(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* The uncompressed payload of a gzip file (read with zlib's gz* API, not the
 * reader under test). */
static unsigned char *gunzip_file(const char *path, size_t *len)
{
    gzFile g = gzopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = xmalloc(cap, "test payload");
    for (int k; (k = gzread(g, buf + n, (unsigned)(cap - n))) > 0;) {
        n += (size_t)k;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2, 1, "test payload");
    }
    gzclose(g);
    *len = n;
    return buf;
}

static void gzip_file(const char *path, const void *p, size_t n)
{
    gzFile g = gzopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    EXPECT_EQ_I64(gzwrite(g, p, (unsigned)n), n);
    EXPECT_EQ_I64(gzclose(g), Z_OK);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recomputes the CRC of the record at payload[off..off+len) (CRC after it),
 * so a test can make a record that is wrong in content yet intact. */
static void fix_crc(unsigned char *payload, size_t off, size_t len)
{
    put32(payload + off + len, (uint32_t)crc32(0L, payload + off, (uInt)len));
}

/* Whether deflating payload as docs/trace.md says (level 1, gzip wrapper,
 * zlib's default header) gives exactly file. */
static int deflates_to(const unsigned char *payload, size_t n, const unsigned char *file,
                       size_t file_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    size_t cap = deflateBound(&z, (uLong)n);
    unsigned char *out = xmalloc(cap, "test deflate");
    z.next_in = (unsigned char *)payload;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int ok = deflate(&z, Z_FINISH) == Z_STREAM_END && z.total_out == file_len &&
             memcmp(out, file, file_len) == 0;
    deflateEnd(&z);
    free(out);
    return ok;
}

static void write_small(const char *path)
{
    trace_header h = small_header();
    err_t e = ERR_INIT;
    trace_writer *w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    int32_t c[N_ENTRIES];
    for (uint32_t b = 0; b < N_BATCHES; b++)
        for (uint32_t l = 0; l < N_LAYERS; l++) {
            fill_layer(b, l, c);
            EXPECT_EQ_I64(trace_write_layer(w, b, l, c, &e), 0);
        }
    EXPECT_EQ_I64(trace_finish(w, &e), 0);
}

/* Reads path with open + read_layer: 1 if every record matches write_small's
 * and the end comes after 3 batches, 0 if the reader reported an error
 * (left in *e), -1 if it succeeded with different content (never allowed). */
static int read_small(const char *path, err_t *e)
{
    trace_header h;
    trace_reader *r = trace_open(path, &h, e);
    if (!r)
        return 0;
    trace_header want = small_header();
    int same = h.experts == want.experts && h.slots == want.slots &&
               h.moe_layers == want.moe_layers && h.sources == want.sources &&
               h.tokens_per_source == want.tokens_per_source && h.seed == want.seed &&
               strcmp(h.name, want.name) == 0;
    int32_t c[N_ENTRIES];
    uint32_t b, l, n = 0;
    int rc;
    while ((rc = trace_read_layer(r, &b, &l, c, e)) == 1) {
        same &= b == n / N_LAYERS && l == n % N_LAYERS;
        for (int i = 0; i < N_ENTRIES; i++)
            same &= c[i] == expected_choice(b, l, i);
        n++;
    }
    trace_close(r);
    if (rc != 0)
        return 0;
    return same && n == N_BATCHES * N_LAYERS ? 1 : -1;
}

static void test_round_trip(void)
{
    char dir[64], a[128], b[128];
    make_dir(dir);
    snprintf(a, sizeof(a), "%s/a.mtr.gz", dir);
    snprintf(b, sizeof(b), "%s/b.mtr.gz", dir);
    write_small(a);
    write_small(b);
    EXPECT_EQ_I64(test_dir_entries(dir), 2); /* no temporary files left */

    err_t e = ERR_INIT;
    EXPECT_EQ_I64(read_small(a, &e), 1);
    EXPECT_EQ_I64(read_small(a, &e), 1); /* reading twice gives the same */

    trace_header h;
    uint64_t batches = 0;
    EXPECT_EQ_I64(trace_verify(a, &h, &batches, &e), 0);
    EXPECT_EQ_I64(batches, N_BATCHES);
    EXPECT_EQ_I64(h.experts, 8);
    EXPECT_EQ_I64(h.seed, 42);
    EXPECT_STR_CONTAINS(h.name, "test");

    /* After the end, the reader keeps answering 0. */
    trace_reader *r = trace_open(a, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    uint32_t bb, ll;
    int32_t c[N_ENTRIES];
    for (int i = 0; i < N_BATCHES * N_LAYERS; i++)
        EXPECT_EQ_I64(trace_read_layer(r, &bb, &ll, c, &e), 1);
    EXPECT_EQ_I64(trace_read_layer(r, &bb, &ll, c, &e), 0);
    EXPECT_EQ_I64(trace_read_layer(r, &bb, &ll, c, &e), 0);
    trace_close(r);

    /* The same input gives the same bytes. */
    size_t na, nb;
    unsigned char *pa = slurp(a, &na), *pb = slurp(b, &nb);
    EXPECT_EQ_I64(na, nb);
    EXPECT_TRUE(na == nb && memcmp(pa, pb, na) == 0);
    EXPECT_EQ_I64(pa[4] | pa[5] | pa[6] | pa[7], 0); /* gzip mtime 0 */
    EXPECT_EQ_I64(pa[3], 0);                          /* no file name or other extras */

    /* The payload is laid out as docs/trace.md says. */
    size_t np;
    unsigned char *p = gunzip_file(a, &np);
    EXPECT_TRUE(deflates_to(p, np, pa, na));
    EXPECT_EQ_I64(np, HEADER_BYTES + N_BATCHES * N_LAYERS * RECORD_BYTES + 24);
    EXPECT_TRUE(memcmp(p, "MOESIMTR\x01\0\0\0\x08\0\0\0", 16) == 0);
    EXPECT_TRUE(memcmp(p + HEADER_BYTES, "LAYR", 4) == 0);
    EXPECT_TRUE(memcmp(p + np - 24, "END!\x03\0\0\0\0\0\0\0\x06\0\0\0\0\0\0\0", 20) == 0);
    free(p);
    free(pa);
    free(pb);
    remove_dir(dir);
}

/* Records of 65,536 entries (128 KiB) cross the 64 KiB buffers on both sides. */
static void test_large_records(void)
{
    char dir[64], path[128];
    make_dir(dir);
    snprintf(path, sizeof(path), "%s/big.mtr.gz", dir);
    trace_header h = {256, 8, 2, 4, 2048, 7, "big"};
    size_t n = 4 * 2048 * 8;
    int32_t *c = xcalloc(n, sizeof(*c), "test choices");
    int32_t *got = xcalloc(n, sizeof(*got), "test choices");
    err_t e = ERR_INIT;
    trace_writer *w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    uint64_t x = 88172645463325252ull;
    for (uint32_t b = 0; b < 2; b++)
        for (uint32_t l = 0; l < 2; l++) {
            /* a token's 8 choices are distinct (the reader refuses repeats):
             * a random first expert, the others 31 apart, the last
             * sometimes none */
            for (size_t i = 0; i < n; i++) {
                size_t k = i % 8;
                if (k == 0)
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
                c[i] = k == 7 && (x >> 20) % 4 == 0 ? -1 : (int32_t)((x % 256 + k * 31) % 256);
            }
            EXPECT_EQ_I64(trace_write_layer(w, b, l, c, &e), 0);
        }
    EXPECT_EQ_I64(trace_finish(w, &e), 0);

    trace_header hr;
    trace_reader *r = trace_open(path, &hr, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    uint32_t b, l;
    int records = 0;
    while (trace_read_layer(r, &b, &l, got, &e) == 1)
        records++;
    EXPECT_EQ_I64(records, 4);
    EXPECT_TRUE(memcmp(c, got, n * sizeof(*c)) == 0); /* the last layer written */
    EXPECT_EQ_I64(e.code, ERR_OK);
    trace_close(r);
    free(c);
    free(got);
    remove_dir(dir);
}

static int mentions_damage(const char *msg)
{
    return strstr(msg, "truncat") != NULL || strstr(msg, "corrupt") != NULL;
}

static void test_truncation(void)
{
    char dir[64], good[128], cut[128];
    make_dir(dir);
    snprintf(good, sizeof(good), "%s/good.mtr.gz", dir);
    snprintf(cut, sizeof(cut), "%s/cut.mtr.gz", dir);
    write_small(good);
    size_t n;
    unsigned char *p = slurp(good, &n);
    int refused = 0;
    for (size_t len = 0; len < n; len++) {
        spit(cut, p, len);
        err_t e = ERR_INIT;
        uint64_t batches = 99;
        int rc = trace_verify(cut, NULL, &batches, &e);
        int ok = rc == -1 && e.code == ERR_INPUT && mentions_damage(e.msg) &&
                 strcmp(e.file, cut) == 0 && batches == 99;
        err_t e2 = ERR_INIT;
        ok &= read_small(cut, &e2) == 0 && e2.code == ERR_INPUT && mentions_damage(e2.msg);
        if (!ok) {
            char m[1700];
            snprintf(m, sizeof(m), "cut at %zu of %zu: rc %d, \"%s\" / \"%s\"", len, n, rc,
                     e.msg, e2.msg);
            CU_assertImplementation(CU_FALSE, __LINE__, m, __FILE__, "", CU_FALSE);
        }
        refused += ok;
    }
    EXPECT_EQ_I64(refused, n);
    free(p);
    remove_dir(dir);
}

static void test_byte_flips(void)
{
    char dir[64], good[128], bad[128];
    make_dir(dir);
    snprintf(good, sizeof(good), "%s/good.mtr.gz", dir);
    snprintf(bad, sizeof(bad), "%s/bad.mtr.gz", dir);
    write_small(good);
    size_t n;
    unsigned char *p = slurp(good, &n);
    const unsigned char masks[] = {0x01, 0x10, 0x80, 0xFF};
    int errors = 0;
    for (size_t pos = 0; pos < n; pos++)
        for (size_t m = 0; m < sizeof(masks); m++) {
            p[pos] ^= masks[m];
            spit(bad, p, n);
            p[pos] ^= masks[m];
            err_t e = ERR_INIT;
            int rv = trace_verify(bad, NULL, NULL, &e);
            int rr = read_small(bad, &e);
            /* Either refused by both, or (a byte nobody reads: gzip's mtime,
             * OS, deflate's padding bits) read back exactly. */
            if (!((rv == -1 && rr == 0 && e.code == ERR_INPUT) || (rv == 0 && rr == 1))) {
                char msg[256];
                snprintf(msg, sizeof(msg), "flip 0x%02x at %zu: verify %d, read %d", masks[m],
                         pos, rv, rr);
                CU_assertImplementation(CU_FALSE, __LINE__, msg, __FILE__, "", CU_FALSE);
            }
            errors += rv == -1;
        }
    EXPECT_TRUE(errors > (int)(n * sizeof(masks)) * 3 / 4); /* nearly all are caught */
    free(p);
    remove_dir(dir);
}

/* Rewrites good's payload, changed by edit, as a valid gzip stream at bad, and
 * expects trace_verify to refuse it with a message containing want1 and want2. */
static void expect_payload_refused(const char *good, const char *bad,
                                   void (*edit)(unsigned char *, size_t *), const char *want1,
                                   const char *want2)
{
    size_t n;
    unsigned char *p = gunzip_file(good, &n);
    p = xrealloc(p, n + 64, 1, "test payload");
    edit(p, &n);
    gzip_file(bad, p, n);
    free(p);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(trace_verify(bad, NULL, NULL, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.file, bad);
    EXPECT_STR_CONTAINS(e.msg, want1);
    EXPECT_STR_CONTAINS(e.msg, want2);
    err_t e2 = ERR_INIT;
    EXPECT_EQ_I64(read_small(bad, &e2), 0);
    EXPECT_STR_CONTAINS(e2.msg, want1);
}

/* Offset of the record of batch b, layer l in the small payload. */
static size_t record_at(uint32_t b, uint32_t l)
{
    return HEADER_BYTES + (b * N_LAYERS + l) * RECORD_BYTES;
}

static void edit_entry_keep_crc(unsigned char *p, size_t *n)
{
    (void)n;
    p[record_at(1, 1) + 16 + 2 * 3] ^= 0x01; /* entry 3 of batch 1 layer 1 */
}

static void edit_index_too_big(unsigned char *p, size_t *n)
{
    (void)n;
    size_t r = record_at(2, 0);
    p[r + 16 + 2 * 4] = 8; /* experts = 8: 0..7 allowed */
    p[r + 16 + 2 * 4 + 1] = 0;
    fix_crc(p, r, RECORD_BYTES - 4);
}

static void edit_layer_order(unsigned char *p, size_t *n)
{
    (void)n;
    size_t r = record_at(0, 1);
    put32(p + r + 8, 0); /* batch 0 layer 0 twice */
    fix_crc(p, r, RECORD_BYTES - 4);
}

static void edit_entry_count(unsigned char *p, size_t *n)
{
    (void)n;
    size_t r = record_at(1, 0);
    put32(p + r + 12, 21);
    fix_crc(p, r, RECORD_BYTES - 4);
}

static void edit_end_count(unsigned char *p, size_t *n)
{
    put32(p + *n - 20, 4); /* the end record claims 4 batches */
    fix_crc(p, *n - 24, 20);
}

static void edit_drop_end(unsigned char *p, size_t *n)
{
    (void)p;
    *n -= 24;
}

static void edit_extra_payload(unsigned char *p, size_t *n)
{
    memcpy(p + *n, "more", 4);
    *n += 4;
}

/* Issue 16: the same expert twice for one token was counted twice. Token 3
 * of batch 1 layer 0 is entries 6 and 7 (expert 0, then 5): make both 0. */
static void edit_duplicate_expert(unsigned char *p, size_t *n)
{
    (void)n;
    size_t r = record_at(1, 0);
    p[r + 16 + 2 * 7] = 0;
    p[r + 16 + 2 * 7 + 1] = 0;
    fix_crc(p, r, RECORD_BYTES - 4);
}

static void test_bad_records(void)
{
    char dir[64], good[128], bad[128];
    make_dir(dir);
    snprintf(good, sizeof(good), "%s/good.mtr.gz", dir);
    snprintf(bad, sizeof(bad), "%s/bad.mtr.gz", dir);
    write_small(good);
    expect_payload_refused(good, bad, edit_entry_keep_crc, "CRC-32 mismatch", "batch 1 layer 1");
    expect_payload_refused(good, bad, edit_index_too_big, "expert 8", "batch 2 layer 0");
    expect_payload_refused(good, bad, edit_layer_order, "out of order", "batch 0 layer 1");
    expect_payload_refused(good, bad, edit_entry_count, "21 entries", "batch 1 layer 0");
    expect_payload_refused(good, bad, edit_end_count, "counts 4 batches", "end record");
    expect_payload_refused(good, bad, edit_drop_end, "truncated", "batch 3 layer 0");
    expect_payload_refused(good, bad, edit_extra_payload, "more data follows the end record", "");
    expect_payload_refused(good, bad, edit_duplicate_expert,
                           "token 3 (source 0, token 3) chooses expert 0 twice",
                           "at batch 1 layer 0");

    /* Bytes after the gzip stream: garbage, or a second gzip member. */
    size_t n;
    unsigned char *p = slurp(good, &n);
    p = xrealloc(p, 2 * n, 1, "test file");
    const char *why[] = {"bytes after the end of the gzip stream",
                         "bytes after the end of the gzip stream"};
    for (int k = 0; k < 2; k++) {
        if (k == 0)
            memcpy(p + n, "\0\0\0\0", 4);
        else
            memcpy(p + n, p, n);
        spit(bad, p, n + (k == 0 ? 4 : n));
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(trace_verify(bad, NULL, NULL, &e), -1);
        EXPECT_STR_CONTAINS(e.msg, why[k]);
    }
    free(p);
    remove_dir(dir);
}

static void expect_open_refused(const char *path, const char *want)
{
    err_t e = ERR_INIT;
    trace_header h;
    trace_reader *r = trace_open(path, &h, &e);
    EXPECT_TRUE(r == NULL);
    trace_close(r);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.file, path);
    EXPECT_STR_CONTAINS(e.msg, want);
    err_t e2 = ERR_INIT;
    EXPECT_EQ_I64(trace_verify(path, NULL, NULL, &e2), -1);
    EXPECT_STR_CONTAINS(e2.msg, want);
}

static void edit_version(unsigned char *p, size_t *n)
{
    (void)n;
    p[8] = 2;
}

static void edit_experts_zero(unsigned char *p, size_t *n)
{
    (void)n;
    put32(p + 12, 0);
    fix_crc(p, 0, HEADER_BYTES - 4);
}

static void edit_header_crc(unsigned char *p, size_t *n)
{
    (void)n;
    p[44 + 1] ^= 0x20; /* a letter of the name */
}

static void test_wrong_files(void)
{
    char dir[64], path[128], good[128];
    make_dir(dir);
    snprintf(good, sizeof(good), "%s/good.mtr.gz", dir);
    write_small(good);

    snprintf(path, sizeof(path), "%s/missing.mtr.gz", dir);
    expect_open_refused(path, "cannot open");

    /* Issue 16: a FIFO blocked the run forever (open waits for a writer) */
    snprintf(path, sizeof(path), "%s/fifo.mtr.gz", dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    expect_open_refused(path, "a FIFO, not a file; allowed: a regular file");
    remove(path);
    expect_open_refused(dir, "a directory, not a file");

    snprintf(path, sizeof(path), "%s/empty.mtr.gz", dir);
    spit(path, "", 0);
    expect_open_refused(path, "empty");

    snprintf(path, sizeof(path), "%s/text.mtr.gz", dir);
    const char *text = "experts = 8;\nslots = 2;\n";
    spit(path, text, strlen(text));
    expect_open_refused(path, "not a moesim routing trace: expected a gzip stream");

    snprintf(path, sizeof(path), "%s/other.gz", dir);
    gzip_file(path, text, strlen(text));
    expect_open_refused(path, "not a moesim routing trace: magic is \"experts \"");

    snprintf(path, sizeof(path), "%s/v2.mtr.gz", dir);
    expect_payload_refused(good, path, edit_version, "unsupported trace version 2",
                           "reads version 1");
    expect_open_refused(path, "in the header");

    snprintf(path, sizeof(path), "%s/e0.mtr.gz", dir);
    expect_payload_refused(good, path, edit_experts_zero, "corrupt header: experts = 0",
                           "allowed 1..65535");
    snprintf(path, sizeof(path), "%s/hcrc.mtr.gz", dir);
    expect_payload_refused(good, path, edit_header_crc, "corrupt header: CRC-32 mismatch",
                           "in the header");
    remove_dir(dir);
}

static void test_writer_misuse(void)
{
    char dir[64], path[128];
    make_dir(dir);
    snprintf(path, sizeof(path), "%s/w.mtr.gz", dir);
    trace_header h = small_header();
    int32_t c[N_ENTRIES];
    fill_layer(0, 0, c);
    err_t e = ERR_INIT;

    /* Out of order: layer 1 first; the writer then refuses to finish. */
    trace_writer *w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    EXPECT_TRUE(access(path, F_OK) != 0); /* only the temporary name so far */
    EXPECT_EQ_I64(trace_write_layer(w, 0, 1, c, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.msg, "out of order: got batch 0 layer 1, expected batch 0 layer 0");
    EXPECT_EQ_I64(trace_finish(w, &e), -1);
    EXPECT_EQ_I64(test_dir_entries(dir), 0);

    /* A batch skipped. */
    w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    EXPECT_EQ_I64(trace_write_layer(w, 0, 0, c, &e), 0);
    EXPECT_EQ_I64(trace_write_layer(w, 0, 1, c, &e), 0);
    EXPECT_EQ_I64(trace_write_layer(w, 2, 0, c, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "expected batch 1 layer 0");
    trace_abort(w);
    EXPECT_EQ_I64(test_dir_entries(dir), 0);

    /* Entries out of range: >= experts, and below -1. */
    const int32_t bad_values[] = {8, -2};
    const char *said[] = {"is 8; allowed -1 or an expert index 0..7", "is -2"};
    for (int k = 0; k < 2; k++) {
        w = trace_create(path, &h, &e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(w);
        c[13] = bad_values[k];
        err_t ek = ERR_INIT;
        EXPECT_EQ_I64(trace_write_layer(w, 0, 0, c, &ek), -1);
        EXPECT_EQ_I64(ek.code, ERR_RUN);
        EXPECT_STR_CONTAINS(ek.msg, "entry 13 (source 1, token 1, slot 1)");
        EXPECT_STR_CONTAINS(ek.msg, said[k]);
        EXPECT_EQ_I64(trace_finish(w, &e), -1);
        EXPECT_STR_CONTAINS(e.msg, "earlier");
        EXPECT_EQ_I64(test_dir_entries(dir), 0);
    }
    fill_layer(0, 0, c);

    /* Finishing mid-batch. */
    w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    EXPECT_EQ_I64(trace_write_layer(w, 0, 0, c, &e), 0);
    EXPECT_EQ_I64(trace_finish(w, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    EXPECT_STR_CONTAINS(e.msg, "batch 0 is incomplete (1 of 2 layers)");
    EXPECT_EQ_I64(test_dir_entries(dir), 0);

    /* Abort after whole batches, and abort(NULL). */
    w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    EXPECT_EQ_I64(trace_write_layer(w, 0, 0, c, &e), 0);
    EXPECT_EQ_I64(trace_write_layer(w, 0, 1, c, &e), 0);
    EXPECT_EQ_I64(test_dir_entries(dir), 1);
    trace_abort(w);
    trace_abort(NULL);
    EXPECT_EQ_I64(test_dir_entries(dir), 0);

    /* No batches at all is a valid, empty trace. */
    w = trace_create(path, &h, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    EXPECT_EQ_I64(trace_finish(w, &e), 0);
    uint64_t batches = 9;
    EXPECT_EQ_I64(trace_verify(path, NULL, &batches, &e), 0);
    EXPECT_EQ_I64(batches, 0);

    /* An unwritable place. */
    EXPECT_TRUE(trace_create("/nonexistent-dir/t.mtr.gz", &h, &e) == NULL);
    EXPECT_EQ_I64(e.code, ERR_RUN);
    remove_dir(dir);
}

static void expect_header_refused(trace_header h, const char *path, const char *want)
{
    err_t e = ERR_INIT;
    trace_writer *w = trace_create(path, &h, &e);
    EXPECT_TRUE(w == NULL);
    trace_abort(w);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.msg, want);
}

static void test_header_limits(void)
{
    char dir[64], path[128];
    make_dir(dir);
    snprintf(path, sizeof(path), "%s/h.mtr.gz", dir);
    trace_header h = small_header();
    h.experts = 0;
    expect_header_refused(h, path, "experts = 0 is out of range; allowed 1..65535");
    h.experts = 70000;
    expect_header_refused(h, path, "experts = 70000 is out of range; allowed 1..65535");
    h = small_header();
    h.slots = 65536;
    expect_header_refused(h, path, "slots = 65536");
    h = small_header();
    h.moe_layers = 0;
    expect_header_refused(h, path, "moe_layers = 0");
    h = small_header();
    h.sources = 65536;
    h.tokens_per_source = 65536;
    expect_header_refused(h, path, "allowed at most 2^30");
    h = small_header();
    memset(h.name, 'x', sizeof(h.name));
    expect_header_refused(h, path, "NUL-terminated");
    EXPECT_EQ_I64(test_dir_entries(dir), 0);

    h = small_header(); /* the largest values are accepted */
    h.experts = 65535;
    h.slots = 65535;
    h.tokens_per_source = 1;
    err_t e = ERR_INIT;
    trace_writer *w = trace_create(path, &h, &e);
    EXPECT_TRUE(w != NULL);
    trace_abort(w);
    remove_dir(dir);
}

void test_trace_register(void)
{
    TEST_SUITE("trace", {"round trip", test_round_trip},
               {"records larger than the buffers", test_large_records},
               {"truncated files", test_truncation}, {"flipped bytes", test_byte_flips},
               {"bad records in a valid stream", test_bad_records},
               {"wrong files", test_wrong_files}, {"writer misuse", test_writer_misuse},
               {"header limits", test_header_limits});
}
