/*
 * router.c - gating: one layer's router logits to each token's experts.
 *
 * The kinds, with their sources (formulas in docs/routing.md):
 *   softmax_topk  GShard (Lepikhin et al. 2020), Switch (Fedus et al. 2022,
 *                 its k = 1): p = softmax(x) over all E, the k largest p are
 *                 the token's experts, weights p (renormalised over the k if
 *                 `normalize`, as "norm_topk_prob" routers do).
 *   topk_softmax  Mixtral (Jiang et al. 2024, transformers' MixtralSparseMoe
 *                 Block): the k largest logits, weights softmax over those k.
 *   sigmoid_bias  DeepSeek-V3 (Technical Report §2.1.2; inference/model.py,
 *                 class Gate): s = sigmoid(x); the selection runs on s + b,
 *                 where b is a per-expert bias used for selection only; the
 *                 weights are the unbiased s of the chosen, normalised. After
 *                 each batch b_i += gamma * sign(mean load - load_i) (Wang et
 *                 al. 2024, auxiliary-loss-free balancing), gamma = 0.001.
 *   noisy_topk    Shazeer et al. 2017: H = x + noise_std * N(0, 1), the k
 *                 largest H, weights softmax over those k. The paper learns the
 *                 noise scale per expert (softplus(x W_noise)); a constant
 *                 std is the trained gate's typical scale, and one knob.
 *   expert_choice Zhou et al. 2022: p = softmax(x) per token; every expert
 *                 takes the C tokens with the highest p for it. A token may get
 *                 0..E experts; those with none are counted.
 *   hash          Roller et al. 2021 (Hash Layers): experts from a fixed hash
 *                 of the token's id, the same in every layer; weights 1/k.
 *
 * Group-limited routing (DeepSeek-V2 §2.1.3 device-limited, V3 node-limited;
 * the V3 gate): the E experts form `groups` contiguous groups; a token scores
 * each group by the sum of its two largest affinities there (softmax
 * probabilities for the softmax families, biased sigmoid scores for
 * sigmoid_bias, exactly as the V3 gate does), keeps the topk_groups best, and
 * takes its top k among their experts only.
 *
 * Invariants every kind keeps, and that capacity.c and reroute rely on:
 *   - a token's choices are distinct experts, written best first;
 *   - ties are broken by the lower expert index (lower group index for groups,
 *     lower token index for expert_choice), so equal scores route the same way
 *     on every machine (no dependence on sort stability);
 *   - nothing is allocated per token.
 * Softmax is monotonic, so the selection runs on the raw logits and the
 * exponentials are only computed when someone wants a probability (weights,
 * prob_sum) or a group score.
 */
#include "moesim/router.h"

#include "moesim/fmath.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* SSE2 is part of x86-64 itself: no dispatch, no flag; other targets take
 * the plain C paths, which give the same values. */
#if defined(__x86_64__) && defined(__SSE2__) && (defined(__GNUC__) || defined(__clang__))
#include <emmintrin.h>
#define ROUTER_SSE2 1
#else
#define ROUTER_SSE2 0
#endif
/* AVX-512 (F and VL) paths for the candidate steps, picked at run time
 * (base.h: isa_best); same results as the paths above. */
#if MOESIM_X86
#include <immintrin.h>
#define ROUTER_AVX512 1
#else
#define ROUTER_AVX512 0
#endif

/* Scratch for one token's row lives on the stack up to this many experts
 * (DeepSeek-V3 has 256); wider routers take one heap row per call. */
#define ROUTER_STACK_EXPERTS 512

int router_check(const router_config *cfg, err_t *e)
{
    if ((unsigned)cfg->kind > (unsigned)ROUTER_HASH)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.kind",
                       "unknown router kind %d; allowed: softmax_topk, topk_softmax, "
                       "sigmoid_bias, noisy_topk, expert_choice, hash", (int)cfg->kind);
    if (cfg->experts < 1)
        return err_set(e, ERR_INPUT, NULL, 0, "model.experts",
                       "%d experts; allowed: >= 1", cfg->experts);
    if (cfg->top_k < 1 || cfg->top_k > cfg->experts)
        return err_set(e, ERR_INPUT, NULL, 0, "model.top_k",
                       "top_k %d; allowed: 1 to model.experts (%d)", cfg->top_k,
                       cfg->experts);
    /* groups 0 is a zeroed config written before groups existed: off */
    int g = cfg->groups > 0 ? cfg->groups : 1, tg = cfg->topk_groups > 0 ? cfg->topk_groups : 1;
    if (g > cfg->experts || cfg->experts % g != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.groups",
                       "%d groups do not divide model.experts (%d); allowed: a divisor of "
                       "model.experts", g, cfg->experts);
    if (tg > g)
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.topk_groups",
                       "%d is more than model.router.groups (%d); allowed: 1 to %d", tg, g, g);
    if (g > 1 && (cfg->kind == ROUTER_EXPERT_CHOICE || cfg->kind == ROUTER_HASH))
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.groups",
                       "%d groups with router kind \"%s\"; allowed: 1 (group-limited routing "
                       "applies to softmax_topk, topk_softmax, sigmoid_bias, noisy_topk)", g,
                       router_kind_name(cfg->kind));
    if (g > 1 && cfg->top_k > tg * (cfg->experts / g))
        return err_set(e, ERR_INPUT, NULL, 0, "model.top_k",
                       "top_k %d is more than the %d experts of %d groups; allowed: at most "
                       "model.router.topk_groups x model.experts / model.router.groups",
                       cfg->top_k, tg * (cfg->experts / g), tg);
    if (!(cfg->bias_update_speed >= 0) || !isfinite(cfg->bias_update_speed))
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.bias_update_speed",
                       "%g; allowed: a number >= 0", cfg->bias_update_speed);
    if (!(cfg->noise_std >= 0) || !isfinite(cfg->noise_std))
        return err_set(e, ERR_INPUT, NULL, 0, "model.router.noise_std",
                       "%g; allowed: a number >= 0", cfg->noise_std);
    return 0;
}

