/*
 * fig_sim.c: what `harness simulate` stored, drawn — never as measurements.
 * Every curve here is dashed and keyed "simulated: ..."; every title says
 * "simulated" (rep__figure's kind words). Four entries of the table of
 * figures:
 *   - simscaling (per dataset): the stored sweeps over nodes (harness
 *     simulate --cell C --nodes 1,2,4,8 --threads 16, on the study's
 *     platform at full size) as runtime and speedup curves, beside the
 *     study's CASA and prototype figures with their core counts;
 *   - simgantt: a simulated task stream, with the measured Gantt's code;
 *   - simvalidate: --validate's predictions of the 2-core cells from the
 *     1-core ones against the measured medians, the error, > 15% flagged;
 *   - simstudy: --study's three effects (serial writes, chunk count with
 *     100 ms tasks, speedup per support) each beside the study's figure.
 * The simulations come from results (res_report_simulations), loaded once
 * per report.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <string.h>

#define MAX_SIM_SERIES 8
#define MAX_SIM_POINTS 32
#define MAX_SIM_GANTT 20000

int rep__sims(rep__report *r)
{
    if (r->sims_loaded) return 0;
    int rc = res_report_simulations(r->e, r->db, r->run.id, &r->sims, &r->nsims);
    r->sims_loaded = rc == 0;
    return rc;
}

double rep__sim_error(double predicted, double measured)
{
    if (!(measured > 0) || !isfinite(predicted)) return NAN;
    return predicted / measured - 1;
}

int rep__sim_flagged(double err) { return isfinite(err) && fabs(err) > REP__SIM_TOLERANCE; }

/* ---- simulated scaling over nodes, per dataset ----------------------------------- */

/* A curve: simulations that differ only in nodes. */
typedef struct sim_series {
    const res_sim_row *row[MAX_SIM_POINTS]; /* by nodes */
    size_t n;
    int full;         /* scaled to the dataset's full size */
} sim_series;

typedef struct simscaling_data {
    sim_series s[MAX_SIM_SERIES];
    size_t ns;
    rep__bpoint *pt;  /* the study's absolute times (full-size curves only) */
    size_t npt;
    rep__bcurve *bc;  /* the study's normalised curves */
    size_t nbc;
} simscaling_data;

void rep__simscaling_release(void *data)
{
    simscaling_data *d = data;
    if (!d) return;
    ib_free(d->pt);
    ib_free(d->bc);
    ib_free(d);
}

static int same_setting(const res_sim_row *a, const res_sim_row *b)
{
    return a->cell_id == b->cell_id && !strcmp(a->platform, b->platform) &&
           a->threads == b->threads && !strcmp(a->schedule, b->schedule) &&
           a->serial_write == b->serial_write && a->chunks == b->chunks &&
           a->central == b->central && !strcmp(a->label, b->label) &&
           (a->overhead_s == b->overhead_s || (isnan(a->overhead_s) && isnan(b->overhead_s))) &&
           a->rows_scale == b->rows_scale && a->pixels_scale == b->pixels_scale;
}

static int is_full(const res_sim_row *s)
{
    return (isfinite(s->rows_scale) && s->rows_scale > 1) ||
           (isfinite(s->pixels_scale) && s->pixels_scale > 1);
}

int rep__simscaling_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    int rc = rep__sims(r);
    if (rc) return rc;
    simscaling_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nsims; i++) {
        const res_sim_row *s = &r->sims[i];
        int sweep = !strcmp(s->purpose, "sweep") || !strcmp(s->label, RES_SIM_STUDY_NODES);
        if (!sweep || strcmp(s->dataset, ds) || !(s->wall_s > 0)) continue;
        size_t k = 0;
        while (k < d->ns && !same_setting(d->s[k].row[0], s)) k++;
        if (k == d->ns) {
            if (d->ns == MAX_SIM_SERIES) continue;
            d->s[d->ns].full = is_full(s);
            d->ns++;
        }
        sim_series *c = &d->s[k];
        if (c->n == MAX_SIM_POINTS) continue;
        size_t q = 0; /* sorted by nodes; a repeated layout keeps the newest */
        while (q < c->n && c->row[q]->nodes < s->nodes) q++;
        if (q < c->n && c->row[q]->nodes == s->nodes) {
            c->row[q] = s;
            continue;
        }
        memmove(&c->row[q + 1], &c->row[q], (c->n - q) * sizeof c->row[0]);
        c->row[q] = s;
        c->n++;
    }
    /* a curve needs two node counts */
    size_t keep = 0;
    for (size_t k = 0; k < d->ns; k++)
        if (d->s[k].n >= 2) d->s[keep++] = d->s[k];
    d->ns = keep;
    if (!d->ns) {
        rep__simscaling_release(d);
        return 0;
    }
    if (rep__study_points(r->baselines, r->nbaselines, ds, &d->pt, &d->npt) ||
        rep__study_curves(r->baselines, r->nbaselines, ds, &d->bc, &d->nbc)) {
        rep__simscaling_release(d);
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    *out = d;
    return 0;
}

/* "simulated: study-cluster, N x 16 threads, full size (cell 7)" */
static void series_key(const sim_series *c, char *buf, size_t n)
{
    const res_sim_row *s = c->row[0];
    snprintf(buf, n, "simulated: %s, N x %d threads%s%s (cell %lld)", s->platform, s->threads,
             c->full ? ", full size" : "", s->serial_write ? ", serial writes" : "",
             (long long)s->cell_id);
}

/* The study's x for a point of its figures: nodes, else threads (or
 * cores) / 16 (its nodes had 16 cores). 0 when none is given. */
