/*
 * source.c - token sources: the router logits each token shows each MoE layer.
 *
 * synthetic: a generative model of router inputs, small enough to run for
 * every token of every batch, built to give routing the three properties real
 * routers show (skewed expert popularity; tokens of one sequence routing
 * alike; consecutive layers routing a token alike).
 *
 *   topics     mu_z ~ N(0, I_d), z = 0..topics-1, drawn once at source_new.
 *   sequences  every run of seq_len consecutive tokens of a batch is one
 *              sequence with one topic z ~ Uniform{0..topics-1}. Sequences
 *              restart at every batch (a batch holds whole sequences, the
 *              last one possibly cut short), so a batch depends on its own
 *              stream only; they do run across rank boundaries.
 *   latents    h = mu_z + topic_std * N(0, I_d), per token, per batch.
 *   routers    W_0 ~ N(0, s^2/d) entrywise (E x d), s = SOURCE_LOGIT_SCALE,
 *              W_l = c W_{l-1} + sqrt(1 - c^2) G_l, G_l ~ N(0, s^2/d),
 *              c = layer_corr: an AR(1) chain, so corr(W_l, W_m) is about
 *              c^|l-m|; every row is then rescaled to length s, so that no
 *              expert is popular merely because its random row is long.
 *   bias       b_0 ~ N(0, skew^2) per expert, and the same AR(1) chain across
 *              layers: expert i's popularity persists from layer to layer as
 *              much as its router row does. Correlating indices across layers
 *              is the model's choice; real expert i of layer l and of l+1 are
 *              unrelated, but the correlation is what carries a token's
 *              routing from one layer to the next.
 *   logits     x_l = W_l h + b_l.
 *
 * Scale: var((W h)_i) = s^2 |h|^2 / d = s^2 (1 + topic_std^2), a standard
 * deviation of about 4.2 logits at the defaults, and the bias adds skew on
 * top: at skew 1 an 8-expert top-2 router sees a per-batch max/mean load near
 * 1.8, at skew 0 with many topics near 1.15 (docs/routing.md has the measured
 * table). Topics skew load by themselves: with few topics each one's
 * favourite experts stay hot even at skew 0.
 *
 * Reproducibility: what is fixed for the run is drawn from three child
 * generators seeded from `init` (topics, router weights, biases), so that a
 * knob moves only what it names: changing skew or topics leaves the router
 * weights unchanged, and adding layers leaves the earlier layers unchanged.
 * Same seeds give the same logits bit for bit (fixed loop order, no
 * reassociation).
 *
 * fixed: a table of rows x E logits; token i of every batch gets row
 * i % rows in every layer (tests and teaching).
 *
 * Memory: the run's constants (E x d x layers doubles) and one batch of
 * latents (tokens x d), grown only when a batch is larger than any before.
 */
#include "moesim/source.h"

#include <assert.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Router weights are N(0, SCALE^2 / d) rather than N(0, 1 / d): the token
 * term W h then has a standard deviation of SCALE * sqrt(1 + topic_std^2),
 * about 4.2 logits at the defaults, against which `skew` (in logits) is
 * measured. 3 puts skew 1 at a per-batch max/mean load near 1.8 for 8
 * experts, top-2 (1 would give 2.6, beyond what published unbalanced routers
 * show); it only sets how sharp the softmax is relative to the bias, so it
 * is a constant of the model rather than a knob. */
#define SOURCE_LOGIT_SCALE 3.0

struct source {
    source_kind kind;
    int layers, experts;

    /* synthetic */
    int dim, topics, seq_len;
    double topic_std;
    double *mu;   /* topics x dim */
    double *wt;   /* layers x dim x experts: W_l transposed, see source_logits */
    double *bias; /* layers x experts */
    double *h;    /* the current batch's latents, tokens x dim */
    size_t h_cap; /* tokens h can hold */

    /* fixed */
    double *table; /* rows x experts */
    int rows;

    int tokens; /* in the current batch */
};