int router_slots(const router_config *cfg)
{
    return cfg->kind == ROUTER_EXPERT_CHOICE ? cfg->experts : cfg->top_k;
}

/*
 * Inserts (v, i) into a k-array kept in descending order holding *n entries.
 * Callers scan experts in increasing index and an equal value never passes
 * one already held: that is the lower-index tie-break. k is small (1 to 8 in
 * every published model), so this beats any heap or sort: one comparison
 * against the current k-th value per expert, a shift of at most k entries on
 * the rare insert.
 */
static inline void topk_insert(double v, int32_t i, int *n, int k, int32_t *idx, double *val)
{
    if (*n == k && !(v > val[k - 1]))
        return; /* the common case once the array is full */
    int pos = *n < k ? *n : k - 1;
    while (pos > 0 && v > val[pos - 1]) {
        val[pos] = val[pos - 1];
        idx[pos] = idx[pos - 1];
        pos--;
    }
    val[pos] = v;
    idx[pos] = i;
    if (*n < k)
        (*n)++;
}

/*
 * Continues a top-k selection (*n entries held) over x[lo..hi), ties to the
 * lower index. Until the array is full every entry goes in; after that an
 * entry must beat the k-th value, kept in a register (the compiler cannot
 * prove that val does not alias x, so val[k - 1] would be reloaded from
 * memory for every expert). Narrow rows (E = 8) use this scan; wide ones
 * first bound the k-th value from below and rank only what passes (topk_row,
 * topk_grouped), which measured about twice as fast at E = 256, k = 8.
 */
static void topk_scan(const double *x, int lo, int hi, int k, int *n, int32_t *idx,
                      double *val)
{
    int i = lo;
    for (; i < hi && *n < k; i++)
        topk_insert(x[i], (int32_t)i, n, k, idx, val);
    if (i == hi)
        return;
    double thr = val[k - 1];
    for (; i < hi; i++)
        if (x[i] > thr) {
            topk_insert(x[i], (int32_t)i, n, k, idx, val);
            thr = val[k - 1];
        }
}

/* Rank selection is used up to this many candidates; beyond, insertion. */
#define ROUTER_RANK_MAX 32

/*
 * The rank of v[i] among v[0..n) in the order "larger first, then lower
 * position": how many entries come before it. Positions are in increasing
 * expert (or group) index, so this is exactly the order topk_insert keeps,
 * and the ranks are 0..n-1, each once. Branch-free counting: n^2 compares
 * that pipeline, where an insertion sort mispredicts on most inserts.
 */
static inline int rank_of(const double *v, int n, int i)
{
    const double x = v[i];
    int r = 0;
    for (int j = 0; j < i; j++)
        r += v[j] >= x;
    for (int j = i + 1; j < n; j++)
        r += v[j] > x;
    return r;
}

#if ROUTER_AVX512
/* rank_of for every i < c <= 32 at once: the c values in four 8-lane
 * registers (padding -inf, which neither beats nor ties a later entry), each
 * v[i] compared with all of them into a 32-bit mask, "v[j] >= v[i]" kept for
 * j < i and "v[j] > v[i]" for j > i, the rank its population count. The
 * comparisons are ordered (false on NaN), as the scalar ones. */
