/*
 * scenario.c - scenario files: one table of keys drives parsing, defaults,
 * checks, --set overrides, unknown-key detection and the key reference.
 *
 * Every key is one row of `scenario_keys[]` (schema.c): its path, its type
 * (which says how the text is read, unit included), its default written as it would be in a file
 * (or a hook that computes it from keys above it), its bounds (static, or an
 * upper bound read from another key), the enum values this version runs and
 * those it recognises but does not run yet, an optional check across keys,
 * the field of `scenario` it fills, and a line of help. Loading is four steps,
 * each a loop over the table or the tree: apply the --set overrides to the
 * parsed libconfig tree; walk the tree so that any key not in the table is an
 * error suggesting the closest one; take each row in order (given value or
 * default, type, bounds, store, check); derive what follows from the rows.
 * Rows come in dependency order: a default or a bound may read only keys of
 * rows above it, which the loop has already stored.
 *
 * Errors have code ERR_INPUT and point at the setting: file and line from
 * libconfig for what a file wrote, "--set" and line 0 for an override, and
 * the enclosing group's line for a missing or defaulted key. Nothing here is
 * global but the table; a load keeps its state in a `loader` on the stack.
 *
 * This file is the engine; the rows, the presets and the memory fit are
 * beside it (loader.h lists the files).
 */
#include "moesim/scenario.h"

#include "loader.h"

#include <assert.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/collective.h"
#include "moesim/units.h"


/* ---- the table, looked up ---- */

static const key_row *row_find(const char *path)
{
    for (size_t i = 0; i < scenario_nkeys; i++)
        if (strcmp(scenario_keys[i].path, path) == 0)
            return &scenario_keys[i];
    return NULL;
}

/* Is `path` a group of the schema (some key lies below it)? */
static int is_group_path(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < scenario_nkeys; i++)
        if (strncmp(scenario_keys[i].path, path, n) == 0 && scenario_keys[i].path[n] == '.')
            return 1;
    return 0;
}

static int64_t field_int(const scenario *s, const key_row *r)
{
    const char *p = (const char *)s + r->off;
    if (r->size == sizeof(int64_t)) {
        int64_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    int x;
    memcpy(&x, p, sizeof(x));
    return x;
}

int64_t scenario_key_int(const scenario *s, const char *path)
{
    const key_row *r = row_find(path);
    return r ? field_int(s, r) : 0;
}

/* ---- error text ---- */

/* Where a setting was written: its file and line, "--set" for an override,
 * and for a key not written the enclosing group's line (0 if none). */
static void locate(const loader *L, const config_setting_t *st, const char *path,
                   const char **file, int *line)
{
    *file = L->name;
    *line = 0;
    if (st) {
        if (config_setting_source_line(st) > 0) {
            const char *f = config_setting_source_file(st);
            *file = f ? f : L->name;
            *line = (int)config_setting_source_line(st);
        } else {
            *file = "--set";
        }
        return;
    }
    char parent[128];
    snprintf(parent, sizeof(parent), "%s", path);
    for (char *dot = strrchr(parent, '.'); dot; dot = strrchr(parent, '.')) {
        *dot = '\0';
        const config_setting_t *g = config_lookup(L->cfg, parent);
        if (g && config_setting_source_line(g) > 0) {
            const char *f = config_setting_source_file(g);
            *file = f ? f : L->name;
            *line = (int)config_setting_source_line(g);
            return;
        }
        if (g)
            return; /* made by --set: the file has no line for it */
    }
}

/* Fills e for the setting st (or the unwritten key `key`) and returns -1. */
int scenario_fail(const loader *L, const config_setting_t *st, const char *key, err_t *e,
                const char *fmt, ...)
{
    char msg[sizeof(e->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file;
    int line;
    locate(L, st, key, &file, &line);
    return err_set(e, ERR_INPUT, file, line, key, "%s", msg);
}

/* A number for people: integers without a fraction, others with %g. */
static void fmt_num(double x, char *buf, size_t n)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, n, "%.0f", x);
    else
        snprintf(buf, n, "%g", x);
}

/* What the file wrote, as the file wrote it: 9, 1.5, "x", true, a group. */
void scenario_describe(const config_setting_t *st, char *buf, size_t n)
{
    switch (config_setting_type(st)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, n, "%lld", config_setting_get_int64(st));
        break;
    case CONFIG_TYPE_FLOAT: {
        snprintf(buf, n, "%g", config_setting_get_float(st));
        if (!strpbrk(buf, ".eni")) /* keep it a float: 0.0 reads "0.0", not "0" */
            snprintf(buf + strlen(buf), n - strlen(buf), ".0");
        break;
    }
    case CONFIG_TYPE_BOOL:
        snprintf(buf, n, "%s", config_setting_get_bool(st) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf, n, "\"%.200s\"", config_setting_get_string(st));
        break;
    case CONFIG_TYPE_GROUP:
        snprintf(buf, n, "a group");
        break;
    default:
        snprintf(buf, n, "a list");
        break;
    }
}

