/*
 * test_report_sim: the report's simulated figures (reports/fig_sim.c)
 * from a database with made-up simulations stored through res_sim_store
 * beside a small run of measured cells. Checks: the validation's error is
 * (predicted - measured) / measured and flagged past 15%; a repeated
 * store is read once (the newest); simulated curves are dashed and keyed
 * "simulated", their titles say "simulated"; the study's figures sit
 * beside them with their core counts; the simulated task stream uses the
 * measured Gantt's code; no simulated figure without stored simulations;
 * with gnuplot, the figures render (PNG and SVG).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/rep_internal.h"
#include "reports/reports.h"
#include "results/results.h"
#include "tests/testutil.h"

#define CLOSE(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

#define CHECK_OK(expr, err)                               \
    do {                                                  \
        int rc_ = (expr);                                 \
        if (rc_) print_message("%s\n", (err).msg);        \
        assert_int_equal(rc_, 0);                         \
    } while (0)

static const char *srcdir(void)
{
    const char *d = getenv("IMBENCH_SRCDIR");
    return d && *d ? d : ".";
}

static int have(const char *prog)
{
    return tu_run(NULL, "command -v %s >/dev/null 2>&1", prog) == 0;
}

typedef struct fixture {
    char *dir;
    char db[4200];
    int64_t run;
    int64_t c11, c12, c21;  /* alma-xc66 1x1, 1x2, 2x1 */
    int64_t x2e3;           /* alma-x2e3 1x1: the chunk sweep's */
    int64_t s17, s51;       /* alma-x3be supports 17, 51 on 1x2 */
} fixture;

/* A measured cell with one successful attempt of wall time wall. */
static int64_t add_cell(fixture *fx, res_db *db, const char *dataset, int nodes, int threads,
                        int support, double wall)
{
    ib_err e;
    ib_err_init(&e);
    char hash[128];
    snprintf(hash, sizeof hash, "simfix-%s-n%d-t%d-w%d-0123456789abcdef", dataset, nodes, threads,
             support);
    json_t *p = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:f, s:i}", "dataset", dataset,
                          "nodes", nodes, "threads", threads, "chunks", 4, "support", support,
                          "gridder", "standard", "image", "256x256", "scale", 0.002, "seed", 1);
    int64_t cell;
    CHECK_OK(res_cell_put(&e, db, hash, p, &cell), e);
    json_decref(p);
    json_t *s = json_pack("{s:s, s:s, s:s, s:f}", "schema", "imbench-stats/1", "program", "imager",
                          "version", "0.1.0", "wall_seconds", wall);
    json_object_set_new(s, "params", json_pack("{s:s, s:i, s:i, s:i}", "gridder", "standard",
                                               "support", support, "threads", threads, "ranks",
                                               nodes));
    json_object_set_new(s, "phases", json_pack("[{s:s,s:f}]", "name", "grid", "wall_s", wall));
    json_object_set_new(s, "metrics", json_pack("[{s:s, s:f, s:s, s:s}]", "name", "wall_time",
                                                "value", wall, "unit", "s", "better", "lower"));
    res_attempt a = {.run_id = fx->run, .cell_id = cell, .repeat = 0, .status = RES_OK,
                     .started_at = "2026-01-01T00:00:00.000Z", .wall_s = wall};
    CHECK_OK(res_attempt_record(&e, db, &a, s, NULL, 0, NULL), e);
    json_decref(s);
    return cell;
}

static res_simulation sim(const char *purpose, const char *label, int64_t cell, int nodes,
                          int threads, double wall, double measured)
{
    res_simulation s;
    memset(&s, 0, sizeof s);
    s.purpose = purpose;
    s.label = label;
    s.cell_id = cell;
    s.platform = strcmp(purpose, "validate") ? "study-cluster" : "this-machine";
    s.platform_figures = "{}";
    s.nodes = nodes;
    s.threads = threads;
    s.schedule = "static";
    s.chunks = 128;
    s.channels = 7635;
    s.overhead_s = 1e-4;
    s.rows_scale = strcmp(purpose, "validate") ? 100 : 1;
    s.pixels_scale = 1;
    s.wall_s = wall;
    s.speedup = NAN;
    s.efficiency = NAN;
    s.measured_wall_s = measured;
    s.simgrid = "3.32";
    s.command = "test";
    return s;
}

