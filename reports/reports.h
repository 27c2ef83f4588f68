/*
 * reports: imbench's analysis and reporting. Two halves:
 *   - pure analysis on plain arrays and structs (no I/O): statistics for
 *     noisy benchmark timings (robust summaries, bootstrap confidence
 *     intervals, Mann–Whitney, Benjamini–Hochberg, compare verdicts), fits
 *     that know their limits (one identifiability rule, non-negative least
 *     squares, Amdahl and Karp–Flatt on cores, a physically split cost
 *     model), cell labels, the CASA log parser and the study's baselines
 *     (YAML, libyaml);
 *   - what reads the results database and writes reports: baselines
 *     import, `harness report` (HTML + Markdown with gnuplot figures, built
 *     from a table of figures), `harness compare`, `harness bench`.
 * No function here calls SQLite: the second half reads and writes the
 * database only through the results module's res_report_* functions
 * (results.h), which hold every query. Prefix rep_. Depends on common/,
 * results/ and libyaml, jansson.
 *
 * Conventions: functions that can fail take an ib_err* first and return 0 or
 * a negative IB_E* code with a message in the ib_err (which may be NULL).
 * Input arrays are borrowed and never modified. Sample values must be finite
 * (NaN or infinity gives IB_EINVAL). Random resampling is counter-based
 * (ib_hash4 on the caller's seed): the same seed gives the same result on
 * every machine and thread.
 */
#ifndef REP_REPORTS_H
#define REP_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* ---------------------------------------------------------------------- */
/* Summaries                                                               */
/* ---------------------------------------------------------------------- */

/* Mean of x[0..n); NAN when n == 0. */
double rep_mean(const double *x, size_t n);
/* Sample standard deviation (divisor n-1); NAN when n < 2. */
double rep_sd(const double *x, size_t n);

/*
 * Quantile p in [0,1] of already sorted (ascending) data, by linear
 * interpolation between order statistics at h = (n-1)p (Hyndman–Fan type 7,
 * the default of R and numpy). NAN when n == 0 or p is outside [0,1].
 */
double rep_quantile_sorted(const double *sorted, size_t n, double p);

/*
 * Quantile p of unsorted x (type 7, as above); x is not modified (a copy is
 * sorted). IB_EINVAL for n == 0, p outside [0,1] or a non-finite value;
 * IB_ENOMEM. *out is untouched on failure.
 */
int rep_quantile(ib_err *e, const double *x, size_t n, double p, double *out);
/* Median of x: rep_quantile at 0.5 (mean of the two middle values for even n). */
int rep_median(ib_err *e, const double *x, size_t n, double *out);
/* The same median, NAN when n == 0 or a value is not finite or out of memory:
 * the one every table and figure uses. */
double rep_median_or_nan(const double *x, size_t n);
/*
 * Median absolute deviation median(|x - median(x)|), unscaled: multiply by
 * 1.4826 for a normal-consistent estimate of the standard deviation.
 */
int rep_mad(ib_err *e, const double *x, size_t n, double *out);

/* Everything a report shows for one sample. */
typedef struct rep_summary {
    size_t n;
    double min, q1, median, q3, max; /* type-7 quantiles */
    double mean, sd;                 /* sd is NAN when n < 2 */
    double mad;                      /* unscaled, see rep_mad */
} rep_summary;

/* Fill *out for x[0..n). IB_EINVAL for n == 0 or non-finite values. */
int rep_summarize(ib_err *e, const double *x, size_t n, rep_summary *out);

/* ---------------------------------------------------------------------- */
/* Bootstrap confidence intervals (percentile method)                      */
/* ---------------------------------------------------------------------- */

/* A point estimate with a confidence interval [lo, hi]. */
typedef struct rep_ci {
    double est, lo, hi;
    double level; /* e.g. 0.95 */
} rep_ci;

/*
 * Percentile-bootstrap CI of the median of x: B resamples of size n drawn
 * with replacement using ib_hash4(seed, ...), level in (0,1) (0.95 for a
 * 95% interval). est is the median of x itself. Needs n >= 1, B >= 10.
 * IB_EINVAL on bad arguments, IB_ENOMEM; *out untouched on failure.
 */
int rep_boot_median_ci(ib_err *e, const double *x, size_t n, double level,
                       size_t B, uint64_t seed, rep_ci *out);

/*
 * Percentile-bootstrap CI of the ratio median(num) / median(den), the two
 * samples resampled independently (B times each, same seed rules as
 * above). IB_EINVAL also when a (resampled) median of den is zero.
 */
int rep_boot_ratio_ci(ib_err *e, const double *num, size_t nnum, const double *den,
                      size_t nden, double level, size_t B, uint64_t seed, rep_ci *out);

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct rep_mw {
    double u;     /* U statistic of sample a: #(a_i > b_j) + 0.5 #(a_i == b_j) */
    double z;     /* normal score with tie and continuity correction (0 if exact) */
    double p;     /* two-sided p-value */
    int exact;    /* 1: exact null distribution was used */
} rep_mw;

