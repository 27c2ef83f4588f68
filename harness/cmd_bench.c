/*
 * cmd_bench.c: `harness bench` — the analysis half of `make bench`. The
 * measurements are an ordinary suite run (workloads/suites/bench.yaml,
 * repeats interleaved, recorded in SQLite); this command reads that run
 * back and prints what the imager issues ask for, each ratio measured
 * side by side in the one run, with a bootstrap 95% interval from the
 * repeats:
 *   - per cell: median wall time, gridding rate per thread, cube rate,
 *     phase split, scheduler time per task, spilled bytes;
 *   - thread efficiency: cells that differ only in threads (T1 / (k T_k));
 *   - node efficiency: cells that differ only in nodes (MPI ranks);
 *   - mosaic cost per sample relative to the standard gridder;
 *   - write modes and schedulers (serial vs parallel, static/dynamic/...);
 *   - chunk and row-chunk sweeps: runtime and spill per (row) chunk count,
 *     and the optimum;
 *   - imbench vs WSClean wall time on the same MeasurementSet.
 */
#include "harness/harness.h"
#include "reports/reports.h"
#include "results/results.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXREP 64

typedef struct bcell {
    int64_t id;
    json_t *params;       /* owned */
    char label[256];
    int nrep;
    double wall[MAXREP], grid_s[MAXREP], fft_s[MAXREP], samples[MAXREP];
    double grid_rate, cube_rate, sched_task, spill, threads, nodes;
} bcell;

/* The values of one metric (or, with phase set, one phase's wall seconds)
 * over the successful repeats of a cell in a run, in repeat order. */
static int load_values(sqlite3 *db, int64_t run, int64_t cell, const char *name, int phase,
                       double *out, int max)
{
    static const char *const sql[2] = {
        "SELECT m.value FROM metrics m JOIN attempts a ON m.attempt_id = a.id "
        "WHERE a.run_id = ? AND a.cell_id = ? AND a.status = 'ok' AND m.name = ? "
        "AND m.value IS NOT NULL ORDER BY a.repeat_index",
        "SELECT p.wall_s FROM phases p JOIN attempts a ON p.attempt_id = a.id "
        "WHERE a.run_id = ? AND a.cell_id = ? AND a.status = 'ok' AND p.phase = ? "
        "ORDER BY a.repeat_index"};
    sqlite3_stmt *st;
    int n = 0;
    if (sqlite3_prepare_v2(db, sql[phase != 0], -1, &st, NULL) != SQLITE_OK) return -1;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int64(st, 2, cell);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && n < max) out[n++] = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int load_metric(sqlite3 *db, int64_t run, int64_t cell, const char *name, double *out,
                       int max)
{
    return load_values(db, run, cell, name, 0, out, max);
}

static double median_of(const double *x, int n)
{
    double m = NAN;
    if (n > 0 && rep_median(NULL, x, (size_t)n, &m) != 0) m = NAN;
    return m;
}

static double pnum(const json_t *p, const char *k, double dflt)
{
    json_t *v = json_object_get(p, k);
    return json_is_number(v) ? json_number_value(v) : dflt;
}

static const char *pstr(const json_t *p, const char *k, const char *dflt)
{
    json_t *v = json_object_get(p, k);
    return json_is_string(v) ? json_string_value(v) : dflt;
}

/* Do a and b differ in key only (among the imager's parameters)? */
static int differ_only_in(const bcell *a, const bcell *b, const char *key)
{
    const char *k;
    json_t *v;
    int differs = 0;
    json_object_foreach(a->params, k, v) {
        if (strcmp(k, "dataset_key") == 0) continue;
        json_t *w = json_object_get(b->params, k);
        int same = w && json_equal(v, w);
        if (strcmp(k, key) == 0) differs = !same;
        else if (!same) return 0;
    }
    json_object_foreach(b->params, k, v) {
        if (json_object_get(a->params, k)) continue;
        if (strcmp(k, key) != 0) return 0;
        differs = 1; /* set in b only */
    }
    return differs;
}

/* Ratio of medians num/den times scale with a bootstrap 95% interval. */
static void print_ratio(const char *what, const double *num, int nn, const double *den, int nd,
                        double scale, const char *target)
{
    rep_ci ci;
    if (nn < 1 || nd < 1) return;
    if (rep_boot_ratio_ci(NULL, num, (size_t)nn, den, (size_t)nd, 0.95, 2000, 7, &ci) != 0) {
        printf("  %-58s  n/a\n", what);
        return;
    }
    printf("  %-58s %6.3f  [%5.3f, %5.3f]%s%s\n", what, ci.est * scale, ci.lo * scale,
           ci.hi * scale, target ? "  target " : "", target ? target : "");
}

