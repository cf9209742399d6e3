/*
 * cmd.c - the table of commands, dispatch and help, the diagnostics'
 * printers, and the signal flag.
 *
 * Help is generated from the table, so a command added to it appears in
 * `moesim help` with no other edit. The one piece of file-scope mutable
 * state in moesim lives here: the signal flag. A signal handler can reach
 * nothing else (it gets no context pointer), and POSIX allows it to store
 * only to a `volatile sig_atomic_t`; the handler does exactly that, as
 * Redis's does, and the run loop looks at the flag between batches.
 */
#include "moesim/cmd.h"

#include <signal.h>
#include <stdarg.h>
#include <string.h>

#include "moesim/opts.h"
#include "moesim/scenario.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *operands; /* shown after the name in the list */
    const char *summary;
    const char *usage;
} command;

static const command commands[] = {
    {"run", cmd_run, "[SCENARIO]",
     "simulate a scenario (none: the built-in Mixtral 8x7B on 8 H100)", cmd_run_usage},
    {"check", cmd_check, "SCENARIO", "validate a scenario file, run nothing", cmd_check_usage},
    {"compare", cmd_compare, "SCENARIO --vary KEY=V1,V2,...",
     "the scenario under each value, side by side, in parallel processes", cmd_compare_usage},
    {"collective", cmd_collective, "SCENARIO",
     "collectives or one MoE all-to-all on its cluster, nccl-tests style",
     cmd_collective_usage},
    {"place", cmd_place, "--loads F --gpus M", "an expert placement from a load table, as JSON",
     cmd_place_usage},
};
#define NCOMMANDS ((int)(sizeof(commands) / sizeof(commands[0])))

static const command *find(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void main_usage(FILE *f)
{
    fputs("usage: moesim <command> [options]\n"
          "\n"
          "moesim simulates Mixture-of-Experts models on GPU clusters: real routing of\n"
          "token streams, expert capacity and overflow, all-to-all times and throughput.\n"
          "\n"
          "commands:\n",
          f);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s\n  %12s %s\n", commands[i].name, commands[i].operands, "",
                commands[i].summary);
    fputs("  help [COMMAND]  this text, or a command's options ('moesim CMD --help' too);\n"
          "                  'help keys': every scenario key\n"
          "\n"
          "  moesim --version prints the version.\n"
          "Options: --opt VALUE or --opt=VALUE; -- ends the options; an output option\n"
          "takes - for stdout.\n"
          "Exit status: 0 success, 1 the run failed, 2 bad input, 128+N after signal N.\n"
          "Scenario keys: docs/scenario.md. Output schema: docs/output.md.\n",
          f);
}

int cmd_help(const char *name)
{
    const command *c = find(name);
    if (!c)
        return ERR_INPUT;
    fputs(c->usage, stdout);
    return 0;
}

/* `moesim help [TOPIC]`. */
static int help(int argc, char **argv)
{
    if (argc < 1) {
        main_usage(stdout);
        return 0;
    }
    if (strcmp(argv[0], "keys") == 0) {
        scenario_write_keys_md(stdout);
        return 0;
    }
    if (cmd_help(argv[0]) == 0)
        return 0;
    return cmd_usage(NULL, "no help on '%.100s'", argv[0]);
}

int cmd_main(int argc, char **argv)
{
    if (argc < 2) {
        main_usage(stderr);
        return ERR_INPUT;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("moesim %s\n", MOESIM_VERSION);
        return 0;
    }
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0)
        return help(argc - 2, argv + 2);
    const command *c = find(name);
    if (!c) {
        const char *near = NULL;
        int best = 3;
        for (int i = 0; i < NCOMMANDS; i++) {
            int d = opts_distance(name, commands[i].name);
            if (d < best)
                best = d, near = commands[i].name;
        }
        if (near)
            return cmd_usage(NULL, "unknown command '%.100s' (did you mean '%s'?)", name, near);
        return cmd_usage(NULL, "unknown command '%.100s'", name);
    }
    cmd_signals_install();
    return c->fn(argc - 1, argv + 1);
}

/* ---- diagnostics ---- */

int cmd_print_err(FILE *f, const char *prefix, const err_t *e)
{
    char buf[1400];
    err_format(e, buf, sizeof(buf));
    if (prefix)
        fprintf(f, "%s: %s\n", prefix, buf);
    else
        fprintf(f, "%s\n", buf);
    return e->code == ERR_OK ? ERR_RUN : (int)e->code;
}

int cmd_usage(const char *cmd, const char *fmt, ...)
{
    fprintf(stderr, "moesim%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "; see 'moesim %s --help'\n", cmd);
    else
        fprintf(stderr, "; see 'moesim help'\n");
    return ERR_INPUT;
}

/* ---- signals ---- */

static volatile sig_atomic_t got_signal; /* the one mutable global: see the file head */

static void on_signal(int sig)
{
    if (!got_signal)
        got_signal = sig;
}

void cmd_signals_install(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* reads and writes carry on; the flag is checked */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        struct sigaction old;
        /* a signal ignored on entry stays ignored: nohup's SIGHUP, a
         * non-interactive shell's SIGINT for a background job */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

int cmd_signal(void)
{
    return (int)got_signal;
}

int cmd_signal_status(void)
{
    return got_signal ? 128 + (int)got_signal : 0;
}
