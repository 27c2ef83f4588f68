/*
 * fig_models.c: the models, each labelled as one — Amdahl's law and the
 * Karp–Flatt metric per cores curve (tables, with the identifiability
 * verdict of every parameter), the cost model's terms with their bands,
 * and the full-size figure: each full-size cell measured here beside the
 * model's prediction (fitted on small-scale cells only) with the error,
 * flagged past 25%, and the study's absolute times with their core counts
 * beside it; datasets without a full-size cell get the model's prediction
 * of their full shape, labelled as a model only.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OFF_LIMIT 0.25

static int token(rep__report *r, void **data)
{
    *data = r;
    return 0;
}

static void no_release(void *data) { (void)data; }

/* ---- Amdahl and Karp–Flatt ------------------------------------------------------ */

int rep__fits_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__fits_release(void *data) { no_release(data); }

static void param_cell(rep__doc *d, size_t t, double est, double lo, double hi, const char *unit)
{
    if (!isfinite(est)) rep__doc_cell(d, t, "-");
    else rep__doc_cell(d, t, "%.4g [%.4g, %.4g]%s%s", est, lo, hi, unit ? " " : "",
                       unit ? unit : "");
}

static void amdahl_table(rep__report *r)
{
    rep__doc *d = &r->body;
    rep__doc_head(d, 3, "amdahl", "Amdahl's law on cores (model)");
    rep__doc_para(d, "T(n) = T1 (s + (1 - s)/n) on n = ranks x threads, fitted per curve on "
                     "every repeat by non-negative least squares (relative residuals), with a "
                     "95%% residual-bootstrap band. The rule (docs/reports.md): s is "
                     "identifiable when the curve has at least as many distinct core counts "
                     "as the fit's two parameters, points beyond them to give a band, and a "
                     "band no wider than half of s's range [0, 1]. A fit that is not "
                     "identifiable is neither drawn nor extrapolated.");
    static const char *const h[] = {"dataset", "group", "curve", "points", "cores",
                                    "serial fraction s [95% band]", "T1 (fit) [95% band]",
                                    "verdict", "max speedup 1/s", "speedup on the study's cores"};
    size_t t = rep__doc_table(d, "amdahl", "Amdahl fits (model) of speedups measured here", 10, h);
    int study_cores = 16 * r->o->study_nodes;
    for (size_t i = 0; i < r->nfits; i++) {
        const rep__fitrow *f = &r->fits[i];
        const rep_amdahl *a = &f->fit;
        rep__doc_cell(d, t, "%s", f->dataset);
        rep__doc_cell(d, t, "%s", f->group);
        rep__doc_cell(d, t, "%s", f->curve);
        rep__doc_cell(d, t, "%zu", a->n);
        rep__doc_cell(d, t, "%d-%d", f->cores_lo, f->cores_hi);
        param_cell(d, t, a->s, a->s_lo, a->s_hi, NULL);
        param_cell(d, t, a->t1, a->t1_lo, a->t1_hi, "s");
        rep__doc_cell(d, t, "%s", a->identifiable ? "identifiable" : a->why);
        if (!a->identifiable) {
            rep__doc_cell(d, t, "-");
            rep__doc_cell(d, t, "- (not extrapolated)");
            continue;
        }
        if (a->s > 0) rep__doc_cell(d, t, "%.3g", 1.0 / a->s);
        else rep__doc_cell(d, t, "unbounded");
        rep__doc_cell(d, t, "%.3g [%.3g, %.3g] on %d cores (model)",
                      rep_amdahl_speedup(a->s, study_cores), rep_amdahl_speedup(a->s_hi, study_cores),
                      rep_amdahl_speedup(a->s_lo, study_cores), study_cores);
    }
    if (!rep__doc_rows(d, t))
        rep__doc_para(d, "No dataset of this run has cells on two core counts or more: no "
                         "Amdahl fit.");
}

