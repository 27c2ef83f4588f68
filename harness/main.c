/*
 * main.c: the harness's command table and dispatcher (as git's git.c).
 */
#include "harness/harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <limits.h>
#include <stdlib.h>

static const hx_cmd commands[] = {
    {"gen", hx_cmd_gen, "--dataset NAME --scale S --out DIR [options]",
     "generate a synthetic visibility set for a seed dataset"},
    {"import-ms", hx_cmd_import_ms,
     "MS --out DIR [--column C] [--spw N] [--field LIST] [--chans A~B]",
     "import a MeasurementSet into a visibility store"},
    {"export-ms", hx_cmd_export_ms, "DIR OUT.ms [--overwrite]",
     "write a visibility store as a MeasurementSet"},
    {"compare-images", hx_cmd_compare_images, "A.fits B.fits... [--inner F] [--tol X]",
     "per-plane rms((A - B) / peak) of an imbench cube against WSClean images"},
    {"sysinfo", hx_cmd_sysinfo, "[--json] [--dir DIR]",
     "what this machine offers: cores, memory, MPI, PAPI counters, versions"},
    {"provenance", hx_cmd_provenance, "[--out FILE]", "a run's record of this machine and build (JSON)"},
    {"run-suite", hx_cmd_run_suite, "SUITE.yaml [--db F] [--resume] [--dry-run] [options]",
     "run every cell of a suite, recording results in SQLite"},
    {"list", hx_cmd_list, "[--db F]", "list recorded runs with cell and attempt counts"},
    {"show", hx_cmd_show, "ID [--db F]", "one run: provenance, cells, median wall, status"},
    {"export", hx_cmd_export, "--format csv|json [--db F] [--run ID]",
     "tidy rows, one per (attempt, metric)"},
    {"verify", hx_cmd_verify, "[--db F]", "check the results database's integrity"},
    {"migrate", hx_cmd_migrate, "[--db F]",
     "bring a results database to this program's schema version"},
    {"ingest", hx_cmd_ingest, "DIR [--db F]", "record cells run elsewhere (DIR/*/cell.json)"},
    {"report", hx_cmd_report, "[--db F] [--run ID] [--out DIR] [--gantt-cell ID]",
     "HTML + Markdown report of a run with gnuplot figures and models"},
    {"compare", hx_cmd_compare, "[--run A] --against B|casa|wsclean [--metric M] [--threshold X]",
     "compare two runs cell by cell (exit 1 on a regression), a run with CASA or WSClean"},
    {"casa-import", hx_cmd_casa_import, "LOG... --dataset NAME --nodes N [--cores C]",
     "record the tclean calls of CASA logs as baselines"},
    {"baselines", hx_cmd_baselines, "import FILE.yaml | list [--db F]",
     "import a baselines file, or list the recorded baselines"},
    {"bench", hx_cmd_bench, "[--db F] [--run ID]",
     "ratios of a bench run (make bench): efficiencies, costs, chunk sweeps"},
    {"simulate", hx_cmd_simulate, "--cell ID|--validate|--study [--platform P] [--nodes ..]",
     "replay a measured cell on a simulated cluster (SimGrid)"},
    {NULL, NULL, NULL, NULL},
};

static char bin_dir[PATH_MAX];

const char *hx_bin_dir(void)
{
    const char *env = getenv("IMBENCH_BIN");
    if (env && *env) return env;
    return bin_dir;
}

int hx_fail(const char *cmd, const ib_err *e)
{
    fprintf(stderr, "harness %s: %s\n", cmd, e->msg[0] ? e->msg : ib_strerror(e->code));
    return e->code == IB_EINVAL ? 2 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: harness <command> [options]\n\ncommands:\n");
    for (const hx_cmd *c = commands; c->name; c++)
        fprintf(f, "  %-12s %s\n", c->name, c->help);
    fprintf(f, "\n'harness <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    /* Past `ulimit -f` a write fails with EFBIG and the command says which
     * file, instead of dying of SIGXFSZ (hx_run_process gives children the
     * default back). */
    signal(SIGXFSZ, SIG_IGN);
    ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof bin_dir - 1);
    if (n > 0) {
        bin_dir[n] = '\0';
        char *slash = strrchr(bin_dir, '/');
        if (slash) *slash = '\0';
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    for (const hx_cmd *c = commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0) return c->fn(argc - 2, argv + 2);
    fprintf(stderr, "harness: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