static const char *unit_noun(key_type t)
{
    switch (t) {
    case KT_BANDWIDTH: return "a bandwidth";
    case KT_TIME: return "a time";
    case KT_SIZE: return "a size";
    default: return "a compute rate";
    }
}

static const char *unit_examples(key_type t)
{
    switch (t) {
    case KT_BANDWIDTH: return "\"400 Gb/s\" or \"50 GB/s\"";
    case KT_TIME: return "\"1.5 us\" or \"200 ns\"";
    case KT_SIZE: return "\"80 GiB\" or \"7168 B\"";
    default: return "\"989 TFLOP/s\" or \"312 TFLOPS\"";
    }
}

/* The physical range of each unit kind, checked at load: no real device is
 * outside it, and inside it the products that size time stay far from the
 * 64-bit picosecond clock (2^63 ps = 106 days). docs/scenario.md states them. */
typedef struct unit_range {
    key_type type;
    double lo, hi; /* FLOP/s, B/s, ps, bytes */
    const char *text;
} unit_range;

static const unit_range unit_ranges[] = {
    {KT_FLOPS, 1e9, 1e18, "from 1 GFLOP/s to 1e18 FLOP/s (1 EFLOP/s)"},
    {KT_BANDWIDTH, 1e6, 1e15, "from 1 MB/s to 1 PB/s"},
    {KT_TIME, 0, 1e12, "from 0 to 1 s"},
    {KT_SIZE, 1e6, 1e15, "from 1 MB to 1 PB"},
};

static const unit_range *range_of(key_type t)
{
    for (size_t i = 0; i < sizeof(unit_ranges) / sizeof(unit_ranges[0]); i++)
        if (unit_ranges[i].type == t)
            return &unit_ranges[i];
    return &unit_ranges[0]; /* only unit kinds ask */
}

/* The i-th value an enum row allows, the model's names first and then the
 * row's own; NULL past the last. *code: what is stored for it. */
static const char *enum_at(const key_row *r, int i, int *code)
{
    if (i < r->count) {
        *code = i;
        return r->names(i);
    }
    i -= r->count;
    for (int k = 0; r->vals && r->vals[k]; k++)
        if (k == i) {
            *code = r->codes ? r->codes[k] : k;
            return r->vals[k];
        }
    return NULL;
}

/* Appends `"a", "b"` for the values (enum_at of r, or the NULL-ended list);
 * returns the new length. */
static size_t join_quoted(char *buf, size_t n, size_t k, const key_row *r,
                          const char *const *list)
{
    int code;
    const char *v;
    for (int i = 0; (v = r ? enum_at(r, i, &code) : list[i]) && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s\"%s\"", i ? ", " : "", v);
        k = w < 0 ? n : k + (size_t)w;
    }
    return k < n ? k : n - 1;
}

/* What a row allows, for messages (L set: bounds read from the loaded keys)
 * and for the docs (L NULL: bounds named by key). */
void scenario_allowed(const loader *L, const key_row *r, char *buf, size_t n)
{
    char lo[32], hi[64];
    fmt_num(r->min, lo, sizeof(lo));
    if (r->max_key && L)
        snprintf(hi, sizeof(hi), "%lld", (long long)scenario_key_int(L->s, r->max_key));
    else if (r->max_key)
        snprintf(hi, sizeof(hi), "%s", r->max_key);
    else
        fmt_num(r->max, hi, sizeof(hi));
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
        if (r->na_what)
            snprintf(buf, n, "%s", lo);
        else if (r->flags & F_NO_MAX)
            snprintf(buf, n, "an integer in [%s, 9223372036854775807]", lo);
        else
            snprintf(buf, n, "an integer in [%s, %s]", lo, hi);
        break;
    case KT_FLOAT:
        if (r->flags & F_NO_MAX)
            snprintf(buf, n, "a number %s %s", (r->flags & F_MIN_OPEN) ? ">" : ">=", lo);
        else
            snprintf(buf, n, "a number in %c%s, %s]", (r->flags & F_MIN_OPEN) ? '(' : '[',
                     lo, hi);
        break;
    case KT_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case KT_STRING:
        if (strcmp(r->path, "parallel.order") == 0)
            snprintf(buf, n, "tp, ep, dp, pp (and cp) joined by \"-\", each once, such "
                             "as \"tp-ep-dp-pp\"");
        else
            snprintf(buf, n, "a string of at most %zu characters", r->size - 1);
        break;
    case KT_ENUM: {
        size_t k = join_quoted(buf, n, 0, r, NULL);
        if (!L && r->na && k + 1 < n) {
            int w = snprintf(buf + k, n - k, " (not yet: ");
            k = w < 0 ? n - 1 : k + (size_t)w;
            if (k + 1 < n)
                k = join_quoted(buf, n, k, NULL, r->na);
            if (k + 1 < n)
                snprintf(buf + k, n - k, ")");
        }
        break;
    }
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS:
        if (L) /* a message: the range has its own */
            snprintf(buf, n, "a number and a unit such as %s", unit_examples(r->type));
        else
            snprintf(buf, n, "a number and a unit such as %s, %s%s", unit_examples(r->type),
                     range_of(r->type)->text,
                     (r->flags & F_MIN_OPEN) || range_of(r->type)->lo == 0 ? "" : ", or 0");
        break;
    case KT_LIST:
        if (strcmp(r->path, "parallel.pp_layers") == 0)
            snprintf(buf, n, "a list of parallel.pp positive layer counts summing to "
                             "model.layers");
        else if (L)
            snprintf(buf, n, "a list of rows, each a list of model.experts (%d) numbers",
                     L->s->model.experts);
        else
            snprintf(buf, n, "a list of rows, each a list of model.experts numbers");
        break;
    case KT_GPU:
        snprintf(buf, n, "a preset name (%s) or a group", gpu_preset_names());
        break;
    }
}

