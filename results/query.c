/*
 * query.c: reading the results store — the run listing, one run's
 * provenance and cells, tidy export (CSV / JSON records) and the
 * verification behind `harness verify`.
 */
#include "results/res_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* ---- the latest run ---------------------------------------------------- */

int res_latest_run(ib_err *e, res_db *db, const char *suite, int64_t *run_id)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT max(r.id) FROM runs r WHERE (?1 IS NULL OR r.suite = ?1)"
                         " AND EXISTS (SELECT 1 FROM attempts a WHERE a.run_id = r.id)",
                         &st);
    if (r) return r;
    res__bind_text(st, 1, suite);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return res__sqlerr(e, db, rc, "finding the latest run");
    if (id <= 0) {
        if (suite)
            return ib_error(e, IB_ENOTFOUND, "database '%s' has no run of suite '%s'",
                            db->path, suite);
        return ib_error(e, IB_ENOTFOUND, "database '%s' has no runs", db->path);
    }
    *run_id = id;
    return 0;
}

const char *res_sqlite_version(void) { return sqlite3_libversion(); }

/* ---- list ------------------------------------------------------------- */

int res_print_runs(ib_err *e, res_db *db, FILE *f)
{
    sqlite3_stmt *st;
    int r = res__prepare(
        e, db,
        "SELECT r.id, r.suite, r.started_at, coalesce(r.ended_at, ''), r.status,"
        " (SELECT count(DISTINCT cell_id) FROM attempts a WHERE a.run_id = r.id),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = r.id),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = r.id AND a.status = 'ok'),"
        " (SELECT count(*) FROM attempts a WHERE a.run_id = r.id"
        "   AND a.status IN ('failed', 'timeout', 'interrupted')),"
        " coalesce(r.host, '')"
        " FROM runs r ORDER BY r.id",
        &st);
    if (r) return r;
    fprintf(f, "%-5s %-16s %-24s %-11s %6s %8s %5s %6s  %s\n", "run", "suite", "started",
            "status", "cells", "attempts", "ok", "failed", "host");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "%-5lld %-16s %-24s %-11s %6d %8d %5d %6d  %s\n",
                (long long)sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                col_text(st, 4), sqlite3_column_int(st, 5), sqlite3_column_int(st, 6),
                sqlite3_column_int(st, 7), sqlite3_column_int(st, 8), col_text(st, 9));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "listing runs");
}

/* ---- show ------------------------------------------------------------- */



/* "dataset chunks=4 nodes=1 ..." from the cell's columns, skipping NULLs. */
static void cell_label(sqlite3_stmt *st, int first, char *out, size_t n)
{
    static const char *const names[] = {"dataset",   "scale",      "chunks",  "nodes",
                                        "threads",   "support",    "gridder", "weight",
                                        "precision", "mem_budget", "padding", "image",
                                        "row_chunks", "schedule",  "serial_write", "fsync",
                                        "imager",    NULL};
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; names[i] && len < n; i++) {
        int c = first + i;
        if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
        const char *v = col_text(st, c);
        int k = i == 0 ? snprintf(out + len, n - len, "%s", v)
                       : snprintf(out + len, n - len, " %s=%s", names[i], v);
        if (k < 0) break;
        len += (size_t)k;
    }
}

static int print_provenance(ib_err *e, res_db *db, int64_t run_id, FILE *f)
{
    static const char *const fields[] = {
        "suite",    "suite_file", "suite_hash", "started_at", "ended_at",
        "status",   "command",    "git_commit", "git_dirty",  "compiler",
        "cflags",   "host",       "cpu_model",  "cores",      "mem_bytes",
        "kernel",   "libs",       "env",        "tuning",     NULL};
    char sql[512] = "SELECT ";
    for (int i = 0; fields[i]; i++) {
        strcat(sql, i ? ", " : "");
        strcat(sql, fields[i]);
    }
    strcat(sql, " FROM runs WHERE id = ?");
    sqlite3_stmt *st;
    int r = res__prepare(e, db, sql, &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return ib_error(e, IB_ENOTFOUND, "database '%s' has no run %lld", db->path,
                        (long long)run_id);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return res__sqlerr(e, db, rc, "reading a run");
    }
    fprintf(f, "run %lld\n", (long long)run_id);
    for (int i = 0; fields[i]; i++)
        if (sqlite3_column_type(st, i) != SQLITE_NULL)
            fprintf(f, "  %-11s %s\n", fields[i], col_text(st, i));
    sqlite3_finalize(st);
    return 0;
}

