/*
 * mflops.c - Megatron-LM's model FLOPs (mflops.h). The terms follow
 * num_floating_point_operations in megatron/training/training.py (NVIDIA
 * Megatron-LM, transformer_flops): 3 (forward, dgrad, wgrad) x 2 (FMA) x
 * the multiply-adds of each GEMM per token.
 */
#include "moesim/mflops.h"

/* One attention layer's term per token, already x 3 x 2. */
static double attention_term(const mflops_model *m)
{
    double h = m->hidden, n = m->heads, s = m->seq_len;
    if (m->mla) {
        double qk = m->qk_nope, rope = m->qk_rope, v = m->v_dim;
        double q = m->q_lora > 0 ? m->q_lora * (h + n * (qk + rope) + 1) : h * n * (qk + rope);
        return 6 * (q + m->kv_lora * (h + n * (qk + v) + 1) + h * rope + n * v * h +
                    s * n * (qk + rope) / 2 + s * n * v / 2);
    }
    double q = (double)m->head_dim * n, kv = (double)m->head_dim * m->kv_heads;
    return 6 * (h * (q + 2 * kv) + q * s / 2 * 2 + q * h);
}

double mflops_per_token(const mflops_model *m)
{
    double h = m->hidden, x = m->ffn_matrices, mtp = m->mtp_layers;
    double moe = m->moe_layers + (m->last_is_moe ? mtp : 0);
    double dense = m->layers - m->moe_layers + (m->last_is_moe ? 0 : mtp);
    double mlp = 6 * h *
                 ((double)m->dense_ffn * x * dense +
                  ((double)m->expert_ffn * m->top_k * x + (double)m->shared_ffn * x) * moe);
    return mlp + attention_term(m) * (m->layers + mtp) + 6 * mtp * (3 * h + 2 * h * h) +
           6 * h * (double)m->vocab * (mtp + 1);
}
