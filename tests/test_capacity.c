/*
 * test_capacity.c - capacity sizes, which exact assignments drop, rank against
 * global scope, dropless, and the conservation law on random batches.
 */
#include "moesim/capacity.h"

#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static const capacity_config drop1 = {.factor = 1.0,
                                     .scope = CAPACITY_SCOPE_RANK,
                                     .overflow = CAPACITY_DROP,
                                     .priority = CAPACITY_ORDER};

static void test_capacity_of(void)
{
    capacity_config c = drop1;
    c.factor = 1.25;
    EXPECT_EQ_I64(capacity_of(&c, 10, 2, 4), 7); /* 10 * 2 / 4 * 1.25 = 6.25 -> 7 */
    c.factor = 1.0;
    EXPECT_EQ_I64(capacity_of(&c, 4, 1, 4), 1); /* exactly 1, not bumped to 2 */
    EXPECT_EQ_I64(capacity_of(&c, 4096, 8, 256), 128);
    c.factor = 1.1;
    EXPECT_EQ_I64(capacity_of(&c, 10, 1, 1), 11); /* 11.000000000000002 in binary */
    c.factor = 0.3;
    EXPECT_EQ_I64(capacity_of(&c, 10, 1, 1), 3);
    c.factor = 1.0;
    c.min_capacity = 5;
    EXPECT_EQ_I64(capacity_of(&c, 4, 1, 4), 5); /* raised to the minimum */
    EXPECT_EQ_I64(capacity_of(&c, 400, 1, 4), 100);
    EXPECT_EQ_I64(capacity_of(&c, 0, 1, 4), 5);
    c.overflow = CAPACITY_DROPLESS;
    EXPECT_EQ_I64(capacity_of(&c, 4, 1, 4), INT64_MAX);
}

/* E = 3, k = 2, 3 tokens, factor 1: capacity ceil(3 * 2 / 3) = 2.
 * Token 0 -> (0, 1), token 1 -> (0, 2), token 2 -> (0, 1): expert 0 is full
 * after tokens 0 and 1, so token 2's first choice drops; its second stays. */
static void test_drop_by_hand(void)
{
    int32_t ch[6] = {0, 1, 0, 2, 0, 1};
    capacity_counts n;
    capacity_counts_init(&n, 3);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&drop1, 3, 2, 1, 3, ch, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 2);
    const int32_t want[6] = {0, 1, 0, 2, -1, 1};
    for (int i = 0; i < 6; i++)
        EXPECT_EQ_I64(ch[i], want[i]);
    EXPECT_EQ_I64(n.wanted[0], 3);
    EXPECT_EQ_I64(n.served[0], 2);
    EXPECT_EQ_I64(n.dropped[0], 1);
    EXPECT_EQ_I64(n.wanted[1], 2);
    EXPECT_EQ_I64(n.dropped[1], 0);
    EXPECT_EQ_I64(n.served[2], 1);
    capacity_counts_fini(&n);
    capacity_counts_fini(NULL);
}

/* 2 ranks of 2 tokens, E = 2, k = 1, factor 1. Choices 0 0 | 1 0.
 * rank scope: capacity ceil(2 / 2) = 1 per rank: rank 0's token 1 drops.
 * global scope: capacity ceil(4 / 2) = 2 for all: expert 0 fills with
 * tokens 0 and 1, and rank 1's token 1 (index 3) drops instead. */
static void test_rank_vs_global(void)
{
    capacity_config c = drop1;
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;

    int32_t r[4] = {0, 0, 1, 0};
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, r, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 1);
    EXPECT_EQ_I64(r[1], -1);
    EXPECT_EQ_I64(r[3], 0);
    EXPECT_EQ_I64(n.dropped[0], 1);

    c.scope = CAPACITY_SCOPE_GLOBAL;
    int32_t g[4] = {0, 0, 1, 0};
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, g, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 2);
    EXPECT_EQ_I64(g[1], 0);
    EXPECT_EQ_I64(g[3], -1);
    EXPECT_EQ_I64(n.dropped[0], 1);
    EXPECT_EQ_I64(n.served[0], 2);
    EXPECT_EQ_I64(n.served[1], 1);

    /* and a case where they disagree on the count: 0 0 | 1 1 */
    int32_t a[4] = {0, 0, 1, 1}, b[4] = {0, 0, 1, 1};
    c.scope = CAPACITY_SCOPE_RANK;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, a, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 2);
    c.scope = CAPACITY_SCOPE_GLOBAL;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, b, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 0);
    capacity_counts_fini(&n);
}

