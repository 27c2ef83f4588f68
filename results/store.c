/*
 * store.c: writing runs, cells and attempts, and ingesting the imager's
 * stats record (docs/interfaces.md) into metrics, phases and counters.
 * Each public function here is one IMMEDIATE transaction: a process killed
 * between two calls loses nothing the first one committed.
 */
#include "results/res_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- runs ------------------------------------------------------------ */

/* Insert a run row (status 'running', started now) inside the caller's
 * transaction. */
static int insert_run(ib_err *e, res_db *db, const char *suite, const char *suite_file,
                      const char *suite_hash, const char *source_key, const res_provenance *p,
                      int64_t *run_id)
{
    static const char sql[] =
        "INSERT INTO runs(suite, suite_file, suite_hash, started_at, status, command,"
        " git_commit, git_dirty, compiler, cflags, host, cpu_model, cores, mem_bytes,"
        " kernel, libs, env, tuning, source_key)"
        " VALUES(?,?,?,?,'running',?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    sqlite3_stmt *st;
    int r = res__prepare(e, db, sql, &st);
    if (r) return r;
    char ts[40];
    res_timestamp(ts, sizeof ts);
    res__bind_text(st, 1, suite);
    res__bind_text(st, 2, suite_file);
    res__bind_text(st, 3, suite_hash);
    res__bind_text(st, 4, ts);
#define TXT(i, f) res__bind_text(st, i, p && p->f[0] ? p->f : NULL)
    TXT(5, command);
    TXT(6, git_commit);
    if (p && p->git_dirty >= 0) sqlite3_bind_int(st, 7, p->git_dirty);
    TXT(8, compiler);
    TXT(9, cflags);
    TXT(10, host);
    TXT(11, cpu_model);
    if (p && p->cores > 0) sqlite3_bind_int(st, 12, p->cores);
    if (p && p->mem_bytes > 0) sqlite3_bind_int64(st, 13, p->mem_bytes);
    TXT(14, kernel);
    TXT(15, libs);
    TXT(16, env);
    TXT(17, tuning);
#undef TXT
    res__bind_text(st, 18, source_key);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "starting a run");
    *run_id = sqlite3_last_insert_rowid(db->db);
    return 0;
}

int res_run_begin(ib_err *e, res_db *db, const char *suite, const char *suite_file,
                  const char *suite_hash, const res_provenance *p, int64_t *run_id)
{
    int r = res__begin(e, db);
    if (r) return r;
    r = insert_run(e, db, suite, suite_file, suite_hash, NULL, p, run_id);
    if (r) {
        res__rollback(db);
        return r;
    }
    return res__commit(e, db);
}

int res_run_for_source(ib_err *e, res_db *db, const char *key, const char *suite,
                       const char *suite_hash, const res_provenance *p, int create,
                       int64_t *run_id, int *created)
{
    *created = 0;
    int r = res__begin(e, db);
    if (r) return r;
    sqlite3_stmt *st;
    r = res__prepare(e, db, "SELECT id FROM runs WHERE source_key = ? AND suite = ?", &st);
    if (r) goto fail;
    res__bind_text(st, 1, key);
    res__bind_text(st, 2, suite);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "looking for the run of a directory");
        goto fail;
    }
    if (id) {
        r = res__prepare(e, db, "UPDATE runs SET status = 'running', ended_at = NULL"
                                " WHERE id = ?", &st);
        if (r) goto fail;
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) {
            r = res__sqlerr(e, db, rc, "continuing a run");
            goto fail;
        }
    } else if (!create) {
        res__rollback(db);
        return IB_ENOTFOUND;
    } else {
        r = insert_run(e, db, suite, NULL, suite_hash, key, p, &id);
        if (r) goto fail;
        *created = 1;
    }
    *run_id = id;
    return res__commit(e, db);
fail:
    res__rollback(db);
    return r;
}

int res_run_open_slots(ib_err *e, res_db *db, int64_t run_id, int *n)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT count(*) FROM (SELECT cell_id, repeat_index FROM attempts"
                         " WHERE run_id = ? GROUP BY cell_id, repeat_index"
                         " HAVING sum(status = 'ok') = 0 AND sum(status <> 'skipped') > 0)",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : res__sqlerr(e, db, rc, "counting a run's open slots");
}

int res_run_fill_provenance(ib_err *e, res_db *db, int64_t run_id, const res_provenance *p)
{
    static const char sql[] =
        "UPDATE runs SET git_commit = coalesce(git_commit, ?1),"
        " git_dirty = coalesce(git_dirty, ?2), compiler = coalesce(compiler, ?3),"
        " cflags = coalesce(cflags, ?4), host = coalesce(host, ?5),"
        " cpu_model = coalesce(cpu_model, ?6), cores = coalesce(cores, ?7),"
        " mem_bytes = coalesce(mem_bytes, ?8), kernel = coalesce(kernel, ?9),"
        " libs = coalesce(libs, ?10), env = coalesce(env, ?11),"
        " tuning = coalesce(tuning, ?12) WHERE id = ?13";
    int r = res__begin(e, db);
    if (r) return r;
    sqlite3_stmt *st;
    r = res__prepare(e, db, sql, &st);
    if (r) {
        res__rollback(db);
        return r;
    }
#define TXT(i, f) res__bind_text(st, i, p->f[0] ? p->f : NULL)
    TXT(1, git_commit);
    if (p->git_dirty >= 0) sqlite3_bind_int(st, 2, p->git_dirty);
    TXT(3, compiler);
    TXT(4, cflags);
    TXT(5, host);
    TXT(6, cpu_model);
    if (p->cores > 0) sqlite3_bind_int(st, 7, p->cores);
    if (p->mem_bytes > 0) sqlite3_bind_int64(st, 8, p->mem_bytes);
    TXT(9, kernel);
    TXT(10, libs);
    TXT(11, env);
    TXT(12, tuning);
#undef TXT
    sqlite3_bind_int64(st, 13, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "recording a run's provenance");
        res__rollback(db);
        return r;
    }
    return res__commit(e, db);
}

