/*
 * test_results.c: the SQLite results store — schema creation, migration
 * of a version-1 database built here with raw SQL, refusal of newer and
 * foreign databases, ingest of stats records with and without PAPI
 * counters, refusal of NaN/infinite/negative durations, resume
 * bookkeeping, CSV and JSON export round trips, verification, the
 * bounded wait on a database locked by another writer; the read-only
 * opening (a read-only file read and left byte for byte; empty, text,
 * foreign and older files refused unchanged), corruption reported as such,
 * run locks (live, dead and other-host holders), verify's duplicate
 * attempts, the latest run, ingest limits with their warning rows,
 * provenance.json and emit.json, and owned directories and checked paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/results.h"
#include "tests/testutil.h"

/* ---- helpers ------------------------------------------------------------- */

typedef struct fx {
    char *dir;
    char path[4096];
    res_db *db;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->dir = tu_mkdtemp("results");
    if (!f->dir) {
        free(f);
        return -1;
    }
    /* a nested path: res_open creates the directory */
    snprintf(f->path, sizeof f->path, "%s/sub/dir/test.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    res_close(f->db);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static res_db *open_ok(fx *f)
{
    ib_err e;
    ib_err_init(&e);
    int r = res_open(&e, f->path, NULL, &f->db);
    if (r) fprintf(stderr, "res_open: %s\n", e.msg);
    assert_int_equal(r, 0);
    return f->db;
}

static int64_t q_int(res_db *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* First column of the first row as text (caller frees), NULL for SQL NULL. */
static char *q_text(res_db *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const unsigned char *t = sqlite3_column_text(st, 0);
    char *s = t ? strdup((const char *)t) : NULL;
    sqlite3_finalize(st);
    return s;
}

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc) fprintf(stderr, "sql: %s\n", msg);
    sqlite3_free(msg);
    assert_int_equal(rc, SQLITE_OK);
    sqlite3_close(db);
}

static int64_t new_run(res_db *db, const char *suite)
{
    ib_err e;
    ib_err_init(&e);
    res_provenance p;
    res_provenance_collect(&p);
    snprintf(p.command, sizeof p.command, "test_results");
    int64_t id = 0;
    assert_int_equal(res_run_begin(&e, db, suite, "x.yaml", "abc", &p, &id), 0);
    assert_true(id > 0);
    return id;
}

static int64_t new_cell(res_db *db, const char *hash, int chunks)
{
    ib_err e;
    ib_err_init(&e);
    json_t *p = json_pack("{s:s, s:f, s:i, s:i, s:s, s:s}", "dataset", "alma-xc66", "scale",
                          0.001, "chunks", chunks, "nodes", 1, "image", "64x32", "gridder",
                          "standard");
    int64_t id = 0;
    assert_int_equal(res_cell_put(&e, db, hash, p, &id), 0);
    json_decref(p);
    return id;
}

static const char stats_papi[] =
    "{\"schema\": \"imbench-stats/1\", \"program\": \"imager\", \"version\": \"0.1.0\","
    " \"params\": {\"gridder\": \"standard\"},"
    " \"dataset\": {\"name\": \"alma-xc66\", \"nrow\": 100, \"nchan\": 4, \"npol\": 2},"
    " \"wall_seconds\": 3.25,"
    " \"phases\": [{\"name\": \"read\", \"wall_s\": 0.5, \"cpu_s\": 0.25},"
    "              {\"name\": \"grid\", \"wall_s\": 2.0, \"cpu_s\": 3.5}],"
    " \"metrics\": [{\"name\": \"wall_time\", \"value\": 3.25, \"unit\": \"s\","
    "                \"better\": \"lower\"},"
    "               {\"name\": \"grid_rate\", \"value\": 3.1e7, \"unit\": \"samples/s\","
    "                \"better\": \"higher\"},"
    "               {\"name\": \"odd, \\\"quoted\\\" name\", \"value\": 1.5, \"unit\": \"count\"}],"
    " \"counters\": {\"papi\": {\"available\": true, \"events\":"
    "     [{\"name\": \"PAPI_TOT_CYC\", \"value\": 123456789},"
    "      {\"name\": \"PAPI_TOT_INS\", \"value\": 987654321}]},"
    "   \"sde\": [{\"name\": \"vis_gridded\", \"value\": 4800}]},"
    " \"rusage\": {\"max_rss_bytes\": 1.2e8, \"minor_faults\": 10, \"user_s\": 1.5},"
    " \"check_dft\": {\"k\": 64, \"max_rel_err\": 1e-6}}";

static const char stats_nopapi[] =
    "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": 1.0,"
    " \"phases\": [{\"name\": \"grid\", \"wall_s\": 1.0, \"cpu_s\": 1.0}],"
    " \"metrics\": [{\"name\": \"wall_time\", \"value\": 1.0, \"unit\": \"s\"}],"
    " \"counters\": {\"papi\": {\"available\": false,"
    "   \"reason\": \"no hardware counters in this VM\","
    "   \"events\": [{\"name\": \"PAPI_TOT_CYC\", \"value\": 0}]}}}";

static const char stats_nocounters[] =
    "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": 2.0,"
    " \"phases\": [{\"name\": \"grid\", \"wall_s\": 2.0, \"cpu_s\": 2.0}],"
    " \"metrics\": [{\"name\": \"wall_time\", \"value\": 2.0, \"unit\": \"s\"}]}";

static json_t *parse_json(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) fprintf(stderr, "fixture JSON line %d: %s\n", je.line, je.text);
    assert_non_null(j);
    return j;
}

static int64_t record(res_db *db, int64_t run, int64_t cell, int rep, const char *status,
                      const char *stats_text, const res_metric *extra, size_t nextra)
{
    ib_err e;
    ib_err_init(&e);
    json_t *js = stats_text ? parse_json(stats_text) : NULL;
    char ts[40];
    res_timestamp(ts, sizeof ts);
    res_attempt a = {.run_id = run, .cell_id = cell, .repeat = rep, .status = status,
                     .exit_code = 0, .stderr_tail = "tail", .started_at = ts, .ended_at = ts,
                     .wall_s = 3.5, .ingest_t0 = ib_now(), .ingest_metric = "harness_ingest_s"};
    int64_t id = 0;
    int r = res_attempt_record(&e, db, &a, js, extra, nextra, &id);
    if (r) fprintf(stderr, "record: %s\n", e.msg);
    assert_int_equal(r, 0);
    json_decref(js);
    return id;
}

/* ---- schema ----------------------------------------------------------------- */

