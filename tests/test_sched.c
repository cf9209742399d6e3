/* test_sched.c - schedules as lists: forward and training cases written out
 * by hand, the orders of chunk operations against their reference
 * implementations, the textbook bubbles timed by a small list-scheduling
 * evaluator, and the invariants of every schedule over a grid.
 *
 * A step prints as <stage><kind letter><micro-batch>.<layer>, a send as
 * <sender>s<micro-batch>; letters: a attention, t TP all-reduce after it,
 * f dense FFN, g gate, d dispatch, e experts, c combine, u TP all-reduce
 * after the block, h output layer. A training step adds the phase (F, B, W;
 * R a recomputed forward), a send its receiver (0s1>1F: stage 0 sends
 * micro-batch 1 to stage 1, forward), G dense and X expert gradients and P,
 * Q their gathers with the bucket's span (0G1.0+2: layers 0 and 1), o the
 * optimizer. */
#include <string.h>

#include "moesim/sched.h"
#include "test.h"

/* A failure that prints the message built for it. */
#define FAIL_MSG(m) CU_assertImplementation(CU_FALSE, __LINE__, (m), __FILE__, "", CU_FALSE)

static const char letter[SCHED_KIND_COUNT] = {
    [SCHED_ATTN] = 'a',        [SCHED_TP_ATTN] = 't',     [SCHED_FFN] = 'f',
    [SCHED_GATE] = 'g',        [SCHED_DISPATCH] = 'd',    [SCHED_EXPERTS] = 'e',
    [SCHED_COMBINE] = 'c',     [SCHED_TP_FFN] = 'u',      [SCHED_SEND] = 's',
    [SCHED_HEAD] = 'h',        [SCHED_GRAD_DENSE] = 'G',  [SCHED_GRAD_EXPERT] = 'X',
    [SCHED_OPTIMIZER] = 'o',   [SCHED_GATHER_DENSE] = 'P', [SCHED_GATHER_EXPERT] = 'Q'};

static char phase_letter(const sched_step *s)
{
    return s->recompute ? 'R' : "FBW"[s->phase];
}

/* One step; `train` adds the phase, a send's receiver, a bucket's span. */
static int render_step(const sched_step *s, bool train, char *buf, size_t cap)
{
    int k = s->kind;
    if (!train)
        return k == SCHED_SEND ? snprintf(buf, cap, "%ds%d", s->stage, s->mb)
                               : snprintf(buf, cap, "%d%c%d.%d", s->stage, letter[k], s->mb,
                                          s->layer);
    if (k == SCHED_SEND)
        return snprintf(buf, cap, "%ds%d>%d%c", s->stage, s->mb, s->to, phase_letter(s));
    if (k == SCHED_OPTIMIZER)
        return snprintf(buf, cap, "%do%d", s->stage, s->mb);
    if (k >= SCHED_GRAD_DENSE)
        return snprintf(buf, cap, "%d%c%d.%d+%d", s->stage, letter[k], s->mb, s->layer, s->span);
    return snprintf(buf, cap, "%d%c%d.%d%c", s->stage, letter[k], s->mb, s->layer,
                    phase_letter(s));
}

static void render(const sched_step *st, long n, bool train, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    for (long i = 0; i < n && at + 24 < cap; i++) {
        if (i)
            buf[at++] = ' ';
        at += (size_t)render_step(&st[i], train, buf + at, cap - at);
    }
}

/* Builds the schedule of `c` and compares its rendering with `want`. */
static void expect_schedule(const sched_config *c, const char *want)
{
    err_t e = ERR_INIT;
    long n = sched_forward_count(c);
    sched_step *st = calloc((size_t)n, sizeof(*st));
    EXPECT_EQ_I64(sched_forward(c, st, &e), n);
    char buf[2048];
    render(st, n, false, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, want);
    for (long i = 0; i < n; i++) {
        EXPECT_EQ_I64(st[i].serial, c->overlap == SCHED_OVERLAP_NONE);
        EXPECT_EQ_I64(st[i].phase, SCHED_PHASE_F);
        EXPECT_EQ_I64(st[i].recompute, 0);
        EXPECT_EQ_I64(st[i].span, 0);
        EXPECT_EQ_I64(st[i].chunk, st[i].stage);
        EXPECT_EQ_I64(st[i].to, st[i].kind == SCHED_SEND ? st[i].stage + 1 : -1);
    }
    free(st);
}

/* One stage, one micro-batch: a dense layer then an MoE layer, without and
 * with TP: the layer tables in order. */
static void test_one_stage(void)
{
    const int first[2] = {0, 2};
    const bool moe[2] = {false, true};
    sched_config c = {.layers = 2, .stages = 1, .stage_first = first, .moe = moe,
                      .micro_batches = 1};
    expect_schedule(&c, "0a0.0 0f0.0 0a0.1 0g0.1 0d0.1 0e0.1 0c0.1");
    c.tp = true;
    expect_schedule(&c, "0a0.0 0t0.0 0f0.0 0u0.0 0a0.1 0t0.1 0g0.1 0d0.1 0e0.1 0c0.1 0u0.1");
}

/* Two micro-batches, none: one after the other. two_batch: interleaved at
 * the dispatch, A's dispatch before B's attention, B's experts after A's. */
static void test_two_batch(void)
{
    const int first[2] = {0, 2};
    const bool moe[2] = {true, true};
    sched_config c = {.layers = 2, .stages = 1, .stage_first = first, .moe = moe,
                      .micro_batches = 2};
    expect_schedule(&c, "0a0.0 0g0.0 0d0.0 0e0.0 0c0.0 0a0.1 0g0.1 0d0.1 0e0.1 0c0.1 "
                        "0a1.0 0g1.0 0d1.0 0e1.0 0c1.0 0a1.1 0g1.1 0d1.1 0e1.1 0c1.1");
    c.overlap = SCHED_OVERLAP_TWO_BATCH;
    expect_schedule(&c, "0a0.0 0g0.0 0d0.0 0a1.0 0g1.0 0d1.0 0e0.0 0c0.0 0e1.0 0c1.0 "
                        "0a0.1 0g0.1 0d0.1 0a1.1 0g1.1 0d1.1 0e0.1 0c0.1 0e1.1 0c1.1");
    /* three: a pair, then the last alone */
    const bool dense[1] = {false};
    const int one[2] = {0, 1};
    sched_config d = {.layers = 1, .stages = 1, .stage_first = one, .moe = dense,
                      .micro_batches = 3, .overlap = SCHED_OVERLAP_TWO_BATCH};
    expect_schedule(&d, "0a0.0 0f0.0 0a1.0 0f1.0 0a2.0 0f2.0");
    d.head = true; /* a pair's output layers after the pair's last layer */
    expect_schedule(&d, "0a0.0 0f0.0 0a1.0 0f1.0 0h0.0 0h1.0 0a2.0 0f2.0 0h2.0");
}

