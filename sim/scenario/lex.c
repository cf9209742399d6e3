/*
 * lex.c - a first pass over a scenario's text, before libconfig reads it,
 * for what libconfig 1.5 gets wrong or cannot survive:
 *
 *   - an integer literal that does not fit its type is wrapped silently
 *     (4294967300 reads as 4, 2147483648 as -2147483648) or saturated
 *     (99999999999999999999L as 2^63 - 1): the pass records each such
 *     literal with its true value, which the loader uses instead;
 *   - @include of a directory makes the scanner call exit(), and a missing
 *     file is not named: targets are checked (exists, regular file, readable,
 *     at most SCENARIO_MAX_INCLUDE deep) before libconfig opens them;
 *   - groups and lists nested thousands deep end in bison's "memory
 *     exhausted": refused past SCENARIO_MAX_DEPTH with the line;
 *   - the scanner grows a string by a fixed block per piece, so loading time
 *     grows with the square of a string's length (a 50 MB name does not load
 *     in a minute): strings are refused past SCENARIO_MAX_STRING bytes, adjacent
 *     literals ("a" "b") counted together as libconfig joins them.
 *
 * The pass knows libconfig's lexical rules (comments #, // and / * * /, strings
 * with backslash escapes, names, numbers) and nothing of the grammar beyond
 * nesting; what it does not understand it leaves to libconfig.
 */
#include "loader.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "moesim/base.h"

typedef struct lexer {
    scenario_lex *x;
    const char *p, *end;
    const char *file; /* as libconfig will name it: NULL for a string */
    const char *shown; /* for messages */
    int line;
    int depth;        /* @include depth of this text */
    char name[64];    /* the last name followed by = or :, "" inside lists */
    int name_line;
    int nest;         /* groups and lists open */
    int after_assign; /* the previous token was = or : */
} lexer;

/* Skips blanks and comments, counting lines. */
static void skip_space(lexer *k)
{
    while (k->p < k->end) {
        char c = *k->p;
        if (c == '\n') {
            k->line++;
            k->p++;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
            k->p++;
        } else if (c == '#' || (c == '/' && k->p + 1 < k->end && k->p[1] == '/')) {
            while (k->p < k->end && *k->p != '\n')
                k->p++;
        } else if (c == '/' && k->p + 1 < k->end && k->p[1] == '*') {
            k->p += 2;
            while (k->p < k->end && !(*k->p == '*' && k->p + 1 < k->end && k->p[1] == '/'))
                k->line += *k->p++ == '\n';
            k->p = k->p < k->end ? k->p + 2 : k->end;
        } else {
            return;
        }
    }
}

/* One string literal from the opening quote; its length in bytes after
 * escapes (an upper bound: an escape counts one). Copies at most n - 1 bytes
 * into buf when buf is not NULL. */
static size_t string_literal(lexer *k, char *buf, size_t n)
{
    size_t len = 0;
    k->p++; /* the quote */
    while (k->p < k->end && *k->p != '"') {
        char c = *k->p;
        if (c == '\\' && k->p + 1 < k->end)
            c = *++k->p;
        k->line += c == '\n';
        if (buf && len + 1 < n)
            buf[len] = c;
        len++;
        k->p++;
    }
    if (buf && n)
        buf[len < n ? len : n - 1] = '\0';
    if (k->p < k->end)
        k->p++; /* the closing quote */
    return len;
}

static int lex_fail(const lexer *k, int line, const char *key, err_t *e, const char *what,
                    const char *allowed)
{
    return err_set(e, ERR_INPUT, k->shown, line, key && key[0] ? key : NULL,
                   "%s; allowed: %s", what, allowed);
}

/* Adjacent string literals, joined as libconfig joins them, bounded. */
static int lex_strings(lexer *k, err_t *e)
{
    int line = k->line;
    size_t total = 0;
    while (k->p < k->end && *k->p == '"') {
        total += string_literal(k, NULL, 0);
        skip_space(k);
    }
    if (total <= SCENARIO_MAX_STRING)
        return 0;
    char what[96], ok[96];
    snprintf(what, sizeof(what), "a string of %zu bytes", total);
    snprintf(ok, sizeof(ok), "at most %d bytes", SCENARIO_MAX_STRING);
    return lex_fail(k, line, k->name, e, what, ok);
}

