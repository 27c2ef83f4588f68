/*
 * costmodel.c: the physically split cost model (reports.h explains its
 * terms and stages) — per-term non-negative fits on phase thread-seconds,
 * a wall-time stage on top, case-bootstrap bands, the identifiability
 * rule on every slope, and predictions that refuse to extrapolate what the
 * fit does not identify. Pure statistics: no I/O.
 */
#include "reports/stats_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name, *driver, *unit;
} terms[REP_NTERMS] = {
    {"read", "bytes read", "bytes"},
    {"grid", "samples x support^2", "samples"},
    {"fft", "planes x G log2 G", "ops"},
    {"write", "bytes written", "bytes"},
    {"pointing", "pointings x channels", "count"},
};

const char *rep_term_name(int t) { return t >= 0 && t < REP_NTERMS ? terms[t].name : "?"; }
const char *rep_term_driver(int t) { return t >= 0 && t < REP_NTERMS ? terms[t].driver : "?"; }
const char *rep_term_unit(int t) { return t >= 0 && t < REP_NTERMS ? terms[t].unit : "?"; }

int rep_term_of_phase(const char *phase)
{
    static const struct {
        const char *phase;
        int term;
    } map[] = {{"read", REP_TERM_READ},   {"weight", REP_TERM_READ},  {"grid", REP_TERM_GRID},
               {"fft", REP_TERM_FFT},     {"correct", REP_TERM_FFT},  {"write", REP_TERM_WRITE},
               {"kernel", REP_TERM_POINTING}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i].phase, phase) == 0) return map[i].term;
    return -1;
}

void rep_cost_opts_init(rep_cost_opts *o)
{
    o->level = 0.95;
    o->boot = 500;
    o->seed = 1;
}

void rep_cost_model_release(rep_cost_model *m)
{
    if (!m) return;
    ib_free(m->boot);
    memset(m, 0, sizeof *m);
}

/* Parameters per bootstrap resample: a and c of every (gridder, term), f, r. */
#define NPAR (REP_COST_MAXG * REP_NTERMS * 2 + 2)
#define IDX_A(g, j) (((g) * REP_NTERMS + (j)) * 2)
#define IDX_C(g, j) (((g) * REP_NTERMS + (j)) * 2 + 1)
#define IDX_F (REP_COST_MAXG * REP_NTERMS * 2)
#define IDX_R (IDX_F + 1)

/* A cell the fit can use: a wall time, cores and at least one phase. */
static int usable(const rep_cost_cell *c)
{
    if (!(c->wall > 0) || !(c->cores >= 1)) return 0;
    for (int j = 0; j < REP_NTERMS; j++)
        if (isfinite(c->y[j])) return 1;
    return 0;
}

static double phase_sum(const rep_cost_cell *c)
{
    double p = 0;
    for (int j = 0; j < REP_NTERMS; j++)
        if (isfinite(c->y[j]) && c->y[j] > 0) p += c->y[j];
    return p;
}

/*
 * y = a + c x over the points (x[i], y[i]), a, c >= 0, relative weights
 * 1 / (y + eps)^2 (eps keeps phases of ~0 s from dominating). slope = 0
 * fits the intercept alone. buf holds 3 n doubles.
 */
static void line_fit(const double *x, const double *y, size_t n, int slope, double *buf,
                     double *a, double *c)
{
    double eps = 0;
    for (size_t i = 0; i < n; i++) eps = fmax(eps, fabs(y[i]));
    eps = 1e-3 * eps + 1e-12;
    double *A = buf, *b = buf + 2 * n, sol[2] = {0, 0};
    size_t p = slope ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        double w = 1.0 / (fabs(y[i]) + eps);
        A[p * i] = w;
        if (slope) A[p * i + 1] = w * x[i];
        b[i] = w * y[i];
    }
    if (rep_nnls(NULL, A, b, n, p, sol) != 0) sol[0] = sol[1] = 0;
    *a = sol[0];
    *c = slope ? sol[1] : 0;
}

