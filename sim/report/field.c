/*
 * field.c - the result fields of a run, one row each, and their getters.
 *
 * A getter reads one figure from a finished run (metrics, the scenario, the
 * topology) at the position field_src names; it never allocates and never
 * fails. field_get has set the value's defaults (not null, zeros) before a
 * getter runs, so a getter sets only what its type carries, and `null` where
 * the figure does not exist (capacity when dropless, aux_loss of a replayed
 * trace). The rows' order is the CSV's and the JSON's (field.h): new rows go
 * at the end of their level, so no column or member ever moves.
 */
#include "moesim/field.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "moesim/capacity.h"
#include "moesim/collective.h"
#include "moesim/net.h"
#include "moesim/placement.h"
#include "moesim/router.h"
#include "moesim/source.h"
#include "moesim/units.h"

/* ---- enum names ---- */

/* names[v], or "?" when v is outside the table: no report array is read out
 * of bounds, whatever value an enum holds. (The scenario's enums are named by
 * their models: router_kind_name ... , each bounds-checked there.) */
static const char *name_in(const char *const *names, size_t n, int v)
{
    return v >= 0 && (size_t)v < n ? names[v] : "?";
}

#define NAME_IN(table, v) name_in((table), sizeof(table) / sizeof((table)[0]), (int)(v))

/* ---- getters ---- */

#define L (&src->m->layer[src->layer])
#define S (src->s)
#define M (src->m)

static double per_batch(double sum, int batches)
{
    return batches > 0 ? sum / batches : 0;
}

/* scenario, cluster, model, network */
static void g_name(const field_src *src, field_value *v) { v->s = S->name; }
static void g_seed(const field_src *src, field_value *v) { v->u = S->seed; }
static void g_file(const field_src *src, field_value *v) { v->s = S->file; }
static void g_nodes(const field_src *src, field_value *v) { v->i = S->cluster.topo.nodes; }
static void g_gpn(const field_src *src, field_value *v) { v->i = S->cluster.topo.gpus_per_node; }
static void g_gpus(const field_src *src, field_value *v)
{
    v->i = (int64_t)S->cluster.topo.nodes * S->cluster.topo.gpus_per_node;
}
static void g_gpu(const field_src *src, field_value *v) { v->s = S->cluster.gpu.name; }
static void g_layers(const field_src *src, field_value *v) { v->i = S->model.layers; }
static void g_moe_layers(const field_src *src, field_value *v) { v->i = S->moe_layers; }
static void g_experts(const field_src *src, field_value *v) { v->i = S->model.experts; }
static void g_top_k(const field_src *src, field_value *v) { v->i = S->model.top_k; }
static void g_shared(const field_src *src, field_value *v) { v->i = S->model.shared_experts; }
static void g_hidden(const field_src *src, field_value *v) { v->i = S->model.hidden; }
static void g_expert_ffn(const field_src *src, field_value *v) { v->i = S->model.expert_ffn; }
static void g_router(const field_src *src, field_value *v)
{
    v->s = router_kind_name(S->model.router.kind);
}
static void g_overflow(const field_src *src, field_value *v)
{
    v->s = capacity_overflow_name(S->model.capacity.overflow);
}
static void g_netmodel(const field_src *src, field_value *v)
{
    v->s = net_model_name(S->network.model);
}
static void g_alltoall(const field_src *src, field_value *v)
{
    v->s = coll_a2a_name(S->network.alltoall);
}

/* placement, layout, workload, memory */
static void g_strategy(const field_src *src, field_value *v)
{
    v->s = placement_strategy_name(S->placement.strategy);
}
static void g_redundant(const field_src *src, field_value *v) { v->i = S->placement.redundant; }
static void g_warmup(const field_src *src, field_value *v) { v->i = S->placement.warmup_batches; }
static void g_rebalances(const field_src *src, field_value *v) { v->i = M->rebalances; }
static void g_migrated(const field_src *src, field_value *v) { v->i = M->migrated_experts; }
static void g_kept(const field_src *src, field_value *v) { v->i = M->kept_layers; }
static void g_mig_bytes(const field_src *src, field_value *v) { v->r = M->migration_bytes; }
static void g_mig_s(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->migration, &v->st);
}
static void g_dp(const field_src *src, field_value *v) { v->i = S->parallel.dp; }
static void g_tp(const field_src *src, field_value *v) { v->i = S->parallel.tp; }
static void g_pp(const field_src *src, field_value *v) { v->i = S->parallel.pp; }
static void g_ep(const field_src *src, field_value *v) { v->i = S->parallel.ep; }
static void g_etp(const field_src *src, field_value *v) { v->i = S->parallel.etp; }
static void g_order(const field_src *src, field_value *v) { v->s = S->parallel.order; }
static void g_source(const field_src *src, field_value *v)
{
    v->s = source_kind_name(S->workload.source.kind);
}
static void g_trace_file(const field_src *src, field_value *v)
{
    v->s = S->workload.trace_file;
    v->null = S->workload.source.kind != SOURCE_TRACE;
}
static void g_needed(const field_src *src, field_value *v) { v->r = src->mem.total; }
static void g_weights(const field_src *src, field_value *v) { v->r = src->mem.weights; }
static void g_acts(const field_src *src, field_value *v) { v->r = src->mem.activations; }
static void g_hbm(const field_src *src, field_value *v) { v->r = S->cluster.gpu.hbm_bytes; }
static void g_checked(const field_src *src, field_value *v) { v->b = S->cluster.check_memory; }

