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
/* MeasurementSet import and export (cmd_import_ms.c, cmd_export_ms.c);
 * exit 1 for anything about the MS or store, 2 for bad options. */
int hx_cmd_import_ms(int argc, char **argv);
int hx_cmd_export_ms(int argc, char **argv);
int hx_cmd_run_suite(int argc, char **argv);
int hx_cmd_list(int argc, char **argv);
int hx_cmd_show(int argc, char **argv);
int hx_cmd_export(int argc, char **argv);
int hx_cmd_sysinfo(int argc, char **argv);
int hx_cmd_ingest(int argc, char **argv);
int hx_cmd_verify(int argc, char **argv);
/* migrate (cmd_results.c): bring a database to this program's schema. */
int hx_cmd_migrate(int argc, char **argv);
/* Reporting commands (cmd_report.c, cmd_compare.c, cmd_casa_import.c,
 * cmd_baselines.c). compare exits 1 on a significant regression, 2 on a
 * usage error or failure. */
int hx_cmd_report(int argc, char **argv);
int hx_cmd_bench(int argc, char **argv);
int hx_cmd_compare(int argc, char **argv);
int hx_cmd_casa_import(int argc, char **argv);
int hx_cmd_baselines(int argc, char **argv);
/* compare-images (cmd_compare_images.c): exit 1 over --tol, 2 on errors. */
int hx_cmd_compare_images(int argc, char **argv);
int hx_cmd_provenance(int argc, char **argv);

struct rep_full_shape;
/*
 * The full shapes of every dataset spec in dir (at most max), for the
 * report's and compare's full-size figures (cmd_report.c). A spec that
 * cannot be read is a warning on stderr, not an error. Returns the count;
 * why (nwhy bytes) explains a zero.
 */
size_t hx_full_shapes(const char *dir, struct rep_full_shape *shapes, size_t max, char *why,
                      size_t nwhy);

/*
 * What each of cells[0..n) needs before it runs (estimate.c): the samples
 * and store bytes of the dataset it generates, the bytes of the cubes it
 * writes, and its wall time predicted by the cost model fitted on the
 * small-scale cells in the database at dbpath (NAN with why when there is
 * no model or no prediction). about (nabout bytes) says what the model
 * was fitted on, or why there is none. 0, or the error of a dataset that
 * cannot be resolved.
 */
struct wl_cell;
typedef struct hx_estimate {
    double samples, store_bytes, cube_bytes, cores;
    double wall, lo, hi; /* seconds, with the model's band; NAN: none */
    char why[256];
} hx_estimate;
int hx_estimate_cells(ib_err *e, const char *dbpath, const char *datasets_dir,
                      const struct wl_cell *const *cells, size_t n, hx_estimate *out,
                      char *about, size_t nabout);
/* simulate (cmd_simulate.c): exit 2 on bad input, 1 on failures. */
int hx_cmd_simulate(int argc, char **argv);

/* ------------------------------------------------------------------ */
/* Provenance as JSON (cmd_provenance.c)                               */
/* ------------------------------------------------------------------ */

struct res_provenance;

/*
 * p as a JSON object (a new reference; NULL when out of memory) whose
 * keys are res_provenance's field names; libs, env and tuning are nested
 * objects. What `harness provenance` prints and Slurm jobs leave as
 * provenance.json.
 */
struct json_t *hx_provenance_json(const struct res_provenance *p);

/*
 * Read such a file into *p (zeroed first; fields it lacks stay "" / -1;
 * libs, env and tuning may be objects or strings of JSON). IB_EPARSE with
 * the path and line when it is not a JSON object.
 */
int hx_provenance_read(ib_err *e, const char *path, struct res_provenance *p);

/* ------------------------------------------------------------------ */
/* Child processes (launch.c)                                          */
/* ------------------------------------------------------------------ */

/* How a child ended. */
enum hx_end { HX_EXITED, HX_SIGNALED, HX_TIMED_OUT, HX_INTERRUPTED };

#define HX_TAIL_BYTES 4096

typedef struct hx_proc {
    enum hx_end end;
    int exit_code;                  /* exit status; 128+signal if killed */
    int signal;                     /* terminating signal or 0 */
    double wall_s;                  /* fork to reaping */
    char tail[HX_TAIL_BYTES + 8];   /* last ~4 KiB of stderr */
} hx_proc;

/*
 * Run argv[0] (searched in PATH) with fork/exec in its own process group:
 * stdin from /dev/null, stdout to out_path, stderr to err_path (either
 * may be NULL: /dev/null) and into res->tail. timeout_s > 0 bounds the
 * wall time: the group gets SIGTERM, then SIGKILL 2 s later, and end is
 * HX_TIMED_OUT. After hx_signals_install, SIGINT/SIGTERM to the harness
 * kill the group the same way and end is HX_INTERRUPTED. tick (may be
 * NULL) is called about twice a second with the elapsed seconds. Returns
 * 0 when the child ran (whatever its status; exec failure is exit 127
 * with the reason in the tail) or an error when it could not be started
 * (IB_ECHILD; IB_EIO for err_path, IB_ENOMEM for the tail buffer).
 */
int hx_run_process(ib_err *e, char *const argv[], const char *out_path,
                   const char *err_path, double timeout_s,
                   void (*tick)(void *ctx, double elapsed), void *ctx,
                   hx_proc *res);

/* Route SIGINT and SIGTERM to a flag that hx_run_process and
 * hx_interrupted see; hx_signals_restore puts the defaults back. */
void hx_signals_install(void);
void hx_signals_restore(void);
int hx_interrupted(void);

/* Full path of program name found in PATH into out; 0 or IB_ENOTFOUND. */
int hx_which(const char *name, char *out, size_t n);

/* ------------------------------------------------------------------ */
/* Progress display (progress.c)                                       */
/* ------------------------------------------------------------------ */

/*
 * On a terminal: one live line (cell i/n, parameters, elapsed, ETA)
 * rewritten in place, and a kept line per finished cell, every line fitted
 * to the terminal's width (cut with "...", messages wrapped) so that none
 * wraps. Otherwise one plain line per finished cell (and the messages),
 * never cut. run-suite writes it to stderr.
 */
typedef struct hx_progress {
    void *f;              /* FILE* written to */
    int tty;
    size_t total, done;
    double t0, busy;      /* start; seconds spent in finished cells */
    char label[256];      /* cell being run */
    size_t index;
    double cell_t0;
} hx_progress;

void hx_progress_init(hx_progress *p, void *f, size_t total);
/* The width of p's terminal in columns (TIOCGWINSZ), else $COLUMNS, else 80. */
int hx_progress_width(const hx_progress *p);
void hx_progress_begin(hx_progress *p, size_t index, const char *label);
void hx_progress_tick(void *p, double elapsed);  /* hx_run_process tick */
void hx_progress_end(hx_progress *p, const char *status, double wall_s,
                     const char *note);
void hx_progress_message(hx_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