/* "<described value> is not <noun>; allowed: <allowed>" */
static int type_error(const loader *L, const key_row *r, const config_setting_t *st,
                      const char *noun, err_t *e)
{
    char what[256], ok[512];
    scenario_describe(st, what, sizeof(what));
    scenario_allowed(L, r, ok, sizeof(ok));
    return scenario_fail(L, st, r->path, e, "%s is not %s; allowed: %s", what, noun, ok);
}

/* Levenshtein distance of two short strings (cut at 127 characters). */
static int edit_distance(const char *a, const char *b)
{
    int prev[128], cur[128];
    size_t m = strlen(a), n = strlen(b);
    m = m > 127 ? 127 : m;
    n = n > 127 ? 127 : n;
    for (size_t j = 0; j <= n; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= m; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (n + 1) * sizeof(int));
    }
    return prev[n];
}

/* The names of the keys and groups directly under `parent` ("" = top level),
 * comma-separated, in table order. */
static void child_keys(const char *parent, char *list, size_t n)
{
    size_t pl = strlen(parent), k = 0;
    list[0] = '\0';
    for (size_t i = 0; i < scenario_nkeys && k + 1 < n; i++) {
        const char *p = scenario_keys[i].path;
        if (pl && (strncmp(p, parent, pl) != 0 || p[pl] != '.'))
            continue;
        const char *child = pl ? p + pl + 1 : p;
        size_t cl = strcspn(child, ".");
        int seen = 0; /* once per child: a group has many rows */
        for (size_t j = 0; j < i && !seen; j++) {
            const char *q = scenario_keys[j].path;
            if (pl && (strncmp(q, parent, pl) != 0 || q[pl] != '.'))
                continue;
            const char *qc = pl ? q + pl + 1 : q;
            seen = strcspn(qc, ".") == cl && strncmp(qc, child, cl) == 0;
        }
        if (!seen) {
            int w = snprintf(list + k, n - k, "%s%.*s", k ? ", " : "", (int)cl, child);
            k = w < 0 ? n : k + (size_t)w;
        }
    }
}

/* An unknown key: suggest the closest key or group of the schema when it is
 * close enough to be a typo, else list the keys the enclosing group has. */
static int unknown_key(const loader *L, const config_setting_t *st, const char *path,
                       err_t *e)
{
    const char *best = NULL;
    size_t best_len = 0;
    int best_d = INT_MAX;
    for (size_t i = 0; i < scenario_nkeys; i++) {
        const char *p = scenario_keys[i].path;
        /* the key itself and each group above it ("cluster.gpu", "cluster") */
        for (size_t len = strlen(p); len > 0;) {
            char cand[128];
            snprintf(cand, sizeof(cand), "%.*s", (int)len, p);
            int d = edit_distance(path, cand);
            if (d < best_d) {
                best_d = d;
                best = p;
                best_len = len;
            }
            const char *dot = NULL;
            for (size_t k = 0; k < len; k++)
                if (p[k] == '.')
                    dot = p + k;
            len = dot ? (size_t)(dot - p) : 0;
        }
    }
    /* two edits cover a swapped pair ("modle"); a third of the length covers
     * longer slips ("cluster.gpu.hbm_bw") without suggesting nonsense for
     * a key that is simply not there */
    int plen = (int)strlen(path);
    if (best && (best_d <= 2 || best_d * 3 <= plen))
        return scenario_fail(L, st, path, e, "unknown key; did you mean \"%.*s\"?", (int)best_len,
                             best);

    /* no near miss: list the keys of the enclosing group */
    char parent[128] = "", list[600];
    const char *dot = strrchr(path, '.');
    if (dot)
        snprintf(parent, sizeof(parent), "%.*s", (int)(dot - path), path);
    child_keys(parent, list, sizeof(list));
    return scenario_fail(L, st, path, e, "unknown key; allowed: %s", list);
}

