/*
 * rng.c - named random streams.
 *
 * A stream's seed mixes the master seed with an FNV-1a hash of its name
 * through the splitmix64 finaliser, so nearby master seeds and similar names
 * still give unrelated streams. GSL's MT19937 takes a 32-bit seed; the two
 * halves of the 64-bit value are folded together. Streams are few (one per
 * purpose), so a small array searched linearly is enough; lookups happen at
 * set-up, not per token.
 */
#include "moesim/rng.h"

#include <string.h>

#include "moesim/base.h"

struct rng_stream {
    char *name;
    gsl_rng *gen;
};

struct rng_set {
    uint64_t seed;
    struct rng_stream *streams;
    size_t n, cap;
};

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

uint64_t rng_stream_seed(uint64_t seed, const char *name)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a offset basis */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= UINT64_C(0x100000001b3);
    }
    return splitmix64(seed ^ splitmix64(h));
}

rng_set_t *rng_new(uint64_t seed)
{
    rng_set_t *r = xcalloc(1, sizeof(*r), "random streams");
    r->seed = seed;
    return r;
}

void rng_free(rng_set_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->streams[i].name);
        gsl_rng_free(r->streams[i].gen);
    }
    free(r->streams);
    free(r);
}

gsl_rng *rng_stream(rng_set_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->streams[i].name, name) == 0)
            return r->streams[i].gen;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->streams = xrealloc(r->streams, r->cap, sizeof(*r->streams), "random streams");
    }
    gsl_rng *g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!g) /* GSL's allocator reports through its error handler; treat as OOM */
        xmalloc(SIZE_MAX, "a random generator");
    uint64_t s = rng_stream_seed(r->seed, name);
    gsl_rng_set(g, (unsigned long)((s ^ (s >> 32)) & 0xffffffffu));
    r->streams[r->n].name = xstrdup(name, "stream name");
    r->streams[r->n].gen = g;
    r->n++;
    return g;
}
