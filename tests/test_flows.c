/*
 * test_flows.c - max-min fair sharing against allocations worked out by
 * hand (2 to 5 flows over shared links), the flow process's times on
 * 2 nodes x 2 GPUs, including re-sharing when a flow ends or starts, and
 * the incremental re-share against a reference that solves from scratch at
 * every event (random flow sets on every topology shape, random starts).
 */
#include "moesim/flows.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/net.h"
#include "moesim/play.h"
#include "moesim/scenario.h"
#include "test.h"

/* Solves a hand case: routes given as -1-terminated rows of link ids. */
static void solve(int nlinks, const double *cap, int nflows, const int routes[][4],
                  double *rate)
{
    const int *rt[8];
    int hp[8];
    for (int f = 0; f < nflows; f++) {
        rt[f] = routes[f];
        hp[f] = 0;
        while (hp[f] < 4 && routes[f][hp[f]] >= 0)
            hp[f]++;
    }
    net_maxmin_t *m = net_maxmin_new();
    net_maxmin_solve(m, nlinks, cap, nflows, rt, hp, rate);
    net_maxmin_free(m);
}

static void test_two_flows_one_link(void)
{
    double cap[1] = {10};
    int r[2][4] = {{0, -1}, {0, -1}};
    double rate[2];
    solve(1, cap, 2, r, rate);
    EXPECT_NEAR(rate[0], 5, 1e-12);
    EXPECT_NEAR(rate[1], 5, 1e-12);
}

/* The textbook case: A (cap 10) carries f0, f1; B (cap 4) carries f1, f2.
 * B fills first at 2 each; f0 takes what f1 left on A: 8. */
static void test_three_flows_two_links(void)
{
    double cap[2] = {10, 4};
    int r[3][4] = {{0, -1}, {0, 1, -1}, {1, -1}};
    double rate[3];
    solve(2, cap, 3, r, rate);
    EXPECT_NEAR(rate[0], 8, 1e-12);
    EXPECT_NEAR(rate[1], 2, 1e-12);
    EXPECT_NEAR(rate[2], 2, 1e-12);
}

/* L0 (6): f0 f1 f2; L1 (2): f1; L2 (9): f2 f3. Shares 2, 2, 4.5: L0 and L1
 * tie at 2 (L0 first by id) so f0 = f1 = f2 = 2; L2 then has 7 for f3. */
static void test_four_flows_three_links(void)
{
    double cap[3] = {6, 2, 9};
    int r[4][4] = {{0, -1}, {0, 1, -1}, {0, 2, -1}, {2, -1}};
    double rate[4];
    solve(3, cap, 4, r, rate);
    EXPECT_NEAR(rate[0], 2, 1e-12);
    EXPECT_NEAR(rate[1], 2, 1e-12);
    EXPECT_NEAR(rate[2], 2, 1e-12);
    EXPECT_NEAR(rate[3], 7, 1e-12);
}

/* L0 (12): f0..f3; L1 (3): f3 f4. L1 fills at 1.5; L0's other three share
 * 10.5: 3.5 each. */
static void test_five_flows(void)
{
    double cap[2] = {12, 3};
    int r[5][4] = {{0, -1}, {0, -1}, {0, -1}, {0, 1, -1}, {1, -1}};
    double rate[5];
    solve(2, cap, 5, r, rate);
    for (int f = 0; f < 3; f++)
        EXPECT_NEAR(rate[f], 3.5, 1e-12);
    EXPECT_NEAR(rate[3], 1.5, 1e-12);
    EXPECT_NEAR(rate[4], 1.5, 1e-12);
}

static topo_t *make_2x2(sim_time_t inter_lat)
{
    topo_config c = {.nodes = 2, .gpus_per_node = 2, .intra_bw_Bps = 100e9,
                     .intra_lat_ps = 0, .inter_bw_Bps = 50e9, .inter_lat_ps = inter_lat};
    err_t e = ERR_INIT;
    return topo_new(&c, &e);
}

typedef struct arrivals {
    engine_t *eng;
    sim_time_t at[4];
} arrivals;

static void arrived(void *ctx, uint64_t tag)
{
    arrivals *a = ctx;
    a->at[tag] = engine_now(a->eng);
}

/* 0->2 (100 MB) and 1->2 (50 MB) share GPU 2's NIC down-link at 25 GB/s
 * each; the small one is done at 2 ms, then the big one has 50 MB left at
 * the full 50 GB/s: done at 3 ms. Each arrives 4 ns (latency) later. */
