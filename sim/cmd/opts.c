/*
 * opts.c - one option parser for every command, on getopt_long.
 *
 * The table of opts_spec rows becomes getopt_long's `struct option` array
 * and short-option string at each call; getopt's own messages are off
 * (opterr = 0, a leading ':') so every diagnostic is ours and goes back as
 * an err_t. getopt_long keeps its position in libc's globals (optind,
 * optarg): opts_parse resets them (optind = 0 asks glibc for a full
 * restart), so `moesim help run` can parse twice in one process.
 *
 * File checks resolve every path the way the kernel will: the directory
 * through realpath (symlinks and ".." gone) plus the base name, and, where
 * the file exists, its device and inode, which also catch hard links and a
 * symlink given as the output itself.
 */
#define _XOPEN_SOURCE 700 /* realpath (XSI) */
#include "moesim/opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LONG_VAL 256 /* getopt_long's val for row i is LONG_VAL + i */

/* The row of spec named `name`, or -1. */
static int opts_find(const opts_spec *spec, const char *name)
{
    for (int i = 0; spec[i].name; i++)
        if (strcmp(spec[i].name, name) == 0)
            return i;
    return -1;
}

int opts_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    n = n > 1000 ? 1000 : n;
    m = m > 1000 ? 1000 : m;
    int *row = xcalloc(m + 1, sizeof(*row), "edit distance");
    for (size_t j = 0; j <= m; j++)
        row[j] = (int)j;
    for (size_t i = 1; i <= n; i++) {
        int diag = row[0]; /* row[i-1][j-1] */
        row[0] = (int)i;
        for (size_t j = 1; j <= m; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[m];
    free(row);
    return d;
}

/* " did you mean --X?" for an unknown "--name[=value]" or "-x", or "". */
static void suggest(const opts_spec *spec, const char *arg, char *buf, size_t n)
{
    buf[0] = '\0';
    while (*arg == '-')
        arg++;
    char name[64];
    size_t len = strcspn(arg, "=");
    if (len == 0 || len >= sizeof(name))
        return;
    memcpy(name, arg, len);
    name[len] = '\0';
    int best = -1, bd = 0;
    for (int i = 0; spec[i].name; i++) {
        int d = opts_distance(name, spec[i].name);
        if (best < 0 || d < bd)
            best = i, bd = d;
    }
    /* close enough to be a slip of the keyboard, not another word */
    if (best >= 0 && (bd <= 2 || 3 * bd <= (int)len) && bd < (int)len)
        snprintf(buf, n, " (did you mean --%s?)", spec[best].name);
}

/* The row for getopt's answer c (a short letter or LONG_VAL + row); -1 for
 * -h/--help, -2 if unknown. */
static int row_of(const opts_spec *spec, int nspec, int c)
{
    if (c >= LONG_VAL && c < LONG_VAL + nspec)
        return c - LONG_VAL;
    if (c == LONG_VAL + nspec || c == 'h')
        return -1;
    for (int i = 0; i < nspec; i++)
        if (spec[i].short_name && spec[i].short_name == c)
            return i;
    return -2;
}

/* "--json" or "-b" for messages. */
static const char *spell(const opts_spec *s, char *buf, size_t n)
{
    snprintf(buf, n, "--%s", s->name);
    return buf;
}

/* getopt's '?' and ':' answers as messages. */
static int parse_error(const opts_spec *spec, int nspec, int c, const char *arg, err_t *e)
{
    char hint[96], name[80];
    int r = row_of(spec, nspec, optopt);
    if (c == ':') {
        if (r >= 0)
            return err_set(e, ERR_INPUT, NULL, 0, NULL, "%s needs %s",
                           optopt < LONG_VAL ? arg : spell(&spec[r], name, sizeof(name)),
                           spec[r].meta ? spec[r].meta : "a value");
        return err_set(e, ERR_INPUT, NULL, 0, NULL, "%s needs a value", arg);
    }
    if (optopt >= LONG_VAL && r >= 0) /* --quiet=1 */
        return err_set(e, ERR_INPUT, NULL, 0, NULL, "%s takes no value", spell(&spec[r], name,
                                                                                sizeof(name)));
    if (optopt > 0 && optopt < LONG_VAL)
        snprintf(name, sizeof(name), "-%c", optopt);
    else
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
    suggest(spec, name, hint, sizeof(hint));
    return err_set(e, ERR_INPUT, NULL, 0, NULL, "unknown option %.60s%s", name, hint);
}

/* Appends one option; an output that looks like an option is refused. */
static int add_item(const opts_spec *spec, int r, const char *value, opts *o, int argc, err_t *e)
{
    if (spec[r].arg == OPTS_OUTPUT && value[0] == '-' && value[1] != '\0')
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "--%s %.200s: that is an option, not %s (to name such a file, write "
                       "./%.200s)",
                       spec[r].name, value, spec[r].meta ? spec[r].meta : "a file name", value);
    if (spec[r].arg != OPTS_FLAG && value[0] == '\0')
        return err_set(e, ERR_INPUT, NULL, 0, NULL, "--%s needs %s", spec[r].name,
                       spec[r].meta ? spec[r].meta : "a value");
    if (!o->item)
        o->item = xcalloc((size_t)argc, sizeof(*o->item), "options");
    o->item[o->nitem++] = (opts_item){r, spec[r].arg == OPTS_FLAG ? NULL : value};
    return 0;
}

