/*
 * play.c - forward passes (and training steps, with train.c) as operations on per-GPU streams.
 *
 * A batch is one pass of the forward schedule (models/sched.c: the steps of
 * each pipeline stage and micro-batch, as data), turned into operations on
 * the executor (exec.c: compute and communication streams per GPU) by
 * forward.c. This file gives the operations their costs when they start and
 * records what they did when they end (one hook: metrics, timeline):
 *
 *   attention, gate, dense FFN   per GPU, from the GPU model
 *   dispatch                     the MoE block: the first dispatch of a layer
 *                                routes the whole batch (gate -> router ->
 *                                capacity); each dispatch group (an EP group
 *                                with its ETP peers) takes its micro-batch's
 *                                rows per member pair and tokens per local
 *                                expert, and its all-to-all is timed on them
 *   experts                      per GPU, from the tokens its slots received
 *   combine                      the same rows back
 *   TP all-reduce                a ring over one TP group
 *   pipeline send                one GPU's activations to its next stage
 *
 * An EP group's all-to-all synchronises that group only; other groups, DP
 * replicas and stages run on. Routing: the source writes the layer's logits,
 * the router picks experts, capacity drops what does not fit (over the whole
 * batch, as one forward call over it would), and the survivors become bytes
 * between GPUs (one row of `hidden` values per token and destination GPU, as
 * DeepEP sends a token once to each GPU holding any of its experts).
 *
 * Layouts (models/layout.c numbers the ranks). With tensor parallelism tp,
 * every GPU of a TP group computes 1/tp of its DP rank's attention and dense
 * FFN (heads and FFN width split, Megatron-Core's column/row-parallel linear
 * layers), and a ring all-reduce of the rank's activations over the TP group
 * follows attention and follows the FFN or MoE block. MoE layers follow
 * Megatron-Core's sequence-parallel token dispatcher: each TP rank routes
 * tokens_per_rank / tp of its DP rank's tokens, so the routing sources are
 * the dp x tp GPUs of a stage, each in the EP group the layout gives it. With
 * expert tensor parallelism etp, a token bound for an expert goes to all etp
 * GPUs of the expert's ETP group, each computes 1/etp of the expert's FFN
 * width for every token the group received, and each sends its partial
 * output back in the combine. With pp stages, every stage's GPUs route the
 * same tokens through their own layers.
 */
#include "moesim/play.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/capacity.h"
#include "moesim/collective.h"
#include "moesim/dispatch.h"
#include "moesim/engine.h"
#include "moesim/exec.h"
#include "moesim/flows.h"
#include "moesim/forward.h"
#include "moesim/gpu.h"
#include "moesim/layout.h"
#include "moesim/net.h"
#include "moesim/placement.h"
#include "moesim/rng.h"
#include "moesim/router.h"
#include "moesim/sched.h"
#include "moesim/source.h"
#include "moesim/timeline.h"
#include "moesim/topo.h"
#include "moesim/trace.h"
#include "moesim/train.h"
#include "moesim/units.h"

#include "play_int.h"

static int placement_setup(play_t *p, err_t *e);
static void stages_setup(play_t *p);
static int pass_setup(play_t *p, err_t *e);

/* What a trace of this scenario's runs says about its shape: every GPU of
 * a stage routes tokens_per_rank / tp tokens (play_new's sources). */