static void test_schema_created(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    ib_err e;
    ib_err_init(&e);
    int v = 0;
    assert_int_equal(res_schema_version(&e, db, &v), 0);
    assert_int_equal(v, RES_SCHEMA_VERSION);
    assert_int_equal(v, 5);
    static const char *const tables[] = {"schema_version", "runs",   "cells",    "attempts",
                                         "metrics",        "phases", "counters", "tasks",
                                         "comm",           "baselines", "run_locks",
                                         "warnings",       "attempt_params", "predictions",
                                         "simulations",    "simulation_tasks", NULL};
    for (int i = 0; tables[i]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='%s'",
                 tables[i]);
        assert_int_equal(q_int(db, sql), 1);
    }
    /* every migration is recorded; WAL is on; the later tables start empty */
    assert_int_equal(q_int(db, "SELECT count(*) FROM schema_version"), 5);
    char *mode = q_text(db, "PRAGMA journal_mode");
    assert_string_equal(mode, "wal");
    free(mode);
    assert_int_equal(q_int(db, "SELECT count(*) FROM tasks"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM baselines"), 0);
    /* reopening is a no-op */
    res_close(db);
    f->db = NULL;
    db = open_ok(f);
    assert_int_equal(q_int(db, "SELECT count(*) FROM schema_version"), 5);
    int problems = -1;
    FILE *out = tmpfile();
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
}

static void test_must_exist(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    res_open_opts o = {.flags = RES_OPEN_READONLY};
    assert_int_equal(res_open(&e, f->path, &o, &f->db), IB_ENOTFOUND);
    assert_null(f->db);
    assert_true(tu_contains(e.msg, "does not exist"));
    assert_true(tu_contains(e.msg, f->path));
}

/* The version-1 schema as the first harness wrote it, with data. */
static const char v1_fixture[] =
    "CREATE TABLE schema_version(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);"
    "INSERT INTO schema_version VALUES(1, '2024-01-01T00:00:00Z');"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, suite TEXT NOT NULL,"
    "  started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL);"
    "CREATE TABLE cells(id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,"
    "  params TEXT NOT NULL);"
    "CREATE TABLE attempts(id INTEGER PRIMARY KEY,"
    "  run_id INTEGER NOT NULL REFERENCES runs(id),"
    "  cell_id INTEGER NOT NULL REFERENCES cells(id),"
    "  repeat_index INTEGER NOT NULL, status TEXT NOT NULL, exit_code INTEGER,"
    "  started_at TEXT, ended_at TEXT, wall_s REAL);"
    "CREATE TABLE metrics(id INTEGER PRIMARY KEY,"
    "  attempt_id INTEGER NOT NULL REFERENCES attempts(id),"
    "  name TEXT NOT NULL, value REAL, unit TEXT);"
    "INSERT INTO runs VALUES(1, 'old', '2024-01-01T00:00:00Z', '2024-01-01T01:00:00Z',"
    "  'complete');"
    "INSERT INTO runs VALUES(2, 'old', '2024-01-02T00:00:00Z', NULL, 'weird-status');"
    "INSERT INTO cells VALUES(1, 'h1', '{\"dataset\":\"alma-x2e3\",\"scale\":0.01,"
    "  \"chunks\":64,\"nodes\":2,\"threads\":16,\"support\":17,\"image\":\"400x500\","
    "  \"gridder\":\"mosaic\"}');"
    "INSERT INTO cells VALUES(2, 'h2', 'not json');"
    "INSERT INTO attempts VALUES(1, 1, 1, 0, 'ok', 0, 't0', 't1', 12.5);"
    "INSERT INTO attempts VALUES(2, 2, 2, 0, 'crashed', 139, 't0', 't1', 0.5);"
    "INSERT INTO metrics VALUES(1, 1, 'wall_time', 12.5, 's');"
    "INSERT INTO metrics VALUES(2, 1, 'lost', NULL, 'count');";

static void test_migrate_v1(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(ib_mkdir_p(&e, f->dir), 0);
    snprintf(f->path, sizeof f->path, "%s/v1.db", f->dir);
    raw_exec(f->path, v1_fixture);
    res_db *db = open_ok(f);
    int v = 0;
    assert_int_equal(res_schema_version(&e, db, &v), 0);
    assert_int_equal(v, 5);
    /* data kept, columns filled from the parameters JSON; old runs have no
     * recorded machine settings */
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs WHERE tuning IS NULL"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM runs"), 2);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts"), 2);
    assert_int_equal(q_int(db, "SELECT chunks FROM cells WHERE id = 1"), 64);
    assert_int_equal(q_int(db, "SELECT nodes FROM cells WHERE id = 1"), 2);
    assert_int_equal(q_int(db, "SELECT support FROM cells WHERE id = 1"), 17);
    assert_int_equal(q_int(db, "SELECT image_nx FROM cells WHERE id = 1"), 400);
    assert_int_equal(q_int(db, "SELECT image_ny FROM cells WHERE id = 1"), 500);
    char *s = q_text(db, "SELECT dataset FROM cells WHERE id = 1");
    assert_string_equal(s, "alma-x2e3");
    free(s);
    assert_null(q_text(db, "SELECT dataset FROM cells WHERE id = 2")); /* bad JSON: NULL */
    /* statuses outside the new CHECKs become 'failed'; NULL metric gets a reason */
    s = q_text(db, "SELECT status FROM attempts WHERE id = 2");
    assert_string_equal(s, "failed");
    free(s);
    s = q_text(db, "SELECT status FROM runs WHERE id = 2");
    assert_string_equal(s, "failed");
    free(s);
    s = q_text(db, "SELECT reason FROM metrics WHERE id = 2");
    assert_non_null(s);
    assert_true(tu_contains(s, "migrated"));
    free(s);
    assert_int_equal(q_int(db, "SELECT count(*) FROM schema_version"), 5);
    /* the new schema works on the migrated data */
    int64_t cell = new_cell(db, "h1", 64);
    assert_int_equal(cell, 1);
    int64_t run = new_run(db, "after");
    record(db, run, cell, 0, RES_OK, stats_nocounters, NULL, 0);
    int problems = -1;
    FILE *out = tmpfile();
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
}

static void test_refuse_newer_and_foreign(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    open_ok(f);
    res_close(f->db);
    f->db = NULL;
    raw_exec(f->path, "INSERT INTO schema_version VALUES(6, 'future')");
    assert_int_equal(res_open(&e, f->path, NULL, &f->db), IB_EUNSUPPORTED);
    assert_null(f->db);
    assert_true(tu_contains(e.msg, "schema version 6"));
    assert_true(tu_contains(e.msg, "newer than this program"));
    assert_true(tu_contains(e.msg, f->path));

    char other[4200];
    snprintf(other, sizeof other, "%s/foreign.db", f->dir);
    raw_exec(other, "CREATE TABLE t(x)");
    ib_err_init(&e);
    assert_int_equal(res_open(&e, other, NULL, &f->db), IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "not an imbench results database"));

    snprintf(other, sizeof other, "%s/garbage.db", f->dir);
    FILE *g = fopen(other, "w");
    assert_non_null(g);
    for (int i = 0; i < 200; i++) fputs("this is not a database file at all ", g);
    fclose(g);
    ib_err_init(&e);
    assert_int_not_equal(res_open(&e, other, NULL, &f->db), 0);
    assert_true(tu_contains(e.msg, "not an SQLite database"));
}

/* ---- ingest ----------------------------------------------------------------- */

static void test_ingest_with_papi(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "s");
    int64_t cell = new_cell(db, "hash-a", 4);
    assert_int_equal(new_cell(db, "hash-a", 4), cell); /* found by hash */
    res_metric extra[] = {{"harness_launch_s", 0.25, "s", "lower"}};
    int64_t a = record(db, run, cell, 0, RES_OK, stats_papi, extra, 1);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM phases WHERE attempt_id = %lld",
             (long long)a);
    assert_int_equal(q_int(db, sql), 2);
    assert_int_equal(q_int(db, "SELECT round(cpu_s * 100) FROM phases WHERE phase = 'grid'"),
                     350);
    assert_int_equal(q_int(db, "SELECT count(*) FROM counters WHERE source = 'papi'"
                               " AND available = 1"),
                     2);
    assert_int_equal(q_int(db, "SELECT value FROM counters WHERE name = 'PAPI_TOT_INS'"),
                     987654321);
    assert_int_equal(q_int(db, "SELECT value FROM counters WHERE source = 'sde'"
                               " AND name = 'vis_gridded' AND available = 1"),
                     4800);
    /* metrics as given, rusage and check_dft mapped, extras and ingest time added */
    char *s = q_text(db, "SELECT better FROM metrics WHERE name = 'grid_rate'");
    assert_string_equal(s, "higher");
    free(s);
    s = q_text(db, "SELECT unit FROM metrics WHERE name = 'rusage.max_rss_bytes'");
    assert_string_equal(s, "bytes");
    free(s);
    s = q_text(db, "SELECT unit FROM metrics WHERE name = 'rusage.user_s'");
    assert_string_equal(s, "s");
    free(s);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'dft_max_rel_err'"
                               " AND value = 1e-6"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'harness_launch_s'"
                               " AND value = 0.25"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'harness_ingest_s'"
                               " AND value >= 0 AND value < 5"),
                     1);
    /* wall_time given as a metric: not duplicated from wall_seconds */
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE name = 'wall_time'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE reason IS NOT NULL"), 0);
    s = q_text(db, "SELECT stderr_tail FROM attempts");
    assert_string_equal(s, "tail");
    free(s);
    s = q_text(db, "SELECT json_extract(stats, '$.dataset.name') FROM attempts");
    assert_string_equal(s, "alma-xc66");
    free(s);
}