/* The fit's working state: cells, the gridder of each, one resample. */
typedef struct work {
    const rep_cost_cell *cells;
    size_t n;            /* usable cells */
    const size_t *idx;   /* usable cells' indices into cells */
    int *gi;             /* gridder index per usable cell */
    double *xs, *ys, *buf;
} work;

/* Fit term j of gridder g (g < 0: every gridder) on the cells pick[0..np):
 * returns the number of points, with their distinct x values in *distinct
 * and the x range in *xlo, *xhi. */
static size_t term_points(const work *w, const size_t *pick, size_t np, int g, int j,
                          size_t *distinct, double *xlo, double *xhi)
{
    size_t k = 0;
    *xlo = INFINITY;
    *xhi = -INFINITY;
    for (size_t q = 0; q < np; q++) {
        size_t u = pick[q];
        const rep_cost_cell *c = &w->cells[w->idx[u]];
        if ((g >= 0 && w->gi[u] != g) || !isfinite(c->y[j]) || !isfinite(c->x[j])) continue;
        w->xs[k] = c->x[j];
        w->ys[k] = c->y[j];
        *xlo = fmin(*xlo, c->x[j]);
        *xhi = fmax(*xhi, c->x[j]);
        k++;
    }
    *distinct = 0;
    for (size_t i = 0; i < k; i++) {
        size_t q = 0;
        while (q < i && w->xs[q] != w->xs[i]) q++;
        *distinct += q == i;
    }
    return k;
}

/* Stage 2 on the cells pick[0..np): wall = f + r P / cores. */
static void stage2(const work *w, const size_t *pick, size_t np, double *f, double *r,
                   size_t *distinct)
{
    size_t k = 0;
    for (size_t q = 0; q < np; q++) {
        const rep_cost_cell *c = &w->cells[w->idx[pick[q]]];
        w->xs[k] = phase_sum(c) / c->cores;
        w->ys[k] = c->wall;
        k++;
    }
    size_t d = 0;
    for (size_t i = 0; i < k; i++) {
        size_t q = 0;
        while (q < i && w->xs[q] != w->xs[i]) q++;
        d += q == i;
    }
    if (distinct) *distinct = d;
    line_fit(w->xs, w->ys, k, d > 1, w->buf, f, r);
}

/*
 * Every parameter for the cells pick[0..np) with the scopes of m into par.
 * 0 when the resample cannot estimate a slope the full fit has (its
 * driver takes one value in the resample): the caller redraws it.
 */
static int fit_all(const work *w, const rep_cost_model *m, const size_t *pick, size_t np,
                   double *par)
{
    for (size_t i = 0; i < NPAR; i++) par[i] = 0;
    for (size_t g = 0; g < m->ng; g++)
        for (int j = 0; j < REP_NTERMS; j++) {
            const rep_cost_term *t = &m->term[g][j];
            if (!t->used) continue;
            size_t d;
            double lo, hi;
            int every = strcmp(t->scope, "every gridder") == 0;
            size_t k = term_points(w, pick, np, every ? -1 : (int)g, j, &d, &lo, &hi);
            if (t->slope && d < 2) return 0;
            if (k) line_fit(w->xs, w->ys, k, t->slope, w->buf, &par[IDX_A(g, j)],
                            &par[IDX_C(g, j)]);
        }
    size_t d2;
    stage2(w, pick, np, &par[IDX_F], &par[IDX_R], &d2);
    return d2 > 1 || m->distinct_p < 2;
}

