/*
 * scenario.c - scenario files: one table of keys drives parsing, defaults,
 * checks, --set overrides, unknown-key detection and the key reference.
 *
 * Every key is one row of `keys[]`: its path, its type (which says how the
 * text is read, unit included), its default written as it would be in a file
 * (or a hook that computes it from keys above it), its bounds (static, or an
 * upper bound read from another key), the enum values this version runs and
 * those it recognises but does not run yet, an optional check across keys,
 * the field of `scenario` it fills, and a line of help. Loading is four steps,
 * each a loop over the table or the tree: apply the --set overrides to the
 * parsed libconfig tree; walk the tree so that any key not in the table is an
 * error suggesting the closest one; take each row in order (given value or
 * default, type, bounds, store, check); derive what follows from the rows.
 * Rows come in dependency order: a default or a bound may read only keys of
 * rows above it, which the loop has already stored.
 *
 * Errors have code ERR_INPUT and point at the setting: file and line from
 * libconfig for what a file wrote, "--set" and line 0 for an override, and
 * the enclosing group's line for a missing or defaulted key. Nothing here is
 * global but the table; a load keeps its state in a `loader` on the stack.
 */
#include "moesim/scenario.h"

#include <assert.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/collective.h"
#include "moesim/units.h"

typedef enum key_type {
    KT_INT,       /* int field */
    KT_INT64,     /* int64_t or uint64_t field */
    KT_FLOAT,     /* double; an integer is accepted */
    KT_BOOL,      /* bool */
    KT_STRING,    /* char array */
    KT_ENUM,      /* one of `vals`, stored as an int code */
    KT_BANDWIDTH, /* "400 Gb/s" -> double B/s */
    KT_TIME,      /* "1.5 us" -> sim_time_t ps */
    KT_SIZE,      /* "80 GiB" -> double bytes */
    KT_FLOPS,     /* "989 TFLOP/s" -> double FLOP/s */
    KT_LIST,      /* a list; its check reads it */
    KT_GPU        /* a preset name (stored as a string) or a group of overrides */
} key_type;

enum {
    F_MIN_OPEN = 1, /* the lower bound itself is not allowed */
    F_NO_MAX = 2    /* no upper bound */
};

/* One value of a row: given in the tree (st) or a default (st NULL). */
typedef struct value {
    const config_setting_t *st;
    int64_t i;     /* int, int64, bool, enum code, time */
    double d;      /* float and the unit kinds but time */
    const char *s; /* string, enum name; borrowed from the tree or the table */
} value;

typedef struct loader {
    scenario *s;
    config_t *cfg;
    const char *name; /* file name for errors when libconfig has none */
} loader;

typedef struct key_row key_row;
typedef void (*default_fn)(const scenario *s, const key_row *r, value *v);
typedef int (*check_fn)(loader *L, const key_row *r, const value *v, err_t *e);

struct key_row {
    const char *path;
    key_type type;
    const char *def;          /* default as written in a file; with `deflt`, only
                               * words for the docs; NULL without `deflt`: required */
    default_fn deflt;         /* computes the default from rows above, or NULL */
    double min, max;          /* bounds of numbers (see flags) */
    unsigned flags;
    const char *max_key;      /* an int key above whose value is the upper bound */
    const char *na_what;      /* ints: values above `max` are "<na_what> not available
                               * in this version" ("tensor parallelism is") */
    const char *(*names)(int);/* enum: the model's name table, values 0 .. count - 1 */
    int count;
    const char *const *vals;  /* enum: values after the model's (aliases), or all of
                               * them for the scenario's own enums (NULL-ended) */
    const int *codes;         /* enum: the code stored for vals[i]; NULL: i */
    const char *const *na;    /* enum: recognised, not available yet (NULL-ended) */
    check_fn check;           /* a check across keys, run after storing, or NULL */
    size_t off, size;         /* the field in `scenario`; size 0: none */
    const char *help;
};

#define FIELD(m) .off = offsetof(scenario, m), .size = sizeof(((scenario *)0)->m)

static const char *const E_ACTIVATION[] = {"swiglu", "gelu", NULL};
static const int C_ACTIVATION[] = {3, 2}; /* weight matrices per FFN */
/* an alias after the model's names: Switch is softmax_topk with top_k 1 */
static const char *const E_ROUTER_ALIAS[] = {"switch", NULL};
static const int C_ROUTER_ALIAS[] = {ROUTER_SOFTMAX_TOPK};
/* the load-driven strategies a dynamic placement recomputes */
static const char *const E_REBALANCE[] = {"balanced", "eplb", "topology_aware", NULL};
static const int C_REBALANCE[] = {PLACEMENT_BALANCED, PLACEMENT_EPLB, PLACEMENT_TOPOLOGY_AWARE};
static const char *const E_MODE[] = {"forward", NULL};
static const char *const NA_MODE[] = {"training", "inference", NULL};

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
static int check_order(loader *L, const key_row *r, const value *v, err_t *e);
static int check_logits(loader *L, const key_row *r, const value *v, err_t *e);
static int check_trace_file(loader *L, const key_row *r, const value *v, err_t *e);
static int check_redundant(loader *L, const key_row *r, const value *v, err_t *e);
static int check_rebalance(loader *L, const key_row *r, const value *v, err_t *e);
static int check_warmup(loader *L, const key_row *r, const value *v, err_t *e);

