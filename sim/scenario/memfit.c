/*
 * memfit.c - what one GPU of a scenario holds (weights, activations,
 * all-to-all buffers, by gpu_memory_need), and the load-time check that it
 * fits the GPU's HBM.
 */
#include "loader.h"

#include <string.h>

#include "moesim/collective.h"
#include "moesim/mflops.h"

/* Pipeline stage k's share of s: its layers (parallel.pp_layers, or L / pp
 * each, the split play.c uses) and vocabulary rows (the embedding on the
 * first stage, the output layer on the last). */
static void stage_shape(const scenario *s, int k, gpu_memory_shape *sh)
{
    int pp = s->parallel.pp > 0 ? s->parallel.pp : 1, L = s->model.layers, lo = 0;
    for (int j = 0; j < k; j++)
        lo += s->parallel.npp_layers ? s->parallel.pp_layers[j] : L / pp;
    int hi = lo + (s->parallel.npp_layers ? s->parallel.pp_layers[k] : L / pp);
    if (!s->parallel.npp_layers && k == pp - 1)
        hi = L;
    sh->layers = hi - lo;
    sh->moe_layers = 0;
    for (int l = lo; l < hi; l++)
        sh->moe_layers += scenario_is_moe_layer(s, l);
    sh->vocab_rows = (double)s->model.vocab * ((k == 0) + (k == pp - 1));
}

/* A forward pass's need (training: one micro-batch's working buffers). */
static void forward_memory(const scenario *s, gpu_memory_shape *sh, gpu_memory *need)
{
    memset(sh, 0, sizeof(*sh));
    int tp = s->parallel.tp > 0 ? s->parallel.tp : 1;
    int ep = s->parallel.ep > 0 ? s->parallel.ep : 1;
    sh->attn = scenario_attn_shape(s, 1);
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
    int per = s->workload.mode == MODE_TRAINING && s->workload.micro_batches > 0
                  ? s->workload.micro_batches
                  : 1; /* training holds one micro-batch's buffers at a time */
    sh->tokens = s->workload.tokens_per_rank / per;
    sh->moe_tokens = s->workload.tokens_per_rank / per / tp;
    sh->dispatch_row = coll_row_bytes(s->model.hidden, s->network.dispatch_dtype);
    sh->combine_row = coll_row_bytes(s->model.hidden, s->network.combine_dtype);
    /* the most loaded pipeline stage */
    int pp = s->parallel.pp > 0 ? s->parallel.pp : 1;
    gpu_memory_shape best = *sh;
    need->total = -1;
    for (int k = 0; k < pp; k++) {
        gpu_memory m;
        stage_shape(s, k, sh);
        gpu_memory_need(sh, &m);
        if (m.total > need->total) {
            *need = m;
            best = *sh;
        }
    }
    *sh = best;
}

void scenario_memory(const scenario *s, gpu_memory_shape *sh, gpu_memory *need)
{
    forward_memory(s, sh, need);
    if (s->workload.mode != MODE_TRAINING)
        return;
    scenario_train_mem worst = {0}; /* the stage that needs the most */
    for (int k = 0; k < s->parallel.pp; k++) {
        scenario_train_mem m;
        scenario_train_memory(s, k, &m);
        if (m.total > worst.total)
            worst = m;
    }
    need->weights = worst.weights;
    need->grads = worst.grads;
    need->optimizer = worst.optimizer;
    need->activations = worst.activations + worst.buffers;
    need->total = worst.total;
}

/* Training: refuses a layout a stage's GPUs cannot hold, with each
 * stage's need and the worst one's parts. */
