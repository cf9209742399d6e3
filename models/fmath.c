/*
 * fmath.c - exp, eight lanes at a time (or two fours), the same bits on every
 * path.
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
 * operations. Each kernel has two bodies, built on x86-64 (base.h:
 * MOESIM_X86) for the baseline, AVX2 and AVX-512 and picked at run time:
 *
 *   eight lanes (fm_v8), one AVX-512 register: the AVX-512 and baseline
 *       builds;
 *   four lanes (fm_v4), one AVX2 register: the AVX2 build. GCC lowers an
 *       eight-lane vector badly where a register holds four (it spilled
 *       every vector to the stack and compared lane by lane in scalar
 *       code: slower than libm), so here an eight is two halves, lanes 0-3
 *       and 4-7, and exp runs on four vectors at once, stage by stage. One
 *       exp is a chain of some 40 dependent operations (the Horner steps
 *       alone 22, 3 cycles each); one vector at a time the core waits on
 *       it, four at a time it keeps its pipelines busy. Measured on a Zen 3
 *       AMD EPYC, fm_sigmoid of 256 entries: 7.5 ns an entry with the
 *       eight-lane body, 3.1 ns with one four-lane vector at a time, 2.0 ns
 *       with four (libm's exp: 8.6 ns).
 *
 * Every lane sees the same operations in the same order at either width,
 * and sums keep the eight lanes' order (fmath.h: fm_sum): the same bits.
 */
#include "moesim/fmath.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "moesim/base.h"

#if MOESIM_X86
#include <immintrin.h>
#endif

/* The lane types: eight doubles and four (see the head). */
typedef double fm_v8 __attribute__((vector_size(64)));
typedef int64_t fm_i8 __attribute__((vector_size(64)));
typedef uint64_t fm_u8 __attribute__((vector_size(64)));
typedef double fm_v4 __attribute__((vector_size(32)));
typedef int64_t fm_i4 __attribute__((vector_size(32)));
typedef uint64_t fm_u4 __attribute__((vector_size(32)));

/* x in every lane. An initializer, not `{0} + x`, which would turn -0.0
 * into +0.0. */
#define SPLAT8(T, x) ((T){(x), (x), (x), (x), (x), (x), (x), (x)})
#define SPLAT4(T, x) ((T){(x), (x), (x), (x)})

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

/* exp in three stages on W = 8 or 4 lanes (fm_vW, fm_uW variables), so
 * that the four-lane build can interleave four of each. Macros, not
 * functions: vectors never cross a call (their calling convention differs
 * between the instruction sets).
 *
 * FM_REDUCE: clamps x (modified) to [FM_X_MIN, FM_X_MAX]; kb = the bits of
 * x / ln 2 + 1.5 * 2^52, k in its low bits; r = x - k ln 2. */
