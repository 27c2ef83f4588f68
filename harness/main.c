/*
 * main.c: the harness's dispatcher (as git's git.c); the command table is
 * in cli.c.
 */
#include "harness/harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>

static void usage(FILE *f)
{
    size_t w = 0;
    for (const hx_cmd *c = hx_commands(); c->name; c++)
        if (strlen(c->name) > w) w = strlen(c->name);
    fprintf(f, "Usage: harness <command> [options]\n"
               "  or:  harness help [COMMAND]\n"
               "  or:  harness --version\n\n"
               "The imbench harness: generates datasets, runs suites of imager cells, records\n"
               "them in SQLite, reports, compares and simulates.\n\nCommands:\n");
    for (const hx_cmd *c = hx_commands(); c->name; c++)
        fprintf(f, "  %-*s  %s\n", (int)w, c->name, c->help);
    fprintf(f, "\nOptions:\n"
               "  -h, --help     this help; 'harness help COMMAND' or 'harness COMMAND --help'\n"
               "                 shows a command's options, examples and exit codes\n"
               "  --version      the version\n\n"
               "Examples:\n"
               "  harness help gen\n"
               "  harness gen --help\n"
               "  harness --version\n\n"
               "Exit status:\n"
               "  0  success\n"
               "  1  failure (the message names the file, dataset, option or field)\n"
               "  2  usage error: a bad option, value or argument\n"
               "Some commands add meanings (compare: 1 is a regression); see their help.\n\n"
               "Environment:\n"
               "  IMBENCH_DATASETS  directory of the dataset specs (default: beside the program)\n"
               "  IMBENCH_BIN       directory of the imager the harness launches\n");
}

/* `harness help [CMD]`, `harness help --commands` (the names, for shell
 * completion and the man page). */
static int help(int argc, char **argv)
{
    if (argc < 1) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[0], "--commands") == 0) {
        for (const hx_cmd *c = hx_commands(); c->name; c++) puts(c->name);
        return 0;
    }
    const hx_cmd *c = hx_cmd_find(argv[0]);
    if (!c) {
        fprintf(stderr, "harness help: unknown command '%s' ('harness help' lists them)\n",
                argv[0]);
        return 2;
    }
    char *av[] = {(char *)"--help", NULL};
    return c->fn(1, av);
}

int main(int argc, char **argv)
{
    /* Past `ulimit -f` a write fails with EFBIG and the command says which
     * file, instead of dying of SIGXFSZ (hx_run_process gives children the
     * default back). */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0) return help(argc - 2, argv + 2);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("harness (imbench) %s\n", ib_version());
        return 0;
    }
    const hx_cmd *c = hx_cmd_find(argv[1]);
    if (c) return c->fn(argc - 2, argv + 2);
    fprintf(stderr, "harness: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
