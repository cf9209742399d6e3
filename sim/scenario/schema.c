/*
 * schema.c - the scenario schema: one row per key (path, type and unit,
 * bounds, default, help, the field it fills), the defaults computed from
 * rows above, and the checks across keys. The engine (scenario.c) reads the
 * rows in this order, so a default, bound or check reads only rows above
 * its own.
 */
#include "loader.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "moesim/collective.h"
#include "moesim/units.h"

static const char *const E_ACTIVATION[] = {"swiglu", "gelu", NULL};
static const char *const E_ATTENTION[] = {"gqa", "mla", NULL};
static const int C_ACTIVATION[] = {3, 2}; /* weight matrices per FFN */
/* an alias after the model's names: Switch is softmax_topk with top_k 1 */
static const char *const E_ROUTER_ALIAS[] = {"switch", NULL};
static const int C_ROUTER_ALIAS[] = {ROUTER_SOFTMAX_TOPK};
/* the load-driven strategies a dynamic placement recomputes */
static const char *const E_REBALANCE[] = {"balanced", "eplb", "topology_aware", NULL};
static const int C_REBALANCE[] = {PLACEMENT_BALANCED, PLACEMENT_EPLB, PLACEMENT_TOPOLOGY_AWARE};
static const char *const E_MODE[] = {"forward", "training", NULL};
static const char *const NA_MODE[] = {"inference", NULL};

/* The models' name tables (one per enum, owned by the model), as rows take
 * them: the value as an int, its name. */
#define NAMES_OF(fn, type)                                                              \
    static const char *fn##_of(int v) { return fn((type)v); }
NAMES_OF(dtype_name, dtype_t)
NAMES_OF(router_kind_name, router_kind)
NAMES_OF(capacity_scope_name, capacity_scope)
NAMES_OF(capacity_overflow_name, capacity_overflow)
NAMES_OF(capacity_priority_name, capacity_priority)
NAMES_OF(topo_intra_name, topo_intra)
NAMES_OF(topo_fabric_name, topo_fabric)
NAMES_OF(topo_inter_name, topo_inter)
NAMES_OF(placement_strategy_name, placement_strategy)
NAMES_OF(source_kind_name, source_kind)
NAMES_OF(source_dist_name, source_dist)
NAMES_OF(net_model_name, net_model)
NAMES_OF(coll_a2a_name, coll_a2a_algo)
NAMES_OF(sched_overlap_name, sched_overlap)
NAMES_OF(sched_pipe_name, sched_pipe)
NAMES_OF(sched_recompute_name, sched_recompute)
#undef NAMES_OF
/* An enum row's model table: .names = name function, .count = X_COUNT. */
#define MODEL_ENUM(fn, n) .names = fn##_of, .count = (n)

/* Computed defaults (each reads only rows above its own). */
static void def_dense_ffn(const scenario *s, const key_row *r, value *v);
static void def_heads(const scenario *s, const key_row *r, value *v);
static void def_kv_heads(const scenario *s, const key_row *r, value *v);
static void def_head_dim(const scenario *s, const key_row *r, value *v);
static void def_normalize(const scenario *s, const key_row *r, value *v);
static void def_keep(const scenario *s, const key_row *r, value *v);
static void def_intra_bw(const scenario *s, const key_row *r, value *v);
static void def_inter_lat(const scenario *s, const key_row *r, value *v);
static void def_model_dtype(const scenario *s, const key_row *r, value *v);
static void def_nics(const scenario *s, const key_row *r, value *v);
static void def_dp(const scenario *s, const key_row *r, value *v);
static void def_ep(const scenario *s, const key_row *r, value *v);
static void def_rebalance(const scenario *s, const key_row *r, value *v);
static void def_warmup(const scenario *s, const key_row *r, value *v);
static void def_host_memory(const scenario *s, const key_row *r, value *v);

/* Checks across keys. */
static int check_first_dense(loader *L, const key_row *r, const value *v, err_t *e);
static int check_moe_every(loader *L, const key_row *r, const value *v, err_t *e);
static int check_kv_heads(loader *L, const key_row *r, const value *v, err_t *e);
static int check_router_kind(loader *L, const key_row *r, const value *v, err_t *e);
static int check_groups(loader *L, const key_row *r, const value *v, err_t *e);
static int check_capacity(loader *L, const key_row *r, const value *v, err_t *e);
static int check_gpu(loader *L, const key_row *r, const value *v, err_t *e);
static int check_dp(loader *L, const key_row *r, const value *v, err_t *e);
static int check_ep(loader *L, const key_row *r, const value *v, err_t *e);
static int check_tp(loader *L, const key_row *r, const value *v, err_t *e);
static int check_etp(loader *L, const key_row *r, const value *v, err_t *e);
static int check_tokens(loader *L, const key_row *r, const value *v, err_t *e);
static int check_world(loader *L, const key_row *r, const value *v, err_t *e);
static int check_order(loader *L, const key_row *r, const value *v, err_t *e);
static int check_logits(loader *L, const key_row *r, const value *v, err_t *e);
static int check_trace_file(loader *L, const key_row *r, const value *v, err_t *e);
static int check_redundant(loader *L, const key_row *r, const value *v, err_t *e);
static int check_rebalance(loader *L, const key_row *r, const value *v, err_t *e);
static int check_warmup(loader *L, const key_row *r, const value *v, err_t *e);
static int check_pp(loader *L, const key_row *r, const value *v, err_t *e);
static int check_intra_bw(loader *L, const key_row *r, const value *v, err_t *e);
static int check_pp_layers(loader *L, const key_row *r, const value *v, err_t *e);
static int check_micro_batches(loader *L, const key_row *r, const value *v, err_t *e);
static int check_overlap(loader *L, const key_row *r, const value *v, err_t *e);
static int check_schedule(loader *L, const key_row *r, const value *v, err_t *e);
static int check_vpp(loader *L, const key_row *r, const value *v, err_t *e);
static int check_global_batch(loader *L, const key_row *r, const value *v, err_t *e);
static int check_force_balance(loader *L, const key_row *r, const value *v, err_t *e);
static int check_training_only(loader *L, const key_row *r, const value *v, err_t *e);
static int check_overlap_a2a(loader *L, const key_row *r, const value *v, err_t *e);
static int check_comm_sms(loader *L, const key_row *r, const value *v, err_t *e);
static void def_tokens(const scenario *s, const key_row *r, value *v);
static bool training(const loader *L);
static int derived_in_training(loader *L, const key_row *r, const value *v, err_t *e);
static void def_batches(const scenario *s, const key_row *r, value *v);
static void def_micro_batches(const scenario *s, const key_row *r, value *v);
static void def_global_batch(const scenario *s, const key_row *r, value *v);

