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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/play.h"
#include "moesim/scenario.h"

#include "bench.h"

/* One case: file with `sets`, its steps (workload.batches). */
static void run_case(const char *name, const char *file, const char *const *sets, int nsets,
                     double target_s)
{
    scenario s;
    err_t e = ERR_INIT;
    memset(&s, 0, sizeof(s));
    double t0 = seconds_now();
    char buf[1400];
    if (scenario_load_file(file, sets, nsets, &s, &e) < 0) {
        err_format(&e, buf, sizeof(buf));
        printf("%-52s failed: %s\n", name, buf);
        scenario_fini(&s);
        return;
    }
    play_t *p = play_new(&s, &e);
    double t1 = seconds_now();
    int rc = p ? play_run(p, NULL, NULL, &e) : -1;
    double t2 = seconds_now();
    if (rc < 0) {
        err_format(&e, buf, sizeof(buf));
        printf("%-52s failed: %s\n", name, buf);
    } else if (target_s > 0) {
        printf("%-52s %7.2f s per step (target <= %.0f s), set-up %.2f s, peak %.2f GiB\n",
               name, (t2 - t1) / s.workload.batches, target_s, t1 - t0, peak_gib());
    } else {
        printf("%-52s %7.2f s per step, set-up %.2f s, peak %.2f GiB\n", name,
               (t2 - t1) / s.workload.batches, t1 - t0, peak_gib());
    }
    play_free(p);
    scenario_fini(&s);
}

int main(void)
{
    const char *const quiet[] = {"output.progress=false"};
    printf("training steps\n");
    run_case("Qwen3-30B-A3B, 16 GPUs, force-balanced", "scenarios/qwen3-30b-a3b-train-h100x16.cfg",
             quiet, 1, 0);
    const char *scale = getenv("BENCH_SCALE");
    if (!scale || strcmp(scale, "1") != 0) {
        printf("DeepSeek-V3, 2,048 GPUs: skipped (BENCH_SCALE=1 make bench runs it, minutes)\n");
        return 0;
    }
    const char *const fb[] = {"output.progress=false", "model.router.force_balance=true"};
    run_case("DeepSeek-V3, 2,048 GPUs, force-balanced", "scenarios/deepseek-v3-train-h800x2048.cfg",
             fb, 2, 10);
    const char *const real[] = {"output.progress=false", "training.route_sample=1"};
    run_case("DeepSeek-V3, 2,048 GPUs, real routing, route_sample 1",
             "scenarios/deepseek-v3-train-h800x2048.cfg", real, 2, 60);
    const char *const one[] = {"output.progress=false", "training.route_sample=1",
                               "training.route_groups=1"};
    run_case("  the same, one dispatch group routed per stage",
             "scenarios/deepseek-v3-train-h800x2048.cfg", one, 3, 60);
    return 0;
}
