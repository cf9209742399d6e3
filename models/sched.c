/*
 * sched.c - schedules as data: each stage's program, then one merged list.
 *
 * A layer's steps for one micro-batch are a short table (below). A forward
 * stage's program strings its layers together for each micro-batch, framed
 * by the receive from the stage before and the send to the stage after;
 * `none` plays the micro-batches one after another (GPipe's forward order:
 * stage s runs micro-batch m while stage s + 1 runs m - 1), `two_batch`
 * interleaves the layers of a pair at the dispatch: A's attention and gate,
 * B's, A's experts, B's - so that A's dispatch runs under B's attention, B's
 * under A's experts, A's combine under B's experts and B's under the next
 * layer's attention of A (DeepSeek-V3 Technical Report §3.4, prefill; an odd
 * last micro-batch runs alone).
 *
 * A training step is built of chunk operations: F(mb, c) runs chunk c's
 * layers forward; B(mb, c) runs them backward, each layer's forward rows in
 * reverse as input gradients (phase B), each compute row followed by its
 * weight gradient (phase W) unless a zero-bubble schedule defers the W rows
 * to a later W operation; full recomputation runs a layer's forward again
 * first. Each pipe is a table entry that lists a stage's chunk operations
 * in the order its reference implementation runs them: GPipe; Megatron-LM's
 * 1F1B and interleaved 1F1B (megatron/core/pipeline_parallel/schedules.py,
 * get_pp_rank_microbatches and get_schedule_table, read at commit
 * d98e8a64ddf34856e74b24714e3bedb2f5a39553); DeepSeek's DualPipe
 * (dualpipe/dualpipe.py, DualPipe.step, read at commit
 * 3da1bbea53606543d7f5f232338fc58096db30e3). The stage's gradients then
 * leave in buckets as they complete (highest layers first), the optimizer
 * runs, and under ZeRO-1 the updated parameters are gathered.
 *
 * A transfer between stages is one entry written into both programs (the
 * sender's send, the receiver's receive), and sim/play runs it as one
 * operation of both GPUs, after what each has run before it. The merge
 * walks the programs side by side: a stage emits steps until it reaches a
 * run of consecutive transfers; an entry of that run leaves, once for both
 * ends, when the other end stands at a run holding the same entry. A run is
 * a batch of p2p calls (Megatron's send_forward_recv_backward, DualPipe's
 * commit): its entries complete in any order, and the stage goes on once all
 * have. That is a rendezvous, so a stage must post its receives where the
 * reference does, not only just before the operation that needs them:
 * GPipe and 1F1B receive at the start of the operation and send at its end
 * (Megatron's combined calls are exactly the runs between two operations);
 * the interleaved schedule after each iteration sends what it computed and
 * receives for the iterations to come, matched in order with what the
 * neighbour sends (the first stage posts them well ahead); DualPipe where
 * step() appends its p2p ops. Posted later, two stages each waiting at a
 * send the other receives only after its own send would never meet. Programs
 * built here always meet (the tests merge every pipe over a grid); a merge
 * that stops short is a bug in this file, reported as such (ERR_RUN) rather
 * than written out as a partial list.
 */
#include "moesim/sched.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[SCHED_KIND_COUNT] = {
    [SCHED_ATTN] = "attention",      [SCHED_TP_ATTN] = "tp_attn",
    [SCHED_FFN] = "dense_ffn",       [SCHED_GATE] = "gate",
    [SCHED_DISPATCH] = "dispatch",   [SCHED_EXPERTS] = "experts",
    [SCHED_COMBINE] = "combine",     [SCHED_TP_FFN] = "tp_ffn",
    [SCHED_SEND] = "pp_send",        [SCHED_HEAD] = "lm_head",
    [SCHED_GRAD_DENSE] = "grad_dense", [SCHED_GRAD_EXPERT] = "grad_expert",
    [SCHED_OPTIMIZER] = "optimizer", [SCHED_GATHER_DENSE] = "gather_dense",
    [SCHED_GATHER_EXPERT] = "gather_expert",
};

/* Which steps run on the compute stream (the rest are communication). */
static const bool kind_compute[SCHED_KIND_COUNT] = {
    [SCHED_ATTN] = true,    [SCHED_FFN] = true,  [SCHED_GATE] = true,
    [SCHED_EXPERTS] = true, [SCHED_HEAD] = true, [SCHED_OPTIMIZER] = true,
};

static const char *const overlap_names[SCHED_OVERLAP_COUNT] = {
    [SCHED_OVERLAP_NONE] = "none", [SCHED_OVERLAP_TWO_BATCH] = "two_batch"};

static const char *const pipe_names[SCHED_PIPE_COUNT] = {
    [SCHED_PIPE_GPIPE] = "gpipe", [SCHED_PIPE_1F1B] = "1f1b",
    [SCHED_PIPE_INTERLEAVED] = "interleaved", [SCHED_PIPE_DUALPIPE] = "dualpipe"};

static const char *const recompute_names[SCHED_RECOMPUTE_COUNT] = {
    [SCHED_RECOMPUTE_NONE] = "none", [SCHED_RECOMPUTE_SELECTIVE] = "selective",
    [SCHED_RECOMPUTE_FULL] = "full"};

const char *sched_kind_name(sched_kind k)
{
    return enum_name(kind_names, SCHED_KIND_COUNT, (int)k);
}

const char *sched_overlap_name(sched_overlap o)
{
    return enum_name(overlap_names, SCHED_OVERLAP_COUNT, (int)o);
}

int sched_overlap_parse(const char *s, sched_overlap *out)
{
    int v = enum_find(overlap_names, SCHED_OVERLAP_COUNT, s);
    if (v < 0)
        return -1;
    *out = (sched_overlap)v;
    return 0;
}

const char *sched_pipe_name(sched_pipe p)
{
    return enum_name(pipe_names, SCHED_PIPE_COUNT, (int)p);
}

