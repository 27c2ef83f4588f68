/*
 * report_predictions.c: a cost model's predictions stored beside the
 * measurements they predict (table predictions, schema version 5). Its
 * columns:
 *   cell_id, run_id  the predicted cell and the run whose measurement the
 *                    prediction sits beside
 *   model            the model's name and version ("cost-phases/1")
 *   metric           "wall_time", or "phase:NAME" for a phase's thread-seconds
 *   value, lo, hi    the prediction and its band (NULL: no band)
 *   measured         the median measurement when the prediction was stored
 *   fitted_on, terms JSON: what the model was fitted on; its coefficients
 *                    with their bands and the identifiability verdicts
 *   created_at       when it was stored
 */
#include "results/res_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


int res_report_predictions_store(ib_err *e, res_db *db, const res_prediction *p, size_t n)
{
    int rc = res__begin(e, db);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    rc = res__prepare(e, db,
                          "INSERT OR REPLACE INTO predictions(cell_id, run_id, model, metric,"
                          " value, lo, hi, measured, fitted_on, terms, created_at)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                          &st);
    char now[40];
    res_timestamp(now, sizeof now);
    for (size_t i = 0; i < n && !rc; i++) {
        const res_prediction *q = &p[i];
        if (!isfinite(q->value)) {
            rc = ib_error(e, IB_EINVAL, "prediction of cell %lld (%s) has no value",
                          (long long)q->cell_id, q->metric);
            break;
        }
        sqlite3_bind_int64(st, 1, q->cell_id);
        sqlite3_bind_int64(st, 2, q->run_id);
        res__bind_text(st, 3, q->model);
        res__bind_text(st, 4, q->metric);
        sqlite3_bind_double(st, 5, q->value);
        res__bind_double(st, 6, q->lo);
        res__bind_double(st, 7, q->hi);
        res__bind_double(st, 8, q->measured);
        res__bind_text(st, 9, q->fitted_on ? q->fitted_on : "{}");
        res__bind_text(st, 10, q->terms);
        res__bind_text(st, 11, q->created_at[0] ? q->created_at : now);
        int s = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (s != SQLITE_DONE) rc = res__sqlerr(e, db, s, "storing a prediction");
    }
    sqlite3_finalize(st);
    if (!rc) rc = res__commit(e, db);
    else res__rollback(db);
    return rc;
}

void res_predictions_free(res_prediction *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        ib_free(p[i].fitted_on);
        ib_free(p[i].terms);
    }
    ib_free(p);
}

static double col_or_nan(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int res_report_predictions(ib_err *e, res_db *db, int64_t run_id, res_prediction **out,
                           size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                      "SELECT cell_id, run_id, model, metric, value, lo, hi, measured,"
                      " fitted_on, terms, created_at FROM predictions WHERE run_id = ?"
                      " ORDER BY cell_id, model, metric",
                      &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    res_prediction *p = NULL;
    size_t cap = 0, k = 0;
    int s = SQLITE_DONE, oom = 0;
    while (!oom && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            size_t c = cap ? cap * 2 : 16;
            res_prediction *np = ib_malloc(c * sizeof *np);
            if (!np) {
                oom = 1;
                break;
            }
            if (k) memcpy(np, p, k * sizeof *np);
            ib_free(p);
            p = np;
            cap = c;
        }
        res_prediction *q = &p[k++];
        memset(q, 0, sizeof *q);
        q->cell_id = sqlite3_column_int64(st, 0);
        q->run_id = sqlite3_column_int64(st, 1);
        snprintf(q->model, sizeof q->model, "%s", (const char *)sqlite3_column_text(st, 2));
        snprintf(q->metric, sizeof q->metric, "%s", (const char *)sqlite3_column_text(st, 3));
        q->value = sqlite3_column_double(st, 4);
        q->lo = col_or_nan(st, 5);
        q->hi = col_or_nan(st, 6);
        q->measured = col_or_nan(st, 7);
        const unsigned char *f = sqlite3_column_text(st, 8), *t = sqlite3_column_text(st, 9);
        q->fitted_on = f ? ib_strdup((const char *)f) : NULL;
        q->terms = t ? ib_strdup((const char *)t) : NULL;
        if ((f && !q->fitted_on) || (t && !q->terms)) oom = 1;
        const unsigned char *c = sqlite3_column_text(st, 10);
        snprintf(q->created_at, sizeof q->created_at, "%s", c ? (const char *)c : "");
    }
    sqlite3_finalize(st);
    if (oom || (s != SQLITE_DONE && s != SQLITE_ROW)) {
        res_predictions_free(p, k);
        return oom ? ib_error(e, IB_ENOMEM, "out of memory reading predictions")
                   : res__sqlerr(e, db, s, "reading predictions");
    }
    *out = p;
    *n = k;
    return 0;
}
