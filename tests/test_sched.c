/* test_sched.c - forward schedules as lists: each case written out by hand.
 *
 * A step prints as <stage><kind letter><micro-batch>.<layer>, a send as
 * <sender>s<micro-batch>; letters: a attention, t TP all-reduce after it,
 * f dense FFN, g gate, d dispatch, e experts, c combine, u TP all-reduce
 * after the block. */
#include <string.h>

#include "moesim/sched.h"
#include "test.h"

static void render(const sched_step *st, long n, char *buf, size_t cap)
{
    static const char letter[SCHED_KIND_COUNT] = {
        [SCHED_ATTN] = 'a', [SCHED_TP_ATTN] = 't', [SCHED_FFN] = 'f',
        [SCHED_GATE] = 'g', [SCHED_DISPATCH] = 'd', [SCHED_EXPERTS] = 'e',
        [SCHED_COMBINE] = 'c', [SCHED_TP_FFN] = 'u', [SCHED_SEND] = 's', [SCHED_HEAD] = 'h'};
    size_t at = 0;
    buf[0] = '\0';
    for (long i = 0; i < n && at + 16 < cap; i++) {
        if (st[i].kind == SCHED_SEND)
            at += (size_t)snprintf(buf + at, cap - at, "%s%ds%d", i ? " " : "", st[i].stage,
                                   st[i].mb);
        else
            at += (size_t)snprintf(buf + at, cap - at, "%s%d%c%d.%d", i ? " " : "",
                                   st[i].stage, letter[st[i].kind], st[i].mb, st[i].layer);
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
    render(st, n, buf, sizeof(buf));
    EXPECT_STR_EQ(buf, want);
    for (long i = 0; i < n; i++)
        EXPECT_EQ_I64(st[i].serial, c->overlap == SCHED_OVERLAP_NONE);
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

void test_sched_register(void)
{
    TEST_SUITE("sched", {"one stage", test_one_stage}, {"two batches", test_two_batch},
               {"stages", test_two_stages}, {"rejects", test_rejects});
}
