/*
 * compare.c: `harness compare` — run A against run B cell by cell (ratio of
 * medians with a bootstrap CI, Mann–Whitney, Benjamini–Hochberg across all
 * comparisons, a verdict in each metric's own direction); run A's scaling
 * against the recorded CASA baselines, where every figure is a normalised
 * ratio or a model and is printed as such; and, within one run, imbench
 * cells against their WSClean twins (same parameters but `imager`), with
 * the ratio of medians and its bootstrap CI per pair.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair {
    const rep_cell_data *a, *b;
    const char *metric;
    const char *unit;
    int assumed;          /* direction not recorded: lower assumed */
    int better;           /* enum rep_better of the metric */
    double ma, mb;        /* medians */
    size_t na, nb;
    rep_compare cmp;
} pair;

/* Split "a,b,c" into names (pointers into buf). */
static size_t split(char *buf, const char **names, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", ", &save); tok && n < max;
         tok = strtok_r(NULL, ", ", &save))
        names[n++] = tok;
    return n;
}

static const rep_cell_data *find_cell(const rep_run_data *r, int64_t id, const char *hash)
{
    for (size_t i = 0; i < r->ncells; i++)
        if (r->cells[i].id == id || (hash[0] && strcmp(r->cells[i].hash, hash) == 0))
            return &r->cells[i];
    return NULL;
}

static int pairs_push(pair **p, size_t *n, size_t *cap, const pair *x)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        pair *np = ib_malloc(c * sizeof *np);
        if (!np) return IB_ENOMEM;
        if (*n) memcpy(np, *p, *n * sizeof *np);
        ib_free(*p);
        *p = np;
        *cap = c;
    }
    (*p)[(*n)++] = *x;
    return 0;
}

/* Pair every cell of A with its twin in B (by id or hash) for each wanted
 * metric; notes say what was skipped and why. */
static int make_pairs(ib_err *e, const rep_cmp_opts *o, const rep_run_data *A,
                      const rep_run_data *B, const char *const *want, size_t nwant, int all,
                      pair **Pp, size_t *npp, rep_cmp_result *Rp, rep__sb *notes)
{
    rep_cmp_result R = *Rp;
    pair *P = NULL;
    size_t np = 0, cap = 0;
    int rc = 0;
    for (size_t i = 0; i < A->ncells && !rc; i++) {
        const rep_cell_data *ca = &A->cells[i];
        const rep_cell_data *cb = find_cell(B, ca->id, ca->hash);
        if (!cb) {
            R.only_a++;
            continue;
        }
        size_t nm = all ? ca->nmetrics : nwant;
        for (size_t k = 0; k < nm && !rc; k++) {
            const char *m = all ? ca->metrics[k].name : want[k];
            const rep_values *va = rep__metric(ca, m), *vb = rep__metric(cb, m);
            if (!va || !vb) {
                if (!all) {
                    R.skipped++;
                    rep__sb_printf(notes, "cell %lld: metric '%s' missing in run %lld\n",
                                   (long long)ca->id, m,
                                   (long long)(!va ? o->run_a : o->run_b));
                }
                continue;
            }
            if (va->unit && vb->unit && strcmp(va->unit, vb->unit) != 0) {
                R.skipped++;
                rep__sb_printf(notes, "cell %lld: metric '%s' has unit '%s' in run %lld but "
                                       "'%s' in run %lld: not compared\n",
                               (long long)ca->id, m, va->unit, (long long)o->run_a, vb->unit,
                               (long long)o->run_b);
                continue;
            }
            pair p;
            memset(&p, 0, sizeof p);
            p.a = ca;
            p.b = cb;
            p.metric = m;
            p.unit = va->unit ? va->unit : vb->unit;
            rep_compare_opts co = o->c;
            const rep_values *vk = va->better_known ? va : vb->better_known ? vb : NULL;
            if (vk) {
                co.better = vk->higher_better ? REP_HIGHER_IS_BETTER : REP_LOWER_IS_BETTER;
            } else {
                co.better = REP_LOWER_IS_BETTER;
                p.assumed = 1;
            }
            p.ma = rep__vmedian(va);
            p.mb = rep__vmedian(vb);
            p.na = va->n;
            p.nb = vb->n;
            ib_err ce;
            ib_err_init(&ce);
            if (rep_compare_samples(&ce, vb->v, vb->n, va->v, va->n, &co, &p.cmp) != 0) {
                R.skipped++;
                rep__sb_printf(notes, "cell %lld: metric '%s': %s\n", (long long)ca->id, m,
                               ce.msg);
                continue;
            }
            p.better = co.better;
            if (pairs_push(&P, &np, &cap, &p)) rc = ib_error(e, IB_ENOMEM, "out of memory");
        }
    }
    *Pp = P;
    *npp = np;
    *Rp = R;
    return rc;
}

