/*
 * models.c: what the report and `harness compare` derive from a run beyond
 * per-cell summaries — series of cells that differ along one axis (nodes,
 * chunks, support), the recorded baselines turned into scaling curves
 * normalised to each system's own one-node time, and the cost model
 *   time = a + b samples W^2 + c FFT work + d bytes written
 * fitted to one-node cells and extrapolated to the full-size seed datasets
 * and the study's node count (Amdahl). Everything extrapolated is a model
 * and the callers label it so.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *rep__axis_name(int axis)
{
    return axis == REP__AXIS_NODES ? "nodes" : axis == REP__AXIS_CHUNKS ? "chunks" : "support";
}

int rep__axis_value(const rep_cell_data *c, int axis)
{
    return axis == REP__AXIS_NODES ? c->nodes : axis == REP__AXIS_CHUNKS ? c->chunks : c->support;
}

int rep__datasets(const rep_run_data *r, const char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!r->ncells) return 0;
    const char **d = ib_malloc(r->ncells * sizeof *d);
    if (!d) return IB_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < r->ncells; i++) {
        size_t j = 0;
        while (j < k && strcmp(d[j], r->cells[i].dataset) != 0) j++;
        if (j == k) d[k++] = r->cells[i].dataset;
    }
    *out = d;
    *n = k;
    return 0;
}

/* ---- series --------------------------------------------------------- */

/* A JSON scalar as label text: strings bare, numbers %g. */
static void scalar_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%g", json_real_value(v));
    else if (json_is_true(v)) snprintf(buf, n, "true");
    else if (json_is_false(v)) snprintf(buf, n, "false");
    else if (!v) snprintf(buf, n, "-");
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, n, "%s", s ? s : "?");
        free(s);
    }
}

typedef struct group {
    json_t *obj;   /* params minus the axis keys */
    char *key;     /* its canonical text */
    size_t *cell;
    size_t n;
} group;

static void groups_free(group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(g[i].obj);
        free(g[i].key);
        ib_free(g[i].cell);
    }
    ib_free(g);
}

/* Group cells idx[0..m) by their parameters without drop[] keys. */
static int make_groups(const rep_run_data *r, const size_t *idx, size_t m,
                       const char *const *drop, group **out, size_t *nout)
{
    group *g = ib_calloc(m ? m : 1, sizeof *g);
    if (!g) return IB_ENOMEM;
    size_t ng = 0;
    for (size_t i = 0; i < m; i++) {
        const rep_cell_data *c = &r->cells[idx[i]];
        json_t *o = json_loads(c->params, 0, NULL);
        if (!json_is_object(o)) {
            json_decref(o);
            o = json_object();
        }
        for (int k = 0; drop[k]; k++) json_object_del(o, drop[k]);
        char *key = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        if (!key) {
            json_decref(o);
            groups_free(g, ng);
            return IB_ENOMEM;
        }
        size_t j = 0;
        while (j < ng && strcmp(g[j].key, key) != 0) j++;
        if (j == ng) {
            g[ng].obj = o;
            g[ng].key = key;
            g[ng].cell = ib_malloc(m * sizeof(size_t));
            if (!g[ng].cell) {
                groups_free(g, ng + 1);
                return IB_ENOMEM;
            }
            ng++;
        } else {
            json_decref(o);
            free(key);
        }
        g[j].cell[g[j].n++] = idx[i];
    }
    *out = g;
    *nout = ng;
    return 0;
}

static size_t first_cell(const rep__series *s)
{
    size_t m = (size_t)-1;
    for (size_t i = 0; i < s->n; i++) m = s->cell[i] < m ? s->cell[i] : m;
    return m;
}

/* Most points, then most samples, then the series the suite defined first. */
static int cmp_series(const void *a, const void *b)
{
    const rep__series *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    if (x->samples != y->samples) return x->samples > y->samples ? -1 : 1;
    size_t fx = first_cell(x), fy = first_cell(y);
    return fx < fy ? -1 : fx > fy;
}

void rep__series_free(rep__series *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        ib_free(s[i].cell);
        ib_free(s[i].x);
    }
    ib_free(s);
}

/* Turn groups into series with at least min_points distinct axis values.
 * zipped: threads were ignored in grouping (a node count must then have
 * one cell only). Appends to *s. */