/* totals */
static void g_tokens(const field_src *src, field_value *v) { v->i = M->tokens; }
static void g_batches(const field_src *src, field_value *v) { v->i = M->batches; }
static void g_time_s(const field_src *src, field_value *v) { v->r = sim_time_to_s(M->sim_time_ps); }
static void g_time_ps(const field_src *src, field_value *v) { v->i = M->sim_time_ps; }
static void g_thr(const field_src *src, field_value *v) { v->r = src->tot.throughput; }
static void g_assign(const field_src *src, field_value *v) { v->i = src->tot.assignments; }
static void g_dropped(const field_src *src, field_value *v) { v->i = src->tot.dropped; }
static void g_rerouted(const field_src *src, field_value *v) { v->i = src->tot.rerouted; }
static void g_dshare(const field_src *src, field_value *v) { v->r = src->tot.dropped_share; }
static void g_rshare(const field_src *src, field_value *v) { v->r = src->tot.rerouted_share; }
static void g_gpu_mom(const field_src *src, field_value *v) { v->r = src->tot.gpu_max_over_mean; }
static void g_a2a(const field_src *src, field_value *v) { v->r = M->a2a_bytes; }
static void g_inter(const field_src *src, field_value *v) { v->r = src->tot.internode_share; }
static void g_unrouted(const field_src *src, field_value *v)
{
    for (int i = 0; i < M->moe_layers; i++)
        v->i += M->layer[i].unrouted;
}
static void g_step(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->batch_time, &v->st);
}
static void g_disp(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->dispatch_all, &v->st);
}
static void g_comb(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->combine_all, &v->st);
}
static void g_tpar(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->tp_allreduce_all, &v->st);
}

/* layers */
static void l_layer(const field_src *src, field_value *v) { v->i = L->layer; }
static void l_tokens(const field_src *src, field_value *v) { v->i = L->tokens; }
static void l_assign(const field_src *src, field_value *v) { v->i = L->assignments; }
static void l_dropped(const field_src *src, field_value *v) { v->i = L->dropped; }
static void l_rerouted(const field_src *src, field_value *v) { v->i = L->rerouted; }
static void l_capacity(const field_src *src, field_value *v)
{
    v->i = L->capacity;
    v->null = L->capacity == INT64_MAX; /* dropless: no capacity */
}
static void l_mom(const field_src *src, field_value *v)
{
    v->r = per_batch(L->load_max_over_mean_sum, L->batches);
}
static void l_cv(const field_src *src, field_value *v)
{
    v->r = per_batch(L->load_cv_sum, L->batches);
}
static void l_aux(const field_src *src, field_value *v)
{
    v->null = L->no_probs; /* a replayed trace has no router probabilities */
    if (!v->null)
        v->r = router_aux_loss(L->experts, L->wanted, L->prob_sum, L->tokens);
}
static void l_gpu_mom(const field_src *src, field_value *v)
{
    v->r = per_batch(L->gpu_max_over_mean_sum, L->batches);
}
static void l_padding(const field_src *src, field_value *v) { v->i = L->padding; }
static void l_unrouted(const field_src *src, field_value *v) { v->i = L->unrouted; }
static void l_mom_batch(const field_src *src, field_value *v)
{
    v->v = L->mom_by_batch;
    v->n = L->mom_n;
}
static void l_attn(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->attention, &v->st);
}
static void l_gate(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->gate, &v->st);
}
static void l_disp(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->dispatch, &v->st);
}
static void l_expert(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->expert, &v->st);
}
static void l_comb(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->combine, &v->st);
}
static void l_tpar(const field_src *src, field_value *v)
{
    metrics_series_summarize(&L->tp_allreduce, &v->st);
}
static void l_dshare(const field_src *src, field_value *v)
{
    v->r = L->assignments > 0 ? (double)L->dropped / (double)L->assignments : 0;
}

/* exposed communication, by class (metrics.h's order) */
#define EXPOSED_GETTERS(c, name)                                                         \
    static void g_exp_##name(const field_src *src, field_value *v)                      \
    {                                                                                     \
        metrics_series_summarize(&M->exposed[c], &v->st);                               \
    }                                                                                     \
    static void l_exp_##name(const field_src *src, field_value *v)                      \
    {                                                                                     \
        metrics_series_summarize(&L->exposed[c], &v->st);                               \
    }
EXPOSED_GETTERS(0, alltoall)
EXPOSED_GETTERS(1, tp)
EXPOSED_GETTERS(2, dp)
EXPOSED_GETTERS(3, pp)
#undef EXPOSED_GETTERS
static void g_bubble(const field_src *src, field_value *v)
{
    v->r = M->compute_span_ps > 0 ? (double)M->compute_idle_ps / (double)M->compute_span_ps : 0;
}

/* training (docs/training.md): model FLOPs as Megatron-LM counts them */
static bool training(const field_src *src) { return S->workload.mode == MODE_TRAINING; }
static double gpus_of(const field_src *src)
{
    return (double)S->cluster.topo.nodes * S->cluster.topo.gpus_per_node;
}
static void g_mode(const field_src *src, field_value *v)
{
    v->s = training(src) ? "training" : "forward";
}
static void g_schedule(const field_src *src, field_value *v)
{
    v->s = sched_pipe_name((sched_pipe)S->parallel.schedule);
    v->null = !training(src);
}
static void g_mbs(const field_src *src, field_value *v) { v->i = S->workload.micro_batches; }
static void g_thr_gpu(const field_src *src, field_value *v)
{
    v->r = src->tot.throughput / gpus_of(src);
}
static void g_gflop(const field_src *src, field_value *v)
{
    v->r = scenario_model_flops(S) / 1e9;
    v->null = !training(src);
}
static double tflops_per_gpu(const field_src *src)
{
    double t = sim_time_to_s(M->sim_time_ps);
    return t > 0 ? scenario_model_flops(S) * (double)M->tokens / t / gpus_of(src) / 1e12 : 0;
}
static void g_tflops(const field_src *src, field_value *v)
{
    v->r = tflops_per_gpu(src);
    v->null = !training(src);
}
static void g_mfu(const field_src *src, field_value *v)
{
    double peak = S->cluster.gpu.peak_flops[S->model.dtype];
    v->r = peak > 0 ? tflops_per_gpu(src) * 1e12 / peak : 0;
    v->null = !training(src) || peak <= 0;
}
static void g_opt(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->optimizer, &v->st);
}
static void g_gsync(const field_src *src, field_value *v)
{
    metrics_series_summarize(&M->grad_sync, &v->st);
}
static void g_gbytes(const field_src *src, field_value *v) { v->r = M->grad_sync_bytes; }
static void g_gradb(const field_src *src, field_value *v) { v->r = src->mem.grads; }
static void g_optb(const field_src *src, field_value *v) { v->r = src->mem.optimizer; }

