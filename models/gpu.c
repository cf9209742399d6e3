/*
 * gpu.c - the GPU roofline: presets and the time of the kernels of one layer.
 *
 * One kernel takes launch_ps + max(FLOPs / (peak[dtype] x compute_eff),
 * bytes / (hbm_bw x memory_eff)): it is bound by either its arithmetic or its
 * HBM traffic, never both, and the two overlap perfectly (the roofline
 * model, "Roofline: an insightful visual performance model", CACM 2009).
 * Each term is rounded to the picosecond by sim_time_for_bytes, so round
 * inputs give exact times.
 *
 * Operations, with b = dtype bytes, T = tokens, H = hidden, F = expert ffn,
 * M = matrices, E = experts, S = seq_len; the roofline of the grouped GEMM is
 * taken over its summed FLOPs and bytes:
 *   grouped expert GEMM (one kernel per weight matrix, `matrices` launches):
 *     FLOPs = sum_i 2 t_i H F M
 *     bytes = sum_{i: t_i > 0} (M H F b + t_i M (H + F) b)
 *     (every matrix reads its weights once, and for each token reads its input
 *     row and writes its output row, one of H and one of F elements; an
 *     expert without tokens reads nothing)
 *   attention, three kernels with q = heads x head_dim, kv = kv_heads x head_dim:
 *     QKV projection: FLOPs 2 T H (q + 2kv), bytes (H (q + 2kv) + T (H + q + 2kv)) b
 *     causal core:    FLOPs 2 x 2 T (S / 2) q, bytes T (2q + 2kv) b
 *     out projection: FLOPs 2 T q H,          bytes (q H + T (q + H)) b
 *   gate: FLOPs 2 T H E, bytes (H E + T H) b + 4 T E (FP32 scores), one kernel
 * Presets carry the datasheet dense peaks; sources in docs/hardware.md.
 */
#include "moesim/gpu.h"

#include <math.h>
#include <string.h>

/* Defaults shared by the presets (why each value: docs/hardware.md). */
#define GPU_COMPUTE_EFF 0.70 /* large GEMMs: 68-78% of FP8 peak for DeepGEMM on H800 */
#define GPU_MEMORY_EFF 0.85  /* streaming kernels reach 85-90% of HBM peak */
#define GPU_LAUNCH_PS SIM_US(4)
/* Grouped GEMMs tile the token dimension: Hopper's wgmma works on 64-row
 * tiles per warpgroup and DeepGEMM's grouped kernels use BLOCK_M 64 or 128
 * (deepseek-ai/DeepGEMM); Ampere's CUTLASS kernels likewise 64 or 128. The
 * smaller tile is taken: the curve it gives is the most favourable one. */
#define GPU_GEMM_TILE 64

