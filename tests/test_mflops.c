/*
 * test_mflops.c - model FLOPs against the figures Megatron-LM's formula
 * gives (num_floating_point_operations, worked by hand below).
 *
 * Qwen3-30B-A3B at seq 4096 (48 layers, hidden 2048, 32 query and 4 KV heads
 * of 128, 128 experts top-8 of FFN 768, vocab 151,936) per token:
 *   attention 6 (2048 (4096 + 2 x 512) + 4096 x 2048) = 113,246,208
 *   core      6 x 4096 x 4096                          = 100,663,296
 *   experts   6 x 2048 x 768 x 8 x 3                   = 226,492,416
 *   48 layers of 440,401,920 + logits 6 x 2048 x 151,936 = 23,006,281,728
 * Qwen3-235B-A22B (94 layers, hidden 4096, 64/4 heads of 128, top-8 of
 * FFN 1536): 94 x 1,535,115,264 + 3,733,979,136 = 148,034,813,952.
 */
#include "moesim/mflops.h"

#include "test.h"

static void test_qwen3(void)
{
    mflops_model m = {.layers = 48, .moe_layers = 48, .last_is_moe = true, .hidden = 2048,
                      .dense_ffn = 6144, .expert_ffn = 768, .top_k = 8, .ffn_matrices = 3,
                      .heads = 32, .kv_heads = 4, .head_dim = 128, .vocab = 151936,
                      .seq_len = 4096};
    EXPECT_NEAR(mflops_per_token(&m), 23006281728.0, 0);
    m.layers = m.moe_layers = 94;
    m.hidden = 4096;
    m.expert_ffn = 1536;
    m.heads = 64;
    EXPECT_NEAR(mflops_per_token(&m), 148034813952.0, 0);
}

/* A dense first layer counts its own FFN; one MTP module repeats the last
 * layer (MoE) and adds its norms, projection and a second output layer. */
static void test_dense_and_mtp(void)
{
    mflops_model m = {.layers = 2, .moe_layers = 1, .last_is_moe = true, .hidden = 4,
                      .dense_ffn = 8, .expert_ffn = 2, .top_k = 2, .shared_ffn = 2,
                      .ffn_matrices = 3, .heads = 2, .kv_heads = 1, .head_dim = 2,
                      .vocab = 10, .seq_len = 4};
    /* attention: 6 (4 (4 + 4) + 4 x 4 / 2 x 2 + 4 x 4) = 6 x 64 = 384 per layer
     * mlp: 6 x 4 (8 x 3 + (2 x 2 x 3 + 2 x 3)) = 24 x 42 = 1008; logits 240 */
    EXPECT_NEAR(mflops_per_token(&m), 2 * 384 + 1008 + 240, 0);
    m.mtp_layers = 1; /* + an MoE layer's 6 x 4 x 18 + 384, norms 6 (12 + 32), logits */
    EXPECT_NEAR(mflops_per_token(&m), 2 * 384 + 1008 + 240 + 432 + 384 + 264 + 240, 0);
}

/* MLA (DeepSeek-V3's shape): the low-rank terms as Megatron writes them. */
static void test_mla(void)
{
    mflops_model m = {.layers = 1, .moe_layers = 0, .hidden = 7168, .dense_ffn = 0,
                      .ffn_matrices = 3, .heads = 128, .mla = true, .q_lora = 1536,
                      .kv_lora = 512, .qk_nope = 128, .qk_rope = 64, .v_dim = 128,
                      .seq_len = 4096};
    double q = 1536.0 * (7168 + 128 * 192 + 1), kv = 512.0 * (7168 + 128 * 256 + 1);
    double rest = 7168.0 * 64 + 128.0 * 128 * 7168 + 4096.0 * 128 * 192 / 2 +
                  4096.0 * 128 * 128 / 2;
    EXPECT_NEAR(mflops_per_token(&m), 6 * (q + kv + rest), 6 * (q + kv + rest) * 1e-12);
}

void test_mflops_register(void)
{
    TEST_SUITE("mflops", {"qwen3", test_qwen3}, {"dense and mtp", test_dense_and_mtp},
               {"mla", test_mla});
}