static int groups_to_series(const rep_run_data *r, group *g, size_t ng, int axis,
                            size_t min_points, int zipped, rep__series **s, size_t *ns)
{
    /* groups with enough distinct axis values become series */
    int *qual = ib_calloc(ng ? ng : 1, sizeof *qual);
    if (!qual) return IB_ENOMEM;
    for (size_t i = 0; i < ng; i++) {
        size_t distinct = 0;
        for (size_t a = 0; a < g[i].n; a++) {
            int seen = 0;
            for (size_t b = 0; b < a && !seen; b++)
                seen = rep__axis_value(&r->cells[g[i].cell[a]], axis) ==
                       rep__axis_value(&r->cells[g[i].cell[b]], axis);
            distinct += !seen;
        }
        qual[i] = distinct >= min_points;
    }
    /* keys whose values differ between those series make the labels; a
     * lone series is labelled by the main parameters it holds fixed */
    const char *diff[32];
    size_t nd = 0;
    for (size_t i = 0; i < ng && nd < 32; i++) {
        if (!qual[i]) continue;
        const char *k;
        json_t *v;
        json_object_foreach(g[i].obj, k, v) {
            int differs = 0;
            for (size_t j = 0; j < ng && !differs; j++)
                if (qual[j]) differs = !json_equal(v, json_object_get(g[j].obj, k));
            size_t q = 0;
            while (q < nd && strcmp(diff[q], k) != 0) q++;
            if (differs && q == nd && nd < 32) diff[nd++] = k;
        }
    }
    if (!nd) {
        static const char *const main_keys[] = {"nodes", "threads", "chunks", "support"};
        for (size_t q = 0; q < 4; q++)
            for (size_t i = 0; i < ng; i++)
                if (qual[i] && json_object_get(g[i].obj, main_keys[q])) {
                    diff[nd++] = main_keys[q];
                    break;
                }
    }
    for (size_t i = 0; i < ng; i++) {
        size_t m = g[i].n;
        size_t *ord = ib_malloc(m * sizeof *ord);
        if (!ord) {
            ib_free(qual);
            return IB_ENOMEM;
        }
        /* sort the group's cells by axis value (insertion sort: small) */
        for (size_t a = 0; a < m; a++) {
            size_t v = g[i].cell[a], b = a;
            while (b > 0 && rep__axis_value(&r->cells[ord[b - 1]], axis) >
                                rep__axis_value(&r->cells[v], axis)) {
                ord[b] = ord[b - 1];
                b--;
            }
            ord[b] = v;
        }
        size_t k = 0, dup = 0;
        for (size_t a = 0; a < m; a++) {
            if (k && rep__axis_value(&r->cells[ord[k - 1]], axis) ==
                         rep__axis_value(&r->cells[ord[a]], axis)) {
                dup = 1;
                /* keep the cell with more successful repeats */
                if (r->cells[ord[a]].ok > r->cells[ord[k - 1]].ok) ord[k - 1] = ord[a];
                continue;
            }
            ord[k++] = ord[a];
        }
        if (!qual[i] || k < min_points || (zipped && dup)) {
            ib_free(ord);
            continue;
        }
        rep__series *ns2 = ib_malloc((*ns + 1) * sizeof *ns2);
        double *x = ib_malloc(k * sizeof *x);
        if (!ns2 || !x) {
            ib_free(ns2);
            ib_free(x);
            ib_free(ord);
            ib_free(qual);
            return IB_ENOMEM;
        }
        if (*ns) memcpy(ns2, *s, *ns * sizeof *ns2);
        ib_free(*s);
        *s = ns2;
        rep__series *se = &ns2[(*ns)++];
        memset(se, 0, sizeof *se);
        se->cell = ord;
        se->x = x;
        se->n = k;
        for (size_t a = 0; a < k; a++) {
            x[a] = rep__axis_value(&r->cells[ord[a]], axis);
            se->samples += r->cells[ord[a]].ok;
        }
        rep__sb lb = {0};
        for (size_t q = 0; q < nd; q++) {
            char val[128];
            scalar_text(json_object_get(g[i].obj, diff[q]), val, sizeof val);
            rep__sb_printf(&lb, "%s%s=%s", lb.len ? " " : "", diff[q], val);
        }
        if (zipped) {
            rep__sb_printf(&lb, "%sthreads", lb.len ? " " : "");
            for (size_t a = 0; a < k; a++)
                rep__sb_printf(&lb, "%s%d", a ? "/" : "=", r->cells[ord[a]].threads);
        }
        snprintf(se->label, sizeof se->label, "%s", lb.len ? rep__sb_str(&lb) : "all cells");
        rep__sb_release(&lb);
    }
    ib_free(qual);
    return 0;
}