/* The warnings of a run's attempts (what ingest cut to its limits). */
static int print_warnings(ib_err *e, res_db *db, int64_t run_id, FILE *f)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT a.id, substr(c.hash, 1, 12), a.repeat_index, w.what, w.message"
                         " FROM warnings w JOIN attempts a ON a.id = w.attempt_id"
                         " JOIN cells c ON c.id = a.cell_id WHERE a.run_id = ? ORDER BY w.id",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++ == 0) fputc('\n', f);
        fprintf(f, "warning: attempt %lld (cell %s, repeat %d): %s: %s\n",
                (long long)sqlite3_column_int64(st, 0), col_text(st, 1),
                sqlite3_column_int(st, 2), col_text(st, 3), col_text(st, 4));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "reading warnings");
}

int res_print_run(ib_err *e, res_db *db, int64_t run_id, FILE *f)
{
    int r = print_provenance(e, db, run_id, f);
    if (r) return r;
    sqlite3_stmt *st;
    r = res__prepare(
        e, db,
        "SELECT c.id, c.hash, a.status, a.wall_s, c.dataset, c.scale, c.chunks, c.nodes,"
        " c.threads, c.support, c.gridder, c.weight, c.precision, c.mem_budget, c.padding,"
        " CASE WHEN c.image_nx IS NULL THEN NULL ELSE c.image_nx || 'x' || c.image_ny END,"
        " json_extract(c.params, '$.row_chunks'), json_extract(c.params, '$.schedule'),"
        " json_extract(c.params, '$.serial_write'), json_extract(c.params, '$.fsync'),"
        " json_extract(c.params, '$.imager'),"
        " (SELECT count(DISTINCT b.repeat_index) FROM attempts b"
        "  WHERE b.run_id = a.run_id AND b.cell_id = a.cell_id)"
        " FROM attempts a JOIN cells c ON c.id = a.cell_id WHERE a.run_id = ?"
        " ORDER BY c.id, a.id",
        &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    fprintf(f, "\n%-12s %-9s %8s %7s %4s %12s  %s\n", "cell", "status", "attempts",
            "retries", "ok", "median_wall", "parameters");
    size_t cap = 16, n = 0;
    double *walls = ib_malloc(cap * sizeof *walls);
    if (!walls) {
        sqlite3_finalize(st);
        return ib_error(e, IB_ENOMEM, "out of memory showing run %lld", (long long)run_id);
    }
    int64_t cur = -1;
    int attempts = 0, nok = 0, nslots = 0;
    char label[512] = "", hash[16] = "", last_status[16] = "";
    int rc;
    for (;;) {
        rc = sqlite3_step(st);
        int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -2;
        if (id != cur && cur >= 0) {
            double m = ib_median(walls, n);
            char mw[32];
            if (isnan(m)) snprintf(mw, sizeof mw, "-");
            else snprintf(mw, sizeof mw, "%.3f s", m);
            fprintf(f, "%-12s %-9s %8d %7d %4d %12s  %s\n", hash, nok > 0 ? "ok" : last_status,
                    attempts, attempts - nslots, nok, mw, label);
        }
        if (rc != SQLITE_ROW) break;
        if (id != cur) {
            cur = id;
            n = 0;
            attempts = nok = 0;
            nslots = sqlite3_column_int(st, 21);
            snprintf(hash, sizeof hash, "%.12s", col_text(st, 1));
            cell_label(st, 4, label, sizeof label);
        }
        attempts++;
        snprintf(last_status, sizeof last_status, "%s", col_text(st, 2));
        if (strcmp(last_status, "ok") == 0) {
            nok++;
            if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
                if (n == cap) {
                    double *nw = realloc(walls, 2 * cap * sizeof *walls);
                    if (!nw) {
                        rc = SQLITE_NOMEM;
                        break;
                    }
                    walls = nw;
                    cap *= 2;
                }
                walls[n++] = sqlite3_column_double(st, 3);
            }
        }
    }
    ib_free(walls);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "reading a run's cells");
    return print_warnings(e, db, run_id, f);
}