int sched_pipe_parse(const char *s, sched_pipe *out)
{
    int v = enum_find(pipe_names, SCHED_PIPE_COUNT, s);
    if (v < 0)
        return -1;
    *out = (sched_pipe)v;
    return 0;
}

const char *sched_recompute_name(sched_recompute r)
{
    return enum_name(recompute_names, SCHED_RECOMPUTE_COUNT, (int)r);
}

int sched_recompute_parse(const char *s, sched_recompute *out)
{
    int v = enum_find(recompute_names, SCHED_RECOMPUTE_COUNT, s);
    if (v < 0)
        return -1;
    *out = (sched_recompute)v;
    return 0;
}

bool sched_is_compute(sched_kind k)
{
    return (unsigned)k < SCHED_KIND_COUNT && kind_compute[k];
}

/* One layer for one micro-batch, in two halves split at the dispatch: the
 * first ends with it (or holds the whole dense layer), the second is the
 * rest of the MoE block. `tp` rows only with tensor parallelism. Read in
 * table order, the rows of a layer are its forward; backward reads them in
 * reverse. */
static const struct {
    unsigned char kind, moe, dense, tp, half;
} layer_rows[] = {
    {SCHED_ATTN, 1, 1, 0, 0},    {SCHED_TP_ATTN, 1, 1, 1, 0}, {SCHED_FFN, 0, 1, 0, 0},
    {SCHED_TP_FFN, 0, 1, 1, 0},  {SCHED_GATE, 1, 0, 0, 0},    {SCHED_DISPATCH, 1, 0, 0, 0},
    {SCHED_EXPERTS, 1, 0, 0, 1}, {SCHED_COMBINE, 1, 0, 0, 1}, {SCHED_TP_FFN, 1, 0, 1, 1},
};
#define LAYER_ROWS ((int)(sizeof(layer_rows) / sizeof(layer_rows[0])))

static bool row_in(int i, bool moe, bool tp)
{
    return (moe ? layer_rows[i].moe : layer_rows[i].dense) && (!layer_rows[i].tp || tp);
}

/* A step with the fields every schedule fills; `to` only for sends. */
static sched_step step_of(int kind, int phase, int stage, int mb, int layer, int chunk)
{
    return (sched_step){.kind = (unsigned char)kind, .serial = 1, .phase = (unsigned char)phase,
                        .stage = stage, .mb = mb, .layer = layer, .to = -1, .chunk = chunk};
}

/* ---- the merge ---------------------------------------------------------- */

/* Every stage's program (owned; progs_free releases them). */
typedef struct progs {
    int S;
    sched_step **st;
    long *len;
} progs;

static void progs_init(progs *P, int S)
{
    P->S = S;
    P->st = xcalloc((size_t)S, sizeof(*P->st), "schedule programs");
    P->len = xcalloc((size_t)S, sizeof(*P->len), "schedule programs");
}

static void progs_free(progs *P)
{
    for (int k = 0; k < P->S; k++)
        free(P->st[k]);
    free(P->st), free(P->len);
}

/* The merge's walk: where each stage stands, and which of its transfers
 * have already left from the other end. */
typedef struct walk {
    const progs *P;
    long *pc;
    unsigned char **gone;
    sched_step *out;
    long n;
    bool runs; /* a run's entries leave in any order (training); else the head only */
} walk;

static bool is_link(const walk *w, int k, long i)
{
    return w->gone[k][i] || w->P->st[k][i].kind == SCHED_SEND;
}

/* Entry i is still in the run stage k stands at, `live` entries of it not
 * yet gone before it (runs off: only the first such entry counts). */
static bool in_run(const walk *w, int k, long i, long live)
{
    return i < w->P->len[k] && is_link(w, k, i) && (w->runs || live == 0);
}

static bool same_link(const sched_step *a, const sched_step *b)
{
    return a->kind == SCHED_SEND && b->kind == SCHED_SEND && a->stage == b->stage &&
           a->to == b->to && a->mb == b->mb && a->chunk == b->chunk && a->phase == b->phase;
}

/* Where `st` is in the run of transfers stage k stands at; -1: not there. */
static long run_find(const walk *w, int k, const sched_step *st)
{
    for (long i = w->pc[k], live = 0; in_run(w, k, i, live); i++) {
        if (w->gone[k][i])
            continue;
        if (same_link(&w->P->st[k][i], st))
            return i;
        live++;
    }
    return -1;
}

/* One visit of stage k: its steps up to its next run of transfers, then the
 * first send of that run whose receiver stands at a run holding it (every
 * transfer that can leave does so from its sender's visit, one per visit).
 * Returns whether anything was emitted. */
static bool visit(walk *w, int k)
{
    const sched_step *prog = w->P->st[k];
    long len = w->P->len[k];
    bool moved = false;
    for (; w->pc[k] < len && (w->gone[k][w->pc[k]] || prog[w->pc[k]].kind != SCHED_SEND);
         w->pc[k]++)
        if (!w->gone[k][w->pc[k]]) {
            w->out[w->n++] = prog[w->pc[k]];
            moved = true;
        }
    for (long i = w->pc[k], live = 0; in_run(w, k, i, live); i++) {
        if (w->gone[k][i])
            continue;
        live++;
        if (prog[i].stage != k)
            continue; /* a receive leaves from the sender's visit */
        long j = run_find(w, prog[i].to, &prog[i]);
        if (j < 0)
            continue;
        w->out[w->n++] = prog[i];
        w->gone[k][i] = w->gone[prog[i].to][j] = 1;
        return true;
    }
    return moved;
}

