/*
 * test_wsclean.c: WSClean as a peer imager (docs/wsclean.md). The imager
 * axis of suites (default imbench, kept out of the cell hash); WSClean's
 * log parsed and turned into a stats record the results store ingests;
 * with /usr/bin/wsclean installed, a tiny noise-free 2-channel dataset
 * imaged by both imagers through `harness run-suite`, every plane within
 * rms 1e-2 of the peak; and run-suite without wsclean on PATH recording
 * the cell as skipped, not failed. Well under a minute.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/wsclean.h"
#include "results/results.h"
#include "tests/testutil.h"
#include "workloads/suite.h"

/* ---- the imager axis ---------------------------------------------------- */

static wl_suite *parse(const char *text, ib_err *e)
{
    wl_suite *s = NULL;
    ib_err_init(e);
    wl_suite_parse(e, "t.yaml", text, strlen(text), NULL, &s);
    return s;
}

static void test_imager_axis(void **state)
{
    (void)state;
    ib_err e;
    wl_suite *s = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                        "axes:\n  threads: [2]\n  imager: [imbench, wsclean]\n", &e);
    if (!s) fprintf(stderr, "%s\n", e.msg);
    assert_non_null(s);
    assert_int_equal(s->ncells, 2);
    const wl_cell *a = &s->cells[0], *b = &s->cells[1];
    assert_false(wl_cell_is_wsclean(a));
    assert_true(wl_cell_is_wsclean(b));
    assert_null(strstr(a->params_json, "imager"));
    assert_non_null(strstr(b->params_json, "\"imager\":\"wsclean\""));
    assert_string_not_equal(a->hash, b->hash);
    char label[512];
    wl_suite_cell_label(b, label, sizeof label);
    assert_non_null(strstr(label, "imager=wsclean"));

    /* imbench is the default: its cell hash is that of a suite without the axis */
    wl_suite *plain = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                            "axes:\n  threads: [2]\n", &e);
    assert_non_null(plain);
    assert_string_equal(plain->cells[0].hash, a->hash);
    wl_suite_destroy(plain);

    /* filters and the round trip through a params object */
    int m = 0;
    assert_int_equal(wl_suite_filter(&e, a, "imager=imbench", &m), 0);
    assert_true(m);
    assert_int_equal(wl_suite_filter(&e, b, "imager=imbench", &m), 0);
    assert_false(m);
    assert_int_equal(wl_suite_filter(&e, b, "imager=wsclean", &m), 0);
    assert_true(m);
    json_t *p = wl_suite_cell_params(b);
    wl_cell back;
    assert_int_equal(wl_suite_cell_from_params(&e, p, NULL, &back), 0);
    json_decref(p);
    assert_string_equal(back.hash, b->hash);
    assert_true(wl_cell_is_wsclean(&back));
    wl_suite_destroy(s);

    /* a bad value, and an exclude rule on the axis */
    s = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
              "axes:\n  imager: [imbench, casa]\n", &e);
    assert_null(s);
    assert_non_null(strstr(e.msg, "imager must be imbench or wsclean, got 'casa'"));
    assert_non_null(strstr(e.msg, "line 5"));
    s = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
              "axes:\n  threads: [1, 2]\n  imager: [imbench, wsclean]\n"
              "exclude:\n  - {imager: wsclean, threads: 1}\n", &e);
    assert_non_null(s);
    assert_int_equal(s->ncells, 3);
    wl_suite_destroy(s);
}

/* ---- WSClean's log and the stats record ---------------------------------- */

static const char ws_log[] =
    "\nWSClean version 3.1.0 (2022-04-01)\n"
    "This software package is released under the GPL version 3.\n"
    "Reordering t.ms into 2 x 2 parts.\n"
    " == Constructing image ==\n"
    "Gridding 3725 rows...\n"
    "Gridded visibility count: 621, effective count after weighting: 421.738\n"
    "Inversion: 00:00:00.285688, prediction: 00:00:00, deconvolution: 00:00:00\n"
    "Gridded visibility count: 379, effective count after weighting: 300\n"
    "Inversion: 00:01:02.5, prediction: 00:00:00, deconvolution: 00:00:00\n"
    "Writing ws-MFS-XX-dirty.fits...\n";