int res_run_resume(ib_err *e, res_db *db, const char *suite, int64_t *run_id)
{
    /* Not res_latest_run: a run killed before its first attempt recorded
     * nothing, and is still the one to continue. */
    int r = res__begin(e, db);
    if (r) return r;
    sqlite3_stmt *q;
    r = res__prepare(e, db, "SELECT max(id) FROM runs WHERE suite = ?", &q);
    if (r) goto fail;
    res__bind_text(q, 1, suite);
    int qrc = sqlite3_step(q);
    int64_t id = qrc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_finalize(q);
    if (qrc != SQLITE_ROW) {
        r = res__sqlerr(e, db, qrc, "looking for the run to continue");
        goto fail;
    }
    if (id <= 0) {
        res__rollback(db);
        return IB_ENOTFOUND;
    }
    *run_id = id;
    /* A complete run is resumed too: every cell then already has its
     * successful attempts, so resuming it runs nothing. */
    sqlite3_stmt *st;
    r = res__prepare(e, db,
                     "UPDATE runs SET status = 'running', ended_at = NULL"
                     " WHERE id = ? AND status <> 'complete'",
                     &st);
    if (r) goto fail;
    sqlite3_bind_int64(st, 1, *run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "continuing a run");
        goto fail;
    }
    return res__commit(e, db);
fail:
    res__rollback(db);
    return r;
}

int res_run_finish(ib_err *e, res_db *db, int64_t run_id, const char *status)
{
    int r = res__begin(e, db);
    if (r) return r;
    sqlite3_stmt *st;
    r = res__prepare(e, db, "UPDATE runs SET status = ?, ended_at = ? WHERE id = ?", &st);
    if (r) goto fail;
    char ts[40];
    res_timestamp(ts, sizeof ts);
    res__bind_text(st, 1, status);
    res__bind_text(st, 2, ts);
    sqlite3_bind_int64(st, 3, run_id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "finishing a run");
        goto fail;
    }
    if (sqlite3_changes(db->db) != 1) {
        r = ib_error(e, IB_ENOTFOUND, "database '%s' has no run %lld", db->path,
                     (long long)run_id);
        goto fail;
    }
    return res__commit(e, db);
fail:
    res__rollback(db);
    return r;
}

/* ---- cells ----------------------------------------------------------- */

static void bind_json_int(sqlite3_stmt *st, int i, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v)) sqlite3_bind_int64(st, i, json_integer_value(v));
    else if (json_is_real(v)) sqlite3_bind_int64(st, i, (sqlite3_int64)json_real_value(v));
}

static void bind_json_real(sqlite3_stmt *st, int i, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v)) res__bind_double(st, i, json_number_value(v));
}

static void bind_json_text(sqlite3_stmt *st, int i, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v)) res__bind_text(st, i, json_string_value(v));
}

int res_cell_put(ib_err *e, res_db *db, const char *hash, json_t *params, int64_t *cell_id)
{
    if (!json_is_object(params))
        return ib_error(e, IB_EINVAL, "cell '%s': parameters are not a JSON object", hash);
    char *text = json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text) return ib_error(e, IB_ENOMEM, "out of memory encoding cell '%s'", hash);
    int r = res__begin(e, db);
    if (r) {
        free(text);
        return r;
    }
    sqlite3_stmt *st;
    r = res__prepare(e, db, "SELECT id FROM cells WHERE hash = ?", &st);
    if (r) goto fail;
    res__bind_text(st, 1, hash);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *cell_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        free(text);
        return res__commit(e, db);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "looking up a cell");
        goto fail;
    }
    r = res__prepare(e, db,
                     "INSERT INTO cells(hash, params, dataset, dataset_key, scale, seed, chans,"
                     " times, image_nx, image_ny, chunks, nodes, threads, support, gridder,"
                     " weight, precision, mem_budget, padding)"
                     " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     &st);
    if (r) goto fail;
    res__bind_text(st, 1, hash);
    res__bind_text(st, 2, text);
    bind_json_text(st, 3, params, "dataset");
    bind_json_text(st, 4, params, "dataset_key");
    bind_json_real(st, 5, params, "scale");
    bind_json_int(st, 6, params, "seed");
    bind_json_int(st, 7, params, "chans");
    bind_json_int(st, 8, params, "times");
    const char *img = json_string_value(json_object_get(params, "image"));
    if (img) {
        long nx = 0, ny = 0;
        char x = 0;
        int n = sscanf(img, "%ld%c%ld", &nx, &x, &ny);
        if (n == 1) ny = nx;
        if (n == 1 || (n == 3 && x == 'x')) {
            sqlite3_bind_int64(st, 9, nx);
            sqlite3_bind_int64(st, 10, ny);
        }
    }
    bind_json_int(st, 11, params, "chunks");
    bind_json_int(st, 12, params, "nodes");
    bind_json_int(st, 13, params, "threads");
    bind_json_int(st, 14, params, "support");
    bind_json_text(st, 15, params, "gridder");
    bind_json_text(st, 16, params, "weight");
    bind_json_text(st, 17, params, "precision");
    bind_json_int(st, 18, params, "mem_budget");
    bind_json_real(st, 19, params, "padding");
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "inserting a cell");
        goto fail;
    }
    *cell_id = sqlite3_last_insert_rowid(db->db);
    free(text);
    return res__commit(e, db);
