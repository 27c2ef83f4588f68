/*
 * rundata.c: reads one run of the results database into memory for the
 * report and `harness compare` — its provenance, its cells with every
 * successful attempt's metrics and phase times, what the first successful
 * stats record says about the data (rows, channels, image, padding, the
 * task file), and the warnings a reader must see (unavailable counters,
 * failed or timed-out attempts, refused values, thin repeats). Plain
 * SELECTs through res_sqlite(); nothing is written.
 */
#include "reports/rep_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int rep__sqlerr(ib_err *e, res_db *db, int rc, const char *what)
{
    int prim = rc & 0xff;
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return ib_error(e, IB_ELOCKED, "database '%s' is locked by another writer (while %s)",
                        res_path(db), what);
    if (prim == SQLITE_CONSTRAINT)
        return ib_error(e, IB_EINVAL, "database '%s': constraint failed while %s: %s",
                        res_path(db), what, sqlite3_errmsg(res_sqlite(db)));
    return ib_error(e, IB_EIO, "database '%s': %s failed: %s", res_path(db), what,
                    sqlite3_errmsg(res_sqlite(db)));
}

int rep__prepare(ib_err *e, res_db *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(res_sqlite(db), sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        *st = NULL;
        return rep__sqlerr(e, db, rc, "preparing a query");
    }
    return 0;
}

char *rep__coldup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? ib_strdup((const char *)t) : NULL;
}

/* ---- values --------------------------------------------------------- */

static void values_release(rep_values *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ib_free(v[i].name);
        ib_free(v[i].unit);
        ib_free(v[i].v);
    }
    ib_free(v);
}

/* The value set called name in *arr (created when missing). */
static rep_values *values_get(rep_values **arr, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*arr)[i].name, name) == 0) return &(*arr)[i];
    rep_values *na = ib_malloc((*n + 1) * sizeof *na);
    if (!na) return NULL;
    if (*n) memcpy(na, *arr, *n * sizeof *na);
    ib_free(*arr);
    *arr = na;
    rep_values *v = &na[*n];
    memset(v, 0, sizeof *v);
    v->name = ib_strdup(name);
    if (!v->name) return NULL;
    (*n)++;
    return v;
}

static int values_push(rep_values *v, double x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        double *nv = ib_malloc(cap * sizeof *nv);
        if (!nv) return IB_ENOMEM;
        if (v->n) memcpy(nv, v->v, v->n * sizeof *nv);
        ib_free(v->v);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

const rep_values *rep__metric(const rep_cell_data *c, const char *name)
{
    for (size_t i = 0; i < c->nmetrics; i++)
        if (strcmp(c->metrics[i].name, name) == 0 && c->metrics[i].n) return &c->metrics[i];
    return NULL;
}

const rep_values *rep__phase(const rep_cell_data *c, const char *name)
{
    for (size_t i = 0; i < c->nphases; i++)
        if (strcmp(c->phases[i].name, name) == 0 && c->phases[i].n) return &c->phases[i];
    return NULL;
}

double rep__vmedian(const rep_values *v)
{
    double m;
    if (!v || !v->n || rep_median(NULL, v->v, v->n, &m)) return NAN;
    return m;
}

/* The columns every cell has, then the parameters that are set only when
 * they differ from the defaults (so cells that differ there stay apart). */
void rep__cell_label(const rep_cell_data *c, char *buf, size_t n)
{
    static const char *const extra[] = {"row_chunks", "schedule",  "serial_write", "fsync",
                                        "gridder",    "weight",    "precision",    "mem_budget",
                                        "imager"};
    int k = snprintf(buf, n, "%s nodes=%d threads=%d chunks=%d support=%d", c->dataset, c->nodes,
                     c->threads, c->chunks, c->support);
    json_t *p = c->params ? json_loads(c->params, 0, NULL) : NULL;
    for (size_t i = 0; p && i < sizeof extra / sizeof *extra; i++) {
        json_t *v = json_object_get(p, extra[i]);
        size_t len = k < 0 ? n : (size_t)k;
        if (!v || len >= n) continue;
        if (json_is_string(v))
            k += snprintf(buf + len, n - len, " %s=%s", extra[i], json_string_value(v));
        else if (json_is_integer(v))
            k += snprintf(buf + len, n - len, " %s=%lld", extra[i],
                          (long long)json_integer_value(v));
    }
    json_decref(p);
}

/* ---- run ------------------------------------------------------------ */

void rep__run_release(rep_run_data *r)
{
    if (!r) return;
    char **s[] = {&r->suite, &r->suite_file, &r->suite_hash, &r->started, &r->ended,
                  &r->status, &r->command, &r->git_commit, &r->compiler, &r->cflags,
                  &r->host, &r->cpu, &r->kernel, &r->libs, &r->env, &r->tuning};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++) ib_free(*s[i]);
    for (size_t i = 0; i < r->ncells; i++) {
        rep_cell_data *c = &r->cells[i];
        ib_free(c->params);
        ib_free(c->source);
        ib_free(c->tasks_file);
        values_release(c->metrics, c->nmetrics);
        values_release(c->phases, c->nphases);
    }
    ib_free(r->cells);
    for (size_t i = 0; i < r->nwarnings; i++) ib_free(r->warnings[i]);
    ib_free(r->warnings);
    memset(r, 0, sizeof *r);
}

