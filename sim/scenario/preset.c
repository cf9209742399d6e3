/*
 * preset.c - system presets: a named machine (cluster.system) stands for the
 * cluster keys it implies, with the sources of its figures. GPU presets are
 * the GPU model's (models/gpu.c).
 */
#include "loader.h"

#include <stdio.h>
#include <string.h>

/* A named machine: the cluster keys it implies, as `--set` would write them.
 * They fill in only what the scenario (and the command line) left out.
 * Figures and sources: docs/hardware.md ("Systems"). */
static const struct system_preset {
    const char *name;
    const char *keys[8];
} systems[] = {
    /* NVIDIA DGX H100 user guide: 8 H100 SXM5, 4 NVSwitch (NVLink4, 900 GB/s per
     * GPU both ways), 8 ConnectX-7 400 Gb/s compute ports, one per GPU */
    {"DGX-H100",
     {"cluster.gpus_per_node=8", "cluster.gpu=H100-SXM", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=450 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=400 Gb/s", NULL}},
    /* DeepSeek ISCA 2025 §4.1/§4.3: 8 H800 SXM5 per node, NVLink 400 GB/s both
     * ways, 8 ConnectX-7 400 Gb/s InfiniBand NICs, one per GPU */
    {"HGX-H800",
     {"cluster.gpus_per_node=8", "cluster.gpu=H800-SXM", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=200 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=400 Gb/s", NULL}},
    /* NVIDIA DGX A100 user guide: 8 A100 SXM4 80GB, 6 NVSwitch (NVLink3, 600 GB/s
     * per GPU both ways), 8 ConnectX-6 200 Gb/s HDR InfiniBand compute ports */
    {"DGX-A100",
     {"cluster.gpus_per_node=8", "cluster.gpu=A100-SXM-80GB", "cluster.intra.kind=nvswitch",
      "cluster.intra.bandwidth=300 GB/s", "cluster.inter.kind=ib",
      "cluster.inter.bandwidth=200 Gb/s", NULL}},
};

/* The GPU the tree names (cluster.gpu, or its group's preset), or NULL. */
static const config_setting_t *tree_gpu(const loader *L, const char **name)
{
    const config_setting_t *g = config_lookup(L->cfg, "cluster.gpu");
    const config_setting_t *p = g && config_setting_is_group(g)
                                    ? config_setting_get_member(g, "preset")
                                    : g;
    *name = p && config_setting_type(p) == CONFIG_TYPE_STRING ? config_setting_get_string(p)
                                                               : NULL;
    return *name ? p : NULL;
}

/* A system and a cluster.gpu of another GPU: the system would fill in
 * nothing the GPU does not contradict, silently. Refused, naming both. */
static int system_conflict(loader *L, const struct system_preset *sp,
                           const config_setting_t *st, err_t *e)
{
    const char *gpu = NULL, *want = NULL;
    const config_setting_t *g = tree_gpu(L, &gpu);
    for (const char *const *kv = sp->keys; *kv; kv++)
        if (strncmp(*kv, "cluster.gpu=", 12) == 0)
            want = *kv + 12;
    if (!g || !want || strcmp(gpu, want) == 0)
        return 0;
    return scenario_fail(L, st, "cluster.system", e,
                         "\"%s\" is a system of %s GPUs, but cluster.gpu (%s:%d) is \"%s\"; "
                         "allowed: leave cluster.gpu out (the system's GPU), set cluster.gpu "
                         "= \"%s\", or leave cluster.system out",
                         sp->name, want,
                         config_setting_source_file(g) ? config_setting_source_file(g) : L->name,
                         config_setting_source_line(g), gpu, want);
}

/* Expands cluster.system into the keys it implies that the tree lacks. A
 * value of the wrong type is left for the row's own type check. */
int scenario_apply_system(loader *L, err_t *e)
{
    const config_setting_t *st = config_lookup(L->cfg, "cluster.system");
    if (!st || config_setting_type(st) != CONFIG_TYPE_STRING)
        return 0;
    const char *name = config_setting_get_string(st);
    if (!name[0])
        return 0;
    for (size_t i = 0; i < sizeof(systems) / sizeof(systems[0]); i++) {
        if (strcmp(name, systems[i].name) != 0)
            continue;
        if (system_conflict(L, &systems[i], st, e) < 0)
            return -1;
        for (const char *const *kv = systems[i].keys; *kv; kv++) {
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)(strchr(*kv, '=') - *kv), *kv);
            if (!config_lookup(L->cfg, key) && scenario_apply_set(L, *kv, e) < 0)
                return -1;
        }
        return 0;
    }
    return scenario_fail(L, st, "cluster.system", e,
                         "\"%s\" is not a system preset; allowed: \"DGX-H100\", \"HGX-H800\", "
                         "\"DGX-A100\"",
                         name);
}
