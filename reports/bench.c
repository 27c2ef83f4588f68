/*
 * bench.c: `harness bench` — the analysis half of `make bench`. The
 * measurements are an ordinary suite run (workloads/suites/bench.yaml,
 * repeats interleaved, recorded in SQLite); this reads that run back
 * (res_report_run_load) and prints what the imager issues ask for, each
 * ratio measured side by side in the one run, with a bootstrap 95%
 * interval from the repeats: per cell wall time, gridding rate per
 * thread, cube rate, scheduler time per task, spill; thread and rank
 * efficiency with the machine's ceiling; mosaic against standard cost per
 * sample; imbench against WSClean; serial against parallel writes and
 * the schedulers; chunk and row-chunk sweeps with their optimum.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXREP 64

typedef struct bcell {
    const rep_cell_data *c;
    json_t *params;       /* owned */
    char label[256];
    int nrep;
    double wall[MAXREP], grid_s[MAXREP], fft_s[MAXREP], samples[MAXREP];
    double grid_rate, cube_rate, sched_task, spill, threads, nodes;
} bcell;

/* The values of a metric or phase in attempt order, at most max. */
static int values(const rep_values *v, double *out, int max)
{
    int n = 0;
    for (size_t i = 0; v && i < v->n && n < max; i++) out[n++] = v->v[i];
    return n;
}

