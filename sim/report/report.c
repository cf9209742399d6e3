/*
 * report.c - the table on stdout and the JSON file.
 *
 * Shares (dropped, rerouted) are fractions of token-expert assignments,
 * tokens x top_k, summed over MoE layers. Per-layer balance figures are means
 * over batches of the per-batch value: imbalance inside a batch is what costs
 * time, and averaging the loads first would hide it. Link utilisation is the
 * time a link needs for all the bytes it carried over the simulated time.
 */
#include "moesim/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/router.h"
#include "moesim/units.h"

/* ---- shared figures ---- */

void report_totals(const metrics *m, report_totals_t *t)
{
    memset(t, 0, sizeof(*t));
    double mom = 0; /* the layers' per-batch GPU max/mean, all summed */
    int64_t n = 0;
    for (int i = 0; i < m->moe_layers; i++) {
        t->assignments += m->layer[i].assignments;
        t->dropped += m->layer[i].dropped;
        t->rerouted += m->layer[i].rerouted;
        mom += m->layer[i].gpu_max_over_mean_sum;
        n += m->layer[i].batches;
    }
    if (t->assignments > 0) {
        t->dropped_share = (double)t->dropped / (double)t->assignments;
        t->rerouted_share = (double)t->rerouted / (double)t->assignments;
    }
    if (n > 0)
        t->gpu_max_over_mean = mom / (double)n;
    if (m->a2a_bytes > 0)
        t->internode_share = m->a2a_internode_bytes / m->a2a_bytes;
    double secs = sim_time_to_s(m->sim_time_ps);
    t->throughput = secs > 0 ? (double)m->tokens / secs : 0;
}

static double mean_over_batches(double sum, int batches)
{
    return batches > 0 ? sum / batches : 0;
}

/* NaN (JSON null) when the run replayed a trace, which has no probabilities. */
static double layer_aux_loss(const metrics_layer *l)
{
    if (l->no_probs)
        return NAN;
    return router_aux_loss(l->experts, l->wanted, l->prob_sum, l->tokens);
}

