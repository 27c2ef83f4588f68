/*
 * test_stats: the reports module's statistics (summaries, bootstrap,
 * Mann–Whitney, Benjamini–Hochberg, compare verdicts, Amdahl / Karp–Flatt,
 * cost model) against hand-computed values and synthetic data with known
 * truth, and the baselines YAML loader (seed-study.yaml and malformed files).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/reports.h"
#include "tests/testutil.h"

#define CLOSE(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

/* Lognormal sample: median m, log-sd sigma, deterministic from (seed, k). */
static void lognormal(double *x, size_t n, double m, double sigma, uint64_t seed, uint64_t k)
{
    for (size_t i = 0; i < n; i++) x[i] = m * exp(sigma * ib_gauss(seed, k, i, 0));
}

/* ---------------------------------------------------------------------- */

static void test_summaries(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    /* sorted: 1 1 2 3 4 5 6 9 */
    const double x[] = {3, 1, 4, 1, 5, 9, 2, 6};
    double v;
    assert_int_equal(rep_median(&e, x, 8, &v), 0);
    CLOSE(v, 3.5, 1e-12);
    assert_int_equal(rep_quantile(&e, x, 8, 0.25, &v), 0); /* h = 1.75 */
    CLOSE(v, 1.75, 1e-12);
    assert_int_equal(rep_quantile(&e, x, 8, 0.75, &v), 0); /* h = 5.25 */
    CLOSE(v, 5.25, 1e-12);
    assert_int_equal(rep_quantile(&e, x, 8, 0.0, &v), 0);
    CLOSE(v, 1, 0);
    assert_int_equal(rep_quantile(&e, x, 8, 1.0, &v), 0);
    CLOSE(v, 9, 0);
    assert_int_equal(rep_quantile(&e, x, 8, 0.9, &v), 0); /* h = 6.3: 6 + 0.3 * 3 */
    CLOSE(v, 6.9, 1e-12);
    /* |x - 3.5| sorted: .5 .5 1.5 1.5 2.5 2.5 2.5 5.5 -> 2.0 */
    assert_int_equal(rep_mad(&e, x, 8, &v), 0);
    CLOSE(v, 2.0, 1e-12);
    CLOSE(rep_mean(x, 8), 3.875, 1e-12);
    CLOSE(rep_sd(x, 8), sqrt(52.875 / 7.0), 1e-12); /* sum of squares 52.875 */

    const double odd[] = {5, 1, 3};
    assert_int_equal(rep_median(&e, odd, 3, &v), 0);
    CLOSE(v, 3, 0);

    rep_summary s;
    assert_int_equal(rep_summarize(&e, x, 8, &s), 0);
    assert_int_equal(s.n, 8);
    CLOSE(s.min, 1, 0);
    CLOSE(s.max, 9, 0);
    CLOSE(s.q1, 1.75, 1e-12);
    CLOSE(s.median, 3.5, 1e-12);
    CLOSE(s.q3, 5.25, 1e-12);
    CLOSE(s.mad, 2.0, 1e-12);
    CLOSE(s.mean, 3.875, 1e-12);

    assert_true(isnan(rep_sd(x, 1)));
    assert_true(isnan(rep_mean(x, 0)));
    assert_int_equal(rep_median(&e, x, 0, &v), IB_EINVAL);
    const double bad[] = {1, NAN, 3};
    assert_int_equal(rep_median(&e, bad, 3, &v), IB_EINVAL);
    assert_non_null(strstr(e.msg, "value 1 is not finite"));
    assert_int_equal(rep_quantile(&e, x, 8, 1.5, &v), IB_EINVAL);
}

static void test_boot_median(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    double x[15];
    lognormal(x, 15, 50.0, 0.05, 7, 1);
    rep_ci a, b;
    assert_int_equal(rep_boot_median_ci(&e, x, 15, 0.95, 2000, 11, &a), 0);
    assert_int_equal(rep_boot_median_ci(&e, x, 15, 0.95, 2000, 11, &b), 0);
    /* Deterministic for a seed. (Resampled medians are order statistics,
     * so another seed may well give the same interval.) */
    assert_true(a.lo == b.lo && a.hi == b.hi && a.est == b.est);
    double med;
    assert_int_equal(rep_median(&e, x, 15, &med), 0);
    CLOSE(a.est, med, 0);
    assert_true(a.lo <= med && med <= a.hi);
    assert_true(a.lo > 40 && a.hi < 60);
    CLOSE(a.level, 0.95, 0);
    assert_int_equal(rep_boot_median_ci(&e, x, 15, 1.5, 2000, 1, &a), IB_EINVAL);
    assert_int_equal(rep_boot_median_ci(&e, x, 15, 0.95, 5, 1, &a), IB_EINVAL);
}

/*
 * Coverage: 200 synthetic comparisons with lognormal noise (log-sd 0.05,
 * n = 10 each) and true ratio of medians 1.2; the 95% interval must cover
 * 1.2 in at least 90% of them.
 */
