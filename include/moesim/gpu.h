/*
 * gpu.h - a GPU as a roofline: how long an operation takes, given its FLOPs
 * and the bytes it moves through HBM.
 *
 * time = launch overhead + max(FLOPs / (dense peak for the dtype x compute
 * efficiency), bytes / (HBM bandwidth x memory efficiency)). Expert FFNs run
 * as one grouped GEMM per MoE layer over the experts a GPU holds: every expert
 * that received a token must stream its weights from HBM, so few tokens per
 * expert are memory-bound and many are compute-bound. Presets carry datasheet
 * figures (dense, not 2:4-sparse, peaks), cited in docs/hardware.md.
 */
#ifndef MOESIM_GPU_H
#define MOESIM_GPU_H

#include <stdbool.h>
#include <stdint.h>

#include "moesim/base.h"

typedef struct gpu_spec {
    char name[32];
    double peak_flops[DTYPE_COUNT]; /* dense FLOP/s per dtype; 0 = unsupported */
    double hbm_bytes;               /* HBM capacity, bytes */
    double hbm_bw_Bps;              /* HBM bandwidth, bytes/s */
    double nvlink_bw_Bps;           /* NVLink bandwidth per direction per GPU, bytes/s */
    int sms;                        /* streaming multiprocessors */
    double compute_eff;             /* achievable fraction of peak FLOP/s, (0, 1] */
    double memory_eff;              /* achievable fraction of HBM bandwidth, (0, 1] */
    sim_time_t launch_ps;           /* per-kernel launch overhead */
    double gemm_tile;               /* rows of a grouped-GEMM tile: each expert's tokens
                                     * are computed padded up to a multiple (0: none) */
} gpu_spec;

/* Fills *out with the named preset ("H100-SXM", "H800-SXM", "H200-SXM",
 * "A100-SXM-80GB", "B200-SXM", "MI300X").
 * Returns -1 if the name is unknown. */
int gpu_preset(const char *name, gpu_spec *out);
/* The preset names, comma-separated, for error messages ("H100-SXM, ..."). */
const char *gpu_preset_names(void);
/* Checks a spec built by hand (a scenario's own GPU): BF16 peak > 0, every
 * peak >= 0, HBM size and bandwidth > 0, both efficiencies in (0, 1], launch
 * >= 0. Returns 0, or -1 with e filled (ERR_INPUT, key "cluster.gpu.<field>"). */
int gpu_spec_check(const gpu_spec *g, err_t *e);

/* Roofline time of one kernel: launch + max(flops / (peak[dt] * compute_eff),
 * bytes / (hbm_bw * memory_eff)). flops and bytes >= 0. A dtype whose peak is 0
 * falls back to the BF16 peak. Every time here saturates at SIM_TIME_MAX
 * (never wraps): a caller that gets SIM_TIME_MAX has a time beyond the clock. */
sim_time_t gpu_op_time(const gpu_spec *g, double flops, double bytes, dtype_t dt);

/* The shape of one expert FFN: `matrices` weight matrices of hidden x ffn
 * (3 for SwiGLU: gate, up, down; 2 for a plain MLP). */
typedef struct gpu_ffn_shape {
    int hidden;
    int ffn;
    int matrices;
    dtype_t dt;
} gpu_ffn_shape;

/* Time of a grouped GEMM over n experts on one GPU, expert i receiving
 * tokens[i] tokens (0 allowed: that expert's weights are not read). FLOPs =
 * sum 2 * padded(tokens) * hidden * ffn * matrices, where padded rounds up to
 * a multiple of gemm_tile (the efficiency curve by tokens per expert: an
 * expert with 3 tokens pays a whole tile of compute); bytes = the weights of every
 * expert with tokens > 0 plus each token's input, intermediate and output
 * activations. One launch per matrix. 0 if no expert has tokens. */
sim_time_t gpu_experts_time(const gpu_spec *g, const gpu_ffn_shape *shape,
                            const int64_t *tokens, int n);

/* The shape of one attention block (GQA when kv_heads < heads; multi-head
 * latent attention, DeepSeek-V2/V3's, when kv_lora > 0: kv_heads and
 * head_dim are then unused). */
typedef struct gpu_attn_shape {
    int hidden;
    int heads;
    int kv_heads;
    int head_dim;
    int seq_len; /* tokens per sequence; causal attention over it */
    dtype_t dt;
    /* MLA: the query's and the keys' and values' low ranks (q_lora 0: the
     * query is projected straight from the hidden state), the per-head
     * query/key dimensions without and with rotary embedding, the value's */
    int q_lora, kv_lora, qk_nope, qk_rope, v_dim;
} gpu_attn_shape;

