/*
 * test_router.c - the gate: softmax values, top-k order and ties, weights,
 * the probability sums and the auxiliary loss, by hand-computed cases.
 */
#include "moesim/router.h"

#include "moesim/fmath.h"

#include <gsl/gsl_rng.h>
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
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = 4, .top_k = 2, .normalize = false};
    int32_t c[6];
    double w[6], ps[4] = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 3, c, w, ps, &e), 0);

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
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = 4, .top_k = 2, .normalize = true};
    int32_t c[2];
    double w[2];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 1, c, w, NULL, &e), 0);
    /* renormalised over the two: e^4 / (e^4 + e^3) = 1 / (1 + 1/e) */
    EXPECT_NEAR(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-15);
    EXPECT_NEAR(w[0] + w[1], 1.0, 1e-15);

    cfg.top_k = 1; /* Switch: one expert, normalised weight 1 */
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_NEAR(w[0], 1.0, 0);
}

static void test_k_equals_e(void)
{
    /* k = E lists every expert in descending order, ties by index */
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = 4, .top_k = 4, .normalize = false};
    const double x[4] = {0.5, -1, 0.5, 2};
    int32_t c[4];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_EQ_I64(c[1], 0);
    EXPECT_EQ_I64(c[2], 2);
    EXPECT_EQ_I64(c[3], 1);
}

static void test_stable_large_logits(void)
{
    /* without subtracting the max, e^1000 overflows to inf and p is NaN */
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = 2, .top_k = 1, .normalize = false};
    const double x[2] = {1000, 999};
    int32_t c[1];
    double w[1];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 0);
    EXPECT_NEAR(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-15);
}

/* Random wide rows (past the stack scratch) against a selection by brute
 * force: the i-th choice is the best expert not yet chosen, lower index on ties. */
static void test_wide_against_brute_force(void)
{
    enum { E = 600, K = 8, T = 50 };
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = E, .top_k = K, .normalize = true};
    double *x = malloc(sizeof(double) * E * T);
    int32_t c[K * T], c2[K * T];
    double w[K * T];
    unsigned s = 12345;
    for (int i = 0; i < E * T; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)((s >> 16) % 64) / 8.0; /* coarse values: many ties */
    }
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, T, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, T, c2, NULL, NULL, &e), 0);
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
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK,
                         .experts = 4, .top_k = 0, .normalize = false};
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 1, c, NULL, NULL, &e), -1);
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
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 0, c, NULL, NULL, &e), 0); /* empty batch */
}

/* Mixtral: top-2 of the logits, softmax over the two. Row 0 (1, 2, 3, 4):
 * experts 3, 2, weights e^4 / (e^4 + e^3) and e^3 / (e^4 + e^3). Row 2
 * (2, 5, 5, 1): a tie, experts 1 then 2, 0.5 each. */
static void test_topk_softmax(void)
{
    router_config cfg = {.kind = ROUTER_TOPK_SOFTMAX, .experts = 4, .top_k = 2};
    int32_t c[6];
    double w[6], ps[4] = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, table, 3, c, w, ps, &e), 0);
    EXPECT_EQ_I64(c[0], 3);
    EXPECT_EQ_I64(c[1], 2);
    EXPECT_NEAR(w[0], 1.0 / (1.0 + exp(-1.0)), 1e-15); /* 0.7310585786300049 */
    EXPECT_NEAR(w[1], 1.0 / (1.0 + exp(1.0)), 1e-15);
    EXPECT_EQ_I64(c[4], 1);
    EXPECT_EQ_I64(c[5], 2);
    EXPECT_NEAR(w[4], 0.5, 1e-15);
    EXPECT_NEAR(ps[0] + ps[1] + ps[2] + ps[3], 3.0, 1e-14); /* full softmax for aux */
}

