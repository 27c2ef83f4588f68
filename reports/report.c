/*
 * report.c: `harness report` — one run of the results database turned into
 * a directory with index.html (self-contained), report.md and, for every
 * figure, its data, its gnuplot script, a PNG and an SVG. Each figure is
 * made only when the run holds its data (a sweep along nodes, chunks or
 * support, phase times, communication counters, task events); error bars
 * always come from the repeats (median with min/max, or bootstrap CIs).
 * Baselines are drawn normalised to each system's own one-node time, and
 * everything extrapolated is labelled "model".
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLOT_SERIES 6
#define MAX_GANTT_TASKS 50000

typedef struct ctx {
    ib_err *e;
    res_db *db;
    const rep_report_opts *o;
    rep_run_data run;
    rep__doc head, body;        /* head: summary and warnings; body: the rest */
    rep__plotter plot;
    char dir[4096];
    rep_amdahl_opts ao;
    rep__sb warn;               /* report-made warnings, one per line */
    size_t nfigs;
    size_t nwarn;               /* items in the warnings section */
} ctx;

static void extra_warn(ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void extra_warn(ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(&c->warn, fmt, ap);
    va_end(ap);
    rep__sb_puts(&c->warn, "\n");
}

void rep_report_opts_init(rep_report_opts *o)
{
    memset(o, 0, sizeof *o);
    o->study_nodes = 8;
    o->boot = 1000;
    o->seed = 1;
}

/* ---- small helpers -------------------------------------------------- */

/* A gnuplot single-quoted string: ' doubled. */
static void gpq(rep__sb *b, const char *s)
{
    rep__sb_puts(b, "'");
    for (; *s; s++) rep__sb_printf(b, *s == '\'' ? "''" : "%c", *s);
    rep__sb_puts(b, "'");
}

typedef struct cstat {
    double med, lo, hi;
    size_t n;
} cstat;

static int cstat_of(const rep_values *v, cstat *s)
{
    s->med = s->lo = s->hi = NAN;
    s->n = 0;
    if (!v || !v->n) return -1;
    rep_summary sm;
    if (rep_summarize(NULL, v->v, v->n, &sm)) return -1;
    s->med = sm.median;
    s->lo = sm.min;
    s->hi = sm.max;
    s->n = sm.n;
    return 0;
}

/* Write a data file and a figure; adds the figure to the body. */
static int figure(ctx *c, const char *name, const char *title, const char *caption,
                  const char *datafiles, const char *body)
{
    int r = rep__plot(c->e, &c->plot, name, body);
    if (r < 0) return r;
    rep__doc_fig(&c->body, name, title, caption, datafiles, r == 1);
    c->nfigs++;
    return 0;
}

static int data_file(ctx *c, const char *name, rep__sb *b)
{
    if (b->oom) return ib_error(c->e, IB_ENOMEM, "out of memory writing '%s'", name);
    return rep__write_file(c->e, c->dir, name, rep__sb_str(b));
}

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};

/* ---- provenance, machine, cells ----------------------------------------- */

static void kv(rep__doc *d, size_t t, const char *k, const char *v)
{
    rep__doc_cell(d, t, "%s", k);
    rep__doc_cell(d, t, "%s", v && *v ? v : "(not recorded)");
}

/* runs.tuning in words (res_tuning_describe), the text itself if it is not
 * a JSON object, NULL when not recorded. */
static const char *tuning_text(const char *json, char *buf, size_t n)
{
    if (!json) return NULL;
    json_t *t = json_loads(json, 0, NULL);
    int ok = json_is_object(t);
    if (ok) res_tuning_describe(t, buf, n);
    json_decref(t);
    return ok ? buf : json;
}

static void provenance(ctx *c)
{
    rep_run_data *r = &c->run;
    rep__doc *d = &c->body;
    rep__doc_head(d, 2, "provenance", "Provenance of the run");
    static const char *const h[] = {"field", "value"};
    size_t t = rep__doc_table(d, "prov", "run", 2, h);
    char buf[256];
    snprintf(buf, sizeof buf, "%lld", (long long)r->id);
    kv(d, t, "run", buf);
    kv(d, t, "suite", r->suite);
    kv(d, t, "suite file", r->suite_file);
    kv(d, t, "suite hash", r->suite_hash);
    kv(d, t, "status", r->status);
    kv(d, t, "started", r->started);
    kv(d, t, "ended", r->ended);
    kv(d, t, "command", r->command);
    snprintf(buf, sizeof buf, "%s%s", r->git_commit ? r->git_commit : "",
             r->git_dirty == 1 ? " (dirty: uncommitted changes)" : r->git_dirty == 0 ? " (clean)" : "");
    kv(d, t, "git commit", r->git_commit ? buf : NULL);
    kv(d, t, "compiler", r->compiler);
    kv(d, t, "flags", r->cflags);
    kv(d, t, "libraries", r->libs);
    kv(d, t, "environment", r->env);
    t = rep__doc_table(d, "machine", "machine", 2, h);
    kv(d, t, "host", r->host);
    kv(d, t, "CPU", r->cpu);
    if (r->cores > 0) snprintf(buf, sizeof buf, "%d", r->cores);
    kv(d, t, "logical CPUs", r->cores > 0 ? buf : NULL);
    if (r->mem_bytes > 0) rep__fmt(buf, sizeof buf, r->mem_bytes, "bytes");
    kv(d, t, "memory", r->mem_bytes > 0 ? buf : NULL);
    kv(d, t, "kernel", r->kernel);
    char tun[512];
    kv(d, t, "settings that move timings", tuning_text(r->tuning, tun, sizeof tun));
}

static void metric_cell(rep__doc *d, size_t t, const rep_cell_data *cl, const char *name)
{
    const rep_values *v = rep__metric(cl, name);
    char buf[64];
    rep__fmt(buf, sizeof buf, rep__vmedian(v), v ? v->unit : NULL);
    rep__doc_cell(d, t, "%s", buf);
}

static void cells_table(ctx *c)
{
    rep__doc *d = &c->body;
    rep__doc_head(d, 2, "cells", "Cells");
    rep__doc_para(d, "One row per cell of the run. Wall time: median over the successful "
                     "repeats, their min-max range, and the robust spread MAD*1.4826/median. "
                     "Other columns are medians. A dash: not recorded.");
    static const char *const h[] = {"cell", "hash", "dataset", "gridder", "nodes", "threads",
                                    "chunks", "support", "ok/attempts", "wall median",
                                    "wall min-max", "spread", "grid rate", "peak RSS",
                                    "spilled", "comm bytes"};
    size_t t = rep__doc_table(d, "cells", "cells of the run", 16, h);
    for (size_t i = 0; i < c->run.ncells; i++) {
        const rep_cell_data *cl = &c->run.cells[i];
        rep__doc_cell(d, t, "%lld", (long long)cl->id);
        rep__doc_cell(d, t, "%.12s", cl->hash);
        rep__doc_cell(d, t, "%s", cl->dataset);
        rep__doc_cell(d, t, "%s", cl->gridder[0] ? cl->gridder : "-");
        rep__doc_cell(d, t, "%d", cl->nodes);
        rep__doc_cell(d, t, "%d", cl->threads);
        rep__doc_cell(d, t, "%d", cl->chunks);
        rep__doc_cell(d, t, "%d", cl->support);
        rep__doc_cell(d, t, "%zu/%zu", cl->ok, cl->attempts);
        const rep_values *w = rep__metric(cl, "wall_time");
        rep_summary sm;
        char a[64], b[64], s[64];
        if (w && rep_summarize(NULL, w->v, w->n, &sm) == 0) {
            rep__fmt(a, sizeof a, sm.median, "s");
            rep__fmt(b, sizeof b, sm.min, NULL);
            rep__fmt(s, sizeof s, sm.max, "s");
            rep__doc_cell(d, t, "%s", a);
            rep__doc_cell(d, t, "%s-%s", b, s);
            if (sm.median > 0 && sm.n > 1)
                rep__doc_cell(d, t, "%.1f%%", 100.0 * 1.4826 * sm.mad / sm.median);
            else
                rep__doc_cell(d, t, "-");
        } else {
            rep__doc_cell(d, t, "-");
            rep__doc_cell(d, t, "-");
            rep__doc_cell(d, t, "-");
        }
        metric_cell(d, t, cl, "grid_rate");
        metric_cell(d, t, cl, "peak_rss");
        metric_cell(d, t, cl, "spill_bytes");
        metric_cell(d, t, cl, "comm_bytes");
    }
}

/* ---- scaling along nodes ---------------------------------------------------- */

/* Speedup of point i of a series against its first point, with the
 * bootstrap CI of the ratio of medians. */
static int speedup_ci(ctx *c, const rep__series *s, size_t i, rep_ci *ci)
{
    const rep_values *b = rep__metric(&c->run.cells[s->cell[0]], "wall_time");
    const rep_values *v = rep__metric(&c->run.cells[s->cell[i]], "wall_time");
    if (!b || !v) return -1;
    return rep_boot_ratio_ci(NULL, b->v, b->n, v->v, v->n, 0.95, c->o->boot,
                             c->o->seed + (uint64_t)i, ci);
}

