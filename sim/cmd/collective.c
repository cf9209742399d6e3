/*
 * coll.c - `moesim collective`: collectives on the scenario's cluster, timed
 * by the scenario's network model, reported as nccl-tests and DeepEP's tests
 * report them.
 *
 * Sizes follow nccl-tests: -b MIN -e MAX -f FACTOR, with K, M, G suffixes in
 * powers of 1024; `size` is the per-rank buffer (all-to-all: what one rank
 * sends in all, size/n to each rank including itself; all-gather: the
 * output; reduce-scatter: the input), `count` is size / 4 (FP32).
 *
 * --moe plays one dispatch and one combine the way DeepEP's
 * tests/test_intranode.py and test_internode.py do: every rank has
 * workload.tokens_per_rank tokens, each scores model.experts experts with
 * |N(0,1)| + 1 (a GSL stream "collective/moe" stands for torch.randn), keeps
 * the best min(nodes, 4) nodes by their best expert score (group-limited
 * routing, one group per node) and takes the model.top_k best experts there;
 * experts are placed contiguously, experts / GPUs per GPU. Dispatch rows
 * travel in network.dispatch_dtype (FP8: 7,168 values + 56 FP32 scales =
 * 7,392 bytes), combine rows in network.combine_dtype. Bandwidth is
 * counted as DeepEP counts it: within one node, every (token, GPU) row
 * that GPU 0 receives, its own included; across nodes, every (token,
 * destination node) row that GPU 0 sends, its own node included; over the
 * collective's time.
 */
#include "moesim/cmd.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "moesim/collective.h"
#include "moesim/dispatch.h"
#include "moesim/flows.h"
#include "moesim/jsonout.h"
#include "moesim/net.h"
#include "moesim/cli.h"
#include "moesim/opts.h"
#include "moesim/outfile.h"
#include "moesim/rng.h"
#include "moesim/scenario.h"
#include "moesim/topo.h"

#define MAX_ROWS 64              /* -b .. -e in steps of -f: 8 B to 1 GiB by 2 is 28 */
#define MAX_SIZE 1099511627776.0 /* 2^40 B (1024G): times stay far inside the clock */

const char cmd_collective_usage[] =
    "usage: moesim collective SCENARIO [options]\n"
    "\n"
    "Times collectives on SCENARIO's cluster with its network model and prints,\n"
    "per size, time and algorithm/bus bandwidth as nccl-tests does.\n"
    "\n"
    "options:\n"
    "  --op OP          alltoall (default), allreduce, allgather, reducescatter\n"
    "  -b SIZE          smallest size (default 8; K, M, G: powers of 1024; > 0)\n"
    "  -e SIZE          largest size (default 1G; at most 1024G)\n"
    "  -f FACTOR        size multiplier between rows (default 2; > 1, and at most\n"
    "                   64 rows from -b to -e)\n"
    "  --algo A         alltoall: direct, pairwise, hierarchical (default: the\n"
    "                   scenario's network.alltoall); allreduce: ring, hierarchical\n"
    "  --gpus N         use GPUs 0..N-1 (default: all)\n"
    "  --moe            one MoE dispatch and combine with DeepEP's routing and\n"
    "                   accounting (workload.tokens_per_rank, model.hidden, top_k)\n"
    "  --set KEY=VALUE  override a scenario key (repeatable)\n"
    "  --json FILE      also write the results (schema moesim.collective/1; - for\n"
    "                   stdout, and then no table)\n"
    "  -h, --help       this text\n";

enum op { OP_ALLTOALL, OP_ALLREDUCE, OP_ALLGATHER, OP_REDUCESCATTER };
static const char *const op_names[] = {"alltoall", "allreduce", "allgather", "reducescatter"};

typedef struct coll_opts {
    opts raw;
    const char *file;
    const char **sets; /* nsets; owned array */
    int nsets;
    int op, op_given;
    double b, e, f;
    const char *b_text, *e_text, *f_text; /* as given, for messages */
    const char *algo;
    int gpus;
    int moe;
    const char *json;
} coll_opts;