/* Links sorted by bytes carried, most first (ties: lower id). */
int *report_links_by_bytes(const metrics *m)
{
    int *ord = xcalloc((size_t)m->links, sizeof(*ord), "link order");
    for (int i = 0; i < m->links; i++)
        ord[i] = i;
    for (int i = 1; i < m->links; i++) { /* insertion sort: stable, links are few */
        int x = ord[i], j = i;
        while (j > 0 && m->link_bytes[ord[j - 1]] < m->link_bytes[x]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = x;
    }
    return ord;
}

/* ---- text ---- */

static const char *fmt_t(double s, char *buf, size_t n)
{
    return units_format_time(sim_time_from_s(s), buf, n);
}

int report_text(FILE *f, const scenario *s, const metrics *m, const topo_t *t)
{
    report_totals_t tt;
    report_totals(m, &tt);
    char a[32], b[32], c[32], d[32];
    int gpus = s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;

    fprintf(f, "moesim %s: %s (seed %" PRIu64 ")\n", MOESIM_VERSION, s->name, s->seed);
    fprintf(f, "  model     %d layers (%d MoE), %d experts top-%d", s->model.layers,
            s->moe_layers, s->model.experts, s->model.top_k);
    if (s->model.shared_experts)
        fprintf(f, " + %d shared", s->model.shared_experts);
    fprintf(f, ", hidden %d, expert FFN %d, %s\n", s->model.hidden, s->model.expert_ffn,
            dtype_name(s->model.dtype));
    fprintf(f, "  cluster   %d node%s x %d %s; NVSwitch %s/GPU, %s; NIC %s/GPU, %s\n",
            s->cluster.topo.nodes, s->cluster.topo.nodes > 1 ? "s" : "", s->cluster.topo.gpus_per_node,
            s->cluster.gpu.name, units_format_bandwidth(s->cluster.topo.intra_bw_Bps, a, sizeof(a)),
            units_format_time(s->cluster.topo.intra_lat_ps, b, sizeof(b)),
            units_format_bandwidth(s->cluster.topo.inter_bw_Bps, c, sizeof(c)),
            units_format_time(s->cluster.topo.inter_lat_ps, d, sizeof(d)));
    fprintf(f, "  layout    %d GPUs: dp %d", gpus, s->parallel.dp);
    if (s->parallel.tp > 1) /* shown only when used: tp = 1 reads as before */
        fprintf(f, ", tp %d", s->parallel.tp);
    fprintf(f, ", ep %d", s->parallel.ep);
    if (s->parallel.etp > 1)
        fprintf(f, ", etp %d", s->parallel.etp);
    if (s->parallel.tp > 1 || s->parallel.etp > 1)
        fprintf(f, " (order %s)", s->parallel.order);
    fprintf(f, "; %s placement", placement_strategy_name(s->placement.strategy));
    if (s->placement.strategy == PLACEMENT_DYNAMIC)
        fprintf(f, " (%s every %d batches)", placement_strategy_name(s->placement.rebalance),
                s->placement.rebalance_every);
    if (s->placement.redundant)
        fprintf(f, ", %d redundant slots", s->placement.redundant);
    fprintf(f, "; %s network, %s all-to-all\n",
            net_model_name(s->network.model), coll_a2a_name(s->network.alltoall));
    fprintf(f, "  workload  forward, %d batch%s x %d ranks x %d tokens; %s source; ",
            s->workload.batches, s->workload.batches > 1 ? "es" : "", s->parallel.dp,
            s->workload.tokens_per_rank,
            source_kind_name(s->workload.source.kind));
    if (s->model.capacity.overflow == CAPACITY_DROPLESS)
        fprintf(f, "dropless");
    else
        fprintf(f, "capacity factor %g, %s%s", s->model.capacity.factor,
                capacity_overflow_name(s->model.capacity.overflow),
                s->model.capacity.pad_to_capacity ? ", padded" : "");
    if (s->workload.source.kind == SOURCE_TRACE)
        fprintf(f, "; choices from the trace %s", s->workload.trace_file);
    else
        fprintf(f, "; router %s", router_kind_name(s->model.router.kind));
    if (s->model.router.groups > 1)
        fprintf(f, " (%d of %d groups)", s->model.router.topk_groups, s->model.router.groups);
    fprintf(f, "\n");

    metrics_summary step, disp, comb;
    metrics_series_summarize(&m->batch_time, &step);
    metrics_series_summarize(&m->dispatch_all, &disp);
    metrics_series_summarize(&m->combine_all, &comb);

    fprintf(f, "\nTotals\n");
    fprintf(f, "  tokens              %" PRId64 " in %d batches\n", m->tokens, m->batches);
    fprintf(f, "  simulated time      %s (forward pass p50 %s)\n",
            units_format_time(m->sim_time_ps, a, sizeof(a)), fmt_t(step.p50_s, b, sizeof(b)));
    if (tt.throughput >= 1e6)
        fprintf(f, "  throughput          %.3f M tokens/s\n", tt.throughput / 1e6);
    else
        fprintf(f, "  throughput          %.1f k tokens/s\n", tt.throughput / 1e3);
    fprintf(f, "  dropped             %.2f%% of %" PRId64 " token-expert assignments "
            "(rerouted %.2f%%)\n",
            100 * tt.dropped_share, tt.assignments, 100 * tt.rerouted_share);
    fprintf(f, "  GPU load max/mean   %.3f; %.1f%% of all-to-all bytes leave their node\n",
            tt.gpu_max_over_mean, 100 * tt.internode_share);
    fprintf(f, "  dispatch all-to-all mean %s  p50 %s  p99 %s  max %s\n",
            fmt_t(disp.mean_s, a, sizeof(a)), fmt_t(disp.p50_s, b, sizeof(b)),
            fmt_t(disp.p99_s, c, sizeof(c)), fmt_t(disp.max_s, d, sizeof(d)));
    fprintf(f, "  combine all-to-all  mean %s  p50 %s  p99 %s  max %s\n",
            fmt_t(comb.mean_s, a, sizeof(a)), fmt_t(comb.p50_s, b, sizeof(b)),
            fmt_t(comb.p99_s, c, sizeof(c)), fmt_t(comb.max_s, d, sizeof(d)));
    if (m->tp_allreduce_all.n > 0) {
        metrics_summary tpa;
        metrics_series_summarize(&m->tp_allreduce_all, &tpa);
        fprintf(f, "  TP all-reduces      per layer mean %s  max %s; %s in all\n",
                fmt_t(tpa.mean_s, a, sizeof(a)), fmt_t(tpa.max_s, b, sizeof(b)),
                units_format_time(tpa.sum_ps, c, sizeof(c)));
    }
    if (s->placement.strategy == PLACEMENT_DYNAMIC) {
        metrics_summary mig;
        metrics_series_summarize(&m->migration, &mig);
        fprintf(f, "  re-placements       %d: %" PRId64 " expert copies, %s, %s in all",
                m->rebalances, m->migrated_experts,
                units_format_size(m->migration_bytes, a, sizeof(a)),
                units_format_time(mig.sum_ps, b, sizeof(b)));
        if (m->kept_layers > 0)
            fprintf(f, "; %" PRId64 " layer placements kept (gain below %g)", m->kept_layers,
                    s->placement.rebalance_min_gain);
        fputc('\n', f);
    }
    if (m->links > 0 && m->sim_time_ps > 0) {
        int *ord = report_links_by_bytes(m);
        fprintf(f, "  hottest links      ");
        for (int i = 0; i < 3 && i < m->links && m->link_bytes[ord[i]] > 0; i++) {
            char name[64];
            topo_link_name(t, ord[i], name, sizeof(name));
            const topo_link *l = topo_link_at(t, ord[i]);
            double busy = (double)sim_time_for_bytes(m->link_bytes[ord[i]], l->bw_Bps) /
                          (double)m->sim_time_ps;
            fprintf(f, " %s %.1f%%", name, 100 * busy);
        }
        fprintf(f, "\n");
        free(ord);
    }

    fprintf(f, "\nPer MoE layer (balance: mean over batches; times: p50 over batches)\n");
    fprintf(f, "  %5s %10s %8s %8s %6s %8s %11s %11s %11s\n", "layer", "tokens", "dropped",
            "max/mean", "cv", "gpu max", "dispatch", "experts", "combine");
    for (int i = 0; i < m->moe_layers; i++) {
        const metrics_layer *l = &m->layer[i];
        metrics_summary ds, es, cs;
        metrics_series_summarize(&l->dispatch, &ds);
        metrics_series_summarize(&l->expert, &es);
        metrics_series_summarize(&l->combine, &cs);
        double share = l->assignments ? (double)l->dropped / (double)l->assignments : 0;
        fprintf(f, "  %5d %10" PRId64 " %7.2f%% %8.3f %6.3f %8.3f %11s %11s %11s\n", l->layer,
                l->tokens, 100 * share, mean_over_batches(l->load_max_over_mean_sum, l->batches),
                mean_over_batches(l->load_cv_sum, l->batches),
                mean_over_batches(l->gpu_max_over_mean_sum, l->batches),
                fmt_t(ds.p50_s, a, sizeof(a)), fmt_t(es.p50_s, b, sizeof(b)),
                fmt_t(cs.p50_s, c, sizeof(c)));
    }
    return ferror(f) ? -1 : 0;
}

/* ---- JSON ---- */

/* Numbers: integers exact; reals with 12 significant digits, which is
 * deterministic and enough for picosecond times below one second; a value
 * that is not finite has no JSON spelling and is written null. */
void report_json_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.12g", v);
    else
        fputs("null", f);
}