static const gpu_spec presets[] = {
    {
        .name = "H100-SXM",
        .peak_flops = {[DTYPE_FP32] = 67e12, [DTYPE_BF16] = 989e12,
                       [DTYPE_FP16] = 989e12, [DTYPE_FP8] = 1979e12},
        .hbm_bytes = 80e9,
        .hbm_bw_Bps = 3.35e12,
        .nvlink_bw_Bps = 450e9,
        .sms = 132,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
    {
        /* The export part: H100 silicon and HBM, NVLink cut to 400 GB/s in all
         * (200 each way). NVIDIA prints no H800 datasheet peak; DeepSeek-V3
         * computes its MFU against the H100's 989 TFLOP/s, and so do we. */
        .name = "H800-SXM",
        .peak_flops = {[DTYPE_FP32] = 67e12, [DTYPE_BF16] = 989e12,
                       [DTYPE_FP16] = 989e12, [DTYPE_FP8] = 1979e12},
        .hbm_bytes = 80e9,
        .hbm_bw_Bps = 3.35e12,
        .nvlink_bw_Bps = 200e9,
        .sms = 132,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
    {
        /* H100 silicon with more and faster HBM (NVIDIA H200 datasheet:
         * 141 GB HBM3e, 4.8 TB/s; compute as H100 SXM; NVLink 900 GB/s). */
        .name = "H200-SXM",
        .peak_flops = {[DTYPE_FP32] = 67e12, [DTYPE_BF16] = 989e12,
                       [DTYPE_FP16] = 989e12, [DTYPE_FP8] = 1979e12},
        .hbm_bytes = 141e9,
        .hbm_bw_Bps = 4.8e12,
        .nvlink_bw_Bps = 450e9,
        .sms = 132,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
    {
        /* No FP8 tensor cores: FP8 work runs at the BF16 peak (gpu_op_time). */
        .name = "A100-SXM-80GB",
        .peak_flops = {[DTYPE_FP32] = 19.5e12, [DTYPE_BF16] = 312e12,
                       [DTYPE_FP16] = 312e12, [DTYPE_FP8] = 0},
        .hbm_bytes = 80e9,
        .hbm_bw_Bps = 2.039e12,
        .nvlink_bw_Bps = 300e9,
        .sms = 108,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
    {
        /* NVIDIA HGX B200 datasheet, per GPU (the 8-GPU figures / 8): FP8
         * 4.5 PFLOP/s and BF16 2.25 PFLOP/s dense (9 and 4.5 with 2:4
         * sparsity), FP32 75 TFLOP/s, 180 GB HBM3e at 8 TB/s, NVLink 5 at
         * 1.8 TB/s (900 GB/s each way); 148 SMs (Blackwell whitepaper). */
        .name = "B200-SXM",
        .peak_flops = {[DTYPE_FP32] = 75e12, [DTYPE_BF16] = 2250e12,
                       [DTYPE_FP16] = 2250e12, [DTYPE_FP8] = 4500e12},
        .hbm_bytes = 180e9,
        .hbm_bw_Bps = 8e12,
        .nvlink_bw_Bps = 900e9,
        .sms = 148,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
    {
        /* AMD Instinct MI300X datasheet: BF16/FP16 1,307.4 TFLOP/s and FP8
         * 2,614.9 TFLOP/s dense, FP32 matrix 163.4 TFLOP/s; 192 GB HBM3 at
         * 5.3 TB/s; 7 Infinity Fabric links, 896 GB/s in all (448 each
         * way) to the other 7 GPUs of a platform. `sms` holds its 304
         * compute units. */
        .name = "MI300X",
        .peak_flops = {[DTYPE_FP32] = 163.4e12, [DTYPE_BF16] = 1307.4e12,
                       [DTYPE_FP16] = 1307.4e12, [DTYPE_FP8] = 2614.9e12},
        .hbm_bytes = 192e9,
        .hbm_bw_Bps = 5.3e12,
        .nvlink_bw_Bps = 448e9,
        .sms = 304,
        .compute_eff = GPU_COMPUTE_EFF,
        .memory_eff = GPU_MEMORY_EFF,
        .launch_ps = GPU_LAUNCH_PS,
        .gemm_tile = GPU_GEMM_TILE,
    },
};

#define NPRESETS ((int)(sizeof(presets) / sizeof(presets[0])))

int gpu_preset(const char *name, gpu_spec *out)
{
    for (int i = 0; i < NPRESETS; i++) {
        if (strcmp(name, presets[i].name) == 0) {
            *out = presets[i];
            return 0;
        }
    }
    return -1;
}

const char *gpu_preset_names(void)
{
    /* keep in the order of presets[] */
    return "H100-SXM, H800-SXM, H200-SXM, A100-SXM-80GB, B200-SXM, MI300X";
}

/* The keys are those of a scenario's own GPU group, so the loader can pass
 * e on after adding file and line. Negated comparisons also refuse NaN. */
int gpu_spec_check(const gpu_spec *g, err_t *e)
{
    /* Every dtype falls back to BF16, so BF16 is the one peak that must exist. */
    if (!(g->peak_flops[DTYPE_BF16] > 0))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.peak_flops",
                       "the BF16 peak must be > 0 FLOP/s");
    for (int d = 0; d < DTYPE_COUNT; d++)
        if (!(g->peak_flops[d] >= 0))
            return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.peak_flops",
                           "the %s peak is %g; allowed: >= 0 (0 = unsupported)",
                           dtype_name((dtype_t)d), g->peak_flops[d]);
    if (!(g->hbm_bytes > 0))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.hbm", "%g bytes; allowed: > 0",
                       g->hbm_bytes);
    if (!(g->hbm_bw_Bps > 0))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.hbm_bandwidth",
                       "%g B/s; allowed: > 0", g->hbm_bw_Bps);
    if (!(g->compute_eff > 0 && g->compute_eff <= 1))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.compute_eff",
                       "%g; allowed: > 0 and <= 1", g->compute_eff);
    if (!(g->memory_eff > 0 && g->memory_eff <= 1))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.memory_eff",
                       "%g; allowed: > 0 and <= 1", g->memory_eff);
    if (g->launch_ps < 0)
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.launch",
                       "negative launch overhead; allowed: >= 0");
    if (!(g->gemm_tile >= 0))
        return err_set(e, ERR_INPUT, NULL, 0, "cluster.gpu.gemm_tile",
                       "%g rows; allowed: >= 0 (0: no padding)", g->gemm_tile);
    return 0;
}

