/*
 * bench_flow.c - speed of the flow-level network on a full all-to-all.
 *
 * Every GPU sends 1 MB to every other GPU at once on nodes of 8 GPUs
 * (NVSwitch 450 GB/s, one 50 GB/s NIC per GPU): G(G-1) flows, timed by the
 * flow process with max-min sharing, re-shared whenever a wave of flows ends
 * (the NVLink flows first, then the NIC flows). Figures are wall seconds on
 * one core for the whole collective, set-up of the topology excluded.
 * Targets (issue 4): 256 GPUs (65,280 flows) <= 0.5 s; 1,024 GPUs
 * (1,047,552 flows) <= 5 s. Then all-to-all-v's whose pair sizes are all
 * different (uniform in 0.5..1.5 MB, a fixed LCG), the worst case of the
 * flow process: every flow ends at its own instant, so it re-shares once
 * per flow, each re-share touching the fifth or so of the rates it changes
 * (docs/network.md). Targets (issue 15): 256 GPUs <= 5 s, 1,024 GPUs
 * <= 60 s; the 1,024-GPU line (over an hour as things stand) runs only
 * with BENCH_SCALE=1 in the environment. Not a pass/fail test: always
 * exits 0.
 */
#include "moesim/flows.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void run(int gpus, double target_s, int skewed)
{
    topo_config c = {.nodes = gpus / 8, .gpus_per_node = 8, .intra_bw_Bps = 450e9,
                     .intra_lat_ps = SIM_NS(3330), .inter_bw_Bps = 50e9,
                     .inter_lat_ps = SIM_NS(2800)};
    err_t e = ERR_INIT;
    topo_t *t = topo_new(&c, &e);
    size_t n = (size_t)gpus * (size_t)(gpus - 1);
    int *src = xcalloc(n, sizeof(*src), "bench sources");
    int *dst = xcalloc(n, sizeof(*dst), "bench destinations");
    double *bytes = xcalloc(n, sizeof(*bytes), "bench bytes");
    size_t k = 0;
    uint64_t lcg = 1;
    for (int s = 0; s < gpus; s++)
        for (int d = 0; d < gpus; d++)
            if (s != d) {
                src[k] = s;
                dst[k] = d;
                lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
                bytes[k++] = skewed ? 0.5e6 + 1e6 * (double)(lcg >> 11) / 9007199254740992.0
                                    : 1e6;
            }
    int off[2] = {0, (int)n};
    double t0 = seconds_now();
    sim_time_t sim = flows_time_phases(t, 0, 1, off, src, dst, bytes, NULL);
    double wall = seconds_now() - t0;
    char target[32] = "no target";
    snprintf(target, sizeof(target), target_s > 0 ? "target <= %.1f s" : "no target", target_s);
    if (skewed)
        printf("flow all-to-all-v %d GPUs (%zu flows, all sizes different): %.2f s (%s); "
               "simulated %.3f ms\n",
               gpus, n, wall, target, sim_time_to_s(sim) * 1e3);
    else
        printf("flow all-to-all %d GPUs (%zu flows): %.2f s (target <= %.1f s); "
               "simulated %.3f ms\n",
               gpus, n, wall, target_s, sim_time_to_s(sim) * 1e3);
    free(src);
    free(dst);
    free(bytes);
    topo_free(t);
}

int main(void)
{
    run(256, 0.5, 0);
    run(1024, 5.0, 0);
    run(64, 0, 1);
    run(256, 5.0, 1);
    if (getenv("BENCH_SCALE"))
        run(1024, 60.0, 1);
    return 0;
}
