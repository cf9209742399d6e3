/*
 * test_capacity.c - capacity sizes, which exact assignments drop, rank against
 * global scope, dropless, and the conservation law on random batches.
 */
#include "moesim/capacity.h"

#include <gsl/gsl_rng.h>
#include <stdlib.h>

#include "test.h"

static const capacity_config drop1 = {1.0, CAPACITY_SCOPE_RANK, CAPACITY_DROP, CAPACITY_ORDER, 0};

static void test_capacity_of(void)
{
    capacity_config c = {1.25, CAPACITY_SCOPE_RANK, CAPACITY_DROP, CAPACITY_ORDER, 0};
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
    EXPECT_EQ_I64(capacity_apply(&drop1, 3, 2, 1, 3, ch, &n, &e), 0);
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
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, r, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 1);
    EXPECT_EQ_I64(r[1], -1);
    EXPECT_EQ_I64(r[3], 0);
    EXPECT_EQ_I64(n.dropped[0], 1);

    c.scope = CAPACITY_SCOPE_GLOBAL;
    int32_t g[4] = {0, 0, 1, 0};
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, g, &n, &e), 0);
    EXPECT_EQ_I64(n.capacity, 2);
    EXPECT_EQ_I64(g[1], 0);
    EXPECT_EQ_I64(g[3], -1);
    EXPECT_EQ_I64(n.dropped[0], 1);
    EXPECT_EQ_I64(n.served[0], 2);
    EXPECT_EQ_I64(n.served[1], 1);

    /* and a case where they disagree on the count: 0 0 | 1 1 */
    int32_t a[4] = {0, 0, 1, 1}, b[4] = {0, 0, 1, 1};
    c.scope = CAPACITY_SCOPE_RANK;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, a, &n, &e), 0);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 2);
    c.scope = CAPACITY_SCOPE_GLOBAL;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 2, 2, b, &n, &e), 0);
    EXPECT_EQ_I64(n.dropped[0] + n.dropped[1], 0);
    capacity_counts_fini(&n);
}

static void test_dropless(void)
{
    capacity_config c = {0.01, CAPACITY_SCOPE_RANK, CAPACITY_DROPLESS, CAPACITY_ORDER, 0};
    int32_t ch[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 2, 2, 2, ch, &n, &e), 0);
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
    EXPECT_EQ_I64(capacity_apply(&c, 4, 1, 1, 4, ch, &n, &e), 0);
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
        capacity_config c = {0.25 + 2 * gsl_rng_uniform(r),
                             trial % 2 ? CAPACITY_SCOPE_GLOBAL : CAPACITY_SCOPE_RANK,
                             trial % 7 == 0 ? CAPACITY_DROPLESS : CAPACITY_DROP, CAPACITY_ORDER,
                             (int64_t)gsl_rng_uniform_int(r, 3)};
        size_t T = (size_t)ranks * (size_t)tpr;
        int32_t *ch = malloc(sizeof(*ch) * (T * (size_t)k + 1));
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
        bad += capacity_apply(&c, E, k, ranks, tpr, ch, &n, &e) != 0;
        int64_t wanted = 0, dropped = 0, minus = 0;
        for (int i = 0; i < E; i++) {
            bad += n.served[i] + n.dropped[i] != n.wanted[i];
            wanted += n.wanted[i];
            dropped += n.dropped[i];
            if (c.overflow == CAPACITY_DROPLESS)
                bad += n.dropped[i] != 0;
        }
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
                bad += load[i] > n.capacity;
        }
        capacity_counts_fini(&n);
        free(ch);
    }
    EXPECT_EQ_I64(bad, 0);
    gsl_rng_free(r);
}

static void test_bad_input(void)
{
    capacity_config c = drop1;
    capacity_counts n;
    capacity_counts_init(&n, 2);
    err_t e = ERR_INIT;
    int32_t ch[2] = {0, 5};
    c.factor = 0;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 2, ch, &n, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, "model.router.capacity_factor");
    c.factor = 1;
    c.min_capacity = -1;
    EXPECT_EQ_I64(capacity_check(&c, &e), -1);
    c.min_capacity = 0;
    EXPECT_EQ_I64(capacity_apply(&c, 2, 3, 1, 2, ch, &n, &e), -1); /* k > E */
    EXPECT_STR_CONTAINS(e.key, "model.top_k");
    EXPECT_EQ_I64(capacity_apply(&c, 2, 1, 1, 2, ch, &n, &e), -1); /* expert 5 of 2 */
    EXPECT_STR_CONTAINS(e.msg, "expert 5");
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
               {"bad input names the key", test_bad_input});
}