/* The schema. Order matters: a row's default, bound or check reads rows above. */
const key_row scenario_keys[] = {
    {.path = "name", .type = KT_STRING, .def = "\"unnamed\"", FIELD(name),
     .help = "scenario name, shown in reports"},
    {.path = "seed", .type = KT_INT64, .def = "1", .min = 0, .flags = F_NO_MAX, FIELD(seed),
     .help = "master seed of every random stream"},

    {.path = "model.layers", .type = KT_INT, .min = 1, .max = 1000, FIELD(model.layers),
     .help = "transformer layers"},
    {.path = "model.first_dense", .type = KT_INT, .def = "0", .min = 0,
     .max_key = "model.layers", .check = check_first_dense, FIELD(model.first_dense),
     .help = "the first N layers are dense (DeepSeek-V3: 3)"},
    {.path = "model.moe_every", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.layers", .check = check_moe_every, FIELD(model.moe_every),
     .help = "after the dense layers, layer l (0-based) is MoE when l - first_dense + 1 "
             "is a multiple of this"},
    {.path = "model.hidden", .type = KT_INT, .min = 1, .max = 1048576, FIELD(model.hidden),
     .help = "model dimension"},
    {.path = "model.expert_ffn", .type = KT_INT, .min = 1, .max = 4194304,
     FIELD(model.expert_ffn), .help = "intermediate size of one expert's FFN"},
    {.path = "model.dense_ffn", .type = KT_INT, .def = "4 x model.hidden",
     .deflt = def_dense_ffn, .min = 1, .max = 16777216, FIELD(model.dense_ffn),
     .help = "intermediate size of the FFN of dense layers"},
    {.path = "model.experts", .type = KT_INT, .min = 1, .max = 65536, FIELD(model.experts),
     .help = "routed experts per MoE layer"},
    {.path = "model.top_k", .type = KT_INT, .min = 1, .max_key = "model.experts",
     FIELD(model.top_k), .help = "routed experts each token goes to"},
    {.path = "model.shared_experts", .type = KT_INT, .def = "0", .min = 0, .max = 64,
     FIELD(model.shared_experts), .help = "experts every token visits, run where it is"},
    {.path = "model.heads", .type = KT_INT, .def = "max(1, model.hidden / 128)",
     .deflt = def_heads, .min = 1, .max = 65536, FIELD(model.heads),
     .help = "attention heads"},
    {.path = "model.kv_heads", .type = KT_INT, .def = "model.heads", .deflt = def_kv_heads,
     .min = 1, .max_key = "model.heads", .check = check_kv_heads, FIELD(model.kv_heads),
     .help = "key/value heads (grouped-query attention when fewer than heads)"},
    {.path = "model.head_dim", .type = KT_INT, .def = "model.hidden / model.heads",
     .deflt = def_head_dim, .min = 1, .max = 65536, FIELD(model.head_dim),
     .help = "dimension of one attention head"},
    {.path = "model.vocab", .type = KT_INT, .def = "0", .min = 0, .max = 16777216,
     FIELD(model.vocab),
     .help = "vocabulary: the embedding (first pipeline stage) and the output layer (last "
             "stage, its GEMM after the last layer), both split over tp; 0: neither counted"},
    {.path = "model.attention", .type = KT_ENUM, .def = "\"gqa\"", .vals = E_ATTENTION,
     FIELD(model.attention),
     .help = "gqa: grouped-query attention (multi-head when kv_heads = heads); mla: "
             "DeepSeek-V2/V3's multi-head latent attention (the five keys below)"},
    {.path = "model.q_lora_rank", .type = KT_INT, .def = "1536", .min = 0, .max = 1048576,
     FIELD(model.q_lora_rank),
     .help = "mla: rank of the query's latent (0: the query from the hidden state); "
             "default DeepSeek-V3's (inference/configs/config_671B.json)"},
    {.path = "model.kv_lora_rank", .type = KT_INT, .def = "512", .min = 1, .max = 1048576,
     FIELD(model.kv_lora_rank), .help = "mla: rank of the keys' and values' latent"},
    {.path = "model.qk_nope_head_dim", .type = KT_INT, .def = "128", .min = 1, .max = 65536,
     FIELD(model.qk_nope_head_dim), .help = "mla: query/key dimension per head, no rotary"},
    {.path = "model.qk_rope_head_dim", .type = KT_INT, .def = "64", .min = 0, .max = 65536,
     FIELD(model.qk_rope_head_dim),
     .help = "mla: query/key dimension per head with rotary embedding (the key's shared)"},
    {.path = "model.v_head_dim", .type = KT_INT, .def = "128", .min = 1, .max = 65536,
     FIELD(model.v_head_dim), .help = "mla: value dimension per head"},
    {.path = "model.mtp_layers", .type = KT_INT, .def = "0", .min = 0, .max = 16,
     FIELD(model.mtp_layers),
     .help = "multi-token prediction modules after the last layer, on the last stage "
             "(DeepSeek-V3: 1), each a layer like the last plus its own output layer"},
    {.path = "model.activation", .type = KT_ENUM, .def = "\"swiglu\"", .vals = E_ACTIVATION,
     .codes = C_ACTIVATION, FIELD(model.ffn_matrices),
     .help = "FFN form: swiglu (3 weight matrices) or gelu (2)"},
    {.path = "model.dtype", .type = KT_ENUM, .def = "\"bf16\"", MODEL_ENUM(dtype_name, DTYPE_COUNT),
     FIELD(model.dtype), .help = "element type of weights and activations"},
    {.path = "model.weight_dtype", .type = KT_ENUM, .def = "model.dtype",
     .deflt = def_model_dtype, MODEL_ENUM(dtype_name, DTYPE_COUNT), FIELD(model.weight_dtype),
     .help = "element type of the stored weights, for the memory fit and the bytes a "
             "re-placement copies (DeepSeek-V3 ships FP8 weights); compute runs in "
             "model.dtype"},

    {.path = "model.router.kind", .type = KT_ENUM, .def = "\"softmax_topk\"",
     MODEL_ENUM(router_kind_name, ROUTER_KIND_COUNT),
     .vals = E_ROUTER_ALIAS, .codes = C_ROUTER_ALIAS, .check = check_router_kind,
     FIELD(model.router.kind),
     .help = "gating (docs/routing.md): softmax_topk, topk_softmax (Mixtral), sigmoid_bias "
             "(DeepSeek-V3), noisy_topk, expert_choice, hash; switch is softmax_topk with "
             "top_k 1"},
    {.path = "model.router.normalize", .type = KT_BOOL, .def = "true if model.top_k > 1",
     .deflt = def_normalize, FIELD(model.router.normalize),
     .help = "renormalise the k chosen gate weights to sum to 1"},
    {.path = "model.router.bias_update_speed", .type = KT_FLOAT, .def = "0.001", .min = 0,
     .max = 10, FIELD(model.router.bias_update_speed),
     .help = "sigmoid_bias: step of the selection bias toward balance after each batch "
             "(DeepSeek-V3: 0.001)"},
    {.path = "model.router.noise_std", .type = KT_FLOAT, .def = "1.0", .min = 0, .max = 100,
     FIELD(model.router.noise_std),
     .help = "noisy_topk: std. dev. of the Gaussian noise on the logits"},
    {.path = "model.router.capacity_factor", .type = KT_FLOAT, .def = "1.25", .min = 0,
     .max = 64, .flags = F_MIN_OPEN, FIELD(model.capacity.factor),
     .help = "capacity = ceil(tokens x top_k / experts x this); ignored when dropless"},
    {.path = "model.router.capacity_scope", .type = KT_ENUM, .def = "\"rank\"",
     MODEL_ENUM(capacity_scope_name, CAPACITY_SCOPE_COUNT), FIELD(model.capacity.scope),
     .help = "tokens that share one capacity: those of a source rank, or the whole batch"},
    {.path = "model.router.overflow", .type = KT_ENUM, .def = "\"drop\"",
     MODEL_ENUM(capacity_overflow_name, CAPACITY_OVERFLOW_COUNT), FIELD(model.capacity.overflow),
     .help = "an assignment beyond capacity: drop; reroute to the next-best expert with room; "
             "dropless (no limit); adaptive (drop against a capacity from recent load)"},
    {.path = "model.router.priority", .type = KT_ENUM, .def = "\"order\"",
     MODEL_ENUM(capacity_priority_name, CAPACITY_PRIORITY_COUNT), FIELD(model.capacity.priority),
     .help = "which assignments win a full expert: arrival order, or higher router weight"},
    {.path = "model.router.min_capacity", .type = KT_INT64, .def = "0", .min = 0,
     .flags = F_NO_MAX, FIELD(model.capacity.min_capacity),
     .help = "lower bound on an expert's capacity, in tokens"},
    {.path = "model.router.pad_to_capacity", .type = KT_BOOL, .def = "false",
     FIELD(model.capacity.pad_to_capacity),
     .help = "dispatch buffers and expert GEMMs padded to capacity (GShard/Tutel kernels)"},
    {.path = "model.router.margin", .type = KT_FLOAT, .def = "1.25", .min = 0, .max = 64,
     .flags = F_MIN_OPEN, FIELD(model.capacity.margin),
     .help = "adaptive: capacity = this x the expert's average recent load"},
    {.path = "model.router.ema", .type = KT_FLOAT, .def = "0.3", .min = 0, .max = 1,
     .flags = F_MIN_OPEN, FIELD(model.capacity.ema),
     .help = "adaptive: weight of the newest batch in the load average"},
    {.path = "model.router.min_factor", .type = KT_FLOAT, .def = "0.5", .min = 0, .max = 64,
     .flags = F_MIN_OPEN, FIELD(model.capacity.min_factor),
     .help = "adaptive: capacity at least this x the uniform share k x tokens / experts"},
    {.path = "model.router.max_factor", .type = KT_FLOAT, .def = "4.0", .min = 0, .max = 64,
     .flags = F_MIN_OPEN, .check = check_capacity, FIELD(model.capacity.max_factor),
     .help = "adaptive: capacity at most this x the uniform share (>= min_factor)"},
    {.path = "model.router.force_balance", .type = KT_BOOL, .def = "false",
     .check = check_force_balance, FIELD(model.force_balance),
     .help = "spread tokens evenly over the experts instead of routing them (token t's "
             "j-th choice is expert (t + j x experts / top_k) mod experts), as published "
             "training benchmarks force balance; token-choice routers only"},
    {.path = "model.router.groups", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.experts", FIELD(model.router.groups),
     .help = "expert groups of group-limited routing (1: off)"},
    {.path = "model.router.topk_groups", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.router.groups", .check = check_groups, FIELD(model.router.topk_groups),
     .help = "groups a token may use (1: off)"},

    {.path = "cluster.system", .type = KT_STRING, .def = "\"\"", FIELD(cluster.system),
     .help = "a system preset (\"DGX-H100\", \"HGX-H800\", \"DGX-A100\") whose GPU, node size "
             "and links fill in the cluster keys the scenario leaves out"},
    {.path = "cluster.nodes", .type = KT_INT, .def = "1", .min = 1, .max = TOPO_MAX_GPUS,
     FIELD(cluster.topo.nodes), .help = "nodes (machines)"},
    {.path = "cluster.gpus_per_node", .type = KT_INT, .def = "8", .min = 1, .max = 64,
     .check = check_world, FIELD(cluster.topo.gpus_per_node),
     .help = "GPUs in each node; cluster.nodes x this is at most 16,384 GPUs (the "
             "topology's route table holds a route per GPU pair)"},
    {.path = "cluster.gpu.preset", .type = KT_STRING, .def = "\"H100-SXM\"",
     FIELD(cluster.gpu.name),
     .help = "the preset the overrides below apply to, when cluster.gpu is a group"},
    {.path = "cluster.gpu", .type = KT_GPU, .def = "\"H100-SXM\"", .check = check_gpu,
     FIELD(cluster.gpu.name),
     .help = "GPU: a preset name, or a group of a preset and overrides of its figures"},
    {.path = "cluster.gpu.bf16", .type = KT_FLOPS, .def = "the preset's", .deflt = def_keep,
     .min = 0, .flags = F_MIN_OPEN, FIELD(cluster.gpu.peak_flops[DTYPE_BF16]),
     .help = "dense BF16 peak"},
    {.path = "cluster.gpu.fp16", .type = KT_FLOPS, .def = "the preset's", .deflt = def_keep,
     FIELD(cluster.gpu.peak_flops[DTYPE_FP16]), .help = "dense FP16 peak (0: unsupported)"},
    {.path = "cluster.gpu.fp8", .type = KT_FLOPS, .def = "the preset's", .deflt = def_keep,
     FIELD(cluster.gpu.peak_flops[DTYPE_FP8]), .help = "dense FP8 peak (0: unsupported)"},
    {.path = "cluster.gpu.fp32", .type = KT_FLOPS, .def = "the preset's", .deflt = def_keep,
     FIELD(cluster.gpu.peak_flops[DTYPE_FP32]), .help = "dense FP32 peak (0: unsupported)"},
    {.path = "cluster.gpu.hbm", .type = KT_SIZE, .def = "the preset's", .deflt = def_keep,
     .flags = F_MIN_OPEN, FIELD(cluster.gpu.hbm_bytes), .help = "HBM capacity"},
    {.path = "cluster.gpu.hbm_bandwidth", .type = KT_BANDWIDTH, .def = "the preset's",
     .deflt = def_keep, .flags = F_MIN_OPEN, FIELD(cluster.gpu.hbm_bw_Bps),
     .help = "HBM bandwidth"},
    {.path = "cluster.gpu.nvlink_bandwidth", .type = KT_BANDWIDTH, .def = "the preset's",
     .deflt = def_keep, .flags = F_MIN_OPEN, FIELD(cluster.gpu.nvlink_bw_Bps),
     .help = "NVLink bandwidth per GPU, per direction"},
    {.path = "cluster.gpu.compute_efficiency", .type = KT_FLOAT, .def = "the preset's",
     .deflt = def_keep, .min = 0, .max = 1, .flags = F_MIN_OPEN,
     FIELD(cluster.gpu.compute_eff), .help = "achievable fraction of peak FLOP/s"},
    {.path = "cluster.gpu.memory_efficiency", .type = KT_FLOAT, .def = "the preset's",
     .deflt = def_keep, .min = 0, .max = 1, .flags = F_MIN_OPEN,
     FIELD(cluster.gpu.memory_eff), .help = "achievable fraction of HBM bandwidth"},
    {.path = "cluster.gpu.launch", .type = KT_TIME, .def = "the preset's", .deflt = def_keep,
     FIELD(cluster.gpu.launch_ps), .help = "launch overhead of one kernel"},
    {.path = "cluster.gpu.gemm_tile", .type = KT_FLOAT, .def = "the preset's",
     .deflt = def_keep, .min = 0, .max = 4096, FIELD(cluster.gpu.gemm_tile),
     .help = "rows of a grouped-GEMM tile; an expert's tokens are padded to a multiple "
             "(0: none)"},
    {.path = "cluster.check_memory", .type = KT_BOOL, .def = "true",
     FIELD(cluster.check_memory),
     .help = "refuse a scenario whose weights and activations do not fit a GPU's HBM "
             "(docs/hardware.md); false only for what-if studies"},
    {.path = "cluster.intra.kind", .type = KT_ENUM, .def = "\"nvswitch\"",
     MODEL_ENUM(topo_intra_name, TOPO_INTRA_COUNT),
     FIELD(cluster.topo.intra),
     .help = "links inside a node: nvswitch (per-GPU links to a switch), pcie (PCIe "
             "switches under the CPU root), nvlink_mesh (a direct link per GPU pair, "
             "bandwidth split over the peers)"},
    {.path = "cluster.intra.gpus_per_switch", .type = KT_INT, .def = "2", .min = 1, .max = 64,
     FIELD(cluster.topo.gpus_per_switch), .help = "pcie: GPUs under one PCIe switch"},
    {.path = "cluster.intra.bandwidth", .type = KT_BANDWIDTH,
     .def = "cluster.gpu's NVLink bandwidth", .deflt = def_intra_bw, .flags = F_MIN_OPEN,
     .check = check_intra_bw, FIELD(cluster.topo.intra_bw_Bps),
     .help = "per GPU, per direction; NVLink (nvswitch, nvlink_mesh) at most the GPU's "
             "port (cluster.gpu.nvlink_bandwidth)"},
    {.path = "cluster.intra.latency", .type = KT_TIME, .def = "\"3.33 us\"",
     FIELD(cluster.topo.intra_lat_ps), .help = "latency of one transfer inside a node"},
    {.path = "cluster.intra.efficiency", .type = KT_FLOAT, .def = "0.66", .min = 0, .max = 1,
     .flags = F_MIN_OPEN, FIELD(cluster.topo.intra_eff),
     .help = "achievable fraction of the intra-node bandwidth (calibrated: docs/network.md)"},
    {.path = "cluster.inter.kind", .type = KT_ENUM, .def = "\"ib\"",
     MODEL_ENUM(topo_inter_name, TOPO_INTER_COUNT),
     FIELD(cluster.inter_kind), .help = "fabric between nodes: InfiniBand or RoCE"},
    {.path = "cluster.inter.bandwidth", .type = KT_BANDWIDTH, .def = "\"400 Gb/s\"",
     .flags = F_MIN_OPEN, FIELD(cluster.topo.inter_bw_Bps), .help = "per NIC, per direction"},
    {.path = "cluster.inter.latency", .type = KT_TIME,
     .def = "\"2.8 us\" (ib), \"3.6 us\" (roce)", .deflt = def_inter_lat,
     FIELD(cluster.topo.inter_lat_ps), .help = "latency of one transfer between nodes"},
    {.path = "cluster.inter.efficiency", .type = KT_FLOAT, .def = "0.92", .min = 0, .max = 1,
     .flags = F_MIN_OPEN, FIELD(cluster.topo.inter_eff),
     .help = "achievable fraction of the NIC bandwidth (calibrated: docs/network.md)"},
    {.path = "cluster.inter.nics_per_node", .type = KT_INT, .def = "cluster.gpus_per_node",
     .deflt = def_nics, .min = 1, .max_key = "cluster.gpus_per_node",
     FIELD(cluster.topo.nics_per_node),
     .help = "NICs per node; fewer than GPUs: neighbouring GPUs share one"},
    {.path = "cluster.inter.fabric", .type = KT_ENUM, .def = "\"single_switch\"",
     MODEL_ENUM(topo_fabric_name, TOPO_FABRIC_COUNT), FIELD(cluster.topo.fabric),
     .help = "single_switch (non-blocking), fat_tree (leaves of nodes_per_leaf nodes), "
             "rail_optimized (NIC i of every node on leaf i); spines above the leaves"},
    {.path = "cluster.inter.oversubscription", .type = KT_FLOAT, .def = "1.0", .min = 1,
     .max = 64, FIELD(cluster.topo.oversubscription),
     .help = "fat_tree/rail: a leaf's NIC bandwidth over its uplink bandwidth"},
    {.path = "cluster.inter.nodes_per_leaf", .type = KT_INT, .def = "16", .min = 1,
     .max = 65536, FIELD(cluster.topo.nodes_per_leaf), .help = "fat_tree: nodes under one leaf"},
    {.path = "cluster.inter.spines", .type = KT_INT, .def = "4", .min = 1, .max = 256,
     FIELD(cluster.topo.spines),
     .help = "spine switches: equal-cost paths between leaves (deterministic ECMP)"},
    {.path = "cluster.inter.spine_latency", .type = KT_TIME, .def = "\"0.9 us\"",
     FIELD(cluster.topo.spine_lat_ps),
     .help = "extra latency across leaves (ISCA 2025 Table 5: IB 3.7 us vs 2.8 us)"},

    {.path = "parallel.tp", .type = KT_INT, .def = "1", .min = 1, .max = 1024,
     .check = check_tp, FIELD(parallel.tp),
     .help = "tensor-parallel degree of attention and dense FFNs (divides model.heads, "
             "model.kv_heads, model.dense_ffn and model.expert_ffn when there are shared "
             "experts); MoE layers dispatch 1/tp of a rank's tokens from each TP rank"},
    {.path = "parallel.pp", .type = KT_INT, .def = "1", .min = 1, .max = SCENARIO_MAX_STAGES,
     .check = check_pp, FIELD(parallel.pp),
     .help = "pipeline-parallel degree: the layers split into pp stages, each on "
             "GPUs / pp GPUs, a batch's micro-batches flowing through them"},
    {.path = "parallel.pp_layers", .type = KT_LIST, .def = "model.layers / pp each",
     .deflt = def_keep, .check = check_pp_layers,
     .help = "layers of each pipeline stage, first stage first (pp entries summing to "
             "model.layers); without it pp must divide model.layers"},
    {.path = "parallel.schedule", .type = KT_ENUM, .def = "\"1f1b\"",
     MODEL_ENUM(sched_pipe_name, SCHED_PIPE_COUNT), .check = check_schedule,
     FIELD(parallel.schedule),
     .help = "training's pipeline schedule: gpipe, 1f1b, interleaved (parallel.vpp chunks "
             "per stage), dualpipe (DeepSeek-V3's bidirectional schedule; even pp)"},
    {.path = "parallel.vpp", .type = KT_INT, .def = "1", .min = 1, .max = 64,
     .check = check_vpp, FIELD(parallel.vpp),
     .help = "interleaved: model chunks per stage (>= 2; pp x vpp divides model.layers); "
             "1 for every other schedule"},
    {.path = "parallel.etp", .type = KT_INT, .def = "1", .min = 1, .max = 1024,
     .check = check_etp, FIELD(parallel.etp),
     .help = "tensor-parallel degree inside an expert (divides model.expert_ffn; "
             "parallel.ep x etp divides parallel.dp x parallel.tp)"},
    {.path = "parallel.dp", .type = KT_INT, .def = "GPUs / (tp x pp)", .deflt = def_dp,
     .min = 1, .max = TOPO_MAX_GPUS, .check = check_dp, FIELD(parallel.dp),
     .help = "data-parallel degree; dp x tp x pp = cluster.nodes x cluster.gpus_per_node"},
    {.path = "parallel.ep", .type = KT_INT, .def = "parallel.dp", .deflt = def_ep, .min = 1,
     .max = TOPO_MAX_GPUS, .check = check_ep, FIELD(parallel.ep),
     .help = "expert-parallel degree: divides model.experts, and parallel.ep x parallel.etp "
             "divides parallel.dp x parallel.tp"},
    {.path = "parallel.order", .type = KT_STRING, .def = "\"tp-ep-dp-pp\"",
     .check = check_order, FIELD(parallel.order),
     .help = "how ranks are numbered, fastest-varying dimension first"},

    {.path = "placement.strategy", .type = KT_ENUM, .def = "\"contiguous\"",
     MODEL_ENUM(placement_strategy_name, PLACEMENT_STRATEGY_COUNT), FIELD(placement.strategy),
     .help = "which experts live on which EP rank: contiguous blocks, round_robin, random, "
             "balanced (LPT by warm-up load), eplb (DeepSeek's EPLB, with replicas), "
             "topology_aware (co-chosen experts in one node), dynamic (re-placed during the "
             "run): docs/placement.md"},
    {.path = "placement.redundant", .type = KT_INT, .def = "0", .min = 0, .max = 65536,
     .check = check_redundant, FIELD(placement.redundant),
     .help = "eplb: extra expert slots per MoE layer, filled with replicas of hot experts; "
             "model.experts + redundant must be a multiple of parallel.ep"},
    {.path = "placement.rebalance_strategy", .type = KT_ENUM,
     .def = "\"eplb\" if placement.redundant > 0, else \"balanced\"", .deflt = def_rebalance,
     .vals = E_REBALANCE, .codes = C_REBALANCE, .check = check_rebalance,
     FIELD(placement.rebalance),
     .help = "dynamic: the strategy recomputed from observed loads"},
    {.path = "placement.warmup_batches", .type = KT_INT,
     .def = "4 for balanced, eplb, topology_aware; else 0", .deflt = def_warmup, .min = 0,
     .max = 100000, .check = check_warmup, FIELD(placement.warmup_batches),
     .help = "batches routed (untimed, on a token stream of their own) to measure the "
             "expert loads and co-activations a load-driven strategy places by"},
    {.path = "placement.rebalance_every", .type = KT_INT, .def = "8", .min = 1,
     .max = 1000000000, FIELD(placement.rebalance_every),
     .help = "dynamic: re-place after every this many batches"},
    {.path = "placement.load_ema", .type = KT_FLOAT, .def = "0.25", .min = 0, .max = 1,
     .flags = F_MIN_OPEN, FIELD(placement.load_ema),
     .help = "dynamic: weight of the newest batch in the moving average of expert loads"},
    {.path = "placement.rebalance_min_gain", .type = KT_FLOAT, .def = "0", .min = 0, .max = 1,
     FIELD(placement.rebalance_min_gain),
     .help = "dynamic: re-place a layer only if that lowers its rank-load max/mean (by the "
             "moving average) by at least this fraction; 0: every layer, every time"},

    {.path = "workload.mode", .type = KT_ENUM, .def = "\"forward\"", .vals = E_MODE,
     .na = NA_MODE, FIELD(workload.mode),
     .help = "what is run: forward passes, or training steps (forward, backward, "
             "gradient synchronisation, optimizer: docs/training.md)"},
    {.path = "workload.seq_len", .type = KT_INT, .def = "4096", .min = 1, .max = 16777216,
     FIELD(workload.seq_len),
     .help = "tokens per sequence: attention context and the synthetic source's sequences"},
    {.path = "workload.micro_batch", .type = KT_INT, .def = "1", .min = 1, .max = 65536,
     .check = check_training_only, FIELD(workload.micro_batch),
     .help = "training: sequences per micro-batch on each data-parallel replica"},
    {.path = "workload.global_batch", .type = KT_INT, .def = "parallel.dp x micro_batch",
     .deflt = def_global_batch, .min = 1, .max = 16777216, .check = check_global_batch,
     FIELD(workload.global_batch),
     .help = "training: sequences per step over all replicas; a multiple of micro_batch x "
             "parallel.dp (the quotient is the gradient accumulation: micro-batches per step)"},
    {.path = "workload.tokens_per_rank", .type = KT_INT,
     .def = "4096; training: global_batch / parallel.dp x seq_len", .deflt = def_tokens,
     .min = 1, .max = 16777216, .check = check_tokens, FIELD(workload.tokens_per_rank),
     .help = "tokens on every data-parallel rank per batch (training: per step, from "
             "workload.global_batch)"},
    {.path = "workload.batches", .type = KT_INT, .def = "4; training: 1", .deflt = def_batches,
     .min = 1, .max = 1000000000, FIELD(workload.batches),
     .help = "batches run (training: steps)"},
    {.path = "workload.micro_batches", .type = KT_INT,
     .def = "1; training: global_batch / (micro_batch x parallel.dp)",
     .deflt = def_micro_batches, .min = 1, .max = 65536, .check = check_micro_batches,
     FIELD(workload.micro_batches),
     .help = "micro-batches a batch splits into (each tokens_per_rank / micro_batches "
             "tokens per rank), flowing through the pipeline stages one after another"},
    {.path = "workload.overlap", .type = KT_ENUM, .def = "\"none\"",
     MODEL_ENUM(sched_overlap_name, SCHED_OVERLAP_COUNT), .check = check_overlap,
     FIELD(workload.overlap),
     .help = "none: every step after the last; two_batch: micro-batches in pairs, one's "
             "dispatch and combine under the other's compute (DeepSeek-V3, SGLang); "
             "forward mode only"},
    {.path = "workload.source.kind", .type = KT_ENUM, .def = "\"synthetic\"",
     MODEL_ENUM(source_kind_name, SOURCE_KIND_COUNT), FIELD(workload.source.kind),
     .help = "where routing comes from: router logits from latent topics, the fixed table "
             "below or a popularity law; or a recorded routing trace (docs/trace.md)"},
    {.path = "workload.source.latent_dim", .type = KT_INT, .def = "32", .min = 1,
     .max = 4096, FIELD(workload.source.latent_dim),
     .help = "synthetic: dimension of a token's latent vector"},
    {.path = "workload.source.topics", .type = KT_INT, .def = "8", .min = 1, .max = 65536,
     FIELD(workload.source.topics), .help = "synthetic: topics (one per sequence)"},
    {.path = "workload.source.skew", .type = KT_FLOAT, .def = "1.0", .min = 0, .max = 100,
     FIELD(workload.source.skew),
     .help = "synthetic: std. dev. of the per-expert popularity bias, in logits"},
    {.path = "workload.source.layer_corr", .type = KT_FLOAT, .def = "0.5", .min = 0,
     .max = 1, FIELD(workload.source.layer_corr),
     .help = "synthetic: correlation of router weights of consecutive MoE layers"},
    {.path = "workload.source.topic_std", .type = KT_FLOAT, .def = "1.0", .min = 0,
     .max = 100, .flags = F_MIN_OPEN, FIELD(workload.source.topic_std),
     .help = "synthetic: spread of a token around its topic"},
    {.path = "workload.source.offset", .type = KT_FLOAT, .def = "0", .min = -1000,
     .max = 1000, FIELD(workload.source.offset),
     .help = "synthetic: constant added to every logit (seen by sigmoid gates only)"},
    {.path = "workload.source.drift", .type = KT_FLOAT, .def = "0", .min = 0, .max = 100,
     FIELD(workload.source.drift),
     .help = "synthetic: random-walk step of the topic mix's logits per batch"},
    {.path = "workload.source.distribution", .type = KT_ENUM, .def = "\"zipf\"",
     MODEL_ENUM(source_dist_name, SOURCE_DIST_COUNT), FIELD(workload.source.dist),
     .help = "popularity: law of the per-expert weights: uniform, zipf, hot, lognormal"},
    {.path = "workload.source.s", .type = KT_FLOAT, .def = "1.0", .min = 0, .max = 100,
     FIELD(workload.source.zipf_s), .help = "popularity: zipf exponent"},
    {.path = "workload.source.hot_experts", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.experts", FIELD(workload.source.hot_experts),
     .help = "popularity: hot experts of the hot law"},
    {.path = "workload.source.hot_share", .type = KT_FLOAT, .def = "0.5", .min = 0, .max = 1,
     FIELD(workload.source.hot_share),
     .help = "popularity: the hot experts' share of the gate's mass"},
    {.path = "workload.source.sigma", .type = KT_FLOAT, .def = "1.0", .min = 0, .max = 100,
     FIELD(workload.source.sigma),
     .help = "popularity: std. dev. of log w of the lognormal law"},
    {.path = "workload.source.logits", .type = KT_LIST, .def = "none (required when fixed)",
     .deflt = def_keep, .check = check_logits,
     .help = "fixed: rows of model.experts logits; token i gets row i mod rows"},
    {.path = "workload.source.file", .type = KT_STRING, .def = "\"\"",
     .check = check_trace_file, FIELD(workload.trace_file),
     .help = "trace: the routing trace to replay (moesim run --trace writes one); a "
             "relative path is taken from the scenario file's folder"},

    {.path = "training.recompute", .type = KT_ENUM, .def = "\"none\"",
     MODEL_ENUM(sched_recompute_name, SCHED_RECOMPUTE_COUNT), .check = check_training_only,
     FIELD(training.recompute),
     .help = "activation recomputation: none; selective (attention core and the expert "
             "activation recomputed in backward, as Megatron-LM's); full (each layer's "
             "forward again before its backward, keeping only its input)"},
    {.path = "training.zero", .type = KT_INT, .def = "0", .min = 0, .max = 1,
     .check = check_training_only, FIELD(training.zero),
     .help = "1: ZeRO-1, the distributed optimizer: gradients reduce-scattered, optimizer "
             "state sharded over the data-parallel group, parameters all-gathered after "
             "the step; 0: all-reduce, optimizer state on every replica"},
    {.path = "training.grad_bucket", .type = KT_SIZE, .def = "\"160 MB\"",
     .flags = F_MIN_OPEN, .check = check_training_only, FIELD(training.grad_bucket),
     .help = "gradients per bucket (one reduction each); default 40 M FP32 gradients, "
             "Megatron-Core DDP's bucket_size"},
    {.path = "training.overlap_grad_reduce", .type = KT_BOOL, .def = "false",
     .check = check_training_only, FIELD(training.overlap_grad_reduce),
     .help = "reduce each bucket as soon as backward has completed it, under the backward "
             "still running (Megatron-LM --overlap-grad-reduce); false: after backward"},
    {.path = "training.grad_dtype", .type = KT_ENUM, .def = "\"fp32\"",
     MODEL_ENUM(dtype_name, DTYPE_COUNT), .check = check_training_only,
     FIELD(training.grad_dtype),
     .help = "element type gradients accumulate and are reduced in (Megatron-LM with "
             "BF16: FP32, --accumulate-allreduce-grads-in-fp32)"},
    {.path = "training.overlap_a2a", .type = KT_BOOL, .def = "false",
     .check = check_overlap_a2a, FIELD(training.overlap_a2a),
     .help = "dualpipe: each forward-backward pair overlapped, one micro-batch's "
             "all-to-alls and all-reduces under the other's compute (DeepSeek-V3 Technical "
             "Report 3.2.1); other schedules run their pairs one after the other"},
    {.path = "training.route_sample", .type = KT_INT, .def = "0", .min = 0, .max = 65536,
     .check = check_training_only, FIELD(training.route_sample),
     .help = "micro-batches the router routes per step (each on its own tokens); the later "
             "ones replay their loads and bytes in turn (micro-batch m those of m mod N; "
             "dualpipe's second direction the first's): a sample whose error "
             "docs/training.md measures; 0: every micro-batch (with "
             "model.router.force_balance every micro-batch is the same: one is routed)"},

    {.path = "training.route_groups", .type = KT_INT, .def = "0", .min = 0, .max = 1,
     .check = check_training_only, FIELD(training.route_groups),
     .help = "with training.route_sample: 1 routes one dispatch group of each stage and "
             "gives the stage's other groups its rows and counts (the replicas draw from one "
             "source: a sample whose error docs/training.md measures); 0: every group routed"},

    {.path = "network.model", .type = KT_ENUM, .def = "\"analytical\"",
     MODEL_ENUM(net_model_name, NET_MODEL_COUNT),
     FIELD(network.model),
     .help = "network fidelity: analytical (bottleneck bytes over bandwidth plus latency) "
             "or flow (max-min fair sharing, re-shared as flows start and end)"},
    {.path = "network.alltoall", .type = KT_ENUM, .def = "\"direct\"",
     MODEL_ENUM(coll_a2a_name, COLL_A2A_COUNT),
     FIELD(network.alltoall),
     .help = "all-to-all algorithm: direct (all pairs at once), pairwise (N-1 shifts), "
             "hierarchical (RDMA to the same local index, then NVLink)"},
    {.path = "network.message_overhead", .type = KT_TIME, .def = "\"2 us\"",
     FIELD(network.overhead_ps),
     .help = "software overhead per message (per flow; per phase in analytical)"},
    {.path = "network.flow_tolerance", .type = KT_TIME, .def = "\"0 ps\"",
     FIELD(network.flow_tol_ps),
     .help = "flow model: flows due within this of a completion finish with it, in one "
             "re-share (0: exact); trades a bounded error for speed on skewed all-to-alls"},
    {.path = "network.dispatch_dtype", .type = KT_ENUM, .def = "model.dtype",
     .deflt = def_model_dtype, MODEL_ENUM(dtype_name, DTYPE_COUNT), FIELD(network.dispatch_dtype),
     .help = "element type of dispatched rows (fp8 adds a 4-byte scale per 128 values)"},
    {.path = "network.combine_dtype", .type = KT_ENUM, .def = "model.dtype",
     .deflt = def_model_dtype, MODEL_ENUM(dtype_name, DTYPE_COUNT), FIELD(network.combine_dtype),
     .help = "element type of combined rows"},
    {.path = "network.comm_sms", .type = KT_INT, .def = "0", .min = 0,
     .max = 4096, .check = check_comm_sms, FIELD(network.comm_sms),
     .help = "SMs the communication kernels hold for the whole run (DeepSeek-V3: 20 of "
             "H800's 132 for DeepEP), taken from compute: every kernel's FLOP/s scale by "
             "(SMs - comm_sms) / SMs, its HBM bandwidth does not"},

    {.path = "output.json", .type = KT_STRING, .def = "\"\"", FIELD(output.json),
     .help = "write the JSON report here (\"\": none)"},
    {.path = "output.trace", .type = KT_STRING, .def = "\"\"", FIELD(output.trace),
     .help = "write the run's routing trace here (\"\": none; docs/trace.md)"},
    {.path = "output.timeline", .type = KT_STRING, .def = "\"\"", FIELD(output.timeline),
     .help = "write the run's phases per GPU here, as Chrome trace events for Perfetto "
             "(\"\": none)"},
    {.path = "output.timeline_batches", .type = KT_INT, .def = "0", .min = 0,
     .max = 1000000000, FIELD(output.timeline_batches),
     .help = "batches on the timeline, the first ones (0: all)"},
    {.path = "output.progress", .type = KT_BOOL, .def = "true", FIELD(output.progress),
     .help = "show progress on stderr"},

    {.path = "limits.host_memory", .type = KT_SIZE, .def = "the machine's physical memory",
     .deflt = def_host_memory, .flags = F_MIN_OPEN, FIELD(limits.host_memory),
     .help = "host memory the simulator may use; check and run refuse a scenario whose "
             "estimate (moesim check prints it) is larger"},
};

