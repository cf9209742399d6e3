/*
 * play_int.h - the play's state, shared by play.c (forward passes, the
 * MoE block, the executor's callbacks) and train.c (what training steps
 * add: routing a micro-batch into its slab, the sample's replays, the
 * training costs and metrics). Private to sim/play.
 */
#ifndef MOESIM_PLAY_INT_H
#define MOESIM_PLAY_INT_H

#include <stdint.h>

#include "moesim/capacity.h"
#include "moesim/collective.h"
#include "moesim/engine.h"
#include "moesim/exec.h"
#include "moesim/forward.h"
#include "moesim/gpu.h"
#include "moesim/layout.h"
#include "moesim/metrics.h"
#include "moesim/placement.h"
#include "moesim/play.h"
#include "moesim/rng.h"
#include "moesim/source.h"
#include "moesim/timeline.h"
#include "moesim/topo.h"
#include "moesim/trace.h"
#include "moesim/train.h"

/* An operation kind beyond the schedule's: a re-placement's copies. */
enum { KIND_MIGRATE = SCHED_KIND_COUNT };

struct play {
    const scenario *s;
    gpu_spec gpu;      /* the GPU as compute sees it: network.comm_sms taken out */
    engine_t *eng;
    rng_set_t *rng;
    topo_t *topo;
    source_t *src;
    layout lay;
    placement *pl;     /* per MoE layer */
    metrics m;

    int gpus;          /* world */
    int tokens;        /* tokens per batch, all ranks of a stage */
    int spr;           /* expert slots per EP rank (the same in every layer) */
    int tp, etp;
    int route_ranks;   /* routing sources of a routing batch: a stage's GPUs, or (training,
                        * one group routed) one dispatch group's */
    int src_tokens;    /* tokens each GPU routes: tokens_per_rank / tp */
    int64_t *src_off;  /* gpus: the first of each GPU's routed tokens in the batch */
    int *etp_peers;    /* gpus x etp: the GPUs of each GPU's ETP group, by rank */
    int *rank_node;    /* ep_groups x ep: node of each EP rank, for the replica rule */
    int64_t *rank_tokens; /* ep_groups x ep: assignments so far this block (replica rule) */
    int ep_nodes;      /* nodes one EP group spans, as EPLB sees them (1: global policy) */
    int *rank_node0;   /* ep: EP group 0's ranks' nodes numbered from 0 (topology_aware) */
    double expert_bytes; /* one expert's weights on one GPU (1/etp of them) */
    double *ema;       /* dynamic: moe_layers x experts moving average of loads */
    double *ema_coact; /* dynamic topology_aware: moe_layers x experts x experts */
    double *batch_load, *batch_coact; /* one batch's counts, reused */
    double *mig;       /* dynamic: ep x ep bytes of one re-placement, per EP group */
    int64_t mig_copies;
    gpu_ffn_shape expert_shape; /* routed: 1/etp of the width */
    gpu_ffn_shape shared_shape; /* shared experts: 1/tp of the width */
    gpu_ffn_shape dense_shape;  /* 1/tp of the width */
    gpu_attn_shape attn_shape;  /* 1/tp of the heads */
    /* per GPU and micro-batch, the same on every GPU */
    sim_time_t t_attn, t_gate, t_dense, t_shared, t_head;
    int64_t mb_rank_tokens;     /* tokens_per_rank / micro-batches */
    double tp_bytes;            /* one TP all-reduce's buffer: a micro-batch's activations */
    double act_bytes;           /* one GPU's pipeline send: its share of them */

