/*
 * coll.h - the `moesim collective` command: collectives on a scenario's
 * cluster, reported like nccl-tests, or one MoE dispatch and combine
 * reported like DeepEP's tests.
 *
 *   moesim collective SCENARIO --op alltoall|allreduce|allgather|reducescatter
 *       [-b MIN] [-e MAX] [-f FACTOR] [--algo A] [--gpus N] [--moe]
 *       [--set KEY=VALUE]... [--json FILE]
 *
 * Per size: size (bytes), count (FP32 elements), time (us), algbw = size /
 * time and busbw = algbw x (n-1)/n (all-to-all, all-gather, reduce-scatter)
 * or x 2(n-1)/n (all-reduce), in GB/s (nccl-tests' PERFORMANCE.md). --json
 * writes schema "moesim.collective/1" (docs/network.md).
 */
#ifndef MOESIM_COLL_H
#define MOESIM_COLL_H

/* Runs the command on the arguments after "collective"; returns the exit
 * status (0, 1 failed, 2 bad input). Prints the table on stdout, errors on
 * stderr. */
int coll_main(int argc, char **argv);

#endif
