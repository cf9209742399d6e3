/*
 * sweep.c - the variant plan and the process pool behind `moesim compare`.
 *
 * The variants are the cross product of the --vary lists, numbered in
 * nested-loop order (the first --vary slowest), like the digits of a mixed-
 * radix number whose last digit is the last --vary.
 *
 * The fork backend: each variant runs in a child made by fork(), which
 * calls the caller's function and writes its status and record to a pipe
 * before _exit. The parent polls every child's pipe and reads what is there
 * (so a child never waits long on a full pipe), and when a pipe ends reaps
 * the child and checks that a whole message came: a child that died or
 * exited without one is a failed variant with that said, and the sweep goes
 * on. Processes rather than threads because a simulation is a whole
 * program's worth of state (play_t, models, GSL streams) and a crash or an
 * exhausted allocation in one variant must not take the others down. poll
 * waits at most STOP_POLL_MS, so a stop asked for by a signal (which may
 * land just before poll and not interrupt it) is seen within that time;
 * the children hold no files, so SIGKILL is a safe way to end them.
 */
#include "moesim/sweep.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STOP_POLL_MS 200

/* ---- the plan: --vary lists and their cross product ---- */

/* A copy of s[0..n) with blanks trimmed at both ends. */
static char *dup_trimmed(const char *s, size_t n, const char *what)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    char *out = xmalloc(n + 1, what);
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

/* Where the value starting at s ends: the first comma outside double quotes
 * and outside brackets, braces and parentheses (a libconfig array or group
 * holds commas of its own), or the end of the string. */
static const char *value_end(const char *s)
{
    int depth = 0, quoted = 0;
    for (; *s; s++) {
        if (quoted) {
            if (*s == '\\' && s[1])
                s++;
            else if (*s == '"')
                quoted = 0;
        } else if (*s == '"') {
            quoted = 1;
        } else if (*s == '[' || *s == '{' || *s == '(') {
            depth++;
        } else if ((*s == ']' || *s == '}' || *s == ')') && depth > 0) {
            depth--;
        } else if (*s == ',' && depth == 0) {
            break;
        }
    }
    return s;
}

static void vary_fini(sweep_vary *v)
{
    for (int i = 0; i < v->nvalues; i++)
        free(v->assign[i]);
    free(v->assign);
    free(v->value);
    free(v->key);
    memset(v, 0, sizeof(*v));
}

int sweep_plan_add(sweep_plan *p, const char *spec, err_t *e)
{
    const char *eq = strchr(spec, '=');
    if (!eq)
        return err_set(e, ERR_INPUT, NULL, 0, "--vary",
                       "\"%.200s\" has no '='; expected KEY=V1,V2,... such as "
                       "parallel.ep=4,8",
                       spec);
    sweep_vary v = {0};
    v.key = dup_trimmed(spec, (size_t)(eq - spec), "--vary key");
    if (!v.key[0]) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "\"%.200s\" names no key; expected KEY=V1,V2,... such as parallel.ep=4,8",
                spec);
        goto fail;
    }
    const char *list = eq + 1;
    if (!list[strspn(list, " \t")]) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s= lists no values; expected at least one value after '=', such as "
                "%.128s=V1,V2",
                v.key, v.key);
        goto fail;
    }
    for (int i = 0; i < p->nvary; i++)
        if (strcmp(p->vary[i].key, v.key) == 0) {
            err_set(e, ERR_INPUT, NULL, 0, "--vary",
                    "%.128s is varied twice (--vary %d and %d); allowed: each key in one "
                    "--vary, with all its values: %.128s=V1,V2,...",
                    v.key, i + 1, p->nvary + 1, v.key);
            goto fail;
        }
    if (p->nvary == SWEEP_MAX_VARY) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s: more than %d --vary options; allowed: at most %d varied keys",
                v.key, SWEEP_MAX_VARY, SWEEP_MAX_VARY);
        goto fail;
    }

    /* count, then split */
    int count = 0;
    for (const char *s = list;; s++) {
        s = value_end(s);
        count++;
        if (!*s)
            break;
    }
    if (p->variants * count > SWEEP_MAX_VARIANTS) {
        err_set(e, ERR_INPUT, NULL, 0, "--vary",
                "%.128s: %d values make %ld variants; allowed: at most %d in all (the "
                "product of the --vary value counts)",
                v.key, count, p->variants * count, SWEEP_MAX_VARIANTS);
        goto fail;
    }
    v.assign = xcalloc((size_t)count, sizeof(*v.assign), "--vary values");
    v.value = xcalloc((size_t)count, sizeof(*v.value), "--vary values");
    size_t klen = strlen(v.key);
    const char *s = list;
    for (int i = 0; i < count; i++) {
        const char *end = value_end(s);
        char *val = dup_trimmed(s, (size_t)(end - s), "--vary value");
        if (!val[0]) {
            free(val);
            err_set(e, ERR_INPUT, NULL, 0, "--vary",
                    "%.128s=%.200s: value %d of %d is empty; allowed: values separated by "
                    "single commas, such as %.128s=V1,V2",
                    v.key, list, i + 1, count, v.key);
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (strcmp(v.value[j], val) == 0) {
                err_set(e, ERR_INPUT, NULL, 0, "--vary",
                        "%.128s: the value %.200s is listed twice; allowed: each value once",
                        v.key, val);
                free(val);
                goto fail;
            }
        size_t vlen = strlen(val);
        v.assign[i] = xmalloc(klen + 1 + vlen + 1, "--vary value");
        memcpy(v.assign[i], v.key, klen);
        v.assign[i][klen] = '=';
        memcpy(v.assign[i] + klen + 1, val, vlen + 1);
        v.value[i] = v.assign[i] + klen + 1;
        v.nvalues = i + 1;
        free(val);
        s = *end ? end + 1 : end;
    }
    p->vary[p->nvary++] = v;
    p->variants *= count;
    return 0;

fail:
    vary_fini(&v);
    return -1;
}

