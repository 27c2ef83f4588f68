/*
 * cli.c: the harness's command table and the one option-parsing preamble
 * every command uses (hx_parse): getopt_long through ib_parse_opts, -h
 * and --help answered from the table (usage line, description, options
 * aligned in columns, examples, exit codes), a bad option or a wrong
 * count of arguments answered with the message and the usage line. The
 * examples are run as written by tests/test_cli.sh, in a scratch
 * directory and in the order that script gives.
 */
#include "harness/harness.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workloads/workloads.h"

#define EXITS_DEFAULT                                                                          \
    "0  success\n"                                                                             \
    "1  failure (the message names the file, dataset, option or field)\n"                      \
    "2  usage error: a bad option, value or argument\n"

static const hx_cmd commands[] = {
    {.name = "gen", .fn = hx_cmd_gen, .usage = "--dataset NAME --scale S --out DIR [options]",
     .help = "generate a synthetic visibility set for a seed dataset",
     .about = "Generate a synthetic visibility set for a seed dataset, scaled down. Writes "
              "DIR/vis.h5 (the visibility store) and DIR/sky.json (its sky). Dataset specs are "
              "found by --datasets-dir, else $IMBENCH_DATASETS, else beside the program "
              "(the source tree's workloads/datasets, or PREFIX/share/imbench/datasets when "
              "installed).",
     .examples = "harness gen --dataset alma-xc66 --scale 0.001 --out d\n"
                 "harness gen --dataset vla-chiles --scale 0.0001 --times 4 --out v --ms v.ms\n"},
    {.name = "import-ms", .fn = hx_cmd_import_ms,
     .usage = "MS --out DIR [--column C] [--spw N] [--field LIST] [--chans A~B]",
     .help = "import a MeasurementSet into a visibility store",
     .about = "Import a MeasurementSet into the visibility store DIR/vis.h5, streaming the main "
              "table in row blocks. One spectral window; several fields become mosaic pointings "
              "(the phase centre is the first selected field's). XX/YY or RR/LL are kept; full "
              "polarisation keeps its parallel hands. Weights come from WEIGHT_SPECTRUM, else "
              "WEIGHT, else 1/SIGMA^2; FLAG_ROW flags whole rows.",
     .examples = "harness import-ms v.ms --out v2\n"
                 "harness import-ms d.ms --out d2 --column DATA --chans 0~3\n"},
    {.name = "export-ms", .fn = hx_cmd_export_ms, .usage = "DIR OUT.ms [--overwrite]",
     .help = "write a visibility store as a MeasurementSet",
     .about = "Write the visibility store DIR/vis.h5 as a MeasurementSet OUT.ms: main table "
              "(UVW, DATA, FLAG, FLAG_ROW, WEIGHT, SIGMA, WEIGHT_SPECTRUM, TIME, ...) and the "
              "ANTENNA, FEED, SPECTRAL_WINDOW, POLARIZATION, DATA_DESCRIPTION, FIELD, "
              "OBSERVATION and PROCESSOR rows. 'harness import-ms' reads it back unchanged.",
     .examples = "harness export-ms d d.ms\n"
                 "harness export-ms d d.ms --overwrite\n"},
    {.name = "compare-images", .fn = hx_cmd_compare_images,
     .usage = "A.fits B.fits... [--inner F] [--tol X]",
     .help = "per-plane rms((A - B) / peak) of an imbench cube against WSClean images",
     .about = "Compare the planes of an imbench cube A with those of B (a cube, or WSClean's "
              "per-channel images, e.g. ws-*-XX-image.fits), matched by Stokes and frequency: "
              "per plane the peak |A| and rms((A - B) / peak).",
     .examples = "harness compare-images o/dirty.fits o2/dirty.fits\n"
                 "harness compare-images o/dirty.fits o2/dirty.fits --inner 0.5 --tol 1e-4\n",
     .exits = "0  every plane within --tol\n"
              "1  a plane exceeds --tol\n"
              "2  usage error, or images that cannot be read or do not share a grid\n"},
    {.name = "sysinfo", .fn = hx_cmd_sysinfo, .usage = "[--json] [--dir DIR] [--read-speed MB]",
     .help = "what this machine offers: cores, memory, MPI, PAPI counters, versions",
     .examples = "harness sysinfo\n"
                 "harness sysinfo --json --dir .\n"},
    {.name = "provenance", .fn = hx_cmd_provenance, .usage = "[--out FILE] [--command TEXT]",
     .help = "a run's record of this machine and build (JSON)",
     .examples = "harness provenance --out prov.json\n"
                 "harness provenance --command 'imager --vis d --out o'\n"},
    {.name = "run-suite", .fn = hx_cmd_run_suite,
     .usage = "SUITE.yaml|NAME [--db F] [--resume] [--dry-run] [options]",
     .help = "run every cell of a suite, recording results in SQLite",
     .about = "Run every cell of a suite and record each attempt in the results database. "
              "SUITE is a file, or the name of a suite shipped with imbench (smoke, default, "
              "bench, parallel, seed-study, simcheck, slurm: the source tree's "
              "workloads/suites, or PREFIX/share/imbench/suites when installed). Progress goes "
              "to stderr: a live line fitted to the terminal's width on a terminal, one line "
              "per finished cell otherwise.",
     .examples = "harness run-suite smoke --db r.db --dry-run\n"
                 "harness run-suite smoke --db r.db --data-dir cache --out-dir cells\n"
                 "harness run-suite smoke --db r.db --data-dir cache --out-dir cells --resume\n",
     .exits = "0  every cell ran and was recorded\n"
              "1  a cell failed or timed out, or the suite or database could not be used\n"
              "2  usage error: a bad option, or a suite value the imager would refuse\n"},
    {.name = "list", .fn = hx_cmd_list, .usage = "[--db FILE]",
     .help = "list recorded runs with cell and attempt counts",
     .examples = "harness list --db r.db\n"},
    {.name = "show", .fn = hx_cmd_show, .usage = "RUN_ID [--db FILE]",
     .help = "one run: provenance, cells, median wall, status",
     .examples = "harness show 1 --db r.db\n"},
    {.name = "export", .fn = hx_cmd_export, .usage = "--format csv|json [--db FILE] [--run ID] [--out FILE]",
     .help = "tidy rows, one per (attempt, metric)",
     .examples = "harness export --db r.db --format csv --out r.csv\n"
                 "harness export --db r.db --format json --run 1 --out r.json\n"},
    {.name = "verify", .fn = hx_cmd_verify, .usage = "[--db FILE]",
     .help = "check the results database's integrity",
     .examples = "harness verify --db r.db\n",
     .exits = "0  the database is sound\n"
              "1  a problem was found (listed), or the database cannot be read\n"
              "2  usage error\n"},
    {.name = "migrate", .fn = hx_cmd_migrate, .usage = "[--db FILE]",
     .help = "bring a results database to this program's schema version",
     .examples = "harness migrate --db r.db\n"},
    {.name = "ingest", .fn = hx_cmd_ingest, .usage = "DIR [--db FILE] [--suite NAME]",
     .help = "record cells run elsewhere (DIR/*/cell.json)",
     .about = "Record attempts run elsewhere: every DIR/.../cell.json with the stats.json (and "
              "provenance.json) beside it, into one run per suite of DIR. Ingesting DIR again "
              "adds only attempts not recorded yet, into the same run.",
     .examples = "harness ingest cells --db r2.db\n"
                 "harness ingest cells --db r2.db --suite smoke\n"},
    {.name = "report", .fn = hx_cmd_report, .usage = "[--db FILE] [--run ID] [--out DIR] [--gantt-cell ID] [--full-scale S]\n"
              "[--fit-runs ID,...] [--store-predictions] [options]",
     .help = "HTML + Markdown report of a run with gnuplot figures and models",
     .about = "Writes index.html (self-contained), report.md and, per figure, NAME.dat, NAME.gp "
              "(re-run with `gnuplot NAME.gp` in the directory), NAME.png, NAME.svg.",
     .examples = "harness report --db r.db --out report\n"},
    {.name = "compare", .fn = hx_cmd_compare,
     .usage = "[--run A] --against B|casa|wsclean [--metric M[,M...]|all] [--threshold X]",
     .help = "compare two runs cell by cell (exit 1 on a regression), a run with CASA or WSClean",
     .about = "--against B compares run A with run B cell by cell (bootstrap intervals, "
              "Benjamini-Hochberg over the cells). --against casa compares scaling with the "
              "recorded CASA baselines (normalised speedups, model extrapolation). --against "
              "wsclean pairs each WSClean cell of run A with the imbench cell of the same "
              "parameters but imager and prints median(imbench) / median(wsclean) with its "
              "bootstrap 95% interval per pair and metric (default wall_time); cells without a "
              "partner or without values (skipped: wsclean not installed, ...) are listed as "
              "such.",
     .examples = "harness compare --db r.db --run 1 --against 1\n"
                 "harness compare --db r.db --run 1 --against casa\n",
     .exits = "0  no significant regression beyond the threshold (casa, wsclean: always 0)\n"
              "1  a regression beyond the threshold is significant\n"
              "2  usage error, or anything that stops the comparison\n"},
    {.name = "casa-import", .fn = hx_cmd_casa_import,
     .usage = "LOG... --dataset NAME --nodes N [--cores C] [--label L]",
     .help = "record the tclean calls of CASA logs as baselines",
     .about = "Each successful tclean call becomes a baseline (system casa-<version>, metric "
              "wall_time, source casa-log, parameters and log provenance in the note). Failed "
              "calls are reported and skipped; a log that does not parse is refused whole. "
              "Importing a log again replaces its records. (In the examples casa.log is a "
              "CASA log with tclean calls.)",
     .examples = "harness casa-import casa.log --dataset alma-xc66 --nodes 1 --db r.db\n"},
    {.name = "baselines", .fn = hx_cmd_baselines, .usage = "import FILE.yaml|NAME [--db FILE]\nlist [--dataset NAME] [--db FILE]",
     .help = "import a baselines file, or list the recorded baselines",
     .about = "import: store the published or measured figures of FILE.yaml (format: the top "
              "of seed-study.yaml) in one transaction; importing the same file again replaces "
              "its records. NAME is a baselines file shipped with imbench (seed-study: the "
              "source tree's workloads/baselines, or PREFIX/share/imbench/baselines). list: "
              "the recorded baselines.",
     .examples = "harness baselines import seed-study --db r.db\n"
                 "harness baselines list --db r.db\n"},
    {.name = "bench", .fn = hx_cmd_bench, .usage = "[--db FILE] [--run ID] [--suite NAME]",
     .help = "ratios of a bench run (make bench): efficiencies, costs, chunk sweeps",
     .about = "Ratios from a run of the bench suite (workloads/suites/bench.yaml, see `make "
              "bench`); --suite and --run choose another run.",
     .examples = "harness bench --db r.db --suite smoke\n"},
    {.name = "simulate", .fn = hx_cmd_simulate,
     .usage = "--cell ID [--db F] [--platform P] [--nodes N1,N2,..] [--threads T] [options]\n"
              "--validate [--db F] [--platform P]\n"
              "--study [--db F] [--platform P]",
     .help = "replay a measured cell on a simulated cluster (SimGrid)",
     .about = "Replay a measured cell's tasks on a simulated cluster (SimGrid). A platform is a "
              "file, or the name of one shipped with imbench (this-machine, study-cluster: the "
              "source tree's workloads/platforms, or PREFIX/share/imbench/platforms).",
     .examples = "harness simulate --db r.db --cell 1 --nodes 1 --threads 2\n"
                 "harness simulate --db r.db --cell 1 --platform study-cluster --nodes 1,2,4\n",
     .exits = "0  success\n"
              "1  failure (a cell without tasks, a platform that cannot be read, SimGrid)\n"
              "2  usage error, or input that cannot be replayed\n"},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};

