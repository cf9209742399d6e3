/*
 * rng.h - named random streams, all seeded from the scenario seed.
 *
 * Every random draw in moesim comes from a GSL generator obtained here by
 * name, one stream per purpose (and per entity where needed: "tokens",
 * "source/init", "placement"). A stream's seed is a fixed 64-bit hash of
 * (scenario seed, stream name), so adding a stream never shifts another, and
 * the same scenario and seed give the same draws on any machine. Generator:
 * GSL's MT19937.
 */
#ifndef MOESIM_RNG_H
#define MOESIM_RNG_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

typedef struct rng_set rng_set_t;

/* A new, empty set of streams for `seed`. Caller frees with rng_free. */
rng_set_t *rng_new(uint64_t seed);
/* Frees every stream; rng_free(NULL) is a no-op. */
void rng_free(rng_set_t *r);

/* The stream named `name`, created on first use. Borrowed: valid until
 * rng_free. The same name always returns the same generator. */
gsl_rng *rng_stream(rng_set_t *r, const char *name);

/* The seed a stream named `name` gets under master seed `seed` (exposed for
 * tests and reports). */
uint64_t rng_stream_seed(uint64_t seed, const char *name);

#endif
