/*
 * metrics.c - duration series and the run's tables.
 *
 * Percentiles are computed at the end from the sorted samples rather than
 * estimated on the fly: the sample count is batches x MoE layers (tens of
 * thousands at most), and exact figures make the end-to-end tests exact.
 */
#include "moesim/metrics.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void metrics_series_init(metrics_series *s)
{
    memset(s, 0, sizeof(*s));
}

void metrics_series_fini(metrics_series *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void metrics_series_add(metrics_series *s, int64_t ps)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->v = xrealloc(s->v, s->cap, sizeof(*s->v), "metric samples");
    }
    s->v[s->n++] = ps;
}

void metrics_series_summarize(const metrics_series *s, metrics_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->n = s->n;
    if (s->n == 0)
        return;
    double *d = xcalloc(s->n, sizeof(*d), "percentile buffer");
    int64_t sum = 0, lo = s->v[0], hi = s->v[0];
    for (size_t i = 0; i < s->n; i++) {
        d[i] = (double)s->v[i];
        sum += s->v[i];
        lo = s->v[i] < lo ? s->v[i] : lo;
        hi = s->v[i] > hi ? s->v[i] : hi;
    }
    gsl_sort(d, 1, s->n);
    out->min_ps = lo;
    out->max_ps = hi;
    out->sum_ps = sum;
    out->mean_s = (double)sum / (double)s->n * 1e-12;
    out->p50_s = gsl_stats_quantile_from_sorted_data(d, 1, s->n, 0.50) * 1e-12;
    out->p95_s = gsl_stats_quantile_from_sorted_data(d, 1, s->n, 0.95) * 1e-12;
    out->p99_s = gsl_stats_quantile_from_sorted_data(d, 1, s->n, 0.99) * 1e-12;
    out->max_s = sim_time_to_s(hi);
    free(d);
}

static void layer_init(metrics_layer *l, int experts)
{
    memset(l, 0, sizeof(*l));
    l->experts = experts;
    l->wanted = xcalloc((size_t)experts, sizeof(*l->wanted), "per-expert counts");
    l->served = xcalloc((size_t)experts, sizeof(*l->served), "per-expert counts");
    l->dropped_per_expert = xcalloc((size_t)experts, sizeof(*l->dropped_per_expert),
                                    "per-expert counts");
    l->prob_sum = xcalloc((size_t)experts, sizeof(*l->prob_sum), "per-expert probabilities");
    l->rerouted_per_expert = xcalloc((size_t)experts, sizeof(*l->rerouted_per_expert),
                                     "per-expert counts");
    l->padding_per_expert = xcalloc((size_t)experts, sizeof(*l->padding_per_expert),
                                    "per-expert counts");
    metrics_series_init(&l->attention);
    metrics_series_init(&l->gate);
    metrics_series_init(&l->dispatch);
    metrics_series_init(&l->expert);
    metrics_series_init(&l->combine);
    metrics_series_init(&l->tp_allreduce);
    for (int c = 0; c < METRICS_EXPOSED_CLASSES; c++)
        metrics_series_init(&l->exposed[c]);
}

static void layer_fini(metrics_layer *l)
{
    free(l->wanted);
    free(l->served);
    free(l->dropped_per_expert);
    free(l->prob_sum);
    free(l->rerouted_per_expert);
    free(l->padding_per_expert);
    free(l->mom_by_batch);
    metrics_series_fini(&l->attention);
    metrics_series_fini(&l->gate);
    metrics_series_fini(&l->dispatch);
    metrics_series_fini(&l->expert);
    metrics_series_fini(&l->combine);
    metrics_series_fini(&l->tp_allreduce);
    for (int c = 0; c < METRICS_EXPOSED_CLASSES; c++)
        metrics_series_fini(&l->exposed[c]);
}

void metrics_init(metrics *m, int moe_layers, int experts, int links, int gpus)
{
    memset(m, 0, sizeof(*m));
    m->moe_layers = moe_layers;
    m->layer = xcalloc((size_t)moe_layers, sizeof(*m->layer), "layer metrics");
    for (int i = 0; i < moe_layers; i++)
        layer_init(&m->layer[i], experts);
    metrics_series_init(&m->batch_time);
    metrics_series_init(&m->dispatch_all);
    metrics_series_init(&m->combine_all);
    metrics_series_init(&m->migration);
    metrics_series_init(&m->optimizer);
    metrics_series_init(&m->grad_sync);
    metrics_series_init(&m->tp_allreduce_all);
    for (int c = 0; c < METRICS_EXPOSED_CLASSES; c++)
        metrics_series_init(&m->exposed[c]);
    m->links = links;
    m->link_bytes = xcalloc((size_t)links, sizeof(*m->link_bytes), "link metrics");
    m->gpus = gpus;
    m->gpu_busy_ps = xcalloc((size_t)gpus, sizeof(*m->gpu_busy_ps), "GPU metrics");
}

void metrics_fini(metrics *m)
{
    if (m->layer)
        for (int i = 0; i < m->moe_layers; i++)
            layer_fini(&m->layer[i]);
    free(m->layer);
    metrics_series_fini(&m->batch_time);
    metrics_series_fini(&m->dispatch_all);
    metrics_series_fini(&m->combine_all);
    metrics_series_fini(&m->migration);
    metrics_series_fini(&m->optimizer);
    free(m->step);
    m->step = NULL;
    free(m->stage_ps);
    m->stage_ps = NULL;
    m->stages = 0;
    m->nstep = m->step_cap = 0;
    metrics_series_fini(&m->grad_sync);
    metrics_series_fini(&m->tp_allreduce_all);
    for (int c = 0; c < METRICS_EXPOSED_CLASSES; c++)
        metrics_series_fini(&m->exposed[c]);
    free(m->link_bytes);
    free(m->gpu_busy_ps);
    memset(m, 0, sizeof(*m));
}

void metrics_balance(const int64_t *counts, int n, double *max_over_mean, double *cv)
{
    double sum = 0, max = 0;
    for (int i = 0; i < n; i++) {
        sum += (double)counts[i];
        max = (double)counts[i] > max ? (double)counts[i] : max;
    }
    double mean = n > 0 ? sum / n : 0;
    if (mean <= 0) {
        *max_over_mean = 0;
        *cv = 0;
        return;
    }
    double var = 0;
    for (int i = 0; i < n; i++) {
        double d = (double)counts[i] - mean;
        var += d * d;
    }
    var /= n;
    *max_over_mean = max / mean;
    *cv = sqrt(var) / mean;
}

void metrics_step_add(metrics *m, const metrics_step *st)
{
    if (m->nstep == m->step_cap) {
        m->step_cap = m->step_cap ? 2 * m->step_cap : 8;
        m->step = xrealloc(m->step, (size_t)m->step_cap, sizeof(*m->step), "steps");
    }
    m->step[m->nstep++] = *st;
}
