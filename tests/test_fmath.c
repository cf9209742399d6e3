/*
 * test_fmath.c - moesim's exp: within 1 ulp of libm's over the whole range,
 * the edges (overflow, subnormals, NaN), and every path giving the same bits.
 */
#include "moesim/fmath.h"

#include "moesim/base.h"

#include <float.h>
#include <gsl/gsl_rng.h>
#include <inttypes.h>
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

/* The index of the first entry whose bits differ between a and b, or n;
 * with any_nan, two NaNs count as the same whatever their bits. */
static size_t first_diff(const double *a, const double *b, size_t n, int any_nan)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(*a)) != 0 && !(any_nan && isnan(a[i]) && isnan(b[i])))
            return i;
    return n;
}

/* One kernel's output on one path against the baseline's, bit for bit over
 * the whole buffer (so nothing past n may be written either). any_nan for
 * an operation on two NaNs: which operand's sign and payload it keeps
 * depends on the order the compiler puts the operands of a commutative
 * addition or product in (IEEE 754 leaves it open, and so does C), so no
 * two builds promise the same NaN there. exp and the sigmoid have one NaN
 * source per entry, its input: their NaNs are compared bit for bit. */
static void expect_same_bits(const double *got, const double *want, size_t len,
                             const char *what, int isa, size_t n, double shift, int any_nan)
{
    const size_t i = first_diff(got, want, len, any_nan);
    char msg[256];
    uint64_t g = 0, w = 0;
    if (i < len) {
        memcpy(&g, got + i, sizeof(g));
        memcpy(&w, want + i, sizeof(w));
    }
    snprintf(msg, sizeof(msg),
             "%s, kernel %d, n = %zu, shift = %g: entry %zu is %#018" PRIx64
             ", the baseline's %#018" PRIx64,
             what, isa, n, shift, i, g, w);
    CU_assertImplementation(i == len, __LINE__, msg, __FILE__, "", CU_FALSE);
}

enum { EDGE_LEN = 100, EDGE_OUT = 5 };

/* What every kernel writes for input x[0..n) and shift, on the path isa_best
 * picks: out[0] exp_shifted (y != x), out[1] exp_shifted in place, out[2]
 * sigmoid, out[3] sigmoid in place, out[4] the three element-wise kernels
 * one after another on one accumulator; sums[0..1] the exp_shifted sums,
 * sums[2] fm_sum of x. Entries past n keep a marker. */
static void run_kernels(const double *x, double shift, size_t n,
                        double out[EDGE_OUT][EDGE_LEN + 8], double sums[3])
{
    for (int k = 0; k < EDGE_OUT; k++)
        for (size_t i = 0; i < EDGE_LEN + 8; i++)
            out[k][i] = i < n ? x[i] : -1234.5; /* in place, and past n: the marker */
    sums[0] = fm_exp_shifted(x, shift, out[0], n);
    sums[1] = fm_exp_shifted(out[1], shift, out[1], n);
    fm_sigmoid(x, out[2], n);
    fm_sigmoid(out[3], out[3], n);
    fm_acc_div(out[4], x, shift, n);
    fm_acc_mul(out[4], x, shift, n);
    fm_add(out[4], out[4], x, n);
    sums[2] = fm_sum(x, n);
}

/* x[0..EDGE_LEN): the specials spread among ordinary values, wide and
 * narrow. */
static void edge_input(double *x, const double *special, size_t n_special, gsl_rng *r)
{
    for (size_t i = 0; i < EDGE_LEN; i++)
        x[i] = i % 3 == 0 ? special[(i / 3) % n_special]
                          : (i % 3 == 1 ? 1600.0 * gsl_rng_uniform(r) - 800.0
                                        : 30.0 * gsl_rng_uniform(r) - 20.0);
}

/* Every path gives the baseline's bits at the edges too: NaN, +-inf, +-0,
 * the clamps (710, -746) and just inside and past them, arguments whose exp
 * is subnormal or overflows, huge and tiny inputs; every length 0..100, so
 * each tail of the eight-lane and the sixteen-entry bodies; shifts that
 * make padding lanes 0, NaN (shift -inf) or every lane NaN. A second input
 * without NaN, +inf or overflow keeps the sums finite, so that they are
 * compared bit for bit too. */