static int scaling_figures(ctx *c, const char *ds, const char *slug, rep__series *s, size_t ns,
                           const rep__bcurve *bc, size_t nbc)
{
    size_t np = ns < MAX_PLOT_SERIES ? ns : MAX_PLOT_SERIES;
    char name[256], file[300], bfile[300];
    rep__sb rt = {0}, sp = {0}, ef = {0}, bl = {0};
    double xmin = 1e300, xmax = 0;
    for (size_t k = 0; k < ns; k++) {
        const char *hdr = "# nodes  %s\n";
        rep__sb_printf(&rt, "# series %zu: %s\n", k, s[k].label);
        rep__sb_printf(&rt, hdr, "median_s  min_s  max_s  repeats");
        rep__sb_printf(&sp, "# series %zu: %s (speedup against %g nodes)\n", k, s[k].label,
                       s[k].x[0]);
        rep__sb_printf(&sp, hdr, "speedup  ci95_lo  ci95_hi  repeats");
        rep__sb_printf(&ef, "# series %zu: %s (efficiency against %g nodes)\n", k, s[k].label,
                       s[k].x[0]);
        rep__sb_printf(&ef, hdr, "efficiency  ci95_lo  ci95_hi  repeats");
        for (size_t i = 0; i < s[k].n; i++) {
            const rep_cell_data *cl = &c->run.cells[s[k].cell[i]];
            cstat st;
            if (cstat_of(rep__metric(cl, "wall_time"), &st)) continue;
            double x = s[k].x[i], rel = x / s[k].x[0];
            xmin = x < xmin ? x : xmin;
            xmax = x > xmax ? x : xmax;
            rep__sb_printf(&rt, "%g %.9g %.9g %.9g %zu\n", x, st.med, st.lo, st.hi, st.n);
            rep_ci ci;
            if (speedup_ci(c, &s[k], i, &ci) == 0) {
                rep__sb_printf(&sp, "%g %.9g %.9g %.9g %zu\n", x, ci.est, ci.lo, ci.hi, st.n);
                rep__sb_printf(&ef, "%g %.9g %.9g %.9g %zu\n", x, ci.est / rel, ci.lo / rel,
                               ci.hi / rel, st.n);
            }
        }
        rep__sb_puts(&rt, "\n\n");
        rep__sb_puts(&sp, "\n\n");
        rep__sb_puts(&ef, "\n\n");
    }
    /* baselines: one block per curve, bands as two-point blocks */
    size_t nbl = 0;
    int has_band[16] = {0};
    int has_curve[16] = {0};
    for (size_t k = 0; k < nbc && k < 8; k++) {
        if (bc[k].n >= 2) { /* a lone one-node point says nothing about scaling */
            has_curve[k] = 1;
            rep__sb_printf(&bl, "# block %zu: %s (%s, %s): speedup T(1)/T(n) normalised to its "
                                "own one-node time %g s\n# nodes  speedup  "
                                "nodes_inferred_from_threads\n",
                           nbl++, bc[k].system, bc[k].source, bc[k].label, bc[k].t1);
            for (size_t i = 0; i < bc[k].n; i++)
                rep__sb_printf(&bl, "%g %.9g %d\n", bc[k].nodes[i], bc[k].speedup[i],
                               bc[k].approx_nodes[i]);
            rep__sb_puts(&bl, "\n\n");
        }
        if (!isnan(bc[k].band_lo)) {
            has_band[k] = 1;
            rep__sb_printf(&bl, "# block %zu: %s (%s) range over a node range the source does "
                                "not resolve: speedup low high\n",
                           nbl++, bc[k].system, bc[k].source);
            rep__sb_printf(&bl, "%g %.9g %.9g\n%g %.9g %.9g\n\n\n", xmin, bc[k].band_lo,
                           bc[k].band_hi, xmax, bc[k].band_lo, bc[k].band_hi);
        }
    }
    int rc = 0;
    snprintf(file, sizeof file, "runtime-%s.dat", slug);
    rc = data_file(c, file, &rt);
    snprintf(file, sizeof file, "speedup-%s.dat", slug);
    if (!rc) rc = data_file(c, file, &sp);
    snprintf(file, sizeof file, "efficiency-%s.dat", slug);
    if (!rc) rc = data_file(c, file, &ef);
    snprintf(bfile, sizeof bfile, "baselines-%s.dat", slug);
    if (!rc && nbc) rc = data_file(c, bfile, &bl);
    rep__sb_release(&rt);
    rep__sb_release(&sp);
    rep__sb_release(&ef);
    rep__sb_release(&bl);
    if (rc) return rc;

    /* runtime */
    const rep_values *w0 = rep__metric(&c->run.cells[s[0].cell[0]], "wall_time");
    double t0 = rep__vmedian(w0), n0 = s[0].x[0];
    rep__sb g = {0};
    rep__sb_printf(&g, "set title ");
    char title[512];
    snprintf(title, sizeof title, "%s: runtime vs nodes", ds);
    gpq(&g, title);
    rep__sb_printf(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel 'wall time (s): median, "
                       "min-max of repeats'\nset logscale x 2\nset logscale y\nset grid\n"
                       "set key below Left reverse\nset autoscale yfix\n"
                       "set offsets graph 0.04, graph 0.04, graph 0.04, graph 0.04\nplot ");
    snprintf(file, sizeof file, "runtime-%s.dat", slug);
    for (size_t k = 0; k < np; k++) {
        rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '%s' "
                           "title ",
                       k ? ", \\\n     " : "", file, k, palette[k % 8]);
        gpq(&g, s[k].label);
    }
    rep__sb_printf(&g, ", \\\n     %.9g*%g/x with lines dt 2 lc rgb 'gray40' title 'ideal "
                       "(first series)'\n",
                   t0, n0);
    snprintf(name, sizeof name, "runtime-%s", slug);
    char cap[1024];
    snprintf(cap, sizeof cap,
             "Wall time against nodes for each series of cells that differ only in node count "
             "(%zu series%s). Points: median of the repeats; bars: min-max. Dashed: ideal "
             "scaling T(n0) n0/n of the first series.",
             ns, ns > np ? ", the first 6 drawn; all are in the data file" : "");
    if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    rep__sb_release(&g);
    if (rc) return rc;

    /* speedup and efficiency */
    for (int eff = 0; eff < 2 && !rc; eff++) {
        rep__sb_printf(&g, "set title ");
        snprintf(title, sizeof title, "%s: %s vs nodes", ds,
                 eff ? "parallel efficiency" : "speedup");
        gpq(&g, title);
        rep__sb_printf(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel '%s'\nset logscale x 2\n"
                           "%sset grid\nset key below Left reverse\nset autoscale yfix\n"
                           "set offsets graph 0.04, "
                           "graph 0.04, graph 0.04, graph 0.04\nplot ",
                       eff ? "efficiency S(n) n0/n: 95% bootstrap CI"
                           : "speedup T(n0)/T(n): 95% bootstrap CI",
                       eff ? "set yrange [0:*]\n" : "set logscale y 2\n");
        snprintf(file, sizeof file, "%s-%s.dat", eff ? "efficiency" : "speedup", slug);
        for (size_t k = 0; k < np; k++) {
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, palette[k % 8]);
            gpq(&g, s[k].label);
        }
        if (eff) rep__sb_puts(&g, ", \\\n     1 with lines dt 2 lc rgb 'gray40' title 'ideal'");
        else rep__sb_printf(&g, ", \\\n     x/%g with lines dt 2 lc rgb 'gray40' title 'ideal'", n0);
        size_t blk = 0;
        for (size_t k = 0; k < nbc && k < 8; k++) {
            char t[256];
            if (has_curve[k]) {
                snprintf(t, sizeof t, "%s (%s, %s), over its own 1-node time%s",
                         bc[k].system, bc[k].source, bc[k].label,
                         bc[k].approx_nodes[bc[k].n - 1] ? "; nodes inferred from threads" : "");
                rep__sb_printf(&g, ", \\\n     '%s' index %zu using 1:%s with linespoints "
                                   "dt 4 lw 2 pt 5 lc rgb '%s' title ",
                               bfile, blk++, eff ? "($2/$1)" : "2", palette[(np + k) % 8]);
                gpq(&g, t);
            }
            if (has_band[k]) {
                snprintf(t, sizeof t, "%s (%s) recorded range, nodes not resolved",
                         bc[k].system, bc[k].source);
                rep__sb_printf(&g, ", \\\n     '%s' index %zu using 1:%s with filledcurves "
                                   "fs transparent solid 0.15 lc rgb '%s' title ",
                               bfile, blk++, eff ? "($2/$1):($3/$1)" : "2:3",
                               palette[(np + k) % 8]);
                gpq(&g, t);
            }
        }
        rep__sb_puts(&g, "\n");
        snprintf(name, sizeof name, "%s-%s", eff ? "efficiency" : "speedup", slug);
        char files[700];
        snprintf(files, sizeof files, "%s%s%s", file, nbc ? " " : "", nbc ? bfile : "");
        snprintf(cap, sizeof cap,
                 "%s against the smallest node count n0 of each series; bars: 95%% bootstrap "
                 "CI of the ratio of medians over the repeats. Dashed: ideal.%s",
                 eff ? "Parallel efficiency S(n) n0/n" : "Speedup T(n0)/T(n)",
                 nbc ? " Baseline curves are each system's own T(1)/T(n) (normalised to its "
                       "own one-node time, on its own machine and data size): compare shapes, "
                       "not absolute speed."
                     : " No baseline with a one-node time is recorded for this dataset.");
        if (!g.oom) rc = figure(c, name, title, cap, files, rep__sb_str(&g));
        rep__sb_release(&g);
    }
    return rc;
}

/* ---- phases and communication (best node series) ------------------------ */

static const char *phase_colour(const char *p)
{
    static const struct { const char *name, *rgb; } tab[] = {
        {"grid", "#1f77b4"},  {"fft", "#ff7f0e"},    {"read", "#2ca02c"}, {"weight", "#bcbd22"},
        {"correct", "#9467bd"}, {"write", "#8c564b"}, {"comm", "#d62728"}, {"spill", "#000000"},
        {"idle", "#c7c7c7"},  {"kernel", "#17becf"}, {"sched", "#e377c2"}, {"wait", "#dddddd"},
        {"other", "#7f7f7f"}};
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (strcmp(tab[i].name, p) == 0) return tab[i].rgb;
    return "#555555";
}

static const char *const phase_order[] = {"read", "weight", "kernel", "grid", "fft", "correct",
                                          "write", "comm", "spill", "sched", "wait", "idle",
                                          "other", NULL};

