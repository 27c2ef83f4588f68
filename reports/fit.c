/*
 * fit.c: fits that know their limits — the one identifiability rule every
 * fit of the reports module applies (rep_identify), a small non-negative
 * least squares solver (Lawson and Hanson's active-set method, for the
 * handful of parameters our models have), Amdahl's law fitted on cores,
 * and the Karp–Flatt serial fraction per core count with its band. Pure
 * statistics on borrowed arrays: no I/O.
 */
#include "reports/stats_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the rule ----------------------------------------------------------- */

int rep_identify(rep_param *p, size_t distinct, size_t nparams, size_t dof)
{
    p->identifiable = 0;
    p->why[0] = '\0';
    double span = p->range_hi - p->range_lo;
    if (distinct < nparams) {
        snprintf(p->why, sizeof p->why,
                 "not identifiable from these points: %zu distinct x value%s for %zu "
                 "parameters",
                 distinct, distinct == 1 ? "" : "s", nparams);
    } else if (dof < 1) {
        snprintf(p->why, sizeof p->why,
                 "not identifiable from these points: as many points as parameters (%zu), "
                 "so no band can be estimated",
                 nparams);
    } else if (!isfinite(p->est) || !isfinite(p->lo) || !isfinite(p->hi)) {
        snprintf(p->why, sizeof p->why, "not identifiable from these points: no estimate");
    } else if (!(span > 0) || p->hi - p->lo > 0.5 * span) {
        snprintf(p->why, sizeof p->why,
                 "not identifiable from these points: band [%.4g, %.4g] spans %.0f%% of the "
                 "range [%.4g, %.4g] (at most 50%%)",
                 p->lo, p->hi, span > 0 ? 100.0 * (p->hi - p->lo) / span : 100.0,
                 p->range_lo, p->range_hi);
    } else {
        p->identifiable = 1;
    }
    return p->identifiable;
}

/* ---- non-negative least squares ------------------------------------------- */

/*
 * Least squares on the columns cols[0..k) of the column-major m x n matrix
 * a (columns already scaled), by Householder QR of a copy: z[cols[q]] set,
 * others untouched. A column that is (nearly) a combination of earlier
 * ones gets 0 and *dropped its position (or -1 when none). work holds
 * m * (k + 1) doubles.
 */
static void ls_cols(const double *a, const double *b, size_t m, const size_t *cols, size_t k,
                    double *z, double *work, long *dropped)
{
    double *q = work, *qb = work + m * k;
    for (size_t c = 0; c < k; c++) memcpy(q + c * m, a + cols[c] * m, m * sizeof *q);
    memcpy(qb, b, m * sizeof *qb);
    *dropped = -1;
    double diag[REP_NNLS_MAXP] = {0};
    for (size_t c = 0; c < k; c++) {
        double *ac = q + c * m, norm = 0, norm0 = 0;
        for (size_t i = 0; i < m; i++) norm0 += ac[i] * ac[i];
        for (size_t i = c; i < m; i++) norm += ac[i] * ac[i];
        norm = sqrt(norm);
        if (c >= m || norm <= 1e-10 * sqrt(norm0) || norm0 == 0) {
            if (*dropped < 0) *dropped = (long)c;
            diag[c] = 0;
            continue;
        }
        double alpha = ac[c] > 0 ? -norm : norm, v0 = ac[c] - alpha, vv = v0 * v0;
        for (size_t i = c + 1; i < m; i++) vv += ac[i] * ac[i];
        for (size_t j = c + 1; j <= k; j++) {
            double *col = j < k ? q + j * m : qb, dot = v0 * col[c];
            for (size_t i = c + 1; i < m; i++) dot += ac[i] * col[i];
            double f = 2.0 * dot / vv;
            col[c] -= f * v0;
            for (size_t i = c + 1; i < m; i++) col[i] -= f * ac[i];
        }
        ac[c] = alpha;
        diag[c] = alpha;
    }
    for (size_t c = k; c-- > 0;) {
        if (diag[c] == 0) {
            z[cols[c]] = 0;
            continue;
        }
        double s = qb[c];
        for (size_t j = c + 1; j < k; j++) s -= q[j * m + c] * z[cols[j]];
        z[cols[c]] = s / diag[c];
    }
}

