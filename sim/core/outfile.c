/*
 * outfile.c - whole-or-nothing output files.
 *
 * The temporary name carries the process id so that two runs writing the
 * same destination at once (a sweep, a script) do not share a temporary
 * file; rename() within one directory replaces the destination atomically.
 * rename() replaces a symlink rather than writing through it, so a link is
 * resolved first (by hand, hop by hop: its target may not exist yet) and
 * the temporary file made beside the target. A device or FIFO cannot be
 * renamed over without destroying it (as root, --json /dev/stdout used to
 * turn the symlink into a regular file), so those are opened in place.
 */
#include "moesim/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HOPS 40 /* symlinks followed, as Linux's ELOOP limit */

/* path with symlinks in its last component followed; owned. NULL with errno
 * set (ELOOP) if they do not end. */
static char *follow(const char *path)
{
    char *p = xstrdup(path, "output path");
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
            return p;
        size_t cap = (size_t)st.st_size + 1 > 64 ? (size_t)st.st_size + 1 : 64;
        char *t = xmalloc(cap + 1, "symlink target");
        ssize_t n = readlink(p, t, cap);
        if (n < 0) {
            free(t);
            return p;
        }
        t[n] = '\0';
        const char *slash = strrchr(p, '/');
        if (t[0] == '/' || !slash) { /* absolute, or relative to "." */
            free(p);
            p = t;
            continue;
        }
        size_t dn = (size_t)(slash - p) + 1, len = dn + (size_t)n + 1;
        char *j = xmalloc(len, "output path");
        memcpy(j, p, dn);
        memcpy(j + dn, t, (size_t)n + 1);
        free(t);
        free(p);
        p = j;
    }
    free(p);
    errno = ELOOP;
    return NULL;
}

static int open_failed(outfile *o, const char *path, int err, err_t *e)
{
    free(o->path);
    free(o->tmp);
    *o = (outfile)OUTFILE_INIT;
    return err_set(e, ERR_RUN, path, 0, NULL, "cannot write: %s", strerror(err));
}

/* Creates o->tmp beside o->path: "<path>.tmp.<pid>", or, where the base name
 * is too long to take the suffix (NAME_MAX is 255 bytes on Linux), its first
 * 100 bytes, ".tmp.<pid>" and a number that makes it new. Returns the
 * descriptor, or -1 with errno set. */
static int open_tmp(outfile *o)
{
    const char *slash = strrchr(o->path, '/');
    size_t dir = slash ? (size_t)(slash - o->path) + 1 : 0;
    size_t base = strlen(o->path) - dir;
    size_t n = strlen(o->path) + 48;
    o->tmp = xmalloc(n, "temporary file name");
    if (base + 24 <= 255) {
        snprintf(o->tmp, n, "%s.tmp.%ld", o->path, (long)getpid());
        return open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    }
    for (int k = 0; k < 1000; k++) {
        snprintf(o->tmp, n, "%.*s.tmp.%ld.%d", (int)(dir + 100), o->path, (long)getpid(), k);
        int fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int outfile_open(outfile *o, const char *path, err_t *e)
{
    *o = (outfile)OUTFILE_INIT;
    if (strcmp(path, "-") == 0) {
        o->f = stdout;
        o->path = xstrdup("-", "output path");
        return 0;
    }
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        return open_failed(o, path, EISDIR, e);
    if (exists && !S_ISREG(st.st_mode)) { /* device, FIFO, socket: in place */
        o->path = xstrdup(path, "output path");
        o->f = fopen(path, "w");
        return o->f ? 0 : open_failed(o, path, errno, e);
    }
    if (!(o->path = follow(path)))
        return open_failed(o, path, errno, e);
    int fd = open_tmp(o);
    if (fd < 0)
        return open_failed(o, path, errno, e);
    if (exists) /* the replacement keeps the mode of what it replaces */
        (void)fchmod(fd, st.st_mode & 07777);
    if (!(o->f = fdopen(fd, "w"))) {
        int saved = errno;
        close(fd);
        remove(o->tmp);
        return open_failed(o, path, saved, e);
    }
    return 0;
}

int outfile_commit(outfile *o, err_t *e)
{
    errno = 0;
    int bad = fflush(o->f) != 0 || ferror(o->f) != 0;
    int saved = errno;
    if (o->f != stdout)
        bad |= fclose(o->f) != 0;
    if (!saved)
        saved = errno;
    o->f = NULL;
    if (!bad && o->tmp && rename(o->tmp, o->path) != 0) {
        bad = 1;
        saved = errno;
    }
    if (bad) {
        if (o->tmp)
            remove(o->tmp);
        err_set(e, ERR_RUN, o->path, 0, NULL, "cannot write: %s",
                saved ? strerror(saved) : "write error");
    }
    free(o->tmp);
    free(o->path);
    *o = (outfile)OUTFILE_INIT;
    return bad ? -1 : 0;
}

void outfile_abort(outfile *o)
{
    if (o->f && o->f != stdout)
        fclose(o->f);
    if (o->tmp)
        remove(o->tmp);
    free(o->tmp);
    free(o->path);
    *o = (outfile)OUTFILE_INIT;
}