/* ---- --set overrides ---- */

/* Deep copy of a libconfig setting under parent (name NULL inside lists). */
static void copy_setting(config_setting_t *parent, const char *name,
                         const config_setting_t *src)
{
    int type = config_setting_type(src);
    config_setting_t *dst = config_setting_add(parent, name, type);
    if (!dst) /* an array refusing a mixed element cannot happen: src was valid */
        return;
    switch (type) {
    case CONFIG_TYPE_INT: config_setting_set_int(dst, config_setting_get_int(src)); break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(dst, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(dst, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL: config_setting_set_bool(dst, config_setting_get_bool(src)); break;
    case CONFIG_TYPE_STRING:
        config_setting_set_string(dst, config_setting_get_string(src));
        break;
    default: /* group, array, list */
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *c = config_setting_get_elem(src, (unsigned)i);
            copy_setting(dst, type == CONFIG_TYPE_GROUP ? config_setting_name(c) : NULL, c);
        }
        break;
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t i = strspn(s, " \t");
    memmove(s, s + i, n - i + 1);
}

/* Applies "key.path=value": the value is read as a scenario file would read
 * it, or taken as a string when it does not parse (so quotes may be left out),
 * then put into the tree at the path, replacing what the file wrote. */
int scenario_apply_set(loader *L, const char *set, err_t *e)
{
    const char *eq = strchr(set, '=');
    char key[128], val[1024];
    if (eq && (size_t)(eq - set) < sizeof(key)) {
        snprintf(key, sizeof(key), "%.*s", (int)(eq - set), set);
        trim(key);
    }
    if (!eq || (size_t)(eq - set) >= sizeof(key) || !key[0])
        return err_set(e, ERR_INPUT, "--set", 0, NULL,
                       "\"%.200s\" is not key=value; allowed: a key and a value such as "
                       "model.top_k=2 or cluster.gpu=H800-SXM",
                       set);
    if (strlen(eq + 1) >= sizeof(val))
        return err_set(e, ERR_INPUT, "--set", 0, key,
                       "the value is too long; allowed: at most %zu characters",
                       sizeof(val) - 1);
    snprintf(val, sizeof(val), "%s", eq + 1);
    trim(val);
    if (!row_find(key) && !is_group_path(key)) {
        unknown_key(L, NULL, key, e);
        snprintf(e->file, sizeof(e->file), "--set"); /* not the file's enclosing group */
        e->line = 0;
        return -1;
    }

    char text[1100];
    /* libconfig 1.5 wraps an integer beyond 32 bits unless it ends in L; a
     * command line should not need to know that */
    size_t digits = strspn(val + (val[0] == '-'), "0123456789");
    int wide = digits > 9 && val[(val[0] == '-') + digits] == '\0';
    errno = 0;
    if (wide && (strtoll(val, NULL, 10), errno == ERANGE)) { /* L would saturate it */
        char ok[512] = "a number that fits 64 bits";
        if (row_find(key))
            scenario_allowed(NULL, row_find(key), ok, sizeof(ok));
        return err_set(e, ERR_INPUT, "--set", 0, key,
                       "%s is beyond 2^63 - 1, the largest integer a scenario holds; "
                       "allowed: %s", val, ok);
    }
    snprintf(text, sizeof(text), "v = %s%s;", val, wide ? "L" : "");
    config_t tmp;
    config_init(&tmp);
    if (!config_read_string(&tmp, text)) { /* not a libconfig value: a bare string */
        config_destroy(&tmp);
        config_init(&tmp);
        config_setting_t *v = config_setting_add(config_root_setting(&tmp), "v",
                                                 CONFIG_TYPE_STRING);
        config_setting_set_string(v, val);
    }
    const config_setting_t *src = config_lookup(&tmp, "v");

    /* walk down, making the groups the file lacks */
    config_setting_t *parent = config_root_setting(L->cfg);
    char path[128];
    snprintf(path, sizeof(path), "%s", key);
    char *part = path;
    for (char *dot = strchr(part, '.'); dot; part = dot + 1, dot = strchr(part, '.')) {
        *dot = '\0';
        config_setting_t *g = config_setting_get_member(parent, part);
        if (g && !config_setting_is_group(g)) {
            /* "cluster.gpu = \"H800-SXM\"" plus --set cluster.gpu.hbm=...: the name
             * becomes the group's preset */
            char preset_key[160];
            snprintf(preset_key, sizeof(preset_key), "%.*s.preset", (int)(dot - path), path);
            if (config_setting_type(g) == CONFIG_TYPE_STRING && row_find(preset_key)) {
                char name[128];
                snprintf(name, sizeof(name), "%s", config_setting_get_string(g));
                config_setting_remove(parent, part);
                g = config_setting_add(parent, part, CONFIG_TYPE_GROUP);
                config_setting_set_string(config_setting_add(g, "preset", CONFIG_TYPE_STRING),
                                          name);
            } else {
                *dot = '.';
                config_destroy(&tmp);
                return err_set(e, ERR_INPUT, "--set", 0, key,
                               "%.*s is not a group in the scenario; allowed: set "
                               "%.*s itself",
                               (int)(dot - path), path, (int)(dot - path), path);
            }
        }
        if (!g)
            g = config_setting_add(parent, part, CONFIG_TYPE_GROUP);
        parent = g;
        *dot = '.';
    }
    /* replace rather than edit: the new setting has line 0, which is how errors
     * about it know to say "--set" */
    if (config_setting_get_member(parent, part))
        config_setting_remove(parent, part);
    copy_setting(parent, part, src);
    config_destroy(&tmp);
    return 0;
}

/* ---- unknown keys ---- */

/* Every setting of the tree must be a key or a group of the schema. */
static int walk(loader *L, const config_setting_t *g, const char *prefix, err_t *e)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        char path[256];
        if (prefix)
            snprintf(path, sizeof(path), "%s.%s", prefix, config_setting_name(c));
        else
            snprintf(path, sizeof(path), "%s", config_setting_name(c));
        const key_row *r = row_find(path);
        int group = config_setting_is_group(c);
        /* lists are values (logits), never walked into: their rows have no names */
        if (r) {
            if (group && r->type == KT_GPU && walk(L, c, path, e) < 0)
                return -1;
            continue; /* a key: its type is checked with its row */
        }
        if (!is_group_path(path))
            return unknown_key(L, c, path, e);
        if (!group) {
            char what[256], list[600];
            scenario_describe(c, what, sizeof(what));
            child_keys(path, list, sizeof(list));
            return scenario_fail(L, c, path, e,
                                 "%s is not a group; allowed: a group of the keys %s", what, list);
        }
        if (walk(L, c, path, e) < 0)
            return -1;
    }
    return 0;
}

