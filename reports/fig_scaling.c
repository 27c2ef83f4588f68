/*
 * fig_scaling.c: scaling on cores, per dataset — runtime, speedup and
 * efficiency against total cores (ranks x threads) with the ideal from
 * cores, one curve each for threads only, ranks only and both; Amdahl's
 * law fitted per curve and drawn only where rep_identify says the points
 * identify it; Karp–Flatt per core count (collected for the fits table);
 * layouts on the same cores side by side (never a speedup); and this
 * run's speedups beside the study's, both normalised to their own
 * smallest core count.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DRAW 4 /* groups drawn per figure: each gives up to three curves */

typedef struct lay {
    rep__mmm w;       /* wall time over the repeats */
    rep_ci sp;        /* speedup against the group's base */
    int has_sp;
} lay;

typedef struct cores_data {
    rep__cores_group *g;
    size_t ng, ndraw;         /* groups drawn: the first ndraw (>= 2 core counts) */
    lay *lay[MAX_DRAW];
    rep_amdahl fit[MAX_DRAW][REP__NCURVES];
    int has_fit[MAX_DRAW][REP__NCURVES];
    int cores_lo, cores_hi;
} cores_data;

void rep__cores_release(void *data)
{
    cores_data *d = data;
    for (size_t i = 0; i < MAX_DRAW; i++) ib_free(d->lay[i]);
    rep__cores_groups_free(d->g, d->ng);
    ib_free(d);
}

static int push_fit(rep__report *r, const char *ds, const rep__cores_group *g, int curve,
                    const rep_amdahl *a, int lo, int hi)
{
    rep__fitrow *n = ib_malloc((r->nfits + 1) * sizeof *n);
    if (!n) return IB_ENOMEM;
    if (r->nfits) memcpy(n, r->fits, r->nfits * sizeof *n);
    ib_free(r->fits);
    r->fits = n;
    rep__fitrow *f = &r->fits[r->nfits++];
    memset(f, 0, sizeof *f);
    snprintf(f->dataset, sizeof f->dataset, "%s", ds);
    snprintf(f->group, sizeof f->group, "%s", g->label);
    rep__curve_name(g, curve, f->curve, sizeof f->curve);
    f->fit = *a;
    f->cores_lo = lo;
    f->cores_hi = hi;
    return 0;
}

static int push_kf(rep__report *r, const char *ds, const rep__cores_group *g, int curve,
                   const rep_kf_point *k)
{
    rep__kfrow *n = ib_malloc((r->nkf + 1) * sizeof *n);
    if (!n) return IB_ENOMEM;
    if (r->nkf) memcpy(n, r->kf, r->nkf * sizeof *n);
    ib_free(r->kf);
    r->kf = n;
    rep__kfrow *f = &r->kf[r->nkf++];
    snprintf(f->dataset, sizeof f->dataset, "%s", ds);
    snprintf(f->group, sizeof f->group, "%s", g->label);
    rep__curve_name(g, curve, f->curve, sizeof f->curve);
    f->p = *k;
    return 0;
}

/* Amdahl and Karp–Flatt of one curve of group k. */
static int curve_fits(rep__report *r, const char *ds, cores_data *d, size_t k, int curve)
{
    const rep__cores_group *g = &d->g[k];
    double *x, *t;
    size_t n;
    int rc = rep__curve_points(r->e, &r->run, g, curve, &x, &t, &n);
    if (rc || !n) return rc;
    int lo = (int)x[0], hi = (int)x[0];
    for (size_t i = 0; i < n; i++) {
        lo = x[i] < lo ? (int)x[i] : lo;
        hi = x[i] > hi ? (int)x[i] : hi;
    }
    if (rep_amdahl_fit(NULL, x, t, n, &r->ao, &d->fit[k][curve]) == 0) {
        d->has_fit[k][curve] = 1;
        if (push_fit(r, ds, g, curve, &d->fit[k][curve], lo, hi)) rc = IB_ENOMEM;
    }
    rep_kf_point *kp = NULL;
    size_t nk = 0;
    if (!rc && lo == 1 &&
        rep_karp_flatt_series(NULL, x, t, n, 0.95, r->o->boot, r->o->seed, &kp, &nk) == 0)
        for (size_t i = 0; i < nk && !rc; i++)
            if (kp[i].cores > 1 && push_kf(r, ds, g, curve, &kp[i])) rc = IB_ENOMEM;
    ib_free(kp);
    ib_free(x);
    ib_free(t);
    return rc ? ib_error(r->e, IB_ENOMEM, "out of memory") : 0;
}