/* The stage that stopped short, for the message. */
static int stuck(const walk *w, err_t *e)
{
    for (int k = 0; k < w->P->S; k++) {
        long i = w->pc[k];
        while (i < w->P->len[k] && w->gone[k][i])
            i++;
        if (i == w->P->len[k])
            continue;
        const sched_step *st = &w->P->st[k][i];
        int other = st->stage == k ? st->to : st->stage;
        return err_set(e, ERR_RUN, NULL, 0, "parallel.schedule",
                       "internal error: the stages' programs do not meet: stage %d stops at "
                       "its %s stage %d (micro-batch %d, chunk %d, phase %c), which that "
                       "stage never reaches; a schedule bug, please report it with the scenario",
                       k, st->stage == k ? "send to" : "receive from", other, st->mb,
                       st->chunk, "FBW"[st->phase % SCHED_PHASES]);
    }
    return 0;
}

/* Merges the programs into out; returns the entries written, or -1 (e
 * filled) if they do not meet. Without `runs` only the transfers at the
 * head of both programs meet (a forward: its sends are one per link in
 * micro-batch order, and the lists stay as they always were). */
static long merge(const progs *P, bool runs, sched_step *out, err_t *e)
{
    walk w = {.P = P, .out = out, .runs = runs};
    w.pc = xcalloc((size_t)P->S, sizeof(*w.pc), "schedule merge");
    w.gone = xcalloc((size_t)P->S, sizeof(*w.gone), "schedule merge");
    for (int k = 0; k < P->S; k++)
        w.gone[k] = xcalloc((size_t)P->len[k] + 1, 1, "schedule merge");
    for (bool moved = true; moved;) {
        moved = false;
        for (int k = 0; k < P->S; k++)
            moved |= visit(&w, k);
    }
    long n = stuck(&w, e) < 0 ? -1 : w.n;
    for (int k = 0; k < P->S; k++)
        free(w.gone[k]);
    free(w.gone), free(w.pc);
    return n;
}

/* ---- forward schedules -------------------------------------------------- */

/* Appends half `half` of layer `layer` for micro-batch mb to out; returns
 * the steps written (out may be NULL: count only). */
static int layer_half(const sched_config *c, int stage, int mb, int layer, int half,
                      sched_step *out)
{
    int n = 0;
    for (int i = 0; i < LAYER_ROWS; i++) {
        if (layer_rows[i].half != half || !row_in(i, c->moe[layer], c->tp))
            continue;
        if (out)
            out[n] = step_of(layer_rows[i].kind, SCHED_PHASE_F, stage, mb, layer, stage);
        n++;
    }
    return n;
}

/* The forward send from stage `from` to the next, as both ends write it. */
static sched_step forward_link(int from, int mb)
{
    sched_step s = step_of(SCHED_SEND, SCHED_PHASE_F, from, mb, -1, from);
    s.to = from + 1;
    return s;
}

/* A stage's program: receive, its layers (then the output layer, on the last
 * stage of a model with a vocabulary), send, for each micro-batch (or
 * pair). Returns the steps written (out may be NULL). */
static long program(const sched_config *c, int stage, sched_step *out)
{
    int lo = c->stage_first[stage], hi = c->stage_first[stage + 1];
    int M = c->micro_batches, pair = c->overlap == SCHED_OVERLAP_TWO_BATCH ? 2 : 1;
    long n = 0;
    for (int m0 = 0; m0 < M; m0 += pair) {
        int k = m0 + pair <= M ? pair : 1; /* an odd last micro-batch runs alone */
        for (int j = 0; j < k && stage > 0; j++, n++)
            if (out)
                out[n] = forward_link(stage - 1, m0 + j);
        for (int l = lo; l < hi; l++)
            for (int half = 0; half < 2; half++)
                for (int j = 0; j < k; j++)
                    n += layer_half(c, stage, m0 + j, l, half, out ? out + n : NULL);
        for (int j = 0; j < k && c->head && stage + 1 == c->stages; j++, n++)
            if (out)
                out[n] = step_of(SCHED_HEAD, SCHED_PHASE_F, stage, m0 + j, c->layers - 1, stage);
        for (int j = 0; j < k && stage + 1 < c->stages; j++, n++)
            if (out)
                out[n] = forward_link(stage, m0 + j);
    }
    for (long i = 0; out && i < n; i++)
        out[i].serial = c->overlap == SCHED_OVERLAP_NONE;
    return n;
}

static int check(const sched_config *c, err_t *e)
{
    if (c->stages < 1 || c->micro_batches < 1 || c->stage_first[0] != 0 ||
        c->stage_first[c->stages] != c->layers)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp",
                       "%d stages do not cover the %d layers; allowed: stages holding "
                       "layers 0 to %d in order",
                       c->stages, c->layers, c->layers - 1);
    for (int k = 0; k < c->stages; k++)
        if (c->stage_first[k + 1] <= c->stage_first[k])
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp_layers",
                           "stage %d holds no layer; allowed: at least one layer per stage", k);
    if (c->overlap == SCHED_OVERLAP_TWO_BATCH && c->micro_batches < 2)
        return err_set(e, ERR_INPUT, NULL, 0, "workload.overlap",
                       "\"two_batch\" with %d micro-batch; allowed: workload.micro_batches >= 2",
                       c->micro_batches);
    return 0;
}

long sched_forward_count(const sched_config *c)
{
    long n = 0;
    for (int k = 0; k < c->stages; k++)
        n += program(c, k, NULL);
    return n - (long)(c->stages - 1) * c->micro_batches; /* a send is one entry for two stages */
}

long sched_forward(const sched_config *c, sched_step *out, err_t *e)
{
    if (check(c, e) < 0)
        return -1;
    progs P;
    progs_init(&P, c->stages);
    for (int k = 0; k < c->stages; k++) {
        P.len[k] = program(c, k, NULL);
        P.st[k] = xcalloc((size_t)P.len[k] + 1, sizeof(**P.st), "schedule");
        program(c, k, P.st[k]);
    }
    long n = merge(&P, false, out, e);
    progs_free(&P);
    return n;
}