static void test_dropless(void)
{
    capacity_config c = drop1;
    c.factor = 0.01;
    c.overflow = CAPACITY_DROPLESS;
    int32_t ch[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 2, 2, 2, ch, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, INT64_MAX);
    EXPECT_EQ_I64(n.served[0], 4);
    EXPECT_EQ_I64(n.served[1], 4);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 0);
    for (int i = 0; i < 8; i++)
        EXPECT_TRUE(ch[i] >= 0);
    capacity_counts_fini(&n);
}

static void test_min_capacity(void)
{
    /* capacity ceil(4 * 1 / 4) = 1, raised to 3: nothing of 3 tokens drops */
    capacity_config c = drop1;
    c.min_capacity = 3;
    int32_t ch[4] = {2, 2, 2, 2};
    capacity_counts n;
    capacity_counts_init(&n, 4);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 4, ch, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 3);
    EXPECT_EQ_I64(n.served[2], 3);
    EXPECT_EQ_I64(ch[3], -1);
    capacity_counts_fini(&n);
}

/* Random batches under random factors and both scopes: served + dropped =
 * wanted, sum wanted = tokens * k, no scope ever serves more than capacity,
 * and the -1 entries are exactly the dropped count. */
static void test_conservation_random(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 7);
    err_t e = ERR_INIT;
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        int E = 1 + (int)gsl_rng_uniform_int(r, 16);
        int k = 1 + (int)gsl_rng_uniform_int(r, (unsigned long)E);
        int ranks = 1 + (int)gsl_rng_uniform_int(r, 4);
        int tpr = (int)gsl_rng_uniform_int(r, 40);
        static const capacity_overflow pol[] = {CAPACITY_DROPLESS, CAPACITY_DROP,
                                                CAPACITY_REROUTE, CAPACITY_ADAPTIVE};
        capacity_config c = {.factor = 0.25 + 2 * gsl_rng_uniform(r),
                             .scope = trial % 2 ? CAPACITY_SCOPE_GLOBAL : CAPACITY_SCOPE_RANK,
                             .overflow = pol[trial % 4],
                             .priority = trial % 3 == 0 ? CAPACITY_SCORE : CAPACITY_ORDER,
                             .min_capacity = (int64_t)gsl_rng_uniform_int(r, 3),
                             .pad_to_capacity = trial % 5 == 0,
                             .margin = 1.1, .ema = 0.5, .min_factor = 0.5, .max_factor = 2};
        size_t T = (size_t)ranks * (size_t)tpr;
        int32_t *ch = malloc(sizeof(*ch) * (T * (size_t)k + 1));
        double *wt = malloc(sizeof(*wt) * (T * (size_t)k + 1));
        double *rs = malloc(sizeof(*rs) * (T * (size_t)E + 1));
        for (size_t a = 0; a < T * (size_t)k; a++)
            wt[a] = (double)gsl_rng_uniform_int(r, 4); /* coarse: many equal weights */
        for (size_t a = 0; a < T * (size_t)E; a++)
            rs[a] = gsl_rng_uniform(r);
        for (size_t t = 0; t < T; t++) { /* k distinct experts per token, skewed to low ids */
            for (int j = 0; j < k; j++) {
                int32_t x;
                int dup;
                do {
                    x = (int32_t)gsl_rng_uniform_int(r, (unsigned long)(1 + gsl_rng_uniform_int(r, (unsigned long)E)));
                    dup = 0;
                    for (int q = 0; q < j; q++)
                        dup |= ch[t * (size_t)k + (size_t)q] == x;
                } while (dup);
                ch[t * (size_t)k + (size_t)j] = x;
            }
        }
        capacity_counts n;
        capacity_counts_init(&n, E);
        /* twice: the second batch runs on the adaptive average of the first */
        int32_t *ch0 = malloc(sizeof(*ch0) * (T * (size_t)k + 1));
        memcpy(ch0, ch, sizeof(*ch) * T * (size_t)k);
        bad += capacity_apply(&c, E, k, ranks, tpr, ch, wt, rs, &n, &e) != 0;
        memcpy(ch, ch0, sizeof(*ch) * T * (size_t)k);
        bad += capacity_apply(&c, E, k, ranks, tpr, ch, wt, rs, &n, &e) != 0;
        free(ch0);
        int64_t wanted = 0, dropped = 0, minus = 0, served = 0, away = 0, kept = 0;
        for (int i = 0; i < E; i++) {
            /* issue 3: served + dropped + rerouted-away = tokens x k, with
             * served here the assignments kept at their own expert */
            bad += n.served[i] - n.rerouted_in[i] + n.dropped[i] + n.rerouted[i] != n.wanted[i];
            wanted += n.wanted[i];
            dropped += n.dropped[i];
            served += n.served[i];
            away += n.rerouted[i];
            kept += n.served[i] - n.rerouted_in[i];
            if (c.overflow == CAPACITY_DROPLESS)
                bad += n.dropped[i] != 0;
            if (c.overflow != CAPACITY_REROUTE)
                bad += n.rerouted[i] != 0;
            if (!c.pad_to_capacity || c.overflow == CAPACITY_DROPLESS)
                bad += n.padding[i] != 0;
            else
                bad += n.padding[i] != n.cap[i] * n.scopes - n.served[i];
        }
        bad += kept + dropped + away != (int64_t)T * k;
        bad += served + dropped != (int64_t)T * k;
        for (size_t a = 0; a < T * (size_t)k; a++)
            minus += ch[a] < 0;
        bad += wanted != (int64_t)T * k;
        bad += minus != dropped;
        /* per-scope load never exceeds capacity */
        int scopes = c.scope == CAPACITY_SCOPE_RANK ? ranks : 1;
        size_t per = T * (size_t)k / (size_t)scopes;
        for (int sc = 0; sc < scopes; sc++) {
            int64_t load[16] = {0};
            for (size_t a = 0; a < per; a++) {
                int32_t x = ch[(size_t)sc * per + a];
                if (x >= 0)
                    load[x]++;
            }
            for (int i = 0; i < E; i++)
                bad += load[i] > n.cap[i];
        }
        /* a token never holds one expert twice, rerouted or not */
        for (size_t t = 0; t < T; t++)
            for (int j = 0; j < k; j++)
                for (int q = 0; q < j; q++)
                    bad += ch[t * (size_t)k + (size_t)j] >= 0 &&
                           ch[t * (size_t)k + (size_t)j] == ch[t * (size_t)k + (size_t)q];
        capacity_counts_fini(&n);
        free(ch);
        free(wt);
        free(rs);
    }
    EXPECT_EQ_I64(bad, 0);
    gsl_rng_free(r);
}