/* steps (training) */
#define ST (&src->m->step[src->step])
static double step_s(const field_src *src) { return sim_time_to_s(ST->time_ps); }
static void s_index(const field_src *src, field_value *v) { v->i = src->step; }
static void s_time(const field_src *src, field_value *v) { v->r = step_s(src); }
static void s_tokens(const field_src *src, field_value *v) { v->i = ST->tokens; }
static void s_thr(const field_src *src, field_value *v)
{
    v->r = step_s(src) > 0 ? (double)ST->tokens / step_s(src) / ST->gpus : 0;
}
static double step_tflops(const field_src *src)
{
    double t = step_s(src);
    return t > 0 ? scenario_model_flops(S) * (double)ST->tokens / t / ST->gpus / 1e12 : 0;
}
static void s_tflops(const field_src *src, field_value *v) { v->r = step_tflops(src); }
static void s_mfu(const field_src *src, field_value *v)
{
    double peak = S->cluster.gpu.peak_flops[S->model.dtype];
    v->r = peak > 0 ? step_tflops(src) * 1e12 / peak : 0;
    v->null = peak <= 0;
}
static void s_bubble(const field_src *src, field_value *v)
{
    v->r = ST->span_ps > 0 ? (double)ST->idle_ps / (double)ST->span_ps : 0;
}
#define STEP_EXPOSED(c, name)                                                             \
    static void s_exp_##name(const field_src *src, field_value *v)                      \
    {                                                                                     \
        v->r = sim_time_to_s(ST->exposed_ps[c]) / ST->gpus;                             \
    }
STEP_EXPOSED(0, alltoall)
STEP_EXPOSED(1, tp)
STEP_EXPOSED(2, dp)
STEP_EXPOSED(3, pp)
#undef STEP_EXPOSED
static void s_opt(const field_src *src, field_value *v) { v->r = sim_time_to_s(ST->optimizer_ps); }
#undef ST

/* stages (training): shares of the stage's GPU time, its memory per GPU */
static double stage_share(const field_src *src, int share)
{
    const int64_t *x = src->m->stage_ps + (size_t)src->stage * METRICS_SHARES;
    return x[METRICS_SHARE_SPAN] > 0 ? (double)x[share] / (double)x[METRICS_SHARE_SPAN] : 0;
}
#define STAGE_SHARE(name, share)                                                         \
    static void g_stage_##name(const field_src *src, field_value *v)                    \
    {                                                                                     \
        v->r = stage_share(src, share);                                                 \
    }
STAGE_SHARE(attention, METRICS_SHARE_ATTENTION)
STAGE_SHARE(experts, METRICS_SHARE_EXPERTS)
STAGE_SHARE(other, METRICS_SHARE_OTHER)
STAGE_SHARE(alltoall, METRICS_SHARE_EXPOSED + 0)
STAGE_SHARE(tp, METRICS_SHARE_EXPOSED + 1)
STAGE_SHARE(dp, METRICS_SHARE_EXPOSED + 2)
STAGE_SHARE(pp, METRICS_SHARE_EXPOSED + 3)
STAGE_SHARE(idle, METRICS_SHARE_IDLE)
#undef STAGE_SHARE
static void g_stage_index(const field_src *src, field_value *v) { v->i = src->stage; }
static void g_stage_memory(const field_src *src, field_value *v)
{
    scenario_train_mem m;
    scenario_train_memory(S, src->stage, &m);
    v->r = m.total;
}

/* experts */
static void x_wanted(const field_src *src, field_value *v) { v->i = L->wanted[src->expert]; }
static void x_served(const field_src *src, field_value *v) { v->i = L->served[src->expert]; }
static void x_dropped(const field_src *src, field_value *v)
{
    v->i = L->dropped_per_expert[src->expert];
}
static void x_rerouted(const field_src *src, field_value *v)
{
    v->i = L->rerouted_per_expert[src->expert];
}
static void x_padding(const field_src *src, field_value *v)
{
    v->i = L->padding_per_expert[src->expert];
}

/* links: the time a link needs for its bytes, and that over the run's time */
static sim_time_t link_busy(const field_src *src)
{
    return sim_time_for_bytes(M->link_bytes[src->link], topo_link_at(src->t, src->link)->bw_Bps);
}
static void k_name(const field_src *src, field_value *v)
{
    topo_link_name(src->t, src->link, v->buf, sizeof(v->buf));
    v->s = v->buf;
}
static void k_bytes(const field_src *src, field_value *v) { v->r = M->link_bytes[src->link]; }
static void k_busy(const field_src *src, field_value *v) { v->r = sim_time_to_s(link_busy(src)); }
static void k_util(const field_src *src, field_value *v)
{
    v->r = M->sim_time_ps > 0 ? (double)link_busy(src) / (double)M->sim_time_ps : 0;
}

#undef L
#undef S
#undef M

/* ---- the table ---- */

