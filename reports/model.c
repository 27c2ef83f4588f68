/*
 * model.c: the report's cost model — cells turned into the model's sizes
 * and times, the training set (small-scale cells of the runs the options
 * name, never a full-size one), the predictions of the run's full-size
 * cells beside their measurements (stored in the results database when
 * asked), and predictions of each dataset's full shape where no full-size
 * cell was measured. The statistics are costmodel.c's.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rep__full_size(const rep_cell_data *c, double full_scale)
{
    return isfinite(c->scale) && c->scale >= full_scale * (1 - 1e-9) && !c->times && !c->chans;
}

static int is_mosaic(const rep_cell_data *c) { return strcmp(c->gridder, "mosaic") == 0; }

/* Median over the repeats of the phases that do term j; NAN when none. */
static double term_time(const rep_cell_data *c, int j)
{
    double y = NAN;
    for (size_t p = 0; p < c->nphases; p++) {
        if (rep_term_of_phase(c->phases[p].name) != j) continue;
        double v = rep__vmedian(&c->phases[p]);
        if (!isfinite(v)) continue;
        y = isfinite(y) ? y + v : v;
    }
    return y;
}

int rep__cost_cell(const rep_cell_data *c, rep_cost_cell *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->gridder, sizeof out->gridder, "%s", c->gridder[0] ? c->gridder : "standard");
    double samples = rep__vmedian(rep__metric(c, "samples_gridded"));
    double pad = isfinite(c->padding) && c->padding >= 1 ? c->padding : 1.0;
    double psf = c->psf ? 2 : 1;
    double S = is_mosaic(c) && isfinite(c->mosaic_support) ? c->mosaic_support : c->support;
    double G = c->nx * pad * c->ny * pad, planes = c->nchan * c->npol * psf;
    out->x[REP_TERM_READ] = rep__vmedian(rep__metric(c, "bytes_read"));
    out->x[REP_TERM_GRID] = samples * S * S * psf;
    out->x[REP_TERM_FFT] = G > 1 ? planes * G * log2(G) : NAN;
    out->x[REP_TERM_WRITE] = rep__vmedian(rep__metric(c, "bytes_written"));
    out->x[REP_TERM_POINTING] = is_mosaic(c) ? c->nfield * c->nchan * psf : 0;
    for (int j = 0; j < REP_NTERMS; j++) out->y[j] = term_time(c, j);
    out->wall = rep__vmedian(rep__metric(c, "wall_time"));
    out->cores = (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
    for (int j = 0; j < REP_NTERMS; j++)
        if (!isfinite(out->x[j]) || out->x[j] < 0) return 0;
    return S > 0;
}

int rep__cost_trainer(const rep_cell_data *c)
{
    char im[32];
    const char *imager = rep__param_str(c, "imager", "imbench", im, sizeof im);
    if (strcmp(imager, "imbench") != 0 || !c->ok) return 0;
    double spill = rep__vmedian(rep__metric(c, "spill_bytes"));
    if (isfinite(spill) && spill > 0) return 0; /* the model has no spill term */
    rep_cost_cell cc;
    return rep__cost_cell(c, &cc) && isfinite(cc.wall) && c->nphases > 0;
}

void rep__model_free(rep__model *m)
{
    if (!m) return;
    rep_cost_model_release(&m->m);
    free(m->fitted_json);
    free(m->terms_json);
    ib_free(m->pred);
    ib_free(m->ext);
    ib_free(m);
}

/* ---- training ------------------------------------------------------------------ */

typedef struct train {
    rep_cost_cell *c;
    int64_t *id;          /* cell ids, to count each cell once */
    size_t n, cap;
    double smin, smax;    /* scales */
    rep__sb runs;         /* "1, 3" */
} train;