static void test_ingest_without_papi(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "s");
    int64_t cell = new_cell(db, "hash-b", 2);
    record(db, run, cell, 0, RES_OK, stats_nopapi, NULL, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM counters WHERE available = 1"), 0);
    char *s = q_text(db, "SELECT reason FROM counters WHERE source = 'papi'"
                         " AND name = 'PAPI_TOT_CYC'");
    assert_string_equal(s, "no hardware counters in this VM");
    free(s);
    assert_null(q_text(db, "SELECT value FROM counters WHERE name = 'PAPI_TOT_CYC'"));
    s = q_text(db, "SELECT reason FROM counters WHERE source = 'sde'");
    assert_true(tu_contains(s, "no sde counters"));
    free(s);

    /* no counters section at all: both sources unavailable with the reason */
    record(db, run, cell, 1, RES_OK, stats_nocounters, NULL, 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM counters WHERE attempt_id = 2"
                               " AND available = 0 AND reason LIKE '%no counters section%'"),
                     2);
    /* wall_seconds becomes wall_time when metrics lack it? here it is given */
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics WHERE attempt_id = 2"
                               " AND name = 'wall_time'"),
                     1);
}

static void test_refuse_bad_values(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "s");
    int64_t cell = new_cell(db, "hash-c", 1);
    static const char bad_stats[] =
        "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": -4.0,"
        " \"phases\": [{\"name\": \"grid\", \"wall_s\": -1.0, \"cpu_s\": 0.5},"
        "              {\"name\": \"fft\", \"wall_s\": \"fast\", \"cpu_s\": 0.5}],"
        " \"metrics\": [{\"name\": \"spill_bytes\", \"value\": \"lots\", \"unit\": \"bytes\"},"
        "               {\"name\": \"fft_plan_time\", \"value\": -0.5, \"unit\": \"s\"},"
        "               {\"name\": \"delta\", \"value\": -3, \"unit\": \"count\"}]}";
    res_metric extra[] = {{"nan_metric", NAN, "s", "lower"},
                          {"inf_metric", INFINITY, "count", "higher"},
                          {"neg_duration", -2.0, "s", "lower"},
                          {"good", 2.0, "s", "lower"}};
    int64_t a = record(db, run, cell, 0, RES_OK, bad_stats, extra, 4);
    (void)a;
    char *s;
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'nan_metric' AND value IS NULL");
    assert_true(tu_contains(s, "NaN"));
    free(s);
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'inf_metric' AND value IS NULL");
    assert_true(tu_contains(s, "infinite"));
    free(s);
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'neg_duration' AND value IS NULL");
    assert_true(tu_contains(s, "negative duration"));
    free(s);
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'fft_plan_time' AND value IS NULL");
    assert_true(tu_contains(s, "negative duration"));
    free(s);
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'spill_bytes' AND value IS NULL");
    assert_true(tu_contains(s, "not a number"));
    free(s);
    /* wall_seconds -4 refused as the wall_time metric */
    s = q_text(db, "SELECT reason FROM metrics WHERE name = 'wall_time' AND value IS NULL");
    assert_true(tu_contains(s, "negative duration"));
    free(s);
    /* a negative count is not a duration: kept */
    assert_int_equal(q_int(db, "SELECT value FROM metrics WHERE name = 'delta'"), -3);
    assert_int_equal(q_int(db, "SELECT value FROM metrics WHERE name = 'good'"), 2);
    s = q_text(db, "SELECT reason FROM phases WHERE phase = 'grid' AND wall_s IS NULL");
    assert_true(tu_contains(s, "negative duration"));
    free(s);
    assert_int_equal(q_int(db, "SELECT round(cpu_s * 10) FROM phases WHERE phase = 'grid'"), 5);
    s = q_text(db, "SELECT reason FROM phases WHERE phase = 'fft' AND wall_s IS NULL");
    assert_true(tu_contains(s, "not a number"));
    free(s);
    /* a refused value keeps a reason, so verify is content */
    int problems = -1;
    ib_err e;
    ib_err_init(&e);
    FILE *out = tmpfile();
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
}

static void test_refuse_wrong_schema(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "s");
    int64_t cell = new_cell(db, "hash-d", 1);
    ib_err e;
    ib_err_init(&e);
    json_t *js = parse_json("{\"schema\": \"other/9\", \"metrics\": []}");
    res_attempt a = {.run_id = run, .cell_id = cell, .status = RES_OK, .exit_code = 0,
                     .wall_s = 1, .source = "x/stats.json"};
    assert_int_equal(res_attempt_record(&e, db, &a, js, NULL, 0, NULL), IB_EPARSE);
    assert_true(tu_contains(e.msg, "x/stats.json"));
    assert_true(tu_contains(e.msg, "imbench-stats/1"));
    json_decref(js);
    a.status = "exploded";
    ib_err_init(&e);
    assert_int_equal(res_attempt_record(&e, db, &a, NULL, NULL, 0, NULL), IB_EINVAL);
    assert_true(tu_contains(e.msg, "exploded"));
    /* nothing was written */
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts"), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics"), 0);
}

static void test_ingest_comm_and_tasks(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "s");
    int64_t cell = new_cell(db, "hash-t", 2);
    char stats_path[4200], tasks_path[4200];
    snprintf(stats_path, sizeof stats_path, "%s/stats.json", f->dir);
    snprintf(tasks_path, sizeof tasks_path, "%s/tasks.csv", f->dir);
    FILE *t = fopen(tasks_path, "w");
    assert_non_null(t);
    fputs("rank,thread,chunk,chan,phase,start,end\n"
          "0,0,0,0,read,0.000100000,0.002000000\n"
          "0,1,1,4,grid,0.002000000,0.010000000\n"
          "1,0,2,8,fft,0.010000000,0.012500000\n"
          "garbage line\n"
          "1,1,3,12,grid,0.5,0.25\n", t); /* ends before it starts: refused */
    fclose(t);
    json_t *js = parse_json(
        "{\"schema\": \"imbench-stats/1\", \"wall_seconds\": 0.02,"
        " \"phases\": [{\"name\": \"grid\", \"wall_s\": 0.01, \"cpu_s\": 0.01}],"
        " \"metrics\": [{\"name\": \"wall_time\", \"value\": 0.02, \"unit\": \"s\"}],"
        " \"comm\": [{\"rank\": 0, \"op\": \"reduce\", \"msgs_sent\": 4, \"msgs_recv\": 0,"
        "             \"bytes_sent\": 4096, \"bytes_recv\": 0, \"seconds\": 0.003},"
        "            {\"rank\": 1, \"op\": \"reduce\", \"msgs_sent\": 2, \"bytes_sent\": 2048,"
        "             \"seconds\": -1}],"
        " \"tasks_file\": \"tasks.csv\"}");
    ib_err e;
    ib_err_init(&e);
    res_attempt a = {.run_id = run, .cell_id = cell, .status = RES_OK, .exit_code = 0,
                     .wall_s = 0.05, .source = stats_path};
    int64_t id = 0;
    assert_int_equal(res_attempt_record(&e, db, &a, js, NULL, 0, &id), 0);
    json_decref(js);
    assert_int_equal(q_int(db, "SELECT count(*) FROM comm"), 2);
    assert_int_equal(q_int(db, "SELECT sum(bytes) FROM comm"), 6144);
    assert_int_equal(q_int(db, "SELECT messages FROM comm WHERE rank = 0"), 4);
    assert_null(q_text(db, "SELECT seconds FROM comm WHERE rank = 1")); /* negative: not kept */
    assert_int_equal(q_int(db, "SELECT count(*) FROM tasks"), 3);
    assert_int_equal(q_int(db, "SELECT chan FROM tasks WHERE phase = 'fft'"), 8);
    assert_int_equal(q_int(db, "SELECT round(end_s * 1000) FROM tasks WHERE chunk = 1"), 10);
    assert_int_equal(q_int(db, "SELECT value FROM metrics WHERE name = 'task_events_rejected'"),
                     2);
}