/* Two stages of one dense layer, two micro-batches. The merge: stage 0 runs
 * micro-batch 0 up to its send, which meets stage 1's receive and leaves;
 * stage 1 runs micro-batch 0 up to its next receive; stage 0 runs
 * micro-batch 1 up to its send, which leaves; stage 1 runs micro-batch 1. */
static void test_two_stages(void)
{
    const int first[3] = {0, 1, 2};
    const bool moe[2] = {false, false};
    sched_config c = {.layers = 2, .stages = 2, .stage_first = first, .moe = moe,
                      .micro_batches = 2};
    EXPECT_EQ_I64(sched_forward_count(&c), 10);
    expect_schedule(&c, "0a0.0 0f0.0 0s0 1a0.1 1f0.1 0a1.0 0f1.0 0s1 1a1.1 1f1.1");
    /* with a vocabulary: the output layer after the last layer, last stage only */
    c.head = true;
    EXPECT_EQ_I64(sched_forward_count(&c), 12);
    expect_schedule(&c, "0a0.0 0f0.0 0s0 1a0.1 1f0.1 1h0.1 0a1.0 0f1.0 0s1 1a1.1 1f1.1 1h1.1");
    c.head = false;
    /* four stages of one layer each, one micro-batch: a chain of sends */
    const int four[5] = {0, 1, 2, 3, 4};
    const bool m4[4] = {false, false, false, false};
    sched_config d = {.layers = 4, .stages = 4, .stage_first = four, .moe = m4,
                      .micro_batches = 1};
    expect_schedule(&d, "0a0.0 0f0.0 0s0 1a0.1 1f0.1 1s0 2a0.2 2f0.2 2s0 3a0.3 3f0.3");
    /* three stages, pairs: stage 1 sends its pair on before it takes the
     * next micro-batch (a forward's transfers meet head to head) */
    const int three[4] = {0, 1, 2, 3};
    sched_config f = {.layers = 3, .stages = 3, .stage_first = three, .moe = m4,
                      .micro_batches = 3, .overlap = SCHED_OVERLAP_TWO_BATCH};
    expect_schedule(&f, "0a0.0 0f0.0 0a1.0 0f1.0 0s0 0s1 1a0.1 1f0.1 1a1.1 1f1.1 1s0 0a2.0 "
                        "0f2.0 1s1 2a0.2 2f0.2 2a1.2 2f1.2 0s2 1a2.1 1f2.1 1s2 2a2.2 2f2.2");
}