static int check_train_memory(loader *L, err_t *e)
{
    const scenario *s = L->s;
    const double G = 1e9;
    char list[400] = "";
    size_t at = 0;
    scenario_train_mem worst = {0};
    int wk = 0;
    for (int k = 0; k < s->parallel.pp; k++) {
        scenario_train_mem m;
        scenario_train_memory(s, k, &m);
        if (k < 16 && at < sizeof(list))
            at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%d: %.1f", k ? ", " : "", k,
                                   m.total / G);
        if (m.total > worst.total)
            worst = m, wk = k;
    }
    if (worst.total <= s->cluster.gpu.hbm_bytes)
        return 0;
    return scenario_fail(L, config_lookup(L->cfg, "cluster.gpu"), "cluster.gpu", e,
                         "training does not fit: stage %d needs %.1f GB per GPU (weights %.1f, "
                         "gradients %.1f, optimizer state %.1f, activations %.1f of %.0f "
                         "chunk passes in flight, buffers %.1f) > %.1f GB on %s; GB per "
                         "GPU by stage %s%s; allowed: more stages or experts per GPU "
                         "(parallel.pp, parallel.ep), training.zero = 1, training.recompute, a "
                         "smaller workload.micro_batch, or cluster.check_memory = false",
                         wk, worst.total / G, worst.weights / G, worst.grads / G,
                         worst.optimizer / G, worst.activations / G, worst.inflight,
                         worst.buffers / G, s->cluster.gpu.hbm_bytes / G, s->cluster.gpu.name,
                         list, s->parallel.pp > 16 ? ", ..." : "");
}

/* Refuses a scenario whose GPUs cannot hold it, with the parts of the sum. */
int scenario_check_memory(loader *L, err_t *e)
{
    const scenario *s = L->s;
    if (!s->cluster.check_memory)
        return 0;
    if (s->workload.mode == MODE_TRAINING)
        return check_train_memory(L, e);
    gpu_memory_shape sh;
    gpu_memory m;
    scenario_memory(s, &sh, &m);
    if (m.total <= s->cluster.gpu.hbm_bytes)
        return 0;
    const double G = 1e9; /* GB, as datasheets and the presets count HBM */
    return scenario_fail(L, config_lookup(L->cfg, "cluster.gpu"), "cluster.gpu", e,
                         "model does not fit: %.1f GB needed per GPU (weights %.1f GB: attention "
                         "%.1f, dense FFN %.1f, routed experts %.1f, shared experts %.1f, gates "
                         "%.1f, embedding and output layer %.1f; activations %.1f GB: layer buffers %.1f, all-to-all buffers %.1f) "
                         "> %.1f GB on %s; allowed: more GPUs (parallel.ep, parallel.tp, "
                         "parallel.pp), a smaller batch (workload.tokens_per_rank), smaller "
                         "weights (model.weight_dtype), or cluster.check_memory = false for a "
                         "what-if study", m.total / G, m.weights / G, m.attention / G,
                         m.dense_ffn / G, m.experts / G, m.shared / G, m.gate / G, m.vocab / G,
                         m.activations / G, m.layer_act / G, m.a2a_buffers / G,
                         s->cluster.gpu.hbm_bytes / G, s->cluster.gpu.name);
}

/* ---- the simulator's own memory ---- */

/* The largest structures the simulator allocates for s (sim/play/play.c,
 * sim/play/exec.c, sim/core/flows.c), in bytes. Per GPU: the pass's
 * operations on the executor (an operation, its stream memberships and
 * edges: about 600 B per GPU, layer of its stage and micro-batch, as measured on
 * DeepSeek-V3 at 16,384 GPUs), its dispatch group's rows (a2a = ep x etp
 * doubles per micro-batch, twice with the per-node rows) and its tokens per
 * local slot, and with the flow model a flow record per member pair of a
 * direct all-to-all. Per token of a
 * batch: the router logits (one double per expert; a trace replay has none),
 * the choices (an int per slot) and, by score priority, their weights. Per
 * expert of an MoE layer: the metrics' per-expert counters, and E x E
 * co-activation tables where a topology-aware placement counts them. */