/* Times add and multiply saturating at SIM_TIME_MAX: a term that
 * sim_time_for_bytes saturated (989 FLOP/s where 989 TFLOP/s was meant)
 * must stay "beyond the clock", not wrap to a negative time. The caller
 * sees SIM_TIME_MAX and names the key (gpu_*_seconds say which term). */
static sim_time_t sat_mul(sim_time_t a, sim_time_t b)
{
    sim_time_t r;
    return __builtin_mul_overflow(a, b, &r) ? SIM_TIME_MAX : r;
}

/* The peak an operation in dt runs at. */
static double peak_of(const gpu_spec *g, dtype_t dt)
{
    double peak = (dt >= 0 && dt < DTYPE_COUNT) ? g->peak_flops[dt] : 0;
    if (!(peak > 0)) /* unsupported dtype: emulated at the BF16 rate */
        peak = g->peak_flops[DTYPE_BF16];
    return peak;
}

/* The roofline without the launch: shared by every operation below. */
static sim_time_t roofline(const gpu_spec *g, double flops, double bytes, dtype_t dt)
{
    /* Both terms are rounded before the max: rounding is monotone, so this is
     * the rounded max, and each term alone can be checked by hand. */
    sim_time_t compute = sim_time_for_bytes(flops, peak_of(g, dt) * g->compute_eff);
    sim_time_t memory = sim_time_for_bytes(bytes, g->hbm_bw_Bps * g->memory_eff);
    return compute > memory ? compute : memory;
}

/* The same kernels in unrounded, unbounded seconds, summed term by term, for
 * the message of a time beyond the clock: which of compute, HBM traffic and
 * launches dominates. */
typedef struct seconds_acc {
    double total, compute, memory, launch;
} seconds_acc;

static void roofline_s(seconds_acc *a, const gpu_spec *g, double flops, double bytes,
                       dtype_t dt, double launches)
{
    double c = flops / (peak_of(g, dt) * g->compute_eff);
    double m = bytes / (g->hbm_bw_Bps * g->memory_eff);
    double l = launches * ((double)g->launch_ps * 1e-12);
    a->compute += c;
    a->memory += m;
    a->launch += l;
    a->total += l + (c > m ? c : m);
}

static double seconds_of(const seconds_acc *a, gpu_bound *bound)
{
    if (bound)
        *bound = a->launch >= a->compute && a->launch >= a->memory ? GPU_BOUND_LAUNCH
                 : a->compute >= a->memory                          ? GPU_BOUND_COMPUTE
                                                                    : GPU_BOUND_MEMORY;
    return a->total;
}

