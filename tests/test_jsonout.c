/* test_jsonout.c - the one number format (shortest text that reads back to
 * the same double), strings made valid UTF-8, and the layout. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/jsonout.h"
#include "test.h"

static void expect_real(double v, const char *want, int line)
{
    char buf[JSONOUT_REAL_MAX], m[160];
    jsonout_format_real(v, buf, sizeof(buf));
    snprintf(m, sizeof(m), "%.17g wrote \"%s\", wanted \"%s\"", v, buf, want);
    CU_assertImplementation(strcmp(buf, want) == 0, line, m, __FILE__, "", CU_FALSE);
}
#define EXPECT_REAL(v, want) expect_real((v), (want), __LINE__)

static void test_numbers(void)
{
    EXPECT_REAL(0.1, "0.1"); /* jansson's own %.17g: 0.10000000000000001 */
    EXPECT_REAL(1.0 / 3, "0.3333333333333333");
    EXPECT_REAL(2.0, "2");
    EXPECT_REAL(0, "0");
    EXPECT_REAL(-0.5, "-0.5");
    EXPECT_REAL(2e-05, "2e-05");
    EXPECT_REAL(1.7686955999999998e-05, "1.7686955999999998e-05"); /* needs all 17 */
    EXPECT_REAL(DBL_MAX, "1.7976931348623157e+308");
    EXPECT_REAL(DBL_TRUE_MIN, "4.94065645841247e-324"); /* reads back: nothing is nearer */
    EXPECT_REAL(NAN, ""); /* JSON null, an empty CSV field */
    EXPECT_REAL(INFINITY, "");
    EXPECT_REAL(-INFINITY, "");

    /* every finite double reads back to its bits: bit patterns from a local
     * xorshift (no shared generator), across the whole exponent range */
    uint64_t x = 88172645463325252u;
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double v;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        char buf[JSONOUT_REAL_MAX];
        jsonout_format_real(v, buf, sizeof(buf));
        bad += strtod(buf, NULL) != v || strlen(buf) >= JSONOUT_REAL_MAX - 1;
    }
    EXPECT_EQ_I64(bad, 0);
}

static void test_utf8(void)
{
    struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80", "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80"},
        {"a\xFF" "b", "a\xEF\xBF\xBD" "b"},                        /* never valid */
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD"},                  /* overlong '/' */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},  /* a surrogate */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
        {"x\xE2\x82", "x\xEF\xBF\xBD\xEF\xBF\xBD"},                /* cut short */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = jsonout_utf8(cases[i].in);
        char m[128];
        snprintf(m, sizeof(m), "case %zu: not the expected replacement", i);
        CU_assertImplementation(strcmp(got, cases[i].out) == 0, __LINE__, m, __FILE__, "",
                                CU_FALSE);
        free(got);
    }
}

/* What jsonout_write puts out, as a malloc'ed string. */
static char *written(const json_t *v, const char *const *expand)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    EXPECT_EQ_I64(jsonout_write(f, v, expand), 0);
    fclose(f);
    return text;
}

static void test_layout(void)
{
    json_t *o = jsonout_object(), *b = jsonout_object(), *arr = jsonout_array();
    jsonout_set(o, "a", jsonout_int(1));
    jsonout_push(arr, jsonout_real(0.1));
    jsonout_push(arr, jsonout_real(NAN));
    jsonout_push(arr, jsonout_int(-7));
    jsonout_set(b, "c", arr);
    jsonout_set(b, "s", jsonout_str("1.50000 e5 \"q\" \\ 0.10000000000000001"));
    jsonout_set(o, "b", b);
    jsonout_set(o, "d", jsonout_array()); /* empty: "[]" even when expanded */
    jsonout_set(o, "u", jsonout_u64(UINT64_MAX));
    jsonout_set(o, "n", jsonout_str(NULL));
    static const char *const expand[] = {"", "b", "d", NULL};
    char *t = written(o, expand);
    /* numbers inside strings stay as they are; keys in insertion order */
    CU_ASSERT_STRING_EQUAL(t, "{\n"
                              "  \"a\": 1,\n"
                              "  \"b\": {\n"
                              "    \"c\": [0.1, null, -7],\n"
                              "    \"s\": \"1.50000 e5 \\\"q\\\" \\\\ 0.10000000000000001\"\n"
                              "  },\n"
                              "  \"d\": [],\n"
                              "  \"u\": \"18446744073709551615\",\n"
                              "  \"n\": null\n"
                              "}\n");
    free(t);
    t = written(o, NULL);
    CU_ASSERT_NSTRING_EQUAL(t, "{\"a\": 1, \"b\": {\"c\": [0.1, null, -7], ", 35);
    free(t);
    json_decref(o);
}

/* Issue 16: a string that is not UTF-8 (a scenario name, a key) never makes
 * invalid JSON: the text parses with a strict reader (jansson's) and holds
 * U+FFFD where the bad bytes were. */
static void test_never_invalid(void)
{
    json_t *o = jsonout_object();
    jsonout_set(o, "name", jsonout_str("bad \xFF\xFE name \xC3"));
    jsonout_set(o, "k\x80y", jsonout_int(1));
    char *t = written(o, NULL);
    json_error_t err;
    json_t *back = json_loads(t, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(back, "name")),
                           "bad \xEF\xBF\xBD\xEF\xBF\xBD name \xEF\xBF\xBD");
    EXPECT_EQ_I64(json_integer_value(json_object_get(back, "k\xEF\xBF\xBDy")), 1);
    json_decref(back);
    free(t);
    json_decref(o);
}

void test_jsonout_register(void)
{
    TEST_SUITE("jsonout", {"numbers: shortest text, exact", test_numbers},
               {"strings made valid UTF-8", test_utf8}, {"layout", test_layout},
               {"never invalid JSON (issue 16)", test_never_invalid});
}