/*
 * Two-sided Mann–Whitney U (Wilcoxon rank-sum) test of a against b.
 * Exact null distribution when there are no ties and na + nb <= 50
 * (p = min(1, 2 min(P(U <= u), P(U >= u))), as R's wilcox.test); otherwise
 * the normal approximation with tie-corrected variance and a 0.5
 * continuity correction. All values tied gives p = 1. Needs na, nb >= 1.
 */
int rep_mann_whitney(ib_err *e, const double *a, size_t na, const double *b,
                     size_t nb, rep_mw *out);

/*
 * Benjamini–Hochberg adjusted p-values (false discovery rate):
 * adj_(i) = min over j >= i of min(1, p_(j) m / j) in ascending order of p,
 * written back in the input order to adj[0..m) (adj may alias p). Values
 * must lie in [0,1]. IB_EINVAL, IB_ENOMEM; adj untouched on failure.
 */
int rep_bh_adjust(ib_err *e, const double *p, size_t m, double *adj);

/* ---------------------------------------------------------------------- */
/* Compare two samples of one metric                                        */
/* ---------------------------------------------------------------------- */

enum rep_better { REP_LOWER_IS_BETTER, REP_HIGHER_IS_BETTER };

/* "faster" means better in the metric's own direction. */
enum rep_verdict { REP_NO_CHANGE, REP_FASTER, REP_SLOWER };

/* "faster", "slower", "no significant change". */
const char *rep_verdict_name(int verdict);

typedef struct rep_compare_opts {
    enum rep_better better;
    double alpha;     /* significance level, e.g. 0.05 */
    double threshold; /* regression flagged when worse by more than this fraction, e.g. 0.05 */
    double level;     /* CI level, e.g. 0.95 */
    size_t boot;      /* bootstrap resamples, e.g. 2000 */
    uint64_t seed;
} rep_compare_opts;

/* alpha 0.05, threshold 0.05, level 0.95, boot 2000, seed 1, lower is better. */
void rep_compare_opts_init(rep_compare_opts *o);

typedef struct rep_compare {
    rep_ci ratio;     /* median(cand) / median(base) with bootstrap CI */
    rep_mw mw;        /* Mann–Whitney of cand against base */
    double p;         /* p-value deciding the verdict (mw.p unless re-judged) */
    int verdict;      /* enum rep_verdict */
    int regression;   /* 1: slower by more than threshold (see rep_compare_judge) */
} rep_compare;

/*
 * Compare a candidate sample with a base sample: ratio of medians with its
 * bootstrap CI, Mann–Whitney p, then rep_compare_judge. Needs at least one
 * value in each and a non-zero base median.
 */
int rep_compare_samples(ib_err *e, const double *base, size_t nbase, const double *cand,
                        size_t ncand, const rep_compare_opts *o, rep_compare *out);

/*
 * (Re)decide c->verdict and c->regression from c->ratio and the p-value p,
 * which is stored in c->p — use it after Benjamini–Hochberg adjusting the p
 * of many comparisons. A change is significant when p < alpha and the CI
 * excludes 1; it is "faster" when the ratio moves in the better direction.
 * regression = slower and the point ratio is worse than the threshold:
 * ratio > 1 + threshold (lower is better) or ratio < 1 - threshold (higher).
 */
void rep_compare_judge(const rep_compare_opts *o, double p, rep_compare *c);

/* ---------------------------------------------------------------------- */
/* Fits that know their limits (fit.c)                                     */
/* ---------------------------------------------------------------------- */

/* One fitted parameter: estimate, band, the values it can take and the
 * verdict of rep_identify. */
typedef struct rep_param {
    double est, lo, hi;        /* NAN when not estimable */
    double range_lo, range_hi; /* the values the parameter can physically take */
    int identifiable;          /* set by rep_identify */
    char why[200];             /* "not identifiable from these points: ..." or "" */
} rep_param;

/*
 * The one rule of every fit in this module (Amdahl, Karp–Flatt, the cost
 * model): a parameter is identifiable from its points when
 *   - they hold at least as many distinct x values (core counts; for the
 *     cost model, distinct predictor values) as the fit has parameters,
 *   - its band could be estimated: dof >= 1 (residual degrees of freedom
 *     or repeats beyond what the fit consumes), and
 *   - its band [lo, hi] spans at most half of its range [range_lo, range_hi].
 * Sets p->identifiable and p->why (empty when identifiable) and returns
 * p->identifiable. A parameter that is not identifiable is reported with
 * its band and the reason, and is neither drawn as a curve nor used to
 * extrapolate.
 */
int rep_identify(rep_param *p, size_t distinct, size_t nparams, size_t dof);

/* Most columns rep_nnls takes. */
#define REP_NNLS_MAXP 12

/*
 * Non-negative least squares: x[0..n) >= 0 minimising ||a x - b|| for the
 * row-major m x n matrix a (Lawson and Hanson's active-set method; columns
 * are scaled to unit maximum first, so predictors of very different
 * magnitudes meet on one footing). A column that is a linear combination
 * of columns already in the solution stays at 0. Weighted least squares:
 * scale row i of a and b by sqrt(w_i). IB_EINVAL for n outside
 * 1..REP_NNLS_MAXP, m == 0 or a non-finite value; IB_ENOMEM.
 */