const size_t scenario_nkeys = sizeof(scenario_keys) / sizeof(scenario_keys[0]);

/* ---- computed defaults ---- */

static void def_dense_ffn(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = 4 * (int64_t)s->model.hidden;
}

static void def_heads(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->model.hidden / 128 > 1 ? s->model.hidden / 128 : 1;
}

static void def_kv_heads(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->model.heads;
}

static void def_head_dim(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->model.hidden / s->model.heads > 1 ? s->model.hidden / s->model.heads : 1;
}

static void def_normalize(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->model.top_k > 1; /* one weight of a top-1 choice stays p, as Switch does */
}

/* What the field holds already (a preset's figure): storing it changes nothing. */
static void def_keep(const scenario *s, const key_row *r, value *v)
{
    if (r->size == 0)
        return;
    const char *p = (const char *)s + r->off;
    if (r->type == KT_TIME)
        memcpy(&v->i, p, sizeof(v->i));
    else
        memcpy(&v->d, p, sizeof(v->d));
}

static void def_intra_bw(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->d = s->cluster.gpu.nvlink_bw_Bps;
}

/* End-to-end latency of a 64-byte message between two nodes on the same leaf
 * switch (DeepSeek, ISCA 2025, Table 5; REFERENCE.md): InfiniBand 2.8 us, RoCE
 * 3.6 us. NVLink's 3.33 us from the same table is cluster.intra.latency's. */