/* ---- export ----------------------------------------------------------- */

/*
 * The export's columns: the run and cell, then a column per cell
 * parameter of the table (common/params.h; an image as two, NX and NY)
 * with dataset_key after dataset, then the attempt and the metric. SQL
 * columns are taken from export_sql by index; parameters from the
 * attempt's effective values (res_params_read).
 */
enum { COL_SQL, COL_PARAM };
typedef struct col {
    const char *name;
    int kind, index, part; /* SQL column, or parameter id and part (image: 0 NX, 1 NY) */
} col;

static const char export_sql[] =
    "SELECT a.run_id, r.suite, c.hash, c.dataset_key, a.repeat_index, a.id, a.status,"
    " (SELECT count(*) FROM attempts b WHERE b.run_id = a.run_id AND b.cell_id = a.cell_id"
    "  AND b.repeat_index = a.repeat_index AND b.id < a.id),"
    " (SELECT count(*) - 1 FROM attempts b WHERE b.run_id = a.run_id"
    "  AND b.cell_id = a.cell_id AND b.repeat_index = a.repeat_index),"
    " m.name, m.value, m.unit, m.better, m.reason"
    " FROM metrics m JOIN attempts a ON a.id = m.attempt_id"
    " JOIN runs r ON r.id = a.run_id JOIN cells c ON c.id = a.cell_id"
    " WHERE ?1 = 0 OR a.run_id = ?1 ORDER BY a.run_id, a.id, m.id";
enum { SQL_DATASET_KEY = 3, SQL_ATTEMPT = 5 };

/* Column i, or 0 past the last. */
static int column(size_t i, col *c)
{
    static const char *const head[] = {"run_id", "suite", "cell_hash"};
    static const char *const tail[] = {"repeat", "attempt_id", "status", "retry",  "retries",
                                       "metric", "value",      "unit",   "better", "reason"};
    if (i < 3) {
        *c = (col){head[i], COL_SQL, (int)i, 0};
        return 1;
    }
    i -= 3;
    for (int id = 0; id < IB_NPARAM; id++) {
        const ib_param *p = ib_param_get(id);
        if (!(p->flags & IB_PF_CELL)) continue;
        int parts = p->type == IB_PT_IMAGE ? 2 : 1;
        for (int k = 0; k < parts; k++, i--)
            if (i == 0) {
                *c = (col){k ? p->column2 : p->column, COL_PARAM, id, k};
                return 1;
            }
        if (id == IB_P_DATASET && i-- == 0) {
            *c = (col){"dataset_key", COL_SQL, SQL_DATASET_KEY, 0};
            return 1;
        }
    }
    if (i < sizeof tail / sizeof *tail) {
        *c = (col){tail[i], COL_SQL, 4 + (int)i, 0};
        return 1;
    }
    return 0;
}

const char *res_export_column(size_t i)
{
    col c;
    return column(i, &c) ? c.name : NULL;
}

static void csv_text(FILE *f, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Shortest "%.Ng" that reads back as the same double (15..17 digits). */
static void fmt_double(char *buf, size_t n, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) return;
    }
}

/* The text of a parameter column: an image's NX or NY part, or the value. */
static void param_text(const col *c, const char *value, char *buf, size_t n)
{
    int nx, ny;
    if (ib_param_get(c->index)->type == IB_PT_IMAGE && !ib_parse_image(value, &nx, &ny))
        snprintf(buf, n, "%d", c->part ? ny : nx);
    else snprintf(buf, n, "%s", value);
}

/* A parameter's text as JSON: numbers and booleans as such, else a string. */
static int json_param(FILE *f, const col *c, const char *text)
{
    enum ib_ptype t = ib_param_get(c->index)->type;
    int64_t i;
    double d;
    if ((t == IB_PT_INT || t == IB_PT_BYTES || t == IB_PT_IMAGE) && !ib_parse_i64(text, &i)) {
        fprintf(f, "%lld", (long long)i);
        return 0;
    }
    if (t == IB_PT_REAL && !ib_parse_double(text, &d)) {
        fputs(text, f);
        if (!strpbrk(text, ".eE")) fputs(".0", f);
        return 0;
    }
    if (t == IB_PT_BOOL && (!strcmp(text, "true") || !strcmp(text, "false"))) {
        fputs(text, f);
        return 0;
    }
    json_t *s = json_string(text);
    char *out = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    json_decref(s);
    if (!out) return -1;
    fputs(out, f);
    free(out);
    return 0;
}

