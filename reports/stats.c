/*
 * stats.c: statistics for benchmark timings that are few and noisy (a 2-core
 * VM, 5-10 repeats): robust summaries, percentile-bootstrap confidence
 * intervals, the Mann–Whitney test, Benjamini–Hochberg adjustment and a
 * compare verdict (the fits are in fit.c). Everything works on borrowed
 * arrays and returns plain structs: no I/O.
 */
#include "reports/stats_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


/* The exact Mann–Whitney distribution is used up to this many values. */
#define MW_EXACT_MAX 50

int rep__cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rep__check_sample(ib_err *e, const double *x, size_t n, const char *what)
{
    if (n == 0) return ib_error(e, IB_EINVAL, "%s: empty sample", what);
    if (!x) return ib_error(e, IB_EINVAL, "%s: no data", what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ib_error(e, IB_EINVAL, "%s: value %zu is not finite (%g)", what, i, x[i]);
    return 0;
}

double *rep__alloc_doubles(ib_err *e, size_t n, const char *what)
{
    size_t bytes;
    double *p = NULL;
    if (ib_mul_size(n ? n : 1, sizeof *p, &bytes) == 0) p = ib_malloc(bytes);
    if (!p) ib_error(e, IB_ENOMEM, "%s: cannot allocate %zu values", what, n);
    return p;
}

static double *sorted_copy(ib_err *e, const double *x, size_t n, const char *what)
{
    double *s = rep__alloc_doubles(e, n, what);
    if (!s) return NULL;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, rep__cmp_double);
    return s;
}

double rep_mean(const double *x, size_t n)
{
    if (n == 0) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s / (double)n;
}

double rep_sd(const double *x, size_t n)
{
    if (n < 2) return NAN;
    double m = rep_mean(x, n), ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (double)(n - 1));
}

double rep_quantile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0 || !(p >= 0.0 && p <= 1.0)) return NAN;
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return sorted[n - 1];
    double f = h - (double)lo;
    return sorted[lo] + f * (sorted[lo + 1] - sorted[lo]);
}

int rep_quantile(ib_err *e, const double *x, size_t n, double p, double *out)
{
    int rc = rep__check_sample(e, x, n, "quantile");
    if (rc) return rc;
    if (!(p >= 0.0 && p <= 1.0))
        return ib_error(e, IB_EINVAL, "quantile: probability %g is outside [0,1]", p);
    double *s = sorted_copy(e, x, n, "quantile");
    if (!s) return IB_ENOMEM;
    *out = rep_quantile_sorted(s, n, p);
    ib_free(s);
    return 0;
}

int rep_median(ib_err *e, const double *x, size_t n, double *out)
{
    return rep_quantile(e, x, n, 0.5, out);
}

/* MAD of sorted data s (n >= 1), using dev as scratch of n values. */
static double mad_sorted(const double *s, size_t n, double *dev)
{
    double med = rep_quantile_sorted(s, n, 0.5);
    for (size_t i = 0; i < n; i++) dev[i] = fabs(s[i] - med);
    qsort(dev, n, sizeof *dev, rep__cmp_double);
    return rep_quantile_sorted(dev, n, 0.5);
}

int rep_mad(ib_err *e, const double *x, size_t n, double *out)
{
    int rc = rep__check_sample(e, x, n, "mad");
    if (rc) return rc;
    double *s = sorted_copy(e, x, n, "mad");
    if (!s) return IB_ENOMEM;
    double *dev = rep__alloc_doubles(e, n, "mad");
    if (!dev) {
        ib_free(s);
        return IB_ENOMEM;
    }
    *out = mad_sorted(s, n, dev);
    ib_free(dev);
    ib_free(s);
    return 0;
}

int rep_summarize(ib_err *e, const double *x, size_t n, rep_summary *out)
{
    int rc = rep__check_sample(e, x, n, "summary");
    if (rc) return rc;
    double *s = sorted_copy(e, x, n, "summary");
    if (!s) return IB_ENOMEM;
    double *dev = rep__alloc_doubles(e, n, "summary");
    if (!dev) {
        ib_free(s);
        return IB_ENOMEM;
    }
    rep_summary r;
    r.n = n;
    r.min = s[0];
    r.max = s[n - 1];
    r.q1 = rep_quantile_sorted(s, n, 0.25);
    r.median = rep_quantile_sorted(s, n, 0.5);
    r.q3 = rep_quantile_sorted(s, n, 0.75);
    r.mean = rep_mean(x, n);
    r.sd = rep_sd(x, n);
    r.mad = mad_sorted(s, n, dev);
    ib_free(dev);
    ib_free(s);
    *out = r;
    return 0;
}

