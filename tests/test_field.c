/* test_field.c - the field table is whole, and every output shows every
 * field: the JSON report (at its place, with its type), the CSV tables (its
 * columns), the per-layer text table (its heading), compare (its columns)
 * and docs/output.md (the generated reference, verbatim). A field added to
 * the table and missing from any of them fails here. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "moesim/compare_out.h"
#include "moesim/csv.h"
#include "moesim/field.h"
#include "moesim/jsonout.h"
#include "moesim/report.h"
#include "test.h"

/* Reports "what" for field f when ok is false, naming the field. */
static void expect_field(int ok, const field *f, const char *what, int line)
{
    char m[256];
    snprintf(m, sizeof(m), "%s field %s.%s: %s", field_level_name(f->level),
             f->level == FIELD_TOTALS ? field_group_name(f->group) : "-", f->name, what);
    CU_assertImplementation(ok, line, m, __FILE__, "", CU_FALSE);
}
#define EXPECT_FIELD(ok, f, what) expect_field(!!(ok), (f), (what), __LINE__)

static void test_table(void)
{
    int text[64] = {0}, cmp[64] = {0}, maxt = 0, maxc = 0;
    for (int i = 0; i < field_count(); i++) {
        const field *f = field_at(i);
        EXPECT_FIELD(f->get && f->unit && f->meaning && f->meaning[0], f, "incomplete row");
        EXPECT_FIELD(f->level >= 0 && f->level < FIELD_LEVEL_COUNT, f, "no level");
        EXPECT_FIELD(f->level != FIELD_TOTALS || f->group < FIELD_GROUP_COUNT, f, "no group");
        EXPECT_FIELD(field_find(f->level, f->group, f->name) == f, f, "name used twice");
        EXPECT_FIELD(f->text == 0 || f->level == FIELD_LAYER, f, "text column off the layers");
        EXPECT_FIELD(f->cmp == 0 || f->level == FIELD_TOTALS, f, "compared below totals");
        EXPECT_FIELD(f->type != FIELD_STATS || !f->cmp || f->cmp_stats, f, "no stats compared");
        if (f->text > 0 && f->text < 64) {
            text[f->text]++;
            maxt = f->text > maxt ? f->text : maxt;
            EXPECT_FIELD(f->text_head && f->text_width > 0 && f->text_fmt, f, "text column");
        }
        if (f->cmp > 0 && f->cmp < 64) {
            cmp[f->cmp]++;
            maxc = f->cmp > maxc ? f->cmp : maxc;
        }
    }
    for (int p = 1; p <= maxt; p++)
        EXPECT_EQ_I64(text[p], 1); /* positions 1..n, each once */
    for (int p = 1; p <= maxc; p++)
        EXPECT_EQ_I64(cmp[p], 1);
    EXPECT_TRUE(field_at(-1) == NULL && field_at(field_count()) == NULL);
    EXPECT_TRUE(strcmp(field_level_name(FIELD_LEVEL_COUNT), "?") == 0); /* no read past */
    EXPECT_TRUE(strcmp(field_group_name((field_group)99), "?") == 0);
}

/* The JSON value where field f of the first layer/expert/link sits. */
/* obj's member `name`, or, for a field of a sub-object, its member there. */
static json_t *member(json_t *obj, const field *f)
{
    return json_object_get(f->sub ? json_object_get(obj, f->sub) : obj, f->name);
}

static json_t *json_place(json_t *root, const field *f)
{
    switch (f->level) {
    case FIELD_TOTALS:
        return member(json_object_get(root, field_group_name(f->group)), f);
    case FIELD_LAYER:
        return member(json_array_get(json_object_get(root, "layers"), 0), f);
    case FIELD_EXPERT: {
        json_t *l = json_array_get(json_object_get(root, "layers"), 0);
        return json_array_get(json_object_get(json_object_get(l, "per_expert"), f->name), 0);
    }
    case FIELD_STEP:
        return member(json_array_get(json_object_get(root, "steps"), 0), f);
    case FIELD_STAGE:
        return member(json_array_get(json_object_get(root, "stages"), 0), f);
    default:
        return json_object_get(json_array_get(json_object_get(root, "links"), 0), f->name);
    }
}