/* One SQL column as CSV. */
static void csv_sql(FILE *f, sqlite3_stmt *st, int i)
{
    char num[40];
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: break;
    case SQLITE_INTEGER: fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT:
        fmt_double(num, sizeof num, sqlite3_column_double(st, i));
        fputs(num, f);
        break;
    default: csv_text(f, col_text(st, i)); break;
    }
}

/* One SQL column as JSON; -1 when out of memory. */
static int json_sql(FILE *f, sqlite3_stmt *st, int i)
{
    char num[40];
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL: fputs("null", f); return 0;
    case SQLITE_INTEGER: fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i)); return 0;
    case SQLITE_FLOAT: {
        double v = sqlite3_column_double(st, i);
        if (!isfinite(v)) {
            fputs("null", f);
            return 0;
        }
        fmt_double(num, sizeof num, v);
        fputs(num, f);
        /* keep it a JSON number that reads back as a float */
        if (!strpbrk(num, ".eE")) fputs(".0", f);
        return 0;
    }
    default: {
        json_t *s = json_string(col_text(st, i));
        char *t = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
        json_decref(s);
        if (!t) return -1;
        fputs(t, f);
        free(t);
        return 0;
    }
    }
}

/* One row: the SQL row st with the attempt's parameter values. -1 when
 * out of memory. */
static int export_row(FILE *f, enum res_format fmt, sqlite3_stmt *st,
                      char value[][RES_PARAM_TEXT])
{
    col c;
    char text[RES_PARAM_TEXT];
    if (fmt == RES_JSON) fputc('{', f);
    for (size_t i = 0; column(i, &c); i++) {
        if (fmt == RES_CSV && i) fputc(',', f);
        if (fmt == RES_JSON) fprintf(f, "%s\"%s\":", i ? "," : "", c.name);
        if (c.kind == COL_PARAM) param_text(&c, value[c.index], text, sizeof text);
        int bad = 0;
        if (fmt == RES_CSV && c.kind == COL_SQL) csv_sql(f, st, c.index);
        else if (fmt == RES_CSV) csv_text(f, text);
        else if (c.kind == COL_SQL) bad = json_sql(f, st, c.index);
        else bad = json_param(f, &c, text);
        if (bad) return -1;
    }
    fputs(fmt == RES_JSON ? "}" : "\n", f);
    return 0;
}

int res_export(ib_err *e, res_db *db, int64_t run_id, enum res_format fmt, FILE *f,
               size_t *nrows)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db, export_sql, &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    char(*value)[RES_PARAM_TEXT] = calloc(IB_NPARAM, sizeof *value);
    if (!value) {
        sqlite3_finalize(st);
        return ib_error(e, IB_ENOMEM, "out of memory exporting");
    }
    col c;
    if (fmt == RES_CSV) {
        for (size_t i = 0; column(i, &c); i++) fprintf(f, "%s%s", i ? "," : "", c.name);
        fputc('\n', f);
    } else {
        fputs("[", f);
    }
    size_t n = 0;
    int64_t attempt = -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        /* rows come attempt by attempt: its parameters are read once */
        if (sqlite3_column_int64(st, SQL_ATTEMPT) != attempt) {
            attempt = sqlite3_column_int64(st, SQL_ATTEMPT);
            if ((r = res_params_read(e, db, attempt, value))) break;
        }
        if (fmt == RES_JSON) fputs(n ? ",\n" : "\n", f);
        if (export_row(f, fmt, st, value)) {
            r = ib_error(e, IB_ENOMEM, "out of memory exporting row %zu", n);
            break;
        }
        n++;
    }
    sqlite3_finalize(st);
    free(value);
    if (r) return r;
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "exporting");
    if (fmt == RES_JSON) fputs("\n]\n", f);
    if (nrows) *nrows = n;
    if (ferror(f)) return ib_error(e, IB_EIO, "write error while exporting");
    return 0;
}

