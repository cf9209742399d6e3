/*
 * bench_train.c - wall time of training steps on the path `moesim run`
 * takes (scenario load, play_new, play_run: routing, the training schedule
 * on the executor, the network model), for the cases:
 *
 *   DeepSeek-V3 on its 2,048-GPU layout         target: <= 10 s a step
 *   (scenarios/deepseek-v3-train-h800x2048.cfg),
 *   force-balanced
 *   the same with the real router, one routed   target: <= 60 s a step
 *   micro-batch (route_sample 1), and with one
 *   dispatch group routed per stage
 *   (route_groups 1)
 *   Qwen3-30B-A3B, 16 GPUs                      (a figure, no target)
 *   (scenarios/qwen3-30b-a3b-train-h100x16.cfg)
 *
 * The 2,048-GPU cases take minutes on a small machine, so they run only
 * with BENCH_SCALE=1. Figures: seconds per step of play_run (set-up
 * printed apart) and the process's peak resident memory (getrusage; cases
 * run smallest first). Not a pass/fail test: always exits 0.
 */
#include <stdlib.h>

#include "bench.h"

int main(void)
{
    const char *const quiet[] = {"output.progress=false"};
    printf("training steps\n");
    bench_case("Qwen3-30B-A3B, 16 GPUs, force-balanced",
               "scenarios/qwen3-30b-a3b-train-h100x16.cfg", quiet, 1, "step", 0);
    const char *scale = getenv("BENCH_SCALE");
    if (!scale || strcmp(scale, "1") != 0) {
        printf("DeepSeek-V3, 2,048 GPUs: skipped (BENCH_SCALE=1 make bench runs it, minutes)\n");
        return 0;
    }
    const char *const fb[] = {"output.progress=false", "model.router.force_balance=true"};
    bench_case("DeepSeek-V3, 2,048 GPUs, force-balanced",
               "scenarios/deepseek-v3-train-h800x2048.cfg", fb, 2, "step", 10);
    const char *const real[] = {"output.progress=false", "training.route_sample=1"};
    bench_case("DeepSeek-V3, 2,048 GPUs, real routing, route_sample 1",
               "scenarios/deepseek-v3-train-h800x2048.cfg", real, 2, "step", 60);
    const char *const one[] = {"output.progress=false", "training.route_sample=1",
                               "training.route_groups=1"};
    bench_case("  the same, one dispatch group routed per stage",
               "scenarios/deepseek-v3-train-h800x2048.cfg", one, 3, "step", 60);
    return 0;
}