fail:
    free(text);
    res__rollback(db);
    return r;
}

int res_cell_ok_repeats(ib_err *e, res_db *db, int64_t run_id, int64_t cell_id, int nrep,
                        unsigned char *ok)
{
    memset(ok, 0, (size_t)(nrep > 0 ? nrep : 0));
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT DISTINCT repeat_index FROM attempts"
                         " WHERE run_id = ? AND cell_id = ? AND status = 'ok'",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, cell_id);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        if (k >= 0 && k < nrep) ok[k] = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return res__sqlerr(e, db, rc, "reading attempts");
    return 0;
}

int res_attempt_exists(ib_err *e, res_db *db, int64_t cell_id, int repeat,
                       const char *started_at, int *exists)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT count(*) FROM attempts WHERE cell_id = ? AND repeat_index = ?"
                         " AND started_at IS ?",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, cell_id);
    sqlite3_bind_int(st, 2, repeat);
    res__bind_text(st, 3, started_at);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *exists = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : res__sqlerr(e, db, rc, "reading attempts");
}

int res_attempt_exists_unstamped(ib_err *e, res_db *db, int64_t run_id, int64_t cell_id,
                                 int repeat, int *exists)
{
    sqlite3_stmt *st;
    int r = res__prepare(e, db,
                         "SELECT count(*) FROM attempts WHERE run_id = ? AND cell_id = ?"
                         " AND repeat_index = ? AND started_at IS NULL",
                         &st);
    if (r) return r;
    sqlite3_bind_int64(st, 1, run_id);
    sqlite3_bind_int64(st, 2, cell_id);
    sqlite3_bind_int(st, 3, repeat);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *exists = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : res__sqlerr(e, db, rc, "reading attempts");
}

/* ---- bounded JSON files ------------------------------------------------ */

int res_json_load(ib_err *e, const char *path, size_t max, json_t **out)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO planted in place of the file does not block the
     * open; it is then refused as not a regular file */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return ib_error(e, IB_ENOTFOUND, "'%s' does not exist", path);
        return ib_error(e, IB_EIO, "cannot open '%s': %s", path, strerror(err));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return ib_error(e, IB_EIO, "'%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max) {
        close(fd);
        return ib_error(e, IB_EOVERFLOW, "'%s' is %lld bytes, over the limit of %zu", path,
                        (long long)sb.st_size, max);
    }
    /* read at most max + 1 bytes: a file that grows meanwhile is still
     * refused, never read without end */
    size_t cap = (size_t)sb.st_size + 1 < max + 1 ? (size_t)sb.st_size + 1 : max + 1;
    char *buf = ib_malloc(cap + 1);
    if (!buf) {
        close(fd);
        return ib_error(e, IB_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, cap);
    }
    size_t len = 0;
    for (;;) {
        if (len == cap) break;
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int err = errno;
            close(fd);
            ib_free(buf);
            return ib_error(e, IB_EIO, "cannot read '%s': %s", path, strerror(err));
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    close(fd);
    if (len > max) {
        ib_free(buf);
        return ib_error(e, IB_EOVERFLOW, "'%s' is over the limit of %zu bytes", path, max);
    }
    json_error_t je;
    *out = json_loadb(buf, len, 0, &je);
    ib_free(buf);
    if (!*out)
        return ib_error(e, IB_EPARSE, "'%s' line %d: %s", path, je.line, je.text);
    return 0;
}

/* ---- attempts and what they measured --------------------------------- */

/* Prepared statements of one ingest. */
enum { ROWS_METRIC, ROWS_PHASE, ROWS_COUNTER, ROWS_COMM, NROWS };
static const char *const rows_table[NROWS] = {"metrics", "phases", "counters", "comm"};

#define MAX_WARNINGS 16

typedef struct ingest {
    res_db *db;
    int64_t attempt;
    const char *source;   /* the stats file, for files named relative to it */
    sqlite3_stmt *metric, *phase, *counter, *comm, *task;
    int limit_rows;       /* rows come from the stats record: RES_STATS_ROWS_MAX applies */
    long nrows[NROWS];    /* rows of the stats record per table */
    long dropped[NROWS];  /* rows past the limit */
    char warn[MAX_WARNINGS][600];
    int nwarn;
} ingest;

/* Keep a warning for the attempt's warning rows ("what: message"). */
static void warn(ingest *in, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(ingest *in, const char *what, const char *fmt, ...)
{
    if (in->nwarn >= MAX_WARNINGS) return;
    char *w = in->warn[in->nwarn++];
    int k = snprintf(w, sizeof in->warn[0], "%s\t", what);
    if (k < 0 || (size_t)k >= sizeof in->warn[0]) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w + k, sizeof in->warn[0] - (size_t)k, fmt, ap);
    va_end(ap);
}

/* One more stats row for table t: 1 when it may be stored, 0 past the
 * limit (counted, and said once at the end). */
static int row_allowed(ingest *in, int t)
{
    if (!in->limit_rows) return 1;
    if (in->nrows[t] >= RES_STATS_ROWS_MAX) {
        in->dropped[t]++;
        return 0;
    }
    in->nrows[t]++;
    return 1;
}

static int is_duration_unit(const char *unit)
{
    static const char *const units[] = {"s", "ms", "us", "ns", "seconds", NULL};
    for (int i = 0; unit && units[i]; i++)
        if (strcmp(unit, units[i]) == 0) return 1;
    return 0;
}