static void test_log_and_stats(void **state)
{
    (void)state;
    hx_ws_log lg;
    hx_ws_parse_log(ws_log, &lg);
    assert_string_equal(lg.version, "3.1.0");
    assert_true(lg.reordered);
    assert_int_equal(lg.ninversions, 2);
    assert_true(lg.gridded == 1000.0);
    assert_true(lg.inversion_s == 62.5);
    assert_true(lg.prediction_s == 0);
    hx_ws_parse_log(NULL, &lg);
    assert_true(lg.inversion_s < 0);

    char *tmp = tu_mkdtemp("ws-stats");
    char logp[4200], statsp[4200], dbp[4200];
    snprintf(logp, sizeof logp, "%s/stdout.log", tmp);
    snprintf(statsp, sizeof statsp, "%s/stats.json", tmp);
    snprintf(dbp, sizeof dbp, "%s/r.db", tmp);
    FILE *f = fopen(logp, "w");
    assert_non_null(f);
    fputs(ws_log, f);
    fclose(f);

    ib_err e;
    ib_err_init(&e);
    wl_suite *s = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                        "axes:\n  threads: [2]\n  imager: [wsclean]\n  weight: [briggs:0.5]\n",
                        &e);
    assert_non_null(s);
    const wl_cell *c = &s->cells[0];
    hx_ws_plan plan;
    memset(&plan, 0, sizeof plan);
    snprintf(plan.meta.dataset, sizeof plan.meta.dataset, "alma-xc66");
    plan.meta.nrow = 100;
    plan.meta.nchan = 2;
    plan.meta.npol = 2;
    plan.meta.nfield = 1;
    plan.nx = plan.ny = 64;
    plan.cell_arcsec = 0.5;
    plan.padding = 1.5;
    snprintf(plan.pol, sizeof plan.pol, "xx,yy");
    wl_cell_text(c, IB_P_WEIGHT, plan.weight, sizeof plan.weight);

    /* the command line carries the cell's parameters */
    hx_ws_args av;
    hx_ws_build_argv(c, &plan, "wsclean", "/o/ws", "/o", "/d/vis.ms", &av);
    char line[2048] = "";
    for (int i = 0; av.v[i]; i++) {
        strcat(line, i ? " " : "");
        strcat(line, av.v[i]);
    }
    assert_non_null(strstr(line, "-size 64 64 -scale 0.5asec -channels-out 2 -pol xx,yy "
                                 "-weight briggs 0.5 -j 2 -padding 1.5 -use-wgridder -niter 0"));
    assert_non_null(strstr(line, " /d/vis.ms"));

    assert_int_equal(hx_ws_write_stats(&e, statsp, c, &plan, logp, 64.0), 0);
    json_error_t je;
    json_t *js = json_load_file(statsp, 0, &je);
    assert_non_null(js);
    assert_string_equal(json_string_value(json_object_get(js, "schema")), "imbench-stats/1");
    assert_string_equal(json_string_value(json_object_get(js, "program")), "wsclean");
    assert_string_equal(json_string_value(json_object_get(js, "version")), "3.1.0");
    json_t *m0 = json_array_get(json_object_get(js, "metrics"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "name")), "wall_time");
    assert_string_equal(json_string_value(json_object_get(m0, "unit")), "s");
    assert_string_equal(json_string_value(json_object_get(m0, "better")), "lower");
    assert_true(json_number_value(json_object_get(m0, "value")) == 64.0);

    /* ingested like any cell's stats */
    res_db *db = NULL;
    assert_int_equal(res_open(&e, dbp, NULL, &db), 0);
    res_provenance prov;
    memset(&prov, 0, sizeof prov);
    int64_t run, cell, att;
    assert_int_equal(res_run_begin(&e, db, "t", NULL, NULL, &prov, &run), 0);
    json_t *params = wl_suite_cell_params(c);
    assert_int_equal(res_cell_put(&e, db, c->hash, params, &cell), 0);
    json_decref(params);
    res_attempt a = {.run_id = run, .cell_id = cell, .status = RES_OK, .exit_code = 0,
                     .wall_s = 64.0, .source = statsp};
    int rc = res_attempt_record(&e, db, &a, js, NULL, 0, &att);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db),
                                        "SELECT value, unit FROM metrics WHERE attempt_id = ? "
                                        "AND name = 'wall_time'", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, att);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_double(st, 0) == 64.0);
    assert_string_equal((const char *)sqlite3_column_text(st, 1), "s");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db),
                                        "SELECT wall_s FROM phases WHERE attempt_id = ? "
                                        "AND phase = 'inversion'", -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, att);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_double(st, 0) == 62.5);
    sqlite3_finalize(st);
    res_close(db);
    json_decref(js);
    wl_suite_destroy(s);
    tu_rmtree(tmp);
    free(tmp);
}