static int train_add(train *t, const rep_cell_data *c, const rep_cost_cell *cc)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->id[i] == c->id) return 0; /* newer run already gave it */
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        rep_cost_cell *nc = ib_malloc(cap * sizeof *nc);
        int64_t *ni = ib_malloc(cap * sizeof *ni);
        if (!nc || !ni) {
            ib_free(nc);
            ib_free(ni);
            return IB_ENOMEM;
        }
        if (t->n) {
            memcpy(nc, t->c, t->n * sizeof *nc);
            memcpy(ni, t->id, t->n * sizeof *ni);
        }
        ib_free(t->c);
        ib_free(t->id);
        t->c = nc;
        t->id = ni;
        t->cap = cap;
    }
    t->c[t->n] = *cc;
    t->id[t->n++] = c->id;
    t->smin = fmin(t->smin, c->scale);
    t->smax = fmax(t->smax, c->scale);
    return 0;
}

/* The small-scale cells of one run into t. */
static int train_run(rep__report *r, const rep_run_data *run, train *t)
{
    size_t before = t->n;
    for (size_t i = 0; i < run->ncells; i++) {
        const rep_cell_data *c = &run->cells[i];
        rep_cost_cell cc;
        if (rep__full_size(c, r->o->full_scale) || !rep__cost_trainer(c)) continue;
        if (!rep__cost_cell(c, &cc)) continue;
        if (train_add(t, c, &cc)) return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    if (t->n > before) rep__sb_printf(&t->runs, "%s%lld", t->runs.len ? ", " : "", (long long)run->id);
    return 0;
}

static int gather(rep__report *r, train *t)
{
    int64_t *ids = NULL;
    size_t nids = 0;
    int rc = 0;
    if (r->o->fit_runs && r->o->nfit_runs) {
        ids = ib_malloc(r->o->nfit_runs * sizeof *ids);
        if (!ids) return ib_error(r->e, IB_ENOMEM, "out of memory");
        memcpy(ids, r->o->fit_runs, r->o->nfit_runs * sizeof *ids);
        nids = r->o->nfit_runs;
    } else {
        rc = res_report_runs(r->e, r->db, &ids, &nids);
    }
    for (size_t i = 0; !rc && i < nids; i++) {
        if (ids[i] == r->run.id) {
            rc = train_run(r, &r->run, t);
            continue;
        }
        rep_run_data other;
        rc = res_report_run_load(r->e, r->db, ids[i], &other);
        if (!rc) rc = train_run(r, &other, t);
        res_report_run_release(&other);
    }
    ib_free(ids);
    return rc;
}

/* ---- what is stored with the predictions ----------------------------------------- */

static json_t *param_json(const rep_param *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "value", isfinite(p->est) ? json_real(p->est) : json_null());
    json_object_set_new(o, "lo", isfinite(p->lo) ? json_real(p->lo) : json_null());
    json_object_set_new(o, "hi", isfinite(p->hi) ? json_real(p->hi) : json_null());
    json_object_set_new(o, "identifiable", json_boolean(p->identifiable));
    if (p->why[0]) json_object_set_new(o, "why", json_string(p->why));
    return o;
}

static void describe(rep__model *md, const train *t, double full_scale)
{
    const rep_cost_model *m = &md->m;
    json_t *f = json_pack("{s:s, s:I, s:s, s:f, s:f, s:f}", "model", "cost-phases/1", "cells",
                          (json_int_t)t->n, "runs", rep__sb_str(&t->runs), "scale_min", t->smin,
                          "scale_max", t->smax, "full_scale", full_scale);
    md->fitted_json = f ? json_dumps(f, JSON_COMPACT) : NULL;
    json_decref(f);
    json_t *o = json_object();
    for (size_t g = 0; o && g < m->ng; g++) {
        json_t *gt = json_object();
        for (int j = 0; j < REP_NTERMS; j++) {
            const rep_cost_term *tm = &m->term[g][j];
            if (!tm->used) continue;
            json_t *x = json_pack("{s:s, s:s, s:o, s:o}", "driver", rep_term_driver(j), "scope",
                                  tm->scope, "a", param_json(&tm->a), "c", param_json(&tm->c));
            json_object_set_new(gt, rep_term_name(j), x);
        }
        json_object_set_new(o, m->gridder[g], gt);
    }
    json_object_set_new(o, "f", param_json(&m->f));
    json_object_set_new(o, "r", param_json(&m->r));
    md->terms_json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
}