/* Why a value cannot be stored, or NULL if it can. */
static const char *refusal(double v, int duration, char *buf, size_t n)
{
    if (isnan(v)) return "refused: value is NaN";
    if (isinf(v)) return "refused: value is infinite";
    if (duration && v < 0) {
        snprintf(buf, n, "refused: negative duration %g s", v);
        return buf;
    }
    return NULL;
}

static int step_done(ib_err *e, ingest *in, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : res__sqlerr(e, in->db, rc, what);
}

/* A metric row; has_value 0 means the source gave no number (reason set). */
static int put_metric(ib_err *e, ingest *in, const char *name, int has_value, double v,
                      const char *unit, const char *better, const char *reason)
{
    char buf[96];
    if (!row_allowed(in, ROWS_METRIC)) return 0;
    if (has_value && !reason) reason = refusal(v, is_duration_unit(unit), buf, sizeof buf);
    if (better && strcmp(better, "lower") != 0 && strcmp(better, "higher") != 0)
        better = NULL;
    sqlite3_stmt *st = in->metric;
    sqlite3_bind_int64(st, 1, in->attempt);
    res__bind_text(st, 2, name);
    if (has_value && !reason) sqlite3_bind_double(st, 3, v);
    res__bind_text(st, 4, unit);
    res__bind_text(st, 5, better);
    res__bind_text(st, 6, reason ? reason : (has_value ? NULL : "refused: no numeric value"));
    return step_done(e, in, st, "storing a metric");
}

static int put_phase(ib_err *e, ingest *in, const char *name, json_t *wall, json_t *cpu)
{
    if (!row_allowed(in, ROWS_PHASE)) return 0;
    char b1[96], b2[96], reason[256] = "";
    const char *rw = json_is_number(wall)
                         ? refusal(json_number_value(wall), 1, b1, sizeof b1)
                         : (wall ? "refused: wall_s is not a number" : "no wall_s");
    const char *rc = json_is_number(cpu)
                         ? refusal(json_number_value(cpu), 1, b2, sizeof b2)
                         : (cpu ? "refused: cpu_s is not a number" : "no cpu_s");
    if (rw && rc) snprintf(reason, sizeof reason, "wall_s %s; cpu_s %s", rw, rc);
    else if (rw) snprintf(reason, sizeof reason, "wall_s %s", rw);
    else if (rc) snprintf(reason, sizeof reason, "cpu_s %s", rc);
    sqlite3_stmt *st = in->phase;
    sqlite3_bind_int64(st, 1, in->attempt);
    res__bind_text(st, 2, name);
    if (!rw) sqlite3_bind_double(st, 3, json_number_value(wall));
    if (!rc) sqlite3_bind_double(st, 4, json_number_value(cpu));
    res__bind_text(st, 5, reason[0] ? reason : NULL);
    return step_done(e, in, st, "storing a phase");
}

static int put_counter(ib_err *e, ingest *in, const char *source, const char *name,
                       json_t *value, int available, const char *reason)
{
    char buf[96];
    if (!row_allowed(in, ROWS_COUNTER)) return 0;
    if (available) {
        if (!json_is_number(value)) {
            available = 0;
            reason = "counter value is not a number";
        } else {
            const char *why = refusal(json_number_value(value), 0, buf, sizeof buf);
            if (why) {
                available = 0;
                reason = why;
            }
        }
    }
    sqlite3_stmt *st = in->counter;
    sqlite3_bind_int64(st, 1, in->attempt);
    res__bind_text(st, 2, source);
    res__bind_text(st, 3, name ? name : "*");
    if (available) sqlite3_bind_double(st, 4, json_number_value(value));
    sqlite3_bind_int(st, 5, available);
    res__bind_text(st, 6, available ? NULL : (reason ? reason : "unavailable"));
    return step_done(e, in, st, "storing a counter");
}

static int ingest_phases(ib_err *e, ingest *in, json_t *phases)
{
    size_t i;
    json_t *p;
    json_array_foreach(phases, i, p) {
        const char *name = json_string_value(json_object_get(p, "name"));
        char unnamed[32];
        if (!name) {
            snprintf(unnamed, sizeof unnamed, "phase #%zu", i);
            name = unnamed;
        }
        int r = put_phase(e, in, name, json_object_get(p, "wall_s"), json_object_get(p, "cpu_s"));
        if (r) return r;
    }
    return 0;
}

static int ingest_metrics(ib_err *e, ingest *in, json_t *metrics, int *has_wall)
{
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m) {
        const char *name = json_string_value(json_object_get(m, "name"));
        char unnamed[32];
        if (!name) {
            snprintf(unnamed, sizeof unnamed, "metric #%zu", i);
            name = unnamed;
        }
        if (strcmp(name, "wall_time") == 0) *has_wall = 1;
        json_t *v = json_object_get(m, "value");
        int r = put_metric(e, in, name, json_is_number(v), json_number_value(v),
                           json_string_value(json_object_get(m, "unit")),
                           json_string_value(json_object_get(m, "better")),
                           json_is_number(v) ? NULL : "refused: value is not a number");
        if (r) return r;
    }
    return 0;
}

/* Counters: PAPI preset events and software-defined events. Whatever is
 * missing is stored as one unavailable row with the reason, so a report
 * can say "no counters on this machine" rather than show nothing. */
