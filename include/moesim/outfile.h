/*
 * outfile.h - output files written whole or not at all.
 *
 * A file is written under a temporary name beside its destination
 * ("<path>.tmp.<pid>") and renamed into place only by outfile_commit, after
 * every byte was written and flushed. A run that fails, or a writer that
 * calls outfile_abort, leaves nothing behind: no partial report, no stray
 * temporary file. Every command that writes a file (run --json, collective
 * --json, and later traces and timelines) goes through here.
 */
#ifndef MOESIM_OUTFILE_H
#define MOESIM_OUTFILE_H

#include <stdio.h>

#include "moesim/base.h"

typedef struct outfile {
    FILE *f;        /* write here between open and commit; NULL when closed */
    char path[512]; /* the destination */
    char tmp[600];  /* the temporary name, "" when none exists */
} outfile;

#define OUTFILE_INIT {NULL, "", ""}

/* Creates the temporary file for `path` (borrowed). Returns 0, or -1 with e
 * filled (ERR_RUN: cannot write there). */
int outfile_open(outfile *o, const char *path, err_t *e);
/* Closes the file and renames it into place. Returns 0, or -1 with e filled
 * after removing the temporary file (a write error, a full disk). */
int outfile_commit(outfile *o, err_t *e);
/* Closes and removes the temporary file, if any; safe to call twice and on
 * an outfile that was never opened. */
void outfile_abort(outfile *o);

#endif