void report_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void json_stats(FILE *f, const metrics_series *s)
{
    metrics_summary m;
    metrics_series_summarize(s, &m);
    fprintf(f, "{\"mean\": ");
    report_json_num(f, m.mean_s);
    fprintf(f, ", \"p50\": ");
    report_json_num(f, m.p50_s);
    fprintf(f, ", \"p95\": ");
    report_json_num(f, m.p95_s);
    fprintf(f, ", \"p99\": ");
    report_json_num(f, m.p99_s);
    fprintf(f, ", \"max\": ");
    report_json_num(f, m.max_s);
    fprintf(f, ", \"n\": %zu, \"min_ps\": %" PRId64 ", \"max_ps\": %" PRId64
               ", \"sum_ps\": %" PRId64 "}",
            m.n, m.min_ps, m.max_ps, m.sum_ps);
}

static void json_i64_array(FILE *f, const int64_t *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%" PRId64, i ? ", " : "", v[i]);
    fputc(']', f);
}

int report_json(FILE *f, const scenario *s, const metrics *m, const topo_t *t)
{
    report_totals_t tt;
    report_totals(m, &tt);
    fprintf(f, "{\n  \"schema\": \"%s\",\n  \"moesim_version\": \"%s\",\n", REPORT_SCHEMA,
            MOESIM_VERSION);
    fprintf(f, "  \"scenario\": {\"name\": ");
    report_json_str(f, s->name);
    fprintf(f, ", \"seed\": %" PRIu64 ", \"file\": ", s->seed);
    report_json_str(f, s->file);
    fprintf(f, "},\n");
    fprintf(f, "  \"cluster\": {\"nodes\": %d, \"gpus_per_node\": %d, \"gpus\": %d, \"gpu\": ",
            s->cluster.topo.nodes, s->cluster.topo.gpus_per_node,
            s->cluster.topo.nodes * s->cluster.topo.gpus_per_node);
    report_json_str(f, s->cluster.gpu.name);
    fprintf(f, "},\n");
    fprintf(f, "  \"model\": {\"layers\": %d, \"moe_layers\": %d, \"experts\": %d, "
               "\"top_k\": %d, \"shared_experts\": %d, \"hidden\": %d, \"expert_ffn\": %d, "
               "\"router\": \"%s\", \"overflow\": \"%s\"},\n",
            s->model.layers, s->moe_layers, s->model.experts, s->model.top_k,
            s->model.shared_experts, s->model.hidden, s->model.expert_ffn,
            router_kind_name(s->model.router.kind), capacity_overflow_name(s->model.capacity.overflow));
    fprintf(f, "  \"network\": {\"model\": \"%s\", \"alltoall\": \"%s\"},\n",
            net_model_name(s->network.model), coll_a2a_name(s->network.alltoall));
    fprintf(f, "  \"placement\": {\"strategy\": \"%s\", \"redundant\": %d, "
               "\"warmup_batches\": %d, \"rebalances\": %d, \"migrated_experts\": %" PRId64
               ", \"kept_layers\": %" PRId64 ", \"migration_bytes\": ",
            placement_strategy_name(s->placement.strategy), s->placement.redundant,
            s->placement.warmup_batches, m->rebalances, m->migrated_experts, m->kept_layers);
    report_json_num(f, m->migration_bytes);
    fprintf(f, ", \"migration_s\": ");
    json_stats(f, &m->migration);
    fprintf(f, "},\n");
    /* the layout and the memory fit (docs/hardware.md), new in place: added
     * fields, the rest of the schema unchanged */
    gpu_memory_shape msh;
    gpu_memory mem;
    scenario_memory(s, &msh, &mem);
    fprintf(f, "  \"layout\": {\"dp\": %d, \"tp\": %d, \"pp\": %d, \"ep\": %d, \"etp\": %d, "
               "\"order\": \"%s\"},\n",
            s->parallel.dp, s->parallel.tp, s->parallel.pp, s->parallel.ep, s->parallel.etp,
            s->parallel.order);
    fprintf(f, "  \"workload\": {\"source\": \"%s\", \"trace_file\": ",
            source_kind_name(s->workload.source.kind));
    if (s->workload.source.kind == SOURCE_TRACE)
        report_json_str(f, s->workload.trace_file);
    else
        fprintf(f, "null");
    fprintf(f, "},\n");
    fprintf(f, "  \"memory\": {\"needed_bytes\": ");
    report_json_num(f, mem.total);
    fprintf(f, ", \"weights_bytes\": ");
    report_json_num(f, mem.weights);
    fprintf(f, ", \"activations_bytes\": ");
    report_json_num(f, mem.activations);
    fprintf(f, ", \"hbm_bytes\": ");
    report_json_num(f, s->cluster.gpu.hbm_bytes);
    fprintf(f, ", \"checked\": %s},\n", s->cluster.check_memory ? "true" : "false");

    fprintf(f, "  \"totals\": {\n    \"tokens\": %" PRId64 ",\n    \"batches\": %d,\n",
            m->tokens, m->batches);
    fprintf(f, "    \"sim_time_s\": ");
    report_json_num(f, sim_time_to_s(m->sim_time_ps));
    fprintf(f, ",\n    \"sim_time_ps\": %" PRId64 ",\n    \"throughput_tokens_per_s\": ",
            m->sim_time_ps);
    report_json_num(f, tt.throughput);
    fprintf(f, ",\n    \"assignments\": %" PRId64 ",\n    \"dropped\": %" PRId64
               ",\n    \"rerouted\": %" PRId64 ",\n    \"dropped_share\": ",
            tt.assignments, tt.dropped, tt.rerouted);
    report_json_num(f, tt.dropped_share);
    fprintf(f, ",\n    \"rerouted_share\": ");
    report_json_num(f, tt.rerouted_share);
    fprintf(f, ",\n    \"gpu_load_max_over_mean\": ");
    report_json_num(f, tt.gpu_max_over_mean);
    fprintf(f, ",\n    \"a2a_bytes\": ");
    report_json_num(f, m->a2a_bytes);
    fprintf(f, ",\n    \"internode_byte_share\": ");
    report_json_num(f, tt.internode_share);
    fprintf(f, ",\n    \"step_s\": ");
    json_stats(f, &m->batch_time);
    fprintf(f, ",\n    \"dispatch_s\": ");
    json_stats(f, &m->dispatch_all);
    fprintf(f, ",\n    \"combine_s\": ");
    json_stats(f, &m->combine_all);
    fprintf(f, ",\n    \"tp_allreduce_s\": ");
    json_stats(f, &m->tp_allreduce_all);
    fprintf(f, "\n  },\n  \"layers\": [");

    for (int i = 0; i < m->moe_layers; i++) {
        const metrics_layer *l = &m->layer[i];
        fprintf(f, "%s\n    {\"layer\": %d, \"tokens\": %" PRId64 ", \"assignments\": %" PRId64
                   ", \"dropped\": %" PRId64 ", \"rerouted\": %" PRId64 ", \"capacity\": ",
                i ? "," : "", l->layer, l->tokens, l->assignments, l->dropped, l->rerouted);
        if (l->capacity == INT64_MAX)
            fprintf(f, "null");
        else
            fprintf(f, "%" PRId64, l->capacity);
        fprintf(f, ",\n     \"load_max_over_mean\": ");
        report_json_num(f, mean_over_batches(l->load_max_over_mean_sum, l->batches));
        fprintf(f, ", \"load_cv\": ");
        report_json_num(f, mean_over_batches(l->load_cv_sum, l->batches));
        fprintf(f, ", \"aux_loss\": ");
        report_json_num(f, layer_aux_loss(l));
        fprintf(f, ", \"gpu_load_max_over_mean\": ");
        report_json_num(f, mean_over_batches(l->gpu_max_over_mean_sum, l->batches));
        fprintf(f, ", \"padding\": %" PRId64 ", \"unrouted_tokens\": %" PRId64, l->padding,
                l->unrouted);
        fprintf(f, ",\n     \"load_max_over_mean_by_batch\": [");
        for (size_t b = 0; b < l->mom_n; b++) {
            fprintf(f, "%s", b ? ", " : "");
            report_json_num(f, l->mom_by_batch[b]);
        }
        fprintf(f, "]");
        fprintf(f, ",\n     \"attention_s\": ");
        json_stats(f, &l->attention);
        fprintf(f, ",\n     \"gate_s\": ");
        json_stats(f, &l->gate);
        fprintf(f, ",\n     \"dispatch_s\": ");
        json_stats(f, &l->dispatch);
        fprintf(f, ",\n     \"expert_compute_s\": ");
        json_stats(f, &l->expert);
        fprintf(f, ",\n     \"combine_s\": ");
        json_stats(f, &l->combine);
        fprintf(f, ",\n     \"tp_allreduce_s\": ");
        json_stats(f, &l->tp_allreduce);
        fprintf(f, ",\n     \"per_expert\": {\"wanted\": ");
        json_i64_array(f, l->wanted, l->experts);
        fprintf(f, ", \"served\": ");
        json_i64_array(f, l->served, l->experts);
        fprintf(f, ", \"dropped\": ");
        json_i64_array(f, l->dropped_per_expert, l->experts);
        fprintf(f, ", \"rerouted\": ");
        json_i64_array(f, l->rerouted_per_expert, l->experts);
        fprintf(f, ", \"padding\": ");
        json_i64_array(f, l->padding_per_expert, l->experts);
        fprintf(f, "}}");
    }
    fprintf(f, "\n  ],\n  \"links\": [");
    int *ord = report_links_by_bytes(m);
    for (int i = 0, shown = 0; i < m->links && shown < 16; i++) {
        int id = ord[i];
        if (m->link_bytes[id] <= 0)
            break;
        char name[64];
        topo_link_name(t, id, name, sizeof(name));
        const topo_link *l = topo_link_at(t, id);
        sim_time_t busy = sim_time_for_bytes(m->link_bytes[id], l->bw_Bps);
        fprintf(f, "%s\n    {\"link\": ", shown ? "," : "");
        report_json_str(f, name);
        fprintf(f, ", \"bytes\": ");
        report_json_num(f, m->link_bytes[id]);
        fprintf(f, ", \"busy_s\": ");
        report_json_num(f, sim_time_to_s(busy));
        fprintf(f, ", \"utilization\": ");
        report_json_num(f, m->sim_time_ps > 0 ? (double)busy / (double)m->sim_time_ps : 0);
        fprintf(f, "}");
        shown++;
    }
    free(ord);
    fprintf(f, "\n  ]\n}\n");
    return ferror(f) ? -1 : 0;
}
