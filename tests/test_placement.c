/* test_placement.c - strategies keep every expert and the slot counts; EPLB
 * reproduces its published example; the replica rule; migration bytes. */
#include <gsl/gsl_rng.h>
#include <string.h>

#include "moesim/placement.h"
#include "test.h"

/* The invariants every strategy keeps: each slot holds a valid expert, each
 * expert has >= 1 slot, and the derived index agrees with slot_expert. */
static void expect_valid(const placement *p, int experts, int ranks, int spr)
{
    EXPECT_EQ_I64(p->experts, experts);
    EXPECT_EQ_I64(p->ranks, ranks);
    EXPECT_EQ_I64(p->slots_per_rank, spr);
    int slots = placement_slots(p), total = 0;
    for (int s = 0; s < slots; s++)
        EXPECT_TRUE(p->slot_expert[s] >= 0 && p->slot_expert[s] < experts);
    for (int x = 0; x < experts; x++) {
        int n = 0, first = -1;
        for (int s = 0; s < slots; s++)
            if (p->slot_expert[s] == x) {
                if (first < 0)
                    first = s;
                n++;
            }
        EXPECT_TRUE(n >= 1);
        EXPECT_EQ_I64(p->replicas[x], n);
        EXPECT_EQ_I64(placement_rank_of(p, x), first / spr);
        EXPECT_EQ_I64(p->slot_start[x + 1] - p->slot_start[x], n);
        for (int i = p->slot_start[x]; i < p->slot_start[x + 1]; i++)
            EXPECT_EQ_I64(p->slot_expert[p->expert_slots[i]], x);
        total += n;
    }
    EXPECT_EQ_I64(total, slots);
}

static void test_contiguous(void)
{
    placement p = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&p, 8, 4, &e), 0);
    EXPECT_EQ_I64(p.slots_per_rank, 2);
    int per_rank[4] = {0};
    for (int x = 0; x < 8; x++) {
        EXPECT_EQ_I64(placement_rank_of(&p, x), x / 2);
        EXPECT_EQ_I64(p.replicas[x], 1);
        per_rank[placement_rank_of(&p, x)]++;
    }
    for (int r = 0; r < 4; r++)
        EXPECT_EQ_I64(per_rank[r], 2);
    expect_valid(&p, 8, 4, 2);
    placement_fini(&p);
    placement_fini(&p); /* idempotent */
}

static void test_uneven_rejected(void)
{
    placement p = {0};
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&p, 10, 4, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    placement_fini(&p);
    EXPECT_EQ_I64(placement_round_robin(&p, 10, 4, &e), -1);
    placement_fini(&p);
}

static void test_round_robin(void)
{
    placement p;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_round_robin(&p, 8, 4, &e), 0);
    static const int want[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    for (int s = 0; s < 8; s++)
        EXPECT_EQ_I64(p.slot_expert[s], want[s]);
    for (int x = 0; x < 8; x++)
        EXPECT_EQ_I64(placement_rank_of(&p, x), x % 4);
    placement_fini(&p);
}

static void test_random(void)
{
    placement a, b;
    err_t e = ERR_INIT;
    gsl_rng *r1 = gsl_rng_alloc(gsl_rng_mt19937), *r2 = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r1, 7);
    gsl_rng_set(r2, 7);
    EXPECT_EQ_I64(placement_random(&a, 16, 4, r1, &e), 0);
    EXPECT_EQ_I64(placement_random(&b, 16, 4, r2, &e), 0);
    expect_valid(&a, 16, 4, 4);
    int same = 1, identity = 1;
    for (int s = 0; s < 16; s++) {
        same &= a.slot_expert[s] == b.slot_expert[s];
        identity &= a.slot_expert[s] == s;
    }
    EXPECT_TRUE(same);      /* same seed, same placement */
    EXPECT_TRUE(!identity); /* and a shuffled one */
    placement_fini(&a);
    placement_fini(&b);
    EXPECT_EQ_I64(placement_random(&a, 16, 4, NULL, &e), -1);
    placement_fini(&a);
    gsl_rng_free(r1);
    gsl_rng_free(r2);
}

/* The README example of deepseek-ai/EPLB (REFERENCE.md): 2 layers x 12
 * experts, 16 replicas, 4 groups, 2 nodes, 8 GPUs. Issue #5. */