__attribute__((target("avx512f,avx512vl,popcnt"))) static void
ranks_avx512(const double *v, int c, int32_t *slot)
{
    double pad[ROUTER_RANK_MAX];
    for (int j = 0; j < ROUTER_RANK_MAX; j++)
        pad[j] = j < c ? v[j] : -INFINITY;
    const __m512d v0 = _mm512_loadu_pd(pad), v1 = _mm512_loadu_pd(pad + 8);
    const __m512d v2 = _mm512_loadu_pd(pad + 16), v3 = _mm512_loadu_pd(pad + 24);
    for (int i = 0; i < c; i++) {
        const __m512d x = _mm512_set1_pd(v[i]);
        const uint32_t ge = (uint32_t)_mm512_cmp_pd_mask(v0, x, _CMP_GE_OQ) |
                            (uint32_t)_mm512_cmp_pd_mask(v1, x, _CMP_GE_OQ) << 8 |
                            (uint32_t)_mm512_cmp_pd_mask(v2, x, _CMP_GE_OQ) << 16 |
                            (uint32_t)_mm512_cmp_pd_mask(v3, x, _CMP_GE_OQ) << 24;
        const uint32_t gt = (uint32_t)_mm512_cmp_pd_mask(v0, x, _CMP_GT_OQ) |
                            (uint32_t)_mm512_cmp_pd_mask(v1, x, _CMP_GT_OQ) << 8 |
                            (uint32_t)_mm512_cmp_pd_mask(v2, x, _CMP_GT_OQ) << 16 |
                            (uint32_t)_mm512_cmp_pd_mask(v3, x, _CMP_GT_OQ) << 24;
        const uint32_t below = (UINT32_C(1) << i) - 1; /* i < 32 */
        slot[__builtin_popcount((ge & below) | (gt & ~below))] = (int32_t)i;
    }
    _mm256_zeroupper();
}
#endif

/* Top k (k <= c) of c candidates, values cv and expert indices ci, listed in
 * increasing expert index: best first, ties to the lower index, exactly as
 * topk_scan over the same entries. */
static void topk_of(const double *cv, const int32_t *ci, int c, int k, int32_t *idx,
                    double *val)
{
    if (c > ROUTER_RANK_MAX) { /* many ties at the floor: insertion is O(c k) */
        int n = 0;
        for (int j = 0; j < c; j++)
            topk_insert(cv[j], ci[j], &n, k, idx, val);
        return;
    }
    int32_t slot[ROUTER_RANK_MAX];
#if ROUTER_AVX512
    if (isa_best() == ISA_AVX512)
        ranks_avx512(cv, c, slot);
    else
#endif
        for (int i = 0; i < c; i++)
            slot[rank_of(cv, c, i)] = (int32_t)i;
    for (int r = 0; r < k; r++) {
        idx[r] = ci[slot[r]];
        val[r] = cv[slot[r]];
    }
}

static inline int ctz64(uint64_t x)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_ctzll(x);
#else
    int n = 0;
    for (; !(x & 1); x >>= 1)
        n++;
    return n;
#endif
}

/*
 * Appends to (cv, ci), from position c on, the entries of x[lo..hi) that are
 * >= floor, in increasing index; returns the new count. With floor at most
 * the k-th largest value of everything the selection covers, this keeps
 * every entry the top k can hold: one below floor has k entries strictly
 * above it. The compares run two at a time into a bit mask (SSE2 on x86-64),
 * and only the set bits are visited, so the common rejection costs no branch.
 */
#if ROUTER_AVX512
/* collect_floor eight at a time: the compare gives an 8-bit mask, and the
 * passing values and their indices are packed in increasing order
 * (compress) and stored whole; the lanes past the new count are scratch the
 * next store overwrites (cv and ci have room for 8 more than E). */
__attribute__((target("avx512f,avx512vl,popcnt"))) static int
collect_floor_avx512(const double *x, int lo, int hi, double floor, int c, double *cv,
                     int32_t *ci)
{
    const __m512d f = _mm512_set1_pd(floor);
    __m256i idx =
        _mm256_add_epi32(_mm256_set1_epi32(lo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int i = lo;
    for (; i + 8 <= hi; i += 8) {
        const __m512d v = _mm512_loadu_pd(x + i);
        const __mmask8 m = _mm512_cmp_pd_mask(v, f, _CMP_GE_OQ);
        _mm512_storeu_pd(cv + c, _mm512_maskz_compress_pd(m, v));
        _mm256_storeu_si256((__m256i *)(void *)(ci + c), _mm256_maskz_compress_epi32(m, idx));
        c += __builtin_popcount(m);
        idx = _mm256_add_epi32(idx, _mm256_set1_epi32(8));
    }
    for (; i < hi; i++)
        if (x[i] >= floor) {
            cv[c] = x[i];
            ci[c++] = (int32_t)i;
        }
    _mm256_zeroupper();
    return c;
}
#endif

static int collect_floor(const double *x, int lo, int hi, double floor, int c, double *cv,
                         int32_t *ci)
{
#if ROUTER_AVX512
    if (isa_best() == ISA_AVX512)
        return collect_floor_avx512(x, lo, hi, floor, c, cv, ci);
#endif
    for (int b = lo; b < hi; b += 64) {
        const int e = hi - b < 64 ? hi : b + 64;
        uint64_t pass = 0; /* bit i: x[b + i] >= floor */
        int i = b;
#if ROUTER_SSE2
        const __m128d f = _mm_set1_pd(floor);
        for (; i + 4 <= e; i += 4) {
            const int m0 = _mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(x + i), f));
            const int m1 = _mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(x + i + 2), f));
            pass |= (uint64_t)(m0 | m1 << 2) << (i - b);
        }
#endif
        for (; i < e; i++)
            pass |= (uint64_t)(x[i] >= floor) << (i - b);
        while (pass) {
            const int32_t j = (int32_t)(b + ctz64(pass));
            pass &= pass - 1;
            cv[c] = x[j];
            ci[c++] = j;
        }
    }
    return c;
}