static trace_header trace_header_of(const scenario *s)
{
    trace_header h = {
        .experts = (uint32_t)s->model.experts,
        .slots = (uint32_t)router_slots(&s->model.router),
        .moe_layers = (uint32_t)s->moe_layers,
        .sources = (uint32_t)(s->cluster.topo.nodes * s->cluster.topo.gpus_per_node /
                              s->parallel.pp),
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


/* Per-GPU times that do not depend on routing, for one micro-batch. */
static void times_setup(play_t *p)
{
    const scenario *s = p->s;
    const gpu_spec *g = &p->gpu;
    int64_t tpr = s->workload.tokens_per_rank / p->M; /* the loader checked divisibility */
    p->mb_rank_tokens = tpr;
    p->attn_shape = scenario_attn_shape(s, p->tp);
    p->t_attn = gpu_attention_time(g, &p->attn_shape, tpr);
    /* the router runs on the tokens this GPU dispatches */
    p->t_gate = gpu_gate_time(g, p->src_tokens / p->rM, s->model.hidden, s->model.experts,
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
    /* the output layer: hidden -> vocab / tp (vocabulary-parallel) over the
     * rank's tokens, FP32 logits out: the gate's kernel shape */
    p->t_head = gpu_gate_time(g, tpr, s->model.hidden, s->model.vocab / p->tp, s->model.dtype);
    double row = (double)s->model.hidden * dtype_bytes(s->model.dtype);
    p->tp_bytes = (double)tpr * row;
    /* Megatron's scatter-gather between stages: each TP rank sends its 1/tp */
    p->act_bytes = (double)tpr * row / p->tp;
}

/* Where each GPU's routed tokens start in the batch, and its ETP peers.
 * DP rank r's tokens are [r x tokens_per_rank, ...); its TP rank j routes
 * the j-th 1/tp of them. With tp = 1 GPU g is DP rank g: offset g x tpr. */
static void sources_setup(play_t *p)
{
    const scenario *s = p->s;
    p->src_off = xcalloc((size_t)p->gpus, sizeof(*p->src_off), "source offsets");
    p->etp_peers = xcalloc((size_t)p->gpus * (size_t)p->etp, sizeof(*p->etp_peers), "ETP groups");
    for (int g = 0; g < p->gpus; g++) {
        p->src_off[g] = (int64_t)layout_rank_in(&p->lay, LAYOUT_DP, g) *
                            (s->workload.tokens_per_rank / (p->M / p->rM)) +
                        (int64_t)layout_rank_in(&p->lay, LAYOUT_TP, g) * p->src_tokens;
        layout_group_gpus(&p->lay, LAYOUT_ETP, layout_group_of(&p->lay, LAYOUT_ETP, g),
                          p->etp_peers + (size_t)g * (size_t)p->etp);
    }
}

/* The routing trace to read and the one to write, the timeline. */
static int files_setup(play_t *p, err_t *e)
{
    const scenario *s = p->s;
    if (s->workload.source.kind == SOURCE_TRACE) {
        if (trace_setup(p, e) < 0)
            return -1;
    } else {
        p->src = source_new(&s->workload.source, rng_stream(p->rng, "source/init"), e);
        if (!p->src)
            return -1;
    }
    if (s->output.trace[0]) {
        trace_header h = trace_header_of(s);
        p->trace_out = trace_create(s->output.trace, &h, e);
        if (!p->trace_out)
            return -1;
    }
    if (s->output.timeline[0]) {
        p->tl = timeline_create_streams(s->output.timeline, s->name, s->cluster.topo.nodes,
                                        s->cluster.topo.gpus_per_node,
                                        s->workload.mode == MODE_TRAINING ? 4 : 2, e);
        if (!p->tl)
            return -1;
    }
    return 0;
}

/* The router's buffers: per token of a batch, per expert, per MoE layer. */
static void routing_setup(play_t *p)
{
    const scenario *s = p->s;
    size_t T = (size_t)p->tokens, E = (size_t)s->model.experts;
    const capacity_config *cap = &s->model.capacity;
    /* a replay has choices, no logits; nor has a forced balance, unless
     * reroute ranks by them */
    if (!p->trace_in && (!s->model.force_balance || cap->overflow == CAPACITY_REROUTE))
        p->logits = xcalloc(T * E, sizeof(*p->logits), "router logits");
    p->choice = xcalloc(T * (size_t)p->slots, sizeof(*p->choice), "routing choices");
    if (cap->priority == CAPACITY_SCORE)
        p->weight = xcalloc(T * (size_t)p->slots, sizeof(*p->weight), "gate weights");
    p->cc = xcalloc((size_t)s->moe_layers, sizeof(*p->cc), "capacity counts");
    for (int i = 0; i < s->moe_layers; i++)
        capacity_counts_init(&p->cc[i], s->model.experts);
    if (s->model.router.kind == ROUTER_SIGMOID_BIAS) /* starts at 0: no preference */
        p->bias = xcalloc((size_t)s->moe_layers * E, sizeof(*p->bias), "router biases");
    if (s->model.router.kind == ROUTER_NOISY_TOPK)
        p->noise = rng_stream(p->rng, "router/noise");
    p->src_load = xcalloc(E, sizeof(*p->src_load), "per-source expert load");
    /* padded GShard/Tutel buffers are E x C per source: every slot travels
     * (expert_choice fills its slots exactly: nothing to pad) */
    p->padded = cap->pad_to_capacity && cap->overflow != CAPACITY_DROPLESS &&
                s->model.router.kind != ROUTER_EXPERT_CHOICE;
    size_t seen = (size_t)p->slots * (size_t)p->etp; /* a token reaches etp GPUs per expert */
    p->tok_dst = xcalloc(seen, sizeof(*p->tok_dst), "destinations");
    p->tok_run = xcalloc(seen, sizeof(*p->tok_run), "destination nodes");
    p->tok_scratch = xcalloc(2 * seen, sizeof(*p->tok_scratch), "destinations");
    p->routed = xcalloc((size_t)s->moe_layers, sizeof(*p->routed), "routed layers");
    p->moe_of = xcalloc((size_t)s->model.layers, sizeof(*p->moe_of), "MoE layers");
    for (int l = 0, i = 0; l < s->model.layers; l++)
        p->moe_of[l] = scenario_is_moe_layer(s, l) ? i++ : -1;
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
    p->spr = (s->model.experts + s->placement.redundant) / s->parallel.ep;
    p->tp = s->parallel.tp;
    p->etp = s->parallel.etp;
    p->M = s->workload.micro_batches;
    p->stages = s->parallel.pp;
    p->per_stage = p->gpus / p->stages;
    p->route_ranks = p->per_stage;
    p->src_tokens = s->workload.tokens_per_rank / p->tp; /* the loader checked divisibility */
    p->train = s->workload.mode == MODE_TRAINING;
    if (p->train && s->output.trace[0]) { /* --trace, set after the loader's check */
        err_set(e, ERR_INPUT, s->file, 0, "output.trace",
                "a routing trace written in training steps: not available in this version; "
                "allowed: workload.mode = \"forward\" for it, or a training step without it");
        goto fail;
    }
    p->rM = p->M;
    p->pass_tokens = p->tokens;
    if (p->train) { /* a routing batch is one micro-batch */
        p->rM = 1;
        p->tokens /= p->M;
        p->src_tokens /= p->M;
    }
    sources_setup(p);
    p->topo = topo_new(&s->cluster.topo, e);
    if (!p->topo)
        goto fail;
    p->rng = rng_new(s->seed);
    p->slots = router_slots(&s->model.router);
    p->gpu = s->cluster.gpu; /* SMs held by communication kernels compute nothing */
    for (int d = 0; s->network.comm_sms > 0 && d < DTYPE_COUNT; d++)
        p->gpu.peak_flops[d] *= (double)(p->gpu.sms - s->network.comm_sms) / p->gpu.sms;
    if (files_setup(p, e) < 0)
        goto fail;
    times_setup(p);
    routing_setup(p);
    p->link_bytes = xcalloc((size_t)topo_link_count(p->topo), sizeof(*p->link_bytes),
                            "link bytes");
    p->eng = engine_new(4 * (size_t)p->gpus + 16);
    metrics_init(&p->m, s->moe_layers, s->model.experts, topo_link_count(p->topo), p->gpus);
    for (int i = 0; i < s->moe_layers; i++) /* no router, no probabilities */
        p->m.layer[i].no_probs = p->trace_in != NULL || s->model.force_balance;
    for (int l = 0; l < s->model.layers; l++)
        if (p->moe_of[l] >= 0)
            p->m.layer[p->moe_of[l]].layer = l;
    stages_setup(p);
    if (placement_setup(p, e) < 0 || pass_setup(p, e) < 0)
        goto fail;
    if (p->train) {
        p->m.stages = p->stages;
        p->m.stage_ps = xcalloc((size_t)p->stages * METRICS_SHARES, sizeof(*p->m.stage_ps),
                                "stage shares");
    }
    return p;

fail:
    play_free(p);
    return NULL;
}

/* The forward pass's own structures. */
static void pass_free(play_t *p)
{
    fwd_free(p->fwd);
    if (!p->train) /* training's list is the train_sched's */
        free(p->steps);
    exec_free(p->x);
    free(p->stage_first);
    free(p->stage_gpu);
    free(p->tp_gpu);
    free(p->a2a_gpu);
    free(p->all_gpu);
    free(p->a2a_of);
    free(p->a2a_rank);
    free(p->a2a_run);
    free(p->a2a_runs);
    free(p->a2a_scratch);
    free(p->src_index);
    free(p->moe_of);
    if (p->routed)
        for (int i = 0; i < p->s->moe_layers; i++) {
            free(p->routed[i].choice);
            free(p->routed[i].gpu_tokens);
        }
    free(p->routed);
    if (p->grp)
        for (size_t i = 0; i < (size_t)p->M * (size_t)p->a2a_groups; i++) {
            free(p->grp[i].bytes);
            free(p->grp[i].node);
        }
    free(p->grp);
    free(p->mb_local);
    free(p->mb_gpu_tokens);
    for (int i = 0; i < p->nslab; i++) {
        for (int j = 0; j < p->s->moe_layers * p->gps; j++) {
            free(p->slab[i].grp[j].bytes);
            free(p->slab[i].grp[j].node);
        }
        free(p->slab[i].grp);
        free(p->slab[i].local);
        free(p->slab[i].gt);
    }
    free(p->slab);
    free(p->slab_of);
    free(p->slab_free);
    free(p->mb_ops);
    free(p->step_wanted);
    free(p->dp_gpu);
    free(p->edp_gpu);
    if (p->train)
        train_sched_free(&p->ts);
    free(p->step_max);
    free(p->step_left);
    free(p->tp_attn_max);
    free(p->layer_exposed);
    free(p->bal);
    free(p->compute_end);
    free(p->tail);
    free(p->tail_layer);
    free(p->wire);
    free(p->node_wire);
}

void play_free(play_t *p)
{
    if (!p)
        return;
    pass_free(p);
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
    free(p->forced);
    coll_plan_fini(&p->plan);
    free(p->link_bytes);
    free(p->tok_dst);
    free(p->tok_run);
    free(p->tok_scratch);
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

/* model.router.force_balance: token t's j-th choice is expert
 * (t + floor(j E / k)) mod E - distinct for k <= E, every expert chosen k
 * times in every E consecutive tokens (exactly balanced when the batch is
 * a multiple of E), and a token's choices spread E / k experts apart, over
 * as many EP ranks as the placement puts them on (contiguous slots: min(k,
 * ep) ranks). A group-limited router (model.router.groups G, topk_groups
 * g, with g dividing k) keeps its limit: token t takes the groups
 * (t + floor(i G / g)) mod G and k / g experts spread the same way inside
 * each. Gate weights 1 / k. Published training benchmarks force balance
 * with Megatron-LM's --moe-router-force-load-balancing, which draws random
 * logits through the same router instead: balanced only in expectation
 * (within about 1/sqrt(tokens x k / E)), a token's experts on fewer
 * distinct ranks (Qwen3-30B-A3B at EP16: 6.6 expected, computed, against 8),
 * so this puts a little more on the all-to-alls than Megatron's does. */
static void force_balance(play_t *p)
{
    size_t n = (size_t)p->tokens * (size_t)p->slots;
    if (p->forced) { /* every layer and batch the same: written once */
        memcpy(p->choice, p->forced, n * sizeof(*p->choice));
        if (p->weight)
            for (size_t i = 0; i < n; i++)
                p->weight[i] = 1.0 / p->slots;
        return;
    }
    const router_config *rc = &p->s->model.router;
    int E = p->s->model.experts, K = p->slots, G = rc->groups, g = rc->topk_groups;
    if (G <= 1 || g >= G || K % g != 0 || K / g > E / G) /* no limit, or one it cannot keep */
        G = g = 1;
    int per = E / G, k = K / g; /* experts per group, choices per chosen group */
    for (int64_t t = 0; t < p->tokens; t++)
        for (int i = 0; i < g; i++) {
            int64_t grp = (t + (int64_t)i * G / g) % G;
            for (int j = 0; j < k; j++) {
                int64_t x = grp * per + (t / G + (int64_t)j * per / k) % per;
                p->choice[t * K + i * k + j] = (int32_t)x;
                if (p->weight)
                    p->weight[t * K + i * k + j] = 1.0 / K;
            }
        }
    p->forced = xcalloc(n, sizeof(*p->forced), "forced choices");
    memcpy(p->forced, p->choice, n * sizeof(*p->forced));
}

static int64_t route_gate(play_t *p, source_t *src, int moe, double *bias, gsl_rng *noise,
                          int64_t first_token, double *prob_sum, int64_t *unrouted)
{
    const scenario *s = p->s;
    if (s->model.force_balance) {
        force_balance(p);
        return -1;
    }
    const router_config *rc = &s->model.router;
    const capacity_config *cap = &s->model.capacity;
    int E = s->model.experts, K = p->slots;
    int tpr = p->src_tokens, ranks = p->route_ranks; /* routing sources: a stage's GPUs */

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
 * then the layer's counts. Returns -1 if a model refused its input. */
static int route_layer(play_t *p)
{
    const scenario *s = p->s;
    metrics_layer *ml = &p->m.layer[p->moe];
    capacity_counts *cc = &p->cc[p->moe];
    capacity_config cap = s->model.capacity;
    int E = s->model.experts, K = p->slots;
    int tpr = p->src_tokens, ranks = p->route_ranks; /* a stage's GPUs are its sources */

    double *bias = p->bias ? p->bias + (size_t)p->moe * (size_t)E : NULL;
    int64_t ec_cap = gate(p, p->src, p->moe, bias, p->noise,
                          p->route_batch * p->tokens, /* hash: ids run across batches */
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
    if (bias && p->train) /* training: the bias learns once per step (end_pass) */
        for (int x = 0; x < E; x++)
            p->step_wanted[(size_t)p->moe * (size_t)E + (size_t)x] += cc->wanted[x];
    else if (bias) /* auxiliary-loss-free balancing: the bias learns from this batch */
        router_update_bias(&s->model.router, bias, cc->wanted);

    return 0;
}

/* A buffer for a layer's choices: a released one, or a new one. */
static int32_t *choice_buffer(play_t *p)
{
    const scenario *s = p->s;
    for (int i = 0; i < s->moe_layers; i++) /* a released one: left < 0 */
        if (p->routed[i].choice && p->routed[i].left < 0) {
            int32_t *c = p->routed[i].choice;
            p->routed[i].choice = NULL;
            return c;
        }
    return xcalloc((size_t)p->tokens * (size_t)p->slots, sizeof(int32_t), "routing choices");
}

/* MoE layer moe, the first time a block of this batch needs it: the whole
 * batch routed (every micro-batch and group: capacity sees the batch, as a
 * forward call over all of it would), its choices kept until every group's
 * every micro-batch has taken its bytes. */
int play_route_moe(play_t *p, int moe)
{
    struct routed *r = &p->routed[moe];
    if (r->left > 0)
        return 0;
    p->moe = moe;
    p->layer = p->m.layer[moe].layer;
    if (route_layer(p) < 0)
        return -1;
    /* the layer keeps the routed buffer; the router gets the layer's old
     * one (released: nothing reads it), or another released one */
    int32_t *c = r->choice ? r->choice : choice_buffer(p);
    r->choice = p->choice;
    p->choice = c;
    r->left = p->gps * p->rM;
    if (!r->gpu_tokens)
        r->gpu_tokens = xcalloc((size_t)p->gpus, sizeof(*r->gpu_tokens), "GPU tokens");
    memset(r->gpu_tokens, 0, (size_t)p->gpus * sizeof(*r->gpu_tokens));
    return 0;
}

/* The empty padded slots source `src` (source index si) sends in its block:
 * its own (rank scope), or its share of the batch's (global scope: split
 * evenly, remainder to low sources); an expert's are split evenly over its
 * replicas (remainder to the lower slots). */
static void pad_rows(play_t *p, struct grp *g, int moe, int mb, int src, int si)
{
    const scenario *s = p->s;
    const capacity_counts *cc = &p->cc[moe];
    const placement *pl = &p->pl[moe];
    int E = s->model.experts, spr = p->spr, n = p->a2a, ranks = p->route_ranks;
    int group = layout_ep_group(&p->lay, src);
    double row = (double)s->model.hidden * dtype_bytes(s->model.dtype);
    double *out = g->bytes + (size_t)p->a2a_rank[src] * (size_t)n;
    int64_t *local = local_at(p, mb, moe);
    for (int x = 0; x < E; x++) {
        int64_t pad = s->model.capacity.scope == CAPACITY_SCOPE_RANK
                          ? cc->cap[x] - p->src_load[x]
                          : cc->padding[x] / ranks + (si < cc->padding[x] % ranks);
        int nrep = pl->replicas[x];
        for (int i = 0; i < nrep; i++) {
            int slot = pl->expert_slots[pl->slot_start[x] + i];
            int64_t share = pad / nrep + (i < pad % nrep);
            int owner = layout_gpu(&p->lay, group, slot / spr);
            for (int q = 0; q < p->etp; q++) {
                int dst = p->etp_peers[(size_t)owner * p->etp + q];
                int64_t *lt = &local[(size_t)dst * spr + slot % spr];
                *lt = sat_add(*lt, share);
                out[p->a2a_rank[dst]] += row * (double)share;
            }
        }
    }
}

/* One source's tokens of micro-batch mb into its group's rows: a token
 * travels once to each GPU holding any of its experts (as DeepEP sends it),
 * or, padded, once per expert slot; with etp > 1 to every GPU of the
 * expert's ETP group. An expert with replicas serves a token from the slot
 * placement_pick chooses (its own node first, then the least loaded so far
 * this layer, counted per EP group in source order). */
static void source_rows(play_t *p, struct grp *g, const int32_t *choice, int moe, int mb,
                        int src)
{
    const scenario *s = p->s;
    int K = p->slots, spr = p->spr, n = p->a2a, etp = p->etp, gpn = s->cluster.topo.gpus_per_node;
    int group = layout_ep_group(&p->lay, src), ep = s->parallel.ep, padded = p->padded;
    const placement *pl = &p->pl[moe];
    const int *rn = p->rank_node + (size_t)group * (size_t)ep;
    int64_t *rt = p->rank_tokens + (size_t)group * (size_t)ep;
    int64_t *local = local_at(p, mb, moe);
    int64_t *gt = gtok_at(p, mb, moe);
    int64_t *all = p->routed[moe].gpu_tokens;
    int runs = p->a2a_runs[p->a2a_of[src]], per = p->src_tokens / p->rM, slice = mb % p->rM;
    double row = (double)s->model.hidden * dtype_bytes(s->model.dtype);
    for (int t = slice * per; t < (slice + 1) * per; t++) {
        const int32_t *c = choice + ((size_t)p->src_off[src] + (size_t)t) * K;
        int k = 0; /* the token's destinations, as members of the group */
        for (int j = 0; j < K; j++) {
            if (c[j] < 0) /* dropped, or an unused expert-choice slot */
                continue;
            int slot = placement_pick(pl, c[j], src / gpn, rn, rt);
            int owner = layout_gpu(&p->lay, group, slot / spr);
            p->src_load[c[j]] += padded; /* pad_rows reads it */
            for (int q = 0; q < etp; q++) {
                int dst = p->etp_peers[(size_t)owner * etp + q];
                int64_t *lt = &local[(size_t)dst * spr + slot % spr];
                *lt = sat_add(*lt, 1); /* a padded rank before may have filled it */
                gt[dst]++;
                all[dst]++;
                p->tok_dst[k] = p->a2a_rank[dst];
                p->tok_run[k++] = p->a2a_run[dst];
            }
        }
        dispatch_token(g->bytes, g->node, n, runs, p->a2a_rank[src], p->tok_dst, p->tok_run, k,
                       padded, row, p->tok_scratch);
    }
}

/* Micro-batch mb's block of MoE layer moe in dispatch group u: its rows,
 * and tokens per member GPU and local slot. When the layer's last block has
 * taken its bytes, its GPU balance goes to the metrics. */
void play_group_bytes(play_t *p, int moe, int mb, int u)
{
    const scenario *s = p->s;
    struct grp *g = grp_at(p, mb, moe, u);
    const int *members = p->a2a_gpu + (size_t)u * (size_t)p->a2a;
    int n = p->a2a, spr = p->spr, ep = s->parallel.ep, gpn = s->cluster.topo.gpus_per_node;
    int runs = p->a2a_runs[u];
    memset(g->bytes, 0, (size_t)n * (size_t)n * sizeof(*g->bytes));
    memset(g->node, 0, (size_t)n * (size_t)runs * sizeof(*g->node));
    int64_t *local = local_at(p, mb, moe);
    int64_t *gt = gtok_at(p, mb, moe);
    for (int i = 0; i < n; i++) {
        int m = members[i];
        memset(local + (size_t)m * (size_t)spr, 0, (size_t)spr * sizeof(*local));
        gt[m] = 0;
        if (layout_ep_rank(&p->lay, m) == 0) /* each of the group's EP groups once */
            memset(p->rank_tokens + (size_t)layout_ep_group(&p->lay, m) * (size_t)ep, 0,
                   (size_t)ep * sizeof(*p->rank_tokens));
    }
    const int32_t *choice = p->routed[moe].choice;
    for (int i = 0; i < n; i++) {
        if (p->padded) /* what each source keeps: its padding's complement */
            memset(p->src_load, 0, (size_t)s->model.experts * sizeof(*p->src_load));
        source_rows(p, g, choice, moe, mb, members[i]);
        if (p->padded)
            pad_rows(p, g, moe, mb, members[i], p->src_index[members[i]]);
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double v = g->bytes[(size_t)a * n + b];
            if (a == b)
                continue;
            p->m.a2a_bytes += v;
            if (members[a] / gpn != members[b] / gpn)
                p->m.a2a_internode_bytes += v;
        }
    play_layer_done(p, moe, members[0]);
}

void play_layer_done(play_t *p, int moe, int gpu)
{
    struct routed *r = &p->routed[moe];
    if (--r->left > 0)
        return;
    r->left = -1; /* released: its buffer may serve another layer */
    const int *stage = p->stage_gpu + (size_t)layout_rank_in(&p->lay, LAYOUT_PP, gpu) *
                                          (size_t)p->per_stage;
    for (int i = 0; i < p->per_stage; i++)
        p->bal[i] = r->gpu_tokens[stage[i]];
    double mom, cv;
    metrics_balance(p->bal, p->per_stage, &mom, &cv);
    p->m.layer[moe].gpu_max_over_mean_sum += mom;
}

/* ---- training: a micro-batch routed on its own ---- */






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
    size_t E = (size_t)s->model.experts, EE = E * E;
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
        p->mig = xcalloc((size_t)ep * (size_t)ep, sizeof(*p->mig), "migration bytes");
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

static int rebalance(play_t *p)
{
    const scenario *s = p->s;
    size_t E = (size_t)s->model.experts, EE = E * E, ep = (size_t)s->parallel.ep;
    int groups = p->lay.ep_groups;
    memset(p->mig, 0, ep * ep * sizeof(*p->mig));
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
        for (int k = 0; k < n; k++) /* the same moves in every EP group */
            p->mig[(size_t)mv[k].src_rank * ep + (size_t)mv[k].dst_rank] += p->expert_bytes;
        copies += (int64_t)n * groups;
        placement_fini(&p->pl[i]);
        p->pl[i] = next;
    }
    free(mv);
    p->m.rebalances++;
    p->m.migrated_experts += copies;
    p->m.migration_bytes += (double)copies * p->expert_bytes;
    p->mig_copies = copies;
    return 0;
}

/* A re-placement's copies as one phase: every EP group's moves at once, a
 * transfer per (holder, new rank) pair that carries bytes, as a direct
 * all-to-all-v of the weights. */
static void migration_plan(play_t *p, coll_plan *out)
{
    int ep = p->s->parallel.ep, groups = p->lay.ep_groups;
    coll_plan_phase(out);
    for (int g = 0; g < groups; g++)
        for (int a = 0; a < ep; a++)
            for (int b = 0; b < ep; b++) {
                double v = p->mig[(size_t)a * (size_t)ep + (size_t)b];
                if (v > 0)
                    coll_plan_add(out, layout_gpu(&p->lay, g, a), layout_gpu(&p->lay, g, b), v);
            }
}

/* Is the current batch on the timeline? (output.timeline_batches: the first
 * N batches; 0: all) */
static int tl_on(const play_t *p)
{
    int n = p->s->output.timeline_batches;
    return p->tl && (n == 0 || p->batch < n);
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

/* What an operation kind's cost is called in an error. */
static const char *const cost_what[] = {
    [SCHED_ATTN] = "attention",         [SCHED_TP_ATTN] = "TP all-reduce",
    [SCHED_FFN] = "dense FFN",          [SCHED_GATE] = "gate",
    [SCHED_DISPATCH] = "dispatch",      [SCHED_EXPERTS] = "expert compute",
    [SCHED_COMBINE] = "combine",        [SCHED_TP_FFN] = "TP all-reduce",
    [SCHED_SEND] = "pipeline send",     [SCHED_HEAD] = "output layer",
    [SCHED_GRAD_DENSE] = "gradient reduction", [SCHED_GRAD_EXPERT] = "expert gradient reduction",
    [SCHED_OPTIMIZER] = "optimizer step", [SCHED_GATHER_DENSE] = "parameter all-gather",
    [SCHED_GATHER_EXPERT] = "expert parameter all-gather",
    [KIND_MIGRATE] = "re-placement"};

static void comm_plan(play_t *p, const sched_step *st, int u, coll_plan *out);

/* The seconds a compute operation of kind k would take (step st, on GPU
 * gpu), unrounded, and what bounds it. */
static double compute_seconds(const play_t *p, sched_kind k, const sched_step *st, int gpu,
                              gpu_bound *b)
{
    const scenario *s = p->s;
    const gpu_spec *g = &p->gpu;
    int64_t tpr = p->mb_rank_tokens;
    switch (k) {
    case SCHED_ATTN:
        return gpu_attention_seconds(g, &p->attn_shape, tpr, b);
    case SCHED_GATE:
        return gpu_gate_seconds(g, p->src_tokens / p->rM, s->model.hidden, s->model.experts,
                                s->model.dtype, b);
    case SCHED_FFN:
        return gpu_experts_seconds(g, &p->dense_shape, &tpr, 1, b);
    case SCHED_HEAD:
        return gpu_gate_seconds(g, tpr, s->model.hidden, s->model.vocab / p->tp, s->model.dtype,
                                b);
    default: {
        const int64_t *local = local_at(p, st->mb, p->moe_of[st->layer]) +
                               (size_t)gpu * (size_t)p->spr;
        return gpu_experts_seconds(g, &p->expert_shape, local, p->spr, b) +
               sim_time_to_s(p->t_shared);
    }
    }
}

/* The operation of `kind` (its tag; gpu for compute), `delay` from now,
 * would end beyond the clock's 2^63 ps: the run stops with ERR_INPUT naming
 * the key most responsible and the time it makes, in seconds (the
 * picosecond figures saturated). A communication's plan is rebuilt and
 * timed alone to find its cause. */
static void beyond_clock(play_t *p, int kind, uint64_t tag, int gpu, sim_time_t delay)
{
    const scenario *s = p->s;
    const sched_step *st = kind == KIND_MIGRATE ? NULL : fwd_step(p->fwd, tag);
    if (st && st->layer >= 0) {
        p->layer = st->layer;
        p->moe = p->moe_of[st->layer] >= 0 ? p->moe_of[st->layer] : p->moe;
    }
    char val[96] = "";
    const char *key = NULL;
    double secs = sim_time_to_s(delay);
    gpu_bound b = GPU_BOUND_COMPUTE;
    if (st && sched_is_compute((sched_kind)kind)) {
        secs = compute_seconds(p, (sched_kind)kind, st, gpu, &b);
    } else {
        net_result r;
        coll_plan_clear(&p->plan);
        if (st)
            comm_plan(p, st, fwd_unit(tag), &p->plan);
        else
            migration_plan(p, &p->plan);
        coll_plan_analytical(&p->plan, p->topo, s->network.overhead_ps, &r, p->link_bytes);
        key = net_blame(p, val, sizeof(val), &secs);
    }
    if (kind == SCHED_DISPATCH || kind == SCHED_EXPERTS || kind == SCHED_COMBINE) {
        const char *pad = padding_blame(p, val, sizeof(val));
        key = pad ? pad : key;
    }
    if (!key)
        key = gpu_blame(p, b, s->model.dtype, val, sizeof(val));
    double now = sim_time_to_s(engine_now(p->eng));
    if (secs < 9.2e6) /* the operation fits; the run's sum (or the flow clock's) does not */
        err_set(p->err, ERR_INPUT, s->file, 0, key,
                "%s makes the run pass the clock's 106 days (2^63 ps) in batch %d, layer %d "
                "(simulated %.3g s so far, one %s takes %.3g s)",
                val, p->batch, p->layer, now, cost_what[kind], secs);
    else
        err_set(p->err, ERR_INPUT, s->file, 0, key,
                "%s makes one %s take %.3g s, beyond the clock's 106 days (2^63 ps)", val,
                cost_what[kind], secs);
    p->failed = 1;
    engine_stop(p->eng);
}

/* ---- the pass's layout ---- */

/* Every group of kind k, stage by stage (stages x per_stage entries): a
 * stage's groups one after another, each by rank. */
static void kind_groups(const play_t *p, layout_kind kind, int *out)
{
    int S = p->stages, per = p->per_stage, size = layout_group_size(&p->lay, kind);
    int *fill = xcalloc((size_t)S, sizeof(*fill), "stages");
    for (int t = 0; t < layout_groups(&p->lay, kind); t++) {
        int k = layout_rank_in(&p->lay, LAYOUT_PP, layout_member(&p->lay, kind, t, 0));
        layout_group_gpus(&p->lay, kind, t, out + (size_t)k * per + (size_t)fill[k]);
        fill[k] += size;
    }
    free(fill);
}

/* Stages (layers and GPUs), each stage's GPUs in ascending order (a GPU's
 * index there is its routing source index), its TP groups by rank. */
static void stages_setup(play_t *p)
{
    const scenario *s = p->s;
    int S = p->stages, L = s->model.layers, G = p->gpus, per = p->per_stage;
    p->stage_first = xcalloc((size_t)S + 1, sizeof(*p->stage_first), "stages");
    for (int k = 0; k < S; k++)
        p->stage_first[k + 1] = p->stage_first[k] +
                                (s->parallel.npp_layers ? s->parallel.pp_layers[k] : L / S);
    p->stage_gpu = xcalloc((size_t)G, sizeof(*p->stage_gpu), "stage GPUs");
    p->tp_gpu = xcalloc((size_t)G, sizeof(*p->tp_gpu), "TP groups");
    p->src_index = xcalloc((size_t)G, sizeof(*p->src_index), "source indices");
    p->all_gpu = xcalloc((size_t)G, sizeof(*p->all_gpu), "GPUs");
    int *fill = xcalloc((size_t)S, sizeof(*fill), "stages");
    for (int g = 0; g < G; g++) {
        int k = layout_rank_in(&p->lay, LAYOUT_PP, g);
        p->src_index[g] = fill[k];
        p->stage_gpu[(size_t)k * per + (size_t)fill[k]++] = g;
        p->all_gpu[g] = g;
    }
    free(fill);
    kind_groups(p, LAYOUT_TP, p->tp_gpu);
}

/* Dispatch groups: in each stage, the GPUs of one expert-data-parallel
 * coordinate (an EP group and its ETP peers), ascending, and the nodes each
 * spans in order. */
static void groups_setup(play_t *p)
{
    const scenario *s = p->s;
    int G = p->gpus, per = p->per_stage, a2a = s->parallel.ep * p->etp, edp = per / a2a;
    int gpn = s->cluster.topo.gpus_per_node;
    p->a2a = a2a;
    p->a2a_groups = G / a2a;
    p->gps = p->a2a_groups / p->stages;
    p->a2a_gpu = xcalloc((size_t)G, sizeof(*p->a2a_gpu), "dispatch groups");
    p->a2a_of = xcalloc((size_t)G, sizeof(*p->a2a_of), "dispatch groups");
    p->a2a_rank = xcalloc((size_t)G, sizeof(*p->a2a_rank), "dispatch groups");
    p->a2a_run = xcalloc((size_t)G, sizeof(*p->a2a_run), "dispatch groups");
    p->a2a_runs = xcalloc((size_t)p->a2a_groups, sizeof(*p->a2a_runs), "dispatch groups");
    p->a2a_scratch = xcalloc(2 * (size_t)a2a + 2, sizeof(*p->a2a_scratch), "dispatch groups");
    int *cnt = xcalloc((size_t)p->a2a_groups, sizeof(*cnt), "dispatch groups");
    for (int k = 0; k < p->stages; k++)
        for (int i = 0; i < per; i++) {
            int g = p->stage_gpu[(size_t)k * per + (size_t)i];
            int j = k * edp + layout_rank_in(&p->lay, LAYOUT_EDP, g);
            p->a2a_gpu[(size_t)j * a2a + (size_t)cnt[j]] = g;
            p->a2a_of[g] = j;
            p->a2a_rank[g] = cnt[j]++;
        }
    free(cnt);
    for (int j = 0; j < p->a2a_groups; j++) {
        int run = -1, node = -1;
        for (int i = 0; i < a2a; i++) {
            int g = p->a2a_gpu[(size_t)j * a2a + (size_t)i];
            if (g / gpn != node) {
                node = g / gpn;
                run++;
            }
            p->a2a_run[g] = run;
        }
        p->a2a_runs[j] = run + 1;
    }
}

static sim_time_t op_duration(void *ctx, const exec_span *op);
static void op_plan(void *ctx, const exec_span *op, coll_plan *out);
static void op_done(void *ctx, const exec_span *op);
static void op_overflow(void *ctx, const exec_span *op, sim_time_t delay);

/* The schedule of one pass and the buffers its MoE blocks fill. */
static void pass_buffers(play_t *p)
{
    const scenario *s = p->s;
    size_t G = (size_t)p->gpus, M = (size_t)p->M, n = (size_t)p->a2a;
    int most = 0;
    for (int u = 0; u < p->a2a_groups; u++)
        most = p->a2a_runs[u] > most ? p->a2a_runs[u] : most;
    if (!p->train) { /* training's MoE blocks live in slabs (slab_get) */
        p->grp = xcalloc(M * (size_t)p->a2a_groups, sizeof(*p->grp), "MoE blocks");
        for (size_t i = 0; i < M * (size_t)p->a2a_groups; i++) {
            int runs = p->a2a_runs[i % (size_t)p->a2a_groups];
            p->grp[i].bytes = xcalloc(n * n, sizeof(double), "dispatch bytes");
            p->grp[i].node = xcalloc(n * (size_t)runs, sizeof(double), "node bytes");
        }
        p->mb_local = xcalloc(M * G * (size_t)p->spr, sizeof(*p->mb_local), "expert tokens");
        p->mb_gpu_tokens = xcalloc(M * G, sizeof(*p->mb_gpu_tokens), "GPU tokens");
    } else {
        p->slab_of = xcalloc(M, sizeof(*p->slab_of), "micro-batch slabs");
        /* force-balanced micro-batches are all alike: one is routed */
        p->sample = s->model.force_balance ? 1 : s->training.route_sample;
        int half = s->parallel.schedule == SCHED_PIPE_DUALPIPE ? p->M / 2 : p->M;
        p->sample = p->sample < half ? p->sample : 0;
        for (size_t i = 0; i < M; i++)
            p->slab_of[i] = -1;
        p->mb_ops = xcalloc(M, sizeof(*p->mb_ops), "micro-batch operations");
        if (p->bias)
            p->step_wanted = xcalloc((size_t)s->moe_layers * (size_t)s->model.experts,
                                     sizeof(*p->step_wanted), "step loads");
    }
    p->wire = xcalloc(n * n, sizeof(*p->wire), "all-to-all bytes");
    p->node_wire = xcalloc(n * (size_t)most, sizeof(*p->node_wire), "node bytes");
    p->step_max = xcalloc((size_t)p->nsteps, sizeof(*p->step_max), "step times");
    p->step_left = xcalloc((size_t)p->nsteps, sizeof(*p->step_left), "step units");
    p->tp_attn_max = xcalloc(M * (size_t)s->model.layers, sizeof(*p->tp_attn_max), "TP times");
    p->layer_exposed = xcalloc((size_t)s->moe_layers * EXEC_CLASSES, sizeof(*p->layer_exposed),
                               "exposed time");
    p->bal = xcalloc((size_t)p->per_stage, sizeof(*p->bal), "GPU tokens");
    p->compute_end = xcalloc(G, sizeof(*p->compute_end), "compute ends");
    p->tail = xcalloc(G * EXEC_CLASSES, sizeof(*p->tail), "exposed tails");
    p->tail_layer = xcalloc(G, sizeof(*p->tail_layer), "exposed tails");
    for (size_t g = 0; g < G; g++)
        p->tail_layer[g] = -1;
}

/* The schedule of a pass: a forward pass (sched_forward), or a training
 * step (train.h), with the groups its gradients are reduced over. */
static int schedule_setup(play_t *p, err_t *e)
{
    const scenario *s = p->s;
    if (p->train) {
        if (train_sched_build(s, &p->ts, e) < 0)
            return -1;
        p->steps = p->ts.steps;
        p->nsteps = p->ts.n;
        p->dp_gpu = xcalloc((size_t)p->gpus, sizeof(*p->dp_gpu), "DP groups");
        p->edp_gpu = xcalloc((size_t)p->gpus, sizeof(*p->edp_gpu), "expert-DP groups");
        kind_groups(p, LAYOUT_DP, p->dp_gpu);
        kind_groups(p, LAYOUT_EDP, p->edp_gpu);
        train_times_setup(p, s->workload.tokens_per_rank / p->M);
        return 0;
    }
    bool *moe = xcalloc((size_t)s->model.layers, sizeof(*moe), "MoE layers");
    for (int l = 0; l < s->model.layers; l++)
        moe[l] = p->moe_of[l] >= 0;
    sched_config c = {.layers = s->model.layers, .stages = p->stages,
                      .stage_first = p->stage_first, .moe = moe, .tp = p->tp > 1,
                      .head = s->model.vocab > 0,
                      .micro_batches = p->M, .overlap = (sched_overlap)s->workload.overlap};
    p->nsteps = sched_forward_count(&c);
    p->steps = xcalloc((size_t)p->nsteps, sizeof(*p->steps), "schedule");
    long n = sched_forward(&c, p->steps, e);
    free(moe);
    return n < 0 ? -1 : 0;
}

static int pass_setup(play_t *p, err_t *e)
{
    const scenario *s = p->s;
    groups_setup(p);
    if (schedule_setup(p, e) < 0)
        return -1;
    /* training: pipeline sends and gradient reductions on streams of their own */
    int streams = p->train ? 4 : 2;
    exec_config xc = {.gpus = p->gpus, .streams = streams, .model = s->network.model,
                      .overhead_ps = s->network.overhead_ps, .flow_tol_ps = s->network.flow_tol_ps};
    static const exec_callbacks cb = {op_duration, op_plan, op_done, op_overflow};
    p->x = exec_new(p->eng, p->topo, &xc, &cb, p);
    fwd_layout fl = {.gpus = p->gpus, .stages = p->stages, .per_stage = p->per_stage,
                     .stage_gpu = p->stage_gpu, .tp = p->tp, .tp_gpu = p->tp_gpu,
                     .a2a = p->a2a, .a2a_gpu = p->a2a_gpu, .dp = s->parallel.dp,
                     .dp_gpu = p->dp_gpu, .edp = p->per_stage / p->a2a, .edp_gpu = p->edp_gpu,
                     .p2p_stream = p->train ? 2 : EXEC_STREAM_COMM,
                     .grad_stream = p->train ? 3 : EXEC_STREAM_COMM};
    p->fwd = fwd_new(p->x, &fl, p->steps, p->nsteps, p->M);
    pass_buffers(p);
    return 0;
}

/* ---- costs: asked when an operation starts ---- */

/* The global index of a stage's dispatch group u. */
static int group_index(const play_t *p, const sched_step *st, int u)
{
    return st->stage * (p->per_stage / p->a2a) + u;
}

/* Micro-batch mb's experts on GPU g: its grouped GEMM over its slots'
 * tokens, then the shared experts. */
static sim_time_t expert_time(const play_t *p, int mb, int moe, int g)
{
    const int64_t *local = local_at(p, mb, moe) + (size_t)g * (size_t)p->spr;
    return sat_add(gpu_experts_time(&p->gpu, &p->expert_shape, local, p->spr),
                   p->t_shared);
}

/* A compute step's time. Backward: attention's input and weight gradients
 * from the GPU model (gpu_attention_grad_time); every other GEMM's input
 * gradient and weight gradient each take its forward's time (the same
 * FLOPs and bytes, the operands transposed). */
static sim_time_t op_duration(void *ctx, const exec_span *op)
{
    play_t *p = ctx;
    const sched_step *st = fwd_step(p->fwd, op->tag);
    switch ((sched_kind)st->kind) {
    case SCHED_ATTN:
        return st->phase == SCHED_PHASE_F ? p->t_attn
               : st->phase == SCHED_PHASE_B ? p->t_attn_b
                                            : p->t_attn_w;
    case SCHED_GATE:
        return p->t_gate;
    case SCHED_FFN:
        return p->t_dense;
    case SCHED_HEAD:
        return sat_add(p->t_head, p->t_mtp);
    case SCHED_OPTIMIZER:
        return p->t_opt;
    default:
        return expert_time(p, st->mb, p->moe_of[st->layer], op->gpu);
    }
}

/* Micro-batch mb's all-to-all in dispatch group u, in its wire dtype
 * (DeepEP: FP8 dispatch with its scales, BF16 combine): the rows count in
 * model.dtype, so every pair is scaled by the ratio of row sizes.
 * Hierarchical exchanges cross RDMA once per token and node; the per-node
 * rows serve both directions (what d sent to node n comes back to d). */
static void a2a_plan(play_t *p, int mb, int moe, int u, int combine, coll_plan *out)
{
    const scenario *s = p->s;
    const struct grp *g = grp_at(p, mb, moe, u);
    size_t n = (size_t)p->a2a, runs = (size_t)p->a2a_runs[u];
    dtype_t dt = combine ? s->network.combine_dtype : s->network.dispatch_dtype;
    double scale = coll_row_bytes(s->model.hidden, dt) /
                   ((double)s->model.hidden * dtype_bytes(s->model.dtype));
    for (size_t i = 0; i < n * n; i++)
        p->wire[i] = g->bytes[i] * scale;
    for (size_t i = 0; i < n * runs; i++)
        p->node_wire[i] = g->node[i] * scale;
    coll_alltoallv_group(out, p->topo, s->network.alltoall, (int)n,
                         p->a2a_gpu + (size_t)u * n, p->wire,
                         p->padded ? NULL : p->node_wire, /* padded slots all travel */
                         combine, p->a2a_scratch);
}

/* A ring all-reduce over one TP group (m: its GPUs by rank): 2 (n - 1)
 * steps, each its own phase, moving tp_bytes / n from every member to the
 * next, as coll_allreduce's ring does. */
static void tp_plan(const play_t *p, const int *m, int n, coll_plan *out)
{
    train_ring_plan(out, m, n, p->tp_bytes, 2 * (n - 1));
}



/* The transfers of communication step st's unit u. Reads what the
 * dispatch left and changes nothing: beyond_clock rebuilds them. */
static void comm_plan(play_t *p, const sched_step *st, int u, coll_plan *out)
{
    size_t per = (size_t)p->per_stage, base = (size_t)st->stage * per;
    int n;
    switch ((sched_kind)st->kind) {
    case SCHED_DISPATCH:
    case SCHED_COMBINE: /* backward: a combine's gradient travels as a dispatch */
        a2a_plan(p, st->mb, p->moe_of[st->layer], group_index(p, st, u),
                 (st->kind == SCHED_COMBINE) != (st->phase == SCHED_PHASE_B), out);
        break;
    case SCHED_SEND:
        coll_plan_phase(out);
        coll_plan_add(out, p->stage_gpu[base + (size_t)u],
                      p->stage_gpu[(size_t)st->to * per + (size_t)u], p->act_bytes);
        break;
    case SCHED_GRAD_DENSE:
    case SCHED_GATHER_DENSE:
        n = p->s->parallel.dp;
        train_grad_plan(p, st, p->dp_gpu + base + (size_t)u * (size_t)n, n, out);
        break;
    case SCHED_GRAD_EXPERT:
    case SCHED_GATHER_EXPERT:
        n = p->per_stage / p->a2a;
        train_grad_plan(p, st, p->edp_gpu + base + (size_t)u * (size_t)n, n, out);
        break;
    default:
        tp_plan(p, p->tp_gpu + base + (size_t)u * (size_t)p->tp, p->tp, out);
        break;
    }
}

static void op_plan(void *ctx, const exec_span *op, coll_plan *out)
{
    play_t *p = ctx;
    p->last_kind = op->kind;
    p->last_comm = op->tag;
    if (op->kind == KIND_MIGRATE) {
        migration_plan(p, out);
        return;
    }
    const sched_step *st = fwd_step(p->fwd, op->tag);
    int u = fwd_unit(op->tag);
    if (p->train && st->kind == SCHED_DISPATCH && p->slab_of[st->mb] < 0 &&
        train_route(p, st->mb) < 0) {
        p->failed = 1;
        engine_stop(p->eng);
        return;
    }
    if (!p->train && st->kind == SCHED_DISPATCH) { /* the MoE block: route, then its rows */
        int moe = p->moe_of[st->layer];
        if (play_route_moe(p, moe) < 0) {
            p->failed = 1;
            engine_stop(p->eng);
            return;
        }
        play_group_bytes(p, moe, st->mb, group_index(p, st, u));
    }
    comm_plan(p, st, u, out);
}

static void op_overflow(void *ctx, const exec_span *op, sim_time_t delay)
{
    beyond_clock(ctx, op->kind, op->tag, op->gpu, delay);
}

/* ---- what operations did: recorded when they end ---- */

/* The timeline's name of each kind. */
static const char *const span_names[SCHED_KIND_COUNT][SCHED_PHASES] = {
    [SCHED_ATTN] = {"attention", "attention_dgrad", "attention_wgrad"},
    [SCHED_TP_ATTN] = {"tp_allreduce", "tp_allreduce_bwd", ""},
    [SCHED_FFN] = {"dense_ffn", "dense_ffn_dgrad", "dense_ffn_wgrad"},
    [SCHED_GATE] = {"gate", "gate_dgrad", "gate_wgrad"},
    [SCHED_DISPATCH] = {"dispatch", "dispatch_bwd", ""},
    [SCHED_EXPERTS] = {"experts", "experts_dgrad", "experts_wgrad"},
    [SCHED_COMBINE] = {"combine", "combine_bwd", ""},
    [SCHED_TP_FFN] = {"tp_allreduce", "tp_allreduce_bwd", ""},
    [SCHED_SEND] = {"pp_send", "pp_send_bwd", ""},
    [SCHED_HEAD] = {"lm_head", "lm_head_dgrad", "lm_head_wgrad"},
    [SCHED_GRAD_DENSE] = {"grad_dense", "grad_dense", ""},
    [SCHED_GRAD_EXPERT] = {"grad_expert", "grad_expert", ""},
    [SCHED_OPTIMIZER] = {"optimizer", "optimizer", ""},
    [SCHED_GATHER_DENSE] = {"gather_dense", "gather_dense", ""},
    [SCHED_GATHER_EXPERT] = {"gather_expert", "gather_expert", ""}};

/* The bytes member i of group u sent in micro-batch mb's dispatch (or
 * combine: what it received, sent back), on the wire; a GPU's rows for its
 * own experts never leave it. */
static int64_t bytes_sent(const play_t *p, int mb, int moe, int u, int i, int combine)
{
    const scenario *s = p->s;
    const double *b = grp_at(p, mb, moe, u)->bytes;
    dtype_t dt = combine ? s->network.combine_dtype : s->network.dispatch_dtype;
    double scale = coll_row_bytes(s->model.hidden, dt) /
                   ((double)s->model.hidden * dtype_bytes(s->model.dtype));
    double sent = 0;
    size_t n = (size_t)p->a2a;
    for (size_t j = 0; j < n; j++)
        if (j != (size_t)i)
            sent += (combine ? b[j * n + (size_t)i] : b[(size_t)i * n + j]) * scale;
    return (int64_t)(sent + 0.5);
}

/* One operation on the timeline: compute on its GPU's first row, a
 * collective on every member's second. */
static void tl_op(play_t *p, const sched_step *st, const exec_span *op)
{
    sched_kind k = (sched_kind)st->kind;
    if (sched_is_compute(k)) {
        int ex = k == SCHED_EXPERTS;
        int64_t got = ex ? gtok_at(p, st->mb, p->moe_of[st->layer])[op->gpu] : 0;
        timeline_span(p->tl, op->gpu, EXEC_STREAM_COMPUTE, span_names[k][st->phase], "compute",
                      op->start, op->end, p->batch, st->layer, ex ? "assignments" : NULL, got);
        return;
    }
    int a2a = k == SCHED_DISPATCH || k == SCHED_COMBINE;
    int u = a2a ? group_index(p, st, fwd_unit(op->tag)) : 0;
    for (int i = 0; i < op->n; i++)
        timeline_span(p->tl, op->members[i], op->stream, span_names[k][st->phase], "network",
                      op->start, op->end, p->batch, st->layer, a2a ? "bytes_sent" : NULL,
                      a2a ? bytes_sent(p, st->mb, p->moe_of[st->layer], u, i,
                                       (k == SCHED_COMBINE) != (st->phase == SCHED_PHASE_B))
                          : 0);
}



/* Every unit of step st has ended; t is the slowest one's time. */
static void step_metrics(play_t *p, const sched_step *st, sim_time_t t)
{
    int moe = st->layer >= 0 ? p->moe_of[st->layer] : -1;
    metrics_layer *ml = moe >= 0 ? &p->m.layer[moe] : NULL;
    /* a layer's two TP all-reduces are reported as one figure: the first
     * waits here for the second (layer >= 0 for every TP step) */
    sim_time_t *tp_attn = p->tp_attn_max + (size_t)st->mb * (size_t)p->s->model.layers +
                          (size_t)(st->layer >= 0 ? st->layer : 0);
    switch ((sched_kind)st->kind) {
    case SCHED_ATTN:
        if (ml)
            metrics_series_add(&ml->attention, t);
        break;
    case SCHED_GATE:
        metrics_series_add(&ml->gate, t);
        break;
    case SCHED_DISPATCH:
        metrics_series_add(&ml->dispatch, t);
        metrics_series_add(&p->m.dispatch_all, t);
        break;
    case SCHED_EXPERTS:
        metrics_series_add(&ml->expert, t);
        break;
    case SCHED_COMBINE:
        metrics_series_add(&ml->combine, t);
        metrics_series_add(&p->m.combine_all, t);
        break;
    case SCHED_TP_ATTN:
        *tp_attn = t;
        break;
    case SCHED_TP_FFN:
        metrics_series_add(&p->m.tp_allreduce_all, sat_add(*tp_attn, t));
        if (ml)
            metrics_series_add(&ml->tp_allreduce, sat_add(*tp_attn, t));
        break;
    default:
        break;
    }
}

/* The pass's exposed communication and compute idle time, per GPU, into
 * the metrics; then the counters start again. Exposed: the executor's
 * waits at the head of the compute stream, and the communication that ran
 * after the GPU's last compute (the pass's end waits on it). */
static void exposure_metrics(play_t *p, sim_time_t pass)
{
    const int64_t *busy = exec_busy(p->x, EXEC_STREAM_COMPUTE);
    for (int g = 0; g < p->gpus; g++) {
        int64_t waited = 0, *tail = p->tail + (size_t)g * EXEC_CLASSES;
        int moe = p->tail_layer[g] >= 0 ? p->moe_of[p->tail_layer[g]] : -1;
        for (int c = 0; c < EXEC_CLASSES; c++) {
            int64_t x = sat_add(exec_exposed(p->x, (exec_class)c)[g], tail[c]);
            metrics_series_add(&p->m.exposed[c], x);
            p->cur.exposed_ps[c] = sat_add(p->cur.exposed_ps[c], x);
            if (p->m.stage_ps) {
                int64_t *sx = &p->m.stage_ps[(size_t)layout_rank_in(&p->lay, LAYOUT_PP, g) *
                                                 METRICS_SHARES +
                                             METRICS_SHARE_EXPOSED + (size_t)c];
                *sx = sat_add(*sx, x);
            }
            waited = sat_add(waited, x);
            if (moe >= 0) {
                int64_t *l = &p->layer_exposed[(size_t)moe * EXEC_CLASSES + (size_t)c];
                *l = sat_add(*l, tail[c]);
            }
            tail[c] = 0;
        }
        p->compute_end[g] = 0;
        p->tail_layer[g] = -1;
        int64_t idle = pass - busy[g] - waited; /* each term <= pass */
        p->m.compute_idle_ps += idle > 0 ? idle : 0;
        p->m.compute_span_ps += pass;
        p->cur.idle_ps += idle > 0 ? idle : 0;
        p->cur.span_ps += pass;
        if (p->m.stage_ps) {
            int64_t *sx = &p->m.stage_ps[(size_t)layout_rank_in(&p->lay, LAYOUT_PP, g) *
                                         METRICS_SHARES];
            sx[METRICS_SHARE_IDLE] = sat_add(sx[METRICS_SHARE_IDLE], idle > 0 ? idle : 0);
            sx[METRICS_SHARE_SPAN] = sat_add(sx[METRICS_SHARE_SPAN], pass);
        }
    }
    for (int i = 0; i < p->s->moe_layers; i++)
        for (int c = 0; c < EXEC_CLASSES; c++) {
            int64_t *x = &p->layer_exposed[(size_t)i * EXEC_CLASSES + (size_t)c];
            metrics_series_add(&p->m.layer[i].exposed[c], *x / p->per_stage);
            *x = 0;
        }
    exec_reset_counters(p->x);
}

static void batch_fire(engine_t *e, void *ctx, const engine_event_t *ev);

/* The pass's last operation has ended at `now`. */
static void end_pass(play_t *p, sim_time_t now)
{
    const scenario *s = p->s;
    metrics_series_add(&p->m.batch_time, now - p->pass_start);
    if (tl_on(p))
        timeline_span(p->tl, TIMELINE_RUN, 0, p->train ? "step" : "batch", "run",
                      p->pass_start, now, p->batch, -1, "tokens", p->pass_tokens);
    exposure_metrics(p, now - p->pass_start);
    p->m.batches = ++p->batch;
    p->m.tokens += p->pass_tokens;
    if (p->train) {
        p->cur.time_ps = now - p->pass_start;
        p->cur.tokens = p->pass_tokens;
        p->cur.gpus = p->gpus;
        metrics_step_add(&p->m, &p->cur);
        memset(&p->cur, 0, sizeof(p->cur));
    }
    p->step_over = 1;
    for (int mb = 0; p->train && p->sample > 0 && mb < p->M; mb++)
        if (train_replay_of(p, mb) == mb)
            train_slab_put(p, mb);
    p->step_over = 0;
    for (int i = 0; p->step_wanted && i < s->moe_layers; i++) { /* once per step */
        size_t E = (size_t)s->model.experts;
        router_update_bias(&s->model.router, p->bias + (size_t)i * E,
                           p->step_wanted + (size_t)i * E);
        memset(p->step_wanted + (size_t)i * E, 0, E * sizeof(*p->step_wanted));
    }
    if (p->progress && p->progress(p->progress_ctx, p->batch, s->workload.batches, now)) {
        err_set(p->err, ERR_RUN, NULL, 0, NULL, "stopped after batch %d", p->batch);
        p->failed = 1; /* play_run's caller asked to stop: a signal */
        engine_stop(p->eng);
        return;
    }
    if (p->batch < s->workload.batches)
        engine_after(p->eng, 0, batch_fire, p, 0);
}

/* A communication ended: the part of it after each member's last compute
 * so far is exposed if no compute follows (a later compute operation's end
 * drops it: the executor counted its wait). Operations of one stream never
 * overlap, so the parts add. */
static void tail_add(play_t *p, const sched_step *st, const exec_span *op)
{
    for (int i = 0; i < op->n; i++) {
        int g = op->members[i];
        sim_time_t from = op->start > p->compute_end[g] ? op->start : p->compute_end[g];
        if (op->end <= from)
            continue;
        int64_t *t = &p->tail[(size_t)g * EXEC_CLASSES + (size_t)op->cls];
        *t = sat_add(*t, op->end - from);
        p->tail_layer[g] = st->layer;
    }
}

static void op_done(void *ctx, const exec_span *op)
{
    play_t *p = ctx;
    if (op->kind == KIND_MIGRATE) {
        metrics_series_add(&p->m.migration, op->end - op->start);
        if (tl_on(p))
            timeline_span(p->tl, TIMELINE_RUN, 0, "migration", "network", op->start, op->end,
                          p->batch, -1, NULL, 0);
        engine_after(p->eng, 0, batch_fire, p, 1);
        return;
    }
    long i = fwd_step_index(op->tag);
    const sched_step *st = &p->steps[i];
    sim_time_t d = op->end - op->start;
    if (sched_is_compute((sched_kind)st->kind)) {
        p->compute_end[op->gpu] = op->end;
        memset(p->tail + (size_t)op->gpu * EXEC_CLASSES, 0, EXEC_CLASSES * sizeof(*p->tail));
        p->m.gpu_busy_ps[op->gpu] = sat_add(p->m.gpu_busy_ps[op->gpu], d);
        if (p->m.stage_ps) {
            int share = st->kind == SCHED_ATTN      ? METRICS_SHARE_ATTENTION
                        : st->kind == SCHED_EXPERTS ? METRICS_SHARE_EXPERTS
                                                    : METRICS_SHARE_OTHER;
            int64_t *x = &p->m.stage_ps[(size_t)st->stage * METRICS_SHARES + (size_t)share];
            *x = sat_add(*x, d);
        }
        int moe = st->layer >= 0 ? p->moe_of[st->layer] : -1;
        if (op->exposed > 0 && moe >= 0)
        {
            int64_t *x = &p->layer_exposed[(size_t)moe * EXEC_CLASSES + (size_t)op->exposed_cls];
            *x = sat_add(*x, op->exposed);
        }
    }
    else
        tail_add(p, st, op);
    if (tl_on(p))
        tl_op(p, st, op);
    if (d > p->step_max[i])
        p->step_max[i] = d;
    if (--p->step_left[i] == 0 && st->phase == SCHED_PHASE_F && !st->recompute)
        step_metrics(p, st, p->step_max[i]); /* the forward's figures */
    else if (p->step_left[i] == 0)
        train_metrics(p, st, p->step_max[i]);
    if (p->train && --p->mb_ops[st->mb] == 0)
        train_slab_put(p, st->mb);
    if (--p->ops_left == 0)
        end_pass(p, op->end);
}

/* ---- batches ---- */

/* Units (operations) of each step kind in one stage. */
int play_step_units(const play_t *p, sched_kind k)
{
    if (sched_is_compute(k) || k == SCHED_SEND)
        return p->per_stage;
    switch (k) {
    case SCHED_TP_ATTN:
    case SCHED_TP_FFN:
        return p->per_stage / p->tp;
    case SCHED_GRAD_DENSE:
    case SCHED_GATHER_DENSE:
        return p->per_stage / p->s->parallel.dp;
    case SCHED_GRAD_EXPERT:
    case SCHED_GATHER_EXPERT: /* expert-DP groups of per_stage / a2a GPUs: a2a of them */
        return p->a2a;
    default:
        return p->per_stage / p->a2a;
    }
}

static void start_pass(play_t *p)
{
    if (p->src && !p->train && !p->s->model.force_balance) /* training: per micro-batch */
        source_begin_batch(p->src, p->tokens, rng_stream(p->rng, "tokens"));
    if (!p->train)
        p->route_batch = p->batch;
    p->pass_start = engine_now(p->eng);
    for (int mb = 0; p->train && mb < p->M; mb++)
        p->mb_ops[mb] = 0;
    for (long i = 0; i < p->nsteps; i++) {
        p->step_max[i] = 0;
        p->step_left[i] = play_step_units(p, (sched_kind)p->steps[i].kind);
        if (p->train)
            p->mb_ops[p->steps[i].mb] += p->step_left[i];
    }
    p->ops_left = fwd_add_pass(p->fwd);
}

/* A batch begins (arg 0), after a re-placement when one is due (dynamic
 * placement: every layer re-placed from its moving averages, the experts
 * that move copied from a holder to their new rank in every EP group as one
 * all-to-all-v of weight bytes; the batch waits for it, as a re-placement
 * that does not overlap compute would), or the re-placement is done (1). */
static void batch_fire(engine_t *e, void *ctx, const engine_event_t *ev)
{
    play_t *p = ctx;
    const scenario *s = p->s;
    exec_clear(p->x);
    if (ev->arg == 1 || !(p->mig && p->batch > 0 && p->batch % s->placement.rebalance_every == 0)) {
        start_pass(p);
        return;
    }
    if (rebalance(p) < 0) {
        p->failed = 1;
        engine_stop(e);
        return;
    }
    if (p->mig_copies > 0) {
        exec_collective(p->x, p->all_gpu, p->gpus, EXEC_STREAM_COMM, KIND_MIGRATE,
                        EXEC_CLASS_DP, 0, NULL, 0);
        return;
    }
    metrics_series_add(&p->m.migration, 0);
    if (tl_on(p))
        timeline_span(p->tl, TIMELINE_RUN, 0, "migration", "network", ev->time, ev->time,
                      p->batch, -1, NULL, 0);
    start_pass(p);
}

int play_run(play_t *p, play_progress_fn progress, void *ctx, err_t *e)
{
    p->progress = progress;
    p->progress_ctx = ctx;
    p->err = e;
    p->batch = 0;
    engine_after(p->eng, 0, batch_fire, p, 0);
    engine_run(p->eng, SIM_TIME_MAX);
    p->m.sim_time_ps = engine_now(p->eng);
    if (!p->failed && exec_failed(p->x)) /* the flow process passed the clock */
        beyond_clock(p, p->last_kind, p->last_comm, -1, SIM_TIME_MAX);
    if (p->failed)
        return -1;
    memcpy(p->m.link_bytes, exec_link_bytes(p->x), (size_t)p->m.links * sizeof(double));
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
