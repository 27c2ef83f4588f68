/*
 * test_compare: `harness compare` on a results database built here with
 * the res_ API — a base run, a candidate with a planted 20% regression in
 * one cell, a candidate that only differs by noise, one with a planted
 * improvement, one with an unmatched cell. Checks the verdicts (honouring
 * better = lower|higher), Benjamini–Hochberg over the cells, the units
 * check, and the exit status: 1 on a significant regression beyond the
 * threshold, 0 otherwise, 2 for usage errors. And --against wsclean on a run
 * with both imagers: the pairing by parameters, the planted imbench/wsclean
 * ratio with its interval, a skipped wsclean cell and unpaired cells as rows.
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
    res_open_opts oo = {.flags = RES_OPEN_READONLY};
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

/* ---- imbench against WSClean within one run (--against wsclean) ---------- */

/* A cell of the peer database: params with dataset_key, plus imager when
 * wsclean; nodes, threads and chunks vary. */
static int64_t peer_cell(res_db *db, const char *hash, int nodes, int threads, int chunks,
                         int wsclean)
{
    ib_err e;
    ib_err_init(&e);
    json_t *p = json_pack("{s:s, s:s, s:f, s:i, s:i, s:i, s:i, s:i}", "dataset", "alma-xc66",
                          "dataset_key", "0123456789abcdef0123456789abcdef", "scale", 1e-4,
                          "seed", 1, "nodes", nodes, "threads", threads, "chunks", chunks,
                          "support", 7);
    if (wsclean) json_object_set_new(p, "imager", json_string("wsclean"));
    int64_t id;
    CHECK_OK(res_cell_put(&e, db, hash, p, &id), e);
    json_decref(p);
    return id;
}

/* NREP attempts of cell: wall time base s with 3% lognormal noise, or all
 * with status (and stderr tail) when status is not ok. */
static void peer_attempts(res_db *db, int64_t run, int64_t cell, double base, uint64_t seed,
                          const char *status, const char *tail)
{
    ib_err e;
    ib_err_init(&e);
    for (int r = 0; r < NREP; r++) {
        double wall = base * exp(0.03 * ib_gauss(seed, (uint64_t)cell, (uint64_t)r, 0));
        res_metric m = {"wall_time", wall, "s", "lower"};
        int ok = !strcmp(status, RES_OK);
        res_attempt a = {.run_id = run, .cell_id = cell, .repeat = r, .status = status,
                         .exit_code = ok ? 0 : -1, .wall_s = ok ? wall : 0,
                         .stderr_tail = tail};
        CHECK_OK(res_attempt_record(&e, db, &a, NULL, ok ? &m : NULL, ok ? 1 : 0, NULL), e);
    }
}

static int peer_compare(const char *dbpath, int64_t run, const char *metrics,
                        rep_peer_result *res, char **text)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_READONLY};
    CHECK_OK(res_open(&e, dbpath, &oo, &db), e);
    size_t len;
    FILE *f = open_memstream(text, &len);
    rep_peer_opts o;
    rep_peer_opts_init(&o);
    o.run = run;
    o.metrics = metrics;
    o.out = f;
    int rc = rep_compare_peer(&e, db, &o, res);
    fclose(f);
    if (rc) print_message("%s\n", e.msg);
    res_close(db);
    return rc;
}

/* One run with both imagers: a pair timed 2 s (imbench) against 8 s
 * (wsclean), a pair whose wsclean cell was skipped, an imbench cell and a
 * wsclean cell without a partner. */