static const double eplb_loads[2][12] = {
    {90, 132, 40, 61, 104, 165, 39, 4, 73, 56, 183, 86},
    {20, 107, 104, 64, 19, 197, 187, 157, 172, 86, 16, 27}};

static void test_eplb_example(void)
{
    static const int phy2log[2][16] = {{5, 6, 5, 7, 8, 4, 3, 4, 10, 9, 10, 2, 0, 1, 11, 1},
                                       {7, 10, 6, 8, 6, 11, 8, 9, 2, 4, 5, 1, 5, 0, 3, 1}};
    static const int logcnt[2][12] = {{1, 2, 1, 1, 2, 2, 1, 1, 1, 1, 2, 1},
                                      {1, 2, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1}};
    /* per GPU: each slot's expert load over its replica count, e.g. GPU 0 of
     * layer 0 holds 5 (165 / 2) and 6 (39): 121.5 */
    static const double gpu_load[2][8] = {
        {121.5, 86.5, 125, 113, 147.5, 131.5, 156, 152},
        {173, 179.5, 120.5, 172, 123, 152, 118.5, 117.5}};
    for (int l = 0; l < 2; l++) {
        placement p;
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(placement_eplb(&p, 12, 16, 4, 2, 8, eplb_loads[l], &e), 0);
        expect_valid(&p, 12, 8, 2);
        for (int s = 0; s < 16; s++)
            EXPECT_EQ_I64(p.slot_expert[s], phy2log[l][s]);
        for (int x = 0; x < 12; x++)
            EXPECT_EQ_I64(p.replicas[x], logcnt[l][x]);
        double rl[8];
        double mom = placement_rank_load(&p, eplb_loads[l], rl);
        for (int g = 0; g < 8; g++)
            EXPECT_NEAR(rl[g], gpu_load[l][g], 1e-9);
        EXPECT_NEAR(mom, l == 0 ? 156 / (1033.0 / 8) : 179.5 / (1156.0 / 8), 1e-12);
        placement_fini(&p);
    }
}

/* groups % nodes != 0 falls back to the global policy: G = N = 1. */
static void test_eplb_global(void)
{
    placement a, b;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_eplb(&a, 12, 16, 3, 2, 8, eplb_loads[0], &e), 0);
    EXPECT_EQ_I64(placement_eplb(&b, 12, 16, 1, 1, 8, eplb_loads[0], &e), 0);
    expect_valid(&a, 12, 8, 2);
    for (int s = 0; s < 16; s++)
        EXPECT_EQ_I64(a.slot_expert[s], b.slot_expert[s]);
    /* the hottest experts (10: 183, 5: 165) get the 4 extra slots with 1: 132
     * and 4: 104, in the order weight / count falls */
    EXPECT_EQ_I64(a.replicas[10], 2);
    EXPECT_EQ_I64(a.replicas[5], 2);
    EXPECT_EQ_I64(a.replicas[1], 2);
    EXPECT_EQ_I64(a.replicas[4], 2);
    placement_fini(&a);
    placement_fini(&b);
}

static void test_eplb_rejects(void)
{
    placement p;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_eplb(&p, 12, 16, 5, 2, 8, eplb_loads[0], &e), -1); /* E % G */
    EXPECT_STR_CONTAINS(e.msg, "5 groups");
    EXPECT_EQ_I64(placement_eplb(&p, 12, 16, 4, 3, 8, eplb_loads[0], &e), -1); /* M % N */
    EXPECT_STR_CONTAINS(e.msg, "3 nodes");
    EXPECT_EQ_I64(placement_eplb(&p, 12, 18, 4, 2, 8, eplb_loads[0], &e), -1); /* P % M */
    EXPECT_STR_CONTAINS(e.msg, "multiple of 8");
    EXPECT_EQ_I64(placement_eplb(&p, 12, 8, 4, 2, 8, eplb_loads[0], &e), -1); /* P < E */
    EXPECT_STR_CONTAINS(e.msg, ">= 12");
    double bad[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -1};
    EXPECT_EQ_I64(placement_eplb(&p, 12, 16, 4, 2, 8, bad, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "expert 11");
    placement_fini(&p);
}