static void def_inter_lat(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->cluster.inter_kind == TOPO_INTER_ROCE ? SIM_NS(3600) : SIM_NS(2800);
}

/* Rows travel in the model's own type unless a kernel casts them (DeepEP
 * dispatches FP8 and combines BF16). */
static void def_model_dtype(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->model.dtype;
}

/* One NIC per GPU, as on HGX H100/H800 and DGX A100 (8 ConnectX per node). */
static void def_nics(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->cluster.topo.gpus_per_node;
}

static void def_dp(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    int64_t world = (int64_t)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    v->i = world / ((int64_t)s->parallel.tp * s->parallel.pp);
}

static void def_ep(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->parallel.dp;
}

/* A dynamic placement with redundant slots can only fill them with EPLB. */
static void def_rebalance(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->placement.redundant > 0 ? PLACEMENT_EPLB : PLACEMENT_BALANCED;
}

static bool placement_needs_loads(placement_strategy p)
{
    return p == PLACEMENT_BALANCED || p == PLACEMENT_EPLB || p == PLACEMENT_TOPOLOGY_AWARE;
}

static void def_warmup(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = placement_needs_loads(s->placement.strategy) ? 4 : 0;
}

/* ---- checks across keys ---- */

/* A scenario without an MoE layer would run and report nothing of interest. */
static int check_first_dense(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (v->i < L->s->model.layers)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld makes all model.layers (%d) dense; allowed: an integer in [0, %d]",
                         (long long)v->i, L->s->model.layers, L->s->model.layers - 1);
}