/* The largest of x[0..n), n >= 1, on four independent chains so that the
 * comparisons overlap (one chain waits for each compare in turn); a maximum
 * is exact whatever the order it is taken in. */
static double max_lanes(const double *x, int n)
{
    if (n < 8) {
        double m = x[0];
        for (int i = 1; i < n; i++)
            m = x[i] > m ? x[i] : m;
        return m;
    }
#if ROUTER_SSE2
    __m128d a = _mm_loadu_pd(x), b = _mm_loadu_pd(x + 2);
    int i = 4;
    for (; i + 4 <= n; i += 4) {
        a = _mm_max_pd(a, _mm_loadu_pd(x + i));
        b = _mm_max_pd(b, _mm_loadu_pd(x + i + 2));
    }
    double l[4];
    _mm_storeu_pd(l, a);
    _mm_storeu_pd(l + 2, b);
    double m0 = l[0], m1 = l[1], m2 = l[2], m3 = l[3];
#else
    double m0 = x[0], m1 = x[1], m2 = x[2], m3 = x[3];
    int i = 4;
    for (; i + 4 <= n; i += 4) {
        m0 = x[i] > m0 ? x[i] : m0;
        m1 = x[i + 1] > m1 ? x[i + 1] : m1;
        m2 = x[i + 2] > m2 ? x[i + 2] : m2;
        m3 = x[i + 3] > m3 ? x[i + 3] : m3;
    }
#endif
    for (; i < n; i++)
        m0 = x[i] > m0 ? x[i] : m0;
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    return m2 > m0 ? m2 : m0;
}

/*
 * Top k of a whole row. Wide rows (E >= 4k and E >= 32) first bound the k-th
 * largest from below: the row cut into k slices has k slice maxima at k
 * distinct positions, so the k-th largest value is at least their minimum.
 * Only entries at or above that floor are kept (collect_floor) and ranked
 * (topk_of): at E = 256, k = 8 about 20 pass, and one pass of maxima and
 * one of compares replace a scan whose threshold tests mispredict while the
 * top k still changes. Narrow rows keep the plain scan, where the bound would
 * cost more than it saves. cv, ci: E entries of scratch.
 */
static void topk_row(const double *x, int experts, int k, int32_t *idx, double *val,
                     double *cv, int32_t *ci)
{
    int n = 0;
    if (experts < 32 || experts < 4 * k) {
        topk_scan(x, 0, experts, k, &n, idx, val);
        return;
    }
    const int slice = experts / k;
    double floor = INFINITY;
    for (int j = 0; j < k; j++) {
        const int lo = j * slice, hi = j + 1 < k ? lo + slice : experts;
        const double m = max_lanes(x + lo, hi - lo);
        floor = m < floor ? m : floor;
    }
    topk_of(cv, ci, collect_floor(x, 0, experts, floor, 0, cv, ci), k, idx, val);
}

/*
 * The two largest values of a group of `per` entries (v2 = -inf when per is
 * 1; with a repeated maximum v2 = v1). Four interleaved lanes, each a
 * branch-free running pair: the new second is the larger of the old second
 * and the smaller of (old first, x); then the lanes' pairs merge. Only the
 * values are needed (the group score), and those do not depend on the order
 * they are found in.
 */
