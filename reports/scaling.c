/*
 * scaling.c: scaling on cores. Cells of a dataset that share every
 * parameter but ranks (nodes) and threads form a group; its layouts (ranks
 * x threads) sit on total cores = ranks x threads. The reference is the
 * layout with the fewest cores (1x1 when the group has one), and the
 * speedups of the other layouts are against it with the ideal from cores.
 * Layouts on the same cores (1x2 and 2x1) are compared as layouts, never
 * as a speedup; the curves are threads only (one rank), ranks only (one
 * thread per rank) and both. Pure: no I/O.
 */
#include "reports/rep_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *rep__curve_name(const rep__cores_group *g, int curve, char *buf, size_t n)
{
    const rep__layout *b = &g->l[g->base];
    switch (curve) {
    case REP__CURVE_THREADS:
        snprintf(buf, n, "threads (%d rank%s)", b->ranks, b->ranks == 1 ? "" : "s");
        break;
    case REP__CURVE_RANKS:
        snprintf(buf, n, "ranks (%d thread%s each)", b->threads, b->threads == 1 ? "" : "s");
        break;
    default: snprintf(buf, n, "ranks x threads"); break;
    }
    return buf;
}

void rep__layout_name(const rep__layout *l, char *buf, size_t n)
{
    snprintf(buf, n, "%dx%d", l->ranks, l->threads);
}

int rep__on_curve(const rep__cores_group *g, size_t i, int curve)
{
    const rep__layout *l = &g->l[i], *b = &g->l[g->base];
    if (i == g->base) return 1;
    if (l->cores <= b->cores) return 0;
    switch (curve) {
    case REP__CURVE_THREADS: return l->ranks == b->ranks && l->threads > b->threads;
    case REP__CURVE_RANKS: return l->threads == b->threads && l->ranks > b->ranks;
    default: return l->ranks > b->ranks && l->threads > b->threads;
    }
}

void rep__cores_groups_free(rep__cores_group *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) ib_free(g[i].l);
    ib_free(g);
}

static int cmp_layout(const void *a, const void *b)
{
    const rep__layout *x = a, *y = b;
    if (x->cores != y->cores) return x->cores < y->cores ? -1 : 1;
    return (x->ranks > y->ranks) - (x->ranks < y->ranks);
}

/* Most core counts, then most layouts, then most samples, then suite order. */
static int cmp_group(const void *a, const void *b)
{
    const rep__cores_group *x = a, *y = b;
    if (x->ncores != y->ncores) return x->ncores > y->ncores ? -1 : 1;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    if (x->samples != y->samples) return x->samples > y->samples ? -1 : 1;
    return (x->l[0].cell > y->l[0].cell) - (x->l[0].cell < y->l[0].cell);
}

/* Layouts of group g: one per (ranks, threads), the cell with more
 * successful repeats when two share one. */
static int fill_group(const rep_run_data *r, const rep__group *g, rep__cores_group *out)
{
    memset(out, 0, sizeof *out);
    out->l = ib_malloc((g->n ? g->n : 1) * sizeof *out->l);
    if (!out->l) return IB_ENOMEM;
    for (size_t a = 0; a < g->n; a++) {
        const rep_cell_data *c = &r->cells[g->cell[a]];
        int ranks = c->nodes > 0 ? c->nodes : 1, threads = c->threads > 0 ? c->threads : 1;
        size_t q = 0;
        while (q < out->n && !(out->l[q].ranks == ranks && out->l[q].threads == threads)) q++;
        if (q < out->n) {
            if (c->ok > r->cells[out->l[q].cell].ok) out->l[q].cell = g->cell[a];
            continue;
        }
        out->l[out->n++] = (rep__layout){g->cell[a], ranks, threads, ranks * threads};
    }
    qsort(out->l, out->n, sizeof *out->l, cmp_layout);
    out->base = 0; /* fewest cores; among equals the fewest ranks (1xT before Rx1) */
    for (size_t i = 0; i < out->n; i++) {
        out->samples += r->cells[out->l[i].cell].ok;
        if (i == 0 || out->l[i].cores != out->l[i - 1].cores) out->ncores++;
    }
    return 0;
}