int rep_compare_runs(ib_err *e, res_db *db, const rep_cmp_opts *o, rep_cmp_result *res)
{
    rep_cmp_result R;
    memset(&R, 0, sizeof R);
    FILE *out = o->out ? o->out : stdout;
    if (o->run_a <= 0 || o->run_b <= 0)
        return ib_error(e, IB_EINVAL, "compare needs two run ids (--run A --against B)");
    if (!(o->c.threshold >= 0))
        return ib_error(e, IB_EINVAL, "--threshold must be >= 0, got %g", o->c.threshold);
    rep_run_data A, B;
    int rc = res_report_run_load(e, db, o->run_a, &A);
    if (!rc) rc = res_report_run_load(e, db, o->run_b, &B);
    else memset(&B, 0, sizeof B);
    if (rc) {
        res_report_run_release(&A);
        res_report_run_release(&B);
        return rc;
    }
    char mbuf[1024];
    snprintf(mbuf, sizeof mbuf, "%s", o->metrics && *o->metrics ? o->metrics : "wall_time");
    const char *want[64];
    size_t nwant = split(mbuf, want, 64);
    int all = nwant == 1 && strcmp(want[0], "all") == 0;
    pair *P = NULL;
    size_t np = 0;
    rep__sb notes = {0};
    rc = make_pairs(e, o, &A, &B, want, nwant, all, &P, &np, &R, &notes);
    for (size_t i = 0; i < B.ncells; i++)
        if (!find_cell(&A, B.cells[i].id, B.cells[i].hash)) R.only_b++;
    double *pv = NULL;
    if (!rc && np) {
        pv = ib_malloc(np * sizeof *pv);
        if (!pv) rc = ib_error(e, IB_ENOMEM, "out of memory");
        for (size_t i = 0; !rc && i < np; i++) pv[i] = P[i].cmp.mw.p;
        if (!rc) rc = rep_bh_adjust(e, pv, np, pv);
    }
    if (!rc) {
        fprintf(out, "compare: run %lld (candidate, %s) against run %lld (base, %s)\n",
                (long long)o->run_a, A.suite, (long long)o->run_b, B.suite);
        fprintf(out, "matching cells by content hash: %zu matched, %zu only in run %lld, %zu "
                     "only in run %lld\n",
                A.ncells - R.only_a, R.only_a, (long long)o->run_a, R.only_b,
                (long long)o->run_b);
        fprintf(out, "ratio = median(run %lld) / median(run %lld) with its %.0f%% bootstrap CI; "
                     "p: Mann-Whitney, p(BH): Benjamini-Hochberg over %zu comparisons; "
                     "alpha %g, regression threshold %.3g%%\n\n",
                (long long)o->run_a, (long long)o->run_b, 100 * o->c.level, np, o->c.alpha,
                100 * o->c.threshold);
        fprintf(out, "%-6s %-12s %5s %4s %6s %4s %-16s %12s %12s %-26s %8s %8s  %s\n", "cell",
                "dataset", "nodes", "thr", "chunks", "W", "metric", "base", "candidate",
                "ratio [95% CI]", "p", "p(BH)", "verdict");
    }
    for (size_t i = 0; !rc && i < np; i++) {
        pair *p = &P[i];
        rep_compare_opts co = o->c;
        co.better = p->better;
        rep_compare_judge(&co, pv[i], &p->cmp);
        R.compared++;
        if (p->cmp.verdict == REP_FASTER) R.faster++;
        else if (p->cmp.verdict == REP_SLOWER) R.slower++;
        else R.unchanged++;
        if (p->cmp.regression) R.regressions++;
        char b[48], a[48], ratio[64];
        rep__fmt(b, sizeof b, p->mb, p->unit);
        rep__fmt(a, sizeof a, p->ma, p->unit);
        snprintf(ratio, sizeof ratio, "%.4f [%.4f, %.4f]", p->cmp.ratio.est, p->cmp.ratio.lo,
                 p->cmp.ratio.hi);
        fprintf(out, "%-6lld %-12.12s %5d %4d %6d %4d %-16.16s %12s %12s %-26s %8.2g %8.2g  %s%s%s%s\n",
                (long long)p->a->id, p->a->dataset, p->a->nodes, p->a->threads, p->a->chunks,
                p->a->support, p->metric, b, a, ratio, p->cmp.mw.p, p->cmp.p,
                rep_verdict_name(p->cmp.verdict), p->cmp.regression ? " REGRESSION" : "",
                co.better == REP_HIGHER_IS_BETTER ? " (higher is better)" : "",
                p->assumed ? " (direction not recorded: lower assumed)" : "");
        if (p->na < 3 || p->nb < 3)
            fprintf(out, "       note: %zu and %zu repeats: too few for a significant "
                         "verdict\n", p->nb, p->na);
    }
    if (!rc) {
        if (notes.len) fprintf(out, "\n%s", rep__sb_str(&notes));
        fprintf(out, "\n%zu compared: %zu faster, %zu slower, %zu no significant change; %zu "
                     "regression%s beyond %.3g%%; %zu skipped\n",
                R.compared, R.faster, R.slower, R.unchanged, R.regressions,
                R.regressions == 1 ? "" : "s", 100 * o->c.threshold, R.skipped);
        if (!A.ncells)
            fprintf(out, "run %lld has no cells: nothing to compare\n", (long long)o->run_a);
        else if (!np && A.ncells - R.only_a == 0)
            fprintf(out, "no cell of run %lld is in run %lld: nothing to compare\n",
                    (long long)o->run_a, (long long)o->run_b);
    }
    rep__sb_release(&notes);
    ib_free(pv);
    ib_free(P);
    res_report_run_release(&A);
    res_report_run_release(&B);
    if (!rc && res) *res = R;
    return rc;
}

