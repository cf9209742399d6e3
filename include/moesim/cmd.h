/*
 * cmd.h - moesim's commands (floor 5): the table that drives dispatch and
 * help, the printers of diagnostics, and the signal flag.
 *
 * Every command is one entry of a table (name, function, operands, one-line
 * summary, usage text), as git's builtins are: `moesim help` lists the
 * table, `moesim help CMD` and `moesim CMD --help` print the command's usage,
 * `moesim CMD ...` calls its function. A command function takes the
 * arguments from its own name on (argv[0] is "run") and returns the exit
 * status: 0 success, 1 a failed run, 2 bad input or usage, 128 + N after
 * signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP). This floor is the only
 * code that prints diagnostics or decides the exit status.
 */
#ifndef MOESIM_CMD_H
#define MOESIM_CMD_H

#include <stdio.h>

#include "moesim/base.h"

/* Runs the command line; returns the process exit status. */
int cmd_main(int argc, char **argv);

/* The commands, one file each in sim/cmd/. */
int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_collective(int argc, char **argv);
int cmd_place(int argc, char **argv);

/* Their usage texts, printed by `moesim help CMD` and `CMD --help`. */
extern const char cmd_run_usage[], cmd_check_usage[], cmd_compare_usage[],
    cmd_collective_usage[], cmd_place_usage[];

/* Prints the usage of command `name` on stdout; returns 0 (an unknown name
 * prints nothing and returns ERR_INPUT). */
int cmd_help(const char *name);

/* Prints e formatted (after "prefix: " unless prefix is NULL) and a newline
 * on f, and returns the exit status it stands for (its code; ERR_RUN if it
 * holds none). */
int cmd_print_err(FILE *f, const char *prefix, const err_t *e);

/* A usage error on stderr, "moesim CMD: <message>; see 'moesim CMD --help'"
 * ("moesim: ...; see 'moesim help'" when cmd is NULL). Returns ERR_INPUT,
 * the exit status of bad input. */
int cmd_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Installs the handlers of SIGINT, SIGTERM and SIGHUP: each only records
 * the signal (sigaction, SA_RESTART), and the command in progress stops at
 * its next check, removes its temporary files and returns
 * cmd_signal_status(). A signal ignored when moesim starts (nohup's SIGHUP, a
 * background job's SIGINT) stays ignored. */
void cmd_signals_install(void);
/* The first signal received since cmd_signals_install, or 0. Safe to call
 * often (one load). */
int cmd_signal(void);
/* 128 + the signal received (130 for SIGINT), or 0 if none was. */
int cmd_signal_status(void);

#endif