static int check(const source_config *cfg, err_t *e)
{
    if (cfg->layers < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "model.layers",
                       "%d MoE layers; allowed: >= 1", cfg->layers);
    if (cfg->experts < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "model.experts", "%d experts; allowed: >= 1",
                       cfg->experts);
    switch (cfg->kind) {
    case SOURCE_SYNTHETIC:
        if (cfg->latent_dim < 1 || cfg->latent_dim > 4096)
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.latent_dim",
                           "%d; allowed: 1 to 4096", cfg->latent_dim);
        if (cfg->topics < 1)
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.topics",
                           "%d; allowed: >= 1", cfg->topics);
        if (cfg->seq_len < 1)
            return err_set(e, ERR_INPUT, NULL, 0, "workload.seq_len", "%d; allowed: >= 1",
                           cfg->seq_len);
        if (!(cfg->skew >= 0) || !isfinite(cfg->skew))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.skew",
                           "%g; allowed: a number >= 0", cfg->skew);
        if (!(cfg->layer_corr >= 0 && cfg->layer_corr <= 1))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.layer_corr",
                           "%g; allowed: 0 to 1", cfg->layer_corr);
        if (!(cfg->topic_std > 0) || !isfinite(cfg->topic_std))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.topic_std",
                           "%g; allowed: a number > 0", cfg->topic_std);
        /* The weights are layers x E x d doubles; refuse what cannot be meant
         * before the allocator fails on it (2^28 doubles = 2 GiB). */
        if ((double)cfg->layers * cfg->experts * cfg->latent_dim > (double)(1 << 28))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.latent_dim",
                           "%d layers x %d experts x %d dimensions of router weights is "
                           "too large; allowed: at most 2^28 in all",
                           cfg->layers, cfg->experts, cfg->latent_dim);
        return 0;
    case SOURCE_FIXED:
        if (!cfg->fixed_logits || cfg->fixed_rows < 1)
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.logits",
                           "%d rows; allowed: at least one row of model.experts (%d) logits",
                           cfg->fixed_rows, cfg->experts);
        for (size_t i = 0; i < (size_t)cfg->fixed_rows * (size_t)cfg->experts; i++)
            if (!isfinite(cfg->fixed_logits[i])) /* the router needs finite logits */
                return err_set(e, ERR_INPUT, NULL, 0, "workload.source.logits",
                               "row %zu, expert %zu is %g; allowed: a finite number",
                               i / (size_t)cfg->experts, i % (size_t)cfg->experts,
                               cfg->fixed_logits[i]);
        return 0;
    }
    return err_set(e, ERR_INPUT, NULL, 0, "workload.source.kind",
                   "unknown source kind %d; allowed: synthetic, fixed", (int)cfg->kind);
}

/* Fills n doubles with N(0, sd^2) draws, in index order. */
static void gaussians(gsl_rng *r, double sd, double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = gsl_ran_gaussian_ziggurat(r, sd);
}

/* Draws the run's constants. Three seeds come from `init` first, one per
 * part, and a private generator of init's type is re-seeded with each in
 * turn: the parts are independent streams, so a knob that changes how many
 * numbers one part draws does not shift the others. */