static int check_moe_every(loader *L, const key_row *r, const value *v, err_t *e)
{
    int after = L->s->model.layers - L->s->model.first_dense;
    if (v->i <= after)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld leaves no MoE layer in the %d layers after model.first_dense (%d); "
                         "allowed: an integer in [1, %d]",
                         (long long)v->i, after, L->s->model.first_dense, after);
}

static int check_kv_heads(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (L->s->model.heads % v->i == 0)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld does not divide model.heads (%d); allowed: a divisor of model.heads "
                         "(%d)", (long long)v->i, L->s->model.heads, L->s->model.heads);
}

static int check_router_kind(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (strcmp(v->s, "switch") != 0 || L->s->model.top_k == 1)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "\"switch\" routes each token to one expert, but model.top_k is %d; "
                         "allowed: \"softmax_topk\", or \"switch\" with model.top_k = 1",
                         L->s->model.top_k);
}

/* Group-limited routing, checked with the router's own rules once both
 * group keys are read (groups divide experts, top_k fits the groups kept,
 * only for the top-k families); blamed on the key the router names. */
static int check_groups(loader *L, const key_row *r, const value *v, err_t *e)
{
    (void)r;
    router_config rc = L->s->model.router;
    rc.experts = L->s->model.experts;
    rc.top_k = L->s->model.top_k;
    err_t re = ERR_INIT;
    if (router_check(&rc, &re) == 0)
        return 0;
    const char *key = re.key[0] ? re.key : "model.router.groups";
    const config_setting_t *st = config_lookup(L->cfg, key);
    return scenario_fail(L, st ? st : v->st, key, e, "%s", re.msg);
}

/* The capacity keys together, with capacity's own rules (adaptive bounds in
 * order); blamed on the key capacity names. */