/* Issue 3's reroute example: 4 experts, 10 tokens of top-1, factor 1.2, so
 * capacity ceil(10 / 4 x 1.2) = 3; wanted loads 7, 2, 1, 0, and every
 * token's second choice is the idle expert 3. Tokens 0-1 want expert 1,
 * token 2 expert 2, tokens 3-9 expert 0 (scores: 0 > 3 > 2 > 1). Expert 0
 * keeps tokens 3-5; 6, 7, 8 move to expert 3. The issue's text expects
 * 3, 2, 1, 4, which would put 4 tokens into expert 3 of capacity 3; reroute
 * never exceeds a capacity, so token 9 finds expert 3 full too and goes on
 * to its third choice with room, expert 2: 3, 2, 2, 3. With capacity 4
 * (factor 1.6) the same input ends 4, 2, 1, 3: three overflow, all into the
 * idle expert. */
static void test_reroute_issue3(void)
{
    const int32_t in[10] = {1, 1, 2, 0, 0, 0, 0, 0, 0, 0};
    double sc[10 * 4];
    for (int t = 0; t < 10; t++) { /* the wanted expert first, then 3, 2, 1, 0 */
        const double base[4] = {0.1, 0.2, 0.3, 0.4};
        for (int i = 0; i < 4; i++)
            sc[t * 4 + i] = base[i];
        sc[t * 4 + in[t]] = 1.0;
    }
    capacity_config c = drop1;
    c.overflow = CAPACITY_REROUTE;
    c.factor = 1.2;
    capacity_counts n;
    capacity_counts_init(&n, 4);
    err_t e = ERR_INIT;
    int32_t ch[10];
    memcpy(ch, in, sizeof(ch));
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 10, ch, NULL, sc, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 3);
    const int64_t want3[4] = {3, 2, 2, 3};
    for (int i = 0; i < 4; i++)
        EXPECT_EQ_I64(n.served[i], want3[i]);
    EXPECT_EQ_I64(n.rerouted[0], 4);
    EXPECT_EQ_I64(n.rerouted_in[3], 3);
    EXPECT_EQ_I64(n.rerouted_in[2], 1);
    EXPECT_EQ_I64(ch[9], 2);
    EXPECT_EQ_I64(n.dropped[0], 0);

    c.factor = 1.6;
    memcpy(ch, in, sizeof(ch));
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 10, ch, NULL, sc, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 4);
    const int64_t want4[4] = {4, 2, 1, 3};
    for (int i = 0; i < 4; i++)
        EXPECT_EQ_I64(n.served[i], want4[i]);
    EXPECT_EQ_I64(n.rerouted[0], 3);

    /* every expert full: the last overflow drops */
    c.factor = 1.0; /* capacity 3 of 10 on 4 experts: 12 slots, but 3 + 3 + 3 + 3 */
    int32_t all0[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 10, all0, NULL, sc, &n, &e), 0);
    EXPECT_EQ_I64(n.served[0] + n.served[1] + n.served[2] + n.served[3], 10);
    c.factor = 0.8; /* capacity 2: 8 slots for 10 tokens, 2 drop */
    int32_t all0b[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 10, all0b, NULL, sc, &n, &e), 0);
    EXPECT_EQ_I64(n.dropped[0], 2);
    EXPECT_EQ_I64(n.rerouted[0], 6);
    EXPECT_EQ_I64(all0b[8], -1);
    EXPECT_EQ_I64(all0b[9], -1);
    capacity_counts_fini(&n);
}

