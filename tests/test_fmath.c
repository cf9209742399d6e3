/*
 * test_fmath.c - moesim's exp: within 1 ulp of libm's over the whole range,
 * the edges (overflow, subnormals, NaN), and every path giving the same bits.
 */
#include "moesim/fmath.h"

#include "moesim/base.h"

#include <float.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* |a - b| in units in the last place of b (b finite and nonzero). */
static double ulps(double a, double b)
{
    double u = nextafter(fabs(b), INFINITY) - fabs(b);
    return fabs(a - b) / u;
}

static void test_accuracy(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    double worst = 0, at = 0;
    /* the normal range, and the small arguments a softmax sees most */
    for (int i = 0; i < 1000000; i++) {
        double x = i % 2 ? -708.0 + 1417.0 * gsl_rng_uniform(r)
                         : -20.0 + 40.0 * gsl_rng_uniform(r);
        double y = fm_exp(x), ref = exp(x);
        double e = ulps(y, ref);
        if (e > worst)
            worst = e, at = x;
    }
    char msg[128];
    snprintf(msg, sizeof(msg), "largest error %.3f ulp at x = %.17g", worst, at);
    CU_assertImplementation(worst <= 1.0, __LINE__, msg, __FILE__, "", CU_FALSE);
    gsl_rng_free(r);
}

static void test_edges(void)
{
    EXPECT_TRUE(fm_exp(0.0) == 1.0);
    EXPECT_TRUE(fm_exp(-0.0) == 1.0);
    EXPECT_NEAR(fm_exp(1.0), 2.718281828459045, 4.5e-16);
    EXPECT_NEAR(fm_exp(-1.0), 0.36787944117144233, 1e-16);
    EXPECT_TRUE(fm_exp(1e-300) == 1.0);
    /* the top: exp(709.78) < DBL_MAX < exp(709.79) */
    EXPECT_TRUE(isfinite(fm_exp(709.78)));
    EXPECT_TRUE(fm_exp(709.78) > 1.7e308);
    EXPECT_TRUE(isinf(fm_exp(709.79)));
    EXPECT_TRUE(isinf(fm_exp(1000.0)));
    EXPECT_TRUE(isinf(fm_exp(INFINITY)));
    /* the subnormals: rounded once, as exp rounds them */
    EXPECT_TRUE(fm_exp(-708.5) < DBL_MIN && fm_exp(-708.5) > 0);
    EXPECT_TRUE(fabs(fm_exp(-740.0) - exp(-740.0)) <= 4.95e-324);
    EXPECT_TRUE(fm_exp(-745.1) == 4.9406564584124654e-324); /* the least subnormal */
    EXPECT_TRUE(fm_exp(-746.0) == 0.0);
    EXPECT_TRUE(fm_exp(-INFINITY) == 0.0);
    EXPECT_TRUE(isnan(fm_exp(NAN)));

    /* the sigmoid's ends */
    double x[4] = {0.0, 800.0, -800.0, -INFINITY}, y[4];
    fm_sigmoid(x, y, 4);
    EXPECT_TRUE(y[0] == 0.5);
    EXPECT_TRUE(y[1] == 1.0);
    EXPECT_TRUE(y[2] == 0.0);
    EXPECT_TRUE(y[3] == 0.0);
}

/* fm_sum's order, written out by hand for n = 19: lanes i mod 8. */
static void test_sum_order(void)
{
    double x[19];
    for (int i = 0; i < 19; i++)
        x[i] = 1.0 / (i + 3) + (i % 3 ? 1e15 : -1e15); /* cancellations: order shows */
    double s[8] = {0};
    for (int i = 0; i < 19; i++)
        s[i % 8] += x[i];
    double want = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
    EXPECT_TRUE(fm_sum(x, 19) == want);
    EXPECT_TRUE(fm_sum(x, 0) == 0.0);

    /* fm_exp_shifted returns the same sum of what it wrote */
    double y[19], z[19];
    for (int i = 0; i < 19; i++)
        z[i] = -0.25 * i;
    double sum = fm_exp_shifted(z, 1.5, y, 19);
    EXPECT_TRUE(sum == fm_sum(y, 19));
    EXPECT_NEAR(y[4], exp(-2.5), 1e-16);
}