int rep__series_along(ib_err *e, const rep_run_data *r, const char *dataset, int axis,
                      size_t min_points, rep__series **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t *idx = ib_malloc((r->ncells ? r->ncells : 1) * sizeof *idx), m = 0;
    if (!idx) return ib_error(e, IB_ENOMEM, "out of memory grouping cells");
    for (size_t i = 0; i < r->ncells; i++) {
        const rep_cell_data *c = &r->cells[i];
        if (strcmp(c->dataset, dataset) == 0 && c->ok && rep__metric(c, "wall_time") &&
            rep__axis_value(c, axis) > 0)
            idx[m++] = i;
    }
    const char *drop1[] = {rep__axis_name(axis), NULL};
    const char *drop2[] = {"nodes", "threads", NULL};
    group *g = NULL;
    size_t ng = 0;
    int rc = make_groups(r, idx, m, drop1, &g, &ng);
    if (!rc) rc = groups_to_series(r, g, ng, axis, min_points, 0, out, n);
    groups_free(g, ng);
    if (!rc && *n == 0 && axis == REP__AXIS_NODES) {
        /* suites that zip nodes with threads (fixed core count) */
        g = NULL;
        ng = 0;
        rc = make_groups(r, idx, m, drop2, &g, &ng);
        if (!rc) rc = groups_to_series(r, g, ng, axis, min_points, 1, out, n);
        groups_free(g, ng);
    }
    ib_free(idx);
    if (rc) {
        rep__series_free(*out, *n);
        *out = NULL;
        *n = 0;
        return ib_error(e, IB_ENOMEM, "out of memory grouping cells");
    }
    if (*n > 1) qsort(*out, *n, sizeof **out, cmp_series);
    return 0;
}

int rep__series_points(ib_err *e, const rep_run_data *r, const rep__series *s, double **x,
                       double **t, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rep_values *w = rep__metric(&r->cells[s->cell[i]], "wall_time");
        total += w ? w->n : 0;
    }
    *x = ib_malloc((total + 1) * sizeof **x);
    *t = ib_malloc((total + 1) * sizeof **t);
    if (!*x || !*t) {
        ib_free(*x);
        ib_free(*t);
        *x = *t = NULL;
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        const rep_values *w = rep__metric(&r->cells[s->cell[i]], "wall_time");
        for (size_t j = 0; w && j < w->n; j++) {
            if (!(w->v[j] > 0)) continue;
            (*x)[k] = s->x[i];
            (*t)[k++] = w->v[j];
        }
    }
    *n = k;
    return 0;
}

/* ---- baseline curves -------------------------------------------------- */

typedef struct brow {
    char system[64], source[32], label[64];
    int nodes, threads, bound;
    double value;
} brow;

