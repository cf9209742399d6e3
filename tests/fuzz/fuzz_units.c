/*
 * fuzz_units.c - libFuzzer target: the unit parser (sim/core/units.c).
 *
 * The input, cut at its first NUL, is given to each of the four parsers; a
 * value they accept must be what units.h promises (finite, not negative),
 * and formatting it back must fit its buffer. Any sanitizer report, or a
 * promise broken (abort), is a finding.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char why[256], buf[64];
    double v;
    sim_time_t ps;
    if (units_parse_bandwidth(s, &v, why, sizeof(why)) == 0) {
        if (!(isfinite(v) && v >= 0))
            abort();
        units_format_bandwidth(v, buf, sizeof(buf));
    }
    if (units_parse_size(s, &v, why, sizeof(why)) == 0) {
        if (!(isfinite(v) && v >= 0))
            abort();
        units_format_size(v, buf, sizeof(buf));
    }
    if (units_parse_flops(s, &v, why, sizeof(why)) == 0 && !(isfinite(v) && v >= 0))
        abort();
    if (units_parse_time(s, &ps, why, sizeof(why)) == 0) {
        if (ps < 0)
            abort();
        units_format_time(ps, buf, sizeof(buf));
    }
    free(s);
    return 0;
}
