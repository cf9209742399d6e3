/*
 * train.c - a training step's schedule and parameters (train.h).
 */
#include "moesim/train.h"

#include <stdlib.h>
#include <string.h>


/* Chunks: pp of them (gpipe, 1f1b, dualpipe: parallel.pp_layers or L / pp
 * each, the last taking the rest), or pp x vpp of L / (pp vpp) layers. */
static int chunks_setup(const scenario *s, train_sched *ts)
{
    int pp = s->parallel.pp, v = s->parallel.vpp, L = s->model.layers;
    int C = s->parallel.schedule == SCHED_PIPE_INTERLEAVED ? pp * v : pp;
    ts->chunk_first = xcalloc((size_t)C + 1, sizeof(int), "chunks");
    ts->chunk_of = xcalloc((size_t)L, sizeof(int), "chunks");
    for (int c = 0; c < C; c++)
        ts->chunk_first[c + 1] = ts->chunk_first[c] +
                                 (C == pp && s->parallel.npp_layers ? s->parallel.pp_layers[c]
                                                                    : L / C);
    ts->chunk_first[C] = L;
    for (int c = 0; c < C; c++)
        for (int l = ts->chunk_first[c]; l < ts->chunk_first[c + 1]; l++)
            ts->chunk_of[l] = c;
    return C;
}

/* Buckets, from each chunk's last layer down: a bucket closes at the layer
 * whose gradients bring it to training.grad_bucket bytes (or at the chunk's
 * first layer); numbered in layer order. */
static void buckets_setup(const scenario *s, train_sched *ts, int C)
{
    scenario_pshape t;
    scenario_pshape_init(s, &t);
    double gb = dtype_bytes(s->training.grad_dtype), acc = 0;
    int L = s->model.layers, id = 0;
    int *low = xcalloc((size_t)L, sizeof(*low), "buckets"); /* 1: a bucket's lowest layer */
    ts->bucket_of = xcalloc((size_t)L, sizeof(int), "buckets");
    for (int c = 0; c < C; c++, acc = 0)
        for (int l = ts->chunk_first[c + 1] - 1; l >= ts->chunk_first[c]; l--) {
            double d, x;
            scenario_params(s, &t, l, 1, &d, &x);
            acc += (d + x) * gb;
            low[l] = acc >= s->training.grad_bucket || l == ts->chunk_first[c];
            acc = low[l] ? 0 : acc;
        }
    for (int l = 0; l < L; l++) { /* a bucket's lowest layer opens it */
        id += l > 0 && low[l];
        ts->bucket_of[l] = id;
    }
    free(low);
}

int train_sched_build(const scenario *s, train_sched *ts, err_t *e)
{
    memset(ts, 0, sizeof(*ts));
    int L = s->model.layers, C = chunks_setup(s, ts);
    buckets_setup(s, ts, C);
    ts->moe = xcalloc((size_t)L, sizeof(bool), "MoE layers");
    for (int l = 0; l < L; l++)
        ts->moe[l] = scenario_is_moe_layer(s, l);
    ts->c = (sched_train_config){
        .layers = L, .stages = s->parallel.pp, .vpp = s->parallel.vpp,
        .chunk_first = ts->chunk_first, .moe = ts->moe, .tp = s->parallel.tp > 1,
        .head = s->model.vocab > 0, .micro_batches = s->workload.micro_batches,
        .pipe = (sched_pipe)s->parallel.schedule,
        .recompute = (sched_recompute)s->training.recompute, .bucket_of = ts->bucket_of,
        .overlap_grad = s->training.overlap_grad_reduce, .zero = s->training.zero == 1,
        .overlap_a2a = s->training.overlap_a2a};
    ts->n = sched_training_count(&ts->c);
    ts->steps = xcalloc((size_t)ts->n + 1, sizeof(*ts->steps), "schedule");
    if (sched_training(&ts->c, ts->steps, e) < 0) {
        train_sched_free(ts);
        return -1;
    }
    return 0;
}

void train_sched_free(train_sched *ts)
{
    free(ts->chunk_first);
    free(ts->chunk_of);
    free(ts->bucket_of);
    free(ts->moe);
    free(ts->steps);
    memset(ts, 0, sizeof(*ts));
}

void train_ring_plan(coll_plan *out, const int *m, int n, double bytes, int phases)
{
    for (int k = 0; k < phases; k++) {
        coll_plan_phase(out);
        for (int r = 0; r < n; r++)
            coll_plan_add(out, m[r], m[(r + 1) % n], bytes / n);
    }
}
