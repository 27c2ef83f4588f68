/*
 * fig_sweeps.c: the sweeps at fixed cores — runtime against chunk count
 * (the study's U-curve, with the bytes spilled), and against kernel
 * support; where each support has its own sweep over cores, the speedup
 * per support on cores beside the study's 80-against-16-thread speedups.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLOT_SERIES 6

typedef struct sweep_data {
    rep__series *s;
    size_t ns;
    rep__cores_group *g;  /* support: cores groups, one per support (when any) */
    size_t ng;
    size_t pick[16];      /* groups drawn, ascending support */
    size_t npick;
} sweep_data;

static void sweep_release(void *data)
{
    sweep_data *d = data;
    rep__series_free(d->s, d->ns);
    rep__cores_groups_free(d->g, d->ng);
    ib_free(d);
}

void rep__chunks_release(void *data) { sweep_release(data); }
void rep__support_release(void *data) { sweep_release(data); }

/* Cores of a series' cells (they share ranks and threads). */
static int series_cores(const rep_run_data *r, const rep__series *s)
{
    const rep_cell_data *c = &r->cells[s->cell[0]];
    return (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
}

int rep__chunks_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    sweep_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = rep__series_along(r->e, &r->run, ds, REP__AXIS_CHUNKS, 2, &d->s, &d->ns);
    if (rc || !d->ns) {
        sweep_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

int rep__chunks_render(rep__report *r, const char *ds, const void *data)
{
    const sweep_data *d = data;
    size_t np = d->ns < MAX_PLOT_SERIES ? d->ns : MAX_PLOT_SERIES;
    int spill = 0, spill_recorded = 0, clo = 0, chi = 0;
    double lo = INFINITY, hi = 0, shi = 0, xlo = INFINITY, xhi = 0;
    rep__sb b = {0}, g = {0};
    for (size_t k = 0; k < d->ns; k++) {
        rep__sb_printf(&b, "# series %zu: %s\n# chunks median_s min_s max_s repeats "
                           "spill_median_bytes spill_min spill_max\n",
                       k, d->s[k].label);
        int c = series_cores(&r->run, &d->s[k]);
        clo = !clo || c < clo ? c : clo;
        chi = c > chi ? c : chi;
        for (size_t i = 0; i < d->s[k].n; i++) {
            const rep_cell_data *cl = &r->run.cells[d->s[k].cell[i]];
            rep__mmm w, sp;
            if (rep__mmm_of(rep__metric(cl, "wall_time"), &w)) continue;
            if (rep__mmm_of(rep__metric(cl, "spill_bytes"), &sp) == 0) {
                spill_recorded = 1;
                if (sp.hi > 0) spill = 1;
                shi = fmax(shi, sp.med);
            }
            if (k < np) {
                lo = fmin(lo, w.lo);
                hi = fmax(hi, w.hi);
                xlo = fmin(xlo, d->s[k].x[i]);
                xhi = fmax(xhi, d->s[k].x[i]);
            }
            rep__sb_printf(&b, "%g %.9g %.9g %.9g %zu %.9g %.9g %.9g\n", d->s[k].x[i], w.med,
                           w.lo, w.hi, w.n, sp.n ? sp.med : 0, sp.n ? sp.lo : 0,
                           sp.n ? sp.hi : 0);
        }
        rep__sb_puts(&b, "\n\n");
    }
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "chunks-%s.dat", slug);
    snprintf(name, sizeof name, "chunks-%s", slug);
    snprintf(title, sizeof title, "%s: runtime vs chunk count", ds);
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'chunks'\nset ylabel 'wall time (s): median, min-max'\n"
                           "set logscale x 2\nset xrange [%g:%g]\nset xtics\nset grid\n"
                           "set key below Left reverse\n",
                       xlo / 1.3, xhi * 1.3);
        rep__axis(&g, "y", lo, hi, 1, 1);
        if (spill) {
            rep__sb_puts(&g, "set y2label 'spilled bytes (median)'\nset ytics nomirror\n");
            rep__axis(&g, "y2", 0, shi, 0, 1);
        }
        rep__sb_puts(&g, "plot ");
        for (size_t k = 0; k < np; k++) {
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, rep__palette[k % 8]);
            rep__gpq(&g, d->s[k].label);
            if (spill) {
                char t[300];
                rep__sb_printf(&g, ", \\\n     '' index %zu using 1:6 axes x1y2 with "
                                   "linespoints dt 3 pt 4 lc rgb '%s' title ",
                               k, rep__palette[k % 8]);
                snprintf(t, sizeof t, "spilled bytes: %s", d->s[k].label);
                rep__gpq(&g, t);
            }
        }
        rep__sb_puts(&g, "\n");
        char cap[700];
        snprintf(cap, sizeof cap,
                 "Runtime against chunk count at fixed ranks and threads (the study's "
                 "U-curve: too few chunks idle cores and spill, too many cost scheduling). "
                 "Median with min-max over the repeats.%s%s",
                 spill            ? " Dotted, right axis: bytes spilled to disk (median)."
                 : spill_recorded ? " Nothing was spilled: the memory budget was never "
                                    "exceeded."
                                  : " No spill was recorded (no memory budget set for these "
                                    "cells).",
                 d->ns > np ? " The first 6 series are drawn; all are in the data file." : "");
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, clo, chi, cap, file,
                                 rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