static double study_nodes(const rep__bpoint *p)
{
    if (p->nodes > 0) return p->nodes;
    if (p->threads > 0) return p->threads / 16.0;
    if (p->cores > 0) return p->cores / 16.0;
    return 0;
}

static int simscaling_runtime(rep__report *r, const char *ds, const simscaling_data *d,
                              const char *slug)
{
    rep__sb b = {0}, g = {0};
    char file[160], name[160], title[256], key[256];
    snprintf(file, sizeof file, "sim-runtime-%s.dat", slug);
    snprintf(name, sizeof name, "sim-runtime-%s", slug);
    double lo = INFINITY, hi = 0, xmax = 1;
    int full = 0;
    for (size_t k = 0; k < d->ns; k++) {
        series_key(&d->s[k], key, sizeof key);
        rep__sb_printf(&b, "# block %zu: %s: nodes threads wall_s speedup efficiency\n", k, key);
        for (size_t i = 0; i < d->s[k].n; i++) {
            const res_sim_row *s = d->s[k].row[i];
            rep__sb_printf(&b, "%d %d %.9g %.9g %.9g\n", s->nodes, s->threads, s->wall_s,
                           s->speedup, s->efficiency);
            lo = fmin(lo, s->wall_s);
            hi = fmax(hi, s->wall_s);
            xmax = fmax(xmax, s->nodes);
        }
        rep__sb_puts(&b, "\n\n");
        full |= d->s[k].full;
    }
    /* the study's absolute times only beside full-size simulations */
    size_t npts = 0;
    if (full) {
        rep__sb_printf(&b, "# block %zu: the study's times (stated or read from its plots): "
                           "nodes seconds \"what\"\n",
                       d->ns);
        for (size_t i = 0; i < d->npt; i++) {
            double x = study_nodes(&d->pt[i]);
            if (!(x > 0)) continue;
            rep__sb_printf(&b, "%g %.9g \"%s\"\n", x, d->pt[i].value, d->pt[i].what);
            lo = fmin(lo, d->pt[i].value);
            hi = fmax(hi, d->pt[i].value);
            xmax = fmax(xmax, x);
            npts++;
        }
        rep__sb_puts(&b, "\n\n");
    }
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'nodes (the study: 16 cores each)'\nset ylabel "
                           "'wall time (s)'\nset xrange [0.5:%g]\nset xtics 1\nset grid\n"
                           "set key below Left reverse\n",
                       xmax + 0.5);
        rep__axis(&g, "y", lo, hi, 1, 1);
        rep__sb_puts(&g, "plot ");
        for (size_t k = 0; k < d->ns; k++) {
            series_key(&d->s[k], key, sizeof key);
            rep__sb_printf(&g, "%s'%s' index %zu using 1:3 with linespoints dt 2 lw 2 pt 6 lc "
                               "rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, rep__palette[k % 8]);
            rep__gpq(&g, key);
        }
        /* labels right of the points on the left half, left of them on the right */
        double mid = 0.5 * (1 + xmax);
        if (npts)
            rep__sb_printf(&g, ", \\\n     '%s' index %zu using 1:2 with points pt 5 ps 1.3 lc "
                               "rgb 'black' title 'study: CASA 6.2 and prototype times "
                               "(stated or read from plot)', \\\n     '' index %zu using "
                               "1:($1 <= %g ? $2 : 1/0):3 with labels font ',7' offset 0.8,0.6 "
                               "left notitle, \\\n     '' index %zu using 1:($1 > %g ? $2 : "
                               "1/0):3 with labels font ',7' offset -0.8,0.6 right notitle",
                           file, d->ns, d->ns, mid, d->ns, mid);
        rep__sb_puts(&g, "\n");
        snprintf(title, sizeof title, "%s: simulated runtime on 1-%g nodes", ds, xmax);
        char cap[1200];
        snprintf(cap, sizeof cap,
                 "Dashed: the measured cell replayed on a simulated platform (harness simulate, "
                 "SimGrid), one curve per stored sweep over nodes; never a measurement. "
                 "%s Each study point is labelled with its nodes, threads or MPI processes, "
                 "and stated or read from plot (about +-10%%). Our imager is not CASA or the "
                 "prototype and the platform's core speed is assumed: compare shapes, and "
                 "times only as orders of magnitude.",
                 full ? (npts ? "The study's CASA and prototype times sit beside full-size "
                                "replays (the same workload's size)."
                              : "The study gives no times for this dataset.")
                      : "These replays are not at full size: the study's times are left out.");
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_SIMULATED | (npts ? REP__K_STUDY : 0),
                                 0, 0, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

static int simscaling_speedup(rep__report *r, const char *ds, const simscaling_data *d,
                              const char *slug)
{
    rep__sb b = {0}, g = {0};
    char file[160], name[160], title[256], key[256];
    snprintf(file, sizeof file, "sim-speedup-%s.dat", slug);
    snprintf(name, sizeof name, "sim-speedup-%s", slug);
    double hi = 1, xmax = 1;
    int nb = 0, blocks[MAX_SIM_SERIES];
    for (size_t k = 0; k < d->ns; k++) {
        const sim_series *c = &d->s[k];
        blocks[k] = -1;
        if (c->row[0]->nodes < 1 || !(c->row[0]->wall_s > 0)) continue;
        series_key(c, key, sizeof key);
        rep__sb_printf(&b, "# block %d: %s, against its own %d-node time: relative_nodes "
                           "speedup\n",
                       blocks[k] = nb++, key, c->row[0]->nodes);
        for (size_t i = 0; i < c->n; i++) {
            double rel = (double)c->row[i]->nodes / c->row[0]->nodes;
            double sp = c->row[0]->wall_s / c->row[i]->wall_s;
            rep__sb_printf(&b, "%g %.9g\n", rel, sp);
            hi = fmax(hi, sp);
            xmax = fmax(xmax, rel);
        }
        rep__sb_puts(&b, "\n\n");
    }
    int cb[8], bb[8];
    for (size_t k = 0; k < d->nbc && k < 8; k++) {
        const rep__bcurve *s = &d->bc[k];
        cb[k] = bb[k] = -1;
        if (s->n >= 2) {
            rep__sb_printf(&b, "# block %d: study %s (%s) against its one-node time %g s: "
                               "relative_nodes speedup\n",
                           cb[k] = nb++, s->system, s->label, s->t1);
            for (size_t i = 0; i < s->n; i++) {
                rep__sb_printf(&b, "%g %.9g\n", s->rel[i], s->speedup[i]);
                hi = fmax(hi, s->speedup[i]);
                xmax = fmax(xmax, s->rel[i]);
            }
            rep__sb_puts(&b, "\n\n");
        }
        if (!isnan(s->band_lo)) {
            double top = fmax(xmax, 8);
            rep__sb_printf(&b, "# block %d: study %s speedup range over 1 to %g nodes: "
                               "relative_nodes low high\n1 %.9g %.9g\n%g %.9g %.9g\n\n\n",
                           bb[k] = nb++, s->system, top, s->band_lo, s->band_hi, top,
                           s->band_lo, s->band_hi);
            hi = fmax(hi, s->band_hi);
        }
    }
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'nodes / the first (the study: nodes of 16 cores from "
                           "one node)'\nset ylabel 'speedup against the first node count'\n"
                           "set xrange [0.8:%g]\nset grid\nset key below Left reverse\n",
                       xmax * 1.1);
        rep__axis(&g, "y", 0, fmax(hi, xmax), 0, 1);
        rep__sb_puts(&g, "plot ");
        int first = 1;
        size_t pal = 0;
        for (size_t k = 0; k < d->ns; k++) {
            if (blocks[k] < 0) continue;
            series_key(&d->s[k], key, sizeof key);
            rep__sb_printf(&g, "%s'%s' index %d using 1:2 with linespoints dt 2 lw 2 pt 6 lc "
                               "rgb '%s' title ",
                           first ? "" : ", \\\n     ", file, blocks[k], rep__palette[pal++ % 8]);
            rep__gpq(&g, key);
            first = 0;
        }
        for (size_t k = 0; k < d->nbc && k < 8; k++) {
            char t[200];
            const char *colour = rep__palette[(pal + k) % 8];
            if (cb[k] >= 0) {
                snprintf(t, sizeof t, "study: %s (%s), 16 cores per node, normalised",
                         d->bc[k].system, d->bc[k].label);
                rep__sb_printf(&g, ", \\\n     '%s' index %d using 1:2 with linespoints lw 2 "
                                   "pt 5 lc rgb '%s' title ",
                               file, cb[k], colour);
                rep__gpq(&g, t);
            }
            if (bb[k] >= 0) {
                snprintf(t, sizeof t, "study: %s range over 1-8 nodes (16-128 cores), "
                                      "normalised", d->bc[k].system);
                rep__sb_printf(&g, ", \\\n     '%s' index %d using 1:2:3 with filledcurves fs "
                                   "transparent solid 0.2 lc rgb '%s' title ",
                               file, bb[k], colour);
                rep__gpq(&g, t);
            }
        }
        rep__sb_puts(&g, ", \\\n     x with lines dt 3 lc rgb 'gray40' title 'ideal'\n");
        snprintf(title, sizeof title, "%s: simulated speedup over nodes beside the study's", ds);
        const char *cap = "Dashed: simulated (the measured cell replayed, harness simulate); "
                          "solid and shaded: the study's CASA 6.2 and prototype figures (read "
                          "from its plots, about +-10%), each normalised to its own one-node "
                          "time. CASA's flat range is the stagnation the study reports; the "
                          "simulated curves are our imager's schedule on the study's platform.";
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_SIMULATED | (d->nbc ? REP__K_STUDY : 0),
                                 0, 0, cap, file, rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

int rep__simscaling_render(rep__report *r, const char *ds, const void *data)
{
    const simscaling_data *d = data;
    char slug[80];
    rep__slug(slug, sizeof slug, ds);
    int rc = simscaling_runtime(r, ds, d, slug);
    if (!rc) rc = simscaling_speedup(r, ds, d, slug);
    return rc;
}

/* ---- a simulated task stream ------------------------------------------------------- */

typedef struct simgantt_data {
    const res_sim_row *sim;
    int beside;       /* the measured task stream is of its dataset and layout */
    res_task *t;
    size_t n;
    int truncated;
} simgantt_data;

void rep__simgantt_release(void *data)
{
    simgantt_data *d = data;
    if (!d) return;
    ib_free(d->t);
    ib_free(d);
}

/* The stream to draw: first one of the measured stream's dataset and
 * layout (its prediction from the 1-core cell, drawn beside it), then the
 * one with most ranks, then most events. */
int rep__simgantt_data(rep__report *r, const char *dataset, void **out)
{
    (void)dataset;
    *out = NULL;
    int rc = rep__sims(r);
    if (rc) return rc;
    const res_sim_row *pick = NULL;
    const rep_cell_data *g = rep__gantt_cell(r);
    int pmine = 0;
    for (size_t i = 0; i < r->nsims; i++) {
        const res_sim_row *s = &r->sims[i];
        if (!s->nstream) continue;
        int mine = g && !strcmp(s->dataset, g->dataset) && s->nodes == (g->nodes ? g->nodes : 1) &&
                   s->threads == (g->threads ? g->threads : 1);
        if (!pick || mine > pmine ||
            (mine == pmine && (s->nodes > pick->nodes ||
                               (s->nodes == pick->nodes && s->nstream > pick->nstream)))) {
            pick = s;
            pmine = mine;
        }
    }
    if (!pick) return 0;
    simgantt_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    d->sim = pick;
    d->beside = pmine;
    rc = res_report_sim_tasks(r->e, r->db, pick->id, MAX_SIM_GANTT, &d->t, &d->n, &d->truncated);
    if (rc || !d->n) {
        rep__simgantt_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

int rep__simgantt_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    const simgantt_data *d = data;
    const res_sim_row *s = d->sim;
    rep__doc_head(&r->body, 2, "sim-gantt", "Task stream, simulated");
    char file[160], name[128], title[400], what[600];
    snprintf(name, sizeof name, "sim-gantt-%lld", (long long)s->id);
    snprintf(file, sizeof file, "%s.dat", name);
    snprintf(what, sizeof what, "SIMULATED task stream: simulation %lld (%s), cell %lld "
                                "replayed on %d x %d of platform %s",
             (long long)s->id, s->purpose, (long long)s->cell_id, s->nodes, s->threads,
             s->platform);
    rep__sb g = {0};
    int rc = rep__gantt_plot(r, d->t, d->n, file, what, "simulated: ", &g);
    if (!rc) {
        snprintf(title, sizeof title, "simulated task stream: cell %lld (%s) on %d x %d, %s",
                 (long long)s->cell_id, s->dataset, s->nodes, s->threads, s->platform);
        char cap[1200];
        snprintf(cap, sizeof cap,
                 "Every simulated task of simulation %lld (harness simulate, %s: cell %lld "
                 "recorded on %d x %d, replayed on %d ranks x %d threads of platform %s; "
                 "predicted wall time %.4g s), one row per rank and thread, coloured by phase, "
                 "drawn by the same code as the measured task stream%s. Nothing here was "
                 "measured.%s",
                 (long long)s->id, s->purpose, (long long)s->cell_id, s->cell_nodes,
                 s->cell_threads, s->nodes, s->threads, s->platform, s->wall_s,
                 d->beside ? " (the one above: the same dataset and layout, measured)" : "",
                 d->truncated ? " Truncated: only the first tasks are drawn." : "");
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_SIMULATED, 0, 0, cap, file,
                                 rep__sb_str(&g));
    }
    rep__sb_release(&g);
    return rc;
}

/* ---- validation on this machine ----------------------------------------------------- */

int rep__sim_validation(const res_sim_row *sims, size_t n, rep__simval **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    rep__simval *v = ib_calloc(n ? n : 1, sizeof *v);
    if (!v) return IB_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const res_sim_row *s = &sims[i];
        if (strcmp(s->purpose, "validate") || s->nodes * s->threads <= 1) continue;
        rep__simval *x = &v[k++];
        x->sim = s;
        x->predicted = s->wall_s;
        x->measured = s->measured_wall_s;
        x->err = rep__sim_error(x->predicted, x->measured);
        x->flagged = rep__sim_flagged(x->err);
        /* the 1-core cell it was predicted from: its replay as itself */
        x->base = NAN;
        for (size_t j = 0; j < n; j++)
            if (!strcmp(sims[j].purpose, "validate") && sims[j].cell_id == s->cell_id &&
                sims[j].nodes * sims[j].threads == 1 && !strcmp(sims[j].platform, s->platform))
                x->base = sims[j].measured_wall_s;
        if (isnan(x->base) && s->speedup > 0) x->base = s->speedup * s->wall_s;
    }
    *out = v;
    *nout = k;
    return 0;
}

