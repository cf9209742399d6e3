/*
 * mflops.h - model FLOPs of a training step, counted as Megatron-LM counts
 * them (megatron/training/training.py, num_floating_point_operations): the
 * figure MFU and "model TFLOP/s per GPU" are quoted against.
 *
 * Per token, every GEMM three times (forward, input gradient, weight
 * gradient), two FLOPs per multiply-add: SwiGLU (or GELU) FFNs of dense
 * layers, routed experts (top_k of them) and shared experts; attention's
 * projections (GQA: Q, K, V and output; MLA: its low-rank projections and
 * norms) plus the causal core (half the S x S scores); the output layer
 * (1 + mtp_layers times); multi-token prediction modules as layers like the
 * last one plus their norms and projection. The router, norms outside MLA,
 * recomputation and the optimizer are not counted.
 */
#ifndef MOESIM_MFLOPS_H
#define MOESIM_MFLOPS_H

#include <stdbool.h>

typedef struct mflops_model {
    int layers, moe_layers, mtp_layers;
    bool last_is_moe;        /* the last layer's kind, which MTP modules repeat */
    int hidden, dense_ffn, expert_ffn, top_k, shared_ffn; /* shared: all shared experts' width */
    int ffn_matrices;        /* 3: SwiGLU, 2: GELU */
    int heads, kv_heads, head_dim;
    bool mla;
    int q_lora, kv_lora, qk_nope, qk_rope, v_dim; /* MLA (q_lora 0: none) */
    int vocab;
    int seq_len;
} mflops_model;

/* Model FLOPs of one token's forward and backward pass. */
double mflops_per_token(const mflops_model *m);

#endif