int rep_nnls(ib_err *e, const double *a, const double *b, size_t m, size_t n, double *x);

/*
 * Amdahl's law T(n) = T1 (s + (1-s)/n) on n = total cores (ranks x
 * threads), s in [0,1]. Written as T = A + B/n with A = T1 s, B = T1 (1-s)
 * it is non-negative least squares (rep_nnls). relative = 1 minimises
 * relative residuals (t - T)/t, right for multiplicative timing noise;
 * 0 minimises absolute ones. The band comes from a residual bootstrap
 * (residuals resampled onto the fitted curve, multiplicatively when
 * relative): percentile CI of s and of T1 at the given level. The rule
 * (rep_identify) judges s on its range [0, 1] with the distinct core
 * counts and n - 2 degrees of freedom.
 */
typedef struct rep_amdahl_opts {
    int relative;     /* 1 (default): relative residuals */
    double level;     /* 0.95 */
    size_t boot;      /* 1000 */
    uint64_t seed;    /* 1 */
} rep_amdahl_opts;

void rep_amdahl_opts_init(rep_amdahl_opts *o);

typedef struct rep_amdahl {
    double s, t1;        /* serial fraction and one-core time (NAN: not fitted) */
    double s_lo, s_hi;   /* bootstrap band of s */
    double t1_lo, t1_hi; /* bootstrap band of T1 */
    double rss;          /* residual sum of squares of the fit (in the fitted metric) */
    size_t n;            /* points used */
    size_t distinct;     /* distinct core counts */
    int identifiable;    /* the rule's verdict on s */
    char why[200];       /* why not, or "" */
} rep_amdahl;

/*
 * Fit from cores[i] >= 1 and time[i] > 0, i < n. Fewer than two distinct
 * core counts is not an error: s and T1 are NAN and why says so.
 * IB_EINVAL (bad values), IB_ENOMEM; *out untouched on failure.
 */
int rep_amdahl_fit(ib_err *e, const double *cores, const double *time, size_t n,
                   const rep_amdahl_opts *o, rep_amdahl *out);

/* Amdahl time T1 (s + (1-s)/n) and speedup 1/(s + (1-s)/n). */
double rep_amdahl_time(double t1, double s, double n);
double rep_amdahl_speedup(double s, double n);

/*
 * Karp–Flatt experimentally determined serial fraction
 * e(n) = (1/S - 1/n) / (1 - 1/n) for speedup S on n > 1 cores; NAN for n <= 1.
 */
double rep_karp_flatt(double speedup, double n);

/* One core count of a Karp–Flatt series. */
typedef struct rep_kf_point {
    double cores;
    double time;          /* median time at this core count */
    size_t n;             /* its points */
    double speedup;       /* median T(1) / median T(n) */
    double speedup_lo, speedup_hi; /* percentile-bootstrap band of that ratio */
    double e, e_lo, e_hi; /* Karp–Flatt metric and the band the speedup band gives; NAN at 1 */
    int identifiable;     /* the rule on e (range [0, 1]); 0 at one core */
    char why[200];
} rep_kf_point;

/*
 * Group (cores, time) points by core count (ascending), take medians,
 * the speedup against the one-core median with its bootstrap band (level,
 * boot resamples, seed + i for core count i), e(n) with its band and the
 * rule's verdict (2 distinct core counts for 1 parameter; the repeats at
 * both give the degrees of freedom). *out (ib_free) gets *nout points.
 * IB_EINVAL when there is no point on one core; IB_ENOMEM.
 */
int rep_karp_flatt_series(ib_err *e, const double *cores, const double *time, size_t n,
                          double level, size_t boot, uint64_t seed, rep_kf_point **out,
                          size_t *nout);

/* ---------------------------------------------------------------------- */
/* The cost model (costmodel.c)                                            */
/* ---------------------------------------------------------------------- */

/*
 * A physically split model of a cell's time. Each term is a kind of work
 * with its driver (a size known before the run) and the imager phases that
 * do it:
 *   read      bytes read from the store        phases read, weight
 *   grid      samples x S^2 (S: the gridding    grid
 *             support, the mosaic's effective one when recorded; x2 with a PSF)
 *   fft       planes x G log2 G (G: padded      fft, correct
 *             grid cells; planes: channels x polarisations, x2 with a PSF)
 *   write     bytes written                     write
 *   pointing  pointings x channels (mosaics;    kernel
 *             0 for the standard gridder)
 * Stage 1, per term: the term's thread-seconds (median over the repeats)
 * = a + c x, a, c >= 0, fitted by rep_nnls per gridder (read, fft and write
 * fall back to every gridder's cells when the gridder's own do not
 * identify c; grid and pointing never do). Stage 2: wall = f + r P / cores
 * with P the cell's measured thread-seconds of every modelled phase, f, r >= 0:
 * r carries what the terms do not (parallel efficiency, communication,
 * scheduling, waits), f the fixed cost per run. Bands: a case bootstrap
 * over the fit cells (both stages refitted per resample; a resample in
 * which a fitted slope's driver takes a single value is redrawn),
 * percentile intervals. rep_identify judges every slope c (range [0, max_i y_i/x_i])
 * and r (range [0, max_i wall_i / (P_i / cores_i)]); intercepts are
 * reported with their bands, not judged (they do not scale).
 */
