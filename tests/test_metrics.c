/* test_metrics.c - exact means and maxima, interpolated percentiles, balance. */
#include "moesim/metrics.h"
#include "test.h"

static void test_series(void)
{
    metrics_series s;
    metrics_series_init(&s);
    metrics_summary m;
    metrics_series_summarize(&s, &m);
    EXPECT_EQ_I64(m.n, 0);
    /* 1..100 us, added in reverse */
    for (int i = 100; i >= 1; i--)
        metrics_series_add(&s, SIM_US(i));
    metrics_series_summarize(&s, &m);
    EXPECT_EQ_I64(m.n, 100);
    EXPECT_EQ_I64(m.min_ps, SIM_US(1));
    EXPECT_EQ_I64(m.max_ps, SIM_US(100));
    EXPECT_EQ_I64(m.sum_ps, SIM_US(5050));
    EXPECT_NEAR(m.mean_s, 50.5e-6, 1e-15);
    /* GSL: quantile f at index (n-1) f, interpolated: p50 = 50.5 us, p99 = 99.01 us */
    EXPECT_NEAR(m.p50_s, 50.5e-6, 1e-15);
    EXPECT_NEAR(m.p95_s, 95.05e-6, 1e-15);
    EXPECT_NEAR(m.p99_s, 99.01e-6, 1e-15);
    EXPECT_NEAR(m.max_s, 100e-6, 1e-15);
    metrics_series_fini(&s);
}

static void test_balance(void)
{
    int64_t even[4] = {5, 5, 5, 5}, skew[4] = {8, 4, 4, 0}, none[3] = {0, 0, 0};
    double mom, cv;
    metrics_balance(even, 4, &mom, &cv);
    EXPECT_NEAR(mom, 1.0, 1e-12);
    EXPECT_NEAR(cv, 0.0, 1e-12);
    metrics_balance(skew, 4, &mom, &cv); /* mean 4, var (16+0+0+16)/4 = 8 */
    EXPECT_NEAR(mom, 2.0, 1e-12);
    EXPECT_NEAR(cv, 0.70710678118654757, 1e-12);
    metrics_balance(none, 3, &mom, &cv);
    EXPECT_NEAR(mom, 0.0, 0);
}

void test_metrics_register(void)
{
    TEST_SUITE("metrics", {"series", test_series}, {"balance", test_balance});
}
