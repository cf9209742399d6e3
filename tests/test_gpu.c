/*
 * test_gpu.c - the roofline, the expert, attention and gate kernels, and the
 * presets, each against times worked out by hand on round numbers.
 */
#include "moesim/gpu.h"

#include <string.h>

#include "test.h"

/* 1 TFLOP/s at every dtype but FP8, 1 TB/s, perfect efficiency, 1 ns launch:
 * a FLOP and a byte each cost 1 ps. */
static gpu_spec round_gpu(void)
{
    gpu_spec g = {.name = "round",
                  .peak_flops = {[DTYPE_FP32] = 1e12, [DTYPE_BF16] = 1e12,
                                 [DTYPE_FP16] = 1e12, [DTYPE_FP8] = 0},
                  .hbm_bytes = 80e9,
                  .hbm_bw_Bps = 1e12,
                  .nvlink_bw_Bps = 1e11,
                  .sms = 1,
                  .compute_eff = 1,
                  .memory_eff = 1,
                  .launch_ps = 1000};
    return g;
}

static void test_op_compute_bound(void)
{
    gpu_spec g = round_gpu();
    /* 2e9 FLOPs at 1e12 FLOP/s = 2 ms; 1 MB at 1 TB/s = 1 us: compute wins. */
    EXPECT_EQ_I64(gpu_op_time(&g, 2e9, 1e6, DTYPE_BF16), 1000 + 2000000000LL);
    g.compute_eff = 0.5; /* half the achievable rate: twice the time */
    EXPECT_EQ_I64(gpu_op_time(&g, 2e9, 1e6, DTYPE_BF16), 1000 + 4000000000LL);
}

static void test_op_memory_bound(void)
{
    gpu_spec g = round_gpu();
    /* 1 MFLOP = 1 us; 5 GB at 1 TB/s = 5 ms: memory wins. */
    EXPECT_EQ_I64(gpu_op_time(&g, 1e6, 5e9, DTYPE_BF16), 1000 + 5000000000LL);
    g.memory_eff = 0.8; /* 5e9 / 0.8e12 s = 6.25 ms */
    EXPECT_EQ_I64(gpu_op_time(&g, 1e6, 5e9, DTYPE_BF16), 1000 + 6250000000LL);
    /* Nothing to do still pays the launch. */
    EXPECT_EQ_I64(gpu_op_time(&g, 0, 0, DTYPE_BF16), 1000);
}

static void test_op_dtype_fallback(void)
{
    gpu_spec g = round_gpu();
    /* FP8 unsupported (peak 0): runs at the BF16 rate. */
    EXPECT_EQ_I64(gpu_op_time(&g, 2e9, 0, DTYPE_FP8), 1000 + 2000000000LL);
    g.peak_flops[DTYPE_FP8] = 2e12;
    EXPECT_EQ_I64(gpu_op_time(&g, 2e9, 0, DTYPE_FP8), 1000 + 1000000000LL);
}

static void test_experts_skip_idle(void)
{
    gpu_spec g = round_gpu();
    g.hbm_bw_Bps = 1e11; /* 10 ps a byte */
    gpu_ffn_shape s = {.hidden = 1000, .ffn = 2000, .matrices = 3, .dt = DTYPE_BF16};
    int64_t tokens[4] = {0, 1, 0, 2};
    /* FLOPs 2 * 3 * 1000 * 2000 * 3 = 36e6 -> 36 us.
     * Bytes: 2 active experts x 3 x 1000 x 2000 x 2 B = 24e6, plus 3 tokens x
     * 3 x (1000 + 2000) x 2 B = 54,000: 24,054,000 B at 1e11 B/s = 240.54 us.
     * Three launches. Experts 0 and 2 read no weights (else 480.54 us). */
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, tokens, 4), 3 * 1000 + 240540000LL);
    int64_t none[3] = {0, 0, 0};
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, none, 3), 0);
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, none, 0), 0);
}

