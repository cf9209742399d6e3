/*
 * fmath.c - exp, eight lanes at a time, the same bits on every path.
 *
 * Method (Cody and Waite's argument reduction, W. J. Cody and W. Waite,
 * "Software Manual for the Elementary Functions", 1980; the split of ln 2 is
 * the one fdlibm publishes):
 *
 *   k = round(x / ln 2), by adding 1.5 * 2^52 (the addition rounds to an
 *       integer, which then sits in the low bits of the sum);
 *   r = (x - k ln2_hi) - k ln2_lo, |r| <= ln 2 / 2 + a little; ln2_hi has 32
 *       significant bits, so k ln2_hi is exact for |k| < 2^21 and the first
 *       subtraction is exact;
 *   exp(r) = 1 + r + r^2/2! + ... + r^13/13! by Horner's rule; the first
 *       omitted term, r^14 / 14!, is below 5e-18 of the result: less than
 *       1/20 ulp;
 *   exp(x) = exp(r) 2^k1 2^k2, k1 = floor(k / 2), k2 = k - k1: two exact
 *       powers of two built in the exponent field, so that k up to 1024
 *       (overflow to +inf) and down to -1076 (the subnormals, rounded once by
 *       the last product) need no branch.
 *
 * x is first clamped to [-746, 710], beyond which the result is 0 or +inf
 * anyway; NaN fails both comparisons and stays NaN through the arithmetic.
 *
 * The lanes are GCC/clang vector extensions: the compiler emits AVX-512,
 * AVX2 or SSE2 instructions (or scalar code elsewhere) for the same IEEE
 * operations. The kernels are one inline body each, built three times on
 * x86-64 (base.h: MOESIM_X86) and picked at run time.
 */
#include "moesim/fmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "moesim/base.h"

#if MOESIM_X86
#include <immintrin.h>
#endif

typedef double fm_v8 __attribute__((vector_size(64)));
typedef int64_t fm_i8 __attribute__((vector_size(64)));
typedef uint64_t fm_u8 __attribute__((vector_size(64)));

#define SPLAT(T, x) ((T){(x), (x), (x), (x), (x), (x), (x), (x)})

#define FM_SHIFT 0x1.8p52            /* 1.5 * 2^52: rounds to an integer */
#define FM_INV_LN2 0x1.71547652b82fep+0 /* 1 / ln 2 */
#define FM_LN2_HI 0x1.62e42feep-1     /* ln 2, its first 32 bits */
#define FM_LN2_LO 0x1.a39ef35793c76p-33 /* ln 2 - FM_LN2_HI */
#define FM_X_MAX 710.0                /* exp(710) > DBL_MAX */
#define FM_X_MIN -746.0               /* exp(-746) < 2^-1075: rounds to 0 */

/* 1/n!, n = 2..13, each the double nearest to it. */
#define FM_C2 0x1p-1
#define FM_C3 0x1.5555555555555p-3
#define FM_C4 0x1.5555555555555p-5
#define FM_C5 0x1.1111111111111p-7
#define FM_C6 0x1.6c16c16c16c17p-10
#define FM_C7 0x1.a01a01a01a01ap-13
#define FM_C8 0x1.a01a01a01a01ap-16
#define FM_C9 0x1.71de3a556c734p-19
#define FM_C10 0x1.27e4fb7789f5cp-22
#define FM_C11 0x1.ae64567f544e4p-26
#define FM_C12 0x1.1eed8eff8d898p-29
#define FM_C13 0x1.6124613a86d09p-33

/* Horner step p = p r + c, two statements so no compiler fuses them. */
#define FM_STEP(p, r, c)                                                                   \
    do {                                                                                   \
        p = p * r;                                                                         \
        p = p + SPLAT(fm_v8, c);                                                           \
    } while (0)

/* y = exp(x) on eight lanes (fm_v8 variables; x is modified). A macro, not
 * a function: vectors never cross a call (their calling convention differs
 * between the instruction sets). */