/* ---- runs and resume ----------------------------------------------------------- */

static void test_resume_bookkeeping(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    ib_err e;
    ib_err_init(&e);
    int64_t id = 0;
    assert_int_equal(res_run_resume(&e, db, "suite-a", &id), IB_ENOTFOUND);
    int64_t run = new_run(db, "suite-a");
    int64_t cell = new_cell(db, "hash-e", 8);
    record(db, run, cell, 0, RES_OK, stats_nocounters, NULL, 0);
    record(db, run, cell, 1, RES_FAILED, NULL, NULL, 0);
    record(db, run, cell, 2, RES_OK, stats_nocounters, NULL, 0);
    unsigned char ok[4];
    assert_int_equal(res_cell_ok_repeats(&e, db, run, cell, 4, ok), 0);
    assert_int_equal(ok[0], 1);
    assert_int_equal(ok[1], 0);
    assert_int_equal(ok[2], 1);
    assert_int_equal(ok[3], 0);
    assert_int_equal(res_run_finish(&e, db, run, "failed"), 0);
    /* a failed run is unfinished: resume takes it and marks it running */
    assert_int_equal(res_run_resume(&e, db, "suite-a", &id), 0);
    assert_int_equal(id, run);
    char *s = q_text(db, "SELECT status FROM runs");
    assert_string_equal(s, "running");
    free(s);
    int exists = 0;
    s = q_text(db, "SELECT started_at FROM attempts WHERE repeat_index = 2");
    assert_int_equal(res_attempt_exists(&e, db, cell, 2, s, &exists), 0);
    assert_int_equal(exists, 1);
    assert_int_equal(res_attempt_exists(&e, db, cell, 3, s, &exists), 0);
    assert_int_equal(exists, 0);
    free(s);
    assert_int_equal(res_run_finish(&e, db, run, "complete"), 0);
    /* a complete run is returned as it is: resuming it runs nothing */
    id = 0;
    assert_int_equal(res_run_resume(&e, db, "suite-a", &id), 0);
    assert_int_equal(id, run);
    s = q_text(db, "SELECT status FROM runs");
    assert_string_equal(s, "complete");
    free(s);
    assert_int_equal(res_run_resume(&e, db, "no-such-suite", &id), IB_ENOTFOUND);
    assert_int_equal(res_run_finish(&e, db, 999, "complete"), IB_ENOTFOUND);
}


/* ---- read-only opening ----------------------------------------------------------- */

/* FNV-1a of a whole file, and its size: "unchanged" checks. */
static uint64_t file_sum(const char *path, long *size)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    uint64_t h = 1469598103934665603ULL;
    long n = 0;
    int c;
    while ((c = fgetc(fp)) != EOF) {
        h = (h ^ (uint64_t)(unsigned char)c) * 1099511628211ULL;
        n++;
    }
    fclose(fp);
    if (size) *size = n;
    return h;
}

/* res_open read-only on path must fail with code and a message holding
 * want, leaving the file byte for byte as it was. */
static void refused_unchanged(const char *path, int code, const char *want)
{
    long n0, n1;
    uint64_t h0 = file_sum(path, &n0);
    ib_err e;
    ib_err_init(&e);
    res_db *db = NULL;
    res_open_opts o = {.flags = RES_OPEN_READONLY};
    int r = res_open(&e, path, &o, &db);
    if (r != code || !tu_contains(e.msg, want))
        fprintf(stderr, "res_open('%s'): %d %s\n", path, r, e.msg);
    assert_int_equal(r, code);
    assert_null(db);
    assert_true(tu_contains(e.msg, want));
    assert_true(tu_contains(e.msg, path));
    assert_true(file_sum(path, &n1) == h0);
    assert_int_equal(n1, n0);
}

static void test_readonly_open(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "ro");
    record(db, run, new_cell(db, "hash-ro", 2), 0, RES_OK, stats_papi, NULL, 0);
    res_close(db);
    f->db = NULL;
    /* a read-only file: opened, read, never changed, no journal switch */
    assert_int_equal(chmod(f->path, 0444), 0);
    long n0, n1;
    uint64_t h0 = file_sum(f->path, &n0);
    ib_err e;
    ib_err_init(&e);
    res_open_opts o = {.flags = RES_OPEN_READONLY};
    assert_int_equal(res_open(&e, f->path, &o, &f->db), 0);
    FILE *out = tmpfile();
    assert_int_equal(res_print_runs(&e, f->db, out), 0);
    assert_int_equal(res_print_run(&e, f->db, run, out), 0);
    size_t nrows = 0;
    assert_int_equal(res_export(&e, f->db, 0, RES_CSV, out, &nrows), 0);
    assert_true(nrows > 0);
    int problems = -1;
    assert_int_equal(res_verify(&e, f->db, out, &problems), 0);
    assert_int_equal(problems, 0);
    fclose(out);
    /* writing through it is refused */
    int64_t other = 0;
    assert_int_not_equal(res_run_begin(&e, f->db, "x", NULL, NULL, NULL, &other), 0);
    res_close(f->db);
    f->db = NULL;
    assert_true(file_sum(f->path, &n1) == h0);
    assert_int_equal(n1, n0);
    assert_int_equal(chmod(f->path, 0644), 0);

    /* what is not an imbench database is refused, unchanged */
    char path[4200];
    snprintf(path, sizeof path, "%s/empty.db", f->dir);
    FILE *g = fopen(path, "w");
    assert_non_null(g);
    fclose(g);
    refused_unchanged(path, IB_ECORRUPT, "is empty (0 bytes): not an imbench results database");
    snprintf(path, sizeof path, "%s/text.db", f->dir);
    g = fopen(path, "w");
    assert_non_null(g);
    for (int i = 0; i < 300; i++) fputs("not a database, just text\n", g);
    fclose(g);
    refused_unchanged(path, IB_ECORRUPT, "not an imbench results database");
    snprintf(path, sizeof path, "%s/foreign.db", f->dir);
    raw_exec(path, "CREATE TABLE t(x); INSERT INTO t VALUES(1)");
    refused_unchanged(path, IB_ECORRUPT, "not an imbench results database");
    snprintf(path, sizeof path, "%s/nothing.db", f->dir);
    raw_exec(path, "PRAGMA user_version = 0");
    ib_err_init(&e);
    res_db *none = NULL;
    assert_int_not_equal(res_open(&e, path, &o, &none), 0);
    assert_null(none);
    /* an older schema: read commands refuse and name the migration */
    snprintf(path, sizeof path, "%s/v1.db", f->dir);
    raw_exec(path, v1_fixture);
    refused_unchanged(path, IB_EUNSUPPORTED, "harness migrate --db");
    int from = 0, to = 0;
    assert_int_equal(res_migrate(&e, path, &from, &to), 0);
    assert_int_equal(from, 1);
    assert_int_equal(to, RES_SCHEMA_VERSION);
    assert_int_equal(res_open(&e, path, &o, &none), 0);
    res_close(none);
    snprintf(path, sizeof path, "%s/missing.db", f->dir);
    assert_int_equal(res_migrate(&e, path, &from, &to), IB_ENOTFOUND);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* A database whose pages were overwritten: reading it fails with the
 * corruption message, and verify counts it as a problem. */
