/*
 * cli.c - the scenario of a command line: the file named, or the built-in
 * default. The built-in one's name says so ("mixtral-8x7b-h100x8.cfg
 * (built-in)"), so reports and errors never pass it off as a file on disk.
 */
#include "moesim/cli.h"

#include <stdio.h>

int cli_load(const char *file, const char *const *sets, int nsets, scenario *s, err_t *e)
{
    if (file)
        return scenario_load_file(file, sets, nsets, s, e);
    char name[128];
    snprintf(name, sizeof(name), "%s (built-in)", cli_default_scenario_file);
    return scenario_load_string(cli_default_scenario_text, name, sets, nsets, s, e);
}