/*
 * The machine's share of a parallel efficiency: the grid and FFT phases do
 * the same arithmetic on the same data whatever the split and send no
 * message, so their thread-seconds summed over threads and ranks (b, the
 * parallel cell) against one thread (a) measure how much slower each core
 * computes when both run (shared caches and memory bandwidth). Its inverse
 * is the efficiency a split with no overhead of ours could reach.
 */
static void print_compute_ceiling(const bcell *a, const bcell *b)
{
    double wa[MAXREP], wb[MAXREP];
    int na = 0, nb = 0;
    for (int r = 0; r < a->nrep && r < MAXREP; r++) wa[na++] = a->grid_s[r] + a->fft_s[r];
    for (int r = 0; r < b->nrep && r < MAXREP; r++) wb[nb++] = b->grid_s[r] + b->fft_s[r];
    if (na < 1 || nb < 1) return;
    print_ratio("    grid+FFT thread-seconds, parallel / serial", wb, nb, wa, na, 1.0, NULL);
    double m = median_of(wb, nb) / median_of(wa, na);
    if (m > 0 && isfinite(m))
        printf("    %-56s %6.3f  (efficiency / this = our own share)\n",
               "machine ceiling for this split (1 / the above)", 1.0 / m);
}

static void label_of(bcell *c)
{
    const json_t *p = c->params;
    char rows[24] = "";
    if (pnum(p, "row_chunks", 1) > 1) snprintf(rows, sizeof rows, " rc=%d", (int)pnum(p, "row_chunks", 1));
    snprintf(c->label, sizeof c->label, "%s %s W=%d n=%d t=%d ch=%d%s%s%s%s%s%s", pstr(p, "dataset", "?"),
             pstr(p, "gridder", "standard"), (int)pnum(p, "support", 7), (int)pnum(p, "nodes", 1),
             (int)pnum(p, "threads", 1), (int)pnum(p, "chunks", 0), rows,
             json_object_get(p, "schedule") ? " " : "", pstr(p, "schedule", ""),
             pnum(p, "serial_write", 0) > 0 ? " serial" : "", pnum(p, "fsync", 0) > 0 ? " fsync" : "",
             pnum(p, "mem_budget", 0) > 0 ? " budget" : "");
}

/* Sweeps along key (chunks, row_chunks; dflt when not in the params):
 * groups of at least three cells that differ only in key, with runtime,
 * spill and the optimum. */
static void sweeps(bcell *cells, int n, const char *key, double dflt, const char *title)
{
    int *done = calloc((size_t)n + 1, sizeof(int));
    for (int i = 0; done && i < n; i++) {
        if (done[i]) continue;
        int members[256], nm = 0;
        members[nm++] = i;
        for (int j = i + 1; j < n && nm < 256; j++)
            if (!done[j] && differ_only_in(&cells[i], &cells[j], key)) members[nm++] = j;
        if (nm < 3) continue;
        int w = strlen(key) > 8 ? (int)strlen(key) : 8;
        printf("\n  %s: %s\n  %*s %10s %12s\n", title, cells[i].label, w, key, "wall s",
               "spill MB");
        int best = members[0];
        for (int k = 0; k < nm; k++) {
            bcell *c = &cells[members[k]];
            done[members[k]] = 1;
            double t = median_of(c->wall, c->nrep);
            if (t < median_of(cells[best].wall, cells[best].nrep)) best = members[k];
            printf("  %*d %10.3f %12.1f\n", w, (int)pnum(c->params, key, dflt), t, c->spill / 1e6);
        }
        printf("  optimum: %d %s (%.3f s)\n", (int)pnum(cells[best].params, key, dflt), key,
               median_of(cells[best].wall, cells[best].nrep));
    }
    free(done);
}

/*
 * The recording machine's settings that move timings (runs.tuning), one
 * line; with a balloon's free page reporting on, a note: memory freed a
 * moment ago goes back to the host, and each process that touches it
 * again pays a host fault per page, which falls on every MPI rank's set-up.
 */
