/*
 * test_compare: `harness compare` on a results database built here with
 * the res_ API — a base run, a candidate with a planted 20% regression in
 * one cell, a candidate that only differs by noise, one with a planted
 * improvement, one with an unmatched cell. Checks the verdicts (honouring
 * better = lower|higher), Benjamini–Hochberg over the cells, the units
 * check, and the exit status: 1 on a significant regression beyond the
 * threshold, 0 otherwise, 2 for usage errors.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/reports.h"
#include "results/results.h"
#include "tests/testutil.h"

#define CHECK_OK(expr, err)                               \
    do {                                                  \
        int rc_ = (expr);                                 \
        if (rc_) print_message("%s\n", (err).msg);        \
        assert_int_equal(rc_, 0);                         \
    } while (0)

#define NCELL 4
#define NREP 8

typedef struct fixture {
    char *dir;
    char db[4200];
    int64_t base, slow, noise, fast, extra;
    int64_t cell[NCELL + 1];
} fixture;

/* A run: cell k's wall time 10 (k+1) s times lognormal noise (3%) times
 * factor[k]; grid_rate is its inverse (higher is better); "odd" is a
 * duration whose unit is given as unit_odd. */
static int64_t add_run(res_db *db, fixture *fx, const char *suite, uint64_t seed,
                       const double factor[NCELL + 1], int ncells, const char *unit_odd)
{
    ib_err e;
    ib_err_init(&e);
    int64_t run;
    CHECK_OK(res_run_begin(&e, db, suite, NULL, NULL, NULL, &run), e);
    for (int k = 0; k < ncells; k++) {
        for (int r = 0; r < NREP; r++) {
            double wall = 10.0 * (k + 1) * factor[k] *
                          exp(0.03 * ib_gauss(seed, (uint64_t)k, (uint64_t)r, 0));
            res_metric m[3] = {{"wall_time", wall, "s", "lower"},
                               {"grid_rate", 1e6 / wall, "samples/s", "higher"},
                               {"odd", wall, unit_odd, NULL}};
            res_attempt a = {.run_id = run, .cell_id = fx->cell[k], .repeat = r,
                             .status = RES_OK, .exit_code = 0, .wall_s = wall};
            CHECK_OK(res_attempt_record(&e, db, &a, NULL, m, 3, NULL), e);
        }
    }
    CHECK_OK(res_run_finish(&e, db, run, "complete"), e);
    return run;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = tu_mkdtemp("compare");
    snprintf(fx->db, sizeof fx->db, "%s/c.db", fx->dir);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    CHECK_OK(res_open(&e, fx->db, NULL, &db), e);
    for (int k = 0; k <= NCELL; k++) {
        char hash[64];
        snprintf(hash, sizeof hash, "%032x", 0xabc00 + k);
        json_t *p = json_pack("{s:s, s:i, s:i, s:i, s:i}", "dataset", "alma-xc66", "nodes", 1,
                              "threads", 2, "chunks", 1 << k, "support", 7);
        CHECK_OK(res_cell_put(&e, db, hash, p, &fx->cell[k]), e);
        json_decref(p);
    }
    const double same[NCELL + 1] = {1, 1, 1, 1, 1};
    const double slow[NCELL + 1] = {1.2, 1, 1, 1, 1};
    const double fast[NCELL + 1] = {1, 0.8, 1, 1, 1};
    fx->base = add_run(db, fx, "base", 11, same, NCELL, "s");
    fx->slow = add_run(db, fx, "slow", 12, slow, NCELL, "ms");
    fx->noise = add_run(db, fx, "noise", 13, same, NCELL, "s");
    fx->fast = add_run(db, fx, "fast", 14, fast, NCELL, "s");
    fx->extra = add_run(db, fx, "extra", 15, same, NCELL + 1, "s");
    res_close(db);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    const char *keep = getenv("IMBENCH_KEEP"); /* IMBENCH_KEEP=1: keep the database */
    if (keep && *keep == '1') print_message("kept %s\n", fx->dir);
    else tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Run the library comparison; the table goes to a memory stream. */
static int compare(const fixture *fx, int64_t a, int64_t b, const char *metrics, double thr,
                   rep_cmp_result *res, char **text)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_MUST_EXIST};
    CHECK_OK(res_open(&e, fx->db, &oo, &db), e);
    size_t len;
    FILE *f = open_memstream(text, &len);
    rep_cmp_opts o;
    memset(&o, 0, sizeof o);
    o.run_a = a;
    o.run_b = b;
    o.metrics = metrics;
    rep_compare_opts_init(&o.c);
    o.c.threshold = thr;
    o.out = f;
    int rc = rep_compare_runs(&e, db, &o, res);
    fclose(f);
    if (rc) print_message("%s\n", e.msg);
    res_close(db);
    return rc;
}

static void test_planted_regression(void **state)
{
    fixture *fx = *state;
    rep_cmp_result r;
    char *t = NULL;
    assert_int_equal(compare(fx, fx->slow, fx->base, NULL, 0.05, &r, &t), 0);
    assert_int_equal(r.compared, NCELL);
    assert_int_equal(r.slower, 1);
    assert_int_equal(r.regressions, 1);
    assert_int_equal(r.faster, 0);
    assert_int_equal(r.unchanged, NCELL - 1);
    /* the slow cell's line: ratio about 1.2 and the flag */
    char want[64];
    snprintf(want, sizeof want, "\n%-6lld", (long long)fx->cell[0]);
    const char *line = strstr(t, want);
    assert_non_null(line);
    const char *eol = strchr(line + 1, '\n');
    assert_non_null(eol);
    char buf[512];
    snprintf(buf, sizeof buf, "%.*s", (int)(eol - line - 1), line + 1);
    assert_non_null(strstr(buf, "slower REGRESSION"));
    double ratio = 0;
    const char *q = strstr(buf, " 1.");
    assert_non_null(q);
    assert_int_equal(sscanf(q, "%lf", &ratio), 1);
    assert_true(ratio > 1.12 && ratio < 1.28);
    assert_non_null(strstr(t, "Benjamini-Hochberg over 4 comparisons"));
    free(t);
}

