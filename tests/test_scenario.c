/*
 * test_scenario.c - scenario files: values and defaults of a good scenario,
 * --set overrides, unknown keys, MoE layer patterns, and the corpus of bad
 * scenarios in tests/bad/, each checked against the exact message in its .err.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/scenario.h"
#include "test.h"

void test_scenario_register(void);

static const char *const GOOD =
    "name = \"mixtral-8x7b\";\n"
    "seed = 7;\n"
    "model = {\n"
    "  layers = 32;\n"
    "  hidden = 4096;\n"
    "  expert_ffn = 14336;\n"
    "  experts = 8;\n"
    "  top_k = 2;\n"
    "  heads = 32;\n"
    "  kv_heads = 8;\n"
    "  router = { capacity_factor = 1.5; overflow = \"dropless\"; };\n"
    "};\n"
    "cluster = {\n"
    "  nodes = 2;\n"
    "  gpus_per_node = 8;\n"
    "  gpu = { preset = \"H800-SXM\"; hbm = \"64 GiB\"; compute_efficiency = 0.5; };\n"
    "  inter = { kind = \"roce\"; bandwidth = \"200 Gb/s\"; };\n"
    "};\n"
    "parallel = { ep = 8; };\n"
    "workload = { tokens_per_rank = 2048; batches = 3; seq_len = 1024; };\n";

/* The smallest scenario: the required keys only. */
static const char *const MINIMAL =
    "model = { layers = 4; hidden = 1024; expert_ffn = 2048; experts = 8; top_k = 2; };\n";

static int load(const char *text, const char *const *sets, int nsets, scenario *s, err_t *e)
{
    return scenario_load_string(text, "t.cfg", sets, nsets, s, e);
}

static void test_good(void)
{
    scenario s;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(load(GOOD, NULL, 0, &s, &e), 0);
    EXPECT_STR_CONTAINS(e.msg, "");
    EXPECT_STR_CONTAINS(s.file, "t.cfg");
    EXPECT_STR_CONTAINS(s.name, "mixtral-8x7b");
    EXPECT_EQ_I64(s.seed, 7);
    EXPECT_EQ_I64(s.model.layers, 32);
    EXPECT_EQ_I64(s.moe_layers, 32);
    EXPECT_EQ_I64(s.model.experts, 8);
    EXPECT_EQ_I64(s.model.router.experts, 8);
    EXPECT_EQ_I64(s.model.router.top_k, 2);
    EXPECT_EQ_I64(s.model.kv_heads, 8);
    EXPECT_EQ_I64(s.model.head_dim, 128);
    EXPECT_NEAR(s.model.capacity.factor, 1.5, 0);
    EXPECT_EQ_I64(s.model.capacity.overflow, CAPACITY_DROPLESS);
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "H800-SXM");
    EXPECT_NEAR(s.cluster.gpu.hbm_bytes, 64.0 * 1073741824.0, 0);
    EXPECT_NEAR(s.cluster.gpu.compute_eff, 0.5, 0);
    EXPECT_EQ_I64(s.cluster.inter_kind, TOPO_INTER_ROCE);
    EXPECT_NEAR(s.cluster.topo.inter_bw_Bps, 25e9, 0);
    EXPECT_EQ_I64(s.cluster.topo.inter_lat_ps, 3600000); /* the RoCE default */
    EXPECT_NEAR(s.cluster.topo.intra_bw_Bps, s.cluster.gpu.nvlink_bw_Bps, 0);
    EXPECT_EQ_I64(s.parallel.dp, 16);
    EXPECT_EQ_I64(s.parallel.ep, 8);
    EXPECT_EQ_I64(s.workload.tokens_per_rank, 2048);
    EXPECT_EQ_I64(s.workload.batches, 3);
    EXPECT_EQ_I64(s.workload.source.seq_len, 1024);
    EXPECT_EQ_I64(s.workload.source.layers, 32);
    EXPECT_EQ_I64(s.workload.source.experts, 8);
    scenario_fini(&s);
}