    /* per-batch buffers, reused */
    double *logits;         /* tokens x experts */
    int32_t *choice;        /* tokens x slots (top_k; experts for expert_choice) */
    int32_t *forced;        /* force_balance: its choices, computed once */
    double *weight;         /* tokens x slots gate weights, when score priority needs them */
    int slots;              /* choice entries per token */
    capacity_counts *cc;    /* per MoE layer: counts, and the adaptive average */
    double *bias;           /* sigmoid_bias: moe_layers x experts selection biases */
    gsl_rng *noise;         /* noisy_topk: the "router/noise" stream (borrowed) */
    int64_t *src_load;      /* experts: assignments one source rank keeps (padding) */
    int padded;             /* padded buffers: every slot up to capacity travels */
    double *link_bytes;     /* per link, one collective (for naming a cause) */
    coll_plan plan;         /* one collective's transfers (for naming a cause) */
    double *wire;           /* a2a x a2a: one all-to-all's bytes in its dtype */
    double *node_wire;      /* a2a x nodes: the same per node, once per token */
    int *tok_dst, *tok_run; /* top_k x etp: the current token's destinations, their nodes */
    int *tok_scratch;       /* 2 top_k x etp: dispatch_token's */
    int64_t *bal;           /* per_stage: assignments per GPU of one stage */

    /* where the run stands */
    int batch;
    int64_t route_batch;    /* routing batches so far (training: micro-batches) */
    int layer, moe;         /* the layer being routed or blamed, its MoE index */
    sim_time_t pass_start;
    play_progress_fn progress;
    void *progress_ctx;
    err_t *err;             /* where a callback reports a failure */
    int failed;
    uint64_t last_comm;     /* the tag of the last communication planned (flow blame) */
    int last_kind;

    /* routing traces (docs/trace.md): every batch the router sees, warm-up
     * batches first, each MoE layer's choices before capacity */
    trace_reader *trace_in;  /* source kind trace: choices come from here */
    trace_writer *trace_out; /* output.trace: choices go here */
    uint32_t batches_in, batches_out; /* whole batches read, written */

    timeline_t *tl;          /* output.timeline: operations as trace events */

    /* the forward pass as operations on per-GPU streams (exec.h, forward.h) */
    exec_t *x;
    fwd_t *fwd;
    sched_step *steps;       /* the schedule's merged list (forward.h tags index it) */
    long nsteps;
    int M;                   /* micro-batches */
    int stages, per_stage;
    int *stage_first;        /* stages + 1: stage k holds layers [first[k], first[k+1]) */
    int *stage_gpu, *tp_gpu, *a2a_gpu; /* stages x per_stage, as forward.h says */
    int *all_gpu;            /* 0 .. gpus - 1: a re-placement's members */
    int a2a;                 /* GPUs in a dispatch group: an EP group and its ETP peers */
    int a2a_groups;          /* dispatch groups, all stages */
    int *a2a_of, *a2a_rank;  /* gpus: its dispatch group, its index there */
    int *a2a_run;            /* gpus: which of its group's nodes it is on */
    int *a2a_runs;           /* a2a_groups: nodes each group spans */
    int *a2a_scratch;        /* 2 a2a + 2 */
    int *src_index;          /* gpus: routing source index in its stage */
    int *moe_of;             /* layers: the MoE index, or -1 */
    struct routed *routed;   /* moe_layers: a layer's choices while blocks need them */
    struct grp *grp;         /* M x a2a_groups: a micro-batch's MoE block in a group */
    int64_t *mb_local;       /* M x gpus x spr: tokens per GPU and local slot */
    int64_t *mb_gpu_tokens;  /* M x gpus: assignments each GPU received */

    /* training (workload.mode "training"): a pass is one step of the
     * training schedule (train.h); each micro-batch is routed on its own,
     * every MoE layer at its first dispatch, into a slab that lives until
     * the micro-batch's last operation has ended (the schedule bounds how
     * many are in flight, so memory does not grow with the global batch) */
    int train;
    int rM;                  /* micro-batches per routing batch: M, or 1 in training */
    int64_t pass_tokens;     /* tokens of a pass, all ranks of a stage */
    train_sched ts;
    scenario_pshape tshape;
    sim_time_t t_attn_b, t_attn_w, t_opt, t_mtp;
    int gps;                 /* dispatch groups per stage */
    int *dp_gpu, *edp_gpu;   /* stages x per_stage, as forward.h says */
    struct slab *slab;       /* the pool */
    int nslab;
    int *slab_of;            /* M: a micro-batch's slab, or -1 */
    int *slab_free;          /* nslab: released slabs, a stack */
    int nfree;
    long *mb_ops;            /* M: operations of each micro-batch not yet ended */
    int sample;              /* micro-batches routed per step (0: all; training.route_sample) */
    metrics_step cur;        /* this step's record, filled as it runs */
    int step_over;           /* end_pass: the sample's slabs go back */
    int64_t *step_wanted;    /* sigmoid_bias: moe_layers x experts, this step's loads */
    sim_time_t *step_max;    /* nsteps: the slowest unit of each step, this pass */
    int *step_left;          /* nsteps: units not yet ended */
    sim_time_t *tp_attn_max; /* M x layers: the TP all-reduce after attention */
    long ops_left;           /* this pass's operations not yet ended */
    int64_t *layer_exposed;  /* moe_layers x EXEC_CLASSES: this pass, summed over GPUs */
    /* per GPU: communication that ran after its compute stream's last
     * operation so far had ended (exposed at the pass's end, when no compute
     * follows to wait on it): its end, EXEC_CLASSES sums, the last one's layer */
    sim_time_t *compute_end;
    int64_t *tail;           /* gpus x EXEC_CLASSES */
    int *tail_layer;
};

