/*
 * rep_internal.h: what the results-backed files of the reports module
 * (rundata.c, models.c, plot.c, doc.c, report.c, compare.c, db_baselines.c)
 * share and nobody else sees — a growable string, escaping and number
 * formatting, a small document model rendered to both HTML and Markdown,
 * and the scaling-series / model helpers the report and `harness compare`
 * both use. Names rep__*, as the results module marks its internals.
 */
#ifndef REP_INTERNAL_H
#define REP_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "reports/reports.h"

/* ---- growable string (text.c) ---------------------------------------- */

/* A NUL-terminated growable string. Zero-initialise; release with
 * rep__sb_release. An allocation failure sets oom and keeps what fits. */
typedef struct rep__sb {
    char *s;
    size_t len, cap;
    int oom;
} rep__sb;

void rep__sb_printf(rep__sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep__sb_vprintf(rep__sb *b, const char *fmt, va_list ap);
void rep__sb_puts(rep__sb *b, const char *s);
/* The text ("" when empty; never NULL). */
const char *rep__sb_str(const rep__sb *b);
void rep__sb_release(rep__sb *b);

/* Heap copy of a printf result (ib_free), NULL when out of memory. */
char *rep__strdupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Write s with &, <, >, " escaped for HTML text and attributes. */
void rep__html_esc(FILE *f, const char *s);
/* Write s as one Markdown table cell: '|' escaped, newlines as spaces. */
void rep__md_cell(FILE *f, const char *s);

/* Write the file at path to f in base64 (no line breaks). IB_EIO. */
int rep__base64_file(ib_err *e, FILE *f, const char *path);

/*
 * Format v for a table: "%.4g" with the unit ("12.3 s", "1.5e+09 bytes"
 * becomes "1.50 GB" for bytes, "4.8 M" for counts, "12.5 ksamples/s" for
 * rates). NAN gives "-".
 */
void rep__fmt(char *buf, size_t n, double v, const char *unit);

/* Does a file exist (and is it a regular file)? */
int rep__file_exists(const char *path);

/* Write text to dir/name (created or truncated). IB_EIO naming the file. */
int rep__write_file(ib_err *e, const char *dir, const char *name, const char *text);

/* A name usable in file names: [A-Za-z0-9._-], others become '-'. */
void rep__slug(char *out, size_t n, const char *s);

/* ---- documents rendered to HTML and Markdown (doc.c) ------------------ */

enum rep__block_kind { REP__HEAD, REP__PARA, REP__PRE, REP__TABLE, REP__FIG, REP__ITEM };

typedef struct rep__block {
    int kind;
    int level;       /* heading level 1..3 */
    char *id;        /* heading anchor, table class */
    char *text;      /* heading, paragraph, pre, list item, table caption, figure caption */
    /* tables */
    size_t ncols, ncells;
    char **cells;    /* row-major, the first ncols are the header */
    /* figures */
    char *name;      /* base name of NAME.png / NAME.svg / NAME.gp */
    char *title;
    char *files;     /* space-separated extra files (data), relative */
    int rendered;    /* 1: NAME.png and NAME.svg exist */
} rep__block;

typedef struct rep__doc {
    char *title;
    rep__block *b;
    size_t n, cap;
    int oom;
} rep__doc;

void rep__doc_init(rep__doc *d, const char *title);
void rep__doc_release(rep__doc *d);
void rep__doc_head(rep__doc *d, int level, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void rep__doc_para(rep__doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep__doc_item(rep__doc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rep__doc_pre(rep__doc *d, const char *text);
/* Start a table with ncols header names; returns its index for rep__doc_cell. */
size_t rep__doc_table(rep__doc *d, const char *cls, const char *caption, size_t ncols,
                      const char *const *head);
/* Append the next cell (row-major) of table t. */
void rep__doc_cell(rep__doc *d, size_t t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Rows of table t so far (header not counted). */
size_t rep__doc_rows(const rep__doc *d, size_t t);
void rep__doc_fig(rep__doc *d, const char *name, const char *title, const char *caption,
                  const char *files, int rendered);
/* Move every block of src to the end of dst; src is left empty (release it). */
void rep__doc_append(rep__doc *dst, rep__doc *src);

/*
 * Write dir/index.html: self-contained (CSS inline, PNGs embedded as
 * base64 data: URIs, links to the SVG/data/script files beside it), and
 * well-formed XML as well as HTML (only HTML 4 elements, every element
 * closed) so strict parsers accept it.
 */
int rep__doc_write_html(ib_err *e, const rep__doc *d, const char *dir);
/* Write dir/report.md (GitHub Markdown, figures by relative path). */
int rep__doc_write_md(ib_err *e, const rep__doc *d, const char *dir);

/* ---- gnuplot (plot.c) -------------------------------------------------- */

typedef struct rep__plotter {
    char dir[4096];       /* output directory: scripts run there */
    char gnuplot[4096];   /* program */
    int available;        /* gnuplot runs */
    int pngcairo;         /* 1: pngcairo terminal, 0: png */
    char why[512];        /* why not available */
    size_t made, rendered;
    rep__sb failures;     /* "name: reason" lines of plots that failed */
} rep__plotter;

/* Probe gnuplot (program NULL: "gnuplot" from PATH) for dir; never fails:
 * an unusable gnuplot leaves available 0 with the reason in why. */
void rep__plotter_init(rep__plotter *p, const char *dir, const char *program);
void rep__plotter_release(rep__plotter *p);

/*
 * Write dir/NAME.gp (terminal lines for NAME.png and NAME.svg around body,
 * which must set up the plot and end with one `plot` command; data files
 * are named relative to dir) and run `gnuplot NAME.gp` in dir. Returns 1
 * when both images were made, 0 when not (gnuplot missing or failing:
 * the reason is added to p->failures), negative on an error writing the
 * script.
 */
int rep__plot(ib_err *e, rep__plotter *p, const char *name, const char *body);

/* ---- one run of the results database (rundata.c) ----------------------- */

/* One metric or phase of one cell, over the cell's successful attempts. */
typedef struct rep_values {
    char *name;
    char *unit;       /* NULL when unknown */
    int better;       /* enum rep_better */
    int better_known; /* 0: direction not recorded (assumed lower) */
    double *v;        /* one value per successful attempt that has it */
    size_t n, cap;
} rep_values;

typedef struct rep_cell_data {
    int64_t id;
    char hash[80];
    char *params;     /* JSON object text */
    char dataset[64], gridder[32], weight[32];
    int nodes, threads, chunks, support; /* 0 when not recorded */
    size_t attempts, ok, failed;         /* failed: every status but ok */
    rep_values *metrics;
    size_t nmetrics;
    rep_values *phases; /* wall seconds per phase */
    size_t nphases;
    /* From the stats record of the first successful attempt (-1: unknown). */
    int64_t first_ok;   /* attempt id, 0 when none */
    char *source;       /* its stats path, NULL when unknown */
    char *tasks_file;   /* the stats' tasks_file (relative to the stats dir) */
    double nrow, nchan, npol, nx, ny, padding;
    int psf;
} rep_cell_data;

typedef struct rep_run_data {
    int64_t id;
    char *suite, *suite_file, *suite_hash, *started, *ended, *status, *command;
    char *git_commit, *compiler, *cflags, *host, *cpu, *kernel, *libs, *env;
    char *tuning; /* JSON: the settings that move timings (runs.tuning), or NULL */
    int git_dirty;      /* -1 unknown */
    int cores;          /* 0 unknown */
    double mem_bytes;   /* 0 unknown */
    rep_cell_data *cells;
    size_t ncells;
    char **warnings;
    size_t nwarnings;
} rep_run_data;

/* An SQLite failure as an ib_error naming the database and what was being
 * done (SQLITE_BUSY: IB_ELOCKED). */
int rep__sqlerr(ib_err *e, res_db *db, int rc, const char *what);
/* Prepare sql on db's handle; *st NULL on failure. */
int rep__prepare(ib_err *e, res_db *db, const char *sql, sqlite3_stmt **st);
/* Column i as a heap string (ib_free), NULL for SQL NULL (or no memory). */
char *rep__coldup(sqlite3_stmt *st, int i);

/* The newest run id; IB_ENOTFOUND when the database has no run. */
int rep__run_latest(ib_err *e, res_db *db, int64_t *run_id);
/* Load run run_id (IB_ENOTFOUND naming it when missing). Release with
 * rep__run_release, also after a failure. */
int rep__run_load(ib_err *e, res_db *db, int64_t run_id, rep_run_data *out);
void rep__run_release(rep_run_data *r);
/* A cell's metric / phase by name, NULL when it has none. */
const rep_values *rep__metric(const rep_cell_data *c, const char *name);
const rep_values *rep__phase(const rep_cell_data *c, const char *name);
/* Median of a value set (NAN when empty). */
double rep__vmedian(const rep_values *v);
/* "alma-xc66 nodes=2 threads=1 chunks=4 support=7" */
void rep__cell_label(const rep_cell_data *c, char *buf, size_t n);
/* The last non-empty line of a stderr tail (NULL: ""), at most 200
 * characters of it, into out. */
void rep__last_line(const char *tail, char *out, size_t n);

/* ---- scaling series and models (models.c) ------------------------------ */

enum rep__axis { REP__AXIS_NODES, REP__AXIS_CHUNKS, REP__AXIS_SUPPORT };
const char *rep__axis_name(int axis);
int rep__axis_value(const rep_cell_data *c, int axis);

/* Cells of one dataset that differ only along one axis. */
typedef struct rep__series {
    char label[256];  /* parameters telling this series from its siblings */
    size_t *cell;     /* indices into the run's cells, ascending axis value */
    double *x;
    size_t n;
    size_t samples;   /* successful attempts in the series */
} rep__series;

/*
 * Series of dataset's cells along axis with at least min_points distinct
 * axis values, best first (most points, then most samples). For nodes,
 * cells that differ in threads too are joined when that is the only way
 * to get a series (suites that zip nodes with threads to keep cores
 * fixed); the label says "threads varies". *out (rep__series_free).
 */
int rep__series_along(ib_err *e, const rep_run_data *r, const char *dataset, int axis,
                      size_t min_points, rep__series **out, size_t *n);
void rep__series_free(rep__series *s, size_t n);

/* Distinct datasets of the run's cells, in first-seen order (ib_free the
 * array; the strings belong to the run). */
int rep__datasets(const rep_run_data *r, const char ***out, size_t *n);

/* All wall_time samples of a series as (nodes, time) pairs (ib_free both). */
int rep__series_points(ib_err *e, const rep_run_data *r, const rep__series *s,
                       double **x, double **t, size_t *n);

/* A normalised scaling curve of a baseline system for one dataset. */
typedef struct rep__bcurve {
    char system[64], source[32], label[64];
    double t1;             /* its one-node wall time */
    size_t n;
    double nodes[16], speedup[16];
    int approx_nodes[16];  /* 1: nodes inferred from threads / one-node threads */
    double band_lo, band_hi; /* speedup range from low/high bounds; NAN none */
} rep__bcurve;

/* Baseline rows (wall_time) of dataset turned into normalised curves:
 * speedup T(1)/T(n) per system and source. *out ib_free. */
int rep__baseline_curves(ib_err *e, res_db *db, const char *dataset, rep__bcurve **out,
                         size_t *n);

/* Full-size model extrapolation of one dataset. */
typedef struct rep__extrap {
    char dataset[64], gridder[32];
    int ok;                 /* 0: no model (why says why) */
    char why[256];
    char fit_scope[96];     /* "dataset alma-xc66" or "gridder standard (3 datasets)" */
    char predictors[96];    /* "samples*W^2, fft, bytes" */
    rep_cost_model m;
    int use[3];             /* which of x1..x3 the model uses */
    int support;            /* W the prediction is for */
    double t1;              /* model time at full size, one node, our threads */
    double s, s_lo, s_hi;   /* Amdahl serial fraction of the dataset (NAN none) */
    double tn, tn_lo, tn_hi; /* model time at study_nodes */
    int nodes;              /* study_nodes */
    int threads;            /* threads per node of the fitted cells */
} rep__extrap;

/*
 * Fit the cost model time = a + b samples W^2 + c fft + d bytes to the
 * run's one-node cells (per dataset and gridder, pooled per gridder when a
 * dataset alone does not determine it) and predict the full shape of each
 * dataset in shapes at one node and at study_nodes (Amdahl). One entry
 * per dataset of the run (*out ib_free).
 */
int rep__extrapolate(ib_err *e, const rep_run_data *r, const rep_full_shape *shapes,
                     size_t nshapes, int study_nodes, const rep_amdahl_opts *ao,
                     rep__extrap **out, size_t *n);

#endif
