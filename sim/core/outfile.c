/*
 * outfile.c - whole-or-nothing output files.
 *
 * The temporary name carries the process id so that two runs writing the
 * same destination at once (a sweep, a script) do not share a temporary
 * file; rename() within one directory replaces the destination atomically.
 */
#include "moesim/outfile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int outfile_open(outfile *o, const char *path, err_t *e)
{
    snprintf(o->path, sizeof(o->path), "%s", path);
    snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp, "w");
    if (!o->f) {
        o->tmp[0] = '\0';
        return err_set(e, ERR_RUN, path, 0, NULL, "cannot write: %s", strerror(errno));
    }
    return 0;
}

int outfile_commit(outfile *o, err_t *e)
{
    int bad = ferror(o->f) != 0;
    int saved = errno;
    bad |= fclose(o->f) != 0;
    o->f = NULL;
    if (bad || rename(o->tmp, o->path) != 0) {
        if (!bad)
            saved = errno;
        remove(o->tmp);
        o->tmp[0] = '\0';
        return err_set(e, ERR_RUN, o->path, 0, NULL, "cannot write: %s",
                       saved ? strerror(saved) : "write error");
    }
    o->tmp[0] = '\0';
    return 0;
}

void outfile_abort(outfile *o)
{
    if (o->f)
        fclose(o->f);
    o->f = NULL;
    if (o->tmp[0])
        remove(o->tmp);
    o->tmp[0] = '\0';
}