/* ---- training steps ------------------------------------------------------ */

static int chunk_count(const sched_train_config *c)
{
    return c->pipe == SCHED_PIPE_INTERLEAVED ? c->stages * c->vpp : c->stages;
}

int sched_chunk_stage(const sched_train_config *c, int chunk, int mb)
{
    switch (c->pipe) {
    case SCHED_PIPE_INTERLEAVED:
        return chunk % c->stages;
    case SCHED_PIPE_DUALPIPE: /* the second half of the micro-batches runs the other way */
        return mb < c->micro_batches / 2 ? chunk : c->stages - 1 - chunk;
    default:
        return chunk;
    }
}

/* A bucket that completed: its GRAD (and gather) steps' fields. */
typedef struct bucket {
    int lo, span, chunk, mb;
    bool moe;
} bucket;

/* One stage's training program under construction. */
typedef struct prog {
    const sched_train_config *c;
    int stage;
    int per_chunk;      /* micro-batches each of the stage's chunks sees */
    sched_step *out;    /* NULL: count only */
    long n;
    int *wq, wq_head, wq_tail; /* deferred W ops, (mb, chunk) pairs in B order (FIFO) */
    int *wdone;         /* per chunk: micro-batches whose weight gradients are done */
    bucket *done;       /* buckets in the order they completed */
    int ndone;
    int fwd[2], bwd[2]; /* dualpipe, per direction: forwards and backwards begun, */
    int rf[2], sf[2], rb[2], sb[2]; /* transfers received and sent */
} prog;

static void put(prog *g, sched_step s)
{
    if (g->out)
        g->out[g->n] = s;
    g->n++;
}

static void put_row(prog *g, int kind, int phase, int mb, int layer, int chunk, bool re)
{
    sched_step s = step_of(kind, phase, g->stage, mb, layer, chunk);
    s.recompute = re;
    put(g, s);
}

/* The transfer of micro-batch mb from chunk `from` to chunk `to` (a
 * forward's activations or a backward's gradient), if they are on two
 * stages; both ends write the same entry. */
static void put_link(prog *g, int mb, int from, int to, int phase)
{
    int s = sched_chunk_stage(g->c, from, mb), r = sched_chunk_stage(g->c, to, mb);
    if (s == r) /* interleaved on one stage: the next chunk is here */
        return;
    sched_step st = step_of(SCHED_SEND, phase, s, mb, -1, from);
    st.to = r;
    put(g, st);
}

/* The bucket of layer l starts at l (the lowest layer of its bucket). */
static bool bucket_starts(const sched_train_config *c, int chunk, int l)
{
    if (l == c->chunk_first[chunk])
        return true;
    return c->bucket_of && c->bucket_of[l - 1] != c->bucket_of[l]; /* none: one per chunk */
}

static void put_grads(prog *g, const bucket *b)
{
    for (int moe = 0; moe <= b->moe; moe++) {
        sched_step s = step_of(moe ? SCHED_GRAD_EXPERT : SCHED_GRAD_DENSE, SCHED_PHASE_B,
                               g->stage, b->mb, b->lo, b->chunk);
        s.span = b->span;
        s.serial = 0; /* under the backward that goes on */
        put(g, s);
    }
}

/* Layer lo's last weight gradient on this stage is done: its bucket is
 * complete. */
static void complete(prog *g, int mb, int chunk, int lo)
{
    const sched_train_config *c = g->c;
    bucket b = {.lo = lo, .span = 0, .chunk = chunk, .mb = mb};
    for (int l = lo; l < c->chunk_first[chunk + 1] && (l == lo || !bucket_starts(c, chunk, l)); l++)
        b.span++, b.moe |= c->moe[l];
    g->done[g->ndone++] = b;
    if (c->overlap_grad)
        put_grads(g, &b);
}

/* Chunk c of mb takes its weight gradients now: returns whether this is its
 * last micro-batch on the stage (the one that completes its buckets). */
static bool weights_done(prog *g, int chunk)
{
    return ++g->wdone[chunk] == g->per_chunk;
}

static void layer_forward(prog *g, int mb, int chunk, int l, bool re)
{
    for (int i = 0; i < LAYER_ROWS; i++)
        if (row_in(i, g->c->moe[l], g->c->tp))
            put_row(g, layer_rows[i].kind, SCHED_PHASE_F, mb, l, chunk, re);
}

/* A layer's backward: its forward rows in reverse as phase B, each compute
 * row's weight gradient right after it unless deferred. */
static void layer_backward(prog *g, int mb, int chunk, int l, bool defer, bool last)
{
    for (int i = LAYER_ROWS - 1; i >= 0; i--) {
        if (!row_in(i, g->c->moe[l], g->c->tp))
            continue;
        put_row(g, layer_rows[i].kind, SCHED_PHASE_B, mb, l, chunk, false);
        if (!defer && sched_is_compute((sched_kind)layer_rows[i].kind))
            put_row(g, layer_rows[i].kind, SCHED_PHASE_W, mb, l, chunk, false);
    }
    if (!defer && last && bucket_starts(g->c, chunk, l))
        complete(g, mb, chunk, l); /* after the attention's W, the layer's last row */
}

static bool has_head(const prog *g, int chunk)
{
    return g->c->head && chunk + 1 == chunk_count(g->c);
}

/* F(mb, chunk)'s compute: the chunk's layers, the output layer after the
 * last. */
static void body_f(prog *g, int mb, int chunk)
{
    const sched_train_config *c = g->c;
    for (int l = c->chunk_first[chunk]; l < c->chunk_first[chunk + 1]; l++)
        layer_forward(g, mb, chunk, l, false);
    if (has_head(g, chunk))
        put_row(g, SCHED_HEAD, SCHED_PHASE_F, mb, c->layers - 1, chunk, false);
}

/* B(mb, chunk)'s compute; with `defer` its weight gradients wait for a W
 * op (DualPipe's enable_zb: WeightGradStore queues them, FIFO). */