int rep__run_latest(ib_err *e, res_db *db, int64_t *run_id)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(e, db, "SELECT max(id) FROM runs", &st);
    if (rc) return rc;
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
        rc = rep__sqlerr(e, db, s, "finding the latest run");
    } else if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        rc = ib_error(e, IB_ENOTFOUND, "database '%s' has no runs (run `harness run-suite` "
                                       "first)", res_path(db));
    } else {
        *run_id = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    return rc;
}

static int warn(rep_run_data *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int warn(rep_run_data *r, const char *fmt, ...)
{
    rep__sb b = {0};
    va_list ap;
    va_start(ap, fmt);
    rep__sb_vprintf(&b, fmt, ap);
    va_end(ap);
    char **nw = b.oom ? NULL : ib_malloc((r->nwarnings + 1) * sizeof *nw);
    if (!nw) {
        rep__sb_release(&b);
        return IB_ENOMEM;
    }
    if (r->nwarnings) memcpy(nw, r->warnings, r->nwarnings * sizeof *nw);
    ib_free(r->warnings);
    r->warnings = nw;
    r->warnings[r->nwarnings++] = b.s ? b.s : ib_strdup("");
    return 0;
}

static rep_cell_data *cell_by_id(rep_run_data *r, int64_t id)
{
    size_t lo = 0, hi = r->ncells;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->cells[mid].id < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < r->ncells && r->cells[lo].id == id ? &r->cells[lo] : NULL;
}

static int load_info(ib_err *e, res_db *db, int64_t run_id, rep_run_data *r)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(e, db,
                          "SELECT suite, suite_file, suite_hash, started_at, ended_at, status,"
                          " command, git_commit, git_dirty, compiler, cflags, host, cpu_model,"
                          " cores, mem_bytes, kernel, libs, env, tuning FROM runs WHERE id = ?",
                          &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, run_id);
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
        sqlite3_finalize(st);
        return ib_error(e, IB_ENOTFOUND, "database '%s' has no run %lld (see `harness list`)",
                        res_path(db), (long long)run_id);
    }
    if (s != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rep__sqlerr(e, db, s, "reading the run");
    }
    r->id = run_id;
    r->suite = rep__coldup(st, 0);
    r->suite_file = rep__coldup(st, 1);
    r->suite_hash = rep__coldup(st, 2);
    r->started = rep__coldup(st, 3);
    r->ended = rep__coldup(st, 4);
    r->status = rep__coldup(st, 5);
    r->command = rep__coldup(st, 6);
    r->git_commit = rep__coldup(st, 7);
    r->git_dirty = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 8);
    r->compiler = rep__coldup(st, 9);
    r->cflags = rep__coldup(st, 10);
    r->host = rep__coldup(st, 11);
    r->cpu = rep__coldup(st, 12);
    r->cores = sqlite3_column_int(st, 13);
    r->mem_bytes = sqlite3_column_double(st, 14);
    r->kernel = rep__coldup(st, 15);
    r->libs = rep__coldup(st, 16);
    r->env = rep__coldup(st, 17);
    r->tuning = rep__coldup(st, 18);
    sqlite3_finalize(st);
    if (!r->suite) r->suite = ib_strdup("run");
    return r->suite ? 0 : ib_error(e, IB_ENOMEM, "out of memory reading run %lld",
                                   (long long)run_id);
}