/* Score priority: 4 tokens want expert 0 of capacity ceil(4 / 2 x 0.5) = 1;
 * weights 0.1, 0.9, 0.5, 0.9: token 1 wins (0.9, and the lower index of the
 * two 0.9s), the others drop. Order priority would keep token 0. */
static void test_score_priority(void)
{
    capacity_config c = drop1;
    c.factor = 0.5;
    c.priority = CAPACITY_SCORE;
    const double w[4] = {0.1, 0.9, 0.5, 0.9};
    int32_t ch[4] = {0, 0, 0, 0};
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 4, ch, w, NULL, &n, &e), 0);
    const int32_t want[4] = {-1, 0, -1, -1};
    for (int i = 0; i < 4; i++)
        EXPECT_EQ_I64(ch[i], want[i]);
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 4, ch, NULL, NULL, &n, &e), -1); /* no weights */
    capacity_counts_fini(&n);
}

/* Adaptive: E = 2, top-1, 4 tokens, margin 1, ema 1 (only the newest batch),
 * bounds 0.5 and 2 x the share of 2. Batch 1 starts from the share: capacity
 * 2 each; choices 0 0 0 1 drop one at expert 0. The average becomes 3, 1, so
 * batch 2 has capacities 3 and max(1, 0.5 x 2) = 1: nothing drops. */