#define G(grp) .level = FIELD_TOTALS, .group = FIELD_GROUP_##grp
#define LAYER .level = FIELD_LAYER, .group = FIELD_GROUP_NONE
#define EXPERT .level = FIELD_EXPERT, .group = FIELD_GROUP_NONE
#define LINK .level = FIELD_LINK, .group = FIELD_GROUP_NONE
#define TEXT(pos, head, w, fmt) .text = (pos), .text_head = (head), .text_width = (w), \
                                .text_fmt = FIELD_FMT_##fmt
#define CMP(pos, head, w, fmt) .cmp = (pos), .cmp_head = (head), .cmp_width = (w), \
                               .cmp_fmt = FIELD_FMT_##fmt
#define P50 FIELD_STAT_BIT(FIELD_STAT_P50)
#define P99 FIELD_STAT_BIT(FIELD_STAT_P99)

static const field fields[] = {
    /* totals.csv's first columns, as moesim.csv/1 first wrote them */
    {"name", G(SCENARIO), FIELD_STR, "", g_name, "the scenario's name"},
    {"seed", G(SCENARIO), FIELD_U64, "", g_seed, "master seed of every random stream"},
    {"tokens", G(TOTALS), FIELD_INT, "tokens", g_tokens,
     "tokens through the model, all batches (batches x dp x tokens_per_rank)"},
    {"batches", G(TOTALS), FIELD_INT, "batches", g_batches, "batches run"},
    {"sim_time_s", G(TOTALS), FIELD_REAL, "s", g_time_s, "simulated time at the end of the run"},
    {"sim_time_ps", G(TOTALS), FIELD_INT, "ps", g_time_ps, "the same, exact",
     .cmp = 8},
    {"throughput_tokens_per_s", G(TOTALS), FIELD_REAL, "tokens/s", g_thr,
     "tokens / sim_time_s", CMP(7, "throughput", 14, THROUGHPUT)},
    {"assignments", G(TOTALS), FIELD_INT, "assignments", g_assign,
     "token-expert assignments over all MoE layers"},
    {"dropped", G(TOTALS), FIELD_INT, "assignments", g_dropped,
     "assignments dropped at an expert's capacity"},
    {"rerouted", G(TOTALS), FIELD_INT, "assignments", g_rerouted,
     "assignments moved to another expert"},
    {"dropped_share", G(TOTALS), FIELD_REAL, "fraction", g_dshare, "dropped / assignments",
     CMP(1, "dropped", 8, PCT2)},
    {"rerouted_share", G(TOTALS), FIELD_REAL, "fraction", g_rshare, "rerouted / assignments"},
    {"gpu_load_max_over_mean", G(TOTALS), FIELD_REAL, "ratio", g_gpu_mom,
     "the layers' gpu_load_max_over_mean, averaged over every (batch, MoE layer)",
     CMP(2, "gpu max/mean", 12, TIMES)},
    {"a2a_bytes", G(TOTALS), FIELD_REAL, "B", g_a2a,
     "dispatch bytes between distinct GPUs, all batches and layers, in model.dtype"},
    {"internode_byte_share", G(TOTALS), FIELD_REAL, "fraction", g_inter,
     "the part of a2a_bytes whose two GPUs are on different nodes",
     CMP(3, "inter-node", 10, PCT1)},
    {"step_s", G(TOTALS), FIELD_STATS, "s", g_step, "stats over batches of one forward pass (training: of one step)",
     CMP(6, "step", 9, TIME), .cmp_stats = P50},
    {"dispatch_s", G(TOTALS), FIELD_STATS, "s", g_disp,
     "stats over (batch, MoE layer) of the dispatch all-to-all",
     CMP(4, "dispatch", 12, TIME), .cmp_stats = P50 | P99},
    {"combine_s", G(TOTALS), FIELD_STATS, "s", g_comb, "the same for the combine all-to-all",
     CMP(5, "combine", 11, TIME), .cmp_stats = P50 | P99},
    {"tp_allreduce_s", G(TOTALS), FIELD_STATS, "s", g_tpar,
     "stats over (batch, layer), dense layers too, of the layer's two TP all-reduces; "
     "n = 0 when parallel.tp = 1"},
    /* the rest of the report's totals level: in the JSON since moesim.report/1,
     * in totals.csv since this table */
    {"file", G(SCENARIO), FIELD_STR, "", g_file, "the scenario file, or \"NAME (built-in)\""},
    {"nodes", G(CLUSTER), FIELD_INT, "nodes", g_nodes, "cluster.nodes"},
    {"gpus_per_node", G(CLUSTER), FIELD_INT, "GPUs", g_gpn, "cluster.gpus_per_node"},
    {"gpus", G(CLUSTER), FIELD_INT, "GPUs", g_gpus, "nodes x gpus_per_node"},
    {"gpu", G(CLUSTER), FIELD_STR, "", g_gpu, "the GPU's name (cluster.gpu)"},
    {"layers", G(MODEL), FIELD_INT, "layers", g_layers, "model.layers"},
    {"moe_layers", G(MODEL), FIELD_INT, "layers", g_moe_layers, "how many layers are MoE"},
    {"experts", G(MODEL), FIELD_INT, "experts", g_experts, "model.experts"},
    {"top_k", G(MODEL), FIELD_INT, "experts", g_top_k, "model.top_k"},
    {"shared_experts", G(MODEL), FIELD_INT, "experts", g_shared, "model.shared_experts"},
    {"hidden", G(MODEL), FIELD_INT, "", g_hidden, "model.hidden"},
    {"expert_ffn", G(MODEL), FIELD_INT, "", g_expert_ffn, "model.expert_ffn"},
    {"router", G(MODEL), FIELD_STR, "", g_router, "model.router.kind"},
    {"overflow", G(MODEL), FIELD_STR, "", g_overflow, "model.router.overflow"},
    {"model", G(NETWORK), FIELD_STR, "", g_netmodel, "network.model: analytical or flow"},
    {"alltoall", G(NETWORK), FIELD_STR, "", g_alltoall,
     "network.alltoall: direct, pairwise or hierarchical"},
    {"strategy", G(PLACEMENT), FIELD_STR, "", g_strategy, "placement.strategy"},
    {"redundant", G(PLACEMENT), FIELD_INT, "slots", g_redundant, "placement.redundant"},
    {"warmup_batches", G(PLACEMENT), FIELD_INT, "batches", g_warmup,
     "placement.warmup_batches"},
    {"rebalances", G(PLACEMENT), FIELD_INT, "", g_rebalances,
     "dynamic re-placements done (0 otherwise)"},
    {"migrated_experts", G(PLACEMENT), FIELD_INT, "experts", g_migrated,
     "expert weight copies they made, all MoE layers and EP groups"},
    {"kept_layers", G(PLACEMENT), FIELD_INT, "layers", g_kept,
     "layer re-placements skipped: the gain was below placement.rebalance_min_gain"},
    {"migration_bytes", G(PLACEMENT), FIELD_REAL, "B", g_mig_bytes, "those copies' bytes"},
    {"migration_s", G(PLACEMENT), FIELD_STATS, "s", g_mig_s,
     "stats over re-placements of the time their copies took"},
    {"dp", G(LAYOUT), FIELD_INT, "ranks", g_dp, "parallel.dp"},
    {"tp", G(LAYOUT), FIELD_INT, "ranks", g_tp, "parallel.tp"},
    {"pp", G(LAYOUT), FIELD_INT, "ranks", g_pp, "parallel.pp"},
    {"ep", G(LAYOUT), FIELD_INT, "ranks", g_ep, "parallel.ep"},
    {"etp", G(LAYOUT), FIELD_INT, "ranks", g_etp, "parallel.etp"},
    {"order", G(LAYOUT), FIELD_STR, "", g_order, "parallel.order"},
    {"source", G(WORKLOAD), FIELD_STR, "", g_source, "workload.source.kind"},
    {"trace_file", G(WORKLOAD), FIELD_STR, "", g_trace_file,
     "the replayed routing trace; null (empty) unless the source is a trace"},
    {"needed_bytes", G(MEMORY), FIELD_REAL, "B", g_needed,
     "what one GPU holds (the most loaded pipeline stage; docs/hardware.md, training: "
     "docs/training.md)", CMP(9, "memory/GPU", 10, GB)},
    {"weights_bytes", G(MEMORY), FIELD_REAL, "B", g_weights, "its weights"},
    {"activations_bytes", G(MEMORY), FIELD_REAL, "B", g_acts, "its activations"},
    {"hbm_bytes", G(MEMORY), FIELD_REAL, "B", g_hbm, "cluster.gpu's HBM"},
    {"checked", G(MEMORY), FIELD_BOOL, "", g_checked, "cluster.check_memory"},
    {"unrouted_tokens", G(TOTALS), FIELD_INT, "tokens", g_unrouted,
     "the layers' unrouted_tokens summed: token-layers that got no expert (expert_choice)"},
    {"alltoall", G(TOTALS), FIELD_STATS, "s", g_exp_alltoall,
     "stats over (batch, GPU) of the time the GPU's compute stream waited on a dispatch or "
     "combine that was running (exposed all-to-all; docs/network.md)", .sub = "exposed_s"},
    {"tp", G(TOTALS), FIELD_STATS, "s", g_exp_tp,
     "the same for TP all-reduces", .sub = "exposed_s"},
    {"dp", G(TOTALS), FIELD_STATS, "s", g_exp_dp,
     "the same for data-parallel collectives (re-placement copies in forward runs)",
     .sub = "exposed_s"},
    {"pp", G(TOTALS), FIELD_STATS, "s", g_exp_pp,
     "the same for pipeline sends between stages", .sub = "exposed_s"},
    {"bubble_share", G(TOTALS), FIELD_REAL, "fraction", g_bubble,
     "idle share of the compute streams, exposed communication left out: pipeline bubbles "
     "and waits for a group's slowest member, over (batch time x GPUs)"},
    {"mode", G(WORKLOAD), FIELD_STR, "", g_mode, "workload.mode: forward or training"},
    {"micro_batches", G(WORKLOAD), FIELD_INT, "micro-batches", g_mbs,
     "workload.micro_batches (training: per replica and step, the gradient accumulation)"},
    {"schedule", G(LAYOUT), FIELD_STR, "", g_schedule,
     "training: parallel.schedule; null in forward runs"},
    {"throughput_tokens_per_s_per_gpu", G(TOTALS), FIELD_REAL, "tokens/s", g_thr_gpu,
     "throughput_tokens_per_s / gpus"},
    {"gflop_per_token", G(TOTALS), FIELD_REAL, "GFLOP", g_gflop,
     "training: model FLOPs per token of a step, forward and backward, as Megatron-LM "
     "counts them (docs/training.md); null in forward runs"},
    {"tflops_per_gpu", G(TOTALS), FIELD_REAL, "TFLOP/s", g_tflops,
     "training: gflop_per_token x tokens / sim_time_s / gpus, in TFLOP/s"},
    {"mfu", G(TOTALS), FIELD_REAL, "fraction", g_mfu,
     "training: tflops_per_gpu over the GPU's dense peak in model.dtype"},
    {"optimizer_s", G(TOTALS), FIELD_STATS, "s", g_opt,
     "training: stats over (step, stage) of the optimizer step (its slowest GPU)"},
    {"grad_sync_s", G(TOTALS), FIELD_STATS, "s", g_gsync,
     "training: stats over (step, bucket) of one gradient reduction (its slowest group)"},
    {"grad_sync_bytes", G(TOTALS), FIELD_REAL, "B", g_gbytes,
     "training: bytes all GPUs sent in gradient reductions, all steps (a ring all-reduce "
     "of S bytes over n GPUs: 2 (n - 1) S / n from each; ZeRO-1's reduce-scatter half)"},
    {"gradients_bytes", G(MEMORY), FIELD_REAL, "B", g_gradb,
     "training: the gradients one GPU holds (its stage's parameters in training.grad_dtype)"},
    {"optimizer_bytes", G(MEMORY), FIELD_REAL, "B", g_optb,
     "training: Adam's FP32 master weights and moments on one GPU (sharded with ZeRO-1)"},

    /* one per MoE layer (layers[], layers.csv) */
    {"layer", LAYER, FIELD_INT, "", l_layer, "index among all layers (0-based)",
     TEXT(1, "layer", 5, INT)},
    {"tokens", LAYER, FIELD_INT, "tokens", l_tokens, "tokens routed, all batches",
     TEXT(2, "tokens", 10, INT)},
    {"assignments", LAYER, FIELD_INT, "assignments", l_assign, "tokens x top_k"},
    {"dropped", LAYER, FIELD_INT, "assignments", l_dropped, "dropped at capacity"},
    {"rerouted", LAYER, FIELD_INT, "assignments", l_rerouted, "moved to another expert"},
    {"capacity", LAYER, FIELD_INT, "assignments", l_capacity,
     "per expert per capacity scope (last batch); null (empty) when dropless"},
    {"load_max_over_mean", LAYER, FIELD_REAL, "ratio", l_mom,
     "max/mean of the per-expert assignments the router wanted, per batch, averaged",
     TEXT(4, "max/mean", 8, RATIO)},
    {"load_cv", LAYER, FIELD_REAL, "ratio", l_cv,
     "coefficient of variation (population std / mean) of the same",
     TEXT(5, "cv", 6, RATIO)},
    {"aux_loss", LAYER, FIELD_REAL, "", l_aux,
     "Switch Transformer's auxiliary loss over the run (1.0 = balanced); null (empty) "
     "when the run replays a trace"},
    {"gpu_load_max_over_mean", LAYER, FIELD_REAL, "ratio", l_gpu_mom,
     "max/mean of assignments per GPU after capacity and placement, averaged over batches",
     TEXT(6, "gpu max", 8, RATIO)},
    {"padding", LAYER, FIELD_INT, "slots", l_padding,
     "empty expert slots up to capacity (pad_to_capacity)"},
    {"unrouted_tokens", LAYER, FIELD_INT, "tokens", l_unrouted,
     "tokens that got no expert (expert_choice)"},
    {"load_max_over_mean_by_batch", LAYER, FIELD_REALS, "ratio", l_mom_batch,
     "load_max_over_mean of each batch, in batch order"},
    {"attention_s", LAYER, FIELD_STATS, "s", l_attn, "stats over batches of the attention"},
    {"gate_s", LAYER, FIELD_STATS, "s", l_gate, "... of the gate"},
    {"dispatch_s", LAYER, FIELD_STATS, "s", l_disp, "... of the dispatch all-to-all",
     TEXT(7, "dispatch", 11, TIME)},
    {"expert_compute_s", LAYER, FIELD_STATS, "s", l_expert,
     "... of the slowest GPU's grouped expert GEMM (the straggler the combine waits for)",
     TEXT(8, "experts", 11, TIME)},
    {"combine_s", LAYER, FIELD_STATS, "s", l_comb, "... of the combine all-to-all",
     TEXT(9, "combine", 11, TIME)},
    {"tp_allreduce_s", LAYER, FIELD_STATS, "s", l_tpar,
     "... of the layer's two TP all-reduces; n = 0 when parallel.tp = 1"},
    {"dropped_share", LAYER, FIELD_REAL, "fraction", l_dshare, "dropped / assignments",
     TEXT(3, "dropped", 8, PCT2)},
    {"alltoall", LAYER, FIELD_STATS, "s", l_exp_alltoall,
     "stats over batches of the time the compute of the layer waited on a running dispatch "
     "or combine, the mean over its stage's GPUs", .sub = "exposed_s"},
    {"tp", LAYER, FIELD_STATS, "s", l_exp_tp, "the same for TP all-reduces",
     .sub = "exposed_s"},
    {"dp", LAYER, FIELD_STATS, "s", l_exp_dp, "the same for data-parallel collectives",
     .sub = "exposed_s"},
    {"pp", LAYER, FIELD_STATS, "s", l_exp_pp, "the same for pipeline sends",
     .sub = "exposed_s"},

    /* one per (MoE layer, expert): layers[].per_expert, experts.csv */
    {"wanted", EXPERT, FIELD_INT, "assignments", x_wanted,
     "assignments the router gave the expert, summed over batches"},
    {"served", EXPERT, FIELD_INT, "assignments", x_served,
     "assignments it computed, those rerouted to it included"},
    {"dropped", EXPERT, FIELD_INT, "assignments", x_dropped, "dropped at its capacity"},
    {"rerouted", EXPERT, FIELD_INT, "assignments", x_rerouted, "that left it for another"},
    {"padding", EXPERT, FIELD_INT, "slots", x_padding, "empty padded slots (pad_to_capacity)"},

    /* one per link: links[] (the first 16 that carried bytes), links.csv (all) */
    {"link", LINK, FIELD_STR, "", k_name, "the link's name, e.g. node0.gpu3.nvlink_up"},
    {"bytes", LINK, FIELD_REAL, "B", k_bytes, "bytes it carried, all collectives"},
    {"busy_s", LINK, FIELD_REAL, "s", k_busy, "bytes / bandwidth"},
    {"utilization", LINK, FIELD_REAL, "fraction", k_util, "busy_s / sim_time_s"},
    /* one per training step (steps[], steps.csv) */
    {"step", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_INT, "", s_index,
     "the step's index, from 0"},
    {"step_s", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_time,
     "the step's simulated time, its start to its last operation's end"},
    {"tokens", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_INT, "tokens", s_tokens,
     "tokens the step trained on: global_batch x seq_len"},
    {"throughput_tokens_per_s_per_gpu", .level = FIELD_STEP, .group = FIELD_GROUP_NONE,
     FIELD_REAL, "tokens/s", s_thr, "tokens / step_s / GPUs"},
    {"tflops_per_gpu", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "TFLOP/s",
     s_tflops, "model FLOPs (totals.gflop_per_token x tokens) / step_s / GPUs"},
    {"mfu", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "fraction", s_mfu,
     "tflops_per_gpu over the GPU's dense peak in model.dtype"},
    {"bubble_share", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "fraction",
     s_bubble, "the step's idle share of the compute streams, exposed communication left out"},
    {"alltoall", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_exp_alltoall,
     "exposed all-to-all, per GPU (the mean over GPUs)", .sub = "exposed_s"},
    {"tp", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_exp_tp,
     "exposed TP all-reduces, per GPU", .sub = "exposed_s"},
    {"dp", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_exp_dp,
     "exposed gradient reductions and gathers, per GPU", .sub = "exposed_s"},
    {"pp", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_exp_pp,
     "exposed pipeline sends, per GPU", .sub = "exposed_s"},
    {"optimizer_s", .level = FIELD_STEP, .group = FIELD_GROUP_NONE, FIELD_REAL, "s", s_opt,
     "the slowest stage's optimizer step"},
    /* one per pipeline stage of a training run (stages[], stages.csv) */
#define STAGE .level = FIELD_STAGE, .group = FIELD_GROUP_NONE
    {"stage", STAGE, FIELD_INT, "", g_stage_index, "the pipeline stage, from 0"},
    {"attention", STAGE, FIELD_REAL, "fraction", g_stage_attention,
     "share of the stage's GPU time (step time x GPUs, all steps) in attention, forward and "
     "backward", .sub = "shares"},
    {"experts", STAGE, FIELD_REAL, "fraction", g_stage_experts,
     "the same in the routed and shared experts", .sub = "shares"},
    {"other", STAGE, FIELD_REAL, "fraction", g_stage_other,
     "the same in dense FFNs, gates, the output layer and the optimizer", .sub = "shares"},
    {"exposed_alltoall", STAGE, FIELD_REAL, "fraction", g_stage_alltoall,
     "the same waiting on all-to-alls", .sub = "shares"},
    {"exposed_tp", STAGE, FIELD_REAL, "fraction", g_stage_tp,
     "the same waiting on TP all-reduces", .sub = "shares"},
    {"exposed_dp", STAGE, FIELD_REAL, "fraction", g_stage_dp,
     "the same waiting on gradient reductions and gathers", .sub = "shares"},
    {"exposed_pp", STAGE, FIELD_REAL, "fraction", g_stage_pp,
     "the same waiting on pipeline sends", .sub = "shares"},
    {"idle", STAGE, FIELD_REAL, "fraction", g_stage_idle,
     "the same idle: bubbles and waits for a group's slowest member", .sub = "shares"},
    {"memory_bytes", STAGE, FIELD_REAL, "B", g_stage_memory,
     "what one GPU of the stage holds (docs/training.md, Memory)"},
#undef STAGE
};