/* ---- predictions ---------------------------------------------------------------- */

static int predict_full(rep__report *r, rep__model *md)
{
    md->pred = ib_calloc(r->run.ncells ? r->run.ncells : 1, sizeof *md->pred);
    if (!md->pred) return ib_error(r->e, IB_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->run.ncells; i++) {
        const rep_cell_data *c = &r->run.cells[i];
        if (!c->ok || !rep__full_size(c, r->o->full_scale)) continue;
        rep__pred *p = &md->pred[md->npred++];
        p->cell = i;
        p->measured = rep__vmedian(rep__metric(c, "wall_time"));
        p->err = NAN;
        if (!rep__cost_cell(c, &p->cc)) {
            snprintf(p->p.why, sizeof p->p.why, "the cell's sizes are not recorded in its stats");
            p->p.wall = NAN;
            continue;
        }
        if (md->fitted) rep_cost_predict(&md->m, &p->cc, &p->p);
        else snprintf(p->p.why, sizeof p->p.why, "%.300s", md->why);
        if (p->p.ok && p->measured > 0) p->err = (p->p.wall - p->measured) / p->measured;
    }
    return 0;
}

/* The full shape of dataset ds, from its small cells in the run. */
static void extrapolate_one(rep__report *r, rep__model *md, const char *ds, rep__extrap *x)
{
    memset(x, 0, sizeof *x);
    snprintf(x->dataset, sizeof x->dataset, "%s", ds);
    x->p.wall = NAN;
    const rep_full_shape *sh = NULL;
    for (size_t k = 0; k < r->o->nshapes; k++)
        if (!strcmp(r->o->shapes[k].name, ds)) sh = &r->o->shapes[k];
    double ks[256], kr[256], kw[256], pad[256];
    size_t n = 0;
    const rep_cell_data *best = NULL; /* the layout predicted: the most cores */
    for (size_t i = 0; i < r->run.ncells && n < 256; i++) {
        const rep_cell_data *c = &r->run.cells[i];
        double samples = rep__vmedian(rep__metric(c, "samples_gridded"));
        double vox = c->nx * c->ny * c->nchan * c->npol, data = c->nrow * c->nchan * c->npol;
        if (strcmp(c->dataset, ds) || !c->ok || !(samples > 0) || !(vox > 0) || !(data > 0))
            continue;
        ks[n] = samples / data;
        kr[n] = rep__vmedian(rep__metric(c, "bytes_read")) / samples;
        kw[n] = rep__vmedian(rep__metric(c, "bytes_written")) / vox;
        pad[n++] = isfinite(c->padding) ? c->padding : 1;
        int cores = (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
        if (!best || cores > x->cores || (cores == x->cores && c->support < best->support)) {
            best = c;
            x->cores = cores;
        }
    }
    if (!best) {
        snprintf(x->p.why, sizeof x->p.why, "no cell of %s records its sizes", ds);
        return;
    }
    snprintf(x->gridder, sizeof x->gridder, "%s", best->gridder[0] ? best->gridder : "standard");
    if (!sh) {
        snprintf(x->p.why, sizeof x->p.why, "no full shape for dataset '%s'", ds);
        return;
    }
    if (!md->fitted) {
        snprintf(x->p.why, sizeof x->p.why, "%.300s", md->why);
        return;
    }
    if (!strcmp(x->gridder, "mosaic") && !(sh->npointing > 0)) {
        snprintf(x->p.why, sizeof x->p.why, "the pointing count of %s's full shape is not "
                                            "known (no dataset spec gave it)", ds);
        return;
    }
    double samples = sh->rows * sh->nchan * sh->npol * rep_median_or_nan(ks, n);
    double p = rep_median_or_nan(pad, n), psf = best->psf ? 2 : 1;
    double G = sh->nx * p * sh->ny * p, planes = sh->nchan * sh->npol * psf;
    rep_cost_cell *cc = &x->cc;
    snprintf(cc->gridder, sizeof cc->gridder, "%s", x->gridder);
    cc->x[REP_TERM_READ] = samples * rep_median_or_nan(kr, n);
    cc->x[REP_TERM_GRID] = samples * best->support * best->support * psf;
    cc->x[REP_TERM_FFT] = G > 1 ? planes * G * log2(G) : NAN;
    cc->x[REP_TERM_WRITE] = sh->nx * sh->ny * sh->nchan * sh->npol * rep_median_or_nan(kw, n);
    cc->x[REP_TERM_POINTING] =
        strcmp(x->gridder, "mosaic") ? 0 : sh->npointing > 0 ? sh->npointing * sh->nchan * psf
                                                              : NAN;
    cc->cores = x->cores;
    rep_cost_predict(&md->m, cc, &x->p);
}

static int extrapolate(rep__report *r, rep__model *md)
{
    const char **ds;
    size_t nds;
    if (rep__datasets(&r->run, &ds, &nds)) return ib_error(r->e, IB_ENOMEM, "out of memory");
    md->ext = ib_calloc(nds ? nds : 1, sizeof *md->ext);
    if (!md->ext) {
        ib_free(ds);
        return ib_error(r->e, IB_ENOMEM, "out of memory");
    }
    for (size_t d = 0; d < nds; d++) {
        int measured = 0;
        for (size_t i = 0; i < md->npred; i++)
            measured |= !strcmp(r->run.cells[md->pred[i].cell].dataset, ds[d]);
        if (!measured) extrapolate_one(r, md, ds[d], &md->ext[md->next++]);
    }
    ib_free(ds);
    return 0;
}

static int store(rep__report *r, rep__model *md, size_t *nstored)
{
    *nstored = 0;
    res_prediction *rows = ib_calloc(md->npred * (REP_NTERMS + 1) + 1, sizeof *rows);
    if (!rows) return ib_error(r->e, IB_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < md->npred; i++) {
        const rep__pred *p = &md->pred[i];
        if (!p->p.ok) continue;
        const rep_cell_data *c = &r->run.cells[p->cell];
        for (int j = -1; j < REP_NTERMS; j++) {
            if (j >= 0 && !isfinite(p->p.term[j])) continue;
            res_prediction *q = &rows[k++];
            q->cell_id = c->id;
            q->run_id = r->run.id;
            snprintf(q->model, sizeof q->model, "cost-phases/1");
            if (j < 0) snprintf(q->metric, sizeof q->metric, "wall_time");
            else snprintf(q->metric, sizeof q->metric, "term:%s", rep_term_name(j));
            q->value = j < 0 ? p->p.wall : p->p.term[j];
            q->lo = j < 0 ? p->p.wall_lo : p->p.term_lo[j];
            q->hi = j < 0 ? p->p.wall_hi : p->p.term_hi[j];
            q->measured = j < 0 ? p->measured : p->cc.y[j];
            q->fitted_on = md->fitted_json;
            q->terms = md->terms_json;
        }
    }
    int rc = k ? res_report_predictions_store(r->e, r->db, rows, k) : 0;
    ib_free(rows);
    if (!rc)
        for (size_t i = 0; i < md->npred; i++) *nstored += md->pred[i].p.ok;
    return rc;
}

/* What the database holds of the run's predictions (stored now or by an
 * earlier report with --store-predictions). */
static int mark_stored(rep__report *r, rep__model *md)
{
    res_prediction *p;
    size_t n;
    int rc = res_report_predictions(r->e, r->db, r->run.id, &p, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p[i].metric, "wall_time")) continue;
        for (size_t k = 0; k < md->npred; k++) {
            rep__pred *q = &md->pred[k];
            if (r->run.cells[q->cell].id != p[i].cell_id) continue;
            q->stored = 1;
            q->stored_value = p[i].value;
            snprintf(q->stored_at, sizeof q->stored_at, "%s", p[i].created_at);
        }
    }
    res_predictions_free(p, n);
    return 0;
}

