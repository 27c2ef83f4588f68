/*
 * series.c: cells of one dataset that differ along one axis only (chunk
 * count, kernel support), for the sweep figures: grouped by every other
 * parameter, labelled by the parameters that tell sibling series apart.
 * Scaling with ranks and threads is scaling.c's (on cores). Pure: no I/O.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char *rep__axis_name(int axis)
{
    return axis == REP__AXIS_CHUNKS ? "chunks" : "support";
}

int rep__axis_value(const rep_cell_data *c, int axis)
{
    return axis == REP__AXIS_CHUNKS ? c->chunks : c->support;
}

/* ---- series --------------------------------------------------------- */

void rep__groups_free(rep__group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(g[i].obj);
        free(g[i].key);
        ib_free(g[i].cell);
    }
    ib_free(g);
}

int rep__group_cells(const rep_run_data *r, const size_t *idx, size_t m,
                     const char *const *drop, rep__group **out, size_t *nout)
{
    rep__group *g = ib_calloc(m ? m : 1, sizeof *g);
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
            rep__groups_free(g, ng);
            return IB_ENOMEM;
        }
        size_t j = 0;
        while (j < ng && strcmp(g[j].key, key) != 0) j++;
        if (j == ng) {
            g[ng].obj = o;
            g[ng].key = key;
            g[ng].cell = ib_malloc(m * sizeof(size_t));
            if (!g[ng].cell) {
                rep__groups_free(g, ng + 1);
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

void rep__group_diff_keys(const rep__group *g, size_t ng, const int *use, const char **keys,
                          size_t max)
{
    size_t nd = 0;
    for (size_t i = 0; i < ng && nd + 1 < max; i++) {
        if (use && !use[i]) continue;
        const char *k;
        json_t *v;
        json_object_foreach(g[i].obj, k, v) {
            int differs = 0;
            for (size_t j = 0; j < ng && !differs; j++)
                if (!use || use[j]) differs = !json_equal(v, json_object_get(g[j].obj, k));
            size_t q = 0;
            while (q < nd && strcmp(keys[q], k) != 0) q++;
            if (differs && q == nd && nd + 1 < max) keys[nd++] = k;
        }
    }
    if (!nd) {
        /* a lone group: the main parameters it holds fixed */
        static const char *const main_keys[] = {"nodes", "threads", "chunks", "support"};
        for (size_t q = 0; q < 4 && nd + 1 < max; q++)
            for (size_t i = 0; i < ng; i++)
                if ((!use || use[i]) && json_object_get(g[i].obj, main_keys[q])) {
                    keys[nd++] = main_keys[q];
                    break;
                }
    }
    keys[nd] = NULL;
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

/* Turn groups into series with at least min_points distinct axis values;
 * appends to *s. */
static int groups_to_series(const rep_run_data *r, rep__group *g, size_t ng, int axis,
                            size_t min_points, rep__series **s, size_t *ns)
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
    const char *diff[33];
    rep__group_diff_keys(g, ng, qual, diff, 33);
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
        size_t k = 0;
        for (size_t a = 0; a < m; a++) {
            if (k && rep__axis_value(&r->cells[ord[k - 1]], axis) ==
                         rep__axis_value(&r->cells[ord[a]], axis)) {
                /* keep the cell with more successful repeats */
                if (r->cells[ord[a]].ok > r->cells[ord[k - 1]].ok) ord[k - 1] = ord[a];
                continue;
            }
            ord[k++] = ord[a];
        }
        if (!qual[i] || k < min_points) {
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
        /* the series' label: the keys that tell it from its siblings */
        if (diff[0]) rep_cell_label(r->cells[ord[0]].params, REP_LABEL_KEYS, diff, se->label,
                                    sizeof se->label);
        else snprintf(se->label, sizeof se->label, "all cells");
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
    const char *drop[] = {rep__axis_name(axis), "dataset_key", NULL};
    rep__group *g = NULL;
    size_t ng = 0;
    int rc = rep__group_cells(r, idx, m, drop, &g, &ng);
    if (!rc) rc = groups_to_series(r, g, ng, axis, min_points, out, n);
    rep__groups_free(g, ng);
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

