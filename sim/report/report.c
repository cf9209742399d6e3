/*
 * report.c - the table on stdout and the JSON file.
 *
 * Shares (dropped, rerouted) are fractions of token-expert assignments,
 * tokens x top_k, summed over MoE layers. Per-layer balance figures are means
 * over batches of the per-batch value: imbalance inside a batch is what costs
 * time, and averaging the loads first would hide it. Link utilisation is the
 * time a link needs for all the bytes it carried over the simulated time.
 *
 * The figures themselves come from the field table (field.h): the JSON
 * report is every field in the table's order, grouped as the schema nests
 * them; the per-layer text table is the layer fields that have a text
 * column. The text's header and totals lines are prose for people, written
 * here; the enum names in them come from the same fields as the JSON's.
 */
#include "moesim/report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/field.h"
#include "moesim/jsonout.h"
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

/* Links sorted by bytes carried, most first (ties: lower id). */
/* A link and the figure it is ranked by. */
typedef struct ranked {
    double key;
    int link;
} ranked;

/* Largest key first; equal keys by link id (a total order: qsort is not
 * stable, and the table must not depend on its whims). */
static int by_key(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return (x->link > y->link) - (x->link < y->link);
}

/* The links ordered by key[link]: a new array of m->links ids. A cluster of
 * 16,384 GPUs has some 70,000 links: sorted, not insertion-sorted. */
static int *links_by(const metrics *m, const double *key)
{
    ranked *r = xcalloc((size_t)m->links, sizeof(*r), "link order");
    for (int i = 0; i < m->links; i++)
        r[i] = (ranked){key[i], i};
    qsort(r, (size_t)m->links, sizeof(*r), by_key);
    int *ord = xcalloc((size_t)m->links, sizeof(*ord), "link order");
    for (int i = 0; i < m->links; i++)
        ord[i] = r[i].link;
    free(r);
    return ord;
}

int *report_links_by_bytes(const metrics *m)
{
    return links_by(m, m->link_bytes);
}

/* The links by utilisation (bytes over line rate: busy time), for the text
 * table: a slow NIC at 7 % matters more than a fast NVLink port with more
 * bytes at 2.5 %. */
static int *links_by_use(const metrics *m, const topo_t *t)
{
    double *busy = xcalloc((size_t)m->links, sizeof(*busy), "link use");
    for (int i = 0; i < m->links; i++) {
        double bw = topo_link_at(t, i)->bw_Bps;
        busy[i] = bw > 0 ? m->link_bytes[i] / bw : 0;
    }
    int *ord = links_by(m, busy);
    free(busy);
    return ord;
}

/* ---- text ---- */

static const char *fmt_t(double s, char *buf, size_t n)
{
    return units_format_time(sim_time_from_s(s), buf, n);
}

/* The text of a string field of the totals level (an enum's name). */
static const char *named(const field_src *src, field_group g, const char *name)
{
    const field *x = field_find(FIELD_TOTALS, g, name);
    field_value v;
    field_get(x, src, &v);
    return v.s;
}

/* The value of a real field of the totals level (NaN when null). */
static double figure_of(const field_src *src, field_group g, const char *name)
{
    const field *x = field_find(FIELD_TOTALS, g, name);
    field_value v;
    field_get(x, src, &v);
    return v.null ? NAN : v.r;
}

/* The text table's columns: the layer fields with a text position, in it. */
static int text_columns(const field **col, int max)
{
    int n = 0;
    for (int pos = 1; n < max; pos++) {
        const field *found = NULL;
        for (int i = 0; i < field_count() && !found; i++)
            if (field_at(i)->level == FIELD_LAYER && field_at(i)->text == pos)
                found = field_at(i);
        if (!found)
            break;
        col[n++] = found;
    }
    return n;
}

/* The per-layer table: a heading, then one row per MoE layer; columns right-
 * aligned, one blank apart, after two. */
static void layer_table(FILE *f, field_src *src)
{
    const field *col[32];
    int n = text_columns(col, 32);
    fputs(" ", f);
    for (int c = 0; c < n; c++)
        fprintf(f, " %*s", col[c]->text_width, col[c]->text_head);
    fputc('\n', f);
    for (int i = 0; i < src->m->moe_layers; i++) {
        src->layer = i;
        fputs(" ", f);
        for (int c = 0; c < n; c++) {
            field_value v;
            char cell[64];
            field_get(col[c], src, &v);
            fprintf(f, " %*s", col[c]->text_width,
                    field_format_value(col[c], &v, FIELD_STAT_P50, col[c]->text_fmt, cell,
                                       sizeof(cell)));
        }
        fputc('\n', f);
    }
    src->layer = 0;
}