#define NFIELDS ((int)(sizeof(fields) / sizeof(fields[0])))

int field_count(void)
{
    return NFIELDS;
}

const field *field_at(int i)
{
    return i >= 0 && i < NFIELDS ? &fields[i] : NULL;
}

const field *field_find(field_level level, field_group group, const char *name)
{
    for (int i = 0; i < NFIELDS; i++)
        if (fields[i].level == level && strcmp(fields[i].name, name) == 0 &&
            (level != FIELD_TOTALS || fields[i].group == group))
            return &fields[i];
    return NULL;
}

static const char *const level_names[FIELD_LEVEL_COUNT] = {"totals", "layer", "expert", "link",
                                                            "step", "stage"};
static const char *const group_names[FIELD_GROUP_COUNT] = {
    "scenario", "cluster", "model", "network", "placement", "layout", "workload", "memory",
    "totals"};
static const char *const stat_names[FIELD_STAT_COUNT] = {
    "mean", "p50", "p95", "p99", "max", "n", "min_ps", "max_ps", "sum_ps"};

const char *field_level_name(field_level l)
{
    return NAME_IN(level_names, l);
}

const char *field_group_name(field_group g)
{
    return NAME_IN(group_names, g);
}

const char *field_stat_name(field_stat s)
{
    return NAME_IN(stat_names, s);
}