/* The true value of an integer literal of libconfig's forms: decimal or
 * 0x hex, an optional sign, an optional L or LL. Returns 0 when it fits its
 * libconfig type (int without L, int64 with), 1 when libconfig would change
 * it (*v its true value), 2 when it does not fit 64 bits. -1: not an integer
 * (a float, say). */
static int int_literal(const char *s, size_t n, int64_t *v)
{
    char buf[80];
    if (n >= sizeof(buf)) { /* longer than any 64-bit integer: too big if digits */
        size_t body = n;
        while (body > 0 && s[body - 1] == 'L')
            body--;
        size_t sign = s[0] == '-' || s[0] == '+';
        return strspn(s + sign, "0123456789") == body - sign ? 2 : -1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    int wide = 0;
    while (n > 0 && buf[n - 1] == 'L') {
        buf[--n] = '\0';
        wide = 1;
    }
    const char *d = buf + (buf[0] == '-' || buf[0] == '+');
    int hex = d[0] == '0' && (d[1] == 'x' || d[1] == 'X');
    size_t digits = strspn(d + 2 * hex, hex ? "0123456789abcdefABCDEF" : "0123456789");
    if (digits == 0 || d[2 * hex + digits] != '\0')
        return -1;
    errno = 0;
    char *endp;
    if (hex) {
        unsigned long long u = strtoull(d, &endp, 16);
        if (errno == ERANGE || u > (unsigned long long)INT64_MAX)
            return 2;
        *v = buf[0] == '-' ? -(int64_t)u : (int64_t)u;
    } else {
        long long x = strtoll(buf, &endp, 10);
        if (errno == ERANGE)
            return 2;
        *v = x;
    }
    if (wide || (*v >= INT32_MIN && *v <= INT32_MAX))
        return 0;
    return 1;
}

/* A number: records an integer libconfig would read wrong. */
static void lex_number(lexer *k)
{
    const char *s = k->p;
    k->p++;
    while (k->p < k->end && (strchr("0123456789abcdefABCDEFxXL.", *k->p) ||
                             ((*k->p == '-' || *k->p == '+') &&
                              (k->p[-1] == 'e' || k->p[-1] == 'E'))))
        k->p++;
    int64_t v = 0;
    int rc = int_literal(s, (size_t)(k->p - s), &v);
    if (rc <= 0)
        return;
    scenario_lex *x = k->x;
    if (x->n == x->cap) {
        x->cap = x->cap ? 2 * x->cap : 8;
        x->wide = xrealloc(x->wide, (size_t)x->cap, sizeof(*x->wide), "scenario integers");
    }
    scenario_wide *w = &x->wide[x->n++];
    memset(w, 0, sizeof(*w));
    snprintf(w->file, sizeof(w->file), "%s", k->file ? k->file : "");
    w->line = k->line;
    w->name_line = k->after_assign ? k->name_line : k->line;
    snprintf(w->name, sizeof(w->name), "%s", k->after_assign ? k->name : "");
    snprintf(w->text, sizeof(w->text), "%.*s", (int)(k->p - s < 38 ? k->p - s : 38), s);
    w->value = v;
    w->too_big = rc == 2;
}

/* @include "path": the target must be a readable regular file, and the
 * includes at most SCENARIO_MAX_INCLUDE deep; then it is lexed in turn. */
static int lex_include(lexer *k, err_t *e)
{
    int line = k->line;
    k->p += strlen("@include");
    skip_space(k);
    if (k->p >= k->end || *k->p != '"')
        return 0; /* libconfig's syntax error says it */
    char path[1024], what[1200];
    size_t n = string_literal(k, path, sizeof(path));
    snprintf(what, sizeof(what), "@include \"%.1000s\"", path);
    if (n >= sizeof(path))
        return lex_fail(k, line, NULL, e, "@include of a path too long",
                        "a path of at most 1023 bytes");
    if (k->depth + 1 > SCENARIO_MAX_INCLUDE) {
        char ok[64];
        snprintf(ok, sizeof(ok), "at most %d levels of @include", SCENARIO_MAX_INCLUDE);
        snprintf(what + strlen(what), sizeof(what) - strlen(what), " nests too deep");
        return lex_fail(k, line, NULL, e, what, ok);
    }
    struct stat sb;
    const char *why = NULL;
    if (stat(path, &sb) != 0)
        why = errno == ENOENT ? "no such file" : strerror(errno);
    else if (S_ISDIR(sb.st_mode))
        why = "a directory";
    else if (!S_ISREG(sb.st_mode))
        why = "not a regular file";
    if (why) {
        snprintf(what + strlen(what), sizeof(what) - strlen(what), ": %s", why);
        return lex_fail(k, line, NULL, e, what,
                        "a regular file (a relative path is taken from the working directory)");
    }
    return scenario_lex_file(k->x, path, path, k->depth + 1, e);
}

static int lex_token(lexer *k, err_t *e)
{
    char c = *k->p;
    int assign = 0;
    if (c == '"') {
        if (lex_strings(k, e) < 0)
            return -1;
    } else if (c == '@' && (size_t)(k->end - k->p) >= 8 && strncmp(k->p, "@include", 8) == 0) {
        if (lex_include(k, e) < 0)
            return -1;
    } else if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.') {
        lex_number(k);
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '*') {
        const char *s = k->p;
        while (k->p < k->end && (strchr("-_*", *k->p) || (*k->p >= '0' && *k->p <= '9') ||
                                 (*k->p >= 'A' && *k->p <= 'Z') || (*k->p >= 'a' && *k->p <= 'z')))
            k->p++;
        snprintf(k->name, sizeof(k->name), "%.*s", (int)(k->p - s < 63 ? k->p - s : 63), s);
        k->name_line = k->line;
        return 0; /* keeps after_assign as it was: a name is not a value */
    } else {
        k->p++;
        assign = c == '=' || c == ':';
        if (c == '{' || c == '(' || c == '[') {
            if (++k->nest > SCENARIO_MAX_DEPTH) {
                char ok[64];
                snprintf(ok, sizeof(ok), "at most %d levels", SCENARIO_MAX_DEPTH);
                return lex_fail(k, k->line, NULL, e, "groups and lists nested too deep", ok);
            }
        } else if (c == '}' || c == ')' || c == ']') {
            k->nest -= k->nest > 0;
        }
    }
    k->after_assign = assign;
    return 0;
}