/* ---- one row: read, default, bounds, store, check ---- */

/* The integer the file wrote at st: libconfig's value, or the true one of
 * a literal it wrapped (lex.c); one beyond 64 bits is refused. */
int scenario_int_of(const loader *L, const key_row *r, const config_setting_t *st, int64_t *v,
                    err_t *e)
{
    *v = config_setting_get_int64(st);
    const char *file = config_setting_source_file(st);
    const char *name = config_setting_name(st);
    int line = (int)config_setting_source_line(st);
    const scenario_wide *w =
        L->lex && line > 0 ? scenario_lex_find(L->lex, file, line, name) : NULL;
    if (!w)
        return 0;
    if (!w->too_big) {
        *v = w->value;
        return 0;
    }
    char ok[512];
    if (r)
        scenario_allowed(L, r, ok, sizeof(ok));
    else
        snprintf(ok, sizeof(ok), "a number that fits 64 bits");
    return scenario_fail(L, st, r ? r->path : name, e,
                         "%s is beyond 2^63 - 1, the largest integer a scenario holds; "
                         "allowed: %s", w->text, ok);
}

/* The offset of the first byte of s that is not well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF), or -1. Every
 * string reaches the JSON report or a message, which must stay UTF-8. */
static long utf8_bad(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    for (long i = 0; s[i];) {
        unsigned c = s[i];
        int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                         : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (n < 0 || (n == 1 && c < 0xC2) || (n == 3 && c > 0xF4))
            return i;
        unsigned cp = n ? c & (0x3Fu >> n) : c;
        for (int k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3Fu);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += n + 1;
    }
    return -1;
}