static void test_defaults(void)
{
    scenario s;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(load(MINIMAL, NULL, 0, &s, &e), 0);
    EXPECT_STR_CONTAINS(s.name, "unnamed");
    EXPECT_EQ_I64(s.seed, 1);
    EXPECT_EQ_I64(s.model.first_dense, 0);
    EXPECT_EQ_I64(s.model.moe_every, 1);
    EXPECT_EQ_I64(s.moe_layers, 4);
    EXPECT_EQ_I64(s.model.dense_ffn, 4096);
    EXPECT_EQ_I64(s.model.heads, 8);
    EXPECT_EQ_I64(s.model.kv_heads, 8);
    EXPECT_EQ_I64(s.model.head_dim, 128);
    EXPECT_EQ_I64(s.model.shared_experts, 0);
    EXPECT_EQ_I64(s.model.ffn_matrices, 3);
    EXPECT_EQ_I64(s.model.dtype, DTYPE_BF16);
    EXPECT_EQ_I64(s.model.router.kind, ROUTER_SOFTMAX_TOPK);
    EXPECT_TRUE(s.model.router.normalize); /* top_k 2 */
    EXPECT_NEAR(s.model.capacity.factor, 1.25, 0);
    EXPECT_EQ_I64(s.model.capacity.scope, CAPACITY_SCOPE_RANK);
    EXPECT_EQ_I64(s.model.capacity.overflow, CAPACITY_DROP);
    EXPECT_EQ_I64(s.model.capacity.priority, CAPACITY_ORDER);
    EXPECT_EQ_I64(s.model.capacity.min_capacity, 0);
    EXPECT_EQ_I64(s.model.groups, 1);
    EXPECT_EQ_I64(s.model.topk_groups, 1);
    EXPECT_EQ_I64(s.cluster.topo.nodes, 1);
    EXPECT_EQ_I64(s.cluster.topo.gpus_per_node, 8);
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "H100-SXM");
    EXPECT_TRUE(s.cluster.gpu.peak_flops[DTYPE_BF16] > 0);
    EXPECT_EQ_I64(s.cluster.topo.intra, TOPO_INTRA_NVSWITCH);
    EXPECT_NEAR(s.cluster.topo.intra_bw_Bps, s.cluster.gpu.nvlink_bw_Bps, 0);
    EXPECT_EQ_I64(s.cluster.topo.intra_lat_ps, 3330000);
    EXPECT_EQ_I64(s.cluster.inter_kind, TOPO_INTER_IB);
    EXPECT_NEAR(s.cluster.topo.inter_bw_Bps, 50e9, 0);
    EXPECT_EQ_I64(s.cluster.topo.inter_lat_ps, 2800000);
    EXPECT_EQ_I64(s.parallel.tp, 1);
    EXPECT_EQ_I64(s.parallel.pp, 1);
    EXPECT_EQ_I64(s.parallel.etp, 1);
    EXPECT_EQ_I64(s.parallel.dp, 8);
    EXPECT_EQ_I64(s.parallel.ep, 8);
    EXPECT_STR_CONTAINS(s.parallel.order, "tp-ep-dp-pp");
    EXPECT_EQ_I64(s.placement.strategy, PLACEMENT_CONTIGUOUS);
    EXPECT_EQ_I64(s.placement.redundant, 0);
    EXPECT_EQ_I64(s.workload.mode, MODE_FORWARD);
    EXPECT_EQ_I64(s.workload.tokens_per_rank, 4096);
    EXPECT_EQ_I64(s.workload.batches, 4);
    EXPECT_EQ_I64(s.workload.seq_len, 4096);
    EXPECT_EQ_I64(s.workload.source.kind, SOURCE_SYNTHETIC);
    EXPECT_EQ_I64(s.workload.source.latent_dim, 32);
    EXPECT_EQ_I64(s.workload.source.topics, 8);
    EXPECT_NEAR(s.workload.source.skew, 1.0, 0);
    EXPECT_NEAR(s.workload.source.layer_corr, 0.5, 0);
    EXPECT_NEAR(s.workload.source.topic_std, 1.0, 0);
    EXPECT_TRUE(s.workload.source.fixed_logits == NULL);
    EXPECT_EQ_I64(s.network.model, NET_ANALYTICAL);
    EXPECT_EQ_I64(s.network.alltoall, COLL_A2A_DIRECT);
    EXPECT_EQ_I64(s.output.json[0], '\0');
    EXPECT_TRUE(s.output.progress);
    scenario_fini(&s);

    /* top-1 routing keeps the weight unnormalised by default */
    const char *const k1[] = {"model.top_k=1"};
    EXPECT_EQ_I64(load(MINIMAL, k1, 1, &s, &e), 0);
    EXPECT_TRUE(!s.model.router.normalize);
    scenario_fini(&s);
}

