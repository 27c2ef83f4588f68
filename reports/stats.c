/*
 * stats.c: statistics for benchmark timings that are few and noisy (a 2-core
 * VM, 5-10 repeats): robust summaries, percentile-bootstrap confidence
 * intervals, the Mann–Whitney test, Benjamini–Hochberg adjustment, a compare
 * verdict, Amdahl and Karp–Flatt scaling fits and a small linear cost model.
 * Everything works on borrowed arrays and returns plain structs.
 */
#include "reports/reports.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Streams of the counter-based generator, so resamples never overlap. */
enum { STREAM_MEDIAN = 1, STREAM_NUM, STREAM_DEN, STREAM_AMDAHL };

/* The exact Mann–Whitney distribution is used up to this many values. */
#define MW_EXACT_MAX 50

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int check_sample(ib_err *e, const double *x, size_t n, const char *what)
{
    if (n == 0) return ib_error(e, IB_EINVAL, "%s: empty sample", what);
    if (!x) return ib_error(e, IB_EINVAL, "%s: no data", what);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return ib_error(e, IB_EINVAL, "%s: value %zu is not finite (%g)", what, i, x[i]);
    return 0;
}

static double *alloc_doubles(ib_err *e, size_t n, const char *what)
{
    size_t bytes;
    double *p = NULL;
    if (ib_mul_size(n ? n : 1, sizeof *p, &bytes) == 0) p = ib_malloc(bytes);
    if (!p) ib_error(e, IB_ENOMEM, "%s: cannot allocate %zu values", what, n);
    return p;
}

static double *sorted_copy(ib_err *e, const double *x, size_t n, const char *what)
{
    double *s = alloc_doubles(e, n, what);
    if (!s) return NULL;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
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
    int rc = check_sample(e, x, n, "quantile");
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
    qsort(dev, n, sizeof *dev, cmp_double);
    return rep_quantile_sorted(dev, n, 0.5);
}