/* The made-up simulations (see the opening comment). */
static void store_sims(const fixture *fx)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_EXISTING};
    CHECK_OK(res_open(&e, fx->db, &oo, &db), e);
    res_simulation v[64];
    size_t n = 0;
    /* validation: the 1x1 cell as itself (1.0 s measured), 1x2 +9.1%, 2x1 +33.3% */
    v[n++] = sim("validate", "simulated", fx->c11, 1, 1, 1.001, 1.0);
    v[n++] = sim("validate", "simulated", fx->c11, 1, 2, 0.60, 0.55);
    v[n++] = sim("validate", "simulated", fx->c11, 2, 1, 0.80, 0.60);
    /* the 2x1 prediction's simulated stream: 2 ranks, 3 tasks each */
    static res_task_event ev[6];
    for (int k = 0; k < 6; k++) {
        ev[k] = (res_task_event){k / 3, 0, k, k * 10, "", 0.25 * (k % 3), 0.25 * (k % 3) + 0.2};
        snprintf(ev[k].phase, sizeof ev[k].phase, "%s", k % 3 == 1 ? "grid" : "read");
    }
    v[2].ev = ev;
    v[2].nev = 6;
    /* the study's nodes: alma-xc66 at full size on 1-8 nodes x 16 */
    static const int nodes[] = {1, 2, 4, 8};
    static const double wall[] = {1000, 520, 290, 180};
    for (int k = 0; k < 4; k++)
        v[n++] = sim("study", RES_SIM_STUDY_NODES, fx->c11, nodes[k], 16, wall[k], -1);
    /* writes: parallel, serial (stagnating), Dask-like */
    static const double serial[] = {1000, 560, 450, 470};
    for (int k = 0; k < 4; k++) {
        v[n++] = sim("study", RES_SIM_STUDY_WRITES, fx->c11, nodes[k], 16, wall[k], -1);
        v[n] = sim("study", RES_SIM_STUDY_WRITES, fx->c11, nodes[k], 16, serial[k], -1);
        v[n++].serial_write = 1;
        v[n] = sim("study", RES_SIM_STUDY_WRITES, fx->c11, nodes[k], 16, wall[k] * 1.01, -1);
        v[n].schedule = "dynamic";
        v[n++].overhead_s = 0.1;
    }
    /* chunks with 100 ms per task, per thread, central, none */
    static const int chunks[] = {64, 512};
    for (int k = 0; k < 2; k++)
        for (int m = 0; m < 3; m++) {
            v[n] = sim("study", RES_SIM_STUDY_CHUNKS, fx->x2e3, 1, 16, 400 + k * 10 + m, -1);
            v[n].chunks = chunks[k];
            v[n].schedule = "dynamic";
            v[n].central = m == 1;
            v[n++].overhead_s = m == 2 ? 0 : 0.1;
        }
    /* support: 1 and 5 nodes, speedup 3.5 at 17, 4.0 at 51 (per thread) */
    int64_t sc[2] = {fx->s17, fx->s51};
    static const double sp[2] = {3.5, 4.0};
    for (int k = 0; k < 2; k++)
        for (int central = 0; central < 2; central++) {
            v[n] = sim("study", RES_SIM_STUDY_SUPPORT, sc[k], 1, 16, 500, -1);
            v[n].schedule = "dynamic";
            v[n++].central = central;
            v[n] = sim("study", RES_SIM_STUDY_SUPPORT, sc[k], 5, 16, 500 / (sp[k] + 0.1 * central),
                       -1);
            v[n].schedule = "dynamic";
            v[n++].central = central;
        }
    assert_true(n <= 64);
    CHECK_OK(res_sim_store(&e, db, v, n, NULL), e);
    /* the validation once more: read once, the newest */
    v[1].wall_s = 0.61;
    CHECK_OK(res_sim_store(&e, db, v, 3, NULL), e);
    res_close(db);
}

