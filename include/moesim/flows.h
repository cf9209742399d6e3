/*
 * flows.h - the flow process: transfers as flows on their routes, timed by
 * max-min fair sharing and re-shared whenever a flow starts or ends.
 *
 * Every transfer is a flow from one GPU to another over its topology route.
 * While flows are in flight each gets its max-min fair rate (the allocation
 * of net_maxmin_solve over the links' achievable rates, to 1e-12 relative);
 * when a flow starts or its last byte leaves, the rates are brought up to
 * date (only those the change moves are touched: sim/core/flows.c) and the
 * one pending completion event is moved with engine_reschedule. Flows
 * started at the same instant cost one re-share, as do flows finishing at
 * the same instant. A flow's last byte arrives its route latency plus the
 * per-message overhead after it left (the latency is paid once, as by a
 * pipelined transfer); then its done callback runs. A transfer a GPU makes to itself (or of 0 bytes)
 * uses no link and completes at once (plus nothing).
 */
#ifndef MOESIM_FLOWS_H
#define MOESIM_FLOWS_H

#include <stdint.h>

#include "moesim/base.h"
#include "moesim/engine.h"
#include "moesim/topo.h"

typedef struct flows flows_t;

/* Called from an engine event when a flow's last byte has arrived;
 * may start new flows. `ctx` and `tag` are flows_start's. */
typedef void (*flows_done_fn)(void *ctx, uint64_t tag);

/* A flow process on engine `eng` and topology `t` (both borrowed; must
 * outlive it). overhead_ps (>= 0) is added to every flow's latency. Caller
 * frees with flows_free (NULL: no-op); flows still in flight are dropped
 * without their callbacks, but their engine events must not fire after
 * that (free the engine first, or run it empty). */
flows_t *flows_new(engine_t *eng, const topo_t *t, sim_time_t overhead_ps);

/* Completion tolerance (network.flow_tolerance): at a completion, every flow
 * due within `ps` of now (at the rates it has then) finishes with it, in one
 * re-share, its last bytes counted as sent. 0 (the default) is exact. A
 * skewed all-to-all-v, whose flows all finish at different instants, costs
 * one re-share per flow exactly; a tolerance merges the finishes that fall
 * close together. What is bounded is each merged flow's shortcut: the
 * bytes counted as sent before they are sent are at most `ps` (plus the
 * picosecond of rounding) at its rate then. Its finish time is not bounded
 * by `ps`, either way: the early finishes free bandwidth and change the
 * others' rates, up or down (max-min rates are not monotone in the flow
 * set), and shortcuts add up along a flow's life (issue 15, DeepSeek-V3 on
 * 64 GPUs at 1 us: flows up to 2.6 us early and 0.5 us late, the
 * all-to-all up to 1.4 us early; docs/network.md). */
void flows_set_tolerance(flows_t *f, sim_time_t ps);
void flows_free(flows_t *f);

/* Starts a transfer of `bytes` (>= 0) from src to dst at engine_now; done
 * (may be NULL) is called with ctx (borrowed) and tag when it has arrived. */
void flows_start(flows_t *f, int src, int dst, double bytes, flows_done_fn done, void *ctx,
                 uint64_t tag);

/* 1 once an event would have fallen beyond the clock: the process stopped
 * its engine and is spent. */
int flows_beyond(const flows_t *f);
/* Flows whose bytes are still leaving (not those only waiting on latency). */
int flows_active(const flows_t *f);
/* Re-shares so far: one per instant at which the set changed. */
uint64_t flows_reshares(const flows_t *f);
/* Bytes that crossed each link so far (topo_link_count entries; borrowed,
 * valid until flows_free). */
const double *flows_link_bytes(const flows_t *f);

/* Runs a collective given as phases (as flows_time_phases) on f's own
 * engine, which must have nothing else pending, until its last flow has
 * arrived; returns the time that took. The per-link bytes
 * (flows_link_bytes) are reset at the start, so afterwards they are this
 * collective's. Reusing one process and engine for a run's many
 * collectives allocates nothing once their buffers have grown. Returns
 * SIM_TIME_MAX when an event would fall beyond the clock (about 106 days of
 * the engine's time: a "1 B/s" link); the process is then spent (free it
 * and its engine) and the caller reports the input. */
sim_time_t flows_run_phases(flows_t *f, int phases, const int *off, const int *src,
                            const int *dst, const double *bytes);

/* Times a collective given as phases on a fresh engine: the transfers of
 * phase p are src[i] -> dst[i] of bytes[i] for i in [off[p], off[p+1]); they
 * all start together when the previous phase's last flow has arrived.
 * Returns the time from the first start to the last arrival (SIM_TIME_MAX:
 * beyond the clock, as flows_run_phases). link_bytes (may
 * be NULL) receives the bytes per link (overwritten). Arrays borrowed. */
sim_time_t flows_time_phases(const topo_t *t, sim_time_t overhead_ps, int phases,
                             const int *off, const int *src, const int *dst,
                             const double *bytes, double *link_bytes);

#endif
