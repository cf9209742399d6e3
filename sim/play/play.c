/*
 * play.c - forward passes as a chain of events.
 *
 * One handler drives the state machine of a batch:
 *
 *   BATCH ─► ATTN ─► (dense) FFN ─────────────────────────────► next layer
 *                └─► (MoE)  GATE ─► DISPATCH ─► EXPERT(g) x G ─► COMBINE ─► next layer
 *
 * Routing happens when the gate finishes: the source writes the layer's
 * logits, the router picks experts, capacity drops what does not fit, and the
 * survivors become bytes between GPUs (one row of `hidden` values per token
 * and destination GPU, as DeepEP sends a token once to each GPU holding any of
 * its experts) and token counts per GPU and local expert. The all-to-alls are
 * timed by the network model from those bytes; the combine sends the same rows
 * back. All GPUs advance in lockstep at each all-to-all, so the slowest GPU's
 * experts (the straggler) set when the combine starts.
 *
 * Layouts (models/layout.c numbers the ranks). With tensor parallelism tp,
 * every GPU of a TP group computes 1/tp of its DP rank's attention and dense
 * FFN (heads and FFN width split, Megatron-Core's column/row-parallel linear
 * layers), and a ring all-reduce of the rank's tokens_per_rank x hidden
 * activations over the TP group follows attention and follows the FFN or MoE
 * block (PH_TP_ATTN, PH_TP_FFN; every TP group at once, in one plan). MoE
 * layers follow Megatron-Core's sequence-parallel token dispatcher: each TP
 * rank routes tokens_per_rank / tp of its DP rank's tokens, so the routing
 * sources are all dp x tp GPUs, each in the EP group the layout gives it. With
 * expert tensor parallelism etp, a token bound for an expert goes to all etp
 * GPUs of the expert's ETP group, each computes 1/etp of the expert's FFN
 * width for every token the group received, and each sends its partial output
 * back in the combine (the combine counts the rows of all etp GPUs; the
 * source sums them). tp = etp = 1 plays exactly as before.
 */
#include "moesim/play.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/capacity.h"
#include "moesim/collective.h"
#include "moesim/engine.h"
#include "moesim/flows.h"
#include "moesim/gpu.h"
#include "moesim/layout.h"
#include "moesim/net.h"
#include "moesim/placement.h"
#include "moesim/rng.h"
#include "moesim/router.h"
#include "moesim/source.h"
#include "moesim/timeline.h"
#include "moesim/topo.h"
#include "moesim/trace.h"
#include "moesim/units.h"

enum phase {
    PH_BATCH,
    PH_MIGRATE,
    PH_ATTN,
    PH_FFN,
    PH_GATE,
    PH_DISPATCH,
    PH_EXPERT,
    PH_COMBINE,
    PH_TP_ATTN, /* the TP all-reduce after attention is done */
    PH_TP_FFN   /* the TP all-reduce after the FFN or MoE block is done */
};

struct play {
    const scenario *s;
    engine_t *eng;
    rng_set_t *rng;
    topo_t *topo;
    source_t *src;
    layout lay;
    placement *pl;     /* per MoE layer */
    metrics m;

    int gpus;          /* world */
    int tokens;        /* tokens per batch, all ranks */
    int spr;           /* expert slots per EP rank (the same in every layer) */
    int tp, etp;
    int src_tokens;    /* tokens each GPU routes: tokens_per_rank / tp */
    int64_t *src_off;  /* gpus: the first of each GPU's routed tokens in the batch */
    int *etp_peers;    /* gpus x etp: the GPUs of each GPU's ETP group, by rank */
    double tp_bytes;   /* one TP all-reduce's buffer: tokens_per_rank x hidden */
    sim_time_t tp_attn_t, tp_ffn_t; /* this layer's all-reduces */
    int *rank_node;    /* ep_groups x ep: node of each EP rank, for the replica rule */
    int64_t *rank_tokens; /* ep_groups x ep: assignments so far this layer (replica rule) */
    int ep_nodes;      /* nodes one EP group spans, as EPLB sees them (1: global policy) */
    int *rank_node0;   /* ep: EP group 0's ranks' nodes numbered from 0 (topology_aware) */
    double expert_bytes; /* one expert's weights on one GPU (1/etp of them) */
    double *ema;       /* dynamic: moe_layers x experts moving average of loads */
    double *ema_coact; /* dynamic topology_aware: moe_layers x experts x experts */
    double *batch_load, *batch_coact; /* one batch's counts, reused */
    double *mig;       /* gpus x gpus: bytes of one re-placement */
    gpu_ffn_shape expert_shape; /* routed: 1/etp of the width */
    gpu_ffn_shape shared_shape; /* shared experts: 1/tp of the width */
    gpu_ffn_shape dense_shape;  /* 1/tp of the width */
    gpu_attn_shape attn_shape;  /* 1/tp of the heads */
    sim_time_t t_attn, t_gate, t_dense, t_shared; /* per GPU, same on every GPU */

    /* per-batch buffers, reused */
    double *logits;         /* tokens x experts */
    int32_t *choice;        /* tokens x slots (top_k; experts for expert_choice) */
    double *weight;         /* tokens x slots gate weights, when score priority needs them */
    int slots;              /* choice entries per token */
    capacity_counts *cc;    /* per MoE layer: counts, and the adaptive average */
    double *bias;           /* sigmoid_bias: moe_layers x experts selection biases */
    gsl_rng *noise;         /* noisy_topk: the "router/noise" stream (borrowed) */
    int64_t *src_load;      /* experts: assignments one source rank keeps (padding) */
    double *bytes;          /* gpus x gpus, dispatch direction */
    double *bytes_back;     /* gpus x gpus, combine direction */
    double *link_bytes;     /* per link, one collective */
    double *wire;           /* gpus x gpus: one all-to-all's bytes in its dtype */
    coll_plan plan;         /* the all-to-all's transfers, reused */
    engine_t *net_eng;      /* flow model: the flow process's own clock, reused */
    flows_t *flows;
    int64_t *local_tokens;  /* gpus x spr: tokens per GPU and local expert */
    int64_t *gpu_tokens;    /* gpus: token-expert assignments received */
    int *dst_seen;          /* top_k: destinations of the current token */
    int *node_seen;         /* top_k: destination nodes of the current token */
    double *node_bytes;     /* gpus x nodes: bytes to each node, once per token */
    double *node_wire;      /* the same in the wire dtype */

    /* where the batch stands */
    int batch, layer, moe;  /* moe: index of the current MoE layer */
    int experts_pending;
    int padded;             /* this layer's buffers are padded to capacity */
    sim_time_t batch_start, phase_start;
    play_progress_fn progress;
    void *progress_ctx;
    err_t *err;             /* where a handler reports a failure */
    int failed;

    /* routing traces (docs/trace.md): every batch the router sees, warm-up
     * batches first, each MoE layer's choices before capacity */
    trace_reader *trace_in;  /* source kind trace: choices come from here */
    trace_writer *trace_out; /* output.trace: choices go here */
    uint32_t batches_in, batches_out; /* whole batches read, written */

    timeline_t *tl;          /* output.timeline: phases as trace events */
    sim_time_t expert_start; /* when the current layer's expert compute began */
    sim_time_t mig_start;    /* when the current re-placement's copies began */
};

static void fire(engine_t *e, void *ctx, const engine_event_t *ev);
static int placement_setup(play_t *p, err_t *e);
static void beyond_clock(play_t *p, enum phase ph, sim_time_t delay, int gpu);

static uint64_t ev_arg(enum phase ph, int gpu)
{
    return (uint64_t)ph | ((uint64_t)(uint32_t)gpu << 8);
}

/* Schedules phase ph `delay` from now. A delay from the models may end
 * beyond the clock (a "1 B/s" link, "989 FLOP/s"): the run then stops with
 * an error naming the input (beyond_clock), never on engine_after's
 * assertion. Returns 0, or -1 once the run has failed. */
static int at(play_t *p, sim_time_t delay, enum phase ph, int gpu)
{
    if (p->failed)
        return -1;
    /* SIM_TIME_MAX is what a saturated model time reads: beyond, too */
    if (delay == SIM_TIME_MAX || !engine_fits(p->eng, delay)) {
        beyond_clock(p, ph, delay, gpu);
        return -1;
    }
    engine_after(p->eng, delay, fire, p, ev_arg(ph, gpu));
    return 0;
}

/* Counts and times add saturating (2^63 - 1): a padded min_capacity of
 * 2^63 - 1 or a time beyond the clock stays "too large", never wraps. */