sim_time_t gpu_op_time(const gpu_spec *g, double flops, double bytes, dtype_t dt)
{
    return sat_add(g->launch_ps, roofline(g, flops, bytes, dt));
}

/* The summed FLOPs and bytes of a grouped GEMM; returns the experts with
 * tokens (0: nothing is launched). */
static int experts_work(const gpu_spec *g, const gpu_ffn_shape *shape, const int64_t *tokens,
                        int n, double *flops_out, double *bytes_out)
{
    /* Doubles throughout: hidden x ffn x tokens overflows 32 bits at
     * DeepSeek-V3 sizes, and the roofline divides anyway. */
    double b = dtype_bytes(shape->dt);
    double hf = (double)shape->hidden * shape->ffn;
    double m = shape->matrices;
    double weight_bytes = m * hf * b;                                  /* per expert */
    double act_bytes = m * ((double)shape->hidden + shape->ffn) * b;  /* per token */
    double flops = 0, bytes = 0;
    int active = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] <= 0) /* the grouped GEMM skips the expert: no weight traffic */
            continue;
        double t = (double)tokens[i];
        /* A partial tile costs a whole one: the efficiency of an expert's
         * GEMM is t / padded(t), low for the few tokens of decode or of a
         * cold expert, near 1 once t spans many tiles. */
        double tp = g->gemm_tile > 0 ? ceil(t / g->gemm_tile) * g->gemm_tile : t;
        flops += 2 * tp * hf * m;
        bytes += weight_bytes + t * act_bytes;
        active++;
    }
    *flops_out = flops;
    *bytes_out = bytes;
    return active;
}

sim_time_t gpu_experts_time(const gpu_spec *g, const gpu_ffn_shape *shape,
                            const int64_t *tokens, int n)
{
    double flops, bytes;
    if (experts_work(g, shape, tokens, n, &flops, &bytes) == 0)
        return 0; /* nothing to run: the kernels are not launched */
    /* One grouped kernel per matrix; the roofline is taken over their sum, as
     * the kernels of one layer are alike in shape and balance. */
    return sat_add(sat_mul(shape->matrices, g->launch_ps), roofline(g, flops, bytes, shape->dt));
}

double gpu_experts_seconds(const gpu_spec *g, const gpu_ffn_shape *shape,
                           const int64_t *tokens, int n, gpu_bound *bound)
{
    seconds_acc a = {0, 0, 0, 0};
    double flops, bytes;
    if (experts_work(g, shape, tokens, n, &flops, &bytes) > 0)
        roofline_s(&a, g, flops, bytes, shape->dt, shape->matrices);
    return seconds_of(&a, bound);
}

/* The three kernels of attention: FLOPs and bytes of each. */
/* Multi-head latent attention (DeepSeek-V2 paper §2.1.2; DeepSeek-V3
 * inference/model.py, class MLA, run without the absorbed-weight trick, as
 * prefill and training run it): the query from a q_lora-rank latent, keys
 * and values from one kv_lora-rank latent plus a shared rotary key of
 * qk_rope, expanded per head to qk_nope + qk_rope (query, key) and v_dim
 * (value). */
void gpu_attention_params(const gpu_attn_shape *s, double *rep, double *split)
{
    double H = s->hidden, h = s->heads;
    if (s->kv_lora <= 0) {
        double q = h * s->head_dim, kv = (double)s->kv_heads * s->head_dim;
        *rep = 0;
        *split = H * (q + 2 * kv) + q * H;
        return;
    }
    double qk = s->qk_nope + s->qk_rope;
    *rep = (s->q_lora > 0 ? H * s->q_lora : 0) + H * (s->kv_lora + s->qk_rope);
    *split = (s->q_lora > 0 ? (double)s->q_lora : H) * h * qk +
             (double)s->kv_lora * h * (s->qk_nope + s->v_dim) + h * s->v_dim * H;
}