static void test_rejects(void)
{
    err_t e = ERR_INIT;
    const int first[2] = {0, 2}, gap[3] = {0, 2, 2};
    const bool moe[2] = {true, true};
    sched_step st[64];
    sched_config c = {.layers = 2, .stages = 1, .stage_first = first, .moe = moe,
                      .micro_batches = 1, .overlap = SCHED_OVERLAP_TWO_BATCH};
    EXPECT_EQ_I64(sched_forward(&c, st, &e), -1);
    EXPECT_STR_EQ(e.key, "workload.overlap");
    EXPECT_STR_CONTAINS(e.msg, "workload.micro_batches >= 2");
    sched_config d = {.layers = 2, .stages = 2, .stage_first = gap, .moe = moe,
                      .micro_batches = 1};
    EXPECT_EQ_I64(sched_forward(&d, st, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "stage 1 holds no layer");
    sched_overlap o = SCHED_OVERLAP_NONE;
    EXPECT_EQ_I64(sched_overlap_parse("two_batch", &o), 0);
    EXPECT_EQ_I64(o, SCHED_OVERLAP_TWO_BATCH);
    EXPECT_EQ_I64(sched_overlap_parse("two-batch", &o), -1);
    EXPECT_STR_EQ(sched_kind_name(SCHED_SEND), "pp_send");
    EXPECT_STR_EQ(sched_kind_name(SCHED_HEAD), "lm_head");
    EXPECT_STR_EQ(sched_kind_name(SCHED_KIND_COUNT), "?");
}

/* Every enum's name table; the training kinds' names and streams. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(sched_overlap, sched_overlap_name, sched_overlap_parse,
                      SCHED_OVERLAP_COUNT);
    EXPECT_NAME_TABLE(sched_pipe, sched_pipe_name, sched_pipe_parse, SCHED_PIPE_COUNT);
    EXPECT_NAME_TABLE(sched_recompute, sched_recompute_name, sched_recompute_parse,
                      SCHED_RECOMPUTE_COUNT);
    EXPECT_STR_EQ(sched_pipe_name(SCHED_PIPE_1F1B), "1f1b");
    EXPECT_STR_EQ(sched_pipe_name(SCHED_PIPE_DUALPIPE), "dualpipe");
    EXPECT_STR_EQ(sched_recompute_name(SCHED_RECOMPUTE_SELECTIVE), "selective");
    static const char *const kinds[] = {"grad_dense", "grad_expert", "optimizer",
                                        "gather_dense", "gather_expert"};
    for (int k = SCHED_GRAD_DENSE; k < SCHED_KIND_COUNT; k++)
        EXPECT_STR_EQ(sched_kind_name((sched_kind)k), kinds[k - SCHED_GRAD_DENSE]);
    for (int k = 0; k < SCHED_KIND_COUNT; k++)
        EXPECT_TRUE(strcmp(sched_kind_name((sched_kind)k), "?") != 0);
    EXPECT_TRUE(sched_is_compute(SCHED_OPTIMIZER));
    EXPECT_TRUE(sched_is_compute(SCHED_HEAD));
    EXPECT_TRUE(!sched_is_compute(SCHED_GRAD_DENSE) && !sched_is_compute(SCHED_GATHER_EXPERT));
    EXPECT_TRUE(!sched_is_compute(SCHED_SEND) && !sched_is_compute(SCHED_KIND_COUNT));
}

/* ---- training steps ------------------------------------------------------ */

#define MAXL 64

/* A training configuration with its arrays. */
typedef struct tcase {
    sched_train_config c;
    int first[MAXL + 1], bucket[MAXL];
    bool moe[MAXL];
} tcase;

/* `per` layers per chunk (every third layer dense), one bucket per chunk. */
static void tcase_init(tcase *t, sched_pipe pipe, int p, int vpp, int per, int M)
{
    memset(t, 0, sizeof(*t));
    int C = p * vpp;
    for (int k = 0; k <= C; k++)
        t->first[k] = k * per;
    for (int l = 0; l < C * per; l++) {
        t->moe[l] = l % 3 != 2;
        t->bucket[l] = l / per;
    }
    t->c = (sched_train_config){.layers = C * per, .stages = p, .vpp = vpp,
                                .chunk_first = t->first, .moe = t->moe, .micro_batches = M,
                                .pipe = pipe, .bucket_of = t->bucket};
}

/* The training step of c (length checked against the count); NULL if it
 * failed. The caller frees it. */
static sched_step *train(const sched_train_config *c, long *n)
{
    err_t e = ERR_INIT;
    *n = sched_training_count(c);
    sched_step *st = calloc((size_t)*n + 1, sizeof(*st));
    long got = sched_training(c, st, &e);
    EXPECT_EQ_I64(got, *n);
    if (got != *n) {
        char m[1024];
        err_format(&e, m, sizeof(m));
        FAIL_MSG(m);
        free(st);
        return NULL;
    }
    return st;
}

static void expect_training(const sched_train_config *c, const char *want)
{
    long n;
    sched_step *st = train(c, &n);
    if (!st)
        return;
    char buf[4096];
    render(st, n, true, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, want);
    free(st);
}

/* One stage, one dense layer, one micro-batch: forward, the layer's rows in
 * reverse with each compute row's weight gradient after it, the bucket, the
 * optimizer. Then one MoE layer with TP, the output layer, full
 * recomputation and ZeRO-1. */
static void test_train_one_stage(void)
{
    tcase t;
    tcase_init(&t, SCHED_PIPE_GPIPE, 1, 1, 1, 1);
    t.moe[0] = false;
    expect_training(&t.c, "0a0.0F 0f0.0F 0f0.0B 0f0.0W 0a0.0B 0a0.0W 0G0.0+1 0o0");
    t.moe[0] = true;
    t.c.tp = t.c.head = t.c.zero = true;
    t.c.recompute = SCHED_RECOMPUTE_FULL;
    expect_training(&t.c, "0a0.0F 0t0.0F 0g0.0F 0d0.0F 0e0.0F 0c0.0F 0u0.0F 0h0.0F "
                          "0h0.0B 0h0.0W "
                          "0a0.0R 0t0.0R 0g0.0R 0d0.0R 0e0.0R 0c0.0R 0u0.0R "
                          "0u0.0B 0c0.0B 0e0.0B 0e0.0W 0d0.0B 0g0.0B 0g0.0W 0t0.0B 0a0.0B "
                          "0a0.0W 0G0.0+1 0X0.0+1 0o0 0P0.0+1 0Q0.0+1");
    t.c.recompute = SCHED_RECOMPUTE_SELECTIVE; /* a cost, not steps */
    t.c.tp = t.c.head = t.c.zero = false;
    expect_training(&t.c, "0a0.0F 0g0.0F 0d0.0F 0e0.0F 0c0.0F 0c0.0B 0e0.0B 0e0.0W "
                          "0d0.0B 0g0.0B 0g0.0W 0a0.0B 0a0.0W 0G0.0+1 0X0.0+1 0o0");
}

/* Buckets: two dense layers, two micro-batches. Each bucket's gradients
 * leave after the last micro-batch's weight gradient of its lowest layer
 * (overlap_grad), or all after the backward; one bucket for both layers
 * leaves once, after layer 0. */
static void test_train_buckets(void)
{
    tcase t;
    tcase_init(&t, SCHED_PIPE_GPIPE, 1, 1, 2, 2);
    t.moe[0] = t.moe[1] = false;
    t.bucket[1] = 1;
    const char *fwd = "0a0.0F 0f0.0F 0a0.1F 0f0.1F 0a1.0F 0f1.0F 0a1.1F 0f1.1F "
                      "0f0.1B 0f0.1W 0a0.1B 0a0.1W 0f0.0B 0f0.0W 0a0.0B 0a0.0W ";
    char want[1024];
    snprintf(want, sizeof(want), "%s0f1.1B 0f1.1W 0a1.1B 0a1.1W 0f1.0B 0f1.0W 0a1.0B 0a1.0W "
                                 "0G1.1+1 0G1.0+1 0o1", fwd);
    expect_training(&t.c, want);
    t.c.overlap_grad = t.c.zero = true;
    snprintf(want, sizeof(want), "%s0f1.1B 0f1.1W 0a1.1B 0a1.1W 0G1.1+1 0f1.0B 0f1.0W "
                                 "0a1.0B 0a1.0W 0G1.0+1 0o1 0P1.1+1 0P1.0+1", fwd);
    expect_training(&t.c, want);
    t.bucket[1] = 0;
    t.moe[1] = true; /* a bucket with an MoE layer has expert gradients too */
    long n;
    sched_step *st = train(&t.c, &n);
    if (!st)
        return;
    char buf[4096];
    render(st + n - 6, 6, true, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, "0a1.0W 0G1.0+2 0X1.0+2 0o1 0P1.0+2 0Q1.0+2");
    for (long i = 0; i < n; i++) {
        EXPECT_EQ_I64(st[i].serial, st[i].kind != SCHED_GRAD_DENSE &&
                                        st[i].kind != SCHED_GRAD_EXPERT);
        if (st[i].kind >= SCHED_GRAD_DENSE)
            EXPECT_EQ_I64(st[i].chunk, st[i].kind == SCHED_OPTIMIZER ? -1 : 0);
    }
    free(st);
}

/* Two stages, 1F1B, two micro-batches of one dense layer per stage. Stage
 * 0 warms up with one forward; its send of micro-batch 1 and its receive of
 * micro-batch 0's gradient are one run (send_forward_recv_backward), and
 * stage 1's send of that gradient and its receive of micro-batch 1 another:
 * the two exchanges meet in either order. */
static void test_train_two_stages(void)
{
    tcase t;
    tcase_init(&t, SCHED_PIPE_1F1B, 2, 1, 1, 2);
    t.moe[0] = t.moe[1] = false;
    expect_training(&t.c, "0a0.0F 0f0.0F 0s0>1F 1a0.1F 1f0.1F 1f0.1B 1f0.1W 1a0.1B 1a0.1W "
                          "0a1.0F 0f1.0F 0s1>1F 1s0>0B 0f0.0B 0f0.0W 0a0.0B 0a0.0W "
                          "1a1.1F 1f1.1F 1f1.1B 1f1.1W 1a1.1B 1a1.1W 1s1>0B "
                          "0f1.0B 0f1.0W 0a1.0B 0a1.0W 0G1.0+1 0o1 1G1.1+1 1o1");
}

/* ---- chunk operations: a stage's program read back from the list -------- */

/* Stage k's chunk operations as <op><micro-batch>.<chunk>: F forward, B
 * backward with its weight gradients, b a backward that deferred them, W a
 * deferred weight-gradient op. A W row is inline if it follows its B row. */
static void ops_of(const sched_step *st, long n, int k, char *buf, size_t cap)
{
    size_t at = 0;
    buf[0] = '\0';
    const sched_step *prev = NULL;
    char op = 0;
    int mb = -1, chunk = -1;
    size_t mark = 0; /* where the current op's letter is, to turn B into b */
    bool inline_w = false;
    for (long i = 0; i < n; i++) {
        const sched_step *s = &st[i];
        if (s->stage != k || s->kind == SCHED_SEND || s->kind >= SCHED_GRAD_DENSE)
            continue;
        bool in = s->phase == SCHED_PHASE_W && prev && prev->phase == SCHED_PHASE_B &&
                  prev->kind == s->kind && prev->layer == s->layer && prev->mb == s->mb;
        char o = s->phase == SCHED_PHASE_F && !s->recompute ? 'F'
                 : s->phase == SCHED_PHASE_W && !in       ? 'W'
                                                          : 'B';
        if (o != op || s->mb != mb || s->chunk != chunk) {
            if (op == 'B' && !inline_w)
                buf[mark] = 'b';
            mark = at + (at > 0);
            at += (size_t)snprintf(buf + at, cap - at, "%s%c%d.%d", at ? " " : "", o, s->mb,
                                   s->chunk);
            op = o, mb = s->mb, chunk = s->chunk, inline_w = false;
        }
        inline_w |= in;
        prev = s;
    }
    if (op == 'B' && !inline_w)
        buf[mark] = 'b';
}

static void expect_ops(const sched_train_config *c, const char *const *want)
{
    long n;
    sched_step *st = train(c, &n);
    if (!st)
        return;
    char buf[2048];
    for (int k = 0; k < c->stages; k++) {
        ops_of(st, n, k, buf, sizeof(buf));
        EXPECT_STR_EQ(buf, want[k]);
    }
    free(st);
}

/* The orders of the reference implementations, written out. */
static void test_train_orders(void)
{
    tcase t;
    /* 1F1B, 4 stages, 6 micro-batches: p - k - 1 warm-up forwards */
    tcase_init(&t, SCHED_PIPE_1F1B, 4, 1, 1, 6);
    const char *const f1b[] = {
        "F0.0 F1.0 F2.0 F3.0 B0.0 F4.0 B1.0 F5.0 B2.0 B3.0 B4.0 B5.0",
        "F0.1 F1.1 F2.1 B0.1 F3.1 B1.1 F4.1 B2.1 F5.1 B3.1 B4.1 B5.1",
        "F0.2 F1.2 B0.2 F2.2 B1.2 F3.2 B2.2 F4.2 B3.2 F5.2 B4.2 B5.2",
        "F0.3 B0.3 F1.3 B1.3 F2.3 B2.3 F3.3 B3.3 F4.3 B4.3 F5.3 B5.3"};
    expect_ops(&t.c, f1b);
    /* interleaved, 2 stages x 2 chunks, 4 micro-batches: Megatron's table
     * (micro-batches 0 1 0 1 2 3 2 3 on chunks j = 0 0 1 1 0 0 1 1) after
     * (p - k - 1) 2 + (v - 1) p warm-up forwards */
    tcase_init(&t, SCHED_PIPE_INTERLEAVED, 2, 2, 1, 4);
    const char *const il[] = {
        "F0.0 F1.0 F0.2 F1.2 F2.0 B0.2 F3.0 B1.2 F2.2 B0.0 F3.2 B1.0 B2.2 B3.2 B2.0 B3.0",
        "F0.1 F1.1 F0.3 B0.3 F1.3 B1.3 F2.1 B0.1 F3.1 B1.1 F2.3 B2.3 F3.3 B3.3 B2.1 B3.1"};
    expect_ops(&t.c, il);
    /* DualPipe, 4 ranks, 8 micro-batches (0-3 from rank 0, 4-7 from rank 3):
     * the log of DualPipe.step() itself, run with its chunk operations stubbed */
    tcase_init(&t, SCHED_PIPE_DUALPIPE, 4, 1, 1, 8);
    const char *const dp[] = {
        "F0.0 F1.0 F2.0 F4.3 b4.3 W4.3 F5.3 F3.0 B5.3 F6.3 B0.0 B6.3 F7.3 B1.0 B7.3 b2.0 W2.0 "
        "b3.0 W3.0",
        "F0.1 F4.2 F1.1 F5.2 F2.1 B4.2 F6.2 B0.1 F3.1 B5.2 F7.2 B1.1 B6.2 B2.1 b7.2 b3.1 W7.2 "
        "W3.1",
        "F4.1 F0.2 F5.1 F1.2 F6.1 B0.2 F2.2 B4.1 F7.1 B1.2 F3.2 B5.1 B2.2 B6.1 b3.2 b7.1 W3.2 "
        "W7.1",
        "F4.0 F5.0 F6.0 F0.3 b0.3 W0.3 F1.3 F7.0 B1.3 F2.3 B4.0 B2.3 F3.3 B5.0 B3.3 b6.0 W6.0 "
        "b7.0 W7.0"};
    expect_ops(&t.c, dp);
    /* 8 ranks, 16 micro-batches: rank 3 (a middle rank, half_rank 3: step 6
     * zero bubble from its i = 2) and rank 6 (half_rank 1) */
    tcase_init(&t, SCHED_PIPE_DUALPIPE, 8, 1, 1, 16);
    long n;
    sched_step *st = train(&t.c, &n);
    if (!st)
        return;
    char buf[2048];
    ops_of(st, n, 3, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, "F0.3 F8.4 F1.3 F9.4 F2.3 F10.4 F3.3 F11.4 F4.3 B8.4 F12.4 B0.3 F5.3 "
                       "B9.4 F13.4 B1.3 F6.3 B10.4 F14.4 B2.3 F7.3 B11.4 F15.4 B3.3 B12.4 "
                       "B4.3 B13.4 B5.3 b14.4 b6.3 b15.4 b7.3 W14.4 W6.3 W15.4 W7.3");
    ops_of(st, n, 6, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, "F8.1 F9.1 F10.1 F11.1 F12.1 F0.6 F13.1 F1.6 b0.6 W0.6 F2.6 b1.6 W1.6 "
                       "F3.6 F14.1 B2.6 F4.6 B8.1 F15.1 B3.6 F5.6 B9.1 B4.6 F6.6 B10.1 B5.6 "
                       "F7.6 B11.1 B6.6 B12.1 b7.6 b13.1 W7.6 b14.1 W13.1 b15.1 W14.1 W15.1");
    free(st);
}

/* ---- the evaluator -------------------------------------------------------- */

/* Times a training step by list scheduling: one compute resource per stage,
 * sends free. A step starts once the previous step of its stage and
 * micro-batch (its chain) has ended, the latest send of its micro-batch to
 * its stage has arrived and, if serial, the previous step of its stage's
 * program has ended. With `joint` a send is one operation of both stages,
 * as sim/play runs it: it also waits for the receiver's chain and program,
 * and ends both. cost[phase] is a chunk operation's F, B, W, carried by the
 * attention rows of the chunk's lowest layer; every other step is free.
 * Returns the makespan; busy[k] (if not NULL) stage k's work, peak[k] (if
 * not NULL) the most micro-batches in flight on stage k (forwards begun less
 * backwards done, along its program). */
typedef struct timing {
    int S, M;
    long long *chain, *arrive, *last, *res;
    int *live;
} timing;

static long long *cell(long long *a, const timing *T, int k, int m)
{
    return &a[k * T->M + m];
}

static long long later(long long a, long long b)
{
    return a > b ? a : b;
}

static long long evaluate(const sched_train_config *c, const sched_step *st, long n,
                          const long long cost[SCHED_PHASES], bool joint, long long *busy,
                          int *peak)
{
    timing T = {.S = c->stages, .M = c->micro_batches};
    T.chain = calloc((size_t)(T.S * T.M), sizeof(*T.chain));
    T.arrive = calloc((size_t)(T.S * T.M), sizeof(*T.arrive));
    T.last = calloc((size_t)T.S, sizeof(*T.last)), T.res = calloc((size_t)T.S, sizeof(*T.res));
    T.live = calloc((size_t)T.S, sizeof(*T.live));
    long long span = 0;
    for (int k = 0; k < T.S; k++) {
        if (busy)
            busy[k] = 0;
        if (peak)
            peak[k] = 0;
    }
    for (long i = 0; i < n; i++) {
        const sched_step *s = &st[i];
        int k = s->stage, m = s->mb, r = s->kind == SCHED_SEND ? s->to : k;
        bool compute = sched_is_compute((sched_kind)s->kind), both = joint && r != k;
        bool lead = s->kind == SCHED_ATTN && !s->recompute && s->layer == c->chunk_first[s->chunk];
        long long t = *cell(T.chain, &T, k, m), d = lead ? cost[s->phase] : 0;
        if (s->kind != SCHED_SEND)
            t = later(t, *cell(T.arrive, &T, k, m));
        if (s->serial)
            t = later(t, T.last[k]);
        if (both)
            t = later(later(t, *cell(T.chain, &T, r, m)), s->serial ? T.last[r] : 0);
        if (compute)
            t = later(t, T.res[k]);
        *cell(T.chain, &T, k, m) = T.last[k] = t + d;
        if (both)
            *cell(T.chain, &T, r, m) = T.last[r] = t + d;
        if (compute)
            T.res[k] = t + d;
        if (s->kind == SCHED_SEND)
            *cell(T.arrive, &T, r, m) = later(*cell(T.arrive, &T, r, m), t + d);
        if (busy)
            busy[k] += d;
        if (lead && s->phase != SCHED_PHASE_W)
            T.live[k] += s->phase == SCHED_PHASE_F ? 1 : -1;
        if (peak && T.live[k] > peak[k])
            peak[k] = T.live[k];
        span = later(span, t + d);
    }
    free(T.chain), free(T.arrive), free(T.last), free(T.res), free(T.live);
    return span;
}

/* Makespans under both evaluations, which these schedules give alike. */
static long long makespan(const sched_train_config *c, const sched_step *st, long n,
                          const long long cost[SCHED_PHASES], long long *busy, int *peak)
{
    long long a = evaluate(c, st, n, cost, false, busy, peak);
    EXPECT_EQ_I64(evaluate(c, st, n, cost, true, NULL, NULL), a);
    return a;
}

/* GPipe and 1F1B: (M + p - 1)(f + b), the bubble (p - 1)(f + b) whatever M
 * (Narayanan et al., SC'21, §2.2); 1F1B holds at most min(p - k, M)
 * micro-batches on stage k, GPipe all M. W runs inside B here. */
static void test_textbook_1f1b(void)
{
    const long long cost[SCHED_PHASES] = {2, 2, 1}, f = 2, b = 3;
    for (int pipe = SCHED_PIPE_GPIPE; pipe <= SCHED_PIPE_1F1B; pipe++)
        for (int p = 2; p <= 4; p += 2)
            for (int M = 4; M <= 8; M += 4) {
                tcase t;
                tcase_init(&t, (sched_pipe)pipe, p, 1, 1, M);
                long n;
                sched_step *st = train(&t.c, &n);
                if (!st)
                    continue;
                long long busy[4];
                int peak[4];
                EXPECT_EQ_I64(makespan(&t.c, st, n, cost, busy, peak), (M + p - 1) * (f + b));
                for (int k = 0; k < p; k++) {
                    EXPECT_EQ_I64(busy[k], M * (f + b));
                    EXPECT_EQ_I64(peak[k], pipe == SCHED_PIPE_GPIPE ? M
                                           : p - k < M             ? p - k
                                                                   : M);
                }
                free(st);
            }
}

/* Interleaved with v chunks per stage, each chunk op f / v and b / v: the
 * bubble shrinks to (p - 1)(f + b) / v (Narayanan et al., §2.2.2). In chunk
 * units: M v (fc + bc) + (p - 1)(fc + bc). */
static void test_textbook_interleaved(void)
{
    const long long cost[SCHED_PHASES] = {2, 2, 1}, fc = 2, bc = 3;
    for (int v = 2; v <= 3; v++)
        for (int p = 2; p <= 4; p += 2)
            for (int M = 4; M <= 8; M += 4) {
                tcase t;
                tcase_init(&t, SCHED_PIPE_INTERLEAVED, p, v, 1, M);
                long n;
                sched_step *st = train(&t.c, &n);
                if (!st)
                    continue;
                long long span = makespan(&t.c, st, n, cost, NULL, NULL);
                char m[128];
                snprintf(m, sizeof(m), "interleaved p %d v %d M %d: makespan %lld", p, v, M,
                         span);
                CU_assertImplementation(span == M * v * (fc + bc) + (p - 1) * (fc + bc),
                                        __LINE__, m, __FILE__, "", CU_FALSE);
                free(st);
            }
}

/* DualPipe's bubble: the makespan less a rank's work, M (f + b + w). */
static long long dual_bubble(int p, int M, long long f, long long b, long long w, bool joint,
                             int *peak)
{
    const long long cost[SCHED_PHASES] = {f, b, w};
    tcase t;
    tcase_init(&t, SCHED_PIPE_DUALPIPE, p, 1, 1, M);
    long n;
    sched_step *st = train(&t.c, &n);
    if (!st)
        return -1;
    long long busy[8];
    long long span = evaluate(&t.c, st, n, cost, joint, busy, peak);
    for (int k = 0; k < p; k++)
        EXPECT_EQ_I64(busy[k], M * (f + b + w));
    free(st);
    return span - M * (f + b + w);
}

/* DualPipe with F and B serial (no overlapped pair), W deferred where
 * DualPipe defers it; f forward, b input gradient, w weight gradient. The
 * README's bubble is (p/2 - 1)(F&B + B - 3W) with B the full backward
 * (b + w) and F&B = F + B when nothing overlaps: (p/2 - 1)(f + 2b - w).
 * With the costs of its figure (f = b = w) the list gives exactly that,
 * and p + 1 micro-batches in flight per rank (its "PP + 1"). With others
 * it does not: f = 6, b = 4, w = 3 gives (p/2 - 1) 13 = (p/2 - 1)(2f + b -
 * w), not 11 - an F on the critical path where the formula counts a b -
 * and 2 more when a send waits for both ends (sim/play's semantics). */
static void test_textbook_dualpipe(void)
{
    for (int p = 4; p <= 8; p += 4)
        for (int M = 2 * p; M <= 4 * p; M += p) {
            int peak[8];
            long long f = 5, b = 5, w = 5, B = b + w;
            long long readme = (p / 2 - 1) * ((f + B) + B - 3 * w);
            EXPECT_EQ_I64(dual_bubble(p, M, f, b, w, false, peak), readme);
            EXPECT_EQ_I64(dual_bubble(p, M, f, b, w, true, NULL), readme);
            for (int k = 0; k < p; k++)
                EXPECT_EQ_I64(peak[k], p + 1);
            EXPECT_EQ_I64(dual_bubble(p, M, 6, 4, 3, false, NULL), (p / 2 - 1) * 13);
            EXPECT_EQ_I64(dual_bubble(p, M, 6, 4, 3, true, NULL), (p / 2 - 1) * 13 + 2);
        }
}

/* ---- rejected configurations ---------------------------------------------- */

static void expect_reject(const sched_train_config *c, const char *key, const char *what)
{
    err_t e = ERR_INIT;
    sched_step st[8];
    EXPECT_EQ_I64(sched_training(c, st, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_EQ(e.key, key);
    EXPECT_STR_CONTAINS(e.msg, what);
    EXPECT_EQ_I64(sched_training_count(c), 0);
}

static void test_train_rejects(void)
{
    tcase t;
    tcase_init(&t, SCHED_PIPE_1F1B, 2, 2, 1, 4);
    expect_reject(&t.c, "parallel.vpp", "vpp 2 with schedule \"1f1b\"");
    tcase_init(&t, SCHED_PIPE_INTERLEAVED, 2, 1, 1, 4);
    expect_reject(&t.c, "parallel.vpp", "allowed: 2 or more");
    tcase_init(&t, SCHED_PIPE_INTERLEAVED, 4, 2, 1, 6);
    expect_reject(&t.c, "workload.micro_batches", "6 micro-batches");
    tcase_init(&t, SCHED_PIPE_DUALPIPE, 3, 1, 1, 6);
    expect_reject(&t.c, "parallel.pp", "3 stages");
    tcase_init(&t, SCHED_PIPE_DUALPIPE, 4, 1, 1, 6);
    expect_reject(&t.c, "workload.micro_batches", "at least 2 x parallel.pp = 8");
    tcase_init(&t, SCHED_PIPE_DUALPIPE, 4, 1, 1, 9);
    expect_reject(&t.c, "workload.micro_batches", "an even number");
    tcase_init(&t, SCHED_PIPE_1F1B, 2, 1, 2, 2);
    t.first[1] = 0; /* chunk 0 empty */
    expect_reject(&t.c, "parallel.pp_layers", "chunk 0 holds no layer");
    tcase_init(&t, SCHED_PIPE_1F1B, 2, 1, 2, 2);
    t.c.layers = 5; /* the chunks end at layer 3 */
    expect_reject(&t.c, "parallel.pp_layers", "layers 0 to 4");
    tcase_init(&t, SCHED_PIPE_GPIPE, 1, 1, 3, 2);
    t.bucket[2] = 0, t.bucket[1] = 1; /* 0 1 0 */
    expect_reject(&t.c, "training.grad_bucket", "layer 2 in bucket 0 after layer 1 in bucket 1");
    tcase_init(&t, SCHED_PIPE_1F1B, 2, 1, 2, 2);
    t.bucket[2] = t.bucket[3] = 0; /* shared by chunks 0 and 1 */
    expect_reject(&t.c, "training.grad_bucket", "across a chunk boundary");
}

/* ---- invariants over a grid ---------------------------------------------- */

/* Counts a training step must have: per (micro-batch, chunk) its forward
 * rows, as many B rows, a W per compute row, a recomputed forward under
 * `full`; the sends between stages. */
static void expected_rows(const sched_train_config *c, long want[SCHED_PHASES + 1])
{
    int C = c->pipe == SCHED_PIPE_INTERLEAVED ? c->stages * c->vpp : c->stages;
    memset(want, 0, sizeof(*want) * (SCHED_PHASES + 1));
    for (int m = 0; m < c->micro_batches; m++)
        for (int ch = 0; ch < C; ch++) {
            for (int l = c->chunk_first[ch]; l < c->chunk_first[ch + 1]; l++) {
                long rows = (c->moe[l] ? 5 : 2) + (c->tp ? 2 : 0), comp = c->moe[l] ? 3 : 2;
                want[SCHED_PHASE_F] += rows, want[SCHED_PHASE_B] += rows;
                want[SCHED_PHASE_W] += comp;
                want[SCHED_PHASES] += c->recompute == SCHED_RECOMPUTE_FULL ? rows : 0;
            }
            long head = c->head && ch + 1 == C;
            want[SCHED_PHASE_F] += head, want[SCHED_PHASE_B] += head, want[SCHED_PHASE_W] += head;
            if (ch + 1 < C && sched_chunk_stage(c, ch, m) != sched_chunk_stage(c, ch + 1, m))
                want[SCHED_PHASE_F]++, want[SCHED_PHASE_B]++;
        }
}

static int cmp_step(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(sched_step));
}

/* Every step once: the counts per phase, and no two steps alike. */
static void check_once(const sched_train_config *c, const sched_step *st, long n, const char *tag)
{
    long want[SCHED_PHASES + 1], got[SCHED_PHASES + 1] = {0};
    expected_rows(c, want);
    for (long i = 0; i < n; i++)
        if (st[i].kind < SCHED_GRAD_DENSE)
            got[st[i].recompute ? SCHED_PHASES : st[i].phase]++;
    for (int ph = 0; ph <= SCHED_PHASES; ph++)
        if (got[ph] != want[ph]) {
            char m[256];
            snprintf(m, sizeof(m), "%s: phase %d has %ld steps, want %ld", tag, ph, got[ph],
                     want[ph]);
            FAIL_MSG(m);
        }
    sched_step *copy = malloc(sizeof(*copy) * (size_t)n);
    memcpy(copy, st, sizeof(*copy) * (size_t)n);
    qsort(copy, (size_t)n, sizeof(*copy), cmp_step);
    for (long i = 1; i < n; i++)
        if (cmp_step(&copy[i - 1], &copy[i]) == 0) {
            char m[256];
            snprintf(m, sizeof(m), "%s: a %s step twice", tag, sched_kind_name(copy[i].kind));
            FAIL_MSG(m);
            break;
        }
    free(copy);
}

/* The order's invariants: a send after the rows it carries the result of,
 * a chunk's rows after the send that brought their input, B after its F,
 * each W after its B, a bucket's gradients after the last weight gradient
 * of its lowest layer on that stage and with its micro-batch, the
 * optimizer after its stage's buckets. */
static int check_order(const sched_train_config *c, const sched_step *st, long n,
                       const char *tag)
{
    int M = c->micro_batches, L = c->layers, C = c->pipe == SCHED_PIPE_INTERLEAVED
                                                     ? c->stages * c->vpp : c->stages;
    long *sent = calloc((size_t)(M * C * 2), sizeof(*sent));   /* (mb, from chunk, B?) */
    long *fdone = calloc((size_t)(M * C), sizeof(*fdone));     /* last F row + 1 */
    long *brow = calloc((size_t)(M * L * SCHED_KIND_COUNT), sizeof(*brow)); /* B row + 1 */
    /* per (stage, layer): DualPipe holds a chunk on two stages */
    long *wlast = calloc((size_t)(c->stages * L), sizeof(*wlast)); /* last W attention row + 1 */
    int *wmb = calloc((size_t)(c->stages * L), sizeof(*wmb));
    long *grads = calloc((size_t)c->stages, sizeof(*grads));
    int bad = 0;
    for (long i = 0; i < n && !bad; i++) {
        const sched_step *s = &st[i];
        int m = s->mb, ch = s->chunk;
        if (s->kind == SCHED_SEND) {
            sent[(m * C + ch) * 2 + (s->phase != SCHED_PHASE_F)] = i + 1;
            if (s->phase == SCHED_PHASE_F) /* activations after the chunk's forward */
                bad |= fdone[m * C + ch] == 0;
            else /* a gradient after its chunk's input gradient (the lowest attention's B) */
                bad |= 64 * (brow[(m * L + c->chunk_first[ch]) * SCHED_KIND_COUNT + SCHED_ATTN] == 0);
            continue;
        }
        if (s->kind == SCHED_OPTIMIZER) {
            bad |= 2 * (grads[s->stage] == 0);
            continue;
        }
        if (s->kind >= SCHED_GRAD_DENSE) {
            int at = s->stage * L + s->layer;
            bad |= 4 * (wlast[at] == 0 || wmb[at] != m);
            grads[s->stage]++;
            continue;
        }
        bool fwd = s->phase == SCHED_PHASE_F && !s->recompute;
        int from = fwd ? ch - 1 : ch + 1;
        if (from >= 0 && from < C && sched_chunk_stage(c, from, m) != s->stage)
            bad |= 8 * (sent[(m * C + from) * 2 + !fwd] == 0);
        if (fwd)
            fdone[m * C + ch] = i + 1;
        else
            bad |= 16 * (fdone[m * C + ch] == 0);
        long *b = &brow[(m * L + s->layer) * SCHED_KIND_COUNT + s->kind];
        if (s->phase == SCHED_PHASE_B)
            *b = i + 1;
        if (s->phase == SCHED_PHASE_W)
            bad |= 32 * (*b == 0);
        if (s->phase == SCHED_PHASE_W && s->kind == SCHED_ATTN)
            wlast[s->stage * L + s->layer] = i + 1, wmb[s->stage * L + s->layer] = m;
    }
    if (bad) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s: order broken (%d)", tag, bad);
        FAIL_MSG(msg);
    }
    free(sent), free(fdone), free(brow), free(wlast), free(wmb), free(grads);
    return bad;
}

/* The stage's rows of one chunk operation are consecutive among its rows:
 * reading the operations back finds each once, F and B (or b) for every
 * micro-batch of every chunk on the stage, a W per b. */
static void check_ops(const sched_train_config *c, const sched_step *st, long n, const char *tag)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    bool dual = c->pipe == SCHED_PIPE_DUALPIPE;
    long want = (long)c->micro_batches * (dual ? 1 : c->vpp); /* (micro-batch, chunk) pairs */
    for (int k = 0; k < c->stages; k++) {
        ops_of(st, n, k, buf, cap);
        long count[128] = {0};
        for (const char *p = buf; *p; p++)
            if (p == buf || p[-1] == ' ')
                count[(unsigned char)*p]++;
        if (count['F'] != want || count['B'] + count['b'] != want || count['W'] != count['b'] ||
            (!dual && count['b'])) {
            char m[512];
            snprintf(m, sizeof(m), "%s: stage %d runs F %ld, B %ld, b %ld, W %ld: %.100s", tag, k,
                     count['F'], count['B'], count['b'], count['W'], buf);
            FAIL_MSG(m);
        }
    }
    free(buf);
}