static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* What a trace of this scenario's runs says about its shape: every GPU
 * routes tokens_per_rank / tp tokens (play_new's sources). */
static trace_header trace_header_of(const scenario *s)
{
    trace_header h = {
        .experts = (uint32_t)s->model.experts,
        .slots = (uint32_t)router_slots(&s->model.router),
        .moe_layers = (uint32_t)s->moe_layers,
        .sources = (uint32_t)(s->cluster.topo.nodes * s->cluster.topo.gpus_per_node),
        .tokens_per_source = (uint32_t)(s->workload.tokens_per_rank / s->parallel.tp),
        .seed = s->seed,
    };
    snprintf(h.name, sizeof(h.name), "%s", s->name);
    return h;
}

int play_check_trace(const scenario *s, err_t *e)
{
    const char *f = s->workload.trace_file, *key = "workload.source.file";
    trace_header h, want = trace_header_of(s);
    uint64_t batches = 0;
    if (trace_verify(f, &h, &batches, e) < 0)
        return -1;
    static const char *const what[5] = {"experts", "choices per token", "MoE layers",
                                         "routing sources (GPUs)", "tokens per source"};
    const uint32_t got[5] = {h.experts, h.slots, h.moe_layers, h.sources,
                             h.tokens_per_source};
    const uint32_t need[5] = {want.experts, want.slots, want.moe_layers, want.sources,
                              want.tokens_per_source};
    for (int i = 0; i < 5; i++)
        if (got[i] != need[i])
            return err_set(e, ERR_INPUT, f, 0, key,
                           "the trace has %u %s, this scenario %u; allowed: a trace of the "
                           "same model and layout (trace of \"%s\": %u experts, %u choices, "
                           "%u MoE layers, %u sources x %u tokens per batch)",
                           got[i], what[i], need[i], h.name, h.experts, h.slots,
                           h.moe_layers, h.sources, h.tokens_per_source);
    uint64_t needed = (uint64_t)s->placement.warmup_batches + (uint64_t)s->workload.batches;
    if (batches < needed)
        return err_set(e, ERR_INPUT, f, 0, key,
                       "the trace has %llu batches, the run needs %llu (%d warm-up + %d); "
                       "allowed: workload.batches + placement.warmup_batches <= %llu",
                       (unsigned long long)batches, (unsigned long long)needed,
                       s->placement.warmup_batches, s->workload.batches,
                       (unsigned long long)batches);
    return 0;
}

/* The trace to replay: checked whole first (play_check_trace), so a damaged
 * or mismatched file is refused before anything runs, then opened. */
static int trace_setup(play_t *p, err_t *e)
{
    trace_header h;
    if (play_check_trace(p->s, e) < 0)
        return -1;
    p->trace_in = trace_open(p->s->workload.trace_file, &h, e);
    return p->trace_in ? 0 : -1;
}

/* One MoE layer's choices from the trace, in the order they were written. */
static int replay_layer(play_t *p, int moe)
{
    uint32_t b = 0, l = 0;
    int rc = trace_read_layer(p->trace_in, &b, &l, p->choice, p->err);
    if (rc < 0)
        return -1;
    if (rc == 0 || b != p->batches_in || l != (uint32_t)moe)
        return err_set(p->err, ERR_INPUT, p->s->workload.trace_file, 0, "workload.source.file",
                       rc == 0 ? "the trace ended at batch %u; allowed: a trace with every "
                                 "batch the run needs"
                               : "batch %u layer %u where batch %u layer %d was due",
                       rc == 0 ? p->batches_in : b, l, p->batches_in, moe);
    if (moe == p->s->moe_layers - 1)
        p->batches_in++;
    return 0;
}

/* One MoE layer's choices into the trace being written. */
static int record_layer(play_t *p, int moe)
{
    if (trace_write_layer(p->trace_out, p->batches_out, (uint32_t)moe, p->choice, p->err) < 0)
        return -1;
    if (moe == p->s->moe_layers - 1)
        p->batches_out++;
    return 0;
}

/* The router, capacity and trace count a batch's tokens in an int: 128 GPUs
 * x 16,777,216 tokens per rank is 2^31, one too many. */
static int batch_tokens(const scenario *s, int *out, err_t *e)
{
    int64_t n = (int64_t)s->parallel.dp * s->workload.tokens_per_rank;
    if (n > INT_MAX || n < 1)
        return err_set(e, ERR_INPUT, s->file, 0, "workload.tokens_per_rank",
                       "%d tokens on each of %d data-parallel ranks make %lld tokens per "
                       "batch; allowed: at most %d per batch (workload.tokens_per_rank x "
                       "parallel.dp)",
                       s->workload.tokens_per_rank, s->parallel.dp, (long long)n, INT_MAX);
    *out = (int)n;
    return 0;
}

play_t *play_new(const scenario *s, err_t *e)
{
    play_t *p = xcalloc(1, sizeof(*p), "simulation");
    p->s = s;
    p->gpus = s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    if (batch_tokens(s, &p->tokens, e) < 0)
        goto fail;
    if (layout_init_order(&p->lay, p->gpus, s->parallel.dp, s->parallel.tp, s->parallel.pp,
                          s->parallel.ep, s->parallel.etp, s->parallel.order, e) < 0)
        goto fail;
    if (s->parallel.pp != 1) { /* the loader refuses it; a scenario built in code may not */
        err_set(e, ERR_INPUT, s->file, 0, "parallel.pp",
                "pipeline parallelism is not available in this version; allowed: 1");
        goto fail;
    }
    p->spr = (s->model.experts + s->placement.redundant) / s->parallel.ep;
    p->tp = s->parallel.tp;
    p->etp = s->parallel.etp;
    p->src_tokens = s->workload.tokens_per_rank / p->tp; /* the loader checked divisibility */
    /* DP rank r's tokens are [r x tokens_per_rank, ...); its TP rank j routes
     * the j-th 1/tp of them. With tp = 1 GPU g is DP rank g: offset g x tpr. */
    p->src_off = xcalloc((size_t)p->gpus, sizeof(*p->src_off), "source offsets");
    p->etp_peers = xcalloc((size_t)p->gpus * (size_t)p->etp, sizeof(*p->etp_peers), "ETP groups");
    for (int g = 0; g < p->gpus; g++) {
        p->src_off[g] = (int64_t)layout_rank_in(&p->lay, LAYOUT_DP, g) *
                            s->workload.tokens_per_rank +
                        (int64_t)layout_rank_in(&p->lay, LAYOUT_TP, g) * p->src_tokens;
        layout_group_gpus(&p->lay, LAYOUT_ETP, layout_group_of(&p->lay, LAYOUT_ETP, g),
                          p->etp_peers + (size_t)g * (size_t)p->etp);
    }
    p->tp_bytes = (double)s->workload.tokens_per_rank * s->model.hidden *
                  dtype_bytes(s->model.dtype);

    p->topo = topo_new(&s->cluster.topo, e);
    if (!p->topo)
        goto fail;

    p->rng = rng_new(s->seed);
    p->slots = router_slots(&s->model.router);
    if (s->workload.source.kind == SOURCE_TRACE) {
        if (trace_setup(p, e) < 0)
            goto fail;
    } else {
        p->src = source_new(&s->workload.source, rng_stream(p->rng, "source/init"), e);
        if (!p->src)
            goto fail;
    }
    if (s->output.trace[0]) {
        trace_header h = trace_header_of(s);
        p->trace_out = trace_create(s->output.trace, &h, e);
        if (!p->trace_out)
            goto fail;
    }
    if (s->output.timeline[0]) {
        p->tl = timeline_create(s->output.timeline, s->name, s->cluster.topo.nodes,
                                s->cluster.topo.gpus_per_node, e);
        if (!p->tl)
            goto fail;
    }

    /* Per-GPU phase times that do not depend on routing. */
    const gpu_spec *g = &s->cluster.gpu;
    gpu_attn_shape as = {
        .hidden = s->model.hidden,
        .heads = s->model.heads / p->tp, /* the loader checked divisibility */
        .kv_heads = s->model.kv_heads / p->tp,
        .head_dim = s->model.head_dim,
        .seq_len = s->workload.seq_len,
        .dt = s->model.dtype,
    };
    int64_t tpr = s->workload.tokens_per_rank;
    p->attn_shape = as;
    p->t_attn = gpu_attention_time(g, &as, tpr);
    /* the router runs on the tokens this GPU dispatches */
    p->t_gate = gpu_gate_time(g, p->src_tokens, s->model.hidden, s->model.experts,
                              s->model.dtype);
    p->expert_shape = (gpu_ffn_shape){s->model.hidden, s->model.expert_ffn / p->etp,
                                      s->model.ffn_matrices, s->model.dtype};
    p->shared_shape = (gpu_ffn_shape){s->model.hidden, s->model.expert_ffn / p->tp,
                                      s->model.ffn_matrices, s->model.dtype};
    p->dense_shape = (gpu_ffn_shape){s->model.hidden, s->model.dense_ffn / p->tp,
                                     s->model.ffn_matrices, s->model.dtype};
    p->t_dense = gpu_experts_time(g, &p->dense_shape, &tpr, 1);
    if (s->model.shared_experts > 0) {
        int64_t *shared = xcalloc((size_t)s->model.shared_experts, sizeof(*shared),
                                  "shared expert counts");
        for (int i = 0; i < s->model.shared_experts; i++)
            shared[i] = tpr;
        p->t_shared = gpu_experts_time(g, &p->shared_shape, shared, s->model.shared_experts);
        free(shared);
    }

    size_t T = (size_t)p->tokens, E = (size_t)s->model.experts;
    size_t G = (size_t)p->gpus;
    if (!p->trace_in) /* a replay has choices, no logits */
        p->logits = xcalloc(T * E, sizeof(*p->logits), "router logits");
    p->choice = xcalloc(T * (size_t)p->slots, sizeof(*p->choice), "routing choices");
    if (s->model.capacity.priority == CAPACITY_SCORE)
        p->weight = xcalloc(T * (size_t)p->slots, sizeof(*p->weight), "gate weights");
    p->cc = xcalloc((size_t)s->moe_layers, sizeof(*p->cc), "capacity counts");
    for (int i = 0; i < s->moe_layers; i++)
        capacity_counts_init(&p->cc[i], s->model.experts);
    if (s->model.router.kind == ROUTER_SIGMOID_BIAS) /* starts at 0: no preference */
        p->bias = xcalloc((size_t)s->moe_layers * E, sizeof(*p->bias), "router biases");
    if (s->model.router.kind == ROUTER_NOISY_TOPK)
        p->noise = rng_stream(p->rng, "router/noise");
    p->src_load = xcalloc(E, sizeof(*p->src_load), "per-source expert load");
    p->bytes = xcalloc(G * G, sizeof(*p->bytes), "dispatch bytes");
    p->bytes_back = xcalloc(G * G, sizeof(*p->bytes_back), "combine bytes");
    p->wire = xcalloc(G * G, sizeof(*p->wire), "all-to-all bytes");
    if (s->network.model == NET_FLOW) {
        p->net_eng = engine_new(16);
        p->flows = flows_new(p->net_eng, p->topo, s->network.overhead_ps);
        flows_set_tolerance(p->flows, s->network.flow_tol_ps);
    }
    p->link_bytes = xcalloc((size_t)topo_link_count(p->topo), sizeof(*p->link_bytes),
                            "link bytes");
    p->local_tokens = xcalloc(G * (size_t)p->spr, sizeof(*p->local_tokens), "expert tokens");
    p->gpu_tokens = xcalloc(G, sizeof(*p->gpu_tokens), "GPU tokens");
    size_t seen = (size_t)p->slots * (size_t)p->etp; /* a token reaches etp GPUs per expert */
    p->dst_seen = xcalloc(seen, sizeof(*p->dst_seen), "destinations");
    p->node_seen = xcalloc(seen, sizeof(*p->node_seen), "destination nodes");
    p->node_bytes = xcalloc(G * (size_t)s->cluster.topo.nodes, sizeof(*p->node_bytes), "node bytes");
    p->node_wire = xcalloc(G * (size_t)s->cluster.topo.nodes, sizeof(*p->node_wire), "node bytes");
    p->eng = engine_new(4 * G + 16);
    metrics_init(&p->m, s->moe_layers, s->model.experts, topo_link_count(p->topo), p->gpus);
    for (int i = 0; i < s->moe_layers; i++)
        p->m.layer[i].no_probs = p->trace_in != NULL;
    for (int l = 0, i = 0; l < s->model.layers; l++)
        if (scenario_is_moe_layer(s, l))
            p->m.layer[i++].layer = l;
    if (placement_setup(p, e) < 0)
        goto fail;
    return p;

fail:
    play_free(p);
    return NULL;
}

void play_free(play_t *p)
{
    if (!p)
        return;
    engine_free(p->eng);
    source_free(p->src);
    trace_close(p->trace_in);
    trace_abort(p->trace_out);
    timeline_abort(p->tl);
    rng_free(p->rng);
    topo_free(p->topo);
    if (p->pl)
        for (int i = 0; i < p->s->moe_layers; i++)
            placement_fini(&p->pl[i]);
    free(p->pl);
    free(p->rank_node);
    free(p->rank_tokens);
    free(p->rank_node0);
    free(p->src_off);
    free(p->etp_peers);
    free(p->ema);
    free(p->ema_coact);
    free(p->batch_load);
    free(p->batch_coact);
    free(p->mig);
    metrics_fini(&p->m);
    if (p->cc)
        for (int i = 0; i < p->s->moe_layers; i++)
            capacity_counts_fini(&p->cc[i]);
    free(p->cc);
    free(p->weight);
    free(p->bias);
    free(p->src_load);
    free(p->logits);
    free(p->choice);
    free(p->bytes);
    free(p->bytes_back);
    free(p->wire);
    coll_plan_fini(&p->plan);
    flows_free(p->flows);
    engine_free(p->net_eng);
    free(p->link_bytes);
    free(p->local_tokens);
    free(p->gpu_tokens);
    free(p->dst_seen);
    free(p->node_seen);
    free(p->node_bytes);
    free(p->node_wire);
    free(p);
}

const metrics *play_metrics(const play_t *p)
{
    return &p->m;
}

const struct topo *play_topo(const play_t *p)
{
    return p->topo;
}

/* Times one all-to-all on the topology and adds its link bytes to the run's.
 * `bytes` counts rows in model.dtype; on the wire they travel in `dt`
 * (DeepEP: FP8 dispatch with its scales, BF16 combine), so every pair is
 * scaled by the ratio of row sizes. The scenario's algorithm turns the
 * matrix into transfers and its network model times them: analytical phase
 * by phase, or flow by flow with max-min sharing on a flow process of its
 * own (one collective is in flight at a time, as all GPUs meet at every
 * all-to-all, so a private engine sees the same flows the run's would). */
static sim_time_t time_plan(play_t *p);

static sim_time_t alltoall(play_t *p, const double *bytes, dtype_t dt, int combine)
{
    const scenario *s = p->s;
    size_t GG = (size_t)p->gpus * (size_t)p->gpus;
    size_t GN = (size_t)p->gpus * (size_t)s->cluster.topo.nodes;
    double scale = coll_row_bytes(s->model.hidden, dt) /
                   ((double)s->model.hidden * dtype_bytes(s->model.dtype));
    for (size_t i = 0; i < GG; i++)
        p->wire[i] = bytes[i] * scale;
    /* Hierarchical exchanges cross RDMA once per token and node; the per-node
     * rows serve both directions (what d sent to node n comes back to d). */
    for (size_t i = 0; i < GN; i++)
        p->node_wire[i] = p->node_bytes[i] * scale;
    const double *nb = p->padded ? NULL : p->node_wire; /* padded slots all travel */
    coll_a2a_algo algo = s->network.alltoall;
    if (combine)
        coll_alltoallv_combine(&p->plan, p->topo, algo, p->wire, nb);
    else
        coll_alltoallv(&p->plan, p->topo, algo, p->wire, nb);
    return time_plan(p);
}

/* Times p->plan with the scenario's network model and adds its link bytes to
 * the run's. */
static sim_time_t time_plan(play_t *p)
{
    const scenario *s = p->s;
    sim_time_t t;
    if (s->network.model == NET_FLOW) {
        t = flows_run_phases(p->flows, p->plan.phases, p->plan.off, p->plan.src, p->plan.dst,
                             p->plan.bytes);
        memcpy(p->link_bytes, flows_link_bytes(p->flows),
               (size_t)p->m.links * sizeof(*p->link_bytes));
    } else {
        net_result r;
        coll_plan_analytical(&p->plan, p->topo, s->network.overhead_ps, &r, p->link_bytes);
        t = r.time_ps;
    }
    for (int i = 0; i < p->m.links; i++)
        p->m.link_bytes[i] += p->link_bytes[i];
    return t;
}

/* The TP all-reduce of one layer: a ring over every TP group at once (one
 * plan, so the network model sees all groups' transfers together), each of
 * 2 (tp - 1) steps moving tp_bytes / tp from every GPU to the next of its
 * group, as coll_allreduce's ring does over GPUs 0..n-1. Returns its time. */
static sim_time_t tp_allreduce(play_t *p)
{
    int groups = layout_groups(&p->lay, LAYOUT_TP), n = p->tp;
    coll_plan *pl = &p->plan;
    coll_plan_clear(pl);
    size_t flows = (size_t)groups * (size_t)n;
    if ((size_t)pl->cap_flows < flows) {
        pl->cap_flows = (int)flows;
        pl->src = xrealloc(pl->src, flows, sizeof(*pl->src), "collective transfers");
        pl->dst = xrealloc(pl->dst, flows, sizeof(*pl->dst), "collective transfers");
        pl->bytes = xrealloc(pl->bytes, flows, sizeof(*pl->bytes), "collective transfers");
    }
    int steps = 2 * (n - 1);
    if (pl->cap_phases < steps + 1) {
        pl->cap_phases = steps + 1;
        pl->off = xrealloc(pl->off, (size_t)pl->cap_phases, sizeof(*pl->off),
                           "collective phases");
    }
    /* the steps of a ring move equal chunks between the same pairs: one
     * phase's transfers, repeated, each phase its own barrier */
    int k = 0;
    for (int g = 0; g < groups; g++)
        for (int r = 0; r < n; r++) {
            pl->src[k] = layout_member(&p->lay, LAYOUT_TP, g, r);
            pl->dst[k] = layout_member(&p->lay, LAYOUT_TP, g, (r + 1) % n);
            pl->bytes[k] = p->tp_bytes / n;
            k++;
        }
    pl->nflows = k;
    pl->phases = 1;
    pl->off[0] = 0;
    pl->off[1] = k;
    sim_time_t one = time_plan(p);
    /* the other steps are the same phase again: same time, same link bytes */
    for (int i = 1; i < steps; i++)
        for (int l = 0; l < p->m.links; l++)
            p->m.link_bytes[l] += p->link_bytes[l];
    sim_time_t all;
    return __builtin_mul_overflow(one, (sim_time_t)steps, &all) ? SIM_TIME_MAX : all;
}

/* The gate of MoE layer `moe` for one batch of `src`'s tokens: logits, then
 * the router's choices into p->choice (and gate weights into p->weight when
 * score priority needs them). prob_sum and unrouted (may be NULL) collect the
 * layer's router statistics. Returns the expert-choice capacity, -1 for a
 * token-choice router, or -2 when the router refused its input (p->err). */
static int64_t route_gate(play_t *p, source_t *src, int moe, double *bias, gsl_rng *noise,
                          int64_t first_token, double *prob_sum, int64_t *unrouted);

/* The gate of MoE layer `moe`: the router's choices (or the trace's), then,
 * when a trace is being written, those choices into it. Returns as
 * route_gate. */
static int64_t replay_gate(play_t *p, int moe, int64_t *unrouted);

static int64_t gate(play_t *p, source_t *src, int moe, double *bias, gsl_rng *noise,
                    int64_t first_token, double *prob_sum, int64_t *unrouted)
{
    int64_t rc = p->trace_in ? replay_gate(p, moe, unrouted)
                             : route_gate(p, src, moe, bias, noise, first_token, prob_sum,
                                          unrouted);
    if (rc != -2 && p->trace_out && record_layer(p, moe) < 0)
        return -2;
    return rc;
}

/* The gate of a replay: the trace's choices. An expert-choice router's
 * choices are played as the router's own are: their capacity (what the
 * experts took) is returned, so that capacity drops nothing more, and the
 * tokens that got no expert are counted. */
static int64_t replay_gate(play_t *p, int moe, int64_t *unrouted)
{
    const scenario *s = p->s;
    if (replay_layer(p, moe) < 0)
        return -2;
    if (s->model.router.kind != ROUTER_EXPERT_CHOICE)
        return -1;
    const capacity_config *cap = &s->model.capacity;
    int n = cap->scope == CAPACITY_SCOPE_RANK ? p->src_tokens : p->tokens;
    for (int t = 0; unrouted && t < p->tokens; t++)
        *unrouted += p->choice[(size_t)t * (size_t)p->slots] < 0; /* slots fill in order */
    return capacity_of(cap, n, s->model.top_k, s->model.experts);
}

static int64_t route_gate(play_t *p, source_t *src, int moe, double *bias, gsl_rng *noise,
                          int64_t first_token, double *prob_sum, int64_t *unrouted)
{
    const scenario *s = p->s;
    const router_config *rc = &s->model.router;
    const capacity_config *cap = &s->model.capacity;
    int E = s->model.experts, K = p->slots;
    int tpr = p->src_tokens, ranks = p->gpus; /* routing sources: every GPU */

    source_logits(src, moe, p->logits);
    router_state st = {.bias = bias, .noise = noise, .first_token = first_token};
    double *w = cap->priority == CAPACITY_SCORE ? p->weight : NULL;
    if (rc->kind != ROUTER_EXPERT_CHOICE)
        return router_route(rc, &st, p->logits, p->tokens, p->choice, w, prob_sum, p->err) < 0
                   ? -2
                   : -1;
    /* Experts choose within a capacity scope (a source rank's tokens, or the
     * batch), C = the capacity of that scope; every expert then holds exactly
     * C, so capacity has nothing left to drop. */
    int per_rank = cap->scope == CAPACITY_SCOPE_RANK;
    int chunks = per_rank ? ranks : 1, n = per_rank ? tpr : p->tokens;
    int64_t ec_cap = capacity_of(cap, n, s->model.top_k, E);
    st.ec_capacity = ec_cap;
    for (int c = 0; c < chunks; c++) {
        size_t off = (size_t)c * (size_t)n;
        if (router_route(rc, &st, p->logits + off * (size_t)E, n, p->choice + off * (size_t)K,
                         w ? w + off * (size_t)K : NULL, prob_sum, p->err) < 0)
            return -2;
        if (unrouted)
            *unrouted += st.ec_unrouted;
    }
    return ec_cap;
}

/* Per-expert assignment counts of the choices in p->choice. */
static void count_choices(const play_t *p, int64_t *counts)
{
    int E = p->s->model.experts;
    memset(counts, 0, (size_t)E * sizeof(*counts));
    for (size_t i = 0, n = (size_t)p->tokens * (size_t)p->slots; i < n; i++)
        if (p->choice[i] >= 0)
            counts[p->choice[i]]++;
}

/* Dynamic placement: folds this batch's wanted loads (and co-activations, for
 * topology_aware) of the current layer into the moving averages. */
static void observe_loads(play_t *p)
{
    const scenario *s = p->s;
    size_t E = (size_t)s->model.experts, EE = E * E;
    double a = s->placement.load_ema;
    int first = p->batch == 0 && s->placement.warmup_batches == 0;
    memset(p->batch_load, 0, E * sizeof(*p->batch_load));
    if (p->batch_coact)
        memset(p->batch_coact, 0, EE * sizeof(*p->batch_coact));
    placement_count(p->choice, p->tokens, p->slots, (int)E, p->batch_load, p->batch_coact);
    double *ema = p->ema + (size_t)p->moe * E;
    for (size_t x = 0; x < E; x++)
        ema[x] = first ? p->batch_load[x] : a * p->batch_load[x] + (1 - a) * ema[x];
    if (!p->batch_coact)
        return;
    double *ec = p->ema_coact + (size_t)p->moe * EE;
    for (size_t i = 0; i < EE; i++)
        ec[i] = first ? p->batch_coact[i] : a * p->batch_coact[i] + (1 - a) * ec[i];
}

/* The router's work for the current MoE layer: logits, choices, capacity,
 * then counts and bytes. Returns -1 if a model refused its input. */
static int route_layer(play_t *p)
{
    const scenario *s = p->s;
    metrics_layer *ml = &p->m.layer[p->moe];
    capacity_counts *cc = &p->cc[p->moe];
    const placement *pl = &p->pl[p->moe];
    capacity_config cap = s->model.capacity;
    int E = s->model.experts, K = p->slots, G = p->gpus, ep = s->parallel.ep;
    int tpr = p->src_tokens, ranks = p->gpus, etp = p->etp; /* every GPU is a source */

    double *bias = p->bias ? p->bias + (size_t)p->moe * (size_t)E : NULL;
    int64_t ec_cap = gate(p, p->src, p->moe, bias, p->noise,
                          (int64_t)p->batch * p->tokens, /* hash: ids run across batches */
                          ml->prob_sum, &ml->unrouted);
    if (ec_cap == -2)
        return -1;
    if (ec_cap >= 0) {
        cap.overflow = CAPACITY_DROPLESS;
        cap.pad_to_capacity = false;
    }
    if (p->ema) /* what the router wanted, before capacity */
        observe_loads(p);
    /* reroute ranks a token's other experts by its logits */
    const double *scores = cap.overflow == CAPACITY_REROUTE ? p->logits : NULL;
    double *w = cap.priority == CAPACITY_SCORE ? p->weight : NULL;
    if (capacity_apply(&cap, E, K, ranks, tpr, p->choice, w, scores, cc, p->err) < 0)
        return -1;

    /* Per-expert accounting and the balance of what the router wanted. */
    int64_t wanted = 0;
    for (int x = 0; x < E; x++) {
        ml->wanted[x] += cc->wanted[x];
        ml->served[x] += cc->served[x];
        ml->dropped_per_expert[x] += cc->dropped[x];
        ml->dropped += cc->dropped[x];
        ml->rerouted_per_expert[x] += cc->rerouted[x];
        ml->rerouted += cc->rerouted[x];
        ml->padding_per_expert[x] = sat_add(ml->padding_per_expert[x], cc->padding[x]);
        ml->padding = sat_add(ml->padding, cc->padding[x]);
        wanted += cc->wanted[x];
    }
    ml->tokens += p->tokens;
    ml->assignments += wanted; /* tokens x top_k, or E x C per scope for expert_choice */
    ml->capacity = ec_cap >= 0 ? ec_cap : cc->capacity;
    double mom, cv;
    metrics_balance(cc->wanted, E, &mom, &cv);
    ml->load_max_over_mean_sum += mom;
    ml->load_cv_sum += cv;
    ml->batches++;
    if (ml->mom_n == ml->mom_cap) { /* one value per batch: grows with batches, not tokens */
        ml->mom_cap = ml->mom_cap ? 2 * ml->mom_cap : 16;
        ml->mom_by_batch = xrealloc(ml->mom_by_batch, ml->mom_cap, sizeof(*ml->mom_by_batch),
                                    "per-batch balance");
    }
    ml->mom_by_batch[ml->mom_n++] = mom;
    if (bias) /* auxiliary-loss-free balancing: the bias learns from this batch */
        router_update_bias(&s->model.router, bias, cc->wanted);

    /* Bytes per GPU pair and tokens per (GPU, local slot). GPU g routes
     * src_tokens tokens from src_off[g]; they stay inside its EP group, and
     * with etp > 1 each goes to every GPU of the expert's ETP group. An expert with
     * replicas serves a token from the slot placement_pick chooses (its own
     * node first, then the least loaded so far this layer, counted per EP
     * group in source order). Unpadded, a token travels once to each GPU
     * holding any of its experts (as DeepEP sends it); padded, every expert
     * slot up to capacity travels and is computed, used or not (padded
     * GShard/Tutel buffers are E x C per source). */
    const int padded = cap.pad_to_capacity && cap.overflow != CAPACITY_DROPLESS;
    p->padded = padded;
    size_t GG = (size_t)G * (size_t)G;
    int gpn = s->cluster.topo.gpus_per_node, nodes = s->cluster.topo.nodes, spr = p->spr;
    memset(p->bytes, 0, GG * sizeof(*p->bytes));
    memset(p->node_bytes, 0, (size_t)G * (size_t)nodes * sizeof(*p->node_bytes));
    memset(p->local_tokens, 0, (size_t)G * (size_t)spr * sizeof(*p->local_tokens));
    memset(p->gpu_tokens, 0, (size_t)G * sizeof(*p->gpu_tokens));
    memset(p->rank_tokens, 0, (size_t)p->lay.ep_groups * (size_t)ep * sizeof(*p->rank_tokens));
    double row = (double)s->model.hidden * dtype_bytes(s->model.dtype);
    for (int src = 0; src < G; src++) {
        int group = layout_ep_group(&p->lay, src);
        const int *rn = p->rank_node + (size_t)group * (size_t)ep;
        int64_t *rt = p->rank_tokens + (size_t)group * (size_t)ep;
        double *out = p->bytes + (size_t)src * G;
        memset(p->src_load, 0, (size_t)E * sizeof(*p->src_load));
        for (int t = 0; t < tpr; t++) {
            const int32_t *c = p->choice + ((size_t)p->src_off[src] + (size_t)t) * K;
            int ndst = 0, nnode = 0;
            for (int j = 0; j < K; j++) {
                if (c[j] < 0) /* dropped, or an unused expert-choice slot */
                    continue;
                int slot = placement_pick(pl, c[j], src / gpn, rn, rt);
                int owner = layout_gpu(&p->lay, group, slot / spr);
                p->src_load[c[j]]++;
                for (int q = 0; q < etp; q++) {
                    int dst = p->etp_peers[(size_t)owner * etp + q];
                    int64_t *lt = &p->local_tokens[(size_t)dst * spr + slot % spr];
                    *lt = sat_add(*lt, 1); /* a padded rank before may have filled it */
                    p->gpu_tokens[dst]++;
                    if (padded) {
                        out[dst] += row;
                        continue;
                    }
                    int seen = 0;
                    for (int i = 0; i < ndst && !seen; i++)
                        seen = p->dst_seen[i] == dst;
                    if (seen)
                        continue;
                    p->dst_seen[ndst++] = dst;
                    out[dst] += row;
                    int node = dst / gpn;
                    for (int i = 0; i < nnode && !seen; i++)
                        seen = p->node_seen[i] == node;
                    if (!seen) {
                        p->node_seen[nnode++] = node;
                        p->node_bytes[(size_t)src * nodes + node] += row;
                    }
                }
            }
        }
        if (!padded)
            continue;
        /* The empty slots: this rank's own (rank scope), or its share of
         * the batch's (global scope: split evenly, remainder to low ranks);
         * an expert's are split evenly over its replicas (remainder to the
         * lower slots). */
        for (int x = 0; x < E; x++) {
            int64_t pad;
            if (cap.scope == CAPACITY_SCOPE_RANK) {
                pad = cc->cap[x] - p->src_load[x];
            } else {
                int64_t all = cc->padding[x];
                pad = all / G + (src < all % G);
            }
            int nrep = pl->replicas[x];
            for (int i = 0; i < nrep; i++) {
                int slot = pl->expert_slots[pl->slot_start[x] + i];
                int64_t share = pad / nrep + (i < pad % nrep);
                int owner = layout_gpu(&p->lay, group, slot / spr);
                for (int q = 0; q < etp; q++) {
                    int dst = p->etp_peers[(size_t)owner * etp + q];
                    int64_t *lt = &p->local_tokens[(size_t)dst * spr + slot % spr];
                    *lt = sat_add(*lt, share);
                    out[dst] += row * (double)share;
                }
            }
        }
    }
    for (int a = 0; a < G; a++)
        for (int b = 0; b < G; b++) {
            double v = p->bytes[(size_t)a * G + b];
            p->bytes_back[(size_t)b * G + a] = v;
            if (a == b)
                continue;
            p->m.a2a_bytes += v;
            if (a / gpn != b / gpn)
                p->m.a2a_internode_bytes += v;
        }
    metrics_balance(p->gpu_tokens, G, &mom, &cv);
    ml->gpu_max_over_mean_sum += mom;
    return 0;
}

/* ---- placement ---- */

/* The warm-up: `placement.warmup_batches` batches routed on a source of their
 * own (the same router weights and topics, drawn from a fresh copy of the
 * "source/init" stream, but tokens from "placement/warmup"), so the timed run
 * sees the same tokens whatever the strategy. Nothing is timed or counted in
 * the report; sigmoid_bias learns on a copy of the biases. Adds each layer's
 * wanted loads to load (moe_layers x experts) and, if coact is not NULL, its
 * co-activations (moe_layers x experts x experts). */
static int warmup(play_t *p, double *load, double *coact, err_t *e)
{
    const scenario *s = p->s;
    size_t E = (size_t)s->model.experts;
    rng_set_t *w = rng_new(s->seed);
    source_t *src = p->trace_in ? NULL /* the trace's first batches are the warm-up */
                                : source_new(&s->workload.source, rng_stream(w, "source/init"),
                                             e);
    double *bias = p->bias ? xcalloc((size_t)s->moe_layers * E, sizeof(*bias), "biases") : NULL;
    int64_t *counts = xcalloc(E, sizeof(*counts), "warm-up counts");
    gsl_rng *noise = p->noise ? rng_stream(w, "placement/warmup-noise") : NULL;
    int rc = src || p->trace_in ? 0 : -1;
    for (int b = 0; rc == 0 && b < s->placement.warmup_batches; b++) {
        if (src)
            source_begin_batch(src, p->tokens, rng_stream(w, "placement/warmup"));
        /* token ids after the run's, for the hash router */
        int64_t first = ((int64_t)s->workload.batches + b) * p->tokens;
        for (int i = 0; rc == 0 && i < s->moe_layers; i++) {
            double *bi = bias ? bias + (size_t)i * E : NULL;
            if (gate(p, src, i, bi, noise, first, NULL, NULL) == -2) {
                rc = -1;
                break;
            }
            placement_count(p->choice, p->tokens, p->slots, (int)E, load + (size_t)i * E,
                            coact ? coact + (size_t)i * E * E : NULL);
            if (bi) {
                count_choices(p, counts);
                router_update_bias(&s->model.router, bi, counts);
            }
        }
    }
    free(counts);
    free(bias);
    source_free(src);
    rng_free(w);
    return rc;
}

/* One layer's placement by `strategy` from loads and co-activations. */
static int place_layer(play_t *p, placement_strategy strategy, placement *out, const double *load,
                       const double *coact, err_t *e)
{
    const scenario *s = p->s;
    placement_spec sp = {
        .strategy = placement_strategy_name(strategy),
        .experts = s->model.experts,
        .ranks = s->parallel.ep,
        .slots = s->model.experts + s->placement.redundant,
        .groups = s->model.router.groups > 1 ? s->model.router.groups : 1,
        .nodes = p->ep_nodes,
        .load = load,
        .coact = coact,
        .rank_node = p->rank_node0,
        .rng = rng_stream(p->rng, "placement"),
    };
    if (placement_build(out, &sp, e) < 0)
        return -1;
    if (out->slots_per_rank != p->spr) /* every layer must fit the same slot tables */
        return err_set(e, ERR_RUN, NULL, 0, "placement.strategy",
                       "%s gave %d slots per rank, expected %d", sp.strategy,
                       out->slots_per_rank, p->spr);
    return 0;
}

/* Where each EP rank sits, the warm-up, and every MoE layer's first
 * placement. A dynamic placement without warm-up starts from its strategy on
 * equal loads. */
static int placement_setup(play_t *p, err_t *e)
{
    const scenario *s = p->s;
    int ep = s->parallel.ep, groups = p->lay.ep_groups, gpn = s->cluster.topo.gpus_per_node;
    int L = s->moe_layers, W = s->placement.warmup_batches;
    size_t E = (size_t)s->model.experts, EE = E * E, G = (size_t)p->gpus;
    p->err = e;
    p->pl = xcalloc((size_t)L, sizeof(*p->pl), "placements");
    p->rank_node = xcalloc((size_t)groups * (size_t)ep, sizeof(*p->rank_node), "rank nodes");
    p->rank_tokens = xcalloc((size_t)groups * (size_t)ep, sizeof(*p->rank_tokens),
                             "rank tokens");
    p->rank_node0 = xcalloc((size_t)ep, sizeof(*p->rank_node0), "rank nodes");
    for (int g = 0; g < groups; g++)
        for (int r = 0; r < ep; r++)
            p->rank_node[(size_t)g * ep + r] = layout_gpu(&p->lay, g, r) / gpn;
    /* Group 0's nodes numbered 0, 1... in rank order. EPLB's hierarchical
     * policy assumes rank r sits on node r / (ep / nodes); where the layout
     * does not put the ranks so, its global policy (nodes = 1) applies. */
    int n = 0;
    for (int r = 0; r < ep; r++) {
        int id = -1;
        for (int q = 0; q < r && id < 0; q++)
            if (p->rank_node[q] == p->rank_node[r])
                id = p->rank_node0[q];
        p->rank_node0[r] = id >= 0 ? id : n++;
    }
    p->ep_nodes = ep % n == 0 ? n : 1;
    for (int r = 0; r < ep && p->ep_nodes > 1; r++)
        if (p->rank_node0[r] != r / (ep / n))
            p->ep_nodes = 1;
    /* what one GPU holds of an expert: 1/etp of it (every EP group is one
     * ETP coordinate, so a move copies one shard in each), stored in
     * model.weight_dtype: what a re-placement copies */
    p->expert_bytes = (double)s->model.ffn_matrices * s->model.hidden *
                      (s->model.expert_ffn / p->etp) * dtype_bytes(s->model.weight_dtype);

    placement_strategy st = s->placement.strategy;
    placement_strategy build = st == PLACEMENT_DYNAMIC ? s->placement.rebalance : st;
    int need_coact = build == PLACEMENT_TOPOLOGY_AWARE;
    double *load = NULL, *coact = NULL;
    int rc = -1;
    if (W > 0) {
        load = xcalloc((size_t)L * E, sizeof(*load), "warm-up loads");
        if (need_coact)
            coact = xcalloc((size_t)L * EE, sizeof(*coact), "warm-up co-activations");
        if (warmup(p, load, coact, e) < 0)
            goto out;
        for (size_t i = 0; i < (size_t)L * E; i++) /* per batch, as the moving average */
            load[i] /= W;
        for (size_t i = 0; coact && i < (size_t)L * EE; i++)
            coact[i] /= W;
    }
    if (st == PLACEMENT_DYNAMIC) {
        p->ema = xcalloc((size_t)L * E, sizeof(*p->ema), "load averages");
        p->batch_load = xcalloc(E, sizeof(*p->batch_load), "batch loads");
        if (need_coact) {
            p->ema_coact = xcalloc((size_t)L * EE, sizeof(*p->ema_coact), "co-activations");
            p->batch_coact = xcalloc(EE, sizeof(*p->batch_coact), "co-activations");
        }
        p->mig = xcalloc(G * G, sizeof(*p->mig), "migration bytes");
        if (load) {
            memcpy(p->ema, load, (size_t)L * E * sizeof(*load));
            if (coact)
                memcpy(p->ema_coact, coact, (size_t)L * EE * sizeof(*coact));
        } else {
            for (size_t i = 0; i < (size_t)L * E; i++)
                p->ema[i] = 1.0;
        }
    }
    for (int i = 0; i < L; i++) {
        const double *li = st == PLACEMENT_DYNAMIC ? p->ema + (size_t)i * E
                           : load                  ? load + (size_t)i * E
                                                   : NULL;
        const double *ci = st == PLACEMENT_DYNAMIC && p->ema_coact ? p->ema_coact + (size_t)i * EE
                           : coact                                 ? coact + (size_t)i * EE
                                                                   : NULL;
        if (place_layer(p, build, &p->pl[i], li, ci, e) < 0)
            goto out;
    }
    rc = 0;
out:
    free(load);
    free(coact);
    p->err = NULL;
    return rc;
}

/* Dynamic placement: every layer re-placed from its moving averages; the
 * experts that move are copied from a holder to their new rank in every EP
 * group, timed as one all-to-all-v of weight bytes on the network (the run
 * waits for it: migration between batches blocks, as a re-placement that
 * does not overlap compute would). Returns the time, or -1 on failure. */
/* Does `next` lower the rank-load max/mean of `cur` under the loads by at
 * least placement.rebalance_min_gain of it? Copies cost a pause of the run
 * each time; a placement that barely improves on the last is not worth one,
 * and on noisy loads a from-scratch strategy moves most experts every time. */
static int worth_moving(const play_t *p, const placement *cur, const placement *next,
                        const double *load)
{
    double *rank_load = xcalloc((size_t)cur->ranks, sizeof(*rank_load), "rank loads");
    double was = placement_rank_load(cur, load, rank_load);
    double will = placement_rank_load(next, load, rank_load);
    free(rank_load);
    return will <= was * (1.0 - p->s->placement.rebalance_min_gain);
}

static sim_time_t rebalance(play_t *p)
{
    const scenario *s = p->s;
    size_t E = (size_t)s->model.experts, EE = E * E, G = (size_t)p->gpus;
    int groups = p->lay.ep_groups;
    memset(p->mig, 0, G * G * sizeof(*p->mig));
    placement_move *mv = xcalloc((size_t)placement_slots(&p->pl[0]), sizeof(*mv), "moves");
    int64_t copies = 0;
    for (int i = 0; i < s->moe_layers; i++) {
        placement next = {0};
        const double *ci = p->ema_coact ? p->ema_coact + (size_t)i * EE : NULL;
        const double *li = p->ema + (size_t)i * E;
        int n = -1;
        if (place_layer(p, s->placement.rebalance, &next, li, ci, p->err) == 0) {
            if (s->placement.rebalance_min_gain > 0 &&
                !worth_moving(p, &p->pl[i], &next, li)) { /* keep what is placed */
                placement_fini(&next);
                p->m.kept_layers++;
                continue;
            }
            /* computed from scratch; renumbered to keep what can stay (ranks
             * trade places only inside a node where nodes matter) */
            placement_align(&p->pl[i], &next,
                            s->placement.rebalance == PLACEMENT_BALANCED ? NULL : p->rank_node0);
            n = placement_moves(&p->pl[i], &next, p->rank_node0, mv, p->err);
        }
        if (n < 0) {
            placement_fini(&next);
            free(mv);
            return -1;
        }
        for (int g = 0; g < groups; g++)
            for (int k = 0; k < n; k++) {
                int a = layout_gpu(&p->lay, g, mv[k].src_rank);
                int b = layout_gpu(&p->lay, g, mv[k].dst_rank);
                p->mig[(size_t)a * G + (size_t)b] += p->expert_bytes;
            }
        copies += (int64_t)n * groups;
        placement_fini(&p->pl[i]);
        p->pl[i] = next;
    }
    free(mv);
    p->m.rebalances++;
    p->m.migrated_experts += copies;
    p->m.migration_bytes += (double)copies * p->expert_bytes;
    if (copies == 0)
        return 0;
    coll_alltoallv(&p->plan, p->topo, COLL_A2A_DIRECT, p->mig, NULL);
    return time_plan(p);
}

/* Is the current batch on the timeline? (output.timeline_batches: the first
 * N batches; 0: all) */
static int tl_on(const play_t *p)
{
    int n = p->s->output.timeline_batches;
    return p->tl && (n == 0 || p->batch < n);
}

/* One phase [start, end) on every GPU's row. */
static void tl_all(play_t *p, const char *name, const char *cat, sim_time_t start,
                   sim_time_t end)
{
    if (!tl_on(p))
        return;
    for (int g = 0; g < p->gpus; g++)
        timeline_span(p->tl, g, strcmp(cat, "network") == 0, name, cat, start, end, p->batch,
                      p->layer, NULL, 0);
}

/* An all-to-all [start, end) on every GPU's row, with the bytes each sends
 * to the other GPUs on the wire (p->wire holds the collective just timed;
 * its diagonal, a GPU's rows for its own experts, never leaves the GPU). */
static void tl_alltoall(play_t *p, const char *name, sim_time_t start, sim_time_t end)
{
    if (!tl_on(p))
        return;
    size_t G = (size_t)p->gpus;
    for (size_t g = 0; g < G; g++) {
        double sent = 0;
        for (size_t j = 0; j < G; j++)
            sent += j == g ? 0.0 : p->wire[g * G + j];
        timeline_span(p->tl, (int)g, 1, name, "network", start, end, p->batch, p->layer,
                      "bytes_sent", (int64_t)(sent + 0.5));
    }
}

/* ---- times beyond the clock ---- */

/* A figure as a user would write it: whole numbers in full ("9000000 s"),
 * others in %g. */
static void fmt_figure(char *buf, size_t n, double v, const char *unit)
{
    if (v == (double)(int64_t)v && fabs(v) < 1e15)
        snprintf(buf, n, "%lld %s", (long long)v, unit);
    else
        snprintf(buf, n, "%g %s", v, unit);
}

/* The GPU key behind a compute phase's time, and its value. A figure the
 * preset already has is not the user's doing: then the work is (the
 * tokens, or a padded capacity). */
static const char *gpu_blame(const play_t *p, gpu_bound bound, dtype_t dt, char *val,
                             size_t n)
{
    const scenario *s = p->s;
    const gpu_spec *g = &s->cluster.gpu;
    gpu_spec preset;
    int has_preset = gpu_preset(g->name, &preset) == 0;
    if (bound == GPU_BOUND_LAUNCH && !(has_preset && preset.launch_ps == g->launch_ps)) {
        fmt_figure(val, n, sim_time_to_s(g->launch_ps), "s");
        return "cluster.gpu.launch";
    }
    /* no real kernel runs at under 1% of peak: such an efficiency is the cause */
    if (bound == GPU_BOUND_COMPUTE && g->compute_eff < 0.01) {
        snprintf(val, n, "%g", g->compute_eff);
        return "cluster.gpu.compute_efficiency";
    }
    if (bound == GPU_BOUND_MEMORY && g->memory_eff < 0.01) {
        snprintf(val, n, "%g", g->memory_eff);
        return "cluster.gpu.memory_efficiency";
    }
    if (bound == GPU_BOUND_MEMORY && !(has_preset && preset.hbm_bw_Bps == g->hbm_bw_Bps)) {
        fmt_figure(val, n, g->hbm_bw_Bps, "B/s");
        return "cluster.gpu.hbm_bandwidth";
    }
    if (!(g->peak_flops[dt] > 0)) /* emulated at the BF16 rate, as gpu.c does */
        dt = DTYPE_BF16;
    if (bound == GPU_BOUND_COMPUTE && !(has_preset && preset.peak_flops[dt] == g->peak_flops[dt])) {
        static const char *const keys[DTYPE_COUNT] = {"cluster.gpu.fp32", "cluster.gpu.bf16",
                                                      "cluster.gpu.fp16", "cluster.gpu.fp8"};
        fmt_figure(val, n, g->peak_flops[dt], "FLOP/s");
        return keys[dt];
    }
    snprintf(val, n, "%d", s->workload.tokens_per_rank);
    return "workload.tokens_per_rank";
}

/* Padded buffers sized by min_capacity rather than by the tokens: the
 * floor is what makes the layer's bytes and expert rows, or NULL. */
static const char *padding_blame(const play_t *p, char *val, size_t n)
{
    const capacity_config *cap = &p->s->model.capacity;
    if (!(p->padded && cap->min_capacity > 0 && p->cc[p->moe].capacity == cap->min_capacity))
        return NULL;
    snprintf(val, n, "%lld (padded: model.router.pad_to_capacity)",
             (long long)cap->min_capacity);
    return "model.router.min_capacity";
}

/* The network key behind the collective just timed (p->plan, its bytes per
 * link in p->link_bytes), its value, and the collective's time in seconds,
 * unrounded: the busiest link's drain plus the longest route latency and
 * the message overhead. The larger term names the key. */
static const char *net_blame(const play_t *p, char *val, size_t n, double *secs)
{
    const topo_t *t = p->topo;
    const coll_plan *pl = &p->plan;
    double drain = 0, lat = 0, lat_max = 0;
    int drain_link = -1, lat_link = -1;
    for (int l = 0; l < p->m.links; l++) {
        double d = p->link_bytes[l] / topo_link_rate(topo_link_at(t, l));
        if (p->link_bytes[l] > 0 && d > drain) {
            drain = d;
            drain_link = l;
        }
    }
    for (int i = 0; i < pl->nflows; i++) {
        if (!(pl->bytes[i] > 0) || pl->src[i] == pl->dst[i])
            continue;
        int links[TOPO_MAX_HOPS];
        int h = topo_route(t, pl->src[i], pl->dst[i], links);
        double sum = 0;
        for (int k = 0; k < h; k++) {
            double one = sim_time_to_s(topo_link_at(t, links[k])->lat_ps);
            sum += one;
            if (one > lat_max) {
                lat_max = one;
                lat_link = links[k];
            }
        }
        lat = sum > lat ? sum : lat;
    }
    double over = sim_time_to_s(p->s->network.overhead_ps);
    *secs = drain + lat + over;
    if (over >= drain && over >= lat_max) {
        fmt_figure(val, n, over, "s");
        return "network.message_overhead";
    }
    int l = drain >= lat ? drain_link : lat_link;
    if (l < 0) { /* nothing crossed a link: only the overhead is left */
        fmt_figure(val, n, over, "s");
        return "network.message_overhead";
    }
    const topo_link *k = topo_link_at(t, l);
    int inter = k->kind == TOPO_NIC_UP || k->kind == TOPO_NIC_DOWN ||
                k->kind == TOPO_SPINE_UP || k->kind == TOPO_SPINE_DOWN;
    int spine = k->kind == TOPO_SPINE_UP || k->kind == TOPO_SPINE_DOWN;
    if (drain >= lat && k->eff < 0.01) { /* no link runs at under 1% of line rate */
        snprintf(val, n, "%g", k->eff);
        return inter ? "cluster.inter.efficiency" : "cluster.intra.efficiency";
    }
    if (drain >= lat) {
        if (k->bw_Bps >= 1000)
            units_format_bandwidth(k->bw_Bps, val, n);
        else
            fmt_figure(val, n, k->bw_Bps, "B/s");
        return inter ? "cluster.inter.bandwidth" : "cluster.intra.bandwidth";
    }
    fmt_figure(val, n, sim_time_to_s(k->lat_ps), "s");
    return spine ? "cluster.inter.spine_latency"
           : inter ? "cluster.inter.latency"
                   : "cluster.intra.latency";
}

/* Phase ph, `delay` from now, would end beyond the clock's 2^63 ps: the run
 * stops with ERR_INPUT naming the key most responsible and the time it
 * makes, in seconds (the picosecond figures saturated). */
static void beyond_clock(play_t *p, enum phase ph, sim_time_t delay, int gpu)
{
    static const char *const what[] = {
        [PH_BATCH] = "batch", [PH_MIGRATE] = "re-placement", [PH_ATTN] = "attention",
        [PH_FFN] = "dense FFN", [PH_GATE] = "gate", [PH_DISPATCH] = "dispatch",
        [PH_EXPERT] = "expert compute", [PH_COMBINE] = "combine",
        [PH_TP_ATTN] = "TP all-reduce", [PH_TP_FFN] = "TP all-reduce"};
    const scenario *s = p->s;
    const gpu_spec *g = &s->cluster.gpu;
    char val[96] = "";
    const char *key = NULL;
    double secs = sim_time_to_s(delay);
    gpu_bound b = GPU_BOUND_COMPUTE;
    switch (ph) {
    case PH_ATTN:
        secs = gpu_attention_seconds(g, &p->attn_shape, s->workload.tokens_per_rank, &b);
        break;
    case PH_GATE:
        secs = gpu_gate_seconds(g, p->src_tokens, s->model.hidden, s->model.experts,
                                s->model.dtype, &b);
        break;
    case PH_FFN: {
        int64_t tpr = s->workload.tokens_per_rank;
        secs = gpu_experts_seconds(g, &p->dense_shape, &tpr, 1, &b);
        break;
    }
    case PH_EXPERT:
        secs = gpu_experts_seconds(g, &p->expert_shape, p->local_tokens + (size_t)gpu * p->spr,
                                   p->spr, &b) + sim_time_to_s(p->t_shared);
        break;
    default:
        key = net_blame(p, val, sizeof(val), &secs);
        break;
    }
    if (ph == PH_DISPATCH || ph == PH_EXPERT || ph == PH_COMBINE) {
        const char *pad = padding_blame(p, val, sizeof(val));
        key = pad ? pad : key;
    }
    if (!key)
        key = gpu_blame(p, b, s->model.dtype, val, sizeof(val));
    double now = sim_time_to_s(engine_now(p->eng));
    if (secs < 9.2e6) /* the phase fits; the run's sum (or the flow clock's) does not */
        err_set(p->err, ERR_INPUT, s->file, 0, key,
                "%s makes the run pass the clock's 106 days (2^63 ps) in batch %d, layer %d "
                "(simulated %.3g s so far, one %s takes %.3g s)",
                val, p->batch, p->layer, now, what[ph], secs);
    else
        err_set(p->err, ERR_INPUT, s->file, 0, key,
                "%s makes one %s take %.3g s, beyond the clock's 106 days (2^63 ps)", val,
                what[ph], secs);
    p->failed = 1;
    engine_stop(p->eng);
}

static void start_batch(play_t *p, sim_time_t now)
{
    if (p->src)
        source_begin_batch(p->src, p->tokens, rng_stream(p->rng, "tokens"));
    p->batch_start = p->phase_start = now;
    p->layer = 0;
    p->moe = 0;
    at(p, p->t_attn, PH_ATTN, 0);
}

static void next_layer(play_t *p)
{
    const scenario *s = p->s;
    sim_time_t now = engine_now(p->eng);
    if (++p->layer < s->model.layers) {
        p->phase_start = now;
        at(p, p->t_attn, PH_ATTN, 0);
        return;
    }
    metrics_series_add(&p->m.batch_time, now - p->batch_start);
    if (tl_on(p))
        timeline_span(p->tl, TIMELINE_RUN, 0, "batch", "run", p->batch_start, now, p->batch, -1,
                      "tokens", p->tokens);
    p->m.batches = ++p->batch;
    p->m.tokens += p->tokens;
    if (p->progress && p->progress(p->progress_ctx, p->batch, s->workload.batches, now)) {
        err_set(p->err, ERR_RUN, NULL, 0, NULL, "stopped after batch %d", p->batch);
        p->failed = 1; /* play_run's caller asked to stop: a signal */
        engine_stop(p->eng);
        return;
    }
    if (p->batch < s->workload.batches)
        at(p, 0, PH_BATCH, 0);
}

/* Attention (and its TP all-reduce) is done: the dense FFN, or the gate. */
static void after_attention(play_t *p)
{
    const scenario *s = p->s;
    if (!scenario_is_moe_layer(s, p->layer)) {
        for (int g = 0; g < p->gpus; g++)
            p->m.gpu_busy_ps[g] += p->t_dense;
        at(p, p->t_dense, PH_FFN, 0);
        return;
    }
    metrics_series_add(&p->m.layer[p->moe].attention, p->t_attn);
    at(p, p->t_gate, PH_GATE, 0);
}

/* The layer's last TP all-reduce is done (or there is none): its times go
 * to the metrics, then the next layer. */
static void end_layer(play_t *p, sim_time_t tp_ffn_t)
{
    if (p->tp > 1) {
        sim_time_t t = p->tp_attn_t + tp_ffn_t;
        metrics_series_add(&p->m.tp_allreduce_all, t);
        if (scenario_is_moe_layer(p->s, p->layer))
            metrics_series_add(&p->m.layer[p->moe].tp_allreduce, t);
    }
    if (scenario_is_moe_layer(p->s, p->layer))
        p->moe++;
    next_layer(p);
}

/* The FFN or MoE block is done: with tp > 1 its output is all-reduced over
 * the TP group first. */
static void end_block(play_t *p)
{
    if (p->tp == 1) {
        end_layer(p, 0);
        return;
    }
    p->tp_ffn_t = tp_allreduce(p);
    at(p, p->tp_ffn_t, PH_TP_FFN, 0);
}

/* The dispatch is done: every GPU's grouped GEMM (and shared experts)
 * starts; the slowest sets the layer's expert time. */
static void start_experts(play_t *p, sim_time_t now, metrics_layer *ml)
{
    const scenario *s = p->s;
    p->expert_start = now;
    sim_time_t slowest = 0;
    p->experts_pending = p->gpus;
    for (int g = 0; g < p->gpus; g++) {
        sim_time_t t = sat_add(gpu_experts_time(&s->cluster.gpu, &p->expert_shape,
                                                p->local_tokens + (size_t)g * p->spr, p->spr),
                               p->t_shared);
        if (at(p, t, PH_EXPERT, g) < 0)
            return;
        p->m.gpu_busy_ps[g] += t;
        slowest = t > slowest ? t : slowest;
    }
    metrics_series_add(&ml->expert, slowest);
}

static void fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    play_t *p = ctx;
    const scenario *s = p->s;
    sim_time_t now = ev->time;
    metrics_layer *ml = p->moe < p->m.moe_layers ? &p->m.layer[p->moe] : NULL;
    int gpu = (int)(ev->arg >> 8);

    switch ((enum phase)(ev->arg & 0xff)) {
    case PH_BATCH:
        if (p->mig && p->batch > 0 && p->batch % s->placement.rebalance_every == 0) {
            sim_time_t t = rebalance(p);
            if (t < 0) {
                p->failed = 1;
                engine_stop(e);
                break;
            }
            if (at(p, t, PH_MIGRATE, 0) < 0)
                break;
            metrics_series_add(&p->m.migration, t);
            p->mig_start = now;
            break;
        }
        start_batch(p, now);
        break;
    case PH_MIGRATE:
        if (tl_on(p))
            timeline_span(p->tl, TIMELINE_RUN, 0, "migration", "network", p->mig_start, now,
                          p->batch, -1, NULL, 0);
        start_batch(p, now);
        break;
    case PH_ATTN:
        tl_all(p, "attention", "compute", now - p->t_attn, now);
        for (int g = 0; g < p->gpus; g++)
            p->m.gpu_busy_ps[g] += p->t_attn;
        if (p->tp > 1) {
            p->tp_attn_t = tp_allreduce(p);
            at(p, p->tp_attn_t, PH_TP_ATTN, 0);
            break;
        }
        after_attention(p);
        break;
    case PH_TP_ATTN:
        tl_all(p, "tp_allreduce", "network", now - p->tp_attn_t, now);
        after_attention(p);
        break;
    case PH_FFN:
        tl_all(p, "dense_ffn", "compute", now - p->t_dense, now);
        end_block(p);
        break;
    case PH_GATE: {
        tl_all(p, "gate", "compute", now - p->t_gate, now);
        metrics_series_add(&ml->gate, p->t_gate);
        if (route_layer(p) < 0) {
            p->failed = 1;
            engine_stop(e);
            break;
        }
        sim_time_t t = alltoall(p, p->bytes, s->network.dispatch_dtype, 0);
        if (at(p, t, PH_DISPATCH, 0) < 0)
            break;
        metrics_series_add(&ml->dispatch, t);
        metrics_series_add(&p->m.dispatch_all, t);
        p->phase_start = now;
        break;
    }
    case PH_DISPATCH:
        tl_alltoall(p, "dispatch", p->phase_start, now);
        start_experts(p, now, ml);
        break;
    case PH_EXPERT:
        if (tl_on(p))
            timeline_span(p->tl, gpu, 0, "experts", "compute", p->expert_start, now, p->batch,
                          p->layer, "assignments", p->gpu_tokens[gpu]);
        if (--p->experts_pending == 0) { /* the straggler is done: combine */
            sim_time_t t = alltoall(p, p->bytes_back, s->network.combine_dtype, 1);
            if (at(p, t, PH_COMBINE, 0) < 0)
                break;
            metrics_series_add(&ml->combine, t);
            metrics_series_add(&p->m.combine_all, t);
            p->phase_start = now;
        }
        break;
    case PH_COMBINE:
        tl_alltoall(p, "combine", p->phase_start, now);
        end_block(p);
        break;
    case PH_TP_FFN:
        tl_all(p, "tp_allreduce", "network", now - p->tp_ffn_t, now);
        end_layer(p, p->tp_ffn_t);
        break;
    }
}

int play_run(play_t *p, play_progress_fn progress, void *ctx, err_t *e)
{
    p->progress = progress;
    p->progress_ctx = ctx;
    p->err = e;
    p->batch = 0;
    at(p, 0, PH_BATCH, 0);
    engine_run(p->eng, SIM_TIME_MAX);
    p->m.sim_time_ps = engine_now(p->eng);
    if (p->failed)
        return -1;
    if (p->trace_out) { /* whole, renamed into place; or nothing */
        trace_writer *w = p->trace_out;
        p->trace_out = NULL;
        if (trace_finish(w, e) < 0)
            return -1;
    }
    if (p->tl) {
        timeline_t *t = p->tl;
        p->tl = NULL;
        if (timeline_finish(t, e) < 0)
            return -1;
    }
    return 0;
}