static void build(fixture *fx, int with_sims)
{
    memset(fx, 0, sizeof *fx);
    fx->dir = tu_mkdtemp("reportsim");
    assert_non_null(fx->dir);
    snprintf(fx->db, sizeof fx->db, "%s/results.db", fx->dir);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    CHECK_OK(res_open(&e, fx->db, NULL, &db), e);
    res_provenance p;
    memset(&p, 0, sizeof p);
    snprintf(p.host, sizeof p.host, "testhost");
    p.cores = 2;
    CHECK_OK(res_run_begin(&e, db, "simfix", "simfix.yaml", "abc", &p, &fx->run), e);
    fx->c11 = add_cell(fx, db, "alma-xc66", 1, 1, 7, 1.0);
    fx->c12 = add_cell(fx, db, "alma-xc66", 1, 2, 7, 0.55);
    fx->c21 = add_cell(fx, db, "alma-xc66", 2, 1, 7, 0.60);
    fx->x2e3 = add_cell(fx, db, "alma-x2e3", 1, 1, 7, 0.5);
    fx->s17 = add_cell(fx, db, "alma-x3be", 1, 2, 17, 2.0);
    fx->s51 = add_cell(fx, db, "alma-x3be", 1, 2, 51, 9.0);
    CHECK_OK(res_run_finish(&e, db, fx->run, "complete"), e);
    res_close(db);
    char yaml[4300], *o = NULL;
    snprintf(yaml, sizeof yaml, "%s/workloads/baselines/seed-study.yaml", srcdir());
    int st = tu_run(&o, "'%s' baselines import '%s' --db '%s'", tu_bin("harness"), yaml, fx->db);
    if (st) print_message("%s\n", o);
    assert_int_equal(st, 0);
    free(o);
    if (with_sims) store_sims(fx);
}

static void destroy(fixture *fx)
{
    const char *keep = getenv("IMBENCH_KEEP");
    if (keep && *keep == '1') print_message("kept %s\n", fx->dir);
    else tu_rmtree(fx->dir);
    free(fx->dir);
}

static void write_report(const fixture *fx, const char *out, const char *gnuplot)
{
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_READONLY};
    CHECK_OK(res_open(&e, fx->db, &oo, &db), e);
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.run_id = fx->run;
    o.out_dir = out;
    o.gnuplot = gnuplot;
    o.boot = 100;
    rep_report_info info;
    CHECK_OK(rep_report_write(&e, db, &o, &info), e);
    res_close(db);
}

static char *slurp_in(const char *dir, const char *name)
{
    char path[8800];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = tu_slurp(path, NULL);
    if (!s) print_message("cannot read %s\n", path);
    assert_non_null(s);
    return s;
}

/* Every plot line of a gnuplot script keyed "simulated: ..." is dashed
 * (dt 2), except the task stream's boxes and the validation's points;
 * returns how many such keys it found. */
static int simulated_keys_dashed(const char *gp)
{
    int n = 0;
    const char *p = gp;
    while ((p = strstr(p, "title 'simulated")) != NULL) {
        const char *line = p;
        while (line > gp && line[-1] != '\n') line--;
        char buf[1024];
        size_t len = (size_t)(p - line);
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), line);
        if (!strstr(buf, "dt 2")) print_message("not dashed: %s\n", buf);
        assert_non_null(strstr(buf, "dt 2"));
        n++;
        p++;
    }
    return n;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_sim_error_and_flag(void **state)
{
    (void)state;
    CLOSE(rep__sim_error(0.60, 0.55), 0.05 / 0.55, 1e-12);
    CLOSE(rep__sim_error(0.80, 0.60), 1.0 / 3, 1e-12);
    CLOSE(rep__sim_error(0.85, 1.0), -0.15, 1e-12);
    assert_true(isnan(rep__sim_error(1, 0)));
    assert_true(isnan(rep__sim_error(1, NAN)));
    assert_false(rep__sim_flagged(0.0909));
    assert_false(rep__sim_flagged(-0.15));
    assert_true(rep__sim_flagged(0.1501));
    assert_true(rep__sim_flagged(-0.30));
    assert_false(rep__sim_flagged(NAN));
}

