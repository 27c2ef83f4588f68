/*
 * report_data.c: the queries behind `harness report`, `harness compare` and
 * `harness bench` — one run read into memory (provenance, cells, the
 * metrics, phase thread-seconds and per-rank loads of every successful
 * attempt, what the first stats record says of the data, the counters it
 * could not read, unsuccessful attempts, refused values), the latest run,
 * and an attempt's task events. Plain SELECTs: nothing is written.
 */
#include "results/res_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Column i as a heap string (ib_free), NULL for SQL NULL. *oom is set when
 * a non-NULL value could not be copied. */
static char *coldup(sqlite3_stmt *st, int i, int *oom)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t) return NULL;
    char *s = ib_strdup((const char *)t);
    if (!s) *oom = 1;
    return s;
}

static void colcpy(sqlite3_stmt *st, int i, char *out, size_t n)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(out, n, "%s", t ? (const char *)t : "");
}

static double coldbl(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Grow *arr (elements of size sz) so that one more fits. */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 16, bytes;
    if (ib_mul_size(c, sz, &bytes)) return IB_EOVERFLOW;
    char *na = ib_malloc(bytes);
    if (!na) return IB_ENOMEM;
    if (n) memcpy(na, *arr, n * sz);
    ib_free(*arr);
    *arr = na;
    *cap = c;
    return 0;
}

/* ---- the latest run ------------------------------------------------------ */

int res_report_latest_run(ib_err *e, res_db *db, const char *suite, int64_t *run_id)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db, "SELECT max(id) FROM runs WHERE ?1 IS NULL OR suite = ?1", &st);
    if (rc) return rc;
    res__bind_text(st, 1, suite);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW)
        rc = res__sqlerr(e, db, s, "finding the latest run");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL && suite)
        rc = ib_error(e, IB_ENOTFOUND, "database '%s' has no run of suite '%s'", res_path(db),
                      suite);
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        rc = ib_error(e, IB_ENOTFOUND, "database '%s' has no runs (run `harness run-suite` "
                                       "first)", res_path(db));
    else
        *run_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

int res_report_runs(ib_err *e, res_db *db, int64_t **ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *st;
    int rc = res__prepare(e, db, "SELECT id FROM runs ORDER BY id DESC", &st);
    if (rc) return rc;
    int64_t *v = NULL;
    size_t k = 0, cap = 0;
    int s = SQLITE_DONE;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = v;
        if (grow(&arr, k, &cap, sizeof *v)) {
            sqlite3_finalize(st);
            ib_free(v);
            return ib_error(e, IB_ENOMEM, "out of memory reading runs");
        }
        v = arr;
        v[k++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) {
        ib_free(v);
        return res__sqlerr(e, db, s, "reading runs");
    }
    *ids = v;
    *n = k;
    return 0;
}

/* ---- values ---------------------------------------------------------------- */

static void values_release(res_values *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ib_free(v[i].name);
        ib_free(v[i].unit);
        ib_free(v[i].v);
    }
    ib_free(v);
}

/* The value set called name in *arr (appended when missing); NULL: no memory. */
static res_values *values_get(res_values **arr, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*arr)[i].name, name) == 0) return &(*arr)[i];
    res_values *na = ib_malloc((*n + 1) * sizeof *na);
    if (!na) return NULL;
    if (*n) memcpy(na, *arr, *n * sizeof *na);
    ib_free(*arr);
    *arr = na;
    res_values *v = &na[*n];
    memset(v, 0, sizeof *v);
    v->name = ib_strdup(name);
    if (!v->name) return NULL;
    (*n)++;
    return v;
}

static int values_push(res_values *v, double x)
{
    void *arr = v->v;
    int rc = grow(&arr, v->n, &v->cap, sizeof *v->v);
    v->v = arr;
    if (rc) return rc;
    v->v[v->n++] = x;
    return 0;
}

/* ---- run --------------------------------------------------------------------- */