/* ---- kernel support ------------------------------------------------------------------ */

int rep__support_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    sweep_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = rep__cores_groups(r->e, &r->run, ds, &d->g, &d->ng);
    /* cores groups that differ in support: one per support, ascending */
    for (size_t k = 0; !rc && k < d->ng && d->npick < 16; k++) {
        if (d->g[k].ncores < 2) continue;
        int sup = r->run.cells[d->g[k].l[0].cell].support, dup = 0;
        for (size_t q = 0; q < d->npick; q++)
            dup |= r->run.cells[d->g[d->pick[q]].l[0].cell].support == sup;
        if (dup) continue;
        size_t q = d->npick++;
        while (q > 0 && r->run.cells[d->g[d->pick[q - 1]].l[0].cell].support > sup) {
            d->pick[q] = d->pick[q - 1];
            q--;
        }
        d->pick[q] = k;
    }
    if (!rc && d->npick < 2) {
        d->npick = 0;
        rc = rep__series_along(r->e, &r->run, ds, REP__AXIS_SUPPORT, 2, &d->s, &d->ns);
    }
    if (rc || (!d->npick && !d->ns)) {
        sweep_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* Speedup on cores per support, with the study's support speedups. */
static int support_speedups(rep__report *r, const char *ds, const sweep_data *d)
{
    rep__sb b = {0}, g = {0}, sd = {0};
    size_t nstudy = 0;
    for (size_t i = 0; i < r->nbaselines; i++) {
        const res_baseline_row *x = &r->baselines[i];
        rep__bnote nt;
        rep__bnote_parse(x, &nt);
        if (strcmp(x->dataset, ds) || strcmp(x->metric, "speedup") || !nt.support ||
            x->threads <= 0 || x->threads % 16)
            continue;
        rep__sb_printf(&sd, "%g %.9g %d %s\n", x->threads / 16.0, x->value, nt.support, x->system);
        nstudy++;
    }
    double hi = 1, xmax = 1;
    for (size_t q = 0; q < d->npick; q++) {
        const rep__cores_group *gr = &d->g[d->pick[q]];
        rep__sb_printf(&b, "# block %zu: support %d (%s)\n# relative_cores speedup ci95_lo "
                           "ci95_hi\n",
                       q, r->run.cells[gr->l[0].cell].support, gr->label);
        for (size_t i = 0; i < gr->n; i++) {
            rep_ci ci;
            if (rep__speedup(&r->run, gr, i, r->o->boot, r->o->seed + i, &ci)) continue;
            double rel = (double)gr->l[i].cores / gr->l[gr->base].cores;
            rep__sb_printf(&b, "%g %.9g %.9g %.9g\n", rel, ci.est, ci.lo, ci.hi);
            hi = fmax(hi, ci.hi);
            xmax = fmax(xmax, rel);
        }
        rep__sb_puts(&b, "\n\n");
    }
    if (nstudy) {
        rep__sb_printf(&b, "# block %zu: the study, speedup of 80 against 16 threads (x = "
                           "threads/16): x speedup support system\n%s\n\n",
                       d->npick, rep__sb_str(&sd));
        xmax = fmax(xmax, 5);
        hi = fmax(hi, 5);
    }
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "support-%s.dat", slug);
    snprintf(name, sizeof name, "support-%s", slug);
    snprintf(title, sizeof title, "%s: speedup on cores per kernel support", ds);
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&g, "set xlabel 'cores / the fewest (study points: threads / 16)'\n"
                           "set ylabel 'speedup: 95%% bootstrap CI'\nset xrange [0.8:%g]\n"
                           "set xtics\nset grid\nset key top left\n",
                       xmax * 1.1);
        rep__axis(&g, "y", 0, hi, 0, 1);
        rep__sb_puts(&g, "plot ");
        for (size_t q = 0; q < d->npick && q < 8; q++)
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 lc "
                               "rgb '%s' title 'measured here: support %d'",
                           q ? ", \\\n     " : "", file, q, rep__palette[q % 8],
                           r->run.cells[d->g[d->pick[q]].l[0].cell].support);
        if (nstudy)
            rep__sb_printf(&g, ", \\\n     '' index %zu using 1:2:(sprintf('W=%%d', $3)) with "
                               "labels point pt 9 ps 1.5 offset 1,0 left title 'the study: 80 "
                               "vs 16 threads (read from plot)'",
                           d->npick);
        rep__sb_puts(&g, ", \\\n     x with lines dt 2 lc rgb 'gray40' title 'ideal'\n");
        const char *cap = "Speedup on cores for each kernel support width W (a larger W makes "
                          "the parallel part larger, so by Amdahl's law the speedup is closer "
                          "to ideal), against each support's fewest-core layout. Bars: 95% "
                          "bootstrap CI of the ratio of medians.";
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED | (nstudy ? REP__K_STUDY : 0),
                                 d->g[d->pick[0]].l[0].cores,
                                 d->g[d->pick[0]].l[d->g[d->pick[0]].n - 1].cores, cap, file,
                                 rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    rep__sb_release(&sd);
    return rc;
}