static void kf_table(rep__report *r)
{
    rep__doc *d = &r->body;
    rep__doc_head(d, 3, "karpflatt", "Karp-Flatt serial fraction per core count");
    rep__doc_para(d, "e(n) = (1/S - 1/n) / (1 - 1/n) for the speedup S measured here on n "
                     "cores against one core; its band follows from the speedup's 95%% "
                     "bootstrap CI. The same rule judges e on its range [0, 1]. A rising e(n) "
                     "means overhead grows with n rather than a fixed serial part.");
    static const char *const h[] = {"dataset", "group", "curve", "cores", "median time",
                                    "speedup [95% CI]", "e(n) [band]", "verdict"};
    size_t t = rep__doc_table(d, "kf", "Karp-Flatt metric of speedups measured here", 8, h);
    for (size_t i = 0; i < r->nkf; i++) {
        const rep__kfrow *k = &r->kf[i];
        char tm[64];
        rep__fmt(tm, sizeof tm, k->p.time, "s");
        rep__doc_cell(d, t, "%s", k->dataset);
        rep__doc_cell(d, t, "%s", k->group);
        rep__doc_cell(d, t, "%s", k->curve);
        rep__doc_cell(d, t, "%g", k->p.cores);
        rep__doc_cell(d, t, "%s", tm);
        param_cell(d, t, k->p.speedup, k->p.speedup_lo, k->p.speedup_hi, NULL);
        param_cell(d, t, k->p.e, k->p.e_lo, k->p.e_hi, NULL);
        rep__doc_cell(d, t, "%s", k->p.identifiable ? "identifiable" : k->p.why);
    }
    if (!rep__doc_rows(d, t))
        rep__doc_para(d, "No curve of this run starts on one core: no Karp-Flatt metric.");
}

int rep__fits_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    rep__doc_head(&r->body, 2, "models", "Models");
    rep__doc_para(&r->body, "Everything in this section is a model fitted to measurements and "
                            "labelled so; the study's figures are recorded baselines (stated "
                            "or read from its plots, about +-10%%).");
    amdahl_table(r);
    kf_table(r);
    return 0;
}

/* ---- the cost model ----------------------------------------------------------------- */

int rep__costmodel_data(rep__report *r, const char *dataset, void **data)
{
    (void)dataset;
    return token(r, data);
}

void rep__costmodel_release(void *data) { no_release(data); }

int rep__costmodel_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    (void)data;
    rep__doc *d = &r->body;
    const rep__model *md = r->model;
    rep__doc_head(d, 3, "cost", "Cost model (model)");
    rep__doc_para(d, "A physically split model (docs/reports.md): each term is a kind of "
                     "work with its driver and the phases that do it — read (bytes read; "
                     "phases read, weight), grid (samples x support^2; grid), fft (planes x G "
                     "log2 G, G the padded grid cells; fft, correct), write (bytes written; "
                     "write), pointing (pointings x channels, mosaics; kernel). Per term, "
                     "thread-seconds = a + c x with a, c >= 0 (non-negative least squares, "
                     "relative residuals); then wall = f + r P / cores with P the modelled "
                     "thread-seconds. Bands: 95%% case bootstrap over the fit cells. Fitted "
                     "on small-scale cells only, never on a full-size one.");
    if (!md || !md->fitted) {
        rep__doc_para(d, "%s", md ? md->why : "no cost model");
        return 0;
    }
    rep__doc_para(d, "Fitted on %s.", md->trained_on);
    const rep_cost_model *m = &md->m;
    static const char *const h[] = {"gridder", "term", "driver", "fitted on", "cells",
                                    "distinct x", "a (thread-s) [95% band]",
                                    "c (thread-s per unit) [95% band]", "verdict on c"};
    size_t t = rep__doc_table(d, "cost", "cost model terms (model)", 9, h);
    for (size_t g = 0; g < m->ng; g++)
        for (int j = 0; j < REP_NTERMS; j++) {
            const rep_cost_term *tm = &m->term[g][j];
            if (!tm->used) continue;
            rep__doc_cell(d, t, "%s", m->gridder[g]);
            rep__doc_cell(d, t, "%s", rep_term_name(j));
            rep__doc_cell(d, t, "%s", rep_term_driver(j));
            rep__doc_cell(d, t, "%s", tm->scope);
            rep__doc_cell(d, t, "%zu", tm->n);
            rep__doc_cell(d, t, "%zu", tm->distinct);
            param_cell(d, t, tm->a.est, tm->a.lo, tm->a.hi, NULL);
            if (tm->slope) param_cell(d, t, tm->c.est, tm->c.lo, tm->c.hi, NULL);
            else rep__doc_cell(d, t, "-");
            rep__doc_cell(d, t, "%s", tm->slope && tm->c.identifiable ? "identifiable" : tm->c.why);
        }
    static const char *const h2[] = {"stage 2", "estimate [95% band]", "verdict"};
    t = rep__doc_table(d, "cost2", "wall = f + r P / cores (model)", 3, h2);
    rep__doc_cell(d, t, "f: fixed seconds per run");
    param_cell(d, t, m->f.est, m->f.lo, m->f.hi, "s");
    rep__doc_cell(d, t, "not judged (does not scale)");
    rep__doc_cell(d, t, "r: wall per modelled thread-second per core");
    param_cell(d, t, m->r.est, m->r.lo, m->r.hi, NULL);
    rep__doc_cell(d, t, "%s", m->r.identifiable ? "identifiable" : m->r.why);
    return 0;
}