static double pnum(const json_t *p, const char *k, double dflt)
{
    json_t *v = json_object_get(p, k);
    return json_is_number(v) ? json_number_value(v) : json_is_true(v) ? 1 : dflt;
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
static void print_ratio(FILE *f, const char *what, const double *num, int nn, const double *den,
                        int nd, double scale, const char *target)
{
    rep_ci ci;
    if (nn < 1 || nd < 1) return;
    if (rep_boot_ratio_ci(NULL, num, (size_t)nn, den, (size_t)nd, 0.95, 2000, 7, &ci) != 0) {
        fprintf(f, "  %-58s  n/a\n", what);
        return;
    }
    fprintf(f, "  %-58s %6.3f  [%5.3f, %5.3f]%s%s\n", what, ci.est * scale, ci.lo * scale,
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
static void print_compute_ceiling(FILE *f, const bcell *a, const bcell *b)
{
    double wa[MAXREP], wb[MAXREP];
    int na = 0, nb = 0;
    for (int r = 0; r < a->nrep && r < MAXREP; r++) wa[na++] = a->grid_s[r] + a->fft_s[r];
    for (int r = 0; r < b->nrep && r < MAXREP; r++) wb[nb++] = b->grid_s[r] + b->fft_s[r];
    if (na < 1 || nb < 1) return;
    print_ratio(f, "    grid+FFT thread-seconds, parallel / serial", wb, nb, wa, na, 1.0, NULL);
    double m = rep_median_or_nan(wb, (size_t)nb) / rep_median_or_nan(wa, (size_t)na);
    if (m > 0 && isfinite(m))
        fprintf(f, "    %-56s %6.3f  (efficiency / this = our own share)\n",
                "machine ceiling for this split (1 / the above)", 1.0 / m);
}

/* Sweeps along key (chunks, row_chunks; dflt when not in the params):
 * groups of at least three cells that differ only in key, with runtime,
 * spill and the optimum. */
static void sweeps(FILE *f, bcell *cells, int n, const char *key, double dflt,
                   const char *title)
{
    int *done = ib_calloc((size_t)n + 1, sizeof(int));
    for (int i = 0; done && i < n; i++) {
        if (done[i]) continue;
        int members[256], nm = 0;
        members[nm++] = i;
        for (int j = i + 1; j < n && nm < 256; j++)
            if (!done[j] && differ_only_in(&cells[i], &cells[j], key)) members[nm++] = j;
        if (nm < 3) continue;
        int w = strlen(key) > 8 ? (int)strlen(key) : 8;
        fprintf(f, "\n  %s: %s\n  %*s %10s %12s\n", title, cells[i].label, w, key, "wall s",
                "spill MB");
        int best = members[0];
        for (int k = 0; k < nm; k++) {
            bcell *c = &cells[members[k]];
            done[members[k]] = 1;
            double t = rep_median_or_nan(c->wall, (size_t)c->nrep);
            if (t < rep_median_or_nan(cells[best].wall, (size_t)cells[best].nrep))
                best = members[k];
            fprintf(f, "  %*d %10.3f %12.1f\n", w, (int)pnum(c->params, key, dflt), t,
                    c->spill / 1e6);
        }
        fprintf(f, "  optimum: %d %s (%.3f s)\n", (int)pnum(cells[best].params, key, dflt), key,
                rep_median_or_nan(cells[best].wall, (size_t)cells[best].nrep));
    }
    ib_free(done);
}

/*
 * The recording machine's settings that move timings (runs.tuning), one
 * line; with a balloon's free page reporting on, a note: memory freed a
 * moment ago goes back to the host, and each process that touches it
 * again pays a host fault per page, which falls on every MPI rank's set-up.
 */
static void print_tuning(FILE *f, const char *tuning)
{
    json_t *t = tuning ? json_loads(tuning, 0, NULL) : NULL;
    if (!json_is_object(t)) {
        fprintf(f, "  machine settings: not recorded\n\n");
        json_decref(t);
        return;
    }
    char text[512];
    res_tuning_describe(t, text, sizeof text);
    fprintf(f, "  machine settings: %s", text);
    if (json_is_true(json_object_get(t, "free_page_reporting")))
        fprintf(f, "\n    note: this VM hands free memory back to its host; a process that "
                   "touches\n    memory freed a moment ago pays a host fault per page (the "
                   "ranks' set-up\n    and first chunk: README, \"Measured on this machine\")");
    fprintf(f, "\n\n");
    json_decref(t);
}

static double median_metric(const rep_cell_data *c, const char *name)
{
    return rep__vmedian(rep__metric(c, name));
}

static void load_cell(bcell *b, const rep_cell_data *c)
{
    b->c = c;
    rep_cell_label(c->params, REP_LABEL_SHORT, NULL, b->label, sizeof b->label);
    b->nrep = values(rep__metric(c, "wall_time"), b->wall, MAXREP);
    values(rep__phase(c, "grid"), b->grid_s, MAXREP);
    values(rep__phase(c, "fft"), b->fft_s, MAXREP);
    values(rep__metric(c, "samples_gridded"), b->samples, MAXREP);
    b->grid_rate = median_metric(c, "grid_rate");
    b->cube_rate = median_metric(c, "cube_rate");
    b->sched_task = median_metric(c, "sched_per_task");
    b->spill = median_metric(c, "spill_bytes");
    if (!isfinite(b->spill)) b->spill = 0;
    b->threads = pnum(b->params, "threads", 1);
    b->nodes = pnum(b->params, "nodes", 1);
}

/* The pairs of cells i, j that one comparison or another is about. */
static void pair_lines(FILE *f, bcell *a, bcell *b, int same)
{
    char what[200];
    if (a->threads == 1 && b->threads > 1 && differ_only_in(a, b, "threads")) {
        snprintf(what, sizeof what, "thread efficiency %d vs 1: %.36s", (int)b->threads, a->label);
        print_ratio(f, what, a->wall, a->nrep, b->wall, b->nrep, 1.0 / b->threads, ">= 0.9");
        print_compute_ceiling(f, a, b);
    }
    if (a->nodes == 1 && b->nodes > 1 && differ_only_in(a, b, "nodes")) {
        snprintf(what, sizeof what, "rank efficiency %d vs 1: %.38s", (int)b->nodes, a->label);
        print_ratio(f, what, a->wall, a->nrep, b->wall, b->nrep, 1.0 / b->nodes, ">= 0.85");
        print_compute_ceiling(f, a, b);
    }
    if (strcmp(pstr(a->params, "gridder", "standard"), "standard") == 0 &&
        strcmp(pstr(b->params, "gridder", ""), "mosaic") == 0 && differ_only_in(a, b, "gridder")) {
        /* cost per gridded sample: grid phase seconds / samples */
        double ca[MAXREP], cb[MAXREP];
        int na = 0, nb = 0;
        for (int r = 0; r < a->nrep && r < MAXREP; r++)
            if (a->samples[r] > 0) ca[na++] = a->grid_s[r] / a->samples[r];
        for (int r = 0; r < b->nrep && r < MAXREP; r++)
            if (b->samples[r] > 0) cb[nb++] = b->grid_s[r] / b->samples[r];
        snprintf(what, sizeof what, "mosaic / standard cost per sample: %.20s",
                 pstr(a->params, "dataset", "?"));
        print_ratio(f, what, cb, nb, ca, na, 1.0, NULL);
    }
    if (!json_object_get(a->params, "imager") &&
        strcmp(pstr(b->params, "imager", ""), "wsclean") == 0 && differ_only_in(a, b, "imager")) {
        snprintf(what, sizeof what, "imbench / WSClean wall time: %.30s",
                 pstr(a->params, "dataset", "?"));
        print_ratio(f, what, a->wall, a->nrep, b->wall, b->nrep, 1.0, "<= 0.25");
    }
    if (pnum(a->params, "serial_write", 0) == 0 && pnum(b->params, "serial_write", 0) > 0 &&
        differ_only_in(a, b, "serial_write")) {
        snprintf(what, sizeof what, "serial / parallel writes: %.34s", a->label);
        print_ratio(f, what, b->wall, b->nrep, a->wall, a->nrep, 1.0, NULL);
    }
    if (strcmp(pstr(a->params, "schedule", "static"), "static") == 0 && !same &&
        differ_only_in(a, b, "schedule")) {
        snprintf(what, sizeof what, "%s / static%s: %.30s", pstr(b->params, "schedule", "?"),
                 pnum(a->params, "serial_write", 0) > 0 ? " (serial writes)" : "",
                 pstr(a->params, "dataset", "?"));
        print_ratio(f, what, b->wall, b->nrep, a->wall, a->nrep, 1.0, NULL);
    }
}

/*
 * The per-support curve: groups of at least three cells that differ only
 * in support W, with the gridding rate per thread, the row update's
 * arithmetic at that rate (4 W^2 flops per sample: W rows of W complex
 * multiply-adds by a real tap) and its fraction of one core's FMA peak.
 */
static void support_curve(FILE *f, bcell *cells, int n, double peak)
{
    int *done = ib_calloc((size_t)n + 1, sizeof(int));
    for (int i = 0; done && i < n; i++) {
        if (done[i]) continue;
        int members[64], nm = 0;
        members[nm++] = i;
        for (int j = i + 1; j < n && nm < 64; j++)
            if (!done[j] && differ_only_in(&cells[i], &cells[j], "support")) members[nm++] = j;
        if (nm < 3) continue;
        fprintf(f, "\n  support curve (gridding, per thread): %s\n", cells[i].label);
        fprintf(f, "  %4s %14s %10s %12s\n", "W", "M samples/s", "GFLOP/s", "of FMA peak");
        for (int k = 0; k < nm; k++) {
            bcell *c = &cells[members[k]];
            done[members[k]] = 1;
            double W = pnum(c->params, "support", 7), gf = c->grid_rate * 4 * W * W / 1e9;
            fprintf(f, "  %4d %14.2f %10.1f", (int)W, c->grid_rate / 1e6, gf);
            if (peak > 0) fprintf(f, " %11.1f%%\n", 100 * gf / peak);
            else fprintf(f, " %12s\n", "-");
        }
        if (peak > 0)
            fprintf(f, "  FMA peak %.0f GFLOP/s, one core, measured by harness bench now\n", peak);
    }
    ib_free(done);
}

static void print_bench(FILE *f, const rep_run_data *run, const char *suite, const char *db,
                        bcell *cells, int n, double peak)
{
    fprintf(f, "bench: run %lld of '%s' in %s, %d cells\n\n", (long long)run->id, suite, db, n);
    print_tuning(f, run->tuning);
    fprintf(f, "  %-48s %8s %11s %11s %9s %10s\n", "cell", "wall s", "grid M/s/t", "cube M/s",
            "sched us", "spill MB");
    double best_rate = 0;
    for (int i = 0; i < n; i++) {
        bcell *c = &cells[i];
        if (c->grid_rate > best_rate && c->threads == 1 && c->nodes == 1 &&
            strcmp(pstr(c->params, "gridder", "standard"), "standard") == 0)
            best_rate = c->grid_rate;
        fprintf(f, "  %-48.48s %8.3f %11.2f %11.2f %9.2f %10.1f\n", c->label,
                rep_median_or_nan(c->wall, (size_t)c->nrep), c->grid_rate / 1e6,
                c->cube_rate / 1e6, c->sched_task * 1e6, c->spill / 1e6);
    }
    fprintf(f, "\n  ratios (median, bootstrap 95%% interval over repeats)\n");
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) pair_lines(f, &cells[i], &cells[j], i == j);
    sweeps(f, cells, n, "chunks", 0, "chunk sweep");
    sweeps(f, cells, n, "row_chunks", 1, "row-chunk sweep");
    support_curve(f, cells, n, peak);
    if (best_rate > 0)
        fprintf(f, "\n  gridding rate, 1 thread, standard: %.1f M samples/s (target >= 80)\n",
                best_rate / 1e6);
}

int rep_bench_print(ib_err *e, res_db *db, const rep_bench_opts *o)
{
    FILE *f = o->out ? o->out : stdout;
    const char *suite = o->suite && *o->suite ? o->suite : "bench";
    int64_t run_id = o->run;
    int rc = run_id > 0 ? 0 : res_report_latest_run(e, db, suite, &run_id);
    if (rc) return rc;
    rep_run_data run;
    rc = res_report_run_load(e, db, run_id, &run);
    bcell *cells = rc ? NULL : ib_calloc(run.ncells ? run.ncells : 1, sizeof *cells);
    if (!rc && !cells) rc = ib_error(e, IB_ENOMEM, "out of memory");
    int n = 0;
    for (size_t i = 0; !rc && i < run.ncells; i++) {
        const rep_cell_data *c = &run.cells[i];
        if (!c->ok) continue;
        bcell *b = &cells[n];
        b->params = json_loads(c->params, 0, NULL);
        if (!json_is_object(b->params)) {
            json_decref(b->params);
            continue;
        }
        load_cell(b, c);
        n++;
    }
    if (!rc) print_bench(f, &run, suite, res_path(db), cells, n, o->fma_peak_gflops);
    for (int i = 0; i < n; i++) json_decref(cells[i].params);
    ib_free(cells);
    res_report_run_release(&run);
    return rc;
}