int rep__support_render(rep__report *r, const char *ds, const void *data)
{
    const sweep_data *d = data;
    if (d->npick) return support_speedups(r, ds, d);
    size_t np = d->ns < MAX_PLOT_SERIES ? d->ns : MAX_PLOT_SERIES;
    rep__sb b = {0}, g = {0};
    double lo = INFINITY, hi = 0;
    int clo = 0, chi = 0;
    for (size_t k = 0; k < d->ns; k++) {
        rep__sb_printf(&b, "# series %zu: %s\n# support median_s min_s max_s repeats "
                           "time_vs_smallest_support\n",
                       k, d->s[k].label);
        double t0 = rep__vmedian(rep__metric(&r->run.cells[d->s[k].cell[0]], "wall_time"));
        int c = series_cores(&r->run, &d->s[k]);
        clo = !clo || c < clo ? c : clo;
        chi = c > chi ? c : chi;
        for (size_t i = 0; i < d->s[k].n; i++) {
            rep__mmm w;
            if (rep__mmm_of(rep__metric(&r->run.cells[d->s[k].cell[i]], "wall_time"), &w))
                continue;
            if (k < np) {
                lo = fmin(lo, w.lo);
                hi = fmax(hi, w.hi);
            }
            rep__sb_printf(&b, "%g %.9g %.9g %.9g %zu %.9g\n", d->s[k].x[i], w.med, w.lo, w.hi,
                           w.n, w.med / t0);
        }
        rep__sb_puts(&b, "\n\n");
    }
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "support-%s.dat", slug);
    snprintf(name, sizeof name, "support-%s", slug);
    snprintf(title, sizeof title, "%s: runtime vs kernel support", ds);
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_puts(&g, "set xlabel 'kernel support W (W x W taps)'\nset ylabel 'wall time "
                         "(s): median, min-max'\nset xtics\nset grid\nset key below Left "
                         "reverse\nset offsets graph 0.04, graph 0.04, 0, 0\n");
        rep__axis(&g, "y", lo, hi, 1, 1);
        rep__sb_puts(&g, "plot ");
        for (size_t k = 0; k < np; k++) {
            rep__sb_printf(&g, "%s'%s' index %zu using 1:2:3:4 with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           k ? ", \\\n     " : "", file, k, rep__palette[k % 8]);
            rep__gpq(&g, d->s[k].label);
        }
        rep__sb_puts(&g, "\n");
        const char *cap = "Runtime against kernel support width at fixed ranks, threads and "
                          "chunks; median with min-max over the repeats. Gridding work grows "
                          "as W^2. This run has no sweep over cores per support, so no "
                          "speedup per support.";
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, clo, chi, cap, file,
                                 rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}
