/*
 * scenario.h - a scenario file, parsed, checked and converted to units.
 *
 * Scenario files are libconfig text. The schema is one table (schema.c):
 * each row a key path, its type and unit, bounds, default and help; the same
 * table drives parsing, `moesim check`, `--set` overrides and the key
 * reference in docs/scenario.md. Every error names file:line, the key, the
 * bad value and what is allowed, and has code ERR_INPUT. Unknown keys are
 * errors that suggest the closest known key.
 */
#ifndef MOESIM_SCENARIO_H
#define MOESIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "moesim/base.h"
#include "moesim/capacity.h"
#include "moesim/collective.h"
#include "moesim/gpu.h"
#include "moesim/net.h"
#include "moesim/placement.h"
#include "moesim/sched.h"
#include "moesim/router.h"
#include "moesim/source.h"
#include "moesim/topo.h"

/* parallel.pp_layers: at most this many stages listed */
#define SCENARIO_MAX_STAGES 256

typedef enum scenario_mode { MODE_FORWARD, MODE_TRAINING } scenario_mode;
/* model.attention: grouped-query (multi-head when kv_heads = heads), or
 * DeepSeek's multi-head latent attention */
enum { SCENARIO_ATTN_GQA, SCENARIO_ATTN_MLA };
typedef struct scenario {
    char file[256];   /* the file it came from, or "<name> (built-in)" */
    char name[128];
    uint64_t seed;

    struct {
        int layers;          /* transformer layers */
        int first_dense;     /* the first N layers are dense (DeepSeek-V3: 3) */
        int moe_every;       /* after those, every moe_every-th layer is MoE */
        int hidden;          /* model dimension */
        int expert_ffn;      /* expert FFN intermediate size */
        int dense_ffn;       /* FFN intermediate size of dense layers */
        int experts;         /* routed experts per MoE layer */
        int top_k;
        int shared_experts;  /* experts every token visits, run locally */
        int heads, kv_heads, head_dim;
        int attention;       /* SCENARIO_ATTN_GQA or SCENARIO_ATTN_MLA */
        int vocab;           /* embedding and output-head rows (0: not counted) */
        int q_lora_rank, kv_lora_rank, qk_nope_head_dim, qk_rope_head_dim, v_head_dim; /* MLA */
        int mtp_layers;      /* multi-token prediction modules after the last layer */
        bool force_balance;  /* tokens spread evenly over experts (benchmarks) */
        int ffn_matrices;    /* 3 for SwiGLU, 2 for GELU MLP */
        dtype_t dtype;
        dtype_t weight_dtype;      /* stored weights: the memory fit, re-placement copies */
        router_config router;      /* kind, experts, top_k, normalize */
        capacity_config capacity;  /* factor, scope, overflow, priority, min */
        int groups, topk_groups;   /* group-limited routing (1, 1: off) */
    } model;

    struct {
        char system[32];     /* system preset named, "" if none */
        gpu_spec gpu;              /* preset with overrides applied */
        bool check_memory;         /* refuse what does not fit HBM */
        topo_inter inter_kind;     /* the fabric between nodes: ib or roce */
        /* the topology, whole, as topo_new takes it: nodes, gpus_per_node,
         * the intra- and inter-node links, the fabric's shape */
        topo_config topo;
    } cluster;

    struct {
        int dp, tp, pp, ep, etp;
        char order[32];
        int pp_layers[SCENARIO_MAX_STAGES]; /* layers per stage; npp_layers = 0: balanced */
        int npp_layers;
        int schedule;        /* sched_pipe: training's pipeline schedule */
        int vpp;             /* interleaved: model chunks per stage */
    } parallel;

    struct {
        placement_strategy strategy;
        placement_strategy rebalance; /* dynamic: balanced, eplb or topology_aware */
        int redundant;                /* extra slots per MoE layer (eplb replicas) */
        int warmup_batches;           /* untimed batches measuring loads */
        int rebalance_every;          /* dynamic: batches between re-placements */
        double load_ema;              /* dynamic: weight of the newest batch's loads */
        double rebalance_min_gain;    /* dynamic: least relative fall of a layer's
                                       * rank-load max/mean worth re-placing it */
    } placement;

    struct {
        scenario_mode mode;
        int tokens_per_rank;
        int batches;
        int seq_len;
        int global_batch;          /* training: sequences per step, all replicas */
        int micro_batch;           /* training: sequences per micro-batch */
        int micro_batches;         /* a batch's micro-batches through the pipeline
                                    * (training: global_batch / (micro_batch x dp)) */
        int overlap;               /* sched_overlap: none, two_batch */
        source_config source;      /* layers/experts filled in; fixed_logits owned here */
        char trace_file[512];      /* source kind trace: the file, resolved against the
                                    * scenario file's folder */
    } workload;

    struct {
        int recompute;             /* sched_recompute */
        int zero;                  /* 0, or 1: optimizer state sharded over DP */
        double grad_bucket;        /* bytes of gradients per bucket */
        bool overlap_grad_reduce;  /* buckets reduced while backward runs */
        dtype_t grad_dtype;        /* element type gradients are reduced in */
        int route_sample;          /* micro-batches routed per step (0: all) */
        int route_groups;          /* with a sample: dispatch groups routed per stage (0: all) */
        bool overlap_a2a;          /* dualpipe: forward-backward pairs overlapped */
    } training;

    struct {
        net_model model;
        coll_a2a_algo alltoall;
        sim_time_t overhead_ps;    /* per-message software overhead */
        sim_time_t flow_tol_ps;    /* flow model: completions merged within this */
        dtype_t dispatch_dtype;    /* element type of dispatched rows */
        dtype_t combine_dtype;     /* element type of combined rows */
        int comm_sms;              /* SMs communication kernels hold, taken from compute */
    } network;

    struct {
        char json[256];  /* "" = none */
        char trace[512]; /* routing trace to write, "" = none */
        char timeline[512];  /* Chrome trace event file to write, "" = none */
        int timeline_batches; /* batches on the timeline, the first ones; 0 = all */
        bool progress;
    } output;

    struct {
        double host_memory; /* bytes the simulator may use (default: physical memory) */
    } limits;

    int moe_layers;      /* derived: how many layers are MoE */
} scenario;