static void test_boot_ratio_coverage(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    int covered = 0;
    for (uint64_t t = 0; t < 200; t++) {
        double num[10], den[10];
        lognormal(num, 10, 120.0, 0.05, 1000 + t, 1);
        lognormal(den, 10, 100.0, 0.05, 1000 + t, 2);
        rep_ci ci;
        assert_int_equal(rep_boot_ratio_ci(&e, num, 10, den, 10, 0.95, 1000, 77 + t, &ci), 0);
        assert_true(ci.lo <= ci.hi);
        if (ci.lo <= 1.2 && 1.2 <= ci.hi) covered++;
    }
    print_message("bootstrap ratio CI coverage: %d / 200\n", covered);
    assert_true(covered >= 180);

    /* Same seed, same interval; another seed, another one. */
    double num[10], den[10];
    lognormal(num, 10, 120.0, 0.05, 5, 1);
    lognormal(den, 10, 100.0, 0.05, 5, 2);
    rep_ci c1, c2, c3;
    assert_int_equal(rep_boot_ratio_ci(&e, num, 10, den, 10, 0.95, 1000, 3, &c1), 0);
    assert_int_equal(rep_boot_ratio_ci(&e, num, 10, den, 10, 0.95, 1000, 3, &c2), 0);
    assert_int_equal(rep_boot_ratio_ci(&e, num, 10, den, 10, 0.95, 1000, 4, &c3), 0);
    assert_true(c1.lo == c2.lo && c1.hi == c2.hi);
    assert_true(c1.lo != c3.lo || c1.hi != c3.hi);

    const double zero[] = {0, 0, 0}, one[] = {1, 2, 3};
    rep_ci ci;
    assert_int_equal(rep_boot_ratio_ci(&e, one, 3, zero, 3, 0.95, 100, 1, &ci), IB_EINVAL);
    assert_non_null(strstr(e.msg, "denominator median is zero"));
}

/* Exact p by enumerating every split of the pooled values (no ties). */
static double brute_mw_p(const double *a, size_t m, const double *b, size_t n)
{
    double pool[16];
    size_t N = m + n;
    memcpy(pool, a, m * sizeof *a);
    memcpy(pool + m, b, n * sizeof *b);
    double u = 0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) u += a[i] > b[j];
    double le = 0, ge = 0, tot = 0;
    for (unsigned mask = 0; mask < (1u << N); mask++) {
        if ((size_t)__builtin_popcount(mask) != m) continue;
        double v = 0;
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < N; j++)
                if ((mask >> i & 1) && !(mask >> j & 1)) v += pool[i] > pool[j];
        tot++;
        le += v <= u;
        ge += v >= u;
    }
    double p = 2 * fmin(le, ge) / tot;
    return p > 1 ? 1 : p;
}

static void test_mann_whitney(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_mw r;
    /* Complete separation, 3 vs 3: P(U = 0) = 1/C(6,3) = 1/20, p = 0.1. */
    const double a1[] = {1, 2, 3}, b1[] = {4, 5, 6};
    assert_int_equal(rep_mann_whitney(&e, a1, 3, b1, 3, &r), 0);
    assert_true(r.exact);
    CLOSE(r.u, 0, 0);
    CLOSE(r.p, 0.1, 1e-15);
    /* Symmetric. */
    assert_int_equal(rep_mann_whitney(&e, b1, 3, a1, 3, &r), 0);
    CLOSE(r.u, 9, 0);
    CLOSE(r.p, 0.1, 1e-15);

    /* 4 vs 5, U = 6: 26 of the 126 splits have U <= 6, p = 52/126. */
    const double a2[] = {1.1, 3.3, 5.0, 7.2}, b2[] = {2.0, 4.1, 6.0, 8.5, 9.9};
    assert_int_equal(rep_mann_whitney(&e, a2, 4, b2, 5, &r), 0);
    assert_true(r.exact);
    CLOSE(r.u, 6, 0);
    CLOSE(r.p, 52.0 / 126.0, 1e-14);
    CLOSE(r.p, brute_mw_p(a2, 4, b2, 5), 1e-14);

    /* 7 vs 8, U = 9: 93 of C(15,7) = 6435 have U <= 9, p = 186/6435. */
    const double a3[] = {0.8, 1.9, 2.7, 4.4, 5.6, 6.1, 8.3};
    const double b3[] = {3.1, 4.9, 7.0, 7.7, 9.2, 10.4, 11.8, 12.5};
    assert_int_equal(rep_mann_whitney(&e, a3, 7, b3, 8, &r), 0);
    assert_true(r.exact);
    CLOSE(r.u, 9, 0);
    CLOSE(r.p, 186.0 / 6435.0, 1e-14);
    CLOSE(r.p, brute_mw_p(a3, 7, b3, 8), 1e-14);

    /*
     * Ties, normal approximation (as R's wilcox.test(correct = TRUE)):
     * a = 1 2 2 3 4 5, b = 3 3 4 6 7 8 9. U_a = 0+0+0+1+2.5+3 = 6.5;
     * tie groups {2,2} {3,3,3} {4,4}: sum(t^3 - t) = 6 + 24 + 6 = 36;
     * var = 42/12 (14 - 36/156) = 48.192308; z = (6.5 - 21 + 0.5)/sqrt(var)
     * = -2.016690; p = erfc(|z|/sqrt 2) = 0.0437279.
     */
    const double a4[] = {1, 2, 2, 3, 4, 5}, b4[] = {3, 3, 4, 6, 7, 8, 9};
    assert_int_equal(rep_mann_whitney(&e, a4, 6, b4, 7, &r), 0);
    assert_false(r.exact);
    CLOSE(r.u, 6.5, 0);
    CLOSE(r.z, -2.016690136373273, 1e-9);
    CLOSE(r.p, 0.043727859914373765, 1e-9);

    /* Large samples switch to the normal approximation, no ties. */
    double big_a[40], big_b[40];
    for (int i = 0; i < 40; i++) {
        big_a[i] = i;
        big_b[i] = i + 20.5;
    }
    assert_int_equal(rep_mann_whitney(&e, big_a, 40, big_b, 40, &r), 0);
    assert_false(r.exact);
    assert_true(r.p < 1e-4);

    /* All tied: no evidence at all. */
    const double t1[] = {2, 2, 2}, t2[] = {2, 2};
    assert_int_equal(rep_mann_whitney(&e, t1, 3, t2, 2, &r), 0);
    CLOSE(r.p, 1.0, 0);
    assert_int_equal(rep_mann_whitney(&e, t1, 0, t2, 2, &r), IB_EINVAL);
}