static void test_experts_compute_bound(void)
{
    gpu_spec g = round_gpu();
    gpu_ffn_shape s = {.hidden = 4, .ffn = 8, .matrices = 2, .dt = DTYPE_BF16};
    int64_t tokens[2] = {100, 50};
    /* FLOPs 2 x 150 x 32 x 2 = 19,200; bytes 2 x (2 x 32 x 2) + 150 x 2 x 12 x 2
     * = 256 + 7,200 = 7,456: compute-bound, 19,200 ps + 2 launches. */
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, tokens, 2), 2 * 1000 + 19200);
}

/* The efficiency curve by tokens per expert: with 64-row tiles, 100 tokens
 * compute as 128 and 50 as 64, so the compute-bound case above costs
 * 2 x 192 x 32 x 2 = 24,576 ps instead of 19,200 (efficiency 150/192). */
static void test_experts_tile_padding(void)
{
    gpu_spec g = round_gpu();
    g.gemm_tile = 64;
    gpu_ffn_shape s = {.hidden = 4, .ffn = 8, .matrices = 2, .dt = DTYPE_BF16};
    int64_t tokens[2] = {100, 50};
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, tokens, 2), 2 * 1000 + 24576);
    int64_t full[2] = {128, 64}; /* whole tiles: no loss */
    g.gemm_tile = 0;
    sim_time_t untiled = gpu_experts_time(&g, &s, full, 2);
    g.gemm_tile = 64;
    EXPECT_EQ_I64(gpu_experts_time(&g, &s, full, 2), untiled);
}

static void test_attention(void)
{
    gpu_spec g = round_gpu();
    gpu_attn_shape s = {.hidden = 8, .heads = 2, .kv_heads = 1, .head_dim = 4, .seq_len = 16,
                        .dt = DTYPE_BF16};
    /* T = 10, q = 8, kv = 4.
     * QKV: FLOPs 2 x 10 x 8 x 16 = 2,560; bytes (8 x 16 + 10 x 24) x 2 = 736.
     * core: FLOPs 4 x 10 x 8 x 8 = 2,560; bytes 10 x 24 x 2 = 480.
     * out: FLOPs 2 x 10 x 8 x 8 = 1,280; bytes (64 + 10 x 16) x 2 = 448.
     * All compute-bound: 6,400 ps + 3 launches. */
    EXPECT_EQ_I64(gpu_attention_time(&g, &s, 10), 3 * 1000 + 6400);
    EXPECT_EQ_I64(gpu_attention_time(&g, &s, 0), 0);
}

static void test_gate(void)
{
    gpu_spec g = round_gpu();
    g.hbm_bw_Bps = 1e11;
    /* T = 10, H = 8, E = 4, BF16: FLOPs 640 (640 ps); bytes (32 + 80) x 2 +
     * 4 x 10 x 4 = 384 at 10 ps a byte = 3,840 ps: memory-bound. */
    EXPECT_EQ_I64(gpu_gate_time(&g, 10, 8, 4, DTYPE_BF16), 1000 + 3840);
    EXPECT_EQ_I64(gpu_gate_time(&g, 0, 8, 4, DTYPE_BF16), 0);
}

static void test_presets(void)
{
    gpu_spec g;
    EXPECT_EQ_I64(gpu_preset("H100-SXM", &g), 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 989e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP16], 989e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP8], 1979e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP32], 67e12, 0);
    EXPECT_NEAR(g.hbm_bytes, 80e9, 0);
    EXPECT_NEAR(g.hbm_bw_Bps, 3.35e12, 0);
    EXPECT_NEAR(g.nvlink_bw_Bps, 450e9, 0);
    EXPECT_EQ_I64(g.sms, 132);

    EXPECT_EQ_I64(gpu_preset("H800-SXM", &g), 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 989e12, 0);
    EXPECT_NEAR(g.nvlink_bw_Bps, 200e9, 0);
    EXPECT_EQ_I64(g.sms, 132);

    EXPECT_EQ_I64(gpu_preset("A100-SXM-80GB", &g), 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 312e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP32], 19.5e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP8], 0, 0);
    EXPECT_NEAR(g.hbm_bw_Bps, 2.039e12, 0);
    EXPECT_NEAR(g.nvlink_bw_Bps, 300e9, 0);
    EXPECT_EQ_I64(g.sms, 108);
    /* No FP8 on A100: the same time as BF16. */
    EXPECT_EQ_I64(gpu_op_time(&g, 1e15, 1e6, DTYPE_FP8), gpu_op_time(&g, 1e15, 1e6, DTYPE_BF16));

    /* datasheet figures of the later presets (docs/hardware.md) */
    EXPECT_EQ_I64(gpu_preset("H200-SXM", &g), 0);
    EXPECT_NEAR(g.hbm_bytes, 141e9, 0);
    EXPECT_NEAR(g.hbm_bw_Bps, 4.8e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 989e12, 0);
    EXPECT_EQ_I64(gpu_preset("B200-SXM", &g), 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_FP8], 4500e12, 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 2250e12, 0);
    EXPECT_NEAR(g.hbm_bw_Bps, 8e12, 0);
    EXPECT_NEAR(g.nvlink_bw_Bps, 900e9, 0);
    EXPECT_EQ_I64(gpu_preset("MI300X", &g), 0);
    EXPECT_NEAR(g.peak_flops[DTYPE_BF16], 1307.4e12, 0);
    EXPECT_NEAR(g.hbm_bytes, 192e9, 0);
    EXPECT_NEAR(g.hbm_bw_Bps, 5.3e12, 0);

    EXPECT_EQ_I64(gpu_preset("H100", &g), -1);
    EXPECT_EQ_I64(gpu_preset("", &g), -1);
}