/* The schema. Order matters: a row's default, bound or check reads rows above. */
static const key_row keys[] = {
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
    {.path = "model.router.overflow", .type = KT_ENUM, .def = "\"drop\"", MODEL_ENUM(capacity_overflow_name, CAPACITY_OVERFLOW_COUNT), FIELD(model.capacity.overflow),
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
    {.path = "model.router.groups", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.experts", FIELD(model.router.groups),
     .help = "expert groups of group-limited routing (1: off)"},
    {.path = "model.router.topk_groups", .type = KT_INT, .def = "1", .min = 1,
     .max_key = "model.router.groups", .check = check_groups, FIELD(model.router.topk_groups),
     .help = "groups a token may use (1: off)"},

    {.path = "cluster.system", .type = KT_STRING, .def = "\"\"", FIELD(cluster.system),
     .help = "a system preset (\"DGX-H100\", \"HGX-H800\", \"DGX-A100\") whose GPU, node size "
             "and links fill in the cluster keys the scenario leaves out"},
    {.path = "cluster.nodes", .type = KT_INT, .def = "1", .min = 1, .max = 65536,
     FIELD(cluster.topo.nodes), .help = "nodes (machines)"},
    {.path = "cluster.gpus_per_node", .type = KT_INT, .def = "8", .min = 1, .max = 64,
     FIELD(cluster.topo.gpus_per_node), .help = "GPUs in each node"},
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
    {.path = "cluster.intra.kind", .type = KT_ENUM, .def = "\"nvswitch\"", MODEL_ENUM(topo_intra_name, TOPO_INTRA_COUNT),
     FIELD(cluster.topo.intra),
     .help = "links inside a node: nvswitch (per-GPU links to a switch), pcie (PCIe "
             "switches under the CPU root), nvlink_mesh (a direct link per GPU pair, "
             "bandwidth split over the peers)"},
    {.path = "cluster.intra.gpus_per_switch", .type = KT_INT, .def = "2", .min = 1, .max = 64,
     FIELD(cluster.topo.gpus_per_switch), .help = "pcie: GPUs under one PCIe switch"},
    {.path = "cluster.intra.bandwidth", .type = KT_BANDWIDTH,
     .def = "cluster.gpu's NVLink bandwidth", .deflt = def_intra_bw, .flags = F_MIN_OPEN,
     FIELD(cluster.topo.intra_bw_Bps), .help = "per GPU, per direction"},
    {.path = "cluster.intra.latency", .type = KT_TIME, .def = "\"3.33 us\"",
     FIELD(cluster.topo.intra_lat_ps), .help = "latency of one transfer inside a node"},
    {.path = "cluster.intra.efficiency", .type = KT_FLOAT, .def = "0.66", .min = 0, .max = 1,
     .flags = F_MIN_OPEN, FIELD(cluster.topo.intra_eff),
     .help = "achievable fraction of the intra-node bandwidth (calibrated: docs/network.md)"},
    {.path = "cluster.inter.kind", .type = KT_ENUM, .def = "\"ib\"", MODEL_ENUM(topo_inter_name, TOPO_INTER_COUNT),
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
    {.path = "parallel.pp", .type = KT_INT, .def = "1", .min = 1, .max = 1,
     .na_what = "pipeline parallelism is", FIELD(parallel.pp),
     .help = "pipeline-parallel degree"},
    {.path = "parallel.etp", .type = KT_INT, .def = "1", .min = 1, .max = 1024,
     .check = check_etp, FIELD(parallel.etp),
     .help = "tensor-parallel degree inside an expert (divides model.expert_ffn; "
             "parallel.ep x etp divides parallel.dp x parallel.tp)"},
    {.path = "parallel.dp", .type = KT_INT, .def = "GPUs / (tp x pp)", .deflt = def_dp,
     .min = 1, .max = 4194304, .check = check_dp, FIELD(parallel.dp),
     .help = "data-parallel degree; dp x tp x pp = cluster.nodes x cluster.gpus_per_node"},
    {.path = "parallel.ep", .type = KT_INT, .def = "parallel.dp", .deflt = def_ep, .min = 1,
     .max = 4194304, .check = check_ep, FIELD(parallel.ep),
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
     .vals = E_REBALANCE, .codes = C_REBALANCE, .check = check_rebalance, FIELD(placement.rebalance),
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
     .na = NA_MODE, FIELD(workload.mode), .help = "what is run: forward passes"},
    {.path = "workload.tokens_per_rank", .type = KT_INT, .def = "4096", .min = 1,
     .max = 16777216, .check = check_tokens, FIELD(workload.tokens_per_rank),
     .help = "tokens on every data-parallel rank per batch"},
    {.path = "workload.batches", .type = KT_INT, .def = "4", .min = 1, .max = 1000000000,
     FIELD(workload.batches), .help = "batches run"},
    {.path = "workload.seq_len", .type = KT_INT, .def = "4096", .min = 1, .max = 16777216,
     FIELD(workload.seq_len),
     .help = "tokens per sequence: attention context and the synthetic source's sequences"},
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

    {.path = "network.model", .type = KT_ENUM, .def = "\"analytical\"", MODEL_ENUM(net_model_name, NET_MODEL_COUNT),
     FIELD(network.model),
     .help = "network fidelity: analytical (bottleneck bytes over bandwidth plus latency) "
             "or flow (max-min fair sharing, re-shared as flows start and end)"},
    {.path = "network.alltoall", .type = KT_ENUM, .def = "\"direct\"", MODEL_ENUM(coll_a2a_name, COLL_A2A_COUNT),
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
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---- the table, looked up ---- */

static const key_row *row_find(const char *path)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].path, path) == 0)
            return &keys[i];
    return NULL;
}

/* Is `path` a group of the schema (some key lies below it)? */
static int is_group_path(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].path, path, n) == 0 && keys[i].path[n] == '.')
            return 1;
    return 0;
}