void res_report_run_release(res_run_data *r)
{
    if (!r) return;
    char **s[] = {&r->suite, &r->suite_file, &r->suite_hash, &r->started, &r->ended,
                  &r->status, &r->command, &r->git_commit, &r->compiler, &r->cflags,
                  &r->host, &r->cpu, &r->kernel, &r->libs, &r->env, &r->tuning};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) ib_free(*s[i]);
    for (size_t i = 0; i < r->ncells; i++) {
        res_cell_data *c = &r->cells[i];
        ib_free(c->params);
        ib_free(c->source);
        ib_free(c->tasks_file);
        ib_free(c->ranks);
        values_release(c->metrics, c->nmetrics);
        values_release(c->phases, c->nphases);
    }
    ib_free(r->cells);
    for (size_t i = 0; i < r->ncounters; i++) {
        ib_free(r->counters[i].source);
        ib_free(r->counters[i].reason);
        ib_free(r->counters[i].names);
    }
    ib_free(r->counters);
    for (size_t i = 0; i < r->nbad; i++) {
        ib_free(r->bad[i].status);
        ib_free(r->bad[i].stderr_tail);
    }
    ib_free(r->bad);
    for (size_t i = 0; i < r->nrefused; i++) {
        ib_free(r->refused[i].name);
        ib_free(r->refused[i].reason);
    }
    ib_free(r->refused);
    memset(r, 0, sizeof *r);
}

static res_cell_data *cell_by_id(res_run_data *r, int64_t id)
{
    size_t lo = 0, hi = r->ncells;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->cells[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < r->ncells && r->cells[lo].id == id ? &r->cells[lo] : NULL;
}

static int oom(ib_err *e, const char *what)
{
    return ib_error(e, IB_ENOMEM, "out of memory reading %s", what);
}

static int load_info(ib_err *e, res_db *db, int64_t run_id, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT suite, suite_file, suite_hash, started_at, ended_at, status,"
                          " command, git_commit, git_dirty, compiler, cflags, host, cpu_model,"
                          " cores, mem_bytes, kernel, libs, env, tuning FROM runs WHERE id = ?",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (s == SQLITE_DONE)
            return ib_error(e, IB_ENOTFOUND, "database '%s' has no run %lld (see `harness "
                                             "list`)",
                            res_path(db), (long long)run_id);
        return res__sqlerr(e, db, s, "reading the run");
    }
    int nomem = 0;
    r->id = run_id;
    char **text[] = {&r->suite, &r->suite_file, &r->suite_hash, &r->started, &r->ended,
                     &r->status, &r->command, &r->git_commit};
    for (int k = 0; k < 8; k++) *text[k] = coldup(st, k, &nomem);
    r->git_dirty = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 8);
    r->compiler = coldup(st, 9, &nomem);
    r->cflags = coldup(st, 10, &nomem);
    r->host = coldup(st, 11, &nomem);
    r->cpu = coldup(st, 12, &nomem);
    r->cores = sqlite3_column_int(st, 13);
    r->mem_bytes = sqlite3_column_double(st, 14);
    r->kernel = coldup(st, 15, &nomem);
    r->libs = coldup(st, 16, &nomem);
    r->env = coldup(st, 17, &nomem);
    r->tuning = coldup(st, 18, &nomem);
    sqlite3_finalize(st);
    if (!r->suite && !nomem) r->suite = ib_strdup("run");
    return nomem || !r->suite ? oom(e, "the run") : 0;
}