/* ---- against CASA --------------------------------------------------------------- */

/* The seed study's CASA 1-node time and its time at study_nodes (a point,
 * or the range it gives over the node counts) for ds. */
static void casa_study(const res_baseline_row *rows, size_t n, const char *ds, int study_nodes,
                       double *t1, double *lo, double *hi)
{
    *t1 = *lo = *hi = NAN;
    double rlo = NAN, rhi = NAN;
    for (size_t i = 0; i < n; i++) {
        const res_baseline_row *b = &rows[i];
        if (strcmp(b->dataset, ds) || strcmp(b->metric, "wall_time") ||
            strncmp(b->system, "casa", 4) || !b->source || strcmp(b->source, "seed-study"))
            continue;
        if (b->nodes == 1) *t1 = isnan(*t1) ? b->value : fmin(*t1, b->value);
        if (b->nodes == study_nodes) {
            *lo = isnan(*lo) ? b->value : fmin(*lo, b->value);
            *hi = isnan(*hi) ? b->value : fmax(*hi, b->value);
        }
        if (!b->nodes && !b->threads) {
            rlo = isnan(rlo) ? b->value : fmin(rlo, b->value);
            rhi = isnan(rhi) ? b->value : fmax(rhi, b->value);
        }
    }
    if (isnan(*lo)) {
        *lo = rlo;
        *hi = rhi;
    }
}

/* Our speedups on cores (the dataset's main group) against CASA's own,
 * both normalised to their smallest configuration. */