int rep_nnls(ib_err *e, const double *a, const double *b, size_t m, size_t n, double *x)
{
    if (n == 0 || n > REP_NNLS_MAXP || m == 0)
        return ib_error(e, IB_EINVAL, "nnls: %zu rows, %zu columns (1..%d)", m, n,
                        REP_NNLS_MAXP);
    int rc = rep__check_sample(e, a, m * n, "nnls matrix");
    if (!rc) rc = rep__check_sample(e, b, m, "nnls right-hand side");
    if (rc) return rc;
    size_t need = m * n + m * (n + 1) + m;
    double *mem = rep__alloc_doubles(e, need, "nnls");
    if (!mem) return IB_ENOMEM;
    double *A = mem, *work = mem + m * n, *r = work + m * (n + 1);
    double scale[REP_NNLS_MAXP], xs[REP_NNLS_MAXP], z[REP_NNLS_MAXP], w[REP_NNLS_MAXP];
    int passive[REP_NNLS_MAXP] = {0};
    /* column-major copy, each column scaled to unit max so that bytes
     * (1e9) and an intercept (1) meet on one footing */
    for (size_t j = 0; j < n; j++) {
        double mx = 0;
        for (size_t i = 0; i < m; i++) mx = fmax(mx, fabs(a[i * n + j]));
        scale[j] = mx > 0 ? mx : 1;
        for (size_t i = 0; i < m; i++) A[j * m + i] = a[i * n + j] / scale[j];
        xs[j] = 0;
    }
    double bnorm = 0;
    for (size_t i = 0; i < m; i++) bnorm += b[i] * b[i];
    double tol = 1e-12 * (sqrt(bnorm) + 1e-300) * sqrt((double)m);
    for (int iter = 0; iter < (int)(3 * n + 3); iter++) {
        for (size_t i = 0; i < m; i++) {
            r[i] = b[i];
            for (size_t j = 0; j < n; j++) r[i] -= A[j * m + i] * xs[j];
        }
        size_t t = n;
        for (size_t j = 0; j < n; j++) {
            w[j] = 0;
            for (size_t i = 0; i < m; i++) w[j] += A[j * m + i] * r[i];
            if (!passive[j] && w[j] > tol && (t == n || w[j] > w[t])) t = j;
        }
        if (t == n) break; /* Kuhn–Tucker conditions hold */
        passive[t] = 1;
        for (int inner = 0; inner < (int)(3 * n + 3); inner++) {
            size_t cols[REP_NNLS_MAXP], k = 0;
            for (size_t j = 0; j < n; j++)
                if (passive[j]) cols[k++] = j;
            long dropped;
            for (size_t j = 0; j < n; j++) z[j] = 0;
            ls_cols(A, b, m, cols, k, z, work, &dropped);
            if (dropped >= 0) passive[cols[dropped]] = 0; /* dependent: stays at 0 */
            int feasible = 1;
            for (size_t q = 0; q < k; q++)
                if (passive[cols[q]] && z[cols[q]] <= 0) feasible = 0;
            if (feasible) {
                for (size_t j = 0; j < n; j++) xs[j] = passive[j] ? z[j] : 0;
                break;
            }
            double alpha = 1;
            for (size_t q = 0; q < k; q++) {
                size_t j = cols[q];
                if (passive[j] && z[j] <= 0 && xs[j] - z[j] > 0)
                    alpha = fmin(alpha, xs[j] / (xs[j] - z[j]));
            }
            for (size_t j = 0; j < n; j++) {
                xs[j] += alpha * ((passive[j] ? z[j] : 0) - xs[j]);
                if (passive[j] && xs[j] <= 1e-15) {
                    passive[j] = 0;
                    xs[j] = 0;
                }
            }
        }
    }
    for (size_t j = 0; j < n; j++) x[j] = xs[j] > 0 ? xs[j] / scale[j] : 0;
    ib_free(mem);
    return 0;
}

/* ---- Amdahl on cores ---------------------------------------------------------- */

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

/* T = A + B g (g = 1/cores) with A, B >= 0 and weights w (rows scaled by
 * sqrt(w)): rep_nnls on two columns. buf holds 3 n doubles. */
static int amdahl_core(const double *g, const double *t, const double *w, size_t n, double *buf,
                       double *A, double *B)
{
    double *a = buf, *b = buf + 2 * n, x[2];
    for (size_t i = 0; i < n; i++) {
        double sw = sqrt(w[i]);
        a[2 * i] = sw;
        a[2 * i + 1] = sw * g[i];
        b[i] = sw * t[i];
    }
    int rc = rep_nnls(NULL, a, b, n, 2, x);
    *A = x[0];
    *B = x[1];
    return rc;
}