static int check_capacity(loader *L, const key_row *r, const value *v, err_t *e)
{
    (void)r;
    err_t ce = ERR_INIT;
    if (capacity_check(&L->s->model.capacity, &ce) == 0)
        return 0;
    const char *key = ce.key[0] ? ce.key : "model.router.overflow";
    const config_setting_t *st = config_lookup(L->cfg, key);
    return scenario_fail(L, st ? st : v->st, key, e, "%s", ce.msg);
}

/* Loads the preset named by cluster.gpu (or cluster.gpu.preset): the override
 * rows below then start from its figures. */
static int check_gpu(loader *L, const key_row *r, const value *v, err_t *e)
{
    char name[sizeof(L->s->cluster.gpu.name)];
    memcpy(name, L->s->cluster.gpu.name, sizeof(name));
    if (gpu_preset(name, &L->s->cluster.gpu) == 0)
        return 0;
    /* blame what named it: the string, or the group's preset key */
    const config_setting_t *st = v->st;
    const char *key = r->path;
    if (st && config_setting_is_group(st)) {
        st = config_setting_get_member(st, "preset");
        key = "cluster.gpu.preset";
    }
    return scenario_fail(L, st, key, e, "\"%s\" is not a GPU preset; allowed: %s", name,
                         gpu_preset_names());
}

static int check_dp(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int64_t world = (int64_t)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    int64_t tp_pp = (int64_t)s->parallel.tp * s->parallel.pp;
    if (v->i * tp_pp == world)
        return 0;
    char ok[64];
    if (world % tp_pp == 0)
        snprintf(ok, sizeof(ok), "%lld", (long long)(world / tp_pp));
    else
        snprintf(ok, sizeof(ok), "none with tp %d and pp %d", s->parallel.tp, s->parallel.pp);
    return scenario_fail(L, v->st, r->path, e,
                         "%lld x parallel.tp (%d) x parallel.pp (%d) = %lld is not the %lld GPUs "
                         "(cluster.nodes %d x cluster.gpus_per_node %d); allowed: %s",
                         (long long)v->i, s->parallel.tp, s->parallel.pp, (long long)(v->i * tp_pp),
                         (long long)world, s->cluster.topo.nodes, s->cluster.topo.gpus_per_node,
                         ok);
}

/* EP groups are carved out of the DP ranks, and each EP rank holds the same
 * number of experts: so ep divides dp and the experts. */
static int check_ep(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int64_t world = (int64_t)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    /* the ranks an EP group is carved from: dp, or dp x tp with tensor
     * parallelism (Megatron-Core's expert grid folds tp into the expert
     * data-parallel and expert-parallel dimensions) */
    int tp = s->parallel.tp, etp = s->parallel.etp;
    int dp = s->parallel.dp * tp, experts = s->model.experts;
    char dps[64];
    if (tp == 1)
        snprintf(dps, sizeof(dps), "parallel.dp (%d)", dp);
    else
        snprintf(dps, sizeof(dps), "parallel.dp x parallel.tp (%d)", dp);
    if (v->i > world)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld is larger than the %lld GPUs (cluster.nodes %d x "
                             "cluster.gpus_per_node %d); allowed: a divisor of %s",
                             (long long)v->i, (long long)world, s->cluster.topo.nodes,
                             s->cluster.topo.gpus_per_node, dps);
    if (dp % v->i != 0)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld does not divide %s; allowed: a divisor of %s", (long long)v->i,
                             dps, dps);
    if (dp % (v->i * etp) != 0) {
        char ok[256];
        size_t k = 0;
        ok[0] = '\0';
        for (int d = 1; d <= dp / etp && k + 16 < sizeof(ok); d++)
            if ((dp / etp) % d == 0 && dp % (d * etp) == 0 && experts % d == 0)
                k += (size_t)snprintf(ok + k, sizeof(ok) - k, "%s%d", k ? ", " : "", d);
        return scenario_fail(L, v->st, r->path, e,
                             "%lld x parallel.etp (%d) = %lld does not divide %s; allowed: %s",
                             (long long)v->i, etp, (long long)(v->i * etp), dps,
                             ok[0] ? ok : "none");
    }
    if (experts % v->i == 0)
        return 0;
    /* name the common divisors: there are few, and one of them is the fix */
    char ok[256];
    size_t k = 0;
    ok[0] = '\0';
    for (int d = 1; d <= dp && d <= experts && k + 16 < sizeof(ok); d++)
        if (dp % (d * etp) == 0 && experts % d == 0)
            k += (size_t)snprintf(ok + k, sizeof(ok) - k, "%s%d", k ? ", " : "", d);
    return scenario_fail(L, v->st, r->path, e,
                         "model.experts (%d) is not a multiple of parallel.ep (%lld%s); allowed: a "
                         "common divisor of %s and model.experts (%d): %s",
                         experts, (long long)v->i, v->st ? "" : ", the default: parallel.dp", dps,
                         experts, ok);
}

/* Tensor parallelism splits heads, key/value heads and FFN widths evenly
 * (Megatron-Core's ColumnParallelLinear / RowParallelLinear need it). */
static int check_tp(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int64_t world = (int64_t)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    int tp = (int)v->i, dense = 0;
    for (int l = 0; l < s->model.layers; l++) /* moe_layers is derived after the rows */
        dense += !scenario_is_moe_layer(s, l);
    struct {
        const char *key;
        int n;
        bool need;
    } split[] = {
        {"model.heads", s->model.heads, true},
        {"model.kv_heads", s->model.kv_heads, true},
        {"model.dense_ffn", s->model.dense_ffn, dense > 0},
        {"model.expert_ffn", s->model.expert_ffn, s->model.shared_experts > 0},
    };
    if (world % tp != 0)
        return scenario_fail(L, v->st, r->path, e,
                             "%d does not divide the %lld GPUs (cluster.nodes %d x "
                             "cluster.gpus_per_node %d); allowed: a divisor of %lld", tp,
                             (long long)world, s->cluster.topo.nodes, s->cluster.topo.gpus_per_node,
                             (long long)world);
    for (size_t i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
        if (!split[i].need || split[i].n % tp == 0)
            continue;
        char ok[256];
        size_t k = 0;
        for (int d = 1; d <= split[i].n && d <= world && k + 16 < sizeof(ok); d++)
            if (split[i].n % d == 0 && world % d == 0)
                k += (size_t)snprintf(ok + k, sizeof(ok) - k, "%s%d", k ? ", " : "", d);
        return scenario_fail(L, v->st, r->path, e,
                             "%d does not divide %s (%d), which tensor parallelism splits; "
                             "allowed: a common divisor of %s and the %lld GPUs: %s", tp,
                             split[i].key, split[i].n, split[i].key, (long long)world, ok);
    }
    return 0;
}

/* Each expert's FFN width is split evenly over its ETP group. */
static int check_etp(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int etp = (int)v->i;
    if (s->model.expert_ffn % etp == 0)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%d does not divide model.expert_ffn (%d), which expert tensor "
                         "parallelism splits; allowed: a divisor of %d", etp, s->model.expert_ffn,
                         s->model.expert_ffn);
}

/* With tensor parallelism each TP rank routes 1/tp of its DP rank's tokens
 * (Megatron-Core's sequence-parallel split before the token dispatcher). */
static int check_train_tokens(loader *L, const value *v, err_t *e)
{
    const scenario *s = L->s;
    const char *key = "workload.global_batch";
    int64_t per = (int64_t)s->workload.micro_batch * s->workload.seq_len;
    if (v->i <= 16777216 && per % s->parallel.tp == 0)
        return 0;
    return scenario_fail(L, config_lookup(L->cfg, key), key, e,
                         "%lld tokens per replica and step (global_batch / dp x seq_len), "
                         "%lld per micro-batch with parallel.tp = %d; allowed: at most "
                         "16,777,216 per replica, and micro_batch x seq_len a multiple of tp",
                         (long long)v->i, (long long)per, s->parallel.tp);
}

static int check_tokens(loader *L, const key_row *r, const value *v, err_t *e)
{
    int tp = L->s->parallel.tp, dp = L->s->parallel.dp;
    if (training(L) && v->st)
        return derived_in_training(L, r, v, e);
    if (training(L) && check_train_tokens(L, v, e) < 0)
        return -1;
    if (v->i % tp != 0)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld is not a multiple of parallel.tp (%d): each TP rank "
                             "dispatches tokens_per_rank / tp tokens; allowed: a multiple of %d",
                             (long long)v->i, tp, tp);
    /* the batch's tokens are counted in an int, and sized as token x expert
     * tables (the host memory check weighs those) */
    if ((int64_t)dp * v->i <= INT_MAX)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "parallel.dp (%d) x %lld = %lld tokens in a batch; allowed: at most "
                         "%d tokens in a batch, %d per rank with %d data-parallel ranks",
                         dp, (long long)v->i, (long long)dp * v->i, INT_MAX, INT_MAX / dp, dp);
}

/* The topology holds a route per GPU pair: TOPO_MAX_GPUS at most. */
static int check_world(loader *L, const key_row *r, const value *v, err_t *e)
{
    int64_t world = (int64_t)L->s->cluster.topo.nodes * v->i;
    if (world <= TOPO_MAX_GPUS)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "cluster.nodes (%d) x %lld = %lld GPUs; allowed: at most %d GPUs in "
                         "all, %d per node with %d nodes",
                         L->s->cluster.topo.nodes, (long long)v->i, (long long)world,
                         TOPO_MAX_GPUS, (int)(TOPO_MAX_GPUS / L->s->cluster.topo.nodes),
                         L->s->cluster.topo.nodes);
}

/* Redundant slots hold replicas, which only EPLB places; every EP rank gets
 * the same number of slots. */