typedef struct simval_data {
    rep__simval *v;
    size_t n;
} simval_data;

void rep__simvalidate_release(void *data)
{
    simval_data *d = data;
    if (!d) return;
    ib_free(d->v);
    ib_free(d);
}

int rep__simvalidate_data(rep__report *r, const char *dataset, void **out)
{
    (void)dataset;
    *out = NULL;
    int rc = rep__sims(r);
    if (rc) return rc;
    simval_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    if (rep__sim_validation(r->sims, r->nsims, &d->v, &d->n)) {
        rep__simvalidate_release(d);
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    *out = d; /* rendered even when empty: it says how to make the section */
    return 0;
}

int rep__simvalidate_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    const simval_data *d = data;
    rep__doc *doc = &r->body;
    rep__doc_head(doc, 2, "sim-validation", "Simulation validated on this machine");
    if (!d->n) {
        rep__doc_para(doc, "No validation stored for this run's cells: `harness simulate "
                           "--validate --db F` predicts each 2-core cell (1x2, 2x1) from the "
                           "1-core cell with the same parameters and stores the predictions "
                           "(`make run` does).%s",
                      r->nsims ? "" : " No simulation of this run's cells is stored at all, "
                                      "so no simulated figure is drawn.");
        return 0;
    }
    size_t within = 0;
    double worst = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!isfinite(d->v[i].err)) continue;
        within += !d->v[i].flagged;
        if (fabs(d->v[i].err) > fabs(worst)) worst = d->v[i].err;
    }
    rep__doc_para(doc, "Each 2-core cell of the run predicted by `harness simulate --validate` "
                       "from the 1-core (1x1) cell with the same parameters, on this machine's "
                       "platform, against the measured median wall time: %zu of %zu "
                       "predictions within %.0f%%, largest error %+.1f%%. Errors over %.0f%% "
                       "are flagged. Measured on a shared machine, the medians move with the "
                       "other tenants' load (docs/simulate.md).",
                  within, d->n, 100 * REP__SIM_TOLERANCE, 100 * worst, 100 * REP__SIM_TOLERANCE);
    static const char *const head[] = {"dataset", "layout", "from cell", "1x1 measured",
                                       "predicted (simulated)", "measured (median)", "error",
                                       "contention", "flag"};
    size_t t = rep__doc_table(doc, "simval", "predicted from the 1-core cell (simulated) "
                                             "against measured here",
                              9, head);
    rep__sb b = {0}, g = {0};
    rep__sb_puts(&b, "# validation: measured_s predicted_s error flagged \"dataset layout\"\n");
    double lo = INFINITY, hi = 0;
    for (size_t i = 0; i < d->n; i++) {
        const rep__simval *x = &d->v[i];
        char base[32], pred[32], meas[32];
        rep__fmt(base, sizeof base, x->base, "s");
        rep__fmt(pred, sizeof pred, x->predicted, "s");
        rep__fmt(meas, sizeof meas, x->measured, "s");
        rep__doc_cell(doc, t, "%s", x->sim->dataset);
        rep__doc_cell(doc, t, "%dx%d", x->sim->nodes, x->sim->threads);
        rep__doc_cell(doc, t, "%lld", (long long)x->sim->cell_id);
        rep__doc_cell(doc, t, "%s", base);
        rep__doc_cell(doc, t, "%s", pred);
        rep__doc_cell(doc, t, "%s", meas);
        if (isfinite(x->err)) rep__doc_cell(doc, t, "%+.1f%%", 100 * x->err);
        else rep__doc_cell(doc, t, "-");
        if (isfinite(x->sim->contention)) rep__doc_cell(doc, t, "%.3f", x->sim->contention);
        else rep__doc_cell(doc, t, "-");
        rep__doc_cell(doc, t, "%s", x->flagged ? "OFF BY MORE THAN 15%" : "");
        if (isfinite(x->err)) {
            rep__sb_printf(&b, "%.9g %.9g %.6g %d \"%s %dx%d\"\n", x->measured, x->predicted,
                           x->err, x->flagged, x->sim->dataset, x->sim->nodes, x->sim->threads);
            lo = fmin(lo, fmin(x->measured, x->predicted));
            hi = fmax(hi, fmax(x->measured, x->predicted));
        }
    }
    int rc = 0;
    if (hi > 0) {
        rc = rep__data_file(r, "sim-validation.dat", &b);
        if (!rc) {
            rep__sb_puts(&g, "set xlabel 'measured median wall time (s)'\nset ylabel "
                             "'predicted wall time (s, simulated)'\nset grid\nset key below "
                             "Left reverse\n");
            rep__axis(&g, "x", lo, hi, 1, 1);
            rep__axis(&g, "y", lo, hi, 1, 1);
            rep__sb_puts(&g, "plot 'sim-validation.dat' using 1:($4 == 0 ? $2 : 1/0) with "
                             "points pt 7 ps 1.3 lc rgb '#1f77b4' title 'simulated: within "
                             "15%', \\\n     '' using 1:($4 == 1 ? $2 : 1/0) with points pt 9 "
                             "ps 1.6 lc rgb '#d62728' title 'simulated: OFF BY MORE THAN 15%', "
                             "\\\n     '' using 1:2:5 with labels font ',7' offset 0.7,0 left "
                             "notitle, \\\n     x with lines lc rgb 'gray40' title "
                             "'predicted = measured', \\\n     1.15*x with lines dt 2 lc rgb "
                             "'gray60' title '+-15%', 0.85*x with lines dt 2 lc rgb 'gray60' "
                             "notitle\n");
            const char *cap = "Each 2-core cell: x its measured median, y its prediction "
                              "from the 1-core cell (simulated). Points off the dashed +-15% "
                              "lines are flagged.";
            rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                       : rep__figure(r, "sim-validation",
                                     "simulation against measurement: 2-core cells",
                                     REP__K_MEASURED | REP__K_SIMULATED, 1, 2, cap,
                                     "sim-validation.dat", rep__sb_str(&g));
        }
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

/* ---- the study's effects, reproduced by simulation ------------------------------------ */

typedef struct simstudy_data {
    const res_sim_row *w[MAX_SIM_POINTS]; /* writes */
    size_t nw;
    const res_sim_row *c[3 * MAX_SIM_POINTS]; /* chunks */
    size_t nc;
    const res_sim_row *s[MAX_SIM_POINTS]; /* support */
    size_t nsup;
} simstudy_data;

void rep__simstudy_release(void *data) { ib_free(data); }

int rep__simstudy_data(rep__report *r, const char *dataset, void **out)
{
    (void)dataset;
    *out = NULL;
    int rc = rep__sims(r);
    if (rc) return rc;
    simstudy_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->nsims; i++) {
        const res_sim_row *s = &r->sims[i];
        if (strcmp(s->purpose, "study") || !(s->wall_s > 0)) continue;
        if (!strcmp(s->label, RES_SIM_STUDY_WRITES) && d->nw < MAX_SIM_POINTS) d->w[d->nw++] = s;
        if (!strcmp(s->label, RES_SIM_STUDY_CHUNKS) && d->nc < 3 * MAX_SIM_POINTS)
            d->c[d->nc++] = s;
        if (!strcmp(s->label, RES_SIM_STUDY_SUPPORT) && d->nsup < MAX_SIM_POINTS)
            d->s[d->nsup++] = s;
    }
    if (!d->nw && !d->nc && !d->nsup) {
        ib_free(d);
        return 0;
    }
    *out = d;
    return 0;
}