int rep__cores_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    cores_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = rep__cores_groups(r->e, &r->run, ds, &d->g, &d->ng);
    while (!rc && d->ndraw < d->ng && d->ndraw < MAX_DRAW && d->g[d->ndraw].ncores >= 2)
        d->ndraw++;
    for (size_t k = 0; !rc && k < d->ndraw; k++) {
        const rep__cores_group *g = &d->g[k];
        d->lay[k] = ib_calloc(g->n, sizeof *d->lay[k]);
        if (!d->lay[k]) {
            rc = ib_error(r->e, IB_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < g->n; i++) {
            lay *l = &d->lay[k][i];
            rep__mmm_of(rep__metric(&r->run.cells[g->l[i].cell], "wall_time"), &l->w);
            l->has_sp = rep__speedup(&r->run, g, i, r->o->boot, r->o->seed + i, &l->sp) == 0;
            int c = g->l[i].cores;
            d->cores_lo = !d->cores_lo || c < d->cores_lo ? c : d->cores_lo;
            d->cores_hi = c > d->cores_hi ? c : d->cores_hi;
        }
        for (int cv = 0; !rc && cv < REP__NCURVES; cv++) rc = curve_fits(r, ds, d, k, cv);
    }
    if (rc || !d->ndraw) {
        rep__cores_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

/* "set xtics (1, 2, 4)" for the core counts drawn, and a range around them. */
static void cores_axis(rep__sb *g, const cores_data *d, int relative)
{
    int seen[64] = {1}, ns = 0;
    for (size_t k = 0; k < d->ndraw; k++)
        for (size_t i = 0; i < d->g[k].n && ns < 64; i++) {
            int c = relative ? d->g[k].l[i].cores / d->g[k].l[d->g[k].base].cores
                             : d->g[k].l[i].cores;
            int q = 0;
            while (q < ns && seen[q] != c) q++;
            if (q == ns) seen[ns++] = c;
        }
    if (!ns) ns = 1;
    int lo = seen[0], hi = seen[0];
    rep__sb_puts(g, "set xtics (");
    for (int q = 0; q < ns; q++) {
        rep__sb_printf(g, "%s%d", q ? ", " : "", seen[q]);
        lo = seen[q] < lo ? seen[q] : lo;
        hi = seen[q] > hi ? seen[q] : hi;
    }
    double pad = (hi - lo) * 0.08 + 0.3;
    rep__sb_printf(g, ")\nset xrange [%g:%g]\n", lo - pad, hi + pad);
}

/* The data file: one block per (group, curve) with at least two layouts. */
static int write_data(rep__report *r, const cores_data *d, const char *file, int blocks[][REP__NCURVES])
{
    rep__sb b = {0};
    int nb = 0;
    rep__sb_puts(&b, "# scaling on cores, measured here: one block per curve; speedup and "
                     "efficiency against the group's fewest-core layout (95% bootstrap CI)\n");
    for (size_t k = 0; k < d->ndraw; k++) {
        const rep__cores_group *g = &d->g[k];
        for (int cv = 0; cv < REP__NCURVES; cv++) {
            size_t on = 0;
            for (size_t i = 0; i < g->n; i++) on += (size_t)rep__on_curve(g, i, cv);
            blocks[k][cv] = -1;
            if (on < 2) continue;
            blocks[k][cv] = nb++;
            char cn[64];
            rep__sb_printf(&b, "# block %d: %s: %s\n# cores ranks threads median_s min_s max_s "
                               "repeats speedup sp_lo sp_hi efficiency eff_lo eff_hi\n",
                           blocks[k][cv], g->label, rep__curve_name(g, cv, cn, sizeof cn));
            double base = g->l[g->base].cores;
            for (size_t i = 0; i < g->n; i++) {
                if (!rep__on_curve(g, i, cv)) continue;
                const lay *l = &d->lay[k][i];
                const rep__layout *y = &g->l[i];
                double rel = y->cores / base;
                rep__sb_printf(&b, "%d %d %d %.9g %.9g %.9g %zu", y->cores, y->ranks, y->threads,
                               l->w.med, l->w.lo, l->w.hi, l->w.n);
                if (l->has_sp)
                    rep__sb_printf(&b, " %.9g %.9g %.9g %.9g %.9g %.9g\n", l->sp.est, l->sp.lo,
                                   l->sp.hi, l->sp.est / rel, l->sp.lo / rel, l->sp.hi / rel);
                else
                    rep__sb_puts(&b, " NaN NaN NaN NaN NaN NaN\n");
            }
            rep__sb_puts(&b, "\n\n");
        }
    }
    int rc = rep__data_file(r, file, &b);
    rep__sb_release(&b);
    return rc;
}

/* One of the three figures: what 0 runtime, 1 speedup, 2 efficiency. */
static int one_figure(rep__report *r, const char *ds, const char *slug, const cores_data *d,
                      const char *file, int blocks[][REP__NCURVES], int what)
{
    static const char *const stem[3] = {"runtime", "speedup", "efficiency"};
    static const int col[3] = {4, 8, 11};
    rep__sb g = {0};
    double lo = INFINITY, hi = 0;
    for (size_t k = 0; k < d->ndraw; k++)
        for (size_t i = 0; i < d->g[k].n; i++) {
            const lay *l = &d->lay[k][i];
            double rel = (double)d->g[k].l[i].cores / d->g[k].l[d->g[k].base].cores;
            double a = what == 0 ? l->w.lo : what == 1 ? l->sp.lo : l->sp.lo / rel;
            double z = what == 0 ? l->w.hi : what == 1 ? fmax(l->sp.hi, rel) : l->sp.hi / rel;
            if (what && !l->has_sp) continue;
            lo = fmin(lo, a);
            hi = fmax(hi, z);
        }
    if (what == 2) hi = fmax(hi, 1.05);
    rep__sb_puts(&g, "set xlabel 'cores (ranks x threads)'\n");
    rep__sb_printf(&g, "set ylabel '%s'\n",
                   what == 0   ? "wall time (s): median, min-max of repeats"
                   : what == 1 ? "speedup T(base)/T(n): 95% bootstrap CI"
                               : "efficiency speedup / (cores / base cores): 95% bootstrap CI");
    cores_axis(&g, d, 0);
    rep__axis(&g, "y", lo, hi, what == 0, 1);
    rep__sb_puts(&g, "set grid\nset key below Left reverse\nplot ");
    int first = 1, pal = 0, drawn_fit = 0, hidden_fit = 0;
    for (size_t k = 0; k < d->ndraw; k++)
        for (int cv = 0; cv < REP__NCURVES; cv++) {
            if (blocks[k][cv] < 0) continue;
            char t[400], cn[64];
            snprintf(t, sizeof t, "measured: %s%s%s", d->ndraw > 1 ? d->g[k].label : "",
                     d->ndraw > 1 ? ", " : "", rep__curve_name(&d->g[k], cv, cn, sizeof cn));
            rep__sb_printf(&g, "%s'%s' index %d using 1:%d:%d:%d with yerrorlines lw 2 pt 7 "
                               "lc rgb '%s' title ",
                           first ? "" : ", \\\n     ", file, blocks[k][cv], col[what],
                           col[what] + 1, col[what] + 2, rep__palette[pal % 8]);
            rep__gpq(&g, t);
            first = 0;
            const rep_amdahl *a = &d->fit[k][cv];
            if (what == 1 && d->has_fit[k][cv] && a->identifiable) {
                double b = d->g[k].l[d->g[k].base].cores;
                snprintf(t, sizeof t, "model: Amdahl on %s, s = %.3g [%.3g, %.3g]",
                         rep__curve_name(&d->g[k], cv, cn, sizeof cn), a->s, a->s_lo, a->s_hi);
                rep__sb_printf(&g, ", \\\n     (%.9g + (1 - %.9g)/%g)/(%.9g + (1 - %.9g)/x) "
                                   "with lines dt 3 lw 2 lc rgb '%s' title ",
                               a->s, a->s, b, a->s, a->s, rep__palette[pal % 8]);
                rep__gpq(&g, t);
                drawn_fit++;
            } else if (what == 1 && d->has_fit[k][cv]) {
                hidden_fit++;
            }
            pal++;
        }
    const rep__cores_group *g0 = &d->g[0];
    double b0 = g0->l[g0->base].cores, t0 = d->lay[0][g0->base].w.med;
    if (what == 0)
        rep__sb_printf(&g, ", \\\n     %.9g*%g/x with lines dt 2 lc rgb 'gray40' title 'ideal "
                           "from cores: T(base) base/n'\n", t0, b0);
    else if (what == 1)
        rep__sb_printf(&g, ", \\\n     x/%g with lines dt 2 lc rgb 'gray40' title 'ideal: n / "
                           "base cores'\n", b0);
    else
        rep__sb_puts(&g, ", \\\n     1 with lines dt 2 lc rgb 'gray40' title 'ideal'\n");
    char name[256], title[300], cap[1400];
    snprintf(name, sizeof name, "%s-%s", stem[what], slug);
    snprintf(title, sizeof title, "%s: %s on cores", ds,
             what == 0 ? "runtime" : what == 1 ? "speedup" : "parallel efficiency");
    snprintf(cap, sizeof cap,
             "%s against total cores (ranks x threads), one curve for threads in one rank, "
             "one for ranks of one thread, one for both; every curve starts at the group's "
             "fewest-core layout%s, the reference of speedups. %s Layouts on the same cores "
             "are compared in the layouts figure, never as a speedup.%s%s",
             what == 0 ? "Wall time (median; bars: min-max of the repeats)"
             : what == 1 ? "Speedup T(base)/T(n) (bars: 95% bootstrap CI of the ratio of "
                           "medians)"
                         : "Efficiency: speedup / (cores / base cores)",
             g0->l[g0->base].cores == 1 ? " (1 core)" : "",
             "Dashed: the ideal from cores.",
             what == 1 && drawn_fit ? " Dotted: Amdahl's law fitted on the curve's repeats "
                                      "(model), drawn only where the points identify it." : "",
             what == 1 && hidden_fit ? " Some Amdahl fits are not drawn: not identifiable from "
                                       "these points (the fits table says why)." : "");
    int rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED | (drawn_fit ? REP__K_MODEL : 0),
                                 d->cores_lo, d->cores_hi, cap, file, rep__sb_str(&g));
    rep__sb_release(&g);
    return rc;
}

int rep__cores_render(rep__report *r, const char *ds, const void *data)
{
    const cores_data *d = data;
    char slug[80], file[128];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "cores-%s.dat", slug);
    int blocks[MAX_DRAW][REP__NCURVES];
    int rc = write_data(r, d, file, blocks);
    for (int what = 0; what < 3 && !rc; what++) rc = one_figure(r, ds, slug, d, file, blocks, what);
    return rc;
}

