/*
 * rep_internal.h: what the files of the reports module share and nobody
 * else sees. Three layers, each using only the ones above it:
 *   - text and files: a growable string, escaping, number formatting,
 *     files written whole or not at all (text.c, files.c);
 *   - rendering: a document model rendered to HTML and Markdown (doc.c),
 *     gnuplot figures with readable axes (plot.c);
 *   - analysis of a loaded run, pure (no I/O): cell lookups and labels,
 *     warnings (rundata.c), series along chunks or support (series.c),
 *     scaling on cores and layouts (scaling.c), the study's figures
 *     (study.c), cost-model cells (model.c);
 * and the report itself: its context, the table of figures and the
 * figures' data and render functions (report.c, figures.c, fig_*.c).
 * Names rep__*, as the results module marks its internals.
 */
#ifndef REP_INTERNAL_H
#define REP_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

#include "reports/reports.h"

/* The results module's run data under the names this module uses. */
typedef res_values rep_values;
typedef res_cell_data rep_cell_data;
typedef res_run_data rep_run_data;

/* ---- growable string and text (text.c) --------------------------------- */

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
/* A gnuplot single-quoted string of s (' doubled) appended to b. */
void rep__gpq(rep__sb *b, const char *s);

/* Write the file at path to f in base64 (no line breaks). IB_EIO. */
int rep__base64_file(ib_err *e, FILE *f, const char *path);

/*
 * Format v for a table: "%.4g" with the unit ("12.3 s", "1.5e+09 bytes"
 * becomes "1.50 GB" for bytes, "4.8 M" for counts, "12.5 ksamples/s" for
 * rates). NAN gives "-".
 */
void rep__fmt(char *buf, size_t n, double v, const char *unit);

/* A name usable in file names: [A-Za-z0-9._-], others become '-'. */
void rep__slug(char *out, size_t n, const char *s);

/* The last non-empty line of a stderr tail (NULL: ""), at most 200
 * characters of it, into out. */
void rep__last_line(const char *tail, char *out, size_t n);

/* ---- files written whole or not at all (files.c) ------------------------- */

/*
 * The directory a report writes into. Every file goes to a temporary name
 * in it (".NAME.rep-PID.XXXXXX", created exclusively) and is renamed over
 * NAME only when complete, so a failure leaves the previous NAME as it was.
 * A temporary left by a killed report (its PID no longer running) is
 * removed by the next report into the directory. Test hook:
 * IMBENCH_REPORT_FAIL_WRITE=N makes the Nth file committed fail as a full
 * disk would (ENOSPC), read once by rep__out_init.
 */
typedef struct rep__out {
    char dir[4096];
    long fail_at;   /* 0: no injected failure */
    long commits;   /* files committed (or failed) so far */
} rep__out;

/* Set up for dir (which must exist) and remove stale temporaries. */
void rep__out_init(rep__out *o, const char *dir);

/* One file being written. */
typedef struct rep__file {
    FILE *f;
    char tmp[8192], path[8192];
} rep__file;

/* Start writing dir/name: f->f is the temporary's stream. IB_EIO (or
 * IB_ENOSPACE) naming the file and the cause. */
int rep__out_open(ib_err *e, rep__out *o, const char *name, rep__file *f);
/* Finish: flush, check, close and rename over the final name. On failure
 * the temporary is removed, the final name untouched, and e says why
 * ("cannot write 'P': no space left on device"). */
int rep__out_commit(ib_err *e, rep__out *o, rep__file *f);
/* Give up: close and remove the temporary. */
void rep__out_abort(rep__file *f);
/* Write text to dir/name whole (open, write, commit). */
int rep__out_write(ib_err *e, rep__out *o, const char *name, const char *text);
/*
 * A temporary stem for a child's outputs (gnuplot): ".NAME.rep-PID.out" —
 * the child writes STEM.png and STEM.svg, which rep__out_adopt renames.
 */
void rep__out_stem(const rep__out *o, const char *name, char *stem, size_t n);
/* Rename dir/tmp over dir/name when the injected failure does not fire
 * (counted as a commit); else remove tmp. IB_EIO / IB_ENOSPACE. */