enum rep_term { REP_TERM_READ, REP_TERM_GRID, REP_TERM_FFT, REP_TERM_WRITE, REP_TERM_POINTING,
                REP_NTERMS };

/* "read", "grid", "fft", "write", "pointing"; their drivers in words
 * ("bytes read", ...) and units ("bytes", ...); the term of an imager phase
 * (-1: not modelled). */
const char *rep_term_name(int term);
const char *rep_term_driver(int term);
const char *rep_term_unit(int term);
int rep_term_of_phase(const char *phase);

#define REP_COST_MAXG 4 /* gridders one model holds */

/* One cell as the model sees it. */
typedef struct rep_cost_cell {
    char gridder[32];
    double x[REP_NTERMS]; /* drivers (>= 0; NAN unknown) */
    double y[REP_NTERMS]; /* measured thread-seconds of the term's phases; NAN: none */
    double wall;          /* median wall time (s); NAN for a cell to predict only */
    double cores;         /* ranks x threads */
} rep_cost_cell;

/* One term of one gridder. */
typedef struct rep_cost_term {
    int used;             /* 0: no fit cell of the gridder has this term's phases */
    int slope;            /* 1: the driver varies; 0: only the intercept is fitted */
    char scope[48];       /* "gridder standard" or "every gridder" */
    size_t n, distinct;   /* cells fitted and their distinct driver values */
    double xlo, xhi;      /* the driver's range over those cells */
    rep_param a, c;       /* intercept (thread-s) and slope (thread-s per unit); a.why unused */
} rep_cost_term;

typedef struct rep_cost_opts {
    double level;         /* 0.95 */
    size_t boot;          /* case-bootstrap resamples (500) */
    uint64_t seed;        /* 1 */
} rep_cost_opts;

void rep_cost_opts_init(rep_cost_opts *o);

typedef struct rep_cost_model {
    size_t ncells;                         /* fit cells */
    size_t ng;
    char gridder[REP_COST_MAXG][32];
    rep_cost_term term[REP_COST_MAXG][REP_NTERMS];
    rep_param f, r;                        /* stage 2 */
    size_t distinct_p;                     /* distinct P / cores values of stage 2 */
    double *boot;                          /* per resample: every a, c, then f, r (owned) */
    size_t nboot;
    double level;
} rep_cost_model;

/*
 * Fit the model to cells[0..n) (every cell must have wall, cores and
 * phase times: the others are skipped and counted in *skipped, which may
 * be NULL). IB_EINVAL when no cell is usable or more than REP_COST_MAXG
 * gridders appear; IB_ENOMEM. Release with rep_cost_model_release (also
 * after a failure).
 */
int rep_cost_model_fit(ib_err *e, const rep_cost_cell *cells, size_t n,
                       const rep_cost_opts *o, rep_cost_model *m, size_t *skipped);
void rep_cost_model_release(rep_cost_model *m);

/* A prediction: wall time and thread-seconds per term, with bands. */
typedef struct rep_cost_prediction {
    int ok;               /* 0: no prediction (why says why: not identifiable, ...) */
    char why[320];
    double wall, wall_lo, wall_hi;
    double term[REP_NTERMS], term_lo[REP_NTERMS], term_hi[REP_NTERMS]; /* NAN: unused */
} rep_cost_prediction;

/*
 * Predict cell c (its gridder, x and cores; y and wall are not read). No
 * prediction (ok = 0) when the gridder was not fitted, a driver the cell
 * needs is unknown, or a parameter the prediction uses is not identifiable
 * (the model does not extrapolate what it does not know).
 */
void rep_cost_predict(const rep_cost_model *m, const rep_cost_cell *c,
                      rep_cost_prediction *out);

/* ---------------------------------------------------------------------- */
/* CASA logs                                                               */
/* ---------------------------------------------------------------------- */

/* Limits protecting against hostile or broken input. */
#define REP_CASA_MAX_LINE   (1u << 20) /* bytes in one line (or joined call) */
#define REP_CASA_MAX_TASKS  100000     /* tclean tasks in one log */
#define REP_CASA_MAX_PARAMS 1024       /* parameters in one tclean call */
#define REP_CASA_MAX_NOTES  256        /* notes kept per task (more are dropped) */

typedef struct rep_kv {
    char *key;
    char *value; /* quoted strings unquoted; lists, dicts, numbers as written */
} rep_kv;

enum rep_task_status { REP_TASK_OK, REP_TASK_FAILED };
/* Where a duration came from: the "complete" message (local time, µs) or
 * the Begin/End line timestamps (whole seconds; CASA 5 fallback). */
enum rep_clock { REP_CLOCK_MESSAGE, REP_CLOCK_LINE };

/* "ok" / "failed" and "message" / "line". */
const char *rep_task_status_name(int status);
const char *rep_clock_name(int clock);

