/*
 * compare.c: `harness compare` — run A against run B cell by cell (ratio of
 * medians with a bootstrap CI, Mann–Whitney, Benjamini–Hochberg across all
 * comparisons, a verdict in each metric's own direction), and run A's
 * scaling against the recorded CASA baselines, where every figure is a
 * normalised ratio or a model and is printed as such.
 */
#include "reports/rep_internal.h"

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
    int rc = rep__run_load(e, db, o->run_a, &A);
    if (!rc) rc = rep__run_load(e, db, o->run_b, &B);
    else memset(&B, 0, sizeof B);
    if (rc) {
        rep__run_release(&A);
        rep__run_release(&B);
        return rc;
    }
    char mbuf[1024];
    snprintf(mbuf, sizeof mbuf, "%s", o->metrics && *o->metrics ? o->metrics : "wall_time");
    const char *want[64];
    size_t nwant = split(mbuf, want, 64);
    int all = nwant == 1 && strcmp(want[0], "all") == 0;
    pair *P = NULL;
    size_t np = 0, cap = 0;
    rep__sb notes = {0};
    for (size_t i = 0; i < A.ncells && !rc; i++) {
        const rep_cell_data *ca = &A.cells[i];
        const rep_cell_data *cb = find_cell(&B, ca->id, ca->hash);
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
                    rep__sb_printf(&notes, "cell %lld: metric '%s' missing in run %lld\n",
                                   (long long)ca->id, m,
                                   (long long)(!va ? o->run_a : o->run_b));
                }
                continue;
            }
            if (va->unit && vb->unit && strcmp(va->unit, vb->unit) != 0) {
                R.skipped++;
                rep__sb_printf(&notes, "cell %lld: metric '%s' has unit '%s' in run %lld but "
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
            if (va->better_known) co.better = va->better;
            else if (vb->better_known) co.better = vb->better;
            else {
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
                rep__sb_printf(&notes, "cell %lld: metric '%s': %s\n", (long long)ca->id, m,
                               ce.msg);
                continue;
            }
            p.better = co.better;
            if (pairs_push(&P, &np, &cap, &p)) rc = ib_error(e, IB_ENOMEM, "out of memory");
        }
    }
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
    rep__run_release(&A);
    rep__run_release(&B);
    if (!rc && res) *res = R;
    return rc;
}

/* ---- against CASA --------------------------------------------------------------- */

/* The seed study's CASA 1-node time and its time at study_nodes (a point,
 * or the range it gives over the node counts) for ds. */
static void casa_study(res_db *db, const char *ds, int study_nodes, double *t1, double *lo,
                       double *hi)
{
    *t1 = *lo = *hi = NAN;
    sqlite3_stmt *st;
    if (rep__prepare(NULL, db,
                     "SELECT min(CASE WHEN nodes = 1 THEN value END),"
                     " coalesce(min(CASE WHEN nodes = ?2 THEN value END),"
                     "  min(CASE WHEN nodes IS NULL AND threads IS NULL THEN value END)),"
                     " coalesce(max(CASE WHEN nodes = ?2 THEN value END),"
                     "  max(CASE WHEN nodes IS NULL AND threads IS NULL THEN value END))"
                     " FROM baselines WHERE dataset = ?1 AND metric = 'wall_time'"
                     " AND system LIKE 'casa%' AND source = 'seed-study'",
                     &st))
        return;
    sqlite3_bind_text(st, 1, ds, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, study_nodes);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_NULL) *t1 = sqlite3_column_double(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_NULL) *lo = sqlite3_column_double(st, 1);
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) *hi = sqlite3_column_double(st, 2);
    }
    sqlite3_finalize(st);
}