static void test_pure_noise(void **state)
{
    fixture *fx = *state;
    rep_cmp_result r;
    char *t = NULL;
    assert_int_equal(compare(fx, fx->noise, fx->base, NULL, 0.05, &r, &t), 0);
    assert_int_equal(r.compared, NCELL);
    assert_int_equal(r.unchanged, NCELL);
    assert_int_equal(r.regressions, 0);
    assert_null(strstr(t, "REGRESSION"));
    free(t);
}

static void test_improvement_and_direction(void **state)
{
    fixture *fx = *state;
    rep_cmp_result r;
    char *t = NULL;
    /* 20% faster: wall time lower is better */
    assert_int_equal(compare(fx, fx->fast, fx->base, "wall_time", 0.05, &r, &t), 0);
    assert_int_equal(r.faster, 1);
    assert_int_equal(r.slower, 0);
    assert_int_equal(r.regressions, 0);
    free(t);
    /* grid_rate is higher-is-better: the slow run's lower rate is a regression,
     * the fast run's higher rate an improvement */
    assert_int_equal(compare(fx, fx->slow, fx->base, "grid_rate", 0.05, &r, &t), 0);
    assert_int_equal(r.slower, 1);
    assert_int_equal(r.regressions, 1);
    assert_non_null(strstr(t, "(higher is better)"));
    free(t);
    assert_int_equal(compare(fx, fx->fast, fx->base, "grid_rate", 0.05, &r, &t), 0);
    assert_int_equal(r.faster, 1);
    assert_int_equal(r.regressions, 0);
    free(t);
    /* a threshold above the change: still significant, no regression */
    assert_int_equal(compare(fx, fx->slow, fx->base, "wall_time", 0.25, &r, &t), 0);
    assert_int_equal(r.slower, 1);
    assert_int_equal(r.regressions, 0);
    free(t);
}

static void test_units_and_matching(void **state)
{
    fixture *fx = *state;
    rep_cmp_result r;
    char *t = NULL;
    /* "odd" is in ms in the slow run and s in the base: not compared */
    assert_int_equal(compare(fx, fx->slow, fx->base, "wall_time,odd", 0.05, &r, &t), 0);
    assert_int_equal(r.compared, NCELL);
    assert_int_equal(r.skipped, NCELL);
    assert_non_null(strstr(t, "has unit 'ms' in run"));
    free(t);
    /* all: every common metric; odd has no direction recorded */
    assert_int_equal(compare(fx, fx->noise, fx->base, "all", 0.05, &r, &t), 0);
    assert_int_equal(r.compared, 3 * NCELL);
    assert_non_null(strstr(t, "direction not recorded: lower assumed"));
    free(t);
    /* a cell only in the candidate run */
    assert_int_equal(compare(fx, fx->extra, fx->base, NULL, 0.05, &r, &t), 0);
    assert_int_equal(r.only_a, 1);
    assert_int_equal(r.compared, NCELL);
    assert_non_null(strstr(t, "1 only in run"));
    free(t);
}

static void test_cli_exit_status(void **state)
{
    fixture *fx = *state;
    const char *H = tu_bin("harness");
    char *o = NULL;
    int st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against %lld", H, fx->db,
                    (long long)fx->slow, (long long)fx->base);
    if (st != 1) print_message("%s\n", o);
    assert_int_equal(st, 1);
    assert_non_null(strstr(o, "REGRESSION"));
    assert_non_null(strstr(o, "1 regression beyond 5%"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against %lld", H, fx->db,
                (long long)fx->noise, (long long)fx->base);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "0 regressions"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against %lld --threshold 25%%", H,
                fx->db, (long long)fx->slow, (long long)fx->base);
    assert_int_equal(st, 0);
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against %lld --metric grid_rate "
                    "--threshold 0.1",
                H, fx->db, (long long)fx->slow, (long long)fx->base);
    assert_int_equal(st, 1);
    free(o);
    /* default run: the latest (extra), against base: no regression */
    st = tu_run(&o, "'%s' compare --db '%s' --against %lld", H, fx->db, (long long)fx->base);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "compare: run 5"));
    free(o);
    /* usage errors and failures: 2 */
    st = tu_run(&o, "'%s' compare --db '%s' --run %lld", H, fx->db, (long long)fx->slow);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--against"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --against yesterday", H, fx->db);
    assert_int_equal(st, 2);
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --against 1 --threshold -3", H, fx->db);
    assert_int_equal(st, 2);
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s/missing.db' --against 1", H, fx->dir);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "does not exist"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --run 99 --against 1", H, fx->db);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "no run 99"));
    free(o);
    /* against casa without baselines: says so, exits 0 */
    st = tu_run(&o, "'%s' compare --db '%s' --run %lld --against casa", H, fx->db,
                (long long)fx->base);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "NORMALISED"));
    assert_non_null(strstr(o, "no dataset of run"));
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planted_regression),
        cmocka_unit_test(test_pure_noise),
        cmocka_unit_test(test_improvement_and_direction),
        cmocka_unit_test(test_units_and_matching),
        cmocka_unit_test(test_cli_exit_status),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