static int load_cells(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(
        e, db,
        "SELECT c.id, c.hash, c.params, coalesce(c.dataset, ''), coalesce(c.gridder, ''),"
        " coalesce(c.weight, ''), coalesce(c.nodes, 0), coalesce(c.threads, 0),"
        " coalesce(c.chunks, 0), coalesce(c.support, 0), count(a.id),"
        " sum(a.status = 'ok'), coalesce(c.scale, json_extract(CASE WHEN json_valid(c.params)"
        " THEN c.params END, '$.scale')), coalesce(c.times, 0), coalesce(c.chans, 0)"
        " FROM cells c JOIN attempts a ON a.cell_id = c.id"
        " WHERE a.run_id = ? GROUP BY c.id ORDER BY c.id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    size_t cap = 0;
    int s = SQLITE_DONE, nomem = 0;
    while (!nomem && (s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = r->cells;
        if (grow(&arr, r->ncells, &cap, sizeof *r->cells)) {
            nomem = 1;
            break;
        }
        r->cells = arr;
        res_cell_data *c = &r->cells[r->ncells++];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        colcpy(st, 1, c->hash, sizeof c->hash);
        c->params = coldup(st, 2, &nomem);
        if (!c->params && !nomem) c->params = ib_strdup("{}");
        if (!c->params) nomem = 1;
        colcpy(st, 3, c->dataset, sizeof c->dataset);
        colcpy(st, 4, c->gridder, sizeof c->gridder);
        colcpy(st, 5, c->weight, sizeof c->weight);
        c->nodes = sqlite3_column_int(st, 6);
        c->threads = sqlite3_column_int(st, 7);
        c->chunks = sqlite3_column_int(st, 8);
        c->support = sqlite3_column_int(st, 9);
        c->attempts = (size_t)sqlite3_column_int64(st, 10);
        c->ok = (size_t)sqlite3_column_int64(st, 11);
        c->failed = c->attempts - c->ok;
        c->scale = coldbl(st, 12);
        c->times = sqlite3_column_int(st, 13);
        c->chans = sqlite3_column_int(st, 14);
        c->nrow = c->nchan = c->npol = c->nfield = c->nx = c->ny = c->padding = c->planes = NAN;
        c->mosaic_support = NAN;
    }
    sqlite3_finalize(st);
    if (nomem) return oom(e, "cells");
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading cells");
}

/* Rows of (cell_id, name, value, unit, better) into the cells' metric (or
 * phase, when phases) sets. */
static int load_values(ib_err *e, res_db *db, res_run_data *r, const char *sql, int phases)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        res_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        const char *name = (const char *)sqlite3_column_text(st, 1);
        double v = coldbl(st, 2);
        if (!c || !name || !isfinite(v)) continue;
        res_values *vs = phases ? values_get(&c->phases, &c->nphases, name)
                                : values_get(&c->metrics, &c->nmetrics, name);
        if (!vs || values_push(vs, v)) {
            sqlite3_finalize(st);
            return oom(e, "metrics");
        }
        const char *unit = (const char *)sqlite3_column_text(st, 3);
        const char *better = (const char *)sqlite3_column_text(st, 4);
        if (!vs->unit && unit) vs->unit = ib_strdup(unit);
        if (!vs->better_known && better) {
            vs->better_known = 1;
            vs->higher_better = strcmp(better, "higher") == 0;
        }
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading metrics");
}

static const char metrics_sql[] =
    "SELECT a.cell_id, m.name, m.value, m.unit, m.better FROM metrics m"
    " JOIN attempts a ON a.id = m.attempt_id"
    " WHERE a.run_id = ? AND a.status = 'ok' AND m.value IS NOT NULL"
    " ORDER BY a.cell_id, a.repeat_index, a.id, m.id";

/* The comm table, for attempts whose stats had no comm metrics. */
static const char comm_sql[] =
    "SELECT a.cell_id, 'comm_bytes', sum(cm.bytes), 'bytes', 'lower'"
    " FROM comm cm JOIN attempts a ON a.id = cm.attempt_id"
    " WHERE a.run_id = ?1 AND a.status = 'ok' AND NOT EXISTS"
    " (SELECT 1 FROM metrics m WHERE m.attempt_id = a.id"
    "  AND m.name = 'comm_bytes') GROUP BY a.id"
    " UNION ALL "
    "SELECT a.cell_id, 'comm_time', sum(cm.seconds), 's', 'lower'"
    " FROM comm cm JOIN attempts a ON a.id = cm.attempt_id"
    " WHERE a.run_id = ?1 AND a.status = 'ok' AND NOT EXISTS"
    " (SELECT 1 FROM metrics m WHERE m.attempt_id = a.id"
    "  AND m.name = 'comm_time') GROUP BY a.id";

static const char phases_sql[] =
    "SELECT a.cell_id, p.phase, sum(p.wall_s), 's', 'lower' FROM phases p"
    " JOIN attempts a ON a.id = p.attempt_id"
    " WHERE a.run_id = ? AND a.status = 'ok' AND p.wall_s IS NOT NULL"
    " GROUP BY a.id, p.phase ORDER BY a.cell_id, a.repeat_index, a.id";

static int load_first_ok(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(
        e, db,
        "SELECT cell_id, id, source, json_extract(s, '$.tasks_file'),"
        " json_extract(s, '$.dataset.nrow'), json_extract(s, '$.dataset.nchan'),"
        " json_extract(s, '$.dataset.npol'), json_extract(s, '$.dataset.nfield'),"
        " json_extract(s, '$.params.image_nx'), json_extract(s, '$.params.image_ny'),"
        " json_extract(s, '$.params.padding'), json_extract(s, '$.mosaic.support'),"
        " json_extract(s, '$.params.psf'), json_extract(s, '$.params.gridder'),"
        " json_extract(s, '$.params.support'), json_extract(s, '$.params.ranks'),"
        " json_extract(s, '$.params.threads'), json_extract(s, '$.params.chunks'),"
        " json_extract(s, '$.params.planes')"
        " FROM (SELECT cell_id, id, source, repeat_index,"
        "  CASE WHEN json_valid(stats) THEN stats ELSE '{}' END AS s"
        "  FROM attempts WHERE run_id = ? AND status = 'ok')"
        " ORDER BY cell_id, repeat_index, id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE, nomem = 0;
    while (!nomem && (s = sqlite3_step(st)) == SQLITE_ROW) {
        res_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        if (!c || c->first_ok) continue;
        c->first_ok = sqlite3_column_int64(st, 1);
        c->source = coldup(st, 2, &nomem);
        c->tasks_file = coldup(st, 3, &nomem);
        double *d[] = {&c->nrow, &c->nchan, &c->npol, &c->nfield, &c->nx,
                       &c->ny,   &c->padding, &c->mosaic_support};
        for (int k = 0; k < 8; k++) *d[k] = coldbl(st, 4 + k);
        c->psf = sqlite3_column_int(st, 12);
        /* parameters the cell did not record: the imager's own */
        if (!c->gridder[0]) colcpy(st, 13, c->gridder, sizeof c->gridder);
        if (!c->support) c->support = sqlite3_column_int(st, 14);
        if (!c->nodes) c->nodes = sqlite3_column_int(st, 15);
        if (!c->threads) c->threads = sqlite3_column_int(st, 16);
        if (!c->chunks) c->chunks = sqlite3_column_int(st, 17);
        c->planes = coldbl(st, 18);
    }
    sqlite3_finalize(st);
    if (nomem) return oom(e, "stats records");
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading stats records");
}

/* Per-rank loads from the stats' per_rank arrays. */
static int load_ranks(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(
        e, db,
        "SELECT a.cell_id, a.id, json_extract(x.value, '$.rank'),"
        " json_extract(x.value, '$.threads'), json_extract(x.value, '$.wall_s'),"
        " json_extract(x.value, '$.setup_s'), json_extract(x.value, '$.busy_s')"
        " FROM attempts a, json_each(CASE WHEN json_valid(a.stats) THEN a.stats ELSE '{}'"
        " END, '$.per_rank') x WHERE a.run_id = ? AND a.status = 'ok'"
        " ORDER BY a.cell_id, a.repeat_index, a.id, 3",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE;
    res_cell_data *prev = NULL;
    int64_t prev_attempt = 0;
    size_t attempt = 0, cap = 0;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        res_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        if (!c) continue;
        int64_t aid = sqlite3_column_int64(st, 1);
        if (c != prev) {
            prev = c;
            attempt = 0;
            cap = 0;
        } else if (aid != prev_attempt) {
            attempt++;
        }
        prev_attempt = aid;
        void *arr = c->ranks;
        if (grow(&arr, c->nranks, &cap, sizeof *c->ranks)) {
            sqlite3_finalize(st);
            return oom(e, "per-rank loads");
        }
        c->ranks = arr;
        res_rank_load *l = &c->ranks[c->nranks++];
        l->attempt = attempt;
        l->rank = sqlite3_column_int(st, 2);
        l->threads = sqlite3_column_int(st, 3);
        l->wall_s = coldbl(st, 4);
        l->setup_s = coldbl(st, 5);
        l->busy_s = coldbl(st, 6);
    }
    sqlite3_finalize(st);
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading per-rank loads");
}

/* Counters that could not be read: one row per source and reason, naming
 * the events (the imager gives each event its own "EVENT: reason"). */
static int load_counters(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT source, txt, coalesce(group_concat(DISTINCT nullif(name, "
                          "'*')), ''), count(DISTINCT attempt_id),"
                          " (SELECT count(*) FROM counters c2 JOIN attempts a2"
                          "   ON a2.id = c2.attempt_id WHERE a2.run_id = ?1"
                          "   AND c2.source = x.source AND c2.available = 1)"
                          " FROM (SELECT c.source, c.name, c.attempt_id,"
                          "   CASE WHEN c.reason LIKE c.name || ': %'"
                          "     THEN substr(c.reason, length(c.name) + 3)"
                          "     ELSE coalesce(c.reason, 'unavailable') END AS txt"
                          "   FROM counters c JOIN attempts a ON a.id = c.attempt_id"
                          "   WHERE a.run_id = ?1 AND c.available = 0 AND a.status = 'ok') x"
                          " GROUP BY source, txt ORDER BY source, txt",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE, nomem = 0;
    size_t cap = 0;
    while (!nomem && (s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = r->counters;
        if (grow(&arr, r->ncounters, &cap, sizeof *r->counters)) {
            nomem = 1;
            break;
        }
        r->counters = arr;
        res_counter_note *n = &r->counters[r->ncounters++];
        memset(n, 0, sizeof *n);
        n->source = coldup(st, 0, &nomem);
        n->reason = coldup(st, 1, &nomem);
        n->names = coldup(st, 2, &nomem);
        n->attempts = sqlite3_column_int64(st, 3);
        n->available = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    if (nomem) return oom(e, "counters");
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading counters");
}

static int load_bad(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT cell_id, repeat_index, status, exit_code, signal, stderr_tail"
                          " FROM attempts WHERE run_id = ? AND status <> 'ok'"
                          " ORDER BY cell_id, repeat_index, id",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE, nomem = 0;
    size_t cap = 0;
    while (!nomem && (s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = r->bad;
        if (grow(&arr, r->nbad, &cap, sizeof *r->bad)) {
            nomem = 1;
            break;
        }
        r->bad = arr;
        res_bad_attempt *b = &r->bad[r->nbad++];
        memset(b, 0, sizeof *b);
        b->cell_id = sqlite3_column_int64(st, 0);
        b->repeat = sqlite3_column_int(st, 1);
        b->status = coldup(st, 2, &nomem);
        b->has_exit = sqlite3_column_type(st, 3) != SQLITE_NULL;
        b->exit_code = sqlite3_column_int(st, 3);
        b->signal = sqlite3_column_int(st, 4);
        b->stderr_tail = coldup(st, 5, &nomem);
        if (!b->status && !nomem) b->status = ib_strdup("?");
        if (!b->status) nomem = 1;
    }
    sqlite3_finalize(st);
    if (nomem) return oom(e, "attempts");
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading attempts");
}

static int load_refused(ib_err *e, res_db *db, res_run_data *r)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT m.name, coalesce(m.reason, '?'), count(*) FROM metrics m"
                          " JOIN attempts a ON a.id = m.attempt_id WHERE a.run_id = ?"
                          " AND m.value IS NULL GROUP BY m.name, m.reason ORDER BY m.name",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s = SQLITE_DONE, nomem = 0;
    size_t cap = 0;
    while (!nomem && (s = sqlite3_step(st)) == SQLITE_ROW) {
        void *arr = r->refused;
        if (grow(&arr, r->nrefused, &cap, sizeof *r->refused)) {
            nomem = 1;
            break;
        }
        r->refused = arr;
        res_refused *f = &r->refused[r->nrefused++];
        f->name = coldup(st, 0, &nomem);
        f->reason = coldup(st, 1, &nomem);
        f->count = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (nomem) return oom(e, "refused metrics");
    return s == SQLITE_DONE ? 0 : res__sqlerr(e, db, s, "reading refused metrics");
}

int res_report_run_load(ib_err *e, res_db *db, int64_t run_id, res_run_data *out)
{
    memset(out, 0, sizeof *out);
    int rc = load_info(e, db, run_id, out);
    if (!rc) rc = load_cells(e, db, out);
    if (!rc) rc = load_values(e, db, out, metrics_sql, 0);
    if (!rc) rc = load_values(e, db, out, comm_sql, 0);
    if (!rc) rc = load_values(e, db, out, phases_sql, 1);
    if (!rc) rc = load_first_ok(e, db, out);
    if (!rc) rc = load_ranks(e, db, out);
    if (!rc) rc = load_counters(e, db, out);
    if (!rc) rc = load_bad(e, db, out);
    if (!rc) rc = load_refused(e, db, out);
    return rc;
}

/* ---- task events ------------------------------------------------------------- */

int res__read_tasks(ib_err *e, res_db *db, sqlite3_stmt *st, size_t max, res_task **out,
                    size_t *n, int *truncated, const char *what)
{
    res_task *t = NULL;
    size_t cap = 0, k = 0;
    int s = SQLITE_DONE;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (k >= max) {
            *truncated = 1;
            break;
        }
        void *arr = t;
        if (grow(&arr, k, &cap, sizeof *t)) {
            sqlite3_finalize(st);
            ib_free(t);
            return ib_error(e, IB_ENOMEM, "out of memory reading %s", what);
        }
        t = arr;
        res_task *x = &t[k++];
        x->rank = sqlite3_column_int(st, 0);
        x->thread = sqlite3_column_int(st, 1);
        x->chunk = sqlite3_column_int(st, 2);
        x->chan = sqlite3_column_int(st, 3);
        colcpy(st, 4, x->phase, sizeof x->phase);
        x->start = sqlite3_column_double(st, 5);
        x->end = sqlite3_column_double(st, 6);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE && s != SQLITE_ROW) {
        ib_free(t);
        char doing[128];
        snprintf(doing, sizeof doing, "reading %s", what);
        return res__sqlerr(e, db, s, doing);
    }
    *out = t;
    *n = k;
    return 0;
}

int res_report_tasks(ib_err *e, res_db *db, int64_t attempt, size_t max, res_task **out,
                     size_t *n, int *truncated)
{
    *out = NULL;
    *n = 0;
    *truncated = 0;
    sqlite3_stmt *st;
    int rc = res__prepare(e, db,
                          "SELECT coalesce(rank, 0), coalesce(thread, 0), coalesce(chunk, -1),"
                          " coalesce(chan, -1), coalesce(phase, 'other'), start_s, end_s"
                          " FROM tasks WHERE attempt_id = ? AND start_s IS NOT NULL"
                          " AND end_s IS NOT NULL ORDER BY start_s, id",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, attempt);
    return res__read_tasks(e, db, st, max, out, n, truncated, "tasks");
}

int res_report_task_count(ib_err *e, res_db *db, int64_t attempt, size_t *n)
{
    sqlite3_stmt *st;
    int rc = res__prepare(e, db, "SELECT count(*) FROM tasks WHERE attempt_id = ?", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, attempt);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) *n = (size_t)sqlite3_column_int64(st, 0);
    else rc = res__sqlerr(e, db, s, "counting tasks");
    sqlite3_finalize(st);
    return rc;
}