static void test_adaptive(void)
{
    capacity_config c = drop1;
    c.overflow = CAPACITY_ADAPTIVE;
    c.margin = 1;
    c.ema = 1;
    c.min_factor = 0.5;
    c.max_factor = 2;
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    int32_t a[4] = {0, 0, 0, 1}, b[4] = {0, 0, 0, 1};
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 4, a, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.cap[0], 2);
    EXPECT_EQ_I64(n.dropped[0], 1);
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 4, b, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.cap[0], 3);
    EXPECT_EQ_I64(n.cap[1], 1);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 0);
    c.max_factor = 0.1; /* below min_factor */
    EXPECT_EQ_I64(capacity_check(&c, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "model.router.max_factor");
    capacity_counts_fini(&n);
}

/* Padding: 2 ranks of 4 top-1 tokens, E = 2, capacity 2 per rank. Rank 0
 * wants 0 0 0 1 (expert 0 full, one drop; expert 1 has 1 empty slot), rank 1
 * wants 1 1 1 1 (expert 0 empty: 2 slots; expert 1 full, two drop). */
static void test_padding(void)
{
    capacity_config c = drop1;
    c.pad_to_capacity = true;
    int32_t ch[8] = {0, 0, 0, 1, 1, 1, 1, 1};
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 4, ch, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.padding[0], 2);
    EXPECT_EQ_I64(n.padding[1], 1);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 3);
    capacity_counts_fini(&n);
}

static void test_bad_input(void)
{
    capacity_config c = drop1;
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    int32_t ch[2] = {0, 5};
    c.factor = 0;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 2, ch, NULL, NULL, &n, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, "model.router.capacity_factor");
    c.factor = 1;
    c.min_capacity = -1;
    EXPECT_EQ_I64(capacity_check(&c, &e), -1);
    c.min_capacity = 0;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 3, 1, 2, ch, NULL, NULL, &n, &e), -1); /* k > E */
    EXPECT_STR_CONTAINS(e.key, "model.top_k");
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 2, ch, NULL, NULL, &n, &e), -1); /* expert 5 of 2 */
    EXPECT_STR_CONTAINS(e.msg, "expert 5");
    capacity_counts_fini(&n);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(capacity_scope, capacity_scope_name, capacity_scope_parse, CAPACITY_SCOPE_COUNT);
    EXPECT_NAME_TABLE(capacity_overflow, capacity_overflow_name, capacity_overflow_parse, CAPACITY_OVERFLOW_COUNT);
    EXPECT_NAME_TABLE(capacity_priority, capacity_priority_name, capacity_priority_parse, CAPACITY_PRIORITY_COUNT);
}

/* Issue 16: min_capacity = 9223372036854775807L with pad_to_capacity
 * overflowed the padding summed over scopes; it saturates. */
static void test_padding_saturates(void)
{
    capacity_config c = drop1;
    c.pad_to_capacity = true;
    c.min_capacity = INT64_MAX;
    int32_t ch[8] = {0, 0, 0, 1, 1, 1, 1, 1};
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 4, ch, NULL, NULL, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, INT64_MAX);
    EXPECT_EQ_I64(n.padding[0], INT64_MAX);
    EXPECT_EQ_I64(n.padding[1], INT64_MAX);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 0);
    capacity_counts_fini(&n);
}

void test_capacity_register(void);
void test_capacity_register(void)
{
    TEST_SUITE("capacity", {"capacity_of: ceil, exact integers, minimum", test_capacity_of},
               {"drops by hand: order priority, best choice first", test_drop_by_hand},
               {"rank and global scope drop different tokens", test_rank_vs_global},
               {"dropless never drops", test_dropless},
               {"min_capacity raises the budget", test_min_capacity},
               {"conservation on random batches", test_conservation_random},
               {"reroute: issue 3's 7, 2, 1, 0 example", test_reroute_issue3},
               {"score priority keeps the highest weight", test_score_priority},
               {"adaptive capacity follows the load", test_adaptive},
               {"padding counts the empty slots", test_padding},
               {"bad input names the key", test_bad_input},
               {"name tables: every value round-trips, unknown is -1", test_names},
               {"padding saturates (issue 16)", test_padding_saturates});
}