static void mla_work(const gpu_attn_shape *s, double T, double flops[3], double bytes[3])
{
    double H = s->hidden, h = s->heads, b = dtype_bytes(s->dt), S = s->seq_len;
    double qk = s->qk_nope + s->qk_rope, v = s->v_dim, rep, split;
    gpu_attention_params(s, &rep, &split);
    double in = rep + split - h * v * H; /* every projection but the output's */
    /* the projections: down to the latents, up to the heads' Q, K, V */
    flops[0] = 2 * T * in;
    bytes[0] = (in + T * (H + s->q_lora + s->kv_lora + s->qk_rope + h * (2 * qk + v))) * b;
    /* causal core: QK^T over qk, PV over v, S/2 keys a token on average */
    flops[1] = 2 * T * (S / 2) * h * (qk + v);
    bytes[1] = T * h * (2 * qk + 2 * v) * b;
    flops[2] = 2 * T * h * v * H;
    bytes[2] = (h * v * H + T * (h * v + H)) * b;
}

static void attention_work(const gpu_attn_shape *shape, int64_t tokens, double flops[3],
                           double bytes[3])
{
    if (shape->kv_lora > 0) {
        mla_work(shape, (double)tokens, flops, bytes);
        return;
    }
    double T = (double)tokens, H = shape->hidden, b = dtype_bytes(shape->dt);
    /* With GQA the K and V projections are kv_heads wide, not heads wide. */
    double q = (double)shape->heads * shape->head_dim;
    double kv = (double)shape->kv_heads * shape->head_dim;

    /* QKV projection: reads its weights and each token's input, writes Q, K, V. */
    flops[0] = 2 * T * H * (q + 2 * kv);
    bytes[0] = (H * (q + 2 * kv) + T * (H + q + 2 * kv)) * b;
    /* Causal core (QK^T then PV), fused as in FlashAttention: a token attends to
     * S/2 keys on average; the score matrix never reaches HBM, so the traffic
     * is Q, K, V in and O out. */
    double S = shape->seq_len;
    flops[1] = 2 * 2 * T * (S / 2) * q;
    bytes[1] = T * (2 * q + 2 * kv) * b;
    /* Output projection: q -> hidden. */
    flops[2] = 2 * T * q * H;
    bytes[2] = (q * H + T * (q + H)) * b;
}

/* The element type of attention kernel i: the causal core (i = 1) of an
 * FP8 model runs in BF16 - Transformer Engine's FP8 recipes cast the
 * linear layers' GEMMs, and DotProductAttention stays in BF16 unless
 * fp8_dot_product_attention is set, which NVIDIA's H100 training recipes
 * do not (Megatron-Bridge perf_recipes/qwen/h100) - the projections in
 * the model's. */
static dtype_t attn_dtype(const gpu_attn_shape *shape, int i)
{
    return i == 1 && shape->dt == DTYPE_FP8 ? DTYPE_BF16 : shape->dt;
}

sim_time_t gpu_attention_time(const gpu_spec *g, const gpu_attn_shape *shape, int64_t tokens)
{
    if (tokens <= 0) /* no tokens on this GPU: no kernel is launched */
        return 0;
    double flops[3], bytes[3];
    attention_work(shape, tokens, flops, bytes);
    sim_time_t t = 0;
    for (int i = 0; i < 3; i++)
        t = sat_add(t, gpu_op_time(g, flops[i], bytes[i], attn_dtype(shape, i)));
    return t;
}

double gpu_attention_seconds(const gpu_spec *g, const gpu_attn_shape *shape, int64_t tokens,
                             gpu_bound *bound)
{
    seconds_acc a = {0, 0, 0, 0};
    if (tokens > 0) {
        double flops[3], bytes[3];
        attention_work(shape, tokens, flops, bytes);
        for (int i = 0; i < 3; i++)
            roofline_s(&a, g, flops[i], bytes[i], attn_dtype(shape, i), 1);
    }
    return seconds_of(&a, bound);
}