int rep__baseline_curves(ib_err *e, res_db *db, const char *dataset, rep__bcurve **out,
                         size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = rep__prepare(e, db,
                          "SELECT system, coalesce(source, 'manual'), coalesce(label, ''),"
                          " coalesce(nodes, 0), coalesce(threads, 0), value,"
                          " CASE WHEN json_valid(note) THEN json_extract(note, '$.bound') END"
                          " FROM baselines WHERE dataset = ? AND metric = 'wall_time'"
                          " AND value > 0 ORDER BY system, source, id",
                          &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, dataset, -1, SQLITE_TRANSIENT);
    brow *rows = NULL;
    size_t nr = 0, cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (nr == cap) {
            cap = cap ? cap * 2 : 16;
            brow *nb = ib_malloc(cap * sizeof *nb);
            if (!nb) {
                sqlite3_finalize(st);
                ib_free(rows);
                return ib_error(e, IB_ENOMEM, "out of memory reading baselines");
            }
            if (nr) memcpy(nb, rows, nr * sizeof *nb);
            ib_free(rows);
            rows = nb;
        }
        brow *b = &rows[nr++];
        snprintf(b->system, sizeof b->system, "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(b->source, sizeof b->source, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(b->label, sizeof b->label, "%s", (const char *)sqlite3_column_text(st, 2));
        b->nodes = sqlite3_column_int(st, 3);
        b->threads = sqlite3_column_int(st, 4);
        b->value = sqlite3_column_double(st, 5);
        const char *bound = (const char *)sqlite3_column_text(st, 6);
        b->bound = !bound ? REP_BOUND_POINT
                   : strcmp(bound, "low") == 0  ? REP_BOUND_LOW
                   : strcmp(bound, "high") == 0 ? REP_BOUND_HIGH
                                                : REP_BOUND_POINT;
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
        ib_free(rows);
        return rep__sqlerr(e, db, s, "reading baselines");
    }
    rep__bcurve *cv = ib_calloc(nr ? nr : 1, sizeof *cv);
    if (!cv) {
        ib_free(rows);
        return ib_error(e, IB_ENOMEM, "out of memory reading baselines");
    }
    size_t nc = 0;
    for (size_t i = 0; i < nr; i++) {
        /* one curve per (system, source): rows are ordered so a group is contiguous */
        if (i > 0 && !strcmp(rows[i].system, rows[i - 1].system) &&
            !strcmp(rows[i].source, rows[i - 1].source))
            continue;
        size_t j = i;
        while (j < nr && !strcmp(rows[j].system, rows[i].system) &&
               !strcmp(rows[j].source, rows[i].source))
            j++;
        double t1 = NAN;
        int t1threads = 0;
        int approx = 0;
        for (size_t k = i; k < j; k++) {
            if (rows[k].nodes == 1 && rows[k].bound == REP_BOUND_POINT &&
                (isnan(t1) || rows[k].value < t1)) {
                t1 = rows[k].value;
                t1threads = rows[k].threads;
            }
            if (strstr(rows[k].label, "approx")) approx = 1;
        }
        if (isnan(t1)) continue; /* cannot normalise without a one-node time */
        rep__bcurve *c = &cv[nc];
        memset(c, 0, sizeof *c);
        snprintf(c->system, sizeof c->system, "%s", rows[i].system);
        snprintf(c->source, sizeof c->source, "%s", rows[i].source);
        snprintf(c->label, sizeof c->label, "%s", approx ? "read from plot, approx." : rows[i].label);
        c->t1 = t1;
        c->band_lo = c->band_hi = NAN;
        c->nodes[0] = 1;
        c->speedup[0] = 1;
        c->n = 1;
        for (size_t k = i; k < j && c->n < 16; k++) {
            const brow *b = &rows[k];
            double nodes = 0;
            int inferred = 0;
            if (b->nodes > 1 && b->bound == REP_BOUND_POINT) {
                nodes = b->nodes;
            } else if (!b->nodes && b->threads > 0 && t1threads > 0 &&
                       b->threads % t1threads == 0 && b->threads > t1threads &&
                       b->bound == REP_BOUND_POINT) {
                nodes = b->threads / t1threads;
                inferred = 1;
            } else if (!b->nodes && !b->threads) {
                double sp = t1 / b->value;
                if (isnan(c->band_lo) || sp < c->band_lo) c->band_lo = sp;
                if (isnan(c->band_hi) || sp > c->band_hi) c->band_hi = sp;
                continue;
            }
            if (nodes <= 1) continue;
            /* insert sorted by nodes; a repeated node count keeps the best time */
            size_t q = 0;
            while (q < c->n && c->nodes[q] < nodes) q++;
            if (q < c->n && c->nodes[q] == nodes) {
                if (t1 / b->value > c->speedup[q]) c->speedup[q] = t1 / b->value;
                continue;
            }
            memmove(&c->nodes[q + 1], &c->nodes[q], (c->n - q) * sizeof c->nodes[0]);
            memmove(&c->speedup[q + 1], &c->speedup[q], (c->n - q) * sizeof c->speedup[0]);
            memmove(&c->approx_nodes[q + 1], &c->approx_nodes[q],
                    (c->n - q) * sizeof c->approx_nodes[0]);
            c->nodes[q] = nodes;
            c->speedup[q] = t1 / b->value;
            c->approx_nodes[q] = inferred;
            c->n++;
        }
        if (c->n >= 2 || !isnan(c->band_lo)) nc++;
    }
    ib_free(rows);
    *out = cv;
    *n = nc;
    return 0;
}