/* Reads the setting st as row r wants it. */
static int read_value(const loader *L, const key_row *r, const config_setting_t *st,
                      value *v, err_t *e)
{
    int t = config_setting_type(st);
    int is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    v->st = st;
    long bad = t == CONFIG_TYPE_STRING ? utf8_bad(config_setting_get_string(st)) : -1;
    if (bad >= 0)
        return scenario_fail(L, st, r->path, e,
                             "the text is not UTF-8 (byte 0x%02x at offset %ld); allowed: "
                             "UTF-8 text",
                             (unsigned char)config_setting_get_string(st)[bad], bad);
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
        if (!is_int)
            return type_error(L, r, st, "an integer", e);
        return scenario_int_of(L, r, st, &v->i, e);
    case KT_FLOAT:
        if (is_int) { /* "capacity_factor = 2" means 2.0: auto-convert is off, so do it here */
            int64_t i;
            if (scenario_int_of(L, r, st, &i, e) < 0)
                return -1;
            v->d = (double)i;
        } else if (t == CONFIG_TYPE_FLOAT)
            v->d = config_setting_get_float(st);
        else
            return type_error(L, r, st, "a number", e);
        return 0;
    case KT_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return type_error(L, r, st, "a boolean", e);
        v->i = config_setting_get_bool(st);
        return 0;
    case KT_STRING:
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, "a string", e);
        v->s = config_setting_get_string(st);
        return 0;
    case KT_GPU:
        if (t == CONFIG_TYPE_STRING)
            v->s = config_setting_get_string(st);
        else if (t != CONFIG_TYPE_GROUP)
            return type_error(L, r, st, "a GPU", e);
        return 0;
    case KT_LIST:
        if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
            return type_error(L, r, st, "a list", e);
        return 0;
    case KT_ENUM: {
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, "a string", e);
        const char *s = config_setting_get_string(st);
        int code;
        for (int i = 0; enum_at(r, i, &code); i++) {
            if (strcmp(s, enum_at(r, i, &code)) == 0) {
                v->i = code;
                v->s = enum_at(r, i, &code);
                return 0;
            }
        }
        /* a value of a later version is told apart from a typo: the user may be
         * reading DESIGN.md, and should learn it is planned, not misspelled */
        char ok[512];
        scenario_allowed(L, r, ok, sizeof(ok));
        for (int i = 0; r->na && r->na[i]; i++)
            if (strcmp(s, r->na[i]) == 0)
                return scenario_fail(L, st, r->path, e,
                                     "\"%.200s\" is not available in this version; allowed: %s", s,
                                     ok);
        return scenario_fail(L, st, r->path, e, "\"%.200s\" is not a known value; allowed: %s", s,
                             ok);
    }
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS: {
        /* a bare number is refused: 50e9 could be bytes or bits per second */
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, unit_noun(r->type), e);
        const char *s = config_setting_get_string(st);
        char why[512]; /* the parser's reason; the message shows examples instead */
        int rc;
        if (r->type == KT_BANDWIDTH)
            rc = units_parse_bandwidth(s, &v->d, why, sizeof(why));
        else if (r->type == KT_SIZE)
            rc = units_parse_size(s, &v->d, why, sizeof(why));
        else if (r->type == KT_FLOPS)
            rc = units_parse_flops(s, &v->d, why, sizeof(why));
        else {
            sim_time_t ps = 0;
            rc = units_parse_time(s, &ps, why, sizeof(why));
            v->i = ps;
            v->d = (double)ps;
        }
        if (rc < 0)
            return type_error(L, r, st, unit_noun(r->type), e);
        return 0;
    }
    }
    return 0;
}

/* Bounds of a given value (defaults are in bounds by construction). */
static int check_bounds(const loader *L, const key_row *r, const value *v, err_t *e)
{
    char ok[512], what[256];
    int bad = 0;
    switch (r->type) {
    case KT_INT:
    case KT_INT64: {
        int64_t hi = r->max_key ? scenario_key_int(L->s, r->max_key)
                     : (r->flags & F_NO_MAX) ? INT64_MAX
                                             : (int64_t)r->max;
        if (v->i >= (int64_t)r->min && v->i <= hi)
            return 0;
        scenario_allowed(L, r, ok, sizeof(ok));
        if (r->na_what && v->i > hi) /* tp = 2 is planned, not wrong */
            return scenario_fail(L, v->st, r->path, e,
                                 "%s not available in this version; allowed: %s", r->na_what, ok);
        if (r->max_key && v->i > hi) /* name the key that sets the bound */
            return scenario_fail(L, v->st, r->path, e, "%lld is larger than %s (%lld); allowed: %s",
                                 (long long)v->i, r->max_key, (long long)hi, ok);
        return scenario_fail(L, v->st, r->path, e, "%lld is out of range; allowed: %s",
                             (long long)v->i, ok);
    }
    case KT_FLOAT:
        bad = (r->flags & F_MIN_OPEN) ? !(v->d > r->min) : !(v->d >= r->min);
        bad |= !(r->flags & F_NO_MAX) && !(v->d <= r->max);
        if (!bad)
            return 0;
        if (config_setting_type(v->st) == CONFIG_TYPE_FLOAT)
            scenario_describe(v->st, what, sizeof(what));
        else /* an integer: as written, not as libconfig may have wrapped it */
            fmt_num(v->d, what, sizeof(what));
        scenario_allowed(L, r, ok, sizeof(ok));
        return scenario_fail(L, v->st, r->path, e, "%s is out of range; allowed: %s", what, ok);
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS: { /* the parser refuses negative numbers; some keys refuse zero */
        scenario_describe(v->st, what, sizeof(what));
        if ((r->flags & F_MIN_OPEN) && !(v->d > 0))
            return scenario_fail(L, v->st, r->path, e,
                                 "%s is zero; allowed: more than zero, such as %s", what,
                                 unit_examples(r->type));
        const unit_range *u = range_of(r->type);
        if ((v->d == 0 && !(r->flags & F_MIN_OPEN)) || (v->d >= u->lo && v->d <= u->hi))
            return 0;
        return scenario_fail(L, v->st, r->path, e, "%s is out of range; allowed: %s %s%s", what,
                             unit_noun(r->type), u->text,
                             (r->flags & F_MIN_OPEN) || u->lo == 0 ? "" : ", or 0");
    }
    default:
        return 0;
    }
}