static int64_t field_int(const scenario *s, const key_row *r)
{
    const char *p = (const char *)s + r->off;
    if (r->size == sizeof(int64_t)) {
        int64_t x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    int x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static int64_t key_int(const scenario *s, const char *path)
{
    const key_row *r = row_find(path);
    return r ? field_int(s, r) : 0;
}

/* ---- error text ---- */

/* Where a setting was written: its file and line, "--set" for an override,
 * and for a key not written the enclosing group's line (0 if none). */
static void locate(const loader *L, const config_setting_t *st, const char *path,
                   const char **file, int *line)
{
    *file = L->name;
    *line = 0;
    if (st) {
        if (config_setting_source_line(st) > 0) {
            const char *f = config_setting_source_file(st);
            *file = f ? f : L->name;
            *line = (int)config_setting_source_line(st);
        } else {
            *file = "--set";
        }
        return;
    }
    char parent[128];
    snprintf(parent, sizeof(parent), "%s", path);
    for (char *dot = strrchr(parent, '.'); dot; dot = strrchr(parent, '.')) {
        *dot = '\0';
        const config_setting_t *g = config_lookup(L->cfg, parent);
        if (g && config_setting_source_line(g) > 0) {
            const char *f = config_setting_source_file(g);
            *file = f ? f : L->name;
            *line = (int)config_setting_source_line(g);
            return;
        }
        if (g)
            return; /* made by --set: the file has no line for it */
    }
}

/* Fills e for the setting st (or the unwritten key `key`) and returns -1. */
#if defined(__GNUC__)
__attribute__((format(printf, 5, 6)))
#endif
static int fail(const loader *L, const config_setting_t *st, const char *key, err_t *e,
                const char *fmt, ...)
{
    char msg[sizeof(e->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *file;
    int line;
    locate(L, st, key, &file, &line);
    return err_set(e, ERR_INPUT, file, line, key, "%s", msg);
}

/* A number for people: integers without a fraction, others with %g. */
static void fmt_num(double x, char *buf, size_t n)
{
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(buf, n, "%.0f", x);
    else
        snprintf(buf, n, "%g", x);
}

/* What the file wrote, as the file wrote it: 9, 1.5, "x", true, a group. */
static void describe(const config_setting_t *st, char *buf, size_t n)
{
    switch (config_setting_type(st)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, n, "%lld", config_setting_get_int64(st));
        break;
    case CONFIG_TYPE_FLOAT: {
        snprintf(buf, n, "%g", config_setting_get_float(st));
        if (!strpbrk(buf, ".eni")) /* keep it a float: 0.0 reads "0.0", not "0" */
            snprintf(buf + strlen(buf), n - strlen(buf), ".0");
        break;
    }
    case CONFIG_TYPE_BOOL:
        snprintf(buf, n, "%s", config_setting_get_bool(st) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING:
        snprintf(buf, n, "\"%.200s\"", config_setting_get_string(st));
        break;
    case CONFIG_TYPE_GROUP:
        snprintf(buf, n, "a group");
        break;
    default:
        snprintf(buf, n, "a list");
        break;
    }
}

static const char *unit_noun(key_type t)
{
    switch (t) {
    case KT_BANDWIDTH: return "a bandwidth";
    case KT_TIME: return "a time";
    case KT_SIZE: return "a size";
    default: return "a compute rate";
    }
}

static const char *unit_examples(key_type t)
{
    switch (t) {
    case KT_BANDWIDTH: return "\"400 Gb/s\" or \"50 GB/s\"";
    case KT_TIME: return "\"1.5 us\" or \"200 ns\"";
    case KT_SIZE: return "\"80 GiB\" or \"7168 B\"";
    default: return "\"989 TFLOP/s\" or \"312 TFLOPS\"";
    }
}

/* The i-th value an enum row allows, the model's names first and then the
 * row's own; NULL past the last. *code: what is stored for it. */
static const char *enum_at(const key_row *r, int i, int *code)
{
    if (i < r->count) {
        *code = i;
        return r->names(i);
    }
    i -= r->count;
    for (int k = 0; r->vals && r->vals[k]; k++)
        if (k == i) {
            *code = r->codes ? r->codes[k] : k;
            return r->vals[k];
        }
    return NULL;
}

/* Appends `"a", "b"` for the values (enum_at of r, or the NULL-ended list);
 * returns the new length. */
static size_t join_quoted(char *buf, size_t n, size_t k, const key_row *r,
                          const char *const *list)
{
    int code;
    const char *v;
    for (int i = 0; (v = r ? enum_at(r, i, &code) : list[i]) && k < n; i++) {
        int w = snprintf(buf + k, n - k, "%s\"%s\"", i ? ", " : "", v);
        k = w < 0 ? n : k + (size_t)w;
    }
    return k < n ? k : n - 1;
}

/* What a row allows, for messages (L set: bounds read from the loaded keys)
 * and for the docs (L NULL: bounds named by key). */
static void allowed(const loader *L, const key_row *r, char *buf, size_t n)
{
    char lo[32], hi[64];
    fmt_num(r->min, lo, sizeof(lo));
    if (r->max_key && L)
        snprintf(hi, sizeof(hi), "%lld", (long long)key_int(L->s, r->max_key));
    else if (r->max_key)
        snprintf(hi, sizeof(hi), "%s", r->max_key);
    else
        fmt_num(r->max, hi, sizeof(hi));
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
        if (r->na_what)
            snprintf(buf, n, "%s", lo);
        else if (r->flags & F_NO_MAX)
            snprintf(buf, n, "an integer >= %s", lo);
        else
            snprintf(buf, n, "an integer in [%s, %s]", lo, hi);
        break;
    case KT_FLOAT:
        if (r->flags & F_NO_MAX)
            snprintf(buf, n, "a number %s %s", (r->flags & F_MIN_OPEN) ? ">" : ">=", lo);
        else
            snprintf(buf, n, "a number in %c%s, %s]", (r->flags & F_MIN_OPEN) ? '(' : '[',
                     lo, hi);
        break;
    case KT_BOOL:
        snprintf(buf, n, "true or false");
        break;
    case KT_STRING:
        if (strcmp(r->path, "parallel.order") == 0)
            snprintf(buf, n, "tp, ep, dp, pp (and cp) joined by \"-\", each once, such "
                             "as \"tp-ep-dp-pp\"");
        else
            snprintf(buf, n, "a string of at most %zu characters", r->size - 1);
        break;
    case KT_ENUM: {
        size_t k = join_quoted(buf, n, 0, r, NULL);
        if (!L && r->na && k + 1 < n) {
            int w = snprintf(buf + k, n - k, " (not yet: ");
            k = w < 0 ? n - 1 : k + (size_t)w;
            if (k + 1 < n)
                k = join_quoted(buf, n, k, NULL, r->na);
            if (k + 1 < n)
                snprintf(buf + k, n - k, ")");
        }
        break;
    }
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS:
        snprintf(buf, n, "a number and a unit such as %s", unit_examples(r->type));
        break;
    case KT_LIST:
        if (L)
            snprintf(buf, n, "a list of rows, each a list of model.experts (%d) numbers",
                     L->s->model.experts);
        else
            snprintf(buf, n, "a list of rows, each a list of model.experts numbers");
        break;
    case KT_GPU:
        snprintf(buf, n, "a preset name (%s) or a group", gpu_preset_names());
        break;
    }
}

/* "<described value> is not <noun>; allowed: <allowed>" */
static int type_error(const loader *L, const key_row *r, const config_setting_t *st,
                      const char *noun, err_t *e)
{
    char what[256], ok[512];
    describe(st, what, sizeof(what));
    allowed(L, r, ok, sizeof(ok));
    return fail(L, st, r->path, e, "%s is not %s; allowed: %s", what, noun, ok);
}

/* Levenshtein distance of two short strings (cut at 127 characters). */
static int edit_distance(const char *a, const char *b)
{
    int prev[128], cur[128];
    size_t m = strlen(a), n = strlen(b);
    m = m > 127 ? 127 : m;
    n = n > 127 ? 127 : n;
    for (size_t j = 0; j <= n; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= m; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= n; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (n + 1) * sizeof(int));
    }
    return prev[n];
}

/* The names of the keys and groups directly under `parent` ("" = top level),
 * comma-separated, in table order. */
static void child_keys(const char *parent, char *list, size_t n)
{
    size_t pl = strlen(parent), k = 0;
    list[0] = '\0';
    for (size_t i = 0; i < NKEYS && k + 1 < n; i++) {
        const char *p = keys[i].path;
        if (pl && (strncmp(p, parent, pl) != 0 || p[pl] != '.'))
            continue;
        const char *child = pl ? p + pl + 1 : p;
        size_t cl = strcspn(child, ".");
        int seen = 0; /* once per child: a group has many rows */
        for (size_t j = 0; j < i && !seen; j++) {
            const char *q = keys[j].path;
            if (pl && (strncmp(q, parent, pl) != 0 || q[pl] != '.'))
                continue;
            const char *qc = pl ? q + pl + 1 : q;
            seen = strcspn(qc, ".") == cl && strncmp(qc, child, cl) == 0;
        }
        if (!seen) {
            int w = snprintf(list + k, n - k, "%s%.*s", k ? ", " : "", (int)cl, child);
            k = w < 0 ? n : k + (size_t)w;
        }
    }
}

/* An unknown key: suggest the closest key or group of the schema when it is
 * close enough to be a typo, else list the keys the enclosing group has. */
static int unknown_key(const loader *L, const config_setting_t *st, const char *path,
                       err_t *e)
{
    const char *best = NULL;
    size_t best_len = 0;
    int best_d = INT_MAX;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *p = keys[i].path;
        /* the key itself and each group above it ("cluster.gpu", "cluster") */
        for (size_t len = strlen(p); len > 0;) {
            char cand[128];
            snprintf(cand, sizeof(cand), "%.*s", (int)len, p);
            int d = edit_distance(path, cand);
            if (d < best_d) {
                best_d = d;
                best = p;
                best_len = len;
            }
            const char *dot = NULL;
            for (size_t k = 0; k < len; k++)
                if (p[k] == '.')
                    dot = p + k;
            len = dot ? (size_t)(dot - p) : 0;
        }
    }
    /* two edits cover a swapped pair ("modle"); a third of the length covers
     * longer slips ("cluster.gpu.hbm_bw") without suggesting nonsense for
     * a key that is simply not there */
    int plen = (int)strlen(path);
    if (best && (best_d <= 2 || best_d * 3 <= plen))
        return fail(L, st, path, e, "unknown key; did you mean \"%.*s\"?", (int)best_len,
                    best);

    /* no near miss: list the keys of the enclosing group */
    char parent[128] = "", list[600];
    const char *dot = strrchr(path, '.');
    if (dot)
        snprintf(parent, sizeof(parent), "%.*s", (int)(dot - path), path);
    child_keys(parent, list, sizeof(list));
    return fail(L, st, path, e, "unknown key; allowed: %s", list);
}

/* ---- --set overrides ---- */

/* Deep copy of a libconfig setting under parent (name NULL inside lists). */
static void copy_setting(config_setting_t *parent, const char *name,
                         const config_setting_t *src)
{
    int type = config_setting_type(src);
    config_setting_t *dst = config_setting_add(parent, name, type);
    if (!dst) /* an array refusing a mixed element cannot happen: src was valid */
        return;
    switch (type) {
    case CONFIG_TYPE_INT: config_setting_set_int(dst, config_setting_get_int(src)); break;
    case CONFIG_TYPE_INT64:
        config_setting_set_int64(dst, config_setting_get_int64(src));
        break;
    case CONFIG_TYPE_FLOAT:
        config_setting_set_float(dst, config_setting_get_float(src));
        break;
    case CONFIG_TYPE_BOOL: config_setting_set_bool(dst, config_setting_get_bool(src)); break;
    case CONFIG_TYPE_STRING:
        config_setting_set_string(dst, config_setting_get_string(src));
        break;
    default: /* group, array, list */
        for (int i = 0; i < config_setting_length(src); i++) {
            const config_setting_t *c = config_setting_get_elem(src, (unsigned)i);
            copy_setting(dst, type == CONFIG_TYPE_GROUP ? config_setting_name(c) : NULL, c);
        }
        break;
    }
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    size_t i = strspn(s, " \t");
    memmove(s, s + i, n - i + 1);
}

/* Applies "key.path=value": the value is read as a scenario file would read
 * it, or taken as a string when it does not parse (so quotes may be left out),
 * then put into the tree at the path, replacing what the file wrote. */
static int apply_set(loader *L, const char *set, err_t *e)
{
    const char *eq = strchr(set, '=');
    char key[128], val[1024];
    if (eq && (size_t)(eq - set) < sizeof(key)) {
        snprintf(key, sizeof(key), "%.*s", (int)(eq - set), set);
        trim(key);
    }
    if (!eq || (size_t)(eq - set) >= sizeof(key) || !key[0])
        return err_set(e, ERR_INPUT, "--set", 0, NULL,
                       "\"%.200s\" is not key=value; allowed: a key and a value such as "
                       "model.top_k=2 or cluster.gpu=H800-SXM",
                       set);
    if (strlen(eq + 1) >= sizeof(val))
        return err_set(e, ERR_INPUT, "--set", 0, key,
                       "the value is too long; allowed: at most %zu characters",
                       sizeof(val) - 1);
    snprintf(val, sizeof(val), "%s", eq + 1);
    trim(val);
    if (!row_find(key) && !is_group_path(key)) {
        unknown_key(L, NULL, key, e);
        snprintf(e->file, sizeof(e->file), "--set"); /* not the file's enclosing group */
        e->line = 0;
        return -1;
    }

    config_t tmp;
    config_init(&tmp);
    char text[1100];
    /* libconfig 1.5 wraps an integer beyond 32 bits unless it ends in L; a
     * command line should not need to know that */
    size_t digits = strspn(val + (val[0] == '-'), "0123456789");
    int wide = digits > 9 && val[(val[0] == '-') + digits] == '\0';
    snprintf(text, sizeof(text), "v = %s%s;", val, wide ? "L" : "");
    if (!config_read_string(&tmp, text)) { /* not a libconfig value: a bare string */
        config_destroy(&tmp);
        config_init(&tmp);
        config_setting_t *v = config_setting_add(config_root_setting(&tmp), "v",
                                                 CONFIG_TYPE_STRING);
        config_setting_set_string(v, val);
    }
    const config_setting_t *src = config_lookup(&tmp, "v");

    /* walk down, making the groups the file lacks */
    config_setting_t *parent = config_root_setting(L->cfg);
    char path[128];
    snprintf(path, sizeof(path), "%s", key);
    char *part = path;
    for (char *dot = strchr(part, '.'); dot; part = dot + 1, dot = strchr(part, '.')) {
        *dot = '\0';
        config_setting_t *g = config_setting_get_member(parent, part);
        if (g && !config_setting_is_group(g)) {
            /* "cluster.gpu = \"H800-SXM\"" plus --set cluster.gpu.hbm=...: the name
             * becomes the group's preset */
            char preset_key[160];
            snprintf(preset_key, sizeof(preset_key), "%.*s.preset", (int)(dot - path), path);
            if (config_setting_type(g) == CONFIG_TYPE_STRING && row_find(preset_key)) {
                char name[128];
                snprintf(name, sizeof(name), "%s", config_setting_get_string(g));
                config_setting_remove(parent, part);
                g = config_setting_add(parent, part, CONFIG_TYPE_GROUP);
                config_setting_set_string(config_setting_add(g, "preset", CONFIG_TYPE_STRING),
                                          name);
            } else {
                *dot = '.';
                config_destroy(&tmp);
                return err_set(e, ERR_INPUT, "--set", 0, key,
                               "%.*s is not a group in the scenario; allowed: set "
                               "%.*s itself",
                               (int)(dot - path), path, (int)(dot - path), path);
            }
        }
        if (!g)
            g = config_setting_add(parent, part, CONFIG_TYPE_GROUP);
        parent = g;
        *dot = '.';
    }
    /* replace rather than edit: the new setting has line 0, which is how errors
     * about it know to say "--set" */
    if (config_setting_get_member(parent, part))
        config_setting_remove(parent, part);
    copy_setting(parent, part, src);
    config_destroy(&tmp);
    return 0;
}

/* ---- unknown keys ---- */

/* Every setting of the tree must be a key or a group of the schema. */
static int walk(loader *L, const config_setting_t *g, const char *prefix, err_t *e)
{
    for (int i = 0; i < config_setting_length(g); i++) {
        const config_setting_t *c = config_setting_get_elem(g, (unsigned)i);
        char path[256];
        if (prefix)
            snprintf(path, sizeof(path), "%s.%s", prefix, config_setting_name(c));
        else
            snprintf(path, sizeof(path), "%s", config_setting_name(c));
        const key_row *r = row_find(path);
        int group = config_setting_is_group(c);
        /* lists are values (logits), never walked into: their rows have no names */
        if (r) {
            if (group && r->type == KT_GPU && walk(L, c, path, e) < 0)
                return -1;
            continue; /* a key: its type is checked with its row */
        }
        if (!is_group_path(path))
            return unknown_key(L, c, path, e);
        if (!group) {
            char what[256], list[600];
            describe(c, what, sizeof(what));
            child_keys(path, list, sizeof(list));
            return fail(L, c, path, e, "%s is not a group; allowed: a group of the keys %s",
                        what, list);
        }
        if (walk(L, c, path, e) < 0)
            return -1;
    }
    return 0;
}

/* ---- one row: read, default, bounds, store, check ---- */

/* Reads the setting st as row r wants it. */
static int read_value(const loader *L, const key_row *r, const config_setting_t *st,
                      value *v, err_t *e)
{
    int t = config_setting_type(st);
    int is_int = t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    v->st = st;
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
        if (!is_int)
            return type_error(L, r, st, "an integer", e);
        v->i = config_setting_get_int64(st);
        return 0;
    case KT_FLOAT:
        if (is_int) /* "capacity_factor = 2" means 2.0: auto-convert is off, so do it here */
            v->d = (double)config_setting_get_int64(st);
        else if (t == CONFIG_TYPE_FLOAT)
            v->d = config_setting_get_float(st);
        else
            return type_error(L, r, st, "a number", e);
        return 0;
    case KT_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            return type_error(L, r, st, "a boolean", e);
        v->i = config_setting_get_bool(st);
        return 0;
    case KT_STRING:
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, "a string", e);
        v->s = config_setting_get_string(st);
        return 0;
    case KT_GPU:
        if (t == CONFIG_TYPE_STRING)
            v->s = config_setting_get_string(st);
        else if (t != CONFIG_TYPE_GROUP)
            return type_error(L, r, st, "a GPU", e);
        return 0;
    case KT_LIST:
        if (t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY)
            return type_error(L, r, st, "a list", e);
        return 0;
    case KT_ENUM: {
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, "a string", e);
        const char *s = config_setting_get_string(st);
        int code;
        for (int i = 0; enum_at(r, i, &code); i++) {
            if (strcmp(s, enum_at(r, i, &code)) == 0) {
                v->i = code;
                v->s = enum_at(r, i, &code);
                return 0;
            }
        }
        /* a value of a later version is told apart from a typo: the user may be
         * reading DESIGN.md, and should learn it is planned, not misspelled */
        char ok[512];
        allowed(L, r, ok, sizeof(ok));
        for (int i = 0; r->na && r->na[i]; i++)
            if (strcmp(s, r->na[i]) == 0)
                return fail(L, st, r->path, e,
                            "\"%.200s\" is not available in this version; allowed: %s", s, ok);
        return fail(L, st, r->path, e, "\"%.200s\" is not a known value; allowed: %s", s, ok);
    }
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS: {
        /* a bare number is refused: 50e9 could be bytes or bits per second */
        if (t != CONFIG_TYPE_STRING)
            return type_error(L, r, st, unit_noun(r->type), e);
        const char *s = config_setting_get_string(st);
        char why[512]; /* the parser's reason; the message shows examples instead */
        int rc;
        if (r->type == KT_BANDWIDTH)
            rc = units_parse_bandwidth(s, &v->d, why, sizeof(why));
        else if (r->type == KT_SIZE)
            rc = units_parse_size(s, &v->d, why, sizeof(why));
        else if (r->type == KT_FLOPS)
            rc = units_parse_flops(s, &v->d, why, sizeof(why));
        else {
            sim_time_t ps = 0;
            rc = units_parse_time(s, &ps, why, sizeof(why));
            v->i = ps;
            v->d = (double)ps;
        }
        if (rc < 0)
            return type_error(L, r, st, unit_noun(r->type), e);
        return 0;
    }
    }
    return 0;
}