/* Decide term (g, j)'s scope and point estimate on every usable cell. */
static void first_fit(const work *w, const size_t *all, rep_cost_model *m, size_t g, int j)
{
    rep_cost_term *t = &m->term[g][j];
    size_t d;
    double lo, hi;
    size_t k = term_points(w, all, w->n, (int)g, j, &d, &lo, &hi);
    snprintf(t->scope, sizeof t->scope, "gridder %s", m->gridder[g]);
    if (!k) return;
    t->used = 1;
    t->n = k;
    t->distinct = d;
    t->slope = hi > 0 && d > 1;
    t->c.range_lo = 0;
    t->c.range_hi = 0;
    for (size_t i = 0; i < k; i++)
        if (w->xs[i] > 0) t->c.range_hi = fmax(t->c.range_hi, w->ys[i] / w->xs[i]);
    t->a.range_lo = 0;
    t->a.range_hi = 0;
    for (size_t i = 0; i < k; i++) t->a.range_hi = fmax(t->a.range_hi, w->ys[i]);
    t->a.lo = t->a.hi = t->c.lo = t->c.hi = NAN;
    line_fit(w->xs, w->ys, k, t->slope, w->buf, &t->a.est, &t->c.est);
    t->xlo = lo;
    t->xhi = hi;
}

/* Percentile band of parameter i over the resamples, into *lo, *hi (NAN
 * with fewer than 10 resamples). */
static void band(const rep_cost_model *m, size_t i, double *tmp, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (m->nboot < 10) return;
    for (size_t b = 0; b < m->nboot; b++) tmp[b] = m->boot[b * NPAR + i];
    rep__percentile_ci(tmp, m->nboot, m->level, lo, hi);
}

/* Bands and verdicts of every parameter from the resamples. */
static void judge(rep_cost_model *m, double *tmp, const work *w, const size_t *all)
{
    for (size_t g = 0; g < m->ng; g++)
        for (int j = 0; j < REP_NTERMS; j++) {
            rep_cost_term *t = &m->term[g][j];
            if (!t->used) continue;
            band(m, IDX_A(g, j), tmp, &t->a.lo, &t->a.hi);
            t->a.identifiable = 1;
            if (!t->slope) {
                t->c.est = NAN;
                t->c.identifiable = 0;
                snprintf(t->c.why, sizeof t->c.why,
                         "not identifiable from these points: %s is %s in every fit cell",
                         terms[j].driver, t->xhi > 0 ? "the same" : "zero");
                continue;
            }
            band(m, IDX_C(g, j), tmp, &t->c.lo, &t->c.hi);
            rep_identify(&t->c, t->distinct, 2, t->n > 2 ? t->n - 2 : 0);
        }
    size_t d;
    double f, r;
    stage2(w, all, w->n, &f, &r, &d);
    m->distinct_p = d;
    m->f.range_lo = m->r.range_lo = 0;
    m->f.range_hi = m->r.range_hi = 0;
    for (size_t u = 0; u < w->n; u++) {
        const rep_cost_cell *c = &w->cells[w->idx[u]];
        double p = phase_sum(c) / c->cores;
        m->f.range_hi = fmax(m->f.range_hi, c->wall);
        if (p > 0) m->r.range_hi = fmax(m->r.range_hi, c->wall / p);
    }
    band(m, IDX_F, tmp, &m->f.lo, &m->f.hi);
    band(m, IDX_R, tmp, &m->r.lo, &m->r.hi);
    m->f.identifiable = 1;
    rep_identify(&m->r, d, 2, w->n > 2 ? w->n - 2 : 0);
}

/* Gridder indices of the usable cells; IB_EINVAL past REP_COST_MAXG. */
static int gridders(ib_err *e, rep_cost_model *m, const work *w, int *gi)
{
    for (size_t u = 0; u < w->n; u++) {
        const char *name = w->cells[w->idx[u]].gridder;
        size_t g = 0;
        while (g < m->ng && strcmp(m->gridder[g], name) != 0) g++;
        if (g == m->ng) {
            if (m->ng == REP_COST_MAXG)
                return ib_error(e, IB_EINVAL, "cost model: more than %d gridders",
                                REP_COST_MAXG);
            snprintf(m->gridder[m->ng++], sizeof m->gridder[0], "%s", name);
        }
        gi[u] = (int)g;
    }
    return 0;
}

