/*
 * db_baselines.c: recorded baselines in the results database — a
 * baselines YAML file or a CASA log turned into rows and stored through
 * results' res_report_baselines_replace (each file one IMMEDIATE
 * transaction that first removes an earlier import of the same file, so
 * nothing is half-imported and nothing duplicated), and the listing. The
 * baselines table has no columns for a record's origin, line, bound,
 * support or CASA parameters; they go into the note column as a JSON
 * object (see reports.h).
 */
#include "reports/rep_internal.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The canonical origin of a file: its real path (so a re-import from
 * another directory still replaces). */
static int origin_of(ib_err *e, const char *path, char *out)
{
    if (!realpath(path, out))
        return ib_error(e, IB_EIO, "cannot read '%s': %s", path, strerror(errno));
    return 0;
}

/* ---- YAML baselines ---------------------------------------------------- */

/* Free the strings of rows[0..n) we built (the array itself too). */
static void rows_free(res_baseline_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        ib_free(rows[i].dataset);
        ib_free(rows[i].system);
        ib_free(rows[i].metric);
        ib_free(rows[i].unit);
        ib_free(rows[i].source);
        ib_free(rows[i].label);
        free(rows[i].note); /* json_dumps */
    }
    ib_free(rows);
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = ib_strdup(s);
    if (!d) *oom = 1;
    return d;
}

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
    res_baseline_row *rows = ib_calloc(n ? n : 1, sizeof *rows);
    int oom = !rows;
    for (size_t i = 0; i < n && !oom; i++) {
        const rep_baseline *r = &b[i];
        json_t *note = json_pack("{s:s, s:I}", "origin", origin, "line", (json_int_t)r->line);
        if (!note) {
            oom = 1;
            break;
        }
        if (r->note) json_object_set_new(note, "note", json_string(r->note));
        if (r->bound != REP_BOUND_POINT)
            json_object_set_new(note, "bound", json_string(rep_bound_name(r->bound)));
        if (r->support > 0) json_object_set_new(note, "support", json_integer(r->support));
        if (r->source) json_object_set_new(note, "source_name", json_string(r->source));
        res_baseline_row *w = &rows[i];
        w->note = json_dumps(note, JSON_COMPACT);
        json_decref(note);
        w->dataset = dup_or_null(r->dataset ? r->dataset : "", &oom);
        w->system = dup_or_null(r->system, &oom);
        w->nodes = r->nodes;
        w->cores = r->cores;
        w->threads = r->threads;
        w->chunks = r->chunks;
        w->metric = dup_or_null(r->metric, &oom);
        w->value = r->value;
        w->unit = dup_or_null(r->unit, &oom);
        w->source = dup_or_null(r->source && strcmp(r->source, "seed-study") == 0 ? "seed-study"
                                                                                  : "manual",
                                &oom);
        w->label = dup_or_null(rep_label_name(r->label), &oom);
        w->line = r->line;
        if (!w->note) oom = 1;
    }
    if (oom) rc = ib_error(e, IB_ENOMEM, "out of memory importing '%s'", path);
    if (!rc) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "baselines '%s'", path);
        rc = res_report_baselines_replace(e, db, origin, what, rows, n, &stats.replaced);
        if (!rc) stats.stored = n;
    }
    rows_free(rows, n);
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
    res_baseline_row *rows = ib_calloc(nok, sizeof *rows);
    size_t k = 0;
    int oom = !rows;
    for (size_t i = 0; i < log.ntasks && !oom; i++) {
        const rep_casa_task *t = &log.tasks[i];
        if (t->status != REP_TASK_OK) {
            stats.skipped++;
            if (o->log)
                fprintf(o->log, "casa log '%s' line %ld: skipped failed tclean task #%zu: %s\n",
                        path, t->begin_line, t->index, t->failure ? t->failure : "failed");
            continue;
        }
        json_t *note = casa_note(origin, &log, t);
        res_baseline_row *w = &rows[k++];
        w->note = note ? json_dumps(note, JSON_COMPACT) : NULL;
        json_decref(note);
        w->dataset = dup_or_null(o->dataset, &oom);
        w->system = dup_or_null(system, &oom);
        w->nodes = o->nodes;
        w->cores = o->cores;
        w->metric = dup_or_null("wall_time", &oom);
        w->value = t->duration_s;
        w->unit = dup_or_null("s", &oom);
        w->source = dup_or_null("casa-log", &oom);
        w->label = dup_or_null(o->label && *o->label ? o->label : "measured (casa log)", &oom);
        w->line = t->begin_line;
        if (!w->note) oom = 1;
    }
    if (oom) rc = ib_error(e, IB_ENOMEM, "out of memory importing '%s'", path);
    if (!rc) {
        char what[PATH_MAX + 32];
        snprintf(what, sizeof what, "casa log '%s'", path);
        rc = res_report_baselines_replace(e, db, origin, what, rows, k, &stats.replaced);
        if (!rc) stats.stored = k;
    }
    rows_free(rows, k);
    rep_casa_log_release(&log);
    if (!rc && out) *out = stats;
    return rc;
}

/* ---- listing ---------------------------------------------------------------- */

int rep_db_print_baselines(ib_err *e, res_db *db, const char *dataset, FILE *f, size_t *n)
{
    res_baseline_row *rows;
    size_t nr;
    int rc = res_report_baselines(e, db, dataset, 0, &rows, &nr);
    if (rc) return rc;
    fprintf(f, "%-5s %-11s %-16s %5s %5s %7s %6s %7s %-17s %10s %-4s %-5s %-10s %-22s %s\n",
            "id", "dataset", "system", "nodes", "cores", "threads", "chunks", "support",
            "metric", "value", "unit", "bound", "source", "label", "origin:line  note");
    for (size_t i = 0; i < nr; i++) {
        const res_baseline_row *b = &rows[i];
        rep__bnote nt;
        rep__bnote_parse(b, &nt);
        char num[5][16];
        const int v[5] = {b->nodes, b->cores, b->threads, b->chunks, nt.support};
        for (int q = 0; q < 5; q++) {
            if (v[q] > 0) snprintf(num[q], 16, "%d", v[q]);
            else snprintf(num[q], 16, "-");
        }
        const char *base = nt.origin[0] ? strrchr(nt.origin, '/') : NULL;
        fprintf(f, "%-5lld %-11s %-16s %5s %5s %7s %6s %7s %-17s %10.6g %-4s %-5s %-10s %-22s "
                   "%s:%ld  %.80s\n",
                (long long)b->id, b->dataset[0] ? b->dataset : "(any)", b->system, num[0],
                num[1], num[2], num[3], num[4], b->metric, b->value, b->unit ? b->unit : "",
                rep_bound_name(nt.bound), b->source ? b->source : "", b->label ? b->label : "",
                base ? base + 1 : nt.origin[0] ? nt.origin : "-", nt.line, nt.text);
    }
    fprintf(f, "%zu baseline%s\n", nr, nr == 1 ? "" : "s");
    if (n) *n = nr;
    res_baseline_rows_free(rows, nr);
    return 0;
}