int rep_compare_casa(ib_err *e, res_db *db, int64_t run, const rep_full_shape *shapes,
                     size_t nshapes, int study_nodes, FILE *out, size_t *ncompared)
{
    if (!out) out = stdout;
    rep_run_data r;
    int rc = rep__run_load(e, db, run, &r);
    if (rc) {
        rep__run_release(&r);
        return rc;
    }
    const char **ds;
    size_t nds;
    if (rep__datasets(&r, &ds, &nds)) {
        rep__run_release(&r);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    size_t with_casa = 0;
    fprintf(out, "compare: run %lld (%s) against the recorded CASA baselines\n"
                 "NORMALISED: each system's speedup is against its own one-node time "
                 "(S = T(1)/T(n)); CASA ran other data on another machine, so only the shapes "
                 "compare.\nMODEL: full-size times are this run's cost model extrapolated, not "
                 "measurements.\n",
            (long long)run, r.suite);
    rep_amdahl_opts ao;
    rep_amdahl_opts_init(&ao);
    for (size_t d = 0; d < nds && !rc; d++) {
        fprintf(out, "\n== %s\n", ds[d]);
        rep__series *s = NULL;
        size_t ns = 0;
        rep__bcurve *bc = NULL;
        size_t nbc = 0;
        rc = rep__series_along(e, &r, ds[d], REP__AXIS_NODES, 2, &s, &ns);
        if (!rc) rc = rep__baseline_curves(e, db, ds[d], &bc, &nbc);
        if (rc) {
            rep__series_free(s, ns);
            ib_free(bc);
            break;
        }
        size_t ncasa = 0;
        for (size_t k = 0; k < nbc; k++) ncasa += strncmp(bc[k].system, "casa", 4) == 0;
        if (ncasa) with_casa++;
        if (!ns) {
            fprintf(out, "no node sweep in this run for %s: no normalised scaling to compare\n",
                    ds[d]);
        } else if (!ncasa) {
            fprintf(out, "no CASA baseline with a one-node time for %s (import "
                         "workloads/baselines/seed-study.yaml or your CASA logs)\n",
                    ds[d]);
        } else {
            const rep__series *se = &s[0];
            const rep_values *b0 = rep__metric(&r.cells[se->cell[0]], "wall_time");
            fprintf(out, "series: %s (speedup against %g node%s)\n", se->label, se->x[0],
                    se->x[0] == 1 ? "" : "s");
            fprintf(out, "%6s  %-26s  %-44s  %s\n", "nodes", "ours: S [95% CI] normalised",
                    "CASA: S normalised (system, source)", "ratio ours/CASA (normalised)");
            for (size_t i = 0; i < se->n; i++) {
                const rep_values *v = rep__metric(&r.cells[se->cell[i]], "wall_time");
                rep_ci ci;
                if (!b0 || !v ||
                    rep_boot_ratio_ci(NULL, b0->v, b0->n, v->v, v->n, 0.95, 1000, 1 + i, &ci))
                    continue;
                char ours[64];
                snprintf(ours, sizeof ours, "%.3f [%.3f, %.3f]", ci.est, ci.lo, ci.hi);
                int printed = 0;
                for (size_t k = 0; k < nbc; k++) {
                    if (strncmp(bc[k].system, "casa", 4) != 0) continue;
                    char theirs[128], ratio[96];
                    double sp = NAN;
                    for (size_t q = 0; q < bc[k].n; q++)
                        if (bc[k].nodes[q] == se->x[i]) sp = bc[k].speedup[q];
                    if (isfinite(sp)) {
                        snprintf(theirs, sizeof theirs, "%.3f (%s, %s)", sp, bc[k].system,
                                 bc[k].source);
                        snprintf(ratio, sizeof ratio, "%.3f", ci.est / sp);
                    } else if (!isnan(bc[k].band_lo) && se->x[i] > 1) {
                        snprintf(theirs, sizeof theirs, "%.3f-%.3f range (%s, %s)",
                                 bc[k].band_lo, bc[k].band_hi, bc[k].system, bc[k].source);
                        snprintf(ratio, sizeof ratio, "%.3f-%.3f", ci.est / bc[k].band_hi,
                                 ci.est / bc[k].band_lo);
                    } else {
                        continue;
                    }
                    fprintf(out, "%6g  %-26s  %-44s  %s\n", se->x[i], printed ? "" : ours,
                            theirs, ratio);
                    printed = 1;
                }
                if (!printed)
                    fprintf(out, "%6g  %-26s  %-44s  %s\n", se->x[i], ours,
                            "(no CASA figure at this node count)", "-");
            }
        }
        rep__series_free(s, ns);
        ib_free(bc);
    }
    /* model: full-size extrapolation against the study's CASA times */
    rep__extrap *x = NULL;
    size_t nx = 0;
    if (!rc) rc = rep__extrapolate(e, &r, shapes, nshapes, study_nodes, &ao, &x, &nx);
    if (!rc) {
        fprintf(out, "\nMODEL: full-size extrapolation against CASA 6.2 in the seed study "
                     "(this imager's threads per node; ratios < 1: the model is faster)\n");
        fprintf(out, "%-12s %-14s %-14s %-12s %-24s %-16s %s\n", "dataset", "model 1 node",
                "CASA 1 node", "model/CASA", "model study nodes", "CASA study nodes",
                "model/CASA (study nodes)");
        for (size_t i = 0; i < nx; i++) {
            const rep__extrap *X = &x[i];
            double t1, lo, hi;
            casa_study(db, X->dataset, study_nodes, &t1, &lo, &hi);
            if (!X->ok) {
                fprintf(out, "%-12s no model: %s\n", X->dataset, X->why);
                continue;
            }
            char m1[48], c1[48], mn[64], cn[64], r1[32] = "-", rn[48] = "-";
            rep__fmt(m1, sizeof m1, X->t1, "s");
            rep__fmt(c1, sizeof c1, t1, "s");
            if (isfinite(t1)) snprintf(r1, sizeof r1, "%.3f", X->t1 / t1);
            if (isfinite(X->tn)) snprintf(mn, sizeof mn, "%.4g s [%.4g, %.4g]", X->tn, X->tn_lo,
                                          X->tn_hi);
            else snprintf(mn, sizeof mn, "- (no node fit)");
            if (isfinite(lo) && lo == hi) snprintf(cn, sizeof cn, "%.4g s", lo);
            else if (isfinite(lo)) snprintf(cn, sizeof cn, "%.4g-%.4g s", lo, hi);
            else snprintf(cn, sizeof cn, "-");
            if (isfinite(lo) && isfinite(X->tn) && lo == hi)
                snprintf(rn, sizeof rn, "%.3f", X->tn / lo);
            else if (isfinite(lo) && isfinite(X->tn))
                snprintf(rn, sizeof rn, "%.3f-%.3f", X->tn / hi, X->tn / lo);
            fprintf(out, "%-12s %-14s %-14s %-12s %-24s %-16s %s\n", X->dataset, m1, c1, r1, mn,
                    cn, rn);
        }
    }
    ib_free(x);
    ib_free(ds);
    rep__run_release(&r);
    if (!rc && ncompared) *ncompared = with_casa;
    return rc;
}