#define FM_EXP8(y, x)                                                                      \
    do {                                                                                   \
        fm_i8 hi_ = (x) > SPLAT(fm_v8, FM_X_MAX), lo_ = (x) < SPLAT(fm_v8, FM_X_MIN);       \
        x = (fm_v8)(((fm_i8)(x) & ~hi_) | ((fm_i8)SPLAT(fm_v8, FM_X_MAX) & hi_));           \
        x = (fm_v8)(((fm_i8)(x) & ~lo_) | ((fm_i8)SPLAT(fm_v8, FM_X_MIN) & lo_));           \
        fm_v8 kd_ = (x) * SPLAT(fm_v8, FM_INV_LN2);                                        \
        kd_ = kd_ + SPLAT(fm_v8, FM_SHIFT);                                                \
        const fm_u8 kb_ = (fm_u8)kd_; /* 0x4338... + k: k in the low bits */               \
        kd_ = kd_ - SPLAT(fm_v8, FM_SHIFT);                                                \
        fm_v8 t_ = kd_ * SPLAT(fm_v8, FM_LN2_HI);                                          \
        fm_v8 r_ = (x) - t_;                                                               \
        t_ = kd_ * SPLAT(fm_v8, FM_LN2_LO);                                                \
        r_ = r_ - t_;                                                                      \
        fm_v8 p_ = SPLAT(fm_v8, FM_C13);                                                   \
        FM_STEP(p_, r_, FM_C12);                                                           \
        FM_STEP(p_, r_, FM_C11);                                                           \
        FM_STEP(p_, r_, FM_C10);                                                           \
        FM_STEP(p_, r_, FM_C9);                                                            \
        FM_STEP(p_, r_, FM_C8);                                                            \
        FM_STEP(p_, r_, FM_C7);                                                            \
        FM_STEP(p_, r_, FM_C6);                                                            \
        FM_STEP(p_, r_, FM_C5);                                                            \
        FM_STEP(p_, r_, FM_C4);                                                            \
        FM_STEP(p_, r_, FM_C3);                                                            \
        FM_STEP(p_, r_, FM_C2);                                                            \
        t_ = r_ * r_;                                                                      \
        p_ = p_ * t_;       /* r^2 (1/2 + r/6 + ...) */                                    \
        p_ = p_ + r_;                                                                      \
        p_ = p_ + SPLAT(fm_v8, 1.0);                                                       \
        /* k + 2048 >= 0 for |x| <= 746: shifts of non-negative values */                 \
        const fm_u8 kp_ = kb_ - SPLAT(fm_u8, UINT64_C(0x4338000000000000) - 2048);         \
        const fm_u8 k1_ = (kp_ >> 1) - SPLAT(fm_u8, 1024); /* floor(k / 2), biased */      \
        const fm_u8 k2_ = kp_ - SPLAT(fm_u8, 2048) - k1_;                                  \
        const fm_v8 s1_ = (fm_v8)((k1_ + SPLAT(fm_u8, 1023)) << 52);                       \
        const fm_v8 s2_ = (fm_v8)((k2_ + SPLAT(fm_u8, 1023)) << 52);                       \
        y = p_ * s1_;                                                                      \
        y = y * s2_;                                                                       \
    } while (0)

#define FM_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define FM_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)) */
#define FM_LANES_SUM(a)                                                                    \
    ((((a)[0] + (a)[4]) + ((a)[2] + (a)[6])) + (((a)[1] + (a)[5]) + ((a)[3] + (a)[7])))

/* The bodies: whole eights in place, the rest through a padded eight whose
 * extra lanes give 0 (exp(-inf) = 0), so that every entry goes through the
 * same lanes whatever n is. */
__attribute__((always_inline)) static inline double exp_shifted_body(const double *x,
                                                                     double shift, double *y,
                                                                     size_t n)
{
    fm_v8 acc = SPLAT(fm_v8, 0.0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fm_v8 v, e;
        FM_LOAD(v, x + i);
        v = v - SPLAT(fm_v8, shift);
        FM_EXP8(e, v);
        FM_STORE(y + i, e);
        acc = acc + e;
    }
    if (i < n) {
        double pad[8];
        for (size_t j = 0; j < 8; j++)
            pad[j] = i + j < n ? x[i + j] : -INFINITY;
        fm_v8 v, e;
        FM_LOAD(v, pad);
        v = v - SPLAT(fm_v8, shift);
        FM_EXP8(e, v);
        acc = acc + e;
        FM_STORE(pad, e);
        memcpy(y + i, pad, (n - i) * sizeof(*y));
    }
    return FM_LANES_SUM(acc);
}

__attribute__((always_inline)) static inline void sigmoid_body(const double *x, double *y,
                                                               size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        double pad[8];
        const size_t m = n - i < 8 ? n - i : 8;
        fm_v8 v, e;
        if (m == 8) {
            FM_LOAD(v, x + i);
        } else {
            for (size_t j = 0; j < 8; j++)
                pad[j] = j < m ? x[i + j] : 0.0;
            FM_LOAD(v, pad);
        }
        v = -v;
        FM_EXP8(e, v);
        e = e + SPLAT(fm_v8, 1.0);
        e = SPLAT(fm_v8, 1.0) / e;
        if (m == 8) {
            FM_STORE(y + i, e);
        } else {
            FM_STORE(pad, e);
            memcpy(y + i, pad, m * sizeof(*y));
        }
    }
}

__attribute__((always_inline)) static inline double sum_body(const double *x, size_t n)
{
    fm_v8 acc = SPLAT(fm_v8, 0.0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fm_v8 v;
        FM_LOAD(v, x + i);
        acc = acc + v;
    }
    if (i < n) {
        double pad[8] = {0};
        memcpy(pad, x + i, (n - i) * sizeof(*x));
        fm_v8 v;
        FM_LOAD(v, pad);
        acc = acc + v;
    }
    return FM_LANES_SUM(acc);
}

/* The element-wise kernels: one IEEE operation per element and lane, so
 * the lanes give the scalar loop's bits. */
enum { MAP_ACC_DIV, MAP_ACC_MUL, MAP_ADD };