static void test_sim_rows_and_validation(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, 1);
    ib_err e;
    ib_err_init(&e);
    res_db *db;
    res_open_opts oo = {.flags = RES_OPEN_READONLY};
    CHECK_OK(res_open(&e, fx.db, &oo, &db), e);
    res_sim_row *rows;
    size_t n;
    CHECK_OK(res_report_simulations(&e, db, fx.run, &rows, &n), e);
    /* 3 validate (stored twice, read once) + 4 nodes + 12 writes + 6 chunks + 8 support */
    assert_int_equal(n, 33);
    rep__simval *v;
    size_t nv;
    assert_int_equal(rep__sim_validation(rows, n, &v, &nv), 0);
    assert_int_equal(nv, 2);
    int flagged = 0;
    for (size_t i = 0; i < nv; i++) {
        CLOSE(v[i].base, 1.0, 1e-12);
        assert_string_equal(v[i].sim->dataset, "alma-xc66");
        if (v[i].sim->threads == 2) {
            CLOSE(v[i].predicted, 0.61, 1e-12); /* the newest store */
            CLOSE(v[i].err, 0.61 / 0.55 - 1, 1e-12);
            assert_false(v[i].flagged);
        } else {
            CLOSE(v[i].err, 0.80 / 0.60 - 1, 1e-12);
            assert_true(v[i].flagged);
            assert_int_equal(v[i].sim->nstream, 6);
        }
        flagged += v[i].flagged;
    }
    assert_int_equal(flagged, 1);
    ib_free(v);
    ib_free(rows);
    /* a run whose cells have no simulation has none */
    CHECK_OK(res_report_simulations(&e, db, fx.run + 100, &rows, &n), e);
    assert_int_equal(n, 0);
    ib_free(rows);
    res_task *t;
    size_t nt;
    int trunc;
    CHECK_OK(res_report_sim_tasks(&e, db, 3, 4, &t, &nt, &trunc), e);
    assert_int_equal(nt, 4);
    assert_int_equal(trunc, 1);
    ib_free(t);
    res_close(db);
    destroy(&fx);
}