typedef struct rep_casa_task {
    size_t index;            /* 0-based order among the log's tclean tasks */
    int status;              /* enum rep_task_status */
    int clock;               /* enum rep_clock */
    double duration_s;       /* end - start, seconds */
    int64_t duration_us;     /* the same, exact microseconds */
    char start[32], end[32]; /* "2019-11-21 20:39:05.657779" (message) or line stamps */
    rep_kv *params;          /* tclean( ... ) call, in call order */
    size_t nparams;
    /* Shortcuts into params (NULL when the call does not name them). */
    const char *imagename, *gridder, *specmode, *imsize, *vis;
    long begin_line, end_line; /* 1-based lines of Begin Task / End Task */
    char *failure;           /* the SEVERE exception message, NULL when ok */
    char **notes;            /* partition lines ("Required memory: ... Subcubes: 7.") */
    size_t nnotes;
    /* Parsed from the last partition line; -1 when there is none. */
    double required_gb, available_gb;
    int subcubes;
} rep_casa_task;

typedef struct rep_casa_log {
    char *path;              /* as given to rep_casa_parse */
    char casa_version[64];   /* "6.2.1-7" from "CASA Version 6.2.1-7", or "" */
    char host[256];          /* from a "Host: NAME" / "Hostname: NAME" line, or "" */
    char first_ts[32], last_ts[32]; /* first and last line timestamps */
    size_t nlines;           /* lines read */
    int mpi;                 /* 1 when MPIServer lines were seen (mpicasa) */
    rep_casa_task *tasks;
    size_t ntasks;
} rep_casa_log;

/*
 * Parse the CASA log at path into *out (initialised here; release with
 * rep_casa_log_release, also after a failure). Each tclean task (Begin
 * Task .. End Task) becomes one rep_casa_task:
 *  - parameters from its "tclean( k=v, ... )" call line;
 *  - duration from "Task tclean complete. Start time: X End time: Y"
 *    (clock "message"), else from the Begin/End line timestamps (clock
 *    "line": CASA 5 logs);
 *  - status failed when a SEVERE "Task tclean raised an exception" line
 *    falls inside the task, even if it then logs "complete";
 *  - lines whose origin names an mpicasa server (…::casa::MPIServer-N) only
 *    count for provenance: the client's copy of each message is the one
 *    used, so every task is counted once;
 *  - "Required memory: … Subcubes: N." lines are kept as notes.
 * Lines without a timestamp after a valid line are continuation lines of a
 * multi-line message (they may finish a wrapped tclean call).
 * Errors (IB_EPARSE unless said) name the file and line, e.g.
 *   casa log 'x.log' line 12: Begin Task: tclean has no End Task before end
 *   of file at line 40 (truncated log?)
 * for: a first line that is not a CASA log line, a line longer than
 * REP_CASA_MAX_LINE, a NUL byte, Begin without End, End without Begin, a
 * task without a tclean call, an unparseable call or complete line, more
 * than REP_CASA_MAX_TASKS tasks, no tclean task at all. IB_EIO when the
 * file cannot be read, IB_ENOMEM.
 */
int rep_casa_parse(ib_err *e, const char *path, rep_casa_log *out);

/* The same for a log held in memory; name is used in messages and as path. */
int rep_casa_parse_buf(ib_err *e, const char *name, const char *buf, size_t len,
                       rep_casa_log *out);

/* Free everything *log owns and zero it. Safe on a zeroed or failed log. */
void rep_casa_log_release(rep_casa_log *log);

/* Value of parameter key in a task's call, or NULL. */
const char *rep_casa_param(const rep_casa_task *t, const char *key);

/* ---------------------------------------------------------------------- */
/* Baselines                                                               */
/* ---------------------------------------------------------------------- */

/* How a figure is known: "stated" or "read from plot, approx.". */
enum rep_label { REP_LABEL_STATED, REP_LABEL_PLOT };
/* A point value, or the low / high end of a range the source gives. */
enum rep_bound { REP_BOUND_POINT, REP_BOUND_LOW, REP_BOUND_HIGH };

const char *rep_label_name(int label);  /* exact YAML spelling */
const char *rep_bound_name(int bound);  /* "point", "low", "high" */

/* One recorded figure. Integers are 0 when not known. */
typedef struct rep_baseline {
    char *dataset;   /* e.g. "alma-x2e3"; NULL: not dataset-specific */
    char *system;    /* e.g. "casa-6.2", "cngi-prototype" */
    int nodes, cores, threads, chunks;
    int support;     /* gridding kernel support width (e.g. 17 for 17x17) */
    char *metric;    /* "wall_time", "speedup", "overhead_per_task", ... */
    double value;
    char *unit;      /* "s", "x", ... */
    int label;       /* enum rep_label */
    int bound;       /* enum rep_bound */
    char *note;      /* NULL when none */
    char *source;    /* the file's top-level source (e.g. "seed-study"), or NULL */
    long line;       /* 1-based line of the record in its file */
} rep_baseline;

/*
 * Load a baselines YAML file (format documented at the top of
 * workloads/baselines/seed-study.yaml) with libyaml. Strict: an unknown
 * key, a duplicate key, a value of the wrong type, a missing required value,
 * an unknown label or bound, anchors/aliases/tags, or a second document give
 * IB_EPARSE with "baselines 'f.yaml' line L column C: ...". On success
 * *out is a heap array of *n records (free with rep_baselines_destroy);
 * on failure *out = NULL, *n = 0.
 */
