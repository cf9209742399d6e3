/*
 * bench_route.c - speed of the routing path: source logits, gate, capacity.
 *
 * One token-layer is one token through one MoE layer: the synthetic source's
 * logits x = W_l h + b_l (latent_dim 32), the router's choice, and capacity
 * (drop, capacity factor 1.25, rank scope), exactly as play.c runs them, on
 * one core. The latent draws of a batch (source_begin_batch) are timed too,
 * spread over the batch's layers. Batches are 8 ranks x 4096 tokens; 32
 * MoE layers (Mixtral's count); one warm-up batch, then 5 timed one by one:
 * the figure is the fastest batch's rate (what the code does when the
 * machine leaves it alone), with the median beside it. Targets
 * (issue 3): >= 10 M token-layers/s for E = 8, top-2, and >= 2 M/s for
 * E = 256, top-8 with 8 groups and 4 groups kept. The routers' figures
 * beside the targets are for reading, not targets. Not a pass/fail test:
 * always exits 0.
 */
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "moesim/capacity.h"
#include "moesim/router.h"
#include "moesim/source.h"

enum { RANKS = 8, TPR = 4096, LAYERS = 32, BATCHES = 5 };

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Token-layers per second of the whole path for one router, the fastest
 * timed batch's and the median (*median); the first batch is a warm-up. */
static double route_rate(router_config rc, int dim, int with_probs, double *median)
{
    const int T = RANKS * TPR, E = rc.experts, S = router_slots(&rc);
    source_config sc = {.kind = SOURCE_SYNTHETIC, .layers = LAYERS, .experts = E,
                        .latent_dim = dim, .topics = 8, .seq_len = 4096, .skew = 1.0,
                        .layer_corr = 0.5, .topic_std = 1.0};
    capacity_config cc = {.factor = 1.25, .scope = CAPACITY_SCOPE_RANK,
                          .overflow = CAPACITY_DROP, .priority = CAPACITY_ORDER};
    gsl_rng *init = gsl_rng_alloc(gsl_rng_mt19937), *tok = gsl_rng_alloc(gsl_rng_mt19937),
            *noise = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(init, 1);
    gsl_rng_set(tok, 2);
    gsl_rng_set(noise, 3);
    err_t e = ERR_INIT;
    source_t *src = source_new(&sc, init, &e);
    double *logits = malloc(sizeof(double) * (size_t)T * (size_t)E);
    int32_t *choice = malloc(sizeof(int32_t) * (size_t)T * (size_t)S);
    double *bias = calloc((size_t)E, sizeof(double));
    double *ps = with_probs ? calloc((size_t)E, sizeof(double)) : NULL;
    capacity_counts counts;
    capacity_counts_init(&counts, E);
    router_state st = {.bias = bias, .noise = noise, .ec_capacity = TPR * rc.top_k / E};

    double rates[BATCHES];
    for (int b = 0; b < BATCHES + 1; b++) {
        const double t0 = seconds_now();
        source_begin_batch(src, T, tok);
        for (int l = 0; l < LAYERS; l++) {
            source_logits(src, l, logits);
            if (router_route(&rc, &st, logits, T, choice, NULL, ps, &e) < 0 ||
                capacity_apply(&cc, E, rc.top_k, RANKS, TPR, choice, NULL, NULL, &counts,
                               &e) < 0) {
                fprintf(stderr, "bench_route: %s\n", e.msg);
                exit(1);
            }
            if (rc.kind == ROUTER_SIGMOID_BIAS)
                router_update_bias(&rc, bias, counts.wanted);
        }
        if (b > 0)
            rates[b - 1] = (double)T * LAYERS / (seconds_now() - t0);
    }
    qsort(rates, BATCHES, sizeof(*rates), cmp_double);
    const double rate = rates[BATCHES - 1];
    *median = rates[BATCHES / 2];
    capacity_counts_fini(&counts);
    free(logits);
    free(choice);
    free(bias);
    free(ps);
    source_free(src);
    gsl_rng_free(init);
    gsl_rng_free(tok);
    gsl_rng_free(noise);
    return rate;
}

/* Two figures per case: choices only (what the targets measure), and with
 * the router's probability sums for the auxiliary loss, which play.c asks
 * for on every layer and which cost one exponential per expert and token. */
static void line(const char *what, router_config rc, double target)
{
    double m, mp;
    const double r = route_rate(rc, 32, 0, &m), rp = route_rate(rc, 32, 1, &mp);
    printf("routing %s (synthetic, latent_dim 32): %.2f M token-layers/s", what, r / 1e6);
    if (target > 0)
        printf(" (target >= %g)", target);
    printf(", median %.2f; with aux-loss probabilities %.2f M/s, median %.2f\n", m / 1e6,
           rp / 1e6, mp / 1e6);
}

static const char *isa_label(isa_t isa)
{
    return isa == ISA_AVX512 ? "AVX-512" : isa == ISA_AVX2 ? "AVX2" : "baseline";
}

int main(void)
{
    printf("routing kernels: %s (the widest this CPU runs)\n", isa_label(isa_best()));
    line("E=8 k=2", (router_config){.kind = ROUTER_SOFTMAX_TOPK, .experts = 8, .top_k = 2},
         10);
    line("E=256 k=8 groups 8 top-4", (router_config){.kind = ROUTER_SOFTMAX_TOPK,
                                                     .experts = 256, .top_k = 8,
                                                     .groups = 8, .topk_groups = 4},
         2);
    line("E=256 k=8 ungrouped", (router_config){.kind = ROUTER_SOFTMAX_TOPK, .experts = 256,
                                               .top_k = 8},
         0);
    line("E=256 k=8 sigmoid_bias groups 8 top-4",
         (router_config){.kind = ROUTER_SIGMOID_BIAS, .experts = 256, .top_k = 8,
                         .normalize = true, .groups = 8, .topk_groups = 4,
                         .bias_update_speed = 0.001},
         0);
    line("E=64 k=2 topk_softmax", (router_config){.kind = ROUTER_TOPK_SOFTMAX, .experts = 64,
                                                 .top_k = 2},
         0);
    /* the targeted case again on AVX2, what CPUs without AVX-512 run */
    if (isa_best() == ISA_AVX512 && isa_force(ISA_AVX2) == 0) {
        line("E=256 k=8 groups 8 top-4, AVX2 kernels",
             (router_config){.kind = ROUTER_SOFTMAX_TOPK, .experts = 256, .top_k = 8,
                             .groups = 8, .topk_groups = 4},
             0);
        isa_force(-1);
    }
    return 0;
}