int rep__out_adopt(ib_err *e, rep__out *o, const char *tmp, const char *name);

/* Does dir/name exist as a regular file? */
int rep__file_exists(const char *path);

/* ---- documents rendered to HTML and Markdown (doc.c) ---------------------- */

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
 * Write index.html through o: self-contained (CSS inline, PNGs embedded as
 * base64 data: URIs, links to the SVG/data/script files beside it), and
 * well-formed XML as well as HTML (only HTML 4 elements, every element
 * closed) so strict parsers accept it.
 */
int rep__doc_write_html(ib_err *e, const rep__doc *d, rep__out *o);
/* Write report.md through o (GitHub Markdown, figures by relative path). */
int rep__doc_write_md(ib_err *e, const rep__doc *d, rep__out *o);

/* ---- gnuplot (plot.c) ------------------------------------------------------ */

typedef struct rep__plotter {
    rep__out *out;        /* where scripts and images go (borrowed) */
    char gnuplot[4096];   /* program */
    int available;        /* gnuplot runs */
    int pngcairo;         /* 1: pngcairo terminal, 0: png */
    char why[512];        /* why not available */
    size_t made, rendered;
    rep__sb failures;     /* "name: reason" lines of plots that failed */
} rep__plotter;

/* Probe gnuplot (program NULL: "gnuplot" from PATH) for out's directory;
 * never fails: an unusable gnuplot leaves available 0 with the reason. */
void rep__plotter_init(rep__plotter *p, rep__out *out, const char *program);
void rep__plotter_release(rep__plotter *p);

/*
 * Write NAME.gp (terminal lines for NAME.png and NAME.svg around body,
 * which must set up the plot and end with one `plot` command; data files
 * are named relative to the directory) and run gnuplot on it writing
 * temporary images, which are renamed over NAME.png and NAME.svg only when
 * gnuplot exited 0 and both are complete (a PNG ending in its IEND chunk,
 * an SVG with its closing tag). Returns 1 when both images were made, 0
 * when not (gnuplot missing, failing, killed: the reason is added to
 * p->failures and no partial image is left), negative on an error writing
 * the script.
 */
int rep__plot(ib_err *e, rep__plotter *p, const char *name, const char *body);

/*
 * A y (or x) axis with readable numbers: "set {axis}range", linear from 0
 * (or from lo) or logarithmic with explicit labelled ticks (rep__log_ticks)
 * — never a log axis with only tick marks. log: 0 linear, 1 logarithmic
 * when the data span more than a decade, 2 logarithmic always. Appends the
 * gnuplot commands for axis ("y", "x", "y2") to b. lo, hi: the data's
 * range (error bars included).
 */
void rep__axis(rep__sb *b, const char *axis, double lo, double hi, int log, int from_zero);

/*
 * The labelled ticks of a log axis over [lo, hi] (0 < lo < hi): values in
 * 1-2-5 steps per decade, or 1-1.5-2-3-4-5-6-8 when that gives fewer than
 * three, or plain decimal steps (3 to 8) on a range narrower still, written
 * to v[0..*n) (at most max). Exposed for tests.
 */
void rep__log_ticks(double lo, double hi, double *v, size_t max, size_t *n);

/* Colours of series and of phases. */
extern const char *const rep__palette[8];
const char *rep__phase_colour(const char *phase);

/* ---- run data (rundata.c) -------------------------------------------------- */

/* A cell's metric / phase by name with at least one value, NULL otherwise. */
const rep_values *rep__metric(const rep_cell_data *c, const char *name);
const rep_values *rep__phase(const rep_cell_data *c, const char *name);
/* Median of a value set (NAN when NULL or empty): rep_median_or_nan. */
double rep__vmedian(const rep_values *v);
/* Median, min and max of a value set; -1 when it has none. */
typedef struct rep__mmm {
    double med, lo, hi;
    size_t n;
} rep__mmm;
int rep__mmm_of(const rep_values *v, rep__mmm *s);