/* DeepSeek-V3's gate on 4 experts, top-2: logits (0, 0, 1, -1) give
 * s = (0.5, 0.5, 0.7311, 0.2689). Without bias: expert 2, then 0 before 1
 * (a tie). With bias (0, 0.3, 0, 0): biased (0.5, 0.8, 0.7311, 0.2689):
 * experts 1, 2; the weights stay the unbiased s, normalised:
 * 0.5 / 1.2311 and 0.7311 / 1.2311. */
static void test_sigmoid_bias(void)
{
    const double x[4] = {0, 0, 1, -1};
    const double bias[4] = {0, 0.3, 0, 0};
    router_config cfg = {.kind = ROUTER_SIGMOID_BIAS, .experts = 4, .top_k = 2,
                         .normalize = true};
    int32_t c[2];
    double w[2];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 2);
    EXPECT_EQ_I64(c[1], 0);
    router_state st = {.bias = bias};
    EXPECT_EQ_I64(router_route(&cfg, &st, x, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 1);
    EXPECT_EQ_I64(c[1], 2);
    double s2 = 1.0 / (1.0 + exp(-1.0));
    EXPECT_NEAR(w[0], 0.5 / (0.5 + s2), 1e-15);
    EXPECT_NEAR(w[1], s2 / (0.5 + s2), 1e-15);

    /* the update: loads 3, 1, 2, 2 (mean 2): expert 0 down, 1 up, 2 and 3 stay */
    double b[4] = {0, 0, 0, 0};
    int64_t load[4] = {3, 1, 2, 2};
    cfg.bias_update_speed = 0.001;
    router_update_bias(&cfg, b, load);
    EXPECT_NEAR(b[0], -0.001, 0);
    EXPECT_NEAR(b[1], 0.001, 0);
    EXPECT_NEAR(b[2], 0, 0);
    EXPECT_NEAR(b[3], 0, 0);
}

/* Group-limited, 8 experts in 4 groups of 2, 2 groups kept, top-3. Logits
 * g0 (4, 4), g1 (5, -9), g2 (4.5, -9), g3 (0, 0).
 * softmax families: group scores e^a + e^b: g1 148.4, g0 109.2, g2 90.0,
 * g3 2: keep g0, g1: experts 2 (5), then 0 and 1 (4, a tie: 0 first).
 * Ungrouped it would be 2, 4, 0.
 * sigmoid_bias: scores s(a) + s(b): g0 1.964, g3 1.0, g1 0.9934, g2 0.9890:
 * keep g0, g3: experts 0, 1 (0.982), then 6 (0.5, before its tie 7). */
static void test_grouped_by_hand(void)
{
    const double x[8] = {4, 4, 5, -9, 4.5, -9, 0, 0};
    router_config cfg = {.kind = ROUTER_SOFTMAX_TOPK, .experts = 8, .top_k = 3,
                         .normalize = true, .groups = 4, .topk_groups = 2};
    int32_t c[3];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 2);
    EXPECT_EQ_I64(c[1], 0);
    EXPECT_EQ_I64(c[2], 1);
    cfg.groups = cfg.topk_groups = 1;
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(c[1], 4);
    cfg.kind = ROUTER_SIGMOID_BIAS;
    cfg.groups = 4;
    cfg.topk_groups = 2;
    double w[3];
    EXPECT_EQ_I64(router_route(&cfg, NULL, x, 1, c, w, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 0);
    EXPECT_EQ_I64(c[1], 1);
    EXPECT_EQ_I64(c[2], 6);
    EXPECT_NEAR(w[0] + w[1] + w[2], 1.0, 1e-15);
}

/* Group-limited routing never chooses outside the token's best groups, and
 * inside them it is the plain top-k: random rows, every top-k family, checked
 * against a brute force that ranks groups by their top-2 sum itself. */
