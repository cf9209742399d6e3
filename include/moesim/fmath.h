/*
 * fmath.h - the exponentials of the router, moesim's own: the same bits on
 * every machine, eight at a time.
 *
 * Why not libm's exp: glibc picks its exp at load time by CPU (an FMA build
 * on machines that have FMA) and its last bit is not specified to be the
 * same across versions and builds; the router calls exp once per expert and
 * token (softmax, sigmoid, group scores), where a scalar call is most of the
 * routing time. This exp is written in plain IEEE double operations (no fused
 * multiply-add: the build has -ffp-contract=off), eight lanes at once, and
 * every path (AVX-512, AVX2, the baseline, any other CPU; base.h: isa_best)
 * runs the same operations lane by lane: same input, same bits, on any
 * machine.
 *
 * Accuracy: within 1 ulp of exp over the normal range (test_fmath measures
 * the largest error against libm over a million arguments), results below
 * 2^-1022 rounded once into the subnormals; exp(x) = +inf above 709.78,
 * 0 below -745.2, NaN for NaN. docs/routing.md has the method.
 */
#ifndef MOESIM_FMATH_H
#define MOESIM_FMATH_H

#include <stddef.h>

/* exp(x), one value. */
double fm_exp(double x);

/* y[i] = fm_exp(x[i] - shift) for i < n; returns the sum of the y[i] taken
 * in the fixed order fm_sum uses. y may be x. */
double fm_exp_shifted(const double *x, double shift, double *y, size_t n);

/* y[i] = 1 / (1 + fm_exp(-x[i])) for i < n (the logistic sigmoid). y may
 * be x. */
void fm_sigmoid(const double *x, double *y, size_t n);

/* Element-wise, eight lanes at a time, each element the bits of the plain
 * loop: acc[i] += x[i] / d; acc[i] += x[i] * m; y[i] = a[i] + b[i] (y may be
 * a or b). */
void fm_acc_div(double *acc, const double *x, double d, size_t n);
void fm_acc_mul(double *acc, const double *x, double m, size_t n);
void fm_add(double *y, const double *a, const double *b, size_t n);

/* The sum of x[0..n) in a fixed order: eight running sums, s_l over the i
 * with i mod 8 = l in increasing i, combined as
 * ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)). Not the order of a
 * plain loop (which waits for each addition in turn); a fixed one, so every
 * path agrees. */
double fm_sum(const double *x, size_t n);

#endif