/* Which of the writes variants s is: 0 parallel, 1 serial (CASA-like),
 * 2 Dask-like (dynamic with a set overhead). */
static int writes_variant(const res_sim_row *s)
{
    if (s->serial_write) return 1;
    return strcmp(s->schedule, "dynamic") == 0 ? 2 : 0;
}

/* Which chunk variant: 0 each thread pays the overhead, 1 central, 2 none. */
static int chunks_variant(const res_sim_row *s)
{
    if (s->central) return 1;
    return s->overhead_s > 0 ? 0 : 2;
}

/* The first baseline row of dataset with metric and system prefix; NULL none. */
static void study_rows(const rep__report *r, const char *ds, const char *metric, rep__sb *b,
                       int chunked, size_t *n)
{
    for (size_t i = 0; i < r->nbaselines; i++) {
        const res_baseline_row *x = &r->baselines[i];
        if (strcmp(x->dataset, ds) || strcmp(x->metric, metric) || !(x->value > 0)) continue;
        if (chunked && x->chunks <= 0) continue;
        rep__sb_printf(b, "%d %.9g \"%s%s\"\n", chunked ? x->chunks : x->nodes, x->value,
                       strncmp(x->system, "casa", 4) == 0 ? "CASA 6.2" : x->system,
                       rep__bapprox(x) ? ", read from plot" : ", stated");
        ++*n;
    }
}

