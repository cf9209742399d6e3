/*
 * memfit.c - what one GPU of a scenario holds (weights, activations,
 * all-to-all buffers, by gpu_memory_need), and the load-time check that it
 * fits the GPU's HBM.
 */
#include "loader.h"

#include <string.h>

#include "moesim/collective.h"

void scenario_memory(const scenario *s, gpu_memory_shape *sh, gpu_memory *need)
{
    /* The most loaded pipeline stage: stage k holds layers [k L / pp,
     * (k + 1) L / pp), the split play.c uses. */
    int pp = s->parallel.pp > 0 ? s->parallel.pp : 1, L = s->model.layers;
    int best = -1;
    memset(sh, 0, sizeof(*sh));
    for (int k = 0; k < pp; k++) {
        int lo = (int)((int64_t)k * L / pp), hi = (int)((int64_t)(k + 1) * L / pp), moe = 0;
        for (int l = lo; l < hi; l++)
            moe += scenario_is_moe_layer(s, l);
        int w = (hi - lo) * 4 + moe; /* any order that ranks more layers, then more MoE */
        if (w > best) {
            best = w;
            sh->layers = hi - lo;
            sh->moe_layers = moe;
        }
    }
    int tp = s->parallel.tp > 0 ? s->parallel.tp : 1;
    int ep = s->parallel.ep > 0 ? s->parallel.ep : 1;
    sh->attn = (gpu_attn_shape){s->model.hidden, s->model.heads, s->model.kv_heads,
                                s->model.head_dim, s->workload.seq_len, s->model.dtype};
    sh->dense_ffn = s->model.dense_ffn;
    sh->expert_ffn = s->model.expert_ffn;
    sh->matrices = s->model.ffn_matrices;
    sh->experts = s->model.experts;
    sh->shared_experts = s->model.shared_experts;
    sh->slots = (s->model.experts + s->placement.redundant) / ep;
    sh->top_k = s->model.top_k;
    sh->tp = tp;
    sh->etp = s->parallel.etp > 0 ? s->parallel.etp : 1;
    sh->weight_dt = s->model.weight_dtype;
    sh->act_dt = s->model.dtype;
    sh->tokens = s->workload.tokens_per_rank;
    sh->moe_tokens = s->workload.tokens_per_rank / tp;
    sh->dispatch_row = coll_row_bytes(s->model.hidden, s->network.dispatch_dtype);
    sh->combine_row = coll_row_bytes(s->model.hidden, s->network.combine_dtype);
    gpu_memory_need(sh, need);
}

/* Refuses a scenario whose GPUs cannot hold it, with the parts of the sum. */
int scenario_check_memory(loader *L, err_t *e)
{
    const scenario *s = L->s;
    if (!s->cluster.check_memory)
        return 0;
    gpu_memory_shape sh;
    gpu_memory m;
    scenario_memory(s, &sh, &m);
    if (m.total <= s->cluster.gpu.hbm_bytes)
        return 0;
    const double G = 1e9; /* GB, as datasheets and the presets count HBM */
    return scenario_fail(L, config_lookup(L->cfg, "cluster.gpu"), "cluster.gpu", e,
                "model does not fit: %.1f GB needed per GPU (weights %.1f GB: attention "
                "%.1f, dense FFN %.1f, routed experts %.1f, shared experts %.1f, gates %.1f; "
                "activations %.1f GB: layer buffers %.1f, all-to-all buffers %.1f) > %.1f GB "
                "on %s; allowed: more GPUs (parallel.ep, parallel.tp, parallel.pp), a smaller "
                "batch (workload.tokens_per_rank), smaller weights (model.weight_dtype), or "
                "cluster.check_memory = false for a what-if study",
                m.total / G, m.weights / G, m.attention / G, m.dense_ffn / G, m.experts / G,
                m.shared / G, m.gate / G, m.activations / G, m.layer_act / G,
                m.a2a_buffers / G, s->cluster.gpu.hbm_bytes / G, s->cluster.gpu.name);
}
