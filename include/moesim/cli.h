/*
 * cli.h - the scenario a command line names (floor 5): a file, or the
 * built-in default scenario embedded in the binary at build (the Makefile
 * generates cli_default_scenario_* from scenarios/mixtral-8x7b-h100x8.cfg).
 * `moesim run` and `moesim compare` without a scenario file load it.
 */
#ifndef MOESIM_CLI_H
#define MOESIM_CLI_H

#include "moesim/base.h"
#include "moesim/scenario.h"

/* The default scenario file's name, and its text (NUL-terminated). */
extern const char cli_default_scenario_file[];
extern const char cli_default_scenario_text[];

/* Loads scenario file `file` (NULL: the built-in default scenario) with the
 * overrides `sets` (nsets "KEY=VALUE" strings); all borrowed. As
 * scenario_load_file: 0, or -1 with e filled; s is the caller's to
 * scenario_fini either way. */
int cli_load(const char *file, const char *const *sets, int nsets, scenario *s, err_t *e);

#endif
