/*
 * db_baselines.c: recorded baselines in the results database — importing a
 * baselines YAML file or a CASA log (each file one IMMEDIATE transaction
 * that first removes an earlier import of the same file, so nothing is
 * half-imported and nothing duplicated) and listing them. Schema 2 has no
 * columns for a record's origin, line, bound, support or CASA parameters;
 * they go into the note column as a JSON object (see reports.h).
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- transactions on the shared handle ------------------------------- */

static int begin(ib_err *e, res_db *db)
{
    int rc = sqlite3_exec(res_sqlite(db), "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : rep__sqlerr(e, db, rc, "starting a transaction");
}

static void rollback(res_db *db)
{
    if (!sqlite3_get_autocommit(res_sqlite(db)))
        sqlite3_exec(res_sqlite(db), "ROLLBACK", NULL, NULL, NULL);
}

static int commit(ib_err *e, res_db *db)
{
    int rc = sqlite3_exec(res_sqlite(db), "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return 0;
    int r = rep__sqlerr(e, db, rc, "committing");
    rollback(db);
    return r;
}

/* Delete the rows of an earlier import of origin; *n counts them. */
static int delete_origin(ib_err *e, res_db *db, const char *origin, size_t *n)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(e, db,
                          "DELETE FROM baselines WHERE json_valid(note)"
                          " AND json_extract(note, '$.origin') = ?",
                          &st);
    if (rc) return rc;
    sqlite3_bind_text(st, 1, origin, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "replacing an earlier import");
    *n = (size_t)sqlite3_changes(res_sqlite(db));
    return 0;
}

static const char insert_sql[] =
    "INSERT INTO baselines(dataset, system, nodes, cores, threads, chunks, metric, value,"
    " unit, source, label, note) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)";

static void bind_pos(sqlite3_stmt *st, int i, int v)
{
    if (v > 0) sqlite3_bind_int(st, i, v);
    else sqlite3_bind_null(st, i);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* The canonical origin of a file: its real path (so a re-import from
 * another directory still replaces). */
static int origin_of(ib_err *e, const char *path, char *out)
{
    if (!realpath(path, out))
        return ib_error(e, IB_EIO, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

/* ---- YAML baselines ---------------------------------------------------- */

int rep_db_import_baselines(ib_err *e, res_db *db, const char *path, rep_import_stats *out)
{
    rep_import_stats stats = {0};
    char origin[PATH_MAX];
    int rc = origin_of(e, path, origin);
    if (rc) return rc;
    rep_baseline *b;
    size_t n;
    rc = rep_baselines_load(e, path, &b, &n);
    if (rc) return rc;
    sqlite3_stmt *st = NULL;
    rc = begin(e, db);
    if (rc) goto done;
    rc = delete_origin(e, db, origin, &stats.replaced);
    if (!rc) rc = rep__prepare(e, db, insert_sql, &st);
    for (size_t i = 0; i < n && !rc; i++) {
        const rep_baseline *r = &b[i];
        json_t *note = json_pack("{s:s, s:I}", "origin", origin, "line", (json_int_t)r->line);
        if (!note) {
            rc = ib_error(e, IB_ENOMEM, "out of memory importing '%s'", path);
            break;
        }
        if (r->note) json_object_set_new(note, "note", json_string(r->note));
        if (r->bound != REP_BOUND_POINT)
            json_object_set_new(note, "bound", json_string(rep_bound_name(r->bound)));
        if (r->support > 0) json_object_set_new(note, "support", json_integer(r->support));
        if (r->source) json_object_set_new(note, "source_name", json_string(r->source));
        char *text = json_dumps(note, JSON_COMPACT);
        json_decref(note);
        if (!text) {
            rc = ib_error(e, IB_ENOMEM, "out of memory importing '%s'", path);
            break;
        }
        const char *source =
            r->source && strcmp(r->source, "seed-study") == 0 ? "seed-study" : "manual";
        bind_text(st, 1, r->dataset ? r->dataset : "");
        bind_text(st, 2, r->system);
        bind_pos(st, 3, r->nodes);
        bind_pos(st, 4, r->cores);
        bind_pos(st, 5, r->threads);
        bind_pos(st, 6, r->chunks);
        bind_text(st, 7, r->metric);
        sqlite3_bind_double(st, 8, r->value);
        bind_text(st, 9, r->unit);
        bind_text(st, 10, source);
        bind_text(st, 11, rep_label_name(r->label));
        bind_text(st, 12, text);
        int s = sqlite3_step(st);
        free(text);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (s != SQLITE_DONE) {
            rc = rep__sqlerr(e, db, s, "storing a baseline");
            ib_error_wrap(e, "baselines '%s' line %ld", path, r->line);
        } else {
            stats.stored++;
        }
    }
    sqlite3_finalize(st);
    if (!rc) rc = commit(e, db);
    else rollback(db);
done:
    rep_baselines_destroy(b, n);
    if (!rc && out) *out = stats;
    return rc;
}

/* ---- CASA logs ------------------------------------------------------------ */

static json_t *casa_note(const char *origin, const rep_casa_log *log, const rep_casa_task *t)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:I}", "origin", origin, "line",
                          (json_int_t)t->begin_line, "task", (json_int_t)t->index, "status",
                          rep_task_status_name(t->status), "clock", rep_clock_name(t->clock),
                          "start", t->start, "end", t->end, "duration_us",
                          (json_int_t)t->duration_us);
    if (!o) return NULL;
    json_object_set_new(o, "end_line", json_integer(t->end_line));
    if (log->casa_version[0])
        json_object_set_new(o, "casa_version", json_string(log->casa_version));
    if (log->host[0]) json_object_set_new(o, "host", json_string(log->host));
    if (log->first_ts[0]) json_object_set_new(o, "log_first", json_string(log->first_ts));
    if (log->last_ts[0]) json_object_set_new(o, "log_last", json_string(log->last_ts));
    json_object_set_new(o, "mpi", json_boolean(log->mpi));
    json_t *p = json_object();
    for (size_t i = 0; p && i < t->nparams; i++)
        json_object_set_new(p, t->params[i].key, json_string(t->params[i].value));
    json_object_set_new(o, "params", p ? p : json_null());
    if (t->nnotes) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < t->nnotes; i++) json_array_append_new(a, json_string(t->notes[i]));
        json_object_set_new(o, "notes", a ? a : json_null());
    }
    if (t->subcubes >= 0) json_object_set_new(o, "subcubes", json_integer(t->subcubes));
    if (t->required_gb >= 0) json_object_set_new(o, "required_gb", json_real(t->required_gb));
    if (t->available_gb >= 0) json_object_set_new(o, "available_gb", json_real(t->available_gb));
    return o;
}

