/*
 * test_units.c - quantities with units: exact values of every family, the
 * inputs that must be refused, and the formatting used in reports.
 */
#include <string.h>

#include "moesim/units.h"
#include "test.h"

void test_units_register(void);

static void test_bandwidth(void)
{
    char why[512];
    double v = 0;
    EXPECT_EQ_I64(units_parse_bandwidth("400 Gb/s", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 50e9);
    EXPECT_EQ_I64(units_parse_bandwidth("450 GB/s", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 450e9);
    EXPECT_EQ_I64(units_parse_bandwidth("400Gbps", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 50e9);
    EXPECT_EQ_I64(units_parse_bandwidth(" 3.35 TB/s ", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 3.35e12);
    EXPECT_EQ_I64(units_parse_bandwidth("1 GiB/s", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 1073741824.0);
    EXPECT_EQ_I64(units_parse_bandwidth("8 b/s", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 1.0);
    EXPECT_EQ_I64(units_parse_bandwidth("0 B/s", &v, why, sizeof(why)), 0);
    EXPECT_TRUE(v == 0.0);
}

static void test_time(void)
{
    char why[512];
    sim_time_t t = 0;
    EXPECT_EQ_I64(units_parse_time("1.5 us", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 1500000);
    EXPECT_EQ_I64(units_parse_time("3.33 us", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 3330000);
    EXPECT_EQ_I64(units_parse_time("200 ns", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 200000);
    EXPECT_EQ_I64(units_parse_time("2 ms", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, SIM_MS(2));
    EXPECT_EQ_I64(units_parse_time("1 s", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, SIM_S(1));
    EXPECT_EQ_I64(units_parse_time("7 ps", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 7);
    EXPECT_EQ_I64(units_parse_time("0.1 ns", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 100);
    EXPECT_EQ_I64(units_parse_time("2 \xc2\xb5s", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, 2000000);
    EXPECT_EQ_I64(units_parse_time("1e-3 s", &t, why, sizeof(why)), 0);
    EXPECT_EQ_I64(t, SIM_MS(1));
}

static void test_size(void)
{
    char why[512];
    double b = 0;
    EXPECT_EQ_I64(units_parse_size("80 GiB", &b, why, sizeof(why)), 0);
    EXPECT_TRUE(b == 80.0 * 1073741824.0);
    EXPECT_EQ_I64(units_parse_size("7168 B", &b, why, sizeof(why)), 0);
    EXPECT_TRUE(b == 7168.0);
    EXPECT_EQ_I64(units_parse_size("80 GB", &b, why, sizeof(why)), 0);
    EXPECT_TRUE(b == 80e9);
    EXPECT_EQ_I64(units_parse_size("1.5 KiB", &b, why, sizeof(why)), 0);
    EXPECT_TRUE(b == 1536.0);
}

static void test_flops(void)
{
    char why[512];
    double f = 0;
    EXPECT_EQ_I64(units_parse_flops("989 TFLOP/s", &f, why, sizeof(why)), 0);
    EXPECT_TRUE(f == 989e12);
    EXPECT_EQ_I64(units_parse_flops("1979 TFLOPS", &f, why, sizeof(why)), 0);
    EXPECT_TRUE(f == 1979e12);
    EXPECT_EQ_I64(units_parse_flops("1.2 PFLOP/s", &f, why, sizeof(why)), 0);
    EXPECT_TRUE(f == 1.2e15);
}

/* Each refusal says why and what a good value looks like. */
static void test_rejects(void)
{
    char why[512];
    double v = 42;
    sim_time_t t = 42;
    EXPECT_EQ_I64(units_parse_bandwidth("400 Gbs", &v, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "unknown unit \"Gbs\"");
    EXPECT_STR_CONTAINS(why, "Gb/s");
    EXPECT_EQ_I64(units_parse_bandwidth("-1 GB/s", &v, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "negative");
    EXPECT_EQ_I64(units_parse_bandwidth("GB/s", &v, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "no number");
    EXPECT_EQ_I64(units_parse_bandwidth("", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_bandwidth("inf GB/s", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_bandwidth("0x10 GB/s", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_bandwidth("1 GB/s x", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_size("1e400 B", &v, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "too large");
    EXPECT_EQ_I64(units_parse_size("12", &v, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "no unit");
    EXPECT_STR_CONTAINS(why, "\"80 GiB\"");
    EXPECT_EQ_I64(units_parse_size("12 gb", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_time("12", &t, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_time("1.5 usec", &t, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_time("1e10 s", &t, why, sizeof(why)), -1);
    EXPECT_STR_CONTAINS(why, "106 days");
    EXPECT_EQ_I64(units_parse_flops("989 TFLOP", &v, why, sizeof(why)), -1);
    EXPECT_EQ_I64(units_parse_flops("989 GB/s", &v, why, sizeof(why)), -1);
    /* a refusal leaves the output alone */
    EXPECT_TRUE(v == 42);
    EXPECT_EQ_I64(t, 42);
    /* why may be left out */
    EXPECT_EQ_I64(units_parse_time("x", &t, NULL, 0), -1);
}

static void test_format(void)
{
    char buf[64];
    EXPECT_STR_CONTAINS(units_format_bandwidth(3.35e12, buf, sizeof(buf)), "3.35 TB/s");
    EXPECT_STR_CONTAINS(units_format_bandwidth(450e9, buf, sizeof(buf)), "450 GB/s");
    EXPECT_STR_CONTAINS(units_format_bandwidth(50e9, buf, sizeof(buf)), "50 GB/s");
    EXPECT_STR_CONTAINS(units_format_bandwidth(999.9e9, buf, sizeof(buf)), "1 TB/s");
    EXPECT_STR_CONTAINS(units_format_time(12500000, buf, sizeof(buf)), "12.5 us");
    EXPECT_STR_CONTAINS(units_format_time(0, buf, sizeof(buf)), "0 ps");
    EXPECT_STR_CONTAINS(units_format_time(SIM_MS(2), buf, sizeof(buf)), "2 ms");
    EXPECT_STR_CONTAINS(units_format_size(80.0 * 1073741824.0, buf, sizeof(buf)), "80 GiB");
    EXPECT_STR_CONTAINS(units_format_size(7168, buf, sizeof(buf)), "7 KiB");
    EXPECT_STR_CONTAINS(units_format_size(100, buf, sizeof(buf)), "100 B");
    /* formatting then parsing gives the value back, to three digits */
    double v;
    EXPECT_EQ_I64(units_parse_bandwidth(units_format_bandwidth(123.4e9, buf, sizeof(buf)), &v,
                                        NULL, 0),
                  0);
    EXPECT_NEAR(v, 123e9, 1);
}

void test_units_register(void)
{
    TEST_SUITE("units", {"bandwidth", test_bandwidth}, {"time", test_time},
               {"size", test_size}, {"flops", test_flops}, {"rejects", test_rejects},
               {"format", test_format});
}