static int check_redundant(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    placement_strategy st = s->placement.strategy;
    int ep = s->parallel.ep;
    if (v->i == 0)
        return 0;
    if (st != PLACEMENT_EPLB && st != PLACEMENT_DYNAMIC)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld needs placement.strategy \"eplb\" or \"dynamic\" (replicas are "
                             "placed by EPLB), not \"%s\"; allowed: 0",
                             (long long)v->i, placement_strategy_name(st));
    if (v->i % ep != 0)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld does not spread evenly over parallel.ep (%d) ranks; allowed: a "
                             "multiple of %d (%d, %d, ...)",
                             (long long)v->i, ep, ep, ep, 2 * ep);
    return 0;
}

static int check_rebalance(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    if (s->placement.strategy != PLACEMENT_DYNAMIC || s->placement.redundant == 0 ||
        v->i == PLACEMENT_EPLB)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "\"%s\" cannot fill placement.redundant (%d) replica slots; allowed: "
                         "\"eplb\" (or placement.redundant = 0)",
                         placement_strategy_name((placement_strategy)v->i), s->placement.redundant);
}

/* balanced, eplb and topology_aware place by measured loads. */
static int check_warmup(loader *L, const key_row *r, const value *v, err_t *e)
{
    placement_strategy st = L->s->placement.strategy;
    if (v->i > 0 || !placement_needs_loads(st))
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "0 leaves placement.strategy \"%s\" no loads to place by; allowed: an "
                         "integer in [1, 100000]",
                         placement_strategy_name(st));
}

/* "tp-ep-dp-pp": the dimensions a layout numbers ranks by, fastest first; cp
 * (context parallelism) may appear, the other four must. */
static int check_order(loader *L, const key_row *r, const value *v, err_t *e)
{
    static const char *const dims[] = {"tp", "cp", "ep", "dp", "pp"};
    static const int needed[] = {1, 0, 1, 1, 1};
    int seen[5] = {0};
    char ok[256], what[256];
    scenario_allowed(L, r, ok, sizeof(ok));
    snprintf(what, sizeof(what), "\"%.200s\"", v->s);
    const char *p = v->s;
    for (;;) {
        size_t n = strcspn(p, "-");
        int d = -1;
        for (int i = 0; i < 5; i++)
            if (n == 2 && strncmp(p, dims[i], 2) == 0)
                d = i;
        if (d < 0)
            return scenario_fail(L, v->st, r->path, e,
                                 "%s: \"%.*s\" is not a dimension; allowed: %s", what, (int)n, p,
                                 ok);
        if (seen[d]++)
            return scenario_fail(L, v->st, r->path, e, "%s names %s twice; allowed: %s", what,
                                 dims[d], ok);
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    for (int i = 0; i < 5; i++)
        if (needed[i] && !seen[i])
            return scenario_fail(L, v->st, r->path, e, "%s lacks %s; allowed: %s", what, dims[i],
                                 ok);
    return 0;
}

/* The trace source's file: required with kind "trace", refused without it;
 * a relative path written in a file is taken from that file's folder (an
 * override from --set, from the working directory). Replay has the
 * router's choices only: the policies that need its scores or weights are
 * refused. */
static int check_trace_file(loader *L, const key_row *r, const value *v, err_t *e)
{
    scenario *s = L->s;
    int trace = s->workload.source.kind == SOURCE_TRACE;
    if (!trace && s->workload.trace_file[0])
        return scenario_fail(L, v->st, r->path, e,
                             "given, but workload.source.kind is not \"trace\"; allowed: a file "
                             "only with workload.source.kind = \"trace\"");
    if (!trace)
        return 0;
    if (!s->workload.trace_file[0])
        return scenario_fail(L, v->st, r->path, e,
                             "missing (workload.source.kind is \"trace\"); allowed: the path of a "
                             "routing trace written by moesim run --trace");
    if (s->model.capacity.overflow == CAPACITY_REROUTE)
        return scenario_fail(L, config_lookup(L->cfg, "model.router.overflow"),
                             "model.router.overflow", e,
                             "\"reroute\" with a trace source: a trace holds each token's chosen "
                             "experts, not its ranking of the others; allowed: \"drop\", "
                             "\"dropless\", \"adaptive\"");
    if (s->model.capacity.priority == CAPACITY_SCORE)
        return scenario_fail(L, config_lookup(L->cfg, "model.router.priority"),
                             "model.router.priority", e,
                             "\"score\" with a trace source: a trace holds no gate weights; "
                             "allowed: \"order\"");
    const char *from = v->st && config_setting_source_line(v->st) > 0
                           ? config_setting_source_file(v->st)
                           : NULL;
    const char *slash = from ? strrchr(from, '/') : NULL;
    if (s->workload.trace_file[0] != '/' && slash) {
        char path[sizeof(s->workload.trace_file)];
        int n = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - from), from,
                         s->workload.trace_file);
        if (n < 0 || (size_t)n >= sizeof(path))
            return scenario_fail(L, v->st, r->path, e,
                                 "the path from %s is too long; allowed: at most %zu characters",
                                 from, sizeof(path) - 1);
        memcpy(s->workload.trace_file, path, (size_t)n + 1);
    }
    return 0;
}

/* The fixed source's logits: rows of exactly model.experts numbers. */
static int check_logits(loader *L, const key_row *r, const value *v, err_t *e)
{
    scenario *s = L->s;
    char ok[512];
    scenario_allowed(L, r, ok, sizeof(ok));
    int fixed = s->workload.source.kind == SOURCE_FIXED;
    if (!v->st && !fixed)
        return 0;
    if (!v->st)
        return scenario_fail(L, NULL, r->path, e,
                             "missing (workload.source.kind is \"fixed\"); allowed: %s", ok);
    if (!fixed)
        return scenario_fail(L, v->st, r->path, e,
                             "given, but workload.source.kind is not \"fixed\"; allowed: logits "
                             "only with workload.source.kind = \"fixed\"");
    int rows = config_setting_length(v->st);
    if (rows == 0)
        return scenario_fail(L, v->st, r->path, e, "an empty list; allowed: %s", ok);
    int experts = s->model.experts;
    double *x = xcalloc((size_t)rows * (size_t)experts, sizeof(*x), "fixed source logits");
    s->workload.source.fixed_logits = x; /* owned by s from here: scenario_fini frees it */
    s->workload.source.fixed_rows = rows;
    for (int i = 0; i < rows; i++) {
        const config_setting_t *row = config_setting_get_elem(v->st, (unsigned)i);
        char key[64], what[256];
        snprintf(key, sizeof(key), "%s[%d]", r->path, i);
        int t = config_setting_type(row);
        if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
            scenario_describe(row, what, sizeof(what));
            return scenario_fail(L, row, key, e,
                                 "%s is not a row; allowed: a list of model.experts (%d) numbers "
                                 "such as [0.5, -1.0, ...]", what, experts);
        }
        int n = config_setting_length(row);
        if (n != experts)
            return scenario_fail(L, row, key, e,
                                 "%d numbers, not model.experts (%d); allowed: a list of %d "
                                 "numbers", n, experts, experts);
        for (int j = 0; j < n; j++) {
            const config_setting_t *c = config_setting_get_elem(row, (unsigned)j);
            int ct = config_setting_type(c);
            if (ct == CONFIG_TYPE_FLOAT && !isfinite(config_setting_get_float(c))) {
                snprintf(key, sizeof(key), "%s[%d][%d]", r->path, i, j);
                scenario_describe(c, what, sizeof(what));
                return scenario_fail(L, c, key, e, "%s is not finite (libconfig reads a "
                                     "number beyond 1e308 as infinite); allowed: a finite "
                                     "number", what);
            }
            if (ct == CONFIG_TYPE_FLOAT)
                x[(size_t)i * (size_t)experts + (size_t)j] = config_setting_get_float(c);
            else if (ct == CONFIG_TYPE_INT || ct == CONFIG_TYPE_INT64) {
                int64_t iv;
                if (scenario_int_of(L, NULL, c, &iv, e) < 0)
                    return -1;
                x[(size_t)i * (size_t)experts + (size_t)j] = (double)iv;
            } else {
                snprintf(key, sizeof(key), "%s[%d][%d]", r->path, i, j);
                scenario_describe(c, what, sizeof(what));
                return scenario_fail(L, c, key, e, "%s is not a number; allowed: a number", what);
            }
        }
    }
    return 0;
}

/* The machine's physical memory: what it can hold at most (sysconf). */
static void def_host_memory(const scenario *s, const key_row *r, value *v)
{
    (void)s;
    (void)r;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    v->d = pages > 0 && size > 0 ? (double)pages * (double)size : 1e15;
}

/* "1, 2, 3, 6": the divisors of n, as many as fit in buf (n bytes). */
static void divisors(int v, char *buf, size_t n)
{
    char *o = buf;
    buf[0] = '\0';
    for (int d = 1; d <= v && o + 16 < buf + n; d++)
        if (v % d == 0)
            o += snprintf(o, (size_t)(buf + n - o), "%s%d", o == buf ? "" : ", ", d);
}

/* Every stage holds a layer at least. */
static int check_pp(loader *L, const key_row *r, const value *v, err_t *e)
{
    int layers = L->s->model.layers;
    if (v->i <= layers)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld stages for %d layers; allowed: at most model.layers (%d), one "
                         "layer per stage at least",
                         (long long)v->i, layers, layers);
}

/* The stages' layers: pp positive counts summing to model.layers, or,
 * without the list, pp dividing model.layers (the stages balanced by layer
 * count). */
