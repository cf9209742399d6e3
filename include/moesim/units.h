/*
 * units.h - quantities written with their units, as scenario files write them.
 *
 * A quantity is a number, optional spaces, and a unit: "450 GB/s", "400 Gb/s",
 * "1.5 us", "2 ms", "80 GiB", "7168 B", "989 TFLOP/s". Decimal prefixes (k M G
 * T P) are powers of 1000, binary ones (Ki Mi Gi Ti) powers of 1024; "b" is a
 * bit and "B" a byte. Parsing is strict: the whole string must be consumed,
 * the number must be finite and not negative. On failure the functions return
 * -1 and write into `why` (n bytes) what was expected.
 */
#ifndef MOESIM_UNITS_H
#define MOESIM_UNITS_H

#include <stddef.h>

#include "moesim/base.h"

/* Bandwidth in bytes per second: B/s, kB/s, MB/s, GB/s, TB/s, KiB/s, MiB/s,
 * GiB/s, TiB/s, b/s, kb/s, Mb/s, Gb/s, Tb/s (also "bps", "Gbps"). */
int units_parse_bandwidth(const char *s, double *bps, char *why, size_t n);
/* Time in picoseconds, rounded to the nearest: ps, ns, us (or µs), ms, s. */
int units_parse_time(const char *s, sim_time_t *ps, char *why, size_t n);
/* Size in bytes: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB. */
int units_parse_size(const char *s, double *bytes, char *why, size_t n);
/* Compute rate in FLOP/s: FLOP/s, kFLOP/s ... PFLOP/s (also "TFLOPS"). */
int units_parse_flops(const char *s, double *flops, char *why, size_t n);

/* Human formatting for reports ("3.35 TB/s", "12.5 us", "80 GiB"); they write
 * at most n bytes into buf and return buf. */
char *units_format_bandwidth(double bps, char *buf, size_t n);
char *units_format_time(sim_time_t ps, char *buf, size_t n);
char *units_format_size(double bytes, char *buf, size_t n);

#endif
