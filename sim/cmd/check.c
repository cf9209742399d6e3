/*
 * check.c - `moesim check`: load and validate a scenario, run nothing.
 *
 * The same loader as run (and, for a scenario that replays a routing trace,
 * the whole trace read and checked against it), so what check accepts run
 * can start; the first error is printed with its file, line and key.
 */
#include "moesim/cmd.h"

#include <stdlib.h>
#include <string.h>

#include "moesim/cli.h"
#include "moesim/opts.h"
#include "moesim/play.h"
#include "moesim/scenario.h"

const char cmd_check_usage[] =
    "usage: moesim check SCENARIO [--set KEY=VALUE]...\n"
    "\n"
    "Loads and validates SCENARIO with the same rules as run (a routing trace it\n"
    "replays is read whole and checked against the scenario), prints a one-line\n"
    "summary and exits 0, or prints the first error and exits 2.\n";

static const opts_spec check_spec[] = {{"set", 0, OPTS_VALUE, "KEY=VALUE"}, {NULL, 0, 0, NULL}};

/* Every option is a --set; returns the exit status. */
static int check(const opts *o)
{
    if (o->npos == 0)
        return cmd_usage("check", "%s: a scenario file is required", "check");
    if (o->npos > 1)
        return cmd_usage("check", "unexpected argument %.200s (one scenario file at most)",
                         o->pos[1]);
    const char **sets = xcalloc((size_t)o->nitem + 1, sizeof(*sets), "--set options");
    for (int i = 0; i < o->nitem; i++)
        sets[i] = o->item[i].value;
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    int rc = 0;
    if (cli_load(o->pos[0], sets, o->nitem, &s, &e) < 0 ||
        (s.workload.source.kind == SOURCE_TRACE && play_check_trace(&s, &e) < 0)) {
        rc = cmd_print_err(stderr, NULL, &e);
    } else {
        gpu_memory_shape sh;
        gpu_memory need;
        scenario_host host;
        scenario_memory(&s, &sh, &need);
        scenario_host_memory(&s, &host);
        printf("%s: ok: %s, %d layers (%d MoE), %d experts top-%d, %d x %d %s\n", s.file,
               s.name, s.model.layers, s.moe_layers, s.model.experts, s.model.top_k,
               s.cluster.topo.nodes, s.cluster.topo.gpus_per_node, s.cluster.gpu.name);
        printf("memory: %.1f GB per GPU of %.1f GB; the simulator's own about %.1f GB of "
               "%.1f GB (limits.host_memory)\n",
               need.total / 1e9, s.cluster.gpu.hbm_bytes / 1e9, host.total / 1e9,
               s.limits.host_memory / 1e9);
        if (s.workload.mode == MODE_TRAINING)
            printf("training: %s, %d micro-batches of %d sequences per replica and step, %.5g "
                   "GFLOP per token (Megatron-LM's count); memory by pipeline stage:\n",
                   sched_pipe_name((sched_pipe)s.parallel.schedule), s.workload.micro_batches,
                   s.workload.micro_batch, scenario_model_flops(&s) / 1e9);
        for (int k = 0; s.workload.mode == MODE_TRAINING && k < s.parallel.pp; k++) {
            scenario_train_mem m;
            scenario_train_memory(&s, k, &m);
            printf("  stage %d: %.1f GB: weights %.1f, gradients %.1f, optimizer %.1f, "
                   "activations %.1f (%.0f chunk passes in flight), buffers %.1f\n",
                   k, m.total / 1e9, m.weights / 1e9, m.grads / 1e9, m.optimizer / 1e9,
                   m.activations / 1e9, m.inflight, m.buffers / 1e9);
        }
    }
    scenario_fini(&s);
    free(sets);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    opts o;
    err_t e = ERR_INIT;
    int rc;
    if (opts_parse(check_spec, argc, argv, &o, &e) < 0)
        rc = cmd_usage("check", "%s", e.msg);
    else if (o.help)
        rc = cmd_help("check");
    else
        rc = check(&o);
    opts_fini(&o);
    return rc;
}