static void test_preset_names(void)
{
    /* Every name in the list is a preset, and every preset passes the checks. */
    char names[256];
    snprintf(names, sizeof(names), "%s", gpu_preset_names());
    EXPECT_STR_CONTAINS(names, "H100-SXM");
    int count = 0;
    for (char *p = names; p && *p;) {
        char *comma = strstr(p, ", ");
        if (comma)
            *comma = '\0';
        gpu_spec g;
        err_t e = ERR_INIT;
        EXPECT_EQ_I64(gpu_preset(p, &g), 0);
        EXPECT_EQ_I64(gpu_spec_check(&g, &e), 0);
        EXPECT_TRUE(g.compute_eff > 0 && g.compute_eff <= 1);
        EXPECT_TRUE(g.memory_eff > 0 && g.memory_eff <= 1);
        count++;
        p = comma ? comma + 2 : NULL;
    }
    EXPECT_EQ_I64(count, 6);
}

static void test_spec_check(void)
{
    gpu_spec g = round_gpu();
    err_t e = ERR_INIT;
    EXPECT_EQ_I64(gpu_spec_check(&g, &e), 0);
    g.memory_eff = 1.5;
    EXPECT_EQ_I64(gpu_spec_check(&g, &e), -1);
    EXPECT_EQ_I64(e.code, ERR_INPUT);
    EXPECT_STR_CONTAINS(e.key, "cluster.gpu.memory_eff");
    g = round_gpu();
    g.peak_flops[DTYPE_BF16] = 0;
    EXPECT_EQ_I64(gpu_spec_check(&g, &e), -1);
    EXPECT_STR_CONTAINS(e.key, "cluster.gpu.peak_flops");
}

/* Memory fit on a shape small enough to add up by hand: hidden 4, q = 2 x 2 =
 * 4, kv = 1 x 2 = 2, 3 layers of which 2 MoE, bf16 (2 bytes), tp 2. */
