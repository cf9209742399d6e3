/*
 * base.c - time conversions, error values, allocation wrappers, dtypes.
 *
 * Floor 0 of the layering: every module may use it, it uses nothing of moesim.
 * It lives beside the models because models must not depend on sim/.
 */
#include "moesim/base.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double sim_time_to_s(sim_time_t t)
{
    return (double)t * 1e-12;
}

sim_time_t sim_time_from_s(double s)
{
    if (!(s > 0)) /* negative, zero or NaN */
        return 0;
    double ps = s * 1e12;
    if (ps >= 9.2e18)
        return SIM_TIME_MAX;
    return (sim_time_t)llround(ps);
}

sim_time_t sim_time_for_bytes(double bytes, double bw_Bps)
{
    if (!(bytes > 0))
        return 0;
    double ps = bytes * 1e12 / bw_Bps;
    if (ps >= 9.2e18)
        return SIM_TIME_MAX;
    return (sim_time_t)llround(ps);
}

void err_clear(err_t *e)
{
    if (!e)
        return;
    e->code = ERR_OK;
    e->file[0] = '\0';
    e->line = 0;
    e->key[0] = '\0';
    e->msg[0] = '\0';
}

int err_set(err_t *e, err_code code, const char *file, int line, const char *key,
            const char *fmt, ...)
{
    if (!e)
        return -1;
    e->code = code;
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
    e->line = line;
    snprintf(e->key, sizeof(e->key), "%s", key ? key : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void err_format(const err_t *e, char *buf, size_t n)
{
    char where[300] = "";
    if (e->file[0] && e->line > 0)
        snprintf(where, sizeof(where), "%s:%d: ", e->file, e->line);
    else if (e->file[0])
        snprintf(where, sizeof(where), "%s: ", e->file);
    if (e->key[0])
        snprintf(buf, n, "%s%s: %s", where, e->key, e->msg);
    else
        snprintf(buf, n, "%s%s", where, e->msg);
}

void err_list_divisors(int n, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    for (int d = 1; d <= n && k + 16 < size; d++)
        if (n % d == 0)
            k += (size_t)snprintf(buf + k, size - k, "%s%d", k ? ", " : "", d);
}

static void out_of_memory(size_t bytes, const char *what)
{
    fprintf(stderr, "moesim: out of memory allocating %zu bytes for %s\n", bytes,
            what ? what : "?");
    exit(1);
}

void *xmalloc(size_t size, const char *what)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size, what);
    return p;
}

void *xcalloc(size_t n, size_t size, const char *what)
{
    if (size && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX, what);
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size, what);
    return p;
}

void *xrealloc(void *p, size_t n, size_t size, const char *what)
{
    if (size && n > SIZE_MAX / size)
        out_of_memory(SIZE_MAX, what);
    size_t bytes = n * size;
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q)
        out_of_memory(bytes, what);
    return q;
}

char *xstrdup(const char *s, const char *what)
{
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n, what);
    memcpy(p, s, n);
    return p;
}

const char *enum_name(const char *const *names, int count, int v)
{
    return (v >= 0 && v < count) ? names[v] : "?";
}

int enum_find(const char *const *names, int count, const char *s)
{
    for (int i = 0; s && i < count; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static const struct {
    const char *name;
    int bytes;
} dtypes[DTYPE_COUNT] = {
    [DTYPE_FP32] = {"fp32", 4},
    [DTYPE_BF16] = {"bf16", 2},
    [DTYPE_FP16] = {"fp16", 2},
    [DTYPE_FP8] = {"fp8", 1},
};

int dtype_bytes(dtype_t t)
{
    return (t >= 0 && t < DTYPE_COUNT) ? dtypes[t].bytes : 0;
}

const char *dtype_name(dtype_t t)
{
    return (t >= 0 && t < DTYPE_COUNT) ? dtypes[t].name : "?";
}

int dtype_parse(const char *s, dtype_t *out)
{
    for (int i = 0; s && i < DTYPE_COUNT; i++) {
        if (strcmp(s, dtypes[i].name) == 0) {
            *out = (dtype_t)i;
            return 0;
        }
    }
    return -1;
}

static int isa_forced = -1;

static int isa_runs(int isa)
{
#if MOESIM_X86
    switch (isa) {
    case ISA_BASE:
        return 1;
    case ISA_AVX2:
        return __builtin_cpu_supports("avx2");
    case ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    }
    return 0;
#else
    return isa == ISA_BASE;
#endif
}

isa_t isa_best(void)
{
    static int best = -1;
    if (isa_forced >= 0)
        return (isa_t)isa_forced;
    if (best < 0)
        best = isa_runs(ISA_AVX512) ? ISA_AVX512 : isa_runs(ISA_AVX2) ? ISA_AVX2 : ISA_BASE;
    return (isa_t)best;
}

int isa_force(int isa)
{
    if (isa >= 0 && !isa_runs(isa))
        return -1;
    isa_forced = isa;
    return 0;
}
