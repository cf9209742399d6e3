/*
 * units.c - quantities with units: strict parsing and human formatting.
 *
 * A quantity is a number, optional spaces and a unit, with optional spaces
 * around the whole. Each family (bandwidth, time, size, FLOP/s) is one table
 * of unit names and multipliers, so adding a unit is adding a row. Parsing is
 * strict so that a typo never silently becomes a different quantity: "400 Gbs"
 * is refused rather than read as 400 bytes, "12" (no unit) is refused rather
 * than guessed, and numbers are scanned by hand before strtod so that "inf",
 * "nan" and hexadecimal are not numbers here. The number is converted by
 * strtod (correctly rounded), then multiplied once by the unit's factor, so
 * "400 Gb/s" is exactly 50e9 B/s and "1.5 us" exactly 1,500,000 ps.
 */
#include "moesim/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct unit {
    const char *name;
    double factor; /* base units (B/s, ps, B, FLOP/s) per one of this unit */
} unit;

typedef struct family {
    const char *what;     /* "a bandwidth" */
    const char *examples; /* shown in every message */
    const unit *units;    /* NULL-terminated */
} family;

static const unit bandwidth_units[] = {
    {"B/s", 1}, {"kB/s", 1e3}, {"MB/s", 1e6}, {"GB/s", 1e9}, {"TB/s", 1e12},
    {"KiB/s", 1024.0}, {"MiB/s", 1048576.0}, {"GiB/s", 1073741824.0},
    {"TiB/s", 1099511627776.0},
    /* bits: divide by 8 once, exactly (a power of two) */
    {"b/s", 1 / 8.0}, {"kb/s", 1e3 / 8}, {"Mb/s", 1e6 / 8}, {"Gb/s", 1e9 / 8},
    {"Tb/s", 1e12 / 8}, {"bps", 1 / 8.0}, {"kbps", 1e3 / 8}, {"Mbps", 1e6 / 8},
    {"Gbps", 1e9 / 8}, {"Tbps", 1e12 / 8}, {NULL, 0}};

static const unit time_units[] = {
    {"ps", 1}, {"ns", 1e3}, {"us", 1e6}, {"\xc2\xb5s", 1e6} /* micro sign */,
    {"\xce\xbcs", 1e6} /* Greek mu */, {"ms", 1e9}, {"s", 1e12}, {NULL, 0}};