int rep_mad(ib_err *e, const double *x, size_t n, double *out)
{
    int rc = check_sample(e, x, n, "mad");
    if (rc) return rc;
    double *s = sorted_copy(e, x, n, "mad");
    if (!s) return IB_ENOMEM;
    double *dev = alloc_doubles(e, n, "mad");
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
    int rc = check_sample(e, x, n, "summary");
    if (rc) return rc;
    double *s = sorted_copy(e, x, n, "summary");
    if (!s) return IB_ENOMEM;
    double *dev = alloc_doubles(e, n, "summary");
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

static size_t draw_index(uint64_t seed, uint64_t stream, uint64_t b, uint64_t i, size_t n)
{
    size_t k = (size_t)(ib_uniform(ib_hash4(seed, stream, b, i)) * (double)n);
    return k < n ? k : n - 1;
}

/* Median of a with-replacement resample of x into scratch buf. */
static double resample_median(const double *x, size_t n, double *buf, uint64_t seed,
                              uint64_t stream, uint64_t b)
{
    for (size_t i = 0; i < n; i++) buf[i] = x[draw_index(seed, stream, b, i, n)];
    qsort(buf, n, sizeof *buf, cmp_double);
    return rep_quantile_sorted(buf, n, 0.5);
}

static int check_boot_args(ib_err *e, double level, size_t B, const char *what)
{
    if (!(level > 0.0 && level < 1.0))
        return ib_error(e, IB_EINVAL, "%s: confidence level %g is outside (0,1)", what, level);
    if (B < 10)
        return ib_error(e, IB_EINVAL, "%s: %zu bootstrap resamples, need at least 10", what, B);
    return 0;
}

/* Percentile interval of B estimates (sorted in place). */
static void percentile_ci(double *est, size_t B, double level, double *lo, double *hi)
{
    qsort(est, B, sizeof *est, cmp_double);
    double a = (1.0 - level) / 2.0;
    *lo = rep_quantile_sorted(est, B, a);
    *hi = rep_quantile_sorted(est, B, 1.0 - a);
}

int rep_boot_median_ci(ib_err *e, const double *x, size_t n, double level, size_t B,
                       uint64_t seed, rep_ci *out)
{
    int rc = check_sample(e, x, n, "bootstrap median");
    if (!rc) rc = check_boot_args(e, level, B, "bootstrap median");
    if (rc) return rc;
    double *buf = alloc_doubles(e, n, "bootstrap median");
    double *est = buf ? alloc_doubles(e, B, "bootstrap median") : NULL;
    if (!est) {
        ib_free(buf);
        return IB_ENOMEM;
    }
    rep_ci r = {.level = level};
    memcpy(buf, x, n * sizeof *buf);
    qsort(buf, n, sizeof *buf, cmp_double);
    r.est = rep_quantile_sorted(buf, n, 0.5);
    for (size_t b = 0; b < B; b++) est[b] = resample_median(x, n, buf, seed, STREAM_MEDIAN, b);
    percentile_ci(est, B, level, &r.lo, &r.hi);
    ib_free(est);
    ib_free(buf);
    *out = r;
    return 0;
}

int rep_boot_ratio_ci(ib_err *e, const double *num, size_t nnum, const double *den,
                      size_t nden, double level, size_t B, uint64_t seed, rep_ci *out)
{
    int rc = check_sample(e, num, nnum, "bootstrap ratio numerator");
    if (!rc) rc = check_sample(e, den, nden, "bootstrap ratio denominator");
    if (!rc) rc = check_boot_args(e, level, B, "bootstrap ratio");
    if (rc) return rc;
    size_t nmax = nnum > nden ? nnum : nden;
    double *buf = alloc_doubles(e, nmax, "bootstrap ratio");
    double *est = buf ? alloc_doubles(e, B, "bootstrap ratio") : NULL;
    if (!est) {
        ib_free(buf);
        return IB_ENOMEM;
    }
    rep_ci r = {.level = level};
    memcpy(buf, num, nnum * sizeof *buf);
    qsort(buf, nnum, sizeof *buf, cmp_double);
    double mnum = rep_quantile_sorted(buf, nnum, 0.5);
    memcpy(buf, den, nden * sizeof *buf);
    qsort(buf, nden, sizeof *buf, cmp_double);
    double mden = rep_quantile_sorted(buf, nden, 0.5);
    if (mden == 0.0) {
        rc = ib_error(e, IB_EINVAL, "bootstrap ratio: denominator median is zero");
        goto done;
    }
    r.est = mnum / mden;
    for (size_t b = 0; b < B; b++) {
        double a = resample_median(num, nnum, buf, seed, STREAM_NUM, b);
        double d = resample_median(den, nden, buf, seed, STREAM_DEN, b);
        if (d == 0.0) {
            rc = ib_error(e, IB_EINVAL,
                          "bootstrap ratio: a resampled denominator median is zero");
            goto done;
        }
        est[b] = a / d;
    }
    percentile_ci(est, B, level, &r.lo, &r.hi);
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
    return cmp_double(&((const tagged *)a)->v, &((const tagged *)b)->v);
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
    int rc = check_sample(e, a, na, "mann-whitney sample a");
    if (!rc) rc = check_sample(e, b, nb, "mann-whitney sample b");
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
        double *c = alloc_doubles(e, na * nb + 1, "mann-whitney");
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
    int c = cmp_double(&x->p, &y->p);
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

/* ---------------------------------------------------------------------- */

void rep_amdahl_opts_init(rep_amdahl_opts *o)
{
    o->relative = 1;
    o->level = 0.95;
    o->boot = 1000;
    o->seed = 1;
}

double rep_amdahl_time(double t1, double s, double n) { return t1 * (s + (1.0 - s) / n); }

double rep_amdahl_speedup(double s, double n) { return 1.0 / (s + (1.0 - s) / n); }

double rep_karp_flatt(double speedup, double n)
{
    if (!(n > 1.0)) return NAN;
    return (1.0 / speedup - 1.0 / n) / (1.0 - 1.0 / n);
}

/* Weighted sum of squares of t - (A + B g). */
static double amdahl_sse(const double *g, const double *t, const double *w, size_t n,
                         double A, double B)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double r = t[i] - A - B * g[i];
        s += w[i] * r * r;
    }
    return s;
}