int rep_cost_model_fit(ib_err *e, const rep_cost_cell *cells, size_t n,
                       const rep_cost_opts *o, rep_cost_model *m, size_t *skipped)
{
    memset(m, 0, sizeof *m);
    int rc = rep__check_boot_args(e, o->level, o->boot, "cost model");
    if (rc) return rc;
    size_t *idx = ib_malloc((n ? n : 1) * 2 * sizeof *idx), nu = 0;
    int *gi = ib_malloc((n ? n : 1) * sizeof *gi);
    double *mem = rep__alloc_doubles(NULL, 6 * (n ? n : 1) + o->boot, "cost model");
    m->boot = rep__alloc_doubles(NULL, NPAR * o->boot, "cost model");
    if (!idx || !gi || !mem || !m->boot) {
        ib_free(idx);
        ib_free(gi);
        ib_free(mem);
        rep_cost_model_release(m);
        return ib_error(e, IB_ENOMEM, "cost model: cannot allocate for %zu cells", n);
    }
    for (size_t i = 0; i < n; i++)
        if (usable(&cells[i])) idx[nu++] = i;
    if (skipped) *skipped = n - nu;
    size_t *all = idx + n, *pick = NULL;
    work w = {cells, nu, idx, gi, mem, mem + n, mem + 2 * n};
    if (!nu) rc = ib_error(e, IB_EINVAL, "cost model: no cell with a wall time, cores and "
                                         "phase times to fit");
    if (!rc) rc = gridders(e, m, &w, gi);
    if (!rc) {
        for (size_t u = 0; u < nu; u++) all[u] = u;
        for (size_t g = 0; g < m->ng; g++)
            for (int j = 0; j < REP_NTERMS; j++) first_fit(&w, all, m, g, j);
        /* read, fft and write work the same whatever the gridder: pool the
         * cells when the gridder's own do not identify the slope */
        for (size_t g = 0; g < m->ng; g++)
            for (int j = 0; j < REP_NTERMS; j++) {
                rep_cost_term *t = &m->term[g][j];
                if (!t->used || j == REP_TERM_GRID || j == REP_TERM_POINTING || m->ng < 2 ||
                    (t->slope && t->distinct >= 3))
                    continue;
                size_t d;
                double lo, hi;
                size_t k = term_points(&w, all, nu, -1, j, &d, &lo, &hi);
                if (d <= t->distinct) continue;
                t->n = k;
                t->distinct = d;
                t->slope = hi > 0 && d > 1;
                snprintf(t->scope, sizeof t->scope, "every gridder");
                line_fit(w.xs, w.ys, k, t->slope, w.buf, &t->a.est, &t->c.est);
                t->c.range_hi = t->a.range_hi = 0;
                for (size_t i = 0; i < k; i++) {
                    if (w.xs[i] > 0) t->c.range_hi = fmax(t->c.range_hi, w.ys[i] / w.xs[i]);
                    t->a.range_hi = fmax(t->a.range_hi, w.ys[i]);
                }
                t->xlo = lo;
                t->xhi = hi;
            }
        stage2(&w, all, nu, &m->f.est, &m->r.est, NULL);
        pick = ib_malloc((nu ? nu : 1) * sizeof *pick);
        if (!pick) rc = ib_error(e, IB_ENOMEM, "cost model: out of memory");
    }
    if (!rc) {
        m->level = o->level;
        m->ncells = nu;
        {
            size_t d;
            double f, r;
            stage2(&w, all, nu, &f, &r, &d);
            m->distinct_p = d;
        }
        /* resamples that lose a slope's second driver value are redrawn
         * (at most 10 draws per kept resample) */
        for (size_t a = 0; m->nboot < o->boot && a < 10 * o->boot; a++) {
            for (size_t q = 0; q < nu; q++)
                pick[q] = rep__draw_index(o->seed, REP__STREAM_NNLS, a, q, nu);
            if (fit_all(&w, m, pick, nu, m->boot + m->nboot * NPAR)) m->nboot++;
        }
        double *tmp = mem + 3 * n;
        judge(m, tmp, &w, all);
    }
    ib_free(pick);
    ib_free(idx);
    ib_free(gi);
    ib_free(mem);
    if (rc) rep_cost_model_release(m);
    return rc;
}