void scenario_host_memory(const scenario *s, scenario_host *h)
{
    double G = (double)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    double T = (double)s->parallel.dp * s->workload.tokens_per_rank;
    /* training routes one micro-batch at a time, and a step's operations
     * are about three per forward one (forward, input and weight gradient;
     * four with full recomputation) */
    int train = s->workload.mode == MODE_TRAINING;
    double ops = train ? (s->training.recompute == SCHED_RECOMPUTE_FULL ? 4 : 3) : 1;
    if (train)
        T /= s->workload.micro_batches > 0 ? s->workload.micro_batches : 1;
    double E = s->model.experts, K = router_slots(&s->model.router), L = s->moe_layers;
    int dynamic = s->placement.strategy == PLACEMENT_DYNAMIC;
    int coact = s->placement.strategy == PLACEMENT_TOPOLOGY_AWARE ||
                (dynamic && s->placement.rebalance == PLACEMENT_TOPOLOGY_AWARE);
    double M = s->workload.micro_batches > 0 ? s->workload.micro_batches : 1;
    double a2a = (double)s->parallel.ep * s->parallel.etp;
    double spr = (s->model.experts + s->placement.redundant) / (double)s->parallel.ep;
    double stage_layers = (double)s->model.layers / (s->parallel.pp > 0 ? s->parallel.pp : 1);
    h->per_gpu = G * (600 * ops * stage_layers * M + a2a * M * 16 + spr * M * 8 + 64 +
                      (s->network.model == NET_FLOW ? a2a * 96 : 0));
    h->tokens = T * K * 4;
    if (s->workload.source.kind != SOURCE_TRACE)
        h->tokens += T * E * 8;
    if (s->model.capacity.priority == CAPACITY_SCORE)
        h->tokens += T * K * 8;
    if (train) { /* the slabs of the micro-batches in flight (play.c), at most M */
        double slabs = M < 2.0 * s->parallel.pp + 2 ? M : 2.0 * s->parallel.pp + 2;
        double gps = G / (a2a * s->parallel.pp);
        h->tokens += slabs * L * (gps * (a2a * a2a + 8 * a2a) * 8 + G * (spr + 1) * 8);
    }
    h->experts = L * E * 8 * 8 + (coact ? 3 * L * E * E * 8 : 0);
    if (s->workload.source.kind == SOURCE_SYNTHETIC)
        h->experts += 2 * L * E * s->workload.source.latent_dim * 8;
    h->total = h->per_gpu + h->tokens + h->experts + 64e6; /* + code, engine, buffers */
}

/* Refuses what the machine cannot hold, naming the keys that drive it. */
static int check_host(loader *L, err_t *e)
{
    const scenario *s = L->s;
    scenario_host h;
    scenario_host_memory(s, &h);
    if (h.total <= s->limits.host_memory)
        return 0;
    const double GB = 1e9;
    const config_setting_t *st = config_lookup(L->cfg, "limits.host_memory");
    return scenario_fail(L, st, "limits.host_memory", e,
                         "the simulator needs about %.1f GB of host memory (per GPU %.1f GB "
                         "for %d x %d GPUs; tokens %.1f GB for parallel.dp x "
                         "workload.tokens_per_rank x model.experts; experts %.1f GB) > %.1f GB; "
                         "allowed: fewer GPUs (cluster.nodes, cluster.gpus_per_node), fewer "
                         "tokens (workload.tokens_per_rank), or a larger limits.host_memory",
                         h.total / GB, h.per_gpu / GB, s->cluster.topo.nodes,
                         s->cluster.topo.gpus_per_node, h.tokens / GB, h.experts / GB,
                         s->limits.host_memory / GB);
}

/* min_capacity beyond a batch's assignments means nothing, and with
 * pad_to_capacity it sizes every expert's buffers and GEMMs. */
static int check_min_capacity(loader *L, err_t *e)
{
    const scenario *s = L->s;
    int64_t most = (int64_t)s->parallel.dp * s->workload.tokens_per_rank * s->model.top_k;
    if (s->model.capacity.min_capacity <= most)
        return 0;
    return scenario_fail(L, config_lookup(L->cfg, "model.router.min_capacity"),
                         "model.router.min_capacity", e,
                         "%lld is more than the %lld assignments of a batch (parallel.dp %d x "
                         "workload.tokens_per_rank %d x model.top_k %d); allowed: an integer "
                         "in [0, %lld]",
                         (long long)s->model.capacity.min_capacity, (long long)most,
                         s->parallel.dp, s->workload.tokens_per_rank, s->model.top_k,
                         (long long)most);
}