static void body_b(prog *g, int mb, int chunk, bool defer)
{
    const sched_train_config *c = g->c;
    bool last = !defer && weights_done(g, chunk);
    if (has_head(g, chunk)) {
        put_row(g, SCHED_HEAD, SCHED_PHASE_B, mb, c->layers - 1, chunk, false);
        if (!defer)
            put_row(g, SCHED_HEAD, SCHED_PHASE_W, mb, c->layers - 1, chunk, false);
    }
    for (int l = c->chunk_first[chunk + 1] - 1; l >= c->chunk_first[chunk]; l--) {
        if (c->recompute == SCHED_RECOMPUTE_FULL)
            layer_forward(g, mb, chunk, l, true);
        layer_backward(g, mb, chunk, l, defer, last);
    }
    if (defer) {
        g->wq[2 * g->wq_tail] = mb, g->wq[2 * g->wq_tail + 1] = chunk;
        g->wq_tail++;
    }
}

/* W: the oldest deferred backward's weight gradients (WeightGradStore.pop). */
static void op_w(prog *g)
{
    const sched_train_config *c = g->c;
    int mb = g->wq[2 * g->wq_head], chunk = g->wq[2 * g->wq_head + 1];
    g->wq_head++;
    bool last = weights_done(g, chunk);
    if (has_head(g, chunk))
        put_row(g, SCHED_HEAD, SCHED_PHASE_W, mb, c->layers - 1, chunk, false);
    for (int l = c->chunk_first[chunk + 1] - 1; l >= c->chunk_first[chunk]; l--) {
        for (int i = LAYER_ROWS - 1; i >= 0; i--)
            if (row_in(i, c->moe[l], c->tp) && sched_is_compute((sched_kind)layer_rows[i].kind))
                put_row(g, layer_rows[i].kind, SCHED_PHASE_W, mb, l, chunk, false);
        if (last && bucket_starts(c, chunk, l))
            complete(g, mb, chunk, l);
    }
}

/* The transfers into and out of a chunk operation. */
static void link_f_in(prog *g, int mb, int chunk)
{
    if (chunk > 0)
        put_link(g, mb, chunk - 1, chunk, SCHED_PHASE_F);
}

static void link_f_out(prog *g, int mb, int chunk)
{
    if (chunk + 1 < chunk_count(g->c))
        put_link(g, mb, chunk, chunk + 1, SCHED_PHASE_F);
}

static void link_b_in(prog *g, int mb, int chunk)
{
    if (chunk + 1 < chunk_count(g->c))
        put_link(g, mb, chunk + 1, chunk, SCHED_PHASE_B);
}

static void link_b_out(prog *g, int mb, int chunk)
{
    if (chunk > 0)
        put_link(g, mb, chunk, chunk - 1, SCHED_PHASE_B);
}

/* A chunk operation with its transfers: receive, compute, send. */
static void op_f(prog *g, int mb, int chunk)
{
    link_f_in(g, mb, chunk);
    body_f(g, mb, chunk);
    link_f_out(g, mb, chunk);
}

static void op_b(prog *g, int mb, int chunk)
{
    link_b_in(g, mb, chunk);
    body_b(g, mb, chunk, false);
    link_b_out(g, mb, chunk);
}

/* GPipe: every forward, then every backward. */
static void ops_gpipe(prog *g)
{
    for (int m = 0; m < g->c->micro_batches; m++)
        op_f(g, m, g->stage);
    for (int m = 0; m < g->c->micro_batches; m++)
        op_b(g, m, g->stage);
}

/* Megatron's forward_backward_pipelining_without_interleaving: p - k - 1
 * warm-up forwards, then one forward one backward, then the cool-down. Its
 * transfers are where Megatron posts them: recv_forward, F, then
 * send_forward_recv_backward, B, send_backward_recv_forward: each op's own
 * receive and send, the runs between two ops its combined calls. */
static void ops_1f1b(prog *g)
{
    int M = g->c->micro_batches, k = g->stage, w = g->c->stages - k - 1;
    w = w < M ? w : M;
    for (int i = 0; i < w; i++)
        op_f(g, i, k);
    for (int i = 0; i < M - w; i++) {
        op_f(g, w + i, k);
        op_b(g, i, k);
    }
    for (int i = M - w; i < M; i++)
        op_b(g, i, k);
}

/* Interleaved: virtual micro-batch q of a stage runs model chunk j = (q / p)
 * % v (backward: v - 1 - j) of micro-batch (q / (p v)) p + q % p
 * (get_schedule_table, microbatch_group_size_per_vp_stage = p); the chunk's
 * index is j p + the stage. */
static int virtual_chunk(const prog *g, int stage, int q, bool forward)
{
    int p = g->c->stages, v = g->c->vpp, j = (q / p) % v;
    return (forward ? j : v - 1 - j) * p + stage;
}

static int virtual_mb(const prog *g, int q)
{
    int p = g->c->stages;
    return q / (p * g->c->vpp) * p + q % p;
}

/* Megatron's recv_tensor_from_previous_stage: whether stage k, after its
 * virtual micro-batch q, receives from the stage before it (forward) or
 * after it (backward). The leading stage (the first forward, the last
 * backward) receives only once the wrap-around from the ending stage has
 * begun, and not what the ending stage's last chunk would send. */
static bool virtual_recv(const prog *g, int q, bool forward)
{
    int p = g->c->stages, v = g->c->vpp;
    if (g->stage != (forward ? 0 : p - 1))
        return true;
    if (q < p - 1)
        return false;
    int j = (((q - (p - 1)) / p) % v);
    j = forward ? j : v - 1 - j;
    return j != (forward ? v - 1 : 0);
}

/* A receive of the interleaved schedule: the next transfer the neighbour
 * sends this way (Megatron's p2p calls match in order), found by walking
 * the neighbour's virtual micro-batches from the cursor *q. */