/* Writes v into r's field of s. */
static int store(const loader *L, const key_row *r, const value *v, err_t *e)
{
    if (r->size == 0)
        return 0;
    char *p = (char *)L->s + r->off;
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
    case KT_ENUM:
    case KT_TIME:
        if (r->size == sizeof(int64_t)) {
            int64_t x = v->i;
            memcpy(p, &x, sizeof(x));
        } else {
            int x = (int)v->i; /* in bounds, so it fits */
            memcpy(p, &x, sizeof(x));
        }
        return 0;
    case KT_BOOL: {
        bool b = v->i != 0;
        memcpy(p, &b, sizeof(b));
        return 0;
    }
    case KT_FLOAT:
    case KT_BANDWIDTH:
    case KT_SIZE:
    case KT_FLOPS:
        memcpy(p, &v->d, sizeof(v->d));
        return 0;
    case KT_STRING:
    case KT_GPU:
        if (!v->s) /* a GPU group: its preset row has stored the name */
            return 0;
        if (strlen(v->s) >= r->size) {
            char ok[512];
            scenario_allowed(L, r, ok, sizeof(ok));
            return scenario_fail(L, v->st, r->path, e, "\"%.40s...\" is too long; allowed: %s",
                                 v->s, ok);
        }
        memcpy(p, v->s, strlen(v->s) + 1);
        return 0;
    case KT_LIST:
        return 0;
    }
    return 0;
}

/* Reads, checks and stores one row: what the tree gives, else the default. */
static int load_row(loader *L, const key_row *r, err_t *e)
{
    value v = {0};
    /* NULL also when a parent is a scalar ("cluster.gpu.hbm" under a preset
     * name): walk() has refused scalars where groups belong, except that one */
    const config_setting_t *st = config_lookup(L->cfg, r->path);
    int rc = 0;
    if (st) {
        if (read_value(L, r, st, &v, e) < 0 || check_bounds(L, r, &v, e) < 0)
            return -1;
        rc = store(L, r, &v, e);
    } else if (r->deflt) {
        r->deflt(L->s, r, &v);
        rc = store(L, r, &v, e);
    } else if (r->def) {
        /* the default is read as a file would read it, by the same code */
        config_t tmp;
        config_init(&tmp);
        char text[256];
        snprintf(text, sizeof(text), "v = %s;", r->def);
        const config_setting_t *d = config_read_string(&tmp, text) ? config_lookup(&tmp, "v")
                                                                   : NULL;
        assert(d != NULL); /* a default in the table that does not parse is a bug */
        rc = read_value(L, r, d, &v, e);
        v.st = NULL;
        if (rc == 0)
            rc = store(L, r, &v, e);
        if (rc == 0 && r->check)
            rc = r->check(L, r, &v, e);
        config_destroy(&tmp); /* v.s pointed into it: checked and copied by now */
        return rc;
    } else {
        char ok[512];
        scenario_allowed(L, r, ok, sizeof(ok));
        return scenario_fail(L, NULL, r->path, e, "missing; allowed: %s", ok);
    }
    if (rc == 0 && r->check)
        rc = r->check(L, r, &v, e);
    return rc;
}

/* ---- loading ---- */

/* What follows from the rows: the configs other modules take, whole. */
static void derive(scenario *s)
{
    int moe = 0;
    for (int l = 0; l < s->model.layers; l++)
        moe += scenario_is_moe_layer(s, l);
    s->moe_layers = moe;
    s->model.router.experts = s->model.experts;
    s->model.router.top_k = s->model.top_k;
    s->model.groups = s->model.router.groups; /* the router's, mirrored */
    s->model.topk_groups = s->model.router.topk_groups;
    s->workload.source.layers = moe;
    s->workload.source.experts = s->model.experts;
    s->workload.source.seq_len = s->workload.seq_len;
}