enum { O_OP, O_B, O_E, O_F, O_ALGO, O_GPUS, O_MOE, O_SET, O_JSON };
static const opts_spec coll_spec[] = {
    [O_OP] = {"op", 0, OPTS_VALUE, "an operation"},
    [O_B] = {"minbytes", 'b', OPTS_VALUE, "a size"},
    [O_E] = {"maxbytes", 'e', OPTS_VALUE, "a size"},
    [O_F] = {"stepfactor", 'f', OPTS_VALUE, "a factor"},
    [O_ALGO] = {"algo", 0, OPTS_VALUE, "an algorithm"},
    [O_GPUS] = {"gpus", 0, OPTS_VALUE, "a number"},
    [O_MOE] = {"moe", 0, OPTS_FLAG, NULL},
    [O_SET] = {"set", 0, OPTS_VALUE, "KEY=VALUE"},
    [O_JSON] = {"json", 0, OPTS_OUTPUT, "a file name"},
    {NULL, 0, 0, NULL},
};

/* nccl-tests' sizes: a number with an optional K, M or G (powers of 1024). */
static int parse_size(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || !isfinite(v))
        return -1;
    if (*end == 'K' || *end == 'k')
        v *= 1024, end++;
    else if (*end == 'M' || *end == 'm')
        v *= 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        v *= 1024.0 * 1024 * 1024, end++;
    if (*end == 'B')
        end++;
    if (*end)
        return -1;
    *out = v;
    return 0;
}

/* One option's value into o; ERR_INPUT after a usage error. */
static int take(coll_opts *o, int spec, const char *v)
{
    char *end;
    switch (spec) {
    case O_OP:
        for (int j = 0; j < 4; j++)
            if (strcmp(v, op_names[j]) == 0)
                o->op = j, o->op_given = 1;
        if (!o->op_given)
            return cmd_usage("collective", "--op %.100s; allowed: alltoall, allreduce, "
                                           "allgather, reducescatter", v);
        return 0;
    case O_B:
    case O_E:
        if (parse_size(v, spec == O_B ? &o->b : &o->e) < 0)
            return cmd_usage("collective", "size %.100s; expected a number of bytes with K, "
                                           "M or G, such as 1G", v);
        *(spec == O_B ? &o->b_text : &o->e_text) = v;
        return 0;
    case O_F:
        errno = 0;
        o->f = strtod(v, &end);
        if (end == v || *end || errno || !(o->f > 1) || !isfinite(o->f))
            return cmd_usage("collective", "-f %.100s; allowed: a factor > 1", v);
        o->f_text = v;
        return 0;
    case O_ALGO: o->algo = v; return 0;
    case O_GPUS: {
        errno = 0;
        long n = strtol(v, &end, 10);
        if (end == v || *end || errno || n < 1 || n > TOPO_MAX_GPUS)
            return cmd_usage("collective", "--gpus %.100s; allowed: an integer from 1 to %d", v,
                             TOPO_MAX_GPUS);
        o->gpus = (int)n;
        return 0;
    }
    case O_MOE: o->moe = 1; return 0;
    case O_SET: o->sets[o->nsets++] = v; return 0;
    case O_JSON: o->json = v; return 0;
    }
    return 0;
}

/* The sizes: -b > 0, -e at most MAX_SIZE (so no time leaves the clock's
 * range, and inf is refused), -b <= -e, and at most MAX_ROWS rows. */
static int check_sizes(const coll_opts *o)
{
    if (!(o->b >= 1))
        return cmd_usage("collective", "-b %.100s; allowed: a size of at least 1 byte",
                         o->b_text);
    if (o->b > MAX_SIZE || o->e > MAX_SIZE) /* inf included */
        return cmd_usage("collective", "-%c %.100s; allowed: sizes up to 1024G (2^40 bytes), "
                                       "whose times fit the clock",
                         o->b > MAX_SIZE ? 'b' : 'e', o->b > MAX_SIZE ? o->b_text : o->e_text);
    if (o->b > o->e)
        return cmd_usage("collective", "-b is larger than -e%s", "");
    double rows = floor(log(o->e * (1 + 1e-12) / o->b) / log(o->f)) + 1;
    if (rows > MAX_ROWS)
        return cmd_usage("collective", "-b %.40s -e %.40s -f %.40s gives %.0f rows; allowed: "
                                       "at most %d (a larger -f or a narrower range)",
                         o->b_text, o->e_text, o->f_text, rows, MAX_ROWS);
    return 0;
}