static void test_peer_wsclean(void **state)
{
    fixture *fx = *state;
    char dbpath[4300];
    snprintf(dbpath, sizeof dbpath, "%s/peer.db", fx->dir);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    CHECK_OK(res_open(&e, dbpath, NULL, &db), e);
    int64_t run;
    CHECK_OK(res_run_begin(&e, db, "wspair", NULL, NULL, NULL, &run), e);
    int64_t ib1 = peer_cell(db, "p01", 1, 2, 1, 0), ws1 = peer_cell(db, "p02", 1, 2, 1, 1);
    int64_t ib2 = peer_cell(db, "p03", 2, 2, 1, 0), ws2 = peer_cell(db, "p04", 2, 2, 1, 1);
    int64_t lone_ib = peer_cell(db, "p05", 1, 2, 4, 0);
    int64_t lone_ws = peer_cell(db, "p06", 1, 1, 1, 1);
    peer_attempts(db, run, ib1, 2.0, 21, RES_OK, NULL);
    peer_attempts(db, run, ws1, 8.0, 22, RES_OK, NULL);
    peer_attempts(db, run, ib2, 1.5, 23, RES_OK, NULL);
    peer_attempts(db, run, ws2, 0, 0, RES_SKIPPED, "skipped: wsclean not installed");
    peer_attempts(db, run, lone_ib, 2.5, 24, RES_OK, NULL);
    peer_attempts(db, run, lone_ws, 9.0, 25, RES_OK, NULL);
    CHECK_OK(res_run_finish(&e, db, run, "complete"), e);
    res_close(db);

    rep_peer_result r;
    char *t = NULL;
    assert_int_equal(peer_compare(dbpath, run, NULL, &r, &t), 0);
    assert_int_equal(r.peer_cells, 3);
    assert_int_equal(r.paired, 1);
    assert_int_equal(r.no_values, 1);
    assert_int_equal(r.no_imbench, 1);
    assert_int_equal(r.no_peer, 1);
    assert_int_equal(r.nrows, 4);
    int seen = 0;
    for (size_t i = 0; i < r.nrows; i++) {
        const rep_peer_row *w = &r.rows[i];
        if (w->status == REP_PEER_PAIRED) {
            /* the pairing, the medians and the planted ratio 2/8 */
            assert_int_equal(w->cell, ib1);
            assert_int_equal(w->peer_cell, ws1);
            assert_string_equal(w->metric, "wall_time");
            assert_int_equal(w->n, NREP);
            assert_int_equal(w->peer_n, NREP);
            assert_true(fabs(w->median - 2.0) < 0.1 && fabs(w->peer_median - 8.0) < 0.4);
            assert_true(fabs(w->ratio.est - w->median / w->peer_median) < 1e-12);
            assert_true(w->ratio.est > 0.235 && w->ratio.est < 0.265);
            assert_true(w->ratio.lo <= w->ratio.est && w->ratio.est <= w->ratio.hi);
            assert_true(w->ratio.lo > 0.2 && w->ratio.hi < 0.3 && w->ratio.hi > w->ratio.lo);
            /* the label: the parameters but imager and dataset_key */
            assert_string_equal(w->label, "alma-xc66 chunks=1 nodes=1 scale=0.0001 seed=1 "
                                          "support=7 threads=2");
            seen |= 1;
        } else if (w->status == REP_PEER_NO_VALUES) {
            /* skipped wsclean cell: a pair without a ratio, with the reason */
            assert_int_equal(w->cell, ib2);
            assert_int_equal(w->peer_cell, ws2);
            assert_int_equal(w->n, NREP);
            assert_int_equal(w->peer_n, 0);
            assert_string_equal(w->why, "wsclean skipped: wsclean not installed");
            seen |= 2;
        } else if (w->status == REP_PEER_NO_IMBENCH) {
            assert_int_equal(w->peer_cell, lone_ws);
            assert_int_equal(w->cell, 0);
            seen |= 4;
        } else {
            assert_int_equal(w->status, REP_PEER_NO_PEER);
            assert_int_equal(w->cell, lone_ib);
            assert_int_equal(w->peer_cell, 0);
            seen |= 8;
        }
    }
    assert_int_equal(seen, 15);
    assert_non_null(strstr(t, "median(imbench) / median(wsclean)"));
    assert_non_null(strstr(t, "note: wsclean skipped: wsclean not installed"));
    assert_non_null(strstr(t, "note: no imbench cell in run 1 has these parameters"));
    assert_non_null(strstr(t, "note: no wsclean cell in run 1 has these parameters"));
    assert_non_null(strstr(t, "1 compared (pairs x metrics), 1 without values"));
    rep_peer_result_release(&r);
    free(t);

    /* a metric one side lacks is a row without values, not an error */
    assert_int_equal(peer_compare(dbpath, run, "wall_time,grid_rate", &r, &t), 0);
    assert_int_equal(r.paired, 1);
    assert_int_equal(r.no_values, 3);
    assert_non_null(strstr(t, "imbench: metric 'grid_rate' not recorded; wsclean: metric "
                              "'grid_rate' not recorded"));
    rep_peer_result_release(&r);
    free(t);

    /* a run without wsclean cells says so */
    assert_int_equal(peer_compare(fx->db, fx->base, NULL, &r, &t), 0);
    assert_int_equal(r.peer_cells, 0);
    assert_int_equal(r.nrows, 0);
    assert_int_equal(r.no_peer, NCELL);
    assert_non_null(strstr(t, "has no wsclean cells (4 imbench cells): nothing to pair"));
    rep_peer_result_release(&r);
    free(t);

    /* the command line: the latest run by default, exit 0; errors 2 */
    const char *H = tu_bin("harness");
    char *o = NULL;
    int st = tu_run(&o, "'%s' compare --db '%s' --against wsclean", H, dbpath);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    assert_non_null(strstr(o, "compare: run 1 (wspair): imbench against wsclean"));
    char want[64];
    snprintf(want, sizeof want, "\n%lld/%lld ", (long long)ib1, (long long)ws1);
    assert_non_null(strstr(o, want));
    assert_non_null(strstr(o, "skipped: wsclean not installed"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --against wsclean --metric all", H, dbpath);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "--metric all"));
    free(o);
    st = tu_run(&o, "'%s' compare --db '%s' --against wsclean --run 7", H, dbpath);
    assert_int_equal(st, 2);
    assert_non_null(strstr(o, "no run 7"));
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
        cmocka_unit_test(test_peer_wsclean),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