/* ---- verify ----------------------------------------------------------- */

/* Run a query whose rows are findings: each row's first column is printed
 * after prefix and counted. */
static int findings(ib_err *e, res_db *db, const char *sql, const char *prefix, FILE *f,
                    int *problems)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db, sql, &st);
    if (r) return r;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fprintf(f, "problem: %s%s\n", prefix, col_text(st, 0));
        (*problems)++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, db, rc, "verifying");
}

/* PRAGMA integrity_check: 1 when it says ok; problems printed and counted.
 * SQLite's own corruption codes while checking are a finding too (the
 * check could not finish: the file is damaged). */
static int integrity(ib_err *e, res_db *db, FILE *f, int *problems, int *ok)
{
    *ok = 0;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db->db, "PRAGMA integrity_check", -1, &st, NULL);
    int n = 0;
    if (rc == SQLITE_OK) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *msg = col_text(st, 0);
            if (strcmp(msg, "ok") == 0) {
                *ok = 1;
            } else {
                fprintf(f, "problem: integrity_check: %s\n", msg);
                (*problems)++;
                n++;
            }
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE) return 0;
    }
    int prim = rc & 0xff;
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB) {
        fprintf(f, "problem: integrity_check could not finish: %s\n", sqlite3_errmsg(db->db));
        (*problems)++;
        *ok = 0;
        return 0;
    }
    return res__sqlerr(e, db, rc, "running integrity_check");
}

/* One check after another, each a query and its report lines (integrity,
 * orphans, duplicate slots, locks, warnings): long, but a list read top to
 * bottom, each check independent of the others. */