/* Bounds of a given value (defaults are in bounds by construction). */
static int check_bounds(const loader *L, const key_row *r, const value *v, err_t *e)
{
    char ok[512], what[256];
    int bad = 0;
    switch (r->type) {
    case KT_INT:
    case KT_INT64: {
        int64_t hi = r->max_key ? key_int(L->s, r->max_key)
                     : (r->flags & F_NO_MAX) ? INT64_MAX
                                             : (int64_t)r->max;
        if (v->i >= (int64_t)r->min && v->i <= hi)
            return 0;
        allowed(L, r, ok, sizeof(ok));
        if (r->na_what && v->i > hi) /* tp = 2 is planned, not wrong */
            return fail(L, v->st, r->path, e, "%s not available in this version; allowed: %s",
                        r->na_what, ok);
        if (r->max_key && v->i > hi) /* name the key that sets the bound */
            return fail(L, v->st, r->path, e, "%lld is larger than %s (%lld); allowed: %s",
                        (long long)v->i, r->max_key, (long long)hi, ok);
        return fail(L, v->st, r->path, e, "%lld is out of range; allowed: %s", (long long)v->i,
                    ok);
    }
    case KT_FLOAT:
        bad = (r->flags & F_MIN_OPEN) ? !(v->d > r->min) : !(v->d >= r->min);
        bad |= !(r->flags & F_NO_MAX) && !(v->d <= r->max);
        if (!bad)
            return 0;
        describe(v->st, what, sizeof(what));
        allowed(L, r, ok, sizeof(ok));
        return fail(L, v->st, r->path, e, "%s is out of range; allowed: %s", what, ok);
    case KT_BANDWIDTH:
    case KT_TIME:
    case KT_SIZE:
    case KT_FLOPS: /* the parser refuses negative numbers; some keys refuse zero */
        if (!(r->flags & F_MIN_OPEN) || v->d > 0)
            return 0;
        describe(v->st, what, sizeof(what));
        return fail(L, v->st, r->path, e, "%s is zero; allowed: more than zero, such as %s",
                    what, unit_examples(r->type));
    default:
        return 0;
    }
}