const char *hx_bin_dir(void)
{
    static char bin_dir[PATH_MAX];
    const char *env = getenv("IMBENCH_BIN");
    if (env && *env) return env;
    if (!bin_dir[0]) {
        ssize_t n = readlink("/proc/self/exe", bin_dir, sizeof bin_dir - 1);
        if (n > 0) {
            bin_dir[n] = '\0';
            char *slash = strrchr(bin_dir, '/');
            if (slash) *slash = '\0';
        }
    }
    return bin_dir;
}

int hx_fail(const char *cmd, const ib_err *e)
{
    fprintf(stderr, "harness %s: %s\n", cmd, e->msg[0] ? e->msg : ib_strerror(e->code));
    return e->code == IB_EINVAL ? 2 : 1;
}

const hx_cmd *hx_commands(void)
{
    return commands;
}

const hx_cmd *hx_cmd_find(const char *name)
{
    for (const hx_cmd *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0) return c;
    return NULL;
}

/* Words of text wrapped before column 80, each line indented by indent. */
static void put_para(FILE *f, const char *text, int indent)
{
    const char *p = text;
    int col = 0;
    while (*p) {
        size_t w = strcspn(p, " \n");
        if (col > 0 && col + 1 + (int)w > 79) {
            fputc('\n', f);
            col = 0;
        }
        if (col == 0) col = fprintf(f, "%*s", indent, "");
        else col += fprintf(f, " ");
        col += fprintf(f, "%.*s", (int)w, p);
        p += w;
        while (*p == ' ') p++;
        if (*p == '\n') {
            fputc('\n', f);
            col = 0;
            p++;
        }
    }
    if (col) fputc('\n', f);
}