/* The run's scenario in five lines: model, cluster, layout, workload. */
static void text_scenario(FILE *f, const field_src *src)
{
    const scenario *s = src->s;
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
    if (s->parallel.pp > 1)
        fprintf(f, ", pp %d", s->parallel.pp);
    fprintf(f, ", ep %d", s->parallel.ep);
    if (s->parallel.etp > 1)
        fprintf(f, ", etp %d", s->parallel.etp);
    if (s->parallel.tp > 1 || s->parallel.etp > 1 || s->parallel.pp > 1)
        fprintf(f, " (order %s)", s->parallel.order);
    fprintf(f, "; %s placement", placement_strategy_name(s->placement.strategy));
    if (s->placement.strategy == PLACEMENT_DYNAMIC)
        fprintf(f, " (%s every %d batches)", placement_strategy_name(s->placement.rebalance),
                s->placement.rebalance_every);
    if (s->placement.redundant)
        fprintf(f, ", %d redundant slots", s->placement.redundant);
    fprintf(f, "; %s network, %s all-to-all\n",
            named(src, FIELD_GROUP_NETWORK, "model"), named(src, FIELD_GROUP_NETWORK, "alltoall"));
    if (s->workload.mode == MODE_TRAINING)
        fprintf(f, "  workload  training, %d step%s x %d sequences of %d tokens; micro-batch "
                   "%d, %d per replica, %s; %s source; ",
                s->workload.batches, s->workload.batches > 1 ? "s" : "",
                s->workload.global_batch, s->workload.seq_len, s->workload.micro_batch,
                s->workload.micro_batches, named(src, FIELD_GROUP_LAYOUT, "schedule"),
                named(src, FIELD_GROUP_WORKLOAD, "source"));
    else
        fprintf(f, "  workload  forward, %d batch%s x %d ranks x %d tokens; %s source; ",
                s->workload.batches, s->workload.batches > 1 ? "es" : "", s->parallel.dp,
                s->workload.tokens_per_rank, named(src, FIELD_GROUP_WORKLOAD, "source"));
    if (s->model.force_balance)
        fprintf(f, "force-balanced; ");
    if (s->workload.mode != MODE_TRAINING && s->workload.micro_batches > 1)
        fprintf(f, "%d micro-batches, %s overlap; ", s->workload.micro_batches,
                sched_overlap_name((sched_overlap)s->workload.overlap));
    if (s->model.capacity.overflow == CAPACITY_DROPLESS)
        fprintf(f, "dropless");
    else
        fprintf(f, "capacity factor %g, %s%s", s->model.capacity.factor,
                named(src, FIELD_GROUP_MODEL, "overflow"),
                s->model.capacity.pad_to_capacity ? ", padded" : "");
    if (s->workload.source.kind == SOURCE_TRACE)
        fprintf(f, "; choices from the trace %s", s->workload.trace_file);
    else
        fprintf(f, "; router %s", named(src, FIELD_GROUP_MODEL, "router"));
    if (s->model.router.groups > 1)
        fprintf(f, " (%d of %d groups)", s->model.router.topk_groups, s->model.router.groups);
    fprintf(f, "\n");
}

/* Exposed communication per GPU and batch (the mean), by class, the classes
 * that were ever exposed; then the compute streams' other idle share. */
static void text_exposed(FILE *f, const metrics *m)
{
    static const char *const what[METRICS_EXPOSED_CLASSES] = {"all-to-all", "TP", "DP",
                                                              "pipeline"};
    fprintf(f, "  exposed comm       ");
    int any = 0;
    for (int c = 0; c < METRICS_EXPOSED_CLASSES; c++) {
        metrics_summary x;
        metrics_series_summarize(&m->exposed[c], &x);
        if (x.max_ps == 0)
            continue;
        char a[32];
        fprintf(f, "%s %s %s", any++ ? "," : "", what[c], fmt_t(x.mean_s, a, sizeof(a)));
    }
    double idle = m->compute_span_ps > 0 ? (double)m->compute_idle_ps / (double)m->compute_span_ps
                                         : 0;
    fprintf(f, "%s per GPU and batch (mean); compute idle otherwise %.1f%%\n",
            any ? "" : " none", 100 * idle);
}

/* Training: the step's time and model FLOP rate, its optimizer and
 * gradient reductions (docs/training.md). */