/* ---------------------------------------------------------------------- */

size_t rep__draw_index(uint64_t seed, uint64_t stream, uint64_t b, uint64_t i, size_t n)
{
    size_t k = (size_t)(ib_uniform(ib_hash4(seed, stream, b, i)) * (double)n);
    return k < n ? k : n - 1;
}

/* Median of a with-replacement resample of x into scratch buf. */
static double resample_median(const double *x, size_t n, double *buf, uint64_t seed,
                              uint64_t stream, uint64_t b)
{
    for (size_t i = 0; i < n; i++) buf[i] = x[rep__draw_index(seed, stream, b, i, n)];
    qsort(buf, n, sizeof *buf, rep__cmp_double);
    return rep_quantile_sorted(buf, n, 0.5);
}

int rep__check_boot_args(ib_err *e, double level, size_t B, const char *what)
{
    if (!(level > 0.0 && level < 1.0))
        return ib_error(e, IB_EINVAL, "%s: confidence level %g is outside (0,1)", what, level);
    if (B < 10)
        return ib_error(e, IB_EINVAL, "%s: %zu bootstrap resamples, need at least 10", what, B);
    return 0;
}

/* Percentile interval of B estimates (sorted in place). */
void rep__percentile_ci(double *est, size_t B, double level, double *lo, double *hi)
{
    qsort(est, B, sizeof *est, rep__cmp_double);
    double a = (1.0 - level) / 2.0;
    *lo = rep_quantile_sorted(est, B, a);
    *hi = rep_quantile_sorted(est, B, 1.0 - a);
}

int rep_boot_median_ci(ib_err *e, const double *x, size_t n, double level, size_t B,
                       uint64_t seed, rep_ci *out)
{
    int rc = rep__check_sample(e, x, n, "bootstrap median");
    if (!rc) rc = rep__check_boot_args(e, level, B, "bootstrap median");
    if (rc) return rc;
    double *buf = rep__alloc_doubles(e, n, "bootstrap median");
    double *est = buf ? rep__alloc_doubles(e, B, "bootstrap median") : NULL;
    if (!est) {
        ib_free(buf);
        return IB_ENOMEM;
    }
    rep_ci r = {.level = level};
    memcpy(buf, x, n * sizeof *buf);
    qsort(buf, n, sizeof *buf, rep__cmp_double);
    r.est = rep_quantile_sorted(buf, n, 0.5);
    for (size_t b = 0; b < B; b++) est[b] = resample_median(x, n, buf, seed, REP__STREAM_MEDIAN, b);
    rep__percentile_ci(est, B, level, &r.lo, &r.hi);
    ib_free(est);
    ib_free(buf);
    *out = r;
    return 0;
}

int rep_boot_ratio_ci(ib_err *e, const double *num, size_t nnum, const double *den,
                      size_t nden, double level, size_t B, uint64_t seed, rep_ci *out)
{
    int rc = rep__check_sample(e, num, nnum, "bootstrap ratio numerator");
    if (!rc) rc = rep__check_sample(e, den, nden, "bootstrap ratio denominator");
    if (!rc) rc = rep__check_boot_args(e, level, B, "bootstrap ratio");
    if (rc) return rc;
    size_t nmax = nnum > nden ? nnum : nden;
    double *buf = rep__alloc_doubles(e, nmax, "bootstrap ratio");
    double *est = buf ? rep__alloc_doubles(e, B, "bootstrap ratio") : NULL;
    if (!est) {
        ib_free(buf);
        return IB_ENOMEM;
    }
    rep_ci r = {.level = level};
    memcpy(buf, num, nnum * sizeof *buf);
    qsort(buf, nnum, sizeof *buf, rep__cmp_double);
    double mnum = rep_quantile_sorted(buf, nnum, 0.5);
    memcpy(buf, den, nden * sizeof *buf);
    qsort(buf, nden, sizeof *buf, rep__cmp_double);
    double mden = rep_quantile_sorted(buf, nden, 0.5);
    if (mden == 0.0) {
        rc = ib_error(e, IB_EINVAL, "bootstrap ratio: denominator median is zero");
        goto done;
    }
    r.est = mnum / mden;
    for (size_t b = 0; b < B; b++) {
        double a = resample_median(num, nnum, buf, seed, REP__STREAM_NUM, b);
        double d = resample_median(den, nden, buf, seed, REP__STREAM_DEN, b);
        if (d == 0.0) {
            rc = ib_error(e, IB_EINVAL,
                          "bootstrap ratio: a resampled denominator median is zero");
            goto done;
        }
        est[b] = a / d;
    }
    rep__percentile_ci(est, B, level, &r.lo, &r.hi);
    *out = r;
done:
    ib_free(est);
    ib_free(buf);
    return rc;
}