/* Writes v into r's field of s. */
static int store(const loader *L, const key_row *r, const value *v, err_t *e)
{
    if (r->size == 0)
        return 0;
    char *p = (char *)L->s + r->off;
    switch (r->type) {
    case KT_INT:
    case KT_INT64:
    case KT_ENUM:
    case KT_TIME:
        if (r->size == sizeof(int64_t)) {
            int64_t x = v->i;
            memcpy(p, &x, sizeof(x));
        } else {
            int x = (int)v->i; /* in bounds, so it fits */
            memcpy(p, &x, sizeof(x));
        }
        return 0;
    case KT_BOOL: {
        bool b = v->i != 0;
        memcpy(p, &b, sizeof(b));
        return 0;
    }
    case KT_FLOAT:
    case KT_BANDWIDTH:
    case KT_SIZE:
    case KT_FLOPS:
        memcpy(p, &v->d, sizeof(v->d));
        return 0;
    case KT_STRING:
    case KT_GPU:
        if (!v->s) /* a GPU group: its preset row has stored the name */
            return 0;
        if (strlen(v->s) >= r->size) {
            char ok[512];
            allowed(L, r, ok, sizeof(ok));
            return fail(L, v->st, r->path, e, "\"%.40s...\" is too long; allowed: %s", v->s,
                        ok);
        }
        memcpy(p, v->s, strlen(v->s) + 1);
        return 0;
    case KT_LIST:
        return 0;
    }
    return 0;
}