/* ---- full size: measured beside predicted --------------------------------------------- */

typedef struct full_data {
    rep__bpoint *sp[64];     /* study points beside each full-size cell */
    size_t nsp[64];
    char why[64][160];       /* why a cell has none, "" when it has */
    char cols[4][160];       /* the study's columns: distinct descriptions */
    size_t ncols;
} full_data;

void rep__fullsize_release(void *data)
{
    full_data *d = data;
    for (size_t i = 0; i < 64; i++) ib_free(d->sp[i]);
    ib_free(d);
}

/* The study's figures sit beside a full-size cell only when the cell images
 * what the study imaged: the dataset's gridder and image (its spec). */
static int same_workload(const rep__report *r, const rep_cell_data *c, char *why, size_t n)
{
    const rep_full_shape *sh = NULL;
    for (size_t k = 0; k < r->o->nshapes; k++)
        if (!strcmp(r->o->shapes[k].name, c->dataset)) sh = &r->o->shapes[k];
    if (!sh) return snprintf(why, n, "no dataset spec to compare with the study"), 0;
    if (strcmp(sh->gridder, c->gridder[0] ? c->gridder : "standard"))
        return snprintf(why, n, "the study imaged it with the %s gridder, this cell with the %s",
                        sh->gridder, c->gridder[0] ? c->gridder : "standard"), 0;
    if (c->nx != sh->nx || c->ny != sh->ny)
        return snprintf(why, n, "the study's image is %gx%g, this cell's %gx%g", sh->nx, sh->ny,
                        c->nx, c->ny), 0;
    return 1;
}