static void test_paths_agree_edges(void)
{
    const double special[] = {
        NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, 1.0, -1.0, 709.78, 709.79,
        710.0, nextafter(710.0, 0), nextafter(710.0, INFINITY), 711.0, 1e10, DBL_MAX,
        -708.5, -740.0, -745.1, -745.2, -746.0, nextafter(-746.0, 0),
        nextafter(-746.0, -INFINITY), -747.0, -1e10, -DBL_MAX, DBL_MIN, -DBL_MIN,
        4.9406564584124654e-324, -4.9406564584124654e-324, 1e-300, 36.7, -36.7};
    const double finite[] = {
        -INFINITY, 0.0, -0.0, 1.0, -1.0, -708.5, -740.0, -745.1, -745.2, -746.0,
        nextafter(-746.0, 0), nextafter(-746.0, -INFINITY), -747.0, -1e10, -DBL_MAX,
        DBL_MIN, -DBL_MIN, 4.9406564584124654e-324, -4.9406564584124654e-324, 1e-300,
        36.7, -36.7};
    const double shifts[] = {0.0, -0.0, 0.75, -3.5, 700.0, -700.0, 1e-300,
                             INFINITY, -INFINITY, NAN};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 17);
    double x[2][EDGE_LEN];
    edge_input(x[0], special, sizeof(special) / sizeof(special[0]), r);
    edge_input(x[1], finite, sizeof(finite) / sizeof(finite[0]), r);
    for (size_t i = 0; i < EDGE_LEN; i++) /* 36.7 and 800 at most: sums below 2^1024 */
        x[1][i] = x[1][i] > 40.0 ? x[1][i] - 800.0 : x[1][i];
    static double want[EDGE_OUT][EDGE_LEN + 8], got[EDGE_OUT][EDGE_LEN + 8];
    const char *what[EDGE_OUT] = {"fm_exp_shifted", "fm_exp_shifted in place", "fm_sigmoid",
                                  "fm_sigmoid in place", "fm_acc_div, fm_acc_mul, fm_add"};
    const int kernels[2] = {ISA_AVX2, ISA_AVX512};
    for (int in = 0; in < 2; in++) {
        for (size_t s = 0; s < sizeof(shifts) / sizeof(shifts[0]); s++) {
            for (size_t n = 0; n <= EDGE_LEN; n++) {
                double want_sums[3], got_sums[3];
                EXPECT_EQ_I64(isa_force(ISA_BASE), 0);
                run_kernels(x[in], shifts[s], n, want, want_sums);
                for (int k = 0; k < 2; k++) {
                    if (isa_force(kernels[k]) < 0)
                        continue; /* test_paths_agree says which */
                    run_kernels(x[in], shifts[s], n, got, got_sums);
                    /* out[4] and the sums meet NaN and -NaN in one operation */
                    for (int o = 0; o < EDGE_OUT; o++)
                        expect_same_bits(got[o], want[o], EDGE_LEN + 8, what[o],
                                         kernels[k], n, shifts[s], o == 4);
                    expect_same_bits(got_sums, want_sums, 3, "the sums", kernels[k], n,
                                     shifts[s], 1);
                }
            }
        }
    }
    isa_force(-1);
    gsl_rng_free(r);
}

/* The edges' values themselves, on the path this CPU takes: what the
 * baseline gives too (test_paths_agree_edges), so what every path gives. */
static void test_edge_values(void)
{
    const double x[11] = {NAN, INFINITY, -INFINITY, 710.0, 709.79, -746.0,
                          -745.1, -740.0, 0.0, -0.0, 800.0};
    double y[11];
    fm_exp_shifted(x, 0.0, y, 11);
    EXPECT_TRUE(isnan(y[0]));
    EXPECT_TRUE(isinf(y[1]) && y[1] > 0);
    EXPECT_TRUE(y[2] == 0.0 && !signbit(y[2]));
    EXPECT_TRUE(isinf(y[3]) && isinf(y[4]));
    EXPECT_TRUE(y[5] == 0.0);
    EXPECT_TRUE(y[6] == 4.9406564584124654e-324);
    EXPECT_TRUE(y[7] > 0 && y[7] < DBL_MIN); /* subnormal */
    EXPECT_TRUE(y[8] == 1.0 && y[9] == 1.0);
    EXPECT_TRUE(isinf(y[10]));
    /* a NaN in, a NaN out: the sum too */
    EXPECT_TRUE(isnan(fm_exp_shifted(x, 0.0, y, 11)));
    /* shift -inf: every entry x - shift = +inf; 5 entries, 3 padding
     * lanes -inf - -inf = NaN: the sum is NaN; 8 entries, no padding: +inf */
    const double ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    EXPECT_TRUE(isnan(fm_exp_shifted(ones, -INFINITY, y, 5)));
    EXPECT_TRUE(isinf(fm_exp_shifted(ones, -INFINITY, y, 8)));
    fm_sigmoid(x, y, 11);
    EXPECT_TRUE(isnan(y[0]));
    EXPECT_TRUE(y[1] == 1.0 && y[2] == 0.0);
    EXPECT_TRUE(y[8] == 0.5 && y[9] == 0.5);
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
               {"every path gives the same bits at the edges", test_paths_agree_edges},
               {"the edges' values", test_edge_values},
               {"element-wise kernels equal the plain loops", test_elementwise});
}