int rep_db_import_casa(ib_err *e, res_db *db, const char *path, const rep_casa_import_opts *o,
                       rep_import_stats *out)
{
    rep_import_stats stats = {0};
    if (!o || !o->dataset || !*o->dataset)
        return ib_error(e, IB_EINVAL, "casa-import needs the dataset the log imaged (--dataset)");
    if (o->nodes < 1)
        return ib_error(e, IB_EINVAL, "casa-import needs the node count (--nodes N, N >= 1)");
    char origin[PATH_MAX];
    int rc = origin_of(e, path, origin);
    if (rc) return rc;
    rep_casa_log log;
    rc = rep_casa_parse(e, path, &log);
    if (rc) {
        rep_casa_log_release(&log);
        return rc;
    }
    size_t nok = 0;
    for (size_t i = 0; i < log.ntasks; i++) nok += log.tasks[i].status == REP_TASK_OK;
    if (!nok) {
        rc = ib_error(e, IB_ENOTFOUND,
                      "casa log '%s': no successful tclean task (%zu failed, first at line %ld: "
                      "%s): nothing imported",
                      path, log.ntasks, log.ntasks ? log.tasks[0].begin_line : 0L,
                      log.ntasks && log.tasks[0].failure ? log.tasks[0].failure : "failed");
        rep_casa_log_release(&log);
        return rc;
    }
    char system[96];
    snprintf(system, sizeof system, "%s%s", log.casa_version[0] ? "casa-" : "casa",
             log.casa_version);
    sqlite3_stmt *st = NULL;
    rc = begin(e, db);
    if (rc) goto done;
    rc = delete_origin(e, db, origin, &stats.replaced);
    if (!rc) rc = rep__prepare(e, db, insert_sql, &st);
    for (size_t i = 0; i < log.ntasks && !rc; i++) {
        const rep_casa_task *t = &log.tasks[i];
        if (t->status != REP_TASK_OK) {
            stats.skipped++;
            if (o->log)
                fprintf(o->log, "casa log '%s' line %ld: skipped failed tclean task #%zu: %s\n",
                        path, t->begin_line, t->index, t->failure ? t->failure : "failed");
            continue;
        }
        json_t *note = casa_note(origin, &log, t);
        char *text = note ? json_dumps(note, JSON_COMPACT) : NULL;
        json_decref(note);
        if (!text) {
            rc = ib_error(e, IB_ENOMEM, "out of memory importing '%s'", path);
            break;
        }
        bind_text(st, 1, o->dataset);
        bind_text(st, 2, system);
        bind_pos(st, 3, o->nodes);
        bind_pos(st, 4, o->cores);
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
        bind_text(st, 7, "wall_time");
        sqlite3_bind_double(st, 8, t->duration_s);
        bind_text(st, 9, "s");
        bind_text(st, 10, "casa-log");
        bind_text(st, 11, o->label && *o->label ? o->label : "measured (casa log)");
        bind_text(st, 12, text);
        int s = sqlite3_step(st);
        free(text);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (s != SQLITE_DONE) {
            rc = rep__sqlerr(e, db, s, "storing a baseline");
            ib_error_wrap(e, "casa log '%s' line %ld (tclean task #%zu)", path, t->begin_line,
                          t->index);
        } else {
            stats.stored++;
        }
    }
    sqlite3_finalize(st);
    if (!rc) rc = commit(e, db);
    else rollback(db);
done:
    rep_casa_log_release(&log);
    if (!rc && out) *out = stats;
    return rc;
}