/* Training's backward of attention. The input gradient (which = 0): the
 * projections' data gradients (the forward GEMMs' FLOPs and bytes, the
 * weights read again), and the core's backward with 2.5 x the forward's
 * FLOPs (FlashAttention-2, Dao 2023, section 3.2: five matrix multiplies to
 * the forward's two, the scores recomputed from Q and K), reading Q, K, V,
 * O and dO and writing dQ, dK, dV (twice the forward's traffic); with
 * `recompute_core` (selective recomputation) the core's forward once more.
 * The weight gradient (which = 1): the projections' GEMMs once more. */
sim_time_t gpu_attention_grad_time(const gpu_spec *g, const gpu_attn_shape *shape,
                                   int64_t tokens, int which, bool recompute_core)
{
    if (tokens <= 0)
        return 0;
    double flops[3], bytes[3];
    attention_work(shape, tokens, flops, bytes);
    sim_time_t t = sat_add(gpu_op_time(g, flops[0], bytes[0], shape->dt),
                           gpu_op_time(g, flops[2], bytes[2], shape->dt));
    if (which == 1)
        return t;
    dtype_t core = attn_dtype(shape, 1);
    t = sat_add(t, gpu_op_time(g, 2.5 * flops[1], 2 * bytes[1], core));
    return recompute_core ? sat_add(t, gpu_op_time(g, flops[1], bytes[1], core)) : t;
}

/* Adam (Kingma and Ba 2015) over `params` parameters, one fused
 * memory-bound kernel as Megatron-LM's FusedAdam runs it: per parameter
 * it reads the FP32 master weight, both FP32 moments and the gradient
 * (grad_bytes), and writes the master weight, the moments and the
 * model-dtype copy (weight_bytes): 24 + grad_bytes + weight_bytes bytes. */
sim_time_t gpu_optimizer_time(const gpu_spec *g, double params, double grad_bytes,
                              double weight_bytes)
{
    if (params <= 0)
        return 0;
    return gpu_op_time(g, 0, params * (24 + grad_bytes + weight_bytes), DTYPE_FP32);
}

/* The gate's one kernel. Scores are written in FP32: routers take their
 * softmax or sigmoid in FP32; the top-k is fused into the same kernel and
 * its FLOPs are noise. */
static void gate_work(int64_t tokens, int hidden, int experts, dtype_t dt, double *flops,
                      double *bytes)
{
    double T = (double)tokens, H = hidden, E = experts, b = dtype_bytes(dt);
    *flops = 2 * T * H * E;
    *bytes = (H * E + T * H) * b + 4 * T * E;
}

sim_time_t gpu_gate_time(const gpu_spec *g, int64_t tokens, int hidden, int experts,
                         dtype_t dt)
{
    if (tokens <= 0)
        return 0;
    double flops, bytes;
    gate_work(tokens, hidden, experts, dt, &flops, &bytes);
    return gpu_op_time(g, flops, bytes, dt);
}

double gpu_gate_seconds(const gpu_spec *g, int64_t tokens, int hidden, int experts,
                        dtype_t dt, gpu_bound *bound)
{
    seconds_acc a = {0, 0, 0, 0};
    if (tokens > 0) {
        double flops, bytes;
        gate_work(tokens, hidden, experts, dt, &flops, &bytes);
        roofline_s(&a, g, flops, bytes, dt, 1);
    }
    return seconds_of(&a, bound);
}