/* The attention block's weights (elements) on one GPU for this shape:
 * `split` grows with heads (what tensor parallelism divides), `rep` does not
 * (MLA's down-projections, which every TP rank holds whole). */
void gpu_attention_params(const gpu_attn_shape *shape, double *rep, double *split);

/* Time of one attention block (QKV projection, causal attention, output
 * projection) for `tokens` tokens on one GPU: three roofline kernels. */
sim_time_t gpu_attention_time(const gpu_spec *g, const gpu_attn_shape *shape, int64_t tokens);

/* Training: attention's input-gradient kernels (which = 0; with
 * recompute_core, selective recomputation's extra core forward) or its
 * weight-gradient kernels (which = 1), for `tokens` tokens (gpu.c). */
sim_time_t gpu_attention_grad_time(const gpu_spec *g, const gpu_attn_shape *shape,
                                   int64_t tokens, int which, bool recompute_core);

/* Training: one Adam step over `params` parameters held on this GPU
 * (memory-bound; gradient and weight element sizes in bytes). */
sim_time_t gpu_optimizer_time(const gpu_spec *g, double params, double grad_bytes,
                              double weight_bytes);

/* Time of the router's gate GEMM (tokens x hidden times hidden x experts)
 * plus its softmax/top-k, as one roofline kernel. */
sim_time_t gpu_gate_time(const gpu_spec *g, int64_t tokens, int hidden, int experts,
                         dtype_t dt);

/* What bounds an operation's time, for the message of a time beyond the
 * clock's range: its FLOPs (the dtype's peak), its HBM traffic (hbm_bandwidth)
 * or its launches (launch). */
typedef enum gpu_bound { GPU_BOUND_COMPUTE, GPU_BOUND_MEMORY, GPU_BOUND_LAUNCH } gpu_bound;

/* The times of gpu_experts_time, gpu_attention_time and gpu_gate_time in
 * seconds, unrounded and unbounded (the sim_time_t forms saturate at
 * SIM_TIME_MAX, about 106 days), and in *bound (may be NULL) the term that
 * dominates their sum. For error messages only: the simulation uses the
 * picosecond forms. */
double gpu_experts_seconds(const gpu_spec *g, const gpu_ffn_shape *shape,
                           const int64_t *tokens, int n, gpu_bound *bound);
double gpu_attention_seconds(const gpu_spec *g, const gpu_attn_shape *shape, int64_t tokens,
                             gpu_bound *bound);
double gpu_gate_seconds(const gpu_spec *g, int64_t tokens, int hidden, int experts,
                        dtype_t dt, gpu_bound *bound);

/* What one GPU holds in a forward pass (memory fit). Weights of the layers of
 * its pipeline stage: attention (the QKV and output projections of `attn`)
 * and dense FFNs split over tp; per MoE layer the gate (hidden x experts,
 * replicated), the shared experts split over tp and `slots` routed expert
 * slots split over etp. Activations of one layer at a time (a forward pass
 * frees each layer's buffers before the next): see gpu_memory_need. */
typedef struct gpu_memory_shape {
    gpu_attn_shape attn;    /* hidden, heads, kv_heads, head_dim; dt unused */
    int layers;             /* layers on this GPU (its pipeline stage) */
    int moe_layers;         /* of which MoE */
    int dense_ffn, expert_ffn, matrices;
    int experts;            /* routed experts (the gate's width) */
    int shared_experts;
    int slots;              /* routed expert slots per MoE layer on this GPU */
    int top_k;
    int tp, etp;
    dtype_t weight_dt;      /* stored weights */
    dtype_t act_dt;         /* activations */
    int64_t tokens;         /* tokens through this GPU's attention */
    int64_t moe_tokens;     /* tokens this GPU dispatches (tokens / tp with tp > 1) */
    double dispatch_row;    /* bytes of one dispatched row (coll_row_bytes) */
    double combine_row;     /* bytes of one combined row */
    double vocab_rows;      /* embedding and output-layer rows this stage holds, of
                             * hidden values each, split over tp (0: none) */
} gpu_memory_shape;

/* Bytes per GPU, by part; total = weights + activations. */
typedef struct gpu_memory {
    double attention, dense_ffn, gate, shared, experts; /* weights */
    double vocab;           /* weights: the embedding and the output layer */
    double weights;
    double layer_act;       /* the live buffers of the largest layer */
    double a2a_buffers;     /* dispatch and combine receive buffers */
    double activations;
    double grads, optimizer; /* training (set by the scenario's memory fit; 0 here) */
    double total;
} gpu_memory;

/* Fills *out from *shape (pure arithmetic; formulas in gpu.c). */
void gpu_memory_need(const gpu_memory_shape *shape, gpu_memory *out);

#endif