static void check_all(const sched_train_config *c, const char *tag)
{
    long n;
    sched_step *st = train(c, &n);
    if (!st)
        return;
    check_once(c, st, n, tag);
    check_order(c, st, n, tag);
    check_ops(c, st, n, tag);
    free(st);
}

/* Every pipe for p in {1, 2, 4, 8}, a range of micro-batches, v in {2, 3},
 * one or two layers per chunk or uneven ones, with and without TP, the
 * output layer, full recomputation, overlapped buckets and ZeRO. */
static void test_train_grid(void)
{
    int cases = 0;
    for (int pipe = 0; pipe < SCHED_PIPE_COUNT; pipe++)
        for (int p = 1; p <= 8; p *= 2)
            for (int v = 1; v <= 3; v++)
                for (int M = 1; M <= 3 * p + 2; M++)
                    for (int split = 0; split < 3; split++) {
                        if ((pipe == SCHED_PIPE_INTERLEAVED) != (v > 1) ||
                            (pipe == SCHED_PIPE_INTERLEAVED && M % p) ||
                            (pipe == SCHED_PIPE_DUALPIPE && (p % 2 || M % 2 || M < 2 * p)))
                            continue;
                        tcase t;
                        tcase_init(&t, (sched_pipe)pipe, p, v, split == 1 ? 2 : 1, M);
                        if (split == 2) /* uneven: chunk c holds 1 + c % 3 layers */
                            for (int ch = 0; ch < p * v; ch++)
                                t.first[ch + 1] = t.first[ch] + 1 + ch % 3;
                        t.c.layers = t.first[p * v];
                        for (int l = 0, ch = 0; l < t.c.layers; l++) {
                            while (l >= t.first[ch + 1])
                                ch++;
                            t.bucket[l] = 2 * ch + (l > t.first[ch]); /* two per chunk */
                        }
                        int bits = cases++;
                        t.c.tp = bits & 1, t.c.head = bits & 2, t.c.overlap_grad = bits & 4;
                        t.c.zero = bits & 8;
                        t.c.recompute = bits & 16 ? SCHED_RECOMPUTE_FULL : SCHED_RECOMPUTE_NONE;
                        char tag[128];
                        snprintf(tag, sizeof(tag), "%s p %d v %d M %d split %d flags %d",
                                 sched_pipe_name((sched_pipe)pipe), p, v, M, split, bits & 31);
                        check_all(&t.c, tag);
                    }
    EXPECT_TRUE(cases > 300);
}

