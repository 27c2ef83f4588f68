/*
 * report_baselines.c: the baselines table for the reports module —
 * reading rows (of a dataset, or of a run's datasets) and replacing an
 * earlier import of one file by its new rows in one IMMEDIATE transaction,
 * so an import is never half-done nor duplicated.
 */
#include "results/res_internal.h"

#include <stdlib.h>
#include <string.h>

void res_baseline_rows_free(res_baseline_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        res_baseline_row *r = &rows[i];
        ib_free(r->dataset);
        ib_free(r->system);
        ib_free(r->metric);
        ib_free(r->unit);
        ib_free(r->source);
        ib_free(r->label);
        ib_free(r->note);
    }
    ib_free(rows);
}

static char *dup_col(sqlite3_stmt *st, int i, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *s = ib_strdup((const char *)t);
    if (!s) *oom = 1;
    return s;
}

int res_report_baselines(ib_err *e, res_db *db, const char *dataset, int64_t run,
                         res_baseline_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = res__prepare(
        e, db,
        "SELECT id, dataset, system, coalesce(nodes, 0), coalesce(cores, 0),"
        " coalesce(threads, 0), coalesce(chunks, 0), metric, value, unit, source, label, note"
        " FROM baselines WHERE (?1 IS NULL OR dataset = ?1) AND (?2 <= 0 OR dataset = ''"
        "  OR dataset IN (SELECT DISTINCT c.dataset FROM cells c JOIN attempts a"
        "   ON a.cell_id = c.id WHERE a.run_id = ?2))"
        " ORDER BY dataset, system, metric, id",
        &st);
    if (rc) return rc;
    res__bind_text(st, 1, dataset);
    sqlite3_bind_int64(st, 2, run);
    res_baseline_row *rows = NULL;
    size_t cap = 0, k = 0;
    int s = SQLITE_DONE, oom = 0;
    while (!oom && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (k == cap) {
            size_t c = cap ? cap * 2 : 32;
            res_baseline_row *nr = ib_malloc(c * sizeof *nr);
            if (!nr) {
                oom = 1;
                break;
            }
            if (k) memcpy(nr, rows, k * sizeof *nr);
            ib_free(rows);
            rows = nr;
            cap = c;
        }
        res_baseline_row *r = &rows[k++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(st, 0);
        r->dataset = dup_col(st, 1, &oom);
        r->system = dup_col(st, 2, &oom);
        r->nodes = sqlite3_column_int(st, 3);
        r->cores = sqlite3_column_int(st, 4);
        r->threads = sqlite3_column_int(st, 5);
        r->chunks = sqlite3_column_int(st, 6);
        r->metric = dup_col(st, 7, &oom);
        r->value = sqlite3_column_double(st, 8);
        r->unit = dup_col(st, 9, &oom);
        r->source = dup_col(st, 10, &oom);
        r->label = dup_col(st, 11, &oom);
        r->note = dup_col(st, 12, &oom);
        if (!oom && (!r->dataset || !r->system || !r->metric)) oom = 1;
    }
    sqlite3_finalize(st);
    if (oom) {
        res_baseline_rows_free(rows, k);
        return ib_error(e, IB_ENOMEM, "out of memory reading baselines");
    }
    if (s != SQLITE_DONE) {
        res_baseline_rows_free(rows, k);
        return res__sqlerr(e, db, s, "reading baselines");
    }
    *out = rows;
    *n = k;
    return 0;
}

static void bind_pos(sqlite3_stmt *st, int i, int v)
{
    if (v > 0) sqlite3_bind_int(st, i, v);
    else sqlite3_bind_null(st, i);
}

int res_report_baselines_replace(ib_err *e, res_db *db, const char *origin, const char *what,
                                 const res_baseline_row *rows, size_t n, size_t *replaced)
{
    int rc = res__begin(e, db);
    if (rc) return rc;
    sqlite3_stmt *del = NULL, *ins = NULL;
    rc = res__prepare(e, db,
                      "DELETE FROM baselines WHERE json_valid(note)"
                      " AND json_extract(note, '$.origin') = ?",
                      &del);
    if (!rc) {
        res__bind_text(del, 1, origin);
        int s = sqlite3_step(del);
        if (s != SQLITE_DONE) rc = res__sqlerr(e, db, s, "replacing an earlier import");
        else if (replaced) *replaced = (size_t)sqlite3_changes(db->db);
    }
    if (!rc)
        rc = res__prepare(e, db,
                          "INSERT INTO baselines(dataset, system, nodes, cores, threads, chunks,"
                          " metric, value, unit, source, label, note)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                          &ins);
    for (size_t i = 0; i < n && !rc; i++) {
        const res_baseline_row *r = &rows[i];
        res__bind_text(ins, 1, r->dataset ? r->dataset : "");
        res__bind_text(ins, 2, r->system);
        bind_pos(ins, 3, r->nodes);
        bind_pos(ins, 4, r->cores);
        bind_pos(ins, 5, r->threads);
        bind_pos(ins, 6, r->chunks);
        res__bind_text(ins, 7, r->metric);
        sqlite3_bind_double(ins, 8, r->value);
        res__bind_text(ins, 9, r->unit);
        res__bind_text(ins, 10, r->source);
        res__bind_text(ins, 11, r->label);
        res__bind_text(ins, 12, r->note);
        int s = sqlite3_step(ins);
        sqlite3_reset(ins);
        sqlite3_clear_bindings(ins);
        if (s != SQLITE_DONE) {
            rc = res__sqlerr(e, db, s, "storing a baseline");
            ib_error_wrap(e, "%s line %ld", what ? what : "baseline", r->line);
        }
    }
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    if (!rc) rc = res__commit(e, db);
    else res__rollback(db);
    return rc;
}