static void test_bh(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    /*
     * Sorted 0.005 0.01 0.03 0.04 (m = 4): p m / rank = 0.02 0.02 0.04 0.04,
     * running minimum from the top leaves them; back in input order:
     */
    const double p[] = {0.01, 0.04, 0.03, 0.005};
    double adj[4];
    assert_int_equal(rep_bh_adjust(&e, p, 4, adj), 0);
    CLOSE(adj[0], 0.02, 1e-15);
    CLOSE(adj[1], 0.04, 1e-15);
    CLOSE(adj[2], 0.04, 1e-15);
    CLOSE(adj[3], 0.02, 1e-15);
    /* 0.5 * 2 / 1 = 1.0 is lowered to 0.9 by the larger rank. In place. */
    double q[] = {0.5, 0.9};
    assert_int_equal(rep_bh_adjust(&e, q, 2, q), 0);
    CLOSE(q[0], 0.9, 1e-15);
    CLOSE(q[1], 0.9, 1e-15);
    /* Five: 0.001 0.008 0.039 0.041 0.042 -> .005 .02 .042 .042 .042 */
    const double r[] = {0.041, 0.001, 0.042, 0.039, 0.008};
    double ra[5];
    assert_int_equal(rep_bh_adjust(&e, r, 5, ra), 0);
    CLOSE(ra[0], 0.042, 1e-15);
    CLOSE(ra[1], 0.005, 1e-15);
    CLOSE(ra[2], 0.042, 1e-15);
    CLOSE(ra[3], 0.042, 1e-15);
    CLOSE(ra[4], 0.02, 1e-15);
    const double bad[] = {0.1, 1.2};
    assert_int_equal(rep_bh_adjust(&e, bad, 2, ra), IB_EINVAL);
}

static void test_compare(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_compare_opts o;
    rep_compare_opts_init(&o);
    o.threshold = 0.05;
    rep_compare c;
    int same_no_change = 0;
    for (uint64_t s = 0; s < 20; s++) {
        double base[10], slow[10], same[10], fast[10];
        lognormal(base, 10, 100, 0.03, 500 + s, 1);
        lognormal(slow, 10, 120, 0.03, 500 + s, 2); /* planted 20% regression */
        lognormal(same, 10, 100, 0.03, 500 + s, 3);
        lognormal(fast, 10, 80, 0.03, 500 + s, 4);
        o.seed = s;
        o.better = REP_LOWER_IS_BETTER;
        assert_int_equal(rep_compare_samples(&e, base, 10, slow, 10, &o, &c), 0);
        assert_int_equal(c.verdict, REP_SLOWER);
        assert_true(c.regression);
        assert_true(c.ratio.est > 1.1 && c.ratio.est < 1.3);
        assert_true(c.ratio.lo > 1.0);
        assert_true(c.p < 0.001);

        assert_int_equal(rep_compare_samples(&e, base, 10, fast, 10, &o, &c), 0);
        assert_int_equal(c.verdict, REP_FASTER);
        assert_false(c.regression);

        assert_int_equal(rep_compare_samples(&e, base, 10, same, 10, &o, &c), 0);
        if (c.verdict == REP_NO_CHANGE) same_no_change++;
        assert_false(c.regression && c.ratio.est < 1.05);

        /* Higher is better (e.g. a rate): the same larger values are an improvement. */
        o.better = REP_HIGHER_IS_BETTER;
        assert_int_equal(rep_compare_samples(&e, base, 10, slow, 10, &o, &c), 0);
        assert_int_equal(c.verdict, REP_FASTER);
        assert_false(c.regression);
        assert_int_equal(rep_compare_samples(&e, base, 10, fast, 10, &o, &c), 0);
        assert_int_equal(c.verdict, REP_SLOWER);
        assert_true(c.regression);
    }
    print_message("same distribution: no significant change in %d / 20\n", same_no_change);
    assert_true(same_no_change >= 17);

    /* Re-judging with a BH-adjusted p above alpha removes the verdict. */
    double base[10], slow[10];
    lognormal(base, 10, 100, 0.03, 9, 1);
    lognormal(slow, 10, 103, 0.03, 9, 2);
    o.better = REP_LOWER_IS_BETTER;
    assert_int_equal(rep_compare_samples(&e, base, 10, slow, 10, &o, &c), 0);
    rep_compare_judge(&o, 0.2, &c);
    assert_int_equal(c.verdict, REP_NO_CHANGE);
    CLOSE(c.p, 0.2, 0);
    assert_string_equal(rep_verdict_name(REP_NO_CHANGE), "no significant change");
    assert_string_equal(rep_verdict_name(REP_SLOWER), "slower");

    /* A 3% slowdown is slower but below a 5% regression threshold. */
    c.ratio = (rep_ci){.est = 1.03, .lo = 1.01, .hi = 1.05, .level = 0.95};
    rep_compare_judge(&o, 0.001, &c);
    assert_int_equal(c.verdict, REP_SLOWER);
    assert_false(c.regression);
}