/* Reads, checks and stores one row: what the tree gives, else the default. */
static int load_row(loader *L, const key_row *r, err_t *e)
{
    value v = {0};
    /* NULL also when a parent is a scalar ("cluster.gpu.hbm" under a preset
     * name): walk() has refused scalars where groups belong, except that one */
    const config_setting_t *st = config_lookup(L->cfg, r->path);
    int rc = 0;
    if (st) {
        if (read_value(L, r, st, &v, e) < 0 || check_bounds(L, r, &v, e) < 0)
            return -1;
        rc = store(L, r, &v, e);
    } else if (r->deflt) {
        r->deflt(L->s, r, &v);
        rc = store(L, r, &v, e);
    } else if (r->def) {
        /* the default is read as a file would read it, by the same code */
        config_t tmp;
        config_init(&tmp);
        char text[256];
        snprintf(text, sizeof(text), "v = %s;", r->def);
        const config_setting_t *d = config_read_string(&tmp, text) ? config_lookup(&tmp, "v")
                                                                   : NULL;
        assert(d != NULL); /* a default in the table that does not parse is a bug */
        rc = read_value(L, r, d, &v, e);
        v.st = NULL;
        if (rc == 0)
            rc = store(L, r, &v, e);
        if (rc == 0 && r->check)
            rc = r->check(L, r, &v, e);
        config_destroy(&tmp); /* v.s pointed into it: checked and copied by now */
        return rc;
    } else {
        char ok[512];
        allowed(L, r, ok, sizeof(ok));
        return fail(L, NULL, r->path, e, "missing; allowed: %s", ok);
    }
    if (rc == 0 && r->check)
        rc = r->check(L, r, &v, e);
    return rc;
}

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
    return fail(L, v->st, r->path, e,
                "%lld makes all model.layers (%d) dense; allowed: an integer in [0, %d]",
                (long long)v->i, L->s->model.layers, L->s->model.layers - 1);
}

static int check_moe_every(loader *L, const key_row *r, const value *v, err_t *e)
{
    int after = L->s->model.layers - L->s->model.first_dense;
    if (v->i <= after)
        return 0;
    return fail(L, v->st, r->path, e,
                "%lld leaves no MoE layer in the %d layers after model.first_dense (%d); "
                "allowed: an integer in [1, %d]",
                (long long)v->i, after, L->s->model.first_dense, after);
}

static int check_kv_heads(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (L->s->model.heads % v->i == 0)
        return 0;
    return fail(L, v->st, r->path, e,
                "%lld does not divide model.heads (%d); allowed: a divisor of model.heads (%d)",
                (long long)v->i, L->s->model.heads, L->s->model.heads);
}