void field_src_init(field_src *src, const scenario *s, const metrics *m, const topo_t *t)
{
    memset(src, 0, sizeof(*src));
    src->s = s;
    src->m = m;
    src->t = t;
    report_totals(m, &src->tot);
    if (s) { /* a caller reading metrics alone may pass none */
        gpu_memory_shape shape;
        scenario_memory(s, &shape, &src->mem);
    }
}

void field_get(const field *f, const field_src *src, field_value *v)
{
    memset(v, 0, sizeof(*v));
    v->s = "";
    f->get(src, v);
}

bool field_stat_is_int(field_stat stat)
{
    return stat >= FIELD_STAT_N;
}

double field_number(const field *f, const field_value *v, field_stat stat)
{
    if (v->null)
        return NAN;
    switch (f->type) {
    case FIELD_INT:
        return (double)v->i;
    case FIELD_U64:
        return (double)v->u;
    case FIELD_REAL:
        return v->r;
    case FIELD_BOOL:
        return v->b ? 1 : 0;
    case FIELD_STATS: {
        const double reals[] = {v->st.mean_s, v->st.p50_s, v->st.p95_s, v->st.p99_s,
                                v->st.max_s, (double)v->st.n, (double)v->st.min_ps,
                                (double)v->st.max_ps, (double)v->st.sum_ps};
        return stat >= 0 && stat < FIELD_STAT_COUNT ? reals[stat] : NAN;
    }
    default:
        return NAN;
    }
}