static void virtual_link_in(prog *g, int *q, bool forward)
{
    const sched_train_config *c = g->c;
    int p = c->stages, total = c->micro_batches * c->vpp, C = chunk_count(c);
    int from = forward ? (g->stage + p - 1) % p : (g->stage + 1) % p;
    for (; *q < total; ++*q) {
        int chunk = virtual_chunk(g, from, *q, forward), mb = virtual_mb(g, *q);
        if (forward ? chunk + 1 == C : chunk == 0)
            continue; /* the model's ends send nothing */
        put_link(g, mb, chunk, forward ? chunk + 1 : chunk - 1,
                 forward ? SCHED_PHASE_F : SCHED_PHASE_B);
        ++*q;
        return;
    }
}

static void virtual_body(prog *g, int q, bool forward)
{
    int chunk = virtual_chunk(g, g->stage, q, forward), mb = virtual_mb(g, q);
    if (forward)
        body_f(g, mb, chunk);
    else
        body_b(g, mb, chunk, false);
}

static void virtual_link_out(prog *g, int q, bool forward)
{
    int chunk = virtual_chunk(g, g->stage, q, forward), mb = virtual_mb(g, q);
    if (forward)
        link_f_out(g, mb, chunk);
    else
        link_b_out(g, mb, chunk);
}

/* Megatron's forward_backward_pipelining_with_interleaving (no p2p overlap):
 * (p - k - 1) 2 + (v - 1) p warm-up forwards (get_pp_rank_microbatches),
 * 1F1B, cool-down; after each iteration one combined call sends what it
 * computed and receives for the iterations to come. */
static void ops_interleaved(prog *g)
{
    int p = g->c->stages, k = g->stage, total = g->c->micro_batches * g->c->vpp;
    int w = (p - k - 1) * 2 + (g->c->vpp - 1) * p, qf = 0, qb = 0;
    w = w < total ? w : total;
    int rest = total - w;
    if (k > 0)
        virtual_link_in(g, &qf, true);
    for (int q = 0; q < w; q++) { /* send_forward_recv_forward */
        virtual_body(g, q, true);
        virtual_link_out(g, q, true);
        if (virtual_recv(g, q, true) && q != total - 1)
            virtual_link_in(g, &qf, true);
        if (q == w - 1 && rest > 0 && k != p - 1) /* ... and the first backward's */
            virtual_link_in(g, &qb, false);
    }
    for (int i = 0; i < rest; i++) { /* send_forward_backward_recv_forward_backward */
        virtual_body(g, w + i, true);
        virtual_body(g, i, false);
        virtual_link_out(g, w + i, true);
        virtual_link_out(g, i, false);
        if (virtual_recv(g, w + i, true) && i != rest - 1)
            virtual_link_in(g, &qf, true);
        if (virtual_recv(g, i, false))
            virtual_link_in(g, &qb, false);
    }
    if (rest == 0 && k != p - 1)
        virtual_link_in(g, &qb, false);
    for (int q = rest; q < total; q++) { /* send_backward_recv_backward */
        virtual_body(g, q, false);
        virtual_link_out(g, q, false);
        if (virtual_recv(g, q, false) && q != total - 1)
            virtual_link_in(g, &qb, false);
    }
}

/* DualPipe, per direction d (0: micro-batches [0, M/2) from stage 0; 1: the
 * rest from the last stage): the chunk this rank runs, and its counters of
 * forwards, backwards and transfers, each in micro-batch order as
 * DualPipe's current_*_chunk_id. */
static int dual_chunk(const prog *g, int d)
{
    return d ? g->c->stages - 1 - g->stage : g->stage;
}

static int dual_mb(const prog *g, int d, int *counter)
{
    return d * (g->c->micro_batches / 2) + counter[d]++;
}

/* _recv_forward, _send_forward, _recv_backward, _send_backward: nothing at
 * the direction's first (or last) stage. */
static void dual_link(prog *g, int d, bool forward, bool in)
{
    int chunk = dual_chunk(g, d), C = chunk_count(g->c);
    if (forward ? (in ? chunk == 0 : chunk + 1 == C) : (in ? chunk + 1 == C : chunk == 0))
        return;
    int *counter = forward ? (in ? g->rf : g->sf) : (in ? g->rb : g->sb);
    int mb = dual_mb(g, d, counter);
    if (forward)
        (in ? link_f_in : link_f_out)(g, mb, chunk);
    else
        (in ? link_b_in : link_b_out)(g, mb, chunk);
}

/* _forward_chunk and _backward_chunk. */
static void dual_f(prog *g, int d, bool recv, bool send)
{
    if (recv)
        dual_link(g, d, true, true);
    body_f(g, dual_mb(g, d, g->fwd), dual_chunk(g, d));
    if (send)
        dual_link(g, d, true, false);
}

static void dual_b(prog *g, int d, bool zb, bool recv, bool send)
{
    if (recv)
        dual_link(g, d, false, true);
    body_b(g, dual_mb(g, d, g->bwd), dual_chunk(g, d), zb);
    if (send)
        dual_link(g, d, false, false);
}

/* The steps [a, b) (a forward) and [b, e) (a backward) of one stage's
 * program, interleaved: a segment of each in turn, a segment ending at a
 * communication step, so that each one's all-to-alls and all-reduces sit
 * between the other's compute; every step serial = 0 (its chain and the
 * streams' order only), as two_batch does for forward passes. */
static void interleave(prog *g, long a, long b, long e)
{
    if (!g->out || b == a || e == b)
        return;
    sched_step *tmp = xcalloc((size_t)(e - a), sizeof(*tmp), "schedule");
    memcpy(tmp, g->out + a, (size_t)(e - a) * sizeof(*tmp));
    long at[2] = {0, b - a}, end[2] = {b - a, e - a}, n = a;
    for (int side = 0; at[0] < end[0] || at[1] < end[1]; side ^= 1)
        while (at[side] < end[side]) {
            sched_step s = tmp[at[side]++];
            s.serial = 0;
            g->out[n++] = s;
            if (!sched_is_compute((sched_kind)s.kind))
                break;
        }
    free(tmp);
}