/* ---- layouts on the same cores ------------------------------------------------------ */

typedef struct lrow {
    size_t group, idx;      /* group and layout */
    rep__mmm w;
    rep_ci ratio;           /* wall / the first layout's at these cores */
    int has_ratio, first;   /* first: the reference layout of its cores */
} lrow;

typedef struct layouts_data {
    rep__cores_group *g;
    size_t ng;
    lrow *rows;
    size_t nrows;
    int cores_lo, cores_hi;
} layouts_data;

void rep__layouts_release(void *data)
{
    layouts_data *d = data;
    rep__cores_groups_free(d->g, d->ng);
    ib_free(d->rows);
    ib_free(d);
}

int rep__layouts_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    layouts_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    int rc = rep__cores_groups(r->e, &r->run, ds, &d->g, &d->ng);
    size_t cap = 0;
    for (size_t k = 0; k < d->ng; k++) cap += d->g[k].n;
    d->rows = rc ? NULL : ib_calloc(cap ? cap : 1, sizeof *d->rows);
    if (!rc && !d->rows) rc = ib_error(r->e, IB_ENOMEM, "out of memory");
    for (size_t k = 0; !rc && k < d->ng; k++) {
        const rep__cores_group *g = &d->g[k];
        for (size_t i = 0; i < g->n;) {
            size_t j = i;
            while (j < g->n && g->l[j].cores == g->l[i].cores) j++;
            /* layouts i..j-1 share their cores: the fewest ranks is the reference */
            for (size_t q = i; j - i >= 2 && q < j; q++) {
                lrow *w = &d->rows[d->nrows++];
                w->group = k;
                w->idx = q;
                w->first = q == i;
                const rep_values *v = rep__metric(&r->run.cells[g->l[q].cell], "wall_time");
                const rep_values *b = rep__metric(&r->run.cells[g->l[i].cell], "wall_time");
                rep__mmm_of(v, &w->w);
                w->has_ratio = v && b &&
                               rep_boot_ratio_ci(NULL, v->v, v->n, b->v, b->n, 0.95, r->o->boot,
                                                 r->o->seed + q, &w->ratio) == 0;
                int c = g->l[q].cores;
                d->cores_lo = !d->cores_lo || c < d->cores_lo ? c : d->cores_lo;
                d->cores_hi = c > d->cores_hi ? c : d->cores_hi;
            }
            i = j;
        }
    }
    if (rc || !d->nrows) {
        rep__layouts_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

int rep__layouts_render(rep__report *r, const char *ds, const void *data)
{
    const layouts_data *d = data;
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "layouts-%s.dat", slug);
    snprintf(name, sizeof name, "layouts-%s", slug);
    rep__sb b = {0}, g = {0};
    rep__sb_puts(&b, "# layouts on the same cores, measured here: x label median_s min_s "
                     "max_s ratio_to_first ci_lo ci_hi colour\n");
    static const char *const h[] = {"group", "cores", "layout (ranks x threads)",
                                    "wall median", "min-max",
                                    "ratio to the first layout [95% CI]"};
    size_t t = rep__doc_table(&r->body, "layouts", "layouts on the same cores (measured here)",
                              6, h);
    double hi = 0;
    for (size_t i = 0; i < d->nrows; i++) {
        const lrow *w = &d->rows[i];
        const rep__cores_group *gr = &d->g[w->group];
        const rep__layout *l = &gr->l[w->idx];
        char ln[32], a[48], lo[48], hi2[48];
        rep__layout_name(l, ln, sizeof ln);
        int colour = l->ranks == 1 ? 0 : l->threads == 1 ? 1 : 2;
        rep__sb_printf(&b, "%zu \"%s%s%d cores: %s\" %.9g %.9g %.9g %.9g %.9g %.9g %d\n", i,
                       d->ng > 1 ? gr->label : "", d->ng > 1 ? ", " : "", l->cores, ln,
                       w->w.med, w->w.lo, w->w.hi, w->has_ratio ? w->ratio.est : NAN,
                       w->has_ratio ? w->ratio.lo : NAN, w->has_ratio ? w->ratio.hi : NAN,
                       colour);
        hi = fmax(hi, w->w.hi);
        rep__fmt(a, sizeof a, w->w.med, "s");
        rep__fmt(lo, sizeof lo, w->w.lo, NULL);
        rep__fmt(hi2, sizeof hi2, w->w.hi, "s");
        rep__doc_cell(&r->body, t, "%s", gr->label);
        rep__doc_cell(&r->body, t, "%d", l->cores);
        rep__doc_cell(&r->body, t, "%s", ln);
        rep__doc_cell(&r->body, t, "%s", a);
        rep__doc_cell(&r->body, t, "%s-%s", lo, hi2);
        if (w->first) rep__doc_cell(&r->body, t, "1 (reference)");
        else if (w->has_ratio)
            rep__doc_cell(&r->body, t, "%.3f [%.3f, %.3f]", w->ratio.est, w->ratio.lo,
                          w->ratio.hi);
        else rep__doc_cell(&r->body, t, "-");
    }
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&g, "set ylabel 'wall time (s): median, min-max of repeats'\n"
                           "set style fill solid 0.75 border -1\nset boxwidth 0.6\n"
                           "set xrange [-0.7:%zu.7]\nset xtics rotate by -15\nset grid ytics\n"
                           "unset key\n",
                       d->nrows - 1);
        rep__axis(&g, "y", 0, hi, 0, 1);
        rep__sb_printf(&g, "plot '%s' using 1:3:(($9 == 0) ? 0x1f77b4 : ($9 == 1) ? 0xd62728 : "
                           "0x2ca02c):xtic(2) with boxes lc rgb variable, \\\n     '' using "
                           "1:3:4:5 with yerrorbars pt 0 lc rgb 'black'\n",
                       file);
        snprintf(title, sizeof title, "%s: layouts on the same cores (ranks against threads, "
                                      "not a speedup)", ds);
        const char *cap = "Wall time of each layout (ranks x threads) at equal total cores: "
                          "blue threads in one rank, red ranks of one thread, green both. "
                          "Bars: median; whiskers: min-max of the repeats. The table gives "
                          "each layout's time against the first layout on the same cores "
                          "with its 95% bootstrap CI: same cores, so a layout comparison, "
                          "not a speedup.";
        rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED, d->cores_lo, d->cores_hi, cap,
                                 file, rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}