char *field_format(field_fmt fmt, double x, char *buf, size_t n)
{
    if (isnan(x)) {
        snprintf(buf, n, "-");
        return buf;
    }
    switch (fmt) {
    case FIELD_FMT_INT:
        snprintf(buf, n, "%.0f", x);
        break;
    case FIELD_FMT_PCT2:
        snprintf(buf, n, "%.2f%%", 100.0 * x);
        break;
    case FIELD_FMT_PCT1:
        snprintf(buf, n, "%.1f%%", 100.0 * x);
        break;
    case FIELD_FMT_RATIO:
        snprintf(buf, n, "%.3f", x);
        break;
    case FIELD_FMT_TIMES:
        snprintf(buf, n, "%.3fx", x);
        break;
    case FIELD_FMT_TIME:
        units_format_time(sim_time_from_s(x), buf, n);
        break;
    case FIELD_FMT_THROUGHPUT: /* as the run's totals print it */
        if (x >= 1e6)
            snprintf(buf, n, "%.3f M tok/s", x / 1e6);
        else
            snprintf(buf, n, "%.1f k tok/s", x / 1e3);
        break;
    case FIELD_FMT_GB:
        snprintf(buf, n, "%.1f GB", x / 1e9);
        break;
    default:
        snprintf(buf, n, "%g", x);
        break;
    }
    return buf;
}