static int json_type_ok(const field *f, const json_t *v)
{
    switch (f->type) {
    case FIELD_INT:
    case FIELD_U64:
        return json_is_integer(v) || json_is_null(v);
    case FIELD_REAL:
        return json_is_number(v) || json_is_null(v);
    case FIELD_STR:
        return json_is_string(v) || json_is_null(v);
    case FIELD_BOOL:
        return json_is_boolean(v);
    case FIELD_STATS:
        return json_is_object(v) && json_object_size(v) == FIELD_STAT_COUNT;
    default:
        return json_is_array(v);
    }
}

/* Every field of the report of a run of `file` is in its JSON, of its
 * type; the step level only where the run trained. */
static void check_json(const char *file, bool steps)
{
    scenario s;
    play_t *p = test_play_run(file, NULL, NULL, 0, &s);
    json_t *root = report_json_tree(&s, play_metrics(p), play_topo(p));
    for (int i = 0; i < field_count(); i++) {
        const field *f = field_at(i);
        if ((f->level == FIELD_STEP || f->level == FIELD_STAGE) && !steps)
            continue;
        json_t *v = json_place(root, f);
        EXPECT_FIELD(v != NULL, f, "missing from the JSON report");
        if (v)
            EXPECT_FIELD(json_type_ok(f, v), f, "of the wrong JSON type");
    }
    json_decref(root);
    play_free(p);
    scenario_fini(&s);
}

/* The whole of a file, NUL-terminated (caller frees), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&text, &n);
    for (int c; (c = fgetc(f)) != EOF;)
        fputc(c, m);
    fclose(f);
    fclose(m);
    return text;
}

/* The first line of the file dir/name (caller frees). */
static char *csv_header(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *t = slurp(path);
    if (t)
        t[strcspn(t, "\n")] = '\0';
    return t;
}