static void casa_scaling(FILE *out, const rep_run_data *r, const char *ds,
                         const rep__cores_group *g, const rep__bcurve *bc, size_t nbc)
{
    fprintf(out, "group: %s (speedup against %d core%s, on cores relative to it)\n", g->label,
            g->l[g->base].cores, g->l[g->base].cores == 1 ? "" : "s");
    fprintf(out, "%8s  %-8s  %-26s  %-44s  %s\n", "rel.cores", "layout",
            "ours: S [95% CI] normalised", "CASA: S normalised (system, source)",
            "ratio ours/CASA (normalised)");
    for (size_t i = 0; i < g->n; i++) {
        rep_ci ci;
        if (rep__speedup(r, g, i, 1000, 1 + i, &ci)) continue;
        double rel = (double)g->l[i].cores / g->l[g->base].cores;
        char ours[64], lay[32];
        snprintf(ours, sizeof ours, "%.3f [%.3f, %.3f]", ci.est, ci.lo, ci.hi);
        rep__layout_name(&g->l[i], lay, sizeof lay);
        int printed = 0;
        for (size_t k = 0; k < nbc; k++) {
            if (strncmp(bc[k].system, "casa", 4) != 0) continue;
            char theirs[128], ratio[96];
            double sp = NAN;
            for (size_t q = 0; q < bc[k].n; q++)
                if (bc[k].rel[q] == rel) sp = bc[k].speedup[q];
            if (isfinite(sp)) {
                snprintf(theirs, sizeof theirs, "%.3f (%s, %s)", sp, bc[k].system, bc[k].source);
                snprintf(ratio, sizeof ratio, "%.3f", ci.est / sp);
            } else if (!isnan(bc[k].band_lo) && rel > 1) {
                snprintf(theirs, sizeof theirs, "%.3f-%.3f range (%s, %s)", bc[k].band_lo,
                         bc[k].band_hi, bc[k].system, bc[k].source);
                snprintf(ratio, sizeof ratio, "%.3f-%.3f", ci.est / bc[k].band_hi,
                         ci.est / bc[k].band_lo);
            } else {
                continue;
            }
            fprintf(out, "%8g  %-8s  %-26s  %-44s  %s\n", rel, lay, printed ? "" : ours, theirs,
                    ratio);
            printed = 1;
        }
        if (!printed)
            fprintf(out, "%8g  %-8s  %-26s  %-44s  %s\n", rel, lay, ours,
                    "(no CASA figure at this relative core count)", "-");
    }
    (void)ds;
}

/* MODEL: the cost model's predictions against the study's CASA times. */
static int casa_model(ib_err *e, res_db *db, rep_run_data *run, const rep_full_shape *shapes,
                      size_t nshapes, int study_nodes, const res_baseline_row *rows,
                      size_t nrows, FILE *out)
{
    rep_report_opts o;
    rep_report_opts_init(&o);
    o.shapes = shapes;
    o.nshapes = nshapes;
    o.study_nodes = study_nodes;
    rep__report r;
    memset(&r, 0, sizeof r);
    r.e = e;
    r.db = db;
    r.o = &o;
    r.run = *run; /* borrowed: not released here */
    int rc = rep__model_build(&r);
    const rep__model *md = r.model;
    if (!rc) {
        fprintf(out, "\nMODEL: the cost model (fitted on small-scale cells, %s) against CASA "
                     "6.2 in the seed study; ratios < 1: the model is faster\n",
                    md->fitted ? md->trained_on : md->why);
        fprintf(out, "%-12s %-28s %-14s %-12s %-16s %s\n", "dataset", "model (cores)",
                "CASA 1 node", "model/CASA", "CASA study nodes", "what");
    }
    for (size_t i = 0; !rc && i < md->npred + md->next; i++) {
        const char *ds;
        const rep_cost_prediction *p;
        int cores;
        const char *what;
        if (i < md->npred) {
            const rep_cell_data *c = &run->cells[md->pred[i].cell];
            ds = c->dataset;
            p = &md->pred[i].p;
            cores = (c->nodes > 0 ? c->nodes : 1) * (c->threads > 0 ? c->threads : 1);
            what = "full-size cell: prediction beside its measurement";
        } else {
            const rep__extrap *x = &md->ext[i - md->npred];
            ds = x->dataset;
            p = &x->p;
            cores = x->cores;
            what = "full shape, no full-size cell: model only";
        }
        double t1, lo, hi;
        casa_study(rows, nrows, ds, study_nodes, &t1, &lo, &hi);
        if (!p->ok) {
            fprintf(out, "%-12s no model: %s\n", ds, p->why);
            continue;
        }
        char m1[64], c1[48], cn[64], r1[32] = "-";
        snprintf(m1, sizeof m1, "%.4g s (%d cores)", p->wall, cores);
        rep__fmt(c1, sizeof c1, t1, "s");
        if (isfinite(t1)) snprintf(r1, sizeof r1, "%.3f", p->wall / t1);
        if (isfinite(lo) && lo == hi) snprintf(cn, sizeof cn, "%.4g s", lo);
        else if (isfinite(lo)) snprintf(cn, sizeof cn, "%.4g-%.4g s", lo, hi);
        else snprintf(cn, sizeof cn, "-");
        fprintf(out, "%-12s %-28s %-14s %-12s %-16s %s\n", ds, m1, c1, r1, cn, what);
    }
    rep__model_free(r.model);
    ib_free(r.fits);
    ib_free(r.kf);
    return rc;
}