static void group_top2(const double *x, int per, double *top1, double *top2)
{
    double v1 = x[0], v2 = -INFINITY;
    int i = 1;
    if (per >= 8 && per % 4 == 0) {
#if ROUTER_SSE2
        /* two lanes per register, two registers: (p, q) and (r, s) */
        __m128d pq1 = _mm_loadu_pd(x), rs1 = _mm_loadu_pd(x + 2);
        __m128d pq2 = _mm_set1_pd(-INFINITY), rs2 = pq2;
        for (i = 4; i < per; i += 4) {
            const __m128d ypq = _mm_loadu_pd(x + i), yrs = _mm_loadu_pd(x + i + 2);
            pq2 = _mm_max_pd(pq2, _mm_min_pd(pq1, ypq));
            rs2 = _mm_max_pd(rs2, _mm_min_pd(rs1, yrs));
            pq1 = _mm_max_pd(pq1, ypq);
            rs1 = _mm_max_pd(rs1, yrs);
        }
        /* lanes (p, r) and (q, s) pair up, then the two pairs: the larger
         * first wins, the second is the larger of the smaller first and the
         * seconds; all in registers, no branch */
        const __m128d m1 = _mm_max_pd(pq1, rs1);
        const __m128d m2 = _mm_max_pd(_mm_max_pd(pq2, rs2), _mm_min_pd(pq1, rs1));
        const __m128d h1 = _mm_unpackhi_pd(m1, m1), h2 = _mm_unpackhi_pd(m2, m2);
        const __m128d w2 = _mm_max_sd(_mm_max_sd(m2, h2), _mm_min_sd(m1, h1));
        *top1 = _mm_cvtsd_f64(_mm_max_sd(m1, h1));
        *top2 = _mm_cvtsd_f64(w2);
        return;
#else
        /* named lanes, not arrays: they stay in registers */
        double p1 = x[0], q1 = x[1], r1 = x[2], s1 = x[3];
        double p2 = -INFINITY, q2 = -INFINITY, r2 = -INFINITY, s2 = -INFINITY;
        for (i = 4; i < per; i += 4) {
            const double yp = x[i], yq = x[i + 1], yr = x[i + 2], ys = x[i + 3];
            const double lp = p1 < yp ? p1 : yp, lq = q1 < yq ? q1 : yq;
            const double lr = r1 < yr ? r1 : yr, ls = s1 < ys ? s1 : ys;
            p2 = lp > p2 ? lp : p2;
            q2 = lq > q2 ? lq : q2;
            r2 = lr > r2 ? lr : r2;
            s2 = ls > s2 ? ls : s2;
            p1 = yp > p1 ? yp : p1;
            q1 = yq > q1 ? yq : q1;
            r1 = yr > r1 ? yr : r1;
            s1 = ys > s1 ? ys : s1;
        }
        /* the top two of two pairs (a1 >= a2, b1 >= b2): the larger first,
         * then the larger of the smaller first and both seconds */
        double a1 = p1 > q1 ? p1 : q1, a2 = p1 > q1 ? q1 : p1;
        a2 = p2 > a2 ? p2 : a2;
        a2 = q2 > a2 ? q2 : a2;
        double b1 = r1 > s1 ? r1 : s1, b2 = r1 > s1 ? s1 : r1;
        b2 = r2 > b2 ? r2 : b2;
        b2 = s2 > b2 ? s2 : b2;
        v1 = a1 > b1 ? a1 : b1;
        v2 = a1 > b1 ? b1 : a1;
        v2 = a2 > v2 ? a2 : v2;
        v2 = b2 > v2 ? b2 : v2;
        *top1 = v1;
        *top2 = v2;
        return;
#endif
    }
    for (; i < per; i++) {
        const double lo = x[i] > v1 ? v1 : x[i];
        v2 = lo > v2 ? lo : v2;
        v1 = x[i] > v1 ? x[i] : v1;
    }
    *top1 = v1;
    *top2 = v2;
}

/*
 * Group-limited top-k. a: the row the selection runs on; group scores are the
 * sum of the two largest entries of the group, through exp(a - m) when
 * `softmax` (a softmax probability is exp(a - m) / Z with Z common to the
 * row, so comparing exp(a - m) sums compares probability sums; fm_exp, as
 * every exponential of the router), or on a itself (sigmoid scores). The
 * topk_groups best groups (ties to the lower group index) are listed in
 * increasing index and their experts scanned in
 * that order, so the expert tie-break stays "lower index wins". The two
 * largest entries of every chosen group are known by then and lie at
 * distinct positions, so the k-th largest of them is a floor under the k-th
 * largest of the chosen experts: only entries at or above it are ranked
 * (collect_floor, topk_of). Scratch: gscore (G), gval, tmp (2G), gidx (G), cv,
 * ci (E), tidx, tval (k).
 */
static void topk_grouped(const double *a, int E, int G, int kg, int k, int softmax,
                         int32_t *idx, double *val, double *gscore, int32_t *gidx,
                         double *gval, double *tmp, int32_t *tidx, double *tval, double *cv,
                         int32_t *ci)
{
    const int per = E / G;
    double m = -INFINITY; /* the row maximum: the largest group top-1 */
    for (int g = 0; g < G; g++) {
        group_top2(a + (size_t)g * (size_t)per, per, &gscore[g], &gval[g]);
        m = gscore[g] > m ? gscore[g] : m;
    }
    for (int g = 0; g < G; g++) {
        tmp[2 * g] = gscore[g]; /* the pairs, kept for the floor below */
        tmp[2 * g + 1] = gval[g];
    }
    if (softmax) /* all 2G exponentials in one call: eight lanes at a time */
        fm_exp_shifted(tmp, m, gval, 2 * (size_t)G);
    for (int g = 0; g < G; g++) {
        const double v1 = softmax ? gval[2 * g] : tmp[2 * g];
        const double v2 = softmax ? gval[2 * g + 1] : tmp[2 * g + 1];
        gscore[g] = v1 + (per > 1 ? v2 : 0.0);
    }
    int ng = 0; /* chosen groups, in increasing index */
    if (G <= ROUTER_RANK_MAX) {
        for (int g = 0; g < G; g++) { /* branch-free: the slot is written anyway */
            gidx[ng] = (int32_t)g;
            ng += rank_of(gscore, G, g) < kg;
        }
    } else {
        topk_scan(gscore, 0, G, kg, &ng, gidx, gval);
        for (int i = 1; i < kg; i++) { /* insertion sort by index */
            int32_t v = gidx[i];
            int j = i;
            for (; j > 0 && gidx[j - 1] > v; j--)
                gidx[j] = gidx[j - 1];
            gidx[j] = v;
        }
    }

    /* The floor: the k-th largest of the chosen groups' known entries (both
     * of a pair, or the maximum alone when a group has one expert). With
     * fewer known entries than k nothing is known to beat: no floor. */
    double floor = -INFINITY;
    const int known = per > 1 ? 2 : 1, nk = known * kg;
    if (nk >= k) {
        for (int j = 0; j < kg; j++) { /* pack; gidx[j] >= j, so no overwrite */
            tmp[known * j] = tmp[2 * gidx[j]];
            if (known == 2)
                tmp[2 * j + 1] = tmp[2 * gidx[j] + 1];
        }
        if (nk <= ROUTER_RANK_MAX) {
            for (int i = 0; i < nk; i++)
                floor = rank_of(tmp, nk, i) == k - 1 ? tmp[i] : floor;
        } else {
            int nt = 0;
            topk_scan(tmp, 0, nk, k, &nt, tidx, tval);
            floor = tval[k - 1];
        }
    }
    int c = 0;
    for (int j = 0; j < kg; j++)
        c = collect_floor(a, gidx[j] * per, gidx[j] * per + per, floor, c, cv, ci);
    topk_of(cv, ci, c, k, idx, val);
}