/* Lines of text, each indented by indent. */
static void put_lines(FILE *f, const char *text, int indent)
{
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        fprintf(f, "%*s%.*s\n", indent, "", (int)n, p);
        p += n;
        if (*p) p++;
    }
}

void hx_usage(void *fp, const char *cmd)
{
    const hx_cmd *c = hx_cmd_find(cmd);
    const char *u = c ? c->usage : "[options]";
    for (int first = 1; first || *u; first = 0) {
        size_t n = strcspn(u, "\n");
        fprintf(fp, "%s harness %s %.*s\n", first ? "Usage:" : "  or: ", cmd, (int)n, u);
        u += n;
        if (*u) u++;
    }
}

void hx_help(void *fp, const char *cmd, const ib_opt *opts)
{
    FILE *f = fp;
    const hx_cmd *c = hx_cmd_find(cmd);
    hx_usage(f, cmd);
    if (c) {
        fputc('\n', f);
        if (c->about) {
            put_para(f, c->about, 0);
        } else {
            char first[256];
            snprintf(first, sizeof first, "%s", c->help);
            first[0] = (char)(first[0] >= 'a' && first[0] <= 'z' ? first[0] - 32 : first[0]);
            fprintf(f, "%s.\n", first);
        }
    }
    fprintf(f, "\nOptions:\n");
    ib_print_opts(f, opts);
    if (c && c->examples) {
        fprintf(f, "\nExamples:\n");
        put_lines(f, c->examples, 2);
    }
    fprintf(f, "\nExit status:\n");
    put_lines(f, c && c->exits ? c->exits : EXITS_DEFAULT, 2);
}

