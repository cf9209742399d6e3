/*
 * opts.h - the one option parser of every moesim command (floor 5).
 *
 * A command describes its options in a table of opts_spec rows; opts_parse
 * reads the arguments after the command name with getopt_long, so every
 * command accepts "--opt value" and "--opt=value", "--" ends the options,
 * and options and operands may come in any order. The options come back in
 * command-line order (a repeatable --set keeps its order), the operands
 * apart. -h and --help are every command's; an unknown option is answered
 * with the nearest known name ("did you mean --json?").
 *
 * Output options (OPTS_OUTPUT) take "-" for stdout and refuse a value that
 * looks like an option ("--json --quiet" would otherwise write a file named
 * "--quiet"). opts_check_files then refuses, before anything runs, outputs
 * that name one file twice or an input file, two outputs on stdout, and
 * paths whose directory is missing or cannot be written.
 */
#ifndef MOESIM_OPTS_H
#define MOESIM_OPTS_H

#include "moesim/base.h"

typedef enum opts_arg {
    OPTS_FLAG,   /* no value: --quiet */
    OPTS_VALUE,  /* a value: --set KEY=VALUE, -b 8 */
    OPTS_OUTPUT  /* a path to write, or "-" for stdout: --json FILE */
} opts_arg;

/* One option. The table ends at a row whose name is NULL. */
typedef struct opts_spec {
    const char *name;  /* the long name without "--": "json" */
    char short_name;   /* 'b' for -b; 0 for none */
    opts_arg arg;
    const char *meta;  /* what the value is, for messages: "a file name" */
} opts_spec;

/* One option as given: its row in the table and its value (NULL for a
 * flag; borrowed from argv). */
typedef struct opts_item {
    int spec;
    const char *value;
} opts_item;

typedef struct opts {
    opts_item *item; /* nitem options in command-line order; owned */
    int nitem;
    const char **pos; /* npos operands in order (borrowed strings); owned array */
    int npos;
    int help;         /* -h or --help was given */
} opts;

#define OPTS_INIT {NULL, 0, NULL, 0, 0}

/* Parses argv[1 .. argc-1] (argv[0] is the command's name) against spec
 * (borrowed). Returns 0, or -1 with e filled (ERR_INPUT, the message for
 * the command's usage line: an unknown option with its nearest neighbour,
 * a missing value, a value given to a flag, an output value that looks
 * like an option). Permutes argv as getopt_long does. Release with
 * opts_fini on either outcome. */
int opts_parse(const opts_spec *spec, int argc, char **argv, opts *o, err_t *e);
void opts_fini(opts *o);

/* The edit distance (Levenshtein) between a and b, at most 1000 bytes each
 * compared; for "did you mean". */
int opts_distance(const char *a, const char *b);

/* A file a command reads or writes, for opts_check_files. */
typedef struct opts_file {
    const char *opt;   /* "--json", or "scenario" for an input */
    const char *path;  /* borrowed; NULL: not given */
    int output;        /* 1: written by the command; 0: read */
    /* An output directory (run --csv): the names written inside it, NULL
     * ended; NULL for a plain file. */
    const char *const *inside;
} opts_file;

/* Checks the files of one command before it runs: every output's directory
 * exists and can be written (a directory output: it or its parent), at most
 * one output is "-", and no two files are the same (after resolving
 * symlinks and "..", and by device and inode where the file exists; a
 * directory output's files included). Character devices such as /dev/null
 * may be named twice. Returns 0, or -1 with e filled (ERR_INPUT, naming
 * the options). */
int opts_check_files(const opts_file *f, int n, err_t *e);

/* Parses a seed, a whole number from 0 to 2^64 - 1 written in decimal.
 * Returns 0, or -1 (negative, overflowing, or not a number). */
int opts_parse_u64(const char *s, uint64_t *out);

#endif