static void test_corrupt(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "bad");
    int64_t cell = new_cell(db, "hash-bad", 4);
    for (int i = 0; i < 40; i++) record(db, run, cell, i, RES_OK, stats_papi, NULL, 0);
    /* the pages holding the metrics (not the schema's) */
    long pages[64];
    int np = 0;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db), "SELECT pageno FROM dbstat"
                                        " WHERE name = 'metrics' AND pagetype = 'leaf'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    while (np < 64 && sqlite3_step(q) == SQLITE_ROW) pages[np++] = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    int64_t psize = q_int(db, "PRAGMA page_size");
    res_close(db);
    f->db = NULL;
    long n;
    file_sum(f->path, &n);
    assert_true(np > 0);
    FILE *g = fopen(f->path, "r+b");
    assert_non_null(g);
    for (int i = 0; i < np; i++) {
        assert_int_equal(fseek(g, (pages[i] - 1) * psize + 8, SEEK_SET), 0);
        for (int k = 0; k < 600; k++) fputc((k * 37 + 11) & 0xff, g);
    }
    fclose(g);
    ib_err e;
    ib_err_init(&e);
    /* a reading command's opening checks the pages (quick_check) */
    res_open_opts o = {.flags = RES_OPEN_READONLY};
    int r = res_open(&e, f->path, &o, &f->db);
    assert_int_equal(r, IB_ECORRUPT);
    assert_null(f->db);
    assert_true(tu_contains(e.msg, "is corrupt: run harness verify (SQLite's quick_check: "));
    assert_null(strchr(e.msg, '\n'));
    /* without that check (harness verify's opening), the query finds it */
    ib_err_init(&e);
    o.flags = RES_OPEN_READONLY | RES_OPEN_NOCHECK;
    r = res_open(&e, f->path, &o, &f->db);
    if (r) fprintf(stderr, "open: %s\n", e.msg);
    assert_int_equal(r, 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    r = res_export(&e, f->db, 0, RES_CSV, out, NULL);
    assert_int_equal(r, IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "is corrupt: run harness verify"));
    assert_true(tu_contains(e.msg, f->path));
    int problems = 0;
    ib_err_init(&e);
    assert_int_equal(res_verify(&e, f->db, out, &problems), 0);
    fclose(out);
    assert_true(problems > 0);
    assert_true(tu_contains(buf, "problem: integrity_check"));
    free(buf);
    res_close(f->db);
    f->db = NULL;
    /* every page damaged: the opening itself says so */
    g = fopen(f->path, "r+b");
    assert_non_null(g);
    for (long off = 4096 + 100; off < n; off += 4096) {
        assert_int_equal(fseek(g, off, SEEK_SET), 0);
        for (int k = 0; k < 600; k++) fputc((k * 37 + 11) & 0xff, g);
    }
    fclose(g);
    ib_err_init(&e);
    r = res_open(&e, f->path, &o, &f->db);
    if (r == 0) {
        out = tmpfile();
        r = res_export(&e, f->db, 0, RES_CSV, out, NULL);
        fclose(out);
    }
    assert_int_equal(r, IB_ECORRUPT);
    assert_true(tu_contains(e.msg, "is corrupt: run harness verify"));
}

/* ---- run locks, duplicates, the latest run ------------------------------------ */

static void test_run_locks(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "locks");
    ib_err e;
    ib_err_init(&e);
    char note[600];
    assert_int_equal(res_run_lock(&e, db, run, "first", 0, note, sizeof note), 0);
    assert_string_equal(note, "");
    /* held by this process: taking it again is a no-op */
    assert_int_equal(res_run_lock(&e, db, run, "again", 0, note, sizeof note), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM run_locks"), 1);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    /* a live process of this host holds it (pid 1 always lives): refused
     * with its pid and host */
    char sql[1024];
    snprintf(sql, sizeof sql, "UPDATE run_locks SET pid = 1, proc_start = NULL,"
                              " command = 'harness run-suite x.yaml' WHERE run_id = %lld",
             (long long)run);
    assert_int_equal(sqlite3_exec(res_sqlite(db), sql, NULL, NULL, NULL), SQLITE_OK);
    int r = res_run_lock(&e, db, run, "second", 0, note, sizeof note);
    assert_int_equal(r, IB_ELOCKED);
    assert_true(tu_contains(e.msg, "is in use by pid 1 on host"));
    assert_true(tu_contains(e.msg, host));
    assert_true(tu_contains(e.msg, "harness run-suite x.yaml"));
    /* a dead process's lock is taken over, with a note */
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) _exit(0);
    int st;
    assert_int_equal(waitpid(child, &st, 0), child);
    snprintf(sql, sizeof sql, "UPDATE run_locks SET pid = %ld WHERE run_id = %lld",
             (long)child, (long long)run);
    assert_int_equal(sqlite3_exec(res_sqlite(db), sql, NULL, NULL, NULL), SQLITE_OK);
    ib_err_init(&e);
    assert_int_equal(res_run_lock(&e, db, run, "third", 0, note, sizeof note), 0);
    assert_true(tu_contains(note, "took over the lock of pid"));
    assert_true(tu_contains(note, "which is gone"));
    assert_int_equal(q_int(db, "SELECT pid FROM run_locks"), (int64_t)getpid());
    /* another host's lock: refused unless forced */
    snprintf(sql, sizeof sql, "UPDATE run_locks SET pid = 42, host = 'elsewhere'");
    assert_int_equal(sqlite3_exec(res_sqlite(db), sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(res_run_lock(&e, db, run, "fourth", 0, note, sizeof note), IB_ELOCKED);
    assert_true(tu_contains(e.msg, "host 'elsewhere'"));
    assert_true(tu_contains(e.msg, "--take-lock"));
    assert_int_equal(res_run_lock(&e, db, run, "fourth", 1, note, sizeof note), 0);
    assert_true(tu_contains(note, "overridden"));
    assert_int_equal(res_run_unlock(&e, db, run), 0);
    assert_int_equal(q_int(db, "SELECT count(*) FROM run_locks"), 0);
    FILE *out = tmpfile();
    int problems = -1;
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
}

static void test_verify_duplicates(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "dup");
    int64_t cell = new_cell(db, "hash-dup", 2);
    record(db, run, cell, 0, RES_OK, stats_nocounters, NULL, 0);
    record(db, run, cell, 1, RES_FAILED, NULL, NULL, 0);
    record(db, run, cell, 1, RES_OK, stats_nocounters, NULL, 0); /* a retry: fine */
    ib_err e;
    ib_err_init(&e);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int problems = -1;
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
    assert_true(tu_contains(buf, "one successful attempt per (run, cell, repeat): ok"));
    free(buf);
    /* a second process ran repeat 0 as well */
    record(db, run, cell, 0, RES_OK, stats_nocounters, NULL, 0);
    out = open_memstream(&buf, &len);
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 1);
    char want[128];
    snprintf(want, sizeof want, "duplicate: run %lld, cell %lld, repeat 0 has 2 successful",
             (long long)run, (long long)cell);
    assert_true(tu_contains(buf, want));
    free(buf);
    /* show and export count the retry of repeat 1 */
    out = open_memstream(&buf, &len);
    assert_int_equal(res_print_run(&e, db, run, out), 0);
    fclose(out);
    assert_true(tu_contains(buf, "retries"));
    free(buf);
    assert_int_equal(q_int(db, "SELECT count(*) FROM attempts"), 4);
}

static void test_latest_run(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    ib_err e;
    ib_err_init(&e);
    int64_t id = 0;
    assert_int_equal(res_latest_run(&e, db, NULL, &id), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "has no runs"));
    int64_t a = new_run(db, "s1");
    record(db, a, new_cell(db, "hash-l", 2), 0, RES_OK, stats_nocounters, NULL, 0);
    int64_t b = new_run(db, "s2");
    record(db, b, new_cell(db, "hash-m", 2), 0, RES_FAILED, NULL, NULL, 0);
    new_run(db, "s1"); /* recorded nothing: never the latest */
    assert_int_equal(res_latest_run(&e, db, NULL, &id), 0);
    assert_int_equal(id, b);
    assert_int_equal(res_latest_run(&e, db, "s1", &id), 0);
    assert_int_equal(id, a);
    assert_int_equal(res_latest_run(&e, db, "s3", &id), IB_ENOTFOUND);
    assert_true(tu_contains(e.msg, "no run of suite 's3'"));
}

