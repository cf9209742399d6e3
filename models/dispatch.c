/*
 * dispatch.c - a token's rows on the wire (see dispatch.h).
 *
 * The distinct destinations of a token are found by a scan of those seen
 * so far: k is top-k times the ETP degree, a handful, so a scan beats any
 * set. The first occurrence decides the order rows are added in, so the
 * sums are the same on every run.
 */
#include "moesim/dispatch.h"

#include <stddef.h>

/* Is v among seen[0..n)? */
static int seen_in(const int *seen, int n, int v)
{
    for (int i = 0; i < n; i++)
        if (seen[i] == v)
            return 1;
    return 0;
}

void dispatch_token(double *rows, double *node, int n, int runs, int src, const int *dst,
                    const int *run, int k, int padded, double row, int *scratch)
{
    int *seen_dst = scratch, *seen_node = scratch + k, nd = 0, nn = 0;
    double *out = rows + (size_t)src * (size_t)n, *out_node = node + (size_t)src * (size_t)runs;
    for (int i = 0; i < k; i++) {
        if (!padded && seen_in(seen_dst, nd, dst[i]))
            continue;
        seen_dst[nd++] = dst[i];
        out[dst[i]] += row;
        if (!padded && seen_in(seen_node, nn, run[i]))
            continue;
        seen_node[nn++] = run[i];
        out_node[run[i]] += row;
    }
}