int rep_compare_casa(ib_err *e, res_db *db, int64_t run, const rep_full_shape *shapes,
                     size_t nshapes, int study_nodes, FILE *out, size_t *ncompared)
{
    if (!out) out = stdout;
    rep_run_data r;
    res_baseline_row *rows = NULL;
    size_t nrows = 0;
    int rc = res_report_run_load(e, db, run, &r);
    if (!rc) rc = res_report_baselines(e, db, NULL, run, &rows, &nrows);
    const char **ds = NULL;
    size_t nds = 0;
    if (!rc && rep__datasets(&r, &ds, &nds)) rc = ib_error(e, IB_ENOMEM, "out of memory");
    if (rc) {
        res_baseline_rows_free(rows, nrows);
        res_report_run_release(&r);
        return rc;
    }
    size_t with_casa = 0;
    fprintf(out, "compare: run %lld (%s) against the recorded CASA baselines\n"
                 "NORMALISED: each system's speedup is against its own smallest "
                 "configuration (ours: the fewest cores, ranks x threads; CASA's: one node), "
                 "on cores relative to it; CASA ran other data on another machine, so only the "
                 "shapes compare.\nMODEL: full-size times are this database's cost model, not "
                 "measurements.\n",
            (long long)run, r.suite);
    for (size_t d = 0; d < nds && !rc; d++) {
        fprintf(out, "\n== %s\n", ds[d]);
        rep__cores_group *g = NULL;
        size_t ng = 0;
        rep__bcurve *bc = NULL;
        size_t nbc = 0;
        rc = rep__cores_groups(e, &r, ds[d], &g, &ng);
        if (!rc && rep__study_curves(rows, nrows, ds[d], &bc, &nbc))
            rc = ib_error(e, IB_ENOMEM, "out of memory");
        size_t ncasa = 0;
        for (size_t k = 0; !rc && k < nbc; k++) ncasa += strncmp(bc[k].system, "casa", 4) == 0;
        if (ncasa) with_casa++;
        if (rc) {
            /* reported below */
        } else if (!ng || g[0].ncores < 2) {
            fprintf(out, "no sweep over cores in this run for %s: no normalised scaling to "
                         "compare\n",
                    ds[d]);
        } else if (!ncasa) {
            fprintf(out, "no CASA baseline with a one-node time for %s (import "
                         "workloads/baselines/seed-study.yaml or your CASA logs)\n",
                    ds[d]);
        } else {
            casa_scaling(out, &r, ds[d], &g[0], bc, nbc);
        }
        rep__cores_groups_free(g, ng);
        ib_free(bc);
    }
    if (!rc) rc = casa_model(e, db, &r, shapes, nshapes, study_nodes, rows, nrows, out);
    ib_free(ds);
    res_baseline_rows_free(rows, nrows);
    res_report_run_release(&r);
    if (!rc && ncompared) *ncompared = with_casa;
    return rc;
}

/* ---- against a peer imager in the same run --------------------------------------- */

void rep_peer_opts_init(rep_peer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->peer = "wsclean";
    o->metrics = "wall_time";
    o->level = 0.95;
    o->boot = 2000;
    o->seed = 1;
}

void rep_peer_result_release(rep_peer_result *r)
{
    if (!r) return;
    ib_free(r->rows);
    memset(r, 0, sizeof *r);
}

/* One cell of the run as the pairing sees it. */
typedef struct pcell {
    const rep_cell_data *c;
    int peer;             /* 1: imaged by the peer, 0: by imbench, -1: another imager */
    char *key;            /* params but imager and dataset_key, canonical (free) */
    char label[512];
    int used;             /* an imbench cell that has its peer */
} pcell;