static int study_writes_fig(rep__report *r, const simstudy_data *d)
{
    static const char *const names[3] = {
        "simulated: parallel writes (our imager)",
        "simulated: serial writes through rank 0 (CASA-like)",
        "simulated: Dask-like (dynamic, 100 ms per task)"};
    rep__sb b = {0}, g = {0};
    const char *ds = d->w[0]->dataset;
    double hi = 1, xmax = 1;
    size_t blocks = 0;
    int has[3] = {0, 0, 0};
    for (int m = 0; m < 3; m++) {
        double w1 = NAN;
        int n1 = 0;
        for (size_t i = 0; i < d->nw; i++)
            if (writes_variant(d->w[i]) == m && (n1 == 0 || d->w[i]->nodes < n1)) {
                n1 = d->w[i]->nodes;
                w1 = d->w[i]->wall_s;
            }
        rep__sb_printf(&b, "# block %zu: %s: nodes threads wall_s speedup_vs_%d_node\n", blocks,
                       names[m], n1);
        for (int nodes = 1; nodes <= 1024; nodes++)
            for (size_t i = 0; i < d->nw; i++)
                if (writes_variant(d->w[i]) == m && d->w[i]->nodes == nodes) {
                    double sp = w1 / d->w[i]->wall_s;
                    rep__sb_printf(&b, "%d %d %.9g %.9g\n", nodes, d->w[i]->threads,
                                   d->w[i]->wall_s, sp);
                    hi = fmax(hi, sp);
                    xmax = fmax(xmax, nodes);
                    has[m]++;
                }
        rep__sb_puts(&b, "\n\n");
        blocks++;
    }
    /* the study: CASA's and the prototype's speedups, normalised to one node */
    rep__bcurve *bc = NULL;
    size_t nbc = 0;
    if (rep__study_curves(r->baselines, r->nbaselines, ds, &bc, &nbc))
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    int cb[8], bb[8];
    for (size_t k = 0; k < nbc && k < 8; k++) {
        cb[k] = bb[k] = -1;
        if (bc[k].n >= 2) {
            rep__sb_printf(&b, "# block %zu: study %s (%s): relative_nodes speedup\n",
                           blocks, bc[k].system, bc[k].label);
            cb[k] = (int)blocks++;
            for (size_t i = 0; i < bc[k].n; i++) {
                rep__sb_printf(&b, "%g %.9g\n", bc[k].rel[i], bc[k].speedup[i]);
                hi = fmax(hi, bc[k].speedup[i]);
            }
            rep__sb_puts(&b, "\n\n");
        }
        if (!isnan(bc[k].band_lo)) {
            rep__sb_printf(&b, "# block %zu: study %s range over 1-8 nodes\n1 %.9g %.9g\n"
                               "8 %.9g %.9g\n\n\n",
                           blocks, bc[k].system, bc[k].band_lo, bc[k].band_hi, bc[k].band_lo,
                           bc[k].band_hi);
            bb[k] = (int)blocks++;
            hi = fmax(hi, bc[k].band_hi);
        }
    }
    int rc = rep__data_file(r, "sim-study-writes.dat", &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'nodes (16 threads each)'\nset ylabel 'speedup against "
                           "1 node'\nset xrange [0.5:%g]\nset xtics 1\nset grid\nset key below "
                           "Left reverse\n",
                       fmax(xmax, 8) + 0.5);
        rep__axis(&g, "y", 0, fmax(hi, xmax), 0, 1);
        rep__sb_puts(&g, "plot ");
        int first = 1;
        static const char *const colours[3] = {"#1f77b4", "#d62728", "#2ca02c"};
        for (int m = 0; m < 3; m++) {
            if (!has[m]) continue;
            rep__sb_printf(&g, "%s'sim-study-writes.dat' index %d using 1:4 with linespoints "
                               "dt 2 lw 2 pt 6 lc rgb '%s' title ",
                           first ? "" : ", \\\n     ", m, colours[m]);
            rep__gpq(&g, names[m]);
            first = 0;
        }
        for (size_t k = 0; k < nbc && k < 8; k++) {
            char t[200];
            int casa = strncmp(bc[k].system, "casa", 4) == 0;
            const char *col = casa ? "#8c564b" : "#9467bd";
            if (cb[k] >= 0) {
                snprintf(t, sizeof t, "study: %s (%s), normalised", bc[k].system, bc[k].label);
                rep__sb_printf(&g, ", \\\n     'sim-study-writes.dat' index %d using 1:2 with "
                                   "linespoints lw 2 pt 5 lc rgb '%s' title ",
                               cb[k], col);
                rep__gpq(&g, t);
            }
            if (bb[k] >= 0) {
                snprintf(t, sizeof t, "study: %s range over 1-8 nodes (16-128 cores), "
                                      "normalised", bc[k].system);
                rep__sb_printf(&g, ", \\\n     'sim-study-writes.dat' index %d using 1:2:3 with "
                                   "filledcurves fs transparent solid 0.2 lc rgb '%s' title ",
                               bb[k], col);
                rep__gpq(&g, t);
            }
        }
        rep__sb_puts(&g, ", \\\n     x with lines dt 3 lc rgb 'gray40' title 'ideal'\n");
        char title[256], cap[1000];
        snprintf(title, sizeof title, "serial writes stagnate past one node: %s at full size",
                 ds);
        snprintf(cap, sizeof cap,
                 "The study's explanation of CASA's flat 1-8 node runtime (serial image "
                 "writes through one process), reproduced: the same full-size replay of cell "
                 "%lld on the study's platform with every plane written by rank 0 (CASA-like) "
                 "against parallel writes and a Dask-like schedule. Study curves normalised to "
                 "their one-node time (16 cores per node; read from its plots, about +-10%%).",
                 (long long)d->w[0]->cell_id);
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, "sim-study-writes", title,
                                 REP__K_SIMULATED | (nbc ? REP__K_STUDY : 0), 0, 0, cap,
                                 "sim-study-writes.dat", rep__sb_str(&g));
    }
    ib_free(bc);
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