/* Distinct datasets of the run's cells, in first-seen order (ib_free the
 * array; the strings belong to the run). */
int rep__datasets(const rep_run_data *r, const char ***out, size_t *n);

/* A cell's string / number parameter, or dflt. */
const char *rep__param_str(const rep_cell_data *c, const char *key, const char *dflt,
                           char *buf, size_t n);
double rep__param_num(const rep_cell_data *c, const char *key, double dflt);

/* The run's warnings in words (one heap string each, into *out, rep__strv_free):
 * run status, free page reporting, counters, unsuccessful attempts (at
 * most 40 listed), refused values, cells without or with few repeats. */
int rep__run_warnings(const rep_run_data *r, char ***out, size_t *n);
void rep__strv_free(char **v, size_t n);

/* ---- grouping cells, and series along chunks or support (series.c) --------------- */

/* Cells that share every parameter but the dropped ones. */
typedef struct rep__group {
    json_t *obj;   /* the shared parameters (owned) */
    char *key;     /* their canonical text (malloc'd by jansson) */
    size_t *cell;  /* indices into the run's cells */
    size_t n;
} rep__group;

/* Group the cells idx[0..m) by their parameters without the drop[] keys
 * (NULL-terminated). *out (rep__groups_free). IB_ENOMEM. */
int rep__group_cells(const rep_run_data *r, const size_t *idx, size_t m,
                     const char *const *drop, rep__group **out, size_t *n);
void rep__groups_free(rep__group *g, size_t n);
/* The keys whose values differ between the groups (those with use[i]; NULL:
 * all) into keys (NULL-terminated, at most max - 1), or, for one group, the
 * main parameters it holds; borrowed from the groups' objects. */
void rep__group_diff_keys(const rep__group *g, size_t ng, const int *use, const char **keys,
                          size_t max);


enum rep__axis { REP__AXIS_CHUNKS, REP__AXIS_SUPPORT };
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

/* Series of dataset's cells along axis with at least min_points distinct
 * values, best first (most points, then most samples). *out
 * (rep__series_free). */
int rep__series_along(ib_err *e, const rep_run_data *r, const char *dataset, int axis,
                      size_t min_points, rep__series **out, size_t *n);
void rep__series_free(rep__series *s, size_t n);

/* ---- scaling on cores (scaling.c) ----------------------------------------------- */

/* One layout (ranks x threads) of a cores group. */
typedef struct rep__layout {
    size_t cell;      /* index into the run's cells */
    int ranks, threads, cores;
} rep__layout;

/* The curve a layout belongs to: threads only (one rank), ranks only (one
 * thread each), or both above one. The one-core layout starts every curve. */
enum rep__curve { REP__CURVE_THREADS, REP__CURVE_RANKS, REP__CURVE_HYBRID, REP__NCURVES };

/* Cells of one dataset that differ only in ranks and threads. */
typedef struct rep__cores_group {
    char label[256];  /* the parameters it holds fixed that tell it from its siblings */
    rep__layout *l;   /* its layouts, ascending cores, then ranks */
    size_t n;
    size_t base;      /* index in l of the reference: the fewest cores (1x1 when present) */
    size_t ncores;    /* distinct core counts */
    size_t samples;   /* successful attempts */
} rep__cores_group;

/* Groups of dataset's successful cells, best first (most core counts,
 * then most layouts, then most samples). *out (rep__cores_groups_free). */
int rep__cores_groups(ib_err *e, const rep_run_data *r, const char *dataset,
                      rep__cores_group **out, size_t *n);
void rep__cores_groups_free(rep__cores_group *g, size_t n);
/* The name of a curve of g into buf: "threads (1 rank)", "ranks (1 thread
 * each)" (the reference's ranks and threads), "ranks x threads". */
const char *rep__curve_name(const rep__cores_group *g, int curve, char *buf, size_t n);
/* Does layout i of g belong to curve? (the base belongs to every curve) */
int rep__on_curve(const rep__cores_group *g, size_t i, int curve);
/* "1x2" (ranks x threads) */
void rep__layout_name(const rep__layout *l, char *buf, size_t n);