/* ---- beside the study, normalised ----------------------------------------------------- */

typedef struct study_data {
    cores_data *ours;
    rep__bcurve *bc;
    size_t nbc;
} study_data;

void rep__study_release(void *data)
{
    study_data *d = data;
    if (d->ours) rep__cores_release(d->ours);
    ib_free(d->bc);
    ib_free(d);
}

int rep__study_data(rep__report *r, const char *ds, void **out)
{
    *out = NULL;
    study_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    if (rep__study_curves(r->baselines, r->nbaselines, ds, &d->bc, &d->nbc)) {
        rep__study_release(d);
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    if (!d->nbc) {
        rep__study_release(d);
        return 0;
    }
    /* our curves, without collecting their fits a second time */
    cores_data *c = ib_calloc(1, sizeof *c);
    int rc = c ? rep__cores_groups(r->e, &r->run, ds, &c->g, &c->ng)
               : ib_error(r->e, IB_ENOMEM, "out of memory");
    d->ours = c;
    while (!rc && c->ndraw < c->ng && c->ndraw < 1 && c->g[c->ndraw].ncores >= 2) c->ndraw++;
    for (size_t k = 0; !rc && k < c->ndraw; k++) {
        c->lay[k] = ib_calloc(c->g[k].n, sizeof *c->lay[k]);
        if (!c->lay[k]) rc = ib_error(r->e, IB_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < c->g[k].n; i++)
            c->lay[k][i].has_sp =
                rep__speedup(&r->run, &c->g[k], i, r->o->boot, r->o->seed + i,
                             &c->lay[k][i].sp) == 0;
    }
    if (rc || !c->ndraw) {
        rep__study_release(d);
        return rc;
    }
    *out = d;
    return 0;
}

int rep__study_render(rep__report *r, const char *ds, const void *data)
{
    const study_data *d = data;
    const cores_data *c = d->ours;
    const rep__cores_group *g = &c->g[0];
    char slug[80], file[128], name[128], title[256];
    rep__slug(slug, sizeof slug, ds);
    snprintf(file, sizeof file, "scaling-study-%s.dat", slug);
    snprintf(name, sizeof name, "scaling-study-%s", slug);
    rep__sb b = {0}, p = {0};
    double hi = 1, relmax = 1;
    int nb = 0, ours[REP__NCURVES];
    char cn[64];
    for (int cv = 0; cv < REP__NCURVES; cv++) {
        ours[cv] = -1;
        size_t on = 0;
        for (size_t i = 0; i < g->n; i++) on += (size_t)rep__on_curve(g, i, cv);
        if (on < 2) continue;
        ours[cv] = nb++;
        rep__sb_printf(&b, "# block %d: measured here, %s: relative_cores speedup lo hi\n",
                       ours[cv], rep__curve_name(g, cv, cn, sizeof cn));
        for (size_t i = 0; i < g->n; i++) {
            if (!rep__on_curve(g, i, cv) || !c->lay[0][i].has_sp) continue;
            double rel = (double)g->l[i].cores / g->l[g->base].cores;
            const rep_ci *s = &c->lay[0][i].sp;
            rep__sb_printf(&b, "%g %.9g %.9g %.9g\n", rel, s->est, s->lo, s->hi);
            hi = fmax(hi, s->hi);
            relmax = fmax(relmax, rel);
        }
        rep__sb_puts(&b, "\n\n");
    }
    /* the study's curves (two points or more) and the ranges it gives
     * without node counts (a band over 1 to its nodes) */
    int curve_block[8], band_block[8];
    double top = r->o->study_nodes > 1 ? r->o->study_nodes : 8;
    for (size_t k = 0; k < d->nbc && k < 8; k++) {
        const rep__bcurve *s = &d->bc[k];
        curve_block[k] = band_block[k] = -1;
        if (s->n >= 2) {
            rep__sb_printf(&b, "# block %d: %s (%s, %s) against its own one-node time %g s: "
                               "relative_cores speedup\n",
                           curve_block[k] = nb++, s->system, s->source, s->label, s->t1);
            for (size_t i = 0; i < s->n; i++) {
                rep__sb_printf(&b, "%g %.9g\n", s->rel[i], s->speedup[i]);
                hi = fmax(hi, s->speedup[i]);
                relmax = fmax(relmax, s->rel[i]);
            }
            rep__sb_puts(&b, "\n\n");
        }
        if (!isnan(s->band_lo)) {
            rep__sb_printf(&b, "# block %d: %s (%s) speedup range over 1 to %g nodes (not "
                               "resolved by node): relative_cores low high\n%g %.9g %.9g\n"
                               "%g %.9g %.9g\n\n\n",
                           band_block[k] = nb++, s->system, s->source, top, 1.0, s->band_lo,
                           s->band_hi, top, s->band_lo, s->band_hi);
            hi = fmax(hi, s->band_hi);
            relmax = fmax(relmax, top);
        }
    }
    int rc = rep__data_file(r, file, &b);
    if (!rc) {
        rep__sb_printf(&p, "set xlabel \"cores / the curve's smallest (ours: 1 core; the "
                           "study's: one 16-core node)\"\nset ylabel \"speedup, normalised to "
                           "each curve's smallest\"\nset xrange [0.8:%g]\nset grid\n"
                           "set key below Left reverse\n",
                       relmax * 1.1);
        rep__axis(&p, "y", 0, fmax(hi, relmax), 0, 1);
        rep__sb_puts(&p, "plot ");
        int first = 1, pal = 0;
        for (int cv = 0; cv < REP__NCURVES; cv++) {
            if (ours[cv] < 0) continue;
            char t[200];
            snprintf(t, sizeof t, "measured here: %s", rep__curve_name(g, cv, cn, sizeof cn));
            rep__sb_printf(&p, "%s'%s' index %d using 1:2:3:4 with yerrorlines lw 2 pt 7 lc "
                               "rgb '%s' title ",
                           first ? "" : ", \\\n     ", file, ours[cv], rep__palette[pal++ % 8]);
            rep__gpq(&p, t);
            first = 0;
        }
        for (size_t k = 0; k < d->nbc && k < 8; k++) {
            char t[200];
            const char *colour = rep__palette[(pal + k) % 8];
            if (curve_block[k] >= 0) {
                snprintf(t, sizeof t, "study: %s (%s), normalised", d->bc[k].system,
                         d->bc[k].label);
                rep__sb_printf(&p, ", \\\n     '%s' index %d using 1:2 with linespoints dt 4 "
                                   "lw 2 pt 5 lc rgb '%s' title ",
                               file, curve_block[k], colour);
                rep__gpq(&p, t);
            }
            if (band_block[k] >= 0) {
                snprintf(t, sizeof t, "study: %s range over 1-%g nodes, normalised",
                         d->bc[k].system, top);
                rep__sb_printf(&p, ", \\\n     '%s' index %d using 1:2:3 with filledcurves fs "
                                   "transparent solid 0.2 lc rgb '%s' title ",
                               file, band_block[k], colour);
                rep__gpq(&p, t);
            }
        }
        rep__sb_puts(&p, ", \\\n     x with lines dt 2 lc rgb 'gray40' title 'ideal'\n");
        snprintf(title, sizeof title, "%s: speedup beside the study's, normalised", ds);
        const char *cap = "Both axes normalised: each curve's speedup against its own "
                          "smallest configuration, on cores relative to it (this run: "
                          "ranks x threads from its fewest-core layout; the study: nodes of "
                          "16 cores from one node, or threads from one node's). The study "
                          "ran the full dataset on its cluster, this run a scaled copy on "
                          "this machine: compare the shapes, not the times. Absolute times "
                          "of the study appear only beside full-size cells (full-size "
                          "section).";
        rc = p.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                   : rep__figure(r, name, title, REP__K_MEASURED | REP__K_STUDY,
                                 g->l[0].cores, g->l[g->n - 1].cores, cap, file,
                                 rep__sb_str(&p));
    }
    rep__sb_release(&b);
    rep__sb_release(&p);
    return rc;
}
