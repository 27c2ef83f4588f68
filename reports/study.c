/*
 * study.c: the recorded baselines (rows of results' baselines table) as the
 * report draws them — what a row's JSON note says, a system's scaling as a
 * curve normalised to its own one-node time on relative cores (the only
 * way a small run here may be set beside the study's figures), and the
 * study's absolute times of a dataset with their core counts (drawn only
 * beside full-size cells). Pure: no I/O.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rep__bnote_parse(const res_baseline_row *b, rep__bnote *out)
{
    memset(out, 0, sizeof *out);
    out->bound = REP_BOUND_POINT;
    json_t *o = b->note ? json_loads(b->note, 0, NULL) : NULL;
    if (!json_is_object(o)) {
        if (b->note) snprintf(out->text, sizeof out->text, "%s", b->note);
        json_decref(o);
        return;
    }
    const char *bound = json_string_value(json_object_get(o, "bound"));
    if (bound && strcmp(bound, "low") == 0) out->bound = REP_BOUND_LOW;
    if (bound && strcmp(bound, "high") == 0) out->bound = REP_BOUND_HIGH;
    json_t *v = json_object_get(o, "support");
    if (json_is_integer(v)) out->support = (int)json_integer_value(v);
    const char *origin = json_string_value(json_object_get(o, "origin"));
    if (origin) snprintf(out->origin, sizeof out->origin, "%s", origin);
    v = json_object_get(o, "line");
    if (json_is_integer(v)) out->line = (long)json_integer_value(v);
    const char *note = json_string_value(json_object_get(o, "note"));
    if (!note) note = json_string_value(json_object_get(json_object_get(o, "params"), "imagename"));
    if (note) snprintf(out->text, sizeof out->text, "%s", note);
    json_decref(o);
}

int rep__bapprox(const res_baseline_row *b)
{
    return b->label && strstr(b->label, "approx") != NULL;
}

/* Rows [i, j) are one (system, source): a curve, or 0 when it has no
 * one-node time to normalise by. */
static int make_curve(const res_baseline_row *rows, const size_t *pick, size_t i, size_t j,
                      rep__bcurve *c)
{
    memset(c, 0, sizeof *c);
    double t1 = NAN;
    int approx = 0;
    for (size_t k = i; k < j; k++) {
        const res_baseline_row *b = &rows[pick[k]];
        rep__bnote nt;
        rep__bnote_parse(b, &nt);
        if (b->nodes == 1 && nt.bound == REP_BOUND_POINT && (isnan(t1) || b->value < t1)) {
            t1 = b->value;
            c->t1_threads = b->threads;
        }
        approx |= rep__bapprox(b);
    }
    if (isnan(t1)) return 0;
    const res_baseline_row *b0 = &rows[pick[i]];
    snprintf(c->system, sizeof c->system, "%s", b0->system);
    snprintf(c->source, sizeof c->source, "%s", b0->source ? b0->source : "manual");
    snprintf(c->label, sizeof c->label, "%s",
             approx ? "read from plot, approx." : b0->label ? b0->label : "");
    c->t1 = t1;
    c->band_lo = c->band_hi = NAN;
    c->rel[0] = 1;
    c->speedup[0] = 1;
    c->n = 1;
    for (size_t k = i; k < j && c->n < 16; k++) {
        const res_baseline_row *b = &rows[pick[k]];
        rep__bnote nt;
        rep__bnote_parse(b, &nt);
        double rel = 0;
        int inferred = 0;
        if (b->nodes > 1 && nt.bound == REP_BOUND_POINT) {
            rel = b->nodes;
        } else if (!b->nodes && b->threads > 0 && c->t1_threads > 0 &&
                   b->threads % c->t1_threads == 0 && b->threads > c->t1_threads &&
                   nt.bound == REP_BOUND_POINT) {
            rel = b->threads / c->t1_threads;
            inferred = 1;
        } else if (!b->nodes && !b->threads) {
            double sp = t1 / b->value;
            if (isnan(c->band_lo) || sp < c->band_lo) c->band_lo = sp;
            if (isnan(c->band_hi) || sp > c->band_hi) c->band_hi = sp;
            continue;
        }
        if (rel <= 1) continue;
        /* sorted by relative cores; a repeated one keeps the best time */
        size_t q = 0;
        while (q < c->n && c->rel[q] < rel) q++;
        if (q < c->n && c->rel[q] == rel) {
            if (t1 / b->value > c->speedup[q]) c->speedup[q] = t1 / b->value;
            continue;
        }
        memmove(&c->rel[q + 1], &c->rel[q], (c->n - q) * sizeof c->rel[0]);
        memmove(&c->speedup[q + 1], &c->speedup[q], (c->n - q) * sizeof c->speedup[0]);
        memmove(&c->inferred[q + 1], &c->inferred[q], (c->n - q) * sizeof c->inferred[0]);
        c->rel[q] = rel;
        c->speedup[q] = t1 / b->value;
        c->inferred[q] = inferred;
        c->n++;
    }
    return c->n >= 2 || !isnan(c->band_lo);
}

