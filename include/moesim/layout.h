/*
 * layout.h - which GPU plays which rank in each kind of parallel group.
 *
 * A layout has degrees of data (dp), tensor (tp), pipeline (pp), expert (ep)
 * and expert-tensor (etp) parallelism over world = dp * tp * pp GPUs. This
 * version maps expert parallelism only (tp = pp = etp = 1): every GPU is one
 * data-parallel rank for attention and dense layers, and the dp ranks are cut
 * into dp / ep expert-parallel groups of ep consecutive GPUs (the order
 * "tp-ep-dp-pp", innermost first, puts EP inside nodes first). Each EP group
 * holds every expert once and routes its own tokens among its members.
 */
#ifndef MOESIM_LAYOUT_H
#define MOESIM_LAYOUT_H

#include "moesim/base.h"

typedef struct layout {
    int world; /* GPUs */
    int dp, tp, pp, ep, etp;
    int ep_groups; /* dp / ep */
} layout;

/* Checks the degrees and fills *l. Returns -1 with e filled (ERR_INPUT, key
 * "parallel.*") when they do not fit `world` GPUs. */
int layout_init(layout *l, int world, int dp, int tp, int pp, int ep, int etp, err_t *e);

/* The EP group and the rank inside it of GPU `gpu`. */
int layout_ep_group(const layout *l, int gpu);
int layout_ep_rank(const layout *l, int gpu);
/* The GPU that is rank `rank` of EP group `group`. */
int layout_gpu(const layout *l, int group, int rank);

#endif