/* _forward_backward_chunk: both receives, F then B (with overlap_a2a the
 * two interleaved, as DualPipe overlaps the pair), both sends. */
static void dual_fb(prog *g, int d0, int d1, bool recv0)
{
    if (recv0)
        dual_link(g, d0, true, true);
    dual_link(g, d1, false, true);
    long a = g->n;
    dual_f(g, d0, false, false);
    long b = g->n;
    dual_b(g, d1, false, false, false);
    if (g->c->overlap_a2a)
        interleave(g, a, b, g->n);
    dual_link(g, d0, true, false);
    dual_link(g, d1, false, false);
}

/* DualPipe.step's eight steps for rank k, transfers where it appends them
 * (each batch it commits before a compute is a run here). Its phase 0 is
 * the direction that reaches the rank first (0 on the first half of the
 * ranks, 1 on the second), phase 1 the other. */
static void ops_dualpipe(prog *g)
{
    int p = g->c->stages, k = g->stage, half = g->c->micro_batches / 2;
    int h = k < p - 1 - k ? k : p - 1 - k, nh = p / 2, d0 = k >= nh, d1 = !d0;
    bool middle = h == nh - 1;
    for (int i = 0; i < (nh - h - 1) * 2; i++) /* 1: nF0 */
        dual_f(g, d0, true, true);
    dual_link(g, d0, true, true); /* 2: nF0F1 */
    for (int i = 0; i < h + 1; i++) {
        dual_f(g, d0, false, middle);
        dual_link(g, d0, true, true);
        dual_f(g, d1, true, !middle || i < h);
        if (!middle)
            dual_link(g, d0, true, false);
    }
    for (int i = 0; i < nh - h - 1; i++) { /* 3: nB1W1F1, zero bubble */
        dual_b(g, d1, true, true, true);
        dual_link(g, d1, true, true);
        op_w(g);
        dual_f(g, d1, false, true);
    }
    for (int i = 0; i < half - p + h + 1; i++) { /* 4: nF0B1F1B0 */
        if (i == 0 && middle) { /* not overlapped, to shrink the bubble */
            dual_f(g, d0, false, false);
            dual_link(g, d1, true, false);
            dual_b(g, d1, false, true, false);
            dual_link(g, d0, true, false);
            dual_link(g, d1, false, false);
        } else
            dual_fb(g, d0, d1, i > 0);
        dual_fb(g, d1, d0, true);
    }
    for (int i = 0; i < nh - h - 1; i++) { /* 5: nB1F1B0 */
        dual_b(g, d1, false, true, true);
        dual_fb(g, d1, d0, true);
    }
    bool zb = false; /* 6: nB1B0, the second half zero bubble */
    for (int i = 0; i < h + 1; i++) {
        zb |= i == (h + 1) / 2 && h % 2 == 1;
        dual_b(g, d1, zb, true, true);
        zb |= i == (h + 1) / 2 && h % 2 == 0;
        dual_b(g, d0, zb, true, true);
    }
    for (int i = 0; i < nh - h - 1; i++) { /* 7: nWB0, zero bubble */
        op_w(g);
        dual_b(g, d0, true, true, true);
    }
    for (int i = 0; i < h + 1; i++) /* 8: nW */
        op_w(g);
}

/* A stage's chunk operations, per pipe. */
static void (*const pipe_ops[SCHED_PIPE_COUNT])(prog *) = {
    [SCHED_PIPE_GPIPE] = ops_gpipe,
    [SCHED_PIPE_1F1B] = ops_1f1b,
    [SCHED_PIPE_INTERLEAVED] = ops_interleaved,
    [SCHED_PIPE_DUALPIPE] = ops_dualpipe,
};

/* Scratch for one stage's program, reused from stage to stage. */
static void prog_init(prog *g, const sched_train_config *c)
{
    *g = (prog){.c = c};
    g->wq = xcalloc(2 * (size_t)c->micro_batches * (size_t)c->vpp, sizeof(*g->wq), "schedule");
    g->wdone = xcalloc((size_t)chunk_count(c), sizeof(*g->wdone), "schedule");
    g->done = xcalloc((size_t)c->layers, sizeof(*g->done), "schedule");
}

static void prog_fini(prog *g)
{
    free(g->wq), free(g->wdone), free(g->done);
}

/* Stage k's program into out (NULL: count only); returns its length. The
 * chunk operations, then the gradient buckets (unless they went with the
 * backward), the optimizer, the gathers. */
static long train_program(prog *g, int stage, sched_step *out)
{
    const sched_train_config *c = g->c;
    g->stage = stage, g->out = out, g->n = 0;
    g->wq_head = g->wq_tail = g->ndone = 0;
    memset(g->fwd, 0, sizeof(g->fwd)), memset(g->bwd, 0, sizeof(g->bwd));
    memset(g->rf, 0, sizeof(g->rf)), memset(g->sf, 0, sizeof(g->sf));
    memset(g->rb, 0, sizeof(g->rb)), memset(g->sb, 0, sizeof(g->sb));
    g->per_chunk = c->pipe == SCHED_PIPE_DUALPIPE ? c->micro_batches / 2 : c->micro_batches;
    memset(g->wdone, 0, (size_t)chunk_count(c) * sizeof(*g->wdone));
    pipe_ops[c->pipe](g);
    for (int i = 0; i < g->ndone && !c->overlap_grad; i++)
        put_grads(g, &g->done[i]);
    int mb = g->ndone ? g->done[g->ndone - 1].mb : 0;
    put(g, step_of(SCHED_OPTIMIZER, SCHED_PHASE_B, stage, mb, -1, -1));
    for (int i = 0; i < g->ndone && c->zero; i++)
        for (int moe = 0; moe <= g->done[i].moe; moe++) {
            const bucket *b = &g->done[i];
            sched_step s = step_of(moe ? SCHED_GATHER_EXPERT : SCHED_GATHER_DENSE,
                                   SCHED_PHASE_B, stage, b->mb, b->lo, b->chunk);
            s.span = b->span;
            put(g, s);
        }
    return g->n;
}