static void test_grouped_never_outside(void)
{
    enum { E = 64, G = 8, KG = 3, K = 6, T = 200, PER = E / G };
    const router_kind kinds[] = {ROUTER_SOFTMAX_TOPK, ROUTER_TOPK_SOFTMAX, ROUTER_SIGMOID_BIAS};
    double *x = malloc(sizeof(double) * E * T);
    unsigned s = 777;
    for (int i = 0; i < E * T; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (double)((s >> 16) % 97) / 16.0 - 3.0;
    }
    int bad = 0;
    for (size_t q = 0; q < sizeof(kinds) / sizeof(kinds[0]); q++) {
        router_config cfg = {.kind = kinds[q], .experts = E, .top_k = K, .normalize = true,
                             .groups = G, .topk_groups = KG};
        int32_t c[K * T];
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(router_route(&cfg, NULL, x, T, c, NULL, NULL, &e), 0);
        for (int t = 0; t < T; t++) {
            const double *r = x + t * E;
            double a[E], gs[G], m = r[0];
            for (int i = 0; i < E; i++)
                m = r[i] > m ? r[i] : m;
            for (int i = 0; i < E; i++) /* the affinity whose top-2 sum ranks groups */
                a[i] = kinds[q] == ROUTER_SIGMOID_BIAS ? 1.0 / (1.0 + fm_exp(-r[i]))
                                                       : fm_exp(r[i] - m);
            for (int g = 0; g < G; g++) {
                double b1 = -1, b2 = -1;
                for (int i = g * PER; i < (g + 1) * PER; i++) {
                    if (a[i] > b1) {
                        b2 = b1;
                        b1 = a[i];
                    } else if (a[i] > b2) {
                        b2 = a[i];
                    }
                }
                gs[g] = b1 + b2;
            }
            char keep[G] = {0};
            for (int j = 0; j < KG; j++) {
                int best = -1;
                for (int g = 0; g < G; g++)
                    if (!keep[g] && (best < 0 || gs[g] > gs[best]))
                        best = g;
                keep[best] = 1;
            }
            char used[E] = {0};
            for (int j = 0; j < K; j++) {
                int32_t ch = c[t * K + j];
                bad += !keep[ch / PER]; /* outside the kept groups */
                int best = -1;
                for (int i = 0; i < E; i++)
                    if (keep[i / PER] && !used[i] && (best < 0 || a[i] > a[best]))
                        best = i;
                used[best] = 1;
                bad += ch != best;
            }
        }
    }
    EXPECT_EQ_I64(bad, 0);
    free(x);
}

/*
 * The selection's fast paths (the floor from slice maxima or from the chosen
 * groups' top pairs, rank selection, the SSE2 group top-2, the fallbacks
 * past 32 candidates or 32 groups) against a brute force that knows none of
 * them: group scores as the router defines them (exp(v1 - m) + exp(v2 - m)
 * with the router's own exp, fm_exp,
 * of a group's two largest logits, or v1 + v2 of sigmoid affinities), the
 * topk_groups best groups, then repeated "largest, lower index on a tie"
 * over the kept experts. Inputs: coarse random values (ties everywhere),
 * rows with one value (every entry ties at the floor), -0.0 beside 0.0, and
 * shapes that hit each path: groups of 1, 6, 12, 32, 75 and 300 experts,
 * 40 groups, k from 1 to 12. Choices alone and with weights must agree.
 */