/* A MoE layer's choices after capacity, kept from the first dispatch that
 * needs them until every group's every micro-batch has taken its bytes. */
struct routed {
    int32_t *choice;        /* tokens x slots */
    int64_t *gpu_tokens;    /* gpus: assignments, summed over groups */
    int left;               /* group blocks still to take their bytes */
};

/* One micro-batch's MoE block in one dispatch group: its rows per member
 * pair (model dtype) and per member and node the group spans, kept from
 * the dispatch to the combine. */
struct grp {
    double *bytes;          /* a2a x a2a */
    double *node;           /* a2a x the group's nodes */
};

/* Training: one micro-batch's MoE blocks, every MoE layer's (in the groups
 * of the stage that runs it), from its routing to its last backward. */
struct slab {
    struct grp *grp;        /* moe_layers x gps */
    int64_t *local;         /* moe_layers x gpus x spr */
    int64_t *gt;            /* moe_layers x gpus */
};

static inline struct grp *grp_at(const play_t *p, int mb, int moe, int u)
{
    if (!p->train)
        return &p->grp[(size_t)mb * (size_t)p->a2a_groups + (size_t)u];
    return &p->slab[p->slab_of[mb]].grp[(size_t)moe * (size_t)p->gps + (size_t)(u % p->gps)];
}

/* Micro-batch mb's tokens per GPU and local slot ([gpu x spr + slot]) in
 * MoE layer moe, and its assignments per GPU. */
static inline int64_t *local_at(const play_t *p, int mb, int moe)
{
    size_t per = (size_t)p->gpus * (size_t)p->spr;
    if (!p->train)
        return p->mb_local + (size_t)mb * per;
    return p->slab[p->slab_of[mb]].local + (size_t)moe * per;
}

static inline int64_t *gtok_at(const play_t *p, int mb, int moe)
{
    if (!p->train)
        return p->mb_gpu_tokens + (size_t)mb * (size_t)p->gpus;
    return p->slab[p->slab_of[mb]].gt + (size_t)moe * (size_t)p->gpus;
}

/* play.c: the MoE block of layer moe routed (once per routing batch), a
 * micro-batch's rows in dispatch group u, the units of a step kind. */
int play_route_moe(play_t *p, int moe);
void play_group_bytes(play_t *p, int moe, int mb, int u);
/* One more block of layer moe has its rows (gpu: one of its stage's); the
 * last one releases the layer's choices and counts its GPU balance. */
void play_layer_done(play_t *p, int moe, int gpu);
int play_step_units(const play_t *p, sched_kind k);

/* train.c: training's per-GPU times (after the schedule is built); routing
 * micro-batch mb at its first dispatch (or replaying the sample's); the
 * micro-batch a sampled one replays; a micro-batch's slab released; a
 * bucket's gradient plan; the metrics of a training-only step. */
void train_times_setup(play_t *p, int64_t tpr);
int train_route(play_t *p, int mb);
int train_replay_of(const play_t *p, int mb);
void train_slab_put(play_t *p, int mb);
void train_grad_plan(const play_t *p, const sched_step *st, const int *m, int n,
                     coll_plan *out);
void train_metrics(play_t *p, const sched_step *st, sim_time_t t);

#endif