/* An upper bound of the simulated time: every assignment of a batch computed
 * on one GPU and sent over the slowest link, every phase paying every
 * latency. Beyond half the clock's range (2^63 ps, 106 days) the run could
 * overflow it: refused, naming the key most responsible. */
static int check_time(loader *L, err_t *e)
{
    const scenario *s = L->s;
    const topo_config *tc = &s->cluster.topo;
    double G = (double)tc->nodes * tc->gpus_per_node;
    double T = (double)s->parallel.dp * s->workload.tokens_per_rank, K = s->model.top_k;
    double tpr = s->workload.tokens_per_rank, layers = s->model.layers;
    double ffn = s->model.expert_ffn > s->model.dense_ffn ? s->model.expert_ffn
                                                          : s->model.dense_ffn;
    double rate = s->cluster.gpu.peak_flops[s->model.dtype] * s->cluster.gpu.compute_eff;
    double flops = 2.0 * s->model.hidden * ffn * s->model.ffn_matrices *
                       (T * K + tpr * (1 + s->model.shared_experts)) +
                   4.0 * tpr * s->workload.seq_len * s->model.hidden;
    double compute = rate > 0 ? layers * flops / rate : 0;
    double intra = tc->intra_bw_Bps * tc->intra_eff, inter = tc->inter_bw_Bps * tc->inter_eff;
    int inter_slow = tc->nodes > 1 && inter < intra;
    double bw = inter_slow ? inter : intra;
    double row = coll_row_bytes(s->model.hidden, DTYPE_FP32);
    double fixed = 1e-12 * (double)(tc->intra_lat_ps + tc->inter_lat_ps + tc->spine_lat_ps +
                                    s->network.overhead_ps + s->cluster.gpu.launch_ps);
    double net = layers * (2 * T * K * row / bw + 4 * G * fixed);
    double batches = (double)s->workload.batches + s->placement.warmup_batches;
    const double limit = 0.5 * 9.223372036854775807e6; /* s */
    if (batches * (compute + net) <= limit)
        return 0;
    char key[64];
    const char *side = inter_slow ? "inter" : "intra";
    double link_eff = inter_slow ? tc->inter_eff : tc->intra_eff;
    /* An efficiency under 1% is the cause, not the peak it scales (as
     * play.c's run-time blame names it). */
    if (compute + net <= limit)
        snprintf(key, sizeof(key), "workload.batches");
    else if (compute >= net && s->cluster.gpu.compute_eff < 0.01)
        snprintf(key, sizeof(key), "cluster.gpu.compute_efficiency");
    else if (compute >= net)
        snprintf(key, sizeof(key), "cluster.gpu.%s", dtype_name(s->model.dtype));
    else if (link_eff < 0.01)
        snprintf(key, sizeof(key), "cluster.%s.efficiency", side);
    else
        snprintf(key, sizeof(key), "cluster.%s.bandwidth", side);
    const config_setting_t *st = config_lookup(L->cfg, key);
    return scenario_fail(L, st, key, e,
                         "the run could simulate up to %.3g s (a batch: compute %.3g s, network "
                         "%.3g s, at most; %.0f batches), beyond half the clock's 9.2e6 s "
                         "(2^63 ps); allowed: faster GPUs or links, or fewer batches, so that "
                         "the bound stays under 4.6e6 s",
                         batches * (compute + net), compute, net, batches);
}