/* The options, as nccl-tests spells them where it has them (-b, -e, -f),
 * plus moesim's own. Returns -1 after printing help (exit 0), 0, or
 * ERR_INPUT after a usage error. */
static int parse(int argc, char **argv, coll_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->b = 8;
    o->e = 1024.0 * 1024 * 1024;
    o->f = 2;
    o->b_text = "8", o->e_text = "1G", o->f_text = "2";
    err_t e = ERR_INIT;
    if (opts_parse(coll_spec, argc, argv, &o->raw, &e) < 0)
        return cmd_usage("collective", "%s", e.msg);
    if (o->raw.help)
        return cmd_help("collective") == 0 ? -1 : ERR_INPUT;
    o->sets = xcalloc((size_t)o->raw.nitem + 1, sizeof(*o->sets), "--set options");
    for (int i = 0; i < o->raw.nitem; i++) {
        int rc = take(o, o->raw.item[i].spec, o->raw.item[i].value);
        if (rc)
            return rc;
    }
    if (o->raw.npos > 1)
        return cmd_usage("collective", "unexpected argument %.200s (one scenario file)",
                         o->raw.pos[1]);
    if (o->raw.npos == 0)
        return cmd_usage("collective", "%s", "a scenario file is required");
    o->file = o->raw.pos[0];
    const opts_file files[] = {{"the scenario", o->file, 0, NULL}, {"--json", o->json, 1, NULL}};
    if (opts_check_files(files, 2, &e) < 0)
        return cmd_print_err(stderr, "moesim collective", &e);
    return check_sizes(o);
}

/* Times a plan with the scenario's network model. */
static sim_time_t plan_time(const scenario *s, const topo_t *t, const coll_plan *p,
                            net_result *ar)
{
    coll_plan_analytical(p, t, s->network.overhead_ps, ar, NULL);
    if (s->network.model == NET_FLOW)
        return flows_time_phases(t, s->network.overhead_ps, p->phases, p->off, p->src, p->dst,
                                 p->bytes, NULL);
    return ar->time_ps;
}

typedef struct row {
    double bytes, time_s, algbw, busbw;
} row;

typedef struct moe_result {
    double time_s, bw;
    const char *bottleneck;
} moe_result;

/* DeepEP's routing for one rank's tokens; appends rows and node rows
 * (models/dispatch.c, as the forward pass counts them): rows[src * G + g]
 * counts (token, GPU) pairs, a token going once to each GPU holding any of
 * its experts (DeepEP's is_token_in_rank); node_rows[src * nodes + n] counts
 * (token, node) pairs, what the internode kernel sends over RDMA. Selection
 * sorts are fine here: 256 experts, top-8, a few thousand tokens a rank.
 * tok: 4 x top_k ints of scratch. */
