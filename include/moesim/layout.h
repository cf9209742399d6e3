/*
 * layout.h - which GPU plays which rank in each kind of parallel group.
 *
 * A layout has degrees of data (dp), tensor (tp), pipeline (pp), expert (ep)
 * and expert-tensor (etp) parallelism over world = dp * tp * pp GPUs; GPU g is
 * global rank g (GPUs numbered node-major). As in Megatron-Core's
 * RankGenerator, an order string such as "tp-ep-dp-pp" lists the dimensions
 * innermost (fastest-varying) first: a GPU's coordinate along a dimension is
 * (g / stride) % size, stride being the product of the sizes listed before it.
 *
 * Two grids share the order. Attention and dense layers use (tp, dp, pp) with
 * ep of size 1; expert layers use (etp in tp's place, ep, edp in dp's place,
 * pp), edp = dp * tp / (ep * etp), so ep * etp must divide dp * tp. A group of
 * one kind is the GPUs that differ only in that kind's coordinate; groups are
 * numbered by the other coordinates, in order (Megatron's numbering). "cp"
 * may appear in the order and has size 1 here.
 */
#ifndef MOESIM_LAYOUT_H
#define MOESIM_LAYOUT_H

#include "moesim/base.h"

#define LAYOUT_DEFAULT_ORDER "tp-ep-dp-pp"
#define LAYOUT_MAX_DIMS 5 /* tp, cp, ep, dp, pp */

/* The kinds of parallel groups. */
typedef enum layout_kind {
    LAYOUT_TP,  /* tensor parallel (attention, dense layers) */
    LAYOUT_DP,  /* data parallel of the dense weights */
    LAYOUT_PP,  /* pipeline: the stages one micro-batch passes */
    LAYOUT_EP,  /* expert parallel: the GPUs a token's all-to-all spans */
    LAYOUT_ETP, /* expert tensor parallel: the shards of one expert */
    LAYOUT_EDP, /* expert data parallel: GPUs holding the same expert shard */
    LAYOUT_KINDS
} layout_kind;

typedef struct layout {
    int world; /* GPUs */
    int dp, tp, pp, ep, etp;
    int edp;       /* dp * tp / (ep * etp) */
    int ep_groups; /* world / ep */
    char order[32];
    int ndims;                          /* names in order */
    int dim[LAYOUT_MAX_DIMS];           /* which name, innermost first (private) */
    int dense_size[LAYOUT_MAX_DIMS];    /* sizes of the dense grid, in order */
    int expert_size[LAYOUT_MAX_DIMS];   /* sizes of the expert grid, in order */
    int ep_inner;                       /* 1: EP groups are runs of ep GPUs (private) */
} layout;

/* Checks the degrees with the default order "tp-ep-dp-pp" and fills *l.
 * Returns -1 with e filled (ERR_INPUT, key "parallel.*") when they do not fit
 * `world` GPUs. */
int layout_init(layout *l, int world, int dp, int tp, int pp, int ep, int etp, err_t *e);
/* The same with an order string (NULL: the default); borrowed for the call.
 * The order names tp, ep, dp and pp once each, and cp at most once, joined by
 * "-". Errors name the numbers that disagree and what would fit. */
int layout_init_order(layout *l, int world, int dp, int tp, int pp, int ep, int etp,
                      const char *order, err_t *e);

/* "tp", "dp", "pp", "ep", "etp", "edp". */
const char *layout_kind_name(layout_kind k);
/* How many groups of kind k, and GPUs in each. */
int layout_groups(const layout *l, layout_kind k);
int layout_group_size(const layout *l, layout_kind k);
/* The group of kind k that GPU `gpu` belongs to, and its rank in it. */
int layout_group_of(const layout *l, layout_kind k, int gpu);
int layout_rank_in(const layout *l, layout_kind k, int gpu);
/* The GPU that is rank `rank` of group `group` of kind k. */
int layout_member(const layout *l, layout_kind k, int group, int rank);
/* Fills gpus (layout_group_size entries) with group `group`'s GPUs, by rank. */
void layout_group_gpus(const layout *l, layout_kind k, int group, int *gpus);

/* The EP group and the rank inside it of GPU `gpu`. */
int layout_ep_group(const layout *l, int gpu);
int layout_ep_rank(const layout *l, int gpu);
/* The GPU that is rank `rank` of EP group `group`. */
int layout_gpu(const layout *l, int group, int rank);

#endif