/* The pipe's own limits: vpp, stages, micro-batches. */
static int check_pipe(const sched_train_config *c, err_t *e)
{
    int p = c->stages, M = c->micro_batches;
    if ((unsigned)c->pipe >= SCHED_PIPE_COUNT)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.schedule",
                       "schedule %d is not a pipe; allowed: gpipe, 1f1b, interleaved, dualpipe",
                       (int)c->pipe);
    if ((unsigned)c->recompute >= SCHED_RECOMPUTE_COUNT)
        return err_set(e, ERR_INPUT, NULL, 0, "training.recompute",
                       "recompute %d is not a mode; allowed: none, selective, full",
                       (int)c->recompute);
    if (p < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp",
                       "%d pipeline stages; allowed: 1 or more", p);
    if (M < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "workload.micro_batches",
                       "%d micro-batches; allowed: 1 or more", M);
    if (c->pipe != SCHED_PIPE_INTERLEAVED && c->vpp != 1)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.vpp",
                       "vpp %d with schedule \"%s\"; allowed: 1, or parallel.schedule "
                       "\"interleaved\" for more chunks per stage",
                       c->vpp, pipe_names[c->pipe]);
    if (c->pipe == SCHED_PIPE_INTERLEAVED && c->vpp < 2)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.vpp",
                       "vpp %d with schedule \"interleaved\"; allowed: 2 or more chunks per stage",
                       c->vpp);
    if (c->pipe == SCHED_PIPE_INTERLEAVED && M % p != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "workload.micro_batches",
                       "%d micro-batches with \"interleaved\" over %d stages; allowed: a "
                       "multiple of parallel.pp (%d, %d, ...)",
                       M, p, p, 2 * p);
    if (c->pipe == SCHED_PIPE_DUALPIPE && p % 2 != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp",
                       "%d stages with \"dualpipe\"; allowed: an even number of stages", p);
    if (c->pipe == SCHED_PIPE_DUALPIPE && (M % 2 != 0 || M < 2 * p))
        return err_set(e, ERR_INPUT, NULL, 0, "workload.micro_batches",
                       "%d micro-batches with \"dualpipe\" over %d stages; allowed: an even "
                       "number, at least 2 x parallel.pp = %d",
                       M, p, 2 * p);
    return 0;
}

/* The chunks and the buckets. */
static int check_chunks(const sched_train_config *c, err_t *e)
{
    int C = chunk_count(c);
    if (c->layers < 1 || c->chunk_first[0] != 0 || c->chunk_first[C] != c->layers)
        return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp_layers",
                       "%d chunks hold layers %d to %d of %d; allowed: chunks holding "
                       "layers 0 to %d in order",
                       C, c->chunk_first[0], c->chunk_first[C] - 1, c->layers, c->layers - 1);
    for (int k = 0; k < C; k++)
        if (c->chunk_first[k + 1] <= c->chunk_first[k])
            return err_set(e, ERR_INPUT, NULL, 0, "parallel.pp_layers",
                           "chunk %d holds no layer; allowed: at least one layer per chunk "
                           "(%d layers, %d chunks)",
                           k, c->layers, C);
    for (int k = 0; k < C && c->bucket_of; k++)
        for (int l = c->chunk_first[k] + 1; l <= c->chunk_first[k + 1] && l < c->layers; l++) {
            bool edge = l == c->chunk_first[k + 1];
            if (c->bucket_of[l] < c->bucket_of[l - 1] ||
                (edge && c->bucket_of[l] == c->bucket_of[l - 1]))
                return err_set(e, ERR_INPUT, NULL, 0, "training.grad_bucket",
                               "layer %d in bucket %d after layer %d in bucket %d%s; allowed: "
                               "buckets nondecreasing in the layer, none shared by two chunks",
                               l, c->bucket_of[l], l - 1, c->bucket_of[l - 1],
                               edge ? " across a chunk boundary" : "");
        }
    return 0;
}

/* The transfers between stages (each written in two programs). */
static long link_count(const sched_train_config *c)
{
    long n = 0;
    for (int m = 0; m < c->micro_batches; m++)
        for (int k = 0; k + 1 < chunk_count(c); k++)
            n += sched_chunk_stage(c, k, m) != sched_chunk_stage(c, k + 1, m);
    return 2 * n; /* forward and backward */
}

long sched_training_count(const sched_train_config *c)
{
    if (check_pipe(c, NULL) < 0 || check_chunks(c, NULL) < 0)
        return 0;
    prog g;
    prog_init(&g, c);
    long n = 0;
    for (int k = 0; k < c->stages; k++)
        n += train_program(&g, k, NULL);
    prog_fini(&g);
    return n - link_count(c);
}

long sched_training(const sched_train_config *c, sched_step *out, err_t *e)
{
    if (check_pipe(c, e) < 0 || check_chunks(c, e) < 0)
        return -1;
    prog g;
    prog_init(&g, c);
    progs P;
    progs_init(&P, c->stages);
    for (int k = 0; k < c->stages; k++) {
        P.len[k] = train_program(&g, k, NULL);
        P.st[k] = xcalloc((size_t)P.len[k] + 1, sizeof(**P.st), "schedule");
        train_program(&g, k, P.st[k]);
    }
    prog_fini(&g);
    long n = merge(&P, true, out, e);
    progs_free(&P);
    return n;
}