/* ---- ingest limits ------------------------------------------------------------ */

static void test_limits(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "lim");
    int64_t cell = new_cell(db, "hash-lim", 2);
    /* a stats record over RES_STATS_TEXT_MAX (a huge per_rank), with more
     * metrics than RES_STATS_ROWS_MAX, and a stderr tail over its limit */
    json_t *st = parse_json(stats_papi);
    json_t *per_rank = json_array(), *metrics = json_object_get(st, "metrics");
    for (int i = 0; i < 30000; i++)
        json_array_append_new(per_rank, json_pack("{s:i, s:f, s:s}", "rank", i, "wall_s", 1.0,
                                                  "note", "padding padding padding"));
    json_object_set_new(st, "per_rank", per_rank);
    for (long i = 0; i < RES_STATS_ROWS_MAX + 5; i++)
        json_array_append_new(metrics, json_pack("{s:s, s:f}", "name", "m", "value", 1.0));
    size_t big = RES_STDERR_TAIL_MAX * 3;
    char *tail = malloc(big + 1);
    assert_non_null(tail);
    memset(tail, 'x', big);
    memcpy(tail + big - 4, "LAST", 4);
    tail[big] = '\0';
    ib_err e;
    ib_err_init(&e);
    res_attempt a = {.run_id = run, .cell_id = cell, .repeat = 0, .status = RES_OK,
                     .exit_code = 0, .stderr_tail = tail, .wall_s = 1,
                     .warnings = {"stats 'x' is 99 bytes, over the limit of 9"}, .nwarnings = 1};
    int64_t id = 0;
    assert_int_equal(res_attempt_record(&e, db, &a, st, NULL, 0, &id), 0);
    json_decref(st);
    free(tail);
    assert_int_equal(q_int(db, "SELECT length(stderr_tail) FROM attempts"),
                     (int64_t)RES_STDERR_TAIL_MAX);
    char *s = q_text(db, "SELECT substr(stderr_tail, -4) FROM attempts");
    assert_string_equal(s, "LAST");
    free(s);
    assert_true(q_int(db, "SELECT length(stats) FROM attempts") <= (int64_t)RES_STATS_TEXT_MAX);
    assert_int_equal(q_int(db, "SELECT json_extract(stats, '$.per_rank') IS NULL"
                               " AND json_extract(stats, '$.dataset.nrow') = 100 FROM attempts"),
                     1);
    /* every metric came from the stats record: exactly the limit stored */
    assert_int_equal(q_int(db, "SELECT count(*) FROM metrics"), RES_STATS_ROWS_MAX);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'stderr'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'stats'"
                               " AND message LIKE '%stored without%per_rank%'"),
                     1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'metrics'"), 1);
    assert_int_equal(q_int(db, "SELECT count(*) FROM warnings WHERE what = 'ingest'"), 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(res_print_run(&e, db, run, out), 0);
    fclose(out);
    assert_true(tu_contains(buf, "warning: attempt"));
    assert_true(tu_contains(buf, "stderr: the stderr tail is"));
    free(buf);
    int problems = -1;
    out = open_memstream(&buf, &len);
    assert_int_equal(res_verify(&e, db, out, &problems), 0);
    fclose(out);
    assert_int_equal(problems, 0);
    assert_true(tu_contains(buf, "note: 4 warnings on 1 attempt"));
    free(buf);
}