/* Zipf-like loads whose hot experts sit together, as a trained router's
 * often do: contiguous puts them all on rank 0. */
static void skewed(double *load, int n)
{
    for (int x = 0; x < n; x++)
        load[x] = 1000.0 / (x + 1);
}

static void test_balanced_beats_contiguous(void)
{
    double load[16], rl[4];
    skewed(load, 16);
    placement c, b, x;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&c, 16, 4, &e), 0);
    EXPECT_EQ_I64(placement_balanced(&b, 16, 4, load, &e), 0);
    EXPECT_EQ_I64(placement_eplb(&x, 16, 20, 1, 1, 4, load, &e), 0);
    expect_valid(&b, 16, 4, 4);
    expect_valid(&x, 16, 4, 5);
    double mc = placement_rank_load(&c, load, rl);
    double mb = placement_rank_load(&b, load, rl);
    double mx = placement_rank_load(&x, load, rl);
    char m[128];
    snprintf(m, sizeof(m), "contiguous %.3f balanced %.3f eplb %.3f", mc, mb, mx);
    CU_assertImplementation(mb < mc && mb < 1.5 && mc > 2.0, __LINE__, m, __FILE__, "",
                            CU_FALSE);
    /* four replicas of the hottest experts do better still */
    CU_assertImplementation(mx < mb, __LINE__, m, __FILE__, "", CU_FALSE);
    /* LPT by hand: loads 1000, 500, 333, 250 open ranks 0..3; 200 joins the
     * lightest (rank 3, 250), ... rank 0 holds expert 0 first */
    EXPECT_EQ_I64(b.slot_expert[0], 0);
    EXPECT_EQ_I64(b.slot_expert[4], 1);
    EXPECT_EQ_I64(b.slot_expert[3 * 4 + 1], 4);
    placement_fini(&c);
    placement_fini(&b);
    placement_fini(&x);
}

/* Two cliques of co-activated experts, {0,2,4,6} and {1,3,5,7}: each must end
 * up inside one node, where contiguous splits both. */
static void test_topology_aware(void)
{
    double load[8] = {10, 10, 10, 10, 10, 10, 10, 10}, coact[64] = {0};
    for (int x = 0; x < 8; x++)
        for (int y = 0; y < 8; y++)
            if (x != y)
                coact[x * 8 + y] = (x % 2 == y % 2) ? 100 : 1;
    int rank_node[4] = {0, 0, 1, 1};
    placement p;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_topology_aware(&p, 8, 4, load, coact, rank_node, &e), 0);
    expect_valid(&p, 8, 4, 2);
    for (int x = 0; x < 8; x++)
        EXPECT_EQ_I64(rank_node[placement_rank_of(&p, x)],
                      rank_node[placement_rank_of(&p, x % 2)]);
    EXPECT_TRUE(rank_node[placement_rank_of(&p, 0)] != rank_node[placement_rank_of(&p, 1)]);
    placement_fini(&p);
    EXPECT_EQ_I64(placement_topology_aware(&p, 8, 4, load, NULL, rank_node, &e), -1);
    placement_fini(&p);
}