static void test_amdahl(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    const double s = 0.1, t1 = 100;
    const double cores_set[] = {1, 2, 4, 8, 16, 32};
    double cores[30], time[30];
    size_t n = 0;
    for (size_t k = 0; k < 6; k++)
        for (size_t r = 0; r < 5; r++, n++) {
            cores[n] = cores_set[k];
            time[n] = rep_amdahl_time(t1, s, cores[n]) * exp(0.03 * ib_gauss(42, k, r, 0));
        }
    rep_amdahl_opts o;
    rep_amdahl_opts_init(&o);
    rep_amdahl f;
    assert_int_equal(rep_amdahl_fit(&e, cores, time, n, &o, &f), 0);
    print_message("amdahl: s = %.4f [%.4f, %.4f], T1 = %.2f [%.2f, %.2f]\n", f.s, f.s_lo,
                  f.s_hi, f.t1, f.t1_lo, f.t1_hi);
    CLOSE(f.s, s, 0.02);
    assert_true(f.s_lo <= s && s <= f.s_hi);
    assert_true(f.s_lo <= f.s && f.s <= f.s_hi);
    assert_true(f.s_hi - f.s_lo < 0.05);
    CLOSE(f.t1, t1, 5);
    assert_true(f.t1_lo <= t1 && t1 <= f.t1_hi);
    assert_int_equal(f.n, 30);
    assert_int_equal(f.distinct, 6);
    assert_true(f.identifiable);
    assert_string_equal(f.why, "");

    o.relative = 0; /* absolute residuals also recover it */
    assert_int_equal(rep_amdahl_fit(&e, cores, time, n, &o, &f), 0);
    CLOSE(f.s, s, 0.02);
    assert_true(f.s_lo <= s && s <= f.s_hi);

    /* exact data: the exact answer */
    double exact[6];
    rep_amdahl_opts_init(&o);
    for (int k = 0; k < 6; k++) exact[k] = rep_amdahl_time(t1, 0.25, cores_set[k]);
    assert_int_equal(rep_amdahl_fit(&e, cores_set, exact, 6, &o, &f), 0);
    CLOSE(f.s, 0.25, 1e-9);
    CLOSE(f.t1, t1, 1e-7);
    CLOSE(rep_amdahl_speedup(0.1, 10), 1 / (0.1 + 0.09), 1e-12);

    /* one core count: nothing to fit, said by the rule, not an error */
    const double one[] = {4, 4, 4}, ts[] = {1, 2, 3};
    assert_int_equal(rep_amdahl_fit(&e, one, ts, 3, &o, &f), 0);
    assert_false(f.identifiable);
    assert_true(isnan(f.s));
    assert_non_null(strstr(f.why, "not identifiable from these points: 1 distinct x value for 2"));
    const double bad[] = {0.5, 1};
    assert_int_equal(rep_amdahl_fit(&e, bad, ts, 2, &o, &f), IB_EINVAL);
}

/*
 * The identifiability rule on made-up points: a perfectly serial set (the
 * time does not move with cores: s = 1), a perfectly parallel one (T1/n:
 * s = 0), both with repeats, are identified; two points (one per core
 * count, as many as parameters) are not, nor is a set whose noise makes
 * the band of s wider than half of [0, 1].
 */