static int ingest_counters(ib_err *e, ingest *in, json_t *counters)
{
    int r;
    if (!json_is_object(counters)) {
        const char *why = "stats have no counters section";
        r = put_counter(e, in, "papi", NULL, NULL, 0, why);
        if (!r) r = put_counter(e, in, "sde", NULL, NULL, 0, why);
        return r;
    }
    json_t *papi = json_object_get(counters, "papi");
    if (!json_is_object(papi)) {
        r = put_counter(e, in, "papi", NULL, NULL, 0, "stats have no papi counters");
    } else {
        json_t *avail = json_object_get(papi, "available");
        int available = json_is_true(avail);
        const char *reason = json_string_value(json_object_get(papi, "reason"));
        if (!available && !reason) reason = "papi unavailable (no reason given)";
        json_t *events = json_object_get(papi, "events");
        size_t n = json_array_size(events);
        r = 0;
        if (n == 0) {
            r = put_counter(e, in, "papi", NULL, NULL, 0,
                            available ? "papi available but no events recorded" : reason);
        }
        size_t i;
        json_t *ev;
        json_array_foreach(events, i, ev) {
            if (r) break;
            const char *name = json_string_value(json_object_get(ev, "name"));
            json_t *ea = json_object_get(ev, "available");
            int ok = available && (!ea || json_is_true(ea));
            const char *why = json_string_value(json_object_get(ev, "reason"));
            r = put_counter(e, in, "papi", name, json_object_get(ev, "value"), ok,
                            why ? why : reason);
        }
    }
    if (r) return r;
    json_t *sde = json_object_get(counters, "sde");
    if (json_is_object(sde)) { /* {"available": false, "reason": ...} form */
        json_t *events = json_object_get(sde, "events");
        if (json_is_false(json_object_get(sde, "available")) || !json_array_size(events)) {
            const char *why = json_string_value(json_object_get(sde, "reason"));
            return put_counter(e, in, "sde", NULL, NULL, 0,
                               why ? why : "sde counters unavailable");
        }
        sde = events;
    }
    if (!json_is_array(sde) || json_array_size(sde) == 0)
        return put_counter(e, in, "sde", NULL, NULL, 0, "stats have no sde counters");
    size_t i;
    json_t *ev;
    json_array_foreach(sde, i, ev) {
        r = put_counter(e, in, "sde", json_string_value(json_object_get(ev, "name")),
                        json_object_get(ev, "value"), 1, NULL);
        if (r) return r;
    }
    return 0;
}

/* rusage members become metrics "rusage.<key>", unit from the key. */
static int ingest_rusage(ib_err *e, ingest *in, json_t *ru)
{
    const char *key;
    json_t *v;
    json_object_foreach(ru, key, v) {
        char name[128];
        snprintf(name, sizeof name, "rusage.%s", key);
        size_t n = strlen(key);
        const char *unit = "count";
        if (n > 6 && strcmp(key + n - 6, "_bytes") == 0) unit = "bytes";
        else if (n > 2 && strcmp(key + n - 2, "_s") == 0) unit = "s";
        int r = put_metric(e, in, name, json_is_number(v), json_number_value(v), unit, "lower",
                           json_is_number(v) ? NULL : "refused: value is not a number");
        if (r) return r;
    }
    return 0;
}

/* A count as an integer: 0 and *out, or -1 for a non-number or a real
 * outside int64 (converting 1e300 would be undefined; the column stays NULL). */
static int count_value(json_t *v, sqlite3_int64 *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 0;
    }
    double d = json_number_value(v);
    /* cppcheck-suppress incorrectLogicOperator ; it misreads the hex floats: [-2^63, 2^63) */
    if (!json_is_real(v) || !(d >= -0x1p63 && d < 0x1p63)) return -1;
    *out = (sqlite3_int64)d;
    return 0;
}

/* "comm": per rank and operation, what was sent (each message once). */
static int ingest_comm(ib_err *e, ingest *in, json_t *comm)
{
    size_t i;
    json_t *c;
    json_array_foreach(comm, i, c) {
        if (!row_allowed(in, ROWS_COMM)) continue;
        sqlite3_stmt *st = in->comm;
        sqlite3_bind_int64(st, 1, in->attempt);
        json_t *rank = json_object_get(c, "rank");
        if (json_is_integer(rank)) sqlite3_bind_int64(st, 2, json_integer_value(rank));
        res__bind_text(st, 3, json_string_value(json_object_get(c, "op")));
        json_t *m = json_object_get(c, "msgs_sent"), *b = json_object_get(c, "bytes_sent");
        if (!m) m = json_object_get(c, "messages");
        if (!b) b = json_object_get(c, "bytes");
        sqlite3_int64 count;
        if (!count_value(m, &count)) sqlite3_bind_int64(st, 4, count);
        if (!count_value(b, &count)) sqlite3_bind_int64(st, 5, count);
        json_t *sec = json_object_get(c, "seconds");
        char buf[96];
        if (json_is_number(sec) && !refusal(json_number_value(sec), 1, buf, sizeof buf))
            sqlite3_bind_double(st, 6, json_number_value(sec));
        int r = step_done(e, in, st, "storing communication");
        if (r) return r;
    }
    return 0;
}

/*
 * "tasks_file": the imager's task events, a CSV beside the stats file
 * (rank,thread,chunk,chan,phase,start,end). Lines that do not parse are
 * counted in the metric task_events_rejected; a missing file leaves the
 * tasks empty (the stats still say how many there were). At most
 * RES_TASK_ROWS_MAX lines are read (a line longer than the buffer counts
 * once per buffer): past that the rest is not read, and a warning says so.
 */
