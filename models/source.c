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
 *   logits     x_l = W_l h + b_l + offset.
 *
 * offset is one constant for every expert: softmax routers do not see it,
 * sigmoid routers (DeepSeek-V3) do. The token term's spread of about 4 logits
 * (below) puts the top experts of a wide layer 8 to 10 logits above 0, where
 * every sigmoid is 0.9999 and a selection bias of 0.001 outweighs the
 * token's own preferences; an offset near -8 brings their affinities back to
 * the range where the gate discriminates, as trained sigmoid gates do.
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
 * drift: the topic of a sequence is drawn from a mix pi = softmax(theta)
 * whose logits walk, theta_z += drift * N(0, 1) at the start of every batch
 * (theta starts at 0: uniform). drift 0 keeps the uniform mix and draws
 * nothing for it, so scenarios without drift route as before, bit for bit.
 *
 * popularity: per MoE layer a weight w_i per expert, drawn once; every token
 * gets x_i = log w_i + g_i, g_i ~ Gumbel(0, 1) i.i.d., so its top-1 is expert
 * i with probability w_i / sum w and its top-k a draw without replacement in
 * proportion to w (the Gumbel-max and Gumbel-top-k tricks: Gumbel 1954;
 * Kool, van Hoof, Welling 2019). The laws of w: uniform; zipf, 1 / rank^s
 * over a random ranking per layer (hot experts differ between layers, as in
 * trained models); hot, hot_experts randomly chosen experts sharing
 * hot_share of the mass and the rest sharing what is left equally;
 * lognormal, w = exp(sigma N(0, 1)) (per-expert token counts of deployed
 * models are close to log-normal). Tokens are independent: no sequence or
 * layer correlation beyond the shared weights.
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
    float *wt;    /* layers x dim x experts: W_l transposed, see source_logits */
    float *bias;  /* layers x experts */
    float *h;     /* the current batch's latents, tokens x dim */
    size_t h_cap; /* tokens h can hold */
    double drift; /* random-walk step of the topic logits per batch */
    double *theta, *pi; /* topic logits and mix (topics each); NULL without drift */

    /* popularity: log w per layer and expert (layers x experts) */
    double *logw;
    gsl_rng *gumbel; /* the current batch's stream, borrowed between calls */

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
    case SOURCE_TRACE:
        return err_set(e, ERR_RUN, NULL, 0, "workload.source.kind",
                       "a trace is replayed by the simulator, not generated by a source");
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
        if (!isfinite(cfg->offset))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.offset",
                           "%g; allowed: a finite number", cfg->offset);
        if (!(cfg->drift >= 0) || !isfinite(cfg->drift))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.drift",
                           "%g; allowed: a number >= 0", cfg->drift);
        /* The weights are layers x E x d doubles; refuse what cannot be meant
         * before the allocator fails on it (2^28 doubles = 2 GiB). */
        if ((double)cfg->layers * cfg->experts * cfg->latent_dim > (double)(1 << 28))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.latent_dim",
                           "%d layers x %d experts x %d dimensions of router weights is "
                           "too large; allowed: at most 2^28 in all",
                           cfg->layers, cfg->experts, cfg->latent_dim);
        return 0;
    case SOURCE_POPULARITY:
        if ((unsigned)cfg->dist > (unsigned)SOURCE_LOGNORMAL)
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.distribution",
                           "unknown distribution %d; allowed: uniform, zipf, hot, lognormal",
                           (int)cfg->dist);
        if (!(cfg->zipf_s >= 0) || !isfinite(cfg->zipf_s))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.s",
                           "%g; allowed: a number >= 0", cfg->zipf_s);
        if (cfg->dist == SOURCE_HOT && (cfg->hot_experts < 1 || cfg->hot_experts > cfg->experts))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.hot_experts",
                           "%d; allowed: 1 to model.experts (%d)", cfg->hot_experts,
                           cfg->experts);
        if (!(cfg->hot_share >= 0 && cfg->hot_share <= 1))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.hot_share",
                           "%g; allowed: 0 to 1", cfg->hot_share);
        if (!(cfg->sigma >= 0) || !isfinite(cfg->sigma))
            return err_set(e, ERR_INPUT, NULL, 0, "workload.source.sigma",
                           "%g; allowed: a number >= 0", cfg->sigma);
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
    case SOURCE_KIND_COUNT: /* not a kind: refused below */
        break;
    }
    return err_set(e, ERR_INPUT, NULL, 0, "workload.source.kind",
                   "unknown source kind %d; allowed: synthetic, fixed, popularity",
                   (int)cfg->kind);
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
    /* drawn in double, stored in float for the per-token kernel */
    double *wd = xcalloc(L * d * E, sizeof(*wd), "source router weights");
    double *bd = xcalloc(L * E, sizeof(*bd), "source expert biases");
    double *g = xcalloc(E * d, sizeof(*g), "source weight draws");

    gsl_rng_set(r, seed_topics);
    gaussians(r, 1.0, s->mu, (size_t)s->topics * d);

    /* W is drawn row-major (expert by expert) and stored transposed. The AR(1)
     * step keeps every layer's marginal at N(0, 1/d): c^2 + (1 - c^2) = 1. */
    const double c = cfg->layer_corr, cc = sqrt(1.0 - c * c);
    const double wsd = SOURCE_LOGIT_SCALE / sqrt((double)d);
    gsl_rng_set(r, seed_weights);
    for (size_t l = 0; l < L; l++) {
        double *w = wd + l * d * E;
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
        double *b = bd + l * E;
        gaussians(r, 1.0, g, E);
        for (size_t i = 0; i < E; i++)
            b[i] = l ? c * bd[(l - 1) * E + i] + cc * cfg->skew * g[i] : cfg->skew * g[i];
    }

    s->wt = xcalloc(L * d * E, sizeof(*s->wt), "source router weights (float)");
    s->bias = xcalloc(L * E, sizeof(*s->bias), "source expert biases (float)");
    for (size_t i = 0; i < L * d * E; i++)
        s->wt[i] = (float)wd[i];
    for (size_t i = 0; i < L * E; i++) /* offset: see the file head */
        s->bias[i] = (float)(bd[i] + cfg->offset);
    free(wd);
    free(bd);
    free(g);
    gsl_rng_free(r);
    return 0;
}