static void test_memory_need(void)
{
    gpu_memory_shape sh = {
        .attn = {.hidden = 4, .heads = 2, .kv_heads = 1, .head_dim = 2},
        .layers = 3, .moe_layers = 2, .dense_ffn = 8, .expert_ffn = 6, .matrices = 3,
        .experts = 4, .shared_experts = 1, .slots = 2, .top_k = 2, .tp = 2, .etp = 1,
        .weight_dt = DTYPE_BF16, .act_dt = DTYPE_BF16, .tokens = 10, .moe_tokens = 5,
        .dispatch_row = 10, .combine_row = 8,
    };
    gpu_memory m;
    gpu_memory_need(&sh, &m);
    /* attention: 3 layers x (4 x (4 + 2 x 2) + 4 x 4) x 2 B / tp 2 = 144 */
    EXPECT_NEAR(m.attention, 144, 0);
    /* one dense layer: 3 x 4 x 8 x 2 B / 2 = 96 */
    EXPECT_NEAR(m.dense_ffn, 96, 0);
    /* gates: 2 x 4 x 4 experts x 2 B = 64 */
    EXPECT_NEAR(m.gate, 64, 0);
    /* one expert is 3 x 4 x 6 x 2 B = 144: shared 2 layers x 144 / tp 2 = 144,
     * routed 2 layers x 2 slots x 144 = 576 */
    EXPECT_NEAR(m.shared, 144, 0);
    EXPECT_NEAR(m.experts, 576, 0);
    EXPECT_NEAR(m.weights, 1024, 0);
    /* widest intermediate: max((2 x 4 + 2 x 2) / 2, 2 x 8 / 2, 1 x 2 x 6 / 2) = 8;
     * 10 tokens x 2 B x (2 x 4 + 8) = 320, plus 5 x 2 routed rows x 2 x 6 x 2 B = 240 */
    EXPECT_NEAR(m.layer_act, 560, 0);
    /* 10 routed rows x (10 + 8) B */
    EXPECT_NEAR(m.a2a_buffers, 180, 0);
    EXPECT_NEAR(m.activations, 740, 0);
    EXPECT_NEAR(m.total, 1764, 0);

    /* etp 2 halves each routed slot and doubles the rows a GPU receives */
    sh.etp = 2;
    gpu_memory_need(&sh, &m);
    EXPECT_NEAR(m.experts, 288, 0);
    EXPECT_NEAR(m.a2a_buffers, 360, 0);
    EXPECT_NEAR(m.total, 1764 - 288 + 180, 0);

    /* no MoE layer: no gate, experts or buffers; fp8 weights are 1 byte */
    sh.moe_layers = 0;
    sh.weight_dt = DTYPE_FP8;
    gpu_memory_need(&sh, &m);
    EXPECT_NEAR(m.attention, 72, 0);
    EXPECT_NEAR(m.dense_ffn, 3 * 48, 0);
    EXPECT_NEAR(m.gate + m.shared + m.experts + m.a2a_buffers, 0, 0);
    EXPECT_NEAR(m.layer_act, 320, 0);
}

/* Issue 16: bf16 = "989 FLOP/s" (the T left out) made every kernel take
 * more than 2^63 ps, and launch + roofline wrapped negative. Times now
 * saturate at SIM_TIME_MAX and the seconds forms say what bounds them. */
static void test_beyond_the_clock_saturates(void)
{
    gpu_spec g;
    CU_ASSERT_EQUAL_FATAL(gpu_preset("H100-SXM", &g), 0);
    g.peak_flops[DTYPE_BF16] = 989;
    gpu_attn_shape as = {4096, 32, 8, 128, 4096, DTYPE_BF16, 0, 0, 0, 0, 0};
    EXPECT_EQ_I64(gpu_attention_time(&g, &as, 4096), SIM_TIME_MAX);
    EXPECT_EQ_I64(gpu_gate_time(&g, 1 << 20, 4096, 256, DTYPE_BF16), SIM_TIME_MAX);
    EXPECT_EQ_I64(gpu_op_time(&g, 1e30, 0, DTYPE_BF16), SIM_TIME_MAX);
    gpu_bound b = GPU_BOUND_LAUNCH;
    double secs = gpu_attention_seconds(&g, &as, 4096, &b);
    EXPECT_TRUE(secs > 9.3e6); /* beyond 2^63 ps, reported unbounded */
    EXPECT_EQ_I64(b, GPU_BOUND_COMPUTE);

    /* a padded min_capacity of 2^63 - 1 tokens on one expert */
    CU_ASSERT_EQUAL_FATAL(gpu_preset("H100-SXM", &g), 0);
    gpu_ffn_shape sh = {4096, 14336, 3, DTYPE_BF16};
    int64_t tok[2] = {INT64_MAX, INT64_MAX};
    EXPECT_EQ_I64(gpu_experts_time(&g, &sh, tok, 2), SIM_TIME_MAX);
    EXPECT_TRUE(gpu_experts_seconds(&g, &sh, tok, 2, &b) > 1e12);

    /* launches alone: 3 matrices x a launch of 2^62 ps */
    g.launch_ps = INT64_C(1) << 62;
    int64_t one = 1;
    EXPECT_EQ_I64(gpu_experts_time(&g, &sh, &one, 1), SIM_TIME_MAX);
    gpu_experts_seconds(&g, &sh, &one, 1, &b);
    EXPECT_EQ_I64(b, GPU_BOUND_LAUNCH);
    /* HBM traffic: 1 B/s */
    CU_ASSERT_EQUAL_FATAL(gpu_preset("H100-SXM", &g), 0);
    g.hbm_bw_Bps = 1;
    EXPECT_EQ_I64(gpu_experts_time(&g, &sh, &one, 1), SIM_TIME_MAX);
    gpu_experts_seconds(&g, &sh, &one, 1, &b);
    EXPECT_EQ_I64(b, GPU_BOUND_MEMORY);
    /* and in range, the seconds agree with the picoseconds */
    CU_ASSERT_EQUAL_FATAL(gpu_preset("H100-SXM", &g), 0);
    int64_t t512 = 512;
    EXPECT_NEAR(gpu_experts_seconds(&g, &sh, &t512, 1, NULL),
                sim_time_to_s(gpu_experts_time(&g, &sh, &t512, 1)), 1e-11);
}