int rep__model_build(rep__report *r)
{
    rep__model *md = ib_calloc(1, sizeof *md);
    if (!md) return ib_error(r->e, IB_ENOMEM, "out of memory");
    r->model = md;
    train t = {.smin = INFINITY, .smax = -INFINITY};
    int rc = gather(r, &t);
    if (!rc && t.n) {
        rep_cost_opts co;
        rep_cost_opts_init(&co);
        co.seed = r->o->seed;
        ib_err fe;
        ib_err_init(&fe);
        if (rep_cost_model_fit(&fe, t.c, t.n, &co, &md->m, NULL) == 0) {
            md->fitted = 1;
            md->ntrain = md->m.ncells;
            snprintf(md->trained_on, sizeof md->trained_on,
                     "%zu small-scale cells (scales %.4g to %.4g) of run%s %s", md->ntrain,
                     t.smin, t.smax, strchr(rep__sb_str(&t.runs), ',') ? "s" : "",
                     rep__sb_str(&t.runs));
            describe(md, &t, r->o->full_scale);
        } else {
            snprintf(md->why, sizeof md->why, "no cost model: %.370s", fe.msg);
        }
    } else if (!rc) {
        snprintf(md->why, sizeof md->why,
                 "no cost model: no small-scale cell (scale below %g, imbench, no spill) with "
                 "its sizes and phase times in the database",
                 r->o->full_scale);
    }
    if (!rc) rc = predict_full(r, md);
    if (!rc) rc = extrapolate(r, md);
    if (!rc && r->o->store_predictions && md->npred) {
        size_t ns = 0;
        rc = store(r, md, &ns);
    }
    if (!rc && md->npred) rc = mark_stored(r, md);
    ib_free(t.c);
    ib_free(t.id);
    rep__sb_release(&t.runs);
    return rc;
}

