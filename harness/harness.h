/*
 * harness: the `harness` command-line program. Each subcommand lives in its
 * own file (harness/cmd_<name>.c) and is listed in the table in main.c.
 * Prefix hx_.
 */
#ifndef HX_HARNESS_H
#define HX_HARNESS_H

#include "common/common.h"

/*
 * A subcommand: argc/argv start after the subcommand name. Returns the
 * process exit status (0 ok). Errors are printed by the command itself as
 * "harness <cmd>: <message>" on stderr.
 */
typedef int (*hx_cmd_fn)(int argc, char **argv);

typedef struct hx_cmd {
    const char *name;
    hx_cmd_fn fn;
    const char *usage;   /* arguments, e.g. "--dataset NAME --scale S --out DIR" */
    const char *help;    /* one line */
} hx_cmd;

/* Print "harness <cmd>: <msg>" for e to stderr and return exit status 1
 * (2 for IB_EINVAL: bad usage). */
int hx_fail(const char *cmd, const ib_err *e);

/* Directory holding the imager and harness binaries (for launching the
 * imager from the harness): $IMBENCH_BIN, else the harness's own dir. */
const char *hx_bin_dir(void);

int hx_cmd_gen(int argc, char **argv);
int hx_cmd_run_suite(int argc, char **argv);
int hx_cmd_list(int argc, char **argv);
int hx_cmd_show(int argc, char **argv);
int hx_cmd_export(int argc, char **argv);
int hx_cmd_sysinfo(int argc, char **argv);
int hx_cmd_ingest(int argc, char **argv);
int hx_cmd_verify(int argc, char **argv);

#endif