static int phase_figure(ctx *c, const char *ds, const char *slug, const rep__series *s)
{
    /* phases present in the series, canonical order first */
    const char *names[64];
    size_t nn = 0;
    for (int k = 0; phase_order[k]; k++)
        for (size_t i = 0; i < s->n; i++)
            if (rep__phase(&c->run.cells[s->cell[i]], phase_order[k])) {
                names[nn++] = phase_order[k];
                break;
            }
    for (size_t i = 0; i < s->n && nn < 64; i++) {
        const rep_cell_data *cl = &c->run.cells[s->cell[i]];
        for (size_t p = 0; p < cl->nphases && nn < 64; p++) {
            size_t q = 0;
            while (q < nn && strcmp(names[q], cl->phases[p].name) != 0) q++;
            if (q == nn) names[nn++] = cl->phases[p].name;
        }
    }
    if (!nn) return 0;
    rep__sb d = {0}, g = {0};
    rep__sb_printf(&d, "# %s, series: %s\n# share of the summed thread time per phase (median "
                       "per phase over the repeats, normalised to their sum)\nnodes",
                   ds, s->label);
    for (size_t q = 0; q < nn; q++) rep__sb_printf(&d, " %s", names[q]);
    rep__sb_puts(&d, "\n");
    size_t rows = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rep_cell_data *cl = &c->run.cells[s->cell[i]];
        double med[64], sum = 0;
        for (size_t q = 0; q < nn; q++) {
            med[q] = rep__vmedian(rep__phase(cl, names[q]));
            if (!isfinite(med[q]) || med[q] < 0) med[q] = 0;
            sum += med[q];
        }
        if (!(sum > 0)) continue;
        rows++;
        rep__sb_printf(&d, "%g", s->x[i]);
        for (size_t q = 0; q < nn; q++) rep__sb_printf(&d, " %.6f", med[q] / sum);
        rep__sb_puts(&d, "\n");
    }
    char file[300], name[256], title[300];
    snprintf(file, sizeof file, "phases-%s.dat", slug);
    snprintf(name, sizeof name, "phases-%s", slug);
    snprintf(title, sizeof title, "%s: share of time per phase vs nodes", ds);
    int rc = rows ? data_file(c, file, &d) : 0;
    if (!rc && rows) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_puts(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel 'share of thread time'\n"
                         "set style data histograms\nset style histogram rowstacked\n"
                         "set style fill solid 0.85 border -1\nset boxwidth 0.7\n"
                         "set yrange [0:1]\nset key below Left reverse\nset grid ytics\nplot ");
        for (size_t q = 0; q < nn; q++)
            rep__sb_printf(&g, "%s'%s' using %zu%s lc rgb '%s' title columnhead",
                           q ? ", \\\n     " : "", file, q + 2, q ? "" : ":xtic(1)",
                           phase_colour(names[q]));
        rep__sb_puts(&g, "\n");
        char cap[512];
        snprintf(cap, sizeof cap,
                 "Stacked share of the summed thread time per phase at each node count "
                 "(series: %s). Each phase is the median over the repeats; shares are "
                 "normalised to the sum of those medians.",
                 s->label);
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&d);
    rep__sb_release(&g);
    return rc;
}

static int comm_figure(ctx *c, const char *ds, const char *slug, const rep__series *s)
{
    int any = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rep_cell_data *cl = &c->run.cells[s->cell[i]];
        any |= rep__metric(cl, "comm_bytes") != NULL || rep__metric(cl, "comm_time") != NULL;
    }
    if (!any) return 0;
    rep__sb d = {0}, g = {0};
    rep__sb_printf(&d, "# %s, series: %s\n# nodes  bytes_median  bytes_min  bytes_max  "
                       "time_median_s  time_min_s  time_max_s  messages_median\n",
                   ds, s->label);
    for (size_t i = 0; i < s->n; i++) {
        const rep_cell_data *cl = &c->run.cells[s->cell[i]];
        cstat b, t;
        cstat_of(rep__metric(cl, "comm_bytes"), &b);
        cstat_of(rep__metric(cl, "comm_time"), &t);
        double m = rep__vmedian(rep__metric(cl, "comm_messages"));
        if (!b.n && !t.n) continue;
        rep__sb_printf(&d, "%g %.9g %.9g %.9g %.9g %.9g %.9g %.9g\n", s->x[i],
                       b.n ? b.med : 0, b.n ? b.lo : 0, b.n ? b.hi : 0, t.n ? t.med : 0,
                       t.n ? t.lo : 0, t.n ? t.hi : 0, isfinite(m) ? m : 0);
    }
    char file[300], name[256], title[300];
    snprintf(file, sizeof file, "comm-%s.dat", slug);
    snprintf(name, sizeof name, "comm-%s", slug);
    snprintf(title, sizeof title, "%s: communication vs nodes", ds);
    int rc = data_file(c, file, &d);
    if (!rc) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_printf(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel 'bytes sent (median, "
                           "min-max)'\nset y2label 'communication time (s)'\nset ytics nomirror\n"
                           "set y2tics\nset logscale x 2\nset grid\nset key top left\n"
                           "set offsets graph 0.04, graph 0.04, graph 0.04, graph 0.04\n"
                           "plot '%s' using 1:2:3:4 with yerrorlines lw 2 pt 7 lc rgb '%s' title "
                           "'bytes sent', \\\n     '' using 1:5:6:7 axes x1y2 with yerrorlines "
                           "lw 2 pt 5 dt 2 lc rgb '%s' title 'time (s, right axis)'\n",
                       file, palette[0], palette[1]);
        char cap[512];
        snprintf(cap, sizeof cap,
                 "Bytes sent between ranks (left) and time spent communicating (right) per "
                 "node count, series %s; median with min-max over the repeats.",
                 s->label);
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&d);
    rep__sb_release(&g);
    return rc;
}

/* ---- Amdahl and Karp–Flatt ------------------------------------------------------ */

typedef struct amdahl_row {
    char dataset[64], series[256];
    rep_amdahl fit;
    int ok;
    double n_max;
} amdahl_row;