/* res_json_load: limits, non-regular files, bad JSON. */
static void test_json_load(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(ib_mkdir_p(&e, f->dir), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/x.json", f->dir);
    FILE *g = fopen(path, "w");
    assert_non_null(g);
    fputs("{\"a\": [1, 2, 3]}", g);
    fclose(g);
    json_t *j = NULL;
    assert_int_equal(res_json_load(&e, path, 100, &j), 0);
    assert_int_equal(json_array_size(json_object_get(j, "a")), 3);
    json_decref(j);
    assert_int_equal(res_json_load(&e, path, 10, &j), IB_EOVERFLOW);
    assert_true(tu_contains(e.msg, "over the limit of 10"));
    assert_null(j);
    assert_int_equal(res_json_load(&e, "/dev/zero", 100, &j), IB_EIO);
    assert_true(tu_contains(e.msg, "not a regular file"));
    snprintf(path, sizeof path, "%s/fifo", f->dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(res_json_load(&e, path, 100, &j), IB_EIO); /* never blocks */
    snprintf(path, sizeof path, "%s/missing.json", f->dir);
    assert_int_equal(res_json_load(&e, path, 100, &j), IB_ENOTFOUND);
}

/* ---- provenance.json and emit.json --------------------------------------------- */

static void test_provenance_file(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(ib_mkdir_p(&e, f->dir), 0);
    char path[4200];
    snprintf(path, sizeof path, "%s/provenance.json", f->dir);
    assert_int_equal(res_provenance_write_json(&e, path, "job 17"), 0);
    /* never over an existing file */
    assert_int_equal(res_provenance_write_json(&e, path, "job 18"), IB_EIO);
    assert_true(tu_contains(e.msg, "already exists"));
    json_t *j = NULL;
    assert_int_equal(res_json_load(&e, path, RES_SIDE_FILE_MAX, &j), 0);
    res_provenance got, here;
    assert_int_equal(res_provenance_from_json(&e, j, path, &got), 0);
    json_decref(j);
    res_provenance_collect(&here);
    assert_string_equal(got.command, "job 17");
    assert_string_equal(got.host, here.host);
    assert_string_equal(got.compiler, here.compiler);
    assert_string_equal(got.kernel, here.kernel);
    assert_string_equal(got.libs, here.libs);
    assert_int_equal(got.cores, here.cores);
    assert_true(got.mem_bytes == here.mem_bytes);
    j = json_pack("{s:s}", "schema", "something-else/1");
    assert_int_equal(res_provenance_from_json(&e, j, "p.json", &got), IB_EPARSE);
    assert_true(tu_contains(e.msg, "imbench-provenance/1"));
    json_decref(j);
    /* emit.json: one id, kept when written again */
    assert_int_equal(res_emit_write(&e, f->dir, "s", "h"), 0);
    snprintf(path, sizeof path, "%s/emit.json", f->dir);
    assert_int_equal(res_json_load(&e, path, 4096, &j), 0);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(res_emit_write(&e, f->dir, "s", "h"), 0);
    assert_int_equal(res_json_load(&e, path, 4096, &j), 0);
    assert_string_equal(json_string_value(json_object_get(j, "id")), id);
    json_decref(j);
}

/* ---- owned directories and checked paths (common) ------------------------------ */

static void test_owned_dirs(void **state)
{
    fx *f = *state;
    ib_err e;
    ib_err_init(&e);
    char user[4200], owned[4200], file[4300];
    snprintf(user, sizeof user, "%s/user", f->dir);
    snprintf(owned, sizeof owned, "%s/a/b/owned", f->dir);
    assert_int_equal(ib_mkdir_p(&e, user), 0);
    snprintf(file, sizeof file, "%s/precious.txt", user);
    FILE *g = fopen(file, "w");
    assert_non_null(g);
    fputs("keep me\n", g);
    fclose(g);
    /* a directory without the marker is never removed */
    assert_int_equal(ib_rm_rf_owned(&e, user), IB_EINVAL);
    assert_true(tu_contains(e.msg, "was not created by imbench"));
    assert_int_equal(access(file, F_OK), 0);
    /* an owned one is, with what is in it, but not what a link points to */
    assert_int_equal(ib_mkdir_owned(&e, owned), 0);
    assert_int_equal(ib_mkdir_owned(&e, owned), IB_EIO);
    assert_true(tu_contains(e.msg, "already exists"));
    char sub[4300], link[4300];
    snprintf(sub, sizeof sub, "%s/x/y", owned);
    assert_int_equal(ib_mkdir_p(&e, sub), 0);
    snprintf(link, sizeof link, "%s/to-user", owned);
    assert_int_equal(symlink(user, link), 0);
    assert_int_equal(ib_rm_rf_owned(&e, owned), 0);
    assert_int_not_equal(access(owned, F_OK), 0);
    assert_int_equal(access(file, F_OK), 0);
    assert_int_equal(ib_rm_rf_owned(&e, owned), 0); /* gone already: fine */
    /* a path that does not fit is an error, never a shorter path */
    char small[16];
    assert_int_equal(ib_path_fmt(&e, small, sizeof small, "%s/%s", "/tmp", "a-long-name"),
                     IB_EOVERFLOW);
    assert_string_equal(small, "");
    assert_true(tu_contains(e.msg, "is too long (16 bytes, limit 15)"));
    assert_int_equal(ib_path_fmt(&e, small, sizeof small, "%s/%s", "/tmp", "short"), 0);
    assert_string_equal(small, "/tmp/short");
}

/* ---- export ------------------------------------------------------------------------ */

/* Split one CSV record (RFC 4180) from *p into fields; returns count. */
static int csv_record(const char **p, char fields[][256], int max)
{
    int n = 0;
    const char *s = *p;
    for (;;) {
        char *out = fields[n];
        size_t len = 0;
        if (*s == '"') {
            s++;
            for (;;) {
                if (*s == '"' && s[1] == '"') {
                    out[len++] = '"';
                    s += 2;
                } else if (*s == '"') {
                    s++;
                    break;
                } else if (!*s) {
                    break;
                } else {
                    out[len++] = *s++;
                }
            }
        } else {
            while (*s && *s != ',' && *s != '\n') out[len++] = *s++;
        }
        out[len] = '\0';
        n++;
        if (*s == ',' && n < max) {
            s++;
            continue;
        }
        if (*s == '\n') s++;
        break;
    }
    *p = s;
    return n;
}

static void fill_for_export(res_db *db)
{
    int64_t run = new_run(db, "exp");
    int64_t c1 = new_cell(db, "hash-x", 1), c2 = new_cell(db, "hash-y", 2);
    record(db, run, c1, 0, RES_OK, stats_papi, NULL, 0);
    record(db, run, c2, 0, RES_OK, stats_nopapi, NULL, 0);
    res_metric extra[] = {{"nan_metric", NAN, "s", "lower"}};
    record(db, run, c2, 1, RES_FAILED, NULL, extra, 1);
    int64_t other = new_run(db, "exp2");
    record(db, other, c1, 0, RES_OK, stats_nocounters, NULL, 0);
}

static void test_export_csv_roundtrip(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    fill_for_export(db);
    ib_err e;
    ib_err_init(&e);
    char *buf = NULL;
    size_t len = 0, nrows = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(res_export(&e, db, 1, RES_CSV, m, &nrows), 0);
    fclose(m);
    int64_t want = q_int(db, "SELECT count(*) FROM metrics m JOIN attempts a"
                             " ON a.id = m.attempt_id WHERE a.run_id = 1");
    assert_int_equal((int64_t)nrows, want);
    const char *p = buf;
    static char fields[64][256];
    int ncol = csv_record(&p, fields, 64);
    int c_attempt = -1, c_metric = -1, c_value = -1, c_run = -1, c_chunks = -1, c_reason = -1;
    for (int i = 0; i < ncol; i++) {
        assert_string_equal(fields[i], res_export_column((size_t)i));
        if (!strcmp(fields[i], "attempt_id")) c_attempt = i;
        if (!strcmp(fields[i], "metric")) c_metric = i;
        if (!strcmp(fields[i], "value")) c_value = i;
        if (!strcmp(fields[i], "run_id")) c_run = i;
        if (!strcmp(fields[i], "chunks")) c_chunks = i;
        if (!strcmp(fields[i], "reason")) c_reason = i;
    }
    assert_true(c_attempt >= 0 && c_metric >= 0 && c_value >= 0 && c_chunks >= 0);
    size_t rows = 0;
    int saw_quoted = 0, saw_null = 0;
    while (*p) {
        int n = csv_record(&p, fields, 64);
        assert_int_equal(n, ncol);
        rows++;
        assert_string_equal(fields[c_run], "1");
        if (!strcmp(fields[c_metric], "odd, \"quoted\" name")) saw_quoted = 1;
        /* compare with the database, row by row */
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(res_sqlite(db),
                                            "SELECT m.value, c.chunks, m.reason FROM metrics m"
                                            " JOIN attempts a ON a.id = m.attempt_id"
                                            " JOIN cells c ON c.id = a.cell_id"
                                            " WHERE m.attempt_id = ? AND m.name = ?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_int64(st, 1, atoll(fields[c_attempt]));
        sqlite3_bind_text(st, 2, fields[c_metric], -1, SQLITE_TRANSIENT);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            assert_string_equal(fields[c_value], "");
            assert_string_equal(fields[c_reason], (const char *)sqlite3_column_text(st, 2));
            saw_null = 1;
        } else {
            /* exact: the export writes round-trip precision */
            assert_true(strtod(fields[c_value], NULL) == sqlite3_column_double(st, 0));
        }
        assert_int_equal(atoi(fields[c_chunks]), sqlite3_column_int(st, 1));
        sqlite3_finalize(st);
    }
    assert_int_equal(rows, nrows);
    assert_true(saw_quoted);
    assert_true(saw_null);
    free(buf);

    /* all runs */
    m = open_memstream(&buf, &len);
    assert_int_equal(res_export(&e, db, 0, RES_CSV, m, &nrows), 0);
    fclose(m);
    free(buf);
    assert_int_equal((int64_t)nrows, q_int(db, "SELECT count(*) FROM metrics"));
}

static void test_export_json_roundtrip(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    fill_for_export(db);
    ib_err e;
    ib_err_init(&e);
    char *buf = NULL;
    size_t len = 0, nrows = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(res_export(&e, db, 0, RES_JSON, m, &nrows), 0);
    fclose(m);
    json_t *arr = parse_json(buf);
    free(buf);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), nrows);
    assert_int_equal((int64_t)nrows, q_int(db, "SELECT count(*) FROM metrics"));
    size_t i;
    json_t *row;
    double sum = 0;
    json_array_foreach(arr, i, row) {
        size_t ncol = 0;
        while (res_export_column(ncol)) ncol++;
        assert_int_equal(json_object_size(row), ncol);
        assert_true(json_is_integer(json_object_get(row, "retry")));
        assert_true(json_is_integer(json_object_get(row, "retries")));
        json_t *v = json_object_get(row, "value");
        assert_true(json_is_real(v) || json_is_null(v));
        if (json_is_real(v)) sum += json_real_value(v);
        assert_true(json_is_integer(json_object_get(row, "attempt_id")));
        assert_true(json_is_string(json_object_get(row, "status")));
    }
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(res_sqlite(db), "SELECT value FROM metrics", -1, &st,
                                        NULL),
                     SQLITE_OK);
    double want = 0;
    while (sqlite3_step(st) == SQLITE_ROW) want += sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    assert_true(sum == want);
    json_decref(arr);
}

/* ---- listings and verify ------------------------------------------------------------- */