/* What training steps do not run yet, refused by the key that asks. */
static int check_training(loader *L, err_t *e)
{
    const scenario *s = L->s;
    const char *key = NULL, *what = NULL;
    if (s->workload.mode != MODE_TRAINING) { /* parallel.* rows come before the mode's */
        static const char *const keys[] = {"parallel.schedule", "parallel.vpp"};
        for (int i = 0; i < 2; i++) {
            const config_setting_t *st = config_lookup(L->cfg, keys[i]);
            if (st)
                return scenario_fail(L, st, keys[i], e,
                                     "applies to training steps, and workload.mode is "
                                     "\"forward\"; allowed: workload.mode = \"training\", or "
                                     "leave %s out",
                                     keys[i]);
        }
        return 0;
    }
    if (s->workload.source.kind == SOURCE_TRACE)
        key = "workload.source.kind", what = "a routing trace replayed";
    else if (s->output.trace[0])
        key = "output.trace", what = "a routing trace written";
    else if (s->placement.strategy == PLACEMENT_DYNAMIC)
        key = "placement.strategy", what = "dynamic re-placement";
    if (!key)
        return 0;
    return scenario_fail(L, config_lookup(L->cfg, key), key, e,
                         "%s in training steps: not available in this version; allowed: "
                         "workload.mode = \"forward\" for it, or a training step without it",
                         what);
}

int scenario_check_products(loader *L, err_t *e)
{
    if (check_training(L, e) < 0)
        return -1;
    if (check_min_capacity(L, e) < 0 || check_time(L, e) < 0)
        return -1;
    return check_host(L, e);
}

gpu_attn_shape scenario_attn_shape(const scenario *s, int tp)
{
    int mla = s->model.attention == SCENARIO_ATTN_MLA;
    return (gpu_attn_shape){
        .hidden = s->model.hidden,
        .heads = s->model.heads / tp, /* the loader checked divisibility */
        .kv_heads = s->model.kv_heads / tp,
        .head_dim = s->model.head_dim,
        .seq_len = s->workload.seq_len,
        .dt = s->model.dtype,
        .q_lora = mla ? s->model.q_lora_rank : 0,
        .kv_lora = mla ? s->model.kv_lora_rank : 0,
        .qk_nope = mla ? s->model.qk_nope_head_dim : 0,
        .qk_rope = mla ? s->model.qk_rope_head_dim : 0,
        .v_dim = mla ? s->model.v_head_dim : 0,
    };
}

double scenario_model_flops(const scenario *s)
{
    int mla = s->model.attention == SCENARIO_ATTN_MLA;
    mflops_model m = {
        .layers = s->model.layers, .moe_layers = s->moe_layers,
        .mtp_layers = s->model.mtp_layers,
        .last_is_moe = scenario_is_moe_layer(s, s->model.layers - 1),
        .hidden = s->model.hidden, .dense_ffn = s->model.dense_ffn,
        .expert_ffn = s->model.expert_ffn, .top_k = s->model.top_k,
        .shared_ffn = s->model.shared_experts * s->model.expert_ffn,
        .ffn_matrices = s->model.ffn_matrices, .heads = s->model.heads,
        .kv_heads = s->model.kv_heads, .head_dim = s->model.head_dim, .mla = mla,
        .q_lora = mla ? s->model.q_lora_rank : 0, .kv_lora = s->model.kv_lora_rank,
        .qk_nope = s->model.qk_nope_head_dim, .qk_rope = s->model.qk_rope_head_dim,
        .v_dim = s->model.v_head_dim, .vocab = s->model.vocab, .seq_len = s->workload.seq_len,
    };
    return mflops_per_token(&m);
}

/* ---- parameters per GPU (training) ---- */