/* ---- run-suite with WSClean --------------------------------------------- */

static const char suite_yaml[] =
    "name: wstest\n"
    "datasets: [alma-xc66]\n"
    "scale: 0.0001\n"
    "chans: 2\n"
    "image: 64x64\n"
    "timeout: 60\n"
    "axes:\n"
    "  threads: [2]\n"
    "  imager: [imbench, wsclean]\n";

/* A single value of the database at db. */
static char *db_text(const char *db, const char *sql)
{
    sqlite3 *h;
    char *out = NULL;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                out = strdup((const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(h);
    return out;
}

static char *write_suite(const char *dir)
{
    static char path[4200];
    snprintf(path, sizeof path, "%s/ws.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(suite_yaml, f);
    fclose(f);
    return path;
}

static void test_run_suite_wsclean(void **state)
{
    (void)state;
    if (access("/usr/bin/wsclean", X_OK) != 0) {
        fprintf(stderr, "wsclean not installed: skipped (the missing-wsclean test covers the "
                        "suite)\n");
        skip();
    }
    char *tmp = tu_mkdtemp("ws-run");
    char H[4096];
    if (!realpath(tu_bin("harness"), H)) snprintf(H, sizeof H, "%s", tu_bin("harness"));
    char *o = NULL;
    const char *suite = write_suite(tmp);
    int st = tu_run(&o, "'%s' run-suite '%s' --db '%s/r.db' --data-dir '%s/cache' --out-dir "
                    "'%s/cells' --keep-products", H, suite, tmp, tmp, tmp);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0);
    assert_true(tu_contains(o, "2 ok, 0 not ok"));
    free(o);

    /* the MS beside the store, made once */
    char pat[4300];
    glob_t g;
    snprintf(pat, sizeof pat, "%s/cache/*/vis.ms/table.dat", tmp);
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    globfree(&g);

    /* the wsclean attempt's metrics came from its stats record */
    char db[4200];
    snprintf(db, sizeof db, "%s/r.db", tmp);
    char *unit = db_text(db, "SELECT m.unit FROM metrics m JOIN attempts a ON a.id = "
                             "m.attempt_id JOIN cells c ON c.id = a.cell_id WHERE m.name = "
                             "'wall_time' AND c.params LIKE '%wsclean%'");
    assert_non_null(unit);
    assert_string_equal(unit, "s");
    free(unit);

    /* both imagers' planes (Stokes I, both imagers' default: WSClean's
     * -pol i names no pol in its files): every channel within 1e-2 */
    char a[4300];
    snprintf(pat, sizeof pat, "%s/cells/run-1/*/r0-*/dirty.fits", tmp);
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 1);
    snprintf(a, sizeof a, "%s", g.gl_pathv[0]);
    globfree(&g);
    snprintf(pat, sizeof pat, "%s/cells/run-1/*/r0-*/ws-000?-*image.fits", tmp);
    assert_int_equal(glob(pat, 0, NULL, &g), 0);
    assert_int_equal(g.gl_pathc, 2); /* 2 channels x I */
    ib_err e;
    ib_err_init(&e);
    hx_cmpimg_row *rows = NULL;
    size_t n = 0;
    int rc = hx_cmpimg_run(&e, a, (const char *const *)g.gl_pathv, (int)g.gl_pathc, 1.0, &rows,
                           &n);
    if (rc) fprintf(stderr, "%s\n", e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rows[i].stokes, 1);
        fprintf(stderr, "chan %d stokes %d: peak %g rms_rel %.3e max_rel %.3e\n", rows[i].chan,
                rows[i].stokes, rows[i].peak, rows[i].rms_rel, rows[i].max_rel);
        assert_true(rows[i].peak > 0);
        assert_true(rows[i].rms_rel <= 1e-2);
        /* the same pixel convention: the brightest pixel is the same pixel */
        assert_int_equal(rows[i].peak_a_x, rows[i].peak_b_x);
        assert_int_equal(rows[i].peak_a_y, rows[i].peak_b_y);
    }
    ib_free(rows);

    /* the command prints the same and honours --tol */
    char cmd[16384];
    size_t len = (size_t)snprintf(cmd, sizeof cmd, "'%s' compare-images '%s'", H, a);
    for (size_t i = 0; i < g.gl_pathc; i++)
        len += (size_t)snprintf(cmd + len, sizeof cmd - len, " '%s'", g.gl_pathv[i]);
    globfree(&g);
    st = tu_run(&o, "%s --tol 1e-2", cmd);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0);
    assert_true(tu_contains(o, "2 planes compared"));
    free(o);
    st = tu_run(&o, "%s --tol 0", cmd);
    assert_int_equal(st, 1);
    free(o);
    tu_rmtree(tmp);
    free(tmp);
}