static int load_cells(ib_err *e, res_db *db, rep_run_data *r)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(
        e, db,
        "SELECT c.id, c.hash, c.params, coalesce(c.dataset, ''), coalesce(c.gridder, ''),"
        " coalesce(c.weight, ''), coalesce(c.nodes, 0), coalesce(c.threads, 0),"
        " coalesce(c.chunks, 0), coalesce(c.support, 0), count(a.id),"
        " sum(a.status = 'ok') FROM cells c JOIN attempts a ON a.cell_id = c.id"
        " WHERE a.run_id = ? GROUP BY c.id ORDER BY c.id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    size_t cap = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (r->ncells == cap) {
            cap = cap ? cap * 2 : 32;
            rep_cell_data *nc = ib_calloc(cap, sizeof *nc);
            if (!nc) {
                sqlite3_finalize(st);
                return ib_error(e, IB_ENOMEM, "out of memory reading cells");
            }
            if (r->ncells) memcpy(nc, r->cells, r->ncells * sizeof *nc);
            ib_free(r->cells);
            r->cells = nc;
        }
        rep_cell_data *c = &r->cells[r->ncells++];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        snprintf(c->hash, sizeof c->hash, "%s",
                 sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "");
        c->params = rep__coldup(st, 2);
        snprintf(c->dataset, sizeof c->dataset, "%s", (const char *)sqlite3_column_text(st, 3));
        snprintf(c->gridder, sizeof c->gridder, "%s", (const char *)sqlite3_column_text(st, 4));
        snprintf(c->weight, sizeof c->weight, "%s", (const char *)sqlite3_column_text(st, 5));
        c->nodes = sqlite3_column_int(st, 6);
        c->threads = sqlite3_column_int(st, 7);
        c->chunks = sqlite3_column_int(st, 8);
        c->support = sqlite3_column_int(st, 9);
        c->attempts = (size_t)sqlite3_column_int64(st, 10);
        c->ok = (size_t)sqlite3_column_int64(st, 11);
        c->failed = c->attempts - c->ok;
        c->nrow = c->nchan = c->npol = c->nx = c->ny = c->padding = NAN;
        if (!c->params) {
            sqlite3_finalize(st);
            return ib_error(e, IB_ENOMEM, "out of memory reading cells");
        }
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading cells");
    return 0;
}

/* Rows of (cell_id, name, value, unit, better) into the cells' metric (or
 * phase, when phases) sets. */
static int load_values(ib_err *e, res_db *db, rep_run_data *r, const char *sql, int phases)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(e, db, sql, &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rep_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        const char *name = (const char *)sqlite3_column_text(st, 1);
        if (!c || !name || sqlite3_column_type(st, 2) == SQLITE_NULL) continue;
        double v = sqlite3_column_double(st, 2);
        if (!isfinite(v)) continue;
        rep_values *vs = phases ? values_get(&c->phases, &c->nphases, name)
                                : values_get(&c->metrics, &c->nmetrics, name);
        if (!vs || values_push(vs, v)) {
            sqlite3_finalize(st);
            return ib_error(e, IB_ENOMEM, "out of memory reading metrics");
        }
        const char *unit = (const char *)sqlite3_column_text(st, 3);
        const char *better = (const char *)sqlite3_column_text(st, 4);
        if (!vs->unit && unit) vs->unit = ib_strdup(unit);
        if (!vs->better_known && better) {
            vs->better_known = 1;
            vs->better = strcmp(better, "higher") == 0 ? REP_HIGHER_IS_BETTER
                                                       : REP_LOWER_IS_BETTER;
        }
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading metrics");
    return 0;
}

static int load_first_ok(ib_err *e, res_db *db, rep_run_data *r)
{
    sqlite3_stmt *st;
    int rc = rep__prepare(
        e, db,
        "SELECT cell_id, id, source, json_extract(s, '$.tasks_file'),"
        " json_extract(s, '$.dataset.nrow'), json_extract(s, '$.dataset.nchan'),"
        " json_extract(s, '$.dataset.npol'), json_extract(s, '$.params.image_nx'),"
        " json_extract(s, '$.params.image_ny'), json_extract(s, '$.params.padding'),"
        " json_extract(s, '$.params.psf'), json_extract(s, '$.params.gridder'),"
        " json_extract(s, '$.params.support'), json_extract(s, '$.params.ranks'),"
        " json_extract(s, '$.params.threads'), json_extract(s, '$.params.chunks')"
        " FROM (SELECT cell_id, id, source, repeat_index,"
        "  CASE WHEN json_valid(stats) THEN stats ELSE '{}' END AS s"
        "  FROM attempts WHERE run_id = ? AND status = 'ok')"
        " ORDER BY cell_id, repeat_index, id",
        &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        rep_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        if (!c || c->first_ok) continue;
        c->first_ok = sqlite3_column_int64(st, 1);
        c->source = rep__coldup(st, 2);
        c->tasks_file = rep__coldup(st, 3);
        double *d[] = {&c->nrow, &c->nchan, &c->npol, &c->nx, &c->ny, &c->padding};
        for (int k = 0; k < 6; k++)
            if (sqlite3_column_type(st, 4 + k) != SQLITE_NULL)
                *d[k] = sqlite3_column_double(st, 4 + k);
        c->psf = sqlite3_column_int(st, 10);
        /* parameters the cell did not record: take the imager's own */
        if (!c->gridder[0] && sqlite3_column_text(st, 11))
            snprintf(c->gridder, sizeof c->gridder, "%s",
                     (const char *)sqlite3_column_text(st, 11));
        if (!c->support) c->support = sqlite3_column_int(st, 12);
        if (!c->nodes) c->nodes = sqlite3_column_int(st, 13);
        if (!c->threads) c->threads = sqlite3_column_int(st, 14);
        if (!c->chunks) c->chunks = sqlite3_column_int(st, 15);
    }
    sqlite3_finalize(st);
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading stats records");
    return 0;
}