static double row_max(const double *x, int n)
{
    return max_lanes(x, n);
}

/* Scratch of one call: rows of E doubles and the group tables. ex holds a
 * token's exponentials or sigmoid affinities, sel its selection row when it
 * differs from the logits (noise, bias), gscore/gval (2E)/gidx the group
 * scores, the pairs' exponentials and the chosen groups, tmp (2E) the groups'
 * top pairs, tval/tidx a top k
 * of them, cv/ci the candidates of a floored selection (collect_floor). On
 * the stack up to ROUTER_STACK_EXPERTS; one heap block per call beyond,
 * never per token. */
typedef struct scratch {
    double *ex, *sel, *gscore, *gval, *tmp, *tval, *cv;
    int32_t *gidx, *tidx, *ci;
    double stack[9 * ROUTER_STACK_EXPERTS + 8]; /* cv, ci last: 8 more */
    int32_t stack_i[3 * ROUTER_STACK_EXPERTS + 8];
    double *heap;
    int32_t *heap_i;
} scratch;

static void scratch_init(scratch *s, int E)
{
    s->heap = NULL;
    s->heap_i = NULL;
    double *d = s->stack;
    int32_t *g = s->stack_i;
    if (E > ROUTER_STACK_EXPERTS) {
        d = s->heap = xcalloc(9 * (size_t)E + 8, sizeof(*d), "router scratch rows");
        g = s->heap_i = xcalloc(3 * (size_t)E + 8, sizeof(*g), "router group indices");
    }
    s->ex = d;
    s->sel = d + E;
    s->gscore = d + 2 * (size_t)E;
    s->gval = d + 3 * (size_t)E;
    s->tmp = d + 5 * (size_t)E;
    s->tval = d + 7 * (size_t)E;
    s->cv = d + 8 * (size_t)E;
    s->gidx = g;
    s->tidx = g + E;
    s->ci = g + 2 * (size_t)E;
}

static void scratch_fini(scratch *s)
{
    free(s->heap);
    free(s->heap_i);
}

/*
 * The top-k families: softmax_topk, topk_softmax, noisy_topk, sigmoid_bias.
 * Per token: the selection row (logits, noisy logits, or biased sigmoid
 * scores), the choice (plain or group-limited), then weights and probability
 * sums only when asked for.
 */