#define FM_REDUCE(W, x, kb, r)                                                             \
    do {                                                                                   \
        fm_i##W hi_ = (x) > SPLAT##W(fm_v##W, FM_X_MAX);                                   \
        fm_i##W lo_ = (x) < SPLAT##W(fm_v##W, FM_X_MIN);                                   \
        x = (fm_v##W)(((fm_i##W)(x) & ~hi_) | ((fm_i##W)SPLAT##W(fm_v##W, FM_X_MAX) & hi_)); \
        x = (fm_v##W)(((fm_i##W)(x) & ~lo_) | ((fm_i##W)SPLAT##W(fm_v##W, FM_X_MIN) & lo_)); \
        fm_v##W kd_ = (x) * SPLAT##W(fm_v##W, FM_INV_LN2);                                 \
        kd_ = kd_ + SPLAT##W(fm_v##W, FM_SHIFT);                                           \
        kb = (fm_u##W)kd_; /* 0x4338... + k: k in the low bits */                          \
        kd_ = kd_ - SPLAT##W(fm_v##W, FM_SHIFT);                                           \
        fm_v##W t_ = kd_ * SPLAT##W(fm_v##W, FM_LN2_HI);                                   \
        r = (x) - t_;                                                                      \
        t_ = kd_ * SPLAT##W(fm_v##W, FM_LN2_LO);                                           \
        r = r - t_;                                                                        \
    } while (0)

/* FM_STEP: the Horner step p = p r + c, two statements so no compiler
 * fuses them. */
#define FM_STEP(W, p, r, c)                                                                \
    do {                                                                                   \
        p = p * r;                                                                         \
        p = p + SPLAT##W(fm_v##W, c);                                                      \
    } while (0)

/* FM_SCALE: y = (1 + r + r^2 p) 2^k1 2^k2, p the Horner sum from 1/13!
 * down to 1/2!, k1 + k2 = k from kb. */
#define FM_SCALE(W, y, p, r, kb)                                                           \
    do {                                                                                   \
        const fm_v##W t_ = (r) * (r);                                                      \
        p = p * t_;       /* r^2 (1/2 + r/6 + ...) */                                      \
        p = p + (r);                                                                       \
        p = p + SPLAT##W(fm_v##W, 1.0);                                                    \
        /* k + 2048 >= 0 for |x| <= 746: shifts of non-negative values */                 \
        const fm_u##W kp_ = (kb) - SPLAT##W(fm_u##W, UINT64_C(0x4338000000000000) - 2048); \
        const fm_u##W k1_ = (kp_ >> 1) - SPLAT##W(fm_u##W, 1024); /* floor(k / 2) */      \
        const fm_u##W k2_ = kp_ - SPLAT##W(fm_u##W, 2048) - k1_;                           \
        const fm_v##W s1_ = (fm_v##W)((k1_ + SPLAT##W(fm_u##W, 1023)) << 52);              \
        const fm_v##W s2_ = (fm_v##W)((k2_ + SPLAT##W(fm_u##W, 1023)) << 52);              \
        y = p * s1_;                                                                       \
        y = y * s2_;                                                                       \
    } while (0)

/* y = exp(x) on eight lanes (fm_v8 variables; x is modified). The steps
 * written out, so that each coefficient is a constant operand. */
#define FM_EXP8(y, x)                                                                      \
    do {                                                                                   \
        fm_u8 kb_;                                                                         \
        fm_v8 r_, p_ = SPLAT8(fm_v8, FM_C13);                                              \
        FM_REDUCE(8, x, kb_, r_);                                                          \
        FM_STEP(8, p_, r_, FM_C12);                                                        \
        FM_STEP(8, p_, r_, FM_C11);                                                        \
        FM_STEP(8, p_, r_, FM_C10);                                                        \
        FM_STEP(8, p_, r_, FM_C9);                                                         \
        FM_STEP(8, p_, r_, FM_C8);                                                         \
        FM_STEP(8, p_, r_, FM_C7);                                                         \
        FM_STEP(8, p_, r_, FM_C6);                                                         \
        FM_STEP(8, p_, r_, FM_C5);                                                         \
        FM_STEP(8, p_, r_, FM_C4);                                                         \
        FM_STEP(8, p_, r_, FM_C3);                                                         \
        FM_STEP(8, p_, r_, FM_C2);                                                         \
        FM_SCALE(8, y, p_, r_, kb_);                                                       \
    } while (0)

/* a = exp(a), b = exp(b), c = exp(c), d = exp(d) on four lanes each (fm_v4
 * variables), each stage (each Horner step) for all four before the next,
 * so that the core has four independent chains of operations to overlap.
 * The steps loop over fm_horner: one broadcast serves the four. */
#define FM_EXP4X4(a, b, c, d)                                                              \
    do {                                                                                   \
        fm_u4 q0_, q1_, q2_, q3_;                                                          \
        fm_v4 r0_, r1_, r2_, r3_;                                                          \
        FM_REDUCE(4, a, q0_, r0_);                                                         \
        FM_REDUCE(4, b, q1_, r1_);                                                         \
        FM_REDUCE(4, c, q2_, r2_);                                                         \
        FM_REDUCE(4, d, q3_, r3_);                                                         \
        fm_v4 p0_ = SPLAT4(fm_v4, FM_C13), p1_ = p0_, p2_ = p0_, p3_ = p0_;                \
        for (int j_ = 0; j_ < 11; j_++) {                                                  \
            FM_STEP(4, p0_, r0_, fm_horner[j_]);                                           \
            FM_STEP(4, p1_, r1_, fm_horner[j_]);                                           \
            FM_STEP(4, p2_, r2_, fm_horner[j_]);                                           \
            FM_STEP(4, p3_, r3_, fm_horner[j_]);                                           \
        }                                                                                  \
        FM_SCALE(4, a, p0_, r0_, q0_);                                                     \
        FM_SCALE(4, b, p1_, r1_, q1_);                                                     \
        FM_SCALE(4, c, p2_, r2_, q2_);                                                     \
        FM_SCALE(4, d, p3_, r3_, q3_);                                                     \
    } while (0)

/* The same on two vectors: a last eight, where four would waste half. */
#define FM_EXP4X2(a, b)                                                                    \
    do {                                                                                   \
        fm_u4 q0_, q1_;                                                                    \
        fm_v4 r0_, r1_;                                                                    \
        FM_REDUCE(4, a, q0_, r0_);                                                         \
        FM_REDUCE(4, b, q1_, r1_);                                                         \
        fm_v4 p0_ = SPLAT4(fm_v4, FM_C13), p1_ = p0_;                                      \
        for (int j_ = 0; j_ < 11; j_++) {                                                  \
            FM_STEP(4, p0_, r0_, fm_horner[j_]);                                           \
            FM_STEP(4, p1_, r1_, fm_horner[j_]);                                           \
        }                                                                                  \
        FM_SCALE(4, a, p0_, r0_, q0_);                                                     \
        FM_SCALE(4, b, p1_, r1_, q1_);                                                     \
    } while (0)

#define FM_LOAD(v, p) memcpy(&(v), (p), sizeof(v))
#define FM_STORE(p, v) memcpy((p), &(v), sizeof(v))

/* ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)), from eight lanes, or
 * from two halves: lo holds s0..s3, hi s4..s7. */
#define FM_LANES_SUM8(a)                                                                   \
    ((((a)[0] + (a)[4]) + ((a)[2] + (a)[6])) + (((a)[1] + (a)[5]) + ((a)[3] + (a)[7])))
#define FM_LANES_SUM4(lo, hi)                                                              \
    ((((lo)[0] + (hi)[0]) + ((lo)[2] + (hi)[2])) + (((lo)[1] + (hi)[1]) + ((lo)[3] + (hi)[3])))

/* ---- Eight lanes: the AVX-512 and baseline builds ---- */

/* The bodies: whole eights in place, the rest through a padded eight whose
 * extra lanes give 0 (exp(-inf) = 0), so that every entry goes through the
 * same lanes whatever n is. */
__attribute__((always_inline)) static inline double exp_shifted_body8(const double *x,
                                                                      double shift, double *y,
                                                                      size_t n)
{
    fm_v8 acc = SPLAT8(fm_v8, 0.0);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fm_v8 v, e;
        FM_LOAD(v, x + i);
        v = v - SPLAT8(fm_v8, shift);
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
        v = v - SPLAT8(fm_v8, shift);
        FM_EXP8(e, v);
        acc = acc + e;
        FM_STORE(pad, e);
        memcpy(y + i, pad, (n - i) * sizeof(*y));
    }
    return FM_LANES_SUM8(acc);
}

__attribute__((always_inline)) static inline void sigmoid_body8(const double *x, double *y,
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
        e = e + SPLAT8(fm_v8, 1.0);
        e = SPLAT8(fm_v8, 1.0) / e;
        if (m == 8) {
            FM_STORE(y + i, e);
        } else {
            FM_STORE(pad, e);
            memcpy(y + i, pad, m * sizeof(*y));
        }
    }
}

__attribute__((always_inline)) static inline double sum_body8(const double *x, size_t n)
{
    fm_v8 acc = SPLAT8(fm_v8, 0.0);
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
    return FM_LANES_SUM8(acc);
}

/* The element-wise kernels: one IEEE operation per element and lane, so
 * the lanes give the scalar loop's bits. */
enum { MAP_ACC_DIV, MAP_ACC_MUL, MAP_ADD };

/* The same operations one element at a time: the tails of both widths. */
__attribute__((always_inline)) static inline void map_tail(int op, double *y, const double *a,
                                                           const double *b, double c, size_t i,
                                                           size_t n)
{
    for (; i < n; i++) {
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

__attribute__((always_inline)) static inline void map_body8(int op, double *y, const double *a,
                                                            const double *b, double c, size_t n)
{
    size_t i = 0;
    const fm_v8 cv = SPLAT8(fm_v8, c);
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
    map_tail(op, y, a, b, c, i, n);
}

/* ---- Four lanes: the AVX2 build ---- */
#if MOESIM_X86

/* The Horner steps after the first coefficient, in order (FM_EXP4X4). */
static const double fm_horner[11] = {FM_C12, FM_C11, FM_C10, FM_C9, FM_C8, FM_C7,
                                     FM_C6,  FM_C5,  FM_C4,  FM_C3, FM_C2};

/* v = x[i..i+4), each entry from n on taken as `fill` (x is read below n
 * only). */
__attribute__((always_inline)) static inline void load4(fm_v4 *v, const double *x, size_t i,
                                                        size_t n, double fill)
{
    if (i + 4 <= n) {
        memcpy(v, x + i, sizeof(*v));
        return;
    }
    if (i >= n) { /* no entry: no trip through memory */
        *v = SPLAT4(fm_v4, fill);
        return;
    }
    double t[4];
    for (size_t j = 0; j < 4; j++)
        t[j] = i + j < n ? x[i + j] : fill;
    memcpy(v, t, sizeof(*v));
}

/* y[i..i+4) = v, the entries below n only. A part goes through t, so
 * that v itself never needs an address and stays in a register. */
__attribute__((always_inline)) static inline void store4(double *y, size_t i, size_t n,
                                                         const fm_v4 *v)
{
    if (i + 4 <= n) {
        memcpy(y + i, v, sizeof(*v));
    } else {
        double t[4];
        memcpy(t, v, sizeof(t));
        for (size_t j = 0; j < 4 && i + j < n; j++)
            y[i + j] = t[j];
    }
}

/* v = 1 / (1 + v), v an fm_v4: the sigmoid's last two operations. */
#define FM_LOGISTIC(v)                                                                     \
    do {                                                                                   \
        v = v + SPLAT4(fm_v4, 1.0);                                                        \
        v = SPLAT4(fm_v4, 1.0) / v;                                                        \
    } while (0)

/* Sixteen entries at a time, two eights, each two halves (lanes 0-3, 4-7)
 * with a running sum per half, so the sum is the eight lanes' above. The
 * rest, padded with -inf as the eight-lane body pads its last eight (a
 * padding lane gives exp(-inf - shift): 0, or NaN for shift = -inf), is one
 * more sixteen if more than eight remain, else one eight on two vectors.
 * Whole sixteens and rest are separate copies, so that the loop's vectors
 * stay in registers. */
__attribute__((always_inline)) static inline double exp_shifted_body4(const double *x,
                                                                      double shift, double *y,
                                                                      size_t n)
{
    fm_v4 acc_lo = SPLAT4(fm_v4, 0.0), acc_hi = acc_lo;
    const fm_v4 sv = SPLAT4(fm_v4, shift);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        fm_v4 v0, v1, v2, v3;
        FM_LOAD(v0, x + i);
        FM_LOAD(v1, x + i + 4);
        FM_LOAD(v2, x + i + 8);
        FM_LOAD(v3, x + i + 12);
        v0 = v0 - sv;
        v1 = v1 - sv;
        v2 = v2 - sv;
        v3 = v3 - sv;
        FM_EXP4X4(v0, v1, v2, v3);
        acc_lo = acc_lo + v0;
        acc_hi = acc_hi + v1;
        acc_lo = acc_lo + v2;
        acc_hi = acc_hi + v3;
        FM_STORE(y + i, v0);
        FM_STORE(y + i + 4, v1);
        FM_STORE(y + i + 8, v2);
        FM_STORE(y + i + 12, v3);
    }
    if (n - i > 8) {
        fm_v4 v0, v1, v2, v3;
        load4(&v0, x, i, n, -INFINITY);
        load4(&v1, x, i + 4, n, -INFINITY);
        load4(&v2, x, i + 8, n, -INFINITY);
        load4(&v3, x, i + 12, n, -INFINITY);
        v0 = v0 - sv;
        v1 = v1 - sv;
        v2 = v2 - sv;
        v3 = v3 - sv;
        FM_EXP4X4(v0, v1, v2, v3);
        acc_lo = acc_lo + v0;
        acc_hi = acc_hi + v1;
        acc_lo = acc_lo + v2;
        acc_hi = acc_hi + v3;
        store4(y, i, n, &v0);
        store4(y, i + 4, n, &v1);
        store4(y, i + 8, n, &v2);
        store4(y, i + 12, n, &v3);
    } else if (i < n) {
        fm_v4 v0, v1;
        load4(&v0, x, i, n, -INFINITY);
        load4(&v1, x, i + 4, n, -INFINITY);
        v0 = v0 - sv;
        v1 = v1 - sv;
        FM_EXP4X2(v0, v1);
        acc_lo = acc_lo + v0;
        acc_hi = acc_hi + v1;
        store4(y, i, n, &v0);
        store4(y, i + 4, n, &v1);
    }
    return FM_LANES_SUM4(acc_lo, acc_hi);
}

/* Element-wise: sixteen at a time, then one sixteen or one eight, padded
 * with 0. */
__attribute__((always_inline)) static inline void sigmoid_body4(const double *x, double *y,
                                                                size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        fm_v4 v0, v1, v2, v3;
        FM_LOAD(v0, x + i);
        FM_LOAD(v1, x + i + 4);
        FM_LOAD(v2, x + i + 8);
        FM_LOAD(v3, x + i + 12);
        v0 = -v0;
        v1 = -v1;
        v2 = -v2;
        v3 = -v3;
        FM_EXP4X4(v0, v1, v2, v3);
        FM_LOGISTIC(v0);
        FM_LOGISTIC(v1);
        FM_LOGISTIC(v2);
        FM_LOGISTIC(v3);
        FM_STORE(y + i, v0);
        FM_STORE(y + i + 4, v1);
        FM_STORE(y + i + 8, v2);
        FM_STORE(y + i + 12, v3);
    }
    if (n - i > 8) {
        fm_v4 v0, v1, v2, v3;
        load4(&v0, x, i, n, 0.0);
        load4(&v1, x, i + 4, n, 0.0);
        load4(&v2, x, i + 8, n, 0.0);
        load4(&v3, x, i + 12, n, 0.0);
        v0 = -v0;
        v1 = -v1;
        v2 = -v2;
        v3 = -v3;
        FM_EXP4X4(v0, v1, v2, v3);
        FM_LOGISTIC(v0);
        FM_LOGISTIC(v1);
        FM_LOGISTIC(v2);
        FM_LOGISTIC(v3);
        store4(y, i, n, &v0);
        store4(y, i + 4, n, &v1);
        store4(y, i + 8, n, &v2);
        store4(y, i + 12, n, &v3);
    } else if (i < n) {
        fm_v4 v0, v1;
        load4(&v0, x, i, n, 0.0);
        load4(&v1, x, i + 4, n, 0.0);
        v0 = -v0;
        v1 = -v1;
        FM_EXP4X2(v0, v1);
        FM_LOGISTIC(v0);
        FM_LOGISTIC(v1);
        store4(y, i, n, &v0);
        store4(y, i + 4, n, &v1);
    }
}

__attribute__((always_inline)) static inline double sum_body4(const double *x, size_t n)
{
    fm_v4 acc_lo = SPLAT4(fm_v4, 0.0), acc_hi = acc_lo;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        fm_v4 v_lo, v_hi;
        FM_LOAD(v_lo, x + i);
        FM_LOAD(v_hi, x + i + 4);
        acc_lo = acc_lo + v_lo;
        acc_hi = acc_hi + v_hi;
    }
    if (i < n) { /* +0.0 into every lane past n, as the eight-lane body adds */
        fm_v4 v_lo, v_hi;
        load4(&v_lo, x, i, n, 0.0);
        load4(&v_hi, x, i + 4, n, 0.0);
        acc_lo = acc_lo + v_lo;
        acc_hi = acc_hi + v_hi;
    }
    return FM_LANES_SUM4(acc_lo, acc_hi);
}