/* Is `col` one of the comma-separated cells of header? */
static int has_cell(const char *header, const char *col)
{
    size_t n = strlen(col);
    for (const char *p = header; p && *p;) {
        size_t k = strcspn(p, ",");
        if (k == n && strncmp(p, col, n) == 0)
            return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

static const char *const csv_files[FIELD_LEVEL_COUNT] = {"totals.csv", "layers.csv",
                                                         "experts.csv", "links.csv", "steps.csv",
                                                         "stages.csv"};

static void check_csv(const char *dir)
{
    char *hdr[FIELD_LEVEL_COUNT];
    for (int l = 0; l < FIELD_LEVEL_COUNT; l++) {
        hdr[l] = csv_header(dir, csv_files[l]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(hdr[l]);
    }
    for (int i = 0; i < field_count(); i++) {
        const field *f = field_at(i);
        if (f->type == FIELD_REALS) /* arrays have no CSV column (docs/output.md) */
            continue;
        char col[128], name[96];
        snprintf(name, sizeof(name), "%s%s%s", f->sub ? f->sub : "", f->sub ? "_" : "", f->name);
        if (f->level == FIELD_TOTALS && f->group != FIELD_GROUP_TOTALS)
            snprintf(col, sizeof(col), "%s_%s", field_group_name(f->group), name);
        else
            snprintf(col, sizeof(col), "%s", name);
        if (f->type == FIELD_STATS)
            for (int st = 0; st < FIELD_STAT_COUNT; st++) {
                char c2[160];
                snprintf(c2, sizeof(c2), "%s_%s", col, field_stat_name((field_stat)st));
                EXPECT_FIELD(has_cell(hdr[f->level], c2), f, "a stats column missing in CSV");
            }
        else
            EXPECT_FIELD(has_cell(hdr[f->level], col), f, "no CSV column");
    }
    for (int l = 0; l < FIELD_LEVEL_COUNT; l++)
        free(hdr[l]);
}

static void check_text(const scenario *s, const metrics *m, const topo_t *t)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    EXPECT_EQ_I64(report_text(f, s, m, t), 0);
    fclose(f);
    const char *table = strstr(text, "\nPer MoE layer");
    CU_ASSERT_PTR_NOT_NULL_FATAL(table);
    const char *head = strchr(table + 1, '\n') + 1; /* the headings' line */
    char line[512];
    snprintf(line, sizeof(line), "%.*s", (int)strcspn(head, "\n"), head);
    for (int i = 0; i < field_count(); i++) {
        const field *x = field_at(i);
        if (!x->text)
            continue;
        char cell[64];
        snprintf(cell, sizeof(cell), " %*s", x->text_width, x->text_head);
        EXPECT_FIELD(strstr(line, cell) != NULL, x, "no text column");
    }
    free(text);
}

static void check_compare(void)
{
    char hdr[1024];
    compare_out_csv_header(hdr, sizeof(hdr));
    for (int i = 0; i < field_count(); i++) {
        const field *x = field_at(i);
        if (!x->cmp)
            continue;
        char col[160];
        if (x->type == FIELD_STATS) {
            for (int st = 0; st < FIELD_STAT_COUNT; st++) {
                if (!(x->cmp_stats & FIELD_STAT_BIT(st)))
                    continue;
                size_t stem = strlen(x->name) - 2; /* "dispatch_s" -> dispatch_p50_s */
                snprintf(col, sizeof(col), "%.*s_%s_s", (int)stem, x->name,
                         field_stat_name((field_stat)st));
                EXPECT_FIELD(has_cell(hdr, col), x, "a compared stat missing in compare");
            }
        } else {
            EXPECT_FIELD(compare_out_column(x->name) >= 0, x, "no compare column");
            EXPECT_FIELD(!x->cmp_head || has_cell(hdr, x->name), x, "not in compare's CSV");
        }
    }
}

static void check_docs(void)
{
    char *want = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&want, &n);
    EXPECT_EQ_I64(field_write_md(f), 0);
    fclose(f);
    char *doc = slurp("docs/output.md");
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    int found = strstr(doc, want) != NULL;
    if (!found) { /* say how to bring the doc up to date */
        mkdir("build", 0777);
        FILE *o = fopen("build/fields.md", "w");
        if (o) {
            fputs(want, o);
            fclose(o);
        }
    }
    CU_assertImplementation(found, __LINE__,
                            "docs/output.md lacks the field reference as the table writes it "
                            "(written to build/fields.md: paste it between the markers)",
                            __FILE__, "", CU_FALSE);
    free(doc);
    free(want);
}

static void test_every_output(void)
{
    scenario s;
    play_t *p = test_play_run("tests/e2e/two-gpus.cfg", NULL, NULL, 0, &s);
    const metrics *m = play_metrics(p);
    const topo_t *t = play_topo(p);

    check_json("tests/e2e/two-gpus.cfg", false);
    check_json("tests/e2e/train.cfg", true); /* a training step: steps[] too */

    char tmp[] = "/tmp/moesim-field-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmp));
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(report_csv(tmp, &s, m, t, &e), 0);
    check_csv(tmp);
    for (int l = 0; l < FIELD_LEVEL_COUNT; l++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", tmp, csv_files[l]);
        remove(path);
    }
    rmdir(tmp);

    check_text(&s, m, t);
    check_compare();
    check_docs();
    play_free(p);
    scenario_fini(&s);
}

/* The JSON report's text reads back (jansson, strict) to the very doubles
 * of the tree it was written from: the number format loses no bit. */
static void test_json_exact(void)
{
    scenario s;
    play_t *p = test_play_run("tests/e2e/two-gpus.cfg", NULL, NULL, 0, &s);
    json_t *tree = report_json_tree(&s, play_metrics(p), play_topo(p));
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    EXPECT_EQ_I64(report_json(f, &s, play_metrics(p), play_topo(p)), 0);
    fclose(f);
    json_error_t err;
    json_t *back = json_loads(text, 0, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    /* reals that print as integers come back as integers: equal as numbers */
    const char *paths[][2] = {{"totals", "throughput_tokens_per_s"}, {"totals", "sim_time_s"},
                              {"totals", "gpu_load_max_over_mean"}, {"memory", "hbm_bytes"}};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        json_t *a = json_object_get(json_object_get(tree, paths[i][0]), paths[i][1]);
        json_t *b = json_object_get(json_object_get(back, paths[i][0]), paths[i][1]);
        CU_ASSERT_FATAL(a && b);
        EXPECT_TRUE(json_number_value(a) == json_number_value(b));
    }
    json_t *la = json_array_get(json_object_get(tree, "layers"), 0);
    json_t *lb = json_array_get(json_object_get(back, "layers"), 0);
    EXPECT_TRUE(json_number_value(json_object_get(la, "load_cv")) ==
                json_number_value(json_object_get(lb, "load_cv")));
    EXPECT_TRUE(json_number_value(json_object_get(la, "aux_loss")) ==
                json_number_value(json_object_get(lb, "aux_loss")));
    json_decref(back);
    json_decref(tree);
    free(text);
    play_free(p);
    scenario_fini(&s);
}

void test_field_register(void)
{
    TEST_SUITE("field", {"the table is whole", test_table},
               {"every field in every output", test_every_output},
               {"JSON numbers read back exactly", test_json_exact});
}