/* Draws the popularity weights of every layer from `init`: a permutation
 * (zipf ranks, hot experts) and Gaussians (lognormal), layer by layer. Stored
 * as log w; a zero weight (hot_share 1 leaves the cold ones none) becomes a
 * very low but finite logit, as the router needs finite input. */
static void draw_popularity(source_t *s, const source_config *cfg, gsl_rng *init)
{
    const size_t E = (size_t)s->experts, L = (size_t)s->layers;
    s->logw = xcalloc(L * E, sizeof(*s->logw), "popularity weights");
    size_t *perm = xcalloc(E, sizeof(*perm), "popularity ranking");
    for (size_t l = 0; l < L; l++) {
        double *lw = s->logw + l * E;
        for (size_t i = 0; i < E; i++)
            perm[i] = i;
        gsl_ran_shuffle(init, perm, E, sizeof(*perm));
        for (size_t r = 0; r < E; r++) {
            const size_t i = perm[r]; /* the expert of rank r (0: the hottest) */
            double w = 1.0;
            switch (cfg->dist) {
            case SOURCE_UNIFORM:
                break;
            case SOURCE_ZIPF:
                w = pow((double)(r + 1), -cfg->zipf_s);
                break;
            case SOURCE_HOT: {
                const size_t h = (size_t)cfg->hot_experts;
                w = r < h ? cfg->hot_share / (double)h
                          : (E > h ? (1.0 - cfg->hot_share) / (double)(E - h) : 0.0);
                break;
            }
            case SOURCE_LOGNORMAL:
                w = exp(gsl_ran_gaussian_ziggurat(init, cfg->sigma));
                break;
            case SOURCE_DIST_COUNT: /* check() refused it */
                break;
            }
            lw[i] = w > 0 ? log(w) : -1e3;
        }
    }
    free(perm);
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
        s->drift = cfg->drift;
        if (s->drift > 0) {
            s->theta = xcalloc((size_t)s->topics, sizeof(*s->theta), "topic logits");
            s->pi = xcalloc((size_t)s->topics, sizeof(*s->pi), "topic mix");
        }
        break;
    case SOURCE_POPULARITY:
        draw_popularity(s, cfg, init);
        break;
    case SOURCE_FIXED: {
        size_t n = (size_t)cfg->fixed_rows * (size_t)cfg->experts;
        s->rows = cfg->fixed_rows;
        s->table = xmalloc(n * sizeof(*s->table), "fixed logits table");
        memcpy(s->table, cfg->fixed_logits, n * sizeof(*s->table));
        break;
    }
    case SOURCE_TRACE: /* check() refused it */
    case SOURCE_KIND_COUNT:
        break;
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
    free(s->theta);
    free(s->pi);
    free(s->logw);
    free(s);
}