/* Speedup of layout i against the group's base: ratio of medians with its
 * bootstrap CI (seed: seed); the base itself is exactly 1 (its own spread
 * is in the others' intervals). -1 without wall times. */
int rep__speedup(const rep_run_data *r, const rep__cores_group *g, size_t i, size_t boot,
                 uint64_t seed, rep_ci *ci);

/* All wall_time samples of curve as (cores, time) pairs (ib_free both);
 * *n is 0 when the curve has fewer than two layouts. */
int rep__curve_points(ib_err *e, const rep_run_data *r, const rep__cores_group *g, int curve,
                      double **cores, double **t, size_t *n);

/* ---- the study's figures (study.c) ------------------------------------------------ */

/* What a baseline's note (JSON, reports.h) says beyond its columns. */
typedef struct rep__bnote {
    int bound;        /* enum rep_bound */
    int support;      /* 0: not given */
    char origin[512];
    long line;
    char text[512];   /* the free note, or the CASA call's imagename */
} rep__bnote;
void rep__bnote_parse(const res_baseline_row *b, rep__bnote *out);
/* "read from plot, approx." rows and those whose label says so. */
int rep__bapprox(const res_baseline_row *b);

/* A normalised scaling curve of a baseline system for one dataset: speedup
 * against its own one-node time on relative cores (nodes / 1, or threads
 * / the one-node threads). */
typedef struct rep__bcurve {
    char system[64], source[32], label[64];
    double t1;               /* its one-node wall time */
    int t1_threads;          /* threads (or MPI processes) of that node, 0 unknown */
    size_t n;
    double rel[16], speedup[16];
    int inferred[16];        /* 1: relative cores from threads, not nodes */
    double band_lo, band_hi; /* speedup range the source gives without node counts; NAN none */
} rep__bcurve;

/* Baseline rows (wall_time of dataset) as normalised curves: *out ib_free. */
int rep__study_curves(const res_baseline_row *rows, size_t nrows, const char *dataset,
                      rep__bcurve **out, size_t *n);

/* A study's absolute time for a dataset: one point row, described. */
typedef struct rep__bpoint {
    char system[64];
    char what[160];          /* "CASA 6.2, 1 node, 15 MPI procs (study, read from plot)" */
    int nodes, threads, cores;
    double value;            /* seconds */
} rep__bpoint;
/* Point wall_time rows of dataset from the seed study: *out ib_free. */
int rep__study_points(const res_baseline_row *rows, size_t nrows, const char *dataset,
                      rep__bpoint **out, size_t *n);

/* ---- cost-model cells (model.c) ----------------------------------------------------- */

/* Is c full size: scale >= full_scale and no generator cuts (times, chans)? */
int rep__full_size(const rep_cell_data *c, double full_scale);
/* Image planes per channel of c: the recorded --stokes planes, else (older
 * stats) one per correlation. */
double rep__planes(const rep_cell_data *c);
/* c as the cost model sees it (sizes from its stats and metrics, medians of
 * its phases and wall). 0 when the sizes are not recorded. */
int rep__cost_cell(const rep_cell_data *c, rep_cost_cell *out);
/* May c train the model? (imbench, no spill, sizes and phases recorded) */
int rep__cost_trainer(const rep_cell_data *c);

/* ---- the report (report.c, figures.c, fig_*.c) -------------------------------------- */

/* What a figure or table shows; the bits make its title, key and caption say so. */
enum rep__kind {
    REP__K_MEASURED = 1,   /* measured here (with the cores it used) */
    REP__K_MODEL = 2,      /* modelled (fits, cost model) */
    REP__K_SIMULATED = 4,  /* simulated */
    REP__K_STUDY = 8       /* the study's figures (stated or read from its plots) */
};
/* "measured here on 1-2 cores (ranks x threads)", "model", ... joined:
 * the words a title and caption carry for kinds. cores_lo 0: not said. */