/* ---- cost model and extrapolation ------------------------------------ */

/* One one-node cell as a point of the cost model. */
typedef struct cpoint {
    size_t cell;
    double y, x[3];
    double ks, kb;     /* samples per data sample, bytes written per image voxel */
    double pad;
    int support, threads, psf;
} cpoint;

static double fft_work(double nx, double ny, double pad, double nchan, double npol, int psf)
{
    double px = nx * pad, py = ny * pad, pix = px * py;
    if (!(pix > 1)) return NAN;
    return nchan * npol * pix * log2(pix) * (psf ? 2 : 1);
}

static int cell_point(const rep_cell_data *c, size_t idx, cpoint *p)
{
    const rep_values *w = rep__metric(c, "wall_time"), *sg = rep__metric(c, "samples_gridded"),
                     *bw = rep__metric(c, "bytes_written");
    if (!w || !sg || !bw || c->support <= 0 || (c->nodes && c->nodes != 1)) return 0;
    double pad = isfinite(c->padding) && c->padding >= 1 ? c->padding : 1.0;
    double samples = rep__vmedian(sg), bytes = rep__vmedian(bw);
    double f = fft_work(c->nx, c->ny, pad, c->nchan, c->npol, c->psf);
    if (!isfinite(f) || !(samples > 0) || !(bytes >= 0)) return 0;
    p->cell = idx;
    p->y = rep__vmedian(w);
    p->x[0] = samples * c->support * c->support;
    p->x[1] = f;
    p->x[2] = bytes;
    double data = c->nrow * c->nchan * c->npol;
    p->ks = data > 0 ? samples / data : NAN;
    double vox = c->nx * c->ny * c->nchan * c->npol;
    p->kb = vox > 0 ? bytes / vox : NAN;
    p->pad = pad;
    p->support = c->support;
    p->threads = c->threads;
    p->psf = c->psf;
    return isfinite(p->y) && p->y > 0;
}

/* Predictor subsets tried, most complete first. */
static const int subsets[][3] = {{1, 1, 1}, {1, 0, 1}, {1, 1, 0}, {0, 1, 1},
                                 {1, 0, 0}, {0, 1, 0}, {0, 0, 1}};

/* Fit pts with the most complete identifiable subset, preferring ones
 * whose slopes are all >= 0 (costs cannot be negative; *neg = 1 when only
 * a fit with a negative slope exists). 0 when fitted. */
static int fit_best(const cpoint *pts, size_t n, rep_cost_model *m, int use[3], int *neg_out)
{
    *neg_out = 0;
    double *x = ib_malloc((n ? n : 1) * 3 * sizeof *x), *y = ib_malloc((n ? n : 1) * sizeof *y);
    int found = 0;
    for (int pass = 0; pass < 2 && !found && x && y; pass++) {
        for (size_t s = 0; s < sizeof subsets / sizeof *subsets && !found; s++) {
            size_t k = 0;
            for (int j = 0; j < 3; j++) k += (size_t)subsets[s][j];
            if (n <= k + 1) continue;
            for (size_t i = 0; i < n; i++) {
                size_t q = 0;
                for (int j = 0; j < 3; j++)
                    if (subsets[s][j]) x[i * k + q++] = pts[i].x[j];
                y[i] = pts[i].y;
            }
            rep_cost_model cm;
            if (rep_cost_fit(NULL, x, y, n, k, &cm) != 0) continue;
            int neg = 0;
            for (size_t j = 1; j <= k; j++) neg |= cm.coef[j] < 0;
            if (neg && pass == 0) continue;
            *m = cm;
            memcpy(use, subsets[s], sizeof subsets[s]);
            *neg_out = neg;
            found = 1;
        }
    }
    ib_free(x);
    ib_free(y);
    return found ? 0 : -1;
}

static int used(const int use[3])
{
    return use[0] + use[1] + use[2];
}