static void route_topk(const router_config *cfg, router_state *st, const double *logits,
                       int tokens, int32_t *choice, double *weight, double *prob_sum,
                       scratch *sc)
{
    const int E = cfg->experts, k = cfg->top_k;
    const int G = cfg->groups > 1 ? cfg->groups : 1;
    const int kg = cfg->topk_groups > 1 ? cfg->topk_groups : 1;
    const router_kind kind = cfg->kind;
    const int sigmoid = kind == ROUTER_SIGMOID_BIAS;
    const double *bias = st ? st->bias : NULL;
    double top[64], *topv = top; /* the k best selection values of the token */
    if (k > 64)
        topv = xmalloc((size_t)k * sizeof(*topv), "router top-k values");

    for (int t = 0; t < tokens; t++) {
        const double *x = logits + (size_t)t * (size_t)E;
        int32_t *c = choice + (size_t)t * (size_t)k;
        const double *a = x; /* the row the selection runs on */

        /* The selection row: the logits themselves for the softmax families
         * (softmax is monotonic), noisy logits, or biased affinities. */
        if (kind == ROUTER_NOISY_TOPK && cfg->noise_std > 0) {
            for (int i = 0; i < E; i++) /* one draw per expert, index order */
                sc->sel[i] = x[i] + gsl_ran_gaussian_ziggurat(st->noise, cfg->noise_std);
            a = sc->sel;
        } else if (sigmoid) {
            fm_sigmoid(x, sc->ex, (size_t)E); /* the affinities s */
            if (bias)
                fm_add(sc->sel, sc->ex, bias, (size_t)E);
            else
                for (int i = 0; i < E; i++)
                    sc->sel[i] = sc->ex[i] + 0.0; /* as with a zero bias: -0 becomes +0 */
            a = sc->sel;
        }

        /* The softmax families need the row maximum for stable exponentials
         * (group scores and probabilities); the selection itself does not. */
        if (G > 1)
            topk_grouped(a, E, G, kg, k, !sigmoid, c, topv, sc->gscore, sc->gidx, sc->gval,
                         sc->tmp, sc->tidx, sc->tval, sc->cv, sc->ci);
        else
            topk_row(a, E, k, c, topv, sc->cv, sc->ci);
        if (weight == NULL && prob_sum == NULL)
            continue; /* choices alone need no exponential */
        const double m = sigmoid ? 0.0 : row_max(a, E);

        double *w = weight ? weight + (size_t)t * (size_t)k : NULL;
        if (sigmoid) {
            /* weights: the unbiased s, normalised over the chosen (DeepSeek-V3
             * always normalises; normalize = false keeps raw s); P_i for the
             * aux loss: s normalised over all experts (V3's s'). */
            if (prob_sum) {
                fm_acc_div(prob_sum, sc->ex, fm_sum(sc->ex, (size_t)E), (size_t)E);
            }
            if (w) {
                double wsum = 0;
                for (int j = 0; j < k; j++)
                    wsum += w[j] = sc->ex[c[j]];
                if (cfg->normalize && wsum > 0)
                    for (int j = 0; j < k; j++)
                        w[j] /= wsum;
            }
            continue;
        }

        /* Stable softmax: subtracting the maximum keeps every exponent <= 0,
         * so nothing overflows and the largest term is 1. */
        const double inv = 1.0 / fm_exp_shifted(a, m, sc->ex, (size_t)E);
        if (prob_sum)
            fm_acc_mul(prob_sum, sc->ex, inv, (size_t)E);
        if (w) {
            double wsum = 0;
            for (int j = 0; j < k; j++)
                wsum += w[j] = sc->ex[c[j]] * inv;
            /* topk_softmax and noisy_topk: softmax over the k, which is the
             * full softmax renormalised over the k; softmax_topk only when
             * asked. wsum >= p of the best > 0: no division by zero. */
            if (kind != ROUTER_SOFTMAX_TOPK || cfg->normalize)
                for (int j = 0; j < k; j++)
                    w[j] /= wsum;
        }
    }
    if (topv != top)
        free(topv);
}

/* A token's candidate in one expert's column: its probability and index. */
typedef struct ec_item {
    double p;
    int32_t t;
} ec_item;

/* Higher probability first; equal ones by lower token index: a total order,
 * so qsort's instability cannot show. */
static int ec_cmp(const void *pa, const void *pb)
{
    const ec_item *a = pa, *b = pb;
    if (a->p != b->p)
        return a->p > b->p ? -1 : 1;
    return (a->t > b->t) - (a->t < b->t);
}

/*
 * Expert choice: p = softmax(x) per token (a T x E table), then every expert
 * in index order takes its C best tokens; a token's slots fill in expert
 * index order. Costs one T x E table and one column of T items per call.
 */
static void route_expert_choice(const router_config *cfg, router_state *st,
                                const double *logits, int tokens, int32_t *choice,
                                double *weight, double *prob_sum)
{
    const size_t E = (size_t)cfg->experts, T = (size_t)tokens;
    double *p = xcalloc(T * E, sizeof(*p), "expert-choice probabilities");
    ec_item *col = xcalloc(T, sizeof(*col), "expert-choice column");
    int32_t *n = xcalloc(T, sizeof(*n), "expert-choice slots used");

    for (size_t t = 0; t < T; t++) {
        const double *x = logits + t * E;
        double *pt = p + t * E, m = row_max(x, (int)E);
        const double sum = fm_exp_shifted(x, m, pt, E);
        for (size_t i = 0; i < E; i++) {
            pt[i] /= sum;
            if (prob_sum)
                prob_sum[i] += pt[i];
        }
    }
    for (size_t a = 0; a < T * E; a++) {
        choice[a] = -1;
        if (weight)
            weight[a] = 0;
    }

    /* An expert cannot take more tokens than there are; C > T happens with
     * tiny scopes and large factors and simply means "every token". */
    const size_t C = st->ec_capacity < (int64_t)T ? (size_t)st->ec_capacity : T;
    /* Experts choose one after another, in index order, each independently
     * of the others' picks (Zhou et al.: a token may be picked by several
     * experts or by none). A full sort of the column is T log T per expert;
     * expert choice is not on the benchmarked path, and the total order of
     * ec_cmp keeps the result independent of the sort. */
    for (size_t i = 0; i < E && C > 0; i++) {
        for (size_t t = 0; t < T; t++)
            col[t] = (ec_item){p[t * E + i], (int32_t)t};
        qsort(col, T, sizeof(*col), ec_cmp);
        for (size_t j = 0; j < C; j++) {
            size_t t = (size_t)col[j].t, s = t * E + (size_t)n[t]++;
            choice[s] = (int32_t)i;
            if (weight)
                weight[s] = col[j].p;
        }
    }
    st->ec_unrouted = 0;
    for (size_t t = 0; t < T; t++)
        st->ec_unrouted += n[t] == 0;
    free(p);
    free(col);
    free(n);
}