static int draw_synthetic(source_t *s, const source_config *cfg, gsl_rng *init, err_t *e)
{
    const size_t E = (size_t)s->experts, d = (size_t)s->dim, L = (size_t)s->layers;
    unsigned long seed_topics = gsl_rng_get(init);
    unsigned long seed_weights = gsl_rng_get(init);
    unsigned long seed_bias = gsl_rng_get(init);
    gsl_rng *r = gsl_rng_alloc(init->type);
    if (!r) /* only when GSL's error handler is off and memory ran out */
        return err_set(e, ERR_RUN, NULL, 0, NULL,
                       "out of memory allocating a random number generator");

    s->mu = xcalloc((size_t)s->topics * d, sizeof(*s->mu), "source topic means");
    s->wt = xcalloc(L * d * E, sizeof(*s->wt), "source router weights");
    s->bias = xcalloc(L * E, sizeof(*s->bias), "source expert biases");
    double *g = xcalloc(E * d, sizeof(*g), "source weight draws");

    gsl_rng_set(r, seed_topics);
    gaussians(r, 1.0, s->mu, (size_t)s->topics * d);

    /* W is drawn row-major (expert by expert) and stored transposed. The AR(1)
     * step keeps every layer's marginal at N(0, 1/d): c^2 + (1 - c^2) = 1. */
    const double c = cfg->layer_corr, cc = sqrt(1.0 - c * c);
    const double wsd = SOURCE_LOGIT_SCALE / sqrt((double)d);
    gsl_rng_set(r, seed_weights);
    for (size_t l = 0; l < L; l++) {
        double *w = s->wt + l * d * E;
        const double *prev = l ? w - d * E : NULL;
        gaussians(r, wsd, g, E * d);
        if (prev && cc == 0) { /* layer_corr 1: the same router, bit for bit */
            memcpy(w, prev, d * E * sizeof(*w));
            continue;
        }
        for (size_t i = 0; i < E; i++) {
            double *row = g + i * d, norm2 = 0;
            for (size_t j = 0; j < d; j++) {
                row[j] = prev ? c * prev[j * E + i] + cc * row[j] : row[j];
                norm2 += row[j] * row[j];
            }
            /* Every expert's row gets the same length, SCALE: a longer row
             * would make its expert win for every token, a popularity the
             * model leaves to `skew` alone (with hundreds of experts the
             * chi-distributed lengths of raw Gaussian rows alone gave
             * max/mean loads above 4). */
            double k = norm2 > 0 ? SOURCE_LOGIT_SCALE / sqrt(norm2) : 0;
            for (size_t j = 0; j < d; j++)
                w[j * E + i] = k * row[j];
        }
    }

    /* Unit draws times skew, so skew = 0 and skew = 2 share every other number
     * and differ only in the bias's size. */
    gsl_rng_set(r, seed_bias);
    for (size_t l = 0; l < L; l++) {
        double *b = s->bias + l * E;
        gaussians(r, 1.0, g, E);
        for (size_t i = 0; i < E; i++)
            b[i] = l ? c * b[i - E] + cc * cfg->skew * g[i] : cfg->skew * g[i];
    }

    free(g);
    gsl_rng_free(r);
    return 0;
}

source_t *source_new(const source_config *cfg, gsl_rng *init, err_t *e)
{
    if (check(cfg, e) != 0)
        return NULL;
    source_t *s = xcalloc(1, sizeof(*s), "token source");
    s->kind = cfg->kind;
    s->layers = cfg->layers;
    s->experts = cfg->experts;

    switch (cfg->kind) {
    case SOURCE_SYNTHETIC:
        s->dim = cfg->latent_dim;
        s->topics = cfg->topics;
        s->seq_len = cfg->seq_len;
        s->topic_std = cfg->topic_std;
        if (draw_synthetic(s, cfg, init, e) != 0)
            goto fail;
        break;
    case SOURCE_FIXED: {
        size_t n = (size_t)cfg->fixed_rows * (size_t)cfg->experts;
        s->rows = cfg->fixed_rows;
        s->table = xmalloc(n * sizeof(*s->table), "fixed logits table");
        memcpy(s->table, cfg->fixed_logits, n * sizeof(*s->table));
        break;
    }
    }
    return s;

fail:
    source_free(s);
    return NULL;
}

void source_free(source_t *s)
{
    if (!s)
        return;
    free(s->mu);
    free(s->wt);
    free(s->bias);
    free(s->h);
    free(s->table);
    free(s);
}

void source_begin_batch(source_t *s, int tokens, gsl_rng *rng)
{
    s->tokens = tokens > 0 ? tokens : 0;
    if (s->kind != SOURCE_SYNTHETIC || s->tokens == 0)
        return; /* fixed: nothing varies per batch */

    const size_t n = (size_t)s->tokens, d = (size_t)s->dim;
    if (n > s->h_cap) { /* grow only: a run's batches are usually all one size */
        free(s->h);
        s->h = xcalloc(n * d, sizeof(*s->h), "source latents of one batch");
        s->h_cap = n;
    }

    /* Draw order, fixed for reproducibility: per sequence, its topic, then
     * its tokens' latents component by component. */
    const unsigned long topics = (unsigned long)s->topics;
    for (size_t t0 = 0; t0 < n; t0 += (size_t)s->seq_len) {
        size_t t1 = t0 + (size_t)s->seq_len < n ? t0 + (size_t)s->seq_len : n;
        const double *mu = s->mu + (size_t)gsl_rng_uniform_int(rng, topics) * d;
        for (size_t t = t0; t < t1; t++) {
            double *h = s->h + t * d;
            for (size_t j = 0; j < d; j++)
                h[j] = mu[j] + gsl_ran_gaussian_ziggurat(rng, s->topic_std);
        }
    }
}