static int ingest_tasks(ib_err *e, ingest *in, const char *file)
{
    char path[4096];
    int bad;
    if (file[0] == '/' || !in->source || !strchr(in->source, '/')) {
        bad = ib_path_fmt(NULL, path, sizeof path, "%s", file);
    } else {
        const char *slash = strrchr(in->source, '/');
        bad = ib_path_fmt(NULL, path, sizeof path, "%.*s/%s", (int)(slash - in->source),
                          in->source, file);
    }
    if (bad) {
        warn(in, "tasks", "the task events' path ('%.200s...') is too long: not read", file);
        return 0;
    }
    /* A regular file only: "/dev/zero" would be read for ever and a FIFO
     * would block the open; like a missing file, they leave tasks empty. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat sb;
    if (fd < 0) return 0;
    FILE *f = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? fdopen(fd, "r") : NULL;
    if (!f) {
        close(fd);
        return 0;
    }
    char line[512];
    long rejected = 0, lines = 0;
    int r = 0, first = 1, more = 0;
    while (!r && fgets(line, sizeof line, f)) {
        if (lines >= RES_TASK_ROWS_MAX) {
            more = 1;
            break;
        }
        lines++;
        if (first && strncmp(line, "rank,", 5) == 0) {
            first = 0;
            continue;
        }
        first = 0;
        int rank, thread, chunk, chan, used = 0;
        char phase[32];
        double t0, t1;
        char buf[96];
        if (sscanf(line, "%d,%d,%d,%d,%31[^,],%lf,%lf%n", &rank, &thread, &chunk, &chan, phase,
                   &t0, &t1, &used) != 7 ||
            refusal(t0, 1, buf, sizeof buf) || refusal(t1, 1, buf, sizeof buf) || t1 < t0) {
            rejected++;
            continue;
        }
        sqlite3_stmt *st = in->task;
        sqlite3_bind_int64(st, 1, in->attempt);
        sqlite3_bind_int(st, 2, rank);
        sqlite3_bind_int(st, 3, thread);
        sqlite3_bind_int(st, 4, chunk);
        sqlite3_bind_int(st, 5, chan);
        res__bind_text(st, 6, phase);
        sqlite3_bind_double(st, 7, t0);
        sqlite3_bind_double(st, 8, t1);
        r = step_done(e, in, st, "storing task events");
    }
    fclose(f);
    if (more)
        warn(in, "tasks", "'%s' has more than %ld lines: the first %ld were read (%ld stored), "
                          "the rest left out", path, RES_TASK_ROWS_MAX, RES_TASK_ROWS_MAX,
             lines - rejected - 1);
    if (!r && rejected) {
        int keep = in->limit_rows;
        in->limit_rows = 0;
        r = put_metric(e, in, "task_events_rejected", 1, (double)rejected, "count", "lower",
                       NULL);
        in->limit_rows = keep;
    }
    return r;
}

static int ingest_stats(ib_err *e, ingest *in, json_t *stats)
{
    int has_wall = 0;
    in->limit_rows = 1;
    int r = ingest_phases(e, in, json_object_get(stats, "phases"));
    if (!r) r = ingest_metrics(e, in, json_object_get(stats, "metrics"), &has_wall);
    if (!r && !has_wall && json_object_get(stats, "wall_seconds")) {
        json_t *w = json_object_get(stats, "wall_seconds");
        r = put_metric(e, in, "wall_time", json_is_number(w), json_number_value(w), "s",
                       "lower", json_is_number(w) ? NULL : "refused: value is not a number");
    }
    if (!r) r = ingest_counters(e, in, json_object_get(stats, "counters"));
    if (!r && json_is_object(json_object_get(stats, "rusage")))
        r = ingest_rusage(e, in, json_object_get(stats, "rusage"));
    json_t *dft = json_object_get(stats, "check_dft");
    if (!r && json_is_object(dft) && json_object_get(dft, "max_rel_err")) {
        json_t *v = json_object_get(dft, "max_rel_err");
        r = put_metric(e, in, "dft_max_rel_err", json_is_number(v), json_number_value(v),
                       "ratio", "lower", json_is_number(v) ? NULL : "refused: not a number");
    }
    if (!r && json_is_array(json_object_get(stats, "comm")))
        r = ingest_comm(e, in, json_object_get(stats, "comm"));
    const char *tasks = json_string_value(json_object_get(stats, "tasks_file"));
    if (!r && tasks && *tasks) r = ingest_tasks(e, in, tasks);
    in->limit_rows = 0;
    for (int t = 0; t < NROWS; t++)
        if (in->dropped[t])
            warn(in, rows_table[t], "the stats record has %ld more rows for '%s' than the "
                                    "limit of %ld: they were left out",
                 in->dropped[t], rows_table[t], RES_STATS_ROWS_MAX);
    return r;
}

/* Members never left out of a stored stats record: what reports read. */
static int stats_core_member(const char *key)
{
    static const char *const core[] = {"schema", "program", "version", "params", "dataset",
                                       "wall_seconds", "tasks_file", NULL};
    for (int i = 0; core[i]; i++)
        if (!strcmp(key, core[i])) return 1;
    return 0;
}

/*
 * The stats record's text to store: whole when it is at most
 * RES_STATS_TEXT_MAX bytes; else a copy without its largest members
 * (never the core ones), largest first, until it fits, the names left out
 * said in a warning; NULL (stats kept as rows only) when even that does not
 * fit. *err set when out of memory.
 */
static char *stats_text_within(ingest *in, json_t *stats, int *err)
{
    *err = 0;
    char *text = json_dumps(stats, JSON_COMPACT);
    if (!text) {
        *err = 1;
        return NULL;
    }
    size_t len = strlen(text);
    if (len <= RES_STATS_TEXT_MAX) return text;
    free(text);
    text = NULL; /* set again only by a copy that fits */
    json_t *copy = json_copy(stats);
    if (!copy) {
        *err = 1;
        return NULL;
    }
    char dropped[400] = "";
    size_t dl = 0;
    for (;;) {
        const char *key, *big = NULL;
        json_t *v;
        size_t big_len = 0;
        json_object_foreach(copy, key, v) {
            if (stats_core_member(key)) continue;
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            size_t l = t ? strlen(t) : 0;
            free(t);
            if (l > big_len) {
                big_len = l;
                big = key;
            }
        }
        if (!big) break;
        int k = snprintf(dropped + dl, sizeof dropped - dl, "%s%s", dl ? ", " : "", big);
        if (k > 0 && (size_t)k < sizeof dropped - dl) dl += (size_t)k;
        json_object_del(copy, big);
        text = json_dumps(copy, JSON_COMPACT);
        if (!text) {
            json_decref(copy);
            *err = 1;
            return NULL;
        }
        if (strlen(text) <= RES_STATS_TEXT_MAX) break;
        free(text);
        text = NULL;
    }
    json_decref(copy);
    if (text)
        warn(in, "stats", "the stats record is %zu bytes, over the limit of %zu: stored "
                          "without %s", len, RES_STATS_TEXT_MAX, dropped);
    else
        warn(in, "stats", "the stats record is %zu bytes, over the limit of %zu even without "
                          "its optional members: its text is not stored (its rows are)",
             len, RES_STATS_TEXT_MAX);
    return text;
}

/* The stderr tail to store: its last RES_STDERR_TAIL_MAX bytes, from the
 * start of a UTF-8 character. */
static const char *tail_within(ingest *in, const char *tail)
{
    if (!tail) return NULL;
    size_t len = strlen(tail);
    if (len <= RES_STDERR_TAIL_MAX) return tail;
    const char *p = tail + len - RES_STDERR_TAIL_MAX;
    while (*p && ((unsigned char)*p & 0xC0) == 0x80) p++;
    warn(in, "stderr", "the stderr tail is %zu bytes, over the limit of %zu: its last %zu "
                       "bytes are stored", len, RES_STDERR_TAIL_MAX, strlen(p));
    return p;
}

/* The provenance object's text, or NULL when there is none or it is over
 * the limit (said in a warning). */
static char *provenance_within(ingest *in, json_t *prov, int *err)
{
    *err = 0;
    if (!prov) return NULL;
    char *t = json_dumps(prov, JSON_COMPACT | JSON_SORT_KEYS);
    if (!t) {
        *err = 1;
        return NULL;
    }
    if (strlen(t) > RES_STDERR_TAIL_MAX) {
        warn(in, "provenance", "the provenance record is %zu bytes, over the limit of %zu: "
                               "not stored", strlen(t), RES_STDERR_TAIL_MAX);
        free(t);
        return NULL;
    }
    return t;
}

static int store_warnings(ib_err *e, ingest *in)
{
    if (!in->nwarn) return 0;
    sqlite3_stmt *st;
    int r = res__prepare(e, in->db, "INSERT INTO warnings(attempt_id, what, message)"
                                    " VALUES(?,?,?)", &st);
    if (r) return r;
    for (int i = 0; !r && i < in->nwarn; i++) {
        char *w = in->warn[i], *tab = strchr(w, '\t');
        const char *what = "ingest", *msg = w;
        if (tab) {
            *tab = '\0';
            what = w;
            msg = tab + 1;
        }
        sqlite3_bind_int64(st, 1, in->attempt);
        res__bind_text(st, 2, what);
        res__bind_text(st, 3, msg);
        r = step_done(e, in, st, "storing a warning");
    }
    sqlite3_finalize(st);
    return r;
}

static int check_stats(ib_err *e, json_t *stats, const char *source)
{
    const char *src = source ? source : "(stats)";
    if (!json_is_object(stats))
        return ib_error(e, IB_EPARSE, "stats '%s': not a JSON object", src);
    const char *schema = json_string_value(json_object_get(stats, "schema"));
    if (!schema || strcmp(schema, "imbench-stats/1") != 0)
        return ib_error(e, IB_EPARSE, "stats '%s': schema is '%s', expected 'imbench-stats/1'",
                        src, schema ? schema : "(missing)");
    static const char *const arrays[] = {"phases", "metrics", NULL};
    for (int i = 0; arrays[i]; i++) {
        json_t *a = json_object_get(stats, arrays[i]);
        if (a && !json_is_array(a))
            return ib_error(e, IB_EPARSE, "stats '%s': '%s' must be an array", src, arrays[i]);
    }
    return 0;
}

static void finalize_all(ingest *in)
{
    sqlite3_finalize(in->metric);
    sqlite3_finalize(in->phase);
    sqlite3_finalize(in->counter);
    sqlite3_finalize(in->comm);
    sqlite3_finalize(in->task);
}

int res_attempt_record(ib_err *e, res_db *db, const res_attempt *a, json_t *stats,
                       const res_metric *extra, size_t nextra, int64_t *attempt_id)
{
    static const char *const statuses[] = {RES_OK, RES_FAILED, RES_TIMEOUT, RES_INTERRUPTED,
                                           RES_SKIPPED, NULL};
    int known = 0;
    for (int i = 0; statuses[i]; i++) known |= a->status && !strcmp(a->status, statuses[i]);
    if (!known)
        return ib_error(e, IB_EINVAL, "attempt status '%s' is not one of ok, failed, timeout, "
                                      "interrupted, skipped",
                        a->status ? a->status : "(null)");
    if (stats) {
        int r = check_stats(e, stats, a->source);
        if (r) return r;
    }
    /* on the heap: its warnings are ~10 KiB */
    ingest *in = ib_calloc(1, sizeof *in);
    if (!in) return ib_error(e, IB_ENOMEM, "out of memory recording an attempt");
    in->db = db;
    in->source = a->source;
    for (size_t i = 0; i < a->nwarnings && i < sizeof a->warnings / sizeof a->warnings[0]; i++)
        if (a->warnings[i]) warn(in, "ingest", "%.590s", a->warnings[i]);
    int oom = 0, oom2 = 0;
    char *stats_text = stats ? stats_text_within(in, stats, &oom) : NULL;
    char *prov_text = provenance_within(in, a->provenance, &oom2);
    const char *tail = tail_within(in, a->stderr_tail);
    const char *command = a->command;
    char *command_cut = NULL;
    if (command && strlen(command) > RES_STDERR_TAIL_MAX) {
        command_cut = ib_malloc(RES_STDERR_TAIL_MAX + 1);
        if (!command_cut) oom = 1;
        else {
            memcpy(command_cut, command, RES_STDERR_TAIL_MAX);
            command_cut[RES_STDERR_TAIL_MAX] = '\0';
            warn(in, "command", "the command line is %zu bytes, over the limit of %zu: its "
                                 "first %zu bytes are stored", strlen(command),
                 RES_STDERR_TAIL_MAX, RES_STDERR_TAIL_MAX);
            command = command_cut;
        }
    }
    if (oom || oom2) {
        free(stats_text);
        free(prov_text);
        ib_free(command_cut);
        ib_free(in);
        return ib_error(e, IB_ENOMEM, "out of memory encoding stats");
    }
    int r = res__begin(e, db);
    if (r) {
        free(stats_text);
        free(prov_text);
        ib_free(command_cut);
        ib_free(in);
        return r;
    }
    sqlite3_stmt *st = NULL;
    r = res__prepare(e, db,
                     "INSERT INTO attempts(run_id, cell_id, repeat_index, status, exit_code,"
                     " signal, stderr_tail, command, started_at, ended_at, wall_s, source, stats,"
                     " provenance) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                     &st);
    if (r) goto fail;
    sqlite3_bind_int64(st, 1, a->run_id);
    sqlite3_bind_int64(st, 2, a->cell_id);
    sqlite3_bind_int(st, 3, a->repeat);
    res__bind_text(st, 4, a->status);
    if (a->exit_code >= 0) sqlite3_bind_int(st, 5, a->exit_code);
    if (a->signal > 0) sqlite3_bind_int(st, 6, a->signal);
    res__bind_text(st, 7, tail);
    res__bind_text(st, 8, command);
    res__bind_text(st, 9, a->started_at);
    res__bind_text(st, 10, a->ended_at);
    if (a->wall_s >= 0) res__bind_double(st, 11, a->wall_s);
    res__bind_text(st, 12, a->source);
    res__bind_text(st, 13, stats_text);
    res__bind_text(st, 14, prov_text);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        r = res__sqlerr(e, db, rc, "recording an attempt");
        goto fail;
    }
    in->attempt = sqlite3_last_insert_rowid(db->db);
    r = res__prepare(e, db,
                     "INSERT INTO metrics(attempt_id, name, value, unit, better, reason)"
                     " VALUES(?,?,?,?,?,?)",
                     &in->metric);
    if (!r)
        r = res__prepare(e, db,
                         "INSERT INTO phases(attempt_id, phase, wall_s, cpu_s, reason)"
                         " VALUES(?,?,?,?,?)",
                         &in->phase);
    if (!r)
        r = res__prepare(e, db,
                         "INSERT INTO counters(attempt_id, source, name, value, available,"
                         " reason) VALUES(?,?,?,?,?,?)",
                         &in->counter);
    if (!r)
        r = res__prepare(e, db,
                         "INSERT INTO comm(attempt_id, rank, op, messages, bytes, seconds)"
                         " VALUES(?,?,?,?,?,?)",
                         &in->comm);
    if (!r)
        r = res__prepare(e, db,
                         "INSERT INTO tasks(attempt_id, rank, thread, chunk, chan, phase,"
                         " start_s, end_s) VALUES(?,?,?,?,?,?,?,?)",
                         &in->task);
    if (r) goto fail;
    if (stats) {
        r = ingest_stats(e, in, stats);
        if (r) goto fail;
    }
    if ((r = res_params_record(e, db, in->attempt, a->cell_id, stats))) goto fail;
    for (size_t i = 0; i < nextra; i++) {
        r = put_metric(e, in, extra[i].name, 1, extra[i].value, extra[i].unit,
                       extra[i].better, NULL);
        if (r) goto fail;
    }
    if (a->ingest_t0 > 0 && a->ingest_metric) {
        r = put_metric(e, in, a->ingest_metric, 1, ib_now() - a->ingest_t0, "s", "lower",
                       NULL);
        if (r) goto fail;
    }
    r = store_warnings(e, in);
    if (r) goto fail;
    finalize_all(in);
    r = res__commit(e, db);
    if (!r && attempt_id) *attempt_id = in->attempt;
    goto out;
fail:
    finalize_all(in);
    res__rollback(db);
out:
    free(stats_text);
    free(prov_text);
    ib_free(command_cut);
    ib_free(in);
    return r;
}