static int load(loader *L, const char *const *sets, int nsets, err_t *e)
{
    for (int i = 0; i < nsets; i++)
        if (scenario_apply_set(L, sets[i], e) < 0)
            return -1;
    if (scenario_apply_system(L, e) < 0)
        return -1;
    if (walk(L, config_root_setting(L->cfg), NULL, e) < 0)
        return -1;
    for (size_t i = 0; i < scenario_nkeys; i++) /* in table order: defaults read rows above */
        if (load_row(L, &scenario_keys[i], e) < 0)
            return -1;
    derive(L->s);
    if (scenario_check_memory(L, e) < 0)
        return -1;
    return scenario_check_products(L, e);
}

static int syntax_error(const config_t *cfg, const char *name, err_t *e)
{
    const char *file = config_error_file(cfg);
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
        return err_set(e, ERR_INPUT, name, 0, NULL, "cannot read the file; allowed: a "
                                                    "readable scenario file");
    return err_set(e, ERR_INPUT, file ? file : name, config_error_line(cfg), NULL, "%s",
                   config_error_text(cfg) ? config_error_text(cfg) : "syntax error");
}

/* Lexes, parses and loads: the text (file NULL) or the file `path`. */
static int load_from(const char *path, const char *text, const char *const *sets, int nsets,
                     scenario *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    err_clear(e);
    snprintf(out->file, sizeof(out->file), "%s", path);
    if (utf8_bad(path) >= 0) /* it goes into the reports as it is */
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "the scenario file's name is not UTF-8; allowed: a name in UTF-8");
    scenario_lex lex = {0};
    config_t cfg;
    config_init(&cfg);
    int rc = text ? scenario_lex_string(&lex, text, path, e)
                  : scenario_lex_file(&lex, path, path, 0, e);
    if (rc == 0 && !(text ? config_read_string(&cfg, text) : config_read_file(&cfg, path))) {
        rc = syntax_error(&cfg, path, e);
    } else if (rc == 0) {
        loader L = {out, &cfg, path, &lex};
        rc = load(&L, sets, nsets, e);
    }
    config_destroy(&cfg);
    scenario_lex_fini(&lex);
    return rc;
}

int scenario_load_file(const char *path, const char *const *sets, int nsets, scenario *out,
                       err_t *e)
{
    return load_from(path, NULL, sets, nsets, out, e);
}

int scenario_load_string(const char *text, const char *name, const char *const *sets,
                         int nsets, scenario *out, err_t *e)
{
    return load_from(name, text, sets, nsets, out, e);
}

void scenario_fini(scenario *s)
{
    if (!s)
        return;
    free((void *)s->workload.source.fixed_logits); /* allocated by check_logits */
    s->workload.source.fixed_logits = NULL;
    s->workload.source.fixed_rows = 0;
}

bool scenario_is_moe_layer(const scenario *s, int l)
{
    if (l < s->model.first_dense || l >= s->model.layers || s->model.moe_every < 1)
        return false;
    return (l - s->model.first_dense + 1) % s->model.moe_every == 0;
}

/* ---- the key reference ---- */

static const char *type_name(key_type t)
{
    switch (t) {
    case KT_INT:
    case KT_INT64: return "integer";
    case KT_FLOAT: return "number";
    case KT_BOOL: return "boolean";
    case KT_STRING: return "string";
    case KT_ENUM: return "one of";
    case KT_BANDWIDTH: return "bandwidth";
    case KT_TIME: return "time";
    case KT_SIZE: return "size";
    case KT_FLOPS: return "FLOP/s";
    case KT_LIST: return "list";
    case KT_GPU: return "preset or group";
    }
    return "?";
}

void scenario_write_keys_md(FILE *f)
{
    fprintf(f, "| key | type | default | allowed | meaning |\n");
    fprintf(f, "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < scenario_nkeys; i++) {
        const key_row *r = &scenario_keys[i];
        char ok[768];
        scenario_allowed(NULL, r, ok, sizeof(ok));
        if (r->na_what)
            snprintf(ok + strlen(ok), sizeof(ok) - strlen(ok), " (other values: later)");
        if (r->deflt)
            fprintf(f, "| `%s` | %s | %s | %s | %s |\n", r->path, type_name(r->type), r->def,
                    ok, r->help);
        else if (r->def)
            fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", r->path, type_name(r->type), r->def,
                    ok, r->help);
        else
            fprintf(f, "| `%s` | %s | required | %s | %s |\n", r->path, type_name(r->type), ok,
                    r->help);
    }
}