/*
 * x = W_l h + b_l for every token. W_l is stored transposed (d x E) so that
 * the work is axpys over experts, out[0..E) += h_j * W^T[j][0..E): independent
 * lanes the compiler vectorises without reassociating a sum (which it may not
 * do without -ffast-math); a row-major E x d layout would put a serial dot
 * product over d in the inner loop.
 *
 * The kernel is register-blocked, TB tokens by IB experts at a time: each
 * weight loaded serves TB tokens and the accumulators stay in registers over
 * the whole j loop, instead of streaming W (64 KiB at E = 256, d = 32) and
 * every output row through the cache once per j. Every output is still
 * b_i + h_0 w_0i + h_1 w_1i + ... in that order, in the blocked path and in
 * the edges alike, so blocking changes no bit of the result.
 */
#define SOURCE_TB 4 /* 4 x 8 accumulators: 4.4 GFLOP/s against 3.2 unblocked */
#define SOURCE_IB 8

/* One output element the plain way: the edges of the blocked kernel. */
static double logit_one(const double *wt, const double *b, const double *h, size_t E,
                        size_t d, size_t i)
{
    double acc = b[i];
    for (size_t j = 0; j < d; j++)
        acc += h[j] * wt[j * E + i];
    return acc;
}

static void synthetic_logits(const source_t *s, int layer, double *logits)
{
    const size_t E = (size_t)s->experts, d = (size_t)s->dim, T = (size_t)s->tokens;
    const double *wt = s->wt + (size_t)layer * d * E;
    const double *b = s->bias + (size_t)layer * E;
    const size_t T_full = T - T % SOURCE_TB, E_full = E - E % SOURCE_IB;

    for (size_t t0 = 0; t0 < T_full; t0 += SOURCE_TB) {
        const double *h = s->h + t0 * d;
        for (size_t i0 = 0; i0 < E_full; i0 += SOURCE_IB) {
            double acc[SOURCE_TB][SOURCE_IB];
            for (size_t u = 0; u < SOURCE_TB; u++)
                for (size_t v = 0; v < SOURCE_IB; v++)
                    acc[u][v] = b[i0 + v];
            for (size_t j = 0; j < d; j++) {
                const double *w = wt + j * E + i0;
                for (size_t u = 0; u < SOURCE_TB; u++) {
                    const double hu = h[u * d + j];
                    for (size_t v = 0; v < SOURCE_IB; v++)
                        acc[u][v] += hu * w[v];
                }
            }
            for (size_t u = 0; u < SOURCE_TB; u++)
                memcpy(logits + (t0 + u) * E + i0, acc[u], sizeof(acc[u]));
        }
        for (size_t u = 0; u < SOURCE_TB; u++) /* experts beyond the last block */
            for (size_t i = E_full; i < E; i++)
                logits[(t0 + u) * E + i] = logit_one(wt, b, h + u * d, E, d, i);
    }
    for (size_t t = T_full; t < T; t++) /* tokens beyond the last block */
        for (size_t i = 0; i < E; i++)
            logits[t * E + i] = logit_one(wt, b, s->h + t * d, E, d, i);
}

void source_logits(source_t *s, int layer, double *logits)
{
    const size_t E = (size_t)s->experts;
    switch (s->kind) {
    case SOURCE_SYNTHETIC:
        assert(layer >= 0 && layer < s->layers); /* a caller's bug, not an input */
        synthetic_logits(s, layer, logits);
        break;
    case SOURCE_FIXED:
        /* every layer sees the same table: layer is unused by design */
        for (size_t t = 0; t < (size_t)s->tokens; t++)
            memcpy(logits + t * E, s->table + (t % (size_t)s->rows) * E,
                   E * sizeof(*logits));
        break;
    }
}