/*
 * Least squares of t = A + B g with weights w under A, B >= 0: the
 * unconstrained optimum when feasible, else the better boundary fit (the
 * problem is a convex quadratic, so the optimum lies on an active edge).
 */
static void amdahl_core(const double *g, const double *t, const double *w, size_t n,
                        double *A, double *B, double *sse)
{
    double Sw = 0, Sg = 0, Sgg = 0, St = 0, Sgt = 0;
    for (size_t i = 0; i < n; i++) {
        Sw += w[i];
        Sg += w[i] * g[i];
        Sgg += w[i] * g[i] * g[i];
        St += w[i] * t[i];
        Sgt += w[i] * g[i] * t[i];
    }
    double det = Sw * Sgg - Sg * Sg;
    double bestA = St / Sw, bestB = 0; /* edge B = 0 */
    double best = amdahl_sse(g, t, w, n, bestA, bestB);
    double eB = Sgt / Sgg; /* edge A = 0 */
    if (eB < 0) eB = 0;
    double v = amdahl_sse(g, t, w, n, 0, eB);
    if (v < best) {
        best = v;
        bestA = 0;
        bestB = eB;
    }
    if (det > 0) {
        double iA = (Sgg * St - Sg * Sgt) / det, iB = (Sw * Sgt - Sg * St) / det;
        if (iA >= 0 && iB >= 0) {
            v = amdahl_sse(g, t, w, n, iA, iB);
            if (v <= best) {
                best = v;
                bestA = iA;
                bestB = iB;
            }
        }
    }
    *A = bestA;
    *B = bestB;
    *sse = best;
}

int rep_amdahl_fit(ib_err *e, const double *nodes, const double *time, size_t n,
                   const rep_amdahl_opts *o, rep_amdahl *out)
{
    int rc = check_sample(e, nodes, n, "amdahl fit nodes");
    if (!rc) rc = check_sample(e, time, n, "amdahl fit times");
    if (!rc) rc = check_boot_args(e, o->level, o->boot, "amdahl fit");
    if (rc) return rc;
    int distinct = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(nodes[i] >= 1.0))
            return ib_error(e, IB_EINVAL, "amdahl fit: point %zu has %g nodes, need >= 1", i,
                            nodes[i]);
        if (!(time[i] > 0.0))
            return ib_error(e, IB_EINVAL, "amdahl fit: point %zu has time %g, need > 0", i,
                            time[i]);
        if (nodes[i] != nodes[0]) distinct = 1;
    }
    if (!distinct)
        return ib_error(e, IB_EINVAL, "amdahl fit: needs at least two distinct node counts");

    size_t total;
    if (ib_mul_size(n, 5, &total))
        return ib_error(e, IB_EOVERFLOW, "amdahl fit: too many points");
    if (o->boot > SIZE_MAX / 2)
        return ib_error(e, IB_EOVERFLOW, "amdahl fit: too many bootstrap resamples");
    double *mem = alloc_doubles(e, total, "amdahl fit");
    double *sb = mem ? alloc_doubles(e, 2 * o->boot, "amdahl fit") : NULL;
    if (!sb) {
        ib_free(mem);
        return IB_ENOMEM;
    }
    double *g = mem, *w = mem + n, *fit = mem + 2 * n, *res = mem + 3 * n, *ts = mem + 4 * n;
    double *t1b = sb + o->boot;
    for (size_t i = 0; i < n; i++) {
        g[i] = 1.0 / nodes[i];
        w[i] = o->relative ? 1.0 / (time[i] * time[i]) : 1.0;
    }
    double A, B, sse;
    amdahl_core(g, time, w, n, &A, &B, &sse);

    rep_amdahl r;
    memset(&r, 0, sizeof r);
    r.t1 = A + B;
    r.s = A / (A + B);
    r.rss = sse;
    r.n = n;

    /*
     * Residual bootstrap. Residuals are centred and inflated by
     * sqrt(n / (n - 2)) (two fitted parameters) so that the band is not too
     * narrow for the handful of points benchmarks give; multiplicative
     * (log) residuals in relative mode keep resampled times positive.
     */
    double mean = 0;
    for (size_t i = 0; i < n; i++) {
        fit[i] = A + B * g[i];
        res[i] = o->relative ? log(time[i] / fit[i]) : time[i] - fit[i];
        mean += res[i];
    }
    mean /= (double)n;
    double infl = n > 2 ? sqrt((double)n / (double)(n - 2)) : 1.0;
    for (size_t i = 0; i < n; i++) res[i] = (res[i] - mean) * infl;
    for (size_t b = 0; b < o->boot; b++) {
        for (size_t i = 0; i < n; i++) {
            double rr = res[draw_index(o->seed, STREAM_AMDAHL, b, i, n)];
            ts[i] = o->relative ? fit[i] * exp(rr) : fit[i] + rr;
            if (o->relative) w[i] = 1.0 / (ts[i] * ts[i]);
        }
        double bA, bB, bsse;
        amdahl_core(g, ts, w, n, &bA, &bB, &bsse);
        double bt1 = bA + bB;
        sb[b] = bt1 > 0 ? bA / bt1 : r.s;
        t1b[b] = bt1;
    }
    percentile_ci(sb, o->boot, o->level, &r.s_lo, &r.s_hi);
    percentile_ci(t1b, o->boot, o->level, &r.t1_lo, &r.t1_hi);
    ib_free(sb);
    ib_free(mem);
    *out = r;
    return 0;
}