static void moe_route(const scenario *s, gsl_rng *r, int G, int gpn, int src, double *scores,
                      int *order, double *rows, double *node_rows, int *tok)
{
    int E = s->model.experts, K = s->model.top_k, nodes = G / gpn;
    int per_gpu = E / G, per_node = E / nodes;
    int topk_groups = nodes < 4 ? nodes : 4;
    double gscore[TOPO_MAX_GPUS];
    int gkeep[TOPO_MAX_GPUS];
    int *dst = tok, *run = tok + K;
    for (int t = 0; t < s->workload.tokens_per_rank; t++) {
        for (int x = 0; x < E; x++)
            scores[x] = fabs(gsl_ran_gaussian(r, 1.0)) + 1.0;
        /* group-limited: one group per node, a group's score its best expert
         * (DeepEP's test: scores.view(tokens, nodes, -1).amax(-1)); with
         * nodes <= 4 every node is kept and routing is unrestricted */
        for (int n = 0; n < nodes; n++) {
            gscore[n] = 0;
            for (int x = n * per_node; x < (n + 1) * per_node; x++)
                gscore[n] = scores[x] > gscore[n] ? scores[x] : gscore[n];
            gkeep[n] = 0;
        }
        for (int k = 0; k < topk_groups; k++) {
            int best = -1;
            for (int n = 0; n < nodes; n++)
                if (!gkeep[n] && (best < 0 || gscore[n] > gscore[best]))
                    best = n;
            gkeep[best] = 1;
        }
        /* top-k among the kept groups' experts, by selection */
        int nsel = 0;
        for (int x = 0; x < E; x++)
            if (gkeep[x / per_node])
                order[nsel++] = x;
        int k = 0;
        for (; k < K && k < nsel; k++) {
            int bi = k;
            for (int j = k + 1; j < nsel; j++)
                if (scores[order[j]] > scores[order[bi]])
                    bi = j;
            int x = order[bi];
            order[bi] = order[k];
            order[k] = x;
            dst[k] = x / per_gpu;
            run[k] = dst[k] / gpn;
        }
        dispatch_token(rows, node_rows, G, nodes, src, dst, run, k, 0, 1.0, tok + 2 * K);
    }
}

static const char *link_class(const topo_t *t, int link)
{
    if (link < 0)
        return "none";
    topo_link_kind k = topo_link_at(t, link)->kind;
    /* inside a node (NVLink, mesh, PCIe) or through NICs and spines */
    return k == TOPO_NIC_UP || k == TOPO_NIC_DOWN || k == TOPO_SPINE_UP ||
                   k == TOPO_SPINE_DOWN
               ? "rdma"
               : "nvlink";
}

/* One dispatch and one combine on the first G GPUs. A topology of its own
 * is built for them, so --gpus 16 on a 4-node scenario times EP16 on 2 nodes
 * rather than 16 GPUs scattered through a larger fabric. The combine sends
 * back exactly what the dispatch delivered (every row returns to its
 * token's GPU), in the combine dtype. */