static void test_set(void)
{
    scenario s;
    err_t e = ERR_INIT;
    const char *const sets[] = {
        "model.top_k=1",                   /* int over the file's */
        "model.router.capacity_factor=2",  /* an int where a float is wanted */
        "workload.source.skew = 0.25",     /* spaces around '=' */
        "output.progress=false",           /* bool in a group the file lacks */
        "name=\"a b\"",                    /* quoted string */
        "output.json=out/run.json",        /* unquoted string */
        "cluster.gpu=A100-SXM-80GB",       /* unquoted preset name */
        "cluster.inter.latency=5 us",      /* a unit, unquoted */
        "model.router.kind=switch",        /* valid now that top_k is 1 */
        "model.top_k=1",                   /* the same key twice: the last wins */
    };
    EXPECT_EQ_I64(load(GOOD, sets, 10, &s, &e), 0);
    EXPECT_STR_CONTAINS(e.msg, "");
    EXPECT_EQ_I64(s.model.top_k, 1);
    EXPECT_NEAR(s.model.capacity.factor, 2.0, 0);
    EXPECT_NEAR(s.workload.source.skew, 0.25, 0);
    EXPECT_TRUE(!s.output.progress);
    EXPECT_STR_CONTAINS(s.name, "a b");
    EXPECT_STR_CONTAINS(s.output.json, "out/run.json");
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "A100-SXM-80GB");
    EXPECT_EQ_I64(s.cluster.topo.inter_lat_ps, 5000000);
    scenario_fini(&s);

    /* an override inside a GPU named by a string: the name becomes the preset */
    const char *const hbm[] = {"cluster.gpu=H800-SXM", "cluster.gpu.hbm=\"40 GiB\""};
    EXPECT_EQ_I64(load(MINIMAL, hbm, 2, &s, &e), 0);
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "H800-SXM");
    EXPECT_NEAR(s.cluster.gpu.hbm_bytes, 40.0 * 1073741824.0, 0);
    scenario_fini(&s);

    /* a whole group */
    const char *const grp[] = {"parallel={ ep = 4; }"};
    EXPECT_EQ_I64(load(MINIMAL, grp, 1, &s, &e), 0);
    EXPECT_EQ_I64(s.parallel.ep, 4);
    scenario_fini(&s);

    /* errors about --set values name --set, not the file */
    char buf[700]; /* room for any message, and below test.h's 1024 */
    const char *const bad[] = {"model.top_k=x"};
    EXPECT_EQ_I64(load(MINIMAL, bad, 1, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "--set: model.top_k: \"x\" is not an integer; allowed: an "
                             "integer in [1, 8]");
    scenario_fini(&s);

    const char *const noeq[] = {"model.top_k"};
    EXPECT_EQ_I64(load(MINIMAL, noeq, 1, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "--set: \"model.top_k\" is not key=value");
    scenario_fini(&s);

    const char *const unknown[] = {"model.topk=2"};
    EXPECT_EQ_I64(load(MINIMAL, unknown, 1, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "--set: model.topk: unknown key; did you mean \"model.top_k\"?");
    scenario_fini(&s);

    /* a required key may come from --set alone */
    const char *const req[] = {"model.layers=2", "model.hidden=64", "model.expert_ffn=128",
                               "model.experts=16", "model.top_k=1"};
    EXPECT_EQ_I64(load("", req, 5, &s, &e), 0);
    EXPECT_EQ_I64(s.model.experts, 16);
    EXPECT_EQ_I64(s.parallel.ep, 8);
    scenario_fini(&s);

    /* the default ep (= dp, 8) must divide the experts too, and the message says so */
    const char *const four[] = {"model.experts=4"};
    EXPECT_EQ_I64(load(MINIMAL, four, 1, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "t.cfg: parallel.ep: model.experts (4) is not a multiple of "
                             "parallel.ep (8, the default: parallel.dp); allowed: a common "
                             "divisor of parallel.dp (8) and model.experts (4): 1, 2, 4");
    scenario_fini(&s);
}

static void test_unknown_key(void)
{
    scenario s;
    err_t e = ERR_INIT;
    char buf[700]; /* room for any message, and below test.h's 1024 */
    EXPECT_EQ_I64(load("model = {\n  layers = 4;\n  expert = 8;\n};\n", NULL, 0, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "t.cfg:3: model.expert: unknown key; did you mean "
                             "\"model.experts\"?");
    scenario_fini(&s);

    EXPECT_EQ_I64(load("clustr = { nodes = 2; };\n", NULL, 0, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "t.cfg:1: clustr: unknown key; did you mean \"cluster\"?");
    scenario_fini(&s);

    EXPECT_EQ_I64(load("model = { layrs = 4; };\n", NULL, 0, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "did you mean \"model.layers\"?");
    scenario_fini(&s);

    /* nothing near: the keys of the enclosing group are listed */
    EXPECT_EQ_I64(load("network = { something_else = 1; };\n", NULL, 0, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "unknown key; allowed: model, alltoall");
    scenario_fini(&s);

    /* syntax errors come from libconfig with their line */
    EXPECT_EQ_I64(load("model = {\n  layers = ;\n};\n", NULL, 0, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "t.cfg:2: syntax error");
    scenario_fini(&s);

    /* a file that is not there */
    EXPECT_EQ_I64(scenario_load_file("tests/bad/no-such-file.cfg", NULL, 0, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.file, "no-such-file.cfg");
    scenario_fini(&s);
}

static void test_moe_layers(void)
{
    static const struct {
        int layers, first_dense, moe_every, moe;
    } cases[] = {
        {4, 0, 1, 4}, {61, 3, 1, 58}, {24, 0, 2, 12}, {10, 1, 3, 3}, {5, 4, 1, 1}, {7, 0, 7, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "model = { layers = %d; first_dense = %d; moe_every = %d; hidden = 64; "
                 "expert_ffn = 64; experts = 8; top_k = 2; };\n",
                 cases[i].layers, cases[i].first_dense, cases[i].moe_every);
        scenario s;
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
        EXPECT_EQ_I64(s.moe_layers, cases[i].moe);
        EXPECT_EQ_I64(s.workload.source.layers, cases[i].moe);
        int count = 0;
        for (int l = 0; l < s.model.layers; l++)
            count += scenario_is_moe_layer(&s, l);
        EXPECT_EQ_I64(count, cases[i].moe);
        scenario_fini(&s);
    }

    /* 10 layers, 1 dense, every 3rd after it: layers 3, 6, 9 */
    scenario s;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(load("model = { layers = 10; first_dense = 1; moe_every = 3; hidden = 64; "
                       "expert_ffn = 64; experts = 8; top_k = 2; };\n",
                       NULL, 0, &s, &e),
                  0);
    EXPECT_TRUE(!scenario_is_moe_layer(&s, 0));
    EXPECT_TRUE(!scenario_is_moe_layer(&s, 1));
    EXPECT_TRUE(!scenario_is_moe_layer(&s, 2));
    EXPECT_TRUE(scenario_is_moe_layer(&s, 3));
    EXPECT_TRUE(scenario_is_moe_layer(&s, 6));
    EXPECT_TRUE(scenario_is_moe_layer(&s, 9));
    EXPECT_TRUE(!scenario_is_moe_layer(&s, 10));
    EXPECT_TRUE(!scenario_is_moe_layer(&s, -1));
    scenario_fini(&s);
}

static void test_fixed_source(void)
{
    scenario s;
    err_t e = ERR_INIT;
    const char *text =
        "model = { layers = 2; hidden = 64; expert_ffn = 64; experts = 4; top_k = 1; };\n"
        "parallel = { ep = 4; };\n"
        "workload = { source = { kind = \"fixed\";\n"
        "  logits = ( [1.0, 0.0, 0.0, -1.0], (0, 1, 2, 3.5) ); }; };\n";
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
    EXPECT_EQ_I64(s.workload.source.kind, SOURCE_FIXED);
    EXPECT_EQ_I64(s.workload.source.fixed_rows, 2);
    EXPECT_TRUE(s.workload.source.fixed_logits != NULL);
    if (s.workload.source.fixed_logits) {
        EXPECT_NEAR(s.workload.source.fixed_logits[3], -1.0, 0);
        EXPECT_NEAR(s.workload.source.fixed_logits[6], 2.0, 0);
        EXPECT_NEAR(s.workload.source.fixed_logits[7], 3.5, 0);
    }
    scenario_fini(&s);
    scenario_fini(&s); /* twice is harmless */
}

/* The key reference names every key with its default. */
static void test_keys_md(void)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    scenario_write_keys_md(f);
    fclose(f);
    EXPECT_STR_CONTAINS(buf, "| key | type | default | allowed | meaning |");
    EXPECT_STR_CONTAINS(buf, "| `model.top_k` | integer | required | an integer in [1, "
                             "model.experts] |");
    EXPECT_STR_CONTAINS(buf, "| `cluster.inter.bandwidth` | bandwidth | `\"400 Gb/s\"` |");
    EXPECT_STR_CONTAINS(buf, "\"sigmoid_bias\"");

    /* docs/scenario.md carries the table as the loader writes it today
     * (regenerate with `moesim help keys`) */
    FILE *d = fopen("docs/scenario.md", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    char *doc = NULL;
    size_t cap = 0;
    FILE *m = open_memstream(&doc, &cap);
    int ch;
    while ((ch = fgetc(d)) != EOF)
        fputc(ch, m);
    fclose(d);
    fclose(m);
    EXPECT_TRUE(strstr(doc, buf) != NULL);
    free(doc);
    free(buf);
}

/* Reads the first line of path into buf (without its newline); 0 if none. */
static int first_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, (int)n, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok;
}

/* Every tests/bad/NAME.cfg fails with exactly the message in NAME.err. */
static void test_bad_corpus(void)
{
    DIR *d = opendir("tests/bad");
    EXPECT_TRUE(d != NULL);
    if (!d)
        return;
    int cases = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 4, ".cfg") != 0)
            continue;
        char cfg[512], errpath[512], want[1024], got[1024], m[3200];
        snprintf(cfg, sizeof(cfg), "tests/bad/%s", de->d_name);
        snprintf(errpath, sizeof(errpath), "tests/bad/%.*s.err", (int)(len - 4), de->d_name);
        if (!first_line(errpath, want, sizeof(want))) {
            snprintf(m, sizeof(m), "%s has no %s", cfg, errpath);
            CU_assertImplementation(CU_FALSE, __LINE__, m, __FILE__, "", CU_FALSE);
            continue;
        }
        scenario s;
        err_t e = ERR_INIT;
        int rc = scenario_load_file(cfg, NULL, 0, &s, &e);
        scenario_fini(&s);
        err_format(&e, got, sizeof(got));
        snprintf(m, sizeof(m), "%s: rc %d, code %d\n   got: %s\n  want: %s", cfg, rc,
                 (int)e.code, got, want);
        CU_assertImplementation(rc == -1 && e.code == ERR_INPUT && strcmp(got, want) == 0,
                                __LINE__, m, __FILE__, "", CU_FALSE);
        cases++;
    }
    closedir(d);
    char m[64];
    snprintf(m, sizeof(m), "only %d bad cases found (at least 25)", cases);
    CU_assertImplementation(cases >= 25, __LINE__, m, __FILE__, "", CU_FALSE);
}

/* The memory fit refuses what does not fit HBM, naming the numbers, and
 * cluster.check_memory = false lets it through. */
static void test_memory_fit(void)
{
    scenario s;
    err_t e = ERR_INIT;
    char buf[880]; /* the message, file and key; the needles fit test.h's 1024 */
    /* MINIMAL needs 4 x (4 x 1024 x 1024) x 2 B attention + 4 x 1 x 3 x 1024 x
     * 2048 x 2 B experts + gates 4 x 1024 x 8 x 2 B = 33.6 MB + 50.3 MB + 0.07 MB */
    EXPECT_EQ_I64(load(MINIMAL, NULL, 0, &s, &e), 0);
    gpu_memory_shape sh;
    gpu_memory m;
    scenario_memory(&s, &sh, &m);
    EXPECT_NEAR(m.attention, 4.0 * 4 * 1024 * 1024 * 2, 0);
    EXPECT_NEAR(m.experts, 4.0 * 3 * 1024 * 2048 * 2, 0);
    EXPECT_NEAR(m.gate, 4.0 * 1024 * 8 * 2, 0);
    EXPECT_EQ_I64(sh.slots, 1);
    EXPECT_EQ_I64(sh.tokens, 4096);
    scenario_fini(&s);

    /* tp 2 halves attention; ep 4 of etp 2 holds 2 slots of half an expert each;
     * each GPU dispatches 4096 / 2 tokens */
    const char *const tp2[] = {"parallel.tp=2", "parallel.etp=2"};
    EXPECT_EQ_I64(load(MINIMAL, tp2, 2, &s, &e), 0);
    scenario_memory(&s, &sh, &m);
    EXPECT_NEAR(m.attention, 4.0 * 4 * 1024 * 1024 * 2 / 2, 0);
    EXPECT_NEAR(m.experts, 4.0 * 2 * 3 * 1024 * 2048 * 2 / 2, 0);
    EXPECT_EQ_I64(sh.moe_tokens, 2048);
    scenario_fini(&s);

    const char *const small[] = {"cluster.gpu={ preset = \"H100-SXM\"; hbm = \"0.08 GB\"; }"};
    EXPECT_EQ_I64(load(MINIMAL, small, 1, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "cluster.gpu: model does not fit: ");
    EXPECT_STR_CONTAINS(buf, " GB needed per GPU (weights 0.1 GB: attention 0.0, dense FFN "
                             "0.0, routed experts 0.1,");
    EXPECT_STR_CONTAINS(buf, "> 0.1 GB on H100-SXM; allowed: more GPUs");
    scenario_fini(&s);

    const char *const off[] = {small[0], "cluster.check_memory=false"};
    EXPECT_EQ_I64(load(MINIMAL, off, 2, &s, &e), 0);
    scenario_fini(&s);
}

/* Tensor and expert-tensor parallelism: the numbers that must agree. */
static void test_layout_checks(void)
{
    scenario s;
    err_t e = ERR_INIT;
    char buf[800];
    /* MINIMAL: 8 GPUs, 8 heads of 128, 8 experts of FFN 2048 */
    const char *const tp2[] = {"parallel.tp=2", "parallel.etp=2"};
    EXPECT_EQ_I64(load(MINIMAL, tp2, 2, &s, &e), 0);
    EXPECT_EQ_I64(s.parallel.dp, 4); /* 8 GPUs / tp 2 */
    EXPECT_EQ_I64(s.parallel.ep, 4); /* dp; 4 x etp 2 divides dp x tp = 8 */
    scenario_fini(&s);

    const char *const tp3[] = {"parallel.tp=3"};
    EXPECT_EQ_I64(load(MINIMAL, tp3, 1, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "parallel.tp: 3 does not divide the 8 GPUs");
    scenario_fini(&s);

    const char *const heads[] = {"model.heads=4", "model.kv_heads=4", "parallel.tp=8"};
    EXPECT_EQ_I64(load(MINIMAL, heads, 3, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "parallel.tp: 8 does not divide model.heads (4), which tensor "
                             "parallelism splits;");
    EXPECT_STR_CONTAINS(buf, "allowed: a common divisor of model.heads and the 8 GPUs: 1, 2, 4");
    scenario_fini(&s);

    const char *const ep[] = {"parallel.tp=2", "parallel.etp=2", "parallel.ep=8"};
    EXPECT_EQ_I64(load(MINIMAL, ep, 3, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "parallel.ep: 8 x parallel.etp (2) = 16 does not divide "
                             "parallel.dp x parallel.tp (8); allowed: 1, 2, 4");
    scenario_fini(&s);

    const char *const tok[] = {"parallel.tp=2", "workload.tokens_per_rank=3"};
    EXPECT_EQ_I64(load(MINIMAL, tok, 2, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "workload.tokens_per_rank: 3 is not a multiple of parallel.tp");
    scenario_fini(&s);

    const char *const etp[] = {"model.expert_ffn=2050", "parallel.tp=2", "parallel.etp=4"};
    EXPECT_EQ_I64(load(MINIMAL, etp, 3, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "parallel.etp: 4 does not divide model.expert_ffn (2050)");
    scenario_fini(&s);

    /* pipeline stages split the layers: evenly, or as pp_layers lists */
    const char *const pp[] = {"model.layers=3", "parallel.pp=2"};
    EXPECT_EQ_I64(load(MINIMAL, pp, 2, &s, &e), -1);
    err_format(&e, buf, sizeof(buf));
    EXPECT_STR_CONTAINS(buf, "parallel.pp: 2 does not divide model.layers (3); allowed: 1, 3, "
                             "or parallel.pp_layers");
    scenario_fini(&s);
    const char *const ppl[] = {"model.layers=3", "parallel.pp=2", "parallel.pp_layers=[2, 1]"};
    EXPECT_EQ_I64(load(MINIMAL, ppl, 3, &s, &e), 0);
    EXPECT_EQ_I64(s.parallel.npp_layers, 2);
    EXPECT_EQ_I64(s.parallel.pp_layers[0], 2);
    EXPECT_EQ_I64(s.parallel.pp_layers[1], 1);
    scenario_fini(&s);
}

static void test_system_preset(void)
{
    /* cluster.system fills what the file leaves out; the file and --set win. */
    const char *text = "model = { layers = 2; hidden = 1024; expert_ffn = 2048; experts = 16; "
                       "top_k = 2; };\ncluster = { system = \"DGX-A100\"; nodes = 2; };\n";
    scenario s;
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "A100-SXM-80GB");
    EXPECT_EQ_I64(s.cluster.topo.gpus_per_node, 8);
    EXPECT_NEAR(s.cluster.topo.intra_bw_Bps, 300e9, 1);
    EXPECT_NEAR(s.cluster.topo.inter_bw_Bps, 25e9, 1); /* 200 Gb/s */
    EXPECT_STR_CONTAINS(s.cluster.system, "DGX-A100");
    scenario_fini(&s);

    const char *sets[] = {"cluster.inter.bandwidth=100 Gb/s", "cluster.system=HGX-H800"};
    EXPECT_EQ_I64(load(text, sets, 2, &s, &e), 0);
    EXPECT_STR_CONTAINS(s.cluster.gpu.name, "H800-SXM");
    EXPECT_NEAR(s.cluster.topo.intra_bw_Bps, 200e9, 1);
    EXPECT_NEAR(s.cluster.topo.inter_bw_Bps, 12.5e9, 1); /* --set beats the preset */
    scenario_fini(&s);

    const char *bad[] = {"cluster.system=DGX-Z"};
    EXPECT_EQ_I64(load(text, bad, 1, &s, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.msg, "\"DGX-H100\", \"HGX-H800\", \"DGX-A100\"");
    scenario_fini(&s);
}

/* Integers libconfig 1.5 would wrap load as written (issue 16). */
static void test_wide_integers(void)
{
    scenario s;
    err_t e = ERR_INIT;
    char text[512];
    snprintf(text, sizeof(text), "seed = 4294967297;\n%s", MINIMAL);
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
    EXPECT_TRUE(s.seed == 4294967297ULL); /* not 1, its low 32 bits */
    scenario_fini(&s);

    EXPECT_EQ_I64(load("model = { layers = 2147483652; hidden = 1024; expert_ffn = 2048; "
                       "experts = 8; top_k = 2; };\n",
                       NULL, 0, &s, &e),
                  -1); /* libconfig: 4 */
    EXPECT_STR_CONTAINS(e.key, "model.layers");
    EXPECT_STR_CONTAINS(e.msg, "2147483652 is out of range");
    scenario_fini(&s);

    snprintf(text, sizeof(text), "seed = 0x1FFFFFFFFFFFFFFFF;\n%s", MINIMAL);
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "is beyond 2^63 - 1");
    EXPECT_EQ_I64(e.line, 1);
    scenario_fini(&s);

    const char *const big[] = {"seed=99999999999999999999"};
    EXPECT_EQ_I64(load(MINIMAL, big, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.file, "--set");
    EXPECT_STR_CONTAINS(e.msg, "is beyond 2^63 - 1");
    scenario_fini(&s);
}

/* Strings must be UTF-8; the text's limits are checked before libconfig. */
static void test_text_limits(void)
{
    scenario s;
    err_t e = ERR_INIT;
    char text[9000];
    snprintf(text, sizeof(text), "name = \"caf\xc3\xa9\";\n%s", MINIMAL);
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
    scenario_fini(&s);
    snprintf(text, sizeof(text), "name = \"caf\xe9\";\n%s", MINIMAL); /* Latin-1 */
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "not UTF-8 (byte 0xe9 at offset 3)");
    scenario_fini(&s);
    const char *const surrogate[] = {"output.json=a\xed\xa0\x80"};
    EXPECT_EQ_I64(load(MINIMAL, surrogate, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "output.json");
    scenario_fini(&s);

    /* two literals of 3,000 bytes join into one string past the limit */
    size_t k = (size_t)snprintf(text, sizeof(text), "%s\nname = \"", MINIMAL);
    memset(text + k, 'a', 3000);
    k += 3000;
    k += (size_t)snprintf(text + k, sizeof(text) - k, "\" \"");
    memset(text + k, 'b', 3000);
    k += 3000;
    snprintf(text + k, sizeof(text) - k, "\";\n");
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "a string of 6000 bytes; allowed: at most 4096 bytes");
    EXPECT_EQ_I64(e.line, 3);
    scenario_fini(&s);

    /* an @include in a comment or a string is not an @include */
    snprintf(text, sizeof(text), "# @include \"/\"\nname = \"@include \\\"/\\\"\";\n%s",
             MINIMAL);
    EXPECT_EQ_I64(load(text, NULL, 0, &s, &e), 0);
    scenario_fini(&s);
}

/* Ranges of the unit kinds, the GPU cap and the host memory estimate. */
static void test_magnitudes(void)
{
    scenario s;
    err_t e = ERR_INIT;
    const char *const slow[] = {"cluster.gpu.fp8=0 TFLOP/s", "cluster.inter.latency=1 s"};
    EXPECT_EQ_I64(load(MINIMAL, slow, 2, &s, &e), 0); /* 0: unsupported; 1 s: the edge */
    scenario_host h;
    scenario_host_memory(&s, &h);
    EXPECT_TRUE(h.total > h.per_gpu && h.per_gpu >= 8.0 * 600 * 4); /* 8 GPUs, 4 layers */
    scenario_fini(&s);
    const char *const zero[] = {"cluster.gpu.bf16=0 TFLOP/s"};
    EXPECT_EQ_I64(load(MINIMAL, zero, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "is zero");
    scenario_fini(&s);
    const char *const fast[] = {"cluster.gpu.hbm_bandwidth=2000 TB/s"};
    EXPECT_EQ_I64(load(MINIMAL, fast, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.msg, "allowed: a bandwidth from 1 MB/s to 1 PB/s");
    scenario_fini(&s);
    const char *const wide[] = {"cluster.nodes=2049"};
    EXPECT_EQ_I64(load(MINIMAL, wide, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "cluster.gpus_per_node");
    EXPECT_STR_CONTAINS(e.msg, "16392 GPUs; allowed: at most 16384");
    scenario_fini(&s);
    const char *const tiny[] = {"limits.host_memory=2 MB"};
    EXPECT_EQ_I64(load(MINIMAL, tiny, 1, &s, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "limits.host_memory");
    scenario_fini(&s);
}

void test_scenario_register(void)
{
    TEST_SUITE("scenario", {"good", test_good}, {"defaults", test_defaults},
               {"set", test_set}, {"unknown key", test_unknown_key},
               {"moe layers", test_moe_layers}, {"fixed source", test_fixed_source},
               {"keys md", test_keys_md}, {"bad corpus", test_bad_corpus},
               {"system preset", test_system_preset}, {"memory fit", test_memory_fit},
               {"layout checks", test_layout_checks},
               {"integers past 32 bits load as written", test_wide_integers},
               {"UTF-8 and the text's limits", test_text_limits},
               {"ranges, the GPU cap, host memory", test_magnitudes});
}