static void test_identify_rule(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_amdahl_opts o;
    rep_amdahl_opts_init(&o);
    rep_amdahl f;
    const double c[] = {1, 1, 1, 2, 2, 2, 4, 4, 4};
    double serial[9], parallel[9];
    for (int i = 0; i < 9; i++) {
        serial[i] = 10.0;
        parallel[i] = 10.0 / c[i];
    }
    assert_int_equal(rep_amdahl_fit(&e, c, serial, 9, &o, &f), 0);
    CLOSE(f.s, 1.0, 1e-9);
    assert_true(f.identifiable);
    assert_int_equal(rep_amdahl_fit(&e, c, parallel, 9, &o, &f), 0);
    CLOSE(f.s, 0.0, 1e-9);
    CLOSE(f.t1, 10.0, 1e-9);
    assert_true(f.identifiable);

    const double c2[] = {1, 2}, t2[] = {10, 5.5};
    assert_int_equal(rep_amdahl_fit(&e, c2, t2, 2, &o, &f), 0);
    CLOSE(f.s, 0.1, 1e-9); /* the exact solution exists... */
    assert_false(f.identifiable); /* ...but nothing says how well it is known */
    assert_non_null(strstr(f.why, "as many points as parameters"));

    /* 30% noise on two core counts: the band of s spans most of [0, 1] */
    double cn[12], tn[12];
    for (int i = 0; i < 12; i++) {
        cn[i] = i < 6 ? 1 : 2;
        tn[i] = rep_amdahl_time(10, 0.5, cn[i]) * exp(0.3 * ib_gauss(9, (uint64_t)i, 0, 0));
    }
    assert_int_equal(rep_amdahl_fit(&e, cn, tn, 12, &o, &f), 0);
    print_message("noisy: s = %.3f [%.3f, %.3f]: %s\n", f.s, f.s_lo, f.s_hi, f.why);
    assert_false(f.identifiable);
    assert_non_null(strstr(f.why, "of the range [0, 1] (at most 50%)"));

    /* the rule itself */
    rep_param p = {.est = 0.5, .lo = 0.2, .hi = 0.6, .range_lo = 0, .range_hi = 1};
    assert_int_equal(rep_identify(&p, 3, 2, 4), 1);
    assert_string_equal(p.why, "");
    p.hi = 0.75; /* 55% of the range */
    assert_int_equal(rep_identify(&p, 3, 2, 4), 0);
    p.hi = 0.6;
    assert_int_equal(rep_identify(&p, 1, 2, 4), 0);
    assert_non_null(strstr(p.why, "1 distinct x value for 2 parameters"));
    assert_int_equal(rep_identify(&p, 2, 2, 0), 0);
    p.est = NAN;
    assert_int_equal(rep_identify(&p, 3, 2, 4), 0);
}

static void test_karp_flatt(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    const double s = 0.1;
    for (double n = 2; n <= 64; n *= 2) CLOSE(rep_karp_flatt(rep_amdahl_speedup(s, n), n), s, 1e-12);
    assert_true(isnan(rep_karp_flatt(1.0, 1.0)));

    /* series from repeated exact Amdahl timings (shuffled order) */
    const double cores[] = {4, 1, 2, 4, 1, 8, 2, 8, 1};
    double time[9];
    for (int i = 0; i < 9; i++) time[i] = rep_amdahl_time(200, 0.2, cores[i]);
    rep_kf_point *k;
    size_t m;
    assert_int_equal(rep_karp_flatt_series(&e, cores, time, 9, 0.95, 200, 1, &k, &m), 0);
    assert_int_equal(m, 4);
    CLOSE(k[0].cores, 1, 0);
    CLOSE(k[0].speedup, 1, 1e-12);
    assert_true(isnan(k[0].e));
    assert_false(k[0].identifiable);
    for (size_t i = 1; i < m; i++) {
        CLOSE(k[i].cores, 1 << i, 0);
        CLOSE(k[i].speedup, rep_amdahl_speedup(0.2, k[i].cores), 1e-12);
        CLOSE(k[i].e, 0.2, 1e-12);
        CLOSE(k[i].e_lo, 0.2, 1e-12); /* exact repeats: a zero-width band */
        assert_true(k[i].identifiable);
    }
    ib_free(k);
    /* one repeat per core count: no band, not identifiable */
    const double c2[] = {1, 2}, t2[] = {2, 1.1};
    assert_int_equal(rep_karp_flatt_series(&e, c2, t2, 2, 0.95, 200, 1, &k, &m), 0);
    CLOSE(k[1].e, (1 / (2 / 1.1) - 0.5) / 0.5, 1e-12);
    assert_false(k[1].identifiable);
    assert_non_null(strstr(k[1].why, "no band"));
    ib_free(k);
    const double no1[] = {2, 4};
    assert_int_equal(rep_karp_flatt_series(&e, no1, t2, 2, 0.95, 200, 1, &k, &m), IB_EINVAL);
    assert_null(k);
}