int rep_baselines_load(ib_err *e, const char *path, rep_baseline **out, size_t *n);

/* The same for YAML text in memory; name is used in messages. */
int rep_baselines_parse(ib_err *e, const char *name, const char *text, size_t len,
                        rep_baseline **out, size_t *n);

/* Free n records and the array; NULL does nothing. */
void rep_baselines_destroy(rep_baseline *b, size_t n);

/* ====================================================================== */
/* Cell labels                                                             */
/* ====================================================================== */

/* Label styles of rep_cell_label. */
enum rep_label_style {
    REP_LABEL_MAIN,  /* "alma-xc66 nodes=2 threads=1 chunks=4 support=7" and the
                      * other parameters a cell sets: row_chunks, schedule,
                      * serial_write, fsync, gridder, weight, precision,
                      * mem_budget, imager */
    REP_LABEL_SHORT, /* "alma-xc66 standard W=7 n=1 t=2 ch=4" (+ rc=M, schedule,
                      * serial, fsync, budget): `harness bench`'s columns */
    REP_LABEL_ALL,   /* "alma-xc66 k=v ..." every parameter but dataset and the
                      * keys given, in key order */
    REP_LABEL_KEYS   /* "k=v ..." only the keys given, in their order */
};

/*
 * The one label of a cell, from its parameter object (JSON text, as the
 * results database stores it) into buf: style as above; keys is a
 * NULL-terminated list for REP_LABEL_ALL (left out) and REP_LABEL_KEYS
 * (shown), else ignored (may be NULL). Strings print bare, numbers as
 * written (%g), booleans true/false; a missing key prints "-".
 */
void rep_cell_label(const char *params, int style, const char *const *keys, char *buf,
                    size_t n);

/* ====================================================================== */
/* Results-backed reporting: baselines in the results database, the       */
/* HTML + Markdown report with its gnuplot figures, run comparisons and   */
/* the bench analysis. These read and write the database only through     */
/* results' res_report_* functions.                                        */
/* ====================================================================== */

#include <stdio.h>

#include "results/results.h"

/*
 * The cost model fitted, as the report fits it, on the small-scale cells
 * (scale below full_scale, imbench, no spill) of every run in db: what
 * `run-suite --dry-run` estimates a suite's cells with before anything
 * runs. *fitted is 1 with m holding the model (release it with
 * rep_cost_model_release), or 0 with nothing to release; about (n bytes)
 * says what it was fitted on, or why there is no model. 0, or a database
 * error (IB_ENOMEM).
 */
int rep_cost_model_from_db(ib_err *e, res_db *db, double full_scale, rep_cost_model *m,
                           int *fitted, char *about, size_t n);

/*
 * Baselines in the database. Schema version 2's baselines table has no
 * columns for a record's file, line, bound, support or a CASA task's
 * parameters, so every imported row keeps them in its note column as a
 * JSON object:
 *   {"origin": "/abs/path", "line": 12, "note": "free text",
 *    "bound": "low", "support": 17, "source_name": "seed-study", ...}
 * (CASA rows add "task", "casa_version", "host", "status", "clock",
 * "start", "end", "duration_us", "params": {...}, "notes": [...],
 * "subcubes", "mpi"). Re-importing a file first deletes every row whose
 * origin is the file's real path, so re-importing replaces, never
 * duplicates. Records without a dataset (figures that hold for any
 * dataset) are stored with dataset '' (the column is NOT NULL).
 */
typedef struct rep_import_stats {
    size_t stored;    /* rows inserted */
    size_t replaced;  /* rows of an earlier import of the same file deleted */
    size_t skipped;   /* CASA tasks not stored (failed tclean calls) */
} rep_import_stats;

/*
 * Load the baselines YAML at path (rep_baselines_load) and store every
 * record in one IMMEDIATE transaction, replacing an earlier import of the
 * same file. The source column is 'seed-study' when the file's source is
 * seed-study, else 'manual' (the file's own source name goes in the note).
 * On any failure nothing is written; e names the file (and line for
 * parse errors). out may be NULL.
 */
int rep_db_import_baselines(ib_err *e, res_db *db, const char *path, rep_import_stats *out);

typedef struct rep_casa_import_opts {
    const char *dataset;  /* required: the dataset the log imaged */
    int nodes;            /* required, >= 1 */
    int cores;            /* 0: not known */
    const char *label;    /* label column; NULL: "measured (casa log)" */
    FILE *log;            /* one line per skipped task (may be NULL) */
} rep_casa_import_opts;

/*
 * Parse the CASA log at path (rep_casa_parse) and store each successful
 * tclean task as one baseline: system "casa-<version>" ("casa" when the
 * log does not say), metric wall_time (unit s, the task's duration),
 * nodes / cores from o, source 'casa-log', the call's parameters and the
 * log's provenance in the note. Failed tasks (a SEVERE "raised an
 * exception" inside the task) are not stored: their duration is the time
 * to the failure, not an imaging time. Each is reported on o->log as
 * "casa log 'f' line L: skipped failed tclean task #i: <message>" and
 * counted in out->skipped. One transaction per file: a log that does not
 * parse (truncated, foreign, ...: IB_EPARSE) or has no successful task
 * (IB_ENOTFOUND) writes nothing and returns the error naming file and
 * line; an earlier import of the same file is replaced.
 */