static int amdahl_figures(ctx *c, const char *ds, const char *slug, const rep__series *s,
                          amdahl_row *row, rep__doc *kf)
{
    memset(row, 0, sizeof *row);
    snprintf(row->dataset, sizeof row->dataset, "%s", ds);
    snprintf(row->series, sizeof row->series, "%s", s->label);
    double *x, *t;
    size_t n;
    int rc = rep__series_points(c->e, &c->run, s, &x, &t, &n);
    if (rc) return rc;
    ib_err fe;
    ib_err_init(&fe);
    if (rep_amdahl_fit(&fe, x, t, n, &c->ao, &row->fit) != 0) {
        extra_warn(c, "%s: no Amdahl fit: %s", ds, fe.msg);
        ib_free(x);
        ib_free(t);
        return 0;
    }
    row->ok = 1;
    row->n_max = s->x[s->n - 1];
    const rep_amdahl *a = &row->fit;
    rep__sb d = {0}, g = {0};
    rep__sb_printf(&d, "# %s, series: %s\n# Amdahl fit T(n) = T1 (s + (1-s)/n): s = %.6g "
                       "[%.6g, %.6g] (95%% bootstrap), T1 = %.6g s\n"
                       "# block 0: nodes  speedup(T1/median)  T1/max  T1/min\n",
                   ds, s->label, a->s, a->s_lo, a->s_hi, a->t1);
    for (size_t i = 0; i < s->n; i++) {
        cstat st;
        if (cstat_of(rep__metric(&c->run.cells[s->cell[i]], "wall_time"), &st)) continue;
        rep__sb_printf(&d, "%g %.9g %.9g %.9g\n", s->x[i], a->t1 / st.med, a->t1 / st.hi,
                       a->t1 / st.lo);
    }
    double top = row->n_max > c->o->study_nodes ? row->n_max : c->o->study_nodes;
    rep__sb_printf(&d, "\n\n# block 1: nodes  amdahl_speedup  band_lo  band_hi\n");
    for (int i = 0; i <= 60; i++) {
        double nn = s->x[0] * pow(top / s->x[0], i / 60.0);
        if (s->x[0] >= top) nn = s->x[0];
        rep__sb_printf(&d, "%.6g %.9g %.9g %.9g\n", nn, rep_amdahl_speedup(a->s, nn),
                       rep_amdahl_speedup(a->s_hi, nn), rep_amdahl_speedup(a->s_lo, nn));
    }
    char file[300], name[256], title[300];
    snprintf(file, sizeof file, "amdahl-%s.dat", slug);
    snprintf(name, sizeof name, "amdahl-%s", slug);
    snprintf(title, sizeof title, "%s: Amdahl fit (model)", ds);
    rc = data_file(c, file, &d);
    if (!rc) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_printf(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel 'speedup against the "
                           "fitted T1'\nset logscale x 2\nset logscale y 2\nset grid\n"
                           "set key top left\nplot '%s' index 1 using 1:3:4 with filledcurves "
                           "fs transparent solid 0.2 lc rgb '%s' title 'model: 95%% bootstrap "
                           "band of s', \\\n     '' index 1 using 1:2 with lines lw 2 lc rgb "
                           "'%s' title 'model: Amdahl, s = %.3g', \\\n     '' index 0 using "
                           "1:2:3:4 with yerrorbars pt 7 ps 1.2 lc rgb 'black' title 'measured "
                           "(median; min-max)', \\\n     x with lines dt 2 lc rgb 'gray40' "
                           "title 'ideal'\n",
                       file, palette[0], palette[0], a->s);
        char cap[700];
        snprintf(cap, sizeof cap,
                 "Amdahl's law fitted to every repeat of series %s (relative residuals): "
                 "serial fraction s = %.4g, 95%% residual-bootstrap band [%.4g, %.4g], "
                 "T1 = %.4g s. The curve and band are a model; points are T1/T(n).",
                 s->label, a->s, a->s_lo, a->s_hi, a->t1);
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&d);
    rep__sb_release(&g);
    /* Karp–Flatt needs a one-node time */
    rep_kf_point *kp = NULL;
    size_t nk = 0;
    if (!rc && rep_karp_flatt_series(&fe, x, t, n, &kp, &nk) == 0) {
        static const char *const h[] = {"dataset", "nodes", "median time", "speedup",
                                        "speedup 95% CI", "Karp-Flatt e(n)"};
        size_t tb = rep__doc_table(kf, "kf", NULL, 6, h);
        rep__sb_printf(&d, "# %s, series: %s\n# nodes  e  e_lo  e_hi  speedup  speedup_lo  "
                           "speedup_hi   (e bounds from the speedup CI)\n",
                       ds, s->label);
        size_t rows = 0;
        for (size_t i = 0; i < nk; i++) {
            /* the series point with this node count, for the speedup CI */
            rep_ci ci = {kp[i].speedup, kp[i].speedup, kp[i].speedup, 0.95};
            for (size_t j = 0; j < s->n; j++)
                if (s->x[j] == kp[i].nodes && s->x[0] == 1) speedup_ci(c, s, j, &ci);
            char tm[64];
            rep__fmt(tm, sizeof tm, kp[i].time, "s");
            rep__doc_cell(kf, tb, "%s", ds);
            rep__doc_cell(kf, tb, "%g", kp[i].nodes);
            rep__doc_cell(kf, tb, "%s", tm);
            rep__doc_cell(kf, tb, "%.3f", kp[i].speedup);
            rep__doc_cell(kf, tb, "[%.3f, %.3f]", ci.lo, ci.hi);
            if (isnan(kp[i].e)) {
                rep__doc_cell(kf, tb, "-");
                continue;
            }
            rep__doc_cell(kf, tb, "%.4f", kp[i].e);
            rep__sb_printf(&d, "%g %.9g %.9g %.9g %.9g %.9g %.9g\n", kp[i].nodes, kp[i].e,
                           rep_karp_flatt(ci.hi, kp[i].nodes), rep_karp_flatt(ci.lo, kp[i].nodes),
                           kp[i].speedup, ci.lo, ci.hi);
            rows++;
        }
        snprintf(file, sizeof file, "karpflatt-%s.dat", slug);
        snprintf(name, sizeof name, "karpflatt-%s", slug);
        snprintf(title, sizeof title, "%s: Karp-Flatt serial fraction", ds);
        if (rows) rc = data_file(c, file, &d);
        if (!rc && rows) {
            rep__sb_puts(&g, "set title ");
            gpq(&g, title);
            /* One node count alone gives gnuplot an empty x range. */
            double xmin = INFINITY, xmax = 0;
            for (size_t i = 0; i < nk; i++)
                if (!isnan(kp[i].e)) {
                    xmin = fmin(xmin, kp[i].nodes);
                    xmax = fmax(xmax, kp[i].nodes);
                }
            if (xmin == xmax) rep__sb_printf(&g, "\nset xrange [%g:%g]", xmin / 2, xmax * 2);
            rep__sb_printf(&g, "\nset xlabel 'nodes (MPI ranks)'\nset ylabel 'experimentally "
                               "determined serial fraction e(n)'\nset logscale x 2\nset grid\n"
                               "set key top right\nset offsets graph 0.04, graph 0.04, graph "
                               "0.1, graph 0.1\nplot '%s' using 1:2:3:4 with yerrorlines lw 2 "
                               "pt 7 lc rgb '%s' title 'Karp-Flatt e(n) (bars from the speedup "
                               "CI)', \\\n     %.9g with lines lw 2 lc rgb '%s' title 'model: "
                               "Amdahl s', \\\n     %.9g with lines dt 2 lc rgb '%s' title "
                               "'model: s band', \\\n     %.9g with lines dt 2 lc rgb '%s' "
                               "notitle\n",
                           file, palette[1], a->s, palette[0], a->s_lo, palette[0], a->s_hi,
                           palette[0]);
            char cap[512];
            snprintf(cap, sizeof cap,
                     "Karp-Flatt metric e(n) = (1/S - 1/n)/(1 - 1/n) per node count of series "
                     "%s. A rising e(n) means overhead grows with n (not a fixed serial part).",
                     s->label);
            if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
        }
        rep__sb_release(&d);
        rep__sb_release(&g);
    } else if (!rc) {
        rep__doc_para(kf, "%s: no Karp-Flatt series: %s", ds, fe.msg);
    }
    ib_free(kp);
    ib_free(x);
    ib_free(t);
    return rc;
}

/* ---- chunk count U-curve ---------------------------------------------------------- */

static int chunk_figure(ctx *c, const char *ds, const char *slug, rep__series *s, size_t ns)
{
    size_t np = ns < MAX_PLOT_SERIES ? ns : MAX_PLOT_SERIES;
    int spill = 0, spill_recorded = 0;
    rep__sb d = {0}, g = {0};
    for (size_t k = 0; k < ns; k++) {
        rep__sb_printf(&d, "# series %zu: %s\n# chunks  median_s  min_s  max_s  repeats  "
                           "spill_median_bytes  spill_min  spill_max\n",
                       k, s[k].label);
        for (size_t i = 0; i < s[k].n; i++) {
            const rep_cell_data *cl = &c->run.cells[s[k].cell[i]];
            cstat w, sp;
            if (cstat_of(rep__metric(cl, "wall_time"), &w)) continue;
            if (cstat_of(rep__metric(cl, "spill_bytes"), &sp) == 0) {
                spill_recorded = 1;
                if (sp.hi > 0) spill = 1;
            }
            rep__sb_printf(&d, "%g %.9g %.9g %.9g %zu %.9g %.9g %.9g\n", s[k].x[i], w.med,
                           w.lo, w.hi, w.n, sp.n ? sp.med : 0, sp.n ? sp.lo : 0,
                           sp.n ? sp.hi : 0);
        }
        rep__sb_puts(&d, "\n\n");
    }
    char file[300], name[256], title[300];
    snprintf(file, sizeof file, "chunks-%s.dat", slug);
    snprintf(name, sizeof name, "chunks-%s", slug);
    snprintf(title, sizeof title, "%s: runtime vs chunk count", ds);
    int rc = data_file(c, file, &d);
    if (!rc) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_puts(&g, "\nset xlabel 'chunks'\nset ylabel 'wall time (s): median, min-max'\n"
                         "set logscale x 2\nset grid\nset key below Left reverse\n"
                         "set offsets graph 0.04, graph 0.04, graph 0.04, graph 0.04\n");
        if (spill)
            rep__sb_puts(&g, "set y2label 'spilled bytes (median)'\nset ytics nomirror\n"
                             "set y2tics\n");
        rep__sb_puts(&g, "plot ");
        for (size_t k = 0; k < np; k++) {
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, palette[k % 8]);
            gpq(&g, s[k].label);
            if (spill) {
                rep__sb_printf(&g, ", \\\n     '' index %zu using 1:6 axes x1y2 with "
                                   "linespoints dt 3 pt 4 lc rgb '%s' title ",
                               k, palette[k % 8]);
                char t[300];
                snprintf(t, sizeof t, "spilled bytes: %s", s[k].label);
                gpq(&g, t);
            }
        }
        rep__sb_puts(&g, "\n");
        char cap[600];
        snprintf(cap, sizeof cap,
                 "Runtime against chunk count (the study's U-curve: too few chunks idle nodes "
                 "and spill, too many cost scheduling). Median with min-max over the repeats.%s",
                 spill            ? " Dotted, right axis: bytes spilled to disk (median)."
                 : spill_recorded ? " Nothing was spilled: the memory budget was never "
                                    "exceeded."
                                  : " No spill was recorded (no memory budget set for these "
                                    "cells).");
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&d);
    rep__sb_release(&g);
    return rc;
}

/* ---- support sweep ------------------------------------------------------------------ */

