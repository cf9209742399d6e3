/* test_timeline.c - trace event files: exact microseconds, rows by node and
 * GPU, whole or nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moesim/timeline.h"
#include "test.h"

/* The whole file at path, NUL-terminated (caller frees), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)n + 1, 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static void test_spans(void)
{
    char dir[] = "/tmp/moesim-timeline-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/t.json", dir);
    err_t e = ERR_INIT;
    timeline_t *t = timeline_create(path, "two \"quoted\" words", 2, 4, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    EXPECT_TRUE(access(path, F_OK) != 0); /* nothing until finished */
    /* GPU 5 is node 1's second GPU, its comm stream thread 2 x 5 + 1 = 11;
     * 1,234,567 ps is 1.234567 us */
    timeline_span(t, 5, 1, "dispatch", "network", 1234567, 3000000, 2, 7, "bytes_sent", 4096);
    timeline_span(t, TIMELINE_RUN, 0, "batch", "run", 0, 999, 0, -1, NULL, 0);
    EXPECT_EQ_I64(timeline_finish(t, &e), 0);

    char *s = slurp(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    EXPECT_STR_CONTAINS(s, "{\"ph\": \"X\", \"name\": \"dispatch\", \"cat\": \"network\", "
                           "\"pid\": 1, \"tid\": 11, \"ts\": 1.234567, \"dur\": 1.765433, "
                           "\"args\": {\"batch\": 2, \"layer\": 7, \"bytes_sent\": 4096}}");
    EXPECT_STR_CONTAINS(s, "{\"ph\": \"X\", \"name\": \"batch\", \"cat\": \"run\", \"pid\": 2, "
                           "\"tid\": 0, \"ts\": 0.000000, \"dur\": 0.000999, "
                           "\"args\": {\"batch\": 0}}");
    EXPECT_STR_CONTAINS(s, "\"args\": {\"name\": \"node 1\"}");
    EXPECT_STR_CONTAINS(s, "\"tid\": 14, \"args\": {\"name\": \"gpu 7 compute\"}");
    EXPECT_STR_CONTAINS(s, "\"tid\": 15, \"args\": {\"name\": \"gpu 7 comm\"}");
    EXPECT_STR_CONTAINS(s, "\"scenario\": \"two \\\"quoted\\\" words\"");
    EXPECT_STR_CONTAINS(s, "\"schema\": \"moesim.timeline/2\"");
    /* the event list closes: the file ends in "]}" */
    size_t n = strlen(s);
    EXPECT_TRUE(n > 4 && strcmp(s + n - 4, " ]}\n") == 0);
    free(s);

    /* aborted: no file, no temporary */
    char path2[128];
    snprintf(path2, sizeof(path2), "%s/u.json", dir);
    t = timeline_create(path2, "x", 1, 1, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    timeline_span(t, 0, 0, "attention", "compute", 0, 10, 0, 0, NULL, 0);
    timeline_abort(t);
    timeline_abort(NULL);
    EXPECT_TRUE(access(path2, F_OK) != 0);
    remove(path);
    EXPECT_EQ_I64(rmdir(dir), 0); /* empty: no stray temporary file */

    /* an unwritable place is ERR_RUN */
    EXPECT_TRUE(timeline_create("/nonexistent-dir/t.json", "x", 1, 1, &e) == NULL);
    EXPECT_EQ_I64(e.code, ERR_RUN);
}

void test_timeline_register(void);
void test_timeline_register(void)
{
    TEST_SUITE("timeline", {"spans in exact microseconds, whole or nothing", test_spans});
}