/* Memory fit, forward passes only: no gradients, optimizer state or KV cache
 * (workload.mode is forward, and a forward batch attends within itself).
 * Embeddings and norms are left out (DeepSeek-V3's 129,280 x 7,168
 * embedding is 0.9 G parameters of 671 G). With b_w the weights' and b the
 * activations' bytes, H hidden, q = heads x head_dim, kv = kv_heads x
 * head_dim, M matrices, F_d and F_e the dense and expert FFN widths:
 *   attention per layer  (H (q + 2kv) + q H) b_w / tp       (as gpu_attention_time)
 *   dense FFN per layer  M H F_d b_w / tp                    (Megatron splits both)
 *   per MoE layer        H E b_w (the gate, replicated)
 *                        + shared x M H F_e b_w / tp
 *                        + slots x M H F_e b_w / etp
 * Activations, one layer at a time (a forward pass frees a layer's buffers
 * before the next; PyTorch's caching allocator reuses them), T tokens:
 *   T b (2H + max((2q + 2kv) / tp, (M - 1) F_d / tp, shared (M - 1) F_e / tp))
 *     the residual stream and the normalised input, plus the widest
 *     intermediate: Q, K, V and the attention output, or the FFN's gate and
 *     up projections (the activation product overwrites one of them);
 *   + T_moe k (M - 1) F_e b  the routed experts' intermediates (with etp > 1
 *     each GPU sees etp times the rows at 1/etp of the width: the same);
 *   + T_moe k etp (dispatch row + combine row)  the receive buffers of the
 *     two all-to-alls at the balanced average (DeepEP sizes them for the
 *     worst case; a skewed batch needs more). */
void gpu_memory_need(const gpu_memory_shape *sh, gpu_memory *out)
{
    double H = sh->attn.hidden, bw = dtype_bytes(sh->weight_dt), b = dtype_bytes(sh->act_dt);
    double q = (double)sh->attn.heads * sh->attn.head_dim;
    double kv = (double)sh->attn.kv_heads * sh->attn.head_dim;
    if (sh->attn.kv_lora > 0) { /* MLA: Q and K of qk_nope + qk_rope, V and O of v_dim */
        q = (double)sh->attn.heads * (sh->attn.qk_nope + sh->attn.qk_rope);
        kv = (double)sh->attn.heads * sh->attn.v_dim;
    }
    double M = sh->matrices, tp = sh->tp, etp = sh->etp;
    int dense = sh->layers - sh->moe_layers;
    memset(out, 0, sizeof(*out));
    double rep, split;
    gpu_attention_params(&sh->attn, &rep, &split);
    out->attention = sh->layers * (rep + split / tp) * bw;
    out->dense_ffn = dense * M * H * sh->dense_ffn * bw / tp;
    out->gate = sh->moe_layers * H * sh->experts * bw;
    double expert = M * H * sh->expert_ffn * bw; /* one whole expert */
    out->shared = sh->moe_layers * (double)sh->shared_experts * expert / tp;
    out->experts = sh->moe_layers * (double)sh->slots * expert / etp;
    out->vocab = sh->vocab_rows * H * bw / tp; /* vocabulary-parallel, as Megatron splits it */
    out->weights = out->attention + out->dense_ffn + out->gate + out->shared + out->experts +
                   out->vocab;

    double wide = (2 * q + 2 * kv) / tp;
    if (dense > 0 && (M - 1) * sh->dense_ffn / tp > wide)
        wide = (M - 1) * sh->dense_ffn / tp;
    if (sh->moe_layers > 0 && sh->shared_experts * (M - 1) * sh->expert_ffn / tp > wide)
        wide = sh->shared_experts * (M - 1) * sh->expert_ffn / tp;
    double T = (double)sh->tokens, Tk = (double)sh->moe_tokens * sh->top_k;
    out->layer_act = T * b * (2 * H + wide);
    if (sh->moe_layers > 0) {
        out->layer_act += Tk * (M - 1) * sh->expert_ffn * b;
        out->a2a_buffers = Tk * etp * (sh->dispatch_row + sh->combine_row);
    }
    out->activations = out->layer_act + out->a2a_buffers;
    out->total = out->weights + out->activations;
}