int rep_cost_model_from_db(ib_err *e, res_db *db, double full_scale, rep_cost_model *m,
                           int *fitted, char *about, size_t n)
{
    *fitted = 0;
    memset(m, 0, sizeof *m);
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.full_scale = full_scale;
    rep__report r;
    memset(&r, 0, sizeof r); /* no run of its own: every run trains */
    r.e = e;
    r.db = db;
    r.o = &o;
    train t = {.smin = INFINITY, .smax = -INFINITY};
    int rc = gather(&r, &t);
    if (!rc && !t.n) {
        snprintf(about, n, "no small-scale cell (scale below %g, imbench, no spill) with its "
                           "sizes and phase times in the database", full_scale);
    } else if (!rc) {
        rep_cost_opts co;
        rep_cost_opts_init(&co);
        ib_err fe;
        ib_err_init(&fe);
        if (rep_cost_model_fit(&fe, t.c, t.n, &co, m, NULL) == 0) {
            *fitted = 1;
            snprintf(about, n, "cost model fitted on %zu small-scale cells (scales %.4g to %.4g) "
                               "of run%s %s", m->ncells, t.smin, t.smax,
                     strchr(rep__sb_str(&t.runs), ',') ? "s" : "", rep__sb_str(&t.runs));
        } else {
            rep_cost_model_release(m);
            memset(m, 0, sizeof *m);
            snprintf(about, n, "no cost model: %.400s", fe.msg);
        }
    }
    ib_free(t.c);
    ib_free(t.id);
    rep__sb_release(&t.runs);
    return rc;
}