void sweep_plan_fini(sweep_plan *p)
{
    for (int i = 0; i < p->nvary; i++)
        vary_fini(&p->vary[i]);
    p->nvary = 0;
    p->variants = 1;
}

void sweep_plan_choice(const sweep_plan *p, long index, int *choice)
{
    for (int k = p->nvary - 1; k >= 0; k--) { /* the last --vary is the fastest digit */
        choice[k] = (int)(index % p->vary[k].nvalues);
        index /= p->vary[k].nvalues;
    }
}

void sweep_plan_sets(const sweep_plan *p, long index, const char **sets)
{
    int choice[SWEEP_MAX_VARY];
    sweep_plan_choice(p, index, choice);
    for (int k = 0; k < p->nvary; k++)
        sets[k] = p->vary[k].assign[choice[k]];
}

char *sweep_plan_label(const sweep_plan *p, long index, char *buf, size_t n)
{
    const char *sets[SWEEP_MAX_VARY];
    sweep_plan_sets(p, index, sets);
    size_t k = 0;
    if (n)
        buf[0] = '\0';
    for (int i = 0; i < p->nvary && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s%s", i ? ", " : "", sets[i]);
        k += w > 0 ? (size_t)w : 0;
    }
    return buf;
}


/* ---- the pool (fork backend) ---- */

/* A running child: its pipe and how much of its message has arrived. */
typedef struct child {
    pid_t pid;
    int fd;      /* read end; -1 when the slot is free */
    long index;  /* the variant */
    size_t got;  /* bytes read; more than a message means a broken child */
} child;

typedef struct pool {
    const sweep_config *c;
    char *records;
    sweep_status *status;
    child *kids;
    int slots;
    char *msg;   /* per slot: a status and a record, as the child sent them */
    size_t msg_size;
} pool;

static void write_all(int fd, const void *buf, size_t n)
{
    const char *c = buf;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(ERR_RUN); /* the parent sees a short message and says so */
        c += w;
        n -= (size_t)w;
    }
}

/* What a child does: one variant, start to end, down the pipe. */
_Noreturn static void child_main(const pool *pl, long index, int fd)
{
    const sweep_config *c = pl->c;
    char *msg = xcalloc(1, pl->msg_size, "sweep message");
    void *record = xcalloc(1, c->record_size, "sweep record"); /* aligned, unlike msg + n */
    sweep_status *st = (sweep_status *)msg;
    err_t e = ERR_INIT;
    if (c->run(c->ctx, index, record, &e) < 0) {
        st->code = (int32_t)(e.code == ERR_OK ? ERR_RUN : e.code);
        err_format(&e, st->error, sizeof(st->error));
    }
    memcpy(msg + sizeof(*st), record, c->record_size);
    write_all(fd, msg, pl->msg_size);
    close(fd);
    _exit(st->code == ERR_OK ? 0 : (int)st->code);
}

/* Forks the child of variant `index` into slot k; -1 (errno set) if the
 * system would not. */
static int spawn(pool *pl, int k, long index)
{
    int fds[2];
    if (pipe(fds) < 0)
        return -1;
    fflush(stdout); /* nothing buffered may be written twice */
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        close(fds[1]);
        errno = saved;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < pl->slots; i++) /* the other children's pipes are not ours */
            if (pl->kids[i].fd >= 0)
                close(pl->kids[i].fd);
        child_main(pl, index, fds[1]);
    }
    close(fds[1]);
    pl->kids[k] = (child){pid, fds[0], index, 0};
    return 0;
}

static void fail_status(sweep_status *st, const char *fmt, int arg)
{
    st->code = ERR_RUN;
    snprintf(st->error, sizeof(st->error), fmt, arg);
}

/* Reads what slot k's child has sent; when the pipe ends, reaps the child
 * and files its status and record. Returns 1 when the child is done. */