static void test_nnls(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    /* an interior solution: y = 2 + 3e-8 x1 + 0.04 x2, columns of very
     * different magnitudes */
    enum { N = 30 };
    double a[N * 3], b[N], x[3];
    for (int i = 0; i < N; i++) {
        a[i * 3 + 0] = 1;
        a[i * 3 + 1] = 1e8 * (1 + ib_uniform(ib_hash4(3, i, 0, 0)) * 50);
        a[i * 3 + 2] = 10 + ib_uniform(ib_hash4(3, i, 1, 0)) * 300;
        b[i] = 2 + 3e-8 * a[i * 3 + 1] + 0.04 * a[i * 3 + 2];
    }
    assert_int_equal(rep_nnls(&e, a, b, N, 3, x), 0);
    CLOSE(x[0], 2, 1e-8);
    CLOSE(x[1], 3e-8, 1e-16);
    CLOSE(x[2], 0.04, 1e-10);
    /* the unconstrained optimum has a negative intercept: NNLS pins it at 0 */
    for (int i = 0; i < N; i++) b[i] = -1 + 3e-8 * a[i * 3 + 1] + 0.04 * a[i * 3 + 2];
    assert_int_equal(rep_nnls(&e, a, b, N, 3, x), 0);
    CLOSE(x[0], 0, 0);
    assert_true(x[1] > 0 && x[2] >= 0);
    /* a column twice another: the dependent one stays at 0, the fit is exact */
    for (int i = 0; i < N; i++) {
        a[i * 3 + 2] = 2 * a[i * 3 + 1];
        b[i] = 5 + 4e-8 * a[i * 3 + 1];
    }
    assert_int_equal(rep_nnls(&e, a, b, N, 3, x), 0);
    CLOSE(x[0], 5, 1e-6);
    CLOSE(x[1] + 2 * x[2], 4e-8, 1e-14);
    /* everything negative: x = 0 */
    for (int i = 0; i < N; i++) b[i] = -1;
    assert_int_equal(rep_nnls(&e, a, b, N, 3, x), 0);
    assert_true(x[0] == 0 && x[1] == 0 && x[2] == 0);
    assert_int_equal(rep_nnls(&e, a, b, N, 0, x), IB_EINVAL);
    b[3] = NAN;
    assert_int_equal(rep_nnls(&e, a, b, N, 3, x), IB_EINVAL);
}

/* A cell of the cost model tests: thread-seconds per term from planted
 * coefficients, wall = 0.05 + 1.1 P / cores, 2% noise when noisy. */
static rep_cost_cell planted(const char *gridder, double samples, int support, double planes,
                             double cores, uint64_t i, int noisy)
{
    rep_cost_cell c;
    memset(&c, 0, sizeof c);
    snprintf(c.gridder, sizeof c.gridder, "%s", gridder);
    double G = 384.0 * 384, mosaic = !strcmp(gridder, "mosaic");
    c.x[REP_TERM_READ] = samples * 8.5;
    c.x[REP_TERM_GRID] = samples * support * support;
    c.x[REP_TERM_FFT] = planes * G * log2(G);
    c.x[REP_TERM_WRITE] = planes * 256 * 256 * 4;
    c.x[REP_TERM_POINTING] = mosaic ? 24 * planes / 2 : 0;
    const double a[REP_NTERMS] = {0.01, 0.0, 0.002, 0.001, 0.0};
    const double cc[REP_NTERMS] = {2e-9, mosaic ? 2e-8 : 4e-9, 1.5e-9, 1e-9, 2e-4};
    double p = 0;
    for (int j = 0; j < REP_NTERMS; j++) {
        c.y[j] = a[j] + cc[j] * c.x[j];
        if (noisy) c.y[j] *= exp(0.02 * ib_gauss(11, i, (uint64_t)j, 0));
        p += c.y[j];
    }
    c.cores = cores;
    c.wall = 0.05 + 1.1 * p / cores;
    if (noisy) c.wall *= exp(0.02 * ib_gauss(12, i, 0, 0));
    return c;
}

static void test_cost_model(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_cost_cell cells[48];
    size_t n = 0;
    const double samples[] = {1e6, 3e6, 1e7};
    const int sup[] = {7, 17, 51};
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < 3; i++)
            for (int w = 0; w < 3; w++)
                for (int c = 1; c <= 2; c++)
                    cells[n] = planted(g ? "mosaic" : "standard", samples[i], sup[w],
                                       48.0 * (1 + i + g), c, n, 1), n++;
    rep_cost_opts o;
    rep_cost_opts_init(&o);
    o.boot = 200;
    rep_cost_model m;
    size_t skipped = 9;
    assert_int_equal(rep_cost_model_fit(&e, cells, n, &o, &m, &skipped), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(m.ng, 2);
    const rep_cost_term *grid = &m.term[1][REP_TERM_GRID];
    print_message("mosaic grid: c = %.4g [%.4g, %.4g] %s\n", grid->c.est, grid->c.lo,
                  grid->c.hi, grid->c.why);
    assert_true(grid->used && grid->slope);
    CLOSE(grid->c.est, 2e-8, 0.1 * 2e-8);
    assert_true(grid->c.lo <= 2e-8 && 2e-8 <= grid->c.hi);
    assert_true(grid->c.identifiable);
    assert_true(m.r.identifiable);
    CLOSE(m.r.est, 1.1, 0.1);
    /* the standard gridder has no per-pointing work: intercept only, never extrapolated */
    assert_false(m.term[0][REP_TERM_POINTING].slope);
    /* predict a cell 100 times larger than any fitted: within 10% of the plant */
    rep_cost_cell big = planted("mosaic", 1e9, 17, 960, 2, 999, 0);
    rep_cost_prediction p;
    rep_cost_predict(&m, &big, &p);
    print_message("big: predicted %.4g [%.4g, %.4g], planted %.4g\n", p.wall, p.wall_lo,
                  p.wall_hi, big.wall);
    assert_true(p.ok);
    CLOSE(p.wall, big.wall, 0.1 * big.wall);
    assert_true(p.wall_lo <= p.wall && p.wall <= p.wall_hi);
    /* no gridder, unknown driver: no prediction, and why */
    rep_cost_cell other = big;
    snprintf(other.gridder, sizeof other.gridder, "wproject");
    rep_cost_predict(&m, &other, &p);
    assert_false(p.ok);
    assert_non_null(strstr(p.why, "no small-scale cell of gridder 'wproject'"));
    other = big;
    other.x[REP_TERM_FFT] = NAN;
    rep_cost_predict(&m, &other, &p);
    assert_false(p.ok);
    assert_non_null(strstr(p.why, "fft"));
    rep_cost_model_release(&m);

    /* every cell the same size: no slope identified, nothing extrapolated */
    for (size_t i = 0; i < 6; i++) cells[i] = planted("standard", 1e6, 7, 48, 1, i, 1);
    assert_int_equal(rep_cost_model_fit(&e, cells, 6, &o, &m, NULL), 0);
    rep_cost_predict(&m, &big, &p);
    assert_false(p.ok);
    snprintf(big.gridder, sizeof big.gridder, "standard");
    rep_cost_predict(&m, &big, &p);
    assert_false(p.ok);
    assert_non_null(strstr(p.why, "not identifiable from these points"));
    rep_cost_model_release(&m);
    /* nothing usable */
    cells[0].wall = NAN;
    assert_int_equal(rep_cost_model_fit(&e, cells, 1, &o, &m, NULL), IB_EINVAL);
    rep_cost_model_release(&m);
}

