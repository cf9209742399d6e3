/*
 * fuzz_scenario.c - libFuzzer target: the scenario loader with --set
 * overrides (scenario_load_string and its sets).
 *
 * The input is scenario text, then up to 8 --set strings ("key=value"),
 * separated by NUL bytes; the seeds are scenarios/, tests/bad/ and sets
 * that reach for extremes. A load must end in 0 or -1 with a message, never
 * in a crash, a leak or a hang. Inputs that @include another file are
 * skipped: they would read this machine's files (tests/bad covers includes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/scenario.h"

#define MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (strstr(buf, "@include")) {
        free(buf);
        return 0;
    }
    const char *sets[MAX_SETS];
    int n = 0;
    for (char *p = buf + strlen(buf); p < buf + size && n < MAX_SETS; p += strlen(p)) {
        p++; /* past the NUL */
        sets[n++] = p;
    }
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    if (scenario_load_string(buf, "fuzz.cfg", sets, n, &s, &e) != 0) {
        char msg[1400];
        err_format(&e, msg, sizeof(msg));
        if (e.code == ERR_OK || msg[0] == '\0') /* a refusal always says why */
            abort();
    }
    scenario_fini(&s);
    free(buf);
    return 0;
}