int rep_db_import_casa(ib_err *e, res_db *db, const char *path, const rep_casa_import_opts *o,
                       rep_import_stats *out);

/* Print the baselines (of dataset, or all when NULL) as an aligned table;
 * *n (may be NULL) counts them. */
int rep_db_print_baselines(ib_err *e, res_db *db, const char *dataset, FILE *f, size_t *n);

/*
 * The full size of a seed dataset, for predicting it with the cost model
 * (the harness fills these from the workloads/datasets YAML files; reports
 * does not depend on workloads).
 */
typedef struct rep_full_shape {
    char name[64];
    char gridder[32];       /* "standard" / "mosaic" */
    double rows, nchan, npol;
    double nx, ny;          /* image */
    double volume_bytes;    /* 0 unknown */
    double npointing;       /* pointings (1 for standard datasets); 0 unknown */
} rep_full_shape;

typedef struct rep_report_opts {
    int64_t run_id;               /* 0: the latest run */
    const char *out_dir;          /* NULL: reports/<suite>-<run> */
    int64_t gantt_cell;           /* 0: the multi-rank cell with most tasks */
    const rep_full_shape *shapes; /* may be NULL: no full-shape predictions */
    size_t nshapes;
    int study_nodes;              /* the study's node count (8), 16 cores each */
    double full_scale;            /* a cell at this scale (or more) without
                                   * times/chans cuts is full size (1) */
    const int64_t *fit_runs;      /* runs whose small-scale cells fit the cost
                                   * model; NULL: every run of the database */
    size_t nfit_runs;
    int store_predictions;        /* 1: store the full-size predictions (writes
                                   * the database) */
    const char *gnuplot;          /* NULL: "gnuplot" from PATH */
    size_t boot;                  /* bootstrap resamples (1000) */
    uint64_t seed;                /* 1 */
    FILE *log;                    /* progress lines, may be NULL */
} rep_report_opts;

void rep_report_opts_init(rep_report_opts *o);

/* What rep_report_write made. */
typedef struct rep_report_info {
    int64_t run_id;
    char out_dir[4096];
    size_t plots;        /* figures scripted (each: .gp + data) */
    size_t rendered;     /* of those, with .png and .svg */
    size_t warnings;     /* entries of the report's warnings list */
    size_t predictions;  /* full-size cells predicted */
    size_t stored;       /* predictions stored in the database */
    size_t off;          /* predictions off by more than 25% */
    char gnuplot_note[512]; /* why figures were not rendered, or "" */
} rep_report_info;

/*
 * Write the report of one run into its directory (created), built from
 * the table of figures in reports/figures.c (docs/reports.md lists them):
 * index.html (self-contained: CSS inline, PNGs as data: URIs), report.md
 * (GitHub Markdown, figures by relative path) and, for each figure,
 * NAME.dat (or several), NAME.gp (re-runnable: `gnuplot NAME.gp` in the
 * directory), NAME.png and NAME.svg. Every figure and table says what it
 * is: measured here (with its cores), model, simulated, or the study's.
 * Every file is written to a temporary name and renamed when complete: a
 * failure (a full disk) leaves the previous files as they were and returns
 * IB_ENOSPACE or IB_EIO naming the file and the cause. Missing or failing
 * gnuplot is not an error: the scripts and data are written, the report
 * says why there are no images, and no partial image is left. Other
 * errors: IB_ENOTFOUND (no such run / no run at all), IB_EINVAL (a
 * --gantt-cell not in the run), database errors (also when storing
 * predictions). info may be NULL.
 */
int rep_report_write(ib_err *e, res_db *db, const rep_report_opts *o, rep_report_info *info);

/*
 * `harness bench`: the ratios of a run of a bench suite, each measured
 * side by side in that run with a bootstrap 95% interval from the repeats,
 * printed to out: per cell wall time, gridding rate per thread, cube rate,
 * scheduler time per task, spill; thread and rank efficiency with the
 * machine's compute ceiling; mosaic against standard cost per sample;
 * imbench against WSClean; serial against parallel writes; schedulers;
 * chunk and row-chunk sweeps with their optimum; the single-thread
 * gridding rate.
 */
typedef struct rep_bench_opts {
    int64_t run;          /* 0: the latest run of suite */
    const char *suite;    /* "bench" */
    FILE *out;            /* stdout when NULL */
} rep_bench_opts;

/* IB_ENOTFOUND ("database 'F' has no run of suite 'S'"), database errors,
 * IB_ENOMEM. */
int rep_bench_print(ib_err *e, res_db *db, const rep_bench_opts *o);