void rep__last_line(const char *tail, char *out, size_t n)
{
    out[0] = '\0';
    if (!tail) return;
    size_t len = strlen(tail);
    while (len && (tail[len - 1] == '\n' || tail[len - 1] == ' ' || tail[len - 1] == '\r'))
        len--;
    size_t start = len;
    while (start && tail[start - 1] != '\n') start--;
    size_t k = len - start;
    if (k > 200) {
        start = len - 200;
        k = 200;
    }
    snprintf(out, n, "%.*s", (int)k, tail + start);
}

static int load_warnings(ib_err *e, res_db *db, rep_run_data *r)
{
    int rc = 0;
    if (r->status && strcmp(r->status, "complete") != 0 &&
        warn(r, "run %lld has status '%s': its results may be partial", (long long)r->id,
             r->status))
        return ib_error(e, IB_ENOMEM, "out of memory");
    /* the machine handed freed memory back to its host while the run ran:
     * every process's first touch of memory may have been slow */
    json_t *tun = r->tuning ? json_loads(r->tuning, 0, NULL) : NULL;
    int reporting = json_is_true(json_object_get(tun, "free_page_reporting"));
    json_decref(tun);
    if (reporting &&
        warn(r, "free page reporting was on: this VM hands freed memory back to its host, so "
                "a process's first touch of memory can cost a host fault per page; MPI ranks, "
                "which start after mpirun and MPI_Init, pay it most (README, \"Measured on "
                "this machine\")"))
        return ib_error(e, IB_ENOMEM, "out of memory");
    sqlite3_stmt *st;
    /* counters: one line per source and reason, naming the events (the
     * imager gives each event its own "EVENT: reason") */
    rc = rep__prepare(e, db,
                      "SELECT source, txt, group_concat(DISTINCT nullif(name, '*')),"
                      " count(DISTINCT attempt_id),"
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
    int s;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        const char *src = (const char *)sqlite3_column_text(st, 0);
        const char *why = (const char *)sqlite3_column_text(st, 1);
        const char *raw = (const char *)sqlite3_column_text(st, 2);
        char names[700] = "";
        for (size_t k = 0, o = 0; raw && raw[k] && o + 3 < sizeof names; k++) {
            names[o++] = raw[k]; /* group_concat's "," as ", " */
            if (raw[k] == ',') names[o++] = ' ';
            names[o] = '\0';
        }
        long long n = sqlite3_column_int64(st, 3), avail = sqlite3_column_int64(st, 4);
        if (strcmp(src, "papi") == 0)
            rc = warn(r, "no hardware counters%s: PAPI reported '%s'%s%s (%lld attempt%s)",
                      avail ? " for some events" : "", why, names[0] ? " for " : "", names, n,
                      n == 1 ? "" : "s");
        else
            rc = warn(r, "software-defined counters unavailable: '%s'%s%s (%lld attempt%s)",
                      why, names[0] ? " for " : "", names, n, n == 1 ? "" : "s");
    }
    sqlite3_finalize(st);
    if (rc) return ib_error(e, IB_ENOMEM, "out of memory");
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading counters");
    /* attempts that did not succeed */
    rc = rep__prepare(e, db,
                      "SELECT cell_id, repeat_index, status, exit_code, signal, stderr_tail"
                      " FROM attempts WHERE run_id = ? AND status <> 'ok'"
                      " ORDER BY cell_id, repeat_index, id",
                      &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    size_t nbad = 0;
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW) {
        if (++nbad > 40) continue; /* counted, listed below */
        rep_cell_data *c = cell_by_id(r, sqlite3_column_int64(st, 0));
        char label[256] = "?", line[256];
        if (c) rep__cell_label(c, label, sizeof label);
        rep__last_line((const char *)sqlite3_column_text(st, 5), line, sizeof line);
        char code[64] = "";
        if (sqlite3_column_type(st, 4) != SQLITE_NULL && sqlite3_column_int(st, 4) > 0)
            snprintf(code, sizeof code, ", signal %d", sqlite3_column_int(st, 4));
        else if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            snprintf(code, sizeof code, ", exit %d", sqlite3_column_int(st, 3));
        rc = warn(r, "attempt %s (cell %lld: %s) repeat %d%s%s%s",
                  (const char *)sqlite3_column_text(st, 2),
                  (long long)sqlite3_column_int64(st, 0), label, sqlite3_column_int(st, 1),
                  code, line[0] ? ": " : "", line);
    }
    sqlite3_finalize(st);
    if (!rc && s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading attempts");
    if (!rc && nbad > 40) rc = warn(r, "... and %zu more unsuccessful attempts", nbad - 40);
    if (rc) return ib_error(e, IB_ENOMEM, "out of memory");
    /* refused values */
    rc = rep__prepare(e, db,
                      "SELECT m.name, m.reason, count(*) FROM metrics m JOIN attempts a"
                      " ON a.id = m.attempt_id WHERE a.run_id = ? AND m.value IS NULL"
                      " GROUP BY m.name, m.reason ORDER BY m.name",
                      &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, r->id);
    while (!rc && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = warn(r, "metric '%s' not stored in %lld attempt(s): %s",
                  (const char *)sqlite3_column_text(st, 0), (long long)sqlite3_column_int64(st, 2),
                  sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "?");
    sqlite3_finalize(st);
    if (rc) return ib_error(e, IB_ENOMEM, "out of memory");
    if (s != SQLITE_DONE) return rep__sqlerr(e, db, s, "reading refused metrics");
    /* thin repeats: cells without a success one by one, the rest in one line */
    rep__sb thin = {0};
    size_t nthin = 0, minok = (size_t)-1;
    for (size_t i = 0; i < r->ncells && !rc; i++) {
        rep_cell_data *c = &r->cells[i];
        char label[256];
        rep__cell_label(c, label, sizeof label);
        if (c->ok == 0) {
            rc = warn(r, "cell %lld (%s): no successful attempt, left out of every figure",
                      (long long)c->id, label);
        } else if (c->ok < 3) {
            rep__sb_printf(&thin, "%s%lld", nthin ? ", " : "", (long long)c->id);
            nthin++;
            minok = c->ok < minok ? c->ok : minok;
        }
    }
    if (!rc && nthin)
        rc = warn(r, "%zu cell%s with fewer than 3 successful repeats (as few as %zu): their "
                     "error bars and tests are not meaningful (cell%s %.800s)",
                  nthin, nthin == 1 ? "" : "s", minok, nthin == 1 ? "" : "s",
                  rep__sb_str(&thin));
    if (thin.oom) rc = IB_ENOMEM;
    rep__sb_release(&thin);
    return rc ? ib_error(e, IB_ENOMEM, "out of memory") : 0;
}

int rep__run_load(ib_err *e, res_db *db, int64_t run_id, rep_run_data *out)
{
    memset(out, 0, sizeof *out);
    int rc = load_info(e, db, run_id, out);
    if (!rc) rc = load_cells(e, db, out);
    if (!rc)
        rc = load_values(e, db, out,
                         "SELECT a.cell_id, m.name, m.value, m.unit, m.better FROM metrics m"
                         " JOIN attempts a ON a.id = m.attempt_id"
                         " WHERE a.run_id = ? AND a.status = 'ok' AND m.value IS NOT NULL"
                         " ORDER BY a.cell_id, a.repeat_index, a.id, m.id",
                         0);
    /* the comm table, for attempts whose stats had no comm metrics */
    if (!rc)
        rc = load_values(e, db, out,
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
                         "  AND m.name = 'comm_time') GROUP BY a.id",
                         0);
    if (!rc)
        rc = load_values(e, db, out,
                         "SELECT a.cell_id, p.phase, sum(p.wall_s), 's', 'lower' FROM phases p"
                         " JOIN attempts a ON a.id = p.attempt_id"
                         " WHERE a.run_id = ? AND a.status = 'ok' AND p.wall_s IS NOT NULL"
                         " GROUP BY a.id, p.phase ORDER BY a.cell_id, a.repeat_index, a.id",
                         1);
    if (!rc) rc = load_first_ok(e, db, out);
    if (!rc) rc = load_warnings(e, db, out);
    return rc;
}