static void test_list_show_verify(void **state)
{
    fx *f = *state;
    res_db *db = open_ok(f);
    fill_for_export(db);
    ib_err e;
    ib_err_init(&e);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(res_print_runs(&e, db, m), 0);
    fclose(m);
    assert_true(tu_contains(buf, "exp2"));
    assert_true(tu_contains(buf, "running"));
    free(buf);
    m = open_memstream(&buf, &len);
    assert_int_equal(res_print_run(&e, db, 1, m), 0);
    fclose(m);
    assert_true(tu_contains(buf, "hash-x"));
    assert_true(tu_contains(buf, "3.500 s")); /* median wall of the ok attempt */
    assert_true(tu_contains(buf, "git_commit") || tu_contains(buf, "host"));
    free(buf);
    m = open_memstream(&buf, &len);
    assert_int_equal(res_print_run(&e, db, 77, m), IB_ENOTFOUND);
    fclose(m);
    free(buf);

    int problems = -1;
    m = open_memstream(&buf, &len);
    assert_int_equal(res_verify(&e, db, m, &problems), 0);
    fclose(m);
    assert_int_equal(problems, 0);
    assert_true(tu_contains(buf, "integrity_check: ok"));
    assert_true(tu_contains(buf, "note: run 1"));
    free(buf);
    /* break it behind its back: an orphan metric and an ok attempt with
     * stats but no phases */
    res_close(f->db);
    f->db = NULL;
    raw_exec(f->path, "PRAGMA foreign_keys=OFF;"
                      "INSERT INTO metrics(attempt_id, name, value) VALUES(999, 'x', 1);"
                      "DELETE FROM phases WHERE attempt_id = 1;");
    db = open_ok(f);
    m = open_memstream(&buf, &len);
    assert_int_equal(res_verify(&e, db, m, &problems), 0);
    fclose(m);
    assert_int_equal(problems, 3); /* fk check, orphan query, missing phases */
    assert_true(tu_contains(buf, "metric"));
    assert_true(tu_contains(buf, "has no phases"));
    free(buf);
}

/* ---- locking ------------------------------------------------------------------------- */

static void test_locked(void **state)
{
    fx *f = *state;
    open_ok(f);
    res_close(f->db);
    f->db = NULL;
    /* another writer holds the write lock */
    sqlite3 *other;
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; INSERT INTO runs(suite, started_at,"
                                         " status) VALUES('x', 'now', 'running')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ib_err e;
    ib_err_init(&e);
    res_open_opts o = {.busy_ms = 400};
    assert_int_equal(res_open(&e, f->path, &o, &f->db), 0); /* readers are not blocked */
    int64_t run = 0;
    double t0 = ib_now();
    int r = res_run_begin(&e, f->db, "s", NULL, NULL, NULL, &run);
    double waited = ib_now() - t0;
    assert_int_equal(r, IB_ELOCKED);
    assert_true(tu_contains(e.msg, "is locked by another writer"));
    assert_true(tu_contains(e.msg, f->path));
    assert_true(waited >= 0.3);
    assert_true(waited < 3.0);
    /* the lock goes away: writing works again */
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    ib_err_init(&e);
    assert_int_equal(res_run_begin(&e, f->db, "s", NULL, NULL, NULL, &run), 0);
    assert_int_equal(q_int(f->db, "SELECT count(*) FROM runs"), 2);
}

static void test_provenance(void **state)
{
    (void)state;
    res_provenance p;
    res_provenance_collect(&p);
    assert_true(p.cores >= 1);
    assert_true(p.mem_bytes > 0);
    assert_true(p.host[0] != '\0');
    assert_true(p.kernel[0] != '\0');
    assert_true(tu_contains(p.compiler, "gcc") || tu_contains(p.compiler, "clang"));
    json_t *libs = parse_json(p.libs);
    assert_string_equal(json_string_value(json_object_get(libs, "sqlite")),
                        sqlite3_libversion());
    assert_non_null(json_object_get(libs, "hdf5"));
    assert_non_null(json_object_get(libs, "fftw"));
    assert_non_null(json_object_get(libs, "cfitsio"));
    assert_non_null(json_object_get(libs, "libyaml"));
    assert_non_null(json_object_get(libs, "jansson"));
    assert_non_null(json_object_get(libs, "papi"));
    json_decref(libs);
    setenv("IMBENCH_TEST_VAR", "42", 1);
    setenv("OMP_NUM_THREADS", "3", 1);
    res_provenance_collect(&p);
    json_t *env = parse_json(p.env);
    assert_string_equal(json_string_value(json_object_get(env, "IMBENCH_TEST_VAR")), "42");
    assert_string_equal(json_string_value(json_object_get(env, "OMP_NUM_THREADS")), "3");
    assert_null(json_object_get(env, "PATH"));
    json_decref(env);
}

/* Write text to root/rel, creating the directories on the way. */
static void put(const char *root, const char *rel, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *q = path + strlen(root) + 1; (q = strchr(q, '/')) != NULL; q++) {
        *q = '\0';
        (void)mkdir(path, 0755);
        *q = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The timing-relevant settings, read from a made-up /sys: the selected
 * word of a choice file, a balloon's reporting bit, absent settings left
 * out; then a run stores what this machine has. */
static void test_tuning(void **state)
{
    fx *f = *state;
    char *root = tu_mkdtemp("sys");
    char out[1024];
    res_tuning_collect(root, out, sizeof out);
    assert_string_equal(out, "{}"); /* nothing there: nothing claimed */
    put(root, "kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
    put(root, "kernel/mm/transparent_hugepage/defrag", "always defer [never]\n");
    put(root, "devices/system/cpu/cpu0/cpufreq/scaling_governor", "performance\n");
    put(root, "bus/virtio/devices/virtio1/device", "0x0002\n"); /* a disk */
    put(root, "bus/virtio/devices/virtio1/features", "001000100110\n");
    put(root, "bus/virtio/devices/virtio0/device", "0x0005\n"); /* the balloon */
    put(root, "bus/virtio/devices/virtio0/features", "010000100000\n");
    put(root, "module/page_reporting/parameters/page_reporting_order", "9\n");
    res_tuning_collect(root, out, sizeof out);
    json_t *j = parse_json(out);
    assert_string_equal(json_string_value(json_object_get(j, "thp_enabled")), "madvise");
    assert_string_equal(json_string_value(json_object_get(j, "thp_defrag")), "never");
    assert_string_equal(json_string_value(json_object_get(j, "cpufreq_governor")), "performance");
    assert_true(json_is_false(json_object_get(j, "free_page_reporting")));
    assert_null(json_object_get(j, "page_reporting_order")); /* only said when reporting */
    json_decref(j);
    put(root, "bus/virtio/devices/virtio0/features", "011001010000\n"); /* bit 5 set */
    res_tuning_collect(root, out, sizeof out);
    j = parse_json(out);
    assert_true(json_is_true(json_object_get(j, "free_page_reporting")));
    assert_int_equal(json_integer_value(json_object_get(j, "page_reporting_order")), 9);
    char words[512];
    res_tuning_describe(j, words, sizeof words);
    assert_string_equal(words, "huge pages madvise (defrag never), CPU governor performance, "
                               "free page reporting on (order 9)");
    json_decref(j);
    j = json_object(); /* nothing known */
    res_tuning_describe(j, words, sizeof words);
    assert_string_equal(words, "huge pages ? (defrag ?), CPU governor none, free page reporting n/a");
    json_decref(j);
    tu_rmtree(root);
    free(root);

    /* a run stores this machine's settings, and `show` prints them */
    res_db *db = open_ok(f);
    int64_t run = new_run(db, "tuned");
    char *t = q_text(db, "SELECT tuning FROM runs ORDER BY id DESC LIMIT 1");
    assert_non_null(t);
    j = parse_json(t);
    assert_true(json_is_object(j));
    json_decref(j);
    FILE *o = tmpfile();
    ib_err e;
    ib_err_init(&e);
    assert_int_equal(res_print_run(&e, db, run, o), 0);
    rewind(o);
    char buf[65536];
    size_t k = fread(buf, 1, sizeof buf - 1, o);
    buf[k] = '\0';
    fclose(o);
    if (strcmp(t, "{}") != 0) assert_true(tu_contains(buf, "tuning"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_must_exist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_newer_and_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_with_papi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_without_papi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_comm_and_tasks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_wrong_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_bookkeeping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_csv_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_json_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_show_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
        cmocka_unit_test(test_provenance),
        cmocka_unit_test_setup_teardown(test_readonly_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_latest_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_provenance_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owned_dirs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tuning, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