void source_begin_batch(source_t *s, int tokens, gsl_rng *rng)
{
    s->tokens = tokens > 0 ? tokens : 0;
    s->gumbel = rng; /* popularity draws its noise layer by layer */
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
    if (s->drift > 0) { /* the mix takes one random-walk step, then softmax */
        double m = -INFINITY, sum = 0;
        for (size_t z = 0; z < topics; z++) {
            s->theta[z] += gsl_ran_gaussian_ziggurat(rng, s->drift);
            m = s->theta[z] > m ? s->theta[z] : m;
        }
        for (size_t z = 0; z < topics; z++)
            sum += s->pi[z] = exp(s->theta[z] - m);
        for (size_t z = 0; z < topics; z++)
            s->pi[z] /= sum;
    }
    for (size_t t0 = 0; t0 < n; t0 += (size_t)s->seq_len) {
        size_t t1 = t0 + (size_t)s->seq_len < n ? t0 + (size_t)s->seq_len : n;
        size_t z = 0;
        if (s->drift > 0) { /* inverse CDF of the mix; the last topic takes rounding */
            double u = gsl_rng_uniform(rng), acc = 0;
            for (z = 0; z + 1 < topics; z++)
                if (u < (acc += s->pi[z]))
                    break;
        } else {
            z = (size_t)gsl_rng_uniform_int(rng, topics);
        }
        const double *mu = s->mu + z * d;
        for (size_t t = t0; t < t1; t++) {
            float *h = s->h + t * d;
            for (size_t j = 0; j < d; j++)
                h[j] = (float)(mu[j] + gsl_ran_gaussian_ziggurat(rng, s->topic_std));
        }
    }
}

/*
 * x = W_l h + b_l for every token, in float: the weights, latents and sums
 * are single precision (a logit's rounding error, about 1e-6 of its size, is
 * far below any difference that routing depends on), which doubles the lanes
 * of every vector instruction. W_l is stored transposed (d x E) so that the
 * work is axpys over experts, out[0..E) += h_j * W^T[j][0..E): independent
 * lanes the compiler vectorises without reassociating a sum (which it may not
 * do without -ffast-math); a row-major E x d layout would put a serial dot
 * product over d in the inner loop.
 *
 * The kernel is register-blocked, TB tokens by IB experts at a time: each
 * weight loaded serves TB tokens and the accumulators stay in registers over
 * the whole j loop. Every output is b_i + h_0 w_0i + h_1 w_1i + ... in that
 * order, in the blocked path and in the edges alike, each product rounded
 * before its sum (two statements, so no compiler fuses them into an FMA,
 * which would round once): blocking, vector width and the clone chosen at
 * run time change no bit of the result.
 */
#define SOURCE_TB 4 /* tokens per block */

/* Built for AVX2 as well as the baseline on x86-64, picked at load time
 * (base.h: MOESIM_X86). Elsewhere: the plain build. The AVX-512 kernel is a
 * third path, picked at run time (below). */
#define SOURCE_X86 MOESIM_X86
/* The test build leaves target_clones out (the sanitizers and ifunc
 * resolvers do not mix); it keeps the AVX-512 path, which is a plain
 * function with a target attribute. */