static void print_tuning(sqlite3 *db, int64_t run)
{
    sqlite3_stmt *st;
    json_t *t = NULL;
    if (sqlite3_prepare_v2(db, "SELECT tuning FROM runs WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, run);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT)
        t = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (!json_is_object(t)) {
        printf("  machine settings: not recorded\n\n");
        json_decref(t);
        return;
    }
    char text[512];
    res_tuning_describe(t, text, sizeof text);
    printf("  machine settings: %s", text);
    if (json_is_true(json_object_get(t, "free_page_reporting"))) {
        printf("\n    note: this VM hands free memory back to its host; a process that touches\n"
               "    memory freed a moment ago pays a host fault per page (the ranks' set-up\n"
               "    and first chunk: README, \"Measured on this machine\")");
    }
    printf("\n\n");
    json_decref(t);
}

int hx_cmd_bench(int argc, char **argv)
{
    const char *dbpath = RES_DEFAULT_DB, *suite = "bench";
    int64_t run = 0;
    int help = 0;
    ib_opt opts[] = {
        {"db", IB_OPT_STR, &dbpath, "FILE", "results database (default " RES_DEFAULT_DB ")"},
        {"run", IB_OPT_I64, &run, "ID", "run to analyse (default: the latest run of --suite)"},
        {"suite", IB_OPT_STR, &suite, "NAME", "suite name (default bench)"},
        {"help", IB_OPT_FLAG, &help, NULL, "this help"},
        {NULL, 0, NULL, NULL, NULL},
    };
    ib_err e;
    ib_err_init(&e);
    char *pos[64];
    int npos = 0;
    if (argc > 60) return hx_fail("bench", &(ib_err){IB_EINVAL, "too many arguments"});
    if (ib_parse_opts(&e, "harness bench", opts, argc, argv, pos, &npos)) return hx_fail("bench", &e);
    if (help) {
        printf("usage: harness bench [--db F] [--run ID]\n\nRatios from a run of "
               "workloads/suites/bench.yaml (see `make bench`).\n\noptions:\n");
        ib_print_opts(stdout, opts);
        return 0;
    }
    res_open_opts oo = {RES_OPEN_MUST_EXIST, 0};
    res_db *rdb;
    if (res_open(&e, dbpath, &oo, &rdb)) return hx_fail("bench", &e);
    sqlite3 *db = res_sqlite(rdb);
    sqlite3_stmt *st;
    if (run == 0) {
        sqlite3_prepare_v2(db, "SELECT max(id) FROM runs WHERE suite = ?", -1, &st, NULL);
        sqlite3_bind_text(st, 1, suite, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) run = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (run == 0) {
            res_close(rdb);
            ib_error(&e, IB_ENOTFOUND, "database '%s' has no run of suite '%s' (run `make bench`)",
                     dbpath, suite);
            return hx_fail("bench", &e);
        }
    }
    bcell *cells = NULL;
    int n = 0, cap = 0;
    sqlite3_prepare_v2(db,
                       "SELECT DISTINCT c.id, c.params FROM cells c JOIN attempts a ON a.cell_id = c.id "
                       "WHERE a.run_id = ? AND a.status = 'ok' ORDER BY c.id",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            bcell *nc = realloc(cells, sizeof *nc * (size_t)cap);
            if (!nc) break;
            cells = nc;
        }
        bcell *c = &cells[n];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        c->params = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
        if (!c->params) continue;
        n++;
    }
    sqlite3_finalize(st);
    printf("bench: run %lld of '%s' in %s, %d cells\n\n", (long long)run, suite, dbpath, n);
    print_tuning(db, run);
    printf("  %-48s %8s %11s %11s %9s %10s\n", "cell", "wall s", "grid M/s/t", "cube M/s",
           "sched us", "spill MB");
    double best_rate = 0;
    for (int i = 0; i < n; i++) {
        bcell *c = &cells[i];
        double v[MAXREP];
        label_of(c);
        c->nrep = load_metric(db, run, c->id, "wall_time", c->wall, MAXREP);
        load_values(db, run, c->id, "grid", 1, c->grid_s, MAXREP);
        load_values(db, run, c->id, "fft", 1, c->fft_s, MAXREP);
        load_metric(db, run, c->id, "samples_gridded", c->samples, MAXREP);
        int k = load_metric(db, run, c->id, "grid_rate", v, MAXREP);
        c->grid_rate = median_of(v, k);
        k = load_metric(db, run, c->id, "cube_rate", v, MAXREP);
        c->cube_rate = median_of(v, k);
        k = load_metric(db, run, c->id, "sched_per_task", v, MAXREP);
        c->sched_task = median_of(v, k);
        k = load_metric(db, run, c->id, "spill_bytes", v, MAXREP);
        c->spill = k > 0 ? median_of(v, k) : 0;
        c->threads = pnum(c->params, "threads", 1);
        c->nodes = pnum(c->params, "nodes", 1);
        if (c->grid_rate > best_rate && c->threads == 1 && c->nodes == 1 &&
            strcmp(pstr(c->params, "gridder", "standard"), "standard") == 0)
            best_rate = c->grid_rate;
        printf("  %-48.48s %8.3f %11.2f %11.2f %9.2f %10.1f\n", c->label,
               median_of(c->wall, c->nrep), c->grid_rate / 1e6, c->cube_rate / 1e6,
               c->sched_task * 1e6, c->spill / 1e6);
    }
    printf("\n  ratios (median, bootstrap 95%% interval over repeats)\n");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            bcell *a = &cells[i], *b = &cells[j];
            char what[200];
            if (a->threads == 1 && b->threads > 1 && differ_only_in(a, b, "threads")) {
                snprintf(what, sizeof what, "thread efficiency %d vs 1: %.36s", (int)b->threads,
                         a->label);
                print_ratio(what, a->wall, a->nrep, b->wall, b->nrep, 1.0 / b->threads, ">= 0.9");
                print_compute_ceiling(a, b);
            }
            if (a->nodes == 1 && b->nodes > 1 && differ_only_in(a, b, "nodes")) {
                snprintf(what, sizeof what, "rank efficiency %d vs 1: %.38s", (int)b->nodes,
                         a->label);
                print_ratio(what, a->wall, a->nrep, b->wall, b->nrep, 1.0 / b->nodes, ">= 0.85");
                print_compute_ceiling(a, b);
            }
            if (strcmp(pstr(a->params, "gridder", "standard"), "standard") == 0 &&
                strcmp(pstr(b->params, "gridder", ""), "mosaic") == 0 &&
                differ_only_in(a, b, "gridder")) {
                /* cost per gridded sample: grid phase seconds / samples */
                double ca[MAXREP], cb[MAXREP];
                int na = 0, nb = 0;
                for (int r = 0; r < a->nrep && r < MAXREP; r++)
                    if (a->samples[r] > 0) ca[na++] = a->grid_s[r] / a->samples[r];
                for (int r = 0; r < b->nrep && r < MAXREP; r++)
                    if (b->samples[r] > 0) cb[nb++] = b->grid_s[r] / b->samples[r];
                snprintf(what, sizeof what, "mosaic / standard cost per sample: %.20s",
                         pstr(a->params, "dataset", "?"));
                print_ratio(what, cb, nb, ca, na, 1.0, NULL);
            }
            if (!json_object_get(a->params, "imager") &&
                strcmp(pstr(b->params, "imager", ""), "wsclean") == 0 &&
                differ_only_in(a, b, "imager")) {
                snprintf(what, sizeof what, "imbench / WSClean wall time: %.30s",
                         pstr(a->params, "dataset", "?"));
                print_ratio(what, a->wall, a->nrep, b->wall, b->nrep, 1.0, "<= 0.25");
            }
            if (pnum(a->params, "serial_write", 0) == 0 && pnum(b->params, "serial_write", 0) > 0 &&
                differ_only_in(a, b, "serial_write")) {
                snprintf(what, sizeof what, "serial / parallel writes: %.34s", a->label);
                print_ratio(what, b->wall, b->nrep, a->wall, a->nrep, 1.0, NULL);
            }
            if (strcmp(pstr(a->params, "schedule", "static"), "static") == 0 && i != j &&
                differ_only_in(a, b, "schedule")) {
                snprintf(what, sizeof what, "%s / static%s: %.30s", pstr(b->params, "schedule", "?"),
                         pnum(a->params, "serial_write", 0) > 0 ? " (serial writes)" : "",
                         pstr(a->params, "dataset", "?"));
                print_ratio(what, b->wall, b->nrep, a->wall, a->nrep, 1.0, NULL);
            }
        }
    sweeps(cells, n, "chunks", 0, "chunk sweep");
    sweeps(cells, n, "row_chunks", 1, "row-chunk sweep");
    if (best_rate > 0)
        printf("\n  gridding rate, 1 thread, standard: %.1f M samples/s (target >= 30)\n",
               best_rate / 1e6);
    for (int i = 0; i < n; i++) json_decref(cells[i].params);
    free(cells);
    res_close(rdb);
    return 0;
}