static void text_training(FILE *f, const field_src *src)
{
    const scenario *s = src->s;
    const metrics *m = src->m;
    const field_group T = FIELD_GROUP_TOTALS;
    metrics_summary opt, gs;
    metrics_series_summarize(&m->optimizer, &opt);
    metrics_series_summarize(&m->grad_sync, &gs);
    char a[32], b[32];
    fprintf(f, "  training            %.0f tokens/s per GPU, %.1f TFLOP/s per GPU "
               "(%.4g GFLOP per token), MFU %.1f%% of %s's %s peak\n",
            figure_of(src, T, "throughput_tokens_per_s_per_gpu"),
            figure_of(src, T, "tflops_per_gpu"), figure_of(src, T, "gflop_per_token"),
            100 * figure_of(src, T, "mfu"), s->cluster.gpu.name, dtype_name(s->model.dtype));
    fprintf(f, "  optimizer           %s per step (slowest stage); gradient reductions: %zu, "
               "%s in all\n",
            fmt_t(opt.max_s, a, sizeof(a)), gs.n, units_format_time(gs.sum_ps, b, sizeof(b)));
    const gpu_memory *mem = &src->mem; /* the stage that needs the most */
    fprintf(f, "  memory per GPU      %.1f GB of %.1f GB: weights %.1f, gradients %.1f, "
               "optimizer %.1f, activations and buffers %.1f (moesim check: every stage)\n",
            mem->total / 1e9, s->cluster.gpu.hbm_bytes / 1e9, mem->weights / 1e9,
            mem->grads / 1e9, mem->optimizer / 1e9, mem->activations / 1e9);
}

/* Training: each stage's GPU time by what it went to (shares summed over
 * its GPUs and the steps). */
static void text_stages(FILE *f, const metrics *m)
{
    static const char *const head[METRICS_SHARE_SPAN] = {
        "attention", "experts", "other", "exp a2a", "exp TP", "exp DP", "exp PP", "idle"};
    fprintf(f, "\nPer pipeline stage (shares of its GPUs' time, all steps)\n  stage");
    for (int i = 0; i < METRICS_SHARE_SPAN; i++)
        fprintf(f, " %10s", head[i]);
    fputc('\n', f);
    for (int k = 0; k < m->stages; k++) {
        const int64_t *x = m->stage_ps + (size_t)k * METRICS_SHARES;
        double span = x[METRICS_SHARE_SPAN] > 0 ? (double)x[METRICS_SHARE_SPAN] : 1;
        fprintf(f, "  %5d", k);
        for (int i = 0; i < METRICS_SHARE_SPAN; i++)
            fprintf(f, " %9.1f%%", 100.0 * (double)x[i] / span);
        fputc('\n', f);
    }
}

/* The totals: tokens, time, throughput, drops, balance, all-to-all times,
 * TP all-reduces and re-placements when there are any, the busiest links. */
static void text_totals(FILE *f, const field_src *src)
{
    const scenario *s = src->s;
    const metrics *m = src->m;
    const topo_t *t = src->t;
    const report_totals_t tt = src->tot;
    char a[32], b[32], c[32], d[32];

    metrics_summary step, disp, comb;
    metrics_series_summarize(&m->batch_time, &step);
    metrics_series_summarize(&m->dispatch_all, &disp);
    metrics_series_summarize(&m->combine_all, &comb);

    fprintf(f, "\nTotals\n");
    fprintf(f, "  tokens              %" PRId64 " in %d batches\n", m->tokens, m->batches);
    fprintf(f, "  simulated time      %s (%s p50 %s)\n",
            units_format_time(m->sim_time_ps, a, sizeof(a)),
            s->workload.mode == MODE_TRAINING ? "training step" : "forward pass",
            fmt_t(step.p50_s, b, sizeof(b)));
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
    text_exposed(f, m);
    if (s->workload.mode == MODE_TRAINING)
        text_training(f, src);
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
        int *ord = links_by_use(m, t);
        fprintf(f, "  busiest links      ");
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
}

int report_text(FILE *f, const scenario *s, const metrics *m, const topo_t *t)
{
    field_src src;
    field_src_init(&src, s, m, t);
    text_scenario(f, &src);
    text_totals(f, &src);
    if (m->stage_ps)
        text_stages(f, m);
    fprintf(f, "\nPer MoE layer (balance: mean over batches; times: p50 over batches)\n");
    layer_table(f, &src);
    return ferror(f) ? -1 : 0;
}

/* ---- JSON ---- */

/* One field's value as JSON: a stats object, an array, a number, a string,
 * true/false or null. */