/* Wall time of c under parameter set par (terms into t when not NULL);
 * NAN when a term it needs is missing. */
static double eval(const rep_cost_model *m, size_t g, const rep_cost_cell *c, const double *par,
                   double *t)
{
    double p = 0;
    for (int j = 0; j < REP_NTERMS; j++) {
        const rep_cost_term *tm = &m->term[g][j];
        double v = NAN;
        if (tm->used) {
            v = par[IDX_A(g, j)] + (tm->slope ? par[IDX_C(g, j)] * c->x[j] : 0);
            p += v;
        }
        if (t) t[j] = v;
    }
    return par[IDX_F] + par[IDX_R] * p / c->cores;
}

/* Why c cannot be predicted (into why), or 0 when it can. */
static int refuse(const rep_cost_model *m, size_t g, const rep_cost_cell *c, char *why,
                  size_t n)
{
    if (!(c->cores >= 1)) return snprintf(why, n, "no core count"), 1;
    if (!m->r.identifiable)
        return snprintf(why, n, "wall stage r: %s", m->r.why), 1;
    for (int j = 0; j < REP_NTERMS; j++) {
        const rep_cost_term *t = &m->term[g][j];
        if (!t->used) continue;
        if (!isfinite(c->x[j]))
            return snprintf(why, n, "%s: the cell's %s is not recorded", terms[j].name,
                            terms[j].driver), 1;
        if (t->slope && !t->c.identifiable)
            return snprintf(why, n, "%s (%s): %s", terms[j].name, t->scope, t->c.why), 1;
        if (!t->slope && (c->x[j] < t->xlo || c->x[j] > t->xhi))
            return snprintf(why, n, "%s: %s", terms[j].name, t->c.why), 1;
    }
    return 0;
}

void rep_cost_predict(const rep_cost_model *m, const rep_cost_cell *c, rep_cost_prediction *out)
{
    memset(out, 0, sizeof *out);
    out->wall = out->wall_lo = out->wall_hi = NAN;
    for (int j = 0; j < REP_NTERMS; j++) out->term[j] = out->term_lo[j] = out->term_hi[j] = NAN;
    size_t g = 0;
    while (g < m->ng && strcmp(m->gridder[g], c->gridder) != 0) g++;
    if (g == m->ng) {
        snprintf(out->why, sizeof out->why, "no small-scale cell of gridder '%s' to fit",
                 c->gridder);
        return;
    }
    if (refuse(m, g, c, out->why, sizeof out->why)) return;
    double par[NPAR];
    for (size_t i = 0; i < NPAR; i++) par[i] = 0;
    for (int j = 0; j < REP_NTERMS; j++) {
        par[IDX_A(g, j)] = m->term[g][j].a.est;
        par[IDX_C(g, j)] = m->term[g][j].slope ? m->term[g][j].c.est : 0;
    }
    par[IDX_F] = m->f.est;
    par[IDX_R] = m->r.est;
    out->wall = eval(m, g, c, par, out->term);
    double *wb = ib_malloc((m->nboot ? m->nboot : 1) * (REP_NTERMS + 1) * sizeof *wb);
    if (wb && m->nboot) {
        double t[REP_NTERMS];
        for (size_t b = 0; b < m->nboot; b++) {
            wb[b] = eval(m, g, c, m->boot + b * NPAR, t);
            for (int j = 0; j < REP_NTERMS; j++) wb[(size_t)(j + 1) * m->nboot + b] = t[j];
        }
        rep__percentile_ci(wb, m->nboot, m->level, &out->wall_lo, &out->wall_hi);
        for (int j = 0; j < REP_NTERMS; j++)
            if (m->term[g][j].used)
                rep__percentile_ci(wb + (size_t)(j + 1) * m->nboot, m->nboot, m->level,
                                   &out->term_lo[j], &out->term_hi[j]);
    }
    ib_free(wb);
    out->ok = 1;
}