static int lex_text(scenario_lex *x, const char *text, size_t n, const char *file,
                    const char *shown, int depth, err_t *e)
{
    lexer k = {.x = x, .p = text, .end = text + n, .file = file, .shown = shown,
               .line = 1, .depth = depth};
    for (skip_space(&k); k.p < k.end; skip_space(&k))
        if (lex_token(&k, e) < 0)
            return -1;
    return 0;
}

int scenario_lex_string(scenario_lex *x, const char *text, const char *name, err_t *e)
{
    return lex_text(x, text, strlen(text), NULL, name, 0, e);
}

int scenario_lex_file(scenario_lex *x, const char *path, const char *shown, int depth,
                      err_t *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) /* libconfig reports it as it always has */
        return 0;
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap, "scenario text");
    for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2, 1, "scenario text");
    }
    fclose(f);
    int rc = lex_text(x, buf, n, path, shown, depth, e);
    free(buf);
    return rc;
}

const scenario_wide *scenario_lex_find(const scenario_lex *x, const char *file, int line,
                                       const char *name)
{
    for (int i = 0; i < x->n; i++) {
        const scenario_wide *w = &x->wide[i];
        if (strcmp(w->file, file ? file : "") == 0 && strcmp(w->name, name ? name : "") == 0 &&
            (w->line == line || w->name_line == line))
            return w;
    }
    return NULL;
}

void scenario_lex_fini(scenario_lex *x)
{
    free(x->wide);
    memset(x, 0, sizeof(*x));
}