static int collect(pool *pl, int k)
{
    child *c = &pl->kids[k];
    char *msg = pl->msg + (size_t)k * pl->msg_size, spare[64];
    char *dst = c->got < pl->msg_size ? msg + c->got : spare;
    size_t room = c->got < pl->msg_size ? pl->msg_size - c->got : sizeof(spare);
    ssize_t n = read(c->fd, dst, room);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n > 0) {
        c->got += (size_t)n;
        return 0;
    }
    int read_errno = n < 0 ? errno : 0;
    close(c->fd);
    c->fd = -1;
    int ws = 0;
    while (waitpid(c->pid, &ws, 0) < 0 && errno == EINTR)
        ;
    sweep_status *st = &pl->status[c->index];
    const sweep_status *got = (const sweep_status *)msg;
    if (c->got == pl->msg_size && WIFEXITED(ws) && (got->code == ERR_OK) == (WEXITSTATUS(ws) == 0)) {
        *st = *got;
        st->error[sizeof(st->error) - 1] = '\0'; /* a message is trusted, but not that far */
        memcpy(pl->records + (size_t)c->index * pl->c->record_size, msg + sizeof(*st),
               pl->c->record_size);
    } else if (WIFSIGNALED(ws)) {
        fail_status(st, "the simulation process died (signal %d)", WTERMSIG(ws));
    } else if (read_errno) {
        st->code = ERR_RUN;
        snprintf(st->error, sizeof(st->error), "cannot read its result: %s",
                 strerror(read_errno));
    } else {
        fail_status(st, "the simulation process exited with status %d without a result",
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    return 1;
}

/* Ends every running child (a stop): SIGKILL, then reap. */
static void kill_all(pool *pl)
{
    for (int i = 0; i < pl->slots; i++) {
        child *c = &pl->kids[i];
        if (c->fd < 0)
            continue;
        kill(c->pid, SIGKILL);
        close(c->fd);
        c->fd = -1;
        while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
}

/* One round: start what fits, wait for pipes, read them. Returns the
 * variants that finished in it. */
static long round_(pool *pl, long *next, int *running, struct pollfd *pfd, int *which)
{
    const sweep_config *c = pl->c;
    long done = 0;
    for (int i = 0; i < pl->slots && *next < c->variants; i++) {
        if (pl->kids[i].fd >= 0)
            continue;
        if (spawn(pl, i, *next) < 0) { /* this variant fails; the others go on */
            sweep_status *st = &pl->status[*next];
            st->code = ERR_RUN;
            snprintf(st->error, sizeof(st->error), "cannot start a process: %s",
                     strerror(errno));
            (*next)++;
            return 1;
        }
        (*next)++;
        (*running)++;
    }
    int np = 0;
    for (int i = 0; i < pl->slots; i++)
        if (pl->kids[i].fd >= 0) {
            pfd[np] = (struct pollfd){.fd = pl->kids[i].fd, .events = POLLIN};
            which[np++] = i;
        }
    int r = poll(pfd, (nfds_t)np, STOP_POLL_MS);
    if (r < 0 && errno != EINTR)
        for (int j = 0; j < np; j++) /* poll itself failed: plain blocking reads */
            pfd[j].revents = POLLIN;
    for (int j = 0; r != 0 && j < np; j++)
        if (pfd[j].revents && collect(pl, which[j])) {
            (*running)--;
            done++;
        }
    return done;
}

int sweep_run(const sweep_config *c, void *records, sweep_status *status, err_t *e)
{
    long n = c->variants;
    pool pl = {.c = c, .records = records, .status = status,
               .slots = (int)(c->jobs < n ? c->jobs : n),
               .msg_size = sizeof(sweep_status) + c->record_size};
    pl.kids = xcalloc((size_t)pl.slots, sizeof(*pl.kids), "child processes");
    pl.msg = xcalloc((size_t)pl.slots, pl.msg_size, "sweep messages");
    struct pollfd *pfd = xcalloc((size_t)pl.slots, sizeof(*pfd), "poll set");
    int *which = xcalloc((size_t)pl.slots, sizeof(*which), "poll set");
    for (int i = 0; i < pl.slots; i++)
        pl.kids[i].fd = -1;
    for (long v = 0; v < n; v++)
        status[v].code = -1;
    memset(records, 0, (size_t)n * c->record_size);

    long next = 0, done = 0, last = -1;
    int running = 0, stopped = 0;
    while (done < n) {
        if (c->stop && c->stop()) {
            stopped = 1;
            break;
        }
        if (c->progress && done * (SWEEP_MAX_JOBS + 1) + running != last) {
            last = done * (SWEEP_MAX_JOBS + 1) + running;
            c->progress(c->progress_ctx, done, n, running);
        }
        done += round_(&pl, &next, &running, pfd, which);
    }
    if (stopped)
        kill_all(&pl);
    free(pl.kids);
    free(pl.msg);
    free(pfd);
    free(which);
    if (stopped)
        return err_set(e, ERR_RUN, NULL, 0, NULL, "stopped");
    return 0;
}