int rep__fullsize_data(rep__report *r, const char *dataset, void **out)
{
    (void)dataset;
    *out = NULL;
    const rep__model *md = r->model;
    if (!md || (!md->npred && !md->next)) return 0;
    full_data *d = ib_calloc(1, sizeof *d);
    if (!d) return ib_error(r->e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < md->npred && i < 64; i++) {
        const rep_cell_data *c = &r->run.cells[md->pred[i].cell];
        if (!same_workload(r, c, d->why[i], sizeof d->why[i])) continue;
        if (rep__study_points(r->baselines, r->nbaselines, c->dataset, &d->sp[i], &d->nsp[i])) {
            rep__fullsize_release(d);
            return ib_error(r->e, IB_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < d->nsp[i]; k++) {
            size_t q = 0;
            while (q < d->ncols && strcmp(d->cols[q], d->sp[i][k].what)) q++;
            if (q == d->ncols && d->ncols < 4)
                snprintf(d->cols[d->ncols++], sizeof d->cols[0], "%s", d->sp[i][k].what);
        }
    }
    *out = d;
    return 0;
}

static double study_value(const full_data *d, size_t i, size_t col)
{
    for (size_t k = 0; i < 64 && k < d->nsp[i]; k++)
        if (!strcmp(d->sp[i][k].what, d->cols[col])) return d->sp[i][k].value;
    return NAN;
}

static void pred_label(const rep__report *r, const rep__pred *p, char *buf, size_t n)
{
    const rep_cell_data *c = &r->run.cells[p->cell];
    char err[64] = "";
    if (p->p.ok && isfinite(p->err))
        snprintf(err, sizeof err, ", model %+.0f%%%s", 100 * p->err,
                 fabs(p->err) > OFF_LIMIT ? " OFF >25%" : "");
    snprintf(buf, n, "%s %s %dx%d%s", c->dataset, c->gridder[0] ? c->gridder : "standard",
             c->nodes > 0 ? c->nodes : 1, c->threads > 0 ? c->threads : 1, err);
}

static void full_table(rep__report *r, const full_data *d)
{
    const rep__model *md = r->model;
    static const char *const h[] = {"cell / dataset", "ranks x threads", "measured here",
                                    "model [95% band]", "error", "flag", "stored",
                                    "model terms (thread-s): predicted / measured",
                                    "the study beside it"};
    size_t t = rep__doc_table(&r->body, "fullsize", "full size: measured here, model", 9, h);
    for (size_t i = 0; i < md->npred; i++) {
        const rep__pred *p = &md->pred[i];
        const rep_cell_data *c = &r->run.cells[p->cell];
        char m[48], terms[600] = "";
        rep__fmt(m, sizeof m, p->measured, "s");
        rep__doc_cell(&r->body, t, "cell %lld (%s, %s)", (long long)c->id, c->dataset,
                      c->gridder[0] ? c->gridder : "standard");
        rep__doc_cell(&r->body, t, "%dx%d", c->nodes > 0 ? c->nodes : 1, c->threads > 0 ? c->threads : 1);
        rep__doc_cell(&r->body, t, "%s", m);
        const char *study = i < 64 && d->why[i][0] ? d->why[i]
                            : i < 64 && d->nsp[i] ? "yes (figure)"
                                                  : "no figure of the study for it";
        if (!p->p.ok) {
            rep__doc_cell(&r->body, t, "no prediction: %s", p->p.why);
            for (int k = 0; k < 4; k++) rep__doc_cell(&r->body, t, "-");
            rep__doc_cell(&r->body, t, "%s", study);
            continue;
        }
        rep__doc_cell(&r->body, t, "%.4g s [%.4g, %.4g]", p->p.wall, p->p.wall_lo, p->p.wall_hi);
        rep__doc_cell(&r->body, t, "%+.1f%%", 100 * p->err);
        rep__doc_cell(&r->body, t, "%s", fabs(p->err) > OFF_LIMIT ? "OFF BY MORE THAN 25%" : "ok");
        if (p->stored)
            rep__doc_cell(&r->body, t, "yes: %.4g s, %s", p->stored_value, p->stored_at);
        else
            rep__doc_cell(&r->body, t, "no (--store-predictions)");
        size_t len = 0;
        for (int j = 0; j < REP_NTERMS && len < sizeof terms; j++)
            if (isfinite(p->p.term[j]))
                len += (size_t)snprintf(terms + len, sizeof terms - len, "%s%s %.3g / %.3g",
                                        len ? "; " : "", rep_term_name(j), p->p.term[j],
                                        p->cc.y[j]);
        rep__doc_cell(&r->body, t, "%s", terms);
        rep__doc_cell(&r->body, t, "%s", study);
    }
    for (size_t i = 0; i < md->next; i++) {
        const rep__extrap *x = &md->ext[i];
        rep__doc_cell(&r->body, t, "%s: full shape (no full-size cell; model only)", x->dataset);
        rep__doc_cell(&r->body, t, "%d cores", x->cores);
        rep__doc_cell(&r->body, t, "-");
        if (x->p.ok) rep__doc_cell(&r->body, t, "%.4g s [%.4g, %.4g]", x->p.wall, x->p.wall_lo,
                                   x->p.wall_hi);
        else rep__doc_cell(&r->body, t, "no prediction: %s", x->p.why);
        for (int k = 0; k < 3; k++) rep__doc_cell(&r->body, t, "-");
        if (!strcmp(x->gridder, "mosaic"))
            rep__doc_cell(&r->body, t, "grid term at the nominal support: the mosaic's "
                                       "aperture kernel at the full image is not modelled");
        else
            rep__doc_cell(&r->body, t, "-");
        rep__doc_cell(&r->body, t, "-");
    }
}

int rep__fullsize_render(rep__report *r, const char *dataset, const void *data)
{
    (void)dataset;
    const full_data *d = data;
    const rep__model *md = r->model;
    rep__doc_head(&r->body, 3, "fullsize", "Full size: measured here beside the model and the "
                                           "study");
    rep__doc_para(&r->body, "A cell is full size when its scale is %g or more and the "
                            "generator did not cut its times or channels. Its prediction comes "
                            "from the cost model above, fitted on small-scale cells only; a "
                            "prediction more than 25%% off its measurement is flagged. The "
                            "study's absolute times appear only here, beside full-size cells "
                            "of the same dataset, with their core counts.",
                  r->o->full_scale);
    full_table(r, d);
    rep__sb b = {0}, g = {0};
    rep__sb_puts(&b, "# label measured min max model lo hi");
    for (size_t q = 0; q < d->ncols; q++) rep__sb_printf(&b, " study%zu", q);
    rep__sb_puts(&b, "   (NaN: none)\n");
    double lo = INFINITY, hi = 0;
    size_t rows = 0;
    for (size_t i = 0; i < md->npred; i++) {
        const rep__pred *p = &md->pred[i];
        rep__mmm w;
        rep__mmm_of(rep__metric(&r->run.cells[p->cell], "wall_time"), &w);
        char lab[300];
        pred_label(r, p, lab, sizeof lab);
        rep__sb_printf(&b, "\"%s\" %.9g %.9g %.9g", lab, w.med, w.lo, w.hi);
        if (p->p.ok) rep__sb_printf(&b, " %.9g %.9g %.9g", p->p.wall, p->p.wall_lo, p->p.wall_hi);
        else rep__sb_puts(&b, " NaN NaN NaN");
        for (size_t q = 0; q < d->ncols; q++) {
            double v = study_value(d, i, q);
            rep__sb_printf(&b, isfinite(v) ? " %.9g" : " NaN", v);
            if (isfinite(v)) lo = fmin(lo, v), hi = fmax(hi, v);
        }
        rep__sb_puts(&b, "\n");
        lo = fmin(lo, fmin(w.lo, p->p.ok ? p->p.wall_lo : INFINITY));
        hi = fmax(hi, fmax(w.hi, p->p.ok ? p->p.wall_hi : 0));
        rows++;
    }
    for (size_t i = 0; i < md->next; i++) {
        const rep__extrap *x = &md->ext[i];
        if (!x->p.ok) continue;
        rep__sb_printf(&b, "\"%s full shape (model only), %d cores\" NaN NaN NaN %.9g %.9g %.9g",
                       x->dataset, x->cores, x->p.wall, x->p.wall_lo, x->p.wall_hi);
        for (size_t q = 0; q < d->ncols; q++) rep__sb_puts(&b, " NaN");
        rep__sb_puts(&b, "\n");
        lo = fmin(lo, x->p.wall_lo);
        hi = fmax(hi, x->p.wall_hi);
        rows++;
    }
    int rc = 0;
    if (rows && isfinite(lo) && hi > 0) {
        rc = rep__data_file(r, "fullsize.dat", &b);
        rep__sb_puts(&g, "set ylabel 'wall time (s)'\nset style data histograms\n"
                         "set style histogram errorbars gap 1 lw 1\nset style fill solid 0.8 "
                         "border -1\nset datafile missing 'NaN'\nset grid ytics\nset key below "
                         "Left reverse\nset xtics rotate by -20\n");
        rep__axis(&g, "y", lo, hi, 1, 0);
        rep__sb_printf(&g, "plot 'fullsize.dat' using 2:3:4:xtic(1) lc rgb '%s' title 'measured "
                           "here (min-max)', '' using 5:6:7 lc rgb '%s' title 'model, fitted "
                           "on small-scale cells (95%% band)'",
                       rep__palette[0], rep__palette[3]);
        for (size_t q = 0; q < d->ncols; q++) {
            rep__sb_printf(&g, ", '' using %zu:%zu:%zu lc rgb '%s' title ", 8 + q, 8 + q, 8 + q,
                           rep__palette[(q + 4) % 8]);
            rep__gpq(&g, d->cols[q]);
        }
        rep__sb_puts(&g, "\n");
        int clo = 0, chi = 0;
        for (size_t i = 0; i < md->npred; i++) {
            const rep_cell_data *c = &r->run.cells[md->pred[i].cell];
            int cores = (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
            clo = !clo || cores < clo ? cores : clo;
            chi = cores > chi ? cores : chi;
        }
        const char *cap = "Full-size cells measured here (blue, with their layout in the "
                          "label) beside the cost model's prediction (orange; its error in "
                          "the label, 'OFF >25%' when it misses by more than 25%) and the "
                          "study's times for the same dataset at full size (with the study's "
                          "nodes, threads or MPI processes; read from its plots, about +-10%). "
                          "Bars labelled 'full shape (model only)' are predictions for datasets "
                          "with no full-size cell here: no measurement, no study bar.";
        if (!rc)
            rc = g.oom ? ib_error(r->e, IB_ENOMEM, "out of memory")
                       : rep__figure(r, "fullsize", "full size: measured, model and the study",
                                     (md->npred ? REP__K_MEASURED : 0) | REP__K_MODEL |
                                         (d->ncols ? REP__K_STUDY : 0),
                                     clo, chi, cap, "fullsize.dat", rep__sb_str(&g));
    }
    rep__sb_release(&b);
    rep__sb_release(&g);
    return rc;
}