static json_t *json_of(const field *f, const field_value *v)
{
    if (v->null)
        return jsonout_real(NAN);
    switch (f->type) {
    case FIELD_INT:
        return jsonout_int(v->i);
    case FIELD_U64:
        return jsonout_u64(v->u);
    case FIELD_REAL:
        return jsonout_real(v->r);
    case FIELD_STR:
        return jsonout_str(v->s);
    case FIELD_BOOL:
        return json_boolean(v->b);
    case FIELD_REALS: {
        json_t *a = jsonout_array();
        for (size_t i = 0; i < v->n; i++)
            jsonout_push(a, jsonout_real(v->v[i]));
        return a;
    }
    default: {
        json_t *o = jsonout_object();
        for (int st = 0; st < FIELD_STAT_COUNT; st++) {
            double x = field_number(f, v, (field_stat)st);
            jsonout_set(o, field_stat_name((field_stat)st),
                        field_stat_is_int((field_stat)st) ? jsonout_int((int64_t)x)
                                                          : jsonout_real(x));
        }
        return o;
    }
    }
}

/* Adds every field of `level` (and, at the totals level, of group g) at
 * src's position to obj, in table order. */
static void add_fields(json_t *obj, const field_src *src, field_level level, field_group g)
{
    for (int i = 0; i < field_count(); i++) {
        const field *x = field_at(i);
        if (x->level != level || (level == FIELD_TOTALS && x->group != g))
            continue;
        field_value v;
        field_get(x, src, &v);
        json_t *into = obj;
        if (x->sub) { /* a member of an object: made where its first member is */
            into = json_object_get(obj, x->sub);
            if (!into) {
                into = jsonout_object();
                jsonout_set(obj, x->sub, into);
            }
        }
        jsonout_set(into, x->name, json_of(x, &v));
    }
}

/* layers[i]: its fields, then per_expert: one array per expert field. */
static json_t *json_layer(field_src *src, int i)
{
    json_t *o = jsonout_object(), *px = jsonout_object();
    src->layer = i;
    add_fields(o, src, FIELD_LAYER, 0);
    for (int k = 0; k < field_count(); k++) {
        const field *x = field_at(k);
        if (x->level != FIELD_EXPERT)
            continue;
        json_t *a = jsonout_array();
        for (src->expert = 0; src->expert < src->m->layer[i].experts; src->expert++) {
            field_value v;
            field_get(x, src, &v);
            jsonout_push(a, json_of(x, &v));
        }
        jsonout_set(px, x->name, a);
    }
    jsonout_set(o, "per_expert", px);
    src->expert = 0;
    return o;
}

/* An array of n objects of a level's fields, *idx (src's position at
 * that level) running over them. */
static json_t *json_rows(field_src *src, field_level level, int n, int *idx)
{
    json_t *a = jsonout_array();
    for (*idx = 0; *idx < n; (*idx)++) {
        json_t *o = jsonout_object();
        add_fields(o, src, level, 0);
        jsonout_push(a, o);
    }
    *idx = 0;
    return a;
}

json_t *report_json_tree(const scenario *s, const metrics *m, const topo_t *t)
{
    field_src src;
    field_src_init(&src, s, m, t);
    json_t *root = jsonout_object();
    jsonout_set(root, "schema", jsonout_str(REPORT_SCHEMA));
    jsonout_set(root, "moesim_version", jsonout_str(MOESIM_VERSION));
    for (int g = 0; g < FIELD_GROUP_COUNT; g++) {
        json_t *o = jsonout_object();
        add_fields(o, &src, FIELD_TOTALS, (field_group)g);
        jsonout_set(root, field_group_name((field_group)g), o);
    }
    json_t *layers = jsonout_array();
    for (int i = 0; i < m->moe_layers; i++)
        jsonout_push(layers, json_layer(&src, i));
    jsonout_set(root, "layers", layers);

    json_t *links = jsonout_array();
    int *ord = report_links_by_bytes(m);
    for (int i = 0; i < m->links && i < REPORT_JSON_LINKS && m->link_bytes[ord[i]] > 0; i++) {
        json_t *o = jsonout_object();
        src.link = ord[i];
        add_fields(o, &src, FIELD_LINK, 0);
        jsonout_push(links, o);
    }
    free(ord);
    jsonout_set(root, "links", links);
    /* training: one per step, one per pipeline stage; forward runs: none */
    jsonout_set(root, "steps", json_rows(&src, FIELD_STEP, m->nstep, &src.step));
    jsonout_set(root, "stages",
                json_rows(&src, FIELD_STAGE, m->stage_ps ? m->stages : 0, &src.stage));
    return root;
}

int report_json(FILE *f, const scenario *s, const metrics *m, const topo_t *t)
{
    static const char *const expand[] = {"", "totals", "layers", "layers[]", "links", "steps",
                                         "stages", NULL};
    json_t *root = report_json_tree(s, m, t);
    int rc = jsonout_write(f, root, expand);
    json_decref(root);
    return rc;
}