static int check_pp_layers(loader *L, const key_row *r, const value *v, err_t *e)
{
    scenario *s = L->s;
    int pp = s->parallel.pp, layers = s->model.layers;
    s->parallel.npp_layers = 0;
    if (!v->st) {
        if (layers % pp == 0)
            return 0;
        char ok[160];
        divisors(layers, ok, sizeof(ok));
        return scenario_fail(L, config_lookup(L->cfg, "parallel.pp"), "parallel.pp", e,
                             "%d does not divide model.layers (%d); allowed: %s, or "
                             "parallel.pp_layers listing each stage's layers",
                             pp, layers, ok);
    }
    int n = config_setting_length(v->st), sum = 0;
    if (!config_setting_is_array(v->st) && !config_setting_is_list(v->st))
        return scenario_fail(L, v->st, r->path, e,
                             "not a list; allowed: a list of %d layer counts, e.g. [%d, ...]",
                             pp, layers / pp);
    if (n != pp)
        return scenario_fail(L, v->st, r->path, e,
                             "%d entries for %d stages; allowed: one layer count per stage "
                             "(parallel.pp = %d entries)",
                             n, pp, pp);
    for (int k = 0; k < n; k++) {
        const config_setting_t *x = config_setting_get_elem(v->st, (unsigned)k);
        int t = config_setting_type(x);
        long long c = t == CONFIG_TYPE_INT ? config_setting_get_int(x)
                      : t == CONFIG_TYPE_INT64 ? config_setting_get_int64(x) : -1;
        if (c < 1 || c > layers)
            return scenario_fail(L, x, r->path, e,
                                 "stage %d: %s; allowed: a whole number of layers, 1 to %d",
                                 k, c < 0 && t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64
                                     ? "not an integer" : "out of range", layers);
        s->parallel.pp_layers[k] = (int)c;
        sum += (int)c;
    }
    if (sum != layers)
        return scenario_fail(L, v->st, r->path, e,
                             "the stages hold %d layers, the model has %d; allowed: counts "
                             "summing to model.layers (%d)",
                             sum, layers, layers);
    s->parallel.npp_layers = n;
    return 0;
}

/* Each GPU routes tokens_per_rank / tp tokens; a micro-batch takes an equal
 * share of them. */
/* ---- training (docs/training.md) ---- */

static bool training(const loader *L)
{
    return L->s->workload.mode == MODE_TRAINING;
}

/* A key that only training reads, written in another mode. */
static int check_training_only(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (training(L) || !v->st)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "applies to training steps, and workload.mode is \"forward\"; "
                         "allowed: workload.mode = \"training\", or leave %s out",
                         r->path);
}

/* A key that training derives from workload.global_batch, written. */
static int derived_in_training(loader *L, const key_row *r, const value *v, err_t *e)
{
    return scenario_fail(L, v->st, r->path, e,
                         "%lld, but training derives it from workload.global_batch, "
                         "workload.micro_batch and parallel.dp; allowed: leave it out",
                         (long long)v->i);
}

static void def_global_batch(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = (int64_t)s->parallel.dp * s->workload.micro_batch;
}

static int check_global_batch(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (check_training_only(L, r, v, e) < 0)
        return -1;
    const scenario *s = L->s;
    int64_t per = (int64_t)s->workload.micro_batch * s->parallel.dp;
    if (!training(L) || v->i % per == 0)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld sequences do not split into micro-batches of %d sequences on "
                         "%d data-parallel replicas; allowed: a multiple of "
                         "workload.micro_batch x parallel.dp = %lld",
                         (long long)v->i, s->workload.micro_batch, s->parallel.dp,
                         (long long)per);
}

static void def_tokens(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->workload.mode == MODE_TRAINING
               ? (int64_t)s->workload.global_batch / s->parallel.dp * s->workload.seq_len
               : 4096;
}

static void def_batches(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->workload.mode == MODE_TRAINING ? 1 : 4;
}

static void def_micro_batches(const scenario *s, const key_row *r, value *v)
{
    (void)r;
    v->i = s->workload.mode == MODE_TRAINING
               ? s->workload.global_batch / ((int64_t)s->workload.micro_batch * s->parallel.dp)
               : 1;
}

/* Training: what the pipeline schedule needs of the micro-batches. */
static int check_train_micro_batches(loader *L, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int pp = s->parallel.pp, m = (int)v->i;
    const char *key = "workload.global_batch";
    const config_setting_t *st = config_lookup(L->cfg, key);
    if (m > 65536)
        return scenario_fail(L, st, key, e,
                             "%d micro-batches per replica and step; allowed: at most 65536",
                             m);
    if (s->parallel.schedule == SCHED_PIPE_INTERLEAVED && m % pp != 0)
        return scenario_fail(L, st, key, e,
                             "%d micro-batches per replica (global_batch / (micro_batch x dp)) "
                             "for the interleaved schedule over %d stages; allowed: a "
                             "multiple of parallel.pp",
                             m, pp);
    if (s->parallel.schedule == SCHED_PIPE_DUALPIPE && (m % 2 != 0 || m < 2 * pp))
        return scenario_fail(L, st, key, e,
                             "%d micro-batches per replica for dualpipe over %d stages; "
                             "allowed: an even number, at least 2 x parallel.pp = %d",
                             m, pp, 2 * pp);
    return 0;
}

static int check_micro_batches(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    if (training(L) && v->st)
        return derived_in_training(L, r, v, e);
    if (training(L))
        return check_train_micro_batches(L, v, e);
    int per = s->workload.tokens_per_rank / s->parallel.tp;
    if (per % v->i == 0)
        return 0;
    char ok[160];
    divisors(per, ok, sizeof(ok));
    return scenario_fail(L, v->st, r->path, e,
                         "%lld does not divide the %d tokens each GPU routes "
                         "(workload.tokens_per_rank / parallel.tp); allowed: %s",
                         (long long)v->i, per, ok);
}

static int check_overlap(loader *L, const key_row *r, const value *v, err_t *e)
{
    int mb = L->s->workload.micro_batches;
    if (training(L) && v->i != SCHED_OVERLAP_NONE)
        return scenario_fail(L, v->st, r->path, e,
                             "\"%s\" in training; allowed: \"none\" (two_batch overlaps "
                             "forward passes only)",
                             sched_overlap_name((sched_overlap)v->i));
    if (v->i != SCHED_OVERLAP_TWO_BATCH || mb >= 2)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "\"two_batch\" with %d micro-batch; allowed: \"none\", or "
                         "workload.micro_batches >= 2 (an even number pairs them all)",
                         mb);
}

static int check_schedule(loader *L, const key_row *r, const value *v, err_t *e)
{
    int pp = L->s->parallel.pp;
    if (v->i != SCHED_PIPE_DUALPIPE || pp % 2 == 0)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "\"dualpipe\" with parallel.pp = %d: its two directions pair "
                         "stage k with stage pp - 1 - k; allowed: an even parallel.pp, or "
                         "\"gpipe\", \"1f1b\", \"interleaved\"",
                         pp);
}

static int check_vpp(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    int inter = s->parallel.schedule == SCHED_PIPE_INTERLEAVED;
    int chunks = s->parallel.pp * (int)v->i, layers = s->model.layers;
    if (!inter && v->i != 1)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld chunks per stage with parallel.schedule \"%s\", which "
                             "runs one; allowed: 1, or parallel.schedule = \"interleaved\"",
                             (long long)v->i,
                             sched_pipe_name((sched_pipe)s->parallel.schedule));
    if (inter && v->i < 2)
        return scenario_fail(L, v->st, r->path, e,
                             "%lld chunk per stage for the interleaved schedule; allowed: 2 "
                             "or more",
                             (long long)v->i);
    if (inter && (s->parallel.npp_layers > 0 || layers % chunks != 0))
        return scenario_fail(L, v->st, r->path, e,
                             "%lld chunks per stage x %d stages = %d chunks for %d layers%s; "
                             "allowed: pp x vpp dividing model.layers, without "
                             "parallel.pp_layers",
                             (long long)v->i, s->parallel.pp, chunks, layers,
                             s->parallel.npp_layers ? " listed by parallel.pp_layers" : "");
    return 0;
}

static int check_force_balance(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (!v->i || L->s->model.router.kind != ROUTER_EXPERT_CHOICE)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "true with model.router.kind \"expert_choice\", where experts "
                         "choose tokens; allowed: false, or a token-choice router");
}

static int check_overlap_a2a(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (check_training_only(L, r, v, e) < 0)
        return -1;
    if (!v->i || L->s->parallel.schedule == SCHED_PIPE_DUALPIPE)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "true with parallel.schedule \"%s\"; allowed: false, or "
                         "parallel.schedule = \"dualpipe\" (its forward-backward pairs are "
                         "the ones overlapped in this version)",
                         sched_pipe_name((sched_pipe)L->s->parallel.schedule));
}

static int check_comm_sms(loader *L, const key_row *r, const value *v, err_t *e)
{
    int sms = L->s->cluster.gpu.sms;
    if (v->i < sms || v->i == 0)
        return 0;
    return scenario_fail(L, v->st, r->path, e,
                         "%lld of the GPU's %d SMs leaves none for compute; allowed: 0 to %d",
                         (long long)v->i, sms, sms - 1);
}

/* An NVLink fabric cannot carry more than the GPU's own NVLink port: a
 * scenario that pins H100's 450 GB/s and then runs on an H800 (200 GB/s)
 * would simulate hardware that does not exist. A what-if GPU with a faster
 * port says so in cluster.gpu.nvlink_bandwidth. PCIe is not NVLink. */
static int check_intra_bw(loader *L, const key_row *r, const value *v, err_t *e)
{
    const scenario *s = L->s;
    double port = s->cluster.gpu.nvlink_bw_Bps;
    if (s->cluster.topo.intra == TOPO_INTRA_PCIE || !(port > 0) || v->d <= port * (1 + 1e-12))
        return 0;
    char got[32], max[32];
    units_format_bandwidth(v->d, got, sizeof(got));
    units_format_bandwidth(port, max, sizeof(max));
    return scenario_fail(L, v->st, r->path, e,
                         "%s is faster than the %s's NVLink port (%s per direction); allowed: "
                         "at most %s (leave it out to take the GPU's), or a faster "
                         "cluster.gpu.nvlink_bandwidth for a what-if GPU",
                         got, s->cluster.gpu.name, max, max);
}
