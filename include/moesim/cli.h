/*
 * cli.h - the moesim command line.
 *
 * `moesim run [SCENARIO] [--set key=value]... [--seed N] [--json FILE]`,
 * `moesim check SCENARIO`, `moesim help [COMMAND]`, `moesim --version`.
 * Exit status: 0 success, 1 a failed run, 2 bad input (scenario or command
 * line); every error names the file, line, key, what was wrong and what is
 * allowed. Output files are written whole or not at all.
 */
#ifndef MOESIM_CLI_H
#define MOESIM_CLI_H

#include "moesim/base.h" /* MOESIM_VERSION */

/* The built-in default scenario: the text of
 * scenarios/mixtral-8x7b-h100x8.cfg, embedded at build. */
extern const char cli_default_scenario_file[];
extern const char cli_default_scenario_text[];

/* Runs the command line; returns the process exit status. */
int cli_main(int argc, char **argv);

#endif