__attribute__((always_inline)) static inline void map_body(int op, double *y, const double *a,
                                                           const double *b, double c, size_t n)
{
    size_t i = 0;
    const fm_v8 cv = SPLAT(fm_v8, c);
    for (; i + 8 <= n; i += 8) {
        fm_v8 va, vy, t;
        FM_LOAD(va, a + i);
        switch (op) {
        case MAP_ACC_DIV:
            FM_LOAD(vy, y + i);
            t = va / cv;
            vy = vy + t;
            break;
        case MAP_ACC_MUL:
            FM_LOAD(vy, y + i);
            t = va * cv;
            vy = vy + t;
            break;
        default: /* MAP_ADD */
            FM_LOAD(t, b + i);
            vy = va + t;
            break;
        }
        FM_STORE(y + i, vy);
    }
    for (; i < n; i++) { /* the same operations, one at a time */
        double t;
        switch (op) {
        case MAP_ACC_DIV:
            t = a[i] / c;
            y[i] = y[i] + t;
            break;
        case MAP_ACC_MUL:
            t = a[i] * c;
            y[i] = y[i] + t;
            break;
        default:
            y[i] = a[i] + b[i];
            break;
        }
    }
}

/* Each body built for the baseline, and on x86-64 for AVX2 and AVX-512
 * too; the wide builds clear the upper register halves on the way out, so
 * that the caller's SSE code (libm, say) pays no transition. */
static double exp_shifted_base(const double *x, double shift, double *y, size_t n)
{
    return exp_shifted_body(x, shift, y, n);
}
static void sigmoid_base(const double *x, double *y, size_t n)
{
    sigmoid_body(x, y, n);
}
static double sum_base(const double *x, size_t n)
{
    return sum_body(x, n);
}
static void map_base(int op, double *y, const double *a, const double *b, double c, size_t n)
{
    map_body(op, y, a, b, c, n);
}

#if MOESIM_X86
#define FM_WIDE(name, isa)                                                                 \
    __attribute__((target(isa))) static double exp_shifted_##name(                         \
        const double *x, double shift, double *y, size_t n)                                \
    {                                                                                      \
        const double s = exp_shifted_body(x, shift, y, n);                                 \
        _mm256_zeroupper();                                                                \
        return s;                                                                          \
    }                                                                                      \
    __attribute__((target(isa))) static void sigmoid_##name(const double *x, double *y,    \
                                                            size_t n)                      \
    {                                                                                      \
        sigmoid_body(x, y, n);                                                             \
        _mm256_zeroupper();                                                                \
    }                                                                                      \
    __attribute__((target(isa))) static double sum_##name(const double *x, size_t n)       \
    {                                                                                      \
        const double s = sum_body(x, n);                                                   \
        _mm256_zeroupper();                                                                \
        return s;                                                                          \
    }                                                                                      \
    __attribute__((target(isa))) static void map_##name(int op, double *y, const double *a, \
                                                        const double *b, double c,          \
                                                        size_t n)                           \
    {                                                                                      \
        map_body(op, y, a, b, c, n);                                                       \
        _mm256_zeroupper();                                                                \
    }
FM_WIDE(avx2, "avx2")
FM_WIDE(avx512, "avx512f")
#endif

double fm_exp_shifted(const double *x, double shift, double *y, size_t n)
{
    switch (isa_best()) {
#if MOESIM_X86
    case ISA_AVX512:
        return exp_shifted_avx512(x, shift, y, n);
    case ISA_AVX2:
        return exp_shifted_avx2(x, shift, y, n);
#endif
    default:
        return exp_shifted_base(x, shift, y, n);
    }
}

void fm_sigmoid(const double *x, double *y, size_t n)
{
    switch (isa_best()) {
#if MOESIM_X86
    case ISA_AVX512:
        sigmoid_avx512(x, y, n);
        return;
    case ISA_AVX2:
        sigmoid_avx2(x, y, n);
        return;
#endif
    default:
        sigmoid_base(x, y, n);
        return;
    }
}

double fm_sum(const double *x, size_t n)
{
    switch (isa_best()) {
#if MOESIM_X86
    case ISA_AVX512:
        return sum_avx512(x, n);
    case ISA_AVX2:
        return sum_avx2(x, n);
#endif
    default:
        return sum_base(x, n);
    }
}

static void map(int op, double *y, const double *a, const double *b, double c, size_t n)
{
    switch (isa_best()) {
#if MOESIM_X86
    case ISA_AVX512:
        map_avx512(op, y, a, b, c, n);
        return;
    case ISA_AVX2:
        map_avx2(op, y, a, b, c, n);
        return;
#endif
    default:
        map_base(op, y, a, b, c, n);
        return;
    }
}

void fm_acc_div(double *acc, const double *x, double d, size_t n)
{
    map(MAP_ACC_DIV, acc, x, NULL, d, n);
}

void fm_acc_mul(double *acc, const double *x, double m, size_t n)
{
    map(MAP_ACC_MUL, acc, x, NULL, m, n);
}

void fm_add(double *y, const double *a, const double *b, size_t n)
{
    map(MAP_ADD, y, a, b, 0.0, n);
}

double fm_exp(double x)
{
    double y;
    fm_exp_shifted(&x, 0.0, &y, 1);
    return y;
}