static int pcell_init(pcell *p, const rep_cell_data *c, const char *peer)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    json_t *o = json_loads(c->params, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        o = json_object();
        if (!o) return IB_ENOMEM;
    }
    const char *im = json_string_value(json_object_get(o, "imager"));
    p->peer = !im || !strcmp(im, "imbench") ? 0 : !strcmp(im, peer) ? 1 : -1;
    json_object_del(o, "imager");
    json_object_del(o, "dataset_key");
    static const char *const omit[] = {"imager", "dataset_key", NULL};
    rep_cell_label(c->params, REP_LABEL_ALL, omit, p->label, sizeof p->label);
    p->key = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return p->key ? 0 : IB_ENOMEM;
}

/* Why side (imbench or the peer) of a row has no values of metric: the
 * cell's last unsuccessful attempt in the run. */
static void no_values_why(const rep_run_data *run, const rep_cell_data *c, const char *side,
                          const char *metric, char *buf, size_t n)
{
    if (c->ok) {
        snprintf(buf, n, "%s: metric '%s' not recorded", side, metric);
        return;
    }
    char status[32] = "no successful attempt", line[256] = "";
    for (size_t i = 0; i < run->nbad; i++)
        if (run->bad[i].cell_id == c->id) {
            snprintf(status, sizeof status, "%s", run->bad[i].status);
            rep__last_line(run->bad[i].stderr_tail, line, sizeof line);
        }
    /* "skipped: wsclean not installed" already says its status */
    size_t ls = strlen(status);
    const char *tail = line;
    if (!strncmp(tail, status, ls) && tail[ls] == ':') tail += ls + 1;
    while (*tail == ' ') tail++;
    snprintf(buf, n, "%s %s%s%s", side, status, *tail ? ": " : "", tail);
}

static int pcell_cmp(const void *a, const void *b)
{
    return strcmp((*(const pcell *const *)a)->key, (*(const pcell *const *)b)->key);
}

static int rows_push(rep_peer_result *R, size_t *cap, const rep_peer_row *x)
{
    if (R->nrows == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        rep_peer_row *nr = ib_malloc(c * sizeof *nr);
        if (!nr) return IB_ENOMEM;
        if (R->nrows) memcpy(nr, R->rows, R->nrows * sizeof *nr);
        ib_free(R->rows);
        R->rows = nr;
        *cap = c;
    }
    R->rows[R->nrows++] = *x;
    return 0;
}

/* A row for a cell without its partner (status says which side lacks). */
static int unpaired_row(rep_peer_result *R, size_t *cap, int status, int64_t cell,
                        int64_t peer_cell, const char *label, const char *peer, int64_t run)
{
    rep_peer_row w;
    memset(&w, 0, sizeof w);
    w.status = status;
    w.cell = cell;
    w.peer_cell = peer_cell;
    w.median = w.peer_median = NAN;
    snprintf(w.label, sizeof w.label, "%s", label);
    snprintf(w.why, sizeof w.why, "no %s cell in run %lld has these parameters", peer,
             (long long)run);
    return rows_push(R, cap, &w);
}

/* The rows of one pair (a and b both set) for every wanted metric. */
static int pair_rows(const rep_run_data *run, const rep_peer_opts *o, const pcell *a,
                     const pcell *b, const char *const *want, size_t nwant, rep_peer_result *R,
                     size_t *cap)
{
    for (size_t k = 0; k < nwant; k++) {
        rep_peer_row w;
        memset(&w, 0, sizeof w);
        w.cell = a->c->id;
        w.peer_cell = b->c->id;
        snprintf(w.label, sizeof w.label, "%s", a->label);
        snprintf(w.metric, sizeof w.metric, "%s", want[k]);
        const rep_values *va = rep__metric(a->c, want[k]), *vb = rep__metric(b->c, want[k]);
        w.median = rep__vmedian(va);
        w.peer_median = rep__vmedian(vb);
        w.n = va ? va->n : 0;
        w.peer_n = vb ? vb->n : 0;
        const rep_values *vu = va ? va : vb;
        if (vu && vu->unit) snprintf(w.unit, sizeof w.unit, "%s", vu->unit);
        w.higher_better = vu && vu->better_known && vu->higher_better;
        if (va && vb) {
            ib_err ce;
            ib_err_init(&ce);
            if (rep_boot_ratio_ci(&ce, va->v, va->n, vb->v, vb->n, o->level, o->boot,
                                  o->seed + R->nrows, &w.ratio) == 0) {
                w.status = REP_PEER_PAIRED;
                R->paired++;
            } else {
                w.status = REP_PEER_NO_VALUES;
                snprintf(w.why, sizeof w.why, "no ratio: %.300s", ce.msg);
                R->no_values++;
            }
        } else {
            char wa[160] = "", wb[160] = "";
            if (!va) no_values_why(run, a->c, "imbench", want[k], wa, sizeof wa);
            if (!vb) no_values_why(run, b->c, o->peer, want[k], wb, sizeof wb);
            snprintf(w.why, sizeof w.why, "%s%s%s", wa, wa[0] && wb[0] ? "; " : "", wb);
            w.status = REP_PEER_NO_VALUES;
            R->no_values++;
        }
        if (rows_push(R, cap, &w)) return IB_ENOMEM;
    }
    return 0;
}