/* splitmix64 (Steele, Lea, Flood 2014): a fixed, well-mixed hash of an id. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Hash routing: the j-th expert of token id u is the first value of the
 * chain mix64(u), mix64(mix64(u)), ... mod E not already taken. k <= E, so
 * the chain finds k distinct experts. */
static void route_hash(const router_config *cfg, const router_state *st, int tokens,
                       int32_t *choice, double *weight, double *prob_sum)
{
    const int E = cfg->experts, k = cfg->top_k;
    const int64_t base = st ? st->first_token : 0;
    /* The id is the token's position in the run (first_token + t): the
     * simulator has no vocabulary, and a position hash is as balanced as a
     * vocabulary hash over a long run, without the Zipf skew of real token
     * frequencies. */
    for (int t = 0; t < tokens; t++) {
        int32_t *c = choice + (size_t)t * (size_t)k;
        uint64_t h = (uint64_t)(base + t);
        for (int j = 0; j < k; j++) {
            int32_t x;
            int dup;
            do {
                h = mix64(h);
                x = (int32_t)(h % (uint64_t)E);
                dup = 0;
                for (int i = 0; i < j; i++)
                    dup |= c[i] == x;
            } while (dup);
            c[j] = x;
            if (weight)
                weight[(size_t)t * (size_t)k + (size_t)j] = 1.0 / k;
            if (prob_sum) /* the hash's "probability" is its choice, 1/k each */
                prob_sum[x] += 1.0 / k;
        }
    }
}

int router_route(const router_config *cfg, router_state *st, const double *logits, int tokens,
                 int32_t *choice, double *weight, double *prob_sum, err_t *e)
{
    if (router_check(cfg, e) != 0)
        return -1;
    /* State a kind needs must come with the call: these are the caller's
     * bugs rather than bad input, hence ERR_RUN. */
    if (cfg->kind == ROUTER_NOISY_TOPK && cfg->noise_std > 0 && (!st || !st->noise))
        return err_set(e, ERR_RUN, NULL, 0, "model.router.noise_std",
                       "noisy_topk needs a noise stream; none was given");
    if (cfg->kind == ROUTER_EXPERT_CHOICE && (!st || st->ec_capacity < 0))
        return err_set(e, ERR_RUN, NULL, 0, "model.router.capacity_factor",
                       "expert_choice needs a capacity per expert (>= 0)");
    if (tokens <= 0)
        return 0;

    switch (cfg->kind) {
    case ROUTER_EXPERT_CHOICE:
        route_expert_choice(cfg, st, logits, tokens, choice, weight, prob_sum);
        return 0;
    case ROUTER_HASH:
        route_hash(cfg, st, tokens, choice, weight, prob_sum);
        return 0;
    default: {
        scratch sc;
        scratch_init(&sc, cfg->experts);
        route_topk(cfg, st, logits, tokens, choice, weight, prob_sum, &sc);
        scratch_fini(&sc);
        return 0;
    }
    }
}

void router_update_bias(const router_config *cfg, double *bias, const int64_t *counts)
{
    /* sign(mean - load_i): an overloaded expert's bias falls by gamma, an
     * underloaded one's rises; one exactly at the mean stays. Comparing
     * load_i * E with the total keeps the test exact in integers. */
    const int E = cfg->experts;
    int64_t total = 0;
    for (int i = 0; i < E; i++)
        total += counts[i];
    for (int i = 0; i < E; i++) {
        int64_t scaled = counts[i] * (int64_t)E;
        if (scaled < total)
            bias[i] += cfg->bias_update_speed;
        else if (scaled > total)
            bias[i] -= cfg->bias_update_speed;
    }
}

double router_aux_loss(int experts, const int64_t *counts, const double *prob_sum,
                       int64_t tokens)
{
    /* f_i and P_i each sum to 1, so E * sum f_i P_i is 1 when both are uniform
     * and E when all load and all probability sit on one expert. An empty
     * batch has no imbalance to penalise: 0 rather than a division by zero. */
    int64_t total = 0;
    for (int i = 0; i < experts; i++)
        total += counts[i];
    if (total <= 0 || tokens <= 0)
        return 0.0;
    double acc = 0;
    for (int i = 0; i < experts; i++)
        acc += ((double)counts[i] / (double)total) * (prob_sum[i] / (double)tokens);
    return (double)experts * acc;
}

/* ---- names ---- */

static const char *const router_kind_names[ROUTER_KIND_COUNT] = {"softmax_topk", "topk_softmax", "sigmoid_bias", "noisy_topk", "expert_choice", "hash"};

const char *router_kind_name(router_kind v)
{
    return enum_name(router_kind_names, ROUTER_KIND_COUNT, (int)v);
}

int router_kind_parse(const char *s, router_kind *out)
{
    int v = enum_find(router_kind_names, ROUTER_KIND_COUNT, s);
    if (v < 0)
        return -1;
    *out = (router_kind)v;
    return 0;
}
