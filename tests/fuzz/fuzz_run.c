/*
 * fuzz_run.c - libFuzzer target: a short run of a tiny scenario with
 * fuzzed --set values.
 *
 * The scenario is a tiny MoE (2 layers, 8 experts, top-2) on 2 GPUs, one
 * batch of 16 tokens per rank; each line of the input is one --set
 * ("key=value"), up to 8. What loads is run (play_new, play_run) when it is
 * still small (at most 64 GPUs, 2048 tokens a batch, 4 batches, 8 layers,
 * 256 experts: the harness bounds the work, not moesim), with its output
 * files cleared and a trace source skipped (they would touch the disk). A
 * run must end in 0 or -1 with a message: the times beyond the clock of
 * issue 16 ("1 B/s", "989 FLOP/s") are this target's business.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/play.h"
#include "moesim/scenario.h"

#define MAX_SETS 8

static const char tiny[] =
    "name = \"fuzz-tiny\";\n"
    "model = { layers = 2; hidden = 256; expert_ffn = 512; experts = 8; top_k = 2;\n"
    "  heads = 4; dtype = \"bf16\"; router = { kind = \"softmax_topk\"; }; };\n"
    "cluster = { nodes = 1; gpus_per_node = 2; gpu = \"H100-SXM\"; };\n"
    "parallel = { ep = 2; };\n"
    "workload = { tokens_per_rank = 16; batches = 1; seq_len = 16; };\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small enough to run thousands of times a second. */
static int small(const scenario *s)
{
    int64_t gpus = (int64_t)s->cluster.topo.nodes * s->cluster.topo.gpus_per_node;
    return gpus <= 64 && (int64_t)s->parallel.dp * s->workload.tokens_per_rank <= 2048 &&
           s->workload.batches <= 4 && s->placement.warmup_batches <= 4 &&
           s->model.layers <= 8 && s->model.experts <= 256 &&
           s->workload.source.kind != SOURCE_TRACE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *sets[MAX_SETS];
    int n = 0;
    for (char *p = buf; *p && n < MAX_SETS;) {
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (*p)
            sets[n++] = p;
        if (!nl)
            break;
        p = nl + 1;
    }
    scenario s;
    memset(&s, 0, sizeof(s));
    err_t e = ERR_INIT;
    if (scenario_load_string(tiny, "fuzz-tiny.cfg", sets, n, &s, &e) == 0 && small(&s)) {
        s.output.json[0] = s.output.trace[0] = s.output.timeline[0] = '\0';
        play_t *p = play_new(&s, &e);
        if (p) {
            if (play_run(p, NULL, NULL, &e) != 0 && (e.code == ERR_OK || !e.msg[0]))
                abort(); /* a failed run always says why */
            play_free(p);
        } else if (e.code == ERR_OK || !e.msg[0]) {
            abort();
        }
    }
    scenario_fini(&s);
    free(buf);
    return 0;
}
