/*
 * base.h - the types and helpers every moesim module uses (floor 0).
 *
 * Simulated time is an integer count of picoseconds: exact, so equal times stay
 * equal and sums never drift; 2^63 ps is about 106 days. Seconds appear only at
 * the edges (parsing, reporting). Errors are values: a function that can fail
 * returns 0 or -1 and fills an err_t, and only main() prints and exits. The
 * allocation wrappers never return NULL: on exhaustion they print what they were
 * allocating and exit 1, so callers do not test for NULL.
 */
#ifndef MOESIM_BASE_H
#define MOESIM_BASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MOESIM_VERSION "0.1.0"

typedef int64_t sim_time_t; /* picoseconds */

#define SIM_TIME_MAX INT64_MAX

/* a + b saturating at INT64_MAX (INT64_MIN below): a time beyond the clock
 * (a "1 B/s" link, a latency of "9000000 s") or a padded min_capacity of
 * 2^63 - 1 stays "too large" through every sum, never wraps, and the caller
 * names the input that made it. */
static inline int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? (b < 0 ? INT64_MIN : INT64_MAX) : r;
}
#define SIM_PS(x) ((sim_time_t)(x))
#define SIM_NS(x) ((sim_time_t)(x) * INT64_C(1000))
#define SIM_US(x) ((sim_time_t)(x) * INT64_C(1000000))
#define SIM_MS(x) ((sim_time_t)(x) * INT64_C(1000000000))
#define SIM_S(x) ((sim_time_t)(x) * INT64_C(1000000000000))

/* Seconds from picoseconds (for reports). */
double sim_time_to_s(sim_time_t t);
/* Picoseconds from seconds, rounded to the nearest picosecond; saturates at
 * SIM_TIME_MAX; negative or NaN input gives 0. */
sim_time_t sim_time_from_s(double s);
/* Time to move `bytes` at `bw_Bps` bytes per second, rounded to the nearest
 * picosecond. bw_Bps must be > 0. */
sim_time_t sim_time_for_bytes(double bytes, double bw_Bps);

/* Error codes double as process exit statuses (main maps them in one place). */
typedef enum err_code {
    ERR_OK = 0,
    ERR_RUN = 1,   /* the run failed: I/O error, internal limit */
    ERR_INPUT = 2  /* bad input: scenario, command line, trace file */
} err_code;

typedef struct err {
    err_code code;
    char file[256]; /* input file the error is about, "" if none */
    int line;       /* 1-based line in file, 0 if unknown */
    char key[128];  /* scenario key path such as "model.top_k", "" if none */
    char msg[768];  /* what is wrong and what is allowed */
} err_t;

#define ERR_INIT {ERR_OK, "", 0, "", ""}

void err_clear(err_t *e);
/* Fills e (if not NULL) and returns -1, so callers can `return err_set(...)`.
 * file and key may be NULL. */
int err_set(err_t *e, err_code code, const char *file, int line, const char *key,
            const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* "file:line: key: msg" with the empty parts left out; writes at most n bytes. */
void err_format(const err_t *e, char *buf, size_t n);

/* Writes the divisors of n ("1, 2, 4, 8"), for the "allowed:" part of an
 * error; stops before overflowing buf (size bytes). */
void err_list_divisors(int n, char *buf, size_t size);

/* Allocation that never fails: prints "out of memory allocating N bytes for
 * <what>" on stderr and exits 1. xcalloc and xrealloc check n * size for
 * overflow. Free with free(). */
void *xmalloc(size_t size, const char *what);
void *xcalloc(size_t n, size_t size, const char *what);
void *xrealloc(void *p, size_t n, size_t size, const char *what);
char *xstrdup(const char *s, const char *what);

/* Name tables of enums. Each model keeps one static table per enum, names[v]
 * the word scenario files and reports write for value v (0 <= v < count), and
 * builds its X_name / X_parse on these two. enum_name returns "?" for a value
 * outside the table; enum_find the value whose name is s, or -1 (s NULL: -1).
 * Both borrow the table, which is static. */
const char *enum_name(const char *const *names, int count, int v);
int enum_find(const char *const *names, int count, const char *s);

/* Element types of tensors on the wire and in GEMMs. */
typedef enum dtype {
    DTYPE_FP32,
    DTYPE_BF16,
    DTYPE_FP16,
    DTYPE_FP8,
    DTYPE_COUNT
} dtype_t;

/* Bytes per element (FP8: 1). */
int dtype_bytes(dtype_t t);
/* "fp32", "bf16", "fp16", "fp8". */
const char *dtype_name(dtype_t t);
/* Parses a dtype name; returns -1 if unknown. */
int dtype_parse(const char *s, dtype_t *out);

/* MOESIM_X86: kernels built for several x86-64 instruction sets in one
 * binary (a target attribute per kernel, the choice made at run time with
 * __builtin_cpu_supports); GCC 6+ and clang 14+ have both. Elsewhere every
 * kernel is the portable build. Every path gives the same bits. */
#if defined(__x86_64__) && ((defined(__clang__) && __clang_major__ >= 14) ||              \
                            (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 6))
#define MOESIM_X86 1
#else
#define MOESIM_X86 0
#endif

/* The instruction sets the kernels are built for: the baseline, AVX2, and
 * AVX-512 (F and VL). */
typedef enum isa { ISA_BASE, ISA_AVX2, ISA_AVX512 } isa_t;

/* The widest set this CPU runs (ISA_BASE off x86-64), or the one forced. */
isa_t isa_best(void);

/* For tests and benchmarks: makes isa_best return `isa` (-1: back to the
 * CPU's own). Returns -1, changing nothing, if this CPU cannot run it. */
int isa_force(int isa);

#endif