static size_t distinct_values(const double *x, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < i && x[j] != x[i]) j++;
        d += j == i;
    }
    return d;
}

int rep_amdahl_fit(ib_err *e, const double *cores, const double *time, size_t n,
                   const rep_amdahl_opts *o, rep_amdahl *out)
{
    int rc = rep__check_sample(e, cores, n, "amdahl fit cores");
    if (!rc) rc = rep__check_sample(e, time, n, "amdahl fit times");
    if (!rc) rc = rep__check_boot_args(e, o->level, o->boot, "amdahl fit");
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (!(cores[i] >= 1.0))
            return ib_error(e, IB_EINVAL, "amdahl fit: point %zu has %g cores, need >= 1", i,
                            cores[i]);
        if (!(time[i] > 0.0))
            return ib_error(e, IB_EINVAL, "amdahl fit: point %zu has time %g, need > 0", i,
                            time[i]);
    }
    rep_amdahl r;
    memset(&r, 0, sizeof r);
    r.n = n;
    r.distinct = distinct_values(cores, n);
    r.s = r.s_lo = r.s_hi = r.t1 = r.t1_lo = r.t1_hi = r.rss = NAN;
    rep_param sp = {.est = NAN, .lo = NAN, .hi = NAN, .range_lo = 0, .range_hi = 1};
    if (r.distinct < 2) { /* nothing to fit: the rule says why */
        rep_identify(&sp, r.distinct, 2, n > 2 ? n - 2 : 0);
        snprintf(r.why, sizeof r.why, "%s", sp.why);
        *out = r;
        return 0;
    }
    size_t total;
    if (ib_mul_size(n, 8, &total) || o->boot > SIZE_MAX / 2)
        return ib_error(e, IB_EOVERFLOW, "amdahl fit: too many points");
    double *mem = rep__alloc_doubles(e, total, "amdahl fit");
    double *sb = mem ? rep__alloc_doubles(e, 2 * o->boot, "amdahl fit") : NULL;
    if (!sb) {
        ib_free(mem);
        return IB_ENOMEM;
    }
    double *g = mem, *w = mem + n, *fit = mem + 2 * n, *res = mem + 3 * n, *ts = mem + 4 * n;
    double *buf = mem + 5 * n, *t1b = sb + o->boot;
    for (size_t i = 0; i < n; i++) {
        g[i] = 1.0 / cores[i];
        w[i] = o->relative ? 1.0 / (time[i] * time[i]) : 1.0;
    }
    double A, B;
    amdahl_core(g, time, w, n, buf, &A, &B);
    r.t1 = A + B;
    r.s = r.t1 > 0 ? A / r.t1 : NAN;
    r.rss = 0;
    for (size_t i = 0; i < n; i++) {
        double d = time[i] - A - B * g[i];
        r.rss += w[i] * d * d;
    }
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
            double rr = res[rep__draw_index(o->seed, REP__STREAM_AMDAHL, b, i, n)];
            ts[i] = o->relative ? fit[i] * exp(rr) : fit[i] + rr;
            if (o->relative) w[i] = 1.0 / (ts[i] * ts[i]);
        }
        double bA, bB;
        amdahl_core(g, ts, w, n, buf, &bA, &bB);
        double bt1 = bA + bB;
        sb[b] = bt1 > 0 ? bA / bt1 : r.s;
        t1b[b] = bt1;
    }
    rep__percentile_ci(sb, o->boot, o->level, &r.s_lo, &r.s_hi);
    rep__percentile_ci(t1b, o->boot, o->level, &r.t1_lo, &r.t1_hi);
    ib_free(sb);
    ib_free(mem);
    sp.est = r.s;
    sp.lo = r.s_lo;
    sp.hi = r.s_hi;
    r.identifiable = rep_identify(&sp, r.distinct, 2, n - 2);
    snprintf(r.why, sizeof r.why, "%s", sp.why);
    *out = r;
    return 0;
}

/* ---- Karp–Flatt per core count ------------------------------------------------- */

typedef struct ct_pair {
    double cores, time;
} ct_pair;

static int cmp_pair(const void *a, const void *b)
{
    const ct_pair *x = a, *y = b;
    int c = rep__cmp_double(&x->cores, &y->cores);
    return c ? c : rep__cmp_double(&x->time, &y->time);
}