/* Every path (AVX-512, AVX2, the baseline) gives the baseline's bits, for
 * every length 0..40 (whole eights and padded tails), in place too. */
static void test_paths_agree(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    double x[40], base[3][40], sums[2];
    for (int i = 0; i < 40; i++)
        x[i] = 60.0 * gsl_rng_uniform(r) - 50.0;
    const int kernels[2] = {ISA_AVX2, ISA_AVX512};
    for (int n = 0; n <= 40; n++) {
        EXPECT_EQ_I64(isa_force(ISA_BASE), 0);
        sums[0] = fm_exp_shifted(x, 0.75, base[0], (size_t)n);
        fm_sigmoid(x, base[1], (size_t)n);
        sums[1] = fm_sum(x, (size_t)n);
        for (int k = 0; k < 2; k++) {
            if (isa_force(kernels[k]) < 0) {
                if (n == 0)
                    printf("\n    (this CPU cannot run kernel %d: not checked) ", kernels[k]);
                continue;
            }
            double y[40], w[40];
            EXPECT_TRUE(fm_exp_shifted(x, 0.75, y, (size_t)n) == sums[0]);
            EXPECT_TRUE(memcmp(y, base[0], (size_t)n * sizeof(double)) == 0);
            memcpy(w, x, sizeof(w));
            fm_sigmoid(w, w, (size_t)n); /* in place */
            EXPECT_TRUE(memcmp(w, base[1], (size_t)n * sizeof(double)) == 0);
            EXPECT_TRUE(fm_sum(x, (size_t)n) == sums[1]);
        }
    }
    isa_force(-1);
    gsl_rng_free(r);
}

/* The element-wise kernels equal the plain loops on every path, for every
 * length 0..40 (whole eights and tails), in place for fm_add. */
static void test_elementwise(void)
{
    double x[40], b[40];
    for (int i = 0; i < 40; i++) {
        x[i] = 1.0 / (i + 1) - 0.3;
        b[i] = 0.7 * i - 11.0;
    }
    for (int isa = ISA_BASE; isa <= ISA_AVX512; isa++) {
        if (isa_force(isa) < 0)
            continue;
        for (int n = 0; n <= 40; n++) {
            double acc1[40], acc2[40], want1[40], want2[40], y[40], want3[40];
            for (int i = 0; i < 40; i++) {
                acc1[i] = acc2[i] = want1[i] = want2[i] = b[i];
                y[i] = want3[i] = x[i];
            }
            for (int i = 0; i < n; i++) {
                want1[i] += x[i] / 3.0;
                want2[i] += x[i] * 0.1;
                want3[i] = x[i] + b[i];
            }
            fm_acc_div(acc1, x, 3.0, (size_t)n);
            fm_acc_mul(acc2, x, 0.1, (size_t)n);
            fm_add(y, y, b, (size_t)n);
            EXPECT_TRUE(memcmp(acc1, want1, sizeof(acc1)) == 0); /* and nothing past n */
            EXPECT_TRUE(memcmp(acc2, want2, sizeof(acc2)) == 0);
            EXPECT_TRUE(memcmp(y, want3, sizeof(y)) == 0);
        }
    }
    isa_force(-1);
}

void test_fmath_register(void);
void test_fmath_register(void)
{
    TEST_SUITE("fmath", {"exp within 1 ulp of libm", test_accuracy},
               {"exp's edges: overflow, subnormals, NaN", test_edges},
               {"sums in the documented order", test_sum_order},
               {"every path gives the same bits", test_paths_agree},
               {"element-wise kernels equal the plain loops", test_elementwise});
}