int res_verify(ib_err *e, res_db *db, FILE *f, int *problems)
{
    *problems = 0;
    int v, r = res_schema_version(e, db, &v);
    if (r) return r;
    if (v != RES_SCHEMA_VERSION) {
        fprintf(f, "problem: schema version %d, expected %d\n", v, RES_SCHEMA_VERSION);
        (*problems)++;
    } else {
        fprintf(f, "schema version %d: ok\n", v);
    }
    int ok;
    r = integrity(e, db, f, problems, &ok);
    if (r) return r;
    if (!ok) {
        /* the other checks read a damaged file: their answers mean nothing */
        fprintf(f, "%d problem%s (the database is corrupt: restore it from a copy, or recover "
                   "what SQLite can read with `sqlite3 F .recover`)\n",
                *problems, *problems == 1 ? "" : "s");
        return 0;
    }
    fprintf(f, "integrity_check: ok\n");
    sqlite3_stmt *st;
    int rc;

    int before = *problems;
    r = findings(e, db,
                 "SELECT \"table\" || ' rowid ' || rowid || ' refers to a missing row of '"
                 " || parent FROM pragma_foreign_key_check",
                 "foreign key: ", f, problems);
    if (r) return r;
    static const char *const orphans[] = {
        "SELECT 'attempt ' || a.id || ' has no run ' || a.run_id FROM attempts a"
        " WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = a.run_id)",
        "SELECT 'attempt ' || a.id || ' has no cell ' || a.cell_id FROM attempts a"
        " WHERE NOT EXISTS (SELECT 1 FROM cells c WHERE c.id = a.cell_id)",
        "SELECT 'metric ' || m.id || ' has no attempt ' || m.attempt_id FROM metrics m"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = m.attempt_id)",
        "SELECT 'phase ' || p.id || ' has no attempt ' || p.attempt_id FROM phases p"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = p.attempt_id)",
        "SELECT 'counter ' || k.id || ' has no attempt ' || k.attempt_id FROM counters k"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = k.attempt_id)",
        "SELECT 'task ' || t.id || ' has no attempt ' || t.attempt_id FROM tasks t"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = t.attempt_id)",
        "SELECT 'comm ' || c.id || ' has no attempt ' || c.attempt_id FROM comm c"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = c.attempt_id)",
        "SELECT 'warning ' || w.id || ' has no attempt ' || w.attempt_id FROM warnings w"
        " WHERE NOT EXISTS (SELECT 1 FROM attempts a WHERE a.id = w.attempt_id)",
        "SELECT 'run lock of run ' || l.run_id || ' has no run' FROM run_locks l"
        " WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = l.run_id)",
        NULL};
    for (int i = 0; orphans[i]; i++) {
        r = findings(e, db, orphans[i], "orphan: ", f, problems);
        if (r) return r;
    }
    if (*problems == before) fprintf(f, "foreign keys and orphans: ok\n");

    before = *problems;
    r = findings(e, db,
                 "SELECT 'attempt ' || a.id || ' (run ' || a.run_id || ', cell ' || a.cell_id"
                 " || ') is ok but has no phases' FROM attempts a WHERE a.status = 'ok'"
                 /* attempts migrated from schema 1 never had phases or stats */
                 " AND a.stats IS NOT NULL"
                 " AND NOT EXISTS (SELECT 1 FROM phases p WHERE p.attempt_id = a.id)",
                 "", f, problems);
    if (!r)
        r = findings(e, db,
                     "SELECT 'attempt ' || a.id || ' (run ' || a.run_id || ', cell '"
                     " || a.cell_id || ') is ok but has no metrics' FROM attempts a"
                     " WHERE a.status = 'ok' AND NOT EXISTS"
                     " (SELECT 1 FROM metrics m WHERE m.attempt_id = a.id)",
                     "", f, problems);
    if (!r)
        r = findings(e, db,
                     "SELECT 'metric ' || id || ' (' || name || ') has no value and no reason'"
                     " FROM metrics WHERE value IS NULL AND reason IS NULL",
                     "", f, problems);
    if (!r)
        r = findings(e, db,
                     "SELECT 'attempt ' || id || ' has status ' || quote(status)"
                     " FROM attempts WHERE status NOT IN"
                     " ('ok','failed','timeout','interrupted','skipped')",
                     "", f, problems);
    if (r) return r;
    if (*problems == before) fprintf(f, "successful attempts have phases and metrics: ok\n");

    /* two processes that ran the same (cell, repeat) of one run: a resume
     * beside a live run before run locks, or a job that ran twice */
    before = *problems;
    r = findings(e, db,
                 "SELECT 'run ' || run_id || ', cell ' || cell_id || ', repeat ' || repeat_index"
                 " || ' has ' || count(*) || ' successful attempts (ids ' || group_concat(id, ', ')"
                 " || '): one (cell, repeat) slot ran more than once' FROM attempts"
                 " WHERE status = 'ok' GROUP BY run_id, cell_id, repeat_index"
                 " HAVING count(*) > 1 ORDER BY run_id, cell_id, repeat_index",
                 "duplicate: ", f, problems);
    if (r) return r;
    if (*problems == before) fprintf(f, "one successful attempt per (run, cell, repeat): ok\n");

    /* Notes, not problems: a run left 'running' was killed or is live. */
    r = res__prepare(e, db,
                     "SELECT id, suite FROM runs WHERE status = 'running' ORDER BY id", &st);
    if (r) return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "note: run %lld (%s) is marked running: still going, or killed "
                   "(run-suite --resume continues it)\n",
                (long long)sqlite3_column_int64(st, 0), col_text(st, 1));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "verifying");
    r = res__prepare(e, db, "SELECT run_id, pid, host, since FROM run_locks ORDER BY run_id",
                     &st);
    if (r) return r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fprintf(f, "note: run %lld is locked by pid %lld on host '%s' since %s (a process "
                   "continuing it, or one killed: the next run-suite --resume or ingest on "
                   "that host takes a dead process's lock over)\n",
                (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
                col_text(st, 2), col_text(st, 3));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "verifying");
    r = res__prepare(e, db, "SELECT count(*), count(DISTINCT attempt_id) FROM warnings", &st);
    if (r) return r;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0)
        fprintf(f, "note: %lld warning%s on %lld attempt%s (limits reached at ingest: harness "
                   "show RUN lists them)\n",
                (long long)sqlite3_column_int64(st, 0),
                sqlite3_column_int64(st, 0) == 1 ? "" : "s",
                (long long)sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 1) == 1 ? "" : "s");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return res__sqlerr(e, db, rc, "verifying");
    fprintf(f, "%d problem%s\n", *problems, *problems == 1 ? "" : "s");
    return 0;
}