__attribute__((always_inline)) static inline void map_body4(int op, double *y, const double *a,
                                                            const double *b, double c, size_t n)
{
    size_t i = 0;
    const fm_v4 cv = SPLAT4(fm_v4, c);
    for (; i + 4 <= n; i += 4) {
        fm_v4 va, vy, t;
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
    map_tail(op, y, a, b, c, i, n);
}
#endif

/* The eight-lane bodies built for the baseline, and on x86-64 the
 * four-lane ones for AVX2 and the eight-lane ones for AVX-512 too; the wide
 * builds clear the upper register halves on the way out, so that the
 * caller's SSE code (libm, say) pays no transition. */
static double exp_shifted_base(const double *x, double shift, double *y, size_t n)
{
    return exp_shifted_body8(x, shift, y, n);
}
static void sigmoid_base(const double *x, double *y, size_t n)
{
    sigmoid_body8(x, y, n);
}
static double sum_base(const double *x, size_t n)
{
    return sum_body8(x, n);
}
static void map_base(int op, double *y, const double *a, const double *b, double c, size_t n)
{
    map_body8(op, y, a, b, c, n);
}

#if MOESIM_X86
#define FM_WIDE(name, isa, W)                                                              \
    __attribute__((target(isa))) static double exp_shifted_##name(                         \
        const double *x, double shift, double *y, size_t n)                                \
    {                                                                                      \
        const double s = exp_shifted_body##W(x, shift, y, n);                              \
        _mm256_zeroupper();                                                                \
        return s;                                                                          \
    }                                                                                      \
    __attribute__((target(isa))) static void sigmoid_##name(const double *x, double *y,    \
                                                            size_t n)                      \
    {                                                                                      \
        sigmoid_body##W(x, y, n);                                                          \
        _mm256_zeroupper();                                                                \
    }                                                                                      \
    __attribute__((target(isa))) static double sum_##name(const double *x, size_t n)       \
    {                                                                                      \
        const double s = sum_body##W(x, n);                                                \
        _mm256_zeroupper();                                                                \
        return s;                                                                          \
    }                                                                                      \
    __attribute__((target(isa))) static void map_##name(int op, double *y, const double *a, \
                                                        const double *b, double c,          \
                                                        size_t n)                           \
    {                                                                                      \
        map_body##W(op, y, a, b, c, n);                                                    \
        _mm256_zeroupper();                                                                \
    }
FM_WIDE(avx2, "avx2", 4)
FM_WIDE(avx512, "avx512f", 8)
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