#if SOURCE_X86 && !defined(MOESIM_TEST)
#define SOURCE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SOURCE_CLONES
#endif

/* Eight floats as one value (GCC and clang vector extension): the
 * accumulators are named variables, so they live in registers for the whole
 * j loop; on a target without 256-bit vectors each operation is two 128-bit
 * ones, with the same IEEE results lane by lane. */
typedef float source_v8 __attribute__((vector_size(32)));

/* Vectors never cross a function boundary by value (their ABI differs
 * between the clones): loads are a macro, stores take a pointer and widen
 * lane by lane (float to double is exact), which compiles to cvtps2pd on
 * the register itself rather than a round trip through a float array. */
#define V8_LOAD(v, p) memcpy(&(v), (p), sizeof(v)) /* unaligned load */

static inline void v8_store(double *out, const source_v8 *v)
{
    for (int i = 0; i < 8; i++)
        out[i] = (*v)[i];
}

/* h broadcast to every lane. Written as an initializer, not `{0} + h`: an
 * addition would turn a latent of -0.0 into +0.0, where the scalar edge
 * path below multiplies by h itself. */
#define V8_SPLAT(x) ((source_v8){(x), (x), (x), (x), (x), (x), (x), (x)})

/* One output element the plain way: the edges of the blocked kernel. */
static double logit_one(const float *wt, const float *b, const float *h, size_t E, size_t d,
                        size_t i)
{
    float acc = b[i];
    for (size_t j = 0; j < d; j++) {
        const float p = h[j] * wt[j * E + i];
        acc += p;
    }
    return acc;
}

/* Four tokens (latents h, outputs from out) x 16 experts from i0 on; with
 * two == 0 only the first 8 experts. Eight accumulators, two weight vectors
 * and four broadcasts: 14 of the 16 AVX2 registers, so nothing spills. */
__attribute__((always_inline)) static inline void block16(const float *wt, const float *b,
                                                          const float *h, size_t E,
                           size_t d, size_t i0, double *out, int two)
{
    source_v8 b0, b1;
    V8_LOAD(b0, b + i0);
    V8_LOAD(b1, b + i0 + (two ? 8 : 0));
    source_v8 a00 = b0, a10 = b0, a20 = b0, a30 = b0;
    source_v8 a01 = b1, a11 = b1, a21 = b1, a31 = b1;
    for (size_t j = 0; j < d; j++) {
        const float *w = wt + j * E + i0;
        source_v8 w0, w1;
        V8_LOAD(w0, w);
        V8_LOAD(w1, w + (two ? 8 : 0));
        const source_v8 h0 = V8_SPLAT(h[j]), h1 = V8_SPLAT(h[d + j]);
        const source_v8 h2 = V8_SPLAT(h[2 * d + j]), h3 = V8_SPLAT(h[3 * d + j]);
        source_v8 p;
        p = h0 * w0; a00 += p; /* product, then sum: never one fused FMA */
        p = h1 * w0; a10 += p;
        p = h2 * w0; a20 += p;
        p = h3 * w0; a30 += p;
        if (two) {
            p = h0 * w1; a01 += p;
            p = h1 * w1; a11 += p;
            p = h2 * w1; a21 += p;
            p = h3 * w1; a31 += p;
        }
    }
    v8_store(out + i0, &a00);
    v8_store(out + E + i0, &a10);
    v8_store(out + 2 * E + i0, &a20);
    v8_store(out + 3 * E + i0, &a30);
    if (two) {
        v8_store(out + i0 + 8, &a01);
        v8_store(out + E + i0 + 8, &a11);
        v8_store(out + 2 * E + i0 + 8, &a21);
        v8_store(out + 3 * E + i0 + 8, &a31);
    }
}

/* The edges every kernel shares: experts from i0 on of the TB tokens from
 * t0 on, and every expert of the tokens beyond the last whole block. */