static void test_reshare_on_end(void)
{
    topo_t *t = make_2x2(4000);
    engine_t *eng = engine_new(4);
    flows_t *f = flows_new(eng, t, 0);
    arrivals a = {eng, {0}};
    flows_start(f, 0, 2, 100e6, arrived, &a, 0);
    flows_start(f, 1, 2, 50e6, arrived, &a, 1);
    engine_run(eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(a.at[1], SIM_MS(2) + 4000);
    EXPECT_EQ_I64(a.at[0], SIM_MS(3) + 4000);
    EXPECT_EQ_I64(flows_reshares(f), 3); /* start, first end, last end */
    EXPECT_NEAR(flows_link_bytes(f)[topo_link_of(t, 2, TOPO_NIC_DOWN)], 150e6, 0);
    flows_free(f);
    engine_free(eng);
    topo_free(t);
}

/* The same two flows with the small one 50.0005 MB: it ends at 2 ms +
 * 20 ns, when the big one has 49.9995 MB left, 1.99998 ms at the shared
 * 25 GB/s it had: under a tolerance of 2 ms both finish together (one
 * re-share fewer, the big one early), under 10 ns nothing changes and the
 * big one ends at 3 ms + 10 ns, alone at 50 GB/s. 4 ns latency each. */
static void test_tolerance_merges_finishes(void)
{
    const sim_time_t tols[2] = {SIM_NS(10), SIM_MS(2)};
    for (int i = 0; i < 2; i++) {
        topo_t *t = make_2x2(4000);
        engine_t *eng = engine_new(4);
        flows_t *f = flows_new(eng, t, 0);
        flows_set_tolerance(f, tols[i]);
        arrivals a = {eng, {0}};
        flows_start(f, 0, 2, 100e6, arrived, &a, 0);
        flows_start(f, 1, 2, 50.0005e6, arrived, &a, 1);
        engine_run(eng, SIM_TIME_MAX);
        EXPECT_EQ_I64(a.at[1], SIM_MS(2) + SIM_NS(20) + 4000);
        const sim_time_t big = i == 0 ? SIM_MS(3) + SIM_NS(10) : SIM_MS(2) + SIM_NS(20);
        EXPECT_EQ_I64(a.at[0], big + 4000);
        EXPECT_EQ_I64(flows_reshares(f), i == 0 ? 3 : 2);
        flows_free(f);
        engine_free(eng);
        topo_free(t);
    }
}

static void start_late(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    (void)ev;
    flows_t *f = ctx;
    flows_start(f, 1, 2, 50e6, NULL, NULL, 0);
}

/* 0->2 (100 MB) runs alone at 50 GB/s for 1 ms (50 MB left), then 1->2
 * (50 MB) joins: 25 GB/s each, both done at 3 ms. */
static void test_reshare_on_start(void)
{
    topo_t *t = make_2x2(0);
    engine_t *eng = engine_new(4);
    flows_t *f = flows_new(eng, t, 0);
    arrivals a = {eng, {0}};
    flows_start(f, 0, 2, 100e6, arrived, &a, 0);
    engine_schedule(eng, SIM_MS(1), start_late, f, 0);
    engine_run(eng, SIM_TIME_MAX);
    EXPECT_EQ_I64(a.at[0], SIM_MS(3));
    EXPECT_EQ_I64(engine_now(eng), SIM_MS(3));
    flows_free(f);
    engine_free(eng);
    topo_free(t);
}

/* The flow model's all-to-all on 2 x 2 with 1 MB a pair: NVLink pairs get
 * 100 GB/s (10 us), NIC pairs share each NIC two ways at 25 GB/s (40 us).
 * The analytical model gives the same here: the bottleneck stays busy. */
static void test_alltoall_matches_analytical(void)
{
    topo_t *t = make_2x2(0);
    int src[12], dst[12], off[2] = {0, 12};
    double bytes[12];
    int n = 0;
    for (int s = 0; s < 4; s++)
        for (int d = 0; d < 4; d++)
            if (s != d) {
                src[n] = s;
                dst[n] = d;
                bytes[n++] = 1e6;
            }
    sim_time_t tf = flows_time_phases(t, 0, 1, off, src, dst, bytes, NULL);
    EXPECT_EQ_I64(tf, SIM_US(40));
    net_result r;
    net_analytical_list(t, n, src, dst, bytes, 0, &r, NULL);
    EXPECT_EQ_I64(r.time_ps, SIM_US(40));
    topo_free(t);
}

/* Phases run one after another; a local copy costs nothing. Per-message
 * overhead is paid per flow, after the latency. */
static void test_phases_and_overhead(void)
{
    topo_t *t = make_2x2(1000);
    int src[3] = {0, 0, 2}, dst[3] = {1, 0, 0}, off[3] = {0, 2, 3};
    double bytes[3] = {100e6, 5e9, 50e6};
    /* phase 0: 100 MB over NVLink at 100 GB/s = 1 ms; phase 1: 50 MB over
     * the NICs = 1 ms + 1 ns latency; overhead 500 ps on each phase. */
    sim_time_t tf = flows_time_phases(t, 500, 2, off, src, dst, bytes, NULL);
    EXPECT_EQ_I64(tf, SIM_MS(2) + 1000 + 2 * 500);
    topo_free(t);
}

/* network.model switches the whole run: the two-GPU case of
 * tests/e2e/two-gpus.cfg under the flow model. Its two transfers (6,144 B
 * 0->1, 2,048 B 1->0) share no link, so each runs at the full 100 GB/s and
 * the dispatch is 61.44 ns + 1 us, as analytically; a pairwise all-to-all
 * has one shift here, the same. */
static void test_play_flow_model(void)
{
    const char *algos[] = {"network.alltoall=direct", "network.alltoall=pairwise",
                           "network.alltoall=hierarchical"};
    for (int a = 0; a < 3; a++) {
        const char *sets[] = {"network.model=flow", algos[a]};
        scenario s;
        memset(&s, 0, sizeof(s));
        err_t e = ERR_INIT;
        CU_ASSERT_EQUAL_FATAL(scenario_load_file("tests/e2e/two-gpus.cfg", sets, 2, &s, &e), 0);
        EXPECT_EQ_I64(s.network.model, NET_FLOW);
        play_t *p = play_new(&s, &e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        EXPECT_EQ_I64(play_run(p, NULL, NULL, &e), 0);
        const metrics_layer *l = &play_metrics(p)->layer[0];
        EXPECT_EQ_I64(l->dispatch.v[0], 1061440);
        EXPECT_EQ_I64(l->combine.v[0], 1061440);
        play_free(p);
        scenario_fini(&s);
    }
}

/* Issue 16: a flow of 1e9 B over a "1 B/s" link, or a route of two
 * "9000000 s" latency and overhead, ends past 2^63 ps: the collective's time is
 * SIM_TIME_MAX, never an assertion in engine_after or a wrapped time. */
static void test_beyond_the_clock(void)
{
    topo_config c = {.nodes = 1, .gpus_per_node = 2, .intra_bw_Bps = 1, .intra_lat_ps = 1000,
                     .inter_bw_Bps = 50e9};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    int src[1] = {0}, dst[1] = {1}, off[2] = {0, 1};
    double bytes[1] = {1e9};
    EXPECT_EQ_I64(flows_time_phases(t, 0, 1, off, src, dst, bytes, NULL), SIM_TIME_MAX);
    topo_free(t);
    c.intra_bw_Bps = 100e9;
    c.intra_lat_ps = INT64_C(9000000000000000000);
    t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    EXPECT_EQ_I64(flows_time_phases(t, INT64_C(9000000000000000000), 1, off, src, dst, bytes,
                                    NULL),
                  SIM_TIME_MAX);
    /* and the overhead alone */
    c.intra_lat_ps = 1000;
    topo_free(t);
    t = topo_new(&c, &e);
    EXPECT_EQ_I64(flows_time_phases(t, SIM_TIME_MAX, 1, off, src, dst, bytes, NULL),
                  SIM_TIME_MAX);
    topo_free(t);
}


/* ---- the reference: progressive filling from scratch at every event ---- */

typedef struct ref_flow {
    int src, dst, hops;
    int route[TOPO_MAX_HOPS];
    double bytes, rem, rate;
    sim_time_t start, lat, arrive;
    int state; /* 0 not started, 1 sending, 2 done */
} ref_flow;

/* Max-min rates of the sending flows the slow, obvious way: raise every
 * unfrozen flow together; the link whose remaining capacity per unfrozen
 * flow is smallest fills first and freezes its flows; repeat. */
static void ref_rates(const topo_t *t, ref_flow *fl, int n)
{
    int L = topo_link_count(t);
    double *rem = calloc((size_t)L, sizeof(*rem));
    int *cnt = calloc((size_t)L, sizeof(*cnt));
    char *frozen = calloc((size_t)n, 1);
    for (int l = 0; l < L; l++)
        rem[l] = topo_link_rate(topo_link_at(t, l));
    for (;;) {
        memset(cnt, 0, (size_t)L * sizeof(*cnt));
        for (int i = 0; i < n; i++)
            if (fl[i].state == 1 && !frozen[i])
                for (int h = 0; h < fl[i].hops; h++)
                    cnt[fl[i].route[h]]++;
        int best = -1;
        for (int l = 0; l < L; l++)
            if (cnt[l] > 0 && (best < 0 || rem[l] / cnt[l] < rem[best] / cnt[best]))
                best = l;
        if (best < 0)
            break;
        double share = rem[best] / cnt[best];
        for (int i = 0; i < n; i++) {
            if (fl[i].state != 1 || frozen[i])
                continue;
            int on = 0;
            for (int h = 0; h < fl[i].hops; h++)
                on |= fl[i].route[h] == best;
            if (!on)
                continue;
            frozen[i] = 1;
            fl[i].rate = share;
            for (int h = 0; h < fl[i].hops; h++)
                rem[fl[i].route[h]] -= share;
        }
    }
    free(rem);
    free(cnt);
    free(frozen);
}

/* The flow process's rules, event by event: a completion is due at
 * round(remaining / rate) ps (at least 1) after the last change, flows with
 * less than a picosecond left finish at a completion, starts join at their
 * instant, and a flow arrives its latency after its last byte. */
static void ref_run(const topo_t *t, ref_flow *fl, int n)
{
    sim_time_t now = 0;
    for (;;) {
        sim_time_t next_start = SIM_TIME_MAX, next_done = SIM_TIME_MAX;
        double soonest = INFINITY;
        for (int i = 0; i < n; i++) {
            if (fl[i].state == 0 && fl[i].start < next_start)
                next_start = fl[i].start;
            if (fl[i].state == 1 && fl[i].rem / fl[i].rate * 1e12 < soonest)
                soonest = fl[i].rem / fl[i].rate * 1e12;
        }
        if (soonest < INFINITY)
            next_done = now + (soonest < 1 ? 1 : (sim_time_t)llround(soonest));
        sim_time_t at = next_start < next_done ? next_start : next_done;
        if (at == SIM_TIME_MAX)
            return;
        for (int i = 0; i < n; i++)
            if (fl[i].state == 1)
                fl[i].rem -= fl[i].rate * sim_time_to_s(at - now);
        now = at;
        for (int i = 0; i < n; i++)
            if (at == next_done && fl[i].state == 1 && fl[i].rem / fl[i].rate * 1e12 < 1.0) {
                fl[i].state = 2;
                fl[i].arrive = now + fl[i].lat;
            }
        for (int i = 0; i < n; i++) {
            if (fl[i].state != 0 || fl[i].start != now)
                continue;
            fl[i].state = fl[i].hops > 0 && fl[i].bytes > 0 ? 1 : 2;
            fl[i].arrive = now;
        }
        ref_rates(t, fl, n);
    }
}

/* ---- the flow process on the same flows ---- */

typedef struct fast_run {
    flows_t *f;
    engine_t *eng;
    ref_flow *fl;
    sim_time_t *arrive;
} fast_run;

static void fast_arrived(void *ctx, uint64_t tag)
{
    fast_run *r = ctx;
    r->arrive[tag] = engine_now(r->eng);
}

static void fast_start(engine_t *e, void *ctx, const engine_event_t *ev)
{
    (void)e;
    fast_run *r = ctx;
    const ref_flow *x = &r->fl[ev->arg];
    flows_start(r->f, x->src, x->dst, x->bytes, fast_arrived, r, ev->arg);
}

static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* One of the topology shapes the tests build (tests/test_topo.c), on
 * nodes x 4 GPUs with random rates and efficiencies. */
static topo_t *random_topo(uint64_t *s)
{
    topo_config c = {.nodes = 2 + (int)(lcg_next(s) % 3), .gpus_per_node = 4,
                     .intra_bw_Bps = 50e9 * (1 + (double)(lcg_next(s) % 8)),
                     .intra_lat_ps = 1000, .inter_bw_Bps = 10e9 * (1 + (double)(lcg_next(s) % 8)),
                     .inter_lat_ps = 5000, .intra_eff = 0.8, .inter_eff = 0.9};
    switch (lcg_next(s) % 6) {
    case 1: c.intra = TOPO_INTRA_PCIE, c.gpus_per_switch = 2; break;
    case 2: c.intra = TOPO_INTRA_NVLINK_MESH; break;
    case 3: c.nics_per_node = 2; break;
    case 4: c.fabric = TOPO_FABRIC_FAT_TREE, c.nodes_per_leaf = 1, c.spines = 2;
            c.oversubscription = 2, c.spine_lat_ps = 900; break;
    case 5: c.fabric = TOPO_FABRIC_RAIL, c.spines = 1; break;
    default: break;
    }
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    return t;
}

/* Random flows: any pair (a GPU to itself, and now and then 0 bytes,
 * included), 1 kB to 10 MB, half starting at 0, the rest at one of a few
 * instants or anywhere in the first 200 us. */
static int random_flows(uint64_t *s, const topo_t *t, sim_time_t overhead, ref_flow *fl, int max)
{
    int G = topo_gpus(t), n = 8 + (int)(lcg_next(s) % (uint64_t)(max - 7));
    for (int i = 0; i < n; i++) {
        ref_flow *x = &fl[i];
        *x = (ref_flow){.src = (int)(lcg_next(s) % (uint64_t)G),
                        .dst = (int)(lcg_next(s) % (uint64_t)G)};
        x->bytes = lcg_next(s) % 50 == 0 ? 0 : 1e3 * pow(1e4, (double)(lcg_next(s) % 10000) / 1e4);
        uint64_t when = lcg_next(s) % 4;
        x->start = when < 2 ? 0 : when == 2 ? SIM_US(10) * (sim_time_t)(lcg_next(s) % 4)
                                            : (sim_time_t)(lcg_next(s) % (uint64_t)SIM_US(200));
        x->hops = x->src == x->dst ? 0 : topo_route(t, x->src, x->dst, x->route);
        x->rem = x->bytes;
        x->lat = overhead;
        for (int h = 0; h < x->hops; h++)
            x->lat += topo_link_at(t, x->route[h])->lat_ps;
    }
    return n;
}

/* The incremental re-share gives the reference's times: every flow's
 * arrival equal to 1e-9 relative (plus a picosecond, the rounding of a
 * completion to whole picoseconds, which a rate equal to 1e-15 can tip). */
static void test_matches_reference(void)
{
    enum { MAXF = 120 };
    uint64_t seed = 15;
    double worst = 0;
    for (int trial = 0; trial < 300; trial++) {
        topo_t *t = random_topo(&seed);
        ref_flow fl[MAXF];
        sim_time_t arrive[MAXF];
        int n = random_flows(&seed, t, 700, fl, trial < 200 ? 40 : MAXF);
        engine_t *eng = engine_new(4);
        fast_run r = {flows_new(eng, t, 700), eng, fl, arrive};
        for (int i = 0; i < n; i++) {
            arrive[i] = -1;
            engine_schedule(eng, fl[i].start, fast_start, &r, (uint64_t)i);
        }
        engine_run(eng, SIM_TIME_MAX);
        ref_run(t, fl, n);
        for (int i = 0; i < n; i++) {
            double d = fabs((double)(arrive[i] - fl[i].arrive));
            worst = d > worst ? d : worst;
            if (!(d <= 1e-9 * (double)fl[i].arrive + 1))
                printf("\ntrial %d flow %d (%d->%d, %.0f B at %lld ps): %lld ps, reference %lld ps",
                       trial, i, fl[i].src, fl[i].dst, fl[i].bytes, (long long)fl[i].start,
                       (long long)arrive[i], (long long)fl[i].arrive);
            CU_ASSERT(d <= 1e-9 * (double)fl[i].arrive + 1);
        }
        EXPECT_EQ_I64(flows_active(r.f), 0);
        flows_free(r.f);
        engine_free(eng);
        topo_free(t);
    }
    printf(" (largest difference %.0f ps) ", worst);
}

void test_flows_register(void)
{
    CU_pSuite s = CU_add_suite("flows", NULL, NULL);
    CU_add_test(s, "max-min: two flows, one link", test_two_flows_one_link);
    CU_add_test(s, "max-min: three flows, two links", test_three_flows_two_links);
    CU_add_test(s, "max-min: four flows, three links", test_four_flows_three_links);
    CU_add_test(s, "max-min: five flows", test_five_flows);
    CU_add_test(s, "re-share when a flow ends", test_reshare_on_end);
    CU_add_test(s, "a tolerance merges finishes that fall close", test_tolerance_merges_finishes);
    CU_add_test(s, "re-share when a flow starts", test_reshare_on_start);
    CU_add_test(s, "all-to-all 2x2: flow = analytical", test_alltoall_matches_analytical);
    CU_add_test(s, "phases and per-message overhead", test_phases_and_overhead);
    CU_add_test(s, "network.model = flow in a run", test_play_flow_model);
    CU_add_test(s, "times beyond the clock (issue 16)", test_beyond_the_clock);
    CU_add_test(s, "incremental re-share = solve at every event (issue 15)",
                test_matches_reference);
}