/* Every strategy by name keeps the invariants. */
static void test_build_all(void)
{
    double load[16], coact[256];
    skewed(load, 16);
    for (int i = 0; i < 256; i++)
        coact[i] = (double)((i * 37) % 11);
    int rank_node[4] = {0, 0, 1, 1};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    static const char *const names[] = {"contiguous", "round_robin", "random",
                                        "balanced",   "eplb",        "topology_aware"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        placement_spec sp = {.strategy = names[i], .experts = 16, .ranks = 4,
                             .slots = strcmp(names[i], "eplb") == 0 ? 24 : 0,
                             .groups = 4, .nodes = 2, .load = load, .coact = coact,
                             .rank_node = rank_node, .rng = rng};
        placement p;
        err_t e = ERR_INIT;
        EXPECT_TRUE(placement_strategy_known(names[i]));
        EXPECT_EQ_I64(placement_build(&p, &sp, &e), 0);
        expect_valid(&p, 16, 4, sp.slots ? 6 : 4);
        placement_fini(&p);
    }
    placement p;
    err_t e = ERR_INIT;
    placement_spec bad = {.strategy = "greedy", .experts = 16, .ranks = 4};
    EXPECT_EQ_I64(placement_build(&p, &bad, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "allowed: contiguous");
    EXPECT_TRUE(!placement_strategy_known("greedy"));
    placement_fini(&p);
    gsl_rng_free(rng);
}

/* The replica rule: own node first, then the least loaded rank. */
static void test_pick(void)
{
    /* 4 experts on 4 ranks of 2 slots: expert 0 (300) takes every extra slot
     * (300 / 4 = 75 > 10), 5 replicas: two on rank 0, one on each other */
    placement p;
    err_t e = ERR_INIT;
    double load[4] = {300, 10, 10, 10};
    EXPECT_EQ_I64(placement_eplb(&p, 4, 8, 1, 1, 4, load, &e), 0);
    EXPECT_EQ_I64(p.replicas[0], 5);
    int rank_node[4] = {0, 0, 1, 1};
    int64_t tokens[4] = {0};
    for (int t = 0; t < 40; t++) {
        int s = placement_pick(&p, 0, 1, rank_node, tokens);
        EXPECT_EQ_I64(p.slot_expert[s], 0);
    }
    /* from node 1: only ranks 2 and 3, shared evenly */
    EXPECT_EQ_I64(tokens[0] + tokens[1], 0);
    EXPECT_EQ_I64(tokens[2], 20);
    EXPECT_EQ_I64(tokens[3], 20);
    /* no node preference: the least loaded rank holding it */
    int64_t t2[4] = {5, 0, 9, 9};
    int s = placement_pick(&p, 0, 0, NULL, t2);
    EXPECT_EQ_I64(s / p.slots_per_rank, 1);
    EXPECT_EQ_I64(t2[1], 1);
    /* a single replica: its slot, whatever the loads */
    int64_t t3[4] = {0, 0, 0, 0};
    int x1 = placement_pick(&p, 1, 1, rank_node, t3);
    EXPECT_EQ_I64(p.slot_expert[x1], 1);
    EXPECT_EQ_I64(p.slot_start[2] - p.slot_start[1], 1);
    placement_fini(&p);
}

/* Ties between equal loads on one node go to the lower slot, then alternate. */
static void test_pick_alternates(void)
{
    placement p;
    err_t e = ERR_INIT;
    double load[2] = {100, 1};
    EXPECT_EQ_I64(placement_eplb(&p, 2, 4, 1, 1, 2, load, &e), 0);
    /* expert 0 has 3 replicas over 2 ranks; count the picks per rank */
    int64_t tokens[2] = {0, 0};
    for (int t = 0; t < 10; t++)
        placement_pick(&p, 0, 0, NULL, tokens);
    EXPECT_TRUE(tokens[0] >= 4 && tokens[1] >= 4);
    EXPECT_EQ_I64(tokens[0] + tokens[1], 10);
    placement_fini(&p);
}

/* contiguous {0,1 | 2,3} -> round robin {0,2 | 1,3}: experts 2 and 1 move. */
static void test_moves_by_hand(void)
{
    placement a, b;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&a, 4, 2, &e), 0);
    EXPECT_EQ_I64(placement_round_robin(&b, 4, 2, &e), 0);
    placement_move m[4];
    EXPECT_EQ_I64(placement_moves(&a, &b, NULL, m, &e), 2);
    EXPECT_EQ_I64(m[0].expert, 2);
    EXPECT_EQ_I64(m[0].src_rank, 1);
    EXPECT_EQ_I64(m[0].dst_rank, 0);
    EXPECT_EQ_I64(m[1].expert, 1);
    EXPECT_EQ_I64(m[1].src_rank, 0);
    EXPECT_EQ_I64(m[1].dst_rank, 1);
    /* 2 experts of Mixtral 8x7B's FFN: 3 x 4096 x 14336 bf16 = 352,321,536 B */
    EXPECT_NEAR(placement_migration_bytes(&a, &b, 352321536.0, &e), 2 * 352321536.0, 0);
    EXPECT_NEAR(placement_migration_bytes(&a, &a, 352321536.0, &e), 0, 0);
    placement c;
    EXPECT_EQ_I64(placement_contiguous(&c, 4, 4, &e), 0);
    EXPECT_EQ_I64(placement_moves(&a, &c, NULL, m, &e), -1);
    placement_fini(&a);
    placement_fini(&b);
    placement_fini(&c);
}