/* How often a stage's layer rows change between forward and backward, over
 * the p stages. */
static long switches(const sched_step *st, long n, int p)
{
    long k = 0;
    for (int stage = 0; stage < p; stage++) {
        int last = -1;
        for (long i = 0; i < n; i++) {
            if (st[i].stage != stage || st[i].kind >= SCHED_SEND)
                continue;
            int fwd = st[i].phase == SCHED_PHASE_F;
            k += last >= 0 && fwd != last;
            last = fwd;
        }
    }
    return k;
}

/* overlap_a2a: DualPipe's overlapped pairs interleave at communication
 * (serial 0 on their steps, a forward's dispatch between the backward's
 * rows), the invariants still hold, and the step has the same steps. */
static void test_train_overlap(void)
{
    for (int M = 8; M <= 12; M += 4) {
        tcase t;
        tcase_init(&t, SCHED_PIPE_DUALPIPE, 4, 1, 1, M);
        for (int l = 0; l < t.c.layers; l++)
            t.moe[l] = true;
        long n0, n1;
        sched_step *a = train(&t.c, &n0);
        t.c.overlap_a2a = true;
        sched_step *b = train(&t.c, &n1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        /* the lists' invariants (an overlapped pair's operations interleave
         * by design: check_ops's rule is not one of them here) */
        check_once(&t.c, b, n1, "dualpipe overlap_a2a");
        check_order(&t.c, b, n1, "dualpipe overlap_a2a");
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        EXPECT_EQ_I64(n1, n0);
        long free0 = 0, free1 = 0;
        for (long i = 0; i < n0; i++) {
            free0 += !a[i].serial && a[i].kind < SCHED_GRAD_DENSE;
            free1 += !b[i].serial && b[i].kind < SCHED_GRAD_DENSE;
        }
        EXPECT_EQ_I64(free0, 0);
        EXPECT_TRUE(free1 > 0);
        /* on each stage, forward and backward rows alternate more often: a
         * pair of one-MoE-layer chunks runs F [attention gate dispatch], B
         * [combine], F [experts combine], B [experts dispatch], B [gate
         * attention]... four more changes than F then B */
        long more = switches(b, n1, 4) - switches(a, n0, 4);
        EXPECT_TRUE(more > 0);
        EXPECT_EQ_I64(more % 4, 0);
        free(a);
        free(b);
    }
}

void test_sched_register(void)
{
    TEST_SUITE("sched", {"one stage", test_one_stage}, {"two batches", test_two_batch},
               {"stages", test_two_stages}, {"rejects", test_rejects}, {"names", test_names},
               {"training, one stage", test_train_one_stage},
               {"training, buckets", test_train_buckets},
               {"training, two stages", test_train_two_stages},
               {"training, orders", test_train_orders},
               {"textbook 1f1b and gpipe", test_textbook_1f1b},
               {"textbook interleaved", test_textbook_interleaved},
               {"textbook dualpipe", test_textbook_dualpipe},
               {"training, rejects", test_train_rejects},
               {"training, invariants", test_train_grid},
               {"training, dualpipe overlap", test_train_overlap});
}