static int brute_grouped(const double *r, int E, int G, int kg, int k, int sigmoid,
                         const int32_t *c)
{
    const int per = E / G;
    double a[600], gs[600], g2[600], m = -INFINITY;
    char keep[600] = {0}, used[600] = {0};
    for (int i = 0; i < E; i++)
        a[i] = sigmoid ? 1.0 / (1.0 + fm_exp(-r[i])) + 0.0 : r[i];
    for (int g = 0; g < G; g++) {
        double b1 = -INFINITY, b2 = -INFINITY;
        for (int i = g * per; i < (g + 1) * per; i++) {
            if (a[i] > b1) {
                b2 = b1;
                b1 = a[i];
            } else if (a[i] > b2) {
                b2 = a[i];
            }
        }
        m = b1 > m ? b1 : m;
        gs[g] = b1;
        g2[g] = b2;
    }
    for (int g = 0; g < G; g++) {
        const double b1 = gs[g], b2 = g2[g];
        if (G == 1)
            gs[g] = 0;
        else if (sigmoid)
            gs[g] = b1 + (per > 1 ? b2 : 0.0);
        else
            gs[g] = fm_exp(b1 - m) + (per > 1 ? fm_exp(b2 - m) : 0.0);
    }
    for (int j = 0; j < kg; j++) {
        int best = -1;
        for (int g = 0; g < G; g++)
            if (!keep[g] && (best < 0 || gs[g] > gs[best]))
                best = g;
        keep[best] = 1;
    }
    int bad = 0;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < E; i++)
            if (keep[i / per] && !used[i] && (best < 0 || a[i] > a[best]))
                best = i;
        used[best] = 1;
        bad += c[j] != best;
    }
    return bad;
}

static void test_fast_selection_against_brute_force(void)
{
    static const struct { int E, G, kg, k; } shapes[] = {
        {32, 1, 1, 8},    {64, 1, 1, 1},   {256, 1, 1, 8},  {256, 1, 1, 2},
        {600, 1, 1, 12},  {256, 8, 4, 8},  {256, 8, 1, 8},  {256, 8, 8, 12},
        {48, 8, 3, 5},    {96, 8, 2, 3},   {600, 8, 3, 8},  {600, 2, 1, 8},
        {600, 40, 20, 8}, {64, 64, 8, 4},  {64, 64, 3, 3},  {256, 16, 2, 1},
    };
    enum { T = 40 };
    double *x = malloc(sizeof(double) * 600 * T);
    int32_t c[12 * T], c2[12 * T];
    double w[12 * T];
    int bad = 0, rows = 0, sets = 0;
    /* every instruction set this CPU runs: each has its own candidate paths */
    for (int isa = ISA_BASE; isa <= ISA_AVX512; isa++) {
        if (isa_force(isa) < 0)
            continue;
        sets++;
        unsigned s = 4242;
        for (size_t q = 0; q < sizeof(shapes) / sizeof(shapes[0]); q++) {
            const int E = shapes[q].E, G = shapes[q].G, kg = shapes[q].kg, k = shapes[q].k;
            for (int input = 0; input < 4; input++) {
                for (int i = 0; i < E * T; i++) {
                    s = s * 1103515245u + 12345u;
                    const unsigned u = s >> 16;
                    switch (input) {
                    case 0: x[i] = (double)(u % 8) / 4.0; break;          /* ties */
                    case 1: x[i] = (double)(u % 4096) / 64.0 - 32.0; break;
                    case 2: x[i] = 1.5; break;                            /* one value */
                    default: x[i] = u % 3 == 0 ? 0.0 : u % 3 == 1 ? -0.0 : -1.0; break;
                    }
                }
                for (int sig = 0; sig < 2; sig++) {
                    router_config cfg = {.kind = sig ? ROUTER_SIGMOID_BIAS : ROUTER_SOFTMAX_TOPK,
                                         .experts = E, .top_k = k, .normalize = true,
                                         .groups = G, .topk_groups = kg};
                    err_t e = ERR_INIT;
                    EXPECT_EQ_I64(router_route(&cfg, NULL, x, T, c, NULL, NULL, &e), 0);
                    EXPECT_EQ_I64(router_route(&cfg, NULL, x, T, c2, w, NULL, &e), 0);
                    for (int t = 0; t < T; t++, rows++) {
                        bad += brute_grouped(x + (size_t)t * E, E, G, kg, k, sig, c + t * k);
                        bad += memcmp(c + t * k, c2 + t * k, sizeof(*c) * (size_t)k) != 0;
                    }
                }
            }
        }
    }
    isa_force(-1);
    EXPECT_TRUE(sets >= 1);
    EXPECT_EQ_I64(rows, sets * 16 * 4 * 2 * T);
    EXPECT_EQ_I64(bad, 0);
    free(x);
}