typedef struct nt_pair {
    double nodes, time;
} nt_pair;

static int cmp_pair(const void *a, const void *b)
{
    const nt_pair *x = a, *y = b;
    int c = cmp_double(&x->nodes, &y->nodes);
    return c ? c : cmp_double(&x->time, &y->time);
}

int rep_karp_flatt_series(ib_err *e, const double *nodes, const double *time, size_t n,
                          rep_kf_point **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    int rc = check_sample(e, nodes, n, "karp-flatt nodes");
    if (!rc) rc = check_sample(e, time, n, "karp-flatt times");
    if (rc) return rc;
    size_t bytes;
    if (ib_mul_size(n, sizeof(nt_pair) + sizeof(rep_kf_point), &bytes))
        return ib_error(e, IB_EOVERFLOW, "karp-flatt: too many points");
    nt_pair *p = ib_malloc(n * sizeof *p);
    rep_kf_point *k = p ? ib_malloc(n * sizeof *k) : NULL;
    if (!k) {
        ib_free(p);
        return ib_error(e, IB_ENOMEM, "karp-flatt: cannot allocate %zu points", n);
    }
    for (size_t i = 0; i < n; i++) p[i] = (nt_pair){nodes[i], time[i]};
    qsort(p, n, sizeof *p, cmp_pair);
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].nodes == p[i].nodes) j++;
        /* Times within a group are sorted: median of the run by index. */
        size_t len = j - i;
        double med = (len % 2) ? p[i + len / 2].time
                               : 0.5 * (p[i + len / 2 - 1].time + p[i + len / 2].time);
        k[m++] = (rep_kf_point){.nodes = p[i].nodes, .time = med};
        i = j;
    }
    ib_free(p);
    double t1 = NAN;
    for (size_t i = 0; i < m; i++)
        if (k[i].nodes == 1.0) t1 = k[i].time;
    if (isnan(t1)) {
        ib_free(k);
        return ib_error(e, IB_EINVAL, "karp-flatt: no time at one node to take speedups from");
    }
    for (size_t i = 0; i < m; i++) {
        k[i].speedup = t1 / k[i].time;
        k[i].e = rep_karp_flatt(k[i].speedup, k[i].nodes);
    }
    *out = k;
    *nout = m;
    return 0;
}

/* ---------------------------------------------------------------------- */