void scenario_pshape_init(const scenario *s, scenario_pshape *t)
{
    int tp = s->parallel.tp, etp = s->parallel.etp, ep = s->parallel.ep;
    double h = s->model.hidden, M = s->model.ffn_matrices;
    double spr = (double)(s->model.experts + s->placement.redundant) / ep;
    gpu_attn_shape a = scenario_attn_shape(s, tp);
    double rep, split;
    gpu_attention_params(&a, &rep, &split);
    memset(t, 0, sizeof(*t));
    t->attn = rep + split;
    t->dense_ffn = M * h * s->model.dense_ffn / tp;
    t->moe_dense = h * s->model.experts + s->model.shared_experts * M * h * s->model.expert_ffn / tp;
    t->experts = spr * M * h * s->model.expert_ffn / etp;
    t->vocab = h * s->model.vocab / tp;
    int last_moe = scenario_is_moe_layer(s, s->model.layers - 1);
    double layer = t->attn + (last_moe ? t->moe_dense + t->experts : t->dense_ffn);
    t->mtp = s->model.mtp_layers * (layer + 2 * h * h / tp);
    t->mtp_experts = last_moe ? s->model.mtp_layers * t->experts : 0;
}

void scenario_params(const scenario *s, const scenario_pshape *t, int lo, int span, double *dense,
                  double *expert)
{
    double d = 0, x = 0;
    for (int l = lo; l < lo + span; l++) {
        int moe = scenario_is_moe_layer(s, l);
        d += t->attn + (moe ? t->moe_dense : t->dense_ffn);
        x += moe ? t->experts : 0;
    }
    if (lo == 0)
        d += t->vocab;
    if (lo + span == s->model.layers) {
        d += t->vocab + t->mtp - t->mtp_experts;
        x += t->mtp_experts;
    }
    *dense = d;
    *expert = x;
}

/* ---- training memory (docs/training.md, "Memory") ---- */

/* One layer's activations kept for backward, per token of a micro-batch on
 * one GPU, in BF16 (2 bytes), after Korthikanti et al. 2022 ("Reducing
 * Activation Recomputation in Large Transformer Models", section 4.1) with
 * FlashAttention (no s x s scores kept): attention keeps its norm's input,
 * the QKV projection's input, Q, K, V and the core's output; a SwiGLU FFN
 * of width f its input and norm input, gate and up (2f) and the
 * activation (f); an MoE layer the router's input and FP32 probabilities,
 * and per routed copy (top_k) the expert's input, gate and up, activation
 * and output; shared experts as FFNs. All over tp (sequence parallelism).
 * Selective recomputation drops the activation outputs (recomputed in
 * backward, as Megatron-LM's "moe_act"); full keeps the layer's input. */
static double layer_act_per_token(const scenario *s, int l)
{
    double h = s->model.hidden, b = 2, tp = s->parallel.tp, x = s->model.ffn_matrices - 1;
    int sel = s->training.recompute == SCHED_RECOMPUTE_SELECTIVE;
    if (s->training.recompute == SCHED_RECOMPUTE_FULL)
        return b * h / tp;
    double attn;
    if (s->model.attention == SCENARIO_ATTN_MLA) {
        double n = s->model.heads, qk = s->model.qk_nope_head_dim + s->model.qk_rope_head_dim;
        attn = 2 * h + s->model.q_lora_rank + s->model.kv_lora_rank + s->model.qk_rope_head_dim +
               n * (2 * qk + 2 * s->model.v_head_dim);
    } else {
        double q = (double)s->model.heads * s->model.head_dim;
        attn = 2 * h + 2 * q + 2.0 * s->model.kv_heads * s->model.head_dim;
    }
    double act = sel ? 0 : 1, ffn;
    if (!scenario_is_moe_layer(s, l)) {
        ffn = 2 * h + (x + act) * s->model.dense_ffn;
    } else {
        double F = s->model.expert_ffn, k = s->model.top_k;
        ffn = 2 * h + 2 * s->model.experts + k * (2 * h + (x + act) * F) +
              s->model.shared_experts * (h + (x + act) * F);
    }
    return b * (attn + ffn) / tp;
}

/* Micro-batches whose activations a stage keeps at its peak, as a number
 * of chunk passes: gpipe every one; 1f1b pp - stage (Narayanan et al.
 * 2021, PipeDream-Flush); interleaved Megatron-LM's warm-up plus one, in
 * chunks of L / (pp vpp) layers; dualpipe pp + 1 (DualPipe README's table). */