static void print_peer_row(FILE *out, const rep_peer_row *w)
{
    char ids[2][24], cells[56], a[48], b[48], n[24], ratio[64];
    snprintf(ids[0], sizeof ids[0], "%lld", (long long)w->cell);
    snprintf(ids[1], sizeof ids[1], "%lld", (long long)w->peer_cell);
    if (!w->cell) snprintf(ids[0], sizeof ids[0], "-");
    if (!w->peer_cell) snprintf(ids[1], sizeof ids[1], "-");
    snprintf(cells, sizeof cells, "%s/%s", ids[0], ids[1]);
    rep__fmt(a, sizeof a, w->median, w->unit[0] ? w->unit : NULL);
    rep__fmt(b, sizeof b, w->peer_median, w->unit[0] ? w->unit : NULL);
    if (w->metric[0]) snprintf(n, sizeof n, "%zu/%zu", w->n, w->peer_n);
    else snprintf(n, sizeof n, "-");
    if (w->status == REP_PEER_PAIRED)
        snprintf(ratio, sizeof ratio, "%.4f [%.4f, %.4f]", w->ratio.est, w->ratio.lo,
                 w->ratio.hi);
    else if (w->status == REP_PEER_NO_VALUES)
        snprintf(ratio, sizeof ratio, "- (no values)");
    else
        snprintf(ratio, sizeof ratio, "- (unpaired)");
    fprintf(out, "%-11s %-12.12s %10s %10s %7s %-26s %s%s\n", cells,
            w->metric[0] ? w->metric : "-", a, b, n, ratio, w->label,
            w->higher_better ? " (higher is better)" : "");
    if (w->status != REP_PEER_PAIRED) fprintf(out, "%11s note: %s\n", "", w->why);
    else if (w->n < 2 || w->peer_n < 2)
        fprintf(out, "%11s note: %zu and %zu values: too few for a meaningful interval\n", "",
                w->n, w->peer_n);
}