int hx_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "harness %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    hx_usage(stderr, cmd);
    fprintf(stderr, "('harness %s --help' for more)\n", cmd);
    return 2;
}

int hx_parse(const char *cmd, const ib_opt *opts, int argc, char **argv, int *npos,
             int min_pos, int max_pos)
{
    char prog[64];
    snprintf(prog, sizeof prog, "harness %s", cmd);
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    if (!pos) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return 1;
    }
    ib_err e;
    ib_err_init(&e);
    int np = 0;
    int rc = ib_parse_opts(&e, prog, opts, argc, argv, pos, &np);
    for (int i = 0; !rc && i < np; i++) argv[i] = pos[i]; /* pos[i] came from argv[>= i] */
    free(pos);
    if (rc) {
        fprintf(stderr, "%s\n", e.msg);
        hx_usage(stderr, cmd);
        fprintf(stderr, "('%s --help' for more)\n", prog);
        return 2;
    }
    for (const ib_opt *o = opts; o->name; o++)
        if (strcmp(o->name, "help") == 0 && o->kind == IB_OPT_FLAG && *(int *)o->dst) {
            hx_help(stdout, cmd, opts);
            return 0;
        }
    if (np < min_pos)
        return hx_usage_error(cmd, "missing argument%s (%d given, %d needed)",
                              min_pos - np == 1 ? "" : "s", np, min_pos);
    if (max_pos >= 0 && np > max_pos) return hx_usage_error(cmd, "unexpected argument '%s'", argv[max_pos]);
    *npos = np;
    return -1;
}

int hx_data_file(const char *kind, const char *arg, char *buf, size_t n)
{
    if (!arg || strchr(arg, '/') || access(arg, F_OK) == 0) return 0;
    char dir[PATH_MAX];
    ib_err e;
    ib_err_init(&e);
    if (wl_datasets_dir(&e, NULL, dir, sizeof dir) != 0) return 0;
    char *slash = strrchr(dir, '/');
    if (!slash) return 0;
    *slash = '\0';
    size_t len = strlen(arg);
    const char *ext = len > 5 && strcmp(arg + len - 5, ".yaml") == 0 ? "" : ".yaml";
    int w = snprintf(buf, n, "%s/%s/%s%s", dir, kind, arg, ext);
    return w > 0 && (size_t)w < n && access(buf, F_OK) == 0;
}