static void logits_edges(const float *wt, const float *b, const float *h, size_t E, size_t d,
                         size_t t0, size_t i0, double *logits, int tail)
{
    if (!tail) {
        for (size_t u = 0; u < SOURCE_TB; u++)
            for (size_t i = i0; i < E; i++)
                logits[(t0 + u) * E + i] = logit_one(wt, b, h + (t0 + u) * d, E, d, i);
        return;
    }
    for (size_t t = t0; t < (size_t)tail; t++)
        for (size_t i = 0; i < E; i++)
            logits[t * E + i] = logit_one(wt, b, h + t * d, E, d, i);
}

/* The plain path: every entry by logit_one. What the blocked kernels must
 * reproduce bit for bit (test_source checks each against it). */
static void logits_plain(const source_t *s, int layer, double *logits)
{
    const size_t E = (size_t)s->experts, d = (size_t)s->dim;
    logits_edges(s->wt + (size_t)layer * d * E, s->bias + (size_t)layer * E, s->h, E, d, 0, 0,
                 logits, s->tokens);
}

/*
 * The AVX-512 block: four tokens by 32 experts, two 16-float vectors per
 * token. On cores with full-width 512-bit units (measured on an AMD EPYC of
 * the Zen 5 generation: 101 ns per token at E = 256, d = 32, against 178 ns
 * for the AVX2 kernel) each instruction does twice the work. Same operations
 * in the same order as block16, lane by lane: the same bits. Built only into
 * the AVX-512 kernel (logits_body with wide = 1).
 */
typedef float source_v16 __attribute__((vector_size(64)));
#define V16_SPLAT(x) ((source_v16){(x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), (x), \
                                   (x), (x), (x), (x)})

__attribute__((always_inline)) static inline void v16_store(double *out, const source_v16 *v)
{
    for (int i = 0; i < 16; i++)
        out[i] = (*v)[i];
}

__attribute__((always_inline)) static inline void block32(const float *wt, const float *b,
                                                          const float *h, size_t E, size_t d,
                                                          size_t i0, double *out)
{
    source_v16 b0, b1;
    V8_LOAD(b0, b + i0);
    V8_LOAD(b1, b + i0 + 16);
    source_v16 a00 = b0, a10 = b0, a20 = b0, a30 = b0;
    source_v16 a01 = b1, a11 = b1, a21 = b1, a31 = b1;
    for (size_t j = 0; j < d; j++) {
        const float *w = wt + j * E + i0;
        source_v16 w0, w1;
        V8_LOAD(w0, w);
        V8_LOAD(w1, w + 16);
        const source_v16 h0 = V16_SPLAT(h[j]), h1 = V16_SPLAT(h[d + j]);
        const source_v16 h2 = V16_SPLAT(h[2 * d + j]), h3 = V16_SPLAT(h[3 * d + j]);
        source_v16 p;
        p = h0 * w0; a00 += p; /* product, then sum, as in block16 */
        p = h1 * w0; a10 += p;
        p = h2 * w0; a20 += p;
        p = h3 * w0; a30 += p;
        p = h0 * w1; a01 += p;
        p = h1 * w1; a11 += p;
        p = h2 * w1; a21 += p;
        p = h3 * w1; a31 += p;
    }
    v16_store(out + i0, &a00);
    v16_store(out + E + i0, &a10);
    v16_store(out + 2 * E + i0, &a20);
    v16_store(out + 3 * E + i0, &a30);
    v16_store(out + i0 + 16, &a01);
    v16_store(out + E + i0 + 16, &a11);
    v16_store(out + 2 * E + i0 + 16, &a21);
    v16_store(out + 3 * E + i0 + 16, &a31);
}

/* The blocked kernels' one body: 32-expert blocks when wide (the AVX-512
 * build only), then 16 and 8, then the edges. */
