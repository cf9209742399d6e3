/*
 * train.c - a training step's schedule and parameters (train.h), and what
 * the play adds for training steps (play_int.h): per-GPU training times,
 * each micro-batch routed into a slab at its first dispatch, the routed
 * sample's replays (DualPipe's second direction moved to its stages), the
 * gradient buckets' plans and the training metrics.
 */
#include "moesim/train.h"

#include <stdlib.h>
#include <string.h>

#include "moesim/router.h"
#include "play_int.h"


/* The chunks (scenario_chunks) and the chunk of each layer. */
static int chunks_setup(const scenario *s, train_sched *ts)
{
    int L = s->model.layers, C = scenario_chunks(s, NULL);
    ts->chunk_first = xcalloc((size_t)C + 1, sizeof(int), "chunks");
    ts->chunk_of = xcalloc((size_t)L, sizeof(int), "chunks");
    scenario_chunks(s, ts->chunk_first);
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

/* ---- training on the play (play_int.h) ---- */

/* Training's per-GPU times: attention's gradients, the MTP modules (each
 * an attention, its experts' share of a balanced layer - the GPU's slots
 * with top_k x tokens / (tp x slots) tokens each - and an output layer; their
 * all-to-alls are not modelled), and Adam over the GPU's shard of its
 * stage's parameters (the largest stage's; 1/dp of the dense ones and 1/edp
 * of the experts' with ZeRO-1). */
void train_times_setup(play_t *p, int64_t tpr)
{
    const scenario *s = p->s;
    const gpu_spec *g = &p->gpu;
    int sel = s->training.recompute == SCHED_RECOMPUTE_SELECTIVE;
    p->t_attn_b = gpu_attention_grad_time(g, &p->attn_shape, tpr, 0, sel);
    p->t_attn_w = gpu_attention_grad_time(g, &p->attn_shape, tpr, 1, false);
    scenario_pshape_init(s, &p->tshape);
    if (s->model.mtp_layers > 0) {
        int64_t *bal = xcalloc((size_t)p->spr, sizeof(*bal), "MTP tokens");
        for (int i = 0; i < p->spr; i++)
            bal[i] = tpr * s->model.top_k / ((int64_t)p->tp * p->spr);
        sim_time_t one = sat_add(p->t_attn, sat_add(p->t_head, p->t_shared));
        one = sat_add(one, gpu_experts_time(g, &p->expert_shape, bal, p->spr));
        for (int i = 0; i < s->model.mtp_layers; i++)
            p->t_mtp = sat_add(p->t_mtp, one);
        free(bal);
    }
    /* each layer's parameters on the stages that run it (dualpipe: both) */
    int edp = p->per_stage / (s->parallel.ep * p->etp), M = p->M;
    double *held = xcalloc((size_t)p->stages, sizeof(*held), "stage parameters"), params = 0;
    for (int l = 0; l < s->model.layers; l++) {
        double d, x;
        scenario_params(s, &p->tshape, l, 1, &d, &x);
        double mine = s->training.zero ? d / s->parallel.dp + x / edp : d + x;
        int a = sched_chunk_stage(&p->ts.c, p->ts.chunk_of[l], 0);
        int b = sched_chunk_stage(&p->ts.c, p->ts.chunk_of[l], M - 1);
        held[a] += mine;
        if (b != a)
            held[b] += mine;
    }
    for (int k = 0; k < p->stages; k++)
        params = held[k] > params ? held[k] : params;
    free(held);
    p->t_opt = gpu_optimizer_time(g, params, dtype_bytes(s->training.grad_dtype),
                                  dtype_bytes(s->model.weight_dtype));
}

/* A slab for micro-batch mb: a released one, or a new one. */
static void slab_get(play_t *p, int mb)
{
    if (p->nfree > 0) {
        p->slab_of[mb] = p->slab_free[--p->nfree];
        return;
    }
    const scenario *s = p->s;
    size_t L = (size_t)s->moe_layers, G = (size_t)p->gpus, n = (size_t)p->a2a;
    int most = 0;
    for (int u = 0; u < p->a2a_groups; u++)
        most = p->a2a_runs[u] > most ? p->a2a_runs[u] : most;
    p->slab = xrealloc(p->slab, (size_t)p->nslab + 1, sizeof(*p->slab), "slabs");
    p->slab_free = xrealloc(p->slab_free, (size_t)p->nslab + 1, sizeof(*p->slab_free), "slabs");
    struct slab *sl = &p->slab[p->nslab];
    sl->grp = xcalloc(L * (size_t)p->gps, sizeof(*sl->grp), "MoE blocks");
    for (size_t i = 0; i < L * (size_t)p->gps; i++) {
        sl->grp[i].bytes = xcalloc(n * n, sizeof(double), "dispatch bytes");
        sl->grp[i].node = xcalloc(n * (size_t)most, sizeof(double), "node bytes");
    }
    sl->local = xcalloc(L * G * (size_t)p->spr, sizeof(*sl->local), "expert tokens");
    sl->gt = xcalloc(L * G, sizeof(*sl->gt), "GPU tokens");
    p->slab_of[mb] = p->nslab++;
}

/* With a routed sample of n micro-batches, the one micro-batch mb replays:
 * itself if it is routed, else one of the first n of its direction
 * (DualPipe's two halves run the layers on different stages). */
int train_replay_of(const play_t *p, int mb)
{
    int n = p->sample, half = p->s->parallel.schedule == SCHED_PIPE_DUALPIPE ? p->M / 2 : p->M;
    int base = mb / half * half;
    return n > 0 ? base + (mb - base) % n : mb;
}

/* Micro-batch mb's last operation has ended: its slab is free (a routed
 * sample's stays for the replays until the step ends). */
void train_slab_put(play_t *p, int mb)
{
    int routed = train_replay_of(p, mb) == mb;
    if (p->slab_of[mb] < 0 || (p->sample > 0 && routed && !p->step_over))
        return;
    if (!routed) { /* a replay: the slab is its source's */
        p->slab_of[mb] = -1;
        return;
    }
    p->slab_free[p->nfree++] = p->slab_of[mb];
    p->slab_of[mb] = -1;
}

/* Micro-batch mb, at its first dispatch: a batch of the source's tokens
 * (every data-parallel replica's micro-batch mb), routed through every MoE
 * layer in turn (capacity over the micro-batch, as one forward call over
 * it sees), each layer's rows kept for the groups of the stage that runs
 * it for mb. */
/* DualPipe, force-balanced or routing a sample: micro-batch `to` (the
 * second direction's j-th routed one) takes `from`'s (the first
 * direction's j-th) slab moved to the stages that run its layers: its rows
 * per member pair as they are, its tokens per GPU and slot from GPU i of
 * one stage to GPU i of the other. Every stage's GPUs sit alike in the
 * layout (the same DP, EP and node positions) and routing depends on no
 * stage, so forced choices give exactly what routing `to` would; a sample
 * replays `from`'s tokens in the other direction as in its own. */
static void mirror_slab(play_t *p, int from, int to)
{
    const struct slab *a = &p->slab[p->slab_of[from]];
    struct slab *b = &p->slab[p->slab_of[to]];
    size_t G = (size_t)p->gpus, spr = (size_t)p->spr, n = (size_t)p->a2a;
    size_t per = (size_t)p->per_stage;
    int most = 0;
    for (int u = 0; u < p->a2a_groups; u++)
        most = p->a2a_runs[u] > most ? p->a2a_runs[u] : most;
    for (int l = 0; l < p->s->model.layers; l++) {
        int moe = p->moe_of[l];
        if (moe < 0)
            continue;
        size_t ka = (size_t)sched_chunk_stage(&p->ts.c, p->ts.chunk_of[l], from);
        size_t kb = (size_t)sched_chunk_stage(&p->ts.c, p->ts.chunk_of[l], to);
        for (int j = 0; j < p->gps; j++) {
            size_t i = (size_t)moe * (size_t)p->gps + (size_t)j;
            memcpy(b->grp[i].bytes, a->grp[i].bytes, n * n * sizeof(double));
            memcpy(b->grp[i].node, a->grp[i].node, n * (size_t)most * sizeof(double));
        }
        for (size_t i = 0; i < per; i++) {
            size_t ga = (size_t)p->stage_gpu[ka * per + i], gb = (size_t)p->stage_gpu[kb * per + i];
            memcpy(b->local + ((size_t)moe * G + gb) * spr, a->local + ((size_t)moe * G + ga) * spr,
                   spr * sizeof(*b->local));
            b->gt[(size_t)moe * G + gb] = a->gt[(size_t)moe * G + ga];
        }
    }
}

/* With a routed sample and training.route_groups = 1, one dispatch group
 * of each stage is routed and the stage's other groups take its rows and
 * counts (GPU i of one group's, GPU
 * i of the other's): every data-parallel replica draws its tokens from one
 * source, so the groups' routing is alike in law (the "DP replicas
 * draw from one distribution"; docs/training.md measures the error). Only
 * where group 0's GPUs route the batch's first tokens and every group spans
 * its nodes alike. */
static bool one_group(const play_t *p)
{
    if (p->s->training.route_groups != 1 || p->sample <= 0 || p->gps <= 1)
        return false;
    for (int i = 0; i < p->a2a; i++)
        if (p->src_off[p->a2a_gpu[i]] >= (int64_t)p->a2a * p->src_tokens)
            return false;
    for (int u = 1; u < p->a2a_groups; u++)
        if (p->a2a_runs[u] != p->a2a_runs[0])
            return false;
    return true;
}

/* Stage k's dispatch groups 1.. take group 0's rows and counts for layer
 * moe of micro-batch mb. */
static void copy_groups(play_t *p, int moe, int mb, int k)
{
    size_t n = (size_t)p->a2a, spr = (size_t)p->spr;
    int u0 = k * p->gps;
    const struct grp *g0 = grp_at(p, mb, moe, u0);
    int64_t *local = local_at(p, mb, moe), *gt = gtok_at(p, mb, moe);
    int64_t *all = p->routed[moe].gpu_tokens;
    for (int j = 1; j < p->gps; j++) {
        struct grp *gj = grp_at(p, mb, moe, u0 + j);
        memcpy(gj->bytes, g0->bytes, n * n * sizeof(double));
        memcpy(gj->node, g0->node, n * (size_t)p->a2a_runs[u0] * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            size_t a = (size_t)p->a2a_gpu[(size_t)u0 * n + i];
            size_t b = (size_t)p->a2a_gpu[(size_t)(u0 + j) * n + i];
            memcpy(local + b * spr, local + a * spr, spr * sizeof(*local));
            gt[b] = gt[a];
            all[b] = all[a];
        }
    }
}

/* Micro-batch mb routed: every MoE layer in turn, its rows kept for the
 * groups of the stage that runs it for mb (one group routed, the others
 * copied, when one_group). */
static int route_fresh(play_t *p, int mb)
{
    bool one = one_group(p);
    int tokens = p->tokens;
    if (one) { /* group 0's sources: the batch's first tokens */
        p->tokens = p->a2a * p->src_tokens;
        p->route_ranks = p->a2a;
    }
    slab_get(p, mb);
    if (p->src && !p->s->model.force_balance) /* forced choices need no logits */
        source_begin_batch(p->src, p->tokens, rng_stream(p->rng, "tokens"));
    int rc = 0;
    for (int l = 0; l < p->s->model.layers && rc == 0; l++) {
        int moe = p->moe_of[l];
        if (moe < 0)
            continue;
        if (play_route_moe(p, moe) < 0) {
            rc = -1;
            break;
        }
        int k = sched_chunk_stage(&p->ts.c, p->ts.chunk_of[l], mb);
        if (one) {
            p->routed[moe].left = 2; /* kept past group 0 for the copies */
            play_group_bytes(p, moe, mb, k * p->gps);
            copy_groups(p, moe, mb, k);
            play_layer_done(p, moe, p->a2a_gpu[(size_t)k * p->gps * p->a2a]);
            continue;
        }
        for (int j = 0; j < p->gps; j++)
            play_group_bytes(p, moe, mb, k * p->gps + j);
    }
    p->tokens = tokens;
    p->route_ranks = p->per_stage;
    p->route_batch++;
    return rc;
}

int train_route(play_t *p, int mb)
{
    int src = train_replay_of(p, mb);
    int half = p->M / 2;
    /* DualPipe's second direction: forced choices, or a routed sample, are
     * the first direction's moved to the other stages */
    if (src == mb && mb >= half && (p->s->model.force_balance || p->sample > 0) &&
        p->s->parallel.schedule == SCHED_PIPE_DUALPIPE) {
        if (p->slab_of[mb - half] < 0 && train_route(p, mb - half) < 0)
            return -1;
        slab_get(p, mb);
        mirror_slab(p, mb - half, mb);
        return 0;
    }
    if (src != mb) { /* a replay of micro-batch src's loads and bytes */
        if (p->slab_of[src] < 0 && train_route(p, src) < 0)
            return -1;
        p->slab_of[mb] = p->slab_of[src];
        return 0;
    }
    return route_fresh(p, mb);
}

/* A bucket's gradients (or ZeRO-1's gathered parameters) over one group
 * of n: a ring all-reduce, or with ZeRO-1 a reduce-scatter; a gather is an
 * all-gather of the updated parameters in the model's weight dtype. */
static double grad_bytes(const play_t *p, const sched_step *st, int n, int *phases)
{
    const scenario *s = p->s;
    sched_kind k = (sched_kind)st->kind;
    double dense, expert;
    scenario_params(s, &p->tshape, st->layer, st->span, &dense, &expert);
    int gather = k == SCHED_GATHER_DENSE || k == SCHED_GATHER_EXPERT;
    double params = k == SCHED_GRAD_DENSE || k == SCHED_GATHER_DENSE ? dense : expert;
    *phases = gather || s->training.zero ? n - 1 : 2 * (n - 1);
    return params * dtype_bytes(gather ? s->model.weight_dtype : s->training.grad_dtype);
}

void train_grad_plan(const play_t *p, const sched_step *st, const int *m, int n,
                      coll_plan *out)
{
    int phases;
    double bytes = grad_bytes(p, st, n, &phases);
    train_ring_plan(out, m, n, bytes, phases);
}

/* Training: every unit of a step beyond the forward's has ended. A
 * gradient reduction's bytes: each of its groups' n members sends
 * `phases` x bytes / n. */
void train_metrics(play_t *p, const sched_step *st, sim_time_t t)
{
    if (st->kind == SCHED_OPTIMIZER) {
        metrics_series_add(&p->m.optimizer, t);
        p->cur.optimizer_ps = t > p->cur.optimizer_ps ? t : p->cur.optimizer_ps;
    }
    if (st->kind != SCHED_GRAD_DENSE && st->kind != SCHED_GRAD_EXPERT)
        return;
    int n = st->kind == SCHED_GRAD_DENSE ? p->s->parallel.dp : p->per_stage / p->a2a, phases;
    if (n <= 1) /* a group of one reduces nothing */
        return;
    metrics_series_add(&p->m.grad_sync, t);
    double bytes = grad_bytes(p, st, n, &phases);
    p->m.grad_sync_bytes += (double)play_step_units(p, (sched_kind)st->kind) * phases * bytes;
}