int rep__study_curves(const res_baseline_row *rows, size_t nrows, const char *dataset,
                      rep__bcurve **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t *pick = ib_malloc((nrows ? nrows : 1) * sizeof *pick), np = 0;
    rep__bcurve *cv = ib_calloc(nrows ? nrows : 1, sizeof *cv);
    if (!pick || !cv) {
        ib_free(pick);
        ib_free(cv);
        return IB_ENOMEM;
    }
    for (size_t i = 0; i < nrows; i++)
        if (!strcmp(rows[i].dataset, dataset) && !strcmp(rows[i].metric, "wall_time") &&
            rows[i].value > 0)
            pick[np++] = i;
    /* rows come ordered by dataset, system, metric, id: group by (system, source) */
    size_t nc = 0;
    for (size_t i = 0; i < np;) {
        const res_baseline_row *a = &rows[pick[i]];
        size_t j = i;
        while (j < np && !strcmp(rows[pick[j]].system, a->system) &&
               !strcmp(rows[pick[j]].source ? rows[pick[j]].source : "",
                       a->source ? a->source : ""))
            j++;
        if (make_curve(rows, pick, i, j, &cv[nc])) nc++;
        i = j;
    }
    ib_free(pick);
    *out = cv;
    *n = nc;
    return 0;
}

int rep__study_points(const res_baseline_row *rows, size_t nrows, const char *dataset,
                      rep__bpoint **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    rep__bpoint *p = ib_calloc(nrows ? nrows : 1, sizeof *p);
    if (!p) return IB_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < nrows; i++) {
        const res_baseline_row *b = &rows[i];
        if (strcmp(b->dataset, dataset) || strcmp(b->metric, "wall_time") || !(b->value > 0) ||
            !b->source || strcmp(b->source, "seed-study"))
            continue;
        rep__bnote nt;
        rep__bnote_parse(b, &nt);
        if (nt.bound != REP_BOUND_POINT || (!b->nodes && !b->threads && !b->cores)) continue;
        rep__bpoint *q = &p[k++];
        snprintf(q->system, sizeof q->system, "%s", b->system);
        q->nodes = b->nodes;
        q->threads = b->threads;
        q->cores = b->cores;
        q->value = b->value;
        int casa = strncmp(b->system, "casa", 4) == 0;
        char where[96] = "";
        size_t len = 0;
        if (b->nodes)
            len += (size_t)snprintf(where + len, sizeof where - len, "%d node%s", b->nodes,
                                    b->nodes == 1 ? "" : "s");
        if (b->threads && len < sizeof where)
            len += (size_t)snprintf(where + len, sizeof where - len, "%s%d %s", len ? ", " : "",
                                    b->threads, casa ? "MPI procs" : "threads");
        if (b->cores && len < sizeof where)
            len += (size_t)snprintf(where + len, sizeof where - len, "%s%d cores",
                                    len ? ", " : "", b->cores);
        if (b->chunks && len < sizeof where)
            snprintf(where + len, sizeof where - len, "%s%d chunks", len ? ", " : "", b->chunks);
        snprintf(q->what, sizeof q->what, "%s, %s (study, %s)", casa ? "CASA 6.2" : b->system,
                 where, rep__bapprox(b) ? "read from plot" : "stated");
    }
    *out = p;
    *n = k;
    return 0;
}
