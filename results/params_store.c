/*
 * params_store.c: the parameters an attempt actually ran with, one row
 * per cell parameter of the table (common/params.h) in
 * attempt_params(attempt_id, name, value, source), written at ingest in
 * the attempt's transaction and read by the export. A value is the
 * imager's own report in its stats record where it makes one, else the
 * cell's, else the table's default — never empty — in the table's
 * canonical text.
 */
#include "common/params.h"
#include "results/res_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The member of stats at a "section.key" path (NULL when absent). */
static json_t *stats_at(json_t *stats, const char *path, const char *suffix)
{
    const char *dot = strchr(path, '.');
    if (!stats || !dot) return NULL;
    char section[64], key[96];
    snprintf(section, sizeof section, "%.*s", (int)(dot - path), path);
    snprintf(key, sizeof key, "%s%s", dot + 1, suffix);
    return json_object_get(json_object_get(stats, section), key);
}

/* A JSON scalar as the text the table parses ("" when it is not one). */
static void scalar_text(json_t *v, char *buf, size_t n)
{
    buf[0] = '\0';
    if (json_is_string(v)) snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v)) snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v)) snprintf(buf, n, "%.17g", json_real_value(v));
    else if (json_is_boolean(v)) snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
}

/* What the imager's stats record says of parameter id, as text ("" when
 * nothing). An image is reported as <key>_nx and <key>_ny, a Briggs
 * weight as "briggs" and robust. */
static void from_stats(json_t *stats, int id, char *buf, size_t n)
{
    const ib_param *p = ib_param_get(id);
    buf[0] = '\0';
    if (!strcmp(p->stats, "-")) return;
    if (p->type == IB_PT_IMAGE) {
        json_t *x = stats_at(stats, p->stats, "_nx"), *y = stats_at(stats, p->stats, "_ny");
        if (json_is_integer(x) && json_is_integer(y))
            snprintf(buf, n, "%lldx%lld", (long long)json_integer_value(x),
                     (long long)json_integer_value(y));
        return;
    }
    scalar_text(stats_at(stats, p->stats, ""), buf, n);
    json_t *robust = json_object_get(json_object_get(stats, "params"), "robust");
    if (p->type == IB_PT_WEIGHT && !strcmp(buf, "briggs") && json_is_number(robust))
        snprintf(buf, n, "briggs:%.17g", json_number_value(robust));
}

/* text as a value of id in canonical text into out; 0, or -1 when it is
 * not one. Names are kept as they are (checked). */
static int canonical(int id, const char *text, char *out, size_t n)
{
    ib_pval v;
    if (!text[0] || ib_param_parse(id, text, &v, NULL, 0)) return -1;
    if (ib_param_get(id)->type == IB_PT_NAME) snprintf(out, n, "%s", text);
    else ib_param_text(id, &v, out, n);
    return 0;
}

void res_params_effective(json_t *cell_params, json_t *stats, char value[][RES_PARAM_TEXT],
                          const char **source)
{
    for (int id = 0; id < IB_NPARAM; id++) {
        value[id][0] = '\0';
        source[id] = NULL;
        if (!(ib_param_get(id)->flags & IB_PF_CELL)) continue;
        char text[256];
        from_stats(stats, id, text, sizeof text);
        if (!canonical(id, text, value[id], RES_PARAM_TEXT)) {
            source[id] = "imager";
            continue;
        }
        scalar_text(json_object_get(cell_params, ib_param_get(id)->name), text, sizeof text);
        if (!canonical(id, text, value[id], RES_PARAM_TEXT)) {
            source[id] = "cell";
            continue;
        }
        ib_param_text(id, NULL, value[id], RES_PARAM_TEXT);
        if (!value[id][0]) snprintf(value[id], RES_PARAM_TEXT, "unknown"); /* required, absent */
        source[id] = "default";
    }
}

int res_params_record(ib_err *e, res_db *db, int64_t attempt_id, int64_t cell_id, json_t *stats)
{
    sqlite3_stmt *st = NULL;
    int r = res__prepare(e, db, "SELECT params FROM cells WHERE id = ?", &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, cell_id);
    int rc = sqlite3_step(st);
    json_t *params = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        params = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return res__sqlerr(e, db, rc, "reading a cell's parameters");
    char(*value)[RES_PARAM_TEXT] = calloc(IB_NPARAM, sizeof *value);
    const char *source[IB_NPARAM];
    if (!value) {
        json_decref(params);
        return ib_error(e, IB_ENOMEM, "out of memory");
    }
    res_params_effective(params, stats, value, source);
    json_decref(params);
    r = res__prepare(e, db,
                     "INSERT OR REPLACE INTO attempt_params(attempt_id, name, value, source)"
                     " VALUES(?,?,?,?)", &st);
    for (int id = 0; !r && id < IB_NPARAM; id++) {
        if (!source[id]) continue;
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, attempt_id);
        sqlite3_bind_text(st, 2, ib_param_get(id)->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, value[id], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, source[id], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) r = res__sqlerr(e, db, rc, "recording an attempt's parameters");
    }
    sqlite3_finalize(st);
    free(value);
    return r;
}

int res_params_read(ib_err *e, res_db *db, int64_t attempt_id, char value[][RES_PARAM_TEXT])
{
    for (int id = 0; id < IB_NPARAM; id++) value[id][0] = '\0';
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(res_sqlite(db),
                                "SELECT name, value FROM attempt_params WHERE attempt_id = ?", -1,
                                &st, NULL);
    int found = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, attempt_id);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0),
                       *v = (const char *)sqlite3_column_text(st, 1);
            int id = ib_param_find(name);
            if (id < 0 || !v) continue;
            snprintf(value[id], RES_PARAM_TEXT, "%s", v);
            found = 1;
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "reading an attempt's parameters");
        if (found) return 0;
    } else {
        /* no table: a database from before attempt_params */
        sqlite3_finalize(st);
    }
    /* computed as ingest would have stored them */
    rc = sqlite3_prepare_v2(res_sqlite(db),
                            "SELECT c.params, a.stats FROM attempts a JOIN cells c"
                            " ON c.id = a.cell_id WHERE a.id = ?", -1, &st, NULL);
    if (rc != SQLITE_OK) return res__sqlerr(e, db, rc, "reading an attempt's parameters");
    sqlite3_bind_int64(st, 1, attempt_id);
    rc = sqlite3_step(st);
    json_t *params = NULL, *stats = NULL;
    if (rc == SQLITE_ROW) {
        const char *pt = (const char *)sqlite3_column_text(st, 0),
                   *stt = (const char *)sqlite3_column_text(st, 1);
        params = pt ? json_loads(pt, 0, NULL) : NULL;
        stats = stt ? json_loads(stt, 0, NULL) : NULL;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return ib_error(e, IB_ENOTFOUND, "no attempt %lld", (long long)attempt_id);
    if (rc != SQLITE_ROW) return res__sqlerr(e, db, rc, "reading an attempt's parameters");
    const char *source[IB_NPARAM];
    res_params_effective(params, stats, value, source);
    json_decref(params);
    json_decref(stats);
    return 0;
}
