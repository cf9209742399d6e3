/*
 * forward.c - a schedule's steps as operations on per-GPU streams.
 *
 * The steps come in the schedule's merged order, so adding them in that
 * order puts every GPU's operations on its streams in its program's order.
 * Two arrays carry the dependencies: last[mb][gpu], the operation that ended
 * micro-batch mb's chain on that GPU so far, and prev[gpu], the GPU's last
 * operation of any micro-batch (for serial steps). A collective depends on
 * the chain of each of its members; a duplicate dependency in a row (the
 * members' chains ending in one collective) is dropped, others cost an edge.
 */
#include "moesim/forward.h"

#include <stdlib.h>
#include <string.h>

struct fwd {
    exec_t *x;
    fwd_layout lay;
    const sched_step *steps; /* borrowed */
    long n;
    int micro_batches;
    int *last;  /* micro_batches x gpus */
    int *prev;  /* gpus */
    int *grad;  /* gpus: the GPU's last gradient reduction (the optimizer waits for it) */
    int *deps;  /* scratch: 2 x the largest group */
    int *members;
};

/* tags: step index above, unit below */
#define UNIT_BITS 24
static uint64_t tag_of(long step, int unit)
{
    return ((uint64_t)step << UNIT_BITS) | (uint64_t)unit;
}

const sched_step *fwd_step(const fwd_t *f, uint64_t tag)
{
    return &f->steps[tag >> UNIT_BITS];
}

long fwd_step_index(uint64_t tag)
{
    return (long)(tag >> UNIT_BITS);
}

int fwd_unit(uint64_t tag)
{
    return (int)(tag & ((1u << UNIT_BITS) - 1));
}

exec_class fwd_class(sched_kind k)
{
    switch (k) {
    case SCHED_SEND:
        return EXEC_CLASS_PP;
    case SCHED_TP_ATTN:
    case SCHED_TP_FFN:
        return EXEC_CLASS_TP;
    case SCHED_GRAD_DENSE:
    case SCHED_GRAD_EXPERT:
    case SCHED_GATHER_DENSE:
    case SCHED_GATHER_EXPERT:
        return EXEC_CLASS_DP;
    default:
        return EXEC_CLASS_ALLTOALL;
    }
}

/* A group step's group size and its stage-major member lists. */
static int group_of(const fwd_layout *L, sched_kind k, const int **gpu)
{
    switch (k) {
    case SCHED_TP_ATTN:
    case SCHED_TP_FFN:
        *gpu = L->tp_gpu;
        return L->tp;
    case SCHED_GRAD_DENSE:
    case SCHED_GATHER_DENSE:
        *gpu = L->dp_gpu;
        return L->dp;
    case SCHED_GRAD_EXPERT:
    case SCHED_GATHER_EXPERT:
        *gpu = L->edp_gpu;
        return L->edp;
    default:
        *gpu = L->a2a_gpu;
        return L->a2a;
    }
}

int fwd_group_size(const fwd_layout *L, sched_kind k)
{
    const int *gpu;
    return group_of(L, k, &gpu);
}

fwd_t *fwd_new(exec_t *x, const fwd_layout *lay, const sched_step *steps, long n,
               int micro_batches)
{
    fwd_t *f = xcalloc(1, sizeof(*f), "forward pass");
    f->x = x;
    f->lay = *lay;
    f->n = n;
    f->micro_batches = micro_batches;
    f->steps = steps;
    f->last = xcalloc((size_t)micro_batches * (size_t)lay->gpus, sizeof(*f->last),
                      "micro-batch chains");
    f->prev = xcalloc((size_t)lay->gpus, sizeof(*f->prev), "GPU programs");
    f->grad = xcalloc((size_t)lay->gpus, sizeof(*f->grad), "gradient reductions");
    int most = 2;
    const int sizes[] = {lay->a2a, lay->tp, lay->dp, lay->edp};
    for (int i = 0; i < 4; i++)
        most = sizes[i] > most ? sizes[i] : most;
    f->deps = xcalloc(2 * (size_t)most, sizeof(*f->deps), "dependencies");
    f->members = xcalloc((size_t)most, sizeof(*f->members), "group members");
    return f;
}