/* Speedup band of group [i, j) against the one-core group [o, oe) and the
 * Karp–Flatt verdict that follows from it. */
static void kf_point(const ct_pair *p, size_t o, size_t oe, size_t i, size_t j, double level,
                     size_t boot, uint64_t seed, double *t1s, double *tks, rep_kf_point *k)
{
    size_t n1 = oe - o, nk = j - i;
    for (size_t q = 0; q < n1; q++) t1s[q] = p[o + q].time;
    for (size_t q = 0; q < nk; q++) tks[q] = p[i + q].time;
    rep_ci ci;
    if (rep_boot_ratio_ci(NULL, t1s, n1, tks, nk, level, boot, seed, &ci) == 0) {
        k->speedup_lo = ci.lo;
        k->speedup_hi = ci.hi;
    }
    k->e = rep_karp_flatt(k->speedup, k->cores);
    /* e falls as the speedup rises */
    k->e_lo = rep_karp_flatt(k->speedup_hi, k->cores);
    k->e_hi = rep_karp_flatt(k->speedup_lo, k->cores);
    rep_param ep = {.est = k->e, .lo = k->e_lo, .hi = k->e_hi, .range_lo = 0, .range_hi = 1};
    if (k->cores > 1) {
        /* e(n) is one number from two core counts; its band comes from the
         * repeats at both: (n1 - 1) + (nk - 1) degrees of freedom */
        k->identifiable = rep_identify(&ep, 2, 1, n1 + nk - 2);
        snprintf(k->why, sizeof k->why, "%s", ep.why);
    }
}

int rep_karp_flatt_series(ib_err *e, const double *cores, const double *time, size_t n,
                          double level, size_t boot, uint64_t seed, rep_kf_point **out,
                          size_t *nout)
{
    *out = NULL;
    *nout = 0;
    int rc = rep__check_sample(e, cores, n, "karp-flatt cores");
    if (!rc) rc = rep__check_sample(e, time, n, "karp-flatt times");
    if (!rc) rc = rep__check_boot_args(e, level, boot, "karp-flatt");
    if (rc) return rc;
    size_t bytes;
    if (ib_mul_size(n, sizeof(ct_pair) + sizeof(rep_kf_point) + 2 * sizeof(double), &bytes))
        return ib_error(e, IB_EOVERFLOW, "karp-flatt: too many points");
    ct_pair *p = ib_malloc(n * sizeof *p);
    rep_kf_point *k = p ? ib_calloc(n, sizeof *k) : NULL;
    double *tmp = k ? rep__alloc_doubles(NULL, 2 * n, "karp-flatt") : NULL;
    if (!tmp) {
        ib_free(p);
        ib_free(k);
        return ib_error(e, IB_ENOMEM, "karp-flatt: cannot allocate %zu points", n);
    }
    for (size_t i = 0; i < n; i++) p[i] = (ct_pair){cores[i], time[i]};
    qsort(p, n, sizeof *p, cmp_pair);
    size_t one = n, one_end = n;
    for (size_t i = 0; i < n; i++)
        if (p[i].cores == 1.0) {
            if (one == n) one = i;
            one_end = i + 1;
        }
    if (one == n) {
        ib_free(p);
        ib_free(k);
        ib_free(tmp);
        return ib_error(e, IB_EINVAL, "karp-flatt: no time at one core to take speedups from");
    }
    size_t m = 0;
    double t1 = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && p[j].cores == p[i].cores) j++;
        size_t len = j - i;
        for (size_t q = 0; q < len; q++) tmp[q] = p[i + q].time;
        double med = rep_median_or_nan(tmp, len);
        if (p[i].cores == 1.0) t1 = med;
        k[m++] = (rep_kf_point){.cores = p[i].cores, .time = med, .n = len, .e = NAN,
                                .e_lo = NAN, .e_hi = NAN, .speedup_lo = NAN,
                                .speedup_hi = NAN};
        i = j;
    }
    for (size_t q = 0, i = 0; q < m; q++) {
        size_t j = i + k[q].n;
        k[q].speedup = t1 / k[q].time;
        kf_point(p, one, one_end, i, j, level, boot, seed + q, tmp, tmp + n, &k[q]);
        i = j;
    }
    ib_free(p);
    ib_free(tmp);
    *out = k;
    *nout = m;
    return 0;
}
