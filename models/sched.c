/*
 * sched.c - forward schedules: each stage's program, then one merged list.
 *
 * A layer's steps for one micro-batch are a short table (below). A stage's
 * program strings its layers together for each micro-batch, framed by the
 * receive from the stage before and the send to the stage after; `none`
 * plays the micro-batches one after another (GPipe's forward order: stage s
 * runs micro-batch m while stage s + 1 runs m - 1), `two_batch` interleaves
 * the layers of a pair at the dispatch: A's attention and gate, B's, A's
 * experts, B's - so that A's dispatch runs under B's attention, B's under A's
 * experts, A's combine under B's experts and B's under the next layer's
 * attention of A (DeepSeek-V3 Technical Report §3.4, prefill; an odd last
 * micro-batch runs alone).
 *
 * The merge walks the stages' programs side by side: a stage emits steps
 * until it reaches a send or a receive; a send is emitted once, when the
 * sender is at it and the receiver is at the matching receive. Programs built
 * here always meet, so the merge ends with every step emitted once.
 */
#include "moesim/sched.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[SCHED_KIND_COUNT] = {
    [SCHED_ATTN] = "attention",   [SCHED_TP_ATTN] = "tp_attn",  [SCHED_FFN] = "dense_ffn",
    [SCHED_GATE] = "gate",        [SCHED_DISPATCH] = "dispatch", [SCHED_EXPERTS] = "experts",
    [SCHED_COMBINE] = "combine",  [SCHED_TP_FFN] = "tp_ffn",    [SCHED_SEND] = "pp_send",
    [SCHED_HEAD] = "lm_head",
};

static const char *const overlap_names[SCHED_OVERLAP_COUNT] = {
    [SCHED_OVERLAP_NONE] = "none", [SCHED_OVERLAP_TWO_BATCH] = "two_batch"};

const char *sched_kind_name(sched_kind k)
{
    return (unsigned)k < SCHED_KIND_COUNT ? kind_names[k] : "?";
}

const char *sched_overlap_name(sched_overlap o)
{
    return (unsigned)o < SCHED_OVERLAP_COUNT ? overlap_names[o] : "?";
}

int sched_overlap_parse(const char *s, sched_overlap *out)
{
    for (int i = 0; i < SCHED_OVERLAP_COUNT; i++)
        if (strcmp(s, overlap_names[i]) == 0) {
            *out = (sched_overlap)i;
            return 0;
        }
    return -1;
}

bool sched_is_compute(sched_kind k)
{
    return k == SCHED_ATTN || k == SCHED_FFN || k == SCHED_GATE || k == SCHED_EXPERTS ||
           k == SCHED_HEAD;
}

/* One layer for one micro-batch, in two halves split at the dispatch: the
 * first ends with it (or holds the whole dense layer), the second is the
 * rest of the MoE block. `tp` rows only with tensor parallelism. */
static const struct {
    unsigned char kind, moe, dense, tp, half;
} layer_rows[] = {
    {SCHED_ATTN, 1, 1, 0, 0},    {SCHED_TP_ATTN, 1, 1, 1, 0}, {SCHED_FFN, 0, 1, 0, 0},
    {SCHED_TP_FFN, 0, 1, 1, 0},  {SCHED_GATE, 1, 0, 0, 0},    {SCHED_DISPATCH, 1, 0, 0, 0},
    {SCHED_EXPERTS, 1, 0, 0, 1}, {SCHED_COMBINE, 1, 0, 0, 1}, {SCHED_TP_FFN, 1, 0, 1, 1},
};
#define LAYER_ROWS ((int)(sizeof(layer_rows) / sizeof(layer_rows[0])))

/* Appends half `half` of layer `layer` for micro-batch mb to out; returns
 * the steps written (out may be NULL: count only). */
static int layer_half(const sched_config *c, int stage, int mb, int layer, int half,
                      sched_step *out)
{
    int n = 0, moe = c->moe[layer];
    for (int i = 0; i < LAYER_ROWS; i++) {
        if (layer_rows[i].half != half || !(moe ? layer_rows[i].moe : layer_rows[i].dense) ||
            (layer_rows[i].tp && !c->tp))
            continue;
        if (out)
            out[n] = (sched_step){.kind = layer_rows[i].kind, .stage = stage, .mb = mb,
                                  .layer = layer};
        n++;
    }
    return n;
}

/* A stage's program: receive, its layers (then the output layer, on the last
 * stage of a model with a vocabulary), send, for each micro-batch (or
 * pair). A receive is written as the sender's SCHED_SEND (stage - 1).
 * Returns the steps written (out may be NULL). */
static long program(const sched_config *c, int stage, sched_step *out)
{
    int lo = c->stage_first[stage], hi = c->stage_first[stage + 1];
    int M = c->micro_batches, pair = c->overlap == SCHED_OVERLAP_TWO_BATCH ? 2 : 1;
    long n = 0;
    for (int m0 = 0; m0 < M; m0 += pair) {
        int k = m0 + pair <= M ? pair : 1; /* an odd last micro-batch runs alone */
        for (int j = 0; j < k && stage > 0; j++, n++)
            if (out)
                out[n] = (sched_step){.kind = SCHED_SEND, .stage = stage - 1, .mb = m0 + j,
                                      .layer = -1};
        for (int l = lo; l < hi; l++)
            for (int half = 0; half < 2; half++)
                for (int j = 0; j < k; j++)
                    n += layer_half(c, stage, m0 + j, l, half, out ? out + n : NULL);
        for (int j = 0; j < k && c->head && stage + 1 == c->stages; j++, n++)
            if (out)
                out[n] = (sched_step){.kind = SCHED_HEAD, .stage = stage, .mb = m0 + j,
                                      .layer = c->layers - 1};
        for (int j = 0; j < k && stage + 1 < c->stages; j++, n++)
            if (out)
                out[n] = (sched_step){.kind = SCHED_SEND, .stage = stage, .mb = m0 + j,
                                      .layer = -1};
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
    int S = c->stages;
    long *len = xcalloc((size_t)S, sizeof(*len), "schedule"), *pc = xcalloc((size_t)S, sizeof(*pc), "schedule");
    sched_step **prog = xcalloc((size_t)S, sizeof(*prog), "schedule");
    for (int k = 0; k < S; k++) {
        len[k] = program(c, k, NULL);
        prog[k] = xcalloc((size_t)len[k] + 1, sizeof(**prog), "schedule");
        program(c, k, prog[k]);
    }
    long n = 0;
    for (int moved = 1; moved;) {
        moved = 0;
        for (int k = 0; k < S; k++) {
            while (pc[k] < len[k] && prog[k][pc[k]].kind != SCHED_SEND) {
                out[n++] = prog[k][pc[k]++];
                moved = 1;
            }
            /* a send leaves when both ends are at it */
            const sched_step *st = pc[k] < len[k] ? &prog[k][pc[k]] : NULL;
            if (!st || st->stage != k || k + 1 >= S)
                continue;
            const sched_step *rx = pc[k + 1] < len[k + 1] ? &prog[k + 1][pc[k + 1]] : NULL;
            if (rx && rx->kind == SCHED_SEND && rx->stage == k && rx->mb == st->mb) {
                out[n++] = *st;
                pc[k]++, pc[k + 1]++;
                moved = 1;
            }
        }
    }
    for (int k = 0; k < S; k++)
        free(prog[k]);
    free(prog), free(pc), free(len);
    return n;
}