/* ---------------------------------------------------------------------- */

static const char *src_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("IMBENCH_SRCDIR");
    snprintf(buf, sizeof buf, "%s/%s", dir && *dir ? dir : ".", rel);
    return buf;
}

static const rep_baseline *find(const rep_baseline *b, size_t n, const char *dataset,
                                const char *system, const char *metric, int chunks,
                                int bound)
{
    for (size_t i = 0; i < n; i++)
        if (b[i].dataset && !strcmp(b[i].dataset, dataset) && !strcmp(b[i].system, system) &&
            !strcmp(b[i].metric, metric) && b[i].chunks == chunks && b[i].bound == bound)
            return &b[i];
    return NULL;
}

static void test_baselines_seed(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_baseline *b;
    size_t n;
    int rc = rep_baselines_load(&e, src_path("workloads/baselines/seed-study.yaml"), &b, &n);
    if (rc) print_message("%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 32);

    const rep_baseline *r = find(b, n, "vla-chiles", "casa-6.2", "wall_time", 0, 0);
    assert_non_null(r);
    CLOSE(r->value, 18000, 0);
    assert_string_equal(r->unit, "s");
    assert_int_equal(r->label, REP_LABEL_STATED);
    assert_int_equal(r->nodes, 8);
    assert_int_equal(r->cores, 128);
    assert_string_equal(r->source, "seed-study");
    assert_true(r->line > 1);

    r = find(b, n, "vla-chiles", "cngi-prototype", "wall_time", 3840, 0);
    assert_non_null(r);
    CLOSE(r->value, 2700, 0);
    r = find(b, n, "vla-chiles", "cngi-prototype", "wall_time", 256, 0);
    assert_non_null(r);
    CLOSE(r->value, 50400, 0);
    r = find(b, n, "alma-x2e3", "cngi-prototype", "wall_time", 512, 0);
    assert_non_null(r);
    CLOSE(r->value, 2280, 0);
    assert_int_equal(r->label, REP_LABEL_PLOT);
    assert_int_equal(r->threads, 16);
    r = find(b, n, "alma-x3be", "casa-6.2", "wall_time", 0, REP_BOUND_LOW);
    assert_non_null(r);
    CLOSE(r->value, 3200, 0);

    int support = 0, overhead = 0, stated = 0, plot = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(b[i].label == REP_LABEL_STATED || b[i].label == REP_LABEL_PLOT);
        stated += b[i].label == REP_LABEL_STATED;
        plot += b[i].label == REP_LABEL_PLOT;
        if (b[i].support == 51) {
            CLOSE(b[i].value, 4.45, 1e-12);
            assert_int_equal(b[i].threads, 80);
            support++;
        }
        if (b[i].support == 17) {
            CLOSE(b[i].value, 3.43, 1e-12);
            support++;
        }
        if (!strcmp(b[i].metric, "overhead_per_task")) {
            assert_null(b[i].dataset);
            CLOSE(b[i].value, 0.1, 1e-12);
            overhead++;
        }
    }
    assert_int_equal(support, 2);
    assert_int_equal(overhead, 1);
    assert_int_equal(stated + plot, 32);
    assert_string_equal(rep_label_name(REP_LABEL_PLOT), "read from plot, approx.");
    rep_baselines_destroy(b, n);
    rep_baselines_destroy(NULL, 0);
}

