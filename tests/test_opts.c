/* test_opts.c - the one option parser and the output-file checks (issues 10
 * and 16): both spellings, --, exact names with a suggestion, values that
 * look like options, seeds, and files named twice. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moesim/opts.h"
#include "test.h"

enum { S_SET, S_JSON, S_QUIET, S_B };
static const opts_spec spec[] = {
    [S_SET] = {"set", 0, OPTS_VALUE, "KEY=VALUE"},
    [S_JSON] = {"json", 0, OPTS_OUTPUT, "a file name"},
    [S_QUIET] = {"quiet", 0, OPTS_FLAG, NULL},
    [S_B] = {"minbytes", 'b', OPTS_VALUE, "a size"},
    {NULL, 0, 0, NULL},
};

/* Parses the words of `line` (blank-separated, at most 15) into o. */
static int parse(const char *line, opts *o, err_t *e, char *buf, size_t n)
{
    char *argv[16];
    int argc = 0;
    snprintf(buf, n, "%s", line);
    for (char *t = strtok(buf, " "); t && argc < 15; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return opts_parse(spec, argc, argv, o, e);
}

static void test_spellings(void)
{
    char buf[256];
    opts o;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(parse("run --set a=1 --set=b=2 file.cfg --json=x.json -b 8 -b16 --quiet -- --json",
                        &o, &e, buf, sizeof(buf)), 0);
    EXPECT_EQ_I64(o.nitem, 6);
    EXPECT_EQ_I64(o.item[0].spec, S_SET);
    EXPECT_TRUE(strcmp(o.item[0].value, "a=1") == 0);
    EXPECT_TRUE(strcmp(o.item[1].value, "b=2") == 0); /* the first '=' splits */
    EXPECT_TRUE(strcmp(o.item[2].value, "x.json") == 0);
    EXPECT_TRUE(strcmp(o.item[3].value, "8") == 0 && strcmp(o.item[4].value, "16") == 0);
    EXPECT_TRUE(o.item[5].spec == S_QUIET && o.item[5].value == NULL);
    EXPECT_EQ_I64(o.npos, 2); /* after --, "--json" is an operand */
    EXPECT_TRUE(strcmp(o.pos[0], "file.cfg") == 0 && strcmp(o.pos[1], "--json") == 0);
    EXPECT_EQ_I64(o.help, 0);
    opts_fini(&o);
    EXPECT_EQ_I64(parse("run --json - -h", &o, &e, buf, sizeof(buf)), 0);
    EXPECT_TRUE(strcmp(o.item[0].value, "-") == 0); /* stdout */
    EXPECT_EQ_I64(o.help, 1);
    opts_fini(&o);
    EXPECT_EQ_I64(parse("run --set --quiet", &o, &e, buf, sizeof(buf)), 0);
    EXPECT_TRUE(strcmp(o.item[0].value, "--quiet") == 0); /* a value, not the flag */
    opts_fini(&o);
}

/* parse must fail with exactly `want` as the message. */
static void refused(const char *line, const char *want, int at)
{
    char buf[256], m[1400];
    opts o;
    err_t e = ERR_INIT;
    int rc = parse(line, &o, &e, buf, sizeof(buf));
    snprintf(m, sizeof(m), "line %d: \"%s\": rc %d, message \"%s\", wanted \"%s\"", at, line, rc,
             e.msg, want);
    CU_assertImplementation(rc == -1 && e.code == ERR_INPUT && strcmp(e.msg, want) == 0, at, m,
                            __FILE__, "", CU_FALSE);
    opts_fini(&o);
}

static void test_refusals(void)
{
    refused("run --jsn x", "unknown option --jsn (did you mean --json?)", __LINE__);
    refused("run --js x", "unknown option --js (did you mean --json?)", __LINE__); /* no prefixes */
    refused("run --frobnicate", "unknown option --frobnicate", __LINE__);
    refused("run -x", "unknown option -x", __LINE__);
    refused("run --quiet=1", "--quiet takes no value", __LINE__);
    refused("run --json", "--json needs a file name", __LINE__);
    refused("run -b", "-b needs a size", __LINE__);
    refused("run --json= x", "--json needs a file name", __LINE__);
    refused("run --json --quiet",
            "--json --quiet: that is an option, not a file name (to name such a file, write "
            "./--quiet)", __LINE__);
}

static void test_distance_and_seeds(void)
{
    EXPECT_EQ_I64(opts_distance("json", "json"), 0);
    EXPECT_EQ_I64(opts_distance("jsn", "json"), 1);
    EXPECT_EQ_I64(opts_distance("timelime", "timeline"), 1);
    EXPECT_EQ_I64(opts_distance("", "abc"), 3);
    uint64_t v = 0;
    EXPECT_EQ_I64(opts_parse_u64("18446744073709551615", &v), 0);
    EXPECT_TRUE(v == UINT64_MAX);
    EXPECT_EQ_I64(opts_parse_u64("0", &v), 0);
    EXPECT_TRUE(v == 0);
    /* issue 16: place --seed -1 wrapped to 2^64 - 1; 2^64 became 2^63 - 1 */
    EXPECT_EQ_I64(opts_parse_u64("-1", &v), -1);
    EXPECT_EQ_I64(opts_parse_u64("18446744073709551616", &v), -1);
    EXPECT_EQ_I64(opts_parse_u64("12x", &v), -1);
    EXPECT_EQ_I64(opts_parse_u64("", &v), -1);
}

/* opts_check_files must refuse with a message containing `want`. */
static void clash(const opts_file *f, int n, const char *want, int at)
{
    err_t e = ERR_INIT;
    char m[1400];
    int rc = opts_check_files(f, n, &e);
    snprintf(m, sizeof(m), "line %d: rc %d, message \"%s\", wanted \"%s\"", at, rc, e.msg, want);
    CU_assertImplementation(rc == -1 && e.code == ERR_INPUT && strstr(e.msg, want) != NULL, at,
                            m, __FILE__, "", CU_FALSE);
}

static void test_files(void)
{
    char dir[] = "/tmp/moesim-opts-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char in[128], x[128], y[128], dotdot[160], csv[128], inside[160], missing[160];
    snprintf(in, sizeof(in), "%s/in.cfg", dir);
    snprintf(x, sizeof(x), "%s/x", dir);
    snprintf(y, sizeof(y), "%s/y", dir);
    snprintf(dotdot, sizeof(dotdot), "%s/../%s/x", dir, strrchr(dir, '/') + 1);
    snprintf(csv, sizeof(csv), "%s/csv", dir);
    snprintf(inside, sizeof(inside), "%s/csv/links.csv", dir);
    snprintf(missing, sizeof(missing), "%s/no/x", dir);
    FILE *f = fopen(in, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    static const char *const four[] = {"totals.csv", "links.csv", NULL};

    opts_file fine[] = {{"scenario", in, 0, NULL}, {"--json", x, 1, NULL},
                        {"--trace", y, 1, NULL},   {"--csv", csv, 1, four},
                        {"--timeline", NULL, 1, NULL}, {"--a", "/dev/null", 1, NULL},
                        {"--b", "/dev/null", 1, NULL}, {"--c", "-", 1, NULL}};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(opts_check_files(fine, 8, &e), 0);

    opts_file twice[] = {{"--json", x, 1, NULL}, {"--trace", dotdot, 1, NULL}};
    clash(twice, 2, "--json and --trace name the same file", __LINE__);
    opts_file input[] = {{"the scenario", in, 0, NULL}, {"--json", in, 1, NULL}};
    clash(input, 2, "--json names the scenario, which this command reads", __LINE__);
    opts_file in_dir[] = {{"--json", inside, 1, NULL}, {"--csv", csv, 1, four}};
    EXPECT_EQ_I64(mkdir(csv, 0777), 0);
    clash(in_dir, 2, "--json and --csv name the same file", __LINE__);
    opts_file stdout2[] = {{"--json", "-", 1, NULL}, {"--trace", "-", 1, NULL}};
    clash(stdout2, 2, "--json - and --trace -: only one output can go to stdout", __LINE__);
    opts_file nodir[] = {{"--json", missing, 1, NULL}};
    clash(nodir, 1, "--json: cannot write here: No such file or directory", __LINE__);
    opts_file isdir[] = {{"--json", dir, 1, NULL}};
    clash(isdir, 1, "--json: is a directory", __LINE__);
    rmdir(csv);
    remove(in);
    rmdir(dir);
}

void test_opts_register(void)
{
    TEST_SUITE("opts", {"both spellings and --", test_spellings},
               {"refusals", test_refusals}, {"distance and seeds", test_distance_and_seeds},
               {"files named twice", test_files});
}