static int check_router_kind(loader *L, const key_row *r, const value *v, err_t *e)
{
    if (strcmp(v->s, "switch") != 0 || L->s->model.top_k == 1)
        return 0;
    return fail(L, v->st, r->path, e,
                "\"switch\" routes each token to one expert, but model.top_k is %d; allowed: "
                "\"softmax_topk\", or \"switch\" with model.top_k = 1",
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
    return fail(L, st ? st : v->st, key, e, "%s", re.msg);
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
    return fail(L, st ? st : v->st, key, e, "%s", ce.msg);
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
    return fail(L, st, key, e, "\"%s\" is not a GPU preset; allowed: %s", name,
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
    return fail(L, v->st, r->path, e,
                "%lld x parallel.tp (%d) x parallel.pp (%d) = %lld is not the %lld GPUs "
                "(cluster.nodes %d x cluster.gpus_per_node %d); allowed: %s",
                (long long)v->i, s->parallel.tp, s->parallel.pp, (long long)(v->i * tp_pp),
                (long long)world, s->cluster.topo.nodes, s->cluster.topo.gpus_per_node, ok);
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
        return fail(L, v->st, r->path, e,
                    "%lld is larger than the %lld GPUs (cluster.nodes %d x "
                    "cluster.gpus_per_node %d); allowed: a divisor of %s",
                    (long long)v->i, (long long)world, s->cluster.topo.nodes,
                    s->cluster.topo.gpus_per_node, dps);
    if (dp % v->i != 0)
        return fail(L, v->st, r->path, e, "%lld does not divide %s; allowed: a divisor of %s",
                    (long long)v->i, dps, dps);
    if (dp % (v->i * etp) != 0) {
        char ok[256];
        size_t k = 0;
        ok[0] = '\0';
        for (int d = 1; d <= dp / etp && k + 16 < sizeof(ok); d++)
            if ((dp / etp) % d == 0 && dp % (d * etp) == 0 && experts % d == 0)
                k += (size_t)snprintf(ok + k, sizeof(ok) - k, "%s%d", k ? ", " : "", d);
        return fail(L, v->st, r->path, e,
                    "%lld x parallel.etp (%d) = %lld does not divide %s; allowed: %s",
                    (long long)v->i, etp, (long long)(v->i * etp), dps, ok[0] ? ok : "none");
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
    return fail(L, v->st, r->path, e,
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
        return fail(L, v->st, r->path, e,
                    "%d does not divide the %lld GPUs (cluster.nodes %d x "
                    "cluster.gpus_per_node %d); allowed: a divisor of %lld",
                    tp, (long long)world, s->cluster.topo.nodes, s->cluster.topo.gpus_per_node,
                    (long long)world);
    for (size_t i = 0; i < sizeof(split) / sizeof(split[0]); i++) {
        if (!split[i].need || split[i].n % tp == 0)
            continue;
        char ok[256];
        size_t k = 0;
        for (int d = 1; d <= split[i].n && d <= world && k + 16 < sizeof(ok); d++)
            if (split[i].n % d == 0 && world % d == 0)
                k += (size_t)snprintf(ok + k, sizeof(ok) - k, "%s%d", k ? ", " : "", d);
        return fail(L, v->st, r->path, e,
                    "%d does not divide %s (%d), which tensor parallelism splits; allowed: "
                    "a common divisor of %s and the %lld GPUs: %s",
                    tp, split[i].key, split[i].n, split[i].key, (long long)world, ok);
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
    return fail(L, v->st, r->path, e,
                "%d does not divide model.expert_ffn (%d), which expert tensor parallelism "
                "splits; allowed: a divisor of %d",
                etp, s->model.expert_ffn, s->model.expert_ffn);
}

/* With tensor parallelism each TP rank routes 1/tp of its DP rank's tokens
 * (Megatron-Core's sequence-parallel split before the token dispatcher). */
static int check_tokens(loader *L, const key_row *r, const value *v, err_t *e)
{
    int tp = L->s->parallel.tp;
    if (v->i % tp == 0)
        return 0;
    return fail(L, v->st, r->path, e,
                "%lld is not a multiple of parallel.tp (%d): each TP rank dispatches "
                "tokens_per_rank / tp tokens; allowed: a multiple of %d",
                (long long)v->i, tp, tp);
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
        return fail(L, v->st, r->path, e,
                    "%lld needs placement.strategy \"eplb\" or \"dynamic\" (replicas are "
                    "placed by EPLB), not \"%s\"; allowed: 0",
                    (long long)v->i, placement_strategy_name(st));
    if (v->i % ep != 0)
        return fail(L, v->st, r->path, e,
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
    return fail(L, v->st, r->path, e,
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
    return fail(L, v->st, r->path, e,
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
    allowed(L, r, ok, sizeof(ok));
    snprintf(what, sizeof(what), "\"%.200s\"", v->s);
    const char *p = v->s;
    for (;;) {
        size_t n = strcspn(p, "-");
        int d = -1;
        for (int i = 0; i < 5; i++)
            if (n == 2 && strncmp(p, dims[i], 2) == 0)
                d = i;
        if (d < 0)
            return fail(L, v->st, r->path, e, "%s: \"%.*s\" is not a dimension; allowed: %s",
                        what, (int)n, p, ok);
        if (seen[d]++)
            return fail(L, v->st, r->path, e, "%s names %s twice; allowed: %s", what, dims[d],
                        ok);
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    for (int i = 0; i < 5; i++)
        if (needed[i] && !seen[i])
            return fail(L, v->st, r->path, e, "%s lacks %s; allowed: %s", what, dims[i], ok);
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
        return fail(L, v->st, r->path, e,
                    "given, but workload.source.kind is not \"trace\"; allowed: a file only "
                    "with workload.source.kind = \"trace\"");
    if (!trace)
        return 0;
    if (!s->workload.trace_file[0])
        return fail(L, v->st, r->path, e,
                    "missing (workload.source.kind is \"trace\"); allowed: the path of a "
                    "routing trace written by moesim run --trace");
    if (s->model.capacity.overflow == CAPACITY_REROUTE)
        return fail(L, config_lookup(L->cfg, "model.router.overflow"), "model.router.overflow",
                    e, "\"reroute\" with a trace source: a trace holds each token's chosen "
                       "experts, not its ranking of the others; allowed: \"drop\", "
                       "\"dropless\", \"adaptive\"");
    if (s->model.capacity.priority == CAPACITY_SCORE)
        return fail(L, config_lookup(L->cfg, "model.router.priority"), "model.router.priority",
                    e, "\"score\" with a trace source: a trace holds no gate weights; "
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
            return fail(L, v->st, r->path, e, "the path from %s is too long; allowed: at most "
                        "%zu characters", from, sizeof(path) - 1);
        memcpy(s->workload.trace_file, path, (size_t)n + 1);
    }
    return 0;
}

/* The fixed source's logits: rows of exactly model.experts numbers. */
static int check_logits(loader *L, const key_row *r, const value *v, err_t *e)
{
    scenario *s = L->s;
    char ok[512];
    allowed(L, r, ok, sizeof(ok));
    int fixed = s->workload.source.kind == SOURCE_FIXED;
    if (!v->st && !fixed)
        return 0;
    if (!v->st)
        return fail(L, NULL, r->path, e,
                    "missing (workload.source.kind is \"fixed\"); allowed: %s", ok);
    if (!fixed)
        return fail(L, v->st, r->path, e,
                    "given, but workload.source.kind is not \"fixed\"; allowed: logits only "
                    "with workload.source.kind = \"fixed\"");
    int rows = config_setting_length(v->st);
    if (rows == 0)
        return fail(L, v->st, r->path, e, "an empty list; allowed: %s", ok);
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
            describe(row, what, sizeof(what));
            return fail(L, row, key, e, "%s is not a row; allowed: a list of model.experts "
                                        "(%d) numbers such as [0.5, -1.0, ...]",
                        what, experts);
        }
        int n = config_setting_length(row);
        if (n != experts)
            return fail(L, row, key, e,
                        "%d numbers, not model.experts (%d); allowed: a list of %d numbers", n,
                        experts, experts);
        for (int j = 0; j < n; j++) {
            const config_setting_t *c = config_setting_get_elem(row, (unsigned)j);
            int ct = config_setting_type(c);
            if (ct == CONFIG_TYPE_FLOAT)
                x[(size_t)i * (size_t)experts + (size_t)j] = config_setting_get_float(c);
            else if (ct == CONFIG_TYPE_INT || ct == CONFIG_TYPE_INT64)
                x[(size_t)i * (size_t)experts + (size_t)j] =
                    (double)config_setting_get_int64(c);
            else {
                snprintf(key, sizeof(key), "%s[%d][%d]", r->path, i, j);
                describe(c, what, sizeof(what));
                return fail(L, c, key, e, "%s is not a number; allowed: a number", what);
            }
        }
    }
    return 0;
}

/* ---- loading ---- */

/* What follows from the rows: the configs other modules take, whole. */
static void derive(scenario *s)
{
    int moe = 0;
    for (int l = 0; l < s->model.layers; l++)
        moe += scenario_is_moe_layer(s, l);
    s->moe_layers = moe;
    s->model.router.experts = s->model.experts;
    s->model.router.top_k = s->model.top_k;
    s->model.groups = s->model.router.groups; /* the router's, mirrored */
    s->model.topk_groups = s->model.router.topk_groups;
    s->workload.source.layers = moe;
    s->workload.source.experts = s->model.experts;
    s->workload.source.seq_len = s->workload.seq_len;
}

/* ---- system presets ---- */

/* A named machine: the cluster keys it implies, as `--set` would write them.
 * They fill in only what the scenario (and the command line) left out.
 * Figures and sources: docs/hardware.md ("Systems"). */
static const struct system_preset {
    const char *name;
    const char *keys[8];
} systems[] = {
    /* NVIDIA DGX H100 user guide: 8 H100 SXM5, 4 NVSwitch (NVLink4, 900 GB/s per
     * GPU both ways), 8 ConnectX-7 400 Gb/s compute ports, one per GPU */
    {"DGX-H100",
     {"cluster.gpus_per_node=8", "cluster.gpu=H100-SXM", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=450 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=400 Gb/s", NULL}},
    /* DeepSeek ISCA 2025 §4.1/§4.3: 8 H800 SXM5 per node, NVLink 400 GB/s both
     * ways, 8 ConnectX-7 400 Gb/s InfiniBand NICs, one per GPU */
    {"HGX-H800",
     {"cluster.gpus_per_node=8", "cluster.gpu=H800-SXM", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=200 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=400 Gb/s", NULL}},
    /* NVIDIA DGX A100 user guide: 8 A100 SXM4 80GB, 6 NVSwitch (NVLink3, 600 GB/s
     * per GPU both ways), 8 ConnectX-6 200 Gb/s HDR InfiniBand compute ports */
    {"DGX-A100",
     {"cluster.gpus_per_node=8", "cluster.gpu=A100-SXM-80GB", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=300 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=200 Gb/s", NULL}},
};

/* Expands cluster.system into the keys it implies that the tree lacks. A
 * value of the wrong type is left for the row's own type check. */
static int apply_system(loader *L, err_t *e)
{
    const config_setting_t *st = config_lookup(L->cfg, "cluster.system");
    if (!st || config_setting_type(st) != CONFIG_TYPE_STRING)
        return 0;
    const char *name = config_setting_get_string(st);
    if (!name[0])
        return 0;
    for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++) {
        if (strcmp(name, systems[i].name) != 0)
            continue;
        for (const char *const *kv = systems[i].keys; *kv; kv++) {
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)(strchr(*kv, '=') - *kv), *kv);
            if (!config_lookup(L->cfg, key) && apply_set(L, *kv, e) < 0)
                return -1;
        }
        return 0;
    }
    return fail(L, st, "cluster.system", e,
                "\"%s\" is not a system preset; allowed: \"DGX-H100\", \"HGX-H800\", "
                "\"DGX-A100\"",
                name);
}

/* ---- memory fit ---- */

void scenario_memory(const scenario *s, gpu_memory_shape *sh, gpu_memory *need)
{
    /* The most loaded pipeline stage: stage k holds layers [k L / pp,
     * (k + 1) L / pp), the split play.c uses. */
    int pp = s->parallel.pp > 0 ? s->parallel.pp : 1, L = s->model.layers;
    int best = -1;
    memset(sh, 0, sizeof(*sh));
    for (int k = 0; k < pp; k++) {
        int lo = (int)((int64_t)k * L / pp), hi = (int)((int64_t)(k + 1) * L / pp), moe = 0;
        for (int l = lo; l < hi; l++)
            moe += scenario_is_moe_layer(s, l);
        int w = (hi - lo) * 4 + moe; /* any order that ranks more layers, then more MoE */
        if (w > best) {
            best = w;
            sh->layers = hi - lo;
            sh->moe_layers = moe;
        }
    }
    int tp = s->parallel.tp > 0 ? s->parallel.tp : 1;
    int ep = s->parallel.ep > 0 ? s->parallel.ep : 1;
    sh->attn = (gpu_attn_shape){s->model.hidden, s->model.heads, s->model.kv_heads,
                                s->model.head_dim, s->workload.seq_len, s->model.dtype};
    sh->dense_ffn = s->model.dense_ffn;
    sh->expert_ffn = s->model.expert_ffn;
    sh->matrices = s->model.ffn_matrices;
    sh->experts = s->model.experts;
    sh->shared_experts = s->model.shared_experts;
    sh->slots = (s->model.experts + s->placement.redundant) / ep;
    sh->top_k = s->model.top_k;
    sh->tp = tp;
    sh->etp = s->parallel.etp > 0 ? s->parallel.etp : 1;
    sh->weight_dt = s->model.weight_dtype;
    sh->act_dt = s->model.dtype;
    sh->tokens = s->workload.tokens_per_rank;
    sh->moe_tokens = s->workload.tokens_per_rank / tp;
    sh->dispatch_row = coll_row_bytes(s->model.hidden, s->network.dispatch_dtype);
    sh->combine_row = coll_row_bytes(s->model.hidden, s->network.combine_dtype);
    gpu_memory_need(sh, need);
}

/* Refuses a scenario whose GPUs cannot hold it, with the parts of the sum. */
static int check_memory(loader *L, err_t *e)
{
    const scenario *s = L->s;
    if (!s->cluster.check_memory)
        return 0;
    gpu_memory_shape sh;
    gpu_memory m;
    scenario_memory(s, &sh, &m);
    if (m.total <= s->cluster.gpu.hbm_bytes)
        return 0;
    const double G = 1e9; /* GB, as datasheets and the presets count HBM */
    return fail(L, config_lookup(L->cfg, "cluster.gpu"), "cluster.gpu", e,
                "model does not fit: %.1f GB needed per GPU (weights %.1f GB: attention "
                "%.1f, dense FFN %.1f, routed experts %.1f, shared experts %.1f, gates %.1f; "
                "activations %.1f GB: layer buffers %.1f, all-to-all buffers %.1f) > %.1f GB "
                "on %s; allowed: more GPUs (parallel.ep, parallel.tp, parallel.pp), a smaller "
                "batch (workload.tokens_per_rank), smaller weights (model.weight_dtype), or "
                "cluster.check_memory = false for a what-if study",
                m.total / G, m.weights / G, m.attention / G, m.dense_ffn / G, m.experts / G,
                m.shared / G, m.gate / G, m.activations / G, m.layer_act / G,
                m.a2a_buffers / G, s->cluster.gpu.hbm_bytes / G, s->cluster.gpu.name);
}

static int load(loader *L, const char *const *sets, int nsets, err_t *e)
{
    for (int i = 0; i < nsets; i++)
        if (apply_set(L, sets[i], e) < 0)
            return -1;
    if (apply_system(L, e) < 0)
        return -1;
    if (walk(L, config_root_setting(L->cfg), NULL, e) < 0)
        return -1;
    for (size_t i = 0; i < NKEYS; i++) /* in table order: defaults read rows above */
        if (load_row(L, &keys[i], e) < 0)
            return -1;
    derive(L->s);
    return check_memory(L, e);
}

static int syntax_error(const config_t *cfg, const char *name, err_t *e)
{
    const char *file = config_error_file(cfg);
    if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
        return err_set(e, ERR_INPUT, name, 0, NULL, "cannot read the file; allowed: a "
                                                    "readable scenario file");
    return err_set(e, ERR_INPUT, file ? file : name, config_error_line(cfg), NULL, "%s",
                   config_error_text(cfg) ? config_error_text(cfg) : "syntax error");
}

int scenario_load_file(const char *path, const char *const *sets, int nsets, scenario *out,
                       err_t *e)
{
    memset(out, 0, sizeof(*out));
    err_clear(e);
    snprintf(out->file, sizeof(out->file), "%s", path);
    config_t cfg;
    config_init(&cfg);
    int rc;
    if (!config_read_file(&cfg, path)) {
        rc = syntax_error(&cfg, path, e);
    } else {
        loader L = {out, &cfg, path};
        rc = load(&L, sets, nsets, e);
    }
    config_destroy(&cfg);
    return rc;
}

int scenario_load_string(const char *text, const char *name, const char *const *sets,
                         int nsets, scenario *out, err_t *e)
{
    memset(out, 0, sizeof(*out));
    err_clear(e);
    snprintf(out->file, sizeof(out->file), "%s", name);
    config_t cfg;
    config_init(&cfg);
    int rc;
    if (!config_read_string(&cfg, text)) {
        rc = syntax_error(&cfg, name, e);
    } else {
        loader L = {out, &cfg, name};
        rc = load(&L, sets, nsets, e);
    }
    config_destroy(&cfg);
    return rc;
}

void scenario_fini(scenario *s)
{
    if (!s)
        return;
    free((void *)s->workload.source.fixed_logits); /* allocated by check_logits */
    s->workload.source.fixed_logits = NULL;
    s->workload.source.fixed_rows = 0;
}

bool scenario_is_moe_layer(const scenario *s, int l)
{
    if (l < s->model.first_dense || l >= s->model.layers || s->model.moe_every < 1)
        return false;
    return (l - s->model.first_dense + 1) % s->model.moe_every == 0;
}

/* ---- the key reference ---- */

static const char *type_name(key_type t)
{
    switch (t) {
    case KT_INT:
    case KT_INT64: return "integer";
    case KT_FLOAT: return "number";
    case KT_BOOL: return "boolean";
    case KT_STRING: return "string";
    case KT_ENUM: return "one of";
    case KT_BANDWIDTH: return "bandwidth";
    case KT_TIME: return "time";
    case KT_SIZE: return "size";
    case KT_FLOPS: return "FLOP/s";
    case KT_LIST: return "list";
    case KT_GPU: return "preset or group";
    }
    return "?";
}

void scenario_write_keys_md(FILE *f)
{
    fprintf(f, "| key | type | default | allowed | meaning |\n");
    fprintf(f, "| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const key_row *r = &keys[i];
        char ok[768];
        allowed(NULL, r, ok, sizeof(ok));
        if (r->na_what)
            snprintf(ok + strlen(ok), sizeof(ok) - strlen(ok), " (other values: later)");
        if (r->deflt)
            fprintf(f, "| `%s` | %s | %s | %s | %s |\n", r->path, type_name(r->type), r->def,
                    ok, r->help);
        else if (r->def)
            fprintf(f, "| `%s` | %s | `%s` | %s | %s |\n", r->path, type_name(r->type), r->def,
                    ok, r->help);
        else
            fprintf(f, "| `%s` | %s | required | %s | %s |\n", r->path, type_name(r->type), ok,
                    r->help);
    }
}