static void test_report_draws_simulations(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, 1);
    char out[4300];
    snprintf(out, sizeof out, "%s/rep", fx.dir);
    int gp = have("gnuplot");
    write_report(&fx, out, gp ? NULL : "/none");
    /* 1-8 node curves beside the study's CASA and prototype times, dashed */
    char *s = slurp_in(out, "sim-runtime-alma-xc66.gp");
    assert_true(simulated_keys_dashed(s) >= 1);
    assert_non_null(strstr(s, "simulated: study-cluster, N x 16 threads, full size"));
    assert_non_null(strstr(s, "[simulated; the study''s figures"));
    assert_non_null(strstr(s, "set ytics ("));  /* a log axis over a decade: labelled ticks */
    free(s);
    s = slurp_in(out, "sim-runtime-alma-xc66.dat");
    assert_non_null(strstr(s, "\n8 16 180 "));
    assert_non_null(strstr(s, "CASA 6.2, 1 node, 15 MPI procs (study, read from plot)"));
    assert_non_null(strstr(s, "\n1 2350 "));
    free(s);
    s = slurp_in(out, "sim-speedup-alma-xc66.gp");
    assert_true(simulated_keys_dashed(s) >= 1);
    assert_non_null(strstr(s, "study: casa-6.2"));
    free(s);
    s = slurp_in(out, "sim-speedup-alma-xc66.dat");
    assert_non_null(strstr(s, "\n8 5.55555"));  /* 1000 / 180 */
    free(s);
    /* the study's effects, each beside the study's figure */
    s = slurp_in(out, "sim-study-writes.gp");
    assert_int_equal(simulated_keys_dashed(s), 3);
    assert_non_null(strstr(s, "serial writes through rank 0 (CASA-like)"));
    assert_non_null(strstr(s, "study: casa-6.2"));
    free(s);
    s = slurp_in(out, "sim-study-writes.dat");
    assert_non_null(strstr(s, "\n8 16 470 2.12765")); /* serial: 1000 / 470 */
    free(s);
    s = slurp_in(out, "sim-study-chunks.gp");
    assert_int_equal(simulated_keys_dashed(s), 3);
    assert_non_null(strstr(s, "study: prototype, 1 node x 16 threads (read from plot)"));
    free(s);
    s = slurp_in(out, "sim-study-chunks.dat");
    assert_non_null(strstr(s, "\n512 2280 "));
    free(s);
    s = slurp_in(out, "sim-study-support.dat");
    assert_non_null(strstr(s, "\n17 500 142.857143 3.5\n"));
    assert_non_null(strstr(s, "\n51 4.45 "));
    assert_non_null(strstr(s, "\n17 3.43 "));
    free(s);
    s = slurp_in(out, "sim-study-support.gp");
    assert_int_equal(simulated_keys_dashed(s), 2);
    free(s);
    /* the simulated task stream: the measured Gantt's code, labelled */
    s = slurp_in(out, "sim-gantt-36.gp");
    assert_non_null(strstr(s, "boxxyerror"));
    assert_non_null(strstr(s, "title 'simulated: grid'"));
    assert_non_null(strstr(s, "simulated task stream: cell"));
    free(s);
    s = slurp_in(out, "sim-gantt-36.dat");
    assert_non_null(strstr(s, "SIMULATED task stream"));
    free(s);
    /* validation: errors and the flag */
    s = slurp_in(out, "report.md");
    assert_non_null(strstr(s, "Simulation validated on this machine"));
    assert_non_null(strstr(s, "1 of 2 predictions within 15%, largest error +33.3%"));
    assert_non_null(strstr(s, "| +10.9% |"));
    assert_non_null(strstr(s, "| +33.3% |"));
    assert_int_equal(tu_count(s, "OFF BY MORE THAN 15%"), 1);
    assert_non_null(strstr(s, "The study's effects, reproduced by simulation"));
    free(s);
    s = slurp_in(out, "sim-validation.dat");
    assert_non_null(strstr(s, "0.6 0.8 0.333333 1 \"alma-xc66 2x1\""));
    free(s);
    if (gp) {
        static const char *const figs[] = {"sim-runtime-alma-xc66", "sim-speedup-alma-xc66",
                                           "sim-study-writes", "sim-study-chunks",
                                           "sim-study-support", "sim-gantt-36", "sim-validation"};
        for (size_t i = 0; i < sizeof figs / sizeof *figs; i++) {
            char name[200];
            snprintf(name, sizeof name, "%s.png", figs[i]);
            s = slurp_in(out, name);
            assert_int_equal(memcmp(s, "\x89PNG", 4), 0);
            free(s);
            snprintf(name, sizeof name, "%s.svg", figs[i]);
            s = slurp_in(out, name);
            assert_non_null(strstr(s, "simulated"));
            assert_non_null(strstr(s, "</svg>"));
            free(s);
        }
    }
    destroy(&fx);
}

static void test_report_without_simulations(void **state)
{
    (void)state;
    fixture fx;
    build(&fx, 0);
    char out[4300];
    snprintf(out, sizeof out, "%s/rep", fx.dir);
    write_report(&fx, out, "/none");
    DIR *d = opendir(out);
    assert_non_null(d);
    struct dirent *de;
    int sims = 0;
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, "sim-", 4) == 0) {
            print_message("unexpected %s\n", de->d_name);
            sims++;
        }
    closedir(d);
    assert_int_equal(sims, 0);
    char *s = slurp_in(out, "report.md");
    assert_non_null(strstr(s, "No validation stored for this run's cells"));
    assert_non_null(strstr(s, "no simulated figure is drawn"));
    assert_null(strstr(s, "The study's effects, reproduced by simulation"));
    free(s);
    destroy(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sim_error_and_flag),
        cmocka_unit_test(test_sim_rows_and_validation),
        cmocka_unit_test(test_report_draws_simulations),
        cmocka_unit_test(test_report_without_simulations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