static void test_align_by_hand(void)
{
    /* {2,3} {0,1} is {0,1} {2,3} with the ranks swapped: after alignment
     * nothing moves. On two different nodes the ranks may not trade. */
    placement a, b;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_contiguous(&a, 4, 2, &e), 0);
    double load[4] = {1, 1, 5, 5};
    EXPECT_EQ_I64(placement_balanced(&b, 4, 2, load, &e), 0); /* 2,0 | 3,1 */
    placement_move m[4];
    EXPECT_EQ_I64(placement_moves(&a, &b, NULL, m, &e), 2);
    int split[2] = {0, 1};
    EXPECT_EQ_I64(placement_align(&a, &b, split), 0);
    EXPECT_EQ_I64(placement_moves(&a, &b, NULL, m, &e), 2);
    placement_fini(&b);

    int x[4] = {2, 3, 0, 1};
    placement c = {0};
    EXPECT_EQ_I64(placement_contiguous(&c, 4, 2, &e), 0);
    memcpy(c.slot_expert, x, sizeof(x)); /* hand-made {2,3} {0,1} */
    EXPECT_EQ_I64(placement_align(&a, &c, split), 0); /* two nodes: stays */
    EXPECT_EQ_I64(c.slot_expert[0], 2);
    EXPECT_EQ_I64(placement_align(&a, &c, NULL), 2);
    for (int i = 0; i < 4; i++)
        EXPECT_EQ_I64(c.slot_expert[i], i);
    EXPECT_EQ_I64(c.expert_rank[0], 0); /* the index follows the slots */
    EXPECT_EQ_I64(c.expert_rank[3], 1);
    EXPECT_EQ_I64(placement_moves(&a, &c, NULL, m, &e), 0);
    placement_fini(&a);
    placement_fini(&c);
}

/* Alignment never adds copies, keeps every rank's contents, and respects
 * nodes: random balanced re-placements of 64 experts on 16 ranks. */
static void test_align_never_worse(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 11);
    int node[16];
    for (int i = 0; i < 16; i++)
        node[i] = i / 4;
    err_t e = ERR_INIT;
    placement_move m[64];
    int saved = 0;
    for (int trial = 0; trial < 50; trial++) {
        double l1[64], l2[64];
        for (int i = 0; i < 64; i++) {
            l1[i] = gsl_rng_uniform(r);
            l2[i] = l1[i] + 0.2 * gsl_rng_uniform(r);
        }
        placement a, b;
        CU_ASSERT_EQUAL_FATAL(placement_balanced(&a, 64, 16, l1, &e), 0);
        CU_ASSERT_EQUAL_FATAL(placement_balanced(&b, 64, 16, l2, &e), 0);
        int before = placement_moves(&a, &b, NULL, m, &e);
        double rank_before[16], rank_after[16];
        placement_rank_load(&b, l2, rank_before);
        const int *nodes = trial % 2 ? node : NULL;
        placement_align(&a, &b, nodes);
        int after = placement_moves(&a, &b, NULL, m, &e);
        CU_ASSERT_TRUE(after <= before);
        saved += before - after;
        placement_rank_load(&b, l2, rank_after);
        /* the same multiset of rank loads: ranks were renumbered, not repacked */
        double s1 = 0, s2 = 0, q1 = 0, q2 = 0;
        for (int i = 0; i < 16; i++) {
            s1 += rank_before[i];
            s2 += rank_after[i];
            q1 += rank_before[i] * rank_before[i];
            q2 += rank_after[i] * rank_after[i];
        }
        CU_ASSERT_DOUBLE_EQUAL(s1, s2, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(q1, q2, 1e-9);
        for (int x = 0; x < 64; x++)
            CU_ASSERT_EQUAL(b.replicas[x], 1);
        placement_fini(&a);
        placement_fini(&b);
    }
    CU_ASSERT_TRUE(saved > 100); /* similar loads: most experts can stay */
    gsl_rng_free(r);
}

/* Rebalancing with replicas: the bytes are the (expert, rank) pairs that are
 * new, counted independently here, times the weight bytes. */