static double median_of(double *v, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) v[k++] = v[i];
    double m;
    if (!k || rep_median(NULL, v, k, &m)) return NAN;
    return m;
}

int rep__extrapolate(ib_err *e, const rep_run_data *r, const rep_full_shape *shapes,
                     size_t nshapes, int study_nodes, const rep_amdahl_opts *ao,
                     rep__extrap **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char **ds;
    size_t nds;
    if (rep__datasets(r, &ds, &nds)) return ib_error(e, IB_ENOMEM, "out of memory");
    if (!nds) return 0;
    rep__extrap *x = ib_calloc(nds, sizeof *x);
    cpoint *pts = ib_malloc((r->ncells ? r->ncells : 1) * sizeof *pts);
    double *tmp = ib_malloc((r->ncells ? r->ncells : 1) * sizeof *tmp);
    size_t np = 0;
    if (!x || !pts || !tmp) {
        ib_free(ds);
        ib_free(x);
        ib_free(pts);
        ib_free(tmp);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < r->ncells; i++)
        if (r->cells[i].ok && cell_point(&r->cells[i], i, &pts[np])) np++;
    cpoint *sub = ib_malloc((np ? np : 1) * sizeof *sub);
    if (!sub) {
        ib_free(ds);
        ib_free(x);
        ib_free(pts);
        ib_free(tmp);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    int rc = 0;
    for (size_t d = 0; d < nds && !rc; d++) {
        rep__extrap *X = &x[d];
        snprintf(X->dataset, sizeof X->dataset, "%s", ds[d]);
        X->nodes = study_nodes;
        X->s = X->s_lo = X->s_hi = X->tn = X->tn_lo = X->tn_hi = X->t1 = NAN;
        for (size_t i = 0; i < r->ncells; i++)
            if (!strcmp(r->cells[i].dataset, ds[d]) && r->cells[i].gridder[0]) {
                snprintf(X->gridder, sizeof X->gridder, "%s", r->cells[i].gridder);
                break;
            }
        const rep_full_shape *sh = NULL;
        for (size_t k = 0; k < nshapes; k++)
            if (!strcmp(shapes[k].name, ds[d])) sh = &shapes[k];
        /* this dataset's points */
        size_t nsub = 0;
        for (size_t i = 0; i < np; i++)
            if (!strcmp(r->cells[pts[i].cell].dataset, ds[d])) sub[nsub++] = pts[i];
        if (!nsub) {
            snprintf(X->why, sizeof X->why,
                     "no one-node cell with wall_time, samples_gridded, bytes_written and "
                     "the stats' image shape");
            continue;
        }
        /* extrapolation ratios and the setting predicted for */
        for (size_t i = 0; i < nsub; i++) tmp[i] = sub[i].ks;
        double ks = median_of(tmp, nsub);
        for (size_t i = 0; i < nsub; i++) tmp[i] = sub[i].kb;
        double kb = median_of(tmp, nsub);
        for (size_t i = 0; i < nsub; i++) tmp[i] = sub[i].pad;
        double pad = median_of(tmp, nsub);
        int wcount = 0;
        for (size_t i = 0; i < nsub; i++) {
            int cnt = 0;
            for (size_t j = 0; j < nsub; j++) cnt += sub[j].support == sub[i].support;
            if (cnt > wcount || (cnt == wcount && sub[i].support < X->support)) {
                wcount = cnt;
                X->support = sub[i].support;
                X->threads = sub[i].threads;
            }
        }
        rep_cost_model md, mg;
        int ud[3] = {0, 0, 0}, ug[3] = {0, 0, 0};
        int negd = 0, negg = 0;
        int okd = fit_best(sub, nsub, &md, ud, &negd) == 0;
        /* pooled over the run's datasets with the same gridder */
        size_t npool = 0, nsets = 0;
        cpoint *pool = ib_malloc((np ? np : 1) * sizeof *pool);
        if (!pool) {
            rc = ib_error(e, IB_ENOMEM, "out of memory");
            break;
        }
        for (size_t i = 0; i < np; i++)
            if (!strcmp(r->cells[pts[i].cell].gridder, X->gridder)) pool[npool++] = pts[i];
        for (size_t k = 0; k < nds; k++)
            for (size_t i = 0; i < npool; i++)
                if (!strcmp(r->cells[pool[i].cell].dataset, ds[k])) {
                    nsets++;
                    break;
                }
        int okg = nsets > 1 && fit_best(pool, npool, &mg, ug, &negg) == 0;
        /* a physical fit (no negative cost) beats a more complete one */
        if (okd && okg && negd != negg) {
            if (negd) okd = 0;
            else okg = 0;
        }
        ib_free(pool);
        int neg = 0;
        if (okd && (!okg || used(ud) >= used(ug))) {
            X->m = md;
            memcpy(X->use, ud, sizeof ud);
            neg = negd;
            snprintf(X->fit_scope, sizeof X->fit_scope, "dataset %s", ds[d]);
        } else if (okg) {
            X->m = mg;
            memcpy(X->use, ug, sizeof ug);
            neg = negg;
            snprintf(X->fit_scope, sizeof X->fit_scope, "gridder %s (%zu datasets)", X->gridder,
                     nsets);
        } else {
            snprintf(X->why, sizeof X->why,
                     "cost model not determined: %zu one-node cell(s) and their predictors "
                     "do not vary independently",
                     nsub);
            continue;
        }
        static const char *const pname[3] = {"samples*W^2", "fft", "bytes"};
        X->predictors[0] = '\0';
        for (int j = 0; j < 3; j++)
            if (X->use[j])
                snprintf(X->predictors + strlen(X->predictors),
                         sizeof X->predictors - strlen(X->predictors), "%s%s",
                         X->predictors[0] ? ", " : "", pname[j]);
        if (neg) {
            snprintf(X->why, sizeof X->why,
                     "no extrapolation: every fit has a negative cost coefficient (the run's "
                     "times are dominated by fixed overheads or noise)");
            continue;
        }
        if (!sh) {
            snprintf(X->why, sizeof X->why, "no full-size shape for dataset '%s'", ds[d]);
            continue;
        }
        double full[3];
        full[0] = sh->rows * sh->nchan * sh->npol * ks * X->support * X->support;
        full[1] = fft_work(sh->nx, sh->ny, isfinite(pad) ? pad : 1.0, sh->nchan, sh->npol,
                           sub[0].psf);
        full[2] = sh->nx * sh->ny * sh->nchan * sh->npol * kb;
        double xv[3];
        size_t q = 0;
        int bad = 0;
        for (int j = 0; j < 3; j++)
            if (X->use[j]) {
                if (!isfinite(full[j])) bad = 1;
                xv[q++] = full[j];
            }
        if (bad) {
            snprintf(X->why, sizeof X->why, "full-size predictors unknown (stats lack rows, "
                                            "channels or image shape)");
            continue;
        }
        X->t1 = rep_cost_predict(&X->m, xv);
        if (!(X->t1 > 0)) {
            snprintf(X->why, sizeof X->why, "model predicts a non-positive time (%g s)", X->t1);
            continue;
        }
        X->ok = 1;
        /* nodes: Amdahl fit of the dataset's best node series */
        rep__series *se = NULL;
        size_t nse = 0;
        if (rep__series_along(NULL, r, ds[d], REP__AXIS_NODES, 2, &se, &nse) == 0 && nse) {
            double *nx, *t;
            size_t npt;
            rep_amdahl am;
            if (rep__series_points(NULL, r, &se[0], &nx, &t, &npt) == 0) {
                if (rep_amdahl_fit(NULL, nx, t, npt, ao, &am) == 0) {
                    X->s = am.s;
                    X->s_lo = am.s_lo;
                    X->s_hi = am.s_hi;
                    X->tn = rep_amdahl_time(X->t1, am.s, study_nodes);
                    X->tn_lo = rep_amdahl_time(X->t1, am.s_lo, study_nodes);
                    X->tn_hi = rep_amdahl_time(X->t1, am.s_hi, study_nodes);
                }
                ib_free(nx);
                ib_free(t);
            }
        }
        rep__series_free(se, nse);
    }
    ib_free(ds);
    ib_free(pts);
    ib_free(sub);
    ib_free(tmp);
    if (rc) {
        ib_free(x);
        return rc;
    }
    *out = x;
    *n = nds;
    return 0;
}