/* The simulator's own memory for a scenario, estimated from its largest
 * structures (bytes): per GPU, per token of a batch, per expert. */
typedef struct scenario_host {
    double per_gpu, tokens, experts;
    double total; /* the three and a fixed allowance */
} scenario_host;

/* Loads a scenario file, applies `sets` ("key.path=value", borrowed, nsets of
 * them) on top, validates, converts units and fills *out (which must be
 * released with scenario_fini even on failure). Returns 0, or -1 with e
 * filled (code ERR_INPUT for anything wrong with the input). */
int scenario_load_file(const char *path, const char *const *sets, int nsets, scenario *out,
                       err_t *e);
/* The same from text in memory; `name` stands for the file name in errors. */
int scenario_load_string(const char *text, const char *name, const char *const *sets,
                         int nsets, scenario *out, err_t *e);
/* Frees what *s owns (fixed logits); safe on a zeroed or half-filled struct. */
void scenario_fini(scenario *s);

/* Is layer l (0-based) an MoE layer? */
bool scenario_is_moe_layer(const scenario *s, int l);

/* What one GPU of the scenario holds (forward passes): fills *shape and
 * *need (gpu_memory_need), for the most loaded pipeline stage. */
void scenario_memory(const scenario *s, gpu_memory_shape *shape, gpu_memory *need);

/* Fills *h for s (loaded); the load refuses a total above limits.host_memory. */
void scenario_host_memory(const scenario *s, scenario_host *h);

/* Writes the key reference (Markdown table: key, type, default, allowed, meaning). */
void scenario_write_keys_md(FILE *f);

/* The model's attention block as the GPU model sees it on one GPU of a TP
 * group of tp (heads and kv_heads divided by tp; tp = 1: the whole block). */
gpu_attn_shape scenario_attn_shape(const scenario *s, int tp);

/* Parameters one GPU holds, per layer: attention's (its heads' share over
 * tp, MLA's down-projections whole), a dense layer's FFN over tp, an MoE
 * layer's gate (whole) and shared experts (over tp) - the dense
 * parameters, reduced over the data-parallel group - and its routed expert
 * slots (1/etp of each) - the expert parameters, reduced over the GPUs
 * holding the same experts. The embedding goes with layer 0, the output
 * layer and the multi-token prediction modules (each a layer like the last,
 * plus its 2 h x h projection; embedding and output layer shared with the
 * model, as DeepSeek-V3's) with the last layer. Norms are not counted. */
typedef struct scenario_pshape {
    double attn;      /* one layer's attention on one GPU */
    double dense_ffn; /* one dense layer's FFN */
    double moe_dense; /* an MoE layer's gate and shared experts */
    double experts;   /* an MoE layer's routed expert slots */
    double vocab;     /* the embedding, or the output layer */
    double mtp;       /* the MTP modules, dense and expert parameters together */
    double mtp_experts; /* of which routed experts */
} scenario_pshape;

void scenario_pshape_init(const scenario *s, scenario_pshape *t);
/* Dense and expert parameters of layers [lo, lo + span) on one GPU. */
void scenario_params(const scenario *s, const scenario_pshape *t, int lo, int span,
                     double *dense, double *expert);

/* Training's model chunks: how many, and (first not NULL: chunks + 1
 * entries) where each begins: pp of them (parallel.pp_layers, or L / pp
 * each with the rest on the last), or pp x vpp of L / (pp vpp) for the
 * interleaved schedule. Which stage runs a chunk: sched_chunk_stage. */
int scenario_chunks(const scenario *s, int *first);

/* Training: what one GPU of pipeline stage k holds (memfit.c). */
typedef struct scenario_train_mem {
    double weights, grads, optimizer; /* parameters in model.weight_dtype, gradients in
                                       * training.grad_dtype, Adam's FP32 state */
    double activations;  /* kept for backward, inflight chunk passes of them */
    double inflight;
    double buffers;      /* one micro-batch layer's working buffers */
    double total;
} scenario_train_mem;
void scenario_train_memory(const scenario *s, int stage, scenario_train_mem *m);

/* Model FLOPs per token of a training step (mflops.h: Megatron-LM's count). */
double scenario_model_flops(const scenario *s);

#endif