/* ---------------------------------------------------------------------- */

typedef struct tagged {
    double v;
    int from_a;
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    return rep__cmp_double(&((const tagged *)a)->v, &((const tagged *)b)->v);
}

/*
 * Number of arrangements with U = k for sizes m, n (no ties), k = 0..m n:
 * the coefficients of the Gaussian binomial [m+n choose m]_q, built as
 * prod_{i=1..m} (1 - q^(n+i)) / (1 - q^i). Truncating at degree m n is exact
 * because both steps only carry weight from lower to higher degrees.
 * Counts stay below C(50,25) < 2^53, so doubles hold them exactly.
 */
static void mw_counts(size_t m, size_t n, double *c)
{
    size_t M = m * n + 1;
    for (size_t k = 0; k < M; k++) c[k] = 0;
    c[0] = 1;
    for (size_t i = 1; i <= m; i++) {
        size_t up = n + i;
        for (size_t k = M; k-- > up;) c[k] -= c[k - up];
        for (size_t k = i; k < M; k++) c[k] += c[k - i];
    }
}

int rep_mann_whitney(ib_err *e, const double *a, size_t na, const double *b, size_t nb,
                     rep_mw *out)
{
    int rc = rep__check_sample(e, a, na, "mann-whitney sample a");
    if (!rc) rc = rep__check_sample(e, b, nb, "mann-whitney sample b");
    if (rc) return rc;
    size_t N = na + nb, bytes;
    if (N < na || ib_mul_size(N, sizeof(tagged), &bytes))
        return ib_error(e, IB_EOVERFLOW, "mann-whitney: samples too large");
    tagged *all = ib_malloc(bytes);
    if (!all) return ib_error(e, IB_ENOMEM, "mann-whitney: cannot allocate %zu values", N);
    for (size_t i = 0; i < na; i++) all[i] = (tagged){a[i], 1};
    for (size_t j = 0; j < nb; j++) all[na + j] = (tagged){b[j], 0};
    qsort(all, N, sizeof *all, cmp_tagged);

    /* Midranks; rank sum of a; tie term sum(t^3 - t). */
    double ra = 0, ties = 0;
    for (size_t i = 0; i < N;) {
        size_t j = i;
        while (j + 1 < N && all[j + 1].v == all[i].v) j++;
        double t = (double)(j - i + 1), mid = 0.5 * (double)(i + j) + 1.0;
        for (size_t k = i; k <= j; k++)
            if (all[k].from_a) ra += mid;
        ties += t * t * t - t;
        i = j + 1;
    }
    ib_free(all);

    double m = (double)na, n = (double)nb, mn = m * n;
    rep_mw r = {0};
    r.u = ra - m * (m + 1) / 2.0;
    if (ties == 0 && N <= MW_EXACT_MAX) {
        double *c = rep__alloc_doubles(e, na * nb + 1, "mann-whitney");
        if (!c) return IB_ENOMEM;
        mw_counts(na, nb, c);
        size_t u = (size_t)llround(r.u);
        double total = 0, le = 0, ge = 0;
        for (size_t k = 0; k <= na * nb; k++) {
            total += c[k];
            if (k <= u) le += c[k];
            if (k >= u) ge += c[k];
        }
        ib_free(c);
        double p = 2.0 * fmin(le, ge) / total;
        r.p = p > 1.0 ? 1.0 : p;
        r.exact = 1;
    } else {
        double var = mn / 12.0 * ((m + n + 1) - ties / ((m + n) * (m + n - 1)));
        double d = r.u - mn / 2.0;
        if (var <= 0 || d == 0) {
            r.z = 0;
            r.p = 1.0;
        } else {
            double cc = d > 0 ? 0.5 : -0.5;
            r.z = (d - cc) / sqrt(var);
            double p = erfc(fabs(r.z) / sqrt(2.0));
            r.p = p > 1.0 ? 1.0 : p;
        }
    }
    *out = r;
    return 0;
}