/* Noisy top-k: std 0 is topk_softmax; with noise the choices are distinct
 * and the same stream seed gives the same choices. */
static void test_noisy(void)
{
    enum { E = 16, K = 4, T = 100 };
    double x[E * T];
    for (int i = 0; i < E * T; i++)
        x[i] = (double)(i % 7);
    router_config a = {.kind = ROUTER_NOISY_TOPK, .experts = E, .top_k = K};
    router_config b = {.kind = ROUTER_TOPK_SOFTMAX, .experts = E, .top_k = K};
    int32_t ca[K * T], cb[K * T], cc[K * T];
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(router_route(&a, NULL, x, T, ca, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(router_route(&b, NULL, x, T, cb, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(memcmp(ca, cb, sizeof(ca)), 0);
    a.noise_std = 1.0;
    EXPECT_EQ_I64(router_route(&a, NULL, x, T, ca, NULL, NULL, &e), -1); /* no stream */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    router_state st = {.noise = r};
    EXPECT_EQ_I64(router_route(&a, &st, x, T, ca, NULL, NULL, &e), 0);
    gsl_rng_set(r, 5);
    EXPECT_EQ_I64(router_route(&a, &st, x, T, cc, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(memcmp(ca, cc, sizeof(ca)), 0);
    int differ = 0, dup = 0;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < K; j++) {
            differ += ca[t * K + j] != cb[t * K + j];
            for (int q = 0; q < j; q++)
                dup += ca[t * K + j] == ca[t * K + q];
        }
    EXPECT_TRUE(differ > 0);
    EXPECT_EQ_I64(dup, 0);
    gsl_rng_free(r);
}

/* Expert choice by hand: 4 tokens, 2 experts, C = 1. p(expert 0) per token:
 * s(1) = 0.731, s(2) = 0.881, 0.5, s(-3) = 0.047: expert 0 takes token 1,
 * expert 1 (0.269, 0.119, 0.5, 0.953) takes token 3; tokens 0 and 2 get none.
 * Ties go to the lower token: two equal rows, C = 1: both experts take token 0. */
static void test_expert_choice(void)
{
    const double x[8] = {1, 0, 2, 0, 0, 0, 0, 3};
    router_config cfg = {.kind = ROUTER_EXPERT_CHOICE, .experts = 2, .top_k = 1};
    EXPECT_EQ_I64(router_slots(&cfg), 2);
    int32_t c[8];
    double w[8];
    err_t e = ERR_INIT;
    router_state st = {.ec_capacity = 1};
    EXPECT_EQ_I64(router_route(&cfg, &st, x, 4, c, w, NULL, &e), 0);
    const int32_t want[8] = {-1, -1, 0, -1, -1, -1, 1, -1};
    for (int i = 0; i < 8; i++)
        EXPECT_EQ_I64(c[i], want[i]);
    EXPECT_EQ_I64(st.ec_unrouted, 2);
    EXPECT_NEAR(w[2], 1.0 / (1.0 + exp(-2.0)), 1e-15);
    const double tie[4] = {0, 0, 0, 0};
    EXPECT_EQ_I64(router_route(&cfg, &st, tie, 2, c, NULL, NULL, &e), 0);
    EXPECT_EQ_I64(c[0], 0);
    EXPECT_EQ_I64(c[1], 1);
    EXPECT_EQ_I64(c[2], -1);
    EXPECT_EQ_I64(st.ec_unrouted, 1);

    /* random rows: every expert takes exactly C tokens */
    enum { E = 8, T = 64 };
    double *r = malloc(sizeof(double) * E * T);
    int32_t *cr = malloc(sizeof(int32_t) * E * T);
    for (int i = 0; i < E * T; i++)
        r[i] = sin(i * 0.7) * 3;
    router_config big = {.kind = ROUTER_EXPERT_CHOICE, .experts = E, .top_k = 2};
    st.ec_capacity = 16;
    EXPECT_EQ_I64(router_route(&big, &st, r, T, cr, NULL, NULL, &e), 0);
    int64_t per[E] = {0}, none = 0;
    for (int t = 0; t < T; t++) {
        int n = 0;
        for (int j = 0; j < E; j++)
            if (cr[t * E + j] >= 0) {
                per[cr[t * E + j]]++;
                n++;
            }
        none += n == 0;
    }
    for (int i = 0; i < E; i++)
        EXPECT_EQ_I64(per[i], 16);
    EXPECT_EQ_I64(none, st.ec_unrouted);
    free(r);
    free(cr);
}

/* Hash: k distinct experts, a function of the token id only. */
static void test_hash(void)
{
    enum { E = 8, K = 2, T = 4000 };
    router_config cfg = {.kind = ROUTER_HASH, .experts = E, .top_k = K};
    int32_t *a = malloc(sizeof(int32_t) * K * T), *b = malloc(sizeof(int32_t) * K * T);
    err_t e = ERR_INIT;
    router_state st = {.first_token = 0};
    EXPECT_EQ_I64(router_route(&cfg, &st, NULL, T, a, NULL, NULL, &e), 0);
    st.first_token = 1; /* shifted by one token: b[t] is a[t + 1] */
    EXPECT_EQ_I64(router_route(&cfg, &st, NULL, T, b, NULL, NULL, &e), 0);
    int bad = 0;
    int64_t load[E] = {0};
    for (int t = 0; t < T; t++) {
        bad += a[t * K] == a[t * K + 1];
        load[a[t * K]]++;
        load[a[t * K + 1]]++;
        if (t + 1 < T)
            bad += b[t * K] != a[(t + 1) * K] || b[t * K + 1] != a[(t + 1) * K + 1];
    }
    EXPECT_EQ_I64(bad, 0);
    for (int i = 0; i < E; i++) /* near the mean of 1000 */
        EXPECT_TRUE(load[i] > 850 && load[i] < 1150);
    free(a);
    free(b);
}

static void test_bad_groups(void)
{
    err_t e = ERR_INIT;
    router_config cfg = {.kind = ROUTER_SIGMOID_BIAS, .experts = 256, .top_k = 8,
                         .groups = 8, .topk_groups = 4};
    EXPECT_EQ_I64(router_check(&cfg, &e), 0); /* DeepSeek-V3 */
    cfg.groups = 7;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.router.groups");
    cfg.groups = 8;
    cfg.topk_groups = 9;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.router.topk_groups");
    cfg.groups = 64; /* 4 experts per group, one group kept: top-8 cannot fit */
    cfg.topk_groups = 1;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.top_k");
    cfg.kind = ROUTER_EXPERT_CHOICE;
    cfg.groups = 8;
    EXPECT_EQ_I64(router_check(&cfg, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "expert_choice");
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(router_kind, router_kind_name, router_kind_parse, ROUTER_KIND_COUNT);
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
               {"bad config names the key", test_bad_config},
               {"topk_softmax by hand, ties", test_topk_softmax},
               {"sigmoid_bias: bias selects, s weighs; the update", test_sigmoid_bias},
               {"group-limited by hand (softmax and V3 sigmoid)", test_grouped_by_hand},
               {"group-limited never chooses outside its groups", test_grouped_never_outside},
               {"fast selection paths match a brute force, ties included",
                test_fast_selection_against_brute_force},
               {"noisy_topk: std 0, seeded noise, distinct", test_noisy},
               {"expert_choice: fixed count per expert, unrouted", test_expert_choice},
               {"hash: distinct, by token id, uniform", test_hash},
               {"group config errors", test_bad_groups},
               {"name tables: every value round-trips, unknown is -1", test_names});
}