int rep_compare_peer(ib_err *e, res_db *db, const rep_peer_opts *o_in, rep_peer_result *res)
{
    rep_peer_opts o = *o_in;
    if (!o.peer || !*o.peer) o.peer = "wsclean";
    if (!o.out) o.out = stdout;
    if (res) memset(res, 0, sizeof *res);
    if (o.run <= 0) return ib_error(e, IB_EINVAL, "compare against a peer needs a run id");
    if (!(o.level > 0 && o.level < 1))
        return ib_error(e, IB_EINVAL, "CI level must be in (0, 1), got %g", o.level);
    if (o.boot < 10) return ib_error(e, IB_EINVAL, "bootstrap needs >= 10 resamples");
    if (!strcmp(o.peer, "imbench"))
        return ib_error(e, IB_EINVAL, "the peer must be another imager than imbench");
    char mbuf[1024];
    snprintf(mbuf, sizeof mbuf, "%s", o.metrics && *o.metrics ? o.metrics : "wall_time");
    const char *want[64];
    size_t nwant = split(mbuf, want, 64);
    if (!nwant) return ib_error(e, IB_EINVAL, "no metric named");
    for (size_t k = 0; k < nwant; k++)
        if (!strcmp(want[k], "all"))
            return ib_error(e, IB_EINVAL, "--metric all is for run against run; name the "
                                          "metrics to compare with %s", o.peer);
    rep_run_data run;
    int rc = res_report_run_load(e, db, o.run, &run);
    pcell *pc = NULL;
    if (!rc && run.ncells) {
        pc = ib_calloc(run.ncells, sizeof *pc);
        if (!pc) rc = ib_error(e, IB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < run.ncells; i++)
        if (pcell_init(&pc[i], &run.cells[i], o.peer))
            rc = ib_error(e, IB_ENOMEM, "out of memory");
    /* the imbench cells sorted by key (one cell per key: a cell is its
     * parameters), so that a run of many cells pairs in n log n */
    pcell **imb = NULL;
    size_t nimb = 0;
    if (!rc && run.ncells) {
        imb = ib_malloc(run.ncells * sizeof *imb);
        if (!imb) rc = ib_error(e, IB_ENOMEM, "out of memory");
    }
    for (size_t i = 0; !rc && i < run.ncells; i++)
        if (pc[i].peer == 0) imb[nimb++] = &pc[i];
    if (nimb) qsort(imb, nimb, sizeof *imb, pcell_cmp);
    rep_peer_result R;
    memset(&R, 0, sizeof R);
    size_t cap = 0;
    for (size_t i = 0; !rc && i < run.ncells; i++) {
        if (pc[i].peer != 1) continue;
        R.peer_cells++;
        const pcell *want_key = &pc[i];
        pcell **hit = nimb ? bsearch(&want_key, imb, nimb, sizeof *imb, pcell_cmp) : NULL;
        pcell *a = hit ? *hit : NULL;
        if (a) {
            a->used = 1;
            if (pair_rows(&run, &o, a, &pc[i], want, nwant, &R, &cap))
                rc = ib_error(e, IB_ENOMEM, "out of memory");
            continue;
        }
        R.no_imbench++;
        if (unpaired_row(&R, &cap, REP_PEER_NO_IMBENCH, 0, pc[i].c->id, pc[i].label, "imbench",
                         o.run))
            rc = ib_error(e, IB_ENOMEM, "out of memory");
    }
    /* imbench cells without a peer: rows only when the run has peer cells at all */
    for (size_t i = 0; !rc && i < run.ncells; i++) {
        if (pc[i].peer != 0 || pc[i].used) continue;
        R.no_peer++;
        if (!R.peer_cells) continue;
        if (unpaired_row(&R, &cap, REP_PEER_NO_PEER, pc[i].c->id, 0, pc[i].label, o.peer, o.run))
            rc = ib_error(e, IB_ENOMEM, "out of memory");
    }
    if (!rc) {
        FILE *out = o.out;
        fprintf(out, "compare: run %lld (%s): imbench against %s in the same run, cells paired "
                     "by identical parameters except imager\n",
                (long long)o.run, run.suite, o.peer);
        fprintf(out, "ratio = median(imbench) / median(%s) with its %.0f%% bootstrap CI (%zu "
                     "resamples); below 1 imbench takes less (is faster, for times)\n",
                o.peer, 100 * o.level, o.boot);
        fprintf(out, "image agreement: not recorded in the results database; keep the "
                     "products (run-suite --keep-products) and run `harness compare-images` "
                     "on a pair (docs/wsclean.md)\n");
        fprintf(out, "cells: the ids of the imbench and the %s cell; n: values (successful "
                     "repeats) of each\n\n", o.peer);
        if (R.nrows)
            fprintf(out, "%-11s %-12s %10s %10.10s %7s %-26s %s\n", "cells", "metric",
                    "imbench", o.peer, "n", "ratio [95% CI]", "parameters");
        for (size_t i = 0; i < R.nrows; i++) print_peer_row(out, &R.rows[i]);
        if (!R.peer_cells)
            fprintf(out, "run %lld has no %s cells (%zu imbench cell%s): nothing to pair; a "
                         "suite with `imager: [imbench, %s]` makes them\n",
                    (long long)o.run, o.peer, nimb, nimb == 1 ? "" : "s", o.peer);
        fprintf(out, "\n%zu compared (pairs x metrics), %zu without values (skipped or failed), "
                     "%zu %s cell%s without an imbench cell, %zu imbench cell%s without a %s "
                     "cell\n",
                R.paired, R.no_values, R.no_imbench, o.peer, R.no_imbench == 1 ? "" : "s",
                R.no_peer, R.no_peer == 1 ? "" : "s", o.peer);
    }
    ib_free(imb);
    for (size_t i = 0; pc && i < run.ncells; i++) free(pc[i].key);
    ib_free(pc);
    res_report_run_release(&run);
    if (res && !rc) *res = R;
    else rep_peer_result_release(&R);
    return rc;
}