static void test_moves_eplb(void)
{
    placement a, b;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(placement_eplb(&a, 12, 16, 4, 2, 8, eplb_loads[0], &e), 0);
    EXPECT_EQ_I64(placement_eplb(&b, 12, 16, 4, 2, 8, eplb_loads[1], &e), 0);
    int want = 0;
    for (int r = 0; r < 8; r++)
        for (int x = 0; x < 12; x++) {
            int in_a = a.slot_expert[2 * r] == x || a.slot_expert[2 * r + 1] == x;
            int in_b = b.slot_expert[2 * r] == x || b.slot_expert[2 * r + 1] == x;
            want += in_b && !in_a;
        }
    placement_move m[16];
    int rank_node[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    int n = placement_moves(&a, &b, rank_node, m, &e);
    EXPECT_EQ_I64(n, want);
    EXPECT_TRUE(n > 0);
    for (int i = 0; i < n; i++) {
        int src = m[i].src_rank, dst = m[i].dst_rank, x = m[i].expert;
        EXPECT_TRUE(a.slot_expert[2 * src] == x || a.slot_expert[2 * src + 1] == x);
        EXPECT_TRUE(b.slot_expert[2 * dst] == x || b.slot_expert[2 * dst + 1] == x);
        EXPECT_TRUE(a.slot_expert[2 * dst] != x && a.slot_expert[2 * dst + 1] != x);
    }
    EXPECT_NEAR(placement_migration_bytes(&a, &b, 1e6, &e), want * 1e6, 0);
    placement_fini(&a);
    placement_fini(&b);
}

/* Two tokens: {0, 2} and {2, 3} with a dropped slot (-1). */
static void test_count(void)
{
    const int32_t choice[6] = {0, 2, -1, 2, 3, 3};
    double load[4] = {0}, coact[16] = {0};
    placement_count(choice, 2, 3, 4, load, coact);
    EXPECT_NEAR(load[0], 1, 0);
    EXPECT_NEAR(load[1], 0, 0);
    EXPECT_NEAR(load[2], 2, 0);
    EXPECT_NEAR(load[3], 2, 0);
    EXPECT_NEAR(coact[0 * 4 + 2], 1, 0);
    EXPECT_NEAR(coact[2 * 4 + 0], 1, 0);
    EXPECT_NEAR(coact[2 * 4 + 3], 2, 0); /* 3 twice in one token: two pairs */
    EXPECT_NEAR(coact[3 * 4 + 3], 0, 0);
    EXPECT_NEAR(coact[0 * 4 + 3], 0, 0);
    placement_count(choice, 2, 3, 4, load, NULL); /* loads only */
    EXPECT_NEAR(load[2], 4, 0);
}

/* One name table per enum (issue 10): names round-trip, unknown is -1. */
static void test_names(void)
{
    EXPECT_NAME_TABLE(placement_strategy, placement_strategy_name, placement_strategy_parse,
                      PLACEMENT_STRATEGY_COUNT);
    /* every strategy placement_build knows has a name in the table */
    placement_strategy st;
    EXPECT_EQ_I64(placement_strategy_parse("topology_aware", &st), 0);
    EXPECT_TRUE(placement_strategy_known(placement_strategy_name(st)));
}

void test_placement_register(void)
{
    TEST_SUITE("placement", {"contiguous", test_contiguous},
               {"uneven split rejected", test_uneven_rejected},
               {"round robin", test_round_robin}, {"random is seeded", test_random},
               {"eplb: published example (#5)", test_eplb_example},
               {"eplb: global policy", test_eplb_global},
               {"eplb: rejects", test_eplb_rejects},
               {"balanced beats contiguous", test_balanced_beats_contiguous},
               {"topology aware keeps cliques in a node", test_topology_aware},
               {"every strategy by name", test_build_all},
               {"replica rule: own node, then least loaded", test_pick},
               {"replica rule: alternates", test_pick_alternates},
               {"moves by hand", test_moves_by_hand},
               {"migration bytes = weights moved", test_moves_eplb},
               {"align by hand", test_align_by_hand},
               {"align never adds copies", test_align_never_worse},
               {"warm-up counts", test_count},
               {"name tables: every value round-trips, unknown is -1", test_names});
}
