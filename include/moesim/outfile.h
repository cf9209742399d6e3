/*
 * outfile.h - output files written whole or not at all.
 *
 * A regular file (or one that does not exist yet) is written under a
 * temporary name beside its destination ("<path>.tmp.<pid>") and renamed
 * into place only by outfile_commit, after every byte was written and
 * flushed; a run that fails, or a writer that calls outfile_abort, leaves
 * nothing behind. A symbolic link is followed, and its target is what gets
 * replaced: the link stays a link. What cannot be replaced is written
 * directly: "-" (stdout), a character device (/dev/null, a terminal,
 * /dev/stdout), a FIFO or a socket. Paths have no length limit of their own.
 * Every command that writes a file goes through here.
 */
#ifndef MOESIM_OUTFILE_H
#define MOESIM_OUTFILE_H

#include <stdio.h>

#include "moesim/base.h"

typedef struct outfile {
    FILE *f;    /* write here between open and commit; NULL when closed */
    char *path; /* the destination after symlinks (owned), NULL when closed */
    char *tmp;  /* the temporary name (owned), NULL when written directly */
} outfile;

#define OUTFILE_INIT {NULL, NULL, NULL}

/* Opens `path` (borrowed) for writing: a temporary file beside it, or the
 * file itself where it is written directly. Returns 0, or -1 with e filled
 * (ERR_RUN: cannot write there). */
int outfile_open(outfile *o, const char *path, err_t *e);
/* Closes the file and renames it into place (written directly: flushes and
 * closes; stdout is flushed, not closed). Returns 0, or -1 with e filled
 * after removing the temporary file (a write error, a full disk). */
int outfile_commit(outfile *o, err_t *e);
/* Closes and removes the temporary file, if any; safe to call twice and on
 * an outfile that was never opened. */
void outfile_abort(outfile *o);

#endif
