/*
 * test_router.c - the gate: softmax values, top-k order and ties, weights,
 * the probability sums and the auxiliary loss, by hand-computed cases.
 */
#include "moesim/router.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Row 0 is 1..4: p_i = e^i / (e + e^2 + e^3 + e^4); top-2 = experts 3, 2.
 * Row 1 ties everywhere: the lower indices win, 0 then 1, p = 1/4 each.
 * Row 2 ties at the top: 1 before 2. */
static const double table[3 * 4] = {1, 2, 3, 4, 0, 0, 0, 0, 2, 5, 5, 1};

static void test_softmax_top2(void)
{
    router_config cfg = {ROUTER_SOFTMAX_TOPK, 4, 2, false};
    int32_t c[6];
    double w[6], ps[4] = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, table, 3, c, w, ps, &e), 0);

    double z = exp(1) + exp(2) + exp(3) + exp(4);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_EQ_I64(c[1], 2);
    EXPECT_NEAR(w[0], exp(4) / z, 1e-15); /* 0.6439142598879722 */
    EXPECT_NEAR(w[1], exp(3) / z, 1e-15); /* 0.2368828180899... */
    EXPECT_NEAR(w[0], 0.6439142598879722, 1e-15);

    EXPECT_EQ_I64(c[2], 0); /* all equal: lowest indices first */
    EXPECT_EQ_I64(c[3], 1);
    EXPECT_NEAR(w[2], 0.25, 1e-15);
    EXPECT_NEAR(w[3], 0.25, 1e-15);

    EXPECT_EQ_I64(c[4], 1); /* a tie at the top: expert 1 before expert 2 */
    EXPECT_EQ_I64(c[5], 2);
    EXPECT_NEAR(w[4], w[5], 0);

    /* prob_sum holds the three full softmax rows added up; each row sums to 1 */
    double z2 = exp(2) + 2 * exp(5) + exp(1);
    EXPECT_NEAR(ps[0], exp(1) / z + 0.25 + exp(2) / z2, 1e-15);
    EXPECT_NEAR(ps[3], exp(4) / z + 0.25 + exp(1) / z2, 1e-15);
    EXPECT_NEAR(ps[0] + ps[1] + ps[2] + ps[3], 3.0, 1e-14);
}

static void test_normalize(void)
{
    router_config cfg = {ROUTER_SOFTMAX_TOPK, 4, 2, true};
    int32_t c[2];
    double w[2];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, table, 1, c, w, NULL, &e), 0);
    /* renormalised over the two: e^4 / (e^4 + e^3) = 1 / (1 + 1/e) */
    EXPECT_NEAR(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-15);
    EXPECT_NEAR(w[0] + w[1], 1.0, 1e-15);

    cfg.top_k = 1; /* Switch: one expert, normalised weight 1 */
    EXPECT_EQ_I64(router_route(&cfg, table, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_NEAR(w[0], 1.0, 0);
}

static void test_k_equals_e(void)
{
    /* k = E lists every expert in descending order, ties by index */
    router_config cfg = {ROUTER_SOFTMAX_TOPK, 4, 4, false};
    const double x[4] = {0.5, -1, 0.5, 2};
    int32_t c[4];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, x, 1, c, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_EQ_I64(c[1], 0);
    EXPECT_EQ_I64(c[2], 2);
    EXPECT_EQ_I64(c[3], 1);
}

static void test_stable_large_logits(void)
{
    /* without subtracting the max, e^1000 overflows to inf and p is NaN */
    router_config cfg = {ROUTER_SOFTMAX_TOPK, 2, 1, false};
    const double x[2] = {1000, 999};
    int32_t c[1];
    double w[1];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, x, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 0);
    EXPECT_NEAR(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-15);
}

/* Random wide rows (past the stack scratch) against a selection by brute
 * force: the i-th choice is the best expert not yet chosen, lower index on ties. */
static void test_wide_against_brute_force(void)
{
    enum { E = 600, K = 8, T = 50 };
    router_config cfg = {ROUTER_SOFTMAX_TOPK, E, K, true};
    double *x = malloc(sizeof(double) * E * T);
    int32_t c[K * T], c2[K * T];
    double w[K * T];
    unsigned s = 12345;
    for (int i = 0; i < E * T; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)((s >> 16) % 64) / 8.0; /* coarse values: many ties */
    }
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, x, T, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(router_route(&cfg, x, T, c2, NULL, NULL, &e), 0);
    int bad = 0;
    for (int t = 0; t < T; t++) {
        char used[E] = {0};
        for (int j = 0; j < K; j++) {
            int best = -1;
            for (int i = 0; i < E; i++)
                if (!used[i] && (best < 0 || x[t * E + i] > x[t * E + best]))
                    best = i;
            used[best] = 1;
            bad += c[t * K + j] != best || c2[t * K + j] != best;
        }
        double sum = 0;
        for (int j = 0; j < K; j++)
            sum += w[t * K + j];
        EXPECT_NEAR(sum, 1.0, 1e-12);
    }
    EXPECT_EQ_I64(bad, 0);
    free(x);
}

static void test_aux_loss(void)
{
    /* uniform counts and probabilities: f_i = P_i = 1/E, E * E * 1/E^2 = 1 */
    int64_t counts[4] = {5, 5, 5, 5};
    double ps[4] = {2.5, 2.5, 2.5, 2.5}; /* 10 tokens, P_i = 0.25 */
    EXPECT_NEAR(router_aux_loss(4, counts, ps, 10), 1.0, 1e-15);

    /* everything on expert 0: E * 1 * 1 = E */
    int64_t c1[4] = {20, 0, 0, 0};
    double p1[4] = {10, 0, 0, 0};
    EXPECT_NEAR(router_aux_loss(4, c1, p1, 10), 4.0, 1e-15);

    /* f = (0.5, 0.5, 0, 0), P = (0.25, ...): 4 * (0.125 + 0.125) = 1 */
    int64_t c2[4] = {10, 10, 0, 0};
    EXPECT_NEAR(router_aux_loss(4, c2, ps, 10), 1.0, 1e-15);

    int64_t zero[4] = {0};
    EXPECT_NEAR(router_aux_loss(4, zero, ps, 10), 0.0, 0);
}

static void test_bad_config(void)
{
    int32_t c[4];
    err_t e = ERR_INIT;
    router_config cfg = {ROUTER_SOFTMAX_TOPK, 4, 0, false};
    EXPECT_EQ_I64(router_route(&cfg, table, 1, c, NULL, NULL, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, "model.top_k");
    EXPECT_STR_CONTAINS(e.msg, "allowed");
    cfg.top_k = 5;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.top_k");
    cfg.experts = 0;
    cfg.top_k = 1;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.experts");
    cfg.experts = 4;
    EXPECT_EQ_I64(router_check(&cfg, &e), 0);
    EXPECT_EQ_I64(router_route(&cfg, table, 0, c, NULL, NULL, &e), 0); /* empty batch */
}

void test_router_register(void);
void test_router_register(void)
{
    TEST_SUITE("router", {"softmax values and top-2 on a 4-expert table", test_softmax_top2},
               {"normalize on and off, top-1", test_normalize},
               {"k = E lists all experts, ties by index", test_k_equals_e},
               {"softmax is stable for large logits", test_stable_large_logits},
               {"wide rows match a brute-force top-k", test_wide_against_brute_force},
               {"auxiliary loss: 1 uniform, E all on one", test_aux_loss},
               {"bad config names the key", test_bad_config});
}