/* Parse text; expect failure whose message contains want. */
static void bad_yaml(const char *text, const char *want)
{
    ib_err e;
    ib_err_init(&e);
    rep_baseline *b = (rep_baseline *)&e; /* must be reset to NULL */
    size_t n = 99;
    int rc = rep_baselines_parse(&e, "bad.yaml", text, strlen(text), &b, &n);
    if (rc == 0 || !strstr(e.msg, want))
        print_message("want '%s', got rc %d: %s\n", want, rc, e.msg);
    assert_int_equal(rc, IB_EPARSE);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, "baselines 'bad.yaml' line "));
    assert_null(b);
    assert_int_equal(n, 0);
}

#define HEAD "format: imbench-baselines/1\nbaselines:\n"
#define REC1                                                                              \
    "  - dataset: alma-x2e3\n    system: casa-6.2\n    metric: wall_time\n    value: 690\n" \
    "    unit: s\n    label: stated\n"

static void test_baselines_malformed(void **state)
{
    (void)state;
    ib_err e;
    ib_err_init(&e);
    rep_baseline *b;
    size_t n;
    const char *good = HEAD REC1 "    nodes: 2\n    note: 'fine, quoted'\n";
    assert_int_equal(rep_baselines_parse(&e, "good.yaml", good, strlen(good), &b, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(b[0].nodes, 2);
    assert_int_equal(b[0].line, 3);
    assert_null(b[0].source);
    assert_string_equal(b[0].note, "fine, quoted");
    rep_baselines_destroy(b, n);

    bad_yaml(HEAD REC1 "    nodez: 2\n", "line 9 column 5: unknown key 'nodez'");
    bad_yaml(HEAD REC1 "    nodes: '2'\n", "line 9 column 12: 'nodes': wrong type, expected an integer");
    bad_yaml(HEAD REC1 "    nodes: 2.5\n", "line 9 column 12: 'nodes': wrong type");
    bad_yaml(HEAD REC1 "    cores: [16, 32]\n", "line 9 column 12: 'cores': wrong type");
    bad_yaml(HEAD REC1 "    note:\n", "line 9 column 10: 'note': missing value");
    bad_yaml(HEAD "  - dataset: alma-x2e3\n    system: casa-6.2\n    metric: wall_time\n"
                  "    value: abc\n    unit: s\n    label: stated\n",
             "line 6 column 12: 'value': wrong type, expected a number");
    bad_yaml(HEAD "  - dataset: alma-x2e3\n    system: casa-6.2\n    metric: wall_time\n"
                  "    value: 1\n    unit: s\n    label: guessed\n",
             "line 8 column 12: unknown label 'guessed'");
    bad_yaml(HEAD "  - dataset: alma-x2e3\n    system: casa-6.2\n    metric: wall_time\n"
                  "    unit: s\n    label: stated\n",
             "line 3 column 5: record is missing 'value'");
    bad_yaml(HEAD REC1 "    system: casa-5\n", "line 9 column 5: duplicate key 'system'");
    bad_yaml(HEAD "  - dataset: alma-x2e3\n    system: casa-6.2\n    metric: speedup\n"
                  "    value: 1\n    unit: s\n    label: stated\n",
             "line 3 column 5: metric 'speedup' needs unit 'x'");
    bad_yaml(HEAD REC1 "    bound: middle\n", "unknown bound 'middle'");
    bad_yaml("format: imbench-baselines/2\nbaselines: []\n", "line 1 column 9: unsupported format");
    bad_yaml("baselines: []\n", "line 1 column 1: missing 'format");
    bad_yaml(HEAD REC1 "  - &a\n    dataset: x\n", "line 9 column 5: anchors are not supported");
    bad_yaml(HEAD REC1 "   note: y\n", "line 9 column 4: YAML error");
    bad_yaml(HEAD REC1 "\tnote: y\n", "line 9 column 1: YAML error: found a tab");
    bad_yaml(HEAD REC1 "    note: [a, b]\n", "line 9 column 11: 'note': wrong type");
    bad_yaml("format: imbench-baselines/1\nsources: x\nbaselines: []\n",
             "line 2 column 1: unknown key 'sources'");
    bad_yaml(HEAD REC1 "---\nformat: x\n", "only one document");
    bad_yaml("", "line 1 column 1: empty file");
    bad_yaml("- 1\n- 2\n", "line 1 column 1: expected a mapping");

    assert_int_equal(rep_baselines_load(&e, "/nonexistent/x.yaml", &b, &n), IB_EIO);
    assert_non_null(strstr(e.msg, "/nonexistent/x.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summaries),
        cmocka_unit_test(test_boot_median),
        cmocka_unit_test(test_boot_ratio_coverage),
        cmocka_unit_test(test_mann_whitney),
        cmocka_unit_test(test_bh),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_amdahl),
        cmocka_unit_test(test_identify_rule),
        cmocka_unit_test(test_karp_flatt),
        cmocka_unit_test(test_nnls),
        cmocka_unit_test(test_cost_model),
        cmocka_unit_test(test_baselines_seed),
        cmocka_unit_test(test_baselines_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