typedef struct pidx {
    double p;
    size_t i;
} pidx;

static int cmp_pidx(const void *a, const void *b)
{
    const pidx *x = a, *y = b;
    int c = rep__cmp_double(&x->p, &y->p);
    if (c) return c;
    return (x->i > y->i) - (x->i < y->i);
}

int rep_bh_adjust(ib_err *e, const double *p, size_t m, double *adj)
{
    if (m == 0) return 0;
    for (size_t i = 0; i < m; i++)
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            return ib_error(e, IB_EINVAL, "benjamini-hochberg: p-value %zu is %g, not in [0,1]",
                            i, p[i]);
    size_t bytes;
    if (ib_mul_size(m, sizeof(pidx), &bytes))
        return ib_error(e, IB_EOVERFLOW, "benjamini-hochberg: too many p-values");
    pidx *s = ib_malloc(bytes);
    if (!s) return ib_error(e, IB_ENOMEM, "benjamini-hochberg: cannot allocate %zu values", m);
    for (size_t i = 0; i < m; i++) s[i] = (pidx){p[i], i};
    qsort(s, m, sizeof *s, cmp_pidx);
    double run = 1.0;
    for (size_t k = m; k-- > 0;) {
        double v = s[k].p * (double)m / (double)(k + 1);
        if (v < run) run = v;
        s[k].p = run;
    }
    for (size_t k = 0; k < m; k++) adj[s[k].i] = s[k].p;
    ib_free(s);
    return 0;
}

/* ---------------------------------------------------------------------- */

const char *rep_verdict_name(int verdict)
{
    switch (verdict) {
    case REP_FASTER: return "faster";
    case REP_SLOWER: return "slower";
    case REP_NO_CHANGE: return "no significant change";
    default: return "unknown";
    }
}

void rep_compare_opts_init(rep_compare_opts *o)
{
    o->better = REP_LOWER_IS_BETTER;
    o->alpha = 0.05;
    o->threshold = 0.05;
    o->level = 0.95;
    o->boot = 2000;
    o->seed = 1;
}

void rep_compare_judge(const rep_compare_opts *o, double p, rep_compare *c)
{
    c->p = p;
    c->verdict = REP_NO_CHANGE;
    c->regression = 0;
    int above = c->ratio.lo > 1.0, below = c->ratio.hi < 1.0;
    if (!(p < o->alpha) || !(above || below)) return;
    int lower = o->better == REP_LOWER_IS_BETTER;
    c->verdict = (above == lower) ? REP_SLOWER : REP_FASTER;
    if (c->verdict == REP_SLOWER)
        c->regression = lower ? c->ratio.est > 1.0 + o->threshold
                              : c->ratio.est < 1.0 - o->threshold;
}

int rep_compare_samples(ib_err *e, const double *base, size_t nbase, const double *cand,
                        size_t ncand, const rep_compare_opts *o, rep_compare *out)
{
    if (!(o->alpha > 0.0 && o->alpha < 1.0))
        return ib_error(e, IB_EINVAL, "compare: alpha %g is outside (0,1)", o->alpha);
    if (!(o->threshold >= 0.0))
        return ib_error(e, IB_EINVAL, "compare: threshold %g is negative", o->threshold);
    rep_compare c;
    memset(&c, 0, sizeof c);
    int rc = rep_boot_ratio_ci(e, cand, ncand, base, nbase, o->level, o->boot, o->seed,
                               &c.ratio);
    if (rc) return ib_error_wrap(e, "compare");
    rc = rep_mann_whitney(e, cand, ncand, base, nbase, &c.mw);
    if (rc) return ib_error_wrap(e, "compare");
    rep_compare_judge(o, c.mw.p, &c);
    *out = c;
    return 0;
}

double rep_median_or_nan(const double *x, size_t n)
{
    double m;
    return n && rep_median(NULL, x, n, &m) == 0 ? m : NAN;
}