static int support_figure(ctx *c, const char *ds, const char *slug, rep__series *nodes_s,
                          size_t nns)
{
    /* node series that differ in support: speedup vs nodes, one curve per support */
    int supports[16];
    size_t pick[16], nsup = 0;
    for (size_t k = 0; k < nns && nsup < 16; k++) {
        int sup = c->run.cells[nodes_s[k].cell[0]].support;
        size_t q = 0;
        while (q < nsup && supports[q] != sup) q++;
        if (q == nsup) {
            supports[nsup] = sup;
            pick[nsup++] = k;
        }
    }
    for (size_t a = 1; a < nsup; a++) /* ascending support */
        for (size_t b = a; b > 0 && supports[b - 1] > supports[b]; b--) {
            int t = supports[b];
            supports[b] = supports[b - 1];
            supports[b - 1] = t;
            size_t u = pick[b];
            pick[b] = pick[b - 1];
            pick[b - 1] = u;
        }
    char file[300], name[256], title[300], cap[700];
    rep__sb d = {0}, g = {0};
    int rc = 0;
    if (nsup >= 2) {
        /* study points: speedup records with a support, threads relative to 16 */
        sqlite3_stmt *st = NULL;
        size_t nstudy = 0;
        rep__sb sd = {0};
        if (rep__prepare(NULL, c->db,
                         "SELECT value, coalesce(threads, 0), json_extract(note, '$.support'),"
                         " system, coalesce(label, '') FROM baselines WHERE dataset = ? AND"
                         " metric = 'speedup' AND json_valid(note) AND"
                         " json_extract(note, '$.support') IS NOT NULL ORDER BY id",
                         &st) == 0) {
            sqlite3_bind_text(st, 1, ds, -1, SQLITE_TRANSIENT);
            while (sqlite3_step(st) == SQLITE_ROW) {
                int th = sqlite3_column_int(st, 1);
                if (th <= 0 || th % 16) continue;
                rep__sb_printf(&sd, "%g %.9g %d %s\n", th / 16.0, sqlite3_column_double(st, 0),
                               sqlite3_column_int(st, 2), (const char *)sqlite3_column_text(st, 3));
                nstudy++;
            }
            sqlite3_finalize(st);
        }
        for (size_t q = 0; q < nsup; q++) {
            const rep__series *s = &nodes_s[pick[q]];
            rep__sb_printf(&d, "# block %zu: support %d (series %s)\n# nodes  speedup  ci95_lo  "
                               "ci95_hi\n",
                           q, supports[q], s->label);
            for (size_t i = 0; i < s->n; i++) {
                rep_ci ci;
                if (speedup_ci(c, s, i, &ci) == 0)
                    rep__sb_printf(&d, "%g %.9g %.9g %.9g\n", s->x[i], ci.est, ci.lo, ci.hi);
            }
            rep__sb_puts(&d, "\n\n");
        }
        if (nstudy)
            rep__sb_printf(&d, "# block %zu: seed study, speedup of 80 against 16 threads "
                               "(x = threads/16): x  speedup  support  system\n%s\n\n",
                           nsup, rep__sb_str(&sd));
        rep__sb_release(&sd);
        snprintf(file, sizeof file, "support-%s.dat", slug);
        snprintf(name, sizeof name, "support-%s", slug);
        snprintf(title, sizeof title, "%s: speedup vs nodes per kernel support", ds);
        rc = data_file(c, file, &d);
        if (!rc) {
            rep__sb_puts(&g, "set title ");
            gpq(&g, title);
            rep__sb_puts(&g, "\nset xlabel 'nodes (MPI ranks); study points: threads/16'\n"
                             "set ylabel 'speedup T(n0)/T(n): 95% bootstrap CI'\nset logscale "
                             "x 2\nset logscale y 2\nset grid\nset key top left\nplot ");
            for (size_t q = 0; q < nsup && q < 8; q++)
                rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                                   "lc rgb '%s' title 'support %d'",
                               q ? ", \\\n     " : "", file, q, palette[q % 8], supports[q]);
            if (nstudy)
                rep__sb_printf(&g, ", \\\n     '' index %zu using 1:2:(sprintf('W=%%d', $3)) "
                                   "with labels point pt 9 ps 1.5 offset 1,0 left "
                                   "title 'seed study (80 vs 16 threads, read from plot)'",
                               nsup);
            rep__sb_printf(&g, ", \\\n     x/%g with lines dt 2 lc rgb 'gray40' title 'ideal'\n",
                           nodes_s[pick[0]].x[0]);
            snprintf(cap, sizeof cap,
                     "Speedup against nodes for each kernel support width W (a larger W makes "
                     "the parallel part larger, so by Amdahl's law the speedup is closer to "
                     "ideal). Bars: 95%% bootstrap CI of the ratio of medians.%s",
                     nstudy ? " Triangles: the seed study's X3be speedups of 80 over 16 "
                              "threads (ideal 5), read from its plot." : "");
            rep__doc_head(&c->body, 3, NULL, "Kernel support");
            if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
        }
        rep__sb_release(&d);
        rep__sb_release(&g);
        return rc;
    }
    /* otherwise: runtime vs support at fixed other parameters */
    rep__series *s = NULL;
    size_t ns = 0;
    rc = rep__series_along(c->e, &c->run, ds, REP__AXIS_SUPPORT, 2, &s, &ns);
    if (rc || !ns) return rc;
    size_t np = ns < MAX_PLOT_SERIES ? ns : MAX_PLOT_SERIES;
    for (size_t k = 0; k < ns; k++) {
        rep__sb_printf(&d, "# series %zu: %s\n# support  median_s  min_s  max_s  repeats  "
                           "speedup_vs_smallest_support\n",
                       k, s[k].label);
        double t0 = rep__vmedian(rep__metric(&c->run.cells[s[k].cell[0]], "wall_time"));
        for (size_t i = 0; i < s[k].n; i++) {
            cstat w;
            if (cstat_of(rep__metric(&c->run.cells[s[k].cell[i]], "wall_time"), &w)) continue;
            rep__sb_printf(&d, "%g %.9g %.9g %.9g %zu %.9g\n", s[k].x[i], w.med, w.lo, w.hi,
                           w.n, t0 / w.med);
        }
        rep__sb_puts(&d, "\n\n");
    }
    snprintf(file, sizeof file, "support-%s.dat", slug);
    snprintf(name, sizeof name, "support-%s", slug);
    snprintf(title, sizeof title, "%s: runtime vs kernel support", ds);
    rc = data_file(c, file, &d);
    if (!rc) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_puts(&g, "\nset xlabel 'kernel support W (W x W taps)'\nset ylabel 'wall time "
                         "(s): median, min-max'\nset logscale y\nset grid\nset key below "
                         "Left reverse\nset offsets graph 0.04, graph 0.04, graph 0.04, graph "
                         "0.04\nplot ");
        for (size_t k = 0; k < np; k++) {
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, palette[k % 8]);
            gpq(&g, s[k].label);
        }
        rep__sb_puts(&g, "\n");
        snprintf(cap, sizeof cap,
                 "Runtime against kernel support width at fixed other parameters; median with "
                 "min-max over the repeats. Gridding work grows as W^2. No node sweep per "
                 "support in this run, so no speedup-per-support curves.");
        rep__doc_head(&c->body, 3, NULL, "Kernel support");
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&d);
    rep__sb_release(&g);
    rep__series_free(s, ns);
    return rc;
}

/* ---- task stream (Gantt) ------------------------------------------------------------- */

typedef struct task {
    int rank, thread, chunk, chan;
    char phase[16];
    double start, end;
} task;

typedef struct tasks {
    task *t;
    size_t n, cap;
    int truncated;
} tasks;

static int tasks_push(tasks *ts, const task *t)
{
    if (ts->n >= MAX_GANTT_TASKS) {
        ts->truncated = 1;
        return 0;
    }
    if (ts->n == ts->cap) {
        size_t cap = ts->cap ? ts->cap * 2 : 1024;
        task *nt = ib_malloc(cap * sizeof *nt);
        if (!nt) return IB_ENOMEM;
        if (ts->n) memcpy(nt, ts->t, ts->n * sizeof *nt);
        ib_free(ts->t);
        ts->t = nt;
        ts->cap = cap;
    }
    ts->t[ts->n++] = *t;
    return 0;
}

static int tasks_from_db(ctx *c, int64_t attempt, tasks *ts)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(c->e, c->db,
                          "SELECT coalesce(rank, 0), coalesce(thread, 0), coalesce(chunk, -1),"
                          " coalesce(phase, 'other'), start_s, end_s FROM tasks"
                          " WHERE attempt_id = ? AND start_s IS NOT NULL AND end_s IS NOT NULL"
                          " ORDER BY start_s",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, attempt);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        task t = {sqlite3_column_int(st, 0), sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                  -1, "", sqlite3_column_double(st, 4), sqlite3_column_double(st, 5)};
        snprintf(t.phase, sizeof t.phase, "%s", (const char *)sqlite3_column_text(st, 3));
        if (tasks_push(ts, &t)) {
            sqlite3_finalize(st);
            return ib_error(c->e, IB_ENOMEM, "out of memory reading tasks");
        }
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : rep__sqlerr(c->e, c->db, s, "reading tasks");
}

/* OUT/tasks.csv: rank,thread,chunk,chan,phase,start,end. Errors go to
 * *why (the figure is then skipped with a warning). */