__attribute__((always_inline)) static inline void logits_body(const source_t *s, int layer,
                                                              double *logits, int wide)
{
    const size_t E = (size_t)s->experts, d = (size_t)s->dim, T = (size_t)s->tokens;
    const float *wt = s->wt + (size_t)layer * d * E;
    const float *b = s->bias + (size_t)layer * E;
    const size_t T_full = T - T % SOURCE_TB;

    for (size_t t0 = 0; t0 < T_full; t0 += SOURCE_TB) {
        const float *h = s->h + t0 * d;
        double *out = logits + t0 * E;
        size_t i0 = 0;
        for (; wide && i0 + 32 <= E; i0 += 32)
            block32(wt, b, h, E, d, i0, out);
        for (; i0 + 16 <= E; i0 += 16)
            block16(wt, b, h, E, d, i0, out, 1);
        for (; i0 + 8 <= E; i0 += 8) /* E = 8 (Mixtral), and the tail of others */
            block16(wt, b, h, E, d, i0, out, 0);
        logits_edges(wt, b, s->h, E, d, t0, i0, logits, 0);
    }
    logits_edges(wt, b, s->h, E, d, T_full, 0, logits, (int)T);
}

SOURCE_CLONES
static void logits_v8(const source_t *s, int layer, double *logits)
{
    logits_body(s, layer, logits, 0);
}

#if SOURCE_X86
#include <immintrin.h>
/* The AVX-512 kernel; clears the upper register halves on the way out, so
 * that the caller's SSE code pays no transition. */
__attribute__((target("avx512f"))) static void logits_v16(const source_t *s, int layer,
                                                          double *logits)
{
    logits_body(s, layer, logits, 1);
    _mm256_zeroupper();
}
#endif

/* The plain path instead of the kernels (source_force_plain). */
static int force_plain;

void source_force_plain(int on)
{
    force_plain = on;
}

static void synthetic_logits(const source_t *s, int layer, double *logits)
{
    if (force_plain)
        logits_plain(s, layer, logits);
#if SOURCE_X86
    else if (isa_best() == ISA_AVX512)
        logits_v16(s, layer, logits);
#endif
    else
        logits_v8(s, layer, logits);
}

void source_logits(source_t *s, int layer, double *logits)
{
    const size_t E = (size_t)s->experts;
    switch (s->kind) {
    case SOURCE_SYNTHETIC:
        assert(layer >= 0 && layer < s->layers); /* a caller's bug, not an input */
        synthetic_logits(s, layer, logits);
        break;
    case SOURCE_POPULARITY: {
        /* Gumbel(0, 1) = -log(-log U), U in (0, 1): gsl_rng_uniform_pos
         * never returns 0, and U < 1, so both logs are finite. */
        assert(layer >= 0 && layer < s->layers);
        const double *lw = s->logw + (size_t)layer * E;
        for (size_t t = 0; t < (size_t)s->tokens; t++)
            for (size_t i = 0; i < E; i++)
                logits[t * E + i] = lw[i] - log(-log(gsl_rng_uniform_pos(s->gumbel)));
        break;
    }
    case SOURCE_FIXED:
        /* every layer sees the same table: layer is unused by design */
        for (size_t t = 0; t < (size_t)s->tokens; t++)
            memcpy(logits + t * E, s->table + (t % (size_t)s->rows) * E,
                   E * sizeof(*logits));
        break;
    case SOURCE_TRACE: /* never built (source_new refuses it) */
    case SOURCE_KIND_COUNT:
        break;
    }
}

/* ---- names ---- */

static const char *const kind_names[SOURCE_KIND_COUNT] = {"synthetic", "fixed", "popularity", "trace"};

const char *source_kind_name(source_kind v)
{
    return enum_name(kind_names, SOURCE_KIND_COUNT, (int)v);
}

int source_kind_parse(const char *s, source_kind *out)
{
    int v = enum_find(kind_names, SOURCE_KIND_COUNT, s);
    if (v < 0)
        return -1;
    *out = (source_kind)v;
    return 0;
}

static const char *const dist_names[SOURCE_DIST_COUNT] = {"uniform", "zipf", "hot", "lognormal"};

const char *source_dist_name(source_dist v)
{
    return enum_name(dist_names, SOURCE_DIST_COUNT, (int)v);
}

int source_dist_parse(const char *s, source_dist *out)
{
    int v = enum_find(dist_names, SOURCE_DIST_COUNT, s);
    if (v < 0)
        return -1;
    *out = (source_dist)v;
    return 0;
}