static int run_moe(const scenario *s, const topo_t *t, int G, coll_a2a_algo algo,
                   moe_result *disp, moe_result *comb, err_t *e)
{
    int gpn = topo_gpus_per_node(t);
    if (G % gpn != 0 && G > gpn)
        return err_set(e, ERR_INPUT, NULL, 0, NULL,
                       "--moe needs whole nodes: %d GPUs, %d a node", G, gpn);
    if (G < gpn)
        gpn = G;
    int nodes = G / gpn;
    if (s->model.experts % G != 0)
        return err_set(e, ERR_INPUT, NULL, 0, "model.experts",
                       "%d experts over %d GPUs; --moe needs a multiple of the GPUs",
                       s->model.experts, G);
    topo_config tc = s->cluster.topo; /* the scenario's links, on G GPUs */
    tc.nodes = nodes;
    tc.gpus_per_node = gpn;
    topo_t *mt = topo_new(&tc, e);
    if (!mt)
        return -1;
    size_t GG = (size_t)G * G;
    double *rows = xcalloc(GG, sizeof(*rows), "moe rows");
    double *node_rows = xcalloc((size_t)G * nodes, sizeof(*node_rows), "moe node rows");
    double *bytes = xcalloc(GG, sizeof(*bytes), "moe bytes");
    double *nbytes = xcalloc((size_t)G * nodes, sizeof(*nbytes), "moe node bytes");
    double *scores = xcalloc((size_t)s->model.experts, sizeof(*scores), "moe scores");
    int *order = xcalloc((size_t)s->model.experts, sizeof(*order), "moe order");
    int *tok = xcalloc(4 * (size_t)s->model.top_k, sizeof(*tok), "moe token");
    rng_set_t *rs = rng_new(s->seed);
    gsl_rng *r = rng_stream(rs, "collective/moe");
    for (int src = 0; src < G; src++)
        moe_route(s, r, G, gpn, src, scores, order, rows, node_rows, tok);
    free(tok);

    coll_plan p = COLL_PLAN_INIT;
    for (int pass = 0; pass < 2; pass++) {
        dtype_t dt = pass == 0 ? s->network.dispatch_dtype : s->network.combine_dtype;
        double rb = coll_row_bytes(s->model.hidden, dt);
        moe_result *out = pass == 0 ? disp : comb;
        if (pass == 0) {
            for (size_t i = 0; i < GG; i++)
                bytes[i] = rows[i] * rb;
            for (size_t i = 0; i < (size_t)G * nodes; i++)
                nbytes[i] = node_rows[i] * rb;
            coll_alltoallv(&p, mt, algo, bytes, nbytes);
        } else { /* the same rows back: GPU d returns to s what s sent it */
            for (int a = 0; a < G; a++)
                for (int b = 0; b < G; b++)
                    bytes[(size_t)b * G + a] = rows[(size_t)a * G + b] * rb;
            for (size_t i = 0; i < (size_t)G * nodes; i++)
                nbytes[i] = node_rows[i] * rb;
            coll_alltoallv_combine(&p, mt, algo, bytes, nbytes);
        }
        net_result ar;
        sim_time_t tt = plan_time(s, mt, &p, &ar);
        /* DeepEP's bytes, as GPU 0 counts them */
        double counted = 0;
        if (nodes == 1) {
            for (int src = 0; src < G; src++)
                counted += rows[(size_t)src * G + 0];
        } else {
            for (int n = 0; n < nodes; n++)
                counted += node_rows[n];
        }
        counted *= rb;
        out->time_s = sim_time_to_s(tt);
        out->bw = tt > 0 ? counted / out->time_s / 1e9 : 0;
        out->bottleneck = link_class(mt, ar.bottleneck_link);
    }
    coll_plan_fini(&p);
    rng_free(rs);
    free(rows);
    free(node_rows);
    free(bytes);
    free(nbytes);
    free(scores);
    free(order);
    topo_free(mt);
    return 0;
}

/* One MoE phase as JSON: time, bandwidth, bottleneck link class. */
static json_t *moe_json(const moe_result *r)
{
    json_t *o = jsonout_object();
    jsonout_set(o, "time_s", jsonout_real(r->time_s));
    jsonout_set(o, "bw_GBps", jsonout_real(r->bw));
    jsonout_set(o, "bottleneck", jsonout_str(r->bottleneck));
    return o;
}

/* Written whole or not at all (outfile.h), in the one number format of
 * every moesim JSON file (jsonout.h: reals round-trip exactly). */
static int write_json(const char *path, const char *op, const char *algo, const row *rows,
                      int nrows, const moe_result *d, const moe_result *c, err_t *e)
{
    static const char *const expand[] = {"", "rows", "moe", NULL};
    json_t *doc = jsonout_object(), *arr = jsonout_array();
    jsonout_set(doc, "schema", jsonout_str("moesim.collective/1"));
    for (int i = 0; i < nrows; i++) {
        json_t *r = jsonout_object();
        jsonout_set(r, "op", jsonout_str(op));
        jsonout_set(r, "algo", jsonout_str(algo));
        jsonout_set(r, "bytes", jsonout_int((int64_t)rows[i].bytes));
        jsonout_set(r, "time_s", jsonout_real(rows[i].time_s));
        jsonout_set(r, "algbw_GBps", jsonout_real(rows[i].algbw));
        jsonout_set(r, "busbw_GBps", jsonout_real(rows[i].busbw));
        jsonout_push(arr, r);
    }
    jsonout_set(doc, "rows", arr);
    if (d) {
        json_t *moe = jsonout_object();
        jsonout_set(moe, "dispatch", moe_json(d));
        jsonout_set(moe, "combine", moe_json(c));
        jsonout_set(doc, "moe", moe);
    }
    outfile out = OUTFILE_INIT;
    int rc = outfile_open(&out, path, e);
    if (rc == 0 && jsonout_write(out.f, doc, expand) < 0) {
        outfile_abort(&out);
        rc = err_set(e, ERR_RUN, path, 0, NULL, "writing the JSON failed");
    } else if (rc == 0) {
        rc = outfile_commit(&out, e);
    }
    json_decref(doc);
    return rc;
}