char *field_format_value(const field *f, const field_value *v, field_stat stat, field_fmt fmt,
                         char *buf, size_t n)
{
    if (fmt == FIELD_FMT_INT && f->type == FIELD_INT && !v->null) {
        snprintf(buf, n, "%" PRId64, v->i);
        return buf;
    }
    return field_format(fmt, field_number(f, v, stat), buf, n);
}

/* ---- the reference in docs/output.md ---- */

/* Where a field sits in the JSON report, e.g. totals.dispatch_s,
 * layers[].per_expert.wanted[]. */
char *field_column(const field *f, char *buf, size_t n)
{
    int grp = f->level == FIELD_TOTALS && f->group != FIELD_GROUP_TOTALS;
    snprintf(buf, n, "%s%s%s%s%s", grp ? field_group_name(f->group) : "", grp ? "_" : "",
             f->sub ? f->sub : "", f->sub ? "_" : "", f->name);
    return buf;
}

static void json_path(const field *f, char *buf, size_t n)
{
    const char *sub = f->sub ? f->sub : "", *dot = f->sub ? "." : "";
    switch (f->level) {
    case FIELD_TOTALS:
        snprintf(buf, n, "%s.%s%s%s", field_group_name(f->group), sub, dot, f->name);
        break;
    case FIELD_LAYER:
        snprintf(buf, n, "layers[].%s%s%s", sub, dot, f->name);
        break;
    case FIELD_EXPERT:
        snprintf(buf, n, "layers[].per_expert.%s[]", f->name);
        break;
    case FIELD_STEP:
        snprintf(buf, n, "steps[].%s%s%s", sub, dot, f->name);
        break;
    case FIELD_STAGE:
        snprintf(buf, n, "stages[].%s%s%s", sub, dot, f->name);
        break;
    default:
        snprintf(buf, n, "links[].%s", f->name);
        break;
    }
}

static const char *const md_files[FIELD_LEVEL_COUNT] = {"totals.csv", "layers.csv",
                                                        "experts.csv", "links.csv", "steps.csv",
                                                        "stages.csv"};

/* "text: `dropped`", "compare: `dispatch p50`, `dispatch p99`", "compare
 * (JSON)" or "-": the other outputs that show the field. */
static void md_also(const field *x, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    if (x->text)
        k += (size_t)snprintf(buf, n, "text `%s`", x->text_head);
    if (x->cmp && !x->cmp_head)
        snprintf(buf + k, n - k, "compare (JSON)");
    else if (x->cmp && x->type != FIELD_STATS)
        snprintf(buf + k, n - k, "compare `%s`", x->cmp_head);
    else if (x->cmp)
        for (int st = 0; st < FIELD_STAT_COUNT && k < n; st++)
            if (x->cmp_stats & FIELD_STAT_BIT(st))
                k += (size_t)snprintf(buf + k, n - k, "%s`%s %s`", k ? ", " : "compare ",
                                      x->cmp_head, stat_names[st]);
    if (!buf[0])
        snprintf(buf, n, "-");
}

int field_write_md(FILE *f)
{
    for (int lv = 0; lv < FIELD_LEVEL_COUNT; lv++) {
        fprintf(f, "%s| JSON | %s column | unit | also in | meaning |\n|---|---|---|---|---|\n",
                lv ? "\n" : "", md_files[lv]);
        for (int i = 0; i < NFIELDS; i++) {
            const field *x = &fields[i];
            if ((int)x->level != lv)
                continue;
            char path[128], col[128], stem[96];
            json_path(x, path, sizeof(path));
            if (x->type == FIELD_REALS)
                snprintf(col, sizeof(col), "(none: an array)");
            else
                snprintf(col, sizeof(col), "`%s%s`", field_column(x, stem, sizeof(stem)),
                         x->type == FIELD_STATS ? "_*" : "");
            char also[128];
            md_also(x, also, sizeof(also));
            fprintf(f, "| `%s` | %s | %s | %s | %s |\n", path, col, x->unit[0] ? x->unit : "-",
                    also, x->meaning);
        }
    }
    return ferror(f) ? -1 : 0;
}