static int study_chunks_fig(rep__report *r, const simstudy_data *d)
{
    static const char *const names[3] = {
        "simulated: 100 ms per task, paid by each thread",
        "simulated: 100 ms per task, one central scheduler (Dask-like)",
        "simulated: no overhead"};
    rep__sb b = {0}, g = {0};
    const char *ds = d->c[0]->dataset;
    double lo = INFINITY, hi = 0;
    int cmin = 0, cmax = 0;
    for (int m = 0; m < 3; m++) {
        rep__sb_printf(&b, "# block %d: %s: chunks wall_s\n", m, names[m]);
        for (int ch = 1; ch <= 1 << 20; ch *= 2)
            for (size_t i = 0; i < d->nc; i++)
                if (chunks_variant(d->c[i]) == m && d->c[i]->chunks == ch) {
                    rep__sb_printf(&b, "%d %.9g\n", ch, d->c[i]->wall_s);
                    lo = fmin(lo, d->c[i]->wall_s);
                    hi = fmax(hi, d->c[i]->wall_s);
                    cmin = cmin && cmin < ch ? cmin : ch;
                    cmax = cmax > ch ? cmax : ch;
                }
        rep__sb_puts(&b, "\n\n");
    }
    size_t nst = 0;
    rep__sb_puts(&b, "# block 3: the study's prototype times against chunks: chunks seconds "
                     "\"system\"\n");
    study_rows(r, ds, "wall_time", &b, 1, &nst);
    rep__sb_puts(&b, "\n\n");
    for (size_t i = 0; i < r->nbaselines; i++) {
        const res_baseline_row *x = &r->baselines[i];
        if (!strcmp(x->dataset, ds) && !strcmp(x->metric, "wall_time") && x->chunks > 0 &&
            x->value > 0) {
            lo = fmin(lo, x->value);
            hi = fmax(hi, x->value);
            cmin = cmin && cmin < x->chunks ? cmin : x->chunks;
            cmax = cmax > x->chunks ? cmax : x->chunks;
        }
    }
    int rc = rep__data_file(r, "sim-study-chunks.dat", &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'chunks'\nset ylabel 'wall time (s)'\nset grid\n"
                           "set key below Left reverse\n");
        rep__axis(&g, "x", cmin, cmax, 2, 0);
        rep__axis(&g, "y", lo, hi, 1, 1);
        rep__sb_puts(&g, "plot ");
        static const char *const colours[3] = {"#1f77b4", "#d62728", "#7f7f7f"};
        for (int m = 0; m < 3; m++) {
            rep__sb_printf(&g, "%s'sim-study-chunks.dat' index %d using 1:2 with linespoints dt 2 "
                               "lw 2 pt 6 lc rgb '%s' title ",
                           m ? ", \\\n     " : "", m, colours[m]);
            rep__gpq(&g, names[m]);
        }
        if (nst)
            rep__sb_puts(&g, ", \\\n     'sim-study-chunks.dat' index 3 using 1:2 with points "
                             "pt 5 ps 1.5 lc rgb 'black' title 'study: prototype, 1 node x 16 "
                             "threads (read from plot)', \\\n     '' index 3 using 1:2:3 with "
                             "labels font ',7' offset 0.8,0.6 left notitle");
        rep__sb_puts(&g, "\n");
        char title[256], cap[1000];
        snprintf(title, sizeof title, "chunk count with 100 ms tasks: %s at full size, 1 node x "
                                      "16 threads", ds);
        snprintf(cap, sizeof cap,
                 "The right side of the study's chunk U-curve (~400 s at 64 chunks, ~2280 s at "
                 "512, read from its plot) against the full-size replay of cell %lld with 100 "
                 "ms of scheduler overhead per task (per thread, or one central scheduler) and "
                 "with none. Where the dashed curves stay flat, a 100 ms overhead per task does "
                 "not explain the study's rise.",
                 (long long)d->c[0]->cell_id);
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, "sim-study-chunks", title,
                                 REP__K_SIMULATED | (nst ? REP__K_STUDY : 0), 0, 0, cap,
                                 "sim-study-chunks.dat", rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

static int study_support_fig(rep__report *r, const simstudy_data *d)
{
    /* speedup of the most nodes over the fewest, per support and scheduler */
    rep__sb b = {0}, g = {0};
    const char *ds = d->s[0]->dataset;
    int n1 = 0, n2 = 0, threads = d->s[0]->threads;
    for (size_t i = 0; i < d->nsup; i++) {
        n1 = n1 && n1 < d->s[i]->nodes ? n1 : d->s[i]->nodes;
        n2 = n2 > d->s[i]->nodes ? n2 : d->s[i]->nodes;
    }
    double hi = (double)n2 / (n1 ? n1 : 1);
    size_t npts[2] = {0, 0};
    for (int central = 0; central < 2; central++) {
        rep__sb_printf(&b, "# block %d: simulated, %s: support wall_%dnode_s wall_%dnode_s "
                           "speedup\n",
                       central, central ? "one central scheduler" : "overhead per thread", n1,
                       n2);
        for (int sup = 1; sup <= 512; sup++) {
            const res_sim_row *a = NULL, *z = NULL;
            for (size_t i = 0; i < d->nsup; i++) {
                const res_sim_row *s = d->s[i];
                if ((s->support ? s->support : 7) != sup || s->central != central) continue;
                if (s->nodes == n1) a = s;
                if (s->nodes == n2) z = s;
            }
            if (!a || !z || a == z) continue;
            double sp = a->wall_s / z->wall_s;
            rep__sb_printf(&b, "%d %.9g %.9g %.9g\n", sup, a->wall_s, z->wall_s, sp);
            hi = fmax(hi, sp);
            npts[central]++;
        }
        rep__sb_puts(&b, "\n\n");
    }
    size_t nst = 0;
    rep__sb_puts(&b, "# block 2: the study's speedups of 80 over 16 threads: support speedup "
                     "\"system\"\n");
    for (size_t i = 0; i < r->nbaselines; i++) {
        const res_baseline_row *x = &r->baselines[i];
        rep__bnote nt;
        rep__bnote_parse(x, &nt);
        if (strcmp(x->dataset, ds) || strcmp(x->metric, "speedup") || !nt.support) continue;
        rep__sb_printf(&b, "%d %.9g \"%d x 16 threads over 16, %s\"\n", nt.support, x->value,
                       x->threads > 0 ? x->threads / 16 : 0,
                       rep__bapprox(x) ? "read from plot" : "stated");
        hi = fmax(hi, x->value);
        nst++;
    }
    rep__sb_puts(&b, "\n\n");
    int rc = 0;
    if (!npts[0] && !npts[1]) goto done;
    rc = rep__data_file(r, "sim-study-support.dat", &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'kernel support W (W x W)'\nset ylabel 'speedup of %d "
                           "nodes over %d (%d threads each)'\nset grid\nset key below Left "
                           "reverse\nset xrange [0:60]\nset xtics (7, 17, 31, 51)\n",
                       n2, n1, threads);
        rep__axis(&g, "y", 0, hi, 0, 1);
        rep__sb_printf(&g, "plot 'sim-study-support.dat' index 0 using 1:4 with linespoints dt 2 "
                           "lw 2 pt 6 lc rgb '#1f77b4' title 'simulated: 100 ms per task, each "
                           "thread', \\\n     '' index 1 using 1:4 with linespoints dt 2 lw 2 pt "
                           "6 lc rgb '#d62728' title 'simulated: 100 ms per task, one central "
                           "scheduler'%s, \\\n     %g with lines dt 3 lc rgb 'gray40' title "
                           "'ideal (%g)'\n",
                       nst ? ", \\\n     '' index 2 using 1:2 with points pt 5 ps 1.5 lc rgb "
                             "'black' title 'study: prototype (read from plot)', \\\n     '' "
                             "index 2 using 1:2:3 with labels font ',7' offset -0.8,0.6 right "
                             "notitle"
                           : "",
                       (double)n2 / n1, (double)n2 / n1);
        char title[256], cap[1000];
        snprintf(title, sizeof title, "speedup per kernel support: %s at full size, %d over %d "
                                      "threads", ds, n2 * threads, n1 * threads);
        snprintf(cap, sizeof cap,
                 "The study: 4.45 at 51x51 against 3.43 at 17x17 (80 against 16 threads, read "
                 "from its plot). Simulated: each support's cell of this run replayed at full "
                 "size on the study's platform, %d and %d nodes of %d threads, dynamic "
                 "schedule with 100 ms per task. A larger kernel means more compute for the "
                 "same reads and overheads, so the speedup grows with the support.",
                 n1, n2, threads);
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, "sim-study-support", title,
                                 REP__K_SIMULATED | (nst ? REP__K_STUDY : 0), 0, 0, cap,
                                 "sim-study-support.dat", rep__sb_str(&g));
    }
done:
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

int rep__simstudy_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    const simstudy_data *d = data;
    rep__doc_head(&r->body, 2, "sim-study", "The study's effects, reproduced by simulation");
    rep__doc_para(&r->body, "`harness simulate --study` replays this run's cells at their "
                            "datasets' full size on the study's platform "
                            "(workloads/platforms/study-cluster.yaml; its figures stated by the "
                            "study or assumed, docs/simulate.md). Each figure sits beside the "
                            "study's own; every simulated curve is dashed.");
    int rc = 0;
    if (d->nw) rc = study_writes_fig(r, d);
    if (!rc && d->nc) rc = study_chunks_fig(r, d);
    if (!rc && d->nsup) rc = study_support_fig(r, d);
    return rc;
}