static double in_flight(const scenario *s, int k)
{
    int pp = s->parallel.pp, M = s->workload.micro_batches, v = s->parallel.vpp;
    switch (s->parallel.schedule) {
    case SCHED_PIPE_GPIPE:
        return M;
    case SCHED_PIPE_INTERLEAVED: {
        int w = (pp - k - 1) * 2 + (v - 1) * pp + 1;
        return w < M * v ? w : M * v;
    }
    case SCHED_PIPE_DUALPIPE:
        return pp + 1 < M ? pp + 1 : M;
    default:
        return pp - k < M ? pp - k : M;
    }
}

int scenario_chunks(const scenario *s, int *first)
{
    int pp = s->parallel.pp, L = s->model.layers;
    int C = s->parallel.schedule == SCHED_PIPE_INTERLEAVED ? pp * s->parallel.vpp : pp;
    if (first)
        first[0] = 0;
    for (int c = 0; first && c < C; c++)
        first[c + 1] = first[c] + (C == pp && s->parallel.npp_layers ? s->parallel.pp_layers[c]
                                                                       : L / C);
    if (first)
        first[C] = L; /* the last chunk takes what L / C leaves */
    return C;
}

/* The layers [lo, hi) of each chunk stage k runs (n of them; dualpipe: its
 * own and its mirror's), as the schedule places them (sched_chunk_stage). */
static void stage_layers(const scenario *s, int k, int *lo, int *hi, int *n)
{
    int C = scenario_chunks(s, NULL), M = s->workload.micro_batches;
    int *first = xcalloc((size_t)C + 1, sizeof(*first), "chunks");
    scenario_chunks(s, first);
    sched_train_config c = {.stages = s->parallel.pp, .micro_batches = M,
                            .pipe = (sched_pipe)s->parallel.schedule};
    *n = 0;
    for (int ch = 0; ch < C; ch++)
        if (sched_chunk_stage(&c, ch, 0) == k || sched_chunk_stage(&c, ch, M - 1) == k) {
            lo[*n] = first[ch];
            hi[*n] = first[ch + 1];
            (*n)++;
        }
    free(first);
}

void scenario_train_memory(const scenario *s, int k, scenario_train_mem *m)
{
    int lo[64], hi[64], n, edp = s->parallel.dp * s->parallel.tp /
                                 (s->parallel.ep * s->parallel.etp);
    stage_layers(s, k, lo, hi, &n);
    scenario_pshape t;
    scenario_pshape_init(s, &t);
    double dense = 0, expert = 0, act = 0, tokens = 0;
    for (int c = 0; c < n; c++) {
        double d, x;
        scenario_params(s, &t, lo[c], hi[c] - lo[c], &d, &x);
        dense += d, expert += x;
        for (int l = lo[c]; l < hi[c]; l++)
            act += layer_act_per_token(s, l);
    }
    tokens = (double)s->workload.micro_batch * s->workload.seq_len;
    memset(m, 0, sizeof(*m));
    m->weights = (dense + expert) * dtype_bytes(s->model.weight_dtype);
    m->grads = (dense + expert) * dtype_bytes(s->training.grad_dtype);
    /* Adam: an FP32 master copy and two FP32 moments, 12 B per parameter */
    m->optimizer = 12 * (s->training.zero ? dense / s->parallel.dp + expert / edp : dense + expert);
    /* the chunk passes in flight, each of the stage's chunks' mean layers */
    m->inflight = in_flight(s, k);
    m->activations = m->inflight * tokens * act / n;
    gpu_memory_shape sh;
    gpu_memory fw;
    forward_memory(s, &sh, &fw); /* one layer's working buffers, all-to-all's too */
    m->buffers = fw.activations;
    if (s->training.recompute == SCHED_RECOMPUTE_FULL) /* the layer being recomputed */
        m->buffers += tokens * 2 * s->model.hidden * 8 / s->parallel.tp;
    m->total = m->weights + m->grads + m->optimizer + m->activations + m->buffers;
}