/* The algorithm names --algo picks for the op. */
typedef struct coll_choice {
    coll_a2a_algo a2a;
    coll_ar_algo ar;
    const char *name;
} coll_choice;

static int choose_algo(const coll_opts *o, const scenario *s, coll_choice *c, err_t *e)
{
    c->a2a = s->network.alltoall;
    c->ar = COLL_AR_RING;
    c->name = "ring";
    if (o->op == OP_ALLTOALL || o->moe) {
        if (o->algo && coll_a2a_parse(o->algo, &c->a2a) < 0)
            return err_set(e, ERR_INPUT, NULL, 0, NULL,
                           "--algo %.100s; allowed for alltoall: direct, pairwise, hierarchical",
                           o->algo);
        c->name = coll_a2a_name(c->a2a);
    } else if (o->algo) {
        if (strcmp(o->algo, "hierarchical") == 0 && o->op == OP_ALLREDUCE)
            c->ar = COLL_AR_HIERARCHICAL, c->name = "hierarchical";
        else if (strcmp(o->algo, "ring") != 0)
            return err_set(e, ERR_INPUT, NULL, 0, NULL, "--algo %.100s; allowed for %s: ring%s",
                           o->algo, op_names[o->op],
                           o->op == OP_ALLREDUCE ? ", hierarchical" : "");
    }
    return 0;
}

/* One plan per size from -b to -e, timed; the rows into *rows (caller
 * frees), printed on tab unless it is NULL. Stops at a signal. */
static int run_sizes(const coll_opts *o, const scenario *s, const topo_t *t, int n,
                     const coll_choice *ch, FILE *tab, row **rows, int *nrows, err_t *e)
{
    int G = topo_gpus(t), cap = 0;
    coll_plan p = COLL_PLAN_INIT;
    double *bytes = xcalloc((size_t)G * G, sizeof(*bytes), "collective bytes");
    int rc = 0;
    /* sizes multiply up from -b and stop at -e; the tolerance keeps -e
     * itself when the products round just above it */
    for (double sz = o->b; rc == 0 && sz <= o->e * (1 + 1e-12) && !cmd_signal();
         sz = sz * o->f) {
        double size = floor(sz);
        switch (o->op) {
        case OP_ALLTOALL:
            /* nccl-tests: size/n to every rank, the own share included
             * (a local copy, free here as in the busbw definition) */
            memset(bytes, 0, (size_t)G * G * sizeof(*bytes));
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    bytes[(size_t)i * G + j] = size / n;
            coll_alltoallv(&p, t, ch->a2a, bytes, NULL);
            break;
        case OP_ALLREDUCE: coll_allreduce(&p, t, n, size, ch->ar); break;
        case OP_ALLGATHER: coll_allgather(&p, t, n, size); break;
        case OP_REDUCESCATTER: coll_reducescatter(&p, t, n, size); break;
        }
        net_result r;
        sim_time_t tt = plan_time(s, t, &p, &r);
        if (tt < 0 || tt >= SIM_TIME_MAX / 2) { /* saturated: the clock ends at 106 days */
            rc = err_set(e, ERR_INPUT, NULL, 0, NULL,
                         "size %.0f bytes: its time does not fit the clock (2^62 ps, 53 "
                         "days, on this cluster's links); allowed: smaller sizes (-e)", size);
            break;
        }
        double ts = sim_time_to_s(tt);
        double algbw = ts > 0 ? size / ts / 1e9 : 0;
        double factor = o->op == OP_ALLREDUCE ? 2.0 * (n - 1) / n : (double)(n - 1) / n;
        if (*nrows == cap) {
            cap = cap ? 2 * cap : 32;
            *rows = xrealloc(*rows, (size_t)cap, sizeof(**rows), "collective rows");
        }
        (*rows)[(*nrows)++] = (row){size, ts, algbw, algbw * factor};
        if (tab)
            fprintf(tab, "  %12.0f %12.0f %8s %12.2f %10.2f %10.2f\n", size, floor(size / 4),
                    "float", ts * 1e6, algbw, algbw * factor);
    }
    coll_plan_fini(&p);
    free(bytes);
    return rc;
}