void fwd_free(fwd_t *f)
{
    if (!f)
        return;
    free(f->last);
    free(f->prev);
    free(f->grad);
    free(f->deps);
    free(f->members);
    free(f);
}

/* The dependencies of a unit spanning members[0..n): each member's chain of
 * micro-batch mb (and its program, if serial), without a repeat in a row. */
static int gather(fwd_t *f, const int *members, int n, int mb, int serial)
{
    int *chain = f->last + (size_t)mb * (size_t)f->lay.gpus, k = 0;
    for (int i = 0; i < n; i++) {
        int c = chain[members[i]], p = serial ? f->prev[members[i]] : -1;
        if (c >= 0 && (k == 0 || f->deps[k - 1] != c))
            f->deps[k++] = c;
        if (p >= 0 && p != c && (k == 0 || f->deps[k - 1] != p))
            f->deps[k++] = p;
    }
    return k;
}

/* The operation `id` now ends micro-batch mb's chain and the program on
 * every member. */
static void advance(fwd_t *f, const int *members, int n, int mb, int id)
{
    int *chain = f->last + (size_t)mb * (size_t)f->lay.gpus;
    for (int i = 0; i < n; i++) {
        chain[members[i]] = id;
        f->prev[members[i]] = id;
    }
}

/* One step as operations: per GPU, per group, or per stage pair. */
static long add_step(fwd_t *f, long i)
{
    const sched_step *st = &f->steps[i];
    const fwd_layout *L = &f->lay;
    sched_kind k = (sched_kind)st->kind;
    size_t base = (size_t)st->stage * (size_t)L->per_stage;
    long ops = 0;
    if (sched_is_compute(k)) {
        for (int u = 0; u < L->per_stage; u++, ops++) {
            int g = L->stage_gpu[base + (size_t)u];
            int nd = gather(f, &g, 1, st->mb, st->serial);
            if (k == SCHED_OPTIMIZER && f->grad[g] >= 0) /* and the stream's earlier ones */
                f->deps[nd++] = f->grad[g];
            int id = exec_compute(f->x, g, EXEC_STREAM_COMPUTE, k, tag_of(i, u), f->deps, nd);
            advance(f, &g, 1, st->mb, id);
        }
        return ops;
    }
    if (k == SCHED_SEND) {
        size_t to = (size_t)st->to * (size_t)L->per_stage;
        for (int u = 0; u < L->per_stage; u++, ops++) {
            f->members[0] = L->stage_gpu[base + (size_t)u];
            f->members[1] = L->stage_gpu[to + (size_t)u];
            int nd = gather(f, f->members, 2, st->mb, st->serial);
            int id = exec_collective(f->x, f->members, 2, L->p2p_stream, k, EXEC_CLASS_PP,
                                     tag_of(i, u), f->deps, nd);
            advance(f, f->members, 2, st->mb, id);
        }
        return ops;
    }
    const int *gpu;
    int size = group_of(L, k, &gpu);
    exec_class cls = fwd_class(k);
    int stream = cls == EXEC_CLASS_DP ? L->grad_stream : EXEC_STREAM_COMM;
    gpu += base;
    /* a gradient reduction ends no chain: backward goes on under it */
    int reduce = k == SCHED_GRAD_DENSE || k == SCHED_GRAD_EXPERT;
    for (int u = 0; u < L->per_stage / size; u++, ops++) {
        const int *m = gpu + (size_t)u * (size_t)size;
        int nd = gather(f, m, size, st->mb, st->serial);
        int id = exec_collective(f->x, m, size, stream, k, cls, tag_of(i, u), f->deps, nd);
        for (int j = 0; reduce && j < size; j++)
            f->grad[m[j]] = id;
        if (!reduce)
            advance(f, m, size, st->mb, id);
    }
    return ops;
}

long fwd_add_pass(fwd_t *f)
{
    memset(f->last, 0xff, (size_t)f->micro_batches * (size_t)f->lay.gpus * sizeof(*f->last));
    memset(f->prev, 0xff, (size_t)f->lay.gpus * sizeof(*f->prev));
    memset(f->grad, 0xff, (size_t)f->lay.gpus * sizeof(*f->grad));
    long ops = 0;
    for (long i = 0; i < f->n; i++)
        ops += add_step(f, i);
    return ops;
}