static const unit size_units[] = {
    {"B", 1}, {"kB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
    {"TiB", 1099511627776.0}, {NULL, 0}};

static const unit flops_units[] = {
    {"FLOP/s", 1}, {"kFLOP/s", 1e3}, {"MFLOP/s", 1e6}, {"GFLOP/s", 1e9},
    {"TFLOP/s", 1e12}, {"PFLOP/s", 1e15}, {"FLOPS", 1}, {"kFLOPS", 1e3},
    {"MFLOPS", 1e6}, {"GFLOPS", 1e9}, {"TFLOPS", 1e12}, {"PFLOPS", 1e15}, {NULL, 0}};

static const family bandwidth_family = {"a bandwidth", "\"400 Gb/s\" or \"50 GB/s\"",
                                        bandwidth_units};
static const family time_family = {"a time", "\"1.5 us\" or \"200 ns\"", time_units};
static const family size_family = {"a size", "\"80 GiB\" or \"7168 B\"", size_units};
static const family flops_family = {"a compute rate", "\"989 TFLOP/s\"", flops_units};

static void why_set(char *why, size_t n, const family *f, const char *reason)
{
    if (why && n)
        snprintf(why, n, "%s; expected a number >= 0 and a unit such as %s", reason,
                 f->examples);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Scans [-+]digits[.digits][e[-+]digits] at s; returns its length (0: none). */
static size_t scan_number(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '-' || s[i] == '+')
        i++;
    while (is_digit(s[i]))
        i++, digits++;
    if (s[i] == '.') {
        i++;
        while (is_digit(s[i]))
            i++, digits++;
    }
    if (digits == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') { /* an exponent only if digits follow */
        size_t j = i + 1;
        if (s[j] == '-' || s[j] == '+')
            j++;
        if (is_digit(s[j])) {
            while (is_digit(s[j]))
                j++;
            i = j;
        }
    }
    return i;
}

/* Parses "<number> <unit>" of family f into base units. */
static int parse_quantity(const char *s, const family *f, double *out, char *why, size_t n)
{
    if (!s) {
        why_set(why, n, f, "no value");
        return -1;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = scan_number(s);
    if (len == 0) {
        why_set(why, n, f, "no number");
        return -1;
    }
    char num[64];
    if (len >= sizeof(num)) {
        why_set(why, n, f, "the number is too long");
        return -1;
    }
    memcpy(num, s, len);
    num[len] = '\0';
    errno = 0;
    double v = strtod(num, NULL);
    if (errno == ERANGE && fabs(v) > 1) { /* underflow to a tiny value is fine */
        why_set(why, n, f, "the number is too large");
        return -1;
    }
    if (v < 0 || num[0] == '-') {
        if (v == 0) /* "-0" is zero, harmless */
            v = 0;
        else {
            why_set(why, n, f, "a negative number");
            return -1;
        }
    }
    const char *u = s + len;
    while (*u == ' ' || *u == '\t')
        u++;
    size_t ulen = strlen(u);
    while (ulen > 0 && (u[ulen - 1] == ' ' || u[ulen - 1] == '\t'))
        ulen--;
    if (ulen == 0) {
        why_set(why, n, f, "no unit");
        return -1;
    }
    for (const unit *x = f->units; x->name; x++) {
        if (strlen(x->name) == ulen && memcmp(x->name, u, ulen) == 0) {
            double r = v * x->factor;
            if (!isfinite(r)) {
                why_set(why, n, f, "the number is too large");
                return -1;
            }
            *out = r;
            return 0;
        }
    }
    /* Name the unknown unit and list the known ones: the fix is usually there. */
    char reason[512];
    int k = snprintf(reason, sizeof(reason), "unknown unit \"%.*s\" (known: ",
                     (int)(ulen > 32 ? 32 : ulen), u);
    for (const unit *x = f->units; x->name && k > 0 && (size_t)k < sizeof(reason); x++)
        k += snprintf(reason + k, sizeof(reason) - (size_t)k, "%s%s",
                      x == f->units ? "" : ", ", x->name);
    if (k > 0 && (size_t)k < sizeof(reason) - 1)
        snprintf(reason + k, sizeof(reason) - (size_t)k, ")");
    why_set(why, n, f, reason);
    return -1;
}

int units_parse_bandwidth(const char *s, double *bps, char *why, size_t n)
{
    return parse_quantity(s, &bandwidth_family, bps, why, n);
}

int units_parse_time(const char *s, sim_time_t *ps, char *why, size_t n)
{
    double v;
    if (parse_quantity(s, &time_family, &v, why, n) < 0)
        return -1;
    if (v >= 9.2e18) { /* int64 picoseconds end near 106 days */
        why_set(why, n, &time_family, "longer than 106 days, the longest time moesim holds");
        return -1;
    }
    *ps = (sim_time_t)llround(v);
    return 0;
}

int units_parse_size(const char *s, double *bytes, char *why, size_t n)
{
    return parse_quantity(s, &size_family, bytes, why, n);
}

int units_parse_flops(const char *s, double *flops, char *why, size_t n)
{
    return parse_quantity(s, &flops_family, flops, why, n);
}

/* Writes v / scale with three significant digits and no exponent ("3.35",
 * "450", "12.5"), trailing zeros dropped. */
static char *format_scaled(double v, double scale, const char *unit_name, char *buf, size_t n)
{
    double x = v / scale;
    int decimals = fabs(x) >= 100 ? 0 : fabs(x) >= 10 ? 1 : 2;
    char num[64];
    snprintf(num, sizeof(num), "%.*f", decimals, x);
    if (strchr(num, '.')) { /* "12.50" -> "12.5", "3.00" -> "3" */
        char *end = num + strlen(num) - 1;
        while (*end == '0')
            *end-- = '\0';
        if (*end == '.')
            *end = '\0';
    }
    snprintf(buf, n, "%s %s", num, unit_name);
    return buf;
}

/* Picks the largest unit of `units` (ascending factors, count of them) that
 * keeps the value at or above 1 and below 999.5 after rounding. */
static char *format_pick(double v, const unit *units, int count, char *buf, size_t n)
{
    int i = 0;
    double a = fabs(v);
    while (i + 1 < count && a >= units[i + 1].factor * 0.9995)
        i++;
    return format_scaled(v, units[i].factor, units[i].name, buf, n);
}

char *units_format_bandwidth(double bps, char *buf, size_t n)
{
    return format_pick(bps, bandwidth_units, 5, buf, n); /* B/s .. TB/s */
}

char *units_format_time(sim_time_t ps, char *buf, size_t n)
{
    static const unit t[] = {{"ps", 1}, {"ns", 1e3}, {"us", 1e6}, {"ms", 1e9}, {"s", 1e12}};
    return format_pick((double)ps, t, 5, buf, n);
}

char *units_format_size(double bytes, char *buf, size_t n)
{
    static const unit b[] = {{"B", 1},
                             {"KiB", 1024.0},
                             {"MiB", 1048576.0},
                             {"GiB", 1073741824.0},
                             {"TiB", 1099511627776.0}};
    return format_pick(bytes, b, 5, buf, n);
}