static int tasks_from_csv(const char *path, tasks *ts, char *why, size_t nwhy)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, nwhy, "tasks file '%.300s' cannot be read: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    long ln = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        if (ln == 1 && strncmp(line, "rank,", 5) == 0) continue;
        if (line[0] == '\n' || line[0] == '#') continue;
        task t;
        char ph[32];
        if (sscanf(line, "%d,%d,%d,%d,%31[^,],%lf,%lf", &t.rank, &t.thread, &t.chunk, &t.chan,
                   ph, &t.start, &t.end) != 7 ||
            !isfinite(t.start) || !isfinite(t.end) || t.end < t.start || t.rank < 0 ||
            t.thread < 0) {
            snprintf(why, nwhy, "tasks file '%.300s' line %ld: expected rank,thread,chunk,chan,"
                                "phase,start,end with end >= start",
                     path, ln);
            rc = -1;
            break;
        }
        snprintf(t.phase, sizeof t.phase, "%.15s", ph);
        if (tasks_push(ts, &t)) {
            snprintf(why, nwhy, "out of memory reading '%.300s'", path);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Path of a cell's tasks.csv: beside its stats file. */
static int tasks_csv_path(const rep_cell_data *cl, char *out, size_t n)
{
    if (!cl->source || !cl->tasks_file) return -1;
    if (cl->tasks_file[0] == '/') {
        snprintf(out, n, "%s", cl->tasks_file);
    } else {
        const char *slash = strrchr(cl->source, '/');
        if (slash) snprintf(out, n, "%.*s/%s", (int)(slash - cl->source), cl->source,
                            cl->tasks_file);
        else snprintf(out, n, "%s", cl->tasks_file);
    }
    return 0;
}

/* Number of tasks a cell recorded (for choosing the Gantt cell). */
static double cell_tasks(ctx *c, const rep_cell_data *cl)
{
    double n = rep__vmedian(rep__metric(cl, "task_events"));
    if (!isfinite(n)) n = rep__vmedian(rep__metric(cl, "tasks"));
    if (!isfinite(n) && cl->first_ok) {
        sqlite3_stmt *st;
        if (rep__prepare(NULL, c->db, "SELECT count(*) FROM tasks WHERE attempt_id = ?", &st) ==
            0) {
            sqlite3_bind_int64(st, 1, cl->first_ok);
            if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_double(st, 0);
            sqlite3_finalize(st);
        }
    }
    return isfinite(n) ? n : 0;
}

static int gantt(ctx *c)
{
    rep__doc *d = &c->body;
    const rep_cell_data *pick = NULL;
    if (c->o->gantt_cell > 0) {
        for (size_t i = 0; i < c->run.ncells; i++)
            if (c->run.cells[i].id == c->o->gantt_cell) pick = &c->run.cells[i];
        if (!pick)
            return ib_error(c->e, IB_EINVAL, "--gantt-cell %lld: run %lld has no such cell "
                                             "(see `harness show %lld`)",
                            (long long)c->o->gantt_cell, (long long)c->run.id,
                            (long long)c->run.id);
    } else {
        double best = 0;
        int best_multi = 0;
        for (size_t i = 0; i < c->run.ncells; i++) {
            const rep_cell_data *cl = &c->run.cells[i];
            if (!cl->first_ok) continue;
            double n = cell_tasks(c, cl);
            int multi = cl->nodes > 1;
            if (n <= 0) continue;
            if (!pick || multi > best_multi || (multi == best_multi && n > best)) {
                pick = cl;
                best = n;
                best_multi = multi;
            }
        }
    }
    rep__doc_head(d, 2, "gantt", "Task stream");
    if (!pick) {
        rep__doc_para(d, "No cell of this run recorded task events (neither the tasks table "
                         "nor a tasks file): no task-stream chart.");
        return 0;
    }
    char label[256];
    rep__cell_label(pick, label, sizeof label);
    if (!pick->first_ok) {
        rep__doc_para(d, "Cell %lld (%s) has no successful attempt: no task-stream chart.",
                      (long long)pick->id, label);
        return 0;
    }
    tasks ts = {0};
    char why[600] = "", from[4200] = "tasks table";
    int rc = tasks_from_db(c, pick->first_ok, &ts);
    if (rc) return rc;
    if (!ts.n) {
        char path[4200];
        if (tasks_csv_path(pick, path, sizeof path) == 0) {
            snprintf(from, sizeof from, "%s", path);
            if (tasks_from_csv(path, &ts, why, sizeof why)) ts.n = 0;
        } else {
            snprintf(why, sizeof why, "no task events recorded for attempt %lld",
                     (long long)pick->first_ok);
        }
    }
    if (!ts.n) {
        rep__doc_para(d, "Cell %lld (%s): no task-stream chart: %s.", (long long)pick->id, label,
                      why[0] ? why : "no tasks");
        if (why[0]) extra_warn(c, "task stream of cell %lld: %s", (long long)pick->id, why);
        ib_free(ts.t);
        return 0;
    }
    /* rows: (rank, thread) pairs in order */
    int maxr = 0, maxt = 0;
    double t0 = ts.t[0].start;
    for (size_t i = 0; i < ts.n; i++) {
        maxr = ts.t[i].rank > maxr ? ts.t[i].rank : maxr;
        maxt = ts.t[i].thread > maxt ? ts.t[i].thread : maxt;
        t0 = ts.t[i].start < t0 ? ts.t[i].start : t0;
    }
    const char *phases[32];
    size_t nph = 0;
    for (size_t i = 0; i < ts.n; i++) {
        size_t q = 0;
        /* cppcheck-suppress uninitvar ; phases[q] is set for every q < nph */
        while (q < nph && strcmp(phases[q], ts.t[i].phase) != 0) q++;
        if (q == nph && nph < 32) phases[nph++] = ts.t[i].phase;
    }
    rep__sb dat = {0}, g = {0};
    rep__sb_printf(&dat, "# task stream of cell %lld (%s), attempt %lld, from %s\n"
                         "# one block per phase; row = rank * %d + thread\n",
                   (long long)pick->id, label, (long long)pick->first_ok, from, maxt + 1);
    for (size_t q = 0; q < nph; q++) {
        rep__sb_printf(&dat, "# block %zu: phase %s\n# start_s  end_s  row  rank  thread  chunk  "
                             "chan\n",
                       q, phases[q]);
        for (size_t i = 0; i < ts.n; i++)
            if (strcmp(ts.t[i].phase, phases[q]) == 0)
                rep__sb_printf(&dat, "%.9g %.9g %d %d %d %d %d\n", ts.t[i].start - t0,
                               ts.t[i].end - t0, ts.t[i].rank * (maxt + 1) + ts.t[i].thread,
                               ts.t[i].rank, ts.t[i].thread, ts.t[i].chunk, ts.t[i].chan);
        rep__sb_puts(&dat, "\n\n");
    }
    char file[300], name[256], title[400];
    snprintf(file, sizeof file, "gantt-cell%lld.dat", (long long)pick->id);
    snprintf(name, sizeof name, "gantt-cell%lld", (long long)pick->id);
    snprintf(title, sizeof title, "task stream: cell %lld (%s)", (long long)pick->id, label);
    rc = data_file(c, file, &dat);
    int rows = (maxr + 1) * (maxt + 1);
    if (!rc) {
        rep__sb_puts(&g, "set title ");
        gpq(&g, title);
        rep__sb_printf(&g, "\nset xlabel 'time since the first task (s)'\nset ylabel 'rank / "
                           "thread'\nset yrange [%g:%g]\nset grid xtics\nset key outside right "
                           "top\nset style fill solid 0.9 noborder\nset ytics (",
                       rows - 0.4, -0.6);
        int step = rows > 48 ? (rows + 47) / 48 : 1;
        for (int r = 0, first = 1; r < rows; r += step, first = 0)
            rep__sb_printf(&g, "%s'r%d t%d' %d", first ? "" : ", ", r / (maxt + 1),
                           r % (maxt + 1), r);
        rep__sb_puts(&g, ")\nplot ");
        for (size_t q = 0; q < nph; q++) {
            rep__sb_printf(&g, "%s'%s' index %zu using (($1+$2)/2):3:(($2-$1)/2):(0.4) with "
                               "boxxyerror lc rgb '%s' title ",
                           q ? ", \\\n     " : "", file, q, phase_colour(phases[q]));
            gpq(&g, phases[q]);
        }
        rep__sb_puts(&g, "\n");
        char cap[5200];
        snprintf(cap, sizeof cap,
                 "Every task of attempt %lld of cell %lld (%zu tasks%s), one row per rank and "
                 "thread, coloured by phase; spill (black) and comm (red) tasks show where the "
                 "imager waited on disk or on other ranks. Source: %s. Another cell: "
                 "--gantt-cell ID.",
                 (long long)pick->first_ok, (long long)pick->id, ts.n,
                 ts.truncated ? ", truncated" : "", from);
        if (!g.oom) rc = figure(c, name, title, cap, file, rep__sb_str(&g));
    }
    if (ts.truncated)
        extra_warn(c, "task stream of cell %lld: more than %d tasks, only the first drawn",
                   (long long)pick->id, MAX_GANTT_TASKS);
    rep__sb_release(&dat);
    rep__sb_release(&g);
    ib_free(ts.t);
    return rc;
}

/* ---- models: Amdahl table, cost model, extrapolation ----------------------------------- */

/* One recorded figure: min value of the matching seed-study rows (NAN none). */
static double study_value(ctx *c, const char *ds, const char *system_like, const char *where)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT min(value) FROM baselines WHERE dataset = ? AND metric = 'wall_time'"
             " AND source = 'seed-study' AND system LIKE ? AND (%s)",
             where);
    sqlite3_stmt *st;
    double v = NAN;
    if (rep__prepare(NULL, c->db, sql, &st)) return NAN;
    sqlite3_bind_text(st, 1, ds, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, system_like, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 3, c->o->study_nodes);
    sqlite3_bind_int(st, 4, 16 * c->o->study_nodes);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

#define POINT "(NOT json_valid(note) OR json_extract(note, '$.bound') IS NULL)"

static void fmt_or(char *buf, size_t n, double v)
{
    if (isfinite(v)) rep__fmt(buf, n, v, "s");
    else snprintf(buf, n, "-");
}