void rep__kind_words(int kinds, int cores_lo, int cores_hi, char *buf, size_t n);

typedef struct rep__fitrow rep__fitrow;
typedef struct rep__kfrow rep__kfrow;
typedef struct rep__model rep__model;

/* Everything a figure's data and render functions may use. */
typedef struct rep__report {
    ib_err *e;
    res_db *db;
    const rep_report_opts *o;
    rep_run_data run;
    res_baseline_row *baselines; /* of the run's datasets */
    size_t nbaselines;
    rep__doc head, body;    /* head: summary and warnings; body: the rest */
    rep__out out;
    rep__plotter plot;
    rep_amdahl_opts ao;
    rep__sb warn;           /* report-made warnings, one per line */
    size_t nfigs, nwarn;
    const char *section;    /* the heading last written into body */
    rep__fitrow *fits;      /* Amdahl fits, collected per dataset for the table */
    size_t nfits;
    rep__kfrow *kf;         /* Karp–Flatt points, likewise */
    size_t nkf;
    rep__model *model;      /* the cost model and its predictions (model.c) */
    res_sim_row *sims;      /* stored simulations of the run's cells (rep__sims) */
    size_t nsims;
    int sims_loaded;
} rep__report;

/* A line in the report's warnings. */
void rep__warn(rep__report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write a data file (the figure's NAME.dat). */
int rep__data_file(rep__report *r, const char *name, rep__sb *b);

/*
 * Script, render and add a figure to the body: its title and caption get
 * the words of kinds (rep__kind_words) so that every figure says what it
 * is; datafiles are listed as its files.
 */
int rep__figure(rep__report *r, const char *name, const char *title, int kinds, int cores_lo,
                int cores_hi, const char *caption, const char *datafiles, const char *body);

/* Scope of a figure: once per report, or once per dataset. */
enum rep__scope { REP__RUN, REP__DATASET };

/*
 * One entry of the table of figures (figures.c): the report is these, in
 * order. data computes what the entry shows from r (pure analysis; it may
 * read the database through results' res_ functions) into *data, NULL when
 * there is nothing to show; render writes its files and document blocks;
 * release frees data. A dataset-scope entry runs once per dataset, under
 * that dataset's heading.
 */
typedef struct rep__figdef {
    const char *id;       /* stem of its files (ID-DATASET.* for dataset scope) */
    int scope;            /* enum rep__scope */
    int kinds;            /* enum rep__kind bits: what it shows */
    const char *section;  /* the heading it appears under */
    int (*data)(rep__report *r, const char *dataset, void **data);
    int (*render)(rep__report *r, const char *dataset, const void *data);
    void (*release)(void *data);
} rep__figdef;

extern const rep__figdef rep__figures[];
extern const size_t rep__nfigures;

/* Open section (a level-3 heading in body) unless it is the last written. */
void rep__section(rep__report *r, const char *section);

/* The figure functions, by file. */
#define REP__FIG_FUNCS(name)                                                    \
    int rep__##name##_data(rep__report *r, const char *dataset, void **data);   \
    int rep__##name##_render(rep__report *r, const char *dataset, const void *data); \
    void rep__##name##_release(void *data)

REP__FIG_FUNCS(summary);    /* fig_tables.c */
REP__FIG_FUNCS(provenance);
REP__FIG_FUNCS(cells);
REP__FIG_FUNCS(baselines);
REP__FIG_FUNCS(cores);      /* fig_scaling.c: runtime, speedup, efficiency on cores */
REP__FIG_FUNCS(layouts);
REP__FIG_FUNCS(study);
REP__FIG_FUNCS(phases);     /* fig_runs.c */
REP__FIG_FUNCS(comm);
REP__FIG_FUNCS(gantt);
/*
 * The task-stream chart of t[0..n) (n >= 1), measured or simulated: writes
 * file (one block per phase, times from the first task) headed by what,
 * and appends to g the plot (rows per rank and thread, boxes coloured by
 * phase, keys "KEY_PREFIXphase"). The same figure code for both kinds.
 */
/* The cell whose measured task stream the report draws (--gantt-cell, else
 * the multi-rank cell with most task events), NULL when none. */
const rep_cell_data *rep__gantt_cell(rep__report *r);
int rep__gantt_plot(rep__report *r, const res_task *t, size_t n, const char *file,
                    const char *what, const char *key_prefix, rep__sb *g);
REP__FIG_FUNCS(writes);     /* fig_bench.c: writes and schedulers, load imbalance */
REP__FIG_FUNCS(chunks);     /* fig_sweeps.c */
REP__FIG_FUNCS(support);
REP__FIG_FUNCS(fits);       /* fig_models.c: Amdahl and Karp–Flatt tables */
REP__FIG_FUNCS(costmodel);
REP__FIG_FUNCS(fullsize);
REP__FIG_FUNCS(simscaling); /* fig_sim.c: what harness simulate stored */
REP__FIG_FUNCS(simgantt);
REP__FIG_FUNCS(simvalidate);
REP__FIG_FUNCS(simstudy);

/* Load r's stored simulations once (r->sims); 0 also when there are none. */
int rep__sims(rep__report *r);

/* A simulated prediction more than this far off its measurement is flagged. */
#define REP__SIM_TOLERANCE 0.15
/* (predicted - measured) / measured; NAN without a positive measurement. */
double rep__sim_error(double predicted, double measured);
/* |err| > REP__SIM_TOLERANCE (NAN: not flagged). */
int rep__sim_flagged(double err);

/* One validated prediction: a 2-core (or larger) layout predicted from
 * the 1-core cell with the same parameters. */
typedef struct rep__simval {
    const res_sim_row *sim; /* borrowed from the rows given */
    double base;            /* the 1-core cell's measured median (s); NAN unknown */
    double predicted, measured, err;
    int flagged;
} rep__simval;
/* The validate rows of sims[0..n) on more than one core, with their errors
 * and flags: *out (ib_free) gets *nout. IB_ENOMEM. Pure: exposed for tests. */
int rep__sim_validation(const res_sim_row *sims, size_t n, rep__simval **out, size_t *nout);

/* Collected fits (fig_scaling.c fills them, fig_models.c draws the tables). */
struct rep__fitrow {
    char dataset[64], group[256];
    char curve[64];       /* the curve's name */
    rep_amdahl fit;
    int cores_lo, cores_hi;
};
struct rep__kfrow {
    char dataset[64], group[256];
    char curve[64];
    rep_kf_point p;
};

/* The cost model of a report and its predictions (model.c). */
typedef struct rep__pred {
    size_t cell;          /* index into the run's cells (a full-size cell) */
    rep_cost_cell cc;
    rep_cost_prediction p;
    double measured;      /* median wall */
    double err;           /* (predicted - measured) / measured */
    int stored;           /* 1: the database holds a prediction of this cell in this run */
    double stored_value;  /* that prediction's wall time (s) */
    char stored_at[32];   /* and when it was stored */
} rep__pred;

typedef struct rep__extrap {
    char dataset[64], gridder[32];
    int cores;
    rep_cost_cell cc;
    rep_cost_prediction p;
} rep__extrap;

struct rep__model {
    int fitted;
    char why[400];        /* no model: why */
    rep_cost_model m;
    size_t ntrain;        /* cells it was fitted on */
    char trained_on[512]; /* "41 small-scale cells of runs 1, 3 (scales 0.0002-0.01)" */
    char *fitted_json;    /* JSON of the same, stored with predictions */
    char *terms_json;     /* the coefficients, stored with predictions */
    rep__pred *pred;      /* full-size cells of the run */
    size_t npred;
    rep__extrap *ext;     /* datasets of the run at their full shape (no full-size cell) */
    size_t next;
};

/* Fit the model for r (training cells from the runs the options name)
 * and predict the run's full-size cells and the datasets' full shapes;
 * store the predictions when asked. Sets r->model. */
int rep__model_build(rep__report *r);
void rep__model_free(rep__model *m);

#endif