static void test_run_suite_no_wsclean(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp("ws-none");
    char H[4096];
    if (!realpath(tu_bin("harness"), H)) snprintf(H, sizeof H, "%s", tu_bin("harness"));
    char *o = NULL;
    const char *suite = write_suite(tmp);
    /* a PATH without wsclean (the harness finds its own programs by path) */
    int st = tu_run(&o, "PATH='%s/nothing' '%s' run-suite '%s' --db '%s/r.db' --data-dir "
                    "'%s/cache' --out-dir '%s/cells'", tmp, H, suite, tmp, tmp, tmp);
    if (st) fprintf(stderr, "%s\n", o);
    assert_int_equal(st, 0); /* a skipped peer is not a failure */
    free(o);
    char db[4200];
    snprintf(db, sizeof db, "%s/r.db", tmp);
    char *s = db_text(db, "SELECT a.status || '|' || a.stderr_tail FROM attempts a JOIN cells c "
                          "ON c.id = a.cell_id WHERE c.params LIKE '%wsclean%'");
    assert_non_null(s);
    assert_string_equal(s, "skipped|skipped: wsclean not installed");
    free(s);
    s = db_text(db, "SELECT status FROM runs");
    assert_non_null(s);
    assert_string_equal(s, "complete");
    free(s);
    s = db_text(db, "SELECT count(*) FROM attempts WHERE status = 'ok'");
    assert_non_null(s);
    assert_string_equal(s, "1");
    free(s);
    tu_rmtree(tmp);
    free(tmp);
}

/* --stokes reaches WSClean as -pol of the same planes: i by default,
 * xx,yy when asked; corr: the store's correlations. */
static void test_stokes_pol(void **state)
{
    (void)state;
    char *tmp = tu_mkdtemp("wsstokes");
    assert_non_null(tmp);
    char store[600];
    snprintf(store, sizeof store, "%s/s", tmp);
    tu_store t = {.nant = 4, .ntime = 2, .nchan = 2, .npol = 2, .cell_arcsec = 0.5, .nx = 32};
    tu_src src = {1.0, 0, 0, 0};
    assert_int_equal(tu_make_store(store, &t, &src, 1), 0);
    ib_err e;
    ib_err_init(&e);
    wl_suite *s = parse("name: t\ndatasets: [alma-xc66]\nscale: 0.0001\n"
                        "axes:\n  imager: [wsclean]\n  stokes: [I, 'XX,YY', corr]\n", &e);
    assert_non_null(s);
    assert_int_equal(s->ncells, 3);
    static const char *const want[] = {"i", "xx,yy", "xx,yy"};
    for (size_t i = 0; i < s->ncells; i++) {
        hx_ws_plan plan;
        assert_int_equal(hx_ws_plan_cell(&e, &s->cells[i], store, &plan), 0);
        char st[32];
        wl_cell_text(&s->cells[i], IB_P_STOKES, st, sizeof st);
        print_message("  stokes %s -> -pol %s\n", st, plan.pol);
        assert_string_equal(plan.pol, want[i]);
    }
    wl_suite_destroy(s);
    tu_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_imager_axis),
        cmocka_unit_test(test_log_and_stats),
        cmocka_unit_test(test_run_suite_wsclean),
        cmocka_unit_test(test_run_suite_no_wsclean),
        cmocka_unit_test(test_stokes_pol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