static int models(ctx *c, amdahl_row *am, size_t nam, rep__doc *kf)
{
    rep__doc *d = &c->body;
    rep__doc_head(d, 2, "models", "Models");
    rep__doc_para(d, "Everything in this section is a model fitted to this run's measurements "
                     "and labelled so; the seed study's figures are recorded baselines (stated "
                     "or read from its plots, about +-10%%).");
    rep__doc_head(d, 3, "amdahl", "Amdahl fit per dataset (model)");
    static const char *const ha[] = {"dataset", "series", "points", "serial fraction s",
                                     "s 95% band", "T1 (fit)", "T1 95% band", "max speedup 1/s",
                                     "speedup at study nodes (model)"};
    size_t t = rep__doc_table(d, "amdahl", NULL, 9, ha);
    for (size_t i = 0; i < nam; i++) {
        if (!am[i].ok) continue;
        const rep_amdahl *a = &am[i].fit;
        rep__doc_cell(d, t, "%s", am[i].dataset);
        rep__doc_cell(d, t, "%s", am[i].series);
        rep__doc_cell(d, t, "%zu", a->n);
        rep__doc_cell(d, t, "%.4f", a->s);
        rep__doc_cell(d, t, "[%.4f, %.4f]", a->s_lo, a->s_hi);
        rep__doc_cell(d, t, "%.4g s", a->t1);
        rep__doc_cell(d, t, "[%.4g, %.4g] s", a->t1_lo, a->t1_hi);
        if (a->s > 0) rep__doc_cell(d, t, "%.3g", 1.0 / a->s);
        else rep__doc_cell(d, t, "unbounded");
        rep__doc_cell(d, t, "%.3g [%.3g, %.3g] at %d nodes",
                      rep_amdahl_speedup(a->s, c->o->study_nodes),
                      rep_amdahl_speedup(a->s_hi, c->o->study_nodes),
                      rep_amdahl_speedup(a->s_lo, c->o->study_nodes), c->o->study_nodes);
    }
    if (!rep__doc_rows(d, t))
        rep__doc_para(d, "No dataset of this run has a node sweep: no Amdahl fit.");
    rep__doc_head(d, 3, "karpflatt", "Karp-Flatt serial fraction per node count");
    rep__doc_append(d, kf);
    if (!nam) rep__doc_para(d, "No node sweep: no Karp-Flatt series.");

    /* cost model */
    rep__extrap *x = NULL;
    size_t nx = 0;
    int rc = rep__extrapolate(c->e, &c->run, c->o->shapes, c->o->nshapes, c->o->study_nodes,
                              &c->ao, &x, &nx);
    if (rc) return rc;
    rep__doc_head(d, 3, "cost", "Cost model per dataset and gridder (model)");
    rep__doc_para(d, "time = a + b samples W^2 + c FFT work + d bytes written, least squares "
                     "over the one-node cells (medians of the repeats). FFT work = channels x "
                     "polarisations x P log2 P with P the padded grid pixels. A dataset whose "
                     "own cells do not separate the terms is fitted with the other datasets of "
                     "its gridder; terms that cannot be separated are dropped (listed).");
    static const char *const hc[] = {"dataset", "gridder", "fitted on", "predictors", "a (s)",
                                     "b (s per sample W^2)", "c (s per FFT op)",
                                     "d (s per byte)", "R^2", "cells"};
    t = rep__doc_table(d, "cost", NULL, 10, hc);
    for (size_t i = 0; i < nx; i++) {
        const rep__extrap *X = &x[i];
        if (!X->fit_scope[0]) continue;
        rep__doc_cell(d, t, "%s", X->dataset);
        rep__doc_cell(d, t, "%s", X->gridder);
        rep__doc_cell(d, t, "%s", X->fit_scope);
        rep__doc_cell(d, t, "%s", X->predictors);
        rep__doc_cell(d, t, "%.4g", X->m.coef[0]);
        size_t q = 1;
        for (int j = 0; j < 3; j++) {
            if (X->use[j]) rep__doc_cell(d, t, "%.4g", X->m.coef[q++]);
            else rep__doc_cell(d, t, "-");
        }
        rep__doc_cell(d, t, "%.4f", X->m.r2);
        rep__doc_cell(d, t, "%zu", X->m.n);
    }
    for (size_t i = 0; i < nx; i++)
        if (!x[i].fit_scope[0] && x[i].why[0])
            rep__doc_item(d, "%s: %s", x[i].dataset, x[i].why);

    rep__doc_head(d, 3, "extrapolation", "Full-size extrapolation (model) next to the baselines");
    rep__doc_para(d, "The cost model evaluated at each seed dataset's full shape "
                     "(workloads/datasets/*.yaml), with samples per visibility and bytes per "
                     "image voxel taken from this run, at one node with this run's threads per "
                     "node, then at the study's %d nodes through the dataset's Amdahl fit. "
                     "These are models of this imager on this machine, not measurements; the "
                     "CASA and prototype columns are the seed study's recorded figures.",
                     c->o->study_nodes);
    static const char *const hx[] = {"dataset", "W", "threads/node", "model: 1 node",
                                     "model: study nodes [band]", "CASA 6.2, 1 node (study)",
                                     "CASA 6.2, study nodes (study)", "prototype, 1 node (study)",
                                     "prototype, study nodes (study)", "note"};
    t = rep__doc_table(d, "extrap", NULL, 10, hx);
    rep__sb dat = {0};
    rep__sb_printf(&dat, "# full-size extrapolation: model values and the seed study's recorded "
                         "figures (NaN: none)\n# dataset  model_1node_s  model_%dnodes_s  "
                         "casa_1node_s  casa_%dnodes_s  proto_1node_s  proto_%dnodes_s\n",
                   c->o->study_nodes, c->o->study_nodes, c->o->study_nodes);
    int colany[6] = {0};
    size_t nrows = 0;
    for (size_t i = 0; i < nx; i++) {
        const rep__extrap *X = &x[i];
        double v[6];
        v[0] = X->ok ? X->t1 : NAN;
        v[1] = X->ok ? X->tn : NAN;
        v[2] = study_value(c, X->dataset, "casa%", "nodes = 1 AND " POINT);
        v[3] = study_value(c, X->dataset, "casa%", "nodes = ?3 AND " POINT);
        v[4] = study_value(c, X->dataset, "cngi%", "nodes = 1 AND " POINT);
        v[5] = study_value(c, X->dataset, "cngi%",
                           "(nodes = ?3 OR (nodes IS NULL AND threads = ?4)) AND " POINT);
        double clo = study_value(c, X->dataset, "casa%",
                                 "nodes IS NULL AND threads IS NULL");
        char b[6][128], note[256] = "";
        for (int k = 0; k < 6; k++) fmt_or(b[k], sizeof b[k], v[k]);
        if (!isfinite(v[3]) && isfinite(clo)) {
            /* the study gives CASA's multi-node times as a range */
            char sql[512];
            double chi = NAN;
            sqlite3_stmt *st;
            snprintf(sql, sizeof sql,
                     "SELECT max(value) FROM baselines WHERE dataset = ? AND metric = "
                     "'wall_time' AND source = 'seed-study' AND system LIKE 'casa%%' AND nodes "
                     "IS NULL AND threads IS NULL");
            if (rep__prepare(NULL, c->db, sql, &st) == 0) {
                sqlite3_bind_text(st, 1, X->dataset, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(st) == SQLITE_ROW) chi = sqlite3_column_double(st, 0);
                sqlite3_finalize(st);
            }
            char lo[32], hi[32];
            rep__fmt(lo, sizeof lo, clo, NULL);
            rep__fmt(hi, sizeof hi, chi, "s");
            snprintf(b[3], sizeof b[3], "%s-%s (range, 1-8 nodes)", lo, hi);
            v[3] = clo;
        }
        if (X->ok && isfinite(X->tn))
            snprintf(b[1] + strlen(b[1]), sizeof b[1] - strlen(b[1]), " [%.4g, %.4g]", X->tn_lo,
                     X->tn_hi);
        if (!X->ok) snprintf(note, sizeof note, "%s", X->why);
        else if (!isfinite(X->tn)) snprintf(note, sizeof note, "no Amdahl fit for the nodes");
        else snprintf(note, sizeof note, "fitted on %s", X->fit_scope);
        rep__doc_cell(d, t, "%s", X->dataset);
        rep__doc_cell(d, t, "%d", X->support);
        rep__doc_cell(d, t, "%d", X->threads);
        for (int k = 0; k < 6; k++) rep__doc_cell(d, t, "%s", b[k]);
        rep__doc_cell(d, t, "%s", note);
        int any = 0;
        for (int k = 0; k < 6; k++) any |= isfinite(v[k]);
        if (!any) continue;
        nrows++;
        rep__sb_printf(&dat, "%s", X->dataset);
        for (int k = 0; k < 6; k++) {
            if (isfinite(v[k])) {
                rep__sb_printf(&dat, " %.9g", v[k]);
                colany[k] = 1;
            } else {
                rep__sb_puts(&dat, " NaN");
            }
        }
        rep__sb_puts(&dat, "\n");
    }
    if (nrows && (colany[0] || colany[1])) {
        rc = data_file(c, "extrapolation.dat", &dat);
        rep__sb g = {0};
        if (!rc) {
            static const char *const titles[6] = {
                "model: full size, 1 node", "model: full size, study nodes",
                "CASA 6.2, 1 node (study)", "CASA 6.2, study nodes (study; low end of range)",
                "prototype, 1 node (study)", "prototype, study nodes (study)"};
            rep__sb_printf(&g, "set title 'full-size datasets: model extrapolation and recorded "
                               "baselines'\nset ylabel 'wall time (s)'\nset logscale y\n"
                               "set style data histograms\nset style histogram clustered gap 1\n"
                               "set style fill solid 0.8 border -1\nset datafile missing 'NaN'\n"
                               "set grid ytics\nset key below Left reverse\nset xtics rotate by "
                               "-20\nplot ");
            int first = 1;
            for (int k = 0; k < 6; k++) {
                if (!colany[k]) continue;
                rep__sb_printf(&g, "%s'extrapolation.dat' using %d%s lc rgb '%s' title '%s'",
                               first ? "" : ", \\\n     ", k + 2, first ? ":xtic(1)" : "",
                               palette[k], titles[k]);
                first = 0;
            }
            rep__sb_puts(&g, "\n");
            char cap[600];
            snprintf(cap, sizeof cap,
                     "Model bars (first two) are this run's cost model extrapolated to each "
                     "dataset's full size, at one node and at %d nodes (Amdahl): models, not "
                     "measurements. The other bars are the seed study's recorded times (read "
                     "from its plots, approx.). A missing bar: no figure.",
                     c->o->study_nodes);
            if (!g.oom)
                rc = figure(c, "extrapolation", "full-size extrapolation (model) and baselines",
                            cap, "extrapolation.dat", rep__sb_str(&g));
        }
        rep__sb_release(&g);
    }
    rep__sb_release(&dat);
    ib_free(x);
    return rc;
}

/* ---- baselines ----------------------------------------------------------------------- */