/* DeepSeek-V3's multi-head latent attention, weights by hand
 * (config_671B.json: hidden 7168, 128 heads, q_lora 1536, kv_lora 512, qk
 * 128 + 64, v 128): down-projections 7168 x 1536 + 7168 x 576 = 15,138,816
 * held whole on every TP rank; up and output 1536 x 128 x 192 + 512 x 128 x
 * 256 + 128 x 128 x 7168 = 171,966,464 split by heads: 187,105,280 a layer.
 * Grouped-query attention holds none whole. */
static void test_mla_params(void)
{
    gpu_attn_shape s = {.hidden = 7168, .heads = 128, .seq_len = 4096, .dt = DTYPE_BF16,
                        .q_lora = 1536, .kv_lora = 512, .qk_nope = 128, .qk_rope = 64,
                        .v_dim = 128};
    double rep, split;
    gpu_attention_params(&s, &rep, &split);
    EXPECT_NEAR(rep, 15138816.0, 0.0);
    EXPECT_NEAR(split, 171966464.0, 0.0);
    s.heads = 64; /* one GPU of TP 2: the split part halves, the rest stays */
    gpu_attention_params(&s, &rep, &split);
    EXPECT_NEAR(rep, 15138816.0, 0.0);
    EXPECT_NEAR(split, 171966464.0 / 2, 0.0);
    gpu_attn_shape g = {4096, 32, 8, 128, 4096, DTYPE_BF16, 0, 0, 0, 0, 0};
    gpu_attention_params(&g, &rep, &split);
    EXPECT_NEAR(rep, 0.0, 0.0);
    EXPECT_NEAR(split, 4096.0 * (4096 + 2 * 1024) + 4096.0 * 4096, 0.0);
    /* compute-bound on a big batch: the time follows the FLOPs; QK^T over 192
     * and PV over 128 dimensions: the core's share is (192 + 128) / 256 of
     * MHA's of head_dim 128 at the same heads */
    gpu_spec h100;
    CU_ASSERT_EQUAL_FATAL(gpu_preset("H100-SXM", &h100), 0);
    EXPECT_TRUE(gpu_attention_time(&h100, &s, 8192) > 0);
}

void test_gpu_register(void);
void test_gpu_register(void)
{
    TEST_SUITE("gpu", {"op compute-bound", test_op_compute_bound},
               {"op memory-bound", test_op_memory_bound},
               {"op dtype fallback", test_op_dtype_fallback},
               {"experts skip idle weights", test_experts_skip_idle},
               {"experts compute-bound", test_experts_compute_bound},
               {"experts tile padding", test_experts_tile_padding},
               {"attention", test_attention}, {"gate", test_gate}, {"presets", test_presets},
               {"preset names", test_preset_names}, {"spec check", test_spec_check},
               {"memory need, by hand", test_memory_need},
               {"times beyond the clock saturate (issue 16)", test_beyond_the_clock_saturates},
               {"multi-head latent attention by hand (issue 12)", test_mla_params});
}