/* ---- listing ---------------------------------------------------------------- */

int rep_db_print_baselines(ib_err *e, res_db *db, const char *dataset, FILE *f, size_t *n)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(
        e, db,
        "SELECT id, dataset, system, nodes, cores, threads, chunks, metric, value,"
        " coalesce(unit, ''), coalesce(source, ''), coalesce(label, ''),"
        " CASE WHEN json_valid(note) THEN json_extract(note, '$.bound') END,"
        " CASE WHEN json_valid(note) THEN json_extract(note, '$.support') END,"
        " CASE WHEN json_valid(note) THEN json_extract(note, '$.origin') END,"
        " CASE WHEN json_valid(note) THEN json_extract(note, '$.line') END,"
        " CASE WHEN json_valid(note) THEN coalesce(json_extract(note, '$.note'),"
        "   json_extract(note, '$.params.imagename')) ELSE note END"
        " FROM baselines WHERE ?1 IS NULL OR dataset = ?1 ORDER BY dataset, system, metric, id",
        &st);
    if (rc) return rc;
    bind_text(st, 1, dataset);
    size_t count = 0;
    int s;
    fprintf(f, "%-5s %-11s %-16s %5s %5s %7s %6s %7s %-17s %10s %-4s %-5s %-10s %-22s %s\n",
            "id", "dataset", "system", "nodes", "cores", "threads", "chunks", "support",
            "metric", "value", "unit", "bound", "source", "label", "origin:line  note");
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        char num[4][16];
        for (int k = 0; k < 4; k++) {
            int col = 3 + k;
            if (sqlite3_column_type(st, col) == SQLITE_NULL) snprintf(num[k], 16, "-");
            else snprintf(num[k], 16, "%d", sqlite3_column_int(st, col));
        }
        char sup[16] = "-";
        if (sqlite3_column_type(st, 13) != SQLITE_NULL)
            snprintf(sup, sizeof sup, "%d", sqlite3_column_int(st, 13));
        const char *ds = (const char *)sqlite3_column_text(st, 1);
        const char *origin = (const char *)sqlite3_column_text(st, 14);
        const char *base = origin ? strrchr(origin, '/') : NULL;
        const char *note = (const char *)sqlite3_column_text(st, 16);
        const char *bound = (const char *)sqlite3_column_text(st, 12);
        fprintf(f, "%-5lld %-11s %-16s %5s %5s %7s %6s %7s %-17s %10.6g %-4s %-5s %-10s %-22s "
                   "%s:%lld  %.80s\n",
                (long long)sqlite3_column_int64(st, 0), ds && *ds ? ds : "(any)",
                (const char *)sqlite3_column_text(st, 2), num[0], num[1], num[2], num[3], sup,
                (const char *)sqlite3_column_text(st, 7), sqlite3_column_double(st, 8),
                (const char *)sqlite3_column_text(st, 9), bound ? bound : "point",
                (const char *)sqlite3_column_text(st, 10),
                (const char *)sqlite3_column_text(st, 11),
                base ? base + 1 : origin ? origin : "-",
                (long long)sqlite3_column_int64(st, 15), note ? note : "");
        count++;
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading baselines");
    fprintf(f, "%zu baseline%s\n", count, count == 1 ? "" : "s");
    if (n) *n = count;
    return 0;
}