static int baselines(ctx *c)
{
    rep__doc *d = &c->body;
    rep__doc_head(d, 2, "baselines", "Recorded baselines for these datasets");
    sqlite3_stmt *st;
    int rc = rep__prepare(
        c->e, c->db,
        "SELECT dataset, system, nodes, cores, threads, chunks, metric, value, coalesce(unit, ''),"
        " coalesce(source, ''), coalesce(label, ''),"
        " CASE WHEN json_valid(note) THEN coalesce(json_extract(note, '$.bound'), 'point') END,"
        " CASE WHEN json_valid(note) THEN coalesce(json_extract(note, '$.note'),"
        "   json_extract(note, '$.params.imagename'), '') ELSE coalesce(note, '') END"
        " FROM baselines WHERE dataset = '' OR dataset IN"
        " (SELECT DISTINCT c.dataset FROM cells c JOIN attempts a ON a.cell_id = c.id"
        "  WHERE a.run_id = ?) ORDER BY dataset, system, metric, id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, c->run.id);
    static const char *const h[] = {"dataset", "system", "nodes", "cores", "threads", "chunks",
                                    "metric", "value", "bound", "source", "label", "note"};
    size_t t = rep__doc_table(d, "baselines", NULL, 12, h);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *ds = (const char *)sqlite3_column_text(st, 0);
        rep__doc_cell(d, t, "%s", ds && *ds ? ds : "(any)");
        rep__doc_cell(d, t, "%s", (const char *)sqlite3_column_text(st, 1));
        for (int k = 2; k <= 5; k++) {
            if (sqlite3_column_type(st, k) == SQLITE_NULL) rep__doc_cell(d, t, "-");
            else rep__doc_cell(d, t, "%d", sqlite3_column_int(st, k));
        }
        rep__doc_cell(d, t, "%s", (const char *)sqlite3_column_text(st, 6));
        rep__doc_cell(d, t, "%.6g %s", sqlite3_column_double(st, 7),
                      (const char *)sqlite3_column_text(st, 8));
        const char *b = (const char *)sqlite3_column_text(st, 11);
        rep__doc_cell(d, t, "%s", b ? b : "point");
        rep__doc_cell(d, t, "%s", (const char *)sqlite3_column_text(st, 9));
        rep__doc_cell(d, t, "%s", (const char *)sqlite3_column_text(st, 10));
        const char *n = (const char *)sqlite3_column_text(st, 12);
        rep__doc_cell(d, t, "%s", n ? n : "");
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(c->e, c->db, s, "reading baselines");
    if (!rep__doc_rows(d, t))
        rep__doc_para(d, "No baselines recorded for these datasets: `harness baselines import "
                         "workloads/baselines/seed-study.yaml` adds the seed study's, "
                         "`harness casa-import` your own CASA logs.");
    return 0;
}

/* ---- the whole report -------------------------------------------------------------------- */

static int dataset_sections(ctx *c, amdahl_row **amo, size_t *nam, rep__doc *kf)
{
    const char **ds;
    size_t nds;
    *amo = NULL;
    *nam = 0;
    if (rep__datasets(&c->run, &ds, &nds)) return ib_error(c->e, IB_ENOMEM, "out of memory");
    amdahl_row *am = ib_calloc(nds ? nds : 1, sizeof *am);
    if (!am) {
        ib_free(ds);
        return ib_error(c->e, IB_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t i = 0; i < nds && !rc; i++) {
        char slug[80];
        rep__slug(slug, sizeof slug, ds[i][0] ? ds[i] : "unnamed");
        char id[100];
        snprintf(id, sizeof id, "ds-%s", slug);
        rep__doc_head(&c->body, 2, id, "Dataset %s", ds[i][0] ? ds[i] : "(unnamed)");
        if (c->o->log) fprintf(c->o->log, "report: dataset %s\n", ds[i]);
        size_t before = c->nfigs;
        rep__series *ns = NULL, *cs = NULL;
        size_t nns = 0, ncs = 0;
        rep__bcurve *bc = NULL;
        size_t nbc = 0;
        rc = rep__series_along(c->e, &c->run, ds[i], REP__AXIS_NODES, 2, &ns, &nns);
        if (!rc && nns) rc = rep__baseline_curves(c->e, c->db, ds[i], &bc, &nbc);
        if (!rc && nns) {
            rep__doc_head(&c->body, 3, NULL, "Scaling with nodes");
            rc = scaling_figures(c, ds[i], slug, ns, nns, bc, nbc);
            if (!rc) rc = phase_figure(c, ds[i], slug, &ns[0]);
            if (!rc) rc = comm_figure(c, ds[i], slug, &ns[0]);
            if (!rc) rc = amdahl_figures(c, ds[i], slug, &ns[0], &am[*nam], kf);
            if (!rc) (*nam)++;
        }
        if (!rc) rc = rep__series_along(c->e, &c->run, ds[i], REP__AXIS_CHUNKS, 2, &cs, &ncs);
        if (!rc && ncs) {
            rep__doc_head(&c->body, 3, NULL, "Chunk count");
            rc = chunk_figure(c, ds[i], slug, cs, ncs);
        }
        if (!rc) rc = support_figure(c, ds[i], slug, ns, nns);
        if (!rc && c->nfigs == before)
            rep__doc_para(&c->body, "This run has no sweep along nodes, chunks or support for "
                                    "%s (each needs at least two values with every other "
                                    "parameter fixed): see the cells table.",
                          ds[i]);
        rep__series_free(ns, nns);
        rep__series_free(cs, ncs);
        ib_free(bc);
    }
    ib_free(ds);
    *amo = am;
    return rc;
}

static void summary(ctx *c)
{
    rep__doc *d = &c->head;
    rep_run_data *r = &c->run;
    size_t att = 0, ok = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        att += r->cells[i].attempts;
        ok += r->cells[i].ok;
    }
    const char **ds;
    size_t nds = 0;
    rep__sb names = {0};
    if (rep__datasets(r, &ds, &nds) == 0) {
        for (size_t i = 0; i < nds; i++) rep__sb_printf(&names, "%s%s", i ? ", " : "", ds[i]);
        ib_free(ds);
    }
    rep__doc_head(d, 2, "summary", "Summary");
    rep__doc_para(d, "Suite %s, run %lld (%s), started %s%s%s on %s. %zu cells, %zu attempts "
                     "of which %zu succeeded. Datasets: %s.",
                  r->suite, (long long)r->id, r->status ? r->status : "?",
                  r->started ? r->started : "?", r->ended ? ", ended " : "",
                  r->ended ? r->ended : "", r->host ? r->host : "an unrecorded host",
                  r->ncells, att, ok, names.len ? rep__sb_str(&names) : "none");
    rep__sb_release(&names);
    rep__doc_para(d, "Every figure has its data file and gnuplot script beside this page "
                     "(re-run one with `gnuplot NAME.gp` in this directory). Error bars come "
                     "from the repeats. Fitted and extrapolated values are labelled model.");
}

static void warnings(ctx *c)
{
    rep__doc *d = &c->head;
    rep__doc_head(d, 2, "warnings", "Warnings");
    size_t n = 0;
    if (!c->plot.available) {
        rep__doc_item(d, "figures not rendered: %s", c->plot.why);
        n++;
    }
    for (size_t i = 0; i < c->run.nwarnings; i++, n++)
        rep__doc_item(d, "%s", c->run.warnings[i]);
    const char *srcs[2] = {rep__sb_str(&c->plot.failures), rep__sb_str(&c->warn)};
    for (int k = 0; k < 2; k++) {
        const char *p = srcs[k];
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            if (len) {
                rep__doc_item(d, "%.*s", (int)len, p);
                n++;
            }
            p += len + (nl ? 1 : 0);
        }
    }
    if (!n) rep__doc_para(d, "None.");
    c->nwarn = n;
}

int rep_report_write(ib_err *e, res_db *db, const rep_report_opts *o, rep_report_info *info)
{
    rep_report_opts def;
    if (!o) {
        rep_report_opts_init(&def);
        o = &def;
    }
    ctx c;
    memset(&c, 0, sizeof c);
    c.e = e;
    c.db = db;
    c.o = o;
    rep_amdahl_opts_init(&c.ao);
    c.ao.boot = o->boot >= 10 ? o->boot : 1000;
    c.ao.seed = o->seed;
    int64_t run = o->run_id;
    int rc = run > 0 ? 0 : rep__run_latest(e, db, &run);
    if (rc) return rc;
    rc = rep__run_load(e, db, run, &c.run);
    if (rc) {
        rep__run_release(&c.run);
        return rc;
    }
    if (o->gantt_cell > 0) { /* a bad cell is a usage error: check before writing */
        size_t i = 0;
        while (i < c.run.ncells && c.run.cells[i].id != o->gantt_cell) i++;
        if (i == c.run.ncells) {
            rc = ib_error(e, IB_EINVAL, "--gantt-cell %lld: run %lld has no such cell (see "
                                        "`harness show %lld`)",
                          (long long)o->gantt_cell, (long long)run, (long long)run);
            rep__run_release(&c.run);
            return rc;
        }
    }
    if (o->out_dir && *o->out_dir) {
        snprintf(c.dir, sizeof c.dir, "%s", o->out_dir);
    } else {
        char slug[128];
        rep__slug(slug, sizeof slug, c.run.suite);
        snprintf(c.dir, sizeof c.dir, "reports/%s-%lld", slug, (long long)run);
    }
    rc = ib_mkdir_p(e, c.dir);
    if (rc) {
        rep__run_release(&c.run);
        return rc;
    }
    rep__plotter_init(&c.plot, c.dir, o->gnuplot);
    char title[512];
    snprintf(title, sizeof title, "imbench report: %s, run %lld", c.run.suite, (long long)run);
    rep__doc_init(&c.head, title);
    rep__doc_init(&c.body, title);
    rep__doc kf;
    rep__doc_init(&kf, NULL);
    amdahl_row *am = NULL;
    size_t nam = 0;
    summary(&c);
    provenance(&c);
    cells_table(&c);
    rc = dataset_sections(&c, &am, &nam, &kf);
    if (!rc) rc = gantt(&c);
    if (!rc) rc = models(&c, am, nam, &kf);
    if (!rc) rc = baselines(&c);
    if (!rc) {
        warnings(&c);
        rep__doc_append(&c.head, &c.body);
        rc = rep__doc_write_html(e, &c.head, c.dir);
    }
    if (!rc) rc = rep__doc_write_md(e, &c.head, c.dir);
    if (!rc && info) {
        memset(info, 0, sizeof *info);
        info->run_id = run;
        snprintf(info->out_dir, sizeof info->out_dir, "%s", c.dir);
        info->plots = c.plot.made;
        info->rendered = c.plot.rendered;
        info->warnings = c.nwarn;
        snprintf(info->gnuplot_note, sizeof info->gnuplot_note, "%s",
                 c.plot.available ? "" : c.plot.why);
    }
    ib_free(am);
    rep__doc_release(&kf);
    rep__doc_release(&c.head);
    rep__doc_release(&c.body);
    rep__plotter_release(&c.plot);
    rep__sb_release(&c.warn);
    rep__run_release(&c.run);
    return rc;
}
