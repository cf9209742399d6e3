/*
 * dispatch.h - the rows an MoE dispatch puts on the wire, token by token.
 *
 * DeepEP's dispatch sends a token once to each GPU holding any of its
 * experts (is_token_in_rank), however many of its top-k experts live there,
 * and its internode kernel sends it over RDMA once to each node it reaches
 * (the forwarder there hands it on over NVLink). Padded GShard/Tutel buffers
 * instead carry every expert slot up to capacity: one row per slot. This is
 * the one place moesim turns a token's destinations into rows: the forward
 * pass's MoE block (sim/play) and `moesim collective --moe` both call it. The
 * combine returns the same rows.
 *
 * Rows are counted in a group of n GPUs (its members numbered 0 .. n-1) that
 * spans `runs` nodes (numbered 0 .. runs-1 in member order).
 */
#ifndef MOESIM_DISPATCH_H
#define MOESIM_DISPATCH_H

/* One token of member src: dst[0..k) the members its expert slots live on
 * (repeats when several of its experts share a GPU) and run[0..k) their
 * nodes. Adds `row` to rows[src * n + d] once per distinct destination d
 * (padded: once per slot) and to node[src * runs + r] once per distinct node
 * (padded: once per slot). scratch: 2 k ints. */
void dispatch_token(double *rows, double *node, int n, int runs, int src, const int *dst,
                    const int *run, int k, int padded, double row, int *scratch);

#endif