/* Everything after the options: load, time, print, write; the exit status.
 * The table goes to stdout unless --json does. */
static int collective(const coll_opts *o, scenario *s, err_t *e)
{
    FILE *tab = o->json && strcmp(o->json, "-") == 0 ? NULL : stdout;
    row *rows = NULL;
    int nrows = 0, rc = -1;
    coll_choice ch;
    topo_t *t = NULL;
    if (cli_load(o->file, o->sets, o->nsets, s, e) < 0 || !(t = topo_new(&s->cluster.topo, e)))
        goto done;
    int G = topo_gpus(t), n = o->gpus ? o->gpus : G;
    if (n > G) {
        err_set(e, ERR_INPUT, NULL, 0, NULL, "--gpus %d: the scenario has %d GPUs", n, G);
        goto done;
    }
    if (choose_algo(o, s, &ch, e) < 0)
        goto done;
    if (tab)
        fprintf(tab, "# moesim collective: %s on %d of %d GPUs (%d x %d %s), %s network\n",
                o->moe && !o->op_given ? "moe" : op_names[o->op], n, G, s->cluster.topo.nodes,
                s->cluster.topo.gpus_per_node, s->cluster.gpu.name,
                net_model_name(s->network.model));
    if (!o->moe || o->op_given) {
        if (tab)
            fprintf(tab, "# %12s %12s %8s %12s %10s %10s\n", "size (B)", "count", "type",
                    "time (us)", "algbw GB/s", "busbw GB/s");
        if (run_sizes(o, s, t, n, &ch, tab, &rows, &nrows, e) < 0)
            goto done;
    }
    moe_result d = {0, 0, "none"}, c = {0, 0, "none"};
    if (o->moe && !cmd_signal()) {
        if (run_moe(s, t, n, ch.a2a, &d, &c, e) < 0)
            goto done;
        if (tab) {
            fprintf(tab, "# moe (DeepEP accounting): %d tokens/rank, hidden %d, top-%d of %d "
                         "experts, dispatch %s, combine %s, %s\n",
                    s->workload.tokens_per_rank, s->model.hidden, s->model.top_k,
                    s->model.experts, dtype_name(s->network.dispatch_dtype),
                    dtype_name(s->network.combine_dtype), coll_a2a_name(ch.a2a));
            fprintf(tab, "  dispatch %10.1f us %8.1f GB/s (%s)\n", d.time_s * 1e6, d.bw,
                    d.bottleneck);
            fprintf(tab, "  combine  %10.1f us %8.1f GB/s (%s)\n", c.time_s * 1e6, c.bw,
                    c.bottleneck);
        }
    }
    if (cmd_signal())
        goto done;
    if (o->json && write_json(o->json, op_names[o->op], ch.name, rows, nrows,
                              o->moe ? &d : NULL, o->moe ? &c : NULL, e) < 0)
        goto done;
    rc = 0;
done:
    free(rows);
    topo_free(t);
    return rc;
}

int cmd_collective(int argc, char **argv)
{
    coll_opts o;
    int rc = parse(argc, argv, &o);
    if (rc == 0) {
        scenario s;
        memset(&s, 0, sizeof(s));
        err_t e = ERR_INIT;
        if (collective(&o, &s, &e) < 0)
            rc = cmd_signal() ? cmd_signal_status() : cmd_print_err(stderr, NULL, &e);
        scenario_fini(&s);
    }
    opts_fini(&o.raw);
    free(o.sets);
    return rc < 0 ? 0 : rc;
}
