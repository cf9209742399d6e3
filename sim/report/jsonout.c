/*
 * jsonout.c - jansson trees written in moesim's number format and layout.
 *
 * jansson writes reals with one precision for the whole document (%.17g by
 * default: 0.1 becomes 0.10000000000000001). moesim wants the shortest text
 * that reads back to the same double, which depends on the value, so the
 * writer lets jansson write each one-line piece with 17 digits (exact) and
 * then rewrites every real token outside strings: strtod gives the double
 * back, jsonout_format_real its shortest spelling. Tokens inside strings are
 * never touched (the scan follows jansson's escapes), and integers (no '.',
 * no exponent) are copied as they are. The cost is one extra pass over the
 * text, small next to the run that made the figures.
 */
#include "moesim/jsonout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/base.h"

/* jansson returns NULL only when malloc failed (every input is checked or
 * made valid first): the house's out-of-memory exit, as xmalloc's. */
static json_t *need(json_t *v)
{
    if (!v) {
        fputs("out of memory building a JSON document\n", stderr);
        exit(ERR_RUN);
    }
    return v;
}

char *jsonout_format_real(double v, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    buf[0] = '\0';
    if (!isfinite(v))
        return buf;
    for (int digits = 15; digits <= 17; digits++) { /* 17 always reads back */
        snprintf(buf, n, "%.*g", digits, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* The length of the well-formed UTF-8 sequence at p (1-4), or 0 if the
 * byte at p does not start one (Unicode 15, table 3-7). */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    unsigned lo = 0x80, hi = 0xBF; /* the second byte's range */
    int len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing above U+10FFFF */
    } else
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (int i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF) /* a NUL ends the check here too */
            return 0;
    return len;
}

char *jsonout_utf8(const char *s)
{
    size_t n = strlen(s);
    char *out = xcalloc(n + 1, 3, "a UTF-8 string"); /* U+FFFD: 3 bytes per bad byte */
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        int len = utf8_len(p);
        if (len == 0) {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
            p++;
        } else {
            memcpy(out + k, p, (size_t)len);
            k += (size_t)len;
            p += len;
        }
    }
    out[k] = '\0';
    return out;
}

json_t *jsonout_real(double v)
{
    return need(isfinite(v) ? json_real(v) : json_null());
}

json_t *jsonout_int(int64_t v)
{
    return need(json_integer((json_int_t)v));
}

json_t *jsonout_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX)
        return jsonout_int((int64_t)v);
    char digits[24];
    snprintf(digits, sizeof(digits), "%llu", (unsigned long long)v);
    return need(json_string(digits));
}

json_t *jsonout_str(const char *s)
{
    if (!s)
        return need(json_null());
    char *ok = jsonout_utf8(s);
    json_t *v = need(json_string_nocheck(ok));
    free(ok);
    return v;
}

json_t *jsonout_object(void)
{
    return need(json_object());
}

json_t *jsonout_array(void)
{
    return need(json_array());
}

void jsonout_set(json_t *obj, const char *key, json_t *v)
{
    char *ok = jsonout_utf8(key);
    if (json_object_set_new_nocheck(obj, ok, v) < 0)
        need(NULL);
    free(ok);
}

void jsonout_push(json_t *arr, json_t *v)
{
    if (json_array_append_new(arr, v) < 0)
        need(NULL);
}

/* ---- writing ---- */

/* Copies jansson's text to f with every real token rewritten (see the file
 * head). */
static void put_rewritten(FILE *f, const char *s)
{
    while (*s) {
        if (*s == '"') { /* a string: copy it whole, escapes included */
            const char *e = s + 1;
            while (*e && *e != '"')
                e += e[0] == '\\' && e[1] ? 2 : 1;
            e += *e == '"';
            fwrite(s, 1, (size_t)(e - s), f);
            s = e;
        } else if (*s == '-' || (*s >= '0' && *s <= '9')) {
            size_t n = strspn(s, "-+0123456789.eE");
            if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)) {
                char buf[JSONOUT_REAL_MAX];
                fputs(jsonout_format_real(strtod(s, NULL), buf, sizeof(buf)), f);
            } else {
                fwrite(s, 1, n, f);
            }
            s += n;
        } else {
            fputc(*s++, f);
        }
    }
}

/* One value on one line. */
static void put_compact(FILE *f, const json_t *v)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (!text)
        need(NULL);
    put_rewritten(f, text);
    free(text);
}

static int listed(const char *path, const char *const *expand)
{
    for (; expand && *expand; expand++)
        if (strcmp(*expand, path) == 0)
            return 1;
    return 0;
}

/* path + suffix (".key" or "[]", no dot at the top) into buf; 0 if it does
 * not fit (then nothing below it is expanded). */
static int child_path(char *buf, size_t n, const char *path, const char *key)
{
    int w = strcmp(key, "[]") == 0 || !path[0] ? snprintf(buf, n, "%s%s", path, key)
                                               : snprintf(buf, n, "%s.%s", path, key);
    return w >= 0 && (size_t)w < n;
}

static void put_value(FILE *f, const json_t *v, const char *path, int indent,
                      const char *const *expand);

/* An expanded object or array: one member per line, indented. */
static void put_expanded(FILE *f, const json_t *v, const char *path, int indent,
                         const char *const *expand)
{
    char sub[256];
    if (json_is_object(v)) {
        const char *key;
        json_t *m;
        size_t i = 0;
        fputs("{\n", f);
        json_object_foreach((json_t *)v, key, m) {
            fprintf(f, "%s%*s", i++ ? ",\n" : "", indent + 2, "");
            json_t *k = jsonout_str(key);
            put_compact(f, k);
            json_decref(k);
            fputs(": ", f);
            put_value(f, m, child_path(sub, sizeof(sub), path, key) ? sub : NULL, indent + 2,
                      expand);
        }
        fprintf(f, "\n%*s}", indent, "");
        return;
    }
    int deep = child_path(sub, sizeof(sub), path, "[]");
    fputs("[\n", f);
    for (size_t i = 0; i < json_array_size(v); i++) {
        fprintf(f, "%s%*s", i ? ",\n" : "", indent + 2, "");
        put_value(f, json_array_get(v, i), deep ? sub : NULL, indent + 2, expand);
    }
    fprintf(f, "\n%*s]", indent, "");
}

static void put_value(FILE *f, const json_t *v, const char *path, int indent,
                      const char *const *expand)
{
    int container = (json_is_object(v) && json_object_size(v) > 0) ||
                    (json_is_array(v) && json_array_size(v) > 0);
    if (container && path && listed(path, expand))
        put_expanded(f, v, path, indent, expand);
    else
        put_compact(f, v);
}

int jsonout_write(FILE *f, const json_t *v, const char *const *expand)
{
    put_value(f, v, "", 0, expand);
    fputc('\n', f);
    return ferror(f) ? -1 : 0;
}