int rep__cores_groups(ib_err *e, const rep_run_data *r, const char *dataset,
                      rep__cores_group **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t *idx = ib_malloc((r->ncells ? r->ncells : 1) * sizeof *idx), m = 0;
    if (!idx) return ib_error(e, IB_ENOMEM, "out of memory grouping cells");
    for (size_t i = 0; i < r->ncells; i++) {
        const rep_cell_data *c = &r->cells[i];
        if (strcmp(c->dataset, dataset) == 0 && c->ok && rep__metric(c, "wall_time"))
            idx[m++] = i;
    }
    static const char *const drop[] = {"nodes", "threads", "dataset_key", NULL};
    rep__group *g = NULL;
    size_t ng = 0;
    int rc = rep__group_cells(r, idx, m, drop, &g, &ng);
    ib_free(idx);
    rep__cores_group *cg = rc ? NULL : ib_calloc(ng ? ng : 1, sizeof *cg);
    if (!rc && !cg) rc = IB_ENOMEM;
    int *use = rc ? NULL : ib_calloc(ng ? ng : 1, sizeof *use);
    if (!rc && !use) rc = IB_ENOMEM;
    for (size_t i = 0; !rc && i < ng; i++) {
        rc = fill_group(r, &g[i], &cg[i]);
        use[i] = cg[i].n > 1;
    }
    if (!rc) {
        /* label each group by what tells it from the groups with a sweep */
        const char *keys[33];
        rep__group_diff_keys(g, ng, use, keys, 33);
        for (size_t i = 0; i < ng; i++) {
            if (keys[0])
                rep_cell_label(r->cells[cg[i].l[0].cell].params, REP_LABEL_KEYS, keys,
                               cg[i].label, sizeof cg[i].label);
            else snprintf(cg[i].label, sizeof cg[i].label, "all cells");
        }
        qsort(cg, ng, sizeof *cg, cmp_group);
    }
    ib_free(use);
    rep__groups_free(g, ng);
    if (rc) {
        rep__cores_groups_free(cg, ng);
        return ib_error(e, IB_ENOMEM, "out of memory grouping cells");
    }
    *out = cg;
    *n = ng;
    return 0;
}

int rep__speedup(const rep_run_data *r, const rep__cores_group *g, size_t i, size_t boot,
                 uint64_t seed, rep_ci *ci)
{
    const rep_values *b = rep__metric(&r->cells[g->l[g->base].cell], "wall_time");
    const rep_values *v = rep__metric(&r->cells[g->l[i].cell], "wall_time");
    if (!b || !v) return -1;
    if (i == g->base) { /* 1 by definition: the reference's spread is in the others' bars */
        *ci = (rep_ci){1, 1, 1, 0.95};
        return 0;
    }
    return rep_boot_ratio_ci(NULL, b->v, b->n, v->v, v->n, 0.95, boot, seed, ci) ? -1 : 0;
}

int rep__curve_points(ib_err *e, const rep_run_data *r, const rep__cores_group *g, int curve,
                      double **cores, double **t, size_t *n)
{
    *cores = *t = NULL;
    *n = 0;
    size_t total = 0, layouts = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!rep__on_curve(g, i, curve)) continue;
        const rep_values *w = rep__metric(&r->cells[g->l[i].cell], "wall_time");
        total += w ? w->n : 0;
        layouts++;
    }
    if (layouts < 2) return 0;
    *cores = ib_malloc((total + 1) * sizeof **cores);
    *t = ib_malloc((total + 1) * sizeof **t);
    if (!*cores || !*t) {
        ib_free(*cores);
        ib_free(*t);
        *cores = *t = NULL;
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!rep__on_curve(g, i, curve)) continue;
        const rep_values *w = rep__metric(&r->cells[g->l[i].cell], "wall_time");
        for (size_t j = 0; w && j < w->n; j++) {
            if (!(w->v[j] > 0)) continue;
            (*cores)[k] = g->l[i].cores;
            (*t)[k++] = w->v[j];
        }
    }
    *n = k;
    return 0;
}