/* getopt_long takes any unambiguous prefix (--js for --json); moesim does
 * not, so that a new option never changes what an old command line means.
 * Walks the arguments as getopt will, skipping the values of options. */
static int exact_names(const opts_spec *spec, int nspec, int argc, char **argv, err_t *e)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return 0;
        if (a[0] != '-' || a[1] == '\0')
            continue;
        if (a[1] != '-') { /* -b 8 or -b8: the value is the next word only in the first */
            int r = row_of(spec, nspec, (unsigned char)a[1]);
            i += r >= 0 && spec[r].arg != OPTS_FLAG && a[2] == '\0';
            continue;
        }
        char name[64];
        size_t len = strcspn(a + 2, "=");
        snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : 0), a + 2);
        int r = opts_find(spec, name);
        if (r < 0 && strcmp(name, "help") != 0) {
            char hint[96];
            suggest(spec, a, hint, sizeof(hint));
            return err_set(e, ERR_INPUT, NULL, 0, NULL, "unknown option --%.60s%s",
                           len < sizeof(name) ? name : "(too long)", hint);
        }
        i += r >= 0 && spec[r].arg != OPTS_FLAG && a[2 + len] == '\0';
    }
    return 0;
}

int opts_parse(const opts_spec *spec, int argc, char **argv, opts *o, err_t *e)
{
    int nspec = 0;
    while (spec[nspec].name)
        nspec++;
    struct option *lo = xcalloc((size_t)nspec + 2, sizeof(*lo), "option table");
    char *shorts = xcalloc(2 * (size_t)nspec + 4, 1, "option letters");
    size_t k = 0;
    shorts[k++] = ':';
    shorts[k++] = 'h';
    for (int i = 0; i < nspec; i++) {
        lo[i] = (struct option){spec[i].name, spec[i].arg == OPTS_FLAG ? no_argument
                                                                      : required_argument,
                                NULL, LONG_VAL + i};
        if (spec[i].short_name) {
            shorts[k++] = spec[i].short_name;
            if (spec[i].arg != OPTS_FLAG)
                shorts[k++] = ':';
        }
    }
    lo[nspec] = (struct option){"help", no_argument, NULL, LONG_VAL + nspec};
    *o = (opts)OPTS_INIT;
    o->pos = xcalloc((size_t)argc + 1, sizeof(*o->pos), "operands");
    opterr = 0;
    optind = 0;
    int rc = exact_names(spec, nspec, argc, argv, e), c;
    while (rc == 0 && (c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        int r = c == '?' || c == ':' ? -2 : row_of(spec, nspec, c);
        if (r == -1)
            o->help = 1;
        else if (r >= 0)
            rc = add_item(spec, r, optarg ? optarg : "", o, argc, e);
        else
            rc = parse_error(spec, nspec, c, argv[optind - 1 < argc ? optind - 1 : argc - 1],
                             e);
    }
    for (int i = optind; rc == 0 && i < argc; i++)
        o->pos[o->npos++] = argv[i];
    free(lo);
    free(shorts);
    return rc;
}

void opts_fini(opts *o)
{
    free(o->item);
    free(o->pos);
    *o = (opts)OPTS_INIT;
}

int opts_parse_u64(const char *s, uint64_t *out)
{
    const char *p = s;
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9') /* strtoull would take "-1" as 2^64 - 1 */
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(p, &end, 10);
    if (*end || errno == ERANGE || v > UINT64_MAX)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

/* ---- files ---- */

/* What a path will be once written: the resolved directory and base name
 * (owned, in *canon) and, where it exists, its identity. */
typedef struct resolved {
    char *canon;
    int exists, chardev;
    dev_t dev;
    ino_t ino;
} resolved;

/* The directory part of path ("." when none), owned. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".", "directory name");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = xmalloc(n + 1, "directory name");
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

/* Resolves f's path (an output's directory must exist and be writable; an
 * output directory's parent, unless it exists itself). */
static int resolve(const opts_file *f, const char *path, resolved *r, err_t *e)
{
    struct stat st;
    memset(r, 0, sizeof(*r));
    if (stat(path, &st) == 0) {
        r->exists = 1;
        r->chardev = S_ISCHR(st.st_mode);
        r->dev = st.st_dev;
        r->ino = st.st_ino;
        if (f->output && !f->inside && S_ISDIR(st.st_mode))
            return err_set(e, ERR_INPUT, path, 0, NULL, "%s: is a directory; expected a file",
                           f->opt);
        if (f->output && f->inside && !S_ISDIR(st.st_mode))
            return err_set(e, ERR_INPUT, path, 0, NULL,
                           "%s: exists and is not a directory", f->opt);
    }
    char *dir = r->exists && f->inside ? xstrdup(path, "directory name") : dir_of(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *real = realpath(dir, NULL);
    int saved = errno;
    int unwritable = f->output && real && !r->chardev && access(real, W_OK | X_OK) != 0;
    if (unwritable)
        saved = errno;
    free(dir);
    if (!real || unwritable) {
        free(real);
        if (!f->output)
            return 0; /* an input the loader will name when it cannot read it */
        return err_set(e, ERR_INPUT, path, 0, NULL, "%s: cannot write %s: %s", f->opt,
                       f->inside && !r->exists ? "the directory here" : "here",
                       strerror(saved));
    }
    size_t n = strlen(real) + strlen(base) + 2;
    r->canon = xmalloc(n, "resolved path");
    if (r->exists && f->inside)
        snprintf(r->canon, n, "%s", real);
    else
        snprintf(r->canon, n, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    free(real);
    return 0;
}

static int same(const resolved *a, const resolved *b)
{
    if (a->exists && b->exists && a->dev == b->dev && a->ino == b->ino)
        return !(a->chardev && b->chardev); /* /dev/null twice is fine */
    return a->canon && b->canon && strcmp(a->canon, b->canon) == 0;
}

/* Is output a (already resolved) one of directory output d's files? */
static int inside(const opts_file *d, const resolved *dr, const resolved *a)
{
    if (!a->canon || !dr->canon)
        return 0;
    for (int i = 0; d->inside[i]; i++) {
        size_t n = strlen(dr->canon) + strlen(d->inside[i]) + 2;
        char *p = xmalloc(n, "resolved path");
        snprintf(p, n, "%s/%s", dr->canon, d->inside[i]);
        int hit = strcmp(p, a->canon) == 0;
        free(p);
        if (hit)
            return 1;
    }
    return 0;
}

/* a and b name one file (path: the one to show). */
static int clash(const opts_file *a, const opts_file *b, const char *path, err_t *e)
{
    if (a->output && b->output)
        return err_set(e, ERR_INPUT, path, 0, NULL,
                       "%s and %s name the same file; allowed: a file of its own for each "
                       "output", a->opt, b->opt);
    const opts_file *in = a->output ? b : a, *out = a->output ? a : b;
    return err_set(e, ERR_INPUT, path, 0, NULL,
                   "%s names %s, which this command reads; allowed: a file it does not "
                   "read", out->opt, in->opt);
}

int opts_check_files(const opts_file *f, int n, err_t *e)
{
    resolved *r = xcalloc((size_t)n + 1, sizeof(*r), "resolved paths");
    int rc = 0, stdout_by = -1;
    for (int i = 0; i < n && rc == 0; i++) {
        if (!f[i].path)
            continue;
        if (strcmp(f[i].path, "-") == 0) {
            if (f[i].output && stdout_by >= 0)
                rc = err_set(e, ERR_INPUT, NULL, 0, NULL,
                             "%s - and %s -: only one output can go to stdout",
                             f[stdout_by].opt, f[i].opt);
            stdout_by = f[i].output ? i : stdout_by;
            continue;
        }
        rc = resolve(&f[i], f[i].path, &r[i], e);
        for (int j = 0; j < i && rc == 0; j++) {
            if (!r[j].canon || !r[i].canon || (!f[i].output && !f[j].output))
                continue;
            if (same(&r[i], &r[j]))
                rc = clash(&f[j], &f[i], f[i].path, e);
            else if (f[i].inside && inside(&f[i], &r[i], &r[j]))
                rc = clash(&f[j], &f[i], f[j].path, e);
            else if (f[j].inside && inside(&f[j], &r[j], &r[i]))
                rc = clash(&f[j], &f[i], f[i].path, e);
        }
    }
    for (int i = 0; i < n; i++)
        free(r[i].canon);
    free(r);
    return rc;
}