int rep_cost_fit(ib_err *e, const double *x, const double *y, size_t n, size_t nx,
                 rep_cost_model *out)
{
    if (nx > REP_COST_MAXX)
        return ib_error(e, IB_EINVAL, "cost model: %zu predictors, at most %d", nx,
                        REP_COST_MAXX);
    size_t p = nx + 1, cells;
    if (n <= p)
        return ib_error(e, IB_EINVAL,
                        "cost model: %zu points for %zu coefficients, need at least %zu", n, p,
                        p + 1);
    if (ib_mul_size(n, p, &cells))
        return ib_error(e, IB_EOVERFLOW, "cost model: too many points");
    int rc = check_sample(e, y, n, "cost model times");
    if (!rc && nx) rc = check_sample(e, x, cells - n, "cost model predictors");
    if (rc) return rc;

    /* Column-major design matrix Q (becomes R in place), then y. */
    double *a = alloc_doubles(e, cells + n, "cost model");
    if (!a) return IB_ENOMEM;
    double *qy = a + cells, scale[REP_COST_MAXX + 1];
    for (size_t j = 0; j < p; j++) {
        double mx = 0;
        for (size_t i = 0; i < n; i++) {
            double v = j == 0 ? 1.0 : x[i * nx + (j - 1)];
            a[j * n + i] = v;
            if (fabs(v) > mx) mx = fabs(v);
        }
        if (mx == 0) {
            ib_free(a);
            return ib_error(e, IB_EINVAL, "cost model: predictor x%zu is zero everywhere", j);
        }
        scale[j] = mx;
        for (size_t i = 0; i < n; i++) a[j * n + i] /= mx;
    }
    memcpy(qy, y, n * sizeof *qy);

    /* Householder QR: for column k reflect rows k..n-1 onto e_k. */
    for (size_t k = 0; k < p; k++) {
        double *ak = a + k * n, norm0 = 0, norm = 0;
        for (size_t i = 0; i < n; i++) norm0 += ak[i] * ak[i];
        for (size_t i = k; i < n; i++) norm += ak[i] * ak[i];
        norm = sqrt(norm);
        if (norm <= 1e-10 * sqrt(norm0)) {
            ib_free(a);
            if (k == 0) return ib_error(e, IB_EINVAL, "cost model: degenerate intercept");
            return ib_error(e, IB_EINVAL,
                            "cost model: predictor x%zu is (nearly) a linear combination "
                            "of the intercept and earlier predictors",
                            k);
        }
        double alpha = ak[k] > 0 ? -norm : norm;
        double v0 = ak[k] - alpha; /* Householder vector v = (v0, ak[k+1..]) */
        double vv = v0 * v0;
        for (size_t i = k + 1; i < n; i++) vv += ak[i] * ak[i];
        for (size_t j = k + 1; j <= p; j++) {
            double *c = j < p ? a + j * n : qy;
            double dot = v0 * c[k];
            for (size_t i = k + 1; i < n; i++) dot += ak[i] * c[i];
            double f = 2.0 * dot / vv;
            c[k] -= f * v0;
            for (size_t i = k + 1; i < n; i++) c[i] -= f * ak[i];
        }
        ak[k] = alpha;
    }
    /* Back substitution R c = Q^T y, then undo the column scaling. */
    double c[REP_COST_MAXX + 1];
    for (size_t k = p; k-- > 0;) {
        double s = qy[k];
        for (size_t j = k + 1; j < p; j++) s -= a[j * n + k] * c[j];
        c[k] = s / a[k * n + k];
    }
    rep_cost_model m;
    memset(&m, 0, sizeof m);
    m.nx = nx;
    m.n = n;
    /* cppcheck-suppress uninitvar ; c[j] and scale[j] are set above for every j < p */
    for (size_t j = 0; j < p; j++) m.coef[j] = c[j] / scale[j];
    ib_free(a);

    double ym = rep_mean(y, n), ssr = 0, sst = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - rep_cost_predict(&m, nx ? x + i * nx : NULL);
        ssr += r * r;
        sst += (y[i] - ym) * (y[i] - ym);
    }
    m.r2 = sst > 0 ? 1.0 - ssr / sst : 1.0;
    m.rmse = sqrt(ssr / (double)n);
    *out = m;
    return 0;
}

double rep_cost_predict(const rep_cost_model *m, const double *x)
{
    double t = m->coef[0];
    for (size_t j = 0; j < m->nx; j++) t += m->coef[j + 1] * x[j];
    return t;
}