typedef struct rep_cmp_opts {
    int64_t run_a;          /* candidate */
    int64_t run_b;          /* base */
    const char *metrics;    /* comma-separated names; NULL: "wall_time"; "all": every
                             * metric both runs have */
    rep_compare_opts c;     /* alpha, threshold, level, boot, seed (better is per metric) */
    FILE *out;              /* the table */
} rep_cmp_opts;

typedef struct rep_cmp_result {
    size_t compared;        /* (cell, metric) pairs compared */
    size_t faster, slower, unchanged;
    size_t regressions;     /* significant and beyond the threshold */
    size_t only_a, only_b;  /* cells in one run only */
    size_t skipped;         /* pairs not comparable (no samples, units differ, ...) */
} rep_cmp_result;

/*
 * Compare run A with run B cell by cell: cells are matched by content
 * hash (a cell's id is its hash: runs share cells); for each matched cell
 * and metric the ratio median(A)/median(B) with its bootstrap CI, the
 * Mann–Whitney p, Benjamini–Hochberg over all pairs, then the verdict in
 * the metric's own direction (better = lower|higher as recorded; lower
 * when not recorded, which the table marks). Metrics whose units differ
 * between the runs are skipped with a note. Prints a table to o->out.
 */
int rep_compare_runs(ib_err *e, res_db *db, const rep_cmp_opts *o, rep_cmp_result *res);

/*
 * Compare run's scaling with the CASA baselines per dataset: our speedup
 * T(1)/T(n) (bootstrap CI) against CASA's own normalised T(1)/T(n) (or its
 * recorded range), and the full-size cost-model extrapolation against
 * CASA's recorded times — every figure labelled "normalised" or "model".
 * *ncompared (may be NULL) counts the datasets that had CASA figures.
 */
int rep_compare_casa(ib_err *e, res_db *db, int64_t run, const rep_full_shape *shapes,
                     size_t nshapes, int study_nodes, FILE *out, size_t *ncompared);

/*
 * imbench against a peer imager in the same run (`harness compare --against
 * wsclean`, docs/wsclean.md). A cell's imager is its "imager" parameter
 * (absent: imbench). Every peer cell is paired with the imbench cell whose
 * parameters are identical except imager (and dataset_key, which the other
 * parameters determine); per pair and metric the medians over the
 * successful repeats and the ratio median(imbench) / median(peer) with its
 * percentile-bootstrap CI (rep_boot_ratio_ci). Pairs where a side has no
 * value (skipped: wsclean not installed, several ranks, ...; failed) and
 * cells without a partner are rows too, with the reason, not errors.
 */
typedef struct rep_peer_opts {
    int64_t run;            /* required (> 0) */
    const char *peer;       /* the peer's imager value; NULL: "wsclean" */
    const char *metrics;    /* comma-separated names; NULL: "wall_time" */
    double level;           /* CI level (0.95) */
    size_t boot;            /* bootstrap resamples (2000) */
    uint64_t seed;          /* 1; row i resamples with seed + i */
    FILE *out;              /* the table; NULL: stdout */
} rep_peer_opts;

/* level 0.95, boot 2000, seed 1, peer wsclean, wall_time, stdout. */
void rep_peer_opts_init(rep_peer_opts *o);

enum rep_peer_status {
    REP_PEER_PAIRED,        /* both sides have values: ratio set */
    REP_PEER_NO_VALUES,     /* a pair, but a side has no value of the metric (why) */
    REP_PEER_NO_IMBENCH,    /* a peer cell without an imbench cell in the run */
    REP_PEER_NO_PEER        /* an imbench cell without a peer cell (listed only
                             * when the run has peer cells) */
};

/* One row of the table. Cell ids are 0 where there is no such cell. */
typedef struct rep_peer_row {
    int status;             /* enum rep_peer_status */
    int64_t cell, peer_cell;
    char label[512];        /* the pair's parameters but imager and dataset_key */
    char metric[64];        /* "" for rows that are not about one metric */
    char unit[32];          /* the metric's unit, "" unknown */
    int higher_better;      /* the metric's recorded direction */
    double median, peer_median; /* NAN without values */
    size_t n, peer_n;       /* values (successful repeats with the metric) */
    rep_ci ratio;           /* median / peer_median (PAIRED only) */
    char why[400];          /* what is missing, e.g. "wsclean skipped: wsclean not installed" */
} rep_peer_row;

typedef struct rep_peer_result {
    size_t peer_cells;      /* cells of the peer in the run */
    size_t paired;          /* PAIRED rows (pair x metric) */
    size_t no_values;       /* NO_VALUES rows */
    size_t no_imbench, no_peer;
    rep_peer_row *rows;     /* owned: rep_peer_result_release */
    size_t nrows;
} rep_peer_result;

/*
 * Pair the run's cells, print the table to o->out and, when res is not
 * NULL, fill *res (release it with rep_peer_result_release, also after a
 * failure). Errors: IB_EINVAL (bad options), IB_ENOTFOUND (no such run),
 * database errors, IB_ENOMEM; nothing is printed then.
 */
int rep_compare_peer(ib_err *e, res_db *db, const rep_peer_opts *o, rep_peer_result *res);

/* Free what *r owns and zero it; a zeroed result is fine. */
void rep_peer_result_release(rep_peer_result *r);

#endif
